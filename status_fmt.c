/*
 * The status as sent and as shown; see status_fmt.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "dev_stats.h"
#include "status_fmt.h"

static void device_free(gpointer p)
{
	struct status_device *d = p;

	g_free(d->object);
	g_free(d->name);
	g_free(d->handler);
	g_free(d->config);
	g_free(d->state);
	if (d->stats)
		g_variant_unref(d->stats);
	g_free(d->stats_error);
	g_free(d);
}

void status_view_init(struct status_view *v)
{
	v->handlers = g_ptr_array_new_with_free_func(g_free);
	v->devices = g_ptr_array_new_with_free_func(device_free);
}

void status_view_clear(struct status_view *v)
{
	g_ptr_array_unref(v->handlers);
	g_ptr_array_unref(v->devices);
	v->handlers = v->devices = NULL;
}

struct status_device *status_view_add_device(struct status_view *v, const char *object,
					     const char *name, const char *handler,
					     const char *config, const char *state,
					     guint64 size, GVariant *stats)
{
	struct status_device *d = g_new0(struct status_device, 1);

	d->object = g_strdup(object);
	d->name = g_strdup(name);
	d->handler = g_strdup(handler);
	d->config = g_strdup(config);
	d->state = g_strdup(state);
	d->size = size;
	d->stats = stats ? g_variant_ref_sink(stats) : NULL;
	g_ptr_array_add(v->devices, d);
	return d;
}

static void stat_to_variant(void *opaque, const char *name, uint64_t value, const char *str)
{
	g_variant_builder_add(opaque, "{sv}", name,
			      str ? g_variant_new_string(str) : g_variant_new_uint64(value));
}

GVariant *status_stats_variant(const struct dev_stats_snap *snap)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	dev_stats_foreach(snap, stat_to_variant, &b);
	return g_variant_builder_end(&b);
}

/* ---- text ---------------------------------------------------------------- */

static guint64 stat_u64(GVariant *stats, const char *name)
{
	guint64 v = 0;

	if (stats)
		g_variant_lookup(stats, name, "t", &v);
	return v;
}

/* The names the text lays out itself; the rest are shown as they came. */
static bool known_stat(const char *name)
{
	static const char *const others[] = { "other_cmds", "other_errors", "aborted",
					      "in_flight" };

	if (g_str_has_prefix(name, "read_") || g_str_has_prefix(name, "write_"))
		return !strchr(name, '.');
	for (size_t i = 0; i < G_N_ELEMENTS(others); i++)
		if (!strcmp(name, others[i]))
			return true;
	return false;
}

