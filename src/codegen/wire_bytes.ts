/**
 * Byte-level facts of the protobuf wire format both emitters (ts_emitter.ts, c_emitter.ts) build
 * their precomputed constants from: the varint bytes of a value and the tag bytes of a field.
 * Source: the Protocol Buffers "Encoding" document (protobuf.dev/programming-guides/encoding),
 * "Base 128 Varints" and "Message Structure" (tag = field_number << 3 | wire_type).
 */
import type { FieldModel } from "./model.ts";

/** Varint encoding of a non-negative integer up to 2^53 (7 bits per byte, low group first, MSB = more). */
export function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** The tag value of a field with a wire type: field_number << 3 | wire_type (field numbers go to 2^29 - 1). */
export function tagValue(f: Pick<FieldModel, "number">, wireType: number): number {
  return f.number * 8 + wireType;
}

/** The bytes of a field's tag as a canonical encoder writes them. */
export function tagBytes(f: Pick<FieldModel, "number">, wireType: number): number[] {
  return varintBytes(tagValue(f, wireType));
}

/** Bytes of the field's tag. */
export function tagSize(f: Pick<FieldModel, "number">, wireType: number): number {
  return tagBytes(f, wireType).length;
}
