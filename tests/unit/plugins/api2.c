/* Test plugin: built for a handler API 2.0 this daemon does not speak. */
#include "tcmu-runner.h"

static int v2_open(struct tcmur_device *dev, bool reopen) { return 0; }
static void v2_close(struct tcmur_device *dev) { }
static tcmu_sts v2_io(struct tcmur_device *dev, struct tcmur_cmd *cmd,
		      struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	return TCMU_STS_GOOD;
}
static tcmu_sts v2_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return TCMU_STS_GOOD;
}

const struct tcmur_handler tcmur_handler_entry = {
	.struct_size = sizeof(struct tcmur_handler),
	.api_version = 2 << 16,
	.name = "From the future", .subtype = "api2", .cfg_desc = "x",
	.open = v2_open, .close = v2_close, .read = v2_io, .write = v2_io,
	.flush = v2_flush,
};
