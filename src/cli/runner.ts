/**
 * Plays a scenario (scenario.ts) against a FilterClient on the simulator and checks every
 * step's expectations: the NTSTATUS the request completed with, the drive's ledger after the
 * step (GetLedger), and the trace records the step produced (read back from the ring).
 *
 * Each named process is a simulated process (its pid and image name); its handles are opened on
 * first use with GENERIC_READ | GENERIC_WRITE | FILE_READ_ATTRIBUTES, so every CTL_CODE access
 * check (FILE_READ_ACCESS for MEDIA_REMOVAL/EJECT_MEDIA, read|write for SCSI pass-through)
 * passes and the verdict is about the filter and the class driver, not the I/O manager.
 */
import { CdfilterError, type FilterClient, NTSTATUS, Policy, RecordKind, type TraceRecord, hex32, ntStatusName } from "../client/index.ts";
import type { DriveActions, ScenarioWorld } from "../wine/actor-world.ts";
import { CliError, ExitCode } from "./errors.ts";
import { shortDecision, shortReason } from "./records.ts";
import type { Expectation, Scenario, ScenarioStep } from "./scenario.ts";

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

/** The simulator is needed: a scenario plays several simulated processes. */
export function requireSimulator(client: FilterClient): NonNullable<FilterClient["simulator"]> {
  const sim = client.simulator;
  if (!sim) {
    throw new CliError(
      `scenarios need the embedded simulator, but the transport is ${client.transportKind}`,
      ExitCode.USAGE,
      "scenario steps are played by simulated processes: run with --transport simulator",
    );
  }
  return sim;
}

