/*
 * wine_host.c - the WDM test host: driver/core over simulated CD-ROM drives (driver/sim/simcd),
 * loaded as a kernel driver by Wine's ntoskrnl (winedevice.exe), so that real Windows processes
 * (node.exe under Wine) reach the core through the real Win32 path: CreateFileW, DeviceIoControl,
 * ReadFile, CancelIoEx, CloseHandle, process death.
 *
 * Devices (docs/wine.md):
 *   \Device\CdFilter        + \DosDevices\CdFilter        the control device (cdf_control_dispatch)
 *   \Device\CdFilterSim<i>  + \DosDevices\CdFilterSim<i>  drive i (0-based), core drive id i + 1,
 *                                                          core drive name "CdFilterSim<i>" so that
 *                                                          clients open \\.\ + DriveInfo.name
 * Each drive IRP plays the part the KMDF filter plays over cdrom.sys: it becomes a cdf_request,
 * cdf_core_dispatch decides, the simulated lower device (simcd) does the work in place of
 * cdrom.sys, and cdf_core_complete records the result.
 *
 * What Wine 8 does differently from Windows (observed, see docs/wine.md), and how the host copes:
 * - No IRP_MJ_CLEANUP is ever sent; a process that dies with handles open gets IRP_MJ_CLOSE for
 *   each (in winedevice.exe). Locks are therefore released at close (as cdrom.sys does), and a
 *   close whose opener process has exited is flagged CDF_RQ_PROCESS_EXIT.
 * - IRP_MJ_CREATE carries no SecurityContext, so the desired access is unknown: such handles are
 *   granted read and write (CTL_CODE access checks pass). With a SecurityContext (Windows, or a
 *   later Wine) the access bits come from DesiredAccess.
 * - IoGetRequestorProcessId and the image-name routines are unimplemented (see wine_process.h):
 *   requestor pid = PsGetCurrentProcessId(); image name from ZwQueryInformationProcess.
 * - Wine runs every dispatch routine on one thread of winedevice.exe; the host does not rely on
 *   that (core and lists are locked) but it keeps every dispatch short.
 */
#include <ntddk.h>

#include "cdf_core.h"
#include "cdfilter.pb.h"
#include "cdfilter_ioctl.h"
#include "simcd.h"
#include "wine_process.h"
#include "wine_waits.h"

/* Drives the host creates. */
#define CDFW_DRIVES 2u
/* File object contexts per simulated drive (simcd_create max_files). */
#define CDFW_FILES_PER_DRIVE 1024u
#define CDFW_DRIVER_VERSION "0.1.0-wine"

/* Pool tag 'Ffdc' spelled out. */
#define CDFW_FILE_TAG ((ULONG)'c' | ((ULONG)'d' << 8) | ((ULONG)'f' << 16) | ((ULONG)'F' << 24))

enum cdfw_kind { CDFW_KIND_CONTROL = 1, CDFW_KIND_DRIVE = 2 };

/* Device extension of every device the host creates. */
typedef struct cdfw_device {
    uint32_t kind;      /* CDFW_KIND_* */
    uint32_t index;     /* drive: 0-based index (device name suffix) */
    uint32_t drive_id;  /* drive: core drive id (>= 1) */
    simcd *lower;       /* drive: the simulated cdrom.sys */
    UNICODE_STRING link;
    WCHAR link_chars[40];
} cdfw_device;

/* Per handle (FILE_OBJECT->FsContext2; the host is the only driver of its devices). */
typedef struct cdfw_file {
    uint32_t opener_pid;  /* PsGetCurrentProcessId at IRP_MJ_CREATE */
    uint32_t granted;     /* CDF_ACCESS_READ / CDF_ACCESS_WRITE granted */
    uint8_t lower_open;   /* drive: simcd_create_file succeeded */
} cdfw_file;


static cdf_core *g_core;
static PDEVICE_OBJECT g_devices[CDFW_DRIVES + 1u]; /* [0] control, [1..] drives */
static UNICODE_STRING g_letter_link;               /* \DosDevices\X: of drive 0 (claim_drive_letter) */
static WCHAR g_letter_chars[16];

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD cdfw_unload;
static DRIVER_DISPATCH cdfw_dispatch;

/* ---- access ---- */

