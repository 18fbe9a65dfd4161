// Reference model of the simulated stack: the filter's ejection-ownership ledger and policy
// (issue 3 §1-§2) over a model of cdrom.sys (BRIEF §3, seed 003 "IOCTL_STORAGE_EJECTION_CONTROL",
// docs/simulator.md). Written from those texts, not from the C code, so that comparing the two
// after every step finds disagreements. Only what the spec determines is modelled; where the
// spec leaves a choice open the choice is named in a comment.

export const ST = {
  SUCCESS: 0x00000000,
  DEVICE_BUSY: 0x80000011,
  INFO_LENGTH_MISMATCH: 0xc0000004,
  INVALID_HANDLE: 0xc0000008,
  INVALID_PARAMETER: 0xc000000d,
  INVALID_DEVICE_REQUEST: 0xc0000010,
  NO_MEDIA_IN_DEVICE: 0xc0000013,
  ACCESS_DENIED: 0xc0000022,
  DEVICE_NOT_CONNECTED: 0xc000009d,
  INVALID_DEVICE_STATE: 0xc0000184,
  IO_DEVICE_ERROR: 0xc0000185,
  DEVICE_NOT_READY: 0xc00000a3,
} as const;

/** Control codes (ntddstor.h, ntddcdrm.h, ntddscsi.h). */
export const IOCTL = {
  STORAGE_MEDIA_REMOVAL: 0x002d4804,
  STORAGE_EJECT_MEDIA: 0x002d4808,
  STORAGE_LOAD_MEDIA: 0x002d480c,
  STORAGE_EJECTION_CONTROL: 0x002d0940,
  STORAGE_MCN_CONTROL: 0x002d0944,
  STORAGE_CHECK_VERIFY: 0x002d4800,
  CDROM_MEDIA_REMOVAL: 0x00024804, // alias of STORAGE_MEDIA_REMOVAL (NormalizeIoctl)
  CDROM_EJECT_MEDIA: 0x00024808, // alias of STORAGE_EJECT_MEDIA
  DISK_MEDIA_REMOVAL: 0x00074804,
  DISK_EJECT_MEDIA: 0x00074808,
  CDROM_EXCLUSIVE_ACCESS: 0x0002c05c,
  SCSI_PASS_THROUGH: 0x0004d004,
  SCSI_PASS_THROUGH_DIRECT: 0x0004d014,
  SCSI_PASS_THROUGH_EX: 0x0004d044, // Windows SDK ntddscsi.h
  SCSI_PASS_THROUGH_DIRECT_EX: 0x0004d048,
} as const;

export const POLICY_OBSERVE = 1;
export const POLICY_ENFORCE = 2;

/** NormalizeIoctl: CDROM (0x02), DISK (0x07), DVD (0x33) base with function 0x200..0x300 -> STORAGE (0x2D). */
export function normalizeIoctl(code: number): number {
  const base = code >>> 16;
  const fn = (code >>> 2) & 0xfff;
  if ((base === 0x02 || base === 0x07 || base === 0x33) && fn >= 0x200 && fn <= 0x300) {
    return ((0x2d << 16) | (code & 0xffff)) >>> 0;
  }
  return code >>> 0;
}

const isSuccess = (st: number): boolean => st >>> 31 === 0;

/** A 64-bit SCSI_PASS_THROUGH (56 bytes, CDB at offset 36) carrying a 6-byte CDB. */
export function passThroughBuffer(cdb: readonly number[]): Uint8Array {
  const b = new Uint8Array(56);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 56, true); // Length
  b[6] = cdb.length; // CdbLength
  dv.setUint32(16, 10, true); // TimeOutValue (s)
  cdb.forEach((v, i) => {
    b[36 + i] = v;
  });
  return b;
}
/** A 64-bit SCSI_PASS_THROUGH_EX (64 bytes: Version 0, Length 64, CDB at offset 56) carrying a
 * CDB of up to 8 bytes. */
