/**
 * IOCTL catalog: decode any 32-bit control code into its CTL_CODE fields and name the codes a
 * CD/DVD drive stack sees.
 *
 * CTL_CODE(DeviceType, Function, Method, Access) =
 *   (DeviceType << 16) | (Access << 14) | (Function << 2) | Method        (winioctl.h, devioctl.h)
 * DeviceType bits 16-31 (0x8000-0xFFFF: vendor-defined, "custom"), Access bits 14-15,
 * Function bits 2-13 (0x800-0xFFF: vendor-defined), Method bits 0-1.
 *
 * Every value here is checked against the mingw-w64 headers by test/catalog.headers.test.ts; an
 * entry whose macro mingw-w64 lacks names the header it comes from in `source`.
 */
import { ControlIoctls } from "./gen/cdfilter_ioctl.ts";

export const METHOD_NAMES = ["METHOD_BUFFERED", "METHOD_IN_DIRECT", "METHOD_OUT_DIRECT", "METHOD_NEITHER"] as const;
export type TransferMethod = (typeof METHOD_NAMES)[number];
export const ACCESS_NAMES = ["FILE_ANY_ACCESS", "FILE_READ_ACCESS", "FILE_WRITE_ACCESS", "FILE_READ_ACCESS|FILE_WRITE_ACCESS"] as const;
export type RequiredAccess = (typeof ACCESS_NAMES)[number];

export const METHOD_BUFFERED = 0;
export const METHOD_IN_DIRECT = 1;
export const METHOD_OUT_DIRECT = 2;
export const METHOD_NEITHER = 3;
export const FILE_ANY_ACCESS = 0;
export const FILE_READ_ACCESS = 1;
export const FILE_WRITE_ACCESS = 2;

/** Standard device types (FILE_DEVICE_* of winioctl.h / devioctl.h). */
export const DEVICE_TYPES: ReadonlyMap<number, string> = new Map<number, string>([
  [0x01, "FILE_DEVICE_BEEP"],
  [0x02, "FILE_DEVICE_CD_ROM"],
  [0x03, "FILE_DEVICE_CD_ROM_FILE_SYSTEM"],
  [0x04, "FILE_DEVICE_CONTROLLER"],
  [0x05, "FILE_DEVICE_DATALINK"],
  [0x06, "FILE_DEVICE_DFS"],
  [0x07, "FILE_DEVICE_DISK"],
  [0x08, "FILE_DEVICE_DISK_FILE_SYSTEM"],
  [0x09, "FILE_DEVICE_FILE_SYSTEM"],
  [0x0a, "FILE_DEVICE_INPORT_PORT"],
  [0x0b, "FILE_DEVICE_KEYBOARD"],
  [0x0c, "FILE_DEVICE_MAILSLOT"],
  [0x0d, "FILE_DEVICE_MIDI_IN"],
  [0x0e, "FILE_DEVICE_MIDI_OUT"],
  [0x0f, "FILE_DEVICE_MOUSE"],
  [0x10, "FILE_DEVICE_MULTI_UNC_PROVIDER"],
  [0x11, "FILE_DEVICE_NAMED_PIPE"],
  [0x12, "FILE_DEVICE_NETWORK"],
  [0x13, "FILE_DEVICE_NETWORK_BROWSER"],
  [0x14, "FILE_DEVICE_NETWORK_FILE_SYSTEM"],
  [0x15, "FILE_DEVICE_NULL"],
  [0x16, "FILE_DEVICE_PARALLEL_PORT"],
  [0x17, "FILE_DEVICE_PHYSICAL_NETCARD"],
  [0x18, "FILE_DEVICE_PRINTER"],
  [0x19, "FILE_DEVICE_SCANNER"],
  [0x1a, "FILE_DEVICE_SERIAL_MOUSE_PORT"],
  [0x1b, "FILE_DEVICE_SERIAL_PORT"],
  [0x1c, "FILE_DEVICE_SCREEN"],
  [0x1d, "FILE_DEVICE_SOUND"],
  [0x1e, "FILE_DEVICE_STREAMS"],
  [0x1f, "FILE_DEVICE_TAPE"],
  [0x20, "FILE_DEVICE_TAPE_FILE_SYSTEM"],
  [0x21, "FILE_DEVICE_TRANSPORT"],
  [0x22, "FILE_DEVICE_UNKNOWN"],
  [0x23, "FILE_DEVICE_VIDEO"],
  [0x24, "FILE_DEVICE_VIRTUAL_DISK"],
  [0x25, "FILE_DEVICE_WAVE_IN"],
  [0x26, "FILE_DEVICE_WAVE_OUT"],
  [0x27, "FILE_DEVICE_8042_PORT"],
  [0x28, "FILE_DEVICE_NETWORK_REDIRECTOR"],
  [0x29, "FILE_DEVICE_BATTERY"],
  [0x2a, "FILE_DEVICE_BUS_EXTENDER"],
  [0x2b, "FILE_DEVICE_MODEM"],
  [0x2c, "FILE_DEVICE_VDM"],
  [0x2d, "FILE_DEVICE_MASS_STORAGE"],
  [0x2e, "FILE_DEVICE_SMB"],
  [0x2f, "FILE_DEVICE_KS"],
  [0x30, "FILE_DEVICE_CHANGER"],
  [0x31, "FILE_DEVICE_SMARTCARD"],
  [0x32, "FILE_DEVICE_ACPI"],
  [0x33, "FILE_DEVICE_DVD"],
  [0x34, "FILE_DEVICE_FULLSCREEN_VIDEO"],
  [0x35, "FILE_DEVICE_DFS_FILE_SYSTEM"],
  [0x36, "FILE_DEVICE_DFS_VOLUME"],
  [0x37, "FILE_DEVICE_SERENUM"],
  [0x38, "FILE_DEVICE_TERMSRV"],
  [0x39, "FILE_DEVICE_KSEC"],
  [0x3a, "FILE_DEVICE_FIPS"],
  [0x3b, "FILE_DEVICE_INFINIBAND"],
  [0x3e, "FILE_DEVICE_VMBUS"],
  [0x3f, "FILE_DEVICE_CRYPT_PROVIDER"],
  [0x40, "FILE_DEVICE_WPD"],
  [0x41, "FILE_DEVICE_BLUETOOTH"],
  [0x42, "FILE_DEVICE_MT_COMPOSITE"],
  [0x43, "FILE_DEVICE_MT_TRANSPORT"],
  [0x44, "FILE_DEVICE_BIOMETRIC"],
  [0x45, "FILE_DEVICE_PMI"],
  [0x46, "FILE_DEVICE_EHSTOR"],
  [0x47, "FILE_DEVICE_DEVAPI"],
  [0x48, "FILE_DEVICE_GPIO"],
  [0x49, "FILE_DEVICE_USBEX"],
  [0x50, "FILE_DEVICE_CONSOLE"],
  [0x51, "FILE_DEVICE_NFP"],
  [0x52, "FILE_DEVICE_SYSENV"],
  [0x53, "FILE_DEVICE_VIRTUAL_BLOCK"],
  [0x54, "FILE_DEVICE_POINT_OF_SERVICE"],
  [0x55, "FILE_DEVICE_STORAGE_REPLICATION"],
  [0x56, "FILE_DEVICE_TRUST_ENV"],
  [0x57, "FILE_DEVICE_UCM"],
  [0x58, "FILE_DEVICE_UCMTCPCI"],
  [0x59, "FILE_DEVICE_PERSISTENT_MEMORY"],
  [0x5a, "FILE_DEVICE_NVDIMM"],
  [0x5b, "FILE_DEVICE_HOLOGRAPHIC"],
  [0x5c, "FILE_DEVICE_SDFXHCI"],
  [0x5d, "FILE_DEVICE_UCMUCSI"],
  [0x5e, "FILE_DEVICE_PRM"],
  [0x5f, "FILE_DEVICE_EVENT_COLLECTOR"],
  [0x60, "FILE_DEVICE_USB4"],
  [0x61, "FILE_DEVICE_SOUNDWIRE"],
]);

