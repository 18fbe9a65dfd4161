// The shared trace filter (src/filter/): Procmon's combination of include/exclude rules, every
// field's value forms, and the syntax errors (CLI: usage error, exit 2).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Decision, Reason, RecordKind, TraceRecord } from "../src/client/gen/cdfilter.ts";
import { CliError, ExitCode } from "../src/cli/errors.ts";
import { parseFilter } from "../src/cli/records.ts";
import { FILTER_FIELDS, FilterSyntaxError, compileFilter, formatRule, parseRule, parseRules } from "../src/filter/index.ts";

const EJECTION_CONTROL = 0x2d0940;
const CDROM_MEDIA_REMOVAL = 0x024804;
const MEDIA_REMOVAL = 0x2d4804;

function r(init: Partial<TraceRecord>): TraceRecord {
  return TraceRecord.create({ driveId: 1, kind: RecordKind.RECORD_KIND_DISPATCH, decision: Decision.DECISION_TRACK, ...init });
}

const base = 10_000_000n;
const RECORDS: TraceRecord[] = [
  r({ seq: 1n, timestamp: base, pid: 100, openerPid: 100, openerImage: "Explorer.EXE", major: 0, handleId: 1n }),
  r({
    seq: 2n,
    timestamp: base + 5_000_000n, // +0.5 s
    pid: 100,
    openerPid: 100,
    openerImage: "Explorer.EXE",
    major: 14,
    ioctlCode: EJECTION_CONTROL,
    normalizedCode: EJECTION_CONTROL,
    handleId: 1n,
  }),
  r({
    seq: 3n,
    timestamp: base + 10_000_000n, // +1 s
    kind: RecordKind.RECORD_KIND_COMPLETION,
    pid: 200,
    openerPid: 200,
    openerImage: "burner.exe",
    major: 14,
    ioctlCode: CDROM_MEDIA_REMOVAL,
    normalizedCode: MEDIA_REMOVAL,
    status: 0xc0000022,
    decision: Decision.DECISION_DENY,
    reason: Reason.REASON_FOREIGN_SECURE_UNLOCK,
    handleId: 2n,
    driveId: 2,
  }),
  r({
    seq: 4n,
    timestamp: base + 20_000_000n, // +2 s
    kind: RecordKind.RECORD_KIND_COMPLETION,
    pid: 300,
    openerPid: 200, // sent by 300 on a handle 200 opened
    openerImage: "burner.exe",
    major: 3,
    status: 0,
    handleId: 2n,
    driveId: 2,
  }),
];

/** The seqs the rules let through. */
function seqs(include: string[] = [], exclude: string[] = []): number[] {
  const f = compileFilter(parseRules({ include, exclude }));
  return RECORDS.filter((x) => f.matches(x)).map((x) => Number(x.seq));
}

describe("combination (Procmon semantics)", () => {
  it("no rules: everything", () => {
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(compileFilter([]).empty).toBe(true);
  });
  it("includes of one field are OR'ed", () => {
    expect(seqs(["pid=100", "pid=300"])).toEqual([1, 2, 4]);
    expect(seqs(["pid=100,300"])).toEqual([1, 2, 4]);
  });
  it("different fields are AND'ed", () => {
    expect(seqs(["pid=200", "major=READ"])).toEqual([4]);
    expect(seqs(["image=explorer.exe", "drive=2"])).toEqual([]);
  });
  it("excludes win over includes", () => {
    expect(seqs(["pid=100"], ["major=CREATE"])).toEqual([2]);
    expect(seqs(["seq=1..4"], ["seq=1..4"])).toEqual([]);
    expect(seqs([], ["image=burner.exe", "handle=h1"])).toEqual([]);
  });
});

