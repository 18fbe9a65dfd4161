/**
 * Build the `cdfilter ui` page: bundle src/ui/page/main.ts (preact and the shared client modules)
 * into src/ui/static/app.js with esbuild. The output is checked in and deterministic for a given
 * esbuild version and source; `--check` fails when the checked-in file differs from a fresh build.
 *
 *   npm run build:ui             write src/ui/static/app.js
 *   npm run build:ui -- --check  compare only (exit 1 when stale)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "src/ui/static/app.js");
const check = process.argv.includes("--check");

const result = await build({
  entryPoints: [join(root, "src/ui/page/main.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  write: false,
  outfile,
  logLevel: "warning",
});
const text = result.outputFiles[0]!.text;
if (check) {
  let current = "";
  try {
    current = readFileSync(outfile, "utf8");
  } catch {}
  if (current !== text) {
    console.error("src/ui/static/app.js is stale: run npm run build:ui and commit it");
    process.exit(1);
  }
  console.log(`src/ui/static/app.js is up to date (${text.length} bytes)`);
} else {
  writeFileSync(outfile, text);
  console.log(`wrote src/ui/static/app.js (${text.length} bytes)`);
}
