/**
 * ActorWorld: the named processes of a scenario (format.ts) as real Windows processes.
 * It runs inside Windows (the cdfilter CLI itself running as node.exe under Wine, started by
 * src/wine/demo-runner.ts): each scenario process is a child node.exe running
 * build/wine/actor.mjs, with its own handles on the drives; "exit"/"crash" is TerminateProcess,
 * after which Windows (and Wine) close its handles and the driver sees the closes.
 *
 * SimulatorWorld (simulator-world.ts) plays the same part with simulated processes; both
 * implement ScenarioWorld (world.ts), so the runner plays a scenario on either. There is no
 * simulated hardware under Wine: `hardware` is undefined.
 */
import { spawn } from "node:child_process";
import { closeSync, constants, copyFileSync, existsSync, mkdirSync, openSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ActionResult, PassThroughResult } from "../client/index.ts";
import { ActorChannel, WineActor } from "../wine/actors.ts";
import type { DriveActions, ScenarioWorld, WorldProcess } from "./world.ts";

/** Environment variable demo-runner.ts sets for the Windows CLI: "actors" selects ActorWorld. */
export const WINE_WORLD_ENV = "CDFILTER_WINE_WORLD";
/** Where ActorWorld.fromEnvironment puts the processes' logs (demo-runner.ts: the session's log directory). */
export const WINE_LOG_DIR_ENV = "CDFILTER_WINE_LOG_DIR";

/** build/wine/actor.mjs next to the running bundle (cli.mjs), or CDFILTER_WINE_ACTOR. */
function defaultActorScript(): string {
  return process.env.CDFILTER_WINE_ACTOR ?? join(dirname(fileURLToPath(import.meta.url)), "actor.mjs");
}

class RemoteDrive implements DriveActions {
  constructor(
    private readonly actor: WineActor,
    private readonly handle: string,
  ) {}
  private action(verb: "lock" | "unlock" | "media-lock" | "media-unlock" | "eject" | "read", args?: string[]): Promise<ActionResult> {
    return this.actor.call<ActionResult>({ op: "action", verb, handle: this.handle, args });
  }
  lock(): Promise<ActionResult> {
    return this.action("lock");
  }
  unlock(): Promise<ActionResult> {
    return this.action("unlock");
  }
  mediaRemoval(prevent: boolean): Promise<ActionResult> {
    return this.action(prevent ? "media-lock" : "media-unlock");
  }
  eject(): Promise<ActionResult> {
    return this.action("eject");
  }
  passThrough(cdb: Uint8Array): Promise<PassThroughResult> {
    return this.actor.call<PassThroughResult>({ op: "passthrough", handle: this.handle, cdb });
  }
  read(offset: bigint | number, length: number): Promise<ActionResult> {
    return this.action("read", [String(offset), String(length)]);
  }
  async close(): Promise<void> {
    if (this.actor.running) await this.actor.call({ op: "close", handle: this.handle });
  }
}

export class ActorWorld implements ScenarioWorld {
  readonly kind = "windows" as const;
  readonly hardware = undefined;
  private readonly channel = new ActorChannel();
  private readonly actors = new Map<string, WineActor>();
  private readonly starting = new Map<string, Promise<WineActor>>();
  /** Last pid of every process started, kept after it exits (trace records still name it). */
  private readonly pids = new Map<string, number>();

  private constructor(
    private readonly actorScript: string,
    private readonly logDir: string,
  ) {}

  /**
   * Listen for actors. actorScript: the bundled actor (default: actor.mjs beside this bundle);
   * logDir: where each process's stdout/stderr go (default: a "actors" folder beside it).
   */
  static async create(opts: { actorScript?: string; logDir?: string } = {}): Promise<ActorWorld> {
    const script = opts.actorScript ?? defaultActorScript();
    const w = new ActorWorld(script, opts.logDir ?? join(dirname(script), "actors"));
    await w.channel.listen();
    return w;
  }

  /** ActorWorld when demo-runner.ts asked for it (CDFILTER_WINE_WORLD=actors), else undefined. */
  static async fromEnvironment(): Promise<ActorWorld | undefined> {
    if (process.env[WINE_WORLD_ENV] !== "actors") return undefined;
    const logDir = process.env[WINE_LOG_DIR_ENV];
    return ActorWorld.create(logDir ? { logDir } : {});
  }

  /** The process, started on first use. */
  process(p: WorldProcess): Promise<WineActor> {
    const running = this.actors.get(p.name);
    if (running?.running) return Promise.resolve(running);
    let starting = this.starting.get(p.name);
    if (!starting) {
      starting = this.spawn(p).finally(() => this.starting.delete(p.name));
      this.starting.set(p.name, starting);
    }
    return starting;
  }

  /**
   * The executable to start for image name `image` ("burner.exe"): a copy of node.exe with that
   * name, so the driver, which reads the image name from the process, reports it as the scenario
   * says. A copy, not a hard link: Wine shares one image mapping per file (inode), and with it
   * the first name it was mapped under. node.exe itself when the name is unusable or the copy
   * fails. Copies are kept beside the bundle for later runs.
   */
  private executableFor(image: string): string {
    if (!/^[A-Za-z0-9_.-]{1,60}\.exe$/i.test(image) || image.toLowerCase() === "node.exe") return process.execPath;
    const dir = join(dirname(this.actorScript), "images");
    const target = join(dir, image);
    try {
      if (existsSync(target) && statSync(target).size === statSync(process.execPath).size) return target;
      mkdirSync(dir, { recursive: true });
      const partial = `${target}.${process.pid}.tmp`;
      copyFileSync(process.execPath, partial, constants.COPYFILE_FICLONE);
      renameSync(partial, target);
      return target;
    } catch {
      return process.execPath;
    }
  }

  private async spawn(p: WorldProcess): Promise<WineActor> {
    const name = p.name;
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, "w");
    // stdout/stderr to a file: node.exe under Wine dies with EBADF on a pipe.
    const child = spawn(this.executableFor(p.image), [this.actorScript, String(this.channel.port), name], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    // child.kill() on Windows is TerminateProcess.
    const actor = new WineActor(name, logFile, child, async () => {
      child.kill();
    });
    this.actors.set(name, actor);
    await this.channel.connect(actor, 60_000);
    this.pids.set(name, actor.pid);
    await actor.call({ op: "connect", clientName: `scenario-${name}` });
    return actor;
  }

  async openDrive(process: WorldProcess, drive: number, handle: string, access: number): Promise<DriveActions> {
    const actor = await this.process(process);
    await actor.call({ op: "open", drive, handle, access });
    return new RemoteDrive(actor, handle);
  }

  async exit(process: WorldProcess): Promise<void> {
    const actor = this.actors.get(process.name);
    if (actor) await actor.kill();
    this.actors.delete(process.name);
  }

  pidOf(process: WorldProcess): number | undefined {
    return this.pids.get(process.name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.actors.values()].map((a) => a.kill().catch(() => a.forceKill())));
    this.actors.clear();
    this.channel.close();
  }
}
