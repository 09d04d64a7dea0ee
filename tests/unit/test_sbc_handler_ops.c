/*
 * WRITE SAME and COMPARE AND WRITE on a handler's own operations (API
 * 1.4: write_same, compare_and_write): one call per command, data and
 * sense as the emulation gives them, stability with the write cache off,
 * and the cases the daemon keeps for itself (WRITE SAME with UNMAP or
 * NDOB). A store shared between gateways needs these: only the store can
 * make COMPARE AND WRITE atomic against another daemon's writes.
 */
#include "dev_stats.h"
#include "sbc_cmds.h"

static struct sim_dev *native_dev_bs(const char *opts, bool write_cache_off, uint32_t bs)
{
	struct sim_dev_cfg cfg = { .ops = &mem_native_handler_ops, .handler_cfg = opts,
				   .size = 1 << 20, .write_cache_off = write_cache_off,
				   .block_size = bs };
	struct sim_dev *sd = NULL;

	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	return sd;
}

static struct sim_dev *native_dev(const char *opts, bool write_cache_off)
{
	return native_dev_bs(opts, write_cache_off, 512);
}

static struct sim_cmd *write_same16(struct sim_dev *sd, uint8_t b1, uint64_t lba,
				    uint32_t n, const void *blk)
{
	uint8_t cdb[16] = { WRITE_SAME_16, b1 };

	tcmu_put_be64(cdb + 2, lba);
	tcmu_put_be32(cdb + 10, n);
	return sim_dev_run(sd, cdb, 16, blk, blk ? 512 : 0);
}

static struct sim_cmd *caw(struct sim_dev *sd, uint64_t lba, uint8_t n, const uint8_t *cmp,
			   const uint8_t *data)
{
	uint8_t cdb[16] = { COMPARE_AND_WRITE };
	uint8_t *buf = malloc(2 * n * 512);
	struct sim_cmd *c;

	tcmu_put_be64(cdb + 2, lba);
	cdb[13] = n;
	memcpy(buf, cmp, n * 512);
	memcpy(buf + n * 512, data, n * 512);
	c = sim_dev_run_iov(sd, cdb, 16, buf, 2 * n * 512, 3);
	free(buf);
	return c;
}

/* 1500 blocks of one pattern in a single handler call. */
static void test_write_same_one_call(void **state)
{
	const char *opts[] = { "", "async" };

	(void)state;
	for (size_t o = 0; o < 2; o++) {
		struct sim_dev *sd = native_dev(opts[o], false);
		uint8_t blk[512], *want = malloc(1500 * 512);

		sbc_fill(blk, sizeof(blk), 7 + o);
		for (int i = 0; i < 1500; i++)
			memcpy(want + i * 512, blk, 512);
		assert_good(write_same16(sd, 0, 100, 1500, blk));
		assert_int_equal(mem_handler_native_calls(sd->dev), 1);
		assert_int_equal(mem_handler_ios(sd->dev), 1);
		assert_memory_equal(mem_handler_data(sd->dev) + 100 * 512, want, 1500 * 512);
		sbc_assert_zero_blocks(sd, 99, 1);
		sbc_assert_zero_blocks(sd, 1600, 1);
		free(want);
		sim_dev_free(sd);
	}
}

/* Range checks stay the daemon's: the handler never sees a bad one. */
static void test_write_same_checked_first(void **state)
{
	struct sim_dev *sd = native_dev("", false);
	uint8_t blk[512] = { 1 };
	struct sim_cmd *c;

	(void)state;
	c = write_same16(sd, 0, SBC_NLBAS - 1, 2, blk);
	sbc_assert_out_of_range(c, SBC_NLBAS - 1);
	c = write_same16(sd, 0, 0, 0, blk);
	sbc_assert_bad_cdb(c, 10, -1);
	assert_int_equal(mem_handler_native_calls(sd->dev), 0);
	sim_dev_free(sd);
}

/* UNMAP and NDOB go the emulation's way (write, or unmap). */
static void test_write_same_unmap_ndob_emulated(void **state)
{
	struct sim_dev *sd = native_dev("", false);
	uint8_t blk[512], ones[512];

	(void)state;
	memset(ones, 0x11, sizeof(ones));
	sbc_write(sd, 10, 1, ones);
	sbc_fill(blk, sizeof(blk), 3);
	assert_good(write_same16(sd, 0x08, 10, 4, blk));	/* UNMAP, not zeros */
	for (int i = 0; i < 4; i++)
		sbc_assert_blocks(sd, 10 + i, 1, blk);
	assert_good(write_same16(sd, 0x01, 10, 4, NULL));	/* NDOB: zeros */
	sbc_assert_zero_blocks(sd, 10, 4);
	assert_int_equal(mem_handler_native_calls(sd->dev), 0);
	sim_dev_free(sd);
}

/* Write cache off: stable at completion, by FUA or by a flush after. */
static void test_write_same_stable_without_cache(void **state)
{
	const char *opts[] = { "", "no_fua" };

	(void)state;
	for (size_t o = 0; o < 2; o++) {
		struct sim_dev *sd = native_dev(opts[o], true);
		uint8_t blk[512];

		sbc_fill(blk, sizeof(blk), 5);
		assert_good(write_same16(sd, 0, 0, 64, blk));
		assert_int_equal(mem_handler_native_calls(sd->dev), 1);
		assert_int_equal(mem_handler_unstable(sd->dev), 0);
		if (o == 0)
			assert_int_equal(mem_handler_fua_writes(sd->dev), 1);
		else
			assert_true(mem_handler_flushes(sd->dev) >= 1);
		sim_dev_free(sd);
	}
}

