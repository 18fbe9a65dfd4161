/**
 * `export`: a recorded trace (JSON Lines from `trace --json`, a file or stdin) or a live one (from
 * the client; on the simulator with --scenario/--burst) to normalized JSON Lines, CSV and a
 * Chrome/Perfetto trace-event JSON where each lock is a span per owner and each request an event.
 * The filter options (--include/--exclude, docs/filters.md) select the records exported; drop
 * notices are always kept.
 */
import { createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import type { TraceEvent } from "../../client/index.ts";
import { inputError, usageError } from "../errors.ts";
import { type GlobalOptions, connect, hasActivity, loadScenario, makeOutput } from "../context.ts";
import type { Output } from "../output.ts";
import type { RecordFilter } from "../../filter/index.ts";
import { CsvFormatter } from "../csv.ts";
import { type FilterOptions, eventJsonLine, parseFilter, parseTraceJsonLine } from "../records.ts";
import { chromeTrace, lockTimeline, renderTimeline } from "../timeline.ts";
import { writeOut } from "./audit.ts";
import { activityFrom, addActivityOptions } from "./status.ts";
import { streamTrace } from "./trace.ts";

interface ExportOpts extends FilterOptions {
  jsonl?: string;
  csv?: string;
  chrome?: string;
  scenario?: string;
  burst?: string;
}

export function registerExport(program: Command, globals: () => GlobalOptions): void {
  addActivityOptions(
    program
      .command("export")
      .description("convert a recorded trace (JSON Lines) or a live one to JSON Lines and Chrome/Perfetto trace-event JSON")
      .argument("[input]", 'JSON Lines from `cdfilter trace --json` ("-" = stdin); absent: the live trace')
      .option("--jsonl <file>", "write the trace as JSON Lines")
      .option("--chrome <file>", "write a Chrome/Perfetto trace-event JSON (open in ui.perfetto.dev or chrome://tracing)")
      .option("--csv <file>", "write the trace as CSV (RFC 4180, header row; safe to open in a spreadsheet)")
      .option("--drive <id>", "only these drives (same as --include drive=ID)", collect)
      .option("--pid <pid>", "only these processes (same as --include pid=N)", collect)
      .option("--major <name>", "only these IRP major functions (same as --include major=NAME)", collect)
      .option("--ioctl <code>", "only these IOCTLs (same as --include ioctl=NAME)", collect)
      .option("--include <field=value>", "export records with this value (repeatable; docs/filters.md)", collect)
      .option("--exclude <field=value>", "leave out records with this value (repeatable; excludes win)", collect),
  ).action(async (input: string | undefined, o: ExportOpts) => {
    const g = globals();
    const out = makeOutput(g);
    if (!o.jsonl && !o.chrome && !o.csv)
      throw usageError(
        "export needs an output: --jsonl FILE, --csv FILE and/or --chrome FILE",
        "cdfilter export trace.jsonl --chrome trace.json",
      );
    const filter = parseFilter(o);
    const activity = activityFrom(o);
    if (input !== undefined && hasActivity(activity))
      throw usageError("--scenario/--burst play live activity: give them without an input file");
    const all = input === undefined ? await liveEvents(g, out, activity) : await readJsonLines(input, out);
    const events = filterEvents(all, filter);
    const timeline = lockTimeline(events);
    if (o.jsonl)
      writeOut(out, o.jsonl, events.map(eventJsonLine).join("\n") + (events.length ? "\n" : ""), `${events.length} event(s) as JSON Lines`);
    if (o.csv) {
      // `seconds` from the trace's first record, as relative `time` rules count
      const first = all.find((e) => e.type === "record");
      const csv = new CsvFormatter(first?.type === "record" ? first.record.timestamp : undefined);
      // every dispatch is remembered, so a completion row names its argument even when the
      // filter leaves the dispatch out
      const kept = new Set(events);
      let text = csv.header();
      for (const e of all) {
        if (kept.has(e)) text += csv.format(e);
        else if (e.type === "record") csv.remember(e.record);
      }
      writeOut(out, o.csv, text, `${events.length} event(s) as CSV`);
    }
    if (o.chrome)
      writeOut(out, o.chrome, JSON.stringify(chromeTrace(events, timeline)) + "\n", `Chrome trace (${timeline.spans.length} lock span(s))`);
    if (out.json) {
      out.jsonDoc({
        records: timeline.records,
        dropped: timeline.dropped,
        spans: timeline.spans,
      });
    } else {
      out.line(out.c.bold("Lock ownership"));
      for (const l of renderTimeline(timeline, out.c)) out.line("  " + l);
    }
  });
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The records the filter passes, and every drop notice (a gap is never hidden). */
export function filterEvents(events: TraceEvent[], filter: RecordFilter): TraceEvent[] {
  if (filter.empty) return events;
  const first = events.find((e) => e.type === "record");
  if (first?.type === "record") filter.timeBase ??= first.record.timestamp;
  return events.filter((e) => e.type === "dropped" || filter.matches(e.record));
}

async function liveEvents(g: GlobalOptions, out: Output, activity: ReturnType<typeof activityFrom>): Promise<TraceEvent[]> {
  const scenario = activity.scenario ? loadScenario(activity.scenario) : undefined;
  const client = await connect(g, out, { simulator: hasActivity(activity), drives: scenario?.drives });
  const events: TraceEvent[] = [];
  try {
    if (client.transportKind === "simulator" && !hasActivity(activity)) {
      throw usageError(
        "the embedded simulator has no activity of its own: nothing to export",
        "give a recorded trace file, or add --scenario FILE or --burst N",
      );
    }
    const code = await streamTrace(client, out, {
      filter: parseFilter({}),
      completed: false,
      follow: false,
      activity,
      scenario,
      silent: true,
      onEvent: (ev) => events.push(ev),
    });
    if (code !== 0) process.exitCode = code;
  } finally {
    await client.close();
  }
  return events;
}

/** Read JSON Lines line by line (progress on a TTY for big files); errors name file and line. */
async function readJsonLines(input: string, out: Output): Promise<TraceEvent[]> {
  const name = input === "-" ? "(stdin)" : input;
  let size = 0;
  if (input !== "-") {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(input);
    } catch (e) {
      throw inputError(
        `cannot read ${input}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
        "record one with `cdfilter trace --json ... > trace.jsonl`",
      );
    }
    if (st.isDirectory())
      throw inputError(
        `cannot read ${input}: it is a directory`,
        "give a JSON Lines file written by `cdfilter trace --json`, or - for stdin",
      );
    size = st.size;
  }
  const stream = input === "-" ? process.stdin : createReadStream(input);
  const bar = size > 4 * 1024 * 1024 ? out.progress(`reading ${name}`, Math.ceil(size / 1024), "KiB") : undefined;
  const events: TraceEvent[] = [];
  let lineNo = 0;
  try {
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === "") continue;
      events.push(parseTraceJsonLine(line, name, lineNo));
      if (bar && (lineNo & 0xfff) === 0) bar.update(Math.floor((stream as { bytesRead?: number }).bytesRead ?? 0) / 1024);
    }
  } catch (e) {
    // The file went away, is a FIFO that failed, ... (a parse error is already a CliError).
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("E"))
      throw inputError(`cannot read ${name}: ${(e as Error).message}`, "give a readable JSON Lines file, or - for stdin");
    throw e;
  } finally {
    bar?.stop();
  }
  return events;
}
