// Error mapping: every Win32 code the library names -> its error class and the NTSTATUS it
// usually comes from; every NTSTATUS -> RtlNtStatusToDosError's Win32 code -> the same class.
import { describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  BadCommandError,
  BadLengthError,
  CdfilterError,
  DeviceBusyError,
  DeviceIoError,
  DeviceNotConnectedError,
  InsufficientBufferError,
  InsufficientResourcesError,
  InvalidFunctionError,
  InvalidHandleError,
  InvalidParameterError,
  JournalNotActiveError,
  NotFoundError,
  NotReadyError,
  NotSupportedError,
  OperationAbortedError,
  errorClassForWin32,
  errorFromNtStatus,
  errorFromWin32,
} from "../src/client/errors.ts";
import {
  NTSTATUS,
  WIN32_ERROR,
  ntStatusMappings,
  ntStatusName,
  ntStatusToWin32,
  ntSuccess,
  win32ErrorName,
  win32Origins,
  win32ToNtStatus,
} from "../src/client/ntstatus.ts";

// [Win32 name, code, class, NTSTATUS it usually comes from]
const TABLE = [
  ["ERROR_INVALID_FUNCTION", 1, InvalidFunctionError, "STATUS_INVALID_DEVICE_REQUEST"],
  ["ERROR_FILE_NOT_FOUND", 2, NotFoundError, "STATUS_OBJECT_NAME_NOT_FOUND"],
  ["ERROR_PATH_NOT_FOUND", 3, NotFoundError, "STATUS_OBJECT_PATH_NOT_FOUND"],
  ["ERROR_ACCESS_DENIED", 5, AccessDeniedError, "STATUS_ACCESS_DENIED"],
  ["ERROR_INVALID_HANDLE", 6, InvalidHandleError, "STATUS_INVALID_HANDLE"],
  ["ERROR_NOT_ENOUGH_MEMORY", 8, InsufficientResourcesError, "STATUS_NO_MEMORY"],
  ["ERROR_NOT_READY", 21, NotReadyError, "STATUS_NO_MEDIA_IN_DEVICE"],
  ["ERROR_BAD_COMMAND", 22, BadCommandError, "STATUS_INVALID_DEVICE_STATE"],
  ["ERROR_BAD_LENGTH", 24, BadLengthError, "STATUS_INFO_LENGTH_MISMATCH"],
  ["ERROR_NOT_SUPPORTED", 50, NotSupportedError, "STATUS_NOT_SUPPORTED"],
  ["ERROR_INVALID_PARAMETER", 87, InvalidParameterError, "STATUS_INVALID_PARAMETER"],
  ["ERROR_INSUFFICIENT_BUFFER", 122, InsufficientBufferError, "STATUS_BUFFER_TOO_SMALL"],
  ["ERROR_BUSY", 170, DeviceBusyError, "STATUS_DEVICE_BUSY"],
  ["ERROR_OPERATION_ABORTED", 995, OperationAbortedError, "STATUS_CANCELLED"],
  ["ERROR_DEVICE_NOT_CONNECTED", 1167, DeviceNotConnectedError, "STATUS_DEVICE_NOT_CONNECTED"],
  ["ERROR_JOURNAL_DELETE_IN_PROGRESS", 1178, JournalNotActiveError, "STATUS_JOURNAL_DELETE_IN_PROGRESS"],
  ["ERROR_JOURNAL_NOT_ACTIVE", 1179, JournalNotActiveError, "STATUS_JOURNAL_NOT_ACTIVE"],
  ["ERROR_NO_SYSTEM_RESOURCES", 1450, InsufficientResourcesError, "STATUS_INSUFFICIENT_RESOURCES"],
] as const;

describe("Win32 error -> typed error", () => {
  it.each(TABLE)("%s (%d) -> %o, usually %s", (name, code, cls, nt) => {
    expect(WIN32_ERROR[name]).toBe(code);
    const e = errorFromWin32("DeviceIoControl IOCTL_X on \\\\.\\CdFilter", code);
    expect(e).toBeInstanceOf(cls);
    expect(e).toBeInstanceOf(DeviceIoError);
    expect(e).toBeInstanceOf(CdfilterError);
    expect(e.name).toBe(cls.name);
    expect(e.win32Error).toBe(code);
    expect(e.win32Name).toBe(name);
    expect(e.ntStatusName).toBe(nt);
    expect(e.ntStatus).toBe(NTSTATUS[nt]);
    expect(e.message).toBe(`DeviceIoControl IOCTL_X on \\\\.\\CdFilter: ${name} (${code}) <- usually ${nt}`);
    expect(e.hint).toBeTruthy();
    expect(errorClassForWin32(code)).toBe(cls);
  });

  it("every Win32 code the library names is covered by the table or falls back to DeviceIoError", () => {
    const inTable = new Set<number>(TABLE.map((r) => r[1]));
    for (const [name, code] of Object.entries(WIN32_ERROR)) {
      const e = errorFromWin32("op", code);
      expect(e.win32Name).toBe(name);
      if (!inTable.has(code)) expect(e.constructor).toBe(DeviceIoError);
    }
  });

  it("an unknown Win32 code keeps its number and becomes NTSTATUS_FROM_WIN32", () => {
    const e = errorFromWin32("op", 4321);
    expect(e.constructor).toBe(DeviceIoError);
    expect(e.win32Name).toBe("Win32 error 4321");
    expect(e.ntStatus).toBe((0xc0070000 | 4321) >>> 0);
    expect(e.ntStatusName).toBe("NTSTATUS_FROM_WIN32(4321)");
    expect(ntStatusToWin32(e.ntStatus!)).toBe(4321);
  });
});

