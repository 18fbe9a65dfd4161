// `cdfilter ui` in a real browser: Debian's Chromium driven by playwright-core loads the page over
// a live simulator session playing scenarios/demo.yaml, and checks the owners table (with an image
// named like a script tag), the filters and their counts, selection and the details pane, the
// dispatch/completion link, the lock timeline, and drops shown as gaps. Saves the screenshots
// docs/ui.md uses (to build/ui-screenshots/, and to docs/img/ with CDFILTER_UPDATE_DOCS_IMG=1).
import { copyFileSync, mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Drive, FilterClient, RecordKind, type TraceRecord } from "../src/client/index.ts";
import { loadScenario } from "../src/cli/context.ts";
import { LiveSource } from "../src/ui/source.ts";
import { CONTENT_SECURITY_POLICY, type UiServer, startUiServer } from "../src/ui/server.ts";
import { CI, chromiumMissing, type LaunchedBrowser, launchChromium } from "./support/chromium.ts";
import type { Page } from "playwright-core";

const missing = chromiumMissing();
if (missing && !CI) console.warn(`ui.browser.test: skipped, ${missing} (a failure under CI=true)`);

/** 63 bytes: an image name is whatever a process calls itself. */
const EVIL = `<img src=x onerror=window.__x=1><script>window.__x=2</script>`;
const SHOTS = "build/ui-screenshots";

/** What the page exposes for tests and benchmarks (src/ui/page/main.ts). */
interface PageWindow {
  __cdfModel: { store: { length: number; droppedTotal: number } };
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
  if (process.env.CDFILTER_UPDATE_DOCS_IMG === "1") {
    mkdirSync("docs/img", { recursive: true });
    copyFileSync(`${SHOTS}/${name}.png`, `docs/img/${name}.png`);
  }
}

/** Every record in the simulator's ring, read by a second reader (the oracle for counts). */
async function allRecords(client: FilterClient): Promise<TraceRecord[]> {
  const out: TraceRecord[] = [];
  for await (const ev of client.trace({ follow: false })) if (ev.type === "record") out.push(ev.record);
  return out;
}

async function counts(page: Page): Promise<{ records: number; shown: number }> {
  const t = (await page.textContent("[data-testid=counts]")) ?? "";
  const m = /([\d,]+) records · ([\d,]+) shown/.exec(t);
  if (!m) throw new Error(`counts text: ${t}`);
  return { records: Number(m[1]!.replace(/,/g, "")), shown: Number(m[2]!.replace(/,/g, "")) };
}

