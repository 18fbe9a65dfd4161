// Golden vectors: protoc is the oracle. Each test/golden/<pkg>/<Type>.<case>.txtpb was encoded by
// `protoc --encode` into the .bin beside it (test/golden/make.sh). For each vector:
//   - C: decoding the .bin and re-encoding it (cdf_codec_roundtrip / conf_codec_roundtrip)
//     gives exactly protoc's bytes;
//   - TS: the message built in TS from the text (test/support/textformat.ts, not through the codec)
//     encodes to exactly protoc's bytes, and TS decode of the .bin deep-equals it;
//   - `protoc --decode` of our encodings prints the same text as of the .bin.
// protoc runs at test time; a missing protoc fails the test (never a skip).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type NativeCodec, loadNativeCodec } from "../bench/lib/codec_native.ts";
import { type MessageInfo, REPO_ROOT, loadSchemaRoot, messagesOf } from "../bench/lib/pbschema.ts";
import * as cdfGen from "../src/client/gen/cdfilter.ts";
import { parseTextFormat } from "./support/textformat.ts";
import * as confGen from "./gen/conf.ts";

interface Codec {
  typeName: string;
  maxSize: number;
  encode(m: unknown): Uint8Array;
  decode(b: Uint8Array): unknown;
}

const GOLDEN = join(REPO_ROOT, "test", "golden");
const PKGS = { cdfilter: "proto/cdfilter/control.proto", conf: "test/proto/conformance.proto" } as const;
type Pkg = keyof typeof PKGS;

const root = loadSchemaRoot();
const schemas: Record<Pkg, MessageInfo[]> = { cdfilter: messagesOf(root, "cdfilter"), conf: messagesOf(root, "conf") };
const modules: Record<Pkg, Record<string, unknown>> = {
  cdfilter: cdfGen as unknown as Record<string, unknown>,
  conf: confGen as unknown as Record<string, unknown>,
};

function protocIncludes(): string[] {
  const inc = ["-Iproto", "-Itest/proto"];
  const wkt = ["/usr/include", "/usr/local/include"].find((d) => existsSync(join(d, "google/protobuf/descriptor.proto")));
  if (wkt) inc.push(`-I${wkt}`);
  return inc;
}

function protocDecode(pkg: Pkg, type: string, bytes: Uint8Array): string {
  const r = spawnSync("protoc", [`--decode=${pkg}.${type}`, ...protocIncludes(), PKGS[pkg]], {
    cwd: REPO_ROOT,
    input: bytes,
    encoding: "buffer",
  });
  if (r.error) throw new Error(`protoc could not run (${r.error.message}); install protobuf-compiler`);
  if (r.status !== 0) throw new Error(`protoc --decode=${pkg}.${type} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

interface Vector {
  pkg: Pkg;
  type: string;
  name: string;
  text: string;
  bin: Uint8Array;
}

function vectors(): Vector[] {
  const out: Vector[] = [];
  for (const pkg of Object.keys(PKGS) as Pkg[]) {
    for (const file of readdirSync(join(GOLDEN, pkg))
      .filter((f) => f.endsWith(".txtpb"))
      .sort()) {
      const name = file.slice(0, -".txtpb".length);
      const type = name.split(".")[0] ?? "";
      out.push({
        pkg,
        type,
        name,
        text: readFileSync(join(GOLDEN, pkg, file), "utf8"),
        bin: new Uint8Array(readFileSync(join(GOLDEN, pkg, `${name}.bin`))),
      });
    }
  }
  return out;
}

const all = vectors();
let native: NativeCodec;

beforeAll(() => {
  const v = spawnSync("protoc", ["--version"], { encoding: "utf8" });
  if (v.error || v.status !== 0) {
    // Fails everywhere (CI=true or not): the oracle is required, the test never skips.
    throw new Error(
      `protoc is required by the golden tests and was not found${process.env.CI === "true" ? " (CI=true)" : ""}: apt-get install protobuf-compiler`,
    );
  }
  native = loadNativeCodec();
});

describe("golden vector set", () => {
  it("has at least one vector per cdfilter message type", () => {
    const covered = new Set(all.filter((v) => v.pkg === "cdfilter").map((v) => v.type));
    const missing = schemas.cdfilter.map((m) => m.name).filter((n) => !covered.has(n));
    expect(missing).toEqual([]);
  });

  it("has conf edge cases for every conf message type", () => {
    const covered = new Set(all.filter((v) => v.pkg === "conf").map((v) => v.type));
    expect(schemas.conf.map((m) => m.name).filter((n) => !covered.has(n))).toEqual([]);
  });
});

describe.each(all.map((v) => [`${v.pkg}/${v.name}`, v] as const))("%s", (_label, v) => {
  const info = schemas[v.pkg].find((m) => m.name === v.type);
  const codec = modules[v.pkg][v.type] as Codec | undefined;

  it("C decode + re-encode of protoc's bytes is byte-identical", () => {
    if (!info || !codec) throw new Error(`no schema or generated TS type for ${v.pkg}.${v.type}`);
    const c = native.roundtrip(v.pkg, codec.typeName, v.bin, codec.maxSize);
    expect(c.code, `C error ${c.code}`).toBe(0);
    expect(hex(c.bytes)).toBe(hex(v.bin));
    expect(protocDecode(v.pkg, v.type, c.bytes)).toBe(protocDecode(v.pkg, v.type, v.bin));
  });

  it("TS encode of the message built from the text is byte-identical; TS decode matches it", () => {
    if (!info || !codec) throw new Error(`no schema or generated TS type for ${v.pkg}.${v.type}`);
    const built = parseTextFormat(info, v.text);
    const ts = codec.encode(built);
    expect(hex(ts)).toBe(hex(v.bin));
    expect(ts.length).toBeLessThanOrEqual(codec.maxSize);
    expect(codec.decode(v.bin)).toEqual(built);
    expect(protocDecode(v.pkg, v.type, ts)).toBe(protocDecode(v.pkg, v.type, v.bin));
  });
});
