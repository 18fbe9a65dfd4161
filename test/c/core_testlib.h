/*
 * core_testlib.h - request builders shared by the core's C tests, fuzz targets and benchmark
 * (host code: libc allowed). Header-only so each binary stays one translation unit + the core.
 */
#ifndef CORE_TESTLIB_H
#define CORE_TESTLIB_H

#include <stdint.h>
#include <string.h>
#include "cdf_core.h"
#include "cdf_scsi.h"

/* A request with the usual defaults (pid 100, tid 1000, user mode). */
static inline cdf_request tl_request(uint32_t major, uint32_t code, uintptr_t fo, uint32_t pid,
                                     const uint8_t *in, uint32_t in_len)
{
    cdf_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.major = major;
    rq.ioctl_code = code;
    rq.file.opaque = fo;
    rq.pid = pid;
    rq.tid = pid * 10u + 1u;
    rq.requestor_pid = pid;
    rq.input = in;
    rq.input_length = in_len;
    return rq;
}

/* Dispatch, then (unless the core completed it) complete with lower_status. Returns the status
 * the caller sees. *v receives the verdict. */
static inline uint32_t tl_run(cdf_core *core, uint32_t drive, const cdf_request *rq,
                              uint32_t lower_status, cdf_verdict *v)
{
    cdf_verdict local;
    if (v == NULL) v = &local;
    cdf_core_dispatch(core, drive, rq, v);
    if (v->action == CDF_ACTION_COMPLETE) {
        cdf_core_complete(core, drive, rq, v, v->status, 0u);
        return v->status;
    }
    if (v->action == CDF_ACTION_FORWARD_TRACK) cdf_core_complete(core, drive, rq, v, lower_status, 0u);
    return lower_status;
}

static inline uint32_t tl_ioctl(cdf_core *core, uint32_t drive, uint32_t code, uintptr_t fo,
                                uint32_t pid, const uint8_t *in, uint32_t in_len,
                                uint32_t lower_status, cdf_verdict *v)
{
    cdf_request rq = tl_request(CDF_IRP_MJ_DEVICE_CONTROL, code, fo, pid, in, in_len);
    return tl_run(core, drive, &rq, lower_status, v);
}

static inline uint32_t tl_lock(cdf_core *core, uint32_t drive, uint32_t code, uintptr_t fo,
                               uint32_t pid, uint8_t prevent, uint32_t lower_status, cdf_verdict *v)
{
    return tl_ioctl(core, drive, code, fo, pid, &prevent, 1u, lower_status, v);
}

static inline uint32_t tl_open(cdf_core *core, uint32_t drive, uintptr_t fo, uint32_t pid,
                               const char *image)
{
    cdf_request rq = tl_request(CDF_IRP_MJ_CREATE, 0u, fo, pid, NULL, 0u);
    rq.image_name = image;
    return tl_run(core, drive, &rq, CDF_STATUS_SUCCESS, NULL);
}

/* Cleanup then close, as a host does it: the close's verdict.simple_unlocks
 * MEDIA_REMOVAL(FALSE) are "sent" (the first `unlock_ok` of them succeed, the rest fail with
 * unlock_failure) and reported with cdf_core_simple_unlocks_done before the close completes.
 * *simple_unlocks receives the close verdict's simple_unlocks. */
static inline void tl_close_ex(cdf_core *core, uint32_t drive, uintptr_t fo, uint32_t pid,
                               uint32_t flags, int with_cleanup, uint32_t *simple_unlocks,
                               uint32_t unlock_ok, uint32_t unlock_failure)
{
    cdf_verdict v;
    cdf_request rq = tl_request(CDF_IRP_MJ_CLEANUP, 0u, fo, pid, NULL, 0u);
    rq.flags = flags;
    if (with_cleanup) (void)tl_run(core, drive, &rq, CDF_STATUS_SUCCESS, NULL);
    rq.major = CDF_IRP_MJ_CLOSE;
    cdf_core_dispatch(core, drive, &rq, &v);
    if (v.simple_unlocks != 0u) {
        uint32_t ok = unlock_ok < v.simple_unlocks ? unlock_ok : v.simple_unlocks;
        cdf_core_simple_unlocks_done(core, drive, &rq, &v, ok, unlock_failure);
    }
    if (v.action == CDF_ACTION_COMPLETE) cdf_core_complete(core, drive, &rq, &v, v.status, 0u);
    else if (v.action == CDF_ACTION_FORWARD_TRACK) cdf_core_complete(core, drive, &rq, &v, CDF_STATUS_SUCCESS, 0u);
    if (simple_unlocks != NULL) *simple_unlocks = v.simple_unlocks;
}

/* tl_close_ex with every unlock succeeding. */
static inline void tl_close(cdf_core *core, uint32_t drive, uintptr_t fo, uint32_t pid,
                            uint32_t flags, int with_cleanup, uint32_t *simple_unlocks)
{
    tl_close_ex(core, drive, fo, pid, flags, with_cleanup, simple_unlocks, 0xFFFFFFFFu, 0u);
}

/* A SCSI_PASS_THROUGH(_DIRECT) buffer (64- or 32-bit layout) carrying a 6-byte CDB. Returns
 * its length. buf must hold CDF_SPT64_SIZE bytes. */
static inline uint32_t tl_spt(uint8_t *buf, int caller32, uint8_t op, uint8_t byte4)
{
    uint32_t size = caller32 ? CDF_SPT32_SIZE : CDF_SPT64_SIZE;
    uint32_t cdb = caller32 ? CDF_SPT32_CDB_OFFSET : CDF_SPT64_CDB_OFFSET;
    memset(buf, 0, CDF_SPT64_SIZE);
    buf[0] = (uint8_t)size;
    buf[CDF_SPT_CDB_LENGTH_OFFSET] = 6u;
    buf[cdb] = op;
    buf[cdb + 4u] = byte4;
    return size;
}

/* A SCSI_PASS_THROUGH[_DIRECT]_EX buffer (64- or 32-bit layout: Version 0, Length = structure
 * size, CdbLength 6) carrying a 6-byte CDB. Returns its length (the structure size, or the
 * end of the CDB when that is further). buf must hold CDF_SPTEX64_SIZE bytes. */
static inline uint32_t tl_sptex(uint8_t *buf, int caller32, uint8_t op, uint8_t byte4)
{
    uint32_t size = caller32 ? CDF_SPTEX32_SIZE : CDF_SPTEX64_SIZE;
    uint32_t cdb = caller32 ? CDF_SPTEX32_CDB_OFFSET : CDF_SPTEX64_CDB_OFFSET;
    memset(buf, 0, CDF_SPTEX64_SIZE);
    buf[CDF_SPTEX_LENGTH_OFFSET] = (uint8_t)size;
    buf[CDF_SPTEX_CDB_LENGTH_OFFSET] = 6u;
    buf[cdb] = op;
    buf[cdb + 4u] = byte4;
    return cdb + 6u > size ? cdb + 6u : size; /* 32-bit: the CDB runs past sizeof */
}

#endif /* CORE_TESTLIB_H */
