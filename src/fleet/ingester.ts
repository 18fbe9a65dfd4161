/**
 * The ingesting side of the fleet (`cdfilter ingest`): a durable JetStream pull consumer that
 * writes to PostgreSQL in batches and acknowledges each message only after its batch COMMITted.
 *
 * Crash anywhere before the acks: JetStream redelivers after `ack_wait`, and the rows already
 * committed are not added twice (primary key (host, instance, seq), ON CONFLICT DO NOTHING).
 * A database error rolls the batch back and NAKs its messages (redelivered shortly), then the
 * ingester reconnects with a backoff. Several ingesters may share the consumer. A message that
 * cannot be read (bad subject, headers, payload) goes to `cdfilter_rejects` and is acknowledged.
 */
import { type ConsumerMessages, type JetStreamManager, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import type { TraceRecord } from "../client/index.ts";
import { STREAM_NAME, decodeDrop, decodeRecords, findingsFromAudit, isValidName } from "./envelope.ts";
import { CONSUMER_NAME, type StreamOptions, ensureConsumer, ensureStream, natsConnect } from "./nats.ts";
import type { NatsTarget, Secrets } from "./secrets.ts";
import { fastRows } from "./rowtext.ts";
import { type Batch, migrate, prepareCopy, prepareSession, refreshNames, writeBatch } from "./store.ts";

export interface IngesterOptions {
  target: NatsTarget;
  pgUrl: string;
  secrets: Secrets;
  /** Messages per transaction (default 64; a trace message holds up to 256 records). */
  batch?: number;
  /** Wait at most this long for a batch to fill, ms (default 20). */
  lingerMs?: number;
  /** Redelivery of unacknowledged messages, ms (default 30 s). */
  ackWaitMs?: number;
  /** Ingesters expected to share the consumer (sizes max_ack_pending). */
  ingesters?: number;
  durable?: string;
  /** Stream settings used when this ingester creates the stream. */
  stream?: StreamOptions;
  log?: (line: string) => void;
}

export interface IngesterStats {
  messages: number;
  batches: number;
  /** Trace records received / newly stored / already stored (redelivery or replay). */
  records: number;
  inserted: number;
  duplicates: number;
  drops: number;
  audits: number;
  rejects: number;
  /** Transactions rolled back (their messages NAKed). */
  failures: number;
  lastMessageAt: number;
}

const TWO_63 = 1n << 63n;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Ingester {
  readonly stats: IngesterStats = {
    messages: 0,
    batches: 0,
    records: 0,
    inserted: 0,
    duplicates: 0,
    drops: 0,
    audits: 0,
    rejects: 0,
    failures: 0,
    lastMessageAt: 0,
  };
  private nc: NatsConnection | undefined;
  private jsm: JetStreamManager | undefined;
  private db: pg.Client | undefined;
  private messages: ConsumerMessages | undefined;
  private stopping = false;
  private readonly queue: JsMsg[] = [];
  private wake: (() => void) | undefined;
  private space: (() => void) | undefined;
  private readonly batchSize: number;
  private loop: Promise<void> | undefined;
  private backoff = 100;

  constructor(private readonly o: IngesterOptions) {
    this.batchSize = o.batch ?? 64;
  }

  private log(s: string): void {
    this.o.log?.(this.o.secrets.scrub(s));
  }

  /** Connect to both, migrate the schema, create stream and consumer. Throws (secrets scrubbed) when either is unreachable. */
  async start(): Promise<void> {
    try {
      await this.connectDb();
      this.nc = await natsConnect(this.o.target, "cdfilter-ingest");
      this.jsm = await jetstreamManager(this.nc);
      await ensureStream(this.jsm, this.o.stream);
      await ensureConsumer(this.jsm, {
        durable: this.o.durable,
        batch: this.batchSize,
        ingesters: this.o.ingesters,
        ackWaitMs: this.o.ackWaitMs,
      });
      const consumer = await jetstream(this.nc).consumers.get(STREAM_NAME, this.o.durable ?? CONSUMER_NAME);
      this.messages = await consumer.consume({ max_messages: this.batchSize * 2, expires: 5000 });
    } catch (e) {
      await this.close();
      throw this.o.secrets.scrubError(e);
    }
    this.loop = Promise.all([this.pump(), this.work()]).then(() => undefined);
  }

  private async connectDb(): Promise<void> {
    const db = new pg.Client({ connectionString: this.o.pgUrl, application_name: "cdfilter-ingest" });
    // A dropped connection is reported through the next query; the event must not crash the process.
    db.on("error", () => undefined);
    await db.connect();
    try {
      const applied = await migrate(db);
      if (applied.length > 0) this.log(`schema: applied migration(s) ${applied.join(", ")}`);
      await refreshNames(db);
      await prepareSession(db);
    } catch (e) {
      await db.end().catch(() => undefined);
      throw e;
    }
    this.db = db;
  }

  private async pump(): Promise<void> {
    const it = this.messages;
    if (!it) return;
    for await (const m of it) {
      this.queue.push(m);
      this.wake?.();
      while (this.queue.length >= this.batchSize * 2 && !this.stopping) await new Promise<void>((r) => (this.space = r));
      if (this.stopping) break;
    }
  }

  /**
   * Take batches off the queue and write them. The next batch is decoded and its COPY text built
   * while the previous one is still being written (one database connection: writes stay in order).
   */
  private async work(): Promise<void> {
    let writing: Promise<void> | undefined;
    while (!this.stopping) {
      if (this.queue.length === 0) {
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 250);
        });
        this.wake = undefined;
        continue;
      }
      if (this.queue.length < this.batchSize) await sleep(this.o.lingerMs ?? 20);
      const msgs = this.queue.splice(0, this.batchSize);
      this.space?.();
      this.space = undefined;
      const batch = this.decode(msgs);
      prepareCopy(batch);
      await writing;
      writing = this.commit(msgs, batch);
    }
    await writing;
  }

  /** Write one batch and ack its messages after COMMIT; on failure NAK them and reconnect after a backoff. */
  private async commit(msgs: JsMsg[], batch: Batch): Promise<void> {
    try {
      if (!this.db) await this.connectDb();
      const r = await writeBatch(this.db!, batch);
      for (const m of msgs) m.ack();
      this.stats.batches++;
      this.stats.messages += msgs.length;
      this.stats.records += r.offered;
      this.stats.inserted += r.inserted;
      this.stats.duplicates += r.offered - r.inserted;
      this.stats.drops += r.drops;
      this.stats.audits += r.audits;
      this.stats.rejects += batch.rejects.length;
      this.stats.lastMessageAt = Date.now();
      this.backoff = 100;
    } catch (e) {
      this.stats.failures++;
      for (const m of msgs) m.nak(500);
      this.log(`batch of ${msgs.length} message(s) not stored (${(e as Error).message}); retrying`);
      const db = this.db;
      this.db = undefined;
      await db?.end().catch(() => undefined);
      await sleep(this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    }
  }

  /** Turn messages into rows; what cannot be read becomes a reject row (stored, acknowledged). */
  private decode(msgs: JsMsg[]): Batch {
    const b: Batch = { groups: [], drops: [], audits: [], rejects: [] };
    for (const m of msgs) {
      const h = (k: string) => m.headers?.get(k) || undefined;
      const reject = (error: string) => b.rejects.push({ subject: m.subject, msgId: h("Nats-Msg-Id"), error, payload: m.data });
      const parts = m.subject.split(".");
      const host = parts[1] ?? "";
      const kind = h("Cdf-Kind");
      const instance = h("Cdf-Instance") ?? "";
      if (parts.length !== 3 || parts[0] !== "cdfilter" || !isValidName(host)) {
        reject(`unexpected subject ${m.subject}`);
        continue;
      }
      if (h("Cdf-Host") !== host) {
        reject(`header Cdf-Host ${JSON.stringify(h("Cdf-Host") ?? null)} differs from the subject's host ${host}`);
        continue;
      }
      if (!isValidName(instance)) {
        reject(`bad or missing Cdf-Instance ${JSON.stringify(instance)}`);
        continue;
      }
      const time = new Date(Math.floor(Number(m.info.timestampNanos) / 1e6));
      try {
        if (parts[2] === "trace" && kind === "records") {
          // Fast path (no record objects); the generated decoder for anything unusual.
          const fast = fastRows(m.data);
          const records = fast ? [] : decodeRecords(m.data);
          const bad = records.find((r: TraceRecord) => r.seq >= TWO_63 || r.timestamp >= TWO_63 || r.duration >= TWO_63);
          if (bad) throw new Error(`record seq ${bad.seq}: seq, timestamp and duration must be below 2^63`);
          const wall = h("Cdf-Wall-Anchor");
          const mono = h("Cdf-Mono-Anchor");
          const anchors =
            wall && mono && /^\d{1,19}$/.test(wall) && /^\d{1,19}$/.test(mono) ? { wall: BigInt(wall), mono: BigInt(mono) } : undefined;
          b.groups.push({ host, instance, anchors, fallbackTime: time, records, fast });
        } else if (parts[2] === "trace" && kind === "dropped") {
          const d = decodeDrop(m.data);
          if (d.afterSeq >= TWO_63 || d.count >= TWO_63) throw new Error("drop notice values must be below 2^63");
          b.drops.push({ ...d, host, instance, time });
        } else if (parts[2] === "audit" && kind === "audit") {
          const text = new TextDecoder("utf-8", { fatal: true }).decode(m.data);
          const doc = JSON.parse(text) as Record<string, unknown>;
          const findings = findingsFromAudit(doc);
          const scenario = doc.scenario as Record<string, unknown> | undefined;
          const reportId = h("Cdf-Report-Id") ?? "";
          if (!/^[0-9a-f]{8,64}$/.test(reportId)) throw new Error("bad or missing Cdf-Report-Id");
          b.audits.push({
            host,
            instance,
            reportId,
            name: typeof scenario?.name === "string" ? scenario.name : null,
            passed: typeof doc.passed === "number" ? doc.passed : null,
            failed: typeof doc.failed === "number" ? doc.failed : null,
            time: typeof doc.startedAt === "string" && !Number.isNaN(Date.parse(doc.startedAt)) ? new Date(doc.startedAt) : time,
            docText: text.replace(/\\u0000/g, ""),
            findings,
          });
        } else {
          reject(`unknown Cdf-Kind ${JSON.stringify(kind ?? null)} on ${m.subject}`);
        }
      } catch (e) {
        reject((e as Error).message);
      }
    }
    return b;
  }

  /** Stop consuming, finish the batch in progress, NAK what was received but not written. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.space?.();
    await this.messages?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    for (const m of this.queue.splice(0)) m.nak();
    await this.close();
  }

  private async close(): Promise<void> {
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
    this.nc = undefined;
    await this.db?.end().catch(() => undefined);
    this.db = undefined;
  }

  /** Resolves when the consumer has nothing pending and nothing is being written. */
  async idle(): Promise<boolean> {
    if (!this.jsm) return true;
    const ci = await this.jsm.consumers.info(STREAM_NAME, this.o.durable ?? CONSUMER_NAME);
    return ci.num_pending === 0 && ci.num_ack_pending === 0 && this.queue.length === 0;
  }
}
