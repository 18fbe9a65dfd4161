/**
 * Real servers for the fleet tests and benchmark: a JetStream-enabled `nats-server` and a
 * throw-away PostgreSQL cluster, both on loopback with their state in a temporary directory.
 *
 * nats-server: `nats-server -a 127.0.0.1 -p PORT -js -sd DIR` (NATS documentation, "JetStream"
 * / "Flags"). PostgreSQL: `initdb` then `pg_ctl start` (PostgreSQL 15 documentation, "initdb",
 * "pg_ctl"); initdb refuses to run as root, so as root both run as the `postgres` user through
 * `runuser` and the data directory is handed to that user. The cluster accepts loopback TCP
 * connections with a password (scram-sha-256) and local socket connections without one.
 *
 * `findServers()` says what is missing; callers decide whether that is a skip or (CI=true) a
 * failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServerBinaries {
  natsServer?: string;
  pgBin?: string;
  /** Human-readable list of what is missing (empty: everything found). */
  missing: string[];
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** Locate nats-server (PATH) and the PostgreSQL server binaries (PATH, else /usr/lib/postgresql/<newest>/bin). */
export function findServers(): ServerBinaries {
  const natsServer = which("nats-server");
  let pgBin: string | undefined;
  const initdb = which("initdb");
  if (initdb && existsSync(join(initdb, "..", "pg_ctl"))) pgBin = join(initdb, "..");
  else if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql")
      .filter((v) => existsSync(join("/usr/lib/postgresql", v, "bin", "pg_ctl")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) pgBin = join("/usr/lib/postgresql", versions[0], "bin");
  }
  const missing: string[] = [];
  if (!natsServer) missing.push("nats-server (Debian package nats-server)");
  if (!pgBin) missing.push("PostgreSQL server binaries initdb/pg_ctl (Debian package postgresql)");
  return { natsServer, pgBin, missing };
}

/** A free loopback TCP port (bound, then released). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface NatsServerOptions {
  port?: number;
  storeDir?: string;
  user?: string;
  pass?: string;
}

/** A running `nats-server -js`; stop() and start() again keep port and store (a restart). */
export class NatsServer {
  readonly port: number;
  readonly storeDir: string;
  private proc: ChildProcess | undefined;
  private log = "";

  private constructor(
    private readonly bin: string,
    port: number,
    storeDir: string,
    private readonly auth: { user: string; pass: string } | undefined,
  ) {
    this.port = port;
    this.storeDir = storeDir;
  }

  static async start(bin: string, o: NatsServerOptions = {}): Promise<NatsServer> {
    const port = o.port ?? (await freePort());
    const storeDir = o.storeDir ?? mkdtempSync(join(tmpdir(), "cdf-nats-"));
    const s = new NatsServer(bin, port, storeDir, o.user ? { user: o.user, pass: o.pass ?? "" } : undefined);
    await s.start();
    return s;
  }

  /** nats://127.0.0.1:PORT (credentials, when the server has them, are the caller's to add). */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const args = ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir];
    if (this.auth) args.push("--user", this.auth.user, "--pass", this.auth.pass);
    const p = spawn(this.bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.log = "";
    const keep = (b: Buffer) => {
      this.log = (this.log + b.toString()).slice(-8192);
    };
    p.stdout?.on("data", keep);
    p.stderr?.on("data", keep);
    this.proc = p;
    try {
      await waitPort(this.port, 20_000, "nats-server");
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.log}`);
    }
  }

  /** SIGTERM and wait for exit (JetStream flushes its store). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    if (p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill("SIGKILL"), 10_000);
      p.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      p.kill("SIGTERM");
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

export interface PgServerOptions {
  user?: string;
  password?: string;
}

/** A throw-away PostgreSQL cluster; stop() and start() again keep port and data (a restart). */
export class PgServer {
  readonly port: number;
  readonly dir: string;
  readonly user: string;
  readonly password: string;
  private running = false;

  private constructor(
    private readonly bin: string,
    port: number,
    dir: string,
    user: string,
    password: string,
  ) {
    this.port = port;
    this.dir = dir;
    this.user = user;
    this.password = password;
  }

  private static asRoot(): boolean {
    return typeof process.getuid === "function" && process.getuid() === 0;
  }

  private run(cmd: string, args: string[]): string {
    const full = join(this.bin, cmd);
    const [file, argv] = PgServer.asRoot() ? ["runuser", ["-u", "postgres", "--", full, ...args]] : [full, args];
    try {
      return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${cmd} failed: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
  }

  static async start(bin: string, o: PgServerOptions = {}): Promise<PgServer> {
    const base = mkdtempSync(join(tmpdir(), "cdf-pg-"));
    const dir = join(base, "data");
    mkdirSync(dir, { mode: 0o700 });
    const user = o.user ?? "cdfilter";
    const password = o.password ?? `pw-${Math.random().toString(36).slice(2)}`;
    const pwfile = join(base, "pw");
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (PgServer.asRoot()) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
      chmodSync(base, 0o755);
      chownSync(base, uid, gid);
      chownSync(dir, uid, gid);
      chownSync(pwfile, uid, gid);
    }
    const s = new PgServer(bin, await freePort(), dir, user, password);
    s.run("initdb", [
      "-D",
      dir,
      "-U",
      user,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      `--pwfile=${pwfile}`,
      "-E",
      "UTF8",
      "--no-sync",
    ]);
    await s.start();
    return s;
  }

  /** postgres://USER:PASSWORD@127.0.0.1:PORT/postgres */
  get url(): string {
    return `postgres://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    if (this.running) return;
    // fsync off: a test cluster (PostgreSQL documentation, "Non-Durable Settings").
    this.run("pg_ctl", [
      "-D",
      this.dir,
      "-w",
      "-t",
      "120",
      "-l",
      join(this.dir, "server.log"),
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=2GB -c checkpoint_timeout=30min`,
      "start",
    ]);
    this.running = true;
    await waitPort(this.port, 20_000, "postgres");
  }

  /** pg_ctl stop -m fast: open sessions are ended (clients see their connection drop). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.run("pg_ctl", ["-D", this.dir, "-w", "-t", "60", "-m", "fast", "stop"]);
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(join(this.dir, ".."), { recursive: true, force: true });
    }
  }
}
