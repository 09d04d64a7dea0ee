/*
 * The bus service; see dbus_service.h. The interface code is generated
 * by gdbus-codegen from org.kernel.TCMUService1.xml.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "change_medium.h"
#include "daemon.h"
#include "dbus_gen.h"
#include "dbus_service.h"
#include "status_fmt.h"


#define MANAGER_PATH ROOT_PATH "/HandlerManager1"

struct dbus_service {
	struct tcmur_daemon *d;
	GDBusConnection *conn;		/* NULL: no system bus */
	GDBusObjectManagerServer *handlers;
	GDBusObjectManagerServer *devices;
	TcmuTCMUService1HandlerManager1 *manager;
	GHashTable *externals;		/* subtype -> struct ext_handler */
};

/* What a plugin handler's bus object needs to act. */
struct handler_export {
	struct dbus_service *ds;
	const struct handler *h;
};

/*
 * A handler served by another process, registered over the bus. Two
 * protocols reach it: ours (the registering connection serves
 * CheckConfig at ROOT_PATH/<subtype>) and the established libtcmu-register
 * one (a process owns EXT_NAME_PREFIX<subtype> and serves it at
 * MANAGER_PATH/<subtype>). While the well-known name has an owner,
 * CheckConfig goes there; else to the registering connection.
 */
#define EXT_NAME_PREFIX BUS_NAME ".HandlerManager1."

struct ext_handler {
	struct dbus_service *ds;
	char *subtype;
	char *owner;			/* the registering unique bus name */
	char *named_owner;		/* owner of EXT_NAME_PREFIX<subtype>, or NULL */
	guint watch_id;
	guint name_watch_id;
};

/* A plugin's check_config may block (a cluster handler connects to check):
 * it runs on a worker thread, and the main loop keeps serving netlink. */
struct check_call {
	TcmuTCMUService1 *iface;
	GDBusMethodInvocation *inv;
	const struct handler *h;
	char *config;
	gboolean ok;
	char *msg;
};

static void check_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
	struct check_call *cc = data;
	char *why;

	(void)src;
	(void)c;
	cc->ok = handler_check_config(&cc->h->ops, cc->config, &why);
	cc->msg = g_strdup(cc->ok ? "success" : (why ? why : "invalid config"));
	free(why);
	g_task_return_boolean(task, cc->ok);
}

static void check_done(GObject *src, GAsyncResult *res, gpointer data)
{
	struct check_call *cc = data;

	(void)src;
	(void)res;
	tcmu_tcmuservice1_complete_check_config(cc->iface, cc->inv, cc->ok, cc->msg);
	g_object_unref(cc->iface);
	g_free(cc->config);
	g_free(cc->msg);
	g_free(cc);
}

static gboolean on_check_config(TcmuTCMUService1 *iface, GDBusMethodInvocation *inv,
				const gchar *config, gpointer user_data)
{
	struct check_call *cc = g_new0(struct check_call, 1);
	GTask *task;

	cc->iface = g_object_ref(iface);
	cc->inv = inv;
	cc->h = user_data;
	cc->config = g_strdup(config);
	task = g_task_new(NULL, NULL, check_done, cc);
	g_task_set_task_data(task, cc, NULL);
	g_task_run_in_thread(task, check_thread);
	g_object_unref(task);
	return TRUE;
}

static void handler_export_free(gpointer data, GClosure *closure)
{
	(void)closure;
	g_free(data);
}

struct medium_call {
	TcmuTCMUService1 *iface;
	GDBusMethodInvocation *inv;
};

static void on_medium_done(int status, const char *msg, gpointer data)
{
	struct medium_call *mc = data;

	tcmu_tcmuservice1_complete_change_medium(mc->iface, mc->inv, status, msg);
	g_object_unref(mc->iface);
	g_free(mc);
}

static gboolean on_change_medium(TcmuTCMUService1 *iface, GDBusMethodInvocation *inv,
				 const gchar *name, guint64 size, const gchar *config,
				 gpointer user_data)
{
	struct handler_export *he = user_data;
	struct medium_call *mc = g_new0(struct medium_call, 1);

	mc->iface = g_object_ref(iface);
	mc->inv = inv;
	change_medium_start(he->ds->d, he->h, name, size, config, on_medium_done, mc);
	return TRUE;
}

