/**
 * Trace record filters with Procmon's semantics, shared by `trace`, `export`, `audit` and the
 * web page (pure TypeScript: no Node API, so a browser bundle can import it).
 *
 * A filter is a list of rules, each `include` or `exclude` of one field's value(s):
 *   - a record matching any `exclude` rule is hidden (excludes win);
 *   - for every field that has `include` rules, the record must match at least one of them
 *     (includes of the same field are OR'ed);
 *   - fields are AND'ed; a filter with no rules shows everything.
 * Drop notices are never filtered (a gap is always shown).
 *
 * Text form of a rule: `FIELD=VALUE` (`pid=100`, `image=explorer.exe`, `seq=100..200`), the value
 * optionally a comma-separated list of alternatives (not for `image`: file names may contain
 * commas). Fields and values: docs/filters.md. Parse errors throw FilterSyntaxError (message +
 * hint); the CLI turns it into a usage error (exit 2).
 *
 * API: parseRule / parseRules (text to FilterRule), compileFilter (rules to RecordFilter),
 * RecordFilter.matches(record), FilterRule.test(record) (the rule's condition alone, e.g. to count
 * what each rule matches), formatRule (canonical text).
 */
import { parseIoctl } from "../client/catalog.ts";
import { Decision, Reason, RecordKind, type TraceRecord } from "../client/gen/cdfilter.ts";
import { majorFromText } from "../client/irp.ts";
import { NTSTATUS, ntSuccess } from "../client/ntstatus.ts";

/** The fields a rule can test. */
export const FILTER_FIELDS = [
  "drive",
  "pid",
  "image",
  "major",
  "ioctl",
  "status",
  "decision",
  "reason",
  "kind",
  "handle",
  "time",
  "seq",
] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];
export type FilterAction = "include" | "exclude";

/** The record fields filters read (a TraceRecord, or anything shaped like one). */
export type FilterRecord = Pick<
  TraceRecord,
  | "seq"
  | "kind"
  | "timestamp"
  | "driveId"
  | "handleId"
  | "pid"
  | "openerPid"
  | "openerImage"
  | "major"
  | "ioctlCode"
  | "normalizedCode"
  | "status"
  | "decision"
  | "reason"
>;

/** One parsed rule. */
export interface FilterRule {
  readonly action: FilterAction;
  readonly field: FilterField;
  /** The value as given ("100,200", "explorer.exe", "1s..2.5s"). */
  readonly value: string;
  /**
   * The rule's condition alone (true when the record has the value), whatever the action.
   * `time` rules with units read `base` (see RecordFilter.timeBase).
   */
  test(r: FilterRecord, base?: bigint): boolean;
}

