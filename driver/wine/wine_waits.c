/*
 * wine_waits.c - parked IOCTL_CDFILTER_WAIT_TRACE requests (see wine_waits.h).
 *
 * The list is guarded by one spin lock; an IRP in the list always has a cancel routine set.
 * Whoever clears the cancel routine with IoSetCancelRoutine(irp, NULL) and gets the old routine
 * back owns the IRP; if it gets NULL the cancel routine is running and will unlink and complete
 * it (the usual cancel-safe pattern, Windows-driver-samples "cancel" and OSR's Inverted).
 *
 * Lost wake-ups: a request that found nothing parks only if no notify ran since it looked
 * (notify_gen is bumped and the list walked under the same lock); otherwise it looks again.
 *
 * Stranded requests: every IRP this module owns stays on g_active, parked or not, so that a
 * handle's cleanup/close (cdfw_waits_cancel_file) sees the ones a notify or a dispatch is
 * retrying at that moment too: it completes the parked ones itself and marks the others
 * "doomed", and whoever retries a doomed IRP completes it with STATUS_CANCELLED instead of
 * parking it again (otherwise it would wait forever on a handle that is gone).
 *
 * Per IRP: DriverContext[0] the granted access, [1] its state (below), [2] doomed (0/1).
 */
#include <ntddk.h>

#include "cdf_core.h"
#include "cdfilter_ioctl.h"
#include "wine_waits.h"

static cdf_core *g_core;
static KSPIN_LOCK g_lock;
static LIST_ENTRY g_active;    /* every IRP this module owns, parked or being retried */
static ULONG g_notify_gen;     /* under g_lock */
static ULONG_PTR g_next_token; /* under g_lock: claims of one notify pass */

/* DriverContext[1]: parked (cancel routine set), being retried, or >= WAIT_CLAIMED_BASE: claimed
 * by the notify pass holding that token, not yet retried. */
#define WAIT_PARKED       ((ULONG_PTR)0)
#define WAIT_SETTLING     ((ULONG_PTR)1)
#define WAIT_CLAIMED_BASE ((ULONG_PTR)2)
static ULONG_PTR get_state(PIRP irp) { return (ULONG_PTR)irp->Tail.Overlay.DriverContext[1]; }
static void set_state(PIRP irp, ULONG_PTR state) { irp->Tail.Overlay.DriverContext[1] = (PVOID)state; }
static BOOLEAN doomed(PIRP irp) { return irp->Tail.Overlay.DriverContext[2] != NULL; }
static void set_doomed(PIRP irp, BOOLEAN value) { irp->Tail.Overlay.DriverContext[2] = value ? (PVOID)1 : NULL; }

