/*
 * cdf_text.h - bounded UTF-8 copying for names that end up in protobuf strings (opener image,
 * drive name, driver version). Protobuf strings must be valid UTF-8 without NUL, so a host's
 * malformed bytes are replaced, never passed on.
 */
#ifndef CDF_TEXT_H
#define CDF_TEXT_H

#include <stddef.h>

/* Copy src (NUL-terminated, may be NULL) into dst[0..cap): whole well-formed UTF-8 sequences
 * only (RFC 3629: no overlongs, surrogates or code points above U+10FFFF); each invalid byte
 * becomes '?'; a character that does not fit is dropped. The rest of dst is zeroed (dst is not
 * NUL-terminated when the text fills it). Returns the bytes written. */
size_t cdf_utf8_copy(char *dst, size_t cap, const char *src);

#endif /* CDF_TEXT_H */
