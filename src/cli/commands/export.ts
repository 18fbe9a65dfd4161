/**
 * `export`: a recorded trace (JSON Lines from `trace --json`, a file or stdin) or a live one (from
 * the client; on the simulator with --scenario/--burst) to normalized JSON Lines and to a
 * Chrome/Perfetto trace-event JSON where each lock is a span per owner and each request an event.
 */
import { createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import type { TraceEvent } from "../../client/index.ts";
import { CliError, inputError, usageError } from "../errors.ts";
import { type GlobalOptions, connect, hasActivity, loadScenario, makeOutput } from "../context.ts";
import type { Output } from "../output.ts";
import { eventJsonLine, parseTraceJsonLine } from "../records.ts";
import { chromeTrace, lockTimeline, renderTimeline } from "../timeline.ts";
import { writeOut } from "./audit.ts";
import { activityFrom, addActivityOptions } from "./status.ts";
import { streamTrace } from "./trace.ts";

interface ExportOpts {
  jsonl?: string;
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
      .option("--chrome <file>", "write a Chrome/Perfetto trace-event JSON (open in ui.perfetto.dev or chrome://tracing)"),
  ).action(async (input: string | undefined, o: ExportOpts) => {
    const g = globals();
    const out = makeOutput(g);
    if (!o.jsonl && !o.chrome)
      throw usageError("export needs an output: --jsonl FILE and/or --chrome FILE", "cdfilter export trace.jsonl --chrome trace.json");
    const activity = activityFrom(o);
    if (input !== undefined && hasActivity(activity))
      throw usageError("--scenario/--burst play live activity: give them without an input file");
    const events = input === undefined ? await liveEvents(g, out, activity) : await readJsonLines(input, out);
    const timeline = lockTimeline(events);
    if (o.jsonl)
      writeOut(out, o.jsonl, events.map(eventJsonLine).join("\n") + (events.length ? "\n" : ""), `${events.length} event(s) as JSON Lines`);
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
      filter: {},
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

/**
 * Read JSON Lines line by line (progress on a TTY for big files); errors name file and line.
 * A bad last line without its newline is what a writer killed mid-line leaves: it is reported
 * (a warning naming the line) and the complete records before it are kept. A bad line anywhere
 * else rejects the file.
 */
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
  /** A line that did not parse: fatal unless it turns out to be the unterminated last line. */
  let bad: CliError | undefined;
  let lastByte = -1;
  stream.on("data", (chunk: Buffer | string) => {
    if (chunk.length > 0) lastByte = typeof chunk === "string" ? chunk.charCodeAt(chunk.length - 1) : chunk[chunk.length - 1]!;
  });
  try {
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      lineNo++;
      if (bad) throw bad;
      if (line.trim() === "") continue;
      try {
        events.push(parseTraceJsonLine(line, name, lineNo));
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        bad = e;
      }
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
  if (bad) {
    if (lastByte === 0x0a) throw bad;
    out.warn(
      `${name}:${lineNo}: the last line is incomplete (no newline; the writer was stopped mid-line?) and is ignored; ` +
        `the ${events.length} complete event(s) before it are kept`,
    );
  }
  return events;
}
