/*
 * Thin provisioning through the ring: UNMAP and WRITE SAME (UNMAP, NDOB)
 * punching holes in the file handler's file, GET LBA STATUS reading them
 * back, the parameter list checks, and a handler without unmap
 * (mem_handler), for which none of it is offered.
 */
#include "sbc_cmds.h"

#define UNMAP_HDR 8
#define UNMAP_DESC 16

/* An UNMAP parameter list of @n descriptors (lba, count) pairs. */
static size_t unmap_list(uint8_t *buf, const uint64_t (*d)[2], size_t n)
{
	size_t len = UNMAP_HDR + n * UNMAP_DESC;

	memset(buf, 0, len);
	tcmu_put_be16(buf, len - 2);
	tcmu_put_be16(buf + 2, n * UNMAP_DESC);
	for (size_t i = 0; i < n; i++) {
		tcmu_put_be64(buf + UNMAP_HDR + i * UNMAP_DESC, d[i][0]);
		tcmu_put_be32(buf + UNMAP_HDR + i * UNMAP_DESC + 8, d[i][1]);
	}
	return len;
}

static struct sim_cmd *unmap(struct sim_dev *sd, uint8_t b1, uint16_t param_len,
			     const void *data, size_t len)
{
	uint8_t cdb[10] = { UNMAP, b1 };

	tcmu_put_be16(cdb + 7, param_len);
	return sim_dev_run(sd, cdb, 10, data, len);
}

static struct sim_cmd *unmap_descs(struct sim_dev *sd, const uint64_t (*d)[2], size_t n)
{
	uint8_t *buf = malloc(UNMAP_HDR + n * UNMAP_DESC);
	size_t len = unmap_list(buf, d, n);
	struct sim_cmd *c = unmap(sd, 0, len, buf, len);

	free(buf);
	return c;
}

/* Skip a test on a file system that cannot punch holes. */
#define require_unmap(sd)						\
	do {								\
		if (!sbc_can_unmap(sd)) {				\
			print_message("no hole punching in $TMPDIR: skipped\n"); \
			skip();						\
		}							\
	} while (0)

/* Fill [lba, lba + n) with data; returns it (free it). */
static uint8_t *write_data(struct sim_dev *sd, uint64_t lba, uint32_t n, unsigned int seed)
{
	uint8_t *buf = malloc((size_t)n * 512);

	sbc_fill(buf, (size_t)n * 512, seed);
	sbc_write(sd, lba, n, buf);
	return buf;
}

/* Written blocks, unmapped, read back as zeros and are a hole in the file;
 * the blocks around them keep their data. */
static void test_unmap_punches_holes(void **state)
{
	struct sim_dev *sd = *state;
	static const uint64_t d[][2] = { { 16, 16 }, { 64, 32 }, { 200, 0 } };
	uint8_t *data;
	long long before;

	require_unmap(sd);
	data = write_data(sd, 0, 128, 1);
	assert_int_equal(sbc_file_sync(sd), 0);
	before = sbc_file_blocks(sd);
	assert_true(before >= 128);
	assert_good(unmap_descs(sd, d, 3));
	sbc_assert_zero_blocks(sd, 16, 16);
	sbc_assert_zero_blocks(sd, 64, 32);
	sbc_assert_blocks(sd, 0, 16, data);
	sbc_assert_blocks(sd, 32, 32, data + 32 * 512);
	sbc_assert_blocks(sd, 96, 32, data + 96 * 512);
	/* The file really has holes there. */
	assert_int_equal(sbc_file_seek(sd, 16 * 512, SEEK_HOLE), 16 * 512);
	assert_int_equal(sbc_file_seek(sd, 16 * 512, SEEK_DATA), 32 * 512);
	assert_int_equal(sbc_file_seek(sd, 64 * 512, SEEK_HOLE), 64 * 512);
	assert_int_equal(sbc_file_seek(sd, 64 * 512, SEEK_DATA), 96 * 512);
	assert_true(sbc_file_blocks(sd) <= before - 48);
	free(data);
}

/* A PARAMETER LIST LENGTH of 0 asks for nothing; 1 to 7 cannot hold the
 * header. */
