/*
 * VERIFY 10/12/16 (BYTCHK 0, 1 and 3) and WRITE AND VERIFY 10/12/16
 * through the ring to the file handler and to mem_handler (async): status,
 * MISCOMPARE with the offset of the first differing byte in INFORMATION,
 * the CDB fields refused, the range checks.
 */
#include "sbc_cmds.h"

static const uint8_t verify_ops[] = { VERIFY_10, VERIFY_12, VERIFY_16 };
static const uint8_t wv_ops[] = { WRITE_VERIFY_10, WRITE_VERIFY_12, WRITE_VERIFY_16 };

#define BYTCHK(v) ((uint8_t)((v) << 1))

/* BYTCHK 0: the medium is only read; GOOD inside the LUN, up to its end. */
static void test_verify_bytchk0_good(void **state)
{
	struct sim_dev *sd = *state;

	for (size_t i = 0; i < sizeof(verify_ops); i++) {
		assert_good(sbc_run(sd, verify_ops[i], 0, 0, 16, NULL, 0));
		assert_good(sbc_run(sd, verify_ops[i], BYTCHK(0), SBC_NLBAS - 8, 8, NULL, 0));
		/* A VERIFICATION LENGTH of 0 verifies nothing. */
		assert_good(sbc_run(sd, verify_ops[i], 0, SBC_NLBAS, 0, NULL, 0));
		/* DPO is taken. */
		assert_good(sbc_run(sd, verify_ops[i], 0x10, 5, 1, NULL, 0));
	}
}

