// Trace converters of the command line (pure): JSON Lines round trip and errors, lock spans per
// owner, the Chrome/Perfetto trace-event document, filters and the human line.
import { describe, expect, it } from "vitest";
import { Decision, Reason, RecordKind, type TraceEvent, TraceRecord, normalizeIoctl } from "../src/client/index.ts";
import { CliError } from "../src/cli/errors.ts";
import { createColors } from "picocolors";
import { HumanFormatter, droppedJsonLine, matchesFilter, parseFilter, parseTraceJsonLines, recordJsonLine } from "../src/cli/records.ts";
import { chromeTrace, lockTimeline, lockTrackTid } from "../src/cli/timeline.ts";
import { expectNesting } from "./support/chrome-nesting.ts";

const EJECTION_CONTROL = 0x2d0940;
const MEDIA_REMOVAL = 0x2d4804;
const CDROM_MEDIA_REMOVAL = 0x024804;
const EJECT = 0x2d4808;
let seq = 0n;
let t = 1_000_000n;

function rec(init: Partial<TraceRecord>): TraceEvent {
  seq++;
  t += 100n;
  return { type: "record", record: TraceRecord.create({ seq, timestamp: t, driveId: 1, decision: Decision.DECISION_TRACK, ...init }) };
}

/** A completed request: dispatch (with the input head) + completion. */
function request(o: {
  pid: number;
  image: string;
  handle: bigint;
  code?: number;
  major?: number;
  input?: number[];
  status?: number;
  reason?: Reason;
  secure?: number;
  simple?: number;
  decision?: Decision;
}): TraceEvent[] {
  const requestId = seq + 1n;
  const common = {
    requestId,
    pid: o.pid,
    tid: o.pid + 1,
    openerPid: o.pid,
    openerImage: o.image,
    handleId: o.handle,
    major: o.major ?? 14,
    ioctlCode: o.code ?? 0,
    normalizedCode: normalizeIoctl(o.code ?? 0),
    decision: o.decision ?? Decision.DECISION_TRACK,
    reason: o.reason ?? Reason.REASON_NONE,
    secureTotal: o.secure ?? 0,
    simpleTotal: o.simple ?? 0,
  };
  const d = rec({
    ...common,
    kind: RecordKind.RECORD_KIND_DISPATCH,
    inputHead: Uint8Array.from(o.input ?? []),
    inputLength: o.input?.length ?? 0,
  });
  const c = rec({ ...common, kind: RecordKind.RECORD_KIND_COMPLETION, status: o.status ?? 0, duration: 100n });
  return [d, c];
}

function scenario(): TraceEvent[] {
  seq = 0n;
  t = 1_000_000n;
  const burner = { pid: 4100, image: "burner.exe", handle: 1n };
  const backup = { pid: 4300, image: "backup.exe", handle: 3n };
  const player = { pid: 4200, image: "player.exe", handle: 2n };
  return [
    ...request({ ...burner, code: EJECTION_CONTROL, input: [1], reason: Reason.REASON_LOCK_TAKEN, secure: 1 }),
    ...request({ ...burner, code: EJECTION_CONTROL, input: [1], reason: Reason.REASON_LOCK_TAKEN, secure: 2 }),
    ...request({
      ...player,
      code: EJECT,
      status: 0x80000011,
      reason: Reason.REASON_WOULD_DENY,
      decision: Decision.DECISION_PASS,
      secure: 2,
    }),
    ...request({ ...backup, code: EJECTION_CONTROL, input: [1], reason: Reason.REASON_LOCK_TAKEN, secure: 3 }),
    rec({
      kind: RecordKind.RECORD_KIND_AUTO_RELEASE,
      handleId: 3n,
      pid: 4300,
      openerPid: 4300,
      openerImage: "backup.exe",
      decision: Decision.DECISION_RELEASE,
      reason: Reason.REASON_PROCESS_EXIT,
      countReleased: 1,
      secureTotal: 2,
    }),
    { type: "dropped", count: 5n, afterSeq: seq },
    ...request({ ...burner, code: EJECTION_CONTROL, input: [0], reason: Reason.REASON_LOCK_DROPPED, secure: 1 }),
    ...request({ ...player, code: CDROM_MEDIA_REMOVAL, input: [1], reason: Reason.REASON_LOCK_TAKEN, secure: 1, simple: 1 }),
    // A foreign simple unlock (allowed by cdrom.sys) takes the drive's simple total to 0.
    ...request({
      ...backup,
      handle: 4n,
      code: MEDIA_REMOVAL,
      input: [0],
      reason: Reason.REASON_FOREIGN_SIMPLE_UNLOCK,
      secure: 1,
      simple: 0,
    }),
    ...request({ ...player, major: 3, secure: 1 }),
  ];
}

