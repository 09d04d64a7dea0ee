/*
 * fuzz_netlink: arbitrary bytes as one generic netlink message from the
 * kernel, handled by a tcmu_nl with no socket. The callbacks read every
 * string they are given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netlink.h"

#define FAMILY 0x1c

static void quiet(void *opaque, enum tcmu_log_prio prio, const char *who,
		  const char *func, const char *fmt, va_list ap)
{
}

static void read_info(const struct tcmu_dev_info *info)
{
	volatile size_t n = strlen(info->name) + strlen(info->config) +
			    strlen(info->subtype) + strlen(tcmu_dev_info_handler_cfg(info));

	(void)n;
	if (tcmu_dev_info_handler_cfg(info) < info->config ||
	    tcmu_dev_info_handler_cfg(info) > info->config + sizeof(info->config))
		abort();
}

static int on_added(void *opaque, const struct tcmu_dev_info *info)
{
	read_info(info);
	return 0;
}

static int on_removed(void *opaque, const struct tcmu_dev_info *info)
{
	read_info(info);
	return -ENOENT;
}

static int on_reconfig(void *opaque, const struct tcmu_dev_info *info,
		       const struct tcmu_reconfig *rc)
{
	volatile size_t n = strlen(rc->config);

	(void)n;
	read_info(info);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tcmu_logger log = { .fn = quiet };
	static const struct tcmu_nl_ops ops = {
		.added = on_added, .removed = on_removed, .reconfig = on_reconfig,
	};
	static struct tcmu_nl *nl;
	uint8_t *buf;

	if (!nl && tcmu_nl_new_detached(&nl, FAMILY, &ops, NULL, &log))
		abort();
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	tcmu_nl_handle_msg(nl, buf, size);
	free(buf);
	return 0;
}
