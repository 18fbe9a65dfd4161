/*
 * wine_waits.h - the inverted call of the Wine kernel host: IOCTL_CDFILTER_WAIT_TRACE requests
 * that found nothing after their cursor (cdf_control_dispatch returned STATUS_PENDING) are
 * marked pending and parked in a cancel-safe list (IoSetCancelRoutine), retried when the core's
 * notify callback says records were appended, and cancelled (STATUS_CANCELLED) when the caller
 * cancels them (CancelIoEx; Wine also cancels them when the process dies), when their handle is
 * closed, or when the driver unloads.
 *
 * Every function is callable at IRQL <= DISPATCH_LEVEL except where noted.
 */
#ifndef CDF_WINE_WAITS_H
#define CDF_WINE_WAITS_H

#include <ntddk.h>

#include "cdf_core.h"

/* Once, before any other call (DriverEntry, PASSIVE_LEVEL). */
void cdfw_waits_init(cdf_core *core);

/*
 * Run a WaitTrace for irp on the control device with the handle's granted access (CDF_ACCESS_*).
 * Completes the IRP (with the batch, or the core's error) and returns its status, or parks it
 * and returns STATUS_PENDING. The IRP must not be touched by the caller afterwards.
 */
NTSTATUS cdfw_waits_dispatch(PIRP irp, uint32_t granted_access);

/* The core's notify callback (cdf_core_set_notify): retry every parked request. */
void cdfw_waits_notify(void *context);

/* Cancel the parked requests of one file object (handle cleanup/close), or of every file object
 * when file is NULL (driver unload). A request of that file object being retried at that moment
 * (by a notify, or still in cdfw_waits_dispatch) is completed with STATUS_CANCELLED by its
 * retrier instead of being parked again. */
void cdfw_waits_cancel_file(PFILE_OBJECT file);

#endif /* CDF_WINE_WAITS_H */
