/**
 * Checks of names across the generated C and TypeScript: C keywords and identifiers that would
 * collide once nested names are flattened, lowerCamelCase collisions, and package-wide clashes
 * between messages, enums, enum values and IOCTL names.
 */
import type { EnumModel, FieldModel, MessageModel, OneofModel, RpcModel } from "./model.ts";

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

export function checkCNames(msg: MessageModel, problems: string[]): void {
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
export function checkPackageNames(
  messages: MessageModel[],
  enums: EnumModel[],
  rpcs: RpcModel[],
  fileOrder: string[],
  problems: string[],
): void {
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
