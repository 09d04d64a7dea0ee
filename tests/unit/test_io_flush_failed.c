/*
 * A failed flush stays failed (dev_durable.h): after a flush the handler
 * failed, no later flush or stable write says GOOD until the LUN is
 * given its config again, whatever the backend says by then. Linux tells
 * one fsync of a writeback error and then forgets it; file_spy's
 * injected fdatasync failure behaves the same way (the next one
 * succeeds), so the file handler is tested against exactly that (the
 * qcow handler, a plugin the spy cannot see into, through the real kernel
 * on a failing device: tests/vm/test_durability.sh). Also: the write
 * cache turned off flushes first.
 */
#include "dev_durable.h"
#include "dev_stats.h"
#include "file_spy.h"
#include "log_capture.h"
#include "sbc_cmds.h"

#define FF_SIZE (1 << 20)
#define FF_LATCH_LOG "until the LUN is given its config again"

static const uint8_t sync_cache[10] = { SYNCHRONIZE_CACHE_10 };

static struct sim_cmd *ff_sync(struct sim_dev *sd)
{
	return sim_dev_run(sd, sync_cache, sizeof(sync_cache), NULL, 0);
}

static struct sim_cmd *ff_write(struct sim_dev *sd, uint8_t b1, uint64_t lba)
{
	uint8_t buf[8 * 512];

	sbc_fill(buf, sizeof(buf), (unsigned int)lba);
	return sbc_run(sd, WRITE_10, b1, lba, 8, buf, sizeof(buf));
}

static struct sim_dev *ff_mem(const char *opts, bool wc_off, struct log_capture *lc)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = FF_SIZE, .write_cache_off = wc_off,
				   .log = lc ? &lc->log : NULL };
	struct sim_dev *sd;

	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	return sd;
}

struct ff_figs {
	uint64_t failed, refused;
	bool seen;
};

static void ff_fig(void *opaque, const char *name, uint64_t value, const char *str)
{
	struct ff_figs *f = opaque;

	(void)str;
	if (!strcmp(name, "core.flush_failed")) {
		f->failed = value;
		f->seen = true;
	} else if (!strcmp(name, "core.flush_refused")) {
		f->refused = value;
	}
}

static struct ff_figs ff_figures(struct sim_dev *sd)
{
	struct dev_stats_snap s;
	struct ff_figs f = { 0 };

	dev_stats_snapshot(sd->dev, &s);
	dev_stats_foreach(&s, ff_fig, &f);
	return f;
}

/* On mem/@opts: a flush fails with -@err (sense @key/@asc), then the
 * handler would succeed again; what the initiator gets from then on. */
