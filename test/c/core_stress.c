/*
 * core_stress.c - concurrent stress of driver/core under ThreadSanitizer (core-stress-check).
 *
 * 8 worker threads x 100,000 random operations (open, secure lock/unlock, foreign unlock,
 * simple lock/unlock, MCN, eject, SCSI pass-through, reads, cleanup, close, process exit, random
 * lower-driver failures, locks from a file object never seen created, as a CDFS/UDFS volume
 * handle sends them, which the core adopts and reaps) over 4 drives whose policy a control thread flips at random, while
 * 2 trace readers follow the ring with their own cursors and the control thread also reads the
 * ledger, clears the trace and changes the capture size.
 *
 * Checked throughout: cdf_core_check_invariants (totals == sums of owners, no wrap, ring
 * consistent); each worker's own secure counts equal an exact model (only the owning thread can
 * change them, so no count is lost or goes negative); readers see every sequence number either
 * as a record or inside a `dropped` count (next seq == previous + 1 + dropped) with
 * non-decreasing timestamps; at the end delivered + dropped == newest seq, and with every handle
 * closed the secure and MCN totals are zero and the handle table is empty.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cdf_core.h"
#include "cdf_internal.h"
#include "cdf_handles.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"
#include "core_testlib.h"

#define WORKERS        8
#define OPS_PER_WORKER 100000
#define DRIVES         4
#define HANDLES_PER_WORKER 6
#define READERS        2

static cdf_core *g_core;
static uint32_t g_drive[DRIVES];
static volatile int g_failed;
static int g_workers_done; /* guarded by g_mutex */
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;

#define FAIL(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); __atomic_store_n(&g_failed, 1, __ATOMIC_SEQ_CST); } while (0)

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int workers_done(void)
{
    int d;
    pthread_mutex_lock(&g_mutex);
    d = g_workers_done;
    pthread_mutex_unlock(&g_mutex);
    return d;
}

typedef struct handle_model {
    uintptr_t fo;
    uint32_t drive;
    int open;
    uint32_t secure;   /* exact: only this thread changes it */
} handle_model;

static uint32_t lower_status(uint64_t *rng)
{
    uint32_t r = (uint32_t)(rng_next(rng) % 16u);
    return r == 0u ? CDF_STATUS_NO_MEDIA_IN_DEVICE : r == 1u ? CDF_STATUS_DEVICE_NOT_CONNECTED
                                                            : CDF_STATUS_SUCCESS;
}

/* The core's view of this handle's secure count (white box, under the core lock). */
static int core_secure(const handle_model *h, uint32_t *out)
{
    cdf_handle *ch;
    int found = 0;
    cdf_lock_acquire(&g_core->lock);
    ch = cdf_handles_find(&g_core->handles, h->drive, h->fo);
    if (ch != NULL) {
        *out = ch->secure;
        found = 1;
    }
    cdf_lock_release(&g_core->lock);
    return found;
}

