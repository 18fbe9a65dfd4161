/*
 * cdf_internal.h - the core's private state, shared by its modules (never by hosts).
 *
 * Locking: core->lock (a host spinlock in kernel hosts) guards the handle table, the drives'
 * ledgers, the policy, the trace filter and the ring. It is held only for short, bounded,
 * allocation-free work. core->control_lock serializes the control calls that use the reserved
 * scratch area; order: control_lock before lock.
 */
#ifndef CDF_INTERNAL_H
#define CDF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "cdf_core.h"
#include "cdf_platform.h"

#define CDF_MAX_DRIVES          16u
#define CDF_DRIVE_NAME_MAX      64u    /* bytes, DriveInfo.name bound */
#define CDF_IMAGE_MAX           64u    /* bytes, TraceRecord.opener_image bound */
#define CDF_VERSION_MAX         32u    /* bytes, InfoReply.driver_version bound */
#define CDF_CAPTURE_MAX         256u   /* bytes, TraceRecord.input_head bound */
#define CDF_CAPTURE_DEFAULT     64u
#define CDF_FILTER_MAJORS_MAX   28u
#define CDF_FILTER_CODES_MAX    32u
#define CDF_FILTER_DRIVES_MAX   16u
#define CDF_COUNT_LIMIT         0x7FFFFFFFu /* a count never goes past this (no wrap) */

/* Policy values (trace/control.proto enum Policy). */
#define CDF_POLICY_OBSERVE_V 1
#define CDF_POLICY_ENFORCE_V 2

/* trace.proto enum values, mirrored so the request path does not need the generated codec;
 * cdf_control.c checks them against gen/cdfilter.pb.h at compile time. */
enum {
    CDF_REC_DISPATCH = 1, CDF_REC_COMPLETION = 2, CDF_REC_AUTO_RELEASE = 3,
    CDF_REC_LEAK_RELEASE = 4, CDF_REC_HANDLE_OPEN = 5, CDF_REC_HANDLE_CLOSE = 6,
    CDF_REC_DRIVE_NOT_TRACKED = 7
};
enum {
    CDF_DEC_NONE = 0, CDF_DEC_PASS = 1, CDF_DEC_TRACK = 2, CDF_DEC_DENY = 3,
    CDF_DEC_REJECT = 4, CDF_DEC_RELEASE = 5
};
enum {
    CDF_RSN_NONE = 0, CDF_RSN_LOCK_TAKEN = 1, CDF_RSN_LOCK_DROPPED = 2,
    CDF_RSN_FOREIGN_SECURE_UNLOCK = 3, CDF_RSN_EJECT_UNDER_LOCK = 4,
    CDF_RSN_PASSTHROUGH_EJECT_UNDER_LOCK = 5, CDF_RSN_PASSTHROUGH_ALLOW_UNDER_LOCK = 6,
    CDF_RSN_SHORT_INPUT = 7, CDF_RSN_NO_FILE_OBJECT = 8, CDF_RSN_LOWER_FAILED = 9,
    CDF_RSN_HANDLE_CLEANUP = 10, CDF_RSN_HANDLE_CLOSE = 11, CDF_RSN_PROCESS_EXIT = 12,
    CDF_RSN_SIMPLE_LOCK_LEAK = 13, CDF_RSN_FOREIGN_SIMPLE_UNLOCK = 14, CDF_RSN_WOULD_DENY = 15,
    CDF_RSN_LEDGER_FULL = 16, CDF_RSN_EXCLUSIVE_ACCESS = 17, CDF_RSN_UNLOCK_AT_ZERO = 18,
    CDF_RSN_HANDLE_QUOTA = 19, CDF_RSN_HANDLE_EVICTED = 20, CDF_RSN_DRIVE_NOT_TRACKED = 21
};

/* One tracked file object. Lives at a stable index in the handle pool. */
typedef struct cdf_handle {
    uintptr_t key;            /* cdf_fo_key.opaque; never leaves the core */
    uint64_t handle_id;       /* opaque id from the core's counter, >= 1 */
    uint64_t since;           /* 100 ns monotonic: first lock still held, 0 = none */
    uint32_t drive_id;
    uint32_t pid;             /* opener pid, captured at IRP_MJ_CREATE completion */
    uint32_t secure;          /* IOCTL_STORAGE_EJECTION_CONTROL locks held */
    uint32_t simple;          /* IOCTL_STORAGE_MEDIA_REMOVAL locks attributed */
    uint32_t mcn;             /* IOCTL_STORAGE_MCN_CONTROL disables held */
    uint32_t prev, next;      /* per-drive list, pool index + 1 (0 = none) */
    uint8_t exclusive;        /* owns IOCTL_CDROM_EXCLUSIVE_ACCESS */
    uint8_t in_use;
    uint8_t cleaned_up;       /* IRP_MJ_CLEANUP seen */
    uint8_t adopted;          /* never seen created (e.g. a CDFS/UDFS volume handle): made by a
                               * lock's successful completion, removed when it holds nothing */
    uint8_t image_len;        /* bytes of image in use (0..CDF_IMAGE_MAX) */
    char image[CDF_IMAGE_MAX];/* opener image, zero padded, not necessarily NUL-terminated */
} cdf_handle;

typedef struct cdf_handles {
    cdf_handle *pool;         /* max entries */
    uint32_t *index;          /* open addressing, linear probing: pool index + 1, 0 = empty */
    uint32_t index_mask;      /* index capacity - 1 (power of two >= 2 * max) */
    uint32_t max;
    uint32_t count;
    uint32_t free_head;       /* pool index + 1 of the first free entry */
} cdf_handles;

