/**
 * filter: the shared trace filter (src/filter/) over 1M records, records/s, beside a baseline
 * loop that reads the same fields with no rule logic; and CSV formatting (src/cli/csv.ts).
 * Timings are reported, never asserted.
 */
import { Decision, RecordKind, TraceRecord } from "../src/client/gen/cdfilter.ts";
import { CsvFormatter } from "../src/cli/csv.ts";
import { compileFilter, parseRules } from "../src/filter/index.ts";

const N = 1_000_000;
const images = ["explorer.exe", "burner.exe", "player.exe", "svchost.exe"];
const records: TraceRecord[] = [];
for (let i = 0; i < N; i++) {
  records.push(
    TraceRecord.create({
      seq: BigInt(i + 1),
      kind: i % 2 ? RecordKind.RECORD_KIND_COMPLETION : RecordKind.RECORD_KIND_DISPATCH,
      timestamp: BigInt(10_000_000 + i * 100),
      driveId: 1 + (i % 2),
      pid: 100 + (i % 7),
      openerPid: 100 + (i % 7),
      openerImage: images[i % images.length]!,
      major: i % 3 ? 14 : 3,
      ioctlCode: 0x2d0940,
      normalizedCode: 0x2d0940,
      status: i % 11 ? 0 : 0xc0000022,
      decision: Decision.DECISION_TRACK,
      handleId: BigInt(i % 50),
    }),
  );
}

function time(label: string, fn: () => number): void {
  fn(); // warm up
  const t0 = process.hrtime.bigint();
  const n = fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${label.padEnd(58)} ${(N / (ms / 1000) / 1e6).toFixed(1).padStart(6)} M records/s  (${ms.toFixed(0)} ms, ${n} kept)`);
}

time("baseline: read pid/image/major per record", () => {
  let k = 0;
  for (const r of records) if ((r.pid === 101 || r.openerImage === "burner.exe") && r.major === 14) k++;
  return k;
});
const three = compileFilter(parseRules({ include: ["pid=101,102", "major=DEVICE_CONTROL"], exclude: ["image=explorer.exe"] }));
time("filter: 3 rules (pid list, major, exclude image)", () => records.filter((r) => three.matches(r)).length);
const twelve = compileFilter(
  parseRules({
    include: ["drive=1,2", "pid=100,101,102,103,104,105,106", "major=14,3", "status=success", "time=0s..", "seq=1.."],
    exclude: ["image=*svc*", "decision=DENY", "reason=WOULD_DENY", "kind=HANDLE_OPEN", "handle=49", "ioctl=IOCTL_STORAGE_EJECT_MEDIA"],
  }),
);
time("filter: 12 rules (every field kind, globs, ranges)", () => records.filter((r) => twelve.matches(r)).length);
const csv = new CsvFormatter();
time("csv: one row per record", () => {
  let bytes = 0;
  for (const r of records) bytes += csv.format({ type: "record", record: r }).length;
  return bytes;
});
