// Fleet benchmark: ship -> NATS JetStream -> ingest -> PostgreSQL against real servers started
// here (test/support/servers.ts).
//   1. end to end: H hosts ship R records each at once, one ingester stores them; records/s from
//      the first publish to the last row visible in SQL;
//   2. baseline, same run, same rows: a raw PostgreSQL COPY of them into a table of the same
//      shape and keys (the floor any ingester pays); goal: end to end >= 50% of COPY;
//   3. lag: the simulator produces reads at a steady rate while one shipper ships them live; for
//      each record, the time from its timestamp (driver clock through the anchors) to the moment
//      a poll (every 10 ms) first sees its row: p50/p99.
// Skipped, with the reason, when nats-server or PostgreSQL is missing (benchmarks are not tests).
//
//   npx tsx bench/fleet.ts [--hosts H] [--records R]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { FilterClient, type TraceRecord } from "../src/client/index.ts";
import { burst } from "../src/cli/context.ts";
import { Ingester } from "../src/fleet/ingester.ts";
import { Secrets, parseNatsUrl } from "../src/fleet/secrets.ts";
import { Shipper } from "../src/fleet/shipper.ts";
import { Spool } from "../src/fleet/spool.ts";
import { NatsServer, PgServer, findServers } from "../test/support/servers.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: expected a positive integer`);
  return v;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function simulatorRecords(n: number): Promise<TraceRecord[]> {
  const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1, ringBytes: Math.max(8 << 20, n * 512) } });
  const out: TraceRecord[] = [];
  try {
    await burst(client, Math.ceil(n / 2) + 2, { pace: false, drive: 1 });
    for await (const ev of client.trace({ from: 0n, follow: false })) if (ev.type === "record") out.push(ev.record);
  } finally {
    await client.close();
  }
  return out.slice(0, n);
}

