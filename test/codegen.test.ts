// The generator rejects every schema the kernel codec cannot bound or support, naming the
// file, the line and the element. Each case writes a small schema to a temporary directory.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadPackage, SchemaError } from "../src/codegen/model.ts";
import { generateAll } from "../src/codegen/main.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "cdf-codegen-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;

/** Writes `body` (after a proto3 header importing the options) and loads it. */
function load(body: string, header = 'syntax = "proto3";\npackage t;\nimport "cdfilter/options.proto";\n') {
  const dir = join(work, `case${counter++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "s.proto"), header + body);
  return loadPackage({ files: ["s.proto"], includeDirs: [dir, join(repoRoot, "proto")], displayRoot: dir });
}

/** The SchemaError problems of loading body (fails the test if it loads). */
function problems(body: string, header?: string): string[] {
  try {
    load(body, header);
  } catch (e) {
    if (e instanceof SchemaError) return e.problems;
    throw e;
  }
  throw new Error("schema was accepted");
}

const SVC_HEADER =
  'syntax = "proto3";\npackage t;\nimport "cdfilter/options.proto";\noption (cdfilter.options.ioctl_device_type) = 0x8001;\n';

describe("codegen accepts", () => {
  it("a bounded schema and computes exact worst-case sizes", () => {
    const pkg = load(
      "message A {\n  string s = 1 [(cdfilter.options.max_len) = 10];\n  repeated uint32 r = 2 [(cdfilter.options.max_count) = 3];\n  int32 i = 3;\n}\nmessage B { A a = 1; }\n",
    );
    const a = pkg.messages.find((m) => m.name === "A")!;
    // s: tag 1 + len 1 + 10; r: tag 1 + len 1 + 3 * 5; i: tag 1 + 10 (negative int32).
    expect(a.maxSize).toBe(12 + 17 + 11);
    const b = pkg.messages.find((m) => m.name === "B")!;
    expect(b.maxSize).toBe(1 + 1 + 40);
    expect(b.depth).toBe(2);
    expect(pkg.messages.map((m) => m.name)).toEqual(["A", "B"]);
  });

  it("the project's schemas, deterministically", () => {
    const first = generateAll(repoRoot);
    const second = generateAll(repoRoot);
    expect([...first.keys()].sort()).toEqual([...second.keys()].sort());
    for (const [k, v] of first) expect(second.get(k)).toBe(v);
    for (const text of first.values()) expect(text).not.toMatch(/\/(work|root|home|tmp)\//);
  });
});

describe("codegen rejects", () => {
  it("an unbounded string, naming file, line and field", () => {
    const p = problems("message A {\n  uint32 x = 1;\n  string name = 2;\n}\n");
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^s\.proto:6: field A\.name: unbounded string/);
  });

  it("unbounded bytes", () => {
    expect(problems("message A {\n  bytes b = 1;\n}\n")[0]).toMatch(/s\.proto:5: field A\.b: unbounded bytes/);
  });

  it("an unbounded repeated field", () => {
    expect(problems("message A {\n  repeated uint32 r = 1;\n}\n")[0]).toMatch(/s\.proto:5: field A\.r: unbounded repeated/);
  });

  it("a repeated string bounded in count but not in length", () => {
    expect(problems("message A {\n  repeated string r = 1 [(cdfilter.options.max_count) = 2];\n}\n")[0]).toMatch(
      /field A\.r: unbounded string/,
    );
  });

  it("a directly recursive message", () => {
    expect(problems("message Node {\n  Node next = 1;\n}\n")[0]).toMatch(
      /s\.proto:4: message Node: recursive message graph \(Node -> Node\)/,
    );
  });

  it("a mutually recursive message graph", () => {
    const p = problems("message A {\n  B b = 1;\n}\nmessage B {\n  A a = 1;\n}\n");
    expect(p.join("\n")).toMatch(/recursive message graph \((A -> B -> A|B -> A -> B)\)/);
  });

  it("nesting deeper than 8", () => {
    let body = "message M1 { uint32 leaf = 1; }\n";
    for (let i = 2; i <= 9; i++) body += `message M${i} { M${i - 1} next = 1; }\n`;
    const p = problems(body);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/s\.proto:12: message M9: nesting depth 9 exceeds 8/);
    // Depth 8 exactly is accepted.
    expect(() => load(body.split("\n").slice(0, 8).join("\n"))).not.toThrow();
  });

  it("map fields", () => {
    expect(problems("message A {\n  map<string, uint32> m = 1;\n}\n")[0]).toMatch(/s\.proto:5: field A\.m: map fields are not supported/);
  });

  it("google.protobuf.Any and other well-known types", () => {
    const p = problems('import "google/protobuf/any.proto";\nmessage A {\n  google.protobuf.Any x = 1;\n}\n');
    expect(p.join("\n")).toMatch(/well-known types are not supported/);
  });

  it("proto2 syntax, required fields and defaults", () => {
    const header = 'syntax = "proto2";\npackage t;\n';
    expect(problems("message A {\n  required int32 a = 1;\n}\n", header)[0]).toMatch(/s\.proto:1: only syntax = "proto3" is supported/);
    // In a proto3 file, `required` is a parse error with its line.
    expect(problems("message A {\n  required int32 a = 1;\n}\n")[0]).toMatch(/s\.proto:5: parse error: .*required/);
  });

  it("groups (proto2 only) and the proto2 default option", () => {
    const header = 'syntax = "proto2";\npackage t;\nmessage G { optional group Inner = 1 { optional int32 x = 1; } }\n';
    expect(problems("", header)[0]).toMatch(/only syntax = "proto3"/);
    expect(problems("message A {\n  int32 a = 1 [default = 3];\n}\n").join("\n")).toMatch(
      /field A\.a: proto2 default values are not supported/,
    );
  });

  it("an unknown cdfilter option", () => {
    expect(problems("message A {\n  string s = 1 [(cdfilter.options.max_length) = 3];\n}\n").join("\n")).toMatch(
      /s\.proto:5: field A\.s: unknown or misplaced option \(cdfilter\.options\.max_length\)/,
    );
  });

  it("an rpc without ioctl_function", () => {
    const p = problems(
      'message Q {}\nservice S {\n  rpc Get(Q) returns (Q) {\n    option (cdfilter.options.ioctl_access) = "FILE_READ_ACCESS";\n  }\n}\n',
      SVC_HEADER,
    );
    expect(p[0]).toMatch(/s\.proto:7: rpc S\.Get: missing option \(cdfilter\.options\.ioctl_function\)/);
  });

  it("an rpc without ioctl_access, and an invalid access name", () => {
    expect(
      problems(
        "message Q {}\nservice S {\n  rpc Get(Q) returns (Q) {\n    option (cdfilter.options.ioctl_function) = 0x800;\n  }\n}\n",
        SVC_HEADER,
      )[0],
    ).toMatch(/s\.proto:7: rpc S\.Get: missing option \(cdfilter\.options\.ioctl_access\)/);
    expect(
      problems(
        'message Q {}\nservice S {\n  rpc Get(Q) returns (Q) {\n    option (cdfilter.options.ioctl_function) = 0x800;\n    option (cdfilter.options.ioctl_access) = "FILE_ALL_ACCESS";\n  }\n}\n',
        SVC_HEADER,
      )[0],
    ).toMatch(/rpc S\.Get: ioctl_access "FILE_ALL_ACCESS" must be one of/);
  });

  it("a function code outside 0x800-0xFFF", () => {
    for (const fn of ["0x7FF", "0x1000"]) {
      const p = problems(
        `message Q {}\nservice S {\n  rpc Get(Q) returns (Q) {\n    option (cdfilter.options.ioctl_function) = ${fn};\n    option (cdfilter.options.ioctl_access) = "FILE_ANY_ACCESS";\n  }\n}\n`,
        SVC_HEADER,
      );
      expect(p[0]).toMatch(/s\.proto:7: rpc S\.Get: ioctl_function 0x(7ff|1000) outside the vendor range 0x800-0xFFF/);
    }
  });

  it("a device type outside 0x8000-0xFFFF", () => {
    const header =
      'syntax = "proto3";\npackage t;\nimport "cdfilter/options.proto";\noption (cdfilter.options.ioctl_device_type) = 0x22;\n';
    const p = problems(
      'message Q {}\nservice S {\n  rpc Get(Q) returns (Q) {\n    option (cdfilter.options.ioctl_function) = 0x800;\n    option (cdfilter.options.ioctl_access) = "FILE_ANY_ACCESS";\n  }\n}\n',
      header,
    );
    expect(p[0]).toMatch(/s\.proto:4: ioctl_device_type 0x22 outside the vendor range 0x8000-0xFFFF/);
  });

  it("duplicate function codes", () => {
    const rpc = (name: string) =>
      `  rpc ${name}(Q) returns (Q) {\n    option (cdfilter.options.ioctl_function) = 0x801;\n    option (cdfilter.options.ioctl_access) = "FILE_READ_ACCESS";\n  }\n`;
    const p = problems(`message Q {}\nservice S {\n${rpc("A")}${rpc("B")}}\n`, SVC_HEADER);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/s\.proto:11: rpc S\.B: duplicate ioctl_function 0x801 \(also rpc S\.A\)/);
  });

  it("an rpc in a package without a device type", () => {
    const p = problems(
      'message Q {}\nservice S {\n  rpc Get(Q) returns (Q) {\n    option (cdfilter.options.ioctl_function) = 0x800;\n    option (cdfilter.options.ioctl_access) = "FILE_ANY_ACCESS";\n  }\n}\n',
    );
    expect(p[0]).toMatch(/rpc S\.Get: the package needs option \(cdfilter\.options\.ioctl_device_type\)/);
  });

  it("a worst-case size that could overflow 32-bit size arithmetic", () => {
    const p = problems(
      "message Big {\n  repeated bytes b = 1 [(cdfilter.options.max_count) = 65536, (cdfilter.options.max_len) = 65536];\n}\n",
    );
    expect(p[0]).toMatch(/message Big: worst-case size \d+ bytes exceeds 2147483647/);
  });

  it("names that collide in the generated C", () => {
    const p = problems(
      "message A {\n  uint32 x = 1;\n  repeated uint32 r = 2 [(cdfilter.options.max_count) = 2];\n  uint32 r_count = 3;\n}\n",
    );
    expect(p.join("\n")).toMatch(/C member "r_count"/);
  });

  // Package-wide names: each schema below is accepted by protoc (names are unique per scope) but
  // its generated C would not compile. The clash is reported at the later declaration.
  it("a nested type whose flattened C name is another type's (A.B and A_B)", () => {
    const p = problems("message A {\n  message B { int32 x = 1; }\n  B b = 1;\n}\nmessage A_B { int32 y = 1; }\n");
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^s\.proto:8: message t\.A_B: generated C name <prefix>_A_B collides with message t\.A\.B \(s\.proto:5\)$/);
  });

  it("enum values of different enums that give the same <PREFIX>_<VALUE> constant", () => {
    const p = problems("message C {\n  enum E { X = 0; Y = 1; }\n  E e = 1;\n}\nmessage D {\n  enum F { X = 0; }\n  F f = 1;\n}\n");
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(
      /^s\.proto:9: value X of enum t\.D\.F: generated C name <PREFIX>_X collides with value X of enum t\.C\.E \(s\.proto:5\)$/,
    );
  });

  it("an enum value that is a generated macro, and a field macro that is another message's", () => {
    const p = problems("enum E {\n  PROTOCOL_VERSION = 0;\n}\nmessage M {\n  uint32 x_MAX = 1;\n}\nmessage M_x {\n  uint32 MAX = 1;\n}\n");
    expect(p).toEqual([
      "s.proto:4: value PROTOCOL_VERSION of enum t.E: generated C name <PREFIX>_PROTOCOL_VERSION collides with a macro of the generated headers",
      "s.proto:11: field t.M_x.MAX: generated C name <prefix>_M_x_MAX_FIELD collides with field t.M.x_MAX (s.proto:8)",
    ]);
    // Near misses load: every generated name differs.
    expect(() =>
      load(
        "message M {\n  uint32 x = 1;\n}\nmessage M_x { uint32 y = 1; }\nmessage N { uint32 M_x_MAX = 1; }\nmessage N_M { uint32 x_MAX_SIZE = 1; }\n",
      ),
    ).not.toThrow();
  });

  it("rpc names that give the same IOCTL macro (GetInfo and Get_Info)", () => {
    const rpc = (name: string, fn: number) =>
      `  rpc ${name}(Q) returns (Q) {\n    option (cdfilter.options.ioctl_function) = ${fn};\n    option (cdfilter.options.ioctl_access) = "FILE_READ_ACCESS";\n  }\n`;
    const p = problems(`message Q {}\nservice S {\n${rpc("GetInfo", 0x801)}${rpc("Get_Info", 0x802)}}\n`, SVC_HEADER);
    expect(p).toEqual([
      expect.stringMatching(
        /^s\.proto:11: rpc S\.Get_Info: generated C name <PREFIX>_IOCTL_GET_INFO collides with rpc S\.GetInfo \(s\.proto:7\)$/,
      ),
    ]);
  });

  it("message lines: a comment mentioning the message is not its declaration", () => {
    const p = problems("// message A refers to itself below; /* message A */ too\n/* message A { */\nmessage A {\n  A self = 1;\n}\n");
    expect(p[0]).toMatch(/^s\.proto:6: message A: recursive message graph/);
  });

  it("message lines: a top-level message is not the nested one of the same name", () => {
    const p = problems("message A {\n  message B { int32 x = 1; }\n  B b = 1;\n}\nmessage B {\n  B self = 1;\n}\n");
    expect(p[0]).toMatch(/^s\.proto:8: message B: recursive message graph/);
  });
});
