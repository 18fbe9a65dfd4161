/**
 * Typed wrappers for the three file system controls of seeds 000-002 (Windows; on a volume or
 * file handle opened with Win32Transport.openPath, or any DeviceHandle).
 *
 * Buffer layouts (winioctl.h; sizes checked against mingw-w64 by test/catalog.headers.test.ts):
 *   FILE_MAKE_COMPATIBLE_BUFFER { BOOLEAN CloseDisc; }  1 byte, input of FSCTL_MAKE_MEDIA_COMPATIBLE
 *   FILE_SET_DEFECT_MGMT_BUFFER { BOOLEAN Disable; }    1 byte, input of FSCTL_SET_DEFECT_MANAGEMENT
 *   USN (LONGLONG)                                      8 bytes, output of FSCTL_WRITE_USN_CLOSE_RECORD
 * Both setters take no output buffer; the USN close record takes no input (seeds 000-002).
 * Access: FSCTL_MAKE_MEDIA_COMPATIBLE and FSCTL_SET_DEFECT_MANAGEMENT are FILE_WRITE_DATA codes
 * (open with GENERIC_WRITE); FSCTL_WRITE_USN_CLOSE_RECORD is FILE_ANY_ACCESS.
 * Failures throw the typed error of the Win32 code (errors.ts): e.g. InvalidFunctionError
 * (ERROR_INVALID_FUNCTION <- STATUS_INVALID_DEVICE_REQUEST) when the file system is not UDF or
 * the handle is not a volume handle, AccessDeniedError without write access,
 * JournalNotActiveError (ERROR_JOURNAL_NOT_ACTIVE) when the volume has no USN journal, and a
 * failure for a handle locked by a transaction (Microsoft docs, FSCTL_WRITE_USN_CLOSE_RECORD IOCTL: "it always fails").
 */
import { lookupIoctl } from "./catalog.ts";
import { errorFromNtStatus, errorFromWin32, ProtocolError } from "./errors.ts";
import type { DeviceHandle, IoResult } from "./transport.ts";

function codeOf(name: string): number {
  const e = lookupIoctl(name);
  if (!e) throw new Error(`catalog lacks ${name}`);
  return e.code;
}

export const FSCTL_MAKE_MEDIA_COMPATIBLE = codeOf("FSCTL_MAKE_MEDIA_COMPATIBLE");
export const FSCTL_SET_DEFECT_MANAGEMENT = codeOf("FSCTL_SET_DEFECT_MANAGEMENT");
export const FSCTL_WRITE_USN_CLOSE_RECORD = codeOf("FSCTL_WRITE_USN_CLOSE_RECORD");

/** sizeof(FILE_MAKE_COMPATIBLE_BUFFER), bytes. */
export const FILE_MAKE_COMPATIBLE_BUFFER_SIZE = 1;
/** sizeof(FILE_SET_DEFECT_MGMT_BUFFER), bytes. */
export const FILE_SET_DEFECT_MGMT_BUFFER_SIZE = 1;
/** sizeof(USN), bytes. */
export const USN_SIZE = 8;

function fail(op: string, r: IoResult): never {
  throw r.statusExact ? errorFromNtStatus(op, r.status) : errorFromWin32(op, r.win32Error);
}

/** FILE_MAKE_COMPATIBLE_BUFFER bytes. */
export function encodeMakeCompatibleBuffer(closeDisc: boolean): Uint8Array {
  return Uint8Array.of(closeDisc ? 1 : 0);
}

/** FILE_SET_DEFECT_MGMT_BUFFER bytes. */
export function encodeDefectMgmtBuffer(disable: boolean): Uint8Array {
  return Uint8Array.of(disable ? 1 : 0);
}

/**
 * FSCTL_MAKE_MEDIA_COMPATIBLE on a volume handle (\\.\D:): close the open UDF session on
 * write-once media so it reads as ROM media; `closeDisc` also closes the disc (no further
 * sessions). Closing a session can take minutes: it runs off the main thread.
 */
export async function makeMediaCompatible(volume: DeviceHandle, opts: { closeDisc: boolean }): Promise<void> {
  const r = await volume.ioctl(FSCTL_MAKE_MEDIA_COMPATIBLE, encodeMakeCompatibleBuffer(opts.closeDisc), 0, { blocking: true });
  if (r.status !== 0) fail(`FSCTL_MAKE_MEDIA_COMPATIBLE on ${volume.path}`, r);
}

/** FSCTL_SET_DEFECT_MANAGEMENT on a file handle (UDF): `disable` turns software defect management off for the file. */
export async function setDefectManagement(file: DeviceHandle, opts: { disable: boolean }): Promise<void> {
  const r = await file.ioctl(FSCTL_SET_DEFECT_MANAGEMENT, encodeDefectMgmtBuffer(opts.disable), 0);
  if (r.status !== 0) fail(`FSCTL_SET_DEFECT_MANAGEMENT on ${file.path}`, r);
}

/**
 * FSCTL_WRITE_USN_CLOSE_RECORD on a file handle (NTFS 3.0+): force a USN_REASON_CLOSE record
 * into the change journal; returns its USN. ProtocolError if the call succeeds with fewer than
 * 8 bytes returned.
 */
export async function writeUsnCloseRecord(handle: DeviceHandle): Promise<bigint> {
  const op = `FSCTL_WRITE_USN_CLOSE_RECORD on ${handle.path}`;
  const r = await handle.ioctl(FSCTL_WRITE_USN_CLOSE_RECORD, new Uint8Array(0), USN_SIZE);
  if (r.status !== 0) fail(op, r);
  if (r.returned < USN_SIZE || r.output.length < USN_SIZE) {
    throw new ProtocolError(`${op}: returned ${r.returned} bytes, a USN is ${USN_SIZE}`);
  }
  return new DataView(r.output.buffer, r.output.byteOffset, USN_SIZE).getBigInt64(0, true);
}

/** "\\.\D:" for "D", "D:" or "d:\". */
export function volumePath(letter: string): string {
  const m = /^([A-Za-z]):?\\?$/.exec(letter.trim());
  if (!m) throw new RangeError(`not a drive letter: "${letter}"`);
  return `\\\\.\\${m[1]!.toUpperCase()}:`;
}