static void test_unmap_param_list_length(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[64] = { 0 };

	require_unmap(sd);
	assert_good(unmap(sd, 0, 0, NULL, 0));
	for (uint16_t len = 1; len < 8; len++) {
		struct sim_cmd *c = unmap(sd, 0, len, buf, len);

		assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
		ring_sim_cmd_free(sd->sim, c);
	}
	/* A header alone, and one with no descriptors, are fine. */
	assert_good(unmap(sd, 0, 8, buf, 8));
	/* An incomplete last descriptor is ignored (SBC-3 5.28.2). */
	{
		static const uint64_t d[][2] = { { 8, 8 } };
		uint8_t *data = write_data(sd, 0, 32, 4);

		unmap_list(buf, d, 1);
		tcmu_put_be16(buf + 2, UNMAP_DESC + 8);
		assert_good(unmap(sd, 0, 8 + UNMAP_DESC + 8, buf, 8 + UNMAP_DESC + 8));
		sbc_assert_zero_blocks(sd, 8, 8);
		sbc_assert_blocks(sd, 0, 8, data);
		/* Only a part of a descriptor: nothing done. */
		tcmu_put_be16(buf + 2, 15);
		assert_good(unmap(sd, 0, 8 + 15, buf, 8 + 15));
		free(data);
	}
}

static void test_unmap_out_of_range(void **state)
{
	struct sim_dev *sd = *state;
	static const uint64_t past[][2] = { { 0, 8 }, { SBC_NLBAS - 4, 5 } };
	static const uint64_t at_end[][2] = { { SBC_NLBAS, 1 } };
	static const uint64_t wrap[][2] = { { UINT64_MAX, 2 } };
	uint8_t *data;
	struct sim_cmd *c;

	require_unmap(sd);
	data = write_data(sd, 0, 8, 2);
	c = unmap_descs(sd, past, 2);
	sbc_assert_out_of_range(c, SBC_NLBAS - 4);
	/* Checked before any block is unmapped. */
	sbc_assert_blocks(sd, 0, 8, data);
	c = unmap_descs(sd, at_end, 1);
	sbc_assert_out_of_range(c, SBC_NLBAS);
	c = unmap_descs(sd, wrap, 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	free(data);
}

/* More descriptors than VPD 0xB0 allows: INVALID FIELD IN PARAMETER LIST
 * at the BLOCK DESCRIPTOR DATA LENGTH. */
static void test_unmap_too_many_descriptors(void **state)
{
	struct sim_dev *sd = *state;
	size_t n = SCSI_MAX_UNMAP_DESCS + 1;
	uint64_t (*d)[2] = calloc(n, sizeof(*d));
	uint8_t *buf = malloc(UNMAP_HDR + n * UNMAP_DESC);
	struct sim_cmd *c;
	size_t len;

	require_unmap(sd);
	for (size_t i = 0; i < n; i++) {
		d[i][0] = i * 4;
		d[i][1] = 1;
	}
	len = unmap_list(buf, d, n - 1);
	assert_good(unmap(sd, 0, len, buf, len));
	len = unmap_list(buf, d, n);
	c = unmap(sd, 0, len, buf, len);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 2, -1);
	free(buf);
	free(d);
}

/* More blocks in all than MAXIMUM UNMAP LBA COUNT: refused at the count
 * of the descriptor that goes over, nothing unmapped. */
static void test_unmap_too_many_blocks(void **state)
{
	struct sim_dev_cfg cfg = { .size = 3ull << 40 };
	static const uint64_t d[][2] = { { 0, 8 }, { 1 << 20, SCSI_MAX_UNMAP_LBAS } };
	static const uint64_t ok[][2] = { { 0, 8 }, { 1 << 20, SCSI_MAX_UNMAP_LBAS - 8 } };
	struct sim_dev *sd;
	struct sim_cmd *c;
	uint8_t *data;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	if (!sbc_can_unmap(sd)) {
		sim_dev_free(sd);
		skip();
	}
	data = write_data(sd, 0, 8, 3);
	c = unmap_descs(sd, d, 2);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, UNMAP_HDR + UNMAP_DESC + 8, -1);
	sbc_assert_blocks(sd, 0, 8, data);
	assert_good(unmap_descs(sd, ok, 2));
	sbc_assert_zero_blocks(sd, 0, 8);
	free(data);
	sim_dev_free(sd);
}

/* ANCHOR is not taken (no anchored state here). */
static void test_unmap_anchor_refused(void **state)
{
	struct sim_dev *sd = *state;
	static const uint64_t d[][2] = { { 0, 8 } };
	uint8_t buf[UNMAP_HDR + UNMAP_DESC];
	size_t len = unmap_list(buf, d, 1);
	struct sim_cmd *c;

	require_unmap(sd);
	c = unmap(sd, 0x01, len, buf, len);
	sbc_assert_bad_cdb(c, 1, 0);
	/* GROUP NUMBER is taken. */
	uint8_t cdb[10] = { UNMAP, 0, 0, 0, 0, 0, 0x1f, 0, len };
	assert_good(sim_dev_run(sd, cdb, 10, buf, len));
}

