// The fleet pipeline against real servers started here: `nats-server -js` and a throw-away
// PostgreSQL cluster (test/support/servers.ts). Shippers and ingesters run in this process (50
// hosts at once would cost 50 tsx start-ups); the command line is spawned where its own
// behaviour is the point (a killed ingester, secrets in output).
// Under CI=true a missing server binary fails the file; elsewhere it is skipped with a message.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FilterClient, type TraceRecord } from "../src/client/index.ts";
import { burst, loadScenario } from "../src/cli/context.ts";
import { recordJsonLine } from "../src/cli/records.ts";
import { decodeRecords, findingsFromAudit, recordsEnvelope } from "../src/fleet/envelope.ts";
import { Ingester } from "../src/fleet/ingester.ts";
import { findingsReport, gapsReport, hostsReport } from "../src/fleet/queries.ts";
import { Secrets, parseNatsUrl } from "../src/fleet/secrets.ts";
import { Shipper } from "../src/fleet/shipper.ts";
import { fileInstance, liveInstance, shipJsonLines, shipLive } from "../src/fleet/sources.ts";
import { fastRows, recordRowText } from "../src/fleet/rowtext.ts";
import { Spool } from "../src/fleet/spool.ts";
import { NatsServer, PgServer, findServers } from "./support/servers.ts";

const CI = process.env.CI === "true";
const bins = findServers();
const skip = bins.missing.length > 0 && !CI;
if (skip) console.warn(`fleet.test: skipped, missing ${bins.missing.join(", ")} (a failure under CI=true)`);

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "cdfilter.js");
const ACK_WAIT_MS = 3000;
const tmp = mkdtempSync(join(tmpdir(), "cdf-fleet-test-"));
let nats: NatsServer;
let pgs: PgServer;
let db: pg.Client;
/** 10,000 records of a simulator burst (reads of 2048 bytes: dispatch + completion each). */
let records: TraceRecord[] = [];
const ingesters: Ingester[] = [];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, f: () => Promise<boolean>, timeoutMs = 110_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function count(sql: string, args: unknown[] = []): Promise<number> {
  const r = await db.query(sql, args);
  return Number(Object.values(r.rows[0] ?? { n: 0 })[0]);
}

async function connectDb(): Promise<void> {
  await db?.end().catch(() => undefined);
  db = new pg.Client({ connectionString: pgs.url });
  // The restart test ends this session; the error surfaces through the next query.
  db.on("error", () => undefined);
  await db.connect();
}

function target(url = nats.url) {
  return parseNatsUrl(url, new Secrets());
}

function shipper(host: string, o: Partial<ConstructorParameters<typeof Shipper>[0]> = {}): Shipper {
  return new Shipper({
    host,
    instance: "i1",
    target: target(),
    spool: new Spool(mkdtempSync(join(tmp, `spool-${host}-`)), 64 * 1024 * 1024),
    anchors: { wall: 134_000_000_000_000_000n, mono: 0n },
    publishTimeoutMs: 2000,
    ...o,
  });
}

async function startIngester(o: { batch?: number } = {}): Promise<Ingester> {
  const ing = new Ingester({ target: target(), pgUrl: pgs.url, secrets: new Secrets(), batch: o.batch ?? 64, ackWaitMs: ACK_WAIT_MS });
  await ing.start();
  ingesters.push(ing);
  return ing;
}

async function stopIngester(ing: Ingester): Promise<void> {
  await ing.stop();
  ingesters.splice(ingesters.indexOf(ing), 1);
}

async function shipAll(s: Shipper, recs: readonly TraceRecord[]): Promise<void> {
  await s.start();
  for (const r of recs) await s.record(r);
}

