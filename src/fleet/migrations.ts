/**
 * The store's schema as versioned migrations (docs/fleet.md, "Schema"). `cdfilter ingest`
 * applies the missing ones at start, in order, each in its own transaction, under a
 * transaction-scoped advisory lock so that several ingesters starting together apply each once.
 * Applied versions are rows of `cdfilter_schema_migrations`. A migration is never edited once
 * released: a change is a new version.
 *
 * Objects are created in the connection's current schema (normally `public`; set another with
 * `?options=-c%20search_path%3Dlab` in the PostgreSQL URL).
 *
 * Key columns host and instance use the "C" collation (byte order: cheaper index comparisons
 * than a linguistic collation, and these are identifiers).
 * Types: uint32 fields are `bigint` (no unsigned type in PostgreSQL), uint64 ids that may use the
 * top bit (request_id, handle_id, information) are `numeric(20,0)`; seq, timestamp and duration
 * are `bigint` (the ingester refuses values past 2^63-1 into cdfilter_rejects).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "tables",
    sql: `
CREATE TABLE cdfilter_trace (
  host text COLLATE "C" NOT NULL,
  instance text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  kind integer NOT NULL,
  request_id numeric(20,0) NOT NULL,
  ts bigint NOT NULL,
  drive_id bigint NOT NULL,
  handle_id numeric(20,0) NOT NULL,
  pid bigint NOT NULL,
  tid bigint NOT NULL,
  requestor_pid bigint NOT NULL,
  opener_pid bigint NOT NULL,
  opener_image text NOT NULL,
  major bigint NOT NULL,
  minor bigint NOT NULL,
  ioctl_code bigint NOT NULL,
  normalized_code bigint NOT NULL,
  input_length bigint NOT NULL,
  output_length bigint NOT NULL,
  input_head bytea NOT NULL,
  truncated boolean NOT NULL,
  status bigint NOT NULL,
  information numeric(20,0) NOT NULL,
  duration bigint NOT NULL,
  decision integer NOT NULL,
  reason integer NOT NULL,
  secure_total bigint NOT NULL,
  simple_total bigint NOT NULL,
  count_released bigint NOT NULL,
  time timestamptz,
  PRIMARY KEY (host, instance, seq)
);
-- BRIN: rows arrive roughly in time order; nearly free to maintain at ingest rates, and enough
-- for the time-range scans of dashboards (PostgreSQL documentation, "BRIN Indexes").
CREATE INDEX cdfilter_trace_time ON cdfilter_trace USING brin (time);

CREATE TABLE cdfilter_drops (
  host text NOT NULL,
  instance text NOT NULL,
  after_seq bigint NOT NULL,
  count bigint NOT NULL,
  cause text NOT NULL,
  time timestamptz NOT NULL,
  PRIMARY KEY (host, instance, cause, after_seq)
);

CREATE TABLE cdfilter_audits (
  host text NOT NULL,
  report_id text NOT NULL,
  instance text NOT NULL,
  name text,
  passed integer,
  failed integer,
  time timestamptz NOT NULL,
  doc jsonb NOT NULL,
  PRIMARY KEY (host, report_id)
);

CREATE TABLE cdfilter_audit_findings (
  host text NOT NULL,
  report_id text NOT NULL,
  idx integer NOT NULL,
  image text NOT NULL,
  rule text NOT NULL,
  verdict text NOT NULL,
  detail text NOT NULL,
  PRIMARY KEY (host, report_id, idx),
  FOREIGN KEY (host, report_id) REFERENCES cdfilter_audits (host, report_id) ON DELETE CASCADE
);

CREATE TABLE cdfilter_hosts (
  host text PRIMARY KEY,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  last_instance text NOT NULL
);

-- Messages the ingester could not read (kept, acknowledged, never retried).
CREATE TABLE cdfilter_rejects (
  id bigserial PRIMARY KEY,
  subject text NOT NULL,
  msg_id text,
  error text NOT NULL,
  payload bytea NOT NULL,
  received timestamptz NOT NULL DEFAULT now()
);

-- Names of codes (kind, decision, reason, major, status, ioctl), refreshed by every ingester.
CREATE TABLE cdfilter_names (
  domain text NOT NULL,
  code bigint NOT NULL,
  name text NOT NULL,
  PRIMARY KEY (domain, code)
);
`,
  },
  {
    version: 2,
    name: "views",
    sql: `
CREATE VIEW cdfilter_records AS
SELECT t.host, t.instance, t.seq, t.time,
  t.kind AS kind_code, coalesce(k.name, t.kind::text) AS kind,
  t.request_id, t.ts AS timestamp_100ns, t.drive_id, t.handle_id, t.pid, t.tid, t.requestor_pid,
  t.opener_pid, t.opener_image,
  t.major, coalesce(mj.name, t.major::text) AS major_name, t.minor,
  t.ioctl_code, io.name AS ioctl_name, t.normalized_code, nio.name AS normalized_name,
  t.input_length, t.output_length, t.input_head, t.truncated,
  t.status, coalesce(st.name, '0x' || lpad(upper(to_hex(t.status)), 8, '0')) AS status_name,
  t.information, t.duration AS duration_100ns,
  t.decision AS decision_code, coalesce(d.name, t.decision::text) AS decision,
  t.reason AS reason_code, coalesce(r.name, t.reason::text) AS reason,
  t.secure_total, t.simple_total, t.count_released
FROM cdfilter_trace t
LEFT JOIN cdfilter_names k ON k.domain = 'kind' AND k.code = t.kind
LEFT JOIN cdfilter_names mj ON mj.domain = 'major' AND mj.code = t.major
LEFT JOIN cdfilter_names io ON io.domain = 'ioctl' AND io.code = t.ioctl_code AND t.major IN (14, 15)
LEFT JOIN cdfilter_names nio ON nio.domain = 'ioctl' AND nio.code = t.normalized_code AND t.major IN (14, 15)
LEFT JOIN cdfilter_names st ON st.domain = 'status' AND st.code = t.status
LEFT JOIN cdfilter_names d ON d.domain = 'decision' AND d.code = t.decision
LEFT JOIN cdfilter_names r ON r.domain = 'reason' AND r.code = t.reason;

CREATE VIEW cdfilter_findings AS
SELECT f.host, f.image, f.rule, f.verdict, f.detail, a.time, a.name AS report, f.report_id, a.instance
FROM cdfilter_audit_findings f JOIN cdfilter_audits a USING (host, report_id);

-- Per host and driver instance: what arrived, what is missing, what was counted as dropped.
CREATE VIEW cdfilter_gaps AS
WITH s AS (
  SELECT host, instance, count(*) AS records, min(seq) AS first_seq, max(seq) AS last_seq, max(time) AS last_time
  FROM cdfilter_trace GROUP BY host, instance
), g AS (
  SELECT host, instance, count(*) AS gaps
  FROM (SELECT host, instance, seq - lag(seq) OVER (PARTITION BY host, instance ORDER BY seq) AS step FROM cdfilter_trace) x
  WHERE step > 1 GROUP BY host, instance
), d AS (
  SELECT host, instance, sum(count) FILTER (WHERE cause = 'ring') AS ring_dropped,
         sum(count) FILTER (WHERE cause = 'spool-full') AS spool_dropped,
         sum(count) FILTER (WHERE cause = 'source') AS source_dropped,
         sum(count) AS dropped
  FROM cdfilter_drops GROUP BY host, instance
)
SELECT coalesce(s.host, d.host) AS host, coalesce(s.instance, d.instance) AS instance,
  coalesce(s.records, 0) AS records, s.first_seq, s.last_seq,
  coalesce(s.last_seq - s.first_seq + 1 - s.records, 0) AS missing,
  coalesce(g.gaps, 0) AS gaps,
  coalesce(d.dropped, 0) AS dropped,
  coalesce(d.ring_dropped, 0) AS ring_dropped,
  coalesce(d.spool_dropped, 0) AS spool_dropped,
  coalesce(d.source_dropped, 0) AS source_dropped,
  s.last_time
FROM s FULL JOIN d ON d.host = s.host AND d.instance = s.instance
LEFT JOIN g ON g.host = coalesce(s.host, d.host) AND g.instance = coalesce(s.instance, d.instance);

CREATE VIEW cdfilter_gap_ranges AS
SELECT host, instance, prev AS after_seq, seq AS before_seq, seq - prev - 1 AS missing
FROM (SELECT host, instance, seq, lag(seq) OVER (PARTITION BY host, instance ORDER BY seq) AS prev FROM cdfilter_trace) x
WHERE seq - prev > 1;
`,
  },
];

/** Key of the advisory lock that serialises migrations (any constant; "cdfilter" in ASCII). */
export const MIGRATION_LOCK = 0x6364_6669_6c74_6572n;
