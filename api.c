/*
 * SCSI helpers every handler shares: sense data, iovec copies, CDB
 * fields. Declared in tcmu-runner.h. Licensed under the Apache License,
 * Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "cmd.h"
#include "scsi_defs.h"
#include "scsi_sense.h"
#include "tcmu-runner.h"

static tcmu_sts cmd_sense(struct tcmur_cmd *cmd, uint8_t key, uint16_t asc,
			  bool has_info, uint64_t info, const struct scsi_field_ptr *fp)
{
	struct cmd_ctx *ctx = cmd_ctx_of(cmd);

	scsi_sense_build(ctx->sense, ctx->sense_desc, key, asc, has_info, info, fp);
	return TCMU_STS_CHECK_CONDITION;
}

tcmu_sts tcmur_cmd_sense(struct tcmur_cmd *cmd, uint8_t key, uint16_t asc)
{
	return cmd_sense(cmd, key, asc, false, 0, NULL);
}

tcmu_sts tcmur_cmd_sense_info(struct tcmur_cmd *cmd, uint8_t key, uint16_t asc,
			      uint64_t info)
{
	return cmd_sense(cmd, key, asc, true, info, NULL);
}

tcmu_sts tcmur_cmd_miscompare(struct tcmur_cmd *cmd, uint64_t offset)
{
	return cmd_sense(cmd, SENSE_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, true, offset,
			 NULL);
}

tcmu_sts tcmur_cmd_invalid_cdb(struct tcmur_cmd *cmd, uint16_t byte, int bit)
{
	struct scsi_field_ptr fp = { .valid = true, .in_cdb = true, .byte = byte,
				     .bit = bit };

	return cmd_sense(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB,
			 false, 0, &fp);
}

tcmu_sts tcmur_cmd_invalid_param(struct tcmur_cmd *cmd, uint16_t byte, int bit)
{
	struct scsi_field_ptr fp = { .valid = true, .in_cdb = false, .byte = byte,
				     .bit = bit };

	return cmd_sense(cmd, SENSE_ILLEGAL_REQUEST,
			 ASC_INVALID_FIELD_IN_PARAMETER_LIST, false, 0, &fp);
}

/*
 * -errno from a backend -> SCSI status and sense. What the Linux initiator
 * does with each, read in 6.1 (drivers/scsi/scsi_error.c scsi_check_sense,
 * scsi_decide_disposition; scsi_lib.c scsi_io_completion_action; then
 * blk_path_error() in include/linux/blk_types.h, which dm-multipath asks
 * before it fails a path) and measured through the kernel by
 * tests/vm/test_sense_outage.sh (README, "What the initiator does with our
 * sense"). "The window" is a command's (retries + 1) * timeout since it
 * was first sent: 180 s for sd's 5 retries of 30 s; past it the midlayer
 * fails the command.
 *
 *  errno                      we answer                  Linux (1 path) / dm-multipath
 *  ENOMEM EAGAIN EBUSY        BUSY (no sense)            requeued (ADD_TO_MLQUEUE) within
 *                                                        the window; multipath waits on
 *                                                        the same path. Not TASK SET
 *                                                        FULL, which also cuts the queue
 *                                                        depth
 *  ETIMEDOUT ENOTCONN         NOT READY, LOGICAL UNIT    5 quick retries (NEEDS_RETRY),
 *  ESHUTDOWN ECONNRESET       IS IN PROCESS OF BECOMING  then ACTION_DELAYED_RETRY within
 *  ECONNREFUSED ECONNABORTED  READY (04/01)              the window: a brick reconnect or
 *  EHOSTUNREACH EHOSTDOWN                                an OSD op time-out of seconds is
 *  ENETUNREACH ENETDOWN                                  ridden out, no error reaches the
 *  ENETRESET ENOLINK EPIPE                               file system. dm-multipath only
 *  ECOMM                                                 fails the path once the window
 *                                                        is over (BLK_STS_IOERR, a path
 *                                                        error); it does not fail over
 *                                                        at once
 *  EROFS                      DATA PROTECT, WRITE        SCSIML_STAT_TGT_FAILURE ->
 *                             PROTECTED (27/00)          BLK_STS_TARGET: no retry, not a
 *                                                        path error (every path sees the
 *                                                        same read-only image)
 *  ENOSPC EDQUOT              DATA PROTECT, SPACE        SBC-3 4.7.3.7: a thin LUN out of
 *                             ALLOCATION FAILED WRITE    space. Linux sets SCSIML_STAT_NOSPC
 *                             PROTECT (27/07)            -> BLK_STS_NOSPC: -ENOSPC to the
 *                                                        file system, not a path error
 *  anything else (EIO ...),   MEDIUM ERROR, UNRECOVERED  SCSIML_STAT_MED_ERROR ->
 *  read                       READ ERROR (11/00)         BLK_STS_MEDIUM: no retry, not a
 *                                                        path error (the data is bad)
 *  anything else, write or    MEDIUM ERROR, WRITE ERROR  retried (NEEDS_RETRY) up to the
 *  flush                      (0C/00)                    retry count, then BLK_STS_IOERR
 *
 * The transport row trades failover for ride-out: no answer does both.
 * NOT READY 08/00 (what it was) fails the I/O at once, which dm-multipath
 * turns into an immediate failover but a single path into EIO to the file
 * system; every answer Linux retries (BUSY, TASK SET FULL, 04/01, and 29/00
 * or 04/0A once scsi_dh_alua is attached) is retried on the same path, so
 * dm-multipath fails over only after the window. A single path riding out
 * a short outage is the common case; multipath users who want a faster
 * failover lower the window (the device's timeout or retries).
 */
