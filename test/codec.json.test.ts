// The generated proto3 JSON mapping (toJson/fromJson of every message, src/client/json.ts)
// against protobufjs, the reference: on random messages of every type of the cdfilter and the
// conformance schema, toJson equals protobufjs's toObject with the proto3 JSON options (longs and
// enums as strings, bytes as base64, NaN/Infinity as strings, defaults included), protobufjs's
// fromObject of our JSON encodes the same message, and fromJson inverts toJson.
import fc from "fast-check";
import type protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { ArbitraryFactory } from "../bench/lib/arbitraries.ts";
import { loadSchemaRoot, type MessageInfo, messagesOf } from "../bench/lib/pbschema.ts";
import * as cdfGen from "../src/client/gen/cdfilter.ts";
import { JsonError, type MessageType } from "../src/client/wire.ts";
import * as confGen from "./gen/conf.ts";

const RUNS = 120;
const SEED = Number(process.env.CODEC_SEED ?? Date.now() % 2 ** 31);
const root = loadSchemaRoot();
const modules: Record<string, Record<string, unknown>> = {
  cdfilter: cdfGen as unknown as Record<string, unknown>,
  conf: confGen as unknown as Record<string, unknown>,
};
const infos = [...messagesOf(root, "cdfilter"), ...messagesOf(root, "conf")];
const factory = new ArbitraryFactory();

function codecOf(info: MessageInfo): MessageType<unknown> {
  return modules[info.pkg]![info.name] as MessageType<unknown>;
}

/** protobufjs's object of a message in the proto3 JSON mapping, every field present. */
const JSON_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, json: true, defaults: true, arrays: true };

/** protobufjs leaves unset proto3 `optional` and oneof members out, as we do; it writes -0 as 0 for floats. */
function reference(type: protobuf.Type, bytes: Uint8Array): unknown {
  // `defaults: true` writes an unset message field as null, which proto3 JSON reads as absent.
  return JSON.parse(JSON.stringify(type.toObject(type.decode(bytes), JSON_OPTIONS)), (_k, v) => (v === null ? undefined : v));
}

/** The value with every -0 replaced by 0 (deeply; typed arrays and bigints untouched). */
function noNegativeZero(v: unknown): unknown {
  if (typeof v === "number") return Object.is(v, -0) ? 0 : v;
  if (Array.isArray(v)) return v.map(noNegativeZero);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noNegativeZero(x)]));
  }
  return v;
}

describe("proto3 JSON mapping, generated, against protobufjs", () => {
  for (const info of infos) {
    it(`${info.fullName}: toJson = protobufjs toObject; fromObject(toJson) and fromJson(toJson) give the message back`, () => {
      const codec = codecOf(info);
      fc.assert(
        fc.property(factory.message(info), (value) => {
          // Through the wire first: the decoded form is canonical (float32 rounding, packed arrays).
          const bytes = codec.encode(value);
          const m = codec.decode(bytes);
          const json = codec.toJson(m);
          expect(codec.toJsonText(m)).toBe(JSON.stringify(json));
          expect(JSON.parse(JSON.stringify(json))).toEqual(reference(info.type, bytes));
          // JSON text has no -0 (JSON.stringify(-0) is "0") and protobufjs skips a -0 float as a default.
          expect(noNegativeZero(codec.decode(new Uint8Array(info.type.encode(info.type.fromObject(json)).finish())))).toEqual(
            noNegativeZero(m),
          );
          expect(noNegativeZero(codec.fromJson(JSON.parse(JSON.stringify(json))))).toEqual(noNegativeZero(m));
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    });
  }

  it("fromJson accepts the other proto3 JSON spellings and rejects what does not fit, naming the field", () => {
    const T = cdfGen.TraceRecord;
    const r = T.fromJson({ seq: 7, request_id: "9", kind: 2, inputHead: "AQI", opener_image: null, decision: "DECISION_DENY" });
    expect(r).toMatchObject({ seq: 7n, requestId: 9n, kind: 2, openerImage: "", decision: cdfGen.Decision.DECISION_DENY });
    expect([...r.inputHead]).toEqual([1, 2]);
    const err = (j: unknown): string => {
      try {
        T.fromJson(j);
      } catch (e) {
        expect(e).toBeInstanceOf(JsonError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(err({ seq: "-1" })).toMatch(/^"seq" must be an unsigned 64-bit integer/);
    expect(err({ seq: "18446744073709551616" })).toMatch(/"seq" must be an unsigned 64-bit/);
    expect(err({ pid: 2 ** 32 })).toMatch(/"pid" must be an unsigned 32-bit integer/);
    expect(err({ kind: "RECORD_KIND_NOPE" })).toMatch(/"kind" is not a known value/);
    expect(err({ inputHead: "not base64!" })).toMatch(/"inputHead" must be base64/);
    expect(err({ inputHead: Buffer.alloc(257).toString("base64") })).toMatch(/"inputHead" holds 257 bytes, more than the 256 allowed/);
    expect(err({ openerImage: "x".repeat(300) })).toMatch(/"openerImage" is 300 bytes of UTF-8, more than/);
    expect(err({ bogus: 1 })).toMatch(/"bogus" is not a field of cdfilter.TraceRecord/);
    expect(T.fromJson({ bogus: 1 }, { ignoreUnknownFields: true })).toEqual(T.create());
    expect(err([1])).toMatch(/must be a JSON object \(cdfilter.TraceRecord\)/);
    const batch = cdfGen.TraceBatch;
    expect(() => batch.fromJson({ records: [{ seq: "x" }] })).toThrow(/"records\[0\]\.seq" must be an unsigned 64-bit integer/);
  });
});
