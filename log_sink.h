/*
 * Where the daemon's log lines go, and how many: the destination the
 * configuration names (config.h, [log]) and the rate limiter
 * (log_limit.h) in front of it.
 *
 *   journal  under systemd (JOURNAL_STREAM set) "<N>"-prefixed lines on
 *            stderr, which the journal stores with priority N; started
 *            otherwise, syslog(3), which journald also reads. No library.
 *   stderr   time-stamped lines with their level (in the foreground).
 *   file     time- and date-stamped lines appended to a file, rotated
 *            when it passes max_bytes: file.1 ... file.<keep>, oldest
 *            dropped. A file that cannot be opened leaves the sink
 *            where it was (log_sink_apply fails); one that fails later
 *            sends lines to stderr, said once.
 *   auto     journal under systemd, else stderr (the default).
 *
 * Errors, warnings and info lines are rate limited per device and call
 * site; debug and trace lines, asked for, are not.
 * Any thread logs; log_sink_apply, log_sink_flush and log_sink_free
 * run on the main thread. A line is queued (SINK_QUEUE lines, under a
 * short leaf lock) and written by the sink's own thread, so a destination
 * that stalls (a journal not reading, a hung mount) stalls that thread
 * alone: lines that find the queue full are dropped, and how many is
 * written once the destination takes lines again. The writer holds a
 * second leaf lock, the destination's, while it writes.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef LOG_SINK_H
#define LOG_SINK_H

#include <stdbool.h>
#include <stdint.h>

enum log_dest {
	LOG_DEST_AUTO,
	LOG_DEST_JOURNAL,
	LOG_DEST_STDERR,
	LOG_DEST_FILE,
};

struct log_sink_cfg {
	enum log_dest dest;
	char path[256];			/* LOG_DEST_FILE */
	uint64_t max_bytes;		/* rotate past this (0: never) */
	unsigned int keep;		/* rotated files kept */
	unsigned int burst;		/* lines per site per interval (0: no limit) */
	unsigned int interval_s;
};

/* The defaults the configuration starts from. */
void log_sink_cfg_default(struct log_sink_cfg *c);
/* "auto", "journal", "stderr", "file": 0, or -EINVAL. */
int log_dest_parse(const char *name, enum log_dest *out);
const char *log_dest_name(enum log_dest d);

struct log_sink;

/* A sink as @c says; 0 or -errno (the file cannot be opened). */
int log_sink_new(struct log_sink **out, const struct log_sink_cfg *c);
/* Report what is still suppressed, close the file, free. NULL: no-op. */
void log_sink_free(struct log_sink *s);
/* Take @c: 0, or -errno with the sink as it was (a file that cannot be
 * opened). Rate counts are kept across. */
int log_sink_apply(struct log_sink *s, const struct log_sink_cfg *c);
/* A formatted message (log.c). */
void log_sink_put(struct log_sink *s, int prio, const char *who, const char *func,
		  const char *msg);
/* Report sites whose interval ended with lines suppressed: the main
 * loop calls it every second. */
void log_sink_flush(struct log_sink *s);
/* Wait up to @wait_ms until every line queued so far is written; true
 * if it was (before _exit; tests). */
bool log_sink_sync(struct log_sink *s, int wait_ms);
/* Lines dropped by the limiter so far (tests, status). */
unsigned long log_sink_suppressed(struct log_sink *s);

#endif
