/*
 * cdf_scsi.c - SCSI pass-through CDB inspection (see cdf_scsi.h).
 * Sources: ntddscsi.h (SCSI_PASS_THROUGH[_DIRECT] and, Windows SDK, SCSI_PASS_THROUGH[_DIRECT]_EX
 * layouts), SPC-4/SBC-3 START STOP UNIT (byte 4 bit 0 Start, bit 1 LoEj; bits 4-7 the power
 * condition, which a drive applies instead of Start/LoEj when nonzero: such a CDB is classified
 * by LoEj/Start all the same, the conservative reading), MMC-6 PREVENT ALLOW MEDIUM REMOVAL
 * (byte 4 bit 0 Prevent, bit 1 Persistent: only Prevent set locks the medium, so bit 0 clear
 * is an ALLOW whatever bit 1 says).
 */
#include <stddef.h>
#include "cdf_scsi.h"
#include "cdf_nt.h"

_Static_assert(CDF_IOCTL_SCSI_PASS_THROUGH == 0x0004D004u && CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT == 0x0004D014u &&
               CDF_IOCTL_SCSI_PASS_THROUGH_EX == 0x0004D044u &&
               CDF_IOCTL_SCSI_PASS_THROUGH_DIRECT_EX == 0x0004D048u, "cdf_scsi_is_passthrough codes");

static uint32_t read_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static cdf_scsi_effect classify_cdb(const uint8_t *cdb)
{
    switch (cdb[0]) {
    case CDF_SCSIOP_START_STOP_UNIT:
        if ((cdb[4] & 0x02u) == 0u) return CDF_SCSI_OTHER;
        return (cdb[4] & 0x01u) ? CDF_SCSI_LOAD : CDF_SCSI_EJECT;
    case CDF_SCSIOP_MEDIUM_REMOVAL:
        return (cdb[4] & 0x01u) ? CDF_SCSI_PREVENT : CDF_SCSI_ALLOW;
    default:
        return CDF_SCSI_OTHER;
    }
}

cdf_scsi_effect cdf_scsi_classify(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                                  int caller_32bit, uint8_t *opcode)
{
    int ex = cdf_scsi_is_ex(ioctl_code);
    uint32_t size, cdb_at;
    int well_formed;
    cdf_scsi_effect fx;

    if (!cdf_scsi_is_passthrough(ioctl_code)) return CDF_SCSI_NOT_PASSTHROUGH;
    if (ex) {
        size = caller_32bit ? CDF_SPTEX32_SIZE : CDF_SPTEX64_SIZE;
        cdb_at = caller_32bit ? CDF_SPTEX32_CDB_OFFSET : CDF_SPTEX64_CDB_OFFSET;
    } else {
        size = caller_32bit ? CDF_SPT32_SIZE : CDF_SPT64_SIZE;
        cdb_at = caller_32bit ? CDF_SPT32_CDB_OFFSET : CDF_SPT64_CDB_OFFSET;
    }
    if (input == NULL || input_length < cdb_at + CDF_SCSI_CDB_INSPECT) return CDF_SCSI_MALFORMED;

    if (input_length < size) {
        well_formed = 0;
    } else if (ex) {
        uint32_t cdb_length = read_u32le(input + CDF_SPTEX_CDB_LENGTH_OFFSET);
        well_formed = read_u32le(input) == CDF_SPTEX_VERSION &&
                      read_u32le(input + CDF_SPTEX_LENGTH_OFFSET) == size &&
                      cdb_length >= 1u && cdb_length <= input_length - cdb_at;
    } else {
        uint32_t length_field = (uint32_t)input[0] | ((uint32_t)input[1] << 8);
        uint8_t cdb_length = input[CDF_SPT_CDB_LENGTH_OFFSET];
        well_formed = length_field == size && cdb_length >= 1u && cdb_length <= 16u;
    }
    if (opcode != NULL) *opcode = input[cdb_at];
    fx = classify_cdb(input + cdb_at);
    if (!well_formed && fx == CDF_SCSI_OTHER) return CDF_SCSI_MALFORMED;
    return fx;
}

uint32_t cdf_scsi_header_bytes(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                               int caller_32bit)
{
    if (cdf_scsi_is_ex(ioctl_code)) {
        uint32_t cdb_at = caller_32bit ? CDF_SPTEX32_CDB_OFFSET : CDF_SPTEX64_CDB_OFFSET;
        uint32_t cdb_length = 16u;
        if (input != NULL && input_length >= CDF_SPTEX_CDB_LENGTH_OFFSET + 4u) {
            cdb_length = read_u32le(input + CDF_SPTEX_CDB_LENGTH_OFFSET);
            if (cdb_length > 16u) cdb_length = 16u;
        }
        return cdb_at + cdb_length;
    }
    if (cdf_scsi_is_passthrough(ioctl_code)) return caller_32bit ? CDF_SPT32_SIZE : CDF_SPT64_SIZE;
    return 0u;
}