static void export_handler(struct dbus_service *ds, const struct handler *h)
{
	char *path = g_strdup_printf(ROOT_PATH "/%s", h->ops.subtype);
	TcmuObjectSkeleton *obj = tcmu_object_skeleton_new(path);
	TcmuTCMUService1 *iface = tcmu_tcmuservice1_skeleton_new();
	struct handler_export *he;

	tcmu_tcmuservice1_set_config_desc(iface, h->ops.cfg_desc);
	g_signal_connect(iface, "handle-check-config", G_CALLBACK(on_check_config),
			 (gpointer)h);
	he = g_new0(struct handler_export, 1);
	he->ds = ds;
	he->h = h;
	g_signal_connect_data(iface, "handle-change-medium", G_CALLBACK(on_change_medium),
			      he, handler_export_free, 0);
	tcmu_object_skeleton_set_tcmuservice1(obj, iface);
	g_dbus_object_manager_server_export(ds->handlers, G_DBUS_OBJECT_SKELETON(obj));
	g_object_unref(iface);
	g_object_unref(obj);
	g_free(path);
}

/* ---- external handlers (HandlerManager1) ------------------------------ */

static void ext_handler_free(gpointer p)
{
	struct ext_handler *ext = p;
	char *path = g_strdup_printf(ROOT_PATH "/%s", ext->subtype);

	g_dbus_object_manager_server_unexport(ext->ds->handlers, path);
	if (ext->watch_id)
		g_bus_unwatch_name(ext->watch_id);
	if (ext->name_watch_id)
		g_bus_unwatch_name(ext->name_watch_id);
	g_free(path);
	g_free(ext->subtype);
	g_free(ext->owner);
	g_free(ext->named_owner);
	g_free(ext);
}

static void ext_check_config_done(GObject *src, GAsyncResult *res, gpointer data)
{
	GDBusMethodInvocation *inv = data;
	GError *error = NULL;
	GVariant *ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &error);

	if (!ret) {
		char *msg = g_strdup_printf("external handler did not answer: %s",
					    error->message);

		g_dbus_method_invocation_return_value(inv, g_variant_new("(bs)", FALSE, msg));
		g_free(msg);
		g_error_free(error);
		return;
	}
	g_dbus_method_invocation_return_value(inv, ret);
}

/* CheckConfig for an external handler: asked of the process that serves it. */
static gboolean on_ext_check_config(TcmuTCMUService1 *iface, GDBusMethodInvocation *inv,
				    const gchar *config, gpointer user_data)
{
	struct dbus_service *ds = user_data;
	const char *path = g_dbus_method_invocation_get_object_path(inv);
	struct ext_handler *ext = g_hash_table_lookup(ds->externals,
						      strrchr(path, '/') + 1);
	char *dest, *obj;

	(void)iface;
	if (!ext) {
		g_dbus_method_invocation_return_value(
			inv, g_variant_new("(bs)", FALSE, "handler is gone"));
		return TRUE;
	}
	if (ext->named_owner) {
		dest = g_strconcat(EXT_NAME_PREFIX, ext->subtype, NULL);
		obj = g_strdup_printf(MANAGER_PATH "/%s", ext->subtype);
	} else {
		dest = g_strdup(ext->owner);
		obj = g_strdup(path);
	}
	g_dbus_connection_call(ds->conn, dest, obj, BUS_NAME, "CheckConfig",
			       g_variant_new("(s)", config), G_VARIANT_TYPE("(bs)"),
			       G_DBUS_CALL_FLAGS_NONE, 10000, NULL, ext_check_config_done, inv);
	g_free(dest);
	g_free(obj);
	return TRUE;
}

static gboolean on_ext_change_medium(TcmuTCMUService1 *iface, GDBusMethodInvocation *inv,
				     const gchar *name, guint64 size, const gchar *config,
				     gpointer user_data)
{
	(void)name;
	(void)size;
	(void)config;
	(void)user_data;
	tcmu_tcmuservice1_complete_change_medium(iface, inv, -EOPNOTSUPP,
						 "an external handler changes its own media");
	return TRUE;
}

static void on_ext_vanished(GDBusConnection *conn, const gchar *name, gpointer data)
{
	struct ext_handler *ext = data;
	struct dbus_service *ds = ext->ds;

	(void)conn;
	log_info(&ds->d->log, NULL, "external handler %s (%s) left the bus", ext->subtype,
		 name);
	g_hash_table_remove(ds->externals, ext->subtype);
}

