// TraceStream under hostile conditions: close()/return() while a consumer awaits next() settles
// that next(); every ReadTrace/WaitTrace reply is checked (cursor advances, counts consistent,
// seq increases) and a violation is a ProtocolError; the buffer is bounded in events, drop
// notices included.
import { describe, expect, it } from "vitest";
import { FilterClient, ProtocolError, type TraceEvent, TraceStream } from "../src/client/index.ts";
import { FakeTraceHandle, fakeRecord, type ScriptedReply } from "./support/fake-trace-handle.ts";

const TIMEOUT = Symbol("timeout");
/** The promise's outcome, or TIMEOUT if it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms = 2000): Promise<T | typeof TIMEOUT | { rejected: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((r) => {
    timer = setTimeout(() => r(TIMEOUT), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (v) => v,
        (e: unknown) => ({ rejected: e }),
      ),
      t,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function fakeStream(reply: (after: bigint, call: number, wait: boolean, max: number) => ScriptedReply, hwm = 16) {
  const h = new FakeTraceHandle((req, call, wait) => reply(req.afterSeq, call, wait, req.maxRecords));
  const s = new TraceStream(
    async () => h,
    async () => 0n,
    { highWaterMark: hwm },
  );
  return { h, s };
}

/** Read events until the stream ends or fails, at most `max`: [events, error]. */
async function drain(s: TraceStream, max = 10_000): Promise<[TraceEvent[], unknown]> {
  const evs: TraceEvent[] = [];
  try {
    while (evs.length < max) {
      const r = await s.next();
      if (r.done) return [evs, undefined];
      evs.push(r.value);
    }
  } catch (e) {
    return [evs, e];
  }
  return [evs, new Error(`still streaming after ${max} events`)];
}

describe("close settles every waiter", () => {
  it("stream.return() while next() is pending on WaitTrace: next() resolves done", async () => {
    const { h, s } = fakeStream(() => "block");
    const pending = s.next();
    await new Promise((r) => setTimeout(r, 20));
    expect(h.calls).toBeGreaterThan(0);
    await s.return();
    expect(await within(pending)).toEqual({ done: true, value: undefined });
    expect(h.closed).toBe(true);
  });

  it("client.close() while a for-await over client.trace() waits (simulator): the loop ends", async () => {
    const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1 } });
    const seen: TraceEvent[] = [];
    const loop = (async () => {
      for await (const ev of client.trace({ follow: true })) seen.push(ev);
      return "ended";
    })();
    await new Promise((r) => setTimeout(r, 50));
    await client.close();
    expect(await within(loop)).toBe("ended");
  });
});

describe("every reply is validated", () => {
  it("dropped > 0 with no records and an unchanged next_cursor, repeated: ProtocolError, not endless drop notices", async () => {
    const { s } = fakeStream((after) => ({ dropped: 5n, nextCursor: after, oldestSeq: 10n, newestSeq: 20n }));
    const [evs, err] = await drain(s);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/next_cursor/);
    expect(evs.length).toBeLessThan(3);
  });

  it("records that do not follow the drop count, a next_cursor behind the records, too many records: ProtocolError", async () => {
    const bad: ((after: bigint, max: number) => ScriptedReply)[] = [
      // 2 dropped: the first record must be after + 3
      (a) => ({ dropped: 2n, records: [fakeRecord(a + 1n)], nextCursor: a + 1n }),
      // next_cursor must be the last record's seq
      (a) => ({ records: [fakeRecord(a + 1n), fakeRecord(a + 2n)], nextCursor: a + 1n }),
      // seq must increase by one inside a batch
      (a) => ({ records: [fakeRecord(a + 1n), fakeRecord(a + 1n)], nextCursor: a + 1n }),
      // more records than asked for
      (a, max) => ({ records: Array.from({ length: max + 1 }, (_, i) => fakeRecord(a + 1n + BigInt(i))), nextCursor: a + BigInt(max + 1) }),
      // a reset carries no drop count
      () => ({ reset: true, dropped: 3n, records: [fakeRecord(1n)], nextCursor: 1n }),
    ];
    for (const [i, reply] of bad.entries()) {
      const { s } = fakeStream((after, call, _w, max) => (call === 1 ? reply(after + 100n, max) : "block"), 4);
      const r = await within(drain(s, 50));
      expect(r, `case ${i}`).not.toBe(TIMEOUT);
      expect((r as [TraceEvent[], unknown])[1], `case ${i}`).toBeInstanceOf(ProtocolError);
      await s.return();
    }
  });

  it("a valid reply with drops and records passes; the stream resumes at next_cursor", async () => {
    const afters: bigint[] = [];
    const { s } = fakeStream((after, call) => {
      afters.push(after);
      if (call === 1) return { dropped: 3n, records: [fakeRecord(4n), fakeRecord(5n)], nextCursor: 5n, oldestSeq: 4n, newestSeq: 5n };
      return "block";
    });
    const a = await s.next();
    const b = await s.next();
    const c = await s.next();
    for (let i = 0; i < 100 && afters.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(a.value).toEqual({ type: "dropped", count: 3n, afterSeq: 0n });
    expect([b.value, c.value].map((e) => (e?.type === "record" ? e.record.seq : -1n))).toEqual([4n, 5n]);
    await s.return();
    expect(afters.slice(0, 2)).toEqual([0n, 5n]);
  });
});

describe("the buffer is bounded in events", () => {
  it("a driver that only reports drops (valid replies) fills the buffer to the high-water mark, then polling pauses", async () => {
    const hwm = 8;
    const { h, s } = fakeStream((after) => ({ dropped: 1n, nextCursor: after + 1n }), hwm);
    const first = await s.next();
    expect(first.value?.type).toBe("dropped");
    await new Promise((r) => setTimeout(r, 100));
    // Without a bound on events the pump keeps polling (and queueing) forever.
    expect(h.calls).toBeLessThanOrEqual(hwm + 2);
    const [evs] = await drain(s, hwm * 4);
    expect(evs.length).toBe(hwm * 4);
    await s.return();
  });
});
