/*
 * The bus service; see dbus_service.h. The interface code is generated
 * by gdbus-codegen from org.kernel.TCMUService1.xml.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "dbus_gen.h"
#include "dbus_service.h"

#define BUS_NAME "org.kernel.TCMUService1"
#define ROOT_PATH "/org/kernel/TCMUService1"
#define DEVICES_PATH ROOT_PATH "/devices"

struct dbus_service {
	struct tcmur_daemon *d;
	guint owner_id;
	GDBusObjectManagerServer *handlers;
	GDBusObjectManagerServer *devices;
};

static gboolean on_check_config(TcmuTCMUService1 *iface, GDBusMethodInvocation *inv,
				const gchar *config, gpointer user_data)
{
	const struct handler *h = user_data;
	const char *subtype = h->ops.subtype;
	size_t n = strlen(subtype);
	char *reason = NULL;
	gboolean ok;

	if (strncmp(config, subtype, n) || config[n] != '/') {
		char *msg = g_strdup_printf("config '%s' does not start with '%s/'",
					    config, subtype);

		tcmu_tcmuservice1_complete_check_config(iface, inv, FALSE, msg);
		g_free(msg);
		return TRUE;
	}
	ok = h->ops.check_config ? h->ops.check_config(config + n + 1, &reason) : TRUE;
	tcmu_tcmuservice1_complete_check_config(iface, inv, ok,
						ok ? "success" : (reason ? reason : "invalid"));
	free(reason);
	return TRUE;
}

static void export_handler(struct dbus_service *ds, const struct handler *h)
{
	char *path = g_strdup_printf(ROOT_PATH "/%s", h->ops.subtype);
	TcmuObjectSkeleton *obj = tcmu_object_skeleton_new(path);
	TcmuTCMUService1 *iface = tcmu_tcmuservice1_skeleton_new();

	tcmu_tcmuservice1_set_config_desc(iface, h->ops.cfg_desc);
	g_signal_connect(iface, "handle-check-config", G_CALLBACK(on_check_config),
			 (gpointer)h);
	tcmu_object_skeleton_set_tcmuservice1(obj, iface);
	g_dbus_object_manager_server_export(ds->handlers, G_DBUS_OBJECT_SKELETON(obj));
	g_object_unref(iface);
	g_object_unref(obj);
	g_free(path);
}

static void on_bus_acquired(GDBusConnection *conn, const gchar *name, gpointer data)
{
	struct dbus_service *ds = data;

	(void)name;
	g_dbus_object_manager_server_set_connection(ds->handlers, conn);
	g_dbus_object_manager_server_set_connection(ds->devices, conn);
}

static void on_name_acquired(GDBusConnection *conn, const gchar *name, gpointer data)
{
	struct dbus_service *ds = data;

	(void)conn;
	log_info(&ds->d->log, NULL, "bus name %s acquired", name);
}

static void on_name_lost(GDBusConnection *conn, const gchar *name, gpointer data)
{
	struct dbus_service *ds = data;

	if (!conn) {
		log_warn(&ds->d->log, NULL, "no system bus: serving devices without %s", name);
		return;
	}
	/* Another daemon owns the name: two would fight over the devices. */
	log_err(&ds->d->log, NULL, "bus name %s is owned by another process; exiting", name);
	ds->d->exit_code = 1;
	g_main_loop_quit(ds->d->loop);
}

int dbus_service_new(struct dbus_service **out, struct tcmur_daemon *d)
{
	struct dbus_service *ds = g_new0(struct dbus_service, 1);

	ds->d = d;
	ds->handlers = g_dbus_object_manager_server_new(ROOT_PATH);
	ds->devices = g_dbus_object_manager_server_new(DEVICES_PATH);
	for (size_t i = 0; i < d->handlers.count; i++)
		export_handler(ds, d->handlers.items[i]);
	ds->owner_id = g_bus_own_name(G_BUS_TYPE_SYSTEM, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
				      on_bus_acquired, on_name_acquired, on_name_lost, ds,
				      NULL);
	*out = ds;
	return 0;
}

void dbus_service_free(struct dbus_service *ds)
{
	if (!ds)
		return;
	g_bus_unown_name(ds->owner_id);
	g_object_unref(ds->devices);
	g_object_unref(ds->handlers);
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
	tcmu_tcmuservice1_device_set_state(iface, "running");
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
