/**
 * The scenario's processes as simulated processes of the embedded simulator: a handle is
 * FilterClient.openDrive with the process's pid and image name; "exit"/"crash" is
 * SimulatorControl.processExit (cleanup + close of every handle of the pid, flagged as a process
 * exit); the `system` verbs drive the simulated cdrom.sys below the filter.
 */
import type { FilterClient, SimulatorControl } from "../client/index.ts";
import type { DriveActions, ScenarioWorld, WorldHardware, WorldProcess } from "./world.ts";

export class SimulatorWorld implements ScenarioWorld {
  readonly kind = "simulated" as const;
  readonly hardware: WorldHardware;

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
