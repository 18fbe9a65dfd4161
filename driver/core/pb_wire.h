/*
 * pb_wire.h - protobuf wire-format primitives shared by every generated codec (src/codegen).
 *
 * Kernel-safe by construction: C11, no heap, no libc beyond memcpy/memset, no recursion. Every
 * reader takes the current position by pointer and an exclusive end pointer and never reads at
 * or past `end`; every writer is called only after the generated *_size_ pass proved that the
 * whole encoding fits (see docs/security.md). Error codes are shared with src/client/wire.ts.
 * Wire format reference: https://protobuf.dev/programming-guides/encoding/
 */
#ifndef CDF_PB_WIRE_H
#define CDF_PB_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest message nesting decode accepts (the top-level message is depth 1). */
#ifndef CDF_PB_MAX_DEPTH
#define CDF_PB_MAX_DEPTH 8u
#endif

/* Error codes (int, 0 = success). Keep in sync with WireErrorCode in src/client/wire.ts. */
#define CDF_PB_OK                  0  /* success */
#define CDF_PB_ERR_TRUNCATED       1  /* input ends inside a tag, varint or fixed value */
#define CDF_PB_ERR_VARINT_TOO_LONG 2  /* varint over 10 bytes, or a 10th byte above 1 */
#define CDF_PB_ERR_FIELD_ZERO      3  /* field number 0 (or a tag above 2^32-1: number > 2^29-1) */
#define CDF_PB_ERR_BAD_WIRE_TYPE   4  /* wire type 3, 4 (groups), 6 or 7 */
#define CDF_PB_ERR_LENGTH          5  /* length-delimited value runs past the end of its message */
#define CDF_PB_ERR_BOUND           6  /* string/bytes/repeated over its declared bound */
#define CDF_PB_ERR_WIRE_MISMATCH   7  /* known field with the wrong wire type */
#define CDF_PB_ERR_DEPTH           8  /* nesting deeper than CDF_PB_MAX_DEPTH */
#define CDF_PB_ERR_OUTPUT_FULL     9  /* encode buffer too small: nothing past cap was written */
#define CDF_PB_ERR_STRING          10 /* string not valid UTF-8, or containing NUL */
#define CDF_PB_ERR_ARG             11 /* NULL argument, or a oneof selector naming no member */

/* What *_size() returns for a message that encode would reject (bound, string or selector). */
#define CDF_PB_SIZE_INVALID ((size_t)-1)

#define CDF_PB_WT_VARINT  0u
#define CDF_PB_WT_FIXED64 1u
#define CDF_PB_WT_LEN     2u
#define CDF_PB_WT_FIXED32 5u

#if defined(_MSC_VER) && !defined(__clang__)
#define CDF_PB_INLINE static __inline
#else
#define CDF_PB_INLINE static inline
#endif

/* Short English description of an error code above; never NULL. */
const char *cdf_pb_strerror(int err);

/* CDF_PB_OK if s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF) without a NUL byte, else CDF_PB_ERR_STRING. */
int cdf_pb_utf8_check(/* _In_reads_bytes_(len) */ const uint8_t *s, size_t len);

/* ---- decoding: each reader advances *pp only on success and never reads at or past end ---- */

/* Varint of up to 10 bytes (out-of-line part of cdf_pb_get_varint). */
int cdf_pb_get_varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *out);

/* Skips one value of an unknown field. Rejects wire types 3, 4, 6, 7 (CDF_PB_ERR_BAD_WIRE_TYPE);
 * with `known` set (the field number exists with another wire type) gives
 * CDF_PB_ERR_WIRE_MISMATCH instead of skipping. */
int cdf_pb_skip_field(const uint8_t **pp, const uint8_t *end, uint32_t tag, unsigned known);

/* Length-delimited string into dst[max_len + 1], NUL-terminated. Checks in this order: length
 * past end (LENGTH), over max_len (BOUND), UTF-8/NUL (STRING). dst is unchanged on error. */
int cdf_pb_get_string(const uint8_t **pp, const uint8_t *end,
                      /* _Out_writes_bytes_(max_len + 1) */ char *dst, size_t max_len);

