/**
 * The output layer: colour, aligned tables, progress bars and machine output.
 *
 * Rules (docs/cli.md, "Output"): human output by default; colour only when the stream is a TTY,
 * never when NO_COLOR is set to a non-empty value or --no-color is given (FORCE_COLOR=1 forces it,
 * for screenshots and tests); `--json` switches every command to machine output on stdout
 * (one JSON document, or JSON Lines for streams); progress bars and notes go to stderr and only
 * when stderr is a TTY, so pipes and files never see them.
 */
import { createColors } from "picocolors";
type Colors = ReturnType<typeof createColors>;
import Table from "cli-table3";
import { SingleBar } from "cli-progress";

export type { Colors };

export interface OutputOptions {
  json: boolean;
  /** false when --no-color was given. */
  color: boolean;
  /** --quiet: no notes on stderr. */
  quiet: boolean;
}

export interface StreamLike {
  isTTY?: boolean;
  write(chunk: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/** Decide whether a stream gets ANSI colours (no-color.org and FORCE_COLOR conventions). */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag: boolean): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

export type Align = "left" | "right" | "center";

/** Column-aligned table without borders between rows (cli-table3; ANSI-aware widths). */
export function renderTable(head: string[], rows: string[][], c: Colors, aligns?: Align[]): string {
  const table = new Table({
    head: head.map((h) => c.bold(h)),
    colAligns: aligns ?? head.map(() => "left" as const),
    chars: {
      top: "",
      "top-mid": "",
      "top-left": "",
      "top-right": "",
      bottom: "",
      "bottom-mid": "",
      "bottom-left": "",
      "bottom-right": "",
      left: "",
      "left-mid": "",
      mid: "",
      "mid-mid": "",
      right: "",
      "right-mid": "",
      middle: "  ",
    },
    style: { "padding-left": 0, "padding-right": 0, head: [], border: [], compact: true },
  });
  for (const r of rows) table.push(r);
  const lines = table
    .toString()
    .split("\n")
    .map((l) => l.replace(/\s+$/, ""));
  // A loop, not Math.max(...lines): spreading a long table overflows the stack.
  let width = 0;
  for (const l of lines) width = Math.max(width, visibleLength(l));
  lines.splice(1, 0, c.dim("─".repeat(width)));
  return lines.join("\n");
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
export function visibleLength(s: string): number {
  return s.replace(ANSI, "").length;
}

export interface Progress {
  update(value: number): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { update() {}, stop() {} };

/**
 * The output of one command run. stdout carries results; stderr carries notes, progress and
 * errors.
 */
export class Output {
  readonly c: Colors;
  readonly ce: Colors;
  readonly json: boolean;
  readonly quiet: boolean;

  constructor(
    opts: OutputOptions,
    readonly stdout: StreamLike = process.stdout,
    readonly stderr: StreamLike = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.json = opts.json;
    this.quiet = opts.quiet;
    this.c = createColors(colorEnabled(stdout, env, opts.color));
    this.ce = createColors(colorEnabled(stderr, env, opts.color));
  }

  /** A line of result on stdout. */
  line(s = ""): void {
    this.stdout.write(s + "\n");
  }

  /** Machine output: one JSON document on stdout (bigint as decimal strings). */
  jsonDoc(value: unknown): void {
    this.stdout.write(JSON.stringify(value, jsonReplacer, 2) + "\n");
  }

  /** Write a chunk to stdout and wait for the stream to drain when its buffer is full
   * (back-pressure for long trace streams). */
  async write(chunk: string): Promise<void> {
    if (!this.stdout.write(chunk)) {
      await new Promise<void>((resolve) => this.stdout.once("drain", resolve));
    }
  }

  /** A note for humans on stderr (transport used, files written); silenced by --quiet. */
  note(s: string): void {
    if (!this.quiet) this.stderr.write(this.ce.dim(s) + "\n");
  }

  warn(s: string): void {
    this.stderr.write(this.ce.yellow("warning: ") + s + "\n");
  }

  /** A progress bar on stderr, only when stderr is a TTY and output is for humans. */
  progress(label: string, total: number, unit = ""): Progress {
    if (this.json || this.quiet || this.stderr.isTTY !== true || total <= 0) return NO_PROGRESS;
    const bar = new SingleBar({
      format: `${label} {bar} {percentage}% {value}/{total}${unit ? " " + unit : ""} {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
      fps: 10,
    });
    bar.start(total, 0);
    return {
      update: (v) => bar.update(v),
      stop: () => bar.stop(),
    };
  }
}

/** JSON.stringify replacer: bigint becomes a decimal string (the proto3 JSON mapping of 64-bit
 * integers), Uint8Array becomes base64. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return value;
}