export async function runScenario(
  client: FilterClient,
  scenario: Scenario,
  hooks: RunHooks = {},
  world?: ScenarioWorld,
): Promise<AuditResult> {
  const sim = world ? undefined : requireSimulator(client);
  const startedAt = new Date();
  const t0 = performance.now();
  const handles = new Map<string, DriveActions>();
  const pidNames = new Map<number, string>([...scenario.processes.values()].map((p) => [p.pid, p.name]));
  const nameOfPid = (pid: number): string | undefined => {
    if (world) for (const p of scenario.processes.values()) if (world.pidOf(p.name) === pid) return p.name;
    return pidNames.get(pid);
  };
  if (scenario.policy) {
    await client.setPolicy(scenario.policy === "enforce" ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE);
  }
  const verdicts: StepVerdict[] = [];
  for (const step of scenario.steps) {
    if (hooks.signal?.aborted) break;
    await hooks.beforeStep?.(step);
    const seqAfter = (await client.info()).newestSeq;
    const s0 = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    try {
      status = await perform(step);
    } catch (e) {
      if (e instanceof CdfilterError && e.ntStatus !== undefined && step.verb === "open") status = e.ntStatus;
      else error = e instanceof Error ? e.message : String(e);
    }
    const durationMs = performance.now() - s0;
    const seqThrough = (await client.info()).newestSeq;
    const v: StepVerdict = { step, passed: false, checks: [], seqAfter, seqThrough, durationMs };
    if (status !== undefined) v.status = ntStatusName(status);
    if (error !== undefined) v.error = error;
    if (step.expect && error === undefined) v.checks = await check(step, step.expect, status, seqAfter);
    v.passed = error === undefined && v.checks.every((c) => c.ok);
    verdicts.push(v);
    await hooks.afterStep?.(v);
  }
  const passed = verdicts.filter((v) => v.passed).length;
  return { scenario, verdicts, passed, failed: verdicts.length - passed, startedAt, durationMs: performance.now() - t0 };

  async function handleOf(step: ScenarioStep): Promise<DriveActions> {
    const key = `${step.actor}\u0000${step.handle}\u0000${step.drive}`;
    let d = handles.get(key);
    if (!d) {
      const p = scenario.processes.get(step.actor)!;
      d = world
        ? await world.openDrive(p, step.drive, step.handle, FULL_ACCESS)
        : await client.openDrive(step.drive, { pid: p.pid, image: p.image, access: FULL_ACCESS });
      handles.set(key, d);
    }
    return d;
  }

  /** Perform the step (repeat times); the NTSTATUS of the last request, if it sent one. */
  async function perform(step: ScenarioStep): Promise<number | undefined> {
    if (step.actor === "system") {
      const a = step.args[0]!;
      switch (step.verb) {
        case "policy":
          await client.setPolicy(a === "enforce" ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE, step.driveGiven ? step.drive : 0);
          return undefined;
        case "media":
          if (!sim) throw new Error(`system ${step.verb} needs the simulator (no simulated hardware under Wine)`);
          sim.setMedia(step.drive, a === "present");
          return undefined;
        case "connect":
        case "disconnect":
          if (!sim) throw new Error(`system ${step.verb} needs the simulator (no simulated hardware under Wine)`);
          sim.setConnected(step.drive, step.verb === "connect");
          return undefined;
        case "fail-next":
          if (!sim) throw new Error(`system ${step.verb} needs the simulator (no simulated hardware under Wine)`);
          sim.failNext(step.drive, statusValue(a));
          return undefined;
      }
      throw new Error(`unhandled system verb ${step.verb}`);
    }
    const p = scenario.processes.get(step.actor)!;
    let last: number | undefined;
    for (let i = 0; i < step.repeat; i++) {
      switch (step.verb) {
        case "open":
          await handleOf(step);
          last = NTSTATUS.STATUS_SUCCESS;
          break;
        case "close": {
          const key = `${step.actor}\u0000${step.handle}\u0000${step.drive}`;
          const d = handles.get(key);
          if (!d) throw new Error(`${step.actor} has no open handle "${step.handle}" on drive ${step.drive} to close`);
          handles.delete(key);
          await d.close();
          last = NTSTATUS.STATUS_SUCCESS;
          break;
        }
        case "exit":
        case "crash":
          if (world) await world.exit(p);
          else sim!.processExit(p.pid);
          for (const [k] of handles) if (k.startsWith(`${step.actor}\u0000`)) handles.delete(k);
          return undefined;
        default: {
          const d = await handleOf(step);
          const r = await act(d, step);
          last = r;
        }
      }
    }
    return last;
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
      case "read": {
        const offset = Number(step.args[0] ?? 0);
        const length = Number(step.args[1] ?? 2048);
        return (await d.read(offset, length)).status;
      }
    }
    throw new Error(`unhandled process verb ${step.verb}`);
  }

  async function check(step: ScenarioStep, e: Expectation, status: number | undefined, seqAfter: bigint): Promise<Check[]> {
    const checks: Check[] = [];
    if (e.status !== undefined) {
      const actual = status === undefined ? "(no request)" : e.status.startsWith("0x") ? hex32(status) : ntStatusName(status);
      checks.push({ field: "status", expected: e.status, actual, ok: actual === e.status });
    }
    if (e.secure !== undefined || e.simple !== undefined || e.owner !== undefined || e.owners !== undefined) {
      const snap = await client.ledger(step.drive);
      const ledger = snap.drives.find((d) => d.driveId === step.drive);
      const owners = new Map<string, number>();
      for (const o of ledger?.owners ?? []) {
        if (o.secureCount === 0) continue;
        const name = nameOfPid(o.pid) ?? `pid ${o.pid}`;
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
    }
    if (e.reason !== undefined || e.decision !== undefined || e.released !== undefined) {
      const records = await recordsAfter(seqAfter);
      if (e.reason !== undefined) {
        const seen = [...new Set(records.map((r) => shortReason(r.reason)).filter((x) => x !== "NONE"))];
        checks.push({ field: "reason", expected: e.reason, actual: seen.join(",") || "NONE", ok: seen.includes(e.reason) });
      }
      if (e.decision !== undefined) {
        const seen = [...new Set(records.map((r) => shortDecision(r.decision)))];
        checks.push({ field: "decision", expected: e.decision, actual: seen.join(",") || "(no record)", ok: seen.includes(e.decision) });
      }
      if (e.released !== undefined) {
        const released = records
          .filter((r) => r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE || r.kind === RecordKind.RECORD_KIND_LEAK_RELEASE)
          .reduce((n, r) => n + r.countReleased, 0);
        checks.push(numCheck("released", e.released, released));
      }
    }
    return checks;
  }

  async function recordsAfter(seq: bigint): Promise<TraceRecord[]> {
    const out: TraceRecord[] = [];
    for await (const ev of client.trace({ from: seq, follow: false })) {
      if (ev.type === "record") out.push(ev.record);
    }
    return out;
  }
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

// ---------------------------------------------------------------------------------------------
// Reports.

export function verdictSummary(v: StepVerdict): { expected: string; actual: string } {
  const expected = v.checks.map((c) => (c.field === "status" ? c.expected : `${c.field}=${c.expected}`));
  const actual = v.checks.map((c) => (c.field === "status" ? c.actual : `${c.field}=${c.actual}`));
  if (v.error) actual.push(`error: ${v.error}`);
  else if (!v.checks.length && v.status) actual.push(v.status);
  return { expected: expected.join(", ") || "-", actual: actual.join(", ") || "done" };
}

/** The audit result as a JSON document (docs/cli.md, "Audit reports"). */
export function auditJson(res: AuditResult, transport: string): unknown {
  return {
    scenario: { name: res.scenario.name, file: res.scenario.file, description: res.scenario.description },
    transport,
    startedAt: res.startedAt.toISOString(),
    durationMs: Math.round(res.durationMs * 1000) / 1000,
    passed: res.passed,
    failed: res.failed,
    steps: res.verdicts.map((v) => ({
      index: v.step.index,
      line: v.step.line,
      label: v.step.label,
      ...(v.step.note ? { note: v.step.note } : {}),
      passed: v.passed,
      ...(v.status ? { status: v.status } : {}),
      checks: v.checks,
      ...(v.error ? { error: v.error } : {}),
      records: { afterSeq: String(v.seqAfter), throughSeq: String(v.seqThrough) },
      durationMs: Math.round(v.durationMs * 1000) / 1000,
    })),
  };
}

/** The audit result as JUnit XML: one testsuite per scenario, one testcase per step. */
export function auditJunit(res: AuditResult): string {
  const name = res.scenario.name;
  const secs = (ms: number) => (ms / 1000).toFixed(6);
  const cases = res.verdicts.map((v) => {
    const head = `    <testcase classname="${xml(name)}" name="${xml(`step ${v.step.index}: ${v.step.label}`)}" file="${xml(res.scenario.file)}" line="${v.step.line}" time="${secs(v.durationMs)}"`;
    if (v.passed) return `${head}/>`;
    if (v.error) {
      return `${head}>\n      <error message="${xml(v.error)}" type="step-error">${xml(v.error)}</error>\n    </testcase>`;
    }
    const bad = v.checks.filter((c) => !c.ok);
    const msg = bad.map((c) => `${c.field}: expected ${c.expected}, got ${c.actual}`).join("; ");
    return `${head}>\n      <failure message="${xml(msg)}" type="expectation">${xml(msg)}</failure>\n    </testcase>`;
  });
  const errors = res.verdicts.filter((v) => v.error).length;
  const failures = res.failed - errors;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="cdfilter audit" tests="${res.verdicts.length}" failures="${failures}" errors="${errors}" time="${secs(res.durationMs)}">`,
    `  <testsuite name="${xml(name)}" tests="${res.verdicts.length}" failures="${failures}" errors="${errors}" skipped="0" time="${secs(res.durationMs)}" timestamp="${res.startedAt.toISOString().replace(/\.\d+Z$/, "")}">`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    ``,
  ].join("\n");
}

function xml(s: string): string {
  // Characters XML 1.0 forbids are dropped; the five specials escaped.
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "")
    .replace(/[<>&"']/g, (ch) => (ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : ch === "&" ? "&amp;" : ch === '"' ? "&quot;" : "&apos;"));
}
