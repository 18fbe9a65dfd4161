/*
 * cdf_platform.h - the tiny platform interface every host implements once.
 *
 * The core (ledger, trace ring, control dispatcher) never calls an OS API directly: it uses
 * these functions only. Implementations:
 *   driver/core/platform_host.c   user mode (pthreads; simulator, tests, benchmarks)
 *   driver/kernel/platform_nt.c   kernel hosts, KMDF driver and Wine WDM host alike
 *                                 (KSPIN_LOCK, KeQueryPerformanceCounter, non-paged pool)
 */
#ifndef CDF_PLATFORM_H
#define CDF_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* Storage for one host lock (a KSPIN_LOCK and the saved IRQL, a pthread mutex, ...).
 * Opaque to the core; 64 bytes, 8-byte aligned. */
typedef struct cdf_lock {
    uint64_t storage[8];
} cdf_lock;

/* Initialise a lock. Called at initialisation only (PASSIVE_LEVEL). */
void cdf_lock_init(cdf_lock *lock);
/* Destroy a lock initialised with cdf_lock_init. */
void cdf_lock_destroy(cdf_lock *lock);
/* Acquire: non-recursive; in kernel hosts it raises to DISPATCH_LEVEL, so the holder must not
 * block, page-fault or call anything that waits. Callable at IRQL <= DISPATCH_LEVEL. */
void cdf_lock_acquire(cdf_lock *lock);
void cdf_lock_release(cdf_lock *lock);

/* Monotonic clock in 100 ns units (kernel: KeQueryPerformanceCounter scaled; never goes back). */
uint64_t cdf_clock_now(void);
/* Wall clock as a FILETIME: 100 ns units since 1601-01-01 UTC (KeQuerySystemTimePrecise). */
uint64_t cdf_clock_wall(void);

/* Reserve zeroed non-paged memory. Called at initialisation only, never on the I/O path.
 * Returns NULL on failure (the caller fails with STATUS_INSUFFICIENT_RESOURCES). */
void *cdf_mem_reserve(size_t bytes);
/* Give back memory from cdf_mem_reserve (NULL is ignored). */
void cdf_mem_release(void *p);

#endif /* CDF_PLATFORM_H */
