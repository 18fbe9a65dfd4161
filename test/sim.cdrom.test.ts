// The simulated cdrom.sys against Microsoft's CD-ROM class driver sample, one test per rule the
// audit of driver/sim/simcd.c found (docs/simulator.md "Audit"), plus the simulator's QA test
// surface (duplicated handles, requests without a file object, command log, targeted faults,
// surprise removal, the mounted UDF volume). Sources: microsoft/Windows-driver-samples
// storage/class/cdrom/src (win11-22h2), each rule names its function.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy, Reason, TraceBatch, TraceReadRequest } from "../src/client/gen/cdfilter.ts";
import { ControlIoctls } from "../src/client/gen/cdfilter_ioctl.ts";
import { CommandKind, CommandOrigin } from "../src/sim/binding.ts";
import { CDB, IOCTL, ST, passThroughBuffer } from "./support/model/ledger-model.ts";
import { READ, READ_ATTRS, READ_WRITE, Rig, hex } from "./support/model/rig.ts";

const DOES_NOT_EXIST = 0xc00000c0;
const NO_SUCH_DEVICE = 0xc000000e;
const BUFFER_TOO_SMALL = 0xc0000023;
const SCSI_GET_ADDRESS = 0x00041018;
const CDROM_GET_INQUIRY_DATA = 0x00024064;
const FSCTL_MAKE_MEDIA_COMPATIBLE = 0x00098130;
const FSCTL_SET_DEFECT_MANAGEMENT = 0x00098134;
const FSCTL_WRITE_USN_CLOSE_RECORD = 0x000900ef;

const want = (got: number, expected: number): void => expect(hex(got)).toBe(hex(expected));

function exclusiveLock(name: string, flags = 0): Uint8Array {
  const b = new Uint8Array(72);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 1, true); // ExclusiveAccessLockDevice
  dv.setUint32(4, flags, true);
  b.set(new TextEncoder().encode(name), 8);
  return b;
}
const exclusiveUnlock = (): Uint8Array => Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0);

