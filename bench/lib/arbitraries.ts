// fast-check arbitraries for every message type, derived from the schema (bench/lib/pbschema.ts)
// rather than from the generated code under test. Values follow the TS contract
// (docs/CONTRACTS.md): 64-bit as bigint, bytes as Uint8Array, oneof as { case, value }, proto3
// optional and singular messages as T | undefined. Each scalar is biased towards its edges
// (0, all-ones, min/max, widths that change the varint length); strings are valid UTF-8 without
// NUL, bounded in UTF-8 bytes; string/bytes/repeated hit their exact bound regularly.
import fc from "fast-check";
import { type FieldInfo, type MessageInfo, describeMessage } from "./pbschema.ts";

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;
const U32_MAX = 2 ** 32 - 1;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

const utf8 = new TextEncoder();

function edged<T>(edges: T[], any: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constantFrom(...edges), weight: 1 }, { arbitrary: any, weight: 2 });
}

/** Code points of every UTF-8 width (1..4 bytes), no NUL. */
const CHAR = fc
  .oneof(
    fc.integer({ min: 1, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0x7ff }),
    fc.integer({ min: 0x800, max: 0xffff }).filter((c) => c < 0xd800 || c > 0xdfff),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
  )
  .map((c) => String.fromCodePoint(c));

/** Longest prefix (whole code points) of `s` whose UTF-8 encoding fits `maxBytes`. */
export function clipUtf8(s: string, maxBytes: number): string {
  let out = "";
  let used = 0;
  for (const ch of s) {
    const n = utf8.encode(ch).length;
    if (used + n > maxBytes) break;
    out += ch;
    used += n;
  }
  return out;
}

function stringArb(maxLen: number): fc.Arbitrary<string> {
  const free = fc.array(CHAR, { maxLength: maxLen }).map((cs) => clipUtf8(cs.join(""), maxLen));
  // Exactly maxLen bytes: random code points, then ASCII padding to the bound.
  const full = fc.array(CHAR, { maxLength: maxLen }).map((cs) => {
    const s = clipUtf8(cs.join(""), maxLen);
    return s + "x".repeat(maxLen - utf8.encode(s).length);
  });
  return fc.oneof({ arbitrary: free, weight: 3 }, { arbitrary: full, weight: 1 }, { arbitrary: fc.constant(""), weight: 1 });
}

function bytesArb(maxLen: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: maxLen }), weight: 3 },
    { arbitrary: fc.uint8Array({ minLength: maxLen, maxLength: maxLen }), weight: 1 },
    { arbitrary: fc.constant(new Uint8Array(0)), weight: 1 },
  );
}

function scalarArb(f: FieldInfo): fc.Arbitrary<unknown> {
  switch (f.kind) {
    case "int32":
    case "sint32":
    case "sfixed32":
      return edged([0, -1, 1, I32_MIN, I32_MAX, 127, 128, -64, -65, 16384], fc.integer({ min: I32_MIN, max: I32_MAX }));
    case "uint32":
    case "fixed32":
      return edged([0, 1, 127, 128, 16383, 16384, U32_MAX, 2 ** 31], fc.integer({ min: 0, max: U32_MAX }));
    case "int64":
    case "sint64":
    case "sfixed64":
      return edged([0n, -1n, 1n, I64_MIN, I64_MAX, -(2n ** 31n), 2n ** 32n], fc.bigInt({ min: I64_MIN, max: I64_MAX }));
    case "uint64":
    case "fixed64":
      return edged([0n, 1n, 127n, 128n, U64_MAX, 2n ** 63n, 2n ** 32n], fc.bigInt({ min: 0n, max: U64_MAX }));
    case "bool":
      return fc.boolean();
    case "double":
      return edged([0, -0, Number.MAX_VALUE, -Number.MIN_VALUE, Infinity, -Infinity, NaN], fc.double());
    case "float":
      return edged([0, -0, 3.4028234663852886e38, 1.401298464324817e-45, Infinity, -Infinity, NaN], fc.float());
    case "enum": {
      const named = Object.values(f.enumValues ?? {});
      // Open enums: unknown numbers (including negative, which take 10 bytes) survive a round trip.
      return fc.oneof(
        { arbitrary: fc.constantFrom(...named), weight: 4 },
        { arbitrary: fc.constantFrom(-1, I32_MIN, I32_MAX, 99), weight: 1 },
        { arbitrary: fc.integer({ min: I32_MIN, max: I32_MAX }), weight: 1 },
      );
    }
    case "string":
      return stringArb(f.maxLen ?? 0);
    case "bytes":
      return bytesArb(f.maxLen ?? 0);
    default:
      throw new Error(`no arbitrary for ${f.kind}`);
  }
}

