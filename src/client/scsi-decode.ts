/**
 * SCSI/MMC decoding for pass-through trace records: the CDB a dispatch carries (opcode name and
 * the fields that matter) and, at completion, the SCSI status and the sense data's key/ASC/ASCQ.
 * Pure (no Node API): the CLI, the exports and the web page use it.
 *
 * Sources:
 * - Pass-through layouts: ntddscsi.h SCSI_PASS_THROUGH, SCSI_PASS_THROUGH_DIRECT (x64: 56 bytes,
 *   Cdb at 36, SenseInfoOffset at 32; x86: 44 bytes, Cdb at 28, SenseInfoOffset at 24) and the
 *   Windows SDK's SCSI_PASS_THROUGH_EX / _DIRECT_EX (x64: 64 bytes, Cdb at 56; x86: 52 bytes, Cdb
 *   at 48; ScsiStatus at 16, SenseInfoLength at 17, SenseInfoOffset at 28), as
 *   driver/core/cdf_scsi.h. The record does not say whether the caller was 32-bit: the structure's
 *   own Length field does (56/44, 64/52).
 * - Command names and CDB fields: T10 SPC-4 (INQUIRY, MODE SENSE/SELECT, REQUEST SENSE, TEST UNIT
 *   READY, ...), SBC-3 (READ/WRITE(10/12/16), START STOP UNIT, SYNCHRONIZE CACHE, VERIFY(10)) and
 *   MMC-6 (GET CONFIGURATION, READ TOC/PMA/ATIP, PREVENT ALLOW MEDIUM REMOVAL, SEND OPC
 *   INFORMATION, SET CD SPEED, SET STREAMING, CLOSE TRACK/SESSION, READ CD, BLANK, ...); the
 *   SCSIOP_* names of scsi.h (Windows SDK/WDK) use the same opcodes.
 * - SCSI status codes: SAM-5 (GOOD, CHECK CONDITION, BUSY, ...); sense keys and ASC/ASCQ: SPC-4
 *   (fixed format response codes 70h/71h, descriptor format 72h/73h) and MMC-6 for the optical
 *   ones (e.g. 53h/02h MEDIUM REMOVAL PREVENTED, 73h/03h POWER CALIBRATION AREA ERROR).
 */

/** One decoded CDB field: its SPC/SBC/MMC name (short form) and value. */
export interface CdbField {
  name: string;
  value: number | bigint;
}

export interface DecodedCdb {
  opcode: number;
  /** "START STOP UNIT", or "OPCODE 0xD8" for one this table does not name. */
  name: string;
  fields: CdbField[];
  /** A short reading of the fields, e.g. "eject" for LoEj=1 Start=0. */
  note?: string;
}

