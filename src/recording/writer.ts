/**
 * RecordingWriter: a live trace to a pcapng recording (docs/recording.md), durable and rotated.
 *
 * Each file (part) of a recording:
 *   Section Header Block   shb_hardware = host name, shb_os, shb_userappl = "cdfilter <version>"
 *   Interface 0            LINKTYPE_USER0 (147), if_tsresol 10^-7: one packet per TraceRecord,
 *                          its protobuf encoding (proto/cdfilter/trace.proto)
 *   Interface 1            LINKTYPE_USER1 (148): one packet per drop notice, a TraceBatch with
 *                          no records: dropped = count, next_cursor = afterSeq + count, reset
 *   Custom Block           the recording header (header.ts), JSON
 *   Enhanced Packet Blocks records and drops in seq order, timestamps in 100 ns since 1970
 *   Interface Statistics   at a clean close: records (isb_ifrecv) and dropped (isb_ifdrop)
 *
 * Durability: blocks are built in memory and written with one write(2) per flush; `flush()` is
 * called by the recorder whenever the stream has nothing buffered. A recorder killed at any
 * point leaves every block of earlier flushes readable; the reader reports the cut block as a
 * torn tail. Rotation: when a part would grow past `maxSize` bytes the writer closes it and
 * starts part n+1 (`run.pcapng`, `run.1.pcapng`, `run.2.pcapng`, ...); with `maxFiles` only the
 * newest parts are kept.
 */
