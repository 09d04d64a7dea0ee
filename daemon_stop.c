/*
 * The daemon's end, in one order (main.c calls it once its loop has
 * quit; a test calls it as main does): stop answering the kernel, close
 * every device, then the bus, netlink, the handler plugins, and last the
 * tables main() made and the log sink.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include "daemon.h"
#include "dbus_service.h"

void daemon_free_base(struct tcmur_daemon *d)
{
	dev_registry_destroy(&d->registry);
	if (d->devices)
		g_hash_table_destroy(d->devices);
	d->devices = NULL;
	config_live_stop(&d->config);
}

bool daemon_stop(struct tcmur_daemon *d, int wait_ms)
{
	(void)wait_ms;
	/* First, so that no device enabled from now on waits for us. */
	if (d->nl)
		tcmu_nl_stop_replies(d->nl);
	daemon_dev_close_all(d);
	dbus_service_free(d->dbus);
	d->dbus = NULL;
	if (d->loop)
		g_main_loop_unref(d->loop);
	d->loop = NULL;
	tcmu_nl_free(d->nl);
	d->nl = NULL;
	handler_set_clear(&d->handlers);
	log_info(&d->log, NULL, "stopped");
	daemon_free_base(d);
	return true;
}
