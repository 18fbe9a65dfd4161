#!/usr/bin/env node
// The `cdfilter` command: runs src/cli/main.ts through tsx's ESM loader (registered in this
// process, no child process), so `npx cdfilter` works after a plain `npm install`.
import { register } from "tsx/esm/api";

register();
await import(new URL("../src/cli/main.ts", import.meta.url).href);
