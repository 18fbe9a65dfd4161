// Schema model for the code generator: loads .proto files with protobufjs's parser, resolves
// imports from the include directories, validates everything the kernel codec cannot support
// (unbounded fields, recursion, deep nesting, proto2 features, maps, bad IOCTL numbering) and
// computes each message's worst-case encoded size. Errors name file:line and the element.
import protobuf from "protobufjs";
import { type LoadOptions, loadSources, optionLine, type SourceFile } from "./load.ts";
import { orderAndSize } from "./size.ts";
import { camel, checkCNames, checkPackageNames, cName } from "./validate.ts";

export { elementMaxSize, scalarMaxSize, varintSize } from "./size.ts";
export { camel, cName };
export { importPathOf, type LoadOptions } from "./load.ts";

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

/** Loads, validates and sizes one package. Throws SchemaError listing every problem found. */
export function loadPackage(opts: LoadOptions): PackageModel {
  const problems: string[] = [];
  const { root, loaded, byFilename, knownOptionNames } = loadSources(opts, problems);
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
  // Lines come from the token index of each file (load.ts): declarations by full name, fields
  // by message full name + field name.
  const where = (obj: protobuf.ReflectionObject): { file: string; line: number; at: string } => {
    const s = srcOf(obj);
    const line = s.index.decls.get(obj.fullName.replace(/^\./, "")) ?? 1;
    return { file: s.displayPath, line, at: `${s.displayPath}:${line}` };
  };
  const whereField = (t: protobuf.Type, f: protobuf.Field, fallback: number): { file: string; line: number; at: string } => {
    const s = srcOf(f);
    const line = s.index.fields.get(`${t.fullName.replace(/^\./, "")}.${f.name}`) ?? fallback;
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
    const w = where(e);
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
    const w = where(t);
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
      const fw = whereField(t, f, msg.line);
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

  // Recursion, depth and sizes, in dependency order (size.ts).
  const ordered = orderAndSize(messages.values(), problems);

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
      const opt = optionLine(byFilename, opts.files, `${OPTION_PREFIX.slice(1)}ioctl_device_type`);
      const line = opt?.line ?? 1;
      const file = opt?.file ?? at;
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
      const w = where(m);
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
