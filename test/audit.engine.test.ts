/**
 * The audit engine (src/audit/engine.ts) on hand-built traces: the rules the demo scenario does
 * not reach (foreign simple unlock, exclusive access, pass-through ALLOW under observe, drops),
 * owners known only from the start ledger, per-request counting, hold-time thresholds.
 */
import { describe, expect, it } from "vitest";
import { auditTrace } from "../src/audit/engine.ts";
import { defaultRules, parseRules } from "../src/audit/rules.ts";
import { Decision, DriveLedger, LedgerSnapshot, LockOwner, Reason, RecordKind, TraceRecord } from "../src/client/gen/cdfilter.ts";
import type { TraceEvent } from "../src/client/trace-stream.ts";

const SPT = 0x04d004;
const EJECTION_CONTROL = 0x2d0940;
const MEDIA_REMOVAL = 0x2d4804;
const EXCLUSIVE_ACCESS = 0x2d5014 >>> 0;
let seq = 0n;
const rec = (f: Partial<TraceRecord>): TraceEvent => {
  seq++;
  return { type: "record", record: TraceRecord.create({ seq, timestamp: seq * 10_000_000n, driveId: 1, major: 14, ...f }) };
};
/** A request: dispatch + completion with the same id. */
const req = (pid: number, image: string, handle: bigint, f: Partial<TraceRecord>): TraceEvent[] => {
  const id = seq + 1000n;
  const base = { pid, openerPid: pid, openerImage: image, handleId: handle, requestId: id, ...f };
  return [rec({ ...base, kind: RecordKind.RECORD_KIND_DISPATCH }), rec({ ...base, kind: RecordKind.RECORD_KIND_COMPLETION })];
};

describe("auditTrace", () => {
  it("finds each rule once per request and names the lock owners from the start ledger", () => {
    seq = 100n;
    const ledger = LedgerSnapshot.create({
      seq: 100n,
      drives: [
        DriveLedger.create({
          driveId: 1,
          secureTotal: 1,
          owners: [LockOwner.create({ handleId: 7n, pid: 900, imageName: "burner.exe", secureCount: 1 })],
        }),
      ],
    });
    const events: TraceEvent[] = [
      ...req(500, "player.exe", 8n, { ioctlCode: MEDIA_REMOVAL, inputHead: Uint8Array.of(0), reason: Reason.REASON_FOREIGN_SIMPLE_UNLOCK }),
      ...req(500, "player.exe", 8n, { ioctlCode: EXCLUSIVE_ACCESS, reason: Reason.REASON_EXCLUSIVE_ACCESS }),
      // Pass-through PREVENT ALLOW MEDIUM REMOVAL prevent=0 under observe: WOULD_DENY.
      ...req(600, "ripper.exe", 9n, { ioctlCode: SPT, reason: Reason.REASON_WOULD_DENY }),
      ...req(600, "ripper.exe", 9n, {
        ioctlCode: EJECTION_CONTROL,
        inputHead: Uint8Array.of(0),
        reason: Reason.REASON_FOREIGN_SECURE_UNLOCK,
        decision: Decision.DECISION_DENY,
        status: 0xc0000184,
      }),
      { type: "dropped", count: 3n, afterSeq: seq },
    ];
    seq += 3n;
    events.push(
      rec({ kind: RecordKind.RECORD_KIND_AUTO_RELEASE, handleId: 7n, pid: 4, reason: Reason.REASON_PROCESS_EXIT, countReleased: 1 }),
    );
    const r = auditTrace(events, defaultRules(), ledger);
    const by = Object.fromEntries(
      r.processes.map((p) => [
        `${p.image}:${p.pid}`,
        Object.fromEntries(p.rules.filter((v) => v.verdict !== "pass").map((v) => [v.rule, [v.verdict, v.count]])),
      ]),
    );
    expect(by).toEqual({
      "player.exe:500": { "foreign-simple-unlock": ["fail", 1], "exclusive-access-conflict": ["warn", 1] },
      "ripper.exe:600": { "passthrough-bypass": ["fail", 1], "foreign-secure-unlock": ["fail", 1], denied: ["warn", 1] },
      // The owner is known only from the ledger: the auto-release is charged to it, not to pid 4.
      "burner.exe:900": { "secure-lock-not-released": ["fail", 1] },
      "(trace):0": { drops: ["warn", 1] },
    });
    const ripper = r.processes.find((p) => p.pid === 600)!;
    expect(ripper.rules.find((v) => v.rule === "foreign-secure-unlock")!.findings[0]!.text).toContain(
      "under the lock of burner.exe (pid 900)",
    );
    expect(r.dropped).toBe(3n);
    expect(r.failed).toBe(4);
  });

  it("hold-time compares the longest span with the image's threshold", () => {
    seq = 0n;
    const events = [
      ...req(100, "a.exe", 1n, {
        ioctlCode: EJECTION_CONTROL,
        inputHead: Uint8Array.of(1),
        reason: Reason.REASON_LOCK_TAKEN,
        secureTotal: 1,
      }),
      ...Array.from({ length: 20 }, () => rec({ kind: RecordKind.RECORD_KIND_HANDLE_OPEN, pid: 1 })),
      ...req(100, "a.exe", 1n, { ioctlCode: EJECTION_CONTROL, inputHead: Uint8Array.of(0), reason: Reason.REASON_LOCK_DROPPED }),
    ];
    const strict = parseRules(
      "version: 1\nrules: { hold-time: fail }\nthresholds: { max-hold-seconds: 10 }\nimages:\n  - match: b.exe\n    thresholds: { max-hold-seconds: 1000 }\n",
      "r.yaml",
    );
    const a = auditTrace(events, strict).processes.find((p) => p.pid === 100)!;
    const hold = a.rules.find((v) => v.rule === "hold-time")!;
    expect(hold.value).toBeGreaterThan(10);
    expect(hold.verdict).toBe("fail");
    const relaxed = parseRules("version: 1\nrules: { hold-time: fail }\nthresholds: { max-hold-seconds: 1000 }\n", "r.yaml");
    expect(
      auditTrace(events, relaxed)
        .processes.find((p) => p.pid === 100)!
        .rules.find((v) => v.rule === "hold-time")!.verdict,
    ).toBe("pass");
  });
});
