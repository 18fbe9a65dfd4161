/*
 * driver.c - DriverEntry and the lifetime of the portable core.
 *
 * One core serves every drive the filter attaches to: the trace ring and the control protocol
 * are driver-wide, the ledger is per drive inside it. The core reserves all its memory here,
 * at PASSIVE_LEVEL, so the I/O path never allocates.
 *
 * The trace ring's size is a driver parameter: REG_DWORD TraceRingBytes under the service's
 * Parameters key (HKLM\SYSTEM\CurrentControlSet\Services\cdfilter\Parameters), read once in
 * DriverEntry (docs/boot-capture.md). Absent: 1 MiB. Outside CDF_RING_BYTES_MIN..MAX: 1 MiB,
 * and the debugger output says so.
 */
#include "driver.h"

#include "cdfilter.pb.h"

DRIVER_INITIALIZE DriverEntry;
static EVT_WDF_OBJECT_CONTEXT_CLEANUP CdfEvtDriverContextCleanup;
static NTSTATUS CdfCreateCore(_In_ ULONG RingBytes);
static ULONG CdfQueryRingBytes(_In_ WDFDRIVER Driver);

/* Bounds of TraceRingBytes, in bytes: the core's smallest ring (cdf_core_create: 8192) up to
 * 64 MiB of non-paged pool. */
#define CDF_RING_BYTES_MIN 8192u
#define CDF_RING_BYTES_MAX (64u * 1024u * 1024u)

cdf_core *CdfCore = NULL;

#ifdef ALLOC_PRAGMA
#pragma alloc_text(INIT, DriverEntry)
#pragma alloc_text(INIT, CdfCreateCore)
#pragma alloc_text(INIT, CdfQueryRingBytes)
#pragma alloc_text(PAGE, CdfEvtDriverContextCleanup)
#endif

/*
 * PASSIVE_LEVEL. TraceRingBytes from the service's Parameters key
 * (WdfDriverOpenParametersRegistryKey, wdfdriver.h), or 0 for the default: when the value is
 * absent, unreadable or outside CDF_RING_BYTES_MIN..CDF_RING_BYTES_MAX.
 */
_Use_decl_annotations_
static ULONG CdfQueryRingBytes(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(valueName, L"TraceRingBytes");
    WDFKEY key;
    ULONG value = 0;
    NTSTATUS status;

    PAGED_CODE();

    status = WdfDriverOpenParametersRegistryKey(Driver, KEY_READ, WDF_NO_OBJECT_ATTRIBUTES, &key);
    if (!NT_SUCCESS(status)) {
        return 0;
    }
    status = WdfRegistryQueryULong(key, &valueName, &value);
    WdfRegistryClose(key);
    if (!NT_SUCCESS(status)) {
        return 0;
    }
    if (value < CDF_RING_BYTES_MIN || value > CDF_RING_BYTES_MAX) {
        CdfDbgPrint(CDF_DBG_ERROR, "Parameters\\TraceRingBytes %lu is outside %u..%u: using the "
                    "1 MiB default\n", value, CDF_RING_BYTES_MIN, CDF_RING_BYTES_MAX);
        return 0;
    }
    return value;
}

/* PASSIVE_LEVEL. The core with default sizes (16 drives, 1024 handles) and a ring of RingBytes
 * (0: the 1 MiB default). */
_Use_decl_annotations_
static NTSTATUS CdfCreateCore(ULONG RingBytes)
{
    cdf_config config;
    NTSTATUS status;

    PAGED_CODE();

    cdf_config_default(&config);
    config.host_kind = CDF_HOST_KIND_KMDF;
    config.driver_version = CDF_DRIVER_VERSION;
    if (RingBytes != 0) {
        config.ring_bytes = RingBytes;
    }

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
    WDFDRIVER driver;
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

    status = WdfDriverCreate(DriverObject, RegistryPath, &attributes, &config, &driver);
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_ERROR, "WdfDriverCreate failed 0x%08X\n", status);
        return status;
    }

    status = CdfControlInitialize();
    if (!NT_SUCCESS(status)) {
        CdfDbgPrint(CDF_DBG_ERROR, "control initialisation failed 0x%08X\n", status);
        return status;
    }

    status = CdfCreateCore(CdfQueryRingBytes(driver));
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