static void text_dir(GString *out, GVariant *stats, const char *dir)
{
	static const char *const f[] = { "cmds", "bytes", "errors", "timeouts",
					 "latency_p50_us", "latency_p99_us",
					 "latency_p999_us" };
	guint64 v[G_N_ELEMENTS(f)];
	char name[64];

	for (size_t i = 0; i < G_N_ELEMENTS(f); i++) {
		snprintf(name, sizeof(name), "%s_%s", dir, f[i]);
		v[i] = stat_u64(stats, name);
	}
	g_string_append_printf(out, "    %-6s cmds %" G_GUINT64_FORMAT " bytes %" G_GUINT64_FORMAT
			       " errors %" G_GUINT64_FORMAT " timeouts %" G_GUINT64_FORMAT
			       " latency us p50 %" G_GUINT64_FORMAT " p99 %" G_GUINT64_FORMAT
			       " p99.9 %" G_GUINT64_FORMAT "\n",
			       dir, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
}

static void text_extras(GString *out, GVariant *stats)
{
	GVariantIter it;
	const char *name;
	GVariant *val;

	g_variant_iter_init(&it, stats);
	while (g_variant_iter_next(&it, "{&sv}", &name, &val)) {
		if (!known_stat(name)) {
			char *s = g_variant_is_of_type(val, G_VARIANT_TYPE_STRING) ?
				  g_variant_dup_string(val, NULL) : g_variant_print(val, FALSE);

			g_string_append_printf(out, "    %s %s\n", name, s);
			g_free(s);
		}
		g_variant_unref(val);
	}
}

static void text_device(GString *out, const struct status_device *d)
{
	g_string_append_printf(out, "%s %s (%s, %s) %s, %" G_GUINT64_FORMAT " bytes\n",
			       d->object, d->name, d->handler, d->state, d->config, d->size);
	if (!d->stats) {
		g_string_append_printf(out, "    no statistics: %s\n",
				       d->stats_error ? d->stats_error : "not given");
		return;
	}
	text_dir(out, d->stats, "read");
	text_dir(out, d->stats, "write");
	g_string_append_printf(out, "    other  cmds %" G_GUINT64_FORMAT " errors %"
			       G_GUINT64_FORMAT "; aborted %" G_GUINT64_FORMAT
			       "; in flight %" G_GUINT64_FORMAT "\n",
			       stat_u64(d->stats, "other_cmds"),
			       stat_u64(d->stats, "other_errors"),
			       stat_u64(d->stats, "aborted"), stat_u64(d->stats, "in_flight"));
	text_extras(out, d->stats);
}

char *status_format_text(const struct status_view *v)
{
	GString *out = g_string_new("handlers:");

	for (guint i = 0; i < v->handlers->len; i++)
		g_string_append_printf(out, " %s", (char *)v->handlers->pdata[i]);
	g_string_append_printf(out, "%s\ndevices: %u\n", v->handlers->len ? "" : " none",
			       v->devices->len);
	for (guint i = 0; i < v->devices->len; i++)
		text_device(out, v->devices->pdata[i]);
	return g_string_free(out, FALSE);
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_str(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", c);
		else if (c < 0x20)
			g_string_append_printf(out, "\\u%04x", c);
		else
			g_string_append_c(out, c);
	}
	g_string_append_c(out, '"');
}

static void json_stats(GString *out, GVariant *stats)
{
	GVariantIter it;
	const char *name;
	GVariant *val;
	bool first = true;

	g_string_append_c(out, '{');
	g_variant_iter_init(&it, stats);
	while (g_variant_iter_next(&it, "{&sv}", &name, &val)) {
		g_string_append(out, first ? "" : ", ");
		first = false;
		json_str(out, name);
		g_string_append(out, ": ");
		if (g_variant_is_of_type(val, G_VARIANT_TYPE_UINT64))
			g_string_append_printf(out, "%" G_GUINT64_FORMAT, g_variant_get_uint64(val));
		else if (g_variant_is_of_type(val, G_VARIANT_TYPE_STRING))
			json_str(out, g_variant_get_string(val, NULL));
		else {
			char *s = g_variant_print(val, FALSE);

			json_str(out, s);
			g_free(s);
		}
		g_variant_unref(val);
	}
	g_string_append_c(out, '}');
}

static void json_device(GString *out, const struct status_device *d)
{
	const char *keys[] = { "object", "name", "handler", "config", "state" };
	const char *vals[] = { d->object, d->name, d->handler, d->config, d->state };

	g_string_append_c(out, '{');
	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
		json_str(out, keys[i]);
		g_string_append(out, ": ");
		json_str(out, vals[i]);
		g_string_append(out, ", ");
	}
	g_string_append_printf(out, "\"size\": %" G_GUINT64_FORMAT ", \"stats\": ", d->size);
	if (d->stats)
		json_stats(out, d->stats);
	else
		g_string_append(out, "null");
	if (d->stats_error) {
		g_string_append(out, ", \"stats_error\": ");
		json_str(out, d->stats_error);
	}
	g_string_append_c(out, '}');
}

char *status_format_json(const struct status_view *v)
{
	GString *out = g_string_new("{\"handlers\": [");

	for (guint i = 0; i < v->handlers->len; i++) {
		g_string_append(out, i ? ", " : "");
		json_str(out, v->handlers->pdata[i]);
	}
	g_string_append(out, "], \"devices\": [");
	for (guint i = 0; i < v->devices->len; i++) {
		g_string_append(out, i ? ", " : "");
		json_device(out, v->devices->pdata[i]);
	}
	g_string_append(out, "]}\n");
	return g_string_free(out, FALSE);
}
