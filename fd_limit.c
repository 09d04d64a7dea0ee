/*
 * The daemon's open-file limit: raised at start, named when reached.
 * See fd_limit.h. Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "fd_limit.h"

/* @v as a number, or "unlimited" (RLIM_INFINITY), in @buf. */
static const char *rlim_str(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

int fd_limit_raise(const struct log_cfg *log)
{
	char cur[24], max[24];
	struct rlimit r;
	rlim_t was;
	int err;

	if (getrlimit(RLIMIT_NOFILE, &r)) {
		err = -errno;
		log_warn(log, NULL, "open files: cannot read the limit: %s", strerror(errno));
		return err;
	}
	rlim_str(r.rlim_max, max, sizeof(max));
	if (r.rlim_cur == r.rlim_max) {
		log_info(log, NULL, "open files: up to %s (the hard limit)", max);
		return 0;
	}
	was = r.rlim_cur;
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r)) {
		err = -errno;
		log_warn(log, NULL, "open files: cannot raise the soft limit %s to the hard "
			 "limit %s: %s; devices past the soft limit will be refused",
			 rlim_str(was, cur, sizeof(cur)), max, strerror(errno));
		return err;
	}
	log_info(log, NULL, "open files: up to %s (soft limit raised from %s to the hard "
		 "limit)", max, rlim_str(was, cur, sizeof(cur)));
	return 0;
}

void fd_limit_log_refused(const struct log_cfg *log, const struct tcmu_dev_info *info,
			  int err, unsigned int served)
{
	struct rlimit r = { RLIM_INFINITY, RLIM_INFINITY };
	char cur[24];

	getrlimit(RLIMIT_NOFILE, &r);
	rlim_str(r.rlim_cur, cur, sizeof(cur));
	if (err == -ENFILE)
		log_err(log, info->name, "refused uio%u: the system is out of file "
			"descriptors (ENFILE: fs.file-max reached), with %u devices served; "
			"this process may have %s open files: raise fs.file-max (sysctl), "
			"not LimitNOFILE", info->uio_minor, served, cur);
	else
		log_err(log, info->name, "refused uio%u: out of file descriptors (EMFILE) "
			"with %u devices served: this process may have %s open files "
			"(RLIMIT_NOFILE); raise LimitNOFILE (systemctl edit tcmu-runner), "
			"or ulimit -n where it is started by hand",
			info->uio_minor, served, cur);
}
