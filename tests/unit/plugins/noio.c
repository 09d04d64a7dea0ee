/* Test plugin: a well-versioned table without read and write. */
#include "tcmu-runner.h"

static int noio_open(struct tcmur_device *dev, bool reopen) { return 0; }
static void noio_close(struct tcmur_device *dev) { }
static tcmu_sts noio_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return TCMU_STS_GOOD;
}

TCMUR_REGISTER_HANDLER(
	.name = "No I/O", .subtype = "noio", .cfg_desc = "x",
	.open = noio_open, .close = noio_close, .flush = noio_flush,
);
