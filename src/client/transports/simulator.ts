/**
 * The simulator transport: the simulated CD-ROM stack (driver/sim, build/libcdfsim.so) through
 * src/sim/binding.ts. Each transport owns one simulator instance (cdfsim_create) with its own
 * core, drives and trace ring. Statuses are exact NTSTATUS values; the Win32 error is what
 * RtlNtStatusToDosError gives for them (ntstatus.ts), so results look the same as on Win32.
 *
 * Blocking requests (WaitTrace) run through koffi's async call on a pool thread; their result
 * is the return value (an NTSTATUS), so no thread-local error state is involved. Cancellation
 * is cdfsim_cancel (the CancelIoEx of the simulator).
 */
import { BlockingCall } from "../blocking-call.ts";
import { CONTROL_DEVICE, type DriveCommand, type DriveState, type SimPointer, SimLibrary } from "../../sim/binding.ts";
import { SimLibraryUnavailable } from "../../sim/locate.ts";
import { ClientClosedError, InvalidArgumentError, TransportUnavailableError, errorFromNtStatus } from "../errors.ts";
import { ntStatusToWin32, ntSuccess, toUint32 } from "../ntstatus.ts";
import {
  accessMask,
  type DeviceHandle,
  GENERIC_READ,
  GENERIC_WRITE,
  type IoctlOptions,
  type IoResult,
  type OpenDriveOptions,
  type Transport,
} from "../transport.ts";

export interface SimulatorOptions {
  /** Drives CdRom0..CdRom{n-1}, ids 1..n (1..16). Default 2. */
  drives?: number;
  /** Trace ring size in bytes (0 or absent = the core's default, 1 MiB). */
  ringBytes?: number;
  /**
   * Drives the filter core holds (1..drives; default: all of them). The drives past it are
   * simulated but untracked, as on a machine with more drives than the driver's core holds
   * (16): their I/O passes untraced, each gets a DRIVE_NOT_TRACKED record and is listed in
   * DrivesReply.untracked.
   */
  coreDrives?: number;
  /** Library path (default: the one src/sim/locate.ts finds). */
  libraryPath?: string;
}

/** Image name of handles this process opens when no simulated process is given. */
export const DEFAULT_IMAGE = "node.exe";

function result(status: number, returned: number, output: Uint8Array): IoResult {
  const s = toUint32(status);
  return { status: s, win32Error: ntSuccess(s) ? 0 : ntStatusToWin32(s), statusExact: true, returned, output };
}

export class SimDeviceHandle implements DeviceHandle {
  private closed = false;
  private readonly blocking = new BlockingCall(() => this.lib.cancel(this.sim, this.simHandle), 10);

  constructor(
    private readonly lib: SimLibrary,
    private readonly sim: SimPointer,
    /** The simulator's handle value (opaque, nonzero). */
    readonly simHandle: bigint,
    readonly path: string,
    private readonly onClose: (h: SimDeviceHandle) => void,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  private ensureOpen(): void {
    if (this.closed) throw new ClientClosedError(`${this.path}: handle is closed`, { hint: "open the drive or control device again" });
  }

  async ioctl(code: number, input: Uint8Array, outCap: number, opts?: IoctlOptions): Promise<IoResult> {
    this.ensureOpen();
    if (!opts?.blocking) {
      const r = this.lib.ioctl(this.sim, this.simHandle, code, input, outCap);
      return result(r.status, r.returned, r.output);
    }
    const r = await this.blocking.run(this.lib.ioctlAsync(this.sim, this.simHandle, code, input, outCap));
    return result(r.status, r.returned, r.output);
  }

  async read(offset: bigint, length: number): Promise<IoResult> {
    this.ensureOpen();
    const r = this.lib.read(this.sim, this.simHandle, offset, length);
    return result(r.status, r.returned, new Uint8Array(0));
  }

  /** cdfsim_burst: `count` reads of `length` bytes through the whole stack in one native call. */
  burst(count: number, length = 2048): { status: number; completed: number } {
    this.ensureOpen();
    return this.lib.burst(this.sim, this.simHandle, count, length);
  }

  cancel(): void {
    if (!this.closed) this.blocking.cancel();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.blocking.busy) await this.blocking.drain();
    this.closed = true;
    this.blocking.stopRetries();
    this.lib.close(this.sim, this.simHandle);
    this.onClose(this);
  }

