/**
 * Where the named processes of a scenario live. The runner (runner.ts) plays every step through
 * this one interface; two worlds implement it:
 *   - SimulatorWorld (simulator-world.ts): simulated processes of the embedded simulator
 *     (FilterClient.openDrive with pid/image; SimulatorControl.processExit), with simulated
 *     hardware (media, plug, injected failures);
 *   - ActorWorld (wine-world.ts): real Windows processes (node.exe under Wine) against the
 *     kernel-mode host; "exit"/"crash" is TerminateProcess. No simulated hardware there.
 */
import type { ActionResult, PassThroughResult } from "../client/index.ts";

/** What a scenario process does on one of its drive handles (the Drive methods the runner uses). */
export interface DriveActions {
  lock(): Promise<ActionResult>;
  unlock(): Promise<ActionResult>;
  mediaRemoval(prevent: boolean): Promise<ActionResult>;
  eject(): Promise<ActionResult>;
  /** IOCTL_STORAGE_LOAD_MEDIA (absent where the world cannot send it: the Wine actors). */
  load?(): Promise<ActionResult>;
  passThrough(cdb: Uint8Array): Promise<PassThroughResult>;
  read(offset: bigint | number, length: number): Promise<ActionResult>;
  close(): Promise<void>;
}

/** A scenario process as the runner names it. */
export interface WorldProcess {
  name: string;
  /** The scenario's pid (the simulator uses it; real processes get theirs from Windows). */
  pid: number;
  image: string;
}

/** The drive hardware below the filter, where the world simulates it (the `system` verbs). */
export interface WorldHardware {
  /** Disc inserted and tray closed (true) or disc taken out (false). */
  setMedia(drive: number, present: boolean): void;
  /** false: the drive stops answering (commands fail STATUS_DEVICE_NOT_CONNECTED). */
  setConnected(drive: number, connected: boolean): void;
  /** The next lower request on `drive` fails with `status` (NTSTATUS). */
  failNext(drive: number, status: number): void;
}

/**
 * The simulator's QA surface (docs/client.md "Simulator QA surface"), where the world has it
 * (undefined under Wine: the verbs and the `commands` expectation that need it cannot run).
 */
export interface WorldQa {
  /** IRP_MJ_CLEANUP only on the handle; returns the NTSTATUS. */
  cleanupOnly(d: DriveActions): number;
  /** IRP_MJ_CLOSE without cleanup. */
  closeOnly(d: DriveActions): void;
  /** DuplicateHandle into `to`: a DriveActions on the same file object. */
  duplicate(d: DriveActions, to: WorldProcess): DriveActions;
  /** A device control with no file object on `drive`; returns the NTSTATUS. */
  noFileIoctl(drive: number, kernelMode: boolean, code: number, input: Uint8Array): number;
  /** The nth command of kind (binding.ts CommandKind) reaching `drive` fails with status. */
  failCommand(drive: number, kind: number, nth: number, status: number): void;
  surpriseRemove(drive: number): void;
  /** The seq of the last command that reached `drive`. */
  commandSeq(drive: number): number;
  /** Kinds (binding.ts CommandKind) of the commands after `seq`, oldest first. */
  commandKindsAfter(drive: number, seq: number): number[];
}

export interface ScenarioWorld {
  readonly kind: "simulated" | "windows";
  /** Open drive `drive` (driver id) as handle `handle` of `process`, starting the process on first use. */
  openDrive(process: WorldProcess, drive: number, handle: string, access: number): Promise<DriveActions>;
  /** The process ends with its handles open (process exit or TerminateProcess). */
  exit(process: WorldProcess): Promise<void>;
  /** The pid the driver sees for the process (undefined before it started). */
  pidOf(process: WorldProcess): number | undefined;
  /** The simulated hardware, when this world has one (undefined: `system media|connect|disconnect|fail-next` cannot run). */
  readonly hardware: WorldHardware | undefined;
  /** The simulator's QA surface, when this world has one. */
  readonly qa?: WorldQa | undefined;
  /** End every process this world started. */
  close(): Promise<void>;
}
