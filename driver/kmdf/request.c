/*
 * request.c - the neutral view of a filter request and forwarding by the core's verdict.
 *
 *   CDF_ACTION_FORWARD        send and forget, not formatted (nothing to learn on the way up)
 *   CDF_ACTION_FORWARD_TRACK  format for the lower target, send with a completion routine,
 *                             report the lower driver's status and Information to the core,
 *                             complete with them
 *   CDF_ACTION_COMPLETE       the core's verdict (an enforce-mode denial): complete it here
 *                             with the verdict status and Information 0, never forwarded
 */
#include "driver.h"

/* The core speaks NT values under CDF_ names (cdf_nt.h); the glue passes them through as is. */
_Static_assert(CDF_IRP_MJ_CREATE == IRP_MJ_CREATE && CDF_IRP_MJ_CLOSE == IRP_MJ_CLOSE &&
               CDF_IRP_MJ_READ == IRP_MJ_READ && CDF_IRP_MJ_WRITE == IRP_MJ_WRITE &&
               CDF_IRP_MJ_DEVICE_CONTROL == IRP_MJ_DEVICE_CONTROL &&
               CDF_IRP_MJ_INTERNAL_DEVICE_CONTROL == IRP_MJ_INTERNAL_DEVICE_CONTROL &&
               CDF_IRP_MJ_CLEANUP == IRP_MJ_CLEANUP, "cdf_nt.h IRP_MJ_* differ from wdm.h");
_Static_assert(CDF_STATUS_SUCCESS == (uint32_t)STATUS_SUCCESS &&
               CDF_STATUS_PENDING == (uint32_t)STATUS_PENDING, "cdf_nt.h NTSTATUS values differ");
_Static_assert(CDF_ACCESS_READ == FILE_READ_DATA && CDF_ACCESS_WRITE == FILE_WRITE_DATA,
               "CDF_ACCESS_* must be the FILE_*_DATA bits");

static EVT_WDF_REQUEST_COMPLETION_ROUTINE CdfEvtTrackedRequestCompletion;
static VOID CdfDescribeBuffers(_In_ WDFREQUEST Request, _In_ PWDF_REQUEST_PARAMETERS Params,
                               _Inout_ cdf_request *Rq);
static VOID CdfForwardUntracked(_In_ PCDF_FILTER_CONTEXT Filter, _In_ WDFREQUEST Request);
static VOID CdfForwardTracked(_In_ PCDF_FILTER_CONTEXT Filter, _In_ WDFREQUEST Request);
static VOID CdfCompleteByVerdict(_In_ PCDF_FILTER_CONTEXT Filter, _In_ WDFREQUEST Request);

/* A process or thread id as the 32-bit value user mode sees (ids are below 2^32). */
static uint32_t CdfIdFromHandle(_In_ HANDLE Id)
{
    return (uint32_t)(ULONG_PTR)Id;
}

/*
 * The input the core may inspect: the SystemBuffer of a device control that has one
 * (METHOD_BUFFERED, METHOD_IN_DIRECT, METHOD_OUT_DIRECT). METHOD_NEITHER input is an
 * unprobed user address and internal device controls carry kernel pointers (SRBs): neither
 * is handed to the core. The I/O manager sized the SystemBuffer from InputBufferLength, so
 * the core reads at most that many bytes of memory the I/O manager owns.
 */
static VOID CdfDescribeBuffers(WDFREQUEST Request, PWDF_REQUEST_PARAMETERS Params, cdf_request *Rq)
{
    PVOID buffer = NULL;
    size_t length = 0;
    NTSTATUS status;

    switch (Params->Type) {
    case WdfRequestTypeDeviceControl:
        Rq->ioctl_code = Params->Parameters.DeviceIoControl.IoControlCode;
        Rq->output_length = (uint32_t)Params->Parameters.DeviceIoControl.OutputBufferLength;
        if (METHOD_FROM_CTL_CODE(Rq->ioctl_code) == METHOD_NEITHER ||
            Params->Parameters.DeviceIoControl.InputBufferLength == 0) {
            return;
        }
        status = WdfRequestRetrieveInputBuffer(Request, 1, &buffer, &length);
        if (NT_SUCCESS(status) && length <= MAXULONG) {
            Rq->input = (const uint8_t *)buffer;
            Rq->input_length = (uint32_t)length;
        }
        return;
    case WdfRequestTypeDeviceControlInternal:
        /* IRP_MJ_SCSI: Parameters.Scsi.Srb overlays Parameters.DeviceIoControl, so the code and
         * lengths would be bits of a kernel pointer. Major and minor only (the core enforces
         * the same). */
        return;
    case WdfRequestTypeRead:
        Rq->output_length = (uint32_t)Params->Parameters.Read.Length;
        Rq->offset = (uint64_t)Params->Parameters.Read.DeviceOffset;
        return;
    case WdfRequestTypeWrite:
        Rq->input_length = (uint32_t)Params->Parameters.Write.Length;
        Rq->offset = (uint64_t)Params->Parameters.Write.DeviceOffset;
        return;
    default:
        return;
    }
}

