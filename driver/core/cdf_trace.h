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

#include "cdf_internal.h"

#define CDF_RING_MIN_BYTES 8192u
#define CDF_RING_MAX_BYTES 268435456u  /* 256 MiB */

/* Reserve the ring. 0, or -1 when memory is short. ring_bytes checked by the caller. */
int cdf_ring_init(cdf_ring *r, uint32_t ring_bytes);
void cdf_ring_fini(cdf_ring *r);

/* Claim the slot for the next sequence number (evicting the oldest record when full) and set
 * its seq, kind and timestamp. The caller fills every other field before releasing the lock.
 * The timestamp is raised to the previous record's if the clock ever stepped back, so
 * timestamps never decrease along seq whatever the host clock does. */
static inline cdf_slot *cdf_ring_append(cdf_ring *r, uint8_t kind, uint64_t timestamp)
{
    uint64_t seq = r->next_seq;
    cdf_slot *s = &r->slots[r->next_index];
    if (seq - r->oldest_seq >= r->capacity) {
        r->oldest_seq++;
        r->overwritten++;
    }
    if (++r->next_index == r->capacity) r->next_index = 0u;
    if (timestamp < r->last_timestamp) timestamp = r->last_timestamp;
    r->last_timestamp = timestamp;
    s->seq = seq;
    s->kind = kind;
    s->timestamp = timestamp;
    r->next_seq = seq + 1u;
    r->written++;
    return s;
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

/* Copy the head of rq's input into slot->head: at most capture_bytes, sets head_len and
 * truncated. Kernel-mode requestors (CDF_RQ_KERNEL_MODE) may pass buffers holding kernel
 * addresses: for them only pointer-free inputs are captured (the media-lock IOCTLs, exclusive
 * access, and the SCSI pass-through header with SCSI_PASS_THROUGH_DIRECT.DataBuffer zeroed). */
void cdf_trace_capture(cdf_slot *slot, const cdf_request *rq, uint32_t normalized,
                       uint32_t capture_bytes);

#endif /* CDF_TRACE_H */
