/*
 * Unit attentions after a RECONFIG from the kernel (dev_ua.h): a new
 * size, a new config (a medium change) or a new write cache setting is
 * applied, passed to the handler, and reported once to the next command
 * that is not INQUIRY, REPORT LUNS or REQUEST SENSE; a condition raised
 * again while pending is reported once, and several in the order raised.
 */
#include <stdio.h>
#include <string.h>

#include "dev_ua.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define MEM_SIZE (1 << 20)

static int mem_setup_opts(void **state, const char *opts)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = MEM_SIZE };
	struct sim_dev *sd;

	if (sim_dev_new(&sd, &cfg))
		return -1;
	*state = sd;
	return 0;
}

static int mem_setup(void **state)
{
	return mem_setup_opts(state, "");
}

static int fixed_setup(void **state)
{
	return mem_setup_opts(state, "fixed_size");
}

static int no_fua_setup(void **state)
{
	return mem_setup_opts(state, "no_fua");
}

static struct sim_cmd *tur(struct sim_dev *sd)
{
	uint8_t cdb[6] = { TEST_UNIT_READY };

	return sim_dev_run(sd, cdb, 6, NULL, 0);
}

static struct sim_cmd *inquiry(struct sim_dev *sd)
{
	uint8_t cdb[6] = { INQUIRY, 0, 0, 0, 96, 0 };

	return sim_dev_run(sd, cdb, 6, NULL, 96);
}

static struct sim_cmd *read10(struct sim_dev *sd, uint32_t lba)
{
	uint8_t cdb[10] = { READ_10 };

	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, 1);
	return sim_dev_run(sd, cdb, 10, NULL, 512);
}

static struct sim_cmd *write10(struct sim_dev *sd, uint32_t lba)
{
	uint8_t cdb[10] = { WRITE_10 }, buf[512] = { 7 };

	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, 1);
	return sim_dev_run(sd, cdb, 10, buf, 512);
}

/* READ CAPACITY(16)'s last LBA; the command must succeed. */
static uint64_t last_lba(struct sim_dev *sd)
{
	uint8_t cdb[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16 };
	struct sim_cmd *c;

	tcmu_put_be32(cdb + 10, 32);
	c = sim_dev_run(sd, cdb, 16, NULL, 32);
	assert_good(c);
	return tcmu_get_be64(c->data);
}

static int resize(struct sim_dev *sd, uint64_t size)
{
	struct tcmu_reconfig rc = { .has_size = true, .size = size };

	return dev_reconfig(sd->dev, &rc);
}

/* A grown LUN: one UA 2A/09 on the next TEST UNIT READY, INQUIRY lets
 * it be, then GOOD; READ CAPACITY(16) and I/O see the new size, and the
 * handler was told it. */
