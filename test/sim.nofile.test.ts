// Requests without a file object (a kernel component's IoBuildDeviceIoControlRequest): the
// secure (ejection-control) lock needs a caller identity, so the filter fails it as cdrom.sys
// does (STATUS_INVALID_HANDLE, not forwarded); simple locks do not, and go through.
// Sources: cdrom.sys sample, storage/class/cdrom/src ("A secure request with no file object fails"), docs/core.md (ledger).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TraceBatch, TraceReadRequest, Decision, Reason } from "../src/client/gen/cdfilter.ts";
import { ControlIoctls } from "../src/client/gen/cdfilter_ioctl.ts";
import { IOCTL, ST } from "./support/model/ledger-model.ts";
import { Rig, hex } from "./support/model/rig.ts";

describe("requests without a file object", () => {
  let r: Rig;
  beforeEach(() => {
    r = new Rig(1);
  });
  afterEach(() => r.destroy());

  const lastCompletion = () => {
    const req = TraceReadRequest.encode(TraceReadRequest.create({ afterSeq: 0n }));
    const out = r.lib.ioctl(r.sim, r.control, ControlIoctls.readTrace.code, req, 65536);
    expect(hex(out.status)).toBe(hex(ST.SUCCESS));
    const recs = TraceBatch.decode(out.output).records;
    return recs[recs.length - 1];
  };

  it("EJECTION_CONTROL lock fails with STATUS_INVALID_HANDLE, is not forwarded, ledger unchanged", () => {
    r.lib.failNext(r.sim, 1, ST.IO_DEVICE_ERROR); // consumed only if the request reaches the drive
    const res = r.lib.ioctlNoFile(r.sim, 1, 4, IOCTL.STORAGE_EJECTION_CONTROL, new Uint8Array([1]), 0);
    expect(hex(res.status)).toBe(hex(ST.INVALID_HANDLE));
    expect(r.ledger(1).secureTotal).toBe(0);
    expect(r.lower(1)).toMatchObject({ secureTotal: 0, hwPrevent: false });
    const rec = lastCompletion();
    expect(rec?.decision).toBe(Decision.DECISION_REJECT);
    expect(rec?.reason).toBe(Reason.REASON_NO_FILE_OBJECT);
    expect(rec?.handleId).toBe(0n);
    // The pending fault is still there: the filter did not forward the request.
    const h = r.open(1, 100, "reader.exe");
    expect(hex(r.read(h))).toBe(hex(ST.IO_DEVICE_ERROR));
  });

  it("EJECTION_CONTROL unlock without a file object fails the same way", () => {
    const res = r.lib.ioctlNoFile(r.sim, 1, 4, IOCTL.STORAGE_EJECTION_CONTROL, new Uint8Array([0]), 0);
    expect(hex(res.status)).toBe(hex(ST.INVALID_HANDLE));
  });

  it("a short EJECTION_CONTROL input is checked first: STATUS_INFO_LENGTH_MISMATCH", () => {
    const res = r.lib.ioctlNoFile(r.sim, 1, 4, IOCTL.STORAGE_EJECTION_CONTROL, null, 0);
    expect(hex(res.status)).toBe(hex(ST.INFO_LENGTH_MISMATCH));
  });

  it("MEDIA_REMOVAL (simple lock) without a file object reaches the drive and counts", () => {
    const res = r.lib.ioctlNoFile(r.sim, 1, 4, IOCTL.STORAGE_MEDIA_REMOVAL, new Uint8Array([1]), 0);
    expect(hex(res.status)).toBe(hex(ST.SUCCESS));
    expect(r.ledger(1).simpleTotal).toBe(1);
    expect(r.lower(1)).toMatchObject({ simpleTotal: 1, hwPrevent: true });
  });

  it("an unknown drive is STATUS_OBJECT_NAME_NOT_FOUND", () => {
    const res = r.lib.ioctlNoFile(r.sim, 7, 4, IOCTL.STORAGE_MEDIA_REMOVAL, new Uint8Array([1]), 0);
    expect(hex(res.status)).toBe(hex(0xc0000034));
  });
});
