/**
 * The `cdfilter ui` web server (hono on @hono/node-server): the page's static files, one
 * Server-Sent Events stream, and two optional actions. docs/ui.md describes the routes and the
 * security model:
 *
 * - binds 127.0.0.1 by default; any other address needs the per-run token for every /api route;
 * - on loopback, requests whose Host header is not the loopback address are refused (a web page
 *   elsewhere cannot reach the server through DNS rebinding);
 * - actions (POST /api/policy, POST /api/clear-trace) exist only with `allowActions`, and need
 *   the token in an `Authorization: Bearer` header (a cross-site form cannot send one);
 * - every response carries a strict Content-Security-Policy (scripts and styles from this
 *   server only, no inline code, no other origin), nosniff and no-referrer; the page renders
 *   driver strings as text only.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { type Context, Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import { PACKAGE_ROOT } from "../sim/locate.ts";
import { Hub } from "./hub.ts";
import type { Hello } from "./protocol.ts";
import type { UiSource } from "./source.ts";

export interface UiServerOptions {
  source: UiSource;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Enable POST /api/policy and /api/clear-trace. */
  allowActions?: boolean;
  /** The per-run token (default: 24 random bytes, base64url). */
  token?: string;
  /** History kept for pages, bytes of encoded frames (default 256 MiB; files keep all). */
  historyBytes?: number;
  /** Called when the source stops with an error (the server keeps serving what it has). */
  onSourceError?: (e: unknown) => void;
}

