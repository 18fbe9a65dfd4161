/*
 * cdf_text.c - bounded UTF-8 copying (see cdf_text.h).
 */
#include <string.h>
#include "cdf_text.h"

/* Length of the well-formed sequence at s (1..4), or 0 when the byte at s starts none. */
static size_t sequence_length(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80u) return 1u;
    if (c >= 0xC2u && c <= 0xDFu) return (s[1] & 0xC0u) == 0x80u ? 2u : 0u;
    if (c >= 0xE0u && c <= 0xEFu) {
        unsigned char lo = c == 0xE0u ? 0xA0u : 0x80u, hi = c == 0xEDu ? 0x9Fu : 0xBFu;
        if (s[1] < lo || s[1] > hi) return 0u;
        return (s[2] & 0xC0u) == 0x80u ? 3u : 0u;
    }
    if (c >= 0xF0u && c <= 0xF4u) {
        unsigned char lo = c == 0xF0u ? 0x90u : 0x80u, hi = c == 0xF4u ? 0x8Fu : 0xBFu;
        if (s[1] < lo || s[1] > hi) return 0u;
        if ((s[2] & 0xC0u) != 0x80u) return 0u;
        return (s[3] & 0xC0u) == 0x80u ? 4u : 0u;
    }
    return 0u;
}

size_t cdf_utf8_copy(char *dst, size_t cap, const char *src)
{
    size_t out = 0u;
    const unsigned char *s = (const unsigned char *)src;
    memset(dst, 0, cap);
    if (src == NULL) return 0u;
    while (*s != 0u && out < cap) {
        /* continuation bytes are checked one at a time, so a NUL stops the scan in time */
        size_t n = sequence_length(s);
        if (n == 0u) {
            dst[out++] = '?';
            s++;
            continue;
        }
        if (out + n > cap) break;
        memcpy(dst + out, s, n);
        out += n;
        s += n;
    }
    return out;
}
