/**
 * Worst-case encoded sizes (the C `<T>_MAX_SIZE`) and the dependency order of messages: every
 * message after the messages it contains, with recursion, nesting depth and size limits checked.
 * Sizes follow the Protocol Buffers "Encoding" document: tag varint, length varint, payload.
 */
import {
  type FieldKind,
  type FieldModel,
  MAX_MESSAGE_SIZE,
  MAX_NESTING_DEPTH,
  type MessageModel,
  type ScalarKind,
  WIRE_TYPE,
} from "./model.ts";
import { tagValue, varintBytes } from "./wire_bytes.ts";

/** Worst-case value bytes of each scalar kind (varints of negative int32/enum take 10). */
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

export function fieldMaxSize(f: FieldModel): number {
  if (f.label === "repeated") {
    if (f.packed) {
      const payload = f.maxCount * SCALAR_MAX[f.kind as ScalarKind | "enum"];
      return varintSize(tagValue(f, 2)) + varintSize(payload) + payload;
    }
    return f.maxCount * (varintSize(tagValue(f, 2)) + elementMaxSize(f));
  }
  return varintSize(tagValue(f, WIRE_TYPE[f.kind])) + elementMaxSize(f);
}

/**
 * Depth and worst-case size of every message, in dependency order (depth-first, cycle
 * detection). Problems (recursion, too deep, too large) are appended to `problems`.
 */
export function orderAndSize(messages: Iterable<MessageModel>, problems: string[]): MessageModel[] {
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
  for (const m of messages) visit(m, []);
  return ordered;
}
