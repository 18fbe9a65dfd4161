/*
 * opener.c - who opened a handle: the image name of the requestor process.
 *
 * Captured once, at IRP_MJ_CREATE, and carried by the core from the create to every later
 * request on the same file object (the opener of a handle is what a lock audit needs; the
 * thread that later sends an IOCTL may belong to a service acting for it).
 * PsGetProcessImageFileName would be cheaper but is undocumented; SeLocateProcessImageName
 * (ntifs.h, Windows Vista+) is documented, at PASSIVE_LEVEL, and gives the full NT path.
 */
#include "driver.h"

#ifdef ALLOC_PRAGMA
#pragma alloc_text(PAGE, CdfQueryOpenerImage)
#endif

_Use_decl_annotations_
VOID CdfQueryOpenerImage(PIRP Irp, char *Name, size_t NameBytes)
{
    PEPROCESS process;
    PUNICODE_STRING imagePath = NULL;
    NTSTATUS status;

    PAGED_CODE();

    Name[0] = '\0';

    /* The requestor of the IRP, which is the current process for a create. */
    process = IoGetRequestorProcess(Irp);
    if (process == NULL) {
        process = IoGetCurrentProcess();
    }

    status = SeLocateProcessImageName(process, &imagePath);
    if (!NT_SUCCESS(status) || imagePath == NULL) {
        return;
    }
    if (imagePath->Length != 0) {
        CdfLastComponentToUtf8(imagePath, Name, NameBytes);
    }
    ExFreePool(imagePath);
}
