/*
 * platform_host.c - cdf_platform.h for user mode (simulator, tests, benchmarks): pthread
 * mutexes, CLOCK_MONOTONIC and CLOCK_REALTIME, calloc. Not part of any kernel build.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "cdf_platform.h"

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(cdf_lock), "pthread_mutex_t must fit in cdf_lock");

void cdf_lock_init(cdf_lock *lock)
{
    (void)pthread_mutex_init((pthread_mutex_t *)(void *)lock->storage, NULL);
}

void cdf_lock_destroy(cdf_lock *lock)
{
    (void)pthread_mutex_destroy((pthread_mutex_t *)(void *)lock->storage);
}

void cdf_lock_acquire(cdf_lock *lock)
{
    (void)pthread_mutex_lock((pthread_mutex_t *)(void *)lock->storage);
}

void cdf_lock_release(cdf_lock *lock)
{
    (void)pthread_mutex_unlock((pthread_mutex_t *)(void *)lock->storage);
}

uint64_t cdf_clock_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100u;
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
