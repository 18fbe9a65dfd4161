/**
 * Recordings open in Wireshark: Debian's tshark with src/recording/wireshark/cdfilter.lua decodes
 * every packet of a recording through its protobuf dissector (proto/ on its search path), and the
 * field values equal our own decode (src/recording/reader.ts). Drop notices (LINKTYPE_USER1)
 * decode as cdfilter.TraceBatch.
 *
 * tshark runs with its own configuration directory (WIRESHARK_CONFIG_DIR): the plugin in
 * plugins/, the protobuf search paths UAT and preferences (pbf_as_hf for named fields,
 * preload_protos so the fields exist before -e is checked). As root tshark warns but works.
 * Under CI=true a missing tshark or google/protobuf/descriptor.proto (libprotobuf-dev) fails.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LedgerSnapshot, RecordKind, TraceConfig, TraceRecord } from "../src/client/gen/cdfilter.ts";
import { RECORDING_FORMAT, RECORDING_VERSION, unixTicks } from "../src/recording/header.ts";
import { openTraceSource } from "../src/recording/reader.ts";
import { RecordingWriter } from "../src/recording/writer.ts";

const ROOT = join(import.meta.dirname, "..");
const PLUGIN = join(ROOT, "src", "recording", "wireshark", "cdfilter.lua");
const DESCRIPTOR_DIR = "/usr/include";
const haveTshark = spawnSync("tshark", ["--version"], { stdio: "ignore" }).status === 0;
const haveDescriptor = existsSync(join(DESCRIPTOR_DIR, "google", "protobuf", "descriptor.proto"));
const ci = process.env.CI === "true";
const missing = !haveTshark
  ? "tshark (Debian: tshark)"
  : !haveDescriptor
    ? "google/protobuf/descriptor.proto (Debian: libprotobuf-dev)"
    : undefined;
if (missing && !ci) console.warn(`recording.tshark.test.ts: skipped, ${missing} not installed (a failure under CI=true)`);

const dir = mkdtempSync(join(tmpdir(), "cdfilter-tshark-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tsharkConfig(): string {
  const cfg = join(dir, "wireshark");
  mkdirSync(join(cfg, "plugins"), { recursive: true });
  copyFileSync(PLUGIN, join(cfg, "plugins", "cdfilter.lua"));
  writeFileSync(join(cfg, "protobuf_search_paths"), `"${DESCRIPTOR_DIR}","FALSE"\n"${join(ROOT, "proto")}","TRUE"\n`);
  writeFileSync(join(cfg, "preferences"), "protobuf.pbf_as_hf: TRUE\nprotobuf.preload_protos: TRUE\n");
  return cfg;
}

const FIELDS = [
  "seq",
  "kind",
  "request_id",
  "timestamp",
  "pid",
  "opener_image",
  "ioctl_code",
  "status",
  "input_head",
  "decision",
  "reason",
] as const;

describe.skipIf(missing !== undefined && !ci)("Wireshark (tshark + cdfilter.lua)", () => {
  it("tshark decodes every record and drop notice of a recording by name, equal to our decode", async () => {
    if (missing) throw new Error(`${missing} is missing (CI=true: a failure, not a skip)`);
    const file = join(dir, "t.pcapng");
    const w = RecordingWriter.create(file, {
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      host: "tshark-test",
      instance: "0123456789abcdef",
      hostKind: "HOST_KIND_SIMULATOR",
      driverVersion: "t",
      protocolVersion: 1,
      transport: "simulator",
      wallClockAnchor: 134117568000000000n,
      monotonicAnchor: 5000n,
      startedAt: "2026-01-01T00:00:00.000Z",
      afterSeq: 0n,
      ledger: LedgerSnapshot.create(),
      traceConfig: TraceConfig.create(),
    });
    const records = [
      TraceRecord.create({
        seq: 1n,
        kind: RecordKind.RECORD_KIND_DISPATCH,
        requestId: 9n,
        timestamp: 6000n,
        pid: 4100,
        openerImage: "burner.exe",
        major: 14,
        ioctlCode: 0x2d0940,
        inputHead: Uint8Array.of(1),
        decision: 2,
      }),
      TraceRecord.create({
        seq: 2n,
        kind: RecordKind.RECORD_KIND_COMPLETION,
        requestId: 9n,
        timestamp: 6100n,
        pid: 4100,
        openerImage: "burner.exe",
        major: 14,
        ioctlCode: 0x2d0940,
        status: 0x80000011,
        decision: 3,
        reason: 4,
      }),
      TraceRecord.create({
        seq: 5n,
        kind: RecordKind.RECORD_KIND_AUTO_RELEASE,
        timestamp: 99_999_999_999n,
        pid: 4294967295,
        openerImage: "é.exe",
        reason: 12,
        countReleased: 2,
      }),
    ];
    w.record(records[0]!);
    w.record(records[1]!);
    w.dropped(2n, 2n);
    w.record(records[2]!);
    w.close();

    const r = spawnSync(
      "tshark",
      [
        "-r",
        file,
        "-Y",
        "cdfilter || cdfilter_drop",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=f",
        "-e",
        "frame.interface_id",
        "-e",
        "frame.time_epoch",
        ...FIELDS.flatMap((f) => ["-e", `pbf.cdfilter.TraceRecord.${f}`]),
        "-e",
        "pbf.cdfilter.TraceBatch.dropped",
        "-e",
        "pbf.cdfilter.TraceBatch.next_cursor",
      ],
      { encoding: "utf8", env: { ...process.env, WIRESHARK_CONFIG_DIR: tsharkConfig() } },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Lua: Error|aren't valid/);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split("|"));
    expect(rows).toHaveLength(4);

    const src = await openTraceSource(file);
    const ours = src.events;
    expect(ours).toHaveLength(4);
    const anchors = src.header!;
    for (const [i, ev] of ours.entries()) {
      const row = rows[i]!;
      if (ev.type === "dropped") {
        expect(row[0]).toBe("1");
        expect(row.at(-2)).toBe(String(ev.count));
        expect(row.at(-1)).toBe(String(ev.afterSeq + ev.count));
        continue;
      }
      const rec = ev.record;
      expect(row[0]).toBe("0");
      // Timestamps: 100 ns since 1970 (if_tsresol 7) from the anchors.
      const t = unixTicks(rec.timestamp, anchors)!;
      expect(row[1]).toBe(`${t / 10_000_000n}.${String(t % 10_000_000n).padStart(7, "0")}00`);
      const byName = Object.fromEntries(FIELDS.map((f, k) => [f, row[2 + k] ?? ""]));
      // proto3 omits defaults: tshark shows nothing where our decode has 0 / "".
      const v = (x: bigint | number | string) => (x === 0 || x === 0n || x === "" ? "" : String(x));
      expect(byName.seq).toBe(v(rec.seq));
      expect(byName.kind).toBe(v(rec.kind));
      expect(byName.request_id).toBe(v(rec.requestId));
      expect(byName.timestamp).toBe(v(rec.timestamp));
      expect(byName.pid).toBe(v(rec.pid));
      expect(byName.opener_image).toBe(rec.openerImage);
      expect(byName.ioctl_code).toBe(v(rec.ioctlCode >>> 0));
      expect(byName.status).toBe(v(rec.status >>> 0));
      expect(byName.input_head).toBe(Buffer.from(rec.inputHead).toString("hex"));
      expect(byName.decision).toBe(v(rec.decision));
      expect(byName.reason).toBe(v(rec.reason));
    }
  }, 60_000);
});