describe.skipIf(missing !== undefined && !CI)("cdfilter ui in Chromium", () => {
  let browser: LaunchedBrowser;
  let client: FilterClient;
  let server: UiServer;
  let page: Page;
  let evil: Drive;
  let records: TraceRecord[];
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (missing) throw new Error(`CI=true and ${missing}`);
    browser = await launchChromium();
    client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 2 } });
    const scenario = loadScenario("scenarios/demo.yaml");
    let played!: () => void;
    const done = new Promise<void>((r) => (played = r));
    const source = new LiveSource(client, `simulator: ${scenario.name}`, {
      options: { scenario: scenario.file },
      scenario,
      onDone: () => played(),
    });
    server = await startUiServer({ source, allowActions: true });
    await done;
    // A process named like markup holds a secure lock on drive 1; a burner holds drive 2.
    // (The demo ends with the tray open: load it first.)
    evil = await client.openDrive(1, { pid: 6666, image: EVIL, access: "read" });
    expect((await evil.load()).ok).toBe(true);
    expect((await evil.lock()).ok).toBe(true);
    const burner = await client.openDrive(2, { pid: 4100, image: "burner.exe", access: "read" });
    expect((await burner.mediaRemoval(true)).ok).toBe(true);
    await burner.read(0, 2048);
    records = await allRecords(client);
    page = await browser.browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    const resp = await page.goto(server.url);
    expect(resp?.headers()["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
    await page.waitForFunction(
      (n) => document.querySelector("[data-testid=counts]")?.textContent?.startsWith(`${n} records`),
      records.length,
    );
  });

  afterAll(async () => {
    await page?.close();
    await server?.close();
    await evil?.close().catch(() => {});
    await client?.close();
    await browser?.close();
  });

  it("shows who holds what per drive and who would block an eject, with the image as text", async () => {
    const d1 = page.locator("[data-testid=drive-1]");
    await expect.poll(() => d1.locator("td.image").allTextContents()).toEqual([EVIL]);
    const row = d1.locator("tbody tr");
    expect(await row.locator("td").nth(1).textContent()).toBe("6666");
    expect(await row.locator("td").nth(3).textContent()).toBe("1"); // secure
    expect(await row.locator("td").nth(8).textContent()).toContain("cdrom.sys refuses IOCTL_STORAGE_EJECT_MEDIA");
    expect(await page.textContent("[data-testid=eject-1]")).toBe(`eject now: blocked by ${EVIL}:6666`);
    const d2 = page.locator("[data-testid=drive-2]");
    await expect.poll(() => d2.locator("td.image").allTextContents()).toEqual(["burner.exe"]);
    expect(await d2.locator("tbody tr td").nth(4).textContent()).toBe("1"); // simple
    // The markup stayed text: no element was made of it, nothing ran.
    expect(await page.locator("body img").count()).toBe(0);
    expect(await page.locator("body script").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __x?: number }).__x)).toBeUndefined();
    expect(dialogs).toEqual([]);
    // Live: the owner releases its lock and the table follows.
    expect((await evil.unlock()).ok).toBe(true);
    await expect.poll(() => page.textContent("[data-testid=eject-1]")).toBe("eject now: nothing blocks it");
    expect((await evil.lock()).ok).toBe(true);
    await expect.poll(() => page.textContent("[data-testid=eject-1]")).toContain("blocked by");
    records = await allRecords(client);
    await expect.poll(async () => (await counts(page)).records).toBe(records.length);
  });

  it("filters with the counts they match", async () => {
    const total = (await counts(page)).records;
    expect(total).toBe(records.length);
    await page.selectOption("[data-testid=filter-field]", "image");
    await page.fill("[data-testid=filter-value]", "*burner*");
    await page.click("[data-testid=filter-add]");
    const burner = records.filter((r) => r.openerImage.includes("burner")).length;
    await expect.poll(() => page.textContent("[data-testid=filter-count]")).toBe(String(burner));
    expect((await counts(page)).shown).toBe(burner);
    for (const t of await page.locator("[data-testid=trace-row] .image").allTextContents()) expect(t).toMatch(/^burner\.exe:4100$/);
    // Exclude READ: the include and the exclude each count what they match.
    await page.selectOption("[data-testid=filter-field]", "major");
    await page.selectOption("[data-testid=filter-action]", "exclude");
    await page.fill("[data-testid=filter-value]", "READ");
    await page.click("[data-testid=filter-add]");
    const reads = records.filter((r) => r.major === 3).length;
    const burnerNotRead = records.filter((r) => r.openerImage.includes("burner") && r.major !== 3).length;
    await expect.poll(async () => (await counts(page)).shown).toBe(burnerNotRead);
    expect(await page.locator("[data-testid=filter-count]").allTextContents()).toEqual([String(burner), String(reads)]);
    await shot(page, "ui-filter");
    // A bad value says why and adds nothing.
    await page.selectOption("[data-testid=filter-field]", "status");
    await page.fill("[data-testid=filter-value]", "STATUS_NOT_A_THING");
    await page.click("[data-testid=filter-add]");
    expect(await page.textContent("[data-testid=filter-error]")).toContain("status");
    expect(await page.locator("[data-testid=filter-chip]").count()).toBe(2);
    // Remove both: everything is shown again.
    await removeAllChips(page);
    await expect.poll(async () => (await counts(page)).shown).toBe(records.length);
  });

  it("selects a record: every field, CTL_CODE, captured bytes, decoded CDB, and its pair", async () => {
    await page.selectOption("[data-testid=filter-field]", "ioctl");
    await page.selectOption("[data-testid=filter-action]", "include");
    await page.fill("[data-testid=filter-value]", "IOCTL_SCSI_PASS_THROUGH");
    await page.click("[data-testid=filter-add]");
    const spt = records.filter((r) => r.ioctlCode === 0x4d004);
    await expect.poll(async () => (await counts(page)).shown).toBe(spt.length);
    const dispatch = spt.find((r) => r.kind === RecordKind.RECORD_KIND_DISPATCH)!;
    const completion = spt.find((r) => r.kind === RecordKind.RECORD_KIND_COMPLETION && r.requestId === dispatch.requestId)!;
    await page.locator("[data-testid=trace-row]").first().click();
    const details = page.locator("[data-testid=details]");
    await expect.poll(() => details.locator("h3").textContent()).toBe(`seq ${dispatch.seq} · DISPATCH`);
    expect(await details.textContent()).toContain("ripper.exe (pid 4400)");
    expect(await page.textContent("[data-testid=ctl-code]")).toContain("IOCTL_SCSI_PASS_THROUGH");
    expect(await page.textContent("[data-testid=ctl-code]")).toContain("METHOD_BUFFERED");
    expect(await page.textContent("[data-testid=cdb]")).toMatch(/START STOP UNIT .*LoEj=1 Start=0/);
    // The hex dump starts with the SCSI_PASS_THROUGH Length (56 = 0x38, little-endian).
    expect(await page.textContent("[data-testid=hexdump]")).toMatch(/^0000 {2}38 00 /);
    await page.click("[data-testid=pair-link]");
    await expect.poll(() => details.locator("h3").textContent()).toBe(`seq ${completion.seq} · COMPLETION`);
    expect(await details.textContent()).toContain("STATUS_DEVICE_BUSY");
    expect(await page.locator("[data-testid=trace-row].sel").count()).toBe(1);
    await removeAllChips(page);
  });

  it("draws a lane per handle and lock kind, in sync with the table", async () => {
    const lanes = ((await page.getAttribute("[data-testid=timeline]", "data-lanes")) ?? "").split("\n");
    expect(lanes).toEqual(
      expect.arrayContaining([
        "d1 h1 burner.exe:4100 secure",
        "d1 h3 backup.exe:4300 secure",
        "d1 h4 ripper.exe:4400 simple",
        expect.stringMatching(/^d1 h\d+ .*:6666 secure$/),
        expect.stringMatching(/^d2 h\d+ burner\.exe:4100 simple$/),
      ]),
    );
    // Click the burner's secure lane near its start: the table selects the record that took it.
    const taken = records.find(
      (r) => r.kind === RecordKind.RECORD_KIND_COMPLETION && r.reason === 1 && r.openerImage === "burner.exe" && r.driveId === 1,
    )!;
    const box = (await page.locator("[data-testid=timeline]").boundingBox())!;
    const laneIndex = lanes.indexOf("d1 h1 burner.exe:4100 secure");
    const t0 = Number(records[0]!.timestamp);
    const t1 = Number(records[records.length - 1]!.timestamp);
    const gutter = 230;
    const x = gutter + ((Number(taken.timestamp) - t0) / (t1 - t0)) * (box.width - gutter - 8) + 2;
    await page.mouse.click(box.x + x, box.y + laneIndex * 18 + 9);
    await expect.poll(() => page.locator("[data-testid=details] h3").textContent()).toBe(`seq ${taken.seq} · COMPLETION`);
    // The table scrolls to it.
    await expect.poll(() => page.locator("[data-testid=trace-row].sel").count()).toBe(1);
    expect(await page.locator("[data-testid=trace-row].sel span").first().textContent()).toBe(String(taken.seq));
    await shot(page, "ui-overview");
    expect(consoleErrors).toEqual([]);
  });
});

