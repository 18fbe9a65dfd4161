/**
 * `info`, `drives`, `locks`: what the filter is, which drives it sits on, who holds which lock.
 */
import type { Command } from "commander";
import { type DrivesReply, type FilterClient, HostKind, type InfoReply, type LedgerSnapshot, Policy } from "../../client/index.ts";
import {
  connect,
  hasActivity,
  loadScenario,
  makeOutput,
  monotonicToDate,
  parseCount,
  playActivity,
  requireDriveIds,
  type ActivityOptions,
  type GlobalOptions,
} from "../context.ts";
import type { Output } from "../output.ts";
import { renderTable } from "../output.ts";
import { formatSeconds } from "../records.ts";

type Globals = () => GlobalOptions;

export function addActivityOptions(cmd: Command): Command {
  return cmd
    .option("--scenario <file>", "first play this scenario's steps into the embedded simulator")
    .option("--burst <n>", "first send N reads through the embedded simulator");
}

export function activityFrom(o: { scenario?: string; burst?: string }): ActivityOptions {
  const a: ActivityOptions = {};
  if (o.scenario !== undefined) a.scenario = o.scenario;
  if (o.burst !== undefined) a.burst = parseCount(o.burst, "--burst");
  return a;
}

/** Connect, then play --scenario/--burst (verdicts are not checked here: see `audit`). */
export async function connectWithActivity(g: GlobalOptions, out: Output, a: ActivityOptions): Promise<FilterClient> {
  const scenario = a.scenario ? loadScenario(a.scenario) : undefined;
  const client = await connect(g, out, { simulator: hasActivity(a), drives: scenario?.drives });
  try {
    await playActivity(client, a, scenario);
  } catch (e) {
    await client.close();
    throw e;
  }
  if (scenario) out.note(`played ${scenario.steps.length} step(s) of ${scenario.file}`);
  return client;
}

export function policyName(p: Policy): string {
  return p === Policy.POLICY_ENFORCE ? "enforce" : p === Policy.POLICY_OBSERVE ? "observe" : "unspecified";
}

export function registerStatus(program: Command, globals: Globals): void {
  addActivityOptions(program.command("info").description("driver/simulator version, protocol, transport, trace ring and counters")).action(
    async (o: { scenario?: string; burst?: string }) => {
      const g = globals();
      const out = makeOutput(g);
      const client = await connectWithActivity(g, out, activityFrom(o));
      try {
        const info = await client.info();
        if (out.json) {
          out.jsonDoc({ transport: client.transportKind, transportReason: client.transportReason, ...info, host: HostKind[info.host] });
          return;
        }
        printInfo(out, client, info);
      } finally {
        await client.close();
      }
    },
  );

  addActivityOptions(program.command("drives").description("drives the filter sits on: policy, open handles, lock totals")).action(
    async (o: { scenario?: string; burst?: string }) => {
      const g = globals();
      const out = makeOutput(g);
      const client = await connectWithActivity(g, out, activityFrom(o));
      try {
        const reply = await client.drivesReply();
        if (out.json) {
          out.jsonDoc(drivesJson(reply));
          return;
        }
        for (const line of drivesLines(reply, out)) out.line(line);
      } finally {
        await client.close();
      }
    },
  );

  addActivityOptions(
    program
      .command("locks")
      .description("who holds which lock: owner image and pid, handle, secure/simple/MCN counts, since when")
      .option("--drive <id>", "only this drive"),
  ).action(async (o: { drive?: string; scenario?: string; burst?: string }) => {
    const g = globals();
    const out = makeOutput(g);
    const client = await connectWithActivity(g, out, activityFrom(o));
    try {
      const drive = o.drive === undefined ? 0 : parseCount(o.drive, "--drive", 1, 0xffff_ffff);
      await requireDriveIds(client, [drive]);
      const [snap, info, drives] = await Promise.all([client.ledger(drive), client.info(), client.drives()]);
      printLocks(out, snap, info, new Map(drives.map((d) => [d.driveId, d.name])));
    } finally {
      await client.close();
    }
  });
}

/**
 * `drives --json`: one object per drive; tracked ones as DriveInfo with `tracked: true`, drives
 * the filter sits on but the core could not register with `tracked: false`, `driveId: 0`, `name`
 * and `since` (monotonic 100 ns, decimal string).
 */
export function drivesJson(reply: DrivesReply): unknown[] {
  return [
    ...reply.drives.map((d) => ({ ...d, policy: policyName(d.policy), tracked: true })),
    ...reply.untracked.map((u) => ({ driveId: 0, name: u.name, tracked: false, since: String(u.since) })),
  ];
}

/** `drives`: the table, untracked drives as rows marked "not tracked", then a note when more
 * untracked drives are present than the reply lists. */
