/*
 * core_unit.c - direct tests of driver/core's rules, trace ring and control dispatcher, with
 * the expected NTSTATUS, verdict, ledger and records for each step (ASan + UBSan build,
 * core-unit-check). The large rule table through the simulator lives in the vitest suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cdf_core.h"
#include "cdf_internal.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"
#include "core_testlib.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ(a, b) do { unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
    if (a_ != b_) { failures++; fprintf(stderr, "%s:%d: %s == 0x%llx, expected %s == 0x%llx\n", \
    __FILE__, __LINE__, #a, a_, #b, b_); } } while (0)
#define INVARIANTS(core) CHECK_EQ(cdf_core_check_invariants(core), 0)

#define RW (CDF_ACCESS_READ | CDF_ACCESS_WRITE)
static uint8_t g_out[1u << 18];
static cdf_LedgerSnapshot *g_snap;
static cdf_TraceBatch *g_batch;

static uint32_t control(cdf_core *core, uint32_t code, const uint8_t *in, uint32_t in_len, uint32_t *out_len)
{
    return cdf_control_dispatch(core, code, RW, in, in_len, g_out, sizeof(g_out), out_len);
}

static const cdf_DriveLedger *ledger(cdf_core *core, uint32_t drive)
{
    uint8_t req[8];
    uint32_t n = 0, len;
    req[n++] = 0x08;
    req[n++] = (uint8_t)drive;
    CHECK_EQ(control(core, CDF_IOCTL_GET_LEDGER, req, n, &len), CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_LedgerSnapshot_decode(g_snap, g_out, len), CDF_PB_OK);
    CHECK_EQ(g_snap->drives_count, 1u);
    return &g_snap->drives[0];
}

static const cdf_LockOwner *owner(const cdf_DriveLedger *dl, uint32_t pid)
{
    uint32_t i;
    for (i = 0; i < dl->owners_count; i++) if (dl->owners[i].pid == pid) return &dl->owners[i];
    return NULL;
}

static void set_policy(cdf_core *core, uint32_t drive, int32_t policy)
{
    cdf_SetPolicyRequest m;
    uint8_t buf[32];
    size_t n;
    uint32_t len;
    cdf_SetPolicyRequest_init(&m);
    m.drive_id = drive;
    m.policy = policy;
    CHECK_EQ(cdf_SetPolicyRequest_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
    CHECK_EQ(control(core, CDF_IOCTL_SET_POLICY, buf, (uint32_t)n, &len), CDF_STATUS_SUCCESS);
}

/* Read every record after `after` (one batch). */
static const cdf_TraceBatch *read_trace(cdf_core *core, uint64_t after, uint32_t out_cap, uint32_t *status)
{
    cdf_TraceReadRequest m;
    uint8_t buf[32];
    size_t n;
    uint32_t len = 0;
    cdf_TraceReadRequest_init(&m);
    m.after_seq = after;
    CHECK_EQ(cdf_TraceReadRequest_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
    *status = cdf_control_dispatch(core, CDF_IOCTL_READ_TRACE, CDF_ACCESS_READ, buf, (uint32_t)n,
                                   g_out, out_cap, &len);
    CHECK(len <= out_cap);
    cdf_TraceBatch_init(g_batch);
    if (*status == CDF_STATUS_SUCCESS) CHECK_EQ(cdf_TraceBatch_decode(g_batch, g_out, len), CDF_PB_OK);
    return g_batch;
}

static uint64_t newest_seq(cdf_core *core)
{
    uint32_t st;
    return read_trace(core, ~0ull, sizeof(g_out), &st)->newest_seq;
}

/* The last record of kind `kind` after `after`, or NULL. */
static const cdf_TraceRecord *last_record(cdf_core *core, uint64_t after, int32_t kind)
{
    uint32_t st, i;
    const cdf_TraceBatch *b = read_trace(core, after, sizeof(g_out), &st);
    const cdf_TraceRecord *r = NULL;
    for (i = 0; i < b->records_count; i++) if (b->records[i].kind == kind) r = &b->records[i];
    return r;
}

static cdf_core *make_core(uint32_t max_handles, uint32_t ring_bytes, uint32_t drives, uint32_t *ids)
{
    cdf_config cfg;
    cdf_core *core = NULL;
    uint32_t i;
    char name[16];
    cdf_config_default(&cfg);
    cfg.max_handles = max_handles;
    cfg.ring_bytes = ring_bytes;
    cfg.host_kind = 2;
    cfg.driver_version = "0.1.0-test";
    CHECK_EQ(cdf_core_create(&cfg, &core), CDF_STATUS_SUCCESS);
    for (i = 0; i < drives; i++) {
        snprintf(name, sizeof(name), "CdRom%u", i);
        CHECK_EQ(cdf_core_add_drive(core, name, &ids[i]), CDF_STATUS_SUCCESS);
    }
    return core;
}

enum { FO_A = 0x1000, FO_B = 0x2000, FO_C = 0x3000, PID_A = 100, PID_B = 200, PID_C = 300 };

static void test_config(void)
{
    cdf_config cfg;
    cdf_core *core = NULL;
    cdf_config_default(&cfg);
    CHECK_EQ(cfg.ring_bytes, 1048576u);
    CHECK_EQ(cfg.max_drives, 16u);
    cfg.max_drives = 17;
    CHECK_EQ(cdf_core_create(&cfg, &core), CDF_STATUS_INVALID_PARAMETER);
    cdf_config_default(&cfg);
    cfg.ring_bytes = 100;
    CHECK_EQ(cdf_core_create(&cfg, &core), CDF_STATUS_INVALID_PARAMETER);
    cdf_config_default(&cfg);
    cfg.driver_version = "0123456789012345678901234567890123"; /* 34 bytes */
    CHECK_EQ(cdf_core_create(&cfg, &core), CDF_STATUS_INVALID_PARAMETER);
    CHECK(core == NULL);
}

static void test_normalize_and_scsi(void)
{
    uint8_t spt[CDF_SPT64_SIZE];
    uint32_t n;
    CHECK_EQ(cdf_normalize_ioctl(CDF_IOCTL_CDROM_MEDIA_REMOVAL), CDF_IOCTL_STORAGE_MEDIA_REMOVAL);
    CHECK_EQ(cdf_normalize_ioctl(CDF_IOCTL_DISK_EJECT_MEDIA), CDF_IOCTL_STORAGE_EJECT_MEDIA);
    CHECK_EQ(cdf_normalize_ioctl(0x00334808u), CDF_IOCTL_STORAGE_EJECT_MEDIA);           /* DVD base */
    CHECK_EQ(cdf_normalize_ioctl(0x00020940u), CDF_IOCTL_STORAGE_EJECTION_CONTROL);      /* CDROM 0x250 */
    CHECK_EQ(cdf_normalize_ioctl(CDF_IOCTL_CDROM_READ_TOC), CDF_IOCTL_CDROM_READ_TOC);   /* function 0 */
    CHECK_EQ(cdf_normalize_ioctl(CDF_CTL_CODE(2, 0x301, 0, 1)), CDF_CTL_CODE(2, 0x301, 0, 1));
    CHECK_EQ(cdf_normalize_ioctl(CDF_IOCTL_SCSI_PASS_THROUGH), CDF_IOCTL_SCSI_PASS_THROUGH);

    n = tl_spt(spt, 0, 0x1B, 0x02);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 0, NULL), CDF_SCSI_EJECT);
    /* short input (the port driver rejects it) whose CDB is readable: classified by the CDB */
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n - 1u, 0, NULL), CDF_SCSI_EJECT);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, CDF_SPT64_CDB_OFFSET + 4u, 0, NULL),
             CDF_SCSI_MALFORMED);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 1, NULL), CDF_SCSI_MALFORMED);
    n = tl_spt(spt, 1, 0x1B, 0x02);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT, spt, n, 1, NULL), CDF_SCSI_EJECT);
    n = tl_spt(spt, 0, 0x1B, 0x03);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 0, NULL), CDF_SCSI_LOAD);
    n = tl_spt(spt, 0, 0x1B, 0x01);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 0, NULL), CDF_SCSI_OTHER);
    n = tl_spt(spt, 0, 0x1E, 0x00);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 0, NULL), CDF_SCSI_ALLOW);
    n = tl_spt(spt, 0, 0x1E, 0x01);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 0, NULL), CDF_SCSI_PREVENT);
    spt[CDF_SPT_CDB_LENGTH_OFFSET] = 17; /* malformed, but the CDB is read all the same */
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 0, NULL), CDF_SCSI_PREVENT);
    n = tl_spt(spt, 0, 0x00, 0x00);
    spt[CDF_SPT_CDB_LENGTH_OFFSET] = 0;   /* malformed and harmless */
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH, spt, n, 0, NULL), CDF_SCSI_MALFORMED);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_STORAGE_EJECT_MEDIA, spt, n, 0, NULL), CDF_SCSI_NOT_PASSTHROUGH);
}

