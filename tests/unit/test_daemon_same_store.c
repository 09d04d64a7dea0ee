/*
 * A removed device's late command must not land on its successor.
 *
 * Removal answers at once and leaves a device whose handler still holds
 * a command to a thread of its own (dev_free), which closes the handler
 * once the command ends. A LUN made again on the same backing store
 * meanwhile would take new writes, and the old command would land on
 * top of them. The daemon refuses it (-EBUSY, the reason logged, naming
 * both devices) until the old device is freed, and so a served LUN's
 * change of config onto that store; a LUN on another store is served
 * meanwhile.
 *
 * What "the same store" is (store_key.h) is checked on its own first.
 *
 * The handler here ("late") serves a file with no lock of its own, as
 * rbd and glfs do their images: with ";hold" in its config, a write
 * waits until the test lets it go, and only then is written: a backend
 * that does it late.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"
#include "fake_cfgfs.h"
#include "log_capture.h"
#include "sim_dev.h"
#include "store_key.h"
#include "unit_test.h"

#define LUN_SIZE (1 << 20)

/* ---- the "late" handler -------------------------------------------- */

struct late_dev {
	int fd;
	bool hold;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int held;
	bool released;
};

static int late_open(struct tcmur_device *dev, bool reopen)
{
	struct late_dev *l = tcmur_dev_private(dev);
	const char *cfg = tcmur_dev_config(dev);
	char *path = strndup(cfg, strcspn(cfg, ";"));

	(void)reopen;
	if (!path)
		return -ENOMEM;
	l->fd = open(path, O_RDWR | O_CLOEXEC);
	free(path);
	if (l->fd < 0)
		return -errno;
	l->hold = strstr(cfg, ";hold") != NULL;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	return 0;
}

static void late_close(struct tcmur_device *dev)
{
	struct late_dev *l = tcmur_dev_private(dev);

	close(l->fd);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
}

static tcmu_sts late_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			  struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	struct late_dev *l = tcmur_dev_private(dev);

	if (preadv(l->fd, iov, iov_cnt, offset) != (ssize_t)len)
		return tcmur_cmd_errno(cmd, -EIO, false);
	return TCMU_STS_GOOD;
}

/* On an I/O thread: held first (with ;hold), then written. */
static tcmu_sts late_write(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			   struct iovec *iov, size_t iov_cnt, size_t len, uint64_t offset)
{
	struct late_dev *l = tcmur_dev_private(dev);

	pthread_mutex_lock(&l->lock);
	if (l->hold) {
		l->held++;
		pthread_cond_broadcast(&l->cond);
		while (!l->released)
			pthread_cond_wait(&l->cond, &l->lock);
		l->held--;
	}
	pthread_mutex_unlock(&l->lock);
	if (pwritev(l->fd, iov, iov_cnt, offset) != (ssize_t)len)
		return tcmur_cmd_errno(cmd, -EIO, true);
	return TCMU_STS_GOOD;
}

static tcmu_sts late_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	struct late_dev *l = tcmur_dev_private(dev);

	return fdatasync(l->fd) ? tcmur_cmd_errno(cmd, -errno, true) : TCMU_STS_GOOD;
}

static const struct tcmur_handler late_handler_ops = {
	.struct_size = sizeof(struct tcmur_handler),
	.api_version = TCMUR_HANDLER_API_VERSION,
	.name = "A file, written late (tests)",
	.subtype = "late",
	.cfg_desc = "<path>[;hold]",
	.dev_private_size = sizeof(struct late_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 2,
	.open = late_open,
	.close = late_close,
	.read = late_read,
	.write = late_write,
	.flush = late_flush,
};

/* Wait up to 2 s for a write to be held by @dev's handler. */
static bool late_held(struct tcmur_device *dev)
{
	struct late_dev *l = tcmur_dev_private(dev);
	struct timespec until;
	bool held;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&l->lock);
	while (!l->held && !pthread_cond_timedwait(&l->cond, &l->lock, &until))
		;
	held = l->held;
	pthread_mutex_unlock(&l->lock);
	return held;
}

