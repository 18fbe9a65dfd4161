// SCSI/MMC decoding (src/client/scsi-decode.ts): CDB fields (SPC-4, SBC-3, MMC-6), the
// pass-through layouts (ntddscsi.h: x64/x86, _EX), SCSI status and sense (SPC-4 fixed and
// descriptor formats), and how records show them (human line, JSON Lines).
import { createColors } from "picocolors";
import { describe, expect, it } from "vitest";
import { RecordKind, TraceRecord } from "../src/client/gen/cdfilter.ts";
import {
  decodeCdb,
  decodePassThroughCompletion,
  decodeSense,
  formatCdb,
  formatPassThroughCompletion,
  parsePassThrough,
  passThroughCdb,
  scsiStatusName,
} from "../src/client/scsi-decode.ts";
import { HumanFormatter, recordJsonLine } from "../src/cli/records.ts";

const cdb = (...b: number[]) => Uint8Array.from(b);
const text = (...b: number[]) => formatCdb(decodeCdb(cdb(...b)));

describe("CDB decoding", () => {
  it.each([
    [[0x1b, 0, 0, 0, 0x02, 0], "START STOP UNIT LoEj=1 Start=0 (eject)"],
    [[0x1b, 1, 0, 0, 0x03, 0], "START STOP UNIT Immed=1 LoEj=1 Start=1 (load)"],
    [[0x1b, 0, 0, 0, 0x00, 0], "START STOP UNIT LoEj=0 Start=0 (stop)"],
    [[0x1b, 0, 0, 0, 0x32, 0], "START STOP UNIT PowerCondition=3 LoEj=1 Start=0"],
    [[0x1e, 0, 0, 0, 0x01, 0], "PREVENT ALLOW MEDIUM REMOVAL Prevent=1 (prevent)"],
    [[0x1e, 0, 0, 0, 0x00, 0], "PREVENT ALLOW MEDIUM REMOVAL Prevent=0 (allow)"],
    [[0x1e, 0, 0, 0, 0x02, 0], "PREVENT ALLOW MEDIUM REMOVAL Prevent=2 (persistent allow)"],
    [[0x28, 0, 0, 0x01, 0x02, 0x03, 0, 0x00, 0x10, 0], "READ(10) LBA=66051 TransferLength=16"],
    [[0xa8, 0, 0, 0, 0, 0x10, 0, 0, 0x01, 0x00, 0, 0], "READ(12) LBA=16 TransferLength=256"],
    [[0x88, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], "READ(16) LBA=4294967296 TransferLength=8"],
    [[0x46, 0x02, 0x00, 0x2f, 0, 0, 0, 0x00, 0x20, 0], "GET CONFIGURATION RT=2 StartingFeatureNumber=47 AllocationLength=32"],
    [[0x43, 0x02, 0x00, 0, 0, 0, 0x01, 0x03, 0x24, 0], "READ TOC/PMA/ATIP MSF=1 Format=0 TrackSessionNumber=1 AllocationLength=804"],
    [[0x5a, 0x08, 0x2a, 0, 0, 0, 0, 0x00, 0xff, 0], "MODE SENSE(10) DBD=1 PC=0 PageCode=42 SubpageCode=0 AllocationLength=255"],
    [[0x55, 0x10, 0, 0, 0, 0, 0, 0x00, 0x3c, 0], "MODE SELECT(10) PF=1 SP=0 ParameterListLength=60"],
    [[0x54, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0], "SEND OPC INFORMATION DoOpc=1 Exclude0=0 Exclude1=0 ParameterListLength=0"],
    [[0xbb, 0x00, 0xff, 0xff, 0x05, 0x83, 0, 0, 0, 0, 0, 0], "SET CD SPEED RotationalControl=0 ReadSpeed=65535 WriteSpeed=1411"],
    [[0x5b, 0x01, 0x02, 0, 0x00, 0x01, 0, 0, 0, 0], "CLOSE TRACK/SESSION Immed=1 CloseFunction=2 TrackSessionNumber=1"],
    [[0xb6, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x1c, 0], "SET STREAMING Type=0 ParameterListLength=28"],
    [[0x00, 0, 0, 0, 0, 0], "TEST UNIT READY"],
    [[0xd8, 1, 2], "OPCODE 0xD8"],
  ])("%j -> %s", (bytes, expected) => {
    expect(text(...bytes)).toBe(expected);
  });

  it("a CDB too short for a field leaves the field out (no read past the bytes)", () => {
    expect(text(0x28, 0, 0, 0, 0, 1)).toBe("READ(10) LBA=1");
    expect(text(0x1b)).toBe("START STOP UNIT");
    expect(decodeCdb(new Uint8Array(0)).name).toBe("TEST UNIT READY");
  });
});