static void test_secure_rules(void)
{
    uint32_t id[2], st;
    cdf_verdict v;
    uint64_t mark;
    const cdf_DriveLedger *dl;
    const cdf_TraceRecord *r;
    cdf_core *core = make_core(64, 1u << 20, 2, id);
    uint8_t spt[CDF_SPT64_SIZE];
    uint32_t n;

    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "burner.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "player.exe"), CDF_STATUS_SUCCESS);
    r = last_record(core, 0, CDF_RECORD_KIND_HANDLE_OPEN);
    CHECK(r != NULL && r->opener_pid == PID_B && strcmp(r->opener_image, "player.exe") == 0);

    /* lock by A: counted at successful completion */
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->secure_total, 1u);
    CHECK(owner(dl, PID_A) != NULL && owner(dl, PID_A)->secure_count == 1u && owner(dl, PID_A)->since != 0u);
    CHECK(strcmp(owner(dl, PID_A)->image_name, "burner.exe") == 0);
    INVARIANTS(core);

    /* lower failure leaves the ledger alone */
    mark = newest_seq(core);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_NO_MEDIA_IN_DEVICE, &v);
    CHECK_EQ(st, CDF_STATUS_NO_MEDIA_IN_DEVICE);
    CHECK_EQ(ledger(core, id[0])->secure_total, 1u);
    r = last_record(core, mark, CDF_RECORD_KIND_COMPLETION);
    CHECK(r != NULL && r->reason == CDF_REASON_LOWER_FAILED && r->status == CDF_STATUS_NO_MEDIA_IN_DEVICE);

    /* short input / no file object: rejected as cdrom.sys does, not forwarded */
    st = tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_INFO_LENGTH_MISMATCH);
    CHECK_EQ(v.action, CDF_ACTION_COMPLETE);
    st = tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_A, PID_A, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_INFO_LENGTH_MISMATCH);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, 0, PID_A, 1, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_INVALID_HANDLE);
    CHECK_EQ(v.action, CDF_ACTION_COMPLETE);

    /* foreign unlock under observe: forwarded, recorded, ledger unchanged */
    mark = newest_seq(core);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_B, PID_B, 0, CDF_STATUS_INVALID_DEVICE_STATE, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
    CHECK(r != NULL && r->reason == CDF_REASON_FOREIGN_SECURE_UNLOCK && r->decision == CDF_DECISION_TRACK);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->secure_total, 1u);
    CHECK_EQ(dl->foreign_unlocks, 1u);

    /* eject under observe: forwarded with WOULD_DENY */
    mark = newest_seq(core);
    (void)tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_B, PID_B, NULL, 0, CDF_STATUS_DEVICE_BUSY, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
    CHECK(r != NULL && r->reason == CDF_REASON_WOULD_DENY);

    /* enforce */
    set_policy(core, id[0], CDF_POLICY_ENFORCE);
    mark = newest_seq(core);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_B, PID_B, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_INVALID_DEVICE_STATE);
    CHECK_EQ(v.action, CDF_ACTION_COMPLETE);
    r = last_record(core, mark, CDF_RECORD_KIND_COMPLETION);
    CHECK(r != NULL && r->decision == CDF_DECISION_DENY && r->reason == CDF_REASON_FOREIGN_SECURE_UNLOCK &&
          r->status == CDF_STATUS_INVALID_DEVICE_STATE && r->request_id != 0u);
    st = tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_B, PID_B, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_DEVICE_BUSY);
    st = tl_ioctl(core, id[0], CDF_IOCTL_CDROM_EJECT_MEDIA, FO_B, PID_B, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_DEVICE_BUSY);
    st = tl_ioctl(core, id[0], CDF_IOCTL_DISK_EJECT_MEDIA, FO_B, PID_B, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_DEVICE_BUSY);
    /* the sole owner's eject reaches cdrom.sys (which refuses it itself) */
    (void)tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_A, PID_A, NULL, 0, CDF_STATUS_DEVICE_BUSY, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    /* pass-through */
    n = tl_spt(spt, 0, 0x1B, 0x02);
    mark = newest_seq(core);
    st = tl_ioctl(core, id[0], CDF_IOCTL_SCSI_PASS_THROUGH, FO_B, PID_B, spt, n, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_DEVICE_BUSY);
    r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
    CHECK(r != NULL && r->reason == CDF_REASON_PASSTHROUGH_EJECT_UNDER_LOCK && r->input_head.size == n);
    n = tl_spt(spt, 1, 0x1B, 0x02);
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT, FO_B, PID_B, spt, n);
        rq.flags = CDF_RQ_CALLER_32BIT;
        CHECK_EQ(tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, &v), CDF_STATUS_DEVICE_BUSY);
    }
    n = tl_spt(spt, 0, 0x1E, 0x00);
    st = tl_ioctl(core, id[0], CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT, FO_B, PID_B, spt, n, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_DEVICE_BUSY);
    n = tl_spt(spt, 0, 0x1B, 0x03); /* load: allowed */
    st = tl_ioctl(core, id[0], CDF_IOCTL_SCSI_PASS_THROUGH, FO_B, PID_B, spt, n, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    n = tl_spt(spt, 0, 0x1B, 0x02);
    spt[0] = 0x30; /* bad Length: the port driver rejects it, but the eject CDB is denied anyway */
    st = tl_ioctl(core, id[0], CDF_IOCTL_SCSI_PASS_THROUGH, FO_B, PID_B, spt, n, CDF_STATUS_REVISION_MISMATCH, &v);
    CHECK_EQ(v.action, CDF_ACTION_COMPLETE);
    CHECK_EQ(st, CDF_STATUS_DEVICE_BUSY);
    n = tl_spt(spt, 0, 0x00, 0x00);
    spt[0] = 0x30; /* malformed and harmless: forwarded, the port driver answers */
    st = tl_ioctl(core, id[0], CDF_IOCTL_SCSI_PASS_THROUGH, FO_B, PID_B, spt, n, CDF_STATUS_REVISION_MISMATCH, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    /* other drive is unaffected */
    st = tl_ioctl(core, id[1], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_C, PID_C, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->denials, 8u);
    INVARIANTS(core);

    /* owner unlocks; ejects pass again */
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    CHECK_EQ(ledger(core, id[0])->secure_total, 0u);
    st = tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_B, PID_B, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);

    /* two locks; cleanup releases nothing (cdrom.sys has no cleanup callback: the file object
     * holds its secure locks until its close, DeviceEvtFileClose); the close releases both */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], 0x00020940u /* CDROM alias */, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(ledger(core, id[0])->secure_total, 2u);
    mark = newest_seq(core);
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_CLEANUP, 0, FO_A, PID_A, NULL, 0);
        (void)tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, NULL);
    }
    CHECK(last_record(core, mark, CDF_RECORD_KIND_AUTO_RELEASE) == NULL);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->secure_total, 2u);
    CHECK(dl->owners_count == 1u && dl->owners[0].secure_count == 2u && dl->owners[0].closing);
    INVARIANTS(core);
    mark = newest_seq(core);
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_CLOSE, 0, FO_A, PID_A, NULL, 0);
        (void)tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, NULL);
    }
    r = last_record(core, mark, CDF_RECORD_KIND_AUTO_RELEASE);
    CHECK(r != NULL && r->count_released == 2u && r->reason == CDF_REASON_HANDLE_CLOSE &&
          r->decision == CDF_DECISION_RELEASE && r->secure_total == 0u && r->request_id == 0u);
    CHECK(last_record(core, mark, CDF_RECORD_KIND_HANDLE_CLOSE) != NULL);
    CHECK_EQ(ledger(core, id[0])->secure_total, 0u);

    /* close without cleanup, process exit */
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "burner.exe"), CDF_STATUS_SUCCESS);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    mark = newest_seq(core);
    tl_close(core, id[0], FO_A, PID_A, CDF_RQ_PROCESS_EXIT, 0, NULL);
    r = last_record(core, mark, CDF_RECORD_KIND_AUTO_RELEASE);
    CHECK(r != NULL && r->count_released == 1u && r->reason == CDF_REASON_PROCESS_EXIT);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->secure_total, 0u);
    INVARIANTS(core);

    tl_close(core, id[0], FO_B, PID_B, 0, 1, NULL);
    cdf_core_destroy(core);
}

static void test_simple_rules(void)
{
    uint32_t id[1], st, unlocks = 99;
    cdf_verdict v;
    uint64_t mark;
    const cdf_DriveLedger *dl;
    const cdf_TraceRecord *r;
    cdf_core *core = make_core(64, 1u << 20, 1, id);

    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_C, PID_C, "c.exe"), CDF_STATUS_SUCCESS);

    /* unlock at zero: no-op success, forwarded */
    mark = newest_seq(core);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_A, PID_A, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    r = last_record(core, mark, CDF_RECORD_KIND_COMPLETION);
    CHECK(r != NULL && r->reason == CDF_REASON_UNLOCK_AT_ZERO);

    /* A locks twice (one via the CDROM alias), B once */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_CDROM_MEDIA_REMOVAL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_B, PID_B, 1, CDF_STATUS_SUCCESS, NULL);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->simple_total, 3u);
    CHECK_EQ(owner(dl, PID_A)->simple_count, 2u);

    /* C unlocks: allowed, charged to the oldest holder (A) */
    mark = newest_seq(core);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_C, PID_C, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    r = last_record(core, mark, CDF_RECORD_KIND_COMPLETION);
    CHECK(r != NULL && r->reason == CDF_REASON_FOREIGN_SIMPLE_UNLOCK && r->simple_total == 2u);
    dl = ledger(core, id[0]);
    CHECK_EQ(owner(dl, PID_A)->simple_count, 1u);
    CHECK_EQ(owner(dl, PID_B)->simple_count, 1u);
    INVARIANTS(core);

    /* observe: close with a simple lock reports the leak but keeps the lock (cdrom.sys) */
    mark = newest_seq(core);
    tl_close(core, id[0], FO_B, PID_B, 0, 1, &unlocks);
    CHECK_EQ(unlocks, 0u);
    r = last_record(core, mark, CDF_RECORD_KIND_LEAK_RELEASE);
    CHECK(r != NULL && r->decision == CDF_DECISION_PASS && r->count_released == 1u &&
          r->reason == CDF_REASON_SIMPLE_LOCK_LEAK);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->simple_total, 2u);
    INVARIANTS(core);

    /* enforce: close releases them and asks the host for as many MEDIA_REMOVAL(FALSE) */
    set_policy(core, 0, CDF_POLICY_ENFORCE);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    mark = newest_seq(core);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, &unlocks);
    CHECK_EQ(unlocks, 2u);
    r = last_record(core, mark, CDF_RECORD_KIND_LEAK_RELEASE);
    CHECK(r != NULL && r->decision == CDF_DECISION_RELEASE && r->count_released == 2u);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->simple_total, 1u); /* B's orphaned lock */
    /* anyone may release the orphan */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_C, PID_C, 0, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(ledger(core, id[0])->simple_total, 0u);

    /* MCN */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_C, PID_C, 1, CDF_STATUS_SUCCESS, NULL);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->mcn_total, 1u);
    CHECK_EQ(owner(dl, PID_C)->mcn_count, 1u);
    st = tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_C, PID_C, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_INFO_LENGTH_MISMATCH);

    /* exclusive access */
    {
        uint8_t ex[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
        (void)tl_ioctl(core, id[0], CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS, FO_C, PID_C, ex, 8, CDF_STATUS_SUCCESS, NULL);
        dl = ledger(core, id[0]);
        CHECK(owner(dl, PID_C) != NULL && owner(dl, PID_C)->exclusive == 1u);
        CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
        mark = newest_seq(core);
        (void)tl_ioctl(core, id[0], CDF_IOCTL_CDROM_READ_TOC, FO_A, PID_A, NULL, 0, CDF_STATUS_ACCESS_DENIED, NULL);
        r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
        CHECK(r != NULL && r->reason == CDF_REASON_EXCLUSIVE_ACCESS);
        ex[0] = 2;
        (void)tl_ioctl(core, id[0], CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS, FO_C, PID_C, ex, 8, CDF_STATUS_SUCCESS, NULL);
        dl = ledger(core, id[0]);
        CHECK(owner(dl, PID_C)->exclusive == 0u);
    }
    tl_close(core, id[0], FO_C, PID_C, 0, 1, NULL);
    CHECK_EQ(ledger(core, id[0])->mcn_total, 0u);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);
    INVARIANTS(core);
    cdf_core_destroy(core);
}