/*
 * FILE_READ_DATA / FILE_WRITE_DATA granted by DesiredAccess (generic rights mapped as the file
 * generic mapping does: GENERIC_READ -> FILE_GENERIC_READ, ...). Without a SecurityContext
 * (Wine 8) both are granted.
 */
static uint32_t granted_from_create(PIO_STACK_LOCATION stack)
{
    if (stack->Parameters.Create.SecurityContext == NULL) {
        return CDF_ACCESS_READ | CDF_ACCESS_WRITE;
    }
    return cdf_access_from_mask((uint32_t)stack->Parameters.Create.SecurityContext->DesiredAccess);
}

/* ---- helpers ---- */

static NTSTATUS complete_irp(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = (status & 0xC0000000u) == 0xC0000000u ? 0 : information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static cdfw_file *file_context(PIO_STACK_LOCATION stack)
{
    return stack->FileObject != NULL ? (cdfw_file *)stack->FileObject->FsContext2 : NULL;
}

/* The neutral view of an IRP on a drive. */
static void fill_request(cdf_request *rq, PIRP irp, PIO_STACK_LOCATION stack)
{
    uint32_t pid = (uint32_t)(ULONG_PTR)PsGetCurrentProcessId();

    RtlZeroMemory(rq, sizeof(*rq));
    rq->major = stack->MajorFunction;
    rq->minor = stack->MinorFunction;
    rq->file.opaque = (uintptr_t)stack->FileObject;
    rq->pid = pid;
    rq->tid = (uint32_t)(ULONG_PTR)PsGetCurrentThreadId();
    rq->requestor_pid = pid; /* IoGetRequestorProcessId is a stub in Wine 8 */
    if (irp->RequestorMode == KernelMode) {
        rq->flags |= CDF_RQ_KERNEL_MODE;
    }
}

/* ---- drives ---- */

/* The per-handle context of a create, for drives and the control device alike: the opener's
 * pid (the caller's, as Wine reports it at create) and the access granted. Returns
 * STATUS_INVALID_PARAMETER without a file object, STATUS_INSUFFICIENT_RESOURCES when the
 * non-paged allocation fails; the caller frees *ctx or hangs it on FsContext2. */
static NTSTATUS new_file_context(PIO_STACK_LOCATION stack, cdfw_file **ctx)
{
    cdfw_file *c;

    *ctx = NULL;
    if (stack->FileObject == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    c = (cdfw_file *)ExAllocatePoolWithTag(NonPagedPool, sizeof(*c), CDFW_FILE_TAG);
    if (c == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    RtlZeroMemory(c, sizeof(*c));
    c->opener_pid = (uint32_t)(ULONG_PTR)PsGetCurrentProcessId();
    c->granted = granted_from_create(stack);
    *ctx = c;
    return STATUS_SUCCESS;
}

static NTSTATUS drive_other(cdfw_device *dev, PIRP irp, PIO_STACK_LOCATION stack);

static NTSTATUS drive_create(cdfw_device *dev, PIRP irp, PIO_STACK_LOCATION stack)
{
    cdf_request rq;
    cdf_verdict verdict;
    cdfw_file *ctx;
    char image[CDFW_IMAGE_BYTES + 1u];
    uint32_t status;

    status = (uint32_t)new_file_context(stack, &ctx);
    if (!CDF_NT_SUCCESS(status)) {
        return complete_irp(irp, (NTSTATUS)status, 0);
    }
    fill_request(&rq, irp, stack);
    cdfw_process_image(rq.pid, image, sizeof(image));
    rq.image_name = image;

    cdf_core_dispatch(g_core, dev->drive_id, &rq, &verdict);
    if (verdict.action == CDF_ACTION_COMPLETE) {
        status = verdict.status;
        cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, 0);
    } else {
        status = simcd_create_file(dev->lower, (uintptr_t)stack->FileObject);
        if (verdict.action == CDF_ACTION_FORWARD_TRACK) {
            cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, 0);
        }
        ctx->lower_open = CDF_NT_SUCCESS(status) ? 1u : 0u;
    }
    if (!CDF_NT_SUCCESS(status)) {
        if (ctx->lower_open) {
            (void)simcd_close(dev->lower, (uintptr_t)stack->FileObject);
        }
        ExFreePoolWithTag(ctx, CDFW_FILE_TAG);
        return complete_irp(irp, (NTSTATUS)status, 0);
    }
    stack->FileObject->FsContext2 = ctx;
    return complete_irp(irp, STATUS_SUCCESS, 0);
}

/* IRP_MJ_CLEANUP (Windows; Wine 8 never sends it) and IRP_MJ_CLOSE. */
static NTSTATUS drive_cleanup_or_close(cdfw_device *dev, PIRP irp, PIO_STACK_LOCATION stack)
{
    BOOLEAN is_close = stack->MajorFunction == IRP_MJ_CLOSE;
    cdfw_file *ctx = file_context(stack);
    uintptr_t fo = (uintptr_t)stack->FileObject;
    cdf_request rq;
    cdf_verdict verdict;
    uint32_t status;
    uint32_t i;

    if (ctx == NULL) {
        return complete_irp(irp, STATUS_SUCCESS, 0); /* a create we failed: nothing to undo */
    }
    fill_request(&rq, irp, stack);
    if (cdfw_process_exited(ctx->opener_pid)) {
        rq.flags |= CDF_RQ_PROCESS_EXIT;
    }
    cdf_core_dispatch(g_core, dev->drive_id, &rq, &verdict);
    /* Enforce: the filter releases the simple locks this handle leaked, below itself. Each is
     * sent even after a failure (cdrom only talks to the drive on the last one); the core learns
     * how many the lower device accepted. */
    if (is_close && verdict.simple_unlocks != 0) {
        uint32_t succeeded = 0;
        uint32_t first_failure = CDF_STATUS_SUCCESS;

        for (i = 0; i < verdict.simple_unlocks; i++) {
            uint8_t allow = 0; /* PREVENT_MEDIA_REMOVAL.PreventMediaRemoval = FALSE */
            uint32_t information = 0;
            uint32_t unlock_status = simcd_ioctl(dev->lower, fo, CDF_IOCTL_STORAGE_MEDIA_REMOVAL, 0,
                                                 &allow, 1, NULL, 0, &information);

            if (CDF_NT_SUCCESS(unlock_status)) {
                succeeded++;
            } else if (first_failure == CDF_STATUS_SUCCESS) {
                first_failure = unlock_status;
            }
        }
        cdf_core_simple_unlocks_done(g_core, dev->drive_id, &rq, &verdict, succeeded, first_failure);
    }
    if (verdict.action == CDF_ACTION_COMPLETE) {
        status = verdict.status;
        cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, 0);
    } else {
        status = is_close ? simcd_close(dev->lower, fo) : simcd_cleanup(dev->lower, fo);
        if (verdict.action == CDF_ACTION_FORWARD_TRACK) {
            cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, 0);
        }
    }
    if (is_close) {
        /* A close cannot fail: the file object goes away whatever the filter said. */
        if (ctx->lower_open && verdict.action == CDF_ACTION_COMPLETE) {
            (void)simcd_close(dev->lower, fo);
        }
        stack->FileObject->FsContext2 = NULL;
        ExFreePoolWithTag(ctx, CDFW_FILE_TAG);
        status = CDF_STATUS_SUCCESS;
    }
    return complete_irp(irp, (NTSTATUS)status, 0);
}

