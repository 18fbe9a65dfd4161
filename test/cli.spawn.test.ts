// The real `cdfilter` (bin/cdfilter.js under node) against the embedded simulator: output, exit
// codes and the files it writes. Each spawn costs about a second (tsx), so assertions are grouped
// and independent runs go in parallel.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ChromeEvent } from "../src/cli/timeline.ts";
import { expectNesting } from "./cli.chrome-nesting.ts";

const BIN = join(import.meta.dirname, "..", "bin", "cdfilter.js");
const dir = mkdtempSync(join(tmpdir(), "cdfilter-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cdfilter(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: join(import.meta.dirname, ".."),
        env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, CDFILTER_TRANSPORT: undefined, ...env },
        maxBuffer: 256 * 1024 * 1024,
      },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

const f = (name: string) => join(dir, name);
const json = (name: string) => JSON.parse(readFileSync(f(name), "utf8"));

describe("cdfilter demo (the main job)", () => {
  it("streams the trace, ends with the timeline and the verdicts, writes every report", async () => {
    const r = await cdfilter([
      "demo",
      "--step-delay",
      "0",
      "--json-out",
      f("d.json"),
      "--junit-out",
      f("d.xml"),
      "--chrome-out",
      f("d.chrome.json"),
      "--trace-out",
      f("d.jsonl"),
    ]);
    expect(r.stderr).not.toMatch(/cdfilter:/);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).not.toMatch(/\x1b\[/); // not a TTY: no colour
    for (const want of [
      /▶ {2}1 burner lock/,
      /burner\.exe:4100 +d1 h1 +IOCTL_STORAGE_EJECTION_CONTROL TRUE {2}LOCK_TAKEN {2}STATUS_SUCCESS/,
      /player\.exe:4200 .*IOCTL_STORAGE_EJECT_MEDIA {2}WOULD_DENY {2}STATUS_DEVICE_BUSY/,
      /player\.exe:4200 .*IOCTL_STORAGE_EJECTION_CONTROL FALSE {2}FOREIGN_SECURE_UNLOCK {2}STATUS_INVALID_DEVICE_STATE/,
      /backup\.exe:4300 .*⟲ auto-release of 1 secure lock\(s\) {2}PROCESS_EXIT/,
      /ripper\.exe:4400 .*IOCTL_SCSI_PASS_THROUGH START STOP UNIT LoEj=1 Start=0 \(eject\) {2}DENY PASSTHROUGH_EJECT_UNDER_LOCK {2}STATUS_DEVICE_BUSY/,
      /Ownership timeline/,
      /burner\.exe:4100 h1 +d1 secure .*unlocked by owner/,
      /backup\.exe:4300 h\d+ +d1 secure .*auto-released \(process exit\)/,
      /ripper\.exe:4400 h\d+ +d1 simple .*leak released at close/,
      /Audit verdicts/,
      /13 of 13 step\(s\) passed/,
    ])
      expect(out).toMatch(want);
    // The timeline comes after every step, the verdict table last.
    expect(out.indexOf("▶ 13")).toBeLessThan(out.indexOf("Ownership timeline"));
    expect(out.indexOf("Ownership timeline")).toBeLessThan(out.indexOf("Audit verdicts"));

    const report = json("d.json");
    expect(report).toMatchObject({ scenario: { name: "burner, player and a crash" }, transport: "simulator", passed: 13, failed: 0 });
    expect(report.steps[2]).toMatchObject({ index: 3, label: "player eject", passed: true, status: "STATUS_DEVICE_BUSY" });

    const xml = readFileSync(f("d.xml"), "utf8");
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="cdfilter audit" tests="13" failures="0" errors="0"/);
    expect(xml.match(/<testcase /g)).toHaveLength(13);
    expect(xml).toContain('name="step 8: ripper passthrough-eject" file=');

    const chrome = json("d.chrome.json");
    const locks = chrome.traceEvents.filter((e: { cat?: string }) => e.cat === "lock");
    expect(locks.map((e: { args: Record<string, unknown> }) => [e.args.owner, e.args.lock, e.args.endedBy])).toEqual([
      ["burner.exe", "secure", "unlock"],
      ["backup.exe", "secure", "auto-release"],
      ["ripper.exe", "simple", "leak-release"],
    ]);
    for (const l of locks) {
      expect(l.ph).toBe("X");
      expect(l.dur).toBeGreaterThan(0);
    }
    const requests = chrome.traceEvents.filter((e: { cat?: string; ph: string }) => e.cat === "request" && e.ph === "b");
    expect(requests.length).toBeGreaterThanOrEqual(20);
    expect(
      requests.some(
        (e: { name: string; args: { decision: string } }) => e.name.startsWith("IOCTL_SCSI_PASS_THROUGH") && e.args.decision === "DENY",
      ),
    ).toBe(true);

    const lines = readFileSync(f("d.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => Number(l.seq))).toEqual(lines.map((_, i) => i + 1));
  });
});

describe("cdfilter audit", () => {
  it("a failing expectation: FAIL in the table, exit 1, JUnit <failure>; a bad file: exit 3 naming line and step", async () => {
    writeFileSync(
      f("fail.yaml"),
      `name: wrong expectation
processes:
  burner: {}
  player: {}
steps:
  - burner: lock
    expect: { status: STATUS_SUCCESS, owner: burner }
  - player: eject
    expect: { status: STATUS_SUCCESS }
`,
    );
    writeFileSync(
      f("bad.yaml"),
      `processes:\n  burner: {}\nsteps:\n  - burner: lock\n    expect: { status: STATUS_SUCCESS }\n  - plyer: eject\n`,
    );
    const [fail, bad, badJson] = await Promise.all([
      cdfilter(["audit", f("fail.yaml"), "--junit-out", f("fail.xml"), "--json-out", f("fail.json")]),
      cdfilter(["audit", f("bad.yaml"), "--junit-out", f("bad.xml")]),
      cdfilter(["--json", "audit", f("fail.yaml")]),
    ]);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/1 +burner lock +STATUS_SUCCESS, owner=burner +PASS/);
    expect(fail.stdout).toMatch(/2 +player eject +STATUS_SUCCESS +FAIL/);
    expect(fail.stdout).toMatch(/step 2 \(player eject, line 8\): status: expected STATUS_SUCCESS, got STATUS_DEVICE_BUSY/);
    expect(fail.stdout).toMatch(/1 of 2 step\(s\) passed \(1 failing\)/);
    const xml = readFileSync(f("fail.xml"), "utf8");
    expect(xml).toContain('tests="2" failures="1" errors="0"');
    expect(xml).toContain('<failure message="status: expected STATUS_SUCCESS, got STATUS_DEVICE_BUSY" type="expectation">');
    expect(json("fail.json")).toMatchObject({
      passed: 1,
      failed: 1,
      steps: [{ passed: true }, { passed: false, line: 8, checks: [{ field: "status", ok: false, actual: "STATUS_DEVICE_BUSY" }] }],
    });

    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ passed: 1, failed: 1 });

    expect(bad.code).toBe(3);
    expect(bad.stdout).toBe("");
    const errLines = bad.stderr.trim().split("\n");
    expect(errLines).toEqual([
      `cdfilter: ${f("bad.yaml")}:6:5: step 2: unknown process "plyer" (declared: burner)`,
      "hint: declare it under `processes`, or use a step key: expect, drive, handle, repeat, note",
    ]);
  });
});

