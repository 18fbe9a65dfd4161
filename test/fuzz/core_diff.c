/*
 * core_diff.c - differential libFuzzer target: the filter core over the simulated cdrom.sys
 * (driver/sim/simcd.c), glued exactly as the hosts glue them (driver/sim/cdfsim.c, the KMDF
 * and Wine hosts): cdf_core_dispatch, then (unless the core completed the request) the lower
 * device, then cdf_core_complete with its status; a close under enforce first sends the
 * verdict's simple unlocks below the filter and reports them (cdf_core_simple_unlocks_done).
 *
 * The one invariant, asserted after every step: for every drive, the core's secure, simple and
 * MCN totals equal the simulated cdrom.sys's counts (ProtectedLockCount, LockCount, MCN disable
 * count). One exception the core states itself: while file objects it could not track are open
 * on a drive (DriveLedger.untracked_opens > 0), the secure and MCN locks they took are counted
 * as orphans and released when the last of them closes, so cdrom.sys's count lies between the
 * core's total less those orphans and the core's total. With every handle closed (the end of
 * every input) the counts are equal again.
 *
 * Steps (one op byte, then its operands): opens on 8 file-object addresses that are reused after
 * their close, cleanup only, close only, cleanup + close, process exit, every lock code and its
 * CDROM/DISK aliases (prevent/allow, short input, no file object), eject / load and aliases,
 * SCSI pass-through (4 codes, 64/32-bit layouts, START STOP UNIT and PREVENT ALLOW MEDIUM
 * REMOVAL), exclusive access, policy flips, faults, media and connection changes. The core has
 * 2 drives and 2 handle slots, so the table is full most of the time; an IOCTL step naming a closed
 * file object is sent by the newest open one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cdf_core.h"
#include "cdf_internal.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"
#include "simcd.h"
#include "../c/core_testlib.h"

#define DIFF_DRIVES 2u
#define DIFF_SLOTS  8u
#define DIFF_MAX_HANDLES 2u

static void fail(const char *what, uint32_t drive, uint32_t core_v, uint32_t sim_v)
{
    fprintf(stderr, "core_diff: drive %u: %s: core %u, simulated cdrom.sys %u\n", drive, what, core_v, sim_v);
    abort();
}
#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "core_diff: %s\n", #c); abort(); } } while (0)

typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static uint8_t take(cursor *c)
{
    uint8_t b;
    if (c->n == 0u) return 0u;
    b = *c->p++;
    c->n--;
    return b;
}

typedef struct slot {
    uint8_t open, cleaned;
    uint32_t drive; /* 0..DIFF_DRIVES-1 */
    uint32_t pid;
} slot;

typedef struct world {
    cdf_core *core;
    uint32_t ids[DIFF_DRIVES];
    simcd *lower[DIFF_DRIVES];
    slot slots[DIFF_SLOTS];
    uint32_t last_opened;
} world;

/* CORE_DIFF_VERBOSE=1: print every request and its status (to read a crash input). */
static int g_verbose = -1;

static uintptr_t key_of(uint32_t s) { return (uintptr_t)0x1000u + (uintptr_t)s * 0x40u; }

/* One request through the core and the lower device, as the hosts do it. */
static uint32_t send(world *w, uint32_t drive, cdf_request *rq, uint32_t io_flags)
{
    cdf_verdict v;
    uint32_t st, info = 0u;
    uint8_t out[96];
    uint32_t id = w->ids[drive];
    simcd *lower = w->lower[drive];
    uintptr_t fo = rq->file.opaque;

    cdf_core_dispatch(w->core, id, rq, &v);
    if (v.simple_unlocks != 0u) {
        uint32_t ok = 0u, first = CDF_STATUS_SUCCESS, i;
        REQUIRE(rq->major == CDF_IRP_MJ_CLOSE);
        for (i = 0; i < v.simple_unlocks; i++) {
            uint8_t allow = 0u;
            uint32_t ust = simcd_ioctl(lower, fo, CDF_IOCTL_STORAGE_MEDIA_REMOVAL, 0u, &allow, 1u, NULL, 0u, &info);
            if (CDF_NT_SUCCESS(ust)) ok++;
            else if (first == CDF_STATUS_SUCCESS) first = ust;
        }
        cdf_core_simple_unlocks_done(w->core, id, rq, &v, ok, first);
    }
    if (v.action == CDF_ACTION_COMPLETE) {
        cdf_core_complete(w->core, id, rq, &v, v.status, 0u);
        return v.status;
    }
    switch (rq->major) {
    case CDF_IRP_MJ_CREATE: st = simcd_create_file(lower, fo); break;
    case CDF_IRP_MJ_CLEANUP: st = simcd_cleanup(lower, fo); break;
    case CDF_IRP_MJ_CLOSE: st = simcd_close(lower, fo); break;
    default:
        st = simcd_ioctl(lower, fo, rq->ioctl_code, io_flags, rq->input, rq->input_length,
                         rq->output_length != 0u ? out : NULL, rq->output_length, &info);
        break;
    }
    if (v.action == CDF_ACTION_FORWARD_TRACK) cdf_core_complete(w->core, id, rq, &v, st, info);
    if (g_verbose > 0)
        fprintf(stderr, "  drive %u fo %#lx pid %u major %u code %#x in[0] %u len %u -> %#x (filter %s)\n", drive,
                (unsigned long)fo, rq->pid, rq->major, rq->ioctl_code, rq->input_length ? rq->input[0] : 0u,
                rq->input_length, st, v.action == CDF_ACTION_COMPLETE ? "completed" : "forwarded");
    return st;
}

