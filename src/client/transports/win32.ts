/**
 * The Win32 transport: kernel32 CreateFileW / DeviceIoControl / ReadFile / CancelIoEx /
 * CloseHandle through koffi.
 *
 * Last error. GetLastError is per thread, so it is read by the next call on the thread that
 * made the failing call:
 * - Requests that complete at once (every control query, lock actions) run on the main thread
 *   as two consecutive synchronous koffi calls: `ok = DeviceIoControl(...); err = GetLastError()`.
 *   Nothing runs in between; koffi itself saves the thread's LastErrorValue after each native
 *   call and restores it before the next one (koffi src/koffi/src/interp.cc, WRAP on _WIN32), so
 *   V8 work between the two calls cannot clobber it.
 * - Requests that can pend for an unbounded time (WaitTrace, the inverted call, and every drive
 *   ReadFile: a read waits on the medium, spin-up, retries) must not block the event loop.
 *   koffi's `.async` runs a call on a pool thread, and a second `.async` for GetLastError
 *   could land on another thread, so instead each handle that issues a blocking request gets
 *   a small worker_threads Worker that owns its own koffi instance and does `DeviceIoControl`
 *   (or `ReadFile`) then `GetLastError` synchronously on its own thread, and posts back
 *   { ok, lastError, returned, output }. Cancellation is CancelIoEx(handle, NULL) from the main
 *   thread, which cancels I/O issued by any thread of the process on that handle; the blocked
 *   call then fails with ERROR_OPERATION_ABORTED (995).
 * Handles are opened for synchronous I/O; the I/O manager serializes synchronous requests per
 * file object, so a trace stream uses its own control handle (FilterClient does that).
 *
 * Errors: a failed call becomes IoResult { win32Error, status = the NTSTATUS it usually comes
 * from (ntstatus.ts), statusExact: false }; opening a device throws the typed error (errors.ts).
 */
import { BlockingCall } from "../blocking-call.ts";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ClientClosedError, errorFromWin32, InvalidArgumentError, TransportUnavailableError } from "../errors.ts";
import { WIN32_ERROR, win32ToNtStatus } from "../ntstatus.ts";
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

/** A HANDLE as koffi returns it for an `intptr` result. */
export type Win32Handle = number | bigint;

/**
 * The kernel32 functions the transport uses, with koffi's calling shape: out-parameters
 * (`lpBytesReturned`, `lpNumberOfBytesRead`) are one-element arrays the callee writes to.
 * Tests inject a fake with the same shape.
 */
export interface Kernel32 {
  CreateFileW(path: string, access: number, share: number, security: null, disposition: number, flags: number, template: null): Win32Handle;
  DeviceIoControl(
    handle: Win32Handle,
    code: number,
    inBuf: Uint8Array | null,
    inLen: number,
    outBuf: Uint8Array | null,
    outLen: number,
    returned: number[],
    overlapped: null,
  ): number | boolean;
  /** `overlapped`: a 32-byte OVERLAPPED whose Offset/OffsetHigh give the byte position. */
  ReadFile(handle: Win32Handle, buf: Uint8Array, len: number, read: number[], overlapped: Uint8Array): number | boolean;
  CancelIoEx(handle: Win32Handle, overlapped: null): number | boolean;
  CloseHandle(handle: Win32Handle): number | boolean;
  GetLastError(): number;
}

/**
 * Runs calls that may block (DeviceIoControl, ReadFile) on a thread that is not the event
 * loop's, each followed by GetLastError on that same thread.
 */
export interface BlockingRunner {
  deviceIoControl(handle: Win32Handle, code: number, input: Uint8Array, outCap: number): Promise<RawOutcome>;
  /**
   * ReadFile of `length` bytes at byte `offset` (an OVERLAPPED carrying the position, see
   * overlappedAt); the data is discarded: `returned` is the byte count read, `output` is empty.
   */
  readFile(handle: Win32Handle, offset: bigint, length: number): Promise<RawOutcome>;
  close(): Promise<void>;
}

