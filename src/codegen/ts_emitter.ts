// TypeScript emitter: interfaces, enums and one MessageType<T> per message, with specialised
// size/write/decode functions over src/client/wire.ts (switch on the tag, no per-field closures).
import type { FieldKind, FieldModel, MessageModel, PackageModel, EnumModel } from "./model.ts";
import { camel, WIRE_TYPE } from "./model.ts";
import { tagBytes, tagSize } from "./wire_bytes.ts";

const READ: Record<Exclude<FieldKind, "string" | "bytes" | "message">, string> = {
  int32: "i32",
  enum: "i32",
  uint32: "u32",
  sint32: "s32",
  fixed32: "fx32",
  sfixed32: "sfx32",
  float: "f32",
  double: "f64",
  int64: "i64",
  uint64: "u64",
  sint64: "s64",
  fixed64: "fx64",
  sfixed64: "sfx64",
  bool: "bool",
};
const SIZE: Record<Exclude<FieldKind, "string" | "bytes" | "message">, string> = {
  int32: "szI32",
  enum: "szI32",
  uint32: "szU32",
  sint32: "szS32",
  fixed32: "szFx32",
  sfixed32: "szSfx32",
  float: "szF32",
  double: "szF64",
  int64: "szI64",
  uint64: "szU64",
  sint64: "szS64",
  fixed64: "szFx64",
  sfixed64: "szSfx64",
  bool: "szBool",
};

type ScalarK = Exclude<FieldKind, "string" | "bytes" | "message">;

function is64(kind: FieldKind): boolean {
  return kind === "int64" || kind === "uint64" || kind === "sint64" || kind === "fixed64" || kind === "sfixed64";
}

function tsElemType(f: FieldModel): string {
  switch (f.kind) {
    case "string":
      return "string";
    case "bytes":
      return "Uint8Array";
    case "bool":
      return "boolean";
    case "enum":
      return f.enumType!.name;
    case "message":
      return f.messageType!.name;
    default:
      return is64(f.kind) ? "bigint" : "number";
  }
}

function tsDefault(f: FieldModel): string {
  if (f.label === "repeated") return "[]";
  if (f.label === "optional" || f.label === "oneof" || f.kind === "message") return "undefined";
  switch (f.kind) {
    case "string":
      return '""';
    case "bytes":
      return "pb.EMPTY_BYTES";
    case "bool":
      return "false";
    default:
      return is64(f.kind) ? "0n" : "0";
  }
}

function nonDefault(f: FieldModel, v: string): string {
  switch (f.kind) {
    case "bool":
      return `${v} !== false`;
    case "float":
      return `pb.nzF32(${v})`;
    case "double":
      return `pb.nzF64(${v})`;
    default:
      return is64(f.kind) ? `${v} !== 0n` : `${v} !== 0`;
  }
}

const hx = (v: number): string => `0x${v.toString(16)}`;

function tagWrite(f: FieldModel, wt: number): string {
  const b = tagBytes(f, wt);
  if (b.length === 1) return `w.b1(${hx(b[0]!)});`;
  if (b.length === 2) return `w.b2(${hx(b[0]!)}, ${hx(b[1]!)});`;
  return `w.bn([${b.map(hx).join(", ")}]);`;
}

function docComment(text: string | undefined, indent: string): string[] {
  if (!text) return [];
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 1) return [`${indent}/** ${lines[0]!.replace(/\*\//g, "*\\/")} */`];
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l.replace(/\*\//g, "*\\/")}`), `${indent} */`];
}

function fieldDoc(f: FieldModel): string {
  const bits = [
    `${f.name} = ${f.number}`,
    f.kind === "enum" ? f.enumType!.fullName.slice(1) : f.kind === "message" ? f.messageType!.fullName.slice(1) : f.kind,
  ];
  if (f.maxLen) bits.push(`max ${f.maxLen} bytes`);
  if (f.maxCount) bits.push(`max ${f.maxCount} elements`);
  if (f.label === "optional") bits.push("optional");
  return bits.join(", ");
}

class Out {
  lines: string[] = [];
  push(indent: number, s: string): void {
    this.lines.push("  ".repeat(indent) + s);
  }
}

function oneofVar(name: string): string {
  return `o_${camel(name)}`;
}