static NTSTATUS drive_ioctl(cdfw_device *dev, PIRP irp, PIO_STACK_LOCATION stack)
{
    cdfw_file *ctx = file_context(stack);
    uint32_t code = stack->Parameters.DeviceIoControl.IoControlCode;
    uint32_t in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    uint32_t out_cap = stack->Parameters.DeviceIoControl.OutputBufferLength;
    uint8_t *buffer = (uint8_t *)irp->AssociatedIrp.SystemBuffer;
    cdf_request rq;
    cdf_verdict verdict;
    uint32_t status;
    uint32_t information = 0;
    uint32_t flags = 0;

    if (ctx != NULL && !cdf_ioctl_access_allowed(code, ctx->granted)) {
        return complete_irp(irp, STATUS_ACCESS_DENIED, 0);
    }
    if (CDF_CTL_METHOD(code) != CDF_METHOD_BUFFERED ||
        (buffer == NULL && (in_len != 0 || out_cap != 0))) {
        /* Every code the model knows is METHOD_BUFFERED (Microsoft docs "CD-ROM I/O control codes"); others never reach simcd
         * with a buffer it could trust. The core still sees and records the request. */
        buffer = NULL;
        in_len = 0;
        out_cap = 0;
    }
    fill_request(&rq, irp, stack);
    rq.ioctl_code = code;
    rq.input = in_len != 0 ? buffer : NULL;
    rq.input_length = in_len;
    rq.output_length = out_cap;
    if (IoIs32bitProcess(irp)) {
        rq.flags |= CDF_RQ_CALLER_32BIT;
        flags |= SIMCD_FLAG_CALLER_32BIT;
    }
    if (irp->RequestorMode == KernelMode) {
        flags |= SIMCD_FLAG_KERNEL_MODE;
    }
    cdf_core_dispatch(g_core, dev->drive_id, &rq, &verdict);
    if (verdict.action == CDF_ACTION_COMPLETE) {
        status = verdict.status;
        cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, 0);
        return complete_irp(irp, (NTSTATUS)status, 0);
    }
    status = simcd_ioctl(dev->lower, (uintptr_t)stack->FileObject, code, flags,
                         in_len != 0 ? buffer : NULL, in_len, out_cap != 0 ? buffer : NULL, out_cap,
                         &information);
    if (information > out_cap) {
        information = 0;
    }
    if (verdict.action == CDF_ACTION_FORWARD_TRACK) {
        /* output capture: the METHOD_BUFFERED SystemBuffer simcd wrote */
        if (out_cap != 0) rq.output = buffer;
        cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, information);
    }
    return complete_irp(irp, (NTSTATUS)status, information);
}