static void late_release(struct tcmur_device *dev)
{
	struct late_dev *l = tcmur_dev_private(dev);

	pthread_mutex_lock(&l->lock);
	l->released = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* ---- a daemon serving LUNs on the ring simulator ---------------------- */

struct lun {
	struct tcmu_dev_info info;
	struct ring_sim *sim;
	struct tcmur_device *dev;	/* while served */
};

struct fx {
	struct tcmur_daemon d;
	struct log_capture lc;
	struct fake_cfgfs fc;
	struct handler late;
	struct handler *items[1];
	char img[2][64];		/* two backing files */
};

static void fx_image(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/tcmu-store-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, LUN_SIZE), 0);
	close(fd);
}

static void fx_new(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	assert_int_equal(log_capture_new(&fx->lc), 0);
	fx->d.log = fx->lc.log;
	fx->d.logger = log_as_tcmu_logger(&fx->d.log);
	daemon_dev_init(&fx->d);
	fx->late.ops = late_handler_ops;
	fx->items[0] = &fx->late;
	fx->d.handlers.items = fx->items;
	fx->d.handlers.count = 1;
	assert_int_equal(fake_cfgfs_new(&fx->fc, 3, "lun"), 0);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "attrib/dev_size", "1048576"), 0);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "/core/user_3/other/attrib/dev_size",
					  "1048576"), 0);
	fx->d.cfgfs_root = fx->fc.root;
	fx_image(fx->img[0], sizeof(fx->img[0]));
	fx_image(fx->img[1], sizeof(fx->img[1]));
}

/* Up to 5 s for every removed device to be freed. */
static bool fx_reaped(struct fx *fx)
{
	for (int i = 0; i < 500 && daemon_dev_reaping(&fx->d); i++)
		usleep(10000);
	return !daemon_dev_reaping(&fx->d);
}

static void fx_free(struct fx *fx)
{
	daemon_dev_close_all(&fx->d);
	assert_true(fx_reaped(fx));
	daemon_dev_fini(&fx->d);
	fake_cfgfs_free(&fx->fc);
	unlink(fx->img[0]);
	unlink(fx->img[1]);
	log_capture_free(&fx->lc);
}

/* Serve LUN @name at uio@minor with config "late/@cfg", as an ADDED
 * event would: 0 or the daemon's -errno. */
static int lun_add(struct fx *fx, struct lun *l, unsigned int minor, const char *name,
		   const char *cfg)
{
	char uio_name[256];
	void *map;
	int fd, err;

	memset(l, 0, sizeof(*l));
	snprintf(uio_name, sizeof(uio_name), "tcm-user/3/%s/late/%s", name, cfg);
	assert_int_equal(tcmu_dev_info_parse(&l->info, uio_name), 0);
	l->info.uio_minor = minor;
	assert_int_equal(ring_sim_new(&l->sim, NULL), 0);
	/* The device owns its fd and map, as a /dev/uioN's. */
	map = mremap(ring_sim_map(l->sim), 0, ring_sim_map_size(l->sim), MREMAP_MAYMOVE);
	assert_true(map != MAP_FAILED);
	fd = fcntl(ring_sim_fd(l->sim), F_DUPFD_CLOEXEC, 3);
	err = daemon_dev_serve(&fx->d, &l->info, &fx->late, fd, map,
			       ring_sim_map_size(l->sim), false);
	if (err) {
		tcmu_uio_close(fd, map, ring_sim_map_size(l->sim));
		return err;
	}
	l->dev = g_hash_table_lookup(fx->d.devices, GUINT_TO_POINTER(minor));
	assert_non_null(l->dev);
	return 0;
}

