// The `cdfilter ui` server without a browser: the bounded history and its slow-client drop
// notices (over a real HTTP connection that stops reading), the security rules (Host check,
// token beyond loopback, actions only with --allow-actions and the token), file sources, and the
// command line.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FilterClient, Policy, RecordKind, type TraceEvent, TraceRecord } from "../src/client/index.ts";
import { loadScenario, playActivity } from "../src/cli/context.ts";
import { CliError } from "../src/cli/errors.ts";
import { recordJsonLine } from "../src/cli/records.ts";
import { Hub } from "../src/ui/hub.ts";
import type { DropNotice, LedgerView, RowsFrame } from "../src/ui/protocol.ts";
import { LiveSource, type UiSink, type UiSource, openTraceFile } from "../src/ui/source.ts";
import { startUiServer } from "../src/ui/server.ts";

const dir = mkdtempSync(join(tmpdir(), "cdfilter-ui-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rec(seq: number, image = "burst.exe"): TraceEvent {
  return {
    type: "record",
    record: TraceRecord.create({
      seq: BigInt(seq),
      kind: RecordKind.RECORD_KIND_DISPATCH,
      driveId: 1,
      pid: 7000,
      openerImage: image,
      major: 3,
    }),
  };
}

/** A source that produces `total` records in batches as fast as the server takes them. */
class CountingSource implements UiSource {
  readonly kind = "live" as const;
  readonly title = "counting";
  constructor(
    private readonly total: number,
    private readonly batch = 1000,
  ) {}
  async drives() {
    return [{ driveId: 1, name: "CdRom0", policy: "observe" }];
  }
  async run(sink: UiSink, signal: AbortSignal) {
    for (let s = 1; s <= this.total && !signal.aborted; s += this.batch) {
      const evs: TraceEvent[] = [];
      for (let i = s; i < s + this.batch && i <= this.total; i++) evs.push(rec(i));
      sink.events(evs);
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  async close() {}
}

interface SseEvent {
  event: string;
  data: string;
}

/** GET a stream and parse its events until `until` says stop (or the server ends the response). */
function readSse(
  url: string,
  opts: { headers?: Record<string, string>; pauseUntil?: () => boolean; until: (evs: SseEvent[]) => boolean },
): Promise<{ status: number; events: SseEvent[] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: opts.headers }, (res) => {
      const events: SseEvent[] = [];
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, events });
        return;
      }
      let buf = "";
      res.setEncoding("utf8");
      const done = () => {
        req.destroy();
        resolve({ status: 200, events });
      };
      res.on("data", (chunk: string) => {
        buf += chunk;
        let i = buf.indexOf("\n\n");
        while (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          i = buf.indexOf("\n\n");
          if (block.startsWith(":")) continue;
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          events.push({ event, data: data.join("\n") });
        }
        if (opts.until(events)) done();
      });
      res.on("end", () => resolve({ status: 200, events }));
      if (opts.pauseUntil) {
        res.pause();
        const t = setInterval(() => {
          if (opts.pauseUntil!()) {
            clearInterval(t);
            res.resume();
          }
        }, 10);
      }
    });
    req.on("error", reject);
    req.end();
  });
}

