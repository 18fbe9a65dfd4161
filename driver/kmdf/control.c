/*
 * control.c - the control device \Device\CdFilter (\\.\CdFilter) and its parked trace waits.
 *
 * Lifetime (the sideband pattern of the toaster filter sample): the filter devices are kept in
 * a collection under a wait lock; registering the first one creates the control device,
 * unregistering the last deletes it. A control device is not part of the PnP stack, so as
 * long as it exists the driver cannot unload.
 *
 * Deleting it while a client still holds a handle (`cdfilter trace` running when the last USB
 * drive is unplugged): FxDevice::DeleteObject (Windows-Driver-Frameworks, fxdevice.cpp) only
 * deletes the device object then; its queues are purged and a link made by
 * WdfDeviceCreateSymbolicLink deleted when the last handle closes. So the glue purges the
 * parked WaitTrace requests itself, and creates and deletes the \DosDevices link itself
 * (IoCreateSymbolicLink / IoDeleteSymbolicLink) so that a drive arriving before that client
 * closes gets a new control device under the same names at once. Requests the old client
 * still sends reach the old device and are answered; WaitTrace fails (its parked queue is
 * purged) instead of hanging.
 *
 * Requests: every control IOCTL (METHOD_BUFFERED, codes in gen/cdfilter_ioctl.h) is decoded,
 * executed and answered by the core (cdf_control_dispatch). A WaitTrace with nothing after its
 * cursor gets STATUS_PENDING from the core and is parked in a manual queue (the inverted
 * call). When the core appends records it calls CdfControlNotify, which queues a work item
 * that asks the core again for every parked request and completes those that now have data.
 * Parked requests stay cancelable (the manual queue cancels them) and are purged when their
 * handle is cleaned up.
 */
#include "driver.h"

/* Only SYSTEM and the Administrators group may open the control device (GENERIC_ALL each):
 * the trace shows every process's I/O to the drives and SetPolicy changes enforcement. */
#define CDF_CONTROL_SDDL L"D:P(A;;GA;;;SY)(A;;GA;;;BA)"

typedef struct _CDF_CONTROL_CONTEXT {
    WDFQUEUE ParkedQueue;         /* manual: WaitTrace requests waiting for records */
    WDFSPINLOCK ParkLock;         /* orders (re)parking against a handle's cleanup */
    WDFWORKITEM RetryWorkItem;    /* retries the parked requests at PASSIVE_LEVEL */
    volatile LONG RetryRequests;  /* retries asked for and not yet served */
} CDF_CONTROL_CONTEXT, *PCDF_CONTROL_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(CDF_CONTROL_CONTEXT, CdfControlGetContext)

/* Per control request: a link for the short time a retry owns it. */
typedef struct _CDF_CONTROL_REQUEST_CONTEXT {
    WDFREQUEST NextHeld;
} CDF_CONTROL_REQUEST_CONTEXT, *PCDF_CONTROL_REQUEST_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(CDF_CONTROL_REQUEST_CONTEXT, CdfControlRequestGetContext)

/* Per control handle: set (under ParkLock) when its cleanup starts, so a WaitTrace that a retry
 * pass or a dispatch is holding at that moment is completed instead of parked again, where the
 * cleanup would no longer find it. */
typedef struct _CDF_CONTROL_FILE_CONTEXT {
    BOOLEAN CleanedUp;
} CDF_CONTROL_FILE_CONTEXT, *PCDF_CONTROL_FILE_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(CDF_CONTROL_FILE_CONTEXT, CdfControlFileGetContext)

static EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL CdfEvtControlIoDeviceControl;
static EVT_WDF_FILE_CLEANUP CdfEvtControlFileCleanup;
static EVT_WDF_WORKITEM CdfEvtRetryParkedWorkItem;

static NTSTATUS CdfCreateControlDevice(_In_ WDFDRIVER Driver);
static VOID CdfDeleteControlDevice(VOID);
static NTSTATUS CdfInitializeControlDeviceObjects(_In_ WDFDEVICE Device);
static BOOLEAN CdfIsRegisteredFilter(_In_ WDFDEVICE Device);
static VOID CdfSetRetryWorkItem(_In_opt_ WDFWORKITEM WorkItem);
static NTSTATUS CdfExecuteControlRequest(_In_ WDFREQUEST Request, _Out_ uint32_t *Written);
static BOOLEAN CdfTryCompleteControlRequest(_In_ WDFREQUEST Request);
static VOID CdfParkTraceWait(_In_ PCDF_CONTROL_CONTEXT Control, _In_ WDFREQUEST Request);
static VOID CdfRetryParkedRequests(_In_ PCDF_CONTROL_CONTEXT Control);
static VOID CdfRetryParkedPass(_In_ PCDF_CONTROL_CONTEXT Control);
static VOID CdfParkUnlessCleanedUp(_In_ PCDF_CONTROL_CONTEXT Control, _In_ WDFREQUEST Request,
                                   _In_ BOOLEAN Requeue);
