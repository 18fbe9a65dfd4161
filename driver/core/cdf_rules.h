/*
 * cdf_rules.h - the request path, shared by its files (core-private; hosts use cdf_core.h).
 *
 * cdf_rules.c         entry points (cdf_core_dispatch / cdf_core_complete), enter/leave, records
 * cdf_rules_file.c    file lifecycle: IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE, the close's
 *                     simple unlocks (cdf_core_simple_unlocks_done), adoption of unseen file objects
 * cdf_rules_lock.c    media locks: IOCTL_STORAGE_EJECTION_CONTROL / _MEDIA_REMOVAL / _MCN_CONTROL
 *                     (cdrom.sys RequestHandleEjectionControl, RequestHandleMcnControl)
 * cdf_rules_eject.c   eject/load and SCSI pass-through under another owner's secure lock
 *                     (cdrom.sys RequestHandleLoadEjectMedia; the port driver's pass-through)
 * cdf_rules_exclusive.c  IOCTL_CDROM_EXCLUSIVE_ACCESS (cdrom.sys RequestHandleExclusiveAccess*,
 *                     RequestIsIoctlBlockedByExclusiveAccess)
 *
 * A request is classified once (cdf_classify) and its family's *_dispatch function decides
 * under core->lock, filling a cdf_step; the verdict carries op/decision/reason/flags to the
 * completion, where the family's *_complete function applies the ledger operation when the
 * lower driver succeeded. Rules and their sources: docs/core.md.
 */
#ifndef CDF_RULES_H
#define CDF_RULES_H

#include <stdint.h>
#include "cdf_core.h"
#include "cdf_internal.h"
#include "cdf_class.h"
#include "cdf_trace.h"
#include <string.h>

/* Ledger operation a request carries to its completion (cdf_verdict.op). */
enum cdf_op {
    CDF_OP_NONE = 0,
    CDF_OP_CREATE = 1,
    CDF_OP_CLEANUP = 2,
    CDF_OP_CLOSE = 3,
    CDF_OP_SECURE_LOCK = 4,
    CDF_OP_SECURE_UNLOCK = 5,
    CDF_OP_SIMPLE_LOCK = 6,
    CDF_OP_SIMPLE_UNLOCK = 7,
    CDF_OP_MCN_DISABLE = 8,
    CDF_OP_MCN_ENABLE = 9,
    CDF_OP_EXCLUSIVE_LOCK = 10,
    CDF_OP_EXCLUSIVE_UNLOCK = 11
};
/* cdf_verdict.flags */
#define CDF_VF_TRACED   0x01u  /* records are written for this request (passed the filter) */
#define CDF_VF_ORPHAN   0x02u  /* the caller's file object is untracked: orphan counts */
#define CDF_VF_ADOPT    0x04u  /* a lock from a file object never seen created: its successful
                                * completion finds or creates the adopted entry */

/* One request at one entry point, under core->lock: what the family functions read and decide. */
typedef struct cdf_step {
    cdf_core *core;
    cdf_drive *d;
    uint32_t drive_id;
    const cdf_request *rq;    /* sanitized */
    const cdf_class *cls;     /* dispatch only (NULL at completion) */
    cdf_verdict *v;           /* dispatch only: action/status of a request the filter completes */
    cdf_handle *h;            /* the caller's tracked handle, or NULL */
    uint64_t now;             /* 100 ns, ordered (cdf_ring_order) */
    uint8_t op, decision, reason, flags;
    uint8_t enforce;          /* the drive's policy is ENFORCE */
    uint8_t orphan;           /* completion: the lock is counted on the drive's orphans */
    uint8_t opened;           /* completion: a create made a handle entry */
    uint8_t appended;         /* records were appended (notify waiters at leave) */
} cdf_step;

/* ---- cdf_rules.c: entry, records and verdict plumbing ---- */
/* Enter an entry point: clock read before core->lock, lock taken, s reset, drive looked up.
 * 1 with the lock held, 0 with it released (unknown drive). */
int cdf_rules_enter(cdf_step *s, cdf_core *core, uint32_t drive_id, const cdf_request *rq);
/* Release core->lock; fire the notify callback when records were appended for a parked wait. */
void cdf_rules_leave(cdf_step *s);
/* The handle a verdict was decided for (the dispatch's entry if still that handle, else a
 * lookup; NULL when the file object was closed and reused meanwhile, unless any_id). */
cdf_handle *cdf_rules_verdict_handle(const cdf_step *s, const cdf_verdict *v, int any_id);
/* Append a record (every field but the kind-specific ones: status, information, duration,
 * count_released, the input head, which the caller sets when not zero) for request rq on s->d.
 * Written straight into the claimed slot under core->lock. Only the opener image's image_len
 * bytes are copied: a reader never looks past them. */
