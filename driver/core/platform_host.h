/*
 * platform_host.h - what the user-mode platform (platform_host.c) adds to cdf_platform.h for
 * host tools (benchmarks, diagnostics). Never included by the core.
 */
#ifndef CDF_PLATFORM_HOST_H
#define CDF_PLATFORM_HOST_H

#include <stdint.h>

/* The source behind cdf_clock_now: "tsc" (invariant TSC calibrated against CLOCK_MONOTONIC)
 * or "clock_gettime" (CLOCK_MONOTONIC). Calibrates on first use like cdf_clock_now. */
const char *cdf_host_clock_source(void);

/* TSC ticks per second when the source is "tsc", else 0. */
uint64_t cdf_host_tsc_hz(void);

#endif /* CDF_PLATFORM_HOST_H */