static void test_ledger_full(void)
{
    uint32_t id[1], st;
    cdf_verdict v;
    const cdf_TraceRecord *r;
    cdf_core *core = make_core(2, 1u << 20, 1, id);
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_C, PID_C, "c.exe"), CDF_STATUS_SUCCESS); /* untracked */
    r = last_record(core, 0, CDF_RECORD_KIND_COMPLETION);
    CHECK(r != NULL && r->reason == CDF_REASON_LEDGER_FULL && r->handle_id == 0u);
    /* observe: forwarded, counted as an orphan lock */
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_C, PID_C, 1, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    CHECK_EQ(ledger(core, id[0])->secure_total, 1u);
    INVARIANTS(core);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_C, PID_C, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(ledger(core, id[0])->secure_total, 0u);
    set_policy(core, id[0], CDF_POLICY_ENFORCE);
    /* every entry holds a lock: nothing to evict, a secure lock that could not be owned is refused */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_B, PID_B, 1, CDF_STATUS_SUCCESS, NULL);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_C, PID_C, 1, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_INSUFFICIENT_RESOURCES);
    CHECK_EQ(v.action, CDF_ACTION_COMPLETE);
    CHECK_EQ(ledger(core, id[0])->secure_total, 0u);
    INVARIANTS(core);
    /* an idle entry gives its slot to a lock holder (HANDLE_CLOSE / PASS / HANDLE_EVICTED) */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_B, PID_B, 0, CDF_STATUS_SUCCESS, NULL);
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_C, PID_C, 1, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    r = last_record(core, 0, CDF_RECORD_KIND_HANDLE_CLOSE);
    CHECK(r != NULL && r->reason == CDF_REASON_HANDLE_EVICTED && r->decision == CDF_DECISION_PASS);
    {
        const cdf_DriveLedger *dl = ledger(core, id[0]);
        CHECK_EQ(dl->secure_total, 1u);
        CHECK_EQ(dl->orphan_secure, 0u);
        CHECK_EQ(dl->evictions, 1u);
        CHECK_EQ(dl->untracked_opens, 2u); /* FO_B evicted, FO_C (adopted): counted until their close */
        CHECK(owner(dl, PID_C) != NULL && owner(dl, PID_C)->secure_count == 1u);
    }
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_C, PID_C, 0, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_A, PID_A, 0, CDF_STATUS_SUCCESS, NULL);
    INVARIANTS(core);
    tl_close(core, id[0], FO_C, PID_C, 0, 1, NULL);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);
    tl_close(core, id[0], FO_B, PID_B, 0, 1, NULL);
    INVARIANTS(core);
    cdf_core_destroy(core);
}

static void test_trace(void)
{
    uint32_t id[1], st, i, len, cap;
    uint64_t cursor, total;
    cdf_verdict v;
    const cdf_TraceBatch *b;
    cdf_core *core = make_core(16, 8192, 1, id); /* 18 records */
    uint8_t big[300];

    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    for (i = 0; i < 100; i++) {
        cdf_request rq = tl_request(CDF_IRP_MJ_READ, 0, FO_A, PID_A, NULL, 0);
        rq.offset = i * 2048u;
        (void)tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, NULL);
    }
    /* 3 (create: dispatch, completion, handle open) + 200 records; the ring keeps the newest 18 */
    b = read_trace(core, 0, sizeof(g_out), &st);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    CHECK_EQ(b->newest_seq, 203u);
    CHECK_EQ(b->records_count, 18u);
    CHECK_EQ(b->dropped, 203u - 18u);
    CHECK_EQ(b->records[0].seq, 186u);
    CHECK_EQ(b->next_cursor, 203u);
    CHECK(b->records[1].kind == CDF_RECORD_KIND_COMPLETION || b->records[1].kind == CDF_RECORD_KIND_DISPATCH);

    /* paging with a small buffer: contiguity, no loss */
    cursor = 190;
    total = 0;
    cap = 200;
    while (cursor < 203u) {
        b = read_trace(core, cursor, cap, &st);
        CHECK_EQ(st, CDF_STATUS_SUCCESS);
        if (st != CDF_STATUS_SUCCESS || b->records_count == 0u) break;
        CHECK_EQ(b->records[0].seq, cursor + 1u);
        CHECK_EQ(b->dropped, 0u);
        total += b->records_count;
        cursor = b->next_cursor;
    }
    CHECK_EQ(total, 13u);
    b = read_trace(core, 0, 20, &st);
    CHECK_EQ(st, CDF_STATUS_BUFFER_TOO_SMALL);

    /* WaitTrace: pending at the head, success otherwise */
    {
        uint8_t req[16];
        req[0] = 0x08; req[1] = 203u & 0x7F; req[2] = 203u >> 7; /* after_seq = 203 */
        req[1] |= 0x80;
        st = cdf_control_dispatch(core, CDF_IOCTL_WAIT_TRACE, CDF_ACCESS_READ, req, 3, g_out, sizeof(g_out), &len);
        CHECK_EQ(st, CDF_STATUS_PENDING);
        CHECK_EQ(len, 0u);
        req[1] = 200u & 0x7F; req[1] |= 0x80; req[2] = 200u >> 7;
        st = cdf_control_dispatch(core, CDF_IOCTL_WAIT_TRACE, CDF_ACCESS_READ, req, 3, g_out, sizeof(g_out), &len);
        CHECK_EQ(st, CDF_STATUS_SUCCESS);
    }

    /* ClearTrace: a reader behind the clear sees the cleared records as dropped */
    st = control(core, CDF_IOCTL_CLEAR_TRACE, NULL, 0, &len);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    {
        cdf_ClearTraceReply m;
        CHECK_EQ(cdf_ClearTraceReply_decode(&m, g_out, len), CDF_PB_OK);
        CHECK_EQ(m.cleared_through, 203u);
    }
    b = read_trace(core, 195, sizeof(g_out), &st);
    CHECK_EQ(b->dropped, 8u);
    CHECK_EQ(b->records_count, 0u);
    CHECK_EQ(b->next_cursor, 203u);
    CHECK_EQ(b->oldest_seq, 0u);

    /* capture cap, truncation flag, kernel-mode scrubbing */
    memset(big, 0xAB, sizeof(big));
    (void)tl_ioctl(core, id[0], 0x00070000u, FO_A, PID_A, big, sizeof(big), CDF_STATUS_SUCCESS, &v);
    b = read_trace(core, 203, sizeof(g_out), &st);
    CHECK_EQ(b->records_count, 2u);
    CHECK_EQ(b->records[0].input_head.size, 64u);
    CHECK_EQ(b->records[0].truncated, 1u);
    CHECK_EQ(b->records[0].input_length, 300u);
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, 0x00070000u, FO_A, PID_A, big, sizeof(big));
        uint8_t spt[CDF_SPT64_SIZE];
        uint32_t n = tl_spt(spt, 0, 0x12, 0);
        uint64_t mark = b->newest_seq;
        rq.flags = CDF_RQ_KERNEL_MODE;
        (void)tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, NULL);
        memset(spt + CDF_SPTD64_DATABUFFER_OFFSET, 0xFF, 8);
        rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT, FO_A, PID_A, spt, n);
        rq.flags = CDF_RQ_KERNEL_MODE;
        (void)tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, NULL);
        b = read_trace(core, mark, sizeof(g_out), &st);
        CHECK_EQ(b->records_count, 4u);
        CHECK_EQ(b->records[0].input_head.size, 0u);
        CHECK_EQ(b->records[0].truncated, 1u);
        CHECK_EQ(b->records[2].input_head.size, n);
        for (i = 0; i < 8; i++) CHECK_EQ(b->records[2].input_head.bytes[CDF_SPTD64_DATABUFFER_OFFSET + i], 0u);
    }

    /* kernel-side filter: READ only. Reads traced; the secure lock is tracked but unrecorded;
     * other IOCTLs are plain FORWARD */
    {
        cdf_TraceConfig m;
        uint8_t buf[256];
        size_t n;
        uint64_t mark = newest_seq(core);
        cdf_TraceConfig_init(&m);
        m.majors_count = 1;
        m.majors[0] = CDF_IRP_MJ_READ;
        m.capture_bytes = 16;
        CHECK_EQ(cdf_TraceConfig_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
        CHECK_EQ(control(core, CDF_IOCTL_SET_TRACE_CONFIG, buf, (uint32_t)n, &len), CDF_STATUS_SUCCESS);
        (void)tl_ioctl(core, id[0], CDF_IOCTL_CDROM_READ_TOC, FO_A, PID_A, NULL, 0, CDF_STATUS_SUCCESS, &v);
        CHECK_EQ(v.action, CDF_ACTION_FORWARD);
        (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, &v);
        CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
        CHECK_EQ(ledger(core, id[0])->secure_total, 1u);
        CHECK_EQ(newest_seq(core), mark);
        m.capture_bytes = 257;
        CHECK_EQ(cdf_TraceConfig_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
        CHECK_EQ(control(core, CDF_IOCTL_SET_TRACE_CONFIG, buf, (uint32_t)n, &len), CDF_STATUS_INVALID_PARAMETER);
        m.capture_bytes = 0;
        m.majors[0] = 0x1C;
        CHECK_EQ(cdf_TraceConfig_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
        CHECK_EQ(control(core, CDF_IOCTL_SET_TRACE_CONFIG, buf, (uint32_t)n, &len), CDF_STATUS_INVALID_PARAMETER);
        CHECK_EQ(control(core, CDF_IOCTL_GET_TRACE_CONFIG, NULL, 0, &len), CDF_STATUS_SUCCESS);
        CHECK_EQ(cdf_TraceConfig_decode(&m, g_out, len), CDF_PB_OK);
        CHECK_EQ(m.capture_bytes, 16u);
        CHECK_EQ(m.majors_count, 1u);
    }
    INVARIANTS(core);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);
    cdf_core_destroy(core);
}

static void test_control(void)
{
    uint32_t id[2], st, len;
    cdf_InfoReply info;
    uint8_t buf[512];
    cdf_core *core = make_core(16, 1u << 20, 2, id);

    /* handshake */
    buf[0] = 0x08; buf[1] = 1;
    CHECK_EQ(control(core, CDF_IOCTL_GET_INFO, buf, 2, &len), CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_InfoReply_decode(&info, g_out, len), CDF_PB_OK);
    CHECK_EQ(info.protocol_version, CDF_PROTOCOL_VERSION);
    CHECK_EQ(info.compatible, 1u);
    CHECK_EQ(info.drive_count, 2u);
    CHECK_EQ(info.max_capture_bytes, 256u);
    CHECK_EQ(info.ring_bytes, 1048576u);
    CHECK(info.ring_capacity > 2000u);
    CHECK(strcmp(info.driver_version, "0.1.0-test") == 0);
    CHECK(info.wall_clock_anchor > 116444736000000000ull); /* after 1970 as FILETIME */
    buf[1] = 7;
    CHECK_EQ(control(core, CDF_IOCTL_GET_INFO, buf, 2, &len), CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_InfoReply_decode(&info, g_out, len), CDF_PB_OK);
    CHECK_EQ(info.compatible, 0u);
    CHECK_EQ(control(core, CDF_IOCTL_GET_INFO, NULL, 0, &len), CDF_STATUS_SUCCESS);

    /* failures */
    CHECK_EQ(control(core, 0x8CDF6FFCu, NULL, 0, &len), CDF_STATUS_INVALID_DEVICE_REQUEST);
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_SET_POLICY, CDF_ACCESS_READ, NULL, 0, g_out, sizeof(g_out), &len),
             CDF_STATUS_ACCESS_DENIED);
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_GET_INFO, CDF_ACCESS_WRITE, NULL, 0, g_out, sizeof(g_out), &len),
             CDF_STATUS_ACCESS_DENIED);
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_CLEAR_TRACE, CDF_ACCESS_READ, NULL, 0, g_out, sizeof(g_out), &len),
             CDF_STATUS_ACCESS_DENIED);
    buf[0] = 0x08; buf[1] = 0x80; /* truncated varint */
    CHECK_EQ(control(core, CDF_IOCTL_GET_LEDGER, buf, 2, &len), CDF_STATUS_INVALID_PARAMETER);
    buf[0] = 0x08; buf[1] = 9;    /* unknown drive */
    CHECK_EQ(control(core, CDF_IOCTL_GET_LEDGER, buf, 2, &len), CDF_STATUS_INVALID_PARAMETER);
    CHECK_EQ(control(core, CDF_IOCTL_GET_POLICY, buf, 2, &len), CDF_STATUS_INVALID_PARAMETER);
    buf[0] = 0x08; buf[1] = 1; buf[2] = 0x10; buf[3] = 3; /* policy 3 */
    CHECK_EQ(control(core, CDF_IOCTL_SET_POLICY, buf, 4, &len), CDF_STATUS_INVALID_PARAMETER);
    buf[3] = 0;
    CHECK_EQ(control(core, CDF_IOCTL_SET_POLICY, buf, 4, &len), CDF_STATUS_INVALID_PARAMETER);
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_LIST_DRIVES, CDF_ACCESS_READ, NULL, 0, g_out, 4, &len),
             CDF_STATUS_BUFFER_TOO_SMALL);
    CHECK_EQ(len, 0u);

    /* drives and policies */
    {
        cdf_DrivesReply *dr = (cdf_DrivesReply *)malloc(sizeof(*dr));
        cdf_PolicyReply pr;
        CHECK_EQ(control(core, CDF_IOCTL_LIST_DRIVES, NULL, 0, &len), CDF_STATUS_SUCCESS);
        CHECK_EQ(cdf_DrivesReply_decode(dr, g_out, len), CDF_PB_OK);
        CHECK_EQ(dr->drives_count, 2u);
        CHECK(strcmp(dr->drives[1].name, "CdRom1") == 0);
        CHECK_EQ(dr->drives[0].policy, CDF_POLICY_OBSERVE);
        free(dr);
        buf[0] = 0x08; buf[1] = 2; buf[2] = 0x10; buf[3] = 2;
        CHECK_EQ(control(core, CDF_IOCTL_SET_POLICY, buf, 4, &len), CDF_STATUS_SUCCESS);
        CHECK_EQ(control(core, CDF_IOCTL_GET_POLICY, NULL, 0, &len), CDF_STATUS_SUCCESS);
        CHECK_EQ(cdf_PolicyReply_decode(&pr, g_out, len), CDF_PB_OK);
        CHECK_EQ(pr.drives_count, 2u);
        CHECK_EQ(pr.drives[0].policy, CDF_POLICY_OBSERVE);
        CHECK_EQ(pr.drives[1].policy, CDF_POLICY_ENFORCE);
    }

    /* in and out are the same buffer (METHOD_BUFFERED SystemBuffer) */
    {
        cdf_TraceConfig m;
        size_t n;
        cdf_TraceConfig_init(&m);
        m.ioctl_codes_count = 2;
        m.ioctl_codes[0] = CDF_IOCTL_STORAGE_EJECTION_CONTROL;
        m.ioctl_codes[1] = CDF_IOCTL_STORAGE_MEDIA_REMOVAL;
        m.drive_ids_count = 1;
        m.drive_ids[0] = 1;
        m.capture_bytes = 200;
        CHECK_EQ(cdf_TraceConfig_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
        st = cdf_control_dispatch(core, CDF_IOCTL_SET_TRACE_CONFIG, RW, buf, (uint32_t)n, buf, sizeof(buf), &len);
        CHECK_EQ(st, CDF_STATUS_SUCCESS);
        CHECK_EQ(cdf_TraceConfig_decode(&m, buf, len), CDF_PB_OK);
        CHECK_EQ(m.ioctl_codes_count, 2u);
        CHECK_EQ(m.capture_bytes, 200u);
        CHECK_EQ(m.drive_ids[0], 1u);
    }
    INVARIANTS(core);
    cdf_core_remove_drive(core, id[1]);
    CHECK_EQ(control(core, CDF_IOCTL_LIST_DRIVES, NULL, 0, &len), CDF_STATUS_SUCCESS);
    cdf_core_destroy(core);
}

