/*
 * cdf_nt.h - the Windows constants the core needs, under CDF_ names, so that no core file
 * includes a Windows header (the same sources build for Linux hosts, mingw-w64 kernel mode and
 * the WDK).
 *
 * Sources: ntstatus.h (NTSTATUS values), wdm.h (IRP_MJ_*, CTL_CODE, FILE_*_ACCESS,
 * METHOD_*), devioctl.h (FILE_DEVICE_*), ntddstor.h (IOCTL_STORAGE_*), ntddcdrm.h
 * (IOCTL_CDROM_*), ntdddisk.h (IOCTL_DISK_*), ntddscsi.h (IOCTL_SCSI_*), scsi.h (SCSI opcodes).
 * The values are checked against the mingw-w64 DDK headers by test/c/core_layout_check.c.
 */
#ifndef CDF_NT_H
#define CDF_NT_H

#include <stdint.h>

/* ---- NTSTATUS (ntstatus.h); uint32_t so comparisons never depend on sign ---- */
#define CDF_STATUS_SUCCESS                 0x00000000u
#define CDF_STATUS_PENDING                 0x00000103u
#define CDF_STATUS_BUFFER_OVERFLOW         0x80000005u
#define CDF_STATUS_UNSUCCESSFUL            0xC0000001u
#define CDF_STATUS_NOT_IMPLEMENTED         0xC0000002u
#define CDF_STATUS_INFO_LENGTH_MISMATCH    0xC0000004u
#define CDF_STATUS_INVALID_HANDLE          0xC0000008u
#define CDF_STATUS_INVALID_PARAMETER       0xC000000Du
#define CDF_STATUS_NO_SUCH_DEVICE          0xC000000Eu
#define CDF_STATUS_INVALID_DEVICE_REQUEST  0xC0000010u
#define CDF_STATUS_NO_MEDIA_IN_DEVICE      0xC0000013u
#define CDF_STATUS_ACCESS_DENIED           0xC0000022u
#define CDF_STATUS_BUFFER_TOO_SMALL        0xC0000023u
#define CDF_STATUS_OBJECT_NAME_NOT_FOUND   0xC0000034u
#define CDF_STATUS_INSUFFICIENT_RESOURCES  0xC000009Au
#define CDF_STATUS_DEVICE_NOT_READY        0xC00000A3u
#define CDF_STATUS_IO_DEVICE_ERROR         0xC0000185u
#define CDF_STATUS_DEVICE_BUSY             0x80000011u
#define CDF_STATUS_CANCELLED               0xC0000120u
#define CDF_STATUS_INVALID_DEVICE_STATE    0xC0000184u
#define CDF_STATUS_DEVICE_NOT_CONNECTED    0xC000009Du
#define CDF_STATUS_REVISION_MISMATCH       0xC0000059u
#define CDF_STATUS_VERIFY_REQUIRED         0x80000016u

/* NT_SUCCESS: severity success or informational (0x00000000-0x7FFFFFFF). */
#define CDF_NT_SUCCESS(st) (((uint32_t)(st) & 0x80000000u) == 0u)

/* ---- IRP major function codes (wdm.h) ---- */
#define CDF_IRP_MJ_CREATE                   0x00u
#define CDF_IRP_MJ_CREATE_NAMED_PIPE        0x01u
#define CDF_IRP_MJ_CLOSE                    0x02u
#define CDF_IRP_MJ_READ                     0x03u
#define CDF_IRP_MJ_WRITE                    0x04u
#define CDF_IRP_MJ_QUERY_INFORMATION        0x05u
#define CDF_IRP_MJ_SET_INFORMATION          0x06u
#define CDF_IRP_MJ_FLUSH_BUFFERS            0x09u
#define CDF_IRP_MJ_DEVICE_CONTROL           0x0Eu
#define CDF_IRP_MJ_INTERNAL_DEVICE_CONTROL  0x0Fu
#define CDF_IRP_MJ_SHUTDOWN                 0x10u
#define CDF_IRP_MJ_CLEANUP                  0x12u
#define CDF_IRP_MJ_POWER                    0x16u
#define CDF_IRP_MJ_SYSTEM_CONTROL           0x17u
#define CDF_IRP_MJ_PNP                      0x1Bu
#define CDF_IRP_MJ_MAXIMUM_FUNCTION         0x1Bu

