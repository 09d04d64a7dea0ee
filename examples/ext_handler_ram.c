/*
 * ext_handler_ram: a handler that lives outside tcmu-runner.
 *
 * A process of its own, built on libtcmu, that serves TCMU devices whose
 * config string is "ram/<label>" from memory. It registers the "ram"
 * subtype with the daemon over DBus (HandlerManager1.RegisterHandler), so
 * targetcli lists user:ram and the daemon forwards CheckConfig here and
 * leaves ram devices alone. When this process exits, the subtype
 * disappears from the bus.
 *
 * Two ways to be asked CheckConfig, both accepted by the daemon:
 *   (default)      on this connection at /org/kernel/TCMUService1/ram;
 *   --established  as the established libtcmu-register protocol does: own
 *                  org.kernel.TCMUService1.HandlerManager1.ram and serve
 *                  /org/kernel/TCMUService1/HandlerManager1/ram.
 * Either needs root: the bus policy gives the names to root alone.
 *
 * Single-threaded on purpose, to stay small: one GLib main loop watches
 * the netlink socket and every device's UIO fd. It answers just enough
 * SCSI for Linux to use the disk; anything else gets INVALID COMMAND
 * OPERATION CODE. Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>

#include "../dbus_gen.h"
#include "../libtcmu.h"
#include "../scsi_defs.h"
#include "../scsi_sense.h"

#define SUBTYPE "ram"
#define BLOCK 512

struct ramdisk {
	struct tcmu_dev_info info;
	int fd;
	void *map;
	size_t map_size;
	struct tcmu_ring *ring;
	uint8_t *data;
	uint64_t size;
	guint src;
};

struct app {
	GMainLoop *loop;
	struct tcmu_nl *nl;
	GHashTable *disks;		/* uio minor -> struct ramdisk */
	GDBusConnection *conn;
	TcmuTCMUService1 *iface;
};

static uint8_t check(struct tcmu_cmd *cmd, uint8_t key, uint16_t asc)
{
	scsi_sense_fixed(cmd->sense, key, asc);
	return SAM_STAT_CHECK_CONDITION;
}

static size_t copy_in(struct tcmu_cmd *cmd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	for (size_t i = 0; i < cmd->iov_cnt && done < len; i++) {
		size_t n = cmd->iov[i].iov_len < len - done ? cmd->iov[i].iov_len : len - done;

		memcpy(cmd->iov[i].iov_base, p + done, n);
		done += n;
	}
	return done;
}

