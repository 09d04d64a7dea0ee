/*
 * glfs_conn: handler_glfs's connections to GlusterFS volumes, shared and
 * reference-counted; see glfs_conn.h. Lock order: glfs_lock, then a
 * glfs_init_job's lock (taken by whoever waits on the job).
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "glfs_conn.h"
#include "glfs_ping.h"
#include "tcmu-runner.h"

#define GLFS_LOG_LEVEL 4		/* gfapi's WARNING */

static pthread_mutex_t glfs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct glfs_conn *glfs_conns;

static void *fini_thread(void *arg)
{
	glfs_fini(arg);
	return NULL;
}

/* glfs_fini @fs on a detached thread: it takes ~10 s (the rpc's call-bail
 * timer holds it), which no caller of ours should wait for. */
static void fini_detached(glfs_t *fs)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, fini_thread, fs))
		glfs_fini(fs);	/* no thread: pay the wait here */
	pthread_attr_destroy(&attr);
}

/* A glfs_init on its own thread; the one of waiter and thread that
 * finishes last frees it. */
struct glfs_init_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	glfs_t *fs;
	int err;
	bool done, abandoned;
};

static void init_job_free(struct glfs_init_job *j)
{
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *init_thread(void *arg)
{
	struct glfs_init_job *j = arg;
	int err = glfs_init(j->fs) ? -(errno ? errno : EIO) : 0;
	bool abandoned;

	pthread_mutex_lock(&j->lock);
	j->err = err;
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (abandoned) {	/* the waiter gave up: the glfs_t is ours */
		glfs_fini(j->fs);
		init_job_free(j);
	}
	return NULL;
}

/* glfs_init(@fs) within @secs; 0, its -errno, or -ETIMEDOUT (then @fs is
 * the init thread's to free). On an error but -ETIMEDOUT, @fs is still
 * the caller's. */
static int init_bounded(glfs_t *fs, unsigned int secs)
{
	struct glfs_init_job *j = calloc(1, sizeof(*j));
	struct timespec until;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->fs = fs;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = -pthread_create(&t, &attr, init_thread, j);
	pthread_attr_destroy(&attr);
	if (err) {
		init_job_free(j);
		return err;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->cond, &j->lock, &until) != ETIMEDOUT)
		;
	if (!j->done) {
		j->abandoned = true;
		pthread_mutex_unlock(&j->lock);
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&j->lock);
	err = j->err;
	init_job_free(j);
	return err;
}

/* A connected glfs_t for @c within @secs; NULL with *err and *step. */
static glfs_t *connect_new(const struct glfs_conn_key *c, unsigned int secs, int *err,
			   const char **step)
{
	const char *log = getenv("TCMU_GLFS_LOG");
	glfs_t *fs;

	*step = "glfs_new";
	fs = glfs_new(c->volume);
	if (!fs) {
		*err = -(errno ? errno : ENOMEM);
		return NULL;
	}
	*step = "glfs_set_volfile_server";
	for (unsigned int i = 0; i < c->nhosts; i++)
		if (glfs_set_volfile_server(fs, "tcp", c->host[i], c->port[i]))
			goto out_fini;
	*step = "glfs_set_logging";
	if (glfs_set_logging(fs, log && *log ? log : "/dev/null", GLFS_LOG_LEVEL))
		goto out_fini;
	/* Never acknowledge a write that no brick has: write-behind would
	 * (see the top). Set before glfs_init: it cannot change online. */
	*step = "write-behind pass-through";
	if (glfs_set_xlator_option(fs, "*-write-behind", "pass-through", "true"))
		goto out_fini;
	/* Ours, in place of the volume's (a command option overrides the
	 * volfile's): the client xlators are "<volume>-client-<n>". */
	*step = "client ping-timeout";
	if (c->ping) {
		char xl[PATH_MAX], val[16];

		snprintf(xl, sizeof(xl), "%s-client-*", c->volume);
		snprintf(val, sizeof(val), "%u", c->ping);
		if (glfs_set_xlator_option(fs, xl, "ping-timeout", val))
			goto out_fini;
	}
	*step = "glfs_init (volume or hosts)";
	*err = init_bounded(fs, secs);
	if (*err == -ETIMEDOUT)
		return NULL;
	if (*err) {
		fini_detached(fs);
		return NULL;
	}
	return fs;

out_fini:
	*err = -(errno ? errno : EINVAL);
	fini_detached(fs);
	return NULL;
}

