/*
 * The device as a whole: its thread draining the ring, I/O threads,
 * completions told to the kernel, open failures, reconfiguration.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define MEM_SIZE (4 << 20)

static int mem_setup_cfg(void **state, const char *opts, uint32_t cmdr_size)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = MEM_SIZE, .ring.cmdr_size = cmdr_size };
	struct sim_dev *sd;

	if (sim_dev_new(&sd, &cfg))
		return -1;
	*state = sd;
	return 0;
}

static int mem_setup(void **state)
{
	return mem_setup_cfg(state, "", 0);
}

static int mem_setup_small_ring(void **state)
{
	return mem_setup_cfg(state, "", 4096);
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 7 + i * 3 + (i >> 8));
}

/* The kernel fills the ring before it notifies: all are served. */
static void test_device_ring_full_of_commands(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c[64];
	uint8_t buf[1024];
	unsigned int n = 0;

	for (;;) {
		uint8_t cdb[10];
		struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = buf,
				       .data_len = sizeof(buf), .iov_cnt = 2 };

		sim_rw10(cdb, WRITE_10, n * 2, 2);
		fill(buf, sizeof(buf), n);
		if (ring_sim_queue(sd->sim, &req, &c[n]))
			break;
		n++;
		assert_true(n < 64);
	}
	assert_true(n >= 20);
	ring_sim_notify(sd->sim);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (unsigned int i = 0; i < n; i++) {
		assert_good(c[i]);
		fill(buf, sizeof(buf), i);
		assert_memory_equal(mem_handler_data(sd->dev) + i * 1024, buf, sizeof(buf));
	}

	/* And the reads of it, again a full ring (it starts elsewhere now,
	 * so a PAD may take the room of one). */
	unsigned int nr = 0;

	for (; nr < n; nr++) {
		uint8_t cdb[10];
		struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = 1024,
				       .iov_cnt = 2 };

		sim_rw10(cdb, READ_10, nr * 2, 2);
		if (ring_sim_queue(sd->sim, &req, &c[nr]))
			break;
	}
	assert_true(nr >= n - 1);
	ring_sim_notify(sd->sim);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (unsigned int i = 0; i < nr; i++) {
		assert_good(c[i]);
		fill(buf, sizeof(buf), i);
		assert_memory_equal(c[i]->data, buf, sizeof(buf));
	}
	assert_false(ring_sim_broken(sd->sim));
}

/* Thousands of commands, many in flight, reads checked against writes. */
static void test_device_many_commands(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t *shadow = calloc(1, MEM_SIZE);
	unsigned int seed = 1;

	for (int round = 0; round < 40; round++) {
		struct sim_cmd *c[48];
		uint32_t lba[48];
		uint16_t nb[48];
		bool wr[48];

		for (int i = 0; i < 48; i++) {
			uint8_t cdb[10], buf[8 * 512];
			struct sim_req req = { .cdb = cdb, .cdb_len = 10 };

			seed = seed * 1103515245 + 12345;
			/* Distinct block ranges within a round. */
			lba[i] = i * 160 + (seed >> 8) % 152;
			nb[i] = 1 + (seed >> 4) % 8;
			wr[i] = (seed >> 20) & 1;
			sim_rw10(cdb, wr[i] ? WRITE_10 : READ_10, lba[i], nb[i]);
			req.data_len = nb[i] * 512;
			req.iov_cnt = 1 + (seed >> 12) % 5;
			if (wr[i]) {
				fill(buf, req.data_len, seed);
				req.data = buf;
				memcpy(shadow + lba[i] * 512, buf, req.data_len);
			}
			assert_int_equal(ring_sim_queue(sd->sim, &req, &c[i]), 0);
			if (i % 7 == 6)
				ring_sim_notify(sd->sim);
		}
		ring_sim_notify(sd->sim);
		assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
		for (int i = 0; i < 48; i++) {
			assert_good(c[i]);
			if (!wr[i])
				assert_memory_equal(c[i]->data, shadow + lba[i] * 512,
						    nb[i] * 512);
			ring_sim_cmd_free(sd->sim, c[i]);
		}
	}
	assert_memory_equal(mem_handler_data(sd->dev), shadow, MEM_SIZE);
	free(shadow);
}

/*
 * A slow command finishing after faster ones that were queued behind it
 * on other I/O threads must still tell the kernel: no completion may sit
 * in the ring unannounced.
 */
static void test_device_last_completion_is_kicked(void **state)
{
	struct sim_dev *sd = *state;

	for (int round = 0; round < 5; round++) {
		struct sim_cmd *c[8];

		for (int i = 0; i < 8; i++) {
			uint8_t cdb[10];
			struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = 512 };

			/* The fifth reads LBA 0, which the handler makes slow. */
			sim_rw10(cdb, READ_10, i == 4 ? 0 : 100 + i, 1);
			assert_int_equal(ring_sim_queue(sd->sim, &req, &c[i]), 0);
		}
		ring_sim_notify(sd->sim);
		assert_int_equal(ring_sim_wait(sd->sim, NULL, 2000), 0);
		for (int i = 0; i < 8; i++)
			assert_good(c[i]);
	}
}

