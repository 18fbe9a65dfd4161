/*
 * codec_malformed.c - the generated C codec (driver/core/gen/cdfilter.pb.c, test/gen/conf.pb.c,
 * runtime driver/core/pb_wire.c) against malformed input and short output buffers.
 *
 * Run under ASan + UBSan (driver/mk/codec_verify.mk, `make -C driver check`): every input lives in
 * a heap block of exactly its length and every output buffer is a heap block of exactly its
 * capacity, so one byte read or written past either end aborts the run.
 *
 * Asserts (error codes from docs/CONTRACTS.md, "Codec: generated C"):
 *   each error code distinct; truncated varint/tag/fixed/length; varint over 10 bytes; field 0;
 *   wire types 3, 4, 6, 7; length past the end; string, bytes and repeated over their bounds; a
 *   known field with the wrong wire type; nesting deeper than CDF_PB_MAX_DEPTH (this file is
 *   also built with -DCDF_PB_MAX_DEPTH=2); invalid UTF-8 and NUL in strings; unknown fields of
 *   all four wire types skipped; encode into every buffer smaller than needed fails with
 *   CDF_PB_ERR_OUTPUT_FULL without writing past it; decode of every truncation of valid
 *   encodings never crashes and either fails or yields a valid message.
 * Prints one summary line "codec_malformed: N passed, M failed"; exits non-zero on any failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_wire.h"
#include "cdfilter.pb.h"
#include "conf.pb.h"

static unsigned g_pass;
static unsigned g_fail;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (cond) {                                                         \
            g_pass++;                                                       \
        } else {                                                            \
            g_fail++;                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* ---- input builder ------------------------------------------------------------------------ */

typedef struct {
    uint8_t b[4096];
    size_t n;
} wbuf;

static void put(wbuf *w, uint8_t byte)
{
    if (w->n < sizeof w->b) w->b[w->n++] = byte;
}

static void put_varint(wbuf *w, uint64_t v)
{
    while (v >= 0x80) {
        put(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put(w, (uint8_t)v);
}

static void put_tag(wbuf *w, uint32_t field, uint32_t wire)
{
    put_varint(w, ((uint64_t)field << 3) | wire);
}

static void put_bytes(wbuf *w, const void *p, size_t n)
{
    const uint8_t *s = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++) put(w, s[i]);
}

static void put_ld(wbuf *w, uint32_t field, const void *p, size_t n)
{
    put_tag(w, field, 2);
    put_varint(w, n);
    put_bytes(w, p, n);
}

static void put_fixed(wbuf *w, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++) put(w, (uint8_t)(v >> (8 * i)));
}

/* Heap copy of exactly n bytes so that ASan catches any read past the input. */
static uint8_t *heap_copy(const uint8_t *p, size_t n)
{
    uint8_t *h = (uint8_t *)malloc(n ? n : 1);
    if (!h) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    if (n) memcpy(h, p, n);
    return h;
}

/* Decoders per type, through macros (no casts between function pointer types). */
#define DECODE_AS(T, bytes, len, out_code)                           \
    do {                                                             \
        static T msg_;                                               \
        uint8_t *in_ = heap_copy((bytes), (len));                    \
        (out_code) = T##_decode(&msg_, in_, (len));                  \
        free(in_);                                                   \
    } while (0)

#define EXPECT_DECODE(T, w, want, what)                                                       \
    do {                                                                                     \
        int code_;                                                                           \
        DECODE_AS(T, (w)->b, (w)->n, code_);                                                 \
        CHECK(code_ == (want), "%s: %s decode gave %d (%s), want %d (%s)", (what), #T, code_, \
              cdf_pb_strerror(code_), (want), cdf_pb_strerror(want));                        \
    } while (0)

static void reset(wbuf *w)
{
    w->n = 0;
}

/* ---- error codes ------------------------------------------------------------------------ */

static void test_error_codes(void)
{
    const int codes[] = {CDF_PB_OK,         CDF_PB_ERR_TRUNCATED,   CDF_PB_ERR_VARINT_TOO_LONG,
                         CDF_PB_ERR_FIELD_ZERO, CDF_PB_ERR_BAD_WIRE_TYPE, CDF_PB_ERR_LENGTH,
                         CDF_PB_ERR_BOUND,  CDF_PB_ERR_WIRE_MISMATCH, CDF_PB_ERR_DEPTH,
                         CDF_PB_ERR_OUTPUT_FULL, CDF_PB_ERR_STRING, CDF_PB_ERR_ARG};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        CHECK(codes[i] == (int)i, "error code #%zu is %d, contract says %zu", i, codes[i], i);
        const char *s = cdf_pb_strerror(codes[i]);
        CHECK(s != NULL && s[0] != '\0', "cdf_pb_strerror(%d) empty", codes[i]);
        for (size_t j = 0; j < i; j++) {
            CHECK(codes[i] != codes[j], "error codes %zu and %zu equal", i, j);
            const char *t = cdf_pb_strerror(codes[j]);
            CHECK(s && t && strcmp(s, t) != 0, "strerror(%d) == strerror(%d)", codes[i], codes[j]);
        }
    }
    CHECK(cdf_pb_strerror(-1) != NULL && cdf_pb_strerror(12345) != NULL, "strerror of unknown code is NULL");
}

/* ---- framing errors ---------------------------------------------------------------------- */

