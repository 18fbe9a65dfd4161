// Model-based test: fast-check drives >= 2,000 random multi-process scenarios per run through the
// simulated stack (C core + simulated cdrom.sys, via koffi) and through the TypeScript reference
// model (test/support/model/ledger-model.ts, written from Microsoft's cdrom.sys sample and the filter's
// rules in docs/core.md), and
// compares after every step: the NTSTATUS, the filter's ledger (GetLedger) and the lower device.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Policy } from "../src/client/gen/cdfilter.ts";
import { CDB, IOCTL, LedgerModel, POLICY_ENFORCE, POLICY_OBSERVE, ST, passThroughBuffer } from "./support/model/ledger-model.ts";
import { READ, READ_ATTRS, READ_WRITE, Rig, hex, ownersOf } from "./support/model/rig.ts";

const RUNS = Number(process.env.CDF_MODEL_RUNS ?? 2000);
const DRIVES = 2;

type Op =
  | { k: "open"; drive: number; pid: number; access: number }
  | { k: "secure"; h: number; lock: boolean }
  | { k: "short"; h: number }
  | { k: "simple"; h: number; lock: boolean; alias: boolean }
  | { k: "eject"; h: number; alias: boolean }
  | { k: "load"; h: number; alias: boolean }
  | { k: "pt"; h: number; cdb: "eject" | "allow" | "load" | "prevent" }
  | { k: "read"; h: number }
  | { k: "media"; drive: number; present: boolean }
  | { k: "connected"; drive: number; connected: boolean }
  | { k: "fault"; drive: number; status: number }
  | { k: "close"; h: number }
  | { k: "closeOnly"; h: number }
  | { k: "exit"; pid: number }
  | { k: "policy"; drive: number; enforce: boolean }
  | { k: "mcn"; h: number; disable: boolean }
  | { k: "verify"; h: number; v2: boolean }
  | { k: "remove"; drive: number }
  | { k: "excl"; h: number; type: 0 | 1 | 2 };

const drive = fc.integer({ min: 1, max: DRIVES });
const pid = fc.integer({ min: 101, max: 103 });
const h = fc.nat(15);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("open" as const),
      drive,
      pid,
      access: fc.constantFrom(READ_WRITE, READ_WRITE, READ, READ_ATTRS),
    }),
  },
  { weight: 6, arbitrary: fc.record({ k: fc.constant("secure" as const), h, lock: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("short" as const), h }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("simple" as const), h, lock: fc.boolean(), alias: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("eject" as const), h, alias: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("load" as const), h, alias: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("pt" as const),
      h,
      cdb: fc.constantFrom("eject" as const, "allow" as const, "load" as const, "prevent" as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("read" as const), h }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("mcn" as const), h, disable: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("verify" as const), h, v2: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("remove" as const), drive }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("excl" as const), h, type: fc.constantFrom(0 as const, 1 as const, 1 as const, 2 as const) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("media" as const), drive, present: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("connected" as const), drive, connected: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("fault" as const),
      drive,
      status: fc.constantFrom(ST.IO_DEVICE_ERROR, ST.DEVICE_NOT_READY, ST.NO_MEDIA_IN_DEVICE),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("close" as const), h }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("closeOnly" as const), h }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("exit" as const), pid }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("policy" as const), drive: fc.integer({ min: 0, max: DRIVES }), enforce: fc.boolean() }),
  },
);

/** The I/O manager's check (CTL_CODE access bits vs granted access), applied before the filter. */
function granted(code: number, access: number): boolean {
  const need = (code >>> 14) & 3;
  const r = (access & (0x0001 | 0x80000000)) !== 0;
  const w = (access & (0x0002 | 0x40000000)) !== 0;
  return (!(need & 1) || r) && (!(need & 2) || w);
}

interface LiveHandle {
  key: number;
  sim: bigint;
  drive: number;
  pid: number;
  access: number;
}