static void on_ext_named(GDBusConnection *conn, const gchar *name, const gchar *owner,
			 gpointer data)
{
	struct ext_handler *ext = data;

	(void)conn;
	g_free(ext->named_owner);
	ext->named_owner = g_strdup(owner);
	log_info(&ext->ds->d->log, NULL, "external handler %s answers as %s (%s)",
		 ext->subtype, name, owner);
}

static void on_ext_unnamed(GDBusConnection *conn, const gchar *name, gpointer data)
{
	struct ext_handler *ext = data;

	(void)conn;
	(void)name;
	g_clear_pointer(&ext->named_owner, g_free);
}

static bool subtype_ok(const char *s)
{
	if (!*s || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '_')
			return false;
	return true;
}

static gboolean on_register(TcmuTCMUService1HandlerManager1 *mgr,
			    GDBusMethodInvocation *inv, const gchar *subtype,
			    const gchar *cfg_desc, gpointer data)
{
	struct dbus_service *ds = data;
	const char *sender = g_dbus_method_invocation_get_sender(inv);
	struct ext_handler *ext;
	TcmuObjectSkeleton *obj;
	TcmuTCMUService1 *iface;
	char *path;

	if (!subtype_ok(subtype) || !strcmp(subtype, "devices") ||
	    !strcmp(subtype, "HandlerManager1")) {
		tcmu_tcmuservice1_handler_manager1_complete_register_handler(
			mgr, inv, FALSE, "subtype must be 1-63 letters, digits or _");
		return TRUE;
	}
	if (handler_set_find(&ds->d->handlers, subtype) ||
	    g_hash_table_contains(ds->externals, subtype)) {
		tcmu_tcmuservice1_handler_manager1_complete_register_handler(
			mgr, inv, FALSE, "subtype is already served");
		return TRUE;
	}
	ext = g_new0(struct ext_handler, 1);
	ext->ds = ds;
	ext->subtype = g_strdup(subtype);
	ext->owner = g_strdup(sender);
	path = g_strdup_printf(ROOT_PATH "/%s", subtype);
	obj = tcmu_object_skeleton_new(path);
	iface = tcmu_tcmuservice1_skeleton_new();
	tcmu_tcmuservice1_set_config_desc(iface, cfg_desc);
	g_signal_connect(iface, "handle-check-config", G_CALLBACK(on_ext_check_config), ds);
	g_signal_connect(iface, "handle-change-medium", G_CALLBACK(on_ext_change_medium), ds);
	tcmu_object_skeleton_set_tcmuservice1(obj, iface);
	g_dbus_object_manager_server_export(ds->handlers, G_DBUS_OBJECT_SKELETON(obj));
	g_object_unref(iface);
	g_object_unref(obj);
	g_free(path);
	g_hash_table_insert(ds->externals, ext->subtype, ext);
	ext->watch_id = g_bus_watch_name_on_connection(ds->conn, sender,
						       G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
						       on_ext_vanished, ext, NULL);
	path = g_strconcat(EXT_NAME_PREFIX, subtype, NULL);
	if (g_dbus_is_name(path))	/* not if the subtype starts with a digit */
		ext->name_watch_id = g_bus_watch_name_on_connection(
			ds->conn, path, G_BUS_NAME_WATCHER_FLAGS_NONE, on_ext_named,
			on_ext_unnamed, ext, NULL);
	g_free(path);
	log_info(&ds->d->log, NULL, "external handler %s registered by %s", subtype, sender);
	tcmu_tcmuservice1_handler_manager1_complete_register_handler(mgr, inv, TRUE, "");
	return TRUE;
}

static gboolean on_unregister(TcmuTCMUService1HandlerManager1 *mgr,
			      GDBusMethodInvocation *inv, const gchar *subtype,
			      gpointer data)
{
	struct dbus_service *ds = data;
	struct ext_handler *ext = g_hash_table_lookup(ds->externals, subtype);

	if (!ext || strcmp(ext->owner, g_dbus_method_invocation_get_sender(inv))) {
		tcmu_tcmuservice1_handler_manager1_complete_unregister_handler(
			mgr, inv, FALSE, "no such handler registered by you");
		return TRUE;
	}
	log_info(&ds->d->log, NULL, "external handler %s unregistered", subtype);
	g_hash_table_remove(ds->externals, subtype);
	tcmu_tcmuservice1_handler_manager1_complete_unregister_handler(mgr, inv, TRUE, "");
	return TRUE;
}

