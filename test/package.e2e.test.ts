// The npm package as a user gets it: `npm pack`, then `npm install --omit=dev <tarball>` into an
// empty project, then the CLI and the library from there, on Node 20 (this machine's) and Node 22
// (build/node22, fetched by scripts/node22.sh), with no C compiler on PATH. Also the fallback: a
// platform with no prebuilt library builds it from the shipped sources, or says what is missing.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const NODE22 = join(ROOT, "build", "node22", "bin", "node");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

let work: string;
let consumer: string;
let tarball: string;

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: "utf8", timeout: opts.timeout ?? 300_000 });
}

/** A PATH holding only `node` (the given binary): no cc, no make, no npm. */
function bareEnv(node: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const bin = mkdtempSync(join(work, "bin-"));
  symlinkSync(node, join(bin, "node"));
  return { PATH: bin, HOME: work, XDG_CACHE_HOME: join(work, "cache-none"), ...extra };
}

beforeAll(() => {
  expect(existsSync(NODE22), "build/node22/bin/node missing: run bash scripts/node22.sh (scripts/setup.sh does)").toBe(true);
  work = mkdtempSync(join(tmpdir(), "cdfilter-pkg-"));
  const pack = run("npm", ["pack", "--silent", "--pack-destination", work], { cwd: ROOT });
  expect(pack.status, pack.stderr).toBe(0);
  const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
  expect(tgz).toBeDefined();
  tarball = join(work, tgz!);
  consumer = join(work, "consumer");
  mkdirSync(consumer);
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", type: "module", private: true }));
  const inst = run("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", tarball], { cwd: consumer });
  expect(inst.status, inst.stderr).toBe(0);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("holds the compiled library, CLI, prebuilt simulator and C sources; no tests, generator or tsx", () => {
    const list = run("tar", ["-tzf", tarball], { cwd: work });
    const files = list.stdout.split("\n").filter(Boolean);
    expect(files).toContain("package/dist/client/index.js");
    expect(files).toContain("package/dist/client/index.d.ts");
    expect(files).toContain("package/dist/cli/main.js");
    expect(files).toContain("package/bin/cdfilter.js");
    expect(files).toContain(`package/prebuilds/${process.platform}-${process.arch}/libcdfsim.so`);
    expect(files).toContain("package/driver/sim/cdfsim.c");
    expect(files).toContain("package/src/recording/wireshark/cdfilter.lua");
    expect(files).toContain("package/proto/cdfilter/trace.proto");
    expect(
      files.some(
        (f) => f.startsWith("package/test/") || f.startsWith("package/bench/") || (f.endsWith(".ts") && f.startsWith("package/src/")),
      ),
    ).toBe(false);
    expect(files.some((f) => f.startsWith("package/dist/codegen/"))).toBe(false);
    const installed = readdirSync(join(consumer, "node_modules"));
    expect(installed).not.toContain("tsx");
    expect(installed).not.toContain("protobufjs");
    expect(installed).not.toContain("typescript");
  });

  for (const [label, node] of [
    ["Node 20", process.execPath],
    ["Node 22", NODE22],
  ] as const) {
    it(`${label}: cdfilter demo and info run with no C compiler on PATH`, () => {
      const env = bareEnv(node);
      const bin = join(consumer, "node_modules", "cdfilter", "bin", "cdfilter.js");
      const demo = run(node, [bin, "demo"], { cwd: consumer, env });
      expect(demo.status, demo.stderr).toBe(0);
      expect(demo.stdout).toMatch(/13 of 13 step\(s\) passed/);
      const info = run(node, [bin, "--json", "info"], { cwd: consumer, env });
      expect(info.status, info.stderr).toBe(0);
      expect(JSON.parse(info.stdout).transport).toBe("simulator");
      expect(existsSync(join(work, "cache-none"))).toBe(false); // the prebuilt library was used, nothing was compiled
    });

    it(`${label}: import { FilterClient } from "cdfilter" works and type-checks`, () => {
      const src = `import { FilterClient, Policy, type LedgerSnapshot } from "cdfilter";
import { ControlIoctls } from "cdfilter/ioctl";
import { ioctlName } from "cdfilter/catalog";
const client: FilterClient = await FilterClient.connect({ transport: "simulator" });
const ledger: LedgerSnapshot = client.initialLedger;
await client.setPolicy(Policy.POLICY_ENFORCE);
const drive = await client.openDrive(1, { pid: 100, image: "burner.exe" });
const r = await drive.lock();
console.log(JSON.stringify({ drives: ledger.drives.length, lock: r.statusName, kind: client.transportKind, ioctls: Object.keys(ControlIoctls).length, name: ioctlName(0x2d0940) }));
await client.close();
`;
      writeFileSync(join(consumer, "use.ts"), src);
      writeFileSync(
        join(consumer, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, outDir: "out", types: [] },
          files: ["use.ts"],
        }),
      );
      const tsc = run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: consumer });
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
      const out = run(node, [join("out", "use.js")], { cwd: consumer, env: bareEnv(node) });
      expect(out.status, out.stderr).toBe(0);
      expect(JSON.parse(out.stdout)).toEqual({
        drives: 2,
        lock: "STATUS_SUCCESS",
        kind: "simulator",
        ioctls: expect.any(Number),
        name: "IOCTL_STORAGE_EJECTION_CONTROL",
      });
    });
  }

  it("without a prebuilt library: builds it from the shipped sources with cc, or names the missing compiler (exit 4)", () => {
    const pkg = join(consumer, "node_modules", "cdfilter");
    rmSync(join(pkg, "prebuilds"), { recursive: true, force: true });
    const bin = join(pkg, "bin", "cdfilter.js");
    const none = run(process.execPath, [bin, "info"], { cwd: consumer, env: bareEnv(process.execPath) });
    expect(none.status).toBe(4);
    expect(none.stderr).toMatch(/no C compiler \("cc"\) to build it from the shipped sources/);
    expect(none.stderr).toMatch(/hint: install a C compiler \(Debian\/Ubuntu: sudo apt-get install build-essential/);
    const cache = join(work, "cache-cc");
    const withCc = run(process.execPath, [bin, "info"], { cwd: consumer, env: { ...process.env, XDG_CACHE_HOME: cache } });
    expect(withCc.status, withCc.stderr).toBe(0);
    expect(withCc.stdout).toMatch(/simulator/);
    const built = readdirSync(join(cache, "cdfilter"));
    expect(built).toHaveLength(1);
    expect(existsSync(join(cache, "cdfilter", built[0]!, "libcdfsim.so"))).toBe(true);
  });
});
