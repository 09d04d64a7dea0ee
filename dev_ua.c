/*
 * Pending unit attention conditions; see dev_ua.h for the rules and why
 * there is one queue per device. Licensed under the Apache License,
 * Version 2.0.
 */
#include "cmd.h"
#include "dev_ua.h"
#include "device.h"
#include "scsi_defs.h"

#define ua_err(dev, ...) log_write((dev)->log, TCMU_LOG_ERR, (dev)->who, __func__, __VA_ARGS__)

void dev_ua_raise(struct tcmur_device *dev, uint16_t asc)
{
	struct dev_ua_queue *q = &dev->ua;
	bool full = false;

	pthread_mutex_lock(&dev->state_lock);
	for (unsigned int i = 0; i < q->count; i++)
		if (q->asc[i] == asc)
			goto out_unlock;
	if (q->count < DEV_UA_MAX)
		q->asc[q->count++] = asc;
	else
		full = true;
out_unlock:
	pthread_mutex_unlock(&dev->state_lock);
	if (full)
		ua_err(dev, "unit attention %02x/%02x: queue full, dropped", asc >> 8,
		       asc & 0xff);
}

bool dev_ua_take(struct tcmur_device *dev, uint16_t *asc)
{
	struct dev_ua_queue *q = &dev->ua;
	bool any;

	pthread_mutex_lock(&dev->state_lock);
	any = q->count > 0;
	if (any) {
		*asc = q->asc[0];
		q->count--;
		for (unsigned int i = 0; i < q->count; i++)
			q->asc[i] = q->asc[i + 1];
	}
	pthread_mutex_unlock(&dev->state_lock);
	return any;
}

/* Commands a unit attention neither fails nor is cleared by (SAM-5
 * 5.14; UA_INTLCK_CTRL is 00b). REQUEST SENSE returns the condition as
 * its parameter data instead (scsi_request_sense). */
static bool ua_passes(uint8_t opcode)
{
	return opcode == INQUIRY || opcode == REPORT_LUNS || opcode == REQUEST_SENSE;
}

bool dev_ua_report(struct tcmur_device *dev, struct cmd_ctx *ctx, tcmu_sts *sts)
{
	uint16_t asc;

	if (ua_passes(ctx->pub.cdb[0]) || !dev_ua_take(dev, &asc))
		return false;
	*sts = tcmur_cmd_sense(&ctx->pub, SENSE_UNIT_ATTENTION, asc);
	return true;
}
