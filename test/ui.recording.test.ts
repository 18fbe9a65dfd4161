// `cdfilter ui FILE` accepts a pcapng recording from `cdfilter record` as well as JSON Lines: the
// file source picks the recording reader by the pcapng magic and hands the page the same events.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/client/index.ts";
import { openTraceSource } from "../src/recording/reader.ts";
import { type UiSink, openTraceFile } from "../src/ui/source.ts";

const BIN = join(import.meta.dirname, "..", "bin", "cdfilter.js");

describe("ui over a recording", () => {
  it("reads a pcapng recording with the recording reader, every record and drop notice in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cdf-ui-rec-"));
    const file = join(dir, "run.pcapng");
    const r = spawnSync(process.execPath, [BIN, "--quiet", "record", "--out", file, "--scenario", "scenarios/demo.yaml"], {
      cwd: join(import.meta.dirname, ".."),
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const src = await openTraceFile(file);
    const events: TraceEvent[] = [];
    const sink: UiSink = { events: (b) => events.push(...b), ledger: () => undefined, end: () => undefined };
    await src.run(sink, new AbortController().signal);
    const expected = (await openTraceSource(file)).events;
    expect(expected.length).toBeGreaterThan(20);
    expect(events.map((e) => (e.type === "record" ? e.record.seq : -1n))).toEqual(
      expected.map((e) => (e.type === "record" ? e.record.seq : -1n)),
    );
    expect((await src.drives()).map((d) => d.driveId)).toContain(1);
  });
});
