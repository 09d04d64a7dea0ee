/*
 * COMPARE AND WRITE (SBC-3 5.2) through the ring: the write of the second
 * half on a match, MISCOMPARE with the offset of the first differing byte
 * and the medium left alone otherwise, the NUMBER OF LOGICAL BLOCKS
 * limits, and atomicity against WRITEs racing it on an async handler.
 */
#include "sbc_cmds.h"

static struct sim_cmd *caw(struct sim_dev *sd, uint8_t b1, uint64_t lba, uint8_t n,
			   const void *data, size_t len)
{
	uint8_t cdb[16] = { COMPARE_AND_WRITE, b1 };

	tcmu_put_be64(cdb + 2, lba);
	cdb[13] = n;
	return sim_dev_run(sd, cdb, 16, data, len);
}

/* Compare half @old, write half @new, each @n blocks. */
static uint8_t *caw_buf(const uint8_t *old, const uint8_t *new, size_t n)
{
	uint8_t *buf = malloc(2 * n * 512);

	memcpy(buf, old, n * 512);
	memcpy(buf + n * 512, new, n * 512);
	return buf;
}

static void test_caw_match_writes(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t old[2048], new[2048];
	uint8_t *buf;

	sbc_fill(old, sizeof(old), 1);
	sbc_fill(new, sizeof(new), 2);
	sbc_write(sd, 50, 4, old);
	buf = caw_buf(old, new, 4);
	assert_good(caw(sd, 0, 50, 4, buf, 4096));
	sbc_assert_blocks(sd, 50, 4, new);
	/* Now the old data no longer matches. */
	assert_sense(caw(sd, 0, 50, 4, buf, 4096), SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_blocks(sd, 50, 4, new);
	free(buf);
	/* FUA and DPO are taken; one block; the last block of the LUN. */
	buf = caw_buf(new, old, 1);
	assert_good(caw(sd, 0x18, 50, 1, buf, 1024));
	sbc_assert_blocks(sd, 50, 1, old);
	free(buf);
	memset(old, 0, 512);
	buf = caw_buf(old, new, 1);
	assert_good(caw(sd, 0, SBC_NLBAS - 1, 1, buf, 1024));
	sbc_assert_blocks(sd, SBC_NLBAS - 1, 1, new);
	free(buf);
}

/* A miscompare at K: INFORMATION is K, and no block is written. */
static void test_caw_miscompare_offset(void **state)
{
	struct sim_dev *sd = *state;
	static const size_t diffs[] = { 0, 17, 511, 512, 1500, 2047 };
	uint8_t old[2048], new[2048], bad[2048];

	sbc_fill(old, sizeof(old), 5);
	sbc_fill(new, sizeof(new), 6);
	sbc_write(sd, 80, 4, old);
	for (size_t d = 0; d < sizeof(diffs) / sizeof(diffs[0]); d++) {
		struct sim_cmd *c;
		uint8_t *buf;

		memcpy(bad, old, sizeof(bad));
		bad[diffs[d]] ^= 0x01;
		buf = caw_buf(bad, new, 4);
		c = caw(sd, 0, 80, 4, buf, 4096);
		assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
		sbc_assert_info(c, diffs[d]);
		sbc_assert_blocks(sd, 80, 4, old);
		free(buf);
	}
}

/* NUMBER OF LOGICAL BLOCKS 0: nothing compared or written. */
static void test_caw_zero_blocks(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t old[512];

	sbc_fill(old, sizeof(old), 9);
	sbc_write(sd, 60, 1, old);
	assert_good(caw(sd, 0, 60, 0, NULL, 0));
	sbc_assert_blocks(sd, 60, 1, old);
}

static void test_caw_limits(void **state)
{
	struct sim_dev *sd = *state;
	size_t big = 2 * 256 * 512;
	uint8_t *buf = calloc(1, big);
	struct sim_cmd *c;

	/* SCSI_MAX_CAW_BLOCKS is the most; one more is refused at byte 13. */
	assert_good(caw(sd, 0, 0, SCSI_MAX_CAW_BLOCKS, buf, 2 * SCSI_MAX_CAW_BLOCKS * 512));
	c = caw(sd, 0, 0, SCSI_MAX_CAW_BLOCKS + 1, buf, 2 * (SCSI_MAX_CAW_BLOCKS + 1) * 512);
	sbc_assert_bad_cdb(c, 13, -1);
	c = caw(sd, 0, 0, 255, buf, big);
	sbc_assert_bad_cdb(c, 13, -1);
	/* Past the end. */
	c = caw(sd, 0, SBC_NLBAS - 1, 2, buf, 2048);
	sbc_assert_out_of_range(c, SBC_NLBAS - 1);
	c = caw(sd, 0, UINT64_MAX, 1, buf, 1024);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	/* WRPROTECT, and the reserved bits. */
	c = caw(sd, 0x20, 0, 1, buf, 1024);
	sbc_assert_bad_cdb(c, 1, 7);
	c = caw(sd, 0x04, 0, 1, buf, 1024);
	sbc_assert_bad_cdb(c, 1, 2);
	/* A data-out buffer shorter than twice the blocks: INVALID FIELD IN
	 * COMMAND INFORMATION UNIT, as LIO answers a data CDB. */
	c = caw(sd, 0, 0, 2, buf, 1024);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x0e, 0x03);
	free(buf);
}

