/*
 * The small commands and the dispatcher's refusals: TEST UNIT READY,
 * REQUEST SENSE, START STOP UNIT, unknown opcodes and service actions,
 * NACA; and the file handler's config check.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_dev.h"
#include "unit_test.h"

extern const struct tcmur_handler tcmur_handler_entry;

static void test_test_unit_ready(void **state)
{
	uint8_t cdb[6] = { TEST_UNIT_READY };

	assert_good(sim_dev_run(*state, cdb, 6, NULL, 0));
}

static void test_request_sense_fixed_and_descriptor(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t fixed[6] = { REQUEST_SENSE, 0, 0, 0, 252, 0 };
	uint8_t desc[6] = { REQUEST_SENSE, 0x01, 0, 0, 252, 0 };
	uint8_t shrt[6] = { REQUEST_SENSE, 0, 0, 0, 8, 0 };
	struct sim_cmd *c = sim_dev_run(sd, fixed, 6, NULL, 252);

	assert_good(c);
	assert_int_equal(c->data[0], 0x70);
	assert_int_equal(c->data[2], SENSE_NO_SENSE);
	assert_int_equal(c->data[7], 10);
	assert_int_equal(c->data[12], 0);
	assert_int_equal(c->data[13], 0);
	for (int i = 18; i < 252; i++)
		assert_int_equal(c->data[i], 0);

	c = sim_dev_run(sd, desc, 6, NULL, 252);
	assert_good(c);
	assert_int_equal(c->data[0], 0x72);
	assert_int_equal(c->data[1], SENSE_NO_SENSE);
	assert_int_equal(c->data[7], 0);

	c = sim_dev_run(sd, shrt, 6, NULL, 252);
	assert_good(c);
	assert_int_equal(c->data[0], 0x70);
	assert_int_equal(c->data[7], 10);
	assert_int_equal(c->data[8], 0);	/* cut at 8 */
}

static void test_start_stop_unit(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t start[6] = { START_STOP_UNIT, 0, 0, 0, 0x01, 0 };
	uint8_t stop[6] = { START_STOP_UNIT, 0x01, 0, 0, 0x00, 0 };
	uint8_t eject[6] = { START_STOP_UNIT, 0, 0, 0, 0x02, 0 };
	struct sim_cmd *c;

	assert_good(sim_dev_run(sd, start, 6, NULL, 0));
	assert_good(sim_dev_run(sd, stop, 6, NULL, 0));
	c = sim_dev_run(sd, eject, 6, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 4, 1);
}

static void test_unknown_opcode(void **state)
{
	struct sim_dev *sd = *state;
	static const uint8_t ops[] = { 0x02, 0x1c, 0x7e, 0xa0, 0xc0, 0xff };

	for (size_t i = 0; i < sizeof(ops); i++) {
		uint8_t cdb[16] = { ops[i] };
		struct sim_cmd *c = sim_dev_run(sd, cdb, 16, NULL, 512);

		assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
		for (size_t j = 0; j < c->data_len; j++)
			assert_int_equal(c->data[j], SIM_POISON);
	}
}

/* SERVICE ACTION IN(16) is known, service action 0x11 is not: the field
 * pointer names the SERVICE ACTION field. */
static void test_unknown_service_action(void **state)
{
	uint8_t cdb[16] = { SERVICE_ACTION_IN_16, 0x11, [13] = 32 };
	struct sim_cmd *c = sim_dev_run(*state, cdb, 16, NULL, 32);

	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 1, 4);
}

