/*
 * cdf_scsi.h - what a SCSI pass-through request does to the medium.
 *
 * Parses IOCTL_SCSI_PASS_THROUGH / IOCTL_SCSI_PASS_THROUGH_DIRECT input (ntddscsi.h
 * SCSI_PASS_THROUGH[_DIRECT], 64-bit layout, or the 32-bit layout of a WOW64 caller,
 * CDF_RQ_CALLER_32BIT) with the port driver's own length checks: input at least the structure
 * size, Length equal to it, CdbLength 1..16. The CDB is read from the 16-byte Cdb array
 * whatever CdbLength says: an ATAPI device receives a padded 12-byte packet, so a short
 * CdbLength must not hide the byte that ejects.
 */
#ifndef CDF_SCSI_H
#define CDF_SCSI_H

#include <stdint.h>

/* sizeof / offsetof(Cdb) of SCSI_PASS_THROUGH and SCSI_PASS_THROUGH_DIRECT (identical) */
#define CDF_SPT64_SIZE        56u
#define CDF_SPT64_CDB_OFFSET  36u
#define CDF_SPT32_SIZE        44u
#define CDF_SPT32_CDB_OFFSET  28u
#define CDF_SPTD64_DATABUFFER_OFFSET 24u  /* PVOID DataBuffer: 8 bytes */
#define CDF_SPTD32_DATABUFFER_OFFSET 20u  /* 4 bytes */
#define CDF_SPT_CDB_LENGTH_OFFSET    6u

typedef enum cdf_scsi_effect {
    CDF_SCSI_NOT_PASSTHROUGH = 0, /* not a pass-through code */
    CDF_SCSI_MALFORMED = 1,       /* the port driver rejects it (too short, bad Length/CdbLength) */
    CDF_SCSI_OTHER = 2,           /* a well-formed command that does not touch the medium lock */
    CDF_SCSI_EJECT = 3,           /* START STOP UNIT (0x1B) with LoEj=1, Start=0 */
    CDF_SCSI_LOAD = 4,            /* START STOP UNIT with LoEj=1, Start=1 (closes the tray) */
    CDF_SCSI_ALLOW = 5,           /* PREVENT ALLOW MEDIUM REMOVAL (0x1E) with prevent field 0 */
    CDF_SCSI_PREVENT = 6          /* PREVENT ALLOW MEDIUM REMOVAL with prevent field != 0 */
} cdf_scsi_effect;

/* ioctl_code as sent; input _In_reads_bytes_opt_(input_length); caller_32bit from
 * CDF_RQ_CALLER_32BIT. *opcode receives CDB byte 0 when the structure is well formed. */
cdf_scsi_effect cdf_scsi_classify(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                                  int caller_32bit, uint8_t *opcode);

#endif /* CDF_SCSI_H */
