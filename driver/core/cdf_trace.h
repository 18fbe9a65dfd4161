/*
 * cdf_trace.h - the trace ring and the kernel-side trace filter.
 *
 * The ring holds fixed-size cdf_slot records (a compact C struct, converted to protobuf only
 * when read). Its capacity is fixed at init: ring_bytes / sizeof(cdf_slot) records. Appending
 * never blocks or allocates; when the ring is full the oldest record goes (counted in
 * `overwritten`). Readers are stateless cursors (after_seq): records a reader missed are
 * reported to it as `dropped`. Every function here runs under core->lock.
 */
#ifndef CDF_TRACE_H
#define CDF_TRACE_H

#include <string.h>
#include "cdf_internal.h"

#define CDF_RING_MIN_BYTES 8192u
#define CDF_RING_MAX_BYTES 268435456u  /* 256 MiB */

/* Reserve the ring. 0, or -1 when memory is short. ring_bytes checked by the caller. */
int cdf_ring_init(cdf_ring *r, uint32_t ring_bytes);
void cdf_ring_fini(cdf_ring *r);

/* Claim the slot for the next sequence number (evicting the oldest record when full) and set
 * its seq, kind and timestamp. The caller fills every other field before releasing the lock.
 * timestamp comes from cdf_ring_order, so timestamps never decrease along seq. */
static inline cdf_slot *cdf_ring_append(cdf_ring *r, uint8_t kind, uint64_t timestamp)
{
    uint64_t seq = r->next_seq;
    cdf_slot *s = &r->slots[r->next_index];
    if (seq - r->oldest_seq >= r->capacity) {
        r->oldest_seq++;
        r->overwritten++;
    }
    if (++r->next_index == r->capacity) r->next_index = 0u;
    s->seq = seq;
    s->kind = kind;
    s->timestamp = timestamp;
    r->next_seq = seq + 1u;
    r->written++;
    return s;
}

/* A record timestamp (100 ns) from a cdf_clock_now reading taken just before core->lock:
 * under the lock it is raised to the latest timestamp handed out, so that timestamps never
 * decrease along seq and durations are never negative whatever the host clock does and
 * however long the lock was waited for. (Reading the clock before the lock lets the clock
 * read overlap the lock's atomic exchange; a request that waited for the lock gets at least
 * the timestamp of the record written before it.) */
static inline uint64_t cdf_ring_order(cdf_ring *r, uint64_t now)
{
    if (now < r->last_timestamp) now = r->last_timestamp;
    r->last_timestamp = now;
    return now;
}

/* Newest sequence number ever assigned (0 before the first record). */
static inline uint64_t cdf_ring_newest(const cdf_ring *r) { return r->next_seq - 1u; }
/* Oldest record still in the ring, 0 when the ring is empty. */
static inline uint64_t cdf_ring_oldest(const cdf_ring *r)
{
    return r->oldest_seq < r->next_seq ? r->oldest_seq : 0u;
}
/* The record with this seq if it is still in the ring, else NULL. */
const cdf_slot *cdf_ring_get(const cdf_ring *r, uint64_t seq);
/* Discard every record (ClearTrace); returns the newest discarded seq (cleared_through). */
uint64_t cdf_ring_clear(cdf_ring *r);
int cdf_ring_check(const cdf_ring *r);

/* Defaults: everything traced, capture 64 bytes. */
void cdf_filter_default(cdf_trace_filter *f);
/* Whether a request passes the kernel-side filter. ioctl_codes constrain device-control
 * requests only (matched against the code as sent and the normalized code); other majors are
 * constrained by majors and drive_ids only. */
int cdf_filter_wants_slow(const cdf_trace_filter *f, uint32_t drive_id, uint32_t major,
                          uint32_t code, uint32_t normalized);
static inline int cdf_filter_wants(const cdf_trace_filter *f, uint32_t drive_id, uint32_t major,
                                   uint32_t code, uint32_t normalized)
{
    if (f->pass_all) return major < 32u && drive_id - 1u < 32u; /* as the masks would answer */
    return cdf_filter_wants_slow(f, drive_id, major, code, normalized);
}
/* Set pass_all from the lists (after any change to them). */
void cdf_filter_finish(cdf_trace_filter *f);

