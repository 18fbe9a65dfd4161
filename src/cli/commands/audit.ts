/**
 * `audit SCENARIO`: play a scenario file in the embedded simulator, check every step's
 * expectations, print a verdict table and write the reports (JSON, JUnit XML) and, on request,
 * the trace it produced (JSON Lines, Chrome/Perfetto trace).
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { FilterClient, TraceEvent } from "../../client/index.ts";
import { CliError, ExitCode } from "../errors.ts";
import { type GlobalOptions, connect, loadScenario, makeOutput } from "../context.ts";
import type { Output } from "../output.ts";
import { jsonReplacer, renderTable } from "../output.ts";
import { type FilterOptions, eventJsonLine, parseFilter } from "../records.ts";
import { filterEvents } from "./export.ts";
import { type AuditResult, auditJson, auditJunit, runScenario, verdictSummary } from "../runner.ts";
import { chromeTrace } from "../timeline.ts";

interface AuditOpts extends Pick<FilterOptions, "include" | "exclude"> {
  jsonOut?: string;
  junitOut?: string;
  traceOut?: string;
  chromeOut?: string;
}

export function registerAudit(program: Command, globals: () => GlobalOptions): void {
  program
    .command("audit")
    .description("run a scenario file in the simulator: steps by named processes, each checked against its expectations")
    .argument("<scenario>", 'YAML scenario file (see docs/cli.md, "Scenario format")')
    .option("--json-out <file>", "write the verdicts as JSON")
    .option("--junit-out <file>", "write the verdicts as JUnit XML (one testcase per step)")
    .option("--trace-out <file>", "write the scenario's trace as JSON Lines")
    .option("--chrome-out <file>", "write the scenario's trace as Chrome/Perfetto trace-event JSON")
    .option("--include <field=value>", "--trace-out/--chrome-out: only records with this value (repeatable; docs/filters.md)", collect)
    .option("--exclude <field=value>", "--trace-out/--chrome-out: leave out records with this value (repeatable)", collect)
    .action(async (file: string, o: AuditOpts) => {
      const g = globals();
      const out = makeOutput(g);
      const filter = parseFilter(o);
      const scenario = loadScenario(file);
      const client = await connect(g, out, { simulator: true, drives: scenario.drives });
      try {
        const bar = out.progress(`audit ${scenario.name}`, scenario.steps.length, "steps");
        let res: AuditResult;
        try {
          res = await runScenario(client, scenario, { afterStep: (v) => bar.update(v.step.index) });
        } finally {
          bar.stop();
        }
        const doc = auditJson(res, client.transportKind);
        if (out.json) out.jsonDoc(doc);
        else printVerdicts(out, res);
        if (o.jsonOut) writeOut(out, o.jsonOut, JSON.stringify(doc, jsonReplacer, 2) + "\n", "verdicts (JSON)");
        if (o.junitOut) writeOut(out, o.junitOut, auditJunit(res), "verdicts (JUnit XML)");
        if (o.traceOut || o.chromeOut) {
          const events = filterEvents(await recordedTrace(client), filter);
          if (o.traceOut) writeOut(out, o.traceOut, events.map(eventJsonLine).join("\n") + "\n", "trace (JSON Lines)");
          if (o.chromeOut) writeOut(out, o.chromeOut, JSON.stringify(chromeTrace(events)) + "\n", "trace (Chrome trace-event JSON)");
        }
        if (res.failed > 0) process.exitCode = ExitCode.CHECK_FAILED;
      } finally {
        await client.close();
      }
    });
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

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