static uint8_t rw(struct ramdisk *rd, struct tcmu_cmd *cmd, uint64_t lba, uint64_t n,
		  bool write)
{
	uint64_t off = lba * BLOCK, len = n * BLOCK, done = 0;

	if (lba > rd->size / BLOCK || n > rd->size / BLOCK - lba)
		return check(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	for (size_t i = 0; i < cmd->iov_cnt && done < len; i++) {
		size_t k = cmd->iov[i].iov_len < len - done ? cmd->iov[i].iov_len : len - done;

		if (write)
			memcpy(rd->data + off + done, cmd->iov[i].iov_base, k);
		else
			memcpy(cmd->iov[i].iov_base, rd->data + off + done, k);
		done += k;
	}
	return SAM_STAT_GOOD;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

static uint8_t inquiry(struct tcmu_cmd *cmd)
{
	uint8_t buf[36] = { 0, 0, 6, 2, 31, 0, 0, 2 };

	if (cmd->cdb[1] & 1) {
		uint8_t vpd0[5] = { 0, 0, 0, 1, 0 };

		if (cmd->cdb[2])
			return check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		copy_in(cmd, vpd0, sizeof(vpd0));
		return SAM_STAT_GOOD;
	}
	memcpy(buf + 8, "EXAMPLE RAM DISK        0001", 28);
	copy_in(cmd, buf, sizeof(buf));
	return SAM_STAT_GOOD;
}

static uint8_t scsi(struct ramdisk *rd, struct tcmu_cmd *cmd)
{
	const uint8_t *c = cmd->cdb;
	uint64_t last = rd->size / BLOCK - 1;
	uint8_t buf[32] = { 0 };

	switch (c[0]) {
	case TEST_UNIT_READY:
	case SYNCHRONIZE_CACHE_10:
		return SAM_STAT_GOOD;
	case INQUIRY:
		return inquiry(cmd);
	case READ_CAPACITY_10:
		for (int i = 0; i < 4; i++)
			buf[i] = (last > 0xffffffff ? 0xffffffff : last) >> (24 - 8 * i);
		buf[6] = BLOCK >> 8;
		copy_in(cmd, buf, 8);
		return SAM_STAT_GOOD;
	case SERVICE_ACTION_IN_16:
		if ((c[1] & 0x1f) != SAI_READ_CAPACITY_16)
			break;
		for (int i = 0; i < 8; i++)
			buf[i] = last >> (56 - 8 * i);
		buf[10] = BLOCK >> 8;
		copy_in(cmd, buf, 32);
		return SAM_STAT_GOOD;
	case MODE_SENSE_6:
		buf[0] = 3;
		copy_in(cmd, buf, 4);
		return SAM_STAT_GOOD;
	case READ_10:
	case WRITE_10:
		return rw(rd, cmd, be(c + 2, 4), be(c + 7, 2), c[0] == WRITE_10);
	case READ_16:
	case WRITE_16:
		return rw(rd, cmd, be(c + 2, 8), be(c + 10, 4), c[0] == WRITE_16);
	}
	return check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPERATION_CODE);
}

static gboolean on_uio(gint fd, GIOCondition cond, gpointer data)
{
	struct ramdisk *rd = data;
	struct tcmu_cmd *cmd;
	uint32_t count;

	(void)cond;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return G_SOURCE_REMOVE;
	while ((cmd = tcmu_ring_next(rd->ring, NULL, NULL)))
		tcmu_ring_complete(rd->ring, cmd, scsi(rd, cmd));
	tcmu_ring_kick(rd->ring);
	return G_SOURCE_CONTINUE;
}

static void ramdisk_free(gpointer p)
{
	struct ramdisk *rd = p;

	if (rd->src)
		g_source_remove(rd->src);
	tcmu_ring_free(rd->ring);
	tcmu_uio_close(rd->fd, rd->map, rd->map_size);
	free(rd->data);
	g_free(rd);
}

static int ring_open(void *opaque)
{
	struct ramdisk *rd = opaque;

	return tcmu_ring_new(&rd->ring, rd->fd, rd->map, rd->map_size, 0, NULL,
			     rd->info.name);
}

/* Serve a ram device; @recover: found at start, where a previous run of
 * ours may have left commands in its ring (tcmu_recover_dev resets it). */
static int ram_add(struct app *app, const struct tcmu_dev_info *info, bool recover)
{
	struct ramdisk *rd;
	int err;

	if (strcmp(info->subtype, SUBTYPE))
		return TCMU_NL_NOT_MINE;
	rd = g_new0(struct ramdisk, 1);
	rd->info = *info;
	if (tcmu_cfgfs_read_u64(info, NULL, "attrib/dev_size", &rd->size) || !rd->size) {
		fprintf(stderr, "ram %s: no dev_size in configfs\n", info->name);
		g_free(rd);
		return -EINVAL;
	}
	rd->data = calloc(1, rd->size);
	if (!rd->data) {
		g_free(rd);
		return -ENOMEM;
	}
	err = tcmu_uio_open(NULL, info->uio_minor, &rd->fd, &rd->map, &rd->map_size, NULL,
			    info->name);
	if (!err && recover)
		err = tcmu_recover_dev(info, NULL, rd->map, rd->map_size, ring_open, rd, NULL);
	else if (!err)
		err = ring_open(rd);
	if (err) {
		if (rd->map)
			tcmu_uio_close(rd->fd, rd->map, rd->map_size);
		free(rd->data);
		g_free(rd);
		return err;
	}
	rd->src = g_unix_fd_add(rd->fd, G_IO_IN, on_uio, rd);
	g_hash_table_insert(app->disks, GUINT_TO_POINTER(info->uio_minor), rd);
	printf("ram: serving %s (uio%u), %llu bytes\n", info->name, info->uio_minor,
	       (unsigned long long)rd->size);
	fflush(stdout);
	return 0;
}

static int dev_added(void *opaque, const struct tcmu_dev_info *info)
{
	return ram_add(opaque, info, false);
}

static int dev_removed(void *opaque, const struct tcmu_dev_info *info)
{
	struct app *app = opaque;

	if (strcmp(info->subtype, SUBTYPE))
		return TCMU_NL_NOT_MINE;
	g_hash_table_remove(app->disks, GUINT_TO_POINTER(info->uio_minor));
	printf("ram: removed %s\n", info->name);
	fflush(stdout);
	return 0;
}

static int dev_reconfig(void *opaque, const struct tcmu_dev_info *info,
			const struct tcmu_reconfig *rc)
{
	(void)opaque;
	(void)rc;
	return strcmp(info->subtype, SUBTYPE) ? TCMU_NL_NOT_MINE : -EOPNOTSUPP;
}

static const struct tcmu_nl_ops nl_ops = {
	.added = dev_added,
	.removed = dev_removed,
	.reconfig = dev_reconfig,
};

static gboolean on_check_config(TcmuTCMUService1 *iface, GDBusMethodInvocation *inv,
				const gchar *config, gpointer data)
{
	bool ok = !strncmp(config, SUBTYPE "/", 4) && !strchr(config + 4, '/');

	(void)data;
	tcmu_tcmuservice1_complete_check_config(iface, inv, ok,
						ok ? "success" : "want ram/<label>");
	return TRUE;
}

static int scan_one(void *opaque, const struct tcmu_dev_info *info)
{
	ram_add(opaque, info, true);
	return 0;
}

static gboolean on_netlink(gint fd, GIOCondition cond, gpointer data)
{
	struct app *app = data;

	(void)fd;
	(void)cond;
	tcmu_nl_dispatch(app->nl);
	return G_SOURCE_CONTINUE;
}

static gboolean on_stop(gpointer data)
{
	g_main_loop_quit(((struct app *)data)->loop);
	return G_SOURCE_REMOVE;
}

/* The established protocol's well-known name, owned before registering. */
static int own_handler_name(struct app *app, GError **error)
{
	GVariant *ret = g_dbus_connection_call_sync(
		app->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus", "RequestName",
		g_variant_new("(su)", "org.kernel.TCMUService1.HandlerManager1." SUBTYPE,
			      0x4 /* DBUS_NAME_FLAG_DO_NOT_QUEUE */),
		G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
	guint32 reply;

	if (!ret)
		return -1;
	g_variant_get(ret, "(u)", &reply);
	g_variant_unref(ret);
	if (reply != 1 /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER */) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "handler name is taken");
		return -1;
	}
	return 0;
}

