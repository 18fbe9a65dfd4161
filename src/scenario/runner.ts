/**
 * Plays a scenario (format.ts) in a ScenarioWorld (world.ts) and checks every step's
 * expectations: the NTSTATUS the request completed with, the drive's ledger after the step
 * (GetLedger), and the trace records the step produced (read back from the ring).
 *
 * Each named process opens its handles on first use with GENERIC_READ | GENERIC_WRITE |
 * FILE_READ_ATTRIBUTES, so every CTL_CODE access check (FILE_READ_ACCESS for
 * MEDIA_REMOVAL/EJECT_MEDIA, read|write for SCSI pass-through) passes and the verdict is about
 * the filter and the class driver, not the I/O manager.
 */
import {
  CdfilterError,
  Decision,
  type FilterClient,
  hex32,
  NTSTATUS,
  ntStatusName,
  Policy,
  Reason,
  RecordKind,
  type TraceRecord,
} from "../client/index.ts";
import { COMMAND_KINDS, type Expectation, type Scenario, type ScenarioStep } from "./format.ts";
import type { DriveActions, ScenarioWorld } from "./world.ts";

/** GENERIC_READ | GENERIC_WRITE | FILE_READ_ATTRIBUTES (winnt.h). */
const FULL_ACCESS = (0x8000_0000 | 0x4000_0000 | 0x80) >>> 0;

export interface Check {
  field: keyof Expectation;
  expected: string;
  actual: string;
  ok: boolean;
}

export interface StepVerdict {
  step: ScenarioStep;
  passed: boolean;
  /** Status name the (last) request completed with, when the step sent one. */
  status?: string;
  checks: Check[];
  /** Set when the step could not be performed at all. */
  error?: string;
  /** Trace records the step produced: seq range (after, through]. */
  seqAfter: bigint;
  seqThrough: bigint;
  durationMs: number;
}

export interface AuditResult {
  scenario: Scenario;
  verdicts: StepVerdict[];
  passed: number;
  failed: number;
  startedAt: Date;
  durationMs: number;
}

export interface RunHooks {
  /** Called before a step is performed. */
  beforeStep?(step: ScenarioStep): void | Promise<void>;
  /** Called with each verdict as soon as it is known. */
  afterStep?(v: StepVerdict): void | Promise<void>;
  signal?: AbortSignal;
}

/**
 * Play every step of `scenario` in `world`; `client` is the control connection to the same
 * filter (policy, ledger, trace). A step that cannot be performed gets `error` and fails; the
 * run goes on with the next step. Stops early (fewer verdicts) when `hooks.signal` aborts.
 */
export async function runScenario(
  client: FilterClient,
  scenario: Scenario,
  world: ScenarioWorld,
  hooks: RunHooks = {},
): Promise<AuditResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const play = new StepPlayer(client, scenario, world);
  if (scenario.policy) {
    await client.setPolicy(scenario.policy === "enforce" ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE);
  }
  const verdicts: StepVerdict[] = [];
  for (const step of scenario.steps) {
    if (hooks.signal?.aborted) break;
    await hooks.beforeStep?.(step);
    const v = await play.step(step);
    verdicts.push(v);
    await hooks.afterStep?.(v);
  }
  const passed = verdicts.filter((v) => v.passed).length;
  return { scenario, verdicts, passed, failed: verdicts.length - passed, startedAt, durationMs: performance.now() - t0 };
}

/** The state of one run: the handles each process holds. */
class StepPlayer {
  private readonly handles = new Map<string, DriveActions>();

  constructor(
    private readonly client: FilterClient,
    private readonly scenario: Scenario,
    private readonly world: ScenarioWorld,
  ) {}

  async step(step: ScenarioStep): Promise<StepVerdict> {
    const seqAfter = (await this.client.info()).newestSeq;
    const s0 = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    let commandsAfter: number | undefined;
    try {
      if (step.expect?.commands !== undefined) commandsAfter = this.qa(step).commandSeq(step.drive);
      status = await this.perform(step);
    } catch (e) {
      if (e instanceof CdfilterError && e.ntStatus !== undefined && step.verb === "open") status = e.ntStatus;
      else error = e instanceof Error ? e.message : String(e);
    }
    const durationMs = performance.now() - s0;
    const seqThrough = (await this.client.info()).newestSeq;
    const v: StepVerdict = { step, passed: false, checks: [], seqAfter, seqThrough, durationMs };
    if (status !== undefined) v.status = ntStatusName(status);
    if (error !== undefined) v.error = error;
    if (step.expect && error === undefined) v.checks = await this.check(step, step.expect, status, seqAfter, commandsAfter);
    v.passed = error === undefined && v.checks.every((c) => c.ok);
    return v;
  }

