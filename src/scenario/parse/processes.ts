/**
 * The `processes` section: a mapping of process names to `{ pid, image }`. A missing pid is the
 * next free one from 4100 in steps of 100; a missing image is `<name>.exe` (at most 64 bytes,
 * the image name field of the trace record).
 */
import { isMap, isScalar, type Node, type YAMLMap } from "yaml";
import type { ScenarioProcess } from "../format.ts";
import { keyName, type ParseContext } from "./context.ts";

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;
/** Largest pid a scenario may give (a DWORD below 0xFFFFFFFF). */
const MAX_PID = 0xffff_fffe;
const FIRST_PID = 4100;
const PID_STEP = 100;
/** Bytes of the image name in a trace record (proto/cdfilter.proto, TraceRecord.image_name). */
const MAX_IMAGE_BYTES = 64;

export function parseProcesses(ctx: ParseContext, root: Node, procs: Node | undefined): Map<string, ScenarioProcess> {
  if (!procs) return ctx.fail(root, "missing `processes`: a mapping of process names to { pid, image }");
  if (!isMap(procs)) return ctx.fail(procs, "`processes` must be a mapping of process names to { pid, image }");
  const out = new Map<string, ScenarioProcess>();
  const usedPids = new Map<number, string>();
  let nextPid = FIRST_PID;
  for (const pair of (procs as YAMLMap<Node, Node>).items) {
    const name = keyName(pair);
    if (!NAME_RE.test(name) || name === "system") {
      ctx.fail(pair.key as Node, `bad process name "${name}": letters, digits, _ . - and not "system"`);
    }
    const body = pair.value as Node | null;
    let pid: number | undefined;
    let image = `${name}.exe`;
    if (body !== null && !(isScalar(body) && body.value === null)) {
      if (!isMap(body)) ctx.fail(body, `process "${name}" must be a mapping like { pid: 4100, image: ${name}.exe }`);
      for (const p of (body as YAMLMap<Node, Node>).items) {
        const k = keyName(p);
        if (k === "pid") pid = ctx.scalarInt(p.value as Node, `${name}.pid`, 1, MAX_PID);
        else if (k === "image") image = ctx.scalarString(p.value as Node, `${name}.image`);
        else ctx.fail(p.key as Node, `unknown key "${k}" in process "${name}" (expected pid, image)`);
      }
    }
    if (pid === undefined) {
      while (usedPids.has(nextPid)) nextPid += PID_STEP;
      pid = nextPid;
    }
    nextPid = Math.max(nextPid, pid) + PID_STEP;
    const clash = usedPids.get(pid);
    if (clash !== undefined) ctx.fail(pair.key as Node, `process "${name}" has the same pid ${pid} as "${clash}"`);
    if (Buffer.byteLength(image) > MAX_IMAGE_BYTES) ctx.fail(pair.value as Node, `image name of "${name}" is longer than 64 bytes`);
    usedPids.set(pid, name);
    out.set(name, { name, pid, image });
  }
  if (out.size === 0) ctx.fail(procs, "`processes` names no process");
  return out;
}