static void *worker(void *arg)
{
    uint32_t w = (uint32_t)(uintptr_t)arg, pid = 1000u + w, i, op;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (w + 1u);
    handle_model hs[HANDLES_PER_WORKER];
    uint8_t spt[CDF_SPT64_SIZE], in[16];
    /* this worker's unseen file object (never created: adopted on its first granted lock) */
    handle_model vol;
    memset(&vol, 0, sizeof(vol));
    vol.fo = ((uintptr_t)(w + 1u) << 20) | 0x8000u;
    vol.drive = g_drive[w % DRIVES];
    memset(hs, 0, sizeof(hs));
    for (i = 0; i < HANDLES_PER_WORKER; i++) {
        hs[i].fo = ((uintptr_t)(w + 1u) << 20) | ((uintptr_t)(i + 1u) << 4);
        hs[i].drive = g_drive[(w + i) % DRIVES];
    }
    for (op = 0; op < OPS_PER_WORKER && !__atomic_load_n(&g_failed, __ATOMIC_RELAXED); op++) {
        handle_model *h = &hs[rng_next(&rng) % HANDLES_PER_WORKER];
        uint32_t kind = (uint32_t)(rng_next(&rng) % 20u), st, n;
        cdf_verdict v;
        if (kind == 19u) { /* the unseen file object: a lock operation, or its end reported */
            uint32_t pick = (uint32_t)(rng_next(&rng) % 8u), got = 0;
            uint8_t ex[8] = { 0 };
            if (pick < 2u) {
                st = tl_lock(g_core, vol.drive, CDF_IOCTL_STORAGE_EJECTION_CONTROL, vol.fo, pid, 1,
                             lower_status(&rng), NULL);
                if (st == CDF_STATUS_SUCCESS) vol.secure++;
            } else if (pick == 2u) {
                uint32_t held = vol.secure;
                st = tl_lock(g_core, vol.drive, CDF_IOCTL_STORAGE_EJECTION_CONTROL, vol.fo, pid, 0,
                             held != 0u ? lower_status(&rng) : CDF_STATUS_INVALID_DEVICE_STATE, NULL);
                if (st == CDF_STATUS_SUCCESS && held != 0u) vol.secure--;
            } else if (pick <= 4u) {
                (void)tl_lock(g_core, vol.drive, pick == 3u ? CDF_IOCTL_STORAGE_MEDIA_REMOVAL
                                                           : CDF_IOCTL_STORAGE_MCN_CONTROL,
                              vol.fo, pid, (uint8_t)(rng_next(&rng) & 1u), lower_status(&rng), NULL);
            } else if (pick <= 6u) {
                ex[0] = (uint8_t)(pick == 5u ? 1u : 2u); /* exclusive access lock / unlock */
                (void)tl_ioctl(g_core, vol.drive, CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS, vol.fo, pid, ex,
                               sizeof(ex), lower_status(&rng), NULL);
            } else {
                tl_close(g_core, vol.drive, vol.fo, pid, 0u, 1, NULL);
                vol.secure = 0u;
            }
            if (!core_secure(&vol, &got)) got = 0u; /* no entry: adopted entries go when idle */
            if (got != vol.secure) FAIL("worker %u: unseen file object secure %u, model %u", w, got, vol.secure);
            continue;
        }
        if (!h->open) {
            if (tl_open(g_core, h->drive, h->fo, pid, "stress.exe") == CDF_STATUS_SUCCESS) h->open = 1;
            continue;
        }
        switch (kind) {
        case 0: case 1: case 2: /* secure lock */
            st = tl_lock(g_core, h->drive, CDF_IOCTL_STORAGE_EJECTION_CONTROL, h->fo, pid, 1,
                         lower_status(&rng), &v);
            if (st == CDF_STATUS_SUCCESS) h->secure++;
            break;
        case 3: case 4: { /* secure unlock: by the holder, or a foreign one (cdrom.sys fails it) */
            uint32_t held = h->secure;
            st = tl_lock(g_core, h->drive, CDF_IOCTL_STORAGE_EJECTION_CONTROL, h->fo, pid, 0,
                         held != 0u ? lower_status(&rng) : CDF_STATUS_INVALID_DEVICE_STATE, &v);
            if (st == CDF_STATUS_SUCCESS && held != 0u) h->secure--;
            if (held == 0u && st == CDF_STATUS_SUCCESS) FAIL("foreign secure unlock succeeded");
            break;
        }
        case 5: case 6: /* simple lock / unlock (possibly foreign; never wrong) */
            (void)tl_lock(g_core, h->drive, (kind == 5) ? CDF_IOCTL_STORAGE_MEDIA_REMOVAL
                                                        : CDF_IOCTL_CDROM_MEDIA_REMOVAL,
                          h->fo, pid, (uint8_t)(rng_next(&rng) & 1u), lower_status(&rng), NULL);
            break;
        case 7: /* MCN */
            (void)tl_lock(g_core, h->drive, CDF_IOCTL_STORAGE_MCN_CONTROL, h->fo, pid,
                          (uint8_t)(rng_next(&rng) & 1u), lower_status(&rng), NULL);
            break;
        case 8: /* eject */
            (void)tl_ioctl(g_core, h->drive, CDF_IOCTL_STORAGE_EJECT_MEDIA, h->fo, pid, NULL, 0,
                           CDF_STATUS_SUCCESS, NULL);
            break;
        case 9: { /* pass-through: eject, allow, load, or garbage */
            uint32_t pick = (uint32_t)(rng_next(&rng) % 4u);
            int c32 = (int)(rng_next(&rng) & 1u);
            cdf_request rq;
            n = tl_spt(spt, c32, pick < 2u ? 0x1B : 0x1E, pick == 0u ? 0x02 : pick == 1u ? 0x03 : 0x00);
            if (pick == 3u) n = (uint32_t)(rng_next(&rng) % sizeof(spt));
            rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, (rng_next(&rng) & 1u) ? CDF_IOCTL_SCSI_PASS_THROUGH
                                                                          : CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT,
                            h->fo, pid, spt, n);
            rq.flags = c32 ? CDF_RQ_CALLER_32BIT : 0u;
            (void)tl_run(g_core, h->drive, &rq, CDF_STATUS_SUCCESS, NULL);
            break;
        }
        case 10: case 11: case 12: case 13: { /* reads and arbitrary IOCTLs: traffic */
            cdf_request rq = tl_request(kind == 13 ? CDF_IRP_MJ_DEVICE_CONTROL : CDF_IRP_MJ_READ,
                                        CDF_IOCTL_CDROM_READ_TOC, h->fo, pid, in, sizeof(in));
            (void)tl_run(g_core, h->drive, &rq, lower_status(&rng), NULL);
            break;
        }
        case 14: { /* a short input */
            (void)tl_ioctl(g_core, h->drive, CDF_IOCTL_STORAGE_EJECTION_CONTROL, h->fo, pid, NULL, 0,
                           CDF_STATUS_SUCCESS, &v);
            if (v.action != CDF_ACTION_COMPLETE || v.status != CDF_STATUS_INFO_LENGTH_MISMATCH)
                FAIL("short input not rejected");
            break;
        }
        case 15: { /* cleanup only (close comes later): the secure locks stay until the close,
                    * as cdrom.sys releases them at DeviceEvtFileClose */
            cdf_request rq = tl_request(CDF_IRP_MJ_CLEANUP, 0u, h->fo, pid, NULL, 0u);
            (void)tl_run(g_core, h->drive, &rq, CDF_STATUS_SUCCESS, NULL);
            break;
        }
        default: { /* close (with or without cleanup, maybe as a process exit) */
            uint32_t flags = (rng_next(&rng) % 4u) == 0u ? CDF_RQ_PROCESS_EXIT : 0u;
            tl_close(g_core, h->drive, h->fo, pid, flags, (int)(rng_next(&rng) & 1u), NULL);
            h->open = 0;
            h->secure = 0u;
            break;
        }
        }
        if (h->open) {
            uint32_t got = 0;
            if (!core_secure(h, &got)) FAIL("worker %u: open handle not tracked", w);
            else if (got != h->secure) FAIL("worker %u: secure count %u, model %u", w, got, h->secure);
        }
        if ((op & 255u) == 0u) {
            int rc = cdf_core_check_invariants(g_core);
            if (rc != 0) FAIL("invariants broken: %d", rc);
        }
    }
    for (i = 0; i < HANDLES_PER_WORKER; i++) {
        if (hs[i].open) tl_close(g_core, hs[i].drive, hs[i].fo, pid, CDF_RQ_PROCESS_EXIT, 1, NULL);
    }
    tl_close(g_core, vol.drive, vol.fo, pid, CDF_RQ_PROCESS_EXIT, 1, NULL);
    pthread_mutex_lock(&g_mutex);
    g_workers_done++;
    pthread_mutex_unlock(&g_mutex);
    return NULL;
}

