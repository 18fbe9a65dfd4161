/*
 * simcd.h - a simulated cdrom.sys: the lower device under the filter in the simulator and in the
 * Wine kernel host.
 *
 * It models, rule by rule, what Microsoft's CD-ROM class driver sample does for every request the
 * filter cares about (microsoft/Windows-driver-samples, storage/class/cdrom/src at the
 * win11-22h2 branch: cdrom.c, ioctl.c, common.c, sense.c, autorun.c, cdromp.h) over a simulated
 * MMC drive: three lock counts per device (LockCount, ProtectedLockCount, the MCN disable count),
 * a FILE_OBJECT_CONTEXT per file object KMDF saw created (its secure lock count and MCN-disable
 * count), the drive's PREVENT ALLOW MEDIUM REMOVAL state, the tray, the media (with an open UDF
 * session on write-once media), exclusive access, SCSI pass-through, surprise removal, and a log
 * of the commands that reached the drive. docs/simulator.md lists every rule with the function it
 * models and every deliberate difference.
 *
 * Kernel-safe C11: no libc beyond memcpy/memset, no VLAs, no recursion, no allocation after
 * simcd_create (cdf_mem_reserve), locking through cdf_platform.h. Every entry point is
 * thread-safe (one cdf_lock per drive) and callable at IRQL <= DISPATCH_LEVEL except
 * simcd_create/simcd_destroy (PASSIVE_LEVEL).
 *
 * A file object is named by an opaque nonzero key chosen by the host (0 = no file object);
 * the key is only compared, never dereferenced. Control codes and NTSTATUS values are the
 * core's (driver/core/cdf_nt.h).
 */
#ifndef SIMCD_H
#define SIMCD_H

#include <stddef.h>
#include <stdint.h>

typedef struct simcd simcd;

/* simcd_ioctl flags */
#define SIMCD_FLAG_CALLER_32BIT 0x1u /* WOW64 caller: 32-bit SCSI_PASS_THROUGH layout (44 bytes;
                                        SCSI_PASS_THROUGH_EX: 52) */
#define SIMCD_FLAG_KERNEL_MODE  0x2u /* Irp->RequestorMode == KernelMode (WdfRequestGetRequestorMode) */

/* The physical and class-driver view of one drive (see cdfsim_drive_state). Fields are only
 * ever appended. */
typedef struct simcd_state {
    uint32_t media_present;     /* a disc is in the drive (it may sit in an open tray) */
    uint32_t tray_open;
    uint32_t hw_prevent;        /* the drive's PREVENT ALLOW MEDIUM REMOVAL state (0/1) */
    uint32_t connected;
    uint32_t secure_total;      /* cdrom's ProtectedLockCount */
    uint32_t simple_total;      /* cdrom's LockCount */
    uint32_t mcn_total;         /* MediaChangeDetectionDisableCount */
    uint32_t exclusive_locked;  /* IOCTL_CDROM_EXCLUSIVE_ACCESS held by a file object */
    uint64_t reads;             /* IRP_MJ_READ completed successfully */
    uint64_t ejects;            /* successful ejects (IOCTL or pass-through) */
    uint32_t open_files;        /* file object contexts in use */
    uint32_t fault_pending;     /* a simcd_fail_next status waits for the next request */
    uint32_t surprise_removed;  /* DeviceEvtSurpriseRemoval ran */
    uint32_t volume_mounted;    /* IsVolumeMounted: a file system is mounted on the device */
    uint32_t session_open;      /* write-once media with an open (not closed) session */
    uint32_t media_change_count;/* MediaChangeCount returned by IOCTL_STORAGE_CHECK_VERIFY */
    uint32_t commands;          /* commands that reached the drive (simcd_get_commands seq) */
    uint32_t kernel_mcn;        /* KernelModeMcnContext.McnDisableCount */
} simcd_state;

/* Reserve a drive with room for max_files file object contexts (1..65536): media present, tray
 * closed, connected, no locks. NULL when the platform cannot reserve the memory or max_files is
 * out of range. PASSIVE_LEVEL. */
