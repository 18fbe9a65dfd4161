// The filter's handle table under a handle hog, on the simulated stack (filter core over the
// simulated cdrom.sys). One process opens 1024 handles with FILE_READ_ATTRIBUTES (no privilege
// needed); cdrom.sys (storage/class/cdrom/src/cdrom.c, DeviceEvtFileClose ->
// DeviceCleanupProtectedLocks) releases a file object's secure locks and MCN disables at its
// close, so the ledger must as well, whoever filled the table. docs/core.md has the rules.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "../src/client/gen/cdfilter.ts";
import { READ, READ_ATTRS, Rig } from "./support/model/rig.ts";

const IOCTL_STORAGE_MCN_CONTROL = 0x002d0944; // ntddstor.h
const STATUS_SUCCESS = 0;

describe("handle table: one process cannot leave a stuck tray or starve other users", () => {
  let r: Rig;
  beforeEach(() => {
    r = new Rig(2);
  });
  afterEach(() => {
    r.destroy();
  });

  it("a burner's secure lock and MCN disable go at its exit although a hog opened 1024 handles", () => {
    // 1024 handles: the whole table of the core (1024 entries by default); the simulated
    // cdrom.sys has 1024 file contexts per drive, so one of them is on drive 2
    for (let i = 0; i < 1023; i++) r.open(1, 500, "hog.exe", READ_ATTRS);
    r.open(2, 500, "hog.exe", READ_ATTRS);
    const hog = r.ledger(1);
    expect(hog.untrackedOpens).toBeGreaterThan(0); // over the per-process quota
    expect(Number(hog.opensOverQuota)).toBe(hog.untrackedOpens);

    const burner = r.open(1, 600, "burner.exe", READ_ATTRS);
    expect(r.secure(burner, true)).toBe(STATUS_SUCCESS);
    expect(r.ioctl(burner, IOCTL_STORAGE_MCN_CONTROL, new Uint8Array([1]))).toBe(STATUS_SUCCESS);
    const held = r.ledger(1);
    expect(held.owners.map((o) => [o.pid, o.secureCount, o.mcnCount])).toEqual([[600, 1, 1]]);
    expect(r.lib.processExit(r.sim, 600).closed).toBe(1);

    const after = r.ledger(1);
    expect(r.lower(1)).toMatchObject({ secureTotal: 0, mcnTotal: 0 });
    expect([after.secureTotal, after.mcnTotal, after.orphanSecure, after.orphanMcn]).toEqual([0, 0, 0, 0]);

    // enforce: another user locks drive 2 and ejects drive 1 (nobody holds a lock there)
    expect(r.setPolicy(0, Policy.POLICY_ENFORCE)).toBe(STATUS_SUCCESS);
    const player2 = r.open(2, 700, "player.exe", READ);
    expect(r.secure(player2, true)).toBe(STATUS_SUCCESS);
    expect(r.ledger(2).secureTotal).toBe(1);
    expect(r.secure(player2, false)).toBe(STATUS_SUCCESS);
    const player1 = r.open(1, 700, "player.exe", READ);
    expect(r.eject(player1)).toBe(STATUS_SUCCESS);
    expect(r.lower(1).trayOpen).toBe(true);
  });
});
