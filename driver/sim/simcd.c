/*
 * simcd.c - the simulated cdrom.sys (see simcd.h and docs/simulator.md for the rules).
 *
 * Sources of the behaviour: BRIEF §3, seed 003 (IOCTL_STORAGE_EJECTION_CONTROL), and the
 * public cdrom class driver (Windows-driver-samples storage/class/cdrom: PerformEjectionControl,
 * DeviceEvtFileClose -> DeviceCleanupProtectedLocks, NormalizeIoctl, exclusive access).
 * Kernel-safe: memcpy/memset only, no allocation after simcd_create, one cdf_lock per drive.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cdf_core.h"
#include "cdf_platform.h"
#include "simcd.h"

/* NTSTATUS values (ntstatus.h) under private names so this file needs no Windows header. */
#define SC_STATUS_SUCCESS                 0x00000000u
#define SC_STATUS_INVALID_HANDLE          0xC0000008u
#define SC_STATUS_INVALID_PARAMETER       0xC000000Du
#define SC_STATUS_NO_MEDIA_IN_DEVICE      0xC0000013u
#define SC_STATUS_INVALID_DEVICE_REQUEST  0xC0000010u
#define SC_STATUS_ACCESS_DENIED           0xC0000022u
#define SC_STATUS_BUFFER_TOO_SMALL        0xC0000023u
#define SC_STATUS_INFO_LENGTH_MISMATCH    0xC0000004u
#define SC_STATUS_INSUFFICIENT_RESOURCES  0xC000009Au
#define SC_STATUS_DEVICE_BUSY             0x80000011u
#define SC_STATUS_INVALID_DEVICE_STATE    0xC0000184u
#define SC_STATUS_DEVICE_NOT_CONNECTED    0xC000009Du
#define SC_STATUS_REVISION_MISMATCH       0xC0000059u

#define SC_SECTOR_BYTES 2048u

/* CDROM_EXCLUSIVE_ACCESS (ntddcdrm.h): RequestType (ULONG enum), Flags (ULONG). */
#define SC_EXCL_HEADER_BYTES   8u
#define SC_EXCL_CALLER_BYTES   64u  /* CDROM_EXCLUSIVE_CALLER_LENGTH */
#define SC_EXCL_LOCK_BYTES     (SC_EXCL_HEADER_BYTES + SC_EXCL_CALLER_BYTES) /* CDROM_EXCLUSIVE_LOCK */
#define SC_EXCL_STATE_BYTES    (1u + SC_EXCL_CALLER_BYTES) /* CDROM_EXCLUSIVE_LOCK_STATE */
#define SC_EXCL_QUERY  0u      /* ExclusiveAccessQueryState */
#define SC_EXCL_LOCK   1u      /* ExclusiveAccessLockDevice */
#define SC_EXCL_UNLOCK 2u      /* ExclusiveAccessUnlockDevice */

/* SCSI_PASS_THROUGH (ntddscsi.h): the CDB sits after a ULONG_PTR field, so its offset and the
 * structure size differ for 64-bit and WOW64 callers. SCSI_PASS_THROUGH_DIRECT has the same
 * layout (a PVOID where the offset was). */
#define SC_SPT_CDB_LENGTH_OFFSET 6u
#define SC_SPT_SCSI_STATUS_OFFSET 2u
#define SC_SPT_CDB_OFFSET_64  36u
#define SC_SPT_SIZE_64        56u
#define SC_SPT_CDB_OFFSET_32  28u
#define SC_SPT_SIZE_32        44u
/* SCSI_PASS_THROUGH_EX (Windows SDK ntddscsi.h): ULONG Version, Length, CdbLength, ...,
 * ScsiStatus at 16, two ULONG_PTR (64-bit: 8 bytes each), then Cdb[ANYSIZE_ARRAY]: sizeof
 * includes the CDB's first bytes and padding. SCSI_PASS_THROUGH_DIRECT_EX: same layout. */
