/*
 * Compressed clusters as qemu-img convert -c packs them: the deflate
 * streams of many guest clusters back to back in the file, several to a
 * host cluster and some crossing into the next, so that a host cluster's
 * refcount counts the streams that touch it. Through the LUN, as an
 * initiator sees it: the image first reads as the raw file it was made
 * from; then 512-byte writes into compressed clusters (inflated, merged
 * and written to a new cluster, the neighbours' streams left where they
 * were), whole and multi-cluster writes, WRITE SAME, UNMAP and WRITE
 * SAME with the UNMAP bit over compressed clusters, whole and partial,
 * and after those, writes that allocate (taking host clusters the
 * discards freed) and writes in place. The LUN then reads what a model
 * of it holds, and again after a reopen; and QEMU agrees: qemu-img check
 * finds the refcounts right (no error, no leak: the handler documents
 * none), and qemu-img compare finds the image equal to the model and to
 * what qemu-io made of a copy by the same writes. 512-byte, 4 KiB and
 * 64 KiB clusters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log_capture.h"
#include "qcow_fixture.h"
#include "qcow_same.h"
#include "unit_test.h"

#define NCL 64		/* guest clusters */
#define PACKED 40	/* clusters [0, PACKED) all compress: streams back to back */

enum kind { K_ZERO, K_CONST, K_TEXT, K_HALF, K_RANDOM };

/* What guest cluster @i holds: in [0, PACKED) only data that compresses
 * (a stream of a few bytes, a tenth, a half of a cluster), after it
 * unallocated clusters and data that does not compress (QEMU stores it
 * uncompressed) too. */
static enum kind kind_of(unsigned int i)
{
	static const enum kind packed[4] = { K_CONST, K_TEXT, K_HALF, K_CONST };
	static const enum kind mixed[8] = { K_ZERO, K_CONST, K_CONST, K_CONST, K_TEXT,
					    K_TEXT, K_RANDOM, K_HALF };

	return i < PACKED ? packed[i % 4] : mixed[i % 8];
}

static void src_cluster(uint8_t *b, uint32_t cs, unsigned int i)
{
	uint32_t x = i * 2654435761u + 1;
	char line[48];

	switch (kind_of(i)) {
	case K_ZERO:
		memset(b, 0, cs);
		break;
	case K_CONST:
		memset(b, (i * 37) | 1, cs);
		break;
	case K_TEXT:
		for (size_t n = 0; n < cs;) {
			size_t l = snprintf(line, sizeof(line), "cluster %u line %zu\n", i, n);

			memcpy(b + n, line, l < cs - n ? l : cs - n);
			n += l;
		}
		break;
	case K_HALF:
	case K_RANDOM:
		for (size_t n = 0; n < cs; n++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			b[n] = x;
		}
		if (kind_of(i) == K_HALF)
			memset(b + cs / 2, 0, cs / 2);
		break;
	}
}

/* src.raw (and ref.raw, the model) of NCL clusters of @cs bytes, and
 * c.qcow2 made from it by qemu-img convert -c (with -o @opts too),
 * q.qcow2 a copy. */
