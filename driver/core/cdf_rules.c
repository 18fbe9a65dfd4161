/*
 * cdf_rules.c - the request path (cdf_core_dispatch / cdf_core_complete).
 *
 * Dispatch decides under core->lock: it classifies the request, validates it as cdrom.sys
 * would, applies the policy, writes the dispatch record (and the filter's own auto-release and
 * leak records) and hands the host a verdict. Completion applies the ledger operation the
 * verdict carries, only when the lower driver's status is a success code, and writes the
 * completion record. Rules and their sources: docs/core.md; BRIEF §3; seed 003.
 */
#include <string.h>
#include "cdf_rules.h"
#include "cdf_internal.h"
#include "cdf_handles.h"
#include "cdf_ledger.h"
#include "cdf_trace.h"
#include "cdf_scsi.h"
#include "cdf_text.h"

/* Device types NormalizeIoctl rebases: bit n set for device type n (all are below 64). */
#define CDF_NORMALIZED_TYPES ((1ull << CDF_FILE_DEVICE_CONTROLLER) | (1ull << CDF_FILE_DEVICE_DISK) | \
                              (1ull << CDF_FILE_DEVICE_TAPE) | (1ull << CDF_FILE_DEVICE_DVD) | \
                              (1ull << CDF_FILE_DEVICE_CD_ROM))
_Static_assert(CDF_FILE_DEVICE_DVD < 64u && CDF_FILE_DEVICE_TAPE < 64u && CDF_FILE_DEVICE_DISK < 64u &&
               CDF_FILE_DEVICE_CONTROLLER < 64u && CDF_FILE_DEVICE_CD_ROM < 64u, "type bit mask");

static inline uint32_t normalize(uint32_t code)
{
    uint32_t base = CDF_CTL_DEVICE_TYPE(code);
    uint32_t function = CDF_CTL_FUNCTION(code);
    if (base < 64u && ((CDF_NORMALIZED_TYPES >> base) & 1u) != 0u && function - 0x200u <= 0x100u)
        return (code & 0x0000FFFFu) | (CDF_FILE_DEVICE_MASS_STORAGE << 16);
    return code;
}

uint32_t cdf_normalize_ioctl(uint32_t code)
{
    return normalize(code);
}

/* Device types whose IOCTLs cdrom.sys refuses to non-owners under exclusive access. */
static int storage_family(uint32_t code)
{
    uint32_t base = CDF_CTL_DEVICE_TYPE(code);
    return base == CDF_FILE_DEVICE_CD_ROM || base == CDF_FILE_DEVICE_DISK ||
           base == CDF_FILE_DEVICE_DVD || base == CDF_FILE_DEVICE_MASS_STORAGE;
}

/*
 * IRP_MJ_INTERNAL_DEVICE_CONTROL (IRP_MJ_SCSI): Parameters.Scsi.Srb overlays
 * Parameters.DeviceIoControl, so the "lengths" and "code" of such a request are bits of a kernel
 * pointer and its Information may be one too. The core keeps only what is safe: major, minor,
 * file object key, ids and flags (no code, lengths, input or offset), whatever the host filled.
 */
static const cdf_request *sanitize(const cdf_request *rq, cdf_request *clean)
{
    if (rq->major != CDF_IRP_MJ_INTERNAL_DEVICE_CONTROL) return rq;
    memset(clean, 0, sizeof(*clean));
    clean->major = rq->major;
    clean->minor = rq->minor;
    clean->file = rq->file;
    clean->pid = rq->pid;
    clean->tid = rq->tid;
    clean->requestor_pid = rq->requestor_pid;
    clean->flags = rq->flags;
    return clean;
}

/* IoStatus.Information as recorded: a byte count bounded by the request's own buffer (device
 * control: output length; read: read length; write: write length), the create disposition
 * (FILE_SUPERSEDED..FILE_DOES_NOT_EXIST, 0..5) for create/cleanup/close, and 0 for everything
 * else (internal device controls and other majors may return a kernel pointer in it). */
static uint64_t record_information(const cdf_request *rq, uint64_t information)
{
    switch (rq->major) {
    case CDF_IRP_MJ_DEVICE_CONTROL:
    case CDF_IRP_MJ_READ:
        return information <= rq->output_length ? information : rq->output_length;
    case CDF_IRP_MJ_WRITE:
        return information <= rq->input_length ? information : rq->input_length;
    case CDF_IRP_MJ_CREATE:
    case CDF_IRP_MJ_CLEANUP:
    case CDF_IRP_MJ_CLOSE:
        return information <= 5u ? information : 0u;
    default:
        return 0u;
    }
}

