/*
 * The log's rate limit (log_limit.h, log_sink.h): a device failing the
 * same way over and over writes a few lines, then one "N messages
 * suppressed" naming it; each device and call site has its own budget;
 * debug lines are not limited; the file destination rotates. And the
 * level names the configuration takes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_capture.h"
#include "log_limit.h"
#include "log_sink.h"
#include "unit_test.h"

struct fx {
	struct log_capture lc;
	struct log_sink *sink;
};

/* A sink appending to the capture's file: @burst lines a minute. */
static int fx_setup_burst(void **state, unsigned int burst)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct log_sink_cfg c;

	if (!fx || log_capture_new(&fx->lc))
		return -1;
	log_sink_cfg_default(&c);
	c.dest = LOG_DEST_FILE;
	snprintf(c.path, sizeof(c.path), "%s", fx->lc.path);
	c.burst = burst;
	c.interval_s = 60;
	if (log_sink_new(&fx->sink, &c))
		return -1;
	fx->lc.log.sink = fx->sink;
	*state = fx;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_burst(state, 5);
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	log_sink_free(fx->sink);
	log_capture_free(&fx->lc);
	free(fx);
	return 0;
}

static void fail_read(const struct log_cfg *log, const char *who, unsigned int i)
{
	log_err(log, who, "read at %u: Input/output error", i);
}

/* 100 identical errors: 5 lines, then "95 messages suppressed" naming the
 * device and the site, once the sink reports (its interval over, or it
 * closes). */
static void test_log_burst_then_suppressed_count(void **state)
{
	struct fx *fx = *state;

	for (unsigned int i = 0; i < 100; i++)
		fail_read(&fx->lc.log, "lun0 file", i);
	assert_int_equal(log_capture_count(&fx->lc, "ERROR [lun0 file] fail_read: read at"), 5);
	assert_int_equal(log_capture_count(&fx->lc, "suppressed"), 0);
	assert_int_equal(log_sink_suppressed(fx->sink), 95);
	log_sink_free(fx->sink);
	fx->sink = NULL;
	fx->lc.log.sink = NULL;
	assert_int_equal(log_capture_count(&fx->lc, "WARN [lun0 file] fail_read: 95 messages "
						    "suppressed (more than 5 in 60 s)"), 1);
}

/* Another device, another site: budgets of their own. */
static void test_log_limit_per_device_and_site(void **state)
{
	struct fx *fx = *state;

	for (unsigned int i = 0; i < 20; i++) {
		fail_read(&fx->lc.log, "lun0 file", i);
		fail_read(&fx->lc.log, "lun1 file", i);
		log_err(&fx->lc.log, "lun0 file", "other site %u", i);
	}
	assert_int_equal(log_capture_count(&fx->lc, "[lun0 file] fail_read: read"), 5);
	assert_int_equal(log_capture_count(&fx->lc, "[lun1 file] fail_read: read"), 5);
	assert_int_equal(log_capture_count(&fx->lc, "[lun0 file] test_log_limit_per_device_and_"
						    "site: other site"), 5);
	assert_int_equal(log_sink_suppressed(fx->sink), 45);
}

/* Debug (asked for) is not limited. */
static void test_log_debug_not_limited(void **state)
{
	struct fx *fx = *state;

	for (unsigned int i = 0; i < 50; i++)
		log_dbg(&fx->lc.log, "lun0 file", "step %u", i);
	assert_int_equal(log_capture_count(&fx->lc, "DEBUG [lun0 file]"), 50);
	assert_int_equal(log_sink_suppressed(fx->sink), 0);
}

#define S 1000000000ull

/* The limiter on its own clock: the count comes back with the next line
 * in a new interval, or from log_limit_expire. */
static void count_rep(void *opaque, const struct log_suppressed *rep)
{
	struct log_suppressed *out = opaque;

	*out = *rep;
}

