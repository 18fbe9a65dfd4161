/**
 * `config show|set`: the driver-side trace configuration (TraceConfig: which IRP majors, IOCTLs
 * and drives are recorded at all, and how many input/output bytes each record captures), and
 * `clear`: discard every record in the ring (ClearTrace).
 *
 * The driver-side filter is shared by every reader and decides what is recorded; the
 * client-side filters of `trace`/`export` (docs/filters.md) only choose what is shown.
 * Records the filter takes on its own (DENY/REJECT decisions, releases) are always recorded.
 */
import type { Command } from "commander";
import { type FilterClient, type TraceConfig, hex32, ioctlName, parseIoctl } from "../../client/index.ts";
import { majorName } from "../../client/irp.ts";
import { type GlobalOptions, connect, makeOutput, parseCount } from "../context.ts";
import { usageError } from "../errors.ts";
import type { Output } from "../output.ts";
import { parseMajor } from "../records.ts";

interface SetOpts {
  major?: string[];
  ioctl?: string[];
  drive?: string[];
  captureBytes?: string;
  outputCaptureBytes?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** "all" (or "none" of a constraint) clears a list; otherwise a comma-separated list. */
function listOf<T>(texts: string[] | undefined, parse: (s: string) => T): T[] | undefined {
  if (texts === undefined) return undefined;
  const items = texts.flatMap((t) => t.split(",")).map((s) => s.trim());
  if (items.length === 1 && items[0]!.toLowerCase() === "all") return [];
  if (items.some((s) => s === "" || s.toLowerCase() === "all"))
    throw usageError(
      `"all" stands alone (it clears the list), got "${texts.join(",")}"`,
      "e.g. --major all, or --major READ,DEVICE_CONTROL",
    );
  return items.map(parse);
}

/** The TraceConfig fields a `config set` command line changes (fields left out keep their value). */
export function configFromOptions(o: SetOpts, maxCapture: number): Partial<TraceConfig> {
  const cfg: Partial<TraceConfig> = {};
  const majors = listOf(o.major, parseMajor);
  if (majors) cfg.majors = majors;
  const codes = listOf(o.ioctl, (s) => {
    try {
      return parseIoctl(s);
    } catch (e) {
      throw usageError((e as Error).message, "run `cdfilter decode NAME` to check a name");
    }
  });
  if (codes) cfg.ioctlCodes = codes;
  const drives = listOf(o.drive, (s) => parseCount(s, "--drive", 1, 16, "a drive id from `cdfilter drives` (1..16)"));
  if (drives) cfg.driveIds = drives;
  if (o.captureBytes !== undefined) cfg.captureBytes = parseCount(o.captureBytes, "--capture-bytes", 0, maxCapture);
  if (o.outputCaptureBytes !== undefined)
    cfg.outputCaptureBytes = parseCount(o.outputCaptureBytes, "--output-capture-bytes", 0, maxCapture, "0 (off) .. the driver's limit");
  if (cfg.majors && cfg.majors.length > 28) throw usageError("at most 28 IRP majors (TraceConfig.majors)");
  if (cfg.ioctlCodes && cfg.ioctlCodes.length > 32) throw usageError("at most 32 IOCTL codes (TraceConfig.ioctl_codes)");
  if (cfg.driveIds && cfg.driveIds.length > 16) throw usageError("at most 16 drives (TraceConfig.drive_ids)");
  return cfg;
}

function printConfig(out: Output, cfg: TraceConfig): void {
  if (out.json) {
    out.jsonDoc(cfg);
    return;
  }
  const all = out.c.dim("all");
  out.line(`majors:               ${cfg.majors.length ? cfg.majors.map(majorName).join(", ") : all}`);
  out.line(`ioctls:               ${cfg.ioctlCodes.length ? cfg.ioctlCodes.map((c) => ioctlName(c) ?? hex32(c)).join(", ") : all}`);
  out.line(`drives:               ${cfg.driveIds.length ? cfg.driveIds.join(", ") : all}`);
  out.line(`capture bytes:        ${cfg.captureBytes} (input head of each dispatch)`);
  out.line(
    `output capture bytes: ${cfg.outputCaptureBytes}${cfg.outputCaptureBytes ? " (output head of each completion)" : out.c.dim(" (off)")}`,
  );
}

async function withClient<T>(g: GlobalOptions, out: Output, fn: (c: FilterClient) => Promise<T>): Promise<T> {
  const client = await connect(g, out);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export function registerConfig(program: Command, globals: () => GlobalOptions): void {
  const config = program.command("config").description("the driver-side trace configuration: what is recorded, and how many bytes");
  config
    .command("show")
    .description("print the trace configuration (TraceConfig)")
    .action(async () => {
      const g = globals();
      const out = makeOutput(g);
      await withClient(g, out, async (c) => printConfig(out, await c.traceConfig()));
    });
  config
    .command("set")
    .description("change the trace configuration; options left out keep their value")
    .option("--major <names>", 'record only these IRP majors (comma-separated, repeatable; "all" = every one)', collect)
    .option("--ioctl <codes>", 'record only these device-control codes (name or number; "all" = every one)', collect)
    .option("--drive <ids>", 'record only these drives ("all" = every one)', collect)
    .option("--capture-bytes <n>", "input bytes captured per dispatch (0 .. the driver's max_capture_bytes)")
    .option("--output-capture-bytes <n>", "output bytes captured per completion, METHOD_BUFFERED only (0 = off)")
    .action(async (o: SetOpts) => {
      const g = globals();
      const out = makeOutput(g);
      if (Object.values(o).every((v) => v === undefined))
        throw usageError("config set needs something to set", "e.g. cdfilter config set --major DEVICE_CONTROL --output-capture-bytes 96");
      await withClient(g, out, async (c) => {
        const info = await c.info();
        const cfg = configFromOptions(o, info.maxCaptureBytes);
        printConfig(out, await c.setTraceConfig(cfg));
      });
    });

  program
    .command("clear")
    .description("discard every record in the trace ring (ClearTrace)")
    .action(async () => {
      const g = globals();
      const out = makeOutput(g);
      await withClient(g, out, async (c) => {
        const through = await c.clearTrace();
        if (out.json) out.jsonDoc({ clearedThrough: through });
        else out.line(`cleared the trace ring: records up to seq ${through} discarded`);
      });
    });
}