static int register_with_daemon(struct app *app, bool established)
{
	const char *path = established ? "/org/kernel/TCMUService1/HandlerManager1/" SUBTYPE
				       : "/org/kernel/TCMUService1/" SUBTYPE;
	GError *error = NULL;
	GVariant *ret;
	gboolean ok;
	const char *msg;

	app->conn = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
	if (!app->conn)
		goto fail;
	app->iface = tcmu_tcmuservice1_skeleton_new();
	g_signal_connect(app->iface, "handle-check-config", G_CALLBACK(on_check_config), app);
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(app->iface), app->conn,
					      path, &error))
		goto fail;
	if (established && own_handler_name(app, &error))
		goto fail;
	ret = g_dbus_connection_call_sync(app->conn, "org.kernel.TCMUService1",
					  "/org/kernel/TCMUService1/HandlerManager1",
					  "org.kernel.TCMUService1.HandlerManager1",
					  "RegisterHandler",
					  g_variant_new("(ss)", SUBTYPE,
							"ram/<label>: a RAM disk, served "
							"by ext_handler_ram"),
					  G_VARIANT_TYPE("(bs)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
					  &error);
	if (!ret)
		goto fail;
	g_variant_get(ret, "(b&s)", &ok, &msg);
	if (!ok)
		fprintf(stderr, "ram: daemon refused registration: %s\n", msg);
	g_variant_unref(ret);
	return ok ? 0 : -1;
fail:
	fprintf(stderr, "ram: register with tcmu-runner: %s\n", error->message);
	g_error_free(error);
	return -1;
}

int main(int argc, char **argv)
{
	struct app app = { 0 };
	bool established = argc > 1 && !strcmp(argv[1], "--established");
	int err;

	if (argc > 2 || (argc == 2 && !established)) {
		fprintf(stderr, "usage: %s [--established]\n", argv[0]);
		return 2;
	}
	app.loop = g_main_loop_new(NULL, FALSE);
	app.disks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, ramdisk_free);
	if (register_with_daemon(&app, established))
		return 1;
	err = tcmu_nl_new(&app.nl, &nl_ops, &app, NULL);
	if (err) {
		fprintf(stderr, "ram: netlink: %s\n", strerror(-err));
		return 1;
	}
	tcmu_uio_scan(NULL, scan_one, &app);
	g_unix_fd_add(tcmu_nl_fd(app.nl), G_IO_IN, on_netlink, &app);
	g_unix_signal_add(SIGTERM, on_stop, &app);
	g_unix_signal_add(SIGINT, on_stop, &app);
	printf("ram: registered subtype %s\n", SUBTYPE);
	fflush(stdout);
	g_main_loop_run(app.loop);
	g_hash_table_destroy(app.disks);
	tcmu_nl_free(app.nl);
	g_object_unref(app.iface);
	g_object_unref(app.conn);
	g_main_loop_unref(app.loop);
	return 0;
}
