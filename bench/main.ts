/**
 * npm run bench: every benchmark of the project, one after another, each printing its figures
 * beside a baseline measured in the same run (nanopb, protobufjs, a memcpy floor, ...).
 *
 *   codec      C encode/decode vs nanopb 0.4.7; TS decode vs protobufjs        (docs/codec.md)
 *   core       cost of tracing one request vs a memcpy floor, ns + callgrind   (docs/core.md)
 *   drain      ring -> ReadTrace IOCTL -> decoded TS records, records/s         (docs/core.md)
 *   trace-cli  `cdfilter trace --json` under a burst: records/s, p50/p99 latency
 *   cli-start  `cdfilter decode` / `cdfilter info` start to exit vs `node -e 0`
 *   filter     the shared trace filter and CSV rows over 1M records, records/s
 *   fleet      ship -> JetStream -> ingest -> PostgreSQL records/s vs a raw COPY of the same rows,
 *              and the lag simulator record -> row visible (p50/p99); skipped without the servers
 *   record     pcapng recording writer vs the drain, records/s; bytes vs JSON Lines
 *   ui         `cdfilter ui` in Chromium: request-to-pixel p50/p99, the page at 1M records (docs/ui.md)
 *
 * `npm run bench -- core drain` runs a subset. Exit status: non-zero if a benchmark failed to
 * run (timings are reported, never asserted).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const all = ["codec", "core", "drain", "trace-cli", "cli-start", "filter", "fleet", "record", "ui"] as const;
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(all as readonly string[]).includes(w));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(", ")} (known: ${all.join(", ")})`);
  process.exit(2);
}
const selected = wanted.length > 0 ? wanted : [...all];
const tsx = join(here, "..", "node_modules", ".bin", "tsx");
let failed = 0;
for (const name of selected) {
  console.log(`\n=== ${name} ${"=".repeat(Math.max(0, 60 - name.length))}`);
  const r = spawnSync(tsx, [join(here, `${name}.ts`)], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench: ${name} failed (exit ${r.status ?? r.signal})`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
