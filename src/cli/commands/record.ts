/**
 * `record --out FILE`: the live trace into a durable pcapng recording (src/recording/writer.ts,
 * docs/recording.md): header (host, driver instance, protocol version, clock anchors, the ledger
 * at start, the trace configuration), every record after the start ledger's seq, drop notices
 * in-band, rotation by size. Readers: `export`, `audit --recording`, Wireshark with
 * src/recording/wireshark/cdfilter.lua.
 *
 * With the driver it records until Ctrl-C / SIGTERM, --limit or --duration; with the embedded
 * simulator the activity comes from --scenario/--burst and the recording ends with it.
 */
import { type } from "node:os";
import type { Command } from "commander";
import { encodedRecord } from "../../client/trace-stream.ts";
import { RecordingWriter, type WriterStats } from "../../recording/writer.ts";
import { liveHeader } from "../../recording/header.ts";
import { CliError, ExitCode, usageError } from "../errors.ts";
import { type GlobalOptions, type ActivityOptions, connect, hasActivity, loadScenario, makeOutput, parseCount } from "../context.ts";
import { parseFilter } from "../records.ts";
import { activityFrom, addActivityOptions } from "./status.ts";
import { streamTrace } from "./trace.ts";

interface RecordOpts {
  out: string;
  maxSize?: string;
  maxFiles?: string;
  limit?: string;
  duration?: string;
  pace: boolean;
  scenario?: string;
  burst?: string;
}

/** "1048576", "64K", "10M", "2G" (binary units) to bytes. */
export function parseSize(s: string, what: string): number {
  const m = /^\s*(\d+)\s*([kmg]?)i?b?\s*$/i.exec(s);
  const hint = `a size in bytes, optionally with K, M or G (binary units), e.g. ${what} 64M`;
  if (!m) throw usageError(`${what} must be a size, got "${s}"`, hint);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  const v = Number(m[1]) * mult;
  if (!Number.isSafeInteger(v) || v < 4096) throw usageError(`${what} must be at least 4096 bytes, got "${s}"`, hint);
  return v;
}

export function registerRecord(program: Command, globals: () => GlobalOptions): void {
  addActivityOptions(
    program
      .command("record")
      .description("record the live trace into a durable pcapng file (read by export, audit --recording, Wireshark)")
      .requiredOption("--out <file>", "recording to write (pcapng; parts of a rotated set get .1, .2, ... before the extension)")
      .option("--max-size <bytes>", "start a new part when one would grow past this size (e.g. 64M)")
      .option("--max-files <n>", "keep only the newest N parts (with --max-size)")
      .option("--limit <n>", "stop after N records")
      .option("--duration <seconds>", "stop after this many seconds")
      .option("--no-pace", "simulator: send the burst as fast as possible, letting the ring overflow (drops are recorded)"),
  ).action(async (o: RecordOpts) => {
    const g = globals();
    const out = makeOutput(g);
    const maxSize = o.maxSize === undefined ? 0 : parseSize(o.maxSize, "--max-size");
    const maxFiles = o.maxFiles === undefined ? 0 : parseCount(o.maxFiles, "--max-files", 1, 1_000_000);
    if (maxFiles && !maxSize) throw usageError("--max-files needs --max-size", "e.g. --max-size 64M --max-files 4");
    const limit = o.limit === undefined ? undefined : parseCount(o.limit, "--limit");
    const duration = o.duration === undefined ? undefined : parseCount(o.duration, "--duration", 1, 31 * 24 * 3600);
    const activity: ActivityOptions = { ...activityFrom(o), pace: o.pace };
    const scenario = activity.scenario ? loadScenario(activity.scenario) : undefined;
    const client = await connect(g, out, { simulator: hasActivity(activity), drives: scenario?.drives });
    let writer: RecordingWriter | undefined;
    let stats: WriterStats | undefined;
    const stop = new AbortController();
    const onTerm = () => stop.abort();
    process.once("SIGTERM", onTerm);
    const timer = duration === undefined ? undefined : setTimeout(() => stop.abort(), duration * 1000);
    try {
      if (client.transportKind === "simulator" && !hasActivity(activity)) {
        throw usageError(
          "the embedded simulator has no activity of its own: nothing would ever be recorded",
          "add --scenario scenarios/demo.yaml or --burst 10000",
        );
      }
      const ledger = client.initialLedger;
      const header = await liveHeader(client, ledger.seq);
      try {
        writer = RecordingWriter.create(o.out, header, { maxSize, maxFiles, os: type() });
      } catch (e) {
        throw new CliError(
          `cannot write the recording ${o.out}: ${(e as Error).message}`,
          ExitCode.OUTPUT_FAILED,
          "give a file path in an existing, writable directory",
        );
      }
      out.note(`recording to ${o.out} (records after seq ${ledger.seq}; Ctrl-C to stop)`);
      const w = writer;
      process.exitCode = await streamTrace(client, out, {
        filter: parseFilter({}),
        from: ledger.seq + 1n,
        limit,
        completed: false,
        follow: false,
        activity,
        scenario,
        silent: true,
        keepEncoded: true,
        onEvent: (ev) => {
          const raw = ev.type === "record" ? encodedRecord(ev.record) : undefined;
          if (raw && ev.type === "record") w.recordEncoded(ev.record.seq, ev.record.timestamp, raw);
          else w.event(ev);
        },
        onIdle: () => w.flush(),
        stop: stop.signal,
      });
    } finally {
      if (timer) clearTimeout(timer);
      process.off("SIGTERM", onTerm);
      stats = writer?.close();
      await client.close();
    }
    if (stats) {
      const doc = {
        out: o.out,
        files: stats.files,
        parts: stats.parts,
        records: stats.records,
        dropped: stats.dropped,
        bytes: stats.bytes,
      };
      if (out.json) out.jsonDoc(doc);
      else
        out.line(
          `${stats.records} record(s)${stats.dropped ? `, ${stats.dropped} dropped` : ""}, ${stats.bytes} bytes in ${stats.files.length} file(s): ${stats.files.join(", ")}`,
        );
    }
  });
}