static int g_notified;
static void on_notify(void *ctx) { (void)ctx; g_notified++; }

static void test_notify(void)
{
    uint32_t id[1], len;
    uint8_t req[2] = { 0x08, 0x03 };
    cdf_core *core = make_core(16, 1u << 20, 1, id);
    cdf_core_set_notify(core, on_notify, NULL);
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(g_notified, 0); /* nobody waits */
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_WAIT_TRACE, CDF_ACCESS_READ, req, 2, g_out, sizeof(g_out), &len),
             CDF_STATUS_PENDING);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(g_notified, 1);
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_WAIT_TRACE, CDF_ACCESS_READ, req, 2, g_out, sizeof(g_out), &len),
             CDF_STATUS_SUCCESS);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);
    tl_close(core, id[0], FO_B, PID_B, 0, 1, NULL);
    cdf_core_destroy(core);
}

static void test_utf8_image(void)
{
    uint32_t id[1];
    const cdf_TraceRecord *r;
    char name[100];
    cdf_core *core = make_core(16, 1u << 20, 1, id);
    memset(name, 'x', sizeof(name));
    memcpy(name + 62, "\xC3\xA9", 2);   /* fits exactly */
    name[64] = '\xE2'; name[65] = '\x82'; name[66] = '\xAC'; /* would cross 64: dropped */
    name[99] = 0;
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, name), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "bad\xFF\xC3-end"), CDF_STATUS_SUCCESS);
    r = last_record(core, 0, CDF_RECORD_KIND_HANDLE_OPEN);
    CHECK(r != NULL && strcmp(r->opener_image, "bad?" "?-end") == 0);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);
    tl_close(core, id[0], FO_B, PID_B, 0, 1, NULL);
    cdf_core_destroy(core);
}


