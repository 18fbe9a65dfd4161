// A control handle whose ReadTrace/WaitTrace replies are scripted, for TraceStream tests: each
// call gets reply(request, call number); WaitTrace without a scripted reply blocks until the
// handle is cancelled or closed (then STATUS_CANCELLED), as the driver's pending WaitTrace does.
import { ControlIoctls } from "../../src/client/gen/cdfilter_ioctl.ts";
import { TraceBatch, TraceReadRequest, TraceRecord } from "../../src/client/gen/cdfilter.ts";
import { NTSTATUS } from "../../src/client/ntstatus.ts";
import type { DeviceHandle, IoResult } from "../../src/client/transport.ts";

export type ScriptedReply = Partial<TraceBatch> | "block";

export class FakeTraceHandle implements DeviceHandle {
  readonly path = "fake:control";
  calls = 0;
  closed = false;
  private blocked: ((r: IoResult) => void)[] = [];

  constructor(private readonly reply: (req: TraceReadRequest, call: number, wait: boolean) => ScriptedReply) {}

  async ioctl(code: number, input: Uint8Array): Promise<IoResult> {
    const wait = code === ControlIoctls.waitTrace.code;
    if (!wait && code !== ControlIoctls.readTrace.code) throw new Error(`fake handle: unexpected ioctl 0x${code.toString(16)}`);
    const req = TraceReadRequest.decode(input);
    const r = this.reply(req, ++this.calls, wait);
    if (r === "block") return new Promise((resolve) => this.blocked.push(resolve));
    const output = TraceBatch.encode(TraceBatch.create(r));
    return { status: 0, win32Error: 0, statusExact: true, returned: output.length, output };
  }

  async read(): Promise<IoResult> {
    throw new Error("fake handle: read");
  }

  cancel(): void {
    const cancelled: IoResult = {
      status: NTSTATUS.STATUS_CANCELLED,
      win32Error: 995,
      statusExact: true,
      returned: 0,
      output: new Uint8Array(),
    };
    for (const b of this.blocked.splice(0)) b(cancelled);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancel();
  }
}

/** A record with just the fields the stream looks at. */
export function fakeRecord(seq: bigint): TraceRecord {
  return TraceRecord.create({ seq });
}
