/**
 * Debian's Chromium driven by playwright-core (which bundles no browser). Under CI=true a missing
 * browser is a failure; elsewhere the caller skips with a visible note.
 *
 * Flags: headless, no sandbox (tests run as root), and no background networking, component
 * updates, sync or QUIC, so the browser reaches no outside host. playwright-core gives every
 * launch a fresh temporary profile (--user-data-dir) of its own and deletes it at close.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.CDFILTER_CHROMIUM ?? "/usr/bin/chromium";
export const CI = process.env.CI === "true";

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (Debian package chromium; or set CDFILTER_CHROMIUM)`;
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
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
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}
