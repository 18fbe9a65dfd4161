/*
 * file.c - file-object callbacks of the filter device: create, cleanup, close.
 *
 * Create: the opener (requestor process id, image name) is captured here, at PASSIVE_LEVEL in
 * the opener's context, and the create is forwarded like every other request (a filter that
 * registers EvtDeviceFileCreate must forward every create itself).
 *
 * Cleanup and close: with WdfFileObjectWdfCannotUseFsContexts the framework forwards the
 * IRP_MJ_CLEANUP and IRP_MJ_CLOSE itself after these callbacks return, so the glue only
 * reports them to the core. Neither can fail, so their completion is recorded as
 * STATUS_SUCCESS. Cleanup runs in the thread closing the last handle; close runs in an
 * arbitrary thread, after the last reference to the file object is gone - where cdrom.sys
 * releases the handle's secure locks, and where the core releases them too. File objects the
 * framework never saw created are reported from a WDM preprocess callback instead.
 */
#include "driver.h"

static VOID CdfReportFileObjectEnd(_In_ PCDF_FILTER_CONTEXT Filter, _In_ PFILE_OBJECT FileObject,
                                   _In_ UCHAR MajorFunction);
static uint32_t CdfReleaseSimpleLocks(_In_ PCDF_FILTER_CONTEXT Filter, _In_ uint32_t Count,
                                      _Out_ NTSTATUS *FirstFailure);

#ifdef ALLOC_PRAGMA
#pragma alloc_text(PAGE, CdfEvtDeviceFileCreate)
#pragma alloc_text(PAGE, CdfEvtFileCleanup)
#pragma alloc_text(PAGE, CdfEvtFileClose)
#pragma alloc_text(PAGE, CdfEvtWdmPreprocessFileObjectEnd)
#pragma alloc_text(PAGE, CdfReportFileObjectEnd)
#pragma alloc_text(PAGE, CdfReleaseSimpleLocks)
#endif

/* Bound on each synchronous unlock sent at close, so a hung drive cannot hang the close. */
#define CDF_UNLOCK_TIMEOUT_SECONDS 10

/* The opener image is written into the request context: the core reads it when the create
 * completes, after this callback has returned. */
_Use_decl_annotations_
VOID CdfEvtDeviceFileCreate(WDFDEVICE Device, WDFREQUEST Request, WDFFILEOBJECT FileObject)
{
    PCDF_REQUEST_CONTEXT tracked = CdfRequestGetContext(Request);

    UNREFERENCED_PARAMETER(FileObject);

    PAGED_CODE();

    CdfQueryOpenerImage(WdfRequestWdmGetIrp(Request), tracked->OpenerImage, sizeof(tracked->OpenerImage));
    CdfDispatchAndForward(CdfFilterGetContext(Device), Request, TRUE);
}

/*
 * PASSIVE_LEVEL. Under the enforce policy the core releases at close the simple
 * (IOCTL_STORAGE_MEDIA_REMOVAL) locks the handle still holds, which cdrom.sys never does:
 * one IOCTL_STORAGE_MEDIA_REMOVAL(FALSE) per lock, sent below us before the close goes down.
 * Every one is sent even after a failure: cdrom.sys talks to the drive only on the unlock that
 * takes its count to zero, so the earlier ones succeed without media and only the last can
 * fail (e.g. STATUS_NO_MEDIA_IN_DEVICE). Returns how many succeeded; *FirstFailure receives the
 * first failure's NTSTATUS (STATUS_SUCCESS when none failed).
 */
static uint32_t CdfReleaseSimpleLocks(PCDF_FILTER_CONTEXT Filter, uint32_t Count, NTSTATUS *FirstFailure)
{
    PREVENT_MEDIA_REMOVAL allow;
    WDF_MEMORY_DESCRIPTOR input;
    WDF_REQUEST_SEND_OPTIONS options;
    NTSTATUS status;
    uint32_t i;
    uint32_t succeeded = 0;

    PAGED_CODE();

    *FirstFailure = STATUS_SUCCESS;
    allow.PreventMediaRemoval = FALSE;
    WDF_MEMORY_DESCRIPTOR_INIT_BUFFER(&input, &allow, sizeof(allow));
    WDF_REQUEST_SEND_OPTIONS_INIT(&options, WDF_REQUEST_SEND_OPTION_TIMEOUT);
    WDF_REQUEST_SEND_OPTIONS_SET_TIMEOUT(&options, WDF_REL_TIMEOUT_IN_SEC(CDF_UNLOCK_TIMEOUT_SECONDS));

    for (i = 0; i < Count; i++) {
        status = WdfIoTargetSendIoctlSynchronously(Filter->LowerTarget, WDF_NO_HANDLE,
                                                   IOCTL_STORAGE_MEDIA_REMOVAL, &input, NULL,
                                                   &options, NULL);
        if (NT_SUCCESS(status)) {
            succeeded++;
        } else {
            CdfDbgPrint(CDF_DBG_WARNING, "releasing simple lock %u of %u failed 0x%08X\n",
                        i + 1, Count, status);
            if (NT_SUCCESS(*FirstFailure)) {
                *FirstFailure = status;
            }
        }
    }
    return succeeded;
}

