/*
 * core_control.c - libFuzzer target for the whole control dispatcher (cdf_control_dispatch).
 *
 * Input: byte 0 picks the IOCTL (one of the ten control codes, or a raw 32-bit code from bytes
 * 4..7 when byte 0 >= 0xF0); byte 1: bits 0-1 granted access, bit 2 in/out aliasing (the
 * METHOD_BUFFERED SystemBuffer), bits 3-4 how much request path traffic runs first; bytes 2-3
 * out_cap (little endian); the rest is the request message.
 * Asserted: out_len <= out_cap (and the exact-size out buffer never overflows: ASan), the status
 * is one of the documented ones, a successful reply decodes as the rpc's reply type, the core's
 * invariants hold afterwards.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cdf_core.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"
#include "../c/core_testlib.h"

static const uint32_t k_codes[] = {
    CDF_IOCTL_GET_INFO, CDF_IOCTL_LIST_DRIVES, CDF_IOCTL_GET_LEDGER, CDF_IOCTL_GET_POLICY,
    CDF_IOCTL_SET_POLICY, CDF_IOCTL_GET_TRACE_CONFIG, CDF_IOCTL_SET_TRACE_CONFIG,
    CDF_IOCTL_READ_TRACE, CDF_IOCTL_WAIT_TRACE, CDF_IOCTL_CLEAR_TRACE
};

static union {
    cdf_InfoReply info;
    cdf_DrivesReply drives;
    cdf_LedgerSnapshot ledger;
    cdf_PolicyReply policy;
    cdf_TraceConfig config;
    cdf_TraceBatch batch;
    cdf_ClearTraceReply clear;
} g_reply;

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "core_control: %s\n", #c); abort(); } } while (0)

static void traffic(cdf_core *core, uint32_t drive, uint32_t rounds)
{
    uint32_t i;
    for (i = 0; i < rounds; i++) {
        uintptr_t fo = 0x100u * (i % 3u + 1u);
        (void)tl_open(core, drive, fo, 10u + i % 3u, i % 2u ? "a.exe" : "\xC3\xA9t\xC3\xA9.exe");
        (void)tl_lock(core, drive, CDF_IOCTL_STORAGE_EJECTION_CONTROL, fo, 10u, 1, CDF_STATUS_SUCCESS, NULL);
        (void)tl_lock(core, drive, CDF_IOCTL_STORAGE_MEDIA_REMOVAL, fo, 10u, 1, CDF_STATUS_SUCCESS, NULL);
        (void)tl_ioctl(core, drive, CDF_IOCTL_STORAGE_EJECT_MEDIA, 0x900u, 11u, NULL, 0, CDF_STATUS_SUCCESS, NULL);
    }
}

static int decodes(uint32_t code, const uint8_t *p, uint32_t n)
{
    switch (code) {
    case CDF_IOCTL_GET_INFO: return cdf_InfoReply_decode(&g_reply.info, p, n);
    case CDF_IOCTL_LIST_DRIVES: return cdf_DrivesReply_decode(&g_reply.drives, p, n);
    case CDF_IOCTL_GET_LEDGER: return cdf_LedgerSnapshot_decode(&g_reply.ledger, p, n);
    case CDF_IOCTL_GET_POLICY: case CDF_IOCTL_SET_POLICY: return cdf_PolicyReply_decode(&g_reply.policy, p, n);
    case CDF_IOCTL_GET_TRACE_CONFIG: case CDF_IOCTL_SET_TRACE_CONFIG: return cdf_TraceConfig_decode(&g_reply.config, p, n);
    case CDF_IOCTL_READ_TRACE: case CDF_IOCTL_WAIT_TRACE: return cdf_TraceBatch_decode(&g_reply.batch, p, n);
    default: return cdf_ClearTraceReply_decode(&g_reply.clear, p, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cdf_config cfg;
    cdf_core *core = NULL;
    uint32_t drives[2], code, access, out_cap, out_len = 12345u, st, in_len;
    int alias;
    uint8_t *buf, *in;
    size_t header = 4u;

    if (size < 4u) return 0;
    if (data[0] >= 0xF0u) {
        if (size < 8u) return 0;
        code = (uint32_t)data[4] | ((uint32_t)data[5] << 8) | ((uint32_t)data[6] << 16) | ((uint32_t)data[7] << 24);
        header = 8u;
    } else {
        code = k_codes[data[0] % 10u];
    }
    access = data[1] & 3u;
    alias = (data[1] & 4u) != 0u;
    out_cap = (uint32_t)data[2] | ((uint32_t)data[3] << 8);
    if (data[1] & 0x80u) out_cap *= 4u; /* up to 256 KiB: whole ledger snapshots */
    in_len = (uint32_t)(size - header);

    cdf_config_default(&cfg);
    cfg.max_handles = 8;
    cfg.ring_bytes = 8192;
    cfg.driver_version = "fuzz";
    REQUIRE(cdf_core_create(&cfg, &core) == CDF_STATUS_SUCCESS);
    REQUIRE(cdf_core_add_drive(core, "CdRom0", &drives[0]) == CDF_STATUS_SUCCESS);
    REQUIRE(cdf_core_add_drive(core, "CdRom1", &drives[1]) == CDF_STATUS_SUCCESS);
    traffic(core, drives[(data[1] >> 5) & 1u], (data[1] >> 3) & 3u);

    if (alias) {
        uint32_t cap = out_cap > in_len ? out_cap : in_len;
        buf = (uint8_t *)malloc(cap ? cap : 1u);
        if (in_len) memcpy(buf, data + header, in_len);
        st = cdf_control_dispatch(core, code, access, in_len ? buf : NULL, in_len, buf, out_cap, &out_len);
        in = NULL;
    } else {
        in = (uint8_t *)malloc(in_len ? in_len : 1u);
        if (in_len) memcpy(in, data + header, in_len);
        buf = (uint8_t *)malloc(out_cap ? out_cap : 1u);
        st = cdf_control_dispatch(core, code, access, in_len ? in : NULL, in_len, out_cap ? buf : NULL, out_cap, &out_len);
    }
    REQUIRE(out_len <= out_cap);
    REQUIRE(st == CDF_STATUS_SUCCESS || st == CDF_STATUS_INVALID_DEVICE_REQUEST ||
            st == CDF_STATUS_ACCESS_DENIED || st == CDF_STATUS_INVALID_PARAMETER ||
            st == CDF_STATUS_BUFFER_TOO_SMALL || st == CDF_STATUS_PENDING);
    if (st != CDF_STATUS_SUCCESS) REQUIRE(out_len == 0u);
    if (st == CDF_STATUS_SUCCESS) REQUIRE(decodes(code, buf, out_len) == CDF_PB_OK);
    if (st == CDF_STATUS_PENDING) REQUIRE(code == CDF_IOCTL_WAIT_TRACE);
    REQUIRE(cdf_core_check_invariants(core) == 0);
    free(buf);
    free(in);
    cdf_core_destroy(core);
    return 0;
}
