/**
 * Lock ownership rebuilt from trace records, one record at a time: who holds which lock kind on
 * which handle, and the intervals each (drive, handle, kind) held a nonzero count. Pure
 * TypeScript (no Node imports): the page draws its timeline from it and the server rebuilds the
 * owners table of a recording with it.
 *
 * Rules (the filter's own trace vocabulary, docs/core.md):
 * - a COMPLETION with reason LOCK_TAKEN adds one lock of the request's kind to its handle, one
 *   with LOCK_DROPPED removes one; the kind comes from the normalized code:
 *   IOCTL_STORAGE_EJECTION_CONTROL 0x2D0940 = secure, IOCTL_STORAGE_MEDIA_REMOVAL 0x2D4804 =
 *   simple, IOCTL_STORAGE_MCN_CONTROL 0x2D0944 = mcn (ntddstor.h);
 * - AUTO_RELEASE removes `countReleased` secure locks of its handle, LEAK_RELEASE that many simple
 *   locks;
 * - HANDLE_CLOSE ends the handle: what it still holds ends there too (cdrom.sys may keep counting
 *   orphaned simple locks; the driver's ledger, not this, is the authority on a live drive).
 */

export type LockKind = "secure" | "simple" | "mcn";
export const LOCK_KINDS: readonly LockKind[] = ["secure", "simple", "mcn"];

const IOCTL_STORAGE_EJECTION_CONTROL = 0x2d0940;
const IOCTL_STORAGE_MEDIA_REMOVAL = 0x2d4804;
const IOCTL_STORAGE_MCN_CONTROL = 0x2d0944;

/** RecordKind values (proto/cdfilter/trace.proto). */
const KIND_COMPLETION = 2;
const KIND_AUTO_RELEASE = 3;
const KIND_LEAK_RELEASE = 4;
const KIND_HANDLE_OPEN = 5;
const KIND_HANDLE_CLOSE = 6;
/** Reason values (proto/cdfilter/trace.proto). */
const REASON_LOCK_TAKEN = 1;
const REASON_LOCK_DROPPED = 2;

export function lockKindOf(normalizedCode: number): LockKind | undefined {
  switch (normalizedCode >>> 0) {
    case IOCTL_STORAGE_EJECTION_CONTROL:
      return "secure";
    case IOCTL_STORAGE_MEDIA_REMOVAL:
      return "simple";
    case IOCTL_STORAGE_MCN_CONTROL:
      return "mcn";
    default:
      return undefined;
  }
}

/** The fields of a trace record this needs (times in 100 ns units, as numbers). */
export interface LockInput {
  /** position of the record in the caller's store (for linking back to the table) */
  row: number;
  seq: number;
  kind: number;
  timestamp: number;
  driveId: number;
  handleId: number;
  pid: number;
  openerPid: number;
  image: string;
  normalizedCode: number;
  status: number;
  reason: number;
  countReleased: number;
}

/** A lane's run at one count level: from `startRow`/`start` until `endRow`/`end` (open: -1). */
export interface LockSegment {
  count: number;
  start: number;
  startRow: number;
  end: number;
  endRow: number;
}

export interface Lane {
  key: string;
  driveId: number;
  handleId: number;
  kind: LockKind;
  pid: number;
  image: string;
  segments: LockSegment[];
}

export interface HeldLock {
  driveId: number;
  handleId: number;
  pid: number;
  image: string;
  secure: number;
  simple: number;
  mcn: number;
  /** timestamp of the first lock still held (100 ns) */
  since: number;
}

interface HandleState {
  driveId: number;
  handleId: number;
  pid: number;
  image: string;
  counts: Record<LockKind, number>;
  since: number;
}

export class LockTracker {
  /** Lanes in order of first lock. */
  readonly lanes: Lane[] = [];
  private readonly laneByKey = new Map<string, Lane>();
  private readonly handles = new Map<string, HandleState>();

  /** Feed one record (in seq order). Returns true when a lock count changed. */
  add(r: LockInput): boolean {
    const hk = `${r.driveId}:${r.handleId}`;
    if (r.kind === KIND_HANDLE_OPEN) {
      this.handles.set(hk, this.fresh(r));
      return false;
    }
    if (r.kind === KIND_COMPLETION && (r.reason === REASON_LOCK_TAKEN || r.reason === REASON_LOCK_DROPPED)) {
      const kind = lockKindOf(r.normalizedCode);
      if (!kind) return false;
      return this.change(hk, r, kind, r.reason === REASON_LOCK_TAKEN ? 1 : -1);
    }
    if (r.kind === KIND_AUTO_RELEASE) return this.change(hk, r, "secure", -r.countReleased);
    if (r.kind === KIND_LEAK_RELEASE) return this.change(hk, r, "simple", -r.countReleased);
    if (r.kind === KIND_HANDLE_CLOSE) {
      const h = this.handles.get(hk);
      let changed = false;
      if (h) for (const k of LOCK_KINDS) if (h.counts[k] > 0) changed = this.change(hk, r, k, -h.counts[k]) || changed;
      this.handles.delete(hk);
      return changed;
    }
    return false;
  }

  /** Handles holding at least one lock now. */
  held(): HeldLock[] {
    const out: HeldLock[] = [];
    for (const h of this.handles.values()) {
      if (h.counts.secure || h.counts.simple || h.counts.mcn) {
        out.push({
          driveId: h.driveId,
          handleId: h.handleId,
          pid: h.pid,
          image: h.image,
          secure: h.counts.secure,
          simple: h.counts.simple,
          mcn: h.counts.mcn,
          since: h.since,
        });
      }
    }
    return out;
  }

  private fresh(r: LockInput): HandleState {
    return {
      driveId: r.driveId,
      handleId: r.handleId,
      pid: r.openerPid || r.pid,
      image: r.image,
      counts: { secure: 0, simple: 0, mcn: 0 },
      since: 0,
    };
  }

  private change(hk: string, r: LockInput, kind: LockKind, delta: number): boolean {
    let h = this.handles.get(hk);
    if (!h) {
      h = this.fresh(r);
      this.handles.set(hk, h);
    }
    if (!h.image && r.image) h.image = r.image;
    const before = h.counts[kind];
    const after = Math.max(0, before + delta);
    if (after === before) return false;
    h.counts[kind] = after;
    const wasHolding = h.counts.secure + h.counts.simple + h.counts.mcn - after + before > 0;
    const holding = h.counts.secure + h.counts.simple + h.counts.mcn > 0;
    if (!wasHolding && holding) h.since = r.timestamp;
    const key = `${hk}:${kind}`;
    let lane = this.laneByKey.get(key);
    if (!lane) {
      lane = { key, driveId: h.driveId, handleId: h.handleId, kind, pid: h.pid, image: h.image, segments: [] };
      this.laneByKey.set(key, lane);
      this.lanes.push(lane);
    }
    const last = lane.segments[lane.segments.length - 1];
    if (last && last.endRow < 0) {
      last.end = r.timestamp;
      last.endRow = r.row;
    }
    if (after > 0) lane.segments.push({ count: after, start: r.timestamp, startRow: r.row, end: -1, endRow: -1 });
    return true;
  }
}
