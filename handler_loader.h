/*
 * Handlers: plugins handler_<subtype>.so found in the plugin directory,
 * checked for API version and required callbacks, kept in a set that
 * the daemon owns. Licensed under the Apache License, Version 2.0.
 */
#ifndef HANDLER_LOADER_H
#define HANDLER_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "tcmu-runner.h"

struct handler {
	/* A copy, zero-padded: fields past the plugin's struct_size are NULL. */
	struct tcmur_handler ops;
	void *dl;		/* dlopen handle; NULL for a built-in */
	char *path;
};

/* The minor version of the handler API @h was built for: fields of a
 * later minor are not in its table (zero in struct handler's copy). */
static inline unsigned int handler_minor(const struct tcmur_handler *h)
{
	return h->api_version & 0xffff;
}

struct handler_set {
	struct handler **items;
	size_t count;
};

/*
 * Load every handler_*.so in @dir into @set, logging each one refused
 * (and why). Returns how many were loaded, or -errno if @dir can't be read.
 */
int handler_set_load_dir(struct handler_set *set, const char *dir,
			 const struct log_cfg *log);
/* Load one plugin file; 0 or -errno (-EPROTO: API version, -EINVAL: bad table). */
int handler_set_load_file(struct handler_set *set, const char *path,
			  const struct log_cfg *log);
/* Check a handler table; on error says why in @why. */
int handler_validate(const struct tcmur_handler *h, size_t size, char *why,
		     size_t why_len);
struct handler *handler_set_find(const struct handler_set *set, const char *subtype);
/* The handler part of @config when it reads "<h's subtype>/...", else NULL. */
const char *handler_config_part(const struct tcmur_handler *h, const char *config);
/*
 * Whether @h would open @config ("<subtype>/..."), by its check_config:
 * true, or false with a malloc'ed reason in *why (NULL if out of memory),
 * which the caller frees. The handler's check may block: call this off
 * the daemon's main loop.
 */
bool handler_check_config(const struct tcmur_handler *h, const char *config, char **why);
void handler_set_clear(struct handler_set *set);

#endif
