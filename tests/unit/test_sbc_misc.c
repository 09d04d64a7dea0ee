/*
 * The small SBC commands through the ring: PRE-FETCH, READ DEFECT DATA,
 * PREVENT ALLOW MEDIUM REMOVAL, FORMAT UNIT, and the Block Limits VPD
 * page (0xB0) whose limits the other commands are held to.
 */
#include "sbc_cmds.h"

static void test_pre_fetch(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t pf10[10] = { PRE_FETCH_10 }, pf16[16] = { PRE_FETCH_16 };
	struct sim_cmd *c;

	assert_good(sim_dev_run(sd, pf10, 10, NULL, 0));
	assert_good(sim_dev_run(sd, pf16, 16, NULL, 0));
	tcmu_put_be32(pf10 + 2, 100);
	tcmu_put_be16(pf10 + 7, 50);
	pf10[1] = 0x02;				/* IMMED */
	assert_good(sim_dev_run(sd, pf10, 10, NULL, 0));
	tcmu_put_be64(pf16 + 2, SBC_NLBAS - 10);
	tcmu_put_be32(pf16 + 10, 10);
	assert_good(sim_dev_run(sd, pf16, 16, NULL, 0));
	/* Past the end. */
	tcmu_put_be32(pf10 + 2, SBC_NLBAS - 1);
	tcmu_put_be16(pf10 + 7, 2);
	c = sim_dev_run(sd, pf10, 10, NULL, 0);
	sbc_assert_out_of_range(c, SBC_NLBAS - 1);
	tcmu_put_be64(pf16 + 2, SBC_NLBAS);
	tcmu_put_be32(pf16 + 10, 1);
	c = sim_dev_run(sd, pf16, 16, NULL, 0);
	sbc_assert_out_of_range(c, SBC_NLBAS);
	/* Reserved bits of byte 1. */
	pf16[1] = 0x04;
	c = sim_dev_run(sd, pf16, 16, NULL, 0);
	sbc_assert_bad_cdb(c, 1, 2);
}

/* No defects: a header that echoes the list and format asked for, and a
 * list length of zero; the rest of the buffer cleared. */
static void test_read_defect_data(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t rdd10[10] = { READ_DEFECT_DATA_10, 0, 0x1d, 0, 0, 0, 0, 0, 64, 0 };
	uint8_t rdd12[12] = { READ_DEFECT_DATA_12, 0x0c, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 };
	struct sim_cmd *c;

	c = sim_dev_run(sd, rdd10, 10, NULL, 64);
	assert_good(c);
	assert_int_equal(c->data[0], 0);
	assert_int_equal(c->data[1], 0x1d);
	assert_int_equal(tcmu_get_be16(c->data + 2), 0);
	for (int i = 4; i < 64; i++)
		assert_int_equal(c->data[i], 0);
	c = sim_dev_run(sd, rdd12, 12, NULL, 64);
	assert_good(c);
	assert_int_equal(c->data[1], 0x0c);
	assert_int_equal(tcmu_get_be32(c->data + 4), 0);
	for (int i = 8; i < 64; i++)
		assert_int_equal(c->data[i], 0);
	/* Allocation length 2: the header cut, the rest cleared. */
	rdd10[8] = 2;
	c = sim_dev_run(sd, rdd10, 10, NULL, 8);
	assert_good(c);
	assert_int_equal(c->data[1], 0x1d);
	assert_int_equal(c->data[2], 0);
	/* An ADDRESS DESCRIPTOR INDEX is not taken. */
	rdd12[5] = 1;
	c = sim_dev_run(sd, rdd12, 12, NULL, 64);
	sbc_assert_bad_cdb(c, 5, 0);
}

static void test_prevent_allow(void **state)
{
	struct sim_dev *sd = *state;

	for (uint8_t prevent = 0; prevent < 4; prevent++) {
		uint8_t cdb[6] = { PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, prevent, 0 };

		assert_good(sim_dev_run(sd, cdb, 6, NULL, 0));
	}
	uint8_t bad[6] = { PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0x04, 0 };
	sbc_assert_bad_cdb(sim_dev_run(sd, bad, 6, NULL, 0), 4, 2);
}

