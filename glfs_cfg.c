/*
 * glfs_cfg: handler_glfs's config string, parsed; see glfs_cfg.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glfs_cfg.h"
#include "glfs_ping.h"

#define GLFS_DEFAULT_PORT 24007

void glfs_cfg_free(struct glfs_cfg *c)
{
	free(c->buf);
	free(c->hosts);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

/* "host[:port]" into the next slot of @c; 0 or -EINVAL with *why set. */
static int cfg_host(struct glfs_cfg *c, char *h, const char **why)
{
	char *colon = strchr(h, ':'), *end;
	unsigned long port = GLFS_DEFAULT_PORT;

	if (c->key.nhosts == GLFS_MAX_HOSTS) {
		*why = "more than 16 hosts";
		return -EINVAL;
	}
	if (colon) {
		*colon++ = '\0';
		errno = 0;
		port = strtoul(colon, &end, 10);
		if (errno || *end || !*colon || port == 0 || port > 65535) {
			*why = "a port is 1..65535";
			return -EINVAL;
		}
	}
	if (!*h) {
		*why = "an empty host name";
		return -EINVAL;
	}
	c->key.host[c->key.nhosts] = h;
	c->key.port[c->key.nhosts++] = (int)port;
	return 0;
}

/* The ";"-separated options after the path, in place; 0 or -EINVAL
 * with *why set. */
static int cfg_opts(struct glfs_cfg *c, char *opts, const char **why)
{
	char *o, *save;

	c->key.ping = GLFS_PING_DEFAULT;
	if (!opts)
		return 0;
	for (o = strtok_r(opts, ";", &save); o; o = strtok_r(NULL, ";", &save)) {
		static const char ping[] = "ping_timeout=";

		if (!strcmp(o, "create")) {
			c->create = true;
		} else if (strncmp(o, ping, sizeof(ping) - 1)) {
			*why = "unknown option (they are ;ping_timeout=N and ;create)";
			return -EINVAL;
		} else if (glfs_ping_parse(o + sizeof(ping) - 1, &c->key.ping, why)) {
			return -EINVAL;
		}
	}
	return 0;
}

int glfs_cfg_parse(const char *cfg, struct glfs_cfg *c, const char **why)
{
	char *at, *slash, *h, *save, *semi;

	memset(c, 0, sizeof(*c));
	*why = "expected <volume>@<host>[:port][,<host>...]/<path>[;ping_timeout=N][;create]";
	if (!cfg)
		return -EINVAL;
	c->buf = strdup(cfg);
	if (!c->buf)
		goto out_nomem;
	semi = strchr(c->buf, ';');
	if (semi)
		*semi++ = '\0';
	if (cfg_opts(c, semi, why))	/* *why set only on failure */
		goto out_free;
	at = strchr(c->buf, '@');
	slash = at ? strchr(at, '/') : NULL;
	if (!at || at == c->buf || !slash || slash == at + 1 || !slash[1])
		goto out_free;
	*at = '\0';
	*slash = '\0';
	c->key.volume = c->buf;
	c->key.hosts = c->hosts = strdup(at + 1);
	if (!c->hosts || asprintf(&c->path, "/%s", slash + 1) < 0) {
		c->path = NULL;
		goto out_nomem;
	}
	for (h = strtok_r(at + 1, ",", &save); h; h = strtok_r(NULL, ",", &save))
		if (cfg_host(c, h, why))
			goto out_free;
	if (!c->key.nhosts)
		goto out_free;
	return 0;

out_nomem:
	*why = "out of memory";
	glfs_cfg_free(c);
	return -ENOMEM;
out_free:
	glfs_cfg_free(c);
	return -EINVAL;
}

char *glfs_cfg_without_create(const char *cfg)
{
	const char *semi = strchr(cfg, ';');
	size_t len = strlen(cfg);
	char *out = malloc(len + 1), *o;

	if (!out)
		return NULL;
	/* The image part, then each option but "create", as they came. */
	o = out + (semi ? (size_t)(semi - cfg) : len);
	memcpy(out, cfg, (size_t)(o - out));
	while (semi) {
		const char *next = strchr(semi + 1, ';');
		size_t n = next ? (size_t)(next - semi) : strlen(semi);

		if (n != sizeof(";create") - 1 || strncmp(semi, ";create", n)) {
			memcpy(o, semi, n);
			o += n;
		}
		semi = next;
	}
	*o = '\0';
	return out;
}
