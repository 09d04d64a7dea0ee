/*
 * The daemon serving devices on the ring simulator (daemon_dev_serve,
 * with a fake configfs), from the start to the end.
 *
 * A device found at start (recovered: a daemon served it before) reports
 * POWER ON, RESET, OR BUS DEVICE RESET OCCURRED (29/00) once: the unit
 * attentions and ALUA states the old daemon kept are gone.
 *
 * The daemon's end (daemon_stop.c) with a device whose backend hangs: a
 * SIGTERM while a write is still with the handler (mem_handler 'hold').
 * The device answers its removal at once and leaves the freeing to a
 * thread of its own (dev_free), which later closes the handler and logs.
 * The daemon must not unload the handler or free the log sink under that
 * thread: it waits a bounded time, and if the write is still held, says
 * so and keeps both; called again once the write is given back, it
 * finishes. Run under ASan (make check-sanitize) a use after free is a
 * failure of its own.
 *
 * A device the kernel dropped without a REMOVED (a netlink reset by
 * another daemon fails the event): its uio reports a hang-up, and the
 * daemon drops it, logged, instead of keeping a failed device under a
 * minor the kernel gives to the next device. And an ADDED for a minor we
 * still hold is taken for a new device unless it names the same one:
 * the new device is served, its commands answered.
 *
 * The MAXIMUM TRANSFER LENGTH a device reports (VPD B0) comes from the
 * kernel's hw_max_sectors and max_data_area_mb, and a READ of that many
 * blocks fits the data area and is served.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"
#include "fake_cfgfs.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

/* The minor the held device is served under. */
#define FX_MINOR 7

struct stop_fx {
	struct tcmur_daemon d;
	struct fake_cfgfs fc;
	char dir[64], conf[128], logfile[128];
	struct ring_sim *sim;
	struct tcmur_device *dev;
	struct sim_cmd *w;
	uint8_t data[512];
};

/* The log as the daemon has it: a sink (config_live) writing to a file. */
static void fx_log(struct stop_fx *fx)
{
	FILE *f;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/tcmu-stop-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->conf, sizeof(fx->conf), "%s/tcmu.conf", fx->dir);
	snprintf(fx->logfile, sizeof(fx->logfile), "%s/log", fx->dir);
	f = fopen(fx->conf, "w");
	assert_non_null(f);
	fprintf(f, "[log]\nlevel = debug\ndestination = file\nfile = %s\n", fx->logfile);
	fclose(f);
	log_init(&fx->d.log, true);
	assert_true(config_live_start(&fx->d.config, fx->conf, true, &fx->d.log, false) >= 0);
	fx->d.logger = log_as_tcmu_logger(&fx->d.log);
}

/* Handlers as handler_set_load_dir leaves them: owned by the set. */
static void fx_handlers(struct stop_fx *fx)
{
	struct handler *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h->ops = mem_handler_ops;
	fx->d.handlers.items = calloc(1, sizeof(*fx->d.handlers.items));
	assert_non_null(fx->d.handlers.items);
	fx->d.handlers.items[0] = h;
	fx->d.handlers.count = 1;
}

/* The device owns its fd and map, as a /dev/uioN's: a second mapping
 * of the simulator's pages, and a dup of its fd. */
static int sim_uio_open(void *opaque, const struct tcmu_dev_info *info, int *fd,
			void **map, size_t *map_size)
{
	struct ring_sim *sim = opaque;

	*map_size = ring_sim_map_size(sim);
	*map = mremap(ring_sim_map(sim), 0, *map_size, MREMAP_MAYMOVE);
	if (*map == MAP_FAILED)
		return -errno;
	*fd = fcntl(ring_sim_fd(sim), F_DUPFD_CLOEXEC, 3);
	return 0;
}

/*
 * A daemon serving one mem device with options @opts, @recovered or new;
 * @attrs: more configfs attributes ("attrib/x", "value", ..., NULL), and
 * a data area of @data_size bytes (0: the simulator's default).
 */
