/*
 * A device's memory of a failed flush (dev_durable.h).
 * Licensed under the Apache License, Version 2.0.
 */
#include "dev_durable.h"
#include "scsi_defs.h"

bool dev_durable_refuses(struct dev_durable *d, unsigned int *epoch)
{
	*epoch = __atomic_load_n(&d->failures, __ATOMIC_ACQUIRE);
	if (!__atomic_load_n(&d->latched, __ATOMIC_ACQUIRE))
		return false;
	__atomic_add_fetch(&d->refused, 1, __ATOMIC_RELAXED);
	return true;
}

/* Whether @op ending with @sts (@key) leaves earlier data in doubt. */
static bool durable_failure(const struct dev_durable_op *op, tcmu_sts sts, uint8_t key)
{
	if (!op->writes || sts != TCMU_STS_CHECK_CONDITION)
		return false;
	return op->stable || key == SENSE_MEDIUM_ERROR || key == SENSE_HARDWARE_ERROR;
}

bool dev_durable_end(struct dev_durable *d, const struct dev_durable_op *op,
		     unsigned int epoch, tcmu_sts sts, uint8_t sense_key, bool *latched_now)
{
	*latched_now = false;
	if (durable_failure(op, sts, sense_key)) {
		__atomic_add_fetch(&d->failures, 1, __ATOMIC_ACQ_REL);
		*latched_now = !__atomic_exchange_n(&d->latched, 1, __ATOMIC_ACQ_REL);
		return false;
	}
	return sts == TCMU_STS_GOOD && op->stable &&
	       __atomic_load_n(&d->failures, __ATOMIC_ACQUIRE) != epoch;
}

void dev_durable_clear(struct dev_durable *d)
{
	__atomic_store_n(&d->latched, 0, __ATOMIC_RELEASE);
}

bool dev_durable_latched(const struct dev_durable *d)
{
	return __atomic_load_n(&d->latched, __ATOMIC_ACQUIRE);
}

unsigned int dev_durable_failures(const struct dev_durable *d)
{
	return __atomic_load_n(&d->failures, __ATOMIC_ACQUIRE);
}

uint64_t dev_durable_refused(const struct dev_durable *d)
{
	return __atomic_load_n(&d->refused, __ATOMIC_RELAXED);
}
