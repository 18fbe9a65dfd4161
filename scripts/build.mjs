#!/usr/bin/env node
// `npm run build`: the npm package's contents from a clean state.
//   dist/                       src/ compiled by tsc (JavaScript, .d.ts, source maps)
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
run("make", ["-s", "-C", "driver", "host"]);
const out = join(root, "prebuilds", `${process.platform}-${process.arch}`);
mkdirSync(out, { recursive: true });
copyFileSync(join(root, "build", "libcdfsim.so"), join(out, "libcdfsim.so"));
run("strip", ["--strip-unneeded", join(out, "libcdfsim.so")]);
