/**
 * Resolution: the protobufjs reflection objects of a package's target files turned into our
 * model (EnumModel, MessageModel with FieldModel, RpcModel), with everything the kernel codec
 * cannot support reported as a problem naming file:line (load.ts indexes the lines).
 */
import protobuf from "protobufjs";
import type { SourceFile } from "./load.ts";
import { optionLine } from "./load.ts";
import {
  ACCESS_VALUES,
  type EnumModel,
  type FieldKind,
  type FieldLabel,
  type FieldModel,
  KNOWN_OPTIONS,
  MAX_FIELD_NUMBER,
  type MessageModel,
  type OneofModel,
  OPTION_PREFIX,
  type RpcModel,
  WIRE_TYPE,
} from "./model.ts";
import { checkCNames } from "./validate.ts";

type Where = { file: string; line: number; at: string };

/** What every resolution step shares: the problems found so far, lookups, and the line finders. */
export interface ResolveContext {
  problems: string[];
  packageName: string;
  byFilename: Map<string, SourceFile>;
  knownOptionNames: Set<string>;
  enums: EnumModel[];
  enumByFull: Map<string, EnumModel>;
  messages: Map<string, MessageModel>;
  where(obj: protobuf.ReflectionObject): Where;
  whereField(t: protobuf.Type, f: protobuf.Field, fallback: number): Where;
  flatName(obj: protobuf.ReflectionObject, pkg: string): string;
  checkOptions(obj: protobuf.ReflectionObject, at: string, what: string, scope: "field" | "file" | "method", allowed: string[]): void;
}

export function resolveContext(
  problems: string[],
  packageName: string,
  byFilename: Map<string, SourceFile>,
  knownOptionNames: Set<string>,
): ResolveContext {
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
  return {
    problems,
    packageName,
    byFilename,
    knownOptionNames,
    enums: [],
    enumByFull: new Map(),
    messages: new Map(),
    where,
    whereField,
    flatName,
    checkOptions,
  };
}

/** Enums of the target files: proto3 (first value 0), no options. */
export function resolveEnums(ctx: ResolveContext, enumsToModel: protobuf.Enum[]): void {
  const { where, checkOptions, flatName, problems, packageName, enums, enumByFull } = ctx;
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
}

/** Messages and their fields: kinds, labels, bounds (max_len, max_count), references. */
export function resolveMessages(ctx: ResolveContext, typesInOrder: protobuf.Type[]): void {
  const { where, checkOptions, flatName, problems, packageName, messages } = ctx;
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

  for (const t of typesInOrder) {
    const msg = messages.get(t.fullName);
    if (!msg) continue;
    const oneofs = new Map<string, OneofModel>();
    for (const f of t.fieldsArray) {
      const field = resolveField(ctx, t, f, msg);
      if (field === undefined) continue;
      const oneofName = field.oneof;
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
}

export interface ServicesModel {
  rpcs: RpcModel[];
  services: string[];
  protocolVersion?: number;
  deviceType?: number;
}

/** Services: every rpc is an IOCTL with a function code and an access; the package's file options. */
export function resolveServices(
  ctx: ResolveContext,
  root: protobuf.Root,
  servicesToModel: protobuf.Service[],
  files: string[],
): ServicesModel {
  const { where, checkOptions, problems, packageName, messages, byFilename, knownOptionNames } = ctx;
  const opts = { files };
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

  return {
    rpcs,
    services,
    ...(protocolVersion !== undefined ? { protocolVersion } : {}),
    ...(deviceType !== undefined ? { deviceType } : {}),
  };
}

/** One field of message `t` as a FieldModel, or undefined (with a problem recorded) when the codec cannot support it. */
function resolveField(ctx: ResolveContext, t: protobuf.Type, f: protobuf.Field, msg: MessageModel): FieldModel | undefined {
  const { whereField, checkOptions, problems, enumByFull, messages } = ctx;
  const fw = whereField(t, f, msg.line);
  const what = `${t.name}.${f.name}`;
  const bad = (why: string): void => {
    problems.push(`${fw.at}: field ${what}: ${why}`);
  };
  if (f instanceof protobuf.MapField) {
    bad("map fields are not supported");
    return undefined;
  }
  if (f.rule === "required") {
    bad("proto2 required is not supported");
    return undefined;
  }
  const opts2 = f.options ?? {};
  if ("default" in opts2) {
    bad("proto2 default values are not supported");
    return undefined;
  }
  if (f.id < 1 || f.id > MAX_FIELD_NUMBER) {
    bad(`field number ${f.id} outside 1..${MAX_FIELD_NUMBER}`);
    return undefined;
  }
  if (f.id >= 19000 && f.id <= 19999) {
    bad(`field number ${f.id} is reserved by protobuf (19000-19999)`);
    return undefined;
  }
  checkOptions(f, fw.at, `field ${what}`, "field", ["proto3_optional", "packed", "deprecated"]);
  if (opts2.packed === false) {
    bad("[packed = false] is not supported (proto3 packs repeated scalars)");
    return undefined;
  }

  let kind: FieldKind;
  let enumType: EnumModel | undefined;
  let messageType: MessageModel | undefined;
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) {
    if (isGroup(rt)) {
      bad("groups are not supported");
      return undefined;
    }
    if (rt.fullName.startsWith(".google.protobuf.")) {
      bad(`${rt.fullName.slice(1)} is not supported`);
      return undefined;
    }
    const sub = messages.get(rt.fullName);
    if (!sub) {
      bad(`message type ${rt.fullName.slice(1)} is not part of this package's target files`);
      return undefined;
    }
    kind = "message";
    messageType = sub;
  } else if (rt instanceof protobuf.Enum) {
    const e = enumByFull.get(rt.fullName);
    if (!e) {
      bad(`enum type ${rt.fullName.slice(1)} is not part of this package's target files`);
      return undefined;
    }
    kind = "enum";
    enumType = e;
  } else if (f.type in WIRE_TYPE && f.type !== "enum" && f.type !== "message") {
    kind = f.type as FieldKind;
  } else {
    bad(`type ${f.type} is not supported`);
    return undefined;
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
      return undefined;
    }
    if (!Number.isInteger(maxLenOpt) || maxLenOpt < 1 || maxLenOpt > 0x7fffffff) {
      bad(`max_len ${maxLenOpt} must be 1..2147483647`);
      return undefined;
    }
    maxLen = maxLenOpt;
  } else if (maxLenOpt !== undefined) {
    bad(`max_len applies to string and bytes fields only`);
    return undefined;
  }
  if (repeated) {
    if (typeof maxCountOpt !== "number") {
      bad(`unbounded repeated field: add [(cdfilter.options.max_count) = N]`);
      return undefined;
    }
    if (!Number.isInteger(maxCountOpt) || maxCountOpt < 1 || maxCountOpt > 0xffffff) {
      bad(`max_count ${maxCountOpt} must be 1..16777215`);
      return undefined;
    }
    maxCount = maxCountOpt;
  } else if (maxCountOpt !== undefined) {
    bad(`max_count applies to repeated fields only`);
    return undefined;
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
  return field;
}

/** protobufjs marks proto2 group types with `group: true` (not in its typings). */
function isGroup(t: protobuf.Type): boolean {
  return (t as unknown as { group?: boolean }).group === true;
}
