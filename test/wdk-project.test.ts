// driver/cdfilter.vcxproj must build the same kernel sources as the Linux checks: the core's
// CORE_SRCS (driver/mk/core.mk), the kernel platform layer and every KMDF glue file; and target
// KMDF 1.15 with warnings as errors. Nothing here runs MSBuild (see WDK-build.md for that).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const DRIVER = join(import.meta.dirname, "..", "driver");
const project = readFileSync(join(DRIVER, "cdfilter.vcxproj"), "utf8");

/** CORE_SRCS of mk/core.mk, following backslash continuations. */
function coreSrcs(): string[] {
  const mk = readFileSync(join(DRIVER, "mk", "core.mk"), "utf8").replace(/\\\n/g, " ");
  const line = /^CORE_SRCS\s*:?=(.*)$/m.exec(mk);
  if (!line) throw new Error("CORE_SRCS not found in driver/mk/core.mk");
  return (line[1] ?? "").trim().split(/\s+/);
}

function compiled(): string[] {
  return [...project.matchAll(/<ClCompile Include="([^"]+)"/g)].map((m) => (m[1] ?? "").replaceAll("\\", "/"));
}

function property(name: string): string[] {
  return [...project.matchAll(new RegExp(`<${name}[^>]*>([^<]*)</${name}>`, "g"))].map((m) => m[1] ?? "");
}

describe("driver/cdfilter.vcxproj", () => {
  it("compiles exactly the core's CORE_SRCS, kernel/platform_nt.c and kmdf/*.c", () => {
    const kmdf = readdirSync(join(DRIVER, "kmdf")).filter((f) => f.endsWith(".c"));
    expect(kmdf.length).toBeGreaterThan(0);
    const expected = [...coreSrcs(), "kernel/platform_nt.c", "kmdf/*.c"].sort();
    expect(compiled().sort()).toEqual(expected);
  });

  it("never compiles user-mode-only files into the driver", () => {
    for (const f of compiled()) expect(f).not.toMatch(/platform_host\.c|_reflect\.c|\/sim\/|\/wine\//);
  });

  it("is a KMDF 1.15 driver for x64 and ARM64 with warnings as errors and the INF", () => {
    expect(property("DriverType")).toEqual(["KMDF"]);
    expect(property("KMDF_VERSION_MAJOR")).toEqual(["1"]);
    expect(property("KMDF_VERSION_MINOR")).toEqual(["15"]);
    expect(property("TreatWarningAsError")).toEqual(["true"]);
    expect(property("Platform").filter((p) => !p.includes("$"))).toEqual(expect.arrayContaining(["x64", "ARM64"]));
    expect(project).toContain('<Inf Include="cdfilter.inf" />');
    expect(project).toContain("CDFILTER_KMDF=1");
  });
});