export class ArbitraryFactory {
  private readonly cache = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

  /** Arbitrary of one message type (memoised by full name; the schemas are not recursive). */
  message(info: MessageInfo): fc.Arbitrary<Record<string, unknown>> {
    const cached = this.cache.get(info.fullName);
    if (cached) return cached;
    const shape: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of info.fields) {
      if (f.oneof) continue;
      shape[f.tsName] = this.field(f);
    }
    for (const o of info.oneofs) {
      const members = info.fields.filter((f) => f.oneof === o);
      shape[o] = fc.oneof(fc.constant(undefined), ...members.map((m) => this.element(m).map((value) => ({ case: m.tsName, value }))));
    }
    const arb = fc.record(shape) as fc.Arbitrary<Record<string, unknown>>;
    this.cache.set(info.fullName, arb);
    return arb;
  }

  private element(f: FieldInfo): fc.Arbitrary<unknown> {
    if (f.kind === "message") {
      if (!f.message) throw new Error(`unresolved message field ${f.tsName}`);
      return this.message(describeMessage(f.message));
    }
    return scalarArb(f);
  }

  private field(f: FieldInfo): fc.Arbitrary<unknown> {
    const el = this.element(f);
    if (f.repeated) {
      const max = f.maxCount ?? 0;
      // Full arrays of messages are expensive (TraceBatch: 256 records): rarer than small ones.
      const fullWeight = f.kind === "message" ? 1 : 2;
      return fc.oneof(
        { arbitrary: fc.array(el, { maxLength: max }), weight: 6 },
        { arbitrary: fc.array(el, { minLength: max, maxLength: max }), weight: fullWeight },
      );
    }
    if (f.optional || f.kind === "message") return fc.option(el, { nil: undefined, freq: 3 });
    return el;
  }
}

/**
 * Messages whose encoding is as long as the schema allows: every varint at its widest, strings
 * and bytes at their bound, repeated fields full, every sub-message present. One per oneof case
 * (the largest encoding depends on which member is set).
 */
export function maximalMessages(info: MessageInfo): Record<string, unknown>[] {
  const base: Record<string, unknown> = {};
  for (const f of info.fields) {
    if (f.oneof) continue;
    const one = maximalValue(f);
    base[f.tsName] = f.repeated ? Array.from({ length: f.maxCount ?? 0 }, () => one) : one;
  }
  const variants: Record<string, unknown>[] = [base];
  for (const o of info.oneofs) {
    const members = info.fields.filter((f) => f.oneof === o);
    const next: Record<string, unknown>[] = [];
    for (const v of variants) for (const m of members) next.push({ ...v, [o]: { case: m.tsName, value: maximalValue(m) } });
    variants.splice(0, variants.length, ...next);
  }
  return variants;
}

function maximalValue(f: FieldInfo): unknown {
  switch (f.kind) {
    case "int32":
      return -1; // sign-extended: 10 bytes
    case "sint32":
      return I32_MIN;
    case "sfixed32":
      return -1;
    case "uint32":
    case "fixed32":
      return U32_MAX;
    case "int64":
      return -1n;
    case "sint64":
      return I64_MIN;
    case "sfixed64":
      return -1n;
    case "uint64":
    case "fixed64":
      return U64_MAX;
    case "bool":
      return true;
    case "double":
      return -Number.MAX_VALUE;
    case "float":
      return -3.4028234663852886e38;
    case "enum":
      return -1; // open enum, negative: 10 bytes
    case "string":
      return "x".repeat(f.maxLen ?? 0);
    case "bytes":
      return new Uint8Array(f.maxLen ?? 0).fill(0xff);
    case "message": {
      if (!f.message) throw new Error(`unresolved message field ${f.tsName}`);
      // No schema here nests a message with a oneof, so the single variant is the maximal one.
      const subs = maximalMessages(describeMessage(f.message));
      return subs[0];
    }
  }
  throw new Error(`no maximal value for ${f.kind}`);
}