simcd *simcd_create(uint32_t max_files);
void simcd_destroy(simcd *d);

/* IRP_MJ_CREATE (cdrom.c CreateQueueEvtIoDefault): give file object fo (nonzero) a zeroed
 * FILE_OBJECT_CONTEXT. STATUS_SUCCESS; STATUS_INVALID_PARAMETER for fo 0;
 * STATUS_INSUFFICIENT_RESOURCES when every context is in use; STATUS_DEVICE_DOES_NOT_EXIST after
 * surprise removal. A fo already known keeps its context (success). */
uint32_t simcd_create_file(simcd *d, uintptr_t fo);
/* IRP_MJ_CLEANUP: cdrom registers no cleanup callback (cdrom.c DriverEvtDeviceAdd,
 * WDF_FILEOBJECT_CONFIG_INIT), so nothing changes. STATUS_SUCCESS. */
uint32_t simcd_cleanup(simcd *d, uintptr_t fo);
/* IRP_MJ_CLOSE (cdrom.c DeviceEvtFileClose) of a file object KMDF saw created: releases its
 * secure locks (DeviceCleanupProtectedLocks: ALLOW is sent when ProtectedLockCount and LockCount
 * are both zero, its status ignored), its MCN disables (DeviceCleanupDisableMcn) and its
 * exclusive access (DeviceUnlockExclusive), then frees the context. Simple locks are NOT
 * released. A file object KMDF never saw gets no callback. Never consumes a pending fault.
 * STATUS_SUCCESS. */
uint32_t simcd_close(simcd *d, uintptr_t fo);

/* IRP_MJ_DEVICE_CONTROL, METHOD_BUFFERED. in: _In_reads_bytes_opt_(in_len); out:
 * _Out_writes_bytes_opt_(out_cap) (may be the same buffer as in: every input byte is read before
 * the first output byte is written). *information receives IoStatus.Information.
 * flags: SIMCD_FLAG_*. Statuses: docs/simulator.md (a pending simcd_fail_next fault first, then
 * cdrom.c DeviceEvtIoInCallerContext's order: exclusive access, NormalizeIoctl, validation, the
 * serialized handler). A fo KMDF never saw created is "no file object" for cdrom. */
uint32_t simcd_ioctl(simcd *d, uintptr_t fo, uint32_t code, uint32_t flags,
                     const uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap,
                     uint32_t *information);
/* IRP_MJ_READ of length bytes at offset (bytes) (cdrom.c SequentialQueueEvtIoReadWrite,
 * ioctl.c RequestValidateReadWrite): exclusive access (STATUS_ACCESS_DENIED), length 0 succeeds
 * without I/O, both multiples of 2048 (else STATUS_INVALID_DEVICE_REQUEST), then a READ command:
 * STATUS_NO_MEDIA_IN_DEVICE without a ready medium. *information = length. */
uint32_t simcd_read(simcd *d, uintptr_t fo, uint64_t offset, uint32_t length,
                    uint32_t *information);

/* Fault injection (a test tool, not cdrom): the next simcd_ioctl or simcd_read on this drive
 * fails with status (without changing anything). status 0 clears a pending fault. */
void simcd_fail_next(simcd *d, uint32_t status);

/* Kinds of drive command, for the command log and targeted faults. */
#define SIMCD_CMD_ANY      0u
#define SIMCD_CMD_PREVENT  1u  /* PREVENT ALLOW MEDIUM REMOVAL, Prevent=1 */
#define SIMCD_CMD_ALLOW    2u  /* PREVENT ALLOW MEDIUM REMOVAL, Prevent=0 */
#define SIMCD_CMD_EJECT    3u  /* START STOP UNIT LoEj=1 Start=0 */
#define SIMCD_CMD_LOAD     4u  /* START STOP UNIT LoEj=1 Start=1 */
#define SIMCD_CMD_TUR      5u  /* TEST UNIT READY */
#define SIMCD_CMD_READ     6u  /* READ(10) */
#define SIMCD_CMD_CLOSE_SESSION 7u /* CLOSE TRACK/SESSION */
#define SIMCD_CMD_OTHER    8u  /* any other CDB (pass-through) */
#define SIMCD_CMD_KINDS    9u

