/**
 * Names and text for the page: IRP majors, request phrases like the CLI line
 * (src/cli/records.ts, requestName), times, hex dumps, and a SCSI CDB decode for pass-through
 * records. Everything returned is plain text: the page renders it as text nodes only.
 */
import { ioctlName } from "../../client/catalog.ts";
import { Decision, Reason, RecordKind } from "../../client/gen/cdfilter.ts";
import { ntStatusName } from "../../client/ntstatus.ts";

/** IRP major function codes (wdm.h, IRP_MJ_*). */
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

export const majorName = (m: number): string => IRP_MJ_NAMES[m] ?? `0x${m.toString(16).toUpperCase()}`;
export const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
export const statusName = (s: number): string => ntStatusName(s >>> 0);
/** NT_SUCCESS and informational (severity 0 or 1). */
export const statusOk = (s: number): boolean => s >>> 30 <= 1;

const enumName = (e: object, v: number, prefix: string): string => {
  const n = (e as Record<number, string>)[v];
  return n ? n.replace(prefix, "") : String(v);
};
export const kindName = (v: number): string => enumName(RecordKind, v, "RECORD_KIND_");
export const decisionName = (v: number): string => enumName(Decision, v, "DECISION_");
export const reasonName = (v: number): string => enumName(Reason, v, "REASON_");

export const KIND_NAMES = Object.keys(RecordKind).filter((k) => Number.isNaN(Number(k)));
export const DECISION_NAMES = Object.keys(Decision).filter((k) => Number.isNaN(Number(k)));
export const REASON_NAMES = Object.keys(Reason).filter((k) => Number.isNaN(Number(k)));

const IOCTL_STORAGE_EJECTION_CONTROL = 0x2d0940;
const IOCTL_STORAGE_MEDIA_REMOVAL = 0x2d4804;
const IOCTL_SCSI_PASS_THROUGH = 0x04d004;
const IOCTL_SCSI_PASS_THROUGH_DIRECT = 0x04d014;
const IOCTL_SCSI_PASS_THROUGH_EX = 0x04d044;
const IOCTL_SCSI_PASS_THROUGH_DIRECT_EX = 0x04d048;
/** Offset of Cdb in the x64 SCSI_PASS_THROUGH / _DIRECT (ntddscsi.h), bytes. */
const SPT_CDB_OFFSET = 36;
const SPT_CDB_LENGTH_OFFSET = 6;
/** SCSI_PASS_THROUGH_EX (ntddscsi.h): CdbLength at 12, Cdb[] at 72 on x64. */
const SPTX_CDB_LENGTH_OFFSET = 12;
const SPTX_CDB_OFFSET = 72;

/** The CDB inside a pass-through input head, or undefined. */
export function passThroughCdb(code: number, head: Uint8Array): Uint8Array | undefined {
  const c = code >>> 0;
  if (c === IOCTL_SCSI_PASS_THROUGH || c === IOCTL_SCSI_PASS_THROUGH_DIRECT) {
    if (head.length <= SPT_CDB_OFFSET) return undefined;
    const n = Math.min(16, head[SPT_CDB_LENGTH_OFFSET] ?? 0) || 16;
    return head.subarray(SPT_CDB_OFFSET, Math.min(head.length, SPT_CDB_OFFSET + n));
  }
  if (c === IOCTL_SCSI_PASS_THROUGH_EX || c === IOCTL_SCSI_PASS_THROUGH_DIRECT_EX) {
    if (head.length <= SPTX_CDB_OFFSET) return undefined;
    const n = Math.min(16, head[SPTX_CDB_LENGTH_OFFSET] ?? 0) || 16;
    return head.subarray(SPTX_CDB_OFFSET, Math.min(head.length, SPTX_CDB_OFFSET + n));
  }
  return undefined;
}

