/**
 * The audit of what really happened (docs/audit.md): trace records (a recording, JSON Lines or
 * the live trace) judged per process (image + pid) and handle against the rules of rules.ts.
 * Pure: events in, verdicts out.
 *
 * Rules and the records they read (proto/cdfilter/trace.proto):
 *   secure-lock-not-released   AUTO_RELEASE: the filter released secure locks at cleanup, close
 *                              or process exit because their owner never unlocked
 *   simple-lock-leaked         LEAK_RELEASE (REASON_SIMPLE_LOCK_LEAK): simple locks still held at
 *                              close (under observe cdrom.sys keeps counting them: a stuck tray)
 *   foreign-secure-unlock      REASON_FOREIGN_SECURE_UNLOCK
 *   foreign-simple-unlock      REASON_FOREIGN_SIMPLE_UNLOCK (releases someone else's lock)
 *   eject-under-lock           REASON_EJECT_UNDER_LOCK, or REASON_WOULD_DENY on EJECT/LOAD
 *   passthrough-bypass         REASON_PASSTHROUGH_EJECT/ALLOW_UNDER_LOCK, or WOULD_DENY on SPT
 *   exclusive-access-conflict  REASON_EXCLUSIVE_ACCESS
 *   hold-time                  longest lock span of the process above max-hold-seconds
 *   denied                     requests the filter completed with DECISION_DENY (enforce)
 *   drops                      records lost before the recorder read them: every verdict of the
 *                              recording is uncertain (one finding on the pseudo-process "(trace)")
 */
import {
  Decision,
  type LedgerSnapshot,
  Reason,
  RecordKind,
  type TraceEvent,
  type TraceRecord,
  normalizeIoctl,
  ntStatusName,
} from "../client/index.ts";
import { requestName } from "../cli/records.ts";
import { type Timeline, lockTimeline } from "../cli/timeline.ts";
import { RULE_IDS, type RuleId, type RulesConfig, type Severity, rulesFor } from "./rules.ts";

/** File-system controls Windows programs send to a CD volume (winioctl.h), which the IOCTL
 * catalog does not list (they arrive as IRP_MJ_DEVICE_CONTROL under Wine, docs/wine.md). */
const FSCTL_NAMES: Record<number, string> = {
  589848: "FSCTL_LOCK_VOLUME",
  589852: "FSCTL_UNLOCK_VOLUME",
  589856: "FSCTL_DISMOUNT_VOLUME",
  589864: "FSCTL_IS_VOLUME_MOUNTED",
};

function nameOf(r: Pick<TraceRecord, "major" | "ioctlCode">, head?: Uint8Array): string {
  if ((r.major === 0x0d || r.major === 0x0e) && FSCTL_NAMES[r.ioctlCode >>> 0]) return FSCTL_NAMES[r.ioctlCode >>> 0]!;
  return requestName(r, head);
}

const IOCTL_STORAGE_EJECT_MEDIA = 0x2d4808;
const IOCTL_STORAGE_LOAD_MEDIA = 0x2d480c;
const IRP_MJ_CREATE = 0;

export interface Finding {
  rule: RuleId;
  seq: bigint;
  /** Monotonic 100 ns. */
  timestamp: bigint;
  handleId: bigint;
  driveId: number;
  text: string;
}

export interface ProcessKey {
  image: string;
  pid: number;
}

export interface RequestSummary {
  /** "FSCTL_DISMOUNT_VOLUME", "IOCTL_STORAGE_EJECT_MEDIA", "CREATE", ... */
  name: string;
  count: number;
  /** NTSTATUS name -> completions with it. */
  statuses: Record<string, number>;
}

export interface RuleVerdict {
  rule: RuleId;
  severity: Severity;
  /** pass: nothing found; fail/warn: found and judged so; ignored: found, rules say ignore. */
  verdict: "pass" | "fail" | "warn" | "ignored";
  count: number;
  /** hold-time: longest hold in seconds. */
  value?: number;
  findings: Finding[];
}

export interface ProcessVerdict extends ProcessKey {
  key: string;
  handles: bigint[];
  requests: RequestSummary[];
  rules: RuleVerdict[];
}