/** What one DeviceIoControl gave, with GetLastError read on the calling thread. */
export interface RawOutcome {
  ok: boolean;
  lastError: number;
  returned: number;
  output: Uint8Array;
}

export const CONTROL_DEVICE_PATH = "\\\\.\\CdFilter";
const FILE_SHARE_READ = 0x1;
const FILE_SHARE_WRITE = 0x2;
const OPEN_EXISTING = 3;
/** sizeof(OVERLAPPED) on x64: Internal, InternalHigh (ULONG_PTR), Offset/OffsetHigh (DWORD), hEvent. */
const OVERLAPPED_BYTES = 32;

/**
 * An OVERLAPPED carrying only a byte position. On a handle opened without FILE_FLAG_OVERLAPPED,
 * ReadFile reads synchronously at Offset/OffsetHigh (ReadFile docs, "synchronous and file
 * position"); this avoids SetFilePointerEx, which Wine 8 fails on device handles (error 66).
 */
export function overlappedAt(offset: bigint): Uint8Array {
  const o = new Uint8Array(OVERLAPPED_BYTES);
  const v = new DataView(o.buffer);
  v.setUint32(16, Number(offset & 0xffffffffn), true);
  v.setUint32(20, Number((offset >> 32n) & 0xffffffffn), true);
  return o;
}

function isInvalid(h: Win32Handle): boolean {
  return h === -1 || h === -1n || h === 0 || h === 0n || h === 0xffffffffffffffffn;
}

const KERNEL32_SIGNATURES = {
  CreateFileW: ["intptr", ["str16", "uint32", "uint32", "void *", "uint32", "uint32", "void *"]],
  DeviceIoControl: ["int", ["intptr", "uint32", "void *", "uint32", "void *", "uint32", "_Out_ uint32 *", "void *"]],
  ReadFile: ["int", ["intptr", "void *", "uint32", "_Out_ uint32 *", "void *"]],
  CancelIoEx: ["int", ["intptr", "void *"]],
  CloseHandle: ["int", ["intptr"]],
  GetLastError: ["uint32", []],
} as const;

/** Load kernel32.dll through koffi (Windows only). Declared `__stdcall`: the x64 ABI ignores it. */
export async function loadKernel32(): Promise<Kernel32> {
  const { default: koffi } = await import("koffi");
  const lib = koffi.load("kernel32.dll");
  const out: Record<string, unknown> = {};
  for (const [name, [ret, args]] of Object.entries(KERNEL32_SIGNATURES)) {
    out[name] = lib.func("__stdcall", name, ret, [...args]);
  }
  return out as unknown as Kernel32;
}

/**
 * The worker's source (CommonJS, eval'd: no TypeScript loader needed in the worker). It loads
 * `workerData.library` with koffi and serves messages one at a time, each call followed by
 * GetLastError on the same thread: { op: "ioctl", id, handle, code, input, outCap } ->
 * DeviceIoControl; { op: "read", id, handle, length, overlapped } -> ReadFile (declared on first
 * use; the data buffer stays in the worker).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const koffi = require(workerData.koffiPath);
const lib = koffi.load(workerData.library);
const conv = workerData.convention;
const DeviceIoControl = lib.func(conv, workerData.names.DeviceIoControl, "int",
  ["intptr", "uint32", "void *", "uint32", "void *", "uint32", "_Out_ uint32 *", "void *"]);
const GetLastError = lib.func(conv, workerData.names.GetLastError, "uint32", []);
let ReadFile;
parentPort.on("message", (m) => {
  let out = null;
  const returned = [0];
  let ok = 0, lastError = 0, cap = 0;
  try {
    if (m.op === "read") {
      ReadFile ??= lib.func(conv, workerData.names.ReadFile, "int", ["intptr", "void *", "uint32", "_Out_ uint32 *", "void *"]);
      const buf = new Uint8Array(m.length);
      ok = ReadFile(BigInt(m.handle), buf, m.length, returned, m.overlapped);
      cap = m.length;
    } else {
      out = m.outCap > 0 ? new Uint8Array(m.outCap) : null;
      ok = DeviceIoControl(BigInt(m.handle), m.code >>> 0, m.input.length ? m.input : null, m.input.length,
                           out, m.outCap, returned, null);
      cap = m.outCap;
    }
    if (!ok) lastError = GetLastError();
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
    return;
  }
  const n = ok ? Math.min(returned[0] >>> 0, cap) : 0;
  parentPort.postMessage({ id: m.id, ok: !!ok, lastError: lastError >>> 0, returned: n,
                           output: out ? out.slice(0, n) : new Uint8Array(0) });
});
`;

export interface WorkerRunnerOptions {
  /** Library the worker loads (default "kernel32.dll"). */
  library?: string;
  /** Calling convention (default "__stdcall"). */
  convention?: string;
  /** Exported names (tests point these at a stand-in library). */
  names?: { DeviceIoControl: string; GetLastError: string; ReadFile?: string };
}

