/*
 * Unit attention conditions a device has pending (SAM-5 5.14, SPC-4
 * 5.14.2 and 6.39): raised when the kernel reconfigures the device under
 * the initiators' feet, reported once each as CHECK CONDITION / UNIT
 * ATTENTION on the next command that is not INQUIRY, REPORT LUNS or
 * REQUEST SENSE, or returned (and cleared) by REQUEST SENSE.
 *
 * One queue per device, not per I_T nexus as SAM-5 has it: TCMU does not
 * tell us which initiator sent a command, so the first command after the
 * change, from whichever initiator, consumes each condition. Initiators
 * on other paths learn of it only from their own checks (Linux's
 * multipath rescans all paths of a map whose capacity changed).
 *
 * The queue lives in struct tcmur_device, under its state_lock.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_UA_H
#define DEV_UA_H

#include <stdbool.h>
#include <stdint.h>

#include "tcmu-runner.h"

/* Distinct conditions we raise (29/00, 28/00, 2A/09, 2A/01) fit. */
#define DEV_UA_MAX 4

struct dev_ua_queue {
	uint16_t asc[DEV_UA_MAX];	/* ASC << 8 | ASCQ, oldest first */
	unsigned int count;
};

struct tcmur_device;
struct cmd_ctx;

/* Establish @asc (if not pending already). Any thread. */
void dev_ua_raise(struct tcmur_device *dev, uint16_t asc);
/* Take the oldest pending condition into *asc; false if none. */
bool dev_ua_take(struct tcmur_device *dev, uint16_t *asc);
/*
 * The device thread, for each command before anything else looks at it:
 * if @ctx's command must report a pending condition, set its sense, put
 * CHECK CONDITION in *sts, clear the condition and return true.
 */
bool dev_ua_report(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts *sts);

#endif
