/**
 * `audit --recording FILE` / `audit --live`: the rules (src/audit/, docs/audit.md) over what
 * really happened, per process and handle: verdict table, JSON, JUnit XML, timeline; exit 1 when
 * a finding fails.
 * `audit SCENARIO`: play a scenario file in the embedded simulator, check every step's
 * expectations, print a verdict table and write the reports (JSON, JUnit XML) and, on request,
 * the trace it produced (JSON Lines, Chrome/Perfetto trace).
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { FilterClient, TraceEvent } from "../../client/index.ts";
import type { ReportContext } from "../../audit/report.ts";
import type { RulesConfig } from "../../audit/rules.ts";
import { CliError, ExitCode, inputError, usageError } from "../errors.ts";
import { type GlobalOptions, connect, loadScenario, makeOutput, simulatorWorld } from "../context.ts";
import type { Output } from "../output.ts";
import { jsonReplacer, renderTable } from "../output.ts";
import { type FilterOptions, eventJsonLine, parseFilter } from "../records.ts";
import { type AuditResult, auditJson, auditJunit, runScenario, verdictSummary } from "../../scenario/index.ts";
import { chromeTrace, renderTimeline } from "../timeline.ts";
import { filterEvents, liveSource, readSource } from "./export.ts";
import { activityFrom, addActivityOptions } from "./status.ts";
import { jsonContextOf } from "./trace.ts";

interface AuditOpts extends Pick<FilterOptions, "include" | "exclude"> {
  recording?: string;
  live?: boolean;
  rules?: string;
  timeline?: boolean;
  scenario?: string;
  burst?: string;
  jsonOut?: string;
  junitOut?: string;
  traceOut?: string;
  chromeOut?: string;
  failOnDrop?: boolean;
}

export function registerAudit(program: Command, globals: () => GlobalOptions): void {
  addActivityOptions(
    program
      .command("audit")
      .description(
        "judge what really happened (--recording FILE or --live) against a rules file, or run a scenario file in the simulator and check its expectations",
      )
      .argument("[scenario]", 'YAML scenario file (see docs/cli.md, "Scenario format")')
      .option("--recording <file>", "audit a recording (`cdfilter record`, any part of a rotated set) or JSON Lines")
      .option("--live", "audit the live trace: what the driver's ring holds now, or the simulator's --scenario/--burst activity")
      .option("--rules <file>", "YAML rules file: fail/warn/ignore per rule and image, thresholds (docs/audit.md)")
      .option("--timeline", "also print the lock ownership timeline")
      .option("--json-out <file>", "write the verdicts as JSON")
      .option("--junit-out <file>", "write the verdicts as JUnit XML (scenario: one testcase per step; recording: per process x rule)")
      .option("--trace-out <file>", "scenario: write the scenario's trace as JSON Lines")
      .option("--chrome-out <file>", "write the trace as Chrome/Perfetto trace-event JSON")
      .option("--fail-on-drop", "exit 1 if records left the trace ring before they were read (the trace is incomplete): for CI")
      .option("--include <field=value>", "judge / write only records with this value (repeatable; docs/filters.md)", collect)
      .option("--exclude <field=value>", "leave out records with this value (repeatable; excludes win)", collect),
  ).action(async (file: string | undefined, o: AuditOpts) => {
    const g = globals();
    const out = makeOutput(g);
    if (o.recording !== undefined || o.live) {
      if (file !== undefined && !o.live)
        throw usageError(
          "give either a scenario file or --recording FILE, not both",
          "cdfilter audit --recording run.pcapng --rules rules.yaml",
        );
      if (o.recording !== undefined && o.live) throw usageError("give either --recording FILE or --live, not both");
      if (file !== undefined && o.live && o.scenario === undefined) o.scenario = file;
      await auditRecording(g, out, o);
      return;
    }
    if (file === undefined)
      throw usageError(
        "audit needs a scenario file, --recording FILE or --live",
        "cdfilter audit scenarios/demo.yaml, or cdfilter audit --recording run.pcapng --rules rules.yaml",
      );
    if (o.rules !== undefined || o.timeline || o.burst !== undefined || o.scenario !== undefined)
      throw usageError(
        "--rules, --timeline, --scenario and --burst go with --recording or --live",
        "cdfilter audit --live --scenario FILE --rules rules.yaml",
      );
    const scenario = loadScenario(file);
    const client = await connect(g, out, { simulator: true, drives: scenario.drives });
    try {
      const bar = out.progress(`audit ${scenario.name}`, scenario.steps.length, "steps");
      let res: AuditResult;
      try {
        res = await runScenario(client, scenario, simulatorWorld(client), { afterStep: (v) => bar.update(v.step.index) });
      } finally {
        bar.stop();
      }
      const doc = auditJson(res, client.transportKind);
      if (out.json) out.jsonDoc(doc);
      else printVerdicts(out, res);
      if (o.jsonOut) writeOut(out, o.jsonOut, JSON.stringify(doc, jsonReplacer, 2) + "\n", "verdicts (JSON)");
      if (o.junitOut) writeOut(out, o.junitOut, auditJunit(res), "verdicts (JUnit XML)");
      if (o.traceOut || o.chromeOut) {
        const events = filterEvents(await recordedTrace(client), parseFilter(o));
        if (o.traceOut) {
          const ctx = await jsonContextOf(client);
          writeOut(out, o.traceOut, events.map((ev) => eventJsonLine(ev, ctx)).join("\n") + "\n", "trace (JSON Lines)");
        }
        if (o.chromeOut) writeOut(out, o.chromeOut, JSON.stringify(chromeTrace(events)) + "\n", "trace (Chrome trace-event JSON)");
      }
      if (res.failed > 0) process.exitCode = ExitCode.CHECK_FAILED;
      if (o.failOnDrop) {
        // The simulator starts with an empty ring at seq 1: any record older than the oldest one left it.
        const info = await client.info();
        const lost = info.oldestSeq > 1n ? info.oldestSeq - 1n : 0n;
        if (lost > 0n) {
          out.warn(`${lost} trace record(s) of the run left the ring (the trace is incomplete) and --fail-on-drop is set`);
          process.exitCode = ExitCode.CHECK_FAILED;
        }
      }
    } finally {
      await client.close();
    }
  });
}

/** The rules engine (and ajv) load only for --recording/--live: other commands start faster. */
async function loadRules(file: string | undefined): Promise<RulesConfig> {
  const { RulesError, defaultRules, parseRules } = await import("../../audit/rules.ts");
  if (file === undefined) return defaultRules();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw inputError(
      `cannot read rules ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
      "give the path of a YAML rules file (docs/audit.md)",
    );
  }
  try {
    return parseRules(text, file);
  } catch (e) {
    if (e instanceof RulesError) {
      const [first, ...rest] = e.message.split("\n");
      for (const r of rest) out0(r);
      throw inputError(first!, "see docs/audit.md for the rules file format");
    }
    throw e;
  }
}

function out0(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** audit --recording FILE / --live: the rules over what really happened. */
async function auditRecording(g: GlobalOptions, out: Output, o: AuditOpts): Promise<void> {
  const rules = await loadRules(o.rules);
  const { auditTrace } = await import("../../audit/engine.ts");
  const { auditReportJson, auditReportJunit, renderAudit } = await import("../../audit/report.ts");
  const startedAt = new Date();
  const t0 = performance.now();
  const filter = parseFilter(o);
  const src = o.recording !== undefined ? await readSource(o.recording, out) : await liveSource(g, out, activityFrom(o));
  const events = filterEvents(src.events, filter);
  const report = auditTrace(events, rules, src.header?.ledger);
  const ctx: ReportContext = {
    source: o.recording ?? "live",
    ...(src.header ? { host: src.header.host, instance: src.header.instance } : {}),
    startedAt,
    durationMs: performance.now() - t0,
    torn: src.torn.length,
  };
  const doc = auditReportJson(report, ctx);
  if (out.json) out.jsonDoc(doc);
  else {
    if (src.header)
      out.line(
        out.c.dim(
          `${ctx.source}: ${src.header.host}, ${src.header.hostKind} ${src.header.driverVersion}, instance ${src.header.instance}, started ${src.header.startedAt}`,
        ),
      );
    for (const l of renderAudit(report, out.c)) out.line(l);
    if (o.timeline) {
      out.line(out.c.bold("Lock ownership"));
      for (const l of renderTimeline(report.timeline, out.c)) out.line("  " + l);
    }
  }
  if (o.jsonOut) writeOut(out, o.jsonOut, JSON.stringify(doc, jsonReplacer, 2) + "\n", "verdicts (JSON)");
  if (o.junitOut) writeOut(out, o.junitOut, auditReportJunit(report, ctx), "verdicts (JUnit XML)");
  if (o.chromeOut)
    writeOut(out, o.chromeOut, JSON.stringify(chromeTrace(events, report.timeline)) + "\n", "trace (Chrome trace-event JSON)");
  if (report.failed > 0) process.exitCode = ExitCode.CHECK_FAILED;
  if (o.failOnDrop) {
    let lost = 0n;
    for (const e of src.events) if (e.type === "dropped") lost += e.count;
    if (lost > 0n) {
      out.warn(`${lost} trace record(s) were dropped before they were read (the verdicts may be uncertain) and --fail-on-drop is set`);
      process.exitCode = ExitCode.CHECK_FAILED;
    }
  }
}

/** Every record still in the ring (the simulator starts empty: the whole run). */
export async function recordedTrace(client: FilterClient): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  for await (const ev of client.trace({ from: 0n, follow: false })) events.push(ev);
  return events;
}

export function writeOut(out: Output, file: string, text: string, what: string): void {
  try {
    writeFileSync(file, text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such directory"
        : code === "EISDIR"
          ? "it is a directory"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : (e as Error).message;
    throw new CliError(
      `cannot write ${what} to ${file}: ${why}`,
      ExitCode.OUTPUT_FAILED,
      "give a file path in an existing, writable directory",
    );
  }
  out.note(`wrote ${what} to ${file}`);
}

export function printVerdicts(out: Output, res: AuditResult): void {
  const c = out.c;
  const rows = res.verdicts.map((v) => [
    String(v.step.index),
    v.step.label + (v.step.repeat > 1 ? ` ×${v.step.repeat}` : ""),
    verdictSummary(v).expected,
    v.passed ? c.green("PASS") : c.bold(c.red("FAIL")),
  ]);
  out.line(renderTable(["#", "step", "expected", "verdict"], rows, c, ["right", "left", "left", "left"]));
  for (const v of res.verdicts.filter((x) => !x.passed)) {
    const why = v.error
      ? `error: ${v.error}`
      : v.checks
          .filter((k) => !k.ok)
          .map((k) => `${k.field}: expected ${k.expected}, got ${k.actual}`)
          .join("; ");
    out.line(c.red(`step ${v.step.index} (${v.step.label}, line ${v.step.line}): ${why}`));
  }
  // Not "N passed, N failed": CI reads that exact shape as a test runner's closing line.
  const summary = `${res.passed} of ${res.verdicts.length} step(s) passed${res.failed ? ` (${res.failed} failing)` : ""}`;
  out.line(res.failed ? c.bold(c.red(summary)) : c.bold(c.green(summary)));
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
