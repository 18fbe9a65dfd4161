/**
 * The lab commands (docs/fleet.md):
 *   ship    this machine's trace (live, a JSON Lines file, or the simulator's --scenario/--burst)
 *           and audit reports into NATS JetStream
 *   ingest  JetStream into PostgreSQL (durable pull consumer, batched, ack after COMMIT)
 *   fleet   the lab's questions from PostgreSQL: hosts, findings, gaps
 * URLs carry credentials and TLS settings; they are never printed (secrets.ts).
 */
import { readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import pg from "pg";
import { hostToken, isValidName } from "../../fleet/envelope.ts";
import { Ingester } from "../../fleet/ingester.ts";
import { findingsReport, gapsReport, hostsReport } from "../../fleet/queries.ts";
import { Secrets, parseNatsUrl, registerPgUrl } from "../../fleet/secrets.ts";
import { Shipper } from "../../fleet/shipper.ts";
import { fileInstance, liveInstance, shipJsonLines, shipLive, type SourceResult } from "../../fleet/sources.ts";
import { Spool } from "../../fleet/spool.ts";
import { type GlobalOptions, connect, hasActivity, loadScenario, makeOutput, parseCount } from "../context.ts";
import { CliError, ExitCode, inputError, usageError } from "../errors.ts";
import { renderTable } from "../output.ts";
import { activityFrom, addActivityOptions } from "./status.ts";

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface ShipOpts {
  nats?: string;
  host?: string;
  instance?: string;
  file?: string;
  audit?: string[];
  scenario?: string;
  burst?: string;
  follow?: boolean;
  spool?: string;
  spoolMax: string;
  batch: string;
  window: string;
  drainTimeout: string;
  publishTimeout: string;
  replicas: string;
  maxAge: string;
}

function defaultSpoolDir(host: string): string {
  const base =
    process.platform === "win32"
      ? join(process.env.LOCALAPPDATA ?? homedir(), "cdfilter")
      : join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "cdfilter");
  return join(base, "spool", host);
}

function natsUrl(v: string | undefined): string {
  const u = v ?? process.env.CDFILTER_NATS_URL;
  if (!u) throw usageError("--nats URL is required", "e.g. --nats nats://127.0.0.1:4222 (or set CDFILTER_NATS_URL)");
  return u;
}

function pgUrl(v: string | undefined): string {
  const u = v ?? process.env.CDFILTER_PG_URL;
  if (!u) throw usageError("--pg URL is required", "e.g. --pg postgres://user:pass@127.0.0.1:5432/lab (or set CDFILTER_PG_URL)");
  return u;
}

function nameOpt(v: string, what: string): string {
  if (!isValidName(v)) throw usageError(`${what} "${v}" is not usable in a subject`, `${what} takes letters, digits, "_" and "-" (1..64)`);
  return v;
}

