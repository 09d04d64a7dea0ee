/*
 * tcmu-runner: serves LIO TCM-User devices through handler plugins.
 *
 * The main thread runs a GLib main loop with four sources: the netlink
 * socket (devices added, removed, reconfigured), the system bus, a
 * signalfd (SIGTERM/SIGINT stop the daemon, SIGHUP reads the
 * configuration again) and a watch on the configuration file
 * (config_live.h). Each device has its own thread for its ring
 * (device.c). `tcmu-runner --status` is a client of a running daemon
 * instead (status_cmd.h).
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <glib-unix.h>

#include "daemon.h"
#include "dbus_service.h"
#include "fd_limit.h"
#include "log_sink.h"
#include "module_load.h"
#include "status_cmd.h"

#ifndef TCMUR_VERSION
#define TCMUR_VERSION "0.1.0"
#endif
#ifndef DEFAULT_HANDLER_PATH
#define DEFAULT_HANDLER_PATH "/usr/lib/tcmu-runner"
#endif

struct options {
	const char *handler_path;
	const char *config_path;
	bool debug;
	bool no_dbus;
	bool no_modprobe;
	bool status;
	bool json;
	const char *devices;	/* --devices: dev_filter.h */
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s [OPTIONS]\n"
		"Serve LIO TCM-User (target_core_user) devices through handler plugins.\n\n"
		"  --handler-path DIR  load handler_<subtype>.so plugins from DIR\n"
		"                      (default " DEFAULT_HANDLER_PATH ")\n"
		"  --config PATH       read settings from PATH\n"
		"                      (default " CONFIG_DEFAULT_PATH ")\n"
		"  -d, --debug         log debug messages too\n"
		"  --no-dbus           do not publish org.kernel.TCMUService1\n"
		"  --no-modprobe       do not load target_core_user when it is missing\n"
		"  --devices GLOB[,GLOB...]\n"
		"                      serve only the devices whose configfs name matches\n"
		"                      a GLOB and no !GLOB; leave the others, their netlink\n"
		"                      events and rings, to another daemon (default: all)\n"
		"  --status [--json]   show a running daemon's handlers, devices and their\n"
		"                      I/O statistics (over the system bus), and exit\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n",
		prog);
}

/* Returns -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "handler-path", required_argument, NULL, 'H' },
		{ "config", required_argument, NULL, 'C' },
		{ "status", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'J' },
		{ "debug", no_argument, NULL, 'd' },
		{ "no-dbus", no_argument, NULL, 'N' },
		{ "no-modprobe", no_argument, NULL, 'M' },
		{ "devices", required_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->handler_path = DEFAULT_HANDLER_PATH;
	o->config_path = CONFIG_DEFAULT_PATH;
	while ((c = getopt_long(argc, argv, "dVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			o->handler_path = optarg;
			break;
		case 'C':
			o->config_path = optarg;
			break;
		case 'S':
			o->status = true;
			break;
		case 'J':
			o->json = true;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'N':
			o->no_dbus = true;
			break;
		case 'M':
			o->no_modprobe = true;
			break;
		case 'D':
			o->devices = optarg;
			break;
		case 'V':
			printf("tcmu-runner %s (handler API %d.%d)\n", TCMUR_VERSION,
			       TCMUR_HANDLER_API_MAJOR, TCMUR_HANDLER_API_MINOR);
			return 0;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (o->json && !o->status) {
		fprintf(stderr, "%s: --json goes with --status\n", argv[0]);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
		usage(stderr, argv[0]);
		return 2;
	}
	return -1;
}

static gboolean on_netlink(gint fd, GIOCondition cond, gpointer data)
{
	struct tcmur_daemon *d = data;

	(void)fd;
	if (cond & (G_IO_ERR | G_IO_HUP)) {
		log_err(&d->log, NULL, "netlink socket failed; exiting");
		d->exit_code = 1;
		g_main_loop_quit(d->loop);
		return G_SOURCE_REMOVE;
	}
	tcmu_nl_dispatch(d->nl);
	return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gint fd, GIOCondition cond, gpointer data)
{
	struct tcmur_daemon *d = data;
	struct signalfd_siginfo si;

	(void)cond;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return G_SOURCE_CONTINUE;
	if (si.ssi_signo == SIGHUP) {
		config_live_reload(&d->config, "SIGHUP");
		return G_SOURCE_CONTINUE;
	}
	log_info(&d->log, NULL, "signal %s: shutting down", strsignal(si.ssi_signo));
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

/* Block our signals in every thread and read them from a signalfd. */
static int signals_setup(const struct log_cfg *log)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		log_err(log, NULL, "signalfd: %s", strerror(errno));
	return fd;
}