static cdf_request base_request(uint32_t major, uintptr_t fo, uint32_t pid)
{
    cdf_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.major = major;
    rq.file.opaque = fo;
    rq.pid = pid;
    rq.tid = pid * 10u;
    rq.requestor_pid = pid;
    return rq;
}

static void do_open(world *w, uint32_t s, uint32_t drive, uint32_t pid)
{
    slot *sl = &w->slots[s];
    cdf_request rq = base_request(CDF_IRP_MJ_CREATE, key_of(s), pid);
    if (sl->open) return; /* an address in use is never handed out again */
    rq.image_name = "diff.exe";
    if (CDF_NT_SUCCESS(send(w, drive, &rq, 0u))) {
        sl->open = 1u;
        sl->cleaned = 0u;
        sl->drive = drive;
        sl->pid = pid;
        w->last_opened = s;
    }
}

static void do_cleanup(world *w, uint32_t s, uint32_t flags)
{
    slot *sl = &w->slots[s];
    cdf_request rq = base_request(CDF_IRP_MJ_CLEANUP, key_of(s), sl->pid);
    if (!sl->open || sl->cleaned) return;
    rq.flags = flags;
    (void)send(w, sl->drive, &rq, 0u);
    sl->cleaned = 1u;
}

static void do_close(world *w, uint32_t s, uint32_t flags)
{
    slot *sl = &w->slots[s];
    cdf_request rq = base_request(CDF_IRP_MJ_CLOSE, key_of(s), sl->pid);
    if (!sl->open) return;
    rq.flags = flags;
    (void)send(w, sl->drive, &rq, 0u);
    sl->open = 0u;
}

static const uint32_t k_lock_codes[3][3] = {
    { CDF_IOCTL_STORAGE_EJECTION_CONTROL, 0x00020940u /* CDROM base alias */, 0x00070940u },
    { CDF_IOCTL_STORAGE_MEDIA_REMOVAL, CDF_IOCTL_CDROM_MEDIA_REMOVAL, CDF_IOCTL_DISK_MEDIA_REMOVAL },
    { CDF_IOCTL_STORAGE_MCN_CONTROL, 0x00020944u, 0x00330944u }
};
static const uint32_t k_eject_codes[] = {
    CDF_IOCTL_STORAGE_EJECT_MEDIA, CDF_IOCTL_CDROM_EJECT_MEDIA, CDF_IOCTL_DISK_EJECT_MEDIA,
    CDF_IOCTL_STORAGE_LOAD_MEDIA, CDF_IOCTL_CDROM_LOAD_MEDIA, 0x002D080Cu /* LOAD_MEDIA2 */,
    CDF_IOCTL_STORAGE_CHECK_VERIFY, CDF_IOCTL_CDROM_READ_TOC
};
static const uint32_t k_spt_codes[] = {
    CDF_IOCTL_SCSI_PASS_THROUGH, CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT, CDF_IOCTL_SCSI_PASS_THROUGH_EX,
    CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX
};
static const uint32_t k_faults[] = {
    CDF_STATUS_DEVICE_NOT_CONNECTED, CDF_STATUS_NO_MEDIA_IN_DEVICE, CDF_STATUS_IO_DEVICE_ERROR,
    CDF_STATUS_DEVICE_BUSY
};

