// Structural checks of a Chrome/Perfetto trace-event document (shared by the CLI tests).
import { expect } from "vitest";
import type { ChromeEvent } from "../../src/cli/timeline.ts";

/**
 * The Trace Event Format's structural rules this export relies on: "X" events on one (pid, tid)
 * nest (none starts inside another and ends after it); every async "b" has exactly one "e" with
 * the same (pid, cat, id) at or after it; timestamps are whole 0.1 µs.
 */
export function expectNesting(ev: readonly ChromeEvent[]): void {
  const tenths = (x: number) => {
    expect(Math.abs(x * 10 - Math.round(x * 10))).toBeLessThan(1e-6);
    expect(String(x)).toMatch(/^-?\d+(\.\d)?$/);
    return Math.round(x * 10);
  };
  const tracks = new Map<string, { a: number; b: number; name: string }[]>();
  for (const e of ev) {
    if (e.ts !== undefined) tenths(e.ts);
    if (e.ph !== "X") continue;
    const key = `${e.pid}:${e.tid}`;
    const a = tenths(e.ts!);
    tracks.set(key, [...(tracks.get(key) ?? []), { a, b: a + tenths(e.dur!), name: e.name }]);
  }
  for (const [key, spans] of tracks) {
    spans.sort((x, y) => x.a - y.a || y.b - x.b);
    const stack: { a: number; b: number; name: string }[] = [];
    for (const s of spans) {
      while (stack.length && stack.at(-1)!.b <= s.a) stack.pop();
      const outer = stack.at(-1);
      if (outer && s.b > outer.b)
        throw new Error(`track ${key}: "${s.name}" [${s.a}, ${s.b}] overlaps "${outer.name}" [${outer.a}, ${outer.b}] without nesting`);
      stack.push(s);
    }
  }
  const open = new Map<string, number>();
  for (const e of ev) {
    if (e.ph !== "b" && e.ph !== "e") continue;
    const key = `${e.pid}:${e.cat}:${e.id}`;
    if (e.ph === "b") {
      expect(open.has(key), `async id ${key} begun twice`).toBe(false);
      open.set(key, e.ts!);
    } else {
      expect(open.has(key), `async end ${key} without begin`).toBe(true);
      expect(e.ts!).toBeGreaterThanOrEqual(open.get(key)!);
      open.delete(key);
    }
  }
  expect([...open.keys()]).toEqual([]);
}
