/*
 * cdf_handles.h - the handle table: tracked file objects keyed by (drive id, cdf_fo_key).
 *
 * Records live in a fixed pool (stable indices, so a drive can chain its handles); a
 * power-of-two open-addressing index (linear probing, backward-shift deletion, no tombstones)
 * maps keys to pool entries. Every byte is reserved at init; no operation allocates. Not
 * thread-safe: callers hold core->lock.
 */
#ifndef CDF_HANDLES_H
#define CDF_HANDLES_H

#include "cdf_internal.h"

/* Reserve room for max handles (1..65536). Returns 0, or -1 when memory is short. */
int cdf_handles_init(cdf_handles *t, uint32_t max);
void cdf_handles_fini(cdf_handles *t);

/* The tracked handle for (drive_id, key), or NULL. key 0 (no file object) is never tracked. */
cdf_handle *cdf_handles_find(cdf_handles *t, uint32_t drive_id, uintptr_t key);

/* Add a zeroed entry for (drive_id, key), chained on drive d; the key must not be present.
 * NULL when the table is full (REASON_LEDGER_FULL). */
cdf_handle *cdf_handles_insert(cdf_handles *t, cdf_drive *d, uint32_t drive_id, uintptr_t key);

/* Whether every entry is in use (an insert would fail). */
static inline int cdf_handles_full(const cdf_handles *t)
{
    return t->count >= t->max;
}

/* Entries held by process pid over every drive (a pool scan: call it only when the table holds
 * at least as many entries as the quota it is compared with). */
uint32_t cdf_handles_count_pid(const cdf_handles *t, uint32_t pid);

/* An entry of drive d that holds nothing (no lock, no exclusive access), of process pid when
 * pid is nonzero; NULL when there is none. */
cdf_handle *cdf_handles_idle(cdf_handles *t, const cdf_drive *d, uint32_t pid);

/* Remove h (which belongs to drive d). */
void cdf_handles_remove(cdf_handles *t, cdf_drive *d, cdf_handle *h);

/* Pool entry by 1-based index (per-drive chains), NULL for 0. */
static inline cdf_handle *cdf_handles_at(cdf_handles *t, uint32_t index1)
{
    return index1 == 0u ? NULL : &t->pool[index1 - 1u];
}

/* Self-check: every in-use entry is reachable through the index, counts agree. 0 = ok. */
int cdf_handles_check(const cdf_handles *t);

#endif /* CDF_HANDLES_H */
