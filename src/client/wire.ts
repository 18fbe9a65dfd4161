// Protobuf wire runtime for the generated TypeScript codecs (src/client/gen, test/gen).
// Mirrors driver/core/pb_wire.{h,c}: the same checks in the same order, so that for any input
// the C and the TypeScript decoders accept the same bytes or fail with the same error code.
// Wire format reference: https://protobuf.dev/programming-guides/encoding/

/** Error codes shared with the C codec (CDF_PB_* in driver/core/pb_wire.h). */
import type { FromJsonOptions, JsonObject } from "./json.ts";

export * from "./json.ts";

export const WireErrorCode = {
  OK: 0,
  /** input ends inside a tag, varint or fixed-width value */
  TRUNCATED: 1,
  /** varint over 10 bytes, or a 10th byte above 1 */
  VARINT_TOO_LONG: 2,
  /** field number 0 (or a tag above 2^32-1, i.e. a field number above 2^29-1) */
  FIELD_ZERO: 3,
  /** wire type 3, 4 (groups), 6 or 7 */
  BAD_WIRE_TYPE: 4,
  /** length-delimited value runs past the end of its message */
  LENGTH: 5,
  /** string/bytes/repeated over its declared bound (max_len bytes / max_count elements) */
  BOUND: 6,
  /** known field with the wrong wire type */
  WIRE_MISMATCH: 7,
  /** nesting deeper than MAX_DEPTH */
  DEPTH: 8,
  /** encode buffer too small (C only: TypeScript allocates the exact size) */
  OUTPUT_FULL: 9,
  /** string not valid UTF-8 or containing NUL (decode); NUL or a lone surrogate (encode) */
  STRING: 10,
  /** invalid argument: not a Uint8Array, a value outside its field's type, a bad oneof case */
  ARG: 11,
} as const;
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

const MESSAGES: readonly string[] = [
  "success",
  "input ends inside a tag, varint or fixed-width value",
  "varint longer than 10 bytes",
  "invalid field number (0 or above 536870911)",
  "invalid wire type (groups 3/4, or 6/7)",
  "length-delimited value runs past the end of its message",
  "string, bytes or repeated field over its declared bound",
  "known field with the wrong wire type",
  "message nesting deeper than the limit",
  "output buffer too small",
  "string is not valid UTF-8 or contains NUL",
  "invalid argument",
];

/** The same text as cdf_pb_strerror() in C. */
export function strerror(code: number): string {
  return MESSAGES[code] ?? "unknown codec error";
}

/** Deepest message nesting decode accepts (top level = 1), as CDF_PB_MAX_DEPTH. */
export const MAX_DEPTH = 8;

/** Thrown by every generated encode/decode; `code` is the C codec's error code. */
export class WireError extends Error {
  readonly code: number;
  constructor(code: number, detail?: string) {
    super(detail === undefined ? strerror(code) : `${strerror(code)}: ${detail}`);
    this.name = "WireError";
    this.code = code;
  }
}

/** A generated message codec. Sizes are in bytes. */
export interface MessageType<T> {
  /** Full protobuf name, e.g. "cdfilter.TraceRecord". */
  readonly typeName: string;
  /** Largest possible encoding in bytes (the C <T>_MAX_SIZE). */
  readonly maxSize: number;
  /** A message with proto3 defaults, overridden by `init`. */
  create(init?: Partial<T>): T;
  /** Canonical encoding (byte-identical to protoc's). Throws WireError (BOUND, STRING, ARG). */
  encode(m: T): Uint8Array;
  /** Decodes a whole buffer. Throws WireError with the C decoder's code for malformed input. */
  decode(b: Uint8Array): T;
  /** The message in the proto3 JSON mapping (json.ts), every implicit-presence field included. */
  toJson(m: T): JsonObject;
  /**
   * JSON.stringify(toJson(m)), written directly (no intermediate object). `before` (ending with
   * ",") and `after` (starting with ",") are members written around the message's own, inside
   * its braces (e.g. a `"type"` tag and convenience names).
   */
  toJsonText(m: T, before?: string, after?: string): string;
  /** A message from its proto3 JSON mapping, checked against the schema's bounds. Throws JsonError. */
  fromJson(j: unknown, opts?: FromJsonOptions): T;
}

