/**
 * The `steps` section: a list of `- <actor>: <verb> [args]` mappings with the optional step keys
 * `expect`, `drive`, `handle`, `repeat`, `note`. Every error names the step number and, once
 * known, what the step does ("player eject").
 */
import { isMap, isSeq, type Node, type YAMLMap } from "yaml";
import {
  COMMAND_KINDS,
  NO_FILE_VERBS,
  PROCESS_VERBS,
  type ProcessVerb,
  SYSTEM_VERBS,
  type Scenario,
  type ScenarioStep,
  type SystemVerb,
  type Vocabulary,
} from "../format.ts";
import { keyName, type ParseContext } from "./context.ts";
import { checkStatus, parseExpect } from "./expect.ts";

const STEP_KEYS = new Set(["expect", "drive", "handle", "repeat", "note"]);
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
  "load",
  "no-file",
]);
/** Largest `repeat` of one step. */
const MAX_REPEAT = 1_000_000;

/** `scenario` has its drives and processes; the steps are appended to it. */
export function parseSteps(ctx: ParseContext, root: Node, steps: Node | undefined, scenario: Scenario, vocab: Vocabulary): ScenarioStep[] {
  if (!steps) return ctx.fail(root, "missing `steps`: a list of steps like `- burner: lock`");
  if (!isSeq(steps)) return ctx.fail(steps, "`steps` must be a list of steps like `- burner: lock`");
  const nodes = (steps as { items: unknown[] }).items as Node[];
  if (nodes.length === 0) ctx.fail(steps, "`steps` is empty");
  return nodes.map((node, i) => parseStep(ctx, node, i + 1, scenario, vocab));
}

function parseStep(ctx: ParseContext, node: Node, index: number, scenario: Scenario, vocab: Vocabulary): ScenarioStep {
  if (!isMap(node)) return ctx.fail(node, "a step must be a mapping like `- burner: lock`", index);
  const map = node as YAMLMap<Node, Node>;
  const actorPairs = map.items.filter((p) => !STEP_KEYS.has(keyName(p)));
  if (actorPairs.length === 0) {
    return ctx.fail(node, "no actor: start the step with `<process>: <verb>` or `system: <verb>`", index);
  }
  const actorPair = actorPairs[0]!;
  const actor = keyName(actorPair);
  if (actor !== "system" && !scenario.processes.has(actor)) {
    return ctx.fail(
      actorPair.key as Node,
      `unknown process "${actor}" (declared: ${[...scenario.processes.keys()].join(", ")})`,
      index,
      "declare it under `processes`, or use a step key: expect, drive, handle, repeat, note",
    );
  }
  if (actorPairs.length > 1) {
    const second = actorPairs[1]!;
    const k = keyName(second);
    return ctx.fail(
      second.key as Node,
      scenario.processes.has(k) || k === "system"
        ? `two actors ("${actor}" and "${k}") in one step: one actor per step`
        : `unknown step key "${k}" (expected one of: ${[...STEP_KEYS].join(", ")})`,
      index,
    );
  }
  const words = ctx
    .scalarString(actorPair.value as Node, `step ${index} verb`)
    .trim()
    .split(/\s+/);
  const verb = words[0] ?? "";
  const verbs: Record<string, string> = actor === "system" ? SYSTEM_VERBS : PROCESS_VERBS;
  if (!(verb in verbs)) {
    return ctx.fail(
      actorPair.value as Node,
      `unknown step verb "${verb}" for ${actor === "system" ? "system" : "a process"} (expected one of: ${Object.keys(verbs).join(", ")})`,
      index,
    );
  }
  const step: ScenarioStep = {
    index,
    line: ctx.pos(node).line,
    actor,
    verb: verb as ProcessVerb | SystemVerb,
    args: words.slice(1),
    drive: 1,
    driveGiven: false,
    handle: "main",
    repeat: 1,
    label: `${actor} ${words.join(" ")}`,
  };
  checkArgs(ctx, step, actorPair.value as Node, vocab);
  const driveNode = map.get("drive", true) as Node | undefined;
  if (driveNode) {
    step.drive = ctx.scalarInt(driveNode, "drive", 1, scenario.drives, step);
    step.driveGiven = true;
  }
  const handleNode = map.get("handle", true) as Node | undefined;
  if (handleNode) {
    step.handle = ctx.scalarString(handleNode, "handle", step);
    if (actor === "system") ctx.fail(handleNode, "`handle` is meaningless for a system step", step);
  }
  const repeatNode = map.get("repeat", true) as Node | undefined;
  if (repeatNode) step.repeat = ctx.scalarInt(repeatNode, "repeat", 1, MAX_REPEAT, step);
  const noteNode = map.get("note", true) as Node | undefined;
  if (noteNode) step.note = ctx.scalarString(noteNode, "note", step);
  const expectNode = map.get("expect", true) as Node | undefined;
  if (expectNode) step.expect = parseExpect(ctx, expectNode, step, scenario.processes, vocab);
  if (NEEDS_STATUS.has(step.verb) && step.expect?.status === undefined) {
    ctx.fail(
      expectNode ?? node,
      `missing expectation field "status" (the NTSTATUS ${step.verb} must complete with, e.g. STATUS_SUCCESS)`,
      step,
      "every step that sends a request says which NTSTATUS it expects: `expect: { status: STATUS_SUCCESS }`",
    );
  }
  return step;
}