export interface AuditReport {
  processes: ProcessVerdict[];
  records: number;
  dropped: bigint;
  failed: number;
  warned: number;
  timeline: Timeline;
  rulesFile?: string;
}

const keyOf = (p: ProcessKey) => `${p.image || "?"}:${p.pid}`;

/**
 * Judge a trace. `ledger`: the ledger when the trace starts (a recording's header), so locks
 * held before it are attributed to their owners.
 */
export function auditTrace(events: readonly TraceEvent[], cfg: RulesConfig, ledger?: LedgerSnapshot): AuditReport {
  const handles = new Map<string, ProcessKey>(); // drive:handle -> opener
  const pidImage = new Map<number, string>();
  const procs = new Map<string, { key: ProcessKey; handles: Set<bigint>; findings: Finding[]; requests: Map<string, RequestSummary> }>();
  const heads = new Map<bigint, Uint8Array>(); // request id -> dispatch input head
  const names = new Map<bigint, string>();
  const counted = new Set<string>(); // rule:request id already counted
  /** Secure lock counts per handle (drive:handle), to name the owners under whose lock a request came. */
  const secure = new Map<string, number>();
  let records = 0;
  let dropped = 0n;
  let lastTs = 0n;

  for (const d of ledger?.drives ?? [])
    for (const o of d.owners) {
      handles.set(`${d.driveId}:${o.handleId}`, { image: o.imageName, pid: o.pid });
      if (o.imageName) pidImage.set(o.pid, o.imageName);
      if (o.secureCount) secure.set(`${d.driveId}:${o.handleId}`, o.secureCount);
    }

  // Keyed by pid (a create's dispatch comes before the image is known); the image is filled in
  // as soon as a record names it.
  const proc = (k: ProcessKey) => {
    const key = k.image === "(trace)" ? "(trace)" : String(k.pid);
    let p = procs.get(key);
    if (!p) {
      p = { key: { ...k }, handles: new Set(), findings: [], requests: new Map() };
      procs.set(key, p);
    } else if (!p.key.image && k.image) p.key.image = k.image;
    return p;
  };
  /** The process behind a record: the handle's opener, else the sender. */
  const who = (r: TraceRecord): ProcessKey => {
    const h = handles.get(`${r.driveId}:${r.handleId}`);
    if (h) return h;
    const pid = r.openerPid || r.pid;
    const image = r.openerImage || pidImage.get(pid) || "";
    return { image, pid };
  };
  const owners = (r: TraceRecord): string => {
    const list: string[] = [];
    for (const [k, n] of secure) {
      if (n <= 0 || !k.startsWith(`${r.driveId}:`) || k === `${r.driveId}:${r.handleId}`) continue;
      const o = handles.get(k);
      if (o) list.push(`${o.image || "?"} (pid ${o.pid})`);
    }
    return list.length ? ` under the lock of ${[...new Set(list)].join(", ")}` : "";
  };
  const find = (r: TraceRecord, rule: RuleId, text: string) => {
    if (r.requestId !== 0n) {
      const k = `${rule}:${r.requestId}`;
      if (counted.has(k)) return;
      counted.add(k);
    }
    proc(who(r)).findings.push({ rule, seq: r.seq, timestamp: r.timestamp, handleId: r.handleId, driveId: r.driveId, text });
  };

  for (const ev of events) {
    if (ev.type === "dropped") {
      dropped += ev.count;
      if (ev.count > 0n || ev.reset) {
        proc({ image: "(trace)", pid: 0 }).findings.push({
          rule: "drops",
          seq: ev.afterSeq,
          timestamp: lastTs,
          handleId: 0n,
          driveId: 0,
          text: ev.reset
            ? `the driver's sequence restarted after seq ${ev.afterSeq} (reloaded?): an unknown number of records is missing`
            : `${ev.count} record(s) after seq ${ev.afterSeq} were lost before they were recorded: verdicts are uncertain`,
        });
      }
      continue;
    }
    const r = ev.record;
    records++;
    lastTs = r.timestamp;
    const hk = `${r.driveId}:${r.handleId}`;
    if (r.openerImage && r.openerPid) {
      if (!handles.has(hk) && r.handleId !== 0n) handles.set(hk, { image: r.openerImage, pid: r.openerPid });
      pidImage.set(r.openerPid, r.openerImage);
    }
    if (r.kind === RecordKind.RECORD_KIND_HANDLE_OPEN && r.handleId !== 0n && r.openerPid)
      handles.set(hk, { image: r.openerImage, pid: r.openerPid });
    const p = proc(who(r));
    if (r.handleId !== 0n) p.handles.add(r.handleId);

    if (r.kind === RecordKind.RECORD_KIND_DISPATCH) {
      if (r.inputHead.length) heads.set(r.requestId, r.inputHead);
      const name = nameOf(r, r.inputHead);
      names.set(r.requestId, name);
      if (heads.size > 65536) heads.delete(heads.keys().next().value as bigint);
      if (names.size > 65536) names.delete(names.keys().next().value as bigint);
    }
    if (
      r.kind === RecordKind.RECORD_KIND_COMPLETION ||
      (r.kind === RecordKind.RECORD_KIND_DISPATCH && r.decision === Decision.DECISION_DENY)
    ) {
      // One summary entry per request: at its completion (or its denial, when no completion follows).
      const done = `req:${r.requestId}`;
      if (r.requestId === 0n || !counted.has(done)) {
        if (r.requestId !== 0n) counted.add(done);
        const name = names.get(r.requestId) ?? nameOf(r, heads.get(r.requestId));
        let s = p.requests.get(name);
        if (!s) {
          s = { name, count: 0, statuses: {} };
          p.requests.set(name, s);
        }
        s.count++;
        const st = ntStatusName(r.status);
        s.statuses[st] = (s.statuses[st] ?? 0) + 1;
      }
    }

    const name = names.get(r.requestId) ?? nameOf(r, heads.get(r.requestId) ?? r.inputHead);
    const code = normalizeIoctl(r.ioctlCode);
    switch (r.reason) {
      case Reason.REASON_FOREIGN_SECURE_UNLOCK:
        find(r, "foreign-secure-unlock", `${name}: secure unlock from a handle that holds no secure lock${owners(r)}`);
        break;
      case Reason.REASON_FOREIGN_SIMPLE_UNLOCK:
        find(r, "foreign-simple-unlock", `${name}: simple unlock of a lock it never took (releases someone else's lock)`);
        break;
      case Reason.REASON_EJECT_UNDER_LOCK:
        find(r, "eject-under-lock", `${name}${owners(r)}`);
        break;
      case Reason.REASON_PASSTHROUGH_EJECT_UNDER_LOCK:
      case Reason.REASON_PASSTHROUGH_ALLOW_UNDER_LOCK:
        find(r, "passthrough-bypass", `${name}: SCSI pass-through past cdrom.sys's lock${owners(r)}`);
        break;
      case Reason.REASON_WOULD_DENY:
        if (code === IOCTL_STORAGE_EJECT_MEDIA || code === IOCTL_STORAGE_LOAD_MEDIA)
          find(r, "eject-under-lock", `${name}${owners(r)} (observe: the filter let it through)`);
        else find(r, "passthrough-bypass", `${name}${owners(r)} (observe: the filter let it through)`);
        break;
      case Reason.REASON_EXCLUSIVE_ACCESS:
        find(r, "exclusive-access-conflict", `${name}: another handle owns exclusive access`);
        break;
    }
    if (r.decision === Decision.DECISION_DENY && r.kind === RecordKind.RECORD_KIND_DISPATCH)
      find(r, "denied", `${name} denied (${ntStatusName(r.status)})`);
    if (r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE && r.countReleased > 0) {
      const why =
        r.reason === Reason.REASON_PROCESS_EXIT ? "process exit" : r.reason === Reason.REASON_HANDLE_CLEANUP ? "cleanup" : "close";
      find(
        r,
        "secure-lock-not-released",
        `${r.countReleased} secure lock(s) never unlocked by their owner: released by the filter at ${why}`,
      );
    }
    if (r.kind === RecordKind.RECORD_KIND_LEAK_RELEASE && r.countReleased > 0) {
      const released = r.decision === Decision.DECISION_RELEASE;
      find(
        r,
        "simple-lock-leaked",
        `${r.countReleased} simple lock(s) held at close: ${released ? "released by the filter (enforce)" : "still counted by cdrom.sys (the tray stays locked)"}`,
      );
    }
    // Secure lock counts, for naming owners.
    if (r.kind === RecordKind.RECORD_KIND_COMPLETION && r.status === 0 && r.reason === Reason.REASON_LOCK_TAKEN && code === 0x2d0940)
      secure.set(hk, (secure.get(hk) ?? 0) + 1);
    else if (r.kind === RecordKind.RECORD_KIND_COMPLETION && r.status === 0 && r.reason === Reason.REASON_LOCK_DROPPED && code === 0x2d0940)
      secure.set(hk, Math.max(0, (secure.get(hk) ?? 0) - 1));
    else if (r.kind === RecordKind.RECORD_KIND_AUTO_RELEASE) secure.delete(hk);
    if (r.major === IRP_MJ_CREATE && r.kind === RecordKind.RECORD_KIND_COMPLETION && r.handleId !== 0n && r.openerPid)
      handles.set(hk, { image: r.openerImage, pid: r.openerPid });
  }

  // Hold time: lock spans per process (including locks held before the trace, from the ledger).
  const timeline = lockTimeline(events);
  const holds = new Map<string, { secs: number; span: (typeof timeline.spans)[number] }>();
  for (const s of timeline.spans) {
    const o = handles.get(`${s.driveId}:${s.handleId}`) ?? { image: s.image, pid: s.pid };
    const k = keyOf({ pid: o.pid, image: o.image || pidImage.get(o.pid) || "" });
    const secs = Number(s.end - s.start) / 1e7;
    const cur = holds.get(k);
    if (!cur || secs > cur.secs) holds.set(k, { secs, span: s });
  }

  const out: ProcessVerdict[] = [];
  let failed = 0;
  let warned = 0;
  for (const p of procs.values()) {
    if (p.key.image === "(trace)" && p.findings.length === 0) continue;
    if (!p.key.image) p.key.image = pidImage.get(p.key.pid) ?? "";
    const key = keyOf(p.key);
    const { rules, thresholds } = rulesFor(cfg, p.key.image);
    const verdicts: RuleVerdict[] = [];
    for (const rule of RULE_IDS) {
      let findings = p.findings.filter((f) => f.rule === rule);
      let value: number | undefined;
      if (rule === "hold-time") {
        const h = holds.get(key);
        if (h) {
          value = Math.round(h.secs * 1000) / 1000;
          if (h.secs > thresholds.maxHoldSeconds)
            findings = [
              {
                rule,
                seq: h.span.startSeq,
                timestamp: h.span.start,
                handleId: h.span.handleId,
                driveId: h.span.driveId,
                text: `${h.span.lock} lock held ${value} s (limit ${thresholds.maxHoldSeconds} s)${h.span.endedBy === "open" ? ", still held at the end of the trace" : ""}`,
              },
            ];
        }
      }
      if (rule === "denied" && findings.length <= thresholds.maxDenied) findings = [];
      if (p.key.image === "(trace)" && rule !== "drops") continue;
      if (p.key.image !== "(trace)" && rule === "drops") continue;
      const severity = rules[rule];
      const verdict: RuleVerdict["verdict"] = findings.length === 0 ? "pass" : severity === "ignore" ? "ignored" : severity;
      if (verdict === "fail") failed++;
      if (verdict === "warn") warned++;
      verdicts.push({ rule, severity, verdict, count: findings.length, ...(value !== undefined ? { value } : {}), findings });
    }
    out.push({
      ...p.key,
      key,
      handles: [...p.handles].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      requests: [...p.requests.values()],
      rules: verdicts,
    });
  }
  out.sort((a, b) => (a.image === "(trace)" ? 1 : b.image === "(trace)" ? -1 : a.pid - b.pid || a.image.localeCompare(b.image)));
  return { processes: out, records, dropped, failed, warned, timeline, ...(cfg.file ? { rulesFile: cfg.file } : {}) };
}
