/**
 * `cdfilter ui` in Debian's Chromium (playwright-core), over the embedded simulator:
 *
 *   latency  request-to-pixel: from just before a simulated process sends a request
 *            (IOCTL_STORAGE_EJECTION_CONTROL or a READ through the simulated stack) to the end of
 *            the browser frame that shows its completion record, p50/p99 over N requests, idle
 *            and beside 10,000 records/s of reads on another drive (goal: p99 < 250 ms);
 *   1M       the page holding 1,000,000+ records: time to stream them, JS heap (CDP
 *            Performance.getMetrics), the column store's bytes, one filter pass over all of
 *            them, and the time from a scroll (to the middle, then 30 steps of 400 px) to the
 *            painted frame.
 *
 * Both clocks are epoch milliseconds (Node's and Chromium's performance.timeOrigin + now()).
 * `npx tsx bench/ui.ts [--requests N] [--records N]`
 */
import { chromium } from "playwright-core";
import { FilterClient } from "../src/client/index.ts";
import type { SimDeviceHandle } from "../src/client/transports/simulator.ts";
import { startUiServer } from "../src/ui/server.ts";
import { LiveSource } from "../src/ui/source.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const REQUESTS = arg("--requests", 300);
const RECORDS = arg("--records", 1_000_000);
const CHROMIUM = process.env.CDFILTER_CHROMIUM ?? "/usr/bin/chromium";

interface PageWindow {
  __cdfPaints: [number, number][];
  __cdfModel: {
    receipts: [number, number][];
    store: { length: number; droppedTotal: number; bytes(): number };
    lastFilterMs: number;
    addFilter(field: string, exclude: boolean, value: string): void;
  };
}

