/*
 * A device is never closed or freed under a command its handler still
 * holds: removal returns at once and leaves the freeing to the device's
 * own thread, which waits for the last late completion (ASan sees any
 * use after free); a reconfigure that cannot drain is refused and the
 * device serves on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

struct fixture {
	struct sim_dev *sd;
	struct log_cfg log;
	FILE *logf;
};

static int held_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "hold",
				   .size = 1 << 20 };

	if (!fx)
		return -1;
	log_init(&fx->log, false);
	fx->logf = tmpfile();
	fx->log.out = fx->logf;
	cfg.log = &fx->log;
	if (!fx->logf || sim_dev_new(&fx->sd, &cfg)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int held_teardown(void **state)
{
	struct fixture *fx = *state;

	sim_dev_free(fx->sd);
	fclose(fx->logf);
	free(fx);
	return 0;
}

/* Whether the log so far has a line containing @what. */
static bool logged(struct fixture *fx, const char *what)
{
	char line[1024];
	bool found = false;

	fflush(fx->logf);
	rewind(fx->logf);
	while (!found && fgets(line, sizeof(line), fx->logf))
		found = strstr(line, what) != NULL;
	fseek(fx->logf, 0, SEEK_END);
	return found;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Queue @n one-block writes of byte @val at LBA 10..; wait till held. */
static void hold_writes(struct sim_dev *sd, struct sim_cmd **w, int n, uint8_t val)
{
	uint8_t cdb[10], buf[512];

	memset(buf, val, sizeof(buf));
	for (int i = 0; i < n; i++) {
		struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = buf,
				       .data_len = sizeof(buf) };

		sim_rw10(cdb, WRITE_10, 10 + i, 1);
		assert_int_equal(ring_sim_queue(sd->sim, &req, &w[i]), 0);
	}
	ring_sim_notify(sd->sim);
	assert_int_equal(mem_handler_held(sd->dev, n, SIM_DEV_TIMEOUT_MS), n);
}

static void test_removal_waits_for_held_commands_off_the_caller(void **state)
{
	struct fixture *fx = *state;
	struct sim_dev *sd = fx->sd;
	struct timespec until;
	struct sim_cmd *w[3];
	double t0;

	hold_writes(sd, w, 3, 0x5a);
	t0 = now_s();
	assert_false(dev_free(sd->dev));
	assert_true(now_s() - t0 < 2.0);	/* the caller is not held */
	assert_true(logged(fx, "removed with 3 commands still with the handler"));
	for (int i = 0; i < 3; i++)
		assert_false(w[i]->done);
	/* The device's memory and handler are still there for them. */
	mem_handler_release(sd->dev);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	assert_int_equal(sem_timedwait(&sd->freed, &until), 0);
	sd->dev = NULL;
	assert_true(logged(fx, "the handler's last commands completed: freed"));
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (int i = 0; i < 3; i++)
		assert_good(w[i]);
	assert_false(ring_sim_broken(sd->sim));
}

static void test_removal_of_idle_device_is_immediate(void **state)
{
	struct fixture *fx = *state;
	uint8_t tur[6] = { TEST_UNIT_READY };

	assert_good(sim_dev_run(fx->sd, tur, sizeof(tur), NULL, 0));
	assert_true(dev_free(fx->sd->dev));
	fx->sd->dev = NULL;
	assert_false(logged(fx, "still with the handler"));
}

static void test_reconfig_refused_while_commands_held(void **state)
{
	struct fixture *fx = *state;
	struct sim_dev *sd = fx->sd;
	struct tcmu_reconfig rc = { .has_size = true, .size = 2 << 20 };
	uint8_t tur[6] = { TEST_UNIT_READY }, rd[10];
	struct sim_cmd *w[1], *r;

	hold_writes(sd, w, 1, 0x33);
	assert_int_equal(dev_reconfig(sd->dev, &rc), -EBUSY);
	assert_true(logged(fx, "change refused"));
	assert_int_equal(tcmur_dev_size(sd->dev), 1 << 20);
	/* It serves on: the held write stays held, others run. */
	assert_good(sim_dev_run(sd, tur, sizeof(tur), NULL, 0));
	sim_rw10(rd, READ_10, 0, 1);
	r = sim_dev_run(sd, rd, sizeof(rd), NULL, 512);
	assert_good(r);
	assert_false(w[0]->done);
	mem_handler_release(sd->dev);
	assert_int_equal(ring_sim_wait(sd->sim, w[0], SIM_DEV_TIMEOUT_MS), 0);
	assert_good(w[0]);
	/* Drained now: the same change goes through. */
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_int_equal(tcmur_dev_size(sd->dev), 2 << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_removal_waits_for_held_commands_off_the_caller,
			held_setup, held_teardown),
		cmocka_unit_test_setup_teardown(test_removal_of_idle_device_is_immediate,
						held_setup, held_teardown),
		cmocka_unit_test_setup_teardown(test_reconfig_refused_while_commands_held,
						held_setup, held_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