/** Where a catalog entry comes from. */
export type CatalogGroup = "cdrom" | "dvd" | "storage" | "disk" | "scsi" | "mountdev" | "mountmgr" | "volume" | "fsctl" | "cdfilter";

/** One named control code. */
export interface CatalogEntry {
  name: string;
  code: number;
  deviceType: number;
  function: number;
  method: number;
  access: number;
  group: CatalogGroup;
  /** Header that defines it (Windows SDK/WDK). */
  header: string;
  /**
   * Set when the mingw-w64 headers lack the macro: the document the value was taken from.
   * test/catalog.headers.test.ts requires this exactly for the macros mingw-w64 lacks.
   */
  source?: string;
  description: string;
}

/** A documented name with no code of its own (the CD-ROM I/O control codes page lists it; no header defines it). */
export interface CatalogAlias {
  name: string;
  /** The entry that replaced it. */
  replacedBy: string;
  description: string;
}

export interface DecodedIoctl {
  code: number;
  /** "0x002D4808" */
  hex: string;
  deviceType: number;
  /** "FILE_DEVICE_MASS_STORAGE", "custom 0x8CDF" or "unknown 0x0070" (unassigned standard value). */
  deviceTypeName: string;
  /** Device type 0x8000-0xFFFF: vendor-defined. */
  customDeviceType: boolean;
  function: number;
  /** Function 0x800-0xFFF: vendor-defined. */
  customFunction: boolean;
  method: number;
  methodName: TransferMethod;
  access: number;
  accessName: RequiredAccess;
  /** The catalog entry naming this code, if any. */
  entry: CatalogEntry | undefined;
  /** Other catalog names of the same code (none today; kept for aliases that share a value). */
  aliases: string[];
}

/** CTL_CODE (winioctl.h), as an unsigned 32-bit number. */
export function ctlCode(deviceType: number, fn: number, method: number, access: number): number {
  if (!isUint(deviceType, 0xffff) || !isUint(fn, 0xfff) || !isUint(method, 3) || !isUint(access, 3)) {
    throw new RangeError(
      `CTL_CODE fields out of range: device type ${deviceType} (0..0xFFFF), function ${fn} (0..0xFFF), method ${method} (0..3), access ${access} (0..3)`,
    );
  }
  return ((deviceType << 16) | (access << 14) | (fn << 2) | method) >>> 0;
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
}

const R = FILE_READ_ACCESS;
const RW = FILE_READ_ACCESS | FILE_WRITE_ACCESS;
const ANY = FILE_ANY_ACCESS;
const B = METHOD_BUFFERED;
const SDK_CDROM = "Windows SDK ntddcdrm.h (absent from mingw-w64's ntddcdrm.h)";
const SDK_SCSI = "Windows SDK ntddscsi.h (absent from mingw-w64's ntddscsi.h)";
const RW_ = FILE_READ_ACCESS | FILE_WRITE_ACCESS;
/** Device types of codes outside FILE_DEVICE_*: MOUNTDEVCONTROLTYPE 'M', MOUNTMGRCONTROLTYPE 'm' (mountmgr.h), IOCTL_VOLUME_BASE 'V' (ntddvol.h). */
const MOUNTDEV = 0x4d;
const MOUNTMGR = 0x6d;
const VOLUME = 0x56;