  private process(step: ScenarioStep) {
    return this.scenario.processes.get(step.actor)!;
  }

  private qa(step: ScenarioStep) {
    const qa = this.world.qa;
    if (!qa) throw new Error(`${step.label} needs the simulator (its QA surface is not available under Wine)`);
    return qa;
  }

  /** The open handle of the step, without opening one. */
  private openHandle(step: ScenarioStep): DriveActions {
    const d = this.handles.get(handleKey(step));
    if (!d) throw new Error(`${step.actor} has no open handle "${step.handle}" on drive ${step.drive}`);
    return d;
  }

  private async handleOf(step: ScenarioStep): Promise<DriveActions> {
    const key = handleKey(step);
    let d = this.handles.get(key);
    if (!d) {
      d = await this.world.openDrive(this.process(step), step.drive, step.handle, FULL_ACCESS);
      this.handles.set(key, d);
    }
    return d;
  }

  /** Perform the step (repeat times); the NTSTATUS of the last request, if it sent one. */
  private async perform(step: ScenarioStep): Promise<number | undefined> {
    if (step.actor === "system") return this.system(step);
    let last: number | undefined;
    for (let i = 0; i < step.repeat; i++) {
      switch (step.verb) {
        case "open":
          await this.handleOf(step);
          last = NTSTATUS.STATUS_SUCCESS;
          break;
        case "close": {
          const key = handleKey(step);
          const d = this.handles.get(key);
          if (!d) throw new Error(`${step.actor} has no open handle "${step.handle}" on drive ${step.drive} to close`);
          this.handles.delete(key);
          await d.close();
          last = NTSTATUS.STATUS_SUCCESS;
          break;
        }
        case "cleanup":
          last = this.qa(step).cleanupOnly(this.openHandle(step));
          break;
        case "close-only": {
          const d = this.openHandle(step);
          this.qa(step).closeOnly(d);
          this.handles.delete(handleKey(step));
          last = NTSTATUS.STATUS_SUCCESS;
          break;
        }
        case "duplicate": {
          const label = step.args[0]!;
          const toName = step.args[1] ?? step.actor;
          const to = this.scenario.processes.get(toName);
          if (!to) throw new Error(`duplicate: unknown process "${toName}"`);
          const key = `${toName}\u0000${label}\u0000${step.drive}`;
          if (this.handles.has(key)) throw new Error(`${toName} already has a handle "${label}" on drive ${step.drive}`);
          this.handles.set(key, this.qa(step).duplicate(this.openHandle(step), to));
          last = NTSTATUS.STATUS_SUCCESS;
          break;
        }
        case "exit":
        case "crash":
          await this.world.exit(this.process(step));
          for (const [k] of this.handles) if (k.startsWith(`${step.actor}\u0000`)) this.handles.delete(k);
          return undefined;
        default:
          last = await act(await this.handleOf(step), step);
      }
    }
    return last;
  }

  private async system(step: ScenarioStep): Promise<number | undefined> {
    const a = step.args[0]!;
    if (step.verb === "policy") {
      await this.client.setPolicy(a === "enforce" ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE, step.driveGiven ? step.drive : 0);
      return undefined;
    }
    switch (step.verb) {
      case "fail-command":
        this.qa(step).failCommand(
          step.drive,
          COMMAND_KINDS[a as keyof typeof COMMAND_KINDS],
          Number(step.args[1]),
          statusValue(step.args[2]!),
        );
        return undefined;
      case "surprise-remove":
        this.qa(step).surpriseRemove(step.drive);
        return undefined;
      case "no-file": {
        const req = NO_FILE_REQUESTS[a];
        if (!req) throw new Error(`no-file: unknown request ${a}`);
        let last: number | undefined;
        for (let i = 0; i < step.repeat; i++) {
          last = this.qa(step).noFileIoctl(step.drive, step.args[1] !== "user", req.code, req.input);
        }
        return last;
      }
    }
    const hw = this.world.hardware;
    if (!hw) throw new Error(`system ${step.verb} needs the simulator (no simulated hardware under Wine)`);
    switch (step.verb) {
      case "media":
        hw.setMedia(step.drive, a === "present");
        return undefined;
      case "connect":
      case "disconnect":
        hw.setConnected(step.drive, step.verb === "connect");
        return undefined;
      case "fail-next":
        hw.failNext(step.drive, statusValue(a));
        return undefined;
    }
    throw new Error(`unhandled system verb ${step.verb}`);
  }

