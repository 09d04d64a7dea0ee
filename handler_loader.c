/*
 * Loading handler plugins; see handler_loader.h. Licensed under the
 * Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler_loader.h"

/* The table as API 1.0 defined it: what any 1.x plugin provides. */
#define HANDLER_V1_0_SIZE \
	(offsetof(struct tcmur_handler, handle_cmd) + sizeof(void *))

int handler_validate(const struct tcmur_handler *h, size_t size, char *why,
		     size_t why_len)
{
	unsigned int major = h->api_version >> 16;

	if (major != TCMUR_HANDLER_API_MAJOR) {
		snprintf(why, why_len, "handler API %u.%u, daemon speaks %u.x",
			 major, handler_minor(h), TCMUR_HANDLER_API_MAJOR);
		return -EPROTO;
	}
	/* Larger is a newer minor version: its extra fields are unknown to
	 * us and left unused, as the API promises. */
	if (h->struct_size < HANDLER_V1_0_SIZE) {
		snprintf(why, why_len, "handler table of %u bytes (at least %zu expected)",
			 h->struct_size, (size_t)HANDLER_V1_0_SIZE);
		return -EPROTO;
	}
	/* API 1.4: a handler may say it needs a newer daemon than us. */
	if (handler_minor(h) >= 4 &&
	    h->struct_size >= offsetof(struct tcmur_handler, needs_api_minor) +
			      sizeof(h->needs_api_minor) &&
	    h->needs_api_minor > TCMUR_HANDLER_API_MINOR) {
		snprintf(why, why_len, "handler %s needs handler API 1.%u, daemon speaks 1.%u",
			 h->subtype ? h->subtype : "?", h->needs_api_minor,
			 TCMUR_HANDLER_API_MINOR);
		return -EPROTO;
	}
	if (!h->name || !h->subtype || !*h->subtype || strchr(h->subtype, '/') ||
	    !h->cfg_desc) {
		snprintf(why, why_len, "handler has no name, subtype or cfg_desc");
		return -EINVAL;
	}
	if (!h->open || !h->close || !h->read || !h->write || !h->flush) {
		snprintf(why, why_len, "handler %s lacks open, close, read, write or flush",
			 h->subtype);
		return -EINVAL;
	}
	return 0;
}

static int set_add(struct handler_set *set, struct handler *hd)
{
	struct handler **items = realloc(set->items, (set->count + 1) * sizeof(*items));

	if (!items)
		return -ENOMEM;
	items[set->count++] = hd;
	set->items = items;
	return 0;
}

int handler_set_load_file(struct handler_set *set, const char *path,
			  const struct log_cfg *log)
{
	const struct tcmur_handler *h;
	struct handler *hd;
	char why[256];
	void *dl;
	int err;

	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		log_err(log, NULL, "load handler %s: %s", path, dlerror());
		return -ENOEXEC;
	}
	h = dlsym(dl, "tcmur_handler_entry");
	if (!h) {
		log_err(log, NULL, "load handler %s: no tcmur_handler_entry symbol", path);
		err = -ENOENT;
		goto out_close;
	}
	err = handler_validate(h, sizeof(struct tcmur_handler), why, sizeof(why));
	if (err) {
		log_err(log, NULL, "load handler %s: %s", path, why);
		goto out_close;
	}
	if (handler_set_find(set, h->subtype)) {
		log_err(log, NULL, "load handler %s: subtype %s already loaded", path,
			h->subtype);
		err = -EEXIST;
		goto out_close;
	}
	hd = calloc(1, sizeof(*hd));
	if (!hd) {
		err = -ENOMEM;
		goto out_close;
	}
	memcpy(&hd->ops, h, h->struct_size < sizeof(hd->ops) ? h->struct_size
							       : sizeof(hd->ops));
	hd->dl = dl;
	hd->path = strdup(path);
	err = set_add(set, hd);
	if (err)
		goto out_free;
	log_dbg(log, NULL, "loaded handler %s (%s) from %s", h->subtype, h->name, path);
	return 0;

out_free:
	free(hd->path);
	free(hd);
out_close:
	dlclose(dl);
	return err;
}

static int is_handler_file(const struct dirent *de)
{
	return fnmatch("handler_*.so", de->d_name, 0) == 0;
}

int handler_set_load_dir(struct handler_set *set, const char *dir,
			 const struct log_cfg *log)
{
	struct dirent **names;
	int n, loaded = 0;

	n = scandir(dir, &names, is_handler_file, alphasort);
	if (n < 0) {
		int err = -errno;

		log_err(log, NULL, "read handler directory %s: %s", dir, strerror(errno));
		return err;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (!handler_set_load_file(set, path, log))
			loaded++;
		free(names[i]);
	}
	free(names);
	return loaded;
}

struct handler *handler_set_find(const struct handler_set *set, const char *subtype)
{
	for (size_t i = 0; i < set->count; i++)
		if (!strcmp(set->items[i]->ops.subtype, subtype))
			return set->items[i];
	return NULL;
}

const char *handler_config_part(const struct tcmur_handler *h, const char *config)
{
	size_t n = strlen(h->subtype);

	if (strncmp(config, h->subtype, n) || config[n] != '/')
		return NULL;
	return config + n + 1;
}

bool handler_check_config(const struct tcmur_handler *h, const char *config, char **why)
{
	const char *cfg = handler_config_part(h, config);
	char *reason = NULL;

	*why = NULL;
	if (!cfg) {
		if (asprintf(why, "config '%s' does not start with '%s/'", config,
			     h->subtype) < 0)
			*why = NULL;
		return false;
	}
	if (!h->check_config || h->check_config(cfg, &reason))
		return true;
	*why = reason ? reason : strdup("invalid config");
	return false;
}

void handler_set_clear(struct handler_set *set)
{
	for (size_t i = 0; i < set->count; i++) {
		struct handler *hd = set->items[i];

		if (hd->dl)
			dlclose(hd->dl);
		free(hd->path);
		free(hd);
	}
	free(set->items);
	set->items = NULL;
	set->count = 0;
}
