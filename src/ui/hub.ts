/**
 * The server's history and fan-out: what a source produced, encoded once into SSE frames, kept
 * in a ring bounded in bytes, and read by every connected page at its own pace.
 *
 * Back-pressure: a page's reader awaits each write (the socket's drain), so nothing queues per
 * page. A page that reads slower than the source produces falls behind; once the ring evicts
 * frames it has not read, it gets one `dropped` notice (why "slow-client") with the number of
 * records it lost, and goes on from the oldest frame still kept. Memory stays at `maxBytes` plus
 * one frame per page in flight.
 */
import type { TraceEvent } from "../client/index.ts";
import { type DropNotice, type LedgerView, type RowTuple, u64 } from "./protocol.ts";

export interface Frame {
  /** SSE event name */
  event: "rows" | "dropped" | "end";
  /** JSON text (no newline) */
  data: string;
  /** records in this frame */
  records: number;
  /** records in every frame before this one */
  recordsBefore: number;
  /** seq of the last record in this frame, or of the drop's end */
  lastSeq: bigint;
}

export function rowTuple(r: Extract<TraceEvent, { type: "record" }>["record"]): RowTuple {
  return [
    u64(r.seq),
    r.kind,
    u64(r.requestId),
    u64(r.timestamp),
    r.driveId,
    u64(r.handleId),
    r.pid,
    r.tid,
    r.requestorPid,
    r.openerPid,
    r.openerImage,
    r.major,
    r.minor,
    r.ioctlCode >>> 0,
    r.normalizedCode >>> 0,
    r.inputLength,
    r.outputLength,
    r.inputHead.length ? Buffer.from(r.inputHead.buffer, r.inputHead.byteOffset, r.inputHead.byteLength).toString("base64") : "",
    r.truncated ? 1 : 0,
    r.status >>> 0,
    u64(r.information),
    u64(r.duration),
    r.decision,
    r.reason,
    r.secureTotal,
    r.simpleTotal,
    r.countReleased,
    r.outputHead.length ? Buffer.from(r.outputHead.buffer, r.outputHead.byteOffset, r.outputHead.byteLength).toString("base64") : "",
    r.outputTruncated ? 1 : 0,
  ];
}

/** A page's position in the hub. */
export interface Reader {
  /** index (absolute) of the next frame to send */
  next: number;
  /** records this page was sent or told it lost */
  records: number;
  /** seq of the last record this page got */
  lastSeq: bigint;
  /** ledger version last sent */
  ledgerVersion: number;
}

export class Hub {
  private frames: Frame[] = [];
  /** frames[off] is the oldest frame kept (the array is compacted now and then) */
  private off = 0;
  /** absolute index of frames[off] */
  private base = 0;
  private bytes = 0;
  private recordsTotal = 0;
  private waiters = new Set<(woke?: boolean) => void>();
  private ledgerView: LedgerView | undefined;
  private ledgerVer = 0;
  private ended = false;
  /** Records evicted from the ring, in total (for /api/meta). */
  evictedRecords = 0;

  /** @param maxBytes history kept for pages, bytes of frame text (Infinity: all of it) */
  constructor(readonly maxBytes: number) {}

  get ledgerVersion(): number {
    return this.ledgerVer;
  }
  get ledger(): LedgerView | undefined {
    return this.ledgerView;
  }
  get records(): number {
    return this.recordsTotal;
  }
  get isEnded(): boolean {
    return this.ended;
  }

  /** Encode a batch of events (records and ring drops) into frames. */
  push(evs: readonly TraceEvent[]): void {
    let rows: RowTuple[] = [];
    let lastSeq = 0n;
    const flushRows = () => {
      if (rows.length === 0) return;
      this.append({ event: "rows", data: JSON.stringify({ rows }), records: rows.length, recordsBefore: 0, lastSeq });
      rows = [];
    };
    for (const ev of evs) {
      if (ev.type === "record") {
        rows.push(rowTuple(ev.record));
        lastSeq = ev.record.seq;
      } else {
        flushRows();
        const notice: DropNotice = {
          count: u64(ev.count),
          afterSeq: u64(ev.afterSeq),
          why: "reset" in ev && ev.reset ? "reset" : "ring",
        };
        this.append({ event: "dropped", data: JSON.stringify(notice), records: 0, recordsBefore: 0, lastSeq: ev.afterSeq + ev.count });
      }
    }
    flushRows();
    this.wake();
  }

  setLedger(v: LedgerView): void {
    this.ledgerView = v;
    this.ledgerVer++;
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.append({ event: "end", data: "{}", records: 0, recordsBefore: 0, lastSeq: 0n });
    this.wake();
  }

  newReader(): Reader {
    return { next: this.base, records: this.frames[this.off]?.recordsBefore ?? this.recordsTotal, lastSeq: 0n, ledgerVersion: 0 };
  }

  /**
   * The next thing for this reader: a frame, a drop notice for what the ring evicted before it
   * was read (the reader then skips to the oldest kept frame), or undefined when it is up to date.
   */
  take(r: Reader): Frame | undefined {
    if (r.next < this.base) {
      const oldest = this.frames[this.off];
      const keptFrom = oldest ? oldest.recordsBefore : this.recordsTotal;
      const lost = keptFrom - r.records;
      r.next = this.base;
      r.records = keptFrom;
      if (lost > 0) {
        const notice: DropNotice = { count: lost, afterSeq: u64(r.lastSeq), why: "slow-client" };
        return { event: "dropped", data: JSON.stringify(notice), records: 0, recordsBefore: keptFrom, lastSeq: r.lastSeq };
      }
    }
    const f = this.frames[this.off + r.next - this.base];
    if (!f) return undefined;
    r.next++;
    r.records = f.recordsBefore + f.records;
    if (f.records > 0) r.lastSeq = f.lastSeq;
    return f;
  }

  /** Resolves to true when something new arrives, false after `ms` without news. */
  wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woke = true) => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve(woke);
      };
      const t = setTimeout(() => done(false), ms);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private append(f: Frame): void {
    f.recordsBefore = this.recordsTotal;
    this.recordsTotal += f.records;
    this.frames.push(f);
    this.bytes += f.data.length;
    while (this.bytes > this.maxBytes && this.frames.length - this.off > 1) {
      const old = this.frames[this.off]!;
      this.frames[this.off] = undefined as unknown as Frame;
      this.off++;
      this.bytes -= old.data.length;
      this.evictedRecords += old.records;
      this.base++;
    }
    if (this.off > 1024 && this.off * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.off);
      this.off = 0;
    }
  }
}
