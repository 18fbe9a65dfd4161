// Typed koffi binding of the simulated CD-ROM stack (driver/sim/cdfsim.h -> libcdfsim.so, found by
// locate.ts). The only module that knows the C signatures: everything else (the client's
// simulator transport, tests, benchmarks) goes through `SimLibrary`.
//
// Every method returns the NTSTATUS the C function returned (uint32, e.g. 0xC0000022 =
// STATUS_ACCESS_DENIED) instead of throwing; it throws only for misuse (a destroyed simulator,
// a buffer too large for the 32-bit length fields) and when the library is missing.
import { existsSync } from "node:fs";
import koffi from "koffi";
import { locateSimLibrary } from "./locate.ts";

/** Drive index 0 opens the control device (\\.\CdFilter); drives are 1..N (cdfsim.h). */
export const CONTROL_DEVICE = 0;

/** Access masks a simulated open can request (winnt.h values, cdfsim.h CDFSIM_*). */
export const Access = {
  FILE_READ_DATA: 0x0001,
  FILE_WRITE_DATA: 0x0002,
  FILE_READ_ATTRIBUTES: 0x0080,
  GENERIC_READ: 0x80000000,
  GENERIC_WRITE: 0x40000000,
} as const;

/** The lower (simulated cdrom.sys) device's own view of a drive (cdfsim_drive_state). */
export interface DriveState {
  mediaPresent: boolean;
  trayOpen: boolean;
  /** PREVENT ALLOW MEDIUM REMOVAL state of the drive. */
  hwPrevent: boolean;
  connected: boolean;
  /** cdrom's protected (IOCTL_STORAGE_EJECTION_CONTROL) lock count. */
  secureTotal: number;
  /** cdrom's simple (IOCTL_STORAGE_MEDIA_REMOVAL) lock count. */
  simpleTotal: number;
  /** IOCTL_STORAGE_MCN_CONTROL disable count. */
  mcnTotal: number;
  exclusiveLocked: boolean;
  /** IRP_MJ_READ completed successfully. */
  reads: bigint;
  /** Successful ejects (IOCTL or pass-through). */
  ejects: bigint;
  /** cdrom FILE_OBJECT_CONTEXTs in use (file objects whose create cdrom saw). */
  openFiles: number;
  /** The device was surprise-removed (`surpriseRemove`). */
  surpriseRemoved: boolean;
  /** A file system is mounted (`openVolume`; IsVolumeMounted). */
  volumeMounted: boolean;
  /** Write-once media with an open session. */
  sessionOpen: boolean;
  /** MediaChangeCount (IOCTL_STORAGE_CHECK_VERIFY output). */
  mediaChangeCount: number;
  /** Commands that reached the drive (the last `DriveCommand.seq`). */
  commands: number;
  /** MCN disables held by kernel-mode requests without a file object (KernelModeMcnContext). */
  kernelMcn: number;
}

/** Kinds of drive command (simcd.h SIMCD_CMD_*), for `commands` and `failCommand`. */
export const CommandKind = {
  ANY: 0,
  PREVENT: 1,
  ALLOW: 2,
  EJECT: 3,
  LOAD: 4,
  TEST_UNIT_READY: 5,
  READ: 6,
  CLOSE_SESSION: 7,
  OTHER: 8,
} as const;

/** Where a drive command came from (simcd.h SIMCD_ORIGIN_*). */
export const CommandOrigin = { IOCTL: 1, PASS_THROUGH: 2, CLOSE: 3, READ: 4 } as const;

/** One command that reached a drive (cdfsim_command). */
export interface DriveCommand {
  seq: number;
  kind: number;
  opcode: number;
  /** CDB byte 4 (START STOP UNIT LoEj/Start, PREVENT ALLOW Prevent/Persistent). */
  byte4: number;
  origin: number;
  /** NTSTATUS the class driver got for it. */
  status: number;
  /** Sense key, ASC, ASCQ of a CHECK CONDITION (zeros otherwise). */
  sense: [number, number, number];
}

/** Opaque `cdfsim *`: never dereference, pass back to SimLibrary only. */
export type SimPointer = { readonly __brand: "cdfsim*" };

/** NTSTATUS plus IoStatus.Information of a DeviceIoControl. */
export interface IoctlResult {
  status: number;
  /** Bytes written to the output buffer (IoStatus.Information). */
  returned: number;
  /** The first `returned` bytes of the output buffer (a copy). */
  output: Uint8Array;
}

