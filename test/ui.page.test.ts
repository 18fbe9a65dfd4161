// The page's pure modules without a browser: the column store (64-bit values exact), the shared
// filter rules (src/filter) applied to it with per-rule counts, request phrases, and the lock
// tracker behind the timeline and a file's owners table.
import { describe, expect, it } from "vitest";
import { LockTracker } from "../src/ui/locks.ts";
import { COL, type RowTuple } from "../src/ui/protocol.ts";
import { FilterSet } from "../src/ui/page/filter.ts";
import { cdbText, requestName } from "../src/ui/page/format.ts";
import { Store } from "../src/ui/page/store.ts";

function row(seq: number, o: Partial<Record<keyof typeof COL, number | string>> = {}): RowTuple {
  const t: RowTuple = [
    seq,
    2,
    seq,
    seq * 10,
    1,
    1,
    4100,
    1,
    4100,
    4100,
    "burner.exe",
    3,
    0,
    0,
    0,
    0,
    0,
    "",
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    "",
    0,
  ];
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
    const f = new FilterSet();
    f.add("image", false, "*burner*", 1);
    f.add("image", false, "player.exe", 2);
    expect(shown(f)).toEqual([0, 1, 3]);
    f.resetCounts();
    f.add("major", true, "CLEANUP", 3);
    expect(shown(f)).toEqual([0, 1]);
    expect(f.clauses.map((c) => c.matches)).toEqual([2, 1, 1]);
    f.add("pid", false, "4200", 4);
    expect(shown(f)).toEqual([1]);
  });

  it("uses the shared rules (src/filter): IOCTL as sent or normalized, status, decisions, seq and time ranges", () => {
    const one = (field: Parameters<FilterSet["add"]>[0], value: string) => {
      const f = new FilterSet();
      f.add(field, false, value, 1);
      return shown(f);
    };
    expect(one("ioctl", "IOCTL_STORAGE_EJECT_MEDIA")).toEqual([1, 2]);
    expect(one("ioctl", "0x24808")).toEqual([2]); // the CDROM alias as sent
    expect(one("status", "failed")).toEqual([1, 2]); // not NT_SUCCESS: warnings too
    expect(one("status", "STATUS_ACCESS_DENIED")).toEqual([2]);
    expect(one("decision", "DENY")).toEqual([2]);
    expect(one("seq", "2..3")).toEqual([1, 2]);
    expect(one("time", "0..25")).toEqual([0, 1]); // driver ticks
    expect(one("time", "0us..2us")).toEqual([0, 1, 2]); // from the first record
    expect(() => one("status", "STATUS_NOPE")).toThrow(/status/);
    expect(() => one("major", "WRITEZ")).toThrow(/major/);
  });
});

describe("request phrases (CDB through src/client/scsi-decode.ts)", () => {
  it("names the CDB inside a SCSI_PASS_THROUGH input head", () => {
    const spt = new Uint8Array(56);
    spt[0] = 56; // Length
    spt[6] = 6; // CdbLength
    spt.set([0x1b, 0, 0, 0, 2, 0], 36);
    expect(requestName(14, 0x4d004, spt)).toBe(`IOCTL_SCSI_PASS_THROUGH ${cdbText(0x4d004, spt)}`);
    expect(cdbText(0x4d004, spt)).toMatch(/^START STOP UNIT .*LoEj=1 Start=0/);
    expect(cdbText(0x4d004, new Uint8Array(10))).toBeUndefined();
    expect(requestName(14, 0x2d0940, Uint8Array.of(1))).toBe("IOCTL_STORAGE_EJECTION_CONTROL TRUE");
    expect(requestName(3, 0, undefined)).toBe("READ");
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
