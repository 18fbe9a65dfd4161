/*
 * cdfsim.h - the simulated CD-ROM stack as a host shared library (build/libcdfsim.so).
 *
 * A DeviceIoControl-shaped C ABI loaded by Node through koffi. It hosts driver/core as the
 * upper filter over a simulated cdrom.sys lower device (driver/sim/simcd.c) that behaves like
 * the in-box class driver for every request the filter cares about (docs/simulator.md).
 * Every function returns an NTSTATUS (uint32) unless stated otherwise. Thread-safe: calls may
 * come concurrently from Node's main thread and koffi's async worker threads.
 */
#ifndef CDFSIM_H
#define CDFSIM_H

#include <stdint.h>

typedef struct cdfsim cdfsim;

#define CDFSIM_CONTROL_DEVICE 0u      /* drive index 0 opens \\.\CdFilter; drives are 1..N */

/* Access masks a simulated open can ask for (winnt.h values). */
#define CDFSIM_FILE_READ_DATA       0x0001u
#define CDFSIM_FILE_WRITE_DATA      0x0002u
#define CDFSIM_FILE_READ_ATTRIBUTES 0x0080u
#define CDFSIM_GENERIC_READ         0x80000000u
#define CDFSIM_GENERIC_WRITE        0x40000000u

/* Create a stack with drive_count drives (1..16) named CdRom0.. (ids 1..N), media present,
 * tray closed, policy observe, trace ring of ring_bytes (0 = default 1 MiB). NULL on failure. */
cdfsim *cdfsim_create(uint32_t drive_count, uint32_t ring_bytes);
/* cdfsim_create with a core that holds only core_drives (1..drive_count) of them, as the KMDF
 * filter's core holds 16 drives however many the machine has: drives core_drives+1..N are
 * simulated and reachable, but the core could not register them (cdf_core_add_untracked_drive:
 * a DRIVE_NOT_TRACKED record each, listed in DrivesReply.untracked) and their I/O passes
 * untraced. NULL on failure. */
cdfsim *cdfsim_create_ex(uint32_t drive_count, uint32_t core_drives, uint32_t ring_bytes);
void cdfsim_destroy(cdfsim *sim);

/* Open drive (1..N) or the control device (0) as process pid with image name image.
 * *handle receives a nonzero simulated handle. STATUS_OBJECT_NAME_NOT_FOUND for an unknown drive. */
uint32_t cdfsim_open(cdfsim *sim, uint32_t drive, uint32_t pid, const char *image,
                     uint32_t desired_access, uint64_t *handle);
/* DeviceIoControl on a handle: the I/O manager's CTL_CODE access check, then the filter, then the
 * lower device. *returned receives IoStatus.Information (bytes written to out).
 * STATUS_INVALID_HANDLE for an unknown handle. WaitTrace blocks until a record arrives, the
 * handle is cancelled (cdfsim_cancel) or cleaned up: then STATUS_CANCELLED. */
uint32_t cdfsim_ioctl(cdfsim *sim, uint64_t handle, uint32_t code,
                      const void *in, uint32_t in_len, void *out, uint32_t out_cap,
                      uint32_t *returned);
/* A device control with no file object, as a kernel component sends it
 * (IoBuildDeviceIoControlRequest on the drive's device object), on behalf of process pid.
 * in_len and out_cap are at most 4096 bytes (else STATUS_INVALID_PARAMETER);
 * STATUS_OBJECT_NAME_NOT_FOUND for an unknown drive. */
uint32_t cdfsim_ioctl_no_file(cdfsim *sim, uint32_t drive, uint32_t pid, uint32_t code,
                              const void *in, uint32_t in_len, void *out, uint32_t out_cap,
                              uint32_t *returned);
/* ReadFile of length bytes at offset (bytes) from a drive handle; data is discarded. */
uint32_t cdfsim_read(cdfsim *sim, uint64_t handle, uint64_t offset, uint32_t length,
                     uint32_t *returned);
/* CancelIoEx: complete every blocked call on the handle with STATUS_CANCELLED. */
uint32_t cdfsim_cancel(cdfsim *sim, uint64_t handle);
/* IRP_MJ_CLEANUP then IRP_MJ_CLOSE (CloseHandle). */
uint32_t cdfsim_close(cdfsim *sim, uint64_t handle);
/* IRP_MJ_CLEANUP only / IRP_MJ_CLOSE only: for tests of "close without cleanup" (Wine, crash). */
uint32_t cdfsim_cleanup_only(cdfsim *sim, uint64_t handle);
uint32_t cdfsim_close_only(cdfsim *sim, uint64_t handle);
/* The process exits: every handle it still has gets cleanup + close (flagged as process exit).
 * *closed receives the number of handles closed. */
uint32_t cdfsim_process_exit(cdfsim *sim, uint32_t pid, uint32_t *closed);

/* Fault injection and physical state. */
uint32_t cdfsim_fail_next(cdfsim *sim, uint32_t drive, uint32_t status); /* next lower request fails */
uint32_t cdfsim_set_media(cdfsim *sim, uint32_t drive, uint32_t present);
uint32_t cdfsim_set_connected(cdfsim *sim, uint32_t drive, uint32_t connected);