const OPCODES: ReadonlyMap<number, string> = new Map([
  [0x00, "TEST UNIT READY"],
  [0x03, "REQUEST SENSE"],
  [0x04, "FORMAT UNIT"],
  [0x12, "INQUIRY"],
  [0x15, "MODE SELECT(6)"],
  [0x1a, "MODE SENSE(6)"],
  [0x1b, "START STOP UNIT"],
  [0x1d, "SEND DIAGNOSTIC"],
  [0x1e, "PREVENT ALLOW MEDIUM REMOVAL"],
  [0x23, "READ FORMAT CAPACITIES"],
  [0x25, "READ CAPACITY(10)"],
  [0x28, "READ(10)"],
  [0x2a, "WRITE(10)"],
  [0x2b, "SEEK(10)"],
  [0x2e, "WRITE AND VERIFY(10)"],
  [0x2f, "VERIFY(10)"],
  [0x35, "SYNCHRONIZE CACHE(10)"],
  [0x3b, "WRITE BUFFER"],
  [0x3c, "READ BUFFER"],
  [0x42, "READ SUB-CHANNEL"],
  [0x43, "READ TOC/PMA/ATIP"],
  [0x45, "PLAY AUDIO(10)"],
  [0x46, "GET CONFIGURATION"],
  [0x47, "PLAY AUDIO MSF"],
  [0x4a, "GET EVENT STATUS NOTIFICATION"],
  [0x4b, "PAUSE/RESUME"],
  [0x4e, "STOP PLAY/SCAN"],
  [0x51, "READ DISC INFORMATION"],
  [0x52, "READ TRACK INFORMATION"],
  [0x53, "RESERVE TRACK"],
  [0x54, "SEND OPC INFORMATION"],
  [0x55, "MODE SELECT(10)"],
  [0x58, "REPAIR TRACK"],
  [0x5a, "MODE SENSE(10)"],
  [0x5b, "CLOSE TRACK/SESSION"],
  [0x5c, "READ BUFFER CAPACITY"],
  [0x5d, "SEND CUE SHEET"],
  [0x88, "READ(16)"],
  [0x8a, "WRITE(16)"],
  [0x9e, "SERVICE ACTION IN(16)"],
  [0xa0, "REPORT LUNS"],
  [0xa1, "BLANK"],
  [0xa2, "SECURITY PROTOCOL IN"],
  [0xa3, "SEND KEY"],
  [0xa4, "REPORT KEY"],
  [0xa5, "PLAY AUDIO(12)"],
  [0xa6, "LOAD/UNLOAD MEDIUM"],
  [0xa7, "SET READ AHEAD"],
  [0xa8, "READ(12)"],
  [0xaa, "WRITE(12)"],
  [0xac, "GET PERFORMANCE"],
  [0xad, "READ DISC STRUCTURE"],
  [0xb5, "SECURITY PROTOCOL OUT"],
  [0xb6, "SET STREAMING"],
  [0xb9, "READ CD MSF"],
  [0xba, "SCAN"],
  [0xbb, "SET CD SPEED"],
  [0xbd, "MECHANISM STATUS"],
  [0xbe, "READ CD"],
  [0xbf, "SEND DISC STRUCTURE"],
]);

/** The command name of an opcode ("READ(10)"), or undefined. */
export function scsiOpcodeName(opcode: number): string | undefined {
  return OPCODES.get(opcode);
}

// Byte readers: a CDB shorter than a field reads that field as absent (the field is left out).
const be = (c: Uint8Array, at: number, n: number): number | undefined => {
  if (at + n > c.length) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + c[at + i]!;
  return v;
};
const be64 = (c: Uint8Array, at: number): bigint | undefined => {
  if (at + 8 > c.length) return undefined;
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(c[at + i]!);
  return v;
};
const bits = (c: Uint8Array, at: number, shift: number, width: number): number | undefined =>
  at < c.length ? (c[at]! >> shift) & ((1 << width) - 1) : undefined;

type Spec = Array<[name: string, read: (c: Uint8Array) => number | bigint | undefined]>;