static struct sim_cmd *format_unit(struct sim_dev *sd, uint8_t b1, const void *data,
				   size_t len)
{
	uint8_t cdb[6] = { FORMAT_UNIT, b1 };

	return sim_dev_run(sd, cdb, 6, data, len);
}

/* FMTDATA 0 asks for nothing to change; the data stays. */
static void test_format_unit_no_data(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[1024];

	sbc_fill(buf, sizeof(buf), 3);
	sbc_write(sd, 10, 2, buf);
	assert_good(format_unit(sd, 0, NULL, 0));
	sbc_assert_blocks(sd, 10, 2, buf);
}

/* Protection information, a long list and defect lists are refused. */
static void test_format_unit_refused(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t hdr[4] = { 0 };
	struct sim_cmd *c;

	/* FMTPINFO, both bits: the field's top bit. */
	sbc_assert_bad_cdb(format_unit(sd, 0x40, NULL, 0), 1, 7);
	sbc_assert_bad_cdb(format_unit(sd, 0x80, NULL, 0), 1, 7);
	/* LONGLIST, CMPLST, DEFECT LIST FORMAT. */
	sbc_assert_bad_cdb(format_unit(sd, 0x30, hdr, 4), 1, 5);
	sbc_assert_bad_cdb(format_unit(sd, 0x18, hdr, 4), 1, 3);
	sbc_assert_bad_cdb(format_unit(sd, 0x11, hdr, 4), 1, 0);
	/* FMTDATA with a plain short header: GOOD. */
	assert_good(format_unit(sd, 0x10, hdr, 4));
	/* IP: an initialization pattern. */
	hdr[1] = 0x08;
	c = format_unit(sd, 0x10, hdr, 4);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 1, 3);
	/* A defect list. */
	hdr[1] = 0;
	tcmu_put_be16(hdr + 2, 8);
	c = format_unit(sd, 0x10, hdr, 4);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 2, -1);
	/* No header at all: less data-out than the list. */
	c = format_unit(sd, 0x10, hdr, 2);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}

static struct sim_cmd *vpd_b0(struct sim_dev *sd)
{
	uint8_t cdb[6] = { INQUIRY, 0x01, 0xb0, 0, 64, 0 };
	struct sim_cmd *c = sim_dev_run(sd, cdb, 6, NULL, 64);

	assert_good(c);
	assert_int_equal(c->data[1], 0xb0);
	assert_int_equal(tcmu_get_be16(c->data + 2), 0x3c);
	return c;
}

static void test_vpd_b0_limits(void **state)
{
	struct sim_dev *sd = *state;
	struct sim_cmd *c = vpd_b0(sd);

	assert_int_equal(c->data[4] & 0x01, 1);			/* WSNZ */
	assert_int_equal(c->data[5], SCSI_MAX_CAW_BLOCKS);	/* MAX COMPARE AND WRITE */
	assert_int_equal(tcmu_get_be32(c->data + 8), 1024);	/* MAX TRANSFER LENGTH */
	/* Limits an initiator can use (issue 28): a WRITE SAME (and so an
	 * unmap by it) of at most 65535 blocks, what Linux's SCSI layer
	 * carries in one command on tcm_loop, and UNMAP of at most 1M
	 * blocks, what conformance suites accept. */
	assert_int_equal(tcmu_get_be64(c->data + 36), 65535);
	assert_int_equal(SCSI_MAX_WRITE_SAME_BLOCKS, 65535);
	if (sbc_can_unmap(sd)) {
		assert_int_equal(tcmu_get_be32(c->data + 20), 1u << 20);
		assert_int_equal(tcmu_get_be32(c->data + 24), SCSI_MAX_UNMAP_DESCS);
		assert_int_equal(tcmu_get_be32(c->data + 28), 4096 / 512);
	}
	/* The limits are the ones the commands are held to: one more block
	 * of WRITE SAME or COMPARE AND WRITE is refused. */
	uint8_t blk[512] = { 0 };
	c = sbc_run(sd, WRITE_SAME_16, 0x01, 0, SCSI_MAX_WRITE_SAME_BLOCKS + 1, blk, 512);
	sbc_assert_bad_cdb(c, 10, -1);
	c = sbc_run(sd, WRITE_SAME_16, 0, 0, 0, blk, 512);
	sbc_assert_bad_cdb(c, 10, -1);
}

