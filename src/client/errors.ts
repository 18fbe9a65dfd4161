/**
 * Errors thrown by the client library. Every one is a CdfilterError; those that come from the
 * operating system (a Win32 error from GetLastError, or an NTSTATUS from the simulator) carry
 * both codes: `win32Error` + `win32Name`, and `ntStatus` + `ntStatusName` (on Win32 the NTSTATUS
 * is the one the Win32 code usually comes from, see ntstatus.ts; on the simulator it is exact).
 *
 * The class is chosen by the Win32 code (RtlNtStatusToDosError of the NTSTATUS), so the same
 * failure gives the same class on every transport.
 */
import { WIN32_ERROR, ntStatusName, ntStatusToWin32, toUint32, win32ErrorName, win32ToNtStatus } from "./ntstatus.ts";

export interface OsErrorDetails {
  /** What was being done, e.g. "IOCTL_CDFILTER_GET_INFO on \\.\CdFilter". */
  operation: string;
  win32Error: number;
  ntStatus: number;
  /** Whether ntStatus is exact (simulator, driver reply) or inferred from the Win32 code. */
  ntStatusExact: boolean;
}

/** Base class of every error the library throws. */
export class CdfilterError extends Error {
  /** Win32 error code (GetLastError), when the failure came from the OS or the driver. */
  readonly win32Error: number | undefined;
  /** e.g. "ERROR_ACCESS_DENIED". */
  readonly win32Name: string | undefined;
  /** NTSTATUS (uint32) the failure completed with, or usually comes from. */
  readonly ntStatus: number | undefined;
  /** e.g. "STATUS_ACCESS_DENIED". */
  readonly ntStatusName: string | undefined;
  /** What was being done when it failed. */
  readonly operation: string | undefined;
  /** One line telling the user what to try. */
  readonly hint: string | undefined;