static int slow_setup(void **state)
{
	return mem_setup_cfg(state, "slow_ms=100", 0);
}

/* A handler that fails to open: dev_new fails, leaks nothing, and
 * leaves the fd and map it does not own alone. */
static void test_device_open_failure(void **state)
{
	struct handler hd = { .ops = mem_handler_ops };
	struct dev_params params = { .size = 1 << 20, .block_size = 512 };
	struct tcmu_dev_info info = { 0 };
	struct tcmur_device *dev = NULL;
	struct ring_sim *sim;
	struct log_cfg log;

	(void)state;
	sim_log_init(&log);
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/2/lun9/mem/fail_open"), 0);
	assert_int_equal(ring_sim_new(&sim, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(dev_new(&dev, &info, &hd, &params, ring_sim_fd(sim),
					 ring_sim_map(sim), ring_sim_map_size(sim), false, &log),
				 -EIO);
		assert_null(dev);
		assert_true(fcntl(ring_sim_fd(sim), F_GETFD) >= 0);
	}
	/* A mailbox that is no ring: refused before the handler is asked. */
	ring_sim_mailbox(sim)->version = 7;
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/2/lun9/mem/"), 0);
	assert_int_equal(dev_new(&dev, &info, &hd, &params, ring_sim_fd(sim),
				 ring_sim_map(sim), ring_sim_map_size(sim), false, &log),
			 -EINVAL);
	ring_sim_free(sim);
	sim_log_fini(&log);
}

/* A malformed entry gets HARDWARE ERROR; the device serves on. */
static void test_device_malformed_entry(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[10], tur[6] = { TEST_UNIT_READY };
	struct sim_req bad = { .cdb = cdb, .cdb_len = 10, .data_len = 512,
			       .corrupt = SIM_CORRUPT_IOV_PAST_MAP };
	struct sim_cmd *cb, *cg;

	sim_rw10(cdb, READ_10, 0, 1);
	assert_int_equal(ring_sim_queue(sd->sim, &bad, &cb), 0);
	cg = sim_dev_run(sd, tur, 6, NULL, 0);
	assert_good(cg);
	assert_int_equal(ring_sim_wait(sd->sim, cb, 1000), 0);
	assert_sense(cb, SENSE_HARDWARE_ERROR, 0x44, 0x00);
}

/* A TMR from the kernel does not disturb the commands around it. */
static void test_device_tmr_between_commands(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t tur[6] = { TEST_UNIT_READY };
	struct sim_req req = { .cdb = tur, .cdb_len = 6 };
	struct sim_cmd *c1, *c2;
	const struct sim_cmd *ids[1];

	assert_int_equal(ring_sim_queue(sd->sim, &req, &c1), 0);
	ids[0] = c1;
	assert_int_equal(ring_sim_queue_tmr(sd->sim, TCMU_TMR_ABORT_TASK, ids, 1), 0);
	assert_int_equal(ring_sim_queue(sd->sim, &req, &c2), 0);
	ring_sim_notify(sd->sim);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(c1);
	assert_good(c2);
}

/*
 * Writes a stuck async backend never completes (mem_handler "hold"), more
 * of them than the handler has I/O threads: READs and a TEST UNIT READY
 * behind them still complete, the writes stay in flight, and once the
 * backend lets go they complete GOOD with their data written.
 */
static void test_device_held_async_writes_do_not_block(void **state)
{
	struct sim_dev *sd = NULL;
	struct sim_cmd *w[4], *r[16];
	uint8_t wcdb[4][10], rcdb[16][10], buf[4][512], tur[6] = { TEST_UNIT_READY };

	(void)state;
	assert_int_equal(mem_setup_cfg((void **)&sd, "hold", 0), 0);
	for (int i = 0; i < 4; i++) {
		struct sim_req req = { .cdb = wcdb[i], .cdb_len = 10, .data = buf[i],
				       .data_len = 512 };

		sim_rw10(wcdb[i], WRITE_10, 100 + i, 1);
		fill(buf[i], 512, i);
		assert_int_equal(ring_sim_queue(sd->sim, &req, &w[i]), 0);
	}
	ring_sim_notify(sd->sim);
	assert_int_equal(mem_handler_held(sd->dev, 4, SIM_DEV_TIMEOUT_MS), 4);
	for (int i = 0; i < 16; i++) {
		struct sim_req req = { .cdb = rcdb[i], .cdb_len = 10, .data_len = 512 };

		sim_rw10(rcdb[i], READ_10, i, 1);
		assert_int_equal(ring_sim_queue(sd->sim, &req, &r[i]), 0);
	}
	ring_sim_notify(sd->sim);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(ring_sim_wait(sd->sim, r[i], SIM_DEV_TIMEOUT_MS), 0);
		assert_good(r[i]);
	}
	assert_good(sim_dev_run(sd, tur, 6, NULL, 0));
	for (int i = 0; i < 4; i++)
		assert_false(w[i]->done);
	assert_int_equal(ring_sim_inflight(sd->sim), 4);
	mem_handler_release(sd->dev);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (int i = 0; i < 4; i++) {
		assert_good(w[i]);
		assert_memory_equal(mem_handler_data(sd->dev) + (100 + i) * 512, buf[i], 512);
	}
	sim_dev_free(sd);
}