bool dbus_service_is_external(const struct dbus_service *ds, const char *subtype)
{
	return ds && g_hash_table_contains(ds->externals, subtype);
}

/* Export the objects on @conn before the name is ours, so that whoever
 * sees the name appear finds them. */
static void export_all(struct dbus_service *ds, GDBusConnection *conn)
{
	GError *error = NULL;

	ds->conn = conn;
	g_dbus_object_manager_server_set_connection(ds->handlers, conn);
	g_dbus_object_manager_server_set_connection(ds->devices, conn);
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(ds->manager), conn,
					      MANAGER_PATH, &error)) {
		log_err(&ds->d->log, NULL, "export %s: %s", MANAGER_PATH, error->message);
		g_error_free(error);
	}
}

/* The pid of the name's owner, or 0. */
static guint32 owner_pid(GDBusConnection *conn)
{
	GVariant *ret = g_dbus_connection_call_sync(
		conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
		"GetConnectionUnixProcessID", g_variant_new("(s)", BUS_NAME),
		G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	guint32 pid = 0;

	if (ret) {
		g_variant_get(ret, "(u)", &pid);
		g_variant_unref(ret);
	}
	return pid;
}

/* The bus said no: what is true, and what to do. */
static int name_refused(struct dbus_service *ds, GError *error)
{
	char *remote = g_dbus_error_get_remote_error(error);
	int err = -EIO;

	g_dbus_error_strip_remote_error(error);
	if (remote && !strcmp(remote, "org.freedesktop.DBus.Error.AccessDenied")) {
		log_err(&ds->d->log, NULL,
			"the system bus does not allow this process to own %s (AccessDenied: "
			"%s). The bus policy is not installed: copy %s.conf into "
			"/etc/dbus-1/system.d/ or /usr/share/dbus-1/system.d/ (make install "
			"does) and reload the bus (systemctl reload dbus), or run with "
			"--no-dbus; exiting", BUS_NAME, error->message, BUS_NAME);
		err = -EACCES;
	} else {
		log_err(&ds->d->log, NULL, "asking the system bus for %s failed: %s%s%s; "
			"exiting (--no-dbus runs without the bus)", BUS_NAME, error->message,
			remote ? " " : "", remote ? remote : "");
	}
	g_free(remote);
	return err;
}

/* Own the name now: 0, or -errno with the reason logged. */
static int claim_name(struct dbus_service *ds, GDBusConnection *conn)
{
	GError *error = NULL;
	GVariant *ret;
	guint32 reply;

	ret = g_dbus_connection_call_sync(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
					  "org.freedesktop.DBus", "RequestName",
					  g_variant_new("(su)", BUS_NAME, 4 /* DO_NOT_QUEUE */),
					  G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
					  &error);
	if (!ret) {
		int err = name_refused(ds, error);

		g_error_free(error);
		return err;
	}
	g_variant_get(ret, "(u)", &reply);
	g_variant_unref(ret);
	if (reply == 1 || reply == 4) {		/* PRIMARY_OWNER, ALREADY_OWNER */
		log_info(&ds->d->log, NULL, "bus name %s acquired", BUS_NAME);
		return 0;
	}
	/* Another daemon owns the name: two would fight over the devices. */
	log_err(&ds->d->log, NULL, "bus name %s is owned by another process (pid %u): "
		"another tcmu-runner runs; stop it first; exiting", BUS_NAME, owner_pid(conn));
	return -EEXIST;
}

int dbus_service_new(struct dbus_service **out, struct tcmur_daemon *d)
{
	struct dbus_service *ds;
	GDBusConnection *conn;
	GError *error = NULL;
	int err;

	*out = NULL;
	conn = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
	if (!conn) {
		log_warn(&d->log, NULL, "no system bus (%s): serving devices without %s; "
			 "targetcli will not list the handlers", error->message, BUS_NAME);
		g_error_free(error);
		return 0;
	}
	ds = g_new0(struct dbus_service, 1);
	ds->d = d;
	ds->externals = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, ext_handler_free);
	ds->manager = tcmu_tcmuservice1_handler_manager1_skeleton_new();
	g_signal_connect(ds->manager, "handle-register-handler", G_CALLBACK(on_register), ds);
	g_signal_connect(ds->manager, "handle-unregister-handler", G_CALLBACK(on_unregister),
			 ds);
	ds->handlers = g_dbus_object_manager_server_new(ROOT_PATH);
	ds->devices = g_dbus_object_manager_server_new(DEVICES_PATH);
	for (size_t i = 0; i < d->handlers.count; i++)
		export_handler(ds, d->handlers.items[i]);
	export_all(ds, conn);
	err = claim_name(ds, conn);
	if (err) {
		dbus_service_free(ds);
		return err;
	}
	*out = ds;
	return 0;
}