export function passThroughExBuffer(cdb: readonly number[]): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setUint32(4, 64, true); // Length
  dv.setUint32(8, cdb.length, true); // CdbLength
  dv.setUint32(20, 10, true); // TimeOutValue (s)
  cdb.forEach((v, i) => {
    b[56 + i] = v;
  });
  return b;
}
export const CDB = {
  eject: [0x1b, 0, 0, 0, 0x02, 0], // START STOP UNIT LoEj=1 Start=0
  load: [0x1b, 0, 0, 0, 0x03, 0], // START STOP UNIT LoEj=1 Start=1
  allow: [0x1e, 0, 0, 0, 0x00, 0], // PREVENT ALLOW MEDIUM REMOVAL Prevent=0
  prevent: [0x1e, 0, 0, 0, 0x01, 0], // PREVENT ALLOW MEDIUM REMOVAL Prevent=1
  testUnitReady: [0x00, 0, 0, 0, 0, 0],
} as const;

/** cdrom.sys per drive (simcd). */
export interface LowerState {
  mediaPresent: boolean;
  trayOpen: boolean;
  hwPrevent: boolean;
  connected: boolean;
  secureTotal: number;
  simpleTotal: number;
  ejects: number;
}

/** The filter's ledger of one drive, reduced to what the spec fixes. */
export interface LedgerView {
  secureTotal: number;
  simpleTotal: number;
  foreignUnlocks: number;
  denials: number;
  /** Handles holding a secure or simple lock, sorted by image name (unique per handle in tests). */
  owners: { image: string; pid: number; secure: number; simple: number }[];
}

interface ModelHandle {
  key: number;
  drive: number;
  pid: number;
  image: string;
  open: boolean;
  cleaned: boolean;
  // filter ledger
  secure: number;
  simple: number;
  /** Order of its first lock still held (0 = holds none): LockOwner.since as an ordinal. */
  since: number;
  // cdrom FILE_OBJECT_CONTEXT
  lowerSecure: number;
}

interface ModelDrive {
  policy: number;
  // filter
  secureTotal: number;
  simpleTotal: number;
  foreignUnlocks: number;
  denials: number;
  // lower
  lower: LowerState;
  fault: number; // 0 = none
}

export class LedgerModel {
  private readonly drives: ModelDrive[] = [];
  private readonly handles = new Map<number, ModelHandle>();
  private clock = 0;

  constructor(driveCount: number) {
    for (let i = 0; i < driveCount; i++) {
      this.drives.push({
        policy: POLICY_OBSERVE,
        secureTotal: 0,
        simpleTotal: 0,
        foreignUnlocks: 0,
        denials: 0,
        lower: { mediaPresent: true, trayOpen: false, hwPrevent: false, connected: true, secureTotal: 0, simpleTotal: 0, ejects: 0 },
        fault: 0,
      });
    }
  }

  private drive(id: number): ModelDrive {
    const d = this.drives[id - 1];
    if (!d) throw new Error(`model: no drive ${id}`);
    return d;
  }

  private handle(key: number): ModelHandle {
    const h = this.handles.get(key);
    if (!h?.open) throw new Error(`model: handle ${key} is not open`);
    return h;
  }

  openHandles(): { key: number; pid: number; drive: number }[] {
    return [...this.handles.values()].filter((h) => h.open).map((h) => ({ key: h.key, pid: h.pid, drive: h.drive }));
  }

  // ---- the lower device (cdrom.sys) ----

  private lowerReady(d: ModelDrive): boolean {
    return d.lower.mediaPresent && !d.lower.trayOpen;
  }

  /** PREVENT ALLOW MEDIUM REMOVAL executed by the drive. */
  private hwPreventAllow(d: ModelDrive, prevent: boolean): number {
    if (!d.lower.connected) return ST.DEVICE_NOT_CONNECTED;
    if (!this.lowerReady(d)) return ST.NO_MEDIA_IN_DEVICE;
    d.lower.hwPrevent = prevent;
    return ST.SUCCESS;
  }

  /** START STOP UNIT LoEj=1: the drive refuses to eject in the prevent state (DEVICE_BUSY). */
  private hwLoadEject(d: ModelDrive, load: boolean): number {
    if (!d.lower.connected) return ST.DEVICE_NOT_CONNECTED;
    if (load) {
      d.lower.trayOpen = false;
      return ST.SUCCESS;
    }
    if (d.lower.hwPrevent) return ST.DEVICE_BUSY;
    if (!d.lower.trayOpen) {
      d.lower.trayOpen = true;
      d.lower.ejects++;
    }
    return ST.SUCCESS;
  }

