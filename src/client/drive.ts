/**
 * Lock actions for QA on a drive handle: what a burning or playback application sends, so the
 * filter's ledger, enforcement and trace can be checked against it.
 *
 * The handle is opened with FILE_READ_ATTRIBUTES by default (Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL: "A caller must open the
 * device with FILE_READ_ATTRIBUTES to send this request"; no file system is mounted, so the
 * create reaches the storage stack). CTL_CODE access matters: IOCTL_STORAGE_EJECTION_CONTROL
 * and IOCTL_STORAGE_MCN_CONTROL are FILE_ANY_ACCESS, but IOCTL_STORAGE_MEDIA_REMOVAL and
 * IOCTL_STORAGE_EJECT_MEDIA are FILE_READ_ACCESS, and IOCTL_SCSI_PASS_THROUGH needs read and
 * write: on an "attributes" handle the I/O manager fails them with STATUS_ACCESS_DENIED. Open
 * with access "read" (GENERIC_READ | FILE_READ_ATTRIBUTES) for those, or a mask with
 * GENERIC_WRITE too for pass-through. On Windows a GENERIC_READ open of a drive with media can
 * mount CDFS/UDFS, whose volume handle then forwards the IOCTLs (docs/core.md, adoption of unseen file objects).
 *
 * Every action resolves to an ActionResult (it never throws for a status the device returned);
 * only a closed handle or a bad argument throws.
 */
import { lookupIoctl } from "./catalog.ts";
import { InvalidArgumentError } from "./errors.ts";
import { ntStatusName, ntSuccess } from "./ntstatus.ts";
import type { DeviceHandle, IoResult } from "./transport.ts";

export interface ActionResult {
  /** NT_SUCCESS(status). */
  ok: boolean;
  /** NTSTATUS (uint32): exact on the simulator; on Win32 the status the Win32 error usually comes from. */
  status: number;
  /** e.g. "STATUS_DEVICE_BUSY". */
  statusName: string;
  /** Win32 error (0 on success): GetLastError on Win32, RtlNtStatusToDosError(status) on the simulator. */
  win32Error?: number;
  /** Whether `status` is exact (false on Win32: inferred from the Win32 error). */
  statusExact: boolean;
  /** Bytes returned (IoStatus.Information). */
  returned: number;
}

export interface PassThroughResult extends ActionResult {
  /** SCSI status byte the port driver wrote back (0 = GOOD), when the request succeeded. */
  scsiStatus?: number;
  /** Sense data returned (up to SENSE_BYTES). */
  sense?: Uint8Array;
}

function code(name: string): number {
  const e = lookupIoctl(name);
  if (!e) throw new Error(`catalog lacks ${name}`);
  return e.code;
}

export const IOCTL_STORAGE_EJECTION_CONTROL = code("IOCTL_STORAGE_EJECTION_CONTROL");
export const IOCTL_STORAGE_MEDIA_REMOVAL = code("IOCTL_STORAGE_MEDIA_REMOVAL");
export const IOCTL_STORAGE_EJECT_MEDIA = code("IOCTL_STORAGE_EJECT_MEDIA");
export const IOCTL_STORAGE_LOAD_MEDIA = code("IOCTL_STORAGE_LOAD_MEDIA");
export const IOCTL_STORAGE_MCN_CONTROL = code("IOCTL_STORAGE_MCN_CONTROL");
export const IOCTL_SCSI_PASS_THROUGH = code("IOCTL_SCSI_PASS_THROUGH");

/** x64 SCSI_PASS_THROUGH (ntddscsi.h): sizeof 56 bytes, Cdb at offset 36. */
export const SCSI_PASS_THROUGH_SIZE = 56;
/** Field offsets of the x64 SCSI_PASS_THROUGH (ntddscsi.h), bytes. */
export const SCSI_PASS_THROUGH_OFFSETS = {
  Length: 0,
  ScsiStatus: 2,
  CdbLength: 6,
  SenseInfoLength: 7,
  DataIn: 8,
  DataTransferLength: 12,
  TimeOutValue: 16,
  DataBufferOffset: 24,
  SenseInfoOffset: 32,
  Cdb: 36,
} as const;
const SPT = SCSI_PASS_THROUGH_OFFSETS;
/** Sense bytes requested after the structure. */
export const SENSE_BYTES = 32;
const SCSI_IOCTL_DATA_UNSPECIFIED = 2;

/**
 * The IOCTL_SCSI_PASS_THROUGH input for a CDB that moves no data: SCSI_PASS_THROUGH (x64
 * layout) followed by SENSE_BYTES of sense buffer. TimeOutValue in seconds.
 */
export function encodePassThrough(cdb: Uint8Array, timeoutSeconds = 10): Uint8Array {
  if (cdb.length < 1 || cdb.length > 16) throw new InvalidArgumentError(`a CDB is 1..16 bytes, got ${cdb.length}`);
  const buf = new Uint8Array(SCSI_PASS_THROUGH_SIZE + SENSE_BYTES);
  const dv = new DataView(buf.buffer);
  dv.setUint16(SPT.Length, SCSI_PASS_THROUGH_SIZE, true);
  dv.setUint8(SPT.CdbLength, cdb.length);
  dv.setUint8(SPT.SenseInfoLength, SENSE_BYTES);
  dv.setUint8(SPT.DataIn, SCSI_IOCTL_DATA_UNSPECIFIED);
  dv.setUint32(SPT.DataTransferLength, 0, true);
  dv.setUint32(SPT.TimeOutValue, timeoutSeconds, true);
  dv.setBigUint64(SPT.DataBufferOffset, 0n, true);
  dv.setUint32(SPT.SenseInfoOffset, SCSI_PASS_THROUGH_SIZE, true);
  buf.set(cdb, SPT.Cdb);
  return buf;
}