/* A handler that completes later, from threads of its own. */
static void test_device_async_completions(void **state)
{
	struct sim_dev *sd = NULL;
	uint8_t buf[4096];

	(void)state;
	assert_int_equal(mem_setup_cfg((void **)&sd, "async", 0), 0);
	for (int round = 0; round < 10; round++) {
		struct sim_cmd *c[16];

		for (int i = 0; i < 16; i++) {
			uint8_t cdb[10];
			struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = buf,
					       .data_len = 2048, .iov_cnt = 1 + i % 3 };

			fill(buf, 2048, round * 16 + i);
			sim_rw10(cdb, WRITE_10, i * 4, 4);
			assert_int_equal(ring_sim_queue(sd->sim, &req, &c[i]), 0);
		}
		ring_sim_notify(sd->sim);
		assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
		for (int i = 0; i < 16; i++) {
			uint8_t cdb[10];
			struct sim_cmd *r;

			assert_good(c[i]);
			ring_sim_cmd_free(sd->sim, c[i]);
			sim_rw10(cdb, READ_10, i * 4, 4);
			r = sim_dev_run(sd, cdb, 10, NULL, 2048);
			assert_good(r);
			fill(buf, 2048, round * 16 + i);
			assert_memory_equal(r->data, buf, 2048);
			ring_sim_cmd_free(sd->sim, r);
		}
	}
	sim_dev_free(sd);
}

/* FUA on a handler that can't do it: the daemon flushes after the write,
 * also when the write completed asynchronously. */
static void test_device_fua_flush_after(void **state)
{
	static const char *opts[] = { "no_fua", "no_fua,async", "" };
	uint8_t buf[512] = { 1 }, cdb[10];

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct sim_dev *sd = NULL;
		unsigned int flushes;

		assert_int_equal(mem_setup_cfg((void **)&sd, opts[i], 0), 0);
		sim_rw10(cdb, WRITE_10, 1, 1);
		assert_good(sim_dev_run(sd, cdb, 10, buf, 512));
		assert_int_equal(mem_handler_flushes(sd->dev), 0);
		cdb[1] = 0x08;	/* FUA */
		assert_good(sim_dev_run(sd, cdb, 10, buf, 512));
		flushes = mem_handler_flushes(sd->dev);
		assert_int_equal(flushes, opts[i][0] ? 1 : 0);
		assert_int_equal(mem_handler_data(sd->dev)[512], 1);
		sim_dev_free(sd);
	}
}

/* ---- reconfiguration (file handler) -------------------------------------- */

static void test_device_reconfig_new_file(void **state)
{
	struct sim_dev *sd = *state;
	char other[64], cfg[128];
	uint8_t cdb[10], buf[512];
	struct tcmu_reconfig rc = { .has_config = true };
	struct sim_cmd *c;
	int fd;

	snprintf(other, sizeof(other), "/tmp/tcmu-unit-XXXXXX");
	fd = mkstemp(other);
	assert_true(fd >= 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 512 * 3), 512);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);

	snprintf(rc.config, sizeof(rc.config), "file/%s", other);
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_string_equal(tcmur_dev_config(sd->dev), other);
	sim_rw10(cdb, READ_10, 3, 1);
	/* MEDIUM MAY HAVE CHANGED, once (test_device_unit_attention.c). */
	assert_sense(sim_dev_run(sd, cdb, 10, NULL, 512), SENSE_UNIT_ATTENTION, 0x28, 0x00);
	c = sim_dev_run(sd, cdb, 10, NULL, 512);
	assert_good(c);
	assert_memory_equal(c->data, buf, 512);

	/* Another handler's config: refused, nothing changes. */
	snprintf(rc.config, sizeof(rc.config), "rbd/pool/img");
	assert_int_equal(dev_reconfig(sd->dev, &rc), -EINVAL);
	/* A missing file: refused, and the old one stays in use. */
	snprintf(rc.config, sizeof(rc.config), "file//nonexistent/x.img");
	assert_int_not_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_string_equal(tcmur_dev_config(sd->dev), other);
	c = sim_dev_run(sd, cdb, 10, NULL, 512);
	assert_good(c);
	assert_memory_equal(c->data, buf, 512);

	snprintf(cfg, sizeof(cfg), "file/%s", sd->path);
	snprintf(rc.config, sizeof(rc.config), "%s", cfg);
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	unlink(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_device_ring_full_of_commands,
						mem_setup_small_ring, sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_device_many_commands, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_device_last_completion_is_kicked,
						slow_setup, sim_dev_teardown),
		cmocka_unit_test(test_device_open_failure),
		cmocka_unit_test(test_device_async_completions),
		cmocka_unit_test(test_device_held_async_writes_do_not_block),
		cmocka_unit_test(test_device_fua_flush_after),
		cmocka_unit_test_setup_teardown(test_device_malformed_entry, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_device_tmr_between_commands, mem_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_device_reconfig_new_file, sim_dev_setup,
						sim_dev_teardown),
	};

	return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
