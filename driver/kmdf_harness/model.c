/*
 * model.c - the framework model of the WDF-contract harness (docs/kmdf-harness.md).
 *
 * Implements the WdfFunctions_01015 entries and the ntoskrnl/hal routines the KMDF glue
 * imports, as a single-threaded model of KMDF 1.15: objects, handles, queues, requests, file
 * objects, the control device and the lower driver. Each DDI checks the framework's rules;
 * the source of each rule is cited next to its check as "file.cpp, Class::Function" under
 * github.com/microsoft/Windows-Driver-Frameworks src/framework/shared.
 *
 * A console program under Wine, not kernel code: it uses the C runtime and Win32.
 */
#include "model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "win32.h"

/* Generated from the KMDF headers (mk/kmdf_harness.mk): each DDI's _IRQL_requires_max_ + 1,
 * 0 when the header gives none (only conditional _When_ annotations). */
extern const unsigned char model_irql_max_plus1[WdfFunctionTableNumEntries];
extern const char *const model_ddi_names[WdfFunctionTableNumEntries];

/* ------------------------------------------------------------------------------------------ */
/* Violations                                                                                  */

static unsigned g_violations;
static jmp_buf *g_bugcheck_jump;

void model_set_bugcheck_jump(jmp_buf *jump);
void model_set_bugcheck_jump(jmp_buf *jump)
{
    g_bugcheck_jump = jump;
}

unsigned model_violation_count(void)
{
    return g_violations;
}