/* A one-block WRITE of @val at LBA 0, queued; the command. */
static struct sim_cmd *lun_write_start(struct lun *l, uint8_t val)
{
	uint8_t cdb[10], buf[512];
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data = buf, .data_len = 512 };
	struct sim_cmd *c;

	memset(buf, val, sizeof(buf));
	sim_rw10(cdb, WRITE_10, 0, 1);
	assert_int_equal(ring_sim_queue(l->sim, &req, &c), 0);
	ring_sim_notify(l->sim);
	return c;
}

/* LBA 0's first byte, read through the LUN. */
static uint8_t lun_read(struct lun *l)
{
	uint8_t cdb[10];
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = 512 };
	struct sim_cmd *c;

	sim_rw10(cdb, READ_10, 0, 1);
	c = ring_sim_run(l->sim, &req, 2000);
	assert_good(c);
	return c->data[0];
}

/* LUN "lun" on img[0] with a write held by its handler, then removed:
 * its handler still has the write. */
static void old_lun_removed_holding(struct fx *fx, struct lun *old)
{
	char cfg[128];

	snprintf(cfg, sizeof(cfg), "%s;hold", fx->img[0]);
	assert_int_equal(lun_add(fx, old, 3, "lun", cfg), 0);
	lun_write_start(old, 0x5a);
	assert_true(late_held(old->dev));
	assert_int_equal(daemon_nl_ops.removed(&fx->d, &old->info), 0);
	assert_int_equal(daemon_dev_reaping(&fx->d), 1);
}

static void lun_free(struct lun *l)
{
	ring_sim_free(l->sim);
}

/* The same store refused with its reason while the old write is held;
 * another store served meanwhile; the same store served once it ends. */
static void test_same_store_refused_until_old_commands_end(void **state)
{
	struct tcmu_reconfig rc = { 0 };
	struct lun old, again, other;
	struct tcmur_device *old_dev;
	struct fx fx;
	char *line;
	int err;

	(void)state;
	fx_new(&fx);
	old_lun_removed_holding(&fx, &old);
	old_dev = old.dev;
	err = lun_add(&fx, &again, 4, "lun", fx.img[0]);
	line = log_capture_line(&fx.lc, "still in use");
	print_message("same store while the old write is held: %s\n  log: %s\n",
		      err ? strerror(-err) : "served", line ? line : "(nothing)");
	assert_int_equal(err, -EBUSY);
	assert_non_null(line);
	assert_non_null(strstr(line, "uio4"));	/* the LUN refused */
	assert_non_null(strstr(line, "uio3"));	/* the one still freeing */
	assert_non_null(strstr(line, fx.img[0]));
	free(line);
	lun_free(&again);

	assert_int_equal(lun_add(&fx, &other, 5, "other", fx.img[1]), 0);
	assert_int_equal(lun_read(&other), 0);
	/* Nor may a served LUN move onto it. */
	snprintf(rc.config, sizeof(rc.config), "late/%s", fx.img[0]);
	rc.has_config = true;
	assert_int_equal(daemon_nl_ops.reconfig(&fx.d, &other.info, &rc), -EBUSY);
	assert_int_equal(log_capture_count(&fx.lc, "refused config change of uio5"), 1);

	late_release(old_dev);
	assert_true(fx_reaped(&fx));
	assert_int_equal(lun_add(&fx, &again, 4, "lun", fx.img[0]), 0);
	assert_int_equal(lun_read(&again), 0x5a);	/* the old write, landed */
	fx_free(&fx);
	lun_free(&old);
	lun_free(&again);
	lun_free(&other);
}

/* What the successor wrote is what it reads back, whenever the old
 * device's late write lands. */