function checkArgs(ctx: ParseContext, step: ScenarioStep, node: Node, vocab: Vocabulary): void {
  const a = step.args;
  const want = (n: number, usage: string) => {
    if (a.length !== n) ctx.fail(node, `"${step.verb}" takes ${usage}`, step);
  };
  switch (step.verb) {
    case "read":
      if (a.length > 2) ctx.fail(node, `"read" takes [offset] [length] in bytes`, step);
      for (const x of a) if (!/^\d+$/.test(x)) ctx.fail(node, `"read" offset and length are byte counts, not "${x}"`, step);
      break;
    case "policy":
      want(1, "observe or enforce");
      if (a[0] !== "observe" && a[0] !== "enforce") ctx.fail(node, `policy must be observe or enforce, not "${a[0]}"`, step);
      break;
    case "media":
      want(1, "present or absent");
      if (a[0] !== "present" && a[0] !== "absent") ctx.fail(node, `media must be present or absent, not "${a[0]}"`, step);
      break;
    case "fail-next":
      want(1, "an NTSTATUS name or 0xHEX value");
      checkStatus(ctx, a[0]!, node, step, vocab);
      break;
    case "fail-command":
      want(3, "KIND NTH STATUS (e.g. `fail-command allow 2 STATUS_IO_DEVICE_ERROR`)");
      if (!(a[0]! in COMMAND_KINDS)) {
        ctx.fail(node, `unknown command kind "${a[0]}" (expected one of: ${Object.keys(COMMAND_KINDS).join(", ")})`, step);
      }
      if (!/^[1-9]\d{0,8}$/.test(a[1]!)) ctx.fail(node, `"fail-command" NTH is a count from 1, not "${a[1]}"`, step);
      checkStatus(ctx, a[2]!, node, step, vocab);
      break;
    case "no-file":
      if (a.length < 1 || a.length > 2) ctx.fail(node, `"no-file" takes VERB [kernel|user]`, step);
      if (!(NO_FILE_VERBS as readonly string[]).includes(a[0]!)) {
        ctx.fail(node, `"no-file" sends one of ${NO_FILE_VERBS.join(", ")}, not "${a[0]}"`, step);
      }
      if (a[1] !== undefined && a[1] !== "kernel" && a[1] !== "user") {
        ctx.fail(node, `"no-file" requestor is kernel or user, not "${a[1]}"`, step);
      }
      break;
    case "duplicate":
      if (a.length < 1 || a.length > 2) ctx.fail(node, `"duplicate" takes LABEL [PROCESS]`, step);
      break;
    default:
      want(0, "no arguments");
  }
}