export function actionResult(r: IoResult): ActionResult {
  const ok = r.status === 0 || ntSuccess(r.status);
  return {
    ok,
    status: r.status >>> 0,
    statusName: ntStatusName(r.status),
    win32Error: r.win32Error,
    statusExact: r.statusExact,
    returned: r.returned,
  };
}

/** A drive handle as a (simulated) application holds it. */
export class Drive {
  constructor(
    /** The open handle (transport-specific). */
    readonly handle: DeviceHandle,
    /** Drive id in the driver (0 when opened by path and not found among the driver's drives). */
    readonly driveId: number,
    /** "CdRom0" or the path it was opened with. */
    readonly name: string,
    /** Simulated process (simulator) or this process (Win32). */
    readonly pid: number,
    readonly image: string,
  ) {}

  /** Drive IOCTLs can wait on the hardware (tray motion, spin-up): they run off the main thread. */
  private async send(ioctlCode: number, input: Uint8Array, outCap = 0): Promise<ActionResult> {
    return actionResult(await this.handle.ioctl(ioctlCode, input, outCap, { blocking: true }));
  }

  /** IOCTL_STORAGE_EJECTION_CONTROL TRUE: take a secure lock owned by this handle. */
  lock(): Promise<ActionResult> {
    return this.send(IOCTL_STORAGE_EJECTION_CONTROL, Uint8Array.of(1));
  }

  /**
   * IOCTL_STORAGE_EJECTION_CONTROL FALSE: release one secure lock of this handle. A handle that
   * holds none gets STATUS_INVALID_DEVICE_STATE (cdrom.sys; cdrom.sys sample, storage/class/cdrom/src).
   */
  unlock(): Promise<ActionResult> {
    return this.send(IOCTL_STORAGE_EJECTION_CONTROL, Uint8Array.of(0));
  }

  /** IOCTL_STORAGE_MEDIA_REMOVAL (PREVENT_MEDIA_REMOVAL, 1 byte): simple lock (true) or unlock. Needs FILE_READ_ACCESS. */
  mediaRemoval(prevent: boolean): Promise<ActionResult> {
    return this.send(IOCTL_STORAGE_MEDIA_REMOVAL, Uint8Array.of(prevent ? 1 : 0));
  }

  /** IOCTL_STORAGE_MCN_CONTROL: disable (true) or re-enable media change notification for this handle. */
  mcnControl(disable: boolean): Promise<ActionResult> {
    return this.send(IOCTL_STORAGE_MCN_CONTROL, Uint8Array.of(disable ? 1 : 0));
  }

  /** IOCTL_STORAGE_EJECT_MEDIA. STATUS_DEVICE_BUSY while a secure lock is held. Needs FILE_READ_ACCESS. */
  eject(): Promise<ActionResult> {
    return this.send(IOCTL_STORAGE_EJECT_MEDIA, new Uint8Array(0));
  }

  /** IOCTL_STORAGE_LOAD_MEDIA: close the tray. Needs FILE_READ_ACCESS. */
  load(): Promise<ActionResult> {
    return this.send(IOCTL_STORAGE_LOAD_MEDIA, new Uint8Array(0));
  }

  /**
   * IOCTL_SCSI_PASS_THROUGH with a CDB that moves no data, e.g. START STOP UNIT with LoEj=1
   * (`Uint8Array.of(0x1b, 0, 0, 0, 0x02, 0)`) or PREVENT ALLOW MEDIUM REMOVAL (0x1e). Needs
   * FILE_READ_ACCESS | FILE_WRITE_ACCESS.
   */
  async passThrough(cdb: Uint8Array, opts: { timeoutSeconds?: number } = {}): Promise<PassThroughResult> {
    const input = encodePassThrough(cdb, opts.timeoutSeconds);
    const r = await this.handle.ioctl(IOCTL_SCSI_PASS_THROUGH, input, input.length, { blocking: true });
    const res: PassThroughResult = actionResult(r);
    if (res.ok && r.output.length >= SCSI_PASS_THROUGH_SIZE) {
      res.scsiStatus = r.output[SPT.ScsiStatus];
      const senseLen = r.output[SPT.SenseInfoLength] ?? 0;
      res.sense = r.output.slice(SCSI_PASS_THROUGH_SIZE, SCSI_PASS_THROUGH_SIZE + Math.min(senseLen, SENSE_BYTES));
    }
    return res;
  }

  /** ReadFile of `length` bytes at byte `offset` (multiples of 2048 on CD media); the data is discarded. */
  async read(offset: bigint | number, length: number): Promise<ActionResult> {
    if (!Number.isInteger(length) || length < 0 || length > 0xffffffff)
      throw new InvalidArgumentError(`read length out of range: ${length}`);
    const off = typeof offset === "bigint" ? offset : BigInt(offset);
    if (off < 0n) throw new InvalidArgumentError(`read offset must be >= 0, got ${off}`);
    return actionResult(await this.handle.read(off, length));
  }

  /** CloseHandle: IRP_MJ_CLEANUP then IRP_MJ_CLOSE; the filter releases this handle's secure locks. */
  close(): Promise<void> {
    return this.handle.close();
  }
}
