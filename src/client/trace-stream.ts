/**
 * TraceStream: the trace ring as an async iterator of typed events, with a resumable cursor,
 * drop notices, bounded buffering and cancellation.
 *
 * Protocol (proto/cdfilter/control.proto): ReadTrace(after_seq, max_records) returns at once
 * with the records after the cursor (possibly none); WaitTrace pends until at least one record
 * is after the cursor, or the handle is cancelled (STATUS_CANCELLED). A batch's `dropped`
 * counts records after the cursor that left the ring before the read: the stream emits
 * { type: "dropped", count, afterSeq } before that batch's records.
 *
 * The stream polls with ReadTrace while records come, and parks in WaitTrace (off the main
 * thread) when the ring has nothing new and `follow` is true. The buffer is bounded in events
 * (records and drop notices alike): polling pauses once `highWaterMark` events are buffered and
 * resumes once the consumer has taken it down to half; a batch adds at most the records still
 * fitting plus two notices. Each stream has its own control handle, so its blocked WaitTrace
 * neither serializes the client's other requests nor is cancelled by them.
 *
 * Every reply is checked before anything of it is delivered (checkBatch): at most the records
 * asked for; a drop count only without `reset`; the records are consecutive and start right
 * after the cursor plus the drops; `next_cursor` is the cursor plus the drops plus the records.
 * So the cursor only moves forward and by exactly what was delivered or reported lost; a
 * violation fails the stream with a ProtocolError.
 *
 * return(), throw() and FilterClient.close() settle a pending next() ({ done: true }), so a
 * `for await` over the stream ends.
 */
import { OperationAbortedError, ProtocolError, errorFromNtStatus, errorFromWin32 } from "./errors.ts";
import { ControlIoctls } from "./gen/cdfilter_ioctl.ts";
import { TraceBatch, type TraceRecord, TraceReadRequest } from "./gen/cdfilter.ts";
import { NTSTATUS } from "./ntstatus.ts";
import type { DeviceHandle, IoResult } from "./transport.ts";

export type TraceEvent =
  | { type: "record"; record: TraceRecord }
  /**
   * `count` records with seq > afterSeq left the ring before this stream could read them.
   * `reset: true`: the cursor afterSeq was beyond the ring's newest record (the driver was
   * reloaded and its seq restarted at 1); the stream continues at the oldest record of the new
   * ring, and how many records were lost is unknown (`count` is 0).
   */
  | { type: "dropped"; count: bigint; afterSeq: bigint; reset?: true };

export interface TraceOptions {
  /**
   * Resume cursor: deliver records with seq > from (a drop notice if some of them are gone).
   * Absent: start at the oldest record still in the ring (no notice for records that left
   * before the stream began). Use `client.initialLedger.seq` for "everything after the
   * connect-time ledger snapshot", or `stream.cursor` of an earlier stream to resume it.
   */
  from?: bigint;
  /** Abort: a blocked WaitTrace is cancelled and iteration rejects with OperationAbortedError. */
  signal?: AbortSignal;
  /** Most events (records and drop notices) buffered ahead of the consumer before polling pauses (default 1024, at least 1). */
  highWaterMark?: number;
  /** true (default): wait for new records forever. false: drain what is in the ring now and end. */
  follow?: boolean;
  /**
   * Keep each record's protobuf encoding as the driver sent it, readable with
   * `encodedRecord(record)` (a recorder writes it without encoding it again). Default false.
   */
  keepEncoded?: boolean;
}

const encodings = new WeakMap<TraceRecord, Uint8Array>();

/**
 * The TraceRecord encoding (bytes) a record was decoded from, when its stream was created with
 * `keepEncoded: true`; else undefined.
 */
export function encodedRecord(r: TraceRecord): Uint8Array | undefined {
  return encodings.get(r);
}

/**
 * The encodings of `repeated TraceRecord records = 1` in a TraceBatch (views into `batch`, in
 * order); other fields are skipped. Protobuf wire format: tag varint, length-delimited payload.
 * Returns undefined for bytes that are not a well-formed message.
 */