/* Length-delimited bytes into dst[max_len]; *size receives the length. Unchanged on error. */
int cdf_pb_get_bytes(const uint8_t **pp, const uint8_t *end,
                     /* _Out_writes_bytes_(max_len) */ uint8_t *dst, uint32_t *size, size_t max_len);

CDF_PB_INLINE int cdf_pb_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80u) {
        *out = *p;
        *pp = p + 1;
        return CDF_PB_OK;
    }
    return cdf_pb_get_varint_slow(pp, end, out);
}

/* Tag of a field: a varint whose field number (tag >> 3) is 1..2^29-1. */
CDF_PB_INLINE int cdf_pb_get_tag(const uint8_t **pp, const uint8_t *end, uint32_t *tag)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    int err;
    if (p < end && *p < 0x80u) {
        if (*p < 8u) {
            return CDF_PB_ERR_FIELD_ZERO;
        }
        *tag = *p;
        *pp = p + 1;
        return CDF_PB_OK;
    }
    err = cdf_pb_get_varint_slow(pp, end, &v);
    if (err != CDF_PB_OK) {
        return err;
    }
    if (v > 0xFFFFFFFFu || (v >> 3) == 0u) {
        return CDF_PB_ERR_FIELD_ZERO;
    }
    *tag = (uint32_t)v;
    return CDF_PB_OK;
}

/* Length prefix of a length-delimited value; CDF_PB_ERR_LENGTH if it runs past end. */
CDF_PB_INLINE int cdf_pb_get_length(const uint8_t **pp, const uint8_t *end, size_t *len)
{
    uint64_t v = 0;
    int err = cdf_pb_get_varint(pp, end, &v);
    if (err != CDF_PB_OK) {
        return err;
    }
    if (v > (uint64_t)(size_t)(end - *pp)) {
        return CDF_PB_ERR_LENGTH;
    }
    *len = (size_t)v;
    return CDF_PB_OK;
}

CDF_PB_INLINE int cdf_pb_get_u64(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    return cdf_pb_get_varint(pp, end, out);
}

