/**
 * `export`: a recorded trace (a pcapng recording from `record`, a rotated set, or JSON Lines from
 * `trace --json`; a file or stdin) or a live one (from the client; on the simulator with
 * --scenario/--burst) to normalized JSON Lines, CSV, a pcapng recording, and a Chrome/Perfetto
 * trace-event JSON where each lock is a span per owner and each request an event.
 * The filter options (--include/--exclude, docs/filters.md) select the records exported; drop
 * notices are always kept.
 */
import type { Command } from "commander";
import { LedgerSnapshot, PROTOCOL_VERSION, TraceConfig, type TraceEvent } from "../../client/index.ts";
import { RECORDING_FORMAT, RECORDING_VERSION, type RecordingHeader, liveHeader } from "../../recording/header.ts";
import { type TraceSource, TraceSourceError, openTraceSource } from "../../recording/reader.ts";
import { RecordingWriter } from "../../recording/writer.ts";
import { CliError, ExitCode, inputError, usageError } from "../errors.ts";
import { type GlobalOptions, connect, hasActivity, loadScenario, makeOutput } from "../context.ts";
import type { Output } from "../output.ts";
import type { RecordFilter } from "../../filter/index.ts";
import { CsvFormatter } from "../csv.ts";
import { type FilterOptions, eventJsonLine, jsonLineContext, parseFilter } from "../records.ts";
import { chromeTrace, lockTimeline, renderTimeline } from "../timeline.ts";
import { writeOut } from "./audit.ts";
import { activityFrom, addActivityOptions } from "./status.ts";
import { streamTrace } from "./trace.ts";

interface ExportOpts extends FilterOptions {
  jsonl?: string;
  csv?: string;
  chrome?: string;
  pcapng?: string;
  scenario?: string;
  burst?: string;
}

export function registerExport(program: Command, globals: () => GlobalOptions): void {
  addActivityOptions(
    program
      .command("export")
      .description("convert a recording, a rotated set or JSON Lines (or the live trace) to JSON Lines, pcapng and Chrome/Perfetto JSON")
      .argument("[input]", 'a recording (`cdfilter record`, any part of a rotated set) or JSON Lines ("-" = stdin); absent: the live trace')
      .option("--jsonl <file>", "write the trace as JSON Lines (with host and ISO time when the source has clock anchors)")
      .option("--pcapng <file>", "write the trace as a pcapng recording (open it in Wireshark with the cdfilter plugin)")
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
    if (!o.jsonl && !o.chrome && !o.pcapng && !o.csv)
      throw usageError(
        "export needs an output: --jsonl FILE, --csv FILE, --pcapng FILE and/or --chrome FILE",
        "cdfilter export run.pcapng --chrome trace.json",
      );
    const filter = parseFilter(o);
    const activity = activityFrom(o);
    if (input !== undefined && hasActivity(activity))
      throw usageError("--scenario/--burst play live activity: give them without an input file");
    const src = input === undefined ? await liveSource(g, out, activity) : await readSource(input, out);
    const all = src.events;
    const events = filterEvents(all, filter);
    const timeline = lockTimeline(events);
    // host and time: from the recording's header, or recovered from JSON Lines that had them.
    const known = src.header ?? src.context;
    const ctx = known ? jsonLineContext(known.host, known) : undefined;
    if (o.jsonl)
      writeOut(
        out,
        o.jsonl,
        events.map((ev) => eventJsonLine(ev, ctx)).join("\n") + (events.length ? "\n" : ""),
        `${events.length} event(s) as JSON Lines`,
      );
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
    if (o.pcapng) writePcapng(out, o.pcapng, src, events);
    if (o.chrome)
      writeOut(out, o.chrome, JSON.stringify(chromeTrace(events, timeline)) + "\n", `Chrome trace (${timeline.spans.length} lock span(s))`);
    if (out.json) {
      out.jsonDoc({
        records: timeline.records,
        dropped: timeline.dropped,
        spans: timeline.spans,
        ...(src.torn.length ? { torn: src.torn } : {}),
        ...(src.warnings.length ? { warnings: src.warnings } : {}),
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

/** A JSON Lines source has no header: the pcapng gets one that says what is unknown. */
function writePcapng(out: Output, file: string, src: TraceSource, events: TraceEvent[]): void {
  const first = src.events.find((e) => e.type === "record");
  const h: Omit<RecordingHeader, "part"> = src.header
    ? { ...src.header }
    : {
        format: RECORDING_FORMAT,
        version: RECORDING_VERSION,
        host: src.context?.host ?? "",
        instance: "unknown",
        hostKind: "HOST_KIND_UNSPECIFIED",
        driverVersion: "",
        protocolVersion: PROTOCOL_VERSION,
        transport: "jsonl",
        wallClockAnchor: src.context?.wallClockAnchor ?? 0n,
        monotonicAnchor: src.context?.monotonicAnchor ?? 0n,
        startedAt: new Date().toISOString(),
        afterSeq: first && first.type === "record" && first.record.seq > 0n ? first.record.seq - 1n : 0n,
        ledger: LedgerSnapshot.create(),
        traceConfig: TraceConfig.create(),
      };
  let w: RecordingWriter;
  try {
    w = RecordingWriter.create(file, h);
  } catch (e) {
    throw new CliError(
      `cannot write pcapng to ${file}: ${(e as Error).message}`,
      ExitCode.OUTPUT_FAILED,
      "give a file path in an existing, writable directory",
    );
  }
  for (const ev of events) w.event(ev);
  const st = w.close();
  out.note(`wrote ${st.records} record(s) as pcapng to ${file}`);
}

export async function liveSource(g: GlobalOptions, out: Output, activity: ReturnType<typeof activityFrom>): Promise<TraceSource> {
  const scenario = activity.scenario ? loadScenario(activity.scenario) : undefined;
  const client = await connect(g, out, { simulator: hasActivity(activity), drives: scenario?.drives });
  const events: TraceEvent[] = [];
  let header: RecordingHeader | undefined;
  try {
    if (client.transportKind === "simulator" && !hasActivity(activity)) {
      throw usageError(
        "the embedded simulator has no activity of its own: nothing to export",
        "give a recorded trace file, or add --scenario FILE or --burst N",
      );
    }
    header = { ...(await liveHeader(client, 0n)), part: 0 };
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
  let records = 0;
  let dropped = 0n;
  for (const e of events)
    if (e.type === "record") records++;
    else dropped += e.count;
  return { format: "pcapng", files: [], header, headers: header ? [header] : [], events, records, dropped, torn: [], warnings: [] };
}

/** Any trace source (recording, rotated set, JSON Lines, stdin); torn tails and warnings as notes. */
export async function readSource(input: string, out: Output): Promise<TraceSource> {
  let src: TraceSource;
  try {
    src = await openTraceSource(input);
  } catch (e) {
    if (e instanceof TraceSourceError || e instanceof CliError)
      throw inputError(e.message, "give a recording from `cdfilter record`, JSON Lines from `cdfilter trace --json`, or - for stdin");
    throw e;
  }
  for (const t of src.torn)
    out.note(
      `${t.file}: torn tail at byte ${t.torn.offset} (${t.torn.bytes} byte(s) not read: ${t.torn.reason}); every record before it was read`,
    );
  for (const w of src.warnings) out.warn(w);
  return src;
}
