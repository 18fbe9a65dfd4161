/**
 * The main job on Wine (`npm start -- --wine`, docs/wine.md): the demo scenario played with every
 * actor a real Windows process under Wine, against the cdfilter kernel host.
 *
 * From Linux: prepare (scripts/wine/setup.sh), boot a fresh prefix with the driver loaded
 * (WineSession), then run the cdfilter CLI itself as a Windows process (node.exe
 * build/wine/cli.mjs demo ...). There the CLI talks to \\.\CdFilter through the Win32 transport,
 * and each scenario process is one more node.exe (ActorWorld, selected by CDFILTER_WINE_WORLD=
 * actors) holding its own handles; a crash is TerminateProcess. The CLI's output is relayed
 * here as it is written, so the story prints as on the simulator. The prefix and its wineserver
 * are gone when the promise settles.
 */
import { resolve } from "node:path";
import { WINE_LOG_DIR_ENV, WINE_WORLD_ENV } from "../scenario/wine-world.ts";
import { runWineSetup, WineSession, WineUnavailableError } from "./session.ts";

export interface WineDemoOptions {
  /** `demo` options, as the CLI parsed them (files are resolved against this process's cwd). */
  scenario?: string;
  stepDelay?: string;
  jsonOut?: string;
  junitOut?: string;
  traceOut?: string;
  chromeOut?: string;
  /** Global options: --json, and colours (default: when stdout is a terminal). */
  json?: boolean;
  color?: boolean;
  /** Where the CLI's output goes (default process.stdout). */
  write?: (text: string) => void;
  /** Progress of the Wine side (default: to stderr). */
  log?: (line: string) => void;
}

/** The Windows CLI's arguments: global options, `demo`, demo options (absolute paths: Z: maps /). */
export function wineDemoArgs(o: WineDemoOptions, isTTY: boolean): string[] {
  const color = (o.color ?? true) && isTTY;
  const args = [...(o.json ? ["--json"] : []), ...(color ? [] : ["--no-color"]), "demo"];
  const files: [string, string | undefined][] = [
    ["--scenario", o.scenario],
    ["--json-out", o.jsonOut],
    ["--junit-out", o.junitOut],
    ["--trace-out", o.traceOut],
    ["--chrome-out", o.chromeOut],
  ];
  for (const [flag, file] of files) if (file !== undefined) args.push(flag, resolve(file));
  // The Windows CLI writes to a file, not a terminal: keep the live pacing a terminal would get.
  args.push("--step-delay", o.stepDelay ?? (isTTY ? "250" : "0"));
  return args;
}

/**
 * Run the demo under Wine. Resolves with the CLI's exit code (0 = every step as expected).
 * Throws WineUnavailableError when wine, mingw-w64 or a download is missing (never skips).
 */
export async function runDemoOnWine(opts: WineDemoOptions = {}): Promise<number> {
  const write = opts.write ?? ((t: string) => void process.stdout.write(t));
  const log = opts.log ?? ((l: string) => void process.stderr.write(`${l}\n`));
  const isTTY = opts.write === undefined && process.stdout.isTTY === true;
  log("wine: preparing (scripts/wine/setup.sh)...");
  runWineSetup();
  const session = await WineSession.start({ log });
  // Ctrl-C: no persistent wineserver or Windows process may outlive the run.
  const interrupted = () => void session.stop().finally(() => process.exit(130));
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const code = await session.runNode("cli-demo", ["build\\wine\\cli.mjs", ...wineDemoArgs(opts, isTTY)], {
      env: {
        [WINE_WORLD_ENV]: "actors",
        [WINE_LOG_DIR_ENV]: session.logDir,
        ...(isTTY && (opts.color ?? true) ? { FORCE_COLOR: "1" } : {}),
      },
      onOutput: write,
    });
    if (code === null) throw new WineUnavailableError("the Windows CLI was killed");
    return code;
  } finally {
    process.removeListener("SIGINT", interrupted);
    process.removeListener("SIGTERM", interrupted);
    await session.stop();
  }
}