static void test_verify_out_of_range(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[1024] = { 0 };

	for (size_t i = 0; i < sizeof(verify_ops); i++) {
		struct sim_cmd *c = sbc_run(sd, verify_ops[i], 0, SBC_NLBAS - 1, 2, NULL, 0);

		sbc_assert_out_of_range(c, SBC_NLBAS - 1);
		c = sbc_run(sd, verify_ops[i], BYTCHK(1), SBC_NLBAS, 1, buf, 512);
		sbc_assert_out_of_range(c, SBC_NLBAS);
		c = sbc_run(sd, wv_ops[i], 0, SBC_NLBAS - 1, 2, buf, 1024);
		sbc_assert_out_of_range(c, SBC_NLBAS - 1);
	}
	/* LBA plus length wrapping 64 bits. */
	struct sim_cmd *c = sbc_run(sd, VERIFY_16, 0, UINT64_MAX, 2, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
}

/* BYTCHK 1: equal data is GOOD; one byte off at K is MISCOMPARE at K. */
static void test_verify_bytchk1_compare(void **state)
{
	struct sim_dev *sd = *state;
	static const size_t diffs[] = { 0, 1, 511, 512, 2047, 4095 };
	uint8_t want[4096], bad[4096];

	sbc_fill(want, sizeof(want), 3);
	sbc_write(sd, 100, 8, want);
	for (size_t i = 0; i < sizeof(verify_ops); i++) {
		assert_good(sbc_run(sd, verify_ops[i], BYTCHK(1), 100, 8, want, sizeof(want)));
		/* Only the first block's worth compared when asked for one. */
		assert_good(sbc_run(sd, verify_ops[i], BYTCHK(1), 101, 1, want + 512, 512));
		for (size_t d = 0; d < sizeof(diffs) / sizeof(diffs[0]); d++) {
			struct sim_cmd *c;

			memcpy(bad, want, sizeof(bad));
			bad[diffs[d]] ^= 0x40;
			c = sbc_run(sd, verify_ops[i], BYTCHK(1), 100, 8, bad, sizeof(bad));
			assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
			sbc_assert_info(c, diffs[d]);
			ring_sim_cmd_free(sd->sim, c);
		}
	}
	/* Verifying never writes. */
	sbc_assert_blocks(sd, 100, 8, want);
}

/* The data-out buffer in many iovecs: the offsets still count from its
 * start. */
static void test_verify_bytchk1_many_iovecs(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t want[8192];
	uint8_t cdb[16];
	struct sim_cmd *c;

	sbc_fill(want, sizeof(want), 11);
	sbc_write(sd, 300, 16, want);
	sbc_cdb(cdb, VERIFY_16, BYTCHK(1), 300, 16);
	assert_good(sim_dev_run_iov(sd, cdb, 16, want, sizeof(want), 7));
	want[5000] ^= 1;
	c = sim_dev_run_iov(sd, cdb, 16, want, sizeof(want), 7);
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info(c, 5000);
}

/* More than one read's worth of medium: the offset of a difference in a
 * later piece counts from the start of the buffer. */
static void test_verify_bytchk1_large(void **state)
{
	struct sim_dev_cfg cfg = { .size = 8 << 20, .ring.data_size = 8 << 20,
				   .max_xfer_blocks = 8192 };
	const size_t len = 3 << 20, n = len / 512;
	uint8_t *buf = malloc(len);
	struct sim_dev *sd;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sbc_fill(buf, len, 5);
	sbc_write(sd, 16, n, buf);
	assert_good(sbc_run(sd, VERIFY_16, BYTCHK(1), 16, n, buf, len));
	buf[len - 3] ^= 0x80;
	c = sbc_run(sd, VERIFY_12, BYTCHK(1), 16, n, buf, len);
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info(c, len - 3);
	sim_dev_free(sd);
	free(buf);
}

/* BYTCHK 3: one block of data compared with every block of the range. */
static void test_verify_bytchk3_one_block_for_all(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t blk[512], other[512], range[8 * 512];

	sbc_fill(blk, sizeof(blk), 7);
	for (int i = 0; i < 8; i++)
		memcpy(range + i * 512, blk, 512);
	sbc_write(sd, 200, 8, range);
	for (size_t i = 0; i < sizeof(verify_ops); i++) {
		assert_good(sbc_run(sd, verify_ops[i], BYTCHK(3), 200, 8, blk, 512));
		assert_good(sbc_run(sd, verify_ops[i], BYTCHK(3), 203, 1, blk, 512));
	}
	/* One block of the range differs at byte 77. */
	memcpy(other, blk, 512);
	other[77] ^= 0xff;
	sbc_write(sd, 205, 1, other);
	for (size_t i = 0; i < sizeof(verify_ops); i++) {
		struct sim_cmd *c = sbc_run(sd, verify_ops[i], BYTCHK(3), 200, 8, blk, 512);

		assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
		sbc_assert_info(c, 77);
		/* The blocks before it still match. */
		assert_good(sbc_run(sd, verify_ops[i], BYTCHK(3), 200, 5, blk, 512));
	}
}

/* Over a megabyte of 520-byte blocks: read in whole blocks, so the
 * one-block compare lines up; the offset is into that block. */
static void test_verify_bytchk3_odd_block_size(void **state)
{
	struct sim_dev_cfg cfg = { .size = 520 * 4096, .block_size = 520,
				   .ring.data_size = 8 << 20, .max_xfer_blocks = 8192 };
	const uint32_t n = 4000;
	uint8_t blk[520], *range = malloc((size_t)n * 520);
	struct sim_dev *sd;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sbc_fill(blk, sizeof(blk), 13);
	for (uint32_t b = 0; b < n; b++)
		memcpy(range + (size_t)b * 520, blk, 520);
	sbc_write(sd, 0, n, range);
	assert_good(sbc_run(sd, VERIFY_16, BYTCHK(3), 0, n, blk, 520));
	assert_good(sbc_run(sd, VERIFY_16, BYTCHK(1), 0, n, range, (size_t)n * 520));
	range[3500 * 520 + 9] ^= 0x22;
	sbc_write(sd, 3500, 1, range + 3500 * 520);
	c = sbc_run(sd, VERIFY_16, BYTCHK(3), 0, n, blk, 520);
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info(c, 9);
	sim_dev_free(sd);
	free(range);
}

/* BYTCHK 10b is reserved; VRPROTECT is not taken (no protection info). */
static void test_verify_refused_fields(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[512] = { 0 };

	for (size_t i = 0; i < sizeof(verify_ops); i++) {
		struct sim_cmd *c = sbc_run(sd, verify_ops[i], BYTCHK(2), 0, 1, buf, 512);

		sbc_assert_bad_cdb(c, 1, 2);
		for (uint8_t vr = 1; vr < 8; vr++) {
			c = sbc_run(sd, verify_ops[i], (uint8_t)(vr << 5), 0, 1, NULL, 0);
			sbc_assert_bad_cdb(c, 1, 7);
			ring_sim_cmd_free(sd->sim, c);
		}
		/* Bit 3 and bit 0 of byte 1 are reserved. */
		c = sbc_run(sd, verify_ops[i], 0x08, 0, 1, NULL, 0);
		sbc_assert_bad_cdb(c, 1, 3);
		c = sbc_run(sd, verify_ops[i], 0x01, 0, 1, NULL, 0);
		sbc_assert_bad_cdb(c, 1, 0);
	}
}

/* A data-out buffer too short for what BYTCHK compares. */
static void test_verify_short_data(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[1024] = { 0 };
	struct sim_cmd *c;

	c = sbc_run(sd, VERIFY_10, BYTCHK(1), 0, 4, buf, 1024);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	c = sbc_run(sd, VERIFY_16, BYTCHK(3), 0, 4, buf, 256);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}

/* WRITE AND VERIFY: the data lands, with or without the byte compare. */
static void test_write_verify_writes(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[4096];

	for (size_t i = 0; i < sizeof(wv_ops); i++) {
		for (int bytchk = 0; bytchk <= 1; bytchk++) {
			uint64_t lba = 400 + i * 32 + bytchk * 16;
			struct sim_cmd *c;

			sbc_fill(buf, sizeof(buf), i * 2 + bytchk + 20);
			c = sbc_run(sd, wv_ops[i], BYTCHK(bytchk), lba, 8, buf, sizeof(buf));
			assert_good(c);
			sbc_assert_blocks(sd, lba, 8, buf);
		}
	}
	/* Through many iovecs. */
	uint8_t cdb[16];
	sbc_fill(buf, sizeof(buf), 99);
	sbc_cdb(cdb, WRITE_VERIFY_16, BYTCHK(1), 600, 8);
	assert_good(sim_dev_run_iov(sd, cdb, 16, buf, sizeof(buf), 5));
	sbc_assert_blocks(sd, 600, 8, buf);
}

/* WRITE AND VERIFY takes no BYTCHK 10b or 11b, nor WRPROTECT; nothing is
 * written then. */
static void test_write_verify_refused_fields(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[512];

	sbc_fill(buf, sizeof(buf), 1);
	for (size_t i = 0; i < sizeof(wv_ops); i++) {
		struct sim_cmd *c = sbc_run(sd, wv_ops[i], BYTCHK(3), 700, 1, buf, 512);

		sbc_assert_bad_cdb(c, 1, 2);
		c = sbc_run(sd, wv_ops[i], BYTCHK(2), 700, 1, buf, 512);
		sbc_assert_bad_cdb(c, 1, 2);
		c = sbc_run(sd, wv_ops[i], 0x20, 700, 1, buf, 512);
		sbc_assert_bad_cdb(c, 1, 7);
	}
	sbc_assert_zero_blocks(sd, 700, 1);
}

/* The same through a handler that completes every call from a thread of
 * its own. */
static void test_verify_async_handler(void **state)
{
	struct sim_dev *sd = sbc_mem_dev("async", 1 << 20, 0);
	uint8_t buf[4096];
	struct sim_cmd *c;

	(void)state;
	sbc_fill(buf, sizeof(buf), 42);
	assert_good(sbc_run(sd, WRITE_VERIFY_12, BYTCHK(1), 10, 8, buf, sizeof(buf)));
	assert_memory_equal(mem_handler_data(sd->dev) + 10 * 512, buf, sizeof(buf));
	assert_good(sbc_run(sd, VERIFY_10, BYTCHK(1), 10, 8, buf, sizeof(buf)));
	assert_good(sbc_run(sd, VERIFY_16, BYTCHK(0), 0, 64, NULL, 0));
	buf[3000] ^= 2;
	c = sbc_run(sd, VERIFY_16, BYTCHK(1), 10, 8, buf, sizeof(buf));
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info(c, 3000);
	c = sbc_run(sd, VERIFY_12, BYTCHK(3), 10, 8, buf, 512);
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sim_dev_free(sd);
}

/* D_SENSE on (control mode page): the offset comes in an information
 * descriptor instead. */
static void test_verify_miscompare_descriptor_sense(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t sense6[6] = { MODE_SENSE_6, 0x08, 0x0a, 0, 64, 0 };
	uint8_t select6[6] = { MODE_SELECT_6, 0x10, 0, 0, 16, 0 };
	uint8_t list[16] = { 0 }, want[2048];
	struct sim_cmd *c = sim_dev_run(sd, sense6, 6, NULL, 64);

	assert_good(c);
	assert_int_equal(c->data[4], 0x0a);
	memcpy(list + 4, c->data + 4, 12);
	list[4 + 2] |= 0x04;	/* D_SENSE */
	assert_good(sim_dev_run(sd, select6, 6, list, sizeof(list)));
	sbc_fill(want, sizeof(want), 8);
	sbc_write(sd, 40, 4, want);
	want[1999] ^= 0x10;
	c = sbc_run(sd, VERIFY_16, BYTCHK(1), 40, 4, want, sizeof(want));
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	assert_int_equal(c->sense[0], 0x72);
	assert_int_equal(c->sense[8], 0x00);		/* information descriptor */
	assert_int_equal(c->sense[9], 0x0a);
	assert_int_equal(c->sense[10] & 0x80, 0x80);	/* VALID */
	assert_int_equal(tcmu_get_be64(c->sense + 12), 1999);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_verify_bytchk0_good),
		T(test_verify_out_of_range),
		T(test_verify_bytchk1_compare),
		T(test_verify_bytchk1_many_iovecs),
		cmocka_unit_test(test_verify_bytchk1_large),
		T(test_verify_bytchk3_one_block_for_all),
		cmocka_unit_test(test_verify_bytchk3_odd_block_size),
		T(test_verify_refused_fields),
		T(test_verify_short_data),
		T(test_write_verify_writes),
		T(test_write_verify_refused_fields),
		cmocka_unit_test(test_verify_async_handler),
		T(test_verify_miscompare_descriptor_sense),
	};

	return cmocka_run_group_tests_name("sbc verify", tests, NULL, NULL);
}