/* Where a command came from. */
#define SIMCD_ORIGIN_IOCTL        1u /* a class-driver IOCTL handler (PerformEjectionControl, ...) */
#define SIMCD_ORIGIN_PASS_THROUGH 2u /* the caller's own CDB (IOCTL_SCSI_PASS_THROUGH*) */
#define SIMCD_ORIGIN_CLOSE        3u /* DeviceEvtFileClose -> DeviceCleanupProtectedLocks */
#define SIMCD_ORIGIN_READ         4u /* IRP_MJ_READ */

/* One command that reached the drive. */
typedef struct simcd_command {
    uint32_t seq;      /* 1, 2, ... per drive */
    uint8_t kind;      /* SIMCD_CMD_* */
    uint8_t opcode;    /* CDB byte 0 */
    uint8_t byte4;     /* CDB byte 4 (START STOP UNIT LoEj/Start, PREVENT ALLOW Prevent/Persistent) */
    uint8_t origin;    /* SIMCD_ORIGIN_* */
    uint32_t status;   /* NTSTATUS the class driver got for it */
    uint8_t sense_key; /* 0 when the command succeeded */
    uint8_t asc;
    uint8_t ascq;
    uint8_t reserved;
} simcd_command;

/* The last commands (up to 64 are kept) with seq > after_seq, oldest first, at most cap of them.
 * *count receives how many were written. */
void simcd_get_commands(simcd *d, uint32_t after_seq, simcd_command *out, uint32_t cap,
                        uint32_t *count);
/* Targeted fault: the nth (1-based, counted from this call) command of kind (SIMCD_CMD_*) that
 * reaches the drive fails with status (the NTSTATUS the class driver then sees; nothing changes
 * in the drive). nth 0 or status 0 clears it. STATUS_INVALID_PARAMETER for an unknown kind. */
uint32_t simcd_fail_command(simcd *d, uint32_t kind, uint32_t nth, uint32_t status);

/* present != 0: a disc is inserted and the tray closed; present == 0: the disc is taken out (the
 * tray stays as it is). Either counts as a media change (MediaChangeCount). */
void simcd_set_media(simcd *d, uint32_t present);
/* The drive stops answering (SRB_STATUS_SELECTION_TIMEOUT: commands fail with
 * STATUS_DEVICE_NOT_CONNECTED, sense.c SenseInfoInterpretBySrbStatus) or answers again. */
void simcd_set_connected(simcd *d, uint32_t connected);
/* The device is surprise-removed (cdrom.c DeviceEvtSurpriseRemoval): commands fail
 * (SRB_STATUS_NO_DEVICE) and every failed request completes with STATUS_DEVICE_DOES_NOT_EXIST
 * (common.c RequestCompletion). Not undone. */
void simcd_surprise_remove(simcd *d);
/* A file system is (not) mounted on the device (IsVolumeMounted, checked by
 * RequestHandleExclusiveAccessLockDevice). */
void simcd_set_volume_mounted(simcd *d, uint32_t mounted);
/* The disc in the drive is write-once media with an open session (1) or closed/ROM media (0). */
void simcd_set_session_open(simcd *d, uint32_t open);
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

/* cdrom.c RequestIsIoctlBlockedByExclusiveAccess (the raw, not yet normalized code): nonzero
 * when a non-owner's IOCTL is refused with STATUS_ACCESS_DENIED under exclusive access. */
int simcd_exclusive_blocks(uint32_t code);

/* cdrom's NormalizeIoctl: the core's cdf_normalize_ioctl (CDROM, SCSI, DISK, TAPE or DVD base
 * with function 0x200..0x300 onto IOCTL_STORAGE_BASE, keeping function, method and access), so
 * the filter and the lower device never disagree on a code. */
uint32_t simcd_normalize_ioctl(uint32_t code);

#endif /* SIMCD_H */