/* IRQL <= DISPATCH_LEVEL. The file object is keyed by its address: the core only compares
 * keys (cdf_fo_key) and never copies one into a record or reply. */
_Use_decl_annotations_
VOID CdfDescribeRequest(WDFREQUEST Request, cdf_request *Rq)
{
    PIRP irp = WdfRequestWdmGetIrp(Request);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    WDF_REQUEST_PARAMETERS params;

    RtlZeroMemory(Rq, sizeof(*Rq));
    WDF_REQUEST_PARAMETERS_INIT(&params);
    WdfRequestGetParameters(Request, &params);

    Rq->major = stack->MajorFunction;
    Rq->minor = stack->MinorFunction;
    Rq->file.opaque = (uintptr_t)stack->FileObject;
    Rq->pid = CdfIdFromHandle(PsGetCurrentProcessId());
    Rq->tid = CdfIdFromHandle(PsGetCurrentThreadId());
    Rq->requestor_pid = (uint32_t)IoGetRequestorProcessId(irp);
    if (WdfRequestIsFrom32BitProcess(Request)) {
        Rq->flags |= CDF_RQ_CALLER_32BIT;
    }
    if (WdfRequestGetRequestorMode(Request) == KernelMode) {
        Rq->flags |= CDF_RQ_KERNEL_MODE;
    }
    CdfDescribeBuffers(Request, &params, Rq);
}

/* Information as handed to the core: nothing for an internal device control (its Information
 * may be a kernel pointer), at most the output / read length for a device control or read. The
 * core applies the same bounds; this keeps the glue from ever handing one over. */
static uint64_t CdfRecordedInformation(_In_ const cdf_request *Rq, _In_ ULONG_PTR Information)
{
    switch (Rq->major) {
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        return 0;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_READ:
        return Information <= Rq->output_length ? (uint64_t)Information : (uint64_t)Rq->output_length;
    default:
        return (uint64_t)Information;
    }
}

/* IRQL <= DISPATCH_LEVEL. The lower driver's status and Information go up unchanged. */
_Use_decl_annotations_
static VOID CdfEvtTrackedRequestCompletion(WDFREQUEST Request, WDFIOTARGET Target,
                                           PWDF_REQUEST_COMPLETION_PARAMS Params, WDFCONTEXT Context)
{
    PCDF_FILTER_CONTEXT filter = (PCDF_FILTER_CONTEXT)Context;
    PCDF_REQUEST_CONTEXT tracked = CdfRequestGetContext(Request);
    NTSTATUS status = Params->IoStatus.Status;
    ULONG_PTR information = Params->IoStatus.Information;

    UNREFERENCED_PARAMETER(Target);

    /* Output capture (TraceConfig.output_capture_bytes): a METHOD_BUFFERED device control's
     * SystemBuffer holds the lower driver's output now. The core takes at most
     * min(Information, output length, cap) bytes of it and never for kernel-mode requestors.
     * Reads (direct I/O: an MDL) are not captured here. */
    if (tracked->Request.major == IRP_MJ_DEVICE_CONTROL && METHOD_FROM_CTL_CODE(tracked->Request.ioctl_code) == METHOD_BUFFERED &&
        NT_SUCCESS(status)) {
        tracked->Request.output = (const uint8_t *)WdfRequestWdmGetIrp(Request)->AssociatedIrp.SystemBuffer;
    }

    /* The core bounds what it records (Information of an internal device control may be a
     * pointer; of a device control or read, at most the caller's buffer); the request itself
     * completes with the lower driver's values. */
    cdf_core_complete(CdfCore, filter->DriveId, &tracked->Request, &tracked->Verdict,
                      (uint32_t)status, CdfRecordedInformation(&tracked->Request, information));
    WdfRequestCompleteWithInformation(Request, status, information);
}