export function drivesLines(reply: DrivesReply, out: Pick<Output, "c">): string[] {
  const rows = reply.drives.map((d) => [
    String(d.driveId),
    d.name,
    policyName(d.policy),
    String(d.openHandles),
    String(d.secureTotal),
    String(d.simpleTotal),
    d.exclusiveOwner ? `h${d.exclusiveOwner}` : "-",
  ]);
  for (const u of reply.untracked) rows.push(["-", u.name, out.c.yellow("NOT TRACKED"), "-", "-", "-", "-"]);
  const lines = [
    renderTable(["id", "name", "policy", "handles", "secure", "simple", "exclusive owner"], rows, out.c, [
      "right",
      "left",
      "left",
      "right",
      "right",
      "right",
      "left",
    ]),
  ];
  if (reply.untrackedPresent > 0) {
    const unlisted = reply.untrackedPresent - reply.untracked.length;
    lines.push(
      out.c.yellow(
        `${reply.untrackedPresent} drive(s) present but not tracked (the filter holds its maximum of drives): ` +
          `their I/O passes untraced${unlisted > 0 ? `; ${unlisted} more than listed` : ""}`,
      ),
    );
  }
  return lines;
}

function printInfo(out: Output, client: FilterClient, info: InfoReply): void {
  const c = out.c;
  const rows: [string, string][] = [
    ["transport", `${client.transportKind} (${client.transportReason})`],
    ["host", HostKind[info.host]?.replace(/^HOST_KIND_/, "") ?? String(info.host)],
    ["driver version", info.driverVersion || "-"],
    ["protocol", `${info.protocolVersion}${info.compatible ? " (compatible)" : " (INCOMPATIBLE)"}`],
    ["drives", String(info.driveCount)],
    ["trace ring", `${info.ringCapacity} records in ${info.ringBytes} bytes; capture up to ${info.maxCaptureBytes} bytes of input`],
    ["records", `${info.recordsWritten} written, ${info.recordsOverwritten} overwritten unread; seq ${info.oldestSeq}..${info.newestSeq}`],
    ["requests", `${info.requestsSeen} seen, ${info.requestsDenied} denied`],
  ];
  const anchor = monotonicToDate(info.monotonicAnchor, info);
  if (anchor) rows.push(["clock anchor", `${anchor.toISOString()} = ${info.monotonicAnchor} (100 ns ticks)`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.line(`${c.bold(k.padEnd(w))}  ${v}`);
}

function printLocks(out: Output, snap: LedgerSnapshot, info: InfoReply, names: Map<number, string>): void {
  const c = out.c;
  const since = (t: bigint) => {
    const ago = formatSeconds(snap.takenAt - t);
    const at = monotonicToDate(t, info);
    return at ? `${at.toISOString()} (${ago} ago)` : `${ago} ago`;
  };
  if (out.json) {
    out.jsonDoc({
      takenAt: snap.takenAt,
      seq: snap.seq,
      drives: snap.drives.map((d) => ({
        ...d,
        name: names.get(d.driveId),
        owners: d.owners.map((o) => ({ ...o, sinceIso: monotonicToDate(o.since, info)?.toISOString() })),
      })),
    });
    return;
  }
  const rows: string[][] = [];
  for (const d of snap.drives) {
    const driveName = `${d.driveId} ${names.get(d.driveId) ?? ""}`.trim();
    const owners = d.owners.filter((o) => o.secureCount || o.simpleCount || o.mcnCount || o.exclusive);
    if (owners.length === 0) {
      rows.push([driveName, c.dim("(no lock)"), "", "", "0", "0", "0", "", ""]);
    }
    for (const o of owners) {
      rows.push([
        driveName,
        c.cyan(o.imageName || "?"),
        String(o.pid),
        `h${o.handleId}`,
        o.secureCount ? c.bold(String(o.secureCount)) : "0",
        String(o.simpleCount),
        String(o.mcnCount),
        o.exclusive ? "yes" : "",
        since(o.since),
      ]);
    }
    if (d.ownersTruncated) rows.push([driveName, c.yellow("(more owners than the reply carries)"), "", "", "", "", "", "", ""]);
  }
  out.line(
    renderTable(["drive", "owner", "pid", "handle", "secure", "simple", "mcn", "excl", "since"], rows, c, [
      "left",
      "left",
      "right",
      "left",
      "right",
      "right",
      "right",
      "left",
      "left",
    ]),
  );
  for (const d of snap.drives) {
    out.line(
      c.dim(
        `drive ${d.driveId}: secure total ${d.secureTotal}, simple total ${d.simpleTotal}, MCN total ${d.mcnTotal}; ` +
          `${d.foreignUnlocks} foreign unlock(s) ignored or denied, ${d.denials} request(s) denied`,
      ),
    );
  }
}
