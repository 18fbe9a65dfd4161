/*
 * cdf_rules.c - the request path's entry points (cdf_core_dispatch / cdf_core_complete).
 *
 * Dispatch classifies the request once (cdf_classify, outside the lock), then decides under
 * core->lock: the request's family function (cdf_rules.h lists them) validates it as cdrom.sys
 * would and applies the policy; this file writes the dispatch record (the family may add its
 * own auto-release and leak records) and hands the host a verdict. Completion applies the
 * ledger operation the verdict carries, only when the lower driver's status is a success code,
 * and writes the completion record. Rules and their sources: docs/core.md.
 */
#include <string.h>
#include "cdf_rules.h"
#include "cdf_handles.h"

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

void cdf_rule_deny(cdf_step *s, uint32_t status, uint8_t reason)
{
    s->v->action = CDF_ACTION_COMPLETE;
    s->v->status = status;
    s->decision = CDF_DEC_DENY;
    s->reason = reason;
    s->d->denials++;
    s->core->requests_denied++;
}

void cdf_rule_reject(cdf_step *s, uint32_t status, uint8_t reason)
{
    s->v->action = CDF_ACTION_COMPLETE;
    s->v->status = status;
    s->decision = CDF_DEC_REJECT;
    s->reason = reason;
}

int cdf_rules_enter(cdf_step *s, cdf_core *core, uint32_t drive_id, const cdf_request *rq)
{
    return cdf_rules_enter_inline(s, core, drive_id, rq);
}

void cdf_rules_leave(cdf_step *s)
{
    cdf_rules_leave_inline(s);
}

/* Hand the request to its family's rule. */
static void decide(cdf_step *s)
{
    switch (s->cls->family) {
    case CDF_FAMILY_FILE: cdf_file_dispatch(s); break;
    case CDF_FAMILY_MEDIA_LOCK: cdf_lock_dispatch(s); break;
    case CDF_FAMILY_EJECT_LOAD: cdf_eject_dispatch(s); break;
    case CDF_FAMILY_PASSTHROUGH: cdf_passthrough_dispatch(s); break;
    case CDF_FAMILY_EXCLUSIVE: cdf_exclusive_dispatch(s); break;
    default: break;
    }
    if (s->d->exclusive_owner != 0u && s->rq->major == CDF_IRP_MJ_DEVICE_CONTROL) cdf_exclusive_check(s);
}

/* Whether the request is traced; a request no rule tracks and the filter excludes is forwarded
 * without a completion routine. Decision records are written even when the trace filter
 * excludes the request; the request's completion record follows (CDF_VF_TRACED). */
static int route(cdf_step *s, cdf_verdict *v)
{
    const cdf_request *rq = s->rq;
    int traced = cdf_filter_wants(&s->core->filter, s->drive_id, rq->major, rq->ioctl_code,
                                  s->cls->normalized);
    if (!traced && v->action != CDF_ACTION_COMPLETE &&
        (s->op == CDF_OP_NONE || ((s->op == CDF_OP_CLEANUP || s->op == CDF_OP_CLOSE) && s->h == NULL)))
        v->action = CDF_ACTION_FORWARD;
    if (s->decision == CDF_DEC_DENY || s->decision == CDF_DEC_REJECT) traced = 1;
    return traced;
}

void cdf_core_dispatch(cdf_core *core, uint32_t drive_id, const cdf_request *rq_in, cdf_verdict *v)
{
    cdf_request clean;
    const cdf_request *rq = sanitize(rq_in, &clean);
    cdf_class cls;
    cdf_step s;

    memset(v, 0, sizeof(*v));
    v->action = CDF_ACTION_FORWARD_TRACK;
    cdf_classify(rq, &cls);
    v->normalized = cls.normalized;
    if (!cdf_rules_enter_inline(&s, core, drive_id, rq)) {
        v->dispatched_at = s.now;
        v->action = CDF_ACTION_FORWARD;
        return;
    }
    v->dispatched_at = s.now;
    s.cls = &cls;
    s.v = v;
    core->requests_seen++;
    v->request_id = ++core->next_request_id;
    s.h = cdf_handles_find(&core->handles, drive_id, rq->file.opaque);
    decide(&s);
    if (route(&s, v)) {
        s.flags |= CDF_VF_TRACED;
        cdf_slot *r = cdf_put_record(&s, CDF_REC_DISPATCH, s.h, cls.normalized, v->request_id,
                                     s.decision, s.reason);
        cdf_trace_capture(r, rq, &cls, core->filter.capture_bytes);
        if (v->action == CDF_ACTION_COMPLETE) r->status = v->status;
    }
    if (s.h != NULL) {
        v->handle_id = s.h->handle_id;
        v->handle_slot = (uint32_t)(s.h - core->handles.pool) + 1u;
    }
    if (cls.family == CDF_FAMILY_FILE) cdf_file_dispatched(&s);
    v->op = s.op;
    v->decision = s.decision;
    v->reason = s.reason;
    v->flags = s.flags;
    cdf_rules_leave_inline(&s);
}

