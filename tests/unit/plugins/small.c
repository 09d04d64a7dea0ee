/* Test plugin: a table smaller than API 1.0's (struct_size too small). */
#include <stddef.h>

#include "tcmu-runner.h"

static int small_open(struct tcmur_device *dev, bool reopen) { return 0; }
static void small_close(struct tcmur_device *dev) { }

const struct tcmur_handler tcmur_handler_entry = {
	.struct_size = offsetof(struct tcmur_handler, read),
	.api_version = TCMUR_HANDLER_API_VERSION,
	.name = "Small", .subtype = "small", .cfg_desc = "x",
	.open = small_open, .close = small_close,
};
