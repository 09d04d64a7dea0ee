/*
 * I/O threads; see io_queue.h. Licensed under the Apache License, 2.0.
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
	unsigned int nr_threads;
	pthread_t threads[];
};

static void *io_thread(void *arg)
{
	struct io_queue *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct cmd_ctx *ctx;
		bool empty;

		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		if (!q->head)
			break;
		ctx = q->head;
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

int io_queue_new(struct io_queue **out, unsigned int nr_threads, io_queue_fn fn,
		 void *opaque)
{
	struct io_queue *q;
	unsigned int i;
	int err;

	q = calloc(1, sizeof(*q) + nr_threads * sizeof(pthread_t));
	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->fn = fn;
	q->opaque = opaque;
	for (i = 0; i < nr_threads; i++) {
		err = pthread_create(&q->threads[i], NULL, io_thread, q);
		if (err)
			goto out_stop;
		q->nr_threads++;
	}
	*out = q;
	return 0;

out_stop:
	io_queue_free(q);
	return -err;
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
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
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
