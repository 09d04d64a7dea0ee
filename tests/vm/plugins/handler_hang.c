/*
 * handler_hang: a test plugin whose backend stops answering on demand,
 * for test_timeout_tmr.sh. Config "hang/<image>": a file-backed LUN
 * whose I/O is asynchronous, done and completed by a thread of its own.
 * Two control files beside the image, looked at every HANG_POLL_MS:
 *   <image>.hang      while it exists, writes are held: never done nor
 *                     answered (a backend that stopped answering);
 *                     removed, the held writes are done and answered,
 *                     late, in order
 *   <image>.delay_ms  a number: every read, write and flush is answered
 *                     that many ms after it arrived (a slow backend)
 * abort (API 1.3) ends a held or delayed command at once with TASK
 * ABORTED, from inside the callback, and logs it ("abort: ...");
 * cmd_time_out_ms is left 0, so the device's cmd_time_out rules.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scsi_defs.h"
#include "tcmu-runner.h"

#define HANG_POLL_MS 20

enum hang_op { HANG_READ, HANG_WRITE, HANG_FLUSH };

struct hang_job {
	struct hang_job *next;
	struct tcmur_cmd *cmd;
	enum hang_op op;
	struct iovec *iov;
	size_t iov_cnt, len;
	uint64_t offset;
	uint64_t due_ms;	/* answered no sooner */
};

