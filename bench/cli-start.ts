// Benchmark: the compiled `cdfilter` command from start to exit, against `node -e 0` measured in
// the same run (the floor any Node.js CLI pays). Commands: `decode 0x2D0940` (no transport) and
// `info` (loads the simulator library, connects, GetInfo). Goal: each <= 2x `node -e 0`.
// Figures are printed, never asserted. Needs `npm run build` (npm run bench does it).
//
//   npx tsx bench/cli-start.ts [--runs N]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const BIN = join(import.meta.dirname, "..", "bin", "cdfilter.js");
const MAIN = join(import.meta.dirname, "..", "dist", "cli", "main.js");

function timeOnce(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;
if (!existsSync(MAIN)) {
  console.error("cli-start: dist/cli/main.js missing: run npm run build");
  process.exit(1);
}
const cases: [string, string[]][] = [
  ["node -e 0 (floor)", ["-e", "0"]],
  ["cdfilter decode 0x2D0940", [BIN, "decode", "0x2D0940"]],
  ["cdfilter info (simulator)", [BIN, "--quiet", "info"]],
];
// Interleave the cases so that machine noise falls on all of them alike; one warm-up round.
const samples = cases.map(() => [] as number[]);
for (let i = -1; i < runs; i++) {
  cases.forEach(([, args], k) => {
    const ms = timeOnce(args);
    if (i >= 0) samples[k]!.push(ms);
  });
}
const floor = median(samples[0]!);
console.log(`cli start, median of ${runs} runs each (interleaved), Node ${process.versions.node}`);
for (const [k, [name]] of cases.entries()) {
  const m = median(samples[k]!);
  const ratio = m / floor;
  const goal = k === 0 ? "" : ratio <= 2 ? "  goal <= 2x: met" : "  goal <= 2x: NOT met";
  console.log(`  ${name.padEnd(28)} ${m.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2)}x${goal}`);
}
