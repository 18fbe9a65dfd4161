// IOCTL catalog: CTL_CODE field decoding of known codes, custom device types and functions,
// lookup by name and number, NormalizeIoctl.
import { describe, expect, it } from "vitest";
import {
  IOCTL_CATALOG,
  ctlCode,
  decodeIoctl,
  describeIoctl,
  ioctlName,
  lookupIoctl,
  normalizeIoctl,
  parseIoctl,
} from "../src/client/catalog.ts";
import { ControlIoctls, IOCTL_DEVICE_TYPE } from "../src/client/gen/cdfilter_ioctl.ts";

describe("decodeIoctl", () => {
  it.each([
    // cdrom.sys sample, storage/class/cdrom/src codes
    [0x2d0940, "IOCTL_STORAGE_EJECTION_CONTROL", "FILE_DEVICE_MASS_STORAGE", 0x250, "METHOD_BUFFERED", "FILE_ANY_ACCESS"],
    [0x2d4804, "IOCTL_STORAGE_MEDIA_REMOVAL", "FILE_DEVICE_MASS_STORAGE", 0x201, "METHOD_BUFFERED", "FILE_READ_ACCESS"],
    [0x2d4808, "IOCTL_STORAGE_EJECT_MEDIA", "FILE_DEVICE_MASS_STORAGE", 0x202, "METHOD_BUFFERED", "FILE_READ_ACCESS"],
    [0x2d0944, "IOCTL_STORAGE_MCN_CONTROL", "FILE_DEVICE_MASS_STORAGE", 0x251, "METHOD_BUFFERED", "FILE_ANY_ACCESS"],
    [0x2403e, "IOCTL_CDROM_RAW_READ", "FILE_DEVICE_CD_ROM", 0x00f, "METHOD_OUT_DIRECT", "FILE_READ_ACCESS"],
    [0x2c05c, "IOCTL_CDROM_EXCLUSIVE_ACCESS", "FILE_DEVICE_CD_ROM", 0x017, "METHOD_BUFFERED", "FILE_READ_ACCESS|FILE_WRITE_ACCESS"],
    [0x4d004, "IOCTL_SCSI_PASS_THROUGH", "FILE_DEVICE_CONTROLLER", 0x401, "METHOD_BUFFERED", "FILE_READ_ACCESS|FILE_WRITE_ACCESS"],
    [0x4d014, "IOCTL_SCSI_PASS_THROUGH_DIRECT", "FILE_DEVICE_CONTROLLER", 0x405, "METHOD_BUFFERED", "FILE_READ_ACCESS|FILE_WRITE_ACCESS"],
    [0x900ef, "FSCTL_WRITE_USN_CLOSE_RECORD", "FILE_DEVICE_FILE_SYSTEM", 59, "METHOD_NEITHER", "FILE_ANY_ACCESS"],
    [0x98130, "FSCTL_MAKE_MEDIA_COMPATIBLE", "FILE_DEVICE_FILE_SYSTEM", 76, "METHOD_BUFFERED", "FILE_WRITE_ACCESS"],
    [0x98134, "FSCTL_SET_DEFECT_MANAGEMENT", "FILE_DEVICE_FILE_SYSTEM", 77, "METHOD_BUFFERED", "FILE_WRITE_ACCESS"],
  ] as const)("0x%s is %s", (code, name, dev, fn, method, access) => {
    const d = decodeIoctl(code);
    expect(d.entry?.name).toBe(name);
    expect(d.deviceTypeName).toBe(dev);
    expect(d.function).toBe(fn);
    expect(d.methodName).toBe(method);
    expect(d.accessName).toBe(access);
    expect(d.customDeviceType).toBe(false);
    expect(d.customFunction).toBe(false);
    expect(ctlCode(d.deviceType, d.function, d.method, d.access)).toBe(code);
    expect(ioctlName(code)).toBe(name);
  });

  it("custom device types and functions are shown as such", () => {
    const d = decodeIoctl(ctlCode(0x9abc, 0x923, 1, 2));
    expect(d.deviceType).toBe(0x9abc);
    expect(d.deviceTypeName).toBe("custom 0x9ABC");
    expect(d.customDeviceType).toBe(true);
    expect(d.function).toBe(0x923);
    expect(d.customFunction).toBe(true);
    expect(d.methodName).toBe("METHOD_IN_DIRECT");
    expect(d.accessName).toBe("FILE_WRITE_ACCESS");
    expect(d.entry).toBeUndefined();
    expect(describeIoctl(d.code)).toBe("(unnamed) 0x9ABCA48D = custom 0x9ABC fn 0x923 (custom) METHOD_IN_DIRECT FILE_WRITE_ACCESS");
    expect(decodeIoctl(0x00700000).deviceTypeName).toBe("unknown 0x0070");
    expect(decodeIoctl(0xffffffff).hex).toBe("0xFFFFFFFF");
    expect(decodeIoctl(-1).code).toBe(0xffffffff);
    expect(() => decodeIoctl(2 ** 32)).toThrow(RangeError);
    expect(() => decodeIoctl(1.5)).toThrow(RangeError);
    expect(() => ctlCode(0x10000, 0, 0, 0)).toThrow(RangeError);
  });

  it("names our own control IOCTLs (custom device type 0x8CDF, METHOD_BUFFERED)", () => {
    for (const spec of Object.values(ControlIoctls)) {
      const d = decodeIoctl(spec.code);
      expect(d.entry?.name).toBe(spec.name);
      expect(d.entry?.group).toBe("cdfilter");
      expect(d.deviceType).toBe(IOCTL_DEVICE_TYPE);
      expect(d.customDeviceType).toBe(true);
      expect(d.customFunction).toBe(true);
      expect(d.function).toBe(spec.function);
      expect(d.method).toBe(spec.method);
      expect(d.access).toBe(spec.access);
    }
    expect(lookupIoctl("IOCTL_CDFILTER_WAIT_TRACE")?.code).toBe(ControlIoctls.waitTrace.code);
  });

  it("every catalog code is unique per name and decodes back to its fields", () => {
    const names = new Set<string>();
    for (const e of IOCTL_CATALOG) {
      expect(names.has(e.name)).toBe(false);
      names.add(e.name);
      const d = decodeIoctl(e.code);
      expect([d.deviceType, d.function, d.method, d.access]).toEqual([e.deviceType, e.function, e.method, e.access]);
    }
  });
});

