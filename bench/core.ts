// Core tracing benchmark (docs/core.md): the cost of tracing one request in driver/core (dispatch
// + completion records) in ns and in instructions (valgrind --tool=callgrind), beside a floor
// measured in the same run: copying the same record bytes into a ring of the same slots with
// memcpy. Goals: <= 150 ns per request and <= 2x the floor. Prints figures only: it asserts no
// timing. Exits non-zero when a tool is missing under CI=true or the binary fails.
//
//   npx tsx bench/core.ts [--requests N]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "./lib/pbschema.ts";

const BENCH_BIN = join(REPO_ROOT, "build", "core", "core_bench");

export interface CoreBenchResult {
  tracedNs: number;
  floorNs: number;
  /** the request's two cdf_clock_now reads, timed alone (ns) */
  clockNs: number;
  /** the request's two core lock round trips, timed alone (ns) */
  lockNs: number;
  tracedInstructions: number | undefined;
  floorInstructions: number | undefined;
  slotBytes: number;
  ringRecords: number;
  /** bytes a dispatch / completion record holds (and the floor copies), see core_bench.c */
  dispatchBytes: number;
  completionBytes: number;
  /** platform_host.c clock behind the timestamps: "tsc" or "clock_gettime" */
  clock: string;
  tscHz: number;
}

function run(cmd: string, args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

/** Instructions (callgrind Ir) of `core_bench <mode> <n>`. */
function callgrindIr(mode: string, n: number): number {
  const { stderr } = run("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", BENCH_BIN, mode, String(n)]);
  const m = /Collected\s*:\s*(\d+)/.exec(stderr);
  if (!m) throw new Error(`callgrind printed no instruction count:\n${stderr}`);
  return Number(m[1]);
}

export function runCoreBench(requests = 2_000_000, callgrindRequests = 100_000): CoreBenchResult {
  run("make", ["-s", "-C", "driver", "../build/core/core_bench"]);
  if (!existsSync(BENCH_BIN)) throw new Error(`${BENCH_BIN} was not built`);
  const timing = JSON.parse(run(BENCH_BIN, ["time", String(requests)]).stdout.trim()) as {
    traced_ns: number;
    floor_ns: number;
    clock_ns: number;
    lock_ns: number;
    slot_bytes: number;
    ring_records: number;
    check: number;
    dispatch_bytes: number;
    completion_bytes: number;
    clock: string;
    tsc_hz: number;
  };
  if (timing.check !== 0) throw new Error(`core invariants broken after the benchmark: ${timing.check}`);
  let tracedInstructions: number | undefined;
  let floorInstructions: number | undefined;
  if (hasTool("valgrind")) {
    // per request = (count for N - count for 0) / N: setup and teardown cancel out
    const base = callgrindIr("traced", 0);
    tracedInstructions = (callgrindIr("traced", callgrindRequests) - base) / callgrindRequests;
    const floorBase = callgrindIr("floor", 0);
    floorInstructions = (callgrindIr("floor", callgrindRequests) - floorBase) / callgrindRequests;
  } else if (process.env.CI === "true") {
    throw new Error("valgrind not found (Debian: valgrind): required under CI=true");
  } else {
    console.warn("core bench: valgrind not found, instruction counts not measured");
  }
  return {
    tracedNs: timing.traced_ns,
    floorNs: timing.floor_ns,
    clockNs: timing.clock_ns,
    lockNs: timing.lock_ns,
    tracedInstructions,
    floorInstructions,
    slotBytes: timing.slot_bytes,
    ringRecords: timing.ring_records,
    dispatchBytes: timing.dispatch_bytes,
    completionBytes: timing.completion_bytes,
    clock: timing.clock,
    tscHz: timing.tsc_hz,
  };
}

export function formatCoreBench(r: CoreBenchResult): string {
  const fmt = (v: number | undefined, digits = 1): string => (v === undefined ? "n/a" : v.toFixed(digits));
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined || b === 0 ? "n/a" : `${(a / b).toFixed(2)}x`;
  const rows = [
    ["measure", "traced request", "floor (memcpy)", "ratio", "goal"],
    ["ns / request", fmt(r.tracedNs), fmt(r.floorNs), ratio(r.tracedNs, r.floorNs), "<= 150 ns, <= 2x floor"],
    [
      "instructions / request",
      fmt(r.tracedInstructions, 0),
      fmt(r.floorInstructions, 0),
      ratio(r.tracedInstructions, r.floorInstructions),
      "(reported)",
    ],
    ["  of which 2 clock reads", `${fmt(r.clockNs)} ns alone`, "", ratio(r.clockNs, r.floorNs), "(breakdown)"],
    ["  of which 2 lock round trips", `${fmt(r.lockNs)} ns alone`, "", ratio(r.lockNs, r.floorNs), "(breakdown)"],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  const absolute = r.tracedNs <= 150 ? "met" : "NOT met";
  const relative = r.tracedNs <= 2 * r.floorNs ? "met" : "NOT met";
  return [
    `core tracing: dispatch + completion record per request; ${r.ringRecords}-record ring of ${r.slotBytes}-byte slots`,
    `records hold ${r.dispatchBytes} + ${r.completionBytes} bytes (fixed fields, opener image, captured input); ` +
      `the floor memcpys exactly that many per request`,
    `host clock: ${r.clock}${r.tscHz ? ` (${(r.tscHz / 1e6).toFixed(1)} MHz, calibrated against CLOCK_MONOTONIC)` : ""}`,
    ...lines,
    `goal <= 150 ns: ${absolute}; goal <= 2x floor: ${relative}`,
  ].join("\n");
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number`);
  return v;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(formatCoreBench(runCoreBench(arg("--requests", 2_000_000))));
}