/* The lower (class driver) device's own view, for tests comparing it with the filter's ledger. */
typedef struct cdfsim_drive_state {
    uint32_t media_present;
    uint32_t tray_open;
    uint32_t hw_prevent;        /* PREVENT ALLOW MEDIUM REMOVAL state of the drive */
    uint32_t connected;
    uint32_t secure_total;      /* cdrom's protected lock count */
    uint32_t simple_total;      /* cdrom's simple lock count */
    uint32_t mcn_total;         /* MCN disable count */
    uint32_t exclusive_locked;  /* exclusive access held by a handle */
    uint64_t reads;             /* IRP_MJ_READ completed */
    uint64_t ejects;            /* successful ejects */
    /* appended fields (simcd_state) */
    uint32_t open_files;        /* cdrom FILE_OBJECT_CONTEXTs in use */
    uint32_t surprise_removed;  /* cdfsim_surprise_remove ran */
    uint32_t volume_mounted;    /* a file system is mounted (cdfsim_open_volume) */
    uint32_t session_open;      /* write-once media with an open session */
    uint32_t media_change_count;/* MediaChangeCount (IOCTL_STORAGE_CHECK_VERIFY output) */
    uint32_t commands;          /* commands that reached the drive (last seq) */
    uint32_t kernel_mcn;        /* MCN disables held by kernel-mode requests without a file object */
    uint32_t reserved;
} cdfsim_drive_state;
uint32_t cdfsim_drive_state_get(cdfsim *sim, uint32_t drive, cdfsim_drive_state *out);

/* ---- QA test surface (docs/client.md "Simulator test surface") ---- */

/* A device control with no file object from a requestor of the given mode (kernel_mode 1:
 * Irp->RequestorMode == KernelMode, as cdfsim_ioctl_no_file; 0: UserMode). Same limits as
 * cdfsim_ioctl_no_file. */
uint32_t cdfsim_ioctl_no_file_mode(cdfsim *sim, uint32_t drive, uint32_t pid, uint32_t kernel_mode,
                                   uint32_t code, const void *in, uint32_t in_len, void *out,
                                   uint32_t out_cap, uint32_t *returned);
/* DuplicateHandle: a second handle (for process pid) on the same file object. Closing a handle
 * sends IRP_MJ_CLEANUP and IRP_MJ_CLOSE only when it is the file object's last handle.
 * STATUS_INVALID_HANDLE for an unknown handle. */
uint32_t cdfsim_duplicate(cdfsim *sim, uint64_t handle, uint32_t pid, uint64_t *duplicate);
/* Open a handle on the volume a file system mounted on drive (UDF over write-once media with an
 * open session): the create goes to the file system, so neither the filter nor cdrom sees it,
 * and the file object reaches the filter only with the IOCTLs the file system forwards; its
 * cleanup and close stay in the file system too. The first open mounts the volume
 * (IsVolumeMounted). STATUS_NO_MEDIA_IN_DEVICE without a ready medium. */
uint32_t cdfsim_open_volume(cdfsim *sim, uint32_t drive, uint32_t pid, const char *image,
                            uint32_t desired_access, uint64_t *handle);
/* Dismount the file system of drive (the volume handles stay open but stale). */
uint32_t cdfsim_dismount(cdfsim *sim, uint32_t drive);
/* Surprise removal of drive (distinct from cdfsim_set_connected 0). Not undone. */
uint32_t cdfsim_surprise_remove(cdfsim *sim, uint32_t drive);
/* Put write-once media with an open session (open 1) or ROM-compatible media (0) in drive. */
uint32_t cdfsim_set_session_open(cdfsim *sim, uint32_t drive, uint32_t open);
/* Targeted fault: the nth (1-based, from now) command of kind (simcd.h SIMCD_CMD_*, 0 = any)
 * reaching drive fails with status. nth 0 clears. STATUS_INVALID_PARAMETER for a bad kind. */
uint32_t cdfsim_fail_command(cdfsim *sim, uint32_t drive, uint32_t kind, uint32_t nth, uint32_t status);
/* One command that reached a drive (simcd_command). */
typedef struct cdfsim_command {
    uint32_t seq;
    uint8_t kind;      /* SIMCD_CMD_* */
    uint8_t opcode;    /* CDB byte 0 */
    uint8_t byte4;     /* CDB byte 4 */
    uint8_t origin;    /* SIMCD_ORIGIN_*: 1 IOCTL handler, 2 pass-through, 3 close, 4 read */
    uint32_t status;   /* NTSTATUS the class driver got */
    uint8_t sense_key;
    uint8_t asc;
    uint8_t ascq;
    uint8_t reserved;
} cdfsim_command;
/* The drive's command log: entries with seq > after_seq (the last 64 are kept), oldest first,
 * at most cap; *count receives how many. */
uint32_t cdfsim_commands(cdfsim *sim, uint32_t drive, uint32_t after_seq, cdfsim_command *out,
                         uint32_t cap, uint32_t *count);

/* Traffic generator for benchmarks and stress: count IRP_MJ_READs of length bytes (a multiple
 * of 2048) at offsets 0, 2048, 4096, ... on a drive handle, each through the whole path (access
 * check, filter dispatch, lower device, filter completion), without a call from Node per read.
 * Stops at the first failure and returns its NTSTATUS; *completed receives the reads that
 * succeeded. STATUS_INVALID_HANDLE for an unknown handle, STATUS_INVALID_DEVICE_REQUEST for the
 * control device, STATUS_ACCESS_DENIED without read access. (Added by the simulator area.) */
uint32_t cdfsim_burst(cdfsim *sim, uint64_t handle, uint32_t count, uint32_t length,
                      uint32_t *completed);

/* The simulator's own clock is the core's: 100 ns monotonic. */
uint64_t cdfsim_now(cdfsim *sim);

#endif /* CDFSIM_H */
