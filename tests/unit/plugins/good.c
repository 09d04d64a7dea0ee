/* Test plugin: a well-formed handler, a LUN that reads as zeros. */
#include "tcmu-runner.h"

static int good_open(struct tcmur_device *dev, bool reopen) { return 0; }
static void good_close(struct tcmur_device *dev) { }

static tcmu_sts good_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	tcmu_iov_zero(iov, iov_cnt);
	return TCMU_STS_GOOD;
}

static tcmu_sts good_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	return TCMU_STS_GOOD;
}

static tcmu_sts good_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return TCMU_STS_GOOD;
}

TCMUR_REGISTER_HANDLER(
	.name = "Good test plugin",
	.subtype = "good",
	.cfg_desc = "anything",
	.thread_model = TCMUR_THREAD_SERIAL,
	.open = good_open,
	.close = good_close,
	.read = good_read,
	.write = good_write,
	.flush = good_flush,
);