/** Shared empty value of absent bytes fields (length 0, so nothing can be written into it). */
export const EMPTY_BYTES = new Uint8Array(0);

const U64_MAX = 0xffffffffffffffffn;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export function err(code: number, detail?: string): WireError {
  return new WireError(code, detail);
}

/** Error for a known field seen with another wire type (BAD_WIRE_TYPE for 3/4/6/7, as in C). */
export function wrongWireType(tag: number): WireError {
  const wt = tag & 7;
  return err(wt === 3 || wt === 4 || wt > 5 ? WireErrorCode.BAD_WIRE_TYPE : WireErrorCode.WIRE_MISMATCH);
}

/** Small values as preallocated bigints (generated decoders index it for 1-byte varints). */
export const SMALL_BIGINT: readonly bigint[] = Array.from({ length: 128 }, (_v, i) => BigInt(i));

/** Unsigned 64-bit value of the varint (hi, lo) as bigint. TurboFan lowers the shift/or under
 * BigInt.asUintN(64, ...) to machine 64-bit operations, so this allocates one BigInt (the naive
 * BigInt(hi * 2 ** 32 + lo) goes through a double and is several times slower). */
export function u64Of(lo: number, hi: number): bigint {
  if (hi === 0) return lo < 128 ? SMALL_BIGINT[lo]! : BigInt(lo);
  return BigInt.asUintN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** Signed 64-bit value (two's complement) of the varint (hi, lo). */
export function i64Of(lo: number, hi: number): bigint {
  if (hi === 0) return lo < 128 ? SMALL_BIGINT[lo]! : BigInt(lo);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** Zigzag-decoded 64-bit value of the varint (hi, lo). */
export function s64Of(lo: number, hi: number): bigint {
  const mag = u64Of(((lo >>> 1) | (hi << 31)) >>> 0, hi >>> 1);
  return lo & 1 ? -mag - 1n : mag;
}

/** Decoding cursor over one input buffer. Every read is bounded by an explicit `end`. */
export class Reader {
  readonly buf: Uint8Array;
  pos = 0;
  /** Low and high 32 bits (unsigned) of the last varint read by varint64() or v64(). */
  lo = 0;
  hi = 0;
  private view: DataView | undefined;

  constructor(buf: Uint8Array) {
    if (!(buf instanceof Uint8Array)) throw err(WireErrorCode.ARG, "decode expects a Uint8Array");
    this.buf = buf;
  }

  /** Reads a varint of up to 10 bytes into lo/hi. */
  private varint64(end: number): void {
    const buf = this.buf;
    let pos = this.pos;
    if (end - pos < 10) {
      this.varint64Checked(end);
      return;
    }
    // At least 10 bytes remain: no bounds checks needed.
    let b = buf[pos++]!;
    let lo = b & 0x7f;
    let hi = 0;
    if (b >= 0x80) {
      b = buf[pos++]!;
      lo |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[pos++]!;
        lo |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[pos++]!;
          lo |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            b = buf[pos++]!;
            lo |= (b & 0x0f) << 28;
            hi = (b & 0x7f) >>> 4;
            if (b >= 0x80) {
              b = buf[pos++]!;
              hi |= (b & 0x7f) << 3;
              if (b >= 0x80) {
                b = buf[pos++]!;
                hi |= (b & 0x7f) << 10;
                if (b >= 0x80) {
                  b = buf[pos++]!;
                  hi |= (b & 0x7f) << 17;
                  if (b >= 0x80) {
                    b = buf[pos++]!;
                    hi |= (b & 0x7f) << 24;
                    if (b >= 0x80) {
                      b = buf[pos++]!;
                      if (b > 1) throw err(WireErrorCode.VARINT_TOO_LONG);
                      hi |= b << 31;
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    this.pos = pos;
  }

  /** varint64 near the end of the input: every byte is bounds-checked. */
  private varint64Checked(end: number): void {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let i = 0; ; i++) {
      if (pos >= end) throw err(WireErrorCode.TRUNCATED);
      b = buf[pos++]!;
      if (i < 4) {
        lo |= (b & 0x7f) << (7 * i);
      } else if (i === 4) {
        lo |= (b & 0x7f) << 28;
        hi = (b & 0x7f) >>> 4;
      } else {
        if (i === 9 && b > 1) throw err(WireErrorCode.VARINT_TOO_LONG);
        hi |= (b & 0x7f) << (7 * i - 32);
      }
      if (b < 0x80) break;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    this.pos = pos;
  }

  /** Reads a varint of up to 10 bytes at `pos` into lo/hi; returns the position after it. */
  v64(pos: number, end: number): number {
    this.pos = pos;
    this.varint64(end);
    return this.pos;
  }

  /** Field tag (field number << 3 | wire type); FIELD_ZERO for numbers outside 1..2^29-1. */
  tag(end: number): number {
    const pos = this.pos;
    if (pos < end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        if (b < 8) throw err(WireErrorCode.FIELD_ZERO);
        this.pos = pos + 1;
        return b;
      }
    }
    this.varint64(end);
    if (this.hi !== 0 || this.lo >>> 3 === 0) throw err(WireErrorCode.FIELD_ZERO);
    return this.lo;
  }

  /** uint32 (a wider varint is truncated to 32 bits, as protobuf does). */
  u32(end: number): number {
    const pos = this.pos;
    if (pos < end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varint64(end);
    return this.lo;
  }

  i32(end: number): number {
    return this.u32(end) | 0;
  }

  s32(end: number): number {
    const u = this.u32(end);
    return (u >>> 1) ^ -(u & 1);
  }

  bool(end: number): boolean {
    const pos = this.pos;
    if (pos < end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b !== 0;
      }
    }
    this.varint64(end);
    return (this.lo | this.hi) !== 0;
  }

  u64(end: number): bigint {
    const pos = this.pos;
    if (pos < end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return SMALL_BIGINT[b]!;
      }
    }
    this.varint64(end);
    return u64Of(this.lo, this.hi);
  }

  i64(end: number): bigint {
    const pos = this.pos;
    if (pos < end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return SMALL_BIGINT[b]!;
      }
    }
    this.varint64(end);
    return i64Of(this.lo, this.hi);
  }

  s64(end: number): bigint {
    this.varint64(end);
    return s64Of(this.lo, this.hi);
  }

  fx32(end: number): number {
    const pos = this.pos;
    if (end - pos < 4) throw err(WireErrorCode.TRUNCATED);
    const buf = this.buf;
    this.pos = pos + 4;
    return (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
  }

  sfx32(end: number): number {
    return this.fx32(end) | 0;
  }

  fx64(end: number): bigint {
    const pos = this.pos;
    if (end - pos < 8) throw err(WireErrorCode.TRUNCATED);
    const buf = this.buf;
    const lo = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
    const hi = (buf[pos + 4]! | (buf[pos + 5]! << 8) | (buf[pos + 6]! << 16) | (buf[pos + 7]! << 24)) >>> 0;
    this.pos = pos + 8;
    return u64Of(lo, hi);
  }

  sfx64(end: number): bigint {
    return BigInt.asIntN(64, this.fx64(end));
  }

  private dataView(): DataView {
    return (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  f32(end: number): number {
    const pos = this.pos;
    if (end - pos < 4) throw err(WireErrorCode.TRUNCATED);
    this.pos = pos + 4;
    return this.dataView().getFloat32(pos, true);
  }

  f64(end: number): number {
    const pos = this.pos;
    if (end - pos < 8) throw err(WireErrorCode.TRUNCATED);
    this.pos = pos + 8;
    return this.dataView().getFloat64(pos, true);
  }

  /** Reads a length prefix; returns the end offset of the value (LENGTH if past `end`). */
  len(end: number): number {
    const pos = this.pos;
    if (pos < end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        if (b > end - pos - 1) throw err(WireErrorCode.LENGTH);
        this.pos = pos + 1;
        return pos + 1 + b;
      }
    }
    this.varint64(end);
    if (this.hi !== 0 || this.lo > end - this.pos) throw err(WireErrorCode.LENGTH);
    return this.pos + this.lo;
  }

  /** String of at most max bytes: LENGTH, then BOUND, then STRING (not UTF-8, or NUL). */
  str(end: number, max: number): string {
    const stop = this.len(end);
    const start = this.pos;
    if (stop - start > max) throw err(WireErrorCode.BOUND);
    const buf = this.buf;
    let i = start;
    for (; i < stop; i++) {
      const c = buf[i]!;
      if (c === 0 || c >= 0x80) break;
    }
    let s: string;
    if (i === stop) {
      s = asciiString(buf, start, stop);
    } else {
      for (let k = i; k < stop; k++) if (buf[k] === 0) throw err(WireErrorCode.STRING);
      try {
        s = utf8Decoder.decode(buf.subarray(start, stop));
      } catch {
        throw err(WireErrorCode.STRING);
      }
    }
    this.pos = stop;
    return s;
  }

  /** Bytes of at most max: LENGTH, then BOUND. Returns a copy (never aliases the input). */
  bytes(end: number, max: number): Uint8Array {
    const stop = this.len(end);
    const start = this.pos;
    if (stop - start > max) throw err(WireErrorCode.BOUND);
    this.pos = stop;
    return copyBytes(this.buf, start, stop);
  }

  /** Unknown field: BAD_WIRE_TYPE for 3/4/6/7, WIRE_MISMATCH if `known`, else skips it. */
  skip(tag: number, end: number, known: boolean): void {
    const wt = tag & 7;
    if (wt === 3 || wt === 4 || wt > 5) throw err(WireErrorCode.BAD_WIRE_TYPE);
    if (known) throw err(WireErrorCode.WIRE_MISMATCH);
    switch (wt) {
      case 0:
        this.varint64(end);
        return;
      case 1:
        if (end - this.pos < 8) throw err(WireErrorCode.TRUNCATED);
        this.pos += 8;
        return;
      case 5:
        if (end - this.pos < 4) throw err(WireErrorCode.TRUNCATED);
        this.pos += 4;
        return;
      default:
        this.pos = this.len(end);
    }
  }
}

// Decoded bytes values are copies, never views of the input (callers reuse their reply
// buffers). V8 keeps typed arrays of up to 64 bytes on the JS heap, but a larger one gets its own
// off-heap backing store: ~400 ns per allocation, more than the rest of a TraceRecord's decode.
// Values above 64 bytes are therefore copied into a shared 8 KiB chunk and returned as views of
// their own disjoint range of it (as Node's Buffer pool does): a value's `.buffer` may be larger
// than the value and shared with other decoded values; `byteOffset`/`byteLength` delimit it.
const HEAP_BYTES_MAX = 64;
const POOL_SIZE = 8192;
let pool = new Uint8Array(POOL_SIZE);
let poolUsed = 0;

/** A copy of buf[start, stop) that shares no memory with buf. */
export function copyBytes(buf: Uint8Array, start: number, stop: number): Uint8Array {
  const n = stop - start;
  if (n <= HEAP_BYTES_MAX) return n === 0 ? EMPTY_BYTES : buf.slice(start, stop);
  if (n > POOL_SIZE >>> 2) return buf.slice(start, stop);
  let used = poolUsed;
  if (used + n > POOL_SIZE) {
    pool = new Uint8Array(POOL_SIZE);
    used = 0;
  }
  const p = pool;
  p.set(buf.subarray(start, stop), used);
  // 8-byte alignment keeps every value's byteOffset usable for wider typed-array views.
  poolUsed = (used + n + 7) & ~7;
  return p.subarray(used, used + n);
}

/** ASCII bytes (checked by the caller) as a string: up to 16 bytes by one fromCharCode call with
 * exactly that many arguments (a flat string, ~3x faster than 8-byte chunks concatenated, much
 * faster than apply over a typed array or TextDecoder), longer ones through Buffer's latin1. */
function asciiString(buf: Uint8Array, start: number, stop: number): string {
  const n = stop - start;
  if (n <= 16) return asciiShort(buf, start, n);
  if (HAS_BUFFER) return Buffer.from(buf.buffer, buf.byteOffset + start, n).toString("latin1");
  let s = "";
  let a = start;
  for (; stop - a > 16; a += 16) s += asciiShort(buf, a, 16);
  return s + asciiShort(buf, a, stop - a);
}

function asciiShort(b: Uint8Array, a: number, n: number): string {
  const f = String.fromCharCode;
  switch (n) {
    case 0:
      return "";
    case 1:
      return f(b[a]!);
    case 2:
      return f(b[a]!, b[a + 1]!);
    case 3:
      return f(b[a]!, b[a + 1]!, b[a + 2]!);
    case 4:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!);
    case 5:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!);
    case 6:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!);
    case 7:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!);
    case 8:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!);
    case 9:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!);
    case 10:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!);
    case 11:
      return f(b[a]!, b[a + 1]!, b[a + 2]!, b[a + 3]!, b[a + 4]!, b[a + 5]!, b[a + 6]!, b[a + 7]!, b[a + 8]!, b[a + 9]!, b[a + 10]!);
    case 12:
      return f(
        b[a]!,
        b[a + 1]!,
        b[a + 2]!,
        b[a + 3]!,
        b[a + 4]!,
        b[a + 5]!,
        b[a + 6]!,
        b[a + 7]!,
        b[a + 8]!,
        b[a + 9]!,
        b[a + 10]!,
        b[a + 11]!,
      );
    case 13:
      return f(
        b[a]!,
        b[a + 1]!,
        b[a + 2]!,
        b[a + 3]!,
        b[a + 4]!,
        b[a + 5]!,
        b[a + 6]!,
        b[a + 7]!,
        b[a + 8]!,
        b[a + 9]!,
        b[a + 10]!,
        b[a + 11]!,
        b[a + 12]!,
      );
    case 14:
      return f(
        b[a]!,
        b[a + 1]!,
        b[a + 2]!,
        b[a + 3]!,
        b[a + 4]!,
        b[a + 5]!,
        b[a + 6]!,
        b[a + 7]!,
        b[a + 8]!,
        b[a + 9]!,
        b[a + 10]!,
        b[a + 11]!,
        b[a + 12]!,
        b[a + 13]!,
      );
    case 15:
      return f(
        b[a]!,
        b[a + 1]!,
        b[a + 2]!,
        b[a + 3]!,
        b[a + 4]!,
        b[a + 5]!,
        b[a + 6]!,
        b[a + 7]!,
        b[a + 8]!,
        b[a + 9]!,
        b[a + 10]!,
        b[a + 11]!,
        b[a + 12]!,
        b[a + 13]!,
        b[a + 14]!,
      );
    case 16:
      return f(
        b[a]!,
        b[a + 1]!,
        b[a + 2]!,
        b[a + 3]!,
        b[a + 4]!,
        b[a + 5]!,
        b[a + 6]!,
        b[a + 7]!,
        b[a + 8]!,
        b[a + 9]!,
        b[a + 10]!,
        b[a + 11]!,
        b[a + 12]!,
        b[a + 13]!,
        b[a + 14]!,
        b[a + 15]!,
      );
    default:
      throw new Error("internal: asciiShort over 16 bytes");
  }
}

const HAS_BUFFER = typeof Buffer === "function";

// ---------------------------------------------------------------- encoding: size pass

/** varint size of a uint32 already validated. */
export function varintSize32(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function varintSize64(lo: number, hi: number): number {
  if (hi === 0) return varintSize32(lo);
  return hi < 0x8 ? 5 : hi < 0x400 ? 6 : hi < 0x20000 ? 7 : hi < 0x1000000 ? 8 : hi < 0x80000000 ? 9 : 10;
}

function argErr(what: string, v: unknown): WireError {
  return err(WireErrorCode.ARG, `${what} ${typeof v === "bigint" ? `${v}n` : String(v)}`);
}

export function szU32(v: number): number {
  if (v >>> 0 !== v) throw argErr("not a uint32:", v);
  return varintSize32(v);
}

export function szI32(v: number): number {
  if ((v | 0) !== v) throw argErr("not an int32:", v);
  return v < 0 ? 10 : varintSize32(v);
}

export function szS32(v: number): number {
  if ((v | 0) !== v) throw argErr("not an int32:", v);
  return varintSize32(((v << 1) ^ (v >> 31)) >>> 0);
}

function szU64Unchecked(v: bigint): number {
  if (v < 0x80n) return 1;
  if (v <= 0xffffffffn) return varintSize32(Number(v));
  return varintSize64(Number(v & 0xffffffffn), Number(v >> 32n));
}

export function szU64(v: bigint): number {
  if (typeof v !== "bigint" || v < 0n || v > U64_MAX) throw argErr("not a uint64:", v);
  return szU64Unchecked(v);
}

export function szI64(v: bigint): number {
  if (typeof v !== "bigint" || BigInt.asIntN(64, v) !== v) throw argErr("not an int64:", v);
  return v < 0n ? 10 : szU64Unchecked(v);
}

export function szS64(v: bigint): number {
  if (typeof v !== "bigint" || BigInt.asIntN(64, v) !== v) throw argErr("not an int64:", v);
  return szU64Unchecked(v >= 0n ? v << 1n : (-v << 1n) - 1n);
}

export function szFx32(v: number): number {
  if (v >>> 0 !== v) throw argErr("not a uint32:", v);
  return 4;
}

export function szSfx32(v: number): number {
  if ((v | 0) !== v) throw argErr("not an int32:", v);
  return 4;
}

export function szFx64(v: bigint): number {
  if (typeof v !== "bigint" || v < 0n || v > U64_MAX) throw argErr("not a uint64:", v);
  return 8;
}

export function szSfx64(v: bigint): number {
  if (typeof v !== "bigint" || BigInt.asIntN(64, v) !== v) throw argErr("not an int64:", v);
  return 8;
}

export function szF32(v: number): number {
  if (typeof v !== "number") throw argErr("not a number:", v);
  return 4;
}

export function szF64(v: number): number {
  if (typeof v !== "number") throw argErr("not a number:", v);
  return 8;
}

export function szBool(v: boolean): number {
  if (typeof v !== "boolean") throw argErr("not a boolean:", v);
  return 1;
}

/** proto3 implicit presence of a float field (the value as stored in 32 bits, -0 counts). */
export function nzF32(v: number): boolean {
  const f = Math.fround(v);
  return f !== 0 || 1 / f < 0;
}

/** proto3 implicit presence of a double field (-0 counts, as protoc compares bits). */
export function nzF64(v: number): boolean {
  return v !== 0 || 1 / v < 0;
}

/** UTF-8 length of s; BOUND over max bytes, STRING for NUL or a lone surrogate. */
export function szStr(s: string, max: number, what: string): number {
  if (typeof s !== "string") throw argErr(`${what} not a string:`, s);
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80 || c === 0) break;
  }
  if (i === n) {
    if (n > max) throw err(WireErrorCode.BOUND, `${what} is ${n} bytes, over ${max}`);
    return n;
  }
  let bytes = i;
  let bad = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) bad = true;
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bad = true;
        bytes += 3;
      }
    } else {
      if (c >= 0xdc00 && c <= 0xdfff) bad = true;
      bytes += 3;
    }
  }
  if (bytes > max) throw err(WireErrorCode.BOUND, `${what} is ${bytes} bytes, over ${max}`);
  if (bad) throw err(WireErrorCode.STRING, `${what} contains NUL or a lone surrogate`);
  return bytes;
}

