/*
 * Data through the ring into the file handler's file and back: READ and
 * WRITE 6/10/12/16, READ CAPACITY, SYNCHRONIZE CACHE, range checks, and
 * a backing file shorter than the LUN (what lies past its end reads as
 * zeros). The LUN is 1 MiB of 512-byte blocks (2048 LBAs).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_dev.h"
#include "unit_test.h"

#define NLBAS 2048

static void cdb_rw(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	switch (op) {
	case READ_6:
	case WRITE_6:
		cdb[1] = (lba >> 16) & 0x1f;
		cdb[2] = lba >> 8;
		cdb[3] = lba;
		cdb[4] = n;
		break;
	case READ_10:
	case WRITE_10:
		tcmu_put_be32(cdb + 2, lba);
		tcmu_put_be16(cdb + 7, n);
		break;
	case READ_12:
	case WRITE_12:
		tcmu_put_be32(cdb + 2, lba);
		tcmu_put_be32(cdb + 6, n);
		break;
	default:
		tcmu_put_be64(cdb + 2, lba);
		tcmu_put_be32(cdb + 10, n);
		break;
	}
}

static size_t cdb_size(uint8_t op)
{
	return tcmu_cdb_len(&op, 1);
}

static struct sim_cmd *rw(struct sim_dev *sd, uint8_t op, uint64_t lba, uint32_t n,
			  const void *data, size_t len, unsigned int iov_cnt)
{
	uint8_t cdb[16];

	cdb_rw(cdb, op, lba, n);
	return sim_dev_run_iov(sd, cdb, cdb_size(op), data, len, iov_cnt);
}

static void pattern(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 13 + (i >> 9));
}

static void assert_file(struct sim_dev *sd, uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t *got = malloc(len);
	int fd = open(sd->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, len, off), (ssize_t)len);
	assert_memory_equal(got, want, len);
	close(fd);
	free(got);
}

/* Each READ/WRITE size, written then read back through the ring. */
static void test_rw_all_sizes_round_trip(void **state)
{
	struct sim_dev *sd = *state;
	static const struct { uint8_t w, r; uint64_t lba; uint32_t n; unsigned int iovs; } cases[] = {
		{ WRITE_6, READ_6, 5, 3, 1 },
		{ WRITE_10, READ_10, 100, 8, 3 },
		{ WRITE_12, READ_12, 1000, 16, 5 },
		{ WRITE_16, READ_16, 2040, 8, 7 },
		{ WRITE_16, READ_10, 0, 1, 1 },
		{ WRITE_10, READ_16, 2047, 1, 2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].n * 512;
		uint8_t *buf = malloc(len);
		struct sim_cmd *c;

		pattern(buf, len, i + 1);
		c = rw(sd, cases[i].w, cases[i].lba, cases[i].n, buf, len, cases[i].iovs);
		assert_good(c);
		assert_file(sd, cases[i].lba * 512, buf, len);
		c = rw(sd, cases[i].r, cases[i].lba, cases[i].n, NULL, len, cases[i].iovs + 1);
		assert_good(c);
		assert_int_equal(c->data_len, len);
		assert_memory_equal(c->data, buf, len);
		free(buf);
	}
}

/* READ(6)/WRITE(6) with a transfer length of 0 move 256 blocks. */
static void test_rw6_zero_means_256(void **state)
{
	struct sim_dev *sd = *state;
	size_t len = 256 * 512;
	uint8_t *buf = malloc(len);
	struct sim_cmd *c;

	pattern(buf, len, 77);
	c = rw(sd, WRITE_6, 1024, 0, buf, len, 4);
	assert_good(c);
	assert_file(sd, 1024 * 512, buf, len);
	c = rw(sd, READ_6, 1024, 0, NULL, len, 1);
	assert_good(c);
	assert_memory_equal(c->data, buf, len);
	free(buf);
}

