/*
 * The daemon's log; see log.h. Licensed under the Apache License, 2.0.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "log_sink.h"

void log_init(struct log_cfg *cfg, bool debug)
{
	cfg->max_prio = debug ? TCMU_LOG_DEBUG : TCMU_LOG_INFO;
	cfg->journal = getenv("JOURNAL_STREAM") != NULL;
	cfg->out = stderr;
	cfg->sink = NULL;
}

void log_set_level(struct log_cfg *cfg, int max_prio)
{
	__atomic_store_n(&cfg->max_prio, max_prio, __ATOMIC_RELAXED);
}

int log_level(const struct log_cfg *cfg)
{
	return __atomic_load_n(&cfg->max_prio, __ATOMIC_RELAXED);
}

bool log_enabled(const struct log_cfg *cfg, int prio)
{
	return !cfg || prio <= log_level(cfg);
}

static const struct {
	const char *name;
	int prio;
} levels[] = {
	{ "error", TCMU_LOG_ERR },  { "warning", TCMU_LOG_WARN },
	{ "info", TCMU_LOG_INFO },  { "debug", TCMU_LOG_DEBUG },
	{ "trace", LOG_PRIO_TRACE }, { "err", TCMU_LOG_ERR },
	{ "warn", TCMU_LOG_WARN },
};

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(name, levels[i].name))
			return levels[i].prio;
	return -1;
}

const char *log_level_name(int prio)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (levels[i].prio == prio)
			return levels[i].name;
	return prio > LOG_PRIO_TRACE ? "trace" : "error";
}

static const char *prio_tag(int prio)
{
	switch (prio) {
	case TCMU_LOG_ERR:
		return "ERROR";
	case TCMU_LOG_WARN:
		return "WARN";
	case TCMU_LOG_INFO:
		return "INFO";
	case TCMU_LOG_DEBUG:
		return "DEBUG";
	default:
		return "TRACE";
	}
}

void log_put_line(FILE *out, bool journal, bool date, int prio, const char *who,
		  const char *func, const char *msg)
{
	char stamp[32] = "";
	struct timespec ts;
	struct tm tm;

	who = who ? who : "tcmu-runner";
	if (journal) {
		/* The journal knows no trace: debug it is. */
		fprintf(out, "<%d>[%s] %s: %s\n", prio > TCMU_LOG_DEBUG ? TCMU_LOG_DEBUG : prio,
			who, func, msg);
		fflush(out);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), date ? "%F %H:%M:%S" : "%H:%M:%S", &tm);
	/* One fprintf per line keeps lines from different threads whole. */
	fprintf(out, "%s.%03ld %s [%s] %s: %s\n", stamp, ts.tv_nsec / 1000000, prio_tag(prio),
		who, func, msg);
	fflush(out);
}

void log_vwrite(const struct log_cfg *cfg, int prio, const char *who,
		const char *func, const char *fmt, va_list ap)
{
	struct log_sink *sink = cfg ? __atomic_load_n(&cfg->sink, __ATOMIC_ACQUIRE) : NULL;
	char msg[2048];

	if (!log_enabled(cfg, prio))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (sink)
		log_sink_put(sink, prio, who, func, msg);
	else
		log_put_line(cfg ? cfg->out : stderr, cfg && cfg->journal, false, prio, who,
			     func, msg);
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
