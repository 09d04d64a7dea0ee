/*
 * A device whose thread can no longer serve its ring fails visibly: its
 * state says "failed", its owner is told (the daemon shows it on the bus
 * and retries), the log names the device; and a restart that cannot work
 * fails again instead of pretending.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "mem_handler.h"
#include "scsi_defs.h"
#include "sim_dev.h"
#include "unit_test.h"

struct failures {
	pthread_mutex_t lock;
	unsigned int count;
	unsigned int minor;
};

static void on_failed(void *opaque, unsigned int minor)
{
	struct failures *f = opaque;

	pthread_mutex_lock(&f->lock);
	f->count++;
	f->minor = minor;
	pthread_mutex_unlock(&f->lock);
}

static unsigned int failures_wait(struct failures *f, unsigned int want)
{
	unsigned int n = 0;

	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&f->lock);
		n = f->count;
		pthread_mutex_unlock(&f->lock);
		if (n >= want)
			break;
		usleep(10000);
	}
	return n;
}

static void test_device_fails_visibly_when_its_fd_hangs_up(void **state)
{
	struct failures f = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "",
				   .size = 1 << 20, .on_failed = on_failed,
				   .failed_opaque = &f };
	uint8_t tur[6] = { TEST_UNIT_READY };
	struct sim_dev *sd;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_string_equal(dev_state_name(sd->dev), "running");
	assert_good(sim_dev_run(sd, tur, sizeof(tur), NULL, 0));
	assert_int_equal(f.count, 0);

	ring_sim_hangup(sd->sim);
	assert_int_equal(failures_wait(&f, 1), 1);
	assert_int_equal(f.minor, sd->dev->info.uio_minor);
	assert_string_equal(dev_state_name(sd->dev), "failed");

	/* The fd is still dead: a restart fails again, and says so. */
	assert_int_equal(dev_restart(sd->dev), 0);	/* the thread starts... */
	assert_int_equal(failures_wait(&f, 2), 2);	/* ...and meets the hang-up */
	assert_string_equal(dev_state_name(sd->dev), "failed");
	sim_dev_free(sd);
}

/* The device stopped on purpose (removal) is not a failure. */
static void test_device_removal_is_not_a_failure(void **state)
{
	struct failures f = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "",
				   .size = 1 << 20, .on_failed = on_failed,
				   .failed_opaque = &f };
	struct sim_dev *sd;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sim_dev_free(sd);
	assert_int_equal(f.count, 0);
}

/* READ(10) of one block at LBA 0. */
static struct sim_cmd *read1(struct sim_dev *sd)
{
	uint8_t cdb[10];

	sim_rw10(cdb, READ_10, 0, 1);
	return sim_dev_run(sd, cdb, 10, NULL, 512);
}

/*
 * A handler whose backend connection died for good asks to be reopened
 * (API 1.4 tcmur_dev_reopen): the owner hears of it once however often
 * it asks; dev_reopen_now closes and opens the handler and the device
 * serves again with no unit attention (same medium). If the open fails,
 * the device answers NOT READY and the reopen stays wanted.
 */
static void test_device_reopen_at_handler_request(void **state)
{
	struct failures f = { .lock = PTHREAD_MUTEX_INITIALIZER };
	const char *opts[] = { "", "fail_reopen" };

	(void)state;
	for (int o = 0; o < 2; o++) {
		struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts[o],
					   .size = 1 << 20, .on_failed = on_failed,
					   .failed_opaque = &f };
		struct sim_dev *sd;

		f.count = 0;
		assert_int_equal(sim_dev_new(&sd, &cfg), 0);
		assert_good(read1(sd));
		assert_false(dev_wants_reopen(sd->dev));
		tcmur_dev_reopen(sd->dev, "the test's backend went away");
		tcmur_dev_reopen(sd->dev, "and says so again");
		assert_int_equal(failures_wait(&f, 1), 1);
		assert_true(dev_wants_reopen(sd->dev));
		if (o == 0) {
			assert_int_equal(dev_reopen_now(sd->dev), 0);
			assert_false(dev_wants_reopen(sd->dev));
			assert_string_equal(dev_state_name(sd->dev), "running");
			assert_good(read1(sd));
		} else {
			assert_int_equal(dev_reopen_now(sd->dev), -EIO);
			assert_true(dev_wants_reopen(sd->dev));
			assert_string_equal(dev_state_name(sd->dev), "offline");
			assert_sense(read1(sd), SENSE_NOT_READY, 0x04, 0x03);
		}
		sim_dev_free(sd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_fails_visibly_when_its_fd_hangs_up),
		cmocka_unit_test(test_device_removal_is_not_a_failure),
		cmocka_unit_test(test_device_reopen_at_handler_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