CDF_PB_INLINE int cdf_pb_get_u32(const uint8_t **pp, const uint8_t *end, uint32_t *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_varint(pp, end, &v);
    if (err == CDF_PB_OK) {
        *out = (uint32_t)v; /* protobuf truncates wider varints to the field's width */
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_i32(const uint8_t **pp, const uint8_t *end, int32_t *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_varint(pp, end, &v);
    if (err == CDF_PB_OK) {
        *out = (int32_t)(uint32_t)v;
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_i64(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_varint(pp, end, &v);
    if (err == CDF_PB_OK) {
        *out = (int64_t)v;
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_s32(const uint8_t **pp, const uint8_t *end, int32_t *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_varint(pp, end, &v);
    if (err == CDF_PB_OK) {
        uint32_t u = (uint32_t)v;
        *out = (int32_t)((u >> 1) ^ (0u - (u & 1u)));
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_s64(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_varint(pp, end, &v);
    if (err == CDF_PB_OK) {
        *out = (int64_t)((v >> 1) ^ (0u - (v & 1u)));
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_bool(const uint8_t **pp, const uint8_t *end, uint8_t *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_varint(pp, end, &v);
    if (err == CDF_PB_OK) {
        *out = (uint8_t)(v != 0u);
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_fixed32(const uint8_t **pp, const uint8_t *end, uint32_t *out)
{
    const uint8_t *p = *pp;
    if ((size_t)(end - p) < 4u) {
        return CDF_PB_ERR_TRUNCATED;
    }
    *out = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    *pp = p + 4;
    return CDF_PB_OK;
}

CDF_PB_INLINE int cdf_pb_get_fixed64(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if ((size_t)(end - p) < 8u) {
        return CDF_PB_ERR_TRUNCATED;
    }
    *out = (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) |
           ((uint64_t)p[3] << 24) | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) |
           ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
    *pp = p + 8;
    return CDF_PB_OK;
}

CDF_PB_INLINE int cdf_pb_get_sfixed32(const uint8_t **pp, const uint8_t *end, int32_t *out)
{
    uint32_t v = 0;
    int err = cdf_pb_get_fixed32(pp, end, &v);
    if (err == CDF_PB_OK) {
        *out = (int32_t)v;
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_sfixed64(const uint8_t **pp, const uint8_t *end, int64_t *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_fixed64(pp, end, &v);
    if (err == CDF_PB_OK) {
        *out = (int64_t)v;
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_float(const uint8_t **pp, const uint8_t *end, float *out)
{
    uint32_t v = 0;
    int err = cdf_pb_get_fixed32(pp, end, &v);
    if (err == CDF_PB_OK) {
        memcpy(out, &v, sizeof v);
    }
    return err;
}

CDF_PB_INLINE int cdf_pb_get_double(const uint8_t **pp, const uint8_t *end, double *out)
{
    uint64_t v = 0;
    int err = cdf_pb_get_fixed64(pp, end, &v);
    if (err == CDF_PB_OK) {
        memcpy(out, &v, sizeof v);
    }
    return err;
}

/* ---- sizing ---- */

CDF_PB_INLINE size_t cdf_pb_varint32_size(uint32_t v)
{
    if (v < (1u << 7)) return 1u;
    if (v < (1u << 14)) return 2u;
    if (v < (1u << 21)) return 3u;
    if (v < (1u << 28)) return 4u;
    return 5u;
}

CDF_PB_INLINE size_t cdf_pb_varint64_size(uint64_t v)
{
    size_t n = 1u;
    if (v < 0x80u) {
        return 1u;
    }
    if (v <= 0xFFFFFFFFu) {
        return cdf_pb_varint32_size((uint32_t)v);
    }
    while (v >= 0x80u) {
        v >>= 7;
        n++;
    }
    return n;
}

/* int32 and enum values: negative ones are sign-extended to 64 bits (10 bytes), as protoc does. */
CDF_PB_INLINE size_t cdf_pb_int32_size(int32_t v)
{
    return v < 0 ? 10u : cdf_pb_varint32_size((uint32_t)v);
}

CDF_PB_INLINE uint32_t cdf_pb_zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31));
}

CDF_PB_INLINE uint64_t cdf_pb_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (0u - ((uint64_t)v >> 63));
}

CDF_PB_INLINE uint32_t cdf_pb_float_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

CDF_PB_INLINE uint64_t cdf_pb_double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* Length of the NUL-terminated s, at most max_len bytes; CDF_PB_ERR_BOUND if s[0..max_len] holds
 * no NUL, CDF_PB_ERR_STRING if it is not UTF-8. Reads at most max_len + 1 bytes of s. */
int cdf_pb_string_len(/* _In_reads_(max_len + 1) */ const char *s, size_t max_len, size_t *len);

/* Length of s without validation; the caller proved it with cdf_pb_string_len. */
CDF_PB_INLINE size_t cdf_pb_strnlen(const char *s, size_t max_len)
{
    size_t n = 0;
    while (n < max_len && s[n] != '\0') {
        n++;
    }
    return n;
}

/* ---- encoding: callers have sized the output, so writers do not check space ---- */

CDF_PB_INLINE uint8_t *cdf_pb_put_varint32(uint8_t *p, uint32_t v)
{
    while (v >= 0x80u) {
        *p++ = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

CDF_PB_INLINE uint8_t *cdf_pb_put_varint64(uint8_t *p, uint64_t v)
{
    while (v >= 0x80u) {
        *p++ = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

CDF_PB_INLINE uint8_t *cdf_pb_put_int32(uint8_t *p, int32_t v)
{
    if (v < 0) {
        return cdf_pb_put_varint64(p, (uint64_t)(int64_t)v);
    }
    return cdf_pb_put_varint32(p, (uint32_t)v);
}

CDF_PB_INLINE uint8_t *cdf_pb_put_fixed32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

CDF_PB_INLINE uint8_t *cdf_pb_put_fixed64(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    p[4] = (uint8_t)(v >> 32);
    p[5] = (uint8_t)(v >> 40);
    p[6] = (uint8_t)(v >> 48);
    p[7] = (uint8_t)(v >> 56);
    return p + 8;
}

/* Length prefix then the bytes. */
CDF_PB_INLINE uint8_t *cdf_pb_put_bytes(uint8_t *p, const void *src, size_t len)
{
    p = cdf_pb_put_varint32(p, (uint32_t)len);
    if (len != 0u) {
        memcpy(p, src, len);
    }
    return p + len;
}

#ifdef __cplusplus
}
#endif

#endif /* CDF_PB_WIRE_H */