/* ---- CTL_CODE (wdm.h / devioctl.h) ---- */
#define CDF_CTL_CODE(devtype, function, method, access) \
    ((((uint32_t)(devtype)) << 16) | (((uint32_t)(access)) << 14) | \
     (((uint32_t)(function)) << 2) | ((uint32_t)(method)))
#define CDF_CTL_DEVICE_TYPE(code)  (((uint32_t)(code) >> 16) & 0xFFFFu)
#define CDF_CTL_ACCESS(code)       (((uint32_t)(code) >> 14) & 0x3u)
#define CDF_CTL_FUNCTION(code)     (((uint32_t)(code) >> 2) & 0xFFFu)
#define CDF_CTL_METHOD(code)       ((uint32_t)(code) & 0x3u)

#define CDF_METHOD_BUFFERED    0u
#define CDF_METHOD_IN_DIRECT   1u
#define CDF_METHOD_OUT_DIRECT  2u
#define CDF_METHOD_NEITHER     3u

#define CDF_FILE_ANY_ACCESS    0u
#define CDF_FILE_READ_ACCESS   1u
#define CDF_FILE_WRITE_ACCESS  2u

#define CDF_FILE_DEVICE_CD_ROM      0x02u   /* IOCTL_CDROM_BASE */
#define CDF_FILE_DEVICE_CONTROLLER  0x04u   /* IOCTL_SCSI_BASE */
#define CDF_FILE_DEVICE_DISK        0x07u   /* IOCTL_DISK_BASE */
#define CDF_FILE_DEVICE_TAPE        0x1Fu   /* IOCTL_TAPE_BASE */
#define CDF_FILE_DEVICE_MASS_STORAGE 0x2Du  /* IOCTL_STORAGE_BASE */
#define CDF_FILE_DEVICE_DVD         0x33u   /* IOCTL_DVD_BASE */

/* ---- Storage IOCTLs (ntddstor.h) ---- */
#define CDF_IOCTL_STORAGE_CHECK_VERIFY     CDF_CTL_CODE(0x2Du, 0x200u, 0u, 1u)  /* 0x2D4800 */
#define CDF_IOCTL_STORAGE_MEDIA_REMOVAL    CDF_CTL_CODE(0x2Du, 0x201u, 0u, 1u)  /* 0x2D4804 */
#define CDF_IOCTL_STORAGE_EJECT_MEDIA      CDF_CTL_CODE(0x2Du, 0x202u, 0u, 1u)  /* 0x2D4808 */
#define CDF_IOCTL_STORAGE_LOAD_MEDIA       CDF_CTL_CODE(0x2Du, 0x203u, 0u, 1u)  /* 0x2D480C */
#define CDF_IOCTL_STORAGE_EJECTION_CONTROL CDF_CTL_CODE(0x2Du, 0x250u, 0u, 0u)  /* 0x2D0940 */
#define CDF_IOCTL_STORAGE_MCN_CONTROL      CDF_CTL_CODE(0x2Du, 0x251u, 0u, 0u)  /* 0x2D0944 */

/* ---- CD-ROM / disk aliases (ntddcdrm.h, ntdddisk.h); NormalizeIoctl maps them ---- */
#define CDF_IOCTL_CDROM_CHECK_VERIFY       CDF_CTL_CODE(0x02u, 0x200u, 0u, 1u)  /* 0x024800 */
#define CDF_IOCTL_CDROM_MEDIA_REMOVAL      CDF_CTL_CODE(0x02u, 0x201u, 0u, 1u)  /* 0x024804 */
#define CDF_IOCTL_CDROM_EJECT_MEDIA        CDF_CTL_CODE(0x02u, 0x202u, 0u, 1u)  /* 0x024808 */
#define CDF_IOCTL_CDROM_LOAD_MEDIA         CDF_CTL_CODE(0x02u, 0x203u, 0u, 1u)  /* 0x02480C */
#define CDF_IOCTL_DISK_MEDIA_REMOVAL       CDF_CTL_CODE(0x07u, 0x201u, 0u, 1u)  /* 0x074804 */
#define CDF_IOCTL_DISK_EJECT_MEDIA         CDF_CTL_CODE(0x07u, 0x202u, 0u, 1u)  /* 0x074808 */
#define CDF_IOCTL_CDROM_READ_TOC           CDF_CTL_CODE(0x02u, 0x000u, 0u, 1u)  /* 0x024000 */
/* CTL_CODE(IOCTL_CDROM_BASE, 0x0017, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS):
 * Windows SDK ntddcdrm.h (absent from mingw-w64's copy). */
