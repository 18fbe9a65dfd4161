/*
 * cdf_rules_file.c - the file lifecycle: IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE.
 *
 * cdrom.sys keeps per-file-object state (FILE_OBJECT_CONTEXT: LockCount, McnDisableCount,
 * EnforceStreamingRead/Write) made at DeviceEvtFileCreate and released at DeviceEvtFileClose ->
 * DeviceCleanupProtectedLocks (the file object's secure locks and MCN disables; simple
 * IOCTL_STORAGE_MEDIA_REMOVAL locks are not per file object and survive the close), which also
 * drops the file object's exclusive access (cdrom.sys sample, storage/class/cdrom/src/cdrom.c,
 * DeviceEvtFileClose; common.c, DeviceCleanupProtectedLocks). The core mirrors that state in its
 * handle table: a row per file object made when the create succeeded.
 */
#include "cdf_rules.h"
#include "cdf_handles.h"
#include "cdf_ledger.h"
#include "cdf_text.h"

void cdf_file_dispatch(cdf_step *s)
{
    switch (s->rq->major) {
    case CDF_IRP_MJ_CREATE:
        s->op = CDF_OP_CREATE;
        s->h = NULL; /* a new file object: an entry under its key is stale (retired at completion) */
        s->decision = CDF_DEC_TRACK;
        return;
    case CDF_IRP_MJ_CLEANUP:
        s->op = CDF_OP_CLEANUP;
        break;
    default:
        s->op = CDF_OP_CLOSE;
        break;
    }
    s->decision = s->h != NULL ? CDF_DEC_TRACK : CDF_DEC_PASS;
}

int cdf_file_release_secure(cdf_step *s, cdf_handle *h, uint8_t reason)
{
    uint32_t n = cdf_ledger_release_all(s->d, h, CDF_LOCK_SECURE);
    if (n == 0u) return 0;
    cdf_put_record(s, CDF_REC_AUTO_RELEASE, h, 0u, 0u, CDF_DEC_RELEASE, reason)->count_released = n;
    return 1;
}

/* An adopted entry carries no identity worth keeping (no opener image, and its file object may
 * never send cleanup or close down this stack): it goes as soon as it holds nothing, so that
 * it neither leaks a slot nor hands its id to a later file object at the same address. */
void cdf_file_reap_idle(cdf_step *s, cdf_handle *h)
{
    if (!h->in_use || h->secure != 0u || h->simple != 0u || h->mcn != 0u || h->exclusive) return;
    cdf_handles_remove(&s->core->handles, s->d, h);
    s->d->open_handles--;
}

/* A file object that was untracked at some time closed (no entry, or an adopted one: it may
 * have taken orphan locks before it was adopted). When none is left open on the drive,
 * cdrom.sys has released every secure lock and MCN disable they took (DeviceEvtFileClose ->
 * DeviceCleanupProtectedLocks): so does the ledger (AUTO_RELEASE, no handle, reason
 * HANDLE_CLOSE, count_released). Untracked file objects are counted in untracked_opens from
 * their create (or eviction) to their close, adopted or not; a file object never created
 * through this stack (a file system's) is not counted, so its close only decrements a
 * nonzero count. */
static void untracked_close(cdf_step *s)
{
    cdf_drive *d = s->d;
    uint32_t n = d->orphan_secure;
    if (d->untracked_opens != 0u) d->untracked_opens--;
    if (d->untracked_opens != 0u) return;
    d->secure_total -= n;
    d->orphan_secure = 0u;
    d->mcn_total -= d->orphan_mcn;
    d->orphan_mcn = 0u;
    if (n != 0u)
        cdf_put_record(s, CDF_REC_AUTO_RELEASE, NULL, 0u, 0u, CDF_DEC_RELEASE, CDF_RSN_HANDLE_CLOSE)->count_released = n;
}

static uint8_t exit_or(const cdf_step *s, uint8_t reason)
{
    return (s->rq->flags & CDF_RQ_PROCESS_EXIT) != 0u ? CDF_RSN_PROCESS_EXIT : reason;
}

/* IRP_MJ_CLOSE at dispatch: what cdrom.sys's DeviceEvtFileClose releases goes now (secure
 * locks, MCN disables, exclusive access). Simple locks survive a close in cdrom.sys: under
 * enforce the host sends their unlocks (verdict.simple_unlocks, then
 * cdf_core_simple_unlocks_done changes the ledger); under observe they become the drive's
 * orphans (LEAK_RELEASE, decision PASS = left held). */
static void close_dispatched(cdf_step *s, cdf_handle *h)
{
    (void)cdf_file_release_secure(s, h, exit_or(s, CDF_RSN_HANDLE_CLOSE));
    (void)cdf_ledger_release_all(s->d, h, CDF_LOCK_MCN);
    if (h->exclusive) {
        h->exclusive = 0u;
        s->d->exclusive_owner = 0u;
    }
    if (h->simple == 0u) return;
    if (s->enforce) {
        s->v->simple_unlocks = h->simple;
    } else {
        uint32_t leaked = cdf_ledger_orphan_simple(s->d, h);
        cdf_put_record(s, CDF_REC_LEAK_RELEASE, h, 0u, 0u, CDF_DEC_PASS,
                       CDF_RSN_SIMPLE_LOCK_LEAK)->count_released = leaked;
    }
}