typedef struct reader_state {
    uint64_t cursor, delivered, dropped, batches, last_timestamp;
    uint8_t *out;
    cdf_TraceBatch *batch;
} reader_state;

/* One ReadTrace; returns 0 when nothing new was there. */
static int read_once(reader_state *r, uint32_t cap)
{
    uint8_t req[24];
    uint32_t len = 0, st, i, n = 0;
    uint64_t c = r->cursor, expect;
    req[n++] = 0x08;
    do {
        req[n++] = (uint8_t)((c & 0x7Fu) | (c >= 0x80u ? 0x80u : 0u));
        c >>= 7;
    } while (c != 0u);
    st = cdf_control_dispatch(g_core, CDF_IOCTL_READ_TRACE, CDF_ACCESS_READ, req, n, r->out, cap, &len);
    if (st != CDF_STATUS_SUCCESS) {
        FAIL("ReadTrace status 0x%08x", st);
        return 0;
    }
    if (len > cap) FAIL("ReadTrace wrote %u > %u", len, cap);
    if (cdf_TraceBatch_decode(r->batch, r->out, len) != CDF_PB_OK) {
        FAIL("TraceBatch does not decode");
        return 0;
    }
    expect = r->cursor + 1u + r->batch->dropped;
    for (i = 0; i < r->batch->records_count; i++) {
        const cdf_TraceRecord *rec = &r->batch->records[i];
        if (rec->seq != expect) FAIL("reader: seq %llu, expected %llu", (unsigned long long)rec->seq,
                                     (unsigned long long)expect);
        if (rec->timestamp < r->last_timestamp && r->batch->dropped == 0u && i != 0u)
            FAIL("reader: timestamp went back");
        r->last_timestamp = rec->timestamp;
        expect++;
    }
    if (r->batch->next_cursor != expect - 1u) FAIL("reader: next_cursor %llu, expected %llu",
                                                   (unsigned long long)r->batch->next_cursor,
                                                   (unsigned long long)(expect - 1u));
    r->delivered += r->batch->records_count;
    r->dropped += r->batch->dropped;
    r->cursor = r->batch->next_cursor;
    r->batches++;
    return r->batch->records_count != 0u || r->batch->dropped != 0u;
}

