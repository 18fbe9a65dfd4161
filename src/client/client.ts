/**
 * FilterClient: the control protocol of the cdfilter driver (proto/cdfilter/control.proto) over
 * a transport: the real driver through kernel32 (Windows) or the embedded simulator.
 *
 * Every control call encodes the request message, sends its IOCTL (METHOD_BUFFERED, output
 * buffer = the reply's MAX_SIZE bytes) and decodes the reply. A failed IOCTL throws the typed
 * error of its Win32 code / NTSTATUS (errors.ts); a reply that does not decode throws
 * ProtocolError.
 */
import { Drive } from "./drive.ts";
import {
  CdfilterError,
  ClientClosedError,
  InvalidArgumentError,
  ProtocolError,
  ProtocolVersionError,
  TransportUnavailableError,
  errorFromNtStatus,
  errorFromWin32,
} from "./errors.ts";
import {
  ClearTraceRequest,
  type DriveInfo,
  type DrivesReply,
  DrivesRequest,
  type DrivePolicy,
  type InfoReply,
  InfoRequest,
  LedgerRequest,
  type LedgerSnapshot,
  Policy,
  PolicyRequest,
  SetPolicyRequest,
  TraceConfig,
  TraceConfigRequest,
} from "./gen/cdfilter.ts";
import { ControlIoctls, PROTOCOL_VERSION } from "./gen/cdfilter_ioctl.ts";
import { TraceStream, type TraceOptions } from "./trace-stream.ts";
import type { DeviceHandle, DriveAccess, Transport, TransportKind } from "./transport.ts";
import { SimulatorTransport, type SimulatorControl, type SimulatorOptions } from "./transports/simulator.ts";
import { CONTROL_DEVICE_PATH, Win32Transport, type Win32TransportOptions } from "./transports/win32.ts";
import { WIN32_ERROR } from "./ntstatus.ts";
import type { MessageType } from "./wire.ts";

export interface ConnectOptions {
  /**
   * "auto" (default): on Windows the driver through Win32 (TransportUnavailableError naming the
   * cause when \\.\CdFilter does not open: not installed, not started, access denied), elsewhere
   * the embedded simulator. "win32" / "simulator": that one or an error.
   */
  transport?: "auto" | "win32" | "simulator";
  /** Simulator instance shape (when the simulator is used). */
  simulator?: SimulatorOptions;
  /** Sent in InfoRequest.client_name (at most 64 bytes of UTF-8). Default "cdfilter-client". */
  clientName?: string;
  /** Win32 transport options (tests inject kernel32 here). */
  win32?: Win32TransportOptions;
}

export interface OpenDriveOptions {
  /** Simulator: pid of the simulated process that opens the drive (default: this process). */
  pid?: number;
  /** Simulator: its image name (default "node.exe"). */
  image?: string;
  /** Default "attributes" (FILE_READ_ATTRIBUTES); "read" for MEDIA_REMOVAL / EJECT_MEDIA (see drive.ts). */
  access?: DriveAccess;
}

interface Spec<Req, Rep> {
  readonly name: string;
  readonly code: number;
  readonly request: MessageType<Req>;
  readonly reply: MessageType<Rep>;
}

const VALID_POLICIES = new Set<number>([Policy.POLICY_OBSERVE, Policy.POLICY_ENFORCE]);

function checkDriveId(driveId: number | undefined): number {
  const id = driveId ?? 0;
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new InvalidArgumentError(`drive id must be an integer >= 1 (0 or absent = every drive), got ${driveId}`);
  }
  return id;
}

