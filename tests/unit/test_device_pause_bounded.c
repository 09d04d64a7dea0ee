/*
 * A reconfigure while the device thread is stuck in an inline handler
 * call (API 1.3 inline_io: reads run on the device thread first). The
 * pause that a reconfigure needs joins the device thread; before, that
 * join had no bound, so the daemon's main loop (netlink, DBus, signals)
 * hung for as long as the handler did. Now the join waits a bounded time
 * (DEV_THREAD_JOIN_MS), then the change is refused with the reason
 * logged, and the device serves on with the thread it has.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "log_capture.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define MEM_SIZE (1 << 20)

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int resize(struct sim_dev *sd, uint64_t size)
{
	struct tcmu_reconfig rc = { .has_size = true, .size = size };

	return dev_reconfig(sd->dev, &rc);
}

static void test_reconfig_refused_while_inline_call_blocks(void **state)
{
	struct log_capture lc;
	struct sim_dev_cfg cfg = { .ops = &mem_inline_handler_ops, .handler_cfg = "slow_ms=3000",
				   .size = MEM_SIZE, .log = &lc.log };
	static const uint8_t tur[6] = { TEST_UNIT_READY };
	uint8_t cdb[10];
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = 512 };
	struct sim_dev *sd;
	struct sim_cmd *rd;
	long t0, took;
	char *line;
	int err;

	(void)state;
	assert_int_equal(log_capture_new(&lc), 0);
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sim_rw10(cdb, READ_10, 0, 1);
	assert_int_equal(ring_sim_queue(sd->sim, &req, &rd), 0);
	ring_sim_notify(sd->sim);
	for (int i = 0; i < 2000 && !mem_handler_nowait_calls(sd->dev); i++)
		usleep(1000);
	assert_int_equal(mem_handler_nowait_calls(sd->dev), 1);	/* in it, 3 s */
	t0 = now_ms();
	err = resize(sd, 2 * MEM_SIZE);
	took = now_ms() - t0;
	line = log_capture_line(&lc, "refused");
	print_message("resize during a 3 s inline read: %d (%s) after %ld ms; log: %s\n", err,
		      strerror(-err), took, line ? line : "(nothing refused)");
	free(line);
	assert_int_equal(err, -EBUSY);
	assert_true(took < 2500);
	assert_int_equal(log_capture_count(&lc, "inline"), 1);
	/* Served on: the read ends, later commands run, and the change
	 * goes through once the thread is free. */
	assert_int_equal(ring_sim_wait(sd->sim, rd, 5000), 0);
	assert_good(rd);
	assert_good(sim_dev_run(sd, tur, 6, NULL, 0));
	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	assert_sense(sim_dev_run(sd, tur, 6, NULL, 0), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	sim_dev_free(sd);
	log_capture_free(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconfig_refused_while_inline_call_blocks),
	};

	return cmocka_run_group_tests_name("device pause bounded", tests, NULL, NULL);
}
