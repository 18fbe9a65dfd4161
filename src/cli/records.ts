/**
 * Trace records on the command line: names, filters, the JSON Lines form written by
 * `trace --json` and read back by `export`, and the human one-line form.
 *
 * JSON Lines (docs/cli.md, "Trace JSON Lines"): one object per line.
 *   {"type":"record", ...every TraceRecord field in the proto3 JSON mapping: lowerCamelCase names,
 *    64-bit integers as decimal strings, enums by their proto names, bytes as base64...,
 *    "majorName", "ioctlName", "statusName" (convenience, ignored on input),
 *    "host" (host name of the recorded driver) and "time" (ISO-8601 UTC, 100 ns precision, from
 *    the driver's clock anchors) when known (ignored on input)}
 *   {"type":"dropped","count":"N","afterSeq":"S"}   N records after seq S left the ring unread
 * Times are the driver's monotonic clock in 100 ns units (`timestamp`, `duration`).
 */
import {
  Decision,
  JsonError,
  Reason,
  RecordKind,
  type TraceEvent,
  type TraceRecord,
  ioctlName,
  normalizeIoctl,
  ntStatusName,
  ntSuccess,
  TraceRecord as TraceRecordCodec,
} from "../client/index.ts";
import { majorFromText, majorName } from "../client/irp.ts";
import {
  decodeCdb,
  decodePassThroughCompletion,
  formatCdb,
  formatPassThroughCompletion,
  isPassThrough,
  passThroughCdb,
} from "../client/scsi-decode.ts";
import { FilterSyntaxError, type RecordFilter, compileFilter, parseRules } from "../filter/index.ts";
import { type Anchors, IsoClock } from "../recording/header.ts";
import { inputError, usageError } from "./errors.ts";
import type { Colors } from "./output.ts";

export { IRP_MJ_NAMES, majorName } from "../client/irp.ts";
export const IRP_MJ_DEVICE_CONTROL = 0x0e;
export const IRP_MJ_READ = 0x03;

/** Parse "DEVICE_CONTROL", "irp_mj_read", "read", "14" or "0xE" into an IRP_MJ_* code; a usage error otherwise. */
export function parseMajor(text: string): number {
  const v = majorFromText(text);
  if (v === undefined) {
    throw usageError(
      `unknown IRP major function "${text}"`,
      `use a name such as DEVICE_CONTROL, READ, CREATE, CLEANUP, CLOSE or a number 0..27`,
    );
  }
  return v;
}

/** Enum value to its proto name (RECORD_KIND_DISPATCH), or the number for values this build does not know. */
function protoName(e: Record<number, string>, v: number): string {
  return e[v] ?? String(v);
}
export const kindName = (v: number): string => protoName(RecordKind as unknown as Record<number, string>, v);
export const decisionName = (v: number): string => protoName(Decision as unknown as Record<number, string>, v);
export const reasonName = (v: number): string => protoName(Reason as unknown as Record<number, string>, v);
/** Without the enum prefix: "DENY", "EJECT_UNDER_LOCK". */
export const shortDecision = (v: number): string => decisionName(v).replace(/^DECISION_/, "");
export const shortReason = (v: number): string => reasonName(v).replace(/^REASON_/, "");

/** Names of a Decision / Reason enum without prefixes (for scenario validation). */
export function enumShortNames(e: object, prefix: string): Set<string> {
  return new Set(
    Object.keys(e)
      .filter((k) => Number.isNaN(Number(k)) && k.startsWith(prefix))
      .map((k) => k.slice(prefix.length)),
  );
}

const IOCTL_STORAGE_EJECTION_CONTROL = 0x2d0940;
const IOCTL_STORAGE_MEDIA_REMOVAL = 0x2d4804;
export function isSecureLockCode(code: number): boolean {
  return normalizeIoctl(code) === IOCTL_STORAGE_EJECTION_CONTROL;
}
export function isSimpleLockCode(code: number): boolean {
  return normalizeIoctl(code) === IOCTL_STORAGE_MEDIA_REMOVAL;
}

/**
 * What a request is, in one phrase: "READ", "IOCTL_STORAGE_EJECTION_CONTROL TRUE",
 * "IOCTL_SCSI_PASS_THROUGH START STOP UNIT LoEj=1", "DEVICE_CONTROL 0x8CDF2000".
 * inputHead: the dispatch record's captured input (completion records carry none).
 */
