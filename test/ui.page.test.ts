// The page's pure modules without a browser: the column store (64-bit values exact), the
// Procmon-style filter semantics and counts, the CDB decode, and the lock tracker behind the
// timeline and a file's owners table.
import { describe, expect, it } from "vitest";
import { LockTracker } from "../src/ui/locks.ts";
import { COL, type RowTuple } from "../src/ui/protocol.ts";
import { FilterSet } from "../src/ui/page/filter.ts";
import { decodeCdb, passThroughCdb, requestName } from "../src/ui/page/format.ts";
import { Store } from "../src/ui/page/store.ts";
import { Decision, Reason, RecordKind } from "../src/client/index.ts";

const enums = {
  kind: RecordKind as unknown as Record<string, number>,
  decision: Decision as unknown as Record<string, number>,
  reason: Reason as unknown as Record<string, number>,
};

function row(seq: number, o: Partial<Record<keyof typeof COL, number | string>> = {}): RowTuple {
  const t: RowTuple = [seq, 2, seq, seq * 10, 1, 1, 4100, 1, 4100, 4100, "burner.exe", 3, 0, 0, 0, 0, 0, "", 0, 0, 0, 0, 1, 0, 0, 0, 0];
  for (const [k, v] of Object.entries(o)) (t as unknown[])[COL[k as keyof typeof COL]] = v;
  return t;
}

describe("column store", () => {
  it("keeps 64-bit values above 2^53 exact and decodes the captured head", () => {
    const s = new Store();
    s.append([row(1, { handleId: "18446744073709551615", inputHead: "AQID" })]);
    const r = s.record(0);
    expect(r.handleId).toBe("18446744073709551615");
    expect([...r.inputHead]).toEqual([1, 2, 3]);
    expect(r.openerImage).toBe("burner.exe");
  });

  it("links a dispatch and its completion by request id", () => {
    const s = new Store();
    s.append([
      row(1, { kind: 1, requestId: 7 }),
      row(2, { kind: 1, requestId: 8 }),
      row(3, { kind: 2, requestId: 8 }),
      row(4, { kind: 2, requestId: 7 }),
    ]);
    expect(s.pair(0)).toBe(3);
    expect(s.pair(3)).toBe(0);
    expect(s.pair(1)).toBe(2);
  });
});

describe("filters", () => {
  const s = new Store();
  s.append([
    row(1, { openerImage: "burner.exe", major: 3 }),
    row(2, {
      openerImage: "player.exe",
      pid: 4200,
      openerPid: 4200,
      major: 14,
      ioctlCode: 0x2d4808,
      normalizedCode: 0x2d4808,
      status: 0x80000010 >>> 0,
    }),
    row(3, {
      openerImage: "ripper.exe",
      pid: 4400,
      openerPid: 4400,
      major: 14,
      ioctlCode: 0x24808,
      normalizedCode: 0x2d4808,
      decision: 3,
      status: 0xc0000022,
    }),
    row(4, { openerImage: "Burner.EXE", major: 18 }),
  ]);
  const shown = (f: FilterSet) => Array.from({ length: s.length }, (_, i) => i).filter((i) => f.test(s, i));

  it("ORs includes of one field, ANDs fields, and excludes win; each clause counts its matches", () => {
    const f = new FilterSet(enums);
    f.add("image", false, "burner", 1, () => 0);
    f.add("image", false, "player", 2, () => 0);
    expect(shown(f)).toEqual([0, 1, 3]);
    f.resetCounts();
    f.add("major", true, "CLEANUP", 3, () => 0);
    expect(shown(f)).toEqual([0, 1]);
    expect(f.clauses.map((c) => c.matches)).toEqual([2, 1, 1]);
    f.add("pid", false, "4200", 4, () => 0);
    expect(shown(f)).toEqual([1]);
  });

  it("matches an IOCTL as sent or normalized, status by name, code or failed, decisions by name", () => {
    const one = (field: Parameters<FilterSet["add"]>[0], value: string) => {
      const f = new FilterSet(enums);
      f.add(field, false, value, 1, () => 0);
      return shown(f);
    };
    expect(one("ioctl", "IOCTL_STORAGE_EJECT_MEDIA")).toEqual([1, 2]);
    expect(one("ioctl", "0x24808")).toEqual([2]);
    expect(one("status", "failed")).toEqual([2]);
    expect(one("status", "STATUS_ACCESS_DENIED")).toEqual([2]);
    expect(one("decision", "DENY")).toEqual([2]);
    expect(one("seq", "2..3")).toEqual([1, 2]);
    expect(() => one("status", "STATUS_NOPE")).toThrow(/status/);
    expect(() => one("major", "WRITEZ")).toThrow(/major: unknown/);
  });
});

