/**
 * Trace records on the command line: names, filters, the JSON Lines form written by
 * `trace --json` and read back by `export`, and the human one-line form.
 *
 * JSON Lines (docs/cli.md, "Trace JSON Lines"): one object per line.
 *   {"type":"record", ...every TraceRecord field in the proto3 JSON mapping: lowerCamelCase names,
 *    64-bit integers as decimal strings, enums by their proto names, bytes as base64...,
 *    "majorName", "ioctlName", "statusName" (convenience, ignored on input)}
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
  parseIoctl,
  TraceRecord as TraceRecordCodec,
} from "../client/index.ts";
import { inputError, usageError } from "./errors.ts";
import type { Colors } from "./output.ts";

/** IRP major function codes (wdm.h). */
export const IRP_MJ_NAMES: readonly string[] = [
  "CREATE",
  "CREATE_NAMED_PIPE",
  "CLOSE",
  "READ",
  "WRITE",
  "QUERY_INFORMATION",
  "SET_INFORMATION",
  "QUERY_EA",
  "SET_EA",
  "FLUSH_BUFFERS",
  "QUERY_VOLUME_INFORMATION",
  "SET_VOLUME_INFORMATION",
  "DIRECTORY_CONTROL",
  "FILE_SYSTEM_CONTROL",
  "DEVICE_CONTROL",
  "INTERNAL_DEVICE_CONTROL",
  "SHUTDOWN",
  "LOCK_CONTROL",
  "CLEANUP",
  "CREATE_MAILSLOT",
  "QUERY_SECURITY",
  "SET_SECURITY",
  "POWER",
  "SYSTEM_CONTROL",
  "DEVICE_CHANGE",
  "QUERY_QUOTA",
  "SET_QUOTA",
  "PNP",
];
export const IRP_MJ_DEVICE_CONTROL = 0x0e;
export const IRP_MJ_READ = 0x03;

/** "DEVICE_CONTROL" for 14; "0x1C" past the table. */
export function majorName(major: number): string {
  return IRP_MJ_NAMES[major] ?? `0x${major.toString(16).toUpperCase()}`;
}

/**
 * Parse "DEVICE_CONTROL", "irp_mj_read", "read", "14" or "0xE" into an IRP_MJ_* code, 0..27
 * (IRP_MJ_MAXIMUM_FUNCTION = IRP_MJ_PNP, wdm.h); anything else is a usage error.
 */