static void fx_serve_with(struct stop_fx *fx, const char *opts, bool recovered,
			  const char *const *attrs, size_t data_size)
{
	struct tcmu_dev_info info = { .uio_minor = FX_MINOR };
	struct ring_sim_cfg rcfg = { .data_size = data_size };
	char name[128];
	size_t map_size;
	void *map;
	int fd = -1;

	memset(fx, 0, sizeof(*fx));
	fx_log(fx);
	fx_handlers(fx);
	assert_int_equal(fake_cfgfs_new(&fx->fc, 3, "held"), 0);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "attrib/dev_size", "1048576"), 0);
	for (; attrs && attrs[0]; attrs += 2)
		assert_int_equal(fake_cfgfs_write(&fx->fc, attrs[0], attrs[1]), 0);
	fx->d.cfgfs_root = fx->fc.root;
	daemon_dev_init(&fx->d);
	assert_int_equal(ring_sim_new(&fx->sim, &rcfg), 0);
	snprintf(name, sizeof(name), "tcm-user/3/held/mem/%s", opts);
	assert_int_equal(tcmu_dev_info_parse(&info, name), 0);
	assert_int_equal(sim_uio_open(fx->sim, &info, &fd, &map, &map_size), 0);
	assert_int_equal(daemon_dev_serve(&fx->d, &info, fx->d.handlers.items[0],
					  fd, map, map_size, recovered), 0);
	fx->dev = g_hash_table_lookup(fx->d.devices, GUINT_TO_POINTER(info.uio_minor));
	assert_non_null(fx->dev);
}

static void fx_serve(struct stop_fx *fx, const char *opts, bool recovered)
{
	fx_serve_with(fx, opts, recovered, NULL, 0);
}

/* A daemon serving one 'hold' device, one WRITE held by its handler. */
static void fx_new(struct stop_fx *fx)
{
	uint8_t cdb[10];

	fx_serve(fx, "hold", false);
	sim_rw10(cdb, WRITE_10, 0, 1);
	memset(fx->data, 0x5a, sizeof(fx->data));
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = fx->data, .data_len = 512 };

	assert_int_equal(ring_sim_queue(fx->sim, &req, &fx->w), 0);
	ring_sim_notify(fx->sim);
	assert_int_equal(mem_handler_held(fx->dev, 1, 2000), 1);
}

static bool log_has(const char *path, const char *needle)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* Up to 2 s for @needle to reach the log (its sink writes on a thread). */
static bool log_wait(struct stop_fx *fx, const char *needle)
{
	for (int i = 0; i < 200; i++) {
		if (log_has(fx->logfile, needle))
			return true;
		usleep(10000);
	}
	return false;
}

/* Up to 2 s for the device's own thread to log its end. */
static bool wait_freed(struct stop_fx *fx)
{
	return log_wait(fx, "the handler's last commands completed: freed");
}

static void fx_remove(struct stop_fx *fx)
{
	char path[200];

	unlink(fx->logfile);
	unlink(fx->conf);
	snprintf(path, sizeof(path), "%s", fx->dir);
	rmdir(path);
	ring_sim_free(fx->sim);
	fake_cfgfs_free(&fx->fc);
}

/* Still held when the wait ends: nothing the device's thread needs is
 * freed; the write given back, a second call frees it all. */
static void test_stop_keeps_handler_and_log_for_held_command(void **state)
{
	struct stop_fx fx;
	bool first, freed, second;

	(void)state;
	fx_new(&fx);
	first = daemon_stop(&fx.d, 100);
	print_message("daemon_stop with a held write: %s\n", first ? "all freed" : "kept");
	mem_handler_release(fx.dev);
	freed = wait_freed(&fx);
	print_message("device thread logged its end: %s\n", freed ? "yes" : "no");
	assert_false(first);
	assert_true(freed);
	assert_non_null(fx.d.handlers.items);
	/* The thread logs its end, then lets go of the count. */
	for (int i = 0; i < 200 && daemon_dev_reaping(&fx.d); i++)
		usleep(10000);
	assert_int_equal(daemon_dev_reaping(&fx.d), 0);
	assert_true(log_has(fx.logfile, "commands with their handler after"));
	second = daemon_stop(&fx.d, 1000);
	assert_true(second);
	assert_null(fx.d.handlers.items);
	assert_null(fx.d.config.sink);
	fx_remove(&fx);
}

/* The backend comes back after the device's own grace (200 ms). */
static void *release_later(void *arg)
{
	usleep(400 * 1000);
	mem_handler_release(arg);
	return NULL;
}

/* Given back within the wait: one call ends it all, in order. */
static void test_stop_waits_for_held_command(void **state)
{
	struct stop_fx fx;
	pthread_t th;

	(void)state;
	fx_new(&fx);
	assert_int_equal(pthread_create(&th, NULL, release_later, fx.dev), 0);
	assert_true(daemon_stop(&fx.d, 5000));
	pthread_join(th, NULL);
	assert_null(fx.d.handlers.items);
	assert_null(fx.d.config.sink);
	fx_remove(&fx);
}