#define SC_SPTEX_LENGTH_OFFSET     4u
#define SC_SPTEX_CDB_LENGTH_OFFSET 8u
#define SC_SPTEX_SCSI_STATUS_OFFSET 16u
#define SC_SPTEX_CDB_OFFSET_64  56u
#define SC_SPTEX_SIZE_64        64u
#define SC_SPTEX_CDB_OFFSET_32  48u
#define SC_SPTEX_SIZE_32        52u
#define SC_SCSIOP_TEST_UNIT_READY 0x00u
#define SC_SCSIOP_START_STOP_UNIT 0x1Bu
#define SC_SCSIOP_MEDIUM_REMOVAL  0x1Eu
#define SC_SCSISTAT_GOOD            0x00u
#define SC_SCSISTAT_CHECK_CONDITION 0x02u

typedef struct simcd_file {
    uintptr_t key;        /* 0 = free slot */
    uint32_t secure_count;
    uint32_t mcn_count;
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
    uint32_t secure_total;
    uint32_t simple_total;
    uint32_t mcn_total;
    uint32_t fault_status;
    uint8_t fault_pending;
    uintptr_t exclusive_owner;  /* 0 = not exclusively locked */
    uint8_t exclusive_caller[SC_EXCL_CALLER_BYTES];
    uint64_t reads;
    uint64_t ejects;
};

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

/* Caller holds d->lock. */
static simcd_file *find_file(simcd *d, uintptr_t fo)
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

/* Caller holds d->lock. A file object the drive never saw created (e.g. a volume handle routed
 * through a file system) gets a context on first use, as KMDF gives every file object one. */
static simcd_file *find_or_add_file(simcd *d, uintptr_t fo)
{
    uint32_t i;
    simcd_file *f = find_file(d, fo);
    if (f != NULL || fo == 0) {
        return f;
    }
    for (i = 0; i < d->max_files; i++) {
        if (d->files[i].key == 0) {
            f = &d->files[i];
            memset(f, 0, sizeof(*f));
            f->key = fo;
            d->open_files++;
            return f;
        }
    }
    return NULL;
}

static uint8_t media_ready(const simcd *d)
{
    return (uint8_t)(d->media_present && !d->tray_open);
}

/* The drive executes PREVENT ALLOW MEDIUM REMOVAL. Caller holds d->lock. */
static uint32_t hw_prevent_allow(simcd *d, uint8_t prevent)
{
    if (!d->connected) {
        return SC_STATUS_DEVICE_NOT_CONNECTED;
    }
    if (!media_ready(d)) {
        return SC_STATUS_NO_MEDIA_IN_DEVICE;
    }
    d->hw_prevent = prevent ? 1u : 0u;
    return SC_STATUS_SUCCESS;
}

/* The drive executes START STOP UNIT with LoEj=1. Caller holds d->lock. A drive in the prevent
 * state refuses to eject (MMC: ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED), surfaced here as
 * STATUS_DEVICE_BUSY. */
static uint32_t hw_load_eject(simcd *d, uint8_t load)
{
    if (!d->connected) {
        return SC_STATUS_DEVICE_NOT_CONNECTED;
    }
    if (load) {
        d->tray_open = 0;
        return SC_STATUS_SUCCESS;
    }
    if (d->hw_prevent) {
        return SC_STATUS_DEVICE_BUSY;
    }
    if (!d->tray_open) {
        d->tray_open = 1;
        d->ejects++;
    }
    return SC_STATUS_SUCCESS;
}

/* Commit a change of the lock counts: the hardware command is sent only when the combined total
 * flips between zero and non-zero, and the counts change only if it succeeded. */
static uint32_t apply_lock_change(simcd *d, uint32_t new_simple, uint32_t new_secure)
{
    uint8_t was_locked = (uint8_t)((d->simple_total + d->secure_total) != 0);
    uint8_t now_locked = (uint8_t)((new_simple + new_secure) != 0);
    if (was_locked != now_locked) {
        uint32_t st = hw_prevent_allow(d, now_locked);
        if (st != SC_STATUS_SUCCESS) {
            return st;
        }
    }
    d->simple_total = new_simple;
    d->secure_total = new_secure;
    return SC_STATUS_SUCCESS;
}

