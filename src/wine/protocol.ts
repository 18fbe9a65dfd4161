/**
 * The orchestration channel between the Linux side (WineSession) and the Windows actors
 * (actor.ts, node.exe under Wine): newline-delimited JSON over a loopback TCP connection the
 * actor opens to the orchestrator.
 *
 * This channel only says *what* an actor should do; every request to the driver goes through
 * the actor's own Win32 handles (kernel32 DeviceIoControl via koffi). TCP is used because
 * node.exe under Wine dies with EBADF when its standard streams are pipes (docs/wine.md): its
 * stdout/stderr go to a log file instead.
 *
 * Values: bigint -> { "$n": "123" }, Uint8Array -> { "$b": "hex" }, so trace records, ledger
 * snapshots and action results cross the channel exactly (see encodeValue / decodeValue).
 */

/** Verbs an actor performs on one of its drive handles (scenario verbs of src/scenario/format.ts). */
export type DriveVerb = "lock" | "unlock" | "media-lock" | "media-unlock" | "eject" | "passthrough-eject" | "passthrough-allow" | "read";

export type PolicyName = "observe" | "enforce";

/** A command from the orchestrator. Every command gets exactly one Reply with the same id. */
export type Command =
  /** FilterClient.connect({ transport: "win32" }): needed before the control commands below. */
  | { op: "connect"; clientName?: string }
  | { op: "info" }
  | { op: "drives" }
  | { op: "ledger"; drive?: number }
  | { op: "policy"; drive?: number }
  | { op: "set-policy"; policy: PolicyName; drive?: number }
  | { op: "clear-trace" }
  /**
   * Open drive `drive` (driver id, 1..N) as handle `handle` (a label, default "main").
   * access: winnt.h mask; default GENERIC_READ | GENERIC_WRITE | FILE_READ_ATTRIBUTES so every
   * verb passes the I/O manager's CTL_CODE access check.
   */
  | { op: "open"; drive: number; handle?: string; access?: number }
  /** One drive verb on an open handle; read takes [offset, length] in bytes (default 0 2048). */
  | { op: "action"; verb: DriveVerb; handle?: string; args?: string[] }
  /** IOCTL_SCSI_PASS_THROUGH with this CDB (no data transfer) on an open handle. */
  | { op: "passthrough"; handle?: string; cdb: Uint8Array }
  | { op: "close"; handle?: string }
  /** Start streaming the trace (TraceStream, follow) from `from` (seq; absent = oldest): Events. */
  | { op: "follow"; from?: bigint }
  /** Stop the stream started by follow (the parked WaitTrace is cancelled with CancelIoEx). */
  | { op: "unfollow" }
  /**
   * A raw DeviceIoControl through the client's Win32 transport, for the error-path checks:
   * target "control" (\\.\CdFilter) or "drive:<name>" (\\.\<name>) or a Win32 path.
   */
  | { op: "raw-ioctl"; target: string; code: number; input: Uint8Array; outCap: number; access?: number }
  /** The FSCTL wrappers of seeds 000-002 (src/client/fsctl.ts) on a file the actor creates. */
  | { op: "fsctl"; path: string }
  /** The process exits with this code, its handles still open. */
  | { op: "exit"; code?: number };

/** A failed command: the client's typed error (CdfilterError) flattened. */
export interface RemoteError {
  name: string;
  message: string;
  win32Error?: number;
  ntStatus?: number;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: RemoteError };

/** Unsolicited messages from an actor. */
export type ActorEvent =
  /** First message: who this is (process.pid is the Windows pid Wine assigned). */
  | { event: "hello"; name: string; pid: number; node: string; platform: string }
  /** A TraceStream event (follow): { type: "record", record } or { type: "dropped", ... }. */
  | { event: "trace"; item: unknown }
  /** The trace stream ended (unfollow, or an error). */
  | { event: "trace-end"; error?: RemoteError };

export type Outgoing = Reply | ActorEvent;

/** JSON.stringify with bigint and Uint8Array kept exact. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return { $n: v.toString() };
    if (v instanceof Uint8Array) return { $b: Buffer.from(v).toString("hex") };
    return v;
  });
}

/** The inverse of encodeValue. */
export function decodeValue(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && typeof o.$n === "string") return BigInt(o.$n);
      if (keys.length === 1 && typeof o.$b === "string") return new Uint8Array(Buffer.from(o.$b, "hex"));
    }
    return v;
  });
}

/** Split a byte stream into lines; calls onLine for every complete line. */
export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let pending = "";
  return (chunk) => {
    pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line.length > 0) onLine(line);
      nl = pending.indexOf("\n");
    }
  };
}
