/*
 * cdfsim.c - the user-mode host of the simulated CD-ROM stack (cdfsim.h, build/libcdfsim.so).
 *
 * Plays the parts Windows plays around the filter: the I/O manager (handle table, the CTL_CODE
 * access check before an IRP exists, the METHOD_BUFFERED SystemBuffer shared by input and
 * output, cleanup then close at CloseHandle and at process exit) and the KMDF glue (build a
 * cdf_request, ask cdf_core_dispatch, forward to the lower device simcd, report to
 * cdf_core_complete; park WaitTrace until the core's notify callback fires).
 *
 * Host code: libc and pthreads are allowed here (not in simcd.c or the core).
 * Locking order: never call into the core while holding table_mu or wait_mu (the core's notify
 * callback takes wait_mu).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "cdf_core.h"
#include "cdf_nt.h"
#include "cdf_platform.h"
#include "cdfsim.h"
#include "simcd.h"

/* NTSTATUS, IRP_MJ_* and IOCTL values: driver/core/cdf_nt.h (one source with the core). */

#define SIM_MAX_DRIVES   16u
#define SIM_MAX_HANDLES  4096u   /* simulated handles over every device, control device included */
#define SIM_FILES_PER_DRIVE 1024u
#define SIM_IMAGE_BYTES  64u
#define SIM_STACK_SYSBUF 4096u

/* CTL_CODE(0x8CDF, 0x808, METHOD_BUFFERED, FILE_READ_ACCESS): IOCTL_CDFILTER_WAIT_TRACE
 * (proto/cdfilter/control.proto; the generated cdfilter_ioctl.h has the same value). */
#define SIM_IOCTL_WAIT_TRACE 0x8CDF6020u

/* Per-thread SystemBuffer for large METHOD_BUFFERED requests (kept for the thread's life). */
static _Thread_local uint8_t *tls_sysbuf;
static _Thread_local uint32_t tls_sysbuf_size;

typedef struct sim_handle {
    uint8_t in_use;
    uint8_t cleaned;          /* IRP_MJ_CLEANUP done: blocked and later waits are cancelled */
    uint32_t generation;      /* bumps at every reuse so stale handle values fail */
    uint32_t drive;           /* 0 = control device */
    uint32_t pid;
    uint32_t access;          /* desired access granted at open */
    uintptr_t fo;             /* opaque file object key (a serial number, never an address) */
    uint8_t unseen;           /* a volume handle: its create, cleanup and close stay in the file system */
    char image[SIM_IMAGE_BYTES + 1];
    uint32_t waiters;         /* threads blocked in WaitTrace on this handle (under wait_mu) */
    uint32_t cancel_gen;      /* bumps at cdfsim_cancel and cleanup (under wait_mu) */
} sim_handle;

struct cdfsim {
    cdf_core *core;
    uint32_t drive_count;
    uint32_t drive_ids[SIM_MAX_DRIVES + 1];  /* index 1..N -> core drive id */
    simcd *lower[SIM_MAX_DRIVES + 1];
    pthread_mutex_t table_mu;
    sim_handle handles[SIM_MAX_HANDLES];
    uintptr_t next_fo;
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv;
    atomic_uint_fast64_t notify_gen;
    atomic_uint waiting;      /* total WaitTrace waiters: the notify callback skips the broadcast at 0 */
    uint8_t destroying;       /* cdfsim_destroy began: no new wait parks (under wait_mu) */
};

/* A snapshot of a handle taken under table_mu, used without it. */
typedef struct handle_view {
    uint32_t slot;
    uint32_t drive;
    uint32_t pid;
    uint32_t access;
    uint32_t kernel;          /* Irp->RequestorMode == KernelMode */
    uint8_t unseen;
    uintptr_t fo;
    char image[SIM_IMAGE_BYTES + 1];
} handle_view;

static uint32_t current_tid(void)
{
#if defined(__linux__)
    return (uint32_t)syscall(SYS_gettid);
#else
    return (uint32_t)(uintptr_t)pthread_self();
#endif
}

static void on_core_notify(void *context)
{
    cdfsim *sim = (cdfsim *)context;
    atomic_fetch_add(&sim->notify_gen, 1u);
    if (atomic_load(&sim->waiting) != 0) {
        pthread_mutex_lock(&sim->wait_mu);
        pthread_cond_broadcast(&sim->wait_cv);
        pthread_mutex_unlock(&sim->wait_mu);
    }
}

cdfsim *cdfsim_create(uint32_t drive_count, uint32_t ring_bytes)
{
    return cdfsim_create_ex(drive_count, drive_count, ring_bytes);
}

