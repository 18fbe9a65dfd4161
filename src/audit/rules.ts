/**
 * The audit rules file (YAML, docs/audit.md): which findings fail, warn or are ignored, per
 * image, with thresholds. Validated against a JSON Schema (ajv); every error names the file,
 * line and key.
 *
 *   version: 1
 *   rules:                          # defaults for every process
 *     eject-under-lock: fail
 *     hold-time: warn
 *   thresholds:
 *     max-hold-seconds: 60          # hold-time fires above this (seconds)
 *     max-denied: 0                 # denied fires when a process has more denials than this
 *   images:                         # overrides, first match wins; case-insensitive, * wildcard
 *     - match: "eject.exe"
 *       rules: { denied: ignore }
 */
import { Ajv, type ErrorObject } from "ajv";
import { LineCounter, isMap, isSeq, parseDocument } from "yaml";

export const RULE_IDS = [
  "secure-lock-not-released",
  "simple-lock-leaked",
  "foreign-secure-unlock",
  "foreign-simple-unlock",
  "eject-under-lock",
  "passthrough-bypass",
  "exclusive-access-conflict",
  "hold-time",
  "denied",
  "drops",
] as const;
export type RuleId = (typeof RULE_IDS)[number];
export type Severity = "fail" | "warn" | "ignore";

export interface Thresholds {
  /** Longest lock hold allowed, seconds. */
  maxHoldSeconds: number;
  /** Denied requests allowed per process. */
  maxDenied: number;
}

export interface ImageRules {
  match: string;
  rules: Partial<Record<RuleId, Severity>>;
  thresholds: Partial<Thresholds>;
}

export interface RulesConfig {
  file?: string;
  rules: Record<RuleId, Severity>;
  thresholds: Thresholds;
  images: ImageRules[];
}

/** What a rule says when no rules file changes it. */
export const DEFAULT_SEVERITY: Record<RuleId, Severity> = {
  "secure-lock-not-released": "fail",
  "simple-lock-leaked": "fail",
  "foreign-secure-unlock": "fail",
  "foreign-simple-unlock": "fail",
  "eject-under-lock": "fail",
  "passthrough-bypass": "fail",
  "exclusive-access-conflict": "warn",
  "hold-time": "warn",
  denied: "warn",
  drops: "warn",
};
export const DEFAULT_THRESHOLDS: Thresholds = { maxHoldSeconds: 300, maxDenied: 0 };

export function defaultRules(): RulesConfig {
  return { rules: { ...DEFAULT_SEVERITY }, thresholds: { ...DEFAULT_THRESHOLDS }, images: [] };
}

const severity = { enum: ["fail", "warn", "ignore"] };
const ruleMap = {
  type: "object",
  additionalProperties: false,
  properties: Object.fromEntries(RULE_IDS.map((r) => [r, severity])),
};
const thresholds = {
  type: "object",
  additionalProperties: false,
  properties: {
    "max-hold-seconds": { type: "number", minimum: 0 },
    "max-denied": { type: "integer", minimum: 0 },
  },
};
export const RULES_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["version"],
  properties: {
    version: { const: 1 },
    rules: ruleMap,
    thresholds,
    images: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["match"],
        properties: { match: { type: "string", minLength: 1 }, rules: ruleMap, thresholds },
      },
    },
  },
} as const;

export class RulesError extends Error {
  override name = "RulesError";
}

/** Compiled on first use: every CLI start imports this module, few parse a rules file. */
let validator: ReturnType<Ajv["compile"]> | undefined;
function validate(data: unknown): boolean {
  validator ??= new Ajv({ allErrors: true, strict: true }).compile(RULES_SCHEMA);
  return validator(data) as boolean;
}

function explain(e: ErrorObject): { path: (string | number)[]; text: string } {
  const path = e.instancePath
    .split("/")
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, "/").replace(/~0/g, "~")));
  switch (e.keyword) {
    case "additionalProperties": {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const where = path.length ? `"${path.join(".")}"` : "the top level";
      const known = path.at(-1) === "rules" ? ` (rules: ${RULE_IDS.join(", ")})` : "";
      return { path: [...path, key], text: `unknown key "${key}" in ${where}${known}` };
    }
    case "required":
      return { path, text: `missing key "${(e.params as { missingProperty: string }).missingProperty}"` };
    case "enum":
      return { path, text: `"${path.join(".")}" must be one of fail, warn, ignore` };
    case "const":
      return { path, text: `"${path.join(".")}" must be 1 (the only rules file version)` };
    default:
      return { path, text: `"${path.join(".") || "(document)"}" ${e.message ?? "is invalid"}` };
  }
}

/** Parse and validate a rules file's text. Throws RulesError "file:line: key ...: why". */
export function parseRules(text: string, file: string): RulesConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = lc.linePos(e.pos[0]);
    throw new RulesError(`${file}:${pos.line}: not valid YAML (${e.message.split("\n")[0]})`);
  }
  const data: unknown = doc.toJS();
  if (!validate(data)) {
    const msgs = (validator?.errors ?? []).map((err) => {
      const { path, text } = explain(err);
      // The deepest node of the path that exists: the key itself when it is there.
      let line = 1;
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        const parent = n > 0 ? doc.getIn(path.slice(0, n - 1), true) : undefined;
        let at = node?.range?.[0];
        // Prefer the key's position over the value's.
        if (isMap(parent)) {
          const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === path[n - 1]);
          const k = pair?.key as { range?: [number, number, number] } | undefined;
          if (k?.range) at = k.range[0];
        } else if (isSeq(parent) && node?.range) at = node.range[0];
        if (at !== undefined) {
          line = lc.linePos(at).line;
          break;
        }
      }
      return `${file}:${line}: ${text}`;
    });
    throw new RulesError([...new Set(msgs)].join("\n"));
  }
  const o = data as {
    rules?: Partial<Record<RuleId, Severity>>;
    thresholds?: { "max-hold-seconds"?: number; "max-denied"?: number };
    images?: {
      match: string;
      rules?: Partial<Record<RuleId, Severity>>;
      thresholds?: { "max-hold-seconds"?: number; "max-denied"?: number };
    }[];
  };
  const th = (t?: { "max-hold-seconds"?: number; "max-denied"?: number }): Partial<Thresholds> => ({
    ...(t?.["max-hold-seconds"] !== undefined ? { maxHoldSeconds: t["max-hold-seconds"] } : {}),
    ...(t?.["max-denied"] !== undefined ? { maxDenied: t["max-denied"] } : {}),
  });
  return {
    file,
    rules: { ...DEFAULT_SEVERITY, ...o.rules },
    thresholds: { ...DEFAULT_THRESHOLDS, ...th(o.thresholds) },
    images: (o.images ?? []).map((i) => ({ match: i.match, rules: i.rules ?? {}, thresholds: th(i.thresholds) })),
  };
}

function globMatch(pattern: string, image: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
  return re.test(image);
}

/** Severity and thresholds for a process image (first matching `images` entry overrides). */
export function rulesFor(cfg: RulesConfig, image: string): { rules: Record<RuleId, Severity>; thresholds: Thresholds } {
  const m = cfg.images.find((i) => globMatch(i.match, image));
  return {
    rules: { ...cfg.rules, ...m?.rules },
    thresholds: { ...cfg.thresholds, ...m?.thresholds },
  };
}
