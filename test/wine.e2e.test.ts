/**
 * Windows end to end under Wine (docs/wine.md, docs/wine.md): real, separate Windows processes
 * (node.exe under Wine running the client's Win32 transport through koffi) against the core in
 * kernel mode (build/wine/cdfilter_wine.sys loaded by Wine's ntoskrnl).
 *
 * Actors: C observes (policy, ledger, a live trace stream on \\.\CdFilter that parks in
 * WaitTrace), A takes the secure lock, B tries to take the drive from A, D sends malformed
 * requests and the FSCTLs. A is killed with TerminateProcess (taskkill /F); Wine then sends
 * IRP_MJ_CLOSE (never IRP_MJ_CLEANUP) for its handles and the filter releases its lock.
 *
 * Nothing is skipped: without wine, mingw-w64 or the npm downloads, beforeAll fails (CI=true or
 * not). Run alone with `npm run test:wine`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionResult } from "../src/client/drive.ts";
import {
  Decision,
  HostKind,
  type InfoReply,
  type DriveInfo,
  type LedgerSnapshot,
  Policy,
  Reason,
  RecordKind,
  type TraceRecord,
} from "../src/client/gen/cdfilter.ts";
import { ControlIoctls } from "../src/client/gen/cdfilter_ioctl.ts";
import { WIN32_ERROR } from "../src/client/ntstatus.ts";
import type { IoResult } from "../src/client/transport.ts";
import type { ActorEvent } from "../src/wine/protocol.ts";
import { REPO_ROOT, runWineSetup, type WineActor, WineSession } from "../src/wine/session.ts";
import { openTraceSource } from "../src/recording/reader.ts";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const IOCTL_STORAGE_EJECTION_CONTROL = 0x2d0940;
const IOCTL_STORAGE_EJECT_MEDIA = 0x2d4808;
const IOCTL_STORAGE_LOAD_MEDIA = 0x2d480c;
const IOCTL_SCSI_PASS_THROUGH = 0x04d004;
const IRP_MJ_CREATE = 0x00;
const IRP_MJ_CLOSE = 0x02;
/** CTL_CODE(0x8CDF, 0xFFF, METHOD_BUFFERED, FILE_READ_ACCESS): a function the protocol does not define. */
const IOCTL_CDFILTER_UNDEFINED = ((0x8cdf << 16) | (1 << 14) | (0xfff << 2) | 0) >>> 0;
/** CTL_CODE(IOCTL_STORAGE_BASE, 0x7FF, METHOD_BUFFERED, FILE_ANY_ACCESS): no storage IOCTL. */
const IOCTL_STORAGE_UNDEFINED = ((0x2d << 16) | (0 << 14) | (0x7ff << 2) | 0) >>> 0;
const DRIVE = 1;

