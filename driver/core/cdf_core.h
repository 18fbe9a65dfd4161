/*
 * cdf_core.h - the portable filter core: everything that decides.
 *
 * Every host (KMDF filter, simulator, Wine WDM host) is a thin adapter that turns its requests
 * into cdf_request, asks the core what to do (cdf_core_dispatch), does it, and reports the
 * lower driver's result (cdf_core_complete). The core owns the ejection-ownership ledger, the
 * policy, the trace ring and the control protocol (cdf_control_dispatch).
 *
 * Concurrency: every entry point may be called concurrently from any thread at
 * IRQL <= DISPATCH_LEVEL, except cdf_core_create/destroy/add_drive/remove_drive (PASSIVE_LEVEL,
 * not concurrently with I/O on the same drive). The core never blocks, never allocates after
 * cdf_core_create, and never recurses on input.
 *
 * Kernel addresses: the only pointer-sized identity the host hands in is cdf_fo_key (the file
 * object). The core uses it as a lookup key in its handle table and never copies it into a
 * trace record or a reply: records carry handle ids from the core's own 64-bit counter.
 */
#ifndef CDF_CORE_H
#define CDF_CORE_H

#include <stddef.h>
#include <stdint.h>
#include "cdf_nt.h"

typedef struct cdf_core cdf_core;

typedef struct cdf_config {
    uint32_t max_drives;        /* drives the core can track (1..16), default 16 */
    uint32_t max_handles;       /* handle slots over all drives, default 1024 */
    uint32_t ring_bytes;        /* trace ring size in bytes, default 1 MiB (1048576) */
    uint32_t host_kind;         /* CDF_HOST_KIND_KMDF / _SIMULATOR / _WINE (generated enum) */
    const char *driver_version; /* copied; at most 32 bytes of UTF-8 */
    /* handle entries one process may hold over all drives (0..max_handles), default 0 =
     * max_handles / 4 (at least 1): an open beyond it is not tracked (reason HANDLE_QUOTA) until
     * it takes a lock, so one process cannot fill the table for everyone else */
    uint32_t max_handles_per_process;
} cdf_config;

/* Fill *cfg with the defaults above. */
void cdf_config_default(cdf_config *cfg);

/* Reserve every byte the core will ever use. PASSIVE_LEVEL. cfg NULL = defaults.
 * Ranges: max_drives 1..16, max_handles 1..65536, max_handles_per_process 0..max_handles, ring_bytes 8192..268435456 (the ring holds
 * ring_bytes / sizeof(cdf_slot) = 440-byte records), host_kind 0..3, driver_version <= 32 bytes.
 * Returns STATUS_SUCCESS, STATUS_INVALID_PARAMETER (a config value out of range) or
 * STATUS_INSUFFICIENT_RESOURCES. */
uint32_t cdf_core_create(const cdf_config *cfg, cdf_core **out);
void cdf_core_destroy(cdf_core *core);

/* Register a drive (one filter device instance). name: e.g. "CdRom0", at most 64 bytes.
 * *drive_id receives an id >= 1. STATUS_INSUFFICIENT_RESOURCES when max_drives are in use. */
uint32_t cdf_core_add_drive(cdf_core *core, const char *name, uint32_t *drive_id);
/* Forget a drive and every handle on it (device removal). */
void cdf_core_remove_drive(cdf_core *core, uint32_t drive_id);

/* A drive the host filters but could not register (cdf_core_add_drive returned
 * STATUS_INSUFFICIENT_RESOURCES: more drives than max_drives). Its I/O passes untraced, so the
 * core makes it visible instead: a DRIVE_NOT_TRACKED record (reason DRIVE_NOT_TRACKED,
 * drive_id 0, drive_name = name) is appended to the ring (filter-originated: written whatever
 * the trace filter says) and the drive is listed in DrivesReply.untracked (the last 8 such
 * drives still present) and counted in untracked_present / untracked_total. PASSIVE_LEVEL.
 * name: e.g. "CdRom16", at most 64 bytes of UTF-8. *token receives an id >= 1 for
 * cdf_core_remove_untracked_drive. STATUS_SUCCESS or STATUS_INVALID_PARAMETER (NULL core or
 * token, name too long). Never allocates. */
uint32_t cdf_core_add_untracked_drive(cdf_core *core, const char *name, uint32_t *token);
/* The untracked drive went away (device removal). Call once per token; token 0 is ignored. */
void cdf_core_remove_untracked_drive(cdf_core *core, uint32_t token);

/* Called (outside every core lock, at IRQL <= DISPATCH_LEVEL) after records were appended, so a
 * host can complete parked WaitTrace requests. NULL disables.
 * Edge-triggered: a WaitTrace that returns STATUS_PENDING arms it; the next append fires it once
 * and disarms it. On the callback the host retries every parked WaitTrace (each one still
 * pending re-arms it). Park the request and handle the callback under one host lock, or retry
 * once after parking, so that a record appended in between is not missed. */