function emitInterface(m: MessageModel): string[] {
  const out: string[] = [];
  out.push(...docComment(m.comment, ""));
  out.push(`export interface ${m.name} {`);
  const done = new Set<string>();
  for (const f of m.fields) {
    if (f.oneof !== undefined) {
      if (done.has(f.oneof)) continue;
      done.add(f.oneof);
      const members = m.fields.filter((g) => g.oneof === f.oneof);
      out.push(`  /** oneof ${f.oneof}: ${members.map((g) => `${g.name} = ${g.number}`).join(", ")} */`);
      out.push(`  ${camel(f.oneof)}:`);
      for (const g of members) out.push(`    | { case: "${camel(g.name)}"; value: ${tsElemType(g)} }`);
      out.push(`    | undefined;`);
      continue;
    }
    const doc = [fieldDoc(f), ...(f.comment ? [f.comment] : [])].join(". ");
    out.push(...docComment(doc, "  "));
    let t = tsElemType(f);
    if (f.label === "repeated") t = `${t}[]`;
    else if (f.label === "optional" || f.kind === "message") t = `${t} | undefined`;
    out.push(`  ${camel(f.name)}: ${t};`);
  }
  out.push("}");
  return out;
}

function emitNew(m: MessageModel): string[] {
  const out = [`function new${m.name}(): ${m.name} {`, "  return {"];
  const done = new Set<string>();
  for (const f of m.fields) {
    if (f.oneof !== undefined) {
      if (done.has(f.oneof)) continue;
      done.add(f.oneof);
      out.push(`    ${camel(f.oneof)}: undefined,`);
      continue;
    }
    out.push(`    ${camel(f.name)}: ${tsDefault(f)},`);
  }
  out.push("  };", "}");
  return out;
}

function fieldRef(f: FieldModel): string {
  return `m.${camel(f.name)}`;
}

/** Condition and value expression of a present field (oneof members via the narrowed local). */
function presentValue(f: FieldModel): { cond: string | undefined; v: string } {
  if (f.label === "oneof") {
    const o = oneofVar(f.oneof!);
    return { cond: `${o} !== undefined && ${o}.case === "${camel(f.name)}"`, v: `${o}.value` };
  }
  if (f.label === "optional" || (f.label === "singular" && f.kind === "message")) {
    return { cond: `${fieldRef(f)} !== undefined`, v: fieldRef(f) };
  }
  return { cond: undefined, v: fieldRef(f) };
}