const DRIVE_STATE = koffi.struct("cdfsim_drive_state", {
  media_present: "uint32_t",
  tray_open: "uint32_t",
  hw_prevent: "uint32_t",
  connected: "uint32_t",
  secure_total: "uint32_t",
  simple_total: "uint32_t",
  mcn_total: "uint32_t",
  exclusive_locked: "uint32_t",
  reads: "uint64_t",
  ejects: "uint64_t",
  open_files: "uint32_t",
  surprise_removed: "uint32_t",
  volume_mounted: "uint32_t",
  session_open: "uint32_t",
  media_change_count: "uint32_t",
  commands: "uint32_t",
  kernel_mcn: "uint32_t",
  reserved: "uint32_t",
});
koffi.struct("cdfsim_command", {
  seq: "uint32_t",
  kind: "uint8_t",
  opcode: "uint8_t",
  byte4: "uint8_t",
  origin: "uint8_t",
  status: "uint32_t",
  sense_key: "uint8_t",
  asc: "uint8_t",
  ascq: "uint8_t",
  reserved: "uint8_t",
});
// Registers the named pointer type the string signatures below use.
koffi.pointer("cdfsim_ptr", koffi.opaque("cdfsim"));

interface RawDriveState {
  media_present: number;
  tray_open: number;
  hw_prevent: number;
  connected: number;
  secure_total: number;
  simple_total: number;
  mcn_total: number;
  exclusive_locked: number;
  reads: number | bigint;
  ejects: number | bigint;
  open_files: number;
  surprise_removed: number;
  volume_mounted: number;
  session_open: number;
  media_change_count: number;
  commands: number;
  kernel_mcn: number;
}

interface RawCommand {
  seq: number;
  kind: number;
  opcode: number;
  byte4: number;
  origin: number;
  status: number;
  sense_key: number;
  asc: number;
  ascq: number;
}

type Fn = ((...args: unknown[]) => unknown) & {
  async: (...args: unknown[]) => void;
};

const EMPTY = new Uint8Array(0);
const MAX_U32 = 0xffffffff;

function checkLength(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32) {
    throw new RangeError(`${what}: ${n} is not a 32-bit byte count`);
  }
}

/**
 * The simulator library. `SimLibrary.load()` opens the located library (locate.ts) once per process
 * (koffi keeps it loaded); each `create()` is an independent stack (core + drives).
 */
export class SimLibrary {
  private static instance: SimLibrary | undefined;
  private readonly fns: Record<string, Fn>;
  private readonly u32a = new Uint32Array(1);
  private readonly destroyed = new Set<unknown>();