/* The requester of an IOCTL step: an open slot's file object, or none (a kernel component). */
static int requester(world *w, cursor *c, cdf_request *rq, uint32_t *drive)
{
    uint8_t b = take(c);
    uint32_t s = b % (DIFF_SLOTS + 1u);
    if (s == DIFF_SLOTS) { /* no file object */
        *rq = base_request(CDF_IRP_MJ_DEVICE_CONTROL, 0u, 4u);
        rq->flags = CDF_RQ_KERNEL_MODE;
        *drive = (b >> 4) % DIFF_DRIVES;
        return 1;
    }
    if (!w->slots[s].open) s = w->last_opened; /* a closed slot: the newest handle asks */
    if (!w->slots[s].open) return 0;
    *rq = base_request(CDF_IRP_MJ_DEVICE_CONTROL, key_of(s), w->slots[s].pid);
    *drive = w->slots[s].drive;
    return 1;
}

static void do_ioctl(world *w, cursor *c, uint8_t op)
{
    cdf_request rq;
    uint32_t drive, io_flags = 0u;
    uint8_t in[96], b;
    if (!requester(w, c, &rq, &drive)) return;
    memset(in, 0, sizeof(in));
    b = take(c);
    rq.input = in;
    switch (op) {
    case 0: /* media locks */
        rq.ioctl_code = k_lock_codes[(b & 3u) % 3u][((b >> 2) & 3u) % 3u];
        in[0] = (uint8_t)((b >> 4) & 1u);
        rq.input_length = (b & 0x60u) == 0x60u ? 0u : 1u;
        break;
    case 1: /* eject, load and neighbours */
        rq.ioctl_code = k_eject_codes[b % (sizeof(k_eject_codes) / sizeof(k_eject_codes[0]))];
        rq.input_length = 0u;
        rq.input = NULL;
        break;
    case 2: { /* SCSI pass-through */
        static const uint8_t cdbs[4][2] = { { 0x1Bu, 0x02u }, { 0x1Bu, 0x03u }, { 0x1Eu, 0x00u }, { 0x1Eu, 0x01u } };
        int caller32 = (b >> 4) & 1u;
        rq.ioctl_code = k_spt_codes[b & 3u];
        rq.input_length = (b & 2u) ? tl_sptex(in, caller32, cdbs[(b >> 2) & 3u][0], cdbs[(b >> 2) & 3u][1])
                                   : tl_spt(in, caller32, cdbs[(b >> 2) & 3u][0], cdbs[(b >> 2) & 3u][1]);
        rq.output_length = 0u;
        if (caller32) {
            rq.flags |= CDF_RQ_CALLER_32BIT;
            io_flags = SIMCD_FLAG_CALLER_32BIT;
        }
        break;
    }
    default: /* exclusive access: query, lock, unlock */
        rq.ioctl_code = CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS;
        in[0] = (uint8_t)(b % 3u);
        rq.input_length = 8u + 64u; /* CDROM_EXCLUSIVE_LOCK: the request and a caller name */
        rq.output_length = (b % 3u) == 0u ? 80u : 0u;
        break;
    }
    (void)send(w, drive, &rq, io_flags);
}

static void set_policy(world *w, uint32_t drive, uint8_t policy)
{
    uint8_t req[4] = { 0x08, (uint8_t)w->ids[drive], 0x10, policy };
    uint8_t out[64];
    uint32_t n;
    REQUIRE(cdf_control_dispatch(w->core, CDF_IOCTL_SET_POLICY, CDF_ACCESS_READ | CDF_ACCESS_WRITE,
                                 req, 4, out, sizeof(out), &n) == CDF_STATUS_SUCCESS);
}

static void do_process_exit(world *w, uint32_t pid)
{
    uint32_t s;
    for (s = 0; s < DIFF_SLOTS; s++) {
        if (!w->slots[s].open || w->slots[s].pid != pid) continue;
        do_cleanup(w, s, CDF_RQ_PROCESS_EXIT);
        do_close(w, s, CDF_RQ_PROCESS_EXIT);
    }
}

