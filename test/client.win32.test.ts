// The Win32 transport without Windows: a fake kernel32 (same calling shape as the koffi
// functions) plays the cdfilter driver, so buffer sizing, access masks, GetLastError timing and
// the Win32 -> typed error / ActionResult mapping are checked here. The real run is the Wine
// issue's. A second part runs the worker-thread path for blocking calls against a stand-in C
// library whose last error is thread-local, as GetLastError is.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import { afterEach, describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  BadCommandError,
  ClientClosedError,
  ControlIoctls,
  DeviceBusyError,
  FilterClient,
  InfoReply,
  InfoRequest,
  InsufficientBufferError,
  InvalidFunctionError,
  InvalidParameterError,
  JournalNotActiveError,
  LedgerSnapshot,
  NotFoundError,
  OperationAbortedError,
  PROTOCOL_VERSION,
  Policy,
  PolicyReply,
  ProtocolError,
  ProtocolVersionError,
  SetPolicyRequest,
  TraceBatch,
  TraceReadRequest,
  TraceRecord,
  DrivesReply,
  DriveInfo,
  HostKind,
  Win32Transport,
  makeMediaCompatible,
  setDefectManagement,
  writeUsnCloseRecord,
  FSCTL_MAKE_MEDIA_COMPATIBLE,
  FSCTL_SET_DEFECT_MANAGEMENT,
  FSCTL_WRITE_USN_CLOSE_RECORD,
  type Kernel32,
} from "../src/client/index.ts";
import {
  type BlockingRunner,
  InlineRunner,
  type RawOutcome,
  WorkerRunner,
  callDeviceIoControl,
  overlappedAt,
} from "../src/client/transports/win32.ts";

type Call = { fn: string; args: unknown[] };

interface FakeOptions {
  /** CreateFileW(path) fails with this Win32 error. */
  openErrors?: Record<string, number>;
  /** CreateFileW of the control device with write access fails ERROR_ACCESS_DENIED. */
  denyWrite?: boolean;
  /** DeviceIoControl(code) fails with this Win32 error. */
  ioctlErrors?: Map<number, number>;
  /** Win32 error of a ReadFile at this byte offset. */
  readErrors?: Map<bigint, number>;
  /** Replace the reply bytes of a code. */
  replies?: Map<number, (input: Uint8Array) => Uint8Array>;
  compatible?: boolean;
  records?: number;
}

/** A kernel32 stand-in that answers the control protocol like the driver would. */
class FakeKernel32 implements Kernel32 {
  readonly log: Call[] = [];
  private lastError = 0;
  private nextHandle = 100;
  readonly open = new Map<number, { path: string; access: number }>();
  constructor(private readonly o: FakeOptions = {}) {}

  CreateFileW(path: string, access: number, share: number, _s: null, disposition: number, flags: number): number {
    this.log.push({ fn: "CreateFileW", args: [path, access, share, disposition, flags] });
    const err = this.o.openErrors?.[path];
    const wantsWrite = (access & 0x40000000) !== 0;
    if (err !== undefined || (this.o.denyWrite && wantsWrite && path.endsWith("CdFilter"))) {
      this.lastError = err ?? 5;
      return -1;
    }
    this.lastError = 183; // stale value a successful call may leave behind (ERROR_ALREADY_EXISTS)
    const h = this.nextHandle++;
    this.open.set(h, { path, access });
    return h;
  }

  DeviceIoControl(
    h: number | bigint,
    code: number,
    inBuf: Uint8Array | null,
    inLen: number,
    outBuf: Uint8Array | null,
    outLen: number,
    returned: number[],
  ): number {
    this.log.push({
      fn: "DeviceIoControl",
      args: [Number(h), code, inBuf ? Uint8Array.from(inBuf.subarray(0, inLen)) : null, inLen, outLen],
    });
    const fail = (e: number) => {
      this.lastError = e;
      this.log.push({ fn: "(fails)", args: [e] });
      return 0;
    };
    if (!this.open.has(Number(h))) return fail(6);
    const injected = this.o.ioctlErrors?.get(code);
    if (injected !== undefined) return fail(injected);
    const input = inBuf ? inBuf.subarray(0, inLen) : new Uint8Array(0);
    const reply = this.reply(code, input);
    if (reply === undefined) return fail(1);
    if (reply.length > outLen || (reply.length > 0 && !outBuf)) return fail(122);
    outBuf?.set(reply);
    returned[0] = reply.length;
    this.lastError = 183;
    return 1;
  }