export function requestName(r: Pick<TraceRecord, "major" | "ioctlCode">, inputHead?: Uint8Array): string {
  if (r.major !== IRP_MJ_DEVICE_CONTROL && r.major !== 0x0f) return majorName(r.major);
  const name = ioctlName(r.ioctlCode) ?? `${majorName(r.major)} 0x${(r.ioctlCode >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
  const arg = inputHead ? requestArgument(r.ioctlCode, inputHead) : "";
  return arg ? `${name} ${arg}` : name;
}

function requestArgument(code: number, head: Uint8Array): string {
  const n = normalizeIoctl(code);
  if ((n === IOCTL_STORAGE_EJECTION_CONTROL || n === IOCTL_STORAGE_MEDIA_REMOVAL) && head.length >= 1) {
    return head[0] ? "TRUE" : "FALSE";
  }
  const cdb = passThroughCdb(code, head);
  return cdb ? formatCdb(decodeCdb(cdb)) : "";
}

/** The pass-through outcome of a completion with a captured output head: "GOOD", "CHECK CONDITION NOT READY, ... (2/3A/00)". */
export function completionArgument(r: Pick<TraceRecord, "ioctlCode" | "outputHead">): string {
  if (!isPassThrough(r.ioctlCode) || r.outputHead.length === 0) return "";
  const done = decodePassThroughCompletion(r.ioctlCode, r.outputHead);
  return done ? `ScsiStatus=${formatPassThroughCompletion(done)}` : "";
}

// ---------------------------------------------------------------------------------------------
// Filters (client-side: the kernel-side TraceConfig filter is shared by every reader). The rules
// and their combination live in src/filter/ (docs/filters.md); here only the command-line form.

/** The filter options of `trace` / `export`: the include-only shorthands and --include/--exclude. */
export interface FilterOptions {
  drive?: string[];
  pid?: string[];
  major?: string[];
  ioctl?: string[];
  include?: string[];
  exclude?: string[];
}

/**
 * Compile the command line's filter: `--drive 1` is `--include drive=1` (and so on for --pid,
 * --major, --ioctl), then every --include and --exclude. A bad rule is a usage error (exit 2).
 */
export function parseFilter(opts: FilterOptions): RecordFilter {
  const include = [
    ...(opts.drive ?? []).map((v) => `drive=${v}`),
    ...(opts.pid ?? []).map((v) => `pid=${v}`),
    ...(opts.major ?? []).map((v) => `major=${v}`),
    ...(opts.ioctl ?? []).map((v) => `ioctl=${v}`),
    ...(opts.include ?? []),
  ];
  try {
    return compileFilter(parseRules({ include, exclude: opts.exclude ?? [] }));
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw usageError(e.message, e.hint);
    throw e;
  }
}

export function filterIsEmpty(f: RecordFilter): boolean {
  return f.empty;
}

export function matchesFilter(r: TraceRecord, f: RecordFilter): boolean {
  return f.matches(r);
}

// ---------------------------------------------------------------------------------------------
// JSON Lines.

/**
 * Where records came from, for the `host` and `time` fields of JSON Lines: the host name and a
 * clock built from the driver's anchors (src/recording/header.ts IsoClock).
 */
export interface JsonLineContext {
  /** JSON-quoted host name (computed once). */
  hostJson: string;
  clock: IsoClock;
}

export function jsonLineContext(host: string, anchors: Anchors): JsonLineContext {
  return { hostJson: JSON.stringify(host), clock: new IsoClock(anchors) };
}

/**
 * One record as a JSON line (no trailing newline): the proto3 JSON mapping generated from the
 * schema (TraceRecord.toJson, src/client/json.ts), after `"type":"record"` and followed by the
 * convenience names, the decoded CDB / SCSI status (pass-through records) and, with a context,
 * `host` and an ISO-8601 `time`.
 */
export function recordJsonLine(r: TraceRecord, ctx?: JsonLineContext): string {
  const ioctl = r.major === IRP_MJ_DEVICE_CONTROL ? ioctlName(r.ioctlCode) : undefined;
  return TraceRecordCodec.toJsonText(
    r,
    `"type":"record",`,
    `,"majorName":"${majorName(r.major)}"${ioctl ? `,"ioctlName":"${ioctl}"` : ""},"statusName":"${ntStatusName(r.status)}"` +
      scsiJson(r) +
      (ctx ? contextFields(r, ctx) : ""),
  );
}

/**
 * Pass-through records: `"cdb":{"opcode":27,"name":"START STOP UNIT","fields":{"LoEj":1,...},
 * "text":"..."}` on a dispatch with a captured CDB; `"scsiStatus":2,"scsiStatusName":"CHECK
 * CONDITION","sense":{"key":2,"keyName":"NOT READY","asc":58,"ascq":0,"ascName":"MEDIUM NOT
 * PRESENT"}` on a completion with a captured output head (output capture). Convenience fields,
 * ignored on input.
 */
function scsiJson(r: TraceRecord): string {
  if (!isPassThrough(r.ioctlCode)) return "";
  let s = "";
  if (r.inputHead.length) {
    const cdb = passThroughCdb(r.ioctlCode, r.inputHead);
    if (cdb) {
      const d = decodeCdb(cdb);
      const fields = Object.fromEntries(d.fields.map((f) => [f.name, typeof f.value === "bigint" ? String(f.value) : f.value]));
      s += `,"cdb":${JSON.stringify({ opcode: d.opcode, name: d.name, fields, text: formatCdb(d) })}`;
    }
  }
  if (r.outputHead.length) {
    const done = decodePassThroughCompletion(r.ioctlCode, r.outputHead);
    if (done) {
      s += `,"scsiStatus":${done.scsiStatus},"scsiStatusName":"${done.scsiStatusName}"`;
      if (done.sense) s += `,"sense":${JSON.stringify(done.sense)}`;
    }
  }
  return s;
}

function contextFields(r: TraceRecord, ctx: JsonLineContext): string {
  const t = ctx.clock.format(r.timestamp);
  return `,"host":${ctx.hostJson}${t ? `,"time":"${t}"` : ""}`;
}

export function droppedJsonLine(count: bigint, afterSeq: bigint): string {
  return `{"type":"dropped","count":"${count}","afterSeq":"${afterSeq}"}`;
}

export function eventJsonLine(ev: TraceEvent, ctx?: JsonLineContext): string {
  return ev.type === "record" ? recordJsonLine(ev.record, ctx) : droppedJsonLine(ev.count, ev.afterSeq);
}

type Json = Record<string, unknown>;

/**
 * Parse JSON Lines written by `trace --json` (or any producer of the same shape) back into trace
 * events. Blank lines are skipped. A bad line throws a BAD_INPUT CliError naming file and line.
 */
export function parseTraceJsonLines(text: string, file: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    lineNo++;
    start = end + 1;
    if (line === "") continue;
    const ev = parseTraceJsonLine(line, file, lineNo);
    events.push(ev);
  }
  return events;
}

