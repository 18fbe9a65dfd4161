/**
 * WineSession: one Wine prefix with the cdfilter kernel host loaded, and real Windows processes
 * (node.exe running build/wine/actor.mjs) that the caller drives. Linux side only.
 *
 * Lifecycle (docs/wine.md):
 *   start()  own WINEPREFIX build/wine/prefix-<run>; a persistent wineserver (`wineserver -p`:
 *            without it Wine shuts the prefix's services down, winedevice.exe and our driver
 *            with them, as soon as no user process is left); wineboot; copy the .sys to
 *            C:\windows\system32\drivers; `sc create cdfilter type= kernel`; `net start`.
 *   actor()  spawn `wine node.exe actor.mjs <port> <name>`, stdout/stderr to a log file (never a
 *            pipe: node.exe under Wine dies with EBADF), wait for its hello on the loopback
 *            channel (protocol.ts).
 *   stop()   end the actors, `wineserver -k`, delete the prefix (the logs are kept in
 *            build/wine/logs-<run>).
 * Prerequisites come from scripts/wine/setup.sh; a missing one is a WineUnavailableError (never a
 * silent skip).
 */
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ActorChannel, WineActor } from "./actors.ts";

export { ActorCommandError, WineActor } from "./actors.ts";

/** Repository root (this file is src/wine/session.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const WINE_BUILD = join(REPO_ROOT, "build", "wine");
export const WINE_ARTIFACTS = {
  nodeExe: join(WINE_BUILD, "node", "node.exe"),
  koffiWin32: join(REPO_ROOT, "node_modules", "@koromix", "koffi-win32-x64", "win32_x64", "koffi.node"),
  driver: join(WINE_BUILD, "cdfilter_wine.sys"),
  actor: join(WINE_BUILD, "actor.mjs"),
  setup: join(REPO_ROOT, "scripts", "wine", "setup.sh"),
} as const;

/** Service name and the devices the kernel host creates (driver/wine/wine_host.c). */
export const WINE_SERVICE = "cdfilter";
export const WINE_DRIVER_FILE = "cdfilter_wine.sys";