typedef struct cdf_drive {
    uint8_t in_use;
    char name[CDF_DRIVE_NAME_MAX + 1];
    int32_t policy;
    uint32_t secure_total, simple_total, mcn_total;
    /* Locks cdrom.sys counts but no tracked handle owns. Part of the totals. Simple: left at
     * close under observe, or by a stale entry retired when a create reused its file object.
     * Secure and MCN: taken by file objects the table could not track (cdrom.sys releases them
     * at those file objects' close, which the core cannot tell apart from other untracked
     * closes): not counted against the eject rule, released when no untracked file object is
     * left open on the drive (untracked_opens back to 0). */
    uint32_t orphan_secure, orphan_simple, orphan_mcn;
    uint32_t untracked_opens; /* file objects open on the drive without an entry (over quota,
                               * table full, evicted, or an adopted entry reaped), as the core
                               * can count them */
    uint64_t opens_over_quota;/* creates left untracked: the opener's process held its quota */
    uint64_t evictions;       /* idle entries that gave their slot to a lock holder */
    uint32_t open_handles;
    uint32_t first_handle;    /* pool index + 1 */
    uint64_t exclusive_owner; /* handle id, 0 = none */
    uint64_t foreign_unlocks;
    uint64_t denials;
} cdf_drive;

/* A drive present that the core could not register (cdf_core_add_untracked_drive). */
#define CDF_UNTRACKED_LIST_MAX 8u   /* DrivesReply.untracked bound */
typedef struct cdf_untracked {
    uint32_t token;           /* cdf_core_add_untracked_drive's token, 0 = free entry */
    uint64_t since;           /* 100 ns monotonic */
    char name[CDF_DRIVE_NAME_MAX + 1];
} cdf_untracked;

/* One trace record in the ring: a compact fixed-size C struct (not protobuf). Only the first
 * image_len bytes of opener_image and head_len bytes of head belong to the record (a
 * DRIVE_NOT_TRACKED record keeps its drive name in opener_image: TraceRecord.drive_name): the rest of
 * those arrays is left over from older records and never read. `head` and `truncated` hold the
 * input head of a DISPATCH record and the output head of a COMPLETION record (output capture,
 * cdf_trace_capture_output): a completion never carries input, so one array serves both. */
typedef struct cdf_slot {
    uint64_t seq, request_id, timestamp, handle_id, information, duration;
    uint32_t drive_id, pid, tid, requestor_pid, opener_pid;
    uint32_t major, minor, ioctl_code, normalized_code, input_length, output_length, status;
    uint32_t secure_total, simple_total, count_released;
    uint8_t kind, decision, reason, truncated;
    uint16_t head_len, image_len;
    char opener_image[CDF_IMAGE_MAX];
    uint8_t head[CDF_CAPTURE_MAX];
} cdf_slot;

/* Records with seq in [oldest_seq, next_seq) are in the ring, at slots[seq % capacity];
 * next_index tracks next_seq % capacity so that appending needs no division. */
typedef struct cdf_ring {
    cdf_slot *slots;
    uint32_t capacity;        /* records */
    uint32_t next_index;      /* next_seq % capacity */
    uint64_t last_timestamp;  /* latest timestamp cdf_ring_order handed out (100 ns) */
    uint64_t next_seq;        /* starts at 1 */
    uint64_t oldest_seq;
    uint64_t written;         /* records produced since load */
    uint64_t overwritten;     /* records evicted by wrap-around */
} cdf_ring;

typedef struct cdf_trace_filter {
    uint32_t majors[CDF_FILTER_MAJORS_MAX];
    uint32_t majors_count;
    uint32_t majors_mask;     /* bit per IRP_MJ_*, all ones when the list is empty */
    uint32_t codes[CDF_FILTER_CODES_MAX];
    uint32_t codes_count;
    uint32_t drive_ids[CDF_FILTER_DRIVES_MAX];
    uint32_t drives_count;
    uint32_t drives_mask;     /* bit (id - 1), all ones when the list is empty */
    uint32_t capture_bytes;
    uint32_t output_capture_bytes; /* 0 = no output capture (TraceConfig.output_capture_bytes) */
    uint8_t pass_all;         /* no list constrains anything: every request passes */
} cdf_trace_filter;

struct cdf_core {
    cdf_lock lock;
    cdf_lock control_lock;
    uint32_t max_drives;
    uint32_t host_kind;
    uint32_t ring_bytes;
    char driver_version[CDF_VERSION_MAX + 1];
    cdf_drive drives[CDF_MAX_DRIVES];
    /* drives present but not registered (more than max_drives): the most recent ones */
    cdf_untracked untracked[CDF_UNTRACKED_LIST_MAX];
    uint32_t untracked_present;   /* added and not yet removed (may exceed the list) */
    uint32_t untracked_next_token;/* last token handed out */
    uint64_t untracked_total;     /* added since create */
    cdf_handles handles;
    cdf_ring ring;
    cdf_trace_filter filter;
    uint32_t max_per_process; /* handle entries one process may hold over every drive */
    uint64_t next_request_id;
    uint64_t next_handle_id;
    uint64_t requests_seen;
    uint64_t requests_denied;
    uint64_t wall_anchor, mono_anchor;
    cdf_notify_fn *notify;
    void *notify_context;
    uint8_t wait_armed;       /* a WaitTrace returned STATUS_PENDING: notify on next append */
    void *scratch;            /* control replies, guarded by control_lock */
    size_t scratch_bytes;
};

static inline cdf_drive *cdf_drive_get(cdf_core *core, uint32_t drive_id)
{
    if (drive_id == 0u || drive_id > core->max_drives) return NULL;
    if (!core->drives[drive_id - 1u].in_use) return NULL;
    return &core->drives[drive_id - 1u];
}

#endif /* CDF_INTERNAL_H */
