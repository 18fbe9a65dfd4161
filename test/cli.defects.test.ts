// The command line under hostile conditions (each case failed before its fix): a full output
// device, unknown drive ids and IRP majors, a bad base64 input head, a JSON Lines file whose
// writer was killed mid-line, Ctrl-C during `lock --hold`, an oversized scenario, and
// --fail-on-drop for CI.
import { execFile, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const BIN = join(import.meta.dirname, "..", "bin", "cdfilter.js");
const ROOT = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "cdfilter-defects-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (name: string) => join(dir, name);
const ENV = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, CDFILTER_TRANSPORT: undefined };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cdfilter(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: ENV, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const RECORD =
  '{"type":"record","seq":"1","kind":"RECORD_KIND_DISPATCH","requestId":"1","timestamp":"100","driveId":1,"handleId":"1","pid":4100,' +
  '"tid":1,"openerPid":4100,"openerImage":"burner.exe","major":14,"ioctlCode":2951488,"inputHead":"AQ=="}';
const record = (seq: number, head = "AQ==") => RECORD.replace('"seq":"1"', `"seq":"${seq}"`).replace('"AQ=="', JSON.stringify(head));

describe("output and arguments", () => {
  it("trace --json > /dev/full exits 6 with one clear error, no stack", async () => {
    const fd = openSync("/dev/full", "w");
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, "trace", "--json", "--burst", "50"], {
          cwd: ROOT,
          env: ENV,
          stdio: ["ignore", fd, "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stderr }));
      });
      expect(r.stderr).toMatch(/"message":"cannot write to standard output: no space left on device \(ENOSPC\)"/);
      expect(r.stderr).not.toMatch(/at .*\(.*:\d+:\d+\)/);
      expect(r.code).toBe(6);
    } finally {
      closeSync(fd);
    }
  });

  it("unknown drive ids and IRP majors are usage errors (exit 2)", async () => {
    const runs = await Promise.all([
      cdfilter(["--sim-drives", "2", "locks", "--drive", "3"]),
      cdfilter(["--sim-drives", "2", "policy", "enforce", "--drive", "99"]),
      cdfilter(["--sim-drives", "2", "policy", "--drive", "5"]),
      cdfilter(["trace", "--burst", "5", "--drive", "9"]),
      cdfilter(["trace", "--burst", "5", "--major", "99"]),
      cdfilter(["trace", "--burst", "5", "--major", "0x1C"]),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(
        /cdfilter: (no drive \d+: the driver has 1 \(CdRom0\)|(include major=\S+: )?IRP major function \S+ is out of range \(0\.\.27\))/,
      );
    }
    const ok = await cdfilter(["trace", "--burst", "5", "--major", "27", "--drive", "1"]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe("export reads what it can trust", () => {
  it("an invalid base64 inputHead is rejected with file and line (exit 3)", async () => {
    writeFileSync(f("bad64.jsonl"), `${record(1)}\n${record(2, "not base64!")}\n`);
    const r = await cdfilter(["export", f("bad64.jsonl"), "--jsonl", f("bad64.out.jsonl")]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bad64\.jsonl:2: "inputHead" must be base64/);
  });

  it("a truncated last line is reported and the complete records are kept; a bad line before the end still rejects", async () => {
    const whole = `${record(1)}\n${record(2)}\n`;
    writeFileSync(f("cut.jsonl"), whole + record(3).slice(0, 40));
    const r = await cdfilter(["export", f("cut.jsonl"), "--jsonl", f("cut.out.jsonl")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: .*cut\.jsonl:3: the last line is incomplete .* the 2 complete event\(s\) before it are kept/);
    const kept = (await import("node:fs")).readFileSync(f("cut.out.jsonl"), "utf8").trim().split("\n");
    expect(kept.map((l) => JSON.parse(l).seq)).toEqual(["1", "2"]);

    writeFileSync(f("mid.jsonl"), `${record(1)}\n${record(2).slice(0, 40)}\n${record(3)}\n`);
    const mid = await cdfilter(["export", f("mid.jsonl"), "--jsonl", f("mid.out.jsonl")]);
    expect(mid.code).toBe(3);
    expect(mid.stderr).toMatch(/mid\.jsonl:2: not JSON/);
    // Terminated by a newline: a complete (bad) line, not a cut one.
    writeFileSync(f("end.jsonl"), `${record(1)}\n${record(2).slice(0, 40)}\n`);
    expect((await cdfilter(["export", f("end.jsonl"), "--jsonl", f("end.out.jsonl")])).code).toBe(3);
  });
});

describe("interrupts, sizes, CI", () => {
  it("Ctrl-C during lock --hold releases the lock and exits 130", async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, "lock", "--hold", "60"], { cwd: ROOT, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      let sent = false;
      child.stderr!.on("data", (d) => {
        stderr += d;
        if (!sent && /holding the handle/.test(stderr)) {
          sent = true;
          child.kill("SIGINT");
        }
      });
      child.on("close", (code) => resolve({ code, stderr }));
    });
    expect(r.stderr).toMatch(/holding the handle for 60 s/);
    expect(r.code).toBe(130);
  });

  it("a scenario larger than the bound is rejected before parsing (exit 3)", async () => {
    const step = "  - burner: read 0 2048\n    expect: { status: STATUS_SUCCESS }\n";
    const head = "name: big\nprocesses:\n  burner: {}\nsteps:\n";
    writeFileSync(f("big.yaml"), head + step.repeat(Math.ceil((1024 * 1024) / step.length)));
    const r = await cdfilter(["audit", f("big.yaml")]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/big\.yaml:1:1: the scenario is larger than the 262144 bytes/);
  });

  it("--fail-on-drop: trace and audit exit 1 when records left the ring, 0 when none did", async () => {
    writeFileSync(
      f("flood.yaml"),
      "name: flood\nprocesses:\n  burner: {}\nsteps:\n  - burner: read 0 2048\n    repeat: 3000\n    expect: { status: STATUS_SUCCESS }\n",
    );
    const [trace, traceOk, audit, auditOk] = await Promise.all([
      cdfilter(["trace", "--json", "--burst", "20000", "--no-pace", "--fail-on-drop"]),
      cdfilter(["trace", "--json", "--burst", "100", "--fail-on-drop"]),
      cdfilter(["--sim-ring", "65536", "audit", f("flood.yaml"), "--fail-on-drop"]),
      cdfilter(["audit", "scenarios/burner-holds.yaml", "--fail-on-drop"]),
    ]);
    expect(trace.code, trace.stderr).toBe(1);
    expect(trace.stderr).toMatch(/warning: \d+ record\(s\) were dropped .* --fail-on-drop/);
    expect(traceOk.code, traceOk.stderr).toBe(0);
    expect(audit.code, audit.stderr).toBe(1);
    expect(audit.stderr).toMatch(/warning: \d+ trace record\(s\) of the run left the ring/);
    expect(auditOk.code, auditOk.stderr).toBe(0);
  });
});
