/*
 * cdf_class.h - a request classified once, at entry to cdf_core_dispatch.
 *
 * The rules (cdf_rules*.c) and the trace capture (cdf_trace.h) read this instead of looking at
 * the request's code and input again: its family (which rule function handles it, the way
 * cdrom.sys's RequestDispatchProcessDirectly / RequestDispatchToSequentialQueue switch hands an
 * IOCTL to one RequestHandle* function), the normalized code (cdrom.sys NormalizeIoctl), the
 * media-lock kind, and for SCSI pass-through the layout of the SCSI_PASS_THROUGH[_DIRECT][_EX]
 * header, where its CDB is and what the CDB does to the medium.
 */
#ifndef CDF_CLASS_H
#define CDF_CLASS_H

#include <stdint.h>
#include "cdf_core.h"
#include "cdf_scsi.h"
#include "cdf_nt.h"

typedef enum cdf_family {
    CDF_FAMILY_OTHER = 0,        /* no rule looks at it: traced and forwarded */
    CDF_FAMILY_FILE = 1,         /* IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE (cdf_rules_file.c) */
    CDF_FAMILY_MEDIA_LOCK = 2,   /* IOCTL_STORAGE_EJECTION_CONTROL, _MEDIA_REMOVAL, _MCN_CONTROL and
                                  * their CDROM/DISK aliases (cdf_rules_lock.c) */
    CDF_FAMILY_EJECT_LOAD = 3,   /* IOCTL_STORAGE_EJECT_MEDIA, _LOAD_MEDIA and aliases (cdf_rules_eject.c) */
    CDF_FAMILY_PASSTHROUGH = 4,  /* IOCTL_SCSI_PASS_THROUGH[_DIRECT][_EX] (cdf_rules_eject.c) */
    CDF_FAMILY_EXCLUSIVE = 5     /* IOCTL_CDROM_EXCLUSIVE_ACCESS (cdf_rules_exclusive.c) */
} cdf_family;

/* cdf_class.lock_kind (same values as cdf_lock_kind, cdf_ledger.h) */
#define CDF_CLASS_LOCK_SECURE 0u  /* IOCTL_STORAGE_EJECTION_CONTROL */
#define CDF_CLASS_LOCK_SIMPLE 1u  /* IOCTL_STORAGE_MEDIA_REMOVAL */
#define CDF_CLASS_LOCK_MCN    2u  /* IOCTL_STORAGE_MCN_CONTROL */

typedef struct cdf_class {
    uint8_t family;          /* cdf_family */
    uint8_t lock_kind;       /* MEDIA_LOCK only: CDF_CLASS_LOCK_* */
    uint8_t ejects;          /* EJECT_LOAD only: 1 = eject, 0 = load */
    uint8_t effect;          /* PASSTHROUGH only: cdf_scsi_effect of the CDB */
    uint8_t exclusive_guarded; /* a device control cdrom.sys refuses to non-owners under exclusive
                              * access (cdf_class_exclusive_guarded) */
    uint8_t reserved_[3];
    uint32_t normalized;     /* device control: cdrom.sys NormalizeIoctl of the code, else the code */
    uint32_t kernel_capture; /* bytes of the input that may be captured from a kernel-mode
                              * requestor (pointer-free inputs: all; pass-through: the header
                              * through the CDB; anything else: 0) */
    cdf_spt_layout spt;      /* PASSTHROUGH only: the header layout (spt.pointers is 0 otherwise) */
} cdf_class;

/* Device types NormalizeIoctl rebases: bit n set for device type n (all are below 64). */
#define CDF_NORMALIZED_TYPES ((1ull << CDF_FILE_DEVICE_CONTROLLER) | (1ull << CDF_FILE_DEVICE_DISK) | \
                              (1ull << CDF_FILE_DEVICE_TAPE) | (1ull << CDF_FILE_DEVICE_DVD) | \
                              (1ull << CDF_FILE_DEVICE_CD_ROM))
_Static_assert(CDF_FILE_DEVICE_DVD < 64u && CDF_FILE_DEVICE_TAPE < 64u && CDF_FILE_DEVICE_DISK < 64u &&
               CDF_FILE_DEVICE_CONTROLLER < 64u && CDF_FILE_DEVICE_CD_ROM < 64u, "type bit mask");

/* cdrom.sys sample, storage/class/cdrom/src/ioctl.c, NormalizeIoctl */
static inline uint32_t cdf_class_normalize(uint32_t code)
{
    uint32_t base = CDF_CTL_DEVICE_TYPE(code);
    uint32_t function = CDF_CTL_FUNCTION(code);
    if (base < 64u && ((CDF_NORMALIZED_TYPES >> base) & 1u) != 0u && function - 0x200u <= 0x100u)
        return (code & 0x0000FFFFu) | (CDF_FILE_DEVICE_MASS_STORAGE << 16);
    return code;
}

