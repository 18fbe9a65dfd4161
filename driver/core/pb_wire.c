/*
 * pb_wire.c - out-of-line protobuf wire primitives (see pb_wire.h and docs/security.md).
 * No heap, no recursion, no libc beyond memcpy; every read is checked against `end`.
 */
#include "pb_wire.h"

const char *cdf_pb_strerror(int err)
{
    switch (err) {
    case CDF_PB_OK: return "success";
    case CDF_PB_ERR_TRUNCATED: return "input ends inside a tag, varint or fixed-width value";
    case CDF_PB_ERR_VARINT_TOO_LONG: return "varint longer than 10 bytes";
    case CDF_PB_ERR_FIELD_ZERO: return "invalid field number (0 or above 536870911)";
    case CDF_PB_ERR_BAD_WIRE_TYPE: return "invalid wire type (groups 3/4, or 6/7)";
    case CDF_PB_ERR_LENGTH: return "length-delimited value runs past the end of its message";
    case CDF_PB_ERR_BOUND: return "string, bytes or repeated field over its declared bound";
    case CDF_PB_ERR_WIRE_MISMATCH: return "known field with the wrong wire type";
    case CDF_PB_ERR_DEPTH: return "message nesting deeper than the limit";
    case CDF_PB_ERR_OUTPUT_FULL: return "output buffer too small";
    case CDF_PB_ERR_STRING: return "string is not valid UTF-8 or contains NUL";
    case CDF_PB_ERR_ARG: return "invalid argument";
    default: return "unknown codec error";
    }
}

/* Nonzero if any byte of the 8 bytes in w is 0 or has its top bit set. */
static uint64_t ascii_word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u;
    const uint64_t highs = 0x8080808080808080u;
    return (w | ((w - ones) & ~w)) & highs;
}

int cdf_pb_utf8_check(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c;
        if (len - i >= 8u) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            if (ascii_word_special(w) == 0u) {
                i += 8u;
                continue;
            }
        }
        c = s[i];
        if (c < 0x80u) {
            if (c == 0u) {
                return CDF_PB_ERR_STRING;
            }
            i++;
        } else {
            /* Lead byte decides the length and the allowed range of the first continuation
             * byte (RFC 3629 section 4: excludes overlongs, surrogates, > U+10FFFF). */
            size_t need;
            uint8_t lo = 0x80u, hi = 0xBFu;
            size_t k;
            if (c >= 0xC2u && c <= 0xDFu) {
                need = 1u;
            } else if (c == 0xE0u) {
                need = 2u;
                lo = 0xA0u;
            } else if (c == 0xEDu) {
                need = 2u;
                hi = 0x9Fu;
            } else if (c >= 0xE1u && c <= 0xEFu) {
                need = 2u;
            } else if (c == 0xF0u) {
                need = 3u;
                lo = 0x90u;
            } else if (c >= 0xF1u && c <= 0xF3u) {
                need = 3u;
            } else if (c == 0xF4u) {
                need = 3u;
                hi = 0x8Fu;
            } else {
                return CDF_PB_ERR_STRING;
            }
            if (len - i - 1u < need) {
                return CDF_PB_ERR_STRING;
            }
            if (s[i + 1u] < lo || s[i + 1u] > hi) {
                return CDF_PB_ERR_STRING;
            }
            for (k = 2u; k <= need; k++) {
                if ((s[i + k] & 0xC0u) != 0x80u) {
                    return CDF_PB_ERR_STRING;
                }
            }
            i += need + 1u;
        }
    }
    return CDF_PB_OK;
}

int cdf_pb_get_varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    unsigned shift = 0;
    unsigned i;
    for (i = 0; i < 10u; i++) {
        uint8_t b;
        if (p >= end) {
            return CDF_PB_ERR_TRUNCATED;
        }
        b = *p++;
        if (i == 9u && b > 1u) {
            return CDF_PB_ERR_VARINT_TOO_LONG;
        }
        v |= (uint64_t)(b & 0x7Fu) << shift;
        if (b < 0x80u) {
            *out = v;
            *pp = p;
            return CDF_PB_OK;
        }
        shift += 7u;
    }
    return CDF_PB_ERR_VARINT_TOO_LONG; /* not reached: a 10th byte <= 1 ends the varint */
}

int cdf_pb_skip_field(const uint8_t **pp, const uint8_t *end, uint32_t tag, unsigned known)
{
    uint32_t wire_type = tag & 7u;
    const uint8_t *p = *pp;
    uint64_t ignored = 0;
    size_t len = 0;
    int err;
    if (wire_type == 3u || wire_type == 4u || wire_type == 6u || wire_type == 7u) {
        return CDF_PB_ERR_BAD_WIRE_TYPE;
    }
    if (known != 0u) {
        return CDF_PB_ERR_WIRE_MISMATCH;
    }
    switch (wire_type) {
    case CDF_PB_WT_VARINT:
        return cdf_pb_get_varint(pp, end, &ignored);
    case CDF_PB_WT_FIXED64:
        if ((size_t)(end - p) < 8u) {
            return CDF_PB_ERR_TRUNCATED;
        }
        *pp = p + 8;
        return CDF_PB_OK;
    case CDF_PB_WT_FIXED32:
        if ((size_t)(end - p) < 4u) {
            return CDF_PB_ERR_TRUNCATED;
        }
        *pp = p + 4;
        return CDF_PB_OK;
    default: /* CDF_PB_WT_LEN */
        err = cdf_pb_get_length(&p, end, &len);
        if (err != CDF_PB_OK) {
            return err;
        }
        *pp = p + len;
        return CDF_PB_OK;
    }
}

int cdf_pb_get_string(const uint8_t **pp, const uint8_t *end, char *dst, size_t max_len)
{
    const uint8_t *p = *pp;
    size_t len = 0;
    int err = cdf_pb_get_length(&p, end, &len);
    if (err != CDF_PB_OK) {
        return err;
    }
    if (len > max_len) {
        return CDF_PB_ERR_BOUND;
    }
    err = cdf_pb_utf8_check(p, len);
    if (err != CDF_PB_OK) {
        return err;
    }
    if (len != 0u) {
        memcpy(dst, p, len);
    }
    dst[len] = '\0';
    *pp = p + len;
    return CDF_PB_OK;
}

int cdf_pb_get_bytes(const uint8_t **pp, const uint8_t *end, uint8_t *dst, uint32_t *size,
                     size_t max_len)
{
    const uint8_t *p = *pp;
    size_t len = 0;
    int err = cdf_pb_get_length(&p, end, &len);
    if (err != CDF_PB_OK) {
        return err;
    }
    if (len > max_len) {
        return CDF_PB_ERR_BOUND;
    }
    if (len != 0u) {
        memcpy(dst, p, len);
    }
    *size = (uint32_t)len;
    *pp = p + len;
    return CDF_PB_OK;
}

int cdf_pb_string_len(const char *s, size_t max_len, size_t *len)
{
    size_t n = 0;
    while (s[n] != '\0') {
        if (n == max_len) {
            return CDF_PB_ERR_BOUND;
        }
        n++;
    }
    *len = n;
    return cdf_pb_utf8_check((const uint8_t *)s, n);
}