function copyText(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

/** The same rows as the ingester stores, as COPY text (time computed here from the same anchors). */
function* copyRows(hosts: string[], recs: TraceRecord[], wall: bigint, mono: bigint): Generator<string> {
  let chunk = "";
  for (const h of hosts) {
    for (const r of recs) {
      const ms = Number((wall - 116_444_736_000_000_000n + (r.timestamp - mono)) / 10_000n);
      chunk +=
        `${h}\ti1\t${r.seq}\t${r.kind}\t${r.requestId}\t${r.timestamp}\t${r.driveId}\t${r.handleId}\t${r.pid}\t${r.tid}\t${r.requestorPid}\t${r.openerPid}\t` +
        `${copyText(r.openerImage)}\t${r.major}\t${r.minor}\t${r.ioctlCode >>> 0}\t${r.normalizedCode >>> 0}\t${r.inputLength}\t${r.outputLength}\t` +
        `\\\\x${Buffer.from(r.inputHead).toString("hex")}\t${r.truncated ? "t" : "f"}\t${r.status >>> 0}\t${r.information}\t${r.duration}\t` +
        `${r.decision}\t${r.reason}\t${r.secureTotal}\t${r.simpleTotal}\t${r.countReleased}\t${new Date(ms).toISOString()}\n`;
      if (chunk.length > 256 * 1024) {
        yield chunk;
        chunk = "";
      }
    }
  }
  if (chunk) yield chunk;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export interface FleetBenchResult {
  rows: number;
  endToEndRecordsPerSecond: number;
  copyRecordsPerSecond: number;
  ratio: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagSamples: number;
}

/** Runs the three measurements; undefined (with the reason printed) when a server binary is missing. */
export async function runFleetBench(hostsN = 10, perHost = 20_000): Promise<FleetBenchResult | undefined> {
  const bins = findServers();
  if (bins.missing.length > 0) {
    console.log(`fleet: skipped: missing ${bins.missing.join(", ")}`);
    return undefined;
  }
  const tmp = mkdtempSync(join(tmpdir(), "cdf-fleet-bench-"));
  const [nats, pgs] = await Promise.all([NatsServer.start(bins.natsServer!), PgServer.start(bins.pgBin!)]);
  const db = new pg.Client({ connectionString: pgs.url });
  let ing: Ingester | undefined;
  try {
    await db.connect();
    const recs = await simulatorRecords(perHost);
    const wall = 134_000_000_000_000_000n;
    const hosts = Array.from({ length: hostsN }, (_, i) => `b${String(i + 1).padStart(3, "0")}`);
    const target = parseNatsUrl(nats.url, new Secrets());
    ing = new Ingester({ target, pgUrl: pgs.url, secrets: new Secrets(), batch: 64 });
    await ing.start(); // creates the schema (not timed)
    const total = hostsN * perHost;

    // 1. End to end.
    const t0 = performance.now();
    const shippers = hosts.map(
      (h) => new Shipper({ host: h, instance: "i1", target, spool: new Spool(join(tmp, h), 1 << 30), anchors: { wall, mono: 0n } }),
    );
    await Promise.all(
      shippers.map(async (s) => {
        await s.start();
        for (const r of recs) await s.record(r);
        await s.close();
      }),
    );
    const tShipped = performance.now();
    for (;;) {
      const n = Number((await db.query("SELECT count(*) AS n FROM cdfilter_trace")).rows[0].n);
      if (n >= total) break;
      await sleep(20);
    }
    const t1 = performance.now();
    const e2e = total / ((t1 - t0) / 1000);

    // 2. COPY of the same rows into a table of the same shape and keys.
    await db.query("CREATE TABLE bench_copy (LIKE cdfilter_trace INCLUDING ALL)");
    const c0 = performance.now();
    await pipeline(Readable.from(copyRows(hosts, recs, wall, 0n)), db.query(copyFrom("COPY bench_copy FROM STDIN")));
    const c1 = performance.now();
    const copyRate = total / ((c1 - c0) / 1000);
    const copied = Number((await db.query("SELECT count(*) AS n FROM bench_copy")).rows[0].n);
    if (copied !== total) throw new Error(`COPY stored ${copied} rows, expected ${total}`);

    // 3. Lag, simulator record -> row visible.
    const lags = await measureLag(target, db, tmp);
    const sorted = [...lags].sort((a, b) => a - b);
    const res: FleetBenchResult = {
      rows: total,
      endToEndRecordsPerSecond: e2e,
      copyRecordsPerSecond: copyRate,
      ratio: e2e / copyRate,
      lagP50Ms: pct(sorted, 50),
      lagP99Ms: pct(sorted, 99),
      lagSamples: sorted.length,
    };
    const k = (v: number) => `${Math.round(v).toLocaleString("en-US")}`;
    console.log(`fleet: ${hostsN} hosts x ${perHost.toLocaleString("en-US")} records = ${total.toLocaleString("en-US")} rows`);
    console.log(
      `  end to end (ship -> JetStream -> ingest -> visible in SQL): ${k(e2e)} records/s (${((t1 - t0) / 1000).toFixed(2)} s; shipping alone ${((tShipped - t0) / 1000).toFixed(2)} s)`,
    );
    console.log(
      `  raw COPY of the same rows (same table shape and keys):    ${k(copyRate)} records/s (${((c1 - c0) / 1000).toFixed(2)} s)`,
    );
    console.log(`  end to end / COPY: ${(res.ratio * 100).toFixed(0)}% (goal >= 50%)`);
    console.log(
      `  lag simulator record -> row visible (${sorted.length} records, ~4,000/s, polled every 10 ms): p50 ${res.lagP50Ms.toFixed(0)} ms, p99 ${res.lagP99Ms.toFixed(0)} ms`,
    );
    return res;
  } finally {
    await ing?.stop().catch(() => undefined);
    await db.end().catch(() => undefined);
    await nats.destroy();
    await pgs.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** ~4,000 records/s for ~4 s from the simulator, shipped live; returns one lag (ms) per record. */
async function measureLag(target: ReturnType<typeof parseNatsUrl>, db: pg.Client, tmp: string): Promise<number[]> {
  const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1, ringBytes: 16 << 20 } });
  const info = client.connectInfo;
  const s = new Shipper({
    host: "lag",
    instance: "i1",
    target,
    spool: new Spool(join(tmp, "lag"), 1 << 30),
    anchors: { wall: info.wallClockAnchor, mono: info.monotonicAnchor },
  });
  await s.start();
  const ctl = new AbortController();
  const stream = client.trace({ from: 0n, signal: ctl.signal, follow: true });
  const reader = (async () => {
    try {
      for await (const ev of stream) if (ev.type === "record") await s.record(ev.record);
    } catch {
      // aborted
    }
  })();
  const lags: number[] = [];
  let seen = 0n;
  let producing = true;
  const poller = (async () => {
    let idle = 0;
    while (producing || idle < 50) {
      const r = await db.query("SELECT seq, extract(epoch from time) * 1000 AS ms FROM cdfilter_trace WHERE host = 'lag' AND seq > $1", [
        String(seen),
      ]);
      const now = Date.now();
      for (const row of r.rows) {
        lags.push(now - Number(row.ms));
        const q = BigInt(row.seq);
        if (q > seen) seen = q;
      }
      idle = r.rows.length === 0 ? idle + 1 : 0;
      await sleep(10);
    }
  })();
  for (let i = 0; i < 80; i++) {
    await burst(client, 100, { pace: false, drive: 1 });
    await sleep(50);
  }
  await sleep(1000);
  producing = false;
  await poller;
  ctl.abort();
  await reader;
  await s.close(5000);
  await client.close();
  return lags;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runFleetBench(arg("--hosts", 10), arg("--records", 20_000));
}
