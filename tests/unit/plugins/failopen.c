/* Test plugin: well formed, but every open fails with -EACCES. */
#include <errno.h>
#include <stdlib.h>

#include "tcmu-runner.h"

struct failopen_dev {
	void *never;
};

static int fo_open(struct tcmur_device *dev, bool reopen)
{
	tcmu_dev_err(dev, "open %s: %s", tcmur_dev_config(dev), "refused for the test");
	return -EACCES;
}
static void fo_close(struct tcmur_device *dev) { abort(); }
static tcmu_sts fo_io(struct tcmur_device *dev, struct tcmur_cmd *cmd,
		      struct iovec *iov, size_t iov_cnt, size_t len, uint64_t off)
{
	abort();
}
static tcmu_sts fo_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	abort();
}

TCMUR_REGISTER_HANDLER(
	.name = "Fails to open", .subtype = "failopen", .cfg_desc = "x",
	.dev_private_size = sizeof(struct failopen_dev),
	.open = fo_open, .close = fo_close, .read = fo_io, .write = fo_io,
	.flush = fo_flush,
);