/* A match writes; a miscompare names the first differing byte and
 * leaves the medium as it was. Split iovecs, sync and async. */
static void test_caw_native(void **state)
{
	const char *opts[] = { "", "async" };

	(void)state;
	for (size_t o = 0; o < 2; o++) {
		struct sim_dev *sd = native_dev(opts[o], false);
		uint8_t old[2048], new[2048], bad[2048];
		struct sim_cmd *c;

		sbc_fill(old, sizeof(old), 1);
		sbc_fill(new, sizeof(new), 2);
		sbc_write(sd, 40, 4, old);
		assert_good(caw(sd, 40, 4, old, new));
		sbc_assert_blocks(sd, 40, 4, new);
		memcpy(bad, new, sizeof(bad));
		bad[1234] ^= 0x80;
		c = caw(sd, 40, 4, bad, old);
		assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
		sbc_assert_info(c, 1234);
		sbc_assert_blocks(sd, 40, 4, new);
		assert_int_equal(mem_handler_native_calls(sd->dev), 2);
		sim_dev_free(sd);
	}
}

/* VPD 0xB0's MAXIMUM COMPARE AND WRITE LENGTH. */
static uint8_t vpd_caw_max(struct sim_dev *sd)
{
	uint8_t inq[6] = { INQUIRY, 0x01, 0xb0, 0, 64, 0 };
	struct sim_cmd *c = sim_dev_run(sd, inq, 6, NULL, 64);

	assert_good(c);
	return c->data[5];
}

/* A handler whose store takes less (librbd 16: one 512-byte sector): the
 * LUN reports its limit and refuses longer commands; under it, none. */
static void test_caw_handler_limit(void **state)
{
	struct sim_dev *sd = native_dev("caw_max=512", false);
	uint8_t old[1024] = { 0 }, new[1024];
	struct sim_cmd *c;

	(void)state;
	sbc_fill(new, sizeof(new), 4);
	assert_int_equal(vpd_caw_max(sd), 1);
	c = caw(sd, 8, 2, old, new);
	sbc_assert_bad_cdb(c, 13, -1);
	assert_good(caw(sd, 8, 1, old, new));
	sbc_assert_blocks(sd, 8, 1, new);
	assert_int_equal(mem_handler_native_calls(sd->dev), 1);
	sim_dev_free(sd);
	sd = native_dev_bs("caw_max=512", false, 4096);
	assert_int_equal(vpd_caw_max(sd), 0);
	sim_dev_free(sd);
	sd = native_dev("", false);
	assert_int_equal(vpd_caw_max(sd), SCSI_MAX_CAW_BLOCKS);
	sim_dev_free(sd);
}

/* A handler's health figures join the device's statistics (what GetStats
 * sends on the bus) as "<subtype>.<name>", numbers and text. */
static void test_health_in_stats(void **state)
{
	struct sim_dev *sd = native_dev("async", false);
	uint8_t blk[512] = { 3 };
	struct dev_stats_snap snap;
	bool num = false, text = false;

	(void)state;
	assert_good(write_same16(sd, 0, 0, 8, blk));
	assert_good(write_same16(sd, 0, 8, 8, blk));
	dev_stats_snapshot(sd->dev, &snap);
	for (unsigned int i = 0; i < snap.n_extra; i++) {
		if (!strcmp(snap.extra[i].name, "mem.native_calls")) {
			assert_int_equal(snap.extra[i].value, 2);
			assert_string_equal(snap.extra[i].str, "");
			num = true;
		} else if (!strcmp(snap.extra[i].name, "mem.medium")) {
			assert_string_equal(snap.extra[i].str, "async");
			text = true;
		}
	}
	assert_true(num && text);
	sim_dev_free(sd);
}

/* The handler's errors reach the initiator as its sense. */
static void test_native_errors(void **state)
{
	struct sim_dev *sd = native_dev("", false);
	uint8_t blk[512] = { 9 };
	struct sim_cmd *c;

	(void)state;
	mem_handler_fail(sd->dev, MEM_OP_WRITE, 1, ETIMEDOUT);
	c = write_same16(sd, 0, 0, 8, blk);
	assert_sense(c, SENSE_NOT_READY, 0x04, 0x01);
	mem_handler_fail(sd->dev, MEM_OP_WRITE, 1, EIO);
	c = write_same16(sd, 0, 0, 8, blk);
	assert_sense(c, SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	sim_dev_free(sd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_same_one_call),
		cmocka_unit_test(test_write_same_checked_first),
		cmocka_unit_test(test_write_same_unmap_ndob_emulated),
		cmocka_unit_test(test_write_same_stable_without_cache),
		cmocka_unit_test(test_caw_native),
		cmocka_unit_test(test_caw_handler_limit),
		cmocka_unit_test(test_native_errors),
		cmocka_unit_test(test_health_in_stats),
	};

	return cmocka_run_group_tests_name("sbc on handler operations", tests, NULL, NULL);
}