static void test_late_write_never_lands_on_successor(void **state)
{
	struct lun old, next;
	struct tcmur_device *old_dev;
	struct sim_cmd *w;
	struct fx fx;
	uint8_t got;
	int err;

	(void)state;
	fx_new(&fx);
	old_lun_removed_holding(&fx, &old);
	old_dev = old.dev;
	err = lun_add(&fx, &next, 4, "lun", fx.img[0]);
	if (err == -EBUSY) {		/* refused: served once the old one ends */
		late_release(old_dev);
		old_dev = NULL;
		assert_true(fx_reaped(&fx));
		lun_free(&next);
		err = lun_add(&fx, &next, 4, "lun", fx.img[0]);
	}
	assert_int_equal(err, 0);
	w = lun_write_start(&next, 0xa5);
	assert_int_equal(ring_sim_wait(next.sim, w, 2000), 0);
	assert_good(w);
	if (old_dev)		/* served at once: the old write lands now */
		late_release(old_dev);
	assert_true(fx_reaped(&fx));
	got = lun_read(&next);
	print_message("successor wrote 0xa5 at LBA 0 and reads back 0x%02x\n", got);
	assert_int_equal(got, 0xa5);
	fx_free(&fx);
	lun_free(&old);
	lun_free(&next);
}

/* Whether configs @a (of subtype @sa) and @b name one store. */
static bool same(const char *sa, const char *a, const char *sb, const char *b)
{
	struct store_key ka, kb;

	store_key_of(&ka, sa, a);
	store_key_of(&kb, sb, b);
	return store_key_same(&ka, &kb);
}

static void test_store_key_same_and_different(void **state)
{
	char dir[64], img[96], symname[96], hard[96], other[96], odd[160];
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tcmu-key-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(symname, sizeof(symname), "%s/link.img", dir);
	snprintf(hard, sizeof(hard), "%s/hard.img", dir);
	snprintf(other, sizeof(other), "%s/other.img", dir);
	snprintf(odd, sizeof(odd), "%s//./sub/../disk.img;share_rw=on", dir);
	fd = open(img, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	close(fd);
	fd = open(other, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(img, symname), 0);
	assert_int_equal(link(img, hard), 0);

	/* A local file, whichever handler, however named. */
	assert_true(same("file", img, "qcow", odd));
	assert_true(same("file", img, "file", symname));
	assert_true(same("qcow", hard, "file", img));
	assert_false(same("file", img, "file", other));
	/* Gone, or never made: by its path as written. */
	assert_true(same("file", "/no/such//dir/x.img", "qcow", "/no/such/dir/./x.img;format=raw"));
	assert_false(same("file", "/no/such/x.img", "file", "/no/such/y.img"));
	/* RBD: the pool's image, whatever the options or snapshot. */
	assert_true(same("rbd", "rbd/disk1", "rbd", "rbd/disk1;osd_op_timeout=5;conf=/x"));
	assert_true(same("rbd", "rbd/disk1@snap", "rbd", "rbd/disk1"));
	assert_false(same("rbd", "rbd/disk1", "rbd", "rbd/disk2"));
	assert_false(same("rbd", "rbd/disk1", "rbd", "ssd/disk1"));
	/* Gluster: the volume's file, from whichever hosts. */
	assert_true(same("glfs", "vol@h1/dir/f.img", "glfs",
			 "vol@h2:24007,h3/dir//f.img;ping_timeout=5;create"));
	assert_false(same("glfs", "vol@h1/dir/f.img", "glfs", "vol2@h1/dir/f.img"));
	assert_false(same("glfs", "vol@h1/dir/f.img", "glfs", "vol@h1/dir/g.img"));
	/* Others by what they say; nothing, no store. */
	assert_true(same("mem", "hold", "mem", "hold;x"));
	assert_false(same("mem", "hold", "late", "hold"));
	assert_false(same("null", "", "null", ""));

	unlink(symname);
	unlink(hard);
	unlink(img);
	unlink(other);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_key_same_and_different),
		cmocka_unit_test(test_same_store_refused_until_old_commands_end),
		cmocka_unit_test(test_late_write_never_lands_on_successor),
	};

	return cmocka_run_group_tests_name("daemon same store", tests, NULL, NULL);
}