function emitSize(m: MessageModel, pkgName: string): string[] {
  const o = new Out();
  const what = (f: FieldModel): string => `"${m.name}.${f.name}"`;
  for (const one of m.oneofs) {
    const ov = oneofVar(one.name);
    o.push(1, `const ${ov} = m.${camel(one.name)};`);
    o.push(1, `if (${ov} !== undefined) {`);
    o.push(2, `switch (${ov}.case) {`);
    for (const g of one.fields) o.push(3, `case "${camel(g.name)}":`);
    o.push(4, "break;");
    o.push(3, "default:");
    o.push(4, `throw pb.badCase("${m.name}.${one.name}", (${ov} as { case: unknown }).case);`);
    o.push(2, "}");
    o.push(1, "}");
  }
  for (const f of m.byNumber) {
    const wt = f.label === "repeated" && f.packed ? 2 : WIRE_TYPE[f.kind];
    const ts = tagSize(f, wt);
    if (f.label === "repeated") {
      o.push(1, "{");
      o.push(2, `const a = ${fieldRef(f)};`);
      o.push(2, `pb.checkCount(a, ${f.maxCount}, ${what(f)});`);
      if (f.packed) {
        o.push(2, "if (a.length !== 0) {");
        o.push(3, "let len = 0;");
        o.push(3, `for (let i = 0; i < a.length; i++) len += pb.${SIZE[f.kind as ScalarK]}(a[i]!);`);
        o.push(3, "s.push(len);");
        o.push(3, `n += ${ts} + pb.varintSize32(len) + len;`);
        o.push(2, "}");
      } else {
        o.push(2, "for (let i = 0; i < a.length; i++) {");
        if (f.kind === "string") {
          o.push(3, `const len = pb.szStr(a[i]!, ${f.maxLen}, ${what(f)});`);
          o.push(3, "s.push(len);");
        } else if (f.kind === "bytes") {
          o.push(3, `const len = pb.szBytes(a[i]!, ${f.maxLen}, ${what(f)});`);
        } else {
          o.push(3, "const at = s.length;");
          o.push(3, "s.push(0);");
          o.push(3, `const len = size${f.messageType!.name}(a[i]!, s);`);
          o.push(3, "s[at] = len;");
        }
        o.push(3, `n += ${ts} + pb.varintSize32(len) + len;`);
        o.push(2, "}");
      }
      o.push(1, "}");
      continue;
    }
    const { cond, v } = presentValue(f);
    if (f.kind === "string" || f.kind === "bytes" || f.kind === "message") {
      const body = (ind: number, always: boolean): void => {
        if (f.kind === "string") {
          o.push(ind, `const len = pb.szStr(${v}, ${f.maxLen}, ${what(f)});`);
          o.push(ind, "s.push(len);");
        } else if (f.kind === "bytes") {
          o.push(ind, `const len = pb.szBytes(${v}, ${f.maxLen}, ${what(f)});`);
        } else {
          o.push(ind, "const at = s.length;");
          o.push(ind, "s.push(0);");
          o.push(ind, `const len = size${f.messageType!.name}(${v}, s);`);
          o.push(ind, "s[at] = len;");
        }
        if (always) o.push(ind, `n += ${ts} + pb.varintSize32(len) + len;`);
        else o.push(ind, `if (len !== 0) n += ${ts} + pb.varintSize32(len) + len;`);
      };
      if (cond) {
        o.push(1, `if (${cond}) {`);
        body(2, true);
      } else {
        o.push(1, "{");
        body(2, false);
      }
      o.push(1, "}");
      continue;
    }
    const c = cond ?? nonDefault(f, v);
    o.push(1, `if (${c}) n += ${ts} + pb.${SIZE[f.kind as ScalarK]}(${v});`);
  }
  void pkgName;
  const unusedS = !/\bs\.|, s\)/.test(o.lines.join("\n"));
  return [
    `function size${m.name}(m: ${m.name}, s: number[]): number {`,
    ...(unusedS ? ["  void s;"] : []),
    ...(m.fields.length === 0 ? ["  void m;"] : []),
    "  let n = 0;",
    ...o.lines,
    "  return n;",
    "}",
  ];
}

function emitWrite(m: MessageModel): string[] {
  const o = new Out();
  for (const one of m.oneofs) o.push(1, `const ${oneofVar(one.name)} = m.${camel(one.name)};`);
  for (const f of m.byNumber) {
    if (f.label === "repeated") {
      o.push(1, "{");
      o.push(2, `const a = ${fieldRef(f)};`);
      if (f.packed) {
        o.push(2, "if (a.length !== 0) {");
        o.push(3, tagWrite(f, 2));
        o.push(3, "w.u32(w.next());");
        o.push(3, `for (let i = 0; i < a.length; i++) w.${READ[f.kind as ScalarK]}(a[i]!);`);
        o.push(2, "}");
      } else {
        o.push(2, "for (let i = 0; i < a.length; i++) {");
        o.push(3, tagWrite(f, 2));
        if (f.kind === "string") o.push(3, "w.str(a[i]!, w.next());");
        else if (f.kind === "bytes") o.push(3, "w.bytes(a[i]!);");
        else {
          o.push(3, "w.u32(w.next());");
          o.push(3, `write${f.messageType!.name}(a[i]!, w);`);
        }
        o.push(2, "}");
      }
      o.push(1, "}");
      continue;
    }
    const { cond, v } = presentValue(f);
    if (f.kind === "string" || f.kind === "bytes" || f.kind === "message") {
      if (cond) {
        o.push(1, `if (${cond}) {`);
        o.push(2, tagWrite(f, 2));
        if (f.kind === "string") o.push(2, `w.str(${v}, w.next());`);
        else if (f.kind === "bytes") o.push(2, `w.bytes(${v});`);
        else {
          o.push(2, "w.u32(w.next());");
          o.push(2, `write${f.messageType!.name}(${v}, w);`);
        }
        o.push(1, "}");
      } else if (f.kind === "string") {
        o.push(1, "{");
        o.push(2, "const len = w.next();");
        o.push(2, "if (len !== 0) {");
        o.push(3, tagWrite(f, 2));
        o.push(3, `w.str(${v}, len);`);
        o.push(2, "}");
        o.push(1, "}");
      } else {
        o.push(1, `if (${v}.length !== 0) {`);
        o.push(2, tagWrite(f, 2));
        o.push(2, `w.bytes(${v});`);
        o.push(1, "}");
      }
      continue;
    }
    const c = cond ?? nonDefault(f, v);
    o.push(1, `if (${c}) {`);
    o.push(2, tagWrite(f, WIRE_TYPE[f.kind]));
    o.push(2, `w.${READ[f.kind as ScalarK]}(${v});`);
    o.push(1, "}");
  }
  return [
    `function write${m.name}(m: ${m.name}, w: pb.Writer): void {`,
    ...(m.fields.length === 0 ? ["  void m;", "  void w;"] : []),
    ...o.lines,
    "}",
  ];
}

