/**
 * Lock ownership over time, computed from trace records alone (pure: no client), and the
 * Chrome/Perfetto trace-event export built on it.
 *
 * A lock span is one owner (a handle: drive id + opaque handle id, with the pid and image that
 * opened it) holding at least one lock of a kind: it starts when the handle's count of that kind
 * goes from 0 to 1 and ends when it returns to 0, by the owner's unlock (REASON_LOCK_DROPPED),
 * by the filter (AUTO_RELEASE at cleanup/close/process exit for secure locks, LEAK_RELEASE for
 * simple locks under enforce), or when the drive's total falls to 0 otherwise (a foreign simple
 * unlock: cdrom.sys lets any caller release simple locks). A span still open at the end of the
 * trace ends at the last record's time, marked `open`.
 *
 * Every function here is linear in the number of records and spans and uses a bounded stack
 * (no spreading of arrays into calls), whatever the size of the trace.
 */
import { Decision, Reason, RecordKind, type TraceEvent, type TraceRecord, ntStatusName, ntSuccess } from "../client/index.ts";
import { formatSeconds, isSecureLockCode, isSimpleLockCode, kindName, requestName, shortDecision, shortReason } from "./records.ts";

export type LockKind = "secure" | "simple";
export type SpanEnd = "unlock" | "auto-release" | "leak-release" | "foreign-unlock" | "open";

export interface LockSpan {
  driveId: number;
  handleId: bigint;
  pid: number;
  image: string;
  lock: LockKind;
  /** 100 ns monotonic ticks. */
  start: bigint;
  startSeq: bigint;
  end: bigint;
  endSeq: bigint;
  endedBy: SpanEnd;
  /** For auto-release: REASON_HANDLE_CLEANUP / _HANDLE_CLOSE / _PROCESS_EXIT, short form. */
  releaseReason?: string;
  /** Highest count the owner held during the span. */
  maxCount: number;
}

interface Owner {
  driveId: number;
  handleId: bigint;
  pid: number;
  image: string;
  count: Record<LockKind, number>;
  open: Partial<Record<LockKind, LockSpan>>;
}

export interface Timeline {
  spans: LockSpan[];
  first: bigint;
  last: bigint;
  records: number;
  dropped: bigint;
}