/* Append a record and fill every field but the kind-specific ones (status, information,
 * duration, count_released, the input head), which the caller sets when they are not zero.
 * Written straight into the claimed slot under core->lock. Only the opener image's image_len
 * bytes are copied: a reader never looks past them. */
static inline cdf_slot *put_record(cdf_core *core, uint8_t kind, uint64_t now, uint32_t drive_id,
                                   const cdf_drive *d, const cdf_request *rq, const cdf_handle *h,
                                   uint32_t normalized, uint64_t request_id, uint8_t decision,
                                   uint8_t reason)
{
    cdf_slot *s = cdf_ring_append(&core->ring, kind, now);
    int is_ioctl = rq->major == CDF_IRP_MJ_DEVICE_CONTROL; /* internal ones carry no code */
    s->request_id = request_id;
    s->information = 0u;
    s->duration = 0u;
    s->drive_id = drive_id;
    s->pid = rq->pid;
    s->tid = rq->tid;
    s->requestor_pid = rq->requestor_pid;
    s->major = rq->major;
    s->minor = rq->minor;
    s->ioctl_code = is_ioctl ? rq->ioctl_code : 0u;
    s->normalized_code = is_ioctl ? normalized : 0u;
    s->input_length = rq->input_length;
    s->output_length = rq->output_length;
    s->status = 0u;
    s->secure_total = d->secure_total;
    s->simple_total = d->simple_total;
    s->count_released = 0u;
    s->decision = decision;
    s->reason = reason;
    s->truncated = 0u;
    s->head_len = 0u;
    if (h != NULL) {
        uint32_t n = h->image_len, i;
        s->handle_id = h->handle_id;
        s->opener_pid = h->pid;
        s->image_len = (uint16_t)n;
        /* 16-byte blocks: both arrays are CDF_IMAGE_MAX bytes, a multiple of 16, so the last
         * block stays inside them; bytes past image_len are never read */
        for (i = 0; i < n; i += 16u) memcpy(s->opener_image + i, h->image + i, 16u);
    } else {
        s->handle_id = 0u;
        s->opener_pid = 0u;
        s->image_len = 0u;
    }
    return s;
}

/* Enter an entry point: read the clock before taking core->lock (a waiter must not pay for it),
 * order the time after the previous record's, look the drive up. Returns the drive with the lock
 * held, or NULL with the lock released (unknown drive); *now is set either way. */
static cdf_drive *enter(cdf_core *core, uint32_t drive_id, uint64_t *now)
{
    uint64_t raw_now = cdf_clock_now();
    cdf_drive *d;
    cdf_lock_acquire(&core->lock);
    *now = cdf_ring_order(&core->ring, raw_now);
    d = cdf_drive_get(core, drive_id);
    if (d == NULL) cdf_lock_release(&core->lock);
    return d;
}

/* Leave an entry point entered with enter(): release core->lock and, when records were appended
 * while a WaitTrace is parked, call the notify callback outside the lock (once per parked wait). */
static void leave(cdf_core *core, int appended)
{
    cdf_notify_fn *fn = NULL;
    void *context = NULL;
    if (appended && core->wait_armed && core->notify != NULL) {
        core->wait_armed = 0u;
        fn = core->notify;
        context = core->notify_context;
    }
    cdf_lock_release(&core->lock);
    if (fn != NULL) fn(context);
}

/* A file object the core never saw created (e.g. a volume handle routed through CDFS/UDFS,
 * BRIEF §4) had a lock succeed at the lower driver: adopt it so the lock has an owner. Called
 * only at a successful completion, so a lock the lower driver refuses takes no slot. NULL when
 * the table is full. */
static cdf_handle *adopt(cdf_core *core, cdf_drive *d, uint32_t drive_id, const cdf_request *rq)
{
    cdf_handle *h;
    if (rq->file.opaque == 0u) return NULL;
    h = cdf_handles_insert(&core->handles, d, drive_id, rq->file.opaque);
    if (h == NULL) return NULL;
    h->handle_id = ++core->next_handle_id;
    h->pid = rq->pid;
    h->adopted = 1u;
    d->open_handles++;
    return h;
}

