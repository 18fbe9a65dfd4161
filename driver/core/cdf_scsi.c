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

/* Sizes and offsets from the code and the caller's pointer width; header_bytes of an _EX
 * header reads CdbLength when the input holds it (16 otherwise). */
static void layout_of(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length, int caller_32bit,
                      cdf_spt_layout *l)
{
    l->pointer_bytes = caller_32bit ? 4u : 8u;
    l->pointers = 0u;
    l->well_formed = 0u;
    l->pointer_at[0] = l->pointer_at[1] = 0u;
    if (cdf_scsi_is_ex(ioctl_code)) {
        uint32_t cdb_length = 16u;
        l->kind = ioctl_code == CDF_IOCTL_SCSI_PASS_THROUGH_EX ? CDF_SPT_EX : CDF_SPT_DIRECT_EX;
        l->size = caller_32bit ? CDF_SPTEX32_SIZE : CDF_SPTEX64_SIZE;
        l->cdb_at = caller_32bit ? CDF_SPTEX32_CDB_OFFSET : CDF_SPTEX64_CDB_OFFSET;
        if (input != NULL && input_length >= CDF_SPTEX_CDB_LENGTH_OFFSET + 4u) {
            cdb_length = read_u32le(input + CDF_SPTEX_CDB_LENGTH_OFFSET);
            if (cdb_length > 16u) cdb_length = 16u;
        }
        l->header_bytes = (uint16_t)(l->cdb_at + cdb_length);
        if (l->kind == CDF_SPT_DIRECT_EX) {
            l->pointers = 2u;
            l->pointer_at[0] = caller_32bit ? CDF_SPTDEX32_DATAOUT_OFFSET : CDF_SPTDEX64_DATAOUT_OFFSET;
            l->pointer_at[1] = caller_32bit ? CDF_SPTDEX32_DATAIN_OFFSET : CDF_SPTDEX64_DATAIN_OFFSET;
        }
    } else {
        l->kind = ioctl_code == CDF_IOCTL_SCSI_PASS_THROUGH ? CDF_SPT_BUFFERED : CDF_SPT_DIRECT;
        l->size = caller_32bit ? CDF_SPT32_SIZE : CDF_SPT64_SIZE;
        l->cdb_at = caller_32bit ? CDF_SPT32_CDB_OFFSET : CDF_SPT64_CDB_OFFSET;
        l->header_bytes = l->size;
        if (l->kind == CDF_SPT_DIRECT) {
            l->pointers = 1u;
            l->pointer_at[0] = caller_32bit ? CDF_SPTD32_DATABUFFER_OFFSET : CDF_SPTD64_DATABUFFER_OFFSET;
        }
    }
}

/* The port driver's checks (input at least l->size bytes). */
static int well_formed(const cdf_spt_layout *l, const uint8_t *input, uint32_t input_length)
{
    if (l->kind == CDF_SPT_EX || l->kind == CDF_SPT_DIRECT_EX) {
        uint32_t cdb_length = read_u32le(input + CDF_SPTEX_CDB_LENGTH_OFFSET);
        return read_u32le(input) == CDF_SPTEX_VERSION &&
               read_u32le(input + CDF_SPTEX_LENGTH_OFFSET) == l->size &&
               cdb_length >= 1u && cdb_length <= input_length - l->cdb_at;
    }
    return ((uint32_t)input[0] | ((uint32_t)input[1] << 8)) == l->size &&
           input[CDF_SPT_CDB_LENGTH_OFFSET] >= 1u && input[CDF_SPT_CDB_LENGTH_OFFSET] <= 16u;
}

cdf_scsi_effect cdf_scsi_parse(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                               int caller_32bit, cdf_spt_layout *l, uint8_t *opcode)
{
    cdf_scsi_effect fx;
    if (!cdf_scsi_is_passthrough(ioctl_code)) {
        l->kind = CDF_SPT_NONE;
        return CDF_SCSI_NOT_PASSTHROUGH;
    }
    layout_of(ioctl_code, input, input_length, caller_32bit, l);
    if (input == NULL || input_length < (uint32_t)l->cdb_at + CDF_SCSI_CDB_INSPECT) return CDF_SCSI_MALFORMED;
    l->well_formed = input_length >= l->size && well_formed(l, input, input_length) ? 1u : 0u;
    if (opcode != NULL) *opcode = input[l->cdb_at];
    fx = classify_cdb(input + l->cdb_at);
    if (!l->well_formed && fx == CDF_SCSI_OTHER) return CDF_SCSI_MALFORMED;
    return fx;
}

cdf_scsi_effect cdf_scsi_classify(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                                  int caller_32bit, uint8_t *opcode)
{
    cdf_spt_layout l;
    return cdf_scsi_parse(ioctl_code, input, input_length, caller_32bit, &l, opcode);
}
