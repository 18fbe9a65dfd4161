const N = 2_000_000;
function t(name: string, f: () => unknown) { let best = 1e9; for (let r = 0; r < 5; r++) { const t0 = performance.now(); f(); best = Math.min(best, performance.now() - t0); } console.log(name, (best * 1e6 / N).toFixed(1), "ns/op"); }
let sink: unknown;
const u8 = new Uint8Array(256).map((_, i) => 65 + (i % 26));
const B = Buffer.from(u8.buffer);
function chunk(buf: Uint8Array, a: number, b: number): string {
  let s = "";
  while (b - a >= 8) { s += String.fromCharCode(buf[a]!, buf[a+1]!, buf[a+2]!, buf[a+3]!, buf[a+4]!, buf[a+5]!, buf[a+6]!, buf[a+7]!); a += 8; }
  while (a < b) s += String.fromCharCode(buf[a++]!);
  return s;
}
t("chunk 12", () => { for (let i = 0; i < N; i++) sink = chunk(u8, i & 63, (i & 63) + 12); });
t("chunk 50", () => { for (let i = 0; i < N; i++) sink = chunk(u8, i & 63, (i & 63) + 50); });
t("toString latin1 12", () => { for (let i = 0; i < N; i++) sink = B.toString("latin1", i & 63, (i & 63) + 12); });
t("toString latin1 50", () => { for (let i = 0; i < N; i++) sink = B.toString("latin1", i & 63, (i & 63) + 50); });
t("asciiSlice 12", () => { for (let i = 0; i < N; i++) sink = (B as any).asciiSlice(i & 63, (i & 63) + 12); });
t("copy loop 64", () => { for (let i = 0; i < N; i++) { const c = new Uint8Array(64); const st = i & 63; for (let k = 0; k < 64; k++) c[k] = u8[st + k]!; sink = c; } });
t("new+set subarray 64", () => { for (let i = 0; i < N; i++) { const c = new Uint8Array(64); c.set(u8.subarray(i & 63, (i & 63) + 64)); sink = c; } });
t("buffer.slice copy 64", () => { for (let i = 0; i < N; i++) sink = u8.buffer.slice(i & 63, (i & 63) + 64); });
t("new Uint8Array(ab.slice) 64", () => { for (let i = 0; i < N; i++) sink = new Uint8Array(u8.buffer.slice(i & 63, (i & 63) + 64)); });
t("slice 64", () => { for (let i = 0; i < N; i++) sink = u8.slice(i & 63, (i & 63) + 64); });
t("object literal 27", () => { for (let i = 0; i < N; i++) sink = {a:0n,b:0,c:0n,d:0n,e:0,f:0n,g:0,h:0,i:0,j:0,k:"",l:0,m:0,n:0,o:0,p:0,q:0,r:u8,s:false,t:0,u:0n,v:0n,w:0,x:0,y:0,z:0,aa:0}; });