/* PASSIVE_LEVEL. Cleanup and close carry no buffers: the view is the file object and who. */
static VOID CdfReportFileObjectEnd(PCDF_FILTER_CONTEXT Filter, PFILE_OBJECT FileObject,
                                   UCHAR MajorFunction)
{
    cdf_request rq;
    cdf_verdict verdict;

    PAGED_CODE();

    RtlZeroMemory(&rq, sizeof(rq));
    rq.major = MajorFunction;
    rq.file.opaque = (uintptr_t)FileObject;
    rq.pid = (uint32_t)(ULONG_PTR)PsGetCurrentProcessId();
    rq.tid = (uint32_t)(ULONG_PTR)PsGetCurrentThreadId();
    rq.requestor_pid = rq.pid;
    /* Cleanup runs in the thread closing the last handle: when the process is exiting, that is
     * its last thread tearing down the handle table. (Close runs in an arbitrary thread, where
     * this says nothing about the opener, but an exiting process's handles are usually closed
     * right there too.) */
    if (PsIsThreadTerminating(PsGetCurrentThread())) {
        rq.flags |= CDF_RQ_PROCESS_EXIT;
    }

    cdf_core_dispatch(CdfCore, Filter->DriveId, &rq, &verdict);
    if (verdict.action == CDF_ACTION_FORWARD) {
        return;
    }
    if (verdict.simple_unlocks != 0) {
        NTSTATUS firstFailure;
        uint32_t succeeded = CdfReleaseSimpleLocks(Filter, verdict.simple_unlocks, &firstFailure);

        cdf_core_simple_unlocks_done(CdfCore, Filter->DriveId, &rq, &verdict, succeeded,
                                     (uint32_t)firstFailure);
    }
    cdf_core_complete(CdfCore, Filter->DriveId, &rq, &verdict, (uint32_t)STATUS_SUCCESS, 0);
}

/*
 * PASSIVE_LEVEL. IRP_MJ_CLEANUP and IRP_MJ_CLOSE before the framework sees them. With
 * WdfFileObjectCanBeOptional the framework calls EvtFileCleanup/EvtFileClose only for file
 * objects whose create it saw; a volume handle routed through CDFS/UDFS can still take a lock
 * (the core adopts such file objects), so their end is reported here, or the lock would stay
 * in the ledger until the drive is removed.
 */
_Use_decl_annotations_
NTSTATUS CdfEvtWdmPreprocessFileObjectEnd(WDFDEVICE Device, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    PAGED_CODE();

    if (stack->FileObject != NULL && WdfDeviceGetFileObject(Device, stack->FileObject) == NULL) {
        CdfReportFileObjectEnd(CdfFilterGetContext(Device), stack->FileObject, stack->MajorFunction);
    }
    return WdfDeviceWdmDispatchPreprocessedIrp(Device, Irp);
}

/*
 * PASSIVE_LEVEL. FileObject is NULL for a file object the framework never saw created:
 * FxPkgGeneral::OnCleanup / OnClose (Windows-Driver-Frameworks, fxpkggeneral.cpp) still call
 * EvtFileCleanup / EvtFileClose, with a NULL WDFFILEOBJECT, and any WDF call on that handle is
 * bug check 0x10D (WDF_VIOLATION). CdfEvtWdmPreprocessFileObjectEnd has reported those already.
 */
_Use_decl_annotations_
VOID CdfEvtFileCleanup(WDFFILEOBJECT FileObject)
{
    PAGED_CODE();

    if (FileObject == NULL) {
        return;
    }
    CdfReportFileObjectEnd(CdfFilterGetContext(WdfFileObjectGetDevice(FileObject)),
                           WdfFileObjectWdmGetFileObject(FileObject), IRP_MJ_CLEANUP);
}

/* PASSIVE_LEVEL. NULL FileObject: see CdfEvtFileCleanup. */
_Use_decl_annotations_
VOID CdfEvtFileClose(WDFFILEOBJECT FileObject)
{
    PAGED_CODE();

    if (FileObject == NULL) {
        return;
    }
    CdfReportFileObjectEnd(CdfFilterGetContext(WdfFileObjectGetDevice(FileObject)),
                           WdfFileObjectWdmGetFileObject(FileObject), IRP_MJ_CLOSE);
}
