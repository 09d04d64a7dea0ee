/*
 * See change_medium.h. Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change_medium.h"
#include "daemon.h"

struct change {
	const struct handler *h;
	struct tcmu_dev_info info;
	guint64 size;
	char *config;
	void (*done)(int status, const char *msg, gpointer data);
	gpointer data;
	int status;
	char msg[256];
};

/* Worker thread: the handler's check may block (a cluster handler
 * connects), and the kernel passes each configfs write to us as a RECONFIG
 * event on the main loop and fails the write if we refuse it. */
static void change_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
	struct change *ch = data;
	char size[32], *why;
	int err;

	(void)src;
	(void)c;
	if (!handler_check_config(&ch->h->ops, ch->config, &why)) {
		snprintf(ch->msg, sizeof(ch->msg), "%s", why ? why : "invalid config");
		free(why);
		ch->status = -EINVAL;
		g_task_return_boolean(task, FALSE);
		return;
	}
	err = tcmu_cfgfs_write_str(&ch->info, NULL, "attrib/dev_config", ch->config);
	if (err) {
		snprintf(ch->msg, sizeof(ch->msg), "set config '%s': %s", ch->config,
			 strerror(-err));
		ch->status = err;
		g_task_return_boolean(task, FALSE);
		return;
	}
	snprintf(size, sizeof(size), "%llu", (unsigned long long)ch->size);
	err = tcmu_cfgfs_write_str(&ch->info, NULL, "attrib/dev_size", size);
	if (err) {
		snprintf(ch->msg, sizeof(ch->msg), "set size %s: %s", size, strerror(-err));
		ch->status = err;
		g_task_return_boolean(task, FALSE);
		return;
	}
	snprintf(ch->msg, sizeof(ch->msg), "success");
	g_task_return_boolean(task, TRUE);
}

static void change_finish(GObject *src, GAsyncResult *res, gpointer data)
{
	struct change *ch = data;

	(void)src;
	(void)res;
	ch->done(ch->status, ch->msg, ch->data);
	g_free(ch->config);
	g_free(ch);
}

static struct tcmur_device *find_device(struct tcmur_daemon *d, const struct handler *h,
					const char *name)
{
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, d->devices);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		struct tcmur_device *dev = value;

		if (dev->handler == h && !strcmp(dev->info.name, name))
			return dev;
	}
	return NULL;
}

void change_medium_start(struct tcmur_daemon *d, const struct handler *h, const char *name,
			 guint64 size, const char *config,
			 void (*done)(int status, const char *msg, gpointer data),
			 gpointer data)
{
	struct tcmur_device *dev = find_device(d, h, name);
	struct change *ch;
	GTask *task;

	if (!dev) {
		done(-ENODEV, "no such device served by this handler", data);
		return;
	}
	if (!handler_config_part(&h->ops, config)) {
		done(-EINVAL, "config must start with the handler's subtype and '/'", data);
		return;
	}
	ch = g_new0(struct change, 1);
	ch->h = h;
	ch->info = dev->info;
	ch->size = size;
	ch->config = g_strdup(config);
	ch->done = done;
	ch->data = data;
	log_info(&d->log, dev->who, "changing medium to '%s', %llu bytes", config,
		 (unsigned long long)size);
	task = g_task_new(NULL, NULL, change_finish, ch);
	g_task_set_task_data(task, ch, NULL);
	g_task_run_in_thread(task, change_thread);
	g_object_unref(task);
}