/* The handle a verdict was decided for, under core->lock: the dispatch's entry if it still is
 * that handle, else a lookup; NULL when the file object was closed and reused meanwhile (unless
 * any_id, for a create). An adopted entry found under another id is the same file object (its
 * entry was reaped and adopted again meanwhile): adopted entries carry no identity. */
cdf_handle *cdf_rules_verdict_handle(const cdf_step *s, const cdf_verdict *v, int any_id)
{
    cdf_handles *t = &s->core->handles;
    cdf_handle *h;
    if (v->handle_slot - 1u < t->max) {
        cdf_handle *c = &t->pool[v->handle_slot - 1u];
        if (c->in_use && c->key == s->rq->file.opaque && c->drive_id == s->drive_id &&
            c->handle_id == v->handle_id)
            return c;
    }
    h = cdf_handles_find(t, s->drive_id, s->rq->file.opaque);
    if (h != NULL && !any_id && v->handle_id != 0u && h->handle_id != v->handle_id && !h->adopted)
        h = NULL; /* the file object was closed and reused while this request was in flight */
    return h;
}

/* Which ledger operation the completion applies: none for a request the filter completed
 * (nothing reached the lower driver) or one the lower driver failed (a close happens anyway). */
static void outcome(cdf_step *s, const cdf_verdict *v, uint32_t status)
{
    if (v->action == CDF_ACTION_COMPLETE) {
        s->op = CDF_OP_NONE;
    } else if (!CDF_NT_SUCCESS(status)) {
        if (s->op != CDF_OP_NONE && s->op != CDF_OP_CLEANUP && s->op != CDF_OP_CLOSE)
            s->reason = CDF_RSN_LOWER_FAILED;
        if (s->op != CDF_OP_CLOSE) s->op = CDF_OP_NONE;
    }
}

static void apply(cdf_step *s)
{
    switch (s->op) {
    case CDF_OP_CREATE:
        cdf_file_complete_create(s);
        break;
    case CDF_OP_SECURE_LOCK: case CDF_OP_SECURE_UNLOCK: case CDF_OP_SIMPLE_LOCK:
    case CDF_OP_SIMPLE_UNLOCK: case CDF_OP_MCN_DISABLE: case CDF_OP_MCN_ENABLE:
        cdf_lock_complete(s);
        break;
    case CDF_OP_EXCLUSIVE_LOCK: case CDF_OP_EXCLUSIVE_UNLOCK:
        cdf_exclusive_complete(s);
        break;
    default:
        break;
    }
}

void cdf_core_complete(cdf_core *core, uint32_t drive_id, const cdf_request *rq_in,
                       const cdf_verdict *v, uint32_t status, uint64_t information)
{
    cdf_request clean;
    const cdf_request *rq = sanitize(rq_in, &clean);
    cdf_step s;

    if (v->action == CDF_ACTION_FORWARD) return;
    if (!cdf_rules_enter_inline(&s, core, drive_id, rq)) return;
    s.op = v->op;
    s.decision = v->decision;
    s.reason = v->reason;
    s.flags = v->flags;
    s.orphan = (v->flags & CDF_VF_ORPHAN) != 0u;
    s.h = cdf_rules_verdict_handle(&s, v, s.op == CDF_OP_CREATE);
    if (s.orphan) s.h = NULL;
    outcome(&s, v, status);
    if ((s.flags & CDF_VF_ADOPT) != 0u && s.op != CDF_OP_NONE) cdf_file_adopt(&s);
    apply(&s);
    if ((s.flags & CDF_VF_TRACED) != 0u) {
        cdf_slot *r = cdf_put_record(&s, CDF_REC_COMPLETION, s.h, v->normalized, v->request_id,
                                     s.decision, s.reason);
        r->status = status;
        r->information = record_information(rq, information);
        r->duration = s.now >= v->dispatched_at ? s.now - v->dispatched_at : 0u;
        cdf_trace_capture_output(r, rq, status, r->information, s.core->filter.output_capture_bytes);
        if (s.opened)
            (void)cdf_put_record(&s, CDF_REC_HANDLE_OPEN, s.h, 0u, 0u, CDF_DEC_TRACK, CDF_RSN_NONE);
    }
    if (s.op == CDF_OP_CLOSE && s.h != NULL) cdf_file_complete_close(&s);
    /* after the records, which still name the handle; the close's entry is already gone */
    if (CDF_ADOPTED(s.h)) cdf_file_reap_idle(&s, s.h);
    cdf_rules_leave_inline(&s);
}
