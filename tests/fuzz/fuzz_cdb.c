/*
 * fuzz_cdb: any CDB with any data buffer through the SCSI emulation and
 * the in-memory handler, as the device thread and an I/O thread would run
 * it. Buffers are allocated to their exact sizes, so reading or writing
 * past the CDB, an iovec or the sense buffer is caught; the handler aborts
 * on an I/O outside the LUN; a CHECK CONDITION without sense data, or an
 * internal status leaking out, aborts too.
 *
 * Input: [device][sense format, iov count][data length: 2 bytes][CDB][data]
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mem_handler.h"
#include "scsi_defs.h"
#include "scsi_emulate.h"
#include "sim_dev.h"

#define NDEVS 3

static struct sim_dev *devs[NDEVS];

static void make_devs(void)
{
	static const struct sim_dev_cfg cfgs[NDEVS] = {
		{ .ops = &mem_handler_ops, .size = 1 << 20, .block_size = 512 },
		{ .ops = &mem_handler_ops, .size = 1 << 20, .block_size = 4096,
		  .max_xfer_blocks = 8, .write_cache_off = true, .serial = "x-y" },
		{ .ops = &mem_handler_ops, .size = 0, .block_size = 512, .serial = "" },
	};

	for (int i = 0; i < NDEVS; i++) {
		struct sim_dev_cfg cfg = cfgs[i];

		cfg.ring.cmdr_size = 4096;
		cfg.ring.data_size = 4096;
		if (!cfg.size)
			cfg.size = 512;	/* sim_dev's 0 means 1 MiB; see below */
		if (sim_dev_new(&devs[i], &cfg))
			abort();
	}
	/* A LUN of zero blocks, as a RECONFIG can make it. */
	struct tcmu_reconfig rc = { .has_size = true, .size = 0 };
	if (dev_reconfig(devs[2]->dev, &rc))
		abort();
}

/* The CDB length the ring gives a command (a short variable-length CDB
 * still takes its 8-byte header). */
static size_t cdb_len_of(const uint8_t *p, size_t avail)
{
	int len = tcmu_cdb_len(p, avail);

	return len < 0 ? 8 : (size_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcmu_cmd rcmd = { 0 };
	struct cmd_ctx ctx = { 0 };
	struct iovec iov[8];
	struct tcmur_device *dev;
	size_t cdb_len, data_len, iov_cnt, off, left;
	uint8_t *cdb, *sense;
	tcmu_sts sts;

	if (!devs[0])
		make_devs();
	if (size < 5)
		return 0;
	dev = devs[data[0] % NDEVS]->dev;
	dev->d_sense = false;
	iov_cnt = 1 + (data[1] & 7);
	data_len = data[2] << 8 | data[3];
	data += 4;
	size -= 4;

	cdb_len = cdb_len_of(data, size);
	cdb = calloc(1, cdb_len);
	memcpy(cdb, data, cdb_len < size ? cdb_len : size);
	data += cdb_len < size ? cdb_len : size;
	size -= cdb_len < size ? cdb_len : size;

	/* The buffer, split over iovecs of their own. */
	if (iov_cnt > data_len)
		iov_cnt = data_len;
	off = 0;
	for (size_t i = 0; i < iov_cnt; i++) {
		size_t n = data_len / iov_cnt + (i < data_len % iov_cnt);

		iov[i].iov_base = malloc(n ? n : 1);
		iov[i].iov_len = n;
		memset(iov[i].iov_base, 0xee, n);
		if (off < size)
			memcpy(iov[i].iov_base, data + off, size - off < n ? size - off : n);
		off += n;
	}
	sense = calloc(1, TCMU_SENSE_LEN);

	ctx.pub.cdb = cdb;
	ctx.pub.cdb_len = cdb_len;
	ctx.pub.iov = iov;
	ctx.pub.iov_cnt = iov_cnt;
	ctx.pub.data_len = data_len;
	ctx.rcmd = &rcmd;
	ctx.dev = dev;
	ctx.sense = sense;
	ctx.sense_desc = data_len & 1;

	sts = scsi_emulate(dev, &ctx);
	if (sts == TCMU_STS_ASYNC) {
		if (ctx.io == CMD_IO_NONE)
			abort();	/* nobody would ever complete it */
		left = ctx.len;
		if (ctx.io == CMD_IO_READ || ctx.io == CMD_IO_WRITE) {
			if (left > data_len)
				abort();	/* more than the buffer holds */
		}
		sts = dev_run_io_wait(dev, &ctx);
		if (sts == TCMU_STS_GOOD && ctx.flush_after)
			sts = dev->handler->ops.flush(dev, &ctx.pub);
		/* As dev_finish would: a COMPARE AND WRITE left holding the
		 * lock alone would stop every later command. */
		dev_io_unlock(dev, &ctx);
	}
	if (sts > 0xff)
		abort();
	if (sts == TCMU_STS_CHECK_CONDITION && (sense[0] & 0x7e) != 0x70 &&
	    (sense[0] & 0x7e) != 0x72)
		abort();

	for (size_t i = 0; i < iov_cnt; i++)
		free(iov[i].iov_base);
	free(sense);
	free(cdb);
	return 0;
}
