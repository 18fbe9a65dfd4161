/*
 * platform_host.c - cdf_platform.h for user mode (simulator, tests, benchmarks). Not part of
 * any kernel build.
 *
 * Lock: a C11 atomic test-and-test-and-set spinlock (one atomic exchange to take it, a release
 * store to drop it), spinning a bounded number of times before yielding the CPU with
 * sched_yield. The core holds its locks only for short, bounded work, so this is cheaper than a
 * pthread mutex (two atomic read-modify-writes) on the request path.
 *
 * Monotonic clock: the invariant TSC, as Windows' QueryPerformanceCounter does, scaled to
 * 100 ns units with a frequency calibrated once against CLOCK_MONOTONIC (10 ms, first use).
 * Used only on x86 when CPUID 0x80000007 EDX bit 8 (invariant TSC) is set and, where the file
 * is readable, the kernel itself keeps "tsc" as its clocksource (it switches away from a TSC
 * it finds unsynchronized between CPUs). Otherwise, or with CDF_HOST_CLOCK=clock_gettime in
 * the environment, CLOCK_MONOTONIC is read directly. The TSC is read after an LFENCE, so a
 * read cannot run ahead of the instructions before it (e.g. a load that saw another thread's
 * later-stamped work): readings never go back across threads.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cdf_platform.h"
#include "platform_host.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CDF_HOST_X86 1
#else
#define CDF_HOST_X86 0
#endif

/* ---- lock ---- */

typedef struct host_lock {
    atomic_uint held;
} host_lock;

_Static_assert(sizeof(host_lock) <= sizeof(cdf_lock), "host_lock must fit in cdf_lock");

#define HOST_LOCK_SPINS 256u /* polls before each sched_yield */

static host_lock *as_host(cdf_lock *lock)
{
    return (host_lock *)(void *)lock->storage;
}

static void cpu_relax(void)
{
#if CDF_HOST_X86
    __asm__ __volatile__("pause" ::: "memory");
#endif
}

void cdf_lock_init(cdf_lock *lock)
{
    atomic_init(&as_host(lock)->held, 0u);
}

void cdf_lock_destroy(cdf_lock *lock)
{
    (void)lock;
}

void cdf_lock_acquire(cdf_lock *lock)
{
    host_lock *l = as_host(lock);
    unsigned spins = 0u;
    while (atomic_exchange_explicit(&l->held, 1u, memory_order_acquire) != 0u) {
        /* wait on a plain load, so that waiters do not bounce the cache line */
        while (atomic_load_explicit(&l->held, memory_order_relaxed) != 0u) {
            if (++spins < HOST_LOCK_SPINS) {
                cpu_relax();
            } else {
                spins = 0u;
                (void)sched_yield(); /* the holder may be descheduled: let it run */
            }
        }
    }
}

void cdf_lock_release(cdf_lock *lock)
{
    atomic_store_explicit(&as_host(lock)->held, 0u, memory_order_release);
}

/* ---- monotonic clock ---- */

enum { CLOCK_UNSET = 0, CLOCK_TSC = 1, CLOCK_MONO = 2 };

static atomic_int g_clock_mode = CLOCK_UNSET; /* published with release after the fields below */
static pthread_once_t g_clock_once = PTHREAD_ONCE_INIT;
static uint64_t g_tsc_base;   /* TSC at calibration end */
static uint64_t g_mono_base;  /* CLOCK_MONOTONIC at that moment, 100 ns */
static uint64_t g_tsc_mult;   /* 100 ns units per tick, times 2^32 (< 2^32 for TSCs >= 10 MHz) */
static uint64_t g_tsc_hz;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if CDF_HOST_X86
static inline uint64_t read_tsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static int tsc_invariant(void)
{
    unsigned a, b, c, d;
    char source[32];
    FILE *f;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u) return 0;
    if (__get_cpuid(0x80000007u, &a, &b, &c, &d) == 0 || (d & (1u << 8)) == 0u) return 0;
    f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f != NULL) {
        int tsc = fgets(source, sizeof(source), f) != NULL && strncmp(source, "tsc", 3) == 0 &&
                  (source[3] == '\n' || source[3] == '\0');
        fclose(f);
        if (!tsc) return 0;
    }
    return 1;
}

/* A (tsc, CLOCK_MONOTONIC ns) pair read as close together as possible: the tightest of a few
 * bracketing TSC reads, the TSC taken at the bracket's middle. */
static void sample(uint64_t *tsc, uint64_t *ns)
{
    uint64_t best = UINT64_MAX;
    int i;
    for (i = 0; i < 7; i++) {
        uint64_t a = read_tsc(), m = mono_ns(), b = read_tsc();
        if (b >= a && b - a < best) {
            best = b - a;
            *tsc = a + (b - a) / 2u;
            *ns = m;
        }
    }
}

static uint64_t tsc_to_100ns(uint64_t ticks)
{
    return (ticks >> 32) * g_tsc_mult + (((ticks & 0xFFFFFFFFu) * g_tsc_mult) >> 32);
}
#endif

static void clock_calibrate(void)
{
    int mode = CLOCK_MONO;
#if CDF_HOST_X86
    const char *force = getenv("CDF_HOST_CLOCK");
    if ((force == NULL || strcmp(force, "clock_gettime") != 0) && tsc_invariant()) {
        uint64_t t0 = 0, n0 = 0, t1 = 0, n1 = 0;
        struct timespec pause_for = { 0, 10000000 }; /* 10 ms */
        double hz;
        sample(&t0, &n0);
        while (mono_ns() - n0 < 10000000u) (void)nanosleep(&pause_for, NULL);
        sample(&t1, &n1);
        hz = (double)(t1 - t0) * 1e9 / (double)(n1 - n0);
        if (t1 > t0 && n1 > n0 && hz >= 1e7 && hz <= 1e11) {
            g_tsc_hz = (uint64_t)hz;
            g_tsc_mult = (uint64_t)(1e7 / hz * 4294967296.0);
            g_tsc_base = t1;
            g_mono_base = n1 / 100u;
            mode = CLOCK_TSC;
        }
    }
#endif
    atomic_store_explicit(&g_clock_mode, mode, memory_order_release);
}

static int clock_mode(void)
{
    int mode = atomic_load_explicit(&g_clock_mode, memory_order_acquire);
    if (mode != CLOCK_UNSET) return mode;
    (void)pthread_once(&g_clock_once, clock_calibrate);
    return atomic_load_explicit(&g_clock_mode, memory_order_acquire);
}

uint64_t cdf_clock_now(void)
{
#if CDF_HOST_X86
    if (clock_mode() == CLOCK_TSC) {
        uint64_t ticks = read_tsc() - g_tsc_base;
        /* a core whose TSC trails the calibrating one by a few ticks must not wrap */
        if ((int64_t)ticks < 0) ticks = 0u;
        return g_mono_base + tsc_to_100ns(ticks);
    }
#endif
    return mono_ns() / 100u;
}

const char *cdf_host_clock_source(void)
{
    return clock_mode() == CLOCK_TSC ? "tsc" : "clock_gettime";
}

uint64_t cdf_host_tsc_hz(void)
{
    return clock_mode() == CLOCK_TSC ? g_tsc_hz : 0u;
}

/* FILETIME: 100 ns units since 1601-01-01 UTC; the Unix epoch is 11644473600 s later. */
uint64_t cdf_clock_wall(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000u + (uint64_t)ts.tv_nsec / 100u;
}

void *cdf_mem_reserve(size_t bytes)
{
    return calloc(1u, bytes == 0u ? 1u : bytes);
}

void cdf_mem_release(void *p)
{
    free(p);
}
