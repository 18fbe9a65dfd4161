/*
 * cdf_ledger.c - the ejection-ownership ledger (see cdf_ledger.h).
 */
#include "cdf_ledger.h"
#include "cdf_handles.h"

static void refresh_since(cdf_handle *h, uint64_t now)
{
    if (h->secure == 0u && h->simple == 0u) h->since = 0u;
    else if (h->since == 0u) h->since = now == 0u ? 1u : now;
}

static uint32_t *total_of(cdf_drive *d, cdf_lock_kind kind)
{
    return kind == CDF_LOCK_SECURE ? &d->secure_total
         : kind == CDF_LOCK_SIMPLE ? &d->simple_total : &d->mcn_total;
}

static uint32_t *own_of(cdf_drive *d, cdf_handle *h, cdf_lock_kind kind)
{
    if (h == NULL) {
        return kind == CDF_LOCK_SECURE ? &d->orphan_secure
             : kind == CDF_LOCK_SIMPLE ? &d->orphan_simple : &d->orphan_mcn;
    }
    return kind == CDF_LOCK_SECURE ? &h->secure
         : kind == CDF_LOCK_SIMPLE ? &h->simple : &h->mcn;
}

int cdf_ledger_take(cdf_drive *d, cdf_handle *h, cdf_lock_kind kind, uint64_t now)
{
    uint32_t *total = total_of(d, kind), *own = own_of(d, h, kind);
    if (*total >= CDF_COUNT_LIMIT) return 0;
    (*total)++;
    (*own)++;
    if (h != NULL) refresh_since(h, now);
    return 1;
}

int cdf_ledger_drop(cdf_drive *d, cdf_handle *h, cdf_lock_kind kind)
{
    uint32_t *total = total_of(d, kind), *own = own_of(d, h, kind);
    if (*own == 0u || *total == 0u) return 0;
    (*own)--;
    (*total)--;
    if (h != NULL) refresh_since(h, 0u);
    return 1;
}

uint32_t cdf_ledger_release_all(cdf_drive *d, cdf_handle *h, cdf_lock_kind kind)
{
    uint32_t *total = total_of(d, kind), *own = own_of(d, h, kind);
    uint32_t n = *own;
    if (n > *total) n = *total; /* cannot happen while the invariant holds */
    *total -= n;
    *own = 0u;
    if (h != NULL) refresh_since(h, 0u);
    return n;
}

uint32_t cdf_ledger_orphan_simple(cdf_drive *d, cdf_handle *h)
{
    uint32_t n = h->simple;
    d->orphan_simple += n;
    h->simple = 0u;
    refresh_since(h, 0u);
    return n;
}

cdf_handle *cdf_ledger_oldest_simple_holder(cdf_handles *t, cdf_drive *d)
{
    cdf_handle *best = NULL, *h;
    uint32_t guard = 0u;
    for (h = cdf_handles_at(t, d->first_handle); h != NULL && guard < t->max;
         h = cdf_handles_at(t, h->next), guard++) {
        if (h->simple == 0u) continue;
        if (best == NULL || h->since < best->since ||
            (h->since == best->since && h->handle_id < best->handle_id))
            best = h;
    }
    return best;
}

int cdf_ledger_sole_secure_owner(const cdf_drive *d, const cdf_handle *h)
{
    return h != NULL && h->secure != 0u && h->secure == d->secure_total - d->orphan_secure;
}

int cdf_ledger_check(cdf_handles *t, const cdf_drive *d, uint32_t drive_id)
{
    uint64_t secure = d->orphan_secure, simple = d->orphan_simple, mcn = d->orphan_mcn;
    uint32_t n = 0u, exclusive_owners = 0u;
    cdf_handle *h;
    for (h = cdf_handles_at(t, d->first_handle); h != NULL; h = cdf_handles_at(t, h->next)) {
        if (!h->in_use || h->drive_id != drive_id) return 10;
        if (++n > t->max) return 11;
        secure += h->secure;
        simple += h->simple;
        mcn += h->mcn;
        if (h->exclusive) {
            exclusive_owners++;
            if (d->exclusive_owner != h->handle_id) return 12;
        }
        if ((h->secure != 0u || h->simple != 0u) && h->since == 0u) return 13;
        /* an adopted entry lives only while it holds something (reaped under the same lock) */
        if (h->adopted && h->secure == 0u && h->simple == 0u && h->mcn == 0u && !h->exclusive)
            return 14;
    }
    if (secure != d->secure_total) return 1;
    if (simple != d->simple_total) return 2;
    if (mcn != d->mcn_total) return 3;
    if (d->secure_total > CDF_COUNT_LIMIT || d->simple_total > CDF_COUNT_LIMIT ||
        d->mcn_total > CDF_COUNT_LIMIT) return 4;
    if (n != d->open_handles) return 5;
    if (exclusive_owners > 1u || (d->exclusive_owner != 0u) != (exclusive_owners == 1u)) return 6;
    return 0;
}
