/**
 * The ingester's fast path: the COPY text columns of trace records read straight from their
 * protobuf encoding (proto/cdfilter/trace.proto, TraceRecord), with no record object, bigint
 * or copied byte array per record. It handles only what a canonical encoder writes (known
 * fields, their own wire types, varints of canonical length, ASCII strings); for anything else
 * it returns undefined and the caller uses the generated decoder (src/client/gen/cdfilter.ts),
 * which defines the semantics and the errors. `recordRowText` gives the same text from a
 * decoded record.
 */
import type { TraceRecord } from "../client/index.ts";

/** COPY text format: backslash, tab, newline and carriage return escaped (PostgreSQL "COPY", "Text Format"). */
export function copyText(s: string): string {
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : s;
}

/** Columns seq .. count_released of one record, tab-separated (COPY text; no host, instance or time). */
export function recordRowText(r: TraceRecord): string {
  const ih = r.inputHead.length ? Buffer.from(r.inputHead.buffer, r.inputHead.byteOffset, r.inputHead.byteLength).toString("hex") : "";
  return (
    `${r.seq}\t${r.kind}\t${r.requestId}\t${r.timestamp}\t${r.driveId}\t${r.handleId}\t${r.pid}\t${r.tid}\t${r.requestorPid}\t${r.openerPid}\t` +
    `${copyText(r.openerImage)}\t${r.major}\t${r.minor}\t${r.ioctlCode >>> 0}\t${r.normalizedCode >>> 0}\t${r.inputLength}\t${r.outputLength}\t\\\\x${ih}\t` +
    `${r.truncated ? "t" : "f"}\t${r.status >>> 0}\t${r.information}\t${r.duration}\t${r.decision}\t${r.reason}\t${r.secureTotal}\t${r.simpleTotal}\t${r.countReleased}`
  );
}

/** Field number -> column index (0-based, seq = 0) and kind: u64, u32, i32 (enum), str, bytes, bool. */
const U64 = 1;
const U32 = 2;
const I32 = 3;
const STR = 4;
const BYTES = 5;
const BOOL = 6;
const KIND: readonly number[] = [
  0,
  U64,
  I32,
  U64,
  U64,
  U32,
  U64,
  U32,
  U32,
  U32,
  U32,
  STR,
  U32,
  U32,
  U32,
  U32,
  U32,
  U32,
  BYTES,
  BOOL,
  U32,
  U64,
  U64,
  I32,
  I32,
  U32,
  U32,
  U32,
];
/** Fields whose value must stay below 2^63 (seq, timestamp, duration: bigint columns). */
const SIGNED64 = new Set([1, 4, 22]);
const DEFAULTS: readonly string[] = KIND.slice(1).map((k) => (k === STR ? "" : k === BYTES ? "\\\\x" : k === BOOL ? "f" : "0"));
const TWO_32 = 4294967296;

export interface FastRows {
  /** One text per record (see recordRowText). */
  rows: string[];
  /** Each record's timestamp (100 ns units; exact: below 2^53). */
  timestamps: number[];
}

/**
 * Rows of a batch payload (u32le length + TraceRecord, repeated; envelope.ts). Undefined when
 * any record needs the full decoder.
 */
export function fastRows(body: Uint8Array): FastRows | undefined {
  const rows: string[] = [];
  const timestamps: number[] = [];
  const cols = DEFAULTS.slice();
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let off = 0;
  while (off < body.length) {
    if (off + 4 > body.length) return undefined;
    const n = dv.getUint32(off, true);
    off += 4;
    const end = off + n;
    if (end > body.length) return undefined;
    for (let i = 0; i < cols.length; i++) cols[i] = DEFAULTS[i]!;
    let ts = 0;
    let p = off;
    while (p < end) {
      const tag = body[p++]!;
      let field: number;
      let wt: number;
      if (tag < 0x80) {
        field = tag >>> 3;
        wt = tag & 7;
      } else {
        if (p >= end) return undefined;
        const b2 = body[p++]!;
        if (b2 >= 0x80 || b2 === 0) return undefined;
        const t = (tag & 0x7f) | (b2 << 7);
        field = t >>> 3;
        wt = t & 7;
      }
      const kind = KIND[field];
      if (field === 0 || kind === undefined) return undefined;
      if (kind === STR || kind === BYTES) {
        if (wt !== 2 || p >= end) return undefined;
        const len = body[p++]!;
        if (len >= 0x80 || p + len > end) return undefined;
        if (kind === STR) {
          if (len > 64) return undefined;
          let s = "";
          for (let i = p; i < p + len; i++) {
            const c = body[i]!;
            if (c === 0 || c >= 0x80) return undefined;
            s += String.fromCharCode(c);
          }
          cols[field - 1] = copyText(s);
        } else {
          cols[field - 1] = `\\\\x${Buffer.from(body.buffer, body.byteOffset + p, len).toString("hex")}`;
        }
        p += len;
        continue;
      }
      if (wt !== 0) return undefined;
      // Varint: lo = bits 0..31, hi = bits 32..63.
      let lo = 0;
      let hi = 0;
      let b = 0;
      let i = 0;
      for (; i < 4; i++) {
        if (p >= end) return undefined;
        b = body[p++]!;
        lo |= (b & 0x7f) << (7 * i);
        if (b < 0x80) break;
      }
      if (b >= 0x80) {
        if (p >= end) return undefined;
        b = body[p++]!;
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x7f) >>> 4;
        i = 4;
        if (b >= 0x80) {
          if (kind !== U64) return undefined; // 32-bit fields: canonical encodings of non-negative values only
          for (let k = 0; k < 5; k++) {
            if (p >= end) return undefined;
            b = body[p++]!;
            if (k === 4 && b > 1) return undefined;
            hi |= (b & 0x7f) << (3 + 7 * k);
            if (b < 0x80) break;
          }
          if (b >= 0x80) return undefined;
        }
      }
      if (b === 0 && i > 0) return undefined; // non-canonical (trailing zero byte)
      const loU = lo >>> 0;
      if (kind !== U64 && hi !== 0) return undefined;
      if (kind === U64) {
        const hiU = hi >>> 0;
        if (SIGNED64.has(field) && hiU >= 0x80000000) return undefined;
        if (hiU < 0x200000) {
          const v = hiU * TWO_32 + loU;
          cols[field - 1] = String(v);
          if (field === 4) ts = v;
        } else {
          if (field === 4) return undefined;
          cols[field - 1] = ((BigInt(hiU) << 32n) | BigInt(loU)).toString();
        }
      } else if (kind === U32) {
        cols[field - 1] = String(loU);
      } else if (kind === I32) {
        if (loU >= 0x80000000) return undefined;
        cols[field - 1] = String(loU);
      } else {
        cols[field - 1] = loU !== 0 || hi !== 0 ? "t" : "f";
      }
    }
    if (p !== end) return undefined;
    rows.push(cols.join("\t"));
    timestamps.push(ts);
    off = end;
  }
  return { rows, timestamps };
}