static VOID CdfMarkCleanedUp(_In_ PCDF_CONTROL_CONTEXT Control, _In_ WDFFILEOBJECT FileObject);

#ifdef ALLOC_PRAGMA
#pragma alloc_text(PAGE, CdfControlInitialize)
#pragma alloc_text(PAGE, CdfControlRegisterFilter)
#pragma alloc_text(PAGE, CdfControlUnregisterFilter)
#pragma alloc_text(PAGE, CdfCreateControlDevice)
#pragma alloc_text(PAGE, CdfDeleteControlDevice)
#pragma alloc_text(PAGE, CdfInitializeControlDeviceObjects)
#pragma alloc_text(PAGE, CdfIsRegisteredFilter)
#pragma alloc_text(PAGE, CdfEvtControlFileCleanup)
#pragma alloc_text(PAGE, CdfEvtRetryParkedWorkItem)
#pragma alloc_text(PAGE, CdfRetryParkedRequests)
#pragma alloc_text(PAGE, CdfRetryParkedPass)
#endif

/* Every filter device; guarded by CdfFilterDevicesLock, which also guards CdfControlDevice. */
static WDFCOLLECTION CdfFilterDevices;
static WDFWAITLOCK CdfFilterDevicesLock;
static WDFDEVICE CdfControlDevice;

/* The work item CdfControlNotify queues (NULL while there is no control device); guarded by
 * CdfNotifyLock because the core notifies at up to DISPATCH_LEVEL. */
static WDFSPINLOCK CdfNotifyLock;
static WDFWORKITEM CdfRetryWorkItem;

/* PASSIVE_LEVEL, from DriverEntry. The objects' parent is the driver object. */
NTSTATUS CdfControlInitialize(VOID)
{
    NTSTATUS status;

    PAGED_CODE();

    status = WdfCollectionCreate(WDF_NO_OBJECT_ATTRIBUTES, &CdfFilterDevices);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfWaitLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &CdfFilterDevicesLock);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    return WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &CdfNotifyLock);
}

/* PASSIVE_LEVEL. A failure leaves the filter registered; the next registration retries the
 * control device. */
_Use_decl_annotations_
NTSTATUS CdfControlRegisterFilter(WDFDEVICE Device)
{
    NTSTATUS status;

    PAGED_CODE();

    WdfWaitLockAcquire(CdfFilterDevicesLock, NULL);
    status = WdfCollectionAdd(CdfFilterDevices, Device);
    if (NT_SUCCESS(status) && CdfControlDevice == NULL) {
        status = CdfCreateControlDevice(WdfDeviceGetDriver(Device));
    }
    WdfWaitLockRelease(CdfFilterDevicesLock);
    return status;
}

/* PASSIVE_LEVEL, with CdfFilterDevicesLock held. */
static BOOLEAN CdfIsRegisteredFilter(WDFDEVICE Device)
{
    ULONG count = WdfCollectionGetCount(CdfFilterDevices);
    ULONG i;

    PAGED_CODE();

    for (i = 0; i < count; i++) {
        if (WdfCollectionGetItem(CdfFilterDevices, i) == (WDFOBJECT)Device) {
            return TRUE;
        }
    }
    return FALSE;
}

/* PASSIVE_LEVEL. Tolerates a device that never registered (a failed EvtDriverDeviceAdd). */
_Use_decl_annotations_
VOID CdfControlUnregisterFilter(WDFDEVICE Device)
{
    PAGED_CODE();

    WdfWaitLockAcquire(CdfFilterDevicesLock, NULL);
    if (CdfIsRegisteredFilter(Device)) {
        WdfCollectionRemove(CdfFilterDevices, Device);
    }
    if (WdfCollectionGetCount(CdfFilterDevices) == 0 && CdfControlDevice != NULL) {
        CdfDeleteControlDevice();
    }
    WdfWaitLockRelease(CdfFilterDevicesLock);
}

