/*
 * codec_fuzz.c - libFuzzer target for one generated message type (driver/mk/codec_verify.mk).
 *
 * Build with -DCODEC_FUZZ_TYPE=cdf_InfoRequest (any generated cdfilter/conf type prefix), or
 * with -DCODEC_FUZZ_CONF=1 for the conf schema target, where the first input byte picks
 * conf_Choice (even) or conf_Repeated (odd) and the rest is the encoding.
 *
 * Property (nanopb tests/fuzztest): when decode accepts the input, then
 *   encode(decode(input)) = E1 succeeds within <T>_MAX_SIZE and <T>_size() == |E1|,
 *   decode(E1) succeeds and encode of it = E2 is byte-identical to E1 (a fixed point),
 *   encode into |E1| - 1 bytes fails with CDF_PB_ERR_OUTPUT_FULL.
 * Anything else aborts (libFuzzer reports it as a crash). ASan/UBSan watch every access.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_wire.h"
#include "cdfilter.pb.h"
#include "conf.pb.h"

/* Expands a type macro (CODEC_FUZZ_TYPE) before FIXED_POINT pastes it. */
#define FIXED_POINT_OF(T, data, size) FIXED_POINT(T, data, size)

#define FIXED_POINT(T, data, size)                                                               \
    do {                                                                                         \
        static T m1_, m2_;                                                                       \
        static uint8_t e1_[T##_MAX_SIZE + 1], e2_[T##_MAX_SIZE + 1];                             \
        size_t n1_ = 0, n2_ = 0;                                                                 \
        if (T##_decode(&m1_, (data), (size)) != CDF_PB_OK) return 0;                            \
        int c_ = T##_encode(&m1_, e1_, T##_MAX_SIZE, &n1_);                                      \
        if (c_ != CDF_PB_OK) fail(#T, "re-encode of a decoded message failed", c_);             \
        if (T##_size(&m1_) != n1_) fail(#T, "size() differs from the encoded length", (int)n1_); \
        c_ = T##_decode(&m2_, e1_, n1_);                                                         \
        if (c_ != CDF_PB_OK) fail(#T, "decode of our own encoding failed", c_);                 \
        c_ = T##_encode(&m2_, e2_, T##_MAX_SIZE, &n2_);                                          \
        if (c_ != CDF_PB_OK) fail(#T, "second encode failed", c_);                               \
        if (n1_ != n2_ || memcmp(e1_, e2_, n1_) != 0) fail(#T, "encoding is not a fixed point", 0); \
        if (n1_ > 0) {                                                                           \
            uint8_t *short_ = (uint8_t *)malloc(n1_ - 1 ? n1_ - 1 : 1);                          \
            c_ = T##_encode(&m2_, short_, n1_ - 1, &n2_);                                        \
            free(short_);                                                                        \
            if (c_ != CDF_PB_ERR_OUTPUT_FULL) fail(#T, "encode into one byte too few", c_);      \
        }                                                                                        \
    } while (0)

static void fail(const char *type, const char *what, int code)
{
    fprintf(stderr, "codec_fuzz %s: %s (%d: %s)\n", type, what, code, cdf_pb_strerror(code));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#if defined(CODEC_FUZZ_CONF)
    if (size == 0) return 0;
    if ((data[0] & 1) == 0)
        FIXED_POINT(conf_Choice, data + 1, size - 1);
    else
        FIXED_POINT(conf_Repeated, data + 1, size - 1);
#elif defined(CODEC_FUZZ_TYPE)
    FIXED_POINT_OF(CODEC_FUZZ_TYPE, data, size);
#else
#error "define CODEC_FUZZ_TYPE (e.g. cdf_InfoRequest) or CODEC_FUZZ_CONF"
#endif
    return 0;
}
