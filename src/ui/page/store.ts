/**
 * The page's record store: columns in typed arrays (about 90 bytes per record, no object per
 * record), so a million records fit in a browser tab and a filter pass over all of them takes
 * milliseconds. Drop notices are kept beside the records, at the position they arrived.
 */
import { COL, type DropNotice, type RowTuple, type U64 } from "../protocol.ts";

type F64 = Float64Array<ArrayBuffer>;
type U32 = Uint32Array<ArrayBuffer>;
type U8 = Uint8Array<ArrayBuffer>;

export interface Gap {
  /** records that never reached this page */
  count: number;
  afterSeq: number;
  why: DropNotice["why"];
  /** index of the first record stored after the gap */
  beforeRow: number;
}

/** One record, materialised for the details pane. 64-bit fields exact as strings. */
export interface RecordView {
  row: number;
  seq: string;
  kind: number;
  requestId: string;
  timestamp: string;
  driveId: number;
  handleId: string;
  pid: number;
  tid: number;
  requestorPid: number;
  openerPid: number;
  openerImage: string;
  major: number;
  minor: number;
  ioctlCode: number;
  normalizedCode: number;
  inputLength: number;
  outputLength: number;
  inputHead: Uint8Array;
  truncated: boolean;
  status: number;
  information: string;
  duration: string;
  decision: number;
  reason: number;
  secureTotal: number;
  simpleTotal: number;
  countReleased: number;
  outputHead: Uint8Array;
  outputTruncated: boolean;
}

const f64 = (n: number): F64 => new Float64Array(n);