  /** The command goes to the drive only when the total flips between zero and non-zero. */
  private lowerCounts(d: ModelDrive, simple: number, secure: number): number {
    const was = d.lower.simpleTotal + d.lower.secureTotal !== 0;
    const now = simple + secure !== 0;
    if (was !== now) {
      const st = this.hwPreventAllow(d, now);
      if (st !== ST.SUCCESS) return st;
    }
    d.lower.simpleTotal = simple;
    d.lower.secureTotal = secure;
    return ST.SUCCESS;
  }

  /** A request reaching cdrom.sys: fault, then disconnected, then the IOCTL's own rule. */
  private lowerIoctl(d: ModelDrive, h: ModelHandle, code: number, input: Uint8Array): number {
    if (d.fault !== 0) {
      const st = d.fault;
      d.fault = 0;
      return st;
    }
    if (!d.lower.connected) return ST.DEVICE_NOT_CONNECTED;
    switch (normalizeIoctl(code)) {
      case IOCTL.STORAGE_MEDIA_REMOVAL: {
        if (input.length < 1) return ST.INFO_LENGTH_MISMATCH;
        if (input[0] !== 0) return this.lowerCounts(d, d.lower.simpleTotal + 1, d.lower.secureTotal);
        if (d.lower.simpleTotal === 0) return ST.SUCCESS;
        return this.lowerCounts(d, d.lower.simpleTotal - 1, d.lower.secureTotal);
      }
      case IOCTL.STORAGE_EJECTION_CONTROL: {
        if (input.length < 1) return ST.INFO_LENGTH_MISMATCH;
        if (input[0] !== 0) {
          const st = this.lowerCounts(d, d.lower.simpleTotal, d.lower.secureTotal + 1);
          if (st === ST.SUCCESS) h.lowerSecure++;
          return st;
        }
        if (h.lowerSecure === 0) return ST.INVALID_DEVICE_STATE;
        const st = this.lowerCounts(d, d.lower.simpleTotal, d.lower.secureTotal - 1);
        if (st === ST.SUCCESS) h.lowerSecure--;
        return st;
      }
      case IOCTL.STORAGE_EJECT_MEDIA:
        return d.lower.secureTotal !== 0 ? ST.DEVICE_BUSY : this.hwLoadEject(d, false);
      case IOCTL.STORAGE_LOAD_MEDIA:
        return this.hwLoadEject(d, true);
      case IOCTL.SCSI_PASS_THROUGH:
      case IOCTL.SCSI_PASS_THROUGH_DIRECT: {
        // the port driver: input >= 56, Length == 56, CdbLength 1..16
        const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
        if (input.length < 56 || dv.getUint16(0, true) !== 56) return ST.INVALID_PARAMETER;
        const cdbLength = dv.getUint8(6);
        if (cdbLength < 1 || cdbLength > 16) return ST.INVALID_PARAMETER;
        const op = input[36];
        const b4 = input[40] ?? 0;
        if (op === 0x1b) return (b4 & 0xf0) === 0 && b4 & 0x02 ? this.hwLoadEject(d, (b4 & 0x01) !== 0) : ST.SUCCESS;
        // MMC: Persistent (bit 1) set changes the persistent prevent state only, not Prevent
        if (op === 0x1e) return b4 & 0x02 ? ST.SUCCESS : this.hwPreventAllow(d, (b4 & 0x01) !== 0);
        if (op === 0x00) return this.lowerReady(d) ? ST.SUCCESS : ST.NO_MEDIA_IN_DEVICE;
        return ST.SUCCESS;
      }
      default:
        return ST.INVALID_DEVICE_REQUEST;
    }
  }

  private lowerRead(d: ModelDrive): number {
    if (d.fault !== 0) {
      const st = d.fault;
      d.fault = 0;
      return st;
    }
    if (!d.lower.connected) return ST.DEVICE_NOT_CONNECTED;
    if (!this.lowerReady(d)) return ST.NO_MEDIA_IN_DEVICE;
    return ST.SUCCESS;
  }

  /** DeviceEvtFileClose: secure locks of the file object go (best-effort ALLOW); simple locks stay. */
  private lowerClose(d: ModelDrive, h: ModelHandle): void {
    if (h.lowerSecure !== 0) {
      const was = d.lower.simpleTotal + d.lower.secureTotal !== 0;
      d.lower.secureTotal -= h.lowerSecure;
      h.lowerSecure = 0;
      if (was && d.lower.simpleTotal + d.lower.secureTotal === 0) this.hwPreventAllow(d, false);
    }
  }

