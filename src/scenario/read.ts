/**
 * Read a scenario file with its size bounded before anything is parsed: at most
 * MAX_SCENARIO_BYTES + 1 bytes are ever read, whatever the file is (a huge file, a FIFO, a
 * device), so a file too large fails fast with a ScenarioError instead of growing the heap.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { MAX_SCENARIO_BYTES, type Scenario, ScenarioError, type Vocabulary } from "./format.ts";
import { parseScenario } from "./parse/index.ts";
import { SIZE_HINT, tooLarge } from "./parse/index.ts";

/** Throws the fs error (ENOENT, EISDIR ...) when the file cannot be read, ScenarioError when it is bad. */
export function readScenarioFile(file: string, vocab: Vocabulary = {}): Scenario {
  const fd = openSync(file, "r");
  const buf = Buffer.alloc(MAX_SCENARIO_BYTES + 1);
  let n = 0;
  try {
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_SCENARIO_BYTES) throw new ScenarioError(file, 1, 1, undefined, tooLarge(undefined), SIZE_HINT);
    }
  } finally {
    closeSync(fd);
  }
  return parseScenario(buf.toString("utf8", 0, n), file, vocab);
}
