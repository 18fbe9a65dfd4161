/*
 * simcd.c - the simulated cdrom.sys (see simcd.h; docs/simulator.md lists every rule).
 *
 * Every rule names the function of Microsoft's CD-ROM class driver sample it models
 * (microsoft/Windows-driver-samples, storage/class/cdrom/src, win11-22h2 branch; "cdrom.c X"
 * below means storage/class/cdrom/src/cdrom.c, function X) or, for the drive itself, the MMC
 * behaviour the class driver's sense interpretation (sense.c) expects. KMDF's part (which file
 * object a request carries) follows microsoft/Windows-Driver-Frameworks
 * src/framework/shared/core/fxfileobject.cpp FxFileObject::_GetFileObjectFromWdm.
 * Kernel-safe: memcpy/memset only, no allocation after simcd_create, one cdf_lock per drive.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cdf_core.h"
#include "cdf_nt.h"
#include "cdf_platform.h"
#include "simcd.h"

/* Values cdf_nt.h does not carry (the core never needs them). Sources: ntstatus.h, ntddstor.h,
 * ntddscsi.h, Windows SDK ntddcdrm.h. */
#define SC_STATUS_DEVICE_DOES_NOT_EXIST       0xC00000C0u
#define SC_IOCTL_STORAGE_CHECK_VERIFY2        CDF_CTL_CODE(0x2Du, 0x200u, 0u, 0u) /* 0x2D0800 */
#define SC_IOCTL_STORAGE_LOAD_MEDIA2          CDF_CTL_CODE(0x2Du, 0x203u, 0u, 0u) /* 0x2D080C */
#define SC_IOCTL_STORAGE_GET_MEDIA_TYPES_EX   CDF_CTL_CODE(0x2Du, 0x301u, 0u, 0u) /* 0x2D0C04 */
#define SC_IOCTL_STORAGE_GET_HOTPLUG_INFO     CDF_CTL_CODE(0x2Du, 0x305u, 0u, 0u) /* 0x2D0C14 */
#define SC_IOCTL_STORAGE_GET_DEVICE_NUMBER    CDF_CTL_CODE(0x2Du, 0x420u, 0u, 0u) /* 0x2D1080 */
#define SC_IOCTL_STORAGE_QUERY_PROPERTY       CDF_CTL_CODE(0x2Du, 0x500u, 0u, 0u) /* 0x2D1400 */
#define SC_IOCTL_SCSI_GET_ADDRESS             CDF_CTL_CODE(0x04u, 0x406u, 0u, 0u) /* 0x041018 */
#define SC_IOCTL_CDROM_GET_INQUIRY_DATA       CDF_CTL_CODE(0x02u, 0x019u, 0u, 1u) /* 0x024064 */

/* STORAGE_PROPERTY_QUERY (ntddstor.h): PropertyId, QueryType (enums), AdditionalParameters[1]. */
#define SC_PROPERTY_QUERY_BYTES 12u
#define SC_PROPERTY_STANDARD_QUERY 0u
#define SC_PROPERTY_EXISTS_QUERY   1u
#define SC_STORAGE_DEVICE_PROPERTY  0u
#define SC_STORAGE_ADAPTER_PROPERTY 1u

#define SC_SECTOR_BYTES 2048u

/* CDROM_EXCLUSIVE_ACCESS (ntddcdrm.h): RequestType (ULONG enum), Flags (ULONG). */
#define SC_EXCL_HEADER_BYTES   8u
#define SC_EXCL_CALLER_BYTES   64u  /* CDROM_EXCLUSIVE_CALLER_LENGTH */
#define SC_EXCL_LOCK_BYTES     (SC_EXCL_HEADER_BYTES + SC_EXCL_CALLER_BYTES) /* CDROM_EXCLUSIVE_LOCK */
#define SC_EXCL_STATE_BYTES    (1u + SC_EXCL_CALLER_BYTES) /* CDROM_EXCLUSIVE_LOCK_STATE */
#define SC_CDROM_LOCK_IGNORE_VOLUME 0x1u /* CDROM_EXCLUSIVE_ACCESS.Flags */

/* SCSI_PASS_THROUGH (ntddscsi.h): the CDB sits after a ULONG_PTR field, so offsets differ for
 * 64-bit and WOW64 callers. SCSI_PASS_THROUGH_DIRECT has the same layout. */
#define SC_SPT_SCSI_STATUS_OFFSET 2u
#define SC_SPT_CDB_LENGTH_OFFSET  6u
#define SC_SPT_SENSE_LENGTH_OFFSET 7u
#define SC_SPT_SENSE_OFFSET_64    32u
#define SC_SPT_CDB_OFFSET_64      36u
#define SC_SPT_SIZE_64            56u
#define SC_SPT_SENSE_OFFSET_32    24u
#define SC_SPT_CDB_OFFSET_32      28u
#define SC_SPT_SIZE_32            44u
/* SCSI_PASS_THROUGH_EX (Windows SDK ntddscsi.h): Version, Length, CdbLength, StorAddressLength,
 * ScsiStatus (16), SenseInfoLength (17), ..., SenseInfoOffset (28), two ULONG_PTR, Cdb[]. */
#define SC_SPTEX_LENGTH_OFFSET      4u
#define SC_SPTEX_CDB_LENGTH_OFFSET  8u
#define SC_SPTEX_SCSI_STATUS_OFFSET 16u
#define SC_SPTEX_SENSE_LENGTH_OFFSET 17u
#define SC_SPTEX_SENSE_OFFSET       28u
#define SC_SPTEX_CDB_OFFSET_64      56u
#define SC_SPTEX_SIZE_64            64u
#define SC_SPTEX_CDB_OFFSET_32      48u
#define SC_SPTEX_SIZE_32            52u