/** A pass-through structure: x64/x86, plain or _EX, CDB and (optionally) sense after it. */
function spt(o: { ex?: boolean; x86?: boolean; cdb: number[]; scsiStatus?: number; sense?: number[] }): Uint8Array {
  const size = o.ex ? (o.x86 ? 52 : 64) : o.x86 ? 44 : 56;
  const cdbAt = o.ex ? (o.x86 ? 48 : 56) : o.x86 ? 28 : 36;
  const cdbLen = o.ex ? o.cdb.length : 16;
  const senseAt = Math.max(size, cdbAt + cdbLen);
  const b = new Uint8Array(senseAt + (o.sense?.length ?? 0));
  const dv = new DataView(b.buffer);
  if (o.ex) {
    dv.setUint32(4, size, true);
    dv.setUint32(8, o.cdb.length, true);
    b[16] = o.scsiStatus ?? 0;
    b[17] = o.sense?.length ?? 0;
    dv.setUint32(28, o.sense ? senseAt : 0, true);
  } else {
    dv.setUint16(0, size, true);
    b[2] = o.scsiStatus ?? 0;
    b[6] = o.cdb.length;
    b[7] = o.sense?.length ?? 0;
    dv.setUint32(o.x86 ? 24 : 32, o.sense ? senseAt : 0, true);
  }
  b.set(o.cdb, cdbAt);
  if (o.sense) b.set(o.sense, senseAt);
  return b;
}

const EJECT = [0x1b, 0, 0, 0, 0x02, 0];
const NOT_READY_NO_MEDIUM = [0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3a, 0x00, 0, 0, 0, 0];

describe("pass-through structures", () => {
  it.each([
    ["SPT x64", 0x4d004, { cdb: EJECT }],
    ["SPT x86 (WoW64)", 0x4d004, { x86: true, cdb: EJECT }],
    ["SPT_DIRECT x64", 0x4d014, { cdb: EJECT }],
    ["SPT_EX x64", 0x4d044, { ex: true, cdb: EJECT }],
    ["SPT_DIRECT_EX x86", 0x4d048, { ex: true, x86: true, cdb: EJECT }],
  ] as const)("%s: the CDB is found by the structure's own Length", (_name, code, o) => {
    const head = spt(o);
    const h = parsePassThrough(code, head);
    expect(h?.caller32).toBe("x86" in o);
    expect(formatCdb(decodeCdb(passThroughCdb(code, head)!))).toBe("START STOP UNIT LoEj=1 Start=0 (eject)");
  });

  it("refuses other codes, a Length naming no layout, and heads too short", () => {
    const head = spt({ cdb: EJECT });
    expect(parsePassThrough(0x2d4808, head)).toBeUndefined();
    const wrong = head.slice();
    wrong[0] = 57;
    expect(parsePassThrough(0x4d004, wrong)).toBeUndefined();
    expect(parsePassThrough(0x4d004, head.slice(0, 20))).toBeUndefined();
    expect(passThroughCdb(0x4d004, head.slice(0, 36))).toBeUndefined();
  });
});