/* IOCTL_STORAGE_MEDIA_REMOVAL and IOCTL_STORAGE_EJECTION_CONTROL (cdrom PerformEjectionControl). */
static uint32_t media_lock(simcd *d, uintptr_t fo, uint8_t secure, const uint8_t *in, uint32_t in_len)
{
    uint8_t lock;
    simcd_file *f;
    uint32_t st;
    if (in == NULL || in_len < 1u) {
        return SC_STATUS_INFO_LENGTH_MISMATCH;
    }
    lock = (uint8_t)(in[0] != 0);
    if (!secure) {
        if (lock) {
            if (d->simple_total == UINT32_MAX) {
                return SC_STATUS_INVALID_DEVICE_STATE;
            }
            return apply_lock_change(d, d->simple_total + 1u, d->secure_total);
        }
        if (d->simple_total == 0) {
            return SC_STATUS_SUCCESS; /* unlock at zero: a successful no-op */
        }
        return apply_lock_change(d, d->simple_total - 1u, d->secure_total);
    }
    if (fo == 0) {
        return SC_STATUS_INVALID_HANDLE;
    }
    f = find_or_add_file(d, fo);
    if (f == NULL) {
        return SC_STATUS_INSUFFICIENT_RESOURCES;
    }
    if (lock) {
        if (d->secure_total == UINT32_MAX) {
            return SC_STATUS_INVALID_DEVICE_STATE;
        }
        st = apply_lock_change(d, d->simple_total, d->secure_total + 1u);
        if (st == SC_STATUS_SUCCESS) {
            f->secure_count++;
        }
        return st;
    }
    if (f->secure_count == 0) {
        return SC_STATUS_INVALID_DEVICE_STATE; /* not this caller's lock: ignored */
    }
    st = apply_lock_change(d, d->simple_total, d->secure_total - 1u);
    if (st == SC_STATUS_SUCCESS) {
        f->secure_count--;
    }
    return st;
}

/* IOCTL_STORAGE_MCN_CONTROL: per file object media-change-notification disables. */
static uint32_t mcn_control(simcd *d, uintptr_t fo, const uint8_t *in, uint32_t in_len)
{
    simcd_file *f;
    if (in == NULL || in_len < 1u) {
        return SC_STATUS_INFO_LENGTH_MISMATCH;
    }
    if (fo == 0) {
        return SC_STATUS_INVALID_HANDLE;
    }
    f = find_or_add_file(d, fo);
    if (f == NULL) {
        return SC_STATUS_INSUFFICIENT_RESOURCES;
    }
    if (in[0] != 0) {
        if (d->mcn_total == UINT32_MAX) {
            return SC_STATUS_INVALID_DEVICE_STATE;
        }
        f->mcn_count++;
        d->mcn_total++;
        return SC_STATUS_SUCCESS;
    }
    if (f->mcn_count == 0) {
        return SC_STATUS_INVALID_DEVICE_STATE;
    }
    f->mcn_count--;
    d->mcn_total--;
    return SC_STATUS_SUCCESS;
}

static uint32_t read_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* IOCTL_CDROM_EXCLUSIVE_ACCESS: query, lock, unlock. */
static uint32_t exclusive_access(simcd *d, uintptr_t fo, const uint8_t *in, uint32_t in_len,
                                 uint8_t *out, uint32_t out_cap, uint32_t *information)
{
    uint32_t type;
    if (in == NULL || in_len < SC_EXCL_HEADER_BYTES) {
        return SC_STATUS_INFO_LENGTH_MISMATCH;
    }
    type = read_u32le(in);
    if (type == SC_EXCL_QUERY) {
        uint8_t locked = (uint8_t)(d->exclusive_owner != 0);
        if (out == NULL || out_cap < SC_EXCL_STATE_BYTES) {
            return SC_STATUS_BUFFER_TOO_SMALL;
        }
        out[0] = locked;
        if (locked) {
            memcpy(out + 1, d->exclusive_caller, SC_EXCL_CALLER_BYTES);
        } else {
            memset(out + 1, 0, SC_EXCL_CALLER_BYTES);
        }
        *information = SC_EXCL_STATE_BYTES;
        return SC_STATUS_SUCCESS;
    }
    if (type == SC_EXCL_LOCK) {
        uint8_t caller[SC_EXCL_CALLER_BYTES];
        if (in_len < SC_EXCL_LOCK_BYTES) {
            return SC_STATUS_INFO_LENGTH_MISMATCH;
        }
        if (fo == 0) {
            return SC_STATUS_INVALID_PARAMETER;
        }
        if (d->exclusive_owner != 0) {
            return SC_STATUS_ACCESS_DENIED;
        }
        if (find_or_add_file(d, fo) == NULL) {
            return SC_STATUS_INSUFFICIENT_RESOURCES;
        }
        memcpy(caller, in + SC_EXCL_HEADER_BYTES, SC_EXCL_CALLER_BYTES);
        memcpy(d->exclusive_caller, caller, SC_EXCL_CALLER_BYTES);
        d->exclusive_owner = fo;
        return SC_STATUS_SUCCESS;
    }
    if (type == SC_EXCL_UNLOCK) {
        if (fo == 0 || d->exclusive_owner != fo) {
            return SC_STATUS_INVALID_DEVICE_REQUEST;
        }
        d->exclusive_owner = 0;
        memset(d->exclusive_caller, 0, SC_EXCL_CALLER_BYTES);
        return SC_STATUS_SUCCESS;
    }
    return SC_STATUS_INVALID_PARAMETER;
}

