/*
 * Per-device I/O statistics (dev_stats.h) as the simulator drives a
 * device: reads and writes counted with their bytes, failed ones as
 * errors, other commands apart, latency percentiles in order, a write
 * held past the limit as a time-out and in flight meanwhile; the
 * histogram's buckets; the hook for a handler's own figures; and the
 * per-command trace line, there only at the trace level.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dev_stats.h"
#include "device.h"
#include "log_capture.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define MEM_SIZE (1 << 20)

static int mem_setup(void **state)
{
	struct sim_dev *sd;

	if (sim_dev_mem_new(&sd, "", MEM_SIZE))
		return -1;
	*state = sd;
	return 0;
}

static struct sim_cmd *rw(struct sim_dev *sd, uint8_t op, uint32_t lba, uint16_t n)
{
	static uint8_t buf[64 * 512];
	uint8_t cdb[10];

	sim_rw10(cdb, op, lba, n);
	return sim_dev_run(sd, cdb, 10, op == WRITE_10 ? buf : NULL, n * 512u);
}

/* 10 writes of 8 blocks, 5 reads of 4 of which one fails, an INQUIRY. */
static void test_stats_count_reads_writes_errors(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t inq[6] = { INQUIRY, 0, 0, 0, 96, 0 };
	struct dev_stats_snap s;

	for (unsigned int i = 0; i < 10; i++)
		assert_good(rw(sd, WRITE_10, i * 8, 8));
	for (unsigned int i = 0; i < 4; i++)
		assert_good(rw(sd, READ_10, i * 4, 4));
	mem_handler_fail(sd->dev, MEM_OP_READ, 1, EIO);
	assert_int_equal(rw(sd, READ_10, 0, 4)->status, SAM_STAT_CHECK_CONDITION);
	assert_good(sim_dev_run(sd, inq, 6, NULL, 96));

	dev_stats_snapshot(sd->dev, &s);
	assert_int_equal(s.wr.cmds, 10);
	assert_int_equal(s.wr.bytes, 10 * 8 * 512);
	assert_int_equal(s.wr.errors, 0);
	assert_int_equal(s.rd.cmds, 5);
	assert_int_equal(s.rd.bytes, 4 * 4 * 512);	/* the failed one moved none */
	assert_int_equal(s.rd.errors, 1);
	assert_int_equal(s.rd.timeouts, 0);
	assert_int_equal(s.other_cmds, 1);
	assert_int_equal(s.other_errors, 0);
	assert_int_equal(s.aborted, 0);
	assert_int_equal(s.in_flight, 0);
	assert_true(s.wr.p50_us <= s.wr.p99_us && s.wr.p99_us <= s.wr.p999_us);
	assert_true(s.rd.p50_us <= s.rd.p99_us && s.rd.p99_us <= s.rd.p999_us);
	assert_true(s.rd.p999_us < 5 * 1000 * 1000);	/* all well under 5 s */
}

/* Commands of every READ and WRITE size count in their direction. */
static void test_stats_all_read_write_opcodes(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t r16[16] = { READ_16 }, w16[16] = { WRITE_16 }, buf[512] = { 0 };
	struct dev_stats_snap s;

	r16[13] = w16[13] = 1;		/* one block at LBA 0 */
	assert_good(sim_dev_run(sd, w16, 16, buf, 512));
	assert_good(sim_dev_run(sd, r16, 16, NULL, 512));
	dev_stats_snapshot(sd->dev, &s);
	assert_int_equal(s.rd.cmds, 1);
	assert_int_equal(s.wr.cmds, 1);
	assert_int_equal(s.rd.bytes, 512);
	assert_int_equal(s.wr.bytes, 512);
}

/* The latency of a slow read shows at the top of the percentiles. */
static void test_stats_latency_slow_read(void **state)
{
	struct dev_stats_snap s;
	struct sim_dev *sd;

	(void)state;
	assert_int_equal(sim_dev_mem_new(&sd, "slow_ms=30", MEM_SIZE), 0);
	for (unsigned int i = 0; i < 9; i++)
		assert_good(rw(sd, READ_10, 8 + i, 1));		/* fast: not at 0 */
	assert_good(rw(sd, READ_10, 0, 1));			/* 30 ms */
	dev_stats_snapshot(sd->dev, &s);
	assert_int_equal(s.rd.cmds, 10);
	/* The slow one is the top; how much above 30 ms it shows depends on
	 * the machine's load (the buckets' bound is test_stats_buckets'). */
	assert_true(s.rd.p999_us >= 30000);
	assert_true(s.rd.p999_us < 5 * 1000 * 1000);
	assert_true(s.rd.p50_us < 30000);
	sim_dev_free(sd);
}

/* A write the backend holds past the handler's limit: in flight while
 * held, a time-out (and a write) once it completes. */