const be16 = (b: Uint8Array, o: number) => ((b[o] ?? 0) << 8) | (b[o + 1] ?? 0);
const be32 = (b: Uint8Array, o: number) => (((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0;

/** MMC/SPC operation codes (SPC-4, MMC-6) a CD/DVD stack sends. */
const OPCODES: Record<number, string> = {
  0: "TEST UNIT READY",
  3: "REQUEST SENSE",
  18: "INQUIRY",
  27: "START STOP UNIT",
  30: "PREVENT ALLOW MEDIUM REMOVAL",
  37: "READ CAPACITY(10)",
  40: "READ(10)",
  42: "WRITE(10)",
  53: "SYNCHRONIZE CACHE(10)",
  67: "READ TOC/PMA/ATIP",
  70: "GET CONFIGURATION",
  74: "GET EVENT STATUS NOTIFICATION",
  81: "READ DISC INFORMATION",
  82: "READ TRACK INFORMATION",
  84: "SEND OPC INFORMATION",
  85: "MODE SELECT(10)",
  90: "MODE SENSE(10)",
  91: "CLOSE TRACK/SESSION",
  168: "READ(12)",
  170: "WRITE(12)",
  173: "READ DISC STRUCTURE",
  182: "SET STREAMING",
  187: "SET CD SPEED",
  190: "READ CD",
};

/** "START STOP UNIT LoEj=1 Start=0" and similar: the opcode name and the fields that matter. */
export function decodeCdb(cdb: Uint8Array): string {
  const op = cdb[0] ?? 0;
  const name = OPCODES[op] ?? `opcode 0x${op.toString(16).toUpperCase().padStart(2, "0")}`;
  const b = (i: number) => cdb[i] ?? 0;
  switch (op) {
    case 0x1b:
      return `${name} Immed=${b(1) & 1} PowerCondition=${b(4) >> 4} LoEj=${(b(4) >> 1) & 1} Start=${b(4) & 1}`;
    case 0x1e:
      return `${name} Persistent=${(b(4) >> 1) & 1} Prevent=${b(4) & 1}`;
    case 0x28:
    case 0x2a:
      return `${name} LBA=${be32(cdb, 2)} blocks=${be16(cdb, 7)}`;
    case 0xa8:
    case 0xaa:
      return `${name} LBA=${be32(cdb, 2)} blocks=${be32(cdb, 6)}`;
    case 0x43:
      return `${name} MSF=${(b(1) >> 1) & 1} format=${b(2) & 0xf} track=${b(6)} alloc=${be16(cdb, 7)}`;
    case 0x46:
      return `${name} RT=${b(1) & 3} feature=0x${be16(cdb, 2).toString(16).padStart(4, "0")} alloc=${be16(cdb, 7)}`;
    case 0x5a:
    case 0x55:
      return `${name} page=0x${(b(2) & 0x3f).toString(16).padStart(2, "0")} PC=${b(2) >> 6} length=${be16(cdb, 7)}`;
    case 0x5b:
      return `${name} function=${b(2) & 7} track=${be16(cdb, 4)}`;
    case 0xbb:
      return `${name} read=${be16(cdb, 2)} kB/s write=${be16(cdb, 4)} kB/s`;
    case 0x54:
      return `${name} DoOpc=${b(1) & 1}`;
    case 0x12:
      return `${name} EVPD=${b(1) & 1} page=0x${b(2).toString(16).padStart(2, "0")} alloc=${be16(cdb, 3)}`;
    default:
      return name;
  }
}

/** What a request is, in one phrase (as the CLI line): "IOCTL_STORAGE_EJECTION_CONTROL TRUE". */
export function requestName(major: number, code: number, head: Uint8Array | undefined): string {
  if (major !== 0x0e && major !== 0x0f) return majorName(major);
  if (major === 0x0f) return "INTERNAL_DEVICE_CONTROL";
  const name = ioctlName(code) ?? `DEVICE_CONTROL ${hex32(code)}`;
  if (!head || head.length === 0) return name;
  const n = code >>> 0;
  if ((n === IOCTL_STORAGE_EJECTION_CONTROL || n === IOCTL_STORAGE_MEDIA_REMOVAL || n === 0x24804) && head.length >= 1) {
    return `${name} ${head[0] ? "TRUE" : "FALSE"}`;
  }
  const cdb = passThroughCdb(code, head);
  return cdb ? `${name} ${decodeCdb(cdb)}` : name;
}

/** 100 ns ticks as seconds with 6 decimals. */
export function seconds(ticks: number): string {
  return `${(ticks / 1e7).toFixed(6)}s`;
}

/** 100 ns ticks as a short duration: "800ns", "12.3µs", "4.56ms", "1.20s". */
export function duration(ticks: number): string {
  const ns = ticks * 100;
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(1)}µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(2)}ms`;
  return `${(ns / 1_000_000_000).toFixed(2)}s`;
}

/** Classic 16-bytes-a-line hex dump with offsets and printable ASCII. */
export function hexDump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let o = 0; o < b.length; o += 16) {
    const chunk = b.subarray(o, o + 16);
    const hex = Array.from(chunk, (x) => x.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(chunk, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : ".")).join("");
    lines.push(`${o.toString(16).padStart(4, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}
