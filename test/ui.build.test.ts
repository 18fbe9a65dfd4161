// The page's bundle (src/ui/static/app.js) is checked in: it must equal a fresh esbuild build of
// src/ui/page/ (scripts/build-ui.ts), so the package ships what the sources say.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("cdfilter ui page bundle", () => {
  it("is up to date with its sources (npm run build:ui)", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/build-ui.ts", "--check"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/is up to date/);
    expect(r.status).toBe(0);
  });
});