static void *reader(void *arg)
{
    reader_state *r = (reader_state *)arg;
    uint32_t round = 0;
    while (!__atomic_load_n(&g_failed, __ATOMIC_RELAXED)) {
        int done = workers_done() == WORKERS + 1;
        /* vary the buffer size: small buffers page, big ones take whole batches */
        uint32_t cap = (round++ % 3u == 0u) ? 1500u : 160000u;
        int got = read_once(r, cap);
        if (done && !got) break;
    }
    return NULL;
}

static void *controller(void *arg)
{
    uint64_t rng = 12345u;
    uint8_t *out = (uint8_t *)malloc(200000);
    uint8_t req[64];
    uint32_t len, i, st;
    (void)arg;
    for (i = 0; i < 4000 && !__atomic_load_n(&g_failed, __ATOMIC_RELAXED); i++) {
        uint32_t pick = (uint32_t)(rng_next(&rng) % 10u);
        switch (pick) {
        case 0: case 1: /* SetPolicy on a random drive (0 = all) */
            req[0] = 0x08; req[1] = (uint8_t)(rng_next(&rng) % (DRIVES + 1u));
            req[2] = 0x10; req[3] = (uint8_t)(1u + rng_next(&rng) % 2u);
            st = cdf_control_dispatch(g_core, CDF_IOCTL_SET_POLICY, CDF_ACCESS_READ | CDF_ACCESS_WRITE,
                                      req, 4, out, 200000, &len);
            if (st != CDF_STATUS_SUCCESS) FAIL("SetPolicy 0x%08x", st);
            break;
        case 2: /* GetLedger all, in place (in == out) */
            out[0] = 0x08; out[1] = 0;
            st = cdf_control_dispatch(g_core, CDF_IOCTL_GET_LEDGER, CDF_ACCESS_READ, out, 2, out, 200000, &len);
            if (st != CDF_STATUS_SUCCESS) FAIL("GetLedger 0x%08x", st);
            break;
        case 3:
            st = cdf_control_dispatch(g_core, CDF_IOCTL_GET_INFO, CDF_ACCESS_READ, NULL, 0, out, 200000, &len);
            if (st != CDF_STATUS_SUCCESS) FAIL("GetInfo 0x%08x", st);
            break;
        case 4:
            st = cdf_control_dispatch(g_core, CDF_IOCTL_LIST_DRIVES, CDF_ACCESS_READ, NULL, 0, out, 200000, &len);
            if (st != CDF_STATUS_SUCCESS) FAIL("ListDrives 0x%08x", st);
            break;
        case 5: /* capture size */
            req[0] = 0x20; req[1] = (uint8_t)(rng_next(&rng) % 128u);
            st = cdf_control_dispatch(g_core, CDF_IOCTL_SET_TRACE_CONFIG, CDF_ACCESS_READ | CDF_ACCESS_WRITE,
                                      req, 2, out, 200000, &len);
            if (st != CDF_STATUS_SUCCESS) FAIL("SetTraceConfig 0x%08x", st);
            break;
        case 6:
            if (rng_next(&rng) % 8u == 0u) {
                st = cdf_control_dispatch(g_core, CDF_IOCTL_CLEAR_TRACE, CDF_ACCESS_READ | CDF_ACCESS_WRITE,
                                          NULL, 0, out, 200000, &len);
                if (st != CDF_STATUS_SUCCESS) FAIL("ClearTrace 0x%08x", st);
            }
            break;
        default: { /* WaitTrace from a recent cursor: pending or a batch */
            req[0] = 0x10; req[1] = 4;
            st = cdf_control_dispatch(g_core, CDF_IOCTL_WAIT_TRACE, CDF_ACCESS_READ, req, 2, out, 200000, &len);
            if (st != CDF_STATUS_SUCCESS && st != CDF_STATUS_PENDING) FAIL("WaitTrace 0x%08x", st);
            break;
        }
        }
        if (workers_done() == WORKERS) break;
    }
    free(out);
    pthread_mutex_lock(&g_mutex);
    g_workers_done++;
    pthread_mutex_unlock(&g_mutex);
    return NULL;
}

