/**
 * Loading a package's .proto files: each file and its imports found in the include directories,
 * parsed into one protobufjs Root (protobuf.parse), option files recognised, and every file
 * indexed with protobufjs's own tokenizer (protobuf.tokenize, which skips comments and reads
 * strings whole and counts lines) so that errors can name the line of each declaration.
 */
import { existsSync, readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import protobuf from "protobufjs";

export interface LoadOptions {
  /** .proto files to generate, as import paths relative to an include directory. */
  files: string[];
  /** Include directories searched in order for the files and their imports. */
  includeDirs: string[];
  /** Paths in messages are shown relative to this directory (default: cwd). */
  displayRoot?: string;
}

/** Where things are declared in one file (1-based lines). */
export interface SourceIndex {
  /** message, enum, service, rpc by full name without the leading dot ("pkg.Outer.Inner", "pkg.Svc.Rpc"). */
  decls: Map<string, number>;
  /** Fields and enum values by their scope's full name + "." + name ("pkg.Msg.field"). */
  fields: Map<string, number>;
  /** First use of each option name token ("cdfilter.options.ioctl_device_type"). */
  options: Map<string, number>;
  /** The `syntax` statement (1 when absent). */
  syntaxLine: number;
}

export interface SourceFile {
  importPath: string;
  displayPath: string;
  text: string;
  index: SourceIndex;
}

export interface LoadedSources {
  root: protobuf.Root;
  /** Every file read, in load order, by import path. */
  loaded: Map<string, SourceFile>;
  /** The same, by the filename protobufjs records on reflection objects (the import path). */
  byFilename: Map<string, SourceFile>;
  /** Option names the option files declare (max_len, ioctl_function ...). */
  knownOptionNames: Set<string>;
}

const IDENT = /^[A-Za-z_]\w*$/;
const NUMBER = /^(?:0[xX][0-9A-Fa-f]+|\d+)$/;
const SCOPES = new Set(["message", "enum", "service", "rpc", "oneof"]);

/**
 * Declaration lines from protobufjs's tokenizer: a brace-nesting walk over the tokens, so a
 * nested `message B` and a top-level `message B` get their own lines, and comments and strings
 * (single tokens) never count. A file the tokenizer rejects is indexed up to the error (the
 * parser reports it).
 */
export function indexSource(text: string): SourceIndex {
  const toks: { t: string; line: number }[] = [];
  try {
    const tn = protobuf.tokenize(text, true);
    for (let t = tn.next(); t !== null; t = tn.next()) toks.push({ t, line: tn.line });
  } catch {
    // an unterminated string or comment: protobuf.parse names it
  }
  const index: SourceIndex = { decls: new Map(), fields: new Map(), options: new Map(), syntaxLine: 1 };
  let pkg = "";
  // Each open brace: the name it scopes (message, enum, service) or null (oneof, rpc body, option value).
  const stack: (string | null)[] = [];
  let pending: string | null | undefined;
  const scoped = (name: string): string => [pkg, ...stack.filter((x): x is string => x !== null), name].filter((x) => x !== "").join(".");
  let sawSyntax = false;
  for (let i = 0; i < toks.length; i++) {
    const { t, line } = toks[i]!;
    const next = toks[i + 1]?.t;
    if (t === '"' || t === "'") {
      i += 2; // the string's text, then its closing quote
    } else if (t === "syntax" && !sawSyntax && stack.length === 0) {
      sawSyntax = true;
      index.syntaxLine = line;
    } else if (t === "package" && next !== undefined && stack.length === 0) {
      pkg = next;
      i++;
    } else if (SCOPES.has(t) && next !== undefined && IDENT.test(next)) {
      i++;
      if (t === "oneof") {
        pending = null;
        continue;
      }
      const full = scoped(next);
      if (!index.decls.has(full)) index.decls.set(full, line);
      pending = t === "rpc" ? null : next;
    } else if (t === "{") {
      stack.push(pending ?? null);
      pending = undefined;
    } else if (t === "}") {
      stack.pop();
    } else if (t === ";") {
      pending = undefined;
    } else if (IDENT.test(t) && next === "=" && NUMBER.test(toks[i + 2]?.t ?? "")) {
      const full = scoped(t);
      if (!index.fields.has(full)) index.fields.set(full, line);
    } else if (toks[i - 1]?.t === "(" && next === ")" && !index.options.has(t)) {
      index.options.set(t, line);
    }
  }
  return index;
}

/** Option files only declare `extend google.protobuf.*Options`; they carry no codec types. */
function isOptionFile(text: string): boolean {
  return /\bextend\s+google\.protobuf\.\w+Options\b/.test(text) && !/^\s*(message|enum|service)\s/m.test(text);
}

/** Where option `name` ("cdfilter.options.ioctl_device_type") is first set among `files`. */
export function optionLine(by: Map<string, SourceFile>, files: string[], name: string): { file: string; line: number } | undefined {
  for (const f of files) {
    const s = by.get(f);
    const line = s?.index.options.get(name);
    if (s && line !== undefined) return { file: s.displayPath, line };
  }
  return undefined;
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

/**
 * Read and parse `opts.files` and everything they import. Problems (missing imports, proto2,
 * parse errors) are appended to `problems`; the caller stops when there are any.
 */
export function loadSources(opts: LoadOptions, problems: string[]): LoadedSources {
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
    const src: SourceFile = { importPath, displayPath: relative(displayRoot, abs) || abs, text, index: indexSource(text) };
    loaded.set(importPath, src);
    byFilename.set(importPath, src);
    if (!/^\s*syntax\s*=\s*"proto3"\s*;/m.test(text)) {
      problems.push(`${src.displayPath}:${src.index.syntaxLine}: only syntax = "proto3" is supported`);
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
  return { root, loaded, byFilename, knownOptionNames };
}

export function importPathOf(abs: string, includeDirs: string[]): string {
  for (const d of includeDirs) {
    const r = relative(resolve(d), abs);
    if (!r.startsWith("..")) return r.split("\\").join("/");
  }
  return abs;
}