/* PASSIVE_LEVEL. The queues and the work item of a new control device. */
static NTSTATUS CdfInitializeControlDeviceObjects(WDFDEVICE Device)
{
    PCDF_CONTROL_CONTEXT control = CdfControlGetContext(Device);
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_WORKITEM_CONFIG workItemConfig;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFQUEUE queue;
    NTSTATUS status;

    PAGED_CODE();

    /* Parallel: a parked WaitTrace must not hold back other clients' requests. */
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchParallel);
    queueConfig.EvtIoDeviceControl = CdfEvtControlIoDeviceControl;
    status = WdfIoQueueCreate(Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &queue);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchManual);
    status = WdfIoQueueCreate(Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &control->ParkedQueue);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = Device;
    status = WdfSpinLockCreate(&attributes, &control->ParkLock);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    WDF_WORKITEM_CONFIG_INIT(&workItemConfig, CdfEvtRetryParkedWorkItem);
    workItemConfig.AutomaticSerialization = FALSE;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = Device;
    return WdfWorkItemCreate(&workItemConfig, &attributes, &control->RetryWorkItem);
}

/* PASSIVE_LEVEL, with CdfFilterDevicesLock held. */
_Use_decl_annotations_
static NTSTATUS CdfCreateControlDevice(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(sddl, CDF_CONTROL_SDDL);
    DECLARE_CONST_UNICODE_STRING(deviceName, CDF_CONTROL_DEVICE_NAME);
    DECLARE_CONST_UNICODE_STRING(linkName, CDF_CONTROL_LINK_NAME);
    PWDFDEVICE_INIT deviceInit;
    WDF_FILEOBJECT_CONFIG fileConfig;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES fileAttributes;
    WDFDEVICE device;
    NTSTATUS status;

    PAGED_CODE();

    deviceInit = WdfControlDeviceInitAllocate(Driver, &sddl);
    if (deviceInit == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    /* Several clients, each with its own trace cursor. FILE_DEVICE_SECURE_OPEN: opens of
     * names below \Device\CdFilter get the same check as the device itself. */
    WdfDeviceInitSetExclusive(deviceInit, FALSE);
    WdfDeviceInitSetCharacteristics(deviceInit, FILE_DEVICE_SECURE_OPEN, TRUE);
    status = WdfDeviceInitAssignName(deviceInit, &deviceName);
    if (!NT_SUCCESS(status)) {
        WdfDeviceInitFree(deviceInit);
        return status;
    }

    WDF_FILEOBJECT_CONFIG_INIT(&fileConfig, WDF_NO_EVENT_CALLBACK, WDF_NO_EVENT_CALLBACK,
                               CdfEvtControlFileCleanup);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&fileAttributes, CDF_CONTROL_FILE_CONTEXT);
    WdfDeviceInitSetFileObjectConfig(deviceInit, &fileConfig, &fileAttributes);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, CDF_CONTROL_REQUEST_CONTEXT);
    WdfDeviceInitSetRequestAttributes(deviceInit, &attributes);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, CDF_CONTROL_CONTEXT);
    status = WdfDeviceCreate(&deviceInit, &attributes, &device);
    if (!NT_SUCCESS(status)) {
        WdfDeviceInitFree(deviceInit);
        return status;
    }

    status = CdfInitializeControlDeviceObjects(device);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(device);
        return status;
    }
    /* The link is the glue's own (see the top of this file); the device has no handle yet, so
     * deleting it on failure removes it at once. */
    status = IoCreateSymbolicLink((PUNICODE_STRING)&linkName, (PUNICODE_STRING)&deviceName);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(device);
        return status;
    }

    /* Control devices reject I/O until they are declared ready. */
    WdfControlFinishInitializing(device);
    CdfControlDevice = device;
    CdfSetRetryWorkItem(CdfControlGetContext(device)->RetryWorkItem);
    return STATUS_SUCCESS;
}

/* IRQL <= DISPATCH_LEVEL, non-paged (it holds a spin lock): the work item CdfControlNotify
 * queues, NULL to stop notifications. */
static VOID CdfSetRetryWorkItem(WDFWORKITEM WorkItem)
{
    WdfSpinLockAcquire(CdfNotifyLock);
    CdfRetryWorkItem = WorkItem;
    WdfSpinLockRelease(CdfNotifyLock);
}

/*
 * PASSIVE_LEVEL, with CdfFilterDevicesLock held. Notifications stop first; the parked WaitTrace
 * requests are cancelled (the queue then refuses new ones, which are completed with its
 * status), the link goes, and the device is deleted: at once when no handle is open, else the
 * framework finishes when the last one closes, while a new control device may already exist.
 */
static VOID CdfDeleteControlDevice(VOID)
{
    DECLARE_CONST_UNICODE_STRING(linkName, CDF_CONTROL_LINK_NAME);

    PAGED_CODE();

    CdfSetRetryWorkItem(NULL);
    WdfIoQueuePurgeSynchronously(CdfControlGetContext(CdfControlDevice)->ParkedQueue);
    (void)IoDeleteSymbolicLink((PUNICODE_STRING)&linkName);
    WdfObjectDelete(CdfControlDevice);
    CdfControlDevice = NULL;
}