export function parseTraceJsonLine(line: string, file: string, lineNo: number): TraceEvent {
  const bad = (why: string) => inputError(`${file}:${lineNo}: ${why}`, "the file must be JSON Lines as written by `cdfilter trace --json`");
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw bad("not a JSON object");
  const o = obj as Json;
  const type = o.type ?? "record";
  if (type === "dropped") {
    return { type: "dropped", count: u64(o, "count", bad), afterSeq: u64(o, "afterSeq", bad) };
  }
  if (type !== "record") throw bad(`unknown "type": ${JSON.stringify(type)} (expected "record" or "dropped")`);
  if (o.seq === undefined) throw bad(`record without "seq"`);
  // Every TraceRecord field by the generated proto3 JSON mapping; "type" and the convenience
  // names (majorName, ioctlName, statusName) are not fields and are skipped.
  let record: TraceRecord;
  try {
    record = TraceRecordCodec.fromJson(o, { ignoreUnknownFields: true });
  } catch (e) {
    if (e instanceof JsonError) throw bad(e.message);
    throw e;
  }
  return { type: "record", record };
}

type Bad = (why: string) => Error;

function u64(o: Json, k: string, bad: Bad): bigint {
  const v = o[k];
  if (v === undefined || v === null) return 0n;
  if ((typeof v === "string" && /^\d{1,20}$/.test(v)) || (typeof v === "number" && Number.isSafeInteger(v) && v >= 0)) {
    const b = BigInt(v);
    if (b <= 0xffff_ffff_ffff_ffffn) return b;
  }
  throw bad(`"${k}" must be an unsigned 64-bit integer (number or decimal string), got ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------------------------
// Human form.

/** State kept across lines: time base, and dispatch input heads to name completions. */
export class HumanFormatter {
  private base: bigint | undefined;
  private readonly heads = new Map<bigint, Uint8Array>();

  /**
   * @param c colours (no-ops when colour is off)
   * @param completedOnly print one line per request (its completion) and the filter's own
   *   releases; dispatch and handle open/close records are hidden (dispatch input heads are
   *   remembered so the completion line still names the request's argument)
   */
  constructor(
    private readonly c: Colors,
    private readonly completedOnly = false,
    base?: bigint,
  ) {
    this.base = base;
  }

  /** Count `+seconds` from this timestamp (100 ns) unless a record already set the origin. */
  anchor(timestamp: bigint): void {
    this.base ??= timestamp;
  }

  /** Keep a dispatch's input head (bounded) so its completion line names the argument, also
   * when a filter hides the dispatch itself. */
  remember(r: TraceRecord): void {
    if (r.kind !== RecordKind.RECORD_KIND_DISPATCH || r.inputHead.length === 0) return;
    this.heads.set(r.requestId, r.inputHead);
    if (this.heads.size > 4096) this.heads.delete(this.heads.keys().next().value as bigint);
  }

  /** The line for an event, or undefined when completedOnly hides it. */
  format(ev: TraceEvent): string | undefined {
    const c = this.c;
    if (ev.type === "dropped") {
      return c.bold(
        c.red(`!! ${ev.count} record(s) dropped after seq ${ev.afterSeq}: the ring overwrote them before this reader got them`),
      );
    }
    const r = ev.record;
    this.base ??= r.timestamp;
    if (r.kind === RecordKind.RECORD_KIND_DISPATCH) {
      this.remember(r);
      if (this.completedOnly) return undefined;
    }
    if (this.completedOnly && (r.kind === RecordKind.RECORD_KIND_HANDLE_OPEN || r.kind === RecordKind.RECORD_KIND_HANDLE_CLOSE)) {
      return undefined;
    }
    const seq = c.dim(String(r.seq).padStart(6));
    const t = c.dim(`+${formatSeconds(r.timestamp - this.base)}`);
    const who = `${r.openerImage || (r.kind === RecordKind.RECORD_KIND_DISPATCH && r.major === 0 ? "(create)" : "?")}:${r.pid}`;
    const drive = r.handleId ? `d${r.driveId} h${String(r.handleId).padEnd(2)}` : `d${r.driveId}    `;
    let what: string;
    let tail = "";
    switch (r.kind) {
      case RecordKind.RECORD_KIND_DISPATCH:
        what = `→ ${requestName(r, r.inputHead)}`;
        break;
      case RecordKind.RECORD_KIND_COMPLETION: {
        const head = this.heads.get(r.requestId);
        this.heads.delete(r.requestId);
        what = `${this.completedOnly ? "" : "← "}${requestName(r, head)}`;
        const scsi = completionArgument(r);
        if (scsi) what += ` ${scsi}`;
        tail = ` ${formatDuration(r.duration)}`;
        break;
      }
      case RecordKind.RECORD_KIND_AUTO_RELEASE:
        what = c.magenta(`⟲ auto-release of ${r.countReleased} secure lock(s)`);
        break;
      case RecordKind.RECORD_KIND_LEAK_RELEASE:
        what = c.magenta(`⟲ leak release of ${r.countReleased} simple lock(s)`);
        break;
      case RecordKind.RECORD_KIND_HANDLE_OPEN:
        what = c.dim(`+ handle h${r.handleId} opened`);
        break;
      case RecordKind.RECORD_KIND_HANDLE_CLOSE:
        what = c.dim(`- handle h${r.handleId} gone`);
        break;
      case RecordKind.RECORD_KIND_DRIVE_NOT_TRACKED:
        what = c.bold(
          c.yellow(`! drive ${r.driveName || "?"} not tracked: the filter holds its maximum of drives; its I/O passes untraced`),
        );
        break;
      default:
        what = kindName(r.kind);
    }
    const parts = [seq, t, c.cyan(pad(who, 16)), drive, what];
    const decision = this.decisionText(r);
    if (decision) parts.push(decision);
    if (r.kind === RecordKind.RECORD_KIND_COMPLETION || (r.kind === RecordKind.RECORD_KIND_DISPATCH && r.status !== 0)) {
      parts.push(ntSuccess(r.status) ? c.green(ntStatusName(r.status)) : c.red(ntStatusName(r.status)));
    }
    const totals = c.dim(`[secure=${r.secureTotal} simple=${r.simpleTotal}]`);
    return parts.join("  ") + c.dim(tail) + "  " + totals;
  }

  private decisionText(r: TraceRecord): string {
    const c = this.c;
    const reason = r.reason === Reason.REASON_NONE ? "" : shortReason(r.reason);
    switch (r.decision) {
      case Decision.DECISION_DENY:
        return c.bold(c.red(`DENY ${reason}`.trim()));
      case Decision.DECISION_REJECT:
        return c.red(`REJECT ${reason}`.trim());
      case Decision.DECISION_RELEASE:
        return c.magenta(reason);
      default:
        if (!reason || r.kind === RecordKind.RECORD_KIND_HANDLE_CLOSE) return reason ? c.dim(reason) : "";
        return r.reason === Reason.REASON_WOULD_DENY || r.reason === Reason.REASON_FOREIGN_SECURE_UNLOCK
          ? c.yellow(reason)
          : c.blue(reason);
    }
  }
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

/** 100 ns ticks as seconds with 6 decimals: "1.234567s". */
export function formatSeconds(ticks: bigint): string {
  const neg = ticks < 0n;
  const t = neg ? -ticks : ticks;
  const us = t / 10n;
  return `${neg ? "-" : ""}${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, "0")}s`;
}

/** 100 ns ticks as a short duration: "800ns", "12.3µs", "4.56ms", "1.20s". */
export function formatDuration(ticks: bigint): string {
  const ns = Number(ticks) * 100;
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(1)}µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(2)}ms`;
  return `${(ns / 1_000_000_000).toFixed(2)}s`;
}