type Row = [
  name: string,
  deviceType: number,
  fn: number,
  method: number,
  access: number,
  header: string,
  description: string,
  source?: string,
];

const ROWS: Row[] = [
  // The CD-ROM I/O control codes (IOCTL_CDROM_BASE = FILE_DEVICE_CD_ROM), as listed on Microsoft's "CD-ROM I/O control codes" (learn.microsoft.com/windows-hardware/drivers/storage/cd-rom-i-o-control-codes).
  ["IOCTL_CDROM_READ_TOC", 0x02, 0x000, B, R, "ntddcdrm.h", "obsolete: read the table of contents"],
  ["IOCTL_CDROM_SEEK_AUDIO_MSF", 0x02, 0x001, B, R, "ntddcdrm.h", "obsolete: seek to an MSF address"],
  ["IOCTL_CDROM_STOP_AUDIO", 0x02, 0x002, B, R, "ntddcdrm.h", "obsolete: stop audio play"],
  ["IOCTL_CDROM_PAUSE_AUDIO", 0x02, 0x003, B, R, "ntddcdrm.h", "obsolete: pause audio play"],
  ["IOCTL_CDROM_RESUME_AUDIO", 0x02, 0x004, B, R, "ntddcdrm.h", "obsolete: resume audio play"],
  ["IOCTL_CDROM_GET_VOLUME", 0x02, 0x005, B, R, "ntddcdrm.h", "obsolete: audio port volumes"],
  ["IOCTL_CDROM_PLAY_AUDIO_MSF", 0x02, 0x006, B, R, "ntddcdrm.h", "obsolete: play an MSF range"],
  ["IOCTL_CDROM_SET_VOLUME", 0x02, 0x00a, B, R, "ntddcdrm.h", "obsolete: set audio port volumes"],
  ["IOCTL_CDROM_READ_Q_CHANNEL", 0x02, 0x00b, B, R, "ntddcdrm.h", "obsolete: Q sub-channel data"],
  ["IOCTL_CDROM_GET_CONTROL", 0x02, 0x00d, B, R, "ntddcdrm.h", "obsolete: audio control"],
  ["IOCTL_CDROM_GET_LAST_SESSION", 0x02, 0x00e, B, R, "ntddcdrm.h", "first/last complete session and last session address"],
  ["IOCTL_CDROM_RAW_READ", 0x02, 0x00f, METHOD_OUT_DIRECT, R, "ntddcdrm.h", "read sectors in raw mode"],
  ["IOCTL_CDROM_GET_DRIVE_GEOMETRY", 0x02, 0x013, B, R, "ntddcdrm.h", "media type and geometry"],
  ["IOCTL_CDROM_GET_DRIVE_GEOMETRY_EX", 0x02, 0x014, B, R, "ntddcdrm.h", "geometry with disk size"],
  ["IOCTL_CDROM_READ_TOC_EX", 0x02, 0x015, B, R, "ntddcdrm.h", "TOC, PMA, ATIP, CD-Text"],
  ["IOCTL_CDROM_GET_CONFIGURATION", 0x02, 0x016, B, R, "ntddcdrm.h", "MMC GET CONFIGURATION features and profiles"],
  ["IOCTL_CDROM_EXCLUSIVE_ACCESS", 0x02, 0x017, B, RW, "ntddcdrm.h", "query, take or release exclusive access to the drive", SDK_CDROM],
  ["IOCTL_CDROM_SET_SPEED", 0x02, 0x018, B, R, "ntddcdrm.h", "set the spindle speed"],
  ["IOCTL_CDROM_GET_INQUIRY_DATA", 0x02, 0x019, B, R, "ntddcdrm.h", "SCSI INQUIRY data (allowed under exclusive access)", SDK_CDROM],
  ["IOCTL_CDROM_ENABLE_STREAMING", 0x02, 0x01a, B, R, "ntddcdrm.h", "per-handle streaming mode for raw reads/writes", SDK_CDROM],
  ["IOCTL_CDROM_SEND_OPC_INFORMATION", 0x02, 0x01b, B, RW, "ntddcdrm.h", "run Optimum Power Calibration in advance", SDK_CDROM],
  ["IOCTL_CDROM_GET_PERFORMANCE", 0x02, 0x01c, B, R, "ntddcdrm.h", "MMC GET PERFORMANCE: supported speeds", SDK_CDROM],
  ["IOCTL_CDROM_CHECK_VERIFY", 0x02, 0x200, B, R, "ntddcdrm.h", "media changed? (alias of IOCTL_STORAGE_CHECK_VERIFY)"],
  ["IOCTL_CDROM_MEDIA_REMOVAL", 0x02, 0x201, B, R, "ntddcdrm.h", "simple lock/unlock (alias of IOCTL_STORAGE_MEDIA_REMOVAL)", SDK_CDROM],
  ["IOCTL_CDROM_EJECT_MEDIA", 0x02, 0x202, B, R, "ntddcdrm.h", "eject (alias of IOCTL_STORAGE_EJECT_MEDIA)", SDK_CDROM],
  ["IOCTL_CDROM_LOAD_MEDIA", 0x02, 0x203, B, R, "ntddcdrm.h", "close the tray (alias of IOCTL_STORAGE_LOAD_MEDIA)", SDK_CDROM],
  ["IOCTL_CDROM_RESERVE", 0x02, 0x204, B, R, "ntddcdrm.h", "SCSI reserve (alias of IOCTL_STORAGE_RESERVE)", SDK_CDROM],
  ["IOCTL_CDROM_RELEASE", 0x02, 0x205, B, R, "ntddcdrm.h", "SCSI release (alias of IOCTL_STORAGE_RELEASE)", SDK_CDROM],
  ["IOCTL_CDROM_FIND_NEW_DEVICES", 0x02, 0x206, B, R, "ntddcdrm.h", "rescan (alias of IOCTL_STORAGE_FIND_NEW_DEVICES)"],
  // DVD codes (ntddcdvd.h, IOCTL_DVD_BASE = FILE_DEVICE_DVD): CSS authentication and region.
  ["IOCTL_DVD_START_SESSION", 0x33, 0x400, B, R, "ntddcdvd.h", "start a CSS authentication session (AGID)"],
  ["IOCTL_DVD_READ_KEY", 0x33, 0x401, B, R, "ntddcdvd.h", "MMC REPORT KEY: challenge, bus key, title key, RPC state"],
  ["IOCTL_DVD_SEND_KEY", 0x33, 0x402, B, R, "ntddcdvd.h", "MMC SEND KEY: challenge or bus key"],
  ["IOCTL_DVD_END_SESSION", 0x33, 0x403, B, R, "ntddcdvd.h", "invalidate an authentication session (AGID)"],
  ["IOCTL_DVD_SET_READ_AHEAD", 0x33, 0x404, B, R, "ntddcdvd.h", "MMC SET READ AHEAD"],
  ["IOCTL_DVD_GET_REGION", 0x33, 0x405, B, R, "ntddcdvd.h", "disc and drive region (RPC) information"],
  ["IOCTL_DVD_SEND_KEY2", 0x33, 0x406, B, RW, "ntddcdvd.h", "SEND KEY needing write access (set the drive region)"],
  [
    "IOCTL_DVD_READ_STRUCTURE",
    0x33,
    0x450,
    B,
    R,
    "ntddcdvd.h",
    "MMC READ DISC STRUCTURE: physical, copyright, disc key, BCA, manufacturer",
  ],
  ["IOCTL_STORAGE_SET_READ_AHEAD", 0x2d, 0x100, B, R, "ntddcdvd.h", "read-ahead trigger and target addresses (STORAGE_SET_READ_AHEAD)"],
  // Storage codes this project uses (IOCTL_STORAGE_BASE = FILE_DEVICE_MASS_STORAGE).
  ["IOCTL_STORAGE_CHECK_VERIFY", 0x2d, 0x200, B, R, "ntddstor.h", "media changed since the last check?"],
  ["IOCTL_STORAGE_CHECK_VERIFY2", 0x2d, 0x200, B, ANY, "ntddstor.h", "CHECK_VERIFY for FILE_READ_ATTRIBUTES handles"],
  ["IOCTL_STORAGE_MEDIA_REMOVAL", 0x2d, 0x201, B, R, "ntddstor.h", "simple (media-removal) lock/unlock: PREVENT_MEDIA_REMOVAL, 1 byte"],
  ["IOCTL_STORAGE_EJECT_MEDIA", 0x2d, 0x202, B, R, "ntddstor.h", "eject the media (refused while a secure lock is held)"],
  ["IOCTL_STORAGE_LOAD_MEDIA", 0x2d, 0x203, B, R, "ntddstor.h", "load media / close the tray"],
  ["IOCTL_STORAGE_LOAD_MEDIA2", 0x2d, 0x203, B, ANY, "ntddstor.h", "LOAD_MEDIA for FILE_READ_ATTRIBUTES handles"],
  ["IOCTL_STORAGE_RESERVE", 0x2d, 0x204, B, R, "ntddstor.h", "SCSI reserve"],
  ["IOCTL_STORAGE_RELEASE", 0x2d, 0x205, B, R, "ntddstor.h", "SCSI release"],
  ["IOCTL_STORAGE_FIND_NEW_DEVICES", 0x2d, 0x206, B, R, "ntddstor.h", "rescan for devices"],
  ["IOCTL_STORAGE_EJECTION_CONTROL", 0x2d, 0x250, B, ANY, "ntddstor.h", "secure (ejection-control) lock/unlock, tracked per handle"],
  ["IOCTL_STORAGE_MCN_CONTROL", 0x2d, 0x251, B, ANY, "ntddstor.h", "disable/enable media change notification, per handle"],
  ["IOCTL_STORAGE_GET_MEDIA_TYPES", 0x2d, 0x300, B, ANY, "ntddstor.h", "supported media types"],
  ["IOCTL_STORAGE_GET_MEDIA_TYPES_EX", 0x2d, 0x301, B, ANY, "ntddstor.h", "supported media types (extended)"],
  ["IOCTL_STORAGE_GET_MEDIA_SERIAL_NUMBER", 0x2d, 0x304, B, ANY, "ntddstor.h", "media serial number (MEDIA_SERIAL_NUMBER_DATA)"],
  ["IOCTL_STORAGE_GET_HOTPLUG_INFO", 0x2d, 0x305, B, ANY, "ntddstor.h", "hotplug/removable flags"],
  ["IOCTL_STORAGE_GET_DEVICE_NUMBER", 0x2d, 0x420, B, ANY, "ntddstor.h", "device type and number (CdRomN)"],
  ["IOCTL_STORAGE_GET_DEVICE_NUMBER_EX", 0x2d, 0x421, B, ANY, "ntddstor.h", "device number with the device GUID"],
  ["IOCTL_STORAGE_PREDICT_FAILURE", 0x2d, 0x440, B, ANY, "ntddstor.h", "SMART failure prediction"],
  ["IOCTL_STORAGE_READ_CAPACITY", 0x2d, 0x450, B, R, "ntddstor.h", "block length, number of blocks, disk length"],
  ["IOCTL_STORAGE_QUERY_PROPERTY", 0x2d, 0x500, B, ANY, "ntddstor.h", "device/adapter property descriptors"],
  ["IOCTL_STORAGE_MANAGE_DATA_SET_ATTRIBUTES", 0x2d, 0x501, B, FILE_WRITE_ACCESS, "ntddstor.h", "data set management (trim, ...)"],
  ["IOCTL_STORAGE_EVENT_NOTIFICATION", 0x2d, 0x724, B, ANY, "ntddstor.h", "storage event notification"],
  // Disk-base aliases of the media-removal family (IOCTL_DISK_BASE = FILE_DEVICE_DISK).
  ["IOCTL_DISK_GET_DRIVE_GEOMETRY", 0x07, 0x000, B, ANY, "ntdddisk.h", "media type, cylinders, tracks, sectors, bytes per sector"],
  ["IOCTL_DISK_GET_PARTITION_INFO", 0x07, 0x001, B, R, "ntdddisk.h", "partition of a volume (MBR form)"],
  ["IOCTL_DISK_GET_DRIVE_LAYOUT", 0x07, 0x003, B, R, "ntdddisk.h", "partition table (MBR form)"],
  ["IOCTL_DISK_VERIFY", 0x07, 0x005, B, ANY, "ntdddisk.h", "verify a range of sectors"],
  ["IOCTL_DISK_IS_WRITABLE", 0x07, 0x009, B, ANY, "ntdddisk.h", "write protected? (STATUS_MEDIA_WRITE_PROTECTED)"],
  ["IOCTL_DISK_GET_PARTITION_INFO_EX", 0x07, 0x012, B, ANY, "ntdddisk.h", "partition of a volume (MBR or GPT)"],
  ["IOCTL_DISK_GET_DRIVE_LAYOUT_EX", 0x07, 0x014, B, ANY, "ntdddisk.h", "partition table (MBR or GPT)"],
  ["IOCTL_DISK_GET_LENGTH_INFO", 0x07, 0x017, B, R, "ntdddisk.h", "length of the disk or partition in bytes"],
  ["IOCTL_DISK_GET_DRIVE_GEOMETRY_EX", 0x07, 0x028, B, ANY, "ntdddisk.h", "geometry with disk size and partition/detection info"],
  ["IOCTL_DISK_GET_CACHE_INFORMATION", 0x07, 0x035, B, R, "ntdddisk.h", "read/write cache settings"],
  ["IOCTL_DISK_UPDATE_PROPERTIES", 0x07, 0x050, B, ANY, "ntdddisk.h", "re-read the partition table"],
  ["IOCTL_DISK_GET_MEDIA_TYPES", 0x07, 0x300, B, ANY, "ntdddisk.h", "supported media types (DISK_GEOMETRY array)"],
  ["IOCTL_DISK_CHECK_VERIFY", 0x07, 0x200, B, R, "ntdddisk.h", "alias of IOCTL_STORAGE_CHECK_VERIFY"],
  ["IOCTL_DISK_MEDIA_REMOVAL", 0x07, 0x201, B, R, "ntdddisk.h", "alias of IOCTL_STORAGE_MEDIA_REMOVAL"],
  ["IOCTL_DISK_EJECT_MEDIA", 0x07, 0x202, B, R, "ntdddisk.h", "alias of IOCTL_STORAGE_EJECT_MEDIA"],
  ["IOCTL_DISK_LOAD_MEDIA", 0x07, 0x203, B, R, "ntdddisk.h", "alias of IOCTL_STORAGE_LOAD_MEDIA"],
  ["IOCTL_DISK_RESERVE", 0x07, 0x204, B, R, "ntdddisk.h", "alias of IOCTL_STORAGE_RESERVE"],
  ["IOCTL_DISK_RELEASE", 0x07, 0x205, B, R, "ntdddisk.h", "alias of IOCTL_STORAGE_RELEASE"],
  ["IOCTL_DISK_FIND_NEW_DEVICES", 0x07, 0x206, B, R, "ntdddisk.h", "alias of IOCTL_STORAGE_FIND_NEW_DEVICES"],
  // SCSI pass-through (IOCTL_SCSI_BASE = FILE_DEVICE_CONTROLLER): bypasses every software lock count.
  ["IOCTL_SCSI_PASS_THROUGH", 0x04, 0x401, B, RW, "ntddscsi.h", "send a CDB (SCSI_PASS_THROUGH + buffer)"],
  ["IOCTL_SCSI_MINIPORT", 0x04, 0x402, B, RW, "ntddscsi.h", "miniport-specific request (SRB_IO_CONTROL)"],
  ["IOCTL_SCSI_GET_INQUIRY_DATA", 0x04, 0x403, B, ANY, "ntddscsi.h", "inquiry data of the adapter's devices"],
  ["IOCTL_SCSI_GET_CAPABILITIES", 0x04, 0x404, B, ANY, "ntddscsi.h", "adapter capabilities (IO_SCSI_CAPABILITIES)"],
  ["IOCTL_SCSI_PASS_THROUGH_DIRECT", 0x04, 0x405, B, RW, "ntddscsi.h", "send a CDB with a direct data buffer (SCSI_PASS_THROUGH_DIRECT)"],
  ["IOCTL_SCSI_GET_ADDRESS", 0x04, 0x406, B, ANY, "ntddscsi.h", "port/path/target/LUN of the device"],
  ["IOCTL_SCSI_RESCAN_BUS", 0x04, 0x407, B, ANY, "ntddscsi.h", "rescan the adapter's buses"],
  [
    "IOCTL_SCSI_PASS_THROUGH_EX",
    0x04,
    0x411,
    B,
    RW_,
    "ntddscsi.h",
    "send a CDB of any length with bidirectional data (SCSI_PASS_THROUGH_EX)",
    SDK_SCSI,
  ],
  [
    "IOCTL_SCSI_PASS_THROUGH_DIRECT_EX",
    0x04,
    0x412,
    B,
    RW_,
    "ntddscsi.h",
    "send a CDB of any length with direct data buffers (SCSI_PASS_THROUGH_DIRECT_EX)",
    SDK_SCSI,
  ],
  // Mount manager (mountmgr.h, mountdev.h): the IOCTL_MOUNTDEV_* the mount manager sends to each
  // volume device (a CD-ROM is one) and the IOCTL_MOUNTMGR_* it accepts.
  ["IOCTL_MOUNTDEV_QUERY_UNIQUE_ID", MOUNTDEV, 0, B, ANY, "mountdev.h", "the volume's unique id (MOUNTDEV_UNIQUE_ID)"],
  ["IOCTL_MOUNTDEV_UNIQUE_ID_CHANGE_NOTIFY", MOUNTDEV, 1, B, ANY, "mountdev.h", "pended until the unique id changes"],
  ["IOCTL_MOUNTDEV_QUERY_DEVICE_NAME", MOUNTDEV, 2, B, ANY, "mountmgr.h", "the device's NT name (\\Device\\CdRom0)"],
  ["IOCTL_MOUNTDEV_QUERY_SUGGESTED_LINK_NAME", MOUNTDEV, 3, B, ANY, "mountdev.h", "a suggested drive letter or link"],
  ["IOCTL_MOUNTDEV_LINK_CREATED", MOUNTDEV, 4, B, ANY, "mountdev.h", "a symbolic link (drive letter) was created"],
  ["IOCTL_MOUNTDEV_LINK_DELETED", MOUNTDEV, 5, B, ANY, "mountdev.h", "a symbolic link (drive letter) was deleted"],
  ["IOCTL_MOUNTDEV_QUERY_STABLE_GUID", MOUNTDEV, 6, B, ANY, "mountdev.h", "the volume's stable GUID"],
  ["IOCTL_MOUNTMGR_CREATE_POINT", MOUNTMGR, 0, B, RW_, "mountmgr.h", "create a mount point / drive letter"],
  ["IOCTL_MOUNTMGR_DELETE_POINTS", MOUNTMGR, 1, B, RW_, "mountmgr.h", "delete mount points"],
  ["IOCTL_MOUNTMGR_QUERY_POINTS", MOUNTMGR, 2, B, ANY, "mountmgr.h", "list mount points"],
  ["IOCTL_MOUNTMGR_DELETE_POINTS_DBONLY", MOUNTMGR, 3, B, RW_, "mountmgr.h", "delete mount points from the database only"],
  ["IOCTL_MOUNTMGR_NEXT_DRIVE_LETTER", MOUNTMGR, 4, B, RW_, "mountmgr.h", "assign the next drive letter"],
  ["IOCTL_MOUNTMGR_AUTO_DL_ASSIGNMENTS", MOUNTMGR, 5, B, RW_, "mountmgr.h", "assign drive letters automatically"],
  ["IOCTL_MOUNTMGR_VOLUME_MOUNT_POINT_CREATED", MOUNTMGR, 6, B, RW_, "mountmgr.h", "a volume mount point was created"],
  ["IOCTL_MOUNTMGR_VOLUME_MOUNT_POINT_DELETED", MOUNTMGR, 7, B, RW_, "mountmgr.h", "a volume mount point was deleted"],
  ["IOCTL_MOUNTMGR_CHANGE_NOTIFY", MOUNTMGR, 8, B, R, "mountmgr.h", "pended until the mount point database changes"],
  ["IOCTL_MOUNTMGR_KEEP_LINKS_WHEN_OFFLINE", MOUNTMGR, 9, B, RW_, "mountmgr.h", "keep a volume's links while it is offline"],
  ["IOCTL_MOUNTMGR_CHECK_UNPROCESSED_VOLUMES", MOUNTMGR, 10, B, R, "mountmgr.h", "process volumes that arrived before the manager"],
  ["IOCTL_MOUNTMGR_VOLUME_ARRIVAL_NOTIFICATION", MOUNTMGR, 11, B, R, "mountmgr.h", "a volume arrived"],
  ["IOCTL_MOUNTMGR_QUERY_DOS_VOLUME_PATH", MOUNTMGR, 12, B, ANY, "mountmgr.h", "the DOS path (drive letter) of a volume"],
  ["IOCTL_MOUNTMGR_QUERY_DOS_VOLUME_PATHS", MOUNTMGR, 13, B, ANY, "mountmgr.h", "every DOS path of a volume"],
  ["IOCTL_MOUNTMGR_SCRUB_REGISTRY", MOUNTMGR, 14, B, RW_, "mountmgr.h", "remove stale database entries"],
  ["IOCTL_MOUNTMGR_QUERY_AUTO_MOUNT", MOUNTMGR, 15, B, ANY, "mountmgr.h", "is automount on?"],
  ["IOCTL_MOUNTMGR_SET_AUTO_MOUNT", MOUNTMGR, 16, B, RW_, "mountmgr.h", "turn automount on or off"],
  // Volume codes (ntddvol.h, IOCTL_VOLUME_BASE 'V'), sent to volume devices such as CdRom0.
  ["IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS", VOLUME, 0, B, ANY, "ntddvol.h", "the disk extents of a volume"],
  ["IOCTL_VOLUME_ONLINE", VOLUME, 2, B, RW_, "ntddvol.h", "bring the volume online"],
  ["IOCTL_VOLUME_OFFLINE", VOLUME, 3, B, RW_, "ntddvol.h", "take the volume offline"],
  ["IOCTL_VOLUME_IS_OFFLINE", VOLUME, 4, B, ANY, "ntddvol.h", "is the volume offline?"],
  ["IOCTL_VOLUME_IS_IO_CAPABLE", VOLUME, 5, B, ANY, "ntddvol.h", "can the volume do I/O?"],
  ["IOCTL_VOLUME_QUERY_VOLUME_NUMBER", VOLUME, 7, B, ANY, "ntddvol.h", "volume number and volume manager name"],
  ["IOCTL_VOLUME_IS_CLUSTERED", VOLUME, 12, B, ANY, "ntddvol.h", "is the volume clustered?"],
  ["IOCTL_VOLUME_GET_GPT_ATTRIBUTES", VOLUME, 14, B, ANY, "ntddvol.h", "GPT attributes of the volume"],
  // Volume FSCTLs (winioctl.h, FILE_DEVICE_FILE_SYSTEM) a CD/DVD volume handle sees (cdfs/udfs).
  ["FSCTL_LOCK_VOLUME", 0x09, 6, B, ANY, "winioctl.h", "lock the volume (no other open handle)"],
  ["FSCTL_UNLOCK_VOLUME", 0x09, 7, B, ANY, "winioctl.h", "unlock a volume locked with FSCTL_LOCK_VOLUME"],
  ["FSCTL_DISMOUNT_VOLUME", 0x09, 8, B, ANY, "winioctl.h", "dismount the file system (before an eject)"],
  ["FSCTL_IS_VOLUME_MOUNTED", 0x09, 10, B, ANY, "winioctl.h", "is a file system mounted on the volume?"],
  ["FSCTL_MARK_VOLUME_DIRTY", 0x09, 12, B, ANY, "winioctl.h", "mark the volume dirty (chkdsk at next boot)"],
  ["FSCTL_FILESYSTEM_GET_STATISTICS", 0x09, 24, B, ANY, "winioctl.h", "file system statistics"],
  ["FSCTL_GET_VOLUME_BITMAP", 0x09, 27, METHOD_NEITHER, ANY, "winioctl.h", "allocation bitmap of the volume"],
  ["FSCTL_IS_VOLUME_DIRTY", 0x09, 30, B, ANY, "winioctl.h", "is the volume's dirty bit set?"],
  [
    "FSCTL_ALLOW_EXTENDED_DASD_IO",
    0x09,
    32,
    METHOD_NEITHER,
    ANY,
    "winioctl.h",
    "let DASD I/O on a volume handle go past the file system's end",
  ],
  ["FSCTL_QUERY_ON_DISK_VOLUME_INFO", 0x09, 79, B, ANY, "winioctl.h", "UDF/CDFS on-disk version and label information"],
  // File system controls for write-once media and the USN journal (FILE_DEVICE_FILE_SYSTEM).
  [
    "FSCTL_WRITE_USN_CLOSE_RECORD",
    0x09,
    59,
    METHOD_NEITHER,
    ANY,
    "winioctl.h",
    "force a USN_REASON_CLOSE record; returns the USN (8 bytes)",
  ],
  [
    "FSCTL_MAKE_MEDIA_COMPATIBLE",
    0x09,
    76,
    B,
    FILE_WRITE_ACCESS,
    "winioctl.h",
    "close the UDF session on write-once media (volume handle); FILE_MAKE_COMPATIBLE_BUFFER",
  ],
  [
    "FSCTL_SET_DEFECT_MANAGEMENT",
    0x09,
    77,
    B,
    FILE_WRITE_ACCESS,
    "winioctl.h",
    "software defect management of a UDF file; FILE_SET_DEFECT_MGMT_BUFFER",
  ],
];

