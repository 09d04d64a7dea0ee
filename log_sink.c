/*
 * The log's destinations and rate limiting; see log_sink.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "deadline.h"
#include "log_limit.h"
#include "log_sink.h"

/* Lines waiting for the writer thread; more are dropped, counted. */
#define SINK_QUEUE 128
/* How long freeing the sink waits for a writer stuck on its destination. */
#define SINK_FREE_WAIT_S 2

struct sink_line {
	int prio;
	char who[128];
	char func[64];
	char msg[2048];
};

struct log_sink {
	/* The destination: the writer thread's, and log_sink_apply's. */
	pthread_mutex_t lock;
	struct log_sink_cfg cfg;
	bool journal_stream;		/* JOURNAL_STREAM: "<N>" on stderr */
	FILE *file;			/* LOG_DEST_FILE */
	uint64_t file_bytes;
	bool file_failed;		/* said once; stderr meanwhile */

	/* The queue and the limiter: any thread, never across a write. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;		/* lines queued, or stop */
	pthread_cond_t qidle;		/* queue empty, writer idle */
	struct sink_line q[SINK_QUEUE];
	unsigned int head, count;
	bool busy, stop;
	unsigned long dropped, dropped_said;
	struct log_limit limit;
	unsigned long suppressed;
	pthread_t writer;
	bool writer_started;
};

static const char *const dest_names[] = {
	[LOG_DEST_AUTO] = "auto",
	[LOG_DEST_JOURNAL] = "journal",
	[LOG_DEST_STDERR] = "stderr",
	[LOG_DEST_FILE] = "file",
};

void log_sink_cfg_default(struct log_sink_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->dest = LOG_DEST_AUTO;
	c->max_bytes = 10u << 20;
	c->keep = 5;
	c->burst = 20;
	c->interval_s = 5;
}

