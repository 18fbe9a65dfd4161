/*
 * scenarios.c - the scenarios of the WDF-contract harness (docs/kmdf-harness.md).
 *
 * Each scenario loads the unmodified KMDF glue through the framework model (model.c), drives one
 * path (PnP, creates, I/O, control requests, removal, unload) and ends with the model's checks:
 * 0 violations is a pass. Every scenario runs in its own process, so a modelled bug check ends
 * that scenario only.
 *
 *   kmdf_harness.exe              every scenario, one child process each
 *   kmdf_harness.exe NAME [SEED]  one scenario
 */
#include "model.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cdfilter_ioctl.h"
#include "win32.h"

void model_set_bugcheck_jump(jmp_buf *jump);

#define MAX_DRIVES_CORE 16u

/* ---- protobuf bits for the control requests (proto/cdfilter/control.proto) ---- */

static ULONG put_varint(UCHAR *p, ULONGLONG v)
{
    ULONG n = 0;
    while (v >= 0x80) {
        p[n++] = (UCHAR)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (UCHAR)v;
    return n;
}

/* Top-level varint field `field` of a message (0 when absent). */
static ULONGLONG get_varint_field(const UCHAR *p, ULONG length, unsigned field)
{
    ULONG i = 0;
    while (i < length) {
        ULONGLONG key = 0, v = 0;
        unsigned shift = 0;
        while (i < length) {
            key |= (ULONGLONG)(p[i] & 0x7F) << shift;
            shift += 7;
            if ((p[i++] & 0x80) == 0) break;
        }
        if ((key & 7) == 0) {
            shift = 0;
            while (i < length) {
                v |= (ULONGLONG)(p[i] & 0x7F) << shift;
                shift += 7;
                if ((p[i++] & 0x80) == 0) break;
            }
            if ((key >> 3) == field) return v;
        } else if ((key & 7) == 2) {
            ULONGLONG len = 0;
            shift = 0;
            while (i < length) {
                len |= (ULONGLONG)(p[i] & 0x7F) << shift;
                shift += 7;
                if ((p[i++] & 0x80) == 0) break;
            }
            i += (ULONG)len;
        } else if ((key & 7) == 1) {
            i += 8;
        } else if ((key & 7) == 5) {
            i += 4;
        } else {
            break;
        }
    }
    return 0;
}

static UCHAR g_out[65536];

static NTSTATUS control_call(model_handle *c, ULONG code, const UCHAR *in, ULONG inLength)
{
    model_irp *m = model_control(c, code, in, inLength, g_out, sizeof(g_out));
    model_request_view v = model_irp_view(m);
    EXPECT(v.completed, "control IOCTL 0x%08lX not completed", (unsigned long)code);
    model_irp_free(m);
    return v.status;
}

/* control_call, and *information = the reply's length in g_out. */
static NTSTATUS control_call_reply(model_handle *c, ULONG code, const UCHAR *in, ULONG inLength,
                                   ULONG *information)
{
    model_irp *m = model_control(c, code, in, inLength, g_out, sizeof(g_out));
    model_request_view v = model_irp_view(m);
    EXPECT(v.completed, "control IOCTL 0x%08lX not completed", (unsigned long)code);
    *information = v.completed && v.information <= sizeof(g_out) ? (ULONG)v.information : 0;
    model_irp_free(m);
    return v.status;
}

/* Whether text occurs in the first length bytes of g_out. */
static int reply_contains(ULONG length, const char *text)
{
    size_t n = strlen(text);
    ULONG i;
    for (i = 0; n != 0 && i + n <= length; i++) {
        if (memcmp(g_out + i, text, n) == 0) return 1;
    }
    return 0;
}

static void set_policy_enforce(model_handle *c)
{
    UCHAR in[4];
    ULONG n = 0;
    in[n++] = 0x10; /* policy = 2 (POLICY_ENFORCE), drive_id 0 = every drive */
    n += put_varint(in + n, 2);
    EXPECT(NT_SUCCESS(control_call(c, CDF_IOCTL_SET_POLICY, in, n)), "SetPolicy failed");
}

/* The cursor after the newest record: ReadTrace until next_cursor (TraceBatch field 3) stops
 * moving. */
static ULONGLONG trace_cursor(model_handle *c)
{
    ULONGLONG cursor = 0, next;
    UCHAR in[16];
    ULONG n;
    unsigned guard;

    for (guard = 0; guard < 1000; guard++) {
        n = 0;
        in[n++] = 0x08; /* after_seq */
        n += put_varint(in + n, cursor);
        if (!NT_SUCCESS(control_call(c, CDF_IOCTL_READ_TRACE, in, n))) {
            break;
        }
        next = get_varint_field(g_out, sizeof(g_out), 3);
        if (next <= cursor) {
            break;
        }
        cursor = next;
    }
    return cursor;
}

/* A WaitTrace after the newest record: nothing to return yet, so it parks. */
static model_irp *wait_trace(model_handle *c)
{
    static UCHAR in[16];
    ULONGLONG cursor = trace_cursor(c);
    ULONG n = 0;

    in[n++] = 0x08;
    n += put_varint(in + n, cursor);
    return model_control(c, CDF_IOCTL_WAIT_TRACE, in, n, g_out, sizeof(g_out));
}

/* ---- I/O helpers ---- */

static model_request_view ioctl_now(model_handle *h, ULONG code, const void *in, ULONG inLength, ULONG outLength)
{
    model_irp *m = model_ioctl(h, IRP_MJ_DEVICE_CONTROL, code, in, inLength, outLength);
    model_request_view v = model_irp_view(m);
    model_irp_free(m);
    return v;
}

static model_request_view media_removal(model_handle *h, BOOLEAN prevent)
{
    PREVENT_MEDIA_REMOVAL p;
    p.PreventMediaRemoval = prevent;
    return ioctl_now(h, IOCTL_STORAGE_MEDIA_REMOVAL, &p, sizeof(p), 0);
}

static void close_handle(model_handle *h)
{
    model_cleanup(h);
    model_close(h);
}

static void open_ok(model_drive *d, model_handle *h)
{
    NTSTATUS s = model_open_drive(d, h, UserMode);
    EXPECT(NT_SUCCESS(s), "create on the drive failed 0x%08lX", (unsigned long)s);
}

/* ---- scenarios ---- */

/* Create, tracked I/O, read, cleanup, close, removal, unload. */
static void s_basic(unsigned seed)
{
    model_drive *d;
    model_handle h;
    model_request_view v;
    model_irp *m;
    (void)seed;

    EXPECT(NT_SUCCESS(model_load_driver()), "DriverEntry failed");
    d = model_add_drive(0, 0);
    EXPECT(d->device != NULL, "EvtDriverDeviceAdd failed");
    open_ok(d, &h);
    v = media_removal(&h, TRUE);
    EXPECT(v.completed && NT_SUCCESS(v.status), "IOCTL_STORAGE_MEDIA_REMOVAL not completed with success");
    v = media_removal(&h, FALSE);
    EXPECT(v.completed && NT_SUCCESS(v.status), "unlock not completed with success");
    m = model_ioctl(&h, IRP_MJ_READ, 0, NULL, 0, 2048);
    EXPECT(model_irp_view(m).completed, "read not completed");
    model_irp_free(m);
    m = model_ioctl(&h, IRP_MJ_WRITE, 0, "x", 1, 0);
    EXPECT(model_irp_view(m).completed, "write not completed");
    model_irp_free(m);
    close_handle(&h);
    model_remove_drive(d);
    model_unload_driver();
}

/* Defect 1: cleanup and close of a file object the framework never saw created (a volume handle
 * routed through CDFS/UDFS) that took a secure lock. FxPkgGeneral::OnCleanup / OnClose
 * (fxpkggeneral.cpp) call EvtFileCleanup / EvtFileClose with a NULL WDFFILEOBJECT; the lock must
 * still be released (by the WDM preprocess callback). */
static void s_unknown_file_object(unsigned seed)
{
    model_drive *d;
    model_handle volume, other;
    PREVENT_MEDIA_REMOVAL p;
    model_request_view v;
    (void)seed;

    model_load_driver();
    d = model_add_drive(0, 0);
    model_adopt_file(d, &volume);
    p.PreventMediaRemoval = TRUE;
    v = ioctl_now(&volume, IOCTL_STORAGE_EJECTION_CONTROL, &p, sizeof(p), 0);
    EXPECT(NT_SUCCESS(v.status), "secure lock on an unknown file object failed");
    close_handle(&volume);
    /* The secure lock went with the handle: another handle's eject is not refused. */
    open_ok(d, &other);
    v = ioctl_now(&other, IOCTL_STORAGE_EJECT_MEDIA, NULL, 0, 0);
    EXPECT(v.completed && NT_SUCCESS(v.status), "eject after the volume handle closed: 0x%08lX",
           (unsigned long)v.status);
    close_handle(&other);
    model_remove_drive(d);
    model_unload_driver();
}

/* Defect 2: the control device is created with the first drive and deleted with the last; the
 * code that does it is pageable and must not hold a spin lock. */
static void s_control_lifetime(unsigned seed)
{
    model_drive *a, *b;
    model_handle c;
    (void)seed;

    model_load_driver();
    a = model_add_drive(0, 0);
    EXPECT(model_control_link_usable(), "no control device with one drive");
    b = model_add_drive(1, 0);
    EXPECT(NT_SUCCESS(model_open_control(&c)), "control device cannot be opened");
    EXPECT(NT_SUCCESS(control_call(&c, CDF_IOCTL_LIST_DRIVES, NULL, 0)), "ListDrives failed");
    close_handle(&c);
    model_remove_drive(a);
    EXPECT(model_control_link_usable(), "control device gone while a drive remains");
    model_remove_drive(b);
    EXPECT(!model_control_link_usable(), "control device still there without drives");
    model_unload_driver();
}

/* Defect 3: more drives than the core holds. Creates on such a drive still go down with a
 * completion routine (FxRequest::VerifyPreProcessSendAndForget, fxrequest.cpp), a failed create
 * loses its WDFFILEOBJECT, and the drive is reported. */
static void s_more_drives_than_core(unsigned seed)
{
    model_drive *d[MAX_DRIVES_CORE + 1];
    model_handle h, c;
    model_request_view v;
    NTSTATUS s;
    ULONG length = 0;
    UCHAR in[4];
    unsigned i;
    (void)seed;

    model_load_driver();
    for (i = 0; i <= MAX_DRIVES_CORE; i++) {
        d[i] = model_add_drive(i, 0);
        EXPECT(d[i]->device != NULL, "drive %u not filtered", i);
    }
    EXPECT(model_debug_output_contains("CdRom16"), "the 17th drive is not reported");
    /* visible to the control plane: listed as present but not tracked, and a DRIVE_NOT_TRACKED
     * record naming it (no other record carries a drive name) */
    EXPECT(NT_SUCCESS(model_open_control(&c)), "control device cannot be opened");
    s = control_call_reply(&c, CDF_IOCTL_LIST_DRIVES, NULL, 0, &length);
    EXPECT(NT_SUCCESS(s), "ListDrives failed 0x%08lX", (unsigned long)s);
    EXPECT(reply_contains(length, "CdRom16"), "the 17th drive is missing from DrivesReply.untracked");
    EXPECT(get_varint_field(g_out, length, 3) == 1, "DrivesReply.untracked_present is not 1");
    in[0] = 0x08; /* after_seq 0 */
    in[1] = 0x00;
    s = control_call_reply(&c, CDF_IOCTL_READ_TRACE, in, 2, &length);
    EXPECT(NT_SUCCESS(s), "ReadTrace failed 0x%08lX", (unsigned long)s);
    EXPECT(reply_contains(length, "CdRom16"), "no DRIVE_NOT_TRACKED record names the 17th drive");
    /* cdrom.sys fails the create (e.g. exclusive access held elsewhere) */
    d[MAX_DRIVES_CORE]->lower_status = STATUS_ACCESS_DENIED;
    s = model_open_drive(d[MAX_DRIVES_CORE], &h, UserMode);
    EXPECT(s == STATUS_ACCESS_DENIED, "failed create came back as 0x%08lX", (unsigned long)s);
    d[MAX_DRIVES_CORE]->lower_status = STATUS_SUCCESS;
    open_ok(d[MAX_DRIVES_CORE], &h);
    v = media_removal(&h, TRUE);
    EXPECT(NT_SUCCESS(v.status), "I/O on the 17th drive failed");
    v = media_removal(&h, FALSE);
    close_handle(&h);
    /* the 17th drive goes: no longer listed */
    model_remove_drive(d[MAX_DRIVES_CORE]);
    s = control_call_reply(&c, CDF_IOCTL_LIST_DRIVES, NULL, 0, &length);
    EXPECT(NT_SUCCESS(s), "ListDrives failed 0x%08lX", (unsigned long)s);
    EXPECT(!reply_contains(length, "CdRom16"), "a removed untracked drive is still listed");
    EXPECT(get_varint_field(g_out, length, 3) == 0, "DrivesReply.untracked_present is not 0");
    EXPECT(get_varint_field(g_out, length, 4) == 1, "DrivesReply.untracked_total is not 1");
    close_handle(&c);
    for (i = 0; i < MAX_DRIVES_CORE; i++) {
        model_remove_drive(d[i]);
    }
    model_unload_driver();
}

/* Defect 4: internal device controls (IRP_MJ_SCSI from the class/port path) arrive at
 * DISPATCH_LEVEL and complete there; every DDI the glue calls must allow it. */
static void s_internal_at_dispatch(unsigned seed)
{
    model_drive *d;
    model_handle kernel, user;
    model_irp *m;
    model_request_view v;
    (void)seed;

    model_load_driver();
    d = model_add_drive(0, 0);
    memset(&kernel, 0, sizeof(kernel));
    kernel.drive = d;
    d->lower_mode = LOWER_PEND;
    model_set_irql(DISPATCH_LEVEL);
    m = model_ioctl(&kernel, IRP_MJ_INTERNAL_DEVICE_CONTROL, 0x4D014 /* IOCTL_SCSI_EXECUTE_IN */, NULL, 0, 0);
    model_set_irql(PASSIVE_LEVEL);
    EXPECT(model_lower_pending() == 1, "internal device control not at the lower driver");
    model_lower_complete_one(0, STATUS_SUCCESS, 0, DISPATCH_LEVEL);
    v = model_irp_view(m);
    EXPECT(v.completed && NT_SUCCESS(v.status), "internal device control not completed");
    model_irp_free(m);
    /* A device control sent at DISPATCH_LEVEL by a kernel component. */
    d->lower_mode = LOWER_COMPLETE;
    model_set_irql(DISPATCH_LEVEL);
    m = model_ioctl(&kernel, IRP_MJ_DEVICE_CONTROL, IOCTL_STORAGE_CHECK_VERIFY2, NULL, 0, 0);
    model_set_irql(PASSIVE_LEVEL);
    EXPECT(model_irp_view(m).completed, "device control at DISPATCH_LEVEL not completed");
    model_irp_free(m);
    /* And from user mode at PASSIVE_LEVEL. */
    open_ok(d, &user);
    v = ioctl_now(&user, IOCTL_STORAGE_CHECK_VERIFY, NULL, 0, 0);
    EXPECT(v.completed, "user device control not completed");
    close_handle(&user);
    model_remove_drive(d);
    model_unload_driver();
}

/* Defect 5: the last drive goes (a USB drive unplugged) while `cdfilter trace` holds the control
 * device open with a parked WaitTrace. FxDevice::DeleteObject (fxdevice.cpp) deletes only the
 * device object; queues and the symbolic link wait for the last close. */
static void s_control_removed_while_open(unsigned seed)
{
    model_drive *a, *b;
    model_handle c1, c2;
    model_irp *w;
    model_request_view v;
    (void)seed;

    model_load_driver();
    a = model_add_drive(0, 0);
    EXPECT(NT_SUCCESS(model_open_control(&c1)), "control device cannot be opened");
    control_call(&c1, CDF_IOCTL_CLEAR_TRACE, NULL, 0);
    w = wait_trace(&c1);
    EXPECT(!model_irp_view(w).completed, "WaitTrace did not park");
    model_remove_drive(a);
    v = model_irp_view(w);
    EXPECT(v.completed, "the parked WaitTrace was not completed when the control device was deleted");
    /* A drive arrives while the old client still holds its handle. */
    b = model_add_drive(1, 0);
    EXPECT(model_control_link_usable(), "no usable control device while a drive is filtered "
                                        "(the old link still exists)");
    if (model_control_link_usable()) {
        EXPECT(NT_SUCCESS(model_open_control(&c2)), "new control device cannot be opened");
        EXPECT(NT_SUCCESS(control_call(&c2, CDF_IOCTL_GET_INFO, NULL, 0)), "GetInfo failed");
        close_handle(&c2);
    }
    /* The old client now closes; requests on its handle fail rather than hang. */
    w = wait_trace(&c1);
    if (!model_irp_view(w).completed) {
        model_cancel(w);
    }
    EXPECT(model_irp_view(w).completed, "WaitTrace on the deleted control device hangs");
    close_handle(&c1);
    EXPECT(model_control_link_usable(), "no control device after the old client closed");
    model_remove_drive(b);
    model_unload_driver();
}

/* Defect 6: another upper filter below cdfilter (unnamed device object): the drive is still
 * named after cdrom.sys's device (\Device\CdRomN). */
static void s_drive_name(unsigned seed)
{
    model_drive *a, *b;
    (void)seed;

    model_load_driver();
    a = model_add_drive(0, 0);
    b = model_add_drive(3, 1);
    EXPECT(model_debug_output_contains("filtering CdRom0 as drive"), "drive 0 not named CdRom0");
    EXPECT(model_debug_output_contains("filtering CdRom3 as drive"),
           "drive below an unnamed filter not named CdRom3");
    model_remove_drive(a);
    model_remove_drive(b);
    model_unload_driver();
}

/* Verdicts: forward (untraced), track, complete (an enforce denial), and the enforce release of
 * simple locks at close through synchronous sends below. */
static void s_verdicts_and_enforce(unsigned seed)
{
    model_drive *d;
    model_handle c, owner, other;
    PREVENT_MEDIA_REMOVAL p;
    model_request_view v;
    (void)seed;

    model_load_driver();
    d = model_add_drive(0, 0);
    model_open_control(&c);
    set_policy_enforce(&c);
    open_ok(d, &owner);
    open_ok(d, &other);
    p.PreventMediaRemoval = TRUE;
    v = ioctl_now(&owner, IOCTL_STORAGE_EJECTION_CONTROL, &p, sizeof(p), 0);
    EXPECT(NT_SUCCESS(v.status), "secure lock failed");
    v = ioctl_now(&other, IOCTL_STORAGE_EJECT_MEDIA, NULL, 0, 0);
    EXPECT(v.completed && !NT_SUCCESS(v.status), "eject under a foreign lock not denied");
    v = ioctl_now(&other, IOCTL_STORAGE_GET_DEVICE_NUMBER, NULL, 0, 64);
    EXPECT(v.completed && NT_SUCCESS(v.status), "untouched IOCTL not forwarded");
    media_removal(&other, TRUE);
    media_removal(&other, TRUE);
    d->lower_ioctls = 0;
    close_handle(&other);
    EXPECT(d->lower_ioctls == 2, "enforce release at close sent %u unlocks, expected 2", d->lower_ioctls);
    /* A failing drive at the release (no media): every unlock is still sent. */
    media_removal(&owner, TRUE);
    d->lower_status = STATUS_NO_MEDIA_IN_DEVICE;
    d->lower_ioctls = 0;
    close_handle(&owner);
    EXPECT(d->lower_ioctls == 1, "release with a failing drive sent %u unlocks", d->lower_ioctls);
    d->lower_status = STATUS_SUCCESS;
    close_handle(&c);
    model_remove_drive(d);
    model_unload_driver();
}

/* WaitTrace: park, cancel by the client, completion by a notify (work item), purge at cleanup. */
static void s_wait_trace(unsigned seed)
{
    model_drive *d;
    model_handle c, h;
    model_irp *w1, *w2, *w3;
    model_request_view v;
    (void)seed;

    model_load_driver();
    d = model_add_drive(0, 0);
    model_open_control(&c);
    control_call(&c, CDF_IOCTL_CLEAR_TRACE, NULL, 0);
    w1 = wait_trace(&c);
    EXPECT(!model_irp_view(w1).completed, "WaitTrace did not park");
    model_cancel(w1);
    v = model_irp_view(w1);
    EXPECT(v.completed && v.status == STATUS_CANCELLED, "cancelled WaitTrace: 0x%08lX", (unsigned long)v.status);
    model_irp_free(w1);
    model_run_work_items();
    w2 = wait_trace(&c);
    model_run_work_items();
    EXPECT(!model_irp_view(w2).completed, "second WaitTrace did not park");
    open_ok(d, &h);
    media_removal(&h, TRUE);
    media_removal(&h, FALSE);
    EXPECT(model_work_items_queued() > 0, "records appended but no retry queued");
    model_run_work_items();
    v = model_irp_view(w2);
    EXPECT(v.completed && NT_SUCCESS(v.status) && v.information > 0, "WaitTrace not completed with records");
    model_irp_free(w2);
    control_call(&c, CDF_IOCTL_CLEAR_TRACE, NULL, 0);
    model_run_work_items();
    w3 = wait_trace(&c);
    EXPECT(!model_irp_view(w3).completed, "third WaitTrace did not park");
    model_cleanup(&c);
    v = model_irp_view(w3);
    EXPECT(v.completed && v.status == STATUS_CANCELLED, "WaitTrace not ended by its handle's cleanup");
    model_irp_free(w3);
    model_close(&c);
    close_handle(&h);
    model_run_work_items();
    model_remove_drive(d);
    model_unload_driver();
}

/* The lower driver fails: a failed tracked IOCTL, a failed create, a refused send. */
static void s_failing_lower(unsigned seed)
{
    model_drive *d;
    model_handle h, h2;
    model_request_view v;
    NTSTATUS s;
    (void)seed;

    model_load_driver();
    d = model_add_drive(0, 0);
    open_ok(d, &h);
    d->lower_status = STATUS_NO_MEDIA_IN_DEVICE;
    v = media_removal(&h, TRUE);
    EXPECT(v.status == STATUS_NO_MEDIA_IN_DEVICE, "lower failure not passed up: 0x%08lX", (unsigned long)v.status);
    s = model_open_drive(d, &h2, UserMode);
    EXPECT(s == STATUS_NO_MEDIA_IN_DEVICE, "failed create came back as 0x%08lX", (unsigned long)s);
    d->lower_status = STATUS_SUCCESS;
    d->send_fails = 1;
    v = media_removal(&h, TRUE);
    EXPECT(v.completed && !NT_SUCCESS(v.status), "refused send not completed with its failure");
    v = ioctl_now(&h, IOCTL_STORAGE_GET_DEVICE_NUMBER, NULL, 0, 64);
    EXPECT(v.completed && !NT_SUCCESS(v.status), "refused untracked send not completed");
    d->send_fails = 0;
    close_handle(&h);
    model_remove_drive(d);
    model_unload_driver();
}

/* The trace ring size from the service's Parameters key (TraceRingBytes, REG_DWORD). */
static void s_ring_parameter(unsigned seed)
{
    model_drive *d;
    model_handle c;
    (void)seed;

    model_set_parameter(L"TraceRingBytes", 65536);
    model_load_driver();
    d = model_add_drive(0, 0);
    model_open_control(&c);
    EXPECT(NT_SUCCESS(control_call(&c, CDF_IOCTL_GET_INFO, NULL, 0)), "GetInfo failed");
    EXPECT(get_varint_field(g_out, sizeof(g_out), 9) == 65536, "ring_bytes %llu, expected 65536",
           (unsigned long long)get_varint_field(g_out, sizeof(g_out), 9));
    close_handle(&c);
    model_remove_drive(d);
    model_unload_driver();
}

static void s_ring_parameter_out_of_range(unsigned seed)
{
    model_drive *d;
    model_handle c;
    (void)seed;

    model_set_parameter(L"TraceRingBytes", 16);
    EXPECT(NT_SUCCESS(model_load_driver()), "DriverEntry failed on an out-of-range ring size");
    d = model_add_drive(0, 0);
    model_open_control(&c);
    control_call(&c, CDF_IOCTL_GET_INFO, NULL, 0);
    EXPECT(get_varint_field(g_out, sizeof(g_out), 9) == 1048576, "out-of-range ring size not replaced "
           "by the 1 MiB default: %llu", (unsigned long long)get_varint_field(g_out, sizeof(g_out), 9));
    EXPECT(model_debug_output_contains("TraceRingBytes"), "out-of-range ring size not reported");
    close_handle(&c);
    model_remove_drive(d);
    model_unload_driver();
}

/* Randomized interleavings: requests held by the lower driver and completed in random order at
 * PASSIVE or DISPATCH level, work items run at random points, WaitTraces parked, cancelled and
 * purged, handles closed and reopened, drives removed and added again while the control handle
 * stays open (all of them at times, which deletes and recreates the control device). */
static unsigned g_rng;
static unsigned rnd(unsigned n)
{
    g_rng = g_rng * 1103515245u + 12345u;
    return (g_rng >> 16) % n;
}

#define R_DRIVES 3
#define R_HANDLES 4
#define R_IRPS 512
static void s_random(unsigned seed)
{
    model_drive *d[R_DRIVES];
    model_handle h[R_DRIVES][R_HANDLES];
    model_handle kernel[R_DRIVES];
    model_handle c;
    model_irp *irps[R_IRPS];
    unsigned nirps = 0, i, j, step;
    int control_open;
    static const ULONG codes[] = { IOCTL_STORAGE_MEDIA_REMOVAL, IOCTL_STORAGE_EJECTION_CONTROL,
                                   IOCTL_STORAGE_EJECT_MEDIA, IOCTL_STORAGE_CHECK_VERIFY,
                                   IOCTL_STORAGE_GET_DEVICE_NUMBER, IOCTL_STORAGE_MCN_CONTROL };

    g_rng = seed;
    model_load_driver();
    for (i = 0; i < R_DRIVES; i++) {
        d[i] = model_add_drive(i, (int)(i == 2));
        d[i]->lower_mode = LOWER_PEND;
        memset(&kernel[i], 0, sizeof(kernel[i]));
        kernel[i].drive = d[i];
        for (j = 0; j < R_HANDLES; j++) {
            memset(&h[i][j], 0, sizeof(h[i][j]));
        }
    }
    control_open = NT_SUCCESS(model_open_control(&c));
    if (control_open && rnd(2)) {
        set_policy_enforce(&c);
    }
    for (step = 0; step < 400 && nirps < R_IRPS - 2; step++) {
        unsigned op = rnd(13);
        i = rnd(R_DRIVES);
        j = rnd(R_HANDLES);
        model_set_process(100 + j, L"\\Device\\HarddiskVolume2\\Windows\\explorer.exe", 0);
        switch (op) {
        case 0:
        case 1: /* open or close a handle */
            if (!h[i][j].open) {
                d[i]->lower_mode = LOWER_COMPLETE;
                d[i]->lower_status = rnd(8) == 0 ? STATUS_ACCESS_DENIED : STATUS_SUCCESS;
                model_open_drive(d[i], &h[i][j], UserMode);
                d[i]->lower_status = STATUS_SUCCESS;
                d[i]->lower_mode = LOWER_PEND;
            } else {
                /* pending requests of this handle first: cleanup waits for none, but close
                 * comes only after every IRP on the file object completed */
                unsigned k;
                for (k = model_lower_pending(); k > 0; k--) {
                    model_lower_complete_one(k - 1, STATUS_SUCCESS, 0, rnd(2) ? DISPATCH_LEVEL : PASSIVE_LEVEL);
                }
                d[i]->lower_mode = LOWER_COMPLETE;
                close_handle(&h[i][j]);
                d[i]->lower_mode = LOWER_PEND;
            }
            break;
        case 2:
        case 3:
        case 4: { /* a device control on an open handle */
            PREVENT_MEDIA_REMOVAL p;
            if (!h[i][j].open) break;
            p.PreventMediaRemoval = (BOOLEAN)rnd(2);
            irps[nirps++] = model_ioctl(&h[i][j], IRP_MJ_DEVICE_CONTROL, codes[rnd(6)], &p, sizeof(p), 16);
            break;
        }
        case 5: /* an internal device control at DISPATCH_LEVEL */
            model_set_irql(DISPATCH_LEVEL);
            irps[nirps++] = model_ioctl(&kernel[i], IRP_MJ_INTERNAL_DEVICE_CONTROL, 0x4D014, NULL, 0, 0);
            model_set_irql(PASSIVE_LEVEL);
            break;
        case 6:
        case 7: /* the lower driver completes something */
            if (model_lower_pending() > 0) {
                model_lower_complete_one(rnd(model_lower_pending()), rnd(5) == 0 ? STATUS_NO_MEDIA_IN_DEVICE : STATUS_SUCCESS,
                                         0, rnd(2) ? DISPATCH_LEVEL : PASSIVE_LEVEL);
            }
            break;
        case 8:
            model_run_work_items();
            break;
        case 9: /* a WaitTrace parks, or the newest one is cancelled */
            if (control_open) {
                if (rnd(2)) {
                    irps[nirps++] = wait_trace(&c);
                } else if (nirps > 0) {
                    model_cancel(irps[nirps - 1]);
                }
            }
            break;
        case 12: { /* the drive goes (its handles closed, its I/O done) and comes back */
            unsigned k;
            for (k = model_lower_pending(); k > 0; k--) {
                model_lower_complete_one(k - 1, STATUS_SUCCESS, 0, PASSIVE_LEVEL);
            }
            d[i]->lower_mode = LOWER_COMPLETE;
            for (k = 0; k < R_HANDLES; k++) {
                if (h[i][k].open) close_handle(&h[i][k]);
            }
            model_remove_drive(d[i]);
            model_run_work_items();
            d[i] = model_add_drive(i, (int)(i == 2));
            d[i]->lower_mode = LOWER_PEND;
            kernel[i].drive = d[i];
            break;
        }
        case 10: /* a ReadTrace */
            if (control_open) {
                control_call(&c, CDF_IOCTL_READ_TRACE, NULL, 0);
            }
            break;
        default: /* a read */
            if (h[i][j].open) {
                irps[nirps++] = model_ioctl(&h[i][j], IRP_MJ_READ, 0, NULL, 0, 2048);
            }
            break;
        }
    }
    while (model_lower_pending() > 0) {
        model_lower_complete_one(rnd(model_lower_pending()), STATUS_SUCCESS, 0, rnd(2) ? DISPATCH_LEVEL : PASSIVE_LEVEL);
    }
    model_run_work_items();
    for (i = 0; i < R_DRIVES; i++) {
        d[i]->lower_mode = LOWER_COMPLETE;
        for (j = 0; j < R_HANDLES; j++) {
            if (h[i][j].open) close_handle(&h[i][j]);
        }
    }
    if (control_open) {
        close_handle(&c);
    }
    for (i = 0; i < nirps; i++) {
        EXPECT(model_irp_view(irps[i]).completed, "IRP %u never completed", i);
        model_irp_free(irps[i]);
    }
    for (i = 0; i < R_DRIVES; i++) {
        model_remove_drive(d[i]);
    }
    model_unload_driver();
}

typedef struct scenario {
    const char *name;
    void (*run)(unsigned seed);
    unsigned seeds; /* runs with seeds 1..seeds */
} scenario;

static const scenario g_scenarios[] = {
    { "basic-create-io-close", s_basic, 1 },
    { "unknown-file-object-cleanup-close", s_unknown_file_object, 1 },
    { "control-device-lifetime", s_control_lifetime, 1 },
    { "more-drives-than-the-core-holds", s_more_drives_than_core, 1 },
    { "internal-device-control-at-dispatch", s_internal_at_dispatch, 1 },
    { "control-device-removed-while-open", s_control_removed_while_open, 1 },
    { "drive-name-below-another-filter", s_drive_name, 1 },
    { "verdicts-and-enforce-release", s_verdicts_and_enforce, 1 },
    { "wait-trace-park-cancel-purge", s_wait_trace, 1 },
    { "failing-lower-driver", s_failing_lower, 1 },
    { "ring-size-parameter", s_ring_parameter, 1 },
    { "ring-size-parameter-out-of-range", s_ring_parameter_out_of_range, 1 },
    { "random-interleavings", s_random, 24 },
};
#define N_SCENARIOS (sizeof(g_scenarios) / sizeof(g_scenarios[0]))

static int run_one(const scenario *s, unsigned seed)
{
    jmp_buf jump;

    model_reset();
    model_set_bugcheck_jump(&jump);
    if (setjmp(jump) == 0) {
        s->run(seed);
    }
    model_set_bugcheck_jump(NULL);
    return model_violation_count() == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    unsigned i, seed, failed = 0, runs = 0;

    if (argc >= 2) {
        for (i = 0; i < N_SCENARIOS; i++) {
            if (strcmp(argv[1], g_scenarios[i].name) == 0) {
                int rc;
                seed = argc >= 3 ? (unsigned)strtoul(argv[2], NULL, 10) : 1u;
                rc = run_one(&g_scenarios[i], seed);
                printf("%s  %s seed %u (%u violations)\n", rc == 0 ? "pass" : "FAIL", argv[1], seed,
                       model_violation_count());
                fflush(stdout);
                return rc;
            }
        }
        printf("unknown scenario %s\n", argv[1]);
        return 2;
    }
    for (i = 0; i < N_SCENARIOS; i++) {
        for (seed = 1; seed <= g_scenarios[i].seeds; seed++) {
            failed += (unsigned)win32_spawn(argv[0], g_scenarios[i].name, seed);
            runs++;
        }
    }
    printf("kmdf-harness: %u of %u scenario runs failed\n", failed, runs);
    fflush(stdout);
    return failed == 0 ? 0 : 1;
}
