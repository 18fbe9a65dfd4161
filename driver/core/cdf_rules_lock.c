/*
 * cdf_rules_lock.c - the media-lock IOCTLs: IOCTL_STORAGE_EJECTION_CONTROL (secure lock, per
 * file object), IOCTL_STORAGE_MEDIA_REMOVAL (simple lock, per device) and
 * IOCTL_STORAGE_MCN_CONTROL (media change notification disable, per file object), each with its
 * CDROM/DISK aliases (NormalizeIoctl).
 *
 * Sources: cdrom.sys sample, storage/class/cdrom/src/ioctl.c, RequestHandleEjectionControl
 * (InputBufferLength < sizeof(PREVENT_MEDIA_REMOVAL) -> STATUS_INFO_LENGTH_MISMATCH; a secure
 * request without a file object -> STATUS_INVALID_HANDLE; a secure unlock from a file object
 * holding none -> STATUS_INVALID_DEVICE_STATE) and RequestHandleMcnControl; common.c,
 * PerformEjectionControl (the per-file-object LockCount / McnDisableCount, the device's
 * ProtectedLockCount / LockCount); docs/core.md has the table with the filter's own rules.
 */
#include "cdf_rules.h"
#include "cdf_handles.h"
#include "cdf_ledger.h"

_Static_assert(CDF_CLASS_LOCK_SECURE == (unsigned)CDF_LOCK_SECURE && CDF_CLASS_LOCK_SIMPLE == (unsigned)CDF_LOCK_SIMPLE &&
               CDF_CLASS_LOCK_MCN == (unsigned)CDF_LOCK_MCN, "lock kinds");

/* Prevent (input byte 0 nonzero): the lock is counted at a successful completion, on the
 * caller's handle, on an entry adopted then, or on the drive's orphans when the handle table
 * has no room (under enforce a secure lock that could not be owned is refused). */
static void lock_prevent(cdf_step *s, uint8_t kind)
{
    static const uint8_t ops[3] = { CDF_OP_SECURE_LOCK, CDF_OP_SIMPLE_LOCK, CDF_OP_MCN_DISABLE };
    if (cdf_file_may_adopt(s)) s->flags |= CDF_VF_ADOPT;
    if (s->h == NULL && (s->flags & CDF_VF_ADOPT) == 0u) {
        s->flags |= CDF_VF_ORPHAN;
        if (s->rq->file.opaque != 0u) s->reason = CDF_RSN_LEDGER_FULL;
        if (kind == CDF_CLASS_LOCK_SECURE && s->enforce) {
            cdf_rule_deny(s, CDF_STATUS_INSUFFICIENT_RESOURCES, s->reason);
            return;
        }
    }
    s->op = ops[kind];
}

/* A secure unlock from a file object that holds none: cdrom.sys fails it
 * (STATUS_INVALID_DEVICE_STATE); under enforce the filter refuses it first. */
static void secure_allow(cdf_step *s)
{
    if (s->h != NULL && s->h->secure != 0u) {
        s->op = CDF_OP_SECURE_UNLOCK;
    } else if ((s->h == NULL || s->h->adopted) && s->d->orphan_secure != 0u) {
        /* an untracked (or adopted since) file object may hold an orphan lock: cdrom.sys decides */
        s->op = CDF_OP_SECURE_UNLOCK;
        s->flags |= CDF_VF_ORPHAN;
    } else {
        s->d->foreign_unlocks++;
        s->reason = CDF_RSN_FOREIGN_SECURE_UNLOCK;
        if (s->enforce) cdf_rule_deny(s, CDF_STATUS_INVALID_DEVICE_STATE, CDF_RSN_FOREIGN_SECURE_UNLOCK);
    }
}