/** A bad rule text: what is wrong, and what would be right. */
export class FilterSyntaxError extends Error {
  override readonly name = "FilterSyntaxError";
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** Canonical text of a rule: "exclude image=explorer.exe". */
export function formatRule(r: Pick<FilterRule, "action" | "field" | "value">): string {
  return `${r.action} ${r.field}=${r.value}`;
}

const FIELD_HINT = `a rule is FIELD=VALUE with FIELD one of ${FILTER_FIELDS.join(", ")} (docs/filters.md)`;

/**
 * Parse "FIELD=VALUE" into a rule. Throws FilterSyntaxError naming the rule when the field is
 * unknown or the value is not one the field takes.
 */
export function parseRule(action: FilterAction, spec: string): FilterRule {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new FilterSyntaxError(`filter rule "${spec}" is not FIELD=VALUE`, FIELD_HINT);
  const field = spec.slice(0, eq).trim().toLowerCase();
  const value = spec.slice(eq + 1).trim();
  if (!(FILTER_FIELDS as readonly string[]).includes(field)) {
    throw new FilterSyntaxError(`unknown filter field "${spec.slice(0, eq).trim()}" in "${spec}"`, FIELD_HINT);
  }
  if (value === "") throw new FilterSyntaxError(`filter rule "${spec}" has no value`, FIELD_HINT);
  const f = field as FilterField;
  const bad = (what: string, hint: string) => new FilterSyntaxError(`${action} ${f}=${value}: ${what}`, hint);
  const test = FIELD_PARSERS[f](value, bad);
  return { action, field: f, value, test };
}

/** Rules from repeated --include / --exclude texts, in that order. */
export function parseRules(o: { include?: readonly string[]; exclude?: readonly string[] }): FilterRule[] {
  return [...(o.include ?? []).map((s) => parseRule("include", s)), ...(o.exclude ?? []).map((s) => parseRule("exclude", s))];
}

/** A compiled filter: Procmon's include/exclude combination over a set of rules. */
export interface RecordFilter {
  readonly rules: readonly FilterRule[];
  /** No rules: every record matches. */
  readonly empty: boolean;
  /**
   * Origin of `time` values with units (100 ns ticks): set by compileFilter's option, else by the
   * first record `matches` sees (the trace's first record, as the CLI's "+1.234567s" column).
   */
  timeBase: bigint | undefined;
  matches(r: FilterRecord): boolean;
}

/** Combine rules (see the module comment). `timeBase`: origin of relative `time` values. */
export function compileFilter(rules: readonly FilterRule[], opts: { timeBase?: bigint } = {}): RecordFilter {
  const excludes = rules.filter((r) => r.action === "exclude");
  const byField = new Map<FilterField, FilterRule[]>();
  for (const r of rules) {
    if (r.action !== "include") continue;
    const list = byField.get(r.field) ?? [];
    list.push(r);
    byField.set(r.field, list);
  }
  const includeGroups = [...byField.values()];
  const filter: RecordFilter = {
    rules,
    empty: rules.length === 0,
    timeBase: opts.timeBase,
    matches(rec: FilterRecord): boolean {
      if (filter.timeBase === undefined) filter.timeBase = rec.timestamp;
      const base = filter.timeBase;
      for (const x of excludes) if (x.test(rec, base)) return false;
      for (const group of includeGroups) {
        let any = false;
        for (const x of group) {
          if (x.test(rec, base)) {
            any = true;
            break;
          }
        }
        if (!any) return false;
      }
      return true;
    },
  };
  return filter;
}

// ---------------------------------------------------------------------------------------------
// Field parsers: value text to a predicate.

type Bad = (what: string, hint: string) => FilterSyntaxError;
type Test = (r: FilterRecord, base?: bigint) => boolean;

const list = (value: string): string[] => value.split(",").map((s) => s.trim());

function anyOf<T>(values: T[], pick: (r: FilterRecord) => T): Test {
  if (values.length === 1) {
    const v = values[0];
    return (r) => pick(r) === v;
  }
  const set = new Set(values);
  return (r) => set.has(pick(r));
}

function u32(s: string, bad: Bad, hint: string): number {
  if (!/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(s)) throw bad(`"${s}" is not an unsigned 32-bit integer`, hint);
  const v = Number(s);
  if (v > 0xffff_ffff) throw bad(`${s} is past 2^32-1`, hint);
  return v;
}

function u64(s: string, bad: Bad, hint: string): bigint {
  if (!/^(0x[0-9a-f]{1,16}|\d{1,20})$/i.test(s)) throw bad(`"${s}" is not an unsigned 64-bit integer`, hint);
  const v = BigInt(s);
  if (v > 0xffff_ffff_ffff_ffffn) throw bad(`${s} is past 2^64-1`, hint);
  return v;
}

/** Enum value from "DENY", "decision_deny" or a number. */
function enumOf(e: object, prefix: string, s: string, bad: Bad, what: string): number {
  const names = Object.keys(e).filter((k) => Number.isNaN(Number(k)));
  const hint = `a ${what} is one of ${names.map((n) => n.slice(prefix.length)).join(", ")} (or its number)`;
  if (/^\d{1,10}$/.test(s)) return u32(s, bad, hint);
  const up = s.toUpperCase();
  const key = up.startsWith(prefix) ? up : prefix + up;
  const v = (e as Record<string, unknown>)[key];
  if (typeof v !== "number") throw bad(`unknown ${what} "${s}"`, hint);
  return v;
}

interface Range<T> {
  lo: T | undefined;
  hi: T | undefined;
}

/** "A..B", "A..", "..B" or "A" (= A..A); both ends included. */
function range<T>(s: string, one: (x: string) => T, bad: Bad, hint: string): Range<T> {
  const dots = s.indexOf("..");
  if (dots < 0) {
    const v = one(s);
    return { lo: v, hi: v };
  }
  const a = s.slice(0, dots).trim();
  const b = s.slice(dots + 2).trim();
  if (a === "" && b === "") throw bad(`"${s}" is an empty range`, hint);
  return { lo: a === "" ? undefined : one(a), hi: b === "" ? undefined : one(b) };
}

const TIME_UNITS: Record<string, bigint> = { ns: 1n, us: 10n, µs: 10n, ms: 10_000n, s: 10_000_000n, min: 600_000_000n };

/**
 * A time: "123456789" = the driver's monotonic clock in 100 ns ticks (the JSON `timestamp`);
 * "1.5s", "250ms", "10us", "800ns", "2min" = that long after the trace's first record
 * (rounded down to 100 ns: "150ns" is 1 tick).
 */
function timeValue(s: string, bad: Bad, hint: string): { ticks: bigint; relative: boolean } {
  const m = /^(\d{1,15})(?:\.(\d{1,9}))?\s*(ns|us|µs|ms|s|min)?$/.exec(s);
  if (!m) throw bad(`"${s}" is not a time`, hint);
  const unit = m[3];
  if (unit === undefined) {
    if (m[2] !== undefined) throw bad(`"${s}": a time without a unit is a whole number of 100 ns ticks`, hint);
    return { ticks: BigInt(m[1]!), relative: false };
  }
  const frac = m[2] ?? "";
  // value * per-unit ticks, exactly: scale the fraction by 10^digits.
  const scale = 10n ** BigInt(frac.length);
  const units = BigInt(m[1]! + frac);
  const perUnit = TIME_UNITS[unit]!;
  const ns100 = unit === "ns" ? units / (100n * scale) : (units * perUnit) / scale;
  return { ticks: ns100, relative: true };
}

function inRange<T extends bigint | number>(v: T, r: Range<T>): boolean {
  return (r.lo === undefined || v >= r.lo) && (r.hi === undefined || v <= r.hi);
}

/** Glob with * and ?, case-insensitive (Windows file names), anchored. */
function globTest(pattern: string): (s: string) => boolean {
  const p = pattern.toLowerCase();
  if (!/[*?]/.test(p)) return (s) => s.toLowerCase() === p;
  const re = new RegExp(
    `^${p
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "s",
  );
  return (s) => re.test(s.toLowerCase());
}

const NTSTATUS_BY_NAME = NTSTATUS as Readonly<Record<string, number>>;

/** Records that carry a status: completions, and what the filter completed or did on its own. */
function hasStatus(r: FilterRecord): boolean {
  return r.kind === RecordKind.RECORD_KIND_COMPLETION || r.status !== 0;
}

const FIELD_PARSERS: Record<FilterField, (value: string, bad: Bad) => Test> = {
  drive(value, bad) {
    const hint = "drive=ID: the drive id as in `cdfilter drives` (1, 2, ...; d1 as in the trace line)";
    return anyOf(
      list(value).map((s) => u32(s.replace(/^d/i, ""), bad, hint)),
      (r) => r.driveId,
    );
  },
  pid(value, bad) {
    const hint = "pid=N: a process id (decimal); matches the sender and the handle's opener";
    const set = new Set(list(value).map((s) => u32(s, bad, hint)));
    return (r) => set.has(r.pid) || set.has(r.openerPid);
  },
  image(value, bad) {
    if (value.includes("\0")) throw bad("an image name has no NUL", "image=NAME, e.g. image=explorer.exe or image=*burn*");
    const t = globTest(value);
    return (r) => t(r.openerImage);
  },
  major(value, bad) {
    return anyOf(
      list(value).map((s) => {
        const m = majorFromText(s);
        if (m === undefined) {
          throw bad(`unknown IRP major function "${s}"`, "major=NAME: DEVICE_CONTROL, READ, CREATE, CLEANUP, CLOSE, ... or 0..27");
        }
        return m;
      }),
      (r) => r.major,
    );
  },
  ioctl(value, bad) {
    const codes = new Set(
      list(value).map((s) => {
        try {
          return parseIoctl(s);
        } catch (e) {
          throw bad((e as Error).message, "ioctl=NAME|CODE|ALIAS; `cdfilter decode NAME` checks a name");
        }
      }),
    );
    return (r) => codes.has(r.ioctlCode >>> 0) || codes.has(r.normalizedCode >>> 0);
  },
  status(value, bad) {
    const hint = "status=failed|success|NAME|CODE: e.g. status=failed, status=ACCESS_DENIED, status=0xC0000022";
    const tests = list(value).map((s): Test => {
      const low = s.toLowerCase();
      if (low === "failed") return (r) => hasStatus(r) && !ntSuccess(r.status);
      if (low === "success" || low === "succeeded") return (r) => hasStatus(r) && ntSuccess(r.status);
      let code: number | undefined;
      if (/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(s)) code = u32(s, bad, hint);
      else {
        const up = s.toUpperCase();
        code = NTSTATUS_BY_NAME[up.startsWith("STATUS_") ? up : `STATUS_${up}`];
        if (code === undefined) throw bad(`unknown NTSTATUS "${s}"`, hint);
      }
      const c = code;
      return (r) => hasStatus(r) && r.status >>> 0 === c;
    });
    return (r) => tests.some((t) => t(r));
  },
  decision(value, bad) {
    return anyOf(
      list(value).map((s) => enumOf(Decision, "DECISION_", s, bad, "decision")),
      (r) => r.decision,
    );
  },
  reason(value, bad) {
    return anyOf(
      list(value).map((s) => enumOf(Reason, "REASON_", s, bad, "reason")),
      (r) => r.reason,
    );
  },
  kind(value, bad) {
    return anyOf(
      list(value).map((s) => enumOf(RecordKind, "RECORD_KIND_", s, bad, "record kind")),
      (r) => r.kind,
    );
  },
  handle(value, bad) {
    const hint = "handle=ID: the handle id as in the trace (h3 or 3); 0 = requests without a file object";
    const set = new Set(list(value).map((s) => u64(s.replace(/^h/i, ""), bad, hint)));
    return (r) => set.has(r.handleId);
  },
  seq(value, bad) {
    const hint = "seq=N, seq=A..B, seq=A.. or seq=..B (inclusive)";
    const ranges = list(value).map((s) => range(s, (x) => u64(x, bad, hint), bad, hint));
    return (r) => ranges.some((g) => inRange(r.seq, g));
  },
  time(value, bad) {
    const hint = "time=A..B: 100 ns ticks of the driver clock (as `timestamp`), or with a unit (ns, us, ms, s, min) from the first record";
    const ranges = list(value).map((s) => range(s, (x) => timeValue(x, bad, hint), bad, hint));
    for (const g of ranges) {
      if (g.lo && g.hi && g.lo.relative !== g.hi.relative) throw bad("both ends of a time range take a unit, or neither", hint);
    }
    return (r, base) =>
      ranges.some((g) => {
        const rel = (g.lo ?? g.hi)?.relative === true;
        const t = rel ? r.timestamp - (base ?? r.timestamp) : r.timestamp;
        return (g.lo === undefined || t >= g.lo.ticks) && (g.hi === undefined || t <= g.hi.ticks);
      });
  },
};
