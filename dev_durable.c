/*
 * A device's memory of a failed flush (dev_durable.h).
 * Licensed under the Apache License, Version 2.0.
 */
#include "dev_durable.h"
#include "scsi_defs.h"

bool dev_durable_refuses(struct dev_durable *d, const struct dev_durable_op *op,
			 struct dev_durable_mark *mark)
{
	mark->epoch = __atomic_load_n(&d->failures, __ATOMIC_ACQUIRE);
	mark->covers = __atomic_load_n(&d->acked, __ATOMIC_ACQUIRE);
	if (!op->stable || !__atomic_load_n(&d->latched, __ATOMIC_ACQUIRE))
		return false;
	__atomic_add_fetch(&d->refused, 1, __ATOMIC_RELAXED);
	return true;
}

/* Whether @op ending with @sts (@key) may have lost acknowledged writes. */
static bool durable_failure(struct dev_durable *d, const struct dev_durable_op *op,
			    tcmu_sts sts, uint8_t key)
{
	if (!op->writes || sts != TCMU_STS_CHECK_CONDITION)
		return false;
	if (!op->stable && key != SENSE_MEDIUM_ERROR && key != SENSE_HARDWARE_ERROR)
		return false;
	/* In doubt only if something acknowledged is not flushed yet. */
	return __atomic_load_n(&d->acked, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&d->flushed, __ATOMIC_ACQUIRE);
}

/* A good flush covered what was acknowledged when it started. */
static void durable_flushed(struct dev_durable *d, uint64_t covers)
{
	uint64_t was = __atomic_load_n(&d->flushed, __ATOMIC_ACQUIRE);

	while (was < covers && !__atomic_compare_exchange_n(&d->flushed, &was, covers, false,
							    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

bool dev_durable_end(struct dev_durable *d, const struct dev_durable_op *op,
		     const struct dev_durable_mark *mark, tcmu_sts sts, uint8_t sense_key,
		     bool *latched_now)
{
	*latched_now = false;
	if (durable_failure(d, op, sts, sense_key)) {
		__atomic_add_fetch(&d->failures, 1, __ATOMIC_ACQ_REL);
		*latched_now = !__atomic_exchange_n(&d->latched, 1, __ATOMIC_ACQ_REL);
		return false;
	}
	if (sts != TCMU_STS_GOOD || !op->writes)
		return false;
	if (!op->stable) {
		__atomic_add_fetch(&d->acked, 1, __ATOMIC_ACQ_REL);
		return false;
	}
	if (__atomic_load_n(&d->failures, __ATOMIC_ACQUIRE) != mark->epoch)
		return true;
	if (op->flush)
		durable_flushed(d, mark->covers);
	return false;
}

void dev_durable_clear(struct dev_durable *d)
{
	/* The admin took the medium as it is: nothing is in doubt now. */
	durable_flushed(d, __atomic_load_n(&d->acked, __ATOMIC_ACQUIRE));
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