const lba = (at: number) => (c: Uint8Array) => be(c, at, 4);
const SPECS: ReadonlyMap<number, Spec> = new Map<number, Spec>([
  [0x03, [["AllocationLength", (c) => be(c, 4, 1)]]],
  [
    0x12,
    [
      ["EVPD", (c) => bits(c, 1, 0, 1)],
      ["PageCode", (c) => be(c, 2, 1)],
      ["AllocationLength", (c) => be(c, 3, 2)],
    ],
  ],
  [
    0x15,
    [
      ["PF", (c) => bits(c, 1, 4, 1)],
      ["SP", (c) => bits(c, 1, 0, 1)],
      ["ParameterListLength", (c) => be(c, 4, 1)],
    ],
  ],
  [
    0x1a,
    [
      ["DBD", (c) => bits(c, 1, 3, 1)],
      ["PC", (c) => bits(c, 2, 6, 2)],
      ["PageCode", (c) => bits(c, 2, 0, 6)],
      ["SubpageCode", (c) => be(c, 3, 1)],
      ["AllocationLength", (c) => be(c, 4, 1)],
    ],
  ],
  [
    0x1b,
    [
      ["Immed", (c) => bits(c, 1, 0, 1)],
      ["PowerCondition", (c) => bits(c, 4, 4, 4)],
      ["LoEj", (c) => bits(c, 4, 1, 1)],
      ["Start", (c) => bits(c, 4, 0, 1)],
    ],
  ],
  [0x1e, [["Prevent", (c) => bits(c, 4, 0, 2)]]],
  [
    0x28,
    [
      ["LBA", lba(2)],
      ["TransferLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x2a,
    [
      ["LBA", lba(2)],
      ["TransferLength", (c) => be(c, 7, 2)],
    ],
  ],
  [0x2b, [["LBA", lba(2)]]],
  [
    0x2f,
    [
      ["LBA", lba(2)],
      ["VerificationLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x35,
    [
      ["Immed", (c) => bits(c, 1, 1, 1)],
      ["LBA", lba(2)],
      ["NumberOfBlocks", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x43,
    [
      ["MSF", (c) => bits(c, 1, 1, 1)],
      ["Format", (c) => bits(c, 2, 0, 4)],
      ["TrackSessionNumber", (c) => be(c, 6, 1)],
      ["AllocationLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x46,
    [
      ["RT", (c) => bits(c, 1, 0, 2)],
      ["StartingFeatureNumber", (c) => be(c, 2, 2)],
      ["AllocationLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x4a,
    [
      ["Polled", (c) => bits(c, 1, 0, 1)],
      ["NotificationClassRequest", (c) => be(c, 4, 1)],
      ["AllocationLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x51,
    [
      ["DataType", (c) => bits(c, 1, 0, 3)],
      ["AllocationLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x52,
    [
      ["AddressNumberType", (c) => bits(c, 1, 0, 2)],
      ["LBATrackSessionNumber", lba(2)],
      ["AllocationLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x54,
    [
      ["DoOpc", (c) => bits(c, 1, 0, 1)],
      ["Exclude0", (c) => bits(c, 2, 0, 1)],
      ["Exclude1", (c) => bits(c, 2, 1, 1)],
      ["ParameterListLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x55,
    [
      ["PF", (c) => bits(c, 1, 4, 1)],
      ["SP", (c) => bits(c, 1, 0, 1)],
      ["ParameterListLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x5a,
    [
      ["DBD", (c) => bits(c, 1, 3, 1)],
      ["PC", (c) => bits(c, 2, 6, 2)],
      ["PageCode", (c) => bits(c, 2, 0, 6)],
      ["SubpageCode", (c) => be(c, 3, 1)],
      ["AllocationLength", (c) => be(c, 7, 2)],
    ],
  ],
  [
    0x5b,
    [
      ["Immed", (c) => bits(c, 1, 0, 1)],
      ["CloseFunction", (c) => bits(c, 2, 0, 3)],
      ["TrackSessionNumber", (c) => be(c, 4, 2)],
    ],
  ],
  [
    0x88,
    [
      ["LBA", (c) => be64(c, 2)],
      ["TransferLength", (c) => be(c, 10, 4)],
    ],
  ],
  [
    0x8a,
    [
      ["LBA", (c) => be64(c, 2)],
      ["TransferLength", (c) => be(c, 10, 4)],
    ],
  ],
  [
    0xa1,
    [
      ["Immed", (c) => bits(c, 1, 4, 1)],
      ["BlankingType", (c) => bits(c, 1, 0, 3)],
      ["StartAddress", lba(2)],
    ],
  ],
  [
    0xa3,
    [
      ["ParameterListLength", (c) => be(c, 8, 2)],
      ["AGID", (c) => bits(c, 10, 6, 2)],
      ["KeyFormat", (c) => bits(c, 10, 0, 6)],
    ],
  ],
  [
    0xa4,
    [
      ["AllocationLength", (c) => be(c, 8, 2)],
      ["AGID", (c) => bits(c, 10, 6, 2)],
      ["KeyFormat", (c) => bits(c, 10, 0, 6)],
    ],
  ],
  [
    0xa6,
    [
      ["Immed", (c) => bits(c, 1, 0, 1)],
      ["LoUnlo", (c) => bits(c, 4, 1, 1)],
      ["Start", (c) => bits(c, 4, 0, 1)],
      ["Slot", (c) => be(c, 8, 1)],
    ],
  ],
  [
    0xa8,
    [
      ["LBA", lba(2)],
      ["TransferLength", (c) => be(c, 6, 4)],
    ],
  ],
  [
    0xaa,
    [
      ["LBA", lba(2)],
      ["TransferLength", (c) => be(c, 6, 4)],
    ],
  ],
  [
    0xac,
    [
      ["DataType", (c) => bits(c, 1, 0, 5)],
      ["StartingLBA", lba(2)],
      ["MaximumNumberOfDescriptors", (c) => be(c, 8, 2)],
      ["Type", (c) => be(c, 10, 1)],
    ],
  ],
  [
    0xad,
    [
      ["MediaType", (c) => bits(c, 1, 0, 4)],
      ["Address", lba(2)],
      ["LayerNumber", (c) => be(c, 6, 1)],
      ["Format", (c) => be(c, 7, 1)],
      ["AllocationLength", (c) => be(c, 8, 2)],
    ],
  ],
  [
    0xb6,
    [
      ["Type", (c) => be(c, 8, 1)],
      ["ParameterListLength", (c) => be(c, 9, 2)],
    ],
  ],
  [
    0xbb,
    [
      ["RotationalControl", (c) => bits(c, 1, 0, 2)],
      ["ReadSpeed", (c) => be(c, 2, 2)],
      ["WriteSpeed", (c) => be(c, 4, 2)],
    ],
  ],
  [0xbd, [["AllocationLength", (c) => be(c, 8, 2)]]],
  [
    0xbe,
    [
      ["ExpectedSectorType", (c) => bits(c, 1, 2, 3)],
      ["LBA", lba(2)],
      ["TransferLength", (c) => be(c, 6, 3)],
      ["Flags", (c) => be(c, 9, 1)],
    ],
  ],
]);

/** Decode a CDB (1..16 bytes). An unknown opcode gets "OPCODE 0xNN" and no fields. */
export function decodeCdb(cdb: Uint8Array): DecodedCdb {
  const opcode = cdb[0] ?? 0;
  const name = OPCODES.get(opcode) ?? `OPCODE 0x${opcode.toString(16).toUpperCase().padStart(2, "0")}`;
  const fields: CdbField[] = [];
  for (const [n, read] of SPECS.get(opcode) ?? []) {
    const v = read(cdb);
    if (v !== undefined) fields.push({ name: n, value: v });
  }
  const d: DecodedCdb = { opcode, name, fields };
  const f = (n: string) => fields.find((x) => x.name === n)?.value;
  if (opcode === 0x1b && f("PowerCondition") === 0) {
    const note = ["stop", "start", "eject", "load"][Number(f("LoEj") ?? 0) * 2 + Number(f("Start") ?? 0)];
    if (note) d.note = note;
  } else if (opcode === 0x1e && f("Prevent") !== undefined) {
    d.note = ["allow", "prevent", "persistent allow", "persistent prevent"][Number(f("Prevent"))]!;
  }
  return d;
}

/** "START STOP UNIT LoEj=1 Start=0 (eject)", "READ(10) LBA=16 TransferLength=1". */
export function formatCdb(d: DecodedCdb): string {
  // Immed and PowerCondition only matter when set.
  const shown = d.fields.filter((x) => !((x.name === "PowerCondition" || x.name === "Immed") && x.value === 0));
  const parts = [d.name, ...shown.map((x) => `${x.name}=${x.value}`)];
  return parts.join(" ") + (d.note ? ` (${d.note})` : "");
}

// ---------------------------------------------------------------------------------------------
// Pass-through structures.

export const IOCTL_SCSI_PASS_THROUGH = 0x0004d004;
export const IOCTL_SCSI_PASS_THROUGH_DIRECT = 0x0004d014;
export const IOCTL_SCSI_PASS_THROUGH_EX = 0x0004d044;
export const IOCTL_SCSI_PASS_THROUGH_DIRECT_EX = 0x0004d048;

export function isPassThrough(code: number): boolean {
  const c = code >>> 0;
  return (
    c === IOCTL_SCSI_PASS_THROUGH ||
    c === IOCTL_SCSI_PASS_THROUGH_DIRECT ||
    c === IOCTL_SCSI_PASS_THROUGH_EX ||
    c === IOCTL_SCSI_PASS_THROUGH_DIRECT_EX
  );
}

/** The header fields of a SCSI_PASS_THROUGH[_DIRECT][_EX] (input at dispatch, output at completion). */
export interface PassThroughHeader {
  ex: boolean;
  /** The caller's structure is the 32-bit (WoW64/x86) layout. */
  caller32: boolean;
  cdbLength: number;
  /** The CDB bytes (as many as the buffer holds, up to CdbLength and 16). */
  cdb: Uint8Array;
  scsiStatus: number;
  senseInfoLength: number;
  /** Offset of the sense bytes from the start of the structure, bytes. */
  senseInfoOffset: number;
}

const u16le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32le = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/**
 * Read the pass-through header of `code` from `bytes` (a captured input or output head).
 * Undefined when the code is not a pass-through or the bytes are too short to hold the header
 * up to the CDB, or the Length field names neither layout.
 */
export function parsePassThrough(code: number, bytes: Uint8Array): PassThroughHeader | undefined {
  if (!isPassThrough(code)) return undefined;
  const ex = code >>> 0 === IOCTL_SCSI_PASS_THROUGH_EX || code >>> 0 === IOCTL_SCSI_PASS_THROUGH_DIRECT_EX;
  if (ex) {
    if (bytes.length < 32) return undefined;
    const length = u32le(bytes, 4);
    if (length !== 64 && length !== 52) return undefined;
    const cdbAt = length === 64 ? 56 : 48;
    const cdbLength = u32le(bytes, 8);
    return {
      ex,
      caller32: length === 52,
      cdbLength,
      cdb: bytes.slice(cdbAt, Math.min(bytes.length, cdbAt + Math.min(cdbLength, 16))),
      scsiStatus: bytes[16]!,
      senseInfoLength: bytes[17]!,
      senseInfoOffset: u32le(bytes, 28),
    };
  }
  if (bytes.length < 28) return undefined;
  const length = u16le(bytes, 0);
  if (length !== 56 && length !== 44) return undefined;
  const caller32 = length === 44;
  const cdbAt = caller32 ? 28 : 36;
  const senseAt = caller32 ? 24 : 32;
  const cdbLength = bytes[6]!;
  return {
    ex,
    caller32,
    cdbLength,
    cdb: bytes.slice(cdbAt, Math.min(bytes.length, cdbAt + Math.min(cdbLength, 16))),
    scsiStatus: bytes[2]!,
    senseInfoLength: bytes[7]!,
    senseInfoOffset: bytes.length >= senseAt + 4 ? u32le(bytes, senseAt) : 0,
  };
}

/** The CDB of a pass-through dispatch's captured input, or undefined. */
export function passThroughCdb(code: number, inputHead: Uint8Array): Uint8Array | undefined {
  const h = parsePassThrough(code, inputHead);
  return h && h.cdb.length > 0 ? h.cdb : undefined;
}

// ---------------------------------------------------------------------------------------------
// Completion: SCSI status and sense data.

const SCSI_STATUS: ReadonlyMap<number, string> = new Map([
  [0x00, "GOOD"],
  [0x02, "CHECK CONDITION"],
  [0x04, "CONDITION MET"],
  [0x08, "BUSY"],
  [0x18, "RESERVATION CONFLICT"],
  [0x28, "TASK SET FULL"],
  [0x30, "ACA ACTIVE"],
  [0x40, "TASK ABORTED"],
]);

/** SAM-5 status name ("CHECK CONDITION"), or "STATUS 0xNN". */
export function scsiStatusName(s: number): string {
  return SCSI_STATUS.get(s) ?? `STATUS 0x${s.toString(16).toUpperCase().padStart(2, "0")}`;
}

const SENSE_KEYS = [
  "NO SENSE",
  "RECOVERED ERROR",
  "NOT READY",
  "MEDIUM ERROR",
  "HARDWARE ERROR",
  "ILLEGAL REQUEST",
  "UNIT ATTENTION",
  "DATA PROTECT",
  "BLANK CHECK",
  "VENDOR SPECIFIC",
  "COPY ABORTED",
  "ABORTED COMMAND",
  "RESERVED 0xC",
  "VOLUME OVERFLOW",
  "MISCOMPARE",
  "COMPLETED",
];

/** SPC-4 sense key name (0..15). */
export function senseKeyName(k: number): string {
  return SENSE_KEYS[k & 0x0f]!;
}

const ASC: ReadonlyMap<number, string> = new Map([
  [0x0000, "NO ADDITIONAL SENSE INFORMATION"],
  [0x0400, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"],
  [0x0401, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"],
  [0x0402, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"],
  [0x0403, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED"],
  [0x0404, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS"],
  [0x0407, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS"],
  [0x0408, "LOGICAL UNIT NOT READY, LONG WRITE IN PROGRESS"],
  [0x0900, "TRACK FOLLOWING ERROR"],
  [0x0c00, "WRITE ERROR"],
  [0x1100, "UNRECOVERED READ ERROR"],
  [0x1105, "L-EC UNCORRECTABLE ERROR"],
  [0x1106, "CIRC UNRECOVERED ERROR"],
  [0x1500, "RANDOM POSITIONING ERROR"],
  [0x1a00, "PARAMETER LIST LENGTH ERROR"],
  [0x2000, "INVALID COMMAND OPERATION CODE"],
  [0x2100, "LOGICAL BLOCK ADDRESS OUT OF RANGE"],
  [0x2102, "INVALID ADDRESS FOR WRITE"],
  [0x2400, "INVALID FIELD IN CDB"],
  [0x2500, "LOGICAL UNIT NOT SUPPORTED"],
  [0x2600, "INVALID FIELD IN PARAMETER LIST"],
  [0x2700, "WRITE PROTECTED"],
  [0x2800, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"],
  [0x2900, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"],
  [0x2a01, "MODE PARAMETERS CHANGED"],
  [0x2c00, "COMMAND SEQUENCE ERROR"],
  [0x3000, "INCOMPATIBLE MEDIUM INSTALLED"],
  [0x3001, "CANNOT READ MEDIUM - UNKNOWN FORMAT"],
  [0x3002, "CANNOT READ MEDIUM - INCOMPATIBLE FORMAT"],
  [0x3005, "CANNOT WRITE MEDIUM - INCOMPATIBLE FORMAT"],
  [0x3100, "MEDIUM FORMAT CORRUPTED"],
  [0x3a00, "MEDIUM NOT PRESENT"],
  [0x3a01, "MEDIUM NOT PRESENT - TRAY CLOSED"],
  [0x3a02, "MEDIUM NOT PRESENT - TRAY OPEN"],
  [0x3e00, "LOGICAL UNIT HAS NOT SELF-CONFIGURED YET"],
  [0x5300, "MEDIA LOAD OR EJECT FAILED"],
  [0x5302, "MEDIUM REMOVAL PREVENTED"],
  [0x5700, "UNABLE TO RECOVER TABLE-OF-CONTENTS"],
  [0x5a01, "OPERATOR MEDIUM REMOVAL REQUEST"],
  [0x6300, "END OF USER AREA ENCOUNTERED ON THIS TRACK"],
  [0x6400, "ILLEGAL MODE FOR THIS TRACK"],
  [0x6f00, "COPY PROTECTION KEY EXCHANGE FAILURE - AUTHENTICATION FAILURE"],
  [0x6f01, "COPY PROTECTION KEY EXCHANGE FAILURE - KEY NOT PRESENT"],
  [0x6f03, "READ OF SCRAMBLED SECTOR WITHOUT AUTHENTICATION"],
  [0x7200, "SESSION FIXATION ERROR"],
  [0x7203, "SESSION FIXATION ERROR - INCOMPLETE TRACK IN SESSION"],
  [0x7300, "CD CONTROL ERROR"],
  [0x7303, "POWER CALIBRATION AREA ERROR"],
]);

/** SPC-4/MMC-6 name of an ASC/ASCQ pair, or undefined when this table lacks it. */
export function ascName(asc: number, ascq: number): string | undefined {
  return ASC.get(((asc & 0xff) << 8) | (ascq & 0xff));
}

export interface SenseData {
  /** 0x70/0x71 fixed, 0x72/0x73 descriptor format. */
  responseCode: number;
  key: number;
  keyName: string;
  asc: number;
  ascq: number;
  /** undefined when the ASC/ASCQ pair is not in the table. */
  ascName?: string;
}

/**
 * Decode sense data (SPC-4 4.5: fixed format key at byte 2, ASC/ASCQ at 12/13; descriptor format
 * key at byte 1, ASC/ASCQ at 2/3). Undefined for another response code or too few bytes.
 */
export function decodeSense(b: Uint8Array): SenseData | undefined {
  if (b.length < 1) return undefined;
  const rc = b[0]! & 0x7f;
  let key: number;
  let asc: number;
  let ascq: number;
  if (rc === 0x70 || rc === 0x71) {
    if (b.length < 14) return undefined;
    key = b[2]! & 0x0f;
    asc = b[12]!;
    ascq = b[13]!;
  } else if (rc === 0x72 || rc === 0x73) {
    if (b.length < 4) return undefined;
    key = b[1]! & 0x0f;
    asc = b[2]!;
    ascq = b[3]!;
  } else return undefined;
  const s: SenseData = { responseCode: rc, key, keyName: senseKeyName(key), asc, ascq };
  const n = ascName(asc, ascq);
  if (n) s.ascName = n;
  return s;
}

/** "NOT READY, MEDIUM NOT PRESENT (2/3A/00)". */
export function formatSense(s: SenseData): string {
  const h = (v: number) => v.toString(16).toUpperCase().padStart(2, "0");
  return `${s.keyName}${s.ascName ? `, ${s.ascName}` : ""} (${s.key.toString(16).toUpperCase()}/${h(s.asc)}/${h(s.ascq)})`;
}

export interface PassThroughCompletion {
  scsiStatus: number;
  scsiStatusName: string;
  /** Present when the status is CHECK CONDITION and the captured output holds the sense bytes. */
  sense?: SenseData;
}

/**
 * The SCSI status and sense of a completed pass-through, from its captured output head (the
 * structure the port driver wrote back: ScsiStatus, SenseInfoLength = bytes of sense returned,
 * sense at SenseInfoOffset). Undefined when the head does not hold the header.
 */
export function decodePassThroughCompletion(code: number, outputHead: Uint8Array): PassThroughCompletion | undefined {
  const h = parsePassThrough(code, outputHead);
  if (!h) return undefined;
  const done: PassThroughCompletion = { scsiStatus: h.scsiStatus, scsiStatusName: scsiStatusName(h.scsiStatus) };
  if (h.senseInfoLength > 0 && h.senseInfoOffset > 0 && h.senseInfoOffset < outputHead.length) {
    const end = Math.min(outputHead.length, h.senseInfoOffset + h.senseInfoLength);
    const sense = decodeSense(outputHead.subarray(h.senseInfoOffset, end));
    if (sense) done.sense = sense;
  }
  return done;
}

/** "CHECK CONDITION NOT READY, MEDIUM NOT PRESENT (2/3A/00)", "GOOD". */
export function formatPassThroughCompletion(p: PassThroughCompletion): string {
  return p.sense ? `${p.scsiStatusName} ${formatSense(p.sense)}` : p.scsiStatusName;
}