export function szBytes(b: Uint8Array, max: number, what: string): number {
  if (!(b instanceof Uint8Array)) throw argErr(`${what} not a Uint8Array:`, b);
  if (b.length > max) throw err(WireErrorCode.BOUND, `${what} is ${b.length} bytes, over ${max}`);
  return b.length;
}

export function checkCount(a: readonly unknown[], max: number, what: string): void {
  if (!Array.isArray(a)) throw argErr(`${what} not an array:`, a);
  if (a.length > max) throw err(WireErrorCode.BOUND, `${what} has ${a.length} elements, over ${max}`);
}

export function badCase(what: string, v: unknown): WireError {
  return argErr(`${what}: invalid oneof case`, v);
}

// ---------------------------------------------------------------- encoding: write pass

/**
 * Output of exactly the size computed by the size pass. `sizes` holds, in pre-order, the payload
 * length of every string, packed field and sub-message the size pass measured.
 */
export class Writer {
  readonly buf: Uint8Array;
  pos = 0;
  readonly sizes: number[];
  si = 0;
  private view: DataView | undefined;

  constructor(size: number, sizes: number[]) {
    this.buf = new Uint8Array(size);
    this.sizes = sizes;
  }

  /** Next length recorded by the size pass. */
  next(): number {
    return this.sizes[this.si++]!;
  }

