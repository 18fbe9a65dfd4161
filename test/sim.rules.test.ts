// Every rule of the ledger and the policy (docs/core.md) and of the simulated cdrom.sys (docs/simulator.md), each with the
// expected NTSTATUS, the filter's ledger (GetLedger, decoded with the generated codec) and the
// lower device's state. Sources: cdrom.sys sample, storage/class/cdrom/src, Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL (IOCTL_STORAGE_EJECTION_CONTROL).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "../src/client/gen/cdfilter.ts";
import { ControlIoctls } from "../src/client/gen/cdfilter_ioctl.ts";
import { TraceReadRequest, TraceBatch } from "../src/client/gen/cdfilter.ts";
import { CDB, IOCTL, ST, passThroughBuffer, passThroughExBuffer } from "./support/model/ledger-model.ts";
import { READ, READ_ATTRS, READ_WRITE, Rig, hex, ownersOf } from "./support/model/rig.ts";

interface Rule {
  rule: string;
  source: string;
  run(r: Rig): void | Promise<void>;
}

const st = (n: number): string => hex(n);
const expectStatus = (got: number, want: number): void => expect(st(got)).toBe(st(want));

/** "Not forwarded": a pending fault on the drive survives the request and fires on the next one. */
function expectNotForwarded(r: Rig, drive: number, h: bigint, send: () => number, want: number): void {
  r.lib.failNext(r.sim, drive, ST.IO_DEVICE_ERROR);
  expectStatus(send(), want);
  expectStatus(r.read(h), ST.IO_DEVICE_ERROR);
}

/** Every record still in the ring (one ReadTrace from the start). */
function traceRecords(r: Rig): TraceBatch["records"] {
  const req = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: 0n, maxRecords: 256 }));
  const out = new Uint8Array(ControlIoctls.readTrace.reply.maxSize);
  const res = r.lib.ioctlInto(r.sim, r.control, ControlIoctls.readTrace.code, req, out);
  if (res.status !== 0) throw new Error(`ReadTrace failed: ${hex(res.status)}`);
  return TraceBatch.decode(out.subarray(0, res.returned)).records;
}

