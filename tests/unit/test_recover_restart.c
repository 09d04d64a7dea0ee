/*
 * Start-up recovery (recover.c) against a fake kernel: configfs and the
 * module parameters are trees in a temporary directory, and the writes
 * that matter are FIFOs a thread reads, acting on them as the kernel
 * does (the ring simulator's block and reset). A previous daemon's ring
 * is left as a crash leaves it: commands taken and not answered, one
 * answered out of order, one never taken. Then: the order of the writes
 * (block, reset, our open, unblock), the ring position we open at, none
 * of the old commands run again, and what happens, logged, where the
 * kernel lacks the attributes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_cfgfs.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define LUN "rlun"
#define LUN_SIZE (1 << 20)

/* Log lines, kept for the tests to look through. */
struct log_lines {
	char text[8192];
	size_t len;
};

static void keep_line(void *opaque, enum tcmu_log_prio prio, const char *who,
		      const char *func, const char *fmt, va_list ap)
{
	struct log_lines *l = opaque;
	char line[1024];
	int n = snprintf(line, sizeof(line), "<%d>[%s] %s: ", prio, who, func);

	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (getenv("TEST_LOG"))
		fprintf(stderr, "%s\n", line);
	n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", line);
	if (n > 0)
		l->len = l->len + n < sizeof(l->text) ? l->len + n : sizeof(l->text) - 1;
}

/* One write the fake kernel waits for on a FIFO: what was written, what
 * @watch held at that moment; with @sim, a reset_ring done to it. */
struct fifo_kernel {
	char path[512], watch[512];
	struct ring_sim *sim;
	int fd;
	pthread_t th;
	bool started;
	char got[16], watch_then[16];
	int rc;
};

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (fd >= 0)
		close(fd);
}

static void *fifo_serve(void *arg)
{
	struct fifo_kernel *k = arg;
	struct pollfd pfd = { .fd = k->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, 5000) != 1) {
		k->rc = -ETIMEDOUT;
		return NULL;
	}
	n = read(k->fd, k->got, sizeof(k->got) - 1);
	k->got[n > 0 ? n : 0] = '\0';
	k->got[strcspn(k->got, "\n")] = '\0';
	read_file(k->watch, k->watch_then, sizeof(k->watch_then));
	if (k->sim) {
		/* tcmu_block_dev collected the answers when block_dev was
		 * written; nothing came in between, so doing it now is the
		 * same. Then tcmu_reset_ring. */
		if (!strcmp(k->watch_then, "1"))
			ring_sim_block(k->sim, true);
		k->rc = ring_sim_reset(k->sim, atoi(k->got));
	}
	return NULL;
}

/* Replace @path by a FIFO and start reading it; the writer's open then
 * does not block. */
static void fifo_kernel_start(struct fifo_kernel *k, const char *path, const char *watch,
			      struct ring_sim *sim)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->path, sizeof(k->path), "%s", path);
	snprintf(k->watch, sizeof(k->watch), "%s", watch);
	k->sim = sim;
	unlink(path);
	assert_int_equal(mkfifo(path, 0644), 0);
	k->fd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(k->fd >= 0);
	assert_int_equal(pthread_create(&k->th, NULL, fifo_serve, k), 0);
	k->started = true;
}

static void fifo_kernel_join(struct fifo_kernel *k)
{
	if (!k->started)
		return;
	pthread_join(k->th, NULL);
	close(k->fd);
	k->started = false;
}

/* A previous daemon and its crash. */
struct crashed {
	struct sim_cmd *w[4];	/* WRITEs of LBA 1..4, filled with 0x10 + i */
	struct tcmu_ring *old;	/* its ring, and the commands it held: */
	struct tcmu_cmd *held[2];	/* kept only to be freed at the end */
	struct tcmu_logger quiet;
	struct log_lines lines;
};

static void write10(uint8_t *cdb, uint32_t lba)
{
	memset(cdb, 0, 10);
	cdb[0] = WRITE_10;
	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, 1);
}

/* w[0..2] taken, w[1] answered out of order (into w[0]'s slot), nothing
 * told to the kernel; w[3] queued after and never taken. */
