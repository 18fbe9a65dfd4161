/*
 * cdf_scsi.h - what a SCSI pass-through request does to the medium.
 *
 * Parses the input of IOCTL_SCSI_PASS_THROUGH / IOCTL_SCSI_PASS_THROUGH_DIRECT (ntddscsi.h
 * SCSI_PASS_THROUGH[_DIRECT]) and IOCTL_SCSI_PASS_THROUGH_EX / IOCTL_SCSI_PASS_THROUGH_DIRECT_EX
 * (Windows SDK ntddscsi.h SCSI_PASS_THROUGH[_DIRECT]_EX), in the 64-bit layout or the 32-bit
 * layout of a WOW64 caller (CDF_RQ_CALLER_32BIT), with the port driver's own checks:
 *   SCSI_PASS_THROUGH[_DIRECT]:    input >= structure size, USHORT Length == structure size,
 *                                  UCHAR CdbLength 1..16.
 *   SCSI_PASS_THROUGH[_DIRECT]_EX: input >= structure size, ULONG Version == 0, ULONG Length ==
 *                                  structure size, ULONG CdbLength >= 1 and the CDB
 *                                  (Cdb[CdbLength] at offsetof(Cdb)) inside the input.
 * The CDB bytes are read from the Cdb array whatever CdbLength says: an ATAPI device receives a
 * padded 12-byte packet, so a short CdbLength must not hide the byte that ejects.
 *
 * Defence in depth: a request the port driver should reject (bad Length/Version/CdbLength, or
 * input shorter than the structure) is still classified by its CDB when the input holds CDB
 * bytes 0..4, so that a lower driver that executes it anyway cannot be used to bypass a lock.
 * Only a malformed request whose CDB does nothing to the medium (or cannot be read) is
 * CDF_SCSI_MALFORMED.
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
#define CDF_SPT_CDB_LENGTH_OFFSET    6u   /* UCHAR CdbLength */

/* SCSI_PASS_THROUGH_EX and SCSI_PASS_THROUGH_DIRECT_EX (identical layout; Cdb[ANYSIZE_ARRAY]
 * is the last member, so sizeof includes the first bytes of the CDB and the padding). */
#define CDF_SPTEX64_SIZE        64u
#define CDF_SPTEX64_CDB_OFFSET  56u
#define CDF_SPTEX32_SIZE        52u
#define CDF_SPTEX32_CDB_OFFSET  48u
#define CDF_SPTEX_LENGTH_OFFSET      4u   /* ULONG Length (Version is the ULONG at 0) */
#define CDF_SPTEX_CDB_LENGTH_OFFSET  8u   /* ULONG CdbLength */
#define CDF_SPTDEX64_DATAOUT_OFFSET 40u   /* PVOID DataOutBuffer, DataInBuffer: 8 bytes each */
#define CDF_SPTDEX64_DATAIN_OFFSET  48u
#define CDF_SPTDEX32_DATAOUT_OFFSET 40u   /* 4 bytes each */
#define CDF_SPTDEX32_DATAIN_OFFSET  44u
#define CDF_SPTEX_VERSION            0u   /* the only Version the port driver accepts */

/* CDB bytes the classification reads (opcode .. byte 4). */
#define CDF_SCSI_CDB_INSPECT 5u

typedef enum cdf_scsi_effect {
    CDF_SCSI_NOT_PASSTHROUGH = 0, /* not a pass-through code */
    CDF_SCSI_MALFORMED = 1,       /* the port driver rejects it, and its CDB (if readable) is harmless */
    CDF_SCSI_OTHER = 2,           /* a well-formed command that does not touch the medium lock */
    CDF_SCSI_EJECT = 3,           /* START STOP UNIT (0x1B) with LoEj=1, Start=0 */
    CDF_SCSI_LOAD = 4,            /* START STOP UNIT with LoEj=1, Start=1 (closes the tray) */
    CDF_SCSI_ALLOW = 5,           /* PREVENT ALLOW MEDIUM REMOVAL (0x1E) with Prevent (bit 0) clear */
    CDF_SCSI_PREVENT = 6          /* PREVENT ALLOW MEDIUM REMOVAL with Prevent (bit 0) set */
} cdf_scsi_effect;

/* One of the four SCSI pass-through codes (as sent; they are never normalized). */
static inline int cdf_scsi_is_passthrough(uint32_t ioctl_code)
{
    return ioctl_code == 0x0004D004u || ioctl_code == 0x0004D014u ||  /* SPT, SPT_DIRECT */
           ioctl_code == 0x0004D044u || ioctl_code == 0x0004D048u;    /* SPT_EX, SPT_DIRECT_EX */
}

/* The EX codes (SCSI_PASS_THROUGH[_DIRECT]_EX input). */
static inline int cdf_scsi_is_ex(uint32_t ioctl_code)
{
    return ioctl_code == 0x0004D044u || ioctl_code == 0x0004D048u;
}

/* SCSI_PASS_THROUGH header kinds (cdf_spt_layout.kind). */
#define CDF_SPT_NONE      0u  /* not a pass-through code */
#define CDF_SPT_BUFFERED  1u  /* SCSI_PASS_THROUGH (data after the header, in the SystemBuffer) */
#define CDF_SPT_DIRECT    2u  /* SCSI_PASS_THROUGH_DIRECT (DataBuffer: a pointer) */
#define CDF_SPT_EX        3u  /* SCSI_PASS_THROUGH_EX */
#define CDF_SPT_DIRECT_EX 4u  /* SCSI_PASS_THROUGH_DIRECT_EX (DataOutBuffer, DataInBuffer: pointers) */

/* Where things are in one pass-through request's header (64-bit or WOW64 layout). */
typedef struct cdf_spt_layout {
    uint8_t kind;            /* CDF_SPT_* */
    uint8_t pointer_bytes;   /* 8, or 4 for a WOW64 caller */
    uint8_t pointers;        /* data buffer pointers in the header (0..2), at pointer_at[] */
    uint8_t well_formed;     /* passes the port driver's checks (see the top of this file) */
    uint16_t size;           /* sizeof the structure, bytes */
    uint16_t cdb_at;         /* offsetof(Cdb), bytes */
    uint16_t header_bytes;   /* the header through the CDB (at most 16 CDB bytes): pointer-free
                              * apart from pointer_at[], no data */
    uint16_t pointer_at[2];  /* offsets of DataBuffer (DIRECT) or DataOutBuffer, DataInBuffer
                              * (DIRECT_EX) */
} cdf_spt_layout;

/* Parse a pass-through request once: fills *layout (kind CDF_SPT_NONE for other codes) and
 * returns what its CDB does. ioctl_code as sent; input _In_reads_bytes_opt_(input_length);
 * caller_32bit from CDF_RQ_CALLER_32BIT. *opcode (optional) receives CDB byte 0 when it could
 * be read. */
cdf_scsi_effect cdf_scsi_parse(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                               int caller_32bit, cdf_spt_layout *layout, uint8_t *opcode);

/* cdf_scsi_parse without the layout. */
cdf_scsi_effect cdf_scsi_classify(uint32_t ioctl_code, const uint8_t *input, uint32_t input_length,
                                  int caller_32bit, uint8_t *opcode);

#endif /* CDF_SCSI_H */