function entryFromRow([name, deviceType, fn, method, access, header, description, source]: Row): CatalogEntry {
  const prefixes: Array<[string, CatalogGroup]> = [
    ["FSCTL_", "fsctl"],
    ["IOCTL_CDROM_", "cdrom"],
    ["IOCTL_DVD_", "dvd"],
    ["IOCTL_DISK_", "disk"],
    ["IOCTL_SCSI_", "scsi"],
    ["IOCTL_MOUNTDEV_", "mountdev"],
    ["IOCTL_MOUNTMGR_", "mountmgr"],
    ["IOCTL_VOLUME_", "volume"],
  ];
  const group: CatalogGroup = prefixes.find(([p]) => name.startsWith(p))?.[1] ?? "storage";
  const e: CatalogEntry = {
    name,
    code: ctlCode(deviceType, fn, method, access),
    deviceType,
    function: fn,
    method,
    access,
    group,
    header,
    description,
  };
  if (source !== undefined) e.source = source;
  return e;
}

function controlEntries(): CatalogEntry[] {
  return Object.values(ControlIoctls).map((c) => {
    const code = c.code >>> 0;
    return {
      name: c.name,
      code,
      deviceType: code >>> 16,
      function: (code >>> 2) & 0xfff,
      method: code & 3,
      access: (code >>> 14) & 3,
      group: "cdfilter" as const,
      header: "driver/core/gen/cdfilter_ioctl.h",
      source: "proto/cdfilter/control.proto (this project's control protocol)",
      description: `cdfilter control: ${c.request.typeName} -> ${c.reply.typeName}`,
    };
  });
}