/* An adopted entry carries no identity worth keeping (no opener image, and its file object may
 * never send cleanup or close down this stack): it goes as soon as it holds nothing, so that
 * it neither leaks a slot nor hands its id to a later file object at the same address. */
static void reap_idle(cdf_core *core, cdf_drive *d, cdf_handle *h)
{
    if (!h->in_use || h->secure != 0u || h->simple != 0u || h->mcn != 0u || h->exclusive) return;
    cdf_handles_remove(&core->handles, d, h);
    d->open_handles--;
}

/* The check callers make first: created entries (the hot path) never get further. */
#define CDF_ADOPTED(h) ((h) != NULL && (h)->adopted)

/* Release the secure locks of h when it goes away; writes the AUTO_RELEASE record, whatever
 * the trace filter says (decision records are always written). */
static int release_secure(cdf_core *core, cdf_drive *d, uint32_t drive_id, const cdf_request *rq,
                          cdf_handle *h, uint64_t now, uint8_t reason)
{
    uint32_t n = cdf_ledger_release_all(d, h, CDF_LOCK_SECURE);
    if (n == 0u) return 0;
    put_record(core, CDF_REC_AUTO_RELEASE, now, drive_id, d, rq, h, 0u, 0u,
               CDF_DEC_RELEASE, reason)->count_released = n;
    return 1;
}

/* A create completed for a file object whose entry is still live: its close never reached the
 * core (a host without close reporting, or an adopted file object whose close went elsewhere)
 * and the address was reused. An address is reused only after the old file object was freed,
 * so its IRP_MJ_CLOSE did go down the stack: cdrom.sys released that file object's secure locks
 * and MCN disables there (DeviceEvtFileClose -> DeviceCleanupProtectedLocks) and dropped its
 * exclusive access. The core does the same: secure locks are released (AUTO_RELEASE, decision
 * RELEASE, reason HANDLE_CLOSE); keeping them counted would make enforce deny every eject against
 * a lock the drive no longer holds. Simple locks survive a close in cdrom.sys, so they stay
 * counted as the drive's orphans (LEAK_RELEASE, decision PASS = left held). Written whatever the
 * trace filter says, like every release record. Returns whether a record was appended. */
static int retire_stale(cdf_core *core, cdf_drive *d, uint32_t drive_id, const cdf_request *rq,
                        cdf_handle *h, uint64_t now)
{
    int appended = release_secure(core, d, drive_id, rq, h, now, CDF_RSN_HANDLE_CLOSE);
    uint32_t simple = h->simple;
    (void)cdf_ledger_release_all(d, h, CDF_LOCK_MCN);
    d->orphan_simple += simple;
    h->simple = 0u;
    if (h->exclusive) d->exclusive_owner = 0u;
    if (simple != 0u) {
        put_record(core, CDF_REC_LEAK_RELEASE, now, drive_id, d, rq, h, 0u, 0u, CDF_DEC_PASS,
                   CDF_RSN_HANDLE_CLOSE)->count_released = simple;
        appended = 1;
    }
    cdf_handles_remove(&core->handles, d, h);
    d->open_handles--;
    return appended;
}

static void deny(cdf_core *core, cdf_drive *d, cdf_verdict *v, uint32_t status)
{
    v->action = CDF_ACTION_COMPLETE;
    v->status = status;
    d->denials++;
    core->requests_denied++;
}