  private reply(code: number, input: Uint8Array): Uint8Array | undefined {
    const custom = this.o.replies?.get(code);
    if (custom) return custom(input);
    const C = ControlIoctls;
    switch (code) {
      case C.getInfo.code: {
        const req = InfoRequest.decode(input);
        return InfoReply.encode(
          InfoReply.create({
            protocolVersion: 1,
            compatible: this.o.compatible ?? req.clientProtocolVersion === 1,
            host: HostKind.HOST_KIND_KMDF,
            driveCount: 1,
            oldestSeq: 1n,
            newestSeq: BigInt(this.o.records ?? 0),
          }),
        );
      }
      case C.getLedger.code:
        return LedgerSnapshot.encode(LedgerSnapshot.create({ seq: 7n, takenAt: 1000n }));
      case C.listDrives.code:
        return DrivesReply.encode(
          DrivesReply.create({ drives: [DriveInfo.create({ driveId: 1, name: "CdRom0", policy: Policy.POLICY_OBSERVE })] }),
        );
      case C.setPolicy.code: {
        const req = SetPolicyRequest.decode(input);
        return PolicyReply.encode(PolicyReply.create({ drives: [{ driveId: req.driveId || 1, policy: req.policy }] }));
      }
      case C.readTrace.code:
      case C.waitTrace.code: {
        const req = TraceReadRequest.decode(input);
        const total = BigInt(this.o.records ?? 0);
        const recs = [];
        for (let s = req.afterSeq + 1n; s <= total && recs.length < (req.maxRecords || 256); s++) {
          recs.push(TraceRecord.create({ seq: s, driveId: 1, ioctlCode: 0x2d0940 }));
        }
        return TraceBatch.encode(
          TraceBatch.create({ records: recs, nextCursor: recs.at(-1)?.seq ?? req.afterSeq, oldestSeq: 1n, newestSeq: total }),
        );
      }
      case 0x2d0940: // IOCTL_STORAGE_EJECTION_CONTROL
      case 0x2d4808: // IOCTL_STORAGE_EJECT_MEDIA
        return new Uint8Array(0);
      default:
        return undefined;
    }
  }

  ReadFile(_h: number | bigint, _b: Uint8Array, len: number, read: number[], ov: Uint8Array): number {
    const v = new DataView(ov.buffer, ov.byteOffset, ov.byteLength);
    const offset = (BigInt(v.getUint32(20, true)) << 32n) | BigInt(v.getUint32(16, true));
    this.log.push({ fn: "ReadFile", args: [len, ov.byteLength, offset] });
    const err = this.o.readErrors?.get(offset);
    if (err !== undefined) {
      this.lastError = err;
      read[0] = 0;
      return 0;
    }
    read[0] = len;
    this.lastError = 183; // stale value: must not be read after a success
    return 1;
  }
  CancelIoEx(h: number | bigint): number {
    this.log.push({ fn: "CancelIoEx", args: [Number(h)] });
    this.onCancel?.(Number(h));
    return 1;
  }
  onCancel: ((h: number) => void) | undefined;
  CloseHandle(h: number | bigint): number {
    this.log.push({ fn: "CloseHandle", args: [Number(h)] });
    this.open.delete(Number(h));
    return 1;
  }
  GetLastError(): number {
    this.log.push({ fn: "GetLastError", args: [] });
    return this.lastError;
  }

  ioctls(code: number): Call[] {
    return this.log.filter((c) => c.fn === "DeviceIoControl" && c.args[1] === code);
  }
}