static void test_framing(void)
{
    wbuf w;

    /* truncated: a varint value cut after a continuation byte */
    reset(&w); put_tag(&w, 1, 0); put(&w, 0x80);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated varint value");
    reset(&w); put_tag(&w, 4, 0); put(&w, 0xff); put(&w, 0xff);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated uint64 varint");
    /* truncated tag (multi-byte field number) */
    reset(&w); put(&w, 0x80);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated tag");
    reset(&w); put(&w, 0xf8); put(&w, 0xff);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated tag 2");
    /* truncated fixed32 / fixed64 */
    reset(&w); put_tag(&w, 7, 5); put(&w, 1); put(&w, 2); put(&w, 3);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated fixed32");
    reset(&w); put_tag(&w, 8, 1); put_fixed(&w, 1, 7);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated fixed64");
    /* truncated length prefix */
    reset(&w); put_tag(&w, 13, 2); put(&w, 0x85);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated length varint");
    /* truncated in an unknown field too */
    reset(&w); put_tag(&w, 99, 0); put(&w, 0x80);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated unknown varint");
    reset(&w); put_tag(&w, 99, 1); put_fixed(&w, 0, 3);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_TRUNCATED, "truncated unknown fixed64");

    /* varint over 10 bytes: 11 bytes */
    reset(&w); put_tag(&w, 4, 0);
    for (int i = 0; i < 10; i++) put(&w, 0x80);
    put(&w, 0x01);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_VARINT_TOO_LONG, "11-byte varint");
    /* 10th byte above 1 (would overflow 64 bits) */
    reset(&w); put_tag(&w, 4, 0);
    for (int i = 0; i < 9; i++) put(&w, 0xff);
    put(&w, 0x02);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_VARINT_TOO_LONG, "10th varint byte 0x02");
    /* ... while the widest legal varint (2^64-1) decodes */
    reset(&w); put_tag(&w, 4, 0);
    for (int i = 0; i < 9; i++) put(&w, 0xff);
    put(&w, 0x01);
    {
        static conf_Scalars m;
        uint8_t *in = heap_copy(w.b, w.n);
        int code = conf_Scalars_decode(&m, in, w.n);
        free(in);
        CHECK(code == CDF_PB_OK && m.u64 == UINT64_MAX, "2^64-1 varint: code %d value %llu", code,
              (unsigned long long)m.u64);
    }
    /* an over-long tag varint */
    reset(&w);
    for (int i = 0; i < 10; i++) put(&w, 0x88);
    put(&w, 0x00);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_VARINT_TOO_LONG, "11-byte tag");
    /* over-long in an unknown field */
    reset(&w); put_tag(&w, 99, 0);
    for (int i = 0; i < 10; i++) put(&w, 0x80);
    put(&w, 0x00);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_VARINT_TOO_LONG, "11-byte unknown varint");

    /* field number 0, every wire type */
    for (uint32_t wt = 0; wt < 6; wt++) {
        reset(&w); put_tag(&w, 0, wt); put(&w, 0); put(&w, 0); put(&w, 0); put(&w, 0);
        put(&w, 0); put(&w, 0); put(&w, 0); put(&w, 0);
        EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_FIELD_ZERO, "field number 0");
    }
    reset(&w); put(&w, 0x08); put(&w, 1); put(&w, 0x00); put(&w, 0x00);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_FIELD_ZERO, "field number 0 after a valid field");
    reset(&w); put(&w, 0x00);
    EXPECT_DECODE(cdf_TraceRecord, &w, CDF_PB_ERR_FIELD_ZERO, "field number 0 (TraceRecord)");

    /* wire types 6, 7 and the proto2 group wire types 3, 4: on known and unknown fields */
    {
        const uint32_t bad[] = {6, 7, 3, 4};
        for (size_t i = 0; i < 4; i++) {
            reset(&w); put_tag(&w, 1, bad[i]); put(&w, 0);
            EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_BAD_WIRE_TYPE, "bad wire type, known field");
            reset(&w); put_tag(&w, 99, bad[i]); put(&w, 0);
            EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_BAD_WIRE_TYPE, "bad wire type, unknown field");
            reset(&w); put_tag(&w, 3, bad[i]); put(&w, 0);
            EXPECT_DECODE(cdf_InfoReply, &w, CDF_PB_ERR_BAD_WIRE_TYPE, "bad wire type (InfoReply)");
        }
    }

    /* length-delimited past the end: known string, known bytes, known message, unknown */
    reset(&w); put_tag(&w, 13, 2); put_varint(&w, 5); put_bytes(&w, "abcd", 4);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_LENGTH, "string length past end");
    reset(&w); put_tag(&w, 14, 2); put_varint(&w, 2);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_LENGTH, "bytes length past end");
    reset(&w); put_tag(&w, 4, 2); put_varint(&w, 3); put(&w, 0x08);
    EXPECT_DECODE(conf_Optionals, &w, CDF_PB_ERR_LENGTH, "message length past end");
    reset(&w); put_tag(&w, 99, 2); put_varint(&w, 1);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_LENGTH, "unknown length past end");
    reset(&w); put_tag(&w, 1, 2); put_varint(&w, 4); put(&w, 1);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_LENGTH, "packed length past end");
    /* huge lengths must not wrap pointer arithmetic */
    reset(&w); put_tag(&w, 99, 2); put_varint(&w, UINT64_MAX); put(&w, 0);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_LENGTH, "length 2^64-1");
    reset(&w); put_tag(&w, 13, 2); put_varint(&w, 0xffffffffull); put(&w, 'a');
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_LENGTH, "string length 2^32-1");
    reset(&w); put_tag(&w, 18, 2); put_varint(&w, ((uint64_t)1 << 63) + 1);
    EXPECT_DECODE(cdf_TraceRecord, &w, CDF_PB_ERR_LENGTH, "bytes length 2^63+1");
    /* a packed run whose last element is cut by the packed length (not by the input end) */
    reset(&w); put_tag(&w, 2, 2); put_varint(&w, 1); put(&w, 0x80); put_tag(&w, 1, 0); put(&w, 1);
    {
        int code;
        DECODE_AS(conf_Repeated, w.b, w.n, code);
        CHECK(code == CDF_PB_ERR_TRUNCATED || code == CDF_PB_ERR_LENGTH,
              "varint cut by packed length: %d (%s)", code, cdf_pb_strerror(code));
    }
}

