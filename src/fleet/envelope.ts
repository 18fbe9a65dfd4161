/**
 * What travels through JetStream (docs/fleet.md, "Messages"): subjects, deduplication ids and
 * payloads, shared by `cdfilter ship` (encode) and `cdfilter ingest` (decode).
 *
 * Subjects: `cdfilter.<host>.trace` (trace records and drop notices) and `cdfilter.<host>.audit`
 * (audit reports). Every message carries `Nats-Msg-Id` (JetStream's deduplication header,
 * NATS documentation "JetStream Model Deep Dive: Message Deduplication") made of host, driver
 * instance and the sequence numbers it carries, so a resend (spool, retry, replay of a file) is
 * the same message.
 *
 * Trace batch payload (`Cdf-Kind: records`): consecutive TraceRecords, each as a 4-byte
 * little-endian length followed by the protobuf encoding of `cdfilter.TraceRecord`
 * (proto/cdfilter/trace.proto). Drop notice (`Cdf-Kind: dropped`): JSON
 * `{"count":"N","afterSeq":"S","cause":"ring"|"spool-full"|"source"}`. Audit (`Cdf-Kind: audit`):
 * the JSON document written by `cdfilter audit --json-out`.
 */
import { createHash } from "node:crypto";
import { type TraceRecord, TraceRecord as TraceRecordType } from "../client/index.ts";

/** The JetStream stream holding every subject below (created idempotently by ship and ingest). */
export const STREAM_NAME = "CDFILTER";
export const STREAM_SUBJECTS = ["cdfilter.*.trace", "cdfilter.*.audit"];
/** Payload format of a trace batch (header Cdf-Format). */
export const BATCH_FORMAT = "cdfilter.TraceRecord;framing=u32le;v=1";

export type EnvelopeKind = "records" | "dropped" | "audit";

/** One message, as published and as kept in the spool. */
export interface Envelope {
  subject: string;
  msgId: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Host and instance appear in subjects and ids: letters, digits, `_` and `-`, 1..64 characters. */
export function isValidName(s: string): boolean {
  return NAME_RE.test(s);
}

/** A machine name as a subject token: the first DNS label, lower case, other characters as `_`. */
export function hostToken(hostname: string): string {
  const first = hostname.split(".")[0] ?? "";
  const t = first
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "_")
    .slice(0, 64);
  return t || "unknown";
}

export const traceSubject = (host: string) => `cdfilter.${host}.trace`;
export const auditSubject = (host: string) => `cdfilter.${host}.audit`;

/** Wall-clock anchors of the driver (InfoReply): FILETIME and monotonic ticks, both 100 ns units. */
export interface Anchors {
  wall: bigint;
  mono: bigint;
}

function baseHeaders(kind: EnvelopeKind, host: string, instance: string, anchors?: Anchors): Record<string, string> {
  const h: Record<string, string> = { "Cdf-Kind": kind, "Cdf-Host": host, "Cdf-Instance": instance };
  if (anchors && anchors.wall !== 0n) {
    h["Cdf-Wall-Anchor"] = String(anchors.wall);
    h["Cdf-Mono-Anchor"] = String(anchors.mono);
  }
  return h;
}

/** A batch of records (consecutive in the shipper's order) as one message. */
export function recordsEnvelope(host: string, instance: string, records: readonly TraceRecord[], anchors?: Anchors): Envelope {
  const encoded: Uint8Array[] = new Array(records.length);
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const b = TraceRecordType.encode(records[i]!);
    encoded[i] = b;
    total += 4 + b.length;
  }
  // One buffer, lengths written in place (no per-record allocation beyond the encoder's own).
  const body = new Uint8Array(total);
  const dv = new DataView(body.buffer);
  let off = 0;
  for (const b of encoded) {
    dv.setUint32(off, b.length, true);
    body.set(b, off + 4);
    off += 4 + b.length;
  }
  const first = records[0]?.seq ?? 0n;
  const last = records[records.length - 1]?.seq ?? 0n;
  const headers = baseHeaders("records", host, instance, anchors);
  headers["Cdf-Format"] = BATCH_FORMAT;
  return { subject: traceSubject(host), msgId: `${host}:${instance}:t:${first}-${last}`, headers, body };
}

/** Decode a batch payload. Throws an Error naming the offset on a malformed body. */
export function decodeRecords(body: Uint8Array): TraceRecord[] {
  const out: TraceRecord[] = [];
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let off = 0;
  while (off < body.length) {
    if (off + 4 > body.length) throw new Error(`batch truncated at byte ${off} (length prefix)`);
    const n = dv.getUint32(off, true);
    off += 4;
    if (n > TraceRecordType.maxSize || off + n > body.length) throw new Error(`batch record at byte ${off - 4} has a bad length ${n}`);
    out.push(TraceRecordType.decode(body.subarray(off, off + n)));
    off += n;
  }
  return out;
}