static void crash_a_daemon(struct ring_sim *sim, struct crashed *cr)
{
	struct tcmu_cmd *r[3];
	uint8_t cdb[4][10], data[4][512];

	cr->quiet.fn = keep_line;
	cr->quiet.opaque = &cr->lines;
	for (int i = 0; i < 4; i++) {
		struct sim_req req = { .cdb = cdb[i], .cdb_len = 10, .data = data[i],
				       .data_len = 512 };

		write10(cdb[i], 1 + i);
		memset(data[i], 0x10 + i, 512);
		assert_int_equal(ring_sim_queue(sim, &req, &cr->w[i]), 0);
		if (i == 2) {
			assert_int_equal(tcmu_ring_new(&cr->old, ring_sim_fd(sim),
						       ring_sim_map(sim), ring_sim_map_size(sim),
						       0, &cr->quiet, "old"), 0);
			for (int j = 0; j < 3; j++)
				assert_non_null(r[j] = tcmu_ring_next(cr->old, NULL, NULL));
			tcmu_ring_complete(cr->old, r[1], SAM_STAT_GOOD);
			cr->held[0] = r[0];	/* and then it was killed */
			cr->held[1] = r[2];
		}
	}
	assert_int_not_equal(ring_sim_mailbox(sim)->cmd_tail,
			     ring_sim_mailbox(sim)->cmd_head);
}

struct fx {
	struct fake_cfgfs fc;
	struct ring_sim *sim;
	struct log_lines lines;
	struct tcmu_logger logger;
	struct log_cfg log;
	struct tcmu_dev_info info;
	struct handler hd;
	struct tcmur_device *dev;
	struct fifo_kernel reset;
	struct crashed cr;
	unsigned int opens;
	char block_at_open[16];
	uint32_t tail_at_open, head_at_open;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx || fake_cfgfs_new(&fx->fc, 1, LUN) || ring_sim_new(&fx->sim, NULL))
		return -1;
	fx->logger.fn = keep_line;
	fx->logger.opaque = &fx->lines;
	sim_log_init(&fx->log);
	fx->hd.ops = mem_handler_ops;
	if (tcmu_dev_info_parse(&fx->info, "tcm-user/1/" LUN "/mem/"))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	fifo_kernel_join(&fx->reset);
	dev_free(fx->dev);
	if (fx->cr.old) {	/* the dead daemon's memory, not its answers */
		for (int i = 0; i < 2; i++)
			tcmu_ring_complete(fx->cr.old, fx->cr.held[i], SAM_STAT_GOOD);
		tcmu_ring_free(fx->cr.old);
	}
	ring_sim_free(fx->sim);
	fake_cfgfs_free(&fx->fc);
	sim_log_fini(&fx->log);
	free(fx);
	return 0;
}

static void cfgfs_path(struct fx *fx, const char *attr, char *path, size_t len)
{
	fake_cfgfs_path(&fx->fc, attr, path, len);
}

/* open_fn: the daemon's open, with what the kernel looked like then. */
static int open_dev(void *opaque)
{
	struct fx *fx = opaque;
	struct dev_params params = { .size = LUN_SIZE, .block_size = 512,
				     .max_xfer_blocks = 128, .cfgfs_root = fx->fc.root };
	char path[512];

	fx->opens++;
	fifo_kernel_join(&fx->reset);	/* the kernel's write returns when done */
	cfgfs_path(fx, "action/block_dev", path, sizeof(path));
	read_file(path, fx->block_at_open, sizeof(fx->block_at_open));
	fx->tail_at_open = ring_sim_mailbox(fx->sim)->cmd_tail;
	fx->head_at_open = ring_sim_mailbox(fx->sim)->cmd_head;
	return dev_new(&fx->dev, &fx->info, &fx->hd, &params, ring_sim_fd(fx->sim),
		       ring_sim_map(fx->sim), ring_sim_map_size(fx->sim), false, &fx->log);
}

static int recover(struct fx *fx)
{
	return tcmu_recover_dev(&fx->info, fx->fc.root, ring_sim_map(fx->sim),
				ring_sim_map_size(fx->sim), open_dev, fx, &fx->logger);
}

static struct sim_cmd *read_lbas(struct fx *fx, uint32_t lba, uint16_t n)
{
	uint8_t cdb[10] = { READ_10 };
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = n * 512u };

	tcmu_put_be32(cdb + 2, lba);
	tcmu_put_be16(cdb + 7, n);
	return ring_sim_run(fx->sim, &req, SIM_DEV_TIMEOUT_MS);
}

