/*
 * cdf_trace.c - trace ring, filter and input capture (see cdf_trace.h).
 */
#include <string.h>
#include "cdf_trace.h"
#include "cdf_scsi.h"

int cdf_ring_init(cdf_ring *r, uint32_t ring_bytes)
{
    memset(r, 0, sizeof(*r));
    r->capacity = ring_bytes / (uint32_t)sizeof(cdf_slot);
    if (r->capacity == 0u) return -1;
    r->slots = (cdf_slot *)cdf_mem_reserve((size_t)r->capacity * sizeof(cdf_slot));
    if (r->slots == NULL) return -1;
    r->next_seq = 1u;
    r->next_index = 1u % r->capacity;
    r->oldest_seq = 1u;
    return 0;
}

void cdf_ring_fini(cdf_ring *r)
{
    cdf_mem_release(r->slots);
    memset(r, 0, sizeof(*r));
}

const cdf_slot *cdf_ring_get(const cdf_ring *r, uint64_t seq)
{
    if (seq < r->oldest_seq || seq >= r->next_seq) return NULL;
    return &r->slots[seq % r->capacity];
}

uint64_t cdf_ring_clear(cdf_ring *r)
{
    r->oldest_seq = r->next_seq;
    return r->next_seq - 1u;
}

int cdf_ring_check(const cdf_ring *r)
{
    if (r->next_seq == 0u || r->oldest_seq > r->next_seq) return 1;
    if (r->next_seq - r->oldest_seq > r->capacity) return 2;
    if (r->oldest_seq < r->next_seq && r->slots[r->oldest_seq % r->capacity].seq != r->oldest_seq)
        return 3;
    if (r->written != r->next_seq - 1u) return 4;
    if (r->next_index != r->next_seq % r->capacity) return 5;
    return 0;
}

void cdf_filter_default(cdf_trace_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->majors_mask = 0xFFFFFFFFu;
    f->drives_mask = 0xFFFFFFFFu;
    f->capture_bytes = CDF_CAPTURE_DEFAULT;
    cdf_filter_finish(f);
}

void cdf_filter_finish(cdf_trace_filter *f)
{
    f->pass_all = f->majors_count == 0u && f->codes_count == 0u && f->drives_count == 0u &&
                  f->majors_mask == 0xFFFFFFFFu && f->drives_mask == 0xFFFFFFFFu;
}

int cdf_filter_wants_slow(const cdf_trace_filter *f, uint32_t drive_id, uint32_t major,
                          uint32_t code, uint32_t normalized)
{
    uint32_t i;
    if (major >= 32u || ((f->majors_mask >> major) & 1u) == 0u) return 0;
    if (drive_id == 0u || drive_id > 32u || ((f->drives_mask >> (drive_id - 1u)) & 1u) == 0u)
        return 0;
    if (f->codes_count != 0u &&
        (major == CDF_IRP_MJ_DEVICE_CONTROL || major == CDF_IRP_MJ_INTERNAL_DEVICE_CONTROL)) {
        for (i = 0; i < f->codes_count; i++) {
            if (f->codes[i] == code || f->codes[i] == normalized) return 1;
        }
        return 0;
    }
    return 1;
}

static int pointer_free_for_kernel(uint32_t code, uint32_t normalized)
{
    return normalized == CDF_IOCTL_STORAGE_EJECTION_CONTROL ||
           normalized == CDF_IOCTL_STORAGE_MEDIA_REMOVAL ||
           normalized == CDF_IOCTL_STORAGE_MCN_CONTROL ||
           normalized == CDF_IOCTL_STORAGE_EJECT_MEDIA ||
           code == CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS;
}

uint32_t cdf_trace_kernel_capture_limit(const cdf_request *rq, uint32_t normalized, uint32_t n)
{
    int caller32 = (rq->flags & CDF_RQ_CALLER_32BIT) != 0u;
    if (n == 0u || pointer_free_for_kernel(rq->ioctl_code, normalized)) return n;
    if (cdf_scsi_is_passthrough(rq->ioctl_code)) {
        /* the pass-through header (through the CDB) and never its data */
        uint32_t header = cdf_scsi_header_bytes(rq->ioctl_code, rq->input, rq->input_length, caller32);
        return n > header ? header : n;
    }
    return 0u;
}

void cdf_trace_capture_output(cdf_slot *slot, const cdf_request *rq, uint32_t status,
                              uint64_t information, uint32_t cap)
{
    uint64_t returned = information < rq->output_length ? information : rq->output_length;
    uint32_t n;
    slot->head_len = 0u;
    slot->truncated = 0u;
    if (cap == 0u || rq->output == NULL || (rq->flags & CDF_RQ_KERNEL_MODE) != 0u) return;
    if (!(CDF_NT_SUCCESS(status) || status == CDF_STATUS_BUFFER_OVERFLOW)) return;
    if (rq->major == CDF_IRP_MJ_DEVICE_CONTROL) {
        if ((rq->ioctl_code & 3u) != 0u) return; /* METHOD_BUFFERED only */
    } else if (rq->major != CDF_IRP_MJ_READ) {
        return;
    }
    if (cap > CDF_CAPTURE_MAX) cap = CDF_CAPTURE_MAX;
    n = returned < cap ? (uint32_t)returned : cap;
    cdf_copy_small(slot->head, rq->output, n);
    slot->head_len = (uint16_t)n;
    slot->truncated = returned > n ? 1u : 0u;
}

static void zero_range(cdf_slot *slot, uint32_t at, uint32_t width, uint32_t n)
{
    uint32_t i;
    for (i = at; i < at + width && i < n; i++) slot->head[i] = 0u;
}

void cdf_trace_kernel_scrub(cdf_slot *slot, const cdf_request *rq, uint32_t n)
{
    int caller32 = (rq->flags & CDF_RQ_CALLER_32BIT) != 0u;
    uint32_t w = caller32 ? 4u : 8u;
    if (rq->ioctl_code == CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT) {
        zero_range(slot, caller32 ? CDF_SPTD32_DATABUFFER_OFFSET : CDF_SPTD64_DATABUFFER_OFFSET, w, n);
    } else if (rq->ioctl_code == CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX) {
        zero_range(slot, caller32 ? CDF_SPTDEX32_DATAOUT_OFFSET : CDF_SPTDEX64_DATAOUT_OFFSET, w, n);
        zero_range(slot, caller32 ? CDF_SPTDEX32_DATAIN_OFFSET : CDF_SPTDEX64_DATAIN_OFFSET, w, n);
    }
}