/** Every named code: the CD-ROM, DVD, storage, disk, SCSI, mount manager and volume codes, the FSCTLs, our control IOCTLs. */
export const IOCTL_CATALOG: readonly CatalogEntry[] = [...ROWS.map(entryFromRow), ...controlEntries()];

/** Names documented without a code of their own. */
export const IOCTL_ALIASES: readonly CatalogAlias[] = [
  {
    name: "IOCTL_CDROM_CLOSE_DOOR",
    replacedBy: "IOCTL_STORAGE_LOAD_MEDIA",
    description:
      "listed on Microsoft's CD-ROM I/O control codes page as replaced by IOCTL_STORAGE_LOAD_MEDIA; no SDK or mingw-w64 header defines a value",
  },
];

const byName = new Map<string, CatalogEntry>();
const byCode = new Map<number, CatalogEntry[]>();
for (const e of IOCTL_CATALOG) {
  if (byName.has(e.name)) throw new Error(`catalog: duplicate name ${e.name}`);
  byName.set(e.name, e);
  const list = byCode.get(e.code) ?? [];
  list.push(e);
  byCode.set(e.code, list);
}

/** Device type name: "FILE_DEVICE_CD_ROM", "custom 0x8CDF", or "unknown 0x0070". */
export function deviceTypeName(deviceType: number): string {
  const known = DEVICE_TYPES.get(deviceType);
  if (known) return known;
  const h = `0x${deviceType.toString(16).toUpperCase().padStart(4, "0")}`;
  return deviceType >= 0x8000 ? `custom ${h}` : `unknown ${h}`;
}

