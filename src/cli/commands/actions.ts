/**
 * QA actions: `lock`, `unlock`, `eject` on a drive handle, and `policy` get/set.
 *
 * On Windows the handle belongs to this process: a lock is released when the command exits (the
 * filter auto-releases it at close) unless `lock --hold SECONDS` keeps the handle open. On the
 * simulator the handle belongs to a simulated process (--pid/--image; default this process as
 * "cdfilter.exe"), and --scenario plays steps first, so a refused eject can name its blocker.
 */
import type { Command } from "commander";
import {
  type ActionResult,
  CdfilterError,
  type Drive,
  type DriveAccess,
  type LedgerSnapshot,
  InvalidArgumentError,
  Policy,
  hex32,
} from "../../client/index.ts";
import { CliError, ExitCode, usageError } from "../errors.ts";
import { type GlobalOptions, makeOutput, monotonicToDate, parseCount, requireDriveIds } from "../context.ts";
import type { Output } from "../output.ts";
import { renderTable } from "../output.ts";
import { formatSeconds } from "../records.ts";
import { activityFrom, addActivityOptions, connectWithActivity, policyName } from "./status.ts";

type Globals = () => GlobalOptions;

interface ActionOpts {
  drive: string;
  pid?: string;
  image?: string;
  scenario?: string;
  burst?: string;
  media?: boolean;
  passthrough?: boolean;
  hold?: string;
}

export type Verb = "lock" | "unlock" | "eject";

/** `--drive`: an id (1..2^32-1) or a name/path/letter; usage error (exit 2) for anything else. */
export function driveArg(s: string): number | string {
  const t = s.trim();
  if (/^\d+$/.test(t)) return parseCount(t, "--drive", 1, 0xffff_ffff, "run `cdfilter drives` for the drive ids and names");
  if (t === "" || /^[-+]?\d*\.?\d+(e[-+]?\d+)?$/i.test(t)) {
    throw usageError(
      `--drive must be a drive id from 1, a name (CdRom0) or, on Windows, a path or letter (D:), got "${s}"`,
      "run `cdfilter drives` for the drive ids and names",
    );
  }
  return t;
}

/** GENERIC_READ | GENERIC_WRITE | FILE_READ_ATTRIBUTES (winnt.h): what pass-through needs. */
const READ_WRITE_ATTRIBUTES = 0xc000_0080;

/**
 * The access a verb's drive handle is opened with: the least its request's CTL_CODE access
 * needs (ntddstor.h, ntddscsi.h). IOCTL_STORAGE_EJECTION_CONTROL is FILE_ANY_ACCESS, and seed
 * 003 asks for a FILE_READ_ATTRIBUTES open (no file system is mounted: the create reaches the
 * storage stack); IOCTL_STORAGE_MEDIA_REMOVAL and IOCTL_STORAGE_EJECT_MEDIA are
 * FILE_READ_ACCESS (GENERIC_READ); IOCTL_SCSI_PASS_THROUGH is FILE_READ_ACCESS |
 * FILE_WRITE_ACCESS.
 */
export function actionAccess(verb: Verb, o: { media?: boolean; passthrough?: boolean }): DriveAccess {
  if (verb === "eject") return o.passthrough ? READ_WRITE_ATTRIBUTES : "read";
  return o.media ? "read" : "attributes";
}

