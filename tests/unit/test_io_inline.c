/*
 * I/O on the device's own thread (handler API 1.3, inline_io): reads,
 * writes and flushes of a handler that asks for it run as they come off
 * the ring, with cmd->nowait; what the handler puts off (TCMU_STS_AGAIN)
 * runs once more on an I/O thread; handlers that did not ask, or promise
 * one call at a time (SERIAL), never see nowait; I/O threads start only
 * when work waits for one.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "io_queue.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define MEM_SIZE (4 << 20)
#define ROUNDS 10
#define PER_ROUND 48

static int open_with(void **state, const struct tcmur_handler *ops, const char *opts)
{
	struct sim_dev_cfg cfg = { .ops = ops, .handler_cfg = opts, .size = MEM_SIZE };
	struct sim_dev *sd;

	if (sim_dev_new(&sd, &cfg))
		return -1;
	*state = sd;
	return 0;
}

static int inline_setup(void **state)
{
	return open_with(state, &mem_inline_handler_ops, "");
}

static int again_setup(void **state)
{
	return open_with(state, &mem_inline_handler_ops, "again");
}

static int again_slow_setup(void **state)
{
	return open_with(state, &mem_inline_handler_ops, "again,slow_ms=200");
}

static int again_always_setup(void **state)
{
	return open_with(state, &mem_inline_handler_ops, "again_always");
}

static int plain_setup(void **state)
{
	return open_with(state, &mem_handler_ops, "");
}

static int serial_setup(void **state)
{
	return open_with(state, &mem_serial_inline_handler_ops, "");
}

static int teardown(void **state)
{
	sim_dev_free(*state);
	return 0;
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 13 + i * 5 + (i >> 9));
}

/*
 * Rounds of reads, writes and SYNCHRONIZE CACHEs, many in flight, reads
 * checked against what was written. Returns the commands sent.
 */
static unsigned int mixed_io(struct sim_dev *sd)
{
	uint8_t *shadow = calloc(1, MEM_SIZE);
	unsigned int seed = 7, sent = 0;

	assert_non_null(shadow);
	for (int round = 0; round < ROUNDS; round++) {
		struct sim_cmd *c[PER_ROUND];
		uint32_t lba[PER_ROUND];
		uint16_t nb[PER_ROUND];
		int kind[PER_ROUND];	/* 0 read, 1 write, 2 flush */

		for (int i = 0; i < PER_ROUND; i++) {
			uint8_t cdb[10], buf[8 * 512];
			struct sim_req req = { .cdb = cdb, .cdb_len = 10 };

			seed = seed * 1103515245 + 12345;
			lba[i] = i * 160 + (seed >> 8) % 152;
			nb[i] = 1 + (seed >> 4) % 8;
			kind[i] = i % 11 == 10 ? 2 : (seed >> 20) & 1;
			if (kind[i] == 2) {
				memset(cdb, 0, sizeof(cdb));
				cdb[0] = SYNCHRONIZE_CACHE_10;
			} else {
				sim_rw10(cdb, kind[i] ? WRITE_10 : READ_10, lba[i], nb[i]);
				req.data_len = nb[i] * 512;
				req.iov_cnt = 1 + (seed >> 12) % 4;
			}
			if (kind[i] == 1) {
				fill(buf, req.data_len, seed);
				req.data = buf;
				memcpy(shadow + lba[i] * 512, buf, req.data_len);
			}
			assert_int_equal(ring_sim_queue(sd->sim, &req, &c[i]), 0);
			if (i % 5 == 4)
				ring_sim_notify(sd->sim);
		}
		ring_sim_notify(sd->sim);
		assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
		for (int i = 0; i < PER_ROUND; i++) {
			assert_good(c[i]);
			if (kind[i] == 0)
				assert_memory_equal(c[i]->data, shadow + lba[i] * 512,
						    nb[i] * 512);
			ring_sim_cmd_free(sd->sim, c[i]);
		}
		sent += PER_ROUND;
	}
	assert_memory_equal(mem_handler_data(sd->dev), shadow, MEM_SIZE);
	assert_false(ring_sim_broken(sd->sim));
	free(shadow);
	return sent;
}

/* Every I/O runs once, inline, and no second I/O thread ever starts. */
static void test_inline_io_runs_on_device_thread(void **state)
{
	struct sim_dev *sd = *state;
	unsigned int sent = mixed_io(sd);

	assert_int_equal(mem_handler_ios(sd->dev), sent);
	assert_int_equal(mem_handler_nowait_calls(sd->dev), sent);
	assert_int_equal(io_queue_threads(sd->dev->ioq), 1);
}

/* A handler that would wait: each command is tried inline once, then
 * done once on an I/O thread, with the same data. */
static void test_inline_again_runs_on_io_thread(void **state)
{
	struct sim_dev *sd = *state;
	unsigned int sent = mixed_io(sd);

	assert_int_equal(mem_handler_nowait_calls(sd->dev), sent);
	assert_int_equal(mem_handler_ios(sd->dev), sent);
}

/* Slow work put off to the I/O threads starts more of them (up to the
 * handler's two), and the device thread keeps serving meanwhile. */
static void test_io_threads_start_when_work_waits(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[10], tur[6] = { TEST_UNIT_READY };
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = 512 };
	struct sim_cmd *slow[3];

	assert_int_equal(io_queue_threads(sd->dev->ioq), 1);
	sim_rw10(cdb, READ_10, 0, 1);	/* LBA 0: mem sleeps 200 ms */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ring_sim_queue(sd->sim, &req, &slow[i]), 0);
	ring_sim_notify(sd->sim);
	assert_good(sim_dev_run(sd, tur, sizeof(tur), NULL, 0));
	assert_false(slow[2]->done);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (int i = 0; i < 3; i++)
		assert_good(slow[i]);
	assert_int_equal(io_queue_threads(sd->dev->ioq), 2);
}

/* TCMU_STS_AGAIN from a call that was not inline is a handler bug: the
 * command fails with HARDWARE ERROR, the device serves on. */
static void test_again_off_device_thread_fails_command(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[10], tur[6] = { TEST_UNIT_READY };
	struct sim_cmd *c;

	sim_rw10(cdb, READ_10, 8, 1);
	c = sim_dev_run(sd, cdb, sizeof(cdb), NULL, 512);
	assert_sense(c, SENSE_HARDWARE_ERROR, 0x44, 0x00);
	assert_good(sim_dev_run(sd, tur, sizeof(tur), NULL, 0));
}

/* No inline_io, or SERIAL with it: never called with nowait. */
static void test_not_inline_never_nowait(void **state)
{
	struct sim_dev *sd = *state;
	unsigned int sent = mixed_io(sd);

	assert_int_equal(mem_handler_ios(sd->dev), sent);
	assert_int_equal(mem_handler_nowait_calls(sd->dev), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inline_io_runs_on_device_thread,
						inline_setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_again_runs_on_io_thread,
						again_setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_threads_start_when_work_waits,
						again_slow_setup, teardown),
		cmocka_unit_test_setup_teardown(test_again_off_device_thread_fails_command,
						again_always_setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_inline_never_nowait,
						plain_setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_inline_never_nowait,
						serial_setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
