/*
 * driver.h - declarations shared by the KMDF glue of cdfilter.
 *
 * The glue is a thin adapter: it turns framework requests into cdf_request, asks the portable
 * core (driver/core/cdf_core.h) what to do, does it, and reports the lower driver's result.
 * Every decision (ledger, policy, trace records, control protocol) is made by the core.
 *
 *   driver.c    DriverEntry, the core's lifetime
 *   device.c    the filter device above cdrom.sys (EvtDriverDeviceAdd, removal)
 *   file.c      file-object callbacks of the filter device (create, cleanup, close)
 *   queue.c     the filter device's I/O queue (device control, internal device control,
 *               read, write)
 *   request.c   the neutral view of a request (cdf_request) and forwarding by verdict
 *   opener.c    who opened a handle: requestor process id and image name
 *   name.c      NT names (UTF-16) to UTF-8 last components
 *   control.c   the control device \\.\CdFilter and its parked trace waits
 */
#ifndef CDF_KMDF_DRIVER_H
#define CDF_KMDF_DRIVER_H

#include <ntifs.h>
#include <ntddstor.h>
#include <wdf.h>

#include "cdf_core.h"
#include "cdf_platform.h"
#include "trace.h"

/* Shown by GetInfo (at most 32 bytes). */
#define CDF_DRIVER_VERSION "1.0.0"

/* The NT device name and the DOS link of the control device (\\.\CdFilter from user mode). */
#define CDF_CONTROL_DEVICE_NAME L"\\Device\\CdFilter"
#define CDF_CONTROL_LINK_NAME   L"\\DosDevices\\CdFilter"

/* Longest drive name (e.g. "CdRom0") and opener image name handed to the core, in bytes of
 * UTF-8 without the NUL (cdf_core_add_drive: 64; trace.proto opener_image: max_len 64). */
#define CDF_NAME_MAX_BYTES 64u

/* ---- driver.c ---- */

/* The one core of this driver: created in DriverEntry, destroyed when the driver object is
 * cleaned up. Never NULL while a device exists. */
extern cdf_core *CdfCore;

/* ---- device.c ---- */

/* Per filter device (one per CD/DVD drive). */
typedef struct _CDF_FILTER_CONTEXT {
    WDFDEVICE Device;
    WDFIOTARGET LowerTarget;  /* cdrom.sys's device object below us */
    uint32_t DriveId;         /* the core's id of this drive (>= 1), 0 = not tracked */
    uint32_t UntrackedToken;  /* DriveId 0: cdf_core_add_untracked_drive's token (0 = none) */
} CDF_FILTER_CONTEXT, *PCDF_FILTER_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(CDF_FILTER_CONTEXT, CdfFilterGetContext)

EVT_WDF_DRIVER_DEVICE_ADD CdfEvtDriverDeviceAdd;
EVT_WDF_OBJECT_CONTEXT_CLEANUP CdfEvtFilterDeviceContextCleanup;

/* ---- request.c ---- */

/* Per request the framework delivers to the filter device: what the core decided at dispatch,
 * handed back unchanged at completion. */
typedef struct _CDF_REQUEST_CONTEXT {
    cdf_request Request;  /* the neutral view; Input is cleared before the request goes down */
    cdf_verdict Verdict;
    /* IRP_MJ_CREATE: the opener's image name (UTF-8 + NUL). The core reads it at the create's
     * completion (cdf_request.image_name), so it lives here, in the framework's non-paged
     * request context, for as long as the request does; Request.image_name points at it. */
    char OpenerImage[CDF_NAME_MAX_BYTES + 1];
} CDF_REQUEST_CONTEXT, *PCDF_REQUEST_CONTEXT;

WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(CDF_REQUEST_CONTEXT, CdfRequestGetContext)

/* Fill *Rq from a framework request (major, IOCTL code, file object key, pids, flags, the
 * SystemBuffer for buffered and direct IOCTLs, lengths, byte offset). */
VOID CdfDescribeRequest(_In_ WDFREQUEST Request, _Out_ cdf_request *Rq);

/* Ask the core about Request, then forward it (untracked or tracked) or complete it with the
 * core's verdict; the request is completed in every case. HasOpenerImage: IRP_MJ_CREATE whose
 * request context's OpenerImage holds the opener's image name (read by the core up to the
 * create's completion, which is why it lives in the request context). */
VOID CdfDispatchAndForward(_In_ PCDF_FILTER_CONTEXT Filter, _In_ WDFREQUEST Request,
                           _In_ BOOLEAN HasOpenerImage);

/* ---- file.c ---- */

EVT_WDF_DEVICE_FILE_CREATE CdfEvtDeviceFileCreate;
EVT_WDF_FILE_CLEANUP CdfEvtFileCleanup;
EVT_WDF_FILE_CLOSE CdfEvtFileClose;
EVT_WDFDEVICE_WDM_IRP_PREPROCESS CdfEvtWdmPreprocessFileObjectEnd;

/* ---- queue.c ---- */

NTSTATUS CdfFilterQueueInitialize(_In_ WDFDEVICE Device);

/* ---- opener.c ---- */

/* At PASSIVE_LEVEL: the UTF-8 last path component of the image of the process that sent
 * Irp (e.g. "node.exe"), at most CDF_NAME_MAX_BYTES bytes + NUL, into Name (NameBytes >=
 * CDF_NAME_MAX_BYTES + 1). Empty when the image is unknown (the System process). */
VOID CdfQueryOpenerImage(_In_ PIRP Irp, _Out_writes_bytes_(NameBytes) char *Name, _In_ size_t NameBytes);

/* ---- name.c ---- */

/* The last backslash-separated component of Path, as UTF-8 with a NUL, truncated at a
 * character boundary to fit NameBytes (>= 1). Unpaired surrogates become U+FFFD. */
VOID CdfLastComponentToUtf8(_In_ PCUNICODE_STRING Path, _Out_writes_bytes_(NameBytes) char *Name,
                            _In_ size_t NameBytes);

/* ---- control.c ---- */

/* The filter-device registry and the control device's lifetime: registering the first filter
 * device creates \Device\CdFilter, unregistering the last deletes it (so the driver can
 * unload). PASSIVE_LEVEL. */
NTSTATUS CdfControlInitialize(VOID);
NTSTATUS CdfControlRegisterFilter(_In_ WDFDEVICE Device);
VOID CdfControlUnregisterFilter(_In_ WDFDEVICE Device);

/* The core's notify callback: records were appended, retry parked WaitTrace requests. */
cdf_notify_fn CdfControlNotify;

#endif /* CDF_KMDF_DRIVER_H */