/* Smaller transfers, bigger blocks, no unmap: the page follows. */
static void test_vpd_b0_other_devices(void **state)
{
	struct sim_dev_cfg cfg = { .size = 8 << 20, .block_size = 4096, .max_xfer_blocks = 16 };
	struct sim_dev *sd, *mem;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	c = vpd_b0(sd);
	assert_int_equal(c->data[5], 8);
	assert_int_equal(tcmu_get_be32(c->data + 8), 16);
	if (sbc_can_unmap(sd))
		assert_int_equal(tcmu_get_be32(c->data + 28), 1);
	sim_dev_free(sd);

	mem = sbc_mem_dev("", 1 << 20, 0);
	c = vpd_b0(mem);
	assert_int_equal(c->data[4] & 0x01, 1);
	assert_int_equal(tcmu_get_be32(c->data + 20), 0);
	assert_int_equal(tcmu_get_be32(c->data + 24), 0);
	assert_int_equal(tcmu_get_be32(c->data + 28), 0);
	assert_int_equal(tcmu_get_be64(c->data + 36), SCSI_MAX_WRITE_SAME_BLOCKS);
	sim_dev_free(mem);
}

static unsigned int rc16_exponent(struct sim_dev *sd)
{
	uint8_t cdb[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16 };
	struct sim_cmd *c;

	tcmu_put_be32(cdb + 10, 32);
	c = sim_dev_run(sd, cdb, sizeof(cdb), NULL, 32);
	assert_good(c);
	return c->data[13] & 0x0f;
}

/* The physical block follows the backing store: a file's file system
 * block over 512-byte logical blocks gives READ CAPACITY(16) its
 * exponent and VPD 0xB0 its optimal granularity; a LUN of that block
 * size, and a handler that does not say, have one block per block. */
static void test_physical_block_follows_backing_store(void **state)
{
	struct sim_dev_cfg big = { .size = 8 << 20, .block_size = 4096 };
	struct sim_dev *sd, *mem;
	unsigned int e = 0;
	struct stat st;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, NULL), 0);
	assert_int_equal(stat(sd->path, &st), 0);
	while ((512u << (e + 1)) <= (unsigned int)st.st_blksize)
		e++;
	assert_true(e > 0);	/* every file system here has blocks > 512 */
	assert_int_equal(rc16_exponent(sd), e);
	assert_int_equal(tcmu_get_be16(vpd_b0(sd)->data + 6), 1u << e);
	sim_dev_free(sd);

	assert_int_equal(sim_dev_new(&sd, &big), 0);
	assert_int_equal(rc16_exponent(sd), st.st_blksize > 4096 ? e - 3 : 0);
	sim_dev_free(sd);

	mem = sbc_mem_dev("", 1 << 20, 0);
	assert_int_equal(rc16_exponent(mem), 0);
	assert_int_equal(tcmu_get_be16(vpd_b0(mem)->data + 6), 1);
	sim_dev_free(mem);
}

/* VPD 0xB2 on a device that punches holes: LBPU, LBPWS, LBPWS10, LBPRZ,
 * thin provisioned; READ CAPACITY(16) says LBPME and LBPRZ. */
static void test_vpd_b2_provisioning(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t cdb[6] = { INQUIRY, 0x01, 0xb2, 0, 64, 0 };
	struct sim_cmd *c;

	if (!sbc_can_unmap(sd))
		skip();
	c = sim_dev_run(sd, cdb, 6, NULL, 64);
	assert_good(c);
	assert_int_equal(c->data[1], 0xb2);
	assert_int_equal(c->data[5] & 0xe0, 0xe0);
	assert_int_equal(c->data[5] & 0x1c, 0x04);
	assert_int_equal(c->data[6] & 0x07, 0x02);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_pre_fetch),
		T(test_read_defect_data),
		T(test_prevent_allow),
		T(test_format_unit_no_data),
		T(test_format_unit_refused),
		T(test_vpd_b0_limits),
		cmocka_unit_test(test_vpd_b0_other_devices),
		cmocka_unit_test(test_physical_block_follows_backing_store),
		T(test_vpd_b2_provisioning),
	};

	return cmocka_run_group_tests_name("sbc misc", tests, NULL, NULL);
}
