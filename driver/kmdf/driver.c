/*
 * driver.c - DriverEntry and the lifetime of the portable core.
 *
 * One core serves every drive the filter attaches to: the trace ring and the control protocol
 * are driver-wide, the ledger is per drive inside it. The core reserves all its memory here,
 * at PASSIVE_LEVEL, so the I/O path never allocates.
 */
#include "driver.h"

#include "cdfilter.pb.h"

DRIVER_INITIALIZE DriverEntry;
static EVT_WDF_OBJECT_CONTEXT_CLEANUP CdfEvtDriverContextCleanup;
static NTSTATUS CdfCreateCore(VOID);

cdf_core *CdfCore = NULL;

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(INIT, CdfCreateCore)
#pragma alloc_text(PAGE, CdfEvtDriverContextCleanup)
#endif

/* PASSIVE_LEVEL. The core with default sizes (16 drives, 1024 handles, 1 MiB ring). */
static NTSTATUS CdfCreateCore(VOID)
{
    cdf_config config;
    NTSTATUS status;

    PAGED_CODE();

    cdf_config_default(&config);
    config.host_kind = CDF_HOST_KIND_KMDF;
    config.driver_version = CDF_DRIVER_VERSION;

    status = (NTSTATUS)cdf_core_create(&config, &CdfCore);
    if (!NT_SUCCESS(status)) {
        CdfCore = NULL;
        return status;
    }
    cdf_core_set_notify(CdfCore, CdfControlNotify, NULL);
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_OBJECT_ATTRIBUTES attributes;
    NTSTATUS status;

    CdfDbgPrint(CDF_DBG_INFO, "DriverEntry, version " CDF_DRIVER_VERSION "\n");

    WDF_DRIVER_CONFIG_INIT(&config, CdfEvtDriverDeviceAdd);

    /*
     * The core is destroyed by the driver object's cleanup callback rather than by
     * EvtDriverUnload: the framework calls the cleanup callback at unload and also when
     * DriverEntry fails after WdfDriverCreate, so there is one teardown path for both.
     */
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.EvtCleanupCallback = CdfEvtDriverContextCleanup;

    status = WdfDriverCreate(DriverObject, RegistryPath, &attributes, &config, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_ERROR, "WdfDriverCreate failed 0x%08X\n", status);
        return status;
    }

    status = CdfControlInitialize();
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_ERROR, "control initialisation failed 0x%08X\n", status);
        return status;
    }

    status = CdfCreateCore();
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_ERROR, "cdf_core_create failed 0x%08X\n", status);
        return status;
    }
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. Every device is gone by now, so nothing calls into the core any more. */
_Use_decl_annotations_
static VOID CdfEvtDriverContextCleanup(WDFOBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);

    PAGED_CODE();

    if (CdfCore != NULL) {
        cdf_core_set_notify(CdfCore, NULL, NULL);
        cdf_core_destroy(CdfCore);
        CdfCore = NULL;
    }
}
