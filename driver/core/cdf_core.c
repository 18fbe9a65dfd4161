/*
 * cdf_core.c - creation, drives and self-check of the core (cdf_core.h).
 */
#include <stddef.h>
#include <string.h>
#include "cdf_internal.h"
#include "cdf_handles.h"
#include "cdf_ledger.h"
#include "cdf_trace.h"
#include "cdf_text.h"
#include "cdf_control.h"

void cdf_config_default(cdf_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_drives = CDF_MAX_DRIVES;
    cfg->max_handles = 1024u;
    cfg->ring_bytes = 1048576u;
    cfg->host_kind = 0u;
    cfg->driver_version = NULL;
}

static size_t bounded_length(const char *s, size_t limit)
{
    size_t n = 0u;
    if (s == NULL) return 0u;
    while (n <= limit && s[n] != '\0') n++;
    return n;
}

uint32_t cdf_core_create(const cdf_config *cfg, cdf_core **out)
{
    cdf_config defaults;
    cdf_core *core;
    if (out == NULL) return CDF_STATUS_INVALID_PARAMETER;
    *out = NULL;
    if (cfg == NULL) {
        cdf_config_default(&defaults);
        cfg = &defaults;
    }
    if (cfg->max_drives == 0u || cfg->max_drives > CDF_MAX_DRIVES ||
        cfg->max_handles == 0u || cfg->max_handles > 65536u || cfg->max_handles_per_process > cfg->max_handles ||
        cfg->ring_bytes < CDF_RING_MIN_BYTES || cfg->ring_bytes > CDF_RING_MAX_BYTES ||
        cfg->host_kind > 3u || bounded_length(cfg->driver_version, CDF_VERSION_MAX) > CDF_VERSION_MAX)
        return CDF_STATUS_INVALID_PARAMETER;

    core = (cdf_core *)cdf_mem_reserve(sizeof(*core));
    if (core == NULL) return CDF_STATUS_INSUFFICIENT_RESOURCES;
    memset(core, 0, sizeof(*core));
    core->max_drives = cfg->max_drives;
    core->host_kind = cfg->host_kind;
    core->ring_bytes = cfg->ring_bytes;
    core->max_per_process = cfg->max_handles_per_process != 0u ? cfg->max_handles_per_process
                          : cfg->max_handles / 4u != 0u ? cfg->max_handles / 4u : 1u;
    (void)cdf_utf8_copy(core->driver_version, CDF_VERSION_MAX, cfg->driver_version);
    cdf_filter_default(&core->filter);
    core->scratch_bytes = cdf_control_scratch_bytes();
    core->scratch = cdf_mem_reserve(core->scratch_bytes);
    if (core->scratch == NULL || cdf_handles_init(&core->handles, cfg->max_handles) != 0 ||
        cdf_ring_init(&core->ring, cfg->ring_bytes) != 0) {
        cdf_handles_fini(&core->handles);
        cdf_ring_fini(&core->ring);
        cdf_mem_release(core->scratch);
        cdf_mem_release(core);
        return CDF_STATUS_INSUFFICIENT_RESOURCES;
    }
    cdf_lock_init(&core->lock);
    cdf_lock_init(&core->control_lock);
    core->mono_anchor = cdf_clock_now();
    core->wall_anchor = cdf_clock_wall();
    *out = core;
    return CDF_STATUS_SUCCESS;
}

void cdf_core_destroy(cdf_core *core)
{
    if (core == NULL) return;
    cdf_lock_destroy(&core->lock);
    cdf_lock_destroy(&core->control_lock);
    cdf_handles_fini(&core->handles);
    cdf_ring_fini(&core->ring);
    cdf_mem_release(core->scratch);
    cdf_mem_release(core);
}

uint32_t cdf_core_add_drive(cdf_core *core, const char *name, uint32_t *drive_id)
{
    uint32_t i;
    uint32_t status = CDF_STATUS_INSUFFICIENT_RESOURCES;
    if (core == NULL || drive_id == NULL) return CDF_STATUS_INVALID_PARAMETER;
    *drive_id = 0u;
    if (bounded_length(name, CDF_DRIVE_NAME_MAX) > CDF_DRIVE_NAME_MAX) return CDF_STATUS_INVALID_PARAMETER;
    cdf_lock_acquire(&core->lock);
    for (i = 0; i < core->max_drives; i++) {
        cdf_drive *d = &core->drives[i];
        if (d->in_use) continue;
        memset(d, 0, sizeof(*d));
        d->in_use = 1u;
        d->policy = CDF_POLICY_OBSERVE_V;
        (void)cdf_utf8_copy(d->name, CDF_DRIVE_NAME_MAX, name);
        *drive_id = i + 1u;
        status = CDF_STATUS_SUCCESS;
        break;
    }
    cdf_lock_release(&core->lock);
    return status;
}