describe("lookup and parse", () => {
  it("accepts names with or without prefix, any case, numbers, and aliases", () => {
    expect(lookupIoctl("ioctl_storage_eject_media")?.code).toBe(0x2d4808);
    expect(lookupIoctl("STORAGE_EJECT_MEDIA")?.code).toBe(0x2d4808);
    expect(lookupIoctl("write_usn_close_record")?.code).toBe(0x900ef);
    expect(lookupIoctl("IOCTL_CDROM_CLOSE_DOOR")?.name).toBe("IOCTL_STORAGE_LOAD_MEDIA");
    expect(lookupIoctl("IOCTL_NOPE")).toBeUndefined();
    expect(parseIoctl("0x2D4808")).toBe(0x2d4808);
    expect(parseIoctl("2967560")).toBe(0x2d4808);
    expect(parseIoctl(" IOCTL_STORAGE_EJECTION_CONTROL ")).toBe(0x2d0940);
    expect(() => parseIoctl("0x123456789")).toThrow(/unknown control code/);
    expect(() => parseIoctl("eject please")).toThrow(/unknown control code "eject please"/);
  });

  it("normalizes CDROM/DISK aliases with functions 0x200-0x300 to the storage base", () => {
    expect(normalizeIoctl(lookupIoctl("IOCTL_CDROM_MEDIA_REMOVAL")!.code)).toBe(0x2d4804);
    expect(normalizeIoctl(lookupIoctl("IOCTL_DISK_EJECT_MEDIA")!.code)).toBe(0x2d4808);
    expect(normalizeIoctl(lookupIoctl("IOCTL_CDROM_READ_TOC")!.code)).toBe(0x24000);
    expect(normalizeIoctl(0x2d0940)).toBe(0x2d0940);
  });
});
