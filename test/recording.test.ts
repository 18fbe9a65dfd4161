/**
 * Recordings (src/recording, docs/recording.md): `cdfilter record` on the simulator, the reader
 * for recordings, rotated sets and JSON Lines, torn tails after a killed recorder, driver
 * instances that never merge, and the size against JSON Lines.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LedgerSnapshot, RecordKind, TraceConfig, TraceRecord } from "../src/client/gen/cdfilter.ts";
import { PROTOCOL_VERSION } from "../src/client/gen/cdfilter_ioctl.ts";
import { RECORDING_FORMAT, RECORDING_VERSION, type RecordingHeader } from "../src/recording/header.ts";
import { openTraceSource, recordingParts } from "../src/recording/reader.ts";
import { RecordingWriter, partPath } from "../src/recording/writer.ts";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "cdfilter.js");
const dir = mkdtempSync(join(tmpdir(), "cdfilter-recording-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => spawnSync(process.execPath, [BIN, "--no-color", ...args], { encoding: "utf8", cwd: ROOT });

function header(instance = "00000000000000aa"): Omit<RecordingHeader, "part"> {
  return {
    format: RECORDING_FORMAT,
    version: RECORDING_VERSION,
    host: "testhost",
    instance,
    hostKind: "HOST_KIND_SIMULATOR",
    driverVersion: "t",
    protocolVersion: 1,
    transport: "simulator",
    // 2026-01-01T00:00:00Z as FILETIME, at monotonic 1000.
    wallClockAnchor: 134117568000000000n,
    monotonicAnchor: 1000n,
    startedAt: "2026-01-01T00:00:00.000Z",
    afterSeq: 0n,
    ledger: LedgerSnapshot.create({ seq: 0n }),
    traceConfig: TraceConfig.create({ captureBytes: 64 }),
  };
}

const rec = (seq: bigint) =>
  TraceRecord.create({
    seq,
    kind: RecordKind.RECORD_KIND_DISPATCH,
    requestId: seq,
    timestamp: 1000n + seq * 10n,
    driveId: 1,
    pid: 42,
    openerImage: "x.exe",
    inputHead: Uint8Array.of(1, 2, 3),
  });

describe("cdfilter record (simulator)", () => {
  it("records the demo scenario: header, every record, readable by export and at most a quarter of JSON Lines", () => {
    const out = join(dir, "demo.pcapng");
    const r = cli(["record", "--out", out, "--scenario", join(ROOT, "scenarios", "demo.yaml")]);
    expect(r.status, r.stderr).toBe(0);
    const jsonl = join(dir, "demo.jsonl");
    const e = cli(["export", out, "--jsonl", jsonl]);
    expect(e.status, e.stderr).toBe(0);
    const lines = readFileSync(jsonl, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(20);
    // host and an ISO-8601 time from the anchors on every record.
    for (const l of lines) {
      expect(typeof l.host).toBe("string");
      expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    }
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => String(i + 1)));
    expect(statSync(out).size * 4).toBeLessThanOrEqual(statSync(jsonl).size);
  });

  it("the header carries host, instance, protocol, anchors, ledger and trace config; instances differ per driver", async () => {
    const a = join(dir, "a.pcapng");
    const b = join(dir, "b.pcapng");
    expect(cli(["record", "--out", a, "--burst", "10"]).status).toBe(0);
    expect(cli(["record", "--out", b, "--burst", "10"]).status).toBe(0);
    const ha = (await openTraceSource(a)).header!;
    const hb = (await openTraceSource(b)).header!;
    expect(ha).toMatchObject({
      format: RECORDING_FORMAT,
      hostKind: "HOST_KIND_SIMULATOR",
      protocolVersion: PROTOCOL_VERSION,
      transport: "simulator",
      part: 0,
    });
    expect(ha.instance).toMatch(/^[0-9a-f]{16}$/);
    expect(ha.wallClockAnchor).toBeGreaterThan(0n);
    expect(ha.ledger.drives.length).toBeGreaterThan(0);
    expect(ha.instance).not.toBe(hb.instance);
  });

  it("carries the ring's drops in-band: every sequence number is recorded or counted", async () => {
    const out = join(dir, "drops.pcapng");
    const r = cli(["--sim-ring", "8192", "record", "--out", out, "--burst", "5000", "--no-pace"]);
    expect(r.status, r.stderr).toBe(0);
    const src = await openTraceSource(out);
    expect(src.dropped).toBeGreaterThan(0n);
    let next = 1n;
    for (const e of src.events) {
      if (e.type === "record") {
        expect(e.record.seq).toBe(next);
        next++;
      } else {
        expect(e.afterSeq).toBe(next - 1n);
        next += e.count;
      }
    }
  });

  it("survives being killed: every flushed record reads back, a torn tail is reported, never fatal", async () => {
    const out = join(dir, "killed.pcapng");
    const child = spawn(process.execPath, [BIN, "--quiet", "record", "--out", out, "--burst", "2000000"], { stdio: "ignore" });
    const until = Date.now() + 60_000;
    while ((!existsSync(out) || statSync(out).size < 400_000) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    // Cut the file inside a block as a crash mid-write would.
    const size = statSync(out).size;
    truncateSync(out, size - 7);
    const src = await openTraceSource(out);
    expect(src.torn).toHaveLength(1);
    expect(src.torn[0]!.torn.reason).toMatch(/cut short|ends/);
    expect(src.records).toBeGreaterThan(1000);
    const seqs = src.events.flatMap((e) => (e.type === "record" ? [e.record.seq] : []));
    for (const [i, s] of seqs.entries()) expect(s).toBe(BigInt(i + 1));
    // export reads it too, and says so.
    const e = cli(["export", out, "--jsonl", join(dir, "killed.jsonl")]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/torn tail at byte \d+/);
  }, 90_000);

  it("rotates by size, keeps --max-files parts, and reads a rotated set from any of its parts", async () => {
    const out = join(dir, "rot.pcapng");
    const r = cli(["record", "--out", out, "--burst", "3000", "--max-size", "64K", "--max-files", "3"]);
    expect(r.status, r.stderr).toBe(0);
    const parts = recordingParts(out);
    expect(parts.length).toBe(3);
    expect(existsSync(out)).toBe(false); // part 0 rotated away
    for (const p of parts) expect(statSync(p).size).toBeLessThanOrEqual(64 * 1024);
    const src = await openTraceSource(parts[1]!);
    expect(src.files).toEqual(parts);
    expect(src.warnings.some((w) => /earlier parts are gone/.test(w))).toBe(true);
    const seqs = src.events.flatMap((e) => (e.type === "record" ? [e.record.seq] : []));
    for (const [i, s] of seqs.entries()) expect(s).toBe(seqs[0]! + BigInt(i));
    expect(seqs.at(-1)).toBeGreaterThan(6000n); // 3000 reads: dispatch + completion each, plus open/close
  });
});

describe("reader", () => {
  it("a gap between parts becomes a drop notice; another driver instance's part is left out", async () => {
    const base = join(dir, "set.pcapng");
    const w = RecordingWriter.create(base, header(), { maxSize: 4096 });
    for (let s = 1n; s <= 200n; s++) w.record(rec(s));
    w.close();
    const parts = recordingParts(base);
    expect(parts.length).toBeGreaterThan(2);
    rmSync(parts[1]!);
    // A part of another boot with the next number.
    const stray = partPath(base, parts.length);
    const o = RecordingWriter.create(join(dir, "other.pcapng"), header("00000000000000bb"));
    o.record(rec(1n));
    o.close();
    writeFileSync(stray, readFileSync(join(dir, "other.pcapng")));
    const src = await openTraceSource(base);
    expect(src.warnings.some((x) => /missing/.test(x))).toBe(true);
    expect(src.warnings.some((x) => /another boot/.test(x))).toBe(true);
    const drop = src.events.find((e) => e.type === "dropped");
    expect(drop).toBeDefined();
    const seqs = src.events.flatMap((e) => (e.type === "record" ? [e.record.seq] : []));
    expect(seqs[0]).toBe(1n);
    expect(seqs.at(-1)).toBe(200n);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("drops are in-band (LINKTYPE_USER1) and interface statistics close the file", async () => {
    const f = join(dir, "drops.pcapng");
    const w = RecordingWriter.create(f, header());
    w.record(rec(1n));
    w.dropped(5n, 1n);
    w.record(rec(7n));
    w.close();
    const src = await openTraceSource(f);
    expect(src.events.map((e) => (e.type === "record" ? `r${e.record.seq}` : `d${e.count}@${e.afterSeq}`))).toEqual(["r1", "d5@1", "r7"]);
    expect(src.dropped).toBe(5n);
    expect(src.torn).toEqual([]);
  });

  it("every truncation of a recording reads without throwing, records before the cut intact", async () => {
    const f = join(dir, "trunc.pcapng");
    const w = RecordingWriter.create(f, header());
    for (let s = 1n; s <= 20n; s++) w.record(rec(s));
    w.close();
    const full = readFileSync(f);
    for (let cut = 4; cut < full.length; cut += 13) {
      writeFileSync(join(dir, "cut.pcapng"), full.subarray(0, cut));
      const src = await openTraceSource(join(dir, "cut.pcapng"));
      const seqs = src.events.flatMap((e) => (e.type === "record" ? [e.record.seq] : []));
      for (const [i, s] of seqs.entries()) expect(s).toBe(BigInt(i + 1));
      // A cut on a block boundary reads as a shorter file; anywhere else it is one torn tail.
      expect(src.torn.length).toBeLessThanOrEqual(1);
      if (src.torn[0]) expect(src.torn[0].torn.offset + src.torn[0].torn.bytes).toBe(cut);
    }
  });

  it("JSON Lines -> export --pcapng -> export --jsonl gives the same lines back (host and time kept)", () => {
    const a = join(dir, "rt.jsonl");
    const t = cli(["--quiet", "trace", "--json", "--burst", "20"]);
    expect(t.status, t.stderr).toBe(0);
    writeFileSync(a, t.stdout);
    expect(cli(["--quiet", "export", a, "--pcapng", join(dir, "rt.pcapng")]).status).toBe(0);
    expect(cli(["--quiet", "export", join(dir, "rt.pcapng"), "--jsonl", join(dir, "rt2.jsonl")]).status).toBe(0);
    expect(readFileSync(join(dir, "rt2.jsonl"), "utf8")).toBe(t.stdout);
  });

  it("reads JSON Lines, and names file and line of a bad one", async () => {
    const f = join(dir, "t.jsonl");
    writeFileSync(f, '{"type":"record","seq":"1","kind":"RECORD_KIND_DISPATCH"}\n\n{"type":"dropped","count":"2","afterSeq":"1"}\n');
    const src = await openTraceSource(f);
    expect(src.format).toBe("jsonl");
    expect(src.events.map((e) => e.type)).toEqual(["record", "dropped"]);
    writeFileSync(f, '{"type":"record","seq":"1"}\nnot json\n');
    await expect(openTraceSource(f)).rejects.toThrow(/t\.jsonl:2: not JSON/);
    await expect(openTraceSource(join(dir, "nope.pcapng"))).rejects.toThrow(/no such file/);
  });
});