/** Inline 1-byte fast path for varint scalars: the value expression of byte `b`, if any. */
function oneByteValue(kind: FieldKind): string | undefined {
  switch (kind) {
    case "int32":
    case "uint32":
    case "enum":
      return "b";
    case "sint32":
      return "(b >>> 1) ^ -(b & 1)";
    case "bool":
      return "b !== 0";
    case "uint64":
    case "int64":
      return "pb.SMALL_BIGINT[b]!";
    default:
      return undefined;
  }
}

/** Value of the varint the Reader left in r.lo/r.hi (after `pos = r.v64(pos, end)`). */
function varintValue(kind: FieldKind): string | undefined {
  switch (kind) {
    case "uint32":
      return "r.lo";
    case "int32":
    case "enum":
      return "r.lo | 0";
    case "sint32":
      return "(r.lo >>> 1) ^ -(r.lo & 1)";
    case "bool":
      return "(r.lo | r.hi) !== 0";
    case "uint64":
      return "pb.u64Of(r.lo, r.hi)";
    case "int64":
      return "pb.i64Of(r.lo, r.hi)";
    case "sint64":
      return "pb.s64Of(r.lo, r.hi)";
    default:
      return undefined;
  }
}

/** Tag bytes of a field as they appear in a canonical encoding (1 or 2 bytes), if short. */
function shortTagBytes(f: FieldModel, wt: number): number[] | undefined {
  const b = tagBytes(f, wt);
  return b.length <= 2 ? b : undefined;
}

