/*
 * qcow_fixture: see qcow_fixture.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qcow_fixture.h"
#include "scsi_defs.h"
#include "unit_test.h"

int qfx_init(struct qfx *f)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct handler *h;
	int err;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%.40s/tcmu-qcow-XXXXXX", tmp);
	if (!mkdtemp(f->dir))
		return -errno;
	sim_log_init(&f->log);
	err = handler_set_load_file(&f->set, UNIT_BUILD_DIR "/handler_qcow.so", &f->log);
	if (err)
		return err;
	h = handler_set_find(&f->set, "qcow");
	if (!h)
		return -ENOENT;
	f->ops = &h->ops;
	return 0;
}

void qfx_fini(struct qfx *f)
{
	if (f->dir[0])
		qfx_sh(f, "rm -rf '%s'", f->dir);
	handler_set_clear(&f->set);
	sim_log_fini(&f->log);
	free(f->out);
	f->out = NULL;
}

int qfx_setup(void **state)
{
	struct qfx *f = calloc(1, sizeof(*f));

	if (!f || qfx_init(f)) {
		if (f)
			qfx_fini(f);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int qfx_teardown(void **state)
{
	qfx_fini(*state);
	free(*state);
	return 0;
}

int qfx_sh(struct qfx *f, const char *fmt, ...)
{
	char *cmd = NULL, *full = NULL;
	size_t cap = 0, len = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (!cmd || asprintf(&full, "cd '%s' && { %s ; } 2>&1", f->dir, cmd) < 0) {
		free(cmd);
		return -1;
	}
	free(cmd);
	free(f->out);
	f->out = NULL;
	p = popen(full, "r");
	free(full);
	if (!p)
		return -1;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *n = realloc(f->out, cap + 65536);

			if (!n)
				break;
			f->out = n;
			cap += 65536;
		}
		size_t got = fread(f->out + len, 1, cap - len - 1, p);

		if (!got)
			break;
		len += got;
	}
	if (f->out)
		f->out[len] = 0;
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)	/* a failure, not a skip */
		fprintf(stderr, "qfx_sh: command not found (are qemu-utils installed?): %s\n",
			f->out ? f->out : "");
	if (getenv("TEST_LOG"))
		fprintf(stderr, "qfx_sh: exit %d: %s\n", WEXITSTATUS(st), f->out ? f->out : "");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct sim_dev *qfx_dev(struct qfx *f, const char *name, uint64_t size,
			const struct log_cfg *log)
{
	char cfg[256];
	struct sim_dev_cfg c = { .ops = f->ops, .handler_cfg = cfg, .size = size,
				 .serial = SIM_DEV_SERIAL, .log = log ? log : &f->log };
	struct sim_dev *sd;

	/* sim_device.c's own open, not sim_dev_new: that one links in
	 * handler_file.c, whose tcmur_handler_entry would clash with the
	 * plugin's (ASan's ODR check). */
	snprintf(cfg, sizeof(cfg), "%s/%s", f->dir, name);
	return sim_dev_open(&sd, &c) ? NULL : sd;
}

bool qfx_check(struct qfx *f, const char *name, char **why)
{
	char cfg[256];

	snprintf(cfg, sizeof(cfg), "%s/%s", f->dir, name);
	*why = NULL;
	return f->ops->check_config(cfg, why);
}

static struct sim_cmd *qfx_rw(struct sim_dev *sd, uint8_t op, uint64_t off,
			      const void *buf, size_t len)
{
	uint8_t cdb[10];

	sim_rw10(cdb, op, off / 512, len / 512);
	return sim_dev_run(sd, cdb, sizeof(cdb), buf, len);
}

struct sim_cmd *qfx_read(struct sim_dev *sd, uint64_t off, size_t len)
{
	return qfx_rw(sd, READ_10, off, NULL, len);
}

struct sim_cmd *qfx_write(struct sim_dev *sd, uint64_t off, const void *buf, size_t len)
{
	return qfx_rw(sd, WRITE_10, off, buf, len);
}