static void test_log_limit_intervals(void **state)
{
	static struct log_limit l;
	struct log_suppressed rep, got = { .n = 0 };
	unsigned int passed = 0;

	(void)state;
	memset(&l, 0, sizeof(l));
	log_limit_set(&l, 2, 1);
	for (unsigned int i = 0; i < 5; i++) {
		passed += log_limit_pass(&l, "lun0 file", __func__, 10 * S + i, &rep);
		assert_int_equal(rep.n, 0);
	}
	assert_int_equal(passed, 2);
	/* Still the same interval: nothing due. */
	log_limit_expire(&l, 10 * S + S / 2, count_rep, &got);
	assert_int_equal(got.n, 0);
	/* The next line a second later passes, with the count first. */
	assert_true(log_limit_pass(&l, "lun0 file", __func__, 11 * S + 1, &rep));
	assert_int_equal(rep.n, 3);
	assert_string_equal(rep.who, "lun0 file");
	assert_string_equal(rep.func, __func__);
	/* Quiet after a burst: the expiry reports it. */
	for (unsigned int i = 0; i < 4; i++)
		log_limit_pass(&l, "lun0 file", __func__, 11 * S + 2, &rep);
	log_limit_expire(&l, 13 * S, count_rep, &got);
	assert_int_equal(got.n, 3);
	assert_string_equal(got.who, "lun0 file");
	got.n = 0;
	log_limit_expire(&l, 20 * S, count_rep, &got);
	assert_int_equal(got.n, 0);
}

/* More sites than slots: an evicted site's count is handed back. */
static void test_log_limit_eviction_keeps_counts(void **state)
{
	static struct log_limit l;
	struct log_suppressed rep;
	unsigned long dropped = 0, reported = 0;
	char who[32];

	(void)state;
	memset(&l, 0, sizeof(l));
	log_limit_set(&l, 1, 60);
	for (unsigned int round = 0; round < 3; round++) {
		for (unsigned int d = 0; d < 3 * LOG_LIMIT_SITES; d++) {
			snprintf(who, sizeof(who), "lun%u file", d);
			if (!log_limit_pass(&l, who, __func__, S, &rep))
				dropped++;
			reported += rep.n;
		}
	}
	/* What is not reported yet is still counted in a slot. */
	for (unsigned int i = 0; i < LOG_LIMIT_SITES; i++)
		reported += l.sites[i].suppressed;
	assert_int_equal(reported, dropped);
}

static void test_log_file_rotation(void **state)
{
	char dir[] = "/tmp/tcmu-rot-XXXXXX", path[64], name[80];
	struct log_sink_cfg c;
	struct log_sink *sink;
	struct log_cfg log;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tcmu.log", dir);
	log_sink_cfg_default(&c);
	c.dest = LOG_DEST_FILE;
	snprintf(c.path, sizeof(c.path), "%s", path);
	c.max_bytes = 1000;
	c.keep = 2;
	c.burst = 0;
	assert_int_equal(log_sink_new(&sink, &c), 0);
	log_init(&log, false);
	log.sink = sink;
	for (unsigned int i = 0; i < 100; i++)
		log_info(&log, "lun0 file", "line %u of a file that rotates", i);
	log_sink_free(sink);
	for (unsigned int i = 1; i <= 3; i++) {
		snprintf(name, sizeof(name), "%s.%u", path, i);
		assert_int_equal(stat(name, &st), i <= 2 ? 0 : -1);
		if (i <= 2)
			assert_true(st.st_size >= 1000 && st.st_size < 1200);
		unlink(name);
	}
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < 1000);
	unlink(path);
	rmdir(dir);
}

/* A file that cannot be opened leaves the sink as it was. */
static void test_log_sink_bad_file_keeps_old(void **state)
{
	struct fx *fx = *state;
	struct log_sink_cfg c;

	log_sink_cfg_default(&c);
	c.dest = LOG_DEST_FILE;
	snprintf(c.path, sizeof(c.path), "/nonexistent-dir/x.log");
	assert_int_equal(log_sink_apply(fx->sink, &c), -ENOENT);
	log_err(&fx->lc.log, "lun0 file", "still here");
	assert_int_equal(log_capture_count(&fx->lc, "still here"), 1);
}

static void test_log_level_names(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("error"), TCMU_LOG_ERR);
	assert_int_equal(log_level_parse("WARNING"), TCMU_LOG_WARN);
	assert_int_equal(log_level_parse("info"), TCMU_LOG_INFO);
	assert_int_equal(log_level_parse("debug"), TCMU_LOG_DEBUG);
	assert_int_equal(log_level_parse("trace"), LOG_PRIO_TRACE);
	assert_int_equal(log_level_parse("loud"), -1);
	assert_string_equal(log_level_name(LOG_PRIO_TRACE), "trace");
	assert_string_equal(log_level_name(TCMU_LOG_WARN), "warning");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_log_burst_then_suppressed_count, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_log_limit_per_device_and_site, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_log_debug_not_limited, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_log_limit_intervals),
		cmocka_unit_test(test_log_limit_eviction_keeps_counts),
		cmocka_unit_test(test_log_file_rotation),
		cmocka_unit_test_setup_teardown(test_log_sink_bad_file_keeps_old, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_log_level_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
