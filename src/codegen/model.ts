// Schema model for the code generator: loads .proto files with protobufjs's parser, resolves
// imports from the include directories, validates everything the kernel codec cannot support
// (unbounded fields, recursion, deep nesting, proto2 features, maps, bad IOCTL numbering) and
// computes each message's worst-case encoded size. Errors name file:line and the element.
import { readFileSync, existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import protobuf from "protobufjs";
import { tagValue, varintBytes } from "./wire_bytes.ts";

/** Largest nesting depth (top-level message = 1) the generated decoders accept (CDF_PB_MAX_DEPTH). */
export const MAX_NESTING_DEPTH = 8;
/** Largest MAX_SIZE accepted: every size sum stays below 2^31 so size_t/uint32 arithmetic cannot wrap. */
export const MAX_MESSAGE_SIZE = 0x7fffffff;
/** Largest field number protobuf allows. */
export const MAX_FIELD_NUMBER = 536870911;

const OPTION_PREFIX = "(cdfilter.options.";
const KNOWN_OPTIONS: Record<string, "field" | "file" | "method"> = {
  max_len: "field",
  max_count: "field",
  protocol_version: "file",
  ioctl_device_type: "file",
  ioctl_function: "method",
  ioctl_access: "method",
};

export const ACCESS_VALUES: Record<string, number> = {
  FILE_ANY_ACCESS: 0,
  FILE_READ_ACCESS: 1,
  FILE_WRITE_ACCESS: 2,
  "FILE_READ_ACCESS|FILE_WRITE_ACCESS": 3,
};

export type ScalarKind =
  | "int32"
  | "int64"
  | "uint32"
  | "uint64"
  | "sint32"
  | "sint64"
  | "fixed32"
  | "fixed64"
  | "sfixed32"
  | "sfixed64"
  | "bool"
  | "float"
  | "double";
export type FieldKind = ScalarKind | "string" | "bytes" | "enum" | "message";

/** Wire type of one value of each kind. */
export const WIRE_TYPE: Record<FieldKind, 0 | 1 | 2 | 5> = {
  int32: 0,
  int64: 0,
  uint32: 0,
  uint64: 0,
  sint32: 0,
  sint64: 0,
  bool: 0,
  enum: 0,
  fixed32: 5,
  sfixed32: 5,
  float: 5,
  fixed64: 1,
  sfixed64: 1,
  double: 1,
  string: 2,
  bytes: 2,
  message: 2,
};

/** Worst-case encoded size of one scalar value (without tag). */
const SCALAR_MAX: Record<ScalarKind | "enum", number> = {
  int32: 10,
  enum: 10,
  int64: 10,
  uint32: 5,
  uint64: 10,
  sint32: 5,
  sint64: 10,
  bool: 1,
  fixed32: 4,
  sfixed32: 4,
  float: 4,
  fixed64: 8,
  sfixed64: 8,
  double: 8,
};

export interface EnumModel {
  /** Flattened name (nested types joined by "_"). */
  name: string;
  fullName: string;
  values: { name: string; number: number; comment?: string }[];
  comment?: string;
  file: string;
  line: number;
}

export type FieldLabel = "singular" | "optional" | "repeated" | "oneof";

export interface FieldModel {
  name: string;
  number: number;
  kind: FieldKind;
  label: FieldLabel;
  /** Oneof group name when label is "oneof". */
  oneof?: string;
  maxLen: number;
  maxCount: number;
  enumType?: EnumModel;
  messageType?: MessageModel;
  /** Repeated scalar/enum fields are packed (proto3 default). */
  packed: boolean;
  /** Worst-case bytes this field contributes, tag included. */
  maxSize: number;
  /** The .proto comment of the declaration, if any. */
  comment?: string;
  file: string;
  line: number;
}

export interface OneofModel {
  name: string;
  fields: FieldModel[];
}

export interface MessageModel {
  /** Flattened name (nested types joined by "_"). */
  name: string;
  fullName: string;
  /** Declaration order (struct layout). */
  fields: FieldModel[];
  /** Field-number order (encoding order). */
  byNumber: FieldModel[];
  oneofs: OneofModel[];
  maxSize: number;
  /** 1 + depth of the deepest sub-message. */
  depth: number;
  comment?: string;
  file: string;
  line: number;
}

export interface RpcModel {
  name: string;
  service: string;
  function: number;
  access: number;
  accessName: string;
  request: MessageModel;
  reply: MessageModel;
  file: string;
  line: number;
}

export interface PackageModel {
  packageName: string;
  files: string[];
  /** Dependency order: every message after the messages it contains. */
  messages: MessageModel[];
  enums: EnumModel[];
  rpcs: RpcModel[];
  services: string[];
  protocolVersion?: number;
  deviceType?: number;
}

export class SchemaError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "SchemaError";
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** .proto files to generate, as import paths relative to an include directory. */
  files: string[];
  /** Include directories searched in order for the files and their imports. */
  includeDirs: string[];
  /** Paths in messages are shown relative to this directory (default: cwd). */
  displayRoot?: string;
}

