/**
 * `ui`: serve the local web view (docs/ui.md) over a live session or a trace file, print its URL
 * and serve until Ctrl-C.
 *
 *   cdfilter ui                              the driver (or, with --scenario/--burst, the simulator)
 *   cdfilter ui --scenario scenarios/demo.yaml
 *   cdfilter ui trace.jsonl                  a file written by `cdfilter trace --json`
 *   cdfilter ui --host 0.0.0.0 --port 8080   reachable from elsewhere: needs the printed token
 */
import type { Command } from "commander";
import type { UiSource } from "../../ui/source.ts";
import { type GlobalOptions, connect, hasActivity, loadScenario, makeOutput, parseCount } from "../context.ts";
import { ExitCode, usageError } from "../errors.ts";
import { activityFrom, addActivityOptions } from "./status.ts";

interface UiOpts {
  host: string;
  port: string;
  allowActions?: boolean;
  historyMb: string;
  scenario?: string;
  burst?: string;
  pace: boolean;
}

export function registerUi(program: Command, globals: () => GlobalOptions): void {
  addActivityOptions(
    program
      .command("ui [file]")
      .description("serve a local web view of the owners, the trace and the lock timeline (a live session, or FILE)")
      .option("--host <address>", "address to bind; anything but loopback requires the printed token", "127.0.0.1")
      .option("--port <n>", "port (0 = any free port)", "0")
      .option("--allow-actions", "let the page set the policy and clear the trace (needs the printed token)")
      .option("--history-mb <n>", "live sessions: trace history kept for pages, MiB (older records become drop notices)", "256")
      .option("--no-pace", "simulator: send the burst as fast as possible, letting the ring overflow (shows drops)"),
  ).action(async (file: string | undefined, o: UiOpts) => {
    const g = globals();
    const out = makeOutput(g);
    // Loaded here, not at start-up: the other commands need no web server.
    const { LiveSource, openTraceFile } = await import("../../ui/source.ts");
    const { startUiServer } = await import("../../ui/server.ts");
    const port = parseCount(o.port, "--port", 0, 65535);
    const historyMb = parseCount(o.historyMb, "--history-mb", 1, 65536);
    const activity = { ...activityFrom(o), pace: o.pace };
    let source: UiSource;
    if (file !== undefined) {
      if (hasActivity(activity))
        throw usageError("a file is shown as recorded: --scenario/--burst need a live session", "drop FILE or the activity options");
      if (o.allowActions) throw usageError("--allow-actions needs a live session, not a file");
      source = await openTraceFile(file);
    } else {
      const scenario = activity.scenario ? loadScenario(activity.scenario) : undefined;
      const client = await connect(g, out, { simulator: hasActivity(activity), drives: scenario?.drives });
      const title = `${client.transportKind}${scenario ? `: ${scenario.name}` : ""}`;
      source = new LiveSource(client, title, {
        options: activity,
        scenario,
        onDone: (e) => (e ? out.note(`activity stopped: ${(e as Error).message}`) : hasActivity(activity) && out.note("activity played")),
      });
    }
    let server: Awaited<ReturnType<typeof startUiServer>>;
    try {
      server = await startUiServer({
        source,
        host: o.host,
        port,
        allowActions: o.allowActions === true,
        historyBytes: historyMb * 1024 * 1024,
        onSourceError: (e) => out.note(`source stopped: ${(e as Error).message}`),
      });
    } catch (e) {
      await source.close();
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL")
        throw usageError(`cannot listen on ${o.host}:${port}: ${code}`, "pick another --port (0 = any free port) or --host");
      throw e;
    }
    if (out.json)
      out.jsonDoc({ url: server.url, origin: server.origin, tokenRequired: server.tokenRequired, actions: o.allowActions === true });
    else {
      out.line(server.url);
      if (server.tokenRequired) out.note("bound beyond loopback: the page and its API need the token in this URL; keep it private");
      if (o.allowActions) out.note("actions are on (policy, clear trace): they need the token in this URL");
    }
    out.note("serving until Ctrl-C");
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    await server.close();
    await source.close();
    process.exitCode = ExitCode.INTERRUPTED;
  });
}
