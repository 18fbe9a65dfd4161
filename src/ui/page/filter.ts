/**
 * The page's filter: Procmon-style clauses (field, include/exclude, value) over the column store.
 * A record is shown when, for every field that has include clauses, it matches one of them, and
 * it matches no exclude clause. Each clause counts the records it matches.
 *
 * Values: drive, pid (sender or handle opener), handle: integers; image: case-insensitive
 * substring; major: name (READ, DEVICE_CONTROL) or number; ioctl: catalog name or code, as sent
 * or normalized; status: name, hex code, or "failed" (error severity); decision, reason, kind:
 * names without their prefix; seq: "A..B"; time: "A..B" seconds from the first record.
 */
import { parseIoctl } from "../../client/catalog.ts";
import { NTSTATUS } from "../../client/ntstatus.ts";
import { DECISION_NAMES, IRP_MJ_NAMES, KIND_NAMES, REASON_NAMES } from "./format.ts";
import type { Store } from "./store.ts";

export const FILTER_FIELDS = [
  "image",
  "pid",
  "drive",
  "handle",
  "major",
  "ioctl",
  "status",
  "decision",
  "reason",
  "kind",
  "seq",
  "time",
] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

export interface Clause {
  id: number;
  field: FilterField;
  exclude: boolean;
  value: string;
  /** records (of all stored) this clause matches */
  matches: number;
}

type Pred = (s: Store, i: number) => boolean;

function parseInt32(v: string, what: string): number {
  const t = v.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : Number(t);
  if (t === "" || !Number.isInteger(n) || n < 0) throw new Error(`${what}: expected a non-negative integer, got "${v}"`);
  return n;
}

function parseRange(v: string, what: string): [number, number] {
  const m = /^\s*([0-9.]*)\s*\.\.\s*([0-9.]*)\s*$/.exec(v);
  if (!m) {
    const x = Number(v);
    if (v.trim() !== "" && Number.isFinite(x)) return [x, x];
    throw new Error(`${what}: expected A..B (either side may be left out), got "${v}"`);
  }
  const a = m[1] ? Number(m[1]) : Number.NEGATIVE_INFINITY;
  const b = m[2] ? Number(m[2]) : Number.POSITIVE_INFINITY;
  if (Number.isNaN(a) || Number.isNaN(b)) throw new Error(`${what}: not numbers: "${v}"`);
  return [a, b];
}

function enumIndex(names: readonly string[], prefix: string, v: string, what: string, e: Record<string, number>): number {
  const t = v
    .trim()
    .toUpperCase()
    .replace(new RegExp(`^${prefix}`), "");
  if (/^\d+$/.test(t)) return Number(t);
  const full = `${prefix}${t}`;
  if (names.includes(full)) return e[full]!;
  throw new Error(
    `${what}: unknown value "${v}" (e.g. ${names
      .slice(1, 4)
      .map((n) => n.replace(prefix, ""))
      .join(", ")})`,
  );
}

