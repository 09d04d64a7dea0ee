/*
 * --devices (dev_filter.h): which devices a daemon serves, so that a
 * second daemon can serve one device of the same kernel. The patterns;
 * and the daemon's netlink callbacks (daemon_devices.c): a device that is
 * not ours is TCMU_NL_NOT_MINE for ADDED, REMOVED and RECONFIG (no reply
 * to the kernel: the daemon serving it answers) and its /dev/uioN is
 * never touched, while one of ours is served (here: its uio, which does
 * not exist, is looked for) or refused with a reply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log_capture.h"
#include "unit_test.h"

/* handler_file.c's table, linked in. */
extern const struct tcmur_handler tcmur_handler_entry;

/* A minor no test machine has: /sys/class/uio/uio4000 is looked for. */
#define NO_MINOR 4000

static void test_dev_filter_patterns(void **state)
{
	struct dev_filter f;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dev_filter_parse(&f, NULL, &why), 0);
	assert_true(dev_filter_match(&f, "anything"));
	assert_int_equal(dev_filter_parse(&f, "gw2", &why), 0);
	assert_true(dev_filter_match(&f, "gw2"));
	assert_false(dev_filter_match(&f, "lun"));
	assert_false(dev_filter_match(&f, "gw22"));
	assert_int_equal(dev_filter_parse(&f, "!gw2", &why), 0);
	assert_false(dev_filter_match(&f, "gw2"));
	assert_true(dev_filter_match(&f, "lun"));
	assert_int_equal(dev_filter_parse(&f, "gw*,!gw2,disk[0-9]", &why), 0);
	assert_true(dev_filter_match(&f, "gw1"));
	assert_false(dev_filter_match(&f, "gw2"));
	assert_true(dev_filter_match(&f, "disk7"));
	assert_false(dev_filter_match(&f, "lun"));
	assert_int_equal(dev_filter_parse(&f, "a,,b", &why), -EINVAL);
	print_message("\"a,,b\": %s\n", why);
	assert_int_equal(dev_filter_parse(&f, "!", &why), -EINVAL);
	assert_int_equal(dev_filter_parse(&f, "a,", &why), -EINVAL);
	assert_int_equal(f.n, 0);		/* a refused list serves all */
}

struct daemon_fx {
	struct tcmur_daemon d;
	struct log_capture lc;
	struct handler file;
	struct handler *items[1];
};

static void fx_new(struct daemon_fx *fx, const char *devices)
{
	const char *why = NULL;

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(log_capture_new(&fx->lc), 0);
	fx->d.log = fx->lc.log;
	fx->d.logger = log_as_tcmu_logger(&fx->d.log);
	daemon_dev_init(&fx->d);
	fx->file.ops = tcmur_handler_entry;
	fx->items[0] = &fx->file;
	fx->d.handlers.items = fx->items;
	fx->d.handlers.count = 1;
	assert_int_equal(dev_filter_parse(&fx->d.filter, devices, &why), 0);
}

static void fx_free(struct daemon_fx *fx)
{
	daemon_dev_fini(&fx->d);
	log_capture_free(&fx->lc);
}

static struct tcmu_dev_info dev_info(const char *name)
{
	struct tcmu_dev_info info = { .uio_minor = NO_MINOR, .device_id = 7 };

	snprintf(info.name, sizeof(info.name), "%s", name);
	snprintf(info.config, sizeof(info.config), "file//var/lib/%s.img", name);
	snprintf(info.subtype, sizeof(info.subtype), "file");
	info.cfg_off = 5;
	return info;
}

/* The second daemon's counterpart: "!gw2" leaves gw2 alone entirely. */
static void test_daemon_leaves_other_daemons_device(void **state)
{
	struct tcmu_reconfig rc = { 0 };
	struct tcmu_dev_info gw2 = dev_info("gw2"), lun = dev_info("lun");
	struct daemon_fx fx;
	int ret;

	(void)state;
	fx_new(&fx, "!gw2");
	assert_int_equal(daemon_nl_ops.added(&fx.d, &gw2), TCMU_NL_NOT_MINE);
	assert_int_equal(daemon_nl_ops.reconfig(&fx.d, &gw2, &rc), TCMU_NL_NOT_MINE);
	assert_int_equal(daemon_nl_ops.removed(&fx.d, &gw2), TCMU_NL_NOT_MINE);
	/* Its uio was never looked for, and nothing was refused. */
	assert_int_equal(log_capture_count(&fx.lc, "uio4000/maps"), 0);
	assert_int_equal(log_capture_count(&fx.lc, "refused"), 0);
	assert_int_equal(log_capture_count(&fx.lc, "not in --devices"), 1);
	/* Ours: served (its uio is looked for; here it does not exist, so
	 * the kernel is answered with the error), and events answered. */
	ret = daemon_nl_ops.added(&fx.d, &lun);
	print_message("ADDED lun: %d (%s)\n", ret, strerror(-ret));
	assert_int_equal(ret, -ENOENT);
	assert_int_equal(log_capture_count(&fx.lc, "uio4000/maps"), 1);
	assert_int_equal(daemon_nl_ops.reconfig(&fx.d, &lun, &rc), -ENODEV);
	assert_int_equal(daemon_nl_ops.removed(&fx.d, &lun), 0);
	fx_free(&fx);
}

/* And the second daemon, "gw2": only gw2 is its own. */
static void test_daemon_serves_only_its_devices(void **state)
{
	struct tcmu_dev_info gw2 = dev_info("gw2"), lun = dev_info("lun");
	struct daemon_fx fx;

	(void)state;
	fx_new(&fx, "gw2");
	assert_int_equal(daemon_nl_ops.added(&fx.d, &lun), TCMU_NL_NOT_MINE);
	assert_int_equal(daemon_nl_ops.removed(&fx.d, &lun), TCMU_NL_NOT_MINE);
	assert_int_equal(log_capture_count(&fx.lc, "uio4000/maps"), 0);
	assert_int_equal(daemon_nl_ops.added(&fx.d, &gw2), -ENOENT);
	assert_int_equal(log_capture_count(&fx.lc, "uio4000/maps"), 1);
	fx_free(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_filter_patterns),
		cmocka_unit_test(test_daemon_leaves_other_daemons_device),
		cmocka_unit_test(test_daemon_serves_only_its_devices),
	};

	return cmocka_run_group_tests_name("daemon --devices", tests, NULL, NULL);
}
