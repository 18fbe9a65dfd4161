/**
 * Scenario files: the YAML format `cdfilter audit` runs and the demo is written in
 * (docs/cli.md, "Scenario format"), as the parser (parse/) returns it.
 *
 * ```yaml
 * name: burner versus player
 * drives: 1                 # simulator drives (1..16), default 1
 * policy: observe           # initial policy of every drive: observe | enforce
 * processes:
 *   burner: { pid: 4100, image: burner.exe }
 *   player: {}              # pid and image default to 4200 / player.exe
 * steps:
 *   - burner: lock          # <process>: <verb> [args]
 *     expect: { status: STATUS_SUCCESS, secure: 1, owner: burner }
 *   - player: eject
 *     expect: { status: STATUS_DEVICE_BUSY, reason: EJECT_UNDER_LOCK }
 *   - system: policy enforce
 * ```
 */

/**
 * Largest scenario file, in bytes (256 KiB: thousands of steps). The YAML document tree costs
 * about 200 times the text, so the size is checked before parsing.
 */
export const MAX_SCENARIO_BYTES = 256 * 1024;

/** Verbs a named process can perform; each issues requests on its handle of `drive`. */
export const PROCESS_VERBS = {
  open: "open a handle (FILE_READ_ATTRIBUTES) on the drive",
  close: "close the handle (IRP_MJ_CLEANUP + IRP_MJ_CLOSE): its secure locks are released",
  lock: "IOCTL_STORAGE_EJECTION_CONTROL TRUE (secure lock)",
  unlock: "IOCTL_STORAGE_EJECTION_CONTROL FALSE (secure unlock)",
  "media-lock": "IOCTL_STORAGE_MEDIA_REMOVAL TRUE (simple lock)",
  "media-unlock": "IOCTL_STORAGE_MEDIA_REMOVAL FALSE (simple unlock)",
  eject: "IOCTL_STORAGE_EJECT_MEDIA",
  "passthrough-eject": "IOCTL_SCSI_PASS_THROUGH with START STOP UNIT LoEj=1 (opcode 0x1B)",
  "passthrough-allow": "IOCTL_SCSI_PASS_THROUGH with PREVENT ALLOW MEDIUM REMOVAL prevent=0 (opcode 0x1E)",
  read: "IRP_MJ_READ [offset] [length] in bytes (default 0 2048)",
  load: "IOCTL_STORAGE_LOAD_MEDIA",
  cleanup: "IRP_MJ_CLEANUP only: the handle stays open for a later close or close-only (simulator)",
  "close-only": "IRP_MJ_CLOSE without IRP_MJ_CLEANUP (a killed process as Wine delivers it; simulator)",
  duplicate:
    "duplicate LABEL [PROCESS]: DuplicateHandle into handle LABEL of PROCESS (default this one): one file object, " +
    "cleanup and close only at the last close (simulator)",
  exit: "the process exits (or crashes) with its handles open: every handle is closed for it",
  crash: "same as exit",
} as const;
export type ProcessVerb = keyof typeof PROCESS_VERBS;

/** Verbs of the `system` actor: they change the simulated world, not a process. */
export const SYSTEM_VERBS = {
  policy: "policy observe|enforce: set the policy of `drive` (or of every drive without `drive`)",
  media: "media present|absent: insert or remove the disc",
  disconnect: "the drive is unplugged (requests fail with STATUS_DEVICE_NOT_CONNECTED)",
  connect: "the drive is plugged back",
  "fail-next": "fail-next STATUS_NAME|0xHEX: the next request to the lower device fails",
  "fail-command": "fail-command KIND NTH STATUS_NAME|0xHEX: the NTH command of KIND (COMMAND_KINDS) reaching the drive from now fails",
  "surprise-remove": "surprise removal (distinct from disconnect): failures then read STATUS_DEVICE_DOES_NOT_EXIST",
  "no-file":
    "no-file VERB [kernel|user]: a device control with no file object (VERB: lock, unlock, media-lock, media-unlock, " +
    "mcn-disable, mcn-enable, eject, load), kernel-mode requestor by default",
} as const;
export type SystemVerb = keyof typeof SYSTEM_VERBS;