void model_violation(const char *rule, const char *fmt, ...)
{
    va_list ap;

    g_violations++;
    printf("  VIOLATION [%s] ", rule);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void model_bugcheck(ULONG code, const char *rule, const char *fmt, ...)
{
    va_list ap;

    g_violations++;
    printf("  BUGCHECK 0x%lX [%s] ", (unsigned long)code, rule);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (g_bugcheck_jump != NULL) {
        longjmp(*g_bugcheck_jump, 1);
    }
    exit(3);
}

/* ------------------------------------------------------------------------------------------ */
/* IRQL, pageable code                                                                          */

static KIRQL g_irql;
static ULONG_PTR g_page_lo, g_page_hi, g_init_lo, g_init_hi;
static int g_driver_entry_returned;

void model_set_irql(KIRQL irql)
{
    g_irql = irql;
}

KIRQL model_irql(void)
{
    return g_irql;
}

static void model_find_sections(void)
{
    uintptr_t pl, ph, il, ih;
    win32_sections(&pl, &ph, &il, &ih);
    g_page_lo = pl;
    g_page_hi = ph;
    g_init_lo = il;
    g_init_hi = ih;
    if (g_page_lo == 0) {
        printf("harness: no PAGE section in the image (objcopy renaming failed)\n");
        exit(2);
    }
}

static int in_page(const void *address)
{
    ULONG_PTR a = (ULONG_PTR)address;
    return a >= g_page_lo && a < g_page_hi;
}

static int in_init(const void *address)
{
    ULONG_PTR a = (ULONG_PTR)address;
    return a >= g_init_lo && a < g_init_hi;
}

/* Code that runs (or is about to be called) must be resident at the current IRQL: PAGE code
 * only at IRQL <= APC_LEVEL ("Pageable code called at IRQL > APC_LEVEL", wdm.h PAGED_CODE),
 * INIT code only until DriverEntry returns (the I/O manager frees the INIT section). */
static void check_code(const void *code, const char *what)
{
    if (in_page(code) && g_irql > APC_LEVEL) {
        model_bugcheck(0xD1, "paged-at-dispatch", "%s runs in the PAGE section at IRQL %u", what,
                       (unsigned)g_irql);
    }
    if (in_init(code) && g_driver_entry_returned) {
        model_bugcheck(0x7E, "init-after-entry", "%s is in the INIT section, called after DriverEntry",
                       what);
    }
}

#define CALLER() __builtin_return_address(0)

/* Every DDI: the caller's code is resident, and the IRQL is within the header's maximum. */
static void ddi_enter(int index, const void *caller)
{
    unsigned max1 = model_irql_max_plus1[index];

    check_code(caller, model_ddi_names[index]);
    if (max1 != 0 && g_irql > max1 - 1) {
        model_violation("irql", "%s called at IRQL %u, its header says _IRQL_requires_max_(%u)",
                        model_ddi_names[index], (unsigned)g_irql, max1 - 1);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Pool                                                                                         */

typedef struct pool_block {
    void *p;
    size_t bytes;
    ULONG tag;
    int live;
    struct pool_block *next;
} pool_block;

static pool_block *g_pool;

#define SYSTEM_TAG 0x6D497553u /* 'SuIm': allocated by the model's "system" for the caller */

static void *pool_alloc(POOL_TYPE type, SIZE_T bytes, ULONG tag, const void *caller)
{
    pool_block *b;
    unsigned i;

    check_code(caller, "ExAllocatePoolWithTag");
    /* ExAllocatePoolWithTag: paged pool at <= APC_LEVEL, non-paged at <= DISPATCH_LEVEL. */
    if ((type & 1) == PagedPool && g_irql > APC_LEVEL) {
        model_violation("irql", "paged pool allocated at IRQL %u", (unsigned)g_irql);
    } else if (g_irql > DISPATCH_LEVEL) {
        model_violation("irql", "pool allocated at IRQL %u", (unsigned)g_irql);
    }
    /* A tag is four printable ASCII characters, not 0 and not the default ' mdW' (Driver
     * Verifier's pool tracking and PoolMon identify the owner by it). */
    for (i = 0; i < 4; i++) {
        unsigned ch = (tag >> (8 * i)) & 0xFF;
        if (ch < 0x20 || ch > 0x7E) {
            model_violation("pool-tag", "pool tag 0x%08lX is not four printable characters",
                            (unsigned long)tag);
            break;
        }
    }
    if (tag == 0x576D6420u) {
        model_violation("pool-tag", "the default pool tag ' mdW'");
    }
    if (type != NonPagedPoolNx && type != PagedPool) {
        model_violation("pool-type", "pool type %d (use NonPagedPoolNx)", (int)type);
    }
    b = (pool_block *)calloc(1, sizeof(*b));
    b->p = calloc(1, bytes ? bytes : 1);
    /* ExAllocatePoolWithTag does not zero: fill so a missing RtlZeroMemory shows. */
    memset(b->p, 0xA5, bytes);
    b->bytes = bytes;
    b->tag = tag;
    b->live = 1;
    b->next = g_pool;
    g_pool = b;
    return b->p;
}

static void pool_free(void *p, ULONG tag, int check_tag, const void *caller)
{
    pool_block *b;

    check_code(caller, "ExFreePool");
    if (g_irql > DISPATCH_LEVEL) {
        model_violation("irql", "ExFreePool at IRQL %u", (unsigned)g_irql);
    }
    for (b = g_pool; b != NULL; b = b->next) {
        if (b->p == p && b->live) {
            break;
        }
    }
    if (b == NULL) {
        model_bugcheck(0xC2, "pool", "freeing %p, which is not a live pool block", p);
        return;
    }
    if (check_tag && b->tag != tag) {
        model_bugcheck(0xC2, "pool-tag", "ExFreePoolWithTag tag 0x%08lX, allocated with 0x%08lX",
                       (unsigned long)tag, (unsigned long)b->tag);
    }
    b->live = 0;
    memset(b->p, 0xDD, b->bytes);
}

/* ------------------------------------------------------------------------------------------ */
/* Namespace: device names and symbolic links                                                   */

#define MAX_NAMES 32
typedef struct ns_entry {
    wchar_t name[96];
    wchar_t target[96]; /* links only */
    int used;
    int is_link;
    void *device; /* fxo of a named WDF device */
} ns_entry;
static ns_entry g_ns[MAX_NAMES];

static ns_entry *ns_find(const wchar_t *name)
{
    unsigned i;
    for (i = 0; i < MAX_NAMES; i++) {
        if (g_ns[i].used && _wcsicmp(g_ns[i].name, name) == 0) {
            return &g_ns[i];
        }
    }
    return NULL;
}

static ns_entry *ns_add(const wchar_t *name)
{
    unsigned i;
    if (ns_find(name) != NULL) {
        return NULL;
    }
    for (i = 0; i < MAX_NAMES; i++) {
        if (!g_ns[i].used) {
            memset(&g_ns[i], 0, sizeof(g_ns[i]));
            g_ns[i].used = 1;
            wcsncpy(g_ns[i].name, name, 95);
            return &g_ns[i];
        }
    }
    return NULL;
}

static void us_copy(wchar_t *out, size_t cap, PCUNICODE_STRING s)
{
    size_t n = s->Length / sizeof(WCHAR);
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, s->Buffer, n * sizeof(WCHAR));
    out[n] = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* WDM device objects of the modelled stacks                                                    */

typedef struct devobj_info {
    PDEVICE_OBJECT dev;
    wchar_t name[64];
    PDEVICE_OBJECT lower;
    int refs;
} devobj_info;
#define MAX_DEVOBJ 1024
static devobj_info g_devobj[MAX_DEVOBJ];

static devobj_info *devobj_of(PDEVICE_OBJECT dev)
{
    unsigned i;
    for (i = 0; i < MAX_DEVOBJ; i++) {
        if (g_devobj[i].dev == dev && dev != NULL) {
            return &g_devobj[i];
        }
    }
    return NULL;
}

static PDEVICE_OBJECT devobj_new(const wchar_t *name, PDEVICE_OBJECT lower)
{
    unsigned i;
    for (i = 0; i < MAX_DEVOBJ; i++) {
        if (g_devobj[i].dev == NULL) {
            g_devobj[i].dev = (PDEVICE_OBJECT)calloc(1, sizeof(DEVICE_OBJECT));
            g_devobj[i].dev->Type = IO_TYPE_DEVICE;
            g_devobj[i].dev->Size = sizeof(DEVICE_OBJECT);
            g_devobj[i].dev->StackSize = lower != NULL ? (CCHAR)(lower->StackSize + 1) : 1;
            wcsncpy(g_devobj[i].name, name != NULL ? name : L"", 63);
            g_devobj[i].lower = lower;
            return g_devobj[i].dev;
        }
    }
    printf("harness: out of device objects\n");
    exit(2);
}

/* ------------------------------------------------------------------------------------------ */
/* Framework objects                                                                            */

typedef enum otype {
    T_DRIVER = 1, T_DEVICE, T_QUEUE, T_REQUEST, T_FILE, T_COLLECTION, T_WAITLOCK, T_SPINLOCK,
    T_WORKITEM, T_IOTARGET, T_KEY
} otype;
static const char *const g_type_names[] = { "?", "WDFDRIVER", "WDFDEVICE", "WDFQUEUE",
                                            "WDFREQUEST", "WDFFILEOBJECT", "WDFCOLLECTION",
                                            "WDFWAITLOCK", "WDFSPINLOCK", "WDFWORKITEM",
                                            "WDFIOTARGET", "WDFKEY" };

enum { R_DRIVER = 1, R_QUEUED, R_LOWER, R_DONE };

#define FXO_MAGIC 0x4F784657u
typedef struct fxo fxo;
struct fxo {
    uint32_t magic;
    otype type;
    int disposed;       /* cleanup ran, handle invalid */
    int delete_pending; /* control device deleted with handles open */
    fxo *parent;
    fxo *next_all;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO ctx_type;
    void *ctx;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP cleanup;
    PFN_WDF_OBJECT_CONTEXT_DESTROY destroy;

    /* device */
    int is_control, ready, handles;
    wchar_t name[96];
    wchar_t link[96];
    PFN_WDF_DEVICE_FILE_CREATE evt_create;
    PFN_WDF_FILE_CLEANUP evt_cleanup;
    PFN_WDF_FILE_CLOSE evt_close;
    ULONG fo_class;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO file_ctx_type;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP file_ctx_cleanup;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO req_ctx_type;
    PFN_WDFDEVICE_WDM_IRP_PREPROCESS preprocess;
    unsigned preprocess_majors;
    fxo *default_queue;
    fxo *iotarget;
    model_drive *drive;
    PDEVICE_OBJECT devobj;
    fxo *driver;

    /* queue */
    fxo *qdevice;
    WDF_IO_QUEUE_DISPATCH_TYPE dispatch;
    PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL evt_ioctl;
    PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL evt_internal;
    PFN_WDF_IO_QUEUE_IO_READ evt_read;
    PFN_WDF_IO_QUEUE_IO_WRITE evt_write;
    fxo *items;
    int accepting;

    /* request */
    model_irp *irp;
    int rstate;
    fxo *rqueue; /* the manual queue it was last in */
    fxo *rfile;
    fxo *rdevice;
    int formatted;
    PFN_WDF_REQUEST_COMPLETION_ROUTINE croutine;
    WDFCONTEXT cctx;
    fxo *next_in_queue;
    NTSTATUS rstatus;

    /* file object */
    PFILE_OBJECT wdm_file;
    fxo *fdevice;

    /* collection */
    fxo *citems[64];
    ULONG ccount;

    /* locks */
    int held;
    KIRQL saved_irql;

    /* work item */
    PFN_WDF_WORKITEM wi_fn;
    int wi_queued;
};

static fxo *g_objects;
static WDF_DRIVER_GLOBALS g_globals_storage;
PWDF_DRIVER_GLOBALS WdfDriverGlobals = &g_globals_storage;
static WDFFUNC g_table[WdfFunctionTableNumEntries];
const WDFFUNC *WdfFunctions_01015 = g_table;

static fxo *g_driver;
static PFN_WDF_DRIVER_DEVICE_ADD g_device_add;

static fxo *fxo_new(otype type, fxo *parent)
{
    fxo *o = (fxo *)calloc(1, sizeof(*o));
    o->magic = FXO_MAGIC;
    o->type = type;
    o->parent = parent;
    o->next_all = g_objects;
    g_objects = o;
    return o;
}

static int fxo_known(const void *h)
{
    fxo *o;
    for (o = g_objects; o != NULL; o = o->next_all) {
        if ((const void *)o == h) {
            return 1;
        }
    }
    return 0;
}

/* FxObjectHandleGetPtr (fxhandle.h) on NULL, on an unknown or a deleted handle, or on one of
 * another type: FxVerifierBugCheck(WDF_INVALID_HANDLE / WDF_BUGCHECK 0x10D), with or without
 * Verifier. */
static fxo *h2o(const void *h, otype type, const char *ddi)
{
    fxo *o = (fxo *)h;

    if (h == NULL) {
        model_bugcheck(0x10D, "handle", "%s: NULL %s", ddi, g_type_names[type]);
    }
    if (!fxo_known(h)) {
        model_bugcheck(0x10D, "handle", "%s: %p is not a framework handle", ddi, h);
    }
    if (o->disposed) {
        model_bugcheck(0x10D, "handle",
                       "%s: %s %p used after it was deleted%s", ddi, g_type_names[o->type], h,
                       o->type == T_REQUEST ? " (a request used after its completion)" : "");
    }
    if (type != 0 && o->type != type) {
        model_bugcheck(0x10D, "handle", "%s: %s passed where a %s is required", ddi,
                       g_type_names[o->type], g_type_names[type]);
    }
    return o;
}

static void fxo_set_attributes(fxo *o, PWDF_OBJECT_ATTRIBUTES a)
{
    size_t bytes;
    if (a == NULL) {
        return;
    }
    if (a->Size != sizeof(WDF_OBJECT_ATTRIBUTES)) {
        model_violation("struct-size", "WDF_OBJECT_ATTRIBUTES.Size %lu", (unsigned long)a->Size);
    }
    o->cleanup = a->EvtCleanupCallback;
    o->destroy = a->EvtDestroyCallback;
    if (a->ParentObject != NULL) {
        o->parent = h2o(a->ParentObject, 0, "ParentObject");
    }
    if (a->ContextTypeInfo != NULL) {
        o->ctx_type = a->ContextTypeInfo->UniqueType ? a->ContextTypeInfo->UniqueType
                                                     : a->ContextTypeInfo;
        bytes = a->ContextSizeOverride ? a->ContextSizeOverride : o->ctx_type->ContextSize;
        o->ctx = calloc(1, bytes ? bytes : 1);
    }
}

static void request_complete_fx(fxo *r, NTSTATUS status, ULONG_PTR information);
static void queue_cancel_all(fxo *q, PFILE_OBJECT only);

/* Dispose: children first (FxObject::DeleteObject -> FxObject::Dispose of the tree,
 * fxobject.cpp / fxobjectstatemachine.cpp), then the object's own EvtCleanupCallback at
 * PASSIVE_LEVEL for devices, queues, work items. */
static void fxo_dispose(fxo *o)
{
    fxo *c;

    if (o->disposed) {
        return;
    }
    for (c = g_objects; c != NULL; c = c->next_all) {
        if (c->parent == o && !c->disposed && c->type != T_REQUEST) {
            fxo_dispose(c);
        }
    }
    if (o->type == T_QUEUE) {
        queue_cancel_all(o, NULL);
    }
    if (o->type == T_DEVICE) {
        ns_entry *e;
        if (o->name[0] && (e = ns_find(o->name)) != NULL && e->device == o) {
            e->used = 0;
        }
        /* FxDevice::Destroy (fxdevicekm.cpp) -> DeleteSymbolicLink: the link goes with the
         * device object, at disposal. */
        if (o->link[0] && (e = ns_find(o->link)) != NULL) {
            e->used = 0;
        }
    }
    if (o->cleanup != NULL) {
        KIRQL saved = g_irql;
        check_code((const void *)o->cleanup, "EvtCleanupCallback");
        o->cleanup((WDFOBJECT)o);
        g_irql = saved;
    }
    o->disposed = 1;
    if (o->destroy != NULL) {
        o->destroy((WDFOBJECT)o);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* IRPs                                                                                        */

struct model_irp {
    IRP *irp;
    IO_STACK_LOCATION stack[4];
    FILE_OBJECT *file;
    fxo *request;
    model_request_view view;
    void *system_buffer;
    void *client_out;
    ULONG client_out_length;
    ULONG pid;
    model_drive *drive;
    fxo *device;
    int snf; /* sent and forgotten */
};

static ULONG g_pid = 1234, g_tid = 5678;
static wchar_t g_image[128] = L"\\Device\\HarddiskVolume2\\Program Files\\nodejs\\node.exe";
static int g_terminating;
static char g_eprocess[64];

void model_set_process(ULONG pid, const wchar_t *image, int terminating)
{
    g_pid = pid;
    g_tid = pid + 4;
    wcsncpy(g_image, image, 127);
    g_terminating = terminating;
}

static model_irp *irp_new(UCHAR major, PFILE_OBJECT file, KPROCESSOR_MODE mode)
{
    model_irp *m = (model_irp *)calloc(1, sizeof(*m));
    m->irp = (IRP *)calloc(1, sizeof(IRP));
    m->irp->Type = IO_TYPE_IRP;
    m->irp->StackCount = 4;
    m->irp->CurrentLocation = 2;
    m->irp->RequestorMode = mode;
    m->irp->Tail.Overlay.Thread = NULL;
    m->irp->Tail.Overlay.CurrentStackLocation = &m->stack[1];
    m->stack[1].MajorFunction = major;
    m->stack[1].FileObject = file;
    m->file = file;
    m->pid = g_pid;
    return m;
}

model_request_view model_irp_view(model_irp *irp)
{
    return irp->view;
}

const void *model_irp_output(model_irp *irp)
{
    return irp->client_out;
}

void model_irp_free(model_irp *irp)
{
    if (irp == NULL || !irp->view.completed) {
        return; /* still owned somewhere: kept for the leak report */
    }
    free(irp->system_buffer);
    free(irp->irp);
    free(irp);
}

/* The IRP goes back to the I/O manager. */
static void irp_complete(model_irp *m, NTSTATUS status, ULONG_PTR information)
{
    if (m->view.completed) {
        model_bugcheck(0x44, "complete-once", "IRP %p completed twice", (void *)m->irp);
    }
    m->view.completed = 1;
    m->view.status = status;
    m->view.information = information;
    m->irp->IoStatus.Status = status;
    m->irp->IoStatus.Information = information;
    if (m->client_out != NULL && NT_SUCCESS(status) && m->system_buffer != NULL) {
        memcpy(m->client_out, m->system_buffer,
               information < m->client_out_length ? information : m->client_out_length);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Lower driver                                                                                 */

#define MAX_PENDING 4096
typedef struct pending_io {
    model_irp *irp;
    fxo *request; /* NULL when sent and forgotten */
    fxo *target;
} pending_io;
static pending_io g_pending[MAX_PENDING];
static unsigned g_pending_count;

unsigned model_lower_pending(void)
{
    return g_pending_count;
}

static void file_destroy(fxo *f);
static fxo *file_of(fxo *device, PFILE_OBJECT wdm);

/* The lower driver completes a request the glue sent with a completion routine: the request
 * is the driver's again and its completion routine runs (FxRequestBase::CompleteSubmitted,
 * fxrequestbase.cpp) at the completing IRQL. */
static void lower_completes(model_irp *m, fxo *r, fxo *target, NTSTATUS status, ULONG_PTR info)
{
    if (r == NULL) {
        /* Sent and forgotten: straight to the I/O manager. A create sent this way never
         * reaches FxPkgGeneral::CreateCompleted, so a failed create's WDFFILEOBJECT is never
         * destroyed (the I/O manager sends no close for a failed create). */
        if (m->stack[1].MajorFunction == IRP_MJ_CREATE && !NT_SUCCESS(status)) {
            model_violation("leak", "a create sent and forgotten failed below (0x%08lX): its "
                            "WDFFILEOBJECT is never destroyed, no close will come",
                            (unsigned long)status);
        }
        irp_complete(m, status, info);
        return;
    }
    m->view.pending_lower = 0;
    r->rstate = R_DRIVER;
    r->rstatus = status;
    m->irp->IoStatus.Status = status;
    m->irp->IoStatus.Information = info;
    if (r->croutine != NULL) {
        WDF_REQUEST_COMPLETION_PARAMS params;
        PFN_WDF_REQUEST_COMPLETION_ROUTINE fn = r->croutine;
        WDF_REQUEST_COMPLETION_PARAMS_INIT(&params);
        params.IoStatus.Status = status;
        params.IoStatus.Information = info;
        params.Type = WdfRequestTypeNoFormat;
        check_code((const void *)fn, "EvtRequestCompletionRoutine");
        fn((WDFREQUEST)r, (WDFIOTARGET)target, &params, r->cctx);
    } else {
        request_complete_fx(r, status, info);
    }
}

void model_lower_complete_one(unsigned index, NTSTATUS status, ULONG_PTR information, KIRQL irql)
{
    pending_io io;
    KIRQL saved = g_irql;

    if (index >= g_pending_count) {
        return;
    }
    io = g_pending[index];
    memmove(&g_pending[index], &g_pending[index + 1],
            (g_pending_count - index - 1) * sizeof(g_pending[0]));
    g_pending_count--;
    g_irql = irql;
    lower_completes(io.irp, io.request, io.target, status, information);
    g_irql = saved;
}

/* The lower driver receives an IRP (from WdfRequestSend). */
static void lower_receive(model_irp *m, fxo *r, fxo *target)
{
    model_drive *d = m->drive;

    if (d == NULL || d->lower_mode == LOWER_PEND) {
        if (g_pending_count == MAX_PENDING) {
            printf("harness: too many pending lower requests\n");
            exit(2);
        }
        m->view.pending_lower = 1;
        g_pending[g_pending_count].irp = m;
        g_pending[g_pending_count].request = r;
        g_pending[g_pending_count].target = target;
        g_pending_count++;
        return;
    }
    lower_completes(m, r, target, d->lower_status, d->lower_information);
}

/* ------------------------------------------------------------------------------------------ */
/* Requests and queues                                                                          */

static fxo *request_new(model_irp *m, fxo *device)
{
    fxo *r = fxo_new(T_REQUEST, NULL);
    r->irp = m;
    r->rstate = R_DRIVER;
    r->rdevice = device;
    if (device->req_ctx_type != NULL) {
        r->ctx_type = device->req_ctx_type;
        r->ctx = calloc(1, device->req_ctx_type->ContextSize);
    }
    if (m->file != NULL) {
        r->rfile = file_of(device, m->file);
    }
    m->request = r;
    m->device = device;
    return r;
}

/* Completion by the framework or by the glue: FxRequest::CompleteInternal (fxrequest.cpp). The
 * request object is gone afterwards; a create that failed loses its WDFFILEOBJECT and one that
 * succeeded counts as an open handle (FxPkgGeneral::CreateCompleted, fxpkggeneral.cpp). */
static void request_complete_fx(fxo *r, NTSTATUS status, ULONG_PTR information)
{
    model_irp *m = r->irp;
    UCHAR major = m->stack[1].MajorFunction;

    r->rstate = R_DONE;
    if (major == IRP_MJ_CREATE) {
        fxo *f = file_of(r->rdevice, m->file);
        if (NT_SUCCESS(status)) {
            r->rdevice->handles++;
        } else if (f != NULL) {
            file_destroy(f);
        }
    }
    fxo_dispose(r);
    irp_complete(m, status, information);
}

/* FxRequest::VerifyCompleteInternal + VerifyRequestIsDriverOwned (fxrequest.cpp): only a request
 * the driver owns is completed, and only once; one that sits in a queue or is owned by the
 * lower driver (sent, completion not yet run) is not the driver's to complete. */
static void glue_completes(WDFREQUEST h, NTSTATUS status, ULONG_PTR info, const char *ddi)
{
    fxo *r = h2o(h, T_REQUEST, ddi);

    if (r->rstate == R_QUEUED) {
        model_bugcheck(0x10D, "complete-owned", "%s: the request is in a queue (not driver owned)",
                       ddi);
    }
    if (r->rstate == R_LOWER) {
        model_bugcheck(0x10D, "complete-owned",
                       "%s: the request is owned by the lower driver (sent, not yet completed)", ddi);
    }
    request_complete_fx(r, status, info);
}

static void queue_append(fxo *q, fxo *r, int head)
{
    fxo **pp = &q->items;
    r->next_in_queue = NULL;
    if (head) {
        r->next_in_queue = q->items;
        q->items = r;
    } else {
        while (*pp != NULL) {
            pp = &(*pp)->next_in_queue;
        }
        *pp = r;
    }
    r->rstate = R_QUEUED;
    r->rqueue = q;
}

static int queue_remove(fxo *q, fxo *r)
{
    fxo **pp;
    for (pp = &q->items; *pp != NULL; pp = &(*pp)->next_in_queue) {
        if (*pp == r) {
            *pp = r->next_in_queue;
            r->next_in_queue = NULL;
            return 1;
        }
    }
    return 0;
}

/* FxIoQueue::FlushByFileObject / QueuePurge (fxioqueue.cpp): requests still in the queue are
 * cancelled by the framework (completed STATUS_CANCELLED; the glue has no EvtIoCanceledOnQueue). */
static void queue_cancel_all(fxo *q, PFILE_OBJECT only)
{
    fxo *r = q->items;
    while (r != NULL) {
        fxo *next = r->next_in_queue;
        if (only == NULL || r->irp->file == only) {
            queue_remove(q, r);
            request_complete_fx(r, STATUS_CANCELLED, 0);
        }
        r = next;
    }
}

void model_cancel(model_irp *m)
{
    fxo *r = m->request;
    if (m->view.completed || r == NULL || r->disposed) {
        return;
    }
    /* A request in a queue is cancelable by the framework; one the driver owns and has not
     * marked cancelable is not (the glue marks none). */
    if (r->rstate == R_QUEUED) {
        queue_remove(r->rqueue, r);
        request_complete_fx(r, STATUS_CANCELLED, 0);
    }
}

/* Delivery to a queue's callback (FxIoQueue::DispatchEvents, fxioqueue.cpp) at the current
 * IRQL (a parallel queue without execution level constraints). */
static void queue_deliver(fxo *device, model_irp *m)
{
    fxo *q = device->default_queue;
    fxo *r;
    IO_STACK_LOCATION *s = &m->stack[1];

    if (q == NULL || q->disposed) {
        irp_complete(m, STATUS_INVALID_DEVICE_STATE, 0);
        return;
    }
    r = request_new(m, device);
    switch (s->MajorFunction) {
    case IRP_MJ_DEVICE_CONTROL:
        if (q->evt_ioctl == NULL) {
            break;
        }
        check_code((const void *)q->evt_ioctl, "EvtIoDeviceControl");
        q->evt_ioctl((WDFQUEUE)q, (WDFREQUEST)r, s->Parameters.DeviceIoControl.OutputBufferLength,
                     s->Parameters.DeviceIoControl.InputBufferLength,
                     s->Parameters.DeviceIoControl.IoControlCode);
        return;
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        if (q->evt_internal == NULL) {
            break;
        }
        check_code((const void *)q->evt_internal, "EvtIoInternalDeviceControl");
        q->evt_internal((WDFQUEUE)q, (WDFREQUEST)r, s->Parameters.DeviceIoControl.OutputBufferLength,
                        s->Parameters.DeviceIoControl.InputBufferLength,
                        s->Parameters.DeviceIoControl.IoControlCode);
        return;
    case IRP_MJ_READ:
        if (q->evt_read == NULL) {
            break;
        }
        check_code((const void *)q->evt_read, "EvtIoRead");
        q->evt_read((WDFQUEUE)q, (WDFREQUEST)r, s->Parameters.Read.Length);
        return;
    case IRP_MJ_WRITE:
        if (q->evt_write == NULL) {
            break;
        }
        check_code((const void *)q->evt_write, "EvtIoWrite");
        q->evt_write((WDFQUEUE)q, (WDFREQUEST)r, s->Parameters.Write.Length);
        return;
    default:
        break;
    }
    request_complete_fx(r, STATUS_INVALID_DEVICE_REQUEST, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* File objects                                                                                 */

static fxo *file_of(fxo *device, PFILE_OBJECT wdm)
{
    fxo *o;
    if (wdm == NULL) {
        return NULL;
    }
    for (o = g_objects; o != NULL; o = o->next_all) {
        if (o->type == T_FILE && !o->disposed && o->wdm_file == wdm && o->fdevice == device) {
            return o;
        }
    }
    return NULL;
}

static fxo *file_new(fxo *device, PFILE_OBJECT wdm)
{
    fxo *f = fxo_new(T_FILE, device);
    f->wdm_file = wdm;
    f->fdevice = device;
    if (device->file_ctx_type != NULL) {
        f->ctx_type = device->file_ctx_type;
        f->ctx = calloc(1, device->file_ctx_type->ContextSize);
    }
    f->cleanup = device->file_ctx_cleanup;
    return f;
}

/* FxFileObject::_DestroyFileObject (fxfileobject.cpp). */
static void file_destroy(fxo *f)
{
    fxo_dispose(f);
}

/* ------------------------------------------------------------------------------------------ */
/* DDIs                                                                                         */

#define ENTER(name) ddi_enter(name##TableIndex, CALLER())

struct WDFDEVICE_INIT {
    int control;
    int filter;
    fxo *driver;
    wchar_t name[96];
    WDF_FILEOBJECT_CONFIG file_config;
    int has_file_config;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO file_ctx_type;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP file_ctx_cleanup;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO req_ctx_type;
    PFN_WDFDEVICE_WDM_IRP_PREPROCESS preprocess;
    unsigned preprocess_majors;
    model_drive *drive;
    int freed;
};

static NTSTATUS m_WdfDriverCreate(PWDF_DRIVER_GLOBALS g, PDRIVER_OBJECT DriverObject,
                                  PCUNICODE_STRING RegistryPath, PWDF_OBJECT_ATTRIBUTES a,
                                  PWDF_DRIVER_CONFIG config, WDFDRIVER *out)
{
    (void)g;
    (void)DriverObject;
    (void)RegistryPath;
    ENTER(WdfDriverCreate);
    g_driver = fxo_new(T_DRIVER, NULL);
    fxo_set_attributes(g_driver, a);
    g_device_add = config->EvtDriverDeviceAdd;
    if (out != NULL) {
        *out = (WDFDRIVER)g_driver;
    }
    return STATUS_SUCCESS;
}

/* Parameters values (HKLM\...\Services\cdfilter\Parameters). */
#define MAX_PARAMS 8
static struct {
    wchar_t name[64];
    ULONG value;
} g_params[MAX_PARAMS];
static unsigned g_param_count;

void model_set_parameter(const wchar_t *name, ULONG value)
{
    if (g_param_count < MAX_PARAMS) {
        wcsncpy(g_params[g_param_count].name, name, 63);
        g_params[g_param_count].value = value;
        g_param_count++;
    }
}

static NTSTATUS m_WdfDriverOpenParametersRegistryKey(PWDF_DRIVER_GLOBALS g, WDFDRIVER Driver,
                                                     ACCESS_MASK access, PWDF_OBJECT_ATTRIBUTES a,
                                                     WDFKEY *key)
{
    fxo *k;
    (void)g;
    (void)access;
    ENTER(WdfDriverOpenParametersRegistryKey);
    h2o(Driver, T_DRIVER, "WdfDriverOpenParametersRegistryKey");
    k = fxo_new(T_KEY, g_driver);
    fxo_set_attributes(k, a);
    *key = (WDFKEY)k;
    return STATUS_SUCCESS;
}

static NTSTATUS m_WdfRegistryQueryULong(PWDF_DRIVER_GLOBALS g, WDFKEY Key, PCUNICODE_STRING name,
                                        PULONG value)
{
    wchar_t n[64];
    unsigned i;
    (void)g;
    ENTER(WdfRegistryQueryULong);
    h2o(Key, T_KEY, "WdfRegistryQueryULong");
    us_copy(n, 64, name);
    for (i = 0; i < g_param_count; i++) {
        if (_wcsicmp(g_params[i].name, n) == 0) {
            *value = g_params[i].value;
            return STATUS_SUCCESS;
        }
    }
    return STATUS_OBJECT_NAME_NOT_FOUND;
}

static void m_WdfRegistryClose(PWDF_DRIVER_GLOBALS g, WDFKEY Key)
{
    (void)g;
    ENTER(WdfRegistryClose);
    fxo_dispose(h2o(Key, T_KEY, "WdfRegistryClose"));
}

static WDFDRIVER m_WdfDeviceGetDriver(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device)
{
    (void)g;
    ENTER(WdfDeviceGetDriver);
    return (WDFDRIVER)h2o(Device, T_DEVICE, "WdfDeviceGetDriver")->driver;
}

static PVOID m_WdfObjectGetTypedContextWorker(PWDF_DRIVER_GLOBALS g, WDFOBJECT h,
                                              PCWDF_OBJECT_CONTEXT_TYPE_INFO type)
{
    fxo *o;
    (void)g;
    ENTER(WdfObjectGetTypedContextWorker);
    o = h2o(h, 0, "WdfObjectGetTypedContextWorker");
    if (o->ctx_type != type) {
        model_violation("context", "%s has no context of type %s", g_type_names[o->type],
                        type != NULL ? type->ContextName : "(null)");
        return NULL;
    }
    return o->ctx;
}

static void m_WdfObjectDelete(PWDF_DRIVER_GLOBALS g, WDFOBJECT h)
{
    fxo *o;
    (void)g;
    ENTER(WdfObjectDelete);
    o = h2o(h, 0, "WdfObjectDelete");
    if (o->type == T_REQUEST) {
        model_bugcheck(0x10D, "delete", "WdfObjectDelete on a request the framework delivered");
    }
    if (o->type == T_DEVICE && !o->is_control) {
        /* FxDevice: a PnP device is deleted by PnP removal only (IsNoDeleteDDI). */
        model_bugcheck(0x10D, "delete", "WdfObjectDelete on a PnP device");
    }
    if (o->type == T_DEVICE) {
        ns_entry *e;
        /* FxDevice::DeleteObject (fxdevice.cpp): PASSIVE_LEVEL; IoDeleteDevice now (its name
         * leaves the namespace and no new create reaches it); with handles open the rest
         * (queues, symbolic link, cleanup callbacks) waits for the last close:
         * FxPkgGeneral::DecrementOpenHandleCount -> ControlDeviceDelete. */
        if (g_irql != PASSIVE_LEVEL) {
            model_violation("irql", "WdfObjectDelete(control device) at IRQL %u", (unsigned)g_irql);
        }
        if (o->name[0] && (e = ns_find(o->name)) != NULL && e->device == o) {
            e->used = 0;
        }
        o->name[0] = 0;
        if (o->handles > 0) {
            o->delete_pending = 1;
            return;
        }
    }
    fxo_dispose(o);
}

static NTSTATUS m_WdfCollectionCreate(PWDF_DRIVER_GLOBALS g, PWDF_OBJECT_ATTRIBUTES a, WDFCOLLECTION *out)
{
    fxo *c;
    (void)g;
    ENTER(WdfCollectionCreate);
    c = fxo_new(T_COLLECTION, g_driver);
    fxo_set_attributes(c, a);
    *out = (WDFCOLLECTION)c;
    return STATUS_SUCCESS;
}

static ULONG m_WdfCollectionGetCount(PWDF_DRIVER_GLOBALS g, WDFCOLLECTION h)
{
    (void)g;
    ENTER(WdfCollectionGetCount);
    return h2o(h, T_COLLECTION, "WdfCollectionGetCount")->ccount;
}

static NTSTATUS m_WdfCollectionAdd(PWDF_DRIVER_GLOBALS g, WDFCOLLECTION h, WDFOBJECT item)
{
    fxo *c;
    (void)g;
    ENTER(WdfCollectionAdd);
    c = h2o(h, T_COLLECTION, "WdfCollectionAdd");
    h2o(item, 0, "WdfCollectionAdd(Object)");
    if (c->ccount == 64) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    c->citems[c->ccount++] = (fxo *)item;
    return STATUS_SUCCESS;
}

static void m_WdfCollectionRemove(PWDF_DRIVER_GLOBALS g, WDFCOLLECTION h, WDFOBJECT item)
{
    fxo *c;
    ULONG i;
    (void)g;
    ENTER(WdfCollectionRemove);
    c = h2o(h, T_COLLECTION, "WdfCollectionRemove");
    for (i = 0; i < c->ccount; i++) {
        if (c->citems[i] == (fxo *)item) {
            memmove(&c->citems[i], &c->citems[i + 1], (c->ccount - i - 1) * sizeof(c->citems[0]));
            c->ccount--;
            return;
        }
    }
    /* FxCollection::Remove (fxcollection.cpp): removing an item that is not there. */
    model_violation("collection", "WdfCollectionRemove of an item not in the collection");
}

static WDFOBJECT m_WdfCollectionGetItem(PWDF_DRIVER_GLOBALS g, WDFCOLLECTION h, ULONG index)
{
    fxo *c;
    (void)g;
    ENTER(WdfCollectionGetItem);
    c = h2o(h, T_COLLECTION, "WdfCollectionGetItem");
    return index < c->ccount ? (WDFOBJECT)c->citems[index] : NULL;
}

static NTSTATUS m_WdfWaitLockCreate(PWDF_DRIVER_GLOBALS g, PWDF_OBJECT_ATTRIBUTES a, WDFWAITLOCK *out)
{
    fxo *l;
    (void)g;
    ENTER(WdfWaitLockCreate);
    l = fxo_new(T_WAITLOCK, g_driver);
    fxo_set_attributes(l, a);
    *out = (WDFWAITLOCK)l;
    return STATUS_SUCCESS;
}

static NTSTATUS m_WdfWaitLockAcquire(PWDF_DRIVER_GLOBALS g, WDFWAITLOCK h, PLONGLONG timeout)
{
    fxo *l;
    (void)g;
    ENTER(WdfWaitLockAcquire);
    l = h2o(h, T_WAITLOCK, "WdfWaitLockAcquire");
    /* wdfsync.h: _When_(Timeout == NULL, _IRQL_requires_max_(PASSIVE_LEVEL)). */
    if ((timeout == NULL || *timeout != 0) && g_irql != PASSIVE_LEVEL) {
        model_violation("irql", "WdfWaitLockAcquire (waiting) at IRQL %u", (unsigned)g_irql);
    }
    if (l->held) {
        model_bugcheck(0xC4, "deadlock", "WdfWaitLockAcquire of a wait lock this thread holds");
    }
    l->held = 1;
    return STATUS_SUCCESS;
}

static void m_WdfWaitLockRelease(PWDF_DRIVER_GLOBALS g, WDFWAITLOCK h)
{
    fxo *l;
    (void)g;
    ENTER(WdfWaitLockRelease);
    l = h2o(h, T_WAITLOCK, "WdfWaitLockRelease");
    if (!l->held) {
        model_bugcheck(0x10D, "lock", "WdfWaitLockRelease of a lock not held");
    }
    l->held = 0;
}

static NTSTATUS m_WdfSpinLockCreate(PWDF_DRIVER_GLOBALS g, PWDF_OBJECT_ATTRIBUTES a, WDFSPINLOCK *out)
{
    fxo *l;
    (void)g;
    ENTER(WdfSpinLockCreate);
    l = fxo_new(T_SPINLOCK, g_driver);
    fxo_set_attributes(l, a);
    *out = (WDFSPINLOCK)l;
    return STATUS_SUCCESS;
}

/* "A routine that uses a spin lock cannot be paged" (Windows docs, "Introduction to Spin
 * Locks"): code that holds one runs at DISPATCH_LEVEL, where a page fault cannot be served. */
static void check_spinlock_caller(const void *caller, const char *ddi)
{
    if (in_page(caller)) {
        model_violation("spinlock-in-page", "%s called from code in the PAGE section", ddi);
    }
}

static void m_WdfSpinLockAcquire(PWDF_DRIVER_GLOBALS g, WDFSPINLOCK h)
{
    fxo *l;
    (void)g;
    check_spinlock_caller(CALLER(), "WdfSpinLockAcquire");
    ENTER(WdfSpinLockAcquire);
    l = h2o(h, T_SPINLOCK, "WdfSpinLockAcquire");
    if (l->held) {
        model_bugcheck(0xC4, "deadlock", "WdfSpinLockAcquire of a spin lock already held");
    }
    l->held = 1;
    l->saved_irql = g_irql;
    g_irql = DISPATCH_LEVEL;
}

static void m_WdfSpinLockRelease(PWDF_DRIVER_GLOBALS g, WDFSPINLOCK h)
{
    fxo *l;
    (void)g;
    check_spinlock_caller(CALLER(), "WdfSpinLockRelease");
    ENTER(WdfSpinLockRelease);
    l = h2o(h, T_SPINLOCK, "WdfSpinLockRelease");
    if (!l->held) {
        model_bugcheck(0x10D, "lock", "WdfSpinLockRelease of a lock not held");
    }
    l->held = 0;
    g_irql = l->saved_irql;
}

static void m_WdfFdoInitSetFilter(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init)
{
    (void)g;
    ENTER(WdfFdoInitSetFilter);
    init->filter = 1;
}

static void m_WdfDeviceInitSetFileObjectConfig(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init,
                                               PWDF_FILEOBJECT_CONFIG config, PWDF_OBJECT_ATTRIBUTES a)
{
    (void)g;
    ENTER(WdfDeviceInitSetFileObjectConfig);
    init->file_config = *config;
    init->has_file_config = 1;
    if (a != NULL && a->ContextTypeInfo != NULL) {
        init->file_ctx_type = a->ContextTypeInfo->UniqueType ? a->ContextTypeInfo->UniqueType
                                                             : a->ContextTypeInfo;
        init->file_ctx_cleanup = a->EvtCleanupCallback;
    }
}

static void m_WdfDeviceInitSetRequestAttributes(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init,
                                                PWDF_OBJECT_ATTRIBUTES a)
{
    (void)g;
    ENTER(WdfDeviceInitSetRequestAttributes);
    if (a != NULL && a->ContextTypeInfo != NULL) {
        init->req_ctx_type = a->ContextTypeInfo->UniqueType ? a->ContextTypeInfo->UniqueType
                                                            : a->ContextTypeInfo;
    }
}

static NTSTATUS m_WdfDeviceInitAssignWdmIrpPreprocessCallback(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init,
                                                              PFN_WDFDEVICE_WDM_IRP_PREPROCESS fn,
                                                              UCHAR major, PUCHAR minors, ULONG count)
{
    (void)g;
    (void)minors;
    (void)count;
    ENTER(WdfDeviceInitAssignWdmIrpPreprocessCallback);
    if (init->preprocess != NULL && init->preprocess != fn) {
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    init->preprocess = fn;
    init->preprocess_majors |= 1u << major;
    return STATUS_SUCCESS;
}

static PWDFDEVICE_INIT m_WdfControlDeviceInitAllocate(PWDF_DRIVER_GLOBALS g, WDFDRIVER Driver,
                                                      PCUNICODE_STRING sddl)
{
    PWDFDEVICE_INIT init;
    (void)g;
    (void)sddl;
    ENTER(WdfControlDeviceInitAllocate);
    init = (PWDFDEVICE_INIT)calloc(1, sizeof(*init));
    init->control = 1;
    init->driver = h2o(Driver, T_DRIVER, "WdfControlDeviceInitAllocate");
    return init;
}

static void m_WdfDeviceInitFree(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init)
{
    (void)g;
    ENTER(WdfDeviceInitFree);
    if (init == NULL || init->freed) {
        model_bugcheck(0x10D, "handle", "WdfDeviceInitFree of a freed or NULL init");
    }
    if (!init->control) {
        model_violation("init", "WdfDeviceInitFree of a PnP device init (the framework owns it)");
    }
    init->freed = 1;
}

static void m_WdfDeviceInitSetExclusive(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init, BOOLEAN exclusive)
{
    (void)g;
    (void)init;
    (void)exclusive;
    ENTER(WdfDeviceInitSetExclusive);
}

static void m_WdfDeviceInitSetCharacteristics(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init, ULONG c, BOOLEAN o)
{
    (void)g;
    (void)init;
    (void)c;
    (void)o;
    ENTER(WdfDeviceInitSetCharacteristics);
}

static NTSTATUS m_WdfDeviceInitAssignName(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT init, PCUNICODE_STRING name)
{
    (void)g;
    ENTER(WdfDeviceInitAssignName);
    us_copy(init->name, 96, name);
    return STATUS_SUCCESS;
}

static unsigned g_control_serial;

static NTSTATUS m_WdfDeviceCreate(PWDF_DRIVER_GLOBALS g, PWDFDEVICE_INIT *pinit, PWDF_OBJECT_ATTRIBUTES a,
                                  WDFDEVICE *out)
{
    PWDFDEVICE_INIT init = *pinit;
    fxo *d;
    ns_entry *e = NULL;
    (void)g;
    ENTER(WdfDeviceCreate);
    if (init == NULL || init->freed) {
        model_bugcheck(0x10D, "handle", "WdfDeviceCreate with a freed or NULL init");
    }
    if (init->name[0]) {
        /* IoCreateDevice: a name in use fails with STATUS_OBJECT_NAME_COLLISION. */
        e = ns_add(init->name);
        if (e == NULL) {
            return STATUS_OBJECT_NAME_COLLISION;
        }
    }
    d = fxo_new(T_DEVICE, g_driver);
    d->driver = init->control ? init->driver : g_driver;
    fxo_set_attributes(d, a);
    d->is_control = init->control;
    wcsncpy(d->name, init->name, 95);
    if (e != NULL) {
        e->device = d;
    }
    if (init->has_file_config) {
        d->evt_create = init->file_config.EvtDeviceFileCreate;
        d->evt_cleanup = init->file_config.EvtFileCleanup;
        d->evt_close = init->file_config.EvtFileClose;
        d->fo_class = (ULONG)init->file_config.FileObjectClass;
    } else {
        d->fo_class = WdfFileObjectWdfCanUseFsContext;
    }
    d->file_ctx_type = init->file_ctx_type;
    d->file_ctx_cleanup = init->file_ctx_cleanup;
    d->req_ctx_type = init->req_ctx_type;
    d->preprocess = init->preprocess;
    d->preprocess_majors = init->preprocess_majors;
    d->drive = init->drive;
    if (init->drive != NULL) {
        PDEVICE_OBJECT below = init->drive->lower_filter ? init->drive->lower_filter
                                                         : init->drive->cdrom_fdo;
        d->devobj = devobj_new(NULL, below);
        d->iotarget = fxo_new(T_IOTARGET, d);
        d->iotarget->qdevice = d;
    } else {
        d->devobj = devobj_new(d->name, NULL);
        g_control_serial++;
    }
    /* The init belongs to the framework now (WdfDeviceCreate sets *DeviceInit = NULL). */
    init->freed = 1;
    *pinit = NULL;
    *out = (WDFDEVICE)d;
    return STATUS_SUCCESS;
}

static NTSTATUS m_WdfDeviceCreateSymbolicLink(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device, PCUNICODE_STRING link)
{
    fxo *d;
    ns_entry *e;
    (void)g;
    ENTER(WdfDeviceCreateSymbolicLink);
    d = h2o(Device, T_DEVICE, "WdfDeviceCreateSymbolicLink");
    us_copy(d->link, 96, link);
    e = ns_add(d->link);
    if (e == NULL) {
        d->link[0] = 0;
        return STATUS_OBJECT_NAME_COLLISION;
    }
    e->is_link = 1;
    wcsncpy(e->target, d->name, 95);
    return STATUS_SUCCESS;
}

static void m_WdfControlFinishInitializing(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device)
{
    (void)g;
    ENTER(WdfControlFinishInitializing);
    h2o(Device, T_DEVICE, "WdfControlFinishInitializing")->ready = 1;
}

static WDFIOTARGET m_WdfDeviceGetIoTarget(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device)
{
    (void)g;
    ENTER(WdfDeviceGetIoTarget);
    return (WDFIOTARGET)h2o(Device, T_DEVICE, "WdfDeviceGetIoTarget")->iotarget;
}

static PDEVICE_OBJECT m_WdfDeviceWdmGetAttachedDevice(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device)
{
    fxo *d;
    (void)g;
    ENTER(WdfDeviceWdmGetAttachedDevice);
    d = h2o(Device, T_DEVICE, "WdfDeviceWdmGetAttachedDevice");
    return d->drive == NULL ? NULL
                            : (d->drive->lower_filter ? d->drive->lower_filter : d->drive->cdrom_fdo);
}

static PDEVICE_OBJECT m_WdfDeviceWdmGetPhysicalDevice(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device)
{
    fxo *d;
    (void)g;
    ENTER(WdfDeviceWdmGetPhysicalDevice);
    d = h2o(Device, T_DEVICE, "WdfDeviceWdmGetPhysicalDevice");
    return d->drive == NULL ? NULL : d->drive->pdo;
}

static PDEVICE_OBJECT m_WdfDeviceWdmGetDeviceObject(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device)
{
    (void)g;
    ENTER(WdfDeviceWdmGetDeviceObject);
    return h2o(Device, T_DEVICE, "WdfDeviceWdmGetDeviceObject")->devobj;
}

static WDFFILEOBJECT m_WdfDeviceGetFileObject(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device, PFILE_OBJECT f)
{
    (void)g;
    ENTER(WdfDeviceGetFileObject);
    return (WDFFILEOBJECT)file_of(h2o(Device, T_DEVICE, "WdfDeviceGetFileObject"), f);
}

static WDFDEVICE m_WdfFileObjectGetDevice(PWDF_DRIVER_GLOBALS g, WDFFILEOBJECT f)
{
    (void)g;
    ENTER(WdfFileObjectGetDevice);
    return (WDFDEVICE)h2o(f, T_FILE, "WdfFileObjectGetDevice")->fdevice;
}

static PFILE_OBJECT m_WdfFileObjectWdmGetFileObject(PWDF_DRIVER_GLOBALS g, WDFFILEOBJECT f)
{
    (void)g;
    ENTER(WdfFileObjectWdmGetFileObject);
    return h2o(f, T_FILE, "WdfFileObjectWdmGetFileObject")->wdm_file;
}

static void fx_cleanup_close(fxo *d, model_irp *m);

static NTSTATUS m_WdfDeviceWdmDispatchPreprocessedIrp(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device, PIRP irp)
{
    fxo *d;
    (void)g;
    ENTER(WdfDeviceWdmDispatchPreprocessedIrp);
    d = h2o(Device, T_DEVICE, "WdfDeviceWdmDispatchPreprocessedIrp");
    fx_cleanup_close(d, (model_irp *)irp->Tail.Overlay.DriverContext[0]);
    return STATUS_SUCCESS;
}

static NTSTATUS m_WdfIoQueueCreate(PWDF_DRIVER_GLOBALS g, WDFDEVICE Device, PWDF_IO_QUEUE_CONFIG config,
                                   PWDF_OBJECT_ATTRIBUTES a, WDFQUEUE *out)
{
    fxo *d, *q;
    (void)g;
    ENTER(WdfIoQueueCreate);
    d = h2o(Device, T_DEVICE, "WdfIoQueueCreate");
    q = fxo_new(T_QUEUE, d);
    fxo_set_attributes(q, a);
    q->qdevice = d;
    q->dispatch = config->DispatchType;
    q->evt_ioctl = config->EvtIoDeviceControl;
    q->evt_internal = config->EvtIoInternalDeviceControl;
    q->evt_read = config->EvtIoRead;
    q->evt_write = config->EvtIoWrite;
    q->accepting = 1;
    if (config->DefaultQueue) {
        d->default_queue = q;
    }
    if (out != NULL) {
        *out = (WDFQUEUE)q;
    }
    return STATUS_SUCCESS;
}

static WDFDEVICE m_WdfIoQueueGetDevice(PWDF_DRIVER_GLOBALS g, WDFQUEUE Queue)
{
    (void)g;
    ENTER(WdfIoQueueGetDevice);
    return (WDFDEVICE)h2o(Queue, T_QUEUE, "WdfIoQueueGetDevice")->qdevice;
}

static NTSTATUS m_WdfIoQueueRetrieveNextRequest(PWDF_DRIVER_GLOBALS g, WDFQUEUE Queue, WDFREQUEST *out)
{
    fxo *q, *r;
    (void)g;
    ENTER(WdfIoQueueRetrieveNextRequest);
    q = h2o(Queue, T_QUEUE, "WdfIoQueueRetrieveNextRequest");
    *out = NULL;
    r = q->items;
    if (r == NULL) {
        return STATUS_NO_MORE_ENTRIES;
    }
    queue_remove(q, r);
    r->rstate = R_DRIVER;
    *out = (WDFREQUEST)r;
    return STATUS_SUCCESS;
}

static NTSTATUS m_WdfIoQueueRetrieveRequestByFileObject(PWDF_DRIVER_GLOBALS g, WDFQUEUE Queue,
                                                        WDFFILEOBJECT File, WDFREQUEST *out)
{
    fxo *q, *f, *r;
    (void)g;
    ENTER(WdfIoQueueRetrieveRequestByFileObject);
    q = h2o(Queue, T_QUEUE, "WdfIoQueueRetrieveRequestByFileObject");
    f = h2o(File, T_FILE, "WdfIoQueueRetrieveRequestByFileObject(FileObject)");
    *out = NULL;
    for (r = q->items; r != NULL; r = r->next_in_queue) {
        if (r->irp->file == f->wdm_file) {
            queue_remove(q, r);
            r->rstate = R_DRIVER;
            *out = (WDFREQUEST)r;
            return STATUS_SUCCESS;
        }
    }
    return STATUS_NO_MORE_ENTRIES;
}

/* FxIoQueue::QueuePurgeSynchronously (fxioqueue.cpp): PASSIVE_LEVEL; the queue stops accepting
 * and its requests are cancelled. */
static void m_WdfIoQueuePurgeSynchronously(PWDF_DRIVER_GLOBALS g, WDFQUEUE Queue)
{
    fxo *q;
    (void)g;
    ENTER(WdfIoQueuePurgeSynchronously);
    q = h2o(Queue, T_QUEUE, "WdfIoQueuePurgeSynchronously");
    q->accepting = 0;
    queue_cancel_all(q, NULL);
}

/* FxRequest::VerifyInsertIrpQueue (fxrequest.cpp) and FxIoQueue::QueueRequestFromForward
 * (fxioqueue.cpp): only a driver-owned request is forwarded, to a queue of its own device; a
 * queue that does not accept requests refuses it. */
static NTSTATUS m_WdfRequestForwardToIoQueue(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request, WDFQUEUE Queue)
{
    fxo *r, *q;
    (void)g;
    ENTER(WdfRequestForwardToIoQueue);
    r = h2o(Request, T_REQUEST, "WdfRequestForwardToIoQueue");
    q = h2o(Queue, T_QUEUE, "WdfRequestForwardToIoQueue(Queue)");
    if (r->rstate != R_DRIVER) {
        model_bugcheck(0x10D, "ownership", "WdfRequestForwardToIoQueue of a request not driver owned");
    }
    if (q->qdevice != r->rdevice) {
        model_violation("ownership", "WdfRequestForwardToIoQueue to another device's queue");
    }
    if (!q->accepting) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    queue_append(q, r, 0);
    return STATUS_SUCCESS;
}

static NTSTATUS m_WdfRequestRequeue(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request)
{
    fxo *r;
    (void)g;
    ENTER(WdfRequestRequeue);
    r = h2o(Request, T_REQUEST, "WdfRequestRequeue");
    if (r->rstate != R_DRIVER || r->rqueue == NULL) {
        model_bugcheck(0x10D, "ownership", "WdfRequestRequeue of a request not taken from a manual queue");
    }
    if (!r->rqueue->accepting) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    queue_append(r->rqueue, r, 1);
    return STATUS_SUCCESS;
}

static PIRP m_WdfRequestWdmGetIrp(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request)
{
    fxo *r;
    (void)g;
    ENTER(WdfRequestWdmGetIrp);
    r = h2o(Request, T_REQUEST, "WdfRequestWdmGetIrp");
    if (r->rstate != R_DRIVER) {
        model_violation("ownership", "WdfRequestWdmGetIrp of a request the driver does not own");
    }
    return r->irp->irp;
}

static void m_WdfRequestGetParameters(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request, PWDF_REQUEST_PARAMETERS p)
{
    fxo *r;
    IO_STACK_LOCATION *s;
    (void)g;
    ENTER(WdfRequestGetParameters);
    r = h2o(Request, T_REQUEST, "WdfRequestGetParameters");
    s = &r->irp->stack[1];
    if (p->Size != sizeof(WDF_REQUEST_PARAMETERS)) {
        model_violation("struct-size", "WDF_REQUEST_PARAMETERS.Size");
    }
    memset(&p->Parameters, 0, sizeof(p->Parameters));
    p->MinorFunction = s->MinorFunction;
    switch (s->MajorFunction) {
    case IRP_MJ_CREATE: p->Type = WdfRequestTypeCreate; break;
    case IRP_MJ_READ:
        p->Type = WdfRequestTypeRead;
        p->Parameters.Read.Length = s->Parameters.Read.Length;
        p->Parameters.Read.DeviceOffset = s->Parameters.Read.ByteOffset.QuadPart;
        break;
    case IRP_MJ_WRITE:
        p->Type = WdfRequestTypeWrite;
        p->Parameters.Write.Length = s->Parameters.Write.Length;
        p->Parameters.Write.DeviceOffset = s->Parameters.Write.ByteOffset.QuadPart;
        break;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        p->Type = s->MajorFunction == IRP_MJ_DEVICE_CONTROL ? WdfRequestTypeDeviceControl
                                                            : WdfRequestTypeDeviceControlInternal;
        p->Parameters.DeviceIoControl.OutputBufferLength = s->Parameters.DeviceIoControl.OutputBufferLength;
        p->Parameters.DeviceIoControl.InputBufferLength = s->Parameters.DeviceIoControl.InputBufferLength;
        p->Parameters.DeviceIoControl.IoControlCode = s->Parameters.DeviceIoControl.IoControlCode;
        break;
    default: p->Type = WdfRequestTypeOther; break;
    }
}

static BOOLEAN m_WdfRequestIsFrom32BitProcess(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request)
{
    (void)g;
    ENTER(WdfRequestIsFrom32BitProcess);
    h2o(Request, T_REQUEST, "WdfRequestIsFrom32BitProcess");
    return FALSE;
}

static KPROCESSOR_MODE m_WdfRequestGetRequestorMode(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request)
{
    (void)g;
    ENTER(WdfRequestGetRequestorMode);
    return h2o(Request, T_REQUEST, "WdfRequestGetRequestorMode")->irp->irp->RequestorMode;
}

static WDFFILEOBJECT m_WdfRequestGetFileObject(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request)
{
    (void)g;
    ENTER(WdfRequestGetFileObject);
    return (WDFFILEOBJECT)h2o(Request, T_REQUEST, "WdfRequestGetFileObject")->rfile;
}

static NTSTATUS retrieve_buffer(WDFREQUEST Request, size_t min, PVOID *buffer, size_t *length, int input,
                                const char *ddi)
{
    fxo *r = h2o(Request, T_REQUEST, ddi);
    IO_STACK_LOCATION *s = &r->irp->stack[1];
    ULONG len;

    if (r->rstate != R_DRIVER) {
        model_violation("ownership", "%s on a request the driver does not own", ddi);
    }
    if (s->MajorFunction != IRP_MJ_DEVICE_CONTROL ||
        METHOD_FROM_CTL_CODE(s->Parameters.DeviceIoControl.IoControlCode) == METHOD_NEITHER) {
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    len = input ? s->Parameters.DeviceIoControl.InputBufferLength
                : s->Parameters.DeviceIoControl.OutputBufferLength;
    if (len == 0 || len < min) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    *buffer = r->irp->system_buffer;
    if (length != NULL) {
        *length = len;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS m_WdfRequestRetrieveInputBuffer(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request, size_t min,
                                                PVOID *buffer, size_t *length)
{
    (void)g;
    ENTER(WdfRequestRetrieveInputBuffer);
    return retrieve_buffer(Request, min, buffer, length, 1, "WdfRequestRetrieveInputBuffer");
}

static NTSTATUS m_WdfRequestRetrieveOutputBuffer(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request, size_t min,
                                                 PVOID *buffer, size_t *length)
{
    (void)g;
    ENTER(WdfRequestRetrieveOutputBuffer);
    return retrieve_buffer(Request, min, buffer, length, 0, "WdfRequestRetrieveOutputBuffer");
}

static void m_WdfRequestComplete(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request, NTSTATUS status)
{
    (void)g;
    ENTER(WdfRequestComplete);
    glue_completes(Request, status, 0, "WdfRequestComplete");
}

static void m_WdfRequestCompleteWithInformation(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request, NTSTATUS status,
                                                ULONG_PTR info)
{
    (void)g;
    ENTER(WdfRequestCompleteWithInformation);
    glue_completes(Request, status, info, "WdfRequestCompleteWithInformation");
}

static NTSTATUS m_WdfRequestGetStatus(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request)
{
    (void)g;
    ENTER(WdfRequestGetStatus);
    return h2o(Request, T_REQUEST, "WdfRequestGetStatus")->rstatus;
}

static void m_WdfRequestFormatRequestUsingCurrentType(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request)
{
    fxo *r;
    (void)g;
    ENTER(WdfRequestFormatRequestUsingCurrentType);
    r = h2o(Request, T_REQUEST, "WdfRequestFormatRequestUsingCurrentType");
    if (r->rstate != R_DRIVER) {
        model_violation("ownership", "formatting a request the driver does not own");
    }
    r->formatted = 1;
}

static void m_WdfRequestSetCompletionRoutine(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request,
                                             PFN_WDF_REQUEST_COMPLETION_ROUTINE fn, WDFCONTEXT ctx)
{
    fxo *r;
    (void)g;
    ENTER(WdfRequestSetCompletionRoutine);
    r = h2o(Request, T_REQUEST, "WdfRequestSetCompletionRoutine");
    r->croutine = fn;
    r->cctx = ctx;
}

static BOOLEAN m_WdfRequestSend(PWDF_DRIVER_GLOBALS g, WDFREQUEST Request, WDFIOTARGET Target,
                                PWDF_REQUEST_SEND_OPTIONS options)
{
    fxo *r, *t;
    model_irp *m;
    int snf;
    (void)g;
    ENTER(WdfRequestSend);
    r = h2o(Request, T_REQUEST, "WdfRequestSend");
    t = h2o(Target, T_IOTARGET, "WdfRequestSend(Target)");
    m = r->irp;
    snf = options != NULL && (options->Flags & WDF_REQUEST_SEND_OPTION_SEND_AND_FORGET) != 0;
    if (r->rstate != R_DRIVER) {
        model_bugcheck(0x10D, "ownership", "WdfRequestSend of a request the driver does not own");
    }
    if (t->qdevice->drive != NULL && t->qdevice->drive->send_fails) {
        /* FxIoTarget::SubmitLocked (fxiotarget.cpp): a removed target refuses. */
        r->rstatus = STATUS_INVALID_DEVICE_STATE;
        return FALSE;
    }
    if (snf) {
        /* FxRequest::VerifyPreProcessSendAndForget (fxrequest.cpp). */
        if (r->croutine != NULL) {
            model_violation("send-and-forget", "send and forget of a request with a completion routine");
        }
        if (m->stack[1].MajorFunction == IRP_MJ_CREATE &&
            (r->rdevice->fo_class & ~(ULONG)WdfFileObjectCanBeOptional) != WdfFileObjectNotRequired) {
            model_violation("send-and-forget",
                            "send and forget of a create that has a WDFFILEOBJECT: it must have a "
                            "completion routine and be post-processed");
        }
        if (r->formatted) {
            model_violation("send-and-forget", "send and forget of a formatted request");
        }
        /* FxRequest::PreProcessSendAndForget: the request is disposed; the IRP belongs to the
         * lower driver. */
        m->snf = 1;
        r->rstate = R_DONE;
        fxo_dispose(r);
        m->request = NULL;
        lower_receive(m, NULL, t);
        return TRUE;
    }
    /* FxIoTarget::Send -> FxIoTarget::VerifySubmitLocked (fxiotarget.cpp): the next stack
     * location must have been formatted for the target. */
    if (!r->formatted) {
        model_violation("format-before-send", "WdfRequestSend of a request never formatted");
    }
    r->rstate = R_LOWER;
    lower_receive(m, r, t);
    return TRUE;
}

static NTSTATUS m_WdfIoTargetSendIoctlSynchronously(PWDF_DRIVER_GLOBALS g, WDFIOTARGET Target, WDFREQUEST Request,
                                                    ULONG code, PWDF_MEMORY_DESCRIPTOR in,
                                                    PWDF_MEMORY_DESCRIPTOR out,
                                                    PWDF_REQUEST_SEND_OPTIONS options, PULONG_PTR bytes)
{
    fxo *t;
    (void)g;
    (void)in;
    (void)out;
    (void)options;
    ENTER(WdfIoTargetSendIoctlSynchronously);
    t = h2o(Target, T_IOTARGET, "WdfIoTargetSendIoctlSynchronously");
    /* FxIoTargetSendIoctl: synchronous sends only at PASSIVE_LEVEL (header). */
    if (Request != NULL) {
        h2o(Request, T_REQUEST, "WdfIoTargetSendIoctlSynchronously(Request)");
    }
    if (bytes != NULL) {
        *bytes = 0;
    }
    if (t->qdevice->drive == NULL) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (code == IOCTL_STORAGE_MEDIA_REMOVAL) {
        t->qdevice->drive->lower_ioctls++;
    }
    return t->qdevice->drive->lower_status;
}

static NTSTATUS m_WdfWorkItemCreate(PWDF_DRIVER_GLOBALS g, PWDF_WORKITEM_CONFIG config, PWDF_OBJECT_ATTRIBUTES a,
                                    WDFWORKITEM *out)
{
    fxo *w;
    (void)g;
    ENTER(WdfWorkItemCreate);
    if (a == NULL || a->ParentObject == NULL) {
        /* FxWorkItem::_Create (fxworkitem.cpp): a work item needs a device or queue parent. */
        model_violation("workitem", "WdfWorkItemCreate without a parent");
        return STATUS_INVALID_PARAMETER;
    }
    w = fxo_new(T_WORKITEM, NULL);
    fxo_set_attributes(w, a);
    w->wi_fn = config->EvtWorkItemFunc;
    *out = (WDFWORKITEM)w;
    return STATUS_SUCCESS;
}

static void m_WdfWorkItemEnqueue(PWDF_DRIVER_GLOBALS g, WDFWORKITEM h)
{
    (void)g;
    ENTER(WdfWorkItemEnqueue);
    h2o(h, T_WORKITEM, "WdfWorkItemEnqueue")->wi_queued = 1;
}

static WDFOBJECT m_WdfWorkItemGetParentObject(PWDF_DRIVER_GLOBALS g, WDFWORKITEM h)
{
    (void)g;
    ENTER(WdfWorkItemGetParentObject);
    return (WDFOBJECT)h2o(h, T_WORKITEM, "WdfWorkItemGetParentObject")->parent;
}

unsigned model_work_items_queued(void)
{
    fxo *o;
    unsigned n = 0;
    for (o = g_objects; o != NULL; o = o->next_all) {
        if (o->type == T_WORKITEM && !o->disposed && o->wi_queued) {
            n++;
        }
    }
    return n;
}

unsigned model_run_work_items(void)
{
    fxo *o;
    unsigned n = 0;
    KIRQL saved = g_irql;
    for (o = g_objects; o != NULL; o = o->next_all) {
        if (o->type == T_WORKITEM && !o->disposed && o->wi_queued) {
            o->wi_queued = 0;
            g_irql = PASSIVE_LEVEL;
            check_code((const void *)o->wi_fn, "EvtWorkItem");
            o->wi_fn((WDFWORKITEM)o);
            n++;
        }
    }
    g_irql = saved;
    return n;
}

/* Every other DDI: not modelled, so not allowed. */
static void m_unmodelled(void)
{
    model_bugcheck(0xDEAD, "unmodelled", "the glue called a DDI the harness does not model");
}

#define SET(name) g_table[name##TableIndex] = (WDFFUNC)m_##name
static void model_fill_table(void)
{
    unsigned i;
    for (i = 0; i < WdfFunctionTableNumEntries; i++) {
        g_table[i] = m_unmodelled;
    }
    SET(WdfDriverCreate);
    SET(WdfDriverOpenParametersRegistryKey);
    SET(WdfRegistryQueryULong);
    SET(WdfRegistryClose);
    SET(WdfDeviceGetDriver);
    SET(WdfObjectGetTypedContextWorker);
    SET(WdfObjectDelete);
    SET(WdfCollectionCreate);
    SET(WdfCollectionGetCount);
    SET(WdfCollectionAdd);
    SET(WdfCollectionRemove);
    SET(WdfCollectionGetItem);
    SET(WdfWaitLockCreate);
    SET(WdfWaitLockAcquire);
    SET(WdfWaitLockRelease);
    SET(WdfSpinLockCreate);
    SET(WdfSpinLockAcquire);
    SET(WdfSpinLockRelease);
    SET(WdfFdoInitSetFilter);
    SET(WdfDeviceInitSetFileObjectConfig);
    SET(WdfDeviceInitSetRequestAttributes);
    SET(WdfDeviceInitAssignWdmIrpPreprocessCallback);
    SET(WdfControlDeviceInitAllocate);
    SET(WdfDeviceInitFree);
    SET(WdfDeviceInitSetExclusive);
    SET(WdfDeviceInitSetCharacteristics);
    SET(WdfDeviceInitAssignName);
    SET(WdfDeviceCreate);
    SET(WdfDeviceCreateSymbolicLink);
    SET(WdfControlFinishInitializing);
    SET(WdfDeviceGetIoTarget);
    SET(WdfDeviceWdmGetAttachedDevice);
    SET(WdfDeviceWdmGetPhysicalDevice);
    SET(WdfDeviceWdmGetDeviceObject);
    SET(WdfDeviceGetFileObject);
    SET(WdfFileObjectGetDevice);
    SET(WdfFileObjectWdmGetFileObject);
    SET(WdfDeviceWdmDispatchPreprocessedIrp);
    SET(WdfIoQueueCreate);
    SET(WdfIoQueueGetDevice);
    SET(WdfIoQueueRetrieveNextRequest);
    SET(WdfIoQueueRetrieveRequestByFileObject);
    SET(WdfIoQueuePurgeSynchronously);
    SET(WdfRequestForwardToIoQueue);
    SET(WdfRequestRequeue);
    SET(WdfRequestWdmGetIrp);
    SET(WdfRequestGetParameters);
    SET(WdfRequestIsFrom32BitProcess);
    SET(WdfRequestGetRequestorMode);
    SET(WdfRequestGetFileObject);
    SET(WdfRequestRetrieveInputBuffer);
    SET(WdfRequestRetrieveOutputBuffer);
    SET(WdfRequestComplete);
    SET(WdfRequestCompleteWithInformation);
    SET(WdfRequestGetStatus);
    SET(WdfRequestFormatRequestUsingCurrentType);
    SET(WdfRequestSetCompletionRoutine);
    SET(WdfRequestSend);
    SET(WdfIoTargetSendIoctlSynchronously);
    SET(WdfWorkItemCreate);
    SET(WdfWorkItemEnqueue);
    SET(WdfWorkItemGetParentObject);
}

/* ------------------------------------------------------------------------------------------ */
/* ntoskrnl / hal                                                                               */

static char g_debug_log[65536];
static size_t g_debug_used;

int model_debug_output_contains(const char *needle)
{
    return strstr(g_debug_log, needle) != NULL;
}

static ULONG __cdecl k_DbgPrintEx(ULONG component, ULONG level, PCSTR fmt, ...)
{
    char line[512];
    va_list ap;
    (void)component;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (g_debug_used + strlen(line) + 1 < sizeof(g_debug_log)) {
        memcpy(g_debug_log + g_debug_used, line, strlen(line) + 1);
        g_debug_used += strlen(line);
    }
    if (getenv("HARNESS_VERBOSE") != NULL) {
        printf("    dbg: %s", line);
    }
    return 0;
}

static PVOID NTAPI k_ExAllocatePoolWithTag(POOL_TYPE type, SIZE_T bytes, ULONG tag)
{
    return pool_alloc(type, bytes, tag, CALLER());
}

static void NTAPI k_ExFreePoolWithTag(PVOID p, ULONG tag)
{
    pool_free(p, tag, 1, CALLER());
}

static void NTAPI k_ExFreePool(PVOID p)
{
    pool_free(p, 0, 0, CALLER());
}

static PEPROCESS NTAPI k_IoGetCurrentProcess(void)
{
    return (PEPROCESS)g_eprocess;
}

static PEPROCESS NTAPI k_IoGetRequestorProcess(PIRP irp)
{
    (void)irp;
    return (PEPROCESS)g_eprocess;
}

static ULONG NTAPI k_IoGetRequestorProcessId(PIRP irp)
{
    model_irp *m = (model_irp *)irp->Tail.Overlay.DriverContext[0];
    return m != NULL ? m->pid : g_pid;
}

static KIRQL NTAPI k_KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK lock)
{
    KIRQL old = g_irql;
    check_spinlock_caller(CALLER(), "KeAcquireSpinLock");
    check_code(CALLER(), "KeAcquireSpinLock");
    if (g_irql > DISPATCH_LEVEL) {
        model_violation("irql", "KeAcquireSpinLock at IRQL %u", (unsigned)g_irql);
    }
    if (*lock != 0) {
        model_bugcheck(0xC4, "deadlock", "KeAcquireSpinLock of a spin lock already held");
    }
    *lock = 1;
    g_irql = DISPATCH_LEVEL;
    return old;
}

static void NTAPI k_KeReleaseSpinLock(PKSPIN_LOCK lock, KIRQL old)
{
    check_spinlock_caller(CALLER(), "KeReleaseSpinLock");
    if (*lock != 1) {
        model_bugcheck(0x10D, "lock", "KeReleaseSpinLock of a lock not held");
    }
    if (g_irql != DISPATCH_LEVEL) {
        model_violation("irql", "KeReleaseSpinLock at IRQL %u (must be DISPATCH_LEVEL)", (unsigned)g_irql);
    }
    *lock = 0;
    g_irql = old;
}

static LARGE_INTEGER NTAPI k_KeQueryPerformanceCounter(PLARGE_INTEGER freq)
{
    LARGE_INTEGER now;
    long long f;
    now.QuadPart = win32_counter(&f);
    if (freq != NULL) {
        freq->QuadPart = f;
    }
    return now;
}

static NTSTATUS NTAPI k_ObQueryNameString(PVOID object, POBJECT_NAME_INFORMATION info, ULONG length,
                                          PULONG returned)
{
    devobj_info *d = devobj_of((PDEVICE_OBJECT)object);
    size_t n;
    check_code(CALLER(), "ObQueryNameString");
    if (g_irql != PASSIVE_LEVEL) {
        model_violation("irql", "ObQueryNameString at IRQL %u (PASSIVE_LEVEL only)", (unsigned)g_irql);
    }
    if (d == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    n = wcslen(d->name) * sizeof(WCHAR);
    if (length < sizeof(OBJECT_NAME_INFORMATION) + n + sizeof(WCHAR)) {
        *returned = (ULONG)(sizeof(OBJECT_NAME_INFORMATION) + n + sizeof(WCHAR));
        return STATUS_INFO_LENGTH_MISMATCH;
    }
    info->Name.Buffer = (PWCH)(info + 1);
    memcpy(info->Name.Buffer, d->name, n + sizeof(WCHAR));
    info->Name.Length = (USHORT)n;
    info->Name.MaximumLength = (USHORT)(n + sizeof(WCHAR));
    *returned = (ULONG)(sizeof(OBJECT_NAME_INFORMATION) + n + sizeof(WCHAR));
    return STATUS_SUCCESS;
}

static PDEVICE_OBJECT NTAPI k_IoGetLowerDeviceObject(PDEVICE_OBJECT dev)
{
    devobj_info *d = devobj_of(dev);
    devobj_info *lower;
    if (d == NULL || d->lower == NULL) {
        return NULL;
    }
    lower = devobj_of(d->lower);
    lower->refs++;
    return d->lower;
}

static LONG_PTR FASTCALL k_ObfDereferenceObject(PVOID object)
{
    devobj_info *d = devobj_of((PDEVICE_OBJECT)object);
    if (d == NULL || d->refs <= 0) {
        model_bugcheck(0x18, "reference", "ObDereferenceObject without a reference");
        return 0;
    }
    return --d->refs;
}

static NTSTATUS NTAPI k_IoCreateSymbolicLink(PUNICODE_STRING link, PUNICODE_STRING target)
{
    wchar_t l[96];
    ns_entry *e;
    check_code(CALLER(), "IoCreateSymbolicLink");
    if (g_irql != PASSIVE_LEVEL) {
        model_violation("irql", "IoCreateSymbolicLink at IRQL %u", (unsigned)g_irql);
    }
    us_copy(l, 96, link);
    e = ns_add(l);
    if (e == NULL) {
        return STATUS_OBJECT_NAME_COLLISION;
    }
    e->is_link = 1;
    us_copy(e->target, 96, target);
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI k_IoDeleteSymbolicLink(PUNICODE_STRING link)
{
    wchar_t l[96];
    ns_entry *e;
    check_code(CALLER(), "IoDeleteSymbolicLink");
    if (g_irql != PASSIVE_LEVEL) {
        model_violation("irql", "IoDeleteSymbolicLink at IRQL %u", (unsigned)g_irql);
    }
    us_copy(l, 96, link);
    e = ns_find(l);
    if (e == NULL || !e->is_link) {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    e->used = 0;
    return STATUS_SUCCESS;
}

static HANDLE NTAPI k_PsGetCurrentProcessId(void)
{
    return (HANDLE)(ULONG_PTR)g_pid;
}

static HANDLE NTAPI k_PsGetCurrentThreadId(void)
{
    return (HANDLE)(ULONG_PTR)g_tid;
}

static BOOLEAN NTAPI k_PsIsThreadTerminating(PETHREAD thread)
{
    (void)thread;
    return g_terminating ? TRUE : FALSE;
}

/* Not dllimport in ntifs.h: defined under its own name. */
NTSTATUS NTAPI SeLocateProcessImageName(PEPROCESS process, PUNICODE_STRING *name)
{
    size_t n = wcslen(g_image) * sizeof(WCHAR);
    PUNICODE_STRING s;
    (void)process;
    check_code(CALLER(), "SeLocateProcessImageName");
    if (g_irql != PASSIVE_LEVEL) {
        model_violation("irql", "SeLocateProcessImageName at IRQL %u", (unsigned)g_irql);
    }
    s = (PUNICODE_STRING)pool_alloc(PagedPool, sizeof(UNICODE_STRING) + n, SYSTEM_TAG, CALLER());
    s->Buffer = (PWCH)(s + 1);
    memcpy(s->Buffer, g_image, n);
    s->Length = (USHORT)n;
    s->MaximumLength = (USHORT)n;
    *name = s;
    return STATUS_SUCCESS;
}

/* The import slots the glue's dllimport calls go through. */
#define IMP(name, fn) void *__imp_##name = (void *)(fn)
IMP(DbgPrintEx, k_DbgPrintEx);
IMP(ExAllocatePoolWithTag, k_ExAllocatePoolWithTag);
IMP(ExFreePoolWithTag, k_ExFreePoolWithTag);
IMP(ExFreePool, k_ExFreePool);
IMP(IoGetCurrentProcess, k_IoGetCurrentProcess);
IMP(IoGetRequestorProcess, k_IoGetRequestorProcess);
IMP(IoGetRequestorProcessId, k_IoGetRequestorProcessId);
IMP(KeAcquireSpinLockRaiseToDpc, k_KeAcquireSpinLockRaiseToDpc);
IMP(KeReleaseSpinLock, k_KeReleaseSpinLock);
IMP(KeQueryPerformanceCounter, k_KeQueryPerformanceCounter);
IMP(ObQueryNameString, k_ObQueryNameString);
IMP(IoGetLowerDeviceObject, k_IoGetLowerDeviceObject);
IMP(ObfDereferenceObject, k_ObfDereferenceObject);
IMP(IoCreateSymbolicLink, k_IoCreateSymbolicLink);
IMP(IoDeleteSymbolicLink, k_IoDeleteSymbolicLink);
IMP(PsGetCurrentProcessId, k_PsGetCurrentProcessId);
IMP(PsGetCurrentThreadId, k_PsGetCurrentThreadId);
IMP(PsIsThreadTerminating, k_PsIsThreadTerminating);

/* ------------------------------------------------------------------------------------------ */
/* PnP, I/O manager                                                                             */

DRIVER_INITIALIZE DriverEntry;
static DRIVER_OBJECT g_driver_object;

void model_reset(void)
{
    static int once;
    if (!once) {
        once = 1;
        if (!win32_install(&g_irql)) {
            exit(2);
        }
        model_find_sections();
        model_fill_table();
    }
    g_irql = PASSIVE_LEVEL;
}

NTSTATUS model_load_driver(void)
{
    UNICODE_STRING path;
    NTSTATUS status;

    static WCHAR registry[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\cdfilter";
    path.Buffer = registry;
    path.Length = (USHORT)(sizeof(registry) - sizeof(WCHAR));
    path.MaximumLength = (USHORT)sizeof(registry);
    g_irql = PASSIVE_LEVEL;
    g_driver_entry_returned = 0;
    status = DriverEntry(&g_driver_object, &path);
    g_driver_entry_returned = 1;
    /* A failed DriverEntry after WdfDriverCreate: the framework deletes the driver object
     * (FxDriverEntry, fxdriverentry.cpp). */
    if (!NT_SUCCESS(status) && g_driver != NULL) {
        fxo_dispose(g_driver);
    }
    return status;
}

model_drive *model_add_drive(unsigned index, int lower_filter_unnamed)
{
    model_drive *d = (model_drive *)calloc(1, sizeof(*d));
    struct WDFDEVICE_INIT *init = (struct WDFDEVICE_INIT *)calloc(1, sizeof(*init));
    wchar_t name[64];
    NTSTATUS status;

    swprintf(name, 64, L"\\Device\\%08X", 0x40 + index);
    d->pdo = devobj_new(name, NULL);
    swprintf(name, 64, L"\\Device\\CdRom%u", index);
    d->cdrom_fdo = devobj_new(name, d->pdo);
    if (lower_filter_unnamed) {
        d->lower_filter = devobj_new(NULL, d->cdrom_fdo);
    }
    d->lower_status = STATUS_SUCCESS;
    init->drive = d;
    init->driver = g_driver;
    g_irql = PASSIVE_LEVEL;
    check_code((const void *)g_device_add, "EvtDriverDeviceAdd");
    status = g_device_add((WDFDRIVER)g_driver, init);
    if (!init->freed) {
        /* AddDevice failed before WdfDeviceCreate: the framework frees the init. */
        init->freed = 1;
    }
    if (!NT_SUCCESS(status)) {
        fxo *o;
        /* A failed EvtDriverDeviceAdd after WdfDeviceCreate: the framework deletes the device. */
        for (o = g_objects; o != NULL; o = o->next_all) {
            if (o->type == T_DEVICE && o->drive == d && !o->disposed) {
                fxo_dispose(o);
            }
        }
        return d;
    }
    {
        fxo *o;
        for (o = g_objects; o != NULL; o = o->next_all) {
            if (o->type == T_DEVICE && o->drive == d && !o->disposed) {
                d->device = (WDFDEVICE)o;
            }
        }
    }
    return d;
}

/* PnP removal: the framework purges the device's queues and disposes the device
 * (FxPkgPnp remove path; cleanup callbacks at PASSIVE_LEVEL). */
void model_remove_drive(model_drive *drive)
{
    fxo *d = (fxo *)drive->device;
    if (d == NULL) {
        return;
    }
    if (g_pending_count != 0) {
        unsigned i;
        for (i = 0; i < g_pending_count; i++) {
            if (g_pending[i].irp->drive == drive) {
                model_violation("remove", "PnP removal with requests still at the lower driver");
                break;
            }
        }
    }
    g_irql = PASSIVE_LEVEL;
    fxo_dispose(d);
    drive->device = NULL;
}

static PFILE_OBJECT new_file(void)
{
    PFILE_OBJECT f = (PFILE_OBJECT)calloc(1, sizeof(FILE_OBJECT));
    f->Type = IO_TYPE_FILE;
    f->Size = sizeof(FILE_OBJECT);
    return f;
}

/* IRP_MJ_CREATE: FxPkgGeneral::OnCreate (fxpkggeneral.cpp) creates the WDFFILEOBJECT and calls
 * EvtDeviceFileCreate at PASSIVE_LEVEL; without that callback it completes the create itself. */
NTSTATUS model_open_drive(model_drive *drive, model_handle *h, KPROCESSOR_MODE mode)
{
    fxo *d = (fxo *)drive->device;
    model_irp *m;
    fxo *r;

    memset(h, 0, sizeof(*h));
    h->file = new_file();
    h->drive = drive;
    m = irp_new(IRP_MJ_CREATE, h->file, mode);
    m->drive = drive;
    m->irp->Tail.Overlay.DriverContext[0] = m;
    g_irql = PASSIVE_LEVEL;
    file_new(d, h->file);
    r = request_new(m, d);
    check_code((const void *)d->evt_create, "EvtDeviceFileCreate");
    d->evt_create((WDFDEVICE)d, (WDFREQUEST)r, (WDFFILEOBJECT)r->rfile);
    if (!m->view.completed) {
        /* pending at the lower driver: the scenario completes it */
        return STATUS_PENDING;
    }
    h->open = NT_SUCCESS(m->view.status);
    return m->view.status;
}

void model_adopt_file(model_drive *drive, model_handle *h)
{
    memset(h, 0, sizeof(*h));
    h->file = new_file();
    h->drive = drive;
    h->open = 1;
}

static fxo *control_by_link(void)
{
    ns_entry *link = ns_find(L"\\DosDevices\\CdFilter");
    ns_entry *dev;
    if (link == NULL || !link->is_link) {
        return NULL;
    }
    dev = ns_find(link->target);
    if (dev == NULL || dev->device == NULL) {
        return NULL;
    }
    return (fxo *)dev->device;
}

int model_control_link_usable(void)
{
    fxo *d = control_by_link();
    return d != NULL && !d->disposed && !d->delete_pending && d->ready;
}

NTSTATUS model_open_control(model_handle *h)
{
    fxo *d = control_by_link();
    fxo *f;

    memset(h, 0, sizeof(*h));
    if (d == NULL || d->delete_pending || d->disposed) {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    if (!d->ready) {
        /* FxPkgGeneral::OnCreate: a control device not finished initializing. */
        return STATUS_INVALID_DEVICE_STATE;
    }
    h->file = new_file();
    h->control = (WDFDEVICE)d;
    f = file_new(d, h->file);
    (void)f;
    d->handles++;
    h->open = 1;
    return STATUS_SUCCESS;
}

/* FxPkgGeneral::OnCleanup / OnClose (fxpkggeneral.cpp): EvtFileCleanup / EvtFileClose with the
 * WDFFILEOBJECT, or with NULL when the framework has none for the file object (WdfFileObject-
 * CanBeOptional); cleanup flushes the queues by file object; close destroys the WDFFILEOBJECT;
 * then (filter) the IRP goes down; close decrements the open-handle count, and the last one of
 * a deleted control device finishes its deletion (DecrementOpenHandleCount). */
static void fx_cleanup_close(fxo *d, model_irp *m)
{
    UCHAR major = m->stack[1].MajorFunction;
    fxo *f = file_of(d, m->file);
    fxo *o;

    g_irql = PASSIVE_LEVEL;
    if (major == IRP_MJ_CLEANUP) {
        if (d->evt_cleanup != NULL) {
            check_code((const void *)d->evt_cleanup, "EvtFileCleanup");
            d->evt_cleanup((WDFFILEOBJECT)f);
        }
        for (o = g_objects; o != NULL; o = o->next_all) {
            if (o->type == T_QUEUE && o->qdevice == d && !o->disposed) {
                queue_cancel_all(o, m->file);
            }
        }
        irp_complete(m, STATUS_SUCCESS, 0);
        return;
    }
    if (d->evt_close != NULL) {
        check_code((const void *)d->evt_close, "EvtFileClose");
        d->evt_close((WDFFILEOBJECT)f);
    }
    if (f != NULL) {
        file_destroy(f);
    }
    irp_complete(m, STATUS_SUCCESS, 0);
    if (f != NULL && d->handles > 0) {
        d->handles--;
        if (d->handles == 0 && d->is_control && d->delete_pending) {
            fxo_dispose(d);
        }
    }
}

static void file_end(model_handle *h, UCHAR major)
{
    fxo *d = h->drive != NULL ? (fxo *)h->drive->device : (fxo *)h->control;
    model_irp *m;

    if (d == NULL) {
        return;
    }
    m = irp_new(major, h->file, UserMode);
    m->drive = h->drive;
    m->irp->Tail.Overlay.DriverContext[0] = m;
    g_irql = PASSIVE_LEVEL;
    if (d->preprocess != NULL && (d->preprocess_majors & (1u << major)) != 0) {
        check_code((const void *)d->preprocess, "EvtDeviceWdmIrpPreprocess");
        d->preprocess((WDFDEVICE)d, m->irp);
    } else {
        fx_cleanup_close(d, m);
    }
    EXPECT(m->view.completed, "IRP_MJ_%s not completed", major == IRP_MJ_CLEANUP ? "CLEANUP" : "CLOSE");
    model_irp_free(m);
}

void model_cleanup(model_handle *h)
{
    file_end(h, IRP_MJ_CLEANUP);
}

void model_close(model_handle *h)
{
    file_end(h, IRP_MJ_CLOSE);
    h->open = 0;
}

model_irp *model_ioctl(model_handle *h, UCHAR major, ULONG code, const void *in, ULONG inLength,
                       ULONG outLength)
{
    fxo *d = (fxo *)h->drive->device;
    model_irp *m = irp_new(major, h->file, UserMode);
    ULONG bytes = inLength > outLength ? inLength : outLength;

    m->drive = h->drive;
    m->irp->Tail.Overlay.DriverContext[0] = m;
    if (major == IRP_MJ_DEVICE_CONTROL || major == IRP_MJ_INTERNAL_DEVICE_CONTROL) {
        m->stack[1].Parameters.DeviceIoControl.IoControlCode = code;
        m->stack[1].Parameters.DeviceIoControl.InputBufferLength = inLength;
        m->stack[1].Parameters.DeviceIoControl.OutputBufferLength = outLength;
        if (major == IRP_MJ_INTERNAL_DEVICE_CONTROL) {
            m->irp->RequestorMode = KernelMode;
        }
    } else if (major == IRP_MJ_READ) {
        m->stack[1].Parameters.Read.Length = outLength;
    } else if (major == IRP_MJ_WRITE) {
        m->stack[1].Parameters.Write.Length = inLength;
    }
    m->system_buffer = calloc(1, bytes ? bytes : 1);
    m->irp->AssociatedIrp.SystemBuffer = m->system_buffer;
    if (in != NULL) {
        memcpy(m->system_buffer, in, inLength);
    }
    if (d == NULL) {
        irp_complete(m, STATUS_NO_SUCH_DEVICE, 0);
        return m;
    }
    queue_deliver(d, m);
    return m;
}

model_irp *model_control(model_handle *h, ULONG code, const void *in, ULONG inLength, void *out,
                         ULONG outLength)
{
    fxo *d = (fxo *)h->control;
    model_irp *m = irp_new(IRP_MJ_DEVICE_CONTROL, h->file, UserMode);
    ULONG bytes = inLength > outLength ? inLength : outLength;

    m->irp->Tail.Overlay.DriverContext[0] = m;
    m->stack[1].Parameters.DeviceIoControl.IoControlCode = code;
    m->stack[1].Parameters.DeviceIoControl.InputBufferLength = inLength;
    m->stack[1].Parameters.DeviceIoControl.OutputBufferLength = outLength;
    m->system_buffer = calloc(1, bytes ? bytes : 1);
    m->irp->AssociatedIrp.SystemBuffer = m->system_buffer;
    m->client_out = out;
    m->client_out_length = outLength;
    if (in != NULL) {
        memcpy(m->system_buffer, in, inLength);
    }
    g_irql = PASSIVE_LEVEL;
    if (d == NULL || d->disposed) {
        irp_complete(m, STATUS_INVALID_HANDLE, 0);
        return m;
    }
    queue_deliver(d, m);
    return m;
}

/* Unload: the framework deletes the driver object (its children, then EvtCleanupCallback);
 * then nothing may be left: objects, pool, references, requests, held locks. */
void model_unload_driver(void)
{
    fxo *o;
    pool_block *b;
    unsigned i;

    g_irql = PASSIVE_LEVEL;
    for (o = g_objects; o != NULL; o = o->next_all) {
        if (o->type == T_DEVICE && !o->disposed) {
            model_violation("leak", "unload with a %s device still present (the driver cannot "
                            "unload)", o->is_control ? "control" : "filter");
        }
    }
    if (g_driver != NULL && !g_driver->disposed) {
        fxo_dispose(g_driver);
    }
    for (o = g_objects; o != NULL; o = o->next_all) {
        if (!o->disposed) {
            model_violation("leak", "%s %p not deleted at unload", g_type_names[o->type], (void *)o);
        }
        if ((o->type == T_SPINLOCK || o->type == T_WAITLOCK) && o->held) {
            model_violation("lock", "%s held at unload", g_type_names[o->type]);
        }
    }
    for (b = g_pool; b != NULL; b = b->next) {
        if (b->live) {
            model_violation("leak", "pool block of %lu bytes, tag 0x%08lX, not freed at unload",
                            (unsigned long)b->bytes, (unsigned long)b->tag);
        }
    }
    for (i = 0; i < MAX_DEVOBJ; i++) {
        if (g_devobj[i].dev != NULL && g_devobj[i].refs != 0) {
            model_violation("leak", "%d device object reference(s) not released", g_devobj[i].refs);
        }
    }
    if (g_pending_count != 0) {
        model_violation("leak", "%u request(s) still at the lower driver at unload", g_pending_count);
    }
    for (i = 0; i < MAX_NAMES; i++) {
        if (g_ns[i].used) {
            model_violation("leak", "name %ls still in the object namespace at unload", g_ns[i].name);
        }
    }
}