/* ---- bounds, wire mismatch, strings -------------------------------------------------------- */

static void test_bounds(void)
{
    wbuf w;
    uint8_t data[300];
    memset(data, 'a', sizeof data);

    /* string: 16 bytes ok, 17 over */
    reset(&w); put_ld(&w, 13, data, 16);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_OK, "string at bound");
    reset(&w); put_ld(&w, 13, data, 17);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_BOUND, "string over bound");
    reset(&w); put_ld(&w, 11, data, 65);
    EXPECT_DECODE(cdf_TraceRecord, &w, CDF_PB_ERR_BOUND, "opener_image over bound");
    reset(&w); put_ld(&w, 2, data, 65);
    EXPECT_DECODE(cdf_InfoRequest, &w, CDF_PB_ERR_BOUND, "client_name over bound");
    /* bytes: 16 ok, 17 over; TraceRecord.input_head 256 ok, 257 over */
    reset(&w); put_ld(&w, 14, data, 16);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_OK, "bytes at bound");
    reset(&w); put_ld(&w, 14, data, 17);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_BOUND, "bytes over bound");
    reset(&w); put_ld(&w, 18, data, 256);
    EXPECT_DECODE(cdf_TraceRecord, &w, CDF_PB_OK, "input_head at bound");
    reset(&w); put_ld(&w, 18, data, 257);
    EXPECT_DECODE(cdf_TraceRecord, &w, CDF_PB_ERR_BOUND, "input_head over bound");
    /* oneof string / bytes members */
    reset(&w); put_ld(&w, 3, data, 13);
    EXPECT_DECODE(conf_Choice, &w, CDF_PB_ERR_BOUND, "oneof string over bound");
    reset(&w); put_ld(&w, 6, data, 9);
    EXPECT_DECODE(conf_Choice, &w, CDF_PB_ERR_BOUND, "oneof bytes over bound");
    /* repeated: packed 4 ok / 5 over; unpacked 5 over; packed split over two runs */
    reset(&w); put_tag(&w, 1, 2); put_varint(&w, 4); put(&w, 1); put(&w, 2); put(&w, 3); put(&w, 4);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_OK, "packed at bound");
    reset(&w); put_tag(&w, 1, 2); put_varint(&w, 5);
    for (int i = 0; i < 5; i++) put(&w, (uint8_t)i);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "packed over bound");
    reset(&w);
    for (int i = 0; i < 5; i++) { put_tag(&w, 1, 0); put(&w, (uint8_t)i); }
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "unpacked over bound");
    reset(&w); put_tag(&w, 4, 2); put_varint(&w, 12); put_fixed(&w, 1, 4); put_fixed(&w, 2, 4); put_fixed(&w, 3, 4);
    put_tag(&w, 4, 2); put_varint(&w, 8); put_fixed(&w, 4, 4); put_fixed(&w, 5, 4);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "packed fixed32 over bound in two runs");
    reset(&w);
    for (int i = 0; i < 4; i++) { put_tag(&w, 7, 0); put(&w, 1); }
    put_tag(&w, 7, 2); put_varint(&w, 1); put(&w, 2);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "mixed packed/unpacked enum over bound");
    /* repeated strings / bytes / messages: count and element length */
    reset(&w);
    for (int i = 0; i < 4; i++) put_ld(&w, 8, data, 1);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "repeated string count over bound");
    reset(&w); put_ld(&w, 8, data, 9);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "repeated string element over bound");
    reset(&w); put_ld(&w, 9, data, 9);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "repeated bytes element over bound");
    reset(&w);
    for (int i = 0; i < 3; i++) put_ld(&w, 10, data, 0);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_BOUND, "repeated message count over bound");
    reset(&w);
    for (int i = 0; i < 17; i++) put_ld(&w, 1, data, 0);
    EXPECT_DECODE(cdf_DrivesReply, &w, CDF_PB_ERR_BOUND, "DrivesReply 17 drives");
    reset(&w); put_tag(&w, 1, 2); put_varint(&w, 29);
    for (int i = 0; i < 29; i++) put(&w, 1);
    EXPECT_DECODE(cdf_TraceConfig, &w, CDF_PB_ERR_BOUND, "TraceConfig 29 majors");
}

