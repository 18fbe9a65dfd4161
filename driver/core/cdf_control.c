/*
 * cdf_control.c - the control dispatcher: one METHOD_BUFFERED IOCTL per rpc of
 * proto/cdfilter/control.proto (codes in gen/cdfilter_ioctl.h).
 *
 * Order of checks: known code (else STATUS_INVALID_DEVICE_REQUEST), CTL_CODE access bits
 * against the handle's granted access (STATUS_ACCESS_DENIED), whole request decoded
 * (STATUS_INVALID_PARAMETER), values validated (STATUS_INVALID_PARAMETER), then the reply is
 * written. Because in and out may be the same SystemBuffer, nothing is written to out before
 * the request has been fully decoded into a private struct.
 *
 * Replies other than trace batches are built in the scratch area the core reserved at init
 * (control_lock serializes its users; the kernel stack stays small). Trace batches are encoded
 * record by record straight into out, each record staged in the same scratch area (a slot copy
 * and a cdf_TraceRecord, ~1.1 KB that would otherwise sit on a 24 KB kernel stack), so trace
 * readers are serialized with each other and with the other control calls.
 */
#include <string.h>
#include "cdf_internal.h"
#include "cdf_control.h"
#include "cdf_trace.h"
#include "cdf_handles.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"

_Static_assert(CDF_RECORD_KIND_DISPATCH == CDF_REC_DISPATCH && CDF_RECORD_KIND_COMPLETION == CDF_REC_COMPLETION &&
               CDF_RECORD_KIND_AUTO_RELEASE == CDF_REC_AUTO_RELEASE &&
               CDF_RECORD_KIND_LEAK_RELEASE == CDF_REC_LEAK_RELEASE &&
               CDF_RECORD_KIND_HANDLE_OPEN == CDF_REC_HANDLE_OPEN &&
               CDF_RECORD_KIND_HANDLE_CLOSE == CDF_REC_HANDLE_CLOSE &&
               CDF_RECORD_KIND_DRIVE_NOT_TRACKED == CDF_REC_DRIVE_NOT_TRACKED, "RecordKind mirror");
_Static_assert(CDF_DECISION_PASS == CDF_DEC_PASS && CDF_DECISION_TRACK == CDF_DEC_TRACK &&
               CDF_DECISION_DENY == CDF_DEC_DENY && CDF_DECISION_REJECT == CDF_DEC_REJECT &&
               CDF_DECISION_RELEASE == CDF_DEC_RELEASE, "Decision mirror");
_Static_assert(CDF_REASON_LOCK_TAKEN == CDF_RSN_LOCK_TAKEN && CDF_REASON_LOCK_DROPPED == CDF_RSN_LOCK_DROPPED &&
               CDF_REASON_FOREIGN_SECURE_UNLOCK == CDF_RSN_FOREIGN_SECURE_UNLOCK &&
               CDF_REASON_EJECT_UNDER_LOCK == CDF_RSN_EJECT_UNDER_LOCK &&
               CDF_REASON_PASSTHROUGH_EJECT_UNDER_LOCK == CDF_RSN_PASSTHROUGH_EJECT_UNDER_LOCK &&
               CDF_REASON_PASSTHROUGH_ALLOW_UNDER_LOCK == CDF_RSN_PASSTHROUGH_ALLOW_UNDER_LOCK &&
               CDF_REASON_SHORT_INPUT == CDF_RSN_SHORT_INPUT && CDF_REASON_NO_FILE_OBJECT == CDF_RSN_NO_FILE_OBJECT &&
               CDF_REASON_LOWER_FAILED == CDF_RSN_LOWER_FAILED && CDF_REASON_HANDLE_CLEANUP == CDF_RSN_HANDLE_CLEANUP &&
               CDF_REASON_HANDLE_CLOSE == CDF_RSN_HANDLE_CLOSE && CDF_REASON_PROCESS_EXIT == CDF_RSN_PROCESS_EXIT &&
               CDF_REASON_SIMPLE_LOCK_LEAK == CDF_RSN_SIMPLE_LOCK_LEAK &&
               CDF_REASON_FOREIGN_SIMPLE_UNLOCK == CDF_RSN_FOREIGN_SIMPLE_UNLOCK &&
               CDF_REASON_WOULD_DENY == CDF_RSN_WOULD_DENY && CDF_REASON_LEDGER_FULL == CDF_RSN_LEDGER_FULL &&
               CDF_REASON_EXCLUSIVE_ACCESS == CDF_RSN_EXCLUSIVE_ACCESS &&
               CDF_REASON_UNLOCK_AT_ZERO == CDF_RSN_UNLOCK_AT_ZERO && CDF_REASON_HANDLE_QUOTA == CDF_RSN_HANDLE_QUOTA &&
               CDF_REASON_HANDLE_EVICTED == CDF_RSN_HANDLE_EVICTED &&
               CDF_REASON_DRIVE_NOT_TRACKED == CDF_RSN_DRIVE_NOT_TRACKED, "Reason mirror");
