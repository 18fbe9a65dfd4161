/**
 * The recording header (docs/recording.md): who recorded what, from which driver instance, with
 * which clock anchors, ledger and trace configuration. Stored as UTF-8 JSON in a pcapng Custom
 * Block right after the interface descriptions of every file of a recording; the ledger snapshot
 * and the trace configuration are their protobuf encodings (base64), so they read back exactly.
 *
 * Times: the driver's clock is monotonic, in 100 ns units (TraceRecord.timestamp). The anchors
 * of InfoReply (wall_clock_anchor: FILETIME, 100 ns since 1601-01-01 UTC, taken at
 * monotonic_anchor, both at driver load) turn it into wall-clock time.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { type FilterClient, HostKind, type InfoReply, LedgerSnapshot, TraceConfig } from "../client/index.ts";

export const RECORDING_FORMAT = "cdfilter-recording";
export const RECORDING_VERSION = 1;

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: number;
  /** Host name of the machine whose driver was recorded (os.hostname() of the recorder). */
  host: string;
  /**
   * Driver instance: 16 hex digits derived from the host, host kind, driver version and the
   * load-time clock anchors. A reloaded driver (or a new simulator) has new anchors, so two
   * boots never share an instance and their recordings never merge.
   */
  instance: string;
  hostKind: string;
  driverVersion: string;
  protocolVersion: number;
  /** "win32" or "simulator". */
  transport: string;
  /** FILETIME at monotonicAnchor (100 ns since 1601-01-01 UTC); 0 = unknown. */
  wallClockAnchor: bigint;
  /** Driver monotonic clock at wallClockAnchor, 100 ns units. */
  monotonicAnchor: bigint;
  /** When the recorder started (ISO-8601 UTC). */
  startedAt: string;
  /** 0-based part number in a rotated set. */
  part: number;
  /** The recording holds records with seq > this (the ledger snapshot's seq). */
  afterSeq: bigint;
  /** Ledger when the recording started (every drive). */
  ledger: LedgerSnapshot;
  /** Trace configuration (kernel-side filter, capture bytes) when the recording started. */
  traceConfig: TraceConfig;
}

/** Offset between FILETIME (1601) and the Unix epoch, 100 ns units. */
export const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

export function instanceId(host: string, info: Pick<InfoReply, "host" | "driverVersion" | "wallClockAnchor" | "monotonicAnchor">): string {
  return createHash("sha256")
    .update(`${host}\u0000${info.host}\u0000${info.driverVersion}\u0000${info.wallClockAnchor}\u0000${info.monotonicAnchor}`)
    .digest("hex")
    .slice(0, 16);
}

export function hostKindName(k: number): string {
  return (HostKind as unknown as Record<number, string>)[k] ?? String(k);
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");

export function encodeHeader(h: RecordingHeader): Uint8Array {
  const doc = {
    ...h,
    wallClockAnchor: String(h.wallClockAnchor),
    monotonicAnchor: String(h.monotonicAnchor),
    afterSeq: String(h.afterSeq),
    ledger: b64(LedgerSnapshot.encode(h.ledger)),
    traceConfig: b64(TraceConfig.encode(h.traceConfig)),
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Parse a header block; throws Error naming the bad field. */
export function decodeHeader(data: Uint8Array): RecordingHeader {
  const o = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
  if (o.format !== RECORDING_FORMAT) throw new Error(`header format is ${JSON.stringify(o.format)}, not "${RECORDING_FORMAT}"`);
  if (typeof o.version !== "number" || o.version > RECORDING_VERSION)
    throw new Error(`recording version ${String(o.version)} is newer than this reader (${RECORDING_VERSION})`);
  const str = (k: string): string => {
    if (typeof o[k] !== "string") throw new Error(`header field "${k}" must be a string`);
    return o[k] as string;
  };
  const big = (k: string): bigint => {
    const v = str(k);
    if (!/^\d{1,20}$/.test(v)) throw new Error(`header field "${k}" must be a decimal integer`);
    return BigInt(v);
  };
  const num = (k: string): number => {
    if (typeof o[k] !== "number") throw new Error(`header field "${k}" must be a number`);
    return o[k] as number;
  };
  return {
    format: RECORDING_FORMAT,
    version: o.version,
    host: str("host"),
    instance: str("instance"),
    hostKind: str("hostKind"),
    driverVersion: str("driverVersion"),
    protocolVersion: num("protocolVersion"),
    transport: str("transport"),
    wallClockAnchor: big("wallClockAnchor"),
    monotonicAnchor: big("monotonicAnchor"),
    startedAt: str("startedAt"),
    part: num("part"),
    afterSeq: big("afterSeq"),
    ledger: LedgerSnapshot.decode(new Uint8Array(Buffer.from(str("ledger"), "base64"))),
    traceConfig: TraceConfig.decode(new Uint8Array(Buffer.from(str("traceConfig"), "base64"))),
  };
}

export interface Anchors {
  wallClockAnchor: bigint;
  monotonicAnchor: bigint;
}

/** Driver monotonic ticks (100 ns) to 100 ns since the Unix epoch; undefined without anchors. */
export function unixTicks(ts: bigint, a: Anchors): bigint | undefined {
  if (a.wallClockAnchor === 0n) return undefined;
  return a.wallClockAnchor + (ts - a.monotonicAnchor) - FILETIME_UNIX_EPOCH;
}

/**
 * ISO-8601 UTC time of a record with 100 ns precision ("2026-12-03T08:35:04.1234567Z"), from the
 * anchors. Caches the second part: consecutive records mostly share it.
 */
export class IsoClock {
  private sec = -1n;
  private prefix = "";
  constructor(private readonly anchors: Anchors) {}

  format(ts: bigint): string | undefined {
    const t = unixTicks(ts, this.anchors);
    if (t === undefined || t < 0n) return undefined;
    const sec = t / 10_000_000n;
    if (sec !== this.sec) {
      this.sec = sec;
      this.prefix = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
    }
    return `${this.prefix}.${String(t % 10_000_000n).padStart(7, "0")}Z`;
  }
}

/**
 * The header of a recording of `client`'s live trace, as of now: this host, the driver's instance,
 * anchors and trace configuration, and the ledger snapshot taken on connect. `afterSeq`: the
 * sequence number the first recorded record follows. The writer numbers the parts.
 */
export async function liveHeader(client: FilterClient, afterSeq: bigint): Promise<Omit<RecordingHeader, "part">> {
  const info = await client.info();
  const host = hostname();
  return {
    format: RECORDING_FORMAT,
    version: RECORDING_VERSION,
    host,
    instance: instanceId(host, info),
    hostKind: hostKindName(info.host),
    driverVersion: info.driverVersion,
    protocolVersion: info.protocolVersion,
    transport: client.transportKind,
    wallClockAnchor: info.wallClockAnchor,
    monotonicAnchor: info.monotonicAnchor,
    startedAt: new Date().toISOString(),
    afterSeq,
    ledger: client.initialLedger,
    traceConfig: await client.traceConfig(),
  };
}