static NTSTATUS drive_read(cdfw_device *dev, PIRP irp, PIO_STACK_LOCATION stack)
{
    cdfw_file *ctx = file_context(stack);
    uint32_t length = stack->Parameters.Read.Length;
    uint64_t offset = (uint64_t)stack->Parameters.Read.ByteOffset.QuadPart;
    cdf_request rq;
    cdf_verdict verdict;
    uint32_t status;
    uint32_t information = 0;

    if (ctx != NULL && !(ctx->granted & CDF_ACCESS_READ)) {
        return complete_irp(irp, STATUS_ACCESS_DENIED, 0);
    }
    fill_request(&rq, irp, stack);
    rq.output_length = length;
    rq.offset = offset;
    cdf_core_dispatch(g_core, dev->drive_id, &rq, &verdict);
    if (verdict.action == CDF_ACTION_COMPLETE) {
        status = verdict.status;
        cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, 0);
        return complete_irp(irp, (NTSTATUS)status, 0);
    }
    status = simcd_read(dev->lower, (uintptr_t)stack->FileObject, offset, length, &information);
    if (CDF_NT_SUCCESS(status)) {
        /* The simulated disc holds zeros (DO_BUFFERED_IO: the SystemBuffer is copied back). */
        if (irp->AssociatedIrp.SystemBuffer != NULL && information <= length) {
            RtlZeroMemory(irp->AssociatedIrp.SystemBuffer, information);
        } else {
            information = 0;
        }
    }
    if (verdict.action == CDF_ACTION_FORWARD_TRACK) {
        /* output capture: the read's SystemBuffer (DO_BUFFERED_IO), information bytes valid */
        if (CDF_NT_SUCCESS(status) && information != 0) rq.output = irp->AssociatedIrp.SystemBuffer;
        cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, information);
    }
    return complete_irp(irp, (NTSTATUS)status, information);
}

/*
 * Every other major function (e.g. IRP_MJ_QUERY_VOLUME_INFORMATION, sent by `cmd /c vol R:`):
 * the simulated drive implements none of them, so after the core has seen (and traced) the
 * request it completes with STATUS_INVALID_DEVICE_REQUEST, as a CD-ROM device object without a
 * mounted file system answers. Lengths and buffers are not handed to the core: their meaning
 * depends on the major function.
 */
