/*
 * What the SBC command tests (test_sbc_*.c) share: CDB builders, plain
 * READ/WRITE through the ring, data patterns, and checks on sense data
 * and on the file handler's backing file. Header-only.
 */
#ifndef SBC_CMDS_H
#define SBC_CMDS_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem_handler.h"
#include "scsi_emulate.h"
#include "sim_dev.h"
#include "unit_test.h"

/* sim_dev's default LUN: 1 MiB of 512-byte blocks. */
#define SBC_NLBAS 2048
#define SBC_BS 512

/* Bytes derived from @seed, different in every byte of a block. */
static inline void sbc_fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 29 + i * 7 + (i >> 9) + 1);
}

/*
 * A 10-, 12- or 16-byte CDB of the READ/WRITE/VERIFY layout: LBA at byte
 * 2, then the block count (bytes 7-8, 6-9 or 10-13), @b1 in byte 1.
 */
static inline size_t sbc_cdb(uint8_t *cdb, uint8_t op, uint8_t b1, uint64_t lba,
			     uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = b1;
	switch (op >> 5) {
	case 1:
	case 2:
		tcmu_put_be32(cdb + 2, lba);
		tcmu_put_be16(cdb + 7, n);
		return 10;
	case 5:
		tcmu_put_be32(cdb + 2, lba);
		tcmu_put_be32(cdb + 6, n);
		return 12;
	default:
		tcmu_put_be64(cdb + 2, lba);
		tcmu_put_be32(cdb + 10, n);
		return 16;
	}
}

/* Run a command of that layout with @len bytes of data (NULL: poison). */
static inline struct sim_cmd *sbc_run(struct sim_dev *sd, uint8_t op, uint8_t b1,
				      uint64_t lba, uint32_t n, const void *data,
				      size_t len)
{
	uint8_t cdb[16];
	size_t cdb_len = sbc_cdb(cdb, op, b1, lba, n);

	return sim_dev_run(sd, cdb, cdb_len, data, len);
}

static inline uint32_t sbc_bs(struct sim_dev *sd)
{
	return tcmur_dev_block_size(sd->dev);
}

/* WRITE(16) @n blocks of @buf at @lba; must be GOOD. */
static inline void sbc_write(struct sim_dev *sd, uint64_t lba, uint32_t n, const void *buf)
{
	struct sim_cmd *c = sbc_run(sd, WRITE_16, 0, lba, n, buf, (size_t)n * sbc_bs(sd));

	assert_good(c);
	ring_sim_cmd_free(sd->sim, c);
}

/* READ(16) @n blocks at @lba and compare them with @want. */
static inline void sbc_assert_blocks(struct sim_dev *sd, uint64_t lba, uint32_t n,
				     const void *want)
{
	size_t len = (size_t)n * sbc_bs(sd);
	struct sim_cmd *c = sbc_run(sd, READ_16, 0, lba, n, NULL, len);

	assert_good(c);
	assert_int_equal(c->data_len, len);
	assert_memory_equal(c->data, want, len);
	ring_sim_cmd_free(sd->sim, c);
}

/* READ(16) @n blocks at @lba: all of them zeros. */
static inline void sbc_assert_zero_blocks(struct sim_dev *sd, uint64_t lba, uint32_t n)
{
	uint8_t *zero = calloc(n, sbc_bs(sd));

	sbc_assert_blocks(sd, lba, n, zero);
	free(zero);
}

/* Fixed-format sense with VALID set and INFORMATION = @info. */
#define sbc_assert_info(c, info)					\
	do {								\
		assert_int_equal((c)->sense[0], 0xf0);			\
		assert_int_equal(tcmu_get_be32((c)->sense + 3), (info)); \
	} while (0)

/* MODE SELECT(6) of the control mode page with D_SENSE @on (the page as
 * MODE SENSE reports it otherwise): descriptor sense from now on, or
 * fixed again. Must be GOOD. */
static inline void sbc_set_d_sense(struct sim_dev *sd, bool on)
{
	uint8_t list[16] = { 0 }, cdb[6] = { MODE_SELECT_6, 0x10, 0, 0, 16, 0 };
	uint8_t *p = list + 4;

	p[0] = 0x0a;
	p[1] = 0x0a;
	p[2] = on ? 0x04 : 0;	/* D_SENSE */
	p[3] = 0x10;
	p[5] = 0x40;
	p[8] = p[9] = 0xff;
	assert_good(sim_dev_run(sd, cdb, 6, list, sizeof(list)));
}

/* Descriptor-format sense with an information descriptor (VALID set)
 * holding @info, all 64 bits of it. */
#define sbc_assert_info_desc(c, info)					\
	do {								\
		assert_int_equal((c)->sense[0], 0x72);			\
		assert_int_equal((c)->sense[8], 0x00);			\
		assert_int_equal((c)->sense[9], 0x0a);			\
		assert_int_equal((c)->sense[10] & 0x80, 0x80);		\
		assert_int_equal(tcmu_get_be64((c)->sense + 12), (info)); \
	} while (0)

/* ILLEGAL REQUEST, INVALID FIELD IN CDB at @byte, @bit. */
#define sbc_assert_bad_cdb(c, byte, bit)				\
	do {								\
		assert_sense((c), SENSE_ILLEGAL_REQUEST, 0x24, 0x00);	\
		assert_field_ptr((c), true, (byte), (bit));		\
	} while (0)

/* ILLEGAL REQUEST, LBA OUT OF RANGE with INFORMATION = @lba. */
#define sbc_assert_out_of_range(c, lba)					\
	do {								\
		assert_sense((c), SENSE_ILLEGAL_REQUEST, 0x21, 0x00);	\
		sbc_assert_info((c), (lba));				\
	} while (0)

/* A device on mem_handler with @opts ("async", "slow_ms=N", ...). */
static inline struct sim_dev *sbc_mem_dev(const char *opts, uint64_t size,
					  uint32_t max_xfer)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = size, .max_xfer_blocks = max_xfer };
	struct sim_dev *sd = NULL;

	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	return sd;
}

/* The file handler's file: offset of the next hole / data at @off. */
static inline off_t sbc_file_seek(struct sim_dev *sd, off_t off, int whence)
{
	int fd = open(sd->path, O_RDONLY);
	off_t r;

	assert_true(fd >= 0);
	r = lseek(fd, off, whence);
	close(fd);
	return r;
}

/* fsync the backing file (allocation settles); 0 or -1. */
static inline int sbc_file_sync(struct sim_dev *sd)
{
	int fd = open(sd->path, O_RDWR);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* The backing file's allocated 512-byte units. */
static inline long long sbc_file_blocks(struct sim_dev *sd)
{
	struct stat st;

	assert_int_equal(stat(sd->path, &st), 0);
	return st.st_blocks;
}

/* Whether this device deallocates (the file system can punch holes). */
static inline bool sbc_can_unmap(struct sim_dev *sd)
{
	const struct tcmur_handler *h = &sd->dev->handler->ops;

	return h->unmap && (!h->can_unmap || h->can_unmap(sd->dev));
}

#endif