describe("simulated cdrom.sys: rules from the Microsoft sample", () => {
  let r: Rig;
  beforeEach(() => {
    r = new Rig(2);
  });
  afterEach(() => r.destroy());

  // Fails on the old simulator (it loaded the tray under a secure lock).
  it("LOAD and LOAD2 are refused with STATUS_DEVICE_BUSY under a secure lock, without a command (RequestHandleLoadEjectMedia)", () => {
    const a = r.open(1, 100, "a.exe", READ_WRITE);
    want(r.secure(a, true), ST.SUCCESS);
    // the tray opens under the lock only through the pass-through gap
    want(r.passThrough(a, CDB.allow), ST.SUCCESS);
    want(r.passThrough(a, CDB.eject), ST.SUCCESS);
    const before = r.lower(1).commands;
    want(r.ioctl(a, IOCTL.STORAGE_LOAD_MEDIA, null), ST.DEVICE_BUSY);
    want(r.ioctl(a, IOCTL.STORAGE_LOAD_MEDIA2, null), ST.DEVICE_BUSY);
    expect(r.lower(1)).toMatchObject({ trayOpen: true, commands: before });
  });

  // Fails on the old simulator (STATUS_DEVICE_BUSY).
  it("an eject the drive refuses (simple lock) is STATUS_INVALID_DEVICE_REQUEST: ILLEGAL REQUEST 5/53/02 (sense.c)", () => {
    const a = r.open(1, 100, "a.exe", READ);
    r.simple(a, true);
    want(r.eject(a), ST.INVALID_DEVICE_REQUEST);
    const last = r.lib.commands(r.sim, 1).commands.at(-1);
    expect(last).toMatchObject({ kind: CommandKind.EJECT, origin: CommandOrigin.IOCTL, sense: [5, 0x53, 0x02] });
  });

  // Fails on the old simulator (every request failed while disconnected).
  it("STATUS_DEVICE_NOT_CONNECTED comes only from paths that send a command", () => {
    const a = r.open(1, 100, "a.exe", READ_WRITE);
    const b = r.open(1, 200, "b.exe", READ_WRITE);
    want(r.secure(a, true), ST.SUCCESS);
    r.lib.setConnected(r.sim, 1, false);
    want(r.secure(a, true), ST.SUCCESS); // 1 -> 2: no command
    want(r.secure(b, false), ST.INVALID_DEVICE_STATE); // refused before any command
    want(r.ioctl(a, IOCTL.STORAGE_MCN_CONTROL, Uint8Array.of(1)), ST.SUCCESS); // no device I/O
    want(r.eject(b), ST.DEVICE_BUSY); // ProtectedLockCount, no command
    want(r.ioctl(a, IOCTL.STORAGE_CHECK_VERIFY, null), ST.DEVICE_NOT_CONNECTED); // TEST UNIT READY
    want(r.read(a), ST.DEVICE_NOT_CONNECTED); // READ
    expect(r.lower(1).secureTotal).toBe(2);
  });

  // Fails on the old simulator (the pass-through failed with STATUS_DEVICE_BUSY).
  it("a refused pass-through completes STATUS_SUCCESS with CHECK CONDITION and sense 5/53/02", () => {
    const a = r.open(1, 100, "a.exe", READ_ATTRS);
    const b = r.open(1, 200, "b.exe", READ_WRITE);
    r.secure(a, true);
    expect(r.passThroughSense(b, CDB.eject)).toEqual({ status: ST.SUCCESS, scsiStatus: 2, sense: [5, 0x53, 0x02] });
    r.lib.setMedia(r.sim, 1, false);
    expect(r.passThroughSense(b, CDB.testUnitReady)).toEqual({ status: ST.SUCCESS, scsiStatus: 2, sense: [2, 0x3a, 0x01] });
    r.lib.setConnected(r.sim, 1, false);
    want(r.passThrough(b, CDB.testUnitReady), ST.DEVICE_NOT_CONNECTED); // a transport failure is an NTSTATUS
  });

  // Fails on the old simulator (it blocked every IOCTL but EXCLUSIVE_ACCESS, FSCTLs included).
  it("exclusive access blocks the SCSI base and lets RequestIsIoctlBlockedByExclusiveAccess's allow-list through", () => {
    const a = r.open(1, 100, "a.exe", READ_WRITE);
    const b = r.open(1, 200, "b.exe", READ_WRITE);
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("burner")), ST.SUCCESS);
    want(r.passThrough(b, CDB.testUnitReady), ST.ACCESS_DENIED);
    want(r.ioctl(b, IOCTL.CDROM_MEDIA_REMOVAL, Uint8Array.of(1)), ST.ACCESS_DENIED); // raw CDROM base
    // allowed codes reach the port driver model (which knows none of them)
    want(r.ioctl(b, SCSI_GET_ADDRESS, null, 8), ST.INVALID_DEVICE_REQUEST);
    want(r.ioctl(b, CDROM_GET_INQUIRY_DATA, null, 64), ST.INVALID_DEVICE_REQUEST);
    // a code outside the storage bases is not blocked (a volume IOCTL, base 0x56)
    want(r.ioctl(b, 0x00560000, null), ST.INVALID_DEVICE_REQUEST);
    // the owner is not blocked
    want(r.passThrough(a, CDB.testUnitReady), ST.SUCCESS);
  });

  // Fails on the old simulator (INVALID_PARAMETER, INVALID_DEVICE_REQUEST, success for the owner's relock).
  it("exclusive lock/unlock statuses: caller name, owner relock, foreign and unlocked unlock (ioctl.c, common.c DeviceUnlockExclusive)", () => {
    const a = r.open(1, 100, "a.exe", READ_WRITE);
    const b = r.open(1, 200, "b.exe", READ_WRITE);
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveUnlock()), ST.INVALID_DEVICE_REQUEST); // not locked
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("")), ST.INVALID_PARAMETER); // empty name
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("bad/name")), ST.INVALID_PARAMETER); // ValidChar
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("x".repeat(64))), ST.INVALID_PARAMETER); // unterminated
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("Burner 1.0")), ST.SUCCESS);
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("Burner 1.0")), ST.ACCESS_DENIED); // even the owner
    want(r.ioctl(b, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveUnlock()), ST.INVALID_HANDLE); // not the owner
    const q = r.lib.ioctl(r.sim, b, IOCTL.CDROM_EXCLUSIVE_ACCESS, new Uint8Array(8), 10);
    want(q.status, BUFFER_TOO_SMALL);
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveUnlock()), ST.SUCCESS);
  });

  // Fails on the old simulator (STATUS_INVALID_HANDLE for both).
  it("MCN control without a file object: user mode STATUS_INVALID_PARAMETER, kernel mode the device's KernelModeMcnContext (autorun.c RequestHandleMcnControl)", () => {
    want(r.lib.ioctlNoFileMode(r.sim, 1, 4, false, IOCTL.STORAGE_MCN_CONTROL, Uint8Array.of(1), 0).status, ST.INVALID_PARAMETER);
    want(r.lib.ioctlNoFileMode(r.sim, 1, 4, true, IOCTL.STORAGE_MCN_CONTROL, Uint8Array.of(1), 0).status, ST.SUCCESS);
    expect(r.lower(1)).toMatchObject({ mcnTotal: 1, kernelMcn: 1 });
    want(r.lib.ioctlNoFileMode(r.sim, 1, 4, true, IOCTL.STORAGE_MCN_CONTROL, Uint8Array.of(0), 0).status, ST.SUCCESS);
    want(r.lib.ioctlNoFileMode(r.sim, 1, 4, true, IOCTL.STORAGE_MCN_CONTROL, Uint8Array.of(0), 0).status, ST.INVALID_DEVICE_STATE);
  });

  // Fails on the old simulator (the drive got PREVENT=1).
  it("PreventMediaRemoval 0x02 counts a lock but sends Prevent=0 (a BOOLEAN in a one-bit CDB field, PerformEjectionControl)", () => {
    const a = r.open(1, 100, "a.exe", READ);
    want(r.ioctl(a, IOCTL.STORAGE_MEDIA_REMOVAL, Uint8Array.of(2)), ST.SUCCESS);
    expect(r.lower(1)).toMatchObject({ simpleTotal: 1, hwPrevent: false });
    expect(r.lib.commands(r.sim, 1).commands.at(-1)).toMatchObject({ kind: CommandKind.ALLOW, byte4: 0 });
  });

  // Fails on the old simulator (no output, no media change count).
  it("CHECK_VERIFY: 1..3 output bytes STATUS_BUFFER_TOO_SMALL; 4 bytes return MediaChangeCount (RequestHandleCheckVerify)", () => {
    const a = r.open(1, 100, "a.exe", READ);
    want(r.lib.ioctl(r.sim, a, IOCTL.STORAGE_CHECK_VERIFY, null, 2).status, BUFFER_TOO_SMALL);
    r.lib.setMedia(r.sim, 1, false);
    r.lib.setMedia(r.sim, 1, true);
    const ok = r.lib.ioctl(r.sim, a, IOCTL.STORAGE_CHECK_VERIFY, null, 4);
    want(ok.status, ST.SUCCESS);
    expect(new DataView(ok.output.buffer).getUint32(0, true)).toBe(2);
  });

  it("surprise removal is distinct from not connected: commands fail and failures read STATUS_DEVICE_DOES_NOT_EXIST (RequestCompletion)", () => {
    const a = r.open(1, 100, "a.exe", READ_WRITE);
    want(r.lib.surpriseRemove(r.sim, 1), ST.SUCCESS);
    want(r.read(a), DOES_NOT_EXIST);
    want(r.secure(a, true), DOES_NOT_EXIST); // PREVENT fails
    want(r.ioctl(a, IOCTL.STORAGE_MCN_CONTROL, Uint8Array.of(1)), ST.SUCCESS); // no device I/O
    expect(r.lib.commands(r.sim, 1).commands.at(-1)).toMatchObject({ status: NO_SUCH_DEVICE });
    expect(r.lower(1)).toMatchObject({ surpriseRemoved: true, connected: true, secureTotal: 0 });
    expect(r.lib.open(r.sim, 1, 100, "late.exe", READ).status).toBe(DOES_NOT_EXIST);
  });
});

