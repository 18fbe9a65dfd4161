// On Windows, `auto` means the driver: with no cdfilter installed, the CLI (the same bundle as
// build/wine/cli.mjs, run by Windows node.exe under Wine) names the cause and exits 4 (filter
// unreachable) instead of falling back to a simulator that does not exist on Windows. Asking for the
// simulator explicitly on Windows says that it is not available there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWineSetup, WINE_BUILD, WineSession } from "../src/wine/session.ts";
import { join } from "node:path";

let session: WineSession;

beforeAll(async () => {
  runWineSetup();
  session = await WineSession.start({ runId: `nodriver-${process.pid}`, driver: false });
}, 600_000);

afterAll(async () => {
  await session?.stop();
});

async function cli(label: string, args: string[]): Promise<{ code: number | null; out: string }> {
  let out = "";
  const code = await session.runNode(label, [join(WINE_BUILD, "cli.mjs"), ...args], {
    onOutput: (t) => {
      out += t;
    },
    timeoutMs: 180_000,
  });
  return { code, out };
}

describe("Windows without the cdfilter driver (Wine)", () => {
  it("auto: exit 4, \\\\.\\CdFilter does not exist, with the install and start hint", async () => {
    const r = await cli("info-auto", ["--no-color", "info"]);
    expect(r.code, r.out).toBe(4);
    expect(r.out).toMatch(
      /cannot reach the filter: \\\\\.\\CdFilter does not exist \(ERROR_FILE_NOT_FOUND\): the cdfilter driver is not installed, not started/,
    );
    expect(r.out).toMatch(/hint: install: pnputil \/add-driver cdfilter\.inf \/install; start: sc start cdfilter/);
    expect(r.out).not.toMatch(/simulator|libcdfsim/);
  });

  it("--transport simulator: exit 4, the simulator is not available on Windows", async () => {
    const r = await cli("info-sim", ["--no-color", "--transport", "simulator", "info"]);
    expect(r.code, r.out).toBe(4);
    expect(r.out).toMatch(
      /simulator unavailable: the embedded simulator is a Linux\/macOS development stand-in and is not available on Windows/,
    );
  });
});
