/**
 * Reading a trace back, whatever form it was kept in: a pcapng recording (writer.ts), a rotated
 * set of them, or JSON Lines from `cdfilter trace --json` (docs/cli.md). Used by `export`,
 * `audit --recording` and the viewer.
 *
 *   const src = await openTraceSource("run.pcapng");   // or "run.1.pcapng", or "trace.jsonl"
 *   src.header   // RecordingHeader of the first part (undefined for JSON Lines)
 *   src.events   // TraceEvent[]: records and drop notices in seq order
 *   src.torn     // torn tails (a recorder killed mid-write): reported, never fatal
 *
 * `readTraceSource(path)` yields the same as a stream of SourceItems (headers as they come).
 * Errors: TraceSourceError (a file that cannot be read, is neither pcapng nor JSON Lines, or a
 * JSON Lines line that does not parse: message names the file and line).
 */
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { TraceBatch, type TraceEvent, TraceRecord } from "../client/index.ts";
import { parseTraceJsonLine } from "../cli/records.ts";
import { FILETIME_UNIX_EPOCH, type RecordingHeader, decodeHeader } from "./header.ts";
import {
  CDFILTER_PEN,
  LINKTYPE_USER0,
  LINKTYPE_USER1,
  type PcapBlock,
  PcapFormatError,
  type TornTail,
  looksLikePcapng,
  readBlocks,
} from "./pcapng.ts";
import { existingParts, partPath } from "./writer.ts";

export class TraceSourceError extends Error {
  override name = "TraceSourceError";
}

/** Host and clock anchors recovered from JSON Lines (`host`, `time` beside `timestamp`). */
export interface JsonlContext {
  host: string;
  wallClockAnchor: bigint;
  monotonicAnchor: bigint;
}

export type SourceItem =
  | { type: "header"; file: string; header: RecordingHeader }
  | { type: "context"; file: string; context: JsonlContext }
  | TraceEvent
  | { type: "torn"; file: string; torn: TornTail }
  | { type: "warning"; file: string; message: string };

export interface TraceSource {
  format: "pcapng" | "jsonl";
  /** Files read, in order. */
  files: string[];
  /** Header of the first part read (undefined for JSON Lines). */
  header?: RecordingHeader;
  headers: RecordingHeader[];
  events: TraceEvent[];
  records: number;
  dropped: bigint;
  torn: { file: string; torn: TornTail }[];
  /** Missing parts, packets that do not decode, another driver instance's part left out. */
  warnings: string[];
  /** JSON Lines: host and anchors recovered from the first record carrying `host`/`time`. */
  context?: JsonlContext;
}

/**
 * `host` and the anchors a JSON Lines record's `time` (ISO-8601, up to 7 fraction digits) and
 * `timestamp` imply: FILETIME of `time` at monotonic `timestamp`. Undefined without them.
 */
export function jsonlContextOf(line: string): JsonlContext | undefined {
  if (!line.includes('"host"')) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o.host !== "string") return undefined;
  const ctx: JsonlContext = { host: o.host, wallClockAnchor: 0n, monotonicAnchor: 0n };
  const m = typeof o.time === "string" ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z$/.exec(o.time) : null;
  if (m && typeof o.timestamp === "string" && /^\d{1,20}$/.test(o.timestamp)) {
    const secs = Date.parse(`${m[1]}Z`);
    if (Number.isFinite(secs)) {
      const unix100ns = BigInt(secs) * 10_000n + BigInt((m[2] ?? "").padEnd(7, "0"));
      ctx.wallClockAnchor = unix100ns + FILETIME_UNIX_EPOCH;
      ctx.monotonicAnchor = BigInt(o.timestamp);
    }
  }
  return ctx;
}

/** The files of the recording `path` names: itself, or every part of its rotated set. */
export function recordingParts(path: string): string[] {
  const m = /^(.*)\.([1-9]\d{0,8})(\.[^./\\]+)$/.exec(path);
  let base = path;
  if (m) {
    const cand = `${m[1]}${m[3]}`;
    if (existsSync(cand) || existingParts(cand).some((x) => x.path === path)) base = cand;
  }
  const parts = existingParts(base).map((x) => x.path);
  if (existsSync(base)) return [base, ...parts];
  return parts.length ? parts : [path];
}

