/*
 * The data buffer the kernel hands us against the length the CDB asks
 * for, as LIO's own backends treat it (target_cmd_size_check): a data-out
 * data CDB whose buffer differs is refused with INVALID FIELD IN COMMAND
 * INFORMATION UNIT and nothing is written; a parameter list longer than
 * the data sent is INVALID FIELD IN CDB; data-in moves what the CDB asks
 * and fits, and READ_LEN tells the kernel the residual.
 * The LUN is sim_dev's default: 1 MiB of 512-byte blocks (file handler).
 */
#include "sbc_cmds.h"

#define BS SBC_BS

/* ILLEGAL REQUEST, INVALID FIELD IN COMMAND INFORMATION UNIT. */
#define assert_bad_iu(c) assert_sense((c), SENSE_ILLEGAL_REQUEST, 0x0e, 0x03)
/* ILLEGAL REQUEST, INVALID FIELD IN CDB. */
#define assert_bad_cdb(c) assert_sense((c), SENSE_ILLEGAL_REQUEST, 0x24, 0x00)

/* @n blocks at @lba hold a pattern from @seed; returns it (free it). */
static uint8_t *seed_blocks(struct sim_dev *sd, uint64_t lba, uint32_t n, unsigned int seed)
{
	uint8_t *buf = malloc((size_t)n * BS);

	sbc_fill(buf, (size_t)n * BS, seed);
	sbc_write(sd, lba, n, buf);
	return buf;
}

static struct sim_cmd *run_iov(struct sim_dev *sd, uint8_t op, uint8_t b1, uint64_t lba,
			       uint32_t n, const void *data, size_t len, unsigned int iovs)
{
	uint8_t cdb[16];
	size_t cdb_len = sbc_cdb(cdb, op, b1, lba, n);

	return sim_dev_run_iov(sd, cdb, cdb_len, data, len, iovs);
}

/*
 * READ with a buffer smaller than its blocks (overflow): what fits, GOOD.
 * With a larger one (underflow): the blocks, READ_LEN their length, and
 * zeros after them, not the poison the buffer held.
 */
static void test_read_overflow_and_underflow(void **state)
{
	static const uint8_t ops[] = { READ_10, READ_12, READ_16 };
	struct sim_dev *sd = *state;
	uint8_t *old = seed_blocks(sd, 40, 4, 1);

	for (size_t i = 0; i < sizeof(ops); i++) {
		struct sim_cmd *c = run_iov(sd, ops[i], 0, 40, 4, NULL, 2 * BS, 2);

		assert_good(c);
		assert_memory_equal(c->data, old, 2 * BS);
		assert_true(!c->has_read_len || c->read_len == 2 * BS);
		ring_sim_cmd_free(sd->sim, c);

		c = run_iov(sd, ops[i], 0, 40, 1, NULL, 3 * BS + 100, 3);
		assert_good(c);
		assert_true(c->has_read_len);
		assert_int_equal(c->read_len, BS);
		assert_memory_equal(c->data, old, BS);
		for (size_t b = BS; b < c->data_len; b++)
			assert_int_equal(c->data[b], 0);
		ring_sim_cmd_free(sd->sim, c);
	}
	free(old);
}

/* WRITE with less data than its blocks: refused, nothing written. */
static void test_write_short_refused(void **state)
{
	static const uint8_t ops[] = { WRITE_10, WRITE_16 };
	struct sim_dev *sd = *state;
	uint8_t *old = seed_blocks(sd, 100, 4, 2), new[4 * BS];

	sbc_fill(new, sizeof(new), 3);
	for (size_t i = 0; i < sizeof(ops); i++) {
		struct sim_cmd *c = run_iov(sd, ops[i], 0, 100, 4, new, 3 * BS, 2);

		assert_bad_iu(c);
		ring_sim_cmd_free(sd->sim, c);
		sbc_assert_blocks(sd, 100, 4, old);
	}
	free(old);
}

/* WRITE with more data than its blocks: refused, nothing written, not
 * even the blocks it names. */
static void test_write_long_refused(void **state)
{
	static const uint8_t ops[] = { WRITE_10, WRITE_16 };
	struct sim_dev *sd = *state;
	uint8_t *old = seed_blocks(sd, 200, 3, 4), new[3 * BS];

	sbc_fill(new, sizeof(new), 5);
	for (size_t i = 0; i < sizeof(ops); i++) {
		struct sim_cmd *c = run_iov(sd, ops[i], 0, 200, 2, new, 3 * BS, 1);

		assert_bad_iu(c);
		ring_sim_cmd_free(sd->sim, c);
		sbc_assert_blocks(sd, 200, 3, old);
	}
	free(old);
}

/* WRITE AND VERIFY is a data CDB too, in both directions. */
static void test_write_verify_short_refused(void **state)
{
	static const uint8_t ops[] = { WRITE_VERIFY_10, WRITE_VERIFY_16 };
	struct sim_dev *sd = *state;
	uint8_t *old = seed_blocks(sd, 300, 4, 6), new[5 * BS];

	sbc_fill(new, sizeof(new), 7);
	for (size_t i = 0; i < sizeof(ops); i++) {
		struct sim_cmd *c = run_iov(sd, ops[i], 0x02, 300, 4, new, 2 * BS, 1);

		assert_bad_iu(c);
		ring_sim_cmd_free(sd->sim, c);
		c = run_iov(sd, ops[i], 0, 300, 4, new, 5 * BS, 2);
		assert_bad_iu(c);
		ring_sim_cmd_free(sd->sim, c);
		sbc_assert_blocks(sd, 300, 4, old);
	}
	free(old);
}

