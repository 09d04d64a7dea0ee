/*
 * ChangeMedium: point a served device at another medium (config string
 * and size) the way an admin would, by writing its configfs attributes.
 * The kernel then sends us RECONFIG events and waits for our answers, so
 * the writes run on a worker thread while the main loop answers.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef CHANGE_MEDIUM_H
#define CHANGE_MEDIUM_H

#include <gio/gio.h>

struct tcmur_daemon;
struct handler;

/* Start the change of device @name (served by @h); @done is called on the
 * main thread with 0 or -errno and a message. */
void change_medium_start(struct tcmur_daemon *d, const struct handler *h, const char *name,
			 guint64 size, const char *config,
			 void (*done)(int status, const char *msg, gpointer data),
			 gpointer data);

#endif