describe("simulator QA surface", () => {
  let r: Rig;
  beforeEach(() => {
    r = new Rig(1);
  });
  afterEach(() => r.destroy());

  it("duplicated handles share one file object: cleanup and close (and cdrom's release) only at the last close", () => {
    const a = r.open(1, 100, "a.exe", READ_ATTRS);
    const dup = r.lib.duplicate(r.sim, a, 200);
    want(dup.status, ST.SUCCESS);
    want(r.secure(dup.handle, true), ST.SUCCESS);
    want(r.secure(a, false), ST.SUCCESS); // same file object: its own lock
    want(r.secure(a, true), ST.SUCCESS);
    want(r.lib.close(r.sim, a), ST.SUCCESS);
    expect(r.lower(1)).toMatchObject({ secureTotal: 1, hwPrevent: true });
    expect(r.ledger(1).secureTotal).toBe(1);
    want(r.lib.close(r.sim, dup.handle), ST.SUCCESS);
    expect(r.lower(1)).toMatchObject({ secureTotal: 0, hwPrevent: false });
    expect(r.ledger(1).secureTotal).toBe(0);
  });

  it("the command log shows what reached the drive, with its origin (close sends the ALLOW)", () => {
    const a = r.open(1, 100, "a.exe", READ_WRITE);
    r.secure(a, true);
    r.secure(a, true); // no command
    r.passThrough(a, CDB.testUnitReady);
    r.lib.close(r.sim, a);
    const log = r.lib.commands(r.sim, 1).commands;
    expect(log.map((c) => [c.kind, c.origin])).toEqual([
      [CommandKind.PREVENT, CommandOrigin.IOCTL],
      [CommandKind.TEST_UNIT_READY, CommandOrigin.PASS_THROUGH],
      [CommandKind.ALLOW, CommandOrigin.CLOSE],
    ]);
    expect(r.lib.commands(r.sim, 1, log[1]?.seq ?? 0).commands).toHaveLength(1);
  });

  it("the command log keeps the last 64 commands, oldest first, and resumes after a seq", () => {
    const a = r.open(1, 100, "a.exe", READ);
    const burst = r.lib.burst(r.sim, a, 100, 2048);
    expect(burst.completed).toBe(100);
    const all = r.lib.commands(r.sim, 1).commands;
    expect(all.map((c) => c.seq)).toEqual(Array.from({ length: 64 }, (_, i) => 37 + i));
    expect(all.every((c) => c.kind === CommandKind.READ && c.origin === CommandOrigin.READ)).toBe(true);
    expect(r.lib.commands(r.sim, 1, 98).commands.map((c) => c.seq)).toEqual([99, 100]);
    expect(r.lib.commands(r.sim, 1, 100).commands).toEqual([]);
    expect(r.lib.commands(r.sim, 1, 5000).commands).toEqual([]);
  });

  it("targeted fault: the second ALLOW the filter sends at close (enforce) fails; that simple lock stays counted", () => {
    r.setPolicy(1, Policy.POLICY_ENFORCE);
    const a = r.open(1, 100, "a.exe", READ);
    const b = r.open(1, 200, "b.exe", READ);
    want(r.lib.failCommand(r.sim, 1, CommandKind.ALLOW, 2, ST.IO_DEVICE_ERROR), ST.SUCCESS);
    r.simple(a, true);
    r.lib.close(r.sim, a); // first ALLOW: succeeds
    r.simple(b, true);
    r.lib.close(r.sim, b); // second ALLOW: fails
    const allows = r.lib.commands(r.sim, 1).commands.filter((c) => c.kind === CommandKind.ALLOW);
    expect(allows.map((c) => hex(c.status))).toEqual([hex(ST.SUCCESS), hex(ST.IO_DEVICE_ERROR)]);
    expect(r.lower(1)).toMatchObject({ simpleTotal: 1, hwPrevent: true });
    expect(r.ledger(1).simpleTotal).toBe(1);
  });

  it("cleanup without close keeps cdrom's secure lock (released at close, DeviceEvtFileClose); close without cleanup releases it", () => {
    const a = r.open(1, 100, "a.exe", READ_ATTRS);
    r.secure(a, true);
    want(r.lib.cleanupOnly(r.sim, a), ST.SUCCESS);
    expect(r.lower(1).secureTotal).toBe(1);
    const b = r.open(1, 200, "b.exe", READ);
    want(r.eject(b), ST.DEVICE_BUSY); // cdrom still holds it
    want(r.lib.closeOnly(r.sim, a), ST.SUCCESS);
    want(r.eject(b), ST.SUCCESS);
  });
});