cdfsim *cdfsim_create_ex(uint32_t drive_count, uint32_t core_drives, uint32_t ring_bytes)
{
    cdf_config cfg;
    cdfsim *sim;
    uint32_t i;
    if (drive_count == 0 || drive_count > SIM_MAX_DRIVES || core_drives == 0 || core_drives > drive_count) {
        return NULL;
    }
    sim = (cdfsim *)calloc(1, sizeof(*sim));
    if (sim == NULL) {
        return NULL;
    }
    cdf_config_default(&cfg);
    cfg.max_drives = core_drives;
    cfg.host_kind = 2; /* CDF_HOST_KIND_SIMULATOR (proto HostKind) */
    cfg.driver_version = "0.1.0-sim";
    if (ring_bytes != 0) {
        cfg.ring_bytes = ring_bytes;
    }
    if (cdf_core_create(&cfg, &sim->core) != CDF_STATUS_SUCCESS) {
        free(sim);
        return NULL;
    }
    pthread_mutex_init(&sim->table_mu, NULL);
    pthread_mutex_init(&sim->wait_mu, NULL);
    pthread_cond_init(&sim->wait_cv, NULL);
    atomic_init(&sim->notify_gen, 0);
    atomic_init(&sim->waiting, 0);
    sim->next_fo = 0x10;
    sim->drive_count = drive_count;
    for (i = 1; i <= drive_count; i++) {
        char name[16];
        memcpy(name, "CdRom", 5);
        if (i - 1 >= 10) {
            name[5] = (char)('0' + (i - 1) / 10);
            name[6] = (char)('0' + (i - 1) % 10);
            name[7] = 0;
        } else {
            name[5] = (char)('0' + (i - 1));
            name[6] = 0;
        }
        sim->lower[i] = simcd_create(SIM_FILES_PER_DRIVE);
        if (sim->lower[i] == NULL) {
            cdfsim_destroy(sim);
            return NULL;
        }
        if (i > core_drives) {
            /* as the KMDF glue does (driver/kmdf/device.c): drive id 0, recorded as untracked */
            uint32_t token = 0;
            sim->drive_ids[i] = 0;
            if (cdf_core_add_untracked_drive(sim->core, name, &token) != CDF_STATUS_SUCCESS) {
                cdfsim_destroy(sim);
                return NULL;
            }
            continue;
        }
        if (cdf_core_add_drive(sim->core, name, &sim->drive_ids[i]) != CDF_STATUS_SUCCESS) {
            cdfsim_destroy(sim);
            return NULL;
        }
    }
    cdf_core_set_notify(sim->core, on_core_notify, sim);
    return sim;
}

/*
 * Destroying under a parked WaitTrace (a client that did not cancel first) must neither hang nor
 * free memory a waiter still uses: glibc's pthread_cond_destroy blocks while a thread waits on the
 * condition variable, which froze the calling thread (Node's main thread) for good. Complete every
 * parked wait as cancelled, as the I/O manager cancels a handle's pending IRPs at cleanup, and
 * return only when no waiter touches `sim` any more (`waiting` drops last in control_ioctl).
 */
static void cancel_all_waits(cdfsim *sim)
{
    uint32_t i;
    pthread_mutex_lock(&sim->wait_mu);
    sim->destroying = 1;
    for (i = 0; i < SIM_MAX_HANDLES; i++) {
        sim->handles[i].cancel_gen++;
    }
    pthread_cond_broadcast(&sim->wait_cv);
    pthread_mutex_unlock(&sim->wait_mu);
    while (atomic_load(&sim->waiting) != 0) {
        sched_yield();
    }
}

void cdfsim_destroy(cdfsim *sim)
{
    uint32_t i;
    if (sim == NULL) {
        return;
    }
    if (sim->core != NULL) {
        cdf_core_set_notify(sim->core, NULL, NULL);
    }
    cancel_all_waits(sim);
    if (sim->core != NULL) {
        cdf_core_destroy(sim->core);
    }
    for (i = 1; i <= SIM_MAX_DRIVES; i++) {
        simcd_destroy(sim->lower[i]);
    }
    pthread_cond_destroy(&sim->wait_cv);
    pthread_mutex_destroy(&sim->wait_mu);
    pthread_mutex_destroy(&sim->table_mu);
    free(sim);
}

static uint64_t handle_value(uint32_t slot, uint32_t generation)
{
    return ((uint64_t)generation << 32) | (uint64_t)(slot + 1u);
}

/* Look a handle up; 0 when it is unknown. */
static int handle_get(cdfsim *sim, uint64_t handle, handle_view *view)
{
    uint32_t slot = (uint32_t)(handle & 0xFFFFFFFFu);
    uint32_t generation = (uint32_t)(handle >> 32);
    int ok = 0;
    if (slot == 0 || slot > SIM_MAX_HANDLES) {
        return 0;
    }
    slot -= 1u;
    pthread_mutex_lock(&sim->table_mu);
    if (sim->handles[slot].in_use && sim->handles[slot].generation == generation) {
        const sim_handle *h = &sim->handles[slot];
        view->slot = slot;
        view->drive = h->drive;
        view->pid = h->pid;
        view->access = h->access;
        view->fo = h->fo;
        view->kernel = 0;
        view->unseen = h->unseen;
        memcpy(view->image, h->image, sizeof(view->image));
        ok = 1;
    }
    pthread_mutex_unlock(&sim->table_mu);
    return ok;
}

static void fill_request(cdf_request *rq, uint32_t major, const handle_view *h)
{
    memset(rq, 0, sizeof(*rq));
    rq->major = major;
    rq->file.opaque = h->fo;
    rq->pid = h->pid;
    rq->tid = current_tid();
    rq->requestor_pid = h->pid;
    if (h->kernel) {
        rq->flags |= CDF_RQ_KERNEL_MODE;
    }
}

/* A free slot (under table_mu). A slot whose WaitTrace callers have not left yet stays out of reuse. */
static sim_handle *free_handle(cdfsim *sim, uint32_t *slot_out)
{
    uint32_t slot;
    for (slot = 0; slot < SIM_MAX_HANDLES; slot++) {
        if (!sim->handles[slot].in_use && sim->handles[slot].waiters == 0) {
            *slot_out = slot;
            return &sim->handles[slot];
        }
    }
    return NULL;
}

/*
 * Claim a free slot for a new file object (under table_mu): a new generation, the opener's
 * identity and a fresh opaque file-object key. `unseen`: the filter never sees its create (a
 * volume handle routed through the file system). NULL when the table is full.
 */
