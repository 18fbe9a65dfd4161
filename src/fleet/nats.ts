/**
 * NATS connection and the JetStream objects of the fleet: the stream (created idempotently by
 * ship and ingest) and the durable pull consumer of the ingesters.
 *
 * Sources: NATS documentation "JetStream" (streams, consumers, `max_ack_pending`, `ack_wait`,
 * `duplicate_window`), the nats.js v3 client (`@nats-io/transport-node`, `@nats-io/jetstream`).
 */
import { type ConsumerInfo, type JetStreamManager, AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, type NodeConnectionOptions, connect, credsAuthenticator } from "@nats-io/transport-node";
import { type NatsTarget, readCreds } from "./secrets.ts";
import { STREAM_NAME, STREAM_SUBJECTS } from "./envelope.ts";

const NS_PER_MS = 1_000_000;

/** Connection options from a parsed URL (secrets go to the client only). */
export function natsOptions(t: NatsTarget, name: string): NodeConnectionOptions {
  const o: NodeConnectionOptions = {
    servers: t.servers,
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: 5_000,
    pingInterval: 10_000,
  };
  if (t.user !== undefined) {
    o.user = t.user;
    o.pass = t.pass;
  }
  if (t.token !== undefined) o.token = t.token;
  if (t.credsFile) {
    const creds = readCreds(t.credsFile);
    o.authenticator = credsAuthenticator(creds);
  }
  if (t.tls) o.tls = { ...t.tls };
  return o;
}

/** Connect once (throws when no server answers within `timeout`). */
export async function natsConnect(t: NatsTarget, name: string): Promise<NatsConnection> {
  return await connect(natsOptions(t, name));
}

export interface StreamOptions {
  /** How long JetStream keeps messages, ms (0 = forever). Default 7 days. */
  maxAgeMs?: number;
  /** Deduplication window, ms. Default 2 minutes (JetStream's default). */
  duplicateWindowMs?: number;
  /** Replicas (a NATS cluster: 3). Default 1. */
  replicas?: number;
}

/**
 * Create the stream if it does not exist, or add our subjects to it; safe when several
 * processes do it at once (a lost race is answered by reading the stream back).
 */
export async function ensureStream(jsm: JetStreamManager, o: StreamOptions = {}): Promise<void> {
  const want = {
    name: STREAM_NAME,
    subjects: STREAM_SUBJECTS,
    max_age: (o.maxAgeMs ?? 7 * 24 * 3600 * 1000) * NS_PER_MS,
    duplicate_window: (o.duplicateWindowMs ?? 120_000) * NS_PER_MS,
    num_replicas: o.replicas ?? 1,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(STREAM_NAME);
      const missing = STREAM_SUBJECTS.filter((s) => !info.config.subjects?.includes(s));
      if (missing.length > 0)
        await jsm.streams.update(STREAM_NAME, { ...info.config, subjects: [...(info.config.subjects ?? []), ...missing] });
      return;
    } catch (e) {
      if (!/not found/i.test((e as Error).message) || attempt > 3) throw e;
    }
    try {
      await jsm.streams.add(want);
      return;
    } catch (e) {
      // Another process created it between our info() and add(): read it back.
      if (attempt > 3) throw e;
    }
  }
}

export const CONSUMER_NAME = "cdfilter-ingest";

export interface ConsumerOptions {
  /** Durable name; every ingester of one store uses the same (they share the work). */
  durable?: string;
  /** Messages per database transaction of one ingester. */
  batch: number;
  /** Ingesters expected to share the consumer (sizes max_ack_pending). Default 8. */
  ingesters?: number;
  /** Redelivery after this long without an ack, ms. Default 30 s. */
  ackWaitMs?: number;
}

/**
 * Create or update the durable pull consumer. `max_ack_pending` is sized to the batch (two
 * batches in flight per ingester): the default of 1,000 would stall large fetches until expiry.
 */
export async function ensureConsumer(jsm: JetStreamManager, o: ConsumerOptions): Promise<ConsumerInfo> {
  const durable = o.durable ?? CONSUMER_NAME;
  const maxAckPending = Math.max(1000, o.batch * 2 * (o.ingesters ?? 8));
  const ackWait = (o.ackWaitMs ?? 30_000) * NS_PER_MS;
  try {
    const info = await jsm.consumers.info(STREAM_NAME, durable);
    if (info.config.max_ack_pending !== maxAckPending || info.config.ack_wait !== ackWait) {
      return await jsm.consumers.update(STREAM_NAME, durable, { max_ack_pending: maxAckPending, ack_wait: ackWait });
    }
    return info;
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw e;
  }
  try {
    return await jsm.consumers.add(STREAM_NAME, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: maxAckPending,
      ack_wait: ackWait,
      max_waiting: 512,
    });
  } catch (e) {
    // Lost a creation race with another ingester.
    return await jsm.consumers.info(STREAM_NAME, durable).catch(() => {
      throw e;
    });
  }
}

export { jetstreamManager };