/** Split any 32-bit value into its CTL_CODE fields and name it if the catalog knows it. */
export function decodeIoctl(code: number): DecodedIoctl {
  if (!Number.isInteger(code) || code < -0x80000000 || code > 0xffffffff) {
    throw new RangeError(`not a 32-bit control code: ${code}`);
  }
  const c = code >>> 0;
  const deviceType = c >>> 16;
  const fn = (c >>> 2) & 0xfff;
  const method = c & 3;
  const access = (c >>> 14) & 3;
  const entries = byCode.get(c) ?? [];
  return {
    code: c,
    hex: hex32(c),
    deviceType,
    deviceTypeName: deviceTypeName(deviceType),
    customDeviceType: deviceType >= 0x8000,
    function: fn,
    customFunction: fn >= 0x800,
    method,
    methodName: METHOD_NAMES[method] as TransferMethod,
    access,
    accessName: ACCESS_NAMES[access] as RequiredAccess,
    entry: entries[0],
    aliases: entries.slice(1).map((e) => e.name),
  };
}

/** The catalog name of a code, or undefined. */
export function ioctlName(code: number): string | undefined {
  return byCode.get(code >>> 0)?.[0]?.name;
}

/**
 * Parse "0x2D4808", "2967560", "IOCTL_STORAGE_EJECT_MEDIA" (case-insensitive; the IOCTL_/FSCTL_
 * prefix may be left out: "storage_eject_media") or an alias such as "IOCTL_CDROM_CLOSE_DOOR".
 * Throws RangeError naming the text when it is neither a 32-bit number nor a known name.
 */