/* SCSI (scsi.h, SPC, MMC) */
#define SC_SCSIOP_TEST_UNIT_READY   0x00u
#define SC_SCSIOP_READ10            0x28u
#define SC_SCSIOP_CLOSE_TRACK_SESSION 0x5Bu
#define SC_SCSISTAT_GOOD            0x00u
#define SC_SCSISTAT_CHECK_CONDITION 0x02u
#define SC_SENSE_NOT_READY          0x02u
#define SC_SENSE_ILLEGAL_REQUEST    0x05u
#define SC_ASC_NO_MEDIA             0x3Au  /* MEDIUM NOT PRESENT (ASCQ 1 tray closed, 2 open) */
#define SC_ASC_REMOVAL_PREVENTED    0x53u  /* ASCQ 2: MEDIUM REMOVAL PREVENTED */
#define SC_ASC_SEQUENCE_ERROR       0x2Cu  /* COMMAND SEQUENCE ERROR */
#define SC_FIXED_SENSE_BYTES        18u

#define SC_LOG_ENTRIES 64u

typedef struct simcd_file {
    uintptr_t key;        /* 0 = free slot */
    uint32_t secure_count; /* FILE_OBJECT_CONTEXT.LockCount */
    uint32_t mcn_count;    /* FILE_OBJECT_CONTEXT.McnDisableCount */
} simcd_file;

struct simcd {
    cdf_lock lock;
    uint32_t max_files;
    uint32_t open_files;
    simcd_file *files;    /* _Field_size_(max_files) */
    uint8_t media_present;
    uint8_t tray_open;
    uint8_t hw_prevent;     /* MMC Prevent state (PREVENT ALLOW MEDIUM REMOVAL Persistent=0) */
    uint8_t hw_persistent;  /* MMC Persistent Prevent state (Persistent=1); blocks only the
                               drive's eject button, which the model has none of */
    uint8_t connected;
    uint8_t removed;        /* CDROM_DEVICE_EXTENSION.SurpriseRemoved */
    uint8_t volume_mounted; /* IsVolumeMounted */
    uint8_t session_open;   /* write-once media, session not closed */
    uint32_t secure_total;  /* ProtectedLockCount */
    uint32_t simple_total;  /* LockCount */
    uint32_t mcn_total;     /* MediaChangeDetectionDisableCount */
    uint32_t kernel_mcn;    /* KernelModeMcnContext.McnDisableCount */
    uint32_t media_change_count; /* MediaChangeCount */
    uint32_t fault_status;
    uint8_t fault_pending;
    uint8_t cmd_fault_kind;
    uint32_t cmd_fault_left; /* 0 = no targeted fault */
    uint32_t cmd_fault_status;
    uintptr_t exclusive_owner;  /* CDROM_DATA.ExclusiveOwner; 0 = not exclusively locked */
    uint8_t exclusive_caller[SC_EXCL_CALLER_BYTES];
    uint64_t reads;
    uint64_t ejects;
    uint32_t cmd_seq;
    simcd_command log[SC_LOG_ENTRIES];
};

/* What the drive answered: a transport status (not connected, removed, injected) or, for a
 * CHECK CONDITION, its sense bytes; status is what the class driver makes of it. */
typedef struct sc_result {
    uint32_t status;
    uint8_t key;
    uint8_t asc;
    uint8_t ascq;
} sc_result;