/* After the dispatch record. IRP_MJ_CLEANUP changes no count: cdrom.sys registers no cleanup
 * callback (WDF_FILEOBJECT_CONFIG_INIT with DeviceEvtFileCreate and DeviceEvtFileClose only), so
 * between the cleanup and the close the file object still holds its secure locks and MCN
 * disables; the ledger shows its entry as closing (LockOwner.closing). An adopted handle that a
 * close leaves holding nothing goes at once (the completion then finds no entry: the verdict's
 * slot hint no longer matches). */
void cdf_file_dispatched(cdf_step *s)
{
    cdf_handle *h = s->h;
    if (h == NULL) {
        if (s->op == CDF_OP_CLOSE) untracked_close(s);
        return;
    }
    if (s->op == CDF_OP_CLEANUP) {
        h->cleaned_up = 1u;
    } else if (s->op == CDF_OP_CLOSE) {
        close_dispatched(s, h);
        if (h->adopted) {
            untracked_close(s);
            cdf_file_reap_idle(s, h);
        }
    }
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
 * trace filter says, like every release record. */
static void retire_stale(cdf_step *s, cdf_handle *h)
{
    cdf_drive *d = s->d;
    uint32_t simple = h->simple;
    (void)cdf_file_release_secure(s, h, CDF_RSN_HANDLE_CLOSE);
    (void)cdf_ledger_release_all(d, h, CDF_LOCK_MCN);
    d->orphan_simple += simple;
    h->simple = 0u;
    if (h->exclusive) d->exclusive_owner = 0u;
    if (simple != 0u) {
        cdf_put_record(s, CDF_REC_LEAK_RELEASE, h, 0u, 0u, CDF_DEC_PASS,
                       CDF_RSN_HANDLE_CLOSE)->count_released = simple;
    }
    if (h->adopted) untracked_close(s);
    cdf_handles_remove(&s->core->handles, d, h);
    d->open_handles--;
}

/* Whether process pid holds its quota of entries. */
static int at_quota(cdf_core *core, uint32_t pid)
{
    return core->handles.count >= core->max_per_process &&
           cdf_handles_count_pid(&core->handles, pid) >= core->max_per_process;
}

void cdf_file_complete_create(cdf_step *s)
{
    cdf_handle *h = NULL;
    /* a file object reused without its close reaching us: retire the old entry */
    if (s->h != NULL) retire_stale(s, s->h);
    if (s->rq->file.opaque != 0u && at_quota(s->core, s->rq->pid)) {
        s->reason = CDF_RSN_HANDLE_QUOTA;
        s->d->opens_over_quota++;
    } else {
        h = cdf_handles_insert(&s->core->handles, s->d, s->drive_id, s->rq->file.opaque);
        if (h == NULL) s->reason = CDF_RSN_LEDGER_FULL;
    }
    s->h = h;
    if (h == NULL) {
        if (s->rq->file.opaque != 0u) s->d->untracked_opens++;
        return;
    }
    h->handle_id = ++s->core->next_handle_id;
    h->pid = s->rq->pid;
    h->image_len = (uint8_t)cdf_utf8_copy(h->image, CDF_IMAGE_MAX, s->rq->image_name);
    s->d->open_handles++;
    s->opened = 1u;
}

/* After the close's completion record: anything taken between the close dispatch and now
 * (nothing, in a correct I/O manager) is released before the slot goes. */
void cdf_file_complete_close(cdf_step *s)
{
    cdf_handle *h = s->h;
    cdf_drive *d = s->d;
    (void)cdf_file_release_secure(s, h, CDF_RSN_HANDLE_CLOSE);
    (void)cdf_ledger_orphan_simple(d, h);
    (void)cdf_ledger_release_all(d, h, CDF_LOCK_MCN);
    if (h->exclusive) d->exclusive_owner = 0u;
    if ((s->flags & CDF_VF_TRACED) != 0u)
        (void)cdf_put_record(s, CDF_REC_HANDLE_CLOSE, h, 0u, 0u, CDF_DEC_TRACK, exit_or(s, CDF_RSN_NONE));
    cdf_handles_remove(&s->core->handles, d, h);
    d->open_handles--;
    s->h = NULL;
}

/* Where a lock holder from an untracked file object of process pid can get an entry on drive
 * d: a free slot (*victim NULL) when the process is under its quota and the table has room,
 * else an idle entry of the drive to evict (*victim): the process's own when it is at its
 * quota, anyone's when the table is full. 0 when every candidate holds something. */
static int place_for(cdf_core *core, const cdf_drive *d, uint32_t pid, cdf_handle **victim)
{
    *victim = NULL;
    if (at_quota(core, pid)) {
        *victim = cdf_handles_idle(&core->handles, d, pid);
        return *victim != NULL;
    }
    if (!cdf_handles_full(&core->handles)) return 1;
    *victim = cdf_handles_idle(&core->handles, d, 0u);
    return *victim != NULL;
}

/* A lock (or exclusive access) from a file object the core never saw created (e.g. a volume
 * handle routed through CDFS/UDFS, or an open left untracked) or an adopted one may adopt it at
 * its successful completion, so that the lock has an owner; decided at dispatch from the table
 * as it is then. */
int cdf_file_may_adopt(const cdf_step *s)
{
    cdf_handle *victim;
    if ((s->h != NULL && !s->h->adopted) || s->rq->file.opaque == 0u) return 0;
    return s->h != NULL || place_for(s->core, s->d, s->rq->pid, &victim);
}

/* Give an idle entry's slot to a lock holder: its file object stays open, untracked (its later
 * requests pass; a lock adopts it again). HANDLE_CLOSE / PASS, HANDLE_EVICTED names it. */
static void evict(cdf_step *s, cdf_handle *victim)
{
    cdf_put_record(s, CDF_REC_HANDLE_CLOSE, victim, 0u, 0u, CDF_DEC_PASS, CDF_RSN_HANDLE_EVICTED);
    cdf_handles_remove(&s->core->handles, s->d, victim);
    s->d->open_handles--;
    s->d->untracked_opens++;
    s->d->evictions++;
}

static cdf_handle *adopt_new(cdf_step *s)
{
    cdf_handle *victim, *h;
    if (!place_for(s->core, s->d, s->rq->pid, &victim)) return NULL;
    if (victim != NULL) evict(s, victim);
    h = cdf_handles_insert(&s->core->handles, s->d, s->drive_id, s->rq->file.opaque);
    if (h == NULL) return NULL;
    h->handle_id = ++s->core->next_handle_id;
    h->pid = s->rq->pid;
    h->adopted = 1u; /* still counted in untracked_opens until its close */
    s->d->open_handles++;
    return h;
}

void cdf_file_adopt(cdf_step *s)
{
    cdf_handle *h = s->h;
    /* the lock succeeded: another request of this file object may have adopted it since */
    if (h == NULL) h = cdf_handles_find(&s->core->handles, s->drive_id, s->rq->file.opaque);
    if (h == NULL && s->rq->file.opaque != 0u) h = adopt_new(s);
    s->h = h;
    if (h == NULL) {
        s->orphan = 1u; /* no entry to be had: cdrom.sys counts it anyway */
        s->reason = CDF_RSN_LEDGER_FULL;
    }
}

/* Each successful MEDIA_REMOVAL(FALSE) the host sent for a close took one off cdrom.sys's
 * count: charge the closing handle first, then (a foreign unlock may have charged it meanwhile)
 * the oldest holder, then the orphans. Returns how many the ledger released. */
static uint32_t charge_unlocks(cdf_step *s, cdf_handle *h, uint32_t succeeded)
{
    uint32_t released = 0u, i;
    for (i = 0; i < succeeded && s->d->simple_total != 0u; i++) {
        cdf_handle *from = (h != NULL && h->simple != 0u) ? h
                         : cdf_ledger_oldest_simple_holder(&s->core->handles, s->d);
        if (cdf_ledger_drop(s->d, from, CDF_LOCK_SIMPLE)) released++;
        if (from != h && CDF_ADOPTED(from)) cdf_file_reap_idle(s, from);
    }
    return released;
}

void cdf_core_simple_unlocks_done(cdf_core *core, uint32_t drive_id, const cdf_request *rq,
                                  const cdf_verdict *v, uint32_t succeeded, uint32_t failure_status)
{
    cdf_step s;
    uint32_t due = v->simple_unlocks, released, held = 0u;
    cdf_handle *h;

    if (due == 0u) return;
    if (succeeded > due) succeeded = due;
    if (!cdf_rules_enter(&s, core, drive_id, rq)) return;
    h = cdf_rules_verdict_handle(&s, v, 0);
    released = charge_unlocks(&s, h, succeeded);
    /* the ones that failed stay counted by cdrom.sys with no handle left to own them */
    if (h != NULL) held = cdf_ledger_orphan_simple(s.d, h);
    if (released != 0u) {
        cdf_put_record(&s, CDF_REC_LEAK_RELEASE, h, 0u, 0u, CDF_DEC_RELEASE,
                       CDF_RSN_SIMPLE_LOCK_LEAK)->count_released = released;
    }
    if (succeeded < due || held != 0u) {
        cdf_slot *r = cdf_put_record(&s, CDF_REC_LEAK_RELEASE, h, 0u, 0u, CDF_DEC_PASS,
                                     CDF_RSN_SIMPLE_LOCK_LEAK);
        r->count_released = held;
        r->status = succeeded < due ? failure_status : CDF_STATUS_SUCCESS;
    }
    if (CDF_ADOPTED(h)) cdf_file_reap_idle(&s, h); /* the close's completion then finds no entry */
    cdf_rules_leave(&s);
}
