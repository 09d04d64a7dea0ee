/*
 * fuzz_config: arbitrary strings as a UIO device name (tcmu_dev_info_parse)
 * and as the file handler's config (check_config). A parsed name must be
 * consistent: its parts fit their fields, handler_cfg points into config
 * just after "<subtype>/". A refused config's reason names its path: the
 * config up to its first ';' (options such as ;share_rw=on follow it).
 */
#include <stdlib.h>
#include <string.h>

#include "libtcmu.h"
#include "tcmu-runner.h"

extern const struct tcmur_handler tcmur_handler_entry;

static void check_info(const struct tcmu_dev_info *info)
{
	size_t sub = strlen(info->subtype);

	if (strlen(info->name) >= sizeof(info->name) || !info->name[0] ||
	    strlen(info->config) >= sizeof(info->config) || sub >= sizeof(info->subtype))
		abort();
	if (strchr(info->name, '/') || strchr(info->config, '\n') || strchr(info->subtype, '/'))
		abort();
	if (sub && (strncmp(info->config, info->subtype, sub) || info->config[sub] != '/' ||
		    tcmu_dev_info_handler_cfg(info) != info->config + sub + 1))
		abort();
	if (!sub && *tcmu_dev_info_handler_cfg(info))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcmu_dev_info info;
	char *str = malloc(size + 1), *reason = NULL;

	memcpy(str, data, size);
	str[size] = '\0';
	memset(&info, 0, sizeof(info));
	if (tcmu_dev_info_parse(&info, str) == 0)
		check_info(&info);
	if (tcmur_handler_entry.check_config(str, &reason)) {
		if (reason)
			abort();
	} else {
		char *semi = strchr(str, ';');

		if (semi)
			*semi = '\0';
		if (!reason || !strstr(reason, str))
			abort();	/* the reason names the path */
	}
	free(reason);
	free(str);
	return 0;
}