/** Lock spans per owner from a trace (records in seq order). */
export function lockTimeline(events: Iterable<TraceEvent>): Timeline {
  const owners = new Map<string, Owner>();
  /** Per drive id, the owners holding an open span of each kind (the safety net below visits only these). */
  const holders = new Map<number, Record<LockKind, Set<Owner>>>();
  const holdersOf = (driveId: number): Record<LockKind, Set<Owner>> => {
    let h = holders.get(driveId);
    if (!h) {
      h = { secure: new Set(), simple: new Set() };
      holders.set(driveId, h);
    }
    return h;
  };
  const spans: LockSpan[] = [];
  let first: bigint | undefined;
  let last = 0n;
  let records = 0;
  let dropped = 0n;

  const ownerOf = (r: TraceRecord): Owner => {
    const key = `${r.driveId}:${r.handleId}`;
    let o = owners.get(key);
    if (!o) {
      o = {
        driveId: r.driveId,
        handleId: r.handleId,
        pid: r.openerPid || r.pid,
        image: r.openerImage,
        count: { secure: 0, simple: 0 },
        open: {},
      };
      owners.set(key, o);
    } else if (!o.image && r.openerImage) {
      o.image = r.openerImage;
      o.pid = r.openerPid || o.pid;
    }
    return o;
  };
  const take = (o: Owner, kind: LockKind, r: TraceRecord) => {
    o.count[kind]++;
    const span = o.open[kind];
    if (span) {
      span.maxCount = Math.max(span.maxCount, o.count[kind]);
      return;
    }
    const s: LockSpan = {
      driveId: o.driveId,
      handleId: o.handleId,
      pid: o.pid,
      image: o.image,
      lock: kind,
      start: r.timestamp,
      startSeq: r.seq,
      end: r.timestamp,
      endSeq: r.seq,
      endedBy: "open",
      maxCount: 1,
    };
    o.open[kind] = s;
    holdersOf(o.driveId)[kind].add(o);
    spans.push(s);
  };
  const drop = (o: Owner, kind: LockKind, n: number, r: TraceRecord, how: SpanEnd, reason?: string) => {
    o.count[kind] = Math.max(0, o.count[kind] - n);
    const span = o.open[kind];
    if (o.count[kind] === 0 && span) {
      span.end = r.timestamp;
      span.endSeq = r.seq;
      span.endedBy = how;
      if (reason) span.releaseReason = reason;
      delete o.open[kind];
      holdersOf(o.driveId)[kind].delete(o);
    }
  };

  for (const ev of events) {
    if (ev.type === "dropped") {
      dropped += ev.count;
      continue;
    }
    const r = ev.record;
    records++;
    first ??= r.timestamp;
    if (r.timestamp > last) last = r.timestamp;
    const code = r.normalizedCode || r.ioctlCode;
    if (r.kind === RecordKind.RECORD_KIND_COMPLETION && ntSuccess(r.status)) {
      const kind: LockKind | undefined = isSecureLockCode(code) ? "secure" : isSimpleLockCode(code) ? "simple" : undefined;
      if (kind && r.reason === Reason.REASON_LOCK_TAKEN) take(ownerOf(r), kind, r);
      else if (kind && r.reason === Reason.REASON_LOCK_DROPPED) drop(ownerOf(r), kind, 1, r, "unlock");
    } else if (r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE) {
      drop(ownerOf(r), "secure", r.countReleased || Number.MAX_SAFE_INTEGER, r, "auto-release", shortReason(r.reason));
    } else if (r.kind === RecordKind.RECORD_KIND_LEAK_RELEASE) {
      drop(ownerOf(r), "simple", r.countReleased || Number.MAX_SAFE_INTEGER, r, "leak-release", shortReason(r.reason));
    }
    // Safety net: a drive whose total is 0 has no owner of that kind left (foreign simple unlock,
    // or records lost to a drop).
    if (
      r.kind === RecordKind.RECORD_KIND_COMPLETION ||
      r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE ||
      r.kind === RecordKind.RECORD_KIND_LEAK_RELEASE
    ) {
      // Only owners with an open span are visited, each once per span it closes: linear overall.
      const h = holders.get(r.driveId);
      if (h && r.secureTotal === 0) for (const o of [...h.secure]) drop(o, "secure", Number.MAX_SAFE_INTEGER, r, "foreign-unlock");
      if (h && r.simpleTotal === 0) for (const o of [...h.simple]) drop(o, "simple", Number.MAX_SAFE_INTEGER, r, "foreign-unlock");
    }
  }
  for (const s of spans) if (s.endedBy === "open") s.end = last;
  return { spans, first: first ?? 0n, last, records, dropped };
}

// ---------------------------------------------------------------------------------------------
// Chrome / Perfetto trace-event JSON (the "JSON Array/Object Format" of the Trace Event Format
// document; chrome://tracing and ui.perfetto.dev open it).

export interface ChromeEvent {
  /** X complete, i instant, M metadata, b/e nestable async begin/end. */
  ph: "X" | "i" | "M" | "b" | "e";
  name: string;
  cat?: string;
  pid: number;
  tid?: number;
  /** Microseconds from the first record, rounded to 0.1 µs (one 100 ns tick). */
  ts?: number;
  dur?: number;
  s?: "t" | "p" | "g";
  /** Async events: pairs a "b" with its "e" (the request id, as a string: it is 64-bit). */
  id?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: ChromeEvent[];
  displayTimeUnit: "ms";
  otherData: Record<string, string>;
}

/**
 * Thread id of the track of one handle's locks of one kind: 0x40000000 + 2 * handle id (+1 for
 * simple locks), far above real thread ids. Secure and simple spans of a handle overlap freely
 * (neither nests in the other), and "X" events on one track must nest, so each kind has its own.
 */
export function lockTrackTid(handleId: bigint, kind: LockKind): number {
  return 0x4000_0000 + Number((2n * handleId + (kind === "simple" ? 1n : 0n)) % 0x4000_0000n);
}

/** 100 ns ticks to microseconds, rounded to 0.1 µs (exact tenths, no binary noise). */
function ticksToUs(ticks: bigint): number {
  return Math.round(Number(ticks)) / 10;
}

