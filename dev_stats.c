/*
 * Per-device I/O statistics; see dev_stats.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "dev_stats.h"
#include "device.h"
#include "scsi_defs.h"

#define add(p, n) __atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define get(p) __atomic_load_n((p), __ATOMIC_RELAXED)

unsigned int dev_stats_bucket(uint64_t us)
{
	unsigned int b, i;

	if (us < 4)
		return us;
	b = 63 - __builtin_clzll(us);		/* 2.. */
	i = 4 * (b - 1) + ((us >> (b - 2)) & 3);
	return i < DEV_STATS_BUCKETS ? i : DEV_STATS_BUCKETS - 1;
}

uint64_t dev_stats_bucket_max(unsigned int i)
{
	unsigned int b = i / 4 + 1, sub = i % 4;

	if (i < 4)
		return i;
	if (i == DEV_STATS_BUCKETS - 1)
		return UINT64_MAX;
	return ((uint64_t)(5 + sub) << (b - 2)) - 1;
}

static struct dev_io_stats *io_stats(struct dev_stats *st, uint8_t op)
{
	switch (op) {
	case READ_6: case READ_10: case READ_12: case READ_16:
		return &st->rd;
	case WRITE_6: case WRITE_10: case WRITE_12: case WRITE_16:
	case WRITE_VERIFY_10: case WRITE_VERIFY_12: case WRITE_VERIFY_16:
		return &st->wr;
	default:
		return NULL;
	}
}

void dev_stats_done(struct tcmur_device *dev, const struct cmd_ctx *ctx, tcmu_sts sts)
{
	struct dev_stats *st = &dev->stats;
	struct dev_io_stats *io = io_stats(st, ctx->pub.cdb[0]);
	uint64_t us = (dev_watch_now_ns() - ctx->taken_ns) / 1000;
	bool late = __atomic_load_n(&ctx->late, __ATOMIC_RELAXED);

	if (sts == TCMU_STS_TASK_ABORTED)
		add(&st->aborted, 1);
	if (!io) {
		add(&st->other_cmds, 1);
		if (sts != TCMU_STS_GOOD && sts != TCMU_STS_TASK_ABORTED)
			add(&st->other_errors, 1);
	} else {
		add(&io->cmds, 1);
		if (sts == TCMU_STS_GOOD)
			add(&io->bytes, ctx->pub.data_len);
		else if (sts != TCMU_STS_TASK_ABORTED)
			add(&io->errors, 1);
		if (late)
			add(&io->timeouts, 1);
		add(&io->lat[dev_stats_bucket(us)], 1);
	}
	if (log_enabled(dev->log, LOG_PRIO_TRACE))
		log_write(dev->log, LOG_PRIO_TRACE, dev->who, __func__,
			  "cmd %u opcode 0x%02x %zu bytes: status 0x%02x after %llu us%s",
			  ctx->rcmd->cmd_id, ctx->pub.cdb[0], ctx->pub.data_len, sts,
			  (unsigned long long)us, late ? " (late)" : "");
}

static uint64_t percentile(const uint64_t *lat, uint64_t total, unsigned int per_mille)
{
	uint64_t want = (total * per_mille + 999) / 1000, seen = 0;

	if (!total)
		return 0;
	for (unsigned int i = 0; i < DEV_STATS_BUCKETS; i++) {
		seen += lat[i];
		if (seen >= want)
			return dev_stats_bucket_max(i);
	}
	return dev_stats_bucket_max(DEV_STATS_BUCKETS - 1);
}

static void dir_snapshot(struct dev_io_stats *io, struct dev_stats_dir *out)
{
	uint64_t lat[DEV_STATS_BUCKETS], total = 0;

	out->cmds = get(&io->cmds);
	out->bytes = get(&io->bytes);
	out->errors = get(&io->errors);
	out->timeouts = get(&io->timeouts);
	for (unsigned int i = 0; i < DEV_STATS_BUCKETS; i++) {
		lat[i] = get(&io->lat[i]);
		total += lat[i];
	}
	out->p50_us = percentile(lat, total, 500);
	out->p99_us = percentile(lat, total, 990);
	/* p99.9: per mille is too coarse; 999 of 1000. */
	out->p999_us = percentile(lat, total, 999);
}

