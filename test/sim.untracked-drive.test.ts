// More drives than the filter core holds, on the simulated stack (cdfsim_create_ex: the core
// holds 2 of 3 drives, as the KMDF filter's core holds 16 whatever the machine has). The third
// drive is filtered but untracked: it works, its I/O is not traced, and the control plane says
// so (DRIVE_NOT_TRACKED record, DrivesReply.untracked, `drives` rendering).
import { createColors } from "picocolors";
import { afterEach, describe, expect, it } from "vitest";
import { FilterClient, Reason, RecordKind, type TraceRecord } from "../src/client/index.ts";
import { drivesJson, drivesLines } from "../src/cli/commands/status.ts";
import { HumanFormatter } from "../src/cli/records.ts";

const clients: FilterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function records(c: FilterClient): Promise<TraceRecord[]> {
  const out: TraceRecord[] = [];
  for await (const ev of c.trace({ from: 0n, follow: false })) if (ev.type === "record") out.push(ev.record);
  return out;
}

describe("a drive the core could not register (simulator)", () => {
  it("is listed as present but not tracked, announced in the trace, and passes its I/O untraced", async () => {
    const c = await FilterClient.connect({ transport: "simulator", simulator: { drives: 3, coreDrives: 2 } });
    clients.push(c);

    const reply = await c.drivesReply();
    expect(reply.drives.map((d) => d.name)).toEqual(["CdRom0", "CdRom1"]);
    expect(reply.untracked.map((u) => u.name)).toEqual(["CdRom2"]);
    expect(reply.untracked[0]!.since).toBeGreaterThan(0n);
    expect(reply.untrackedPresent).toBe(1);
    expect(reply.untrackedTotal).toBe(1n);
    expect(await c.drives()).toHaveLength(2);

    const announced = (await records(c)).filter((r) => r.kind === RecordKind.RECORD_KIND_DRIVE_NOT_TRACKED);
    expect(announced).toHaveLength(1);
    expect(announced[0]).toMatchObject({ driveName: "CdRom2", driveId: 0, reason: Reason.REASON_DRIVE_NOT_TRACKED });
    const c0 = createColors(false);
    expect(new HumanFormatter(c0).format({ type: "record", record: announced[0]! })).toMatch(/drive CdRom2 not tracked/);

    // the untracked drive works (the simulated cdrom.sys answers), and none of it is traced
    const d = await c.openDrive("CdRom2", { pid: 700, image: "burner.exe", access: 0x3 });
    expect((await d.lock()).ok).toBe(true);
    expect((await d.eject()).ok).toBe(false); // cdrom.sys refuses under its own secure lock
    expect((await d.unlock()).ok).toBe(true);
    await d.close();
    expect((await records(c)).filter((r) => r.pid === 700)).toHaveLength(0);

    const text = drivesLines(reply, { c: c0 }).join("\n");
    expect(text).toMatch(/CdRom2.*NOT TRACKED/);
    expect(text).toMatch(/1 drive\(s\) present but not tracked/);
    expect(drivesJson(reply)).toContainEqual(expect.objectContaining({ name: "CdRom2", tracked: false }));
  });

  it("refuses a core smaller than one drive or larger than the stack", async () => {
    await expect(FilterClient.connect({ transport: "simulator", simulator: { drives: 2, coreDrives: 3 } })).rejects.toThrow(
      /coreDrives must be 1\.\.drives/,
    );
    await expect(FilterClient.connect({ transport: "simulator", simulator: { drives: 2, coreDrives: 0 } })).rejects.toThrow(
      /coreDrives must be 1\.\.drives/,
    );
  });
});