/* WRITE SAME: one block of pattern over N blocks, nothing after them. */
static void test_write_same_pattern(void **state)
{
	struct sim_dev *sd = *state;
	static const uint8_t ops[] = { WRITE_SAME_10, WRITE_SAME_16 };
	uint8_t blk[512], *want = malloc(37 * 512);

	for (size_t i = 0; i < sizeof(ops); i++) {
		uint64_t lba = 100 + i * 100;

		sbc_fill(blk, sizeof(blk), 60 + i);
		for (int b = 0; b < 37; b++)
			memcpy(want + b * 512, blk, 512);
		assert_good(sbc_run(sd, ops[i], 0, lba, 37, blk, 512));
		sbc_assert_blocks(sd, lba, 37, want);
		sbc_assert_zero_blocks(sd, lba - 1, 1);
		sbc_assert_zero_blocks(sd, lba + 37, 1);
	}
	/* Up to the last block of the LUN; one more is out of range. */
	assert_good(sbc_run(sd, WRITE_SAME_16, 0, SBC_NLBAS - 37, 37, blk, 512));
	sbc_assert_blocks(sd, SBC_NLBAS - 37, 37, want);
	sbc_assert_out_of_range(sbc_run(sd, WRITE_SAME_10, 0, SBC_NLBAS - 36, 37, blk, 512),
				SBC_NLBAS - 36);
	sbc_assert_out_of_range(sbc_run(sd, WRITE_SAME_16, 0, SBC_NLBAS, 1, blk, 512),
				SBC_NLBAS);
	free(want);
}

/* More than a megabyte of pattern: written in pieces, all of it. */
static void test_write_same_large(void **state)
{
	struct sim_dev_cfg cfg = { .size = 8 << 20, .block_size = 4096 };
	const uint32_t n = 600;	/* 2.4 MB */
	uint8_t blk[4096], *want = malloc((size_t)n * 4096);
	struct sim_dev *sd;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sbc_fill(blk, sizeof(blk), 8);
	for (uint32_t b = 0; b < n; b++)
		memcpy(want + (size_t)b * 4096, blk, 4096);
	assert_good(sbc_run(sd, WRITE_SAME_16, 0, 3, n, blk, 4096));
	sbc_assert_blocks(sd, 3, n, want);
	sbc_assert_zero_blocks(sd, 3 + n, 1);
	sim_dev_free(sd);
	free(want);
}

/* A block size that does not divide the pieces WRITE SAME writes in
 * (the kernel's hw_block_size can be any size): still whole blocks. */
static void test_write_same_odd_block_size(void **state)
{
	struct sim_dev_cfg cfg = { .size = 520 * 4096, .block_size = 520 };
	const uint32_t n = 4000;	/* 2 MB */
	uint8_t blk[520], *want = malloc((size_t)n * 520);
	struct sim_dev *sd;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	sbc_fill(blk, sizeof(blk), 12);
	for (uint32_t b = 0; b < n; b++)
		memcpy(want + (size_t)b * 520, blk, 520);
	assert_good(sbc_run(sd, WRITE_SAME_16, 0, 1, n, blk, 520));
	sbc_assert_blocks(sd, 1, n, want);
	sbc_assert_zero_blocks(sd, 0, 1);
	sbc_assert_zero_blocks(sd, n + 1, 1);
	sim_dev_free(sd);
	free(want);
}

/* UNMAP with a block of zeros deallocates; with data it writes; NDOB
 * writes zeros, and with UNMAP deallocates. */
static void test_write_same_unmap_and_ndob(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t zero[512] = { 0 }, blk[512], *data;

	require_unmap(sd);
	data = write_data(sd, 0, 256, 5);
	assert_good(sbc_run(sd, WRITE_SAME_10, 0x08, 64, 64, zero, 512));
	sbc_assert_zero_blocks(sd, 64, 64);
	assert_int_equal(sbc_file_seek(sd, 64 * 512, SEEK_HOLE), 64 * 512);
	assert_int_equal(sbc_file_seek(sd, 64 * 512, SEEK_DATA), 128 * 512);
	assert_good(sbc_run(sd, WRITE_SAME_16, 0x08, 128, 32, zero, 512));
	assert_int_equal(sbc_file_seek(sd, 128 * 512, SEEK_HOLE), 128 * 512);
	sbc_assert_zero_blocks(sd, 128, 32);
	/* NDOB and UNMAP: no data-out buffer at all. */
	assert_good(sbc_run(sd, WRITE_SAME_16, 0x09, 160, 32, NULL, 0));
	assert_int_equal(sbc_file_seek(sd, 160 * 512, SEEK_HOLE), 160 * 512);
	sbc_assert_zero_blocks(sd, 160, 32);
	/* NDOB alone writes zeros. */
	assert_good(sbc_run(sd, WRITE_SAME_16, 0x01, 200, 8, NULL, 0));
	sbc_assert_zero_blocks(sd, 200, 8);
	sbc_assert_blocks(sd, 192, 8, data + 192 * 512);
	sbc_assert_blocks(sd, 208, 48, data + 208 * 512);
	/* UNMAP with data that is not zeros: the data is written. */
	sbc_fill(blk, sizeof(blk), 77);
	assert_good(sbc_run(sd, WRITE_SAME_16, 0x08, 64, 1, blk, 512));
	sbc_assert_blocks(sd, 64, 1, blk);
	free(data);
}