/* SCSI_PASS_THROUGH[_DIRECT]_EX: parsed with the port driver's checks, same rule as SPT. */
static void test_scsi_ex(void)
{
    uint8_t b[CDF_SPTEX64_SIZE + 16];
    uint32_t n, id[1], st;
    cdf_core *core;
    cdf_verdict v;
    const cdf_TraceRecord *r;
    uint64_t mark;

    CHECK_EQ(CDF_IOCTL_SCSI_PASS_THROUGH_EX, 0x4D044u);
    CHECK_EQ(CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX, 0x4D048u);
    n = tl_sptex(b, 0, 0x1B, 0x02);
    CHECK_EQ(n, 64u);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_EJECT);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX, b, n, 0, NULL), CDF_SCSI_EJECT);
    n = tl_sptex(b, 1, 0x1B, 0x02);
    CHECK_EQ(n, 54u); /* sizeof 52 + the CDB's last 2 bytes */
    /* CdbLength 6 past a 52-byte input, byte 4 unreadable */
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, 52u, 1, NULL), CDF_SCSI_MALFORMED);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 1, NULL), CDF_SCSI_EJECT);
    n = tl_sptex(b, 0, 0x1E, 0x00);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_ALLOW);
    n = tl_sptex(b, 0, 0x1E, 0x02); /* Persistent only, Prevent clear: an allow */
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_ALLOW);
    n = tl_sptex(b, 0, 0x1E, 0x01);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_PREVENT);
    /* malformed and harmless: bad Version, bad Length, CdbLength 0 or past the input */
    n = tl_sptex(b, 0, 0x00, 0x00);
    b[0] = 1;
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_MALFORMED);
    n = tl_sptex(b, 0, 0x00, 0x00);
    b[CDF_SPTEX_LENGTH_OFFSET] = 0;
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_MALFORMED);
    n = tl_sptex(b, 0, 0x00, 0x00);
    b[CDF_SPTEX_CDB_LENGTH_OFFSET] = 0;
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_MALFORMED);
    n = tl_sptex(b, 0, 0x00, 0x00);
    b[CDF_SPTEX_CDB_LENGTH_OFFSET] = 9; /* 56 + 9 > 64 */
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_MALFORMED);
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n + 1u, 0, NULL), CDF_SCSI_OTHER);
    /* malformed (Length 0) but an eject: still an eject */
    n = tl_sptex(b, 0, 0x1B, 0x02);
    b[CDF_SPTEX_LENGTH_OFFSET] = 0;
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n, 0, NULL), CDF_SCSI_EJECT);
    /* a 12-byte CDB runs past sizeof: well formed when the input holds it */
    n = tl_sptex(b, 0, 0x1B, 0x02);
    b[CDF_SPTEX_CDB_LENGTH_OFFSET] = 12;
    CHECK_EQ(cdf_scsi_classify(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n + 4u, 0, NULL), CDF_SCSI_EJECT);
    {
        cdf_spt_layout l;
        CHECK_EQ(cdf_scsi_parse(CDF_IOCTL_SCSI_PASS_THROUGH_EX, b, n + 4u, 0, &l, NULL), CDF_SCSI_EJECT);
        CHECK_EQ(l.header_bytes, 68u);
        CHECK_EQ(l.cdb_at, CDF_SPTEX64_CDB_OFFSET);
        CHECK_EQ(l.kind, CDF_SPT_EX);
    }

    /* the rule: another handle's secure lock, enforce -> STATUS_DEVICE_BUSY */
    core = make_core(64, 65536, 1, id);
    set_policy(core, 0, CDF_POLICY_ENFORCE);
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL),
             CDF_STATUS_SUCCESS);
    n = tl_sptex(b, 0, 0x1B, 0x02);
    mark = newest_seq(core);
    st = tl_ioctl(core, id[0], CDF_IOCTL_SCSI_PASS_THROUGH_EX, FO_B, PID_B, b, n, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_DEVICE_BUSY);
    r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
    CHECK(r != NULL && r->reason == CDF_REASON_PASSTHROUGH_EJECT_UNDER_LOCK);
    n = tl_sptex(b, 1, 0x1E, 0x00);
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX, FO_B, PID_B, b, n);
        rq.flags = CDF_RQ_CALLER_32BIT;
        mark = newest_seq(core);
        CHECK_EQ(tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, &v), CDF_STATUS_DEVICE_BUSY);
        r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
        CHECK(r != NULL && r->reason == CDF_REASON_PASSTHROUGH_ALLOW_UNDER_LOCK);
    }
    /* kernel-mode requestor: the header through the CDB is captured, the DIRECT_EX buffer
     * pointers are zeroed */
    n = tl_sptex(b, 0, 0x1B, 0x02);
    memset(b + CDF_SPTDEX64_DATAOUT_OFFSET, 0xAB, 16);
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX, FO_B, PID_B, b, n);
        uint32_t i, nonzero = 0;
        rq.flags = CDF_RQ_KERNEL_MODE;
        mark = newest_seq(core);
        CHECK_EQ(tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, &v), CDF_STATUS_DEVICE_BUSY);
        r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
        CHECK(r != NULL && r->input_head.size == CDF_SPTEX64_CDB_OFFSET + 6u);
        if (r != NULL) {
            for (i = CDF_SPTDEX64_DATAOUT_OFFSET; i < CDF_SPTDEX64_DATAOUT_OFFSET + 16u; i++)
                nonzero |= r->input_head.bytes[i];
            CHECK_EQ(nonzero, 0u);
            CHECK_EQ(r->input_head.bytes[CDF_SPTEX64_CDB_OFFSET], 0x1Bu);
        }
    }
    /* the sole owner may */
    n = tl_sptex(b, 0, 0x1B, 0x02);
    st = tl_ioctl(core, id[0], CDF_IOCTL_SCSI_PASS_THROUGH_EX, FO_A, PID_A, b, n, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    INVARIANTS(core);
    cdf_core_destroy(core);
}

/* The opener image is read at the create's completion: a host buffer that changes after the
 * dispatch (KMDF: it must live in the request context) decides what is recorded. */
static void test_opener_image_lifetime(void)
{
    uint32_t id[1];
    cdf_core *core = make_core(64, 65536, 1, id);
    char image[32];
    cdf_request rq = tl_request(CDF_IRP_MJ_CREATE, 0u, FO_A, PID_A, NULL, 0u);
    cdf_verdict v;
    const cdf_DriveLedger *dl;
    const cdf_TraceRecord *r;
    uint64_t mark = newest_seq(core);

    strcpy(image, "opener.exe");
    rq.image_name = image;
    cdf_core_dispatch(core, id[0], &rq, &v);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    strcpy(image, "overwritten.exe");
    cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 1u);
    r = last_record(core, mark, CDF_RECORD_KIND_HANDLE_OPEN);
    CHECK(r != NULL && strcmp(r->opener_image, "overwritten.exe") == 0);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    dl = ledger(core, id[0]);
    CHECK(owner(dl, PID_A) != NULL && strcmp(owner(dl, PID_A)->image_name, "overwritten.exe") == 0);
    /* a host that cleared image_name before the completion (the KMDF bug) records none */
    rq = tl_request(CDF_IRP_MJ_CREATE, 0u, FO_B, PID_B, NULL, 0u);
    rq.image_name = image;
    cdf_core_dispatch(core, id[0], &rq, &v);
    rq.image_name = NULL;
    mark = newest_seq(core);
    cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 1u);
    r = last_record(core, mark, CDF_RECORD_KIND_HANDLE_OPEN);
    CHECK(r != NULL && r->opener_image[0] == '\0');
    INVARIANTS(core);
    cdf_core_destroy(core);
}

/* Close under enforce: the ledger follows what the MEDIA_REMOVAL(FALSE) sends achieved. */
static void test_simple_unlocks_done(void)
{
    uint32_t id[1], unlocks = 0;
    cdf_core *core = make_core(64, 65536, 1, id);
    const cdf_DriveLedger *dl;
    const cdf_TraceRecord *r;
    uint64_t mark;
    uint32_t st, i;
    const cdf_TraceBatch *b;
    int released_seen = 0, held_seen = 0;

    set_policy(core, 0, CDF_POLICY_ENFORCE);
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    /* the dispatch alone changes nothing */
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_CLOSE, 0u, FO_A, PID_A, NULL, 0u);
        cdf_verdict v;
        cdf_core_dispatch(core, id[0], &rq, &v);
        CHECK_EQ(v.simple_unlocks, 1u);
        CHECK_EQ(ledger(core, id[0])->simple_total, 1u);
        CHECK_EQ(owner(ledger(core, id[0]), PID_A)->simple_count, 1u);
        /* the send failed (no media): cdrom.sys still counts it, now as an orphan */
        mark = newest_seq(core);
        cdf_core_simple_unlocks_done(core, id[0], &rq, &v, 0u, CDF_STATUS_NO_MEDIA_IN_DEVICE);
        r = last_record(core, mark, CDF_RECORD_KIND_LEAK_RELEASE);
        CHECK(r != NULL && r->decision == CDF_DECISION_PASS && r->count_released == 1u &&
              r->status == CDF_STATUS_NO_MEDIA_IN_DEVICE && r->simple_total == 1u);
        cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 0u);
    }
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->simple_total, 1u);
    CHECK(owner(dl, PID_A) == NULL);
    INVARIANTS(core);
    /* anyone may release the orphan */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_C, PID_C, 0, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(ledger(core, id[0])->simple_total, 0u);

    /* three locks, two unlocks succeed: two released, one left held */
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    for (i = 0; i < 3; i++)
        (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_B, PID_B, 1, CDF_STATUS_SUCCESS, NULL);
    mark = newest_seq(core);
    tl_close_ex(core, id[0], FO_B, PID_B, 0, 1, &unlocks, 2u, CDF_STATUS_IO_DEVICE_ERROR);
    CHECK_EQ(unlocks, 3u);
    b = read_trace(core, mark, sizeof(g_out), &st);
    for (i = 0; i < b->records_count; i++) {
        const cdf_TraceRecord *x = &b->records[i];
        if (x->kind != CDF_RECORD_KIND_LEAK_RELEASE) continue;
        if (x->decision == CDF_DECISION_RELEASE && x->count_released == 2u) released_seen = 1;
        if (x->decision == CDF_DECISION_PASS && x->count_released == 1u &&
            x->status == CDF_STATUS_IO_DEVICE_ERROR) held_seen = 1;
    }
    CHECK(released_seen && held_seen);
    CHECK_EQ(ledger(core, id[0])->simple_total, 1u);
    INVARIANTS(core);
    cdf_core_destroy(core);
}

/* Internal device controls record major/minor only; Information is bounded. */
static void test_kernel_data_bounds(void)
{
    uint32_t id[1], i;
    cdf_core *core = make_core(64, 65536, 1, id);
    uint8_t srb[64];
    cdf_request rq;
    cdf_verdict v;
    const cdf_TraceBatch *b;
    uint32_t st;
    uint64_t mark = newest_seq(core);
    int seen_internal = 0, seen_ioctl = 0, seen_read = 0;

    memset(srb, 0xCC, sizeof(srb));
    /* a host that filled the DeviceIoControl overlay of an IRP_MJ_SCSI */
    rq = tl_request(CDF_IRP_MJ_INTERNAL_DEVICE_CONTROL, 0xFFFF8000u, FO_A, PID_A, srb, sizeof(srb));
    rq.minor = 1;
    rq.output_length = 0x81234560u;
    rq.flags = CDF_RQ_KERNEL_MODE;
    cdf_core_dispatch(core, id[0], &rq, &v);
    CHECK(v.action != CDF_ACTION_COMPLETE);
    if (v.action == CDF_ACTION_FORWARD_TRACK)
        cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 0xFFFFF80012345678ull);
    /* a device control whose lower driver claims more Information than the output buffer */
    rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_CDROM_READ_TOC, FO_A, PID_A, NULL, 0u);
    rq.output_length = 804;
    (void)tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, &v);
    cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 0xFFFFF80012345678ull);
    rq = tl_request(CDF_IRP_MJ_READ, 0u, FO_A, PID_A, NULL, 0u);
    rq.output_length = 2048;
    cdf_core_dispatch(core, id[0], &rq, &v);
    cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 0xFFFFF80012345678ull);
    b = read_trace(core, mark, sizeof(g_out), &st);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    for (i = 0; i < b->records_count; i++) {
        const cdf_TraceRecord *x = &b->records[i];
        if (x->major == CDF_IRP_MJ_INTERNAL_DEVICE_CONTROL) {
            seen_internal = 1;
            CHECK_EQ(x->minor, 1u);
            CHECK_EQ(x->ioctl_code, 0u);
            CHECK_EQ(x->normalized_code, 0u);
            CHECK_EQ(x->input_length, 0u);
            CHECK_EQ(x->output_length, 0u);
            CHECK_EQ(x->input_head.size, 0u);
            CHECK_EQ(x->truncated, 0u);
            CHECK_EQ(x->information, 0u);
        } else if (x->major == CDF_IRP_MJ_DEVICE_CONTROL && x->kind == CDF_RECORD_KIND_COMPLETION) {
            seen_ioctl = 1;
            CHECK(x->information <= 804u);
        } else if (x->major == CDF_IRP_MJ_READ && x->kind == CDF_RECORD_KIND_COMPLETION) {
            seen_read = 1;
            CHECK_EQ(x->information, 2048u);
        }
    }
    CHECK(seen_internal && seen_ioctl && seen_read);
    cdf_core_destroy(core);
}

