/* Test plugin: well formed, but its subtype is good.c's. */
#include "tcmu-runner.h"

static int dup_open(struct tcmur_device *dev, bool reopen) { return 0; }
static void dup_close(struct tcmur_device *dev) { }
static tcmu_sts dup_io(struct tcmur_device *dev, struct tcmur_cmd *cmd,
		       struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	return TCMU_STS_GOOD;
}
static tcmu_sts dup_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return TCMU_STS_GOOD;
}

TCMUR_REGISTER_HANDLER(
	.name = "Duplicate", .subtype = "good", .cfg_desc = "x",
	.open = dup_open, .close = dup_close, .read = dup_io, .write = dup_io,
	.flush = dup_flush,
);