export interface UiServer {
  /** The URL to open (with the token in its fragment when one is needed). */
  url: string;
  /** Base URL without the token. */
  origin: string;
  token: string;
  /** True when /api routes need the token (non-loopback bind). */
  tokenRequired: boolean;
  hub: Hub;
  /** Resolves when the source has stopped. */
  sourceDone: Promise<void>;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The static files of the page (built by `npm run build:ui`, shipped in the package). */
function loadAssets(): Map<string, { body: Uint8Array; type: string }> {
  const files: [string, string, string][] = [
    ["/", "index.html", "text/html; charset=utf-8"],
    ["/app.js", "app.js", "text/javascript; charset=utf-8"],
    ["/app.css", "app.css", "text/css; charset=utf-8"],
  ];
  const m = new Map<string, { body: Uint8Array; type: string }>();
  for (const [route, file, type] of files) {
    // From the package root, not from this module: the CLI runs bundled (dist/cli/cdfilter.mjs).
    const path = join(PACKAGE_ROOT, "src", "ui", "static", file);
    let body: Uint8Array;
    try {
      body = readFileSync(path);
    } catch (e) {
      throw new Error(`the page's ${file} is missing (${(e as Error).message}): run npm run build:ui`);
    }
    m.set(route, { body, type });
  }
  return m;
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const host = o.host ?? "127.0.0.1";
  const tokenRequired = !isLoopback(host);
  const token = o.token ?? randomBytes(24).toString("base64url");
  const allowActions = o.allowActions === true;
  const source = o.source;
  const hub = new Hub(source.kind === "file" ? Number.POSITIVE_INFINITY : (o.historyBytes ?? 256 * 1024 * 1024));
  const assets = loadAssets();
  let port = 0;

  const tokenOk = (given: string | undefined): boolean => {
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const bearer = (c: Context) => {
    const h = c.req.header("authorization");
    return h?.startsWith("Bearer ") ? h.slice(7).trim() : undefined;
  };

  const app = new Hono();
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: undefined,
      strictTransportSecurity: false,
      referrerPolicy: "no-referrer",
      xFrameOptions: "DENY",
      crossOriginResourcePolicy: "same-origin",
      crossOriginOpenerPolicy: "same-origin",
    }),
  );
  app.use("*", async (c, next) => {
    c.header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    c.header("Cache-Control", "no-store");
    if (!tokenRequired) {
      // DNS rebinding: a loopback server answers only to its loopback names.
      const h = (c.req.header("host") ?? "").toLowerCase();
      const ok = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${host}:${port}`];
      if (!ok.includes(h)) return c.text("cdfilter ui: wrong Host header (only loopback names are served)\n", 421);
    }
    if (c.req.path.startsWith("/api/") && tokenRequired && !tokenOk(bearer(c) ?? c.req.query("token"))) {
      return c.text("cdfilter ui: this server needs its token (see the URL it printed)\n", 401);
    }
    await next();
  });

  for (const [route, a] of assets) {
    app.get(route, (c) => c.body(a.body as Uint8Array<ArrayBuffer>, 200, { "Content-Type": a.type, "X-Content-Type-Options": "nosniff" }));
  }

  let hello: Hello = { source: source.kind, title: source.title, actions: allowActions, drives: [], version: 1 };
  hello = { ...hello, drives: await source.drives() };

  app.get("/api/meta", async (c) =>
    c.json({ ...hello, drives: await source.drives(), records: hub.records, evicted: hub.evictedRecords, ended: hub.isEnded }),
  );

  app.get("/api/stream", (c) =>
    streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      const r = hub.newReader();
      await stream.writeSSE({ event: "hello", data: JSON.stringify({ ...hello, drives: await source.drives() }) });
      while (open) {
        if (r.ledgerVersion !== hub.ledgerVersion && hub.ledger) {
          r.ledgerVersion = hub.ledgerVersion;
          await stream.writeSSE({ event: "ledger", data: JSON.stringify(hub.ledger) });
          continue;
        }
        const f = hub.take(r);
        if (f) {
          await stream.writeSSE({ event: f.event, data: f.data });
          continue;
        }
        if (!(await hub.wait(15_000)) && open) await stream.write(": keep-alive\n\n");
      }
    }),
  );

  const actionGuard = async (c: Context, run: (body: Record<string, unknown>) => Promise<unknown>) => {
    if (!allowActions || !source.actions)
      return c.json({ error: "actions are off: start `cdfilter ui --allow-actions` on a live session" }, 403);
    if (!tokenOk(bearer(c))) return c.json({ error: "this action needs the run's token (Authorization: Bearer)" }, 401);
    if (!(c.req.header("content-type") ?? "").startsWith("application/json")) return c.json({ error: "send application/json" }, 415);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: "the body is not JSON" }, 400);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return c.json({ error: "the body must be a JSON object" }, 400);
    try {
      return c.json({ ok: true, result: await run(body as Record<string, unknown>) });
    } catch (e) {
      return c.json({ error: (e as Error).message }, 500);
    }
  };
  app.post("/api/policy", (c) =>
    actionGuard(c, async (b) => {
      const driveId = b.driveId ?? 0;
      if (typeof driveId !== "number" || !Number.isInteger(driveId) || driveId < 0 || driveId > 16) throw new Error("driveId: 0..16");
      if (b.policy !== "observe" && b.policy !== "enforce") throw new Error('policy: "observe" or "enforce"');
      return source.actions!.setPolicy(driveId, b.policy);
    }),
  );
  app.post("/api/clear-trace", (c) => actionGuard(c, async () => ({ clearedThrough: String(await source.actions!.clearTrace()) })));

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: o.port ?? 0 }, () => resolve(s));
    s.once("error", reject);
  });
  port = (server.address() as AddressInfo).port;

  const ctl = new AbortController();
  const sourceDone = source
    .run(
      {
        events: (evs) => hub.push(evs),
        ledger: (v) => hub.setLedger(v),
        end: () => hub.end(),
      },
      ctl.signal,
    )
    .catch((e) => {
      if (!ctl.signal.aborted) o.onSourceError?.(e);
    });

  const hostPart = host.includes(":") ? `[${host}]` : host;
  const origin = `http://${hostPart}:${port}`;
  const needToken = tokenRequired || allowActions;
  return {
    url: needToken ? `${origin}/#token=${token}` : `${origin}/`,
    origin,
    token,
    tokenRequired,
    hub,
    sourceDone,
    async close() {
      ctl.abort();
      await sourceDone;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