  private async check(
    step: ScenarioStep,
    e: Expectation,
    status: number | undefined,
    seqAfter: bigint,
    commandsAfter: number | undefined,
  ): Promise<Check[]> {
    const checks: Check[] = [];
    if (e.status !== undefined) {
      const actual = status === undefined ? "(no request)" : e.status.startsWith("0x") ? hex32(status) : ntStatusName(status);
      checks.push({ field: "status", expected: e.status, actual, ok: actual === e.status });
    }
    if (e.secure !== undefined || e.simple !== undefined || e.owner !== undefined || e.owners !== undefined) {
      checks.push(...(await this.ledgerChecks(step, e)));
    }
    if (e.reason !== undefined || e.decision !== undefined || e.released !== undefined) {
      checks.push(...recordChecks(e, await this.recordsAfter(seqAfter)));
    }
    if (e.commands !== undefined && commandsAfter !== undefined) {
      const names = Object.fromEntries(Object.entries(COMMAND_KINDS).map(([k, v]) => [v, k]));
      const actual = this.qa(step)
        .commandKindsAfter(step.drive, commandsAfter)
        .map((k) => names[k] ?? String(k))
        .join(",");
      const expected = e.commands.join(",");
      checks.push({ field: "commands", expected: expected || "none", actual: actual || "none", ok: actual === expected });
    }
    return checks;
  }

  private async ledgerChecks(step: ScenarioStep, e: Expectation): Promise<Check[]> {
    const checks: Check[] = [];
    const snap = await this.client.ledger(step.drive);
    const ledger = snap.drives.find((d) => d.driveId === step.drive);
    const owners = new Map<string, number>();
    for (const o of ledger?.owners ?? []) {
      if (o.secureCount === 0) continue;
      const name = this.nameOfPid(o.pid) ?? `pid ${o.pid}`;
      owners.set(name, (owners.get(name) ?? 0) + o.secureCount);
    }
    if (e.secure !== undefined) checks.push(numCheck("secure", e.secure, ledger?.secureTotal ?? 0));
    if (e.simple !== undefined) checks.push(numCheck("simple", e.simple, ledger?.simpleTotal ?? 0));
    if (e.owner !== undefined) {
      const actual = owners.size === 0 ? "none" : [...owners.keys()].sort().join("+");
      const expected = e.owner ?? "none";
      checks.push({ field: "owner", expected, actual, ok: actual === expected });
    }
    if (e.owners !== undefined) {
      const want = Object.entries(e.owners)
        .filter(([, n]) => n > 0)
        .sort(([a], [b]) => a.localeCompare(b));
      const have = [...owners.entries()].sort(([a], [b]) => a.localeCompare(b));
      const fmt = (l: [string, number][]) => (l.length ? l.map(([n, c]) => `${n}=${c}`).join(",") : "none");
      checks.push({ field: "owners", expected: fmt(want), actual: fmt(have), ok: fmt(want) === fmt(have) });
    }
    return checks;
  }

  /** The scenario process the driver knows by `pid`. */
  private nameOfPid(pid: number): string | undefined {
    for (const p of this.scenario.processes.values()) if (this.world.pidOf(p) === pid) return p.name;
    return undefined;
  }

  private async recordsAfter(seq: bigint): Promise<TraceRecord[]> {
    const out: TraceRecord[] = [];
    for await (const ev of this.client.trace({ from: seq, follow: false })) {
      if (ev.type === "record") out.push(ev.record);
    }
    return out;
  }
}

