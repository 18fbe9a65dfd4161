/**
 * `trace`: the live request trace, human lines, JSON Lines (--json) or CSV (--csv), filtered
 * client-side with Procmon-like include/exclude rules (src/filter/, docs/filters.md); drops
 * appear in the stream.
 *
 * With the real driver it follows until Ctrl-C (or --limit). With the embedded simulator the
 * activity comes from --scenario/--burst, played while tracing; the trace ends once every record
 * of that activity is printed (--follow keeps waiting).
 */
import { hostname } from "node:os";
import type { Command } from "commander";
import { type FilterClient, OperationAbortedError, RecordKind, type TraceEvent } from "../../client/index.ts";
import { ExitCode, usageError } from "../errors.ts";
import {
  type ActivityOptions,
  type GlobalOptions,
  connect,
  hasActivity,
  loadScenario,
  makeOutput,
  parseCount,
  playActivity,
  requireDriveIds,
} from "../context.ts";
import type { Output } from "../output.ts";
import type { RecordFilter } from "../../filter/index.ts";
import { CsvFormatter } from "../csv.ts";
import { HumanFormatter, type JsonLineContext, eventJsonLine, jsonLineContext, parseFilter } from "../records.ts";
import type { Scenario } from "../../scenario/index.ts";
import { activityFrom, addActivityOptions } from "./status.ts";