void dbus_service_free(struct dbus_service *ds)
{
	if (!ds)
		return;
	g_hash_table_destroy(ds->externals);
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(ds->manager));
	g_object_unref(ds->manager);
	g_object_unref(ds->devices);
	g_object_unref(ds->handlers);
	if (ds->conn)
		g_object_unref(ds->conn);
	g_free(ds);
}

static char *device_path(const struct tcmur_device *dev)
{
	return g_strdup_printf(DEVICES_PATH "/uio%u", dev->info.uio_minor);
}

static void device_props(TcmuTCMUService1Device *iface, struct tcmur_device *dev)
{
	tcmu_tcmuservice1_device_set_name(iface, dev->info.name);
	tcmu_tcmuservice1_device_set_handler(iface, dev->handler->ops.subtype);
	tcmu_tcmuservice1_device_set_config(iface, dev->info.config);
	tcmu_tcmuservice1_device_set_size(iface, tcmur_dev_size(dev));
	tcmu_tcmuservice1_device_set_block_size(iface, tcmur_dev_block_size(dev));
	tcmu_tcmuservice1_device_set_write_cache(iface, tcmur_dev_write_cache(dev));
	tcmu_tcmuservice1_device_set_state(iface, dev_state_name(dev));
}

/* GetStats on /org/kernel/TCMUService1/devices/uioN (main thread, as
 * removal: the device is there while its object is). */
static gboolean on_get_stats(TcmuTCMUService1Device *iface, GDBusMethodInvocation *inv,
			     gpointer user_data)
{
	struct dbus_service *ds = user_data;
	const char *path = g_dbus_method_invocation_get_object_path(inv);
	struct tcmur_device *dev = NULL;
	struct dev_stats_snap snap;
	unsigned int minor;

	if (sscanf(path, DEVICES_PATH "/uio%u", &minor) == 1)
		dev = g_hash_table_lookup(ds->d->devices, GUINT_TO_POINTER(minor));
	if (!dev) {
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
						      G_DBUS_ERROR_UNKNOWN_OBJECT,
						      "%s: no such device", path);
		return TRUE;
	}
	dev_stats_snapshot(dev, &snap);
	tcmu_tcmuservice1_device_complete_get_stats(iface, inv, status_stats_variant(&snap));
	return TRUE;
}

void dbus_service_add_device(struct dbus_service *ds, struct tcmur_device *dev)
{
	char *path;
	TcmuObjectSkeleton *obj;
	TcmuTCMUService1Device *iface;

	if (!ds)
		return;
	path = device_path(dev);
	obj = tcmu_object_skeleton_new(path);
	iface = tcmu_tcmuservice1_device_skeleton_new();
	device_props(iface, dev);
	g_signal_connect(iface, "handle-get-stats", G_CALLBACK(on_get_stats), ds);
	tcmu_object_skeleton_set_tcmuservice1_device(obj, iface);
	g_dbus_object_manager_server_export(ds->devices, G_DBUS_OBJECT_SKELETON(obj));
	g_object_unref(iface);
	g_object_unref(obj);
	g_free(path);
}

void dbus_service_update_device(struct dbus_service *ds, struct tcmur_device *dev)
{
	GDBusObject *obj;
	char *path;

	if (!ds)
		return;
	path = device_path(dev);
	obj = g_dbus_object_manager_get_object(G_DBUS_OBJECT_MANAGER(ds->devices), path);
	if (obj) {
		TcmuTCMUService1Device *iface =
			tcmu_object_peek_tcmuservice1_device(TCMU_OBJECT(obj));

		if (iface)
			device_props(iface, dev);
		g_object_unref(obj);
	}
	g_free(path);
}

void dbus_service_remove_device(struct dbus_service *ds, struct tcmur_device *dev)
{
	char *path;

	if (!ds)
		return;
	path = device_path(dev);
	g_dbus_object_manager_server_unexport(ds->devices, path);
	g_free(path);
}
