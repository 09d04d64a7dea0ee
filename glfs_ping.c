/*
 * glfs_ping: the ping_timeout option and the volfile's ping-timeout; see
 * glfs_ping.h for why they matter.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "glfs_ping.h"

int glfs_ping_parse(const char *value, unsigned int *secs, const char **why)
{
	unsigned long v;
	char *end;

	if (!strcmp(value, "volume")) {
		*secs = 0;
		return 0;
	}
	errno = 0;
	v = strtoul(value, &end, 10);
	if (*value < '0' || *value > '9' || errno || *end || v < GLFS_PING_MIN ||
	    v > GLFS_PING_MAX) {
		*why = "ping_timeout is seconds, 1..1013, or \"volume\"";
		return -EINVAL;
	}
	*secs = (unsigned int)v;
	return 0;
}

/* The next whitespace-separated word of the line [*p, end), or NULL. */
static const char *word(const char **p, const char *end, size_t *n)
{
	const char *w = *p;

	while (w < end && (*w == ' ' || *w == '\t' || *w == '\r'))
		w++;
	*p = w;
	while (*p < end && **p != ' ' && **p != '\t' && **p != '\r')
		(*p)++;
	*n = (size_t)(*p - w);
	return *n ? w : NULL;
}

static bool is(const char *w, size_t n, const char *s)
{
	return w && n == strlen(s) && !memcmp(w, s, n);
}

unsigned int glfs_ping_from_volfile(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	bool client = false;
	unsigned int ping = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *w, *v;
		size_t n, vn;

		if (!eol)
			eol = end;
		w = word(&p, eol, &n);
		if (is(w, n, "volume")) {
			client = false;
			ping = 0;
		} else if (is(w, n, "type")) {
			v = word(&p, eol, &vn);
			client = is(v, vn, "protocol/client");
		} else if (is(w, n, "option")) {
			v = word(&p, eol, &vn);
			if (is(v, vn, "ping-timeout")) {
				char num[16] = "";
				const char *why;

				v = word(&p, eol, &vn);
				if (v && vn < sizeof(num))
					memcpy(num, v, vn);
				if (glfs_ping_parse(num, &ping, &why) || !strcmp(num, "volume"))
					ping = 0;
			}
		} else if (is(w, n, "end-volume") && client && ping) {
			return ping;
		}
		p = eol + 1;
	}
	return GLFS_PING_CLIENT_DEFAULT;
}
