/*
 * cdf_handles.c - handle table (see cdf_handles.h).
 */
#include <string.h>
#include "cdf_handles.h"

static uint32_t home_of(const cdf_handles *t, uint32_t drive_id, uintptr_t key)
{
    /* Pointers are 8- or 16-byte aligned: a multiplicative mix spreads the high bits down. */
    uint64_t x = ((uint64_t)key ^ ((uint64_t)drive_id << 56)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32) & t->index_mask;
}

int cdf_handles_init(cdf_handles *t, uint32_t max)
{
    uint32_t cap = 1u, i;
    memset(t, 0, sizeof(*t));
    if (max == 0u || max > 65536u) return -1;
    while (cap < max * 2u) cap <<= 1;
    t->pool = (cdf_handle *)cdf_mem_reserve((size_t)max * sizeof(cdf_handle));
    t->index = (uint32_t *)cdf_mem_reserve((size_t)cap * sizeof(uint32_t));
    if (t->pool == NULL || t->index == NULL) {
        cdf_handles_fini(t);
        return -1;
    }
    t->index_mask = cap - 1u;
    t->max = max;
    for (i = 0; i < max; i++) t->pool[i].next = (i + 1u < max) ? i + 2u : 0u;
    t->free_head = 1u;
    return 0;
}

void cdf_handles_fini(cdf_handles *t)
{
    cdf_mem_release(t->pool);
    cdf_mem_release(t->index);
    memset(t, 0, sizeof(*t));
}

cdf_handle *cdf_handles_find(cdf_handles *t, uint32_t drive_id, uintptr_t key)
{
    uint32_t i, n;
    if (key == 0u || t->index == NULL) return NULL;
    i = home_of(t, drive_id, key);
    for (n = 0; n <= t->index_mask; n++) {
        uint32_t e = t->index[i];
        cdf_handle *h;
        if (e == 0u) return NULL;
        h = &t->pool[e - 1u];
        if (h->key == key && h->drive_id == drive_id) return h;
        i = (i + 1u) & t->index_mask;
    }
    return NULL;
}

cdf_handle *cdf_handles_insert(cdf_handles *t, cdf_drive *d, uint32_t drive_id, uintptr_t key)
{
    uint32_t slot1, i;
    cdf_handle *h;
    if (key == 0u || t->free_head == 0u || t->count >= t->max) return NULL;
    slot1 = t->free_head;
    h = &t->pool[slot1 - 1u];
    t->free_head = h->next;
    memset(h, 0, sizeof(*h));
    h->key = key;
    h->drive_id = drive_id;
    h->in_use = 1u;
    /* chain at the head of the drive's list */
    h->next = d->first_handle;
    if (d->first_handle != 0u) t->pool[d->first_handle - 1u].prev = slot1;
    d->first_handle = slot1;
    i = home_of(t, drive_id, key);
    while (t->index[i] != 0u) i = (i + 1u) & t->index_mask;
    t->index[i] = slot1;
    t->count++;
    return h;
}

void cdf_handles_remove(cdf_handles *t, cdf_drive *d, cdf_handle *h)
{
    uint32_t slot1 = (uint32_t)(h - t->pool) + 1u;
    uint32_t i = home_of(t, h->drive_id, h->key), j, n;
    for (n = 0; n <= t->index_mask && t->index[i] != slot1; n++) i = (i + 1u) & t->index_mask;
    if (t->index[i] != slot1) return; /* not indexed: nothing to undo */
    t->index[i] = 0u;
    /* backward-shift: pull later entries of the probe run into the hole */
    j = i;
    for (;;) {
        uint32_t e, k;
        j = (j + 1u) & t->index_mask;
        e = t->index[j];
        if (e == 0u) break;
        k = home_of(t, t->pool[e - 1u].drive_id, t->pool[e - 1u].key);
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j)) continue;
        t->index[i] = e;
        t->index[j] = 0u;
        i = j;
    }
    /* unchain */
    if (h->prev != 0u) t->pool[h->prev - 1u].next = h->next;
    else d->first_handle = h->next;
    if (h->next != 0u) t->pool[h->next - 1u].prev = h->prev;
    memset(h, 0, sizeof(*h));
    h->next = t->free_head;
    t->free_head = slot1;
    t->count--;
}

uint32_t cdf_handles_count_pid(const cdf_handles *t, uint32_t pid)
{
    uint32_t i, n = 0u;
    for (i = 0; i < t->max; i++) {
        if (t->pool[i].in_use && t->pool[i].pid == pid) n++;
    }
    return n;
}

cdf_handle *cdf_handles_idle(cdf_handles *t, const cdf_drive *d, uint32_t pid)
{
    cdf_handle *h;
    uint32_t guard = 0u;
    for (h = cdf_handles_at(t, d->first_handle); h != NULL && guard < t->max;
         h = cdf_handles_at(t, h->next), guard++) {
        if (h->secure == 0u && h->simple == 0u && h->mcn == 0u && !h->exclusive && (pid == 0u || h->pid == pid))
            return h;
    }
    return NULL;
}

int cdf_handles_check(const cdf_handles *t)
{
    uint32_t i, used = 0, indexed = 0;
    for (i = 0; i < t->max; i++) {
        if (t->pool[i].in_use) used++;
    }
    for (i = 0; i <= t->index_mask; i++) {
        uint32_t e = t->index[i];
        if (e == 0u) continue;
        if (e > t->max || !t->pool[e - 1u].in_use) return 1;
        indexed++;
    }
    if (used != t->count || indexed != t->count) return 2;
    return 0;
}