static struct sim_cmd *tur(struct stop_fx *fx)
{
	uint8_t cdb[6] = { TEST_UNIT_READY };
	struct sim_req req = { .cdb = cdb, .cdb_len = 6 };

	return ring_sim_run(fx->sim, &req, 2000);
}

/* Recovered: 29/00 once, then GOOD. New: GOOD at once. */
static void test_recovered_device_reports_reset_once(void **state)
{
	struct stop_fx fx;
	struct sim_cmd *c;

	(void)state;
	fx_serve(&fx, "", true);
	c = tur(&fx);
	assert_non_null(c);
	print_message("recovered device, first TEST UNIT READY: status 0x%02x sense %x/%02x/%02x\n",
		      c->status, c->key, c->asc, c->ascq);
	assert_sense(c, SENSE_UNIT_ATTENTION, 0x29, 0x00);
	assert_good(tur(&fx));
	assert_true(daemon_stop(&fx.d, 1000));
	fx_remove(&fx);

	fx_serve(&fx, "", false);
	assert_good(tur(&fx));
	assert_true(daemon_stop(&fx.d, 1000));
	fx_remove(&fx);
}

/* VPD page B0's MAXIMUM TRANSFER LENGTH, in blocks. */
static uint32_t vpd_max_xfer(struct stop_fx *fx)
{
	uint8_t cdb[6] = { INQUIRY, 0x01, 0xb0, 0, 64, 0 };
	struct sim_req req = { .cdb = cdb, .cdb_len = 6, .data_len = 64 };
	struct sim_cmd *c = ring_sim_run(fx->sim, &req, 2000);

	assert_good(c);
	assert_int_equal(c->data[1], 0xb0);
	return tcmu_get_be32(c->data + 8);
}

/* A READ(16) of @blocks at LBA 0, as an initiator holding to the
 * reported maximum sends it: it fits the data area (else the kernel
 * refuses it, INVALID FIELD IN CDB) and is served. */
static void assert_read_served(struct stop_fx *fx, uint32_t blocks)
{
	uint8_t cdb[16] = { READ_16 };
	struct sim_req req = { .cdb = cdb, .cdb_len = 16, .data_len = (size_t)blocks * 512 };
	struct sim_cmd *c = NULL;

	tcmu_put_be32(cdb + 10, blocks);
	assert_int_equal(ring_sim_queue(fx->sim, &req, &c), 0);
	ring_sim_notify(fx->sim);
	assert_int_equal(ring_sim_wait(fx->sim, c, 2000), 0);
	assert_good(c);
}

/*
 * The LUN's MAXIMUM TRANSFER LENGTH against a small data area
 * (max_data_area_mb 1): hw_max_sectors at the kernel's default gives a
 * quarter of the area; an admin's hw_max_sectors larger than the area
 * is cut to what the area holds, since the kernel refuses a command
 * larger than its data area; one that fits is kept. Each time a READ of
 * the reported maximum is served. (The simulator's area has 4 KiB more
 * than the kernel's for its guard bytes.)
 */
static void test_max_transfer_fits_data_area(void **state)
{
	static const struct {
		const char *hw;
		const char *area_mb;
		uint32_t want;
	} cases[] = {
		{ "128", "1", 512 },
		{ "8192", "1", 2048 },
		{ "1024", "1", 1024 },
		{ "1024", "64", 1024 },
	};
	struct stop_fx fx;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const attrs[] = { "attrib/hw_max_sectors", cases[i].hw,
					      "attrib/max_data_area_mb", cases[i].area_mb,
					      NULL };
		uint32_t max;

		fx_serve_with(&fx, "", false, attrs, (1 << 20) + 4096);
		max = vpd_max_xfer(&fx);
		print_message("hw_max_sectors %s, max_data_area_mb %s: MAXIMUM TRANSFER "
			      "LENGTH %u blocks\n", cases[i].hw, cases[i].area_mb, max);
		assert_int_equal(max, cases[i].want);
		assert_read_served(&fx, max);
		assert_true(daemon_stop(&fx.d, 1000));
		fx_remove(&fx);
	}
}

/* Up to 3 s of the daemon's main loop, until it no longer holds @minor;
 * whether it still does. */
static bool held_after_loop(struct stop_fx *fx, unsigned int minor)
{
	bool held = true;

	for (int i = 0; i < 300 && held; i++) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		held = g_hash_table_contains(fx->d.devices, GUINT_TO_POINTER(minor));
		if (held)
			usleep(10000);
	}
	return held;
}