/* Denials, rejections and the filter's own releases are recorded whatever the trace filter. */
static void test_decision_records_bypass_filter(void)
{
    uint32_t id[1], len, st, i;
    cdf_core *core = make_core(64, 65536, 1, id);
    cdf_TraceConfig cfg;
    uint8_t buf[128];
    size_t n;
    uint64_t mark;
    const cdf_TraceBatch *b;
    int deny = 0, reject = 0, auto_rel = 0, leak = 0, others = 0;

    set_policy(core, 0, CDF_POLICY_ENFORCE);
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    /* trace reads only */
    cdf_TraceConfig_init(&cfg);
    cfg.majors_count = 1;
    cfg.majors[0] = CDF_IRP_MJ_READ;
    cfg.capture_bytes = 64;
    CHECK_EQ(cdf_TraceConfig_encode(&cfg, buf, sizeof(buf), &n), CDF_PB_OK);
    CHECK_EQ(control(core, CDF_IOCTL_SET_TRACE_CONFIG, buf, (uint32_t)n, &len), CDF_STATUS_SUCCESS);
    mark = newest_seq(core);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_B, PID_B, NULL, 0, CDF_STATUS_SUCCESS, NULL),
             CDF_STATUS_DEVICE_BUSY);
    CHECK_EQ(tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_B, PID_B, NULL, 0, CDF_STATUS_SUCCESS, NULL),
             CDF_STATUS_INFO_LENGTH_MISMATCH);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);
    b = read_trace(core, mark, sizeof(g_out), &st);
    for (i = 0; i < b->records_count; i++) {
        const cdf_TraceRecord *x = &b->records[i];
        if (x->decision == CDF_DECISION_DENY && x->kind == CDF_RECORD_KIND_DISPATCH) deny = 1;
        else if (x->decision == CDF_DECISION_REJECT && x->kind == CDF_RECORD_KIND_DISPATCH) reject = 1;
        else if (x->kind == CDF_RECORD_KIND_AUTO_RELEASE) auto_rel = 1;
        else if (x->kind == CDF_RECORD_KIND_LEAK_RELEASE && x->decision == CDF_DECISION_RELEASE) leak = 1;
        else if (x->decision != CDF_DECISION_DENY && x->decision != CDF_DECISION_REJECT) others++;
    }
    CHECK(deny && reject && auto_rel && leak);
    CHECK_EQ(others, 0); /* the lock requests and the close itself stay filtered out */
    cdf_core_destroy(core);
}

/* A cursor beyond the newest record (a driver reload restarted seq at 1) is reported as a
 * reset, and the batch restarts at the oldest record; WaitTrace does not park on it. */
static void test_cursor_reset(void)
{
    uint32_t id[1], st, len = 0;
    cdf_core *core = make_core(64, 65536, 1, id);
    const cdf_TraceBatch *b;
    uint8_t buf[32];
    size_t n;
    cdf_TraceReadRequest m;

    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    b = read_trace(core, 0, sizeof(g_out), &st);
    CHECK_EQ(b->reset, 0u);
    CHECK(b->records_count >= 2u);
    b = read_trace(core, 1000000u, sizeof(g_out), &st);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    CHECK_EQ(b->reset, 1u);
    CHECK_EQ(b->dropped, 0u);
    CHECK(b->records_count >= 2u && b->records[0].seq == 1u);
    CHECK_EQ(b->next_cursor, b->records[b->records_count - 1u].seq);
    /* WaitTrace with a future cursor answers at once */
    cdf_TraceReadRequest_init(&m);
    m.after_seq = 1000000u;
    CHECK_EQ(cdf_TraceReadRequest_encode(&m, buf, sizeof(buf), &n), CDF_PB_OK);
    st = cdf_control_dispatch(core, CDF_IOCTL_WAIT_TRACE, CDF_ACCESS_READ, buf, (uint32_t)n, g_out, sizeof(g_out), &len);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_TraceBatch_decode(g_batch, g_out, len), CDF_PB_OK);
    CHECK_EQ(g_batch->reset, 1u);
    /* an empty ring (cleared): reset, nothing delivered, cursor at the newest */
    CHECK_EQ(control(core, CDF_IOCTL_CLEAR_TRACE, NULL, 0, &len), CDF_STATUS_SUCCESS);
    b = read_trace(core, 1000000u, sizeof(g_out), &st);
    CHECK_EQ(b->reset, 1u);
    CHECK_EQ(b->records_count, 0u);
    CHECK(b->next_cursor == b->newest_seq && b->newest_seq != 0u);
    /* a current cursor is no reset */
    b = read_trace(core, b->newest_seq, sizeof(g_out), &st);
    CHECK_EQ(b->reset, 0u);
    cdf_core_destroy(core);
}

/* Adoption: a file object the core never saw created (a CDFS/UDFS volume handle, docs/core.md, adoption of unseen file objects). */
enum { FO_VOL = 0x7000, FO_VOL2 = 0x8000, PID_V = 700 };

/* White box, between calls: drive d's tracked entries and orphan counts. */
static uint32_t open_handles(cdf_core *core, uint32_t drive)
{
    return core->drives[drive - 1u].open_handles;
}

/* (a) a lock from an unseen file object takes a table slot only once the lower driver has
 * granted it: a refused lock leaves nothing behind. */
static void test_adopt_on_success_only(void)
{
    uint32_t id[1], st;
    cdf_verdict v;
    const cdf_TraceRecord *r;
    cdf_core *core = make_core(1, 1u << 20, 1, id);

    /* cdrom.sys refuses a secure lock from a file object it has no context for */
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_VOL, PID_V, 1,
                 CDF_STATUS_INVALID_HANDLE, &v);
    CHECK_EQ(st, CDF_STATUS_INVALID_HANDLE);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    CHECK_EQ(v.handle_id, 0u); /* nothing adopted at dispatch */
    CHECK_EQ(core->handles.count, 0u);
    CHECK_EQ(open_handles(core, id[0]), 0u);
    CHECK_EQ(ledger(core, id[0])->secure_total, 0u);
    /* a simple lock without media, an exclusive-access lock that fails */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 1,
                  CDF_STATUS_NO_MEDIA_IN_DEVICE, NULL);
    {
        uint8_t ex[8] = { 1, 0, 0, 0, 0, 0, 0, 0 }; /* ExclusiveAccessLockDevice */
        (void)tl_ioctl(core, id[0], CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS, FO_VOL, PID_V, ex, sizeof(ex),
                       CDF_STATUS_ACCESS_DENIED, NULL);
    }
    CHECK_EQ(core->handles.count, 0u);
    CHECK_EQ(ledger(core, id[0])->owners_count, 0u);
    INVARIANTS(core);

    /* the single slot is still free for a real create */
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    r = last_record(core, 0, CDF_RECORD_KIND_HANDLE_OPEN);
    CHECK(r != NULL && r->handle_id != 0u && r->opener_pid == PID_A);
    CHECK_EQ(core->handles.count, 1u);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);

    /* granted: adopted at completion (id, requestor pid, empty image) */
    st = tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(v.handle_id, 0u);
    r = last_record(core, 0, CDF_RECORD_KIND_COMPLETION);
    CHECK(r != NULL && r->handle_id != 0u && r->reason == CDF_REASON_LOCK_TAKEN);
    {
        const cdf_DriveLedger *dl = ledger(core, id[0]);
        CHECK_EQ(dl->simple_total, 1u);
        CHECK(owner(dl, PID_V) != NULL && owner(dl, PID_V)->simple_count == 1u &&
              owner(dl, PID_V)->image_name[0] == '\0');
    }
    INVARIANTS(core);
    CHECK_EQ(tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 0, CDF_STATUS_SUCCESS, NULL),
             CDF_STATUS_SUCCESS);

    /* the table fills up between the dispatch and the lock's success: cdrom.sys counts the
     * lock, so the ledger does too (orphan, LEDGER_FULL) */
    {
        cdf_request rq;
        uint8_t one = 1u;
        rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, &one, 1u);
        cdf_core_dispatch(core, id[0], &rq, &v);
        CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
        /* a lock holder: no idle entry to evict */
        (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
        cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 0u);
        r = last_record(core, 0, CDF_RECORD_KIND_COMPLETION);
        CHECK(r != NULL && r->reason == CDF_REASON_LEDGER_FULL && r->handle_id == 0u);
        CHECK_EQ(ledger(core, id[0])->simple_total, 1u);
        CHECK_EQ(core->drives[id[0] - 1u].orphan_simple, 1u);
        INVARIANTS(core);
    }
    cdf_core_destroy(core);
}

/* (b) an adopted entry goes when all its counts are back to zero: its file object may never
 * send cleanup or close down this stack, so nothing else would free the slot. */