async function chooseTransport(opts: ConnectOptions): Promise<{ transport: Transport; control: DeviceHandle }> {
  const mode = opts.transport ?? "auto";
  if (mode !== "auto" && mode !== "win32" && mode !== "simulator") {
    throw new InvalidArgumentError(`transport must be "auto", "win32" or "simulator", got "${String(mode)}"`);
  }
  const simulator = async (reason: string) => {
    const t = SimulatorTransport.create(opts.simulator, reason);
    try {
      return { transport: t as Transport, control: await t.openControl() };
    } catch (e) {
      await t.close();
      throw e;
    }
  };
  if (mode === "simulator") return simulator("simulator requested");
  const injected = opts.win32?.kernel32 !== undefined;
  if (mode === "auto" && process.platform !== "win32" && !injected) {
    return simulator(`not Windows (${process.platform}): embedded simulator`);
  }
  const t = await Win32Transport.create({
    reason: mode === "win32" ? "win32 requested" : "Windows: \\\\.\\CdFilter opened",
    ...opts.win32,
  });
  try {
    return { transport: t, control: await t.openControl() };
  } catch (e) {
    await t.close();
    if (mode === "win32") throw e;
    // On Windows "auto" means the driver: falling back to the simulator would hide the real cause
    // (the simulator is a Linux/macOS development stand-in, used there only on request).
    throw driverUnreachable(opts.win32?.controlPath ?? CONTROL_DEVICE_PATH, e);
  }
}

/**
 * Why the control device (\\.\CdFilter) did not open, as a TransportUnavailableError with the
 * step that fixes it (WDK-build.md, "Install" and "Troubleshooting"): ERROR_FILE_NOT_FOUND (2) /
 * ERROR_PATH_NOT_FOUND (3): not installed, not started, or no drive filtered yet;
 * ERROR_ACCESS_DENIED (5): the control device's SDDL admits SYSTEM and Administrators only.
 */
function driverUnreachable(path: string, e: unknown): TransportUnavailableError {
  const code = e instanceof CdfilterError ? e.win32Error : undefined;
  const name = e instanceof CdfilterError ? (e.win32Name ?? e.name) : String(e);
  if (code === WIN32_ERROR.ERROR_ACCESS_DENIED) {
    return new TransportUnavailableError(
      `${path}: access denied (${name}): the cdfilter control device admits SYSTEM and Administrators only`,
      {
        hint: "run the command from an elevated prompt (Run as administrator)",
        cause: e,
      },
    );
  }
  if (code === WIN32_ERROR.ERROR_FILE_NOT_FOUND || code === WIN32_ERROR.ERROR_PATH_NOT_FOUND) {
    return new TransportUnavailableError(
      `${path} does not exist (${name}): the cdfilter driver is not installed, not started, or filters no CD/DVD drive yet`,
      {
        hint: "install: pnputil /add-driver cdfilter.inf /install; start: sc start cdfilter; check: pnputil /enum-devices /class CDROM /drivers (WDK-build.md)",
        cause: e,
      },
    );
  }
  return new TransportUnavailableError(`${path} cannot be opened (${name})`, {
    hint: "is the cdfilter driver installed and started? (sc query cdfilter; WDK-build.md, Troubleshooting)",
    cause: e,
  });
}

export class FilterClient {
  /** The ledger snapshot taken on connect (GetLedger for every drive). */
  readonly initialLedger: LedgerSnapshot;
  /** The InfoReply of the connect-time version check. */
  readonly connectInfo: InfoReply;
  private closed = false;
  private readonly openDrives = new Set<Drive>();
  private readonly streams = new Set<TraceStream>();

  private constructor(
    private readonly transport: Transport,
    private readonly control: DeviceHandle,
    readonly clientName: string,
    info: InfoReply,
    ledger: LedgerSnapshot,
  ) {
    this.connectInfo = info;
    this.initialLedger = ledger;
  }

  /**
   * Choose a transport, check the protocol version (ProtocolVersionError when the driver does
   * not accept ours) and take the ledger snapshot.
   */
  static async connect(opts: ConnectOptions = {}): Promise<FilterClient> {
    const clientName = opts.clientName ?? "cdfilter-client";
    const { transport, control } = await chooseTransport(opts);
    try {
      const info = await FilterClient.infoOn(control, clientName);
      const ledger = await FilterClient.callOn(control, ControlIoctls.getLedger, LedgerRequest.create({ driveId: 0 }));
      return new FilterClient(transport, control, clientName, info, ledger);
    } catch (e) {
      await control.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw e;
    }
  }

