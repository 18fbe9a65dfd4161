/**
 * Trace records as CSV (`trace --csv`, `export --csv FILE`): RFC 4180 ("Common Format and MIME
 * Type for Comma-Separated Values (CSV) Files", https://www.rfc-editor.org/rfc/rfc4180) with a
 * header row and CRLF line ends, safe to open in a spreadsheet.
 *
 * Quoting (RFC 4180 §2): a cell containing a comma, a double quote, CR or LF is enclosed in
 * double quotes, and each double quote in it doubled.
 * Formula injection (OWASP "CSV Injection"): a cell whose first character is = + - @, TAB or CR
 * would be run as a formula by Excel, LibreOffice or Google Sheets; such a cell gets a leading
 * single quote ("'=cmd|..." shows as text). Every string from the driver is untrusted (an image
 * name is whatever a process calls itself); the numbers we write never start with those.
 * csvCell/csvRow use no Node API; the record formatter names requests as the CLI does.
 */
import type { TraceEvent } from "../client/trace-stream.ts";
import { RecordKind, type TraceRecord } from "../client/gen/cdfilter.ts";
import { hex32 } from "../client/catalog.ts";
import { majorName } from "../client/irp.ts";
import { ntStatusName } from "../client/ntstatus.ts";
import { decodeCdb, formatCdb, passThroughCdb } from "../client/scsi-decode.ts";
import { decisionName, kindName, reasonName, requestName } from "./records.ts";

/** One cell, quoted per RFC 4180 and neutralised against formula injection. */
export function csvCell(value: string | number | bigint | boolean): string {
  if (typeof value !== "string") return String(value); // digits (and "true"/"false") only
  const c = value.charCodeAt(0);
  // = + - @ TAB CR
  const s = c === 0x3d || c === 0x2b || c === 0x2d || c === 0x40 || c === 0x09 || c === 0x0d ? `'${value}` : value;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const NEEDS_QUOTES = /[",\r\n]/;

/** One row without its line end. */
export function csvRow(cells: ReadonlyArray<string | number | bigint | boolean>): string {
  return cells.map(csvCell).join(",");
}

/** Column names, in order (docs/filters.md, "CSV"). */
export const CSV_COLUMNS = [
  "seq",
  "kind",
  "seconds",
  "timestamp",
  "request_id",
  "drive",
  "handle",
  "pid",
  "tid",
  "requestor_pid",
  "opener_pid",
  "image",
  "major",
  "request",
  "ioctl_code",
  "normalized_code",
  "input_length",
  "output_length",
  "status",
  "status_code",
  "information",
  "duration_100ns",
  "decision",
  "reason",
  "secure_total",
  "simple_total",
  "count_released",
  "dropped",
  "cdb",
  "input_head_hex",
] as const;

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Stateful like the human formatter: remembers dispatch input heads (bounded) so a completion
 * row names its request's argument and CDB; `seconds` counts from the first record formatted.
 */
export class CsvFormatter {
  private base: bigint | undefined;
  private readonly heads = new Map<bigint, Uint8Array>();

  constructor(base?: bigint) {
    this.base = base;
  }

  /** Count `seconds` from this timestamp (100 ns) unless a record already set the origin. */
  anchor(timestamp: bigint): void {
    this.base ??= timestamp;
  }

  /** Keep a dispatch's input head (bounded) so its completion row names the argument, also
   * when a filter hides the dispatch itself. */
  remember(r: TraceRecord): void {
    if (r.kind !== RecordKind.RECORD_KIND_DISPATCH || r.inputHead.length === 0) return;
    this.heads.set(r.requestId, r.inputHead);
    if (this.heads.size > 4096) this.heads.delete(this.heads.keys().next().value as bigint);
  }

  /** The header row, with its CRLF. */
  header(): string {
    return csvRow(CSV_COLUMNS) + "\r\n";
  }

  /** One event as a row, with its CRLF. A drop notice is a row of kind DROPPED. */
  format(ev: TraceEvent): string {
    if (ev.type === "dropped") {
      const cells: Array<string | bigint> = CSV_COLUMNS.map(() => "");
      cells[0] = ev.afterSeq;
      cells[1] = "DROPPED";
      cells[CSV_COLUMNS.indexOf("dropped")] = ev.count;
      return csvRow(cells) + "\r\n";
    }
    const r = ev.record;
    this.base ??= r.timestamp;
    let head: Uint8Array | undefined = r.inputHead.length ? r.inputHead : undefined;
    if (r.kind === RecordKind.RECORD_KIND_DISPATCH) {
      this.remember(r);
    } else if (r.kind === RecordKind.RECORD_KIND_COMPLETION) {
      head = this.heads.get(r.requestId);
      this.heads.delete(r.requestId);
    }
    return csvRow(recordCells(r, this.base, head)) + "\r\n";
  }
}

function seconds(ticks: bigint): string {
  const neg = ticks < 0n;
  const t = neg ? -ticks : ticks;
  return `${neg ? "-" : ""}${t / 10_000_000n}.${String(t % 10_000_000n).padStart(7, "0")}`;
}

function recordCells(r: TraceRecord, base: bigint, head: Uint8Array | undefined): Array<string | number | bigint | boolean> {
  const cdb = head ? passThroughCdb(r.ioctlCode, head) : undefined;
  const showStatus = r.kind === RecordKind.RECORD_KIND_COMPLETION || r.status !== 0;
  return [
    r.seq,
    kindName(r.kind).replace(/^RECORD_KIND_/, ""),
    seconds(r.timestamp - base),
    r.timestamp,
    r.requestId,
    r.driveId,
    r.handleId,
    r.pid,
    r.tid,
    r.requestorPid,
    r.openerPid,
    r.openerImage,
    majorName(r.major),
    requestName(r, head),
    r.ioctlCode ? hex32(r.ioctlCode) : "",
    r.normalizedCode ? hex32(r.normalizedCode) : "",
    r.inputLength,
    r.outputLength,
    showStatus ? ntStatusName(r.status) : "",
    showStatus ? hex32(r.status) : "",
    r.information,
    r.duration,
    decisionName(r.decision).replace(/^DECISION_/, ""),
    reasonName(r.reason).replace(/^REASON_/, ""),
    r.secureTotal,
    r.simpleTotal,
    r.countReleased,
    "",
    cdb ? formatCdb(decodeCdb(cdb)) : "",
    r.kind === RecordKind.RECORD_KIND_DISPATCH ? hex(r.inputHead) : "",
  ];
}
