/**
 * `cdfilter demo` (`npm start`): the embedded simulator plays the built-in scenario
 * (scenarios/demo.yaml) while the trace streams live, one line per request; each step is
 * announced before it runs and judged after it; the run ends with the ownership timeline (lock
 * spans per owner) and the verdict table.
 */
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { type FilterClient, OperationAbortedError, type TraceEvent } from "../client/index.ts";
import { auditJson, auditJunit, runScenario, type ScenarioStep, type StepVerdict, verdictSummary } from "../scenario/index.ts";
import { ActorWorld } from "../scenario/wine-world.ts";
import { ExitCode } from "./errors.ts";
import { type GlobalOptions, connect, loadScenario, makeOutput, parseCount, simulatorWorld, transportText } from "./context.ts";
import type { Output } from "./output.ts";
import { jsonReplacer } from "./output.ts";
import { HumanFormatter, eventJsonLine } from "./records.ts";
import { chromeTrace, lockTimeline, renderTimeline } from "./timeline.ts";
import { runDemoOnWine } from "../wine/demo-runner.ts";
import { printVerdicts, writeOut } from "./commands/audit.ts";
import { jsonContextOf } from "./commands/trace.ts";

export const DEMO_SCENARIO = fileURLToPath(new URL("../../scenarios/demo.yaml", import.meta.url));

interface DemoOpts {
  scenario?: string;
  stepDelay?: string;
  jsonOut?: string;
  junitOut?: string;
  traceOut?: string;
  chromeOut?: string;
  wine?: boolean;
}

export function registerDemo(program: Command, globals: () => GlobalOptions): void {
  program
    .command("demo")
    .description(
      "the main job: a built-in scenario of several processes on the simulator, traced live, then the ownership timeline and the verdicts",
    )
    .option("--scenario <file>", "play this scenario instead of the built-in one")
    .option("--step-delay <ms>", "pause between steps so the trace reads live (default 250 on a terminal, else 0)")
    .option("--json-out <file>", "write the verdicts as JSON")
    .option("--junit-out <file>", "write the verdicts as JUnit XML")
    .option("--trace-out <file>", "write the trace as JSON Lines")
    .option("--chrome-out <file>", "write the trace as Chrome/Perfetto trace-event JSON")
    .option("--wine", "play it under Wine: every process a real Windows process against the kernel-mode host (docs/wine.md)")
    .action(async (o: DemoOpts) => {
      const g = globals();
      if (o.wine && process.platform !== "win32") {
        // Linux: boot Wine with the kernel host and run this same command there (docs/wine.md).
        process.exitCode = await runDemoOnWine({ ...o, json: g.json, color: g.color });
        return;
      }
      const out = makeOutput(g);
      process.exitCode = await runDemo(g, out, o);
    });
}

