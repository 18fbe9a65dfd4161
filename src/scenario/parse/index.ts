/**
 * parseScenario: scenario text to a Scenario (format.ts). Pure (no client): every error is a
 * ScenarioError naming the file, line and column and, inside `steps`, the step number and what
 * it does. The YAML document and its header keys (name, description, drives, policy) are read
 * here; each section has its own parser (processes.ts, steps.ts, expect.ts).
 */
import { isMap, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { MAX_SCENARIO_BYTES, type Scenario, ScenarioError, type Vocabulary } from "../format.ts";
import { keyName, ParseContext } from "./context.ts";
import { parseProcesses } from "./processes.ts";
import { parseSteps } from "./steps.ts";

const TOP_KEYS = new Set(["name", "description", "drives", "policy", "processes", "steps"]);
/** Drives a scenario may ask the simulator for. */
const MAX_DRIVES = 16;

export function parseScenario(text: string, file: string, vocab: Vocabulary = {}): Scenario {
  // Bound the size first: the document tree of a large text costs far more memory than the text.
  if (text.length > MAX_SCENARIO_BYTES || Buffer.byteLength(text) > MAX_SCENARIO_BYTES) {
    throw new ScenarioError(file, 1, 1, undefined, tooLarge(Buffer.byteLength(text)), SIZE_HINT);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const ctx = new ParseContext(file, lines);

  const yamlError = doc.errors[0];
  if (yamlError) {
    const p = lines.linePos(yamlError.pos[0]);
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
  if (!isMap(root)) return ctx.fail(root, "the file must be a mapping with `processes` and `steps`");
  const top = root as YAMLMap<Node, Node>;
  for (const pair of top.items) {
    const key = keyName(pair);
    if (!TOP_KEYS.has(key)) ctx.fail(pair.key as Node, `unknown top-level key "${key}" (expected one of: ${[...TOP_KEYS].join(", ")})`);
  }
  const scenario: Scenario = { name: "", file, drives: 1, processes: new Map(), steps: [] };
  parseHeader(ctx, top, scenario);
  scenario.processes = parseProcesses(ctx, top, top.get("processes", true) as Node | undefined);
  scenario.steps = parseSteps(ctx, top, top.get("steps", true) as Node | undefined, scenario, vocab);
  return scenario;
}

export const SIZE_HINT = "split the scenario into several files, or use `repeat` for runs of the same step";

export function tooLarge(bytes: number | undefined): string {
  const size = bytes === undefined ? "larger than" : `${bytes} bytes, more than`;
  return `the scenario is ${size} the ${MAX_SCENARIO_BYTES} bytes (256 KiB) a scenario may have`;
}

/** name (default: the file name without .yaml), description, drives (1..16), policy. */
function parseHeader(ctx: ParseContext, top: YAMLMap<Node, Node>, scenario: Scenario): void {
  const nameNode = top.get("name", true) as Node | undefined;
  scenario.name = nameNode ? ctx.scalarString(nameNode, "name") : ctx.file.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/, "");
  const descNode = top.get("description", true) as Node | undefined;
  if (descNode) scenario.description = ctx.scalarString(descNode, "description");
  const drivesNode = top.get("drives", true) as Node | undefined;
  if (drivesNode) scenario.drives = ctx.scalarInt(drivesNode, "drives", 1, MAX_DRIVES);
  const policyNode = top.get("policy", true) as Node | undefined;
  if (policyNode) {
    const p = ctx.scalarString(policyNode, "policy");
    if (p !== "observe" && p !== "enforce") ctx.fail(policyNode, `policy must be observe or enforce, not "${p}"`);
    scenario.policy = p as "observe" | "enforce";
  }
}
