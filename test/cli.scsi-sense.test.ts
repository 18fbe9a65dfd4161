// SCSI sense end to end: a pass-through the simulated drive refuses (START STOP UNIT LoEj=1 while
// cdrom.sys holds the medium prevented for a secure lock) completes with STATUS_SUCCESS, the
// drive's CHECK CONDITION in ScsiStatus and fixed sense 5/53/02 (driver/sim/simcd.c,
// scsi_pass_through; docs/simulator.md). With output capture on (`trace --output-capture-bytes`,
// TraceConfig.output_capture_bytes) the completion record carries the returned header and sense,
// and `cdfilter trace` shows them decoded (src/client/scsi-decode.ts), in human lines and JSON.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "cdfilter.js");

function cdfilter(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", CDFILTER_TRANSPORT: undefined } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), "cdfilter-sense-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scenario = join(dir, "refused.yaml");
writeFileSync(
  scenario,
  `name: the drive refuses a pass-through eject
drives: 1
processes:
  burner: { pid: 4100, image: burner.exe }
  ripper: { pid: 4200, image: ripper.exe }
steps:
  - burner: lock
    expect: { status: STATUS_SUCCESS, secure: 1, owner: burner }
  - ripper: passthrough-eject
    note: observe forwards it; the drive answers CHECK CONDITION, MEDIUM REMOVAL PREVENTED
    expect: { status: STATUS_SUCCESS }
`,
);

interface JsonRecord {
  type: string;
  kind?: string;
  ioctlName?: string;
  statusName?: string;
  scsiStatus?: number;
  scsiStatusName?: string;
  sense?: { key: number; keyName: string; asc: number; ascq: number; ascName: string };
}

const jsonRecords = (stdout: string): JsonRecord[] =>
  stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as JsonRecord);

describe("trace shows the drive's ScsiStatus and sense of a refused pass-through", () => {
  it("human line and --json, with output capture on; nothing decoded with it off; bad values refused", async () => {
    const base = ["trace", "--scenario", scenario, "--ioctl", "IOCTL_SCSI_PASS_THROUGH"];
    const [human, json, off, bad] = await Promise.all([
      cdfilter([...base, "--output-capture-bytes", "96"]),
      cdfilter(["--json", ...base, "--output-capture-bytes", "96"]),
      cdfilter(["--json", ...base]),
      cdfilter([...base, "--output-capture-bytes", "100000"]),
    ]);

    expect(human.code, human.stderr).toBe(0);
    const line = human.stdout.split("\n").find((l) => l.includes("←") && l.includes("IOCTL_SCSI_PASS_THROUGH"));
    expect(line).toBeDefined();
    expect(line).toContain("START STOP UNIT LoEj=1");
    expect(line).toContain("ScsiStatus=CHECK CONDITION ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED (5/53/02)");
    expect(line).toContain("STATUS_SUCCESS");

    expect(json.code, json.stderr).toBe(0);
    const done = jsonRecords(json.stdout).filter((r) => r.kind === "RECORD_KIND_COMPLETION");
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({
      ioctlName: "IOCTL_SCSI_PASS_THROUGH",
      statusName: "STATUS_SUCCESS",
      scsiStatus: 2,
      scsiStatusName: "CHECK CONDITION",
      sense: { key: 5, keyName: "ILLEGAL REQUEST", asc: 0x53, ascq: 2, ascName: "MEDIUM REMOVAL PREVENTED" },
    });

    // output capture is off by default: the completion carries no returned header to decode
    expect(off.code, off.stderr).toBe(0);
    const plain = jsonRecords(off.stdout).filter((r) => r.kind === "RECORD_KIND_COMPLETION");
    expect(plain).toHaveLength(1);
    expect(plain[0]?.scsiStatus).toBeUndefined();
    expect(plain[0]?.sense).toBeUndefined();

    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--output-capture-bytes must be an integer from 0 to \d+/);
  }, 60_000);
});
