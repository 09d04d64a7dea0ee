/*
 * LBAs above 2^32 through the ring, and the sense an initiator gets for
 * them in both formats (SPC-4 4.5): fixed-format INFORMATION is 4 bytes,
 * so LBA OUT OF RANGE for an LBA that does not fit there leaves VALID
 * clear (and the field zero, never the LBA cut to 32 bits), while one
 * that fits sets VALID; descriptor format (D_SENSE in the control mode
 * page) carries all 64 bits in its information descriptor. On a LUN of
 * more than 2^32 blocks (a sparse file) I/O there lands at its own
 * offset, the end is where READ CAPACITY puts it, and a MISCOMPARE there
 * reports the offset into the data-out buffer, not into the medium.
 */
#include "sbc_cmds.h"

#define WIDE (1ull << 32)
#define BIG_NLBAS (WIDE + 64)		/* blocks of the big LUN */
#define BYTCHK1 0x02

/* The LUN of BIG_NLBAS blocks: a sparse file of 2 TiB and a bit. */
static int big_setup(void **state)
{
	struct sim_dev_cfg cfg = { .size = BIG_NLBAS * SBC_BS };
	struct sim_dev *sd;

	if (sim_dev_new(&sd, &cfg))
		return -1;
	*state = sd;
	return 0;
}

/* CHECK CONDITION, ILLEGAL REQUEST, LBA OUT OF RANGE, fixed format with
 * VALID clear and INFORMATION zero: @lba does not fit in it. */
static void assert_oor_no_info(const struct sim_cmd *c)
{
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(c->sense[0], 0x70);
	assert_int_equal(tcmu_get_be32(c->sense + 3), 0);
}

/* The commands that take a 64-bit LBA and check its range, each at
 * @lba (one block): what an initiator sees is the same for all. */
static struct sim_cmd *run_at(struct sim_dev *sd, int which, uint64_t lba)
{
	static uint8_t buf[2 * SBC_BS];
	uint8_t cdb[16] = { 0 };

	switch (which) {
	case 0:
		return sbc_run(sd, READ_16, 0, lba, 1, NULL, SBC_BS);
	case 1:
		return sbc_run(sd, WRITE_16, 0, lba, 1, buf, SBC_BS);
	case 2:
		return sbc_run(sd, VERIFY_16, BYTCHK1, lba, 1, buf, SBC_BS);
	case 3:
		return sbc_run(sd, WRITE_SAME_16, 0, lba, 1, buf, SBC_BS);
	case 4:
		return sbc_run(sd, PRE_FETCH_16, 0, lba, 1, NULL, 0);
	case 5:
		cdb[0] = COMPARE_AND_WRITE;
		tcmu_put_be64(cdb + 2, lba);
		cdb[13] = 1;
		return sim_dev_run(sd, cdb, 16, buf, sizeof(buf));
	default:
		cdb[0] = SERVICE_ACTION_IN_16;
		cdb[1] = SAI_GET_LBA_STATUS;
		tcmu_put_be64(cdb + 2, lba);
		tcmu_put_be32(cdb + 10, 24);
		return sim_dev_run(sd, cdb, 16, NULL, 24);
	}
}
#define RUN_AT_KINDS 7

/* The 1 MiB LUN, fixed sense: the last LBA that fits in INFORMATION is
 * reported with VALID; from 2^32 on VALID is clear and the field is
 * zero (an LBA cut to 32 bits would name blocks 0 and 5 of this LUN). */
static void test_wide_lba_fixed_sense(void **state)
{
	struct sim_dev *sd = *state;

	for (int k = 0; k < RUN_AT_KINDS; k++) {
		sbc_assert_out_of_range(run_at(sd, k, 0xffffffffull), 0xffffffffull);
		assert_oor_no_info(run_at(sd, k, WIDE));
		assert_oor_no_info(run_at(sd, k, WIDE + 5));
		assert_oor_no_info(run_at(sd, k, UINT64_MAX));
	}
	sbc_assert_zero_blocks(sd, 0, 8);
}

/* The same with D_SENSE on: the information descriptor has the whole
 * LBA; and fixed format again once D_SENSE is off. */