/* Whether cdrom.sys refuses this device control to a file object other than the exclusive-access
 * owner with STATUS_ACCESS_DENIED, by the code as sent (not normalized): cdrom.sys sample,
 * storage/class/cdrom/src/cdrom.c, RequestIsIoctlBlockedByExclusiveAccess (called from
 * DeviceEvtIoInCallerContext and the sequential-queue dispatch). The minimum set disk management
 * needs passes; IOCTL_STORAGE_QUERY_PROPERTY is never blocked there (RequestDispatchSpecialIoctls
 * answers it from cached descriptors); every other code of the SCSI, disk, CD-ROM, storage and
 * DVD bases is blocked; other bases pass. Returns 1 if blocked, 0 if not. */
static inline int cdf_class_exclusive_guarded(uint32_t code)
{
    uint32_t base = CDF_CTL_DEVICE_TYPE(code);
    if (code == CDF_IOCTL_SCSI_GET_ADDRESS || code == CDF_IOCTL_STORAGE_GET_HOTPLUG_INFO ||
        code == CDF_IOCTL_STORAGE_GET_DEVICE_NUMBER || code == CDF_IOCTL_STORAGE_GET_MEDIA_TYPES_EX ||
        code == CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS || code == CDF_IOCTL_CDROM_GET_INQUIRY_DATA ||
        code == CDF_IOCTL_STORAGE_QUERY_PROPERTY)
        return 0;
    return base == CDF_FILE_DEVICE_CONTROLLER || base == CDF_FILE_DEVICE_DISK ||
           base == CDF_FILE_DEVICE_CD_ROM || base == CDF_FILE_DEVICE_MASS_STORAGE ||
           base == CDF_FILE_DEVICE_DVD;
}

/* A device control: its family by the normalized code (the pass-through and exclusive-access
 * codes are never rebased: their functions are outside 0x200..0x300). */
static inline void cdf_class_ioctl(const cdf_request *rq, cdf_class *cls)
{
    uint32_t n = cdf_class_normalize(rq->ioctl_code);
    cls->normalized = n;
    cls->exclusive_guarded = (uint8_t)cdf_class_exclusive_guarded(rq->ioctl_code);
    switch (n) {
    case CDF_IOCTL_STORAGE_EJECTION_CONTROL:
    case CDF_IOCTL_STORAGE_MEDIA_REMOVAL:
    case CDF_IOCTL_STORAGE_MCN_CONTROL:
        cls->family = CDF_FAMILY_MEDIA_LOCK;
        cls->lock_kind = n == CDF_IOCTL_STORAGE_EJECTION_CONTROL ? CDF_CLASS_LOCK_SECURE
                       : n == CDF_IOCTL_STORAGE_MEDIA_REMOVAL ? CDF_CLASS_LOCK_SIMPLE : CDF_CLASS_LOCK_MCN;
        cls->kernel_capture = 0xFFFFFFFFu;
        return;
    case CDF_IOCTL_STORAGE_EJECT_MEDIA:
        cls->family = CDF_FAMILY_EJECT_LOAD;
        cls->ejects = 1u;
        cls->kernel_capture = 0xFFFFFFFFu;
        return;
    case CDF_IOCTL_STORAGE_LOAD_MEDIA:
        cls->family = CDF_FAMILY_EJECT_LOAD;
        cls->ejects = 0u;
        return;
    case CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS:
        cls->family = CDF_FAMILY_EXCLUSIVE;
        cls->kernel_capture = 0xFFFFFFFFu;
        return;
    case CDF_IOCTL_SCSI_PASS_THROUGH:
    case CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT:
    case CDF_IOCTL_SCSI_PASS_THROUGH_EX:
    case CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX:
        cls->family = CDF_FAMILY_PASSTHROUGH;
        cls->effect = (uint8_t)cdf_scsi_parse(rq->ioctl_code, rq->input, rq->input_length,
                                              (rq->flags & CDF_RQ_CALLER_32BIT) != 0u, &cls->spt, NULL);
        cls->kernel_capture = cls->spt.header_bytes;
        return;
    default:
        return;
    }
}

/* Classify rq (already sanitized: an internal device control carries no code or input).
 * Reads at most the pass-through header of rq->input. Never fails. */
static inline void cdf_classify(const cdf_request *rq, cdf_class *cls)
{
    /* only what every reader looks at; a family sets its own fields */
    cls->family = CDF_FAMILY_OTHER;
    cls->exclusive_guarded = 0u;
    cls->normalized = rq->ioctl_code;
    cls->kernel_capture = 0u;
    cls->spt.pointers = 0u;
    switch (rq->major) {
    case CDF_IRP_MJ_CREATE:
    case CDF_IRP_MJ_CLEANUP:
    case CDF_IRP_MJ_CLOSE:
        cls->family = CDF_FAMILY_FILE;
        return;
    case CDF_IRP_MJ_DEVICE_CONTROL:
        cdf_class_ioctl(rq, cls);
        return;
    default:
        return;
    }
}

#endif /* CDF_CLASS_H */