export function splitBatchRecords(batch: Uint8Array): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let at = 0;
  const varint = (): number | undefined => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10 && at < batch.length; i++) {
      const b = batch[at++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    return undefined;
  };
  while (at < batch.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const wire = tag % 8;
    if (wire === 0) {
      if (varint() === undefined) return undefined;
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined || at + len > batch.length) return undefined;
      if (tag === 0x0a) out.push(batch.subarray(at, at + len));
      at += len;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else return undefined;
  }
  return at === batch.length ? out : undefined;
}

export interface TraceStreamStats {
  /** ReadTrace/WaitTrace replies received. */
  batches: number;
  /** WaitTrace calls issued (the ring had nothing new). */
  waits: number;
  /** Records delivered to the buffer. */
  records: number;
  /** Sum of drop notices' counts. */
  dropped: bigint;
  /** Highest number of records ever buffered (never above highWaterMark). */
  maxBuffered: number;
}

/** Largest batch a reply can carry (TraceBatch.records max_count). */
export const MAX_BATCH_RECORDS = 256;
export const DEFAULT_HIGH_WATER_MARK = 1024;

type Waiter = { resolve: (r: IteratorResult<TraceEvent>) => void; reject: (e: unknown) => void };

function statusError(op: string, r: IoResult): Error {
  return r.statusExact ? errorFromNtStatus(op, r.status) : errorFromWin32(op, r.win32Error);
}

export class TraceStream implements AsyncIterableIterator<TraceEvent> {
  readonly highWaterMark: number;
  readonly follow: boolean;
  readonly stats: TraceStreamStats = { batches: 0, waits: 0, records: 0, dropped: 0n, maxBuffered: 0 };

  private readonly queue: TraceEvent[] = [];
  private head = 0;
  private bufferedRecords = 0;
  /** Events in the queue (records and notices): what the high-water mark bounds. */
  private bufferedEvents = 0;
  private consumerCursor: bigint;
  private ended = false;
  private failure: unknown;
  private waiter: Waiter | undefined;
  private spaceWaiter: (() => void) | undefined;
  private handle: DeviceHandle | undefined;
  private stopped = false;
  private readonly onAbort: () => void;
  private readonly signal: AbortSignal | undefined;
  private started = false;

  /**
   * @param openHandle opens a control handle owned (and closed) by the stream
   * @param startCursor the cursor when `from` is absent (called after the handle is open)
   */
  constructor(
    private readonly openHandle: () => Promise<DeviceHandle>,
    private readonly startCursor: () => Promise<bigint>,
    opts: TraceOptions = {},
    private readonly onStopped?: () => void,
  ) {
    const hwm = opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    if (!Number.isInteger(hwm) || hwm < 1) throw new RangeError(`highWaterMark must be an integer >= 1, got ${hwm}`);
    if (opts.from !== undefined && (typeof opts.from !== "bigint" || opts.from < 0n)) {
      throw new RangeError(`from must be a non-negative bigint sequence number, got ${String(opts.from)}`);
    }
    this.highWaterMark = hwm;
    this.follow = opts.follow ?? true;
    this.consumerCursor = opts.from ?? 0n;
    this.signal = opts.signal;
    this.onAbort = () => this.abort();
    this.fromOption = opts.from;
    this.keepEncoded = opts.keepEncoded === true;
  }

  private readonly keepEncoded: boolean;

  private readonly fromOption: bigint | undefined;

  /** Records buffered ahead of the consumer. */
  get buffered(): number {
    return this.bufferedRecords;
  }

  /** Events (records and drop notices) buffered ahead of the consumer: at most highWaterMark + 2. */
  get bufferedEventCount(): number {
    return this.bufferedEvents;
  }

  /**
   * Sequence number of the last record the consumer received (or the start cursor): pass it as
   * `from` to a new stream to resume exactly after it.
   */
  get cursor(): bigint {
    return this.consumerCursor;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    if (this.signal?.aborted) {
      this.abort();
      return;
    }
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
    this.pump().catch((e: unknown) => this.fail(e));
  }