/* IOCTL_SCSI_PASS_THROUGH[_DIRECT][_EX]: the port driver's checks, then the drive executes the
 * CDB as it is, whatever cdrom's software counts say (the gap an ownership-enforcing filter
 * closes). Checks (STATUS_INVALID_PARAMETER, as the port driver answers): input at least the
 * structure size; SPT: USHORT Length == structure size, CdbLength 1..16; EX: ULONG Version 0
 * (else STATUS_REVISION_MISMATCH), ULONG Length == structure size, CdbLength >= 1 with the
 * CDB inside the input. */
static uint32_t scsi_pass_through(simcd *d, uint32_t normalized, uint32_t flags, const uint8_t *in,
                                  uint32_t in_len, uint8_t *out, uint32_t out_cap, uint32_t *information)
{
    int caller32 = (flags & SIMCD_FLAG_CALLER_32BIT) != 0u;
    int ex = normalized == SIMCD_IOCTL_SCSI_PASS_THROUGH_EX ||
             normalized == SIMCD_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX;
    uint32_t cdb_offset, size, status_at, cdb_length;
    uint8_t opcode;
    uint8_t byte4;
    uint32_t st;
    if (ex) {
        cdb_offset = caller32 ? SC_SPTEX_CDB_OFFSET_32 : SC_SPTEX_CDB_OFFSET_64;
        size = caller32 ? SC_SPTEX_SIZE_32 : SC_SPTEX_SIZE_64;
        status_at = SC_SPTEX_SCSI_STATUS_OFFSET;
    } else {
        cdb_offset = caller32 ? SC_SPT_CDB_OFFSET_32 : SC_SPT_CDB_OFFSET_64;
        size = caller32 ? SC_SPT_SIZE_32 : SC_SPT_SIZE_64;
        status_at = SC_SPT_SCSI_STATUS_OFFSET;
    }
    if (in == NULL || in_len < size) {
        return SC_STATUS_INVALID_PARAMETER;
    }
    if (ex) {
        if (read_u32le(in) != 0u) {
            return SC_STATUS_REVISION_MISMATCH;
        }
        if (read_u32le(in + SC_SPTEX_LENGTH_OFFSET) != size) {
            return SC_STATUS_INVALID_PARAMETER;
        }
        cdb_length = read_u32le(in + SC_SPTEX_CDB_LENGTH_OFFSET);
        if (cdb_length < 1u || cdb_length > in_len - cdb_offset) {
            return SC_STATUS_INVALID_PARAMETER;
        }
    } else {
        if (((uint32_t)in[0] | ((uint32_t)in[1] << 8)) != size) {
            return SC_STATUS_INVALID_PARAMETER;
        }
        cdb_length = in[SC_SPT_CDB_LENGTH_OFFSET];
        if (cdb_length < 1u || cdb_length > 16u) {
            return SC_STATUS_INVALID_PARAMETER;
        }
    }
    opcode = in[cdb_offset];
    /* the device receives a padded packet: bytes past CdbLength inside the input are sent too */
    byte4 = cdb_offset + 4u < in_len ? in[cdb_offset + 4u] : 0u;
    switch (opcode) {
    case SC_SCSIOP_START_STOP_UNIT:
        /* byte 4: bit 0 Start, bit 1 LoEj; a nonzero power condition (bits 4-7) makes the
         * drive ignore both (SBC-3) */
        if ((byte4 & 0xF0u) == 0u && (byte4 & 0x02u)) {
            st = hw_load_eject(d, (uint8_t)(byte4 & 0x01u));
        } else {
            st = d->connected ? SC_STATUS_SUCCESS : SC_STATUS_DEVICE_NOT_CONNECTED;
        }
        break;
    case SC_SCSIOP_MEDIUM_REMOVAL:
        /* MMC: byte 4 bit 1 Persistent selects which state bit 0 (Prevent) sets or clears */
        if (byte4 & 0x02u) {
            if (!d->connected) {
                st = SC_STATUS_DEVICE_NOT_CONNECTED;
            } else {
                d->hw_persistent = (uint8_t)(byte4 & 0x01u);
                st = SC_STATUS_SUCCESS;
            }
        } else {
            st = hw_prevent_allow(d, (uint8_t)(byte4 & 0x01u));
        }
        break;
    case SC_SCSIOP_TEST_UNIT_READY:
        st = media_ready(d) ? SC_STATUS_SUCCESS : SC_STATUS_NO_MEDIA_IN_DEVICE;
        break;
    default:
        st = SC_STATUS_SUCCESS;
        break;
    }
    if (st == SC_STATUS_SUCCESS && out != NULL && out_cap >= size) {
        /* METHOD_BUFFERED: the header comes back with ScsiStatus filled in. */
        if (out != in) {
            memcpy(out, in, size);
        }
        out[status_at] = SC_SCSISTAT_GOOD;
        *information = size;
    }
    return st;
}