interface SourceFile {
  importPath: string;
  displayPath: string;
  text: string;
  /** `text` with comments blanked (same offsets and lines): what line searches look at. */
  code: string;
  /** Line of each declaration (message, enum, service, rpc) by full name without the leading dot. */
  decls: Map<string, number>;
}

/**
 * `text` with every comment (`//` to the end of the line, `/* ... *\/`) replaced by spaces,
 * newlines kept, so offsets and line numbers stay those of the file. String literals are skipped
 * whole: a `//` inside a string is not a comment.
 */
export function blankComments(text: string): string {
  const out = text.split("");
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else {
      i++;
    }
  }
  return out.join("");
}

/**
 * Declaration lines by full name ("pkg.Outer.Inner", "pkg.Service.Rpc"), from comment-free
 * text: a brace-nesting walk, so a nested `message B` and a top-level `message B` get their own
 * lines, and a comment mentioning "message B" is never taken for it.
 */
function declarationLines(code: string): Map<string, number> {
  const decls = new Map<string, number>();
  let pkg = "";
  // Each open brace: the name it scopes (message, enum, service) or null (oneof, rpc body, option value).
  const stack: (string | null)[] = [];
  let pending: string | null | undefined;
  const re =
    /\bpackage\s+([A-Za-z_][\w.]*)\s*;|\b(message|enum|service|rpc|oneof)\s+([A-Za-z_]\w*)|[{};]|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g;
  for (const m of code.matchAll(re)) {
    const tok = m[0];
    if (m[1] !== undefined) {
      pkg = m[1];
    } else if (m[2] !== undefined && m[3] !== undefined) {
      if (m[2] === "oneof") {
        pending = null;
        continue;
      }
      const scope = [pkg, ...stack.filter((x): x is string => x !== null), m[3]].filter((x) => x !== "").join(".");
      if (!decls.has(scope)) decls.set(scope, code.slice(0, m.index).split("\n").length);
      pending = m[2] === "rpc" ? null : m[3];
    } else if (tok === "{") {
      stack.push(pending ?? null);
      pending = undefined;
    } else if (tok === "}") {
      stack.pop();
    } else if (tok === ";") {
      pending = undefined;
    }
  }
  return decls;
}

/** Option files only declare `extend google.protobuf.*Options`; they carry no codec types. */
function isOptionFile(text: string): boolean {
  return /\bextend\s+google\.protobuf\.\w+Options\b/.test(text) && !/^\s*(message|enum|service)\s/m.test(text);
}