describe("fields", () => {
  it("drive: id or d<id>", () => {
    expect(seqs(["drive=2"])).toEqual([3, 4]);
    expect(seqs(["drive=d1"])).toEqual([1, 2]);
  });
  it("pid: the sender or the handle's opener", () => {
    expect(seqs(["pid=200"])).toEqual([3, 4]);
    expect(seqs(["pid=300"])).toEqual([4]);
  });
  it("image: case-insensitive, * and ? wildcards, commas are part of the name", () => {
    expect(seqs(["image=explorer.exe"])).toEqual([1, 2]);
    expect(seqs(["image=*BURN*"])).toEqual([3, 4]);
    expect(seqs(["image=burne?.exe"])).toEqual([3, 4]);
    expect(seqs(["image=a,b.exe"])).toEqual([]);
    expect(seqs(["image=.*"])).toEqual([]); // regex characters are literal
  });
  it("major: name, IRP_MJ_ name or number", () => {
    expect(seqs(["major=irp_mj_device_control"])).toEqual([2, 3]);
    expect(seqs(["major=0x3"])).toEqual([4]);
    expect(seqs(["major=0"])).toEqual([1]);
  });
  it("ioctl: name, alias, code as sent or normalized", () => {
    expect(seqs(["ioctl=IOCTL_STORAGE_MEDIA_REMOVAL"])).toEqual([3]);
    expect(seqs(["ioctl=cdrom_media_removal"])).toEqual([3]);
    expect(seqs(["ioctl=0x2D0940"])).toEqual([2]);
    expect(seqs(["ioctl=2951488"])).toEqual([2]);
  });
  it("status: failed, success, name (STATUS_ optional) or code; only records that carry one", () => {
    expect(seqs(["status=failed"])).toEqual([3]);
    expect(seqs(["status=success"])).toEqual([4]);
    expect(seqs(["status=ACCESS_DENIED"])).toEqual([3]);
    expect(seqs(["status=STATUS_SUCCESS"])).toEqual([4]); // dispatches carry no status
    expect(seqs(["status=0xC0000022"])).toEqual([3]);
    expect(seqs([], ["status=failed"])).toEqual([1, 2, 4]);
  });
  it("decision, reason, kind: names with or without prefix, or numbers", () => {
    expect(seqs(["decision=deny"])).toEqual([3]);
    expect(seqs(["decision=DECISION_TRACK"])).toEqual([1, 2, 4]);
    expect(seqs(["reason=FOREIGN_SECURE_UNLOCK"])).toEqual([3]);
    expect(seqs(["reason=3"])).toEqual([3]);
    expect(seqs(["kind=completion"])).toEqual([3, 4]);
  });
  it("handle: id or h<id>", () => {
    expect(seqs(["handle=h2"])).toEqual([3, 4]);
    expect(seqs(["handle=1"])).toEqual([1, 2]);
  });
  it("seq: single, closed and open ranges", () => {
    expect(seqs(["seq=2"])).toEqual([2]);
    expect(seqs(["seq=2..3"])).toEqual([2, 3]);
    expect(seqs(["seq=3.."])).toEqual([3, 4]);
    expect(seqs(["seq=..2"])).toEqual([1, 2]);
    expect(seqs(["seq=1,4"])).toEqual([1, 4]);
  });
  it("time: driver ticks, or a unit from the first record", () => {
    expect(seqs([`time=${base + 5_000_000n}..${base + 10_000_000n}`])).toEqual([2, 3]);
    expect(seqs(["time=0.5s..1s"])).toEqual([2, 3]);
    expect(seqs(["time=500ms.."])).toEqual([2, 3, 4]);
    expect(seqs(["time=..1500000us"])).toEqual([1, 2, 3]);
    expect(seqs(["time=1min.."])).toEqual([]);
    // an explicit origin
    const f = compileFilter([parseRule("include", "time=..0.5s")], { timeBase: base + 5_000_000n });
    expect(RECORDS.filter((x) => f.matches(x)).map((x) => Number(x.seq))).toEqual([1, 2, 3]);
  });
  it("every documented field parses", () => {
    const sample: Record<string, string> = {
      drive: "1",
      pid: "1",
      image: "a.exe",
      major: "READ",
      ioctl: "IOCTL_STORAGE_EJECT_MEDIA",
      status: "failed",
      decision: "PASS",
      reason: "NONE",
      kind: "DISPATCH",
      handle: "1",
      time: "1s..",
      seq: "1..",
    };
    for (const f of FILTER_FIELDS) {
      const rule = parseRule("exclude", `${f}=${sample[f]}`);
      expect(formatRule(rule)).toBe(`exclude ${f}=${sample[f]}`);
    }
  });
});

describe("errors", () => {
  const bad: Array<[string, RegExp]> = [
    ["pid", /not FIELD=VALUE/],
    ["=3", /not FIELD=VALUE/],
    ["colour=red", /unknown filter field "colour"/],
    ["pid=", /has no value/],
    ["pid=abc", /"abc" is not an unsigned 32-bit integer/],
    ["pid=4294967296", /past 2\^32-1/],
    ["major=SIDEWAYS", /unknown IRP major function "SIDEWAYS"/],
    ["major=28", /unknown IRP major function/],
    ["ioctl=IOCTL_NOPE", /unknown control code/],
    ["status=STATUS_BOGUS", /unknown NTSTATUS/],
    ["decision=MAYBE", /unknown decision "MAYBE"/],
    ["seq=..", /empty range/],
    ["seq=1..x", /not an unsigned 64-bit integer/],
    ["time=1s..500", /both ends of a time range/],
    ["time=1.5", /whole number of 100 ns ticks/],
    ["time=3 days", /not a time/],
    ["handle=-1", /not an unsigned 64-bit integer/],
  ];
  it.each(bad)("%s", (text, message) => {
    let err: unknown;
    try {
      parseRule("include", text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FilterSyntaxError);
    expect((err as FilterSyntaxError).message).toMatch(message);
    expect((err as FilterSyntaxError).hint.length).toBeGreaterThan(10);
  });

  it("the command line turns them into usage errors (exit 2) and keeps the include-only options", () => {
    let err: unknown;
    try {
      parseFilter({ exclude: ["image"] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(ExitCode.USAGE);
    const f = parseFilter({ pid: ["100"], major: ["DEVICE_CONTROL"], exclude: ["seq=1"] });
    expect(RECORDS.filter((x) => f.matches(x)).map((x) => Number(x.seq))).toEqual([2]);
  });
});

describe("bundling", () => {
  it("src/filter and src/client/scsi-decode.ts import no Node API and no package (a browser bundle can take them)", () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)) {
        const spec = m[1]!;
        if (!spec.startsWith(".")) bad.push(`${file}: ${spec}`);
        else walk(resolve(dirname(file), spec));
      }
      if (/\brequire\(|process\.|import\.meta/.test(text)) bad.push(`${file}: uses require/process/import.meta`);
    };
    const root = join(import.meta.dirname, "..", "src");
    walk(join(root, "filter", "index.ts"));
    walk(join(root, "client", "scsi-decode.ts"));
    expect(bad).toEqual([]);
    expect(seen.size).toBeGreaterThan(5);
  });
});
