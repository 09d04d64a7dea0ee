/*
 * qcow_same: see qcow_same.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcow_same.h"
#include "unit_test.h"

void qfx_same_init(struct qfx_same *s, struct qfx *f, struct sim_dev *sd, const char *ref)
{
	memset(s, 0, sizeof(*s));
	s->f = f;
	s->sd = sd;
	s->ref = ref;
	s->cmds = strdup("");
	assert_non_null(s->cmds);
}

void qfx_same_fini(struct qfx_same *s)
{
	free(s->cmds);
	s->cmds = NULL;
}

/* @c (what: a command's name) completed GOOD; else the test fails,
 * naming it and its sense. */
static void assert_done(struct sim_cmd *c, const char *what, uint64_t off, uint64_t len)
{
	if (!c)
		fail_msg("%s of %llu bytes at %llu: no completion", what,
			 (unsigned long long)len, (unsigned long long)off);
	if (c->status != SAM_STAT_GOOD)
		fail_msg("%s of %llu bytes at %llu: status 0x%02x, sense %x/%02x/%02x", what,
			 (unsigned long long)len, (unsigned long long)off, c->status, c->key,
			 c->asc, c->ascq);
	assert_good(c);
}

/* Queue the qemu-io command "@cmd @off @len". */
static void queue(struct qfx_same *s, const char *cmd, uint64_t off, uint64_t len)
{
	char *all;

	assert_true(asprintf(&all, "%s -c '%s %llu %llu'", s->cmds, cmd,
			     (unsigned long long)off, (unsigned long long)len) > 0);
	free(s->cmds);
	s->cmds = all;
}

/* Write @len bytes to <dir>/<name> (created) at @off. */
static void file_put(struct qfx_same *s, const char *name, uint64_t off, const void *buf,
		     size_t len, bool create)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->f->dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

/* The model: @len bytes at @off of the reference file are @block
 * (@blen bytes) over and over. */
static void ref_fill(struct qfx_same *s, uint64_t off, uint64_t len, const uint8_t *block,
		     size_t blen)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	for (uint64_t done = 0; done < len; done += blen)
		memcpy(buf + done, block, blen);
	file_put(s, s->ref, off, buf, len, false);
	free(buf);
}

/* Write @len bytes of the next pattern into a new buffer (returned), and
 * into same<n>.bin for qemu-io. */
static uint8_t *next_data(struct qfx_same *s, size_t len)
{
	uint8_t *buf = malloc(len);
	char name[32];

	assert_non_null(buf);
	qfx_fill(buf, len, ++s->n);
	snprintf(name, sizeof(name), "same%u.bin", s->n);
	file_put(s, name, 0, buf, len, true);
	return buf;
}

/* The write of @n's data, done on the LUN: @len bytes at @off, @buf
 * (@blen bytes) over and over; into the model, and queued for qemu-io
 * (whose write -s repeats its file likewise). */
static void written(struct qfx_same *s, unsigned int n, uint64_t off, uint64_t len,
		    const uint8_t *buf, size_t blen)
{
	char cmd[48];

	ref_fill(s, off, len, buf, blen);
	snprintf(cmd, sizeof(cmd), "write -q -s same%u.bin", n);
	queue(s, cmd, off, len);
}

void qfx_same_write(struct qfx_same *s, uint64_t off, size_t len)
{
	uint8_t *buf = next_data(s, len);

	assert_done(qfx_write(s->sd, off, buf, len), "WRITE(10)", off, len);
	written(s, s->n, off, len, buf, len);
	free(buf);
}