  constructor(message: string, opts?: { os?: OsErrorDetails; hint?: string; cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    const os = opts?.os;
    this.win32Error = os?.win32Error;
    this.win32Name = os ? win32ErrorName(os.win32Error) : undefined;
    this.ntStatus = os ? toUint32(os.ntStatus) : undefined;
    this.ntStatusName = os ? ntStatusName(os.ntStatus) : undefined;
    this.operation = os?.operation;
    this.hint = opts?.hint;
  }
}

/** A failure reported by the OS or the driver, with no more specific class. */
export class DeviceIoError extends CdfilterError {}
/** ERROR_INVALID_FUNCTION (1) <- STATUS_INVALID_DEVICE_REQUEST: the device does not handle this code. */
export class InvalidFunctionError extends DeviceIoError {}
/** ERROR_FILE_NOT_FOUND (2) / ERROR_PATH_NOT_FOUND (3) <- STATUS_OBJECT_NAME_NOT_FOUND: no such device. */
export class NotFoundError extends DeviceIoError {}
/** ERROR_ACCESS_DENIED (5) <- STATUS_ACCESS_DENIED: missing CTL_CODE access or privileges. */
export class AccessDeniedError extends DeviceIoError {}
/** ERROR_INVALID_HANDLE (6) <- STATUS_INVALID_HANDLE. */
export class InvalidHandleError extends DeviceIoError {}
/** ERROR_NOT_READY (21) <- STATUS_NO_MEDIA_IN_DEVICE / STATUS_DEVICE_NOT_READY. */
export class NotReadyError extends DeviceIoError {}
/** ERROR_BAD_COMMAND (22) <- STATUS_INVALID_DEVICE_STATE: e.g. a secure unlock by a non-owner. */
export class BadCommandError extends DeviceIoError {}
/** ERROR_BAD_LENGTH (24) <- STATUS_INFO_LENGTH_MISMATCH: input shorter than the request's structure. */
export class BadLengthError extends DeviceIoError {}
/** ERROR_NOT_SUPPORTED (50) <- STATUS_NOT_SUPPORTED. */
export class NotSupportedError extends DeviceIoError {}
/** ERROR_INVALID_PARAMETER (87) <- STATUS_INVALID_PARAMETER: malformed request or value out of range. */
export class InvalidParameterError extends DeviceIoError {}
/** ERROR_INSUFFICIENT_BUFFER (122) <- STATUS_BUFFER_TOO_SMALL: the output buffer cannot hold the reply. */
export class InsufficientBufferError extends DeviceIoError {}
/** ERROR_BUSY (170) <- STATUS_DEVICE_BUSY: e.g. eject while a secure lock is held. */
export class DeviceBusyError extends DeviceIoError {}
/** ERROR_OPERATION_ABORTED (995) <- STATUS_CANCELLED: cancelled (CancelIoEx, cdfsim_cancel, AbortSignal). */
export class OperationAbortedError extends DeviceIoError {}
/** ERROR_DEVICE_NOT_CONNECTED (1167) <- STATUS_DEVICE_NOT_CONNECTED: the drive went away. */
export class DeviceNotConnectedError extends DeviceIoError {}
/** ERROR_NO_SYSTEM_RESOURCES (1450) <- STATUS_INSUFFICIENT_RESOURCES, or ERROR_NOT_ENOUGH_MEMORY (8). */
export class InsufficientResourcesError extends DeviceIoError {}
/** ERROR_JOURNAL_NOT_ACTIVE (1179) / ERROR_JOURNAL_DELETE_IN_PROGRESS (1178): no USN journal. */
export class JournalNotActiveError extends DeviceIoError {}

/** The driver speaks a control protocol version this client does not support. */
export class ProtocolVersionError extends CdfilterError {
  constructor(
    message: string,
    readonly clientVersion: number,
    readonly driverVersion: number,
  ) {
    super(message, { hint: "install a cdfilter client and driver of the same release" });
  }
}
/** A reply from the driver could not be decoded or is inconsistent (e.g. a WireError). */
export class ProtocolError extends CdfilterError {}
/** The requested transport cannot be used here (e.g. "win32" on Linux, simulator library not built). */
export class TransportUnavailableError extends CdfilterError {}
/** The client or handle was closed. */
export class ClientClosedError extends CdfilterError {}
/** A bad argument to a library call (caught before anything was sent). */
export class InvalidArgumentError extends CdfilterError {}

type OsErrorClass = new (message: string, opts?: { os?: OsErrorDetails; hint?: string; cause?: unknown }) => DeviceIoError;

interface ClassInfo {
  cls: OsErrorClass;
  hint: string;
}

const BY_WIN32 = new Map<number, ClassInfo>([
  [WIN32_ERROR.ERROR_INVALID_FUNCTION, { cls: InvalidFunctionError, hint: "the device or driver does not handle this control code" }],
  [WIN32_ERROR.ERROR_FILE_NOT_FOUND, { cls: NotFoundError, hint: "check the device path; is the driver installed and started?" }],
  [WIN32_ERROR.ERROR_PATH_NOT_FOUND, { cls: NotFoundError, hint: "check the device path" }],
  [
    WIN32_ERROR.ERROR_ACCESS_DENIED,
    { cls: AccessDeniedError, hint: "open the handle with the access the CTL_CODE requires, or run elevated" },
  ],
  [WIN32_ERROR.ERROR_INVALID_HANDLE, { cls: InvalidHandleError, hint: "the handle was closed or never opened" }],
  [WIN32_ERROR.ERROR_NOT_READY, { cls: NotReadyError, hint: "insert media or wait until the drive is ready" }],
  [
    WIN32_ERROR.ERROR_BAD_COMMAND,
    { cls: BadCommandError, hint: "the device is not in a state that allows this (e.g. unlock without a lock of this handle)" },
  ],
  [WIN32_ERROR.ERROR_BAD_LENGTH, { cls: BadLengthError, hint: "the input buffer is shorter than the request's structure" }],
  [WIN32_ERROR.ERROR_NOT_SUPPORTED, { cls: NotSupportedError, hint: "the device or file system does not support this request" }],
  [
    WIN32_ERROR.ERROR_INVALID_PARAMETER,
    { cls: InvalidParameterError, hint: "a value in the request is out of range (drive id, policy, sizes)" },
  ],
  [WIN32_ERROR.ERROR_INSUFFICIENT_BUFFER, { cls: InsufficientBufferError, hint: "the output buffer is too small for the reply" }],
  [WIN32_ERROR.ERROR_BUSY, { cls: DeviceBusyError, hint: "another handle holds a lock; see `cdfilter locks`" }],
  [WIN32_ERROR.ERROR_OPERATION_ABORTED, { cls: OperationAbortedError, hint: "the request was cancelled" }],
  [WIN32_ERROR.ERROR_DEVICE_NOT_CONNECTED, { cls: DeviceNotConnectedError, hint: "the drive was disconnected" }],
  [
    WIN32_ERROR.ERROR_NO_SYSTEM_RESOURCES,
    { cls: InsufficientResourcesError, hint: "the driver ran out of a fixed resource (handle slots, memory)" },
  ],
  [WIN32_ERROR.ERROR_NOT_ENOUGH_MEMORY, { cls: InsufficientResourcesError, hint: "out of memory" }],
  [
    WIN32_ERROR.ERROR_JOURNAL_NOT_ACTIVE,
    { cls: JournalNotActiveError, hint: "the volume has no active USN change journal (fsutil usn createjournal)" },
  ],
  [WIN32_ERROR.ERROR_JOURNAL_DELETE_IN_PROGRESS, { cls: JournalNotActiveError, hint: "the USN change journal is being deleted" }],
]);

/** The error class a Win32 code maps to (DeviceIoError when it has no specific class). */
export function errorClassForWin32(code: number): OsErrorClass {
  return BY_WIN32.get(code)?.cls ?? DeviceIoError;
}

function build(operation: string, win32Error: number, ntStatus: number, exact: boolean, cause?: unknown): DeviceIoError {
  const info = BY_WIN32.get(win32Error);
  const cls = info?.cls ?? DeviceIoError;
  const origin = exact ? ntStatusName(ntStatus) : `usually ${ntStatusName(ntStatus)}`;
  const message = `${operation}: ${win32ErrorName(win32Error)} (${win32Error}) <- ${origin}`;
  return new cls(message, {
    os: { operation, win32Error, ntStatus, ntStatusExact: exact },
    hint: info?.hint ?? "see the Win32 error and NTSTATUS named in the message",
    cause,
  });
}

/** A typed error for a Win32 error read with GetLastError (the NTSTATUS is inferred). */
export function errorFromWin32(operation: string, win32Error: number, cause?: unknown): DeviceIoError {
  return build(operation, win32Error, win32ToNtStatus(win32Error), false, cause);
}

/** A typed error for an exact NTSTATUS (simulator, driver); the Win32 code is RtlNtStatusToDosError's. */
export function errorFromNtStatus(operation: string, ntStatus: number, cause?: unknown): DeviceIoError {
  return build(operation, ntStatusToWin32(ntStatus), toUint32(ntStatus), true, cause);
}