/* WSNZ: 0 blocks is refused, as is more than MAXIMUM WRITE SAME LENGTH;
 * ANCHOR and the protection field too. */
static void test_write_same_refused(void **state)
{
	struct sim_dev_cfg cfg = { .size = 1ull << 30 };
	uint8_t blk[512] = { 1 };
	struct sim_dev *sd = *state, *big;
	struct sim_cmd *c;

	c = sbc_run(sd, WRITE_SAME_10, 0, 0, 0, blk, 512);
	sbc_assert_bad_cdb(c, 7, -1);
	c = sbc_run(sd, WRITE_SAME_16, 0, 0, 0, blk, 512);
	sbc_assert_bad_cdb(c, 10, -1);
	c = sbc_run(sd, WRITE_SAME_16, 0, 0, SCSI_MAX_WRITE_SAME_BLOCKS + 1, blk, 512);
	sbc_assert_bad_cdb(c, 10, -1);
	c = sbc_run(sd, WRITE_SAME_16, 0x10, 0, 1, blk, 512);
	sbc_assert_bad_cdb(c, 1, 4);
	c = sbc_run(sd, WRITE_SAME_10, 0x20, 0, 1, blk, 512);
	sbc_assert_bad_cdb(c, 1, 7);
	/* NDOB is WRITE SAME(16)'s only. */
	c = sbc_run(sd, WRITE_SAME_10, 0x01, 0, 1, NULL, 0);
	sbc_assert_bad_cdb(c, 1, 0);
	/* Less than a block of data (test_scsi_xfer_len has the rest). */
	c = sbc_run(sd, WRITE_SAME_10, 0, 0, 1, blk, 100);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x0e, 0x03);
	/* The maximum itself is fine, on a LUN big enough. */
	assert_int_equal(sim_dev_new(&big, &cfg), 0);
	assert_good(sbc_run(big, WRITE_SAME_16, 0x09, 0, SCSI_MAX_WRITE_SAME_BLOCKS, NULL, 0));
	sim_dev_free(big);
}

static struct sim_cmd *lba_status(struct sim_dev *sd, uint64_t lba, uint32_t alloc)
{
	uint8_t cdb[16] = { SERVICE_ACTION_IN_16, SAI_GET_LBA_STATUS };

	tcmu_put_be64(cdb + 2, lba);
	tcmu_put_be32(cdb + 10, alloc);
	return sim_dev_run(sd, cdb, 16, NULL, alloc);
}

/* One descriptor: @lba, @n blocks, provisioning status @st. */
static void assert_lba_status(struct sim_dev *sd, uint64_t lba, uint32_t n, uint8_t st)
{
	struct sim_cmd *c = lba_status(sd, lba, 24);

	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), 20);
	assert_int_equal(tcmu_get_be64(c->data + 8), lba);
	assert_int_equal(tcmu_get_be32(c->data + 16), n);
	assert_int_equal(c->data[20] & 0x0f, st);
	ring_sim_cmd_free(sd->sim, c);
}

/*
 * Written [0, 64), unmapped [16, 32), never written [64, end): mapped
 * extents end at the hole, deallocated ones at the data.
 */
static void test_get_lba_status(void **state)
{
	struct sim_dev *sd = *state;
	static const uint64_t d[][2] = { { 16, 16 } };
	struct sim_cmd *c;

	require_unmap(sd);
	free(write_data(sd, 0, 64, 6));
	assert_good(unmap_descs(sd, d, 1));
	assert_lba_status(sd, 0, 16, 0);
	assert_lba_status(sd, 8, 8, 0);
	assert_lba_status(sd, 16, 16, 1);
	assert_lba_status(sd, 20, 12, 1);
	assert_lba_status(sd, 32, 32, 0);
	assert_lba_status(sd, 64, SBC_NLBAS - 64, 1);
	assert_lba_status(sd, SBC_NLBAS - 1, 1, 1);
	/* Past the end. */
	c = lba_status(sd, SBC_NLBAS, 24);
	sbc_assert_out_of_range(c, SBC_NLBAS);
	/* A short allocation length cuts the data. */
	c = lba_status(sd, 0, 16);
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), 20);
	assert_int_equal(tcmu_get_be64(c->data + 8), 0);
}