void cdf_core_dispatch(cdf_core *core, uint32_t drive_id, const cdf_request *rq_in, cdf_verdict *v)
{
    cdf_request clean;
    const cdf_request *rq = sanitize(rq_in, &clean);
    uint64_t now;
    uint32_t normalized = rq->ioctl_code, op = CDF_OP_NONE, flags = 0u;
    uint8_t decision = CDF_DEC_PASS, reason = CDF_RSN_NONE;
    int traced, appended = 0, enforce;
    cdf_drive *d;
    cdf_handle *h;

    memset(v, 0, sizeof(*v));
    v->action = CDF_ACTION_FORWARD_TRACK;
    if (rq->major == CDF_IRP_MJ_DEVICE_CONTROL) normalized = normalize(rq->ioctl_code);

    d = enter(core, drive_id, &now);
    v->dispatched_at = now;
    if (d == NULL) {
        v->action = CDF_ACTION_FORWARD;
        return;
    }
    core->requests_seen++;
    v->request_id = ++core->next_request_id;
    enforce = d->policy == CDF_POLICY_ENFORCE_V;
    traced = cdf_filter_wants(&core->filter, drive_id, rq->major, rq->ioctl_code, normalized);
    h = cdf_handles_find(&core->handles, drive_id, rq->file.opaque);

    switch (rq->major) {
    case CDF_IRP_MJ_CREATE:
        op = CDF_OP_CREATE;
        h = NULL; /* a new file object: an entry under its key is stale (retired at completion) */
        break;
    case CDF_IRP_MJ_CLEANUP:
        op = CDF_OP_CLEANUP;
        break;
    case CDF_IRP_MJ_CLOSE:
        op = CDF_OP_CLOSE;
        break;
    case CDF_IRP_MJ_DEVICE_CONTROL: {
        int secure = normalized == CDF_IOCTL_STORAGE_EJECTION_CONTROL;
        int simple = normalized == CDF_IOCTL_STORAGE_MEDIA_REMOVAL;
        int mcn = normalized == CDF_IOCTL_STORAGE_MCN_CONTROL;
        if (secure || simple || mcn) {
            int prevent;
            decision = CDF_DEC_TRACK;
            /* cdrom.sys: InputBufferLength < sizeof(PREVENT_MEDIA_REMOVAL) */
            if (rq->input_length < 1u || rq->input == NULL) {
                v->action = CDF_ACTION_COMPLETE;
                v->status = CDF_STATUS_INFO_LENGTH_MISMATCH;
                decision = CDF_DEC_REJECT;
                reason = CDF_RSN_SHORT_INPUT;
                break;
            }
            prevent = rq->input[0] != 0u;
            if (secure && rq->file.opaque == 0u) {
                v->action = CDF_ACTION_COMPLETE;
                v->status = CDF_STATUS_INVALID_HANDLE;
                decision = CDF_DEC_REJECT;
                reason = CDF_RSN_NO_FILE_OBJECT;
                break;
            }
            if (prevent) {
                /* adoption waits for the lower driver's success (cdf_core_complete); a full
                 * table is known now */
                if ((h == NULL || h->adopted) && rq->file.opaque != 0u &&
                    (h != NULL || !cdf_handles_full(&core->handles)))
                    flags |= CDF_OPF_ADOPT;
                if (h == NULL && (flags & CDF_OPF_ADOPT) == 0u) {
                    flags |= CDF_OPF_ORPHAN;
                    if (rq->file.opaque != 0u) reason = CDF_RSN_LEDGER_FULL;
                    if (secure && enforce) {
                        deny(core, d, v, CDF_STATUS_INSUFFICIENT_RESOURCES);
                        decision = CDF_DEC_DENY;
                        break;
                    }
                }
                op = secure ? CDF_OP_SECURE_LOCK : simple ? CDF_OP_SIMPLE_LOCK : CDF_OP_MCN_DISABLE;
            } else if (secure) {
                if (h != NULL && h->secure != 0u) {
                    op = CDF_OP_SECURE_UNLOCK;
                } else if (h == NULL && d->orphan_secure != 0u) {
                    /* an untracked handle may be the orphan lock's holder: cdrom decides */
                    op = CDF_OP_SECURE_UNLOCK;
                    flags |= CDF_OPF_ORPHAN;
                } else {
                    d->foreign_unlocks++;
                    reason = CDF_RSN_FOREIGN_SECURE_UNLOCK;
                    if (enforce) {
                        deny(core, d, v, CDF_STATUS_INVALID_DEVICE_STATE);
                        decision = CDF_DEC_DENY;
                    }
                }
            } else if (simple) {
                if (d->simple_total == 0u) reason = CDF_RSN_UNLOCK_AT_ZERO;
                else op = CDF_OP_SIMPLE_UNLOCK;
            } else {
                if (h != NULL && h->mcn != 0u) op = CDF_OP_MCN_ENABLE;
                else if (h == NULL && d->orphan_mcn != 0u) {
                    op = CDF_OP_MCN_ENABLE;
                    flags |= CDF_OPF_ORPHAN;
                }
            }
        } else {
            cdf_scsi_effect fx = CDF_SCSI_NOT_PASSTHROUGH;
            int ejects = normalized == CDF_IOCTL_STORAGE_EJECT_MEDIA;
            if (!ejects && cdf_scsi_is_passthrough(rq->ioctl_code)) {
                fx = cdf_scsi_classify(rq->ioctl_code, rq->input, rq->input_length,
                                       (rq->flags & CDF_RQ_CALLER_32BIT) != 0u, NULL);
            }
            if ((ejects || fx == CDF_SCSI_EJECT || fx == CDF_SCSI_ALLOW) &&
                d->secure_total != 0u && !cdf_ledger_sole_secure_owner(d, h)) {
                uint8_t why = ejects ? CDF_RSN_EJECT_UNDER_LOCK
                            : fx == CDF_SCSI_EJECT ? CDF_RSN_PASSTHROUGH_EJECT_UNDER_LOCK
                            : CDF_RSN_PASSTHROUGH_ALLOW_UNDER_LOCK;
                if (enforce) {
                    deny(core, d, v, CDF_STATUS_DEVICE_BUSY);
                    decision = CDF_DEC_DENY;
                    reason = why;
                } else {
                    reason = CDF_RSN_WOULD_DENY;
                }
            } else if (rq->ioctl_code == CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS &&
                       rq->input != NULL && rq->input_length >= 8u) {
                uint32_t type = (uint32_t)rq->input[0] | ((uint32_t)rq->input[1] << 8) |
                                ((uint32_t)rq->input[2] << 16) | ((uint32_t)rq->input[3] << 24);
                if (type == CDF_EXCLUSIVE_ACCESS_LOCK_DEVICE) {
                    if ((h == NULL || h->adopted) && rq->file.opaque != 0u &&
                        (h != NULL || !cdf_handles_full(&core->handles)))
                        flags |= CDF_OPF_ADOPT;
                    if (h != NULL || (flags & CDF_OPF_ADOPT) != 0u) op = CDF_OP_EXCLUSIVE_LOCK;
                    else if (rq->file.opaque != 0u) reason = CDF_RSN_LEDGER_FULL;
                    decision = CDF_DEC_TRACK;
                } else if (type == CDF_EXCLUSIVE_ACCESS_UNLOCK_DEVICE) {
                    op = CDF_OP_EXCLUSIVE_UNLOCK;
                    decision = CDF_DEC_TRACK;
                }
            }
        }
        if (reason == CDF_RSN_NONE && d->exclusive_owner != 0u && storage_family(rq->ioctl_code) &&
            (h == NULL || h->handle_id != d->exclusive_owner))
            reason = CDF_RSN_EXCLUSIVE_ACCESS; /* cdrom.sys answers STATUS_ACCESS_DENIED */
        break;
    }
    default:
        break;
    }

    if (op == CDF_OP_CREATE || op == CDF_OP_CLEANUP || op == CDF_OP_CLOSE) {
        decision = (h != NULL || op == CDF_OP_CREATE) ? CDF_DEC_TRACK : CDF_DEC_PASS;
    }
    if (v->action != CDF_ACTION_COMPLETE && op == CDF_OP_NONE && !traced)
        v->action = CDF_ACTION_FORWARD;
    if ((op == CDF_OP_CLEANUP || op == CDF_OP_CLOSE) && h == NULL && !traced)
        v->action = CDF_ACTION_FORWARD;

    /* Decision records are written even when the trace filter excludes the request; the
     * request's completion record follows (CDF_OPF_TRACED). */
    if (decision == CDF_DEC_DENY || decision == CDF_DEC_REJECT) traced = 1;
    if (traced) {
        cdf_slot *s = put_record(core, CDF_REC_DISPATCH, now, drive_id, d, rq, h, normalized,
                                 v->request_id, decision, reason);
        cdf_trace_capture(s, rq, normalized, core->filter.capture_bytes);
        if (v->action == CDF_ACTION_COMPLETE) s->status = v->status;
        appended = 1;
    }

    if (h != NULL) {
        v->handle_id = h->handle_id;
        v->handle_slot = (uint32_t)(h - core->handles.pool) + 1u;
    }
    /* an adopted handle that cleanup/close leaves holding nothing goes at once (the completion
     * then finds no entry: the verdict's slot hint no longer matches) */
    if (h != NULL && op == CDF_OP_CLEANUP) {
        h->cleaned_up = 1u;
        appended |= release_secure(core, d, drive_id, rq, h, now,
                                   (rq->flags & CDF_RQ_PROCESS_EXIT) ? CDF_RSN_PROCESS_EXIT
                                                                     : CDF_RSN_HANDLE_CLEANUP);
        if (h->adopted) reap_idle(core, d, h);
    } else if (h != NULL && op == CDF_OP_CLOSE) {
        uint32_t leaked;
        appended |= release_secure(core, d, drive_id, rq, h, now,
                                   (rq->flags & CDF_RQ_PROCESS_EXIT) ? CDF_RSN_PROCESS_EXIT
                                                                     : CDF_RSN_HANDLE_CLOSE);
        /* cdrom.sys DeviceEvtFileClose also re-enables MCN and drops exclusive access */
        (void)cdf_ledger_release_all(d, h, CDF_LOCK_MCN);
        if (h->exclusive) {
            h->exclusive = 0u;
            d->exclusive_owner = 0u;
        }
        if (h->simple != 0u) {
            if (enforce) {
                /* the host sends the unlocks, then reports how many succeeded
                 * (cdf_core_simple_unlocks_done): the ledger changes only then */
                v->simple_unlocks = h->simple;
            } else {
                leaked = cdf_ledger_orphan_simple(d, h);
                put_record(core, CDF_REC_LEAK_RELEASE, now, drive_id, d, rq, h, 0u, 0u, CDF_DEC_PASS,
                           CDF_RSN_SIMPLE_LOCK_LEAK)->count_released = leaked;
                appended = 1;
            }
        }
        if (h->adopted) reap_idle(core, d, h);
    }

    v->op = op | flags | (traced ? CDF_OPF_TRACED : 0u) |
            ((uint32_t)decision << CDF_OP_DECISION_SHIFT) | ((uint32_t)reason << CDF_OP_REASON_SHIFT);
    leave(core, appended);
}