describe("trace JSON Lines", () => {
  it("round-trips every field (64-bit as strings, enums by name, bytes as base64)", () => {
    const events = scenario();
    const text =
      events.map((e) => (e.type === "record" ? recordJsonLine(e.record) : droppedJsonLine(e.count, e.afterSeq))).join("\n") + "\n";
    const first = JSON.parse(text.split("\n")[0]!);
    expect(first).toMatchObject({
      type: "record",
      seq: "1",
      kind: "RECORD_KIND_DISPATCH",
      inputHead: "AQ==",
      decision: "DECISION_TRACK",
      majorName: "DEVICE_CONTROL",
      ioctlName: "IOCTL_STORAGE_EJECTION_CONTROL",
      statusName: "STATUS_SUCCESS",
    });
    expect(JSON.parse(text.split("\n")[5]!).status).toBe(0x80000011);
    expect(parseTraceJsonLines(text, "t.jsonl")).toEqual(events);
  });

  it("accepts numbers for 64-bit fields and a missing type; names file and line on bad input", () => {
    const [ev] = parseTraceJsonLines('\n{"seq": 7, "kind": 2, "timestamp": 99, "openerImage": "x.exe"}\n', "f");
    expect(ev).toMatchObject({
      type: "record",
      record: { seq: 7n, kind: RecordKind.RECORD_KIND_COMPLETION, timestamp: 99n, openerImage: "x.exe" },
    });
    const bad = (text: string) => {
      try {
        parseTraceJsonLines(text, "f.jsonl");
      } catch (e) {
        expect(e).toBeInstanceOf(CliError);
        expect((e as CliError).exitCode).toBe(3);
        return (e as Error).message;
      }
      throw new Error("no error");
    };
    expect(bad('{"seq":"1"}\n{oops\n')).toMatch(/^f\.jsonl:2: not JSON/);
    expect(bad('{"seq":"1"}\n\n[1]\n')).toMatch(/^f\.jsonl:3: not a JSON object/);
    expect(bad('{"seq":"-1"}')).toMatch(/^f\.jsonl:1: "seq" must be an unsigned 64-bit integer/);
    expect(bad('{"seq":"18446744073709551616"}')).toMatch(/"seq" must be an unsigned 64-bit/);
    expect(bad('{"seq":"1","kind":"RECORD_KIND_NOPE"}')).toMatch(/"kind" is not a known value/);
    expect(bad('{"type":"marker"}')).toMatch(/unknown "type"/);
    expect(bad('{"type":"record"}')).toMatch(/record without "seq"/);
  });
});

