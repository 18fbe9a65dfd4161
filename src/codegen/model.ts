// Schema model for the code generator and loadPackage, its four steps:
//   load (load.ts)          the .proto files and their imports, parsed by protobufjs, indexed by
//                           protobufjs's tokenizer for the line of each declaration;
//   resolve (resolve.ts)    reflection objects to EnumModel / MessageModel / RpcModel, rejecting
//                           what the kernel codec cannot support (unbounded fields, proto2, maps,
//                           bad IOCTL numbering);
//   size (size.ts)          recursion, nesting depth and each message's worst-case encoded size;
//   validate (validate.ts)  names that would collide in the generated C and TypeScript.
// Errors name file:line and the element.
import protobuf from "protobufjs";
import { type LoadOptions, loadSources } from "./load.ts";
import { resolveContext, resolveEnums, resolveMessages, resolveServices } from "./resolve.ts";
import { orderAndSize } from "./size.ts";
import { camel, checkPackageNames, cName } from "./validate.ts";

export { elementMaxSize, scalarMaxSize, varintSize } from "./size.ts";
export { camel, cName };
export { importPathOf, type LoadOptions } from "./load.ts";

/** Largest nesting depth (top-level message = 1) the generated decoders accept (CDF_PB_MAX_DEPTH). */
export const MAX_NESTING_DEPTH = 8;
/** Largest MAX_SIZE accepted: every size sum stays below 2^31 so size_t/uint32 arithmetic cannot wrap. */
export const MAX_MESSAGE_SIZE = 0x7fffffff;
/** Largest field number protobuf allows. */
export const MAX_FIELD_NUMBER = 536870911;

export const OPTION_PREFIX = "(cdfilter.options.";
export const KNOWN_OPTIONS: Record<string, "field" | "file" | "method"> = {
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
  const typesInOrder: protobuf.Type[] = [];

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

  const ctx = resolveContext(problems, packageName, byFilename, knownOptionNames);
  resolveEnums(ctx, enumsToModel);
  resolveMessages(ctx, typesInOrder);
  const { enums, messages } = ctx;

  // Recursion, depth and sizes, in dependency order (size.ts).
  const ordered = orderAndSize(messages.values(), problems);
  const { rpcs, services, protocolVersion, deviceType } = resolveServices(ctx, root, servicesToModel, opts.files);

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
