/**
 * A Windows actor: the program every Windows process of the Wine end-to-end runs (node.exe under
 * Wine, bundled to build/wine/actor.mjs by scripts/wine/setup.sh). It is one real Windows
 * process with its own handles; the orchestrator (WineSession, Linux side) tells it what to do
 * over a loopback TCP connection (protocol.ts), and it does it through the client library's
 * Win32 transport: FilterClient on \\.\CdFilter, Drive on \\.\CdFilterSim<i>, raw
 * DeviceIoControl for the error paths, the FSCTL wrappers on a file of C:.
 *
 * Usage (under Wine): node.exe actor.mjs <port> <name>
 * stdout/stderr must be files (node.exe under Wine dies with EBADF on a pipe); the actor logs one
 * line per command there.
 */
import { writeFileSync } from "node:fs";
import net from "node:net";
import { FilterClient } from "../client/client.ts";
import type { Drive } from "../client/drive.ts";
import { CdfilterError } from "../client/errors.ts";
import { makeMediaCompatible, setDefectManagement, writeUsnCloseRecord } from "../client/fsctl.ts";
import { Policy } from "../client/gen/cdfilter.ts";
import type { TraceStream } from "../client/trace-stream.ts";
import type { DeviceHandle } from "../client/transport.ts";
import { FILE_READ_ATTRIBUTES, GENERIC_READ, GENERIC_WRITE } from "../client/transport.ts";
import { CONTROL_DEVICE_PATH, Win32Transport } from "../client/transports/win32.ts";
import { type ActorEvent, type Command, decodeValue, encodeValue, lineSplitter, type RemoteError, type Reply } from "./protocol.ts";

/** Every verb passes the I/O manager's CTL_CODE access check with this (pass-through needs both). */
const FULL_ACCESS = (GENERIC_READ | GENERIC_WRITE | FILE_READ_ATTRIBUTES) >>> 0;

/** START STOP UNIT, LoEj=1 Start=0: eject (SBC/MMC). */
const CDB_EJECT = Uint8Array.of(0x1b, 0, 0, 0, 0x02, 0);
/** PREVENT ALLOW MEDIUM REMOVAL, prevent=0: allow. */
const CDB_ALLOW = Uint8Array.of(0x1e, 0, 0, 0, 0x00, 0);

function remoteError(e: unknown): RemoteError {
  if (e instanceof CdfilterError) {
    return { name: e.name, message: e.message, win32Error: e.win32Error, ntStatus: e.ntStatus };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message };
}

class Actor {
  private client: FilterClient | undefined;
  private win32: Win32Transport | undefined;
  private readonly drives = new Map<string, Drive>();
  private readonly raw = new Map<string, DeviceHandle>();
  private stream: { stream: TraceStream; abort: AbortController; done: Promise<void> } | undefined;

  constructor(
    private readonly name: string,
    private readonly send: (m: Reply | ActorEvent) => void,
  ) {}

  private async connected(): Promise<FilterClient> {
    this.client ??= await FilterClient.connect({ transport: "win32", clientName: `wine-actor-${this.name}` });
    return this.client;
  }

  private async transport(): Promise<Win32Transport> {
    this.win32 ??= await Win32Transport.create({ reason: "wine end-to-end raw requests" });
    return this.win32;
  }

  private drive(label: string | undefined): Drive {
    const d = this.drives.get(label ?? "main");
    if (!d) throw new Error(`no open drive handle "${label ?? "main"}"`);
    return d;
  }

  async run(cmd: Command): Promise<unknown> {
    switch (cmd.op) {
      case "connect":
        this.client ??= await FilterClient.connect({ transport: "win32", clientName: cmd.clientName ?? `wine-actor-${this.name}` });
        return { transport: this.client.transportKind, info: this.client.connectInfo, ledger: this.client.initialLedger };
      case "info":
        return (await this.connected()).info();
      case "drives":
        return (await this.connected()).drives();
      case "ledger":
        return (await this.connected()).ledger(cmd.drive);
      case "policy":
        return (await this.connected()).policy(cmd.drive);
      case "set-policy":
        return (await this.connected()).setPolicy(cmd.policy === "enforce" ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE, cmd.drive);
      case "clear-trace":
        return (await this.connected()).clearTrace();
      case "open": {
        const label = cmd.handle ?? "main";
        if (this.drives.has(label)) throw new Error(`handle "${label}" is already open`);
        const d = await (await this.connected()).openDrive(cmd.drive, { access: cmd.access ?? FULL_ACCESS });
        this.drives.set(label, d);
        return { driveId: d.driveId, name: d.name, pid: process.pid };
      }
      case "action":
        return this.action(cmd.verb, this.drive(cmd.handle), cmd.args ?? []);
      case "passthrough":
        return this.drive(cmd.handle).passThrough(cmd.cdb);
      case "close": {
        const label = cmd.handle ?? "main";
        const d = this.drive(label);
        this.drives.delete(label);
        await d.close();
        return { closed: label };
      }
      case "follow":
        return this.follow(cmd.from);
      case "unfollow":
        return this.unfollow();
      case "raw-ioctl":
        return this.rawIoctl(cmd.target, cmd.code, cmd.input, cmd.outCap, cmd.access);
      case "fsctl":
        return this.fsctl(cmd.path);
      case "exit":
        // Leave with every handle open: the driver must see the closes Wine sends for us.
        setImmediate(() => process.exit(cmd.code ?? 0));
        return { exiting: true };
      default:
        throw new Error(`unknown op ${(cmd as { op: string }).op}`);
    }
  }

