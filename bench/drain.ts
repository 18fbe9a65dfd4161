// Drain benchmark (docs/core.md): records/s from the core's trace ring through the ReadTrace
// control IOCTL (cdfsim_ioctl via koffi, METHOD_BUFFERED) into decoded TypeScript TraceRecords.
// Goal: >= 1,000,000 records/s. The ring is filled first with cdfsim_burst (reads through the
// whole simulated stack, in C) and only the drain is timed.
//
//   npx tsx bench/drain.ts [--records N] [--ring-bytes B]
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { Access, SimLibrary } from "../src/sim/binding.ts";
import { InfoReply, InfoRequest, TraceBatch, TraceReadRequest } from "../src/client/gen/cdfilter.ts";
import { ControlIoctls } from "../src/client/gen/cdfilter_ioctl.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number`);
  return v;
}

export interface DrainResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  bytesPerRecord: number;
  ioctls: number;
  ioctlOnlyRecordsPerSecond: number;
  decodeOnlyRecordsPerSecond: number;
}

export function runDrain(totalRecords = 2_000_000, ringBytes = 16 * 1024 * 1024): DrainResult {
  const lib = SimLibrary.load();
  const sim = lib.create(1, ringBytes);
  try {
    const ctl = lib.open(sim, 0, 4, "bench.exe", Access.GENERIC_READ | Access.GENERIC_WRITE);
    const drive = lib.open(sim, 1, 1000, "reader.exe", Access.GENERIC_READ);
    if (ctl.status !== 0 || drive.status !== 0) throw new Error("open failed");
    const info = lib.ioctl(
      sim,
      ctl.handle,
      ControlIoctls.getInfo.code,
      InfoRequest.encode(InfoRequest.create({ clientProtocolVersion: 1 })),
      InfoReply.maxSize,
    );
    if (info.status !== 0) throw new Error(`GetInfo: 0x${info.status.toString(16)}`);
    const capacity = InfoReply.decode(info.output).ringCapacity;
    // Each read leaves a dispatch and a completion record; fill to ~90% of the ring.
    const readsPerFill = Math.max(1, Math.floor((capacity * 0.9) / 2));
    const out = new Uint8Array(ControlIoctls.readTrace.reply.maxSize);
    const code = ControlIoctls.readTrace.code;

    let cursor = 0n;
    let records = 0;
    let bytes = 0;
    let ioctls = 0;
    let drainMs = 0;
    let ioctlMs = 0;
    const samples: Uint8Array[] = [];
    while (records < totalRecords) {
      const b = lib.burst(sim, drive.handle, readsPerFill, 2048);
      if (b.status !== 0) throw new Error(`burst: 0x${b.status.toString(16)}`);
      const t0 = performance.now();
      for (;;) {
        const req = TraceReadRequest.encode({ afterSeq: cursor, maxRecords: 0 });
        const t1 = performance.now();
        const r = lib.ioctlInto(sim, ctl.handle, code, req, out);
        ioctlMs += performance.now() - t1;
        ioctls++;
        if (r.status !== 0) throw new Error(`ReadTrace: 0x${r.status.toString(16)}`);
        const view = out.subarray(0, r.returned);
        const batch = TraceBatch.decode(view);
        if (batch.dropped !== 0n) throw new Error(`drain lost ${batch.dropped} records`);
        if (samples.length < 64) samples.push(view.slice());
        bytes += r.returned;
        records += batch.records.length;
        cursor = batch.nextCursor;
        if (batch.records.length === 0 || cursor >= batch.newestSeq) break;
      }
      drainMs += performance.now() - t0;
    }
    // Decode-only rate over retained replies, for the split of the cost.
    let decoded = 0;
    const td = performance.now();
    for (let rep = 0; rep < 20; rep++) for (const s of samples) decoded += TraceBatch.decode(s).records.length;
    const decodeMs = performance.now() - td;
    return {
      records,
      seconds: drainMs / 1000,
      recordsPerSecond: records / (drainMs / 1000),
      bytesPerRecord: bytes / records,
      ioctls,
      ioctlOnlyRecordsPerSecond: records / (ioctlMs / 1000),
      decodeOnlyRecordsPerSecond: decoded / (decodeMs / 1000),
    };
  } finally {
    lib.destroy(sim);
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const r = runDrain(arg("--records", 2_000_000), arg("--ring-bytes", 16 * 1024 * 1024));
  const f = (n: number): string => Math.round(n).toLocaleString("en-US");
  console.log("drain: ring -> ReadTrace (cdfsim_ioctl via koffi) -> decoded TraceRecord");
  console.log(`  records drained      ${f(r.records)} in ${r.ioctls} IOCTLs (${(r.records / r.ioctls).toFixed(1)} records/IOCTL)`);
  console.log(
    `  drain rate           ${f(r.recordsPerSecond)} records/s (${(1e9 / r.recordsPerSecond).toFixed(0)} ns/record)  goal >= 1,000,000`,
  );
  console.log(`  bytes per record     ${r.bytesPerRecord.toFixed(1)} (encoded)`);
  console.log(`  IOCTL only           ${f(r.ioctlOnlyRecordsPerSecond)} records/s (core encode + FFI)`);
  console.log(`  TS decode only       ${f(r.decodeOnlyRecordsPerSecond)} records/s`);
  console.log(`  goal ${r.recordsPerSecond >= 1e6 ? "met" : "NOT met"}`);
}