static void test_adopted_reaped_when_idle(void)
{
    uint32_t id[1];
    uint8_t ex_lock[8] = { 1, 0, 0, 0, 0, 0, 0, 0 }, ex_unlock[8] = { 2, 0, 0, 0, 0, 0, 0, 0 };
    cdf_core *core = make_core(8, 1u << 20, 1, id);

    /* simple lock, then its unlock */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 1u);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 0, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 0u);
    CHECK_EQ(open_handles(core, id[0]), 0u);
    INVARIANTS(core);

    /* several kinds: the entry stays until the last one goes */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_ioctl(core, id[0], CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS, FO_VOL, PID_V, ex_lock, 8u, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 1u);
    CHECK_EQ(ledger(core, id[0])->owners_count, 1u);
    CHECK(owner(ledger(core, id[0]), PID_V) != NULL && owner(ledger(core, id[0]), PID_V)->exclusive);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_VOL, PID_V, 0, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_VOL, PID_V, 0, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 1u); /* still owns exclusive access */
    INVARIANTS(core);
    (void)tl_ioctl(core, id[0], CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS, FO_VOL, PID_V, ex_unlock, 8u, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 0u);
    CHECK_EQ(ledger(core, id[0])->owners_count, 0u);
    INVARIANTS(core);

    /* another handle's foreign simple unlock charges the adopted holder, which then goes */
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 2u);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_A, PID_A, 0, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 1u);
    CHECK_EQ(ledger(core, id[0])->simple_total, 0u);
    INVARIANTS(core);

    /* a cleanup (KMDF preprocess report) keeps the secure lock (cdrom.sys releases it at the
     * close); the close releases it and the adopted entry goes at once */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 2u);
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_CLEANUP, 0u, FO_VOL, PID_V, NULL, 0u);
        (void)tl_run(core, id[0], &rq, CDF_STATUS_SUCCESS, NULL);
    }
    CHECK_EQ(core->handles.count, 2u);
    CHECK_EQ(ledger(core, id[0])->secure_total, 1u);
    INVARIANTS(core);
    tl_close(core, id[0], FO_VOL, PID_V, 0, 0, NULL);
    CHECK_EQ(core->handles.count, 1u);
    CHECK_EQ(ledger(core, id[0])->secure_total, 0u);
    INVARIANTS(core);

    /* enforce: a close that releases the adopted handle's simple locks reaps it too */
    set_policy(core, id[0], CDF_POLICY_ENFORCE);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(core->handles.count, 2u);
    {
        uint32_t sent = 0;
        tl_close(core, id[0], FO_VOL, PID_V, 0, 1, &sent);
        CHECK_EQ(sent, 1u);
    }
    CHECK_EQ(core->handles.count, 1u);
    CHECK_EQ(ledger(core, id[0])->simple_total, 0u);
    INVARIANTS(core);

    /* many unseen file objects, each lock released: the table never fills */
    {
        uint32_t i;
        for (i = 0; i < 100u; i++) {
            uintptr_t fo = 0x100000u + i * 0x40u;
            CHECK_EQ(tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, fo, PID_V, 1, CDF_STATUS_SUCCESS, NULL),
                     CDF_STATUS_SUCCESS);
            CHECK_EQ(tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, fo, PID_V, 0, CDF_STATUS_SUCCESS, NULL),
                     CDF_STATUS_SUCCESS);
        }
        CHECK_EQ(core->handles.count, 1u);
        CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
        CHECK(last_record(core, newest_seq(core) - 2u, CDF_RECORD_KIND_HANDLE_OPEN) != NULL);
    }
    INVARIANTS(core);
    cdf_core_destroy(core);
}

/* (c) a file object address reused after a close the core never saw: the new file object starts
 * clean (own id and identity, no locks). The old file object's close did reach cdrom.sys (the
 * address was freed), so its secure locks and MCN disables are released as cdrom.sys released
 * them; its simple locks survive a close in cdrom.sys and stay counted as orphans. */
static void test_reuse_retires_stale_entry(void)
{
    uint32_t id[1];
    uint64_t mark, stale_id;
    cdf_verdict v;
    const cdf_TraceRecord *r;
    const cdf_DriveLedger *dl;
    cdf_core *core = make_core(8, 1u << 20, 1, id);
    cdf_drive *d = &core->drives[id[0] - 1u];

    /* an adopted entry with secure, simple and MCN counts */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_VOL, PID_V, 1, CDF_STATUS_SUCCESS, &v);
    stale_id = owner(ledger(core, id[0]), PID_V)->handle_id;
    CHECK(stale_id != 0u);
    mark = newest_seq(core);
    /* a create at the same address: its dispatch names no handle */
    {
        cdf_request rq = tl_request(CDF_IRP_MJ_CREATE, 0u, FO_VOL, PID_C, NULL, 0u);
        rq.image_name = "new.exe";
        cdf_core_dispatch(core, id[0], &rq, &v);
        CHECK_EQ(v.handle_id, 0u);
        r = last_record(core, mark, CDF_RECORD_KIND_DISPATCH);
        CHECK(r != NULL && r->handle_id == 0u && r->opener_pid == 0u);
        cdf_core_complete(core, id[0], &rq, &v, CDF_STATUS_SUCCESS, 1u);
    }
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->secure_total, 0u); /* released at the old file object's close, as cdrom.sys did */
    CHECK_EQ(dl->simple_total, 1u); /* cdrom.sys keeps simple locks across a close */
    CHECK_EQ(dl->mcn_total, 0u);
    CHECK(owner(dl, PID_V) == NULL);
    CHECK(owner(dl, PID_C) == NULL); /* the new handle owns nothing */
    CHECK_EQ(d->orphan_secure, 0u);
    CHECK_EQ(d->orphan_simple, 1u);
    CHECK_EQ(d->orphan_mcn, 0u);
    CHECK_EQ(core->handles.count, 1u);
    r = last_record(core, mark, CDF_RECORD_KIND_AUTO_RELEASE);
    CHECK(r != NULL && r->handle_id == stale_id && r->decision == CDF_DECISION_RELEASE &&
          r->reason == CDF_REASON_HANDLE_CLOSE && r->count_released == 1u && r->secure_total == 0u);
    r = last_record(core, mark, CDF_RECORD_KIND_LEAK_RELEASE);
    CHECK(r != NULL && r->handle_id == stale_id && r->decision == CDF_DECISION_PASS &&
          r->reason == CDF_REASON_HANDLE_CLOSE && r->count_released == 1u && r->simple_total == 1u);
    r = last_record(core, mark, CDF_RECORD_KIND_HANDLE_OPEN);
    CHECK(r != NULL && r->handle_id != stale_id && r->handle_id != 0u && r->opener_pid == PID_C &&
          strcmp(r->opener_image, "new.exe") == 0);
    INVARIANTS(core);
    /* the new handle's own lock is its own; the orphaned simple lock can still be released by
     * anyone (simple locks have no owner in cdrom.sys) */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_VOL, PID_C, 1, CDF_STATUS_SUCCESS, NULL);
    dl = ledger(core, id[0]);
    CHECK(owner(dl, PID_C) != NULL && owner(dl, PID_C)->secure_count == 1u &&
          strcmp(owner(dl, PID_C)->image_name, "new.exe") == 0);
    CHECK_EQ(dl->secure_total, 1u);
    tl_close(core, id[0], FO_VOL, PID_C, 0, 1, NULL);
    CHECK_EQ(ledger(core, id[0])->secure_total, 0u);
    CHECK_EQ(tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL2, PID_V, 0, CDF_STATUS_SUCCESS, NULL),
             CDF_STATUS_SUCCESS);
    CHECK_EQ(ledger(core, id[0])->simple_total, 0u);
    CHECK_EQ(d->orphan_simple, 0u);
    INVARIANTS(core);

    /* a tracked (created) handle whose close was missed: same retirement */
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    stale_id = owner(ledger(core, id[0]), PID_A)->handle_id;
    mark = newest_seq(core);
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->secure_total, 0u);
    CHECK(owner(dl, PID_A) == NULL);
    CHECK_EQ(d->orphan_secure, 0u);
    r = last_record(core, mark, CDF_RECORD_KIND_AUTO_RELEASE);
    CHECK(r != NULL && r->handle_id == stale_id && r->opener_pid == PID_A && r->decision == CDF_DECISION_RELEASE &&
          r->reason == CDF_REASON_HANDLE_CLOSE && r->count_released == 1u);
    r = last_record(core, mark, CDF_RECORD_KIND_HANDLE_OPEN);
    CHECK(r != NULL && r->handle_id != stale_id && r->opener_pid == PID_B);
    INVARIANTS(core);
    tl_close(core, id[0], FO_A, PID_B, 0, 1, NULL);

    /* an idle adopted entry left no trace: a later unseen file object at the same address is
     * adopted afresh (new id, its own pid) */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL2, PID_V, 1, CDF_STATUS_SUCCESS, NULL);
    stale_id = owner(ledger(core, id[0]), PID_V)->handle_id;
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL2, PID_V, 0, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MEDIA_REMOVAL, FO_VOL2, PID_B, 1, CDF_STATUS_SUCCESS, NULL);
    dl = ledger(core, id[0]);
    CHECK(owner(dl, PID_V) == NULL);
    CHECK(owner(dl, PID_B) != NULL && owner(dl, PID_B)->handle_id != stale_id);
    INVARIANTS(core);
    cdf_core_destroy(core);
}

/* The stuck tray of a full handle table. One process opens 1024 handles (FILE_READ_ATTRIBUTES
 * is enough) on drive 1; a burner opens drive 1, takes a secure lock and exits: cdrom.sys drops
 * the lock at its close (DeviceEvtFileClose -> DeviceCleanupProtectedLocks). The ledger must
 * drop it too, and enforce must still let the real lock holder eject and let other users lock
 * other drives. Before the per-process quota the burner's handle was untracked and its lock an
 * orphan kept forever: every later eject was refused with STATUS_DEVICE_BUSY. */
static void test_full_table_no_stuck_tray(void)
{
    uint32_t id[2], i, st;
    cdf_verdict v;
    const cdf_DriveLedger *dl;
    const cdf_TraceRecord *r;
    cdf_core *core = make_core(1024, 1u << 20, 2, id);
    enum { PID_HOG = 500, PID_BURNER = 600, FO_HOG = 0x100000, FO_BURNER = 0x9000, FO_OTHER = 0xA000 };
    uint64_t mark;
    for (i = 0; i < 1023u; i++)
        CHECK_EQ(tl_open(core, id[0], FO_HOG + (uintptr_t)i * 0x40u, PID_HOG, "hog.exe"), CDF_STATUS_SUCCESS);
    mark = newest_seq(core);
    CHECK_EQ(tl_open(core, id[0], FO_HOG + (uintptr_t)i * 0x40u, PID_HOG, "hog.exe"), CDF_STATUS_SUCCESS);
    r = last_record(core, mark, CDF_RECORD_KIND_COMPLETION);
    CHECK(r != NULL && r->reason == CDF_REASON_HANDLE_QUOTA && r->handle_id == 0u);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->opens_over_quota, 1024u - 256u);
    CHECK_EQ(dl->untracked_opens, 1024u - 256u);

    CHECK_EQ(tl_open(core, id[0], FO_BURNER, PID_BURNER, "burner.exe"), CDF_STATUS_SUCCESS);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_BURNER, PID_BURNER, 1, CDF_STATUS_SUCCESS, NULL);
    dl = ledger(core, id[0]);
    CHECK(owner(dl, PID_BURNER) != NULL && owner(dl, PID_BURNER)->secure_count == 1u);
    tl_close(core, id[0], FO_BURNER, PID_BURNER, CDF_RQ_PROCESS_EXIT, 1, NULL);
    dl = ledger(core, id[0]);
    CHECK_EQ(dl->secure_total, 0u);
    CHECK_EQ(dl->orphan_secure, 0u);

    /* enforce: the only real lock holder ejects; a lock on the other drive is tracked */
    set_policy(core, id[0], CDF_POLICY_ENFORCE);
    set_policy(core, id[1], CDF_POLICY_ENFORCE);
    CHECK_EQ(tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_HOG, PID_HOG, 1, CDF_STATUS_SUCCESS, NULL),
             CDF_STATUS_SUCCESS);
    st = tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_HOG, PID_HOG, NULL, 0, CDF_STATUS_SUCCESS, &v);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    CHECK_EQ(tl_open(core, id[1], FO_OTHER, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_lock(core, id[1], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_OTHER, PID_B, 1, CDF_STATUS_SUCCESS, &v),
             CDF_STATUS_SUCCESS);
    CHECK_EQ(ledger(core, id[1])->secure_total, 1u);
    INVARIANTS(core);
    cdf_core_destroy(core);
}

