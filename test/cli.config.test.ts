// `config set` options to TraceConfig (src/cli/commands/config.ts): lists, "all", bounds, errors.
import { describe, expect, it } from "vitest";
import { configFromOptions } from "../src/cli/commands/config.ts";
import { CliError, ExitCode } from "../src/cli/errors.ts";

describe("config set options", () => {
  it("parses lists and names, leaves absent fields out, and 'all' clears a list", () => {
    expect(
      configFromOptions({ major: ["READ,DEVICE_CONTROL"], ioctl: ["IOCTL_STORAGE_EJECT_MEDIA", "0x4D004"], drive: ["1", "2"] }, 256),
    ).toEqual({
      majors: [3, 14],
      ioctlCodes: [0x2d4808, 0x4d004],
      driveIds: [1, 2],
    });
    expect(configFromOptions({ major: ["all"], outputCaptureBytes: "96", captureBytes: "0" }, 256)).toEqual({
      majors: [],
      outputCaptureBytes: 96,
      captureBytes: 0,
    });
    expect(configFromOptions({}, 256)).toEqual({});
  });

  it.each([
    [{ major: ["all,READ"] }, /"all" stands alone/],
    [{ major: ["SIDEWAYS"] }, /unknown IRP major function/],
    [{ ioctl: ["IOCTL_NOPE"] }, /unknown control code/],
    [{ drive: ["17"] }, /--drive must be an integer from 1 to 16/],
    [{ captureBytes: "257" }, /--capture-bytes must be an integer from 0 to 256/],
    [{ outputCaptureBytes: "-1" }, /--output-capture-bytes must be an integer from 0 to 256/],
    [{ ioctl: Array.from({ length: 33 }, (_, i) => String(i + 1)) }, /at most 32 IOCTL codes/],
  ])("%j is a usage error", (opts, message) => {
    let err: unknown;
    try {
      configFromOptions(opts, 256);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(ExitCode.USAGE);
    expect((err as CliError).message).toMatch(message);
  });
});
