/**
 * The page's filter: the shared Procmon-style rules of src/filter/ (docs/filters.md) applied to
 * the column store. A record is shown when, for every field that has include rules, it matches
 * one of them, and it matches no exclude rule; each rule counts the records it matches.
 *
 * src/filter/ tests TraceRecord-shaped objects; {@link RowRecord} is one such object whose
 * fields read the store's current row on demand, so a pass over a million records allocates
 * nothing but the 64-bit values a rule actually reads.
 */
import { FILTER_FIELDS, type FilterField, type FilterRecord, type FilterRule, parseRule } from "../../filter/index.ts";
import type { Store } from "./store.ts";

export { FILTER_FIELDS, type FilterField };

export interface Clause {
  id: number;
  field: FilterField;
  exclude: boolean;
  value: string;
  /** records (of all stored) this clause matches */
  matches: number;
}

/** A FilterRecord view of one row of the store (see the module comment). */
class RowRecord implements FilterRecord {
  i = 0;
  constructor(private readonly s: Store) {}
  get seq() {
    return this.s.exactU64("seq", this.i);
  }
  get kind() {
    return this.s.kind[this.i]!;
  }
  get timestamp() {
    return this.s.exactU64("timestamp", this.i);
  }
  get driveId() {
    return this.s.drive[this.i]!;
  }
  get handleId() {
    return this.s.exactU64("handleId", this.i);
  }
  get pid() {
    return this.s.pid[this.i]!;
  }
  get openerPid() {
    return this.s.openerPid[this.i]!;
  }
  get openerImage() {
    return this.s.images[this.s.image[this.i]!] ?? "";
  }
  get major() {
    return this.s.major[this.i]!;
  }
  get ioctlCode() {
    return this.s.ioctl[this.i]!;
  }
  get normalizedCode() {
    return this.s.norm[this.i]!;
  }
  get status() {
    return this.s.status[this.i]!;
  }
  get decision() {
    return this.s.decision[this.i]!;
  }
  get reason() {
    return this.s.reason[this.i]!;
  }
}

/** Clauses over the shared rules: `test` decides one record and counts clause matches. */
export class FilterSet {
  readonly clauses: Clause[] = [];
  private rules: FilterRule[] = [];
  private bits: number[] = [];
  private includeMask = 0;
  private view: RowRecord | undefined;
  private viewStore: Store | undefined;
  /** Origin of relative times: the first stored record's timestamp. */
  private base: bigint | undefined;

  /** Add a rule; throws the shared module's FilterSyntaxError (message + hint) for a bad value. */
  add(field: FilterField, exclude: boolean, value: string, id: number): void {
    const rule = parseRule(exclude ? "exclude" : "include", `${field}=${value}`);
    this.clauses.push({ id, field, exclude, value, matches: 0 });
    this.rules.push(rule);
    this.bits.push(1 << FILTER_FIELDS.indexOf(field));
    this.refresh();
  }

  remove(id: number): void {
    const i = this.clauses.findIndex((c) => c.id === id);
    if (i < 0) return;
    this.clauses.splice(i, 1);
    this.rules.splice(i, 1);
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

  /** Decide record i (and add to the clauses' match counts). Relative times count from record 0. */
  test(s: Store, i: number): boolean {
    const n = this.clauses.length;
    if (n === 0) return true;
    if (this.viewStore !== s) {
      this.viewStore = s;
      this.view = new RowRecord(s);
      this.base = undefined;
    }
    const r = this.view!;
    r.i = i;
    if (this.base === undefined && s.length) this.base = s.exactU64("timestamp", 0);
    const base = this.base ?? 0n;
    let excluded = false;
    let mask = 0;
    for (let k = 0; k < n; k++) {
      if (this.rules[k]!.test(r, base)) {
        this.clauses[k]!.matches++;
        if (this.clauses[k]!.exclude) excluded = true;
        else mask |= this.bits[k]!;
      }
    }
    return !excluded && mask === this.includeMask;
  }
}