function lineOf(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  if (!m) return 1;
  return text.slice(0, m.index).split("\n").length;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Loads, validates and sizes one package. Throws SchemaError listing every problem found. */
export function loadPackage(opts: LoadOptions): PackageModel {
  const problems: string[] = [];
  const displayRoot = opts.displayRoot ?? process.cwd();
  const root = new protobuf.Root();
  const loaded = new Map<string, SourceFile>();
  const byFilename = new Map<string, SourceFile>();
  const knownOptionNames = new Set<string>();

  const find = (importPath: string): string | undefined => {
    for (const dir of opts.includeDirs) {
      const p = resolve(dir, importPath);
      if (existsSync(p)) return p;
    }
    return undefined;
  };

  const load = (importPath: string, from: string): void => {
    if (loaded.has(importPath)) return;
    if (importPath.startsWith("google/protobuf/")) {
      if (importPath !== "google/protobuf/descriptor.proto") {
        problems.push(`${from}: import "${importPath}": well-known types are not supported (no Any/Timestamp/wrappers in a kernel codec)`);
      }
      return;
    }
    const abs = find(importPath);
    if (!abs) {
      problems.push(
        `${from}: cannot find import "${importPath}" in ${opts.includeDirs.map((d) => relative(displayRoot, d) || ".").join(", ")}`,
      );
      return;
    }
    const text = readFileSync(abs, "utf8");
    const code = blankComments(text);
    const src: SourceFile = { importPath, displayPath: relative(displayRoot, abs) || abs, text, code, decls: declarationLines(code) };
    loaded.set(importPath, src);
    byFilename.set(importPath, src);
    if (!/^\s*syntax\s*=\s*"proto3"\s*;/m.test(text)) {
      problems.push(`${src.displayPath}:${lineOf(text, /^\s*syntax\b/m)}: only syntax = "proto3" is supported`);
      return;
    }
    if (isOptionFile(text)) {
      for (const m of text.matchAll(/^\s*(?:string|uint32|int32|uint64|bool)\s+(\w+)\s*=\s*\d+\s*;/gm)) {
        if (m[1] !== undefined) knownOptionNames.add(m[1]);
      }
      return;
    }
    let parsed: protobuf.IParserResult;
    try {
      parsed = protobuf.parse(text, root, { keepCase: true, alternateCommentMode: true });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const line = /\(line (\d+)\)/.exec(msg)?.[1] ?? "1";
      problems.push(`${src.displayPath}:${line}: parse error: ${msg}`);
      return;
    }
    // Files parsed into one Root; tag each new element with its file for error messages.
    tagFilenames(root, importPath);
    for (const imp of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      load(imp, src.displayPath);
    }
  };

  for (const f of opts.files) load(f, "(command line)");
  if (problems.length) throw new SchemaError(problems);

  try {
    root.resolveAll();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new SchemaError([`${opts.files.join(", ")}: ${msg}`]);
  }

  const targetFiles = new Set(opts.files);
  const packages = new Set<string>();
  const enums: EnumModel[] = [];
  const enumByFull = new Map<string, EnumModel>();
  const messages = new Map<string, MessageModel>();
  const typesInOrder: protobuf.Type[] = [];

  const srcOf = (obj: protobuf.ReflectionObject): SourceFile => {
    const s = byFilename.get(obj.filename ?? "");
    if (!s) throw new Error(`internal: no source for ${obj.fullName}`);
    return s;
  };
  const where = (obj: protobuf.ReflectionObject, pattern: RegExp): { file: string; line: number; at: string } => {
    const s = srcOf(obj);
    const line = s.decls.get(obj.fullName.replace(/^\./, "")) ?? lineOf(s.code, pattern);
    return { file: s.displayPath, line, at: `${s.displayPath}:${line}` };
  };
  // Fields are searched from their message's declaration line on, so equal names in two
  // messages get their own lines.
  const whereAfter = (obj: protobuf.ReflectionObject, fromLine: number, pattern: RegExp): { file: string; line: number; at: string } => {
    const s = srcOf(obj);
    const lines = s.code.split("\n");
    const rest = lines.slice(fromLine - 1).join("\n");
    const line = fromLine - 1 + lineOf(rest, pattern);
    return { file: s.displayPath, line, at: `${s.displayPath}:${line}` };
  };
  const flatName = (obj: protobuf.ReflectionObject, pkg: string): string =>
    obj.fullName
      .replace(/^\./, "")
      .slice(pkg.length ? pkg.length + 1 : 0)
      .replace(/\./g, "_");

  const checkOptions = (
    obj: protobuf.ReflectionObject,
    at: string,
    what: string,
    scope: "field" | "file" | "method",
    allowed: string[],
  ): void => {
    for (const key of Object.keys(obj.options ?? {})) {
      if (key.startsWith("(")) {
        const name = key.startsWith(OPTION_PREFIX) ? key.slice(OPTION_PREFIX.length, -1) : "";
        if (!name || !knownOptionNames.has(name) || KNOWN_OPTIONS[name] !== scope) {
          problems.push(`${at}: ${what}: unknown or misplaced option ${key}`);
        }
      } else if (!allowed.includes(key)) {
        problems.push(`${at}: ${what}: option "${key}" is not supported`);
      }
    }
  };

  // Walk namespaces: collect packages, enums, types, services from the target files.
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        if (targetFiles.has(obj.filename ?? "")) typesInOrder.push(obj);
        walk(obj);
      } else if (obj instanceof protobuf.Enum) {
        if (!targetFiles.has(obj.filename ?? "")) continue;
        enumsToModel.push(obj);
      } else if (obj instanceof protobuf.Service) {
        if (targetFiles.has(obj.filename ?? "")) servicesToModel.push(obj);
      } else if (obj instanceof protobuf.Namespace) {
        walk(obj);
      }
    }
  };
  const enumsToModel: protobuf.Enum[] = [];
  const servicesToModel: protobuf.Service[] = [];
  walk(root);

  // The package is the namespace holding the target files' declarations.
  const pkgOf = (obj: protobuf.ReflectionObject): string => {
    let p: protobuf.NamespaceBase | null = obj.parent;
    while (p && p instanceof protobuf.Type) p = p.parent;
    return p ? p.fullName.replace(/^\./, "") : "";
  };
  for (const obj of [...typesInOrder, ...enumsToModel, ...servicesToModel]) packages.add(pkgOf(obj));
  if (packages.size > 1) {
    throw new SchemaError([`${opts.files.join(", ")}: files of one target must share a package, found ${[...packages].join(", ")}`]);
  }
  const packageName = [...packages][0] ?? "";
  if (!packageName) {
    throw new SchemaError([`${opts.files.join(", ")}: a package declaration is required (it names the generated files)`]);
  }

  for (const e of enumsToModel) {
    const w = where(e, new RegExp(`\\benum\\s+${escapeRe(e.name)}\\b`));
    const values = Object.entries(e.values).map(([name, number]) => {
      const c = e.comments[name];
      return c ? { name, number, comment: c } : { name, number };
    });
    if (values[0]?.number !== 0) problems.push(`${w.at}: enum ${e.name}: the first value must be 0 (proto3)`);
    checkOptions(e, w.at, `enum ${e.name}`, "field", []);
    const model: EnumModel = {
      name: flatName(e, packageName),
      fullName: e.fullName,
      values,
      file: w.file,
      line: w.line,
      ...(e.comment ? { comment: e.comment } : {}),
    };
    enums.push(model);
    enumByFull.set(e.fullName, model);
  }

  // Build message models (fields first, sizes later in dependency order).
  for (const t of typesInOrder) {
    const w = where(t, new RegExp(`\\bmessage\\s+${escapeRe(t.name)}\\b`));
    if (isGroup(t)) {
      problems.push(`${w.at}: group ${t.name}: groups are not supported`);
      continue;
    }
    if (t.extensions?.length) problems.push(`${w.at}: message ${t.name}: extension ranges are not supported`);
    if (t.fullName === ".google.protobuf.Any") problems.push(`${w.at}: google.protobuf.Any is not supported`);
    checkOptions(t, w.at, `message ${t.name}`, "field", []);
    messages.set(t.fullName, {
      name: flatName(t, packageName),
      fullName: t.fullName,
      fields: [],
      byNumber: [],
      oneofs: [],
      maxSize: 0,
      depth: 0,
      file: w.file,
      line: w.line,
      ...(t.comment ? { comment: t.comment } : {}),
    });
  }

  const protoTypes = new Map(typesInOrder.map((t) => [t.fullName, t] as const));
  for (const t of typesInOrder) {
    const msg = messages.get(t.fullName);
    if (!msg) continue;
    const oneofs = new Map<string, OneofModel>();
    for (const f of t.fieldsArray) {
      const fw = whereAfter(f, msg.line, new RegExp(`\\b${escapeRe(f.name)}\\s*=\\s*${f.id}\\b`));
      const what = `${t.name}.${f.name}`;
      const bad = (why: string): void => {
        problems.push(`${fw.at}: field ${what}: ${why}`);
      };
      if (f instanceof protobuf.MapField) {
        bad("map fields are not supported");
        continue;
      }
      if (f.rule === "required") {
        bad("proto2 required is not supported");
        continue;
      }
      const opts2 = f.options ?? {};
      if ("default" in opts2) {
        bad("proto2 default values are not supported");
        continue;
      }
      if (f.id < 1 || f.id > MAX_FIELD_NUMBER) {
        bad(`field number ${f.id} outside 1..${MAX_FIELD_NUMBER}`);
        continue;
      }
      if (f.id >= 19000 && f.id <= 19999) {
        bad(`field number ${f.id} is reserved by protobuf (19000-19999)`);
        continue;
      }
      checkOptions(f, fw.at, `field ${what}`, "field", ["proto3_optional", "packed", "deprecated"]);
      if (opts2.packed === false) {
        bad("[packed = false] is not supported (proto3 packs repeated scalars)");
        continue;
      }

      let kind: FieldKind;
      let enumType: EnumModel | undefined;
      let messageType: MessageModel | undefined;
      const rt = f.resolvedType;
      if (rt instanceof protobuf.Type) {
        if (isGroup(rt)) {
          bad("groups are not supported");
          continue;
        }
        if (rt.fullName.startsWith(".google.protobuf.")) {
          bad(`${rt.fullName.slice(1)} is not supported`);
          continue;
        }
        const sub = messages.get(rt.fullName);
        if (!sub) {
          bad(`message type ${rt.fullName.slice(1)} is not part of this package's target files`);
          continue;
        }
        kind = "message";
        messageType = sub;
      } else if (rt instanceof protobuf.Enum) {
        const e = enumByFull.get(rt.fullName);
        if (!e) {
          bad(`enum type ${rt.fullName.slice(1)} is not part of this package's target files`);
          continue;
        }
        kind = "enum";
        enumType = e;
      } else if (f.type in WIRE_TYPE && f.type !== "enum" && f.type !== "message") {
        kind = f.type as FieldKind;
      } else {
        bad(`type ${f.type} is not supported`);
        continue;
      }

      const maxLenOpt = opts2[`${OPTION_PREFIX}max_len)`] as unknown;
      const maxCountOpt = opts2[`${OPTION_PREFIX}max_count)`] as unknown;
      const isLen = kind === "string" || kind === "bytes";
      const repeated = f.repeated;
      let maxLen = 0;
      let maxCount = 0;
      if (isLen) {
        if (typeof maxLenOpt !== "number") {
          bad(`unbounded ${kind}: add [(cdfilter.options.max_len) = N]`);
          continue;
        }
        if (!Number.isInteger(maxLenOpt) || maxLenOpt < 1 || maxLenOpt > 0x7fffffff) {
          bad(`max_len ${maxLenOpt} must be 1..2147483647`);
          continue;
        }
        maxLen = maxLenOpt;
      } else if (maxLenOpt !== undefined) {
        bad(`max_len applies to string and bytes fields only`);
        continue;
      }
      if (repeated) {
        if (typeof maxCountOpt !== "number") {
          bad(`unbounded repeated field: add [(cdfilter.options.max_count) = N]`);
          continue;
        }
        if (!Number.isInteger(maxCountOpt) || maxCountOpt < 1 || maxCountOpt > 0xffffff) {
          bad(`max_count ${maxCountOpt} must be 1..16777215`);
          continue;
        }
        maxCount = maxCountOpt;
      } else if (maxCountOpt !== undefined) {
        bad(`max_count applies to repeated fields only`);
        continue;
      }

      let label: FieldLabel = "singular";
      let oneofName: string | undefined;
      if (repeated) label = "repeated";
      else if (opts2.proto3_optional === true) label = "optional";
      else if (f.partOf) {
        label = "oneof";
        oneofName = f.partOf.name;
      }
      const field: FieldModel = {
        name: f.name,
        number: f.id,
        kind,
        label,
        maxLen,
        maxCount,
        packed: repeated && kind !== "string" && kind !== "bytes" && kind !== "message",
        maxSize: 0,
        file: fw.file,
        line: fw.line,
        ...(oneofName !== undefined ? { oneof: oneofName } : {}),
        ...(f.comment ? { comment: f.comment } : {}),
        ...(enumType ? { enumType } : {}),
        ...(messageType ? { messageType } : {}),
      };
      msg.fields.push(field);
      if (oneofName !== undefined) {
        let o = oneofs.get(oneofName);
        if (!o) {
          o = { name: oneofName, fields: [] };
          oneofs.set(oneofName, o);
          msg.oneofs.push(o);
        }
        o.fields.push(field);
      }
    }
    msg.byNumber = [...msg.fields].sort((a, b) => a.number - b.number);
    checkCNames(msg, problems);
  }
  void protoTypes;

  // Recursion, depth and sizes, in dependency order (depth-first, cycle detection).
  const state = new Map<MessageModel, "visiting" | "done">();
  const ordered: MessageModel[] = [];
  const visit = (m: MessageModel, path: MessageModel[]): boolean => {
    const s = state.get(m);
    if (s === "done") return true;
    if (s === "visiting") {
      const cycle = [...path.slice(path.indexOf(m)), m].map((x) => x.name).join(" -> ");
      problems.push(`${m.file}:${m.line}: message ${m.name}: recursive message graph (${cycle}) cannot be bounded`);
      return false;
    }
    state.set(m, "visiting");
    let ok = true;
    let depth = 1;
    for (const f of m.fields) {
      if (f.messageType) {
        if (!visit(f.messageType, [...path, m])) {
          ok = false;
          continue;
        }
        depth = Math.max(depth, 1 + f.messageType.depth);
      }
    }
    state.set(m, "done");
    if (!ok) return false;
    m.depth = depth;
    let size = 0;
    for (const f of m.fields) {
      f.maxSize = fieldMaxSize(f);
    }
    // A oneof contributes only its largest member.
    const seenOneof = new Set<string>();
    for (const f of m.fields) {
      if (f.oneof === undefined) size += f.maxSize;
      else if (!seenOneof.has(f.oneof)) {
        seenOneof.add(f.oneof);
        size += Math.max(...m.fields.filter((g) => g.oneof === f.oneof).map((g) => g.maxSize));
      }
    }
    m.maxSize = size;
    if (depth > MAX_NESTING_DEPTH) {
      problems.push(`${m.file}:${m.line}: message ${m.name}: nesting depth ${depth} exceeds ${MAX_NESTING_DEPTH}`);
    }
    if (size > MAX_MESSAGE_SIZE) {
      problems.push(`${m.file}:${m.line}: message ${m.name}: worst-case size ${size} bytes exceeds ${MAX_MESSAGE_SIZE}`);
    }
    ordered.push(m);
    return true;
  };
  for (const m of messages.values()) visit(m, []);

  // Services: every rpc is an IOCTL with a function code and an access.
  const rpcs: RpcModel[] = [];
  const services: string[] = [];
  let protocolVersion: number | undefined;
  let deviceType: number | undefined;
  const pkgNs = root.lookup(packageName);
  const fileOpts = (pkgNs?.options ?? {}) as Record<string, unknown>;
  if (pkgNs) {
    const anyTarget = opts.files.map((f) => byFilename.get(f)).find((s) => s !== undefined);
    const at = anyTarget ? anyTarget.displayPath : packageName;
    for (const key of Object.keys(fileOpts)) {
      const name = key.startsWith(OPTION_PREFIX) ? key.slice(OPTION_PREFIX.length, -1) : "";
      if (key.startsWith("(") && (!knownOptionNames.has(name) || KNOWN_OPTIONS[name] !== "file")) {
        problems.push(`${at}: package ${packageName}: unknown or misplaced option ${key}`);
      }
    }
    const pv = fileOpts[`${OPTION_PREFIX}protocol_version)`];
    const dt = fileOpts[`${OPTION_PREFIX}ioctl_device_type)`];
    if (pv !== undefined) {
      if (typeof pv !== "number" || !Number.isInteger(pv) || pv < 0 || pv > 0xffffffff)
        problems.push(`${at}: protocol_version ${String(pv)} must be a uint32`);
      else protocolVersion = pv;
    }
    if (dt !== undefined) {
      const line = anyTarget ? lineOf(findText(byFilename, opts.files, /ioctl_device_type\)\s*=/), /ioctl_device_type\)\s*=/) : 1;
      const file = findFile(byFilename, opts.files, /ioctl_device_type\)\s*=/) ?? at;
      if (typeof dt !== "number" || !Number.isInteger(dt) || dt < 0x8000 || dt > 0xffff) {
        problems.push(
          `${file}:${line}: ioctl_device_type ${typeof dt === "number" ? "0x" + dt.toString(16) : String(dt)} outside the vendor range 0x8000-0xFFFF`,
        );
      } else deviceType = dt;
    }
  }
  const seenFunctions = new Map<number, string>();
  const seenRpcNames = new Set<string>();
  for (const svc of servicesToModel) {
    services.push(svc.name);
    for (const m of svc.methodsArray) {
      const w = where(m, new RegExp(`\\brpc\\s+${escapeRe(m.name)}\\b`));
      const what = `rpc ${svc.name}.${m.name}`;
      checkOptions(m, w.at, what, "method", []);
      if (m.requestStream || m.responseStream) {
        problems.push(`${w.at}: ${what}: streaming is not supported`);
        continue;
      }
      const o = (m.options ?? {}) as Record<string, unknown>;
      const fn = o[`${OPTION_PREFIX}ioctl_function)`];
      const acc = o[`${OPTION_PREFIX}ioctl_access)`];
      if (fn === undefined) {
        problems.push(`${w.at}: ${what}: missing option (cdfilter.options.ioctl_function)`);
        continue;
      }
      if (acc === undefined) {
        problems.push(`${w.at}: ${what}: missing option (cdfilter.options.ioctl_access)`);
        continue;
      }
      if (typeof fn !== "number" || !Number.isInteger(fn) || fn < 0x800 || fn > 0xfff) {
        problems.push(
          `${w.at}: ${what}: ioctl_function ${typeof fn === "number" ? "0x" + fn.toString(16) : String(fn)} outside the vendor range 0x800-0xFFF`,
        );
        continue;
      }
      if (typeof acc !== "string" || !(acc in ACCESS_VALUES)) {
        problems.push(`${w.at}: ${what}: ioctl_access "${String(acc)}" must be one of ${Object.keys(ACCESS_VALUES).join(", ")}`);
        continue;
      }
      const prev = seenFunctions.get(fn);
      if (prev !== undefined) {
        problems.push(`${w.at}: ${what}: duplicate ioctl_function 0x${fn.toString(16)} (also ${prev})`);
        continue;
      }
      seenFunctions.set(fn, what);
      if (seenRpcNames.has(m.name)) {
        problems.push(`${w.at}: ${what}: duplicate rpc name across services`);
        continue;
      }
      seenRpcNames.add(m.name);
      const req = messages.get(m.resolvedRequestType?.fullName ?? "");
      const rep = messages.get(m.resolvedResponseType?.fullName ?? "");
      if (!req || !rep) {
        problems.push(`${w.at}: ${what}: request and reply must be messages of this package`);
        continue;
      }
      if (deviceType === undefined && !problems.some((p) => p.includes("ioctl_device_type"))) {
        problems.push(`${w.at}: ${what}: the package needs option (cdfilter.options.ioctl_device_type)`);
      }
      rpcs.push({
        name: m.name,
        service: svc.name,
        function: fn,
        access: ACCESS_VALUES[acc] ?? 0,
        accessName: acc,
        request: req,
        reply: rep,
        file: w.file,
        line: w.line,
      });
    }
  }

  checkPackageNames(
    [...messages.values()],
    enums,
    rpcs,
    [...loaded.values()].map((f) => f.displayPath),
    problems,
  );

  if (problems.length) throw new SchemaError(problems);
  return {
    packageName,
    files: opts.files,
    messages: ordered,
    enums,
    rpcs,
    services,
    ...(protocolVersion !== undefined ? { protocolVersion } : {}),
    ...(deviceType !== undefined ? { deviceType } : {}),
  };
}

