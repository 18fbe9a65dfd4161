// Codec benchmark (run: `npx tsx bench/codec.ts`; needs `make -C driver host` first).
//   (a) C: encode/decode ns per message, our generated codec vs nanopb 0.4.7 on the same schema
//       and the same bytes: a full TraceBatch (256 records) and a LedgerSnapshot (4 drives x 16
//       owners). nanopb code is generated here into build/bench-nanopb/ (static allocation, the
//       same bounds as the (cdfilter.options.*) of the protos) and compiled with
//       bench/c/codec_bench.c at -O2. Goal: ours/nanopb <= 1.0x.
//   (b) TS: decode of a ~64 KiB TraceBatch, records/s, ours vs protobufjs (reflection-loaded
//       Root, Type.decode, which protobufjs code-generates internally) on the same bytes.
//       Goals: >= 2x protobufjs, >= 1M records/s.
// Prints figures only: it asserts no timing. It exits non-zero if the codecs disagree on the
// bytes or values, or if a tool is missing.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadNativeCodec } from "./lib/codec_native.ts";
import { REPO_ROOT, loadSchemaRoot, messagesOf } from "./lib/pbschema.ts";
import * as cdf from "../src/client/gen/cdfilter.ts";

const OUT = join(REPO_ROOT, "build", "bench-nanopb");
const PROTO_OUT = join(OUT, "proto");

function run(cmd: string, args: string[], cwd = REPO_ROOT): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * Debian ships nanopb's runtime only as a static library built without PB_FIELD_32BIT, which
 * caps a statically allocated message struct at 64 KiB; TraceBatch (256 x TraceRecord) and
 * LedgerSnapshot (16 x 64 owners) are larger. Their outer arrays are therefore nanopb callbacks
 * that decode into / encode from a static array of FT_STATIC elements in the harness
 * (bench/c/codec_bench.c), with the same bound; everything below them is FT_STATIC.
 */
const NANOPB_CALLBACK_FIELDS = ["cdfilter.TraceBatch.records", "cdfilter.LedgerSnapshot.drives"];

/**
 * nanopb input: the cdfilter protos without our custom options (nanopb would otherwise compile
 * descriptor.proto's extensions too) plus .options files carrying the same bounds.
 * nanopb's max_length excludes the NUL like our max_len; max_size is the bytes capacity.
 */
