/**
 * The `cdfilter` command line (bin/cdfilter.js runs this file through tsx).
 *
 * Commands (docs/cli.md): info, drives, locks, trace, record, lock, unlock, eject, policy, config,
 * clear, decode, audit, export, ship, ingest, fleet, ui, demo. Exit codes: errors.ts (ExitCode). Errors are printed as one line,
 * `cdfilter: <what went wrong>`, followed by `hint: <what to do>`.
 */
import { Command, CommanderError, Option } from "commander";
import {
  CdfilterError,
  ClientClosedError,
  InvalidArgumentError,
  ProtocolVersionError,
  TransportUnavailableError,
} from "../client/index.ts";
import { registerActions } from "./commands/actions.ts";
import { registerAudit } from "./commands/audit.ts";
import { registerConfig } from "./commands/config.ts";
import { registerDecode } from "./commands/decode.ts";
import { registerExport } from "./commands/export.ts";
import { registerFleet } from "./commands/fleet.ts";
import { registerRecord } from "./commands/record.ts";
import { registerStatus } from "./commands/status.ts";
import { registerTrace } from "./commands/trace.ts";
import { registerUi } from "./commands/ui.ts";
import { type GlobalOptions, parseCount } from "./context.ts";
import { ScenarioError } from "../scenario/index.ts";
import { registerDemo } from "./demo.ts";
import { CliError, ExitCode, usageError } from "./errors.ts";
import { colorEnabled } from "./output.ts";
import { createColors } from "picocolors";

const VERSION = "0.1.0";

/** `captureError`: receives commander's error text instead of stderr (used with --json). */
export function buildProgram(captureError?: (s: string) => void): Command {
  const program = new Command("cdfilter");
  program
    .description("trace CD/DVD drive requests and audit who owns the media locks (cdfilter driver or its embedded simulator)")
    .version(VERSION, "-V, --version")
    .option("--json", "machine output: JSON (JSON Lines for trace)")
    .option("--no-color", "no ANSI colours (also: NO_COLOR=1)")
    .option("-q, --quiet", "no notes on stderr (transport used, files written)")
    .addOption(
      new Option("--transport <kind>", "auto: the driver on Windows, else the embedded simulator")
        .choices(["auto", "win32", "simulator"])
        .default("auto")
        .env("CDFILTER_TRANSPORT"),
    )
    .option("--sim-drives <n>", "drives of the embedded simulator (1..16)", "2")
    .option("--sim-ring <bytes>", "trace ring of the embedded simulator in bytes (0 = 1 MiB)", "0")
    .showHelpAfterError(captureError ? false : "(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (s, write) => (captureError ? captureError(s) : write(s)) });
  const globals = (): GlobalOptions => {
    const o = program.opts<{
      json?: boolean;
      color: boolean;
      quiet?: boolean;
      transport: GlobalOptions["transport"];
      simDrives: string;
      simRing: string;
    }>();
    return {
      json: o.json === true,
      color: o.color,
      quiet: o.quiet === true,
      transport: o.transport,
      simDrives: parseCount(o.simDrives, "--sim-drives", 1, 16),
      simRing: parseSimRing(o.simRing),
    };
  };
  registerStatus(program, globals);
  registerTrace(program, globals);
  registerRecord(program, globals);
  registerActions(program, globals);
  registerDecode(program, globals);
  registerAudit(program, globals);
  registerExport(program, globals);
  registerConfig(program, globals);
  registerFleet(program, globals);
  registerDemo(program, globals);
  registerUi(program, globals);
  for (const cmd of program.commands) {
    cmd.exitOverride().showHelpAfterError(captureError ? false : "(run with --help for usage)");
    if (captureError) cmd.configureOutput({ outputError: (s) => captureError(s) });
  }
  program.addHelpText(
    "after",
    `
Exit codes: 0 ok, 1 a check failed (audit verdict, refused action), 2 usage, 3 bad input file,
            4 filter unreachable, 5 internal error, 6 output file not written, 130 interrupted.
Examples:
  cdfilter demo                                   the built-in scenario, traced live
  cdfilter audit scenarios/demo.yaml --junit-out verdicts.xml
  cdfilter trace --burst 10000 --json > trace.jsonl
  cdfilter record --out run.pcapng --max-size 64M --max-files 8
  cdfilter audit --recording run.pcapng --rules rules.yaml --junit-out audit.xml
  cdfilter export trace.jsonl --chrome trace.json
  cdfilter decode 0x2D4808`,
  );
  return program;
}

/** The core's trace ring bounds (docs/core.md: ring_bytes 8192..256 MiB; 0 = the 1 MiB default). */
const SIM_RING_MIN = 8192;
const SIM_RING_MAX = 256 * 1024 * 1024;

function parseSimRing(s: string): number {
  const hint = `0 (the default, 1 MiB) or ${SIM_RING_MIN}..${SIM_RING_MAX} bytes, e.g. --sim-ring 65536`;
  const v = parseCount(s, "--sim-ring", 0, SIM_RING_MAX, hint);
  if (v !== 0 && v < SIM_RING_MIN)
    throw usageError(`--sim-ring must be 0 or from ${SIM_RING_MIN} to ${SIM_RING_MAX} bytes, got "${s}"`, hint);
  return v;
}

/** Error output shape: text lines, or (--json) one JSON object on one line. */
export interface ErrorStyle {
  color: boolean;
  json: boolean;
}

/**
 * Map any failure to an exit code and report it on stderr: `cdfilter: <message>` and
 * `hint: <hint>`, or with --json one line `{"error":{"message","hint"?,"exitCode"}}`.
 * `commanderMessage` is what commander would have printed for its own errors (unknown
 * command/option, missing argument).
 */
export function reportError(e: unknown, style: ErrorStyle, commanderMessage?: string): number {
  const c = createColors(colorEnabled(process.stderr, process.env, style.color));
  const say = (msg: string, hint: string | undefined, code: number) => {
    const message = msg.split("\n")[0]!;
    if (style.json) {
      process.stderr.write(JSON.stringify({ error: { message, ...(hint ? { hint } : {}), exitCode: code } }) + "\n");
      return code;
    }
    process.stderr.write(`${c.red(c.bold("cdfilter:"))} ${message}\n`);
    if (hint) process.stderr.write(`${c.dim("hint:")} ${hint}\n`);
    return code;
  };
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return ExitCode.OK;
    // As text, commander already printed "error: ..." and the help hint.
    if (style.json) return say((commanderMessage ?? e.message).trim().replace(/^error: /, ""), "run with --help for usage", ExitCode.USAGE);
    return ExitCode.USAGE;
  }
  if (e instanceof CliError) return say(e.message, e.hint, e.exitCode);
  if (e instanceof ScenarioError) return say(e.message, e.hint, e.exitCode);
  // A command used a client or handle after closing it: a bug of the command line, not the filter.
  if (e instanceof ClientClosedError)
    return say(`internal error: ${e.message}`, "this is a bug; rerun with CDFILTER_DEBUG=1 for the stack trace", ExitCode.INTERNAL);
  if (e instanceof InvalidArgumentError) return say(e.message, e.hint, ExitCode.USAGE);
  if (e instanceof TransportUnavailableError || e instanceof ProtocolVersionError) return say(e.message, e.hint, ExitCode.UNAVAILABLE);
  if (e instanceof CdfilterError) return say(e.message, e.hint ?? "the filter refused a control request", ExitCode.UNAVAILABLE);
  const err = e instanceof Error ? e : new Error(String(e));
  if (process.env.CDFILTER_DEBUG) process.stderr.write(`${err.stack}\n`);
  return say(`internal error: ${err.message}`, "this is a bug; rerun with CDFILTER_DEBUG=1 for the stack trace", ExitCode.INTERNAL);
}