/*
 * NUMBER OF LOGICAL BLOCKS above the MAXIMUM COMPARE AND WRITE LENGTH of
 * VPD 0xB0 is INVALID FIELD IN CDB at byte 13, whatever Data-Out came
 * with it: the CDB's fields are checked before the transfer length.
 */
static void test_caw_over_limit_before_xfer(void **state)
{
	static const uint8_t over[] = { SCSI_MAX_CAW_BLOCKS + 1, 200, 255 };
	uint8_t inq[6] = { INQUIRY, 0x01, 0xb0, 0, 64, 0 };
	struct sim_dev *sd = *state;
	uint8_t *buf = calloc(1, 2 * 256 * 512);
	struct sim_cmd *c;
	uint8_t max;

	c = sim_dev_run(sd, inq, 6, NULL, 64);
	assert_good(c);
	max = c->data[5];
	assert_true(max > 0);
	for (size_t i = 0; i < sizeof(over); i++) {
		const size_t lens[] = { 0, 512, 2 * (size_t)max * 512,
					2 * (size_t)over[i] * 512 };

		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			c = caw(sd, 0, 0, over[i], buf, lens[l]);
			sbc_assert_bad_cdb(c, 13, -1);
			/* Past the end too: the limit is found first. */
			c = caw(sd, 0, SBC_NLBAS - 1, over[i], buf, lens[l]);
			sbc_assert_bad_cdb(c, 13, -1);
		}
	}
	free(buf);
}

/* The limit is the one VPD 0xB0 reports: half the maximum transfer. */
static void test_caw_limit_follows_vpd(void **state)
{
	struct sim_dev_cfg cfg = { .max_xfer_blocks = 8 };
	uint8_t inq[6] = { INQUIRY, 0x01, 0xb0, 0, 64, 0 };
	uint8_t buf[10 * 512] = { 0 };
	struct sim_dev *sd;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	c = sim_dev_run(sd, inq, 6, NULL, 64);
	assert_good(c);
	assert_int_equal(c->data[5], 4);
	assert_good(caw(sd, 0, 0, 4, buf, 8 * 512));
	c = caw(sd, 0, 0, 5, buf, 10 * 512);
	sbc_assert_bad_cdb(c, 13, -1);
	sim_dev_free(sd);
}

/* Through a handler that completes asynchronously. */
static void test_caw_async_handler(void **state)
{
	struct sim_dev *sd = sbc_mem_dev("async", 1 << 20, 0);
	uint8_t old[1024], new[1024], *buf;
	struct sim_cmd *c;

	(void)state;
	sbc_fill(old, sizeof(old), 3);
	sbc_fill(new, sizeof(new), 4);
	sbc_write(sd, 7, 2, old);
	buf = caw_buf(old, new, 2);
	assert_good(caw(sd, 0, 7, 2, buf, 2048));
	assert_memory_equal(mem_handler_data(sd->dev) + 7 * 512, new, 1024);
	c = caw(sd, 0, 7, 2, buf, 2048);
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info(c, 0);
	assert_memory_equal(mem_handler_data(sd->dev) + 7 * 512, new, 1024);
	free(buf);
	sim_dev_free(sd);
}

#define RACE_ROUNDS 40
#define RACE_WRITES 24
#define RACE_BLOCKS 4

