/*
 * queue.c - the filter device's default I/O queue.
 *
 * Parallel: a filter must never serialize the drive's I/O. Device control, internal device
 * control, read and write come here and are handed to the core (request.c); every other
 * request type is forwarded by the framework untouched. The framework makes a filter's
 * queues non-power-managed, so nothing is held back while the drive is in a low-power state.
 * The callbacks run at the caller's IRQL (up to DISPATCH_LEVEL for internal device controls)
 * and are therefore not paged.
 */
#include "driver.h"

static EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL CdfEvtIoDeviceControl;
static EVT_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL CdfEvtIoInternalDeviceControl;
static EVT_WDF_IO_QUEUE_IO_READ CdfEvtIoRead;
static EVT_WDF_IO_QUEUE_IO_WRITE CdfEvtIoWrite;

#ifdef ALLOC_PRAGMA
#pragma alloc_text(PAGE, CdfFilterQueueInitialize)
#endif

static PCDF_FILTER_CONTEXT CdfFilterOfQueue(_In_ WDFQUEUE Queue)
{
    return CdfFilterGetContext(WdfIoQueueGetDevice(Queue));
}

_Use_decl_annotations_
NTSTATUS CdfFilterQueueInitialize(WDFDEVICE Device)
{
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDFQUEUE queue;

    PAGED_CODE();

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchParallel);
    queueConfig.EvtIoDeviceControl = CdfEvtIoDeviceControl;
    queueConfig.EvtIoInternalDeviceControl = CdfEvtIoInternalDeviceControl;
    queueConfig.EvtIoRead = CdfEvtIoRead;
    queueConfig.EvtIoWrite = CdfEvtIoWrite;

    return WdfIoQueueCreate(Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &queue);
}

_Use_decl_annotations_
static VOID CdfEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength,
                                  size_t InputBufferLength, ULONG IoControlCode)
{
    UNREFERENCED_PARAMETER(OutputBufferLength);
    UNREFERENCED_PARAMETER(InputBufferLength);
    UNREFERENCED_PARAMETER(IoControlCode);

    CdfDispatchAndForward(CdfFilterOfQueue(Queue), Request, FALSE);
}

_Use_decl_annotations_
static VOID CdfEvtIoInternalDeviceControl(WDFQUEUE Queue, WDFREQUEST Request,
                                          size_t OutputBufferLength, size_t InputBufferLength,
                                          ULONG IoControlCode)
{
    UNREFERENCED_PARAMETER(OutputBufferLength);
    UNREFERENCED_PARAMETER(InputBufferLength);
    UNREFERENCED_PARAMETER(IoControlCode);

    CdfDispatchAndForward(CdfFilterOfQueue(Queue), Request, FALSE);
}

_Use_decl_annotations_
static VOID CdfEvtIoRead(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    UNREFERENCED_PARAMETER(Length);

    CdfDispatchAndForward(CdfFilterOfQueue(Queue), Request, FALSE);
}

_Use_decl_annotations_
static VOID CdfEvtIoWrite(WDFQUEUE Queue, WDFREQUEST Request, size_t Length)
{
    UNREFERENCED_PARAMETER(Length);

    CdfDispatchAndForward(CdfFilterOfQueue(Queue), Request, FALSE);
}
