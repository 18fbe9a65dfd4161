/*
 * output_capture.c - output capture at completion (TraceConfig.output_capture_bytes,
 * TraceRecord.output_head/output_truncated) and the protocol version check, through the core's
 * request path and control dispatcher (ASan + UBSan build, analysis-check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cdf_core.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"
#include "core_testlib.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ(a, b) do { unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
    if (a_ != b_) { failures++; fprintf(stderr, "%s:%d: %s == 0x%llx, expected %s == 0x%llx\n", \
    __FILE__, __LINE__, #a, a_, #b, b_); } } while (0)

#define RW (CDF_ACCESS_READ | CDF_ACCESS_WRITE)
#define IOCTL_STORAGE_GET_DEVICE_NUMBER 0x002D1080u /* METHOD_BUFFERED (ntddstor.h) */
#define IOCTL_CDROM_RAW_READ            0x0002403Eu /* METHOD_OUT_DIRECT (ntddcdrm.h) */
static uint8_t g_out[1u << 18];
static cdf_TraceBatch *g_batch;

static uint32_t set_capture(cdf_core *core, uint32_t input_cap, uint32_t output_cap, cdf_TraceConfig *reply)
{
    cdf_TraceConfig m;
    uint8_t buf[64];
    size_t n;
    uint32_t len = 0, st;
    cdf_TraceConfig_init(&m);
    m.capture_bytes = input_cap;
    m.output_capture_bytes = output_cap;
    CHECK_EQ(cdf_TraceConfig_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
    st = cdf_control_dispatch(core, CDF_IOCTL_SET_TRACE_CONFIG, RW, buf, (uint32_t)n, g_out, sizeof(g_out), &len);
    if (st == CDF_STATUS_SUCCESS && reply != NULL) CHECK_EQ(cdf_TraceConfig_decode(reply, g_out, len), CDF_PB_OK);
    return st;
}

/* The newest COMPLETION record (and the dispatch before it in *dispatch). */
static const cdf_TraceRecord *last_completion(cdf_core *core, const cdf_TraceRecord **dispatch)
{
    uint8_t req[2] = {0x10, 0x00}; /* max_records = 0: as many as fit */
    uint32_t len = 0, i;
    const cdf_TraceRecord *c = NULL;
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_READ_TRACE, CDF_ACCESS_READ, req, 2, g_out, sizeof(g_out), &len),
             CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_TraceBatch_decode(g_batch, g_out, len), CDF_PB_OK);
    for (i = 0; i < g_batch->records_count; i++) {
        if (g_batch->records[i].kind == CDF_RECORD_KIND_COMPLETION) {
            c = &g_batch->records[i];
            if (dispatch != NULL) *dispatch = i > 0 ? &g_batch->records[i - 1] : NULL;
        }
    }
    return c;
}

/* One device control or read completed by the "lower driver" with `information` bytes of
 * output written to a buffer of out_len bytes (0x40, 0x41, ...). */
