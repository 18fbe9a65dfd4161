/*
 * wine_waits.c - parked IOCTL_CDFILTER_WAIT_TRACE requests (see wine_waits.h).
 *
 * The list is guarded by one spin lock; an IRP in the list always has a cancel routine set.
 * Whoever clears the cancel routine with IoSetCancelRoutine(irp, NULL) and gets the old routine
 * back owns the IRP; if it gets NULL the cancel routine is running and will unlink and complete
 * it (the usual cancel-safe pattern, Windows-driver-samples "cancel" and OSR's Inverted).
 *
 * Lost wake-ups: a request that found nothing parks only if no notify ran since it looked
 * (notify_gen is bumped and the list drained under the same lock); otherwise it looks again.
 */
#include <ntddk.h>

#include "cdf_core.h"
#include "cdfilter_ioctl.h"
#include "wine_waits.h"

static cdf_core *g_core;
static KSPIN_LOCK g_lock;
static LIST_ENTRY g_parked;
static ULONG g_notify_gen; /* under g_lock */

void cdfw_waits_init(cdf_core *core)
{
    g_core = core;
    KeInitializeSpinLock(&g_lock);
    InitializeListHead(&g_parked);
    g_notify_gen = 0;
}

static ULONG current_gen(void)
{
    KIRQL irql;
    ULONG gen;

    KeAcquireSpinLock(&g_lock, &irql);
    gen = g_notify_gen;
    KeReleaseSpinLock(&g_lock, irql);
    return gen;
}

static void complete(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = NT_SUCCESS(status) ? information : 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/*
 * Ask the core once. METHOD_BUFFERED: the request and the reply share the SystemBuffer; the core
 * writes nothing when it returns STATUS_PENDING, so the request can be decoded again later.
 */
static NTSTATUS try_read(PIRP irp, ULONG_PTR *information)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    uint8_t *buffer = (uint8_t *)irp->AssociatedIrp.SystemBuffer;
    uint32_t in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    uint32_t out_cap = stack->Parameters.DeviceIoControl.OutputBufferLength;
    uint32_t granted = (uint32_t)(ULONG_PTR)irp->Tail.Overlay.DriverContext[0];
    uint32_t out_len = 0;
    uint32_t status;

    *information = 0;
    if (buffer == NULL && (in_len != 0 || out_cap != 0)) {
        return STATUS_INVALID_PARAMETER;
    }
    status = cdf_control_dispatch(g_core, CDF_IOCTL_WAIT_TRACE, granted, buffer, in_len, buffer,
                                  out_cap, &out_len);
    if (CDF_NT_SUCCESS(status) && status != CDF_STATUS_PENDING && out_len <= out_cap) {
        *information = out_len;
    }
    return (NTSTATUS)status;
}

static VOID cancel_routine(PDEVICE_OBJECT device, PIRP irp)
{
    KIRQL irql;

    UNREFERENCED_PARAMETER(device);
    IoReleaseCancelSpinLock(irp->CancelIrql);
    KeAcquireSpinLock(&g_lock, &irql);
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&g_lock, irql);
    complete(irp, STATUS_CANCELLED, 0);
}

/* Park irp (already marked pending) if no notify ran since gen. TRUE when the list (or the
 * cancel routine) now owns it; FALSE when the caller still owns it and must look again. */
static BOOLEAN park_if_unchanged(PIRP irp, ULONG gen)
{
    KIRQL irql;

    KeAcquireSpinLock(&g_lock, &irql);
    if (g_notify_gen != gen) {
        KeReleaseSpinLock(&g_lock, irql);
        return FALSE;
    }
    IoSetCancelRoutine(irp, cancel_routine);
    if (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL) {
        KeReleaseSpinLock(&g_lock, irql);
        complete(irp, STATUS_CANCELLED, 0);
        return TRUE;
    }
    /* Not cancelled, or cancelled with the cancel routine already claimed: it will unlink it. */
    InsertTailList(&g_parked, &irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&g_lock, irql);
    return TRUE;
}

/* irp is marked pending and owned by the caller: complete it or park it. */
static void settle(PIRP irp)
{
    for (;;) {
        ULONG gen = current_gen();
        ULONG_PTR information = 0;
        NTSTATUS status;

        if (irp->Cancel) {
            complete(irp, STATUS_CANCELLED, 0);
            return;
        }
        status = try_read(irp, &information);
        if (status != STATUS_PENDING) {
            complete(irp, status, information);
            return;
        }
        if (park_if_unchanged(irp, gen)) {
            return;
        }
    }
}

NTSTATUS cdfw_waits_dispatch(PIRP irp, uint32_t granted_access)
{
    ULONG gen = current_gen();
    ULONG_PTR information = 0;
    NTSTATUS status;

    irp->Tail.Overlay.DriverContext[0] = (PVOID)(ULONG_PTR)granted_access;
    status = try_read(irp, &information);
    if (status != STATUS_PENDING) {
        complete(irp, status, information);
        return status;
    }
    IoMarkIrpPending(irp);
    if (!park_if_unchanged(irp, gen)) {
        settle(irp);
    }
    return STATUS_PENDING;
}

/* Move the parked IRPs that match file (NULL: all) and that we could claim onto *taken. */
static void take(LIST_ENTRY *taken, PFILE_OBJECT file, BOOLEAN bump_gen)
{
    KIRQL irql;
    LIST_ENTRY *entry;

    InitializeListHead(taken);
    KeAcquireSpinLock(&g_lock, &irql);
    if (bump_gen) {
        g_notify_gen++;
    }
    entry = g_parked.Flink;
    while (entry != &g_parked) {
        LIST_ENTRY *next = entry->Flink;
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);

        if ((file == NULL || IoGetCurrentIrpStackLocation(irp)->FileObject == file) &&
            IoSetCancelRoutine(irp, NULL) != NULL) {
            RemoveEntryList(entry);
            InsertTailList(taken, entry);
        }
        entry = next;
    }
    KeReleaseSpinLock(&g_lock, irql);
}

void cdfw_waits_notify(void *context)
{
    LIST_ENTRY taken;

    UNREFERENCED_PARAMETER(context);
    take(&taken, NULL, TRUE);
    while (!IsListEmpty(&taken)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&taken), IRP, Tail.Overlay.ListEntry);
        settle(irp);
    }
}

void cdfw_waits_cancel_file(PFILE_OBJECT file)
{
    LIST_ENTRY taken;

    take(&taken, file, FALSE);
    while (!IsListEmpty(&taken)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&taken), IRP, Tail.Overlay.ListEntry);
        complete(irp, STATUS_CANCELLED, 0);
    }
}