_Static_assert(CDF_POLICY_OBSERVE == CDF_POLICY_OBSERVE_V && CDF_POLICY_ENFORCE == CDF_POLICY_ENFORCE_V,
               "Policy mirror");
_Static_assert(sizeof(((cdf_TraceRecord *)0)->opener_image) == CDF_IMAGE_MAX + 1u, "image bound");
_Static_assert(sizeof(((cdf_TraceRecord *)0)->input_head.bytes) == CDF_CAPTURE_MAX, "capture bound");
_Static_assert(sizeof(((cdf_DriveInfo *)0)->name) == CDF_DRIVE_NAME_MAX + 1u, "drive name bound");
_Static_assert(sizeof(((cdf_UntrackedDrive *)0)->name) == CDF_DRIVE_NAME_MAX + 1u, "untracked name bound");
_Static_assert(sizeof(((cdf_TraceRecord *)0)->drive_name) >= CDF_IMAGE_MAX + 1u, "record drive name bound");
_Static_assert(cdf_DrivesReply_untracked_MAX_COUNT == CDF_UNTRACKED_LIST_MAX, "untracked list bound");
_Static_assert(sizeof(((cdf_InfoReply *)0)->driver_version) == CDF_VERSION_MAX + 1u, "version bound");

/* Every reply struct built in the core's scratch area. */
typedef union cdf_control_reply {
    cdf_InfoReply info;
    cdf_DrivesReply drives;
    cdf_LedgerSnapshot ledger;
    cdf_PolicyReply policy;
    cdf_TraceConfig config;
    cdf_ClearTraceReply clear;
    struct {
        cdf_slot slot;        /* a record copied out of the ring under core->lock */
        cdf_TraceRecord rec;  /* ... and converted for encoding */
    } trace;
} cdf_control_reply;

/* Every decoded request (small: lives on the stack). */
typedef union cdf_control_request {
    cdf_InfoRequest info;
    cdf_DrivesRequest drives;
    cdf_LedgerRequest ledger;
    cdf_PolicyRequest policy;
    cdf_SetPolicyRequest set_policy;
    cdf_TraceConfigRequest get_config;
    cdf_TraceConfig config;
    cdf_TraceReadRequest read;
    cdf_ClearTraceRequest clear;
} cdf_control_request;
_Static_assert(sizeof(cdf_control_request) <= 1024u, "decoded requests stay small on the kernel stack");

#define CDF_TRACE_BATCH_MAX 256u   /* TraceBatch.records bound */

size_t cdf_control_scratch_bytes(void)
{
    return sizeof(cdf_control_reply);
}

