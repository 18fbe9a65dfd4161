// micro: cost of primitives
const N = 2_000_000;
function t(name: string, f: () => unknown) { let best = 1e9; for (let r = 0; r < 5; r++) { const t0 = performance.now(); f(); best = Math.min(best, performance.now() - t0); } console.log(name, (best * 1e6 / N).toFixed(1), "ns/op"); }
let sink: unknown;
t("BigInt(small int)", () => { for (let i = 0; i < N; i++) sink = BigInt(i + 200); });
t("BigInt(2^40 double)", () => { for (let i = 0; i < N; i++) sink = BigInt(1099511627776 + i); });
const base = 123456n << 32n;
t("base + BigInt(lo)", () => { for (let i = 0; i < N; i++) sink = base + BigInt(i); });
const u8 = new Uint8Array(256).map((_, i) => 65 + (i % 26));
t("slice 64", () => { for (let i = 0; i < N; i++) sink = u8.slice(10, 74); });
t("fromCharCode.apply 12", () => { for (let i = 0; i < N; i++) sink = String.fromCharCode.apply(null, u8.subarray(i & 63, (i & 63) + 12) as unknown as number[]); });
t("concat loop 12", () => { for (let i = 0; i < N; i++) { let s = ""; const st = i & 63; for (let k = st; k < st + 12; k++) s += String.fromCharCode(u8[k]!); sink = s; } });
const td = new TextDecoder();
t("TextDecoder 12", () => { for (let i = 0; i < N; i++) sink = td.decode(u8.subarray(i & 63, (i & 63) + 12)); });
t("TextDecoder 50", () => { for (let i = 0; i < N; i++) sink = td.decode(u8.subarray(i & 63, (i & 63) + 50)); });
t("fromCharCode.apply 50", () => { for (let i = 0; i < N; i++) sink = String.fromCharCode.apply(null, u8.subarray(i & 63, (i & 63) + 50) as unknown as number[]); });
const B = Buffer.from(u8.buffer);
t("latin1Slice 12", () => { for (let i = 0; i < N; i++) sink = B.latin1Slice(i & 63, (i & 63) + 12); });
t("latin1Slice 50", () => { for (let i = 0; i < N; i++) sink = B.latin1Slice(i & 63, (i & 63) + 50); });
t("fromCharCode 12 args", () => { for (let i = 0; i < N; i++) { const st = i & 63; sink = String.fromCharCode(u8[st]!, u8[st+1]!, u8[st+2]!, u8[st+3]!, u8[st+4]!, u8[st+5]!, u8[st+6]!, u8[st+7]!, u8[st+8]!, u8[st+9]!, u8[st+10]!, u8[st+11]!); } });