static void ff_latch_case(const char *opts, int err, uint8_t key, uint16_t asc)
{
	struct log_capture lc;
	struct sim_dev *sd;
	unsigned int flushes, ios;
	struct ff_figs f;

	print_message("mem/%s, a flush fails with %s\n", opts, strerror(err));
	assert_int_equal(log_capture_new(&lc), 0);
	sd = ff_mem(opts, false, &lc);
	assert_good(ff_write(sd, 0, 16));
	assert_false(ff_figures(sd).seen);
	mem_handler_fail(sd->dev, MEM_OP_FLUSH, 1, err);
	assert_sense(ff_sync(sd), key, asc >> 8, asc & 0xff);

	flushes = mem_handler_flushes(sd->dev);
	ios = mem_handler_ios(sd->dev);
	/* The old code: GOOD here, although the writes it covers are gone. */
	assert_sense(ff_sync(sd), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_sense(ff_write(sd, 0x08, 32), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_int_equal(mem_handler_flushes(sd->dev), flushes);
	assert_int_equal(mem_handler_ios(sd->dev), ios);	/* never reached it */
	/* Reads and plain writes go on. */
	assert_good(ff_write(sd, 0, 48));
	assert_good(sbc_run(sd, READ_10, 0, 16, 8, NULL, 8 * 512));
	f = ff_figures(sd);
	assert_true(f.seen);
	assert_int_equal(f.failed, 1);
	assert_int_equal(f.refused, 2);
	assert_int_equal(log_capture_count(&lc, FF_LATCH_LOG), 1);

	/* Given its config again (the admin looked): flushes work. */
	assert_int_equal(sim_dev_repoint(sd), 0);
	assert_good(ff_sync(sd));
	assert_good(ff_write(sd, 0x08, 32));
	f = ff_figures(sd);
	assert_int_equal(f.failed, 0);
	assert_int_equal(f.refused, 2);
	sim_dev_free(sd);
	log_capture_free(&lc);
}

static void test_flush_failed_stays_failed(void **state)
{
	(void)state;
	ff_latch_case("", EIO, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
	ff_latch_case("async", EIO, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
	ff_latch_case("no_fua", ENOSPC, SENSE_DATA_PROTECT, 0x2707);
	/* A lost connection: the writes may be lost all the same. */
	ff_latch_case("async", ETIMEDOUT, SENSE_NOT_READY, 0x0401);
}

/* A write the handler fails with MEDIUM ERROR latches (its own ordering
 * syncs may be what failed); one it refuses for space, a read's error
 * and BUSY do not. Nothing latches while nothing acknowledged is in
 * doubt: after a good flush, or with the write cache off. */
static void test_flush_failed_which_errors_latch(void **state)
{
	struct sim_dev *sd;

	(void)state;
	sd = ff_mem("", false, NULL);
	assert_good(ff_write(sd, 0, 64));
	mem_handler_fail(sd->dev, MEM_OP_READ, 1, EIO);
	assert_sense(sbc_run(sd, READ_10, 0, 0, 8, NULL, 8 * 512), SENSE_MEDIUM_ERROR,
		     0x11, 0x00);
	mem_handler_fail(sd->dev, MEM_OP_WRITE, 1, ENOSPC);
	assert_sense(ff_write(sd, 0, 0), SENSE_DATA_PROTECT, 0x27, 0x07);
	mem_handler_fail(sd->dev, MEM_OP_WRITE, 1, EBUSY);
	assert_int_equal(sim_dev_run(sd, (uint8_t[10]){ WRITE_10, 0, 0, 0, 0, 8, 0, 0, 1 },
				     10, NULL, 512)->status, TCMU_STS_BUSY);
	assert_good(ff_sync(sd));
	/* Flushed: a failed write or flush now loses nothing acknowledged. */
	mem_handler_fail(sd->dev, MEM_OP_WRITE, 1, EIO);
	assert_sense(ff_write(sd, 0, 0), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	mem_handler_fail(sd->dev, MEM_OP_FLUSH, 1, EIO);
	assert_sense(ff_sync(sd), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_good(ff_sync(sd));
	assert_false(ff_figures(sd).seen);
	/* A write acknowledged, then one fails with MEDIUM ERROR: latched. */
	assert_good(ff_write(sd, 0, 64));
	mem_handler_fail(sd->dev, MEM_OP_WRITE, 1, EIO);
	assert_sense(ff_write(sd, 0, 0), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_sense(ff_sync(sd), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_int_equal(ff_figures(sd).failed, 1);
	sim_dev_free(sd);

	/* Write cache off: every write was stable when acknowledged. */
	sd = ff_mem("no_fua", true, NULL);
	assert_good(ff_write(sd, 0, 0));
	mem_handler_fail(sd->dev, MEM_OP_FLUSH, 1, EIO);
	assert_sense(ff_write(sd, 0, 8), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_good(ff_write(sd, 0, 16));
	assert_good(ff_sync(sd));
	assert_false(ff_figures(sd).seen);
	sim_dev_free(sd);
}

/* The rule itself: a stable operation that was running when another
 * failed does not say GOOD; a flush covers what was acknowledged when it
 * started; clearing keeps the counts. */
static void test_flush_failed_overtaken(void **state)
{
	const struct dev_durable_op flush = { .writes = true, .stable = true, .flush = true };
	const struct dev_durable_op write = { .writes = true };
	const struct dev_durable_op read = { 0 };
	struct dev_durable_mark m1, m2, mw;
	struct dev_durable d = { 0 };
	bool now;

	(void)state;
	assert_false(dev_durable_refuses(&d, &write, &mw));
	assert_false(dev_durable_end(&d, &write, &mw, TCMU_STS_GOOD, 0, &now));
	assert_false(dev_durable_refuses(&d, &flush, &m1));	/* flush 1 starts */
	assert_false(dev_durable_refuses(&d, &flush, &m2));	/* flush 2 starts */
	assert_false(dev_durable_end(&d, &read, &m1, TCMU_STS_CHECK_CONDITION,
				     SENSE_MEDIUM_ERROR, &now));
	assert_false(now);
	assert_false(dev_durable_end(&d, &write, &m1, TCMU_STS_CHECK_CONDITION,
				     SENSE_NOT_READY, &now));
	assert_false(now);
	assert_false(dev_durable_end(&d, &flush, &m1, TCMU_STS_CHECK_CONDITION,
				     SENSE_NOT_READY, &now));
	assert_true(now);
	/* Flush 2 ran while flush 1 failed: not GOOD. */
	assert_true(dev_durable_end(&d, &flush, &m2, TCMU_STS_GOOD, 0, &now));
	assert_false(now);
	assert_false(dev_durable_end(&d, &write, &m2, TCMU_STS_GOOD, 0, &now));
	assert_false(dev_durable_end(&d, &flush, &m2, TCMU_STS_BUSY, 0, &now));
	assert_false(now);
	assert_true(dev_durable_refuses(&d, &flush, &m1));
	assert_false(dev_durable_refuses(&d, &write, &m1));
	assert_true(dev_durable_latched(&d));
	dev_durable_clear(&d);
	assert_int_equal(dev_durable_failures(&d), 1);
	assert_int_equal(dev_durable_refused(&d), 1);

	/* A flush covers only what was acknowledged when it started. */
	assert_false(dev_durable_refuses(&d, &flush, &m1));
	assert_false(dev_durable_end(&d, &write, &mw, TCMU_STS_GOOD, 0, &now));
	assert_false(dev_durable_end(&d, &flush, &m1, TCMU_STS_GOOD, 0, &now));
	assert_false(dev_durable_end(&d, &flush, &m1, TCMU_STS_CHECK_CONDITION,
				     SENSE_MEDIUM_ERROR, &now));
	assert_true(now);
}

/* The file handler against Linux's rule: fdatasync reports EIO once. */
static void test_flush_failed_file_errseq(void **state)
{
	struct sim_dev *sd;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, NULL), 0);
	assert_good(ff_write(sd, 0, 0));
	file_spy_fail_datasync(1, EIO);
	assert_sense(ff_sync(sd), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	/* The old code: GOOD, since Linux has told its one fsync. */
	assert_sense(ff_sync(sd), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_sense(ff_write(sd, 0x08, 8), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	assert_int_equal(sim_dev_repoint(sd), 0);
	assert_good(ff_sync(sd));
	sim_dev_free(sd);
}

/* The write cache turned off: a flush reaches the handler before the
 * change does, on a sync and an async handler; a failed flush refuses
 * the change and the cache stays on. */
static void test_write_cache_off_flushes_first(void **state)
{
	static const char *const opts[] = { "no_fua", "async,no_fua" };
	struct tcmu_reconfig rc = { .has_write_cache = true, .write_cache = false };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct mem_reconfig_seen seen;
		struct sim_dev *sd = ff_mem(opts[i], false, NULL);

		print_message("mem/%s: write cache on -> off\n", opts[i]);
		assert_good(ff_write(sd, 0, 0));
		assert_int_equal(mem_handler_unstable(sd->dev), 1);
		mem_handler_fail(sd->dev, MEM_OP_FLUSH, 1, EIO);
		assert_int_not_equal(dev_reconfig(sd->dev, &rc), 0);
		assert_true(tcmur_dev_write_cache(sd->dev));
		mem_handler_reconfig_seen(sd->dev, &seen);
		assert_int_equal(seen.calls, 0);
		sim_dev_free(sd);

		sd = ff_mem(opts[i], false, NULL);
		assert_good(ff_write(sd, 0, 0));
		assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
		/* The old code: no flush, one write left unstable. */
		assert_int_equal(mem_handler_flushes(sd->dev), 1);
		assert_int_equal(mem_handler_unstable(sd->dev), 0);
		assert_false(tcmur_dev_write_cache(sd->dev));
		mem_handler_reconfig_seen(sd->dev, &seen);
		assert_true(seen.has_write_cache);
		assert_false(seen.write_cache);
		sim_dev_free(sd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_failed_stays_failed),
		cmocka_unit_test(test_flush_failed_which_errors_latch),
		cmocka_unit_test(test_flush_failed_overtaken),
		cmocka_unit_test(test_flush_failed_file_errseq),
		cmocka_unit_test(test_write_cache_off_flushes_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
