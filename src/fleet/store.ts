/**
 * The PostgreSQL side of the fleet: schema migrations, code names, and writing one batch of
 * decoded messages in one transaction (COPY into a session-temporary staging table, then
 * `INSERT ... SELECT ... ON CONFLICT DO NOTHING` into the tables, so a redelivered message adds
 * nothing). Sources: PostgreSQL 15 documentation "COPY" (text format escapes), "INSERT" (ON
 * CONFLICT), "Advisory Locks"; node-postgres and pg-copy-streams.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { Decision, IOCTL_CATALOG, NTSTATUS, Reason, RecordKind, type TraceRecord } from "../client/index.ts";
import { IRP_MJ_NAMES } from "../cli/records.ts";
import type { DropNotice, Finding } from "./envelope.ts";
import { MIGRATIONS, MIGRATION_LOCK } from "./migrations.ts";
import { type FastRows, copyText, recordRowText } from "./rowtext.ts";

/** Apply the missing migrations; returns the versions applied now. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK.toString()]);
  try {
    await client.query(
      "CREATE TABLE IF NOT EXISTS cdfilter_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const have = new Set(
      (await client.query<{ version: number }>("SELECT version FROM cdfilter_schema_migrations")).rows.map((r) => r.version),
    );
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO cdfilter_schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw new Error(`schema migration ${m.version} (${m.name}) failed: ${(e as Error).message}`);
      }
      applied.push(m.version);
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK.toString()]).catch(() => undefined);
  }
  return applied;
}

function enumRows(domain: string, e: object, prefix: string): [string, number, string][] {
  return Object.entries(e)
    .filter(([k, v]) => typeof v === "number" && k.startsWith(prefix))
    .map(([k, v]) => [domain, v as number, k.slice(prefix.length)]);
}

/** The names the views show, from this build's tables (ntstatus.ts, catalog.ts, trace.proto enums, wdm.h majors). */
export function nameRows(): [string, number, string][] {
  const rows: [string, number, string][] = [
    ...enumRows("kind", RecordKind, "RECORD_KIND_"),
    ...enumRows("decision", Decision, "DECISION_"),
    ...enumRows("reason", Reason, "REASON_"),
    ...IRP_MJ_NAMES.map((n, i): [string, number, string] => ["major", i, n]),
    ...Object.entries(NTSTATUS).map(([n, v]): [string, number, string] => ["status", v >>> 0, n]),
    ...IOCTL_CATALOG.map((c): [string, number, string] => ["ioctl", c.code >>> 0, c.name]),
  ];
  const seen = new Set<string>();
  return rows.filter(([d, c]) => {
    const k = `${d}:${c}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export async function refreshNames(client: pg.ClientBase): Promise<void> {
  const rows = nameRows();
  await client.query(
    `INSERT INTO cdfilter_names (domain, code, name)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
     ON CONFLICT (domain, code) DO UPDATE SET name = EXCLUDED.name WHERE cdfilter_names.name <> EXCLUDED.name`,
    [rows.map((r) => r[0]), rows.map((r) => String(r[1])), rows.map((r) => r[2])],
  );
}

/** Records of one message with what the row needs besides the record. */
export interface RecordGroup {
  host: string;
  instance: string;
  /** Driver anchors (FILETIME, monotonic), when the shipper knew them. */
  anchors?: { wall: bigint; mono: bigint };
  /** Row time when there are no anchors: the message's JetStream timestamp. */
  fallbackTime: Date;
  /** Decoded records (the general path) ... */
  records: TraceRecord[];
  /** ... or, from the fast path (rowtext.ts), each record's COPY columns and timestamp. */
  fast?: FastRows;
}

/** Records of a group. */
export function groupSize(g: RecordGroup): number {
  return g.fast ? g.fast.rows.length : g.records.length;
}

export interface DropRow extends DropNotice {
  host: string;
  instance: string;
  time: Date;
}

export interface AuditRow {
  host: string;
  instance: string;
  reportId: string;
  name: string | null;
  passed: number | null;
  failed: number | null;
  time: Date;
  docText: string;
  findings: Finding[];
}

export interface RejectRow {
  subject: string;
  msgId: string | undefined;
  error: string;
  payload: Uint8Array;
}

export interface Batch {
  groups: RecordGroup[];
  /** The groups as COPY text, when prepared ahead (prepareCopy) while another batch was written. */
  copy?: string[];
  drops: DropRow[];
  audits: AuditRow[];
  rejects: RejectRow[];
}

export interface WriteResult {
  /** Trace rows offered / newly stored (the difference were already there). */
  offered: number;
  inserted: number;
  drops: number;
  audits: number;
}

/** Same columns as cdfilter_trace, no keys: where a batch with already stored rows is merged from. */
const STAGING = "CREATE TEMP TABLE IF NOT EXISTS cdfilter_staging (LIKE cdfilter_trace) ON COMMIT DELETE ROWS";

const COLUMNS =
  "host, instance, seq, kind, request_id, ts, drive_id, handle_id, pid, tid, requestor_pid, opener_pid, opener_image, major, minor, ioctl_code, normalized_code, input_length, output_length, input_head, truncated, status, information, duration, decision, reason, secure_total, simple_total, count_released, time";

/** FILETIME of 1970-01-01 (100 ns units since 1601-01-01). */
const UNIX_EPOCH_FILETIME = 116_444_736_000_000_000n;

const MERGE = `INSERT INTO cdfilter_trace (${COLUMNS})
SELECT ${COLUMNS} FROM cdfilter_staging ORDER BY host, instance, seq
ON CONFLICT DO NOTHING`;

/** Microseconds since 1970 as a timestamptz literal, "2026-12-03 08:00:00.123456+00" (the second's text cached). */
class TimeText {
  private sec = Number.NaN;
  private prefix = "";
  format(us: bigint): string {
    const sec = Number(us / 1_000_000n);
    let frac = Number(us % 1_000_000n);
    let s = sec;
    if (frac < 0) {
      frac += 1_000_000;
      s -= 1;
    }
    return this.text(s, frac);
  }

  /** The same for a number of microseconds (exact below 2^53). */
  formatNumber(us: number): string {
    const s = Math.floor(us / 1_000_000);
    return this.text(s, us - s * 1_000_000);
  }

  private text(s: number, frac: number): string {
    if (s !== this.sec) {
      this.sec = s;
      this.prefix = new Date(s * 1000).toISOString().slice(0, 19).replace("T", " ");
    }
    return `${this.prefix}.${String(frac).padStart(6, "0")}+00`;
  }
}

function* copyRows(groups: RecordGroup[]): Generator<string> {
  let chunk = "";
  const times = new TimeText();
  for (const g of groups) {
    // Row time: the driver clock through its anchors, else when JetStream stored the message.
    const base = g.anchors ? g.anchors.wall - UNIX_EPOCH_FILETIME - g.anchors.mono : undefined;
    const baseUs = base !== undefined && base >= 0n ? Number(base / 10n) : undefined;
    const baseRem = base !== undefined && base >= 0n ? Number(base % 10n) : 0;
    const fallback = `\t${g.fallbackTime.toISOString()}\n`;
    const head = `${copyText(g.host)}\t${copyText(g.instance)}\t`;
    const n = groupSize(g);
    for (let i = 0; i < n; i++) {
      let row: string;
      let time: string;
      if (g.fast) {
        row = g.fast.rows[i]!;
        const ts = g.fast.timestamps[i]!;
        time =
          base === undefined
            ? fallback
            : baseUs !== undefined
              ? `\t${times.formatNumber(baseUs + Math.floor((baseRem + ts) / 10))}\n`
              : `\t${times.format((base + BigInt(ts)) / 10n)}\n`;
      } else {
        const r = g.records[i]!;
        row = recordRowText(r);
        time = base === undefined ? fallback : `\t${times.format((base + r.timestamp) / 10n)}\n`;
      }
      chunk += head + row + time;
      if (chunk.length > 256 * 1024) {
        yield chunk;
        chunk = "";
      }
    }
  }
  if (chunk) yield chunk;
}

/** Build the COPY text of a batch ahead of its write (the ingester does it while the previous batch commits). */
export function prepareCopy(b: Batch): void {
  b.copy = [...copyRows(b.groups)];
}

/** Per connection, once: the staging table. */
export async function prepareSession(client: pg.ClientBase): Promise<void> {
  await client.query(STAGING);
}

/**
 * Write one batch in one transaction. Throws (after ROLLBACK) on any database error: the caller
 * acknowledges its messages only when this resolves, i.e. after COMMIT.
 */
export async function writeBatch(client: pg.ClientBase, b: Batch): Promise<WriteResult> {
  const res: WriteResult = { offered: 0, inserted: 0, drops: 0, audits: 0 };
  for (const g of b.groups) res.offered += groupSize(g);
  await client.query("BEGIN");
  try {
    if (res.offered > 0) {
      // Usually none of the rows is stored yet: COPY them straight in. When some are (a
      // redelivery, a replay), the COPY fails on the key; then merge through the staging table.
      await client.query("SAVEPOINT direct");
      try {
        await pipeline(Readable.from(b.copy ?? copyRows(b.groups)), client.query(copyFrom(`COPY cdfilter_trace (${COLUMNS}) FROM STDIN`)));
        await client.query("RELEASE SAVEPOINT direct");
        res.inserted = res.offered;
      } catch (e) {
        if ((e as { code?: string }).code !== "23505") throw e;
        await client.query("ROLLBACK TO SAVEPOINT direct");
        await pipeline(
          Readable.from(b.copy ?? copyRows(b.groups)),
          client.query(copyFrom(`COPY cdfilter_staging (${COLUMNS}) FROM STDIN`)),
        );
        res.inserted = (await client.query(MERGE)).rowCount ?? 0;
      }
    }
    if (b.drops.length > 0) {
      const r = await client.query(
        `INSERT INTO cdfilter_drops (host, instance, after_seq, count, cause, time)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::timestamptz[])
         ON CONFLICT DO NOTHING`,
        [
          b.drops.map((d) => d.host),
          b.drops.map((d) => d.instance),
          b.drops.map((d) => String(d.afterSeq)),
          b.drops.map((d) => String(d.count)),
          b.drops.map((d) => d.cause),
          b.drops.map((d) => d.time.toISOString()),
        ],
      );
      res.drops = r.rowCount ?? 0;
    }
    for (const a of b.audits) {
      const r = await client.query(
        `INSERT INTO cdfilter_audits (host, report_id, instance, name, passed, failed, time, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) ON CONFLICT DO NOTHING`,
        [a.host, a.reportId, a.instance, a.name, a.passed, a.failed, a.time.toISOString(), a.docText],
      );
      if ((r.rowCount ?? 0) === 0) continue;
      res.audits++;
      if (a.findings.length > 0) {
        await client.query(
          `INSERT INTO cdfilter_audit_findings (host, report_id, idx, image, rule, verdict, detail)
           SELECT $1, $2, * FROM unnest($3::integer[], $4::text[], $5::text[], $6::text[], $7::text[])
           ON CONFLICT DO NOTHING`,
          [
            a.host,
            a.reportId,
            a.findings.map((_, i) => i),
            a.findings.map((f) => f.image),
            a.findings.map((f) => f.rule),
            a.findings.map((f) => f.verdict),
            a.findings.map((f) => f.detail),
          ],
        );
      }
    }
    for (const j of b.rejects) {
      await client.query("INSERT INTO cdfilter_rejects (subject, msg_id, error, payload) VALUES ($1, $2, $3, $4)", [
        j.subject,
        j.msgId ?? null,
        j.error,
        Buffer.from(j.payload),
      ]);
    }
    // Last (shortest lock hold), in host order (no deadlock between ingesters).
    const seen = new Map<string, { time: Date; instance: string }>();
    const see = (host: string, instance: string, time: Date) => {
      const s = seen.get(host);
      if (!s || s.time < time) seen.set(host, { time, instance });
    };
    for (const g of b.groups) see(g.host, g.instance, g.fallbackTime);
    for (const d of b.drops) see(d.host, d.instance, d.time);
    for (const a of b.audits) see(a.host, a.instance, a.time);
    if (seen.size > 0) {
      const hosts = [...seen.keys()].sort();
      await client.query(
        `INSERT INTO cdfilter_hosts (host, first_seen, last_seen, last_instance)
         SELECT h, t, t, i FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS x(h, t, i)
         ON CONFLICT (host) DO UPDATE SET
           last_seen = greatest(cdfilter_hosts.last_seen, EXCLUDED.last_seen),
           first_seen = least(cdfilter_hosts.first_seen, EXCLUDED.first_seen),
           last_instance = CASE WHEN EXCLUDED.last_seen >= cdfilter_hosts.last_seen THEN EXCLUDED.last_instance ELSE cdfilter_hosts.last_instance END`,
        [hosts, hosts.map((h) => seen.get(h)!.time.toISOString()), hosts.map((h) => seen.get(h)!.instance)],
      );
    }
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
  return res;
}