describe("cdfilter trace, export, locks, eject", () => {
  it("trace --json under a burst: contiguous JSON Lines; filters; export to Chrome trace", async () => {
    const [all, reads, limited, human] = await Promise.all([
      cdfilter(["trace", "--json", "--burst", "1000"]),
      cdfilter(["trace", "--json", "--burst", "300", "--major", "READ", "--pid", "7000"]),
      cdfilter(["trace", "--json", "--burst", "300", "--limit", "10"]),
      cdfilter(["trace", "--scenario", "scenarios/demo.yaml", "--ioctl", "IOCTL_STORAGE_EJECTION_CONTROL", "--completed"]),
    ]);
    expect(all.code).toBe(0);
    const recs = all.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(recs.length).toBeGreaterThanOrEqual(2000);
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => String(i + 1)));
    expect(recs.filter((r) => r.majorName === "READ" && r.kind === "RECORD_KIND_COMPLETION")).toHaveLength(1000);
    expect(all.stderr).toMatch(/transport: simulator/);

    const rs = reads.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rs).toHaveLength(600);
    expect(rs.every((r) => r.majorName === "READ" && r.pid === 7000)).toBe(true);
    expect(limited.stdout.trim().split("\n")).toHaveLength(10);
    expect(limited.code).toBe(0);

    const h = human.stdout.trim().split("\n");
    expect(h).toHaveLength(4); // burner lock, player unlock, backup lock, burner unlock: one line per request
    expect(h.every((l) => /IOCTL_STORAGE_EJECTION_CONTROL (TRUE|FALSE)/.test(l))).toBe(true);

    writeFileSync(f("burst.jsonl"), all.stdout);
    const [exp, badExp] = await Promise.all([
      cdfilter(["export", f("burst.jsonl"), "--chrome", f("burst.chrome.json"), "--jsonl", f("burst.copy.jsonl")]),
      cdfilter(["export", "-", "--chrome", f("never.json")], {}, '{"seq":"1"}\n{"seq": "x"}\n'),
    ]);
    expect(exp.code).toBe(0);
    expect(readFileSync(f("burst.copy.jsonl"), "utf8")).toBe(all.stdout);
    const chrome = json("burst.chrome.json");
    expect(
      chrome.traceEvents.filter(
        (e: { cat?: string; name: string; ph: string }) => e.cat === "request" && e.name === "READ" && e.ph === "b",
      ),
    ).toHaveLength(1000);
    expectNesting(chrome.traceEvents);
    expect(badExp.code).toBe(3);
    expect(badExp.stderr).toMatch(/^cdfilter: \(stdin\):2: "seq" must be an unsigned 64-bit integer/);
  });

  it("trace --limit under a paced burst stops the burst and exits with exactly N records", async () => {
    // The burst is paced by the reader: before the fix it waited forever for a reader that had
    // stopped at --limit. 3000 reads are far more than one ring window.
    const r = await cdfilter(["trace", "--burst", "3000", "--limit", "10", "--json"]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(10);
    expect(lines.every((l) => l.type === "record")).toBe(true);
    expect(r.stderr).toMatch(/10 record\(s\) printed/);
  }, 30_000);

  it("Chrome export of a handle holding both lock kinds: a track per kind, X events nest", async () => {
    // burner-holds.yaml takes a secure then a simple lock on one handle; the second scenario
    // also releases the secure one first, so the two spans overlap without nesting.
    writeFileSync(
      f("overlap.yaml"),
      readFileSync("scenarios/burner-holds.yaml", "utf8") +
        "  - burner: unlock\n    expect: { status: STATUS_SUCCESS, secure: 0, simple: 1 }\n  - burner: read\n    expect: { status: STATUS_SUCCESS }\n",
    );
    const [holds, overlap] = await Promise.all([
      cdfilter(["export", "--scenario", "scenarios/burner-holds.yaml", "--chrome", f("holds.chrome.json")]),
      cdfilter(["export", "--scenario", f("overlap.yaml"), "--chrome", f("overlap.chrome.json")]),
    ]);
    expect(holds.code).toBe(0);
    expect(overlap.code).toBe(0);
    for (const file of ["holds.chrome.json", "overlap.chrome.json"]) {
      const ev = json(file).traceEvents as ChromeEvent[];
      expectNesting(ev);
      const locks = ev.filter((e) => e.cat === "lock");
      expect(locks.map((e) => e.args!.lock)).toEqual(["secure", "simple"]);
      expect(new Set(locks.map((e) => e.tid)).size).toBe(2);
      const names = ev.filter((e) => e.ph === "M" && e.name === "thread_name" && (e.tid ?? 0) >= 0x4000_0000).map((e) => e.args!.name);
      expect(names).toEqual(["secure locks of handle h1 (drive 1)", "simple locks of handle h1 (drive 1)"]);
    }
  }, 30_000);

  it("trace --no-pace overflows the ring and shows the drops in the stream", async () => {
    const r = await cdfilter(["--sim-ring", "65536", "trace", "--json", "--burst", "20000", "--no-pace"]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const drops = lines.filter((l) => l.type === "dropped");
    expect(drops.length).toBeGreaterThan(0);
    const records = lines.filter((l) => l.type === "record").length;
    const dropped = drops.reduce((n, d) => n + Number(d.count), 0);
    // Every sequence number is either delivered or counted as dropped.
    expect(records + dropped).toBe(Number(lines.at(-1).seq));
    expect(r.stderr).toMatch(new RegExp(`${records} record\\(s\\) printed, ${dropped} dropped`));
  });

  it("locks and a refused eject name the owner; decode; info", async () => {
    const [locks, eject, decode, info, policy] = await Promise.all([
      cdfilter(["--json", "locks", "--scenario", "scenarios/burner-holds.yaml"]),
      cdfilter(["eject", "--scenario", "scenarios/burner-holds.yaml"]),
      cdfilter(["--json", "decode", "0x2D4808", "storage_ejection_control", "0x8CDF2000"]),
      cdfilter(["--json", "info"]),
      cdfilter(["policy", "enforce", "--drive", "2"]),
    ]);
    expect(locks.code).toBe(0);
    const l = JSON.parse(locks.stdout);
    expect(l.drives[0]).toMatchObject({
      driveId: 1,
      name: "CdRom0",
      secureTotal: 1,
      simpleTotal: 1,
      owners: [{ pid: 4100, imageName: "burner.exe", secureCount: 1, simpleCount: 1 }],
    });
    expect(l.drives[0].owners[0].sinceIso).toMatch(/^\d{4}-\d\d-\d\dT/);

    expect(eject.code).toBe(1);
    expect(eject.stdout).toMatch(
      /eject \(IOCTL_STORAGE_EJECT_MEDIA\) on CdRom0 as cdfilter\.exe:\d+: STATUS_DEVICE_BUSY \(0x80000011, Win32 error 170\)/,
    );
    expect(eject.stdout).toMatch(/blocked by:\n {2}burner\.exe pid 4100 handle h1: secure 1, simple 1/);

    expect(decode.code).toBe(0);
    expect(
      JSON.parse(decode.stdout).map((d: { name: string | null; deviceTypeName: string; methodName: string; accessName: string }) => [
        d.name,
        d.deviceTypeName,
        d.methodName,
        d.accessName,
      ]),
    ).toEqual([
      ["IOCTL_STORAGE_EJECT_MEDIA", "FILE_DEVICE_MASS_STORAGE", "METHOD_BUFFERED", "FILE_READ_ACCESS"],
      ["IOCTL_STORAGE_EJECTION_CONTROL", "FILE_DEVICE_MASS_STORAGE", "METHOD_BUFFERED", "FILE_ANY_ACCESS"],
      [null, "custom 0x8CDF", "METHOD_BUFFERED", "FILE_ANY_ACCESS"],
    ]);
    expect(JSON.parse(info.stdout)).toMatchObject({ transport: "simulator", host: "HOST_KIND_SIMULATOR", compatible: true });
    expect(policy.code).toBe(0);
    expect(policy.stdout).toMatch(/2 +enforce/);
  });
});

