/*
 * Log rate limiting per device and call site; see log_limit.h.
 * Licensed under the Apache License, Version 2.0.
 */
#include <stdio.h>
#include <string.h>

#include "log_limit.h"

void log_limit_set(struct log_limit *l, unsigned int burst, unsigned int interval_s)
{
	l->burst = burst;
	l->interval_s = interval_s ? interval_s : 1;
}

static unsigned int site_hash(const char *who, const char *func)
{
	unsigned int h = 2166136261u;	/* FNV-1a over who, then func's address */
	uintptr_t f = (uintptr_t)func;

	for (; *who; who++)
		h = (h ^ (unsigned char)*who) * 16777619u;
	for (unsigned int i = 0; i < sizeof(f); i++, f >>= 8)
		h = (h ^ (f & 0xff)) * 16777619u;
	return h % LOG_LIMIT_SITES;
}

static bool site_is(const struct log_site *s, const char *who, const char *func)
{
	return s->used && s->func == func && !strncmp(s->who, who, sizeof(s->who) - 1);
}

static void take_count(struct log_site *s, struct log_suppressed *rep)
{
	memcpy(rep->who, s->who, sizeof(rep->who));
	rep->func = s->func;
	rep->n = s->suppressed;
	s->suppressed = 0;
}

bool log_limit_pass(struct log_limit *l, const char *who, const char *func,
		    uint64_t now_ns, struct log_suppressed *rep)
{
	struct log_site *s;

	rep->n = 0;
	if (!l->burst)
		return true;
	who = who ? who : "";
	s = &l->sites[site_hash(who, func)];
	if (!site_is(s, who, func)) {
		if (s->used && s->suppressed)
			take_count(s, rep);	/* evicted: say what it had */
		snprintf(s->who, sizeof(s->who), "%s", who);
		s->func = func;
		s->used = true;
		s->window_ns = now_ns;
		s->count = 0;
		s->suppressed = 0;
	} else if (now_ns - s->window_ns >= (uint64_t)l->interval_s * 1000000000u) {
		if (s->suppressed)
			take_count(s, rep);
		s->window_ns = now_ns;
		s->count = 0;
	}
	if (s->count < l->burst) {
		s->count++;
		return true;
	}
	s->suppressed++;
	return false;
}

void log_limit_expire(struct log_limit *l, uint64_t now_ns,
		      void (*fn)(void *opaque, const struct log_suppressed *rep),
		      void *opaque)
{
	uint64_t interval = (uint64_t)l->interval_s * 1000000000u;
	struct log_suppressed rep;

	for (unsigned int i = 0; i < LOG_LIMIT_SITES; i++) {
		struct log_site *s = &l->sites[i];

		if (!s->used || !s->suppressed || now_ns - s->window_ns < interval)
			continue;
		take_count(s, &rep);
		s->window_ns = now_ns;
		s->count = 0;
		fn(opaque, &rep);
	}
}