static sim_handle *claim_handle(cdfsim *sim, uint32_t *slot_out, uint32_t drive, uint32_t pid,
                                const char *image, uint32_t desired_access, uint8_t unseen)
{
    sim_handle *h = free_handle(sim, slot_out);
    if (h == NULL) {
        return NULL;
    }
    h->in_use = 1;
    h->cleaned = 0;
    h->generation++;
    h->drive = drive;
    h->pid = pid;
    h->access = desired_access;
    h->fo = sim->next_fo++;
    h->unseen = unseen;
    memset(h->image, 0, sizeof(h->image));
    if (image != NULL) {
        size_t n = strlen(image);
        memcpy(h->image, image, n > SIM_IMAGE_BYTES ? SIM_IMAGE_BYTES : n);
    }
    return h;
}

uint32_t cdfsim_open(cdfsim *sim, uint32_t drive, uint32_t pid, const char *image,
                     uint32_t desired_access, uint64_t *handle)
{
    uint32_t slot;
    uint32_t st;
    sim_handle *h = NULL;
    handle_view view;
    uint64_t value;
    if (sim == NULL || handle == NULL) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    *handle = 0;
    if (drive > sim->drive_count) {
        return CDF_STATUS_OBJECT_NAME_NOT_FOUND;
    }
    pthread_mutex_lock(&sim->table_mu);
    h = claim_handle(sim, &slot, drive, pid, image, desired_access, 0);
    if (h == NULL) {
        pthread_mutex_unlock(&sim->table_mu);
        return CDF_STATUS_INSUFFICIENT_RESOURCES;
    }
    value = handle_value(slot, h->generation);
    view.slot = slot;
    view.drive = drive;
    view.pid = pid;
    view.access = desired_access;
    view.fo = h->fo;
    view.kernel = 0;
    view.unseen = 0;
    memcpy(view.image, h->image, sizeof(view.image));
    pthread_mutex_unlock(&sim->table_mu);

    st = CDF_STATUS_SUCCESS;
    if (drive != CDFSIM_CONTROL_DEVICE) {
        cdf_request rq;
        cdf_verdict v;
        uint32_t core_drive = sim->drive_ids[drive];
        fill_request(&rq, CDF_IRP_MJ_CREATE, &view);
        rq.image_name = view.image;
        cdf_core_dispatch(sim->core, core_drive, &rq, &v);
        if (v.action == CDF_ACTION_COMPLETE) {
            st = v.status;
            cdf_core_complete(sim->core, core_drive, &rq, &v, st, 0);
        } else {
            st = simcd_create_file(sim->lower[drive], view.fo);
            if (v.action == CDF_ACTION_FORWARD_TRACK) {
                cdf_core_complete(sim->core, core_drive, &rq, &v, st, 0);
            }
        }
    }
    if (st != CDF_STATUS_SUCCESS) {
        pthread_mutex_lock(&sim->table_mu);
        h->in_use = 0;
        pthread_mutex_unlock(&sim->table_mu);
        return st;
    }
    *handle = value;
    return CDF_STATUS_SUCCESS;
}

/* Run a control IOCTL; WaitTrace blocks (STATUS_PENDING from the core) until the notify
 * callback fires, the handle is cancelled or cleaned up. */
static uint32_t control_ioctl(cdfsim *sim, const handle_view *h, uint32_t code,
                              uint8_t *sysbuf, uint32_t in_len, uint32_t out_cap, uint32_t *out_len)
{
    uint32_t granted = cdf_access_from_mask(h->access);
    uint32_t st;
    uint64_t seen;
    uint32_t cancel_gen;
    sim_handle *slot = &sim->handles[h->slot];
    if (code != SIM_IOCTL_WAIT_TRACE) {
        return cdf_control_dispatch(sim->core, code, granted, sysbuf, in_len, sysbuf, out_cap, out_len);
    }
    pthread_mutex_lock(&sim->table_mu);
    pthread_mutex_lock(&sim->wait_mu);
    if (slot->cleaned || sim->destroying) {
        pthread_mutex_unlock(&sim->wait_mu);
        pthread_mutex_unlock(&sim->table_mu);
        return CDF_STATUS_CANCELLED;
    }
    slot->waiters++;
    cancel_gen = slot->cancel_gen;
    atomic_fetch_add(&sim->waiting, 1u);
    pthread_mutex_unlock(&sim->wait_mu);
    pthread_mutex_unlock(&sim->table_mu);
    for (;;) {
        seen = atomic_load(&sim->notify_gen);
        /* The request buffer is decoded again on every attempt: the core wrote nothing on PENDING. */
        st = cdf_control_dispatch(sim->core, code, granted, sysbuf, in_len, sysbuf, out_cap, out_len);
        if (st != CDF_STATUS_PENDING) {
            break;
        }
        pthread_mutex_lock(&sim->wait_mu);
        while (atomic_load(&sim->notify_gen) == seen && slot->cancel_gen == cancel_gen && !slot->cleaned) {
            pthread_cond_wait(&sim->wait_cv, &sim->wait_mu);
        }
        if (slot->cancel_gen != cancel_gen || slot->cleaned) {
            pthread_mutex_unlock(&sim->wait_mu);
            st = CDF_STATUS_CANCELLED;
            *out_len = 0;
            break;
        }
        pthread_mutex_unlock(&sim->wait_mu);
    }
    pthread_mutex_lock(&sim->table_mu);
    pthread_mutex_lock(&sim->wait_mu);
    slot->waiters--;
    pthread_mutex_unlock(&sim->wait_mu);
    pthread_mutex_unlock(&sim->table_mu);
    atomic_fetch_sub(&sim->waiting, 1u); /* last touch of sim: cdfsim_destroy may free it now */
    return st;
}