typedef void cdf_notify_fn(void *context);
void cdf_core_set_notify(cdf_core *core, cdf_notify_fn *fn, void *context);

/* The file object of a request, as an opaque lookup key (0 = no file object). */
typedef struct cdf_fo_key {
    uintptr_t opaque;
} cdf_fo_key;

/* cdf_request.flags */
#define CDF_RQ_CALLER_32BIT   0x1u  /* WOW64 caller: 32-bit SCSI_PASS_THROUGH layout */
#define CDF_RQ_PROCESS_EXIT   0x2u  /* cleanup/close because the owning process is exiting */
#define CDF_RQ_KERNEL_MODE    0x4u  /* Irp->RequestorMode == KernelMode */

/* One request as it reaches the filter (a neutral view of the IRP). */
typedef struct cdf_request {
    uint32_t major;               /* CDF_IRP_MJ_* */
    uint32_t minor;
    uint32_t ioctl_code;          /* device control: IoControlCode as sent */
    cdf_fo_key file;              /* FileObject */
    uint32_t pid;                 /* PsGetCurrentProcessId */
    uint32_t tid;                 /* PsGetCurrentThreadId */
    uint32_t requestor_pid;       /* IoGetRequestorProcessId */
    uint32_t flags;               /* CDF_RQ_* */
    const uint8_t *input;         /* _In_reads_bytes_opt_(input_length): SystemBuffer, NULL if none */
    uint32_t input_length;        /* bytes */
    uint32_t output_length;       /* bytes */
    uint64_t offset;              /* read/write: ByteOffset in bytes */
    /* IRP_MJ_CREATE only: opener image name, UTF-8, may be NULL. Read at cdf_core_complete of
     * the create (the handle row is made when the create succeeded); must stay valid until then. */
    const char *image_name;
    /* cdf_core_complete only (output capture, TraceConfig.output_capture_bytes): the buffer the
     * lower driver filled, _In_reads_bytes_opt_(output_length): the METHOD_BUFFERED SystemBuffer
     * of a device control, or a read's buffer mapped in system space; NULL (no capture) when the
     * host cannot read it safely. The core reads at most min(information, output_length,
     * capture cap) bytes of it, never for CDF_RQ_KERNEL_MODE requests, internal device controls
     * or device controls whose method is not METHOD_BUFFERED. Ignored by cdf_core_dispatch. */
    const uint8_t *output;
} cdf_request;

typedef enum cdf_action {
    CDF_ACTION_FORWARD = 0,        /* send and forget, no completion routine, no record */
    CDF_ACTION_FORWARD_TRACK = 1,  /* format, send with a completion routine, then cdf_core_complete */
    CDF_ACTION_COMPLETE = 2        /* complete it now with verdict.status, Information 0; do not forward */
} cdf_action;

/* What the core decided at dispatch. The host keeps it with the request (e.g. in the WDF
 * request context) and hands it back unchanged to cdf_core_complete. Hosts read action, status
 * and simple_unlocks only; the rest is the core's note to itself for the completion. */
typedef struct cdf_verdict {
    cdf_action action;
    uint32_t status;              /* CDF_ACTION_COMPLETE: the NTSTATUS to complete with */
    uint32_t simple_unlocks;      /* IRP_MJ_CLOSE under enforce: send this many
                                     IOCTL_STORAGE_MEDIA_REMOVAL(FALSE) below before the close,
                                     then call cdf_core_simple_unlocks_done */
    uint8_t op;                   /* core-private: ledger operation to apply at completion */
    uint8_t decision;             /* core-private: trace.proto Decision of the dispatch record */
    uint8_t reason;               /* core-private: trace.proto Reason of the dispatch record */
    uint8_t flags;                /* core-private: how the completion finds the owner */
    uint64_t request_id;          /* pairs the dispatch and completion records */
    uint64_t dispatched_at;       /* 100 ns monotonic */
    uint64_t handle_id;           /* core-private */
    uint32_t handle_slot;         /* core-private: handle table hint for the completion */
    uint32_t normalized;          /* core-private: the normalized code, for the completion record */
} cdf_verdict;

/* Decide what to do with a request reaching drive_id. Never fails: an unknown drive gives
 * CDF_ACTION_FORWARD. Writes the dispatch record (and any decision/auto-release records).
 * rq->input: the METHOD_BUFFERED/DIRECT SystemBuffer only (never a METHOD_NEITHER user pointer).
 * CDF_ACTION_COMPLETE statuses (docs/core.md has the full table): STATUS_INFO_LENGTH_MISMATCH
 * (media-lock IOCTL with less than 1 byte of input), STATUS_INVALID_HANDLE (secure request
 * without a file object), STATUS_INVALID_DEVICE_STATE (enforce: foreign secure unlock),
 * STATUS_DEVICE_BUSY (enforce: eject or pass-through eject/allow under another owner's secure
 * lock), STATUS_INSUFFICIENT_RESOURCES (enforce: secure lock from a handle the full handle table
 * could not track). verdict.simple_unlocks (IRP_MJ_CLOSE under enforce): the host sends that
 * many IOCTL_STORAGE_MEDIA_REMOVAL(FALSE) below itself, without passing them through
 * cdf_core_dispatch, and reports how many succeeded with cdf_core_simple_unlocks_done before it
 * forwards the close (the ledger is not changed at dispatch).
 * IRP_MJ_INTERNAL_DEVICE_CONTROL: only major, minor, file object and ids are used or recorded
 * (the stack location holds an SRB pointer, not a code and lengths). */
