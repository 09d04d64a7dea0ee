/*
 * The configuration file, /etc/tcmu/tcmu.conf (tcmu-runner --config PATH
 * for another), read with GLib's GKeyFile:
 *
 *   [log]
 *   level = info                 error, warning, info, debug, trace
 *   destination = auto           auto, journal, stderr, file (log_sink.h)
 *   file = /var/log/tcmu-runner.log
 *   max_size_mb = 10             rotate the file past this (0: never)
 *   keep = 5                     rotated files kept
 *   rate_limit_burst = 20        lines per device and call site ...
 *   rate_limit_interval = 5      ... per this many seconds (burst 0: no limit)
 *
 *   [device]                     defaults for the kernel's per-device
 *   cmd_time_out = 30            attributes, written when a device is
 *   qfull_time_out = -1          added and still has the kernel's default
 *                                (dev_tunables.h)
 *
 *   [handler.<subtype>]          options for one handler, kept as strings
 *   <key> = <value>              (config_handler_opt; no handler reads
 *                                them until tcmu-runner.h offers a call)
 *
 * Every value is checked. A bad one is reported with the file's name and
 * its line number, and the key keeps the value it had before (its
 * default at start). A line GKeyFile cannot read at all is reported the
 * same way and left out, and the rest of the file read. A key the file
 * does not set takes its default, so that a reload reflects the file.
 * A missing file is the defaults (said at info level).
 * Main thread. Licensed under the Apache License, Version 2.0.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <glib.h>
#include <stdbool.h>

#include "log.h"
#include "log_sink.h"

#define CONFIG_DEFAULT_PATH "/etc/tcmu/tcmu.conf"
/* config_dev: leave the kernel's value alone. */
#define CONFIG_DEV_UNSET (-1000)

struct config_dev {
	int cmd_time_out;		/* seconds, 0: never (CONFIG_DEV_UNSET) */
	int qfull_time_out;		/* seconds, -1: as cmd_time_out (CONFIG_DEV_UNSET) */
};

struct config {
	int log_level;			/* a log priority (log.h) */
	struct log_sink_cfg log;
	struct config_dev dev;
	GHashTable *handlers;		/* subtype -> (key -> value), strings */
};

/* The defaults; config_clear() frees. */
void config_init(struct config *c);
void config_clear(struct config *c);
/*
 * Read @path into @out (uninitialized): defaults, then the file's values;
 * a bad value keeps @old's (NULL: the default). Bad lines are logged to
 * @log and counted. Returns how many lines were bad, or -errno when the
 * file cannot be read (-ENOENT: there is none), with @out the defaults.
 */
int config_load(struct config *out, const char *path, const struct config *old,
		const struct log_cfg *log);
/* A [handler.@subtype] option, or NULL. */
const char *config_handler_opt(const struct config *c, const char *subtype,
			       const char *key);
/* The 1-based line of @key in [@group] in @text (the last, as GKeyFile
 * takes it), or 0. */
unsigned int config_key_line(const char *text, const char *group, const char *key);
/* The first line GKeyFile would refuse (not blank, a comment, a group or
 * a key = value in a group), or 0. */
unsigned int config_bad_syntax_line(const char *text);

#endif
