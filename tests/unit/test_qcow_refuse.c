/*
 * What handler_qcow will not serve it refuses up front, through
 * check_config (targetcli's CheckConfig) and again at open, with a
 * reason naming the file and what was found: a raw file or a text file
 * offered as qcow2 (its magic), a corrupt header, an unknown version,
 * encryption, an external data file, extended L2 entries, zstd
 * compression, the corrupt bit (also with the dirty bit), unknown
 * incompatible features, internal snapshots, a backing file that is
 * missing or of a format we do not read, a backing chain that loops, a
 * bad config; and a LUN whose size is not the image's (open only:
 * check_config has no size). The dirty bit alone is no refusal:
 * check_config passes it and changes nothing, open repairs it
 * (test_qcow_dirty.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_capture.h"
#include "qcow_fixture.h"
#include "unit_test.h"

/* Overwrite bytes of x.qcow2 at @off with @bytes (octal: sh's printf has no \\x). */
#define PATCH(off, bytes) "printf '" bytes "' | dd of=x.qcow2 bs=1 seek=" #off \
	" conv=notrunc status=none"
#define NEW "qemu-img create -q -f qcow2 "

static const struct refusal {
	const char *what, *make, *name, *reason;
} refusals[] = {
	{ "raw file", "qemu-img create -q -f raw x.qcow2 1M", "x.qcow2",
	  "not a qcow2 image: magic 0x00000000" },
	{ "text file", "echo hello > x.qcow2", "x.qcow2", "not a qcow2 image: magic 0x68656c6c" },
	{ "cluster_bits 30", NEW "x.qcow2 1M && " PATCH(20, "\\000\\000\\000\\036"), "x.qcow2",
	  "corrupt header: cluster_bits 30" },
	{ "L1 table too small", NEW "x.qcow2 4G && " PATCH(36, "\\000\\000\\000\\001"),
	  "x.qcow2", "corrupt header: L1 table of 1 entries" },
	/* size 2^64 - 1: rounding it up to whole L2 tables wrapped to 0, and
	 * an L1 table of 1 entry passed for it. */
	{ "virtual size 2^64 - 1", NEW "x.qcow2 1M && "
	  PATCH(24, "\\377\\377\\377\\377\\377\\377\\377\\377"), "x.qcow2",
	  "corrupt header: L1 table of 1 entries at 196608 for a size of 18446744073709551615" },
	{ "refcount table misaligned", NEW "x.qcow2 1M && " PATCH(55, "\\001"), "x.qcow2",
	  "corrupt header: refcount table of 8192 entries at 65537" },
	/* backing_file_offset 2^64 - 256, backing_file_size 256: offset
	 * plus size wraps to 0 (it once passed the bounds check and the name
	 * was copied from 256 bytes before the header cluster). */
	{ "backing name offset wraps", NEW "x.qcow2 1M && "
	  PATCH(8, "\\377\\377\\377\\377\\377\\377\\377\\000\\000\\000\\001\\000"),
	  "x.qcow2", "corrupt header: backing file name of 256 bytes at 18446744073709551360" },
	{ "backing chain loop", NEW "x.qcow2 1M && qemu-img rebase -u -b x.qcow2 -F qcow2 "
	  "x.qcow2", "x.qcow2", "backing chain deeper than 64 (a loop?)" },
	{ "version 4", NEW "x.qcow2 1M && " PATCH(4, "\\000\\000\\000\\004"), "x.qcow2",
	  "qcow2 version 4: not supported" },
	/* crypt_method set by hand: qemu-img's LUKS images take seconds to
	 * make (a key derivation benchmark) and sometimes fail ("Unable to
	 * get accurate CPU usage"); the old AES method it no longer makes. */
	{ "AES encryption", NEW "x.qcow2 1M && " PATCH(35, "\\001"), "x.qcow2",
	  "encrypted (crypt_method 1): not supported" },
	{ "LUKS encryption", NEW "x.qcow2 1M && " PATCH(35, "\\002"), "x.qcow2",
	  "encrypted (crypt_method 2): not supported" },
	{ "external data file", NEW "-o data_file=x.data x.qcow2 1M", "x.qcow2",
	  "external data file: not supported" },
	{ "extended L2", NEW "-o extended_l2=on x.qcow2 1M", "x.qcow2",
	  "extended L2 entries (subclusters): not supported" },
	{ "zstd", NEW "-o compression_type=zstd x.qcow2 1M", "x.qcow2",
	  "compression type other than zlib (zstd): not supported" },
	{ "dirty and corrupt bits", NEW "-o lazy_refcounts=on x.qcow2 1M && "
	  PATCH(79, "\\003"), "x.qcow2", "marked corrupt; repair it with qemu-img check -r all" },
	{ "corrupt bit", NEW "x.qcow2 1M && " PATCH(79, "\\002"), "x.qcow2",
	  "marked corrupt; repair it with qemu-img check -r all" },
	{ "unknown incompatible feature", NEW "x.qcow2 1M && " PATCH(78, "\\004"), "x.qcow2",
	  "unknown incompatible features 0x400" },
	{ "internal snapshot", NEW "x.qcow2 1M && qemu-img snapshot -c s1 x.qcow2", "x.qcow2",
	  "internal snapshots (1): not supported" },
	{ "dirty, internal snapshot", NEW "-o lazy_refcounts=on x.qcow2 1M && qemu-img snapshot "
	  "-c s1 x.qcow2 && " PATCH(79, "\\001"), "x.qcow2",
	  "internal snapshots (1): not supported" },
	{ "missing backing file", NEW "-b gone.qcow2 -F qcow2 -u x.qcow2 1M", "x.qcow2",
	  "x.qcow2: backing file gone.qcow2: /tmp" },
	{ "vmdk backing file", "qemu-img create -q -f vmdk b.vmdk 1M && "
	  NEW "-b b.vmdk -F vmdk x.qcow2 1M", "x.qcow2", "backing file b.vmdk: format vmdk not "
	  "supported (qcow2 or raw)" },
	{ "unknown format option", NEW "x.qcow2 1M", "x.qcow2;format=vmdk",
	  "format must be raw or qcow2" },
};