function fromBase64(b64: string | undefined): Uint8Array {
  if (!b64) return new Uint8Array(0);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
const u32 = (n: number): U32 => new Uint32Array(n);
const u8 = (n: number): U8 => new Uint8Array(n);

export class Store {
  length = 0;
  private cap = 0;
  seq: F64 = f64(0);
  requestId: F64 = f64(0);
  ts: F64 = f64(0);
  handle: F64 = f64(0);
  information: F64 = f64(0);
  duration: F64 = f64(0);
  kind: U8 = u8(0);
  major: U8 = u8(0);
  minor: U8 = u8(0);
  decision: U8 = u8(0);
  reason: U8 = u8(0);
  truncated: U8 = u8(0);
  drive: U32 = u32(0);
  pid: U32 = u32(0);
  tid: U32 = u32(0);
  requestorPid: U32 = u32(0);
  openerPid: U32 = u32(0);
  image: U32 = u32(0);
  ioctl: U32 = u32(0);
  norm: U32 = u32(0);
  inLen: U32 = u32(0);
  outLen: U32 = u32(0);
  status: U32 = u32(0);
  secureTotal: U32 = u32(0);
  simpleTotal: U32 = u32(0);
  released: U32 = u32(0);
  /** Captured input heads (base64), only for records that have one. */
  heads = new Map<number, string>();
  /** Captured output heads (base64) and their truncation, only for records that have one. */
  outHeads = new Map<number, { b64: string; truncated: boolean }>();
  /** 64-bit values above 2^53-1, exact: key `${col}:${row}`. */
  exact = new Map<string, string>();
  /** Interned image names (untrusted text). */
  images: string[] = [""];
  private imageIds = new Map<string, number>([["", 0]]);
  gaps: Gap[] = [];
  droppedTotal = 0;

  private grow(min: number): void {
    let cap = Math.max(1024, this.cap);
    while (cap < min) cap *= 2;
    if (cap === this.cap) return;
    const g = <T extends F64 | U32 | U8>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.seq = g(this.seq, f64);
    this.requestId = g(this.requestId, f64);
    this.ts = g(this.ts, f64);
    this.handle = g(this.handle, f64);
    this.information = g(this.information, f64);
    this.duration = g(this.duration, f64);
    this.kind = g(this.kind, u8);
    this.major = g(this.major, u8);
    this.minor = g(this.minor, u8);
    this.decision = g(this.decision, u8);
    this.reason = g(this.reason, u8);
    this.truncated = g(this.truncated, u8);
    this.drive = g(this.drive, u32);
    this.pid = g(this.pid, u32);
    this.tid = g(this.tid, u32);
    this.requestorPid = g(this.requestorPid, u32);
    this.openerPid = g(this.openerPid, u32);
    this.image = g(this.image, u32);
    this.ioctl = g(this.ioctl, u32);
    this.norm = g(this.norm, u32);
    this.inLen = g(this.inLen, u32);
    this.outLen = g(this.outLen, u32);
    this.status = g(this.status, u32);
    this.secureTotal = g(this.secureTotal, u32);
    this.simpleTotal = g(this.simpleTotal, u32);
    this.released = g(this.released, u32);
    this.cap = cap;
  }

  private num(v: U64, col: number, row: number): number {
    if (typeof v === "number") return v;
    this.exact.set(`${col}:${row}`, v);
    return Number(v);
  }

  private str64(col: number, row: number, arr: F64): string {
    return this.exact.get(`${col}:${row}`) ?? String(arr[row]);
  }

  imageId(name: string): number {
    let id = this.imageIds.get(name);
    if (id === undefined) {
      id = this.images.length;
      this.images.push(name);
      this.imageIds.set(name, id);
    }
    return id;
  }

  /** Append records; returns the index of the first one. */
  append(rows: readonly RowTuple[]): number {
    const first = this.length;
    if (first + rows.length > this.cap) this.grow(first + rows.length);
    let i = first;
    for (const t of rows) {
      this.seq[i] = this.num(t[COL.seq], COL.seq, i);
      this.kind[i] = t[COL.kind];
      this.requestId[i] = this.num(t[COL.requestId], COL.requestId, i);
      this.ts[i] = this.num(t[COL.timestamp], COL.timestamp, i);
      this.drive[i] = t[COL.driveId];
      this.handle[i] = this.num(t[COL.handleId], COL.handleId, i);
      this.pid[i] = t[COL.pid];
      this.tid[i] = t[COL.tid];
      this.requestorPid[i] = t[COL.requestorPid];
      this.openerPid[i] = t[COL.openerPid];
      this.image[i] = this.imageId(t[COL.openerImage]);
      this.major[i] = t[COL.major];
      this.minor[i] = t[COL.minor];
      this.ioctl[i] = t[COL.ioctlCode];
      this.norm[i] = t[COL.normalizedCode];
      this.inLen[i] = t[COL.inputLength];
      this.outLen[i] = t[COL.outputLength];
      if (t[COL.inputHead]) this.heads.set(i, t[COL.inputHead]);
      this.truncated[i] = t[COL.truncated];
      this.status[i] = t[COL.status];
      this.information[i] = this.num(t[COL.information], COL.information, i);
      this.duration[i] = this.num(t[COL.duration], COL.duration, i);
      this.decision[i] = t[COL.decision];
      this.reason[i] = t[COL.reason];
      this.secureTotal[i] = t[COL.secureTotal];
      this.simpleTotal[i] = t[COL.simpleTotal];
      this.released[i] = t[COL.countReleased];
      if (t[COL.outputHead]) this.outHeads.set(i, { b64: t[COL.outputHead], truncated: t[COL.outputTruncated] === 1 });
      i++;
    }
    this.length = i;
    return first;
  }

  addGap(n: DropNotice): Gap {
    const g: Gap = { count: Number(n.count), afterSeq: Number(n.afterSeq), why: n.why, beforeRow: this.length };
    this.gaps.push(g);
    this.droppedTotal += g.count;
    return g;
  }

  head(row: number): Uint8Array {
    return fromBase64(this.heads.get(row));
  }

  outputHead(row: number): Uint8Array {
    return fromBase64(this.outHeads.get(row)?.b64);
  }

  /** A 64-bit column's exact value (the typed array holds a double). */
  exactU64(col: "seq" | "timestamp" | "handleId" | "requestId", row: number): bigint {
    const arr = col === "seq" ? this.seq : col === "timestamp" ? this.ts : col === "handleId" ? this.handle : this.requestId;
    const exact = this.exact.get(`${COL[col]}:${row}`);
    return exact !== undefined ? BigInt(exact) : BigInt(arr[row]!);
  }

  record(row: number): RecordView {
    return {
      row,
      seq: this.str64(COL.seq, row, this.seq),
      kind: this.kind[row]!,
      requestId: this.str64(COL.requestId, row, this.requestId),
      timestamp: this.str64(COL.timestamp, row, this.ts),
      driveId: this.drive[row]!,
      handleId: this.str64(COL.handleId, row, this.handle),
      pid: this.pid[row]!,
      tid: this.tid[row]!,
      requestorPid: this.requestorPid[row]!,
      openerPid: this.openerPid[row]!,
      openerImage: this.images[this.image[row]!] ?? "",
      major: this.major[row]!,
      minor: this.minor[row]!,
      ioctlCode: this.ioctl[row]!,
      normalizedCode: this.norm[row]!,
      inputLength: this.inLen[row]!,
      outputLength: this.outLen[row]!,
      inputHead: this.head(row),
      truncated: this.truncated[row] === 1,
      status: this.status[row]!,
      information: this.str64(COL.information, row, this.information),
      duration: this.str64(COL.duration, row, this.duration),
      decision: this.decision[row]!,
      reason: this.reason[row]!,
      secureTotal: this.secureTotal[row]!,
      simpleTotal: this.simpleTotal[row]!,
      countReleased: this.released[row]!,
      outputHead: this.outputHead(row),
      outputTruncated: this.outHeads.get(row)?.truncated === true,
    };
  }

  /**
   * The other half of a request: the COMPLETION of a DISPATCH or the reverse (same requestId,
   * nonzero), searched near the record (a completion follows its dispatch); -1 when not stored.
   */
  pair(row: number, span = 200_000): number {
    const id = this.requestId[row]!;
    const k = this.kind[row];
    if (!id || (k !== 1 && k !== 2)) return -1;
    const want = k === 1 ? 2 : 1;
    if (k === 1) {
      const end = Math.min(this.length, row + span);
      for (let i = row + 1; i < end; i++)
        if (this.requestId[i] === id && this.kind[i] === want && this.drive[i] === this.drive[row]) return i;
    } else {
      const end = Math.max(0, row - span);
      for (let i = row - 1; i >= end; i--)
        if (this.requestId[i] === id && this.kind[i] === want && this.drive[i] === this.drive[row]) return i;
    }
    return -1;
  }

  /** Nearest row whose timestamp is at or after `t` (binary search; timestamps ascend with seq). */
  rowAtTime(t: number): number {
    let lo = 0;
    let hi = this.length - 1;
    if (hi < 0) return -1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Approximate bytes held by the columns. */
  bytes(): number {
    return this.cap * (6 * 8 + 6 + 16 * 4);
  }
}
