/*
 * Which devices this daemon serves, by configfs name (--devices), so that
 * two daemons can share one kernel: each serves its own devices and
 * leaves the others' netlink events and /dev/uioN alone (the device's
 * events then answered by the daemon that serves it; see daemon_devices.c).
 * A list of fnmatch(3) globs separated by commas: a device is served if
 * it matches one plain glob (or there is none) and no glob written with a
 * leading '!'. "gw2" serves gw2 alone; "!gw2" everything but gw2.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef DEV_FILTER_H
#define DEV_FILTER_H

#include <stdbool.h>

#define DEV_FILTER_MAX 16
#define DEV_FILTER_LEN 256

struct dev_filter {
	unsigned int n;			/* 0: every device */
	char globs[DEV_FILTER_MAX][DEV_FILTER_LEN];
	bool exclude[DEV_FILTER_MAX];
};

/* Parse @spec (NULL or "": every device) into @f; 0, or -EINVAL with
 * *why set (an empty glob, too many or too long ones). */
int dev_filter_parse(struct dev_filter *f, const char *spec, const char **why);
/* Whether a daemon with @f serves the device named @name. */
bool dev_filter_match(const struct dev_filter *f, const char *name);

#endif