/* The handle a verdict was decided for, under core->lock: the dispatch's entry if it still is
 * that handle, else a lookup; NULL when the file object was closed and reused meanwhile (unless
 * any_id, for a create). An adopted entry found under another id is the same file object (its
 * entry was reaped and adopted again meanwhile): adopted entries carry no identity. */
static cdf_handle *verdict_handle(cdf_core *core, uint32_t drive_id, const cdf_request *rq,
                                  const cdf_verdict *v, int any_id)
{
    cdf_handle *h;
    if (v->handle_slot - 1u < core->handles.max) {
        cdf_handle *c = &core->handles.pool[v->handle_slot - 1u];
        if (c->in_use && c->key == rq->file.opaque && c->drive_id == drive_id &&
            c->handle_id == v->handle_id)
            return c;
    }
    h = cdf_handles_find(&core->handles, drive_id, rq->file.opaque);
    if (h != NULL && !any_id && v->handle_id != 0u && h->handle_id != v->handle_id && !h->adopted)
        h = NULL; /* the file object was closed and reused while this request was in flight */
    return h;
}

void cdf_core_simple_unlocks_done(cdf_core *core, uint32_t drive_id, const cdf_request *rq,
                                  const cdf_verdict *v, uint32_t succeeded, uint32_t failure_status)
{
    uint64_t now;
    uint32_t due = v->simple_unlocks, released = 0u, held = 0u, i;
    int appended = 0;
    cdf_drive *d;
    cdf_handle *h;

    if (due == 0u) return;
    if (succeeded > due) succeeded = due;
    d = enter(core, drive_id, &now);
    if (d == NULL) return;
    h = verdict_handle(core, drive_id, rq, v, 0);
    /* each successful MEDIA_REMOVAL(FALSE) took one off cdrom.sys's count: charge the closing
     * handle first, then (a foreign unlock may have charged it meanwhile) the oldest holder,
     * then the orphans */
    for (i = 0; i < succeeded && d->simple_total != 0u; i++) {
        cdf_handle *from = (h != NULL && h->simple != 0u) ? h
                         : cdf_ledger_oldest_simple_holder(&core->handles, d);
        if (cdf_ledger_drop(d, from, CDF_LOCK_SIMPLE)) released++;
        if (from != h && CDF_ADOPTED(from)) reap_idle(core, d, from);
    }
    /* the ones that failed stay counted by cdrom.sys with no handle left to own them */
    if (h != NULL) held = cdf_ledger_orphan_simple(d, h);
    if (released != 0u) {
        put_record(core, CDF_REC_LEAK_RELEASE, now, drive_id, d, rq, h, 0u, 0u, CDF_DEC_RELEASE,
                   CDF_RSN_SIMPLE_LOCK_LEAK)->count_released = released;
        appended = 1;
    }
    if (succeeded < due || held != 0u) {
        cdf_slot *s = put_record(core, CDF_REC_LEAK_RELEASE, now, drive_id, d, rq, h, 0u, 0u,
                                 CDF_DEC_PASS, CDF_RSN_SIMPLE_LOCK_LEAK);
        s->count_released = held;
        s->status = succeeded < due ? failure_status : CDF_STATUS_SUCCESS;
        appended = 1;
    }
    if (CDF_ADOPTED(h)) reap_idle(core, d, h); /* the close's completion then finds no entry */
    leave(core, appended);
}