describe("lock timeline", () => {
  it("one span per owner handle and lock kind, with how it ended", () => {
    const tl = lockTimeline(scenario());
    expect(tl.records).toBe(17);
    expect(tl.dropped).toBe(5n);
    const spans = tl.spans.map((s) => ({
      image: s.image,
      pid: s.pid,
      handle: s.handleId,
      lock: s.lock,
      end: s.endedBy,
      max: s.maxCount,
      reason: s.releaseReason,
      dur: s.end - s.start,
    }));
    expect(spans).toEqual([
      // two nested secure locks of one handle: one span, until its count is back to 0
      {
        image: "burner.exe",
        pid: 4100,
        handle: 1n,
        lock: "secure",
        end: "open",
        max: 2,
        reason: undefined,
        dur: tl.last - tl.spans[0]!.start,
      },
      { image: "backup.exe", pid: 4300, handle: 3n, lock: "secure", end: "auto-release", max: 1, reason: "PROCESS_EXIT", dur: 100n },
      // CDROM alias normalized to MEDIA_REMOVAL; ended when another caller took the total to 0
      { image: "player.exe", pid: 4200, handle: 2n, lock: "simple", end: "foreign-unlock", max: 1, reason: undefined, dur: 200n },
    ]);
  });

  it("Chrome trace: named processes, a request per request id, a lock span per owner and kind", () => {
    const events = scenario();
    const doc = chromeTrace(events);
    const json = JSON.parse(JSON.stringify(doc)) as typeof doc;
    expect(json.displayTimeUnit).toBe("ms");
    const ev = json.traceEvents;
    expect(ev.filter((e) => e.ph === "M" && e.name === "process_name").map((e) => e.args!.name)).toEqual(
      expect.arrayContaining(["burner.exe (pid 4100)", "player.exe (pid 4200)", "backup.exe (pid 4300)"]),
    );
    const requests = ev.filter((e) => e.cat === "request" && e.ph === "b");
    expect(requests).toHaveLength(8);
    expect(ev.filter((e) => e.cat === "request" && e.ph === "e")).toHaveLength(8);
    expect(requests[0]).toMatchObject({ ph: "b", id: "1", name: "IOCTL_STORAGE_EJECTION_CONTROL TRUE", pid: 4100, tid: 4101, ts: 0 });
    expect(ev.find((e) => e.ph === "e" && e.id === "1")).toMatchObject({ name: "IOCTL_STORAGE_EJECTION_CONTROL TRUE", pid: 4100, ts: 10 });
    expect(requests.find((e) => e.pid === 4200)).toMatchObject({
      name: "IOCTL_STORAGE_EJECT_MEDIA",
      args: { status: "STATUS_DEVICE_BUSY", reason: "WOULD_DENY" },
    });
    const locks = ev.filter((e) => e.cat === "lock");
    expect(locks.map((e) => [e.pid, e.tid, e.args!.lock, e.args!.endedBy])).toEqual([
      [4100, lockTrackTid(1n, "secure"), "secure", "open"],
      [4300, lockTrackTid(3n, "secure"), "secure", "auto-release"],
      [4200, lockTrackTid(2n, "simple"), "simple", "foreign-unlock"],
    ]);
    const backup = locks[1]!;
    expect(backup.ts).toBe(70); // 700 ticks of 100 ns after the first record, in µs
    expect(backup.dur).toBe(10);
    expect(ev.find((e) => e.ph === "M" && e.name === "thread_name" && e.tid === lockTrackTid(3n, "secure"))?.args).toEqual({
      name: "secure locks of handle h3 (drive 1)",
    });
    expect(ev.filter((e) => e.cat === "filter")).toMatchObject([{ pid: 4300, tid: lockTrackTid(3n, "secure"), ts: 80 }]);
    // The drop notice sits at the last record before it (the auto-release, seq 9), not at 0.
    expect(ev.filter((e) => e.cat === "dropped")).toMatchObject([{ ts: 80, args: { count: "5", afterSeq: "9" } }]);
    expectNesting(ev);
  });

  it("lock tracks: one per handle and kind, so a handle's overlapping secure and simple spans nest", () => {
    seq = 0n;
    t = 1_000_000n;
    const burner = { pid: 4100, image: "burner.exe", handle: 1n };
    const events = [
      ...request({ ...burner, code: EJECTION_CONTROL, input: [1], reason: Reason.REASON_LOCK_TAKEN, secure: 1 }),
      ...request({ ...burner, code: MEDIA_REMOVAL, input: [1], reason: Reason.REASON_LOCK_TAKEN, secure: 1, simple: 1 }),
      ...request({ ...burner, code: EJECTION_CONTROL, input: [0], reason: Reason.REASON_LOCK_DROPPED, secure: 0, simple: 1 }),
      ...request({ ...burner, major: 3, secure: 0, simple: 1 }),
    ];
    const ev = chromeTrace(events).traceEvents;
    const locks = ev.filter((e) => e.cat === "lock");
    expect(locks.map((e) => [e.tid, e.args!.lock, e.args!.endedBy])).toEqual([
      [0x4000_0002, "secure", "unlock"],
      [0x4000_0003, "simple", "open"],
    ]);
    expect(ev.filter((e) => e.ph === "M" && e.name === "thread_name" && (e.tid ?? 0) >= 0x4000_0000).map((e) => e.args!.name)).toEqual([
      "secure locks of handle h1 (drive 1)",
      "simple locks of handle h1 (drive 1)",
    ]);
    expectNesting(ev);
  });

  it("requests overlapping on one thread (overlapped I/O) are async events paired by request id", () => {
    seq = 0n;
    t = 1_000_000n;
    const common = { pid: 4100, tid: 4101, openerPid: 4100, openerImage: "burner.exe", handleId: 1n, major: 3 };
    // A dispatched, B dispatched, A completes, B completes: A and B overlap without nesting.
    const events = [
      rec({ ...common, kind: RecordKind.RECORD_KIND_DISPATCH, requestId: 10n }),
      rec({ ...common, kind: RecordKind.RECORD_KIND_DISPATCH, requestId: 11n }),
      rec({ ...common, kind: RecordKind.RECORD_KIND_COMPLETION, requestId: 10n, duration: 200n }),
      rec({ ...common, kind: RecordKind.RECORD_KIND_COMPLETION, requestId: 11n, duration: 200n }),
    ];
    const ev = chromeTrace(events).traceEvents;
    expect(ev.filter((e) => e.cat === "request").map((e) => [e.ph, e.id, e.ts])).toEqual([
      ["b", "10", 0],
      ["e", "10", 20],
      ["b", "11", 10],
      ["e", "11", 30],
    ]);
    expectNesting(ev);
  });
});