const clients: FilterClient[] = [];
async function connectWith(k: FakeKernel32, runner?: (k: Kernel32) => BlockingRunner): Promise<FilterClient> {
  const c = await FilterClient.connect({ transport: "win32", win32: { kernel32: k, ...(runner ? { runner } : {}) } });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe("Win32 transport over a fake kernel32", () => {
  it("connects: opens \\\\.\\CdFilter read/write, sends our version, sizes output buffers to the reply's MAX_SIZE", async () => {
    const k = new FakeKernel32();
    const c = await connectWith(k);
    expect(c.transportKind).toBe("win32");
    expect(c.simulator).toBeUndefined();
    const create = k.log.find((x) => x.fn === "CreateFileW")!;
    expect(create.args).toEqual(["\\\\.\\CdFilter", 0xc0000000, 3, 3, 0]);
    const info = k.ioctls(ControlIoctls.getInfo.code)[0]!;
    expect(InfoRequest.decode(info.args[2] as Uint8Array).clientProtocolVersion).toBe(PROTOCOL_VERSION);
    expect(info.args[4]).toBe(InfoReply.maxSize);
    expect(k.ioctls(ControlIoctls.getLedger.code)[0]!.args[4]).toBe(LedgerSnapshot.maxSize);
    expect(c.initialLedger.seq).toBe(7n);
    // Successful calls never read GetLastError (its value is stale after success).
    expect(k.log.filter((x) => x.fn === "GetLastError")).toHaveLength(0);
  });

  it("reads GetLastError right after the failing call and throws the typed error", async () => {
    const cases: Array<[number, new (...a: never[]) => Error, string]> = [
      [5, AccessDeniedError, "STATUS_ACCESS_DENIED"],
      [1, InvalidFunctionError, "STATUS_INVALID_DEVICE_REQUEST"],
      [122, InsufficientBufferError, "STATUS_BUFFER_TOO_SMALL"],
      [87, InvalidParameterError, "STATUS_INVALID_PARAMETER"],
      [22, BadCommandError, "STATUS_INVALID_DEVICE_STATE"],
    ];
    for (const [win32, cls, nt] of cases) {
      const k = new FakeKernel32({ ioctlErrors: new Map([[ControlIoctls.setPolicy.code, win32]]) });
      const c = await connectWith(k);
      const err = await c.setPolicy(Policy.POLICY_ENFORCE, 1).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(cls);
      expect(err).toMatchObject({ win32Error: win32, ntStatusName: nt });
      expect((err as Error).message).toContain(`usually ${nt}`);
      expect((err as Error).message).toContain("IOCTL_CDFILTER_SET_POLICY on \\\\.\\CdFilter");
      const i = k.log.findIndex((x) => x.fn === "(fails)");
      expect(k.log[i + 1]?.fn).toBe("GetLastError");
    }
  });

  it("a too-small reply buffer surfaces as InsufficientBufferError (ERROR_INSUFFICIENT_BUFFER <- STATUS_BUFFER_TOO_SMALL)", async () => {
    const k = new FakeKernel32({ replies: new Map([[ControlIoctls.listDrives.code, () => new Uint8Array(DrivesReply.maxSize + 1)]]) });
    const c = await connectWith(k);
    await expect(c.drives()).rejects.toBeInstanceOf(InsufficientBufferError);
  });

  it("a malformed reply is a ProtocolError, an incompatible driver a ProtocolVersionError (handles closed)", async () => {
    const bad = new FakeKernel32({ replies: new Map([[ControlIoctls.listDrives.code, () => Uint8Array.of(0x0a, 0x05, 0x08)]]) });
    const c = await connectWith(bad);
    await expect(c.drives()).rejects.toBeInstanceOf(ProtocolError);

    const old = new FakeKernel32({ compatible: false });
    await expect(connectWith(old)).rejects.toBeInstanceOf(ProtocolVersionError);
    expect(old.open.size).toBe(0);
  });

  it("speaks to a protocol version 1 driver (which accepts only its own version) by asking again with 1", async () => {
    const k = new FakeKernel32(); // answers protocolVersion 1, compatible only for client version 1
    const c = await connectWith(k);
    expect(c.connectInfo.protocolVersion).toBe(1);
    const asked = k.ioctls(ControlIoctls.getInfo.code).map((x) => InfoRequest.decode(x.args[2] as Uint8Array).clientProtocolVersion);
    expect(asked.slice(0, 2)).toEqual([PROTOCOL_VERSION, 1]);
    expect(PROTOCOL_VERSION).toBeGreaterThan(1);
  });

  it("falls back to read-only control access when write is denied", async () => {
    const k = new FakeKernel32({ denyWrite: true });
    const c = await connectWith(k);
    const opens = k.log.filter((x) => x.fn === "CreateFileW").map((x) => x.args[1]);
    expect(opens).toEqual([0xc0000000, 0x80000000]);
    expect((await c.drives())[0]!.name).toBe("CdRom0");
  });

  it('"auto" falls back to the simulator when \\\\.\\CdFilter cannot be opened, and says why', async () => {
    const k = new FakeKernel32({ openErrors: { "\\\\.\\CdFilter": 2 } });
    const c = await FilterClient.connect({ transport: "auto", win32: { kernel32: k } });
    clients.push(c);
    expect(c.transportKind).toBe("simulator");
    expect(c.transportReason).toMatch(/\\\\\.\\CdFilter cannot be opened \(ERROR_FILE_NOT_FOUND\)/);
    await expect(FilterClient.connect({ transport: "win32", win32: { kernel32: k } })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("drive actions: paths, access masks, input bytes, and ActionResult mapped back to the likely NTSTATUS", async () => {
    const k = new FakeKernel32({ ioctlErrors: new Map([[0x2d4808, 170]]) });
    const c = await connectWith(k);
    const d = await c.openDrive(1);
    expect(
      k.log
        .filter((x) => x.fn === "CreateFileW")
        .at(-1)!
        .args.slice(0, 2),
    ).toEqual(["\\\\.\\CdRom0", 0x80]);
    expect(await d.lock()).toMatchObject({ ok: true, status: 0, statusName: "STATUS_SUCCESS" });
    const lock = k.ioctls(0x2d0940)[0]!;
    expect([...(lock.args[2] as Uint8Array)]).toEqual([1]);
    expect(lock.args[4]).toBe(0);
    await d.unlock();
    expect([...(k.ioctls(0x2d0940)[1]!.args[2] as Uint8Array)]).toEqual([0]);

    const e = await c.openDrive("D:", { access: "read" });
    expect(
      k.log
        .filter((x) => x.fn === "CreateFileW")
        .at(-1)!
        .args.slice(0, 2),
    ).toEqual(["\\\\.\\D:", 0x80000080]);
    expect(await e.eject()).toEqual({
      ok: false,
      status: 0x80000011,
      statusName: "STATUS_DEVICE_BUSY",
      win32Error: 170,
      statusExact: false,
      returned: 0,
    });
    expect(await e.read(4096n, 2048)).toMatchObject({ ok: true, returned: 2048 });
    // The position travels in an OVERLAPPED (Offset/OffsetHigh), not through SetFilePointerEx.
    expect(k.log.find((x) => x.fn === "ReadFile")!.args).toEqual([2048, 32, 4096n]);
    expect(await e.read(0x1_0000_0800n, 2048)).toMatchObject({ ok: true });
    expect(k.log.filter((x) => x.fn === "ReadFile").at(-1)!.args).toEqual([2048, 32, 0x1_0000_0800n]);
    await e.close();
    expect(k.log.at(-1)!.fn).toBe("CloseHandle");
    await expect(c.openDrive("not a drive!")).rejects.toThrow(/not a drive/);
  });

  it("drive reads run on the handle's BlockingRunner (off the event loop), GetLastError right after a failed ReadFile", async () => {
    const k = new FakeKernel32({ readErrors: new Map([[0x8000n, 21]]) }); // ERROR_NOT_READY
    const reads: [bigint, number][] = [];
    const runner = (kk: Kernel32): BlockingRunner => {
      const inline = new InlineRunner(kk);
      return {
        deviceIoControl: (h, code, input, outCap) => inline.deviceIoControl(h, code, input, outCap),
        readFile: (h, offset, length) => {
          reads.push([offset, length]);
          return inline.readFile(h, offset, length);
        },
        close: async () => {},
      };
    };
    const c = await connectWith(k, runner);
    const d = await c.openDrive(1, { access: "read" });
    expect(await d.read(2048n, 2048)).toMatchObject({ ok: true, returned: 2048, win32Error: 0 });
    const failed = await d.read(0x8000n, 2048);
    expect(failed).toMatchObject({ ok: false, win32Error: 21, statusName: "STATUS_NO_MEDIA_IN_DEVICE", returned: 0 });
    expect(reads).toEqual([
      [2048n, 2048],
      [0x8000n, 2048],
    ]);
    // The failed ReadFile's GetLastError is the very next kernel32 call.
    const i = k.log.map((x) => x.fn).lastIndexOf("ReadFile");
    expect(k.log[i + 1]!.fn).toBe("GetLastError");
    await d.close();
    // A closed handle or client throws ClientClosedError (nothing is sent).
    await expect(d.read(0n, 2048)).rejects.toThrow(ClientClosedError);
    await expect(d.lock()).rejects.toThrow(ClientClosedError);
    await c.close();
    expect(() => c.info()).toThrow(ClientClosedError);
    await expect(c.drives()).rejects.toThrow(ClientClosedError);
  });

  it("trace over Win32: ReadTrace batches sized by highWaterMark, resumable cursor", async () => {
    const k = new FakeKernel32({ records: 25 });
    const c = await connectWith(k);
    const seqs: bigint[] = [];
    const s = c.trace({ follow: false, highWaterMark: 10 });
    for await (const ev of s) if (ev.type === "record") seqs.push(ev.record.seq);
    expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => BigInt(i + 1)));
    const reads = k.ioctls(ControlIoctls.readTrace.code);
    expect(reads.every((r) => r.args[4] === TraceBatch.maxSize)).toBe(true);
    expect(TraceReadRequest.decode(reads[0]!.args[2] as Uint8Array).maxRecords).toBe(10);
    // the stream used its own control handle and closed it
    const streamHandle = reads[0]!.args[0] as number;
    expect(k.log.some((x) => x.fn === "CloseHandle" && x.args[0] === streamHandle)).toBe(true);
  });

  it("AbortSignal: a blocked WaitTrace is cancelled with CancelIoEx and ends as OperationAbortedError", async () => {
    const k = new FakeKernel32({ records: 0 });
    // A runner that blocks like the driver's inverted call until CancelIoEx hits the handle.
    const runner = (kk: Kernel32): BlockingRunner => ({
      deviceIoControl: (h, code, input, outCap) =>
        new Promise<RawOutcome>((res) => {
          (kk as FakeKernel32).onCancel = (ch) => {
            if (ch === Number(h)) res({ ok: false, lastError: 995, returned: 0, output: new Uint8Array(0) });
          };
          void code;
          void input;
          void outCap;
        }),
      readFile: () => Promise.reject(new Error("no read in this test")),
      close: async () => {},
    });
    const c = await connectWith(k, runner);
    const ac = new AbortController();
    const s = c.trace({ signal: ac.signal });
    const done = (async () => {
      for await (const _ of s) void _;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 30));
    expect(s.stats.waits).toBe(1);
    ac.abort();
    expect(await done).toBeInstanceOf(OperationAbortedError);
    expect(k.log.some((x) => x.fn === "CancelIoEx")).toBe(true);
  });
});

describe("FSCTL wrappers over a fake kernel32", () => {
  async function handle(k: FakeKernel32) {
    const t = await Win32Transport.create({ kernel32: k });
    return { t, h: t.openPath("\\\\.\\E:", 0xc0000000) };
  }

  it("FSCTL_MAKE_MEDIA_COMPATIBLE / SET_DEFECT_MANAGEMENT: one BOOLEAN in, no output", async () => {
    const k = new FakeKernel32({
      replies: new Map([
        [FSCTL_MAKE_MEDIA_COMPATIBLE, () => new Uint8Array(0)],
        [FSCTL_SET_DEFECT_MANAGEMENT, () => new Uint8Array(0)],
      ]),
    });
    const { t, h } = await handle(k);
    await makeMediaCompatible(h, { closeDisc: true });
    await setDefectManagement(h, { disable: false });
    expect(k.ioctls(FSCTL_MAKE_MEDIA_COMPATIBLE)[0]!.args.slice(2)).toEqual([Uint8Array.of(1), 1, 0]);
    expect(k.ioctls(FSCTL_SET_DEFECT_MANAGEMENT)[0]!.args.slice(2)).toEqual([Uint8Array.of(0), 1, 0]);
    await t.close();
  });

  it("typed errors: not UDF (ERROR_INVALID_FUNCTION), no journal (ERROR_JOURNAL_NOT_ACTIVE)", async () => {
    const k = new FakeKernel32({
      ioctlErrors: new Map([
        [FSCTL_MAKE_MEDIA_COMPATIBLE, 1],
        [FSCTL_WRITE_USN_CLOSE_RECORD, 1179],
      ]),
    });
    const { t, h } = await handle(k);
    await expect(makeMediaCompatible(h, { closeDisc: false })).rejects.toBeInstanceOf(InvalidFunctionError);
    await expect(writeUsnCloseRecord(h)).rejects.toBeInstanceOf(JournalNotActiveError);
    await t.close();
  });

  it("FSCTL_WRITE_USN_CLOSE_RECORD returns the USN (8 bytes, little-endian) as a bigint", async () => {
    const usn = 0x0123456789abcdefn;
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigInt64(0, usn, true);
    const k = new FakeKernel32({ replies: new Map([[FSCTL_WRITE_USN_CLOSE_RECORD, () => bytes]]) });
    const { t, h } = await handle(k);
    expect(await writeUsnCloseRecord(h)).toBe(usn);
    const call = k.ioctls(FSCTL_WRITE_USN_CLOSE_RECORD)[0]!;
    expect(call.args.slice(2)).toEqual([null, 0, 8]);
    await t.close();

    const short = new FakeKernel32({ replies: new Map([[FSCTL_WRITE_USN_CLOSE_RECORD, () => new Uint8Array(4)]]) });
    const s = await handle(short);
    await expect(writeUsnCloseRecord(s.h)).rejects.toBeInstanceOf(ProtocolError);
    await s.t.close();
  });

  it("a failed CreateFileW is a typed error naming the path", async () => {
    const k = new FakeKernel32({ openErrors: { "\\\\.\\E:": 5 } });
    const t = await Win32Transport.create({ kernel32: k });
    expect(() => t.openPath("\\\\.\\E:", 0xc0000000)).toThrow(AccessDeniedError);
    expect(() => t.openPath("\\\\.\\E:", 0xc0000000)).toThrow(/CreateFileW \\\\\.\\E:: ERROR_ACCESS_DENIED \(5\)/);
    void DeviceBusyError;
  });
});

// ---------------------------------------------------------------------------------------------
// The worker path with a real thread-local last error. The stand-in library keeps its last error
// in a __thread variable (as the TEB does): if the transport read it on another thread than the
// failing call's, it would see 0.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "build", "client-test");
const STANDIN_C = String.raw`
#include <pthread.h>
#include <stdint.h>
#include <string.h>
static __thread uint32_t last_error;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cancelled;
uint32_t GetLastError(void) { return last_error; }
/* code 0x1000: blocks until CancelIoEx, then fails with ERROR_OPERATION_ABORTED (995).
 * code 0x2000 | e: fails at once with Win32 error e. Else: echoes the input. */
int DeviceIoControl(intptr_t h, uint32_t code, const void *in, uint32_t in_len, void *out,
                    uint32_t out_len, uint32_t *returned, void *ov) {
  (void)h; (void)ov;
  *returned = 0;
  if (code == 0x1000) {
    pthread_mutex_lock(&mu);
    while (!cancelled) pthread_cond_wait(&cv, &mu);
    cancelled = 0;
    pthread_mutex_unlock(&mu);
    last_error = 995;
    return 0;
  }
  if ((code & 0xF000) == 0x2000) { last_error = code & 0xFFF; return 0; }
  if (in_len > out_len) { last_error = 122; return 0; }
  if (in_len) memcpy(out, in, in_len);
  *returned = in_len;
  return 1;
}
/* ReadFile at OVERLAPPED Offset (bytes 16..19): 0x1000 blocks until CancelIoEx, then fails
 * with 995; 0x2000 | e fails at once with Win32 error e; else reads len bytes of 0xCD. */
int ReadFile(intptr_t h, void *buf, uint32_t len, uint32_t *read, const uint8_t *ov) {
  uint32_t offset;
  (void)h;
  memcpy(&offset, ov + 16, 4);
  *read = 0;
  if (offset == 0x1000) {
    pthread_mutex_lock(&mu);
    while (!cancelled) pthread_cond_wait(&cv, &mu);
    cancelled = 0;
    pthread_mutex_unlock(&mu);
    last_error = 995;
    return 0;
  }
  if ((offset & 0xF000) == 0x2000) { last_error = offset & 0xFFF; return 0; }
  memset(buf, 0xCD, len);
  *read = len;
  return 1;
}
int CancelIoEx(intptr_t h, void *ov) {
  (void)h; (void)ov;
  pthread_mutex_lock(&mu);
  cancelled = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  return 1;
}
`;

function buildStandIn(): string {
  mkdirSync(OUT, { recursive: true });
  const src = join(OUT, "standin_kernel32.c");
  const lib = join(OUT, "libstandin_kernel32.so");
  writeFileSync(src, STANDIN_C);
  const r = spawnSync("cc", ["-std=gnu11", "-Wall", "-Werror", "-shared", "-fPIC", "-pthread", "-o", lib, src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return lib;
}

describe("WorkerRunner: blocking DeviceIoControl and GetLastError on the worker's thread", () => {
  it("reads the thread-local last error of the failing call, and CancelIoEx from the main thread unblocks it", {
    timeout: 60_000,
  }, async () => {
    const lib = buildStandIn();
    const runner = new WorkerRunner({ library: lib, convention: "__stdcall" });
    try {
      // Fails on the worker thread with error 0x57 (87): the main thread's last error is 0.
      const failed = await runner.deviceIoControl(1, 0x2057, new Uint8Array(0), 0);
      expect(failed).toEqual({ ok: false, lastError: 87, returned: 0, output: new Uint8Array(0) });
      const echo = await runner.deviceIoControl(1, 0x3000, Uint8Array.of(1, 2, 3), 8);
      expect(echo).toMatchObject({ ok: true, lastError: 0, returned: 3 });
      expect([...echo.output]).toEqual([1, 2, 3]);

      // Blocks in the worker; the event loop keeps running; CancelIoEx (main thread) ends it.
      const main = koffi.load(lib);
      const cancelIoEx = main.func("__stdcall", "CancelIoEx", "int", ["intptr", "void *"]);
      const mainGetLastError = main.func("__stdcall", "GetLastError", "uint32", []);
      const pending = runner.deviceIoControl(1, 0x1000, new Uint8Array(0), 16);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      await new Promise((r) => setTimeout(r, 50));
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(3);
      cancelIoEx(1, null);
      expect(await pending).toMatchObject({ ok: false, lastError: 995 });
      expect(mainGetLastError()).toBe(0); // the failure's error lives on the worker's thread only

      // ReadFile takes the same path: OVERLAPPED offset, GetLastError on the worker's thread,
      // and a read that waits on the medium does not block the event loop.
      expect(await runner.readFile(1, 0x2015n, 2048)).toEqual({ ok: false, lastError: 0x15, returned: 0, output: new Uint8Array(0) });
      expect(await runner.readFile(1, 0x8000n, 2048)).toEqual({ ok: true, lastError: 0, returned: 2048, output: new Uint8Array(0) });
      const blockedRead = runner.readFile(1, 0x1000n, 2048);
      ticks = 0;
      const timer2 = setInterval(() => ticks++, 5);
      await new Promise((r) => setTimeout(r, 50));
      clearInterval(timer2);
      expect(ticks).toBeGreaterThan(3);
      cancelIoEx(1, null);
      expect(await blockedRead).toMatchObject({ ok: false, lastError: 995 });
      expect(mainGetLastError()).toBe(0);
      expect([...overlappedAt(0x1_0000_2000n).subarray(16, 24)]).toEqual([0x00, 0x20, 0, 0, 1, 0, 0, 0]);
    } finally {
      await runner.close();
    }
  });

  it("callDeviceIoControl reads GetLastError only after a failure", () => {
    const k = new FakeKernel32();
    const h = k.CreateFileW("\\\\.\\CdFilter", 0xc0000000, 3, null, 3, 0);
    const ok = callDeviceIoControl(k, h, ControlIoctls.listDrives.code, new Uint8Array(0), DrivesReply.maxSize);
    expect(ok.ok).toBe(true);
    expect(k.log.some((x) => x.fn === "GetLastError")).toBe(false);
    const bad = callDeviceIoControl(k, h, 0x12345678, new Uint8Array(0), 0);
    expect(bad).toMatchObject({ ok: false, lastError: 1 });
  });
});
