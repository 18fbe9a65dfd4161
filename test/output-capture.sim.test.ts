// Output capture through the simulated stack (driver/sim: simcd fills the METHOD_BUFFERED
// SystemBuffer; the core copies its head into the completion record): off by default, capped,
// shown decoded for SCSI pass-through, and configurable from the command line.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { FilterClient, PROTOCOL_VERSION, RecordKind, type TraceRecord } from "../src/client/index.ts";
import { decodePassThroughCompletion, formatPassThroughCompletion } from "../src/client/scsi-decode.ts";

const clients: FilterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
async function connect(): Promise<FilterClient> {
  const c = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1 } });
  clients.push(c);
  return c;
}
async function records(c: FilterClient): Promise<TraceRecord[]> {
  const out: TraceRecord[] = [];
  for await (const ev of c.trace({ from: 0n, follow: false })) if (ev.type === "record") out.push(ev.record);
  return out;
}
const INQUIRY = Uint8Array.from([0x12, 0, 0, 0, 36, 0]);

describe("output capture (simulator)", () => {
  it("is off by default; when on, a pass-through completion carries the returned header, capped", async () => {
    const c = await connect();
    expect(PROTOCOL_VERSION).toBeGreaterThanOrEqual(2);
    expect((await c.traceConfig()).outputCaptureBytes).toBe(0);
    const d = await c.openDrive(1, { pid: 500, image: "prober.exe", access: 0x3 });
    expect((await d.passThrough(INQUIRY)).ok).toBe(true);
    let done = (await records(c)).filter((r) => r.kind === RecordKind.RECORD_KIND_COMPLETION && r.ioctlCode === 0x4d004);
    expect(done).toHaveLength(1);
    expect(done[0]!.outputHead).toHaveLength(0);

    expect((await c.setTraceConfig({ outputCaptureBytes: 200 })).outputCaptureBytes).toBe(200);
    await c.clearTrace();
    expect((await d.passThrough(INQUIRY)).ok).toBe(true);
    done = (await records(c)).filter((r) => r.kind === RecordKind.RECORD_KIND_COMPLETION && r.ioctlCode === 0x4d004);
    expect(done).toHaveLength(1);
    const r = done[0]!;
    // simcd returns the 56-byte x64 SCSI_PASS_THROUGH with ScsiStatus GOOD (Information = 56)
    expect(r.information).toBe(56n);
    expect(r.outputHead).toHaveLength(56);
    expect(r.outputTruncated).toBe(false);
    expect(formatPassThroughCompletion(decodePassThroughCompletion(r.ioctlCode, r.outputHead)!)).toBe("GOOD");

    await c.setTraceConfig({ outputCaptureBytes: 16 });
    await c.clearTrace();
    await d.passThrough(INQUIRY);
    const cut = (await records(c)).find((x) => x.kind === RecordKind.RECORD_KIND_COMPLETION && x.ioctlCode === 0x4d004)!;
    expect(cut.outputHead).toHaveLength(16);
    expect(cut.outputTruncated).toBe(true);
    await d.close();
  });

  it("refuses a cap past max_capture_bytes", async () => {
    const c = await connect();
    const max = (await c.info()).maxCaptureBytes;
    await expect(c.setTraceConfig({ outputCaptureBytes: max + 1 })).rejects.toThrow();
    expect((await c.traceConfig()).outputCaptureBytes).toBe(0);
  });
});

const BIN = join(import.meta.dirname, "..", "bin", "cdfilter.js");
function cdfilter(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: join(import.meta.dirname, ".."), env: { ...process.env, NO_COLOR: "1", CDFILTER_TRANSPORT: undefined } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), "cdfilter-analysis-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("command line", () => {
  it("config show/set, clear, trace filters and --csv, usage errors", async () => {
    const [show, set, badSet, clear, csv, badRule, both, audit] = await Promise.all([
      cdfilter(["--transport", "simulator", "config", "show", "--json"]),
      cdfilter([
        "--transport",
        "simulator",
        "config",
        "set",
        "--major",
        "READ,DEVICE_CONTROL",
        "--ioctl",
        "IOCTL_STORAGE_EJECT_MEDIA",
        "--output-capture-bytes",
        "64",
      ]),
      cdfilter(["--transport", "simulator", "config", "set", "--output-capture-bytes", "100000"]),
      cdfilter(["--transport", "simulator", "clear"]),
      cdfilter([
        "trace",
        "--scenario",
        "scenarios/demo.yaml",
        "--csv",
        "--include",
        "image=*er.exe",
        "--exclude",
        "kind=DISPATCH",
        "--include",
        "major=DEVICE_CONTROL",
      ]),
      cdfilter(["trace", "--scenario", "scenarios/demo.yaml", "--include", "pid=x"]),
      cdfilter(["trace", "--scenario", "scenarios/demo.yaml", "--csv", "--json"]),
      cdfilter(["audit", "scenarios/demo.yaml", "--trace-out", join(dir, "ripper.jsonl"), "--include", "image=ripper.exe"]),
    ]);
    // audit: the trace file holds the ripper's records only
    expect(audit.code).toBe(0);
    const ripper = readFileSync(join(dir, "ripper.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(ripper.length).toBeGreaterThan(3);
    expect(ripper.every((r) => r.type === "dropped" || r.openerImage === "ripper.exe")).toBe(true);
    // export from that file: CSV of the failed ones
    const exp = await cdfilter(["export", join(dir, "ripper.jsonl"), "--csv", join(dir, "failed.csv"), "--include", "status=failed"]);
    expect(exp.code).toBe(0);
    const rows = readFileSync(join(dir, "failed.csv"), "utf8").trim().split("\r\n");
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows.slice(1)) expect(row).toMatch(/,STATUS_(?!SUCCESS)[A-Z_]+,0x[8C]/);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ majors: [], ioctlCodes: [], driveIds: [], captureBytes: 64, outputCaptureBytes: 0 });
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/majors: +READ, DEVICE_CONTROL/);
    expect(set.stdout).toMatch(/ioctls: +IOCTL_STORAGE_EJECT_MEDIA/);
    expect(set.stdout).toMatch(/output capture bytes: 64/);
    expect(badSet.code).toBe(2);
    expect(badSet.stderr).toMatch(/--output-capture-bytes must be an integer from 0 to 256/);
    expect(clear.code).toBe(0);
    expect(clear.stdout).toMatch(/cleared the trace ring/);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split("\r\n");
    expect(lines[0]).toMatch(/^seq,kind,seconds,/);
    expect(lines.length).toBeGreaterThan(5);
    for (const row of lines.slice(1)) {
      expect(row).toMatch(/^\d+,(COMPLETION|AUTO_RELEASE|LEAK_RELEASE|HANDLE_OPEN|HANDLE_CLOSE|DROPPED),/);
      expect(row).toMatch(/,DEVICE_CONTROL,/);
      expect(row).toMatch(/,[a-z]+er\.exe,/);
    }
    expect(badRule.code).toBe(2);
    expect(badRule.stderr).toMatch(/include pid=x: "x" is not an unsigned 32-bit integer/);
    expect(both.code).toBe(2);
  }, 120_000);
});