void cdf_core_complete(cdf_core *core, uint32_t drive_id, const cdf_request *rq_in,
                       const cdf_verdict *v, uint32_t status, uint64_t information)
{
    cdf_request clean;
    const cdf_request *rq = sanitize(rq_in, &clean);
    uint64_t now;
    uint32_t op = v->op & 0xFFu;
    int traced = (v->op & CDF_OPF_TRACED) != 0u, orphan = (v->op & CDF_OPF_ORPHAN) != 0u;
    uint8_t decision = (uint8_t)(v->op >> CDF_OP_DECISION_SHIFT);
    uint8_t reason = (uint8_t)(v->op >> CDF_OP_REASON_SHIFT);
    int appended = 0, opened = 0;
    cdf_drive *d;
    cdf_handle *h;
    uint32_t normalized;

    if (v->action == CDF_ACTION_FORWARD) return;
    normalized = rq->major == CDF_IRP_MJ_DEVICE_CONTROL ? normalize(rq->ioctl_code) : rq->ioctl_code;
    d = enter(core, drive_id, &now);
    if (d == NULL) return;
    h = verdict_handle(core, drive_id, rq, v, op == CDF_OP_CREATE);
    if (orphan && h != NULL) h = NULL;

    if (v->action == CDF_ACTION_COMPLETE) {
        op = CDF_OP_NONE; /* completed by the filter: nothing reached the lower driver */
    } else if (!CDF_NT_SUCCESS(status)) {
        if (op != CDF_OP_NONE && op != CDF_OP_CLEANUP && op != CDF_OP_CLOSE) reason = CDF_RSN_LOWER_FAILED;
        if (op != CDF_OP_CLOSE) op = CDF_OP_NONE;
    }
    if ((v->op & CDF_OPF_ADOPT) != 0u && op != CDF_OP_NONE) {
        /* the lock succeeded: another request of this file object may have adopted it since */
        if (h == NULL) h = cdf_handles_find(&core->handles, drive_id, rq->file.opaque);
        if (h == NULL) h = adopt(core, d, drive_id, rq);
        if (h == NULL) {
            orphan = 1; /* the table filled up after the dispatch: cdrom.sys counts it anyway */
            reason = CDF_RSN_LEDGER_FULL;
        }
    }

    switch (op) {
    case CDF_OP_CREATE:
        /* a file object reused without its close reaching us: retire the old entry */
        if (h != NULL) appended |= retire_stale(core, d, drive_id, rq, h, now);
        h = cdf_handles_insert(&core->handles, d, drive_id, rq->file.opaque);
        if (h != NULL) {
            h->handle_id = ++core->next_handle_id;
            h->pid = rq->pid;
            h->image_len = (uint8_t)cdf_utf8_copy(h->image, CDF_IMAGE_MAX, rq->image_name);
            d->open_handles++;
            opened = 1;
        } else {
            reason = CDF_RSN_LEDGER_FULL;
        }
        break;
    case CDF_OP_SECURE_LOCK:
        if (h != NULL || orphan) {
            if (cdf_ledger_take(d, h, CDF_LOCK_SECURE, now)) reason = h != NULL ? CDF_RSN_LOCK_TAKEN : CDF_RSN_LEDGER_FULL;
        }
        break;
    case CDF_OP_SECURE_UNLOCK:
        if ((h != NULL || orphan) && cdf_ledger_drop(d, h, CDF_LOCK_SECURE)) reason = CDF_RSN_LOCK_DROPPED;
        else reason = CDF_RSN_FOREIGN_SECURE_UNLOCK;
        break;
    case CDF_OP_SIMPLE_LOCK:
        if (cdf_ledger_take(d, h, CDF_LOCK_SIMPLE, now) && h != NULL) reason = CDF_RSN_LOCK_TAKEN;
        break;
    case CDF_OP_SIMPLE_UNLOCK:
        if (d->simple_total == 0u) {
            reason = CDF_RSN_UNLOCK_AT_ZERO;
        } else if (h != NULL && h->simple != 0u) {
            (void)cdf_ledger_drop(d, h, CDF_LOCK_SIMPLE);
            reason = CDF_RSN_LOCK_DROPPED;
        } else {
            /* simple locks may be released by anyone: charge the oldest holder */
            cdf_handle *oldest = cdf_ledger_oldest_simple_holder(&core->handles, d);
            (void)cdf_ledger_drop(d, oldest, CDF_LOCK_SIMPLE);
            if (CDF_ADOPTED(oldest)) reap_idle(core, d, oldest); /* never h: h holds none */
            reason = CDF_RSN_FOREIGN_SIMPLE_UNLOCK;
        }
        break;
    case CDF_OP_MCN_DISABLE:
        if (cdf_ledger_take(d, h, CDF_LOCK_MCN, now) && h != NULL) reason = CDF_RSN_LOCK_TAKEN;
        break;
    case CDF_OP_MCN_ENABLE:
        if ((h != NULL || orphan) && cdf_ledger_drop(d, h, CDF_LOCK_MCN)) reason = CDF_RSN_LOCK_DROPPED;
        break;
    case CDF_OP_EXCLUSIVE_LOCK:
        if (h != NULL && d->exclusive_owner == 0u) {
            d->exclusive_owner = h->handle_id;
            h->exclusive = 1u;
            reason = CDF_RSN_LOCK_TAKEN;
        }
        break;
    case CDF_OP_EXCLUSIVE_UNLOCK:
        if (d->exclusive_owner != 0u) {
            cdf_handle *o;
            for (o = cdf_handles_at(&core->handles, d->first_handle); o != NULL;
                 o = cdf_handles_at(&core->handles, o->next)) {
                if (o->handle_id == d->exclusive_owner) break;
            }
            if (o != NULL) {
                o->exclusive = 0u;
                if (o != h && o->adopted) reap_idle(core, d, o); /* h goes after its record */
            }
            d->exclusive_owner = 0u;
            reason = CDF_RSN_LOCK_DROPPED;
        }
        break;
    default:
        break;
    }

    if (traced) {
        cdf_slot *s = put_record(core, CDF_REC_COMPLETION, now, drive_id, d, rq, h, normalized,
                                 v->request_id, decision, reason);
        s->status = status;
        s->information = record_information(rq, information);
        s->duration = now >= v->dispatched_at ? now - v->dispatched_at : 0u;
        cdf_trace_capture_output(s, rq, status, s->information, core->filter.output_capture_bytes);
        appended = 1;
        if (opened)
            put_record(core, CDF_REC_HANDLE_OPEN, now, drive_id, d, rq, h, 0u, 0u, CDF_DEC_TRACK,
                       CDF_RSN_NONE);
    }

    if (op == CDF_OP_CLOSE && h != NULL) {
        /* anything taken between the close dispatch and now (nothing, in a correct I/O
         * manager) is released before the slot goes */
        appended |= release_secure(core, d, drive_id, rq, h, now, CDF_RSN_HANDLE_CLOSE);
        (void)cdf_ledger_orphan_simple(d, h);
        (void)cdf_ledger_release_all(d, h, CDF_LOCK_MCN);
        if (h->exclusive) d->exclusive_owner = 0u;
        if (traced) {
            put_record(core, CDF_REC_HANDLE_CLOSE, now, drive_id, d, rq, h, 0u, 0u,
                       CDF_DEC_TRACK, (rq->flags & CDF_RQ_PROCESS_EXIT) ? CDF_RSN_PROCESS_EXIT
                                                                       : CDF_RSN_NONE);
        }
        cdf_handles_remove(&core->handles, d, h);
        d->open_handles--;
        h = NULL;
    }
    /* after the records, which still name the handle; the close's entry is already gone */
    if (CDF_ADOPTED(h)) reap_idle(core, d, h);

    leave(core, appended);
}