/** protobufjs marks proto2 group types with `group: true` (not in its typings). */
function isGroup(t: protobuf.Type): boolean {
  return (t as unknown as { group?: boolean }).group === true;
}

function findFile(by: Map<string, SourceFile>, files: string[], re: RegExp): string | undefined {
  for (const f of files) {
    const s = by.get(f);
    if (s && re.test(s.text)) return s.displayPath;
  }
  return undefined;
}

function findText(by: Map<string, SourceFile>, files: string[], re: RegExp): string {
  for (const f of files) {
    const s = by.get(f);
    if (s && re.test(s.text)) return s.text;
  }
  return "";
}

/** protobufjs leaves `filename` null when parsing from text; record it ourselves. */
function tagFilenames(ns: protobuf.NamespaceBase, filename: string): void {
  for (const obj of ns.nestedArray) {
    if (obj.filename === null || obj.filename === undefined) obj.filename = filename;
    if (obj instanceof protobuf.Type) {
      for (const f of obj.fieldsArray) if (!f.filename) f.filename = filename;
      for (const o of obj.oneofsArray) if (!o.filename) o.filename = filename;
    }
    if (obj instanceof protobuf.Service) {
      for (const m of obj.methodsArray) if (!m.filename) m.filename = filename;
    }
    if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) tagFilenames(obj, filename);
  }
}

