/*
 * name.c - NT names (counted UTF-16) to the UTF-8 the core and the trace protocol carry.
 *
 * Hand-written rather than RtlUnicodeToUTF8N so that a name cut to fit always ends on a
 * character boundary (the protobuf encoder rejects broken UTF-8), and so the routine runs at
 * any IRQL without a pageable callee.
 */
#include "driver.h"

#define CDF_REPLACEMENT_CHARACTER 0xFFFDu

/* Index of the first character after the last backslash of Path (0 when there is none). */
static USHORT CdfLastComponentStart(_In_ PCUNICODE_STRING Path)
{
    USHORT count = Path->Length / sizeof(WCHAR);
    USHORT i;

    for (i = count; i > 0; i--) {
        if (Path->Buffer[i - 1] == L'\\') {
            return i;
        }
    }
    return 0;
}

/* The code point starting at Chars[*Index] (a surrogate pair counts once); advances *Index.
 * Unpaired surrogates give U+FFFD. */
static uint32_t CdfNextCodePoint(_In_reads_(Count) const WCHAR *Chars, _In_ USHORT Count,
                                 _Inout_ USHORT *Index)
{
    uint32_t unit = Chars[*Index];
    uint32_t low;

    *Index += 1;
    if (unit < 0xD800u || unit > 0xDFFFu) {
        return unit;
    }
    if (unit >= 0xDC00u || *Index >= Count) {
        return CDF_REPLACEMENT_CHARACTER;
    }
    low = Chars[*Index];
    if (low < 0xDC00u || low > 0xDFFFu) {
        return CDF_REPLACEMENT_CHARACTER;
    }
    *Index += 1;
    return 0x10000u + ((unit - 0xD800u) << 10) + (low - 0xDC00u);
}

/* Encode CodePoint into Out (4 bytes of room); returns the byte count. */
static size_t CdfEncodeUtf8(_In_ uint32_t CodePoint, _Out_writes_bytes_(4) char *Out)
{
    if (CodePoint < 0x80u) {
        Out[0] = (char)CodePoint;
        return 1;
    }
    if (CodePoint < 0x800u) {
        Out[0] = (char)(0xC0u | (CodePoint >> 6));
        Out[1] = (char)(0x80u | (CodePoint & 0x3Fu));
        return 2;
    }
    if (CodePoint < 0x10000u) {
        Out[0] = (char)(0xE0u | (CodePoint >> 12));
        Out[1] = (char)(0x80u | ((CodePoint >> 6) & 0x3Fu));
        Out[2] = (char)(0x80u | (CodePoint & 0x3Fu));
        return 3;
    }
    Out[0] = (char)(0xF0u | (CodePoint >> 18));
    Out[1] = (char)(0x80u | ((CodePoint >> 12) & 0x3Fu));
    Out[2] = (char)(0x80u | ((CodePoint >> 6) & 0x3Fu));
    Out[3] = (char)(0x80u | (CodePoint & 0x3Fu));
    return 4;
}

/* Any IRQL (Path must be resident). A NUL code unit ends the name: the protocol's strings
 * carry no NUL. */
_Use_decl_annotations_
VOID CdfLastComponentToUtf8(PCUNICODE_STRING Path, char *Name, size_t NameBytes)
{
    USHORT count = Path->Length / sizeof(WCHAR);
    USHORT index = CdfLastComponentStart(Path);
    size_t used = 0;
    char encoded[4];
    size_t length;
    uint32_t codePoint;

    while (index < count) {
        codePoint = CdfNextCodePoint(Path->Buffer, count, &index);
        if (codePoint == 0) {
            break;
        }
        length = CdfEncodeUtf8(codePoint, encoded);
        if (length >= NameBytes - used) {
            break;
        }
        RtlCopyMemory(Name + used, encoded, length);
        used += length;
    }
    Name[used] = '\0';
}
