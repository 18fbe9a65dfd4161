// Reference model of the simulated stack: the filter's ejection-ownership ledger and policy
// (docs/core.md) over a model of cdrom.sys written directly from Microsoft's CD-ROM class driver
// sample (microsoft/Windows-driver-samples storage/class/cdrom/src; each rule names its function)
// and the IOCTL_STORAGE_EJECTION_CONTROL documentation, not from driver/sim/simcd.c, so that
// comparing the two after every step finds disagreements. Only what those sources determine is
// modelled; where they leave a choice open the choice is named in a comment.

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
  NO_SUCH_DEVICE: 0xc000000e,
  DEVICE_DOES_NOT_EXIST: 0xc00000c0,
} as const;

/** Control codes (ntddstor.h, ntddcdrm.h, ntddscsi.h). */
export const IOCTL = {
  STORAGE_MEDIA_REMOVAL: 0x002d4804,
  STORAGE_EJECT_MEDIA: 0x002d4808,
  STORAGE_LOAD_MEDIA: 0x002d480c,
  STORAGE_LOAD_MEDIA2: 0x002d080c,
  STORAGE_EJECTION_CONTROL: 0x002d0940,
  STORAGE_MCN_CONTROL: 0x002d0944,
  STORAGE_CHECK_VERIFY2: 0x002d0800,
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
/** A 64-bit SCSI_PASS_THROUGH followed by room for 32 bytes of sense data (SenseInfoLength 32,
 * SenseInfoOffset 56): 88 bytes, sent with an 88-byte output buffer. */
export function passThroughSenseBuffer(cdb: readonly number[]): Uint8Array {
  const b = new Uint8Array(88);
  b.set(passThroughBuffer(cdb));
  b[7] = 32; // SenseInfoLength
  new DataView(b.buffer).setUint32(32, 56, true); // SenseInfoOffset
  return b;
}

/** What a pass-through returned: the NTSTATUS, ScsiStatus and the fixed-format sense key/ASC/ASCQ. */
export interface PassThroughResult {
  status: number;
  scsiStatus: number;
  sense: [number, number, number];
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
  /** MediaChangeDetectionDisableCount */
  mcnTotal: number;
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
  lowerMcn: number;
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
  /** CDROM_DEVICE_EXTENSION.SurpriseRemoved */
  removed: boolean;
  /** CDROM_DATA.ExclusiveOwner: the owning handle's key, 0 = none */
  exclusiveOwner: number;
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
        lower: {
          mediaPresent: true,
          trayOpen: false,
          hwPrevent: false,
          connected: true,
          secureTotal: 0,
          simpleTotal: 0,
          mcnTotal: 0,
          ejects: 0,
        },
        removed: false,
        exclusiveOwner: 0,
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

  // ---- the lower device: Microsoft's cdrom.sys sample, read directly ----
  // Sources (microsoft/Windows-driver-samples, storage/class/cdrom/src, win11-22h2 branch):
  // cdrom.c DeviceEvtIoInCallerContext / RequestDispatchToSequentialQueue /
  // RequestDispatchSpecialIoctls / RequestProcessSerializedIoctl / DeviceEvtFileClose /
  // DeviceCleanupProtectedLocks, common.c PerformEjectionControl / RequestCompletion, ioctl.c
  // RequestHandleEjectionControl / RequestHandleLoadEjectMedia / RequestHandleScsiPassThrough /
  // RequestValidateReadWrite, sense.c SenseInfoInterpretBySenseKey /
  // SenseInfoInterpretByAdditionalSenseCode / SenseInfoInterpretBySrbStatus. The drive is an MMC
  // drive. Not derived from driver/sim/simcd.c.

  private lowerReady(d: ModelDrive): boolean {
    return d.lower.mediaPresent && !d.lower.trayOpen;
  }

  /**
   * A command reaching the drive. A drive that does not answer is SRB_STATUS_SELECTION_TIMEOUT:
   * STATUS_DEVICE_NOT_CONNECTED (SenseInfoInterpretBySrbStatus). Otherwise the drive's answer:
   * `check` is a CHECK CONDITION's sense key, 0 for GOOD.
   */
  private command(d: ModelDrive, run: () => number): { status: number; check: number } {
    // surprise-removed: SRB_STATUS_NO_DEVICE -> STATUS_NO_SUCH_DEVICE
    if (d.removed) return { status: ST.NO_SUCH_DEVICE, check: 0 };
    if (!d.lower.connected) return { status: ST.DEVICE_NOT_CONNECTED, check: 0 };
    const key = run();
    // NOT READY / MEDIUM NOT PRESENT -> STATUS_NO_MEDIA_IN_DEVICE (by additional sense code);
    // ILLEGAL REQUEST (MEDIUM REMOVAL PREVENTED has no ASC case) -> STATUS_INVALID_DEVICE_REQUEST
    if (key === 2) return { status: ST.NO_MEDIA_IN_DEVICE, check: 2 };
    if (key === 5) return { status: ST.INVALID_DEVICE_REQUEST, check: 5 };
    return { status: ST.SUCCESS, check: 0 };
  }

  /** PREVENT ALLOW MEDIUM REMOVAL (MMC): Persistent=1 changes only the persistent state; the
   * Prevent state needs a medium (NOT READY, MEDIUM NOT PRESENT). Returns the sense key. */
  private driveMediumRemoval(d: ModelDrive, b4: number): number {
    if (b4 & 0x02) return 0;
    if (!this.lowerReady(d)) return 2;
    d.lower.hwPrevent = (b4 & 0x01) !== 0;
    return 0;
  }

  /** START STOP UNIT (MMC): LoEj=1 without a power condition moves the tray; an eject in the
   * Prevent state is ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED (5/53/02). */
  private driveStartStop(d: ModelDrive, b4: number): number {
    if ((b4 & 0xf0) !== 0 || (b4 & 0x02) === 0) return 0;
    if (b4 & 0x01) {
      d.lower.trayOpen = false;
      return 0;
    }
    if (d.lower.hwPrevent) return 5;
    if (!d.lower.trayOpen) {
      d.lower.trayOpen = true;
      d.lower.ejects++;
    }
    return 0;
  }

  /** common.c PerformEjectionControl: new counts; the command only when the total flips between
   * zero and non-zero, with Prevent = the caller's BOOLEAN in a one-bit field; commit on success. */
  private lowerCounts(d: ModelDrive, simple: number, secure: number, lockByte: number): number {
    const was = d.lower.simpleTotal + d.lower.secureTotal !== 0;
    const now = simple + secure !== 0;
    if (was !== now) {
      const st = this.command(d, () => this.driveMediumRemoval(d, lockByte & 0x01)).status;
      if (st !== ST.SUCCESS) return st;
    }
    d.lower.simpleTotal = simple;
    d.lower.secureTotal = secure;
    return ST.SUCCESS;
  }

  /** common.c RequestCompletion: after surprise removal a failure is STATUS_DEVICE_DOES_NOT_EXIST. */
  private completion(d: ModelDrive, st: number): number {
    return d.removed && !isSuccess(st) ? ST.DEVICE_DOES_NOT_EXIST : st;
  }

  /** cdrom.c RequestIsIoctlBlockedByExclusiveAccess for the codes the model sends (raw code):
   * every code of the SCSI, disk, CD-ROM, storage and DVD bases but the allow-list, of which the
   * model sends only IOCTL_CDROM_EXCLUSIVE_ACCESS. */
  private static exclusiveBlocks(code: number): boolean {
    if (code >>> 0 === IOCTL.CDROM_EXCLUSIVE_ACCESS) return false;
    const base = code >>> 16;
    return base === 0x04 || base === 0x07 || base === 0x02 || base === 0x2d || base === 0x33;
  }

  /** A request reaching cdrom.sys (after the model's fault injection, a test tool). */
  private lowerIoctl(d: ModelDrive, h: ModelHandle, code: number, input: Uint8Array): number {
    if (d.fault !== 0) {
      const st = d.fault;
      d.fault = 0;
      return st;
    }
    // DeviceEvtIoInCallerContext: EXCLUSIVE_MODE && !EXCLUSIVE_OWNER, before NormalizeIoctl
    if (d.exclusiveOwner !== 0 && d.exclusiveOwner !== h.key && LedgerModel.exclusiveBlocks(code)) {
      return this.completion(d, ST.ACCESS_DENIED);
    }
    return this.completion(d, this.lowerDispatch(d, h, code, input));
  }

  private lowerDispatch(d: ModelDrive, h: ModelHandle, code: number, input: Uint8Array): number {
    const norm = normalizeIoctl(code); // DeviceEvtIoInCallerContext -> NormalizeIoctl
    switch (norm) {
      case IOCTL.STORAGE_MEDIA_REMOVAL: {
        // RequestDispatchToSequentialQueue: input < sizeof(PREVENT_MEDIA_REMOVAL)
        if (input.length < 1) return ST.INFO_LENGTH_MISMATCH;
        const lock = input[0] ?? 0;
        if (lock !== 0) return this.lowerCounts(d, d.lower.simpleTotal + 1, d.lower.secureTotal, lock);
        if (d.lower.simpleTotal === 0) return ST.SUCCESS; // countChanged FALSE, no command
        return this.lowerCounts(d, d.lower.simpleTotal - 1, d.lower.secureTotal, 0);
      }
      case IOCTL.STORAGE_EJECTION_CONTROL: {
        if (input.length < 1) return ST.INFO_LENGTH_MISMATCH;
        const lock = input[0] ?? 0;
        if (lock !== 0) {
          const st = this.lowerCounts(d, d.lower.simpleTotal, d.lower.secureTotal + 1, lock);
          if (st === ST.SUCCESS) h.lowerSecure++;
          return st;
        }
        // (newFileLockCount == 0) || (newProtectedLockCount == 0): no device I/O
        if (h.lowerSecure === 0 || d.lower.secureTotal === 0) return ST.INVALID_DEVICE_STATE;
        const st = this.lowerCounts(d, d.lower.simpleTotal, d.lower.secureTotal - 1, 0);
        if (st === ST.SUCCESS) h.lowerSecure--;
        return st;
      }
      case IOCTL.STORAGE_MCN_CONTROL: {
        // autorun.c RequestHandleMcnControl: the file object's McnDisableCount; no device I/O
        if (input.length < 1) return ST.INFO_LENGTH_MISMATCH;
        if (input[0] !== 0) {
          h.lowerMcn++;
          d.lower.mcnTotal++;
          return ST.SUCCESS;
        }
        if (h.lowerMcn === 0) return ST.INVALID_DEVICE_STATE;
        h.lowerMcn--;
        d.lower.mcnTotal--;
        return ST.SUCCESS;
      }
      case IOCTL.CDROM_EXCLUSIVE_ACCESS: {
        // ioctl.c RequestValidateExclusiveAccess and the three handlers; common.c
        // DeviceUnlockExclusive. No device I/O. (The model sends valid names and lengths.)
        if (input.length < 8) return ST.INFO_LENGTH_MISMATCH;
        const type = new DataView(input.buffer, input.byteOffset, input.byteLength).getUint32(0, true);
        if (type === 0) return ST.SUCCESS; // query: output of 65 bytes
        if (type === 1) {
          if (input.length < 72) return ST.INFO_LENGTH_MISMATCH;
          if (d.exclusiveOwner !== 0) return ST.ACCESS_DENIED; // even the owner
          d.exclusiveOwner = h.key;
          return ST.SUCCESS;
        }
        if (type === 2) {
          if (d.exclusiveOwner === 0) return ST.INVALID_DEVICE_REQUEST;
          if (d.exclusiveOwner !== h.key) return ST.INVALID_HANDLE;
          d.exclusiveOwner = 0;
          return ST.SUCCESS;
        }
        return ST.INVALID_PARAMETER;
      }
      case IOCTL.STORAGE_CHECK_VERIFY:
      case IOCTL.STORAGE_CHECK_VERIFY2:
        // ioctl.c RequestHandleCheckVerify: TEST UNIT READY (no output buffer here)
        return this.command(d, () => (this.lowerReady(d) ? 0 : 2)).status;
      case IOCTL.STORAGE_EJECT_MEDIA:
      case IOCTL.STORAGE_LOAD_MEDIA:
      case IOCTL.STORAGE_LOAD_MEDIA2: {
        // RequestHandleLoadEjectMedia: EJECT, LOAD and LOAD2 alike under ProtectedLockCount
        if (d.lower.secureTotal !== 0) return ST.DEVICE_BUSY;
        const b4 = norm === IOCTL.STORAGE_EJECT_MEDIA ? 0x02 : 0x03;
        return this.command(d, () => this.driveStartStop(d, b4)).status;
      }
      case IOCTL.SCSI_PASS_THROUGH:
      case IOCTL.SCSI_PASS_THROUGH_DIRECT: {
        // RequestDispatchSpecialIoctls: input >= sizeof(SCSI_PASS_THROUGH); the port driver:
        // Length == 56, CdbLength 1..16
        const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
        if (input.length < 56 || dv.getUint16(0, true) !== 56) return ST.INVALID_PARAMETER;
        const cdbLength = dv.getUint8(6);
        if (cdbLength < 1 || cdbLength > 16) return ST.INVALID_PARAMETER;
        const op = input[36];
        const b4 = input[40] ?? 0;
        // RequestHandleScsiPassThrough: a CHECK CONDITION completes STATUS_SUCCESS (ScsiStatus
        // and sense data carry it); only a transport failure fails the request
        const r = this.command(d, () => {
          if (op === 0x1b) return this.driveStartStop(d, b4);
          if (op === 0x1e) return this.driveMediumRemoval(d, b4);
          if (op === 0x00) return this.lowerReady(d) ? 0 : 2;
          return 0;
        });
        return r.check !== 0 ? ST.SUCCESS : r.status;
      }
      default:
        // RequestDispatchUnknownRequests: the port driver, which knows no other IOCTL
        return ST.INVALID_DEVICE_REQUEST;
    }
  }

  /** IRP_MJ_READ of 2048 bytes at 0 (RequestValidateReadWrite passes): a READ command. */
  private lowerRead(d: ModelDrive, h: ModelHandle): number {
    if (d.fault !== 0) {
      const st = d.fault;
      d.fault = 0;
      return st;
    }
    // SequentialQueueEvtIoReadWrite: a non-owner's read under exclusive access
    if (d.exclusiveOwner !== 0 && d.exclusiveOwner !== h.key) return this.completion(d, ST.ACCESS_DENIED);
    return this.completion(d, this.command(d, () => (this.lowerReady(d) ? 0 : 2)).status);
  }

  /** DeviceEvtFileClose -> DeviceCleanupProtectedLocks: the file object's secure locks go; ALLOW
   * is sent when ProtectedLockCount and LockCount are both zero, its answer ignored. Simple
   * locks stay. */
  private lowerClose(d: ModelDrive, h: ModelHandle): void {
    d.lower.mcnTotal -= h.lowerMcn; // DeviceCleanupDisableMcn
    h.lowerMcn = 0;
    if (d.exclusiveOwner === h.key) d.exclusiveOwner = 0; // DeviceUnlockExclusive
    if (h.lowerSecure !== 0) {
      d.lower.secureTotal -= h.lowerSecure;
      h.lowerSecure = 0;
      if (d.lower.simpleTotal + d.lower.secureTotal === 0) this.command(d, () => this.driveMediumRemoval(d, 0));
    }
  }

  // ---- the filter (docs/core.md) ----

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
    this.handles.set(key, {
      key,
      drive,
      pid,
      image,
      open: true,
      cleaned: false,
      secure: 0,
      simple: 0,
      since: 0,
      lowerSecure: 0,
      lowerMcn: 0,
    });
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
        // The enforce rule (docs/core.md) says "START STOP UNIT with LoEj=1"; LoEj=1 with Start=1 is a load, which
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
    return this.lowerRead(this.drive(h.drive), h);
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

  /** DeviceEvtSurpriseRemoval. */
  surpriseRemove(drive: number): void {
    this.drive(drive).removed = true;
  }

  /** IRP_MJ_CREATE reaches cdrom (CreateQueueEvtIoDefault); after surprise removal it fails. */
  createStatus(drive: number): number {
    return this.drive(drive).removed ? ST.DEVICE_DOES_NOT_EXIST : ST.SUCCESS;
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

  lower(drive: number): LowerState & { exclusiveLocked: boolean } {
    const d = this.drive(drive);
    return { ...d.lower, exclusiveLocked: d.exclusiveOwner !== 0 };
  }

  /** Ledger invariant (docs/core.md): the secure total is the sum of the owners' counts; nothing negative. */
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