describe("NTSTATUS -> RtlNtStatusToDosError -> typed error", () => {
  // RtlNtStatusToDosError on Windows for the statuses this project meets (cdrom.sys sample; docs/wine.md; Microsoft docs).
  const EXPECTED: Array<[keyof typeof NTSTATUS, keyof typeof WIN32_ERROR]> = [
    ["STATUS_ACCESS_DENIED", "ERROR_ACCESS_DENIED"],
    ["STATUS_INVALID_DEVICE_REQUEST", "ERROR_INVALID_FUNCTION"],
    ["STATUS_NOT_IMPLEMENTED", "ERROR_INVALID_FUNCTION"],
    ["STATUS_BUFFER_TOO_SMALL", "ERROR_INSUFFICIENT_BUFFER"],
    ["STATUS_BUFFER_OVERFLOW", "ERROR_MORE_DATA"],
    ["STATUS_INVALID_PARAMETER", "ERROR_INVALID_PARAMETER"],
    ["STATUS_DEVICE_BUSY", "ERROR_BUSY"],
    ["STATUS_NO_MEDIA_IN_DEVICE", "ERROR_NOT_READY"],
    ["STATUS_DEVICE_NOT_READY", "ERROR_NOT_READY"],
    ["STATUS_DEVICE_NOT_CONNECTED", "ERROR_DEVICE_NOT_CONNECTED"],
    ["STATUS_INVALID_HANDLE", "ERROR_INVALID_HANDLE"],
    ["STATUS_INFO_LENGTH_MISMATCH", "ERROR_BAD_LENGTH"],
    ["STATUS_INVALID_DEVICE_STATE", "ERROR_BAD_COMMAND"],
    ["STATUS_CANCELLED", "ERROR_OPERATION_ABORTED"],
    ["STATUS_OBJECT_NAME_NOT_FOUND", "ERROR_FILE_NOT_FOUND"],
    ["STATUS_NO_SUCH_DEVICE", "ERROR_FILE_NOT_FOUND"],
    ["STATUS_INSUFFICIENT_RESOURCES", "ERROR_NO_SYSTEM_RESOURCES"],
    ["STATUS_UNSUCCESSFUL", "ERROR_GEN_FAILURE"],
    ["STATUS_IO_DEVICE_ERROR", "ERROR_IO_DEVICE"],
    ["STATUS_VERIFY_REQUIRED", "ERROR_MEDIA_CHANGED"],
    ["STATUS_PENDING", "ERROR_IO_PENDING"],
    ["STATUS_REVISION_MISMATCH", "ERROR_REVISION_MISMATCH"],
  ];
  it.each(EXPECTED)("%s -> %s", (nt, w) => {
    expect(ntStatusToWin32(NTSTATUS[nt])).toBe(WIN32_ERROR[w]);
    const e = errorFromNtStatus("op", NTSTATUS[nt]);
    expect(e.win32Name).toBe(w);
    expect(e.ntStatusName).toBe(nt);
    expect(e.message).toBe(`op: ${w} (${WIN32_ERROR[w]}) <- ${nt}`);
    expect(e).toBeInstanceOf(errorClassForWin32(WIN32_ERROR[w]));
  });

  it("every named NTSTATUS has a mapping, and each Win32 origin maps back to its code", () => {
    const mapped = new Set(ntStatusMappings().map((m) => m.status));
    for (const name of Object.keys(NTSTATUS)) expect(mapped.has(name as keyof typeof NTSTATUS), name).toBe(true);
    for (const { win32, status } of win32Origins()) {
      expect(win32ToNtStatus(WIN32_ERROR[win32])).toBe(NTSTATUS[status]);
      expect(ntStatusToWin32(NTSTATUS[status])).toBe(WIN32_ERROR[win32]);
    }
  });

  it("names, NT_SUCCESS and signed inputs", () => {
    expect(ntStatusName(0xc0000022)).toBe("STATUS_ACCESS_DENIED");
    expect(ntStatusName(-1073741790)).toBe("STATUS_ACCESS_DENIED"); // the same value as int32
    expect(ntStatusName(0xc00000ff)).toBe("NTSTATUS 0xC00000FF");
    expect(win32ErrorName(5)).toBe("ERROR_ACCESS_DENIED");
    expect(ntSuccess(0)).toBe(true);
    expect(ntSuccess(NTSTATUS.STATUS_PENDING)).toBe(true);
    expect(ntSuccess(NTSTATUS.STATUS_DEVICE_BUSY)).toBe(false); // a warning (0x8...) is not success
    expect(ntSuccess(NTSTATUS.STATUS_ACCESS_DENIED)).toBe(false);
    expect(ntStatusToWin32(0xc00000ff)).toBe(317); // ERROR_MR_MID_NOT_FOUND, as RtlNtStatusToDosError
  });
});