  // ---- the filter (issue 3 §1-§2) ----

  /** The one handle holding secure locks, or undefined when there are none or several. */
  private soleSecureOwner(drive: number): ModelHandle | undefined {
    const holders = [...this.handles.values()].filter((x) => x.open && x.drive === drive && x.secure > 0);
    return holders.length === 1 ? holders[0] : undefined;
  }

  /** Enforce denies ejects from anyone but the sole secure owner while a secure lock is held. */
  private ejectDenied(d: ModelDrive, drive: number, h: ModelHandle): boolean {
    if (d.policy !== POLICY_ENFORCE || d.secureTotal === 0) return false;
    return this.soleSecureOwner(drive) !== h;
  }

  /** Keep `since` in step with the counts: set at the first lock held, cleared when none is left. */
  private touch(h: ModelHandle): void {
    if (h.secure + h.simple === 0) h.since = 0;
    else if (h.since === 0) h.since = ++this.clock;
  }

  open(key: number, drive: number, pid: number, image: string): void {
    this.drive(drive);
    this.handles.set(key, { key, drive, pid, image, open: true, cleaned: false, secure: 0, simple: 0, since: 0, lowerSecure: 0 });
  }

  /** DeviceIoControl on a drive handle through the filter. Returns the NTSTATUS. */
  ioctl(key: number, code: number, input: Uint8Array): number {
    const h = this.handle(key);
    const d = this.drive(h.drive);
    const norm = normalizeIoctl(code);
    if (norm === IOCTL.STORAGE_EJECTION_CONTROL) {
      if (input.length < 1) return ST.INFO_LENGTH_MISMATCH; // REJECT, not forwarded
      const lock = input[0] !== 0;
      if (!lock && h.secure === 0) {
        d.foreignUnlocks++;
        if (d.policy === POLICY_ENFORCE) {
          d.denials++;
          return ST.INVALID_DEVICE_STATE; // DENY, not forwarded
        }
        return this.lowerIoctl(d, h, code, input); // cdrom ignores it (INVALID_DEVICE_STATE)
      }
      const st = this.lowerIoctl(d, h, code, input);
      if (isSuccess(st)) {
        h.secure += lock ? 1 : -1;
        d.secureTotal += lock ? 1 : -1;
        this.touch(h);
      }
      return st;
    }
    if (norm === IOCTL.STORAGE_MEDIA_REMOVAL) {
      if (input.length < 1) return ST.INFO_LENGTH_MISMATCH;
      const lock = input[0] !== 0;
      const st = this.lowerIoctl(d, h, code, input);
      if (isSuccess(st)) {
        if (lock) {
          h.simple++;
          d.simpleTotal++;
          this.touch(h);
        } else if (d.simpleTotal > 0) {
          // An unlock releases the caller's own attribution when it has one. A foreign simple
          // unlock (allowed: cdrom's count is not per caller) releases the attribution of the
          // holder whose lock is oldest, so the attributions keep summing to the drive total and
          // a later leak release at close never unlocks more than is held. (The spec leaves the
          // victim open; this is the core's choice, checked here.)
          d.simpleTotal--;
          let victim: ModelHandle | undefined = h.simple > 0 ? h : undefined;
          if (!victim) {
            for (const x of this.handles.values()) {
              if (x.open && x.drive === h.drive && x.simple > 0 && (!victim || x.since < victim.since)) victim = x;
            }
          }
          if (victim) {
            victim.simple--;
            this.touch(victim);
          }
        }
      }
      return st;
    }
    if (norm === IOCTL.STORAGE_EJECT_MEDIA) {
      if (this.ejectDenied(d, h.drive, h)) {
        d.denials++;
        return ST.DEVICE_BUSY;
      }
      return this.lowerIoctl(d, h, code, input);
    }
    if (norm === IOCTL.SCSI_PASS_THROUGH || norm === IOCTL.SCSI_PASS_THROUGH_DIRECT) {
      // the core classifies the CDB whenever its bytes 0..4 are in the input, well formed or not
      if (input.length >= 41) {
        const op = input[36];
        const b4 = input[40] ?? 0;
        // Issue 3 §2 says "START STOP UNIT with LoEj=1"; LoEj=1 with Start=1 is a load, which
        // cannot take the medium away, so only LoEj=1 Start=0 (eject) counts (the core agrees).
        const ejecting = op === 0x1b && (b4 & 0x03) === 0x02;
        const allowing = op === 0x1e && (b4 & 0x01) === 0;
        if ((ejecting || allowing) && this.ejectDenied(d, h.drive, h)) {
          d.denials++;
          return ST.DEVICE_BUSY;
        }
      }
      return this.lowerIoctl(d, h, code, input);
    }
    return this.lowerIoctl(d, h, code, input);
  }