export function registerActions(program: Command, globals: Globals): void {
  const common = (cmd: Command) =>
    addActivityOptions(
      cmd
        .option("--drive <id|name>", "drive id (1..N), name (CdRom0) or, on Windows, path or letter (D:)", "1")
        .option("--pid <pid>", "simulator: act as this simulated process id (default: this process)")
        .option("--image <name>", "simulator: image name of that process", "cdfilter.exe"),
    );

  common(program.command("lock").description("take a secure lock (IOCTL_STORAGE_EJECTION_CONTROL TRUE)"))
    .option("--media", "take a simple lock instead (IOCTL_STORAGE_MEDIA_REMOVAL TRUE)")
    .option("--hold <seconds>", "keep the handle, and so the lock, for this long (Ctrl-C ends early)")
    .action((o: ActionOpts) => runAction("lock", o, globals()));

  common(program.command("unlock").description("release a secure lock of this handle (IOCTL_STORAGE_EJECTION_CONTROL FALSE)"))
    .option("--media", "release a simple lock instead (IOCTL_STORAGE_MEDIA_REMOVAL FALSE)")
    .action((o: ActionOpts) => runAction("unlock", o, globals()));

  common(program.command("eject").description("eject the medium (IOCTL_STORAGE_EJECT_MEDIA); names the lock owners when refused"))
    .option("--passthrough", "send SCSI START STOP UNIT LoEj=1 through IOCTL_SCSI_PASS_THROUGH instead")
    .action((o: ActionOpts) => runAction("eject", o, globals()));

  program
    .command("policy")
    .description("show the policy of every drive, or set it: observe (trace and track only) or enforce (deny foreign unlocks and ejects)")
    .argument("[policy]", "observe | enforce")
    .option("--drive <id>", "only this drive (default: every drive)")
    .action(async (policy: string | undefined, o: { drive?: string }) => {
      const g = globals();
      const out = makeOutput(g);
      if (policy !== undefined && policy !== "observe" && policy !== "enforce") {
        throw usageError(`policy must be observe or enforce, not "${policy}"`, "cdfilter policy enforce --drive 1");
      }
      const drive = o.drive === undefined ? 0 : parseCount(o.drive, "--drive", 1, 0xffff_ffff);
      const client = await connectWithActivity(g, out, {});
      try {
        await requireDriveIds(client, [drive]);
        const list =
          policy === undefined
            ? await client.policy(drive)
            : await client.setPolicy(policy === "enforce" ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE, drive);
        if (out.json) {
          out.jsonDoc(list.map((p) => ({ driveId: p.driveId, policy: policyName(p.policy) })));
          return;
        }
        out.line(
          renderTable(
            ["drive", "policy"],
            list.map((p) => [String(p.driveId), policyName(p.policy)]),
            out.c,
            ["right", "left"],
          ),
        );
        if (policy !== undefined && client.transportKind === "simulator") {
          out.note("note: the embedded simulator forgets this when the command exits");
        }
      } finally {
        await client.close();
      }
    });
}

