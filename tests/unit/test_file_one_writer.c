/*
 * One writer per image (handler_file, image_lock.h): a LUN takes QEMU's
 * image locks on its file, so a second LUN on a file the first serves is
 * refused (-EBUSY, the reason logged naming the file and the lock), as a
 * second process would be; with ;share_rw=on on both they open and
 * serve the same blocks; once the first closes, the second opens; the
 * first's reopen (a new config, or at the handler's request) is not
 * refused by its own old locks, and it holds them again afterwards.
 * What QEMU's own tools see is tests/host/test_image_locks.sh.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_capture.h"
#include "sim_dev.h"
#include "unit_test.h"

/* handler_file.c's table, linked in. */
extern const struct tcmur_handler tcmur_handler_entry;

#define SIZE (1 << 20)
#define IN_USE "in use: another process or LUN"

/* A second LUN ("lun2") on @cfg (the handler part); 0 or -errno, what
 * it logged in @lc if not NULL. */
static int second_lun(struct sim_dev **out, const char *cfg, struct log_capture *lc)
{
	struct sim_dev_cfg c = { .ops = &tcmur_handler_entry, .handler_cfg = cfg,
				 .size = SIZE, .name = "lun2", .log = lc ? &lc->log : NULL };

	*out = NULL;
	return sim_dev_new(out, &c);
}

/* Close the fixture's LUN (keeping its file). */
static void close_first(struct sim_dev *sd)
{
	if (!dev_free(sd->dev))
		sem_wait(&sd->freed);
	sd->dev = NULL;
}

/* The second LUN on @cfg is refused with -EBUSY, and says why on one
 * line, once: the file, "in use", and the lock in QEMU's words (@lock). */
static void assert_refused(const char *cfg, const char *path, const char *lock)
{
	struct log_capture lc;
	struct sim_dev *sd2;
	char *line;
	int err;

	assert_int_equal(log_capture_new(&lc), 0);
	err = second_lun(&sd2, cfg, &lc);
	line = log_capture_line(&lc, IN_USE);
	print_message("second LUN on %s: %s; %s\n", cfg, strerror(-err), line ? line : "");
	if (!err)
		sim_dev_free(sd2);
	assert_int_equal(err, -EBUSY);
	assert_non_null(line);
	assert_int_equal(log_capture_count(&lc, IN_USE), 1);
	assert_non_null(strstr(line, path));
	assert_non_null(strstr(line, lock));
	free(line);
	log_capture_free(&lc);
}

static void test_file_second_lun_refused(void **state)
{
	struct sim_dev *sd = *state;

	assert_refused(sd->path, sd->path, "does not share \"write\" (QEMU's lock byte 201)");
}

/* One LUN shares, the other does not: refused either way round. */
static void test_file_shared_and_unshared_refused(void **state)
{
	struct sim_dev *sd = *state;
	char shared[128];

	snprintf(shared, sizeof(shared), "%s;share_rw=on", sd->path);
	assert_refused(shared, sd->path, "does not share \"write\" (QEMU's lock byte 201)");
}

static void test_file_unshared_after_shared_refused(void **state)
{
	struct sim_dev *sd = *state, *first;
	char shared[128];

	snprintf(shared, sizeof(shared), "%s;share_rw=on", sd->path);
	/* The fixture's LUN goes; a shared one takes the file. */
	close_first(sd);
	assert_int_equal(second_lun(&first, shared, NULL), 0);
	assert_refused(sd->path, sd->path, "has it open for \"write\" (QEMU's lock byte 101)");
	sim_dev_free(first);
}

/* Both with ;share_rw=on: both open, and one reads what the other wrote. */
static void test_file_share_rw_both_open(void **state)
{
	struct sim_dev *sd = *state, *a, *b;
	uint8_t cdb[10], buf[4096];
	struct sim_cmd *c;
	char shared[128];

	snprintf(shared, sizeof(shared), "%s;share_rw=on", sd->path);
	close_first(sd);
	assert_int_equal(second_lun(&a, shared, NULL), 0);
	assert_int_equal(second_lun(&b, shared, NULL), 0);
	memset(buf, 0xa5, sizeof(buf));
	sim_rw10(cdb, WRITE_10, 8, 8);
	assert_good(sim_dev_run(a, cdb, sizeof(cdb), buf, sizeof(buf)));
	sim_rw10(cdb, READ_10, 8, 8);
	c = sim_dev_run(b, cdb, sizeof(cdb), NULL, sizeof(buf));
	assert_good(c);
	assert_memory_equal(c->data, buf, sizeof(buf));
	sim_dev_free(a);
	sim_dev_free(b);
}

/* The first LUN closes: its locks go with it, the second opens. */
static void test_file_second_opens_after_first_closes(void **state)
{
	struct sim_dev *sd = *state, *sd2;

	assert_int_equal(second_lun(&sd2, sd->path, NULL), -EBUSY);
	close_first(sd);
	assert_int_equal(second_lun(&sd2, sd->path, NULL), 0);
	sim_dev_free(sd2);
}

/* A reopen, by a new config string (the same file) or at the handler's
 * request, is not refused by the LUN's own locks; after it the LUN
 * still holds them. */
static void test_file_reopen_keeps_locks(void **state)
{
	struct sim_dev *sd = *state, *sd2;
	struct tcmu_reconfig rc = { .has_config = true };

	snprintf(rc.config, sizeof(rc.config), "file/%s", sd->path);
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_string_equal(dev_state_name(sd->dev), "running");
	assert_int_equal(second_lun(&sd2, sd->path, NULL), -EBUSY);
	tcmur_dev_reopen(sd->dev, "the test asks");
	assert_int_equal(dev_reopen_now(sd->dev), 0);
	assert_string_equal(dev_state_name(sd->dev), "running");
	assert_int_equal(second_lun(&sd2, sd->path, NULL), -EBUSY);
}

/* Values of the option other than on and off (empty, another case, a
 * second option after it): refused, with the reason. */
static void test_file_share_rw_bad_value(void **state)
{
	struct sim_dev *sd = *state;
	char cfg[128], *why = NULL;

	static const char *const bad[] = { "yes", "", "ON", "on;share_rw=off", "off " };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cfg, sizeof(cfg), "%s;share_rw=%s", sd->path, bad[i]);
		assert_false(tcmur_handler_entry.check_config(cfg, &why));
		assert_non_null(why);
		print_message("%s\n", why);
		assert_non_null(strstr(why, "share_rw must be on or off"));
		free(why);
		why = NULL;
	}
	/* Both values at their one spelling are taken; a relative path is not. */
	snprintf(cfg, sizeof(cfg), "%s;share_rw=off", sd->path);
	assert_true(tcmur_handler_entry.check_config(cfg, NULL));
	snprintf(cfg, sizeof(cfg), "%s;share_rw=on", sd->path);
	assert_true(tcmur_handler_entry.check_config(cfg, NULL));
	assert_false(tcmur_handler_entry.check_config(sd->path + 1, &why));
	assert_non_null(strstr(why, "path must be absolute"));
	free(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_second_lun_refused, sim_dev_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_file_shared_and_unshared_refused,
						sim_dev_setup, sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_file_unshared_after_shared_refused,
						sim_dev_setup, sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_file_share_rw_both_open, sim_dev_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_file_second_opens_after_first_closes,
						sim_dev_setup, sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_file_reopen_keeps_locks, sim_dev_setup,
						sim_dev_teardown),
		cmocka_unit_test_setup_teardown(test_file_share_rw_bad_value, sim_dev_setup,
						sim_dev_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