/* Listen for device events. Events a daemon that died left the kernel
 * waiting on are failed first, with new ones held off (EAGAIN) until we
 * listen: none is then sent to nobody (recover.c). */
static int netlink_setup(struct tcmur_daemon *d, bool modprobe)
{
	bool blocked = !tcmu_recover_netlink_block(NULL, &d->logger);
	int err = tcmu_nl_new(&d->nl, &daemon_nl_ops, d, &d->logger);

	if (err == -ENOENT && modprobe && module_load("target_core_user", &d->log) == 0)
		err = tcmu_nl_new(&d->nl, &daemon_nl_ops, d, &d->logger);
	if (blocked)
		tcmu_recover_netlink_unblock(NULL, &d->logger);
	if (err)
		log_err(&d->log, NULL, "cannot listen for TCMU devices: %s", strerror(-err));
	return err;
}

static int run(struct tcmur_daemon *d, const struct options *o)
{
	int sfd, loaded, found;
	guint nl_src, sig_src;

	sfd = signals_setup(&d->log);
	if (sfd < 0) {
		daemon_free_base(d);
		return 1;
	}
	loaded = handler_set_load_dir(&d->handlers, o->handler_path, &d->log);
	if (loaded < 0)
		goto out_sfd;
	/* The bus first: a daemon that may not serve it touches no device. */
	if (!o->no_dbus && dbus_service_new(&d->dbus, d))
		goto out_handlers;
	if (netlink_setup(d, !o->no_modprobe))
		goto out_dbus;
	d->loop = g_main_loop_new(NULL, FALSE);
	found = daemon_dev_scan(d);
	log_info(&d->log, NULL, "tcmu-runner %s: %d handlers from %s, %d devices",
		 TCMUR_VERSION, loaded, o->handler_path, found);
	if (o->devices)
		log_info(&d->log, NULL, "serving only devices named --devices %s", o->devices);
	nl_src = g_unix_fd_add(tcmu_nl_fd(d->nl), G_IO_IN | G_IO_ERR | G_IO_HUP,
			       on_netlink, d);
	sig_src = g_unix_fd_add(sfd, G_IO_IN, on_signal, d);
	g_main_loop_run(d->loop);

	g_source_remove(sig_src);
	g_source_remove(nl_src);
	close(sfd);
	/* Commands a handler never gave back: leave without unloading it
	 * (exit() would run its destructors under the device's thread). */
	if (!daemon_stop(d, DAEMON_EXIT_WAIT_MS)) {
		log_sink_sync(d->config.sink, 1000);	/* what it said, if it can */
		_exit(d->exit_code);
	}
	return d->exit_code;

out_dbus:
	dbus_service_free(d->dbus);
out_handlers:
	handler_set_clear(&d->handlers);
out_sfd:
	close(sfd);
	daemon_free_base(d);
	return 1;
}

int main(int argc, char **argv)
{
	struct tcmur_daemon d = { 0 };
	struct options o = { 0 };
	const char *why = NULL;
	int ret;

	ret = parse_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	if (o.status)
		return status_cmd_run(o.json);
	if (dev_filter_parse(&d.filter, o.devices, &why)) {
		fprintf(stderr, "%s: --devices %s: %s\n", argv[0], o.devices, why);
		return 2;
	}
	log_init(&d.log, o.debug);
	if (config_live_start(&d.config, o.config_path, o.debug, &d.log, true) < 0)
		return 1;
	d.logger = log_as_tcmu_logger(&d.log);
	fd_limit_raise(&d.log);		/* before any device: logged */
	d.handler_path = o.handler_path;
	daemon_dev_init(&d);
	return run(&d, &o);
}