  private constructor(readonly path: string) {
    const lib = koffi.load(path);
    const sig: Record<string, string> = {
      create: "cdfsim_ptr cdfsim_create(uint32_t drive_count, uint32_t ring_bytes)",
      createEx: "cdfsim_ptr cdfsim_create_ex(uint32_t drive_count, uint32_t core_drives, uint32_t ring_bytes)",
      destroy: "void cdfsim_destroy(cdfsim_ptr sim)",
      open:
        "uint32_t cdfsim_open(cdfsim_ptr sim, uint32_t drive, uint32_t pid, const char *image, " +
        "uint32_t desired_access, uint64_t *handle)",
      ioctl:
        "uint32_t cdfsim_ioctl(cdfsim_ptr sim, uint64_t handle, uint32_t code, const uint8_t *in, " +
        "uint32_t in_len, uint8_t *out, uint32_t out_cap, uint32_t *returned)",
      ioctlNoFile:
        "uint32_t cdfsim_ioctl_no_file(cdfsim_ptr sim, uint32_t drive, uint32_t pid, uint32_t code, " +
        "const uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap, uint32_t *returned)",
      read: "uint32_t cdfsim_read(cdfsim_ptr sim, uint64_t handle, uint64_t offset, uint32_t length, " + "uint32_t *returned)",
      burst: "uint32_t cdfsim_burst(cdfsim_ptr sim, uint64_t handle, uint32_t count, uint32_t length, " + "uint32_t *completed)",
      cancel: "uint32_t cdfsim_cancel(cdfsim_ptr sim, uint64_t handle)",
      close: "uint32_t cdfsim_close(cdfsim_ptr sim, uint64_t handle)",
      cleanupOnly: "uint32_t cdfsim_cleanup_only(cdfsim_ptr sim, uint64_t handle)",
      closeOnly: "uint32_t cdfsim_close_only(cdfsim_ptr sim, uint64_t handle)",
      processExit: "uint32_t cdfsim_process_exit(cdfsim_ptr sim, uint32_t pid, uint32_t *closed)",
      failNext: "uint32_t cdfsim_fail_next(cdfsim_ptr sim, uint32_t drive, uint32_t status)",
      setMedia: "uint32_t cdfsim_set_media(cdfsim_ptr sim, uint32_t drive, uint32_t present)",
      setConnected: "uint32_t cdfsim_set_connected(cdfsim_ptr sim, uint32_t drive, uint32_t connected)",
      driveState: "uint32_t cdfsim_drive_state_get(cdfsim_ptr sim, uint32_t drive, _Out_ cdfsim_drive_state *out)",
      now: "uint64_t cdfsim_now(cdfsim_ptr sim)",
      ioctlNoFileMode:
        "uint32_t cdfsim_ioctl_no_file_mode(cdfsim_ptr sim, uint32_t drive, uint32_t pid, uint32_t kernel_mode, " +
        "uint32_t code, const uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap, uint32_t *returned)",
      duplicate: "uint32_t cdfsim_duplicate(cdfsim_ptr sim, uint64_t handle, uint32_t pid, uint64_t *duplicate)",
      openVolume:
        "uint32_t cdfsim_open_volume(cdfsim_ptr sim, uint32_t drive, uint32_t pid, const char *image, " +
        "uint32_t desired_access, uint64_t *handle)",
      dismount: "uint32_t cdfsim_dismount(cdfsim_ptr sim, uint32_t drive)",
      surpriseRemove: "uint32_t cdfsim_surprise_remove(cdfsim_ptr sim, uint32_t drive)",
      setSessionOpen: "uint32_t cdfsim_set_session_open(cdfsim_ptr sim, uint32_t drive, uint32_t open)",
      failCommand: "uint32_t cdfsim_fail_command(cdfsim_ptr sim, uint32_t drive, uint32_t kind, uint32_t nth, uint32_t status)",
      commands:
        "uint32_t cdfsim_commands(cdfsim_ptr sim, uint32_t drive, uint32_t after_seq, _Out_ cdfsim_command *out, " +
        "uint32_t cap, uint32_t *count)",
    };
    this.fns = {};
    for (const [name, decl] of Object.entries(sig)) this.fns[name] = lib.func(decl) as unknown as Fn;
  }

  /**
   * Open the simulator library: `path`, or the one locate.ts finds (building it from source when
   * no prebuilt library fits). Throws SimLibraryUnavailable (locate.ts) when there is none, or an
   * Error naming `path` when an explicit path does not exist.
   */
  static load(path?: string): SimLibrary {
    if (path === undefined) {
      if (SimLibrary.instance) return SimLibrary.instance;
      SimLibrary.instance = new SimLibrary(locateSimLibrary());
      return SimLibrary.instance;
    }
    if (!existsSync(path)) throw new Error(`simulator library missing: ${path}`);
    return new SimLibrary(path);
  }

  private call(name: string, ...args: unknown[]): unknown {
    const fn = this.fns[name];
    if (!fn) throw new Error(`cdfsim: no function ${name}`);
    return fn(...args);
  }

  private live(sim: SimPointer): SimPointer {
    if (this.destroyed.has(sim)) throw new Error("cdfsim: simulator already destroyed");
    return sim;
  }

  /**
   * cdfsim_create: a stack of `driveCount` drives (1..16; ids 1..N, names CdRom0..), media
   * present, policy observe, a trace ring of `ringBytes` bytes (0 = 1 MiB). `coreDrives`
   * (cdfsim_create_ex, 1..driveCount, default driveCount): how many of them the filter core
   * holds; the others are untracked (DRIVE_NOT_TRACKED). Throws when the C side returns NULL
   * (bad count, or the core refused the configuration).
   */
  create(driveCount: number, ringBytes = 0, coreDrives = driveCount): SimPointer {
    const p =
      coreDrives === driveCount ? this.call("create", driveCount, ringBytes) : this.call("createEx", driveCount, coreDrives, ringBytes);
    if (p === null || p === undefined || p === 0 || p === 0n) {
      throw new Error(
        `cdfsim_create_ex(${driveCount}, ${coreDrives}, ${ringBytes}) failed (drive count 1..16, core drives 1..drive count, ring size accepted by the core)`,
      );
    }
    // Pointers are plain values (koffi gives BigInts): a new stack may reuse a freed address.
    this.destroyed.delete(p);
    return p as SimPointer;
  }

