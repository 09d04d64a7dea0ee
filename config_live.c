/*
 * The configuration applied to the running daemon; see config_live.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_live.h"

/* A burst of inotify events (an editor writes, renames, chmods) is one reload. */
#define RELOAD_DELAY_MS 200

static int effective_level(const struct config_live *cl, const struct config *c)
{
	return cl->force_debug && c->log_level < TCMU_LOG_DEBUG ? TCMU_LOG_DEBUG : c->log_level;
}

/* Apply @c's log settings; a sink that refuses keeps @c's log at what
 * is in force. */
static void apply_log(struct config_live *cl, struct config *c, const char *text_path)
{
	int err = log_sink_apply(cl->sink, &c->log);

	if (err) {
		log_err(cl->log, NULL, "%s: [log] file = '%s': cannot open: %s; keeping "
			"destination %s", text_path, c->log.path, strerror(-err),
			log_dest_name(cl->cfg.log.dest));
		c->log = cl->cfg.log;
	}
	log_set_level(cl->log, effective_level(cl, c));
}

static void take(struct config_live *cl, struct config *c)
{
	config_clear(&cl->cfg);
	cl->cfg = *c;
}

int config_live_reload(struct config_live *cl, const char *why)
{
	struct config c;
	int bad = config_load(&c, cl->path, &cl->cfg, cl->log);

	if (bad < 0) {
		log_err(cl->log, NULL, "%s: %s: cannot read: %s; settings unchanged", why,
			cl->path, strerror(-bad));
		config_clear(&c);
		return bad;
	}
	apply_log(cl, &c, cl->path);
	take(cl, &c);
	log_write(cl->log, bad ? TCMU_LOG_WARN : TCMU_LOG_INFO, NULL, __func__,
		  "%s: read %s, %d bad lines: log level %s, destination %s", why, cl->path,
		  bad, log_level_name(log_level(cl->log)), log_dest_name(cl->cfg.log.dest));
	return bad;
}

static gboolean reload_due(gpointer data)
{
	struct config_live *cl = data;

	cl->reload_src = 0;
	config_live_reload(cl, "file changed");
	return G_SOURCE_REMOVE;
}

static void on_file_event(GFileMonitor *m, GFile *f, GFile *other, GFileMonitorEvent ev,
			  gpointer data)
{
	struct config_live *cl = data;

	(void)m;
	(void)f;
	(void)other;
	if (ev != G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT && ev != G_FILE_MONITOR_EVENT_CREATED &&
	    ev != G_FILE_MONITOR_EVENT_MOVED_IN && ev != G_FILE_MONITOR_EVENT_RENAMED)
		return;
	if (!cl->reload_src)
		cl->reload_src = g_timeout_add(RELOAD_DELAY_MS, reload_due, cl);
}

static gboolean flush_due(gpointer data)
{
	struct config_live *cl = data;

	log_sink_flush(cl->sink);
	return G_SOURCE_CONTINUE;
}

static void watch(struct config_live *cl)
{
	GFile *f = g_file_new_for_path(cl->path);
	GError *error = NULL;

	cl->monitor = g_file_monitor_file(f, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
	if (cl->monitor)
		g_signal_connect(cl->monitor, "changed", G_CALLBACK(on_file_event), cl);
	else {
		log_warn(cl->log, NULL, "%s: not watched for changes (%s); SIGHUP reloads it",
			 cl->path, error->message);
		g_error_free(error);
	}
	g_object_unref(f);
}

int config_live_start(struct config_live *cl, const char *path, bool force_debug,
		      struct log_cfg *log, bool watch_file)
{
	struct config c;
	int bad, err;

	memset(cl, 0, sizeof(*cl));
	snprintf(cl->path, sizeof(cl->path), "%s", path);
	cl->force_debug = force_debug;
	cl->log = log;
	config_init(&cl->cfg);
	bad = config_load(&c, path, NULL, log);
	if (bad == -ENOENT)
		log_info(log, NULL, "%s: no such file: default settings", path);
	else if (bad < 0)
		log_err(log, NULL, "%s: cannot read: %s; default settings", path, strerror(-bad));
	err = log_sink_new(&cl->sink, &c.log);
	if (err) {
		log_err(log, NULL, "%s: [log] file = '%s': cannot open: %s; logging to %s", path,
			c.log.path, strerror(-err), log_dest_name(cl->cfg.log.dest));
		c.log = cl->cfg.log;
		err = log_sink_new(&cl->sink, &c.log);
		if (err) {
			config_clear(&c);
			return err;
		}
	}
	__atomic_store_n(&log->sink, cl->sink, __ATOMIC_RELEASE);
	log_set_level(log, effective_level(cl, &c));
	take(cl, &c);
	if (watch_file)
		watch(cl);
	cl->flush_src = g_timeout_add_seconds(1, flush_due, cl);
	return bad < 0 ? 0 : bad;
}

void config_live_stop(struct config_live *cl)
{
	if (cl->monitor) {
		g_file_monitor_cancel(cl->monitor);
		g_object_unref(cl->monitor);
		cl->monitor = NULL;
	}
	if (cl->reload_src)
		g_source_remove(cl->reload_src);
	if (cl->flush_src)
		g_source_remove(cl->flush_src);
	cl->reload_src = cl->flush_src = 0;
	if (cl->log)
		__atomic_store_n(&cl->log->sink, NULL, __ATOMIC_RELEASE);
	log_sink_free(cl->sink);
	cl->sink = NULL;
	config_clear(&cl->cfg);
}
