// The ownership timeline at scale: 1M lock spans over 1000 owners go through lockTimeline and
// renderTimeline in linear time and bounded stack (no "Maximum call stack size exceeded" from
// spreading a million widths into Math.max, no owners x records scan).
import { createColors } from "picocolors";
import { describe, expect, it } from "vitest";
import { Reason, RecordKind, type TraceEvent, type TraceRecord } from "../src/client/index.ts";
import { lockTimeline, renderTimeline } from "../src/cli/timeline.ts";

const IOCTL_STORAGE_EJECTION_CONTROL = 0x2d0940;
const SPANS = 1_000_000;
const OWNERS = 1000;

/** Handle h takes a secure lock then drops it; the drive's secure total never falls to 0 (one more holder). */
function* spans(): Generator<TraceEvent> {
  let seq = 0n;
  const rec = (handle: number, reason: number, secureTotal: number): TraceEvent => {
    seq++;
    const record = {
      seq,
      kind: RecordKind.RECORD_KIND_COMPLETION,
      timestamp: seq * 10n,
      driveId: 1,
      handleId: BigInt(handle),
      pid: 4000 + handle,
      openerPid: 4000 + handle,
      openerImage: `p${handle}.exe`,
      ioctlCode: IOCTL_STORAGE_EJECTION_CONTROL,
      normalizedCode: IOCTL_STORAGE_EJECTION_CONTROL,
      status: 0,
      reason,
      secureTotal,
      simpleTotal: 0,
      countReleased: 0,
    } as TraceRecord;
    return { type: "record", record };
  };
  // The keeper (handle 0) holds a lock throughout: the drive total stays above 0.
  yield rec(0, Reason.REASON_LOCK_TAKEN, 1);
  for (let i = 1; i < SPANS; i++) {
    const h = 1 + (i % OWNERS);
    yield rec(h, Reason.REASON_LOCK_TAKEN, 2);
    yield rec(h, Reason.REASON_LOCK_DROPPED, 1);
  }
}

const plain = createColors(false);

describe("timeline at scale", () => {
  it("1M spans: lockTimeline and renderTimeline finish without exhausting the stack", { timeout: 120_000 }, () => {
    const t = lockTimeline(spans());
    expect(t.spans.length).toBe(SPANS);
    expect(t.spans.filter((s) => s.endedBy === "open").length).toBe(1);
    const lines = renderTimeline(t, plain, 10);
    expect(lines.length).toBe(SPANS);
    expect(lines[1]).toMatch(/^p2\.exe:4002 h2 +d1 secure /);
  });
});
