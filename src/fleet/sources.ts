/**
 * What `cdfilter ship` reads: the live trace of a FilterClient (the driver, or the embedded
 * simulator while it plays --scenario/--burst), or a JSON Lines trace file written by
 * `cdfilter trace --json`. Each source feeds a Shipper and awaits it, so back-pressure reaches
 * the reader (and, on the simulator, the paced burst).
 */
import { createHash } from "node:crypto";
import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { createInterface } from "node:readline";
import { type FilterClient, OperationAbortedError } from "../client/index.ts";
import { type ActivityOptions, hasActivity, playActivity } from "../cli/context.ts";
import { inputError } from "../cli/errors.ts";
import { parseTraceJsonLine } from "../cli/records.ts";
import { auditJson, type Scenario } from "../scenario/index.ts";
import type { Shipper } from "./shipper.ts";

export interface SourceResult {
  records: number;
  /** Records the source itself lost (ring overflow, reported in-band as drop notices). */
  dropped: bigint;
  /** The audit document of the played scenario, when there was one. */
  audit?: unknown;
  interrupted: boolean;
}

/**
 * The audit document plus `images` (scenario process name -> image name), an addition the
 * findings mapping (envelope.ts, findingsFromAudit) uses to name images.
 */
export function withImages(doc: unknown, scenario: Scenario | undefined): unknown {
  if (!scenario || typeof doc !== "object" || doc === null) return doc;
  const images: Record<string, string> = {};
  for (const [name, p] of scenario.processes) images[name] = p.image;
  return { ...(doc as Record<string, unknown>), images };
}

/** Default driver instance of a live source: the driver's load time (its wall-clock anchor, FILETIME). */
export function liveInstance(client: FilterClient): string {
  const wall = client.connectInfo.wallClockAnchor;
  return wall !== 0n ? `w${wall}` : `p${process.pid}-${Date.now()}`;
}

/** Default instance of a file: a digest of its first 64 KiB (shipping the same file again is the same instance). */
export function fileInstance(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw inputError(
      `cannot read trace ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      "give a JSON Lines file written by `cdfilter trace --json`",
    );
  }
  try {
    const buf = Buffer.alloc(65536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return `f${createHash("sha256").update(buf.subarray(0, n)).digest("hex").slice(0, 24)}`;
  } finally {
    closeSync(fd);
  }
}

export interface LiveOptions {
  activity: ActivityOptions;
  scenario?: Scenario;
  /** Keep following after the activity (simulator), or until interrupted (driver). */
  follow: boolean;
  signal?: AbortSignal;
}

/**
 * Ship the trace of `client`. With activity (simulator) it ends once every record the activity
 * produced is shipped; without, it follows until `signal` aborts.
 */
export async function shipLive(client: FilterClient, shipper: Shipper, o: LiveOptions): Promise<SourceResult> {
  const ctl = new AbortController();
  const activityCtl = new AbortController();
  ctl.signal.addEventListener("abort", () => activityCtl.abort(), { once: true });
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    ctl.abort();
  };
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const played = hasActivity(o.activity);
  const stream = client.trace({ from: played ? 0n : undefined, signal: ctl.signal, highWaterMark: 8192 });
  let lastSeq = 0n;
  let endSeq: bigint | undefined;
  const res: SourceResult = { records: 0, dropped: 0n, interrupted: false };
  const idleCheck = setInterval(() => {
    if (endSeq !== undefined && lastSeq >= endSeq && !o.follow) ctl.abort();
  }, 20);
  const activity = played
    ? playActivity(client, o.activity, o.scenario, { readerSeq: () => lastSeq, signal: activityCtl.signal }).then(async (r) => {
        if (r) res.audit = withImages(auditJson(r, client.transportKind), o.scenario);
        endSeq = (await client.info()).newestSeq;
      })
    : undefined;
  activity?.catch(() => ctl.abort());
  try {
    for await (const ev of stream) {
      if (ev.type === "record") {
        lastSeq = ev.record.seq;
        res.records++;
        await shipper.record(ev.record);
      } else {
        lastSeq = ev.afterSeq + ev.count;
        if (ev.count > 0n) {
          res.dropped += ev.count;
          await shipper.dropped(ev.count, ev.afterSeq, "ring");
        }
      }
      if (endSeq !== undefined && lastSeq >= endSeq && !o.follow) break;
    }
  } catch (e) {
    if (!(e instanceof OperationAbortedError)) throw e;
  } finally {
    activityCtl.abort();
    clearInterval(idleCheck);
    o.signal?.removeEventListener("abort", onAbort);
  }
  await stream.return();
  if (activity && !interrupted) await activity;
  if (res.audit !== undefined) await shipper.audit(res.audit);
  res.interrupted = interrupted;
  return res;
}

/**
 * Ship a JSON Lines trace file line by line (memory stays bounded). A malformed line stops with
 * a BAD_INPUT error naming file and line, after what came before it was shipped.
 */
export async function shipJsonLines(file: string, shipper: Shipper, signal?: AbortSignal): Promise<SourceResult> {
  const res: SourceResult = { records: 0, dropped: 0n, interrupted: false };
  const input = createReadStream(file, { encoding: "utf8" });
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  try {
    for await (const raw of rl) {
      lineNo++;
      if (signal?.aborted) {
        res.interrupted = true;
        break;
      }
      const line = raw.trim();
      if (line === "") continue;
      const ev = parseTraceJsonLine(line, file, lineNo);
      if (ev.type === "record") {
        res.records++;
        await shipper.record(ev.record);
      } else if (ev.count > 0n) {
        res.dropped += ev.count;
        await shipper.dropped(ev.count, ev.afterSeq, "ring");
      }
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw inputError(`cannot read trace ${file}: ${code}`, "give a JSON Lines file written by `cdfilter trace --json`");
    throw e;
  } finally {
    rl.close();
    input.destroy();
  }
  return res;
}