/** Bytes of the varint encoding of v. */
export function varintSize(v: number): number {
  return varintBytes(v).length;
}

/** Worst-case bytes of one element (without tag) of f. */
export function elementMaxSize(f: FieldModel): number {
  if (f.kind === "string" || f.kind === "bytes") return varintSize(f.maxLen) + f.maxLen;
  if (f.kind === "message") {
    const m = f.messageType!.maxSize;
    return varintSize(m) + m;
  }
  return SCALAR_MAX[f.kind];
}

/** Worst-case value bytes of a packed scalar element. */
export function scalarMaxSize(kind: FieldKind): number {
  return SCALAR_MAX[kind as ScalarKind | "enum"];
}

function fieldMaxSize(f: FieldModel): number {
  if (f.label === "repeated") {
    if (f.packed) {
      const payload = f.maxCount * SCALAR_MAX[f.kind as ScalarKind | "enum"];
      return varintSize(tagValue(f, 2)) + varintSize(payload) + payload;
    }
    return f.maxCount * (varintSize(tagValue(f, 2)) + elementMaxSize(f));
  }
  return varintSize(tagValue(f, WIRE_TYPE[f.kind])) + elementMaxSize(f);
}

const C_KEYWORDS = new Set([
  "auto",
  "break",
  "case",
  "char",
  "const",
  "continue",
  "default",
  "do",
  "double",
  "else",
  "enum",
  "extern",
  "float",
  "for",
  "goto",
  "if",
  "inline",
  "int",
  "long",
  "register",
  "restrict",
  "return",
  "short",
  "signed",
  "sizeof",
  "static",
  "struct",
  "switch",
  "typedef",
  "union",
  "unsigned",
  "void",
  "volatile",
  "while",
  "_Alignas",
  "_Alignof",
  "_Atomic",
  "_Bool",
  "_Complex",
  "_Generic",
  "_Imaginary",
  "_Noreturn",
  "_Static_assert",
  "_Thread_local",
  "bool",
  "true",
  "false",
  "NULL",
]);