export function registerFleet(program: Command, globals: () => GlobalOptions): void {
  addActivityOptions(
    program
      .command("ship")
      .description("send this machine's trace and audit reports to NATS JetStream (subjects cdfilter.<host>.trace/.audit)")
      .option(
        "--nats <url>",
        "NATS server(s): nats://[user:pass@]host:port[,...][?creds=F&tls=1&ca=F&cert=F&key=F] (env CDFILTER_NATS_URL)",
      )
      .option("--host <name>", "host name in subjects and the store (default: this machine's name)")
      .option("--instance <id>", "driver instance id (default: the driver's load time; a file: a digest of it)")
      .option("--file <trace.jsonl>", "ship a JSON Lines trace written by `cdfilter trace --json` instead of the live trace")
      .option("--audit <report.json>", "also ship this audit report (from `cdfilter audit --json-out`); repeatable", collect)
      .option("--follow", "simulator: keep shipping after the played activity (until Ctrl-C)")
      .option("--spool <dir>", "spool directory for messages NATS could not take (default: per user state dir)")
      .option("--spool-max <bytes>", "spool bound; past it records are dropped and counted in-band", String(256 * 1024 * 1024))
      .option("--batch <n>", "records per message", "256")
      .option("--window <n>", "messages awaiting their ack at once", "32")
      .option("--drain-timeout <s>", "at the end, wait this long for the spool to drain (it is resent by the next run otherwise)", "30")
      .option("--publish-timeout <ms>", "a publish not acknowledged in this time goes to the spool", "5000")
      .option("--replicas <n>", "stream replicas when this command creates the stream (a 3-node NATS cluster: 3)", "1")
      .option("--max-age <hours>", "how long the stream keeps messages when this command creates it (0 = no limit)", "168"),
  ).action(async (o: ShipOpts) => {
    const g = globals();
    const out = makeOutput(g);
    const secrets = new Secrets();
    const target = parseNatsUrl(natsUrl(o.nats), secrets);
    const host = o.host !== undefined ? nameOpt(o.host, "--host") : hostToken(hostname());
    const activity = activityFrom(o);
    if (o.file && hasActivity(activity)) throw usageError("--file and --scenario/--burst are two different sources", "give one of them");
    const spoolMax = parseCount(o.spoolMax, "--spool-max", 0, 1024 ** 4);
    const batch = parseCount(o.batch, "--batch", 1, 10_000);
    const window = parseCount(o.window, "--window", 1, 4096);
    const drainMs = parseCount(o.drainTimeout, "--drain-timeout", 0, 10 ** 7) * 1000;
    const publishTimeout = parseCount(o.publishTimeout, "--publish-timeout", 100, 600_000);
    const audits = (o.audit ?? []).map((f) => readAudit(f));
    const spool = new Spool(o.spool ?? defaultSpoolDir(host), spoolMax);
    const ctl = new AbortController();
    const onSig = () => ctl.abort();
    process.once("SIGINT", onSig);
    process.once("SIGTERM", onSig);
    let shipper: Shipper | undefined;
    let result: SourceResult = { records: 0, dropped: 0n, interrupted: false };
    let left = 0;
    try {
      const mk = (instance: string, anchors?: { wall: bigint; mono: bigint }) =>
        new Shipper({
          host,
          instance,
          target,
          spool,
          anchors,
          recordsPerMessage: batch,
          window,
          publishTimeoutMs: publishTimeout,
          stream: streamOpts(o),
          log: (s) => out.note(secrets.scrub(s)),
        });
      if (o.file) {
        const instance = o.instance !== undefined ? nameOpt(o.instance, "--instance") : fileInstance(o.file);
        shipper = mk(instance);
        out.note(`shipping ${o.file} as ${host}/${instance} to ${target.display}`);
        await shipper.start();
        result = await shipJsonLines(o.file, shipper, ctl.signal);
      } else if (hasActivity(activity) || audits.length === 0) {
        const scenario = activity.scenario ? loadScenario(activity.scenario) : undefined;
        const client = await connect(g, out, { simulator: hasActivity(activity), drives: scenario?.drives });
        try {
          if (client.transportKind === "simulator" && !hasActivity(activity))
            throw usageError(
              "the embedded simulator has no activity of its own: nothing would be shipped",
              "add --scenario FILE or --burst N",
            );
          const info = client.connectInfo;
          const instance = o.instance !== undefined ? nameOpt(o.instance, "--instance") : liveInstance(client);
          shipper = mk(instance, { wall: info.wallClockAnchor, mono: info.monotonicAnchor });
          out.note(`shipping the ${client.transportKind} trace as ${host}/${instance} to ${target.display}`);
          await shipper.start();
          result = await shipLive(client, shipper, { activity, scenario, follow: o.follow === true, signal: ctl.signal });
        } finally {
          await client.close();
        }
      } else {
        shipper = mk(o.instance !== undefined ? nameOpt(o.instance, "--instance") : `audit-${process.pid}`);
        await shipper.start();
      }
      for (const doc of audits) await shipper.audit(doc);
      left = await shipper.close(drainMs);
    } catch (e) {
      if (shipper) left = await shipper.close(0).catch(() => spool.count);
      if (e instanceof CliError) throw new CliError(secrets.scrub(e.message), e.exitCode, e.hint);
      throw secrets.scrubError(e);
    } finally {
      process.off("SIGINT", onSig);
      process.off("SIGTERM", onSig);
    }
    const s = shipper.stats;
    const summary = {
      host,
      records: s.records,
      messages: s.messages,
      acked: s.acked,
      duplicates: s.duplicates,
      spooled: s.spooled,
      resent: s.resent,
      spoolLeft: left,
      droppedSpoolFull: s.droppedRecords,
      droppedSource: Number(result.dropped),
      dropNotices: s.dropNotices,
      lostNotices: s.lostNotices,
      audits: s.audits,
    };
    if (out.json) out.jsonDoc(summary);
    else {
      out.note(
        `${s.records} record(s) in ${s.messages} message(s): ${s.acked} acknowledged (${s.duplicates} duplicate), ${s.spooled} spooled, ${s.resent} resent` +
          (s.droppedRecords ? `, ${s.droppedRecords} record(s) dropped (spool full, counted in-band)` : "") +
          (result.dropped ? `, ${result.dropped} lost by the ring (counted in-band)` : "") +
          (s.audits ? `, ${s.audits} audit report(s)` : ""),
      );
      if (left > 0) out.warn(`${left} message(s) still in the spool ${spool.dir}: the next \`cdfilter ship\` with this spool sends them`);
    }
    if (s.lostNotices > 0) out.warn(`${s.lostNotices} drop notice(s) or report(s) could not be kept (spool full)`);
    if (result.interrupted) process.exitCode = ExitCode.INTERRUPTED;
    else if (left > 0) process.exitCode = ExitCode.UNAVAILABLE;
  });

  program
    .command("ingest")
    .description("store the lab's JetStream messages in PostgreSQL (durable consumer; schema created and migrated)")
    .option("--nats <url>", "NATS server(s), as for ship (env CDFILTER_NATS_URL)")
    .option("--pg <url>", "PostgreSQL URL, e.g. postgres://user:pass@host/db?sslmode=verify-full (env CDFILTER_PG_URL)")
    .option("--batch <n>", "messages per transaction", "64")
    .option("--ack-wait <ms>", "redelivery of unacknowledged messages after this long", "30000")
    .option("--ingesters <n>", "ingesters sharing the consumer (sizes max_ack_pending)", "8")
    .option("--idle-exit <ms>", "exit after this long without messages (default: run until Ctrl-C)")
    .option("--replicas <n>", "stream replicas when this command creates the stream (a 3-node NATS cluster: 3)", "1")
    .option("--max-age <hours>", "how long the stream keeps messages when this command creates it (0 = no limit)", "168")
    .action(
      async (o: {
        nats?: string;
        pg?: string;
        batch: string;
        ackWait: string;
        ingesters: string;
        idleExit?: string;
        replicas: string;
        maxAge: string;
      }) => {
        const g = globals();
        const out = makeOutput(g);
        const secrets = new Secrets();
        const target = parseNatsUrl(natsUrl(o.nats), secrets);
        const pgShown = registerPgUrl(pgUrl(o.pg), secrets);
        const idleExit = o.idleExit === undefined ? undefined : parseCount(o.idleExit, "--idle-exit", 1);
        const ing = new Ingester({
          target,
          pgUrl: pgUrl(o.pg),
          secrets,
          batch: parseCount(o.batch, "--batch", 1, 10_000),
          ackWaitMs: parseCount(o.ackWait, "--ack-wait", 1000),
          ingesters: parseCount(o.ingesters, "--ingesters", 1, 1000),
          stream: streamOpts(o),
          log: (s) => out.note(s),
        });
        try {
          await ing.start();
        } catch (e) {
          throw new CliError(
            `cannot start ingesting: ${secrets.scrub((e as Error).message)}`,
            ExitCode.UNAVAILABLE,
            `check that NATS (${target.display}) and PostgreSQL (${pgShown}) are reachable and the credentials are right`,
          );
        }
        out.note(`ingesting from ${target.display} into ${pgShown}`);
        const started = Date.now();
        await new Promise<void>((resolve) => {
          const done = () => {
            clearInterval(t);
            process.off("SIGINT", done);
            process.off("SIGTERM", done);
            resolve();
          };
          const t = setInterval(() => {
            if (idleExit !== undefined && Date.now() - Math.max(ing.stats.lastMessageAt, started) > idleExit) done();
          }, 100);
          process.once("SIGINT", done);
          process.once("SIGTERM", done);
        });
        await ing.stop();
        const s = ing.stats;
        if (out.json) out.jsonDoc(s);
        else
          out.note(
            `${s.messages} message(s) in ${s.batches} transaction(s): ${s.inserted} record(s) stored, ${s.duplicates} already there, ${s.drops} drop notice(s), ${s.audits} audit report(s), ${s.rejects} rejected`,
          );
      },
    );

  const fleet = program.command("fleet").description("the lab's questions from the PostgreSQL store: hosts, findings, gaps");
  const withDb = async <T>(url: string | undefined, f: (db: pg.Client) => Promise<T>): Promise<T> => {
    const secrets = new Secrets();
    const u = pgUrl(url);
    const shown = registerPgUrl(u, secrets);
    const db = new pg.Client({ connectionString: u, application_name: "cdfilter-fleet" });
    db.on("error", () => undefined);
    try {
      await db.connect();
    } catch (e) {
      throw new CliError(
        `cannot reach the store ${shown}: ${secrets.scrub((e as Error).message)}`,
        ExitCode.UNAVAILABLE,
        "check --pg (host, credentials, sslmode)",
      );
    }
    try {
      return await f(db);
    } catch (e) {
      const msg = secrets.scrub((e as Error).message);
      if (/does not exist/.test(msg))
        throw new CliError(
          `the store has no fleet schema: ${msg}`,
          ExitCode.UNAVAILABLE,
          "run `cdfilter ingest` once (it creates the schema)",
        );
      throw new CliError(`query failed: ${msg}`, ExitCode.INTERNAL);
    } finally {
      await db.end().catch(() => undefined);
    }
  };
  fleet
    .command("hosts")
    .description("every host with its last seen time, records stored and failing findings")
    .option("--pg <url>", "PostgreSQL URL (env CDFILTER_PG_URL)")
    .action(async (o: { pg?: string }) => {
      const out = makeOutput(globals());
      const rows = await withDb(o.pg, hostsReport);
      if (out.json) return out.jsonDoc({ hosts: rows });
      out.line(
        renderTable(
          ["host", "last seen", "instance", "records", "failing"],
          rows.map((r) => [r.host, r.lastSeen, r.lastInstance, String(r.records), String(r.failingFindings)]),
          out.c,
          ["left", "left", "left", "right", "right"],
        ),
      );
    });
  fleet
    .command("findings")
    .description("audit findings by image and rule across hosts")
    .option("--pg <url>", "PostgreSQL URL (env CDFILTER_PG_URL)")
    .option("--image <name>", "only this image")
    .option("--rule <rule>", "only this rule")
    .option("--failing", "only findings that did not pass")
    .option("--since <iso-time>", "only reports since this time")
    .action(async (o: { pg?: string; image?: string; rule?: string; failing?: boolean; since?: string }) => {
      const out = makeOutput(globals());
      const since = o.since === undefined ? undefined : new Date(o.since);
      if (since && Number.isNaN(since.getTime()))
        throw usageError(`--since "${o.since}" is not a time`, "e.g. --since 2026-12-01T18:00:00Z");
      const rows = await withDb(o.pg, (db) => findingsReport(db, { image: o.image, rule: o.rule, failing: o.failing, since }));
      if (out.json) return out.jsonDoc({ findings: rows });
      out.line(
        renderTable(
          ["image", "rule", "verdict", "findings", "hosts", "last"],
          rows.map((r) => [
            r.image,
            r.rule,
            r.verdict === "pass" ? r.verdict : out.c.red(r.verdict),
            String(r.findings),
            hostList(r.hosts),
            r.lastTime,
          ]),
          out.c,
          ["left", "left", "left", "right", "left", "left"],
        ),
      );
    });
  fleet
    .command("gaps")
    .description("per host and driver instance: records stored, sequence numbers missing, records counted as dropped")
    .option("--pg <url>", "PostgreSQL URL (env CDFILTER_PG_URL)")
    .option("--host <name>", "only this host")
    .action(async (o: { pg?: string; host?: string }) => {
      const out = makeOutput(globals());
      const rows = await withDb(o.pg, (db) => gapsReport(db, o.host));
      if (out.json) return out.jsonDoc({ gaps: rows });
      out.line(
        renderTable(
          ["host", "instance", "records", "seq range", "missing", "gaps", "dropped (ring/spool)"],
          rows.map((r) => [
            r.host,
            r.instance,
            String(r.records),
            r.firstSeq === null ? "-" : `${r.firstSeq}..${r.lastSeq}`,
            r.missing ? out.c.red(String(r.missing)) : "0",
            String(r.gaps),
            `${r.dropped} (${r.ringDropped}/${r.spoolDropped})`,
          ]),
          out.c,
          ["left", "left", "right", "left", "right", "right", "right"],
        ),
      );
    });
}

function streamOpts(o: { replicas: string; maxAge: string }): { replicas: number; maxAgeMs: number } {
  return {
    replicas: parseCount(o.replicas, "--replicas", 1, 5),
    maxAgeMs: parseCount(o.maxAge, "--max-age", 0, 24 * 365 * 100) * 3600 * 1000,
  };
}

function hostList(hosts: string[]): string {
  return hosts.length <= 4 ? hosts.join(",") : `${hosts.slice(0, 3).join(",")} +${hosts.length - 3}`;
}

function readAudit(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw inputError(
      `cannot read audit report ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      "give a file written by `cdfilter audit --json-out`",
    );
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("not a JSON object");
    return doc;
  } catch (e) {
    throw inputError(`audit report ${file} is not valid: ${(e as Error).message}`, "give a file written by `cdfilter audit --json-out`");
  }
}