/** A worker thread owning its own koffi instance; serves one blocking DeviceIoControl or ReadFile at a time. */
export class WorkerRunner implements BlockingRunner {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: RawOutcome) => void; reject: (e: Error) => void }>();
  private closed = false;

  constructor(opts: WorkerRunnerOptions = {}) {
    const koffiPath = createRequire(import.meta.url).resolve("koffi");
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        koffiPath,
        library: opts.library ?? "kernel32.dll",
        convention: opts.convention ?? "__stdcall",
        names: { DeviceIoControl: "DeviceIoControl", GetLastError: "GetLastError", ReadFile: "ReadFile", ...opts.names },
      },
    });
    this.worker.unref();
    this.worker.on(
      "message",
      (m: { id: number; error?: string; ok?: boolean; lastError?: number; returned?: number; output?: Uint8Array }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error !== undefined) p.reject(new Error(`win32 worker: ${m.error}`));
        else
          p.resolve({ ok: m.ok === true, lastError: m.lastError ?? 0, returned: m.returned ?? 0, output: m.output ?? new Uint8Array(0) });
        if (this.pending.size === 0) this.worker.unref();
      },
    );
    this.worker.on("error", (e) => this.failAll(e));
    this.worker.on("exit", (code) => this.failAll(new Error(`win32 worker exited (${code})`)));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  deviceIoControl(handle: Win32Handle, code: number, input: Uint8Array, outCap: number): Promise<RawOutcome> {
    return this.send({ op: "ioctl", handle: BigInt(handle), code, input: Uint8Array.from(input), outCap });
  }

  readFile(handle: Win32Handle, offset: bigint, length: number): Promise<RawOutcome> {
    return this.send({ op: "read", handle: BigInt(handle), length, overlapped: overlappedAt(offset) });
  }

  private send(msg: Record<string, unknown>): Promise<RawOutcome> {
    if (this.closed) return Promise.reject(new Error("win32 worker closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref(); // a pending request keeps the process alive, an idle worker does not
      this.worker.postMessage({ id, ...msg });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
  }
}

/** Runs "blocking" calls inline: only for fakes that never block (tests). */
export class InlineRunner implements BlockingRunner {
  constructor(private readonly k: Kernel32) {}
  async deviceIoControl(handle: Win32Handle, code: number, input: Uint8Array, outCap: number): Promise<RawOutcome> {
    return callDeviceIoControl(this.k, handle, code, input, outCap);
  }
  async readFile(handle: Win32Handle, offset: bigint, length: number): Promise<RawOutcome> {
    return callReadFile(this.k, handle, offset, length);
  }
  async close(): Promise<void> {}
}

/** ReadFile at `offset` (through an OVERLAPPED) + GetLastError as two consecutive calls on this thread. */
export function callReadFile(k: Kernel32, handle: Win32Handle, offset: bigint, length: number): RawOutcome {
  const buf = new Uint8Array(length);
  const read = [0];
  const ok = !!k.ReadFile(handle, buf, length, read, overlappedAt(offset));
  const lastError = ok ? 0 : k.GetLastError() >>> 0;
  return { ok, lastError, returned: ok ? Math.min((read[0] ?? 0) >>> 0, length) : 0, output: new Uint8Array(0) };
}

/** DeviceIoControl + GetLastError as two consecutive calls on this thread. */
export function callDeviceIoControl(k: Kernel32, handle: Win32Handle, code: number, input: Uint8Array, outCap: number): RawOutcome {
  const out = outCap > 0 ? new Uint8Array(outCap) : null;
  const returned = [0];
  const ok = !!k.DeviceIoControl(handle, code >>> 0, input.length ? input : null, input.length, out, outCap, returned, null);
  const lastError = ok ? 0 : k.GetLastError() >>> 0;
  const n = ok ? Math.min((returned[0] ?? 0) >>> 0, outCap) : 0;
  return { ok, lastError, returned: n, output: out ? out.slice(0, n) : new Uint8Array(0) };
}

function toResult(o: RawOutcome): IoResult {
  if (o.ok) return { status: 0, win32Error: 0, statusExact: false, returned: o.returned, output: o.output };
  // DeviceIoControl failed but GetLastError says success: should not happen; report it as a
  // failure that names itself rather than as success.
  const err = o.lastError === 0 ? WIN32_ERROR.ERROR_GEN_FAILURE : o.lastError;
  return { status: win32ToNtStatus(err), win32Error: err, statusExact: false, returned: 0, output: new Uint8Array(0) };
}

class Win32DeviceHandle implements DeviceHandle {
  private closed = false;
  private runner: BlockingRunner | undefined;
  private readonly blocking = new BlockingCall(() => this.k.CancelIoEx(this.handle, null), 20);

  constructor(
    private readonly k: Kernel32,
    private readonly handle: Win32Handle,
    readonly path: string,
    private readonly makeRunner: () => BlockingRunner,
  ) {}

  private ensureOpen(): void {
    if (this.closed) throw new ClientClosedError(`${this.path}: handle is closed`, { hint: "open the drive or control device again" });
  }

  /** Runs a call on this handle's runner (its worker), tracked so cancel() and close() see it. */
  private async onRunner(call: (r: BlockingRunner) => Promise<RawOutcome>): Promise<IoResult> {
    this.runner ??= this.makeRunner();
    return toResult(await this.blocking.run(call(this.runner)));
  }

  async ioctl(code: number, input: Uint8Array, outCap: number, opts?: IoctlOptions): Promise<IoResult> {
    this.ensureOpen();
    if (!opts?.blocking) return toResult(callDeviceIoControl(this.k, this.handle, code, input, outCap));
    return this.onRunner((r) => r.deviceIoControl(this.handle, code, input, outCap));
  }

  /** ReadFile off the event loop: a drive read waits on the medium (spin-up, retries) for seconds. */
  async read(offset: bigint, length: number): Promise<IoResult> {
    this.ensureOpen();
    if (offset < 0n || offset > 0x7fffffffffffffffn) {
      throw new RangeError(`read offset ${offset} is outside 0..2^63-1 bytes`);
    }
    return this.onRunner((r) => r.readFile(this.handle, offset, length));
  }

  cancel(): void {
    if (!this.closed) this.blocking.cancel();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.blocking.busy) await this.blocking.drain();
    this.closed = true;
    this.blocking.stopRetries();
    this.k.CloseHandle(this.handle);
    await this.runner?.close();
  }
}