async function runDemo(g: GlobalOptions, out: Output, o: DemoOpts): Promise<number> {
  const c = out.c;
  const file = o.scenario ?? DEMO_SCENARIO;
  const scenario = loadScenario(file);
  const delay = o.stepDelay !== undefined ? parseCount(o.stepDelay, "--step-delay", 0, 60_000) : process.stdout.isTTY ? 250 : 0;
  const actors = await ActorWorld.fromEnvironment();
  const client = actors
    ? await connect({ ...g, transport: "win32" }, out, { silent: true })
    : await connect(g, out, { simulator: true, drives: scenario.drives, silent: true });
  const world = actors ?? simulatorWorld(client);
  const started = performance.now();
  const events: TraceEvent[] = [];
  try {
    if (!out.json) {
      out.line(c.bold(`cdfilter demo: ${scenario.name}`));
      if (scenario.description) out.line(c.dim(scenario.description));
      out.line(
        c.dim(
          actors
            ? `transport: ${transportText(client)}; processes: ${[...scenario.processes.values()].map((p) => p.image).join(", ")}, each a Windows process (node.exe under Wine)`
            : `transport: ${transportText(client, { simulator: true })}; processes: ${[...scenario.processes.values()].map((p) => `${p.image}:${p.pid}`).join(", ")}`,
        ),
      );
      out.line();
    }
    const tracer = liveTrace(client, out, events);
    const res = await runScenario(client, scenario, world, {
      beforeStep: async (step) => {
        await tracer.catchUp();
        if (!out.json) out.line(stepHeader(out, step));
      },
      afterStep: async (v) => {
        await tracer.catchUp();
        if (!out.json) out.line(verdictLine(out, v));
        if (delay) await new Promise((r) => setTimeout(r, delay));
      },
    });
    await tracer.stop();
    const timeline = lockTimeline(events);
    const doc = auditJson(res, client.transportKind);
    if (out.json) {
      out.jsonDoc({ audit: doc, timeline: timeline.spans });
    } else {
      out.line();
      out.line(c.bold("Ownership timeline") + c.dim("  (█ secure lock, ▒ simple lock; one row per owner handle)"));
      for (const l of renderTimeline(timeline, c)) out.line("  " + l);
      out.line();
      out.line(c.bold("Audit verdicts"));
      printVerdicts(out, res);
      out.line(
        c.dim(`${timeline.records} trace records, ${timeline.dropped} dropped; ${((performance.now() - started) / 1000).toFixed(1)} s`),
      );
    }
    if (o.jsonOut) writeOut(out, o.jsonOut, JSON.stringify(doc, jsonReplacer, 2) + "\n", "verdicts (JSON)");
    if (o.junitOut) writeOut(out, o.junitOut, auditJunit(res), "verdicts (JUnit XML)");
    if (o.traceOut) {
      const ctx = await jsonContextOf(client);
      writeOut(out, o.traceOut, events.map((ev) => eventJsonLine(ev, ctx)).join("\n") + "\n", "trace (JSON Lines)");
    }
    if (o.chromeOut) writeOut(out, o.chromeOut, JSON.stringify(chromeTrace(events, timeline)) + "\n", "trace (Chrome trace-event JSON)");
    return res.failed > 0 ? ExitCode.CHECK_FAILED : ExitCode.OK;
  } finally {
    await world.close();
    await client.close();
  }
}

function stepHeader(out: Output, step: ScenarioStep): string {
  const c = out.c;
  const note = step.note ? c.dim(`  ${step.note}`) : "";
  return `${c.bold(c.cyan(`▶ ${String(step.index).padStart(2)}`))} ${c.bold(step.label)}${step.repeat > 1 ? c.dim(` ×${step.repeat}`) : ""}${note}`;
}

function verdictLine(out: Output, v: StepVerdict): string {
  const c = out.c;
  const { expected, actual } = verdictSummary(v);
  if (v.passed) return c.green(`   ✔ ${v.checks.length ? expected : actual}`);
  return c.red(`   ✘ expected ${expected}; got ${actual}`);
}

/**
 * The live trace: a reader that prints one line per request as records arrive. catchUp()
 * resolves once everything recorded so far is printed, so step headers and verdicts interleave
 * with the trace in order.
 */
function liveTrace(client: FilterClient, out: Output, events: TraceEvent[]): { catchUp(): Promise<void>; stop(): Promise<void> } {
  const ctl = new AbortController();
  const fmt = new HumanFormatter(out.c, true);
  let seen = 0n;
  let finished = false;
  let waiters: { seq: bigint; resolve: () => void }[] = [];
  const settle = () => {
    waiters = waiters.filter((w) => {
      if (seen >= w.seq) w.resolve();
      return seen < w.seq;
    });
  };
  const stream = client.trace({ from: 0n, signal: ctl.signal });
  const done = (async () => {
    try {
      for await (const ev of stream) {
        events.push(ev);
        seen = ev.type === "record" ? ev.record.seq : ev.afterSeq + ev.count;
        if (!out.json) {
          const line = fmt.format(ev);
          if (line !== undefined) out.line("   " + line);
        }
        if (stream.buffered === 0) settle();
      }
    } catch (e) {
      if (!(e instanceof OperationAbortedError)) throw e;
    } finally {
      finished = true;
      for (const w of waiters) w.resolve();
      waiters = [];
    }
  })();
  return {
    async catchUp() {
      const newest = (await client.info()).newestSeq;
      if (finished || seen >= newest) return;
      await new Promise<void>((resolve) => waiters.push({ seq: newest, resolve }));
    },
    async stop() {
      await this.catchUp();
      ctl.abort();
      await done;
    },
  };
}