void qfx_same_write_batch(struct qfx_same *s, const uint64_t *off, const size_t *len,
			  unsigned int nr)
{
	struct sim_cmd **c = calloc(nr, sizeof(*c));
	uint8_t **buf = calloc(nr, sizeof(*buf)), (*cdb)[10] = calloc(nr, 10);
	unsigned int first = s->n + 1;

	assert_true(c && buf && cdb);
	for (unsigned int i = 0; i < nr; i++) {
		struct sim_req req = { .cdb = cdb[i], .cdb_len = 10, .data_len = len[i] };

		req.data = buf[i] = next_data(s, len[i]);
		sim_rw10(cdb[i], WRITE_10, off[i] / 512, len[i] / 512);
		assert_int_equal(ring_sim_queue(s->sd->sim, &req, &c[i]), 0);
	}
	ring_sim_notify(s->sd->sim);
	assert_int_equal(ring_sim_wait(s->sd->sim, NULL, SIM_DEV_TIMEOUT_MS), 0);
	for (unsigned int i = 0; i < nr; i++) {
		assert_done(c[i], "WRITE(10), queued with others,", off[i], len[i]);
		written(s, first + i, off[i], len[i], buf[i], len[i]);
		free(buf[i]);
	}
	free(cdb);
	free(buf);
	free(c);
}

void qfx_same_unmap(struct qfx_same *s, uint64_t off, uint64_t len)
{
	static const uint8_t zero[512];

	s->n++;
	assert_done(qfx_unmap(s->sd, off, len), "UNMAP", off, len);
	ref_fill(s, off, len, zero, sizeof(zero));
	queue(s, "write -q -z -u", off, len);
}

void qfx_same_write_same(struct qfx_same *s, uint64_t off, uint64_t len, bool unmap)
{
	uint8_t cdb[16] = { WRITE_SAME_16, unmap ? 0x08 : 0 };
	uint8_t *block = unmap ? calloc(1, 512) : next_data(s, 512);

	assert_non_null(block);
	s->n += unmap;
	tcmu_put_be64(cdb + 2, off / 512);
	tcmu_put_be32(cdb + 10, len / 512);
	assert_done(sim_dev_run(s->sd, cdb, sizeof(cdb), block, 512),
		    unmap ? "WRITE SAME(16) with UNMAP" : "WRITE SAME(16)", off, len);
	if (unmap) {
		ref_fill(s, off, len, block, 512);
		queue(s, "write -q -z -u", off, len);
	} else {
		written(s, s->n, off, len, block, 512);
	}
	free(block);
}

void qfx_same_qemu(struct qfx_same *s, const char *img)
{
	int rc = qfx_sh(s->f, "qemu-io -f qcow2 %s %s", s->cmds, img);

	if (rc != 0 || strstr(s->f->out, "failed"))
		fail_msg("qemu-io on %s: exit %d:\n%s", img, rc, s->f->out);
}

/* qemu-img check of @img: no error, no leak; its allocation printed. */
static void check_clean(struct qfx_same *s, const char *img, const char *who)
{
	int rc = qfx_sh(s->f, "qemu-img check %s", img);
	const char *stats;

	if (rc != 0 || !strstr(s->f->out, "No errors were found on the image."))
		fail_msg("qemu-img check %s (%s): exit %d:\n%s", img, who, rc, s->f->out);
	stats = strstr(s->f->out, "allocated");
	while (stats && stats > s->f->out && stats[-1] != '\n')
		stats--;
	print_message("%s: %.*s", who, stats ? (int)strcspn(stats, "\n") + 1 : 1,
		      stats ? stats : "\n");
}

void qfx_same_judge(struct qfx_same *s, const char *ours, const char *theirs)
{
	int rc;

	check_clean(s, ours, "the handler's");
	check_clean(s, theirs, "qemu-io's");
	rc = qfx_sh(s->f, "qemu-img compare -q %s %s", ours, theirs);
	if (rc != 0)
		fail_msg("qemu-img compare %s (the handler's) %s (qemu-io's): exit %d:\n%s",
			 ours, theirs, rc, s->f->out);
	rc = qfx_sh(s->f, "qemu-img compare -F raw %s %s", ours, s->ref);
	if (rc != 0)
		fail_msg("qemu-img compare %s %s: exit %d:\n%s", ours, s->ref, rc, s->f->out);
}

void qfx_same_assert_lun(struct qfx_same *s, uint64_t size, uint32_t cs, const char *when)
{
	int64_t bad = qfx_lun_vs_file(s->f, s->sd, s->ref, size);

	if (bad >= 0)
		fail_msg("%s: byte %lld (guest cluster %lld, byte %lld in it) differs from the "
			 "model", when, (long long)bad, (long long)(bad / cs),
			 (long long)(bad % cs));
}