const rules: Rule[] = [
  // ---- the ledger ----
  {
    rule: "EJECTION_CONTROL TRUE increments the caller's secure count; the drive gets PREVENT",
    source: "docs/core.md (ledger); Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL step 3",
    run(r) {
      const a = r.open(1, 100, "burner.exe", READ_ATTRS);
      expectStatus(r.secure(a, true), ST.SUCCESS);
      expectStatus(r.secure(a, true), ST.SUCCESS);
      const l = r.ledger(1);
      expect(l.secureTotal).toBe(2);
      expect(ownersOf(l)).toEqual([{ image: "burner.exe", pid: 100, secure: 2, simple: 0 }]);
      expect(r.lower(1)).toMatchObject({ secureTotal: 2, hwPrevent: true });
    },
  },
  {
    rule: "EJECTION_CONTROL FALSE from the holder decrements; ALLOW when the total reaches zero",
    source:
      "docs/core.md (ledger); Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL step 3; cdrom.sys sample, storage/class/cdrom/src (command only on a zero flip)",
    run(r) {
      const a = r.open(1, 100, "burner.exe", READ_ATTRS);
      r.secure(a, true);
      r.secure(a, true);
      expectStatus(r.secure(a, false), ST.SUCCESS);
      expect(r.lower(1)).toMatchObject({ secureTotal: 1, hwPrevent: true });
      expectStatus(r.secure(a, false), ST.SUCCESS);
      expect(r.ledger(1).secureTotal).toBe(0);
      expect(ownersOf(r.ledger(1))).toEqual([]);
      expect(r.lower(1)).toMatchObject({ secureTotal: 0, hwPrevent: false });
    },
  },
  {
    rule: "observe: a foreign secure unlock changes nothing; cdrom answers STATUS_INVALID_DEVICE_STATE",
    source:
      "docs/core.md (ledger); Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL ('ignores unlock requests ... not received a lock request from the same caller')",
    run(r) {
      const a = r.open(1, 100, "burner.exe", READ_ATTRS);
      const b = r.open(1, 200, "player.exe", READ_ATTRS);
      r.secure(a, true);
      expectStatus(r.secure(b, false), ST.INVALID_DEVICE_STATE);
      const l = r.ledger(1);
      expect(l.secureTotal).toBe(1);
      expect(Number(l.foreignUnlocks)).toBe(1);
      expect(Number(l.denials)).toBe(0);
      expect(r.lower(1)).toMatchObject({ secureTotal: 1, hwPrevent: true });
    },
  },
  {
    rule: "counts change only on lower success: no media -> STATUS_NO_MEDIA_IN_DEVICE, ledger unchanged",
    source:
      "docs/core.md (ledger); cdrom.sys sample, storage/class/cdrom/src (no media gives STATUS_NO_MEDIA_IN_DEVICE); Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL status block",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      r.lib.setMedia(r.sim, 1, false);
      expectStatus(r.secure(a, true), ST.NO_MEDIA_IN_DEVICE);
      expect(r.ledger(1).secureTotal).toBe(0);
      expect(r.lower(1)).toMatchObject({ secureTotal: 0, hwPrevent: false });
    },
  },
  {
    rule: "counts change only on lower success: disconnected -> STATUS_DEVICE_NOT_CONNECTED",
    source: "docs/core.md (ledger); Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL status block",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      r.lib.setConnected(r.sim, 1, false);
      expectStatus(r.secure(a, true), ST.DEVICE_NOT_CONNECTED);
      expectStatus(r.simple(r.open(1, 100, "b.exe", READ), true), ST.DEVICE_NOT_CONNECTED);
      expect(r.ledger(1)).toMatchObject({ secureTotal: 0, simpleTotal: 0 });
    },
  },
  {
    rule: "counts change only on lower success: an injected fault fails the next request once",
    source: "docs/core.md; docs/simulator.md (fault injection)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      r.lib.failNext(r.sim, 1, ST.IO_DEVICE_ERROR);
      expectStatus(r.secure(a, true), ST.IO_DEVICE_ERROR);
      expect(r.ledger(1).secureTotal).toBe(0);
      expectStatus(r.secure(a, true), ST.SUCCESS);
      expect(r.ledger(1).secureTotal).toBe(1);
    },
  },
  {
    rule: "input shorter than one BOOLEAN: STATUS_INFO_LENGTH_MISMATCH, not forwarded",
    source: "docs/core.md (ledger); cdrom.sys sample, storage/class/cdrom/src (sizeof(PREVENT_MEDIA_REMOVAL))",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ);
      expectNotForwarded(r, 1, a, () => r.secure(a, true, new Uint8Array(0)), ST.INFO_LENGTH_MISMATCH);
      expect(r.ledger(1).secureTotal).toBe(0);
      expect(r.lower(1).secureTotal).toBe(0);
    },
  },
  {
    rule: "NormalizeIoctl: IOCTL_CDROM_MEDIA_REMOVAL and IOCTL_DISK_MEDIA_REMOVAL count as simple locks",
    source: "docs/core.md (ledger); cdrom.sys sample, storage/class/cdrom/src (NormalizeIoctl, function 0x200-0x300)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ);
      expectStatus(r.simple(a, true, IOCTL.CDROM_MEDIA_REMOVAL), ST.SUCCESS);
      expectStatus(r.simple(a, true, IOCTL.DISK_MEDIA_REMOVAL), ST.SUCCESS);
      expect(r.ledger(1).simpleTotal).toBe(2);
      expect(ownersOf(r.ledger(1))).toEqual([{ image: "a.exe", pid: 100, secure: 0, simple: 2 }]);
      expect(r.lower(1)).toMatchObject({ simpleTotal: 2, hwPrevent: true });
    },
  },
  {
    rule: "secure locks are held from cleanup until close (the owner shows as closing), released at close",
    source: "cdrom.sys sample, storage/class/cdrom/src/cdrom.c, DeviceEvtFileClose -> DeviceCleanupProtectedLocks (no cleanup callback)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      r.secure(a, true);
      r.secure(a, true);
      expectStatus(r.lib.cleanupOnly(r.sim, a), ST.SUCCESS);
      expect(r.lower(1).secureTotal).toBe(2); // cdrom has no cleanup callback
      expect(r.ledger(1).secureTotal).toBe(2);
      expect(r.ledger(1).owners.map((o) => [o.secureCount, o.closing])).toEqual([[2, true]]);
      expectStatus(r.lib.closeOnly(r.sim, a), ST.SUCCESS);
      expect(r.ledger(1).secureTotal).toBe(0);
      expect(r.lower(1)).toMatchObject({ secureTotal: 0, hwPrevent: false });
    },
  },
  {
    rule: "close without cleanup still releases the handle's secure locks",
    source: "docs/core.md (ledger); docs/wine.md (Wine: a killed process gets IRP_MJ_CLOSE only)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      r.secure(a, true);
      expectStatus(r.lib.closeOnly(r.sim, a), ST.SUCCESS);
      expect(r.ledger(1).secureTotal).toBe(0);
      expect(r.lower(1)).toMatchObject({ secureTotal: 0, hwPrevent: false });
    },
  },
  {
    rule: "process exit releases every handle of the process on every drive",
    source:
      "docs/core.md (ledger); Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL ('If the caller terminates without unlocking ... the class driver unlocks')",
    run(r) {
      const a1 = r.open(1, 100, "a1.exe", READ_ATTRS);
      const a2 = r.open(2, 100, "a2.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_ATTRS);
      r.secure(a1, true);
      r.secure(a2, true);
      r.secure(b, true);
      const ex = r.lib.processExit(r.sim, 100);
      expect(ex).toEqual({ status: 0, closed: 2 });
      expect(r.ledger(1).secureTotal).toBe(1);
      expect(ownersOf(r.ledger(1))).toEqual([{ image: "b.exe", pid: 200, secure: 1, simple: 0 }]);
      expect(r.ledger(2).secureTotal).toBe(0);
      expect(r.lower(1).secureTotal).toBe(1);
      expect(r.lower(2)).toMatchObject({ secureTotal: 0, hwPrevent: false });
    },
  },
  {
    rule: "observe: simple locks are not released at close (cdrom's stuck tray)",
    source: "cdrom.sys sample, storage/class/cdrom/src (simple locks are not released when a handle closes)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ);
      r.simple(a, true);
      r.lib.close(r.sim, a);
      expect(r.ledger(1).simpleTotal).toBe(1);
      expect(r.lower(1)).toMatchObject({ simpleTotal: 1, hwPrevent: true });
      const b = r.open(1, 200, "b.exe", READ);
      // the drive refuses in the prevent state (5/53/02); cdrom reads ILLEGAL REQUEST as
      // STATUS_INVALID_DEVICE_REQUEST (sense.c SenseInfoInterpretBySenseKey)
      expectStatus(r.eject(b), ST.INVALID_DEVICE_REQUEST);
      expect(r.lower(1).trayOpen).toBe(false);
    },
  },
  // ---- policy ----
  {
    rule: "enforce: a foreign secure unlock is completed with STATUS_INVALID_DEVICE_STATE, not forwarded",
    source: "docs/core.md (policy)",
    run(r) {
      expectStatus(r.setPolicy(1, Policy.POLICY_ENFORCE), ST.SUCCESS);
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ);
      r.secure(a, true);
      expectNotForwarded(r, 1, b, () => r.secure(b, false), ST.INVALID_DEVICE_STATE);
      const l = r.ledger(1);
      expect(l.secureTotal).toBe(1);
      expect(Number(l.foreignUnlocks)).toBe(1);
      expect(Number(l.denials)).toBe(1);
    },
  },
  {
    rule: "enforce: EJECT_MEDIA (and its CDROM alias) from a non-owner under a secure lock -> STATUS_DEVICE_BUSY, not forwarded",
    source: "docs/core.md (policy)",
    run(r) {
      r.setPolicy(0, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ);
      r.secure(a, true);
      expectNotForwarded(r, 1, b, () => r.eject(b), ST.DEVICE_BUSY);
      expectNotForwarded(r, 1, b, () => r.eject(b, IOCTL.CDROM_EJECT_MEDIA), ST.DEVICE_BUSY);
      expect(Number(r.ledger(1).denials)).toBe(2);
      expect(r.lower(1)).toMatchObject({ trayOpen: false, ejects: 0n });
    },
  },
  {
    rule: "enforce: the sole owner's eject is forwarded (cdrom then refuses it under its own protected count)",
    source: "docs/core.md (policy); cdrom.sys sample, storage/class/cdrom/src (EJECT_MEDIA with protected count -> STATUS_DEVICE_BUSY)",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ);
      r.secure(a, true);
      r.lib.failNext(r.sim, 1, ST.IO_DEVICE_ERROR);
      expectStatus(r.eject(a), ST.IO_DEVICE_ERROR); // reached the lower device
      expectStatus(r.eject(a), ST.DEVICE_BUSY);
      expect(Number(r.ledger(1).denials)).toBe(0);
    },
  },
  {
    rule: "enforce: with two secure owners nobody is the sole owner: every eject is denied",
    source: "docs/core.md (policy) ('other than the sole lock owner')",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ);
      const b = r.open(1, 200, "b.exe", READ);
      r.secure(a, true);
      r.secure(b, true);
      expectNotForwarded(r, 1, a, () => r.eject(a), ST.DEVICE_BUSY);
      expect(Number(r.ledger(1).denials)).toBe(1);
    },
  },
  {
    rule: "enforce: SCSI pass-through START STOP UNIT LoEj=1 / PREVENT ALLOW prevent=0 under a foreign lock -> STATUS_DEVICE_BUSY",
    source: "docs/core.md (policy); cdrom.sys sample, storage/class/cdrom/src (gaps)",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      r.secure(a, true);
      expectNotForwarded(r, 1, b, () => r.passThrough(b, CDB.eject), ST.DEVICE_BUSY);
      expectNotForwarded(r, 1, b, () => r.passThrough(b, CDB.allow), ST.DEVICE_BUSY);
      expectStatus(r.passThrough(b, CDB.testUnitReady), ST.SUCCESS);
      expect(r.lower(1)).toMatchObject({ hwPrevent: true, trayOpen: false });
      expect(Number(r.ledger(1).denials)).toBe(2);
    },
  },
  {
    rule: "observe: pass-through ALLOW then START STOP UNIT ejects under a secure lock (the gap)",
    source: "cdrom.sys sample, storage/class/cdrom/src (pass-through bypasses every software count); MMC (eject refused while prevented)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      r.secure(a, true);
      // the drive is in the prevent state: STATUS_SUCCESS, CHECK CONDITION, 5/53/02
      expect(r.passThroughSense(b, CDB.eject)).toEqual({ status: ST.SUCCESS, scsiStatus: 2, sense: [5, 0x53, 0x02] });
      expectStatus(r.passThrough(b, CDB.allow), ST.SUCCESS);
      expectStatus(r.passThrough(b, CDB.eject), ST.SUCCESS);
      expect(r.lower(1)).toMatchObject({ trayOpen: true, hwPrevent: false, secureTotal: 1, ejects: 1n });
      expect(r.ledger(1).secureTotal).toBe(1);
      expectStatus(r.read(b), ST.NO_MEDIA_IN_DEVICE);
      expectStatus(r.passThrough(b, CDB.load), ST.SUCCESS);
      expect(r.lower(1).trayOpen).toBe(false);
      expectStatus(r.read(b), ST.SUCCESS);
    },
  },
  {
    rule: "enforce: simple locks a handle still holds at close are released (leak report)",
    source: "docs/core.md (policy) (deliberate difference from cdrom.sys)",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ);
      r.simple(a, true);
      r.simple(a, true);
      r.lib.close(r.sim, a);
      expect(r.ledger(1).simpleTotal).toBe(0);
      expect(r.lower(1)).toMatchObject({ simpleTotal: 0, hwPrevent: false });
      const b = r.open(1, 200, "b.exe", READ);
      expectStatus(r.eject(b), ST.SUCCESS);
    },
  },
  {
    rule: "enforce: a leaked simple lock whose unlock fails at close stays counted (orphan), as cdrom still holds it",
    source: "docs/core.md (policy); cdrom.sys sample, storage/class/cdrom/src (counts commit only if the command succeeded)",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ);
      expectStatus(r.simple(a, true), ST.SUCCESS);
      r.lib.setMedia(r.sim, 1, false);
      r.lib.close(r.sim, a);
      expect(r.lower(1)).toMatchObject({ simpleTotal: 1, hwPrevent: true });
      const l = r.ledger(1);
      expect(l.simpleTotal).toBe(1); // was 0 before the fix: the ledger dropped it at dispatch
      expect(ownersOf(l)).toEqual([]);
      // the trace says what happened: a LEAK_RELEASE that released nothing, with the failure
      const rec = traceRecords(r).filter((x) => x.kind === 4 /* LEAK_RELEASE */);
      expect(rec.at(-1)).toMatchObject({ decision: 1 /* PASS */, countReleased: 1, status: ST.NO_MEDIA_IN_DEVICE });
      // the media comes back: anyone may release the orphan, and both views reach zero
      r.lib.setMedia(r.sim, 1, true);
      const b = r.open(1, 200, "b.exe", READ);
      expectStatus(r.simple(b, false), ST.SUCCESS);
      expect(r.ledger(1).simpleTotal).toBe(0);
      expect(r.lower(1)).toMatchObject({ simpleTotal: 0, hwPrevent: false });
    },
  },
  {
    rule: "enforce: of two leaked simple locks only the last unlock needs the drive: one released, one left",
    source: "docs/core.md (policy); cdrom.sys sample, storage/class/cdrom/src (PREVENT/ALLOW only on a zero flip)",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ);
      r.simple(a, true);
      r.simple(a, true);
      r.lib.setMedia(r.sim, 1, false);
      r.lib.close(r.sim, a);
      expect(r.lower(1).simpleTotal).toBe(1);
      expect(r.ledger(1).simpleTotal).toBe(1);
    },
  },
  {
    rule: "enforce: SCSI_PASS_THROUGH_EX / _DIRECT_EX eject or allow under a foreign lock -> STATUS_DEVICE_BUSY",
    source: "reviewer finding 3; Windows SDK ntddscsi.h (SCSI_PASS_THROUGH_EX)",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      r.secure(a, true);
      for (const code of [IOCTL.SCSI_PASS_THROUGH_EX, IOCTL.SCSI_PASS_THROUGH_DIRECT_EX]) {
        expectNotForwarded(r, 1, b, () => r.ioctl(b, code, passThroughExBuffer(CDB.eject), 64), ST.DEVICE_BUSY);
        expectNotForwarded(r, 1, b, () => r.ioctl(b, code, passThroughExBuffer(CDB.allow), 64), ST.DEVICE_BUSY);
      }
      expectStatus(r.ioctl(b, IOCTL.SCSI_PASS_THROUGH_EX, passThroughExBuffer(CDB.testUnitReady), 64), ST.SUCCESS);
      expect(r.lower(1)).toMatchObject({ hwPrevent: true, trayOpen: false, ejects: 0n });
      expect(Number(r.ledger(1).denials)).toBe(4);
    },
  },
  {
    rule: "observe: the simulated drive executes SCSI_PASS_THROUGH_EX (ALLOW then eject: the gap enforce closes)",
    source: "reviewer finding 3; MMC (eject refused while prevented)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      r.secure(a, true);
      const refused = r.lib.ioctl(r.sim, b, IOCTL.SCSI_PASS_THROUGH_EX, passThroughExBuffer(CDB.eject), 64);
      expectStatus(refused.status, ST.SUCCESS); // the drive's CHECK CONDITION is not an NTSTATUS
      expect(refused.output[16]).toBe(2); // ScsiStatus
      expect(r.lower(1)).toMatchObject({ trayOpen: false, ejects: 0n });
      expectStatus(r.ioctl(b, IOCTL.SCSI_PASS_THROUGH_DIRECT_EX, passThroughExBuffer(CDB.allow), 64), ST.SUCCESS);
      expectStatus(r.ioctl(b, IOCTL.SCSI_PASS_THROUGH_EX, passThroughExBuffer(CDB.eject), 64), ST.SUCCESS);
      expect(r.lower(1)).toMatchObject({ trayOpen: true, ejects: 1n });
      // the port driver's checks: Version 0, Length 64
      const bad = passThroughExBuffer(CDB.load);
      bad[4] = 0;
      expectStatus(r.ioctl(b, IOCTL.SCSI_PASS_THROUGH_EX, bad, 64), ST.INVALID_PARAMETER);
      expect(r.lower(1).trayOpen).toBe(true);
    },
  },
  {
    rule: "malformed pass-through (Length 0) carrying an eject: enforce denies it; the port driver rejects it",
    source: "reviewer finding 4; ntddscsi.h (Length = sizeof(SCSI_PASS_THROUGH))",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      r.secure(a, true);
      const allow0 = passThroughBuffer(CDB.allow);
      allow0[0] = 0;
      allow0[1] = 0;
      // observe: forwarded, and the simulated port driver refuses it: the drive stays locked
      expectStatus(r.ioctl(b, IOCTL.SCSI_PASS_THROUGH, allow0, 56), ST.INVALID_PARAMETER);
      expect(r.lower(1)).toMatchObject({ hwPrevent: true });
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      expectNotForwarded(r, 1, b, () => r.ioctl(b, IOCTL.SCSI_PASS_THROUGH, allow0, 56), ST.DEVICE_BUSY);
      const cdb0 = passThroughBuffer(CDB.eject);
      cdb0[6] = 0; // CdbLength 0
      expectNotForwarded(r, 1, b, () => r.ioctl(b, IOCTL.SCSI_PASS_THROUGH, cdb0, 56), ST.DEVICE_BUSY);
      expect(r.lower(1)).toMatchObject({ hwPrevent: true, trayOpen: false, ejects: 0n });
    },
  },
  {
    rule: "PREVENT ALLOW with Persistent=1 Prevent=0: an allow to the filter; the drive keeps its Prevent state",
    source: "reviewer finding 4; MMC-6 PREVENT ALLOW MEDIUM REMOVAL (bit 0 Prevent, bit 1 Persistent)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      r.secure(a, true);
      const persistentClear = [0x1e, 0, 0, 0, 0x02, 0];
      expectStatus(r.passThrough(b, persistentClear), ST.SUCCESS); // observe: forwarded
      expect(r.lower(1).hwPrevent).toBe(true);
      expect(r.passThroughSense(b, CDB.eject)).toEqual({ status: ST.SUCCESS, scsiStatus: 2, sense: [5, 0x53, 0x02] }); // the drive still refuses
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      expectNotForwarded(r, 1, b, () => r.passThrough(b, persistentClear), ST.DEVICE_BUSY);
    },
  },
  {
    rule: "enforce: no secure lock held -> eject is forwarded and the tray opens",
    source: "docs/core.md (policy)",
    run(r) {
      r.setPolicy(1, Policy.POLICY_ENFORCE);
      const b = r.open(1, 200, "b.exe", READ);
      expectStatus(r.eject(b), ST.SUCCESS);
      expect(r.lower(1)).toMatchObject({ trayOpen: true, ejects: 1n });
    },
  },
  // ---- the simulated cdrom.sys ----
  {
    rule: "cdrom: a simple unlock at zero is a successful no-op; any caller may release a simple lock",
    source: "cdrom.sys sample, storage/class/cdrom/src",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ);
      const b = r.open(1, 200, "b.exe", READ);
      expectStatus(r.simple(b, false), ST.SUCCESS);
      expect(r.lower(1).simpleTotal).toBe(0);
      r.simple(a, true);
      expectStatus(r.simple(b, false), ST.SUCCESS);
      expect(r.lower(1)).toMatchObject({ simpleTotal: 0, hwPrevent: false });
      expect(r.ledger(1).simpleTotal).toBe(0);
    },
  },
  {
    rule: "cdrom: the PREVENT/ALLOW command is sent only on a zero flip; counts commit only if it succeeded",
    source: "cdrom.sys sample, storage/class/cdrom/src",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ);
      expectStatus(r.simple(a, true), ST.SUCCESS);
      r.lib.setMedia(r.sim, 1, false);
      expectStatus(r.simple(a, true), ST.SUCCESS); // no command: the total was already non-zero
      expectStatus(r.simple(a, false), ST.SUCCESS);
      expectStatus(r.simple(a, false), ST.NO_MEDIA_IN_DEVICE); // ALLOW needed, fails
      expect(r.lower(1)).toMatchObject({ simpleTotal: 1, hwPrevent: true });
      expect(r.ledger(1).simpleTotal).toBe(1);
    },
  },
  {
    rule: "cdrom: exclusive access denies other handles' IOCTLs and reads; released at close",
    source: "cdrom.sys sample, storage/class/cdrom/src (IOCTL_CDROM_EXCLUSIVE_ACCESS)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_WRITE);
      const b = r.open(1, 200, "b.exe", READ_WRITE);
      const lock = new Uint8Array(72);
      lock[0] = 1; // ExclusiveAccessLockDevice
      lock.set(new TextEncoder().encode("burner"), 8);
      expectStatus(r.ioctl(a, IOCTL.CDROM_EXCLUSIVE_ACCESS, lock), ST.SUCCESS);
      expectStatus(r.ioctl(b, IOCTL.CDROM_EXCLUSIVE_ACCESS, lock), ST.ACCESS_DENIED);
      expectStatus(r.secure(b, true), ST.ACCESS_DENIED);
      expectStatus(r.read(b), ST.ACCESS_DENIED);
      expect(r.ledger(1).secureTotal).toBe(0);
      const q = r.lib.ioctl(r.sim, b, IOCTL.CDROM_EXCLUSIVE_ACCESS, new Uint8Array(8), 65);
      expectStatus(q.status, ST.SUCCESS);
      expect(q.returned).toBe(65);
      expect(q.output[0]).toBe(1);
      expect(new TextDecoder().decode(q.output.subarray(1, 7))).toBe("burner");
      expectStatus(r.secure(a, true), ST.SUCCESS);
      expect(r.lower(1).exclusiveLocked).toBe(true);
      r.lib.close(r.sim, a);
      expect(r.lower(1).exclusiveLocked).toBe(false);
      expectStatus(r.read(b), ST.SUCCESS);
    },
  },
  {
    rule: "cdrom: MCN disables are per handle; an enable from a handle without one -> STATUS_INVALID_DEVICE_STATE",
    source: "cdrom.sys sample, storage/class/cdrom/src (FILE_OBJECT_CONTEXT MCN count)",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      const b = r.open(1, 200, "b.exe", READ_ATTRS);
      expectStatus(r.ioctl(a, IOCTL.STORAGE_MCN_CONTROL, new Uint8Array([1])), ST.SUCCESS);
      expectStatus(r.ioctl(b, IOCTL.STORAGE_MCN_CONTROL, new Uint8Array([0])), ST.INVALID_DEVICE_STATE);
      expect(r.lower(1).mcnTotal).toBe(1);
      r.lib.close(r.sim, a);
      expect(r.lower(1).mcnTotal).toBe(0);
    },
  },
  {
    rule: "cdrom: reads need media (removed or tray open -> STATUS_NO_MEDIA_IN_DEVICE) and sector alignment",
    source: "docs/simulator.md",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ);
      expectStatus(r.read(a), ST.SUCCESS);
      // RequestValidateReadWrite: misaligned -> STATUS_INVALID_DEVICE_REQUEST; length 0 needs no I/O
      expectStatus(r.lib.read(r.sim, a, 100n, 2048).status, ST.INVALID_DEVICE_REQUEST);
      r.lib.setMedia(r.sim, 1, false);
      expectStatus(r.read(a), ST.NO_MEDIA_IN_DEVICE);
      r.lib.setMedia(r.sim, 1, true);
      expectStatus(r.read(a), ST.SUCCESS);
      expect(r.lower(1).reads).toBe(2n);
    },
  },
  // ---- the I/O manager and the control device ----
  {
    rule: "I/O manager: CTL_CODE access bits vs granted access (FILE_READ_ATTRIBUTES only reaches FILE_ANY_ACCESS codes)",
    source:
      "cdrom.sys sample, storage/class/cdrom/src (codes and access); Microsoft docs, IOCTL_STORAGE_EJECTION_CONTROL IOCTL ('open the device with FILE_READ_ATTRIBUTES')",
    run(r) {
      const a = r.open(1, 100, "a.exe", READ_ATTRS);
      expectStatus(r.secure(a, true), ST.SUCCESS); // EJECTION_CONTROL: FILE_ANY_ACCESS
      expectStatus(r.simple(a, true), ST.ACCESS_DENIED); // MEDIA_REMOVAL: FILE_READ_ACCESS
      expectStatus(r.eject(a), ST.ACCESS_DENIED);
      expectStatus(r.passThrough(r.open(1, 100, "r.exe", READ), CDB.eject), ST.ACCESS_DENIED); // needs read|write
      expect(r.ledger(1)).toMatchObject({ secureTotal: 1, simpleTotal: 0 });
    },
  },
  {
    rule: "control device: state changes need write access, queries read access",
    source: "docs/core.md (control protocol); proto/cdfilter/control.proto",
    run(r) {
      const ro = r.lib.open(r.sim, 0, 300, "viewer.exe", READ).handle;
      const req = new Uint8Array([0x08, 0x01, 0x10, 0x02]); // SetPolicyRequest{drive_id:1, policy:ENFORCE}
      expectStatus(r.lib.ioctl(r.sim, ro, ControlIoctls.setPolicy.code, req, 256).status, ST.ACCESS_DENIED);
      expectStatus(r.lib.ioctl(r.sim, ro, ControlIoctls.getLedger.code, new Uint8Array(0), 65536).status, ST.SUCCESS);
      expectStatus(r.lib.ioctl(r.sim, r.control, ControlIoctls.setPolicy.code, req, 256).status, ST.SUCCESS);
    },
  },
];

