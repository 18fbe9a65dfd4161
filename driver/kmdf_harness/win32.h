/* win32.h - Win32 services of the WDF-contract harness (win32.c), free of windows.h types. */
#ifndef CDF_KMDF_HARNESS_WIN32_H
#define CDF_KMDF_HARNESS_WIN32_H

#include <stdint.h>

void win32_sections(uintptr_t *page_lo, uintptr_t *page_hi, uintptr_t *init_lo, uintptr_t *init_hi);
long long win32_counter(long long *frequency);
/* Loads Wine's ntoskrnl.exe and answers cr8 accesses from *irql. 0 when not under Wine. */
int win32_install(unsigned char *irql);
/* Runs `self name seed` with this process's standard handles; 0 when it exits with 0. */
int win32_spawn(const char *self, const char *name, unsigned seed);

#endif
