/**
 * What every command shares: the global options, connecting to the filter (and saying which
 * transport is used), loading scenario files, and playing activity into the embedded simulator.
 *
 * The embedded simulator lives inside this process and starts empty on every run, so commands
 * that show state or activity (locks, trace, export ...) can play some first: `--scenario FILE`
 * runs a scenario's steps, `--burst N` sends N reads of 2048 bytes through the simulated stack.
 */
import {
  CdfilterError,
  Decision,
  FilterClient,
  InvalidArgumentError,
  NTSTATUS,
  ProtocolVersionError,
  Reason,
  TransportUnavailableError,
} from "../client/index.ts";
import { SimDeviceHandle } from "../client/transports/simulator.ts";
import { CliError, ExitCode, inputError, usageError } from "./errors.ts";
import { Output } from "./output.ts";
import { enumShortNames } from "./records.ts";
import {
  type AuditResult,
  type RunHooks,
  readScenarioFile,
  runScenario,
  type Scenario,
  ScenarioError,
  SimulatorWorld,
} from "../scenario/index.ts";

export interface GlobalOptions {
  json: boolean;
  color: boolean;
  quiet: boolean;
  transport: "auto" | "win32" | "simulator";
  simDrives: number;
  simRing: number;
}

export function makeOutput(g: GlobalOptions): Output {
  return new Output({ json: g.json, color: g.color, quiet: g.quiet });
}

export interface ConnectNeeds {
  /** Do not print the transport note (the command shows it itself). */
  silent?: boolean;
  /** The command plays simulated processes (scenario, burst, audit, demo). */
  simulator?: boolean;
  /** Drives the simulator must have at least (a scenario's `drives`). */
  drives?: number;
}

/** Connect and tell the user (stderr) which transport is used and why. */
export async function connect(g: GlobalOptions, out: Output, needs: ConnectNeeds = {}): Promise<FilterClient> {
  if (needs.simulator && g.transport === "win32") {
    throw usageError(
      "this command plays simulated processes and needs the simulator, not --transport win32",
      "drop --scenario/--burst to use the real driver, or use --transport simulator",
    );
  }
  const transport = needs.simulator ? "simulator" : g.transport;
  let client: FilterClient;
  try {
    client = await FilterClient.connect({
      transport,
      simulator: { drives: Math.max(g.simDrives, needs.drives ?? 1), ringBytes: g.simRing },
      clientName: "cdfilter-cli",
    });
  } catch (e) {
    throw connectError(e);
  }
  if (!needs.silent) out.note(`transport: ${transportText(client, needs)}`);
  return client;
}

/** "simulator (embedded: ...)": which transport and why. */
export function transportText(client: FilterClient, needs: ConnectNeeds = {}): string {
  if (needs.simulator && client.transportKind === "simulator") return "simulator (embedded: this command plays simulated processes)";
  return `${client.transportKind} (${client.transportReason})`;
}

function connectError(e: unknown): unknown {
  if (e instanceof TransportUnavailableError) {
    return new CliError(
      `cannot reach the filter: ${e.message}`,
      ExitCode.UNAVAILABLE,
      e.hint ?? "is the driver installed and started? (or use --transport simulator)",
    );
  }
  if (e instanceof ProtocolVersionError) return new CliError(e.message, ExitCode.UNAVAILABLE, e.hint);
  if (e instanceof InvalidArgumentError)
    return new CliError(e.message, ExitCode.USAGE, e.hint ?? "check --sim-drives / --sim-ring (cdfilter --help)");
  if (e instanceof CdfilterError) {
    return new CliError(`cannot reach the filter: ${e.message}`, ExitCode.UNAVAILABLE, e.hint ?? "is the driver installed and started?");
  }
  return e;
}

/** Names a scenario may use, from the protocol and the client's NTSTATUS table. */
export const SCENARIO_VOCABULARY = {
  statuses: new Set(Object.keys(NTSTATUS)),
  reasons: enumShortNames(Reason, "REASON_"),
  decisions: enumShortNames(Decision, "DECISION_"),
};

