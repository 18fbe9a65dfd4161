/**
 * The page's data model outside the UI library: the record store, the filtered view (record
 * indexes with drop gaps between them), the lock tracker for the timeline, and the stream
 * connection. Components read it and re-render on `version` changes.
 */
import { LockTracker } from "../locks.ts";
import type { DropNotice, Hello, LedgerView, RowsFrame } from "../protocol.ts";
import { type FilterField, FilterSet } from "./filter.ts";
import { Store } from "./store.ts";

/** View entries: a record index (>= 0) or a gap, -(gap index + 1). */
export class View {
  items: Int32Array<ArrayBuffer> = new Int32Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.items.length) {
      const b = new Int32Array(this.items.length * 2);
      b.set(this.items);
      this.items = b;
    }
    this.items[this.length++] = v;
  }
  clear(): void {
    this.length = 0;
  }
  /** Position of the first entry at or after record `row` (gaps sort before the record they precede). */
  indexOfRow(row: number, gaps: { beforeRow: number }[]): number {
    let lo = 0;
    let hi = this.length;
    const key = (v: number) => (v >= 0 ? v : gaps[-v - 1]!.beforeRow - 0.5);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (key(this.items[mid]!) < row) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class Model {
  store = new Store();
  view = new View();
  tracker = new LockTracker();
  filters = new FilterSet();
  hello: Hello | undefined;
  ledger: LedgerView | undefined;
  ended = false;
  connection: "connecting" | "live" | "error" = "connecting";
  version = 0;
  /** First and last record in the table's view (-1: none); the timeline shades them. */
  visible: [number, number] = [-1, -1];
  /** Last filter pass over every record, ms (shown in the status line). */
  lastFilterMs = 0;
  private nextClauseId = 1;
  private listeners = new Set<() => void>();
  private scheduled = false;
  private paintedSeq = -1;
  /** [newest seq on screen, epoch ms once the frame showing it was produced], the last 10,000 */
  readonly paints: [number, number][] = [];
  /** [newest seq of a rows frame, epoch ms when the page parsed it], the last 10,000 */
  readonly receipts: [number, number][] = [];
  private es: EventSource | undefined;

  constructor(readonly token: string | undefined) {}

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Coalesce updates into one render per animation frame. */
  changed(): void {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const f of this.listeners) f();
      // The UI library renders in a microtask right after this callback, before this frame's
      // style, layout and paint; a task posted now runs once that frame is produced. Its time
      // is when the newest record reached the screen (request-to-pixel latency, bench/ui.ts).
      const s = this.store;
      if (s.length === 0 || s.seq[s.length - 1] === this.paintedSeq) return;
      const seq = s.seq[s.length - 1]!;
      this.paintedSeq = seq;
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        const p = this.paints;
        p.push([seq, performance.timeOrigin + performance.now()]);
        if (p.length > 10_000) p.splice(0, p.length - 10_000);
      };
      ch.port2.postMessage(0);
    });
  }

  t0 = (): number => (this.store.length ? this.store.ts[0]! : 0);

  reset(): void {
    this.store = new Store();
    this.view = new View();
    this.tracker = new LockTracker();
    this.filters.resetCounts();
    this.ended = false;
  }

  connect(): void {
    const q = this.token ? `?token=${encodeURIComponent(this.token)}` : "";
    const es = new EventSource(`/api/stream${q}`);
    this.es = es;
    es.addEventListener("hello", (e) => {
      // A reconnect replays the server's history from its start.
      if (this.store.length || this.store.gaps.length) this.reset();
      this.hello = JSON.parse((e as MessageEvent<string>).data) as Hello;
      this.connection = "live";
      this.changed();
    });
    es.addEventListener("rows", (e) => this.onRows(JSON.parse((e as MessageEvent<string>).data) as RowsFrame));
    es.addEventListener("dropped", (e) => this.onDropped(JSON.parse((e as MessageEvent<string>).data) as DropNotice));
    es.addEventListener("ledger", (e) => {
      this.ledger = JSON.parse((e as MessageEvent<string>).data) as LedgerView;
      this.changed();
    });
    es.addEventListener("end", () => {
      this.ended = true;
      this.changed();
    });
    es.onerror = () => {
      this.connection = es.readyState === EventSource.CLOSED ? "error" : "connecting";
      this.changed();
    };
  }

  close(): void {
    this.es?.close();
  }

  onRows(f: RowsFrame): void {
    const s = this.store;
    const first = s.append(f.rows);
    if (s.length) {
      this.receipts.push([s.seq[s.length - 1]!, performance.timeOrigin + performance.now()]);
      if (this.receipts.length > 10_000) this.receipts.splice(0, this.receipts.length - 10_000);
    }
    const filtered = !this.filters.empty;
    for (let i = first; i < s.length; i++) {
      this.tracker.add({
        row: i,
        seq: s.seq[i]!,
        kind: s.kind[i]!,
        timestamp: s.ts[i]!,
        driveId: s.drive[i]!,
        handleId: s.handle[i]!,
        pid: s.pid[i]!,
        openerPid: s.openerPid[i]!,
        image: s.images[s.image[i]!] ?? "",
        normalizedCode: s.norm[i]!,
        status: s.status[i]!,
        reason: s.reason[i]!,
        countReleased: s.released[i]!,
      });
      if (!filtered || this.filters.test(s, i)) this.view.push(i);
    }
    this.changed();
  }

  onDropped(n: DropNotice): void {
    if (Number(n.count) === 0 && n.why !== "reset") return;
    this.store.addGap(n);
    // Gaps are never filtered out.
    this.view.push(-this.store.gaps.length);
    this.changed();
  }

  /** Recompute the view over every record (after a filter change). */
  refilter(): void {
    const t = performance.now();
    const s = this.store;
    const v = this.view;
    v.clear();
    this.filters.resetCounts();
    const gaps = s.gaps;
    let g = 0;
    const filtered = !this.filters.empty;
    for (let i = 0; i < s.length; i++) {
      while (g < gaps.length && gaps[g]!.beforeRow <= i) v.push(-++g);
      if (!filtered || this.filters.test(s, i)) v.push(i);
    }
    while (g < gaps.length) v.push(-++g);
    this.lastFilterMs = performance.now() - t;
    this.changed();
  }

  addFilter(field: FilterField, exclude: boolean, value: string): void {
    this.filters.add(field, exclude, value, this.nextClauseId++);
    this.refilter();
  }

  removeFilter(id: number): void {
    this.filters.remove(id);
    this.refilter();
  }

  async action(path: string, body: object): Promise<string> {
    const r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.token ?? ""}` },
      body: JSON.stringify(body),
    });
    const j = (await r.json()) as { ok?: boolean; error?: string };
    if (!r.ok || !j.ok) throw new Error(j.error ?? `HTTP ${r.status}`);
    return "done";
  }
}