static void test_ua_capacity_changed_once(void **state)
{
	struct sim_dev *sd = *state;
	struct mem_reconfig_seen seen;

	assert_int_equal(last_lba(sd), MEM_SIZE / 512 - 1);
	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	assert_good(inquiry(sd));
	assert_sense(tur(sd), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_good(tur(sd));
	assert_int_equal(last_lba(sd), 2 * MEM_SIZE / 512 - 1);
	assert_good(read10(sd, 2 * MEM_SIZE / 512 - 1));
	mem_handler_reconfig_seen(sd->dev, &seen);
	assert_int_equal(seen.calls, 1);
	assert_true(seen.has_size);
	assert_int_equal(seen.size, 2 * MEM_SIZE);
	assert_false(seen.has_write_cache);
	/* The same size again is no change: no call, no UA. */
	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	assert_good(tur(sd));
	mem_handler_reconfig_seen(sd->dev, &seen);
	assert_int_equal(seen.calls, 1);
}

/* A READ after the change gets the UA instead of its data, once. */
static void test_ua_on_read(void **state)
{
	struct sim_dev *sd = *state;

	assert_int_equal(resize(sd, MEM_SIZE / 2), 0);
	assert_sense(read10(sd, 0), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_good(read10(sd, 0));
	assert_int_equal(last_lba(sd), MEM_SIZE / 2 / 512 - 1);
	assert_sense(read10(sd, MEM_SIZE / 2 / 512), SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
}

/* REQUEST SENSE returns the condition as its data and clears it. */
static void test_ua_request_sense_returns_it(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[6] = { REQUEST_SENSE, 0, 0, 0, 18, 0 };
	struct sim_cmd *c;

	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	c = sim_dev_run(sd, cdb, 6, NULL, 18);
	assert_good(c);
	assert_int_equal(c->data[0] & 0x7f, 0x70);
	assert_int_equal(c->data[2] & 0x0f, SENSE_UNIT_ATTENTION);
	assert_int_equal(c->data[12], 0x2a);
	assert_int_equal(c->data[13], 0x09);
	assert_good(tur(sd));
	c = sim_dev_run(sd, cdb, 6, NULL, 18);
	assert_good(c);
	assert_int_equal(c->data[2] & 0x0f, SENSE_NO_SENSE);
	assert_int_equal(c->data[12], 0);
}

/* A new config string (what ChangeMedium writes): 28/00. ChangeMedium
 * then writes the size: both are reported, in order. */
static void test_ua_medium_changed(void **state)
{
	struct sim_dev *sd = *state;
	struct tcmu_reconfig rc = { .has_config = true };

	snprintf(rc.config, sizeof(rc.config), "mem/async");
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_string_equal(tcmur_dev_config(sd->dev), "async");
	assert_sense(tur(sd), SENSE_UNIT_ATTENTION, 0x28, 0x00);
	assert_good(tur(sd));

	snprintf(rc.config, sizeof(rc.config), "mem/");
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	assert_sense(tur(sd), SENSE_UNIT_ATTENTION, 0x28, 0x00);
	assert_sense(tur(sd), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_good(tur(sd));
	assert_int_equal(last_lba(sd), 2 * MEM_SIZE / 512 - 1);
}

/* MODE SENSE caching page 8: WCE follows the kernel's setting. */
static bool mode_sense_wce(struct sim_dev *sd)
{
	uint8_t cdb[6] = { MODE_SENSE_6, 0x08, 0x08, 0, 255, 0 };
	struct sim_cmd *c = sim_dev_run(sd, cdb, 6, NULL, 255);

	assert_good(c);
	assert_int_equal(c->data[4], 0x08);
	return c->data[6] & 0x04;
}

/* Write cache off: MODE PARAMETERS CHANGED (2A/01), WCE clear, the
 * handler told, and writes stable at completion (a flush after each, as
 * this handler can't do FUA). */
static void test_ua_write_cache_change(void **state)
{
	struct sim_dev *sd = *state;
	struct tcmu_reconfig rc = { .has_write_cache = true, .write_cache = false };
	uint8_t cdb[6] = { MODE_SENSE_6, 0x08, 0x08, 0, 255, 0 };
	struct mem_reconfig_seen seen;

	assert_true(mode_sense_wce(sd));
	assert_good(write10(sd, 1));
	assert_int_equal(mem_handler_flushes(sd->dev), 0);

	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	/* What the cache acknowledged was flushed before it went off. */
	assert_int_equal(mem_handler_flushes(sd->dev), 1);
	assert_sense(sim_dev_run(sd, cdb, 6, NULL, 255), SENSE_UNIT_ATTENTION, 0x2a, 0x01);
	assert_false(mode_sense_wce(sd));
	assert_false(tcmur_dev_write_cache(sd->dev));
	mem_handler_reconfig_seen(sd->dev, &seen);
	assert_int_equal(seen.calls, 1);
	assert_true(seen.has_write_cache);
	assert_false(seen.write_cache);
	assert_false(seen.has_size);
	assert_good(write10(sd, 1));
	assert_int_equal(mem_handler_flushes(sd->dev), 2);
}

static int set_write_cache(struct sim_dev *sd, bool on)
{
	struct tcmu_reconfig rc = { .has_write_cache = true, .write_cache = on };

	return dev_reconfig(sd->dev, &rc);
}

/* READ(10) of block @lba: GOOD, and its data is @want. */
static void assert_read_back(struct sim_dev *sd, uint32_t lba, const uint8_t *want)
{
	struct sim_cmd *c = read10(sd, lba);

	assert_good(c);
	assert_memory_equal(c->data, want, 512);
}

/* The same condition raised again before a command reports it is not
 * queued again (SPC-4 5.14: a condition already established is not
 * established twice): two resizes and two write cache changes give one
 * 2A/09 and one 2A/01, in the order first raised, one per command; the
 * third READ runs and returns what was written before. */
static void test_ua_repeat_reported_once(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t want[512] = { 7 };

	assert_good(write10(sd, 3));
	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	assert_int_equal(set_write_cache(sd, false), 0);
	assert_int_equal(resize(sd, 3 * MEM_SIZE), 0);
	assert_int_equal(set_write_cache(sd, true), 0);
	assert_int_equal(resize(sd, 4 * MEM_SIZE), 0);
	assert_sense(read10(sd, 3), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_sense(read10(sd, 3), SENSE_UNIT_ATTENTION, 0x2a, 0x01);
	assert_read_back(sd, 3, want);
	assert_good(tur(sd));
	assert_int_equal(last_lba(sd), 4 * MEM_SIZE / 512 - 1);
	/* Reported and cleared: raised again, it is a new condition. */
	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	assert_sense(tur(sd), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_read_back(sd, 3, want);
}

static int set_config(struct sim_dev *sd, const char *cfg)
{
	struct tcmu_reconfig rc = { .has_config = true };

	snprintf(rc.config, sizeof(rc.config), "mem/%s", cfg);
	return dev_reconfig(sd->dev, &rc);
}

/* Every kind of condition the daemon raises (29/00 only at start-up,
 * raised here directly), each twice, interleaved: the queue holds each
 * once, so none is dropped for want of room, and the four are reported
 * in the order first raised before a command runs. */
static void test_ua_every_kind_twice(void **state)
{
	struct sim_dev *sd = *state;
	static const uint16_t want[] = { 0x2900, 0x2a09, 0x2800, 0x2a01 };

	dev_ua_raise(sd->dev, ASC_POWER_ON_RESET);
	assert_int_equal(resize(sd, 2 * MEM_SIZE), 0);
	assert_int_equal(set_config(sd, "async"), 0);
	assert_int_equal(resize(sd, 3 * MEM_SIZE), 0);
	assert_int_equal(set_write_cache(sd, false), 0);
	dev_ua_raise(sd->dev, ASC_POWER_ON_RESET);
	assert_int_equal(set_config(sd, ""), 0);
	assert_int_equal(set_write_cache(sd, true), 0);
	for (unsigned int i = 0; i < 4; i++)
		assert_sense(write10(sd, 1), SENSE_UNIT_ATTENTION, want[i] >> 8,
			     want[i] & 0xff);
	assert_good(write10(sd, 1));
	assert_int_equal(mem_handler_data(sd->dev)[512], 7);
	assert_good(tur(sd));
}

/* A handler that refuses the new size: the RECONFIG fails with its
 * errno, the old size stays, no UA. */
static void test_ua_refused_resize(void **state)
{
	struct sim_dev *sd = *state;
	struct mem_reconfig_seen seen;

	assert_int_equal(resize(sd, 2 * MEM_SIZE), -EPERM);
	assert_good(tur(sd));
	assert_int_equal(last_lba(sd), MEM_SIZE / 512 - 1);
	assert_int_equal(tcmur_dev_size(sd->dev), MEM_SIZE);
	mem_handler_reconfig_seen(sd->dev, &seen);
	assert_int_equal(seen.calls, 1);
	assert_true(seen.has_size);
}

/* A handler built against API 1.1 is not told of size changes (it was
 * never called for them); the daemon applies them and raises the UA. */
static void test_ua_resize_old_api_handler(void **state)
{
	struct tcmur_handler ops = mem_handler_ops;
	struct sim_dev_cfg cfg = { .ops = &ops, .handler_cfg = "", .size = MEM_SIZE };
	struct mem_reconfig_seen seen;
	struct sim_dev *sd;

	(void)state;
	ops.api_version = 1 << 16 | 1;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_int_equal(resize(sd, MEM_SIZE / 2), 0);
	assert_sense(tur(sd), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_int_equal(last_lba(sd), MEM_SIZE / 2 / 512 - 1);
	mem_handler_reconfig_seen(sd->dev, &seen);
	assert_int_equal(seen.calls, 0);
	sim_dev_free(sd);
}

int main(void)
{
#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_ua_capacity_changed_once, mem_setup),
		T(test_ua_on_read, mem_setup),
		T(test_ua_request_sense_returns_it, mem_setup),
		T(test_ua_medium_changed, mem_setup),
		T(test_ua_write_cache_change, no_fua_setup),
		T(test_ua_refused_resize, fixed_setup),
		T(test_ua_repeat_reported_once, mem_setup),
		T(test_ua_every_kind_twice, mem_setup),
		cmocka_unit_test(test_ua_resize_old_api_handler),
	};

	return cmocka_run_group_tests_name("device_unit_attention", tests, NULL, NULL);
}