  /** "win32" or "simulator". */
  get transportKind(): TransportKind {
    return this.transport.kind;
  }

  /** Why that transport: e.g. "not Windows (linux): embedded simulator". */
  get transportReason(): string {
    return this.transport.reason;
  }

  /** Simulator controls (process exit, faults, media), or undefined on Win32. */
  get simulator(): SimulatorControl | undefined {
    return this.transport instanceof SimulatorTransport ? this.transport : undefined;
  }

  private static async callOn<Req, Rep>(h: DeviceHandle, spec: Spec<Req, Rep>, req: Req): Promise<Rep> {
    const r = await h.ioctl(spec.code, spec.request.encode(req), spec.reply.maxSize);
    if (r.status !== 0) {
      const op = `${spec.name} on ${h.path}`;
      throw r.statusExact ? errorFromNtStatus(op, r.status) : errorFromWin32(op, r.win32Error);
    }
    try {
      return spec.reply.decode(r.output);
    } catch (e) {
      throw new ProtocolError(`${spec.name}: reply is not a valid ${spec.reply.typeName} (${(e as Error).message})`, { cause: e });
    }
  }

  /**
   * GetInfo with our protocol version. A driver of an older version that refuses it (version 1
   * accepted only its own) is asked again with its version: every protocol change is additive
   * (proto/cdfilter/control.proto), so this client speaks a superset of it; what the older driver
   * lacks reads as absent (e.g. TraceConfig.output_capture_bytes stays 0: no output capture).
   */
  private static async infoOn(h: DeviceHandle, clientName: string): Promise<InfoReply> {
    let info = await FilterClient.callOn(
      h,
      ControlIoctls.getInfo,
      InfoRequest.create({ clientProtocolVersion: PROTOCOL_VERSION, clientName }),
    );
    if (!info.compatible && info.protocolVersion >= 1 && info.protocolVersion < PROTOCOL_VERSION) {
      info = await FilterClient.callOn(
        h,
        ControlIoctls.getInfo,
        InfoRequest.create({ clientProtocolVersion: info.protocolVersion, clientName }),
      );
    }
    if (!info.compatible) {
      throw new ProtocolVersionError(
        `driver speaks control protocol ${info.protocolVersion} and does not accept this client's ${PROTOCOL_VERSION}`,
        PROTOCOL_VERSION,
        info.protocolVersion,
      );
    }
    return info;
  }

  private live(): void {
    if (this.closed) throw new ClientClosedError("FilterClient is closed", { hint: "connect again: FilterClient.connect()" });
  }

  private call<Req, Rep>(spec: Spec<Req, Rep>, req: Req): Promise<Rep> {
    this.live();
    return FilterClient.callOn(this.control, spec, req);
  }

  /** GetInfo: sends our protocol version; ProtocolVersionError if the driver does not accept it. */
  info(): Promise<InfoReply> {
    this.live();
    return FilterClient.infoOn(this.control, this.clientName);
  }

  /** ListDrives: the drives the core tracks. */
  async drives(): Promise<DriveInfo[]> {
    return (await this.call(ControlIoctls.listDrives, DrivesRequest.create())).drives;
  }

  /**
   * ListDrives, the whole reply: the tracked drives, plus the drives the filter sits on that the
   * core could not register (more than it holds; their I/O passes untraced): `untracked` (the
   * most recent ones still present, arrival order, `since` in monotonic 100 ns units),
   * `untrackedPresent` and `untrackedTotal`. A driver that predates these fields answers with
   * them empty (additive protocol-2 fields).
   */
  drivesReply(): Promise<DrivesReply> {
    return this.call(ControlIoctls.listDrives, DrivesRequest.create());
  }

  /** GetLedger of one drive, or of every drive (0/undefined). InvalidParameterError for an unknown drive. */
  ledger(driveId?: number): Promise<LedgerSnapshot> {
    return this.call(ControlIoctls.getLedger, LedgerRequest.create({ driveId: checkDriveId(driveId) }));
  }