  next(): Promise<IteratorResult<TraceEvent>> {
    this.start();
    if (this.head < this.queue.length) return Promise.resolve({ done: false, value: this.take() });
    if (this.failure !== undefined) {
      const f = this.failure;
      return Promise.reject(f);
    }
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    if (this.waiter) return Promise.reject(new Error("TraceStream: next() called while a previous next() is pending"));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async return(): Promise<IteratorResult<TraceEvent>> {
    await this.stop();
    this.ended = true;
    return { done: true, value: undefined };
  }

  async throw(e?: unknown): Promise<IteratorResult<TraceEvent>> {
    await this.stop();
    this.ended = true;
    throw e;
  }

  private take(): TraceEvent {
    const ev = this.queue[this.head]!;
    this.queue[this.head] = undefined as unknown as TraceEvent;
    this.head++;
    this.bufferedEvents--;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (ev.type === "record") {
      this.bufferedRecords--;
      this.consumerCursor = ev.record.seq;
    }
    if (this.spaceWaiter && this.bufferedEvents <= Math.floor(this.highWaterMark / 2)) {
      const w = this.spaceWaiter;
      this.spaceWaiter = undefined;
      w();
    }
    return ev;
  }

  private push(ev: TraceEvent): void {
    if (ev.type === "record") {
      this.bufferedRecords++;
      if (this.bufferedRecords > this.stats.maxBuffered) this.stats.maxBuffered = this.bufferedRecords;
    }
    if (this.waiter && this.head === this.queue.length) {
      const w = this.waiter;
      this.waiter = undefined;
      if (ev.type === "record") {
        this.bufferedRecords--;
        this.consumerCursor = ev.record.seq;
      }
      w.resolve({ done: false, value: ev });
      return;
    }
    this.bufferedEvents++;
    this.queue.push(ev);
  }

  private finish(): void {
    this.ended = true;
    if (this.waiter && this.head === this.queue.length) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ done: true, value: undefined });
    }
  }

  private fail(e: unknown): void {
    if (this.stopped && !(e instanceof OperationAbortedError)) {
      this.finish();
      return;
    }
    this.failure ??= e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      // An abort rejects at once; other failures first deliver what is buffered.
      if (this.failure instanceof OperationAbortedError || this.head === this.queue.length) w.reject(this.failure);
      else w.resolve({ done: false, value: this.take() });
    }
    void this.stop();
  }

  private abort(): void {
    const err = new OperationAbortedError("trace stream aborted: STATUS_CANCELLED (ERROR_OPERATION_ABORTED 995)", {
      os: { operation: "trace", win32Error: 995, ntStatus: NTSTATUS.STATUS_CANCELLED, ntStatusExact: true },
      hint: "the AbortSignal passed to trace() fired",
      cause: this.signal?.reason,
    });
    // Drop what is buffered: an abort means stop now.
    this.queue.length = 0;
    this.head = 0;
    this.bufferedRecords = 0;
    this.bufferedEvents = 0;
    this.failure = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(err);
    }
    void this.stop();
  }

  private async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // A consumer awaiting next() gets the end (a failure or an abort already settled it).
    if (this.failure === undefined) this.finish();
    this.onStopped?.();
    this.signal?.removeEventListener("abort", this.onAbort);
    if (this.spaceWaiter) {
      const w = this.spaceWaiter;
      this.spaceWaiter = undefined;
      w();
    }
    const h = this.handle;
    this.handle = undefined;
    if (h) await h.close(); // cancels a blocked WaitTrace first
  }

  private async request(h: DeviceHandle, wait: boolean, cursor: bigint, max: number): Promise<TraceBatch | undefined> {
    const spec = wait ? ControlIoctls.waitTrace : ControlIoctls.readTrace;
    const input = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: cursor, maxRecords: max }));
    const r = await h.ioctl(spec.code, input, TraceBatch.maxSize, { blocking: wait });
    if (this.stopped) return undefined;
    if (r.status !== 0) {
      if (r.status === NTSTATUS.STATUS_CANCELLED && this.signal?.aborted) return undefined;
      throw statusError(`${spec.name} after seq ${cursor}`, r);
    }
    try {
      const batch = TraceBatch.decode(r.output);
      if (this.keepEncoded && batch.records.length) {
        const raw = splitBatchRecords(r.output.slice());
        if (raw && raw.length === batch.records.length) for (let i = 0; i < raw.length; i++) encodings.set(batch.records[i]!, raw[i]!);
      }
      return batch;
    } catch (e) {
      throw new ProtocolError(`${spec.name}: malformed TraceBatch (${(e as Error).message})`, { cause: e });
    }
  }

  private async pump(): Promise<void> {
    const h = await this.openHandle();
    if (this.stopped) {
      await h.close();
      return;
    }
    this.handle = h;
    let cursor = this.fromOption ?? (await this.startCursor());
    if (this.fromOption === undefined) this.consumerCursor = cursor;
    while (!this.stopped) {
      if (this.bufferedEvents >= this.highWaterMark) {
        await new Promise<void>((resolve) => {
          this.spaceWaiter = resolve;
        });
        continue;
      }
      const max = Math.min(MAX_BATCH_RECORDS, this.highWaterMark - this.bufferedEvents);
      let batch = await this.request(h, false, cursor, max);
      if (!batch) return;
      if (batch.records.length === 0 && batch.dropped === 0n && !batch.reset) {
        if (!this.follow) {
          this.finish();
          await this.stop();
          return;
        }
        this.stats.waits++;
        batch = await this.request(h, true, cursor, max);
        if (!batch) return;
      }
      this.stats.batches++;
      const base = checkBatch(batch, cursor, max);
      if (batch.reset) {
        // seq restarted below our cursor: continue with the new ring's oldest record
        this.push({ type: "dropped", count: 0n, afterSeq: cursor, reset: true });
      }
      if (batch.dropped > 0n) {
        this.stats.dropped += batch.dropped;
        this.push({ type: "dropped", count: batch.dropped, afterSeq: base });
      }
      for (const record of batch.records) {
        this.stats.records++;
        this.push({ type: "record", record });
      }
      cursor = batch.nextCursor;
      // Let timers and I/O run between batches when records keep coming.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * Check a ReadTrace/WaitTrace reply against the request (cursor `after`, at most `max` records),
 * as the driver builds it (driver/core/cdf_control.c, read_trace): records are consecutive from
 * after + dropped + 1 (from the ring's oldest after a reset, with no drop count), and
 * next_cursor = after + dropped + records. Returns the cursor the drop notice is relative to
 * (`after`, or the new ring's start after a reset). Throws ProtocolError.
 */
export function checkBatch(batch: TraceBatch, after: bigint, max: number): bigint {
  const bad = (why: string) =>
    new ProtocolError(`inconsistent trace batch after seq ${after}: ${why}`, {
      hint: "the driver broke the ReadTrace/WaitTrace contract (proto/cdfilter/control.proto, TraceBatch); the stream stops",
    });
  const n = batch.records.length;
  if (n > max) throw bad(`${n} records, more than the ${max} asked for`);
  let base = after;
  if (batch.reset) {
    if (batch.dropped !== 0n) throw bad(`reset with a drop count of ${batch.dropped}`);
    const first = batch.records[0];
    base = first ? first.seq - 1n : batch.nextCursor;
    if (base < 0n) throw bad("reset to a negative cursor");
  }
  const start = base + batch.dropped;
  for (let i = 0; i < n; i++) {
    const seq = batch.records[i]!.seq;
    const want = start + 1n + BigInt(i);
    if (seq !== want) {
      throw bad(
        i === 0
          ? `first record seq ${seq}, expected ${want} (cursor ${base} + ${batch.dropped} dropped + 1)`
          : `record seq ${seq} follows ${batch.records[i - 1]!.seq}, expected ${want}`,
      );
    }
  }
  const expected = start + BigInt(n);
  if (batch.nextCursor !== expected) {
    throw bad(`next_cursor ${batch.nextCursor}, expected ${expected} (cursor ${base} + ${batch.dropped} dropped + ${n} records)`);
  }
  return base;
}