  /**
   * cdfsim_destroy. Every later call with `sim` throws. Cancel or close handles with pending
   * `ioctlAsync` calls (WaitTrace) and await them first: destroying under a blocked call is a
   * use-after-free in C.
   */
  destroy(sim: SimPointer): void {
    this.call("destroy", this.live(sim));
    this.destroyed.add(sim);
  }

  /**
   * cdfsim_open (CreateFile): drive 1..N or CONTROL_DEVICE, as process `pid` running `image`,
   * with `access` (Access.* bits). handle is 0n on failure
   * (STATUS_OBJECT_NAME_NOT_FOUND for an unknown drive, STATUS_INSUFFICIENT_RESOURCES when 4096
   * handles are open).
   */
  open(sim: SimPointer, drive: number, pid: number, image: string, access: number): { status: number; handle: bigint } {
    const h = new BigUint64Array(1);
    const status = this.call("open", this.live(sim), drive, pid, image, access >>> 0, h) as number;
    return { status, handle: h[0] ?? 0n };
  }

  /**
   * cdfsim_ioctl (DeviceIoControl, METHOD_BUFFERED) with a fresh output buffer of `outCap` bytes.
   * Statuses: the I/O manager's STATUS_ACCESS_DENIED (CTL_CODE access bits not granted),
   * STATUS_INVALID_HANDLE, then whatever the filter or the lower device completed with.
   */
  ioctl(sim: SimPointer, handle: bigint, code: number, input: Uint8Array | null, outCap: number): IoctlResult {
    const out = new Uint8Array(outCap);
    const { status, returned } = this.ioctlInto(sim, handle, code, input, out);
    return { status, returned, output: out.slice(0, returned) };
  }

  /** cdfsim_ioctl into a caller-owned output buffer (no copy; for hot loops such as trace drains). */
  ioctlInto(
    sim: SimPointer,
    handle: bigint,
    code: number,
    input: Uint8Array | null,
    out: Uint8Array,
  ): { status: number; returned: number } {
    const inBuf = input ?? EMPTY;
    checkLength("input", inBuf.length);
    checkLength("output", out.length);
    const status = this.call(
      "ioctl",
      this.live(sim),
      handle,
      code >>> 0,
      inBuf.length ? inBuf : null,
      inBuf.length,
      out.length ? out : null,
      out.length,
      this.u32a,
    ) as number;
    return { status, returned: this.u32a[0] ?? 0 };
  }

  /**
   * cdfsim_ioctl_no_file: a device control with no file object, as a kernel component sends it
   * (IoBuildDeviceIoControlRequest), on behalf of `pid`. Buffers of at most 4096 bytes.
   */
  ioctlNoFile(sim: SimPointer, drive: number, pid: number, code: number, input: Uint8Array | null, outCap: number): IoctlResult {
    const inBuf = input ?? EMPTY;
    const out = new Uint8Array(outCap);
    const status = this.call(
      "ioctlNoFile",
      this.live(sim),
      drive,
      pid,
      code >>> 0,
      inBuf.length ? inBuf : null,
      inBuf.length,
      out.length ? out : null,
      out.length,
      this.u32a,
    ) as number;
    const returned = this.u32a[0] ?? 0;
    return { status, returned, output: out.slice(0, returned) };
  }

  /**
   * cdfsim_ioctl on koffi's worker thread: for requests that block (WaitTrace parks until a
   * record arrives, cdfsim_cancel, or the handle's cleanup -> STATUS_CANCELLED).
   */
  ioctlAsync(sim: SimPointer, handle: bigint, code: number, input: Uint8Array | null, outCap: number): Promise<IoctlResult> {
    const inBuf = input ? Uint8Array.from(input) : EMPTY;
    checkLength("input", inBuf.length);
    checkLength("output", outCap);
    const out = new Uint8Array(outCap);
    const returned = new Uint32Array(1);
    const fn = this.fns["ioctl"];
    if (!fn) throw new Error("cdfsim: no function ioctl");
    const live = this.live(sim);
    return new Promise((resolvePromise, reject) => {
      fn.async(
        live,
        handle,
        code >>> 0,
        inBuf.length ? inBuf : null,
        inBuf.length,
        outCap ? out : null,
        outCap,
        returned,
        (err: unknown, status: unknown) => {
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          else {
            const n = returned[0] ?? 0;
            resolvePromise({ status: status as number, returned: n, output: out.slice(0, n) });
          }
        },
      );
    });
  }