/* IRQL <= DISPATCH_LEVEL. */
static VOID CdfForwardUntracked(PCDF_FILTER_CONTEXT Filter, WDFREQUEST Request)
{
    WDF_REQUEST_SEND_OPTIONS options;
    NTSTATUS status;

    WDF_REQUEST_SEND_OPTIONS_INIT(&options, WDF_REQUEST_SEND_OPTION_SEND_AND_FORGET);
    if (!WdfRequestSend(Request, Filter->LowerTarget, &options)) {
        status = WdfRequestGetStatus(Request);
        CdfDbgPrint(CDF_DBG_WARNING, "WdfRequestSend failed 0x%08X\n", status);
        WdfRequestComplete(Request, status);
    }
}

/* IRQL <= DISPATCH_LEVEL. */
static VOID CdfForwardTracked(PCDF_FILTER_CONTEXT Filter, WDFREQUEST Request)
{
    PCDF_REQUEST_CONTEXT tracked = CdfRequestGetContext(Request);
    NTSTATUS status;

    WdfRequestFormatRequestUsingCurrentType(Request);
    WdfRequestSetCompletionRoutine(Request, CdfEvtTrackedRequestCompletion, Filter);
    if (!WdfRequestSend(Request, Filter->LowerTarget, WDF_NO_SEND_OPTIONS)) {
        status = WdfRequestGetStatus(Request);
        CdfDbgPrint(CDF_DBG_WARNING, "WdfRequestSend failed 0x%08X\n", status);
        cdf_core_complete(CdfCore, Filter->DriveId, &tracked->Request, &tracked->Verdict,
                          (uint32_t)status, 0);
        WdfRequestComplete(Request, status);
    }
}

/* IRQL <= DISPATCH_LEVEL. The completion is recorded before the request (and with it its
 * context) is gone. */
static VOID CdfCompleteByVerdict(PCDF_FILTER_CONTEXT Filter, WDFREQUEST Request)
{
    PCDF_REQUEST_CONTEXT tracked = CdfRequestGetContext(Request);
    NTSTATUS status = (NTSTATUS)tracked->Verdict.status;

    cdf_core_complete(CdfCore, Filter->DriveId, &tracked->Request, &tracked->Verdict,
                      (uint32_t)status, 0);
    WdfRequestComplete(Request, status);
}

/*
 * IRQL <= DISPATCH_LEVEL (PASSIVE_LEVEL for creates). The SystemBuffer in the neutral view is
 * valid only during cdf_core_dispatch: once the request goes down, the lower driver may
 * overwrite it with its output, so the view kept for cdf_core_complete has no input. The
 * opener image stays: the core copies it at the create's completion, and it lives in the
 * request context (OpenerImage) until the request is completed.
 */
_Use_decl_annotations_
VOID CdfDispatchAndForward(PCDF_FILTER_CONTEXT Filter, WDFREQUEST Request, BOOLEAN HasOpenerImage)
{
    PCDF_REQUEST_CONTEXT tracked = CdfRequestGetContext(Request);

    CdfDescribeRequest(Request, &tracked->Request);
    if (HasOpenerImage && tracked->OpenerImage[0] != '\0') {
        tracked->Request.image_name = tracked->OpenerImage;
    }

    cdf_core_dispatch(CdfCore, Filter->DriveId, &tracked->Request, &tracked->Verdict);

    tracked->Request.input = NULL;

    switch (tracked->Verdict.action) {
    case CDF_ACTION_COMPLETE:
        CdfCompleteByVerdict(Filter, Request);
        break;
    case CDF_ACTION_FORWARD_TRACK:
        CdfForwardTracked(Filter, Request);
        break;
    case CDF_ACTION_FORWARD:
    default:
        CdfForwardUntracked(Filter, Request);
        break;
    }
}
