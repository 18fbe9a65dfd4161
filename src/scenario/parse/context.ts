/**
 * What every section parser shares: where a YAML node is (1-based line and column) and the
 * errors that name it, plus the scalar readers that fail with such an error.
 */
import { isScalar, type LineCounter, type Node, type Pair } from "yaml";
import { ScenarioError, type ScenarioStep } from "../format.ts";

export const FORMAT_HINT = 'see docs/cli.md, "Scenario format", or scenarios/demo.yaml';

/** A step (number and label) or its 1-based number before it has a label. */
export type StepRef = ScenarioStep | number | undefined;

export class ParseContext {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  /** 1-based line and column of a node (1:1 for a missing node). */
  pos(node: Node | null | undefined): { line: number; col: number } {
    const p = this.lines.linePos(node?.range?.[0] ?? 0);
    return { line: p.line || 1, col: p.col || 1 };
  }

  /** Throw a ScenarioError at `node`, naming the step when inside `steps`. */
  fail(node: Node | null | undefined, detail: string, step?: StepRef, hint = FORMAT_HINT): never {
    const p = this.pos(node);
    const stepNo = typeof step === "number" ? step : step?.index;
    throw new ScenarioError(this.file, p.line, p.col, stepNo, detail, hint, typeof step === "object" ? step.label : undefined);
  }

  /** A plain scalar as a string (numbers and booleans as written by YAML's String()). */
  scalarString(node: Node, what: string, step?: StepRef): string {
    if (!isScalar(node) || node.value === null || typeof node.value === "object") {
      return this.fail(node, `${what} must be a plain value`, step);
    }
    return String(node.value);
  }

  /** An integer scalar in [min, max]. */
  scalarInt(node: Node, what: string, min: number, max: number, step?: StepRef): number {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      return this.fail(node, `${what} must be an integer from ${min} to ${max}`, step);
    }
    return v;
  }
}

/** The key of a mapping pair as text. */
export function keyName(pair: Pair<unknown, unknown>): string {
  const k = pair.key;
  return isScalar(k) ? String(k.value) : String(k);
}