int log_dest_parse(const char *name, enum log_dest *out)
{
	for (size_t i = 0; i < sizeof(dest_names) / sizeof(dest_names[0]); i++) {
		if (!strcmp(name, dest_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_dest_name(enum log_dest d)
{
	return d < sizeof(dest_names) / sizeof(dest_names[0]) ? dest_names[d] : "?";
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* Open @path for appending; 0 or -errno. */
static int file_open(const char *path, FILE **f, uint64_t *bytes)
{
	*f = fopen(path, "ae");
	if (!*f)
		return -errno;
	fseek(*f, 0, SEEK_END);
	*bytes = ftell(*f) > 0 ? (uint64_t)ftell(*f) : 0;
	return 0;
}

/* path.<keep-1> -> path.<keep>, ..., path -> path.1, and a new path. */
static void file_rotate(struct log_sink *s)
{
	char from[300], to[300];

	fclose(s->file);
	s->file = NULL;
	for (unsigned int i = s->cfg.keep; i > 0; i--) {
		snprintf(to, sizeof(to), "%s.%u", s->cfg.path, i);
		if (i > 1)
			snprintf(from, sizeof(from), "%s.%u", s->cfg.path, i - 1);
		else
			snprintf(from, sizeof(from), "%s", s->cfg.path);
		rename(from, to);
	}
	if (!s->cfg.keep)
		remove(s->cfg.path);
	if (file_open(s->cfg.path, &s->file, &s->file_bytes) && !s->file_failed) {
		s->file_failed = true;
		fprintf(stderr, "tcmu-runner: log file %s: cannot reopen after rotation: %s; "
			"logging to stderr\n", s->cfg.path, strerror(errno));
	}
}

static bool use_journal_stream(const struct log_sink *s)
{
	return s->cfg.dest == LOG_DEST_AUTO ? s->journal_stream :
	       s->cfg.dest == LOG_DEST_JOURNAL && s->journal_stream;
}

/* Write one line; the lock is held. */
static void dest_line(struct log_sink *s, int prio, const char *who, const char *func,
		      const char *msg)
{
	if (s->cfg.dest == LOG_DEST_FILE && s->file) {
		long before = ftell(s->file);

		log_put_line(s->file, false, true, prio, who, func, msg);
		s->file_bytes += ftell(s->file) - before;
		if (s->cfg.max_bytes && s->file_bytes >= s->cfg.max_bytes)
			file_rotate(s);
		return;
	}
	if (s->cfg.dest == LOG_DEST_JOURNAL && !s->journal_stream) {
		syslog(LOG_DAEMON | (prio > LOG_DEBUG ? LOG_DEBUG : prio), "[%s] %s: %s",
		       who ? who : "tcmu-runner", func, msg);
		return;
	}
	log_put_line(stderr, use_journal_stream(s), false, prio, who, func, msg);
}

/* Queue a line for the writer (qlock held); dropped, counted, if full. */
static void enqueue(struct log_sink *s, int prio, const char *who, const char *func,
		    const char *msg)
{
	struct sink_line *l;

	if (s->count == SINK_QUEUE) {
		s->dropped++;
		return;
	}
	l = &s->q[(s->head + s->count++) % SINK_QUEUE];
	l->prio = prio;
	snprintf(l->who, sizeof(l->who), "%s", who ? who : "");
	snprintf(l->func, sizeof(l->func), "%s", func);
	snprintf(l->msg, sizeof(l->msg), "%s", msg);
	pthread_cond_signal(&s->qcond);
}

static void say_suppressed(struct log_sink *s, const struct log_suppressed *rep)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%lu messages suppressed (more than %u in %u s)", rep->n,
		 s->limit.burst, s->limit.interval_s);
	enqueue(s, TCMU_LOG_WARN, rep->who, rep->func, msg);
}

void log_sink_put(struct log_sink *s, int prio, const char *who, const char *func,
		  const char *msg)
{
	struct log_suppressed rep;
	bool pass = true;

	pthread_mutex_lock(&s->qlock);
	if (prio <= TCMU_LOG_INFO) {
		pass = log_limit_pass(&s->limit, who, func, now_ns(), &rep);
		if (rep.n)
			say_suppressed(s, &rep);
		if (!pass)
			s->suppressed++;
	}
	if (pass)
		enqueue(s, prio, who, func, msg);
	pthread_mutex_unlock(&s->qlock);
}

/* Write one queued line, and first what was dropped since last said. */
static void write_line(struct log_sink *s, const struct sink_line *l, unsigned long dropped)
{
	char msg[96];

	pthread_mutex_lock(&s->lock);
	if (dropped) {
		snprintf(msg, sizeof(msg), "%lu log lines dropped: the log destination "
			 "was not taking them", dropped);
		dest_line(s, TCMU_LOG_WARN, NULL, "log_sink", msg);
	}
	dest_line(s, l->prio, l->who[0] ? l->who : NULL, l->func, l->msg);
	pthread_mutex_unlock(&s->lock);
}

/* The one thread that writes to the destination: a destination that
 * stalls stalls it alone. */
static void *sink_writer(void *arg)
{
	struct log_sink *s = arg;
	struct sink_line *l = malloc(sizeof(*l));
	unsigned long dropped;

	pthread_mutex_lock(&s->qlock);
	for (;;) {
		while (!s->count && !s->stop) {
			s->busy = false;
			pthread_cond_broadcast(&s->qidle);
			pthread_cond_wait(&s->qcond, &s->qlock);
		}
		if (!s->count)
			break;
		s->busy = true;
		if (l)
			*l = s->q[s->head];
		s->head = (s->head + 1) % SINK_QUEUE;
		s->count--;
		dropped = s->dropped - s->dropped_said;
		s->dropped_said = s->dropped;
		pthread_mutex_unlock(&s->qlock);
		if (l)
			write_line(s, l, dropped);
		pthread_mutex_lock(&s->qlock);
	}
	s->busy = false;
	pthread_cond_broadcast(&s->qidle);
	pthread_mutex_unlock(&s->qlock);
	free(l);
	return NULL;
}

bool log_sink_sync(struct log_sink *s, int wait_ms)
{
	struct timespec until;
	bool done;

	until = deadline_after_ms(wait_ms);
	pthread_mutex_lock(&s->qlock);
	while ((s->count || s->busy) &&
	       !pthread_cond_timedwait(&s->qidle, &s->qlock, &until))
		;
	done = !s->count && !s->busy;
	pthread_mutex_unlock(&s->qlock);
	return done;
}

static void flush_one(void *opaque, const struct log_suppressed *rep)
{
	say_suppressed(opaque, rep);
}

void log_sink_flush(struct log_sink *s)
{
	pthread_mutex_lock(&s->qlock);
	log_limit_expire(&s->limit, now_ns(), flush_one, s);
	pthread_mutex_unlock(&s->qlock);
}

unsigned long log_sink_suppressed(struct log_sink *s)
{
	unsigned long n;

	pthread_mutex_lock(&s->qlock);
	n = s->suppressed;
	pthread_mutex_unlock(&s->qlock);
	return n;
}

int log_sink_apply(struct log_sink *s, const struct log_sink_cfg *c)
{
	FILE *f = NULL;
	uint64_t bytes = 0;
	int err;

	/* Opened before the lock is taken: the sink stays as it was if not. */
	if (c->dest == LOG_DEST_FILE) {
		err = file_open(c->path, &f, &bytes);
		if (err)
			return err;
	}
	pthread_mutex_lock(&s->lock);
	if (s->file)
		fclose(s->file);
	s->file = f;
	s->file_bytes = bytes;
	s->file_failed = false;
	s->cfg = *c;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->qlock);
	log_limit_set(&s->limit, c->burst, c->interval_s);
	pthread_mutex_unlock(&s->qlock);
	return 0;
}

static void sink_destroy(struct log_sink *s)
{
	if (s->file)
		fclose(s->file);
	pthread_cond_destroy(&s->qidle);
	pthread_cond_destroy(&s->qcond);
	pthread_mutex_destroy(&s->qlock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The writer takes no signal: the daemon reads its own from a signalfd
 * (main.c), and a thread made before they were blocked would die of
 * SIGTERM's default action instead, with the whole daemon. */
static int sink_start_writer(struct log_sink *s)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&s->writer, NULL, sink_writer, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

int log_sink_new(struct log_sink **out, const struct log_sink_cfg *c)
{
	struct log_sink *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	pthread_cond_init(&s->qidle, NULL);
	s->journal_stream = getenv("JOURNAL_STREAM") != NULL;
	err = log_sink_apply(s, c);
	if (!err) {
		err = sink_start_writer(s);
		s->writer_started = !err;
	}
	if (err) {
		sink_destroy(s);
		return err;
	}
	*out = s;
	return 0;
}

void log_sink_free(struct log_sink *s)
{
	struct timespec until;

	if (!s)
		return;
	/* Whatever is still counted, said now (the interval cut short),
	 * and written before the writer ends. */
	pthread_mutex_lock(&s->qlock);
	log_limit_expire(&s->limit, UINT64_MAX, flush_one, s);
	s->stop = true;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SINK_FREE_WAIT_S;
	if (s->writer_started && pthread_timedjoin_np(s->writer, NULL, &until)) {
		/* Stuck on its destination: leave it the sink, never free
		 * under it. The process is ending. */
		fprintf(stderr, "tcmu-runner: log destination stalled: %u lines not written\n",
			s->count);
		pthread_detach(s->writer);
		return;
	}
	sink_destroy(s);
}
