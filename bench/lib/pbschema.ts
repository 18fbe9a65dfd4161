// Schema reflection for the codec tests and benchmarks, from protobufjs (an oracle no one here
// wrote): which fields a message has, their protobuf types, bounds ((cdfilter.options.max_len) /
// max_count) and how the contract maps each to a TypeScript value (docs/CONTRACTS.md, "Codec:
// generated TypeScript"). Used to build values independently of the generated code under test.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** Repository root, resolved from this file (bench/lib/ -> repo). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

const INCLUDE_DIRS = [
  join(REPO_ROOT, "proto"),
  join(REPO_ROOT, "test", "proto"),
  "/usr/include",
  "/usr/local/include",
  join(REPO_ROOT, "node_modules", "protobufjs"),
];

/** Loads cdfilter (control.proto + trace.proto) and conf (conformance.proto) into one Root. */
export function loadSchemaRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    for (const dir of INCLUDE_DIRS) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(["cdfilter/control.proto", "conformance.proto"], { keepCase: false });
  root.resolveAll();
  return root;
}

export type ScalarKind =
  | "double"
  | "float"
  | "int32"
  | "uint32"
  | "sint32"
  | "fixed32"
  | "sfixed32"
  | "int64"
  | "uint64"
  | "sint64"
  | "fixed64"
  | "sfixed64"
  | "bool"
  | "string"
  | "bytes";

export interface FieldInfo {
  /** camelCase property name (TS contract). */
  tsName: string;
  /** snake_case name as written in the .proto (text format name). */
  protoName: string;
  id: number;
  repeated: boolean;
  /** Scalar kind, or "enum" / "message". */
  kind: ScalarKind | "enum" | "message";
  /** Resolved message type (kind === "message"). */
  message?: protobuf.Type;
  /** Enum values by name (kind === "enum"). */
  enumValues?: Record<string, number>;
  /** (cdfilter.options.max_len) in bytes, for string/bytes. */
  maxLen?: number;
  /** (cdfilter.options.max_count), for repeated. */
  maxCount?: number;
  /** proto3 `optional`: T | undefined. */
  optional: boolean;
  /** Real oneof this field belongs to (camelCase oneof name), else undefined. */
  oneof?: string;
}

export interface MessageInfo {
  fullName: string; // "cdfilter.TraceRecord"
  name: string; // "TraceRecord"
  pkg: string; // "cdfilter" | "conf"
  type: protobuf.Type;
  fields: FieldInfo[]; // by field number
  oneofs: string[]; // real oneofs (camelCase)
}

const SCALARS = new Set<string>([
  "double",
  "float",
  "int32",
  "uint32",
  "sint32",
  "fixed32",
  "sfixed32",
  "int64",
  "uint64",
  "sint64",
  "fixed64",
  "sfixed64",
  "bool",
  "string",
  "bytes",
]);

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

export function describeMessage(type: protobuf.Type): MessageInfo {
  const fields: FieldInfo[] = type.fieldsArray
    .slice()
    .sort((a, b) => a.id - b.id)
    .map((f) => {
      f.resolve();
      const opts = (f.options ?? {}) as Record<string, unknown>;
      const partOf = f.partOf;
      const synthetic = partOf !== null && partOf !== undefined && partOf.oneof.length === 1 && partOf.name.startsWith("_");
      const info: FieldInfo = {
        tsName: f.name,
        protoName: snake(f.name),
        id: f.id,
        repeated: f.repeated,
        kind: "message",
        optional: synthetic,
      };
      if (partOf && !synthetic) info.oneof = partOf.name;
      if (SCALARS.has(f.type)) info.kind = f.type as ScalarKind;
      else if (f.resolvedType instanceof protobuf.Enum) {
        info.kind = "enum";
        info.enumValues = { ...f.resolvedType.values };
      } else if (f.resolvedType instanceof protobuf.Type) {
        info.kind = "message";
        info.message = f.resolvedType;
      } else throw new Error(`unresolved field type ${type.fullName}.${f.name}`);
      const maxLen = opts["(cdfilter.options.max_len)"];
      const maxCount = opts["(cdfilter.options.max_count)"];
      if (typeof maxLen === "number") info.maxLen = maxLen;
      if (typeof maxCount === "number") info.maxCount = maxCount;
      return info;
    });
  const fullName = type.fullName.replace(/^\./, "");
  const dot = fullName.lastIndexOf(".");
  return {
    fullName,
    name: fullName.slice(dot + 1),
    pkg: fullName.slice(0, dot),
    type,
    fields,
    oneofs: type.oneofsArray.filter((o) => !(o.oneof.length === 1 && o.name.startsWith("_"))).map((o) => o.name),
  };
}

/** Every message type declared in a package, in declaration order. */
export function messagesOf(root: protobuf.Root, pkg: "cdfilter" | "conf"): MessageInfo[] {
  const ns = root.lookup(pkg);
  if (!(ns instanceof protobuf.Namespace)) throw new Error(`package ${pkg} not found`);
  return ns.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type).map(describeMessage);
}

export function is64(kind: FieldInfo["kind"]): boolean {
  return kind === "int64" || kind === "uint64" || kind === "sint64" || kind === "fixed64" || kind === "sfixed64";
}

/** The proto3 default of a singular field's TS value per the contract. */
export function defaultValue(f: FieldInfo): unknown {
  if (f.repeated) return [];
  if (f.optional) return undefined;
  switch (f.kind) {
    case "message":
      return undefined;
    case "bool":
      return false;
    case "string":
      return "";
    case "bytes":
      return new Uint8Array(0);
    default:
      return is64(f.kind) ? 0n : 0;
  }
}

/** A message with every field at its proto3 default (the shape `decode` of empty input gives). */
export function defaultMessage(info: MessageInfo): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  for (const f of info.fields) {
    if (f.oneof) continue;
    m[f.tsName] = defaultValue(f);
  }
  for (const o of info.oneofs) m[o] = undefined;
  return m;
}
