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
import { CONTROL_DEVICE, type DriveState, type SimPointer, SimLibrary } from "../../sim/binding.ts";
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
}

/** Physical-world and process control of the simulated stack (FilterClient.simulator). */
export interface SimulatorControl {
  /** cdfsim_process_exit: every handle of `pid` gets cleanup + close flagged as process exit. Returns handles closed. */
  processExit(pid: number): number;
  /** The next lower request on `driveId` fails with `status` (NTSTATUS; 0 clears). */
  failNext(driveId: number, status: number): void;
  /** Disc inserted and tray closed (true) or disc taken out (false). */
  setMedia(driveId: number, present: boolean): void;
  /** false: every lower request fails STATUS_DEVICE_NOT_CONNECTED. */
  setConnected(driveId: number, connected: boolean): void;
  /** The simulated cdrom.sys's own view of the drive (its lock counts, tray, media). */
  driveState(driveId: number): DriveState;
  /** The core's monotonic clock, 100 ns units. */
  now(): bigint;
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
      sim = lib.create(drives, ringBytes);
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

  /** Close every handle (cancelling blocked requests), then cdfsim_destroy. */
  async close(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all([...this.handles].map((h) => h.close()));
    this.destroyed = true;
    this.lib.destroy(this.sim);
  }
}
