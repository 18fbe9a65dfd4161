// FilterClient over the embedded simulator (build/libcdfsim.so, built by npm run build:c):
// info, drives, ledger on connect, policy and trace-config round trips, trace resume from a
// cursor, drop notices when the ring overflows, back-pressure, AbortSignal cancellation of a
// blocked follow, and the QA lock actions as simulated processes.
import { afterEach, describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  ClientClosedError,
  FilterClient,
  HostKind,
  InvalidArgumentError,
  InvalidParameterError,
  NTSTATUS,
  OperationAbortedError,
  PROTOCOL_VERSION,
  Policy,
  RecordKind,
  type TraceEvent,
  type TraceRecord,
  TransportUnavailableError,
} from "../src/client/index.ts";
import { SimDeviceHandle } from "../src/client/transports/simulator.ts";

const clients: FilterClient[] = [];
async function connect(sim: { drives?: number; ringBytes?: number } = {}): Promise<FilterClient> {
  const c = await FilterClient.connect({ transport: "auto", simulator: { drives: 3, ...sim } });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function collect(it: AsyncIterable<TraceEvent>): Promise<TraceEvent[]> {
  const out: TraceEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}
const records = (evs: TraceEvent[]): TraceRecord[] => evs.flatMap((e) => (e.type === "record" ? [e.record] : []));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `count` reads through the whole stack by simulated process 900 (2 records each). */
async function burst(c: FilterClient, count: number): Promise<void> {
  const d = await c.openDrive(1, { pid: 900, image: "reader.exe", access: "read" });
  const h = d.handle;
  if (!(h instanceof SimDeviceHandle)) throw new Error("not a simulator handle");
  const r = h.burst(count, 2048);
  expect(r.status).toBe(0);
  expect(r.completed).toBe(count);
  await d.close();
}

function expectContiguous(recs: TraceRecord[], first: bigint, last: bigint): void {
  expect(recs.length).toBe(Number(last - first + 1n));
  for (const [i, r] of recs.entries()) expect(r.seq).toBe(first + BigInt(i));
}

describe("connect", () => {
  it("uses the simulator off Windows and says why", async () => {
    const c = await connect();
    expect(c.transportKind).toBe("simulator");
    expect(c.transportReason).toMatch(/not Windows \(linux\)|simulator/);
    expect(c.simulator).toBeDefined();
  });

  it("the win32 transport is refused off Windows with a typed error", async () => {
    if (process.platform === "win32") return;
    await expect(FilterClient.connect({ transport: "win32" })).rejects.toBeInstanceOf(TransportUnavailableError);
  });

  it("rejects a bad simulator shape before creating anything", async () => {
    await expect(FilterClient.connect({ transport: "simulator", simulator: { drives: 17 } })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("control calls", () => {
  it("info sends our protocol version and reports the simulator", async () => {
    const c = await connect();
    const info = await c.info();
    expect(info.protocolVersion).toBe(PROTOCOL_VERSION);
    expect(info.compatible).toBe(true);
    expect(info.host).toBe(HostKind.HOST_KIND_SIMULATOR);
    expect(info.driveCount).toBe(3);
    expect(info.ringCapacity).toBeGreaterThan(0);
    expect(c.connectInfo.protocolVersion).toBe(PROTOCOL_VERSION);
  });

  it("drives lists CdRom0..CdRom2 with ids 1..3", async () => {
    const c = await connect();
    const drives = await c.drives();
    expect(drives.map((d) => [d.driveId, d.name, d.policy])).toEqual([
      [1, "CdRom0", Policy.POLICY_OBSERVE],
      [2, "CdRom1", Policy.POLICY_OBSERVE],
      [3, "CdRom2", Policy.POLICY_OBSERVE],
    ]);
  });

  it("the ledger snapshot is taken on connect; later ledgers show the owner", async () => {
    const c = await connect();
    expect(c.initialLedger.drives.map((d) => d.driveId)).toEqual([1, 2, 3]);
    expect(c.initialLedger.drives.every((d) => d.secureTotal === 0 && d.owners.length === 0)).toBe(true);
    const burner = await c.openDrive(2, { pid: 4242, image: "burner.exe" });
    expect((await burner.lock()).ok).toBe(true);
    const now = await c.ledger(2);
    expect(now.drives).toHaveLength(1);
    expect(now.drives[0]!.secureTotal).toBe(1);
    expect(now.drives[0]!.owners.map((o) => [o.pid, o.imageName, o.secureCount])).toEqual([[4242, "burner.exe", 1]]);
    expect(c.initialLedger.drives[1]!.secureTotal).toBe(0); // the snapshot does not change
    expect(now.seq).toBeGreaterThan(c.initialLedger.seq);
    await expect(c.ledger(9)).rejects.toBeInstanceOf(InvalidParameterError);
  });

  it("policy round trip, per drive and for every drive", async () => {
    const c = await connect();
    expect(await c.setPolicy(Policy.POLICY_ENFORCE, 2)).toEqual([{ driveId: 2, policy: Policy.POLICY_ENFORCE }]);
    expect(await c.policy(2)).toEqual([{ driveId: 2, policy: Policy.POLICY_ENFORCE }]);
    expect((await c.policy()).map((p) => p.policy)).toEqual([Policy.POLICY_OBSERVE, Policy.POLICY_ENFORCE, Policy.POLICY_OBSERVE]);
    await c.setPolicy(Policy.POLICY_ENFORCE);
    expect((await c.policy()).every((p) => p.policy === Policy.POLICY_ENFORCE)).toBe(true);
    await expect(c.setPolicy(Policy.POLICY_UNSPECIFIED)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(c.setPolicy(Policy.POLICY_OBSERVE, 7)).rejects.toMatchObject({ win32Error: 87, ntStatusName: "STATUS_INVALID_PARAMETER" });
  });

  it("trace config: given fields replace, absent fields stay", async () => {
    const c = await connect();
    const a = await c.setTraceConfig({ majors: [14], captureBytes: 16 });
    expect(a.majors).toEqual([14]);
    expect(a.captureBytes).toBe(16);
    const b = await c.setTraceConfig({ driveIds: [1] });
    expect(b).toMatchObject({ majors: [14], captureBytes: 16, driveIds: [1] });
    expect(await c.traceConfig()).toEqual(b);
    await c.setTraceConfig({ majors: [], driveIds: [] });
  });
});

describe("trace", () => {
  it("drains what is there (follow: false) and resumes from a cursor", async () => {
    const c = await connect();
    await burst(c, 20);
    const all = records(await collect(c.trace({ follow: false })));
    expect(all.length).toBeGreaterThanOrEqual(40);
    expectContiguous(all, 1n, all.at(-1)!.seq);
    expect(all.some((r) => r.kind === RecordKind.RECORD_KIND_HANDLE_OPEN && r.openerImage === "reader.exe")).toBe(true);

    // Stop after 10 records, then resume exactly after the last one received.
    const first = c.trace({ follow: false, highWaterMark: 4 });
    const got: TraceRecord[] = [];
    for await (const ev of first) {
      if (ev.type === "record") got.push(ev.record);
      if (got.length === 10) break;
    }
    expect(first.cursor).toBe(10n);
    const rest = records(await collect(c.trace({ from: first.cursor, follow: false })));
    expect([...got, ...rest].map((r) => r.seq)).toEqual(all.map((r) => r.seq));

    // clearTrace: nothing before the cleared seq comes back.
    const cleared = await c.clearTrace();
    expect(cleared).toBe(all.at(-1)!.seq);
    expect(records(await collect(c.trace({ follow: false })))).toEqual([]);
  });

  it("reports drops as typed events when the ring overflows (small ring)", async () => {
    const c = await connect({ ringBytes: 8192 });
    const info = await c.info();
    const capacity = BigInt(info.ringCapacity);
    // A reader that takes one record and falls behind.
    const stream = c.trace({ from: 0n, highWaterMark: 1 });
    const it = stream[Symbol.asyncIterator]();
    await burst(c, 1);
    const firstEv = await it.next();
    expect(firstEv.value).toMatchObject({ type: "record" });
    expect((firstEv.value as { record: TraceRecord }).record.seq).toBe(1n);
    await burst(c, Number(capacity) * 2); // overflows the ring several times
    const newest = (await c.info()).newestSeq;
    const events: TraceEvent[] = [];
    while (true) {
      const r = await it.next();
      events.push(r.value as TraceEvent);
      if (r.value?.type === "record" && r.value.record.seq === newest) break;
    }
    await it.return!();
    const drops = events.filter((e) => e.type === "dropped");
    expect(drops.length).toBeGreaterThanOrEqual(1);
    const d0 = drops[0] as { count: bigint; afterSeq: bigint };
    expect(d0.afterSeq).toBe(1n);
    const recs = records(events);
    // Every seq is either delivered or counted in a drop notice.
    const dropped = drops.reduce((n, e) => n + (e as { count: bigint }).count, 0n);
    expect(BigInt(recs.length) + dropped).toBe(newest - 1n);
    expect(stream.stats.dropped).toBe(dropped);
    expect(BigInt(recs.length)).toBeLessThanOrEqual(capacity + 2n);
  });

  it("a stream from 0 over an overflowed ring starts with a drop notice", async () => {
    const c = await connect({ ringBytes: 8192 });
    const capacity = (await c.info()).ringCapacity;
    await burst(c, capacity);
    const info = await c.info();
    expect(info.oldestSeq).toBeGreaterThan(1n);
    const evs = await collect(c.trace({ from: 0n, follow: false }));
    expect(evs[0]).toEqual({ type: "dropped", count: info.oldestSeq - 1n, afterSeq: 0n });
    expectContiguous(records(evs), info.oldestSeq, info.newestSeq);
    // Without `from`: the oldest record still there, no notice.
    const evs2 = await collect(c.trace({ follow: false }));
    expect(evs2[0]?.type).toBe("record");
  });

  it("a cursor beyond the ring's newest record (driver reloaded) is a reset notice, then the oldest records", async () => {
    const c = await connect();
    await burst(c, 3);
    const info = await c.info();
    const stale = info.newestSeq + 1000n; // a cursor saved before a driver reload
    const evs = await collect(c.trace({ from: stale, follow: false }));
    expect(evs[0]).toEqual({ type: "dropped", count: 0n, afterSeq: stale, reset: true });
    expectContiguous(records(evs), info.oldestSeq, records(evs).at(-1)!.seq);
    expect(records(evs).at(-1)!.seq).toBeGreaterThanOrEqual(info.newestSeq);
    // following from such a cursor does not park: the notice comes at once
    const stream = c.trace({ from: stale });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toEqual({ type: "dropped", count: 0n, afterSeq: stale, reset: true });
    expect(stream.stats.dropped).toBe(0n);
    await it.return!();
  });

  it("back-pressure: never more than highWaterMark records buffered, nothing lost", async () => {
    const c = await connect();
    await burst(c, 150);
    const newest = (await c.info()).newestSeq;
    const stream = c.trace({ follow: false, highWaterMark: 8 });
    const seen: TraceRecord[] = [];
    for await (const ev of stream) {
      if (ev.type === "record") seen.push(ev.record);
      expect(stream.buffered).toBeLessThanOrEqual(8);
      if (seen.length % 16 === 0) await sleep(2); // a slow consumer
    }
    expectContiguous(seen, 1n, newest);
    expect(stream.stats.maxBuffered).toBeLessThanOrEqual(8);
    expect(stream.stats.maxBuffered).toBeGreaterThanOrEqual(1);
    expect(stream.stats.batches).toBeGreaterThanOrEqual(Math.ceil(seen.length / 8));
  });

  it("follow waits for new records without blocking the event loop", async () => {
    const c = await connect();
    const stream = c.trace({ from: (await c.info()).newestSeq });
    const it = stream[Symbol.asyncIterator]();
    const pending = it.next();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await sleep(60);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3); // the event loop ran while WaitTrace was blocked
    expect(stream.stats.waits).toBe(1);
    const d = await c.openDrive(3, { pid: 77, image: "player.exe" });
    const ev = await pending;
    expect(ev.value).toMatchObject({ type: "record", record: { driveId: 3, pid: 77 } }); // IRP_MJ_CREATE of player.exe
    await it.return!();
    await d.close();
  });

  it("an AbortSignal cancels a blocked follow (cdfsim_cancel) and rejects with OperationAbortedError", async () => {
    const c = await connect();
    const ac = new AbortController();
    const stream = c.trace({ signal: ac.signal });
    await burst(c, 2);
    const seen: TraceEvent[] = [];
    const consume = (async () => {
      for await (const ev of stream) seen.push(ev);
    })();
    await sleep(80);
    expect(stream.stats.waits).toBeGreaterThanOrEqual(1); // drained, now parked in WaitTrace
    ac.abort(new Error("user pressed Ctrl-C"));
    const err = await consume.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OperationAbortedError);
    expect(err).toMatchObject({ win32Error: 995, ntStatus: NTSTATUS.STATUS_CANCELLED });
    expect((err as Error).cause).toMatchObject({ message: "user pressed Ctrl-C" });
    expect(records(seen).length).toBe(Number((await c.info()).newestSeq));
    // The client is still usable after the cancelled wait.
    expect((await c.drives()).length).toBe(3);
  });

  it("an already aborted signal rejects the first next()", async () => {
    const c = await connect();
    const stream = c.trace({ signal: AbortSignal.abort() });
    await expect(stream.next()).rejects.toBeInstanceOf(OperationAbortedError);
  });

  it("rejects bad options", async () => {
    const c = await connect();
    expect(() => c.trace({ highWaterMark: 0 })).toThrow(RangeError);
    expect(() => c.trace({ from: -1n })).toThrow(RangeError);
  });
});

describe("lock actions as simulated processes", () => {
  it("lock, foreign eject and unlock, access checks, process exit releases", async () => {
    const c = await connect();
    await c.setPolicy(Policy.POLICY_ENFORCE, 1);
    const burner = await c.openDrive(1, { pid: 100, image: "burner.exe" });
    const player = await c.openDrive("CdRom0", { pid: 200, image: "player.exe", access: "read" });
    expect(burner.driveId).toBe(1);
    expect(player.driveId).toBe(1);

    expect(await burner.lock()).toMatchObject({ ok: true, status: 0, statusName: "STATUS_SUCCESS", statusExact: true });
    expect(await player.eject()).toMatchObject({ ok: false, statusName: "STATUS_DEVICE_BUSY", win32Error: 170 });
    expect(await player.unlock()).toMatchObject({ ok: false, statusName: "STATUS_INVALID_DEVICE_STATE", win32Error: 22 });
    // EJECT_MEDIA is FILE_READ_ACCESS: an attributes-only handle is refused by the I/O manager.
    expect(await burner.eject()).toMatchObject({ ok: false, statusName: "STATUS_ACCESS_DENIED", win32Error: 5 });
    expect(await player.passThrough(Uint8Array.of(0x1b, 0, 0, 0, 0x02, 0))).toMatchObject({ ok: false });

    expect(c.simulator!.driveState(1).secureTotal).toBe(1);
    expect(c.simulator!.processExit(100)).toBe(1);
    expect((await c.ledger(1)).drives[0]!.secureTotal).toBe(0);
    expect(c.simulator!.driveState(1).secureTotal).toBe(0);
    expect(await player.eject()).toMatchObject({ ok: true });
    expect(c.simulator!.driveState(1).trayOpen).toBe(true);
    expect(await player.read(0, 2048)).toMatchObject({ ok: false }); // tray open: no media to read
    await player.close();
    await expect(player.lock()).rejects.toBeInstanceOf(ClientClosedError); // nothing is sent
  });

  it("unknown drives are typed errors", async () => {
    const c = await connect();
    await expect(c.openDrive(9)).rejects.toThrow(/no drive 9/);
    await expect(c.openDrive("CdRom7")).rejects.toMatchObject({ ntStatusName: "STATUS_OBJECT_NAME_NOT_FOUND", win32Error: 2 });
    void AccessDeniedError;
  });
});