  /** GetPolicy of one drive or every drive. */
  async policy(driveId?: number): Promise<DrivePolicy[]> {
    return (await this.call(ControlIoctls.getPolicy, PolicyRequest.create({ driveId: checkDriveId(driveId) }))).drives;
  }

  /** SetPolicy (POLICY_OBSERVE or POLICY_ENFORCE) on one drive or every drive; returns the new policies. */
  async setPolicy(policy: Policy, driveId?: number): Promise<DrivePolicy[]> {
    if (!VALID_POLICIES.has(policy)) {
      throw new InvalidArgumentError(`policy must be Policy.POLICY_OBSERVE (1) or Policy.POLICY_ENFORCE (2), got ${String(policy)}`);
    }
    const req = SetPolicyRequest.create({ driveId: checkDriveId(driveId), policy });
    return (await this.call(ControlIoctls.setPolicy, req)).drives;
  }

  /** GetTraceConfig. */
  traceConfig(): Promise<TraceConfig> {
    return this.call(ControlIoctls.getTraceConfig, TraceConfigRequest.create());
  }

  /**
   * SetTraceConfig: fields given replace the current ones, fields absent keep their current
   * value (an empty list = trace all). Returns the configuration now in effect.
   */
  async setTraceConfig(cfg: Partial<TraceConfig>): Promise<TraceConfig> {
    const current = await this.traceConfig();
    const next = TraceConfig.create({ ...current, ...Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)) });
    return this.call(ControlIoctls.setTraceConfig, next);
  }

  /** ClearTrace: discard every record in the ring; returns the last seq discarded. */
  async clearTrace(): Promise<bigint> {
    return (await this.call(ControlIoctls.clearTrace, ClearTraceRequest.create())).clearedThrough;
  }

  /** The trace as an async iterator of records and drop notices (see trace-stream.ts). */
  trace(opts: TraceOptions = {}): TraceStream {
    this.live();
    const stream = new TraceStream(
      async () => {
        this.live();
        return this.transport.openControl();
      },
      async () => {
        const info = await this.info();
        return info.oldestSeq > 0n ? info.oldestSeq - 1n : info.newestSeq;
      },
      opts,
      () => this.streams.delete(stream),
    );
    this.streams.add(stream);
    return stream;
  }

  /**
   * Open a drive by driver id (1..N) or name ("CdRom0"); on Win32 also by path ("\\.\CdRom0",
   * "\\.\D:") or drive letter ("D:"). In the simulator the handle belongs to the simulated
   * process `pid`/`image`. The open itself fails with a typed error (e.g. NotFoundError).
   */
  async openDrive(drive: number | string, opts: OpenDriveOptions = {}): Promise<Drive> {
    this.live();
    const drives = await this.drives();
    let target: { id: number; name: string } | string;
    if (typeof drive === "number") {
      const d = drives.find((x) => x.driveId === drive);
      if (!d) {
        throw new InvalidArgumentError(
          `no drive ${drive}: the driver has ${drives.map((x) => `${x.driveId} (${x.name})`).join(", ") || "none"}`,
        );
      }
      target = { id: d.driveId, name: d.name };
    } else {
      const d = drives.find((x) => x.name.toLowerCase() === drive.trim().toLowerCase());
      target = d ? { id: d.driveId, name: d.name } : drive;
    }
    const handle = await this.transport.openDrive(target, { pid: opts.pid, image: opts.image, access: opts.access });
    const id = typeof target === "string" ? 0 : target.id;
    const name = typeof target === "string" ? target : target.name;
    const d = new Drive(handle, id, name, opts.pid ?? process.pid, opts.image ?? "node.exe");
    this.openDrives.add(d);
    const close = d.close.bind(d);
    d.close = async () => {
      this.openDrives.delete(d);
      await close();
    };
    return d;
  }

  /** Close trace streams, drives, the control handle and the transport (the simulator is destroyed). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.streams].map((s) => s.return()));
    await Promise.all([...this.openDrives].map((d) => d.close()));
    await this.control.close();
    await this.transport.close();
  }
}