const started = Date.now();
const log = (line: string) => console.log(`[wine ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);

type Traced = { type: "record"; record: TraceRecord } | { type: "dropped"; count: bigint; afterSeq: bigint };

describe("Windows end to end under Wine", () => {
  let session: WineSession;
  let c: WineActor; // observer: policy, ledger, live trace
  let a: WineActor; // lock holder, killed
  let b: WineActor; // intruder
  let d: WineActor; // malformed requests, FSCTLs
  const trace: Traced[] = [];
  let traceEnded: ActorEvent | undefined;
  let clearedThrough = 0n;

  const ledger = async (): Promise<LedgerSnapshot> => c.call<LedgerSnapshot>({ op: "ledger", drive: DRIVE });
  const records = (): TraceRecord[] => trace.flatMap((t) => (t.type === "record" ? [t.record] : []));
  const waitForRecord = async (what: string, pred: (r: TraceRecord) => boolean, timeoutMs = 20_000): Promise<TraceRecord> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = records().find(pred);
      if (r) return r;
      if (traceEnded) throw new Error(`trace stream ended while waiting for ${what}: ${JSON.stringify(traceEnded)}`);
      if (Date.now() > until) throw new Error(`no trace record for ${what} within ${timeoutMs} ms (${records().length} records)`);
      await new Promise((res) => setTimeout(res, 25));
    }
  };

  beforeAll(async () => {
    runWineSetup();
    log("setup done (node.exe, koffi win32 binary, cdfilter_wine.sys, actor bundle)");
    session = await WineSession.start({ log, cdromLetter: "R" });
    [c, a, b, d] = await Promise.all([session.actor("C"), session.actor("A"), session.actor("B"), session.actor("D")]);
    log(`actors up: C=${c.pid} A=${a.pid} B=${b.pid} D=${d.pid}`);
  }, 300_000);

  afterAll(async () => {
    await session?.stop();
    log("session stopped");
  }, 120_000);

  it("every actor is a separate Windows process on the Wine kernel host", async () => {
    const pids = new Set([c.pid, a.pid, b.pid, d.pid]);
    expect(pids.size).toBe(4);
    const connected = await c.call<{ transport: string; info: InfoReply }>({ op: "connect", clientName: "wine-e2e-observer" });
    expect(connected.transport).toBe("win32");
    expect(connected.info.host).toBe(HostKind.HOST_KIND_WINE);
    expect(connected.info.compatible).toBe(true);
    const drives = await c.call<DriveInfo[]>({ op: "drives" });
    expect(drives.map((x) => x.name)).toEqual(["CdFilterSim0", "CdFilterSim1"]);
  });

  it("the observer sets enforce and follows the trace through \\\\.\\CdFilter", async () => {
    const policies = await c.call<{ driveId: number; policy: Policy }[]>({ op: "set-policy", policy: "enforce", drive: DRIVE });
    expect(policies).toEqual([{ driveId: DRIVE, policy: Policy.POLICY_ENFORCE }]);
    clearedThrough = await c.call<bigint>({ op: "clear-trace" });
    c.on((e) => {
      if (e.event === "trace") trace.push(e.item as Traced);
      if (e.event === "trace-end") traceEnded = e;
    });
    await c.call({ op: "follow", from: clearedThrough });
  });

  it("A locks the drive", async () => {
    await a.call({ op: "open", drive: DRIVE });
    const r = await a.call<ActionResult>({ op: "action", verb: "lock" });
    expect(r).toMatchObject({ ok: true, status: 0 });
    const l = await ledger();
    expect(l.drives[0]?.secureTotal).toBe(1);
    expect(l.drives[0]?.owners.map((o) => [o.pid, o.imageName, o.secureCount])).toEqual([[a.pid, "node.exe", 1]]);
  });

  it("B's unlock is refused and A still holds the lock", async () => {
    await b.call({ op: "open", drive: DRIVE });
    const r = await b.call<ActionResult>({ op: "action", verb: "unlock" });
    // STATUS_INVALID_DEVICE_STATE (cdrom.sys answer to a secure unlock from a non-owner) -> ERROR_BAD_COMMAND.
    expect(r).toMatchObject({ ok: false, win32Error: WIN32_ERROR.ERROR_BAD_COMMAND });
    const l = await ledger();
    expect(l.drives[0]?.secureTotal).toBe(1);
    expect(l.drives[0]?.owners.map((o) => [o.pid, o.secureCount])).toEqual([[a.pid, 1]]);
    expect(l.drives[0]?.foreignUnlocks).toBe(1n);
  });

  it("B's eject and B's pass-through eject are refused under enforce", async () => {
    const eject = await b.call<ActionResult>({ op: "action", verb: "eject" });
    expect(eject).toMatchObject({ ok: false, win32Error: WIN32_ERROR.ERROR_BUSY }); // STATUS_DEVICE_BUSY
    const spt = await b.call<ActionResult>({ op: "action", verb: "passthrough-eject" });
    expect(spt).toMatchObject({ ok: false, win32Error: WIN32_ERROR.ERROR_BUSY });
    const l = await ledger();
    expect(l.drives[0]?.denials).toBe(3n); // unlock, eject, pass-through eject
    expect(l.drives[0]?.owners.map((o) => o.pid)).toEqual([a.pid]);
  });

  it("malformed and unknown requests give their documented Win32 errors", async () => {
    const raw = (target: string, code: number, input: Uint8Array, outCap: number) =>
      d.call<IoResult>({ op: "raw-ioctl", target, code, input, outCap });
    // A LedgerRequest whose varint never ends: STATUS_INVALID_PARAMETER -> ERROR_INVALID_PARAMETER.
    const malformed = await raw("control", ControlIoctls.getLedger.code, Uint8Array.of(0x08, 0xff, 0xff), 4096);
    expect(malformed.win32Error).toBe(WIN32_ERROR.ERROR_INVALID_PARAMETER);
    // EJECTION_CONTROL without its 1-byte PREVENT_MEDIA_REMOVAL: STATUS_INFO_LENGTH_MISMATCH -> ERROR_BAD_LENGTH.
    const short = await raw("drive:CdFilterSim0", IOCTL_STORAGE_EJECTION_CONTROL, new Uint8Array(0), 0);
    expect(short.win32Error).toBe(WIN32_ERROR.ERROR_BAD_LENGTH);
    // GetInfo into 4 bytes (an InfoReply is larger): STATUS_BUFFER_TOO_SMALL -> ERROR_INSUFFICIENT_BUFFER.
    // (Input empty on purpose: Wine 8 reports OutputBufferLength = input length when 0 < output <= input.)
    const small = await raw("control", ControlIoctls.getInfo.code, new Uint8Array(0), 4);
    expect(small.win32Error).toBe(WIN32_ERROR.ERROR_INSUFFICIENT_BUFFER);
    // Unknown control function and unknown storage IOCTL: STATUS_INVALID_DEVICE_REQUEST -> ERROR_INVALID_FUNCTION.
    const unknown = await raw("control", IOCTL_CDFILTER_UNDEFINED, new Uint8Array(0), 64);
    expect(unknown.win32Error).toBe(WIN32_ERROR.ERROR_INVALID_FUNCTION);
    const unknownDrive = await raw("drive:CdFilterSim0", IOCTL_STORAGE_UNDEFINED, new Uint8Array(0), 64);
    expect(unknownDrive.win32Error).toBe(WIN32_ERROR.ERROR_INVALID_FUNCTION);
    // None of it changed the ledger.
    expect((await ledger()).drives[0]?.owners.map((o) => [o.pid, o.secureCount])).toEqual([[a.pid, 1]]);
  });

  it("the FSCTL wrappers of seeds 000-002 fail on a regular file of C: with ERROR_NOT_SUPPORTED", async () => {
    type Outcome = { ok: boolean; error?: { name: string; win32Error?: number } };
    const r = await d.call<Record<string, Outcome>>({ op: "fsctl", path: "C:\\cdfilter-fsctl-check.txt" });
    // Wine's regular files implement none of these controls: STATUS_NOT_SUPPORTED -> ERROR_NOT_SUPPORTED
    // (NotSupportedError). Windows on NTFS answers ERROR_INVALID_FUNCTION / ERROR_JOURNAL_NOT_ACTIVE
    // instead (docs/wine.md); either way the wrappers throw the typed error, never return success.
    for (const name of ["makeMediaCompatible", "setDefectManagement", "writeUsnCloseRecord"]) {
      expect(r[name], name).toMatchObject({ ok: false, error: { name: "NotSupportedError", win32Error: WIN32_ERROR.ERROR_NOT_SUPPORTED } });
    }
  });

  it("A is killed: Wine delivers IRP_MJ_CLOSE and A's lock is auto-released", async () => {
    await a.kill();
    expect(a.running).toBe(false);
    const release = await waitForRecord("A's auto-release", (r) => r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE && r.openerPid === a.pid);
    // Wine delivers IRP_MJ_CLOSE for a killed process's handles while the process may still be
    // terminating; the host flags PROCESS_EXIT only when the opener already reads as exited, so
    // under load the same release can come as an ordinary close. Either way it is an auto-release.
    expect([Reason.REASON_PROCESS_EXIT, Reason.REASON_HANDLE_CLOSE]).toContain(release.reason);
    expect(release.countReleased).toBe(1);
    expect(release.secureTotal).toBe(0);
    const l = await ledger();
    expect(l.drives[0]?.secureTotal).toBe(0);
    expect(l.drives[0]?.owners).toEqual([]);
    // With the lock gone, B's eject goes through.
    const eject = await b.call<ActionResult>({ op: "action", verb: "eject" });
    expect(eject).toMatchObject({ ok: true, status: 0 });
  });

  it("the observer saw every step in order, with no gap in the sequence numbers", async () => {
    const ejectOk = await waitForRecord(
      "B's successful eject",
      (r) => r.kind === RecordKind.RECORD_KIND_COMPLETION && r.pid === b.pid && r.ioctlCode === IOCTL_STORAGE_EJECT_MEDIA && r.status === 0,
    );
    const stats = await c.call<{ stats: { waits: number } }>({ op: "unfollow" });
    log(`trace: ${records().length} records, ${stats.stats.waits} WaitTrace calls parked in the driver`);
    expect(trace.filter((t) => t.type === "dropped")).toEqual([]);
    const rs = records();
    expect(rs[0]?.seq).toBe(clearedThrough + 1n);
    for (const [i, r] of rs.entries()) expect(r.seq, `record ${i}`).toBe(rs[0]!.seq + BigInt(i));
    expect(rs.at(-1)!.seq).toBeGreaterThanOrEqual(ejectOk.seq);
    // The live stream had to park in WaitTrace at least once (the inverted call works).
    expect(stats.stats.waits).toBeGreaterThan(0);

    const steps: [string, (r: TraceRecord) => boolean][] = [
      ["A opens the drive", (r) => r.major === IRP_MJ_CREATE && r.pid === a.pid],
      [
        "A's lock is taken",
        (r) =>
          r.kind === RecordKind.RECORD_KIND_COMPLETION &&
          r.pid === a.pid &&
          r.ioctlCode === IOCTL_STORAGE_EJECTION_CONTROL &&
          r.status === 0 &&
          r.secureTotal === 1,
      ],
      ["B opens the drive", (r) => r.major === IRP_MJ_CREATE && r.pid === b.pid],
      [
        "B's unlock is denied",
        (r) =>
          r.pid === b.pid &&
          r.ioctlCode === IOCTL_STORAGE_EJECTION_CONTROL &&
          r.decision === Decision.DECISION_DENY &&
          r.reason === Reason.REASON_FOREIGN_SECURE_UNLOCK,
      ],
      [
        "B's eject is denied",
        (r) =>
          r.pid === b.pid &&
          r.ioctlCode === IOCTL_STORAGE_EJECT_MEDIA &&
          r.decision === Decision.DECISION_DENY &&
          r.reason === Reason.REASON_EJECT_UNDER_LOCK,
      ],
      [
        "B's pass-through eject is denied",
        (r) =>
          r.pid === b.pid &&
          r.ioctlCode === IOCTL_SCSI_PASS_THROUGH &&
          r.decision === Decision.DECISION_DENY &&
          r.reason === Reason.REASON_PASSTHROUGH_EJECT_UNDER_LOCK,
      ],
      [
        "D's short EJECTION_CONTROL is rejected",
        (r) =>
          r.pid === d.pid &&
          r.ioctlCode === IOCTL_STORAGE_EJECTION_CONTROL &&
          r.decision === Decision.DECISION_REJECT &&
          r.reason === Reason.REASON_SHORT_INPUT,
      ],
      ["A's handle is closed after its death", (r) => r.major === IRP_MJ_CLOSE && r.openerPid === a.pid],
      [
        "A's lock is released",
        (r) =>
          r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE &&
          r.openerPid === a.pid &&
          (r.reason === Reason.REASON_PROCESS_EXIT || r.reason === Reason.REASON_HANDLE_CLOSE),
      ],
      ["B's eject succeeds", (r) => r.seq === ejectOk.seq],
    ];
    let from = 0;
    for (const [what, pred] of steps) {
      const at = rs.findIndex((r, i) => i >= from && pred(r));
      expect(at, `${what} (after record ${from})`).toBeGreaterThanOrEqual(0);
      from = at + 1;
    }
  });

  it("a Windows process runs scenario processes as Windows processes (ActorWorld, npm start -- --wine)", async () => {
    let output = "";
    const code = await session.runNode("world-check", ["build\\wine\\world-check.mjs", "2", `${session.logDir}/world-check`], {
      onOutput: (t) => {
        output += t;
      },
      timeoutMs: 120_000,
    });
    expect(code, output).toBe(0);
    const line = output.trim().split("\n").at(-1) ?? "";
    const r = JSON.parse(line) as {
      self: number;
      burner: number;
      player: number;
      lock: ActionResult;
      ejectLocked: ActionResult;
      ejectFree: ActionResult;
      before: { pid: number; image: string; secure: number }[];
      after: unknown[];
    };
    expect(new Set([r.self, r.burner, r.player]).size).toBe(3);
    expect(r.lock).toMatchObject({ ok: true, status: 0 });
    // Drive 2 is under observe: cdrom.sys itself refuses the eject while the burner's lock is held.
    expect(r.ejectLocked).toMatchObject({ ok: false, win32Error: WIN32_ERROR.ERROR_BUSY });
    // The burner runs as burner.exe (a hard link to node.exe): the driver reports that image name.
    expect(r.before).toEqual([{ pid: r.burner, image: "burner.exe", secure: 1 }]);
    expect(r.after).toEqual([]);
    expect(r.ejectFree).toMatchObject({ ok: true, status: 0 });
    log(`suite: ${((Date.now() - started) / 1000).toFixed(1)} s so far`);
  });

  it("real Windows programs on R: (eject.exe, MCI cdaudio, cmd's vol), recorded by `cdfilter record` and audited", async () => {
    // The recorder is the CLI itself as a Windows process (node.exe cli.mjs record) on \\.\CdFilter.
    const recording = join(session.logDir, "programs.pcapng");
    const recorder = session.startNode("recorder", [
      "build\\wine\\cli.mjs",
      "record",
      "--out",
      relative(REPO_ROOT, recording).replaceAll("/", "\\"),
    ]);
    const until = async (what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 30_000) => {
      const end = Date.now() + timeoutMs;
      while (!(await pred())) {
        if (Date.now() > end)
          throw new Error(`timed out waiting for ${what} (recorder log: ${readFileSync(recorder.logFile, "utf8").slice(-500)})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until("the recording's header", async () => existsSync(recording) && (await openTraceSource(recording)).header !== undefined);

    // A node.exe actor takes the secure lock on drive 1 (= R:) under enforce.
    const holder = await session.actor("holder");
    await holder.call({ op: "connect" });
    await holder.call({ op: "set-policy", policy: "enforce", drive: DRIVE });
    await holder.call({ op: "open", drive: DRIVE });
    // B ejected the disc earlier: load it again (IOCTL_STORAGE_LOAD_MEDIA) before locking.
    const load = await holder.call<IoResult>({
      op: "raw-ioctl",
      target: "drive:CdFilterSim0",
      code: IOCTL_STORAGE_LOAD_MEDIA,
      input: new Uint8Array(0),
      outCap: 0,
    });
    expect(load.status).toBe(0);
    expect(await holder.call<ActionResult>({ op: "action", verb: "lock" })).toMatchObject({ ok: true });

    const eject = await session.runProgram("eject", ["eject", "R:"]);
    const vol = await session.runProgram("vol", ["cmd", "/c", "vol", "R:"]);
    const mci = await session.runProgram("mcidoor", ["build\\wine\\mcidoor.exe", "R:"]);
    log(`eject.exe exit ${eject.code}; vol exit ${vol.code}: ${vol.output.trim()}; mcidoor: ${mci.output.trim().replaceAll("\n", " | ")}`);
    // Wine's mcicda ignores the refused IOCTL_STORAGE_EJECT_MEDIA: MCI reports success.
    expect(mci.output).toMatch(/set cd door open wait -> 0/);

    // The holder exits with its lock held; Wine closes its handle and the filter releases the lock.
    const holderPid = holder.pid;
    await holder.call({ op: "exit" }).catch(() => undefined);
    await until("the holder's auto-release in the recording", async () =>
      (await openTraceSource(recording)).events.some(
        (e) => e.type === "record" && e.record.kind === RecordKind.RECORD_KIND_AUTO_RELEASE && e.record.openerPid === holderPid,
      ),
    );
    // Killed like a lab would stop it: everything it flushed reads back.
    recorder.kill();
    await recorder.exited;
    const src = await openTraceSource(recording);
    expect(src.header?.hostKind).toBe("HOST_KIND_WINE");
    expect(src.dropped).toBe(0n);
    const seqs = src.events.flatMap((e) => (e.type === "record" ? [e.record.seq] : []));
    for (const [i, q] of seqs.entries()) expect(q).toBe(seqs[0]! + BigInt(i));

    const jsonOut = join(session.logDir, "programs-audit.json");
    const junitOut = join(session.logDir, "programs-audit.xml");
    const audit = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, "bin", "cdfilter.js"),
        "--no-color",
        "audit",
        "--recording",
        recording,
        "--rules",
        join(REPO_ROOT, "test", "support", "wine", "audit-rules.yaml"),
        "--timeline",
        "--json-out",
        jsonOut,
        "--junit-out",
        junitOut,
      ],
      { encoding: "utf8" },
    );
    log(`audit of the Wine run (exit ${audit.status}):\n${audit.stdout}`);
    expect(audit.status, audit.stderr).toBe(1);
    type Rule = { rule: string; verdict: string; findings: { text: string }[] };
    type Proc = { image: string; pid: number; requests: { name: string; statuses: Record<string, number> }[]; rules: Rule[] };
    const report = JSON.parse(readFileSync(jsonOut, "utf8")) as { processes: Proc[] };
    const proc = (image: string) => {
      const p = report.processes.find((x) => x.image === image);
      expect(p, `${image} in the audit`).toBeDefined();
      return p!;
    };
    const verdict = (p: Proc, rule: string) => p.rules.find((r) => r.rule === rule)!;
    const names = (p: Proc) => p.requests.map((q) => q.name);

    // eject.exe: open (access 0), FSCTL_DISMOUNT_VOLUME (as IRP_MJ_DEVICE_CONTROL), close. Its
    // IOCTL_STORAGE_MEDIA_REMOVAL and IOCTL_STORAGE_EJECT_MEDIA need FILE_READ_ACCESS: wineserver
    // refused them before any IRP, so the driver never saw them.
    const ej = proc("eject.exe");
    expect(names(ej)).toEqual(["CREATE", "FSCTL_DISMOUNT_VOLUME", "CLOSE"]);
    expect(ej.rules.every((r) => r.verdict === "pass")).toBe(true);
    // cmd /c vol R:: IRP_MJ_QUERY_VOLUME_INFORMATION.
    expect(names(proc("cmd.exe"))).toContain("QUERY_VOLUME_INFORMATION");
    // MCI cdaudio: IOCTL_STORAGE_EJECT_MEDIA refused under the holder's lock, named in the finding.
    const m = proc("mcidoor.exe");
    expect(names(m)).toContain("IOCTL_STORAGE_EJECT_MEDIA");
    expect(verdict(m, "eject-under-lock").verdict).toBe("fail");
    expect(verdict(m, "eject-under-lock").findings[0]!.text).toContain(`node.exe (pid ${holderPid})`);
    expect(verdict(m, "denied").verdict).toBe("warn");
    // The holder never unlocked: released by the filter when Wine closed its handle.
    const h = report.processes.find((x) => x.pid === holderPid)!;
    expect(h.image).toBe("node.exe");
    expect(verdict(h, "secure-lock-not-released").verdict).toBe("fail");
    // JUnit: one testcase per process x rule.
    const junit = readFileSync(junitOut, "utf8");
    expect(junit.match(/<testcase /g)?.length).toBe(report.processes.reduce((n, p) => n + p.rules.length, 0));
  }, 180_000);
});