/* A drive IOCTL or read through the filter core and the lower device. */
static uint32_t drive_request(cdfsim *sim, const handle_view *h, uint32_t major, uint32_t code,
                              uint8_t *sysbuf, uint32_t in_len, uint32_t out_cap,
                              uint64_t offset, uint32_t length, uint32_t *information)
{
    cdf_request rq;
    cdf_verdict v;
    uint32_t st;
    uint32_t info = 0;
    uint32_t core_drive = sim->drive_ids[h->drive];
    simcd *lower = sim->lower[h->drive];
    fill_request(&rq, major, h);
    if (major == CDF_IRP_MJ_DEVICE_CONTROL) {
        rq.ioctl_code = code;
        rq.input = in_len != 0 ? sysbuf : NULL;
        rq.input_length = in_len;
        rq.output_length = out_cap;
    } else {
        rq.output_length = length;
        rq.offset = offset;
    }
    cdf_core_dispatch(sim->core, core_drive, &rq, &v);
    if (v.action == CDF_ACTION_COMPLETE) {
        st = v.status;
        cdf_core_complete(sim->core, core_drive, &rq, &v, st, 0);
        *information = 0;
        return st;
    }
    if (major == CDF_IRP_MJ_DEVICE_CONTROL) {
        st = simcd_ioctl(lower, h->fo, code, h->kernel ? SIMCD_FLAG_KERNEL_MODE : 0u,
                         in_len != 0 ? sysbuf : NULL, in_len,
                         out_cap != 0 ? sysbuf : NULL, out_cap, &info);
    } else {
        st = simcd_read(lower, h->fo, offset, length, &info);
    }
    if (v.action == CDF_ACTION_FORWARD_TRACK) {
        /* output capture: the device control's SystemBuffer as simcd filled it (a simulated
         * read has no data buffer) */
        if (major == CDF_IRP_MJ_DEVICE_CONTROL && out_cap != 0) rq.output = sysbuf;
        cdf_core_complete(sim->core, core_drive, &rq, &v, st, info);
    }
    *information = info;
    return st;
}

/* The I/O manager's METHOD_BUFFERED completion: warning and success statuses copy Information
 * bytes of the SystemBuffer back to the caller's output buffer; errors copy nothing and report 0. */
static void copy_back(uint32_t st, const uint8_t *sysbuf, uint32_t info, void *out, uint32_t out_cap,
                      uint32_t *returned)
{
    if ((st & 0xC0000000u) == 0xC0000000u || info > out_cap) {
        info = 0;
    }
    if (info != 0) {
        memcpy(out, sysbuf, info);
    }
    if (returned != NULL) {
        *returned = info;
    }
}

/* FILE_DEVICE_FILE_SYSTEM (devioctl.h) and the file system controls of a UDF volume (winioctl.h). */
#define SIM_FILE_DEVICE_FILE_SYSTEM        0x09u
#define SIM_FSCTL_MAKE_MEDIA_COMPATIBLE    CDF_CTL_CODE(0x09u, 76u, 0u, 2u)  /* 0x00098130 */
#define SIM_FSCTL_SET_DEFECT_MANAGEMENT    CDF_CTL_CODE(0x09u, 77u, 0u, 2u)  /* 0x00098134 */

/*
 * The simulated UDF file system's file system controls on a volume handle (docs/simulator.md,
 * "Mounted volume"):
 * - FSCTL_MAKE_MEDIA_COMPATIBLE (FILE_MAKE_COMPATIBLE_BUFFER, 1 byte): closes the open session on
 *   write-once media by sending CLOSE TRACK/SESSION (0x5B, close function 010b: the session) down
 *   the device stack as a kernel-mode IOCTL_SCSI_PASS_THROUGH with the volume's file object,
 *   through the filter; the media then reads as ROM media. Input shorter than the buffer:
 *   STATUS_INVALID_PARAMETER; the drive's CHECK CONDITION (no open session):
 *   STATUS_INVALID_DEVICE_REQUEST.
 * - FSCTL_SET_DEFECT_MANAGEMENT acts on a file, and a volume handle is not one:
 *   STATUS_INVALID_PARAMETER (file handles on the volume are not simulated).
 * - FSCTL_WRITE_USN_CLOSE_RECORD is NTFS 3.0+ only; UDF does not implement it:
 *   STATUS_INVALID_DEVICE_REQUEST, as every other file system control.
 */
static uint32_t udfs_fsctl(cdfsim *sim, const handle_view *vol, uint32_t code, const uint8_t *sysbuf,
                           uint32_t in_len)
{
    if (code == SIM_FSCTL_MAKE_MEDIA_COMPATIBLE) {
        uint8_t spt[88];
        uint32_t info = 0;
        uint32_t st;
        handle_view fs = *vol;
        if (in_len < 1u) {
            return CDF_STATUS_INVALID_PARAMETER;
        }
        (void)sysbuf; /* CloseDisc: closing the disc too is not distinguished by the model */
        memset(spt, 0, sizeof(spt));
        spt[0] = 56u;           /* SCSI_PASS_THROUGH.Length (64-bit layout) */
        spt[6] = 10u;           /* CdbLength */
        spt[7] = 32u;           /* SenseInfoLength */
        spt[16] = 60u;          /* TimeOutValue (s) */
        spt[32] = 56u;          /* SenseInfoOffset */
        spt[36] = 0x5Bu;        /* CLOSE TRACK/SESSION */
        spt[36 + 2] = 0x02u;    /* close function 010b: close the session */
        fs.kernel = 1u;
        st = drive_request(sim, &fs, CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_SCSI_PASS_THROUGH, spt,
                           56u, (uint32_t)sizeof(spt), 0, 0, &info);
        if (CDF_NT_SUCCESS(st) && info >= 3u && spt[2] != 0u) {
            st = CDF_STATUS_INVALID_DEVICE_REQUEST; /* CHECK CONDITION: ILLEGAL REQUEST */
        }
        return st;
    }
    if (code == SIM_FSCTL_SET_DEFECT_MANAGEMENT) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    return CDF_STATUS_INVALID_DEVICE_REQUEST;
}