static int g_notifies;
static void on_notify(void *ctx)
{
    (void)ctx;
    __atomic_add_fetch(&g_notifies, 1, __ATOMIC_RELAXED);
}

int main(void)
{
    pthread_t workers[WORKERS], readers[READERS], ctl;
    reader_state rs[READERS];
    cdf_config cfg;
    struct timespec t0, t1;
    uint32_t i, len = 0;
    uint64_t newest;
    int rc;
    uint8_t *out = (uint8_t *)malloc(200000);
    cdf_LedgerSnapshot *snap = (cdf_LedgerSnapshot *)malloc(sizeof(*snap));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    cdf_config_default(&cfg);
    cfg.max_handles = 256;
    cfg.ring_bytes = 262144; /* small (595 records): the readers must see drops */
    if (cdf_core_create(&cfg, &g_core) != CDF_STATUS_SUCCESS) return 2;
    cdf_core_set_notify(g_core, on_notify, NULL);
    for (i = 0; i < DRIVES; i++) {
        char name[16];
        snprintf(name, sizeof(name), "CdRom%u", i);
        if (cdf_core_add_drive(g_core, name, &g_drive[i]) != CDF_STATUS_SUCCESS) return 2;
    }
    memset(rs, 0, sizeof(rs));
    for (i = 0; i < READERS; i++) {
        rs[i].out = (uint8_t *)malloc(160000);
        rs[i].batch = (cdf_TraceBatch *)malloc(sizeof(cdf_TraceBatch));
        pthread_create(&readers[i], NULL, reader, &rs[i]);
    }
    pthread_create(&ctl, NULL, controller, NULL);
    for (i = 0; i < WORKERS; i++) pthread_create(&workers[i], NULL, worker, (void *)(uintptr_t)i);
    for (i = 0; i < WORKERS; i++) pthread_join(workers[i], NULL);
    pthread_join(ctl, NULL);
    for (i = 0; i < READERS; i++) pthread_join(readers[i], NULL);

    rc = cdf_core_check_invariants(g_core);
    if (rc != 0) FAIL("final invariants: %d", rc);
    newest = ~0ull;
    {
        /* every sequence number delivered or counted as dropped, for each reader */
        uint8_t req[2] = { 0x08, 0x00 };
        uint32_t st = cdf_control_dispatch(g_core, CDF_IOCTL_GET_INFO, CDF_ACCESS_READ, req, 0, out, 200000, &len);
        cdf_InfoReply info;
        if (st != CDF_STATUS_SUCCESS || cdf_InfoReply_decode(&info, out, len) != CDF_PB_OK) FAIL("GetInfo");
        else newest = info.newest_seq;
        for (i = 0; i < READERS; i++) {
            if (rs[i].delivered + rs[i].dropped != newest)
                FAIL("reader %u: delivered %llu + dropped %llu != newest %llu", i,
                     (unsigned long long)rs[i].delivered, (unsigned long long)rs[i].dropped,
                     (unsigned long long)newest);
        }
        out[0] = 0x08; out[1] = 0;
        st = cdf_control_dispatch(g_core, CDF_IOCTL_GET_LEDGER, CDF_ACCESS_READ, out, 2, out, 200000, &len);
        if (st != CDF_STATUS_SUCCESS || cdf_LedgerSnapshot_decode(snap, out, len) != CDF_PB_OK) FAIL("GetLedger");
        for (i = 0; i < snap->drives_count; i++) {
            if (snap->drives[i].secure_total != 0u || snap->drives[i].mcn_total != 0u || snap->drives[i].owners_count != 0u)
                FAIL("drive %u: locks left after every handle closed", snap->drives[i].drive_id);
        }
        if (g_core->handles.count != 0u) FAIL("%u handle entries left after every close", g_core->handles.count);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("core_stress: %d workers x %d ops, %d readers + control thread, %.1f s; %llu records "
           "(reader 0: %llu delivered, %llu dropped in %llu reads), %d notifies: %s\n",
           WORKERS, OPS_PER_WORKER, READERS,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           (unsigned long long)newest, (unsigned long long)rs[0].delivered,
           (unsigned long long)rs[0].dropped, (unsigned long long)rs[0].batches, g_notifies,
           g_failed ? "FAILED" : "ok");
    for (i = 0; i < READERS; i++) {
        free(rs[i].out);
        free(rs[i].batch);
    }
    free(out);
    free(snap);
    cdf_core_destroy(g_core);
    return g_failed ? 1 : 0;
}
