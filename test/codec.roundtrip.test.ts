// Property tests of the generated codecs against each other: for every message type of both
// schemas (cdfilter: trace.proto + control.proto; conf: conformance.proto), a value generated
// from the schema is encoded by the TS codec, decoded and re-encoded by the C codec
// (build/libcdfcodec.so: cdf_codec_roundtrip / conf_codec_roundtrip), and
//   - the C bytes equal the TS bytes (both encode canonically: field order, defaults omitted,
//     packed repeated scalars), and
//   - the TS decode of the C bytes deep-equals the original value.
// That covers TS -> C and C -> TS. A second property feeds arbitrary and mutated bytes to both
// decoders and requires the same verdict (same error code, or the same re-encoding).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArbitraryFactory, maximalMessages } from "../bench/lib/arbitraries.ts";
import koffi from "koffi";
import { CODEC_LIBRARY, type NativeCodec, loadNativeCodec } from "../bench/lib/codec_native.ts";
import { type MessageInfo, defaultMessage, loadSchemaRoot, messagesOf } from "../bench/lib/pbschema.ts";
import * as cdfGen from "../src/client/gen/cdfilter.ts";
import { WireError } from "../src/client/wire.ts";
import * as confGen from "./gen/conf.ts";

/** The part of the generated MessageType<T> this test uses (docs/CONTRACTS.md). */
interface Codec {
  typeName: string;
  maxSize: number;
  create(init?: unknown): unknown;
  encode(m: unknown): Uint8Array;
  decode(b: Uint8Array): unknown;
}

const CDF_PB_ERR_BOUND = 6;
const CDF_PB_ERR_STRING = 10;
const MIN_TOTAL_MESSAGES = 10_000;
/** Generated values per type; the big reply types cost more per value. */
const RUNS_DEFAULT = 450;
const RUNS_HEAVY: Record<string, number> = { "cdfilter.TraceBatch": 60, "cdfilter.LedgerSnapshot": 60 };
const SEED = Number(process.env.CODEC_SEED ?? Date.now() % 2 ** 31);

const root = loadSchemaRoot();
const schemas = { cdfilter: messagesOf(root, "cdfilter"), conf: messagesOf(root, "conf") };
const modules: Record<"cdfilter" | "conf", Record<string, unknown>> = {
  cdfilter: cdfGen as unknown as Record<string, unknown>,
  conf: confGen as unknown as Record<string, unknown>,
};