// Decoders keep the cursor in the local `pos`; the Reader is only called off the fast paths
// (1- and 2-byte tags and short varints are read inline; longer varints by r.v64(pos, end),
// which leaves the value in r.lo/r.hi and returns the new position).
//
// Canonical encoders (protoc, ours, the C codec) write fields in field-number order, so the
// decoder first walks the fields in that order, each guarded by a compare of its expected tag
// bytes: absent (default) fields cost one compare and no dispatch. At the first byte that is not
// the next expected tag it falls back to the generic loop, a switch on the field number that
// accepts any order, duplicates (last value wins), unknown fields and packed/unpacked repeated
// scalars, and reports errors exactly as the C decoder does. Both paths decode each value with
// the same code, so the result and the error code never depend on the path taken.
function emitDecode(m: MessageModel): string[] {
  const o = new Out();
  const call = (ind: number, stmt: string): void => {
    o.push(ind, "r.pos = pos;");
    o.push(ind, stmt);
    o.push(ind, "pos = r.pos;");
  };
  const scalarRead = (ind: number, f: FieldModel, assign: (v: string) => string): void => {
    const fast = oneByteValue(f.kind);
    const slow = varintValue(f.kind);
    if (fast === undefined || slow === undefined) {
      call(ind, assign(`r.${READ[f.kind as ScalarK]}(end)`));
      return;
    }
    o.push(ind, "if (pos < end && (b = buf[pos]!) < 0x80) {");
    o.push(ind + 1, assign(fast));
    o.push(ind + 1, "pos++;");
    if (f.kind === "uint32" || f.kind === "enum" || f.kind === "int32") {
      // Two-byte values (128..16383: process ids, sizes, counts) are common enough to inline.
      o.push(ind, "} else if (pos + 1 < end && (b = buf[pos + 1]!) < 0x80) {");
      o.push(ind + 1, assign("(buf[pos]! & 0x7f) | (b << 7)"));
      o.push(ind + 1, "pos += 2;");
    }
    o.push(ind, "} else {");
    o.push(ind + 1, "pos = r.v64(pos, end);");
    o.push(ind + 1, assign(slow));
    o.push(ind, "}");
  };
  /** Value of f (its tag consumed, wire type checked) at `pos`, stored in m. */
  const value = (ind: number, f: FieldModel): void => {
    const ref = fieldRef(f);
    if (f.label === "repeated") {
      o.push(ind, `if (${ref}.length >= ${f.maxCount}) throw pb.err(pb.WireErrorCode.BOUND);`);
      if (f.kind === "string") call(ind, `${ref}.push(r.str(end, ${f.maxLen}));`);
      else if (f.kind === "bytes") call(ind, `${ref}.push(r.bytes(end, ${f.maxLen}));`);
      else if (f.kind === "message") {
        const st = f.messageType!.name;
        call(ind, `${ref}.push(decode${st}(r, r.len(end), depth + 1, new${st}()));`);
      } else {
        call(ind, `${ref}.push(r.${READ[f.kind as ScalarK]}(end));`);
      }
      return;
    }
    if (f.kind === "message") {
      const st = f.messageType!.name;
      if (f.label === "oneof") {
        const key = camel(f.oneof!);
        const prev = `prev${f.number}`;
        o.push(ind, `const ${prev} = m.${key};`);
        call(
          ind,
          `m.${key} = { case: "${camel(f.name)}", value: decode${st}(r, r.len(end), depth + 1, ${prev} !== undefined && ${prev}.case === "${camel(f.name)}" ? ${prev}.value : new${st}()) };`,
        );
      } else {
        call(ind, `${ref} = decode${st}(r, r.len(end), depth + 1, ${ref} ?? new${st}());`);
      }
      return;
    }
    const assign = (v: string): string =>
      f.label === "oneof" ? `m.${camel(f.oneof!)} = { case: "${camel(f.name)}", value: ${v} };` : `${ref} = ${v};`;
    if (f.kind === "string") call(ind, assign(`r.str(end, ${f.maxLen})`));
    else if (f.kind === "bytes") call(ind, assign(`r.bytes(end, ${f.maxLen})`));
    else scalarRead(ind, f, assign);
  };
  /** Packed repeated scalar: the payload at `pos` (tag consumed). */
  const packed = (ind: number, f: FieldModel): void => {
    o.push(ind, "r.pos = pos;");
    o.push(ind, "const e = r.len(end);");
    o.push(ind, `const a = ${fieldRef(f)};`);
    o.push(ind, "while (r.pos < e) {");
    o.push(ind + 1, `if (a.length >= ${f.maxCount}) throw pb.err(pb.WireErrorCode.BOUND);`);
    o.push(ind + 1, `a.push(r.${READ[f.kind as ScalarK]}(e));`);
    o.push(ind, "}");
    o.push(ind, "pos = r.pos;");
  };

  // In-order pass: fields in number order, each once (a repeated field's elements or a second
  // occurrence are left to the generic loop).
  const ordered = new Out();
  const saved = o.lines;
  for (const f of m.byNumber) {
    const wt = f.label === "repeated" && f.packed ? 2 : WIRE_TYPE[f.kind];
    const tb = shortTagBytes(f, wt);
    if (tb === undefined) break; // 3+-byte tags (field numbers >= 2048): generic loop only
    o.lines = ordered.lines;
    const cond =
      tb.length === 1
        ? `pos < end && buf[pos] === ${hx(tb[0]!)}`
        : `pos + 1 < end && buf[pos] === ${hx(tb[0]!)} && buf[pos + 1] === ${hx(tb[1]!)}`;
    o.push(1, `if (${cond}) { // ${f.name}`);
    o.push(2, `pos += ${tb.length};`);
    if (f.label === "repeated" && f.packed) packed(2, f);
    else value(2, f);
    o.push(1, "}");
  }
  o.lines = saved;

  for (const f of m.byNumber) {
    const wt = WIRE_TYPE[f.kind];
    o.push(3, `case ${f.number}: // ${f.name}`);
    if (f.label === "repeated" && f.packed) {
      o.push(4, "if ((tag & 7) === 2) {");
      packed(5, f);
      o.push(4, `} else if ((tag & 7) === ${wt}) {`);
      value(5, f);
      o.push(4, "} else {");
      o.push(5, "throw pb.wrongWireType(tag);");
      o.push(4, "}");
      o.push(4, "break;");
      continue;
    }
    o.push(4, `if ((tag & 7) !== ${wt}) throw pb.wrongWireType(tag);`);
    value(4, f);
    o.push(4, "break;");
  }
  return [
    `function decode${m.name}(r: pb.Reader, end: number, depth: number, m: ${m.name}): ${m.name} {`,
    "  if (depth > pb.MAX_DEPTH) throw pb.err(pb.WireErrorCode.DEPTH);",
    "  const buf = r.buf;",
    "  let pos = r.pos;",
    "  let b = 0;",
    ...(ordered.lines.some((l) => l.includes("b =")) ? [] : ["  void b;"]),
    ...ordered.lines,
    "  while (pos < end) {",
    "    let tag = buf[pos]!;",
    "    if (tag >= 8 && tag < 0x80) {",
    "      pos++;",
    // Two-byte tags with a nonzero second byte have field numbers 16..2047; anything else
    // (including an overlong encoding of field 0) takes the checked path.
    "    } else if (tag >= 0x80 && pos + 1 < end && (b = buf[pos + 1]!) < 0x80 && b !== 0) {",
    "      tag = (tag & 0x7f) | (b << 7);",
    "      pos += 2;",
    "    } else {",
    "      r.pos = pos;",
    "      tag = r.tag(end);",
    "      pos = r.pos;",
    "    }",
    ...(o.lines.length ? ["    switch (tag >>> 3) {", ...o.lines, "      default:"] : ["    {"]),
    "        r.pos = pos;",
    "        r.skip(tag, end, false);",
    "        pos = r.pos;",
    "    }",
    "  }",
    "  r.pos = pos;",
    "  return m;",
    "}",
  ];
}

