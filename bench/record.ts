// Recording benchmark: records/s the pcapng RecordingWriter (src/recording/writer.ts) writes,
// beside the drain rate (bench/drain.ts: ring -> ReadTrace -> decoded TraceRecords) measured in
// the same run, and bytes per record against JSON Lines (`trace --json`) for the same records.
// Goals: writer rate >= drain rate (the recorder never is the bottleneck); recording <= 1/4 of the
// JSON Lines size. Figures are printed, not asserted.
//
//   npx tsx bench/record.ts [--records N]
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import {
  InfoReply,
  InfoRequest,
  LedgerSnapshot,
  TraceBatch,
  TraceConfig,
  type TraceRecord,
  TraceReadRequest,
} from "../src/client/gen/cdfilter.ts";
import { ControlIoctls } from "../src/client/gen/cdfilter_ioctl.ts";
import { splitBatchRecords } from "../src/client/trace-stream.ts";
import { jsonLineContext, recordJsonLine } from "../src/cli/records.ts";
import { RECORDING_FORMAT, RECORDING_VERSION } from "../src/recording/header.ts";
import { RecordingWriter } from "../src/recording/writer.ts";
import { Access, SimLibrary } from "../src/sim/binding.ts";
import { runDrain } from "./drain.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number`);
  return v;
}

/** Real records from the simulated stack (reads with dispatch + completion records). */
function sampleRecords(n: number): { records: TraceRecord[]; raw: Uint8Array[]; info: InfoReply } {
  const lib = SimLibrary.load();
  const sim = lib.create(1, 16 * 1024 * 1024);
  try {
    const ctl = lib.open(sim, 0, 4, "bench.exe", Access.GENERIC_READ | Access.GENERIC_WRITE);
    const drive = lib.open(sim, 1, 1000, "recorder-bench.exe", Access.GENERIC_READ);
    const infoR = lib.ioctl(
      sim,
      ctl.handle,
      ControlIoctls.getInfo.code,
      InfoRequest.encode(InfoRequest.create({ clientProtocolVersion: 1 })),
      InfoReply.maxSize,
    );
    const info = InfoReply.decode(infoR.output);
    const records: TraceRecord[] = [];
    const raw: Uint8Array[] = [];
    let cursor = 0n;
    while (records.length < n) {
      lib.burst(sim, drive.handle, Math.min(20_000, Math.ceil((n - records.length) / 2)), 2048);
      for (;;) {
        const r = lib.ioctl(
          sim,
          ctl.handle,
          ControlIoctls.readTrace.code,
          TraceReadRequest.encode({ afterSeq: cursor, maxRecords: 0 }),
          ControlIoctls.readTrace.reply.maxSize,
        );
        const b = TraceBatch.decode(r.output);
        records.push(...b.records);
        raw.push(...(splitBatchRecords(r.output) ?? []));
        cursor = b.nextCursor;
        if (b.records.length === 0 || cursor >= b.newestSeq) break;
      }
    }
    if (raw.length !== records.length) throw new Error("splitBatchRecords disagrees with TraceBatch.decode");
    return { records: records.slice(0, n), raw: raw.slice(0, n), info };
  } finally {
    lib.destroy(sim);
  }
}

export interface RecordBenchResult {
  records: number;
  writerRecordsPerSecond: number;
  /** The same when the writer encodes each record itself (export --pcapng from JSON Lines). */
  encodingWriterRecordsPerSecond: number;
  drainRecordsPerSecond: number;
  pcapngBytes: number;
  jsonlBytes: number;
}

export function runRecordBench(n = 1_000_000): RecordBenchResult {
  const { records, raw, info } = sampleRecords(n);
  const dir = mkdtempSync(join(tmpdir(), "cdfilter-record-bench-"));
  try {
    const file = join(dir, "bench.pcapng");
    const header = {
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      host: "bench",
      instance: "0000000000000000",
      hostKind: "HOST_KIND_SIMULATOR",
      driverVersion: info.driverVersion,
      protocolVersion: info.protocolVersion,
      transport: "simulator",
      wallClockAnchor: info.wallClockAnchor,
      monotonicAnchor: info.monotonicAnchor,
      startedAt: new Date().toISOString(),
      afterSeq: 0n,
      ledger: LedgerSnapshot.create(),
      traceConfig: TraceConfig.create(),
    } as const;
    // Best of 3 runs; the recorder flushes once per 256-record batch, as after each ReadTrace.
    // As `cdfilter record` does it: each record's encoding as the driver sent it (keepEncoded).
    const timeIt = (encode: boolean): number => {
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const t0 = performance.now();
        const w = RecordingWriter.create(file, header);
        for (let i = 0; i < records.length; i++) {
          const r = records[i]!;
          if (encode) w.record(r);
          else w.recordEncoded(r.seq, r.timestamp, raw[i]!);
          if ((i & 255) === 255) w.flush();
        }
        w.close();
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const encodeMs = timeIt(true);
    const best = timeIt(false);
    const pcapngBytes = statSync(file).size;
    const ctx = jsonLineContext("bench", info);
    let jsonlBytes = 0;
    for (const r of records) jsonlBytes += Buffer.byteLength(recordJsonLine(r, ctx)) + 1;
    const drain = runDrain(Math.max(n, 1_000_000));
    return {
      records: n,
      writerRecordsPerSecond: n / (best / 1000),
      encodingWriterRecordsPerSecond: n / (encodeMs / 1000),
      drainRecordsPerSecond: drain.recordsPerSecond,
      pcapngBytes,
      jsonlBytes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const r = runRecordBench(arg("--records", 1_000_000));
  const f = (n: number): string => Math.round(n).toLocaleString("en-US");
  console.log("record: TraceRecords -> pcapng recording (Enhanced Packet Blocks of the encodings as read, one write(2) per 256 records)");
  console.log(`  records written      ${f(r.records)}`);
  console.log(`  writer rate          ${f(r.writerRecordsPerSecond)} records/s (${(1e9 / r.writerRecordsPerSecond).toFixed(0)} ns/record)`);
  console.log(
    `  writer, encoding     ${f(r.encodingWriterRecordsPerSecond)} records/s (records re-encoded: export --pcapng from JSON Lines)`,
  );
  console.log(`  drain rate           ${f(r.drainRecordsPerSecond)} records/s (bench/drain.ts, same run)`);
  console.log(
    `  writer / drain       ${(r.writerRecordsPerSecond / r.drainRecordsPerSecond).toFixed(2)}x  goal >= 1.00x: ${r.writerRecordsPerSecond >= r.drainRecordsPerSecond ? "met" : "NOT met"}`,
  );
  console.log(`  pcapng               ${f(r.pcapngBytes)} bytes (${(r.pcapngBytes / r.records).toFixed(1)} bytes/record)`);
  console.log(
    `  JSON Lines           ${f(r.jsonlBytes)} bytes (${(r.jsonlBytes / r.records).toFixed(1)} bytes/record, with host and time)`,
  );
  console.log(
    `  pcapng / JSON Lines  ${(r.pcapngBytes / r.jsonlBytes).toFixed(3)}  goal <= 0.250: ${r.pcapngBytes * 4 <= r.jsonlBytes ? "met" : "NOT met"}`,
  );
}
