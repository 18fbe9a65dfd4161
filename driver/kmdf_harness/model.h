/*
 * model.h - the WDF-contract harness: a model of the parts of KMDF 1.15 and ntoskrnl the glue
 * (driver/kmdf) uses, for scenarios that drive the unmodified glue and check the framework's
 * rules. See docs/kmdf-harness.md for what it checks and what it cannot.
 *
 * The glue is compiled against Microsoft's KMDF headers, which call every WdfXxx through
 * WdfFunctions_01015[WdfXxxTableIndex]; model.c fills that table. Rules are cited from
 * github.com/microsoft/Windows-Driver-Frameworks (src/framework/shared/...), file and function.
 */
#ifndef CDF_KMDF_MODEL_H
#define CDF_KMDF_MODEL_H

#include <ntifs.h>
#include <ntddstor.h>
#include <wdf.h>

#include <stdint.h>

/* ---- violations ---- */

/* Record a broken rule (rule: a short id, e.g. "irql"). A bug check also ends the scenario. */
void model_violation(const char *rule, const char *fmt, ...);
void model_bugcheck(ULONG code, const char *rule, const char *fmt, ...);
/* A scenario expectation (the glue's observable behaviour). */
#define EXPECT(cond, ...) \
    do { if (!(cond)) model_violation("expect", __VA_ARGS__); } while (0)
unsigned model_violation_count(void);

/* ---- world ---- */

typedef struct model_request_view {
    NTSTATUS status;       /* IoStatus.Status once completed */
    ULONG_PTR information;
    int completed;         /* completed back to the I/O manager (by glue, framework or lower) */
    int pending_lower;     /* held by the lower driver model */
} model_request_view;

typedef struct model_irp model_irp;
typedef struct model_drive model_drive;
typedef struct model_handle model_handle;

/* Lower-driver behaviour of a drive's stack. */
typedef enum model_lower_mode {
    LOWER_COMPLETE = 0, /* completes every request at once with lower_status */
    LOWER_PEND = 1,     /* holds requests until model_lower_complete_* */
} model_lower_mode;

struct model_drive {
    WDFDEVICE device;            /* the filter device (NULL once removed) */
    PDEVICE_OBJECT pdo;          /* named \Device\000000NN */
    PDEVICE_OBJECT cdrom_fdo;    /* named \Device\CdRomN */
    PDEVICE_OBJECT lower_filter; /* unnamed, between cdfilter and cdrom.sys (or NULL) */
    model_lower_mode lower_mode;
    NTSTATUS lower_status;       /* status the lower driver completes with */
    ULONG_PTR lower_information;
    int send_fails;              /* WdfRequestSend returns FALSE (target removed) */
    unsigned lower_ioctls;       /* IOCTL_STORAGE_MEDIA_REMOVAL(FALSE) sent synchronously */
};

struct model_handle {
    PFILE_OBJECT file;
    model_drive *drive;  /* NULL: the control device */
    WDFDEVICE control;   /* the control device the handle was opened on */
    int open;
};

void model_reset(void);
void model_set_irql(KIRQL irql);
KIRQL model_irql(void);
void model_set_process(ULONG pid, const wchar_t *image, int terminating);

/* DriverEntry + the framework's driver object; registry Parameters values. */
NTSTATUS model_load_driver(void);
void model_set_parameter(const wchar_t *name, ULONG value);
void model_unload_driver(void);  /* every device must be gone; checks leaks */

model_drive *model_add_drive(unsigned index, int lower_filter_unnamed);
void model_remove_drive(model_drive *drive);

/* Creates: NT_SUCCESS when the handle is open. */
NTSTATUS model_open_drive(model_drive *drive, model_handle *h, KPROCESSOR_MODE mode);
NTSTATUS model_open_control(model_handle *h);
/* A file object the framework never saw created (a volume handle through CDFS/UDFS). */
void model_adopt_file(model_drive *drive, model_handle *h);
void model_cleanup(model_handle *h);
void model_close(model_handle *h);

/* I/O to a drive (at the current IRQL for device controls; reads/writes too). */
model_irp *model_ioctl(model_handle *h, UCHAR major, ULONG code, const void *in, ULONG inLength,
                       ULONG outLength);
/* Control IOCTL; the reply is copied to out when the request is completed. */
model_irp *model_control(model_handle *h, ULONG code, const void *in, ULONG inLength, void *out,
                         ULONG outLength);
model_request_view model_irp_view(model_irp *irp);
const void *model_irp_output(model_irp *irp);
void model_cancel(model_irp *irp);  /* IoCancelIrp by the client */
void model_irp_free(model_irp *irp);

/* Lower driver: complete the held requests (in index order, or one by index). */
unsigned model_lower_pending(void);
void model_lower_complete_one(unsigned index, NTSTATUS status, ULONG_PTR information, KIRQL irql);

/* Work items: run those queued (at PASSIVE_LEVEL). Returns how many ran. */
unsigned model_run_work_items(void);
unsigned model_work_items_queued(void);

/* Does \DosDevices\CdFilter open a ready control device now? */
int model_control_link_usable(void);
/* Lines the glue printed with DbgPrintEx since the last call (NUL-separated, "" at end). */
int model_debug_output_contains(const char *needle);

#endif /* CDF_KMDF_MODEL_H */
