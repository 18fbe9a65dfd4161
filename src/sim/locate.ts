/**
 * Where the simulated CD-ROM stack's shared library (driver/sim + driver/core as libcdfsim.so)
 * comes from, in this order:
 *
 * 1. `CDFILTER_SIM_LIBRARY`: an explicit path (must exist).
 * 2. `<package>/build/libcdfsim.so`: a developer's tree after `npm run build:c`.
 * 3. `<package>/prebuilds/<platform>-<arch>/libcdfsim.so`: the library the npm package ships
 *    (built by `npm run build` before `npm pack`, like koffi's per-platform binaries).
 * 4. A build from the C sources the package ships (`driver/core`, `driver/sim`) into the user's
 *    cache (`$XDG_CACHE_HOME/cdfilter` or `~/.cache/cdfilter`), once per version and platform,
 *    with `$CC` or `cc`. No compiler: `SimLibraryUnavailable` naming what is missing.
 *
 * `<package>` is the folder holding package.json (this module is src/sim/locate.ts in the
 * repository and dist/sim/locate.js in the package: two levels down either way).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The installed package's root (or the repository root in a developer's tree). */
export const PACKAGE_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `npm run build:c` output in a developer's tree. */
export const DEV_LIBRARY_PATH: string = join(PACKAGE_ROOT, "build", "libcdfsim.so");

/** The library shipped in the npm package for this platform and CPU (e.g. prebuilds/linux-x64). */
export const PREBUILT_LIBRARY_PATH: string = join(PACKAGE_ROOT, "prebuilds", `${process.platform}-${process.arch}`, "libcdfsim.so");

/** The simulator library cannot be found or built; `hint` says what to do. */
export class SimLibraryUnavailable extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = "SimLibraryUnavailable";
  }
}

/** The C translation units of libcdfsim.so, relative to `<package>/driver` (same set as driver/mk/sim.mk). */
export function simSources(driverDir: string): string[] {
  const c = (dir: string) =>
    readdirSync(join(driverDir, dir))
      .filter((f) => f.endsWith(".c"))
      .sort()
      .map((f) => join(driverDir, dir, f));
  return [...c("core"), join(driverDir, "core", "gen", "cdfilter.pb.c"), ...c("sim")];
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0";
  } catch {
    return "0";
  }
}

function cacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "cdfilter", `${packageVersion()}-${process.platform}-${process.arch}`);
}

/**
 * Compile libcdfsim.so from the shipped sources into `outPath` (atomically: a half-written
 * library is never loaded). Throws SimLibraryUnavailable when the sources or a compiler are missing
 * or the compiler fails (its first lines of output in the message).
 */
export function buildSimLibrary(outPath: string, env: NodeJS.ProcessEnv = process.env): void {
  const driver = join(PACKAGE_ROOT, "driver");
  if (!existsSync(join(driver, "sim", "cdfsim.c"))) {
    throw new SimLibraryUnavailable(
      `no simulator library for ${process.platform}-${process.arch}, and the C sources to build one are not here (${driver})`,
      "reinstall cdfilter from the npm package (it ships prebuilds/linux-x64 and the sources), or set CDFILTER_SIM_LIBRARY",
    );
  }
  const cc = env.CC && env.CC !== "" ? env.CC : "cc";
  const probe = spawnSync(cc, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new SimLibraryUnavailable(
      `no simulator library for ${process.platform}-${process.arch}, and no C compiler ("${cc}") to build it from the shipped sources`,
      "install a C compiler (Debian/Ubuntu: sudo apt-get install build-essential; macOS: xcode-select --install), or set CDFILTER_SIM_LIBRARY",
    );
  }
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = `${outPath}.${process.pid}.tmp`;
  const args = ["-std=c11", "-O2", "-fPIC", "-shared", "-pthread", "-w", `-I${join(driver, "core")}`, `-I${join(driver, "core", "gen")}`];
  args.push(`-I${join(driver, "sim")}`, "-o", tmp, ...simSources(driver));
  const r = spawnSync(cc, args, { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    const out = `${r.stderr ?? ""}${r.stdout ?? ""}`.split("\n").slice(0, 5).join(" | ");
    throw new SimLibraryUnavailable(
      `building the simulator library with ${cc} failed: ${out || String(r.error)}`,
      "report this with the compiler's output",
    );
  }
  renameSync(tmp, outPath);
}

/**
 * The path of a loadable simulator library (see the module comment for the order); builds it
 * from source into the cache when nothing prebuilt fits this platform. Throws
 * SimLibraryUnavailable with a hint when there is none and none can be built.
 */
export function locateSimLibrary(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.CDFILTER_SIM_LIBRARY;
  if (explicit !== undefined && explicit !== "") {
    if (existsSync(explicit)) return explicit;
    throw new SimLibraryUnavailable(
      `CDFILTER_SIM_LIBRARY names ${explicit}, which does not exist`,
      "unset it or point it at a built libcdfsim.so",
    );
  }
  if (process.platform === "win32") {
    throw new SimLibraryUnavailable(
      "the embedded simulator is a Linux/macOS development stand-in and is not available on Windows",
      "use the cdfilter driver (transport auto or win32), or set CDFILTER_SIM_LIBRARY to a simulator DLL you built",
    );
  }
  if (existsSync(DEV_LIBRARY_PATH)) return DEV_LIBRARY_PATH;
  if (existsSync(PREBUILT_LIBRARY_PATH)) return PREBUILT_LIBRARY_PATH;
  const cached = join(cacheDir(env), "libcdfsim.so");
  if (existsSync(cached)) return cached;
  buildSimLibrary(cached, env);
  return cached;
}