void qfx_unmap_cdb(uint8_t cdb[10], uint8_t list[24], uint64_t off, uint64_t len)
{
	memset(cdb, 0, 10);
	memset(list, 0, 24);
	cdb[0] = UNMAP;
	tcmu_put_be16(cdb + 7, 24);
	tcmu_put_be16(list, 22);
	tcmu_put_be16(list + 2, 16);
	tcmu_put_be64(list + 8, off / 512);
	tcmu_put_be32(list + 16, len / 512);
}

struct sim_cmd *qfx_unmap(struct sim_dev *sd, uint64_t off, uint64_t len)
{
	uint8_t cdb[10], list[24];

	qfx_unmap_cdb(cdb, list, off, len);
	return sim_dev_run(sd, cdb, sizeof(cdb), list, sizeof(list));
}

int qfx_ref_write(struct qfx *f, const char *name, uint64_t off, const void *buf, size_t len)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pwrite(fd, buf, len, off) != (ssize_t)len)
		err = -EIO;
	close(fd);
	return err;
}

void qfx_write_both(struct qfx *f, struct sim_dev *sd, const char *ref, uint64_t off,
		    size_t len, unsigned int seed)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	qfx_fill(buf, len, seed);
	assert_good(qfx_write(sd, off, buf, len));
	assert_int_equal(qfx_ref_write(f, ref, off, buf, len), 0);
	free(buf);
}

int64_t qfx_lun_vs_file(struct qfx *f, struct sim_dev *sd, const char *name, uint64_t size)
{
	const size_t chunk = 256 * 1024;
	uint8_t *want = malloc(chunk);
	char path[256];
	int64_t bad = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !want) {
		free(want);
		return 0;
	}
	for (uint64_t off = 0; off < size && bad < 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		struct sim_cmd *c = qfx_read(sd, off, n);

		memset(want, 0, n);
		if (pread(fd, want, n, off) < 0 || !c || c->status != SAM_STAT_GOOD) {
			bad = off;
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (c->data[i] != want[i]) {
				bad = off + i;
				break;
			}
		ring_sim_cmd_free(sd->sim, c);
	}
	close(fd);
	free(want);
	return bad;
}

uint8_t qfx_fill_byte(unsigned int seed, size_t i)
{
	return (uint8_t)(seed * 131 + i / 512 * 7 + (i % 512) + 1);
}

void qfx_fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = qfx_fill_byte(seed, i);
}

uint64_t qfx_file_be(const char *path, uint64_t off, unsigned int len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, len, off), (ssize_t)len);
	close(fd);
	for (unsigned int i = 0; i < len; i++)
		v = v << 8 | b[i];
	return v;
}

void qfx_map(struct qfx *f, const char *name, uint64_t off, struct qfx_map *m)
{
	const uint64_t offset_mask = 0x00fffffffffffe00ULL;
	char path[256];
	uint64_t bits, ci, per, l2;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	memset(m, 0, sizeof(*m));
	bits = qfx_file_be(path, 20, 4);	/* cluster_bits */
	ci = off >> bits;
	per = (1ULL << bits) / 8;		/* entries per L2 table */
	if (ci / per >= qfx_file_be(path, 36, 4))	/* l1_size */
		return;
	l2 = qfx_file_be(path, qfx_file_be(path, 40, 8) + ci / per * 8, 8) & offset_mask;
	if (!l2)
		return;
	m->entry = qfx_file_be(path, l2 + ci % per * 8, 8);
	if (m->entry >> 62 & 1) {
		/* host offset in the low 62 - (bits - 8) bits; above them the
		 * count of 512-byte sectors past the first, less one */
		unsigned int x = 62 - (bits - 8);
		uint64_t sectors = (m->entry >> x & ((1ULL << (bits - 8)) - 1)) + 1;

		m->compressed = true;
		m->host = m->entry & ((1ULL << x) - 1);
		m->first = m->host >> bits;
		m->last = (m->host + sectors * 512 - (m->host & 511) - 1) >> bits;
		return;
	}
	m->zero = m->entry & 1;
	m->host = m->entry & offset_mask;
	m->first = m->last = m->host >> bits;
}