static void test_stats_timeout_and_in_flight(void **state)
{
	struct tcmur_handler ops = mem_handler_ops;
	struct sim_dev_cfg cfg = { .ops = &ops, .handler_cfg = "hold", .size = MEM_SIZE };
	uint8_t cdb[10], data[512] = { 0 };
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = data, .data_len = 512 };
	struct dev_stats_snap s;
	struct sim_cmd *w = NULL;
	struct sim_dev *sd;

	(void)state;
	ops.cmd_time_out_ms = 50;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sim_rw10(cdb, WRITE_10, 0, 1);
	assert_int_equal(ring_sim_queue(sd->sim, &req, &w), 0);
	ring_sim_notify(sd->sim);
	assert_int_equal(mem_handler_held(sd->dev, 1, SIM_DEV_TIMEOUT_MS), 1);
	for (int i = 0; i < 300 && !dev_late_commands(sd->dev); i++)
		usleep(10000);
	assert_int_equal(dev_late_commands(sd->dev), 1);
	dev_stats_snapshot(sd->dev, &s);
	assert_int_equal(s.in_flight, 1);
	assert_int_equal(s.wr.cmds, 0);		/* counted when it ends */

	mem_handler_release(sd->dev);
	assert_int_equal(ring_sim_wait(sd->sim, w, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(w);
	dev_stats_snapshot(sd->dev, &s);
	assert_int_equal(s.in_flight, 0);
	assert_int_equal(s.wr.cmds, 1);
	assert_int_equal(s.wr.timeouts, 1);
	assert_int_equal(s.wr.errors, 0);
	assert_int_equal(s.wr.bytes, 512);
	assert_true(s.wr.p50_us >= 50000);
	sim_dev_free(sd);
}

/* Every bucket holds what it says: v <= max(bucket(v)), within 25 %. */
static void test_stats_buckets(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < 100000000; v = v * 9 / 8 + 1) {
		unsigned int b = dev_stats_bucket(v);
		uint64_t max = dev_stats_bucket_max(b);

		assert_true(v <= max);
		assert_true(max <= v + v / 4 + 1);
		assert_true(b == 0 || v > dev_stats_bucket_max(b - 1));
	}
	assert_int_equal(dev_stats_bucket(UINT64_MAX), DEV_STATS_BUCKETS - 1);
}

static void count_names(void *opaque, const char *name, uint64_t value, const char *str)
{
	char *seen = opaque;

	strcat(seen, name);
	strcat(seen, str ? "=s " : " ");
	(void)value;
}

/* The extras hook: a handler's figures come after the core's, by name. */
static void test_stats_extras_hook(void **state)
{
	struct dev_stats_snap s = { 0 };
	char seen[2048] = "";

	(void)state;
	assert_int_equal(dev_stats_add_extra(&s, "rbd", "locks_lost", 2, NULL), 0);
	assert_int_equal(dev_stats_add_extra(&s, "rbd", "lock_owner", 0, "client.4123"), 0);
	dev_stats_foreach(&s, count_names, seen);
	assert_non_null(strstr(seen, "read_cmds read_bytes read_errors read_timeouts "
				     "read_latency_p50_us"));
	assert_non_null(strstr(seen, "in_flight rbd.locks_lost rbd.lock_owner=s "));
	for (unsigned int i = 2; i < DEV_STATS_MAX_EXTRA; i++)
		assert_int_equal(dev_stats_add_extra(&s, "x", "y", i, NULL), 0);
	assert_int_equal(dev_stats_add_extra(&s, "x", "full", 0, NULL), -ENOSPC);
}

/* One trace line per command, naming the device, at level trace only. */
static void test_stats_trace_lines(void **state)
{
	struct log_capture lc;
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "",
				   .size = MEM_SIZE, .name = "lun7" };
	struct sim_dev *sd;

	(void)state;
	assert_int_equal(log_capture_new(&lc), 0);
	cfg.log = &lc.log;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_good(rw(sd, WRITE_10, 0, 2));
	assert_int_equal(log_capture_count(&lc, "dev_stats_done"), 0);
	log_set_level(&sd->log, LOG_PRIO_TRACE);
	assert_good(rw(sd, WRITE_10, 0, 2));
	assert_good(rw(sd, READ_10, 0, 2));
	assert_int_equal(log_capture_count(&lc, "TRACE [lun7 mem] dev_stats_done: cmd"), 2);
	assert_int_equal(log_capture_count(&lc, "opcode 0x28 1024 bytes: status 0x00"), 1);
	sim_dev_free(sd);
	log_capture_free(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stats_count_reads_writes_errors, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_stats_all_read_write_opcodes, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test(test_stats_latency_slow_read),
		cmocka_unit_test(test_stats_timeout_and_in_flight),
		cmocka_unit_test(test_stats_buckets),
		cmocka_unit_test(test_stats_extras_hook),
		cmocka_unit_test(test_stats_trace_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
