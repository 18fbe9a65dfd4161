/**
 * The shipper's bounded on-disk spool: messages that could not be published wait here, one file
 * each, and are resent oldest first once NATS answers again. The bound is in bytes; a message
 * that does not fit is refused (the shipper turns it into an in-band drop notice).
 *
 * File: `<12-digit counter>.msg` = u32le length of a JSON header `{subject, msgId, headers}`,
 * that header, then the body. Written to a `.tmp` name and renamed, so a crash leaves either the
 * whole message or none. A file that cannot be parsed is moved aside as `.bad` (and counted).
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Envelope } from "./envelope.ts";

export class Spool {
  private readonly entries: { name: string; bytes: number }[] = [];
  private next = 0;
  private usedBytes = 0;
  /** Files that could not be read back (renamed `.bad`). */
  corrupt = 0;

  /**
   * @param dir spool directory (created)
   * @param maxBytes bound on the bytes of spooled messages; 0 refuses everything
   * @param reserveBytes extra room only for drop notices (they must never be lost)
   */
  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    readonly reserveBytes = 64 * 1024,
  ) {
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir)
      .filter((n) => /^\d{12}\.msg$/.test(n))
      .sort();
    for (const name of names) {
      const bytes = statSync(join(dir, name)).size;
      this.entries.push({ name, bytes });
      this.usedBytes += bytes;
    }
    const last = names[names.length - 1];
    this.next = last ? Number(last.slice(0, 12)) + 1 : 0;
  }

  get count(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.usedBytes;
  }

  /** Add a message; false when it does not fit in the bound (nothing written). */
  put(env: Envelope, opts: { reserve?: boolean } = {}): boolean {
    const head = new TextEncoder().encode(JSON.stringify({ subject: env.subject, msgId: env.msgId, headers: env.headers }));
    const size = 4 + head.length + env.body.length;
    const limit = this.maxBytes + (opts.reserve ? this.reserveBytes : 0);
    if (this.usedBytes + size > limit) return false;
    const buf = new Uint8Array(size);
    new DataView(buf.buffer).setUint32(0, head.length, true);
    buf.set(head, 4);
    buf.set(env.body, 4 + head.length);
    const name = `${String(this.next++).padStart(12, "0")}.msg`;
    const tmp = join(this.dir, `${name}.tmp`);
    writeFileSync(tmp, buf);
    renameSync(tmp, join(this.dir, name));
    this.entries.push({ name, bytes: size });
    this.usedBytes += size;
    return true;
  }

  /** The oldest message (without removing it), or undefined when empty. */
  peek(): { name: string; env: Envelope } | undefined {
    while (this.entries.length > 0) {
      const e = this.entries[0]!;
      try {
        const buf = readFileSync(join(this.dir, e.name));
        const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        const n = dv.getUint32(0, true);
        const head = JSON.parse(new TextDecoder().decode(buf.subarray(4, 4 + n))) as {
          subject: string;
          msgId: string;
          headers: Record<string, string>;
        };
        return { name: e.name, env: { ...head, body: new Uint8Array(buf.subarray(4 + n)) } };
      } catch {
        this.corrupt++;
        try {
          renameSync(join(this.dir, e.name), join(this.dir, `${e.name}.bad`));
        } catch {
          // already gone
        }
        this.entries.shift();
        this.usedBytes -= e.bytes;
      }
    }
    return undefined;
  }

  /** The first `n` messages (oldest first), for a pipelined resend. */
  peekMany(n: number): { name: string; env: Envelope }[] {
    const out: { name: string; env: Envelope }[] = [];
    for (let i = 0; i < Math.min(n, this.entries.length); i++) {
      const e = this.entries[i]!;
      try {
        const buf = readFileSync(join(this.dir, e.name));
        const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        const len = dv.getUint32(0, true);
        const head = JSON.parse(new TextDecoder().decode(buf.subarray(4, 4 + len))) as {
          subject: string;
          msgId: string;
          headers: Record<string, string>;
        };
        out.push({ name: e.name, env: { ...head, body: new Uint8Array(buf.subarray(4 + len)) } });
      } catch {
        if (i === 0) {
          const first = this.peek();
          if (first) out.push(first);
        }
        break;
      }
    }
    return out;
  }

  /** Forget a message that was acknowledged. */
  remove(name: string): void {
    const i = this.entries.findIndex((e) => e.name === name);
    if (i < 0) return;
    const [e] = this.entries.splice(i, 1);
    this.usedBytes -= e!.bytes;
    try {
      unlinkSync(join(this.dir, name));
    } catch {
      // removed by someone else: nothing left to do
    }
  }
}