/**
 * Requests become nestable async events ("b" at dispatch, "e" at completion, cat "request",
 * id = request id) in their process: with overlapped I/O one thread has several requests in
 * flight that complete in any order, which "X" events on the thread's track cannot show (they
 * must nest). Every lock span is an "X" event (cat "lock") on the track of its owning handle and
 * lock kind; filter records (auto-release, leak release) are instants on the released kind's
 * track; handle open/close are instants on the thread; drop notices are global instants at the
 * time of the last record before them.
 */
export function chromeTrace(events: readonly TraceEvent[], timeline: Timeline = lockTimeline(events)): ChromeTrace {
  const base = timeline.first;
  const us = (t: bigint) => ticksToUs(t - base);
  const out: ChromeEvent[] = [];
  const processes = new Map<number, string>();
  const threads = new Map<string, { pid: number; tid: number; name: string }>();
  const dispatches = new Map<bigint, TraceRecord>();
  const nameProcess = (pid: number, image: string) => {
    if (!processes.has(pid) || (image && processes.get(pid) === "")) processes.set(pid, image);
  };
  const lockTrack = (pid: number, handleId: bigint, driveId: number, kind: LockKind) => {
    const tid = lockTrackTid(handleId, kind);
    threads.set(`${pid}:${tid}`, { pid, tid, name: `${kind} locks of handle h${handleId} (drive ${driveId})` });
    return tid;
  };
  let lastTs = base;

  for (const ev of events) {
    if (ev.type === "dropped") {
      out.push({
        ph: "i",
        s: "g",
        name: `${ev.count} record(s) dropped`,
        cat: "dropped",
        pid: 0,
        tid: 0,
        ts: us(lastTs),
        args: { count: String(ev.count), afterSeq: String(ev.afterSeq) },
      });
      continue;
    }
    const r = ev.record;
    if (r.timestamp > lastTs) lastTs = r.timestamp;
    nameProcess(r.pid, r.openerPid === r.pid ? r.openerImage : "");
    switch (r.kind) {
      case RecordKind.RECORD_KIND_DISPATCH:
        dispatches.set(r.requestId, r);
        break;
      case RecordKind.RECORD_KIND_COMPLETION: {
        const d = dispatches.get(r.requestId);
        dispatches.delete(r.requestId);
        const start = d ? d.timestamp : r.timestamp - r.duration;
        const name = requestName(r, d?.inputHead);
        const id = String(r.requestId);
        out.push({ ph: "b", name, cat: "request", id, pid: r.pid, tid: r.tid, ts: us(start), args: requestArgs(r, d) });
        out.push({ ph: "e", name, cat: "request", id, pid: r.pid, tid: r.tid, ts: us(r.timestamp) });
        break;
      }
      case RecordKind.RECORD_KIND_AUTO_RELEASE:
      case RecordKind.RECORD_KIND_LEAK_RELEASE: {
        const auto = r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE;
        const pid = r.openerPid || r.pid;
        out.push({
          ph: "i",
          s: "t",
          name: `${auto ? "auto-release" : "leak release"} of ${r.countReleased} lock(s) (${shortReason(r.reason)})`,
          cat: "filter",
          pid,
          tid: lockTrack(pid, r.handleId, r.driveId, auto ? "secure" : "simple"),
          ts: us(r.timestamp),
          args: {
            seq: String(r.seq),
            driveId: r.driveId,
            handleId: String(r.handleId),
            reason: shortReason(r.reason),
            countReleased: r.countReleased,
          },
        });
        break;
      }
      default:
        out.push({
          ph: "i",
          s: "t",
          name: kindName(r.kind)
            .replace(/^RECORD_KIND_/, "")
            .toLowerCase()
            .replace(/_/g, " "),
          cat: "handle",
          pid: r.pid,
          tid: r.tid,
          ts: us(r.timestamp),
          args: { seq: String(r.seq), driveId: r.driveId, handleId: String(r.handleId), reason: shortReason(r.reason) },
        });
    }
    if (!threads.has(`${r.pid}:${r.tid}`)) threads.set(`${r.pid}:${r.tid}`, { pid: r.pid, tid: r.tid, name: `thread ${r.tid}` });
  }
  // Requests whose completion is not in the trace: an instant at dispatch.
  for (const d of dispatches.values()) {
    out.push({
      ph: "i",
      s: "t",
      name: `${requestName(d, d.inputHead)} (no completion)`,
      cat: "request",
      pid: d.pid,
      tid: d.tid,
      ts: us(d.timestamp),
      args: requestArgs(d, d),
    });
  }
  for (const s of timeline.spans) {
    nameProcess(s.pid, s.image);
    out.push({
      ph: "X",
      name: `${s.lock} lock · ${s.image || "?"}:${s.pid} · drive ${s.driveId}`,
      cat: "lock",
      pid: s.pid,
      tid: lockTrack(s.pid, s.handleId, s.driveId, s.lock),
      ts: us(s.start),
      dur: ticksToUs(s.end - s.start),
      args: {
        lock: s.lock,
        owner: s.image,
        pid: s.pid,
        driveId: s.driveId,
        handleId: String(s.handleId),
        startSeq: String(s.startSeq),
        endSeq: String(s.endSeq),
        endedBy: s.endedBy,
        ...(s.releaseReason ? { releaseReason: s.releaseReason } : {}),
        maxCount: s.maxCount,
      },
    });
  }
  const meta: ChromeEvent[] = [];
  for (const [pid, image] of processes)
    meta.push({ ph: "M", name: "process_name", pid, args: { name: image ? `${image} (pid ${pid})` : `pid ${pid}` } });
  for (const t of threads.values()) meta.push({ ph: "M", name: "thread_name", pid: t.pid, tid: t.tid, args: { name: t.name } });
  return {
    traceEvents: [...meta, ...out],
    displayTimeUnit: "ms",
    otherData: {
      generator: "cdfilter export",
      clock: "driver monotonic clock; ts in microseconds (0.1 µs resolution) since firstTimestamp (100 ns ticks)",
      firstTimestamp: String(base),
      records: String(timeline.records),
      dropped: String(timeline.dropped),
    },
  };
}