/*
 * The ping-timeout the client volfile of @fs gives (glfs_ping.h), or
 * GLFS_PING_CLIENT_DEFAULT if it cannot be read. gfapi's glfs_get_volfile
 * copies as many bytes as the buffer holds, past the volfile's end for a
 * larger one: so ask the length first (a zero length answers minus it),
 * then copy exactly that, again if it changed meanwhile.
 */
static unsigned int volfile_ping(glfs_t *fs)
{
	unsigned int ping = GLFS_PING_CLIENT_DEFAULT;

	for (int tries = 0; tries < 3; tries++) {
		ssize_t need = glfs_get_volfile(fs, NULL, 0), n;
		char *buf;

		if (need >= 0 || !(buf = malloc((size_t)-need)))
			break;
		n = glfs_get_volfile(fs, buf, (size_t)-need);
		if (n == -need)
			ping = glfs_ping_from_volfile(buf, (size_t)n);
		free(buf);
		if (n == -need)
			break;
	}
	return ping;
}

struct glfs_conn *glfs_conn_get(const struct glfs_conn_key *c, unsigned int secs, int *err,
				const char **step)
{
	struct glfs_conn *conn;

	/* Held across a new connection's init too, so that two devices on
	 * one volume never make two; a bad host delays other opens at most
	 * @secs. */
	pthread_mutex_lock(&glfs_lock);
	for (conn = glfs_conns; conn; conn = conn->next)
		if (!strcmp(conn->volume, c->volume) && !strcmp(conn->hosts, c->hosts) &&
		    conn->ping == c->ping)
			break;
	if (conn) {
		conn->refs++;
		tcmur_dev_log(NULL, TCMUR_LOG_INFO, __func__, "volume %s on %s: connection "
			      "shared (%u users)", c->volume, c->hosts, conn->refs);
		goto out;
	}
	*step = "out of memory";
	*err = -ENOMEM;
	conn = calloc(1, sizeof(*conn));
	if (!conn || !(conn->volume = strdup(c->volume)) || !(conn->hosts = strdup(c->hosts)))
		goto out_free;
	conn->fs = connect_new(c, secs, err, step);
	if (!conn->fs)
		goto out_free;
	conn->ping = c->ping;
	conn->ping_s = c->ping ? c->ping : volfile_ping(conn->fs);
	tcmur_dev_log(NULL, TCMUR_LOG_INFO, __func__, "volume %s on %s: connected, "
		      "ping-timeout %u s (%s): a frozen brick fails commands within %u s",
		      c->volume, c->hosts, conn->ping_s,
		      c->ping ? "ours, ping_timeout" : "the volume's", glfs_ping_bound(conn->ping_s));
	conn->refs = 1;
	conn->next = glfs_conns;
	glfs_conns = conn;
out:
	pthread_mutex_unlock(&glfs_lock);
	return conn;

out_free:
	pthread_mutex_unlock(&glfs_lock);
	if (conn) {
		free(conn->volume);
		free(conn->hosts);
		free(conn);
	}
	return NULL;
}

void glfs_conn_put(struct glfs_conn *conn)
{
	struct glfs_conn **pp;
	bool last;

	if (!conn)
		return;
	pthread_mutex_lock(&glfs_lock);
	last = --conn->refs == 0;
	if (last) {
		for (pp = &glfs_conns; *pp != conn; pp = &(*pp)->next)
			;
		*pp = conn->next;
	}
	pthread_mutex_unlock(&glfs_lock);
	if (!last)
		return;
	fini_detached(conn->fs);
	free(conn->volume);
	free(conn->hosts);
	free(conn);
}