static void test_wire_mismatch(void)
{
    wbuf w;
    /* varint field sent as length-delimited / fixed */
    reset(&w); put_ld(&w, 1, "\x01", 1);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_WIRE_MISMATCH, "int32 as LEN");
    reset(&w); put_tag(&w, 3, 5); put_fixed(&w, 1, 4);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_WIRE_MISMATCH, "uint32 as I32");
    /* fixed fields as varint */
    reset(&w); put_tag(&w, 7, 0); put(&w, 1);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_WIRE_MISMATCH, "fixed32 as VARINT");
    reset(&w); put_tag(&w, 8, 5); put_fixed(&w, 1, 4);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_WIRE_MISMATCH, "fixed64 as I32");
    reset(&w); put_tag(&w, 15, 5); put_fixed(&w, 1, 4);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_WIRE_MISMATCH, "double as I32");
    /* string / message as varint */
    reset(&w); put_tag(&w, 13, 0); put(&w, 1);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_WIRE_MISMATCH, "string as VARINT");
    reset(&w); put_tag(&w, 4, 0); put(&w, 1);
    EXPECT_DECODE(conf_Optionals, &w, CDF_PB_ERR_WIRE_MISMATCH, "message as VARINT");
    reset(&w); put_tag(&w, 1, 1); put_fixed(&w, 0, 8);
    EXPECT_DECODE(cdf_TraceBatch, &w, CDF_PB_ERR_WIRE_MISMATCH, "repeated message as I64");
    /* repeated scalar: neither its own wire type nor LEN */
    reset(&w); put_tag(&w, 4, 0); put(&w, 1);
    EXPECT_DECODE(conf_Repeated, &w, CDF_PB_ERR_WIRE_MISMATCH, "repeated fixed32 as VARINT");
    /* oneof member */
    reset(&w); put_tag(&w, 3, 0); put(&w, 1);
    EXPECT_DECODE(conf_Choice, &w, CDF_PB_ERR_WIRE_MISMATCH, "oneof string as VARINT");
    reset(&w); put_tag(&w, 536870911u, 2); put_varint(&w, 0);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_ERR_WIRE_MISMATCH, "high_field as LEN");
}

static void test_strings(void)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
        int want;
    } cases[] = {
        {"ASCII", "hello", 5, CDF_PB_OK},
        {"2/3/4-byte sequences", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x92\xbf", 9, CDF_PB_OK},
        {"U+10FFFF", "\xf4\x8f\xbf\xbf", 4, CDF_PB_OK},
        {"empty", "", 0, CDF_PB_OK},
        {"NUL", "ab\0cd", 5, CDF_PB_ERR_STRING},
        {"lone NUL", "\0", 1, CDF_PB_ERR_STRING},
        {"0xFF", "a\xff", 2, CDF_PB_ERR_STRING},
        {"lone continuation", "\x80", 1, CDF_PB_ERR_STRING},
        {"overlong '/'", "\xc0\xaf", 2, CDF_PB_ERR_STRING},
        {"overlong NUL", "\xc0\x80", 2, CDF_PB_ERR_STRING},
        {"overlong 3-byte", "\xe0\x80\xaf", 3, CDF_PB_ERR_STRING},
        {"surrogate U+D800", "\xed\xa0\x80", 3, CDF_PB_ERR_STRING},
        {"above U+10FFFF", "\xf4\x90\x80\x80", 4, CDF_PB_ERR_STRING},
        {"cut 3-byte sequence", "ab\xe2\x82", 4, CDF_PB_ERR_STRING},
        {"cut 4-byte sequence at end", "\xf0\x9f\x92", 3, CDF_PB_ERR_STRING},
        {"0xF5 lead", "\xf5\x80\x80\x80", 4, CDF_PB_ERR_STRING},
    };
    wbuf w;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset(&w); put_ld(&w, 13, cases[i].bytes, cases[i].len);
        EXPECT_DECODE(conf_Scalars, &w, cases[i].want, cases[i].what);
        reset(&w); put_ld(&w, 8, cases[i].bytes, cases[i].len);
        /* Repeated.texts holds 8 bytes: the bound is checked before the content */
        EXPECT_DECODE(conf_Repeated, &w, cases[i].len > 8 ? CDF_PB_ERR_BOUND : cases[i].want, cases[i].what);
        reset(&w); put_ld(&w, 3, cases[i].bytes, cases[i].len);
        EXPECT_DECODE(conf_Choice, &w, cases[i].want, cases[i].what);
        reset(&w); put_ld(&w, 11, cases[i].bytes, cases[i].len);
        EXPECT_DECODE(cdf_TraceRecord, &w, cases[i].want, cases[i].what);
    }
    /* bytes fields take anything, NUL included */
    reset(&w); put_ld(&w, 14, "\0\xff\xc0\x80", 4);
    EXPECT_DECODE(conf_Scalars, &w, CDF_PB_OK, "bytes with NUL and invalid UTF-8");
    /* the decoded string is NUL-terminated and the bound is in bytes: 4 x 4-byte = 16 */
    reset(&w); put_ld(&w, 13, "\xf0\x9f\x92\xbf\xf0\x9f\x92\xbf\xf0\x9f\x92\xbf\xf0\x9f\x92\xbf", 16);
    {
        static conf_Scalars m;
        memset(&m, 0x5a, sizeof m);
        uint8_t *in = heap_copy(w.b, w.n);
        int code = conf_Scalars_decode(&m, in, w.n);
        free(in);
        CHECK(code == CDF_PB_OK && m.text[16] == '\0' && strlen(m.text) == 16, "16-byte UTF-8 string: %d", code);
    }
    /* encode rejects an invalid string too */
    {
        static conf_Scalars m;
        uint8_t out[64];
        size_t n = 0;
        conf_Scalars_init(&m);
        memcpy(m.text, "a\xff", 3);
        int code = conf_Scalars_encode(&m, out, sizeof out, &n);
        CHECK(code == CDF_PB_ERR_STRING, "encode of invalid UTF-8 gave %d", code);
    }
}

/* ---- unknown fields ------------------------------------------------------------------------ */

