/*
 * The daemon's log: one line per message, "[who] func: text", where who
 * is "<device> <handler>" for every line about a device. Levels are
 * syslog's: error 3, warning 4, info 6, debug 7, and trace 8 (one line
 * per SCSI command, which costs an atomic load when off).
 *
 * Where lines go: with no sink (cfg->sink NULL: tests, tcmu-sim) to
 * cfg->out, "<N>"-prefixed when cfg->journal (JOURNAL_STREAM set, so
 * the journal records each line's priority), else stamped with time and
 * level. With a sink (log_sink.h, the daemon's), to the destination the
 * configuration names (journal, stderr, or a file it rotates), and rate
 * limited per device and call site, so that a failing device cannot
 * flood the journal: what a site had suppressed is reported as "N
 * messages suppressed" when it speaks again or its interval ends.
 *
 * Threads: any thread logs. max_prio is read and written atomically
 * (log_set_level), so a reload changes the level under running I/O; the
 * sink has its own lock.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "libtcmu.h"

/* Below debug: every command, as it finishes (dev_stats.c). */
#define LOG_PRIO_TRACE 8

struct log_sink;

struct log_cfg {
	int max_prio;		/* messages above it are dropped (atomic) */
	bool journal;		/* "<N>" prefixes for the journal */
	FILE *out;
	struct log_sink *sink;	/* NULL: out as above; not owned */
};

/* Set up @cfg for stderr; @debug lets debug messages through. */
void log_init(struct log_cfg *cfg, bool debug);
/* Change the level from any thread; messages in flight see one or the other. */
void log_set_level(struct log_cfg *cfg, int max_prio);
int log_level(const struct log_cfg *cfg);
/* Whether a message of @prio would be written (e.g. per-command trace). */
bool log_enabled(const struct log_cfg *cfg, int prio);
/* "error", "warning", "info", "debug", "trace" (and "err", "warn"): the
 * priority, or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int prio);

void log_vwrite(const struct log_cfg *cfg, int prio, const char *who,
		const char *func, const char *fmt, va_list ap);
void log_write(const struct log_cfg *cfg, int prio, const char *who,
	       const char *func, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* One line to @out: "<N>[who] func: msg" for the journal, else stamped
 * with the time (and the date, for a file) and the level. */
void log_put_line(FILE *out, bool journal, bool date, int prio, const char *who,
		  const char *func, const char *msg);
/* A libtcmu logger that writes through @cfg. */
struct tcmu_logger log_as_tcmu_logger(struct log_cfg *cfg);

#define log_err(cfg, who, ...) log_write(cfg, TCMU_LOG_ERR, who, __func__, __VA_ARGS__)
#define log_warn(cfg, who, ...) log_write(cfg, TCMU_LOG_WARN, who, __func__, __VA_ARGS__)
#define log_info(cfg, who, ...) log_write(cfg, TCMU_LOG_INFO, who, __func__, __VA_ARGS__)
#define log_dbg(cfg, who, ...) log_write(cfg, TCMU_LOG_DEBUG, who, __func__, __VA_ARGS__)

#endif