function fileError(path: string, e: unknown): TraceSourceError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (e as Error).message;
  return new TraceSourceError(`cannot read ${path}: ${why}`);
}

function isPcapngFile(path: string): boolean {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    throw fileError(path, e);
  }
  if (st.isDirectory()) throw fileError(path, Object.assign(new Error("directory"), { code: "EISDIR" }));
  const head = new Uint8Array(12);
  const fd = openSync(path, "r");
  let n: number;
  try {
    n = readSync(fd, head, 0, 12, 0);
  } finally {
    closeSync(fd);
  }
  // A Section Header Block's type, even cut short: a recording (maybe torn), not JSON Lines.
  return n >= 4 && head[0] === 0x0a && head[1] === 0x0d && head[2] === 0x0d && head[3] === 0x0a;
}

/** Items of one pcapng file's bytes. */
export function* pcapngItems(bytes: Uint8Array, file: string): Generator<SourceItem> {
  const ifaces: number[] = [];
  let it: Generator<PcapBlock, TornTail | undefined>;
  try {
    it = readBlocks(bytes);
    for (;;) {
      const n = it.next();
      if (n.done) {
        if (n.value) yield { type: "torn", file, torn: n.value };
        return;
      }
      const b = n.value;
      if (b.type === "shb") ifaces.length = 0;
      else if (b.type === "idb") ifaces.push(b.linktype);
      else if (b.type === "custom" && b.pen === CDFILTER_PEN) {
        try {
          yield { type: "header", file, header: decodeHeader(b.data) };
        } catch (e) {
          yield { type: "warning", file, message: `header block at offset ${b.offset} unreadable: ${(e as Error).message}` };
        }
      } else if (b.type === "epb") {
        const lt = ifaces[b.iface];
        try {
          if (lt === LINKTYPE_USER0) yield { type: "record", record: TraceRecord.decode(b.data) };
          else if (lt === LINKTYPE_USER1) {
            const d = TraceBatch.decode(b.data);
            yield d.reset
              ? { type: "dropped", count: d.dropped, afterSeq: d.nextCursor - d.dropped, reset: true }
              : { type: "dropped", count: d.dropped, afterSeq: d.nextCursor - d.dropped };
          }
        } catch (e) {
          yield { type: "warning", file, message: `packet at offset ${b.offset} does not decode: ${(e as Error).message}` };
        }
      }
    }
  } catch (e) {
    if (e instanceof PcapFormatError) throw new TraceSourceError(`${file}: ${e.message}`);
    throw e;
  }
}

/**
 * Every item of a recording, a rotated set (any part's path, or part 0's), or JSON Lines ("-" =
 * stdin, either format). Parts of another driver instance than the first part's are left out
 * with a warning; a gap between parts (deleted by --max-files) becomes a drop notice.
 */
export async function* readTraceSource(path: string): AsyncGenerator<SourceItem> {
  if (path === "-") {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const all = new Uint8Array(Buffer.concat(chunks));
    if (looksLikePcapng(all)) yield* pcapngItems(all, "(stdin)");
    else yield* jsonlText(new TextDecoder().decode(all), "(stdin)");
    return;
  }
  const files = recordingParts(path);
  const first = files[0]!;
  if (!existsSync(first)) throw fileError(path, Object.assign(new Error("no such file"), { code: "ENOENT" }));
  if (!isPcapngFile(first)) {
    yield* jsonlFile(first);
    return;
  }
  let instance: string | undefined;
  let lastSeq: bigint | undefined;
  let lastPart: number | undefined;
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (e) {
      throw fileError(file, e);
    }
    const items = pcapngItems(bytes, file);
    const head = items.next();
    if (head.done) continue;
    if (head.value.type === "header") {
      const h = head.value.header;
      if (instance === undefined) instance = h.instance;
      else if (h.instance !== instance) {
        yield { type: "warning", file, message: `left out: recorded from driver instance ${h.instance}, not ${instance} (another boot)` };
        continue;
      }
      if (lastPart !== undefined && h.part !== lastPart + 1)
        yield { type: "warning", file, message: `part(s) ${lastPart + 1}..${h.part - 1} missing (rotated away?)` };
      else if (lastPart === undefined && h.part > 0)
        yield { type: "warning", file, message: `the recording starts at part ${h.part}: earlier parts are gone` };
      if (lastSeq !== undefined && h.afterSeq > lastSeq) yield { type: "dropped", count: h.afterSeq - lastSeq, afterSeq: lastSeq };
      lastPart = h.part;
    }
    yield head.value;
    for (const item of items) {
      if (item.type === "record") lastSeq = item.record.seq;
      else if (item.type === "dropped") lastSeq = item.afterSeq + item.count;
      yield item;
    }
  }
}

