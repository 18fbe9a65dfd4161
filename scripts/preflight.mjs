#!/usr/bin/env node
// The first step of `npm test`: every tool and downloaded piece the suite needs, checked at once,
// reported together (never one failure at a time), before anything builds or runs.
// The list is scripts/requirements.txt (system packages) plus what scripts/setup.sh fetches.
// Exit 1 with the missing pieces and the one command that installs them.
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

const missing = [];
for (const line of readFileSync(join(root, "scripts", "requirements.txt"), "utf8").split("\n")) {
  const t = line.trim();
  if (t === "" || t.startsWith("#")) continue;
  const [check, pkg, ...why] = t.split(/\s+/);
  const ok = check.startsWith("/") ? existsSync(check) : onPath(check);
  if (!ok) missing.push({ what: check, from: `Debian package ${pkg}`, why: why.join(" ") });
}
const fetched = [
  ["node_modules/.package-lock.json", "npm ci", "the npm dependencies"],
  ["build/wine/node/node.exe", "scripts/wine/setup.sh", "Windows node.exe for the Wine suite"],
  ["node_modules/@koromix/koffi-win32-x64/win32_x64/koffi.node", "scripts/wine/setup.sh", "koffi's Windows binary for the Wine suite"],
  ["build/node22/bin/node", "scripts/node22.sh", "Node.js 22 for the package test"],
];
for (const [file, from, why] of fetched) {
  if (!existsSync(join(root, file))) missing.push({ what: file, from, why });
}

if (missing.length > 0) {
  process.stderr.write(`preflight: ${missing.length} piece(s) the test suite needs are missing:\n`);
  for (const m of missing) process.stderr.write(`  ${m.what}  (${m.from}: ${m.why})\n`);
  process.stderr.write("hint: bash scripts/setup.sh installs all of them (the README's test line runs it first)\n");
  process.exit(1);
}
