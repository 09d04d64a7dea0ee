/*
 * Sense data builder; see scsi_sense.h. Licensed under the Apache License,
 * Version 2.0.
 */
#include <string.h>

#include "scsi_defs.h"
#include "scsi_sense.h"

#define SENSE_BUF_LEN 96

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

/* SKSV, C/D, BPV and bit pointer, then the field pointer (SPC-4 table 49). */
static void put_field_ptr(uint8_t *p, const struct scsi_field_ptr *fp)
{
	p[0] = 0x80 | (fp->in_cdb ? 0x40 : 0);
	if (fp->bit >= 0)
		p[0] |= 0x08 | (fp->bit & 0x7);
	p[1] = fp->byte >> 8;
	p[2] = fp->byte & 0xff;
}

static unsigned int build_fixed(uint8_t *buf, uint8_t key, uint16_t asc,
				bool has_info, uint64_t info,
				const struct scsi_field_ptr *fp)
{
	buf[0] = 0x70;
	buf[2] = key & 0xf;
	buf[7] = SENSE_FIXED_LEN - 8;
	buf[12] = asc >> 8;
	buf[13] = asc & 0xff;
	if (has_info && info <= 0xffffffffull) {
		buf[0] |= 0x80;
		buf[3] = info >> 24;
		buf[4] = info >> 16;
		buf[5] = info >> 8;
		buf[6] = info;
	}
	if (fp && fp->valid)
		put_field_ptr(buf + 15, fp);
	return SENSE_FIXED_LEN;
}

static unsigned int build_descriptor(uint8_t *buf, uint8_t key, uint16_t asc,
				     bool has_info, uint64_t info,
				     const struct scsi_field_ptr *fp)
{
	unsigned int len = SENSE_DESC_HDR_LEN;

	buf[0] = 0x72;
	buf[1] = key & 0xf;
	buf[2] = asc >> 8;
	buf[3] = asc & 0xff;
	if (has_info) {
		/* Information descriptor (type 0x00), VALID set. */
		buf[len] = 0x00;
		buf[len + 1] = 0x0a;
		buf[len + 2] = 0x80;
		put_be64(buf + len + 4, info);
		len += 12;
	}
	if (fp && fp->valid) {
		/* Sense key specific descriptor (type 0x02). */
		buf[len] = 0x02;
		buf[len + 1] = 0x06;
		put_field_ptr(buf + len + 4, fp);
		len += 8;
	}
	buf[7] = len - SENSE_DESC_HDR_LEN;
	return len;
}

unsigned int scsi_sense_build(uint8_t *buf, bool descriptor, uint8_t key,
			      uint16_t asc, bool has_info, uint64_t info,
			      const struct scsi_field_ptr *fp)
{
	memset(buf, 0, SENSE_BUF_LEN);
	if (descriptor)
		return build_descriptor(buf, key, asc, has_info, info, fp);
	return build_fixed(buf, key, asc, has_info, info, fp);
}

void scsi_sense_segment(uint8_t *buf, uint16_t seg, uint16_t byte)
{
	unsigned int len;
	uint8_t *d;

	if ((buf[0] & 0x7f) == 0x70 || (buf[0] & 0x7f) == 0x71) {
		buf[10] = seg >> 8;
		buf[11] = seg & 0xff;
		d = buf + 15;
	} else {
		/* Command-specific information (0x01), then sense key
		 * specific (0x02) descriptors after those already there. */
		len = SENSE_DESC_HDR_LEN + buf[7];
		buf[len] = 0x01;
		buf[len + 1] = 0x0a;
		buf[len + 10] = seg >> 8;
		buf[len + 11] = seg & 0xff;
		d = buf + len + 12 + 4;
		d[-4] = 0x02;
		d[-3] = 0x06;
		buf[7] += 12 + 8;
	}
	d[0] = 0x80 | 0x20;	/* SKSV, SD */
	d[1] = byte >> 8;
	d[2] = byte & 0xff;
}