async function runAction(verb: Verb, o: ActionOpts, g: GlobalOptions): Promise<void> {
  const out = makeOutput(g);
  // Arguments first: a bad value is a usage error (exit 2), whatever the transport says later.
  const hold = o.hold === undefined ? 0 : parseCount(o.hold, "--hold", 0, 86_400);
  const target = driveArg(o.drive);
  const pidArg = o.pid === undefined ? undefined : parseCount(o.pid, "--pid", 1, 0xffff_fffe);
  const client = await connectWithActivity(g, out, activityFrom(o));
  try {
    const sim = client.transportKind === "simulator";
    if (!sim && pidArg !== undefined) throw usageError("--pid only applies to the simulator (on Windows the handle is this process's)");
    const pid = pidArg ?? process.pid;
    const image = o.image ?? "cdfilter.exe";
    let drive: Drive;
    try {
      drive = await client.openDrive(target, { pid, image, access: actionAccess(verb, o) });
    } catch (e) {
      // No such drive id: the argument is wrong (nothing was opened).
      if (e instanceof InvalidArgumentError) throw usageError(e.message, "run `cdfilter drives` for the drive ids and names");
      // The OS (or the simulated one) refused the open: not found, access denied, ...
      if (e instanceof CdfilterError) {
        throw new CliError(
          `cannot open drive ${o.drive}: ${e.message}`,
          ExitCode.UNAVAILABLE,
          e.hint ?? "run `cdfilter drives` for the drive ids and names",
        );
      }
      throw e;
    }
    const what =
      verb === "lock"
        ? o.media
          ? "simple lock (IOCTL_STORAGE_MEDIA_REMOVAL TRUE)"
          : "secure lock (IOCTL_STORAGE_EJECTION_CONTROL TRUE)"
        : verb === "unlock"
          ? o.media
            ? "simple unlock (IOCTL_STORAGE_MEDIA_REMOVAL FALSE)"
            : "secure unlock (IOCTL_STORAGE_EJECTION_CONTROL FALSE)"
          : o.passthrough
            ? "eject (SCSI START STOP UNIT LoEj=1 via IOCTL_SCSI_PASS_THROUGH)"
            : "eject (IOCTL_STORAGE_EJECT_MEDIA)";
    const r: ActionResult =
      verb === "lock"
        ? await (o.media ? drive.mediaRemoval(true) : drive.lock())
        : verb === "unlock"
          ? await (o.media ? drive.mediaRemoval(false) : drive.unlock())
          : o.passthrough
            ? await drive.passThrough(Uint8Array.of(0x1b, 0, 0, 0, 0x02, 0))
            : await drive.eject();
    const [snap, info] = await Promise.all([client.ledger(drive.driveId || 0), client.info()]);
    const ledger = snap.drives.find((d) => d.driveId === drive.driveId);
    if (out.json) {
      out.jsonDoc({
        action: verb,
        request: what,
        drive: drive.name,
        driveId: drive.driveId,
        pid: drive.pid,
        image: drive.image,
        ok: r.ok,
        status: r.status,
        statusName: r.statusName,
        win32Error: r.win32Error ?? 0,
        ledger: ledger ?? null,
      });
    } else {
      const c = out.c;
      const st = r.ok ? c.green(r.statusName) : c.red(r.statusName);
      out.line(
        `${what} on ${drive.name} as ${drive.image}:${drive.pid}: ${st} ${c.dim(`(${hex32(r.status)}, Win32 error ${r.win32Error ?? 0})`)}`,
      );
      printOwners(out, snap, drive.driveId, info, !r.ok && verb === "eject");
    }
    let interrupted = false;
    if (verb === "lock" && r.ok && hold > 0) {
      // Ctrl-C is caught before the note invites it.
      const sleeping = sleepInterruptible(hold * 1000);
      out.note(`holding the handle for ${hold} s (Ctrl-C to release now)...`);
      interrupted = await sleeping;
    }
    if (verb === "lock" && r.ok && !out.json) {
      out.note(
        o.media
          ? `the handle closes now: simple locks outlive it (cdrom.sys), unless the policy is enforce (leak release)${sim ? "; the embedded simulator ends with this command" : ""}`
          : `the handle closes now: the filter releases this handle's secure locks at close${sim ? "; the embedded simulator ends with this command" : ""}`,
      );
    }
    await drive.close();
    if (!r.ok) process.exitCode = ExitCode.CHECK_FAILED;
    // Ctrl-C ended the hold early: the lock is released as asked, but the command did not finish.
    else if (interrupted) process.exitCode = ExitCode.INTERRUPTED;
  } finally {
    await client.close();
  }
}

function printOwners(
  out: Output,
  snap: LedgerSnapshot,
  driveId: number,
  info: { wallClockAnchor: bigint; monotonicAnchor: bigint },
  blocked: boolean,
): void {
  const c = out.c;
  const d = snap.drives.find((x) => x.driveId === driveId);
  if (!d) return;
  const owners = d.owners.filter((o) => o.secureCount || o.simpleCount);
  if (owners.length === 0) {
    out.line(c.dim(`drive ${driveId}: no lock held (secure ${d.secureTotal}, simple ${d.simpleTotal})`));
    return;
  }
  out.line(blocked ? c.yellow("blocked by:") : c.dim(`locks on drive ${driveId} now:`));
  for (const o of owners) {
    const at = monotonicToDate(o.since, info);
    out.line(
      `  ${c.cyan(o.imageName || "?")} pid ${o.pid} handle h${o.handleId}: secure ${o.secureCount}, simple ${o.simpleCount}` +
        c.dim(`, since ${at ? at.toISOString() + " " : ""}(${formatSeconds(snap.takenAt - o.since)} ago)`),
    );
  }
}

/** Sleep `ms`, or less if SIGINT (Ctrl-C) comes first: whether it did. */
function sleepInterruptible(ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (interrupted: boolean) => {
      clearTimeout(t);
      process.off("SIGINT", onSigint);
      resolve(interrupted);
    };
    const onSigint = () => done(true);
    const t = setTimeout(() => done(false), ms);
    process.once("SIGINT", onSigint);
  });
}