/*
 * One round: the range holds A; queued together, a COMPARE AND WRITE of
 * A -> C and WRITEs of B over each block (and over all of them). In any
 * order the commands could have run in one at a time, every block ends as
 * B: a WRITE after the CAW overwrites C, a WRITE before it makes it
 * miscompare. A C left anywhere means a WRITE landed between the CAW's
 * read and its write. The CAW itself must be GOOD or MISCOMPARE at a
 * block boundary (the blocks differ from their first byte). The CAW is
 * queued @at commands after the first.
 */
static void race_round(struct sim_dev *sd, const uint8_t *a, const uint8_t *b,
		       const uint8_t *cawbuf, int at, unsigned int *good)
{
	const size_t len = RACE_BLOCKS * 512;
	struct sim_cmd *c[RACE_WRITES + 1];
	uint8_t cdb[RACE_WRITES + 1][16];
	const uint8_t *mem;

	sbc_write(sd, 0, RACE_BLOCKS, a);
	for (int i = 0; i <= RACE_WRITES; i++) {
		struct sim_req req = { .cdb = cdb[i], .cdb_len = 16 };

		if (i == at) {
			memset(cdb[i], 0, 16);
			cdb[i][0] = COMPARE_AND_WRITE;
			cdb[i][13] = RACE_BLOCKS;
			req.data = cawbuf;
			req.data_len = 2 * len;
		} else if (i % 5 == 0) {
			sbc_cdb(cdb[i], WRITE_16, 0, 0, RACE_BLOCKS);
			req.data = b;
			req.data_len = len;
		} else {
			unsigned int blk = i % RACE_BLOCKS;

			sbc_cdb(cdb[i], WRITE_16, 0, blk, 1);
			req.data = b + blk * 512;
			req.data_len = 512;
		}
		assert_int_equal(ring_sim_queue(sd->sim, &req, &c[i]), 0);
	}
	ring_sim_notify(sd->sim);
	assert_int_equal(ring_sim_wait(sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (int i = 0; i <= RACE_WRITES; i++)
		if (i != at)
			assert_good(c[i]);
	if (c[at]->status == SAM_STAT_GOOD) {
		(*good)++;
	} else {
		assert_sense(c[at], SENSE_MISCOMPARE, 0x1d, 0x00);
		assert_int_equal(tcmu_get_be32(c[at]->sense + 3) % 512, 0);
	}
	mem = mem_handler_data(sd->dev);
	for (int blk = 0; blk < RACE_BLOCKS; blk++)
		assert_memory_equal(mem + blk * 512, b + blk * 512, 512);
	for (int i = 0; i <= RACE_WRITES; i++)
		ring_sim_cmd_free(sd->sim, c[i]);
}

static void test_caw_atomic_against_writes(void **state)
{
	static const char *const opts[] = { "async", "async,slow_ms=2" };
	const size_t len = RACE_BLOCKS * 512;
	uint8_t a[RACE_BLOCKS * 512], b[RACE_BLOCKS * 512], cc[RACE_BLOCKS * 512];
	uint8_t *cawbuf;

	(void)state;
	sbc_fill(a, len, 10);
	sbc_fill(b, len, 20);
	sbc_fill(cc, len, 30);
	for (size_t i = 0; i < len; i += 512) {
		a[i] = 0xa0;
		b[i] = 0xb0;
		cc[i] = 0xc0;
	}
	cawbuf = caw_buf(a, cc, RACE_BLOCKS);
	for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
		struct sim_dev *sd = sbc_mem_dev(opts[o], 1 << 20, 0);
		unsigned int good = 0;

		for (int r = 0; r < RACE_ROUNDS; r++)
			race_round(sd, a, b, cawbuf, r % 4 ? 0 : r % (RACE_WRITES + 1),
				   &good);
		if (getenv("TEST_LOG"))
			fprintf(stderr, "%s: CAW GOOD in %u of %d rounds\n", opts[o], good,
				RACE_ROUNDS);
		sim_dev_free(sd);
	}
	free(cawbuf);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_caw_match_writes),
		T(test_caw_miscompare_offset),
		T(test_caw_zero_blocks),
		T(test_caw_limits),
		T(test_caw_over_limit_before_xfer),
		cmocka_unit_test(test_caw_limit_follows_vpd),
		cmocka_unit_test(test_caw_async_handler),
		cmocka_unit_test(test_caw_atomic_against_writes),
	};

	return cmocka_run_group_tests_name("sbc compare and write", tests, NULL, NULL);
}
