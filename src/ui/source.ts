/**
 * Where `cdfilter ui` gets what it shows: a live session (the driver, or the embedded simulator
 * playing --scenario/--burst) or a file. Both implement {@link UiSource}; the server knows
 * nothing else about them.
 *
 * Files: {@link openTraceFile} picks a reader by the file's first bytes. Today it reads the JSON
 * Lines of `cdfilter trace --json` (docs/cli.md, "Trace JSON Lines"); another reader plugs in as
 * one more {@link TraceFileReader} in {@link TRACE_FILE_READERS}.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import { type FilterClient, Policy, type TraceEvent, type TraceRecord } from "../client/index.ts";
import { type ActivityOptions, playActivity } from "../cli/context.ts";
import { inputError } from "../cli/errors.ts";
import { parseTraceJsonLine } from "../cli/records.ts";
import { readTraceSource } from "../recording/reader.ts";
import type { Scenario } from "../scenario/index.ts";
import { LockTracker } from "./locks.ts";
import { type DriveView, type Hello, type LedgerView, blocksEjectText, u64 } from "./protocol.ts";

/** Receives what a source produces, in order. */
export interface UiSink {
  /** Trace records and ring drops (`{type:"dropped"}`), in seq order. */
  events(evs: TraceEvent[]): void;
  /** The owners of every drive (sent again when it changes). */
  ledger(view: LedgerView): void;
  /** A finite source (a file) was read whole. */
  end(): void;
}

/** Actions a live source can take when the server allows them (--allow-actions). */
export interface UiActions {
  /** Set the policy of one drive (0 = every drive); resolves to the policies after the change. */
  setPolicy(driveId: number, policy: "observe" | "enforce"): Promise<{ driveId: number; policy: string }[]>;
  /** Discard the driver's trace ring; resolves to the seq it was cleared through. */
  clearTrace(): Promise<bigint>;
}

export interface UiSource {
  readonly kind: "live" | "file";
  /** What the page title says (a transport description or a file name). */
  readonly title: string;
  drives(): Promise<Hello["drives"]>;
  /** Produce into `sink` until the source ends or `signal` aborts. Rejects on a source error. */
  run(sink: UiSink, signal: AbortSignal): Promise<void>;
  readonly actions?: UiActions;
  close(): Promise<void>;
}

export function policyText(p: Policy): string {
  return p === Policy.POLICY_ENFORCE ? "enforce" : p === Policy.POLICY_OBSERVE ? "observe" : "unspecified";
}

/** Records per sink call. */
const BATCH = 2048;
/** How often a live source asks the driver for the ledger, ms. */
const LEDGER_POLL_MS = 150;

/** A live session over a connected client. `activity` is played once `run` starts. */
export class LiveSource implements UiSource {
  readonly kind = "live" as const;
  readonly actions: UiActions;
  private names = new Map<number, string>();
  private policies = new Map<number, string>();

  constructor(
    private readonly client: FilterClient,
    readonly title: string,
    private readonly activity?: { options: ActivityOptions; scenario?: Scenario; onDone?: (e?: unknown) => void },
  ) {
    this.actions = {
      setPolicy: async (driveId, policy) => {
        const r = await client.setPolicy(policy === "enforce" ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE, driveId);
        for (const d of r) this.policies.set(d.driveId, policyText(d.policy));
        return r.map((d) => ({ driveId: d.driveId, policy: policyText(d.policy) }));
      },
      clearTrace: () => client.clearTrace(),
    };
  }

  async drives(): Promise<Hello["drives"]> {
    const [drives, policies] = await Promise.all([this.client.drives(), this.client.policy()]);
    for (const d of drives) this.names.set(d.driveId, d.name);
    for (const p of policies) this.policies.set(p.driveId, policyText(p.policy));
    return drives.map((d) => ({ driveId: d.driveId, name: d.name, policy: this.policies.get(d.driveId) ?? "unspecified" }));
  }