describe("simulated stack: ledger and policy rules", () => {
  let rig: Rig;
  beforeEach(() => {
    rig = new Rig(2);
  });
  afterEach(() => {
    rig.destroy();
  });
  for (const rule of rules) {
    it(`${rule.rule} [${rule.source}]`, () => rule.run(rig));
  }

  it("WaitTrace blocks until a record arrives, and ends with STATUS_CANCELLED at cancel and at cleanup", async () => {
    const r = rig;
    const wt = ControlIoctls.waitTrace;
    const cursor = r.snapshot().seq;
    const req = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: cursor, maxRecords: 4 }));
    const waiter = r.lib.ioctlAsync(r.sim, r.control, wt.code, req, wt.reply.maxSize);
    let settled = false;
    void waiter.then(() => {
      settled = true;
    });
    await new Promise((res) => setTimeout(res, 50));
    expect(settled).toBe(false);
    const a = r.open(1, 100, "a.exe", READ);
    r.read(a);
    const got = await waiter;
    expectStatus(got.status, ST.SUCCESS);
    const batch = TraceBatch.decode(got.output);
    expect(batch.records.length).toBeGreaterThan(0);
    expect(batch.records[0]!.seq).toBeGreaterThan(cursor);

    // Every record so far (the read may have completed after the first wake-up) is before this cursor.
    const next = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: r.snapshot().seq }));
    const w2 = r.lib.ioctlAsync(r.sim, r.control, wt.code, next, wt.reply.maxSize);
    // A cancel that arrives before the request is parked has nothing to cancel (CancelIoEx cancels
    // only issued requests): repeat it until the wait ends, as the client's BlockingCall does.
    let w2done = false;
    void w2.then(() => {
      w2done = true;
    });
    while (!w2done) {
      await new Promise((res) => setTimeout(res, 20));
      expectStatus(r.lib.cancel(r.sim, r.control), ST.SUCCESS);
    }
    expectStatus((await w2).status, 0xc0000120);

    const other = r.lib.open(r.sim, 0, 5, "tool.exe", READ).handle;
    const w3 = r.lib.ioctlAsync(r.sim, other, wt.code, next, wt.reply.maxSize);
    await new Promise((res) => setTimeout(res, 20));
    r.lib.close(r.sim, other);
    expectStatus((await w3).status, 0xc0000120);
  });
});

describe("simulated stack: destroy under a parked WaitTrace", () => {
  it("completes the wait with STATUS_CANCELLED and returns (no hang, no use after free)", async () => {
    const r = new Rig(1);
    const wt = ControlIoctls.waitTrace;
    const req = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: r.snapshot().seq, maxRecords: 4 }));
    const waiter = r.lib.ioctlAsync(r.sim, r.control, wt.code, req, wt.reply.maxSize);
    await new Promise((res) => setTimeout(res, 100));
    r.destroy();
    expectStatus((await waiter).status, 0xc0000120);
  });
});
