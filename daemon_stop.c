/*
 * The daemon's end, in one order (main.c calls it once its loop has
 * quit; a test calls it as main does): stop answering the kernel, close
 * every device, then the bus, netlink, the handler plugins, and last the
 * tables main() made and the log sink.
 *
 * A device whose handler still holds a command (a backend that hangs)
 * answers its removal at once and is freed later by a thread of its own
 * (device.h, dev_free), which then still calls the handler (close) and
 * logs. Unloading the plugin or freeing the log sink before would be a
 * use after free, so they wait for it, DAEMON_EXIT_WAIT_MS at most; past
 * that the daemon says so and leaves with both in place (_exit: no
 * library destructor runs under that thread). The kernel fails the
 * abandoned commands at its cmd_time_out, and the next daemon resets
 * the ring (recover.c).
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "daemon.h"
#include "dbus_service.h"

void daemon_free_base(struct tcmur_daemon *d)
{
	daemon_dev_fini(d);
	config_live_stop(&d->config);
}

/* Up to @wait_ms for the devices that free themselves; true if none is left. */
static bool wait_reaped(struct tcmur_daemon *d, int wait_ms)
{
	for (int waited = 0; daemon_dev_reaping(d) && waited < wait_ms; waited += 10)
		usleep(10 * 1000);
	return !daemon_dev_reaping(d);
}

bool daemon_stop(struct tcmur_daemon *d, int wait_ms)
{
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
	if (!wait_reaped(d, wait_ms)) {
		log_err(&d->log, NULL, "%u devices still have commands with their handler "
			"after %d ms: their handlers stay loaded and the log open; the kernel "
			"fails those commands at its cmd_time_out", daemon_dev_reaping(d), wait_ms);
		return false;
	}
	handler_set_clear(&d->handlers);
	log_info(&d->log, NULL, "stopped");
	daemon_free_base(d);
	return true;
}
