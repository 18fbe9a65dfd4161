/**
 * The `cdfilter` command line (bin/cdfilter.js runs this file through tsx).
 *
 * Commands (docs/cli.md): info, drives, locks, trace, lock, unlock, eject, policy, decode,
 * audit, export, demo. Exit codes: errors.ts (ExitCode). Errors are printed as one line,
 * `cdfilter: <what went wrong>`, followed by `hint: <what to do>`.
 */
import { Command, CommanderError, Option } from "commander";
import { CdfilterError, InvalidArgumentError, ProtocolVersionError, TransportUnavailableError } from "../client/index.ts";
import { registerActions } from "./commands/actions.ts";
import { registerAudit } from "./commands/audit.ts";
import { registerDecode } from "./commands/decode.ts";
import { registerExport } from "./commands/export.ts";
import { registerStatus } from "./commands/status.ts";
import { registerTrace } from "./commands/trace.ts";
import { type GlobalOptions, parseCount } from "./context.ts";
import { registerDemo } from "./demo.ts";
import { CliError, ExitCode } from "./errors.ts";
import { colorEnabled } from "./output.ts";
import { createColors } from "picocolors";

const VERSION = "0.1.0";

export function buildProgram(): Command {
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
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) });
  const globals = (): GlobalOptions => {
    const o = program.opts<{ json?: boolean; color: boolean; quiet?: boolean; transport: GlobalOptions["transport"]; simDrives: string; simRing: string }>();
    return {
      json: o.json === true,
      color: o.color,
      quiet: o.quiet === true,
      transport: o.transport,
      simDrives: parseCount(o.simDrives, "--sim-drives", 1, 16),
      simRing: parseCount(o.simRing, "--sim-ring", 0, 0xffff_ffff),
    };
  };
  registerStatus(program, globals);
  registerTrace(program, globals);
  registerActions(program, globals);
  registerDecode(program, globals);
  registerAudit(program, globals);
  registerExport(program, globals);
  registerDemo(program, globals);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError("(run with --help for usage)");
  program.addHelpText(
    "after",
    `
Exit codes: 0 ok, 1 a check failed (audit verdict, refused action), 2 usage, 3 bad input file,
            4 filter unreachable, 5 internal error, 130 interrupted.
Examples:
  cdfilter demo                                   the built-in scenario, traced live
  cdfilter audit scenarios/demo.yaml --junit-out verdicts.xml
  cdfilter trace --burst 10000 --json > trace.jsonl
  cdfilter export trace.jsonl --chrome trace.json
  cdfilter decode 0x2D4808`,
  );
  return program;
}

/** Map any failure to one line + hint on stderr and an exit code. */
export function reportError(e: unknown, color: boolean): number {
  const c = createColors(colorEnabled(process.stderr, process.env, color));
  const say = (msg: string, hint: string | undefined, code: number) => {
    process.stderr.write(`${c.red(c.bold("cdfilter:"))} ${msg.split("\n")[0]}\n`);
    if (hint) process.stderr.write(`${c.dim("hint:")} ${hint}\n`);
    return code;
  };
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return ExitCode.OK;
    // commander already printed "error: ..." and the help hint.
    return ExitCode.USAGE;
  }
  if (e instanceof CliError) return say(e.message, e.hint, e.exitCode);
  if (e instanceof InvalidArgumentError) return say(e.message, e.hint, ExitCode.USAGE);
  if (e instanceof TransportUnavailableError || e instanceof ProtocolVersionError) return say(e.message, e.hint, ExitCode.UNAVAILABLE);
  if (e instanceof CdfilterError) return say(e.message, e.hint ?? "the filter refused a control request", ExitCode.UNAVAILABLE);
  const err = e instanceof Error ? e : new Error(String(e));
  if (process.env.CDFILTER_DEBUG) process.stderr.write(`${err.stack}\n`);
  return say(`internal error: ${err.message}`, "this is a bug; rerun with CDFILTER_DEBUG=1 for the stack trace", ExitCode.INTERNAL);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.OK;
  } catch (e) {
    return reportError(e, !argv.includes("--no-color"));
  }
}

// EPIPE on stdout (e.g. `cdfilter trace --json | head`): the reader is gone, stop quietly.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(ExitCode.OK);
  throw e;
});

const code = await main(process.argv);
// Exit once stdout is flushed, even if a native handle or timer would keep the loop alive.
const flush = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => (s.writableLength > 0 ? s.once("drain", () => resolve()) : resolve()));
await Promise.all([flush(process.stdout), flush(process.stderr)]);
process.exit(code);
