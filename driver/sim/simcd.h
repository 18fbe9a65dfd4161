/*
 * simcd.h - a simulated cdrom.sys: the lower device under the filter in the simulator and in the
 * Wine kernel host.
 *
 * It models what the in-box CD-ROM class driver does for every request the filter cares about
 * (BRIEF §3, seed 003 "IOCTL_STORAGE_EJECTION_CONTROL", microsoft/Windows-driver-samples
 * storage/class/cdrom): three lock counts per device (simple, secure/protected, MCN-disable), a
 * FILE_OBJECT_CONTEXT per file object (its secure lock count and MCN-disable count), the
 * hardware PREVENT ALLOW MEDIUM REMOVAL state, the tray, the media, exclusive access and SCSI
 * pass-through of START STOP UNIT / PREVENT ALLOW MEDIUM REMOVAL. docs/simulator.md states every
 * rule and every simplification.
 *
 * Kernel-safe C11: no libc beyond memcpy/memset, no VLAs, no recursion, no allocation after
 * simcd_create (cdf_mem_reserve), locking through cdf_platform.h. Every entry point is
 * thread-safe (one cdf_lock per drive) and callable at IRQL <= DISPATCH_LEVEL except
 * simcd_create/simcd_destroy (PASSIVE_LEVEL).
 *
 * A file object is named by an opaque nonzero key chosen by the host (0 = no file object);
 * the key is only compared, never dereferenced.
 */
#ifndef SIMCD_H
#define SIMCD_H

#include <stddef.h>
#include <stdint.h>

typedef struct simcd simcd;

/* simcd_ioctl flags */
#define SIMCD_FLAG_CALLER_32BIT 0x1u /* WOW64 caller: 32-bit SCSI_PASS_THROUGH layout (44 bytes;
                                        SCSI_PASS_THROUGH_EX: 52) */

/* The physical and class-driver view of one drive (see cdfsim_drive_state). */
typedef struct simcd_state {
    uint32_t media_present;     /* a disc is in the drive (it may sit in an open tray) */
    uint32_t tray_open;
    uint32_t hw_prevent;        /* the drive's PREVENT ALLOW MEDIUM REMOVAL state (0/1) */
    uint32_t connected;
    uint32_t secure_total;      /* cdrom's ProtectedLockCount */
    uint32_t simple_total;      /* cdrom's LockCount */
    uint32_t mcn_total;         /* MCN disable count */
    uint32_t exclusive_locked;  /* IOCTL_CDROM_EXCLUSIVE_ACCESS held by a file object */
    uint64_t reads;             /* IRP_MJ_READ completed successfully */
    uint64_t ejects;            /* successful ejects (IOCTL or pass-through) */
    uint32_t open_files;        /* file object contexts in use */
    uint32_t fault_pending;     /* a simcd_fail_next status waits for the next request */
} simcd_state;

/* Reserve a drive with room for max_files file object contexts (1..65536): media present, tray
 * closed, connected, no locks. NULL when the platform cannot reserve the memory or max_files is
 * out of range. PASSIVE_LEVEL. */
simcd *simcd_create(uint32_t max_files);
void simcd_destroy(simcd *d);

/* IRP_MJ_CREATE: give file object fo (nonzero) a zeroed FILE_OBJECT_CONTEXT.
 * STATUS_SUCCESS; STATUS_INVALID_PARAMETER for fo 0; STATUS_INSUFFICIENT_RESOURCES when every
 * context is in use. A fo already known keeps its context (success). */
uint32_t simcd_create_file(simcd *d, uintptr_t fo);
/* IRP_MJ_CLEANUP: cdrom registers no cleanup callback, so nothing changes. STATUS_SUCCESS. */
uint32_t simcd_cleanup(simcd *d, uintptr_t fo);
/* IRP_MJ_CLOSE (DeviceEvtFileClose): releases the file object's secure locks
 * (DeviceCleanupProtectedLocks) and MCN disables (DeviceCleanupDisableMcn) and its exclusive
 * access, then frees the context. Simple locks are NOT released. When the combined lock total
 * falls to zero the drive gets ALLOW MEDIUM REMOVAL (best effort: with no media or disconnected
 * the hardware state stays as it was). Never consumes a pending fault. STATUS_SUCCESS. */