/* Caller holds d->lock. Consumes a pending fault: returns nonzero and sets *st if one fired. */
static uint8_t take_fault(simcd *d, uint32_t *st)
{
    if (!d->fault_pending) {
        return 0;
    }
    d->fault_pending = 0;
    *st = d->fault_status;
    return 1;
}

uint32_t simcd_ioctl(simcd *d, uintptr_t fo, uint32_t code, uint32_t flags,
                     const uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap,
                     uint32_t *information)
{
    uint32_t st;
    uint32_t info = 0;
    uint32_t normalized = simcd_normalize_ioctl(code);
    cdf_lock_acquire(&d->lock);
    if (take_fault(d, &st)) {
        goto done;
    }
    if (!d->connected) {
        st = SC_STATUS_DEVICE_NOT_CONNECTED;
        goto done;
    }
    if (d->exclusive_owner != 0 && d->exclusive_owner != fo &&
        normalized != SIMCD_IOCTL_CDROM_EXCLUSIVE_ACCESS) {
        st = SC_STATUS_ACCESS_DENIED;
        goto done;
    }
    switch (normalized) {
    case SIMCD_IOCTL_STORAGE_MEDIA_REMOVAL:
        st = media_lock(d, fo, 0, in, in_len);
        break;
    case SIMCD_IOCTL_STORAGE_EJECTION_CONTROL:
        st = media_lock(d, fo, 1, in, in_len);
        break;
    case SIMCD_IOCTL_STORAGE_MCN_CONTROL:
        st = mcn_control(d, fo, in, in_len);
        break;
    case SIMCD_IOCTL_STORAGE_EJECT_MEDIA:
        st = d->secure_total != 0 ? SC_STATUS_DEVICE_BUSY : hw_load_eject(d, 0);
        break;
    case SIMCD_IOCTL_STORAGE_LOAD_MEDIA:
    case SIMCD_IOCTL_STORAGE_LOAD_MEDIA2:
        st = hw_load_eject(d, 1);
        break;
    case SIMCD_IOCTL_STORAGE_CHECK_VERIFY:
    case SIMCD_IOCTL_STORAGE_CHECK_VERIFY2:
        st = media_ready(d) ? SC_STATUS_SUCCESS : SC_STATUS_NO_MEDIA_IN_DEVICE;
        break;
    case SIMCD_IOCTL_CDROM_EXCLUSIVE_ACCESS:
        st = exclusive_access(d, fo, in, in_len, out, out_cap, &info);
        break;
    case SIMCD_IOCTL_SCSI_PASS_THROUGH:
    case SIMCD_IOCTL_SCSI_PASS_THROUGH_DIRECT:
    case SIMCD_IOCTL_SCSI_PASS_THROUGH_EX:
    case SIMCD_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX:
        st = scsi_pass_through(d, normalized, flags, in, in_len, out, out_cap, &info);
        break;
    default:
        st = SC_STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
done:
    cdf_lock_release(&d->lock);
    if (information != NULL) {
        *information = (st == SC_STATUS_SUCCESS) ? info : 0u;
    }
    return st;
}

uint32_t simcd_read(simcd *d, uintptr_t fo, uint64_t offset, uint32_t length,
                    uint32_t *information)
{
    uint32_t st = SC_STATUS_SUCCESS;
    cdf_lock_acquire(&d->lock);
    if (take_fault(d, &st)) {
        goto done;
    }
    if (!d->connected) {
        st = SC_STATUS_DEVICE_NOT_CONNECTED;
    } else if (d->exclusive_owner != 0 && d->exclusive_owner != fo) {
        st = SC_STATUS_ACCESS_DENIED;
    } else if ((offset % SC_SECTOR_BYTES) != 0 || (length % SC_SECTOR_BYTES) != 0) {
        st = SC_STATUS_INVALID_PARAMETER;
    } else if (!media_ready(d)) {
        st = SC_STATUS_NO_MEDIA_IN_DEVICE;
    } else {
        d->reads++;
    }
done:
    cdf_lock_release(&d->lock);
    if (information != NULL) {
        *information = (st == SC_STATUS_SUCCESS) ? length : 0u;
    }
    return st;
}

uint32_t simcd_create_file(simcd *d, uintptr_t fo)
{
    uint32_t st = SC_STATUS_SUCCESS;
    if (fo == 0) {
        return SC_STATUS_INVALID_PARAMETER;
    }
    cdf_lock_acquire(&d->lock);
    if (find_or_add_file(d, fo) == NULL) {
        st = SC_STATUS_INSUFFICIENT_RESOURCES;
    }
    cdf_lock_release(&d->lock);
    return st;
}

uint32_t simcd_cleanup(simcd *d, uintptr_t fo)
{
    (void)d;
    (void)fo;
    return SC_STATUS_SUCCESS;
}

uint32_t simcd_close(simcd *d, uintptr_t fo)
{
    simcd_file *f;
    cdf_lock_acquire(&d->lock);
    f = find_file(d, fo);
    if (f != NULL) {
        if (f->secure_count != 0) {
            uint8_t was_locked = (uint8_t)((d->simple_total + d->secure_total) != 0);
            d->secure_total -= f->secure_count;
            if (was_locked && d->simple_total + d->secure_total == 0) {
                (void)hw_prevent_allow(d, 0); /* best effort, as DeviceCleanupProtectedLocks */
            }
        }
        d->mcn_total -= f->mcn_count;
        memset(f, 0, sizeof(*f));
        d->open_files--;
    }
    if (fo != 0 && d->exclusive_owner == fo) {
        d->exclusive_owner = 0;
        memset(d->exclusive_caller, 0, SC_EXCL_CALLER_BYTES);
    }
    cdf_lock_release(&d->lock);
    return SC_STATUS_SUCCESS;
}

void simcd_fail_next(simcd *d, uint32_t status)
{
    cdf_lock_acquire(&d->lock);
    d->fault_status = status;
    d->fault_pending = (uint8_t)(status != 0);
    cdf_lock_release(&d->lock);
}

void simcd_set_media(simcd *d, uint32_t present)
{
    cdf_lock_acquire(&d->lock);
    d->media_present = (uint8_t)(present != 0);
    if (present) {
        d->tray_open = 0;
    }
    cdf_lock_release(&d->lock);
}

void simcd_set_connected(simcd *d, uint32_t connected)
{
    cdf_lock_acquire(&d->lock);
    d->connected = (uint8_t)(connected != 0);
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
    cdf_lock_release(&d->lock);
}

void simcd_get_file_state(simcd *d, uintptr_t fo, simcd_file_state *out)
{
    simcd_file *f;
    memset(out, 0, sizeof(*out));
    cdf_lock_acquire(&d->lock);
    f = find_file(d, fo);
    if (f != NULL) {
        out->known = 1;
        out->secure_count = f->secure_count;
        out->mcn_count = f->mcn_count;
    }
    out->exclusive = (uint32_t)(fo != 0 && d->exclusive_owner == fo);
    cdf_lock_release(&d->lock);
}
