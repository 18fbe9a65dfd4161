/**
 * The orchestrator's end of the actor channel (protocol.ts): a loopback TCP server that actors
 * connect to, and WineActor, the handle on one actor process. Used on Linux by WineSession
 * (actors started with `wine node.exe`) and inside Windows by ActorWorld (actors started by a
 * Windows node.exe with child_process.spawn).
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { type ActorEvent, type Command, decodeValue, encodeValue, lineSplitter, type RemoteError, type Reply } from "./protocol.ts";

/** A command an actor failed: the client's typed error, flattened. */
export class ActorCommandError extends Error {
  constructor(
    readonly actor: string,
    readonly op: string,
    readonly remote: RemoteError,
  ) {
    super(`${actor}: ${op} failed: ${remote.name}: ${remote.message}`);
    this.name = "ActorCommandError";
  }
}

type Hello = ActorEvent & { event: "hello" };
type Attach = (socket: net.Socket, hello: Hello, setHandler: (h: (line: string) => void) => void) => void;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  op: string;
}

/** One actor process. */
export class WineActor {
  /** The Windows pid of the process (process.pid inside it), known once it has connected. */
  pid = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: ActorEvent) => void>();
  private socket: net.Socket | undefined;
  private exitCode: number | null | undefined;
  /** Resolves when the process has exited (its exit code, or null after a signal). */
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
    private readonly terminate: (actor: WineActor) => Promise<void>,
  ) {
    this.exited = new Promise((res) => {
      child.on("exit", (code) => {
        this.exitCode = code;
        this.failAll(new Error(`${name}: the process exited (${code})`));
        res(code);
      });
    });
  }

  /** @internal The channel accepted this actor's connection. */
  attach(socket: net.Socket, hello: Hello, setHandler: (h: (line: string) => void) => void): void {
    this.socket = socket;
    this.pid = hello.pid;
    setHandler((line) => this.onLine(line));
    socket.on("close", () => this.failAll(new Error(`${this.name}: connection closed`)));
  }

  private onLine(line: string): void {
    const msg = decodeValue(line) as Reply | ActorEvent;
    if ("event" in msg) {
      for (const l of this.listeners) l(msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new ActorCommandError(this.name, p.op, msg.error));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Send a command; resolves with its value or rejects with ActorCommandError. */
  call<T = unknown>(cmd: Command, timeoutMs = 60_000): Promise<T> {
    const socket = this.socket;
    if (!socket || this.exitCode !== undefined) return Promise.reject(new Error(`${this.name}: not running`));
    const id = this.nextId++;
    return new Promise<T>((res, rej) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        rej(new Error(`${this.name}: ${cmd.op} timed out after ${timeoutMs} ms (log: ${this.logFile})`));
      }, timeoutMs);
      this.pending.set(id, {
        op: cmd.op,
        resolve: (v) => {
          clearTimeout(timer);
          res(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          rej(e);
        },
      });
      socket.write(encodeValue({ id, cmd }) + "\n");
    });
  }

  /** Subscribe to the actor's events (trace items); returns the unsubscribe function. */
  on(listener: (e: ActorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /**
   * TerminateProcess (under Wine: `taskkill /F` from another Windows process). Windows, and Wine,
   * then close the process's handles: the driver sees the closes. Resolves once it is gone.
   */
  async kill(): Promise<void> {
    if (!this.running) return;
    await this.terminate(this);
    await this.exited;
  }

  /** @internal Last resort at shutdown. */
  forceKill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }

  /** The actor's log (its stdout and stderr). */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }
}

/** The loopback server actors connect to; matches each connection to its actor by name. */
export class ActorChannel {
  private server: net.Server | undefined;
  private readonly waiting = new Map<string, Attach>();
  port = 0;

  async listen(): Promise<void> {
    this.server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((res, rej) => {
      this.server!.once("error", rej);
      this.server!.listen(0, "127.0.0.1", () => res());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(socket: net.Socket): void {
    let handler: ((line: string) => void) | undefined;
    let first = true;
    socket.on("error", () => undefined);
    socket.on(
      "data",
      lineSplitter((line) => {
        if (!first) {
          handler?.(line);
          return;
        }
        first = false;
        const msg = decodeValue(line) as ActorEvent;
        const attach = msg.event === "hello" ? this.waiting.get(msg.name) : undefined;
        if (!attach || msg.event !== "hello") {
          socket.destroy();
          return;
        }
        this.waiting.delete(msg.name);
        attach(socket, msg, (h) => {
          handler = h;
        });
      }),
    );
  }

  /** Wait until `actor` connects (or exits, or the time runs out). */
  async connect(actor: WineActor, timeoutMs: number): Promise<void> {
    const name = actor.name;
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => {
        this.waiting.delete(name);
        rej(new Error(`actor ${name} did not connect in ${timeoutMs} ms; its log:\n${actor.log().slice(-2000)}`));
      }, timeoutMs);
      void actor.exited.then((code) => {
        clearTimeout(timer);
        if (this.waiting.delete(name))
          rej(new Error(`actor ${name} exited (${code}) before connecting; its log:\n${actor.log().slice(-2000)}`));
      });
      this.waiting.set(name, (socket, hello, setHandler) => {
        clearTimeout(timer);
        actor.attach(socket, hello, setHandler);
        res();
      });
    });
  }

  close(): void {
    this.server?.close();
  }
}
