/*
 * The configuration in force (config.h) and its application to the
 * running daemon: read at start, read again on SIGHUP and when the file
 * changes (a GFileMonitor, inotify underneath, which sees an editor's
 * rename too), each time applied to the log (level, destination, rate
 * limits) while devices keep serving: the I/O threads never wait on a
 * reload, which changes the level atomically and the sink under its own
 * lock (log_sink.h), so no command is held or dropped. The [device]
 * defaults apply to devices added from then on; the [handler.*] options
 * are kept (config_handler_opt) for handlers, which have no call to read
 * them yet: the handler API (tcmu-runner.h) is to offer one.
 *
 * A bad value keeps the value in force; a destination file that cannot
 * be opened keeps the destination in force (both logged with the file's
 * line). -d on the command line keeps debug on whatever the file says.
 * Main thread. Licensed under the Apache License, Version 2.0.
 */
#ifndef CONFIG_LIVE_H
#define CONFIG_LIVE_H

#include <gio/gio.h>
#include <limits.h>

#include "config.h"

struct config_live {
	char path[PATH_MAX];
	bool force_debug;
	struct config cfg;		/* in force */
	struct log_cfg *log;		/* applied to; not owned */
	struct log_sink *sink;		/* made here, set as log->sink */
	GFileMonitor *monitor;
	guint reload_src;		/* a change seen: reload shortly */
	guint flush_src;		/* log_sink_flush, every second */
};

/*
 * Read @path (no file: the defaults, said at info level), give @log a
 * sink as it says, and watch the file (@watch: tests may not). Returns
 * the number of bad lines (all reported), or -errno if no sink could be
 * made at all.
 */
int config_live_start(struct config_live *cl, const char *path, bool force_debug,
		      struct log_cfg *log, bool watch);
/* Read the file again and apply it; @why ("SIGHUP", "file changed") is
 * logged. Bad lines as above, or -errno (file unreadable: nothing changed). */
int config_live_reload(struct config_live *cl, const char *why);
/* Stop watching, take the sink off the log, free it. */
void config_live_stop(struct config_live *cl);

#endif
