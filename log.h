/*
 * The daemon's log: one line per message, "[who] func: text". Under
 * systemd (JOURNAL_STREAM set) each line starts with "<N>" so the journal
 * records its priority; otherwise a time stamp and level lead.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "libtcmu.h"

struct log_cfg {
	int max_prio;		/* messages above it are dropped */
	bool journal;		/* "<N>" prefixes for the journal */
	FILE *out;
};

/* Set up @cfg for stderr; @debug lets debug messages through. */
void log_init(struct log_cfg *cfg, bool debug);
void log_vwrite(const struct log_cfg *cfg, int prio, const char *who,
		const char *func, const char *fmt, va_list ap);
void log_write(const struct log_cfg *cfg, int prio, const char *who,
	       const char *func, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* A libtcmu logger that writes through @cfg. */
struct tcmu_logger log_as_tcmu_logger(struct log_cfg *cfg);

#define log_err(cfg, who, ...) log_write(cfg, TCMU_LOG_ERR, who, __func__, __VA_ARGS__)
#define log_warn(cfg, who, ...) log_write(cfg, TCMU_LOG_WARN, who, __func__, __VA_ARGS__)
#define log_info(cfg, who, ...) log_write(cfg, TCMU_LOG_INFO, who, __func__, __VA_ARGS__)
#define log_dbg(cfg, who, ...) log_write(cfg, TCMU_LOG_DEBUG, who, __func__, __VA_ARGS__)

#endif
