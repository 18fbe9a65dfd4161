/**
 * The shipping side of the fleet (`cdfilter ship`): trace records, drop notices and audit reports
 * of one machine into JetStream, batched, with back-pressure and a bounded on-disk spool.
 *
 * - Records are grouped into messages of up to `recordsPerMessage` (envelope.ts); at most
 *   `window` publishes wait for their JetStream ack at once: `record()` awaits when the window is
 *   full, so a slow NATS slows the reader (and, on the simulator, the paced activity).
 * - A publish that fails (timeout, no stream, connection lost) and every message sent while NATS
 *   is unreachable goes to the spool (spool.ts); a background loop resends the spool, oldest
 *   first, once NATS answers, and only then returns to direct publishing.
 * - A message the spool cannot take (full) is dropped and its records are counted in a drop
 *   notice (cause "spool-full") that travels in-band like any message, so the store sees
 *   `count` records missing after `afterSeq`. Drop notices use a reserved slice of the spool.
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import type { TraceRecord } from "../client/index.ts";
import { type Anchors, type DropCause, type Envelope, auditEnvelope, dropEnvelope, recordsEnvelope } from "./envelope.ts";
import { type StreamOptions, ensureStream, natsOptions } from "./nats.ts";
import type { NatsTarget } from "./secrets.ts";
import type { Spool } from "./spool.ts";
import { connect } from "@nats-io/transport-node";

export interface ShipperOptions {
  host: string;
  instance: string;
  target: NatsTarget;
  spool: Spool;
  anchors?: Anchors;
  /** Records per message (default 256). */
  recordsPerMessage?: number;
  /** A partly filled message is sent this long after its first record, ms (default 50). */
  lingerMs?: number;
  /** Publishes awaiting their ack at once (default 32). */
  window?: number;
  /** A publish without an ack after this long is spooled, ms (default 5000). */
  publishTimeoutMs?: number;
  stream?: StreamOptions;
  /** Notes for the user (already free of secrets: nothing secret is passed in). */
  log?: (line: string) => void;
  /** Connection name shown by the NATS server. */
  clientName?: string;
}