static void test_wide_lba_descriptor_sense(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c;

	sbc_set_d_sense(sd, true);
	for (int k = 0; k < RUN_AT_KINDS; k++) {
		c = run_at(sd, k, WIDE + 5);
		assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
		sbc_assert_info_desc(c, WIDE + 5);
		c = run_at(sd, k, UINT64_MAX - 1);
		assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
		sbc_assert_info_desc(c, UINT64_MAX - 1);
		c = run_at(sd, k, 0xffffffffull);
		sbc_assert_info_desc(c, 0xffffffffull);
	}
	sbc_set_d_sense(sd, false);
	assert_oor_no_info(run_at(sd, 0, WIDE + 5));
}

/* A LUN of 2^32 + 64 blocks: a block above 2^32 is written where its LBA
 * says (not at the LBA cut to 32 bits) and read back; the last block is
 * in range, the next one and a transfer running over the end are not,
 * and their sense has the LBA in descriptor format only. */
static void test_wide_lba_big_lun(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t data[2 * SBC_BS], on_file[SBC_BS];
	struct sim_cmd *c;
	int fd;

	sbc_fill(data, sizeof(data), 11);
	sbc_write(sd, WIDE + 8, 1, data);
	sbc_assert_blocks(sd, WIDE + 8, 1, data);
	sbc_assert_zero_blocks(sd, 8, 1);
	fd = open(sd->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, on_file, SBC_BS, (WIDE + 8) * SBC_BS), SBC_BS);
	close(fd);
	assert_memory_equal(on_file, data, SBC_BS);

	sbc_write(sd, BIG_NLBAS - 1, 1, data + SBC_BS);
	sbc_assert_blocks(sd, BIG_NLBAS - 1, 1, data + SBC_BS);
	assert_oor_no_info(sbc_run(sd, READ_16, 0, BIG_NLBAS, 1, NULL, SBC_BS));
	assert_oor_no_info(sbc_run(sd, WRITE_16, 0, BIG_NLBAS - 1, 2, data, sizeof(data)));
	sbc_set_d_sense(sd, true);
	c = sbc_run(sd, READ_16, 0, BIG_NLBAS, 1, NULL, SBC_BS);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	sbc_assert_info_desc(c, BIG_NLBAS);
	c = sbc_run(sd, WRITE_16, 0, BIG_NLBAS - 1, 2, data, sizeof(data));
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	sbc_assert_info_desc(c, BIG_NLBAS - 1);
	sbc_assert_blocks(sd, BIG_NLBAS - 1, 1, data + SBC_BS);
}

/* VERIFY and COMPARE AND WRITE above 2^32: MISCOMPARE's INFORMATION is
 * the offset of the first differing byte in the data-out buffer (small,
 * VALID in fixed format), in both formats. */
static void test_wide_lba_miscompare(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t want[4 * SBC_BS], caw[2 * SBC_BS];
	uint8_t cdb[16] = { COMPARE_AND_WRITE };
	struct sim_cmd *c;

	sbc_fill(want, sizeof(want), 12);
	sbc_write(sd, WIDE + 16, 4, want);
	assert_good(sbc_run(sd, VERIFY_16, BYTCHK1, WIDE + 16, 4, want, sizeof(want)));
	want[1500] ^= 0x20;
	c = sbc_run(sd, VERIFY_16, BYTCHK1, WIDE + 16, 4, want, sizeof(want));
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info(c, 1500);

	memcpy(caw, want + SBC_BS, SBC_BS);	/* block WIDE + 17 as written */
	caw[300] ^= 0x01;
	memset(caw + SBC_BS, 0x77, SBC_BS);
	tcmu_put_be64(cdb + 2, WIDE + 17);
	cdb[13] = 1;
	c = sim_dev_run(sd, cdb, 16, caw, sizeof(caw));
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info(c, 300);

	sbc_set_d_sense(sd, true);
	c = sbc_run(sd, VERIFY_16, BYTCHK1, WIDE + 16, 4, want, sizeof(want));
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info_desc(c, 1500);
	c = sim_dev_run(sd, cdb, 16, caw, sizeof(caw));
	assert_sense(c, SENSE_MISCOMPARE, 0x1d, 0x00);
	sbc_assert_info_desc(c, 300);
	want[1500] ^= 0x20;
	sbc_assert_blocks(sd, WIDE + 16, 4, want);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
#define B(fn) cmocka_unit_test_setup_teardown(fn, big_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_wide_lba_fixed_sense),
		T(test_wide_lba_descriptor_sense),
		B(test_wide_lba_big_lun),
		B(test_wide_lba_miscompare),
	};

	return cmocka_run_group_tests_name("sbc wide lba", tests, NULL, NULL);
}
