/**
 * Names and text for the page: request phrases like the CLI line (src/cli/records.ts,
 * requestName), times, hex dumps; IRP majors (src/client/irp.ts) and the SCSI CDB decode
 * (src/client/scsi-decode.ts) are the shared modules. Everything returned is plain text: the page renders it as text nodes only.
 */
import { ioctlName } from "../../client/catalog.ts";
import { Decision, Reason, RecordKind } from "../../client/gen/cdfilter.ts";
import { IRP_MJ_NAMES, majorName } from "../../client/irp.ts";
import { ntStatusName } from "../../client/ntstatus.ts";
import { decodeCdb, formatCdb, passThroughCdb } from "../../client/scsi-decode.ts";

export { IRP_MJ_NAMES, majorName };
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
const IOCTL_CDROM_MEDIA_REMOVAL = 0x24804;

/** The CDB of a pass-through input head as one phrase (src/client/scsi-decode.ts), or undefined. */
export function cdbText(code: number, head: Uint8Array): string | undefined {
  const cdb = passThroughCdb(code, head);
  return cdb && cdb.length > 0 ? formatCdb(decodeCdb(cdb)) : undefined;
}

/** What a request is, in one phrase (as the CLI line): "IOCTL_STORAGE_EJECTION_CONTROL TRUE". */
export function requestName(major: number, code: number, head: Uint8Array | undefined): string {
  if (major !== 0x0e && major !== 0x0f) return majorName(major);
  if (major === 0x0f) return "INTERNAL_DEVICE_CONTROL";
  const name = ioctlName(code) ?? `DEVICE_CONTROL ${hex32(code)}`;
  if (!head || head.length === 0) return name;
  const n = code >>> 0;
  if ((n === IOCTL_STORAGE_EJECTION_CONTROL || n === IOCTL_STORAGE_MEDIA_REMOVAL || n === IOCTL_CDROM_MEDIA_REMOVAL) && head.length >= 1) {
    return `${name} ${head[0] ? "TRUE" : "FALSE"}`;
  }
  const cdb = cdbText(code, head);
  return cdb ? `${name} ${cdb}` : name;
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