static inline cdf_slot *cdf_put_record(cdf_step *st, uint8_t kind, const cdf_handle *h, uint32_t normalized,
                                       uint64_t request_id, uint8_t decision, uint8_t reason)
{
    const cdf_request *rq = st->rq;
    cdf_slot *s = cdf_ring_append(&st->core->ring, kind, st->now);
    int is_ioctl = rq->major == CDF_IRP_MJ_DEVICE_CONTROL; /* internal ones carry no code */
    s->request_id = request_id;
    s->information = 0u;
    s->duration = 0u;
    s->drive_id = st->drive_id;
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
    s->secure_total = st->d->secure_total;
    s->simple_total = st->d->simple_total;
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
    st->appended = 1u;
    return s;
}
/* The filter completes the request itself with status (a rule's refusal, counted as a denial). */
void cdf_rule_deny(cdf_step *s, uint32_t status, uint8_t reason);
/* The filter completes the request itself: malformed as cdrom.sys would reject it (decision
 * REJECT, not counted as a denial). */
void cdf_rule_reject(cdf_step *s, uint32_t status, uint8_t reason);

/* ---- cdf_rules_file.c ---- */
void cdf_file_dispatch(cdf_step *s);
/* After the dispatch record: cleanup/close release what cdrom.sys releases there. */
void cdf_file_dispatched(cdf_step *s);
void cdf_file_complete_create(cdf_step *s);
/* After the completion record of a close: the entry goes. */
void cdf_file_complete_close(cdf_step *s);
/* Whether a lock from s->h (NULL or adopted) may adopt its file object at completion. */
int cdf_file_may_adopt(const cdf_step *s);
/* At a successful completion of a CDF_VF_ADOPT request: find or make the adopted entry
 * (s->h), else count it on the orphans (s->orphan, reason LEDGER_FULL). */
void cdf_file_adopt(cdf_step *s);
/* Remove an adopted entry that holds nothing. */
void cdf_file_reap_idle(cdf_step *s, cdf_handle *h);
/* Release h's secure locks (AUTO_RELEASE record when any); returns whether a record was written. */
int cdf_file_release_secure(cdf_step *s, cdf_handle *h, uint8_t reason);

/* ---- cdf_rules_lock.c ---- */
void cdf_lock_dispatch(cdf_step *s);
void cdf_lock_complete(cdf_step *s);

/* ---- cdf_rules_eject.c ---- */
void cdf_eject_dispatch(cdf_step *s);
void cdf_passthrough_dispatch(cdf_step *s);

/* ---- cdf_rules_exclusive.c ---- */
void cdf_exclusive_dispatch(cdf_step *s);
void cdf_exclusive_complete(cdf_step *s);
/* A device control from a non-owner while another handle holds exclusive access: noted as
 * reason EXCLUSIVE_ACCESS when no rule gave a reason (cdrom.sys answers STATUS_ACCESS_DENIED). */
void cdf_exclusive_check(cdf_step *s);

/* The check callers make first: created entries (the hot path) never get further. */
#define CDF_ADOPTED(h) ((h) != NULL && (h)->adopted)

/* The inline forms of cdf_rules_enter / cdf_rules_leave, for the hot entry points.
 * Enter an entry point (cdf_rules.h): read the clock before taking core->lock (a waiter must not pay for it),
 * order the time after the previous record's, look the drive up. Returns 1 with the lock held
 * and s->d set, or 0 with the lock released (unknown drive); s->now is set either way. */
static inline int cdf_rules_enter_inline(cdf_step *s, cdf_core *core, uint32_t drive_id, const cdf_request *rq)
{
    uint64_t raw_now = cdf_clock_now();
    cdf_lock_acquire(&core->lock);
    s->core = core;
    s->drive_id = drive_id;
    s->rq = rq;
    s->cls = NULL;
    s->v = NULL;
    s->h = NULL;
    s->now = cdf_ring_order(&core->ring, raw_now);
    s->op = CDF_OP_NONE;
    s->decision = CDF_DEC_PASS;
    s->reason = CDF_RSN_NONE;
    s->flags = 0u;
    s->orphan = s->opened = s->appended = 0u;
    s->d = cdf_drive_get(core, drive_id);
    if (s->d == NULL) {
        cdf_lock_release(&core->lock);
        return 0;
    }
    s->enforce = s->d->policy == CDF_POLICY_ENFORCE_V;
    return 1;
}

/* Leave an entry point entered with enter(): release core->lock and, when records were appended
 * while a WaitTrace is parked, call the notify callback outside the lock (once per parked wait). */
static inline void cdf_rules_leave_inline(cdf_step *s)
{
    cdf_core *core = s->core;
    cdf_notify_fn *fn = NULL;
    void *context = NULL;
    if (s->appended && core->wait_armed && core->notify != NULL) {
        core->wait_armed = 0u;
        fn = core->notify;
        context = core->notify_context;
    }
    cdf_lock_release(&core->lock);
    if (fn != NULL) fn(context);
}

#endif /* CDF_RULES_H */