/* Allow (input byte 0 zero). Simple locks are the device's: anyone may release one. */
static void lock_allow(cdf_step *s, uint8_t kind)
{
    if (kind == CDF_CLASS_LOCK_SECURE) {
        secure_allow(s);
    } else if (kind == CDF_CLASS_LOCK_SIMPLE) {
        if (s->d->simple_total == 0u) s->reason = CDF_RSN_UNLOCK_AT_ZERO;
        else s->op = CDF_OP_SIMPLE_UNLOCK;
    } else if (s->h != NULL && s->h->mcn != 0u) {
        s->op = CDF_OP_MCN_ENABLE;
    } else if ((s->h == NULL || s->h->adopted) && s->d->orphan_mcn != 0u) {
        s->op = CDF_OP_MCN_ENABLE;
        s->flags |= CDF_VF_ORPHAN;
    }
}

void cdf_lock_dispatch(cdf_step *s)
{
    const cdf_request *rq = s->rq;
    uint8_t kind = s->cls->lock_kind;
    s->decision = CDF_DEC_TRACK;
    /* cdrom.sys: InputBufferLength < sizeof(PREVENT_MEDIA_REMOVAL) */
    if (rq->input_length < 1u || rq->input == NULL) {
        cdf_rule_reject(s, CDF_STATUS_INFO_LENGTH_MISMATCH, CDF_RSN_SHORT_INPUT);
        return;
    }
    if (kind == CDF_CLASS_LOCK_SECURE && rq->file.opaque == 0u) {
        cdf_rule_reject(s, CDF_STATUS_INVALID_HANDLE, CDF_RSN_NO_FILE_OBJECT);
        return;
    }
    if (rq->input[0] != 0u) lock_prevent(s, kind);
    else lock_allow(s, kind);
}

/* IOCTL_STORAGE_MEDIA_REMOVAL(FALSE) succeeded: cdrom.sys took one off the device's count. */
static void simple_unlock(cdf_step *s)
{
    cdf_handle *h = s->h;
    if (s->d->simple_total == 0u) {
        s->reason = CDF_RSN_UNLOCK_AT_ZERO;
    } else if (h != NULL && h->simple != 0u) {
        (void)cdf_ledger_drop(s->d, h, CDF_LOCK_SIMPLE);
        s->reason = CDF_RSN_LOCK_DROPPED;
    } else {
        /* simple locks may be released by anyone: charge the oldest holder */
        cdf_handle *oldest = cdf_ledger_oldest_simple_holder(&s->core->handles, s->d);
        (void)cdf_ledger_drop(s->d, oldest, CDF_LOCK_SIMPLE);
        if (CDF_ADOPTED(oldest)) cdf_file_reap_idle(s, oldest); /* never h: h holds none */
        s->reason = CDF_RSN_FOREIGN_SIMPLE_UNLOCK;
    }
}

void cdf_lock_complete(cdf_step *s)
{
    cdf_drive *d = s->d;
    cdf_handle *h = s->h;
    int owned = h != NULL || s->orphan;
    switch (s->op) {
    case CDF_OP_SECURE_LOCK:
        if (owned && cdf_ledger_take(d, h, CDF_LOCK_SECURE, s->now))
            s->reason = h != NULL ? CDF_RSN_LOCK_TAKEN : CDF_RSN_LEDGER_FULL;
        break;
    case CDF_OP_SECURE_UNLOCK:
        s->reason = owned && cdf_ledger_drop(d, h, CDF_LOCK_SECURE) ? CDF_RSN_LOCK_DROPPED
                                                                    : CDF_RSN_FOREIGN_SECURE_UNLOCK;
        break;
    case CDF_OP_SIMPLE_LOCK:
        if (cdf_ledger_take(d, h, CDF_LOCK_SIMPLE, s->now) && h != NULL) s->reason = CDF_RSN_LOCK_TAKEN;
        break;
    case CDF_OP_SIMPLE_UNLOCK:
        simple_unlock(s);
        break;
    case CDF_OP_MCN_DISABLE:
        if (cdf_ledger_take(d, h, CDF_LOCK_MCN, s->now) && h != NULL) s->reason = CDF_RSN_LOCK_TAKEN;
        break;
    case CDF_OP_MCN_ENABLE:
        if (owned && cdf_ledger_drop(d, h, CDF_LOCK_MCN)) s->reason = CDF_RSN_LOCK_DROPPED;
        break;
    default:
        break;
    }
}
