/**
 * The scenario's processes as simulated processes of the embedded simulator: a handle is
 * FilterClient.openDrive with the process's pid and image name; "exit"/"crash" is
 * SimulatorControl.processExit (cleanup + close of every handle of the pid, flagged as a process
 * exit); the `system` verbs drive the simulated cdrom.sys below the filter.
 */
import { Drive, type FilterClient, type SimDeviceHandle, type SimulatorControl } from "../client/index.ts";
import type { DriveActions, ScenarioWorld, WorldHardware, WorldProcess, WorldQa } from "./world.ts";

function simHandle(d: DriveActions): { drive: Drive; handle: SimDeviceHandle } {
  if (!(d instanceof Drive)) throw new Error("not a simulator drive handle");
  return { drive: d, handle: d.handle as SimDeviceHandle };
}

export class SimulatorWorld implements ScenarioWorld {
  readonly kind = "simulated" as const;
  readonly hardware: WorldHardware;
  readonly qa: WorldQa;

  /** `sim` is `client.simulator` (the client must use the simulator transport). */
  constructor(
    private readonly client: FilterClient,
    private readonly sim: SimulatorControl,
  ) {
    this.hardware = {
      setMedia: (drive, present) => sim.setMedia(drive, present),
      setConnected: (drive, connected) => sim.setConnected(drive, connected),
      failNext: (drive, status) => sim.failNext(drive, status),
    };
    this.qa = {
      cleanupOnly: (d) => simHandle(d).handle.cleanupWithoutClose(),
      closeOnly: (d) => simHandle(d).handle.closeWithoutCleanup(),
      duplicate: (d, to) => {
        const { drive } = simHandle(d);
        return new Drive(sim.duplicate(drive.handle, to.pid), drive.driveId, drive.name, to.pid, to.image);
      },
      // pid 4: the System process, as a kernel component's request is attributed
      noFileIoctl: (drive, kernelMode, code, input) => sim.ioctlNoFile(drive, code, input, 0, { pid: 4, kernelMode }).status,
      failCommand: (drive, kind, nth, status) => sim.failCommand(drive, kind, nth, status),
      surpriseRemove: (drive) => sim.surpriseRemove(drive),
      commandSeq: (drive) => sim.driveState(drive).commands,
      commandKindsAfter: (drive, seq) => sim.commands(drive, seq).map((c) => c.kind),
    };
  }

  openDrive(process: WorldProcess, drive: number, _handle: string, access: number): Promise<DriveActions> {
    return this.client.openDrive(drive, { pid: process.pid, image: process.image, access });
  }

  async exit(process: WorldProcess): Promise<void> {
    this.sim.processExit(process.pid);
  }

  pidOf(process: WorldProcess): number {
    return process.pid;
  }

  /** Simulated processes hold nothing outside the client: closing the client closes their handles. */
  async close(): Promise<void> {}
}