/** The requests `system: no-file VERB` sends (ntddstor.h codes; PREVENT_MEDIA_REMOVAL input). */
const NO_FILE_REQUESTS: Record<string, { code: number; input: Uint8Array }> = {
  lock: { code: 0x002d0940, input: Uint8Array.of(1) }, // IOCTL_STORAGE_EJECTION_CONTROL
  unlock: { code: 0x002d0940, input: Uint8Array.of(0) },
  "media-lock": { code: 0x002d4804, input: Uint8Array.of(1) }, // IOCTL_STORAGE_MEDIA_REMOVAL
  "media-unlock": { code: 0x002d4804, input: Uint8Array.of(0) },
  "mcn-disable": { code: 0x002d0944, input: Uint8Array.of(1) }, // IOCTL_STORAGE_MCN_CONTROL
  "mcn-enable": { code: 0x002d0944, input: Uint8Array.of(0) },
  eject: { code: 0x002d4808, input: new Uint8Array(0) }, // IOCTL_STORAGE_EJECT_MEDIA
  load: { code: 0x002d480c, input: new Uint8Array(0) }, // IOCTL_STORAGE_LOAD_MEDIA
};

function handleKey(step: ScenarioStep): string {
  return `${step.actor}\u0000${step.handle}\u0000${step.drive}`;
}

async function act(d: DriveActions, step: ScenarioStep): Promise<number> {
  switch (step.verb) {
    case "lock":
      return (await d.lock()).status;
    case "unlock":
      return (await d.unlock()).status;
    case "media-lock":
      return (await d.mediaRemoval(true)).status;
    case "media-unlock":
      return (await d.mediaRemoval(false)).status;
    case "eject":
      return (await d.eject()).status;
    // START STOP UNIT (0x1B), byte 4 = LoEj (bit 1), Start=0: eject the medium (SBC/MMC).
    case "passthrough-eject":
      return (await d.passThrough(Uint8Array.of(0x1b, 0, 0, 0, 0x02, 0))).status;
    // PREVENT ALLOW MEDIUM REMOVAL (0x1E), byte 4 Prevent=0: allow removal.
    case "passthrough-allow":
      return (await d.passThrough(Uint8Array.of(0x1e, 0, 0, 0, 0x00, 0))).status;
    case "load":
      if (!d.load) throw new Error(`${step.label}: this world cannot send IOCTL_STORAGE_LOAD_MEDIA`);
      return (await d.load()).status;
    case "read": {
      const offset = Number(step.args[0] ?? 0);
      const length = Number(step.args[1] ?? 2048);
      return (await d.read(offset, length)).status;
    }
  }
  throw new Error(`unhandled process verb ${step.verb}`);
}

/** reason / decision / released against the records the step produced. */
function recordChecks(e: Expectation, records: TraceRecord[]): Check[] {
  const checks: Check[] = [];
  if (e.reason !== undefined) {
    const seen = [...new Set(records.map((r) => shortName(Reason, r.reason, "REASON_")).filter((x) => x !== "NONE"))];
    checks.push({ field: "reason", expected: e.reason, actual: seen.join(",") || "NONE", ok: seen.includes(e.reason) });
  }
  if (e.decision !== undefined) {
    const seen = [...new Set(records.map((r) => shortName(Decision, r.decision, "DECISION_")))];
    checks.push({ field: "decision", expected: e.decision, actual: seen.join(",") || "(no record)", ok: seen.includes(e.decision) });
  }
  if (e.released !== undefined) {
    const released = records
      .filter((r) => r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE || r.kind === RecordKind.RECORD_KIND_LEAK_RELEASE)
      .reduce((n, r) => n + r.countReleased, 0);
    checks.push(numCheck("released", e.released, released));
  }
  return checks;
}

/** Enum value to its proto name without the prefix ("EJECT_UNDER_LOCK"); the number when unknown. */
function shortName(e: object, v: number, prefix: string): string {
  const name = (e as Record<number, string | undefined>)[v] ?? String(v);
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function numCheck(field: keyof Expectation, expected: number, actual: number): Check {
  return { field, expected: String(expected), actual: String(actual), ok: expected === actual };
}

function statusValue(s: string): number {
  if (s.startsWith("0x")) return Number.parseInt(s.slice(2), 16) >>> 0;
  const v = (NTSTATUS as Record<string, number>)[s];
  if (v === undefined) throw new Error(`unknown NTSTATUS ${s}`);
  return v;
}
