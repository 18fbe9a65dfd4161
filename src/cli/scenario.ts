/**
 * Scenario files: the YAML format `cdfilter audit` runs and the demo is written in
 * (docs/cli.md, "Scenario format").
 *
 * ```yaml
 * name: burner versus player
 * drives: 1                 # simulator drives (1..16), default 1
 * policy: observe           # initial policy of every drive: observe | enforce
 * processes:
 *   burner: { pid: 4100, image: burner.exe }
 *   player: {}              # pid and image default to 4200 / player.exe
 * steps:
 *   - burner: lock          # <process>: <verb> [args]
 *     expect: { status: STATUS_SUCCESS, secure: 1, owner: burner }
 *   - player: eject
 *     expect: { status: STATUS_DEVICE_BUSY, reason: EJECT_UNDER_LOCK }
 *   - system: policy enforce
 * ```
 *
 * Parsing is pure (no client): every error is a ScenarioError naming the file, line and column
 * and, inside `steps`, the step number and what it does. Names that depend on the protocol
 * (NTSTATUS, Reason, Decision) are checked against vocabularies the caller passes in.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type YAMLMap } from "yaml";
import { CliError, ExitCode } from "./errors.ts";

/** Verbs a named process can perform; each issues requests on its handle of `drive`. */
export const PROCESS_VERBS = {
  open: "open a handle (FILE_READ_ATTRIBUTES) on the drive",
  close: "close the handle (IRP_MJ_CLEANUP + IRP_MJ_CLOSE): its secure locks are released",
  lock: "IOCTL_STORAGE_EJECTION_CONTROL TRUE (secure lock)",
  unlock: "IOCTL_STORAGE_EJECTION_CONTROL FALSE (secure unlock)",
  "media-lock": "IOCTL_STORAGE_MEDIA_REMOVAL TRUE (simple lock)",
  "media-unlock": "IOCTL_STORAGE_MEDIA_REMOVAL FALSE (simple unlock)",
  eject: "IOCTL_STORAGE_EJECT_MEDIA",
  "passthrough-eject": "IOCTL_SCSI_PASS_THROUGH with START STOP UNIT LoEj=1 (opcode 0x1B)",
  "passthrough-allow": "IOCTL_SCSI_PASS_THROUGH with PREVENT ALLOW MEDIUM REMOVAL prevent=0 (opcode 0x1E)",
  read: "IRP_MJ_READ [offset] [length] in bytes (default 0 2048)",
  exit: "the process exits (or crashes) with its handles open: every handle is closed for it",
  crash: "same as exit",
} as const;
export type ProcessVerb = keyof typeof PROCESS_VERBS;

/** Verbs of the `system` actor: they change the simulated world, not a process. */
export const SYSTEM_VERBS = {
  policy: "policy observe|enforce: set the policy of `drive` (or of every drive without `drive`)",
  media: "media present|absent: insert or remove the disc",
  disconnect: "the drive is unplugged (requests fail with STATUS_DEVICE_NOT_CONNECTED)",
  connect: "the drive is plugged back",
  "fail-next": "fail-next STATUS_NAME|0xHEX: the next request to the lower device fails",
} as const;
export type SystemVerb = keyof typeof SYSTEM_VERBS;

/** Verbs that send one request and so must say which NTSTATUS they expect. */
const NEEDS_STATUS: ReadonlySet<string> = new Set([
  "lock",
  "unlock",
  "media-lock",
  "media-unlock",
  "eject",
  "passthrough-eject",
  "passthrough-allow",
  "read",
]);

export interface Expectation {
  /** NTSTATUS name (STATUS_DEVICE_BUSY) or hex value the request completes with. */
  status?: string;
  /** The drive's secure (EJECTION_CONTROL) total after the step. */
  secure?: number;
  /** The drive's simple (MEDIA_REMOVAL) total after the step. */
  simple?: number;
  /** The only secure-lock owner after the step (a process name), or null for "none". */
  owner?: string | null;
  /** Secure lock count per owning process after the step; processes not named hold none. */
  owners?: Record<string, number>;
  /** A trace record written during the step carries this Reason (short or REASON_ form). */
  reason?: string;
  /** A trace record written during the step carries this Decision (short or DECISION_ form). */
  decision?: string;
  /** Locks released by the filter (AUTO_RELEASE/LEAK_RELEASE records) during the step. */
  released?: number;
}