/** Read and parse a scenario file (at most MAX_SCENARIO_BYTES, checked before parsing). */
export function loadScenario(file: string): Scenario {
  try {
    return readScenarioFile(file, SCENARIO_VOCABULARY);
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== "string") throw e;
    throw inputError(
      `cannot read scenario ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
      "give the path of a YAML scenario, e.g. scenarios/demo.yaml",
    );
  }
}

/**
 * The scenario world of the embedded simulator. A scenario plays several simulated processes,
 * so another transport is a usage error.
 */
export function simulatorWorld(client: FilterClient): SimulatorWorld {
  const sim = client.simulator;
  if (!sim) {
    throw new CliError(
      `scenarios need the embedded simulator, but the transport is ${client.transportKind}`,
      ExitCode.USAGE,
      "scenario steps are played by simulated processes: run with --transport simulator",
    );
  }
  return new SimulatorWorld(client, sim);
}

/**
 * Every id in `ids` names a drive of the connected filter (0 = "every drive" passes); otherwise
 * a usage error (exit 2) listing the drives there are.
 */
export async function requireDriveIds(client: FilterClient, ids: Iterable<number>): Promise<void> {
  const wanted = [...ids].filter((id) => id !== 0);
  if (wanted.length === 0) return;
  const drives = await client.drives();
  const known = new Set(drives.map((d) => d.driveId));
  const unknown = wanted.find((id) => !known.has(id));
  if (unknown !== undefined) {
    throw usageError(
      `no drive ${unknown}: the driver has ${drives.map((d) => `${d.driveId} (${d.name})`).join(", ") || "none"}`,
      "run `cdfilter drives` for the drive ids and names",
    );
  }
}

export interface ActivityOptions {
  scenario?: string;
  burst?: number;
  /** Wait for the reader before each burst chunk so the ring never overflows (default true). */
  pace?: boolean;
}

export function parseCount(
  s: string,
  what: string,
  min = 1,
  max = 1_000_000_000,
  hint = `a decimal integer, e.g. ${what} ${min === 0 ? 1 : min}`,
): number {
  const v = Number(s);
  if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw usageError(`${what} must be an integer from ${min} to ${max}, got "${s}"`, hint);
  }
  return v;
}

export function hasActivity(a: ActivityOptions): boolean {
  return a.scenario !== undefined || a.burst !== undefined;
}

/**
 * Play the activity asked for into the simulator: the scenario's steps (verdicts returned), then
 * the burst. `readerSeq` tells the pacer how far the reader got (seq of the last record it took).
 */
export async function playActivity(
  client: FilterClient,
  a: ActivityOptions,
  scenario: Scenario | undefined,
  opts: { readerSeq?: () => bigint; hooks?: RunHooks; signal?: AbortSignal; burstDrive?: number } = {},
): Promise<AuditResult | undefined> {
  let result: AuditResult | undefined;
  if (scenario) result = await runScenario(client, scenario, simulatorWorld(client), { ...opts.hooks, signal: opts.signal });
  if (a.burst !== undefined)
    await burst(client, a.burst, { pace: a.pace !== false, readerSeq: opts.readerSeq, signal: opts.signal, drive: opts.burstDrive ?? 1 });
  return result;
}

/** Reads sent per native call. */
const BURST_CHUNK = 512;

/**
 * N reads of 2048 bytes by a simulated "burst.exe" (pid 7000) through the whole simulated stack
 * (filter dispatch + completion: two trace records per read), in native chunks. Paced: before a
 * chunk, wait until the reader is within half a ring of the newest record.
 */
export async function burst(
  client: FilterClient,
  count: number,
  o: { pace: boolean; readerSeq?: () => bigint; signal?: AbortSignal; drive: number },
): Promise<{ reads: number; failed: number }> {
  const drive = await client.openDrive(o.drive, { pid: 7000, image: "burst.exe", access: "read" });
  const h = drive.handle;
  if (!(h instanceof SimDeviceHandle)) throw usageError("--burst needs the simulator");
  const info = await client.info();
  const window = BigInt(Math.max(BURST_CHUNK * 2, Math.floor(info.ringCapacity / 2)));
  let done = 0;
  let failed = 0;
  let newest = info.newestSeq;
  try {
    while (done < count && !o.signal?.aborted) {
      if (o.pace && o.readerSeq) {
        while (newest - o.readerSeq() > window && !o.signal?.aborted) await new Promise((r) => setTimeout(r, 1));
      }
      const n = Math.min(BURST_CHUNK, count - done);
      const r = h.burst(n, 2048);
      if (r.status !== NTSTATUS.STATUS_SUCCESS) failed += n - r.completed;
      done += n;
      if (o.pace && o.readerSeq) newest = (await client.info()).newestSeq;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await drive.close();
  }
  return { reads: done, failed };
}

/** Monotonic 100 ns ticks to a Date, through the driver's anchors (InfoReply). */
export function monotonicToDate(ticks: bigint, anchors: { wallClockAnchor: bigint; monotonicAnchor: bigint }): Date | undefined {
  if (anchors.wallClockAnchor === 0n) return undefined;
  const filetime = anchors.wallClockAnchor + (ticks - anchors.monotonicAnchor);
  // FILETIME: 100 ns since 1601-01-01; Unix epoch is 11644473600 s later.
  const ms = (filetime - 116_444_736_000_000_000n) / 10_000n;
  return new Date(Number(ms));
}
