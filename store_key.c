/*
 * store_key: which backing store a config names; see store_key.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_key.h"

/*
 * The first @n bytes of @in, an absolute path, into @out (@len >= 2)
 * without empty or "." components, each ".." taking the one before it:
 * "/a//b/./c/../d" is "/a/b/d". A path too long for @out loses its
 * last components.
 */
static void path_tidy(char *out, size_t len, const char *in, size_t n)
{
	const char *end = in + n;
	size_t o = 0;

	while (in < end) {
		const char *slash = memchr(in, '/', end - in);
		size_t c = (slash ? slash : end) - in;

		if (c == 2 && in[0] == '.' && in[1] == '.') {
			while (o && out[--o] != '/')
				;
		} else if (c && !(c == 1 && in[0] == '.') && o + 1 + c < len) {
			out[o++] = '/';
			memcpy(out + o, in, c);
			o += c;
		}
		in += c + (slash != NULL);
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
}

/* A local file or block device: by its resolved path (or, if it does
 * not resolve, as written), and by inode if it exists. */
static void key_local(struct store_key *k, const char *cfg, size_t n)
{
	static const char kind[] = "path:";
	char *path = strndup(cfg, n), *real = path ? realpath(path, NULL) : NULL;
	const char *p = real ? real : cfg;
	struct stat st;

	memcpy(k->name, kind, sizeof(kind) - 1);
	path_tidy(k->name + sizeof(kind) - 1, sizeof(k->name) - (sizeof(kind) - 1), p,
		  real ? strlen(real) : n);
	if (path && !stat(path, &st)) {
		k->has_inode = true;
		k->st_dev = st.st_dev;
		k->st_ino = st.st_ino;
	}
	free(real);
	free(path);
}

/* "<pool>/<image>[@snap]": false if it is not that shape. */
static bool key_rbd(struct store_key *k, const char *cfg, size_t n)
{
	const char *slash = memchr(cfg, '/', n);
	const char *snap = slash ? memchr(slash, '@', n - (slash - cfg)) : NULL;

	if (!slash)
		return false;
	snprintf(k->name, sizeof(k->name), "rbd:%.*s", (int)((snap ? snap : cfg + n) - cfg),
		 cfg);
	return true;
}

/* "<volume>@<hosts>/<path>": false if it is not that shape. */
static bool key_glfs(struct store_key *k, const char *cfg, size_t n)
{
	const char *at = memchr(cfg, '@', n);
	const char *slash = at ? memchr(at, '/', n - (at - cfg)) : NULL;
	int used;

	if (!slash)
		return false;
	used = snprintf(k->name, sizeof(k->name), "glfs:%.*s:", (int)(at - cfg), cfg);
	if (used < 0 || (size_t)used + 2 > sizeof(k->name))
		return true;	/* cut short: still a key */
	path_tidy(k->name + used, sizeof(k->name) - used, slash, n - (slash - cfg));
	return true;
}

void store_key_of(struct store_key *k, const char *subtype, const char *cfg)
{
	size_t n;

	memset(k, 0, sizeof(*k));
	if (!cfg)
		return;
	n = strcspn(cfg, ";");
	if (cfg[0] == '/')
		key_local(k, cfg, n);
	else if (!strcmp(subtype, "rbd") && key_rbd(k, cfg, n))
		return;
	else if (!strcmp(subtype, "glfs") && key_glfs(k, cfg, n))
		return;
	else if (n)
		snprintf(k->name, sizeof(k->name), "%s:%.*s", subtype, (int)n, cfg);
}

bool store_key_same(const struct store_key *a, const struct store_key *b)
{
	if (!a->name[0] || !b->name[0])
		return false;
	if (!strcmp(a->name, b->name))
		return true;
	return a->has_inode && b->has_inode && a->st_dev == b->st_dev &&
	       a->st_ino == b->st_ino;
}
