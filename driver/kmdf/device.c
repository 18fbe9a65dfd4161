/*
 * device.c - the filter device above cdrom.sys: creation in EvtDriverDeviceAdd, removal.
 *
 * One filter device per CD/DVD drive. It registers the drive with the core under cdrom.sys's
 * device name (e.g. "CdRom0") and with the control-device registry (control.c). A drive beyond
 * the core's capacity (cdf_core_add_drive: 16) is still filtered, untraced: its requests go
 * down untouched (creates with a completion routine, request.c); the core records it
 * (cdf_core_add_untracked_drive: a DRIVE_NOT_TRACKED trace record and DrivesReply.untracked, so
 * `cdfilter drives` and `cdfilter trace` show it) and the debugger output says which drive it is
 * (docs/kmdf-harness.md).
 */
#include "driver.h"

static NTSTATUS CdfInitializeFilterDeviceInit(_Inout_ PWDFDEVICE_INIT DeviceInit);
static VOID CdfQueryDriveName(_In_ WDFDEVICE Device, _Out_writes_bytes_(NameBytes) char *Name,
                              _In_ size_t NameBytes);

#ifdef ALLOC_PRAGMA
#pragma alloc_text(PAGE, CdfEvtDriverDeviceAdd)
#pragma alloc_text(PAGE, CdfEvtFilterDeviceContextCleanup)
#pragma alloc_text(PAGE, CdfInitializeFilterDeviceInit)
#pragma alloc_text(PAGE, CdfQueryDriveName)
#endif

/*
 * PASSIVE_LEVEL. A filter that adds EvtDeviceFileCreate must forward every create, cleanup and
 * close itself (file.c). WdfFileObjectWdfCannotUseFsContexts: the FsContext fields belong to
 * the drivers below. WdfFileObjectCanBeOptional: volume handles routed through CDFS/UDFS
 * reach the stack with file objects this device never saw created.
 */
static NTSTATUS CdfInitializeFilterDeviceInit(PWDFDEVICE_INIT DeviceInit)
{
    WDF_FILEOBJECT_CONFIG fileConfig;
    WDF_OBJECT_ATTRIBUTES requestAttributes;
    NTSTATUS status;

    PAGED_CODE();

    WdfFdoInitSetFilter(DeviceInit);

    WDF_FILEOBJECT_CONFIG_INIT(&fileConfig, CdfEvtDeviceFileCreate, CdfEvtFileClose, CdfEvtFileCleanup);
    fileConfig.FileObjectClass = (WDF_FILEOBJECT_CLASS)(WdfFileObjectWdfCannotUseFsContexts |
                                                        WdfFileObjectCanBeOptional);
    WdfDeviceInitSetFileObjectConfig(DeviceInit, &fileConfig, WDF_NO_OBJECT_ATTRIBUTES);

    /* Cleanup and close of file objects the framework does not track (file.c). */
    status = WdfDeviceInitAssignWdmIrpPreprocessCallback(DeviceInit, CdfEvtWdmPreprocessFileObjectEnd,
                                                         IRP_MJ_CLEANUP, NULL, 0);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    status = WdfDeviceInitAssignWdmIrpPreprocessCallback(DeviceInit, CdfEvtWdmPreprocessFileObjectEnd,
                                                         IRP_MJ_CLOSE, NULL, 0);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    /* Every request the framework delivers (creates included) carries the core's verdict. */
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&requestAttributes, CDF_REQUEST_CONTEXT);
    WdfDeviceInitSetRequestAttributes(DeviceInit, &requestAttributes);
    return STATUS_SUCCESS;
}

/* Device objects looked at below the filter for a name: cdrom.sys's FDO, plus the unnamed
 * filters that may sit between it and us. */
#define CDF_NAME_SEARCH_DEPTH 8

/*
 * PASSIVE_LEVEL. The name of the first named device object below us, e.g. \Device\CdRom0 ->
 * "CdRom0": cdrom.sys names its FDO, while an upper filter between it and cdfilter usually has
 * an unnamed device object, so the stack is walked down (IoGetLowerDeviceObject, each
 * reference released) until a name is found; the PDO below cdrom.sys is named too. "CdRom"
 * when none within CDF_NAME_SEARCH_DEPTH has one.
 */