/** Kinds of drive command (src/sim/binding.ts CommandKind) as scenarios name them. */
export const COMMAND_KINDS = {
  any: 0,
  prevent: 1,
  allow: 2,
  eject: 3,
  load: 4,
  "test-unit-ready": 5,
  read: 6,
  "close-session": 7,
  other: 8,
} as const;
export type CommandKindName = keyof typeof COMMAND_KINDS;

/** Requests `system: no-file VERB` can send. */
export const NO_FILE_VERBS = ["lock", "unlock", "media-lock", "media-unlock", "mcn-disable", "mcn-enable", "eject", "load"] as const;

export interface Expectation {
  /** NTSTATUS name (STATUS_DEVICE_BUSY) or hex value the request completes with. */
  status?: string;
  /** The drive's secure (EJECTION_CONTROL) total after the step. */
  secure?: number;
  /** The drive's simple (MEDIA_REMOVAL) total after the step. */
  simple?: number;
  /** The only secure-lock owner after the step (a process name), or null for "none". */
  owner?: string | null;
  /** Secure lock count per owning process after the step; processes not named hold none. */
  owners?: Record<string, number>;
  /** A trace record written during the step carries this Reason (short or REASON_ form). */
  reason?: string;
  /** A trace record written during the step carries this Decision (short or DECISION_ form). */
  decision?: string;
  /** Locks released by the filter (AUTO_RELEASE/LEAK_RELEASE records) during the step. */
  released?: number;
  /** The kinds of the commands that reached the step's drive during the step, in order
   * (COMMAND_KINDS names, "any" excluded); [] = none (simulator). */
  commands?: string[];
}

export interface ScenarioProcess {
  name: string;
  pid: number;
  image: string;
}

export interface ScenarioStep {
  /** 1-based position in `steps`. */
  index: number;
  /** 1-based line of the step in the file. */
  line: number;
  /** A process name, or "system". */
  actor: string;
  verb: ProcessVerb | SystemVerb;
  args: string[];
  /** Drive id (1..N), default 1. */
  drive: number;
  /** Whether the step named its drive (a `system: policy` step without one sets every drive). */
  driveGiven: boolean;
  /** Handle label inside the process (a process may hold several handles), default "main". */
  handle: string;
  /** Times the step is performed (read bursts), default 1. */
  repeat: number;
  expect?: Expectation;
  note?: string;
  /** "player eject", "system policy enforce": how the step is named in verdicts and errors. */
  label: string;
}

export interface Scenario {
  name: string;
  description?: string;
  file: string;
  drives: number;
  policy?: "observe" | "enforce";
  processes: Map<string, ScenarioProcess>;
  steps: ScenarioStep[];
}

/** Names the parser checks expectation values against (all optional: unchecked when absent). */
export interface Vocabulary {
  /** Every known NTSTATUS name (STATUS_...). */
  statuses?: ReadonlySet<string>;
  /** Reason names without the REASON_ prefix (EJECT_UNDER_LOCK). */
  reasons?: ReadonlySet<string>;
  /** Decision names without the DECISION_ prefix (DENY). */
  decisions?: ReadonlySet<string>;
}

/**
 * A scenario file that cannot be parsed or validated. The message is
 * `FILE:LINE:COL: [step N (label): ]detail`; `hint` says what to do. The command line reports
 * it with exit code 3 (docs/cli.md, "Exit codes").
 */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
  /** The command line's exit code for a bad input file (docs/cli.md, "Exit codes": 3). */
  readonly exitCode = 3 as const;
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly step: number | undefined,
    readonly detail: string,
    readonly hint?: string,
    stepLabel?: string,
  ) {
    const where = step === undefined ? "" : stepLabel ? `step ${step} (${stepLabel}): ` : `step ${step}: `;
    super(`${file}:${line}:${col}: ${where}${detail}`);
  }
}