describe.skipIf(missing !== undefined && !CI)("cdfilter ui: drops", () => {
  it("shows records the ring overwrote as a gap with its count", async () => {
    if (missing) throw new Error(`CI=true and ${missing}`);
    const browser = await launchChromium();
    // The smallest ring and an unpaced burst: the reader loses records.
    const client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1, ringBytes: 8192 } });
    let server: UiServer | undefined;
    try {
      let played!: () => void;
      const done = new Promise<void>((r) => (played = r));
      const source = new LiveSource(client, "simulator: burst", { options: { burst: 3000, pace: false }, onDone: () => played() });
      server = await startUiServer({ source });
      const page = await browser.browser.newPage({ viewport: { width: 1600, height: 900 } });
      await page.goto(server.url);
      await done;
      const newest = Number((await client.info()).newestSeq);
      expect(newest).toBeGreaterThanOrEqual(6000); // 2 records per read, plus the handle's
      await page.waitForSelector("[data-testid=gap-row]");
      // Every record is either on the page or counted in a gap.
      await expect
        .poll(
          () =>
            page.evaluate(
              () =>
                (window as unknown as PageWindow).__cdfModel.store.length + (window as unknown as PageWindow).__cdfModel.store.droppedTotal,
            ),
          { timeout: 20_000 },
        )
        .toBe(newest);
      const dropped = await page.evaluate(() => (window as unknown as PageWindow).__cdfModel.store.droppedTotal);
      const stored = await page.evaluate(() => (window as unknown as PageWindow).__cdfModel.store.length);
      expect(dropped).toBeGreaterThan(0);
      expect(stored).toBeGreaterThan(0);
      expect(await page.textContent("[data-testid=counts]")).toContain("dropped");
      const gapText = (await page.locator("[data-testid=gap-row]").first().textContent()) ?? "";
      expect(gapText).toMatch(/⚠ [\d,]+ record\(s\) dropped after seq \d+: the driver's trace ring overwrote them/);
      // Gaps are never filtered out.
      await page.selectOption("[data-testid=filter-field]", "image");
      await page.fill("[data-testid=filter-value]", "no-such-image");
      await page.click("[data-testid=filter-add]");
      await expect.poll(() => page.locator("[data-testid=gap-row]").count()).toBeGreaterThan(0);
      expect(await page.locator("[data-testid=trace-row]").count()).toBe(0);
      await page.locator("[data-testid=filter-chip] button").first().dispatchEvent("click");
      await page.locator("[data-testid=trace-table]").evaluate((el) => (el.scrollTop = 0));
      await page.waitForTimeout(100);
      await shot(page, "ui-drops");
      await page.close();
    } finally {
      await server?.close();
      await client.close();
      await browser.close();
    }
  });
});

/**
 * Remove every filter chip, one click at a time, waiting for each removal to render before the
 * next (the page re-renders as records stream in; counting chips before a removal has rendered
 * would click a chip that is already gone). dispatchEvent: Playwright's wait for a stable element
 * can miss every frame on a slow machine; the click itself is the same.
 */
async function removeAllChips(page: Page): Promise<void> {
  const chips = page.locator("[data-testid=filter-chip]");
  for (let n = await chips.count(); n > 0; n--) {
    await chips.first().locator("button").dispatchEvent("click");
    await expect.poll(() => chips.count(), { timeout: 20_000 }).toBe(n - 1);
  }
}
