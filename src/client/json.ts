/**
 * Runtime of the generated proto3 JSON mapping (toJson / fromJson of every generated message,
 * src/codegen/ts_emitter.ts). The mapping is the one of the Protocol Buffers "ProtoJSON Format"
 * document (protobuf.dev/programming-guides/json): field names in lowerCamelCase (the proto name
 * is accepted on input), 64-bit integers as decimal strings (numbers accepted on input), enums by
 * value name (numbers accepted, and written for values this build does not know), bytes as
 * standard base64 with padding (URL-safe and unpadded accepted), NaN/Infinity/-Infinity as
 * strings, `null` for "the default". toJson writes every field of implicit presence, defaults
 * included (like protobufjs toObject with `defaults: true`).
 *
 * Input is validated as the binary decoder validates: ranges of integers, string and bytes
 * lengths, repeated counts against the schema's bounds. Errors are JsonError, naming the field's
 * JSON path ("seq", "drives[2].owners[0].pid").
 */

/** A JSON object as JSON.parse returns it. */
export type JsonObject = { [key: string]: unknown };

export interface FromJsonOptions {
  /** Keys that are not fields of the message are skipped instead of rejected. */
  ignoreUnknownFields?: boolean;
}

/** A JSON value that does not map to the message: `path` names the field, `detail` says why. */
export class JsonError extends Error {
  override readonly name = "JsonError";
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(path === "" ? detail : `"${path}" ${detail}`);
  }
}

export function jsonPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 48 ? `${s.slice(0, 45)}...` : s;
};

export function jsonObject(v: unknown, path: string, typeName: string): JsonObject {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new JsonError(path, `must be a JSON object (${typeName}), got ${show(v)}`);
  return v as JsonObject;
}

export function jsonArray(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new JsonError(path, `must be a JSON array, got ${show(v)}`);
  if (v.length > max) throw new JsonError(path, `has ${v.length} elements, more than the ${max} allowed`);
  return v;
}

function intOf(v: unknown): bigint | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v === "string" && /^-?\d{1,20}$/.test(v)) return BigInt(v);
  return undefined;
}

const U32_MAX = 0xffff_ffffn;
const I32_MIN = -0x8000_0000n;
const I32_MAX = 0x7fff_ffffn;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -0x8000_0000_0000_0000n;
const I64_MAX = 0x7fff_ffff_ffff_ffffn;

export function jsonU32(v: unknown, path: string): number {
  const b = intOf(v);
  if (b === undefined || b < 0n || b > U32_MAX) throw new JsonError(path, `must be an unsigned 32-bit integer, got ${show(v)}`);
  return Number(b);
}

export function jsonI32(v: unknown, path: string): number {
  const b = intOf(v);
  if (b === undefined || b < I32_MIN || b > I32_MAX) throw new JsonError(path, `must be a signed 32-bit integer, got ${show(v)}`);
  return Number(b);
}

export function jsonU64(v: unknown, path: string): bigint {
  const b = intOf(v);
  if (b === undefined || b < 0n || b > U64_MAX) {
    throw new JsonError(path, `must be an unsigned 64-bit integer (number or decimal string), got ${show(v)}`);
  }
  return b;
}

export function jsonI64(v: unknown, path: string): bigint {
  const b = intOf(v);
  if (b === undefined || b < I64_MIN || b > I64_MAX) {
    throw new JsonError(path, `must be a signed 64-bit integer (number or decimal string), got ${show(v)}`);
  }
  return b;
}

export function jsonBool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") throw new JsonError(path, `must be true or false, got ${show(v)}`);
  return v;
}

/** A float or double: a number, or "NaN", "Infinity", "-Infinity", or a numeric string. */
export function jsonFloat(v: unknown, path: string): number {
  if (typeof v === "number") return v;
  if (v === "NaN") return Number.NaN;
  if (v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (typeof v === "string" && /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) return Number(v);
  throw new JsonError(path, `must be a number (or "NaN", "Infinity", "-Infinity"), got ${show(v)}`);
}

export function floatToJson(v: number): number | string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "Infinity";
  if (v === Number.NEGATIVE_INFINITY) return "-Infinity";
  return v;
}

let lastString = "";
let lastStringJson = '""';

/** JSON.stringify(s), remembering the last string (trace records repeat the same image names). */
export function stringJsonText(s: string): string {
  if (s !== lastString) {
    lastString = s;
    lastStringJson = JSON.stringify(s);
  }
  return lastStringJson;
}

export function floatJsonText(v: number): string {
  return Number.isFinite(v) ? JSON.stringify(v) : `"${floatToJson(v)}"`;
}

export function jsonString(v: unknown, path: string, maxBytes: number): string {
  if (typeof v !== "string") throw new JsonError(path, `must be a string, got ${show(v)}`);
  if (maxBytes > 0 && v.length > maxBytes / 3 && Buffer.byteLength(v) > maxBytes) {
    throw new JsonError(path, `is ${Buffer.byteLength(v)} bytes of UTF-8, more than the ${maxBytes} allowed`);
  }
  return v;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const BASE64URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/;

export function jsonBytes(v: unknown, path: string, maxBytes: number): Uint8Array {
  if (typeof v !== "string") throw new JsonError(path, `must be base64 (standard or URL-safe), got ${show(v)}`);
  const std = BASE64.test(v);
  if (!std && !BASE64URL.test(v)) throw new JsonError(path, `must be base64 (standard or URL-safe), got ${show(v)}`);
  const b = Buffer.from(v, std ? "base64" : "base64url");
  if (maxBytes > 0 && b.length > maxBytes) throw new JsonError(path, `holds ${b.length} bytes, more than the ${maxBytes} allowed`);
  return new Uint8Array(b); // a copy: not a view that keeps Buffer's shared pool alive
}

export function bytesToJson(b: Uint8Array): string {
  return b.length === 0 ? "" : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

/** An enum value by name (a TS numeric enum object) or as a 32-bit integer (open enums). */
export function jsonEnum(v: unknown, path: string, e: object): number {
  if (typeof v === "string") {
    const n = (e as Record<string, unknown>)[v];
    if (typeof n === "number") return n;
  } else if (typeof v === "number" && Number.isInteger(v) && v >= -0x8000_0000 && v <= 0x7fff_ffff) {
    return v;
  }
  throw new JsonError(path, `is not a known value: ${show(v)}`);
}

export function enumJsonText(e: object, v: number): string {
  const name = (e as Record<number, unknown>)[v];
  return typeof name === "string" ? `"${name}"` : String(v);
}

export function enumToJson(e: object, v: number): string | number {
  const name = (e as Record<number, unknown>)[v];
  return typeof name === "string" ? name : v;
}
