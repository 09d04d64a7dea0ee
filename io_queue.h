/*
 * A device's I/O threads: a FIFO of commands and the threads that run
 * them. One thread gives a serial handler its one-at-a-time guarantee.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef IO_QUEUE_H
#define IO_QUEUE_H

#include <stdbool.h>

struct cmd_ctx;
struct io_queue;

/* Called on an I/O thread for each command; @queue_empty says whether
 * more work was waiting when it was taken (a hint: commands taken before
 * it may still be running; see io_queue_empty()). */
typedef void (*io_queue_fn)(void *opaque, struct cmd_ctx *ctx, bool queue_empty);

/* Up to @nr_threads threads (at least one): one starts now, the others
 * when work is pushed while none is idle. */
int io_queue_new(struct io_queue **out, unsigned int nr_threads, io_queue_fn fn,
		 void *opaque);
/* Threads started so far. */
unsigned int io_queue_threads(struct io_queue *q);
void io_queue_push(struct io_queue *q, struct cmd_ctx *ctx);
/* True when no command waits to be taken (some may still be running). */
bool io_queue_empty(struct io_queue *q);
/* Run what is queued, then stop and join the threads, and free. */
void io_queue_free(struct io_queue *q);

#endif
