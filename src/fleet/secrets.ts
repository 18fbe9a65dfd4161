/**
 * Connection URLs of the fleet commands and keeping their secrets out of every output.
 *
 * NATS (docs/fleet.md, "Credentials and TLS"):
 *   nats://[user:pass@|token@]host[:port][,host2[:port]...][?creds=FILE&tls=1&ca=FILE&cert=FILE&key=FILE]
 *   `tls://host` is `nats://host?tls=1`. A `.creds` file (NATS decentralised JWT + NKey seed) is
 *   read by the client library (credsAuthenticator), never printed.
 * PostgreSQL: a libpq-style URL handed to node-postgres, e.g.
 *   postgres://user:pass@host:5432/db?sslmode=verify-full&sslrootcert=FILE
 *
 * Every error message and note of the fleet commands goes through `Secrets.scrub`, which replaces
 * the passwords/tokens it was given and any `scheme://user:password@` user info by `***`.
 */
import { readFileSync } from "node:fs";
import { usageError } from "../cli/errors.ts";

/** What the NATS client needs, with the secrets separated from the server list. */
export interface NatsTarget {
  /** "host:port" entries (no credentials). */
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** The URL with secrets masked, for notes. */
  display: string;
}

/** Collects secret strings and removes them from any text. */
export class Secrets {
  private readonly values = new Set<string>();

  add(v: string | undefined): void {
    if (v && v.length >= 3) {
      this.values.add(v);
      // The URL-encoded form may appear too.
      this.values.add(encodeURIComponent(v));
    }
  }

  scrub(text: string): string {
    let s = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s/]*@/gi, "$1:***@");
    for (const v of this.values) s = s.split(v).join("***");
    return s;
  }

  /** An Error whose message (and stack) carry no secret. */
  scrubError(e: unknown): Error {
    const err = e instanceof Error ? e : new Error(String(e));
    const clean = new Error(this.scrub(err.message));
    clean.name = err.name;
    clean.stack = this.scrub(err.stack ?? "");
    return clean;
  }
}

/** Parse a NATS URL (or a comma-separated list). Throws a usage error naming what is wrong, never the secret. */
export function parseNatsUrl(text: string, secrets: Secrets): NatsTarget {
  const parts = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw usageError("--nats needs a URL", "e.g. --nats nats://127.0.0.1:4222");
  const t: NatsTarget = { servers: [], display: "" };
  const shown: string[] = [];
  for (const [i, raw] of parts.entries()) {
    const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `nats://${raw}`;
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      throw usageError(`--nats: entry ${i + 1} is not a URL`, "e.g. nats://user:pass@host:4222 or tls://host:4222?ca=ca.pem");
    }
    if (!["nats:", "tls:"].includes(u.protocol))
      throw usageError(
        `--nats: unsupported scheme ${u.protocol}`,
        "use nats:// or tls:// (TLS options: ?tls=1&ca=FILE&cert=FILE&key=FILE)",
      );
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    if (user && pass) {
      t.user = user;
      t.pass = pass;
      secrets.add(pass);
    } else if (user) {
      t.token = user;
      secrets.add(user);
    }
    if (u.protocol === "tls:") t.tls ??= {};
    const q = u.searchParams;
    if (q.get("tls") === "1" || q.get("tls") === "true" || q.get("tls") === "required") t.tls ??= {};
    const file = (k: string) => q.get(k) ?? undefined;
    if (file("ca") || file("cert") || file("key")) {
      t.tls = {
        ...t.tls,
        caFile: file("ca") ?? t.tls?.caFile,
        certFile: file("cert") ?? t.tls?.certFile,
        keyFile: file("key") ?? t.tls?.keyFile,
      };
    }
    if (file("creds")) t.credsFile = file("creds");
    const port = u.port || "4222";
    t.servers.push(`${u.hostname}:${port}`);
    shown.push(`${u.protocol}//${user ? (pass ? `${user}:***@` : "***@") : ""}${u.hostname}:${port}`);
  }
  t.display = shown.join(",");
  return t;
}

/** Read a creds file, failing with a usage error that names the file (not its content). */
export function readCreds(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    throw usageError(
      `cannot read the NATS creds file ${file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
      "give a readable .creds file",
    );
  }
}

/** A PostgreSQL URL with its password registered as a secret; returns the masked form for notes. */
export function registerPgUrl(text: string, secrets: Secrets): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw usageError("--pg is not a URL", "e.g. --pg postgres://user:pass@host:5432/db?sslmode=require");
  }
  if (!["postgres:", "postgresql:"].includes(u.protocol)) throw usageError(`--pg: unsupported scheme ${u.protocol}`, "use postgres://");
  if (u.password) secrets.add(decodeURIComponent(u.password));
  for (const k of ["password", "sslpassword"]) secrets.add(u.searchParams.get(k) ?? undefined);
  return secrets.scrub(
    `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}${u.password ? ":***" : ""}@` : ""}${u.host}${u.pathname}`,
  );
}