static void make_image(struct qfx *f, uint32_t cs, const char *opts)
{
	uint8_t *b = malloc(cs);
	char path[128];
	FILE *out;

	assert_non_null(b);
	snprintf(path, sizeof(path), "%s/src.raw", f->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	for (unsigned int i = 0; i < NCL; i++) {
		src_cluster(b, cs, i);
		assert_int_equal(fwrite(b, 1, cs, out), cs);
	}
	assert_int_equal(fclose(out), 0);
	free(b);
	assert_int_equal(qfx_sh(f, "cp src.raw ref.raw && qemu-img convert -c -O qcow2 -o "
				"cluster_size=%u%s src.raw c.qcow2 && cp c.qcow2 q.qcow2", cs, opts),
			 0);
}

/* The packed clusters are compressed, and share host clusters: note
 * those whose stream crosses into the next host cluster in @span (their
 * count the return), at least three if @crossing; else other packed
 * clusters make up three. */
static unsigned int survey(struct qfx *f, uint32_t cs, unsigned int span[PACKED], bool crossing)
{
	static const unsigned int stand_in[3] = { 3, 20, 39 };
	unsigned int n = 0, most = 0, here = 0;
	struct qfx_map m, prev = { 0 };

	for (unsigned int i = 0; i < NCL; i++) {
		qfx_map(f, "c.qcow2", (uint64_t)i * cs, &m);
		if (kind_of(i) == K_ZERO || kind_of(i) == K_RANDOM) {
			assert_false(m.compressed);	/* unallocated, or stored whole */
			continue;
		}
		if (!m.compressed)
			fail_msg("guest cluster %u (kind %d): L2 entry %#llx, not compressed", i,
				 kind_of(i), (unsigned long long)m.entry);
		if (i >= PACKED)
			continue;
		if (m.first != m.last && i)	/* (cluster 0 has no left neighbour) */
			span[n++] = i;
		here = i && m.first == prev.last ? here + 1 : 1;
		most = here > most ? here : most;
		if (m.first != m.last)
			here = 1;	/* the next host cluster: this stream so far */
		prev = m;
	}
	print_message("%u-byte clusters: %u compressed streams packed, %u crossing into the "
		      "next host cluster, up to %u touching one host cluster\n", cs,
		      PACKED, n, most);
	assert_true(most >= 3);
	assert_true(n >= 3 || !crossing);
	for (; n < 3; n++)
		span[n] = stand_in[n];
	return n;
}

/* Guest cluster @i of the open image: no longer compressed, and its
 * neighbours' streams still where they were (@before: their maps). */
static void assert_moved(struct qfx *f, uint32_t cs, unsigned int i, const struct qfx_map *before)
{
	struct qfx_map m;

	qfx_map(f, "c.qcow2", (uint64_t)i * cs, &m);
	assert_false(m.compressed);
	assert_true(m.host != 0);
	assert_true(m.first != before[1].first && m.first != before[1].last);
	for (int d = -1; d <= 1; d += 2) {
		qfx_map(f, "c.qcow2", (uint64_t)(i + d) * cs, &m);
		assert_int_equal(m.entry, before[1 + d].entry);
	}
}

/* The writes, UNMAPs and WRITE SAMEs, on the LUN, the model and queued
 * for qemu-io; @span: packed clusters whose stream crosses host clusters. */
static void rewrite(struct qfx *f, struct qfx_same *s, uint32_t cs, const unsigned int *span,
		    unsigned int nspan)
{
	uint64_t h = cs / 2 / 512 * 512;	/* mid-cluster (0: 512-byte clusters) */
	struct qfx_map around[3];

#define C(i) ((uint64_t)(i) * cs)
	for (int d = -1; d <= 1; d++)
		qfx_map(f, "c.qcow2", C(span[0] + d), &around[1 + d]);
	qfx_same_write(s, C(span[0]) + h, 512);	/* a stream over two host clusters */
	assert_moved(f, cs, span[0], around);
	qfx_same_write(s, C(2) + cs - 512, 512);	/* the last block of a cluster */
	qfx_same_write(s, C(5), cs);			/* a whole cluster */
	qfx_same_write(s, C(8) + h, 3 * cs);		/* partial, whole, whole, partial */
	qfx_same_write_same(s, C(13) + 512, 2 * cs, false);
	qfx_same_unmap(s, C(span[nspan / 2]), cs);	/* a whole cluster */
	/* A run of streams long enough to hold whole host clusters: those
	 * are freed, and taken by the writes that allocate below. */
	qfx_same_unmap(s, C(16), 12 * cs);
	qfx_same_unmap(s, C(29) + h, 512);		/* partial: zeros merged */
	qfx_same_unmap(s, C(31) + h, cs);		/* two partial */
	qfx_same_write_same(s, C(34), cs + (h ? h : cs), true);
	qfx_same_write(s, C(span[nspan - 1]) + cs - 512, 512);
	qfx_same_write(s, C(40), cs);			/* unallocated */
	qfx_same_write(s, C(48) + h, 512);
	qfx_same_write(s, C(56), 2 * cs);		/* unallocated, then compressed */
	qfx_same_write(s, C(37), 2 * cs);		/* two compressed, whole */
	qfx_same_unmap(s, C(33), cs);
	qfx_same_write(s, C(33) + h, 512);		/* into what was just unmapped */
	/* In place. */
	qfx_same_write(s, C(5) + cs - 512, 512);
	qfx_same_write(s, C(46) + h, 512);		/* stored uncompressed */
	qfx_same_unmap(s, C(0), 2 * cs);		/* never touched */
#undef C
}

/* How many guest clusters that were compressed now have data in a host
 * cluster below @end, the file's end before the writes: one that held
 * compressed streams, freed and allocated again. */
static unsigned int reused(struct qfx *f, uint32_t cs, uint64_t end)
{
	unsigned int n = 0;
	struct qfx_map m;

	for (unsigned int i = 0; i < NCL; i++) {
		qfx_map(f, "c.qcow2", (uint64_t)i * cs, &m);
		n += kind_of(i) != K_RANDOM && !m.compressed && m.host && m.host < end;
	}
	return n;
}

static void compressed_case(struct qfx *f, uint32_t cs, const char *opts, bool crossing)
{
	unsigned int span[PACKED], nspan, again;
	struct qfx_same s;
	struct sim_dev *sd;
	char path[128];
	struct stat st;

	make_image(f, cs, opts);
	nspan = survey(f, cs, span, crossing);
	snprintf(path, sizeof(path), "%s/c.qcow2", f->dir);
	assert_int_equal(stat(path, &st), 0);
	sd = qfx_dev(f, "c.qcow2", (uint64_t)NCL * cs, NULL);
	assert_non_null(sd);
	qfx_same_init(&s, f, sd, "ref.raw");
	qfx_same_assert_lun(&s, (uint64_t)NCL * cs, cs, "as made");
	rewrite(f, &s, cs, span, nspan);
	qfx_same_assert_lun(&s, (uint64_t)NCL * cs, cs, "after the writes");
	sim_dev_free(sd);
	s.sd = qfx_dev(f, "c.qcow2", (uint64_t)NCL * cs, NULL);
	assert_non_null(s.sd);
	qfx_same_assert_lun(&s, (uint64_t)NCL * cs, cs, "reopened");
	sim_dev_free(s.sd);
	qfx_same_qemu(&s, "q.qcow2");
	qfx_same_judge(&s, "c.qcow2", "q.qcow2");
	qfx_same_fini(&s);
	again = reused(f, cs, st.st_size);
	print_message("%u guest clusters written took host clusters of freed streams\n", again);
	assert_true(again >= 1);
}

static void test_qcow_compressed_512(void **state)
{
	compressed_case(*state, 512, "", true);
}

static void test_qcow_compressed_4k(void **state)
{
	compressed_case(*state, 4096, "", true);
}

static void test_qcow_compressed_64k(void **state)
{
	compressed_case(*state, 65536, "", true);
}

/* 2-bit refcounts, four to a byte: QEMU puts at most 3 streams in a
 * host cluster (and, QEMU 7.2, none crosses into the next). */
static void test_qcow_compressed_refcount_bits_2(void **state)
{
	compressed_case(*state, 4096, ",refcount_bits=2", false);
}

/* A 512-byte write into every packed cluster, all queued at once: the
 * handler's I/O threads free the streams of shared host clusters
 * together (and allocate the ones freed). */
static void test_qcow_compressed_concurrent(void **state)
{
	const uint32_t cs = 4096;
	uint64_t off[PACKED];
	size_t len[PACKED];
	unsigned int span[PACKED];
	struct qfx *f = *state;
	struct qfx_same s;

	make_image(f, cs, "");
	survey(f, cs, span, true);
	qfx_same_init(&s, f, qfx_dev(f, "c.qcow2", (uint64_t)NCL * cs, NULL), "ref.raw");
	assert_non_null(s.sd);
	for (unsigned int round = 0; round < 2; round++) {
		for (unsigned int i = 0; i < PACKED; i++) {
			off[i] = (uint64_t)i * cs + (i * 512 + round * 2048) % cs;
			len[i] = 512;
		}
		qfx_same_write_batch(&s, off, len, PACKED);	/* then in place */
	}
	qfx_same_assert_lun(&s, (uint64_t)NCL * cs, cs, "after the writes");
	sim_dev_free(s.sd);
	qfx_same_qemu(&s, "q.qcow2");
	qfx_same_judge(&s, "c.qcow2", "q.qcow2");
	qfx_same_fini(&s);
}

/* How many lines of qemu-img check's last output name a cluster whose
 * refcount is wrong (too high: leaked; too low: an error). */
static unsigned int refcounts_wrong(struct qfx *f)
{
	unsigned int n = 0;

	for (const char *p = f->out; (p = strstr(p, " cluster ")); p++)
		n += strstr(p, "refcount=") && strchr(p, '\n') > strstr(p, "refcount=");
	return n;
}

/*
 * Lazy refcounts, and a qemu-io that aborts after writing over packed
 * streams: the image is dirty, the refcounts of shared host clusters
 * stale (too high where streams were replaced, 0 for new clusters). The
 * open rebuilds them, counting each stream in every host cluster it
 * touches: as many fixed as qemu-img check finds wrong, and what the
 * LUN does after leaves every count exact.
 */
static void test_qcow_compressed_dirty(void **state)
{
	const uint32_t cs = 4096;
	struct qfx *f = *state;
	struct log_capture lc;
	struct qfx_same s;
	unsigned int wrong;
	char *line;

	make_image(f, cs, ",lazy_refcounts=on");
	qfx_sh(f, "qemu-io -f qcow2 -c 'write -q -P 0x11 4k 8k' -c 'write -q -P 0x12 69632 512' "
	       "-c 'write -q -P 0x13 200k 4k' -c abort c.qcow2");
	assert_int_equal(qfx_sh(f, "cp c.qcow2 q.qcow2 && qemu-img convert -O raw c.qcow2 "
				"ref.raw && od -An -j79 -N1 -tu1 c.qcow2"), 0);
	assert_int_equal(strtol(f->out, NULL, 10) & 1, 1);	/* dirty */
	assert_int_equal(qfx_sh(f, "qemu-img check c.qcow2"), 2);
	wrong = refcounts_wrong(f);
	assert_int_equal(log_capture_new(&lc), 0);
	qfx_same_init(&s, f, qfx_dev(f, "c.qcow2", (uint64_t)NCL * cs, &lc.log), "ref.raw");
	assert_non_null(s.sd);
	line = log_capture_line(&lc, "refcounts rebuilt");
	assert_non_null(line);
	print_message("qemu-img check: %u refcounts wrong; the handler: %s\n", wrong,
		      strstr(line, "refcounts rebuilt"));
	assert_non_null(strstr(line, "refcounts rebuilt: "));
	assert_int_equal(strtoul(strstr(line, "rebuilt: ") + 9, NULL, 10), wrong);
	free(line);
	qfx_same_assert_lun(&s, (uint64_t)NCL * cs, cs, "repaired");
	for (unsigned int i = 0; i < PACKED; i += 3)	/* streams freed */
		qfx_same_write(&s, (uint64_t)i * cs + 1024, 512);
	qfx_same_unmap(&s, 16 * cs, 12 * cs);
	qfx_same_write(&s, 40 * cs, 2 * cs);
	qfx_same_assert_lun(&s, (uint64_t)NCL * cs, cs, "after the writes");
	sim_dev_free(s.sd);
	log_capture_free(&lc);
	qfx_same_qemu(&s, "q.qcow2");	/* QEMU repairs its copy at open */
	qfx_same_judge(&s, "c.qcow2", "q.qcow2");
	qfx_same_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_compressed_512),
		QFX_TEST(test_qcow_compressed_4k),
		QFX_TEST(test_qcow_compressed_64k),
		QFX_TEST(test_qcow_compressed_refcount_bits_2),
		QFX_TEST(test_qcow_compressed_concurrent),
		QFX_TEST(test_qcow_compressed_dirty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