describe.skipIf(skip)("fleet: ship -> NATS JetStream -> ingest -> PostgreSQL", () => {
  beforeAll(async () => {
    if (bins.missing.length > 0)
      throw new Error(`missing ${bins.missing.join(", ")} (CI=true: a failure, apt-get install nats-server postgresql)`);
    const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1, ringBytes: 8 * 1024 * 1024 } });
    const started = Promise.all([NatsServer.start(bins.natsServer!), PgServer.start(bins.pgBin!)]);
    try {
      await burst(client, 5000, { pace: false, drive: 1 });
      for await (const ev of client.trace({ from: 0n, follow: false })) if (ev.type === "record") records.push(ev.record);
    } finally {
      await client.close();
      [nats, pgs] = await started;
    }
    records = records.slice(0, 10_000);
    expect(records).toHaveLength(10_000);
    await connectDb();
  });

  // A failed test leaves no ingester behind to take the next test's messages.
  afterEach(async () => {
    for (const i of [...ingesters]) await stopIngester(i).catch(() => undefined);
  });

  afterAll(async () => {
    for (const i of [...ingesters]) await i.stop().catch(() => undefined);
    await db?.end().catch(() => undefined);
    await nats?.destroy();
    await pgs?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("the ingester's fast row path (protobuf bytes -> COPY text) equals the decoder's for every record; unusual encodings fall back", () => {
    for (let i = 0; i < records.length; i += 256) {
      const part = records.slice(i, i + 256);
      const fast = fastRows(recordsEnvelope("h", "i", part).body);
      expect(fast).toBeDefined();
      expect(fast!.rows).toEqual(part.map(recordRowText));
      expect(fast!.timestamps).toEqual(part.map((r) => Number(r.timestamp)));
    }
    const odd = { ...records[0]!, openerImage: "brûleur.exe", inputHead: new Uint8Array([9, 0, 255]), status: 0xc0000001, kind: -1 };
    const env = recordsEnvelope("h", "i", [odd]);
    expect(fastRows(env.body)).toBeUndefined();
    expect(decodeRecords(env.body).map(recordRowText)).toEqual([recordRowText(odd)]);
    const plain = { ...records[0]!, inputHead: new Uint8Array([9, 0, 255]), status: 0xc0000001, information: 1n << 63n, truncated: true };
    expect(fastRows(recordsEnvelope("h", "i", [plain]).body)!.rows).toEqual([recordRowText(plain)]);
  });

  it("50 hosts x 10,000 records ship at once and every record lands exactly once, with typed columns and names", async () => {
    const a = await startIngester();
    const b = await startIngester();
    const hosts = Array.from({ length: 50 }, (_, i) => `h${String(i + 1).padStart(2, "0")}`);
    const shippers = hosts.map((h) => shipper(h));
    await Promise.all(shippers.map((s) => shipAll(s, records)));
    const left = await Promise.all(shippers.map((s) => s.close()));
    expect(left.every((n) => n === 0)).toBe(true);
    expect(shippers.reduce((n, s) => n + s.stats.acked, 0)).toBe(50 * Math.ceil(10_000 / 256));
    await waitFor(
      "500,000 rows",
      // The ingesters' own counts (a count(*) of the growing table every 100 ms would load the
      // database it measures); the rows are counted in SQL below.
      async () => a.stats.inserted + b.stats.inserted >= 500_000,
      400_000,
    );
    await sleep(300);
    // Exactly once: every (host, seq) present, none twice (the primary key), no gap anywhere.
    const per = await db.query(
      "SELECT host, count(*)::int AS n, min(seq)::text AS lo, max(seq)::text AS hi FROM cdfilter_trace GROUP BY host ORDER BY host",
    );
    expect(per.rows).toHaveLength(50);
    for (const r of per.rows) expect([r.n, r.lo, r.hi]).toEqual([10_000, String(records[0]!.seq), String(records[9999]!.seq)]);
    expect(await count("SELECT count(*) FROM cdfilter_gaps WHERE host LIKE 'h%' AND (missing <> 0 OR dropped <> 0)")).toBe(0);
    expect(a.stats.inserted + b.stats.inserted).toBe(500_000);
    // Both ingesters took part (one consumer, shared work).
    expect(a.stats.batches).toBeGreaterThan(0);
    expect(b.stats.batches).toBeGreaterThan(0);
    // A row through the view equals its record, with names and the wall time from the anchors.
    const rec = records.find((r) => r.kind === 2 && r.major === 3)!;
    const v = (await db.query("SELECT * FROM cdfilter_records WHERE host = 'h17' AND instance = 'i1' AND seq = $1", [String(rec.seq)]))
      .rows[0];
    expect(v).toMatchObject({
      kind: "COMPLETION",
      major_name: "READ",
      status_name: "STATUS_SUCCESS",
      decision: "PASS",
      opener_image: "burst.exe",
      pid: String(rec.pid),
      request_id: String(rec.requestId),
      timestamp_100ns: String(rec.timestamp),
      duration_100ns: String(rec.duration),
      information: String(rec.information),
      output_length: String(rec.outputLength),
      truncated: rec.truncated,
    });
    const wallMs = Number((134_000_000_000_000_000n - 116_444_736_000_000_000n + rec.timestamp) / 10_000n);
    expect(Math.abs(new Date(v.time).getTime() - wallMs)).toBeLessThan(2);
    const hostsRow = await count("SELECT count(*) FROM cdfilter_hosts WHERE host LIKE 'h%' AND last_instance = 'i1'");
    expect(hostsRow).toBe(50);
    await stopIngester(a);
    await stopIngester(b);
  }, 480_000);

  it("replayed messages are rejected as duplicates: by JetStream (same Nats-Msg-Id) and by the store (ON CONFLICT)", async () => {
    const ing = await startIngester();
    const first = shipper("r01");
    await shipAll(first, records);
    expect(await first.close()).toBe(0);
    expect(first.stats.duplicates).toBe(0);
    const again = shipper("r01");
    await shipAll(again, records);
    expect(await again.close()).toBe(0);
    // Same batches, same ids, inside the duplicate window: JetStream acknowledges them as duplicates.
    expect(again.stats.duplicates).toBe(again.stats.acked);
    expect(again.stats.acked).toBe(Math.ceil(10_000 / 256));
    // Other batch boundaries, so other ids: JetStream stores them, the store refuses every row.
    const rebatched = shipper("r01", { recordsPerMessage: 100 });
    await shipAll(rebatched, records);
    expect(await rebatched.close()).toBe(0);
    expect(rebatched.stats.duplicates).toBe(0);
    await waitFor("the rebatched replay ingested", async () => ing.stats.records >= 20_000);
    expect(ing.stats.inserted).toBe(10_000);
    expect(ing.stats.duplicates).toBe(10_000);
    expect(await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'r01'")).toBe(10_000);
    await stopIngester(ing);
  });

  it("an ingester killed mid-batch loses and duplicates nothing: its unacknowledged messages are redelivered", async () => {
    const s = shipper("k01", { recordsPerMessage: 64 });
    await shipAll(s, [...records, ...records.map((r) => ({ ...r, seq: r.seq + 100_000n }))]);
    expect(await s.close()).toBe(0);
    const child = spawn(
      process.execPath,
      [BIN, "ingest", "--nats", nats.url, "--pg", pgs.url, "--batch", "4", "--ack-wait", String(ACK_WAIT_MS), "--quiet"],
      { cwd: ROOT, stdio: "ignore" },
    );
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      await waitFor(
        "the child's first rows",
        async () => (await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'k01'")) > 0,
        60_000,
      );
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    const before = await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'k01'");
    expect(before).toBeLessThan(20_000);
    const ing = await startIngester();
    await waitFor("20,000 rows of k01", async () => (await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'k01'")) >= 20_000);
    await sleep(ACK_WAIT_MS + 500);
    expect(await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'k01'")).toBe(20_000);
    // The two halves are 100,000 apart: the numbers between them are missing, nothing else.
    const span = records[9999]!.seq + 100_000n - records[0]!.seq + 1n;
    expect(await count("SELECT sum(missing) FROM cdfilter_gaps WHERE host = 'k01'")).toBe(Number(span) - 20_000);
    await stopIngester(ing);
  }, 150_000);

  it("NATS restarting while a host ships: messages go to the spool and are resent on reconnect, each record stored once", async () => {
    const ing = await startIngester();
    const s = shipper("n01", { publishTimeoutMs: 1000 });
    await s.start();
    for (const r of records.slice(0, 5000)) await s.record(r);
    await nats.stop();
    for (const r of records.slice(5000, 7500)) await s.record(r);
    await sleep(300);
    const restart = nats.start();
    for (const r of records.slice(7500)) await s.record(r);
    await restart;
    expect(await s.close(60_000)).toBe(0);
    expect(s.stats.spooled).toBeGreaterThan(0);
    expect(s.stats.resent).toBe(s.stats.spooled);
    await waitFor("10,000 rows of n01", async () => (await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'n01'")) >= 10_000);
    await sleep(500);
    expect(await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'n01'")).toBe(10_000);
    await stopIngester(ing);
  }, 120_000);

  it("PostgreSQL restarting under the ingester: the batch rolls back, is NAKed and stored after the restart", async () => {
    const ing = await startIngester({ batch: 8 });
    await pgs.stop();
    const s = shipper("p01");
    await shipAll(s, records);
    expect(await s.close()).toBe(0);
    await waitFor("a failed batch", async () => ing.stats.failures > 0, 30_000);
    await pgs.start();
    await connectDb();
    await waitFor("10,000 rows of p01", async () => (await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'p01'")) >= 10_000);
    await sleep(300);
    expect(await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'p01'")).toBe(10_000);
    await stopIngester(ing);
  }, 120_000);

  it("a full spool drops records with an in-band count: stored + counted as dropped = shipped", async () => {
    const dir = mkdtempSync(join(tmp, "spool-full-"));
    // NATS unreachable (nothing listens there): everything goes to a 64 KiB spool.
    const closedPort = nats.port + 1 === pgs.port ? nats.port + 2 : nats.port + 1;
    const s1 = shipper("s01", { target: target(`nats://127.0.0.1:${closedPort}`), spool: new Spool(dir, 64 * 1024) });
    await shipAll(s1, records);
    expect(await s1.close(0)).toBeGreaterThan(0);
    expect(s1.stats.droppedRecords).toBeGreaterThan(0);
    expect(s1.stats.lostNotices).toBe(0);
    // The next run with the same spool, NATS reachable: the leftovers are sent first.
    const s2 = shipper("s01", { spool: new Spool(dir, 64 * 1024) });
    await s2.start();
    expect(await s2.close(60_000)).toBe(0);
    expect(s2.stats.resent).toBeGreaterThan(0);
    const ing = await startIngester();
    const accounted = async () =>
      (await count("SELECT count(*) FROM cdfilter_trace WHERE host = 's01'")) +
      (await count("SELECT coalesce(sum(count), 0) FROM cdfilter_drops WHERE host = 's01'"));
    await waitFor("s01 accounted for", async () => (await accounted()) >= 10_000);
    await sleep(300);
    expect(await accounted()).toBe(10_000);
    expect(await count("SELECT spool_dropped FROM cdfilter_gaps WHERE host = 's01'")).toBe(s1.stats.droppedRecords);
    await stopIngester(ing);
  });

  it("an audit report becomes findings per image and rule; the fleet reports: hosts, findings across hosts, gaps", async () => {
    const doc = {
      scenario: { name: "lab night" },
      startedAt: "2026-12-01T22:00:00.000Z",
      passed: 1,
      failed: 1,
      images: { burner: "burner.exe", player: "player.exe" },
      steps: [
        { label: "burner lock", passed: true, checks: [{ field: "reason", expected: "LOCK_TAKEN", actual: "LOCK_TAKEN", ok: true }] },
        {
          label: "player eject",
          passed: false,
          checks: [{ field: "status", expected: "STATUS_DEVICE_BUSY", actual: "STATUS_SUCCESS", ok: false }],
        },
      ],
    };
    expect(findingsFromAudit(doc)).toEqual([
      { image: "burner.exe", rule: "LOCK_TAKEN", verdict: "pass", detail: "" },
      { image: "player.exe", rule: "eject", verdict: "fail", detail: "status: expected STATUS_DEVICE_BUSY, got STATUS_SUCCESS" },
    ]);
    const ing = await startIngester();
    for (const h of ["a01", "a02"]) {
      const s = shipper(h);
      await s.start();
      await s.audit(doc);
      await s.audit(doc); // the same report twice is one report
      expect(await s.close()).toBe(0);
    }
    await waitFor("findings", async () => (await count("SELECT count(*) FROM cdfilter_findings WHERE host IN ('a01','a02')")) >= 4);
    await sleep(300);
    expect(await count("SELECT count(*) FROM cdfilter_findings WHERE host IN ('a01','a02')")).toBe(4);
    await stopIngester(ing);
    // The reports behind `cdfilter fleet` (its --json output is checked in the last test, with the spawns).
    const hs = await hostsReport(db);
    expect(hs.find((h) => h.host === "h05")).toMatchObject({ records: 10_000, failingFindings: 0 });
    expect(hs.find((h) => h.host === "a02")).toMatchObject({ records: 0, failingFindings: 1 });
    expect(await findingsReport(db, { failing: true })).toEqual([
      { image: "player.exe", rule: "eject", verdict: "fail", findings: 2, hosts: ["a01", "a02"], lastTime: "2026-12-01T22:00:00.000Z" },
    ]);
    expect((await findingsReport(db, { image: "burner.exe", rule: "LOCK_TAKEN" })).map((f) => [f.verdict, f.hosts])).toEqual([
      ["pass", ["a01", "a02"]],
    ]);
    const g = await gapsReport(db, "s01");
    expect(g).toHaveLength(1);
    expect(g[0]!.records + g[0]!.spoolDropped).toBe(10_000);
  });

  it("sources: a JSON Lines trace file (same file twice = same instance, nothing added) and the simulator playing a scenario", async () => {
    await startIngester();
    // A file with a ring drop in the middle; shipped twice.
    const file = join(tmp, "night.jsonl");
    const lines = records.slice(0, 3000).map((r) => recordJsonLine(r));
    lines.splice(1000, 0, `{"type":"dropped","count":"7","afterSeq":"${records[999]!.seq}"}`);
    writeFileSync(file, `${lines.join("\n")}\n`);
    const instance = fileInstance(file);
    expect(instance).toMatch(/^f[0-9a-f]{24}$/);
    for (let i = 0; i < 2; i++) {
      const s = shipper("f01", { instance, anchors: undefined });
      await s.start();
      const r = await shipJsonLines(file, s);
      expect(r).toMatchObject({ records: 3000, dropped: 7n });
      expect(await s.close()).toBe(0);
    }
    // The simulator playing the demo scenario: its records and its audit report.
    const scenario = loadScenario(join(ROOT, "scenarios", "demo.yaml"));
    const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: scenario.drives } });
    let live: Awaited<ReturnType<typeof shipLive>>;
    try {
      const info = client.connectInfo;
      const s = shipper("sim01", { instance: liveInstance(client), anchors: { wall: info.wallClockAnchor, mono: info.monotonicAnchor } });
      await s.start();
      live = await shipLive(client, s, { activity: { scenario: scenario.file }, scenario, follow: false });
      expect(await s.close()).toBe(0);
    } finally {
      await client.close();
    }
    expect(live.records).toBeGreaterThan(20);
    await waitFor("the file and the scenario stored", async () => {
      const f = await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'f01'");
      const d = await count("SELECT count(*) FROM cdfilter_drops WHERE host = 'f01'");
      const a = await count("SELECT count(*) FROM cdfilter_audits WHERE host = 'sim01'");
      const t = await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'sim01'");
      return f >= 3000 && d >= 1 && a >= 1 && t >= live.records;
    });
    await sleep(300);
    expect(await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'f01' AND instance = $1", [instance])).toBe(3000);
    expect(await count("SELECT dropped FROM cdfilter_gaps WHERE host = 'f01'")).toBe(7);
    // Without anchors (a file), a row's time is when JetStream stored its message.
    expect(await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'f01' AND abs(extract(epoch from now() - time)) > 600")).toBe(0);
    expect(await count("SELECT count(*) FROM cdfilter_trace WHERE host = 'sim01'")).toBe(live.records);
    const f = (await db.query("SELECT image, rule, verdict FROM cdfilter_findings WHERE host = 'sim01' ORDER BY image, rule")).rows;
    expect(f).toContainEqual({ image: "player.exe", rule: "WOULD_DENY", verdict: "pass" });
    expect(f).toContainEqual({ image: "ripper.exe", rule: "SIMPLE_LOCK_LEAK", verdict: "pass" });
    // The scenario's refused eject is in the store with its names.
    expect(
      await count(
        "SELECT count(*) FROM cdfilter_records WHERE host = 'sim01' AND ioctl_name = 'IOCTL_STORAGE_EJECT_MEDIA' AND status_name = 'STATUS_DEVICE_BUSY' AND opener_image = 'player.exe'",
      ),
    ).toBeGreaterThan(0);
  });

  it("passwords and tokens in the URLs never appear in output or errors", async () => {
    const authNats = await NatsServer.start(bins.natsServer!, { user: "alice", pass: "right-one" });
    const natsSecret = "n4ts-S3cret-pw";
    const pgSecret = "pg-S3cret-pw";
    try {
      const run = (args: string[]) =>
        new Promise<{ code: number; out: string }>((resolve) =>
          execFile(process.execPath, [BIN, ...args], { cwd: ROOT }, (err, stdout, stderr) =>
            resolve({ code: err ? Number(err.code ?? -1) : 0, out: stdout + stderr }),
          ),
        );
      const badNats = `nats://alice:${natsSecret}@127.0.0.1:${authNats.port}`;
      const badPg = `postgres://${pgs.user}:${pgSecret}@127.0.0.1:${pgs.port}/postgres`;
      const spool = mkdtempSync(join(tmp, "spool-secret-"));
      const runs = await Promise.all([
        run(["fleet", "findings", "--pg", pgs.url, "--failing", "--json"]),
        run(["ingest", "--nats", badNats, "--pg", pgs.url]),
        run(["ingest", "--nats", nats.url, "--pg", badPg, "--json"]),
        run(["fleet", "hosts", "--pg", badPg]),
        run(["ship", "--nats", badNats, "--burst", "10", "--spool", spool, "--drain-timeout", "1"]),
      ]);
      const [findings, ingNats, ingPg, fleetPg, ship] = runs;
      expect(findings!.code).toBe(0);
      expect(JSON.parse(findings!.out).findings).toEqual([
        { image: "player.exe", rule: "eject", verdict: "fail", findings: 2, hosts: ["a01", "a02"], lastTime: "2026-12-01T22:00:00.000Z" },
      ]);
      expect(ingNats!.code).toBe(4);
      expect(ingNats!.out).toMatch(/cannot start ingesting: .*(Authorization|auth)/i);
      expect(ingPg!.code).toBe(4);
      expect(ingPg!.out).toMatch(/password authentication failed/);
      expect(fleetPg!.code).toBe(4);
      expect(ship!.code).toBe(4);
      expect(ship!.out).toMatch(/still in the spool/);
      for (const r of runs) {
        expect(r.out).not.toContain(natsSecret);
        expect(r.out).not.toContain(pgSecret);
        expect(r.out).not.toContain(pgs.password);
      }
    } finally {
      await authNats.destroy();
    }
    const secrets = new Secrets();
    const t = parseNatsUrl("nats://tok3nValue@h1:4222,nats://u:p%40ss%2Fword@h2?tls=1&ca=/etc/ca.pem", secrets);
    expect(t).toMatchObject({
      servers: ["h1:4222", "h2:4222"],
      token: "tok3nValue",
      user: "u",
      pass: "p@ss/word",
      tls: { caFile: "/etc/ca.pem" },
    });
    expect(t.display).toBe("nats://***@h1:4222,nats://u:***@h2:4222");
    expect(secrets.scrub("failed: p@ss/word and tok3nValue at nats://x:y@z")).toBe("failed: *** and *** at nats://x:***@z");
  });
});
