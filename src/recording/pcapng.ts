/**
 * pcapng blocks, little-endian, as written and read by cdfilter recordings (docs/recording.md).
 *
 * Source: "PCAP Now Generic (pcapng) Capture File Format", IETF draft-ietf-opsawg-pcapng
 * (sections 3 "General File Structure", 4.1 Section Header Block, 4.2 Interface Description
 * Block, 4.3 Enhanced Packet Block, 4.6 Interface Statistics Block, 4.8 Custom Block) and the
 * tcpdump.org "LINK-LAYER HEADER TYPES" list (LINKTYPE_USER0..15 = 147..162).
 *
 * Every block is `u32 type, u32 total length, body (padded to 32 bits), u32 total length`: the
 * length at both ends lets a reader tell a complete block from one cut short by a killed writer
 * (a "torn tail").
 */

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_ISB = 0x00000005;
export const BLOCK_EPB = 0x00000006;
/** Custom Block that may be copied to new files (pcapng draft 4.8). */
export const BLOCK_CUSTOM = 0x00000bad;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** LINKTYPE_USER0 (147): our TraceRecord packets. LINKTYPE_USER1 (148): drop notices. */
export const LINKTYPE_USER0 = 147;
export const LINKTYPE_USER1 = 148;

/** Option codes (pcapng draft 4.1, 4.2, 4.6). */
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const ISB_STARTTIME = 2;
export const ISB_ENDTIME = 3;
export const ISB_IFRECV = 4;
export const ISB_IFDROP = 5;

/**
 * Private Enterprise Number in our Custom Blocks: 32473, the IANA number reserved for
 * documentation and examples (RFC 5612). A project with its own PEN should put it here; readers
 * only use it to recognise our blocks.
 */
export const CDFILTER_PEN = 32473;

export interface PcapOption {
  code: number;
  value: Uint8Array;
}

const pad4 = (n: number): number => (n + 3) & ~3;
const enc = new TextEncoder();

export function stringOption(code: number, s: string): PcapOption {
  return { code, value: enc.encode(s) };
}

function optionsSize(opts: readonly PcapOption[]): number {
  if (opts.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of opts) n += 4 + pad4(o.value.length);
  return n;
}

function writeOptions(view: DataView, bytes: Uint8Array, at: number, opts: readonly PcapOption[]): number {
  if (opts.length === 0) return at;
  for (const o of opts) {
    if (o.value.length > 0xffff) throw new RangeError(`pcapng option ${o.code} longer than 65535 bytes`);
    view.setUint16(at, o.code, true);
    view.setUint16(at + 2, o.value.length, true);
    bytes.set(o.value, at + 4);
    at += 4 + pad4(o.value.length);
  }
  view.setUint32(at, 0, true);
  return at + 4;
}

/** A whole block: type, length, the body written by `fill` into `bodyLen` bytes, length. */
function block(type: number, bodyLen: number, fill: (view: DataView, bytes: Uint8Array, at: number) => void): Uint8Array {
  const total = 12 + pad4(bodyLen);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  fill(view, bytes, 8);
  view.setUint32(total - 4, total, true);
  return bytes;
}

/** Section Header Block (version 1.0, section length unknown). */
export function sectionHeader(opts: readonly PcapOption[]): Uint8Array {
  return block(BLOCK_SHB, 16 + optionsSize(opts), (v, b, at) => {
    v.setUint32(at, BYTE_ORDER_MAGIC, true);
    v.setUint16(at + 4, 1, true);
    v.setUint16(at + 6, 0, true);
    v.setBigInt64(at + 8, -1n, true);
    writeOptions(v, b, at + 16, opts);
  });
}

/** Interface Description Block; snaplen 0 = no limit. */
export function interfaceDescription(linktype: number, opts: readonly PcapOption[]): Uint8Array {
  return block(BLOCK_IDB, 8 + optionsSize(opts), (v, b, at) => {
    v.setUint16(at, linktype, true);
    v.setUint16(at + 2, 0, true);
    v.setUint32(at + 4, 0, true);
    writeOptions(v, b, at + 8, opts);
  });
}