/** C member name of a proto field or oneof (keywords get a trailing underscore). */
export function cName(name: string): string {
  return C_KEYWORDS.has(name) ? `${name}_` : name;
}

/** lowerCamelCase of a snake_case name. */
export function camel(name: string): string {
  return name.replace(/_+([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function checkCNames(msg: MessageModel, problems: string[]): void {
  const seen = new Map<string, string>();
  const seenTs = new Map<string, string>();
  const add = (map: Map<string, string>, name: string, owner: FieldModel | OneofModel, lang: string): void => {
    const prev = map.get(name);
    const ownerName = owner.name;
    if (prev !== undefined && prev !== ownerName) {
      const f = "number" in owner ? owner : owner.fields[0];
      problems.push(
        `${f?.file ?? msg.file}:${f?.line ?? msg.line}: message ${msg.name}: ${lang} member "${name}" of ${ownerName} collides with ${prev}`,
      );
    }
    map.set(name, ownerName);
  };
  for (const f of msg.fields) {
    if (f.oneof !== undefined) continue;
    const n = cName(f.name);
    add(seen, n, f, "C");
    add(seenTs, camel(f.name), f, "TypeScript");
    if (f.label === "repeated") add(seen, `${n}_count`, f, "C");
    if (f.label === "optional" || f.kind === "message") add(seen, `has_${f.name}`, f, "C");
  }
  for (const o of msg.oneofs) {
    add(seen, cName(o.name), o, "C");
    add(seen, `which_${o.name}`, o, "C");
    add(seenTs, camel(o.name), o, "TypeScript");
  }
}

/** GetInfo -> GET_INFO (the same rule as ioctl_emitter.ts's upperSnake, which names the macros). */
function rpcUpperSnake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toUpperCase();
}

/**
 * Package-scope names of the generated code: every C identifier is `<prefix>_<suffix>` (types,
 * functions, size and field macros) or `<PREFIX>_<SUFFIX>` (enum constants, IOCTL macros), and
 * the TypeScript module declares each type and its helpers. protoc checks names per scope only,
 * so nested types flattened with "_" (`A.B` and a top-level `A_B`), enum values of enums in
 * different messages (both `CDF_X`), or macros of one message and a field of another can be
 * equal in C. Each clash is reported at the later declaration, naming the earlier one.
 */
function checkPackageNames(messages: MessageModel[], enums: EnumModel[], rpcs: RpcModel[], fileOrder: string[], problems: string[]): void {
  interface Decl {
    space: string;
    name: string;
    what: string;
    file: string;
    line: number;
  }
  const decls: Decl[] = [];
  const add = (space: string, name: string, what: string, file: string, line: number) => decls.push({ space, name, what, file, line });
  // Names of the hand-written runtime and of the fixed generated declarations.
  const RESERVED: Decl[] = [
    ...["codec_roundtrip", "codec_max_size", "codec_type_count", "codec_type_name", "ioctl_desc", "ioctl_table", "ioctl_lookup"].map(
      (name) => ({ space: "C <prefix>_", name, what: "a declaration of the generated runtime", file: "", line: 0 }),
    ),
    ...[
      "PROTOCOL_VERSION",
      "IOCTL_DEVICE_TYPE",
      "IOCTL_METHOD_BUFFERED",
      "IOCTL_FILE_ANY_ACCESS",
      "IOCTL_FILE_READ_ACCESS",
      "IOCTL_FILE_WRITE_ACCESS",
      "IOCTL_COUNT",
      "PB_SCHEMA_DEPTH",
    ].map((name) => ({ space: "C <PREFIX>_", name, what: "a macro of the generated headers", file: "", line: 0 })),
    { space: "TypeScript", name: "pb", what: "the wire runtime import", file: "", line: 0 },
  ];
  for (const m of messages) {
    const what = `message ${m.fullName.replace(/^\./, "")}`;
    for (const suffix of ["", "_MAX_SIZE", "_init", "_size", "_encode", "_decode", "_size_", "_write_", "_decode_"])
      add("C <prefix>_", m.name + suffix, what, m.file, m.line);
    for (const f of m.fields) {
      const fw = `field ${m.fullName.replace(/^\./, "")}.${f.name}`;
      add("C <prefix>_", `${m.name}_${f.name}_FIELD`, fw, f.file, f.line);
      if (f.maxLen) add("C <prefix>_", `${m.name}_${f.name}_MAX_LEN`, fw, f.file, f.line);
      if (f.maxCount) add("C <prefix>_", `${m.name}_${f.name}_MAX_COUNT`, fw, f.file, f.line);
    }
    for (const ts of [m.name, `new${m.name}`, `size${m.name}`, `write${m.name}`, `decode${m.name}`])
      add("TypeScript", ts, what, m.file, m.line);
  }
  for (const e of enums) {
    const what = `enum ${e.fullName.replace(/^\./, "")}`;
    add("C <prefix>_", e.name, what, e.file, e.line);
    add("TypeScript", e.name, what, e.file, e.line);
    for (const v of e.values) add("C <PREFIX>_", v.name, `value ${v.name} of ${what}`, e.file, e.line);
  }
  for (const r of rpcs) {
    add("C <PREFIX>_", `IOCTL_${rpcUpperSnake(r.name)}`, `rpc ${r.service}.${r.name}`, r.file, r.line);
    add("TypeScript ControlIoctls key", r.name.charAt(0).toLowerCase() + r.name.slice(1), `rpc ${r.service}.${r.name}`, r.file, r.line);
  }
  const order = (d: Decl) => [fileOrder.indexOf(d.file), d.line] as const;
  decls.sort((a, b) => {
    const [fa, la] = order(a);
    const [fb, lb] = order(b);
    return fa - fb || la - lb;
  });
  const first = new Map<string, Decl>(RESERVED.map((d) => [`${d.space}\0${d.name}`, d]));
  const reported = new Set<string>();
  for (const d of decls) {
    const key = `${d.space}\0${d.name}`;
    const prev = first.get(key);
    if (!prev) {
      first.set(key, d);
      continue;
    }
    if (prev.what === d.what) continue; // one declaration's own names (e.g. a message's TS name and its interface)
    const once = `${d.file}:${d.line}\0${d.what}\0${prev.what}`;
    if (reported.has(once)) continue;
    reported.add(once);
    const shown = d.space === "C <prefix>_" ? `<prefix>_${d.name}` : d.space === "C <PREFIX>_" ? `<PREFIX>_${d.name}` : d.name;
    const lang = d.space.startsWith("C") ? "C" : "TypeScript";
    const where = prev.file ? `${prev.what} (${prev.file}:${prev.line})` : prev.what;
    problems.push(`${d.file}:${d.line}: ${d.what}: generated ${lang} name ${shown} collides with ${where}`);
  }
}

/** Include-directory-relative import path of an absolute .proto path. */
export function importPathOf(abs: string, includeDirs: string[]): string {
  for (const d of includeDirs) {
    const r = relative(resolve(d), abs);
    if (!r.startsWith("..")) return r.split("\\").join("/");
  }
  return abs;
}

export { join };