// ---------------------------------------------------------------------------------------------
// proto3 JSON mapping (runtime helpers in src/client/json.ts).

/** JSON value of one element (not repeated) held in `v`. */
function jsonOut(f: FieldModel, v: string): string {
  switch (f.kind) {
    case "string":
    case "bool":
      return v;
    case "bytes":
      return `pb.bytesToJson(${v})`;
    case "float":
    case "double":
      return `pb.floatToJson(${v})`;
    case "enum":
      return `pb.enumToJson(${f.enumType!.name}, ${v})`;
    case "message":
      return `toJson${f.messageType!.name}(${v})`;
    default:
      return is64(f.kind) ? `String(${v})` : v;
  }
}

/** Expression converting the JSON value `v` at path `p` into one element of f. */
function jsonIn(f: FieldModel, v: string, p: string): string {
  switch (f.kind) {
    case "string":
      return `pb.jsonString(${v}, ${p}, ${f.maxLen})`;
    case "bytes":
      return `pb.jsonBytes(${v}, ${p}, ${f.maxLen})`;
    case "bool":
      return `pb.jsonBool(${v}, ${p})`;
    case "float":
    case "double":
      return `pb.jsonFloat(${v}, ${p})`;
    case "enum":
      return `pb.jsonEnum(${v}, ${p}, ${f.enumType!.name})`;
    case "message":
      return `fromJson${f.messageType!.name}(${v}, ${p}, opts)`;
    case "uint32":
    case "fixed32":
      return `pb.jsonU32(${v}, ${p})`;
    case "uint64":
    case "fixed64":
      return `pb.jsonU64(${v}, ${p})`;
    default:
      return is64(f.kind) ? `pb.jsonI64(${v}, ${p})` : `pb.jsonI32(${v}, ${p})`;
  }
}

/**
 * The statements that write every field of `m`, in field order (the order of toJson's keys): a
 * oneof by its case, repeated fields always, optional and message fields when set, the rest
 * always. `put(key, f, v)` writes one value held in the expression `v`; `putList(key, f)` a
 * repeated field `m.<key>`. toJson and toJsonText differ only in these two.
 */
