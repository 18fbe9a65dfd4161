/*
 * cdf_ledger.h - per-drive lock counts and their owners (the ejection-ownership ledger).
 *
 * A drive's secure, simple and MCN totals always equal the sum of its handles' counts plus
 * its orphan counts (locks cdrom.sys still counts that no tracked handle owns: simple locks
 * left at close under observe, locks of handles the table had no room for, locks of a stale entry
 * retired when a create reuses its file object). Counts saturate at
 * CDF_COUNT_LIMIT and never go below zero. Every function runs under core->lock.
 * Source of the rules: Microsoft docs "IOCTL_STORAGE_EJECTION_CONTROL IOCTL" (IOCTL_STORAGE_EJECTION_CONTROL), cdrom.sys sample, storage/class/cdrom/src (cdrom.sys
 * storage/class/cdrom/src: FILE_OBJECT_CONTEXT, DeviceCleanupProtectedLocks).
 */
#ifndef CDF_LEDGER_H
#define CDF_LEDGER_H

#include "cdf_internal.h"

/* Ledger counters a lock operation changes. */
typedef enum cdf_lock_kind {
    CDF_LOCK_SECURE = 0,   /* IOCTL_STORAGE_EJECTION_CONTROL */
    CDF_LOCK_SIMPLE = 1,   /* IOCTL_STORAGE_MEDIA_REMOVAL */
    CDF_LOCK_MCN = 2       /* IOCTL_STORAGE_MCN_CONTROL (media change notification disable) */
} cdf_lock_kind;

/* +1 for h (or the drive's orphan count when h is NULL). Returns 1 if counted, 0 when the
 * count is at CDF_COUNT_LIMIT. now: 100 ns monotonic, starts h->since. */
int cdf_ledger_take(cdf_drive *d, cdf_handle *h, cdf_lock_kind kind, uint64_t now);
/* -1 for h (or the orphan count when h is NULL). Returns 1 if a count was dropped, 0 if that
 * count was already zero. */
int cdf_ledger_drop(cdf_drive *d, cdf_handle *h, cdf_lock_kind kind);
/* Release every lock of this kind h holds; returns how many. */
uint32_t cdf_ledger_release_all(cdf_drive *d, cdf_handle *h, cdf_lock_kind kind);
/* Move h's simple locks to the drive's orphan count (close under observe); returns how many. */
uint32_t cdf_ledger_orphan_simple(cdf_drive *d, cdf_handle *h);
/* The handle holding simple locks with the oldest `since` (ties: lowest handle id), or NULL. */
cdf_handle *cdf_ledger_oldest_simple_holder(cdf_handles *t, cdf_drive *d);
/* Whether h is the only secure-lock owner of d (h holds every secure lock counted but the
 * orphans, whose owners the core could not track). */
int cdf_ledger_sole_secure_owner(const cdf_drive *d, const cdf_handle *h);
/* Self-check of one drive: totals == sums + orphans, open_handles == chain length, no adopted
 * entry that holds nothing. 0 = ok. */
int cdf_ledger_check(cdf_handles *t, const cdf_drive *d, uint32_t drive_id);

#endif /* CDF_LEDGER_H */