describe("filters and the human line", () => {
  it("filters by drive, pid (sender or opener), major and IOCTL (as sent or normalized)", () => {
    const events = scenario()
      .filter((e) => e.type === "record")
      .map((e) => (e as { record: TraceRecord }).record);
    const count = (o: Parameters<typeof parseFilter>[0]) => events.filter((r) => matchesFilter(r, parseFilter(o))).length;
    expect(count({ pid: ["4200"] })).toBe(6);
    expect(count({ major: ["read"] })).toBe(2);
    expect(count({ major: ["IRP_MJ_DEVICE_CONTROL,3"] })).toBe(16);
    expect(count({ ioctl: ["IOCTL_STORAGE_MEDIA_REMOVAL"] })).toBe(4);
    expect(count({ ioctl: ["0x2D4808"], drive: ["1"] })).toBe(2);
    expect(count({ drive: ["2"] })).toBe(0);
    expect(() => parseFilter({ major: ["SIDEWAYS"] })).toThrow(/unknown IRP major function "SIDEWAYS"/);
    expect(() => parseFilter({ ioctl: ["IOCTL_NOPE"] })).toThrow(/unknown control code/);
  });

  it("one line per request in --completed mode, naming argument, decision and status", () => {
    const f = new HumanFormatter(createColors(false), true);
    const lines = scenario()
      .map((e) => f.format(e))
      .filter((l) => l !== undefined);
    expect(lines).toHaveLength(10);
    expect(lines[0]).toMatch(
      /^ +2 {2}\+0\.000010s {2}burner\.exe:4100 +d1 h1 +IOCTL_STORAGE_EJECTION_CONTROL TRUE {2}LOCK_TAKEN {2}STATUS_SUCCESS 10\.0µs {2}\[secure=1 simple=0\]$/,
    );
    expect(lines[2]).toMatch(/player\.exe:4200 .* IOCTL_STORAGE_EJECT_MEDIA {2}WOULD_DENY {2}STATUS_DEVICE_BUSY/);
    expect(lines[4]).toMatch(/⟲ auto-release of 1 secure lock\(s\) {2}PROCESS_EXIT/);
    expect(lines[5]).toBe("!! 5 record(s) dropped after seq 9: the ring overwrote them before this reader got them");
    expect(lines[7]).toMatch(/IOCTL_CDROM_MEDIA_REMOVAL TRUE/);
  });
});