describe("CDB decode", () => {
  it("names the opcode and the fields that matter", () => {
    expect(decodeCdb(Uint8Array.from([0x1b, 0, 0, 0, 0x02, 0]))).toBe("START STOP UNIT Immed=0 PowerCondition=0 LoEj=1 Start=0");
    expect(decodeCdb(Uint8Array.from([0x1e, 0, 0, 0, 0x01, 0]))).toBe("PREVENT ALLOW MEDIUM REMOVAL Persistent=0 Prevent=1");
    expect(decodeCdb(Uint8Array.from([0x28, 0, 0, 0, 0, 0x10, 0, 0, 2, 0]))).toBe("READ(10) LBA=16 blocks=2");
    expect(decodeCdb(Uint8Array.from([0xff]))).toBe("opcode 0xFF");
  });

  it("finds the CDB in SCSI_PASS_THROUGH (offset 36) and SCSI_PASS_THROUGH_EX (offset 72) heads", () => {
    const spt = new Uint8Array(56);
    spt[6] = 6;
    spt.set([0x1b, 0, 0, 0, 2, 0], 36);
    expect(requestName(14, 0x4d004, spt)).toBe("IOCTL_SCSI_PASS_THROUGH START STOP UNIT Immed=0 PowerCondition=0 LoEj=1 Start=0");
    const sptx = new Uint8Array(80);
    sptx[12] = 6;
    sptx.set([0x1e, 0, 0, 0, 1, 0], 72);
    expect([...passThroughCdb(0x4d044, sptx)!]).toEqual([0x1e, 0, 0, 0, 1, 0]);
    expect(passThroughCdb(0x4d004, new Uint8Array(10))).toBeUndefined();
  });
});

describe("lock tracker", () => {
  const base = { pid: 4100, openerPid: 4100, image: "burner.exe", status: 0, countReleased: 0, driveId: 1 };
  it("builds a lane per handle and kind, ends them at release, and knows who holds what", () => {
    const t = new LockTracker();
    let row = 0;
    const add = (o: Partial<Parameters<LockTracker["add"]>[0]>) =>
      t.add({ ...base, row: row, seq: ++row, kind: 2, timestamp: row * 100, handleId: 1, normalizedCode: 0, reason: 0, ...o });
    add({ kind: 5 });
    expect(add({ normalizedCode: 0x2d0940, reason: 1 })).toBe(true); // secure +1
    add({ normalizedCode: 0x2d0940, reason: 1 }); // secure 2
    add({ normalizedCode: 0x2d4804, reason: 1 }); // simple 1
    expect(t.held()).toEqual([{ driveId: 1, handleId: 1, pid: 4100, image: "burner.exe", secure: 2, simple: 1, mcn: 0, since: 200 }]);
    add({ kind: 3, countReleased: 2, reason: 12 }); // auto-release of both secure locks
    add({ kind: 6 }); // the handle goes: its simple lock ends there
    expect(t.held()).toEqual([]);
    const secure = t.lanes.find((l) => l.kind === "secure")!;
    expect(secure.segments.map((g) => [g.count, g.start, g.end])).toEqual([
      [1, 200, 300],
      [2, 300, 500],
    ]);
    expect(t.lanes.find((l) => l.kind === "simple")!.segments.map((g) => [g.count, g.startRow, g.endRow])).toEqual([[1, 3, 5]]);
    // A failed lock changes nothing.
    expect(add({ handleId: 2, normalizedCode: 0x2d0940, reason: 9 })).toBe(false);
  });
});
