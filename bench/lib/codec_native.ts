// Loads build/libcdfcodec.so (driver/mk/codec.mk, `make -C driver host`) through koffi and
// exposes its decode-then-re-encode entry points for the codec tests and benchmarks.
import { existsSync } from "node:fs";
import { join } from "node:path";
import koffi from "koffi";
import { REPO_ROOT } from "./pbschema.ts";

export const CODEC_LIBRARY = join(REPO_ROOT, "build", "libcdfcodec.so");

/** Result of one C round trip: `code` is the C error code (0 = CDF_PB_OK). */
export interface NativeRoundTrip {
  code: number;
  bytes: Uint8Array;
}

export interface NativeCodec {
  /** cdf_codec_roundtrip / conf_codec_roundtrip: C decode of `input`, then C encode into `cap` bytes. */
  roundtrip(pkg: "cdfilter" | "conf", typeName: string, input: Uint8Array, cap: number): NativeRoundTrip;
}

/**
 * Opens the codec library. Throws (never skips) when it was not built, naming the command
 * that builds it.
 */
export function loadNativeCodec(): NativeCodec {
  if (!existsSync(CODEC_LIBRARY)) {
    throw new Error(`codec library missing: ${CODEC_LIBRARY} (build it with \`make -C driver host\` or \`npm run build:c\`)`);
  }
  const lib = koffi.load(CODEC_LIBRARY);
  const sig = (prefix: string): string =>
    `int ${prefix}_codec_roundtrip(const char *type_name, const uint8_t *input, size_t in_len, ` +
    `_Out_ uint8_t *out, size_t out_cap, _Out_ size_t *out_len)`;
  const fns = { cdfilter: lib.func(sig("cdf")), conf: lib.func(sig("conf")) };
  return {
    roundtrip(pkg, typeName, input, cap) {
      // One spare byte past `cap` carries a canary: the C side must never write past out_cap.
      const out = Buffer.alloc(cap + 1, 0xa5);
      const outLen: [number | bigint] = [0];
      const inBuf = input.length === 0 ? Buffer.alloc(1) : Buffer.from(input);
      const code = fns[pkg](typeName, inBuf, input.length, out, cap, outLen) as number;
      if (out[cap] !== 0xa5) throw new Error(`${typeName}: C encode wrote past out_cap (${cap})`);
      const len = Number(outLen[0]);
      if (code === 0 && (len < 0 || len > cap)) throw new Error(`${typeName}: out_len ${len} > cap ${cap}`);
      return { code, bytes: code === 0 ? new Uint8Array(out.subarray(0, len)) : new Uint8Array(0) };
    },
  };
}
