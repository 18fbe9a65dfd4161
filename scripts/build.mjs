#!/usr/bin/env node
// `npm run build`: the npm package's contents from a clean state.
//   dist/                       src/ compiled by tsc (JavaScript, .d.ts, source maps): the library
//   dist/cli/cdfilter.mjs       the CLI as one ESM file (esbuild; koffi stays external): one file
//                               to load instead of about a hundred modules halves its start time
//   build/libcdfsim.so          the simulated CD-ROM stack (make -C driver host)
//   prebuilds/<platform>-<arch>/libcdfsim.so   that library, stripped, as the package ships it
// The generator (src/codegen) is compiled too but is not in the package's `files`.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.error) {
    console.error(`build: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
};

rmSync(join(root, "dist"), { recursive: true, force: true });
run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"]);
// Same folder depth as dist/cli/main.js, so paths resolved from import.meta.url stay right.
run(join(root, "node_modules", ".bin", "esbuild"), [
  join(root, "dist", "cli", "main.js"),
  "--bundle",
  "--platform=node",
  "--format=esm",
  "--target=node20",
  "--external:koffi",
  "--sourcemap",
  "--log-level=warning",
  "--banner:js=import { createRequire as __cdfCreateRequire } from 'node:module'; const require = __cdfCreateRequire(import.meta.url);",
  `--outfile=${join(root, "dist", "cli", "cdfilter.mjs")}`,
]);
run("make", ["-s", "-C", "driver", "host"]);
const out = join(root, "prebuilds", `${process.platform}-${process.arch}`);
mkdirSync(out, { recursive: true });
copyFileSync(join(root, "build", "libcdfsim.so"), join(out, "libcdfsim.so"));
run("strip", ["--strip-unneeded", join(out, "libcdfsim.so")]);