function generateNanopb(): void {
  mkdirSync(join(PROTO_OUT, "cdfilter"), { recursive: true });
  const root = loadSchemaRoot();
  const options: Record<string, string[]> = { trace: [], control: [] };
  for (const m of messagesOf(root, "cdfilter")) {
    const file = (m.type.filename ?? "").endsWith("trace.proto") ? "trace" : "control";
    for (const f of m.fields) {
      const name = `cdfilter.${m.name}.${f.protoName}`;
      const opts: string[] = [];
      if (f.maxLen !== undefined) opts.push(f.kind === "string" ? `max_length:${f.maxLen}` : `max_size:${f.maxLen}`);
      if (f.maxCount !== undefined) opts.push(`max_count:${f.maxCount}`);
      if (NANOPB_CALLBACK_FIELDS.includes(name)) opts.push("type:FT_CALLBACK");
      if (opts.length > 0) options[file]?.push(`${name} ${opts.join(" ")}`);
    }
  }
  for (const file of ["trace", "control"]) {
    const src = readFileSync(join(REPO_ROOT, "proto", "cdfilter", `${file}.proto`), "utf8")
      .replace(/\s*\[\(cdfilter\.options\.[a-z_]+\)\s*=\s*\d+(?:\s*,\s*\(cdfilter\.options\.[a-z_]+\)\s*=\s*\d+)*\]/g, "")
      .replace(/^import "cdfilter\/options\.proto";\s*$/m, "")
      .replace(/^\s*option \(cdfilter\.options\.[^;]*;\s*$/gm, "");
    if (src.includes("cdfilter.options")) throw new Error(`could not strip custom options from ${file}.proto`);
    writeFileSync(join(PROTO_OUT, "cdfilter", `${file}.proto`), src);
    writeFileSync(join(PROTO_OUT, "cdfilter", `${file}.options`), (options[file] ?? []).join("\n") + "\n");
  }
  run(
    "protoc",
    [
      "--plugin=protoc-gen-nanopb=" + findTool("protoc-gen-nanopb"),
      `--nanopb_out=${OUT}`,
      "cdfilter/trace.proto",
      "cdfilter/control.proto",
    ],
    PROTO_OUT,
  );
}

function findTool(name: string): string {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const path = r.stdout.trim();
  if (r.status !== 0 || path === "") throw new Error(`${name} not found (Debian: nanopb)`);
  return path;
}

interface CResult {
  message: string;
  op: string;
  codec: string;
  ns: number;
  bytes: number;
}

function benchC(): CResult[] {
  generateNanopb();
  const bin = join(OUT, "codec_bench");
  const cc = process.env.CC ?? "cc";
  run(cc, [
    "-std=c11",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Idriver/core",
    "-Idriver/core/gen",
    `-I${OUT}`,
    "-o",
    bin,
    "bench/c/codec_bench.c",
    "driver/core/pb_wire.c",
    "driver/core/gen/cdfilter.pb.c",
    join(OUT, "cdfilter", "trace.pb.c"),
    join(OUT, "cdfilter", "control.pb.c"),
    "-lprotobuf-nanopb",
  ]);
  const r = spawnSync(bin, [], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`codec_bench failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.startsWith("RESULT "))
    .map((l) => {
      const [, message = "", op = "", codec = "", ns = "0", bytes = "0"] = l.split(" ");
      return { message, op, codec, ns: Number(ns), bytes: Number(bytes) };
    });
}

// ---- (b) TypeScript decode ----------------------------------------------------------------

const IMAGES = [
  "wmplayer.exe",
  "explorer.exe",
  "ImgBurn.exe",
  "svchost.exe",
  "vlc.exe",
  "C:\\Program Files\\Windows Media Player\\wmplayer.exe",
  "System",
  "dvdplay.exe",
];
const IOCTLS = [0x2d4804, 0x2d4808, 0x2d480c, 0x24d004, 0x4d014, 0x2d0800];

function realisticBatch(records: number, headBytes: number): cdf.TraceBatch {
  const recs: cdf.TraceRecord[] = [];
  for (let i = 0; i < records; i++) {
    const completion = (i & 1) === 1;
    recs.push(
      cdf.TraceRecord.create({
        seq: 5_000_000_000n + BigInt(i),
        kind: completion ? cdf.RecordKind.RECORD_KIND_COMPLETION : cdf.RecordKind.RECORD_KIND_DISPATCH,
        requestId: 4_000_000_000n + BigInt(i >> 1),
        timestamp: 133771234567890123n + BigInt(i) * 1375n,
        driveId: i % 4,
        handleId: 0x10000n + BigInt(i % 37),
        pid: 4000 + (i % 13) * 4,
        tid: 9000 + (i % 29) * 4,
        requestorPid: 4000 + (i % 13) * 4,
        openerPid: 4000 + (i % 13) * 4,
        openerImage: IMAGES[i % IMAGES.length] ?? "",
        major: 14,
        ioctlCode: IOCTLS[i % IOCTLS.length] ?? 0,
        normalizedCode: IOCTLS[i % IOCTLS.length] ?? 0,
        inputLength: 4096,
        outputLength: (i % 3) * 2048,
        inputHead: Uint8Array.from({ length: headBytes }, (_, k) => (k * 7 + i) & 0xff),
        truncated: true,
        status: completion && i % 5 === 0 ? 0xc0000022 : 0,
        information: completion ? BigInt((i % 3) * 2048) : 0n,
        duration: completion ? BigInt(1234 + i) : 0n,
        decision: i % 7 === 0 ? cdf.Decision.DECISION_DENY : cdf.Decision.DECISION_TRACK,
        reason: i % 7 === 0 ? cdf.Reason.REASON_EJECT_UNDER_LOCK : cdf.Reason.REASON_LOCK_TAKEN,
        secureTotal: i % 3,
        simpleTotal: i % 2,
      }),
    );
  }
  return cdf.TraceBatch.create({
    records: recs,
    dropped: 17n,
    nextCursor: 5_000_000_000n + BigInt(records - 1),
    oldestSeq: 4_999_990_000n,
    newestSeq: 5_000_000_300n,
  });
}

/** Best-of-5 records/s for `decode`, each round running at least ~300 ms. */
function recordsPerSecond(records: number, decode: () => number): number {
  let best = 0;
  let sink = 0;
  for (let w = 0; w < 50; w++) sink += decode();
  for (let round = 0; round < 5; round++) {
    let iters = 0;
    const t0 = process.hrtime.bigint();
    let el = 0;
    do {
      for (let k = 0; k < 20; k++) sink += decode();
      iters += 20;
      el = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (el < 0.3);
    best = Math.max(best, (iters * records) / el);
  }
  if (sink < 0) console.log(sink);
  return best;
}

interface TsResult {
  bytes: number;
  records: number;
  head: number;
  ours: number;
  protobufjs: number;
}

function benchTs(): TsResult {
  // 256 records whose input heads are sized so that the batch is ~64 KiB, the size of one
  // ReadTrace output buffer (64-byte heads give ~41 KiB).
  const base = cdf.TraceBatch.encode(realisticBatch(256, 64)).length;
  const head = Math.min(256, 64 + Math.floor((65536 - base) / 256));
  const batch = realisticBatch(256, head);
  const bytes = cdf.TraceBatch.encode(batch);
  const root = loadSchemaRoot();
  const PbBatch = root.lookupType("cdfilter.TraceBatch");

  // Agreement, outside the timing: C re-encoding, our TS decode and protobufjs on the same bytes.
  const c = loadNativeCodec().roundtrip("cdfilter", cdf.TraceBatch.typeName, bytes, cdf.TraceBatch.maxSize);
  if (c.code !== 0 || Buffer.compare(Buffer.from(c.bytes), Buffer.from(bytes)) !== 0) {
    throw new Error(`DISAGREE: C round trip of the TS TraceBatch (code ${c.code}) differs`);
  }
  const ours = cdf.TraceBatch.decode(bytes);
  const theirs = PbBatch.toObject(PbBatch.decode(bytes), { longs: String, enums: Number, bytes: Array, defaults: true }) as {
    records: { seq: string; requestId: string; openerImage: string; inputHead: number[]; status: number }[];
  };
  if (ours.records.length !== 256 || theirs.records.length !== 256) throw new Error("DISAGREE: record count");
  ours.records.forEach((r, i) => {
    const t = theirs.records[i];
    if (
      !t ||
      t.seq !== r.seq.toString() ||
      t.requestId !== r.requestId.toString() ||
      t.openerImage !== r.openerImage ||
      t.status !== r.status ||
      Buffer.compare(Buffer.from(t.inputHead), Buffer.from(r.inputHead)) !== 0
    ) {
      throw new Error(`DISAGREE: record ${i} decodes differently in protobufjs`);
    }
  });

  const oursRate = recordsPerSecond(256, () => cdf.TraceBatch.decode(bytes).records.length);
  const pbRate = recordsPerSecond(256, () => (PbBatch.decode(bytes) as unknown as { records: unknown[] }).records.length);
  return { bytes: bytes.length, records: 256, head, ours: oursRate, protobufjs: pbRate };
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function main(): void {
  const cResults = benchC();
  console.log("Codec benchmark (C: -O2, ns per message; ratio = ours / nanopb, goal <= 1.00x)");
  console.log(
    `${pad("message", 16)}${pad("op", 8)}${pad("bytes", 8, true)}${pad("ours ns", 14, true)}${pad("nanopb ns", 14, true)}${pad("ratio", 9, true)}`,
  );
  for (const message of ["TraceBatch", "LedgerSnapshot"]) {
    for (const op of ["encode", "decode"]) {
      const o = cResults.find((r) => r.message === message && r.op === op && r.codec === "ours");
      const n = cResults.find((r) => r.message === message && r.op === op && r.codec === "nanopb");
      if (!o || !n) throw new Error(`missing C result for ${message} ${op}`);
      console.log(
        `${pad(message, 16)}${pad(op, 8)}${pad(String(o.bytes), 8, true)}${pad(o.ns.toFixed(0), 14, true)}` +
          `${pad(n.ns.toFixed(0), 14, true)}${pad((o.ns / n.ns).toFixed(2) + "x", 9, true)}`,
      );
    }
  }
  const batch = cResults.find((r) => r.message === "TraceBatch" && r.op === "decode" && r.codec === "ours");
  if (batch) console.log(`  (TraceBatch of 256 records: ours decodes ${(batch.ns / 256).toFixed(0)} ns per record)`);

  const ts = benchTs();
  console.log("");
  console.log(`TypeScript decode of a ${ts.bytes}-byte TraceBatch (${ts.records} records, ${ts.head}-byte input heads), best of 5`);
  console.log(`${pad("codec", 16)}${pad("records/s", 14, true)}${pad("MB/s", 10, true)}`);
  for (const [name, rate] of [
    ["ours", ts.ours],
    ["protobufjs", ts.protobufjs],
  ] as const) {
    console.log(
      `${pad(name, 16)}${pad(Math.round(rate).toLocaleString("en-US"), 14, true)}${pad((((rate / ts.records) * ts.bytes) / 1e6).toFixed(1), 10, true)}`,
    );
  }
  console.log(
    `ratio ours / protobufjs: ${(ts.ours / ts.protobufjs).toFixed(2)}x (goal >= 2x); ours ${(ts.ours / 1e6).toFixed(2)}M records/s (goal >= 1M)`,
  );
}

try {
  main();
} catch (e) {
  console.error(`bench/codec.ts: ${(e as Error).message}`);
  process.exit(1);
}
