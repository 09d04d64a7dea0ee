/*
 * See module_load.h. Licensed under the Apache License, Version 2.0.
 */
#include <errno.h>
#include <string.h>
#include <libkmod.h>

#include "module_load.h"

int module_load(const char *name, const struct log_cfg *log)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	int err;

	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		log_err(log, NULL, "load module %s: libkmod context failed", name);
		return -ENOMEM;
	}
	err = kmod_module_new_from_name(ctx, name, &mod);
	if (err < 0) {
		log_err(log, NULL, "load module %s: %s", name, strerror(-err));
		goto out_ctx;
	}
	err = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL,
					      NULL, NULL);
	if (err < 0)
		log_err(log, NULL, "load module %s: %s", name, strerror(-err));
	else
		log_info(log, NULL, "loaded kernel module %s", name);
	kmod_module_unref(mod);
out_ctx:
	kmod_unref(ctx);
	return err < 0 ? err : 0;
}