export interface ScenarioProcess {
  name: string;
  pid: number;
  image: string;
}

export interface ScenarioStep {
  /** 1-based position in `steps`. */
  index: number;
  /** 1-based line of the step in the file. */
  line: number;
  /** A process name, or "system". */
  actor: string;
  verb: ProcessVerb | SystemVerb;
  args: string[];
  /** Drive id (1..N), default 1. */
  drive: number;
  /** Whether the step named its drive (a `system: policy` step without one sets every drive). */
  driveGiven: boolean;
  /** Handle label inside the process (a process may hold several handles), default "main". */
  handle: string;
  /** Times the step is performed (read bursts), default 1. */
  repeat: number;
  expect?: Expectation;
  note?: string;
  /** "player eject", "system policy enforce": how the step is named in verdicts and errors. */
  label: string;
}

export interface Scenario {
  name: string;
  description?: string;
  file: string;
  drives: number;
  policy?: "observe" | "enforce";
  processes: Map<string, ScenarioProcess>;
  steps: ScenarioStep[];
}

/** Names the parser checks expectation values against (all optional: unchecked when absent). */
export interface Vocabulary {
  /** Every known NTSTATUS name (STATUS_...). */
  statuses?: ReadonlySet<string>;
  /** Reason names without the REASON_ prefix (EJECT_UNDER_LOCK). */
  reasons?: ReadonlySet<string>;
  /** Decision names without the DECISION_ prefix (DENY). */
  decisions?: ReadonlySet<string>;
}

export class ScenarioError extends CliError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly step: number | undefined,
    readonly detail: string,
    hint?: string,
    stepLabel?: string,
  ) {
    const where = step === undefined ? "" : stepLabel ? `step ${step} (${stepLabel}): ` : `step ${step}: `;
    super(`${file}:${line}:${col}: ${where}${detail}`, ExitCode.BAD_INPUT, hint);
  }
}

const TOP_KEYS = new Set(["name", "description", "drives", "policy", "processes", "steps"]);
const STEP_KEYS = new Set(["expect", "drive", "handle", "repeat", "note"]);
const EXPECT_KEYS = new Set(["status", "secure", "simple", "owner", "owners", "reason", "decision", "released"]);
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const FORMAT_HINT = 'see docs/cli.md, "Scenario format", or scenarios/demo.yaml';