function emitJsonFields(
  o: Out,
  m: MessageModel,
  put: (key: string, f: FieldModel, v: string) => string,
  putList: (key: string, f: FieldModel) => string,
): void {
  const done = new Set<string>();
  for (const f of m.fields) {
    const key = camel(f.name);
    if (f.oneof !== undefined) {
      if (done.has(f.oneof)) continue;
      done.add(f.oneof);
      const ov = oneofVar(f.oneof);
      o.push(1, `const ${ov} = m.${camel(f.oneof)};`);
      o.push(1, `if (${ov} !== undefined) {`);
      o.push(2, `switch (${ov}.case) {`);
      for (const g of m.fields.filter((x) => x.oneof === f.oneof)) {
        o.push(3, `case "${camel(g.name)}":`);
        o.push(4, put(camel(g.name), g, `${ov}.value`));
        o.push(4, "break;");
      }
      o.push(2, "}");
      o.push(1, "}");
    } else if (f.label === "repeated") {
      o.push(1, putList(key, f));
    } else if (f.label === "optional" || f.kind === "message") {
      o.push(1, `if (m.${key} !== undefined) ${put(key, f, `m.${key}`)}`);
    } else {
      o.push(1, put(key, f, `m.${key}`));
    }
  }
}

function emitToJson(m: MessageModel): string[] {
  const o = new Out();
  o.push(1, "const o: pb.JsonObject = {};");
  emitJsonFields(
    o,
    m,
    (key, f, v) => `o.${key} = ${jsonOut(f, v)};`,
    (key, f) => `o.${key} = m.${key}.map((x) => ${jsonOut(f, "x")});`,
  );
  o.push(1, "return o;");
  return [`function toJson${m.name}(m: ${m.name}): pb.JsonObject {`, ...o.lines, "}"];
}

/** JSON text of one element held in `v` (what JSON.stringify writes for jsonOut). */
function jsonTextOut(f: FieldModel, v: string): string {
  switch (f.kind) {
    case "string":
      return `pb.stringJsonText(${v})`;
    case "bool":
      return `String(${v})`;
    case "bytes":
      return `\`"\${pb.bytesToJson(${v})}"\``;
    case "float":
    case "double":
      return `pb.floatJsonText(${v})`;
    case "enum":
      return `pb.enumJsonText(${f.enumType!.name}, ${v})`;
    case "message":
      return `toJsonText${f.messageType!.name}(${v})`;
    default:
      return is64(f.kind) ? `\`"\${${v}}"\`` : `String(${v})`;
  }
}

/** The JSON text of toJson (same keys, same order): the hot path of `trace --json`. */
function emitToJsonText(m: MessageModel): string[] {
  const plain = m.fields.every((f) => f.label === "singular" && f.kind !== "message");
  if (plain) {
    // Every field is always written: one template literal, no array.
    const parts = m.fields.map((f) => {
      const v = `m.${camel(f.name)}`;
      // Numbers and bools straight into the template; 64-bit integers as quoted decimals.
      if (f.kind === "bool" || (!is64(f.kind) && !["string", "bytes", "float", "double", "enum"].includes(f.kind))) {
        return `"${camel(f.name)}":\${${v}}`;
      }
      if (is64(f.kind)) return `"${camel(f.name)}":"\${${v}}"`;
      return `"${camel(f.name)}":\${${jsonTextOut(f, v)}}`;
    });
    return [
      `function toJsonText${m.name}(m: ${m.name}, before = "", after = ""): string {`,
      `  return \`{\${before}${parts.join(",")}\${after}}\`;`,
      "}",
    ];
  }
  const o = new Out();
  o.push(1, "const p: string[] = [];");
  emitJsonFields(
    o,
    m,
    (key, f, v) => `p.push(\`"${key}":\${${jsonTextOut(f, v)}}\`);`,
    (key, f) => `p.push(\`"${key}":[\${m.${key}.map((x) => ${jsonTextOut(f, "x")}).join(",")}]\`);`,
  );
  o.push(1, `return \`{\${before}\${p.join(",")}\${after}}\`;`);
  return [`function toJsonText${m.name}(m: ${m.name}, before = "", after = ""): string {`, ...o.lines, "}"];
}