describe("usage errors, exit codes and colour", () => {
  it("one line with a hint, documented exit codes; colour only when asked, NO_COLOR wins", async () => {
    const [unknown, noActivity, badDrives, badMajor, forced, noColor, flag] = await Promise.all([
      cdfilter(["frobnicate"]),
      cdfilter(["trace"]),
      cdfilter(["--sim-drives", "99", "drives"]),
      cdfilter(["trace", "--burst", "1", "--major", "SIDEWAYS"]),
      cdfilter(["decode", "0x2D4808"], { FORCE_COLOR: "1" }),
      cdfilter(["decode", "0x2D4808"], { FORCE_COLOR: "1", NO_COLOR: "1" }),
      cdfilter(["--no-color", "decode", "0x2D4808"], { FORCE_COLOR: "1" }),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(noActivity.code).toBe(2);
    expect(noActivity.stderr).toMatch(
      /cdfilter: the embedded simulator has no activity of its own: nothing would ever be traced\nhint: add --scenario/,
    );
    expect(badDrives.code).toBe(2);
    expect(badDrives.stderr).toMatch(/^cdfilter: --sim-drives must be an integer from 1 to 16, got "99"$/m);
    expect(badMajor.code).toBe(2);
    expect(badMajor.stderr).toMatch(/unknown IRP major function "SIDEWAYS"\nhint: /);
    expect(forced.stdout).toMatch(/\x1b\[1mIOCTL_STORAGE_EJECT_MEDIA/);
    expect(noColor.stdout).not.toMatch(/\x1b\[/);
    expect(flag.stdout).not.toMatch(/\x1b\[/);
    expect(flag.stdout).toMatch(
      /0x002D4808 +IOCTL_STORAGE_EJECT_MEDIA +FILE_DEVICE_MASS_STORAGE \(0x2D\) +0x202 +METHOD_BUFFERED +FILE_READ_ACCESS/,
    );
  });

  it("bad arguments exit 2 with a hint, OS refusals 4, unreadable input 3, unwritable output 6; --json errors are one JSON object", async () => {
    const [drive0, drive99, driveNum, driveName, exportNoOut, fromHuge, simRing, decodeBig, exportDir, outDir, jsonErr, jsonUnknown] =
      await Promise.all([
        cdfilter(["lock", "--drive", "0"]),
        cdfilter(["lock", "--drive", "99"]),
        cdfilter(["lock", "--drive", "1.5"]),
        cdfilter(["lock", "--drive", "CdRom9"]),
        cdfilter(["export", "--burst", "1"]),
        cdfilter(["trace", "--burst", "1", "--from", "18446744073709551616"]),
        cdfilter(["--sim-ring", "100", "trace", "--burst", "1"]),
        cdfilter(["decode", "4294967296"]),
        cdfilter(["export", dir, "--jsonl", f("never.jsonl")]),
        cdfilter(["export", "--burst", "1", "--jsonl", dir]),
        cdfilter(["--json", "lock", "--drive", "0"]),
        cdfilter(["--json", "frobnicate"]),
      ]);
    const twoLines = (r: Run, message: RegExp) => {
      const lines = r.stderr
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("transport:"));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toMatch(/^hint: ./);
    };
    for (const r of [drive0, drive99, driveNum, exportNoOut, fromHuge, simRing, decodeBig]) expect(r.code, r.stderr).toBe(2);
    twoLines(drive0, /^cdfilter: --drive must be an integer from 1/);
    twoLines(drive99, /^cdfilter: no drive 99: the driver has 1 \(CdRom0\), 2 \(CdRom1\)$/);
    twoLines(driveNum, /^cdfilter: --drive must be a drive id/);
    twoLines(exportNoOut, /^cdfilter: export needs an output/);
    twoLines(fromHuge, /^cdfilter: --from 18446744073709551616 is past 2\^64-1/);
    twoLines(simRing, /^cdfilter: --sim-ring must be 0 or from 8192/);
    twoLines(decodeBig, /^cdfilter: control code 4294967296 is outside 32 bits/);
    // The (simulated) OS refused the open: unreachable, not usage.
    expect(driveName.code).toBe(4);
    twoLines(driveName, /^cdfilter: cannot open drive CdRom9: .*ERROR_FILE_NOT_FOUND/);
    expect(exportDir.code).toBe(3);
    twoLines(exportDir, /^cdfilter: cannot read .*: it is a directory$/);
    expect(outDir.code).toBe(6);
    twoLines(outDir, /^cdfilter: cannot write .* JSON Lines to .*: it is a directory$/);

    expect(jsonErr.code).toBe(2);
    expect(JSON.parse(jsonErr.stderr.trim())).toEqual({
      error: { message: expect.stringMatching(/^--drive must be an integer from 1/), hint: expect.any(String), exitCode: 2 },
    });
    expect(jsonUnknown.code).toBe(2);
    expect(JSON.parse(jsonUnknown.stderr.trim())).toMatchObject({ error: { message: "unknown command 'frobnicate'", exitCode: 2 } });
  }, 30_000);
});