export function parseScenario(text: string, file: string, vocab: Vocabulary = {}): Scenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const pos = (node: Node | null | undefined): { line: number; col: number } => {
    const offset = node?.range?.[0] ?? 0;
    const p = lc.linePos(offset);
    return { line: p.line || 1, col: p.col || 1 };
  };
  const fail = (node: Node | null | undefined, detail: string, step?: ScenarioStep | number, hint = FORMAT_HINT): never => {
    const p = pos(node);
    const stepNo = typeof step === "number" ? step : step?.index;
    throw new ScenarioError(file, p.line, p.col, stepNo, detail, hint, typeof step === "object" ? step.label : undefined);
  };

  const yamlError = doc.errors[0];
  if (yamlError) {
    const p = lc.linePos(yamlError.pos[0]);
    const first = yamlError.message.split("\n")[0] ?? yamlError.message;
    throw new ScenarioError(
      file,
      p.line || 1,
      p.col || 1,
      undefined,
      `invalid YAML: ${first.replace(/ at line \d+, column \d+:?$/, "")}`,
      "check the indentation and quoting around that line",
    );
  }
  const root = doc.contents;
  if (!isMap(root)) fail(root, "the file must be a mapping with `processes` and `steps`");
  const top = root as YAMLMap<Node, Node>;
  for (const pair of top.items) {
    const key = keyName(pair);
    if (!TOP_KEYS.has(key)) fail(pair.key as Node, `unknown top-level key "${key}" (expected one of: ${[...TOP_KEYS].join(", ")})`);
  }

  const scenario: Scenario = {
    name: "",
    file,
    drives: 1,
    processes: new Map(),
    steps: [],
  };

  const nameNode = top.get("name", true) as Node | undefined;
  scenario.name = nameNode ? scalarString(nameNode, "name") : file.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/, "");
  const descNode = top.get("description", true) as Node | undefined;
  if (descNode) scenario.description = scalarString(descNode, "description");
  const drivesNode = top.get("drives", true) as Node | undefined;
  if (drivesNode) scenario.drives = scalarInt(drivesNode, "drives", 1, 16);
  const policyNode = top.get("policy", true) as Node | undefined;
  if (policyNode) {
    const p = scalarString(policyNode, "policy");
    if (p !== "observe" && p !== "enforce") fail(policyNode, `policy must be observe or enforce, not "${p}"`);
    scenario.policy = p as "observe" | "enforce";
  }

  const procs = top.get("processes", true) as Node | undefined;
  if (!procs) fail(root, "missing `processes`: a mapping of process names to { pid, image }");
  if (!isMap(procs)) fail(procs, "`processes` must be a mapping of process names to { pid, image }");
  const usedPids = new Map<number, string>();
  let nextPid = 4100;
  for (const pair of (procs as YAMLMap<Node, Node>).items) {
    const name = keyName(pair);
    if (!NAME_RE.test(name) || name === "system") {
      fail(pair.key as Node, `bad process name "${name}": letters, digits, _ . - and not "system"`);
    }
    const body = pair.value as Node | null;
    let pid: number | undefined;
    let image = `${name}.exe`;
    if (body !== null && !(isScalar(body) && body.value === null)) {
      if (!isMap(body)) fail(body, `process "${name}" must be a mapping like { pid: 4100, image: ${name}.exe }`);
      for (const p of (body as YAMLMap<Node, Node>).items) {
        const k = keyName(p);
        if (k === "pid") pid = scalarInt(p.value as Node, `${name}.pid`, 1, 0xffff_fffe);
        else if (k === "image") image = scalarString(p.value as Node, `${name}.image`);
        else fail(p.key as Node, `unknown key "${k}" in process "${name}" (expected pid, image)`);
      }
    }
    if (pid === undefined) {
      while (usedPids.has(nextPid)) nextPid += 100;
      pid = nextPid;
    }
    nextPid = Math.max(nextPid, pid) + 100;
    const clash = usedPids.get(pid);
    if (clash !== undefined) fail(pair.key as Node, `process "${name}" has the same pid ${pid} as "${clash}"`);
    if (Buffer.byteLength(image) > 64) fail(pair.value as Node, `image name of "${name}" is longer than 64 bytes`);
    usedPids.set(pid, name);
    scenario.processes.set(name, { name, pid, image });
  }
  if (scenario.processes.size === 0) fail(procs, "`processes` names no process");

  const steps = top.get("steps", true) as Node | undefined;
  if (!steps) fail(root, "missing `steps`: a list of steps like `- burner: lock`");
  if (!isSeq(steps)) fail(steps, "`steps` must be a list of steps like `- burner: lock`");
  const stepNodes = (steps as { items: unknown[] }).items as Node[];
  if (stepNodes.length === 0) fail(steps, "`steps` is empty");
  for (const [i, node] of stepNodes.entries()) scenario.steps.push(parseStep(node, i + 1));
  return scenario;

  function parseStep(node: Node, index: number): ScenarioStep {
    if (!isMap(node)) return fail(node, "a step must be a mapping like `- burner: lock`", index);
    const map = node as YAMLMap<Node, Node>;
    const actorPairs = map.items.filter((p) => !STEP_KEYS.has(keyName(p)));
    if (actorPairs.length === 0) {
      return fail(node, `no actor: start the step with \`<process>: <verb>\` or \`system: <verb>\``, index);
    }
    const actorPair = actorPairs[0]!;
    const actor = keyName(actorPair);
    if (actor !== "system" && !scenario.processes.has(actor)) {
      return fail(
        actorPair.key as Node,
        `unknown process "${actor}" (declared: ${[...scenario.processes.keys()].join(", ")})`,
        index,
        "declare it under `processes`, or use a step key: expect, drive, handle, repeat, note",
      );
    }
    if (actorPairs.length > 1) {
      const second = actorPairs[1]!;
      const k = keyName(second);
      return fail(
        second.key as Node,
        scenario.processes.has(k) || k === "system"
          ? `two actors ("${actor}" and "${k}") in one step: one actor per step`
          : `unknown step key "${k}" (expected one of: ${[...STEP_KEYS].join(", ")})`,
        index,
      );
    }
    const words = scalarString(actorPair.value as Node, `step ${index} verb`)
      .trim()
      .split(/\s+/);
    const verb = words[0] ?? "";
    const args = words.slice(1);
    const verbs: Record<string, string> = actor === "system" ? SYSTEM_VERBS : PROCESS_VERBS;
    if (!(verb in verbs)) {
      return fail(
        actorPair.value as Node,
        `unknown step verb "${verb}" for ${actor === "system" ? "system" : "a process"} (expected one of: ${Object.keys(verbs).join(", ")})`,
        index,
      );
    }
    const step: ScenarioStep = {
      index,
      line: pos(node).line,
      actor,
      verb: verb as ProcessVerb | SystemVerb,
      args,
      drive: 1,
      driveGiven: false,
      handle: "main",
      repeat: 1,
      label: `${actor} ${words.join(" ")}`,
    };
    checkArgs(step, actorPair.value as Node);
    const driveNode = map.get("drive", true) as Node | undefined;
    if (driveNode) {
      step.drive = scalarInt(driveNode, "drive", 1, scenario.drives, step);
      step.driveGiven = true;
    }
    const handleNode = map.get("handle", true) as Node | undefined;
    if (handleNode) {
      step.handle = scalarString(handleNode, "handle", step);
      if (actor === "system") fail(handleNode, "`handle` is meaningless for a system step", step);
    }
    const repeatNode = map.get("repeat", true) as Node | undefined;
    if (repeatNode) step.repeat = scalarInt(repeatNode, "repeat", 1, 1_000_000, step);
    const noteNode = map.get("note", true) as Node | undefined;
    if (noteNode) step.note = scalarString(noteNode, "note", step);
    const expectNode = map.get("expect", true) as Node | undefined;
    if (expectNode) step.expect = parseExpect(expectNode, step);
    if (NEEDS_STATUS.has(step.verb) && step.expect?.status === undefined) {
      fail(
        expectNode ?? node,
        `missing expectation field "status" (the NTSTATUS ${step.verb} must complete with, e.g. STATUS_SUCCESS)`,
        step,
        "every step that sends a request says which NTSTATUS it expects: `expect: { status: STATUS_SUCCESS }`",
      );
    }
    return step;
  }

  function checkArgs(step: ScenarioStep, node: Node): void {
    const a = step.args;
    const want = (n: number, usage: string) => {
      if (a.length !== n) fail(node, `"${step.verb}" takes ${usage}`, step);
    };
    switch (step.verb) {
      case "read":
        if (a.length > 2) fail(node, `"read" takes [offset] [length] in bytes`, step);
        for (const x of a) if (!/^\d+$/.test(x)) fail(node, `"read" offset and length are byte counts, not "${x}"`, step);
        break;
      case "policy":
        want(1, "observe or enforce");
        if (a[0] !== "observe" && a[0] !== "enforce") fail(node, `policy must be observe or enforce, not "${a[0]}"`, step);
        break;
      case "media":
        want(1, "present or absent");
        if (a[0] !== "present" && a[0] !== "absent") fail(node, `media must be present or absent, not "${a[0]}"`, step);
        break;
      case "fail-next":
        want(1, "an NTSTATUS name or 0xHEX value");
        checkStatus(a[0]!, node, step);
        break;
      default:
        want(0, "no arguments");
    }
  }

  function parseExpect(node: Node, step: ScenarioStep): Expectation {
    if (!isMap(node)) return fail(node, "`expect` must be a mapping like { status: STATUS_SUCCESS, secure: 1 }", step);
    const e: Expectation = {};
    for (const pair of (node as YAMLMap<Node, Node>).items) {
      const k = keyName(pair);
      const v = pair.value as Node;
      switch (k) {
        case "status": {
          // YAML reads 0xC0000184 as a number: keep it as the NTSTATUS value it is.
          const raw =
            isScalar(v) && typeof v.value === "number" && Number.isInteger(v.value) && v.value >= 0 && v.value <= 0xffff_ffff
              ? `0x${v.value.toString(16)}`
              : scalarString(v, "expect.status", step);
          e.status = checkStatus(raw, v, step);
          break;
        }
        case "secure":
        case "simple":
        case "released":
          e[k] = scalarInt(v, `expect.${k}`, 0, 0xffff_ffff, step);
          break;
        case "owner": {
          const o = isScalar(v) && v.value === null ? "none" : scalarString(v, "expect.owner", step);
          if (o !== "none" && !scenario.processes.has(o)) fail(v, `expect.owner names unknown process "${o}" (or use none)`, step);
          e.owner = o === "none" ? null : o;
          break;
        }
        case "owners": {
          if (!isMap(v)) fail(v, "expect.owners must map process names to secure lock counts", step);
          const owners: Record<string, number> = {};
          for (const p of (v as YAMLMap<Node, Node>).items) {
            const name = keyName(p);
            if (!scenario.processes.has(name)) fail(p.key as Node, `expect.owners names unknown process "${name}"`, step);
            owners[name] = scalarInt(p.value as Node, `expect.owners.${name}`, 0, 0xffff_ffff, step);
          }
          e.owners = owners;
          break;
        }
        case "reason":
          e.reason = checkEnumName(scalarString(v, "expect.reason", step), "REASON_", vocab.reasons, v, step, "reason");
          break;
        case "decision":
          e.decision = checkEnumName(scalarString(v, "expect.decision", step), "DECISION_", vocab.decisions, v, step, "decision");
          break;
        default:
          fail(pair.key as Node, `unknown expectation field "${k}" (expected one of: ${[...EXPECT_KEYS].join(", ")})`, step);
      }
    }
    return e;
  }

  function checkStatus(s: string, node: Node, step: ScenarioStep): string {
    if (/^0x[0-9a-f]{1,8}$/i.test(s)) return "0x" + s.slice(2).toUpperCase().padStart(8, "0");
    if (!/^STATUS_[A-Z0-9_]+$/.test(s)) fail(node, `"${s}" is not an NTSTATUS name (STATUS_...) or 0xHEX value`, step);
    if (vocab.statuses && !vocab.statuses.has(s))
      fail(node, `unknown NTSTATUS name "${s}"`, step, "run `cdfilter decode --statuses` for the known names, or give the value as 0xHEX");
    return s;
  }

  function checkEnumName(
    s: string,
    prefix: string,
    known: ReadonlySet<string> | undefined,
    node: Node,
    step: ScenarioStep,
    what: string,
  ): string {
    const short = s.startsWith(prefix) ? s.slice(prefix.length) : s;
    if (known && !known.has(short)) fail(node, `unknown ${what} "${s}" (expected one of: ${[...known].join(", ")})`, step);
    return short;
  }

  function scalarString(node: Node, what: string, step?: ScenarioStep): string {
    if (!isScalar(node) || node.value === null || typeof node.value === "object") {
      return fail(node, `${what} must be a plain value`, step);
    }
    return String(node.value);
  }

  function scalarInt(node: Node, what: string, min: number, max: number, step?: ScenarioStep): number {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      return fail(node, `${what} must be an integer from ${min} to ${max}`, step);
    }
    return v;
  }
}

function keyName(pair: Pair<unknown, unknown>): string {
  const k = pair.key;
  return isScalar(k) ? String(k.value) : String(k);
}