static void test_qcow_refuse_with_reason(void **state)
{
	struct qfx *f = *state;

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		char *why = NULL;

		assert_int_equal(qfx_sh(f, "rm -f x.* b.* && %s", r->make), 0);
		assert_false(qfx_check(f, r->name, &why));
		assert_non_null(why);
		print_message("%-28s %s\n", r->what, strstr(why, "/x.") ? strstr(why, "/x.") + 1
									: why);
		if (!strstr(why, r->reason))
			fail_msg("%s: reason \"%s\", want \"%s\"", r->what, why, r->reason);
		free(why);
		/* open refuses it too */
		assert_null(qfx_dev(f, r->name, 1 << 20, NULL));
	}
}

/* A relative path: refused before anything is opened. */
static void test_qcow_refuse_relative_path(void **state)
{
	struct qfx *f = *state;
	char *why = NULL;

	assert_false(f->ops->check_config("x.qcow2", &why));
	assert_non_null(why);
	assert_string_equal(why, "x.qcow2: path must be absolute");
	free(why);
}

/* A LUN of another size than the image's virtual size: open fails and
 * says both sizes; the image's own size opens. */
static void test_qcow_refuse_bad_size(void **state)
{
	struct qfx *f = *state;
	struct log_capture lc;
	struct sim_dev *sd;

	assert_int_equal(qfx_sh(f, NEW "x.qcow2 4M"), 0);
	assert_int_equal(log_capture_new(&lc), 0);
	assert_null(qfx_dev(f, "x.qcow2", 8 << 20, &lc.log));
	assert_int_equal(log_capture_count(&lc, "the LUN's size 8388608 differs from the "
					   "image's virtual size 4194304"), 1);
	log_capture_free(&lc);
	sd = qfx_dev(f, "x.qcow2", 4 << 20, NULL);
	assert_non_null(sd);
	sim_dev_free(sd);
}

/* A dirty image passes check_config, which leaves it as it was (it
 * opens read-only); open repairs it and clears the bit. */
static void test_qcow_refuse_dirty_passes_check_untouched(void **state)
{
	struct qfx *f = *state;
	struct sim_dev *sd;
	char *why = NULL;

	assert_int_equal(qfx_sh(f, NEW "-o lazy_refcounts=on x.qcow2 1M && "
				PATCH(79, "\\001") " && md5sum x.qcow2 > sum"), 0);
	if (!qfx_check(f, "x.qcow2", &why))
		fail_msg("check_config refused a dirty image: %s", why ? why : "(no reason)");
	assert_int_equal(qfx_sh(f, "md5sum -c sum"), 0);
	sd = qfx_dev(f, "x.qcow2", 1 << 20, NULL);
	assert_non_null(sd);
	sim_dev_free(sd);
	assert_int_equal(qfx_sh(f, "od -An -tx1 -j79 -N1 x.qcow2"), 0);
	assert_string_equal(f->out, " 00\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_refuse_with_reason),
		QFX_TEST(test_qcow_refuse_relative_path),
		QFX_TEST(test_qcow_refuse_bad_size),
		QFX_TEST(test_qcow_refuse_dirty_passes_check_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