const now = () => performance.timeOrigin + performance.now();
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (xs: number[]) =>
  `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function session(burst?: number) {
  const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 2, ringBytes: 64 * 1024 * 1024 } });
  let played: () => void = () => {};
  const done = new Promise<void>((r) => (played = r));
  const source = new LiveSource(client, "bench", burst ? { options: { burst, pace: true }, onDone: () => played() } : undefined);
  const server = await startUiServer({ source, historyBytes: 1024 * 1024 * 1024 });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(server.url);
  await page.waitForFunction(() => document.querySelector("[data-testid=connection]")?.textContent === "live");
  return { client, server, page, done };
}

/** Background load: `perSecond` records/s from another simulated process on drive 2. */
async function load(client: FilterClient, perSecond: number): Promise<() => Promise<void>> {
  const d = await client.openDrive(2, { pid: 7000, image: "burst.exe", access: "read" });
  const h = d.handle as SimDeviceHandle;
  const readsPerTick = Math.max(1, Math.round(perSecond / 2 / 100));
  const t = setInterval(() => h.burst(readsPerTick, 2048), 10);
  return async () => {
    clearInterval(t);
    await d.close();
  };
}

/** Per probe: request to the page having parsed the record (server, SSE, JSON). */
let toPage: number[] = [];

async function latency(background: number): Promise<number[]> {
  const s = await session();
  const out: number[] = [];
  toPage = [];
  const stop = background ? await load(s.client, background) : undefined;
  try {
    const d = await s.client.openDrive(1, { pid: 5000, image: "probe.exe", access: "read" });
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = now();
      const r = i % 2 ? await d.read(0, 2048) : await d.lock();
      if (!r.ok) throw new Error(`probe request failed: ${r.statusName}`);
      // The completion was recorded before info() answered: wait for a frame showing it (or a
      // newer record; beside a burst this may be a little later than the completion itself).
      const seq = Number((await s.client.info()).newestSeq);
      const handle = await s.page.waitForFunction(
        (want) => {
          const w = window as unknown as PageWindow;
          const paint = w.__cdfPaints.find((p) => p[0] >= want)?.[1];
          const recv = w.__cdfModel.receipts.find((p) => p[0] >= want)?.[1];
          return paint === undefined || recv === undefined ? undefined : [recv, paint];
        },
        seq,
        { polling: 5, timeout: 30_000 },
      );
      const [recv, paint] = (await handle.jsonValue()) as [number, number];
      out.push(paint - t0);
      toPage.push(recv - t0);
      if (i % 2 === 0) await d.unlock();
      await new Promise((r) => setTimeout(r, 20));
    }
    await d.close();
  } finally {
    await stop?.();
    await s.page.close();
    await s.server.close();
    await s.client.close();
  }
  return out;
}

async function million(): Promise<void> {
  const reads = Math.ceil(RECORDS / 2);
  const t0 = now();
  const s = await session(reads);
  try {
    await s.done;
    const want = Number((await s.client.info()).newestSeq);
    await s.page.waitForFunction(
      (n) => {
        const st = (window as unknown as PageWindow).__cdfModel.store;
        return st.length + st.droppedTotal >= n;
      },
      want,
      { polling: 200, timeout: 600_000 },
    );
    const loadS = (now() - t0) / 1000;
    const cdp = await s.page.context().newCDPSession(s.page);
    await cdp.send("HeapProfiler.collectGarbage");
    await cdp.send("Performance.enable");
    const metrics = (await cdp.send("Performance.getMetrics")).metrics as { name: string; value: number }[];
    const m = (n: string) => metrics.find((x) => x.name === n)?.value ?? Number.NaN;
    const st = await s.page.evaluate(() => {
      const w = window as unknown as PageWindow;
      return { length: w.__cdfModel.store.length, dropped: w.__cdfModel.store.droppedTotal, bytes: w.__cdfModel.store.bytes() };
    });
    const filterMs = await s.page.evaluate(() => {
      const w = window as unknown as PageWindow;
      w.__cdfModel.addFilter("major", false, "READ");
      return w.__cdfModel.lastFilterMs;
    });
    // The machine's own frame time: two frames of this page with nothing to do.
    const idleFramesMs = await s.page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const t = performance.now();
          requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
        }),
    );
    // Scroll to the middle: time until the frame after the rows were rendered.
    const scrollMs = await s.page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const el = document.querySelector("[data-testid=trace-table]") as HTMLElement;
          const t = performance.now();
          el.scrollTop = el.scrollHeight / 2;
          requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
        }),
    );
    // Then 30 steps of 400 px (a wheel's worth each): the time from each step to its frame.
    const stepsMs = await s.page.evaluate(async () => {
      const el = document.querySelector("[data-testid=trace-table]") as HTMLElement;
      const out: number[] = [];
      for (let i = 0; i < 30; i++) {
        out.push(
          await new Promise<number>((resolve) => {
            const t = performance.now();
            el.scrollTop += 400;
            requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
          }),
        );
      }
      return out.sort((a, b) => a - b);
    });
    const rowsInDom = await s.page.locator("[data-testid=trace-row]").count();
    console.log(`  records on the page: ${st.length.toLocaleString("en-US")} (+${st.dropped} dropped) in ${loadS.toFixed(1)} s`);
    console.log(
      `  JS heap used: ${(m("JSHeapUsedSize") / 1048576).toFixed(1)} MiB (total ${(m("JSHeapTotalSize") / 1048576).toFixed(1)} MiB); DOM nodes ${m("Nodes")}`,
    );
    console.log(`  column store (typed arrays, outside the JS heap figure): ${(st.bytes / 1048576).toFixed(1)} MiB`);
    console.log(`  filter pass over all records (major READ): ${filterMs.toFixed(1)} ms`);
    console.log(
      `  scroll to the middle -> painted: ${scrollMs.toFixed(1)} ms (two idle frames: ${idleFramesMs.toFixed(1)} ms), ${rowsInDom} rows in the DOM`,
    );
    console.log(`  30 scroll steps of 400 px -> painted: p50 ${stepsMs[15]!.toFixed(1)} ms, max ${stepsMs[29]!.toFixed(1)} ms`);
  } finally {
    await s.page.close();
    await s.server.close();
    await s.client.close();
  }
}

try {
  console.log(`ui: request-to-pixel latency, ${REQUESTS} requests, idle (goal p99 < 250 ms)`);
  console.log(`  ${fmt(await latency(0))}`);
  console.log(`  of which request -> parsed by the page: ${fmt(toPage)}`);
  console.log(`ui: request-to-pixel latency, ${REQUESTS} requests, beside 10,000 records/s of reads on another drive`);
  console.log(`  ${fmt(await latency(10_000))}`);
  console.log(`  of which request -> parsed by the page: ${fmt(toPage)}`);
  console.log(`ui: the page at ${RECORDS.toLocaleString("en-US")} records`);
  await million();
} finally {
  await browser.close();
}
