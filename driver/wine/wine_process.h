/*
 * wine_process.h - who sent a request, as far as Wine's ntoskrnl lets a driver find out.
 *
 * Observed under Wine 8 (docs/wine.md): PsGetCurrentProcessId() in a dispatch routine is the
 * calling process (except at IRP_MJ_CLOSE after a process died: then it is the process that
 * closed the handle, e.g. the one that terminated it, or winedevice.exe), but
 * PsGetProcessImageFileName, SeLocateProcessImageName and IoGetRequestorProcessId are
 * unimplemented stubs (a call aborts winedevice.exe). ZwOpenProcess +
 * ZwQueryInformationProcess(ProcessImageFileName / ProcessBasicInformation) work, so the image
 * name and "has this process exited" come from there.
 *
 * Both functions run at PASSIVE_LEVEL only (Zw* calls).
 */
#ifndef CDF_WINE_PROCESS_H
#define CDF_WINE_PROCESS_H

#include <stddef.h>
#include <stdint.h>

/* Longest image name the core keeps (cdf_request.image_name: at most 64 bytes of UTF-8). */
#define CDFW_IMAGE_BYTES 64u

/*
 * Write the base name of process pid's image ("node.exe") as NUL-terminated UTF-8 into
 * out (_Out_writes_bytes_(cap), cap >= 16), truncated at a character boundary to cap - 1 bytes.
 * When the name cannot be read (no such process, query refused, no memory) writes "pid-<pid>".
 * Never fails.
 */
void cdfw_process_image(uint32_t pid, char *out, size_t cap);

/*
 * 1 when process pid no longer runs: it cannot be opened, or its ExitStatus is no longer
 * STATUS_PENDING (STILL_ACTIVE, 259). 0 while it runs. Used at IRP_MJ_CLOSE to flag the close as
 * a process exit (CDF_RQ_PROCESS_EXIT): Wine sends IRP_MJ_CLOSE, never IRP_MJ_CLEANUP, when a
 * process dies with the handle open.
 */
int cdfw_process_exited(uint32_t pid);

/*
 * UTF-16 (n units, _In_reads_(n)) to UTF-8 of the part after the last '\' or '/', into out
 * (_Out_writes_bytes_(cap), cap >= 1), NUL-terminated, never splitting a character; an unpaired
 * surrogate becomes U+FFFD. Returns the bytes written before the NUL.
 */
size_t cdfw_utf16_basename_utf8(const uint16_t *s, size_t n, char *out, size_t cap);

#endif /* CDF_WINE_PROCESS_H */