static NTSTATUS drive_other(cdfw_device *dev, PIRP irp, PIO_STACK_LOCATION stack)
{
    cdf_request rq;
    cdf_verdict verdict;
    uint32_t status = CDF_STATUS_INVALID_DEVICE_REQUEST;

    fill_request(&rq, irp, stack);
    cdf_core_dispatch(g_core, dev->drive_id, &rq, &verdict);
    if (verdict.action == CDF_ACTION_COMPLETE) {
        status = verdict.status;
    }
    if (verdict.action != CDF_ACTION_FORWARD) {
        cdf_core_complete(g_core, dev->drive_id, &rq, &verdict, status, 0);
    }
    return complete_irp(irp, (NTSTATUS)status, 0);
}

/* ---- control device ---- */

static NTSTATUS control_create(PIRP irp, PIO_STACK_LOCATION stack)
{
    cdfw_file *ctx;
    NTSTATUS status = new_file_context(stack, &ctx);

    if (!NT_SUCCESS(status)) {
        return complete_irp(irp, status, 0);
    }
    stack->FileObject->FsContext2 = ctx;
    return complete_irp(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS control_cleanup_or_close(PIRP irp, PIO_STACK_LOCATION stack)
{
    cdfw_file *ctx = file_context(stack);

    /* Parked WaitTrace requests of this handle end here (purged at cleanup on Windows; Wine
     * cancels them itself when the process dies, but a plain CloseHandle must not strand them). */
    if (stack->FileObject != NULL) {
        cdfw_waits_cancel_file(stack->FileObject);
    }
    if (stack->MajorFunction == IRP_MJ_CLOSE && ctx != NULL) {
        stack->FileObject->FsContext2 = NULL;
        ExFreePoolWithTag(ctx, CDFW_FILE_TAG);
    }
    return complete_irp(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS control_ioctl(PIRP irp, PIO_STACK_LOCATION stack)
{
    cdfw_file *ctx = file_context(stack);
    uint32_t code = stack->Parameters.DeviceIoControl.IoControlCode;
    uint32_t in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    uint32_t out_cap = stack->Parameters.DeviceIoControl.OutputBufferLength;
    uint8_t *buffer = (uint8_t *)irp->AssociatedIrp.SystemBuffer;
    uint32_t granted = ctx != NULL ? ctx->granted : 0;
    uint32_t out_len = 0;
    uint32_t status;

    if (!cdf_ioctl_access_allowed(code, granted)) {
        return complete_irp(irp, STATUS_ACCESS_DENIED, 0);
    }
    if (CDF_CTL_METHOD(code) != CDF_METHOD_BUFFERED) {
        return complete_irp(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    if (buffer == NULL && (in_len != 0 || out_cap != 0)) {
        return complete_irp(irp, STATUS_INVALID_PARAMETER, 0);
    }
    if (code == CDF_IOCTL_WAIT_TRACE) {
        return cdfw_waits_dispatch(irp, granted);
    }
    status = cdf_control_dispatch(g_core, code, granted, buffer, in_len, buffer,
                                  out_cap, &out_len);
    if (status == CDF_STATUS_PENDING) {
        status = CDF_STATUS_INVALID_DEVICE_REQUEST; /* only WaitTrace may pend */
    }
    return complete_irp(irp, (NTSTATUS)status, out_len <= out_cap ? out_len : 0);
}

/* ---- dispatch ---- */

static NTSTATUS cdfw_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    cdfw_device *dev = (cdfw_device *)device->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);

    if (dev->kind == CDFW_KIND_CONTROL) {
        switch (stack->MajorFunction) {
        case IRP_MJ_CREATE:
            return control_create(irp, stack);
        case IRP_MJ_CLEANUP:
        case IRP_MJ_CLOSE:
            return control_cleanup_or_close(irp, stack);
        case IRP_MJ_DEVICE_CONTROL:
            return control_ioctl(irp, stack);
        default:
            return complete_irp(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
        }
    }
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
        return drive_create(dev, irp, stack);
    case IRP_MJ_CLEANUP:
    case IRP_MJ_CLOSE:
        return drive_cleanup_or_close(dev, irp, stack);
    case IRP_MJ_DEVICE_CONTROL:
        return drive_ioctl(dev, irp, stack);
    case IRP_MJ_READ:
        return drive_read(dev, irp, stack);
    default:
        return drive_other(dev, irp, stack);
    }
}

/* ---- load / unload ---- */

/* "\Device\<base><index>" / "\DosDevices\<base><index>" (index < 0: no suffix). */
static void build_name(WCHAR *out, size_t cap, const WCHAR *prefix, const WCHAR *base, int index)
{
    size_t at = 0;
    size_t i;

    for (i = 0; prefix[i] != 0 && at + 1u < cap; i++) {
        out[at++] = prefix[i];
    }
    for (i = 0; base[i] != 0 && at + 1u < cap; i++) {
        out[at++] = base[i];
    }
    if (index >= 10 && at + 1u < cap) {
        out[at++] = (WCHAR)(L'0' + index / 10);
    }
    if (index >= 0 && at + 1u < cap) {
        out[at++] = (WCHAR)(L'0' + index % 10);
    }
    out[at] = 0;
}

static void destroy_devices(void)
{
    uint32_t i;

    for (i = 0; i <= CDFW_DRIVES; i++) {
        PDEVICE_OBJECT device = g_devices[i];
        cdfw_device *dev;

        if (device == NULL) {
            continue;
        }
        dev = (cdfw_device *)device->DeviceExtension;
        if (dev->link.Buffer != NULL) {
            IoDeleteSymbolicLink(&dev->link);
        }
        if (dev->kind == CDFW_KIND_DRIVE) {
            if (dev->drive_id != 0) {
                cdf_core_remove_drive(g_core, dev->drive_id);
            }
            simcd_destroy(dev->lower);
        }
        IoDeleteDevice(device);
        g_devices[i] = NULL;
    }
}

static VOID cdfw_unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    if (g_core != NULL) {
        cdf_core_set_notify(g_core, NULL, NULL);
    }
    cdfw_waits_cancel_file(NULL);
    if (g_letter_link.Buffer != NULL) {
        IoDeleteSymbolicLink(&g_letter_link);
        g_letter_link.Buffer = NULL;
    }
    destroy_devices();
    if (g_core != NULL) {
        cdf_core_destroy(g_core);
        g_core = NULL;
    }
}

static NTSTATUS create_device(PDRIVER_OBJECT driver, uint32_t slot, int index)
{
    WCHAR name_chars[48];
    UNICODE_STRING name;
    PDEVICE_OBJECT device;
    cdfw_device *dev;
    BOOLEAN is_control = slot == 0;
    NTSTATUS status;

    build_name(name_chars, sizeof(name_chars) / sizeof(name_chars[0]), L"\\Device\\",
               is_control ? L"CdFilter" : L"CdFilterSim", index);
    RtlInitUnicodeString(&name, name_chars);
    status = IoCreateDevice(driver, sizeof(cdfw_device), &name,
                            is_control ? (DEVICE_TYPE)CDF_IOCTL_DEVICE_TYPE : FILE_DEVICE_CD_ROM,
                            is_control ? FILE_DEVICE_SECURE_OPEN : (FILE_REMOVABLE_MEDIA | FILE_DEVICE_SECURE_OPEN),
                            FALSE, &device);
    if (!NT_SUCCESS(status)) {
        return status;
    }
    g_devices[slot] = device;
    dev = (cdfw_device *)device->DeviceExtension;
    RtlZeroMemory(dev, sizeof(*dev));
    dev->kind = is_control ? CDFW_KIND_CONTROL : CDFW_KIND_DRIVE;
    if (!is_control) {
        char core_name[24];
        size_t i;

        dev->index = (uint32_t)index;
        dev->lower = simcd_create(CDFW_FILES_PER_DRIVE);
        if (dev->lower == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        /* The core's drive name is the DOS device name, so \\.\<DriveInfo.name> opens it. */
        for (i = 0; name_chars[8u + i] != 0 && i + 1u < sizeof(core_name); i++) {
            core_name[i] = (char)name_chars[8u + i];
        }
        core_name[i] = '\0';
        status = (NTSTATUS)cdf_core_add_drive(g_core, core_name, &dev->drive_id);
        if (!NT_SUCCESS(status)) {
            dev->drive_id = 0;
            return status;
        }
    }
    build_name(dev->link_chars, sizeof(dev->link_chars) / sizeof(dev->link_chars[0]),
               L"\\DosDevices\\", is_control ? L"CdFilter" : L"CdFilterSim", index);
    RtlInitUnicodeString(&dev->link, dev->link_chars);
    status = IoCreateSymbolicLink(&dev->link, &name);
    if (!NT_SUCCESS(status)) {
        dev->link.Buffer = NULL;
        return status;
    }
    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

/* ---- DOS drive letter (optional) ---- */

/*
 * Service key value "DosDrive" (REG_SZ, e.g. "R:"): drive 0 also answers as \\.\R:, so that
 * Windows programs that take a drive letter (eject.exe, MCI cdaudio, cmd's vol) reach it.
 * Wine 8 (docs/wine.md): mountmgr owns \??\R: when the prefix has a dosdevices/r: entry and
 * HKLM\Software\Wine\Drives "r:"="cdrom" when it starts (GetDriveTypeW then answers
 * DRIVE_CDROM); the host deletes that link and creates its own to its drive device.
 */
static void claim_drive_letter(PUNICODE_STRING registry_path)
{
    OBJECT_ATTRIBUTES oa;
    HANDLE key;
    UNICODE_STRING value_name;
    UNICODE_STRING target;
    WCHAR target_chars[48];
    union {
        KEY_VALUE_PARTIAL_INFORMATION info;
        UCHAR raw[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 16];
    } buf;
    ULONG got = 0;
    WCHAR letter;
    NTSTATUS status;

    if (registry_path == NULL) {
        return;
    }
    InitializeObjectAttributes(&oa, registry_path, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    if (!NT_SUCCESS(ZwOpenKey(&key, KEY_READ, &oa))) {
        return;
    }
    RtlInitUnicodeString(&value_name, L"DosDrive");
    RtlZeroMemory(&buf, sizeof(buf));
    status = ZwQueryValueKey(key, &value_name, KeyValuePartialInformation, &buf, sizeof(buf), &got);
    ZwClose(key);
    if (!NT_SUCCESS(status) || buf.info.Type != REG_SZ || buf.info.DataLength < 2u * sizeof(WCHAR)) {
        return;
    }
    letter = (WCHAR)(buf.info.Data[0] | (buf.info.Data[1] << 8));
    if (letter >= L'a' && letter <= L'z') {
        letter = (WCHAR)(letter - L'a' + L'A');
    }
    if (letter < L'A' || letter > L'Z') {
        return;
    }
    build_name(g_letter_chars, sizeof(g_letter_chars) / sizeof(g_letter_chars[0]), L"\\DosDevices\\", L"?:", -1);
    g_letter_chars[12] = letter; /* "\DosDevices\" is 12 characters */
    RtlInitUnicodeString(&g_letter_link, g_letter_chars);
    (void)IoDeleteSymbolicLink(&g_letter_link); /* mountmgr's link, if any */
    build_name(target_chars, sizeof(target_chars) / sizeof(target_chars[0]), L"\\Device\\", L"CdFilterSim", 0);
    RtlInitUnicodeString(&target, target_chars);
    if (!NT_SUCCESS(IoCreateSymbolicLink(&g_letter_link, &target))) {
        g_letter_link.Buffer = NULL;
    }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    cdf_config cfg;
    NTSTATUS status;
    uint32_t i;

    cdf_config_default(&cfg);
    cfg.max_drives = CDFW_DRIVES;
    cfg.host_kind = CDF_HOST_KIND_WINE;
    cfg.driver_version = CDFW_DRIVER_VERSION;
    status = (NTSTATUS)cdf_core_create(&cfg, &g_core);
    if (!NT_SUCCESS(status)) {
        g_core = NULL;
        return status;
    }
    cdfw_waits_init(g_core);
    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++) {
        driver->MajorFunction[i] = cdfw_dispatch;
    }
    driver->DriverUnload = cdfw_unload;

    status = create_device(driver, 0, -1);
    for (i = 0; NT_SUCCESS(status) && i < CDFW_DRIVES; i++) {
        status = create_device(driver, i + 1u, (int)i);
    }
    if (!NT_SUCCESS(status)) {
        cdfw_unload(driver);
        return status;
    }
    claim_drive_letter(registry_path);
    cdf_core_set_notify(g_core, cdfw_waits_notify, NULL);
    return STATUS_SUCCESS;
}
