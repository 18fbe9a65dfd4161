/*
 * wine_process.c - process identity for the Wine kernel host (see wine_process.h).
 */
#include <ntifs.h>
#include <ntddk.h>

#include "wine_process.h"

/* Pool tag 'Pfdc' spelled out (gcc warns about multi-character literals). */
#define CDFW_PROCESS_TAG ((ULONG)'c' | ((ULONG)'d' << 8) | ((ULONG)'f' << 16) | ((ULONG)'P' << 24))

/* ProcessImageFileName reply: a UNICODE_STRING followed by its characters. 1 KiB of path is
 * plenty for Wine's "\??\Z:\...\node.exe"; a longer path gives STATUS_INFO_LENGTH_MISMATCH and
 * the "pid-<n>" fallback. */
#define CDFW_IMAGE_QUERY_BYTES 2048u

#define CDFW_STILL_ACTIVE 0x00000103L /* STATUS_PENDING as an exit status */

static size_t put_utf8(uint32_t cp, char *out, size_t at, size_t cap)
{
    uint8_t b[4];
    size_t len;
    size_t i;

    if (cp < 0x80u) {
        b[0] = (uint8_t)cp;
        len = 1;
    } else if (cp < 0x800u) {
        b[0] = (uint8_t)(0xC0u | (cp >> 6));
        b[1] = (uint8_t)(0x80u | (cp & 0x3Fu));
        len = 2;
    } else if (cp < 0x10000u) {
        b[0] = (uint8_t)(0xE0u | (cp >> 12));
        b[1] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu));
        b[2] = (uint8_t)(0x80u | (cp & 0x3Fu));
        len = 3;
    } else {
        b[0] = (uint8_t)(0xF0u | (cp >> 18));
        b[1] = (uint8_t)(0x80u | ((cp >> 12) & 0x3Fu));
        b[2] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu));
        b[3] = (uint8_t)(0x80u | (cp & 0x3Fu));
        len = 4;
    }
    if (at + len + 1u > cap) {
        return 0; /* no room for the whole character and the NUL */
    }
    for (i = 0; i < len; i++) {
        out[at + i] = (char)b[i];
    }
    return len;
}

size_t cdfw_utf16_basename_utf8(const uint16_t *s, size_t n, char *out, size_t cap)
{
    size_t start = 0;
    size_t i;
    size_t at = 0;

    if (cap == 0) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (s[i] == (uint16_t)'\\' || s[i] == (uint16_t)'/') {
            start = i + 1u;
        }
    }
    for (i = start; i < n; i++) {
        uint32_t cp = s[i];
        size_t wrote;

        if (cp == 0) {
            break; /* the core rejects NUL inside a name; stop at the first one */
        }
        if (cp >= 0xD800u && cp <= 0xDBFFu && i + 1u < n && s[i + 1u] >= 0xDC00u && s[i + 1u] <= 0xDFFFu) {
            cp = 0x10000u + ((cp - 0xD800u) << 10) + ((uint32_t)s[i + 1u] - 0xDC00u);
            i++;
        } else if (cp >= 0xD800u && cp <= 0xDFFFu) {
            cp = 0xFFFDu;
        }
        wrote = put_utf8(cp, out, at, cap);
        if (wrote == 0) {
            break;
        }
        at += wrote;
    }
    out[at] = '\0';
    return at;
}

static void put_pid_name(uint32_t pid, char *out, size_t cap)
{
    char digits[10];
    size_t n = 0;
    size_t at = 0;
    static const char prefix[] = "pid-";
    size_t i;

    do {
        digits[n++] = (char)('0' + (pid % 10u));
        pid /= 10u;
    } while (pid != 0 && n < sizeof(digits));
    for (i = 0; prefix[i] != '\0' && at + 1u < cap; i++) {
        out[at++] = prefix[i];
    }
    while (n > 0 && at + 1u < cap) {
        out[at++] = digits[--n];
    }
    out[at] = '\0';
}

/* ZwOpenProcess(pid) for queries; NULL when the process cannot be opened. */
static HANDLE open_process(uint32_t pid)
{
    OBJECT_ATTRIBUTES attributes;
    CLIENT_ID client;
    HANDLE process = NULL;

    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    client.UniqueProcess = (HANDLE)(ULONG_PTR)pid;
    client.UniqueThread = NULL;
    /* PROCESS_QUERY_LIMITED_INFORMATION (0x1000) is all ProcessImageFileName and
     * ProcessBasicInformation need. */
    if (!NT_SUCCESS(ZwOpenProcess(&process, 0x1000, &attributes, &client))) {
        return NULL;
    }
    return process;
}

void cdfw_process_image(uint32_t pid, char *out, size_t cap)
{
    HANDLE process;
    UCHAR *query;
    ULONG returned = 0;
    NTSTATUS status;

    if (cap == 0) {
        return;
    }
    process = open_process(pid);
    if (process == NULL) {
        put_pid_name(pid, out, cap);
        return;
    }
    /* Off the kernel stack: the reply can be a kilobyte or two. */
    query = (UCHAR *)ExAllocatePoolWithTag(NonPagedPool, CDFW_IMAGE_QUERY_BYTES, CDFW_PROCESS_TAG);
    if (query == NULL) {
        ZwClose(process);
        put_pid_name(pid, out, cap);
        return;
    }
    status = ZwQueryInformationProcess(process, ProcessImageFileName, query, CDFW_IMAGE_QUERY_BYTES,
                                       &returned);
    ZwClose(process);
    if (NT_SUCCESS(status) && returned >= sizeof(UNICODE_STRING) && returned <= CDFW_IMAGE_QUERY_BYTES) {
        const UNICODE_STRING *name = (const UNICODE_STRING *)query;
        const UCHAR *end = query + returned;
        const UCHAR *chars = (const UCHAR *)name->Buffer;

        /* Trust nothing: the characters must lie inside the reply we were given. */
        if (name->Buffer != NULL && chars >= query && chars <= end &&
            (size_t)name->Length <= (size_t)(end - chars) &&
            cdfw_utf16_basename_utf8((const uint16_t *)name->Buffer, name->Length / 2u, out, cap) > 0) {
            ExFreePoolWithTag(query, CDFW_PROCESS_TAG);
            return;
        }
    }
    ExFreePoolWithTag(query, CDFW_PROCESS_TAG);
    put_pid_name(pid, out, cap);
}

int cdfw_process_exited(uint32_t pid)
{
    HANDLE process = open_process(pid);
    PROCESS_BASIC_INFORMATION basic;
    ULONG returned = 0;
    NTSTATUS status;

    if (process == NULL) {
        return 1;
    }
    RtlZeroMemory(&basic, sizeof(basic));
    status = ZwQueryInformationProcess(process, ProcessBasicInformation, &basic, sizeof(basic), &returned);
    ZwClose(process);
    if (!NT_SUCCESS(status)) {
        return 0; /* cannot tell: say it runs (the close is then an ordinary handle close) */
    }
    return basic.ExitStatus != CDFW_STILL_ACTIVE;
}