void cdfw_waits_init(cdf_core *core)
{
    g_core = core;
    KeInitializeSpinLock(&g_lock);
    InitializeListHead(&g_active);
    g_notify_gen = 0;
    g_next_token = WAIT_CLAIMED_BASE;
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

/* The caller retries irp (WAIT_SETTLING, on g_active): take it off the list and complete it. */
static void finish(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    KIRQL irql;

    KeAcquireSpinLock(&g_lock, &irql);
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&g_lock, irql);
    complete(irp, status, information);
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

/* Park irp (WAIT_SETTLING, marked pending) if no notify ran since gen and its handle is not
 * gone. TRUE when the list (or the cancel routine) now owns it or it was completed; FALSE when
 * the caller still owns it and must look again. */
static BOOLEAN park_if_unchanged(PIRP irp, ULONG gen)
{
    KIRQL irql;

    KeAcquireSpinLock(&g_lock, &irql);
    if (doomed(irp)) {
        RemoveEntryList(&irp->Tail.Overlay.ListEntry);
        KeReleaseSpinLock(&g_lock, irql);
        complete(irp, STATUS_CANCELLED, 0);
        return TRUE;
    }
    if (g_notify_gen != gen) {
        KeReleaseSpinLock(&g_lock, irql);
        return FALSE;
    }
    IoSetCancelRoutine(irp, cancel_routine);
    if (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL) {
        RemoveEntryList(&irp->Tail.Overlay.ListEntry);
        KeReleaseSpinLock(&g_lock, irql);
        complete(irp, STATUS_CANCELLED, 0);
        return TRUE;
    }
    /* Not cancelled, or cancelled with the cancel routine already claimed: it will unlink it. */
    set_state(irp, WAIT_PARKED);
    KeReleaseSpinLock(&g_lock, irql);
    return TRUE;
}

/* irp is marked pending, WAIT_SETTLING and owned by the caller: complete it or park it. */
static void settle(PIRP irp)
{
    for (;;) {
        ULONG gen = current_gen();
        ULONG_PTR information = 0;
        NTSTATUS status;

        if (irp->Cancel || doomed(irp)) {
            finish(irp, STATUS_CANCELLED, 0);
            return;
        }
        status = try_read(irp, &information);
        if (status != STATUS_PENDING) {
            finish(irp, status, information);
            return;
        }
        if (park_if_unchanged(irp, gen)) {
            return;
        }
    }
}

NTSTATUS cdfw_waits_dispatch(PIRP irp, uint32_t granted_access)
{
    KIRQL irql;
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
    set_state(irp, WAIT_SETTLING);
    set_doomed(irp, FALSE);
    KeAcquireSpinLock(&g_lock, &irql);
    InsertTailList(&g_active, &irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&g_lock, irql);
    if (!park_if_unchanged(irp, gen)) {
        settle(irp);
    }
    return STATUS_PENDING;
}

void cdfw_waits_notify(void *context)
{
    KIRQL irql;
    LIST_ENTRY *entry;
    ULONG_PTR token;

    UNREFERENCED_PARAMETER(context);
    /* Claim every parked IRP we can (the others are being cancelled or retried already). */
    KeAcquireSpinLock(&g_lock, &irql);
    g_notify_gen++;
    token = g_next_token++;
    if (g_next_token < WAIT_CLAIMED_BASE) {
        g_next_token = WAIT_CLAIMED_BASE;
    }
    for (entry = g_active.Flink; entry != &g_active; entry = entry->Flink) {
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);

        if (get_state(irp) == WAIT_PARKED && IoSetCancelRoutine(irp, NULL) != NULL) {
            set_state(irp, token);
        }
    }
    KeReleaseSpinLock(&g_lock, irql);
    /* Retry them one at a time; each stays on g_active so a cleanup can still doom it. */
    for (;;) {
        PIRP next = NULL;

        KeAcquireSpinLock(&g_lock, &irql);
        for (entry = g_active.Flink; entry != &g_active; entry = entry->Flink) {
            PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);

            if (get_state(irp) == token) {
                set_state(irp, WAIT_SETTLING);
                next = irp;
                break;
            }
        }
        KeReleaseSpinLock(&g_lock, irql);
        if (next == NULL) {
            return;
        }
        settle(next);
    }
}

void cdfw_waits_cancel_file(PFILE_OBJECT file)
{
    KIRQL irql;
    LIST_ENTRY taken;
    LIST_ENTRY *entry;

    InitializeListHead(&taken);
    KeAcquireSpinLock(&g_lock, &irql);
    entry = g_active.Flink;
    while (entry != &g_active) {
        LIST_ENTRY *next = entry->Flink;
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);

        if (file == NULL || IoGetCurrentIrpStackLocation(irp)->FileObject == file) {
            if (get_state(irp) == WAIT_PARKED) {
                if (IoSetCancelRoutine(irp, NULL) != NULL) {
                    RemoveEntryList(entry);
                    InsertTailList(&taken, entry);
                }
                /* else its cancel routine is running and completes it */
            } else {
                set_doomed(irp, TRUE); /* being retried: its retrier completes it, never parks it */
            }
        }
        entry = next;
    }
    KeReleaseSpinLock(&g_lock, irql);
    while (!IsListEmpty(&taken)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&taken), IRP, Tail.Overlay.ListEntry);
        complete(irp, STATUS_CANCELLED, 0);
    }
}