struct hang_dev {
	int fd;
	char hang_path[1100], delay_path[1100];
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct hang_job *jobs, **tail;	/* arrival order, under lock */
	bool stop;
	bool holding;		/* the worker's view of <image>.hang */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned int delay_ms(const struct hang_dev *h)
{
	char buf[32] = "";
	int fd = open(h->delay_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? (unsigned int)strtoul(buf, NULL, 10) : 0;
}

static tcmu_sts hang_do(struct tcmur_device *dev, struct hang_dev *h, struct hang_job *j)
{
	ssize_t n;

	switch (j->op) {
	case HANG_READ:
		n = preadv(h->fd, j->iov, j->iov_cnt, j->offset);
		break;
	case HANG_WRITE:
		n = pwritev(h->fd, j->iov, j->iov_cnt, j->offset);
		break;
	default:
		return fdatasync(h->fd) ? tcmur_cmd_errno(j->cmd, -errno, true) : TCMU_STS_GOOD;
	}
	if (n < 0)
		return tcmur_cmd_errno(j->cmd, -errno, j->op == HANG_WRITE);
	if ((size_t)n != j->len) {
		tcmu_dev_err(dev, "%s of %zu bytes at %llu: only %zd", j->op == HANG_READ ?
			     "read" : "write", j->len, (unsigned long long)j->offset, n);
		return tcmur_cmd_errno(j->cmd, -EIO, j->op == HANG_WRITE);
	}
	return TCMU_STS_GOOD;
}

/* Under lock: the first job due now (a write not held), unlinked. */
static struct hang_job *hang_next_due(struct hang_dev *h, uint64_t now)
{
	struct hang_job **pp, *j;

	for (pp = &h->jobs; (j = *pp); pp = &j->next) {
		if (now < j->due_ms || (j->op == HANG_WRITE && h->holding))
			continue;
		*pp = j->next;
		if (h->tail == &j->next)
			h->tail = pp;
		return j;
	}
	return NULL;
}

/* Under lock: note whether <image>.hang exists, saying so as it changes. */
static void hang_look(struct tcmur_device *dev, struct hang_dev *h)
{
	bool hold = access(h->hang_path, F_OK) == 0;
	unsigned int writes = 0;

	for (struct hang_job *j = h->jobs; j; j = j->next)
		writes += j->op == HANG_WRITE;
	if (hold && !h->holding)
		tcmu_dev_info(dev, "holding writes: %s exists", h->hang_path);
	else if (!hold && h->holding)
		tcmu_dev_info(dev, "%s gone: doing the %u held writes", h->hang_path, writes);
	h->holding = hold;
}

static void *hang_worker(void *arg)
{
	struct tcmur_device *dev = arg;
	struct hang_dev *h = tcmur_dev_private(dev);

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct hang_job *j;
		struct timespec ts;

		hang_look(dev, h);
		while ((j = hang_next_due(h, now_ms()))) {
			pthread_mutex_unlock(&h->lock);
			tcmur_cmd_complete(dev, j->cmd, hang_do(dev, h, j));
			free(j);
			pthread_mutex_lock(&h->lock);
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += HANG_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (h->jobs)
			pthread_cond_timedwait(&h->cond, &h->lock, &ts);
		else if (!h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static tcmu_sts hang_queue(struct tcmur_device *dev, struct tcmur_cmd *cmd, enum hang_op op,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	struct hang_dev *h = tcmur_dev_private(dev);
	struct hang_job *j = calloc(1, sizeof(*j));

	if (!j)
		return TCMU_STS_BUSY;
	j->cmd = cmd;
	j->op = op;
	j->iov = iov;
	j->iov_cnt = iov_cnt;
	j->len = len;
	j->offset = offset;
	j->due_ms = now_ms() + delay_ms(h);
	pthread_mutex_lock(&h->lock);
	*h->tail = j;
	h->tail = &j->next;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return TCMU_STS_ASYNC;
}

static tcmu_sts hang_read(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			  size_t iov_cnt, size_t len, uint64_t offset)
{
	return hang_queue(dev, cmd, HANG_READ, iov, iov_cnt, len, offset);
}

static tcmu_sts hang_write(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			   size_t iov_cnt, size_t len, uint64_t offset)
{
	return hang_queue(dev, cmd, HANG_WRITE, iov, iov_cnt, len, offset);
}

static tcmu_sts hang_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return hang_queue(dev, cmd, HANG_FLUSH, NULL, 0, 0, 0);
}

/* The device thread: the initiator aborted @cmd. If the worker has not
 * taken it yet, it is ours to end: now, from inside the callback. */
static void hang_abort(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct hang_dev *h = tcmur_dev_private(dev);
	struct hang_job **pp, *j;

	pthread_mutex_lock(&h->lock);
	for (pp = &h->jobs; (j = *pp); pp = &j->next) {
		if (j->cmd != cmd)
			continue;
		*pp = j->next;
		if (h->tail == &j->next)
			h->tail = pp;
		break;
	}
	pthread_mutex_unlock(&h->lock);
	if (!j) {
		tcmu_dev_info(dev, "abort: opcode 0x%02x already being done; it ends as it ends",
			      cmd->cdb[0]);
		return;
	}
	tcmu_dev_info(dev, "abort: opcode 0x%02x %s, ended TASK ABORTED", cmd->cdb[0],
		      j->op == HANG_WRITE && h->holding ? "held" : "waiting");
	free(j);
	tcmur_cmd_complete(dev, cmd, TCMU_STS_TASK_ABORTED);
}

static int hang_open(struct tcmur_device *dev, bool reopen)
{
	struct hang_dev *h = tcmur_dev_private(dev);
	const char *img = tcmur_dev_config(dev);
	int err;

	(void)reopen;
	h->fd = open(img, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		err = -errno;
		tcmu_dev_err(dev, "open %s: %s", img, strerror(errno));
		return err;
	}
	snprintf(h->hang_path, sizeof(h->hang_path), "%s.hang", img);
	snprintf(h->delay_path, sizeof(h->delay_path), "%s.delay_ms", img);
	h->jobs = NULL;
	h->tail = &h->jobs;
	h->stop = h->holding = false;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	err = pthread_create(&h->worker, NULL, hang_worker, dev);
	if (err) {
		tcmu_dev_err(dev, "start worker: %s", strerror(err));
		close(h->fd);
		return -err;
	}
	return 0;
}

/* No command in flight: the daemon waited for them (held writes too:
 * remove <image>.hang before removing the LUN). */
static void hang_close(struct tcmur_device *dev)
{
	struct hang_dev *h = tcmur_dev_private(dev);

	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->worker, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	close(h->fd);
}

TCMUR_REGISTER_HANDLER(
	.name = "Backend that stops answering (tests)",
	.subtype = "hang",
	.cfg_desc = "image path; <image>.hang holds writes, <image>.delay_ms delays I/O",
	.dev_private_size = sizeof(struct hang_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 2,
	.open = hang_open,
	.close = hang_close,
	.read = hang_read,
	.write = hang_write,
	.flush = hang_flush,
	.abort = hang_abort,
);