/** Wine, its tools or an artifact of scripts/wine/setup.sh is missing, or the prefix failed. */
export class WineUnavailableError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message} (${hint})` : message);
    this.name = "WineUnavailableError";
  }
}

function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/**
 * Run scripts/wine/setup.sh (downloads node.exe and koffi's Windows binary on first use, builds
 * the .sys and the actor bundle). Output goes to `logFile`; throws WineUnavailableError with the
 * script's last lines on failure.
 */
export function runWineSetup(logFile = join(WINE_BUILD, "setup.log")): void {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, "w");
  try {
    const r = spawnSync("bash", [WINE_ARTIFACTS.setup], { cwd: REPO_ROOT, stdio: ["ignore", fd, fd] });
    if (r.status !== 0) {
      const tail = readFileSync(logFile, "utf8").trim().split("\n").slice(-8).join("\n");
      throw new WineUnavailableError(`scripts/wine/setup.sh failed (exit ${r.status ?? r.signal}):\n${tail}`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Throws WineUnavailableError naming the first missing tool or artifact. */
export function checkWinePrerequisites(): void {
  for (const [cmd, pkg] of [
    ["wine", "wine"],
    ["wineserver", "wine"],
  ] as const) {
    if (!which(cmd)) throw new WineUnavailableError(`${cmd} not found`, `Debian: apt-get install ${pkg}`);
  }
  for (const [what, path] of Object.entries(WINE_ARTIFACTS)) {
    if (what === "setup") continue;
    if (!existsSync(path)) throw new WineUnavailableError(`${what} missing: ${path}`, "run scripts/wine/setup.sh");
  }
}

export interface WineSessionOptions {
  /** Names the prefix and log directory (default: time and pid). */
  runId?: string;
  /** Progress lines (prefix boot, driver start, actors). */
  log?: (line: string) => void;
  /** Keep the prefix directory after stop() (debugging). Default false. */
  keepPrefix?: boolean;
  /** Install and start the cdfilter driver (default true); false: a Windows with no cdfilter. */
  driver?: boolean;
  /**
   * Give drive 0 this DOS drive letter too (e.g. "R"), so Windows programs that take a drive
   * letter reach it (docs/wine.md, "Drive letters"): a dosdevices entry and
   * HKLM\Software\Wine\Drives "r:"="cdrom" before the prefix restarts (mountmgr then answers
   * DRIVE_CDROM), and the service value DosDrive that makes the driver take \??\R: over.
   */
  cdromLetter?: string;
}

export class WineSession {
  readonly runId: string;
  readonly prefix: string;
  readonly logDir: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;
  private readonly channel = new ActorChannel();
  private readonly actors = new Map<string, WineActor>();
  private stopped = false;
  /** Milliseconds each start phase took (boot, driver). */
  readonly timings: Record<string, number> = {};

  private constructor(opts: WineSessionOptions) {
    this.runId =
      opts.runId ??
      `${new Date()
        .toISOString()
        .replace(/[-:.TZ]/g, "")
        .slice(0, 14)}-${process.pid}`;
    this.prefix = join(WINE_BUILD, `prefix-${this.runId}`);
    this.logDir = join(WINE_BUILD, `logs-${this.runId}`);
    this.log = opts.log ?? (() => undefined);
    this.keepPrefix = opts.keepPrefix ?? false;
    this.withDriver = opts.driver ?? true;
    if (opts.cdromLetter !== undefined && !/^[D-Zd-z]$/.test(opts.cdromLetter)) throw new Error(`bad drive letter "${opts.cdromLetter}"`);
    this.cdromLetter = opts.cdromLetter?.toUpperCase();
    this.env = {
      ...process.env,
      WINEPREFIX: this.prefix,
      WINEARCH: "win64",
      WINEDEBUG: "-all",
      // No Mono/Gecko install prompts, no winedbg on a crash (a crash must fail fast).
      WINEDLLOVERRIDES: "mscoree,mshtml=;winedbg.exe=d",
      NODE_SKIP_PLATFORM_CHECK: "1",
      DISPLAY: "",
    };
  }

  private readonly keepPrefix: boolean;
  private readonly withDriver: boolean;
  readonly cdromLetter: string | undefined;

  /** Check the prerequisites, boot a fresh prefix and load the driver. */
  static async start(opts: WineSessionOptions = {}): Promise<WineSession> {
    checkWinePrerequisites();
    const s = new WineSession(opts);
    // If this process ends without stop() (an uncaught error, process.exit), the persistent
    // wineserver must not outlive it.
    process.once("exit", s.exitHook);
    try {
      await s.boot();
      return s;
    } catch (e) {
      await s.stop();
      throw e;
    }
  }

  /** Run a wine (or wineserver/wineboot) command with output to a log file; throws on failure. */
  async wineCommand(label: string, args: string[], program = "wine", timeoutMs = 120_000): Promise<string> {
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${label}.log`);
    const fd = openSync(logFile, "w");
    try {
      const child = spawn(program, args, { env: this.env, cwd: REPO_ROOT, stdio: ["ignore", fd, fd] });
      const code = await new Promise<number | null>((res, rej) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          rej(new WineUnavailableError(`${program} ${args.join(" ")} did not finish in ${timeoutMs} ms (log: ${logFile})`));
        }, timeoutMs);
        child.on("error", (e) => {
          clearTimeout(timer);
          rej(new WineUnavailableError(`${program}: ${e.message}`));
        });
        child.on("exit", (c) => {
          clearTimeout(timer);
          res(c);
        });
      });
      const out = readFileSync(logFile, "utf8");
      if (code !== 0) {
        throw new WineUnavailableError(`${program} ${args.join(" ")} exited with ${code}: ${out.trim().split("\n").slice(-5).join(" | ")}`);
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Remove what earlier runs left: log directories beyond the newest few, and prefixes older than
   * an hour (a run that was killed before stop(); a live run is never that old).
   */
  private prune(): void {
    if (!existsSync(WINE_BUILD)) return;
    const entries = readdirSync(WINE_BUILD).map((name) => ({
      name,
      path: join(WINE_BUILD, name),
      mtime: statSync(join(WINE_BUILD, name)).mtimeMs,
    }));
    const logs = entries.filter((e) => e.name.startsWith("logs-")).sort((x, y) => y.mtime - x.mtime);
    for (const e of logs.slice(4)) rmSync(e.path, { recursive: true, force: true });
    for (const e of entries.filter((x) => x.name.startsWith("prefix-") && Date.now() - x.mtime > 3_600_000)) {
      // Its persistent wineserver may still run: end it before deleting the prefix under it.
      spawnSync("wineserver", ["-k"], { env: { ...process.env, WINEPREFIX: e.path }, stdio: "ignore", timeout: 30_000 });
      rmSync(e.path, { recursive: true, force: true });
    }
  }

  private async boot(): Promise<void> {
    this.prune();
    let t = Date.now();
    // Create the prefix first (wine refuses to initialise a directory that already exists), then
    // restart its server as a persistent one and boot again.
    await this.wineCommand("wineboot-init", ["-i"], "wineboot", 180_000);
    if (this.cdromLetter) {
      // mountmgr reads both when the prefix starts (the restart below): GetDriveTypeW("R:\\")
      // then answers DRIVE_CDROM. The dosdevices entry may point at any folder.
      const letter = this.cdromLetter.toLowerCase();
      const target = join(this.prefix, "cdrom-folder");
      mkdirSync(target, { recursive: true });
      symlinkSync(target, join(this.prefix, "dosdevices", `${letter}:`));
      await this.wineCommand("reg-drives", ["reg", "add", "HKLM\\Software\\Wine\\Drives", "/v", `${letter}:`, "/d", "cdrom", "/f"]);
    }
    await this.wineCommand("wineserver-kill", ["-k"], "wineserver", 30_000).catch(() => undefined);
    await this.wineCommand("wineserver-wait", ["-w"], "wineserver", 30_000);
    await this.wineCommand("wineserver-start", ["-p"], "wineserver");
    await this.wineCommand("wineboot", [], "wineboot", 180_000);
    this.timings.bootMs = Date.now() - t;
    this.log(`wine: prefix ${this.prefix} booted in ${this.timings.bootMs} ms`);

    if (!this.withDriver) {
      await this.channel.listen();
      return;
    }
    t = Date.now();
    const drivers = join(this.prefix, "drive_c", "windows", "system32", "drivers");
    mkdirSync(drivers, { recursive: true });
    copyFileSync(WINE_ARTIFACTS.driver, join(drivers, WINE_DRIVER_FILE));
    await this.wineCommand("sc-create", [
      "sc",
      "create",
      WINE_SERVICE,
      "type=",
      "kernel",
      "start=",
      "demand",
      "binPath=",
      `C:\\windows\\system32\\drivers\\${WINE_DRIVER_FILE}`,
    ]);
    if (this.cdromLetter) {
      await this.wineCommand("reg-dosdrive", [
        "reg",
        "add",
        `HKLM\\System\\CurrentControlSet\\Services\\${WINE_SERVICE}`,
        "/v",
        "DosDrive",
        "/d",
        `${this.cdromLetter}:`,
        "/f",
      ]);
    }
    const started = await this.wineCommand("net-start", ["net", "start", WINE_SERVICE]);
    if (!/started successfully/i.test(started)) {
      throw new WineUnavailableError(`net start ${WINE_SERVICE} did not start the driver: ${started.trim()}`);
    }
    this.timings.driverMs = Date.now() - t;
    this.log(`wine: driver ${WINE_DRIVER_FILE} started in ${this.timings.driverMs} ms`);

    await this.channel.listen();
  }

  /**
   * Start a Windows process named `name` (unique in the session) and wait until it is connected.
   * Its stdout/stderr go to <logDir>/<name>.log.
   */
  async actor(name: string, timeoutMs = 60_000): Promise<WineActor> {
    if (this.stopped) throw new Error("session stopped");
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name) || this.actors.has(name)) throw new Error(`bad or duplicate actor name "${name}"`);
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, "w");
    const t = Date.now();
    // Relative Windows path to the bundle: the wine process runs in the repository root (Z:).
    const child = spawn("wine", [WINE_ARTIFACTS.nodeExe, "build\\wine\\actor.mjs", String(this.channel.port), name], {
      env: this.env,
      cwd: REPO_ROOT,
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    const actor = new WineActor(name, logFile, child, (x) => this.taskkill(x));
    this.actors.set(name, actor);
    await this.channel.connect(actor, timeoutMs).catch((e: Error) => {
      throw new WineUnavailableError(e.message);
    });
    this.log(`wine: ${name} is Windows pid ${actor.pid} (started in ${Date.now() - t} ms)`);
    return actor;
  }

  /**
   * Run node.exe with `args` (paths relative to the repository root, which is the process's
   * current directory) to completion; its output (stdout and stderr, through a file: never a
   * pipe) is passed to onOutput as it is written. Resolves with the exit code.
   */
  async runNode(
    label: string,
    args: string[],
    opts: { env?: Record<string, string>; onOutput?: (text: string) => void; timeoutMs?: number } = {},
  ): Promise<number | null> {
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${label}.log`);
    const fd = openSync(logFile, "w");
    const child = spawn("wine", [WINE_ARTIFACTS.nodeExe, ...args], {
      env: { ...this.env, ...opts.env },
      cwd: REPO_ROOT,
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    let offset = 0;
    const pump = () => {
      if (!opts.onOutput || !existsSync(logFile)) return;
      const buf = readFileSync(logFile);
      if (buf.length > offset) {
        // Hold back a UTF-8 sequence cut at the end until the rest is written.
        let end = buf.length;
        let back = 0;
        while (back < 3 && end - back - 1 >= offset && ((buf[end - back - 1] ?? 0) & 0xc0) === 0x80) back++;
        const lead = buf[end - back - 1] ?? 0;
        const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (end - back - 1 >= offset && need > back + 1) end = end - back - 1;
        opts.onOutput(buf.subarray(offset, end).toString("utf8"));
        offset = end;
      }
    };
    const timer = setInterval(pump, 50);
    try {
      return await new Promise<number | null>((res, rej) => {
        const limit = setTimeout(() => {
          child.kill("SIGKILL");
          rej(new Error(`${label}: node.exe did not finish in ${opts.timeoutMs} ms (log: ${logFile})`));
        }, opts.timeoutMs ?? 600_000);
        child.on("error", (e) => {
          clearTimeout(limit);
          rej(e);
        });
        child.on("exit", (code) => {
          clearTimeout(limit);
          res(code);
        });
      });
    } finally {
      clearInterval(timer);
      pump();
    }
  }

  /**
   * Run a Windows program (`wine <args>`, e.g. ["eject", "R:"] or ["cmd", "/c", "vol", "R:"])
   * to completion; output through a log file. Never throws for a non-zero exit code.
   */
  async runProgram(label: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${label}.log`);
    const fd = openSync(logFile, "w");
    try {
      const child = spawn("wine", args, { env: this.env, cwd: REPO_ROOT, stdio: ["ignore", fd, fd] });
      const code = await new Promise<number | null>((res, rej) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          rej(new Error(`wine ${args.join(" ")} did not finish in ${timeoutMs} ms (log: ${logFile})`));
        }, timeoutMs);
        child.on("error", (e) => {
          clearTimeout(timer);
          rej(e);
        });
        child.on("exit", (c) => {
          clearTimeout(timer);
          res(c);
        });
      });
      return { code, output: readFileSync(logFile, "utf8") };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Start node.exe with `args` in the background (output to <logDir>/<label>.log). `kill()` ends
   * it at once (SIGKILL to its Wine process: like TerminateProcess, nothing of it runs after).
   */
  startNode(label: string, args: string[]): { exited: Promise<number | null>; kill: () => void; logFile: string } {
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${label}.log`);
    const fd = openSync(logFile, "w");
    const child = spawn("wine", [WINE_ARTIFACTS.nodeExe, ...args], { env: this.env, cwd: REPO_ROOT, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const exited = new Promise<number | null>((res) => {
      child.on("exit", (c) => res(c));
      child.on("error", () => res(null));
    });
    return { exited, kill: () => child.kill("SIGKILL"), logFile };
  }

  /** TerminateProcess from another Windows process: `wine taskkill /F /PID <pid>`. */
  private async taskkill(actor: WineActor): Promise<void> {
    await this.wineCommand(`taskkill-${actor.name}`, ["taskkill", "/F", "/PID", String(actor.pid)]);
  }

  private readonly exitHook = (): void => {
    if (!this.stopped) spawnSync("wineserver", ["-k"], { env: this.env, stdio: "ignore", timeout: 10_000 });
  };

  /** End every actor, stop the wineserver, delete the prefix. Idempotent; never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener("exit", this.exitHook);
    this.channel.close();
    for (const a of this.actors.values()) a.forceKill();
    await Promise.all([...this.actors.values()].map((a) => Promise.race([a.exited, new Promise((r) => setTimeout(r, 5000))])));
    if (existsSync(this.prefix)) {
      await this.wineCommand("wineserver-stop", ["-k"], "wineserver", 30_000).catch(() => undefined);
      // wineserver -k returns before every process is gone: wait for the server to exit.
      await this.wineCommand("wineserver-end", ["-w"], "wineserver", 30_000).catch(() => undefined);
      if (!this.keepPrefix) rmSync(this.prefix, { recursive: true, force: true });
    }
    this.log(`wine: session ${this.runId} stopped (logs: ${this.logDir})`);
  }
}