/* Copy n bytes (n <= CDF_CAPTURE_MAX) with fixed-size moves, reading and writing only
 * [0, n): overlapping 16/8/4-byte blocks instead of a variable-length memcpy, whose call or
 * `rep movs` start-up costs more than the copy itself at these sizes. */
static inline void cdf_copy_small(uint8_t *dst, const uint8_t *src, uint32_t n)
{
    uint32_t i;
    if (n >= 16u) {
        for (i = 0; i + 16u < n; i += 16u) memcpy(dst + i, src + i, 16u);
        memcpy(dst + n - 16u, src + n - 16u, 16u);
    } else if (n >= 8u) {
        memcpy(dst, src, 8u);
        memcpy(dst + n - 8u, src + n - 8u, 8u);
    } else if (n >= 4u) {
        memcpy(dst, src, 4u);
        memcpy(dst + n - 4u, src + n - 4u, 4u);
    } else if (n != 0u) {
        dst[0] = src[0];
        dst[n / 2u] = src[n / 2u];
        dst[n - 1u] = src[n - 1u];
    }
}

/* Kernel-mode requestors (CDF_RQ_KERNEL_MODE) may pass buffers holding kernel addresses: how
 * many of the n bytes cdf_trace_capture may take from them (see below). */
uint32_t cdf_trace_kernel_capture_limit(const cdf_request *rq, uint32_t normalized, uint32_t n);
/* Zero SCSI_PASS_THROUGH_DIRECT.DataBuffer (SCSI_PASS_THROUGH_DIRECT_EX.DataOutBuffer and
 * DataInBuffer) in a kernel-mode requestor's captured header. */
void cdf_trace_kernel_scrub(cdf_slot *slot, const cdf_request *rq, uint32_t n);

/* Copy the head of rq's input into slot->head: at most capture_bytes, sets head_len and
 * truncated; only those head_len bytes are written. Kernel-mode requestors
 * (CDF_RQ_KERNEL_MODE) may pass buffers holding kernel addresses: for them only pointer-free
 * inputs are captured (the media-lock IOCTLs, exclusive access, and the SCSI pass-through
 * header through the CDB, with the _DIRECT[_EX] data buffer pointers zeroed). Internal device
 * controls are never captured (their stack location holds an SRB pointer, not a buffer). */
static inline void cdf_trace_capture(cdf_slot *slot, const cdf_request *rq, uint32_t normalized,
                                     uint32_t capture_bytes)
{
    uint32_t n = rq->input_length < capture_bytes ? rq->input_length : capture_bytes;
    if (rq->input == NULL || rq->major != CDF_IRP_MJ_DEVICE_CONTROL) n = 0u;
    if (n > CDF_CAPTURE_MAX) n = CDF_CAPTURE_MAX;
    if ((rq->flags & CDF_RQ_KERNEL_MODE) != 0u) n = cdf_trace_kernel_capture_limit(rq, normalized, n);
    cdf_copy_small(slot->head, rq->input, n);
    if ((rq->flags & CDF_RQ_KERNEL_MODE) != 0u) cdf_trace_kernel_scrub(slot, rq, n);
    slot->head_len = (uint16_t)n;
    slot->truncated = rq->input_length > n ? 1u : 0u;
}

/* Output capture at completion (TraceConfig.output_capture_bytes): copy the head of what the
 * lower driver returned into a COMPLETION slot's head (head_len, truncated = more was returned
 * than captured). Only for user-mode requestors, NT_SUCCESS statuses (STATUS_BUFFER_OVERFLOW
 * too: the buffer holds partial data), rq->output set, and a METHOD_BUFFERED device control or
 * a read; at most min(information, output_length, cap, CDF_CAPTURE_MAX) bytes. */
void cdf_trace_capture_output(cdf_slot *slot, const cdf_request *rq, uint32_t status,
                              uint64_t information, uint32_t cap);

#endif /* CDF_TRACE_H */