static uint32_t varint_size(uint64_t v)
{
    uint32_t n = 1u;
    while (v >= 0x80u) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint32_t put_varint(uint8_t *p, uint64_t v)
{
    uint32_t n = 0u;
    while (v >= 0x80u) {
        p[n++] = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Size of a proto3 uint64 field (1-byte tag); 0 for the default value, which is omitted. */
static uint32_t u64_field_size(uint64_t v)
{
    return v == 0u ? 0u : 1u + varint_size(v);
}

static uint32_t put_u64_field(uint8_t *p, uint32_t field, uint64_t v)
{
    if (v == 0u) return 0u;
    p[0] = (uint8_t)(field << 3); /* wire type 0 */
    return 1u + put_varint(p + 1, v);
}

static void copy_fixed_string(char *dst, const char *src, size_t n)
{
    /* src: n bytes, zero padded, valid UTF-8 (cdf_utf8_copy); dst has room for n + 1 */
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void slot_to_record(const cdf_slot *s, cdf_TraceRecord *r)
{
    cdf_TraceRecord_init(r);
    r->seq = s->seq;
    r->kind = (int32_t)s->kind;
    r->request_id = s->request_id;
    r->timestamp = s->timestamp;
    r->drive_id = s->drive_id;
    r->handle_id = s->handle_id;
    r->pid = s->pid;
    r->tid = s->tid;
    r->requestor_pid = s->requestor_pid;
    r->opener_pid = s->opener_pid;
    /* r was zeroed by init: the text is NUL-terminated after its image_len bytes. A
     * DRIVE_NOT_TRACKED record keeps the drive's name where others keep the opener image. */
    memcpy(s->kind == CDF_REC_DRIVE_NOT_TRACKED ? r->drive_name : r->opener_image, s->opener_image,
           s->image_len <= CDF_IMAGE_MAX ? s->image_len : CDF_IMAGE_MAX);
    r->major = s->major;
    r->minor = s->minor;
    r->ioctl_code = s->ioctl_code;
    r->normalized_code = s->normalized_code;
    r->input_length = s->input_length;
    r->output_length = s->output_length;
    if (s->kind == CDF_REC_COMPLETION) { /* a completion's head is its output (capture_output) */
        r->output_head.size = s->head_len;
        if (s->head_len != 0u) memcpy(r->output_head.bytes, s->head, s->head_len);
        r->output_truncated = s->truncated;
    } else {
        r->input_head.size = s->head_len;
        if (s->head_len != 0u) memcpy(r->input_head.bytes, s->head, s->head_len);
        r->truncated = s->truncated;
    }
    r->status = s->status;
    r->information = s->information;
    r->duration = s->duration;
    r->decision = (int32_t)s->decision;
    r->reason = (int32_t)s->reason;
    r->secure_total = s->secure_total;
    r->simple_total = s->simple_total;
    r->count_released = s->count_released;
}

/* ReadTrace / WaitTrace: records are encoded one by one straight into out (TraceBatch field 1),
 * then the scalar fields 2..5; room for those is reserved up front. A record that leaves the
 * ring while the batch is being built ends the batch; the next read reports it as dropped. */
static uint32_t read_trace(cdf_core *core, const cdf_TraceReadRequest *req, int wait,
                           uint8_t *out, uint32_t out_cap, uint32_t *out_len,
                           cdf_slot *slot, cdf_TraceRecord *rec)
{
    uint64_t after = req->after_seq, start, end, newest, oldest, dropped = 0u, seq, next_cursor;
    uint32_t limit = req->max_records, delivered = 0u, pos = 0u, trailer;
    int evicted = 0, too_small = 0, reset = 0;
    const size_t image_at = offsetof(cdf_slot, opener_image);

    if (limit == 0u || limit > CDF_TRACE_BATCH_MAX) limit = CDF_TRACE_BATCH_MAX;
    cdf_lock_acquire(&core->lock);
    newest = cdf_ring_newest(&core->ring);
    oldest = cdf_ring_oldest(&core->ring);
    if (after > newest) {
        /* a cursor from the future (the driver was reloaded and seq restarted at 1): say so and
         * restart at the oldest record; what the old cursor missed is unknown, not "dropped" */
        reset = 1;
        after = core->ring.oldest_seq - 1u;
    }
    start = after + 1u;
    if (start < core->ring.oldest_seq) {
        dropped = core->ring.oldest_seq - start;
        start = core->ring.oldest_seq;
    }
    end = newest;
    if (wait && start > end && dropped == 0u && !reset) {
        core->wait_armed = 1u;
        cdf_lock_release(&core->lock);
        return CDF_STATUS_PENDING;
    }
    cdf_lock_release(&core->lock);

    /* next_cursor <= end: its field is never longer than end's */
    trailer = u64_field_size(dropped) + u64_field_size(end) + u64_field_size(oldest) +
              u64_field_size(newest) + (reset ? 2u : 0u);
    if (trailer > out_cap) return CDF_STATUS_BUFFER_TOO_SMALL;

    for (seq = start; seq <= end && delivered < limit; seq++) {
        const cdf_slot *s;
        size_t size, written = 0u;
        uint32_t need;
        cdf_lock_acquire(&core->lock);
        s = cdf_ring_get(&core->ring, seq);
        if (s != NULL) {
            memcpy(slot, s, image_at);
            memcpy(slot->opener_image, s->opener_image,
                   s->image_len <= CDF_IMAGE_MAX ? s->image_len : CDF_IMAGE_MAX);
            memcpy(slot->head, s->head, s->head_len <= CDF_CAPTURE_MAX ? s->head_len : CDF_CAPTURE_MAX);
        }
        cdf_lock_release(&core->lock);
        if (s == NULL) {
            evicted = 1;
            break;
        }
        slot_to_record(slot, rec);
        size = cdf_TraceRecord_size(rec);
        if (size == CDF_PB_SIZE_INVALID || size > cdf_TraceRecord_MAX_SIZE) return CDF_STATUS_UNSUCCESSFUL;
        need = 1u + varint_size(size) + (uint32_t)size;
        if ((uint64_t)pos + need + trailer > out_cap) {
            too_small = delivered == 0u;
            break;
        }
        out[pos++] = 0x0Au; /* field 1, wire type 2 */
        pos += put_varint(out + pos, size);
        if (cdf_TraceRecord_encode(rec, out + pos, size, &written) != CDF_PB_OK || written != size)
            return CDF_STATUS_UNSUCCESSFUL;
        pos += (uint32_t)written;
        delivered++;
    }
    if (too_small) return CDF_STATUS_BUFFER_TOO_SMALL;
    (void)evicted;
    next_cursor = start - 1u + delivered;
    pos += put_u64_field(out + pos, 2u, dropped);
    pos += put_u64_field(out + pos, 3u, next_cursor);
    pos += put_u64_field(out + pos, 4u, oldest);
    pos += put_u64_field(out + pos, 5u, newest);
    pos += put_u64_field(out + pos, 6u, (uint64_t)reset); /* bool reset = 6: varint 1 */
    *out_len = pos;
    return CDF_STATUS_SUCCESS;
}

static void fill_drive_info(cdf_core *core, uint32_t id, cdf_DriveInfo *di)
{
    const cdf_drive *d = &core->drives[id - 1u];
    cdf_DriveInfo_init(di);
    di->drive_id = id;
    copy_fixed_string(di->name, d->name, CDF_DRIVE_NAME_MAX);
    di->policy = d->policy;
    di->open_handles = d->open_handles;
    di->secure_total = d->secure_total;
    di->simple_total = d->simple_total;
    di->exclusive_owner = d->exclusive_owner;
}

static void fill_drive_ledger(cdf_core *core, uint32_t id, cdf_DriveLedger *dl)
{
    cdf_drive *d = &core->drives[id - 1u];
    uint32_t max = (uint32_t)(sizeof(dl->owners) / sizeof(dl->owners[0]));
    const cdf_handle *h;
    cdf_DriveLedger_init(dl);
    dl->drive_id = id;
    dl->secure_total = d->secure_total;
    dl->simple_total = d->simple_total;
    dl->mcn_total = d->mcn_total;
    dl->foreign_unlocks = d->foreign_unlocks;
    dl->denials = d->denials;
    dl->orphan_secure = d->orphan_secure;
    dl->orphan_simple = d->orphan_simple;
    dl->orphan_mcn = d->orphan_mcn;
    dl->untracked_opens = d->untracked_opens;
    dl->opens_over_quota = d->opens_over_quota;
    dl->evictions = d->evictions;
    for (h = cdf_handles_at(&core->handles, d->first_handle); h != NULL;
         h = cdf_handles_at(&core->handles, h->next)) {
        cdf_LockOwner *o;
        if (h->secure == 0u && h->simple == 0u && h->mcn == 0u && !h->exclusive) continue;
        if (dl->owners_count >= max) {
            dl->owners_truncated = 1u;
            break;
        }
        o = &dl->owners[dl->owners_count++];
        cdf_LockOwner_init(o);
        o->handle_id = h->handle_id;
        o->pid = h->pid;
        copy_fixed_string(o->image_name, h->image, CDF_IMAGE_MAX);
        o->secure_count = h->secure;
        o->simple_count = h->simple;
        o->mcn_count = h->mcn;
        o->since = h->since;
        o->exclusive = h->exclusive ? 1u : 0u;
        o->closing = h->cleaned_up ? 1u : 0u;
    }
}

/* Encode a finished reply; STATUS_BUFFER_TOO_SMALL when it does not fit in out_cap. */
#define CDF_ENCODE_REPLY(Type, msg, out, out_cap, out_len)                                  \
    do {                                                                                     \
        size_t size_ = Type##_size(msg), written_ = 0u;                                      \
        if (size_ == CDF_PB_SIZE_INVALID) return CDF_STATUS_UNSUCCESSFUL;                    \
        if (size_ > (out_cap)) return CDF_STATUS_BUFFER_TOO_SMALL;                           \
        if (size_ != 0u && Type##_encode(msg, out, size_, &written_) != CDF_PB_OK)           \
            return CDF_STATUS_UNSUCCESSFUL;                                                  \
        *(out_len) = (uint32_t)written_;                                                     \
        return CDF_STATUS_SUCCESS;                                                           \
    } while (0)

static uint32_t get_info(cdf_core *core, const cdf_InfoRequest *req, cdf_InfoReply *m,
                         uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
    uint32_t i;
    cdf_InfoReply_init(m);
    m->protocol_version = CDF_PROTOCOL_VERSION;
    /* every protocol change so far is additive (new field numbers): any client from version 1
     * to ours speaks a subset of it (0 = a client that does not say) */
    m->compatible = req->client_protocol_version <= CDF_PROTOCOL_VERSION ? 1u : 0u;
    copy_fixed_string(m->driver_version, core->driver_version, CDF_VERSION_MAX);
    m->host = (int32_t)core->host_kind;
    m->wall_clock_anchor = core->wall_anchor;
    m->monotonic_anchor = core->mono_anchor;
    m->ring_capacity = core->ring.capacity;
    m->ring_bytes = core->ring_bytes;
    m->max_capture_bytes = CDF_CAPTURE_MAX;
    cdf_lock_acquire(&core->lock);
    for (i = 0; i < core->max_drives; i++) {
        if (core->drives[i].in_use) m->drive_count++;
    }
    m->records_written = core->ring.written;
    m->records_overwritten = core->ring.overwritten;
    m->requests_seen = core->requests_seen;
    m->requests_denied = core->requests_denied;
    m->oldest_seq = cdf_ring_oldest(&core->ring);
    m->newest_seq = cdf_ring_newest(&core->ring);
    cdf_lock_release(&core->lock);
    CDF_ENCODE_REPLY(cdf_InfoReply, m, out, out_cap, out_len);
}

static uint32_t list_drives(cdf_core *core, cdf_DrivesReply *m, uint8_t *out, uint32_t out_cap,
                            uint32_t *out_len)
{
    uint32_t i;
    cdf_DrivesReply_init(m);
    cdf_lock_acquire(&core->lock);
    for (i = 0; i < core->max_drives; i++) {
        if (core->drives[i].in_use) fill_drive_info(core, i + 1u, &m->drives[m->drives_count++]);
    }
    /* drives present but not registered, in arrival order */
    for (i = 0; i < CDF_UNTRACKED_LIST_MAX; i++) {
        const cdf_untracked *e = &core->untracked[i];
        uint32_t j;
        if (e->token == 0u) continue;
        j = m->untracked_count++;
        while (j > 0u && m->untracked[j - 1u].since > e->since) {
            m->untracked[j] = m->untracked[j - 1u];
            j--;
        }
        copy_fixed_string(m->untracked[j].name, e->name, CDF_DRIVE_NAME_MAX);
        m->untracked[j].since = e->since;
    }
    m->untracked_present = core->untracked_present;
    m->untracked_total = core->untracked_total;
    cdf_lock_release(&core->lock);
    CDF_ENCODE_REPLY(cdf_DrivesReply, m, out, out_cap, out_len);
}

static uint32_t get_ledger(cdf_core *core, uint32_t drive_id, cdf_LedgerSnapshot *m,
                           uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
    uint32_t i;
    cdf_LedgerSnapshot_init(m);
    cdf_lock_acquire(&core->lock);
    if (drive_id != 0u && cdf_drive_get(core, drive_id) == NULL) {
        cdf_lock_release(&core->lock);
        return CDF_STATUS_INVALID_PARAMETER;
    }
    m->taken_at = cdf_clock_now();
    m->seq = cdf_ring_newest(&core->ring);
    for (i = 0; i < core->max_drives; i++) {
        if (!core->drives[i].in_use || (drive_id != 0u && drive_id != i + 1u)) continue;
        fill_drive_ledger(core, i + 1u, &m->drives[m->drives_count++]);
    }
    cdf_lock_release(&core->lock);
    CDF_ENCODE_REPLY(cdf_LedgerSnapshot, m, out, out_cap, out_len);
}

static uint32_t policies(cdf_core *core, uint32_t drive_id, int set, int32_t policy,
                         cdf_PolicyReply *m, uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
    uint32_t i;
    if (set && policy != CDF_POLICY_OBSERVE && policy != CDF_POLICY_ENFORCE)
        return CDF_STATUS_INVALID_PARAMETER;
    cdf_PolicyReply_init(m);
    cdf_lock_acquire(&core->lock);
    if (drive_id != 0u && cdf_drive_get(core, drive_id) == NULL) {
        cdf_lock_release(&core->lock);
        return CDF_STATUS_INVALID_PARAMETER;
    }
    for (i = 0; i < core->max_drives; i++) {
        cdf_DrivePolicy *p;
        if (!core->drives[i].in_use || (drive_id != 0u && drive_id != i + 1u)) continue;
        if (set) core->drives[i].policy = policy;
        p = &m->drives[m->drives_count++];
        cdf_DrivePolicy_init(p);
        p->drive_id = i + 1u;
        p->policy = core->drives[i].policy;
    }
    cdf_lock_release(&core->lock);
    CDF_ENCODE_REPLY(cdf_PolicyReply, m, out, out_cap, out_len);
}

static void config_from_filter(const cdf_trace_filter *f, cdf_TraceConfig *m)
{
    cdf_TraceConfig_init(m);
    m->majors_count = f->majors_count;
    memcpy(m->majors, f->majors, f->majors_count * sizeof(uint32_t));
    m->ioctl_codes_count = f->codes_count;
    memcpy(m->ioctl_codes, f->codes, f->codes_count * sizeof(uint32_t));
    m->drive_ids_count = f->drives_count;
    memcpy(m->drive_ids, f->drive_ids, f->drives_count * sizeof(uint32_t));
    m->capture_bytes = f->capture_bytes;
    m->output_capture_bytes = f->output_capture_bytes;
}

static uint32_t trace_config(cdf_core *core, const cdf_TraceConfig *req, cdf_TraceConfig *m,
                             uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
    cdf_trace_filter f;
    uint32_t i;
    if (req != NULL) {
        /* counts are within their bounds after a successful decode */
        if (req->capture_bytes > CDF_CAPTURE_MAX || req->output_capture_bytes > CDF_CAPTURE_MAX ||
            req->majors_count > CDF_FILTER_MAJORS_MAX ||
            req->ioctl_codes_count > CDF_FILTER_CODES_MAX || req->drive_ids_count > CDF_FILTER_DRIVES_MAX)
            return CDF_STATUS_INVALID_PARAMETER;
        memset(&f, 0, sizeof(f));
        f.majors_mask = req->majors_count == 0u ? 0xFFFFFFFFu : 0u;
        for (i = 0; i < req->majors_count; i++) {
            if (req->majors[i] > CDF_IRP_MJ_MAXIMUM_FUNCTION) return CDF_STATUS_INVALID_PARAMETER;
            f.majors[i] = req->majors[i];
            f.majors_mask |= 1u << req->majors[i];
        }
        f.majors_count = req->majors_count;
        for (i = 0; i < req->ioctl_codes_count; i++) f.codes[i] = req->ioctl_codes[i];
        f.codes_count = req->ioctl_codes_count;
        f.drives_mask = req->drive_ids_count == 0u ? 0xFFFFFFFFu : 0u;
        for (i = 0; i < req->drive_ids_count; i++) {
            if (req->drive_ids[i] == 0u || req->drive_ids[i] > core->max_drives)
                return CDF_STATUS_INVALID_PARAMETER;
            f.drive_ids[i] = req->drive_ids[i];
            f.drives_mask |= 1u << (req->drive_ids[i] - 1u);
        }
        f.drives_count = req->drive_ids_count;
        f.capture_bytes = req->capture_bytes;
        f.output_capture_bytes = req->output_capture_bytes;
        cdf_filter_finish(&f);
    }
    cdf_lock_acquire(&core->lock);
    if (req != NULL) core->filter = f;
    f = core->filter;
    cdf_lock_release(&core->lock);
    config_from_filter(&f, m);
    CDF_ENCODE_REPLY(cdf_TraceConfig, m, out, out_cap, out_len);
}

static uint32_t clear_trace(cdf_core *core, cdf_ClearTraceReply *m, uint8_t *out, uint32_t out_cap,
                            uint32_t *out_len)
{
    cdf_ClearTraceReply_init(m);
    cdf_lock_acquire(&core->lock);
    m->cleared_through = cdf_ring_clear(&core->ring);
    cdf_lock_release(&core->lock);
    CDF_ENCODE_REPLY(cdf_ClearTraceReply, m, out, out_cap, out_len);
}

/* Decode the request of `code` into *rq. STATUS_INVALID_PARAMETER when malformed. */
static uint32_t decode_request(uint32_t code, const uint8_t *in, uint32_t in_len, cdf_control_request *rq)
{
    int err;
    switch (code) {
    case CDF_IOCTL_GET_INFO: err = cdf_InfoRequest_decode(&rq->info, in, in_len); break;
    case CDF_IOCTL_LIST_DRIVES: err = cdf_DrivesRequest_decode(&rq->drives, in, in_len); break;
    case CDF_IOCTL_GET_LEDGER: err = cdf_LedgerRequest_decode(&rq->ledger, in, in_len); break;
    case CDF_IOCTL_GET_POLICY: err = cdf_PolicyRequest_decode(&rq->policy, in, in_len); break;
    case CDF_IOCTL_SET_POLICY: err = cdf_SetPolicyRequest_decode(&rq->set_policy, in, in_len); break;
    case CDF_IOCTL_GET_TRACE_CONFIG: err = cdf_TraceConfigRequest_decode(&rq->get_config, in, in_len); break;
    case CDF_IOCTL_SET_TRACE_CONFIG: err = cdf_TraceConfig_decode(&rq->config, in, in_len); break;
    case CDF_IOCTL_READ_TRACE:
    case CDF_IOCTL_WAIT_TRACE: err = cdf_TraceReadRequest_decode(&rq->read, in, in_len); break;
    case CDF_IOCTL_CLEAR_TRACE: err = cdf_ClearTraceRequest_decode(&rq->clear, in, in_len); break;
    default: return CDF_STATUS_INVALID_DEVICE_REQUEST;
    }
    return err == CDF_PB_OK ? CDF_STATUS_SUCCESS : CDF_STATUS_INVALID_PARAMETER;
}

uint32_t cdf_control_dispatch(cdf_core *core, uint32_t ioctl_code, uint32_t granted_access,
                              const uint8_t *in, uint32_t in_len,
                              uint8_t *out, uint32_t out_cap, uint32_t *out_len)
{
    static const uint8_t empty[1] = { 0u };
    cdf_control_request rq;
    cdf_control_reply *reply;
    uint32_t status, access;

    if (out_len != NULL) *out_len = 0u;
    if (core == NULL || out_len == NULL) return CDF_STATUS_INVALID_PARAMETER;
    switch (ioctl_code) {
    case CDF_IOCTL_GET_INFO: case CDF_IOCTL_LIST_DRIVES: case CDF_IOCTL_GET_LEDGER:
    case CDF_IOCTL_GET_POLICY: case CDF_IOCTL_SET_POLICY: case CDF_IOCTL_GET_TRACE_CONFIG:
    case CDF_IOCTL_SET_TRACE_CONFIG: case CDF_IOCTL_READ_TRACE: case CDF_IOCTL_WAIT_TRACE:
    case CDF_IOCTL_CLEAR_TRACE:
        break;
    default:
        return CDF_STATUS_INVALID_DEVICE_REQUEST;
    }
    access = CDF_CTL_ACCESS(ioctl_code);
    if (((access & CDF_FILE_READ_ACCESS) != 0u && (granted_access & CDF_ACCESS_READ) == 0u) ||
        ((access & CDF_FILE_WRITE_ACCESS) != 0u && (granted_access & CDF_ACCESS_WRITE) == 0u))
        return CDF_STATUS_ACCESS_DENIED;
    if ((in == NULL && in_len != 0u) || (out == NULL && out_cap != 0u))
        return CDF_STATUS_INVALID_PARAMETER;
    if (in == NULL) in = empty;
    if (out == NULL) out = (uint8_t *)(uintptr_t)empty; /* out_cap is 0: never written */

    /* 1. the whole request, decoded before any byte of out is touched */
    status = decode_request(ioctl_code, in, in_len, &rq);
    if (status != CDF_STATUS_SUCCESS) return status;

    cdf_lock_acquire(&core->control_lock);
    reply = (cdf_control_reply *)core->scratch;

    /* 2. trace reads: encoded straight into out, each record staged in the scratch area */
    if (ioctl_code == CDF_IOCTL_READ_TRACE || ioctl_code == CDF_IOCTL_WAIT_TRACE) {
        status = read_trace(core, &rq.read, ioctl_code == CDF_IOCTL_WAIT_TRACE, out, out_cap, out_len,
                            &reply->trace.slot, &reply->trace.rec);
        cdf_lock_release(&core->control_lock);
        return status;
    }

    /* 3. the rest: reply built in the reserved scratch area */
    switch (ioctl_code) {
    case CDF_IOCTL_GET_INFO:
        status = get_info(core, &rq.info, &reply->info, out, out_cap, out_len);
        break;
    case CDF_IOCTL_LIST_DRIVES:
        status = list_drives(core, &reply->drives, out, out_cap, out_len);
        break;
    case CDF_IOCTL_GET_LEDGER:
        status = get_ledger(core, rq.ledger.drive_id, &reply->ledger, out, out_cap, out_len);
        break;
    case CDF_IOCTL_GET_POLICY:
        status = policies(core, rq.policy.drive_id, 0, 0, &reply->policy, out, out_cap, out_len);
        break;
    case CDF_IOCTL_SET_POLICY:
        status = policies(core, rq.set_policy.drive_id, 1, rq.set_policy.policy, &reply->policy,
                          out, out_cap, out_len);
        break;
    case CDF_IOCTL_GET_TRACE_CONFIG:
        status = trace_config(core, NULL, &reply->config, out, out_cap, out_len);
        break;
    case CDF_IOCTL_SET_TRACE_CONFIG:
        status = trace_config(core, &rq.config, &reply->config, out, out_cap, out_len);
        break;
    default: /* CDF_IOCTL_CLEAR_TRACE */
        status = clear_trace(core, &reply->clear, out, out_cap, out_len);
        break;
    }
    cdf_lock_release(&core->control_lock);
    if (status != CDF_STATUS_SUCCESS) *out_len = 0u;
    return status;
}

uint32_t cdf_access_from_mask(uint32_t desired_access)
{
    /* winnt.h: FILE_READ_DATA 0x1, FILE_WRITE_DATA 0x2, MAXIMUM_ALLOWED 0x02000000,
     * GENERIC_ALL 0x10000000, GENERIC_WRITE 0x40000000, GENERIC_READ 0x80000000 */
    uint32_t any = 0x02000000u | 0x10000000u;
    uint32_t a = 0u;
    if (desired_access & (0x1u | 0x80000000u | any)) a |= CDF_ACCESS_READ;
    if (desired_access & (0x2u | 0x40000000u | any)) a |= CDF_ACCESS_WRITE;
    return a;
}

int cdf_ioctl_access_allowed(uint32_t code, uint32_t granted)
{
    uint32_t required = CDF_CTL_ACCESS(code);
    if ((required & CDF_FILE_READ_ACCESS) != 0u && (granted & CDF_ACCESS_READ) == 0u) return 0;
    if ((required & CDF_FILE_WRITE_ACCESS) != 0u && (granted & CDF_ACCESS_WRITE) == 0u) return 0;
    return 1;
}