/* NACA set in the CONTROL byte: refused, pointing at bit 2 of it. */
static void test_naca_refused(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t tur[6] = { TEST_UNIT_READY, 0, 0, 0, 0, 0x04 };
	uint8_t rd10[10] = { READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0x04 };
	uint8_t rd16[16] = { READ_16, [13] = 1, [15] = 0x04 };
	uint8_t link[6] = { TEST_UNIT_READY, 0, 0, 0, 0, 0x01 };
	struct sim_cmd *c;

	c = sim_dev_run(sd, tur, 6, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 5, 2);
	c = sim_dev_run(sd, rd10, 10, NULL, 512);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 9, 2);
	c = sim_dev_run(sd, rd16, 16, NULL, 512);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 15, 2);
	/* No other CONTROL bit is taken either (no linked commands). */
	c = sim_dev_run(sd, link, 6, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_field_ptr(c, true, 5, 0);
}

/* Commands and status keep flowing after errors: a mix, many times. */
static void test_errors_do_not_stick(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t bad[6] = { 0x02 };
	uint8_t tur[6] = { TEST_UNIT_READY };

	for (int i = 0; i < 50; i++) {
		struct sim_cmd *c = sim_dev_run(sd, bad, 6, NULL, 0);

		assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
		ring_sim_cmd_free(sd->sim, c);
		c = sim_dev_run(sd, tur, 6, NULL, 0);
		assert_good(c);
		ring_sim_cmd_free(sd->sim, c);
	}
}

/* ---- the file handler's config check ------------------------------------ */

static void test_file_check_config_missing_file(void **state)
{
	const char *path = "/nonexistent-dir/lun0.img";
	char *reason = NULL;

	(void)state;
	assert_false(tcmur_handler_entry.check_config(path, &reason));
	assert_non_null(reason);
	assert_non_null(strstr(reason, path));
	assert_non_null(strstr(reason, "No such file"));
	free(reason);
}

static void test_file_check_config_other_refusals(void **state)
{
	char *reason = NULL;

	(void)state;
	assert_false(tcmur_handler_entry.check_config("relative/lun.img", &reason));
	assert_non_null(strstr(reason, "relative/lun.img"));
	assert_non_null(strstr(reason, "absolute"));
	free(reason);
	reason = NULL;
	assert_false(tcmur_handler_entry.check_config("/tmp", &reason));
	assert_non_null(strstr(reason, "/tmp"));
	free(reason);
	reason = NULL;
	assert_false(tcmur_handler_entry.check_config("", &reason));
	free(reason);
	/* No place for a reason: still an answer. */
	assert_false(tcmur_handler_entry.check_config("/nonexistent", NULL));
}

static void test_file_check_config_good(void **state)
{
	struct sim_dev *sd = *state;
	char *reason = NULL;

	assert_true(tcmur_handler_entry.check_config(sd->path, &reason));
	assert_null(reason);
}

/* The device refuses to open on a missing file, and dev_new fails cleanly. */
static void test_file_open_missing_file_fails(void **state)
{
	struct tcmu_dev_info info = { 0 };
	struct dev_params params = { .size = 1 << 20, .block_size = 512 };
	struct handler hd = { .ops = tcmur_handler_entry };
	struct tcmur_device *dev = NULL;
	struct ring_sim *sim;
	struct log_cfg log;

	(void)state;
	sim_log_init(&log);
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/0/x/file//nonexistent/x.img"), 0);
	assert_int_equal(ring_sim_new(&sim, NULL), 0);
	assert_int_equal(dev_new(&dev, &info, &hd, &params, ring_sim_fd(sim), ring_sim_map(sim),
				 ring_sim_map_size(sim), false, &log), -EINVAL);
	assert_null(dev);
	ring_sim_free(sim);
	sim_log_fini(&log);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_test_unit_ready),
		T(test_request_sense_fixed_and_descriptor),
		T(test_start_stop_unit),
		T(test_unknown_opcode),
		T(test_unknown_service_action),
		T(test_naca_refused),
		T(test_errors_do_not_stick),
		cmocka_unit_test(test_file_check_config_missing_file),
		cmocka_unit_test(test_file_check_config_other_refusals),
		T(test_file_check_config_good),
		cmocka_unit_test(test_file_open_missing_file_fails),
	};

	return cmocka_run_group_tests_name("scsi misc", tests, NULL, NULL);
}
