/*
 * The status of the last few EXTENDED COPY commands a LUN finished, by
 * list identifier, for RECEIVE COPY RESULTS with COPY STATUS (SPC-3
 * 6.18.3). Kept for LIST ID USAGE 00b and 10b; 11b asks for nothing.
 *
 * One record per device, not per I_T nexus as SPC has list identifiers:
 * TCMU does not tell us which initiator sent a command, so the status of
 * list 5 is that of the last list 5 any initiator sent through this LUN.
 * The oldest record goes when a new identifier needs its place. Only
 * finished copies are kept: a copy in progress is not reported (its
 * EXTENDED COPY has not answered yet).
 *
 * The record lives in struct tcmur_device, under its state_lock; these
 * functions take it as their argument and the caller holds the lock.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef XCOPY_STATUS_H
#define XCOPY_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XCOPY_STATUS_KEEP 8
#define XCOPY_STATUS_LEN 12		/* COPY STATUS parameter data */

/* COPY MANAGER STATUS values. */
#define XCOPY_DONE 0x01			/* completed without errors */
#define XCOPY_DONE_ERRORS 0x02		/* completed with errors */

struct xcopy_status {
	bool used;
	uint8_t list_id;
	uint8_t status;			/* XCOPY_DONE or XCOPY_DONE_ERRORS */
	uint16_t segments;		/* segment descriptors processed */
	uint64_t bytes;			/* bytes written to destinations */
};

struct xcopy_status_log {
	struct xcopy_status rec[XCOPY_STATUS_KEEP];
	unsigned int next;		/* the slot a new identifier takes */
};

/* Record @st, in place of an older record of the same list identifier. */
void xcopy_status_put(struct xcopy_status_log *log, const struct xcopy_status *st);
/* The record of @list_id into *out; false if there is none. */
bool xcopy_status_get(const struct xcopy_status_log *log, uint8_t list_id,
		      struct xcopy_status *out);
/* COPY STATUS parameter data for @st into @buf (XCOPY_STATUS_LEN bytes). */
void xcopy_status_encode(const struct xcopy_status *st, uint8_t *buf);

#endif
