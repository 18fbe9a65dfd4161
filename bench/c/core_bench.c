/*
 * core_bench.c - cost of tracing one request in the core (dispatch + completion records),
 * beside a floor measured in the same run: copying the same record bytes into a ring of the
 * same slots with memcpy. Driven by bench/core.ts.
 *
 *   core_bench time [N]          ns per request, best of 7 runs of N (default 2,000,000):
 *                                prints one JSON line {"traced_ns":..,"floor_ns":..,...}, with
 *                                the request's clock reads and lock round trips timed alone
 *   core_bench traced N          N traced requests and nothing else (for callgrind)
 *   core_bench floor N           N floor copies and nothing else (for callgrind)
 *   core_bench clock N           N pairs of cdf_clock_now (the request's two timestamps)
 *   core_bench lock N            N pairs of core lock round trips (the request's two)
 *
 * The traced request is an IOCTL the ledger does not look at (IOCTL_CDROM_READ_TOC) with a
 * 64-byte input, from a tracked handle: a dispatch record capturing 64 bytes (the default
 * capture) and a completion record, each with the opener identity. Callgrind's instruction
 * count for N minus the count for 0, divided by N, is the per-request figure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cdf_core.h"
#include "cdf_internal.h"
#include "platform_host.h"
#include "../../test/c/core_testlib.h"
#include "cdf_trace.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static cdf_core *setup(uint32_t *drive)
{
    cdf_config cfg;
    cdf_core *core = NULL;
    cdf_config_default(&cfg); /* 1 MiB ring */
    if (getenv("CORE_BENCH_RING")) cfg.ring_bytes = (uint32_t)strtoul(getenv("CORE_BENCH_RING"), NULL, 10);
    if (cdf_core_create(&cfg, &core) != CDF_STATUS_SUCCESS ||
        cdf_core_add_drive(core, "CdRom0", drive) != CDF_STATUS_SUCCESS) {
        fprintf(stderr, "core_bench: setup failed\n");
        exit(2);
    }
    (void)tl_open(core, *drive, 0x1000u, 4242u, "bench.exe");
    return core;
}

static uint8_t g_input[64];

static void run_traced(cdf_core *core, uint32_t drive, uint64_t n)
{
    cdf_request rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_CDROM_READ_TOC, 0x1000u, 4242u,
                                g_input, sizeof(g_input));
    cdf_verdict v;
    uint64_t i;
    rq.output_length = 804u;
    for (i = 0; i < n; i++) {
        cdf_core_dispatch(core, drive, &rq, &v);
        cdf_core_complete(core, drive, &rq, &v, CDF_STATUS_SUCCESS, 804u);
    }
}

/* The floor: the bytes the two records hold, copied with one memcpy per record into
 * consecutive slots of a ring of the same capacity. A record holds the fixed fields (up to
 * opener_image), the opener image's image_len bytes and, in the dispatch record, the head_len
 * captured input bytes: the core copies nothing else (the rest of a slot's image and head
 * arrays is never read). The byte counts come from the records the traced run wrote. */
typedef struct floor_ring {
    cdf_slot *slots;
    uint32_t capacity;
    uint32_t index;
    uint64_t next;
    size_t dispatch_bytes, completion_bytes;
} floor_ring;

static cdf_slot g_src_dispatch, g_src_completion;

static void run_floor(floor_ring *r, uint64_t n)
{
    const size_t da = r->dispatch_bytes, ca = r->completion_bytes;
    uint64_t i;
    for (i = 0; i < n; i++) {
        cdf_slot *a = &r->slots[r->index];
        if (++r->index == r->capacity) r->index = 0u;
        memcpy(a, &g_src_dispatch, da);
        a->seq = r->next++;
        cdf_slot *b = &r->slots[r->index];
        if (++r->index == r->capacity) r->index = 0u;
        memcpy(b, &g_src_completion, ca);
        b->seq = r->next++;
    }
}

/* The parts of a traced request that are not copying: the two clock reads and the two lock
 * round trips (dispatch and completion each take the core lock once and read the clock once
 * under it), measured alone for the breakdown. */
static volatile uint64_t g_sink;

static void run_clock(uint64_t n)
{
    uint64_t i, acc = 0;
    for (i = 0; i < n; i++) {
        acc += cdf_clock_now();
        acc += cdf_clock_now();
    }
    g_sink = acc;
}