function runScenario(ops: Op[]): void {
  const rig = new Rig(DRIVES, 65536);
  const model = new LedgerModel(DRIVES);
  const live: LiveHandle[] = [];
  let serial = 0;
  const log: string[] = [];
  try {
    ops.forEach((op, step) => {
      let got: number | undefined;
      let want: number | undefined;
      const pick = (i: number): LiveHandle | undefined => (live.length ? live[i % live.length] : undefined);
      const ioctl = (lh: LiveHandle, code: number, input: Uint8Array, outCap = 0): void => {
        got = rig.ioctl(lh.sim, code, input, outCap);
        want = granted(code, lh.access) ? model.ioctl(lh.key, code, input) : ST.ACCESS_DENIED;
      };
      const drop = (lh: LiveHandle): void => {
        live.splice(live.indexOf(lh), 1);
      };
      switch (op.k) {
        case "open": {
          const key = ++serial;
          const image = `p${op.pid}-h${key}.exe`;
          const createWant = model.createStatus(op.drive);
          if (createWant !== ST.SUCCESS) {
            got = rig.lib.open(rig.sim, op.drive, op.pid, image, op.access).status;
            want = createWant;
            break;
          }
          const sim = rig.open(op.drive, op.pid, image, op.access);
          model.open(key, op.drive, op.pid, image);
          live.push({ key, sim, drive: op.drive, pid: op.pid, access: op.access });
          break;
        }
        case "secure": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, IOCTL.STORAGE_EJECTION_CONTROL, new Uint8Array([op.lock ? 1 : 0]));
          break;
        }
        case "short": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, IOCTL.STORAGE_EJECTION_CONTROL, new Uint8Array(0));
          break;
        }
        case "simple": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, op.alias ? IOCTL.CDROM_MEDIA_REMOVAL : IOCTL.STORAGE_MEDIA_REMOVAL, new Uint8Array([op.lock ? 1 : 0]));
          break;
        }
        case "eject": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, op.alias ? IOCTL.CDROM_EJECT_MEDIA : IOCTL.STORAGE_EJECT_MEDIA, new Uint8Array(0));
          break;
        }
        case "load": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, op.alias ? IOCTL.STORAGE_LOAD_MEDIA2 : IOCTL.STORAGE_LOAD_MEDIA, new Uint8Array(0));
          break;
        }
        case "pt": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, IOCTL.SCSI_PASS_THROUGH, passThroughBuffer(CDB[op.cdb]), 56);
          break;
        }
        case "read": {
          const lh = pick(op.h);
          if (lh) {
            got = rig.read(lh.sim);
            want = granted(0x4000, lh.access) ? model.read(lh.key) : ST.ACCESS_DENIED;
          }
          break;
        }
        case "mcn": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, IOCTL.STORAGE_MCN_CONTROL, new Uint8Array([op.disable ? 1 : 0]));
          break;
        }
        case "verify": {
          const lh = pick(op.h);
          if (lh) ioctl(lh, op.v2 ? IOCTL.STORAGE_CHECK_VERIFY2 : IOCTL.STORAGE_CHECK_VERIFY, new Uint8Array(0));
          break;
        }
        case "excl": {
          const lh = pick(op.h);
          if (lh) {
            // CDROM_EXCLUSIVE_ACCESS (8 bytes) or CDROM_EXCLUSIVE_LOCK (72 bytes, caller name "qa")
            const b = new Uint8Array(op.type === 1 ? 72 : 8);
            b[0] = op.type;
            if (op.type === 1) b.set([0x71, 0x61], 8);
            ioctl(lh, IOCTL.CDROM_EXCLUSIVE_ACCESS, b, op.type === 0 ? 65 : 0);
          }
          break;
        }
        case "remove":
          rig.lib.surpriseRemove(rig.sim, op.drive);
          model.surpriseRemove(op.drive);
          break;
        case "media":
          rig.lib.setMedia(rig.sim, op.drive, op.present);
          model.setMedia(op.drive, op.present);
          break;
        case "connected":
          rig.lib.setConnected(rig.sim, op.drive, op.connected);
          model.setConnected(op.drive, op.connected);
          break;
        case "fault":
          rig.lib.failNext(rig.sim, op.drive, op.status);
          model.failNext(op.drive, op.status);
          break;
        case "close": {
          const lh = pick(op.h);
          if (lh) {
            got = rig.lib.close(rig.sim, lh.sim);
            want = ST.SUCCESS;
            model.close(lh.key);
            drop(lh);
          }
          break;
        }
        case "closeOnly": {
          const lh = pick(op.h);
          if (lh) {
            got = rig.lib.closeOnly(rig.sim, lh.sim);
            want = ST.SUCCESS;
            model.closeOnly(lh.key);
            drop(lh);
          }
          break;
        }
        case "exit": {
          const r = rig.lib.processExit(rig.sim, op.pid);
          const n = model.processExit(op.pid);
          expect(r.closed, `step ${step} exit closed`).toBe(n);
          for (const lh of live.filter((x) => x.pid === op.pid)) drop(lh);
          break;
        }
        case "policy":
          got = rig.setPolicy(op.drive, op.enforce ? Policy.POLICY_ENFORCE : Policy.POLICY_OBSERVE);
          want = ST.SUCCESS;
          model.setPolicy(op.drive, op.enforce ? POLICY_ENFORCE : POLICY_OBSERVE);
          break;
      }
      log.push(`${step}: ${JSON.stringify(op)} -> ${got === undefined ? "-" : hex(got)}`);
      const where = (): string => `after step ${step}:\n${log.join("\n")}`;
      if (got !== undefined || want !== undefined) expect(hex(got ?? 0), `status ${where()}`).toBe(hex(want ?? 0));
      model.checkInvariants();
      const snap = rig.snapshot(0);
      for (let d = 1; d <= DRIVES; d++) {
        const l = snap.drives.find((x) => x.driveId === d);
        expect(l, `drive ${d} in snapshot`).toBeDefined();
        const m = model.ledger(d);
        const c = {
          secureTotal: l!.secureTotal,
          simpleTotal: l!.simpleTotal,
          foreignUnlocks: Number(l!.foreignUnlocks),
          denials: Number(l!.denials),
          owners: ownersOf(l!),
        };
        expect(c, `ledger drive ${d} ${where()}`).toEqual(m);
        expect(l!.secureTotal, "secure total = sum of owners").toBe(l!.owners.reduce((s, o) => s + o.secureCount, 0));
        const lo = rig.lower(d);
        const ml = model.lower(d);
        expect(
          {
            mediaPresent: lo.mediaPresent,
            trayOpen: lo.trayOpen,
            hwPrevent: lo.hwPrevent,
            connected: lo.connected,
            secureTotal: lo.secureTotal,
            simpleTotal: lo.simpleTotal,
            mcnTotal: lo.mcnTotal,
            ejects: Number(lo.ejects),
            exclusiveLocked: lo.exclusiveLocked,
          },
          `lower drive ${d} ${where()}`,
        ).toEqual(ml);
      }
    });
  } finally {
    rig.destroy();
  }
}

describe("simulated stack vs reference model", () => {
  it(`agrees on statuses, ledger and lower state over ${RUNS} random multi-process scenarios`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 4, maxLength: 40, size: "max" }), (ops) => {
        runScenario(ops);
      }),
      { numRuns: RUNS },
    );
  });
});