/* A transfer length of 0 in the other sizes moves nothing and is GOOD. */
static void test_rw_zero_length(void **state)
{
	struct sim_cmd *c = rw(*state, READ_10, 10, 0, NULL, 0, 0);

	assert_good(c);
	c = rw(*state, WRITE_16, NLBAS, 0, NULL, 0, 0);
	assert_good(c);
}

/* A buffer larger than the CDB asks for: a WRITE is refused and writes
 * nothing; a READ moves only the blocks asked for (READ_LEN says so). */
static void test_write_moves_only_the_blocks_asked(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t zero[1024] = { 0 }, buf[1024];
	struct sim_cmd *c;

	pattern(buf, sizeof(buf), 5);
	c = rw(sd, WRITE_10, 300, 1, buf, sizeof(buf), 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x0e, 0x03);
	assert_file(sd, 300 * 512, zero, 1024);
	c = rw(sd, READ_10, 299, 1, NULL, 1024, 2);
	assert_good(c);
	assert_true(c->has_read_len);
	assert_int_equal(c->read_len, 512);
	assert_memory_equal(c->data, zero, 1024);
}

static void test_rw_lba_out_of_range(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t buf[1024] = { 0 };
	struct sim_cmd *c;

	c = rw(sd, READ_10, NLBAS, 1, NULL, 512, 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(c->sense[0], 0xf0);		/* VALID: INFORMATION = LBA */
	assert_int_equal(tcmu_get_be32(c->sense + 3), NLBAS);
	c = rw(sd, WRITE_10, NLBAS - 1, 2, buf, 1024, 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	assert_int_equal(tcmu_get_be32(c->sense + 3), NLBAS - 1);
	c = rw(sd, READ_6, 0x1fffff, 1, NULL, 512, 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	/* LBA + length wrapping 64 bits. */
	c = rw(sd, WRITE_16, UINT64_MAX, 2, buf, 1024, 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	c = rw(sd, READ_12, 1, 0xffffffff, NULL, 512, 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	/* The last block is fine. */
	c = rw(sd, READ_16, NLBAS - 1, 1, NULL, 512, 1);
	assert_good(c);
}

/* RDPROTECT/WRPROTECT: no protection information here. */
static void test_rw_protect_field_refused(void **state)
{
	struct sim_dev *sd = *state;
	static const uint8_t ops[] = { READ_10, WRITE_10, READ_12, WRITE_12, READ_16, WRITE_16 };
	uint8_t buf[512] = { 0 };

	for (size_t i = 0; i < sizeof(ops); i++) {
		uint8_t cdb[16];
		struct sim_cmd *c;

		cdb_rw(cdb, ops[i], 0, 1);
		cdb[1] = 0x20;
		c = sim_dev_run(sd, cdb, cdb_size(ops[i]), buf, sizeof(buf));
		assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
		assert_field_ptr(c, true, 1, 7);
	}
}

/* SBC-3's FUA_NV (byte 1, bit 1; obsolete in SBC-4) is taken, as the
 * kernel's fileio takes it (scsi_oracle.py): with no non-volatile cache
 * it asks nothing more than the command does. */
static void test_rw_fua_nv_taken(void **state)
{
	struct sim_dev *sd = *state;
	static const uint8_t ops[] = { READ_10, WRITE_10, READ_12, WRITE_12, READ_16, WRITE_16 };
	uint8_t buf[512] = { 0 };

	for (size_t i = 0; i < sizeof(ops); i++) {
		uint8_t cdb[16];

		cdb_rw(cdb, ops[i], 0, 1);
		cdb[1] = 0x02;
		assert_good(sim_dev_run(sd, cdb, cdb_size(ops[i]), buf, sizeof(buf)));
	}
}

/* FUA, and writes with the write cache off, reach the file. */
static void test_write_fua_and_write_through(void **state)
{
	struct sim_dev_cfg cfg = { .write_cache_off = true };
	struct sim_dev *sd;
	uint8_t buf[2048], cdb[16];
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	pattern(buf, sizeof(buf), 9);
	c = rw(sd, WRITE_16, 7, 4, buf, sizeof(buf), 2);
	assert_good(c);
	assert_file(sd, 7 * 512, buf, sizeof(buf));
	cdb_rw(cdb, WRITE_10, 20, 4);
	cdb[1] = 0x08;	/* FUA */
	c = sim_dev_run(sd, cdb, 10, buf, sizeof(buf));
	assert_good(c);
	assert_file(sd, 20 * 512, buf, sizeof(buf));
	sim_dev_free(sd);
}

/* The file ends 300 bytes into LBA 200 (an admin shrank it, or made it
 * sparse and short): reads across and past the end are zeros there,
 * whatever iovecs carry them; a write past the end lands. */
static void test_file_shorter_than_lun_reads_zeros(void **state)
{
	const off_t end = 200 * 512 + 300;
	uint8_t buf[16 * 512], want[16 * 512];
	struct sim_dev *sd = *state;
	struct sim_cmd *c;

	pattern(buf, sizeof(buf), 4);
	assert_good(rw(sd, WRITE_16, 192, 16, buf, sizeof(buf), 1));
	assert_int_equal(truncate(sd->path, end), 0);
	memset(want, 0, sizeof(want));
	memcpy(want, buf, end - 192 * 512);
	for (unsigned int iovs = 1; iovs <= 5; iovs += 2) {
		c = rw(sd, READ_16, 192, 16, NULL, sizeof(want), iovs);
		assert_good(c);
		assert_memory_equal(c->data, want, sizeof(want));
	}
	memset(want, 0, sizeof(want));
	c = rw(sd, READ_10, 1000, 16, NULL, sizeof(want), 3);
	assert_good(c);
	assert_memory_equal(c->data, want, sizeof(want));
	c = rw(sd, READ_16, NLBAS - 1, 1, NULL, 512, 1);
	assert_good(c);
	assert_memory_equal(c->data, want, 512);
	/* Writing past the end extends the file; the gap stays zeros. */
	assert_good(rw(sd, WRITE_16, 1500, 2, buf, 1024, 1));
	c = rw(sd, READ_16, 1499, 4, NULL, 2048, 2);
	assert_good(c);
	assert_memory_equal(c->data, want, 512);
	assert_memory_equal(c->data + 512, buf, 1024);
	assert_memory_equal(c->data + 1536, want, 512);
}

static void test_read_capacity_10(void **state)
{
	uint8_t cdb[10] = { READ_CAPACITY_10 };
	struct sim_cmd *c = sim_dev_run(*state, cdb, 10, NULL, 8);

	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), NLBAS - 1);
	assert_int_equal(tcmu_get_be32(c->data + 4), 512);
	/* An LBA without PMI is invalid. */
	cdb[5] = 1;
	c = sim_dev_run(*state, cdb, 10, NULL, 8);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}

static void test_read_capacity_16(void **state)
{
	uint8_t cdb[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16 };
	struct sim_cmd *c;

	tcmu_put_be32(cdb + 10, 32);
	c = sim_dev_run(*state, cdb, 16, NULL, 32);
	assert_good(c);
	assert_int_equal(tcmu_get_be64(c->data), NLBAS - 1);
	assert_int_equal(tcmu_get_be32(c->data + 8), 512);
	assert_int_equal(c->data[14], 0xc0);	/* LBPME, LBPRZ: the file handler punches holes */
	/* Allocation length 12: the rest of the buffer stays clear. */
	tcmu_put_be32(cdb + 10, 12);
	c = sim_dev_run(*state, cdb, 16, NULL, 32);
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data + 8), 512);
	for (int i = 12; i < 32; i++)
		assert_int_equal(c->data[i], 0);
}

/* 4 KiB blocks, and more LBAs than READ CAPACITY(10) can say. */
static void test_read_capacity_big_lun(void **state)
{
	struct sim_dev_cfg cfg = { .size = 3ull << 40, .block_size = 512 };
	struct sim_dev_cfg cfg4k = { .size = 8 << 20, .block_size = 4096 };
	uint8_t rc10[10] = { READ_CAPACITY_10 };
	uint8_t rc16[16] = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, [13] = 32 };
	struct sim_dev *sd;
	struct sim_cmd *c;

	(void)state;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	c = sim_dev_run(sd, rc10, 10, NULL, 8);
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), 0xffffffff);
	c = sim_dev_run(sd, rc16, 16, NULL, 32);
	assert_good(c);
	assert_int_equal(tcmu_get_be64(c->data), (3ull << 40) / 512 - 1);
	sim_dev_free(sd);

	assert_int_equal(sim_dev_new(&sd, &cfg4k), 0);
	c = sim_dev_run(sd, rc10, 10, NULL, 8);
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), 2047);
	assert_int_equal(tcmu_get_be32(c->data + 4), 4096);
	/* And I/O in 4 KiB blocks. */
	uint8_t buf[8192];
	pattern(buf, sizeof(buf), 3);
	c = rw(sd, WRITE_10, 2046, 2, buf, sizeof(buf), 3);
	assert_good(c);
	assert_file(sd, 2046 * 4096ull, buf, sizeof(buf));
	c = rw(sd, READ_10, 2047, 2, NULL, sizeof(buf), 1);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	sim_dev_free(sd);
}