static VOID CdfQueryDriveName(WDFDEVICE Device, char *Name, size_t NameBytes)
{
    static const char fallback[] = "CdRom";
    POBJECT_NAME_INFORMATION nameInfo;
    ULONG infoBytes = sizeof(OBJECT_NAME_INFORMATION) + 256 * sizeof(WCHAR);
    ULONG returned = 0;
    PDEVICE_OBJECT current = WdfDeviceWdmGetAttachedDevice(Device);
    PDEVICE_OBJECT lower;
    BOOLEAN referenced = FALSE; /* current came from IoGetLowerDeviceObject */
    ULONG depth;
    NTSTATUS status;

    PAGED_CODE();

    RtlCopyMemory(Name, fallback, sizeof(fallback));

    nameInfo = (POBJECT_NAME_INFORMATION)cdf_mem_reserve(infoBytes);
    if (nameInfo == NULL) {
        return;
    }
    for (depth = 0; current != NULL && depth < CDF_NAME_SEARCH_DEPTH; depth++) {
        status = ObQueryNameString(current, nameInfo, infoBytes, &returned);
        if (NT_SUCCESS(status) && nameInfo->Name.Length > 0) {
            CdfLastComponentToUtf8(&nameInfo->Name, Name, NameBytes);
            break;
        }
        lower = IoGetLowerDeviceObject(current);
        if (referenced) {
            ObDereferenceObject(current);
        }
        current = lower;
        referenced = TRUE;
    }
    if (referenced && current != NULL) {
        ObDereferenceObject(current);
    }
    cdf_mem_release(nameInfo);
}

_Use_decl_annotations_
NTSTATUS CdfEvtDriverDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDF_OBJECT_ATTRIBUTES deviceAttributes;
    PCDF_FILTER_CONTEXT filter;
    WDFDEVICE device;
    char driveName[CDF_NAME_MAX_BYTES + 1];
    NTSTATUS status;

    UNREFERENCED_PARAMETER(Driver);

    PAGED_CODE();

    status = CdfInitializeFilterDeviceInit(DeviceInit);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    /* The cleanup callback unregisters the drive: it runs when the device is removed. */
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&deviceAttributes, CDF_FILTER_CONTEXT);
    deviceAttributes.EvtCleanupCallback = CdfEvtFilterDeviceContextCleanup;

    status = WdfDeviceCreate(&DeviceInit, &deviceAttributes, &device);
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_ERROR, "WdfDeviceCreate failed 0x%08X\n", status);
        return status;
    }

    filter = CdfFilterGetContext(device);
    filter->Device = device;
    filter->LowerTarget = WdfDeviceGetIoTarget(device);

    CdfQueryDriveName(device, driveName, sizeof(driveName));
    status = (NTSTATUS)cdf_core_add_drive(CdfCore, driveName, &filter->DriveId);
    if (!NT_SUCCESS(status)) {
        /*
         * More drives than the core tracks. Failing AddDevice would fail the whole drive
         * stack; with drive id 0 the core forwards every request untouched instead (creates
         * with a completion routine, request.c). The core lists the drive as present but not
         * tracked (`cdfilter drives`) and writes a DRIVE_NOT_TRACKED record (`cdfilter trace`).
         */
        CdfDbgPrint(CDF_DBG_ERROR, "%s is not traced: the core already holds its maximum of "
                    "drives (cdf_core_add_drive 0x%08X); its I/O passes untouched\n",
                    driveName, status);
        filter->DriveId = 0;
        status = (NTSTATUS)cdf_core_add_untracked_drive(CdfCore, driveName, &filter->UntrackedToken);
        if (!NT_SUCCESS(status)) {
            CdfDbgPrint(CDF_DBG_WARNING, "%s not recorded as untracked 0x%08X\n", driveName, status);
            filter->UntrackedToken = 0;
        }
    }

    status = CdfFilterQueueInitialize(device);
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_ERROR, "filter queue creation failed 0x%08X\n", status);
        return status;
    }

    /* The drive still works when the control device cannot be created: do not fail AddDevice. */
    status = CdfControlRegisterFilter(device);
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_WARNING, "control device unavailable 0x%08X\n", status);
    }

    CdfDbgPrint(CDF_DBG_INFO, "filtering %s as drive %u\n", driveName, filter->DriveId);
    return STATUS_SUCCESS;
}

/*
 * PASSIVE_LEVEL, when the filter device is deleted (surprise or orderly removal, or a failed
 * EvtDriverDeviceAdd after WdfDeviceCreate). The core forgets the drive and its handles.
 */
_Use_decl_annotations_
VOID CdfEvtFilterDeviceContextCleanup(WDFOBJECT Object)
{
    PCDF_FILTER_CONTEXT filter = CdfFilterGetContext((WDFDEVICE)Object);

    PAGED_CODE();

    CdfControlUnregisterFilter((WDFDEVICE)Object);

    if (filter->DriveId != 0) {
        cdf_core_remove_drive(CdfCore, filter->DriveId);
        filter->DriveId = 0;
    }
    if (filter->UntrackedToken != 0) {
        cdf_core_remove_untracked_drive(CdfCore, filter->UntrackedToken);
        filter->UntrackedToken = 0;
    }
}