import { closeSync, openSync, readdirSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { TraceBatch, type TraceEvent, TraceRecord } from "../client/index.ts";
import { type RecordingHeader, encodeHeader, unixTicks } from "./header.ts";
import {
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSRESOL,
  LINKTYPE_USER0,
  LINKTYPE_USER1,
  SHB_HARDWARE,
  SHB_OS,
  SHB_USERAPPL,
  customBlock,
  epbSize,
  interfaceDescription,
  interfaceStatistics,
  sectionHeader,
  stringOption,
  writeEpb,
} from "./pcapng.ts";

export const RECORDS_IFACE = 0;
export const DROPS_IFACE = 1;
const WRITER_VERSION = "0.1.0";
/** Bytes buffered before a write(2) even when the recorder does not ask for a flush. */
const BUFFER_BYTES = 1 << 20;
/** Size of the Interface Statistics Block finishPart writes (4 options of 8 bytes). */
const ISB_BYTES = 76;

export interface WriterOptions {
  /** Largest part in bytes (0 = no rotation). At least one record always goes into a part. */
  maxSize?: number;
  /** Parts kept (0 = all). */
  maxFiles?: number;
  /** os name for shb_os. */
  os?: string;
}

export interface WriterStats {
  records: number;
  dropped: bigint;
  /** Bytes written over every part. */
  bytes: number;
  /** Parts opened. */
  parts: number;
  /** Paths of the parts still on disk. */
  files: string[];
}

/** Path of part n: part 0 is the path given; part n inserts ".n" before the extension. */
export function partPath(path: string, part: number): string {
  if (part === 0) return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.${part}${ext}`;
}

/** Paths of existing parts 1.. of `path` (not part 0), by part number. */
export function existingParts(path: string): { part: number; path: string }[] {
  const ext = extname(path);
  const stem = basename(path, ext);
  const dir = dirname(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: { part: number; path: string }[] = [];
  for (const n of names) {
    if (!n.startsWith(`${stem}.`) || !n.endsWith(ext)) continue;
    const mid = n.slice(stem.length + 1, n.length - ext.length);
    if (/^[1-9]\d{0,8}$/.test(mid)) out.push({ part: Number(mid), path: join(dir, n) });
  }
  return out.sort((a, b) => a.part - b.part);
}

export class RecordingWriter {
  readonly stats: WriterStats = { records: 0, dropped: 0n, bytes: 0, parts: 0, files: [] };
  private fd = -1;
  private part = -1;
  private partBytes = 0;
  private partRecords = 0n;
  private partDropped = 0n;
  private partHasDrops = false;
  private firstTs = 0n;
  private lastTs = 0n;
  private lastSeq = 0n;
  private readonly buf = new Uint8Array(BUFFER_BYTES);
  private readonly view = new DataView(this.buf.buffer);
  private used = 0;
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly header: RecordingHeader,
    private readonly opts: WriterOptions,
  ) {
    this.offset = unixTicks(0n, header) ?? 0n;
  }

  /**
   * Create part 0 (truncating `path`; stale parts 1.. of an earlier recording at the same path
   * are deleted so that a reader never mixes them in) and write its header. Throws the fs error.
   */
  static create(path: string, header: Omit<RecordingHeader, "part">, opts: WriterOptions = {}): RecordingWriter {
    for (const p of existingParts(path)) unlinkSync(p.path);
    const w = new RecordingWriter(path, { ...header, part: 0 }, opts);
    w.lastSeq = header.afterSeq;
    w.openPart(0);
    return w;
  }

  /** Driver ticks to 100 ns since 1970 (header.ts unixTicks), the offset computed once. */
  private readonly offset: bigint;

  private ticks(ts: bigint): bigint {
    return ts + this.offset;
  }

  private openPart(part: number): void {
    const file = partPath(this.path, part);
    this.fd = openSync(file, "w");
    this.part = part;
    this.partBytes = 0;
    this.partRecords = 0n;
    this.partDropped = 0n;
    this.partHasDrops = false;
    this.stats.parts++;
    this.stats.files.push(file);
    const h = this.header;
    const head = [
      sectionHeader([
        stringOption(SHB_HARDWARE, h.host),
        stringOption(SHB_OS, this.opts.os ?? process.platform),
        stringOption(SHB_USERAPPL, `cdfilter ${WRITER_VERSION}`),
      ]),
      interfaceDescription(LINKTYPE_USER0, [
        stringOption(IF_NAME, `cdfilter:${h.host}:${h.instance}`),
        stringOption(IF_DESCRIPTION, `cdfilter trace records (cdfilter.TraceRecord), ${h.hostKind} ${h.driverVersion}`),
        { code: IF_TSRESOL, value: Uint8Array.of(7) },
      ]),
      interfaceDescription(LINKTYPE_USER1, [
        stringOption(IF_NAME, `cdfilter-drops:${h.host}:${h.instance}`),
        stringOption(IF_DESCRIPTION, "cdfilter drop notices (cdfilter.TraceBatch without records)"),
        { code: IF_TSRESOL, value: Uint8Array.of(7) },
      ]),
      customBlock(encodeHeader({ ...h, part, afterSeq: this.lastSeq })),
    ];
    for (const b of head) this.put(b);
    this.flush();
    if (this.opts.maxFiles && this.opts.maxFiles > 0) {
      const old = part - this.opts.maxFiles;
      if (old >= 0) {
        const gone = partPath(this.path, old);
        try {
          unlinkSync(gone);
        } catch {
          // already gone
        }
        this.stats.files = this.stats.files.filter((f) => f !== gone);
      }
    }
  }

  private put(b: Uint8Array): void {
    if (this.used + b.length > this.buf.length) this.flush();
    if (b.length > this.buf.length) {
      this.writeAll(b);
      return;
    }
    this.buf.set(b, this.used);
    this.used += b.length;
  }

  private writeAll(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.partBytes += b.length;
    this.stats.bytes += b.length;
  }

  /** Room for a block of `size` bytes in this part, else the next part. */
  private reserve(size: number): void {
    const max = this.opts.maxSize ?? 0;
    // Room for the block and the Interface Statistics Block that closes the part.
    if (max > 0 && (this.partRecords > 0n || this.partHasDrops) && this.partBytes + this.used + size + ISB_BYTES > max) this.rotate();
    if (this.used + size > this.buf.length) this.flush();
  }

  private rotate(): void {
    this.finishPart();
    this.openPart(this.part + 1);
  }

  /** Append a record (the protobuf encoding is computed here). */
  record(r: TraceRecord): void {
    this.recordEncoded(r.seq, r.timestamp, TraceRecord.encode(r));
  }

  /** Append a record already encoded as a TraceRecord. */
  recordEncoded(seq: bigint, timestamp: bigint, data: Uint8Array): void {
    const size = epbSize(data.length);
    this.reserve(size);
    const ts = this.ticks(timestamp);
    if (this.partRecords === 0n && !this.partHasDrops) this.firstTs = ts;
    this.lastTs = ts;
    if (size > this.buf.length) {
      const b = new Uint8Array(size);
      writeEpb(new DataView(b.buffer), 0, RECORDS_IFACE, ts, data, b);
      this.writeAll(b);
    } else {
      this.used = writeEpb(this.view, this.used, RECORDS_IFACE, ts, data, this.buf);
    }
    this.partRecords++;
    this.stats.records++;
    this.lastSeq = seq;
  }

  /** Append a drop notice: `count` records after `afterSeq` never reached the recorder. */
  dropped(count: bigint, afterSeq: bigint, reset = false): void {
    const data = TraceBatch.encode(TraceBatch.create({ dropped: count, nextCursor: afterSeq + count, reset }));
    this.reserve(epbSize(data.length));
    if (this.partRecords === 0n && !this.partHasDrops) this.firstTs = this.lastTs;
    this.used = writeEpb(this.view, this.used, DROPS_IFACE, this.lastTs, data, this.buf);
    this.partDropped += count > 0n ? count : 0n;
    this.partHasDrops = true;
    this.stats.dropped += count;
    this.lastSeq = afterSeq + count;
  }

  event(ev: TraceEvent): void {
    if (ev.type === "record") this.record(ev.record);
    else this.dropped(ev.count, ev.afterSeq, ev.reset === true);
  }

  /** Write what is buffered (one write(2)). */
  flush(): void {
    if (this.used === 0 || this.fd < 0) return;
    this.writeAll(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private finishPart(): void {
    this.flush();
    this.put(
      interfaceStatistics(RECORDS_IFACE, this.lastTs, {
        start: this.firstTs,
        end: this.lastTs,
        received: this.partRecords,
        dropped: this.partDropped,
      }),
    );
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Flush, write the interface statistics and close. Idempotent. */
  close(): WriterStats {
    if (!this.closed) {
      this.closed = true;
      this.finishPart();
    }
    return this.stats;
  }
}
