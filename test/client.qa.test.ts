// The client library's QA surface on the simulator (docs/client.md "Simulator QA surface") and
// the FSCTL wrappers (src/client/fsctl.ts) end to end against the simulated UDF volume: statuses
// and buffers per the Windows documentation of FSCTL_MAKE_MEDIA_COMPATIBLE
// (FILE_MAKE_COMPATIBLE_BUFFER), FSCTL_SET_DEFECT_MANAGEMENT (FILE_SET_DEFECT_MGMT_BUFFER) and
// FSCTL_WRITE_USN_CLOSE_RECORD (NTFS 3.0+ only), and what reaches the drive as a consequence.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FilterClient } from "../src/client/client.ts";
import { InvalidFunctionError, InvalidParameterError } from "../src/client/errors.ts";
import { makeMediaCompatible, setDefectManagement, writeUsnCloseRecord } from "../src/client/fsctl.ts";
import { CommandKind, CommandOrigin, type SimDeviceHandle, type SimulatorControl } from "../src/client/index.ts";
import { Policy } from "../src/client/gen/cdfilter.ts";

const IOCTL_STORAGE_MCN_CONTROL = 0x002d0944;
const STATUS_INVALID_PARAMETER = 0xc000000d;
const STATUS_IO_DEVICE_ERROR = 0xc0000185;

let client: FilterClient;
let sim: SimulatorControl;

beforeEach(async () => {
  client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1 } });
  const s = client.simulator;
  if (!s) throw new Error("no simulator");
  sim = s;
});
afterEach(async () => {
  await client.close();
});

describe("FSCTL wrappers on the simulated UDF volume", () => {
  it("makeMediaCompatible closes the open session: CLOSE TRACK/SESSION reaches the drive through the filter", async () => {
    sim.setSessionOpen(1, true);
    const volume = sim.openVolume(1, { pid: 700, image: "burner.exe" });
    const before = sim.driveState(1).commands;
    await makeMediaCompatible(volume, { closeDisc: false });
    expect(sim.driveState(1).sessionOpen).toBe(false);
    const sent = sim.commands(1, before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: CommandKind.CLOSE_SESSION, opcode: 0x5b, origin: CommandOrigin.PASS_THROUGH, status: 0 });
    // closed already: the drive refuses a second close
    await expect(makeMediaCompatible(volume, { closeDisc: true })).rejects.toBeInstanceOf(InvalidFunctionError);
    await volume.close();
  });

  it("setDefectManagement acts on a file (a volume handle is refused); writeUsnCloseRecord is NTFS-only", async () => {
    const volume = sim.openVolume(1, { pid: 700 });
    await expect(setDefectManagement(volume, { disable: true })).rejects.toBeInstanceOf(InvalidParameterError);
    await expect(writeUsnCloseRecord(volume)).rejects.toBeInstanceOf(InvalidFunctionError);
    expect(sim.driveState(1).commands).toBe(0);
  });
});

describe("simulator QA surface through the client", () => {
  it("cleanup without close: the filter releases the secure lock, cdrom.sys still holds it until the close", async () => {
    const d = await client.openDrive(1, { pid: 100, image: "a.exe", access: "attributes" });
    expect((await d.lock()).ok).toBe(true);
    const h = d.handle as SimDeviceHandle;
    expect(h.cleanupWithoutClose()).toBe(0);
    expect(sim.driveState(1).secureTotal).toBe(1);
    h.closeWithoutCleanup();
    expect(sim.driveState(1)).toMatchObject({ secureTotal: 0, hwPrevent: false });
  });

  it("duplicated handles: the lock survives the first close", async () => {
    const d = await client.openDrive(1, { pid: 100, image: "a.exe", access: "attributes" });
    await d.lock();
    const dup = sim.duplicate(d.handle, 200);
    await d.handle.close();
    expect(sim.driveState(1).secureTotal).toBe(1);
    await dup.close();
    expect(sim.driveState(1).secureTotal).toBe(0);
  });

  it("no file object: user mode is refused, kernel mode uses the device's MCN context", () => {
    const user = sim.ioctlNoFile(1, IOCTL_STORAGE_MCN_CONTROL, Uint8Array.of(1), 0, { kernelMode: false });
    expect(user.status).toBe(STATUS_INVALID_PARAMETER);
    const kernel = sim.ioctlNoFile(1, IOCTL_STORAGE_MCN_CONTROL, Uint8Array.of(1), 0);
    expect(kernel.status).toBe(0);
    expect(sim.driveState(1)).toMatchObject({ mcnTotal: 1, kernelMcn: 1 });
  });

  it("targeted fault on the second ALLOW at close, and the command log", async () => {
    await client.setPolicy(Policy.POLICY_ENFORCE, 1);
    sim.failCommand(1, CommandKind.ALLOW, 2, STATUS_IO_DEVICE_ERROR);
    for (const pid of [100, 200]) {
      const d = await client.openDrive(1, { pid, image: `p${pid}.exe`, access: "read" });
      expect((await d.mediaRemoval(true)).ok).toBe(true);
      await d.handle.close();
    }
    const allows = sim.commands(1).filter((c) => c.kind === CommandKind.ALLOW);
    expect(allows.map((c) => c.status)).toEqual([0, STATUS_IO_DEVICE_ERROR]);
    expect(sim.driveState(1).simpleTotal).toBe(1);
  });

  it("surprise removal differs from not connected", async () => {
    const d = await client.openDrive(1, { pid: 100, image: "a.exe", access: "read" });
    sim.setConnected(1, false);
    expect((await d.read(0n, 2048)).statusName).toBe("STATUS_DEVICE_NOT_CONNECTED");
    sim.setConnected(1, true);
    sim.surpriseRemove(1);
    expect((await d.read(0n, 2048)).statusName).toBe("STATUS_DEVICE_DOES_NOT_EXIST");
    expect(sim.driveState(1)).toMatchObject({ surpriseRemoved: true, connected: true });
  });
});
