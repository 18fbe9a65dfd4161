/*
 * cdf_rules.h - the request path: normalize, validate, decide at dispatch, apply at completion.
 * Implements cdf_core_dispatch and cdf_core_complete (cdf_core.h); the rules table is in
 * docs/core.md.
 */
#ifndef CDF_RULES_H
#define CDF_RULES_H

#include <stdint.h>

/* cdf_normalize_ioctl (cdrom.sys NormalizeIoctl) is declared in cdf_core.h. */
#include "cdf_core.h"

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
#define CDF_OPF_ADOPT    0x400u  /* a lock from a file object never seen created: its successful
                                  * completion finds or creates the adopted entry */
#define CDF_OP_DECISION_SHIFT 16u
#define CDF_OP_REASON_SHIFT   24u

#endif /* CDF_RULES_H */