/** Custom Block (copyable) with our PEN: payload = u32 length + data. */
export function customBlock(data: Uint8Array): Uint8Array {
  return block(BLOCK_CUSTOM, 8 + data.length, (v, b, at) => {
    v.setUint32(at, CDFILTER_PEN, true);
    v.setUint32(at + 4, data.length, true);
    b.set(data, at + 8);
  });
}

/** Bytes of an Enhanced Packet Block carrying `len` bytes of data (no options). */
export function epbSize(len: number): number {
  return 32 + pad4(len);
}

/**
 * Write an Enhanced Packet Block into `out` at `at` (hot path: no allocation). `ts` is in the
 * interface's tsresol units. Returns the offset after the block.
 */
export function writeEpb(out: DataView, at: number, iface: number, ts: bigint, data: Uint8Array, bytes: Uint8Array): number {
  const total = epbSize(data.length);
  out.setUint32(at, BLOCK_EPB, true);
  out.setUint32(at + 4, total, true);
  out.setUint32(at + 8, iface, true);
  out.setUint32(at + 12, Number((ts >> 32n) & 0xffff_ffffn), true);
  out.setUint32(at + 16, Number(ts & 0xffff_ffffn), true);
  out.setUint32(at + 20, data.length, true);
  out.setUint32(at + 24, data.length, true);
  bytes.set(data, at + 28);
  for (let i = at + 28 + data.length; i < at + total - 4; i++) bytes[i] = 0;
  out.setUint32(at + total - 4, total, true);
  return at + total;
}

export function enhancedPacket(iface: number, ts: bigint, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(epbSize(data.length));
  writeEpb(new DataView(b.buffer), 0, iface, ts, data, b);
  return b;
}

function u64Option(code: number, v: bigint): PcapOption {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return { code, value: b };
}

function tsOption(code: number, ts: bigint): PcapOption {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, Number((ts >> 32n) & 0xffff_ffffn), true);
  v.setUint32(4, Number(ts & 0xffff_ffffn), true);
  return { code, value: b };
}

/** Interface Statistics Block: records received and dropped (isb_ifrecv, isb_ifdrop). */
export function interfaceStatistics(
  iface: number,
  ts: bigint,
  s: { start: bigint; end: bigint; received: bigint; dropped: bigint },
): Uint8Array {
  const opts = [
    tsOption(ISB_STARTTIME, s.start),
    tsOption(ISB_ENDTIME, s.end),
    u64Option(ISB_IFRECV, s.received),
    u64Option(ISB_IFDROP, s.dropped),
  ];
  return block(BLOCK_ISB, 12 + optionsSize(opts), (v, b, at) => {
    v.setUint32(at, iface, true);
    v.setUint32(at + 4, Number((ts >> 32n) & 0xffff_ffffn), true);
    v.setUint32(at + 8, Number(ts & 0xffff_ffffn), true);
    writeOptions(v, b, at + 12, opts);
  });
}

// ---------------------------------------------------------------------------------------------
// Reading.

export type PcapBlock =
  | { type: "shb"; offset: number; options: PcapOption[] }
  | { type: "idb"; offset: number; linktype: number; options: PcapOption[] }
  | { type: "epb"; offset: number; iface: number; ts: bigint; data: Uint8Array }
  | { type: "isb"; offset: number; iface: number; options: PcapOption[] }
  | { type: "custom"; offset: number; pen: number; data: Uint8Array }
  | { type: "other"; offset: number; blockType: number };

/** Where and why a file stops being readable: the rest is a block cut short (or garbage). */
export interface TornTail {
  offset: number;
  /** Bytes from `offset` to the end of the file, not read. */
  bytes: number;
  reason: string;
}

/** Thrown for a file that is not pcapng at all (the first block is not a little-endian SHB). */
export class PcapFormatError extends Error {
  override name = "PcapFormatError";
}

function parseOptions(bytes: Uint8Array, view: DataView, at: number, end: number): PcapOption[] {
  const opts: PcapOption[] = [];
  while (at + 4 <= end) {
    const code = view.getUint16(at, true);
    const len = view.getUint16(at + 2, true);
    if (code === OPT_ENDOFOPT) break;
    if (at + 4 + len > end) break;
    opts.push({ code, value: bytes.subarray(at + 4, at + 4 + len) });
    at += 4 + pad4(len);
  }
  return opts;
}