void cdf_core_dispatch(cdf_core *core, uint32_t drive_id, const cdf_request *rq, cdf_verdict *v);

/* After sending the verdict.simple_unlocks IOCTL_STORAGE_MEDIA_REMOVAL(FALSE) of a close:
 * succeeded = how many completed with an NT_SUCCESS status, failure_status = the NTSTATUS of the
 * first that failed (ignored when none did). The ledger drops `succeeded` simple locks (the
 * closing handle's first) and moves the handle's remaining ones to the drive's orphan count,
 * as cdrom.sys still counts them. Records: LEAK_RELEASE / RELEASE / SIMPLE_LOCK_LEAK with
 * count_released = the locks released (when any), and, when some failed, LEAK_RELEASE / PASS /
 * SIMPLE_LOCK_LEAK with count_released = the locks left held and status = failure_status.
 * Nothing happens when verdict.simple_unlocks is 0. A host that never calls it leaves the
 * handle's simple locks to the close's completion, which moves them to the orphan count. */
void cdf_core_simple_unlocks_done(cdf_core *core, uint32_t drive_id, const cdf_request *rq,
                                  const cdf_verdict *v, uint32_t succeeded, uint32_t failure_status);

/* Report the final status and Information of a CDF_ACTION_FORWARD_TRACK request (or of a
 * CDF_ACTION_COMPLETE one, to record its completion). Applies the ledger change only when
 * status is a success code. Writes the completion record; its `information` is bounded by the
 * request's own buffer length (device control: output_length, read: the read length, write:
 * the write length), a create disposition (0..5) for create/cleanup/close, else 0. */
void cdf_core_complete(cdf_core *core, uint32_t drive_id, const cdf_request *rq,
                       const cdf_verdict *v, uint32_t status, uint64_t information);

/* Granted access bits of a control-device handle (CTL_CODE access is checked against these). */
#define CDF_ACCESS_READ  0x1u  /* FILE_READ_DATA */
#define CDF_ACCESS_WRITE 0x2u  /* FILE_WRITE_DATA */

/* CDF_ACCESS_* of an access mask as IRP_MJ_CREATE asked for it (winnt.h: FILE_READ_DATA,
 * FILE_WRITE_DATA, GENERIC_READ, GENERIC_WRITE, GENERIC_ALL, MAXIMUM_ALLOWED). One source for
 * every host (simulator, Wine host). */
uint32_t cdf_access_from_mask(uint32_t desired_access);
/* The I/O manager's check of a CTL_CODE's required access (wdm.h FILE_READ_ACCESS,
 * FILE_WRITE_ACCESS) against CDF_ACCESS_* granted bits: nonzero when the IOCTL may be sent. */
int cdf_ioctl_access_allowed(uint32_t code, uint32_t granted);

/* Handle one control IOCTL (codes in gen/cdfilter_ioctl.h). METHOD_BUFFERED: in and out may be
 * the same SystemBuffer; the whole request is decoded before any reply byte is written.
 * Returns the NTSTATUS and *out_len (bytes written, only meaningful on success):
 *   STATUS_SUCCESS, STATUS_INVALID_DEVICE_REQUEST (unknown code), STATUS_ACCESS_DENIED
 *   (access bits not granted), STATUS_INVALID_PARAMETER (malformed protobuf or a value out of
 *   range, e.g. an unknown drive id or policy), STATUS_BUFFER_TOO_SMALL (out_cap cannot hold
 *   the reply; for trace reads: not even one record), STATUS_PENDING (WaitTrace with nothing
 *   after the cursor: park the request, call again after the notify callback fires; nothing
 *   was written). */
uint32_t cdf_control_dispatch(cdf_core *core, uint32_t ioctl_code, uint32_t granted_access,
                              const uint8_t *in, uint32_t in_len,
                              uint8_t *out, uint32_t out_cap, uint32_t *out_len);

/* cdrom.sys NormalizeIoctl: CDROM/DISK/DVD/TAPE/SCSI-base codes with function 0x200..0x300 are
 * rebased onto IOCTL_STORAGE_BASE (e.g. 0x24804 -> 0x2D4804); other codes are returned as is.
 * (Addition: for hosts and tests that name codes the way the core sees them.) */
uint32_t cdf_normalize_ioctl(uint32_t code);

/* Self-check for tests and stress runs: every drive's totals equal the sums over its handles,
 * no count wrapped, ring cursors consistent. Returns 0 when consistent, else a nonzero code. */
int cdf_core_check_invariants(cdf_core *core);

#endif /* CDF_CORE_H */
