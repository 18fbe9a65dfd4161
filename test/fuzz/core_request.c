/*
 * core_request.c - libFuzzer target for the request path (cdf_core_dispatch / _complete).
 *
 * The input is a program of requests on a fresh core (2 drives, 4 handle slots so the table
 * fills, an 8 KiB ring so it wraps). Each step: op byte (major / kind), drive, file object
 * (0 = none), flags, an IOCTL code (from a list of the codes the rules look at, or raw), an
 * input buffer of fuzzed length and bytes (allocated at exactly that size: ASan sees any
 * over-read), and the lower driver's completion status. Policy flips and trace reads are
 * steps too.
 * Asserted after every step: invariants; filter-completed requests carry only the statuses the
 * rules document; trace batches decode; nothing crashes, leaks or hits UB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cdf_core.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"
#include "../c/core_testlib.h"

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "core_request: %s\n", #c); abort(); } } while (0)

static const uint32_t k_codes[] = {
    CDF_IOCTL_STORAGE_EJECTION_CONTROL, CDF_IOCTL_STORAGE_MEDIA_REMOVAL, CDF_IOCTL_STORAGE_MCN_CONTROL,
    CDF_IOCTL_STORAGE_EJECT_MEDIA, CDF_IOCTL_CDROM_EJECT_MEDIA, CDF_IOCTL_DISK_EJECT_MEDIA,
    CDF_IOCTL_CDROM_MEDIA_REMOVAL, CDF_IOCTL_DISK_MEDIA_REMOVAL, 0x00020940u, 0x00334804u,
    CDF_IOCTL_SCSI_PASS_THROUGH, CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT, CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS,
    CDF_IOCTL_CDROM_READ_TOC, CDF_IOCTL_SCSI_PASS_THROUGH_EX, CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX
};
static const uint32_t k_status[] = {
    CDF_STATUS_SUCCESS, CDF_STATUS_SUCCESS, CDF_STATUS_SUCCESS, CDF_STATUS_NO_MEDIA_IN_DEVICE,
    CDF_STATUS_DEVICE_NOT_CONNECTED, CDF_STATUS_INVALID_DEVICE_STATE, CDF_STATUS_DEVICE_BUSY,
    CDF_STATUS_ACCESS_DENIED, CDF_STATUS_PENDING, CDF_STATUS_BUFFER_OVERFLOW
};
static const uint32_t k_majors[] = {
    CDF_IRP_MJ_CREATE, CDF_IRP_MJ_CLEANUP, CDF_IRP_MJ_CLOSE, CDF_IRP_MJ_DEVICE_CONTROL,
    CDF_IRP_MJ_DEVICE_CONTROL, CDF_IRP_MJ_DEVICE_CONTROL, CDF_IRP_MJ_READ, CDF_IRP_MJ_INTERNAL_DEVICE_CONTROL
};

static cdf_TraceBatch g_batch;
static uint8_t g_out[1u << 16];

typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static uint8_t take(cursor *c)
{
    uint8_t b;
    if (c->n == 0u) return 0u;
    b = *c->p++;
    c->n--;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cdf_config cfg;
    cdf_core *core = NULL;
    uint32_t drives[3];
    cursor c = { data, size };
    uint64_t read_cursor = 0;
    int steps = 0;

    cdf_config_default(&cfg);
    cfg.max_handles = 4;
    cfg.ring_bytes = 8192;
    REQUIRE(cdf_core_create(&cfg, &core) == CDF_STATUS_SUCCESS);
    REQUIRE(cdf_core_add_drive(core, "CdRom0", &drives[0]) == CDF_STATUS_SUCCESS);
    REQUIRE(cdf_core_add_drive(core, "CdRom1", &drives[1]) == CDF_STATUS_SUCCESS);
    drives[2] = 7; /* unknown drive */

    while (c.n != 0u && steps++ < 256) {
        uint8_t op = take(&c), sel, len, i;
        uint32_t drive = drives[take(&c) % 3u], st, ctl_len;
        cdf_request rq;
        cdf_verdict v;
        uint8_t *in = NULL, *out = NULL;

        if (op >= 0xF0u) { /* control steps: policy, trace config, trace read */
            uint8_t req[4] = { 0x08, (uint8_t)(take(&c) % 3u), 0x10, (uint8_t)(1u + (op & 1u)) };
            if ((op & 0x0Fu) < 6u) {
                (void)cdf_control_dispatch(core, CDF_IOCTL_SET_POLICY, CDF_ACCESS_READ | CDF_ACCESS_WRITE,
                                           req, 4, g_out, sizeof(g_out), &ctl_len);
            } else if ((op & 0x0Fu) < 8u) {
                /* capture_bytes, output_capture_bytes (0..127 each) */
                uint8_t tc[4] = { 0x20, (uint8_t)(take(&c) & 0x7Fu), 0x28, (uint8_t)(take(&c) & 0x7Fu) };
                (void)cdf_control_dispatch(core, CDF_IOCTL_SET_TRACE_CONFIG, CDF_ACCESS_READ | CDF_ACCESS_WRITE,
                                           tc, 4, g_out, sizeof(g_out), &ctl_len);
            } else {
                uint8_t rd[12];
                uint32_t n = 0;
                uint64_t cur = read_cursor;
                rd[n++] = 0x08;
                do { rd[n++] = (uint8_t)((cur & 0x7Fu) | (cur >= 0x80u ? 0x80u : 0u)); cur >>= 7; } while (cur);
                st = cdf_control_dispatch(core, CDF_IOCTL_READ_TRACE, CDF_ACCESS_READ, rd, n, g_out,
                                          (uint32_t)(200u + take(&c) * 64u), &ctl_len);
                REQUIRE(st == CDF_STATUS_SUCCESS || st == CDF_STATUS_BUFFER_TOO_SMALL);
                if (st == CDF_STATUS_SUCCESS) {
                    REQUIRE(cdf_TraceBatch_decode(&g_batch, g_out, ctl_len) == CDF_PB_OK);
                    if (g_batch.records_count) REQUIRE(g_batch.records[0].seq == read_cursor + 1u + g_batch.dropped);
                    read_cursor = g_batch.next_cursor;
                }
            }
            REQUIRE(cdf_core_check_invariants(core) == 0);
            continue;
        }

        memset(&rq, 0, sizeof(rq));
        rq.major = k_majors[op & 7u];
        sel = take(&c);
        rq.file.opaque = (uintptr_t)(sel % 6u) * 0x40u; /* 0 = no file object */
        rq.pid = 100u + (sel >> 4);
        rq.tid = rq.pid * 10u;
        rq.requestor_pid = rq.pid;
        rq.flags = take(&c) & 7u;
        sel = take(&c);
        if (sel < 0xE0u) {
            rq.ioctl_code = k_codes[sel % (sizeof(k_codes) / sizeof(k_codes[0]))];
        } else {
            rq.ioctl_code = (uint32_t)take(&c) | ((uint32_t)take(&c) << 8) | ((uint32_t)take(&c) << 16) |
                            ((uint32_t)take(&c) << 24);
        }
        len = take(&c);
        if (len > c.n) len = (uint8_t)c.n;
        if (len != 0u || (op & 0x10u)) {
            in = (uint8_t *)malloc(len ? len : 1u);
            for (i = 0; i < len; i++) in[i] = take(&c);
        }
        rq.input = in;
        rq.input_length = len;
        rq.output_length = take(&c);
        rq.image_name = (op & 0x20u) ? "fuzz.exe" : NULL;

        cdf_core_dispatch(core, drive, &rq, &v);
        if (v.simple_unlocks != 0u) {
            /* the host's MEDIA_REMOVAL(FALSE) sends: any number of them may have failed */
            uint32_t ok = take(&c);
            cdf_core_simple_unlocks_done(core, drive, &rq, &v, ok % (v.simple_unlocks + 1u),
                                         CDF_STATUS_NO_MEDIA_IN_DEVICE);
            REQUIRE(cdf_core_check_invariants(core) == 0);
        }
        if (v.action == CDF_ACTION_COMPLETE) {
            REQUIRE(v.status == CDF_STATUS_INFO_LENGTH_MISMATCH || v.status == CDF_STATUS_INVALID_HANDLE ||
                    v.status == CDF_STATUS_INVALID_DEVICE_STATE || v.status == CDF_STATUS_DEVICE_BUSY ||
                    v.status == CDF_STATUS_INSUFFICIENT_RESOURCES);
            cdf_core_complete(core, drive, &rq, &v, v.status, 0u);
        } else if (v.action == CDF_ACTION_FORWARD_TRACK) {
            REQUIRE(cdf_core_check_invariants(core) == 0);
            st = k_status[take(&c) % (sizeof(k_status) / sizeof(k_status[0]))];
            /* output capture: exactly output_length bytes, so ASan sees any read past them */
            out = (uint8_t *)malloc(rq.output_length ? rq.output_length : 1u);
            memset(out, 0xA5, rq.output_length ? rq.output_length : 1u);
            rq.output = out;
            cdf_core_complete(core, drive, &rq, &v, st, take(&c));
        } else {
            REQUIRE(v.action == CDF_ACTION_FORWARD);
        }
        if (rq.major != CDF_IRP_MJ_CLOSE) REQUIRE(v.simple_unlocks == 0u);
        free(in);
        free(out);
        REQUIRE(cdf_core_check_invariants(core) == 0);
    }
    cdf_core_destroy(core);
    return 0;
}