export async function main(argv: string[]): Promise<number> {
  // --json is a global option (accepted before or after the command); decided before parsing so
  // that commander's own errors follow it too.
  const json = argv.slice(2).includes("--json");
  let commanderMessage: string | undefined;
  const program = buildProgram(json ? (s) => (commanderMessage = (commanderMessage ?? "") + s) : undefined);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.OK;
  } catch (e) {
    return reportError(e, { color: !argv.includes("--no-color"), json }, commanderMessage);
  }
}

// EPIPE on stdout (e.g. `cdfilter trace --json | head`): the reader is gone, stop quietly.
// Any other write error (ENOSPC of `> /dev/full`, EIO ...): the output is lost, say so and exit 6.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(ExitCode.OK);
  process.exit(reportError(stdoutError(e), { color: !process.argv.includes("--no-color"), json: process.argv.includes("--json") }));
});

/** A failed write to standard output as the CliError it is (exit 6). */
export function stdoutError(e: NodeJS.ErrnoException): CliError {
  const why = e.code === "ENOSPC" ? "no space left on device (ENOSPC)" : `${e.message}`;
  return new CliError(
    `cannot write to standard output: ${why}`,
    ExitCode.OUTPUT_FAILED,
    "redirect the output to a device or file with room (or pipe it to a reader)",
  );
}

const code = await main(process.argv);
// Exit once stdout is flushed, even if a native handle or timer would keep the loop alive.
const flush = (s: NodeJS.WriteStream) =>
  new Promise<void>((resolve) => (s.writableLength > 0 ? s.once("drain", () => resolve()) : resolve()));
await Promise.all([flush(process.stdout), flush(process.stderr)]);
process.exit(code);