/*
 * The first descriptor starts at the STARTING LOGICAL BLOCK ADDRESS asked
 * for (SBC-4 5.7), also where that is not the start of a physical block
 * (the file handler's is the file system's block, 4 KiB here: READ
 * CAPACITY(16) says so, or the case is skipped).
 */
static void test_get_lba_status_unaligned_start(void **state)
{
	uint8_t rc16[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, [13] = 32 };
	static const uint64_t d[][2] = { { 16, 16 } };
	struct sim_dev *sd = *state;
	struct sim_cmd *c;

	require_unmap(sd);
	c = sim_dev_run(sd, rc16, 16, NULL, 32);
	assert_good(c);
	if (!(c->data[13] & 0x0f)) {
		print_message("physical block = logical block here: skipped\n");
		skip();
	}
	free(write_data(sd, 0, 64, 7));
	assert_good(unmap_descs(sd, d, 1));
	assert_lba_status(sd, 1, 15, 0);
	assert_lba_status(sd, 3, 13, 0);
	assert_lba_status(sd, 17, 15, 1);
	assert_lba_status(sd, 23, 9, 1);
	assert_lba_status(sd, 33, 31, 0);
	assert_lba_status(sd, 65, SBC_NLBAS - 65, 1);
}

/* A handler without unmap: no UNMAP, no GET LBA STATUS, nothing said
 * about provisioning; WRITE SAME with UNMAP still writes zeros. */
static void test_no_unmap_handler(void **state)
{
	struct sim_dev *sd = sbc_mem_dev("", 1 << 20, 0);
	static const uint64_t d[][2] = { { 0, 8 } };
	uint8_t b2[6] = { INQUIRY, 0x01, 0xb2, 0, 64, 0 };
	uint8_t b0[6] = { INQUIRY, 0x01, 0xb0, 0, 64, 0 };
	uint8_t rc16[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, [13] = 32 };
	uint8_t zero[512] = { 0 }, *data;
	struct sim_cmd *c;

	(void)state;
	c = unmap_descs(sd, d, 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	c = lba_status(sd, 0, 24);
	sbc_assert_bad_cdb(c, 1, 4);
	c = sim_dev_run(sd, b2, 6, NULL, 64);
	assert_good(c);
	assert_int_equal(c->data[1], 0xb2);
	assert_int_equal(c->data[5] & 0x80, 0);	/* LBPU */
	assert_int_equal(c->data[5] & 0x60, 0);	/* LBPWS, LBPWS10 */
	c = sim_dev_run(sd, rc16, 16, NULL, 32);
	assert_good(c);
	assert_int_equal(c->data[14] & 0xc0, 0);	/* LBPME, LBPRZ */
	c = sim_dev_run(sd, b0, 6, NULL, 64);
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data + 20), 0);
	assert_int_equal(tcmu_get_be32(c->data + 24), 0);
	data = malloc(16 * 512);
	sbc_fill(data, 16 * 512, 1);
	sbc_write(sd, 0, 16, data);
	assert_good(sbc_run(sd, WRITE_SAME_16, 0x08, 4, 8, zero, 512));
	assert_good(sbc_run(sd, WRITE_SAME_16, 0x09, 12, 2, NULL, 0));
	sbc_assert_blocks(sd, 0, 4, data);
	sbc_assert_zero_blocks(sd, 4, 10);
	sbc_assert_blocks(sd, 14, 2, data + 14 * 512);
	free(data);
	sim_dev_free(sd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_unmap_punches_holes),
		T(test_unmap_param_list_length),
		T(test_unmap_out_of_range),
		T(test_unmap_too_many_descriptors),
		cmocka_unit_test(test_unmap_too_many_blocks),
		T(test_unmap_anchor_refused),
		T(test_write_same_pattern),
		cmocka_unit_test(test_write_same_large),
		cmocka_unit_test(test_write_same_odd_block_size),
		T(test_write_same_unmap_and_ndob),
		T(test_write_same_refused),
		T(test_get_lba_status),
		T(test_get_lba_status_unaligned_start),
		cmocka_unit_test(test_no_unmap_handler),
	};

	return cmocka_run_group_tests_name("sbc provisioning", tests, NULL, NULL);
}