export function parseMajor(text: string): number {
  const t = text
    .trim()
    .toUpperCase()
    .replace(/^IRP_MJ_/, "");
  const hint = `use a name such as DEVICE_CONTROL, READ, CREATE, CLEANUP, CLOSE or a number 0..${IRP_MJ_NAMES.length - 1}`;
  let v: number | undefined;
  if (/^0X[0-9A-F]{1,8}$/.test(t)) v = Number.parseInt(t.slice(2), 16);
  else if (/^\d{1,10}$/.test(t)) v = Number(t);
  if (v !== undefined) {
    if (v >= IRP_MJ_NAMES.length) throw usageError(`IRP major function ${text} is out of range (0..${IRP_MJ_NAMES.length - 1})`, hint);
    return v;
  }
  const i = IRP_MJ_NAMES.indexOf(t);
  if (i < 0) throw usageError(`unknown IRP major function "${text}"`, hint);
  return i;
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
const IOCTL_SCSI_PASS_THROUGH = 0x04d004;
const IOCTL_SCSI_PASS_THROUGH_DIRECT = 0x04d014;
/** Offset of Cdb in the x64 SCSI_PASS_THROUGH / SCSI_PASS_THROUGH_DIRECT (ntddscsi.h), bytes. */
const SPT_CDB_OFFSET = 36;

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
  if ((code === IOCTL_SCSI_PASS_THROUGH || code === IOCTL_SCSI_PASS_THROUGH_DIRECT) && head.length > SPT_CDB_OFFSET + 4) {
    const op = head[SPT_CDB_OFFSET]!;
    const b4 = head[SPT_CDB_OFFSET + 4]!;
    if (op === 0x1b) return `START STOP UNIT LoEj=${(b4 >> 1) & 1} Start=${b4 & 1}`;
    if (op === 0x1e) return `PREVENT ALLOW MEDIUM REMOVAL prevent=${b4 & 3}`;
    return `CDB 0x${op.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Filters (client-side: the kernel-side TraceConfig filter is shared by every reader).

export interface TraceFilter {
  drives?: ReadonlySet<number>;
  /** Matches the sending process or the handle's opener. */
  pids?: ReadonlySet<number>;
  majors?: ReadonlySet<number>;
  /** Matches the code as sent or after NormalizeIoctl. */
  ioctls?: ReadonlySet<number>;
}

export function parseFilter(opts: { drive?: string[]; pid?: string[]; major?: string[]; ioctl?: string[] }): TraceFilter {
  const f: TraceFilter = {};
  const ints = (list: string[], what: string, max: number) =>
    new Set(
      list
        .flatMap((s) => s.split(","))
        .map((s) => {
          const v = Number(s.trim());
          if (!Number.isInteger(v) || v < 0 || v > max || s.trim() === "") throw usageError(`--${what} expects integers, got "${s}"`);
          return v;
        }),
    );
  if (opts.drive?.length) f.drives = ints(opts.drive, "drive", 0xffff_ffff);
  if (opts.pid?.length) f.pids = ints(opts.pid, "pid", 0xffff_ffff);
  if (opts.major?.length) f.majors = new Set(opts.major.flatMap((s) => s.split(",")).map(parseMajor));
  if (opts.ioctl?.length) {
    f.ioctls = new Set(
      opts.ioctl
        .flatMap((s) => s.split(","))
        .map((s) => {
          try {
            return parseIoctl(s);
          } catch (e) {
            throw usageError((e as Error).message, "run `cdfilter decode NAME` to check a name");
          }
        }),
    );
  }
  return f;
}

export function filterIsEmpty(f: TraceFilter): boolean {
  return !f.drives && !f.pids && !f.majors && !f.ioctls;
}

export function matchesFilter(r: TraceRecord, f: TraceFilter): boolean {
  if (f.drives && !f.drives.has(r.driveId)) return false;
  if (f.pids && !f.pids.has(r.pid) && !f.pids.has(r.openerPid)) return false;
  if (f.majors && !f.majors.has(r.major)) return false;
  if (f.ioctls && !f.ioctls.has(r.ioctlCode >>> 0) && !f.ioctls.has(r.normalizedCode >>> 0)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// JSON Lines.

/**
 * One record as a JSON line (no trailing newline): the proto3 JSON mapping generated from the
 * schema (TraceRecord.toJson, src/client/json.ts), after `"type":"record"` and followed by the
 * convenience names.
 */
export function recordJsonLine(r: TraceRecord): string {
  const ioctl = r.major === IRP_MJ_DEVICE_CONTROL ? ioctlName(r.ioctlCode) : undefined;
  return TraceRecordCodec.toJsonText(
    r,
    `"type":"record",`,
    `,"majorName":"${majorName(r.major)}"${ioctl ? `,"ioctlName":"${ioctl}"` : ""},"statusName":"${ntStatusName(r.status)}"`,
  );
}

export function droppedJsonLine(count: bigint, afterSeq: bigint): string {
  return `{"type":"dropped","count":"${count}","afterSeq":"${afterSeq}"}`;
}

export function eventJsonLine(ev: TraceEvent): string {
  return ev.type === "record" ? recordJsonLine(ev.record) : droppedJsonLine(ev.count, ev.afterSeq);
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
      if (r.inputHead.length) this.heads.set(r.requestId, r.inputHead);
      if (this.heads.size > 4096) this.heads.delete(this.heads.keys().next().value as bigint);
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