  /** cdfsim_close_only: IRP_MJ_CLOSE without IRP_MJ_CLEANUP (a crash as Wine delivers it). */
  closeWithoutCleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.lib.closeOnly(this.sim, this.simHandle);
    this.onClose(this);
  }

  /**
   * cdfsim_cleanup_only: IRP_MJ_CLEANUP without IRP_MJ_CLOSE (the last handle is gone but a
   * reference keeps the file object: cdrom.sys still holds its secure locks until the close).
   * The handle stays usable for `close()` / `closeWithoutCleanup()`, which then send the close.
   * Returns the NTSTATUS (STATUS_INVALID_HANDLE once closed).
   */
  cleanupWithoutClose(): number {
    this.ensureOpen();
    return this.lib.cleanupOnly(this.sim, this.simHandle) >>> 0;
  }

  /**
   * cdfsim_duplicate (DuplicateHandle): another handle on the same file object, owned by `pid`.
   * IRP_MJ_CLEANUP and IRP_MJ_CLOSE are sent only when the last of them closes.
   */
  duplicate(pid: number, register: (h: SimDeviceHandle) => void): SimDeviceHandle {
    this.ensureOpen();
    const r = this.lib.duplicate(this.sim, this.simHandle, pid);
    if (!ntSuccess(r.status) || r.handle === 0n) throw errorFromNtStatus(`duplicate ${this.path} for pid ${pid}`, r.status);
    const h = new SimDeviceHandle(this.lib, this.sim, r.handle, this.path, this.onClose);
    register(h);
    return h;
  }
}

/** Options of `SimulatorControl.ioctlNoFile`. */
export interface NoFileIoctlOptions {
  /** Process the request is issued on behalf of (default: this process). */
  pid?: number;
  /** Irp->RequestorMode: true KernelMode (a kernel component, the default), false UserMode. */
  kernelMode?: boolean;
}

/** Physical-world and process control of the simulated stack (FilterClient.simulator). */
export interface SimulatorControl {
  /** cdfsim_process_exit: every handle of `pid` gets cleanup + close flagged as process exit. Returns handles closed. */
  processExit(pid: number): number;
  /** The next lower request on `driveId` fails with `status` (NTSTATUS; 0 clears). */
  failNext(driveId: number, status: number): void;
  /** Disc inserted and tray closed (true) or disc taken out (false). */
  setMedia(driveId: number, present: boolean): void;
  /** false: the drive stops answering: commands sent to it fail STATUS_DEVICE_NOT_CONNECTED (requests cdrom.sys decides without the drive still succeed). */
  setConnected(driveId: number, connected: boolean): void;
  /** The simulated cdrom.sys's own view of the drive (its lock counts, tray, media). */
  driveState(driveId: number): DriveState;
  /** The core's monotonic clock, 100 ns units. */
  now(): bigint;
  /**
   * A device control with no file object (IoBuildDeviceIoControlRequest on the drive), from a
   * kernel-mode (default) or user-mode requestor. Buffers of at most 4096 bytes. Returns the
   * IoResult (never throws for a device failure).
   */
  ioctlNoFile(driveId: number, code: number, input: Uint8Array, outCap: number, opts?: NoFileIoctlOptions): IoResult;
  /** Another handle on `handle`'s file object for `pid` (DuplicateHandle): cleanup and close only at the last close. */
  duplicate(handle: DeviceHandle, pid: number): DeviceHandle;
  /**
   * Open the UDF volume a file system mounted on the drive (\\.\D: on Windows): its create,
   * cleanup and close stay in the file system; its IOCTLs reach the filter with a file object
   * the filter never saw created. File system controls (fsctl.ts wrappers) are answered by the
   * simulated UDF (docs/simulator.md "Mounted volume"). NoMediaError without a ready medium.
   */
  openVolume(driveId: number, opts?: { pid?: number; image?: string; access?: "read" | "read-write" }): DeviceHandle;
  /** The file system dismounts (IsVolumeMounted false). */
  dismount(driveId: number): void;
  /** Surprise removal (distinct from setConnected(false)): failures then read STATUS_DEVICE_DOES_NOT_EXIST. Not undone. */
  surpriseRemove(driveId: number): void;
  /** Write-once media with an open session (true) or ROM-compatible media (false). */
  setSessionOpen(driveId: number, open: boolean): void;
  /**
   * Targeted fault: the `nth` (1-based, counted from now) command of `kind` (binding.ts
   * CommandKind, e.g. ALLOW) that reaches the drive fails with `status` (NTSTATUS); nth 0 clears.
   */
  failCommand(driveId: number, kind: number, nth: number, status: number): void;
  /** The drive's log of commands that reached it (the last 64), after `afterSeq`, oldest first. */
  commands(driveId: number, afterSeq?: number): DriveCommand[];
}

