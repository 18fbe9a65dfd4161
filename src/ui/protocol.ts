/**
 * What the `cdfilter ui` server sends the page: pure TypeScript (no Node imports), used by the
 * server (src/ui/server.ts) and bundled into the page (src/ui/page/).
 *
 * The stream is Server-Sent Events on GET /api/stream (docs/ui.md, "Stream"). Events:
 *   `hello`   {@link Hello}: once, first
 *   `rows`    {@link RowsFrame}: trace records as compact tuples (one array per record)
 *   `dropped` {@link DropNotice}: records that will never reach this page, with why
 *   `ledger`  {@link LedgerView}: who holds what on every drive (sent when it changes)
 *   `end`     `{}`: a file source was sent whole
 *
 * 64-bit integers travel as JSON numbers when they are at most 2^53-1, else as decimal strings.
 */

/** Column order of a row tuple. Times are the driver's monotonic clock in 100 ns units. */
export const COL = {
  seq: 0,
  kind: 1,
  requestId: 2,
  timestamp: 3,
  driveId: 4,
  handleId: 5,
  pid: 6,
  tid: 7,
  requestorPid: 8,
  openerPid: 9,
  openerImage: 10,
  major: 11,
  minor: 12,
  ioctlCode: 13,
  normalizedCode: 14,
  inputLength: 15,
  outputLength: 16,
  /** base64 of the captured input head ("" when none) */
  inputHead: 17,
  /** 0 or 1 */
  truncated: 18,
  status: 19,
  information: 20,
  duration: 21,
  decision: 22,
  reason: 23,
  secureTotal: 24,
  simpleTotal: 25,
  countReleased: 26,
  /** base64 of the captured output head (completions, protocol version 2; "" when none) */
  outputHead: 27,
  /** 0 or 1 */
  outputTruncated: 28,
} as const;
export const COL_COUNT = 29;

/** A 64-bit unsigned value on the wire. */
export type U64 = number | string;

/** One trace record (see {@link COL}). */
export type RowTuple = [
  U64, // seq
  number, // kind
  U64, // requestId
  U64, // timestamp
  number, // driveId
  U64, // handleId
  number, // pid
  number, // tid
  number, // requestorPid
  number, // openerPid
  string, // openerImage (untrusted text)
  number, // major
  number, // minor
  number, // ioctlCode
  number, // normalizedCode
  number, // inputLength
  number, // outputLength
  string, // inputHead base64
  number, // truncated 0/1
  number, // status
  U64, // information
  U64, // duration
  number, // decision
  number, // reason
  number, // secureTotal
  number, // simpleTotal
  number, // countReleased
  string, // outputHead base64
  number, // outputTruncated 0/1
];

export interface RowsFrame {
  rows: RowTuple[];
}

/**
 * `count` records after `afterSeq` are missing from this page's view. `why`:
 * "ring" (the driver's trace ring overwrote them before the server read them),
 * "slow-client" (this browser read too slowly: the server's bounded history moved past it),
 * "reset" (the driver's ring restarted; count 0).
 */
export interface DropNotice {
  count: U64;
  afterSeq: U64;
  why: "ring" | "slow-client" | "reset";
}

export interface Hello {
  /** "live" (driver or simulator) or "file" */
  source: "live" | "file";
  /** What is shown: "simulator (embedded ...)" or a file name. Untrusted when from a file. */
  title: string;
  /** Actions (policy, clear trace) are enabled for this run. */
  actions: boolean;
  /** Drive ids and names known at start (live sources). */
  drives: { driveId: number; name: string; policy: string }[];
  /** Server version of this protocol. */
  version: 1;
}

export interface OwnerView {
  handleId: U64;
  pid: number;
  imageName: string;
  secureCount: number;
  simpleCount: number;
  mcnCount: number;
  exclusive: boolean;
  /** monotonic 100 ns time of its first lock still held */
  since: U64;
  /** Why this owner would make IOCTL_STORAGE_EJECT_MEDIA fail, or "" */
  blocksEject: string;
}

export interface DriveView {
  driveId: number;
  name: string;
  policy: string;
  secureTotal: number;
  simpleTotal: number;
  mcnTotal: number;
  foreignUnlocks: U64;
  denials: U64;
  owners: OwnerView[];
  ownersTruncated: boolean;
}

export interface LedgerView {
  /** monotonic 100 ns time of the snapshot */
  takenAt: U64;
  /** newest trace seq at snapshot time */
  seq: U64;
  drives: DriveView[];
  /** "driver" for a live ledger; "trace" when rebuilt from a file's records */
  from: "driver" | "trace";
}

/** A 64-bit integer (bigint) to its wire form. */
export function u64(v: bigint): U64 {
  return v <= 9007199254740991n ? Number(v) : v.toString();
}

/**
 * Why an owner blocks an eject (cdrom.sys sample, storage/class/cdrom/src/ioctl.c: an
 * IOCTL_STORAGE_EJECT_MEDIA is refused with STATUS_DEVICE_BUSY while a secure
 * IOCTL_STORAGE_EJECTION_CONTROL lock is held; a PREVENT ALLOW MEDIUM REMOVAL prevent state from
 * IOCTL_STORAGE_MEDIA_REMOVAL makes the drive itself refuse START STOP UNIT LoEj=1).
 */
export function blocksEjectText(o: { secureCount: number; simpleCount: number }): string {
  const parts: string[] = [];
  if (o.secureCount > 0) parts.push(`secure lock x${o.secureCount}: cdrom.sys refuses IOCTL_STORAGE_EJECT_MEDIA (STATUS_DEVICE_BUSY)`);
  if (o.simpleCount > 0) parts.push(`media removal prevented x${o.simpleCount}: the drive refuses to open the tray`);
  return parts.join("; ");
}