describe("status and sense", () => {
  it("names SAM status codes", () => {
    expect(scsiStatusName(0)).toBe("GOOD");
    expect(scsiStatusName(2)).toBe("CHECK CONDITION");
    expect(scsiStatusName(0x08)).toBe("BUSY");
    expect(scsiStatusName(0x7f)).toBe("STATUS 0x7F");
  });
  it("decodes fixed and descriptor sense", () => {
    expect(decodeSense(Uint8Array.from(NOT_READY_NO_MEDIUM))).toEqual({
      responseCode: 0x70,
      key: 2,
      keyName: "NOT READY",
      asc: 0x3a,
      ascq: 0,
      ascName: "MEDIUM NOT PRESENT",
    });
    expect(decodeSense(Uint8Array.from([0x72, 0x05, 0x53, 0x02, 0, 0, 0, 0]))).toMatchObject({
      keyName: "ILLEGAL REQUEST",
      ascName: "MEDIUM REMOVAL PREVENTED",
    });
    expect(decodeSense(Uint8Array.from([0xf0, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x28, 0]))?.ascName).toBe(
      "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED",
    );
    expect(decodeSense(Uint8Array.from([0x70, 0, 2]))).toBeUndefined(); // too short
    expect(decodeSense(Uint8Array.from([0x00, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeUndefined();
    expect(decodeSense(Uint8Array.from([0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x99, 0x01]))?.ascName).toBeUndefined();
  });
  it.each([
    ["SPT x64", 0x4d004, {}],
    ["SPT x86", 0x4d004, { x86: true }],
    ["SPT_EX x64", 0x4d044, { ex: true }],
  ] as const)("%s completion: ScsiStatus and the sense at SenseInfoOffset", (_n, code, o) => {
    const out = spt({ ...o, cdb: EJECT, scsiStatus: 2, sense: NOT_READY_NO_MEDIUM });
    const done = decodePassThroughCompletion(code, out)!;
    expect(formatPassThroughCompletion(done)).toBe("CHECK CONDITION NOT READY, MEDIUM NOT PRESENT (2/3A/00)");
    // sense cut off by the capture cap: status only
    const cut = decodePassThroughCompletion(code, out.subarray(0, out.length - 8))!;
    expect(formatPassThroughCompletion(cut)).toBe("CHECK CONDITION");
  });
});

describe("records", () => {
  const input = spt({ cdb: EJECT });
  const output = spt({ cdb: EJECT, scsiStatus: 2, sense: NOT_READY_NO_MEDIUM });
  const common = {
    requestId: 3n,
    driveId: 1,
    handleId: 1n,
    pid: 44,
    openerImage: "ripper.exe",
    major: 14,
    ioctlCode: 0x4d004,
    normalizedCode: 0x4d004,
  };
  const dispatch = TraceRecord.create({ ...common, seq: 1n, timestamp: 10n, kind: RecordKind.RECORD_KIND_DISPATCH, inputHead: input });
  const completion = TraceRecord.create({
    ...common,
    seq: 2n,
    timestamp: 20n,
    kind: RecordKind.RECORD_KIND_COMPLETION,
    outputHead: output,
  });

  it("the human line shows the CDB at dispatch and the outcome at completion", () => {
    const f = new HumanFormatter(createColors(false));
    expect(f.format({ type: "record", record: dispatch })).toMatch(/→ IOCTL_SCSI_PASS_THROUGH START STOP UNIT LoEj=1 Start=0 \(eject\)/);
    expect(f.format({ type: "record", record: completion })).toMatch(
      /← IOCTL_SCSI_PASS_THROUGH START STOP UNIT LoEj=1 Start=0 \(eject\) ScsiStatus=CHECK CONDITION NOT READY, MEDIUM NOT PRESENT \(2\/3A\/00\)/,
    );
  });

  it("JSON Lines carry the decoded CDB and the sense", () => {
    const d = JSON.parse(recordJsonLine(dispatch));
    expect(d.cdb).toEqual({
      opcode: 0x1b,
      name: "START STOP UNIT",
      fields: { Immed: 0, PowerCondition: 0, LoEj: 1, Start: 0 },
      text: "START STOP UNIT LoEj=1 Start=0 (eject)",
    });
    const c = JSON.parse(recordJsonLine(completion));
    expect(c.scsiStatus).toBe(2);
    expect(c.scsiStatusName).toBe("CHECK CONDITION");
    expect(c.sense).toMatchObject({ key: 2, asc: 0x3a, ascq: 0, ascName: "MEDIUM NOT PRESENT" });
    expect(Buffer.from(c.outputHead, "base64")).toEqual(Buffer.from(output));
  });
});