int dev_stats_add_extra(struct dev_stats_snap *s, const char *source, const char *name,
			uint64_t value, const char *str)
{
	struct dev_stats_extra *e;

	if (s->n_extra >= DEV_STATS_MAX_EXTRA)
		return -ENOSPC;
	e = &s->extra[s->n_extra++];
	snprintf(e->name, sizeof(e->name), "%s.%s", source, name);
	e->value = value;
	snprintf(e->str, sizeof(e->str), "%s", str ? str : "");
	return 0;
}

/*
 * Figures from outside the core: the handler's health figures (API 1.4,
 * tcmur_handler.health) as "<subtype>.<name>", and the core's own rarer
 * counters.
 */
static void dev_stats_extras(struct tcmur_device *dev, struct dev_stats_snap *s)
{
	const struct tcmur_handler *h = &dev->handler->ops;
	unsigned int stray = dev_stray_completions(dev), n = 0;
	struct tcmur_health hl[DEV_STATS_MAX_EXTRA - DEV_STATS_CORE_EXTRA];

	if (handler_minor(h) >= 4 && h->health) {
		memset(hl, 0, sizeof(hl));
		n = h->health(dev, hl, sizeof(hl) / sizeof(hl[0]));
		if (n > sizeof(hl) / sizeof(hl[0]))
			n = sizeof(hl) / sizeof(hl[0]);
	}
	for (unsigned int i = 0; i < n; i++) {
		hl[i].name[sizeof(hl[i].name) - 1] = '\0';
		hl[i].text[sizeof(hl[i].text) - 1] = '\0';
		dev_stats_add_extra(s, h->subtype, hl[i].name, hl[i].value,
				    hl[i].text[0] ? hl[i].text : NULL);
	}
	if (stray)
		dev_stats_add_extra(s, "core", "stray_completions", stray, NULL);
	if (dev_durable_failures(&dev->durable)) {
		dev_stats_add_extra(s, "core", "flush_failed",
				    dev_durable_latched(&dev->durable), NULL);
		dev_stats_add_extra(s, "core", "flush_refused",
				    dev_durable_refused(&dev->durable), NULL);
	}
}

void dev_stats_snapshot(struct tcmur_device *dev, struct dev_stats_snap *out)
{
	struct dev_stats *st = &dev->stats;

	memset(out, 0, sizeof(*out));
	dir_snapshot(&st->rd, &out->rd);
	dir_snapshot(&st->wr, &out->wr);
	out->other_cmds = get(&st->other_cmds);
	out->other_errors = get(&st->other_errors);
	out->aborted = get(&st->aborted);
	out->in_flight = tcmu_ring_inflight(dev->ring);
	dev_stats_extras(dev, out);
}

static void dir_each(const char *dir, const struct dev_stats_dir *d,
		     void (*fn)(void *, const char *, uint64_t, const char *), void *opaque)
{
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
		{ "cmds", d->cmds },
		{ "bytes", d->bytes },
		{ "errors", d->errors },
		{ "timeouts", d->timeouts },
		{ "latency_p50_us", d->p50_us },
		{ "latency_p99_us", d->p99_us },
		{ "latency_p999_us", d->p999_us },
	};
	char name[64];

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(name, sizeof(name), "%s_%s", dir, f[i].name);
		fn(opaque, name, f[i].v, NULL);
	}
}

void dev_stats_foreach(const struct dev_stats_snap *s,
		       void (*fn)(void *opaque, const char *name, uint64_t value,
				  const char *str),
		       void *opaque)
{
	dir_each("read", &s->rd, fn, opaque);
	dir_each("write", &s->wr, fn, opaque);
	fn(opaque, "other_cmds", s->other_cmds, NULL);
	fn(opaque, "other_errors", s->other_errors, NULL);
	fn(opaque, "aborted", s->aborted, NULL);
	fn(opaque, "in_flight", s->in_flight, NULL);
	for (unsigned int i = 0; i < s->n_extra; i++)
		fn(opaque, s->extra[i].name, s->extra[i].value,
		   s->extra[i].str[0] ? s->extra[i].str : NULL);
}