function requestArgs(r: TraceRecord, d: TraceRecord | undefined): Record<string, unknown> {
  return {
    seq: String(r.seq),
    requestId: String(r.requestId),
    driveId: r.driveId,
    handleId: String(r.handleId),
    image: r.openerImage,
    status: ntStatusName(r.status),
    decision: shortDecision(r.decision),
    reason: shortReason(r.reason),
    inputLength: d?.inputLength ?? r.inputLength,
    secureTotal: r.secureTotal,
    simpleTotal: r.simpleTotal,
    ...(r.decision === Decision.DECISION_DENY ? { deniedByFilter: true } : {}),
  };
}

/** The ownership timeline as text lines: one row per span, with a bar over the trace's time. */
export function renderTimeline(
  t: Timeline,
  c: { dim(s: string): string; green(s: string): string; yellow(s: string): string; magenta(s: string): string; cyan(s: string): string },
  width = 40,
): string[] {
  if (t.spans.length === 0) return [c.dim("(no lock was taken)")];
  const total = t.last > t.first ? t.last - t.first : 1n;
  const col = (x: bigint) => Math.min(width - 1, Math.max(0, Number(((x - t.first) * BigInt(width)) / total)));
  const owners = t.spans.map((s) => `${s.image || "?"}:${s.pid} h${s.handleId}`);
  let ownerWidth = 0;
  for (const o of owners) ownerWidth = Math.max(ownerWidth, o.length);
  return t.spans.map((s, i) => {
    const a = col(s.start);
    const b = Math.max(a, col(s.end));
    const fill = s.lock === "secure" ? "█" : "▒";
    const bar = " ".repeat(a) + fill.repeat(b - a + 1) + " ".repeat(width - b - 1);
    const end =
      s.endedBy === "open"
        ? c.yellow("still held")
        : s.endedBy === "unlock"
          ? c.green("unlocked by owner")
          : s.endedBy === "auto-release"
            ? c.magenta(`auto-released (${(s.releaseReason ?? "").toLowerCase().replace(/_/g, " ")})`)
            : s.endedBy === "leak-release"
              ? c.magenta("leak released at close")
              : c.yellow("released by another caller");
    return (
      `${c.cyan(owners[i]!.padEnd(ownerWidth))}  d${s.driveId} ${s.lock.padEnd(6)} ${c.dim("|")}${bar}${c.dim("|")} ` +
      `${formatSeconds(s.start - t.first)} → ${formatSeconds(s.end - t.first)}  ${end}`
    );
  });
}