/** Compile a clause's value into a predicate; throws Error with a message for the user. */
export function compile(
  field: FilterField,
  value: string,
  enums: { kind: Record<string, number>; decision: Record<string, number>; reason: Record<string, number> },
  t0: () => number,
): Pred {
  switch (field) {
    case "image": {
      const needle = value.trim().toLowerCase();
      if (!needle) throw new Error("image: give part of a process image name");
      let cacheLen = 0;
      let hits = new Uint8Array(0);
      return (s, i) => {
        if (s.images.length !== cacheLen) {
          cacheLen = s.images.length;
          hits = Uint8Array.from(s.images, (n) => (n.toLowerCase().includes(needle) ? 1 : 0));
        }
        return hits[s.image[i]!] === 1;
      };
    }
    case "pid": {
      const p = parseInt32(value, "pid");
      return (s, i) => s.pid[i] === p || s.openerPid[i] === p;
    }
    case "drive": {
      const d = parseInt32(value, "drive");
      return (s, i) => s.drive[i] === d;
    }
    case "handle": {
      const h = parseInt32(value.replace(/^h/i, ""), "handle");
      return (s, i) => s.handle[i] === h;
    }
    case "major": {
      const t = value
        .trim()
        .toUpperCase()
        .replace(/^IRP_MJ_/, "");
      const m = /^(0X)?[0-9A-F]+$/.test(t) && !IRP_MJ_NAMES.includes(t) ? parseInt32(t.toLowerCase(), "major") : IRP_MJ_NAMES.indexOf(t);
      if (m < 0) throw new Error(`major: unknown "${value}" (READ, DEVICE_CONTROL, CREATE, CLEANUP, CLOSE, ... or a number)`);
      return (s, i) => s.major[i] === m;
    }
    case "ioctl": {
      let c: number;
      try {
        c = parseIoctl(value);
      } catch (e) {
        throw new Error(`ioctl: ${(e as Error).message}`);
      }
      // As sent, or after NormalizeIoctl: IOCTL_STORAGE_EJECT_MEDIA also finds the CDROM alias,
      // the alias finds only requests sent with it.
      return (s, i) => (s.major[i] === 14 || s.major[i] === 13) && (s.ioctl[i] === c || s.norm[i] === c);
    }
    case "status": {
      const t = value.trim();
      if (/^failed$/i.test(t)) return (s, i) => s.status[i]! >>> 30 === 3;
      const named =
        (NTSTATUS as Record<string, number>)[t.toUpperCase()] ?? (NTSTATUS as Record<string, number>)[`STATUS_${t.toUpperCase()}`];
      const code = named !== undefined ? named >>> 0 : parseInt32(t, "status (a name such as STATUS_DEVICE_BUSY, a code, or failed)") >>> 0;
      return (s, i) => s.status[i] === code;
    }
    case "decision": {
      const d = enumIndex(DECISION_NAMES, "DECISION_", value, "decision", enums.decision);
      return (s, i) => s.decision[i] === d;
    }
    case "reason": {
      const r = enumIndex(REASON_NAMES, "REASON_", value, "reason", enums.reason);
      return (s, i) => s.reason[i] === r;
    }
    case "kind": {
      const k = enumIndex(KIND_NAMES, "RECORD_KIND_", value, "kind", enums.kind);
      return (s, i) => s.kind[i] === k;
    }
    case "seq": {
      const [a, b] = parseRange(value, "seq");
      return (s, i) => s.seq[i]! >= a && s.seq[i]! <= b;
    }
    case "time": {
      const [a, b] = parseRange(value, "time");
      return (s, i) => {
        const x = (s.ts[i]! - t0()) / 1e7;
        return x >= a && x <= b;
      };
    }
  }
}

/** Clauses compiled together: `test` decides one record and counts clause matches. */
export class FilterSet {
  readonly clauses: Clause[] = [];
  private preds: Pred[] = [];
  private bits: number[] = [];
  private includeMask = 0;

  constructor(private readonly enums: Parameters<typeof compile>[2]) {}

  add(field: FilterField, exclude: boolean, value: string, id: number, t0: () => number): void {
    const p = compile(field, value, this.enums, t0);
    this.clauses.push({ id, field, exclude, value, matches: 0 });
    this.preds.push(p);
    this.bits.push(1 << FILTER_FIELDS.indexOf(field));
    this.refresh();
  }

  remove(id: number): void {
    const i = this.clauses.findIndex((c) => c.id === id);
    if (i < 0) return;
    this.clauses.splice(i, 1);
    this.preds.splice(i, 1);
    this.bits.splice(i, 1);
    this.refresh();
  }

  private refresh(): void {
    this.includeMask = 0;
    this.clauses.forEach((c, k) => {
      if (!c.exclude) this.includeMask |= this.bits[k]!;
    });
  }

  get empty(): boolean {
    return this.clauses.length === 0;
  }

  resetCounts(): void {
    for (const c of this.clauses) c.matches = 0;
  }

  /** Decide record i (and add to the clauses' match counts). */
  test(s: Store, i: number): boolean {
    const n = this.clauses.length;
    if (n === 0) return true;
    let excluded = false;
    let mask = 0;
    for (let k = 0; k < n; k++) {
      const c = this.clauses[k]!;
      if (this.preds[k]!(s, i)) {
        c.matches++;
        if (c.exclude) excluded = true;
        else mask |= this.bits[k]!;
      }
    }
    return !excluded && mask === this.includeMask;
  }
}