  read(key: number): number {
    const h = this.handle(key);
    return this.lowerRead(this.drive(h.drive));
  }

  /** Handle goes away in the filter: secure locks auto-released (once). */
  private filterRelease(d: ModelDrive, h: ModelHandle): void {
    d.secureTotal -= h.secure;
    h.secure = 0;
    this.touch(h);
  }

  cleanup(key: number): void {
    const h = this.handle(key);
    if (h.cleaned) return;
    h.cleaned = true;
    this.filterRelease(this.drive(h.drive), h);
  }

  /** IRP_MJ_CLOSE (with or without a cleanup before it). */
  closeOnly(key: number): void {
    const h = this.handle(key);
    const d = this.drive(h.drive);
    this.filterRelease(d, h);
    if (d.policy === POLICY_ENFORCE && h.simple > 0) {
      // Enforce: leaked simple locks are released below the filter before the close; the
      // ledger drops only those cdrom accepted (the rest stay counted, as orphans).
      const n = h.simple;
      let ok = 0;
      for (let i = 0; i < n; i++) {
        if (isSuccess(this.lowerIoctl(d, h, IOCTL.STORAGE_MEDIA_REMOVAL, new Uint8Array([0])))) ok++;
      }
      d.simpleTotal = Math.max(0, d.simpleTotal - ok);
    }
    h.simple = 0;
    this.lowerClose(d, h);
    h.open = false;
  }

  close(key: number): void {
    this.cleanup(key);
    this.closeOnly(key);
  }

  processExit(pid: number): number {
    const mine = [...this.handles.values()].filter((h) => h.open && h.pid === pid).sort((a, b) => a.key - b.key);
    for (const h of mine) this.close(h.key);
    return mine.length;
  }

  setPolicy(drive: number, policy: number): void {
    if (drive === 0) for (const d of this.drives) d.policy = policy;
    else this.drive(drive).policy = policy;
  }

  setMedia(drive: number, present: boolean): void {
    const d = this.drive(drive);
    d.lower.mediaPresent = present;
    if (present) d.lower.trayOpen = false;
  }

  setConnected(drive: number, connected: boolean): void {
    this.drive(drive).lower.connected = connected;
  }

  failNext(drive: number, status: number): void {
    this.drive(drive).fault = status >>> 0;
  }

  ledger(drive: number): LedgerView {
    const d = this.drive(drive);
    const owners = [...this.handles.values()]
      .filter((h) => h.open && h.drive === drive && (h.secure > 0 || h.simple > 0))
      .map((h) => ({ image: h.image, pid: h.pid, secure: h.secure, simple: h.simple }))
      .sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
    return { secureTotal: d.secureTotal, simpleTotal: d.simpleTotal, foreignUnlocks: d.foreignUnlocks, denials: d.denials, owners };
  }

  lower(drive: number): LowerState {
    return { ...this.drive(drive).lower };
  }

  /** Invariant of issue 3 §1: the secure total is the sum of the owners' counts; nothing negative. */
  checkInvariants(): void {
    this.drives.forEach((d, i) => {
      const sum = [...this.handles.values()].filter((h) => h.open && h.drive === i + 1).reduce((s, h) => s + h.secure, 0);
      if (sum !== d.secureTotal) throw new Error(`model drive ${i + 1}: secure total ${d.secureTotal} != sum ${sum}`);
      if (d.secureTotal < 0 || d.simpleTotal < 0 || d.lower.secureTotal < 0 || d.lower.simpleTotal < 0) {
        throw new Error(`model drive ${i + 1}: negative count`);
      }
    });
  }
}