function codecOf(info: MessageInfo): Codec {
  const c = modules[info.pkg as "cdfilter" | "conf"][info.name] as Codec | undefined;
  if (!c || typeof c.encode !== "function" || typeof c.decode !== "function") {
    throw new Error(`generated TS has no MessageType for ${info.fullName}`);
  }
  return c;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

let native: NativeCodec;
let generated = 0;
/** The C side's `<T>_MAX_SIZE` (cdf_codec_max_size / conf_codec_max_size) and its type names. */
let cTypes: { maxSize(pkg: "cdfilter" | "conf", typeName: string): number; names(pkg: "cdfilter" | "conf"): string[] };

beforeAll(() => {
  native = loadNativeCodec(); // throws with the build command if build/libcdfcodec.so is missing
  const lib = koffi.load(CODEC_LIBRARY);
  const bind = (p: string) => ({
    maxSize: lib.func(`size_t ${p}_codec_max_size(const char *type_name)`),
    count: lib.func(`size_t ${p}_codec_type_count(void)`),
    name: lib.func(`const char *${p}_codec_type_name(size_t i)`),
  });
  const fns = { cdfilter: bind("cdf"), conf: bind("conf") };
  cTypes = {
    maxSize: (pkg, typeName) => Number(fns[pkg].maxSize(typeName)),
    names: (pkg) => Array.from({ length: Number(fns[pkg].count()) }, (_, i) => String(fns[pkg].name(i))),
  };
});

afterAll(() => {
  // Reported for the record; the count is asserted in its own test below.
  console.log(`codec round trip: ${generated} generated messages (seed ${SEED})`);
});

function roundTrip(info: MessageInfo, codec: Codec, value: Record<string, unknown>): void {
  const tsBytes = codec.encode(value);
  expect(tsBytes.length, `${info.fullName}: TS encoding longer than maxSize`).toBeLessThanOrEqual(codec.maxSize);
  const c = native.roundtrip(info.pkg as "cdfilter" | "conf", codec.typeName, tsBytes, codec.maxSize);
  expect(c.code, `${info.fullName}: C rejected TS bytes ${hex(tsBytes)}`).toBe(0);
  expect(hex(c.bytes), `${info.fullName}: C re-encoding differs from TS encoding`).toBe(hex(tsBytes));
  expect(codec.decode(c.bytes)).toEqual(value);
}

describe.each(["cdfilter", "conf"] as const)("%s schema", (pkg) => {
  const factory = new ArbitraryFactory();

  it("has a generated TS MessageType for every message, whose maxSize is the C <T>_MAX_SIZE", () => {
    const cNames = cTypes.names(pkg);
    for (const info of schemas[pkg]) {
      const c = codecOf(info);
      // 0 from *_codec_max_size also means "unknown type": check the C side knows it first.
      expect(
        cNames.some((n) => n === info.name || n === c.typeName),
        `${info.fullName} missing from the C reflection table`,
      ).toBe(true);
      expect(c.maxSize, info.fullName).toBe(cTypes.maxSize(pkg, c.typeName));
    }
  });

  for (const info of schemas[pkg]) {
    it(`${info.name}: TS -> C -> TS round trip of generated values`, () => {
      const codec = codecOf(info);
      const runs = RUNS_HEAVY[info.fullName] ?? RUNS_DEFAULT;
      fc.assert(
        fc.property(factory.message(info), (value) => {
          generated++;
          roundTrip(info, codec, value);
        }),
        { numRuns: runs, seed: SEED, endOnFailure: false },
      );
    });

    it(`${info.name}: the all-defaults message encodes to zero bytes and round-trips`, () => {
      const codec = codecOf(info);
      const empty = defaultMessage(info);
      expect(codec.encode(empty).length).toBe(0);
      expect(codec.decode(new Uint8Array(0))).toEqual(empty);
      expect(codec.create()).toEqual(empty);
      roundTrip(info, codec, empty);
    });

    it(`${info.name}: maximal messages fit maxSize in TS and in C`, () => {
      const codec = codecOf(info);
      for (const value of maximalMessages(info)) {
        generated++;
        roundTrip(info, codec, value);
      }
    });

    const bounded = info.fields.filter((f) => f.maxLen !== undefined || f.maxCount !== undefined);
    if (bounded.length > 0) {
      it(`${info.name}: encode rejects every value one past its bound with CDF_PB_ERR_BOUND`, () => {
        const codec = codecOf(info);
        for (const f of bounded) {
          const value = defaultMessage(info);
          const over = (n: number): unknown => (f.kind === "string" ? "y".repeat(n) : f.kind === "bytes" ? new Uint8Array(n) : undefined);
          let bad: unknown;
          if (f.repeated) {
            const el =
              f.kind === "message"
                ? defaultMessage(schemaOf(f.message?.fullName ?? ""))
                : f.kind === "string" || f.kind === "bytes"
                  ? over(0)
                  : f.kind.endsWith("64")
                    ? 0n
                    : f.kind === "bool"
                      ? false
                      : 0;
            bad = Array.from({ length: (f.maxCount ?? 0) + 1 }, () => el);
          } else bad = over((f.maxLen ?? 0) + 1);
          if (f.oneof) value[f.oneof] = { case: f.tsName, value: bad };
          else value[f.tsName] = bad;
          let thrown: unknown;
          try {
            codec.encode(value);
          } catch (e) {
            thrown = e;
          }
          expect(thrown, `${info.fullName}.${f.protoName}: no error one past the bound`).toBeInstanceOf(WireError);
          expect((thrown as WireError).code).toBe(CDF_PB_ERR_BOUND);
          if (f.repeated && f.maxLen !== undefined) {
            // repeated string/bytes: the element length bound applies too
            const v2 = defaultMessage(info);
            v2[f.tsName] = [over(f.maxLen + 1)];
            expect(() => codec.encode(v2)).toThrow(WireError);
          }
        }
      });
    }
  }

  const stringFields = schemas[pkg].flatMap((info) =>
    info.fields.filter((f) => f.kind === "string" && (f.maxLen ?? 0) >= 3).map((f) => [info, f] as const),
  );
  it("encode rejects strings the C decoder would reject (NUL, lone surrogate) with CDF_PB_ERR_STRING", () => {
    for (const [info, f] of stringFields) {
      for (const bad of ["a\0b", "a\ud800", "\udfff"]) {
        const value = defaultMessage(info);
        const v = f.repeated ? [bad] : bad;
        if (f.oneof) value[f.oneof] = { case: f.tsName, value: v };
        else value[f.tsName] = v;
        let code = -1;
        try {
          codecOf(info).encode(value);
        } catch (e) {
          if (e instanceof WireError) code = e.code;
        }
        expect(code, `${info.fullName}.${f.protoName} = ${JSON.stringify(bad)}`).toBe(CDF_PB_ERR_STRING);
      }
    }
  });

  it("encode never wraps an out-of-range integer silently (throws WireError)", () => {
    const bad: Record<string, unknown[]> = {
      int32: [2 ** 31, -(2 ** 31) - 1, 1.5, NaN],
      sint32: [2 ** 31],
      sfixed32: [-(2 ** 31) - 1],
      uint32: [-1, 2 ** 32, 0.5],
      fixed32: [2 ** 32],
      int64: [2n ** 63n, -(2n ** 63n) - 1n],
      sint64: [2n ** 63n],
      sfixed64: [-(2n ** 63n) - 1n],
      uint64: [-1n, 2n ** 64n],
      fixed64: [2n ** 64n],
      enum: [2 ** 31],
    };
    for (const info of schemas[pkg]) {
      for (const f of info.fields) {
        for (const v of bad[f.kind] ?? []) {
          const value = defaultMessage(info);
          const x = f.repeated ? [v] : v;
          if (f.oneof) value[f.oneof] = { case: f.tsName, value: x };
          else value[f.tsName] = x;
          expect(() => codecOf(info).encode(value), `${info.fullName}.${f.protoName} = ${String(v)}`).toThrow(WireError);
        }
      }
    }
  });

  it("C and TS decoders agree on arbitrary and mutated bytes", () => {
    const infos = schemas[pkg];
    const valid = fc.constantFrom(...infos).chain((info) => factory.message(info).map((v) => ({ info, bytes: codecOf(info).encode(v) })));
    const mutated = valid.chain(({ info, bytes }) =>
      fc
        .record({
          at: fc.nat({ max: Math.max(0, bytes.length) }),
          op: fc.constantFrom("flip", "cut", "insert"),
          byte: fc.integer({ min: 0, max: 255 }),
        })
        .map(({ at, op, byte }) => {
          const b = Array.from(bytes);
          if (op === "flip" && b.length > 0) b[at % b.length] = (b[at % b.length] ?? 0) ^ (1 << (byte & 7));
          else if (op === "cut") b.length = at;
          else b.splice(at, 0, byte);
          return { info, bytes: Uint8Array.from(b) };
        }),
    );
    const random = fc.record({ info: fc.constantFrom(...infos), bytes: fc.uint8Array({ maxLength: 64 }) });
    fc.assert(
      fc.property(fc.oneof(mutated, random), ({ info, bytes }) => {
        const codec = codecOf(info);
        const c = native.roundtrip(pkg, codec.typeName, bytes, codec.maxSize);
        let tsCode = 0;
        let tsBytes: Uint8Array | undefined;
        try {
          tsBytes = codec.encode(codec.decode(bytes));
        } catch (e) {
          if (!(e instanceof WireError)) throw e;
          tsCode = e.code;
        }
        expect(tsCode, `${info.fullName} ${hex(bytes)}: TS and C error codes differ`).toBe(c.code);
        if (c.code !== 0 || !tsBytes) return;
        if (hex(tsBytes) !== hex(c.bytes) && containsNaN(codec.decode(bytes))) {
          // JS cannot carry a NaN's payload (0x7ff0000000000001 comes back quieted as
          // 0x7ff8000000000001); C keeps the bits. Same values, different NaN bits: accepted.
          expect(codec.decode(tsBytes)).toEqual(codec.decode(c.bytes));
          return;
        }
        expect(hex(tsBytes)).toBe(hex(c.bytes));
      }),
      { numRuns: 1500, seed: SEED },
    );
  });
});

function containsNaN(v: unknown): boolean {
  if (typeof v === "number") return Number.isNaN(v);
  if (Array.isArray(v)) return v.some(containsNaN);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) return Object.values(v).some(containsNaN);
  return false;
}

function schemaOf(fullName: string): MessageInfo {
  const name = fullName.replace(/^\./, "");
  const all = [...schemas.cdfilter, ...schemas.conf];
  const found = all.find((m) => m.fullName === name);
  if (!found) throw new Error(`unknown message ${fullName}`);
  return found;
}

describe("coverage", () => {
  it(`generated at least ${MIN_TOTAL_MESSAGES} messages across all types`, () => {
    expect(generated).toBeGreaterThanOrEqual(MIN_TOTAL_MESSAGES);
  });
});