/* Every slot holds a lock: a lock from an untracked handle is an orphan (secure or MCN). It is
 * not counted against the eject rule, and it goes when the last untracked handle of the drive
 * closes (cdrom.sys released it at its holder's close). */
static void test_untracked_orphans_released(void)
{
    uint32_t id[1];
    cdf_verdict v;
    const cdf_DriveLedger *dl;
    const cdf_TraceRecord *r;
    cdf_core *core = make_core(2, 1u << 20, 1, id);
    CHECK_EQ(tl_open(core, id[0], FO_A, PID_A, "a.exe"), CDF_STATUS_SUCCESS);
    CHECK_EQ(tl_open(core, id[0], FO_B, PID_B, "b.exe"), CDF_STATUS_SUCCESS);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_A, PID_A, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_B, PID_B, 1, CDF_STATUS_SUCCESS, NULL);
    CHECK_EQ(tl_open(core, id[0], FO_C, PID_C, "c.exe"), CDF_STATUS_SUCCESS); /* table full */
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_EJECTION_CONTROL, FO_C, PID_C, 1, CDF_STATUS_SUCCESS, NULL);
    (void)tl_lock(core, id[0], CDF_IOCTL_STORAGE_MCN_CONTROL, FO_C, PID_C, 1, CDF_STATUS_SUCCESS, NULL);
    dl = ledger(core, id[0]);
    CHECK(dl->secure_total == 2u && dl->orphan_secure == 1u && dl->mcn_total == 2u && dl->orphan_mcn == 1u);
    CHECK_EQ(dl->untracked_opens, 1u);
    /* enforce: B holds every secure lock the core can attribute: its eject passes */
    set_policy(core, id[0], CDF_POLICY_ENFORCE);
    CHECK_EQ(tl_ioctl(core, id[0], CDF_IOCTL_STORAGE_EJECT_MEDIA, FO_B, PID_B, NULL, 0, CDF_STATUS_SUCCESS, &v),
             CDF_STATUS_SUCCESS);
    CHECK_EQ(v.action, CDF_ACTION_FORWARD_TRACK);
    /* C exits: its locks go with the drive's last untracked handle */
    tl_close(core, id[0], FO_C, PID_C, CDF_RQ_PROCESS_EXIT, 1, NULL);
    r = last_record(core, 0, CDF_RECORD_KIND_AUTO_RELEASE);
    CHECK(r != NULL && r->count_released == 1u && r->reason == CDF_REASON_HANDLE_CLOSE && r->handle_id == 0u);
    dl = ledger(core, id[0]);
    CHECK(dl->secure_total == 1u && dl->orphan_secure == 0u && dl->mcn_total == 1u && dl->orphan_mcn == 0u);
    CHECK_EQ(dl->untracked_opens, 0u);
    INVARIANTS(core);
    tl_close(core, id[0], FO_A, PID_A, 0, 1, NULL);
    tl_close(core, id[0], FO_B, PID_B, 0, 1, NULL);
    dl = ledger(core, id[0]);
    CHECK(dl->secure_total == 0u && dl->mcn_total == 0u);
    cdf_core_destroy(core);
}

/* A drive the core could not register (cdf_core_add_untracked_drive): a DRIVE_NOT_TRACKED record
 * naming it, written even when the trace filter excludes everything, and DrivesReply.untracked
 * (the last CDF_UNTRACKED_LIST_MAX still present, in arrival order) with its counters; a parked
 * WaitTrace is woken. */
static void test_untracked_drive(void)
{
    uint32_t id[16], len, i, extra, tok[10], st;
    const cdf_TraceRecord *r;
    cdf_DrivesReply *dr = (cdf_DrivesReply *)malloc(sizeof(*dr));
    uint8_t wait_req[2] = { 0x08, 0x00 };
    char name[16];
    cdf_core *core = make_core(16, 1u << 20, 16, id);
    uint64_t before = newest_seq(core);
    CHECK(dr != NULL);
    if (dr == NULL) return;
    CHECK_EQ(cdf_core_add_drive(core, "CdRom16", &extra), CDF_STATUS_INSUFFICIENT_RESOURCES);
    CHECK_EQ(extra, 0u);
    CHECK_EQ(cdf_core_add_untracked_drive(core, "CdRom16", NULL), CDF_STATUS_INVALID_PARAMETER);
    CHECK_EQ(cdf_core_add_untracked_drive(NULL, "CdRom16", &tok[0]), CDF_STATUS_INVALID_PARAMETER);
    /* a parked WaitTrace is completed by the record */
    g_notified = 0;
    cdf_core_set_notify(core, on_notify, NULL);
    wait_req[1] = (uint8_t)before;
    CHECK_EQ(cdf_control_dispatch(core, CDF_IOCTL_WAIT_TRACE, CDF_ACCESS_READ, wait_req, 2, g_out, sizeof(g_out), &len),
             CDF_STATUS_PENDING);
    CHECK_EQ(cdf_core_add_untracked_drive(core, "CdRom16", &tok[0]), CDF_STATUS_SUCCESS);
    CHECK(tok[0] != 0u);
    CHECK_EQ(g_notified, 1);
    r = last_record(core, before, CDF_RECORD_KIND_DRIVE_NOT_TRACKED);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK(strcmp(r->drive_name, "CdRom16") == 0);
        CHECK_EQ(r->opener_image[0], '\0');
        CHECK_EQ(r->drive_id, 0u);
        CHECK_EQ(r->reason, CDF_REASON_DRIVE_NOT_TRACKED);
        CHECK_EQ(r->decision, CDF_DECISION_PASS);
    }
    CHECK_EQ(control(core, CDF_IOCTL_LIST_DRIVES, NULL, 0, &len), CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_DrivesReply_decode(dr, g_out, len), CDF_PB_OK);
    CHECK_EQ(dr->drives_count, 16u);
    CHECK_EQ(dr->untracked_count, 1u);
    CHECK(strcmp(dr->untracked[0].name, "CdRom16") == 0);
    CHECK(dr->untracked[0].since != 0u);
    CHECK_EQ(dr->untracked_present, 1u);
    CHECK_EQ(dr->untracked_total, 1ull);
    /* nine more: the list keeps the most recent eight, the counters count all */
    for (i = 1; i < 10; i++) {
        snprintf(name, sizeof(name), "CdRom%u", 16u + i);
        CHECK_EQ(cdf_core_add_untracked_drive(core, name, &tok[i]), CDF_STATUS_SUCCESS);
    }
    CHECK_EQ(control(core, CDF_IOCTL_LIST_DRIVES, NULL, 0, &len), CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_DrivesReply_decode(dr, g_out, len), CDF_PB_OK);
    CHECK_EQ(dr->untracked_count, 8u);
    CHECK(strcmp(dr->untracked[0].name, "CdRom18") == 0);
    CHECK(strcmp(dr->untracked[7].name, "CdRom25") == 0);
    CHECK_EQ(dr->untracked_present, 10u);
    CHECK_EQ(dr->untracked_total, 10ull);
    /* removal: listed ones leave the list, every removal leaves the present count */
    cdf_core_remove_untracked_drive(core, tok[9]);
    cdf_core_remove_untracked_drive(core, tok[0]);
    cdf_core_remove_untracked_drive(core, 0u);
    CHECK_EQ(control(core, CDF_IOCTL_LIST_DRIVES, NULL, 0, &len), CDF_STATUS_SUCCESS);
    CHECK_EQ(cdf_DrivesReply_decode(dr, g_out, len), CDF_PB_OK);
    CHECK_EQ(dr->untracked_count, 7u);
    CHECK(strcmp(dr->untracked[6].name, "CdRom24") == 0);
    CHECK_EQ(dr->untracked_present, 8u);
    CHECK_EQ(dr->untracked_total, 10ull);
    /* a name longer than a drive name is refused */
    memset(g_out, 'x', 80);
    g_out[80] = 0;
    CHECK_EQ(cdf_core_add_untracked_drive(core, (const char *)g_out, &extra), CDF_STATUS_INVALID_PARAMETER);
    (void)read_trace(core, 0, sizeof(g_out), &st);
    CHECK_EQ(st, CDF_STATUS_SUCCESS);
    INVARIANTS(core);
    free(dr);
    cdf_core_destroy(core);
}

int main(void)
{
    g_snap = (cdf_LedgerSnapshot *)malloc(sizeof(*g_snap));
    g_batch = (cdf_TraceBatch *)malloc(sizeof(*g_batch));
    test_config();
    test_normalize_and_scsi();
    test_secure_rules();
    test_simple_rules();
    test_ledger_full();
    test_full_table_no_stuck_tray();
    test_untracked_orphans_released();
    test_trace();
    test_control();
    test_notify();
    test_untracked_drive();
    test_utf8_image();
    test_scsi_ex();
    test_opener_image_lifetime();
    test_simple_unlocks_done();
    test_kernel_data_bounds();
    test_decision_records_bypass_filter();
    test_cursor_reset();
    test_adopt_on_success_only();
    test_adopted_reaped_when_idle();
    test_reuse_retires_stale_entry();
    free(g_snap);
    free(g_batch);
    if (failures != 0) {
        fprintf(stderr, "core_unit: %d check(s) failed\n", failures);
        return 1;
    }
    printf("core_unit: all checks passed\n");
    return 0;
}
