/*
 * qcow_fixture: qcow2 images made by QEMU's own tools (qemu-img,
 * qemu-io) in a temporary directory, served by handler_qcow.so (loaded
 * as the daemon loads it) on a simulated device, and judged by those
 * tools again (qemu-img check, compare, convert). A missing qemu-img
 * fails the test: the tools are the judge, there is no test without them.
 */
#ifndef QCOW_FIXTURE_H
#define QCOW_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "handler_loader.h"
#include "sim_dev.h"

struct qfx {
	char dir[64];			/* the images' directory */
	struct handler_set set;
	const struct tcmur_handler *ops;	/* handler_qcow.so's table */
	char *out;			/* the last qfx_sh's output */
	struct log_cfg log;		/* the loader's: silent unless TEST_LOG */
};

/* A fresh directory and the handler loaded. 0 or -errno. */
int qfx_init(struct qfx *f);
/* Remove the directory and unload the handler. */
void qfx_fini(struct qfx *f);
/* cmocka fixtures: a struct qfx, initialised, in *state; and its end. */
int qfx_setup(void **state);
int qfx_teardown(void **state);
/* A cmocka test with those fixtures. */
#define QFX_TEST(fn) cmocka_unit_test_setup_teardown(fn, qfx_setup, qfx_teardown)
/* Run a shell command in f->dir; its output (stdout and stderr) in
 * f->out. Returns its exit status (127: not found, -1: no shell). */
int qfx_sh(struct qfx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A device on "qcow/<dir>/<name>" (name may carry ";format=raw") of
 * @size bytes; NULL if the handler refused to open it. */
struct sim_dev *qfx_dev(struct qfx *f, const char *name, uint64_t size,
			const struct log_cfg *log);
/* The handler's check_config on "<dir>/<name>": true, or false and the
 * reason (malloc'ed) in *why. */
bool qfx_check(struct qfx *f, const char *name, char **why);
/* READ(10)/WRITE(10) of @len bytes (a multiple of 512) at byte @off. */
struct sim_cmd *qfx_read(struct sim_dev *sd, uint64_t off, size_t len);
struct sim_cmd *qfx_write(struct sim_dev *sd, uint64_t off, const void *buf, size_t len);
/* UNMAP of @len bytes at byte @off (one descriptor). */
struct sim_cmd *qfx_unmap(struct sim_dev *sd, uint64_t off, uint64_t len);
/* That UNMAP's CDB and parameter list, to queue it yourself. */
void qfx_unmap_cdb(uint8_t cdb[10], uint8_t list[24], uint64_t off, uint64_t len);
/* The same bytes at @off of the file <dir>/<name> (a reference raw
 * image the test keeps beside the qcow2 one). 0 or -errno. */
int qfx_ref_write(struct qfx *f, const char *name, uint64_t off, const void *buf, size_t len);
/* Write @len bytes of pattern @seed (qfx_fill) at @off to the LUN and
 * the same to the file <dir>/<ref>; fails the test if either fails. */
void qfx_write_both(struct qfx *f, struct sim_dev *sd, const char *ref, uint64_t off,
		    size_t len, unsigned int seed);
/* The whole LUN read through the handler equals the file <dir>/<name>
 * (@size bytes); -1 if so, else the first byte offset that differs. */
int64_t qfx_lun_vs_file(struct qfx *f, struct sim_dev *sd, const char *name, uint64_t size);
/* @len bytes of a pattern that depends on @seed and the position. */
void qfx_fill(uint8_t *buf, size_t len, unsigned int seed);
/* Byte @i of that pattern. */
uint8_t qfx_fill_byte(unsigned int seed, size_t i);
/* The big-endian integer of @len (at most 8) bytes at @off of the file
 * @path (a header field of an image, say); fails the test if unreadable. */
uint64_t qfx_file_be(const char *path, uint64_t off, unsigned int len);

/* What a guest cluster of a v3 qcow2 image maps to, read from the file
 * as it stands (handler_qcow writes its tables through: an image it
 * serves too) by the format's layout, independently of qcow2_cluster.c. */
struct qfx_map {
	uint64_t entry;			/* its L2 entry; 0: unallocated */
	bool compressed, zero;		/* zero: the v3 zero flag */
	uint64_t host;			/* its data (compressed: the stream); 0: none */
	uint64_t first, last;		/* the host clusters that data lies in (a
					 * compressed stream may cross into the next) */
};
/* The mapping of guest byte @off of the image <dir>/<name>; fails the
 * test if the file is unreadable. */
void qfx_map(struct qfx *f, const char *name, uint64_t off, struct qfx_map *m);

#endif