export interface ShipperStats {
  /** Records handed to the shipper. */
  records: number;
  /** Messages built (records, drop notices, audits). */
  messages: number;
  /** Messages acknowledged by JetStream (first try or from the spool). */
  acked: number;
  /** Acks that said "duplicate" (the stream already had that Nats-Msg-Id). */
  duplicates: number;
  /** Messages written to the spool. */
  spooled: number;
  /** Spooled messages resent and acknowledged. */
  resent: number;
  /** Records dropped because the spool was full (each counted in a drop notice). */
  droppedRecords: number;
  /** Drop notices sent or spooled (ring overflow, spool full, source). */
  dropNotices: number;
  /** Drop notices that could not even be spooled (reported on close, never silent). */
  lostNotices: number;
  audits: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Shipper {
  readonly stats: ShipperStats = {
    records: 0,
    messages: 0,
    acked: 0,
    duplicates: 0,
    spooled: 0,
    resent: 0,
    droppedRecords: 0,
    dropNotices: 0,
    lostNotices: 0,
    audits: 0,
  };
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private streamReady = false;
  private degraded = false;
  private closing = false;
  private closed = false;
  private deadline = Number.POSITIVE_INFINITY;
  private readonly inflight = new Set<Promise<void>>();
  private batch: TraceRecord[] = [];
  private linger: NodeJS.Timeout | undefined;
  private lingerFlush: Promise<void> | undefined;
  private draining: Promise<void> | undefined;
  private connecting: Promise<void> | undefined;
  /** The spool-full drop streak being counted (one notice per run of refused messages). */
  private streak: { afterSeq: bigint; count: bigint; nextSeq: bigint } | undefined;
  private readonly perMessage: number;
  private readonly window: number;
  private readonly timeout: number;
  private anchors: Anchors | undefined;

  constructor(private readonly o: ShipperOptions) {
    this.perMessage = o.recordsPerMessage ?? 256;
    this.window = o.window ?? 32;
    this.timeout = o.publishTimeoutMs ?? 5000;
    this.anchors = o.anchors;
    // Leftovers of an earlier run are sent first.
    if (o.spool.count > 0) this.degraded = true;
  }

  get connected(): boolean {
    return this.nc !== undefined && !this.nc.isClosed();
  }

  get spool(): Spool {
    return this.o.spool;
  }

  setAnchors(a: Anchors | undefined): void {
    this.anchors = a;
  }

  /** Try to connect (bounded by the connect timeout); when NATS is unreachable keep trying in the background. */
  async start(): Promise<void> {
    await this.tryConnect();
    if (this.connected && !(await this.ready())) this.degraded = true;
    if (!this.connected) {
      this.o.log?.("NATS unreachable: spooling until it answers");
      this.degraded = true;
      this.connecting ??= this.connectLoop();
    }
    if (this.degraded) this.kickDrain();
  }

  private async tryConnect(): Promise<void> {
    try {
      const nc = await connect({ ...natsOptions(this.o.target, this.o.clientName ?? `cdfilter-ship-${this.o.host}`), timeout: 2000 });
      if (this.closed) {
        await nc.close();
        return;
      }
      this.nc = nc;
      this.js = jetstream(nc, { timeout: this.timeout });
      this.jsm = await jetstreamManager(nc, { timeout: this.timeout });
      void this.watch(nc);
    } catch {
      this.nc = undefined;
    }
  }

  private async connectLoop(): Promise<void> {
    while (!this.connected && !this.closed && !(this.closing && Date.now() > this.deadline)) {
      await sleep(250);
      await this.tryConnect();
    }
    this.connecting = undefined;
    if (this.connected) this.kickDrain();
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.degraded = true;
        this.streamReady = false;
      } else if (s.type === "reconnect") {
        this.kickDrain();
      }
    }
  }

  private async ready(): Promise<boolean> {
    if (!this.jsm || !this.connected) return false;
    if (this.streamReady) return true;
    try {
      await ensureStream(this.jsm, this.o.stream);
      this.streamReady = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Add one record; resolves once the record is buffered (awaits when the publish window is full). */
  async record(r: TraceRecord): Promise<void> {
    this.stats.records++;
    this.batch.push(r);
    if (this.batch.length >= this.perMessage) await this.flushBatch();
    else if (this.batch.length === 1 && !this.linger) {
      // A slow trace still reaches the store promptly.
      this.linger = setTimeout(() => {
        this.linger = undefined;
        this.lingerFlush = this.flushBatch()
          .catch((e: unknown) => this.o.log?.(`flush failed: ${(e as Error).message}`))
          .finally(() => {
            this.lingerFlush = undefined;
          });
      }, this.o.lingerMs ?? 50);
    }
  }

  /** Records left the source before they could be read (ring overflow, unreadable file lines). */
  async dropped(count: bigint, afterSeq: bigint, cause: DropCause = "ring"): Promise<void> {
    await this.flushBatch();
    this.stats.dropNotices++;
    await this.send(dropEnvelope(this.o.host, this.o.instance, { count, afterSeq, cause }, this.anchors));
  }

  /** An audit report (the JSON of `cdfilter audit --json-out`). */
  async audit(doc: unknown): Promise<void> {
    this.stats.audits++;
    await this.send(auditEnvelope(this.o.host, this.o.instance, doc));
  }

  private async flushBatch(): Promise<void> {
    if (this.linger) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    if (this.batch.length === 0) return;
    const env = recordsEnvelope(this.o.host, this.o.instance, this.batch, this.anchors);
    const first = this.batch[0]!.seq;
    const last = this.batch[this.batch.length - 1]!.seq;
    env.headers["Cdf-First-Seq"] = String(first);
    env.headers["Cdf-Last-Seq"] = String(last);
    env.headers["Cdf-Count"] = String(this.batch.length);
    this.batch = [];
    await this.send(env);
  }

  private async send(env: Envelope): Promise<void> {
    this.stats.messages++;
    while (this.inflight.size >= this.window) await Promise.race(this.inflight);
    if (this.degraded || !this.js || !this.streamReady) {
      this.toSpool(env);
      this.kickDrain();
      return;
    }
    const p: Promise<void> = this.publish(env).then(
      () => undefined,
      () => {
        this.degraded = true;
        this.toSpool(env);
        this.kickDrain();
      },
    );
    const tracked = p.finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private async publish(env: Envelope): Promise<void> {
    const js = this.js;
    if (!js) throw new Error("not connected");
    const h = natsHeaders();
    for (const [k, v] of Object.entries(env.headers)) h.set(k, v);
    const ack = await js.publish(env.subject, env.body, { msgID: env.msgId, headers: h, timeout: this.timeout });
    this.stats.acked++;
    if (ack.duplicate) this.stats.duplicates++;
  }

  private toSpool(env: Envelope): void {
    const kind = env.headers["Cdf-Kind"];
    if (kind === "dropped") {
      if (!this.o.spool.put(env, { reserve: true })) {
        this.stats.lostNotices++;
        this.o.log?.(`spool full even for drop notices: ${env.msgId} lost`);
      } else this.stats.spooled++;
      return;
    }
    if (this.o.spool.put(env)) {
      this.stats.spooled++;
      this.endStreak();
      return;
    }
    if (kind === "records") {
      const first = BigInt(env.headers["Cdf-First-Seq"] ?? "0");
      const last = BigInt(env.headers["Cdf-Last-Seq"] ?? "0");
      const count = BigInt(env.headers["Cdf-Count"] ?? "0");
      this.stats.droppedRecords += Number(count);
      // Records of one message are consecutive unless the ring dropped some in between (then a
      // ring notice precedes them): one notice per contiguous run.
      if (this.streak && this.streak.nextSeq === first && last - first + 1n === count) {
        this.streak.count += count;
        this.streak.nextSeq = last + 1n;
      } else {
        this.endStreak();
        this.streak = { afterSeq: first - 1n, count, nextSeq: last - first + 1n === count ? last + 1n : -1n };
      }
    } else {
      this.stats.lostNotices++;
      this.o.log?.(`spool full: audit report ${env.msgId} dropped`);
    }
  }

  private endStreak(): void {
    const s = this.streak;
    if (!s) return;
    this.streak = undefined;
    this.stats.dropNotices++;
    this.stats.messages++;
    const env = dropEnvelope(this.o.host, this.o.instance, { count: s.count, afterSeq: s.afterSeq, cause: "spool-full" }, this.anchors);
    if (this.o.spool.put(env, { reserve: true })) this.stats.spooled++;
    else {
      this.stats.lostNotices++;
      this.o.log?.(`spool full even for drop notices: ${s.count} record(s) after seq ${s.afterSeq} dropped without a notice in the store`);
    }
  }

  private kickDrain(): void {
    this.draining ??= this.drainLoop().finally(() => {
      this.draining = undefined;
    });
  }

  private async drainLoop(): Promise<void> {
    for (;;) {
      if (this.closing && Date.now() > this.deadline) return;
      if (!(await this.ready())) {
        if (!this.connected && !this.connecting) this.connecting = this.connectLoop();
        await sleep(250);
        continue;
      }
      const items = this.o.spool.peekMany(this.window);
      if (items.length === 0) {
        // Spool empty: publish directly again. A streak still open is written first.
        if (this.streak) {
          this.endStreak();
          continue;
        }
        this.degraded = false;
        return;
      }
      const results = await Promise.allSettled(items.map((it) => this.publish(it.env)));
      let failed = false;
      results.forEach((r, i) => {
        if (r.status === "fulfilled") {
          this.o.spool.remove(items[i]!.name);
          this.stats.resent++;
        } else failed = true;
      });
      if (failed) {
        this.streamReady = false;
        await sleep(250);
      }
    }
  }

  /**
   * Send what is buffered, wait for every ack and for the spool to drain, at most `drainTimeoutMs`
   * (default: forever). Returns the number of messages still in the spool (sent by the next run).
   */
  async close(drainTimeoutMs = Number.POSITIVE_INFINITY): Promise<number> {
    await this.lingerFlush;
    await this.flushBatch();
    this.closing = true;
    this.deadline = Date.now() + drainTimeoutMs;
    while (this.inflight.size > 0) await Promise.race(this.inflight);
    this.endStreak();
    while (this.o.spool.count > 0 && Date.now() <= this.deadline) {
      this.kickDrain();
      await Promise.race([this.draining, sleep(Math.max(1, Math.min(250, this.deadline - Date.now())))]);
    }
    this.endStreak();
    this.closed = true;
    this.deadline = Math.min(this.deadline, Date.now());
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    await this.connecting?.catch(() => undefined);
    return this.o.spool.count;
  }
}
