// Test rig over the simulator binding: one simulated stack, a control handle with read+write
// access, and helpers that send the storage IOCTLs and read the filter's ledger through the
// GetLedger control IOCTL (decoded with the generated TS codec).
import { Access, SimLibrary, type DriveState, type SimPointer } from "../../../src/sim/binding.ts";
import { LedgerSnapshot, LedgerRequest, SetPolicyRequest, type DriveLedger, type Policy } from "../../../src/client/gen/cdfilter.ts";
import { ControlIoctls } from "../../../src/client/gen/cdfilter_ioctl.ts";
import { IOCTL, type PassThroughResult, passThroughBuffer, passThroughSenseBuffer } from "./ledger-model.ts";

export const READ_ATTRS = Access.FILE_READ_ATTRIBUTES;
export const READ = Access.GENERIC_READ;
export const READ_WRITE = Access.GENERIC_READ | Access.GENERIC_WRITE;

export class Rig {
  readonly lib: SimLibrary;
  readonly sim: SimPointer;
  readonly control: bigint;
  private readonly ledgerOut: Uint8Array;

  constructor(drives = 2, ringBytes = 0) {
    this.lib = SimLibrary.load();
    this.sim = this.lib.create(drives, ringBytes);
    const c = this.lib.open(this.sim, 0, 4, "System", READ_WRITE);
    if (c.status !== 0) throw new Error(`control open failed: 0x${c.status.toString(16)}`);
    this.control = c.handle;
    this.ledgerOut = new Uint8Array(ControlIoctls.getLedger.reply.maxSize);
  }

  destroy(): void {
    this.lib.destroy(this.sim);
  }

  open(drive: number, pid: number, image: string, access: number = READ): bigint {
    const r = this.lib.open(this.sim, drive, pid, image, access);
    if (r.status !== 0) throw new Error(`open drive ${drive} failed: 0x${r.status.toString(16)}`);
    return r.handle;
  }

  ioctl(h: bigint, code: number, input: Uint8Array | null, outCap = 0): number {
    return this.lib.ioctl(this.sim, h, code, input, outCap).status >>> 0;
  }

  /** IOCTL_STORAGE_EJECTION_CONTROL with a one-byte BOOLEAN (or `input` as given). */
  secure(h: bigint, lock: boolean, input?: Uint8Array): number {
    return this.ioctl(h, IOCTL.STORAGE_EJECTION_CONTROL, input ?? new Uint8Array([lock ? 1 : 0]));
  }

  /** IOCTL_STORAGE_MEDIA_REMOVAL (or an alias `code`). */
  simple(h: bigint, prevent: boolean, code: number = IOCTL.STORAGE_MEDIA_REMOVAL): number {
    return this.ioctl(h, code, new Uint8Array([prevent ? 1 : 0]));
  }

  eject(h: bigint, code: number = IOCTL.STORAGE_EJECT_MEDIA): number {
    return this.ioctl(h, code, null);
  }

  passThrough(h: bigint, cdb: readonly number[]): number {
    return this.ioctl(h, IOCTL.SCSI_PASS_THROUGH, passThroughBuffer(cdb), 56);
  }

  /** IOCTL_SCSI_PASS_THROUGH with a sense buffer: the NTSTATUS, ScsiStatus and sense bytes. */
  passThroughSense(h: bigint, cdb: readonly number[]): PassThroughResult {
    const r = this.lib.ioctl(this.sim, h, IOCTL.SCSI_PASS_THROUGH, passThroughSenseBuffer(cdb), 88);
    const out = r.output;
    const n = out[7] ?? 0;
    const sense: [number, number, number] = n >= 14 ? [(out[56 + 2] ?? 0) & 0x0f, out[56 + 12] ?? 0, out[56 + 13] ?? 0] : [0, 0, 0];
    return { status: r.status >>> 0, scsiStatus: out[2] ?? 0, sense };
  }

  read(h: bigint): number {
    return this.lib.read(this.sim, h, 0n, 2048).status >>> 0;
  }

  snapshot(drive = 0): LedgerSnapshot {
    const req = LedgerRequest.encode(LedgerRequest.create({ driveId: drive }));
    const r = this.lib.ioctlInto(this.sim, this.control, ControlIoctls.getLedger.code, req, this.ledgerOut);
    if (r.status !== 0) throw new Error(`GetLedger failed: 0x${r.status.toString(16)}`);
    return LedgerSnapshot.decode(this.ledgerOut.subarray(0, r.returned));
  }

  ledger(drive: number): DriveLedger {
    const d = this.snapshot(drive).drives.find((x) => x.driveId === drive);
    if (!d) throw new Error(`GetLedger: drive ${drive} missing`);
    return d;
  }

  setPolicy(drive: number, policy: Policy): number {
    const req = SetPolicyRequest.encode(SetPolicyRequest.create({ driveId: drive, policy }));
    return this.lib.ioctl(this.sim, this.control, ControlIoctls.setPolicy.code, req, ControlIoctls.setPolicy.reply.maxSize).status >>> 0;
  }

  lower(drive: number): DriveState {
    const r = this.lib.driveState(this.sim, drive);
    if (!r.state) throw new Error(`drive state ${drive} failed: 0x${r.status.toString(16)}`);
    return r.state;
  }
}

/** Owners reduced to what the spec fixes, sorted by image name. */
export function ownersOf(l: DriveLedger): { image: string; pid: number; secure: number; simple: number }[] {
  return l.owners
    .filter((o) => o.secureCount > 0 || o.simpleCount > 0)
    .map((o) => ({ image: o.imageName, pid: o.pid, secure: o.secureCount, simple: o.simpleCount }))
    .sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
}

export const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