export function parseIoctl(text: string): number {
  const t = text.trim();
  if (/^0x[0-9a-f]{1,8}$/i.test(t)) return Number.parseInt(t.slice(2), 16) >>> 0;
  if (/^[0-9]{1,10}$/.test(t)) {
    const v = Number(t);
    if (v <= 0xffffffff) return v;
  }
  const e = lookupIoctl(t);
  if (e) return e.code;
  throw new RangeError(`unknown control code "${text}": give a number (0x2D4808 or 2967560) or a name such as IOCTL_STORAGE_EJECT_MEDIA`);
}

/** Look a code up by name (see parseIoctl for the accepted spellings). */
export function lookupIoctl(name: string): CatalogEntry | undefined {
  const n = name.trim().toUpperCase();
  for (const candidate of [n, `IOCTL_${n}`, `FSCTL_${n}`]) {
    const e = byName.get(candidate);
    if (e) return e;
    const alias = IOCTL_ALIASES.find((a) => a.name === candidate);
    if (alias) return byName.get(alias.replacedBy);
  }
  return undefined;
}

/**
 * cdrom.sys NormalizeIoctl (cdrom.sys sample, storage/class/cdrom/src, NormalizeIoctl): a CDROM, DISK or DVD base code with function
 * 0x200..0x300 is handled as the IOCTL_STORAGE_BASE code with the same function, method and
 * access (IOCTL_CDROM_MEDIA_REMOVAL behaves as IOCTL_STORAGE_MEDIA_REMOVAL). Other codes are
 * returned unchanged.
 */
export function normalizeIoctl(code: number): number {
  const c = code >>> 0;
  const deviceType = c >>> 16;
  const fn = (c >>> 2) & 0xfff;
  if ((deviceType === 0x02 || deviceType === 0x07 || deviceType === 0x33) && fn >= 0x200 && fn <= 0x300) {
    return ((c & 0xffff) | (0x2d << 16)) >>> 0;
  }
  return c;
}

/** One line: "IOCTL_STORAGE_EJECT_MEDIA 0x002D4808 = FILE_DEVICE_MASS_STORAGE fn 0x202 METHOD_BUFFERED FILE_READ_ACCESS". */
export function describeIoctl(code: number): string {
  const d = decodeIoctl(code);
  const fn = `fn 0x${d.function.toString(16).toUpperCase().padStart(3, "0")}${d.customFunction ? " (custom)" : ""}`;
  return `${d.entry?.name ?? "(unnamed)"} ${d.hex} = ${d.deviceTypeName} ${fn} ${d.methodName} ${d.accessName}`;
}
