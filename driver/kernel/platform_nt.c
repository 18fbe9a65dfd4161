/*
 * platform_nt.c - the core's platform layer (cdf_platform.h) for kernel-mode hosts.
 *
 * Shared by the KMDF filter (built with the WDK) and the WDM test host that runs under Wine
 * (built with mingw-w64 and its DDK headers), so it uses WDM routines only: no WDF, nothing
 * mingw-w64's ntddk.h lacks, nothing the Wine ntoskrnl/hal do not export.
 *
 * Link note for mingw-w64 builds: KeQueryPerformanceCounter lives in hal.dll (-lhal), the
 * rest in ntoskrnl.exe (-lntoskrnl).
 */
#include <ntddk.h>

#include "cdf_platform.h"

/*
 * Pool tag 'fdCc': the multi-character constant spelled out, because gcc warns about
 * multi-character literals. Pool tools (!poolused, PoolMon) show it as "cCdf".
 */
#define CDF_POOL_TAG ((ULONG)'c' | ((ULONG)'C' << 8) | ((ULONG)'d' << 16) | ((ULONG)'f' << 24))

#define CDF_100NS_PER_SECOND 10000000ull

/*
 * What a cdf_lock holds in a kernel host: the spin lock and the IRQL saved by the acquire,
 * restored by the release. Only the holder touches saved_irql, so one slot is enough.
 */
typedef struct cdf_nt_lock {
    KSPIN_LOCK spin_lock;
    KIRQL saved_irql;
} cdf_nt_lock;

_Static_assert(sizeof(cdf_nt_lock) <= sizeof(cdf_lock), "cdf_nt_lock must fit in cdf_lock");
_Static_assert(_Alignof(cdf_nt_lock) <= _Alignof(cdf_lock), "cdf_lock alignment too small");

static cdf_nt_lock *cdf_nt_lock_of(cdf_lock *lock)
{
    return (cdf_nt_lock *)(void *)lock->storage;
}

/* PASSIVE_LEVEL (any IRQL would do: KeInitializeSpinLock only writes the lock). */
void cdf_lock_init(cdf_lock *lock)
{
    cdf_nt_lock *nt_lock = cdf_nt_lock_of(lock);

    RtlZeroMemory(lock, sizeof(*lock));
    KeInitializeSpinLock(&nt_lock->spin_lock);
}

/* A spin lock owns no resource: nothing to give back. */
void cdf_lock_destroy(cdf_lock *lock)
{
    UNREFERENCED_PARAMETER(lock);
}

/* _IRQL_requires_max_(DISPATCH_LEVEL) _IRQL_raises_(DISPATCH_LEVEL) */
void cdf_lock_acquire(cdf_lock *lock)
{
    cdf_nt_lock *nt_lock = cdf_nt_lock_of(lock);
    KIRQL old_irql;

    KeAcquireSpinLock(&nt_lock->spin_lock, &old_irql);
    nt_lock->saved_irql = old_irql;
}

/* _IRQL_requires_(DISPATCH_LEVEL): restores the IRQL saved by cdf_lock_acquire. */
void cdf_lock_release(cdf_lock *lock)
{
    cdf_nt_lock *nt_lock = cdf_nt_lock_of(lock);
    KIRQL old_irql = nt_lock->saved_irql;

    KeReleaseSpinLock(&nt_lock->spin_lock, old_irql);
}

/*
 * Scale a performance-counter reading to 100 ns units without overflowing: whole seconds and
 * the remainder are scaled separately. The remainder is below the frequency, so the product
 * stays below 2^64 for any frequency under 1.8 THz (real counters run at 10 MHz to a few GHz).
 */
static uint64_t cdf_ticks_to_100ns(uint64_t ticks, uint64_t frequency)
{
    uint64_t seconds = ticks / frequency;
    uint64_t remainder = ticks % frequency;

    return seconds * CDF_100NS_PER_SECOND + (remainder * CDF_100NS_PER_SECOND) / frequency;
}

/* Any IRQL. Monotonic: the performance counter never goes back (documented for
 * KeQueryPerformanceCounter; QPC is consistent across processors since Windows Vista). */
uint64_t cdf_clock_now(void)
{
    LARGE_INTEGER frequency;
    LARGE_INTEGER ticks = KeQueryPerformanceCounter(&frequency);

    if (frequency.QuadPart <= 0 || ticks.QuadPart < 0) {
        return 0;
    }
    return cdf_ticks_to_100ns((uint64_t)ticks.QuadPart, (uint64_t)frequency.QuadPart);
}

/*
 * Any IRQL. FILETIME (100 ns since 1601-01-01 UTC). The WDK build reads the precise system
 * time (Windows 8+; the INF targets Windows 10). mingw-w64's DDK headers do not declare
 * KeQuerySystemTimePrecise and Wine's ntoskrnl does not export it, so there the clock-tick
 * resolution KeQuerySystemTime (10-15 ms) is used; cdf_clock_now carries fine timing anyway.
 */
uint64_t cdf_clock_wall(void)
{
    LARGE_INTEGER now;

#if defined(__MINGW32__)
    KeQuerySystemTime(&now);
#else
    KeQuerySystemTimePrecise(&now);
#endif
    return (uint64_t)now.QuadPart;
}

/*
 * PASSIVE_LEVEL or APC_LEVEL in practice (initialisation only; the pool routines allow
 * DISPATCH_LEVEL for non-paged pool). Non-executable non-paged pool, zeroed.
 * ExAllocatePool2 zeroes by itself but exists only from Windows 10 2004 (and not in mingw-w64),
 * so it is used only when the WDK build targets 2004 or later.
 */
void *cdf_mem_reserve(size_t bytes)
{
    void *p;

    if (bytes == 0) {
        return NULL;
    }
#if !defined(__MINGW32__) && defined(NTDDI_WIN10_VB) && (NTDDI_VERSION >= NTDDI_WIN10_VB)
    p = ExAllocatePool2(POOL_FLAG_NON_PAGED, bytes, CDF_POOL_TAG);
#else
    p = ExAllocatePoolWithTag(NonPagedPoolNx, bytes, CDF_POOL_TAG);
    if (p != NULL) {
        RtlZeroMemory(p, bytes);
    }
#endif
    return p;
}

/* IRQL <= DISPATCH_LEVEL. */
void cdf_mem_release(void *p)
{
    if (p != NULL) {
        ExFreePoolWithTag(p, CDF_POOL_TAG);
    }
}
