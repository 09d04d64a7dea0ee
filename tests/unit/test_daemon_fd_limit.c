/*
 * The daemon's open-file limit (fd_limit.h).
 *
 * At start the daemon takes its hard RLIMIT_NOFILE as its soft one and
 * says which limit it has: checked with the soft limit lowered first.
 *
 * A device that cannot be opened for want of a descriptor is refused
 * with one line that names the device, the limit and what to raise, and
 * leaves nothing open behind it. The test lowers the soft limit so that
 * k more descriptors can be opened, k = 0, 1, 2, ... and adds a device
 * each time (daemon_dev_add, its /dev/uioN a dup of a ring simulator's
 * descriptor, as tcmu_uio_open gives one), until it is served: every
 * step of opening a device meets EMFILE once. The limit is put back
 * before anything is asserted, so a failure leaves the process as it
 * was. Then the descriptors the served device holds are counted, per
 * handler: the memory handler (nothing of its own) and the file handler
 * (its backing file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon.h"
#include "fake_cfgfs.h"
#include "fd_limit.h"
#include "log_capture.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define FX_MINOR 7
/* Descriptors probed when counting (the tests open far fewer). */
#define FD_PROBE 4096

/* handler_file.c's table, linked in. */
extern const struct tcmur_handler tcmur_handler_entry;

