/**
 * The one interface every transport implements: open the control device or a drive, send
 * DeviceIoControl-shaped requests, read, cancel, close. Transports never throw for a request
 * the device failed: they return the status, and the caller decides (FilterClient throws typed
 * errors for control calls; drive actions return ActionResult).
 */

export type TransportKind = "win32" | "simulator";

/** Access a drive handle is opened with (CreateFileW dwDesiredAccess / cdfsim_open desired_access). */
export type DriveAccess =
  /** FILE_READ_ATTRIBUTES (0x80): no file system is mounted, the create reaches the storage stack (Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL). */
  | "attributes"
  /** GENERIC_READ | FILE_READ_ATTRIBUTES: needed for FILE_READ_ACCESS codes (MEDIA_REMOVAL, EJECT_MEDIA). */
  | "read"
  /** An explicit access mask (winnt.h bits). */
  | number;

export const FILE_READ_DATA = 0x0001;
export const FILE_WRITE_DATA = 0x0002;
export const FILE_READ_ATTRIBUTES = 0x0080;
export const GENERIC_READ = 0x80000000;
export const GENERIC_WRITE = 0x40000000;

/** The access mask a DriveAccess stands for. */
export function accessMask(access: DriveAccess | undefined): number {
  if (access === undefined || access === "attributes") return FILE_READ_ATTRIBUTES;
  if (access === "read") return (GENERIC_READ | FILE_READ_ATTRIBUTES) >>> 0;
  if (!Number.isInteger(access) || access < 0 || access > 0xffffffff) {
    throw new RangeError(`access mask out of range: ${access}`);
  }
  return access >>> 0;
}

/** Outcome of one request. */
export interface IoResult {
  /** NTSTATUS (uint32). Exact on the simulator; on Win32 the status the Win32 error usually comes from. */
  status: number;
  /** Win32 error (GetLastError) on Win32; RtlNtStatusToDosError(status) on the simulator. 0 on success. */
  win32Error: number;
  /** Whether `status` is exact (simulator) or inferred from win32Error (Win32). */
  statusExact: boolean;
  /** Bytes written to the output buffer (IoStatus.Information / lpBytesReturned). */
  returned: number;
  /** The first `returned` bytes of the output buffer (a copy the caller owns). */
  output: Uint8Array;
}

export interface IoctlOptions {
  /**
   * The request may pend in the driver for an unbounded time (WaitTrace). It runs off the main
   * thread and can be cancelled with DeviceHandle.cancel().
   */
  blocking?: boolean;
}

/** An open handle on the control device or a drive. */
export interface DeviceHandle {
  /** "\\.\CdFilter", "\\.\CdRom0", "sim:drive1" ... for messages. */
  readonly path: string;
  /** DeviceIoControl. outCap: output buffer size in bytes. */
  ioctl(code: number, input: Uint8Array, outCap: number, opts?: IoctlOptions): Promise<IoResult>;
  /** ReadFile of `length` bytes at byte `offset`; the data is not returned (the tracer only needs the IRP). */
  read(offset: bigint, length: number): Promise<IoResult>;
  /** Complete every blocked request on this handle with STATUS_CANCELLED (CancelIoEx / cdfsim_cancel). */
  cancel(): void;
  /** CloseHandle (IRP_MJ_CLEANUP then IRP_MJ_CLOSE). Idempotent. */
  close(): Promise<void>;
}

export interface OpenDriveOptions {
  /** Simulator only: the simulated process the handle belongs to (default: this process's pid). */
  pid?: number;
  /** Simulator only: its image name (default "node.exe"). */
  image?: string;
  access?: DriveAccess;
}

/** Something that can open devices. */
export interface Transport {
  readonly kind: TransportKind;
  /** Why this transport was chosen, e.g. "not Windows (linux): embedded simulator". */
  readonly reason: string;
  /** Open the control device (\\.\CdFilter) for read and write access. */
  openControl(): Promise<DeviceHandle>;
  /**
   * Open a drive. `drive` is the driver's drive id (>= 1) with its name (e.g. "CdRom0"), or a
   * Win32 path ("\\.\CdRom0", "\\.\D:") / drive letter ("D:").
   */
  openDrive(drive: { id: number; name: string } | string, opts: OpenDriveOptions): Promise<DeviceHandle>;
  /** Release everything the transport holds. Idempotent. */
  close(): Promise<void>;
}
