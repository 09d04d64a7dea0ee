/*
 * Rate limiting for the log, per device and call site: a site (the
 * "who" of the line, which names the device, and the function) may write
 * @burst lines per @interval_s seconds; the rest are counted, not
 * written, and the count is handed back to be reported as "N messages
 * suppressed" when the site next speaks in a new interval, or by
 * log_limit_expire once its interval is over.
 *
 * A fixed table of LOG_LIMIT_SITES sites, hashed: a site that takes the
 * slot of another with a count pending hands that count back first, so
 * nothing suppressed goes unreported. No allocation, no lock of its own:
 * the caller holds one (log_sink.c).
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef LOG_LIMIT_H
#define LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define LOG_LIMIT_SITES 128
#define LOG_LIMIT_WHO 96

struct log_site {
	char who[LOG_LIMIT_WHO];
	const char *func;		/* __func__: a string constant */
	uint64_t window_ns;		/* when its interval began */
	unsigned int count;		/* lines written in it */
	unsigned long suppressed;	/* lines dropped in it */
	bool used;
};

struct log_limit {
	unsigned int burst;		/* 0: no limit */
	unsigned int interval_s;
	struct log_site sites[LOG_LIMIT_SITES];
};

/* What a site had suppressed, to be reported in its name. */
struct log_suppressed {
	char who[LOG_LIMIT_WHO];
	const char *func;
	unsigned long n;
};

/* Start empty with these limits (or change them: counts are kept). */
void log_limit_set(struct log_limit *l, unsigned int burst, unsigned int interval_s);
/*
 * Whether a line from (@who, @func) at @now_ns may be written. @rep is
 * filled (rep->n > 0) when a count is due first: this site's from its
 * last interval, or another site's whose slot it takes.
 */
bool log_limit_pass(struct log_limit *l, const char *who, const char *func,
		    uint64_t now_ns, struct log_suppressed *rep);
/* Hand every site whose interval has ended with lines suppressed to
 * @fn, and reset it. */
void log_limit_expire(struct log_limit *l, uint64_t now_ns,
		      void (*fn)(void *opaque, const struct log_suppressed *rep),
		      void *opaque);

#endif