/* How many descriptors this process has open; opens none to find out. */
static int fds_open(void)
{
	int n = 0;

	for (int fd = 0; fd < FD_PROBE; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* The soft limit under which exactly @k more descriptors can be opened:
 * the number of the (@k + 1)th free one (a new descriptor takes the
 * lowest free number, and must be below the limit). */
static rlim_t limit_leaving(int k)
{
	for (int fd = 0; fd < FD_PROBE; fd++)
		if (fcntl(fd, F_GETFD) < 0 && k-- == 0)
			return fd;
	fail_msg("more than %d descriptors open", FD_PROBE);
	return 0;
}

struct fx {
	struct tcmur_daemon d;
	struct log_capture lc;
	struct fake_cfgfs fc;
	struct handler mem, file;
	struct handler *items[2];
	struct ring_sim *sim;
	char img[64];
};

/* The daemon's uio_open: the simulator's descriptor duplicated and its
 * pages mapped again, owned by the device once served, as a /dev/uioN
 * and its map are (tcmu_uio_open: one descriptor). */
static int fx_uio_open(void *opaque, const struct tcmu_dev_info *info, int *fd,
		       void **map, size_t *map_size)
{
	struct ring_sim *sim = opaque;
	int err;

	(void)info;
	*fd = fcntl(ring_sim_fd(sim), F_DUPFD_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	*map_size = ring_sim_map_size(sim);
	*map = mremap(ring_sim_map(sim), 0, *map_size, MREMAP_MAYMOVE);
	if (*map == MAP_FAILED) {
		err = -errno;
		close(*fd);
		return err;
	}
	return 0;
}

static void fx_new(struct fx *fx)
{
	int fd;

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(log_capture_new(&fx->lc), 0);
	fx->d.log = fx->lc.log;
	fx->d.logger = log_as_tcmu_logger(&fx->d.log);
	daemon_dev_init(&fx->d);
	fx->mem.ops = mem_handler_ops;
	fx->file.ops = tcmur_handler_entry;
	fx->items[0] = &fx->mem;
	fx->items[1] = &fx->file;
	fx->d.handlers.items = fx->items;
	fx->d.handlers.count = 2;
	assert_int_equal(fake_cfgfs_new(&fx->fc, 3, "lun"), 0);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "attrib/dev_size", "1048576"), 0);
	fx->d.cfgfs_root = fx->fc.root;
	assert_int_equal(ring_sim_new(&fx->sim, NULL), 0);
	fx->d.uio_open = fx_uio_open;
	fx->d.uio_opaque = fx->sim;
	snprintf(fx->img, sizeof(fx->img), "/tmp/tcmu-fdlimit-XXXXXX");
	fd = mkstemp(fx->img);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
}

static void fx_free(struct fx *fx)
{
	daemon_dev_close_all(&fx->d);
	for (int i = 0; i < 500 && daemon_dev_reaping(&fx->d); i++)
		usleep(10000);
	assert_int_equal(daemon_dev_reaping(&fx->d), 0);
	daemon_dev_fini(&fx->d);
	ring_sim_free(fx->sim);
	fake_cfgfs_free(&fx->fc);
	unlink(fx->img);
	log_capture_free(&fx->lc);
}

/* Refused at soft limit @limit, the @nth refusal: one line more that
 * names the device and the limit and says what to raise; the bare
 * "refused device uioN: Too many open files" of old is not there. */
static void check_refusal_line(struct fx *fx, rlim_t limit, unsigned int nth)
{
	char needle[64], *line;

	snprintf(needle, sizeof(needle), "may have %llu open files",
		 (unsigned long long)limit);
	line = log_capture_line(&fx->lc, needle);
	print_message("  log: %s\n", line ? line : "(no line naming the limit)");
	assert_non_null(line);
	assert_non_null(strstr(line, "[lun]"));
	assert_non_null(strstr(line, "uio7"));
	assert_non_null(strstr(line, "raise LimitNOFILE"));
	free(line);
	assert_int_equal(log_capture_count(&fx->lc, "raise LimitNOFILE"), nth);
	assert_int_equal(log_capture_count(&fx->lc, "refused device uio7"), 0);
}

/*
 * Add device "lun" with @config ("<subtype>/<cfg>") with the soft limit
 * leaving k = 0, 1, ... descriptors free until it is served; each
 * refusal checked. Returns how many descriptors opening it needed.
 */
static int serve_at_the_limit(struct fx *fx, const char *config)
{
	struct tcmu_dev_info info = { 0 };
	int before = fds_open();
	struct rlimit saved, low;
	char name[256];

	snprintf(name, sizeof(name), "tcm-user/3/lun/%s", config);
	assert_int_equal(tcmu_dev_info_parse(&info, name), 0);
	info.uio_minor = FX_MINOR;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	for (int k = 0; k < 16; k++) {
		int err;

		low = saved;
		low.rlim_cur = limit_leaving(k);
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
		err = daemon_dev_add(&fx->d, &info, false);
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
		print_message("%s, %d descriptors free: %s\n", config, k,
			      err ? strerror(-err) : "served");
		if (!err)
			return k;
		assert_int_equal(err, -EMFILE);
		check_refusal_line(fx, low.rlim_cur, k + 1);
		/* Nothing of the refused device stays open or held. */
		assert_int_equal(fds_open(), before);
		assert_int_equal(g_hash_table_size(fx->d.devices), 0);
	}
	fail_msg("%s not served with 15 descriptors free", config);
	return -1;
}

/* Refused with the line at every step short of what it needs; once
 * served, it holds @want_held descriptors, and none once closed. */
static void served_at_the_limit(const char *subtype, int want_held)
{
	char config[128];
	int before, needed, held;
	struct fx fx;

	fx_new(&fx);
	snprintf(config, sizeof(config), "%s/%s", subtype,
		 strcmp(subtype, "file") ? "" : fx.img);
	before = fds_open();
	needed = serve_at_the_limit(&fx, config);
	held = fds_open() - before;
	print_message("%s: opening it took %d descriptors, serving it holds %d\n",
		      subtype, needed, held);
	assert_non_null(g_hash_table_lookup(fx.d.devices, GUINT_TO_POINTER(FX_MINOR)));
	assert_int_equal(held, want_held);
	daemon_dev_close_all(&fx.d);
	for (int i = 0; i < 500 && daemon_dev_reaping(&fx.d); i++)
		usleep(10000);
	assert_int_equal(fds_open(), before);
	fx_free(&fx);
}

/* The memory handler keeps nothing open: only the device's own (its
 * /dev/uioN and the eventfd that stops its thread). */
static void test_mem_device_refused_at_the_limit_with_its_reason(void **state)
{
	(void)state;
	served_at_the_limit("mem", 2);
}

/* The file handler keeps its backing file open besides. */
static void test_file_device_refused_at_the_limit_with_its_reason(void **state)
{
	(void)state;
	served_at_the_limit("file", 3);
}

/* The soft limit lowered, then raised to the hard one, with a line that
 * says so; raised already, the line says the limit. */
static void test_raise_takes_the_hard_limit(void **state)
{
	struct rlimit saved, low, now;
	struct log_capture lc;
	char needle[96], *line;
	int err;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	if (saved.rlim_max < 128)
		skip();
	assert_int_equal(log_capture_new(&lc), 0);
	low = saved;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	err = fd_limit_raise(&lc.log);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	print_message("soft 64, hard %llu: raise %s, soft now %llu\n",
		      (unsigned long long)saved.rlim_max, strerror(-err),
		      (unsigned long long)now.rlim_cur);
	assert_int_equal(err, 0);
	assert_int_equal(now.rlim_cur, saved.rlim_max);
	snprintf(needle, sizeof(needle), "open files: up to %llu",
		 (unsigned long long)saved.rlim_max);
	line = log_capture_line(&lc, needle);
	print_message("  log: %s\n", line ? line : "(no line)");
	assert_non_null(line);
	assert_non_null(strstr(line, "raised from 64"));
	free(line);

	/* At the hard limit already: the limit, nothing raised. */
	low.rlim_cur = saved.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	err = fd_limit_raise(&lc.log);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_int_equal(err, 0);
	assert_int_equal(log_capture_count(&lc, needle), 2);
	assert_int_equal(log_capture_count(&lc, "raised from"), 1);
	log_capture_free(&lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raise_takes_the_hard_limit),
		cmocka_unit_test(test_mem_device_refused_at_the_limit_with_its_reason),
		cmocka_unit_test(test_file_device_refused_at_the_limit_with_its_reason),
	};

	return cmocka_run_group_tests_name("daemon fd limit", tests, NULL, NULL);
}