/** True when the buffer starts like a little-endian pcapng file. */
export function looksLikePcapng(head: Uint8Array): boolean {
  if (head.length < 12) return false;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return v.getUint32(0, true) === BLOCK_SHB && v.getUint32(8, true) === BYTE_ORDER_MAGIC;
}

/**
 * Every complete block of a pcapng file (views into `bytes`), then `torn` when the file ends
 * inside a block or a block's two lengths disagree. Throws PcapFormatError only when the file
 * does not start with a little-endian Section Header Block.
 */
export function* readBlocks(bytes: Uint8Array): Generator<PcapBlock, TornTail | undefined> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || !looksLikePcapng(bytes)) {
    if (bytes.length >= 4 && view.getUint32(0, true) === BLOCK_SHB && bytes.length >= 12)
      throw new PcapFormatError("big-endian pcapng is not supported (cdfilter writes little-endian)");
    if (bytes.length < 12 && bytes.length > 0 && view.getUint32(0, true) === BLOCK_SHB) {
      return { offset: 0, bytes: bytes.length, reason: "file ends inside the section header" };
    }
    throw new PcapFormatError("not a pcapng file (no Section Header Block at offset 0)");
  }
  let at = 0;
  while (at < bytes.length) {
    const left = bytes.length - at;
    if (left < 12) return { offset: at, bytes: left, reason: `file ends ${left} byte(s) into a block header` };
    const type = view.getUint32(at, true);
    const total = view.getUint32(at + 4, true);
    if (total < 12 || total % 4 !== 0) return { offset: at, bytes: left, reason: `block length ${total} is not a valid pcapng length` };
    if (total > left) return { offset: at, bytes: left, reason: `block of ${total} bytes cut short after ${left} byte(s)` };
    if (view.getUint32(at + total - 4, true) !== total)
      return { offset: at, bytes: left, reason: "block's trailing length does not match its leading length" };
    const body = at + 8;
    const end = at + total - 4;
    switch (type) {
      case BLOCK_SHB:
        if (view.getUint32(body, true) !== BYTE_ORDER_MAGIC)
          return { offset: at, bytes: left, reason: "section header with another byte order" };
        yield { type: "shb", offset: at, options: parseOptions(bytes, view, body + 16, end) };
        break;
      case BLOCK_IDB:
        yield { type: "idb", offset: at, linktype: view.getUint16(body, true), options: parseOptions(bytes, view, body + 8, end) };
        break;
      case BLOCK_EPB: {
        const caplen = view.getUint32(body + 12, true);
        if (body + 20 + caplen > end) return { offset: at, bytes: left, reason: "packet longer than its block" };
        const ts = (BigInt(view.getUint32(body + 4, true)) << 32n) | BigInt(view.getUint32(body + 8, true));
        yield { type: "epb", offset: at, iface: view.getUint32(body, true), ts, data: bytes.subarray(body + 20, body + 20 + caplen) };
        break;
      }
      case BLOCK_ISB:
        yield { type: "isb", offset: at, iface: view.getUint32(body, true), options: parseOptions(bytes, view, body + 12, end) };
        break;
      case BLOCK_CUSTOM:
      case 0x40000bad: {
        const pen = view.getUint32(body, true);
        const len = body + 8 <= end ? view.getUint32(body + 4, true) : 0;
        if (body + 8 + len > end) return { offset: at, bytes: left, reason: "custom block payload longer than its block" };
        yield { type: "custom", offset: at, pen, data: bytes.subarray(body + 8, body + 8 + len) };
        break;
      }
      default:
        yield { type: "other", offset: at, blockType: type };
    }
    at += total;
  }
  return undefined;
}

export function optionString(opts: readonly PcapOption[], code: number): string | undefined {
  const o = opts.find((x) => x.code === code);
  return o ? new TextDecoder().decode(o.value) : undefined;
}

export function optionU64(opts: readonly PcapOption[], code: number): bigint | undefined {
  const o = opts.find((x) => x.code === code);
  if (o?.value.length !== 8) return undefined;
  return new DataView(o.value.buffer, o.value.byteOffset, 8).getBigUint64(0, true);
}