export class SimulatorTransport implements Transport, SimulatorControl {
  readonly kind = "simulator" as const;
  private readonly handles = new Set<SimDeviceHandle>();
  private destroyed = false;

  private constructor(
    private readonly lib: SimLibrary,
    private readonly sim: SimPointer,
    readonly reason: string,
    readonly driveCount: number,
  ) {}

  /** Create a simulator instance; TransportUnavailableError when no simulator library is found or built (src/sim/locate.ts). */
  static create(opts: SimulatorOptions = {}, reason = "simulator requested"): SimulatorTransport {
    const drives = opts.drives ?? 2;
    if (!Number.isInteger(drives) || drives < 1 || drives > 16) {
      throw new InvalidArgumentError(`simulator drives must be 1..16, got ${drives}`);
    }
    const coreDrives = opts.coreDrives ?? drives;
    if (!Number.isInteger(coreDrives) || coreDrives < 1 || coreDrives > drives) {
      throw new InvalidArgumentError(`simulator coreDrives must be 1..drives (${drives}), got ${coreDrives}`);
    }
    const ringBytes = opts.ringBytes ?? 0;
    if (!Number.isInteger(ringBytes) || ringBytes < 0 || ringBytes > 0xffffffff) {
      throw new InvalidArgumentError(`simulator ringBytes must be a byte count, got ${ringBytes}`);
    }
    let lib: SimLibrary;
    try {
      lib = SimLibrary.load(opts.libraryPath);
    } catch (e) {
      const hint = e instanceof SimLibraryUnavailable ? e.hint : "check the simulator library path";
      throw new TransportUnavailableError(`simulator unavailable: ${(e as Error).message}`, { hint, cause: e });
    }
    let sim: SimPointer;
    try {
      sim = lib.create(drives, ringBytes, coreDrives);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message, { cause: e });
    }
    return new SimulatorTransport(lib, sim, reason, drives);
  }

  private live(): void {
    if (this.destroyed) throw new ClientClosedError("simulator transport is closed", { hint: "connect a new FilterClient" });
  }

  private open(drive: number, pid: number, image: string, access: number, path: string): SimDeviceHandle {
    this.live();
    const { status, handle } = this.lib.open(this.sim, drive, pid, image, access);
    if (!ntSuccess(status) || handle === 0n) throw errorFromNtStatus(`open ${path} as pid ${pid} (${image})`, status);
    const h = new SimDeviceHandle(this.lib, this.sim, handle, path, (x) => this.handles.delete(x));
    this.handles.add(h);
    return h;
  }

  async openControl(): Promise<DeviceHandle> {
    return this.open(CONTROL_DEVICE, process.pid, DEFAULT_IMAGE, (GENERIC_READ | GENERIC_WRITE) >>> 0, "sim:\\\\.\\CdFilter");
  }

  async openDrive(drive: { id: number; name: string } | string, opts: OpenDriveOptions): Promise<DeviceHandle> {
    let id: number;
    let name: string;
    if (typeof drive === "string") {
      const m = /^(?:\\\\\.\\)?CdRom(\d+)$/i.exec(drive.trim());
      if (!m) throw new InvalidArgumentError(`simulator drives are CdRom0..CdRom${this.driveCount - 1}, not "${drive}"`);
      id = Number(m[1]) + 1;
      name = `CdRom${m[1]}`;
    } else {
      id = drive.id;
      name = drive.name;
    }
    const pid = opts.pid ?? process.pid;
    if (!Number.isInteger(pid) || pid < 0 || pid > 0xffffffff) throw new InvalidArgumentError(`pid out of range: ${pid}`);
    return this.open(id, pid, opts.image ?? DEFAULT_IMAGE, accessMask(opts.access), `sim:\\\\.\\${name}`);
  }

  processExit(pid: number): number {
    this.live();
    const r = this.lib.processExit(this.sim, pid);
    if (!ntSuccess(r.status)) throw errorFromNtStatus(`process exit of pid ${pid}`, r.status);
    // Handles of that process are gone in the simulator; forget ours too.
    return r.closed;
  }

  failNext(driveId: number, status: number): void {
    this.live();
    const s = this.lib.failNext(this.sim, driveId, status);
    if (!ntSuccess(s)) throw errorFromNtStatus(`fail next request of drive ${driveId}`, s);
  }

  setMedia(driveId: number, present: boolean): void {
    this.live();
    const s = this.lib.setMedia(this.sim, driveId, present);
    if (!ntSuccess(s)) throw errorFromNtStatus(`set media of drive ${driveId}`, s);
  }

  setConnected(driveId: number, connected: boolean): void {
    this.live();
    const s = this.lib.setConnected(this.sim, driveId, connected);
    if (!ntSuccess(s)) throw errorFromNtStatus(`set connected of drive ${driveId}`, s);
  }

  driveState(driveId: number): DriveState {
    this.live();
    const r = this.lib.driveState(this.sim, driveId);
    if (!ntSuccess(r.status) || !r.state) throw errorFromNtStatus(`state of drive ${driveId}`, r.status);
    return r.state;
  }

  now(): bigint {
    this.live();
    return this.lib.now(this.sim);
  }

  ioctlNoFile(driveId: number, code: number, input: Uint8Array, outCap: number, opts: NoFileIoctlOptions = {}): IoResult {
    this.live();
    const pid = opts.pid ?? process.pid;
    if (input.length > 4096 || !Number.isInteger(outCap) || outCap < 0 || outCap > 4096) {
      throw new InvalidArgumentError("ioctlNoFile: buffers of at most 4096 bytes");
    }
    const r = this.lib.ioctlNoFileMode(this.sim, driveId, pid, opts.kernelMode ?? true, code, input, outCap);
    return result(r.status, r.returned, r.output);
  }

  duplicate(handle: DeviceHandle, pid: number): DeviceHandle {
    this.live();
    if (!(handle instanceof SimDeviceHandle) || !this.handles.has(handle)) {
      throw new InvalidArgumentError("duplicate: not an open handle of this simulator");
    }
    return handle.duplicate(pid, (h) => this.handles.add(h));
  }

  openVolume(driveId: number, opts: { pid?: number; image?: string; access?: "read" | "read-write" } = {}): DeviceHandle {
    this.live();
    const pid = opts.pid ?? process.pid;
    const access = opts.access === "read" ? GENERIC_READ : (GENERIC_READ | GENERIC_WRITE) >>> 0;
    const path = `sim:volume${driveId}`;
    const { status, handle } = this.lib.openVolume(this.sim, driveId, pid, opts.image ?? DEFAULT_IMAGE, access);
    if (!ntSuccess(status) || handle === 0n) throw errorFromNtStatus(`open the volume of drive ${driveId}`, status);
    const h = new SimDeviceHandle(this.lib, this.sim, handle, path, (x) => this.handles.delete(x));
    this.handles.add(h);
    return h;
  }

  dismount(driveId: number): void {
    this.live();
    const s = this.lib.dismount(this.sim, driveId);
    if (!ntSuccess(s)) throw errorFromNtStatus(`dismount drive ${driveId}`, s);
  }

  surpriseRemove(driveId: number): void {
    this.live();
    const s = this.lib.surpriseRemove(this.sim, driveId);
    if (!ntSuccess(s)) throw errorFromNtStatus(`surprise removal of drive ${driveId}`, s);
  }

  setSessionOpen(driveId: number, open: boolean): void {
    this.live();
    const s = this.lib.setSessionOpen(this.sim, driveId, open);
    if (!ntSuccess(s)) throw errorFromNtStatus(`set session of drive ${driveId}`, s);
  }

  failCommand(driveId: number, kind: number, nth: number, status: number): void {
    this.live();
    if (!Number.isInteger(nth) || nth < 0 || nth > 0xffffffff) throw new InvalidArgumentError(`failCommand: nth out of range: ${nth}`);
    const s = this.lib.failCommand(this.sim, driveId, kind, nth, status);
    if (!ntSuccess(s)) throw errorFromNtStatus(`fail command of drive ${driveId}`, s);
  }

  commands(driveId: number, afterSeq = 0): DriveCommand[] {
    this.live();
    const r = this.lib.commands(this.sim, driveId, afterSeq);
    if (!ntSuccess(r.status)) throw errorFromNtStatus(`commands of drive ${driveId}`, r.status);
    return r.commands;
  }

  /** Close every handle (cancelling blocked requests), then cdfsim_destroy. */
  async close(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all([...this.handles].map((h) => h.close()));
    this.destroyed = true;
    this.lib.destroy(this.sim);
  }
}