simcd *simcd_create(uint32_t max_files)
{
    simcd *d;
    if (max_files == 0 || max_files > 65536u) {
        return NULL;
    }
    d = (simcd *)cdf_mem_reserve(sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->files = (simcd_file *)cdf_mem_reserve((size_t)max_files * sizeof(simcd_file));
    if (d->files == NULL) {
        cdf_mem_release(d);
        return NULL;
    }
    cdf_lock_init(&d->lock);
    d->max_files = max_files;
    d->media_present = 1;
    d->connected = 1;
    return d;
}

void simcd_destroy(simcd *d)
{
    if (d == NULL) {
        return;
    }
    cdf_lock_destroy(&d->lock);
    cdf_mem_release(d->files);
    cdf_mem_release(d);
}

uint32_t simcd_normalize_ioctl(uint32_t code)
{
    return cdf_normalize_ioctl(code); /* one NormalizeIoctl for the filter and the lower device */
}

static uint32_t read_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* KMDF WdfRequestGetFileObject for cdrom's WdfFileObjectWdfCannotUseFsContexts class: the
 * WDFFILEOBJECT made at IRP_MJ_CREATE, or NULL for no file object or one whose create KMDF never
 * saw (a volume file object a file system forwards): FxFileObject::_GetFileObjectFromWdm finds
 * nothing in the device's list and the class is not "optional". Caller holds d->lock. */
static simcd_file *wdf_file(simcd *d, uintptr_t fo)
{
    uint32_t i;
    if (fo == 0) {
        return NULL;
    }
    for (i = 0; i < d->max_files; i++) {
        if (d->files[i].key == fo) {
            return &d->files[i];
        }
    }
    return NULL;
}

static uint8_t media_ready(const simcd *d)
{
    return (uint8_t)(d->media_present && !d->tray_open);
}

static uint8_t command_kind(uint8_t opcode, uint8_t byte4)
{
    switch (opcode) {
    case CDF_SCSIOP_MEDIUM_REMOVAL:
        return (byte4 & 0x01u) ? (uint8_t)SIMCD_CMD_PREVENT : (uint8_t)SIMCD_CMD_ALLOW;
    case CDF_SCSIOP_START_STOP_UNIT:
        if ((byte4 & 0xF0u) == 0u && (byte4 & 0x02u)) {
            return (byte4 & 0x01u) ? (uint8_t)SIMCD_CMD_LOAD : (uint8_t)SIMCD_CMD_EJECT;
        }
        return (uint8_t)SIMCD_CMD_OTHER;
    case SC_SCSIOP_TEST_UNIT_READY:
        return (uint8_t)SIMCD_CMD_TUR;
    case SC_SCSIOP_READ10:
        return (uint8_t)SIMCD_CMD_READ;
    case SC_SCSIOP_CLOSE_TRACK_SESSION:
        return (uint8_t)SIMCD_CMD_CLOSE_SESSION;
    default:
        return (uint8_t)SIMCD_CMD_OTHER;
    }
}

/* The class driver's reading of a CHECK CONDITION (sense.c): NOT READY / MEDIUM NOT PRESENT is
 * STATUS_NO_MEDIA_IN_DEVICE (SenseInfoInterpretByAdditionalSenseCode); any other ILLEGAL
 * REQUEST, MEDIUM REMOVAL PREVENTED included (no ASC case for 0x53), is
 * STATUS_INVALID_DEVICE_REQUEST (SenseInfoInterpretBySenseKey). */
static void check_condition(sc_result *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
    r->key = key;
    r->asc = asc;
    r->ascq = ascq;
    if (key == SC_SENSE_NOT_READY && asc == SC_ASC_NO_MEDIA) {
        r->status = CDF_STATUS_NO_MEDIA_IN_DEVICE;
    } else if (key == SC_SENSE_ILLEGAL_REQUEST) {
        r->status = CDF_STATUS_INVALID_DEVICE_REQUEST;
    } else {
        r->status = CDF_STATUS_IO_DEVICE_ERROR;
    }
}

static void no_medium(const simcd *d, sc_result *r)
{
    check_condition(r, SC_SENSE_NOT_READY, SC_ASC_NO_MEDIA, d->tray_open ? 0x02u : 0x01u);
}

/* One command reaches the drive (what the port driver and the MMC drive do with a CDB), and is
 * logged. Transport failures first: a surprise-removed device answers SRB_STATUS_NO_DEVICE
 * (sense.c SenseInfoInterpretBySrbStatus: STATUS_NO_SUCH_DEVICE), a drive that does not answer
 * SRB_STATUS_SELECTION_TIMEOUT (STATUS_DEVICE_NOT_CONNECTED); then a targeted fault; then the
 * drive's own answer. Caller holds d->lock. */
static void drive_exec(simcd *d, uint8_t origin, uint8_t opcode, uint8_t byte4, sc_result *r)
{
    uint8_t kind = command_kind(opcode, byte4);
    simcd_command *e;
    memset(r, 0, sizeof(*r));
    r->status = CDF_STATUS_SUCCESS;
    if (d->removed) {
        r->status = CDF_STATUS_NO_SUCH_DEVICE;
    } else if (!d->connected) {
        r->status = CDF_STATUS_DEVICE_NOT_CONNECTED;
    } else if (d->cmd_fault_left != 0u &&
               (d->cmd_fault_kind == SIMCD_CMD_ANY || d->cmd_fault_kind == kind) &&
               --d->cmd_fault_left == 0u) {
        r->status = d->cmd_fault_status;
    } else {
        switch (kind) {
        case SIMCD_CMD_PREVENT:
        case SIMCD_CMD_ALLOW:
            /* MMC: bit 1 Persistent selects which state bit 0 (Prevent) sets or clears */
            if (byte4 & 0x02u) {
                d->hw_persistent = (uint8_t)(byte4 & 0x01u);
            } else if (!media_ready(d)) {
                no_medium(d, r);
            } else {
                d->hw_prevent = (uint8_t)(byte4 & 0x01u);
            }
            break;
        case SIMCD_CMD_LOAD:
            if (d->tray_open) {
                d->tray_open = 0;
                if (d->media_present) {
                    d->media_change_count++;
                }
            }
            break;
        case SIMCD_CMD_EJECT:
            /* MMC: in the Prevent state an eject is ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED */
            if (d->hw_prevent) {
                check_condition(r, SC_SENSE_ILLEGAL_REQUEST, SC_ASC_REMOVAL_PREVENTED, 0x02u);
            } else if (!d->tray_open) {
                d->tray_open = 1;
                d->ejects++;
                if (d->media_present) {
                    d->media_change_count++;
                }
            }
            break;
        case SIMCD_CMD_TUR:
        case SIMCD_CMD_READ:
            if (!media_ready(d)) {
                no_medium(d, r);
            }
            break;
        case SIMCD_CMD_CLOSE_SESSION:
            if (!media_ready(d)) {
                no_medium(d, r);
            } else if (!d->session_open) {
                check_condition(r, SC_SENSE_ILLEGAL_REQUEST, SC_ASC_SEQUENCE_ERROR, 0x00u);
            } else {
                d->session_open = 0; /* the media is now ROM compatible */
            }
            break;
        default:
            break; /* START STOP UNIT without LoEj or with a power condition: no tray motion */
        }
    }
    d->cmd_seq++;
    e = &d->log[d->cmd_seq % SC_LOG_ENTRIES];
    memset(e, 0, sizeof(*e));
    e->seq = d->cmd_seq;
    e->kind = kind;
    e->opcode = opcode;
    e->byte4 = byte4;
    e->origin = origin;
    e->status = r->status;
    e->sense_key = r->key;
    e->asc = r->asc;
    e->ascq = r->ascq;
}

static uint32_t drive_status(simcd *d, uint8_t origin, uint8_t opcode, uint8_t byte4)
{
    sc_result r;
    drive_exec(d, origin, opcode, byte4, &r);
    return r.status;
}

/* common.c PerformEjectionControl for SimpleMediaLock and SecureMediaLock: the secure type needs
 * a file object (STATUS_INVALID_HANDLE); a secure unlock from a file object holding none is
 * STATUS_INVALID_DEVICE_STATE; a simple unlock at zero changes nothing and succeeds; the
 * PREVENT ALLOW MEDIUM REMOVAL command is sent only when the total flips between zero and
 * non-zero, with Prevent = the caller's BOOLEAN assigned to a one-bit field (so 0x02 locks the
 * count but sends Prevent=0); counts are committed only if that command succeeded. No overflow
 * check in cdrom (LONG counts): the model refuses at UINT32_MAX (docs/simulator.md). */
static uint32_t perform_ejection_control(simcd *d, simcd_file *f, uint8_t secure, uint8_t lock)
{
    uint32_t new_simple = d->simple_total;
    uint32_t new_secure = d->secure_total;
    uint8_t changed = 0;
    uint32_t st = CDF_STATUS_SUCCESS;
    if (secure && f == NULL) {
        return CDF_STATUS_INVALID_HANDLE;
    }
    if (lock) {
        if ((secure ? new_secure : new_simple) == UINT32_MAX) {
            return CDF_STATUS_INVALID_DEVICE_STATE;
        }
        if (secure) {
            new_secure++;
        } else {
            new_simple++;
        }
        changed = 1;
    } else if (secure) {
        if (f->secure_count == 0u || new_secure == 0u) {
            return CDF_STATUS_INVALID_DEVICE_STATE;
        }
        new_secure--;
        changed = 1;
    } else if (new_simple != 0u) {
        new_simple--;
        changed = 1;
    }
    if (((d->simple_total + d->secure_total) != 0u) != ((new_simple + new_secure) != 0u)) {
        st = drive_status(d, SIMCD_ORIGIN_IOCTL, CDF_SCSIOP_MEDIUM_REMOVAL, (uint8_t)(lock & 0x01u));
    }
    if (changed && CDF_NT_SUCCESS(st)) {
        d->simple_total = new_simple;
        d->secure_total = new_secure;
        if (secure) {
            if (lock) {
                f->secure_count++;
            } else {
                f->secure_count--;
            }
        }
    }
    return st;
}

/* autorun.c RequestHandleMcnControl: the file object's context, or for a kernel-mode request
 * without one the device's KernelModeMcnContext; a user-mode request without a file object is
 * STATUS_INVALID_PARAMETER. A disable always counts (DeviceDisableMediaChangeDetection); an
 * enable with the context's count at zero is STATUS_INVALID_DEVICE_STATE. No device I/O. */
static uint32_t mcn_control(simcd *d, simcd_file *f, uint8_t kernel, uint8_t disable)
{
    uint32_t *count;
    if (f != NULL) {
        count = &f->mcn_count;
    } else if (kernel) {
        count = &d->kernel_mcn;
    } else {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    if (disable) {
        if (d->mcn_total == UINT32_MAX) {
            return CDF_STATUS_INVALID_DEVICE_STATE;
        }
        (*count)++;
        d->mcn_total++;
        return CDF_STATUS_SUCCESS;
    }
    if (*count == 0u) {
        return CDF_STATUS_INVALID_DEVICE_STATE;
    }
    (*count)--;
    d->mcn_total--;
    return CDF_STATUS_SUCCESS;
}

/* ioctl.c RequestHandleLoadEjectMedia: EJECT, LOAD and LOAD2 alike are STATUS_DEVICE_BUSY while
 * ProtectedLockCount is non-zero (no device I/O); otherwise START STOP UNIT LoEj=1 with Start=0
 * (eject) or Start=1 (load) goes to the drive. */
static uint32_t load_eject(simcd *d, uint8_t load)
{
    if (d->secure_total != 0u) {
        return CDF_STATUS_DEVICE_BUSY;
    }
    return drive_status(d, SIMCD_ORIGIN_IOCTL, CDF_SCSIOP_START_STOP_UNIT, load ? 0x03u : 0x02u);
}

/* cdrom.c RequestDispatchToSequentialQueue (an output buffer of 1..3 bytes is
 * STATUS_BUFFER_TOO_SMALL with Information sizeof(ULONG)) and ioctl.c RequestHandleCheckVerify
 * (TEST UNIT READY; IOCTL_STORAGE_CHECK_VERIFY with an output buffer returns MediaChangeCount). */
static uint32_t check_verify(simcd *d, uint32_t normalized, uint8_t *out, uint32_t out_cap,
                             uint32_t *info)
{
    uint32_t st;
    if (out_cap > 0u && out_cap < 4u) {
        *info = 4u;
        return CDF_STATUS_BUFFER_TOO_SMALL;
    }
    st = drive_status(d, SIMCD_ORIGIN_IOCTL, SC_SCSIOP_TEST_UNIT_READY, 0u);
    if (CDF_NT_SUCCESS(st) && normalized == CDF_IOCTL_STORAGE_CHECK_VERIFY && out != NULL &&
        out_cap >= 4u) {
        uint32_t c = d->media_change_count;
        out[0] = (uint8_t)c;
        out[1] = (uint8_t)(c >> 8);
        out[2] = (uint8_t)(c >> 16);
        out[3] = (uint8_t)(c >> 24);
        *info = 4u;
    }
    return st;
}

/* cdrom.h ValidChar: digits, letters and " .,:;_-". */
static int valid_char(uint8_t c)
{
    uint8_t lower = (uint8_t)(c | 0x20u);
    return (c >= '0' && c <= '9') || (lower >= 'a' && lower <= 'z') || c == ' ' || c == '.' ||
           c == ',' || c == ':' || c == ';' || c == '_' || c == '-';
}

static void exclusive_release(simcd *d)
{
    d->exclusive_owner = 0;
    memset(d->exclusive_caller, 0, SC_EXCL_CALLER_BYTES);
}

/* IOCTL_CDROM_EXCLUSIVE_ACCESS: ioctl.c RequestValidateExclusiveAccess (input shorter than
 * CDROM_EXCLUSIVE_ACCESS or a lock shorter than CDROM_EXCLUSIVE_LOCK: STATUS_INFO_LENGTH_MISMATCH;
 * a query with less than CDROM_EXCLUSIVE_LOCK_STATE of output: STATUS_BUFFER_TOO_SMALL; an
 * unknown type: STATUS_INVALID_PARAMETER), then RequestHandleExclusiveAccessQueryLockState,
 * RequestHandleExclusiveAccessLockDevice (no file object: STATUS_INVALID_HANDLE; caller name
 * empty, unterminated or with a character ValidChar refuses: STATUS_INVALID_PARAMETER; a mounted
 * volume without CDROM_LOCK_IGNORE_VOLUME: STATUS_INVALID_DEVICE_STATE; already locked, even by
 * the same file object: STATUS_ACCESS_DENIED) and RequestHandleExclusiveAccessUnlockDevice ->
 * common.c DeviceUnlockExclusive (no file object or not the owner: STATUS_INVALID_HANDLE; not
 * locked: STATUS_INVALID_DEVICE_REQUEST). No device I/O. */
static uint32_t exclusive_access(simcd *d, simcd_file *f, const uint8_t *in, uint32_t in_len,
                                 uint8_t *out, uint32_t out_cap, uint32_t *information)
{
    uint32_t type;
    uint32_t n;
    if (in == NULL || in_len < SC_EXCL_HEADER_BYTES) {
        return CDF_STATUS_INFO_LENGTH_MISMATCH;
    }
    type = read_u32le(in);
    if (type == CDF_EXCLUSIVE_ACCESS_QUERY_STATE) {
        uint8_t locked = (uint8_t)(d->exclusive_owner != 0);
        if (out == NULL || out_cap < SC_EXCL_STATE_BYTES) {
            *information = SC_EXCL_STATE_BYTES;
            return CDF_STATUS_BUFFER_TOO_SMALL;
        }
        out[0] = locked;
        memcpy(out + 1, d->exclusive_caller, SC_EXCL_CALLER_BYTES); /* zeros when unlocked */
        *information = SC_EXCL_STATE_BYTES;
        return CDF_STATUS_SUCCESS;
    }
    if (type == CDF_EXCLUSIVE_ACCESS_LOCK_DEVICE) {
        uint8_t caller[SC_EXCL_CALLER_BYTES];
        if (in_len < SC_EXCL_LOCK_BYTES) {
            return CDF_STATUS_INFO_LENGTH_MISMATCH;
        }
        if (f == NULL) {
            return CDF_STATUS_INVALID_HANDLE;
        }
        memcpy(caller, in + SC_EXCL_HEADER_BYTES, SC_EXCL_CALLER_BYTES);
        for (n = 0; n < SC_EXCL_CALLER_BYTES && caller[n] != 0u; n++) {
            if (!valid_char(caller[n])) {
                return CDF_STATUS_INVALID_PARAMETER;
            }
        }
        if (n == 0u || n >= SC_EXCL_CALLER_BYTES) {
            return CDF_STATUS_INVALID_PARAMETER;
        }
        if ((read_u32le(in + 4) & SC_CDROM_LOCK_IGNORE_VOLUME) == 0u && d->volume_mounted) {
            return CDF_STATUS_INVALID_DEVICE_STATE;
        }
        if (d->exclusive_owner != 0) {
            return CDF_STATUS_ACCESS_DENIED;
        }
        d->exclusive_owner = f->key;
        memset(d->exclusive_caller, 0, SC_EXCL_CALLER_BYTES);
        memcpy(d->exclusive_caller, caller, n + 1u);
        return CDF_STATUS_SUCCESS;
    }
    if (type == CDF_EXCLUSIVE_ACCESS_UNLOCK_DEVICE) {
        if (f == NULL) {
            return CDF_STATUS_INVALID_HANDLE;
        }
        if (d->exclusive_owner == 0) {
            return CDF_STATUS_INVALID_DEVICE_REQUEST;
        }
        if (d->exclusive_owner != f->key) {
            return CDF_STATUS_INVALID_HANDLE;
        }
        exclusive_release(d);
        return CDF_STATUS_SUCCESS;
    }
    return CDF_STATUS_INVALID_PARAMETER;
}

/* IOCTL_SCSI_PASS_THROUGH[_DIRECT][_EX]: cdrom.c RequestDispatchSpecialIoctls checks only that
 * the input holds the structure (SCSI_PASS_THROUGH32[_EX] for a WOW64 caller; else
 * STATUS_INVALID_PARAMETER), then ioctl.c RequestHandleScsiPassThrough sends the request to the
 * port driver as it is, whatever cdrom's counts say (the gap an ownership-enforcing filter
 * closes). The port driver's checks: SPT: USHORT Length == structure size, CdbLength 1..16; EX:
 * Version 0 (else STATUS_REVISION_MISMATCH), Length == structure size, CdbLength >= 1 with the CDB
 * inside the input. The drive then executes the CDB. A CHECK CONDITION is not an I/O error: the
 * request completes with STATUS_SUCCESS, ScsiStatus CHECK CONDITION and fixed-format sense data
 * at SenseInfoOffset (SenseInfoLength updated); transport failures fail the request. */
static uint32_t scsi_pass_through(simcd *d, uint32_t normalized, uint32_t flags, const uint8_t *in,
                                  uint32_t in_len, uint8_t *out, uint32_t out_cap, uint32_t *information)
{
    int caller32 = (flags & SIMCD_FLAG_CALLER_32BIT) != 0u;
    int ex = normalized == CDF_IOCTL_SCSI_PASS_THROUGH_EX ||
             normalized == CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX;
    uint32_t cdb_offset, size, status_at, sense_len_at, sense_off_at, cdb_length;
    uint8_t opcode, byte4, sense_cap, sense_n = 0;
    uint32_t sense_offset;
    sc_result r;
    if (ex) {
        cdb_offset = caller32 ? SC_SPTEX_CDB_OFFSET_32 : SC_SPTEX_CDB_OFFSET_64;
        size = caller32 ? SC_SPTEX_SIZE_32 : SC_SPTEX_SIZE_64;
        status_at = SC_SPTEX_SCSI_STATUS_OFFSET;
        sense_len_at = SC_SPTEX_SENSE_LENGTH_OFFSET;
        sense_off_at = SC_SPTEX_SENSE_OFFSET;
    } else {
        cdb_offset = caller32 ? SC_SPT_CDB_OFFSET_32 : SC_SPT_CDB_OFFSET_64;
        size = caller32 ? SC_SPT_SIZE_32 : SC_SPT_SIZE_64;
        status_at = SC_SPT_SCSI_STATUS_OFFSET;
        sense_len_at = SC_SPT_SENSE_LENGTH_OFFSET;
        sense_off_at = caller32 ? SC_SPT_SENSE_OFFSET_32 : SC_SPT_SENSE_OFFSET_64;
    }
    if (in == NULL || in_len < size) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    if (ex) {
        if (read_u32le(in) != 0u) {
            return CDF_STATUS_REVISION_MISMATCH;
        }
        if (read_u32le(in + SC_SPTEX_LENGTH_OFFSET) != size) {
            return CDF_STATUS_INVALID_PARAMETER;
        }
        cdb_length = read_u32le(in + SC_SPTEX_CDB_LENGTH_OFFSET);
        if (cdb_length < 1u || cdb_length > in_len - cdb_offset) {
            return CDF_STATUS_INVALID_PARAMETER;
        }
    } else {
        if (((uint32_t)in[0] | ((uint32_t)in[1] << 8)) != size) {
            return CDF_STATUS_INVALID_PARAMETER;
        }
        cdb_length = in[SC_SPT_CDB_LENGTH_OFFSET];
        if (cdb_length < 1u || cdb_length > 16u) {
            return CDF_STATUS_INVALID_PARAMETER;
        }
    }
    opcode = in[cdb_offset];
    /* the device receives a padded packet: bytes past CdbLength inside the input are sent too */
    byte4 = cdb_offset + 4u < in_len ? in[cdb_offset + 4u] : 0u;
    sense_cap = in[sense_len_at];
    sense_offset = read_u32le(in + sense_off_at);
    drive_exec(d, SIMCD_ORIGIN_PASS_THROUGH, opcode, byte4, &r);
    if (r.key == 0u && !CDF_NT_SUCCESS(r.status)) {
        return r.status; /* transport failure: no SCSI status to report */
    }
    if (out == NULL || out_cap < size) {
        return CDF_STATUS_SUCCESS; /* nothing can come back; Information 0 */
    }
    /* METHOD_BUFFERED: the header comes back with ScsiStatus (and sense) filled in. */
    if (out != in) {
        memcpy(out, in, size);
    }
    *information = size;
    if (r.key != 0u) {
        out[status_at] = SC_SCSISTAT_CHECK_CONDITION;
        if (sense_cap != 0u && sense_offset >= size && sense_offset < out_cap) {
            uint8_t sense[SC_FIXED_SENSE_BYTES];
            uint32_t room = out_cap - sense_offset;
            memset(sense, 0, sizeof(sense));
            sense[0] = 0x70u; /* current error, fixed format */
            sense[2] = r.key;
            sense[7] = SC_FIXED_SENSE_BYTES - 8u;
            sense[12] = r.asc;
            sense[13] = r.ascq;
            sense_n = sense_cap < SC_FIXED_SENSE_BYTES ? sense_cap : (uint8_t)SC_FIXED_SENSE_BYTES;
            if (sense_n > room) {
                sense_n = (uint8_t)room;
            }
            memcpy(out + sense_offset, sense, sense_n);
            *information = sense_offset + sense_n;
        }
        out[sense_len_at] = sense_n;
    } else {
        out[status_at] = SC_SCSISTAT_GOOD;
        out[sense_len_at] = 0u;
    }
    return CDF_STATUS_SUCCESS;
}

int simcd_exclusive_blocks(uint32_t code)
{
    uint32_t base = CDF_CTL_DEVICE_TYPE(code);
    /* cdrom.c RequestIsIoctlBlockedByExclusiveAccess: the minimum set disk management needs, then
     * IOCTL_STORAGE_QUERY_PROPERTY (never blocked here: RequestDispatchSpecialIoctls decides),
     * then every other code of the SCSI, disk, CD-ROM, storage and DVD bases. */
    if (code == SC_IOCTL_SCSI_GET_ADDRESS || code == SC_IOCTL_STORAGE_GET_HOTPLUG_INFO ||
        code == SC_IOCTL_STORAGE_GET_DEVICE_NUMBER || code == SC_IOCTL_STORAGE_GET_MEDIA_TYPES_EX ||
        code == CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS || code == SC_IOCTL_CDROM_GET_INQUIRY_DATA ||
        code == SC_IOCTL_STORAGE_QUERY_PROPERTY) {
        return 0;
    }
    return base == CDF_FILE_DEVICE_CONTROLLER || base == CDF_FILE_DEVICE_DISK ||
           base == CDF_FILE_DEVICE_CD_ROM || base == CDF_FILE_DEVICE_MASS_STORAGE ||
           base == CDF_FILE_DEVICE_DVD;
}

/* Caller holds d->lock. Consumes a pending simcd_fail_next fault: nonzero and *st if one fired. */
static uint8_t take_fault(simcd *d, uint32_t *st)
{
    if (!d->fault_pending) {
        return 0;
    }
    d->fault_pending = 0;
    *st = d->fault_status;
    return 1;
}

/* common.c RequestCompletion: after surprise removal every failure is reported as
 * STATUS_DEVICE_DOES_NOT_EXIST (for IMAPI). */
static uint32_t completion_status(const simcd *d, uint32_t st)
{
    return (d->removed && !CDF_NT_SUCCESS(st)) ? SC_STATUS_DEVICE_DOES_NOT_EXIST : st;
}

/* Caller holds d->lock: cdrom.c DeviceEvtIoInCallerContext from its exclusive-access check on. */
static uint32_t dispatch_ioctl(simcd *d, uintptr_t fo, uint32_t code, uint32_t flags,
                               const uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap,
                               uint32_t *info)
{
    simcd_file *f = wdf_file(d, fo);
    uint8_t owner = (uint8_t)(f != NULL && d->exclusive_owner == f->key);
    uint32_t normalized;
    /* DeviceEvtIoInCallerContext: EXCLUSIVE_MODE && !EXCLUSIVE_OWNER, on the raw code */
    if (d->exclusive_owner != 0 && !owner && simcd_exclusive_blocks(code)) {
        return CDF_STATUS_ACCESS_DENIED;
    }
    normalized = simcd_normalize_ioctl(code);
    switch (normalized) {
    case CDF_IOCTL_STORAGE_MEDIA_REMOVAL:
    case CDF_IOCTL_STORAGE_EJECTION_CONTROL:
        /* RequestDispatchToSequentialQueue, then ioctl.c RequestHandleEjectionControl */
        if (in == NULL || in_len < 1u) {
            return CDF_STATUS_INFO_LENGTH_MISMATCH;
        }
        return perform_ejection_control(d, f, (uint8_t)(normalized == CDF_IOCTL_STORAGE_EJECTION_CONTROL),
                                        in[0]);
    case CDF_IOCTL_STORAGE_MCN_CONTROL:
        if (in == NULL || in_len < 1u) {
            return CDF_STATUS_INFO_LENGTH_MISMATCH; /* RequestDispatchToSequentialQueue */
        }
        return mcn_control(d, f, (uint8_t)((flags & SIMCD_FLAG_KERNEL_MODE) != 0u), (uint8_t)(in[0] != 0u));
    case CDF_IOCTL_STORAGE_EJECT_MEDIA:
    case CDF_IOCTL_STORAGE_LOAD_MEDIA:
    case SC_IOCTL_STORAGE_LOAD_MEDIA2:
        return load_eject(d, (uint8_t)(normalized != CDF_IOCTL_STORAGE_EJECT_MEDIA));
    case CDF_IOCTL_STORAGE_CHECK_VERIFY:
    case SC_IOCTL_STORAGE_CHECK_VERIFY2:
        return check_verify(d, normalized, out, out_cap, info);
    case CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS: /* RequestDispatchSyncWithSequentialQueue */
        return exclusive_access(d, f, in, in_len, out, out_cap, info);
    case CDF_IOCTL_SCSI_PASS_THROUGH:
    case CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT:
    case CDF_IOCTL_SCSI_PASS_THROUGH_EX:
    case CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX:
        return scsi_pass_through(d, normalized, flags, in, in_len, out, out_cap, info);
    case SC_IOCTL_STORAGE_QUERY_PROPERTY:
        /* RequestDispatchSpecialIoctls: a non-owner under exclusive access gets only
         * PropertyExistsQuery and the cached device/adapter descriptors; the property data
         * itself is not modelled (the port driver model answers as for any unknown IOCTL). */
        if (in == NULL || in_len < SC_PROPERTY_QUERY_BYTES) {
            return CDF_STATUS_INFO_LENGTH_MISMATCH;
        }
        if (d->exclusive_owner != 0 && !owner) {
            uint32_t id = read_u32le(in);
            uint32_t qt = read_u32le(in + 4);
            if (!(qt == SC_PROPERTY_EXISTS_QUERY ||
                  (qt == SC_PROPERTY_STANDARD_QUERY &&
                   (id == SC_STORAGE_DEVICE_PROPERTY || id == SC_STORAGE_ADAPTER_PROPERTY)))) {
                return CDF_STATUS_ACCESS_DENIED;
            }
        }
        return CDF_STATUS_INVALID_DEVICE_REQUEST;
    default:
        /* RequestDispatchUnknownRequests -> RequestHandleUnknownIoctl: the port driver, whose
         * model knows no other IOCTL. */
        return CDF_STATUS_INVALID_DEVICE_REQUEST;
    }
}

uint32_t simcd_ioctl(simcd *d, uintptr_t fo, uint32_t code, uint32_t flags,
                     const uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap,
                     uint32_t *information)
{
    uint32_t st;
    uint32_t info = 0;
    cdf_lock_acquire(&d->lock);
    if (!take_fault(d, &st)) {
        st = completion_status(d, dispatch_ioctl(d, fo, code, flags, in, in_len, out, out_cap, &info));
    }
    cdf_lock_release(&d->lock);
    if (information != NULL) {
        /* Information is reported for success and warnings, and with STATUS_BUFFER_TOO_SMALL
         * (the size needed, RequestCompletion's dataLength) */
        *information = (CDF_NT_SUCCESS(st) || st == CDF_STATUS_BUFFER_TOO_SMALL) ? info : 0u;
    }
    return st;
}

uint32_t simcd_read(simcd *d, uintptr_t fo, uint64_t offset, uint32_t length,
                    uint32_t *information)
{
    uint32_t st = CDF_STATUS_SUCCESS;
    cdf_lock_acquire(&d->lock);
    if (!take_fault(d, &st)) {
        simcd_file *f = wdf_file(d, fo);
        /* cdrom.c SequentialQueueEvtIoReadWrite, ioctl.c RequestValidateReadWrite */
        if (d->exclusive_owner != 0 && (f == NULL || f->key != d->exclusive_owner)) {
            st = CDF_STATUS_ACCESS_DENIED;
        } else if (length == 0u) {
            st = CDF_STATUS_SUCCESS;
        } else if ((offset % SC_SECTOR_BYTES) != 0 || (length % SC_SECTOR_BYTES) != 0) {
            st = CDF_STATUS_INVALID_DEVICE_REQUEST;
        } else {
            st = drive_status(d, SIMCD_ORIGIN_READ, SC_SCSIOP_READ10, 0u);
            if (CDF_NT_SUCCESS(st)) {
                d->reads++;
            }
        }
        st = completion_status(d, st);
    }
    cdf_lock_release(&d->lock);
    if (information != NULL) {
        *information = CDF_NT_SUCCESS(st) ? length : 0u;
    }
    return st;
}

uint32_t simcd_create_file(simcd *d, uintptr_t fo)
{
    uint32_t st = CDF_STATUS_SUCCESS;
    uint32_t i;
    if (fo == 0) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    cdf_lock_acquire(&d->lock);
    if (d->removed) {
        st = SC_STATUS_DEVICE_DOES_NOT_EXIST; /* the create sent down fails; RequestCompletion */
    } else if (wdf_file(d, fo) == NULL) {
        /* cdrom.c CreateQueueEvtIoDefault: a zeroed FILE_OBJECT_CONTEXT */
        st = CDF_STATUS_INSUFFICIENT_RESOURCES;
        for (i = 0; i < d->max_files; i++) {
            if (d->files[i].key == 0) {
                memset(&d->files[i], 0, sizeof(d->files[i]));
                d->files[i].key = fo;
                d->open_files++;
                st = CDF_STATUS_SUCCESS;
                break;
            }
        }
    }
    cdf_lock_release(&d->lock);
    return st;
}

uint32_t simcd_cleanup(simcd *d, uintptr_t fo)
{
    (void)d;
    (void)fo;
    return CDF_STATUS_SUCCESS;
}

uint32_t simcd_close(simcd *d, uintptr_t fo)
{
    simcd_file *f;
    cdf_lock_acquire(&d->lock);
    f = wdf_file(d, fo);
    if (f != NULL) {
        /* cdrom.c DeviceEvtFileClose -> DeviceCleanupProtectedLocks: the counts drop whatever the
         * ALLOW command (sent when ProtectedLockCount and LockCount reach zero) answers */
        if (f->secure_count != 0) {
            d->secure_total -= f->secure_count;
            f->secure_count = 0;
            if (d->secure_total == 0u && d->simple_total == 0u) {
                (void)drive_status(d, SIMCD_ORIGIN_CLOSE, CDF_SCSIOP_MEDIUM_REMOVAL, 0u);
            }
        }
        /* DeviceCleanupDisableMcn */
        d->mcn_total -= f->mcn_count;
        /* DeviceUnlockExclusive when this file object owns exclusive access */
        if (d->exclusive_owner == f->key) {
            exclusive_release(d);
        }
        memset(f, 0, sizeof(*f));
        d->open_files--;
    }
    cdf_lock_release(&d->lock);
    return CDF_STATUS_SUCCESS;
}

void simcd_fail_next(simcd *d, uint32_t status)
{
    cdf_lock_acquire(&d->lock);
    d->fault_status = status;
    d->fault_pending = (uint8_t)(status != 0);
    cdf_lock_release(&d->lock);
}

uint32_t simcd_fail_command(simcd *d, uint32_t kind, uint32_t nth, uint32_t status)
{
    if (kind >= SIMCD_CMD_KINDS) {
        return CDF_STATUS_INVALID_PARAMETER;
    }
    cdf_lock_acquire(&d->lock);
    d->cmd_fault_kind = (uint8_t)kind;
    d->cmd_fault_left = status != 0u ? nth : 0u;
    d->cmd_fault_status = status;
    cdf_lock_release(&d->lock);
    return CDF_STATUS_SUCCESS;
}

void simcd_get_commands(simcd *d, uint32_t after_seq, simcd_command *out, uint32_t cap,
                        uint32_t *count)
{
    uint32_t n = 0;
    uint32_t seq;
    uint32_t first;
    cdf_lock_acquire(&d->lock);
    first = d->cmd_seq > SC_LOG_ENTRIES ? d->cmd_seq - SC_LOG_ENTRIES + 1u : 1u;
    seq = after_seq + 1u > first ? after_seq + 1u : first;
    for (; seq <= d->cmd_seq && n < cap; seq++) {
        out[n++] = d->log[seq % SC_LOG_ENTRIES];
    }
    cdf_lock_release(&d->lock);
    if (count != NULL) {
        *count = n;
    }
}

void simcd_set_media(simcd *d, uint32_t present)
{
    cdf_lock_acquire(&d->lock);
    d->media_present = (uint8_t)(present != 0);
    if (present) {
        d->tray_open = 0;
    }
    d->media_change_count++;
    cdf_lock_release(&d->lock);
}

void simcd_set_connected(simcd *d, uint32_t connected)
{
    cdf_lock_acquire(&d->lock);
    d->connected = (uint8_t)(connected != 0);
    cdf_lock_release(&d->lock);
}

void simcd_surprise_remove(simcd *d)
{
    cdf_lock_acquire(&d->lock);
    d->removed = 1;
    cdf_lock_release(&d->lock);
}

void simcd_set_volume_mounted(simcd *d, uint32_t mounted)
{
    cdf_lock_acquire(&d->lock);
    d->volume_mounted = (uint8_t)(mounted != 0);
    cdf_lock_release(&d->lock);
}

void simcd_set_session_open(simcd *d, uint32_t open)
{
    cdf_lock_acquire(&d->lock);
    d->session_open = (uint8_t)(open != 0);
    cdf_lock_release(&d->lock);
}

void simcd_get_state(simcd *d, simcd_state *out)
{
    cdf_lock_acquire(&d->lock);
    out->media_present = d->media_present;
    out->tray_open = d->tray_open;
    out->hw_prevent = d->hw_prevent;
    out->connected = d->connected;
    out->secure_total = d->secure_total;
    out->simple_total = d->simple_total;
    out->mcn_total = d->mcn_total;
    out->exclusive_locked = (uint32_t)(d->exclusive_owner != 0);
    out->reads = d->reads;
    out->ejects = d->ejects;
    out->open_files = d->open_files;
    out->fault_pending = d->fault_pending;
    out->surprise_removed = d->removed;
    out->volume_mounted = d->volume_mounted;
    out->session_open = d->session_open;
    out->media_change_count = d->media_change_count;
    out->commands = d->cmd_seq;
    out->kernel_mcn = d->kernel_mcn;
    cdf_lock_release(&d->lock);
}

void simcd_get_file_state(simcd *d, uintptr_t fo, simcd_file_state *out)
{
    simcd_file *f;
    memset(out, 0, sizeof(*out));
    cdf_lock_acquire(&d->lock);
    f = wdf_file(d, fo);
    if (f != NULL) {
        out->known = 1;
        out->secure_count = f->secure_count;
        out->mcn_count = f->mcn_count;
        out->exclusive = (uint32_t)(d->exclusive_owner == f->key);
    }
    cdf_lock_release(&d->lock);
}