/* The size follows a RECONFIG from the kernel. */
static void test_read_capacity_after_resize(void **state)
{
	struct sim_dev *sd = *state;
	struct tcmu_reconfig rc = { .has_size = true, .size = 2 << 20 };
	uint8_t cdb[10] = { READ_CAPACITY_10 };
	struct sim_cmd *c;

	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	/* CAPACITY DATA HAS CHANGED first (test_device_unit_attention.c). */
	assert_sense(sim_dev_run(sd, cdb, 10, NULL, 8), SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	c = sim_dev_run(sd, cdb, 10, NULL, 8);
	assert_good(c);
	assert_int_equal(tcmu_get_be32(c->data), 4095);
	c = rw(sd, READ_10, 4095, 1, NULL, 512, 1);
	assert_good(c);
}

static void test_synchronize_cache(void **state)
{
	struct sim_dev *sd = *state;
	uint8_t sc10[10] = { SYNCHRONIZE_CACHE_10 };
	uint8_t sc16[16] = { SYNCHRONIZE_CACHE_16 };
	struct sim_cmd *c;

	assert_good(sim_dev_run(sd, sc10, 10, NULL, 0));
	assert_good(sim_dev_run(sd, sc16, 16, NULL, 0));
	/* A range inside the LUN. */
	tcmu_put_be32(sc10 + 2, 100);
	tcmu_put_be16(sc10 + 7, 10);
	assert_good(sim_dev_run(sd, sc10, 10, NULL, 0));
	/* A range past it. */
	tcmu_put_be64(sc16 + 2, NLBAS - 1);
	tcmu_put_be32(sc16 + 10, 2);
	c = sim_dev_run(sd, sc16, 16, NULL, 0);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sim_dev_setup, sim_dev_teardown)
	const struct CMUnitTest tests[] = {
		T(test_rw_all_sizes_round_trip),
		T(test_rw6_zero_means_256),
		T(test_rw_zero_length),
		T(test_write_moves_only_the_blocks_asked),
		T(test_rw_lba_out_of_range),
		T(test_rw_protect_field_refused),
		T(test_rw_fua_nv_taken),
		cmocka_unit_test(test_write_fua_and_write_through),
		cmocka_unit_test_setup_teardown(test_file_shorter_than_lun_reads_zeros,
						sim_dev_setup, sim_dev_teardown),
		T(test_read_capacity_10),
		T(test_read_capacity_16),
		cmocka_unit_test(test_read_capacity_big_lun),
		T(test_read_capacity_after_resize),
		T(test_synchronize_cache),
	};

	return cmocka_run_group_tests_name("scsi read/write", tests, NULL, NULL);
}
