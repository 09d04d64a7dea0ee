/*
 * dev_durable: a device's memory of a failed flush, so that no later
 * flush says GOOD over data that is gone.
 *
 * Why the core keeps it: Linux reports a writeback error to one fsync
 * per open file description and then forgets it (errseq), and gfapi,
 * librbd and our qcow2 code keep no error state at all. After one failed
 * flush, the next fsync of the same file can succeed although the writes
 * the failed one covered never reached the medium.
 *
 * The rule, for every handler:
 * - In doubt: writes the device acknowledged without making them stable
 *   (write cache on, no FUA) that no good flush has covered since. A
 *   flush covers what was acknowledged when it started. With the write
 *   cache off nothing is ever in doubt: each write was stable when it
 *   was acknowledged, so a failure can only lose what it reports.
 * - What latches, while writes are in doubt: a flush the handler fails
 *   with CHECK CONDITION (SYNCHRONIZE CACHE, the flush after a FUA write
 *   the handler cannot do itself, the core's own flushes), a stable
 *   write it fails so (its sync is part of it), and any write-side
 *   operation it fails with MEDIUM ERROR or HARDWARE ERROR (a handler's
 *   own ordering syncs, as qcow2's metadata updates, may be what
 *   failed). BUSY, TASK SET FULL and TASK ABORTED never latch: nothing
 *   was tried, or the initiator gave up.
 * - While latched: every flush and every stable write fails with MEDIUM
 *   ERROR, WRITE ERROR (03/0C/00) without reaching the handler, and so
 *   does a flush that was running when the latch was set (its GOOD may
 *   not cover what the failure lost). Reads and plain writes go on: the
 *   initiator can read what is there and copy it elsewhere.
 * - Until: the admin re-points the LUN (a new config through configfs or
 *   ChangeMedium, even the same one: the backing store is opened anew
 *   and looked at), or removes and re-creates it. A handler's own reopen
 *   (rbd after a blocklist) does not clear it, nor does a size or write
 *   cache change.
 * - Seen: one error line naming the device when it latches; in GetStats
 *   core.flush_failed (1 while latched) and core.flush_refused (commands
 *   refused while latched, ever), both shown once a flush has failed.
 *
 * Atomic fields, any thread; struct dev_durable lives in the device,
 * zeroed at its creation.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_DURABLE_H
#define DEV_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "tcmu-runner.h"

struct dev_durable {
	int latched;			/* a failure since the last re-point */
	unsigned int failures;		/* latching failures, ever: the epoch */
	uint64_t refused;		/* commands refused while latched */
	uint64_t acked;			/* unstable writes acknowledged, ever */
	uint64_t flushed;		/* of those, covered by a good flush */
};

/* What a handler operation is, as the latch sees it. */
struct dev_durable_op {
	bool writes;			/* changes the medium (or flushes it) */
	bool stable;			/* stable at completion (flushes too) */
	bool flush;			/* makes every earlier write stable */
};

/* Where an operation started: kept in its command. */
struct dev_durable_mark {
	unsigned int epoch;		/* failures when it started */
	uint64_t covers;		/* acked when it started */
};

/* Before @op reaches the handler: true if the latch refuses it (a stable
 * one while latched; counted); else *mark is where it starts. */
bool dev_durable_refuses(struct dev_durable *d, const struct dev_durable_op *op,
			 struct dev_durable_mark *mark);

/*
 * @op, started at @mark, ended with @sts (@sense_key the sense key when
 * CHECK CONDITION). Returns true if it must fail with MEDIUM ERROR
 * although @sts is GOOD (a stable one during which the latch was set).
 * *latched_now is true if this ending set the latch (the caller logs it,
 * once).
 */
bool dev_durable_end(struct dev_durable *d, const struct dev_durable_op *op,
		     const struct dev_durable_mark *mark, tcmu_sts sts, uint8_t sense_key,
		     bool *latched_now);

/* The admin re-pointed the LUN: clear the latch (the counts stay). */
void dev_durable_clear(struct dev_durable *d);

/* Whether latched now; how many failures latched, and refusals, ever. */
bool dev_durable_latched(const struct dev_durable *d);
unsigned int dev_durable_failures(const struct dev_durable *d);
uint64_t dev_durable_refused(const struct dev_durable *d);

#endif
