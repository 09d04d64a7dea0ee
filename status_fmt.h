/*
 * `tcmu-runner --status`: what a running daemon tells over the bus, and
 * how it is shown, as text for a person or as JSON (--json) for a
 * script. Apart from the bus client (status_cmd.c) so that tests check
 * the output without a bus.
 *
 * Text: a line of handlers, then per device a line "uioN name (handler,
 * state) config" and its figures: read and write (commands, bytes,
 * errors, time-outs, latency p50/p99/p99.9 in microseconds), other
 * commands, aborted, in flight, then any figure the core does not know
 * (a handler's, "<subtype>.<name>") as it came.
 * JSON: {"handlers": [...], "devices": [{"object", "name", "handler",
 * "config", "state", "size", "stats": {name: number or string}}]}.
 * Licensed under the Apache License, Version 2.0.
 */
#ifndef STATUS_FMT_H
#define STATUS_FMT_H

#include <glib.h>

struct dev_stats_snap;

struct status_device {
	char *object;			/* "uio0" */
	char *name, *handler, *config, *state;
	guint64 size;
	GVariant *stats;		/* a{sv} (GetStats), or NULL */
	char *stats_error;		/* why not, or NULL */
};

struct status_view {
	GPtrArray *handlers;		/* char *, owned */
	GPtrArray *devices;		/* struct status_device *, owned */
};

void status_view_init(struct status_view *v);
void status_view_clear(struct status_view *v);
/* Add a device; takes none of the arguments (copies, and a ref on
 * @stats, which may be floating). Returns it. */
struct status_device *status_view_add_device(struct status_view *v, const char *object,
					     const char *name, const char *handler,
					     const char *config, const char *state,
					     guint64 size, GVariant *stats);

/* A snapshot as GetStats sends it: a{sv}, floating (the bus service). */
GVariant *status_stats_variant(const struct dev_stats_snap *snap);

/* The view as text, or as JSON; g_free() it. */
char *status_format_text(const struct status_view *v);
char *status_format_json(const struct status_view *v);

#endif
