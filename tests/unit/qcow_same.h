/*
 * qcow_same: the same writes made three ways, so that a test can hold
 * the handler to what QEMU does. Each goes to a LUN now, as an initiator
 * sends it (WRITE(10), UNMAP, WRITE SAME(16)); to a reference raw file,
 * the model of what the LUN must read after; and, queued, to qemu-io,
 * which makes them on a copy of the image taken before the first
 * (qfx_same_qemu). qfx_same_judge then asks QEMU's tools about both
 * images.
 * The data of write i is qfx_fill(seed i + 1), kept in same<i>.bin for
 * qemu-io's write -s. An UNMAP (and WRITE SAME with the UNMAP bit) reads
 * zeros after on this LUN (LBPRZ), partial clusters too: qemu-io makes
 * it write -z -u, not discard (which leaves partial clusters as they
 * were). The LUN's blocks are 512 bytes.
 */
#ifndef QCOW_SAME_H
#define QCOW_SAME_H

#include <stdbool.h>
#include <stdint.h>

#include "qcow_fixture.h"

struct qfx_same {
	struct qfx *f;
	struct sim_dev *sd;
	const char *ref;		/* the reference raw file, in f->dir */
	char *cmds;			/* qemu-io's -c options so far (malloc'ed) */
	unsigned int n;			/* writes so far */
};

void qfx_same_init(struct qfx_same *s, struct qfx *f, struct sim_dev *sd, const char *ref);
void qfx_same_fini(struct qfx_same *s);
/* A WRITE(10) of @len bytes (a multiple of 512) at byte @off. */
void qfx_same_write(struct qfx_same *s, uint64_t off, size_t len);
/* @nr WRITE(10)s (@len[i] bytes at @off[i], none overlapping) queued
 * at once, to run on the handler's I/O threads together. */
void qfx_same_write_batch(struct qfx_same *s, const uint64_t *off, const size_t *len,
			  unsigned int nr);
/* An UNMAP of @len bytes at @off (qemu-io: write -z -u). */
void qfx_same_unmap(struct qfx_same *s, uint64_t off, uint64_t len);
/* A WRITE SAME(16) of one block over @len bytes at @off; with @unmap, a
 * zero block and the UNMAP bit (qemu-io: write -z -u). */
void qfx_same_write_same(struct qfx_same *s, uint64_t off, uint64_t len, bool unmap);
/* The whole LUN (@size bytes) reads as the reference; else the test
 * fails, naming @when and the first byte that differs (and its cluster,
 * of @cs bytes). */
void qfx_same_assert_lun(struct qfx_same *s, uint64_t size, uint32_t cs, const char *when);
/* qemu-io's turn: the writes so far on <dir>/<img>, in one run; fails
 * the test if qemu-io fails. */
void qfx_same_qemu(struct qfx_same *s, const char *img);
/*
 * QEMU's verdict (the LUN closed, qemu-io run): qemu-img check finds no
 * error and no leak in <dir>/<ours> (nor in <dir>/<theirs>, qemu-io's),
 * and qemu-img compare finds ours equal to theirs and to the reference.
 * Prints both images' allocation as qemu-img check counts it.
 */
void qfx_same_judge(struct qfx_same *s, const char *ours, const char *theirs);

#endif