void cdf_core_remove_drive(cdf_core *core, uint32_t drive_id)
{
    cdf_drive *d;
    if (core == NULL) return;
    cdf_lock_acquire(&core->lock);
    d = cdf_drive_get(core, drive_id);
    if (d != NULL) {
        while (d->first_handle != 0u)
            cdf_handles_remove(&core->handles, d, cdf_handles_at(&core->handles, d->first_handle));
        memset(d, 0, sizeof(*d));
    }
    cdf_lock_release(&core->lock);
}

uint32_t cdf_core_add_untracked_drive(cdf_core *core, const char *name, uint32_t *token)
{
    uint64_t now = cdf_clock_now();
    cdf_untracked *e;
    cdf_slot *r;
    uint32_t i, name_len;
    uint64_t seq;
    cdf_notify_fn *fn = NULL;
    void *context = NULL;
    if (core == NULL || token == NULL) return CDF_STATUS_INVALID_PARAMETER;
    *token = 0u;
    if (bounded_length(name, CDF_DRIVE_NAME_MAX) > CDF_DRIVE_NAME_MAX) return CDF_STATUS_INVALID_PARAMETER;
    cdf_lock_acquire(&core->lock);
    now = cdf_ring_order(&core->ring, now);
    /* a free entry, else the oldest one (the list keeps the most recent arrivals) */
    e = &core->untracked[0];
    for (i = 0; i < CDF_UNTRACKED_LIST_MAX; i++) {
        cdf_untracked *c = &core->untracked[i];
        if (c->token == 0u) {
            e = c;
            break;
        }
        if (c->since < e->since) e = c;
    }
    if (++core->untracked_next_token == 0u) core->untracked_next_token = 1u;
    memset(e, 0, sizeof(*e));
    e->token = core->untracked_next_token;
    e->since = now;
    (void)cdf_utf8_copy(e->name, CDF_DRIVE_NAME_MAX, name);
    if (core->untracked_present < CDF_COUNT_LIMIT) core->untracked_present++;
    core->untracked_total++;
    *token = e->token;

    r = cdf_ring_append(&core->ring, CDF_REC_DRIVE_NOT_TRACKED, now);
    seq = r->seq;
    memset(r, 0, offsetof(cdf_slot, opener_image));
    r->seq = seq;
    r->kind = CDF_REC_DRIVE_NOT_TRACKED;
    r->timestamp = now;
    r->decision = CDF_DEC_PASS;
    r->reason = CDF_RSN_DRIVE_NOT_TRACKED;
    name_len = (uint32_t)bounded_length(e->name, CDF_DRIVE_NAME_MAX);
    memcpy(r->opener_image, e->name, name_len);
    r->image_len = (uint16_t)name_len;
    if (core->wait_armed && core->notify != NULL) {
        core->wait_armed = 0u;
        fn = core->notify;
        context = core->notify_context;
    }
    cdf_lock_release(&core->lock);
    if (fn != NULL) fn(context);
    return CDF_STATUS_SUCCESS;
}

void cdf_core_remove_untracked_drive(cdf_core *core, uint32_t token)
{
    uint32_t i;
    if (core == NULL || token == 0u) return;
    cdf_lock_acquire(&core->lock);
    for (i = 0; i < CDF_UNTRACKED_LIST_MAX; i++) {
        if (core->untracked[i].token == token) memset(&core->untracked[i], 0, sizeof(core->untracked[i]));
    }
    if (core->untracked_present != 0u) core->untracked_present--;
    cdf_lock_release(&core->lock);
}

void cdf_core_set_notify(cdf_core *core, cdf_notify_fn *fn, void *context)
{
    if (core == NULL) return;
    cdf_lock_acquire(&core->lock);
    core->notify = fn;
    core->notify_context = context;
    cdf_lock_release(&core->lock);
}

int cdf_core_check_invariants(cdf_core *core)
{
    uint32_t i, open = 0u;
    int rc;
    if (core == NULL) return -1;
    cdf_lock_acquire(&core->lock);
    rc = cdf_handles_check(&core->handles);
    if (rc != 0) rc += 100;
    if (rc == 0) {
        rc = cdf_ring_check(&core->ring);
        if (rc != 0) rc += 200;
    }
    for (i = 0; rc == 0 && i < core->max_drives; i++) {
        const cdf_drive *d = &core->drives[i];
        if (!d->in_use) continue;
        rc = cdf_ledger_check(&core->handles, d, i + 1u);
        if (rc != 0) rc += 300 + 20 * (int)i;
        open += d->open_handles;
    }
    if (rc == 0 && open != core->handles.count) rc = 700;
    if (rc == 0 && core->filter.capture_bytes > CDF_CAPTURE_MAX) rc = 701;
    cdf_lock_release(&core->lock);
    return rc;
}