/* block_dev 1, reset_ring 1, open at the reset ring's tail, block_dev 0;
 * the old commands fail BUSY and none of them runs again. */
static void test_recover_blocks_resets_opens_unblocks(void **state)
{
	struct fx *fx = *state;
	struct crashed *cr = &fx->cr;
	char block[512], reset[512], now[16];
	struct sim_cmd *c;
	uint8_t zeros[4 * 512] = { 0 };

	crash_a_daemon(fx->sim, cr);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "action/block_dev", "0"), 0);
	cfgfs_path(fx, "action/block_dev", block, sizeof(block));
	cfgfs_path(fx, "action/reset_ring", reset, sizeof(reset));
	fifo_kernel_start(&fx->reset, reset, block, fx->sim);

	assert_int_equal(recover(fx), 0);
	/* Blocked before the reset; reset with 1 (BUSY), before the open. */
	assert_string_equal(fx->reset.watch_then, "1");
	assert_string_equal(fx->reset.got, "1");
	assert_int_equal(fx->reset.rc, 3);		/* w[0], w[2], w[3] */
	assert_int_equal(fx->opens, 1);
	assert_string_equal(fx->block_at_open, "1");
	/* Opened on the emptied ring. */
	assert_int_equal(fx->tail_at_open, 0);
	assert_int_equal(fx->head_at_open, 0);
	/* Unblocked after. */
	read_file(block, now, sizeof(now));
	assert_string_equal(now, "0");
	ring_sim_block(fx->sim, false);

	/* The answer the old daemon gave stands; the rest failed BUSY. */
	assert_good(cr->w[1]);
	assert_false(cr->w[1]->reset);
	for (int i = 0; i < 4; i += 1 + (i == 0)) {
		assert_true(cr->w[i]->done);
		assert_true(cr->w[i]->reset);
		assert_int_equal(cr->w[i]->status, SAM_STAT_BUSY);
	}
	assert_int_equal(ring_sim_inflight(fx->sim), 0);
	assert_false(ring_sim_broken(fx->sim));

	/* None of them reached the backend: the LUN still reads zeros, and
	 * the handler saw this READ alone. */
	c = read_lbas(fx, 1, 4);
	assert_good(c);
	assert_memory_equal(c->data, zeros, sizeof(zeros));
	assert_int_equal(mem_handler_ios(fx->dev), 1);
	assert_false(ring_sim_broken(fx->sim));
	assert_non_null(strstr(fx->lines.text, "recovered: blocked; ring reset"));
	assert_non_null(strstr(fx->lines.text, "unblocked"));
}

/* The kernel without the attributes (or configfs not mounted), on an
 * empty ring: nothing can be replayed, so it is served, and the log
 * says what was missing, naming the device. */
static void test_recover_missing_attributes_empty_ring(void **state)
{
	struct fx *fx = *state;
	struct sim_cmd *c;

	assert_int_equal(recover(fx), 0);
	assert_int_equal(fx->opens, 1);
	print_message("%s", fx->lines.text);
	assert_non_null(strstr(fx->lines.text, "<4>[" LUN "]"));
	assert_non_null(strstr(fx->lines.text, "action/block_dev"));
	assert_non_null(strstr(fx->lines.text, "action/reset_ring"));
	assert_non_null(strstr(fx->lines.text, "nothing to replay"));
	assert_null(strstr(fx->lines.text, "recovered"));
	c = read_lbas(fx, 0, 1);
	assert_good(c);
}

/* No reset_ring, and the old daemon's commands in the ring: refused, not
 * opened, unblocked again; the old commands stay unanswered. */
static void test_recover_missing_reset_refuses_a_used_ring(void **state)
{
	struct fx *fx = *state;
	struct crashed *cr = &fx->cr;
	char block[512], now[16];

	crash_a_daemon(fx->sim, cr);
	assert_int_equal(fake_cfgfs_write(&fx->fc, "action/block_dev", "0"), 0);
	assert_int_equal(recover(fx), -ENOTRECOVERABLE);
	assert_int_equal(fx->opens, 0);
	cfgfs_path(fx, "action/block_dev", block, sizeof(block));
	read_file(block, now, sizeof(now));
	assert_string_equal(now, "0");
	print_message("%s", fx->lines.text);
	assert_non_null(strstr(fx->lines.text, "<3>[" LUN "]"));
	assert_non_null(strstr(fx->lines.text, "action/reset_ring"));
	assert_non_null(strstr(fx->lines.text, "not served"));
	assert_false(cr->w[0]->done);
	assert_false(ring_sim_broken(fx->sim));
}