uint32_t cdfsim_ioctl(cdfsim *sim, uint64_t handle, uint32_t code,
                      const void *in, uint32_t in_len, void *out, uint32_t out_cap,
                      uint32_t *returned)
{
    handle_view h;
    uint8_t stackbuf[SIM_STACK_SYSBUF];
    uint8_t *sysbuf = stackbuf;
    uint32_t size = in_len > out_cap ? in_len : out_cap;
    uint32_t st;
    uint32_t info = 0;
    if (returned != NULL) {
        *returned = 0;
    }
    if (sim == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    if ((in_len != 0 && in == NULL) || (out_cap != 0 && out == NULL)) {
        return CDF_STATUS_INVALID_PARAMETER; /* the I/O manager probes the buffers */
    }
    if (!cdf_ioctl_access_allowed(code, cdf_access_from_mask(h.access))) {
        return CDF_STATUS_ACCESS_DENIED;
    }
    /* METHOD_BUFFERED: one SystemBuffer of max(in, out) bytes holds the input and then the output.
     * Large ones come from a per-thread cache (trace drains ask for ~100 KiB per call). */
    if (size > SIM_STACK_SYSBUF) {
        if (size > tls_sysbuf_size) {
            uint8_t *grown = (uint8_t *)realloc(tls_sysbuf, size);
            if (grown == NULL) {
                return CDF_STATUS_INSUFFICIENT_RESOURCES;
            }
            tls_sysbuf = grown;
            tls_sysbuf_size = size;
        }
        sysbuf = tls_sysbuf;
    }
    if (in_len != 0) {
        memcpy(sysbuf, in, in_len);
    }
    /* Zero only what a small reply can occupy: the lower device and the core write what they
     * return, and only Information bytes are copied back. */
    if (size > in_len && size <= SIM_STACK_SYSBUF) {
        memset(sysbuf + in_len, 0, size - in_len);
    }
    if (h.drive == CDFSIM_CONTROL_DEVICE) {
        st = control_ioctl(sim, &h, code, sysbuf, in_len, out_cap, &info);
    } else if (h.unseen && CDF_CTL_DEVICE_TYPE(code) == SIM_FILE_DEVICE_FILE_SYSTEM) {
        st = udfs_fsctl(sim, &h, code, sysbuf, in_len);
    } else {
        /* the file system forwards every other IOCTL of a volume handle to the device stack,
         * with the volume's file object, which the filter and cdrom never saw created */
        st = drive_request(sim, &h, CDF_IRP_MJ_DEVICE_CONTROL, code, sysbuf, in_len, out_cap, 0, 0, &info);
    }
    copy_back(st, sysbuf, info, out, out_cap, returned);
    return st;
}

uint32_t cdfsim_ioctl_no_file(cdfsim *sim, uint32_t drive, uint32_t pid, uint32_t code,
                              const void *in, uint32_t in_len, void *out, uint32_t out_cap,
                              uint32_t *returned)
{
    return cdfsim_ioctl_no_file_mode(sim, drive, pid, 1u, code, in, in_len, out, out_cap, returned);
}

uint32_t cdfsim_ioctl_no_file_mode(cdfsim *sim, uint32_t drive, uint32_t pid, uint32_t kernel_mode,
                                   uint32_t code, const void *in, uint32_t in_len, void *out,
                                   uint32_t out_cap, uint32_t *returned)
{
    handle_view h;
    uint8_t sysbuf[SIM_STACK_SYSBUF];
    uint32_t size = in_len > out_cap ? in_len : out_cap;
    uint32_t st;
    uint32_t info = 0;
    if (returned != NULL) {
        *returned = 0;
    }
    if (sim == NULL || drive == CDFSIM_CONTROL_DEVICE || drive > sim->drive_count) {
        return CDF_STATUS_OBJECT_NAME_NOT_FOUND;
    }
    if ((in_len != 0 && in == NULL) || (out_cap != 0 && out == NULL)) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    if (size > SIM_STACK_SYSBUF) {
        return CDF_STATUS_INVALID_PARAMETER; /* kernel callers of this kind send small buffers */
    }
    memset(&h, 0, sizeof(h));
    h.drive = drive;
    h.pid = pid;
    h.access = CDFSIM_GENERIC_READ | CDFSIM_GENERIC_WRITE;
    h.kernel = kernel_mode != 0u;
    memset(sysbuf, 0, sizeof(sysbuf));
    if (in_len != 0) {
        memcpy(sysbuf, in, in_len);
    }
    st = drive_request(sim, &h, CDF_IRP_MJ_DEVICE_CONTROL, code, sysbuf, in_len, out_cap, 0, 0, &info);
    copy_back(st, sysbuf, info, out, out_cap, returned);
    return st;
}

uint32_t cdfsim_read(cdfsim *sim, uint64_t handle, uint64_t offset, uint32_t length,
                     uint32_t *returned)
{
    handle_view h;
    uint32_t info = 0;
    uint32_t st;
    if (returned != NULL) {
        *returned = 0;
    }
    if (sim == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    if (h.drive == CDFSIM_CONTROL_DEVICE) {
        return CDF_STATUS_INVALID_DEVICE_REQUEST; /* the control device has no read */
    }
    if (!(h.access & (CDFSIM_FILE_READ_DATA | CDFSIM_GENERIC_READ))) {
        return CDF_STATUS_ACCESS_DENIED;
    }
    st = drive_request(sim, &h, CDF_IRP_MJ_READ, 0, NULL, 0, 0, offset, length, &info);
    if (returned != NULL) {
        *returned = (st & 0xC0000000u) == 0xC0000000u ? 0 : info;
    }
    return st;
}

uint32_t cdfsim_burst(cdfsim *sim, uint64_t handle, uint32_t count, uint32_t length,
                      uint32_t *completed)
{
    handle_view h;
    uint32_t i;
    uint32_t st = CDF_STATUS_SUCCESS;
    uint32_t done = 0;
    if (completed != NULL) {
        *completed = 0;
    }
    if (sim == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    if (h.drive == CDFSIM_CONTROL_DEVICE) {
        return CDF_STATUS_INVALID_DEVICE_REQUEST;
    }
    if (!(h.access & (CDFSIM_FILE_READ_DATA | CDFSIM_GENERIC_READ))) {
        return CDF_STATUS_ACCESS_DENIED;
    }
    for (i = 0; i < count; i++) {
        uint32_t info = 0;
        st = drive_request(sim, &h, CDF_IRP_MJ_READ, 0, NULL, 0, 0, (uint64_t)i * 2048u, length, &info);
        if (st != CDF_STATUS_SUCCESS) {
            break;
        }
        done++;
    }
    if (completed != NULL) {
        *completed = done;
    }
    return st;
}

uint32_t cdfsim_cancel(cdfsim *sim, uint64_t handle)
{
    handle_view h;
    if (sim == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    pthread_mutex_lock(&sim->wait_mu);
    sim->handles[h.slot].cancel_gen++;
    pthread_cond_broadcast(&sim->wait_cv);
    pthread_mutex_unlock(&sim->wait_mu);
    return CDF_STATUS_SUCCESS;
}

static uint32_t do_cleanup(cdfsim *sim, const handle_view *h, uint32_t flags)
{
    pthread_mutex_lock(&sim->wait_mu);
    if (sim->handles[h->slot].cleaned) {
        pthread_mutex_unlock(&sim->wait_mu);
        return CDF_STATUS_SUCCESS; /* the I/O manager sends one cleanup per file object */
    }
    sim->handles[h->slot].cleaned = 1;
    pthread_cond_broadcast(&sim->wait_cv);
    pthread_mutex_unlock(&sim->wait_mu);
    if (h->drive != CDFSIM_CONTROL_DEVICE && !h->unseen) {
        cdf_request rq;
        cdf_verdict v;
        uint32_t st;
        uint32_t core_drive = sim->drive_ids[h->drive];
        fill_request(&rq, CDF_IRP_MJ_CLEANUP, h);
        rq.flags = flags;
        cdf_core_dispatch(sim->core, core_drive, &rq, &v);
        if (v.action == CDF_ACTION_COMPLETE) {
            cdf_core_complete(sim->core, core_drive, &rq, &v, v.status, 0);
            return v.status;
        }
        st = simcd_cleanup(sim->lower[h->drive], h->fo);
        if (v.action == CDF_ACTION_FORWARD_TRACK) {
            cdf_core_complete(sim->core, core_drive, &rq, &v, st, 0);
        }
        return st;
    }
    return CDF_STATUS_SUCCESS;
}

static uint32_t do_close(cdfsim *sim, const handle_view *h, uint32_t flags)
{
    uint32_t st = CDF_STATUS_SUCCESS;
    if (h->drive != CDFSIM_CONTROL_DEVICE && !h->unseen) {
        cdf_request rq;
        cdf_verdict v;
        uint32_t i;
        uint32_t core_drive = sim->drive_ids[h->drive];
        simcd *lower = sim->lower[h->drive];
        fill_request(&rq, CDF_IRP_MJ_CLOSE, h);
        rq.flags = flags;
        cdf_core_dispatch(sim->core, core_drive, &rq, &v);
        /* Enforce: the filter releases the simple locks this handle leaked, below itself: each
         * one is sent (a failure does not stop the rest: cdrom only talks to the drive on the
         * last one), and the core learns how many the lower device accepted. */
        if (v.simple_unlocks != 0) {
            uint32_t succeeded = 0;
            uint32_t first_failure = CDF_STATUS_SUCCESS;
            for (i = 0; i < v.simple_unlocks; i++) {
                uint8_t allow = 0;
                uint32_t info = 0;
                uint32_t ust = simcd_ioctl(lower, h->fo, CDF_IOCTL_STORAGE_MEDIA_REMOVAL, 0, &allow, 1,
                                           NULL, 0, &info);
                if ((ust & 0x80000000u) == 0) {
                    succeeded++;
                } else if (first_failure == CDF_STATUS_SUCCESS) {
                    first_failure = ust;
                }
            }
            cdf_core_simple_unlocks_done(sim->core, core_drive, &rq, &v, succeeded, first_failure);
        }
        if (v.action == CDF_ACTION_COMPLETE) {
            st = v.status;
            cdf_core_complete(sim->core, core_drive, &rq, &v, st, 0);
        } else {
            st = simcd_close(lower, h->fo);
            if (v.action == CDF_ACTION_FORWARD_TRACK) {
                cdf_core_complete(sim->core, core_drive, &rq, &v, st, 0);
            }
        }
    }
    pthread_mutex_lock(&sim->table_mu);
    sim->handles[h->slot].in_use = 0;
    pthread_mutex_unlock(&sim->table_mu);
    return st;
}

/* Other open handles on h's file object (DuplicateHandle). */
static uint32_t fo_refs(cdfsim *sim, const handle_view *h)
{
    uint32_t slot;
    uint32_t n = 0;
    pthread_mutex_lock(&sim->table_mu);
    for (slot = 0; slot < SIM_MAX_HANDLES; slot++) {
        if (slot != h->slot && sim->handles[slot].in_use && sim->handles[slot].fo == h->fo) {
            n++;
        }
    }
    pthread_mutex_unlock(&sim->table_mu);
    return n;
}

static void free_slot(cdfsim *sim, const handle_view *h)
{
    pthread_mutex_lock(&sim->table_mu);
    sim->handles[h->slot].in_use = 0;
    pthread_mutex_unlock(&sim->table_mu);
}

uint32_t cdfsim_close(cdfsim *sim, uint64_t handle)
{
    handle_view h;
    if (sim == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    if (fo_refs(sim, &h) != 0u) {
        free_slot(sim, &h); /* not the last handle: no IRP (ObDereferenceObject only) */
        return CDF_STATUS_SUCCESS;
    }
    (void)do_cleanup(sim, &h, 0);
    (void)do_close(sim, &h, 0);
    return CDF_STATUS_SUCCESS;
}

uint32_t cdfsim_cleanup_only(cdfsim *sim, uint64_t handle)
{
    handle_view h;
    if (sim == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    (void)do_cleanup(sim, &h, 0);
    return CDF_STATUS_SUCCESS;
}

uint32_t cdfsim_close_only(cdfsim *sim, uint64_t handle)
{
    handle_view h;
    if (sim == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    /* No cleanup came: parked waits still end, as the close frees the file object. */
    pthread_mutex_lock(&sim->wait_mu);
    sim->handles[h.slot].cancel_gen++;
    pthread_cond_broadcast(&sim->wait_cv);
    pthread_mutex_unlock(&sim->wait_mu);
    (void)do_close(sim, &h, 0);
    return CDF_STATUS_SUCCESS;
}

uint32_t cdfsim_process_exit(cdfsim *sim, uint32_t pid, uint32_t *closed)
{
    uint32_t slot;
    uint32_t n = 0;
    if (closed != NULL) {
        *closed = 0;
    }
    if (sim == NULL) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    /* Handles close in the order they were opened (slot order is not open order after reuse,
     * so walk by file object serial). */
    for (;;) {
        handle_view h;
        uintptr_t best = 0;
        uint32_t best_slot = 0;
        pthread_mutex_lock(&sim->table_mu);
        for (slot = 0; slot < SIM_MAX_HANDLES; slot++) {
            const sim_handle *s = &sim->handles[slot];
            if (s->in_use && s->pid == pid && (best == 0 || s->fo < best)) {
                best = s->fo;
                best_slot = slot;
            }
        }
        if (best == 0) {
            pthread_mutex_unlock(&sim->table_mu);
            break;
        }
        {
            const sim_handle *s = &sim->handles[best_slot];
            h.slot = best_slot;
            h.drive = s->drive;
            h.pid = s->pid;
            h.access = s->access;
            h.fo = s->fo;
            h.kernel = 0;
            h.unseen = s->unseen;
            memcpy(h.image, s->image, sizeof(h.image));
        }
        pthread_mutex_unlock(&sim->table_mu);
        if (fo_refs(sim, &h) != 0u) {
            free_slot(sim, &h);
        } else {
            (void)do_cleanup(sim, &h, CDF_RQ_PROCESS_EXIT);
            (void)do_close(sim, &h, CDF_RQ_PROCESS_EXIT);
        }
        n++;
    }
    if (closed != NULL) {
        *closed = n;
    }
    return CDF_STATUS_SUCCESS;
}

static uint32_t check_drive(const cdfsim *sim, uint32_t drive)
{
    if (sim == NULL) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    if (drive == 0 || drive > sim->drive_count) {
        return CDF_STATUS_OBJECT_NAME_NOT_FOUND;
    }
    return CDF_STATUS_SUCCESS;
}

uint32_t cdfsim_fail_next(cdfsim *sim, uint32_t drive, uint32_t status)
{
    uint32_t st = check_drive(sim, drive);
    if (st == CDF_STATUS_SUCCESS) {
        simcd_fail_next(sim->lower[drive], status);
    }
    return st;
}

uint32_t cdfsim_set_media(cdfsim *sim, uint32_t drive, uint32_t present)
{
    uint32_t st = check_drive(sim, drive);
    if (st == CDF_STATUS_SUCCESS) {
        simcd_set_media(sim->lower[drive], present);
    }
    return st;
}

uint32_t cdfsim_set_connected(cdfsim *sim, uint32_t drive, uint32_t connected)
{
    uint32_t st = check_drive(sim, drive);
    if (st == CDF_STATUS_SUCCESS) {
        simcd_set_connected(sim->lower[drive], connected);
    }
    return st;
}

uint32_t cdfsim_drive_state_get(cdfsim *sim, uint32_t drive, cdfsim_drive_state *out)
{
    simcd_state s;
    uint32_t st = check_drive(sim, drive);
    if (st != CDF_STATUS_SUCCESS) {
        return st;
    }
    if (out == NULL) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    simcd_get_state(sim->lower[drive], &s);
    out->media_present = s.media_present;
    out->tray_open = s.tray_open;
    out->hw_prevent = s.hw_prevent;
    out->connected = s.connected;
    out->secure_total = s.secure_total;
    out->simple_total = s.simple_total;
    out->mcn_total = s.mcn_total;
    out->exclusive_locked = s.exclusive_locked;
    out->reads = s.reads;
    out->ejects = s.ejects;
    out->open_files = s.open_files;
    out->surprise_removed = s.surprise_removed;
    out->volume_mounted = s.volume_mounted;
    out->session_open = s.session_open;
    out->media_change_count = s.media_change_count;
    out->commands = s.commands;
    out->kernel_mcn = s.kernel_mcn;
    out->reserved = 0;
    return CDF_STATUS_SUCCESS;
}

/* A free handle slot, or NULL. Caller holds table_mu. */
uint32_t cdfsim_duplicate(cdfsim *sim, uint64_t handle, uint32_t pid, uint64_t *duplicate)
{
    handle_view h;
    uint32_t slot = 0;
    sim_handle *d;
    if (duplicate != NULL) {
        *duplicate = 0;
    }
    if (sim == NULL || duplicate == NULL || !handle_get(sim, handle, &h)) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    pthread_mutex_lock(&sim->table_mu);
    d = free_handle(sim, &slot);
    if (d == NULL) {
        pthread_mutex_unlock(&sim->table_mu);
        return CDF_STATUS_INSUFFICIENT_RESOURCES;
    }
    d->in_use = 1;
    d->cleaned = 0;
    d->generation++;
    d->drive = h.drive;
    d->pid = pid;
    d->access = h.access;
    d->fo = h.fo;
    d->unseen = h.unseen;
    memcpy(d->image, h.image, sizeof(d->image));
    *duplicate = handle_value(slot, d->generation);
    pthread_mutex_unlock(&sim->table_mu);
    return CDF_STATUS_SUCCESS;
}

uint32_t cdfsim_open_volume(cdfsim *sim, uint32_t drive, uint32_t pid, const char *image,
                            uint32_t desired_access, uint64_t *handle)
{
    simcd_state s;
    uint32_t slot = 0;
    sim_handle *h;
    if (handle != NULL) {
        *handle = 0;
    }
    if (sim == NULL || handle == NULL) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    if (drive == CDFSIM_CONTROL_DEVICE || drive > sim->drive_count) {
        return CDF_STATUS_OBJECT_NAME_NOT_FOUND;
    }
    simcd_get_state(sim->lower[drive], &s);
    if (!s.media_present || s.tray_open) {
        return CDF_STATUS_NO_MEDIA_IN_DEVICE; /* nothing to mount */
    }
    pthread_mutex_lock(&sim->table_mu);
    h = claim_handle(sim, &slot, drive, pid, image, desired_access, 1);
    if (h == NULL) {
        pthread_mutex_unlock(&sim->table_mu);
        return CDF_STATUS_INSUFFICIENT_RESOURCES;
    }
    *handle = handle_value(slot, h->generation);
    pthread_mutex_unlock(&sim->table_mu);
    simcd_set_volume_mounted(sim->lower[drive], 1u);
    return CDF_STATUS_SUCCESS;
}

uint32_t cdfsim_dismount(cdfsim *sim, uint32_t drive)
{
    uint32_t st = check_drive(sim, drive);
    if (st == CDF_STATUS_SUCCESS) {
        simcd_set_volume_mounted(sim->lower[drive], 0u);
    }
    return st;
}

uint32_t cdfsim_surprise_remove(cdfsim *sim, uint32_t drive)
{
    uint32_t st = check_drive(sim, drive);
    if (st == CDF_STATUS_SUCCESS) {
        simcd_surprise_remove(sim->lower[drive]);
    }
    return st;
}

uint32_t cdfsim_set_session_open(cdfsim *sim, uint32_t drive, uint32_t open)
{
    uint32_t st = check_drive(sim, drive);
    if (st == CDF_STATUS_SUCCESS) {
        simcd_set_session_open(sim->lower[drive], open);
    }
    return st;
}

uint32_t cdfsim_fail_command(cdfsim *sim, uint32_t drive, uint32_t kind, uint32_t nth, uint32_t status)
{
    uint32_t st = check_drive(sim, drive);
    if (st == CDF_STATUS_SUCCESS) {
        st = simcd_fail_command(sim->lower[drive], kind, nth, status);
    }
    return st;
}

_Static_assert(sizeof(cdfsim_command) == sizeof(simcd_command), "cdfsim_command mirrors simcd_command");

uint32_t cdfsim_commands(cdfsim *sim, uint32_t drive, uint32_t after_seq, cdfsim_command *out,
                         uint32_t cap, uint32_t *count)
{
    simcd_command buf[64];
    uint32_t n = 0;
    uint32_t i;
    uint32_t st = check_drive(sim, drive);
    if (count != NULL) {
        *count = 0;
    }
    if (st != CDF_STATUS_SUCCESS) {
        return st;
    }
    if (out == NULL && cap != 0) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    simcd_get_commands(sim->lower[drive], after_seq, buf, cap < 64u ? cap : 64u, &n);
    for (i = 0; i < n; i++) {
        out[i].seq = buf[i].seq;
        out[i].kind = buf[i].kind;
        out[i].opcode = buf[i].opcode;
        out[i].byte4 = buf[i].byte4;
        out[i].origin = buf[i].origin;
        out[i].status = buf[i].status;
        out[i].sense_key = buf[i].sense_key;
        out[i].asc = buf[i].asc;
        out[i].ascq = buf[i].ascq;
        out[i].reserved = 0;
    }
    if (count != NULL) {
        *count = n;
    }
    return CDF_STATUS_SUCCESS;
}

uint64_t cdfsim_now(cdfsim *sim)
{
    (void)sim;
    return cdf_clock_now();
}