/* IRQL <= DISPATCH_LEVEL, outside every core lock (cdf_notify_fn). Cheap when a retry is
 * already queued: WdfWorkItemEnqueue then does nothing. */
void CdfControlNotify(void *context)
{
    UNREFERENCED_PARAMETER(context);

    WdfSpinLockAcquire(CdfNotifyLock);
    if (CdfRetryWorkItem != NULL) {
        WdfWorkItemEnqueue(CdfRetryWorkItem);
    }
    WdfSpinLockRelease(CdfNotifyLock);
}

/*
 * IRQL <= DISPATCH_LEVEL. Hands the request's SystemBuffer to the core. Every control IOCTL is
 * METHOD_BUFFERED: anything else is refused before a user address could be touched. The input
 * and output are the same SystemBuffer; the core decodes the whole request before it writes.
 * Access: the I/O manager already checked the CTL_CODE access bits against the handle's
 * granted access, so every request reaching here has the access its code requires.
 */
_Use_decl_annotations_
static NTSTATUS CdfExecuteControlRequest(WDFREQUEST Request, uint32_t *Written)
{
    WDF_REQUEST_PARAMETERS params;
    PVOID inBuffer = NULL;
    PVOID outBuffer = NULL;
    size_t inLength = 0;
    size_t outLength = 0;
    uint8_t none[1] = { 0 };
    ULONG code;
    NTSTATUS status;

    *Written = 0;
    WDF_REQUEST_PARAMETERS_INIT(&params);
    WdfRequestGetParameters(Request, &params);
    code = params.Parameters.DeviceIoControl.IoControlCode;
    if (METHOD_FROM_CTL_CODE(code) != METHOD_BUFFERED) {
        return STATUS_INVALID_DEVICE_REQUEST;
    }

    if (params.Parameters.DeviceIoControl.InputBufferLength != 0) {
        status = WdfRequestRetrieveInputBuffer(Request, 1, &inBuffer, &inLength);
        if (!NT_SUCCESS(status)) {
            return status;
        }
    }
    if (params.Parameters.DeviceIoControl.OutputBufferLength != 0) {
        status = WdfRequestRetrieveOutputBuffer(Request, 1, &outBuffer, &outLength);
        if (!NT_SUCCESS(status)) {
            return status;
        }
    }
    if (inLength > MAXULONG || outLength > MAXULONG) {
        return STATUS_INVALID_PARAMETER;
    }

    return (NTSTATUS)cdf_control_dispatch(CdfCore, code, CDF_ACCESS_READ | CDF_ACCESS_WRITE,
                                          inBuffer != NULL ? (const uint8_t *)inBuffer : none,
                                          (uint32_t)inLength,
                                          outBuffer != NULL ? (uint8_t *)outBuffer : none,
                                          (uint32_t)outLength, Written);
}

/* IRQL <= DISPATCH_LEVEL. FALSE (request untouched) while the core still answers
 * STATUS_PENDING; otherwise the request is completed with the reply's length. */
_Use_decl_annotations_
static BOOLEAN CdfTryCompleteControlRequest(WDFREQUEST Request)
{
    uint32_t written;
    NTSTATUS status = CdfExecuteControlRequest(Request, &written);

    if (status == STATUS_PENDING) {
        return FALSE;
    }
    WdfRequestCompleteWithInformation(Request, status, NT_SUCCESS(status) ? written : 0);
    return TRUE;
}

/*
 * IRQL <= DISPATCH_LEVEL, non-paged (it holds a spin lock). Park (Requeue FALSE: forward a new
 * request to the parked queue; TRUE: put back one a retry pass took out) unless the handle's
 * cleanup has started: then the cleanup may already have purged the queue and would never see
 * the request, so it is completed with STATUS_CANCELLED here. ParkLock orders the two: a
 * request parked before the flag is set is found by the cleanup's purge.
 */
_Use_decl_annotations_
static VOID CdfParkUnlessCleanedUp(PCDF_CONTROL_CONTEXT Control, WDFREQUEST Request, BOOLEAN Requeue)
{
    WDFFILEOBJECT fileObject = WdfRequestGetFileObject(Request);
    NTSTATUS status;

    WdfSpinLockAcquire(Control->ParkLock);
    if (fileObject != NULL && CdfControlFileGetContext(fileObject)->CleanedUp) {
        status = STATUS_CANCELLED;
    } else if (Requeue) {
        status = WdfRequestRequeue(Request);
        if (!NT_SUCCESS(status)) {
            status = STATUS_CANCELLED; /* the queue is being purged or deleted */
        }
    } else {
        status = WdfRequestForwardToIoQueue(Request, Control->ParkedQueue);
    }
    WdfSpinLockRelease(Control->ParkLock);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
    }
}

