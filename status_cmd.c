/*
 * The --status client; see status_cmd.h.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#include "dbus_service.h"
#include "status_cmd.h"
#include "status_fmt.h"

#define CALL_TIMEOUT_MS 10000

static void say_error(const char *what, GError *error)
{
	char *remote = g_dbus_error_get_remote_error(error);

	g_dbus_error_strip_remote_error(error);
	if (remote && (!strcmp(remote, "org.freedesktop.DBus.Error.ServiceUnknown") ||
		       !strcmp(remote, "org.freedesktop.DBus.Error.NameHasNoOwner")))
		fprintf(stderr, "tcmu-runner --status: no daemon answers on the system bus "
			"(%s has no owner): is tcmu-runner running? (systemctl status "
			"tcmu-runner)\n", BUS_NAME);
	else if (remote && !strcmp(remote, "org.freedesktop.DBus.Error.AccessDenied"))
		fprintf(stderr, "tcmu-runner --status: %s: the bus refused (AccessDenied: %s); "
			"the bus policy lets root ask\n", what, error->message);
	else
		fprintf(stderr, "tcmu-runner --status: %s: %s\n", what, error->message);
	g_free(remote);
}

/* @method on the daemon's @path, @iface: its one result (of @type), or
 * NULL with @error set. */
static GVariant *call_one(GDBusConnection *bus, const char *path, const char *iface,
			  const char *method, const char *type, GError **error)
{
	GVariant *ret = g_dbus_connection_call_sync(bus, BUS_NAME, path, iface, method, NULL,
						    G_VARIANT_TYPE(type), G_DBUS_CALL_FLAGS_NONE,
						    CALL_TIMEOUT_MS, NULL, error);
	GVariant *one;

	if (!ret)
		return NULL;
	one = g_variant_get_child_value(ret, 0);
	g_variant_unref(ret);
	return one;
}

/* GetManagedObjects under @path: a{oa{sa{sv}}}, or NULL (said). */
static GVariant *managed_objects(GDBusConnection *bus, const char *path)
{
	GError *error = NULL;
	GVariant *objs = call_one(bus, path, "org.freedesktop.DBus.ObjectManager",
				  "GetManagedObjects", "(a{oa{sa{sv}}})", &error);

	if (!objs) {
		say_error("list objects", error);
		g_error_free(error);
	}
	return objs;
}

/* Call @fn for each object under @path that has @iface, with its
 * properties; -1 if the objects could not be listed (said). */
static int for_each_object(GDBusConnection *bus, const char *path, const char *iface,
			   void (*fn)(GDBusConnection *bus, struct status_view *v,
				      const char *path, GVariant *props),
			   struct status_view *v)
{
	GVariant *objs = managed_objects(bus, path), *ifaces;
	GVariantIter it;
	const char *obj;

	if (!objs)
		return -1;
	g_variant_iter_init(&it, objs);
	while (g_variant_iter_next(&it, "{&o@a{sa{sv}}}", &obj, &ifaces)) {
		GVariant *props = g_variant_lookup_value(ifaces, iface, NULL);

		if (props) {
			fn(bus, v, obj, props);
			g_variant_unref(props);
		}
		g_variant_unref(ifaces);
	}
	g_variant_unref(objs);
	return 0;
}

static void read_handler(GDBusConnection *bus, struct status_view *v, const char *path,
			 GVariant *props)
{
	(void)bus;
	(void)props;
	g_ptr_array_add(v->handlers, g_strdup(strrchr(path, '/') + 1));
}

static GVariant *get_stats(GDBusConnection *bus, const char *path, char **why)
{
	GError *error = NULL;
	GVariant *stats = call_one(bus, path, DEVICE_IFACE, "GetStats", "(a{sv})", &error);

	if (!stats) {
		g_dbus_error_strip_remote_error(error);
		*why = g_strdup(error->message);
		g_error_free(error);
	}
	return stats;
}

static void read_device(GDBusConnection *bus, struct status_view *v, const char *path,
			GVariant *props)
{
	const char *name = "", *handler = "", *config = "", *state = "";
	guint64 size = 0;
	char *why = NULL;
	GVariant *stats;
	struct status_device *d;

	g_variant_lookup(props, "Name", "&s", &name);
	g_variant_lookup(props, "Handler", "&s", &handler);
	g_variant_lookup(props, "Config", "&s", &config);
	g_variant_lookup(props, "State", "&s", &state);
	g_variant_lookup(props, "Size", "t", &size);
	stats = get_stats(bus, path, &why);
	d = status_view_add_device(v, strrchr(path, '/') + 1, name, handler, config, state,
				   size, stats);
	d->stats_error = why;
	if (stats)
		g_variant_unref(stats);
}

int status_cmd_run(bool json)
{
	struct status_view v;
	GDBusConnection *bus;
	GError *error = NULL;
	char *text;
	int ret = 1;

	bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
	if (!bus) {
		fprintf(stderr, "tcmu-runner --status: no system bus: %s\n", error->message);
		g_error_free(error);
		return 1;
	}
	status_view_init(&v);
	if (!for_each_object(bus, ROOT_PATH, BUS_NAME, read_handler, &v) &&
	    !for_each_object(bus, DEVICES_PATH, DEVICE_IFACE, read_device, &v)) {
		text = json ? status_format_json(&v) : status_format_text(&v);
		fputs(text, stdout);
		g_free(text);
		ret = 0;
	}
	status_view_clear(&v);
	g_object_unref(bus);
	return ret;
}
