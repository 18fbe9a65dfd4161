// A drive the filter sits on but the core could not register (more drives than it holds):
// `cdfilter drives` lists it as present but not tracked, and `cdfilter trace` shows its
// DRIVE_NOT_TRACKED record with the drive's name, human and JSON (driver/core/cdf_core.h,
// cdf_core_add_untracked_drive; the C side is covered by test/c/core_unit.c and the KMDF
// harness scenario more-drives-than-the-core-holds).
import { createColors } from "picocolors";
import { describe, expect, it } from "vitest";
import { Decision, DriveInfo, DrivesReply, Policy, Reason, RecordKind, TraceRecord, UntrackedDrive } from "../src/client/index.ts";
import { drivesJson, drivesLines } from "../src/cli/commands/status.ts";
import { HumanFormatter, parseTraceJsonLine, recordJsonLine } from "../src/cli/records.ts";

const c = createColors(false);

function reply(untrackedPresent: number, names: string[]): DrivesReply {
  return DrivesReply.create({
    drives: [DriveInfo.create({ driveId: 1, name: "CdRom0", policy: Policy.POLICY_OBSERVE, openHandles: 2 })],
    untracked: names.map((name, i) => UntrackedDrive.create({ name, since: BigInt(1000 + i) })),
    untrackedPresent,
    untrackedTotal: BigInt(untrackedPresent),
  });
}

describe("drives: present but not tracked", () => {
  it("lists an untracked drive in the table and says its I/O passes untraced", () => {
    const text = drivesLines(reply(1, ["CdRom16"]), { c }).join("\n");
    const row = text.split("\n").find((l) => l.includes("CdRom16"));
    expect(row).toMatch(/NOT TRACKED/);
    expect(text).toMatch(/1 drive\(s\) present but not tracked/);
    expect(text).not.toMatch(/more than listed/);
  });

  it("says how many more are present than the reply lists", () => {
    const text = drivesLines(reply(10, ["CdRom18", "CdRom19"]), { c }).join("\n");
    expect(text).toMatch(/10 drive\(s\) present but not tracked.*8 more than listed/);
  });

  it("prints nothing extra when every drive is tracked", () => {
    const lines = drivesLines(reply(0, []), { c });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/not tracked/i);
  });

  it("--json marks tracked and untracked drives", () => {
    const j = drivesJson(reply(1, ["CdRom16"])) as { name: string; tracked: boolean; driveId: number; since?: string }[];
    expect(j.map((d) => [d.name, d.tracked, d.driveId])).toEqual([
      ["CdRom0", true, 1],
      ["CdRom16", false, 0],
    ]);
    expect(j[1]?.since).toBe("1000");
  });
});

describe("trace: DRIVE_NOT_TRACKED record", () => {
  const rec = TraceRecord.create({
    seq: 7n,
    kind: RecordKind.RECORD_KIND_DRIVE_NOT_TRACKED,
    timestamp: 5n,
    decision: Decision.DECISION_PASS,
    reason: Reason.REASON_DRIVE_NOT_TRACKED,
    driveName: "CdRom16",
  });

  it("the human line names the drive", () => {
    const line = new HumanFormatter(c).format({ type: "record", record: rec });
    expect(line).toMatch(/drive CdRom16 not tracked/);
    expect(line).toMatch(/DRIVE_NOT_TRACKED/);
  });

  it("the JSON line carries driveName and reads back", () => {
    const line = recordJsonLine(rec);
    const o = JSON.parse(line) as { kind: string; driveName: string; reason: string };
    expect(o.kind).toBe("RECORD_KIND_DRIVE_NOT_TRACKED");
    expect(o.reason).toBe("REASON_DRIVE_NOT_TRACKED");
    expect(o.driveName).toBe("CdRom16");
    const back = parseTraceJsonLine(line, "x.jsonl", 1);
    expect(back.type === "record" && back.record.driveName).toBe("CdRom16");
  });
});
