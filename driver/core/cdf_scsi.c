/*
 * cdf_scsi.c - SCSI pass-through CDB inspection (see cdf_scsi.h).
 * Sources: ntddscsi.h (SCSI_PASS_THROUGH layouts), SPC-4/SBC-3 START STOP UNIT (byte 4 bit 0
 * Start, bit 1 LoEj), MMC-6 PREVENT ALLOW MEDIUM REMOVAL (byte 4 bits 0-1: Prevent, Persistent).
 */
#include <stddef.h>
#include "cdf_scsi.h"
#include "cdf_nt.h"

cdf_scsi_effect cdf_scsi_classify(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                                  int caller_32bit, uint8_t *opcode)
{
    uint32_t size = caller_32bit ? CDF_SPT32_SIZE : CDF_SPT64_SIZE;
    uint32_t cdb_at = caller_32bit ? CDF_SPT32_CDB_OFFSET : CDF_SPT64_CDB_OFFSET;
    uint32_t length_field;
    uint8_t cdb_length;
    const uint8_t *cdb;

    if (ioctl_code != CDF_IOCTL_SCSI_PASS_THROUGH && ioctl_code != CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT)
        return CDF_SCSI_NOT_PASSTHROUGH;
    if (input == NULL || input_length < size) return CDF_SCSI_MALFORMED;
    length_field = (uint32_t)input[0] | ((uint32_t)input[1] << 8);
    if (length_field != size) return CDF_SCSI_MALFORMED;
    cdb_length = input[CDF_SPT_CDB_LENGTH_OFFSET];
    if (cdb_length == 0u || cdb_length > 16u) return CDF_SCSI_MALFORMED;
    cdb = input + cdb_at;
    if (opcode != NULL) *opcode = cdb[0];
    switch (cdb[0]) {
    case CDF_SCSIOP_START_STOP_UNIT:
        if ((cdb[4] & 0x02u) == 0u) return CDF_SCSI_OTHER;
        return (cdb[4] & 0x01u) ? CDF_SCSI_LOAD : CDF_SCSI_EJECT;
    case CDF_SCSIOP_MEDIUM_REMOVAL:
        return (cdb[4] & 0x03u) ? CDF_SCSI_PREVENT : CDF_SCSI_ALLOW;
    default:
        return CDF_SCSI_OTHER;
    }
}
