// Benchmark (docs/cli.md): `cdfilter trace --json` under a synthetic burst from the simulator.
//   - records/s: JSON Lines the CLI writes to stdout, counted as this harness reads them
//     (first line to last line), and end to end (spawn to exit);
//   - latency from a request in the simulator to its record printed: the record's `timestamp`
//     (the core's clock: CLOCK_MONOTONIC in 100 ns units, driver/core/platform_host.c) against
//     the time this harness reads the line (process.hrtime, the same CLOCK_MONOTONIC), p50/p99.
// Goals: >= 200,000 records/s printed, p99 < 50 ms. Figures are printed, not asserted.
//
//   npx tsx bench/trace-cli.ts [--reads N] [--runs R]
import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const BIN = join(import.meta.dirname, "..", "bin", "cdfilter.js");

export interface TraceCliResult {
  reads: number;
  records: number;
  dropped: number;
  /** Records per second between the first and the last line read. */
  recordsPerSecond: number;
  /** Records per second from spawn to exit (includes tsx start-up and connect). */
  endToEndRecordsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  exitCode: number;
}

export async function runTraceCli(reads: number): Promise<TraceCliResult> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [BIN, "--quiet", "trace", "--json", "--burst", String(reads)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const latencies = new Float64Array(reads * 2 + 64);
  let n = 0;
  let records = 0;
  let dropped = 0;
  let first = 0n;
  let last = 0n;
  let rest = "";
  const TS = /"timestamp":"(\d+)"/;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    const now = process.hrtime.bigint();
    if (first === 0n) first = now;
    last = now;
    const nowTicks = Number(now / 100n);
    const text = rest + chunk;
    let start = 0;
    for (;;) {
      const end = text.indexOf("\n", start);
      if (end < 0) break;
      const line = text.slice(start, end);
      start = end + 1;
      const m = TS.exec(line);
      if (m) {
        records++;
        if (n < latencies.length) latencies[n++] = (nowTicks - Number(m[1])) / 10_000;
      } else if (line.includes('"dropped"')) {
        dropped += Number(/"count":"(\d+)"/.exec(line)?.[1] ?? 0);
      }
    }
    rest = text.slice(start);
  });
  const exitCode: number = await new Promise((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  const t1 = process.hrtime.bigint();
  const sorted = latencies.subarray(0, n).sort();
  const q = (p: number) => sorted[Math.min(n - 1, Math.floor(p * n))] ?? NaN;
  const span = Number(last - first) / 1e9;
  return {
    reads,
    records,
    dropped,
    recordsPerSecond: span > 0 ? records / span : NaN,
    endToEndRecordsPerSecond: records / (Number(t1 - t0) / 1e9),
    latencyMs: { p50: q(0.5), p99: q(0.99), max: sorted[n - 1] ?? NaN },
    exitCode,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: expected a positive integer`);
  return v;
}

export function formatTraceCli(r: TraceCliResult): string {
  const k = (x: number) => `${Math.round(x).toLocaleString("en-US")}`;
  return [
    `cdfilter trace --json, burst of ${k(r.reads)} reads: ${k(r.records)} records printed, ${k(r.dropped)} dropped, exit ${r.exitCode}`,
    `  records/s printed (first to last line): ${k(r.recordsPerSecond)}   goal >= 200,000`,
    `  records/s end to end (spawn to exit):   ${k(r.endToEndRecordsPerSecond)}`,
    `  latency request -> line read: p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, max ${r.latencyMs.max.toFixed(2)} ms   goal p99 < 50 ms`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const reads = arg("--reads", 500_000);
  const runs = arg("--runs", 3);
  await runTraceCli(2_000); // warm-up: tsx's transform cache
  const results: TraceCliResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await runTraceCli(reads);
    results.push(r);
    console.log(`run ${i + 1}/${runs}\n${formatTraceCli(r)}`);
  }
  const best = results.reduce((a, b) => (b.recordsPerSecond > a.recordsPerSecond ? b : a));
  const median = [...results].sort((a, b) => a.recordsPerSecond - b.recordsPerSecond)[Math.floor(results.length / 2)]!;
  console.log(
    `\nmedian of ${runs} runs:\n${formatTraceCli(median)}\n(best run: ${Math.round(best.recordsPerSecond).toLocaleString("en-US")} records/s)`,
  );
}