export interface Win32TransportOptions {
  /** Inject kernel32 (tests); default loads kernel32.dll through koffi. */
  kernel32?: Kernel32;
  /** How blocking calls run; default a WorkerRunner per handle (InlineRunner with an injected fake). */
  runner?: (k: Kernel32) => BlockingRunner;
  /** Shown as Transport.reason. */
  reason?: string;
  /** Control device path (default \\.\CdFilter). */
  controlPath?: string;
}

/** Win32 device path of a drive: "\\.\CdRom0", "\\.\D:". */
export function drivePath(drive: { id: number; name: string } | string): string {
  const raw = typeof drive === "string" ? drive.trim() : drive.name;
  if (raw.startsWith("\\\\.\\") || raw.startsWith("\\\\?\\")) return raw;
  if (/^[A-Za-z]:?\\?$/.test(raw)) return `\\\\.\\${raw[0]!.toUpperCase()}:`;
  if (/^[A-Za-z][A-Za-z0-9_]*$/.test(raw)) return `\\\\.\\${raw}`;
  throw new InvalidArgumentError(`not a drive: "${raw}" (give CdRom0, D:, \\\\.\\CdRom0 or a drive id)`);
}

export class Win32Transport implements Transport {
  readonly kind = "win32" as const;
  private readonly handles = new Set<Win32DeviceHandle>();

