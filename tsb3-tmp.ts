import protobuf from "protobufjs";
import { readFileSync } from "node:fs";
import * as cdf from "./src/client/gen/cdfilter.ts";
const IM = ["wmplayer.exe","explorer.exe","C:\\Program Files\\Windows Media Player\\wmplayer.exe","System"];
const recs: cdf.TraceRecord[] = [];
for (let i = 0; i < 256; i++) recs.push(cdf.TraceRecord.create({ seq: 0n, kind: 1 + (i & 1), requestId: 0n, timestamp: 0n, driveId: 1, handleId: 0n, pid: 4000 + i % 5, tid: 8000 + i, requestorPid: 4000, openerPid: 4000, openerImage: IM[i % 4]!, major: 14, ioctlCode: 0x2d4804, normalizedCode: 0x2d4804, inputLength: 64, inputHead: new Uint8Array(64).fill(i & 255), status: (i & 1) ? 0xc0000010 : 0, information: 0n, duration: 0n, decision: 2, reason: 1, secureTotal: 2 }));
const batch = cdf.TraceBatch.create({ records: recs, dropped: 0n, nextCursor: 5000000256n, oldestSeq: 1n, newestSeq: 5000000255n });
const bytes = cdf.TraceBatch.encode(batch);
const root = new protobuf.Root();
for (const f of ["trace", "control"]) { const src = readFileSync(`proto/cdfilter/${f}.proto`, "utf8").replace(/import "[^"]*";/g, "").replace(/\[\(cdfilter[^\]]*\]/g, "").replace(/option \(cdfilter[^;]*;/g, ""); protobuf.parse(src, root, { keepCase: true }); }
root.resolveAll();
const T = root.lookupType("cdfilter.TraceBatch");
function once(f: () => unknown, n: number) { const t0 = performance.now(); for (let i = 0; i < n; i++) f(); return (performance.now() - t0) * 1000 / n; }
const best = { ours: 1e9, pbjs: 1e9, enc: 1e9, pbenc: 1e9 };
const pbm = T.decode(bytes);
for (let r = 0; r < 12; r++) {
  best.ours = Math.min(best.ours, once(() => cdf.TraceBatch.decode(bytes), 100));
  best.pbjs = Math.min(best.pbjs, once(() => T.decode(bytes), 100));
  best.enc = Math.min(best.enc, once(() => cdf.TraceBatch.encode(batch), 100));
  best.pbenc = Math.min(best.pbenc, once(() => T.encode(pbm).finish(), 100));
}
console.log(`decode ours ${best.ours.toFixed(0)} us (${(256 / best.ours).toFixed(2)} M rec/s), pbjs ${best.pbjs.toFixed(0)} us, speedup ${(best.pbjs / best.ours).toFixed(2)}; encode ours ${best.enc.toFixed(0)} us pbjs ${best.pbenc.toFixed(0)} us`);