static void run_lock(cdf_core *core, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        cdf_lock_acquire(&core->lock);
        cdf_lock_release(&core->lock);
        cdf_lock_acquire(&core->lock);
        cdf_lock_release(&core->lock);
    }
}

/* Bytes of a record the core writes: fixed fields, image_len image bytes, head_len head bytes. */
static size_t record_bytes(const cdf_slot *s)
{
    return offsetof(cdf_slot, opener_image) + s->image_len + s->head_len;
}

static floor_ring make_floor(cdf_core *core, uint32_t drive)
{
    floor_ring r;
    const cdf_slot *d, *c;
    run_traced(core, drive, 1u); /* one request, to measure what its records hold */
    d = cdf_ring_get(&core->ring, core->ring.next_seq - 2u);
    c = cdf_ring_get(&core->ring, core->ring.next_seq - 1u);
    if (d == NULL || c == NULL || d->kind != CDF_REC_DISPATCH || c->kind != CDF_REC_COMPLETION) {
        fprintf(stderr, "core_bench: the traced request wrote no dispatch/completion pair\n");
        exit(2);
    }
    r.dispatch_bytes = record_bytes(d);
    r.completion_bytes = record_bytes(c);
    r.capacity = core->ring.capacity;
    r.slots = (cdf_slot *)calloc(r.capacity, sizeof(cdf_slot));
    r.index = 1u;
    r.next = 1;
    memset(&g_src_dispatch, 0x5A, sizeof(g_src_dispatch));
    memset(&g_src_completion, 0xA5, sizeof(g_src_completion));
    return r;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "time";
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000u;
    uint32_t drive;
    cdf_core *core = setup(&drive);
    floor_ring fr = make_floor(core, drive);
    memset(g_input, 0x11, sizeof(g_input));

    if (strcmp(mode, "traced") == 0) {
        run_traced(core, drive, n);
    } else if (strcmp(mode, "floor") == 0) {
        run_floor(&fr, n);
    } else if (strcmp(mode, "clock") == 0) {
        run_clock(n);
    } else if (strcmp(mode, "lock") == 0) {
        run_lock(core, n);
    } else {
        double best_t = 1e30, best_f = 1e30, best_c = 1e30, best_l = 1e30;
        int k;
        run_traced(core, drive, n / 10u); /* warm up: fill the ring, fault in the pages */
        run_floor(&fr, n / 10u);
        for (k = 0; k < 7; k++) {
            double t0 = now_ns(), t1, t2, t3, t4;
            run_traced(core, drive, n);
            t1 = now_ns();
            run_floor(&fr, n);
            t2 = now_ns();
            run_clock(n / 4u);
            t3 = now_ns();
            run_lock(core, n / 4u);
            t4 = now_ns();
            if ((t1 - t0) / (double)n < best_t) best_t = (t1 - t0) / (double)n;
            if ((t2 - t1) / (double)n < best_f) best_f = (t2 - t1) / (double)n;
            if ((t3 - t2) / (double)(n / 4u) < best_c) best_c = (t3 - t2) / (double)(n / 4u);
            if ((t4 - t3) / (double)(n / 4u) < best_l) best_l = (t4 - t3) / (double)(n / 4u);
        }
        printf("{\"traced_ns\":%.2f,\"floor_ns\":%.2f,\"clock_ns\":%.2f,\"lock_ns\":%.2f,"
               "\"requests\":%llu,\"records_per_request\":2,"
               "\"slot_bytes\":%u,\"ring_records\":%u,\"dispatch_bytes\":%u,\"completion_bytes\":%u,"
               "\"clock\":\"%s\",\"tsc_hz\":%llu,\"check\":%d}\n",
               best_t, best_f, best_c, best_l, (unsigned long long)n, (unsigned)sizeof(cdf_slot),
               core->ring.capacity, (unsigned)fr.dispatch_bytes, (unsigned)fr.completion_bytes,
               cdf_host_clock_source(), (unsigned long long)cdf_host_tsc_hz(),
               cdf_core_check_invariants(core) + (int)(fr.slots[1].seq & 0u));
    }
    free(fr.slots);
    cdf_core_destroy(core);
    return 0;
}