  private async action(verb: string, d: Drive, args: string[]): Promise<unknown> {
    switch (verb) {
      case "lock":
        return d.lock();
      case "unlock":
        return d.unlock();
      case "media-lock":
        return d.mediaRemoval(true);
      case "media-unlock":
        return d.mediaRemoval(false);
      case "eject":
        return d.eject();
      case "passthrough-eject":
        return d.passThrough(CDB_EJECT);
      case "passthrough-allow":
        return d.passThrough(CDB_ALLOW);
      case "read": {
        const offset = BigInt(args[0] ?? "0");
        const length = Number(args[1] ?? "2048");
        return d.read(offset, length);
      }
      default:
        throw new Error(`unknown drive verb "${verb}"`);
    }
  }

  private async follow(from: bigint | undefined): Promise<unknown> {
    if (this.stream) throw new Error("already following the trace");
    const client = await this.connected();
    const abort = new AbortController();
    const stream = client.trace({ from, signal: abort.signal, follow: true });
    const done = (async () => {
      try {
        for await (const item of stream) this.send({ event: "trace", item });
        this.send({ event: "trace-end" });
      } catch (e) {
        this.send({ event: "trace-end", error: abort.signal.aborted ? undefined : remoteError(e) });
      }
    })();
    this.stream = { stream, abort, done };
    return { following: true };
  }

  private async unfollow(): Promise<unknown> {
    const s = this.stream;
    if (!s) return { following: false };
    this.stream = undefined;
    s.abort.abort();
    await s.done;
    return { following: false, stats: s.stream.stats };
  }

  private async rawIoctl(target: string, code: number, input: Uint8Array, outCap: number, access?: number): Promise<unknown> {
    const path = target === "control" ? CONTROL_DEVICE_PATH : target.startsWith("drive:") ? `\\\\.\\${target.slice(6)}` : target;
    const key = `${path}|${access ?? FULL_ACCESS}`;
    let h = this.raw.get(key);
    if (!h) {
      h = (await this.transport()).openPath(path, access ?? FULL_ACCESS);
      this.raw.set(key, h);
    }
    return h.ioctl(code, input, outCap);
  }

  /** The three FSCTL wrappers on a regular file: each outcome as { ok } or the typed error. */
  private async fsctl(path: string): Promise<unknown> {
    writeFileSync(path, "cdfilter wine end-to-end: a regular file for the FSCTL checks\n");
    const h = (await this.transport()).openPath(path, (GENERIC_READ | GENERIC_WRITE) >>> 0);
    const outcome = async (f: () => Promise<unknown>) => {
      try {
        return { ok: true, value: await f() };
      } catch (e) {
        return { ok: false, error: remoteError(e) };
      }
    };
    try {
      return {
        makeMediaCompatible: await outcome(() => makeMediaCompatible(h, { closeDisc: false })),
        setDefectManagement: await outcome(() => setDefectManagement(h, { disable: true })),
        writeUsnCloseRecord: await outcome(() => writeUsnCloseRecord(h)),
      };
    } finally {
      await h.close();
    }
  }
}

function main(): void {
  const port = Number(process.argv[2]);
  const name = process.argv[3] ?? `actor-${process.pid}`;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error("usage: node actor.mjs <port> <name>");
    process.exit(2);
  }
  const socket = net.connect(port, "127.0.0.1");
  const send = (m: Reply | ActorEvent) => socket.write(encodeValue(m) + "\n");
  const actor = new Actor(name, send);
  // Commands run one at a time, in order: a step's effects are complete before the next starts.
  let queue: Promise<void> = Promise.resolve();
  socket.on("connect", () => {
    send({ event: "hello", name, pid: process.pid, node: process.version, platform: process.platform });
  });
  socket.on(
    "data",
    lineSplitter((line) => {
      const msg = decodeValue(line) as { id: number; cmd: Command };
      queue = queue.then(async () => {
        const started = Date.now();
        try {
          const value = await actor.run(msg.cmd);
          console.log(`${name} #${msg.id} ${msg.cmd.op} ok ${Date.now() - started} ms`);
          send({ id: msg.id, ok: true, value });
        } catch (e) {
          console.log(`${name} #${msg.id} ${msg.cmd.op} failed: ${String(e)}`);
          send({ id: msg.id, ok: false, error: remoteError(e) });
        }
      });
    }),
  );
  // The orchestrator going away ends the actor (its handles are closed by Wine).
  socket.on("close", () => process.exit(0));
  socket.on("error", (e) => {
    console.error(`${name}: orchestrator connection: ${e.message}`);
    process.exit(3);
  });
}

main();
