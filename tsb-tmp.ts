import protobuf from "protobufjs";
import * as cdf from "./src/client/gen/cdfilter.ts";
const IM = ["wmplayer.exe","explorer.exe","C:\\Program Files\\Windows Media Player\\wmplayer.exe","System"];
const recs: cdf.TraceRecord[] = [];
for (let i = 0; i < 256; i++) recs.push(cdf.TraceRecord.create({ seq: 5000000000n + BigInt(i), kind: 1 + (i & 1), requestId: 900000n + BigInt(i), timestamp: 133000000000000000n + BigInt(i * 1000), driveId: 1, handleId: BigInt(0x1000 + i % 7), pid: 4000 + i % 5, tid: 8000 + i, requestorPid: 4000, openerPid: 4000, openerImage: IM[i % 4]!, major: 14, ioctlCode: 0x2d4804, normalizedCode: 0x2d4804, inputLength: 64, inputHead: new Uint8Array(64).fill(i & 255), status: (i & 1) ? 0xc0000010 : 0, information: BigInt(i), duration: BigInt(150 + i), decision: 2, reason: 1, secureTotal: 2 }));
const batch = cdf.TraceBatch.create({ records: recs, dropped: 0n, nextCursor: 5000000256n, oldestSeq: 1n, newestSeq: 5000000255n });
const bytes = cdf.TraceBatch.encode(batch);
console.log("batch bytes", bytes.length);
import { readFileSync } from "node:fs";
const root = new protobuf.Root();
for (const f of ["trace", "control"]) { const src = readFileSync(`proto/cdfilter/${f}.proto`, "utf8").replace(/import "[^"]*";/g, "").replace(/\[\(cdfilter[^\]]*\]/g, "").replace(/option \(cdfilter[^;]*;/g, ""); protobuf.parse(src, root, { keepCase: true }); }
root.resolveAll();
const T = root.lookupType("cdfilter.TraceBatch");
function bench(name: string, f: () => unknown) {
  for (let i = 0; i < 200; i++) f();
  let n = 0; const t0 = performance.now(); let t = t0;
  while (t - t0 < 1500) { for (let i = 0; i < 50; i++) f(); n += 50; t = performance.now(); }
  const us = (t - t0) * 1000 / n;
  console.log(`${name}: ${us.toFixed(1)} us/batch, ${(256 / us).toFixed(2)} M records/s`);
  return us;
}
const a = bench("ours decode", () => cdf.TraceBatch.decode(bytes));
let b = 0;
try { b = bench("protobufjs decode", () => T.decode(bytes)); } catch (e) { console.log("pbjs", e); }
console.log("speedup", (b / a).toFixed(2));
bench("ours encode", () => cdf.TraceBatch.encode(batch));
