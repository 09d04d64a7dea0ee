/*
 * --devices: see dev_filter.h. Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#include "dev_filter.h"

int dev_filter_parse(struct dev_filter *f, const char *spec, const char **why)
{
	const char *p = spec, *end;

	memset(f, 0, sizeof(*f));
	if (!spec || !*spec)
		return 0;
	for (;; p = end + 1) {
		size_t len;
		bool excl;

		end = strchrnul(p, ',');
		excl = *p == '!';
		len = (size_t)(end - p) - excl;
		if (!len) {
			*why = "an empty name pattern";
			goto out_invalid;
		}
		if (len >= DEV_FILTER_LEN || f->n == DEV_FILTER_MAX) {
			*why = "more than 16 patterns, or one over 255 characters";
			goto out_invalid;
		}
		memcpy(f->globs[f->n], p + excl, len);
		f->exclude[f->n++] = excl;
		if (!*end)
			return 0;
	}

out_invalid:
	memset(f, 0, sizeof(*f));
	return -EINVAL;
}

bool dev_filter_match(const struct dev_filter *f, const char *name)
{
	bool any_include = false, included = false;

	for (unsigned int i = 0; i < f->n; i++) {
		bool hit = fnmatch(f->globs[i], name, 0) == 0;

		if (f->exclude[i] && hit)
			return false;
		if (!f->exclude[i]) {
			any_include = true;
			included |= hit;
		}
	}
	return !any_include || included;
}