/* COMPARE AND WRITE: exactly twice its blocks, or refused unwritten. */
static void test_caw_short_refused(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t *old = seed_blocks(sd, 400, 2, 8), buf[5 * BS];
	uint8_t cdb[16] = { COMPARE_AND_WRITE };
	struct sim_cmd *c;

	tcmu_put_be64(cdb + 2, 400);
	cdb[13] = 2;
	/* The compare half matches: only the length is wrong. */
	memcpy(buf, old, 2 * BS);
	sbc_fill(buf + 2 * BS, 3 * BS, 9);
	c = sim_dev_run(sd, cdb, 16, buf, 3 * BS);
	assert_bad_iu(c);
	ring_sim_cmd_free(sd->sim, c);
	c = sim_dev_run(sd, cdb, 16, buf, 5 * BS);
	assert_bad_iu(c);
	ring_sim_cmd_free(sd->sim, c);
	sbc_assert_blocks(sd, 400, 2, old);
	free(old);
}

/*
 * WRITE SAME (NDOB 0) sends exactly one logical block (SBC-4 5.49, 5.50).
 * A Data-Out of any other length disagrees with the CDB, as a WRITE's
 * does: INVALID FIELD IN COMMAND INFORMATION UNIT, and nothing written,
 * with one iovec or several. NDOB with no Data-Out is fine.
 */
static void test_write_same_not_one_block_refused(void **state)
{
	static const uint8_t ops[] = { WRITE_SAME_10, WRITE_SAME_16 };
	static const size_t lens[] = { 0, BS - 12, BS + 12, 2 * BS, 4 * BS };
	struct sim_dev *sd = *state;
	uint8_t *old = seed_blocks(sd, 500, 4, 10), blk[4 * BS] = { 0x5a };

	for (size_t i = 0; i < sizeof(ops); i++) {
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			struct sim_cmd *c = run_iov(sd, ops[i], 0, 500, 4, lens[l] ? blk : NULL,
						    lens[l], lens[l] > BS ? 2 : 1);

			assert_bad_iu(c);
			ring_sim_cmd_free(sd->sim, c);
			sbc_assert_blocks(sd, 500, 4, old);
		}
	}
	assert_good(run_iov(sd, WRITE_SAME_16, 0x01, 500, 4, NULL, 0, 1));
	sbc_assert_zero_blocks(sd, 500, 4);
	free(old);
}

/* VERIFY's byte compare data-out, as a control CDB: short is refused. */
static void test_verify_short_refused(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[4 * BS] = { 0 };
	struct sim_cmd *c;

	c = run_iov(sd, VERIFY_10, 0x02, 0, 4, buf, 3 * BS, 1);	/* BYTCHK 1 */
	assert_bad_cdb(c);
	ring_sim_cmd_free(sd->sim, c);
	c = run_iov(sd, VERIFY_16, 0x06, 0, 4, buf, BS - 1, 1);		/* BYTCHK 3 */
	assert_bad_cdb(c);
	ring_sim_cmd_free(sd->sim, c);
}

/* UNMAP's PARAMETER LIST LENGTH past the data sent: INVALID FIELD IN
 * CDB, and nothing deallocated. */
static void test_unmap_param_list_overflow(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[10] = { UNMAP }, list[24] = { 0 };
	uint8_t *old;
	struct sim_cmd *c;

	if (!sbc_can_unmap(sd)) {
		print_message("no hole punching in $TMPDIR: skipped\n");
		skip();
	}
	old = seed_blocks(sd, 600, 8, 11);
	tcmu_put_be16(list, 22);
	tcmu_put_be16(list + 2, 16);
	tcmu_put_be64(list + 8, 600);
	tcmu_put_be32(list + 16, 8);
	tcmu_put_be16(cdb + 7, 24);
	c = sim_dev_run(sd, cdb, 10, list, 16);
	assert_bad_cdb(c);
	ring_sim_cmd_free(sd->sim, c);
	sbc_assert_blocks(sd, 600, 8, old);
	free(old);
}

/* MODE SELECT and EXTENDED COPY lists past the data sent: the same. */
static void test_param_list_overflow(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t ms[6] = { MODE_SELECT_6, 0x10, 0, 0, 16, 0 };
	uint8_t xc[16] = { EXTENDED_COPY };
	uint8_t list[64] = { 0 };
	struct sim_cmd *c;

	c = sim_dev_run(sd, ms, 6, list, 8);
	assert_bad_cdb(c);
	ring_sim_cmd_free(sd->sim, c);
	tcmu_put_be32(xc + 10, 64);
	c = sim_dev_run(sd, xc, 16, list, 32);
	assert_bad_cdb(c);
	ring_sim_cmd_free(sd->sim, c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_overflow_and_underflow),
		T(test_write_short_refused),
		T(test_write_long_refused),
		T(test_write_verify_short_refused),
		T(test_caw_short_refused),
		T(test_write_same_not_one_block_refused),
		T(test_verify_short_refused),
		T(test_unmap_param_list_overflow),
		T(test_param_list_overflow),
	};

	return cmocka_run_group_tests_name("scsi transfer length", tests, NULL, NULL);
}
