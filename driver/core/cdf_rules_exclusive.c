/*
 * cdf_rules_exclusive.c - IOCTL_CDROM_EXCLUSIVE_ACCESS (CDROM_EXCLUSIVE_ACCESS.RequestType
 * EXCLUSIVE_ACCESS_LOCK_DEVICE / _UNLOCK_DEVICE; _QUERY_STATE changes nothing).
 *
 * Sources: cdrom.sys sample, storage/class/cdrom/src/ioctl.c, RequestHandleExclusiveAccessLockDevice,
 * RequestHandleExclusiveAccessUnlockDevice (one owner file object per device; cdrom.sys drops
 * it at the owner's close, DeviceEvtFileClose) and RequestIsIoctlBlockedByExclusiveAccess (the
 * other file objects' IOCTLs it blocks get STATUS_ACCESS_DENIED: cdf_class_exclusive_guarded).
 */
#include "cdf_rules.h"
#include "cdf_handles.h"

void cdf_exclusive_dispatch(cdf_step *s)
{
    const cdf_request *rq = s->rq;
    uint32_t type;
    if (rq->input == NULL || rq->input_length < 8u) return;
    type = (uint32_t)rq->input[0] | ((uint32_t)rq->input[1] << 8) | ((uint32_t)rq->input[2] << 16) |
           ((uint32_t)rq->input[3] << 24);
    if (type == CDF_EXCLUSIVE_ACCESS_LOCK_DEVICE) {
        if (cdf_file_may_adopt(s)) s->flags |= CDF_VF_ADOPT;
        if (s->h != NULL || (s->flags & CDF_VF_ADOPT) != 0u) s->op = CDF_OP_EXCLUSIVE_LOCK;
        else if (rq->file.opaque != 0u) s->reason = CDF_RSN_LEDGER_FULL;
        s->decision = CDF_DEC_TRACK;
    } else if (type == CDF_EXCLUSIVE_ACCESS_UNLOCK_DEVICE) {
        s->op = CDF_OP_EXCLUSIVE_UNLOCK;
        s->decision = CDF_DEC_TRACK;
    }
}

void cdf_exclusive_check(cdf_step *s)
{
    uint64_t owner = s->d->exclusive_owner;
    if (s->reason == CDF_RSN_NONE && owner != 0u && s->cls->exclusive_guarded &&
        (s->h == NULL || s->h->handle_id != owner))
        s->reason = CDF_RSN_EXCLUSIVE_ACCESS; /* cdrom.sys answers STATUS_ACCESS_DENIED */
}

static void exclusive_unlock(cdf_step *s)
{
    cdf_drive *d = s->d;
    cdf_handle *o;
    if (d->exclusive_owner == 0u) return;
    for (o = cdf_handles_at(&s->core->handles, d->first_handle); o != NULL;
         o = cdf_handles_at(&s->core->handles, o->next)) {
        if (o->handle_id == d->exclusive_owner) break;
    }
    if (o != NULL) {
        o->exclusive = 0u;
        if (o != s->h && o->adopted) cdf_file_reap_idle(s, o); /* s->h goes after its record */
    }
    d->exclusive_owner = 0u;
    s->reason = CDF_RSN_LOCK_DROPPED;
}

void cdf_exclusive_complete(cdf_step *s)
{
    if (s->op == CDF_OP_EXCLUSIVE_LOCK) {
        if (s->h != NULL && s->d->exclusive_owner == 0u) {
            s->d->exclusive_owner = s->h->handle_id;
            s->h->exclusive = 1u;
            s->reason = CDF_RSN_LOCK_TAKEN;
        }
    } else if (s->op == CDF_OP_EXCLUSIVE_UNLOCK) {
        exclusive_unlock(s);
    }
}