function http(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? "GET", headers: o.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

describe("hub: bounded history, drop notices for slow pages", () => {
  it("gives a reader that fell behind one notice with the exact count, then the oldest kept frame", () => {
    const hub = new Hub(4096);
    const r = hub.newReader();
    hub.push([rec(1), rec(2)]);
    expect(hub.take(r)?.event).toBe("rows");
    for (let s = 3; s < 503; s += 10) hub.push(Array.from({ length: 10 }, (_, i) => rec(s + i)));
    const notice = hub.take(r)!;
    expect(notice.event).toBe("dropped");
    const n = JSON.parse(notice.data) as DropNotice;
    expect(n.why).toBe("slow-client");
    expect(n.afterSeq).toBe(2);
    let got = 0;
    let first = 0;
    for (let f = hub.take(r); f; f = hub.take(r)) {
      const rows = (JSON.parse(f.data) as RowsFrame).rows;
      if (!first) first = Number(rows[0]![0]);
      got += rows.length;
    }
    expect(first).toBe(2 + Number(n.count) + 1);
    expect(2 + Number(n.count) + got).toBe(502);
  });

  it("keeps ring drops from the driver in order as their own frames", () => {
    const hub = new Hub(Number.POSITIVE_INFINITY);
    hub.push([rec(1), { type: "dropped", count: 5n, afterSeq: 1n }, rec(7)]);
    const r = hub.newReader();
    expect([hub.take(r)?.event, hub.take(r)?.event, hub.take(r)?.event, hub.take(r)]).toEqual(["rows", "dropped", "rows", undefined]);
  });
});

describe("server: streaming with back-pressure", () => {
  it("a page that stops reading gets a slow-client drop notice; the server keeps only its bounded history", async () => {
    const total = 100_000;
    const server = await startUiServer({ source: new CountingSource(total), historyBytes: 256 * 1024 });
    try {
      const { events } = await readSse(`${server.origin}/api/stream`, {
        pauseUntil: () => server.hub.records >= total,
        until: (evs) => {
          let n = 0;
          for (const e of evs) {
            if (e.event === "rows") n += (JSON.parse(e.data) as RowsFrame).rows.length;
            if (e.event === "dropped") n += Number((JSON.parse(e.data) as DropNotice).count);
          }
          return n >= total;
        },
      });
      const drops = events.filter((e) => e.event === "dropped").map((e) => JSON.parse(e.data) as DropNotice);
      expect(drops.length).toBeGreaterThan(0);
      expect(drops.every((d) => d.why === "slow-client")).toBe(true);
      const rows = events.filter((e) => e.event === "rows").flatMap((e) => (JSON.parse(e.data) as RowsFrame).rows);
      // Nothing twice, nothing silently missing: rows ascend and the notices account for the rest.
      for (let i = 1; i < rows.length; i++) expect(Number(rows[i]![0])).toBeGreaterThan(Number(rows[i - 1]![0]));
      expect(rows.length + drops.reduce((a, d) => a + Number(d.count), 0)).toBe(total);
      expect(server.hub.evictedRecords).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe("server: security", () => {
  it("refuses a Host that is not loopback (DNS rebinding) and sends a strict CSP", async () => {
    const server = await startUiServer({ source: new CountingSource(10) });
    try {
      const port = new URL(server.origin).port;
      expect((await http(`${server.origin}/api/meta`, { headers: { Host: `evil.example:${port}` } })).status).toBe(421);
      const ok = await http(`${server.origin}/`);
      expect(ok.status).toBe(200);
      expect(ok.body).not.toMatch(/<script>|\son[a-z]+=/); // no inline script or handler in the page
      expect(server.url).toBe(`${server.origin}/`); // loopback, read-only: no token needed
    } finally {
      await server.close();
    }
  });

  it("beyond loopback every /api route needs the token", async () => {
    const server = await startUiServer({ source: new CountingSource(10), host: "0.0.0.0" });
    try {
      const base = `http://127.0.0.1:${new URL(server.origin).port}`;
      expect(server.tokenRequired).toBe(true);
      expect(server.url).toContain(`#token=${server.token}`);
      expect((await http(`${base}/api/meta`)).status).toBe(401);
      expect((await http(`${base}/api/meta`, { headers: { Authorization: "Bearer wrong" } })).status).toBe(401);
      expect((await http(`${base}/api/meta`, { headers: { Authorization: `Bearer ${server.token}` } })).status).toBe(200);
      const sse = await readSse(`${base}/api/stream?token=${server.token}`, { until: (evs) => evs.some((e) => e.event === "rows") });
      expect(sse.status).toBe(200);
      expect((await readSse(`${base}/api/stream`, { until: () => true })).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it("actions only with allowActions and the token in a header; they reach the filter", async () => {
    const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1 } });
    const readOnly = await startUiServer({ source: new LiveSource(client, "sim") });
    const body = JSON.stringify({ driveId: 1, policy: "enforce" });
    const json = { "Content-Type": "application/json" };
    try {
      expect(
        (
          await http(`${readOnly.origin}/api/policy`, {
            method: "POST",
            headers: { ...json, Authorization: `Bearer ${readOnly.token}` },
            body,
          })
        ).status,
      ).toBe(403);
    } finally {
      await readOnly.close();
    }
    const server = await startUiServer({ source: new LiveSource(client, "sim"), allowActions: true });
    try {
      expect(server.url).toContain("#token=");
      const auth = { Authorization: `Bearer ${server.token}` };
      expect((await http(`${server.origin}/api/policy`, { method: "POST", headers: json, body })).status).toBe(401);
      expect((await http(`${server.origin}/api/policy?token=${server.token}`, { method: "POST", headers: json, body })).status).toBe(401);
      expect(
        (await http(`${server.origin}/api/policy`, { method: "POST", headers: { ...auth, "Content-Type": "text/plain" }, body })).status,
      ).toBe(415);
      expect(
        (await http(`${server.origin}/api/policy`, { method: "POST", headers: { ...auth, ...json }, body: '{"policy":"nope"}' })).status,
      ).toBe(500);
      expect((await client.policy(1))[0]!.policy).toBe(Policy.POLICY_OBSERVE);
      const ok = await http(`${server.origin}/api/policy`, { method: "POST", headers: { ...auth, ...json }, body });
      expect(ok.status).toBe(200);
      expect((await client.policy(1))[0]!.policy).toBe(Policy.POLICY_ENFORCE);
      const d = await client.openDrive(1, { pid: 10, image: "a.exe" });
      await d.close();
      expect((await client.info()).newestSeq).toBeGreaterThan(0n);
      const cleared = await http(`${server.origin}/api/clear-trace`, { method: "POST", headers: { ...auth, ...json }, body: "{}" });
      expect(cleared.status).toBe(200);
      expect((await client.info()).oldestSeq).toBe(0n);
    } finally {
      await server.close();
      await client.close();
    }
  });
});

describe("file sources", () => {
  it("serves a JSON Lines trace whole, with the owners rebuilt from its records", async () => {
    const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1 } });
    const scenario = loadScenario("scenarios/burner-holds.yaml");
    await playActivity(client, { scenario: scenario.file }, scenario);
    const lines: string[] = [];
    for await (const ev of client.trace({ follow: false })) if (ev.type === "record") lines.push(recordJsonLine(ev.record));
    await client.close();
    const file = join(dir, "t.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n{"type":"dropped","count":"3","afterSeq":"99"}\n`);
    const server = await startUiServer({ source: await openTraceFile(file) });
    try {
      const { events } = await readSse(`${server.origin}/api/stream`, { until: (evs) => evs.some((e) => e.event === "end") });
      const rows = events.filter((e) => e.event === "rows").flatMap((e) => (JSON.parse(e.data) as RowsFrame).rows);
      expect(rows.length).toBe(lines.length);
      expect(events.filter((e) => e.event === "dropped").map((e) => JSON.parse(e.data))).toEqual([{ count: 3, afterSeq: 99, why: "ring" }]);
      const ledger = JSON.parse(events.filter((e) => e.event === "ledger").at(-1)!.data) as LedgerView;
      expect(ledger.from).toBe("trace");
      expect(ledger.drives[0]!.owners).toMatchObject([{ imageName: "burner.exe", pid: 4100, secureCount: 1, simpleCount: 1 }]);
      expect(ledger.drives[0]!.owners[0]!.blocksEject).toContain("cdrom.sys refuses");
    } finally {
      await server.close();
    }
  });

  it("names the file and the formats it knows when it cannot read one", async () => {
    const file = join(dir, "x.bin");
    writeFileSync(file, Buffer.from([0x0a, 0x08, 0x01]));
    await expect(openTraceFile(file)).rejects.toThrow(CliError);
    await expect(openTraceFile(file)).rejects.toThrow(/not a trace file this version can read/);
    await expect(openTraceFile(join(dir, "none.jsonl"))).rejects.toThrow(/no such file/);
  });
});

describe("cdfilter ui (command line)", () => {
  it("prints the URL, serves the page over the simulator, and stops on Ctrl-C", async () => {
    const child = spawn(process.execPath, ["bin/cdfilter.js", "ui", "--scenario", "scenarios/burner-holds.yaml"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      const t0 = Date.now();
      while (!/^http:\/\/127\.0\.0\.1:\d+\/\n/.test(out) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
      const url = out.split("\n")[0]!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const meta = JSON.parse((await http(`${url}api/meta`)).body) as { source: string; actions: boolean };
      expect(meta).toMatchObject({ source: "live", actions: false });
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(err).toContain("serving until Ctrl-C");
    } finally {
      child.kill();
    }
  });

  it("refuses --allow-actions and activity on a file", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const c = spawn(process.execPath, ["bin/cdfilter.js", "ui", ...args], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        c.stderr.on("data", (b: Buffer) => (err += b.toString()));
        c.on("exit", (code) => resolve({ code, err }));
      });
    const file = join(dir, "e.jsonl");
    writeFileSync(file, "");
    expect(await run([file, "--allow-actions"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("--allow-actions needs a live session"),
    });
    expect(await run([file, "--burst", "10"])).toMatchObject({ code: 2 });
  });
});
