/**
 * cdfilter client library: public exports. See docs/client.md for a tour.
 */
export { FilterClient, type ConnectOptions, type OpenDriveOptions } from "./client.ts";
export { Drive, type ActionResult, type PassThroughResult, encodePassThrough, SCSI_PASS_THROUGH_SIZE } from "./drive.ts";
export {
  TraceStream,
  type TraceEvent,
  type TraceOptions,
  type TraceStreamStats,
  DEFAULT_HIGH_WATER_MARK,
  MAX_BATCH_RECORDS,
} from "./trace-stream.ts";
export * from "./errors.ts";
export {
  NTSTATUS,
  WIN32_ERROR,
  type NtStatusName,
  type Win32ErrorName,
  ntStatusName,
  win32ErrorName,
  ntStatusToWin32,
  win32ToNtStatus,
  ntSuccess,
  ntStatusMappings,
  win32Origins,
} from "./ntstatus.ts";
export {
  IOCTL_CATALOG,
  IOCTL_ALIASES,
  DEVICE_TYPES,
  METHOD_NAMES,
  ACCESS_NAMES,
  type CatalogEntry,
  type CatalogAlias,
  type CatalogGroup,
  type DecodedIoctl,
  type TransferMethod,
  type RequiredAccess,
  ctlCode,
  decodeIoctl,
  describeIoctl,
  deviceTypeName,
  hex32,
  ioctlName,
  lookupIoctl,
  normalizeIoctl,
  parseIoctl,
} from "./catalog.ts";
export {
  makeMediaCompatible,
  setDefectManagement,
  writeUsnCloseRecord,
  volumePath,
  FSCTL_MAKE_MEDIA_COMPATIBLE,
  FSCTL_SET_DEFECT_MANAGEMENT,
  FSCTL_WRITE_USN_CLOSE_RECORD,
} from "./fsctl.ts";
export { IRP_MJ_NAMES, majorName, majorFromText } from "./irp.ts";
export {
  type CdbField,
  type DecodedCdb,
  type PassThroughHeader,
  type PassThroughCompletion,
  type SenseData,
  decodeCdb,
  formatCdb,
  scsiOpcodeName,
  isPassThrough,
  parsePassThrough,
  passThroughCdb,
  decodeSense,
  formatSense,
  senseKeyName,
  ascName,
  scsiStatusName,
  decodePassThroughCompletion,
  formatPassThroughCompletion,
} from "./scsi-decode.ts";
export type { Transport, TransportKind, DeviceHandle, DriveAccess, IoResult } from "./transport.ts";
export { SimulatorTransport, type SimulatorControl, type SimulatorOptions } from "./transports/simulator.ts";
export { Win32Transport, type Kernel32, type Win32TransportOptions, drivePath } from "./transports/win32.ts";
// Generated protocol types, re-exported so users need one import.
export * from "./gen/cdfilter.ts";
export { PROTOCOL_VERSION, ControlIoctls } from "./gen/cdfilter_ioctl.ts";