interface TraceOpts {
  drive?: string[];
  pid?: string[];
  major?: string[];
  ioctl?: string[];
  include?: string[];
  exclude?: string[];
  csv?: boolean;
  from?: string;
  limit?: string;
  completed?: boolean;
  follow?: boolean;
  pace: boolean;
  scenario?: string;
  burst?: string;
  failOnDrop?: boolean;
  outputCaptureBytes?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerTrace(program: Command, globals: () => GlobalOptions): void {
  addActivityOptions(
    program
      .command("trace")
      .description("stream the request trace live (JSON Lines with --json); drops are shown in the stream")
      .option("--drive <id>", "only these drives (repeatable, or comma-separated)", collect)
      .option("--pid <pid>", "only requests sent by, or on handles opened by, these processes", collect)
      .option("--major <name>", "only these IRP major functions: DEVICE_CONTROL, READ, CREATE, CLEANUP, CLOSE, ... or 0..27", collect)
      .option("--ioctl <code>", "only these IOCTLs (name or code, as sent or normalized)", collect)
      .option("--include <field=value>", "show records with this value (repeatable; same field: any of them; docs/filters.md)", collect)
      .option("--exclude <field=value>", "hide records with this value (repeatable; excludes win over includes)", collect)
      .option("--csv", "CSV (RFC 4180, header row) instead of human lines")
      .option("--from <seq>", "start at this sequence number (default: the oldest record in the ring)")
      .option("--limit <n>", "stop after printing N records")
      .option("--completed", "one line per request (its completion) plus the filter's own releases")
      .option(
        "--output-capture-bytes <n>",
        "first set the driver's output capture (TraceConfig.output_capture_bytes, as `config set`): pass-through completions then show ScsiStatus and sense",
      )
      .option("--follow", "simulator: keep waiting after the played activity (until Ctrl-C)")
      .option("--no-pace", "simulator: send the burst as fast as possible, letting the ring overflow (shows drops)")
      .option("--fail-on-drop", "exit 1 if records were dropped (left the ring before they were read): for CI"),
  ).action(async (o: TraceOpts) => {
    const g = globals();
    const out = makeOutput(g);
    const filter = parseFilter(o);
    if (o.csv && g.json) throw usageError("--csv and --json are two output formats: give one");
    const activity: ActivityOptions = { ...activityFrom(o), pace: o.pace };
    const from = o.from === undefined ? undefined : parseSeq(o.from);
    const limit = o.limit === undefined ? undefined : parseCount(o.limit, "--limit");
    const scenario = activity.scenario ? loadScenario(activity.scenario) : undefined;
    const client = await connect(g, out, { simulator: hasActivity(activity), drives: scenario?.drives });
    try {
      if (client.transportKind === "simulator" && !hasActivity(activity)) {
        throw usageError(
          "the embedded simulator has no activity of its own: nothing would ever be traced",
          "add --scenario scenarios/demo.yaml or --burst 10000 (or run `npm start` for the demo)",
        );
      }
      await requireDriveIds(client, includedDriveIds(filter));
      if (o.outputCaptureBytes !== undefined) {
        const max = (await client.info()).maxCaptureBytes;
        const n = parseCount(o.outputCaptureBytes, "--output-capture-bytes", 0, max, "0 (off) .. the driver's limit");
        await client.setTraceConfig({ outputCaptureBytes: n });
      }
      process.exitCode = await streamTrace(client, out, {
        filter,
        from,
        limit,
        completed: o.completed === true,
        follow: o.follow === true,
        activity,
        scenario,
        csv: o.csv === true,
        failOnDrop: o.failOnDrop === true,
      });
    } finally {
      await client.close();
    }
  });
}

/** The drive ids `--drive`/`--include drive=...` name (an unknown one is a usage error, not a silent empty trace). */
function includedDriveIds(filter: RecordFilter): number[] {
  const ids: number[] = [];
  for (const r of filter.rules) {
    if (r.field !== "drive" || r.action !== "include") continue;
    for (const v of r.value.split(",")) {
      const n = Number(v.trim().replace(/^d/i, ""));
      if (Number.isInteger(n) && n > 0) ids.push(n);
    }
  }
  return ids;
}

function parseSeq(s: string): bigint {
  const hint = "a record's seq from `cdfilter trace --json` (a decimal integer), or leave --from out to start at the oldest record";
  if (!/^\d{1,20}$/.test(s.trim())) throw usageError(`--from expects a sequence number, got "${s}"`, hint);
  const v = BigInt(s.trim());
  if (v > 0xffff_ffff_ffff_ffffn) throw usageError(`--from ${s} is past 2^64-1 (sequence numbers are 64-bit)`, hint);
  return v;
}

/** Record kinds `--completed` leaves out (one line per request: its completion). */
const HIDDEN_WHEN_COMPLETED: ReadonlySet<RecordKind> = new Set([
  RecordKind.RECORD_KIND_DISPATCH,
  RecordKind.RECORD_KIND_HANDLE_OPEN,
  RecordKind.RECORD_KIND_HANDLE_CLOSE,
]);

/** host + ISO time for JSON Lines, from the driver's anchors (InfoReply). */
export async function jsonContextOf(client: FilterClient): Promise<JsonLineContext> {
  const info = await client.info();
  return jsonLineContext(hostname(), info);
}

export interface StreamOptions {
  filter: RecordFilter;
  /** Print CSV rows (header first) instead of human or JSON lines. */
  csv?: boolean;
  from?: bigint;
  limit?: number;
  completed: boolean;
  follow: boolean;
  activity: ActivityOptions;
  scenario?: Scenario;
  /** Called for every event that passes the filter (export --live collects them). */
  onEvent?: (ev: TraceEvent) => void;
  /** Do not print (export, record). */
  silent?: boolean;
  /** Called whenever the stream has nothing more buffered (record flushes its file here). */
  onIdle?: () => void;
  /** Ends the stream like the end of the activity (not an interruption): record --duration. */
  stop?: AbortSignal;
  /** Keep each record's encoding (TraceOptions.keepEncoded): the recorder writes it as is. */
  keepEncoded?: boolean;
  /** A drop notice makes the result a failure (exit 1). */
  failOnDrop?: boolean;
}

/** Stream until Ctrl-C, --limit, or the end of the played activity. Returns the exit code. */
export async function streamTrace(client: FilterClient, out: Output, o: StreamOptions): Promise<number> {
  const ctl = new AbortController();
  // The played activity has its own controller: it must also stop when the reader stops early
  // (--limit), or a paced burst waits for a reader that is gone and the command never exits.
  const activityCtl = new AbortController();
  ctl.signal.addEventListener("abort", () => activityCtl.abort(), { once: true });
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    ctl.abort();
  };
  process.once("SIGINT", onSigint);
  const onStop = () => ctl.abort();
  o.stop?.addEventListener("abort", onStop, { once: true });
  // --from N includes record N: the client's cursor is "after".
  const stream = client.trace({
    from: o.from === undefined ? undefined : o.from > 0n ? o.from - 1n : 0n,
    signal: ctl.signal,
    highWaterMark: 8192,
    keepEncoded: o.keepEncoded === true,
  });
  const csv = o.csv ? new CsvFormatter() : undefined;
  const human = out.json || csv ? undefined : new HumanFormatter(out.c, o.completed);
  const jsonCtx = human || csv || o.silent ? undefined : await jsonContextOf(client);
  let chunk = csv && !o.silent ? csv.header() : "";
  let lastSeq = o.from ?? 0n;
  let endSeq: bigint | undefined;
  let printed = 0;
  let dropped = 0n;
  const idleCheck = setInterval(() => {
    if (endSeq !== undefined && lastSeq >= endSeq && !o.follow) ctl.abort();
  }, 20);

