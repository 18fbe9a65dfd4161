/*
 * win32.c - the few Win32 services of the WDF-contract harness, apart from the DDK headers
 * (ntifs.h and windows.h do not mix): the image's PAGE/INIT sections, the performance counter,
 * the cr8 emulation and child processes.
 */
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "win32.h"

static unsigned char *g_irql;

void win32_sections(uintptr_t *page_lo, uintptr_t *page_hi, uintptr_t *init_lo, uintptr_t *init_hi)
{
    BYTE *base = (BYTE *)GetModuleHandleW(NULL);
    IMAGE_DOS_HEADER *dos = (IMAGE_DOS_HEADER *)base;
    IMAGE_NT_HEADERS *nt = (IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    IMAGE_SECTION_HEADER *s = IMAGE_FIRST_SECTION(nt);
    WORD i;

    *page_lo = *page_hi = *init_lo = *init_hi = 0;
    for (i = 0; i < nt->FileHeader.NumberOfSections; i++, s++) {
        uintptr_t lo = (uintptr_t)(base + s->VirtualAddress);
        uintptr_t hi = lo + s->Misc.VirtualSize;
        if (memcmp(s->Name, "PAGE\0", 5) == 0) {
            *page_lo = lo;
            *page_hi = hi;
        } else if (memcmp(s->Name, "INIT\0", 5) == 0) {
            *init_lo = lo;
            *init_hi = hi;
        }
    }
}

long long win32_counter(long long *frequency)
{
    LARGE_INTEGER now, f;
    QueryPerformanceCounter(&now);
    QueryPerformanceFrequency(&f);
    if (frequency != NULL) {
        *frequency = f.QuadPart;
    }
    return now.QuadPart;
}

/* mov reg, cr8 / mov cr8, reg (KeGetCurrentIrql and KeRaiseIrql are inline on x64): answered
 * from the model's IRQL. Anything else goes on to Wine's ntoskrnl, which emulates reads of
 * KUSER_SHARED_DATA (KeQuerySystemTime is an inline read of it on x64). */
static LONG CALLBACK win32_veh(PEXCEPTION_POINTERS info)
{
    CONTEXT *c = info->ContextRecord;
    BYTE *p = (BYTE *)c->Rip;
    DWORD64 *regs[16] = { &c->Rax, &c->Rcx, &c->Rdx, &c->Rbx, &c->Rsp, &c->Rbp, &c->Rsi, &c->Rdi,
                          &c->R8,  &c->R9,  &c->R10, &c->R11, &c->R12, &c->R13, &c->R14, &c->R15 };
    unsigned i = 0, rex = 0;

    if (info->ExceptionRecord->ExceptionCode != EXCEPTION_PRIV_INSTRUCTION) {
        return EXCEPTION_CONTINUE_SEARCH;
    }
    if ((p[0] & 0xF0) == 0x40) {
        rex = p[0];
        i = 1;
    }
    if (p[i] == 0x0F && (p[i + 1] == 0x20 || p[i + 1] == 0x22) && (p[i + 2] >> 6) == 3) {
        unsigned cr = ((p[i + 2] >> 3) & 7) | ((rex & 4) ? 8 : 0);
        unsigned reg = (p[i + 2] & 7) | ((rex & 1) ? 8 : 0);
        if (cr == 8) {
            if (p[i + 1] == 0x20) {
                *regs[reg] = *g_irql;
            } else {
                *g_irql = (unsigned char)*regs[reg];
            }
            c->Rip += i + 3;
            return EXCEPTION_CONTINUE_EXECUTION;
        }
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

int win32_install(unsigned char *irql)
{
    g_irql = irql;
    if (LoadLibraryA("ntoskrnl.exe") == NULL) {
        printf("harness: Wine's ntoskrnl.exe did not load (run under Wine)\n");
        return 0;
    }
    AddVectoredExceptionHandler(1, win32_veh);
    return 1;
}

int win32_spawn(const char *self, const char *name, unsigned seed)
{
    char cmd[1024];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    DWORD code = 1;

    snprintf(cmd, sizeof(cmd), "\"%s\" %s %u", self, name, seed);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    fflush(stdout);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        printf("cannot start %s\n", cmd);
        return 1;
    }
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code == 0 ? 0 : 1;
}