  b1(a: number): void {
    this.buf[this.pos++] = a;
  }

  b2(a: number, b: number): void {
    const buf = this.buf;
    buf[this.pos++] = a;
    buf[this.pos++] = b;
  }

  bn(bytes: readonly number[]): void {
    for (const x of bytes) this.buf[this.pos++] = x;
  }

  u32(v: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  private v64(lo: number, hi: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (hi !== 0 || lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  i32(v: number): void {
    if (v >= 0) this.u32(v);
    else this.v64(v >>> 0, 0xffffffff);
  }

  s32(v: number): void {
    this.u32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  u64(v: bigint): void {
    if (v <= 0xffffffffn) this.u32(Number(v));
    else this.v64(Number(v & 0xffffffffn), Number(v >> 32n));
  }

  i64(v: bigint): void {
    if (v >= 0n) this.u64(v);
    else this.u64(BigInt.asUintN(64, v));
  }

  s64(v: bigint): void {
    this.u64(v >= 0n ? v << 1n : (-v << 1n) - 1n);
  }

  bool(v: boolean): void {
    this.buf[this.pos++] = v ? 1 : 0;
  }

  fx32(v: number): void {
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = v & 0xff;
    buf[pos + 1] = (v >>> 8) & 0xff;
    buf[pos + 2] = (v >>> 16) & 0xff;
    buf[pos + 3] = v >>> 24;
    this.pos = pos + 4;
  }

  sfx32(v: number): void {
    this.fx32(v >>> 0);
  }

  fx64(v: bigint): void {
    this.fx32(Number(v & 0xffffffffn));
    this.fx32(Number((v >> 32n) & 0xffffffffn));
  }

  sfx64(v: bigint): void {
    this.fx64(BigInt.asUintN(64, v));
  }

  private dataView(): DataView {
    return (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  f32(v: number): void {
    this.dataView().setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  f64(v: number): void {
    this.dataView().setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** Length prefix and UTF-8 of s, whose encoded length n the size pass computed. */
  str(s: string, n: number): void {
    this.u32(n);
    const buf = this.buf;
    let pos = this.pos;
    if (n === s.length) {
      for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    } else {
      utf8Encoder.encodeInto(s, buf.subarray(pos, pos + n));
      pos += n;
    }
    this.pos = pos;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Runs the size pass, allocates exactly, runs the write pass. */
export function encodeMessage<T>(
  m: T,
  size: (m: T, sizes: number[]) => number,
  write: (m: T, w: Writer) => void,
  typeName: string,
): Uint8Array {
  if (m === null || typeof m !== "object") throw argErr(`${typeName}: not a message:`, m);
  const sizes: number[] = [];
  const n = size(m, sizes);
  const w = new Writer(n, sizes);
  write(m, w);
  if (w.pos !== n) throw new Error(`internal: ${typeName} wrote ${w.pos} bytes, sized ${n}`);
  return w.buf;
}

/** Top-level decode entry: a Reader over b, depth 1. */
export function decodeMessage<T>(b: Uint8Array, decode: (r: Reader, end: number, depth: number, m: T) => T, create: () => T): T {
  const r = new Reader(b);
  return decode(r, b.length, 1, create());
}
