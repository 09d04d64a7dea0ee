/*
 * Per-device I/O statistics, cheap enough to stay on: counters that
 * finishing commands add to with relaxed atomic adds, no lock and no
 * allocation on the I/O path, and a fixed log-scale latency histogram
 * per direction. Read as a snapshot (dev_stats_snapshot) by the bus
 * service (GetStats on the device's object, dbus_service.h), which
 * `tcmu-runner --status` shows.
 *
 * What counts: READ(6/10/12/16) are reads; WRITE(6/10/12/16) and WRITE
 * AND VERIFY are writes; every other command is "other". A command
 * counts once, when its status goes to the ring (dev_finish): its bytes
 * (the transfer length) when GOOD, an error when anything else but TASK
 * ABORTED (counted apart: the kernel asked), a time-out when it was late
 * (dev_watch.h: past the kernel's cmd_time_out, which has failed it to
 * the initiator). Latency runs from taking the command off the ring to
 * its status, in microseconds; percentiles are the upper edges of
 * quarter-octave buckets (within 25 %, never below the true value).
 * In flight is the ring's count of commands taken and not answered.
 *
 * Handlers' own health figures (API 1.4, tcmur_handler.health: rbd's
 * lock owner, locks lost, connections lost, ops timed out) join the
 * snapshot through dev_stats_add_extra, named "<subtype>.<name>".
 *
 * struct dev_stats lives in struct tcmur_device; any thread.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_STATS_H
#define DEV_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "tcmu-runner.h"

#define DEV_STATS_BUCKETS 128
#define DEV_STATS_MAX_EXTRA 19
/* Of those, the core's own (stray completions, the flush latch's two). */
#define DEV_STATS_CORE_EXTRA 3

struct dev_io_stats {			/* all atomic */
	uint64_t cmds, bytes, errors, timeouts;
	uint64_t lat[DEV_STATS_BUCKETS];
};

struct dev_stats {
	struct dev_io_stats rd, wr;
	uint64_t other_cmds, other_errors, aborted;	/* atomic */
};

struct dev_stats_dir {
	uint64_t cmds, bytes, errors, timeouts;
	uint64_t p50_us, p99_us, p999_us;	/* 0: no command yet */
};

/* A named figure beside the core's: a number, or text when str[0]. */
struct dev_stats_extra {
	char name[64];
	uint64_t value;
	char str[96];
};

struct dev_stats_snap {
	struct dev_stats_dir rd, wr;
	uint64_t other_cmds, other_errors, aborted, in_flight;
	unsigned int n_extra;
	struct dev_stats_extra extra[DEV_STATS_MAX_EXTRA];
};

struct tcmur_device;
struct cmd_ctx;

/* dev_finish: count @ctx, finished with @sts (and trace it: log.h). */
void dev_stats_done(struct tcmur_device *dev, const struct cmd_ctx *ctx, tcmu_sts sts);
/* What @dev has counted so far, with the extras. */
void dev_stats_snapshot(struct tcmur_device *dev, struct dev_stats_snap *out);
/*
 * The hook for figures from elsewhere (a handler's health counters,
 * issue 19): add "<source>.<name>" with a number, or with text when @str
 * is not NULL. 0, or -ENOSPC when DEV_STATS_MAX_EXTRA are there.
 */
int dev_stats_add_extra(struct dev_stats_snap *s, const char *source, const char *name,
			uint64_t value, const char *str);
/*
 * Every figure of @s by name, the core's first ("read_cmds", ...,
 * "in_flight"), then the extras: what the bus sends and the tests read.
 * @str is NULL for a number.
 */
void dev_stats_foreach(const struct dev_stats_snap *s,
		       void (*fn)(void *opaque, const char *name, uint64_t value,
				  const char *str),
		       void *opaque);

/* The histogram's bucket for @us, and the largest value in bucket @i
 * (exposed for the tests). */
unsigned int dev_stats_bucket(uint64_t us);
uint64_t dev_stats_bucket_max(unsigned int i);

#endif