  /** cdfsim_read (ReadFile): `length` bytes at `offset` (bytes, multiples of 2048); data is discarded. */
  read(sim: SimPointer, handle: bigint, offset: bigint, length: number): { status: number; returned: number } {
    const status = this.call("read", this.live(sim), handle, offset, length >>> 0, this.u32a) as number;
    return { status, returned: this.u32a[0] ?? 0 };
  }

  /** cdfsim_burst: `count` reads of `length` bytes through the whole stack in one call. */
  burst(sim: SimPointer, handle: bigint, count: number, length = 2048): { status: number; completed: number } {
    const status = this.call("burst", this.live(sim), handle, count >>> 0, length >>> 0, this.u32a) as number;
    return { status, completed: this.u32a[0] ?? 0 };
  }

  /** cdfsim_cancel (CancelIoEx): blocked calls on the handle complete with STATUS_CANCELLED. */
  cancel(sim: SimPointer, handle: bigint): number {
    return this.call("cancel", this.live(sim), handle) as number;
  }

  /** cdfsim_close (CloseHandle): IRP_MJ_CLEANUP then IRP_MJ_CLOSE. */
  close(sim: SimPointer, handle: bigint): number {
    return this.call("close", this.live(sim), handle) as number;
  }

  /** cdfsim_cleanup_only: IRP_MJ_CLEANUP without the close (the handle stays valid until closeOnly). */
  cleanupOnly(sim: SimPointer, handle: bigint): number {
    return this.call("cleanupOnly", this.live(sim), handle) as number;
  }

  /** cdfsim_close_only: IRP_MJ_CLOSE without a cleanup (crash / Wine process kill). */
  closeOnly(sim: SimPointer, handle: bigint): number {
    return this.call("closeOnly", this.live(sim), handle) as number;
  }

  /** cdfsim_process_exit: every handle of `pid` gets cleanup + close flagged as process exit. */
  processExit(sim: SimPointer, pid: number): { status: number; closed: number } {
    const status = this.call("processExit", this.live(sim), pid >>> 0, this.u32a) as number;
    return { status, closed: this.u32a[0] ?? 0 };
  }

  /** cdfsim_fail_next: the next lower IOCTL/read on `drive` fails with `status` (0 clears). */
  failNext(sim: SimPointer, drive: number, status: number): number {
    return this.call("failNext", this.live(sim), drive, status >>> 0) as number;
  }

  /** cdfsim_set_media: true = disc inserted and tray closed; false = disc taken out. */
  setMedia(sim: SimPointer, drive: number, present: boolean): number {
    return this.call("setMedia", this.live(sim), drive, present ? 1 : 0) as number;
  }

  /** cdfsim_set_connected: false = every lower request fails STATUS_DEVICE_NOT_CONNECTED. */
  setConnected(sim: SimPointer, drive: number, connected: boolean): number {
    return this.call("setConnected", this.live(sim), drive, connected ? 1 : 0) as number;
  }

  /** cdfsim_drive_state_get: the lower device's view; `state` is undefined on failure. */
  driveState(sim: SimPointer, drive: number): { status: number; state: DriveState | undefined } {
    const raw = {} as RawDriveState;
    const status = this.call("driveState", this.live(sim), drive, raw) as number;
    if (status !== 0) return { status, state: undefined };
    return {
      status,
      state: {
        mediaPresent: raw.media_present !== 0,
        trayOpen: raw.tray_open !== 0,
        hwPrevent: raw.hw_prevent !== 0,
        connected: raw.connected !== 0,
        secureTotal: raw.secure_total,
        simpleTotal: raw.simple_total,
        mcnTotal: raw.mcn_total,
        exclusiveLocked: raw.exclusive_locked !== 0,
        reads: BigInt(raw.reads),
        ejects: BigInt(raw.ejects),
        openFiles: raw.open_files,
        surpriseRemoved: raw.surprise_removed !== 0,
        volumeMounted: raw.volume_mounted !== 0,
        sessionOpen: raw.session_open !== 0,
        mediaChangeCount: raw.media_change_count,
        commands: raw.commands,
        kernelMcn: raw.kernel_mcn,
      },
    };
  }

