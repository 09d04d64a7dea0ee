/*
 * Finished EXTENDED COPY commands by list identifier; see xcopy_status.h.
 * Licensed under the Apache License, Version 2.0.
 */
#include <string.h>

#include "tcmu-runner.h"
#include "xcopy_status.h"

void xcopy_status_put(struct xcopy_status_log *log, const struct xcopy_status *st)
{
	for (unsigned int i = 0; i < XCOPY_STATUS_KEEP; i++) {
		if (log->rec[i].used && log->rec[i].list_id == st->list_id) {
			log->rec[i] = *st;
			log->rec[i].used = true;
			return;
		}
	}
	log->rec[log->next] = *st;
	log->rec[log->next].used = true;
	log->next = (log->next + 1) % XCOPY_STATUS_KEEP;
}

bool xcopy_status_get(const struct xcopy_status_log *log, uint8_t list_id,
		      struct xcopy_status *out)
{
	for (unsigned int i = 0; i < XCOPY_STATUS_KEEP; i++) {
		if (log->rec[i].used && log->rec[i].list_id == list_id) {
			*out = log->rec[i];
			return true;
		}
	}
	return false;
}

void xcopy_status_encode(const struct xcopy_status *st, uint8_t *buf)
{
	uint64_t count = st->bytes;
	uint8_t units = 0;

	/* TRANSFER COUNT UNITS: bytes, then KiB, MiB, ... (2^(10 n)), the
	 * smallest unit whose count fits the four-byte field. */
	while (count > 0xffffffffull && units < 6) {
		count >>= 10;
		units++;
	}
	memset(buf, 0, XCOPY_STATUS_LEN);
	tcmu_put_be32(buf, XCOPY_STATUS_LEN - 4);	/* AVAILABLE DATA */
	buf[4] = st->status;			/* HDD 0: no held data discarded */
	tcmu_put_be16(buf + 5, st->segments);
	buf[7] = units;
	tcmu_put_be32(buf + 8, count);
}
