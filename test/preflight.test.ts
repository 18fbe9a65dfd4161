// `npm test` starts with scripts/preflight.mjs: on a machine missing tools it must name every one of
// them in a single run (not stop at the first), with the one command that installs them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("preflight", () => {
  it("reports every missing command of scripts/requirements.txt at once, with the set-up hint", () => {
    const bin = mkdtempSync(join(tmpdir(), "preflight-"));
    symlinkSync(process.execPath, join(bin, "node"));
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "preflight.mjs")], { env: { PATH: bin }, encoding: "utf8" });
    expect(r.status).toBe(1);
    const commands = readFileSync(join(ROOT, "scripts", "requirements.txt"), "utf8")
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[0] ?? "")
      .filter((c) => c !== "" && !c.startsWith("#") && !c.startsWith("/"));
    expect(commands.length).toBeGreaterThan(8);
    for (const c of commands) expect(r.stderr).toContain(`  ${c}  (Debian package`);
    expect(r.stderr).toMatch(/hint: bash scripts\/setup\.sh installs all of them/);
  });

  it("passes on this machine after scripts/setup.sh", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "preflight.mjs")], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
