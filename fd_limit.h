/*
 * The daemon's open-file limit (RLIMIT_NOFILE), which bounds how many
 * devices it can serve.
 *
 * A served device holds a few descriptors for as long as it is served:
 * its /dev/uioN (mapped, and polled by the device's thread) and what its
 * handler keeps open (the file handler one backing file; rbd and glfs
 * the sockets of their cluster connections). Opening one takes a few
 * more for a moment (sysfs and configfs attributes, each closed once
 * read). The soft limit a process starts with is 1,024 (systemd's
 * default for services, and most shells'), which is some three hundred
 * devices; the hard limit is far higher (systemd's default 524,288).
 * systemd keeps the soft limit low only for programs that pass
 * descriptors to select(), which cannot see one above 1,023; nothing in
 * the daemon does (GLib and the devices' threads poll), so at start it
 * takes the hard limit for its own (fd_limit_raise), and the unit sets
 * LimitNOFILE= (tcmu-runner.service).
 *
 * When a device still cannot be served for want of a descriptor, open(),
 * eventfd() and the like fail with EMFILE (this process is at its limit)
 * or ENFILE (the whole system is, at fs.file-max). The layers below
 * return the error without calling it a failure of their own (libtcmu
 * logs it at debug level); the daemon, which knows its limit, says it
 * once for the device, with the limit and what to raise
 * (fd_limit_log_refused).
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef FD_LIMIT_H
#define FD_LIMIT_H

#include "libtcmu.h"
#include "log.h"

/*
 * Raise this process's soft RLIMIT_NOFILE to its hard limit. Logs one
 * line: info with the limit it now has, or a warning naming the soft and
 * the hard limit if it could not raise it. 0 or -errno.
 */
int fd_limit_raise(const struct log_cfg *log);

/*
 * Device @info could not be served: @err (-EMFILE or -ENFILE,
 * tcmu_fd_limit_reached) came while opening it, with @served devices
 * served. One error line under the device's name: the limit this
 * process has (getrlimit) and what to raise.
 */
void fd_limit_log_refused(const struct log_cfg *log, const struct tcmu_dev_info *info,
			  int err, unsigned int served);

#endif
