// A reader of protobuf text format (.txtpb, as `protoc --decode` prints it) into TS values shaped
// by the contract (docs/CONTRACTS.md), driven by the schema reflection in bench/lib/pbschema.ts.
// It lets the golden test build each message in TS without going through the codec under test.
// Supported: `name: scalar`, `name { ... }` / `name: { ... }`, enum names or numbers,
// "..." and '...' strings with C escapes (octal, \x hex, \n \r \t \" \' \\), numbers including
// inf/nan, `#` comments. Not supported (not used by the golden files): lists `[a, b]`, Any.
import { type FieldInfo, type MessageInfo, defaultMessage, describeMessage, is64 } from "../../bench/lib/pbschema.ts";

type Token = { kind: "ident" | "number" | "string" | "punct"; text: string; bytes?: Uint8Array };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if ("{}:<>;,".includes(c)) {
      out.push({ kind: "punct", text: c });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const bytes: number[] = [];
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] !== "\\") {
          const cp = src.codePointAt(i) ?? 0;
          const ch = String.fromCodePoint(cp);
          bytes.push(...new TextEncoder().encode(ch));
          i += ch.length;
          continue;
        }
        i++;
        const e = src.charAt(i);
        if (/[0-7]/.test(e)) {
          let v = 0,
            n = 0;
          while (n < 3 && /[0-7]/.test(src.charAt(i))) {
            v = v * 8 + Number(src[i]);
            i++;
            n++;
          }
          bytes.push(v & 0xff);
        } else if (e === "x") {
          i++;
          let v = 0,
            n = 0;
          while (n < 2 && /[0-9a-fA-F]/.test(src.charAt(i))) {
            v = v * 16 + parseInt(src.charAt(i), 16);
            i++;
            n++;
          }
          bytes.push(v);
        } else {
          const map: Record<string, number> = { n: 10, r: 13, t: 9, '"': 34, "'": 39, "\\": 92, a: 7, b: 8, f: 12, v: 11, "?": 63 };
          const v = map[e];
          if (v === undefined) throw new Error(`text format: unknown escape \\${e}`);
          bytes.push(v);
          i++;
        }
      }
      if (src[i] !== c) throw new Error("text format: unterminated string");
      i++;
      const prev = out[out.length - 1];
      if (prev?.kind === "string" && prev.bytes) {
        // adjacent literals concatenate
        const joined = new Uint8Array(prev.bytes.length + bytes.length);
        joined.set(prev.bytes);
        joined.set(bytes, prev.bytes.length);
        prev.bytes = joined;
      } else out.push({ kind: "string", text: "", bytes: Uint8Array.from(bytes) });
      continue;
    }
    const m = /^(-?(?:inf(?:inity)?|nan|0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)[fF]?)(?![\w.])/i.exec(src.slice(i));
    if (m?.[1] && (c === "-" || /[0-9.]/.test(c) || /^-?(inf|nan)/i.test(m[1]))) {
      out.push({ kind: "number", text: m[1] });
      i += m[1].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i));
    if (id) {
      out.push({ kind: "ident", text: id[0] });
      i += id[0].length;
      continue;
    }
    throw new Error(`text format: unexpected '${c}' at ${i}`);
  }
  return out;
}

function parseIntText(text: string): bigint {
  const neg = text.startsWith("-");
  const body = neg ? text.slice(1) : text;
  const v = BigInt(body);
  return neg ? -v : v;
}

function scalarValue(f: FieldInfo, tok: Token): unknown {
  switch (f.kind) {
    case "string":
      if (tok.kind !== "string" || !tok.bytes) throw new Error(`${f.protoName}: string expected`);
      return new TextDecoder("utf-8", { fatal: true }).decode(tok.bytes);
    case "bytes":
      if (tok.kind !== "string" || !tok.bytes) throw new Error(`${f.protoName}: bytes expected`);
      return tok.bytes;
    case "bool":
      if (tok.text === "true" || tok.text === "1" || tok.text === "t" || tok.text === "True") return true;
      if (tok.text === "false" || tok.text === "0" || tok.text === "f" || tok.text === "False") return false;
      throw new Error(`${f.protoName}: bool expected, got ${tok.text}`);
    case "enum": {
      if (tok.kind === "ident") {
        const v = f.enumValues?.[tok.text];
        if (v === undefined) throw new Error(`${f.protoName}: unknown enum value ${tok.text}`);
        return v;
      }
      return Number(parseIntText(tok.text));
    }
    case "double":
    case "float": {
      const t = tok.text.replace(/([0-9.])[fF]$/, "$1").toLowerCase(); // "1.5f", not "inf"
      if (/^-?inf(inity)?$/.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
      if (/^-?nan$/.test(t)) return NaN;
      const v = Number(t);
      return f.kind === "float" ? Math.fround(v) : v;
    }
    default:
      if (tok.kind !== "number") throw new Error(`${f.protoName}: integer expected, got ${tok.text}`);
      return is64(f.kind) ? parseIntText(tok.text) : Number(parseIntText(tok.text));
  }
}

/** Parses `src` as a message of type `info` into a contract-shaped TS value. */
export function parseTextFormat(info: MessageInfo, src: string): Record<string, unknown> {
  const toks = tokenize(src);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const next = (): Token => {
    const t = toks[pos++];
    if (!t) throw new Error("text format: unexpected end");
    return t;
  };

  // Iterative over an explicit stack: nesting in the files is shallow, but no recursion is needed.
  const rootMsg = defaultMessage(info);
  const stack: { info: MessageInfo; msg: Record<string, unknown>; close: string | null }[] = [{ info, msg: rootMsg, close: null }];
  for (;;) {
    const top = stack[stack.length - 1];
    if (!top) throw new Error("text format: stack underflow");
    const t = peek();
    if (!t) {
      if (stack.length !== 1) throw new Error("text format: unclosed message");
      return rootMsg;
    }
    if (t.kind === "punct" && (t.text === ";" || t.text === ",")) {
      pos++;
      continue;
    }
    if (t.kind === "punct" && (t.text === "}" || t.text === ">")) {
      if (top.close !== t.text) throw new Error(`text format: unexpected ${t.text}`);
      pos++;
      stack.pop();
      continue;
    }
    const name = next();
    if (name.kind !== "ident") throw new Error(`text format: field name expected, got ${name.text}`);
    const f = top.info.fields.find((x) => x.protoName === name.text);
    if (!f) throw new Error(`text format: ${top.info.fullName} has no field ${name.text}`);
    let t2 = next();
    if (t2.kind === "punct" && t2.text === ":") t2 = next();
    let value: unknown;
    let child: { info: MessageInfo; msg: Record<string, unknown>; close: string | null } | undefined;
    if (f.kind === "message") {
      if (t2.kind !== "punct" || (t2.text !== "{" && t2.text !== "<")) throw new Error(`${f.protoName}: { expected`);
      if (!f.message) throw new Error(`${f.protoName}: unresolved`);
      const sub = describeMessage(f.message);
      child = { info: sub, msg: defaultMessage(sub), close: t2.text === "{" ? "}" : ">" };
      value = child.msg;
    } else value = scalarValue(f, t2);
    if (f.repeated) (top.msg[f.tsName] as unknown[]).push(value);
    else if (f.oneof) top.msg[f.oneof] = { case: f.tsName, value };
    else top.msg[f.tsName] = value;
    if (child) stack.push(child);
  }
}