function emitFromJson(m: MessageModel): string[] {
  const full = m.fullName.replace(/^\./, "");
  const o = new Out();
  o.push(1, `const j = pb.jsonObject(json, path, "${full}");`);
  o.push(1, `const m = new${m.name}();`);
  o.push(1, "for (const k of Object.keys(j)) {");
  o.push(2, "const v = j[k];");
  o.push(2, "switch (k) {");
  for (const f of m.fields) {
    const key = camel(f.name);
    o.push(3, `case "${key}":`);
    if (f.name !== key) o.push(3, `case "${f.name}":`);
    o.push(4, "if (v === null) break;");
    const p = `pb.jsonPath(path, "${key}")`;
    if (f.label === "repeated") {
      o.push(4, `m.${key} = pb.jsonArray(v, ${p}, ${f.maxCount}).map((x, i) => ${jsonIn(f, "x", `pb.jsonPath(${p}, i)`)});`);
    } else if (f.oneof !== undefined) {
      o.push(4, `m.${camel(f.oneof)} = { case: "${key}", value: ${jsonIn(f, "v", p)} };`);
    } else {
      o.push(4, `m.${key} = ${jsonIn(f, "v", p)};`);
    }
    o.push(4, "break;");
  }
  o.push(3, "default:");
  o.push(4, `if (!opts.ignoreUnknownFields) throw new pb.JsonError(pb.jsonPath(path, k), "is not a field of ${full}");`);
  o.push(2, "}");
  o.push(1, "}");
  o.push(1, "return m;");
  return [`function fromJson${m.name}(json: unknown, path: string, opts: pb.FromJsonOptions): ${m.name} {`, ...o.lines, "}"];
}

function emitEnum(e: EnumModel): string[] {
  const out = [...docComment(e.comment, ""), `export enum ${e.name} {`];
  for (const v of e.values) {
    out.push(...docComment(v.comment, "  "));
    out.push(`  ${v.name} = ${v.number},`);
  }
  out.push("}");
  return out;
}

export function emitTs(pkg: PackageModel, sources: string[], wireModule: string): string {
  const out: string[] = [];
  out.push(`// Messages and enums of protobuf package ${pkg.packageName}.`);
  out.push(`// Generated by src/codegen from ${sources.join(", ")}. DO NOT EDIT: run \`npm run codegen\`.`);
  out.push(`// 64-bit integers are bigint; bytes are Uint8Array; sizes are bytes.`);
  out.push(`import * as pb from "${wireModule}";`, "");
  for (const e of pkg.enums) out.push(...emitEnum(e), "");
  for (const m of pkg.messages) {
    const full = m.fullName.replace(/^\./, "");
    out.push(...emitInterface(m), "");
    out.push(...emitNew(m), "");
    out.push(...emitSize(m, pkg.packageName), "");
    out.push(...emitWrite(m), "");
    out.push(...emitDecode(m), "");
    out.push(...emitToJson(m), "");
    out.push(...emitToJsonText(m), "");
    out.push(...emitFromJson(m), "");
    out.push(`/** Codec of ${full}: at most ${m.maxSize} bytes encoded. */`);
    out.push(`export const ${m.name}: pb.MessageType<${m.name}> = {`);
    out.push(`  typeName: "${full}",`);
    out.push(`  maxSize: ${m.maxSize},`);
    out.push(
      `  create: (init?: Partial<${m.name}>): ${m.name} => (init === undefined ? new${m.name}() : Object.assign(new${m.name}(), init)),`,
    );
    out.push(`  encode: (m: ${m.name}): Uint8Array => pb.encodeMessage(m, size${m.name}, write${m.name}, "${full}"),`);
    out.push(`  decode: (b: Uint8Array): ${m.name} => pb.decodeMessage(b, decode${m.name}, new${m.name}),`);
    out.push(`  toJson: toJson${m.name},`);
    out.push(`  toJsonText: toJsonText${m.name},`);
    out.push(`  fromJson: (j: unknown, opts: pb.FromJsonOptions = {}): ${m.name} => fromJson${m.name}(j, "", opts),`);
    out.push("};", "");
  }
  return out.join("\n");
}
