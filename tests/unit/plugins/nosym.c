/* Test plugin: no tcmur_handler_entry symbol (a typo in its name). */
#include "tcmu-runner.h"

const struct tcmur_handler tcmur_handler_entri = {
	.struct_size = sizeof(struct tcmur_handler),
	.api_version = TCMUR_HANDLER_API_VERSION,
	.name = "Typo", .subtype = "typo", .cfg_desc = "x",
};
