#!/usr/bin/env node
// The `cdfilter` command: the compiled CLI bundled into one file (dist/cli/cdfilter.mjs, from
// `npm run build`).
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli/cdfilter.mjs", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("cdfilter: the compiled CLI is missing (dist/cli/cdfilter.mjs)\nhint: in a source checkout run npm run build\n");
  process.exit(5);
}
await import(cli.href);