static bool errno_is_transport(int err)
{
	switch (err) {
	case ETIMEDOUT: case ENOTCONN: case ESHUTDOWN: case ECONNRESET:
	case ECONNREFUSED: case ECONNABORTED: case EHOSTUNREACH: case EHOSTDOWN:
	case ENETUNREACH: case ENETDOWN: case ENETRESET: case ENOLINK: case EPIPE:
	case ECOMM:
		return true;
	default:
		return false;
	}
}

tcmu_sts tcmur_cmd_errno(struct tcmur_cmd *cmd, int err, bool write)
{
	switch (err) {
	case -ENOMEM:
	case -EAGAIN:
	case -EBUSY:
		return TCMU_STS_BUSY;
	case -EROFS:
		return tcmur_cmd_sense(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	case -ENOSPC:
	case -EDQUOT:
		return tcmur_cmd_sense(cmd, SENSE_DATA_PROTECT,
				       ASC_SPACE_ALLOC_FAILED_WRITE_PROTECT);
	default:
		if (errno_is_transport(-err))
			return tcmur_cmd_sense(cmd, SENSE_NOT_READY, ASC_BECOMING_READY);
		return tcmur_cmd_sense(cmd, SENSE_MEDIUM_ERROR,
				       write ? ASC_WRITE_ERROR : ASC_READ_ERROR);
	}
}

const uint8_t *tcmur_cmd_sense_buf(const struct tcmur_cmd *cmd)
{
	return cmd_ctx_of((struct tcmur_cmd *)cmd)->sense;
}

size_t tcmu_iov_from_buf(const struct iovec *iov, size_t iov_cnt, const void *buf,
			 size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	for (size_t i = 0; i < iov_cnt && done < len; i++) {
		size_t n = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, p + done, n);
		done += n;
	}
	return done;
}

size_t tcmu_iov_to_buf(void *buf, size_t len, const struct iovec *iov, size_t iov_cnt)
{
	uint8_t *p = buf;
	size_t done = 0;

	for (size_t i = 0; i < iov_cnt && done < len; i++) {
		size_t n = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(p + done, iov[i].iov_base, n);
		done += n;
	}
	return done;
}

void tcmu_iov_zero(const struct iovec *iov, size_t iov_cnt)
{
	for (size_t i = 0; i < iov_cnt; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

ssize_t tcmu_iov_compare(const struct iovec *iov, size_t iov_cnt, const void *buf,
			 size_t len)
{
	const uint8_t *p = buf;
	size_t off = 0;

	for (size_t i = 0; i < iov_cnt && off < len; i++) {
		const uint8_t *b = iov[i].iov_base;
		size_t n = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;

		if (memcmp(b, p + off, n)) {
			for (size_t j = 0; j < n; j++)
				if (b[j] != p[off + j])
					return off + j;
		}
		off += n;
	}
	return -1;
}

size_t tcmu_iov_seek(const struct iovec *iov, size_t iov_cnt, size_t skip,
		     struct iovec *out, size_t out_max)
{
	size_t n = 0;

	for (size_t i = 0; i < iov_cnt && n < out_max; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[n].iov_len = iov[i].iov_len - skip;
		skip = 0;
		n++;
	}
	return n;
}

size_t tcmu_iov_trim(struct iovec *iov, size_t iov_cnt, size_t len)
{
	size_t i;

	for (i = 0; i < iov_cnt && len; i++) {
		if (iov[i].iov_len > len)
			iov[i].iov_len = len;
		len -= iov[i].iov_len;
	}
	return i;
}

uint16_t tcmu_get_be16(const uint8_t *p)
{
	return (uint16_t)p[0] << 8 | p[1];
}

uint32_t tcmu_get_be32(const uint8_t *p)
{
	return (uint32_t)tcmu_get_be16(p) << 16 | tcmu_get_be16(p + 2);
}

uint64_t tcmu_get_be64(const uint8_t *p)
{
	return (uint64_t)tcmu_get_be32(p) << 32 | tcmu_get_be32(p + 4);
}

void tcmu_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

void tcmu_put_be32(uint8_t *p, uint32_t v)
{
	tcmu_put_be16(p, v >> 16);
	tcmu_put_be16(p + 2, v);
}

void tcmu_put_be64(uint8_t *p, uint64_t v)
{
	tcmu_put_be32(p, v >> 32);
	tcmu_put_be32(p + 4, v);
}

uint64_t tcmu_cdb_lba(const uint8_t *cdb)
{
	switch (cdb[0] >> 5) {
	case 0:
		return ((uint32_t)(cdb[1] & 0x1f) << 16) | tcmu_get_be16(cdb + 2);
	case 1:
	case 2:
	case 5:
		return tcmu_get_be32(cdb + 2);
	case 4:
		return tcmu_get_be64(cdb + 2);
	default:
		return 0;
	}
}

uint32_t tcmu_cdb_xfer_len(const uint8_t *cdb)
{
	switch (cdb[0] >> 5) {
	case 0:
		/* READ/WRITE 6: zero means 256 blocks (SBC-3 5.10). */
		return cdb[4] ? cdb[4] : 256;
	case 1:
	case 2:
		return tcmu_get_be16(cdb + 7);
	case 5:
		return tcmu_get_be32(cdb + 6);
	case 4:
		return tcmu_get_be32(cdb + 10);
	default:
		return 0;
	}
}