#define CDF_IOCTL_CDROM_EXCLUSIVE_ACCESS   CDF_CTL_CODE(0x02u, 0x017u, 0u, 3u)  /* 0x02C05C */

/* The IOCTLs cdrom.sys lets a non-owner send under exclusive access (cdrom.sys sample,
 * storage/class/cdrom/src/cdrom.c, RequestIsIoctlBlockedByExclusiveAccess): ntddscsi.h,
 * ntddstor.h, ntddcdrm.h. */
#define CDF_IOCTL_SCSI_GET_ADDRESS           CDF_CTL_CODE(0x04u, 0x406u, 0u, 0u)  /* 0x041018 */
#define CDF_IOCTL_STORAGE_GET_MEDIA_TYPES_EX CDF_CTL_CODE(0x2Du, 0x301u, 0u, 0u)  /* 0x2D0C04 */
#define CDF_IOCTL_STORAGE_GET_HOTPLUG_INFO   CDF_CTL_CODE(0x2Du, 0x305u, 0u, 0u)  /* 0x2D0C14 */
#define CDF_IOCTL_STORAGE_GET_DEVICE_NUMBER  CDF_CTL_CODE(0x2Du, 0x420u, 0u, 0u)  /* 0x2D1080 */
#define CDF_IOCTL_STORAGE_QUERY_PROPERTY     CDF_CTL_CODE(0x2Du, 0x500u, 0u, 0u)  /* 0x2D1400 */
#define CDF_IOCTL_CDROM_GET_INQUIRY_DATA     CDF_CTL_CODE(0x02u, 0x019u, 0u, 1u)  /* 0x024064 */

/* CDROM_EXCLUSIVE_ACCESS.RequestType (ntddcdrm.h EXCLUSIVE_ACCESS_REQUEST_TYPE) */
#define CDF_EXCLUSIVE_ACCESS_QUERY_STATE   0u
#define CDF_EXCLUSIVE_ACCESS_LOCK_DEVICE   1u
#define CDF_EXCLUSIVE_ACCESS_UNLOCK_DEVICE 2u

/* ---- SCSI pass-through (ntddscsi.h) ---- */
#define CDF_IOCTL_SCSI_PASS_THROUGH        CDF_CTL_CODE(0x04u, 0x401u, 0u, 3u)  /* 0x04D004 */
#define CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT CDF_CTL_CODE(0x04u, 0x405u, 0u, 3u)  /* 0x04D014 */
/* Windows SDK ntddscsi.h (absent from mingw-w64's copy): SCSI_PASS_THROUGH[_DIRECT]_EX input */
#define CDF_IOCTL_SCSI_PASS_THROUGH_EX        CDF_CTL_CODE(0x04u, 0x411u, 0u, 3u)  /* 0x04D044 */
#define CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX CDF_CTL_CODE(0x04u, 0x412u, 0u, 3u)  /* 0x04D048 */
/* ATA_PASS_THROUGH_EX input; not inspected (docs/core.md, enforcement gaps) */
#define CDF_IOCTL_ATA_PASS_THROUGH            CDF_CTL_CODE(0x04u, 0x40Bu, 0u, 3u)  /* 0x04D02C */
#define CDF_IOCTL_ATA_PASS_THROUGH_DIRECT     CDF_CTL_CODE(0x04u, 0x40Cu, 0u, 3u)  /* 0x04D030 */

/* SCSI operation codes (scsi.h / SPC, MMC) */
#define CDF_SCSIOP_START_STOP_UNIT         0x1Bu
#define CDF_SCSIOP_MEDIUM_REMOVAL          0x1Eu  /* PREVENT ALLOW MEDIUM REMOVAL */

#endif /* CDF_NT_H */
