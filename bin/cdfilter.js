#!/usr/bin/env node
// The `cdfilter` command: the compiled CLI (dist/cli/main.js, from `npm run build`).
try {
  await import("../dist/cli/main.js");
} catch (e) {
  if (e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/cli/main.js")) {
    process.stderr.write("cdfilter: the compiled CLI is missing (dist/cli/main.js)\nhint: in a source checkout run npm run build\n");
    process.exit(5);
  }
  throw e;
}