/* The invariant (cdf_internal.h gives the drive's totals). */
static void check(world *w)
{
    uint32_t i;
    REQUIRE(cdf_core_check_invariants(w->core) == 0);
    for (i = 0; i < DIFF_DRIVES; i++) {
        const cdf_drive *d = &w->core->drives[w->ids[i] - 1u];
        simcd_state st;
        simcd_get_state(w->lower[i], &st);
        if (d->simple_total != st.simple_total) fail("simple locks", i, d->simple_total, st.simple_total);
        if (d->untracked_opens == 0u) {
            if (d->secure_total != st.secure_total) fail("secure locks", i, d->secure_total, st.secure_total);
            if (d->mcn_total != st.mcn_total) fail("MCN disables", i, d->mcn_total, st.mcn_total);
        } else { /* the orphans' owners may have closed: cdrom.sys released theirs */
            if (st.secure_total > d->secure_total || st.secure_total < d->secure_total - d->orphan_secure)
                fail("secure locks (untracked handles open)", i, d->secure_total, st.secure_total);
            if (st.mcn_total > d->mcn_total || st.mcn_total < d->mcn_total - d->orphan_mcn)
                fail("MCN disables (untracked handles open)", i, d->mcn_total, st.mcn_total);
        }
    }
}

static void step(world *w, cursor *c)
{
    uint8_t op = take(c), a = take(c);
    uint32_t s = a % DIFF_SLOTS;
    if (g_verbose > 0) fprintf(stderr, "step op %u arg %u\n", op % 16u, a);
    switch (op % 16u) {
    case 0: case 1: case 2: do_open(w, s, (a >> 3) % DIFF_DRIVES, 100u + ((a >> 4) & 3u)); break;
    case 3: do_cleanup(w, s, 0u); break;
    case 4: do_close(w, s, 0u); break;                       /* close only when not cleaned */
    case 5: do_cleanup(w, s, 0u); do_close(w, s, 0u); break;
    case 6: case 7: case 8: c->p--; c->n++; do_ioctl(w, c, 0); break;
    case 9: c->p--; c->n++; do_ioctl(w, c, 1); break;
    case 10: c->p--; c->n++; do_ioctl(w, c, 2); break;
    case 11: c->p--; c->n++; do_ioctl(w, c, 3); break;
    case 12: if (g_verbose > 0) fprintf(stderr, "  policy drive %u -> %u\n", a % DIFF_DRIVES, 1u + ((a >> 1) & 1u));
        set_policy(w, a % DIFF_DRIVES, (uint8_t)(1u + ((a >> 1) & 1u))); break;
    case 13: simcd_fail_next(w->lower[a % DIFF_DRIVES], k_faults[(a >> 1) % 4u]); break;
    case 14:
        if (a & 0x10u) simcd_set_connected(w->lower[a % DIFF_DRIVES], (a >> 1) & 1u);
        else simcd_set_media(w->lower[a % DIFF_DRIVES], (a >> 1) & 1u);
        break;
    default: do_process_exit(w, 100u + (a & 3u)); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static world w;
    static cdf_core *core; /* one core for the run (its control scratch is large): each input
                            * gets fresh drives (cdf_core_remove_drive forgets every handle) */
    cdf_config cfg;
    cursor c = { data, size };
    uint32_t i, steps = 0u;

    if (g_verbose < 0) g_verbose = getenv("CORE_DIFF_VERBOSE") != NULL;
    if (core == NULL) {
        cdf_config_default(&cfg);
        cfg.max_drives = DIFF_DRIVES;
        cfg.max_handles = DIFF_MAX_HANDLES;
        cfg.ring_bytes = 8192u;
        REQUIRE(cdf_core_create(&cfg, &core) == CDF_STATUS_SUCCESS);
    }
    memset(&w, 0, sizeof(w));
    w.core = core;
    for (i = 0; i < DIFF_DRIVES; i++) {
        REQUIRE(cdf_core_add_drive(core, i ? "CdRom1" : "CdRom0", &w.ids[i]) == CDF_STATUS_SUCCESS);
        w.lower[i] = simcd_create(64u);
        REQUIRE(w.lower[i] != NULL);
    }
    while (c.n != 0u && steps++ < 200u) {
        step(&w, &c);
        check(&w);
    }
    for (i = 0; i < DIFF_SLOTS; i++) do_close(&w, i, 0u); /* every handle closed: the same end */
    check(&w);
    for (i = 0; i < DIFF_DRIVES; i++) {
        simcd_destroy(w.lower[i]);
        cdf_core_remove_drive(core, w.ids[i]);
    }
    return 0;
}
