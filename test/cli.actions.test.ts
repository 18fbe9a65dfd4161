// The access `cdfilter lock/unlock/eject` open a drive with: the least each request's CTL_CODE
// access needs, checked against the embedded simulator (which applies the I/O manager's access
// check: a FILE_READ_ACCESS IOCTL on an attributes-only handle fails with STATUS_ACCESS_DENIED).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterClient } from "../src/client/index.ts";
import { actionAccess, driveArg } from "../src/cli/commands/actions.ts";
import { CliError } from "../src/cli/errors.ts";

let client: FilterClient;
beforeAll(async () => {
  client = await FilterClient.connect({ transport: "simulator", simulator: { drives: 1 } });
});
afterAll(async () => {
  await client?.close();
});

describe("drive access of the QA actions", () => {
  it("secure lock/unlock: FILE_READ_ATTRIBUTES only; --media and eject: read; --passthrough: read+write", () => {
    expect(actionAccess("lock", {})).toBe("attributes");
    expect(actionAccess("unlock", {})).toBe("attributes");
    expect(actionAccess("lock", { media: true })).toBe("read");
    expect(actionAccess("unlock", { media: true })).toBe("read");
    expect(actionAccess("eject", {})).toBe("read");
    expect(actionAccess("eject", { passthrough: true })).toBe(0xc000_0080); // GENERIC_READ | GENERIC_WRITE | FILE_READ_ATTRIBUTES
  });

  it("each access is enough for its request, and the secure lock's is not enough for the others", async () => {
    const open = async (verb: "lock" | "unlock" | "eject", o: { media?: boolean; passthrough?: boolean }) =>
      client.openDrive(1, { pid: 900, image: "qa.exe", access: actionAccess(verb, o) });
    const secure = await open("lock", {});
    expect((await secure.lock()).statusName).toBe("STATUS_SUCCESS");
    expect((await secure.unlock()).statusName).toBe("STATUS_SUCCESS");
    // MEDIA_REMOVAL and EJECT_MEDIA are FILE_READ_ACCESS: refused on this handle.
    expect((await secure.mediaRemoval(true)).statusName).toBe("STATUS_ACCESS_DENIED");
    expect((await secure.eject()).statusName).toBe("STATUS_ACCESS_DENIED");
    await secure.close();

    const media = await open("lock", { media: true });
    expect((await media.mediaRemoval(true)).statusName).toBe("STATUS_SUCCESS");
    expect((await media.mediaRemoval(false)).statusName).toBe("STATUS_SUCCESS");
    await media.close();

    const eject = await open("eject", {});
    expect((await eject.eject()).statusName).toBe("STATUS_SUCCESS");
    expect((await eject.passThrough(Uint8Array.of(0x1b, 0, 0, 0, 0x02, 0))).statusName).toBe("STATUS_ACCESS_DENIED");
    await eject.close();

    const spt = await open("eject", { passthrough: true });
    expect((await spt.passThrough(Uint8Array.of(0x1b, 0, 0, 0, 0x02, 0))).statusName).toBe("STATUS_SUCCESS");
    await spt.close();
  });

  it("--drive: ids and names pass, malformed values are usage errors (exit 2) before any transport", () => {
    expect(driveArg("1")).toBe(1);
    expect(driveArg(" CdRom0 ")).toBe("CdRom0");
    expect(driveArg("D:")).toBe("D:");
    for (const bad of ["0", "-1", "1.5", "", "99999999999"]) {
      let err: unknown;
      try {
        driveArg(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(2);
      expect((err as CliError).hint).toBeTruthy();
    }
  });
});
