/*
 * Building SCSI sense data (SPC-4 4.5) in either format: fixed (0x70) or
 * descriptor (0x72), as the initiator's control mode page asks.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef SCSI_SENSE_H
#define SCSI_SENSE_H

#include <stdbool.h>
#include <stdint.h>

/* Sense-key specific field pointer (SPC-4 4.5.2.4.2). */
struct scsi_field_ptr {
	bool valid;
	bool in_cdb;		/* C/D: the CDB, not the parameter list */
	uint16_t byte;
	int8_t bit;		/* -1: no bit pointer */
};

/*
 * Write sense data for @key/@asc (ASC << 8 | ASCQ) to @buf (at least 96
 * bytes, zeroed first). @info, when @has_info, goes to the INFORMATION
 * field; @fp, when non-NULL and valid, to the sense-key specific field.
 * Returns the number of bytes that make up the sense data.
 */
unsigned int scsi_sense_build(uint8_t *buf, bool descriptor, uint8_t key,
			      uint16_t asc, bool has_info, uint64_t info,
			      const struct scsi_field_ptr *fp);

/*
 * Add to COPY ABORTED sense in @buf (built by scsi_sense_build, either
 * format) where an EXTENDED COPY segment descriptor was in error (SPC-4
 * 4.5.2.4.6 and the EXTENDED COPY clause on errors detected during
 * processing of segment descriptors): segment number @seg in the last two
 * bytes of COMMAND-SPECIFIC INFORMATION, and a segment pointer (SD set)
 * to byte @byte of that descriptor.
 */
void scsi_sense_segment(uint8_t *buf, uint16_t seg, uint16_t byte);

/* Fixed-format sense with no extras: what the ring uses for its own errors. */
static inline void scsi_sense_fixed(uint8_t *buf, uint8_t key, uint16_t asc)
{
	scsi_sense_build(buf, false, key, asc, false, 0, 0);
}

/* The sense key of sense data in either format (0: none). */
static inline uint8_t scsi_sense_key(const uint8_t *buf)
{
	if (!buf)
		return 0;
	if ((buf[0] & 0x7f) == 0x72 || (buf[0] & 0x7f) == 0x73)
		return buf[1] & 0x0f;
	return buf[2] & 0x0f;
}

#endif