  /**
   * cdfsim_ioctl_no_file_mode: a device control with no file object from a kernel-mode
   * (`kernelMode` true, as `ioctlNoFile`) or user-mode requestor. Buffers up to 4096 bytes.
   */
  ioctlNoFileMode(
    sim: SimPointer,
    drive: number,
    pid: number,
    kernelMode: boolean,
    code: number,
    input: Uint8Array | null,
    outCap: number,
  ): IoctlResult {
    const inp = input ?? EMPTY;
    checkLength("input", inp.length);
    checkLength("outCap", outCap);
    const out = new Uint8Array(outCap);
    const ret = new Uint32Array(1);
    const status = this.call(
      "ioctlNoFileMode",
      this.live(sim),
      drive,
      pid,
      kernelMode ? 1 : 0,
      code >>> 0,
      inp.length > 0 ? inp : null,
      inp.length,
      outCap > 0 ? out : null,
      outCap,
      ret,
    ) as number;
    const n = ret[0] ?? 0;
    return { status, returned: n, output: out.slice(0, n) };
  }

  /** cdfsim_duplicate (DuplicateHandle): a second handle on the same file object, for `pid`.
   * Closing a handle sends cleanup and close only when it is the file object's last one. */
  duplicate(sim: SimPointer, handle: bigint, pid: number): { status: number; handle: bigint } {
    const h = new BigUint64Array(1);
    const status = this.call("duplicate", this.live(sim), handle, pid, h) as number;
    return { status, handle: h[0] ?? 0n };
  }

  /** cdfsim_open_volume: a handle on the UDF volume mounted on `drive` (its create, cleanup and
   * close stay in the file system; its IOCTLs reach the filter with a file object the filter never
   * saw created). STATUS_NO_MEDIA_IN_DEVICE without a ready medium. */
  openVolume(sim: SimPointer, drive: number, pid: number, image: string, access: number): { status: number; handle: bigint } {
    const h = new BigUint64Array(1);
    const status = this.call("openVolume", this.live(sim), drive, pid, image, access >>> 0, h) as number;
    return { status, handle: h[0] ?? 0n };
  }

  /** cdfsim_dismount: the file system of `drive` dismounts (IsVolumeMounted false). */
  dismount(sim: SimPointer, drive: number): number {
    return this.call("dismount", this.live(sim), drive) as number;
  }

  /** cdfsim_surprise_remove: the device is surprise-removed (failures then complete with
   * STATUS_DEVICE_DOES_NOT_EXIST), distinct from `setConnected(false)`. Not undone. */
  surpriseRemove(sim: SimPointer, drive: number): number {
    return this.call("surpriseRemove", this.live(sim), drive) as number;
  }

  /** cdfsim_set_session_open: write-once media with an open session (true) or ROM media. */
  setSessionOpen(sim: SimPointer, drive: number, open: boolean): number {
    return this.call("setSessionOpen", this.live(sim), drive, open ? 1 : 0) as number;
  }

  /** cdfsim_fail_command: the `nth` (1-based, from now) command of `kind` (CommandKind) reaching
   * `drive` fails with `status`; nth 0 clears. */
  failCommand(sim: SimPointer, drive: number, kind: number, nth: number, status: number): number {
    return this.call("failCommand", this.live(sim), drive, kind, nth, status >>> 0) as number;
  }

  /** cdfsim_commands: the drive's command log after `afterSeq` (the last 64 are kept), oldest first. */
  commands(sim: SimPointer, drive: number, afterSeq = 0): { status: number; commands: DriveCommand[] } {
    const raw: RawCommand[] = Array.from({ length: 64 }, () => ({}) as RawCommand);
    const count = new Uint32Array(1);
    const status = this.call("commands", this.live(sim), drive, afterSeq, raw, 64, count) as number;
    const n = count[0] ?? 0;
    return {
      status,
      commands: raw.slice(0, n).map((c) => ({
        seq: c.seq,
        kind: c.kind,
        opcode: c.opcode,
        byte4: c.byte4,
        origin: c.origin,
        status: c.status >>> 0,
        sense: [c.sense_key, c.asc, c.ascq],
      })),
    };
  }

  /** cdfsim_now: the core's monotonic clock, 100 ns units. */
  now(sim: SimPointer): bigint {
    return BigInt(this.call("now", this.live(sim)) as number | bigint);
  }
}

void DRIVE_STATE;