describe("a mounted UDF volume on the simulated drive", () => {
  let r: Rig;
  beforeEach(() => {
    r = new Rig(1);
  });
  afterEach(() => r.destroy());

  const traceReasons = (): number[] => {
    const req = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: 0n, maxRecords: 256 }));
    const out = r.lib.ioctl(r.sim, r.control, ControlIoctls.readTrace.code, req, 65536);
    return TraceBatch.decode(out.output).records.map((x) => x.reason);
  };

  it("volume file objects reach the filter unseen: cdrom treats them as no file object (KMDF), the filter adopts them", () => {
    const v = r.lib.openVolume(r.sim, 1, 300, "explorer.exe", READ_WRITE);
    want(v.status, ST.SUCCESS);
    expect(r.lower(1)).toMatchObject({ volumeMounted: true, openFiles: 0 });
    // a secure lock through the volume: cdrom has no WDFFILEOBJECT for it -> STATUS_INVALID_HANDLE
    want(r.secure(v.handle, true), ST.INVALID_HANDLE);
    // a simple lock needs no file object
    want(r.simple(v.handle, true), ST.SUCCESS);
    expect(r.ledger(1).simpleTotal).toBe(1);
    expect(r.lower(1).simpleTotal).toBe(1);
    // the filter adopted the unseen file object: the lock is attributed to the volume's process
    expect(
      r
        .ledger(1)
        .owners.filter((o) => o.simpleCount > 0)
        .map((o) => o.pid),
    ).toEqual([300]);
    expect(traceReasons().length).toBeGreaterThan(0);
  });

  it("exclusive access against a mounted volume needs CDROM_LOCK_IGNORE_VOLUME (RequestHandleExclusiveAccessLockDevice)", () => {
    r.lib.openVolume(r.sim, 1, 300, "explorer.exe", READ_WRITE);
    const a = r.open(1, 100, "burner.exe", READ_WRITE);
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("burner")), ST.INVALID_DEVICE_STATE);
    want(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("burner", 1)), ST.SUCCESS);
    r.lib.dismount(r.sim, 1);
    expect(r.lower(1).volumeMounted).toBe(false);
  });

  it("FSCTL_MAKE_MEDIA_COMPATIBLE closes the open session: CLOSE TRACK/SESSION reaches the drive through the filter", () => {
    r.lib.setSessionOpen(r.sim, 1, true);
    const v = r.lib.openVolume(r.sim, 1, 300, "burner.exe", READ_WRITE).handle;
    want(r.ioctl(v, FSCTL_MAKE_MEDIA_COMPATIBLE, new Uint8Array(0)), ST.INVALID_PARAMETER); // FILE_MAKE_COMPATIBLE_BUFFER missing
    want(r.ioctl(v, FSCTL_MAKE_MEDIA_COMPATIBLE, Uint8Array.of(0)), ST.SUCCESS);
    expect(r.lower(1).sessionOpen).toBe(false);
    const last = r.lib.commands(r.sim, 1).commands.at(-1);
    expect(last).toMatchObject({ kind: CommandKind.CLOSE_SESSION, origin: CommandOrigin.PASS_THROUGH, opcode: 0x5b });
    // the filter saw UDFS's pass-through, kernel mode, on behalf of the volume's process
    const req = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: 0n, maxRecords: 256 }));
    const recs = TraceBatch.decode(r.lib.ioctl(r.sim, r.control, ControlIoctls.readTrace.code, req, 65536).output).records;
    expect(recs.some((x) => x.ioctlCode === IOCTL.SCSI_PASS_THROUGH && x.pid === 300)).toBe(true);
    // the session is closed now: the drive refuses a second close (COMMAND SEQUENCE ERROR)
    want(r.ioctl(v, FSCTL_MAKE_MEDIA_COMPATIBLE, Uint8Array.of(0)), ST.INVALID_DEVICE_REQUEST);
    // read-only handle: the I/O manager refuses the FILE_WRITE_ACCESS code
    const ro = r.lib.openVolume(r.sim, 1, 301, "viewer.exe", READ).handle;
    want(r.ioctl(ro, FSCTL_MAKE_MEDIA_COMPATIBLE, Uint8Array.of(0)), ST.ACCESS_DENIED);
  });

  it("FSCTL_SET_DEFECT_MANAGEMENT is per file (a volume handle is refused); FSCTL_WRITE_USN_CLOSE_RECORD is NTFS-only (UDF refuses it)", () => {
    const v = r.lib.openVolume(r.sim, 1, 300, "burner.exe", READ_WRITE).handle;
    want(r.ioctl(v, FSCTL_SET_DEFECT_MANAGEMENT, Uint8Array.of(1)), ST.INVALID_PARAMETER);
    want(r.lib.ioctl(r.sim, v, FSCTL_WRITE_USN_CLOSE_RECORD, null, 8).status, ST.INVALID_DEVICE_REQUEST);
    expect(r.lower(1).commands).toBe(0); // nothing reached the drive
  });

  it("a volume cannot be opened without media", () => {
    r.lib.setMedia(r.sim, 1, false);
    want(r.lib.openVolume(r.sim, 1, 300, "x.exe", READ).status, ST.NO_MEDIA_IN_DEVICE);
  });
});

