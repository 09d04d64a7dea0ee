/*
 * A deliberately broken file handler: the real one, except that every
 * read comes back with its first byte flipped. make check-vm serves a LUN
 * with it and expects fio's verify to fail, which proves the VM tests can
 * see a daemon that returns wrong data. Licensed under the Apache License 2.0.
 */
#define _GNU_SOURCE
#include "../../../tcmu-runner.h"

/* Take the real handler's table under another name. */
#undef TCMUR_REGISTER_HANDLER
#define TCMUR_REGISTER_HANDLER(...) \
	static const struct tcmur_handler file_real = { __VA_ARGS__ }
#include "../../../handler_file.c"

static tcmu_sts corrupt_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			     struct iovec *iov, size_t iov_cnt, size_t len,
			     uint64_t offset)
{
	tcmu_sts sts = file_real.read(dev, cmd, iov, iov_cnt, len, offset);

	if (sts == TCMU_STS_GOOD && iov_cnt && iov[0].iov_len)
		((unsigned char *)iov[0].iov_base)[0] ^= 0xff;
	return sts;
}

const struct tcmur_handler tcmur_handler_entry = {
	.struct_size = sizeof(struct tcmur_handler),
	.api_version = TCMUR_HANDLER_API_VERSION,
	.name = "File-backed storage (corrupts reads, for tests)",
	.subtype = "file",
	.cfg_desc = "file handler that corrupts reads",
	.dev_private_size = sizeof(struct file_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 4,
	.check_config = file_check_config,
	.open = file_open,
	.close = file_close,
	.read = corrupt_read,
	.write = file_write,
	.flush = file_flush,
	.can_fua = file_can_fua,
	.unmap = file_unmap,
	.can_unmap = file_can_unmap,
	.lba_status = file_lba_status,
};