  private constructor(
    private readonly k: Kernel32,
    private readonly runnerFactory: (k: Kernel32) => BlockingRunner,
    readonly reason: string,
    readonly controlPath: string,
  ) {}

  /** Throws TransportUnavailableError off Windows unless kernel32 is injected. */
  static async create(opts: Win32TransportOptions = {}): Promise<Win32Transport> {
    let k = opts.kernel32;
    if (!k) {
      if (process.platform !== "win32") {
        throw new TransportUnavailableError(`the win32 transport needs Windows (this is ${process.platform})`, {
          hint: 'use transport "simulator" or "auto"',
        });
      }
      k = await loadKernel32();
    }
    const factory = opts.runner ?? (opts.kernel32 ? (kk: Kernel32) => new InlineRunner(kk) : () => new WorkerRunner());
    return new Win32Transport(k, factory, opts.reason ?? "win32 requested", opts.controlPath ?? CONTROL_DEVICE_PATH);
  }

  /** CreateFileW(path, access, FILE_SHARE_READ|FILE_SHARE_WRITE, OPEN_EXISTING); throws a typed error. */
  openPath(path: string, access: number): DeviceHandle {
    const h = this.k.CreateFileW(path, access >>> 0, FILE_SHARE_READ | FILE_SHARE_WRITE, null, OPEN_EXISTING, 0, null);
    if (isInvalid(h)) {
      const err = this.k.GetLastError() >>> 0;
      throw errorFromWin32(`CreateFileW ${path}`, err);
    }
    const dh = new Win32DeviceHandle(this.k, h, path, () => this.runnerFactory(this.k));
    this.handles.add(dh);
    const close = dh.close.bind(dh);
    dh.close = async () => {
      this.handles.delete(dh);
      await close();
    };
    return dh;
  }

  /**
   * The control device with GENERIC_READ|GENERIC_WRITE; if that is denied (the control device's
   * SDDL may grant write only to administrators), GENERIC_READ alone: queries and trace reads
   * work, SetPolicy/SetTraceConfig/ClearTrace then fail with AccessDeniedError.
   */
  async openControl(): Promise<DeviceHandle> {
    try {
      return this.openPath(this.controlPath, (GENERIC_READ | GENERIC_WRITE) >>> 0);
    } catch (e) {
      if ((e as { win32Error?: number }).win32Error !== WIN32_ERROR.ERROR_ACCESS_DENIED) throw e;
      return this.openPath(this.controlPath, GENERIC_READ);
    }
  }

  async openDrive(drive: { id: number; name: string } | string, opts: OpenDriveOptions): Promise<DeviceHandle> {
    return this.openPath(drivePath(drive), accessMask(opts.access));
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles].map((h) => h.close()));
  }
}
