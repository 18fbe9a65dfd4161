/*
 * cdf_rules.h - the request path: normalize, validate, decide at dispatch, apply at completion.
 * Implements cdf_core_dispatch and cdf_core_complete (cdf_core.h); the rules table is in
 * docs/core.md.
 */
#ifndef CDF_RULES_H
#define CDF_RULES_H

#include <stdint.h>

/* cdrom.sys NormalizeIoctl (storage/class/cdrom/src/ioctl.c): a code whose device type is
 * IOCTL_SCSI_BASE, IOCTL_DISK_BASE, IOCTL_TAPE_BASE, IOCTL_DVD_BASE or IOCTL_CDROM_BASE and whose
 * function is 0x200..0x300 is rebased onto IOCTL_STORAGE_BASE (access, function and method
 * kept), so IOCTL_CDROM_MEDIA_REMOVAL (0x24804) behaves as IOCTL_STORAGE_MEDIA_REMOVAL
 * (0x2D4804). Every other code is returned unchanged. */
uint32_t cdf_normalize_ioctl(uint32_t code);

/* Ledger operation a request carries to its completion (cdf_verdict.op bits 0-7). */
enum cdf_op {
    CDF_OP_NONE = 0,
    CDF_OP_CREATE = 1,
    CDF_OP_CLEANUP = 2,
    CDF_OP_CLOSE = 3,
    CDF_OP_SECURE_LOCK = 4,
    CDF_OP_SECURE_UNLOCK = 5,
    CDF_OP_SIMPLE_LOCK = 6,
    CDF_OP_SIMPLE_UNLOCK = 7,
    CDF_OP_MCN_DISABLE = 8,
    CDF_OP_MCN_ENABLE = 9,
    CDF_OP_EXCLUSIVE_LOCK = 10,
    CDF_OP_EXCLUSIVE_UNLOCK = 11
};
#define CDF_OPF_TRACED   0x100u  /* records are written for this request (passed the filter) */
#define CDF_OPF_ORPHAN   0x200u  /* the caller's file object is untracked: orphan counts */
#define CDF_OP_DECISION_SHIFT 16u
#define CDF_OP_REASON_SHIFT   24u

#endif /* CDF_RULES_H */