uint32_t simcd_close(simcd *d, uintptr_t fo);

/* IRP_MJ_DEVICE_CONTROL, METHOD_BUFFERED. in: _In_reads_bytes_opt_(in_len); out:
 * _Out_writes_bytes_opt_(out_cap) (may be the same buffer as in: every input byte is read before
 * the first output byte is written). *information receives IoStatus.Information (bytes written).
 * Statuses: see docs/simulator.md; in short a pending fault first, then STATUS_DEVICE_NOT_CONNECTED,
 * then STATUS_ACCESS_DENIED under another file object's exclusive access, then the IOCTL's own
 * rules; an IOCTL the model does not know: STATUS_INVALID_DEVICE_REQUEST. */
uint32_t simcd_ioctl(simcd *d, uintptr_t fo, uint32_t code, uint32_t flags,
                     const uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap,
                     uint32_t *information);
/* IRP_MJ_READ of length bytes at offset (bytes): both multiples of 2048 (else
 * STATUS_INVALID_PARAMETER); media needed (STATUS_NO_MEDIA_IN_DEVICE). *information = length. */
uint32_t simcd_read(simcd *d, uintptr_t fo, uint64_t offset, uint32_t length,
                    uint32_t *information);

/* Fault injection: the next simcd_ioctl or simcd_read on this drive fails with status (without
 * changing anything). status 0 clears a pending fault. */
void simcd_fail_next(simcd *d, uint32_t status);
/* present != 0: a disc is inserted and the tray closed; present == 0: the disc is taken out (the
 * tray stays as it is). */
void simcd_set_media(simcd *d, uint32_t present);
void simcd_set_connected(simcd *d, uint32_t connected);
void simcd_get_state(simcd *d, simcd_state *out);

/* The lower device's view of one file object (cdrom's FILE_OBJECT_CONTEXT); zeros for an
 * unknown fo. */
typedef struct simcd_file_state {
    uint32_t known;
    uint32_t secure_count;
    uint32_t mcn_count;
    uint32_t exclusive;
} simcd_file_state;
void simcd_get_file_state(simcd *d, uintptr_t fo, simcd_file_state *out);

/* Control codes the model implements (CTL_CODE values from ntddstor.h / ntddcdrm.h /
 * ntddscsi.h; the CDROM/DISK/DVD aliases with function 0x200-0x300 are normalized onto the
 * storage base as cdrom's NormalizeIoctl does). */
#define SIMCD_IOCTL_STORAGE_CHECK_VERIFY      0x002D4800u
#define SIMCD_IOCTL_STORAGE_CHECK_VERIFY2     0x002D0800u
#define SIMCD_IOCTL_STORAGE_MEDIA_REMOVAL     0x002D4804u
#define SIMCD_IOCTL_STORAGE_EJECT_MEDIA       0x002D4808u
#define SIMCD_IOCTL_STORAGE_LOAD_MEDIA        0x002D480Cu
#define SIMCD_IOCTL_STORAGE_LOAD_MEDIA2       0x002D080Cu
#define SIMCD_IOCTL_STORAGE_EJECTION_CONTROL  0x002D0940u
#define SIMCD_IOCTL_STORAGE_MCN_CONTROL       0x002D0944u
#define SIMCD_IOCTL_CDROM_EXCLUSIVE_ACCESS    0x0002C05Cu
#define SIMCD_IOCTL_SCSI_PASS_THROUGH         0x0004D004u
#define SIMCD_IOCTL_SCSI_PASS_THROUGH_DIRECT  0x0004D014u
#define SIMCD_IOCTL_SCSI_PASS_THROUGH_EX      0x0004D044u  /* Windows SDK ntddscsi.h */
#define SIMCD_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX 0x0004D048u

/* cdrom's NormalizeIoctl: the core's cdf_normalize_ioctl (CDROM, SCSI, DISK, TAPE or DVD base
 * with function 0x200..0x300 onto IOCTL_STORAGE_BASE, keeping function, method and access), so
 * the filter and the lower device never disagree on a code. */
uint32_t simcd_normalize_ioctl(uint32_t code);

#endif /* SIMCD_H */