  async run(sink: UiSink, signal: AbortSignal): Promise<void> {
    if (this.names.size === 0) await this.drives();
    // Start at the oldest record in the ring now, before any activity is played: whatever
    // leaves the ring after this point is reported as a drop, never silently missing.
    const info = await this.client.info();
    const from = info.oldestSeq > 0n ? info.oldestSeq - 1n : info.newestSeq;
    const stream = this.client.trace({ signal, highWaterMark: 8192, follow: true, from });
    let lastSeq = 0n;
    let lastLedger = "";
    let dirty = true;
    const pollLedger = async () => {
      if (!dirty) return;
      dirty = false;
      const [snap, policies] = await Promise.all([this.client.ledger(0), this.client.policy()]);
      for (const p of policies) this.policies.set(p.driveId, policyText(p.policy));
      const view: LedgerView = {
        takenAt: u64(snap.takenAt),
        seq: u64(snap.seq),
        from: "driver",
        drives: snap.drives.map(
          (d): DriveView => ({
            driveId: d.driveId,
            name: this.names.get(d.driveId) ?? `drive ${d.driveId}`,
            policy: this.policies.get(d.driveId) ?? "unspecified",
            secureTotal: d.secureTotal,
            simpleTotal: d.simpleTotal,
            mcnTotal: d.mcnTotal,
            foreignUnlocks: u64(d.foreignUnlocks),
            denials: u64(d.denials),
            ownersTruncated: d.ownersTruncated,
            owners: d.owners
              .filter((o) => o.secureCount || o.simpleCount || o.mcnCount || o.exclusive)
              .map((o) => ({
                handleId: u64(o.handleId),
                pid: o.pid,
                imageName: o.imageName,
                secureCount: o.secureCount,
                simpleCount: o.simpleCount,
                mcnCount: o.mcnCount,
                exclusive: o.exclusive,
                since: u64(o.since),
                blocksEject: blocksEjectText(o),
              })),
          }),
        ),
      };
      // The snapshot time moves on every poll: compare what the page shows.
      const key = JSON.stringify({ ...view, takenAt: 0, seq: 0 });
      if (key !== lastLedger) {
        lastLedger = key;
        sink.ledger(view);
      }
    };
    const timer = setInterval(() => {
      pollLedger().catch(() => {});
    }, LEDGER_POLL_MS);
    // Policy changes do not show in the trace: poll them now and then even when idle.
    const policyTimer = setInterval(() => (dirty = true), 1000);
    let activityError: unknown;
    const activity =
      this.activity && (this.activity.options.scenario !== undefined || this.activity.options.burst !== undefined)
        ? playActivity(this.client, this.activity.options, this.activity.scenario, { readerSeq: () => lastSeq, signal }).then(
            () => this.activity?.onDone?.(),
            (e) => {
              activityError = e;
              this.activity?.onDone?.(e);
            },
          )
        : undefined;
    let batch: TraceEvent[] = [];
    try {
      await pollLedger();
      for await (const ev of stream) {
        if (ev.type === "record") {
          lastSeq = ev.record.seq;
          dirty = true;
        } else {
          lastSeq = ev.afterSeq + ev.count;
          dirty = true;
        }
        batch.push(ev);
        if (batch.length >= BATCH || stream.buffered === 0) {
          sink.events(batch);
          batch = [];
        }
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      if (batch.length) sink.events(batch);
      clearInterval(timer);
      clearInterval(policyTimer);
      await stream.return();
      if (activity) await activity;
    }
    if (activityError && !signal.aborted) throw activityError;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Reads one file format into trace events (records and drop notices, in order). */
export interface TraceFileReader {
  /** Human name of the format ("JSON Lines"). */
  readonly format: string;
  /** True when `head` (the file's first bytes, up to 64) looks like this format. */
  sniff(head: Uint8Array): boolean;
  read(path: string, signal: AbortSignal): AsyncIterable<TraceEvent>;
}

/** JSON Lines as written by `cdfilter trace --json` (src/cli/records.ts). */
export const jsonLinesReader: TraceFileReader = {
  format: "JSON Lines (cdfilter trace --json)",
  sniff(head) {
    for (const b of head) {
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
      return b === 0x7b; // "{"
    }
    return true; // empty or blank file: zero records
  },
  async *read(path, signal) {
    const lines = createInterface({ input: createReadStream(path, { encoding: "utf8", signal }), crlfDelay: Number.POSITIVE_INFINITY });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      yield parseTraceJsonLine(line.trim(), path, n);
    }
  },
};

/**
 * Recordings from `cdfilter record` (pcapng; any part of a rotated set: the reader follows the set,
 * docs/recording.md). A torn tail ends the file without an error, as in `export`.
 */
export const recordingReader: TraceFileReader = {
  format: "pcapng recording (cdfilter record)",
  sniff(head) {
    // pcapng Section Header Block type 0x0A0D0D0A (the same bytes in either byte order).
    return head.length >= 4 && head[0] === 0x0a && head[1] === 0x0d && head[2] === 0x0d && head[3] === 0x0a;
  },
  async *read(path, signal) {
    for await (const item of readTraceSource(path)) {
      if (signal.aborted) return;
      if (item.type === "record" || item.type === "dropped") yield item;
    }
  },
};

/** File readers, tried in order. */
export const TRACE_FILE_READERS: TraceFileReader[] = [recordingReader, jsonLinesReader];

/** A source over a file, read by the first reader of {@link TRACE_FILE_READERS} that recognises it. */
export async function openTraceFile(path: string, readers: readonly TraceFileReader[] = TRACE_FILE_READERS): Promise<FileSource> {
  let head: Uint8Array;
  try {
    const fh = await open(path, "r");
    try {
      const buf = new Uint8Array(64);
      const { bytesRead } = await fh.read(buf, 0, 64, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw inputError(
      `cannot read ${path}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
      "give a trace file written by `cdfilter trace --json > FILE`",
    );
  }
  const reader = readers.find((r) => r.sniff(head));
  if (!reader) {
    throw inputError(
      `${path}: not a trace file this version can read`,
      `known formats: ${readers.map((r) => r.format).join(", ")}; write one with \`cdfilter trace --json > FILE\``,
    );
  }
  return new FileSource(path, reader);
}

/** A recorded trace. The owners table is rebuilt from the records (LockTracker). */
export class FileSource implements UiSource {
  readonly kind = "file" as const;
  readonly title: string;
  private driveIds = new Set<number>();

  constructor(
    private readonly path: string,
    private readonly reader: TraceFileReader,
  ) {
    this.title = path;
  }

  async drives(): Promise<Hello["drives"]> {
    return [...this.driveIds].sort((a, b) => a - b).map((d) => ({ driveId: d, name: `drive ${d}`, policy: "unknown" }));
  }

  async run(sink: UiSink, signal: AbortSignal): Promise<void> {
    const tracker = new LockTracker();
    let batch: TraceEvent[] = [];
    let lastTs = 0n;
    let lastSeq = 0n;
    let row = 0;
    let changed = false;
    const flush = () => {
      if (batch.length) sink.events(batch);
      batch = [];
      if (changed) sink.ledger(ledgerFromTracker(tracker, this.driveIds, lastTs, lastSeq));
      changed = false;
    };
    for await (const ev of this.reader.read(this.path, signal)) {
      if (ev.type === "record") {
        const r = ev.record;
        this.driveIds.add(r.driveId);
        lastTs = r.timestamp;
        lastSeq = r.seq;
        changed = tracker.add(lockInput(r, row++)) || changed;
      }
      batch.push(ev);
      if (batch.length >= BATCH) {
        flush();
        // Let the server write to its clients between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    changed = true;
    flush();
    sink.end();
  }

  async close(): Promise<void> {}
}

export function lockInput(r: TraceRecord, row: number) {
  return {
    row,
    seq: Number(r.seq),
    kind: r.kind,
    timestamp: Number(r.timestamp),
    driveId: r.driveId,
    handleId: Number(r.handleId),
    pid: r.pid,
    openerPid: r.openerPid,
    image: r.openerImage,
    normalizedCode: r.normalizedCode,
    status: r.status,
    reason: r.reason,
    countReleased: r.countReleased,
  };
}

function ledgerFromTracker(t: LockTracker, driveIds: Set<number>, takenAt: bigint, seq: bigint): LedgerView {
  const held = t.held();
  return {
    takenAt: u64(takenAt),
    seq: u64(seq),
    from: "trace",
    drives: [...driveIds]
      .sort((a, b) => a - b)
      .map((driveId) => {
        const owners = held
          .filter((h) => h.driveId === driveId)
          .map((h) => ({
            handleId: h.handleId,
            pid: h.pid,
            imageName: h.image,
            secureCount: h.secure,
            simpleCount: h.simple,
            mcnCount: h.mcn,
            exclusive: false,
            since: h.since,
            blocksEject: blocksEjectText({ secureCount: h.secure, simpleCount: h.simple }),
          }));
        return {
          driveId,
          name: `drive ${driveId}`,
          policy: "unknown",
          secureTotal: owners.reduce((a, o) => a + o.secureCount, 0),
          simpleTotal: owners.reduce((a, o) => a + o.simpleCount, 0),
          mcnTotal: owners.reduce((a, o) => a + o.mcnCount, 0),
          foreignUnlocks: 0,
          denials: 0,
          owners,
          ownersTruncated: false,
        };
      }),
  };
}