  const activity = hasActivity(o.activity)
    ? playActivity(client, o.activity, o.scenario, { readerSeq: () => lastSeq, signal: activityCtl.signal }).then(async () => {
        endSeq = (await client.info()).newestSeq;
      })
    : undefined;
  activity?.catch(() => ctl.abort());

  // Relative `time` rules and the `+seconds` column count from the stream's first record,
  // filtered or not.
  const filtered = !o.filter.empty;
  try {
    for await (const ev of stream) {
      if (ev.type === "record") {
        lastSeq = ev.record.seq;
        if (o.filter.timeBase === undefined) {
          o.filter.timeBase = ev.record.timestamp;
          human?.anchor(ev.record.timestamp);
          csv?.anchor(ev.record.timestamp);
        }
        const shown = !filtered || o.filter.matches(ev.record);
        if (!shown && !o.silent) {
          human?.remember(ev.record);
          csv?.remember(ev.record);
        }
        if (shown) {
          o.onEvent?.(ev);
          if (!o.silent) {
            if (csv) {
              // the row is always formatted: a dispatch's input names its completion
              const row = csv.format(ev);
              if (!o.completed || !HIDDEN_WHEN_COMPLETED.has(ev.record.kind)) {
                chunk += row;
                printed++;
              }
            }
            const line = csv ? undefined : human ? human.format(ev) : eventJsonLine(ev, jsonCtx);
            if (line !== undefined) {
              chunk += line + "\n";
              printed++;
            }
          } else printed++;
        }
      } else {
        dropped += ev.count;
        lastSeq = ev.afterSeq + ev.count;
        o.onEvent?.(ev);
        if (!o.silent) chunk += csv ? csv.format(ev) : (human ? human.format(ev) : eventJsonLine(ev)) + "\n";
      }
      if (o.onIdle && stream.buffered === 0) o.onIdle();
      if (chunk.length > 65536 || (chunk && stream.buffered === 0)) {
        await out.write(chunk);
        chunk = "";
      }
      if (o.limit !== undefined && printed >= o.limit) break;
      if (endSeq !== undefined && lastSeq >= endSeq && !o.follow) break;
    }
  } catch (e) {
    if (!(e instanceof OperationAbortedError)) throw e;
  } finally {
    // Whatever ended the loop (--limit, the end of the activity, Ctrl-C, an error), nothing
    // reads any more: stop the activity before waiting for it.
    activityCtl.abort();
    clearInterval(idleCheck);
    process.off("SIGINT", onSigint);
    o.stop?.removeEventListener("abort", onStop);
    if (chunk) await out.write(chunk);
  }
  await stream.return();
  if (activity && !interrupted) await activity;
  if (!o.silent) out.note(`${printed} record(s) printed${dropped > 0n ? `, ${dropped} dropped` : ""}`);
  if (interrupted) return ExitCode.INTERRUPTED;
  if (o.failOnDrop && dropped > 0n) {
    out.warn(`${dropped} record(s) were dropped (they left the ring before they were read) and --fail-on-drop is set`);
    return ExitCode.CHECK_FAILED;
  }
  return ExitCode.OK;
}
