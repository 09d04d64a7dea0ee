/*
 * The daemon's log; see log.h. Licensed under the Apache License, 2.0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

void log_init(struct log_cfg *cfg, bool debug)
{
	cfg->max_prio = debug ? TCMU_LOG_DEBUG : TCMU_LOG_INFO;
	cfg->journal = getenv("JOURNAL_STREAM") != NULL;
	cfg->out = stderr;
}

static const char *prio_name(int prio)
{
	switch (prio) {
	case TCMU_LOG_ERR:
		return "ERROR";
	case TCMU_LOG_WARN:
		return "WARN";
	case TCMU_LOG_INFO:
		return "INFO";
	default:
		return "DEBUG";
	}
}

void log_vwrite(const struct log_cfg *cfg, int prio, const char *who,
		const char *func, const char *fmt, va_list ap)
{
	char msg[2048], stamp[32] = "";
	struct timespec ts;
	struct tm tm;

	if (cfg && prio > cfg->max_prio)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg && cfg->journal) {
		fprintf(cfg->out, "<%d>[%s] %s: %s\n", prio, who ? who : "tcmu-runner",
			func, msg);
		fflush(cfg->out);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	/* One fprintf per line keeps lines from different threads whole. */
	fprintf(cfg ? cfg->out : stderr, "%s.%03ld %s [%s] %s: %s\n", stamp,
		ts.tv_nsec / 1000000, prio_name(prio), who ? who : "tcmu-runner",
		func, msg);
	fflush(cfg ? cfg->out : stderr);
}

void log_write(const struct log_cfg *cfg, int prio, const char *who,
	       const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(cfg, prio, who, func, fmt, ap);
	va_end(ap);
}

static void log_tcmu_fn(void *opaque, enum tcmu_log_prio prio, const char *who,
			const char *func, const char *fmt, va_list ap)
{
	log_vwrite(opaque, prio, who, func, fmt, ap);
}

struct tcmu_logger log_as_tcmu_logger(struct log_cfg *cfg)
{
	struct tcmu_logger l = { .fn = log_tcmu_fn, .opaque = cfg };

	return l;
}