static const cdf_TraceRecord *run(cdf_core *core, uint32_t drive, uint32_t major, uint32_t code, uint32_t flags,
                                  uint32_t out_len, uint64_t information, uint32_t status)
{
    static uint8_t buf[512];
    uint8_t in[4] = {1, 2, 3, 4};
    cdf_verdict v;
    uint32_t i;
    cdf_request rq = tl_request(major, code, 0x1000u, 100u, major == CDF_IRP_MJ_DEVICE_CONTROL ? in : NULL,
                                major == CDF_IRP_MJ_DEVICE_CONTROL ? 4u : 0u);
    rq.flags = flags;
    rq.output_length = out_len;
    cdf_core_dispatch(core, drive, &rq, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    for (i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(0x40u + i);
    rq.output = buf;
    cdf_core_complete(core, drive, &rq, &v, status, information);
    return last_completion(core, NULL);
}

static void expect_head(const cdf_TraceRecord *r, uint32_t n, int truncated)
{
    uint32_t i;
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK_EQ(r->output_head.size, n);
    CHECK_EQ(r->output_truncated, truncated);
    CHECK_EQ(r->input_head.size, 0u); /* a completion never carries input */
    for (i = 0; i < n && i < r->output_head.size; i++) CHECK_EQ(r->output_head.bytes[i], 0x40u + i);
}

static void test_output_capture(void)
{
    cdf_core *core = NULL;
    cdf_TraceConfig cfg;
    const cdf_TraceRecord *d = NULL, *c;
    uint32_t drive;
    CHECK_EQ(cdf_core_create(NULL, &core), CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_core_add_drive(core, "CdRom0", &drive), CDF_STATUS_SUCCESS);

    /* off by default */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 12,
                    CDF_STATUS_SUCCESS), 0, 0);

    CHECK_EQ(set_capture(core, 64, 16, &cfg), CDF_STATUS_SUCCESS);
    CHECK_EQ(cfg.output_capture_bytes, 16u);
    CHECK_EQ(cfg.capture_bytes, 64u);
    /* over the bound: refused, the configuration unchanged */
    CHECK_EQ(set_capture(core, 64, 257, NULL), CDF_STATUS_INVALID_PARAMETER);

    /* METHOD_BUFFERED device control: information bytes, capped, truncation flagged */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 12,
                    CDF_STATUS_SUCCESS), 12, 0);
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 40,
                    CDF_STATUS_SUCCESS), 16, 1);
    /* information beyond the caller's output length is bounded by it */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 8, 100,
                    CDF_STATUS_SUCCESS), 8, 0);
    /* STATUS_BUFFER_OVERFLOW: partial data is valid */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 4,
                    CDF_STATUS_BUFFER_OVERFLOW), 4, 0);
    /* an error status: nothing was returned */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 12,
                    CDF_STATUS_INVALID_DEVICE_REQUEST), 0, 0);
    /* a kernel-mode requestor's buffer is never captured */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, CDF_RQ_KERNEL_MODE,
                    64, 12, CDF_STATUS_SUCCESS), 0, 0);
    /* not METHOD_BUFFERED */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_CDROM_RAW_READ, 0, 64, 12, CDF_STATUS_SUCCESS),
                0, 0);
    /* reads: the host's mapped buffer */
    expect_head(run(core, drive, CDF_IRP_MJ_READ, 0, 0, 2048, 2048, CDF_STATUS_SUCCESS), 16, 1);
    /* nothing returned: nothing captured, not truncated */
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 0,
                    CDF_STATUS_SUCCESS), 0, 0);

    /* the dispatch record keeps its input head */
    (void)run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 12, CDF_STATUS_SUCCESS);
    c = last_completion(core, &d);
    CHECK(d != NULL && c != NULL);
    if (d != NULL) {
        CHECK_EQ(d->kind, CDF_RECORD_KIND_DISPATCH);
        CHECK_EQ(d->input_head.size, 4u);
        CHECK_EQ(d->output_head.size, 0u);
    }

    /* off again */
    CHECK_EQ(set_capture(core, 64, 0, &cfg), CDF_STATUS_SUCCESS);
    expect_head(run(core, drive, CDF_IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_GET_DEVICE_NUMBER, 0, 64, 12,
                    CDF_STATUS_SUCCESS), 0, 0);
    CHECK_EQ(cdf_core_check_invariants(core), 0);
    cdf_core_destroy(core);
}

static int compatible(cdf_core *core, uint32_t client_version)
{
    cdf_InfoRequest m;
    cdf_InfoReply *r = (cdf_InfoReply *)malloc(sizeof(*r));
    uint8_t buf[96];
    size_t n;
    uint32_t len = 0;
    int ok = -1;
    cdf_InfoRequest_init(&m);
    m.client_protocol_version = client_version;
    CHECK_EQ(cdf_InfoRequest_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_GET_INFO, CDF_ACCESS_READ, buf, (uint32_t)n, g_out, sizeof(g_out), &len),
             CDF_STATUS_SUCCESS);
    if (r != NULL && cdf_InfoReply_decode(r, g_out, len) == CDF_PB_OK) {
        CHECK_EQ(r->protocol_version, CDF_PROTOCOL_VERSION);
        ok = r->compatible;
    }
    free(r);
    return ok;
}

static void test_protocol_versions(void)
{
    cdf_core *core = NULL;
    CHECK_EQ(cdf_core_create(NULL, &core), CDF_STATUS_SUCCESS);
    CHECK(CDF_PROTOCOL_VERSION >= 2u);
    CHECK_EQ(compatible(core, 0u), 1); /* a client that does not say */
    CHECK_EQ(compatible(core, 1u), 1); /* version 1 clients keep working: every change is additive */
    CHECK_EQ(compatible(core, CDF_PROTOCOL_VERSION), 1);
    CHECK_EQ(compatible(core, CDF_PROTOCOL_VERSION + 1u), 0);
    cdf_core_destroy(core);
}

int main(void)
{
    g_batch = (cdf_TraceBatch *)malloc(sizeof(*g_batch));
    if (g_batch == NULL) return 2;
    test_output_capture();
    test_protocol_versions();
    free(g_batch);
    if (failures) {
        fprintf(stderr, "output_capture: %d check(s) failed\n", failures);
        return 1;
    }
    printf("output_capture: ok\n");
    return 0;
}