/* The kernel dropped the device (no REMOVED came): its uio hangs up. The
 * daemon drops it, saying which and why, rather than keep it failed. */
static void test_device_whose_uio_hangs_up_is_dropped(void **state)
{
	struct stop_fx fx;
	bool held;

	(void)state;
	fx_serve(&fx, "", false);
	assert_good(tur(&fx));
	ring_sim_hangup(fx.sim);
	held = held_after_loop(&fx, FX_MINOR);
	print_message("uio%u hung up: %s\n", FX_MINOR,
		      held ? dev_state_name(fx.dev) : "dropped");
	assert_false(held);
	assert_true(log_wait(&fx, "[held mem] dev_remove: dropped uio7: its uio went away"));
	assert_true(daemon_stop(&fx.d, 1000));
	fx_remove(&fx);
}

static int no_uio_open(void *opaque, const struct tcmu_dev_info *info, int *fd,
		       void **map, size_t *map_size)
{
	return -ENODEV;
}

/* The held device's minor, given by the kernel to a new device "fresh"
 * whose ADDED comes before the daemon noticed the old one's end. */
static void test_added_on_a_held_minor_serves_the_new_device(void **state)
{
	struct tcmu_dev_info same = { .uio_minor = FX_MINOR };
	struct tcmu_dev_info fresh = { .uio_minor = FX_MINOR, .device_id = 9 };
	struct stop_fx fx;
	struct fake_cfgfs fc;
	struct tcmur_device *dev;
	struct ring_sim *sim;
	struct sim_cmd *c;
	uint8_t cdb[6] = { TEST_UNIT_READY };
	struct sim_req req = { .cdb = cdb, .cdb_len = 6 };

	(void)state;
	fx_serve(&fx, "", false);
	assert_good(tur(&fx));
	/* The same device again (a repeated event): kept, not reopened. */
	assert_int_equal(tcmu_dev_info_parse(&same, "tcm-user/3/held/mem/"), 0);
	fx.d.uio_open = no_uio_open;
	assert_int_equal(daemon_nl_ops.added(&fx.d, &same), 0);
	assert_ptr_equal(g_hash_table_lookup(fx.d.devices, GUINT_TO_POINTER(FX_MINOR)),
			 fx.dev);

	fc = fx.fc;
	snprintf(fc.name, sizeof(fc.name), "fresh");
	assert_int_equal(fake_cfgfs_write(&fc, "attrib/dev_size", "1048576"), 0);
	assert_int_equal(tcmu_dev_info_parse(&fresh, "tcm-user/3/fresh/mem/"), 0);
	assert_int_equal(ring_sim_new(&sim, NULL), 0);
	fx.d.uio_open = sim_uio_open;
	fx.d.uio_opaque = sim;
	assert_int_equal(daemon_nl_ops.added(&fx.d, &fresh), 0);
	dev = g_hash_table_lookup(fx.d.devices, GUINT_TO_POINTER(FX_MINOR));
	c = ring_sim_run(sim, &req, 1000);
	print_message("uio%u now serves '%s'; TEST UNIT READY on the new device: %s\n",
		      FX_MINOR, dev ? tcmur_dev_name(dev) : "none",
		      c ? "answered" : "no answer in 1 s");
	assert_non_null(dev);
	assert_string_equal(tcmur_dev_name(dev), "fresh");
	assert_good(c);
	assert_true(log_wait(&fx, "[held mem] dev_remove: dropped uio7: "
			     "the kernel gave its minor to device fresh"));
	/* A REMOVED naming the old device is not for the new one. */
	assert_int_equal(daemon_nl_ops.removed(&fx.d, &same), 0);
	assert_ptr_equal(g_hash_table_lookup(fx.d.devices, GUINT_TO_POINTER(FX_MINOR)), dev);
	assert_good(ring_sim_run(sim, &req, 1000));
	assert_true(daemon_stop(&fx.d, 1000));
	ring_sim_free(sim);
	fx_remove(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recovered_device_reports_reset_once),
		cmocka_unit_test(test_stop_keeps_handler_and_log_for_held_command),
		cmocka_unit_test(test_stop_waits_for_held_command),
		cmocka_unit_test(test_added_on_a_held_minor_serves_the_new_device),
		cmocka_unit_test(test_device_whose_uio_hangs_up_is_dropped),
		cmocka_unit_test(test_max_transfer_fits_data_area),
	};

	return cmocka_run_group_tests_name("daemon serve", tests, NULL, NULL);
}
