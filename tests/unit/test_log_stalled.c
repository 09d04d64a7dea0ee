/*
 * A log destination that stalls (a journal that does not read, a file
 * on a hung mount) must not stall the threads that log: I/O threads log
 * a command's failure, and one blocked write under the sink's lock held
 * every thread that logged after it. The destination here is a FIFO no
 * one reads until the test says so: once its buffer is full, a write to
 * it blocks. Logging must still return at once; what could not be kept
 * is counted and said once the destination drains.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "log_sink.h"
#include "unit_test.h"

#define LINES 2000

struct stall_fx {
	struct log_cfg log;
	sem_t logged;
	int rfd;
	char *got;
	size_t got_len;
};

static void *log_lines(void *arg)
{
	struct stall_fx *fx = arg;

	for (unsigned int i = 0; i < LINES; i++)
		log_err(&fx->log, "lun0 mem", "write at %u failed: Input/output error, and "
			"a long enough line to fill a pipe soon", i);
	sem_post(&fx->logged);
	return NULL;
}

/* Read the FIFO to its end (the sink closing it). */
static void *drain(void *arg)
{
	struct stall_fx *fx = arg;
	char buf[65536];
	ssize_t n;

	fcntl(fx->rfd, F_SETFL, 0);
	while ((n = read(fx->rfd, buf, sizeof(buf))) > 0) {
		fx->got = realloc(fx->got, fx->got_len + n + 1);
		memcpy(fx->got + fx->got_len, buf, n);
		fx->got_len += n;
		fx->got[fx->got_len] = '\0';
	}
	return NULL;
}

static void test_stalled_destination_does_not_stall_loggers(void **state)
{
	char dir[] = "/tmp/tcmu-stall-XXXXXX", path[64];
	struct stall_fx fx = { 0 };
	struct log_sink_cfg c;
	struct log_sink *sink;
	struct timespec until;
	pthread_t th, dr;
	int waited;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fx.rfd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(fx.rfd >= 0);
	log_sink_cfg_default(&c);
	c.dest = LOG_DEST_FILE;
	snprintf(c.path, sizeof(c.path), "%s", path);
	c.burst = 0;
	c.max_bytes = 0;
	assert_int_equal(log_sink_new(&sink, &c), 0);
	log_init(&fx.log, false);
	fx.log.sink = sink;
	sem_init(&fx.logged, 0, 0);
	assert_int_equal(pthread_create(&th, NULL, log_lines, &fx), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	waited = sem_timedwait(&fx.logged, &until);
	print_message("%d lines (%d KiB) to a destination that does not read: %s\n", LINES,
		      LINES * 110 / 1024, waited ? "the logging thread is stuck" :
		      "logged without waiting");
	/* Let it drain either way, and end. */
	assert_int_equal(pthread_create(&dr, NULL, drain, &fx), 0);
	pthread_join(th, NULL);
	fx.log.sink = NULL;
	log_sink_free(sink);
	pthread_join(dr, NULL);
	close(fx.rfd);
	unlink(path);
	rmdir(dir);
	print_message("read back %zu bytes; %s\n", fx.got_len,
		      fx.got && strstr(fx.got, "lines dropped") ? "drops reported" :
		      "no drop reported");
	assert_int_equal(waited, 0);
	assert_non_null(fx.got);
	assert_non_null(strstr(fx.got, "log lines dropped"));
	free(fx.got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalled_destination_does_not_stall_loggers),
	};

	return cmocka_run_group_tests_name("stalled log destination", tests, NULL, NULL);
}