export type DropCause = "ring" | "spool-full" | "source";

export interface DropNotice {
  count: bigint;
  afterSeq: bigint;
  cause: DropCause;
}

export function dropEnvelope(host: string, instance: string, d: DropNotice, anchors?: Anchors): Envelope {
  const body = new TextEncoder().encode(JSON.stringify({ count: String(d.count), afterSeq: String(d.afterSeq), cause: d.cause }));
  return {
    subject: traceSubject(host),
    msgId: `${host}:${instance}:d:${d.cause}:${d.afterSeq}+${d.count}`,
    headers: baseHeaders("dropped", host, instance, anchors),
    body,
  };
}

export function decodeDrop(body: Uint8Array): DropNotice {
  const o = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
  const big = (k: string) => {
    const v = o[k];
    if (typeof v !== "string" || !/^\d{1,19}$/.test(v)) throw new Error(`drop notice: "${k}" must be a decimal string`);
    return BigInt(v);
  };
  const cause = o.cause;
  if (cause !== "ring" && cause !== "spool-full" && cause !== "source")
    throw new Error(`drop notice: unknown cause ${JSON.stringify(cause)}`);
  return { count: big("count"), afterSeq: big("afterSeq"), cause };
}

/** An audit report: the id is a digest of the document, so shipping the same report twice is one report. */
export function auditEnvelope(host: string, instance: string, doc: unknown): Envelope {
  const text = JSON.stringify(doc);
  const id = createHash("sha256").update(text).digest("hex").slice(0, 32);
  const headers = baseHeaders("audit", host, instance);
  headers["Cdf-Report-Id"] = id;
  return { subject: auditSubject(host), msgId: `${host}:${instance}:a:${id}`, headers, body: new TextEncoder().encode(text) };
}

/** One row of the findings table. */
export interface Finding {
  /** Image (process) the finding is about, e.g. "burner.exe" or the scenario's process name. */
  image: string;
  /** What was checked: the rule (the expected filter reason, e.g. WOULD_DENY) or the step's verb. */
  rule: string;
  /** "pass" | "fail" | "error". */
  verdict: string;
  /** The failing checks or the error, "" when it passed. */
  detail: string;
}

/**
 * The one place that turns an audit document into findings (the integrator adapts it when the
 * report gains findings of its own, e.g. per process and rule from a recording).
 *
 * Input: the JSON of `cdfilter audit --json-out` (src/cli/runner.ts, auditJson): `steps[]` with
 * `label` ("<process> <verb> ..."), `passed`, `checks[] {field, expected, actual, ok}`, `error?`.
 * If the document has `findings[]` of `{image, rule, verdict, detail?}`, those are taken as they are.
 * Output: one finding per step: image = the step's process (the label's first word; `images`,
 * or the document's own `images` object added by `cdfilter ship`, maps process names to image
 * names), rule = the expected reason when the step
 * checks one, else the verb.
 */
export function findingsFromAudit(doc: unknown, images: Record<string, string> = {}): Finding[] {
  if (typeof doc !== "object" || doc === null) throw new Error("audit report is not a JSON object");
  const d = doc as Record<string, unknown>;
  if (typeof d.images === "object" && d.images !== null) {
    const own: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.images)) if (typeof v === "string") own[k] = v;
    images = { ...own, ...images };
  }
  if (Array.isArray(d.findings)) {
    return d.findings.map((f, i) => {
      const o = (f ?? {}) as Record<string, unknown>;
      if (typeof o.image !== "string" || typeof o.rule !== "string" || typeof o.verdict !== "string")
        throw new Error(`audit report: findings[${i}] needs string image, rule and verdict`);
      return { image: o.image, rule: o.rule, verdict: o.verdict, detail: typeof o.detail === "string" ? o.detail : "" };
    });
  }
  if (!Array.isArray(d.steps)) throw new Error('audit report has neither "steps" nor "findings"');
  return d.steps.map((s, i) => {
    const o = (s ?? {}) as Record<string, unknown>;
    if (typeof o.label !== "string") throw new Error(`audit report: steps[${i}] has no label`);
    const [proc = "", verb = ""] = o.label.split(/\s+/);
    const checks = Array.isArray(o.checks) ? (o.checks as Array<Record<string, unknown>>) : [];
    const reason = checks.find((c) => c.field === "reason");
    const rule = typeof reason?.expected === "string" ? reason.expected : verb || "step";
    const verdict = typeof o.error === "string" ? "error" : o.passed === true ? "pass" : "fail";
    const detail =
      typeof o.error === "string"
        ? o.error
        : checks
            .filter((c) => c.ok === false)
            .map((c) => `${String(c.field)}: expected ${String(c.expected)}, got ${String(c.actual)}`)
            .join("; ");
    return { image: images[proc] ?? proc, rule, verdict, detail };
  });
}
