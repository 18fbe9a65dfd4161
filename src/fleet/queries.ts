/**
 * The lab's questions, asked of the store (`cdfilter fleet ...`): the SQL behind each report.
 * docs/fleet.md shows the same queries for psql and Grafana.
 */
import type pg from "pg";

export interface HostRow {
  host: string;
  lastSeen: string;
  firstSeen: string;
  lastInstance: string;
  records: number;
  failingFindings: number;
}

export async function hostsReport(db: pg.ClientBase): Promise<HostRow[]> {
  const r = await db.query(
    `SELECT h.host, h.last_seen, h.first_seen, h.last_instance,
       (SELECT count(*) FROM cdfilter_trace t WHERE t.host = h.host) AS records,
       (SELECT count(*) FROM cdfilter_audit_findings f WHERE f.host = h.host AND f.verdict <> 'pass') AS failing
     FROM cdfilter_hosts h ORDER BY h.host`,
  );
  return r.rows.map((x) => ({
    host: x.host,
    lastSeen: new Date(x.last_seen).toISOString(),
    firstSeen: new Date(x.first_seen).toISOString(),
    lastInstance: x.last_instance,
    records: Number(x.records),
    failingFindings: Number(x.failing),
  }));
}

export interface FindingRow {
  image: string;
  rule: string;
  verdict: string;
  findings: number;
  hosts: string[];
  lastTime: string;
}

export async function findingsReport(
  db: pg.ClientBase,
  f: { image?: string; rule?: string; failing?: boolean; since?: Date },
): Promise<FindingRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.image) {
    args.push(f.image);
    where.push(`image = $${args.length}`);
  }
  if (f.rule) {
    args.push(f.rule);
    where.push(`rule = $${args.length}`);
  }
  if (f.failing) where.push("verdict <> 'pass'");
  if (f.since) {
    args.push(f.since.toISOString());
    where.push(`time >= $${args.length}`);
  }
  const r = await db.query(
    `SELECT image, rule, verdict, count(*) AS findings, array_agg(DISTINCT host ORDER BY host) AS hosts, max(time) AS last_time
     FROM cdfilter_findings ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     GROUP BY image, rule, verdict ORDER BY (verdict = 'pass'), count(DISTINCT host) DESC, image, rule`,
    args,
  );
  return r.rows.map((x) => ({
    image: x.image,
    rule: x.rule,
    verdict: x.verdict,
    findings: Number(x.findings),
    hosts: x.hosts as string[],
    lastTime: new Date(x.last_time).toISOString(),
  }));
}

export interface GapRow {
  host: string;
  instance: string;
  records: number;
  firstSeq: string | null;
  lastSeq: string | null;
  /** Sequence numbers between first and last that have no row. */
  missing: number;
  gaps: number;
  /** Records counted as dropped by drop notices (ring overflow, full spool, unreadable source). */
  dropped: number;
  ringDropped: number;
  spoolDropped: number;
}

export async function gapsReport(db: pg.ClientBase, host?: string): Promise<GapRow[]> {
  const r = await db.query(`SELECT * FROM cdfilter_gaps ${host ? "WHERE host = $1" : ""} ORDER BY host, instance`, host ? [host] : []);
  return r.rows.map((x) => ({
    host: x.host,
    instance: x.instance,
    records: Number(x.records),
    firstSeq: x.first_seq,
    lastSeq: x.last_seq,
    missing: Number(x.missing),
    gaps: Number(x.gaps),
    dropped: Number(x.dropped),
    ringDropped: Number(x.ring_dropped),
    spoolDropped: Number(x.spool_dropped),
  }));
}