static void test_unknown_fields(void)
{
    wbuf known, mixed;
    reset(&known); reset(&mixed);
    /* known: i32=1 (varint), f32=7 (fixed32), text=13 */
    put_tag(&known, 1, 0); put(&known, 5);
    put_tag(&known, 7, 5); put_fixed(&known, 0x01020304u, 4);
    put_ld(&known, 13, "ok", 2);

    put_tag(&mixed, 99, 0); put_varint(&mixed, UINT64_MAX);          /* unknown varint */
    put_tag(&mixed, 1, 0); put(&mixed, 5);
    put_tag(&mixed, 100, 1); put_fixed(&mixed, 0x1122334455667788ull, 8); /* unknown I64 */
    put_tag(&mixed, 7, 5); put_fixed(&mixed, 0x01020304u, 4);
    put_ld(&mixed, 101, "\x08\x01\xff\xff\x00", 5);                   /* unknown LEN */
    put_tag(&mixed, 102, 5); put_fixed(&mixed, 0xdeadbeefu, 4);       /* unknown I32 */
    put_ld(&mixed, 13, "ok", 2);
    put_tag(&mixed, 536870910u, 0); put(&mixed, 1);                   /* unknown, big number */
    put_ld(&mixed, 102, "", 0);                                       /* unknown LEN, empty */

    static conf_Scalars m;
    uint8_t *in = heap_copy(mixed.b, mixed.n);
    int code = conf_Scalars_decode(&m, in, mixed.n);
    free(in);
    CHECK(code == CDF_PB_OK, "unknown fields: decode gave %d (%s)", code, cdf_pb_strerror(code));
    CHECK(m.i32 == 5 && m.f32 == 0x01020304u && strcmp(m.text, "ok") == 0, "unknown fields: known values lost");
    uint8_t out[128];
    size_t n = 0;
    code = conf_Scalars_encode(&m, out, sizeof out, &n);
    CHECK(code == CDF_PB_OK && n == known.n && memcmp(out, known.b, n) == 0,
          "unknown fields: re-encoding is not the known fields alone (code %d, %zu bytes)", code, n);

    /* the same in a control-protocol request: a newer client's extra fields are ignored */
    reset(&mixed);
    put_tag(&mixed, 1, 0); put(&mixed, 2);
    put_tag(&mixed, 9, 0); put(&mixed, 1);
    put_tag(&mixed, 10, 1); put_fixed(&mixed, 1, 8);
    put_ld(&mixed, 11, "x", 1);
    put_tag(&mixed, 12, 5); put_fixed(&mixed, 1, 4);
    {
        static cdf_SetPolicyRequest r;
        uint8_t *in2 = heap_copy(mixed.b, mixed.n);
        code = cdf_SetPolicyRequest_decode(&r, in2, mixed.n);
        free(in2);
        CHECK(code == CDF_PB_OK && r.drive_id == 2 && r.policy == 0, "SetPolicyRequest with unknown fields: %d", code);
    }
}

/* ---- depth ---------------------------------------------------------------------------------- */

/* Depth1 -> Depth2 -> ... nested `levels` messages deep (levels 1..4), innermost tag/leaf = 1. */
static void nest(wbuf *w, int levels)
{
    wbuf inner, outer;
    reset(&inner);
    put_tag(&inner, levels == 4 ? 1 : 2, 0); put(&inner, 1); /* Depth4.leaf or DepthN.tag */
    for (int l = levels - 1; l >= 1; l--) {
        reset(&outer);
        put_ld(&outer, 1, inner.b, inner.n); /* next */
        inner = outer;
    }
    *w = inner;
}

static void test_depth(void)
{
    wbuf w;
    int code;
    for (int levels = 1; levels <= 4; levels++) {
        nest(&w, levels);
        DECODE_AS(conf_Depth1, w.b, w.n, code);
        int want = levels <= (int)CDF_PB_MAX_DEPTH ? CDF_PB_OK : CDF_PB_ERR_DEPTH;
        CHECK(code == want, "Depth1 nested %d messages deep with CDF_PB_MAX_DEPTH=%d: %d (%s), want %d",
              levels, (int)CDF_PB_MAX_DEPTH, code, cdf_pb_strerror(code), want);
    }
#if CDF_PB_MAX_DEPTH == 2
    /* the brief's case: Depth1 -> Depth2 -> Depth3 is one level too deep */
    nest(&w, 3);
    DECODE_AS(conf_Depth1, w.b, w.n, code);
    CHECK(code == CDF_PB_ERR_DEPTH, "Depth1->Depth2->Depth3 at CDF_PB_MAX_DEPTH=2 gave %d", code);
    /* a message nested in an unknown field is skipped, not descended: no depth error */
    {
        wbuf deep;
        nest(&deep, 4);
        reset(&w); put_ld(&w, 77, deep.b, deep.n);
        DECODE_AS(conf_Depth1, w.b, w.n, code);
        CHECK(code == CDF_PB_OK, "deep message in an unknown field gave %d", code);
    }
#endif
}

/* ---- encode into short buffers ----------------------------------------------------------- */

/* Encode into heap buffers of every capacity below the needed size: OUTPUT_FULL, no write past
 * cap (ASan aborts on one). Then exactly the needed size: OK, written == size(). */