// The filter core's trace reason under exclusive access follows cdrom.c
// RequestIsIoctlBlockedByExclusiveAccess (driver/core/cdf_class.h cdf_class_exclusive_guarded):
// the SCSI base is blocked, the allow-list is not. Failed on the core that tested only the
// CD-ROM, disk, DVD and storage bases.
describe("filter trace reason under exclusive access", () => {
  it("a blocked pass-through is traced EXCLUSIVE_ACCESS and an allowed query is not", () => {
    const r = new Rig(1);
    try {
      const a = r.open(1, 100, "a.exe", READ_WRITE);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, exclusiveLock("burner"));
      r.ioctl(b, IOCTL.SCSI_PASS_THROUGH, passThroughBuffer(CDB.testUnitReady), 56);
      r.lib.ioctl(r.sim, b, IOCTL.CDROM_EXCLUSIVE_ACCESS, new Uint8Array(8), 65);
      const req = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: 0n, maxRecords: 256 }));
      const out = r.lib.ioctl(r.sim, r.control, ControlIoctls.readTrace.code, req, 65536);
      const recs = TraceBatch.decode(out.output).records.filter((x) => x.handleId !== 0n && x.pid === 200);
      const pt = recs.filter((x) => x.ioctlCode === IOCTL.SCSI_PASS_THROUGH).at(-1);
      const q = recs.filter((x) => x.ioctlCode === IOCTL.CDROM_EXCLUSIVE_ACCESS).at(-1);
      expect(pt?.reason).toBe(Reason.REASON_EXCLUSIVE_ACCESS);
      expect(q?.reason).not.toBe(Reason.REASON_EXCLUSIVE_ACCESS);
    } finally {
      r.destroy();
    }
  });
});
