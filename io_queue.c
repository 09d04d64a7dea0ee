/*
 * I/O threads; see io_queue.h. One thread starts with the queue; more,
 * up to the most asked for, only when a command is pushed while none is
 * idle, so a device whose I/O runs on its own thread (inline_io) keeps
 * one. Licensed under the Apache License, 2.0.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "cmd.h"
#include "io_queue.h"

struct io_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct cmd_ctx *head, *tail;
	bool stopping;
	io_queue_fn fn;
	void *opaque;
	unsigned int idle;		/* threads waiting for work */
	unsigned int queued;		/* commands not taken yet */
	unsigned int nr_threads;	/* started */
	unsigned int max_threads;
	pthread_t threads[];
};

static void *io_thread(void *arg)
{
	struct io_queue *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct cmd_ctx *ctx;
		bool empty;

		while (!q->head && !q->stopping) {
			q->idle++;
			pthread_cond_wait(&q->cond, &q->lock);
			q->idle--;
		}
		if (!q->head)
			break;
		ctx = q->head;
		q->queued--;
		q->head = ctx->next;
		if (!q->head)
			q->tail = NULL;
		empty = !q->head;
		pthread_mutex_unlock(&q->lock);
		q->fn(q->opaque, ctx, empty);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Under q->lock. A thread that cannot start is no error while another
 * serves the queue. */
static int io_queue_spawn(struct io_queue *q)
{
	int err = pthread_create(&q->threads[q->nr_threads], NULL, io_thread, q);

	if (!err)
		q->nr_threads++;
	return err;
}

int io_queue_new(struct io_queue **out, unsigned int nr_threads, io_queue_fn fn,
		 void *opaque)
{
	struct io_queue *q;
	int err;

	if (!nr_threads)
		nr_threads = 1;
	q = calloc(1, sizeof(*q) + nr_threads * sizeof(pthread_t));
	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->fn = fn;
	q->opaque = opaque;
	q->max_threads = nr_threads;
	err = io_queue_spawn(q);
	if (err) {
		io_queue_free(q);
		return -err;
	}
	*out = q;
	return 0;
}

void io_queue_push(struct io_queue *q, struct cmd_ctx *ctx)
{
	ctx->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = ctx;
	else
		q->head = ctx;
	q->tail = ctx;
	/* An idle thread may not have woken for earlier work yet: more
	 * work than idle threads is what starts another. */
	if (++q->queued > q->idle && q->nr_threads < q->max_threads)
		io_queue_spawn(q);
	else
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

unsigned int io_queue_threads(struct io_queue *q)
{
	unsigned int n;

	pthread_mutex_lock(&q->lock);
	n = q->nr_threads;
	pthread_mutex_unlock(&q->lock);
	return n;
}

bool io_queue_empty(struct io_queue *q)
{
	bool empty;

	pthread_mutex_lock(&q->lock);
	empty = !q->head;
	pthread_mutex_unlock(&q->lock);
	return empty;
}

void io_queue_free(struct io_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (unsigned int i = 0; i < q->nr_threads; i++)
		pthread_join(q->threads[i], NULL);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