#define ENCODE_SHORT(T, msgp, label)                                                              \
    do {                                                                                          \
        size_t need_ = T##_size(msgp);                                                            \
        CHECK(need_ <= T##_MAX_SIZE, "%s: size %zu > MAX_SIZE %u", (label), need_, (unsigned)T##_MAX_SIZE); \
        for (size_t cap_ = 0; cap_ < need_; cap_++) {                                             \
            uint8_t *b_ = (uint8_t *)malloc(cap_);                                                \
            size_t wr_ = 12345;                                                                   \
            int c_ = T##_encode((msgp), b_, cap_, &wr_);                                          \
            if (c_ != CDF_PB_ERR_OUTPUT_FULL) {                                                   \
                CHECK(0, "%s: encode into %zu of %zu bytes gave %d", (label), cap_, need_, c_);   \
                free(b_);                                                                         \
                break;                                                                            \
            }                                                                                     \
            g_pass++;                                                                             \
            free(b_);                                                                             \
        }                                                                                         \
        {                                                                                         \
            uint8_t *b_ = (uint8_t *)malloc(need_ ? need_ : 1);                                   \
            size_t wr_ = 0;                                                                       \
            int c_ = T##_encode((msgp), b_, need_, &wr_);                                         \
            CHECK(c_ == CDF_PB_OK && wr_ == need_, "%s: encode into exactly %zu bytes: %d, %zu written", \
                  (label), need_, c_, wr_);                                                       \
            free(b_);                                                                             \
        }                                                                                         \
    } while (0)

/* Decode every prefix of `enc` (heap block of exactly that length): must not crash; success must
 * give a message that re-encodes within MAX_SIZE and passes `valid`. */
#define DECODE_PREFIXES(T, enc, len, valid, label)                                                \
    do {                                                                                          \
        static T m_;                                                                              \
        unsigned ok_ = 0;                                                                         \
        for (size_t k_ = 0; k_ <= (len); k_++) {                                                  \
            uint8_t *in_ = heap_copy((enc), k_);                                                  \
            int c_ = T##_decode(&m_, in_, k_);                                                    \
            free(in_);                                                                            \
            if (c_ != CDF_PB_OK) continue;                                                        \
            ok_++;                                                                                \
            uint8_t *out_ = (uint8_t *)malloc(T##_MAX_SIZE);                                      \
            size_t n_ = 0;                                                                        \
            int e_ = T##_encode(&m_, out_, T##_MAX_SIZE, &n_);                                    \
            free(out_);                                                                           \
            CHECK(e_ == CDF_PB_OK && n_ <= k_, "%s: prefix %zu decoded but re-encode gave %d (%zu bytes)", \
                  (label), k_, e_, n_);                                                           \
            CHECK(valid(&m_), "%s: prefix %zu decoded into an invalid message", (label), k_);     \
        }                                                                                         \
        CHECK(ok_ >= 2, "%s: no prefix but the empty one decoded", (label));                      \
    } while (0)

static int str_ok(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static int valid_scalars(const conf_Scalars *m)
{
    return (m->flag == 0 || m->flag == 1) && str_ok(m->text, sizeof m->text) && m->blob.size <= 16;
}

static int valid_repeated(const conf_Repeated *m)
{
    if (m->i32_count > 4 || m->u64_count > 4 || m->s64_count > 4 || m->f32_count > 4 || m->sf64_count > 4 ||
        m->flags_count > 4 || m->colors_count > 4 || m->texts_count > 3 || m->blobs_count > 3 ||
        m->items_count > 2 || m->dbls_count > 2)
        return 0;
    for (uint32_t i = 0; i < m->flags_count; i++)
        if (m->flags[i] > 1) return 0;
    for (uint32_t i = 0; i < m->texts_count; i++)
        if (!str_ok(m->texts[i], sizeof m->texts[i])) return 0;
    for (uint32_t i = 0; i < m->blobs_count; i++)
        if (m->blobs[i].size > 8) return 0;
    for (uint32_t i = 0; i < m->items_count; i++)
        if (!valid_scalars(&m->items[i])) return 0;
    return 1;
}

static int valid_choice(const conf_Choice *m)
{
    switch (m->which_pick) {
    case 0: case 2: case 5: return 1;
    case 3: return str_ok(m->pick.word, sizeof m->pick.word);
    case 4: return valid_scalars(&m->pick.nested);
    case 6: return m->pick.raw.size <= 8;
    default: return 0;
    }
}

static int valid_record(const cdf_TraceRecord *r)
{
    return str_ok(r->opener_image, sizeof r->opener_image) && r->input_head.size <= 256 &&
           (r->truncated == 0 || r->truncated == 1);
}

static int valid_batch(const cdf_TraceBatch *b)
{
    if (b->records_count > 256) return 0;
    for (uint32_t i = 0; i < b->records_count; i++)
        if (!valid_record(&b->records[i])) return 0;
    return 1;
}

static int valid_snapshot(const cdf_LedgerSnapshot *s)
{
    if (s->drives_count > 16) return 0;
    for (uint32_t d = 0; d < s->drives_count; d++) {
        const cdf_DriveLedger *l = &s->drives[d];
        if (l->owners_count > 64 || l->owners_truncated > 1) return 0;
        for (uint32_t o = 0; o < l->owners_count; o++)
            if (!str_ok(l->owners[o].image_name, sizeof l->owners[o].image_name) || l->owners[o].exclusive > 1)
                return 0;
    }
    return 1;
}

static void fill_scalars(conf_Scalars *s, int k)
{
    conf_Scalars_init(s);
    s->i32 = -1 - k; s->i64 = INT64_MIN + k; s->u32 = UINT32_MAX; s->u64 = UINT64_MAX - (uint64_t)k;
    s->s32 = INT32_MIN; s->s64 = INT64_MIN; s->f32 = 7; s->f64 = 8; s->sf32 = -9; s->sf64 = -10;
    s->flag = 1; s->color = CONF_COLOR_NEGATIVE;
    memcpy(s->text, "\xc3\xa9t\xc3\xa9", 6);
    s->blob.size = 16;
    for (int i = 0; i < 16; i++) s->blob.bytes[i] = (uint8_t)(0xf0 + i);
    s->dbl = -0.0; s->flt = 1.5f; s->high_field = 1;
}

static void fill_record(cdf_TraceRecord *r, uint64_t seq)
{
    cdf_TraceRecord_init(r);
    r->seq = seq; r->kind = CDF_RECORD_KIND_COMPLETION; r->request_id = seq ^ 0x8000000000000000ull;
    r->timestamp = 133771234567890123ull + seq; r->drive_id = 1; r->handle_id = 0x1000 + seq;
    r->pid = 4321; r->tid = 8765; r->requestor_pid = 4; r->opener_pid = 4321;
    memcpy(r->opener_image, "wmplayer.exe", 13);
    r->major = 14; r->ioctl_code = 0x2D4804u; r->normalized_code = 0x2D4804u;
    r->input_length = 300; r->output_length = 0; r->input_head.size = 64;
    for (int i = 0; i < 64; i++) r->input_head.bytes[i] = (uint8_t)(i * 37);
    r->truncated = 1; r->status = 0xC0000022u; r->information = 0; r->duration = 12345;
    r->decision = CDF_DECISION_DENY; r->reason = CDF_REASON_EJECT_UNDER_LOCK;
    r->secure_total = 1; r->simple_total = 0; r->count_released = 0;
}

static void test_short_output_and_truncation(void)
{
    static conf_Scalars sc;
    static conf_Repeated rp;
    static conf_Choice ch;
    static cdf_TraceBatch batch;
    static cdf_LedgerSnapshot snap;
    static cdf_InfoReply info;
    static uint8_t enc[200000];
    size_t n;

    fill_scalars(&sc, 0);
    ENCODE_SHORT(conf_Scalars, &sc, "Scalars");
    CHECK(conf_Scalars_encode(&sc, enc, sizeof enc, &n) == CDF_PB_OK, "Scalars encode");
    DECODE_PREFIXES(conf_Scalars, enc, n, valid_scalars, "Scalars");

    conf_Repeated_init(&rp);
    rp.i32_count = 4; rp.i32[0] = -1; rp.i32[1] = 0; rp.i32[2] = INT32_MAX; rp.i32[3] = 300;
    rp.u64_count = 2; rp.u64[0] = UINT64_MAX; rp.u64[1] = 1;
    rp.s64_count = 1; rp.s64[0] = INT64_MIN;
    rp.f32_count = 3; rp.sf64_count = 1; rp.sf64[0] = -1;
    rp.flags_count = 4; rp.flags[1] = 1;
    rp.colors_count = 2; rp.colors[0] = CONF_COLOR_RED; rp.colors[1] = CONF_COLOR_NEGATIVE;
    rp.texts_count = 3; memcpy(rp.texts[0], "abcdefgh", 9); memcpy(rp.texts[2], "\xe2\x82\xac", 4);
    rp.blobs_count = 2; rp.blobs[0].size = 8; rp.blobs[1].size = 0;
    rp.items_count = 2; fill_scalars(&rp.items[0], 1); fill_scalars(&rp.items[1], 2);
    rp.dbls_count = 2; rp.dbls[0] = 1e300; rp.dbls[1] = -0.0;
    ENCODE_SHORT(conf_Repeated, &rp, "Repeated");
    CHECK(conf_Repeated_encode(&rp, enc, sizeof enc, &n) == CDF_PB_OK, "Repeated encode");
    DECODE_PREFIXES(conf_Repeated, enc, n, valid_repeated, "Repeated");

    conf_Choice_init(&ch);
    ch.before = 1; ch.after = UINT32_MAX; ch.which_pick = conf_Choice_nested_FIELD; fill_scalars(&ch.pick.nested, 3);
    ENCODE_SHORT(conf_Choice, &ch, "Choice.nested");
    CHECK(conf_Choice_encode(&ch, enc, sizeof enc, &n) == CDF_PB_OK, "Choice encode");
    DECODE_PREFIXES(conf_Choice, enc, n, valid_choice, "Choice.nested");
    conf_Choice_init(&ch);
    ch.which_pick = conf_Choice_word_FIELD; memcpy(ch.pick.word, "twelve bytes", 13);
    ENCODE_SHORT(conf_Choice, &ch, "Choice.word");
    ch.which_pick = conf_Choice_signed_FIELD; ch.pick.signed_ = INT64_MIN;
    ENCODE_SHORT(conf_Choice, &ch, "Choice.signed");

    cdf_InfoReply_init(&info);
    info.protocol_version = 1; info.compatible = 1; memcpy(info.driver_version, "0.1.0", 6);
    info.host = CDF_HOST_KIND_KMDF; info.wall_clock_anchor = UINT64_MAX; info.newest_seq = UINT64_MAX;
    ENCODE_SHORT(cdf_InfoReply, &info, "InfoReply");

    cdf_TraceBatch_init(&batch);
    batch.records_count = 256;
    for (uint32_t i = 0; i < 256; i++) fill_record(&batch.records[i], 0xFFFFFFFF00000000ull + i);
    batch.dropped = 3; batch.next_cursor = 0xFFFFFFFF000000FFull; batch.oldest_seq = 1; batch.newest_seq = UINT64_MAX;
    {
        /* every capacity below a full batch is ~100k encodes: test the last 300 and a stride */
        size_t need = cdf_TraceBatch_size(&batch);
        CHECK(need <= cdf_TraceBatch_MAX_SIZE, "TraceBatch size %zu > MAX_SIZE", need);
        for (size_t cap = 0; cap < need; cap += (cap + 300 < need) ? 97 : 1) {
            uint8_t *b = (uint8_t *)malloc(cap);
            size_t wr = 0;
            int c = cdf_TraceBatch_encode(&batch, b, cap, &wr);
            free(b);
            if (c != CDF_PB_ERR_OUTPUT_FULL) {
                CHECK(0, "TraceBatch: encode into %zu of %zu bytes gave %d", cap, need, c);
                break;
            }
            g_pass++;
        }
    }
    batch.records_count = 3;
    ENCODE_SHORT(cdf_TraceBatch, &batch, "TraceBatch(3)");
    CHECK(cdf_TraceBatch_encode(&batch, enc, sizeof enc, &n) == CDF_PB_OK, "TraceBatch encode");
    DECODE_PREFIXES(cdf_TraceBatch, enc, n, valid_batch, "TraceBatch(3)");

    cdf_LedgerSnapshot_init(&snap);
    snap.taken_at = 987654321012ull; snap.seq = 1ull << 40; snap.drives_count = 2;
    for (uint32_t d = 0; d < 2; d++) {
        cdf_DriveLedger *l = &snap.drives[d];
        l->drive_id = d; l->secure_total = 3; l->owners_count = 3; l->owners_truncated = (uint8_t)d;
        for (uint32_t o = 0; o < 3; o++) {
            l->owners[o].handle_id = 0x1000 + o; l->owners[o].pid = 4000 + o;
            memcpy(l->owners[o].image_name, "explorer.exe", 13);
            l->owners[o].secure_count = 1; l->owners[o].exclusive = (uint8_t)(o == 0);
        }
    }
    ENCODE_SHORT(cdf_LedgerSnapshot, &snap, "LedgerSnapshot");
    CHECK(cdf_LedgerSnapshot_encode(&snap, enc, sizeof enc, &n) == CDF_PB_OK, "LedgerSnapshot encode");
    DECODE_PREFIXES(cdf_LedgerSnapshot, enc, n, valid_snapshot, "LedgerSnapshot");

    /* NULL arguments */
    {
        size_t wr = 0;
        uint8_t one[1] = {0};
        CHECK(conf_Scalars_encode(NULL, enc, sizeof enc, &wr) == CDF_PB_ERR_ARG, "encode(NULL msg)");
        CHECK(conf_Scalars_decode(NULL, one, 1) == CDF_PB_ERR_ARG, "decode(NULL msg)");
        CHECK(conf_Scalars_decode(&sc, NULL, 1) == CDF_PB_ERR_ARG, "decode(NULL buf, len 1)");
        CHECK(conf_Scalars_encode(&sc, NULL, 10, &wr) == CDF_PB_ERR_ARG, "encode(NULL buf, cap 10)");
    }
    /* encode rejects counts over the bound instead of reading past the array */
    {
        static conf_Repeated bad;
        size_t wr = 0;
        conf_Repeated_init(&bad);
        bad.i32_count = 5;
        CHECK(conf_Repeated_encode(&bad, enc, sizeof enc, &wr) == CDF_PB_ERR_BOUND, "encode count over bound");
        conf_Repeated_init(&bad);
        bad.blobs_count = 1; bad.blobs[0].size = 9;
        CHECK(conf_Repeated_encode(&bad, enc, sizeof enc, &wr) == CDF_PB_ERR_BOUND, "encode bytes size over bound");
    }
}

/* ---- decoding merges and resets ----------------------------------------------------------- */

static void test_semantics(void)
{
    wbuf w;
    static conf_Choice ch;
    static conf_Optionals op;
    /* last oneof member wins; a later different member replaces the earlier */
    reset(&w); put_ld(&w, 3, "word", 4); put_tag(&w, 2, 0); put(&w, 7);
    {
        uint8_t *in = heap_copy(w.b, w.n);
        int c = conf_Choice_decode(&ch, in, w.n);
        free(in);
        CHECK(c == CDF_PB_OK && ch.which_pick == conf_Choice_number_FIELD && ch.pick.number == 7, "oneof last wins");
    }
    /* singular sub-messages merge: sub{i32:1} sub{u32:2} -> sub{i32:1 u32:2} */
    reset(&w); put_ld(&w, 4, "\x08\x01", 2); put_ld(&w, 4, "\x18\x02", 2);
    {
        uint8_t *in = heap_copy(w.b, w.n);
        int c = conf_Optionals_decode(&op, in, w.n);
        free(in);
        CHECK(c == CDF_PB_OK && op.has_sub && op.sub.i32 == 1 && op.sub.u32 == 2, "sub-message merge");
    }
    /* decode initialises first: stale state from a previous decode is gone */
    reset(&w);
    {
        uint8_t one[1] = {0};
        int c = conf_Optionals_decode(&op, one, 0);
        CHECK(c == CDF_PB_OK && !op.has_sub && !op.has_maybe_u32 && op.sub.i32 == 0, "decode resets the message");
    }
    /* bool decodes to 0/1 whatever the varint */
    reset(&w); put_tag(&w, 11, 0); put_varint(&w, 0x100000000ull);
    {
        static conf_Scalars s;
        uint8_t *in = heap_copy(w.b, w.n);
        int c = conf_Scalars_decode(&s, in, w.n);
        free(in);
        CHECK(c == CDF_PB_OK && s.flag == 1, "bool 2^32 -> 1 (got %d, %u)", c, (unsigned)s.flag);
    }
    /* int32 sent as a 10-byte negative and as a 5-byte truncated value */
    reset(&w); put_tag(&w, 1, 0); put_varint(&w, (uint64_t)(int64_t)-2);
    {
        static conf_Scalars s;
        uint8_t *in = heap_copy(w.b, w.n);
        int c = conf_Scalars_decode(&s, in, w.n);
        free(in);
        CHECK(c == CDF_PB_OK && s.i32 == -2, "int32 -2 (10 bytes)");
    }
}

int main(void)
{
    test_error_codes();
    test_framing();
    test_bounds();
    test_wire_mismatch();
    test_strings();
    test_unknown_fields();
    test_depth();
    test_short_output_and_truncation();
    test_semantics();
    printf("codec_malformed with CDF_PB_MAX_DEPTH=%d\n", (int)CDF_PB_MAX_DEPTH);
    printf("codec_malformed: %u passed, %u failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}
