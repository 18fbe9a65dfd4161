/**
 * The main job on Wine (`npm start -- --wine`, issue 6 §4): the demo scenario played with every
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
import { WINE_LOG_DIR_ENV, WINE_WORLD_ENV } from "./actor-world.ts";
import { runWineSetup, WineSession, WineUnavailableError } from "./session.ts";

export interface WineDemoOptions {
  /** Arguments after `demo` for the Windows CLI (e.g. ["--scenario", "scenarios/demo.yaml"]): paths relative to the repository root. */
  demoArgs?: string[];
  /** Global CLI options to put before `demo` (e.g. ["--json"]). */
  globalArgs?: string[];
  /** Where the CLI's output goes (default process.stdout). */
  write?: (text: string) => void;
  /** Progress of the Wine side (default: to stderr). */
  log?: (line: string) => void;
}

/**
 * Run the demo under Wine. Resolves with the CLI's exit code (0 = every step as expected).
 * Throws WineUnavailableError when wine, mingw-w64 or a download is missing (never skips).
 */
export async function runDemoOnWine(opts: WineDemoOptions = {}): Promise<number> {
  const write = opts.write ?? ((t: string) => void process.stdout.write(t));
  const log = opts.log ?? ((l: string) => void process.stderr.write(`${l}\n`));
  log("wine: preparing (scripts/wine/setup.sh)...");
  runWineSetup();
  const session = await WineSession.start({ log });
  try {
    const code = await session.runNode("cli-demo", ["build\\wine\\cli.mjs", ...(opts.globalArgs ?? []), "demo", ...(opts.demoArgs ?? [])], {
      env: { [WINE_WORLD_ENV]: "actors", [WINE_LOG_DIR_ENV]: session.logDir, ...(process.stdout.isTTY ? { FORCE_COLOR: "1" } : {}) },
      onOutput: write,
    });
    if (code === null) throw new WineUnavailableError("the Windows CLI was killed");
    return code;
  } finally {
    await session.stop();
  }
}