/**
 * JSON Lines as events (and the host/clock context of the first record that has one). A bad line
 * is fatal unless it is the last one and `endsWithNewline()` says the text stops mid-line.
 */
async function* jsonlLines(
  lines: Iterable<string> | AsyncIterable<string>,
  file: string,
  endsWithNewline: () => boolean,
): AsyncGenerator<SourceItem> {
  let lineNo = 0;
  let context = false;
  let bad: { error: TraceSourceError; lineNo: number } | undefined;
  let kept = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === "") continue;
    if (bad) throw bad.error;
    let ev: TraceEvent;
    try {
      ev = parseJsonl(line, file, lineNo);
    } catch (e) {
      if (!(e instanceof TraceSourceError)) throw e;
      bad = { error: e, lineNo };
      continue;
    }
    if (!context && ev.type === "record") {
      context = true;
      const c = jsonlContextOf(line);
      if (c) yield { type: "context", file, context: c };
    }
    kept++;
    yield ev;
  }
  if (bad) {
    if (endsWithNewline()) throw bad.error;
    yield truncatedLastLine(file, bad.lineNo, kept);
  }
}

function jsonlText(text: string, file: string): AsyncGenerator<SourceItem> {
  return jsonlLines(text.split("\n"), file, () => text.endsWith("\n"));
}

/**
 * A bad last line without its newline is what a writer killed mid-line leaves: reported, and the
 * complete records before it kept. A bad line anywhere else rejects the file.
 */
function truncatedLastLine(file: string, lineNo: number, kept: number): SourceItem {
  return {
    type: "warning",
    file,
    message: `${file}:${lineNo}: the last line is incomplete (no newline; the writer was stopped mid-line?) and is ignored; the ${kept} complete event(s) before it are kept`,
  };
}

function endsWithNewline(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return true;
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

function parseJsonl(line: string, file: string, lineNo: number): TraceEvent {
  try {
    return parseTraceJsonLine(line, file, lineNo);
  } catch (e) {
    throw new TraceSourceError((e as Error).message);
  }
}

async function* jsonlFile(path: string): AsyncGenerator<SourceItem> {
  try {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    yield* jsonlLines(lines, path, () => endsWithNewline(path));
  } catch (e) {
    if (e instanceof TraceSourceError) throw e;
    throw fileError(path, e);
  }
}

/** The whole source in memory (see readTraceSource). */
export async function openTraceSource(path: string): Promise<TraceSource> {
  const src: TraceSource = { format: "jsonl", files: [], headers: [], events: [], records: 0, dropped: 0n, torn: [], warnings: [] };
  const seen = new Set<string>();
  for await (const item of readTraceSource(path)) {
    switch (item.type) {
      case "header":
        src.format = "pcapng";
        src.headers.push(item.header);
        src.header ??= item.header;
        if (!seen.has(item.file)) {
          seen.add(item.file);
          src.files.push(item.file);
        }
        break;
      case "record":
        src.records++;
        src.events.push(item);
        break;
      case "dropped":
        src.dropped += item.count;
        src.events.push(item);
        break;
      case "torn":
        src.torn.push({ file: item.file, torn: item.torn });
        break;
      case "warning":
        src.warnings.push(item.message.startsWith(item.file) ? item.message : `${item.file}: ${item.message}`);
        break;
      case "context":
        src.context ??= item.context;
        break;
    }
  }
  if (src.files.length === 0) src.files.push(path);
  return src;
}

export { partPath };