/* An open that fails after the reset: unblocked all the same. */
static int open_fails(void *opaque)
{
	struct fx *fx = opaque;

	fx->opens++;
	fifo_kernel_join(&fx->reset);
	return -EIO;
}

static void test_recover_open_fails_unblocks(void **state)
{
	struct fx *fx = *state;
	char block[512], reset[512], now[16];

	assert_int_equal(fake_cfgfs_write(&fx->fc, "action/block_dev", "0"), 0);
	cfgfs_path(fx, "action/block_dev", block, sizeof(block));
	cfgfs_path(fx, "action/reset_ring", reset, sizeof(reset));
	fifo_kernel_start(&fx->reset, reset, block, fx->sim);
	assert_int_equal(tcmu_recover_dev(&fx->info, fx->fc.root, ring_sim_map(fx->sim),
					  ring_sim_map_size(fx->sim), open_fails, fx,
					  &fx->logger), -EIO);
	assert_int_equal(fx->opens, 1);
	read_file(block, now, sizeof(now));
	assert_string_equal(now, "0");
}

/* --- netlink: block_netlink, reset_netlink, then unblock ------------------ */

static void mkdirs(const char *root, const char *rel, char *out, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s", root);
	for (const char *p = rel; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%.*s", (int)n, p);
		mkdir(path, 0755);
		p += n + (slash ? 1 : 0);
	}
	snprintf(out, len, "%s", path);
}

static void test_recover_netlink_order(void **state)
{
	struct fx *fx = *state;
	struct fifo_kernel k;
	char params[512], block[600], reset[600], now[16];
	FILE *f;

	mkdirs(fx->fc.root, "sys/module/target_core_user/parameters", params, sizeof(params));
	snprintf(block, sizeof(block), "%s/block_netlink", params);
	snprintf(reset, sizeof(reset), "%s/reset_netlink", params);
	f = fopen(block, "w");
	assert_non_null(f);
	fputs("0", f);
	fclose(f);
	fifo_kernel_start(&k, reset, block, NULL);
	snprintf(params, sizeof(params), "%s/sys", fx->fc.root);
	assert_int_equal(tcmu_recover_netlink_block(params, &fx->logger), 0);
	fifo_kernel_join(&k);
	assert_int_equal(k.rc, 0);
	assert_string_equal(k.got, "1");
	assert_string_equal(k.watch_then, "1");	/* blocked before the reset */
	read_file(block, now, sizeof(now));
	assert_string_equal(now, "1");
	assert_int_equal(tcmu_recover_netlink_unblock(params, &fx->logger), 0);
	read_file(block, now, sizeof(now));
	assert_string_equal(now, "0");
}

static void test_recover_netlink_missing_logged(void **state)
{
	struct fx *fx = *state;
	char sys[512];

	snprintf(sys, sizeof(sys), "%s/nosys", fx->fc.root);
	assert_int_equal(tcmu_recover_netlink_block(sys, &fx->logger), -ENODEV);
	mkdirs(fx->fc.root, "nosys/module/target_core_user", sys, sizeof(sys));
	snprintf(sys, sizeof(sys), "%s/nosys", fx->fc.root);
	assert_int_equal(tcmu_recover_netlink_block(sys, &fx->logger), -ENOENT);
	assert_non_null(strstr(fx->lines.text, "<4>[netlink]"));
	assert_non_null(strstr(fx->lines.text, "block_netlink"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_recover_blocks_resets_opens_unblocks),
		T(test_recover_missing_attributes_empty_ring),
		T(test_recover_missing_reset_refuses_a_used_ring),
		T(test_recover_open_fails_unblocks),
		T(test_recover_netlink_order),
		T(test_recover_netlink_missing_logged),
	};

	return cmocka_run_group_tests_name("recovery at start-up", tests, NULL, NULL);
}