/* IRQL <= DISPATCH_LEVEL, non-paged (it holds a spin lock). */
_Use_decl_annotations_
static VOID CdfMarkCleanedUp(PCDF_CONTROL_CONTEXT Control, WDFFILEOBJECT FileObject)
{
    WdfSpinLockAcquire(Control->ParkLock);
    CdfControlFileGetContext(FileObject)->CleanedUp = TRUE;
    WdfSpinLockRelease(Control->ParkLock);
}

/* IRQL <= DISPATCH_LEVEL. */
_Use_decl_annotations_
static VOID CdfParkTraceWait(PCDF_CONTROL_CONTEXT Control, WDFREQUEST Request)
{
    CdfParkUnlessCleanedUp(Control, Request, FALSE);
    /* Records appended between the core's STATUS_PENDING and the park woke nobody. */
    CdfControlNotify(NULL);
}

_Use_decl_annotations_
static VOID CdfEvtControlIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request,
                                         size_t OutputBufferLength, size_t InputBufferLength,
                                         ULONG IoControlCode)
{
    UNREFERENCED_PARAMETER(OutputBufferLength);
    UNREFERENCED_PARAMETER(InputBufferLength);
    UNREFERENCED_PARAMETER(IoControlCode);

    if (!CdfTryCompleteControlRequest(Request)) {
        CdfParkTraceWait(CdfControlGetContext(WdfIoQueueGetDevice(Queue)), Request);
    }
}

/*
 * PASSIVE_LEVEL. One pass over the parked requests: those with data are completed, the rest
 * are held on a list and put back at the end, so each is asked once per pass. Putting them
 * back in reverse order of retrieval keeps the oldest at the head.
 */
_Use_decl_annotations_
static VOID CdfRetryParkedPass(PCDF_CONTROL_CONTEXT Control)
{
    WDFREQUEST held = NULL;
    WDFREQUEST request;

    PAGED_CODE();

    while (NT_SUCCESS(WdfIoQueueRetrieveNextRequest(Control->ParkedQueue, &request))) {
        if (!CdfTryCompleteControlRequest(request)) {
            CdfControlRequestGetContext(request)->NextHeld = held;
            held = request;
        }
    }
    while (held != NULL) {
        request = held;
        held = CdfControlRequestGetContext(request)->NextHeld;
        /* Its handle may have been cleaned up while this pass held it. */
        CdfParkUnlessCleanedUp(Control, request, TRUE);
    }
}

/*
 * PASSIVE_LEVEL. One pass at a time; a retry asked for while a pass runs makes the running
 * one go again instead of running beside it, so no wake-up is lost to a request the other
 * pass was holding.
 */
_Use_decl_annotations_
static VOID CdfRetryParkedRequests(PCDF_CONTROL_CONTEXT Control)
{
    LONG served;

    PAGED_CODE();

    if (InterlockedIncrement(&Control->RetryRequests) != 1) {
        return;
    }
    do {
        served = InterlockedCompareExchange(&Control->RetryRequests, 0, 0);
        CdfRetryParkedPass(Control);
    } while (InterlockedExchangeAdd(&Control->RetryRequests, -served) != served);
}

_Use_decl_annotations_
static VOID CdfEvtRetryParkedWorkItem(WDFWORKITEM WorkItem)
{
    PAGED_CODE();

    CdfRetryParkedRequests(CdfControlGetContext((WDFDEVICE)WdfWorkItemGetParentObject(WorkItem)));
}

/* PASSIVE_LEVEL, in the thread closing the handle's last reference: its parked waits end, and
 * any a retry pass holds right now ends when the pass would put it back. */
_Use_decl_annotations_
static VOID CdfEvtControlFileCleanup(WDFFILEOBJECT FileObject)
{
    PCDF_CONTROL_CONTEXT control = CdfControlGetContext(WdfFileObjectGetDevice(FileObject));
    WDFREQUEST request;

    PAGED_CODE();

    CdfMarkCleanedUp(control, FileObject);
    while (NT_SUCCESS(WdfIoQueueRetrieveRequestByFileObject(control->ParkedQueue, FileObject,
                                                            &request))) {
        WdfRequestComplete(request, STATUS_CANCELLED);
    }
}
