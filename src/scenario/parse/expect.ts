/**
 * A step's `expect` mapping: the NTSTATUS the request completes with, the drive's ledger after
 * the step, and what the step's trace records carry. Names that depend on the protocol
 * (NTSTATUS, Reason, Decision) are checked against the caller's Vocabulary.
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import { COMMAND_KINDS, type Expectation, type ScenarioProcess, type ScenarioStep, type Vocabulary } from "../format.ts";
import { keyName, type ParseContext } from "./context.ts";

const EXPECT_KEYS = new Set(["status", "secure", "simple", "owner", "owners", "reason", "decision", "released", "commands"]);
const MAX_COUNT = 0xffff_ffff;

export function parseExpect(
  ctx: ParseContext,
  node: Node,
  step: ScenarioStep,
  processes: ReadonlyMap<string, ScenarioProcess>,
  vocab: Vocabulary,
): Expectation {
  if (!isMap(node)) return ctx.fail(node, "`expect` must be a mapping like { status: STATUS_SUCCESS, secure: 1 }", step);
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
            : ctx.scalarString(v, "expect.status", step);
        e.status = checkStatus(ctx, raw, v, step, vocab);
        break;
      }
      case "secure":
      case "simple":
      case "released":
        e[k] = ctx.scalarInt(v, `expect.${k}`, 0, MAX_COUNT, step);
        break;
      case "owner": {
        const o = isScalar(v) && v.value === null ? "none" : ctx.scalarString(v, "expect.owner", step);
        if (o !== "none" && !processes.has(o)) ctx.fail(v, `expect.owner names unknown process "${o}" (or use none)`, step);
        e.owner = o === "none" ? null : o;
        break;
      }
      case "owners": {
        if (!isMap(v)) ctx.fail(v, "expect.owners must map process names to secure lock counts", step);
        const owners: Record<string, number> = {};
        for (const p of (v as YAMLMap<Node, Node>).items) {
          const name = keyName(p);
          if (!processes.has(name)) ctx.fail(p.key as Node, `expect.owners names unknown process "${name}"`, step);
          owners[name] = ctx.scalarInt(p.value as Node, `expect.owners.${name}`, 0, MAX_COUNT, step);
        }
        e.owners = owners;
        break;
      }
      case "reason":
        e.reason = checkEnumName(ctx, ctx.scalarString(v, "expect.reason", step), "REASON_", vocab.reasons, v, step, "reason");
        break;
      case "decision":
        e.decision = checkEnumName(ctx, ctx.scalarString(v, "expect.decision", step), "DECISION_", vocab.decisions, v, step, "decision");
        break;
      case "commands": {
        if (!isSeq(v)) return ctx.fail(v, "expect.commands must be a list of command kinds like [allow] ([] for none)", step);
        const kinds = ((v as { items: unknown[] }).items as Node[]).map((item) => {
          const kind = ctx.scalarString(item, "expect.commands", step);
          if (!(kind in COMMAND_KINDS) || kind === "any") {
            ctx.fail(
              item,
              `unknown command kind "${kind}" (expected one of: ${Object.keys(COMMAND_KINDS)
                .filter((k) => k !== "any")
                .join(", ")})`,
              step,
            );
          }
          return kind;
        });
        e.commands = kinds;
        break;
      }
      default:
        ctx.fail(pair.key as Node, `unknown expectation field "${k}" (expected one of: ${[...EXPECT_KEYS].join(", ")})`, step);
    }
  }
  return e;
}

/** An NTSTATUS name known to the vocabulary, or 0xHEX normalized to 0x + 8 upper-case digits. */
export function checkStatus(ctx: ParseContext, s: string, node: Node, step: ScenarioStep, vocab: Vocabulary): string {
  if (/^0x[0-9a-f]{1,8}$/i.test(s)) return `0x${s.slice(2).toUpperCase().padStart(8, "0")}`;
  if (!/^STATUS_[A-Z0-9_]+$/.test(s)) ctx.fail(node, `"${s}" is not an NTSTATUS name (STATUS_...) or 0xHEX value`, step);
  if (vocab.statuses && !vocab.statuses.has(s))
    ctx.fail(
      node,
      `unknown NTSTATUS name "${s}"`,
      step,
      "run `cdfilter decode --statuses` for the known names, or give the value as 0xHEX",
    );
  return s;
}

function checkEnumName(
  ctx: ParseContext,
  s: string,
  prefix: string,
  known: ReadonlySet<string> | undefined,
  node: Node,
  step: ScenarioStep,
  what: string,
): string {
  const short = s.startsWith(prefix) ? s.slice(prefix.length) : s;
  if (known && !known.has(short)) ctx.fail(node, `unknown ${what} "${s}" (expected one of: ${[...known].join(", ")})`, step);
  return short;
}
