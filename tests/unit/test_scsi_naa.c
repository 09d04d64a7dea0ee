/*
 * VPD 0x83's NAA designator names the LUN for multipath and for EXTENDED
 * COPY: devices without a unit serial (made by hand in configfs) must
 * not all share one, and a serial that configfs shows later is used
 * from then on. Devices read their configfs from a fake tree.
 */
#include <string.h>

#include "dev_registry.h"
#include "fake_cfgfs.h"
#include "scsi_emulate.h"
#include "sim_dev.h"
#include "unit_test.h"

#define SERIAL "c0ffee00-1111-2222-3333-444455556666"

static struct sim_cmd *vpd83(struct sim_dev *sd)
{
	uint8_t cdb[6] = { INQUIRY, 0x01, 0x83, 0x01, 0x00, 0 };
	struct sim_cmd *c = sim_dev_run(sd, cdb, sizeof(cdb), NULL, 256);

	assert_good(c);
	return c;
}

/* The logical unit's NAA designator in a VPD 0x83 answer, or NULL. */
static const uint8_t *find_naa(const struct sim_cmd *c)
{
	size_t end = 4 + (c->data[2] << 8 | c->data[3]);

	for (size_t off = 4; off + 4 <= end; off += 4 + c->data[off + 3]) {
		const uint8_t *d = c->data + off;

		if ((d[1] & 0x3f) == 0x03)	/* LU association, NAA */
			return d + 4;
	}
	return NULL;
}

/* Nor may they share a T10 vendor id designator reading "LIO-ORG " alone. */
static bool has_t10_vendor(const struct sim_cmd *c)
{
	size_t end = 4 + (c->data[2] << 8 | c->data[3]);

	for (size_t off = 4; off + 4 <= end; off += 4 + c->data[off + 3])
		if ((c->data[off + 1] & 0x3f) == 0x01)
			return true;
	return false;
}

static struct sim_dev *serialless(struct fake_cfgfs *fc, const char *name)
{
	struct sim_dev_cfg cfg = { .serial = "", .name = name };
	struct sim_dev *sd;

	assert_int_equal(fake_cfgfs_new(fc, 1, name), 0);
	cfg.cfgfs_root = fc->root;
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	return sd;
}

static void test_naa_differs_or_absent_without_serial(void **state)
{
	struct fake_cfgfs fa, fb;
	struct sim_dev *a = serialless(&fa, "lun_a"), *b = serialless(&fb, "lun_b");
	struct sim_cmd *ca = vpd83(a), *cb = vpd83(b);
	const uint8_t *na = find_naa(ca), *nb = find_naa(cb);

	(void)state;
	if (na && nb)
		assert_memory_not_equal(na, nb, 16);
	assert_false(has_t10_vendor(ca) && has_t10_vendor(cb) &&
		     ca->data[3] == cb->data[3] && !memcmp(ca->data, cb->data, 4 + ca->data[3]));
	sim_dev_free(a);
	sim_dev_free(b);
	fake_cfgfs_free(&fa);
	fake_cfgfs_free(&fb);
}

/* rtslib writes the serial after enabling: from then on the NAA is the
 * serial's, and stays so (also across a re-creation by the same name). */
static void test_naa_from_serial_that_appears_later(void **state)
{
	static const uint8_t want[16] = {
		0x60, 0x01, 0x40, 0x5c, 0x0f, 0xfe, 0xe0, 0x01,
		0x11, 0x12, 0x22, 0x23, 0x33, 0x34, 0x44, 0x45,
	};
	struct fake_cfgfs fc;
	struct sim_dev *sd = serialless(&fc, "late");
	struct sim_dev_cfg cfg = { .serial = "", .name = "late", .cfgfs_root = fc.root };
	const uint8_t *naa;

	(void)state;
	assert_null(find_naa(vpd83(sd)));
	assert_int_equal(fake_cfgfs_write(&fc, "wwn/vpd_unit_serial",
					  "T10 VPD Unit Serial Number: " SERIAL "\n"), 0);
	naa = find_naa(vpd83(sd));
	assert_non_null(naa);
	assert_memory_equal(naa, want, 16);
	/* Kept: a later change in configfs does not move the LUN's name. */
	assert_int_equal(fake_cfgfs_write(&fc, "wwn/vpd_unit_serial", "ffffffff\n"), 0);
	assert_memory_equal(find_naa(vpd83(sd)), want, 16);
	sim_dev_free(sd);
	/* The same device made again (daemon restart) reads the same. */
	assert_int_equal(fake_cfgfs_write(&fc, "wwn/vpd_unit_serial", SERIAL "\n"), 0);
	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	assert_memory_equal(find_naa(vpd83(sd)), want, 16);
	sim_dev_free(sd);
	fake_cfgfs_free(&fc);
}

/* EXTENDED COPY finds its target LUN by NAA: a serial-less device must
 * never be taken for the one a designator names. */
static void test_naa_registry_skips_serialless(void **state)
{
	uint8_t empty_serial_naa[16] = { 0x60, 0x01, 0x40, 0x50 };
	struct sim_dev_cfg cfg = { .serial = SERIAL };
	struct fake_cfgfs fa, fb;
	struct sim_dev *a = serialless(&fa, "lun_a"), *b = serialless(&fb, "lun_b"), *s;
	struct dev_registry reg;
	struct tcmur_device *found;
	uint8_t naa[16];

	(void)state;
	assert_int_equal(sim_dev_new(&s, &cfg), 0);
	dev_registry_init(&reg);
	assert_int_equal(dev_registry_add(&reg, a->dev), 0);
	assert_int_equal(dev_registry_add(&reg, b->dev), 0);
	assert_int_equal(dev_registry_add(&reg, s->dev), 0);
	found = dev_registry_get_by_naa(&reg, empty_serial_naa);
	if (found)
		dev_registry_put(&reg, found);
	assert_null(found);
	assert_false(scsi_dev_naa(a->dev, naa));
	assert_true(scsi_dev_naa(s->dev, naa));
	found = dev_registry_get_by_naa(&reg, naa);
	assert_ptr_equal(found, s->dev);
	dev_registry_put(&reg, found);
	dev_registry_remove(&reg, a->dev);
	dev_registry_remove(&reg, b->dev);
	dev_registry_remove(&reg, s->dev);
	dev_registry_destroy(&reg);
	sim_dev_free(a);
	sim_dev_free(b);
	sim_dev_free(s);
	fake_cfgfs_free(&fa);
	fake_cfgfs_free(&fb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_naa_differs_or_absent_without_serial),
		cmocka_unit_test(test_naa_from_serial_that_appears_later),
		cmocka_unit_test(test_naa_registry_skips_serialless),
	};

	return cmocka_run_group_tests_name("scsi naa", tests, NULL, NULL);
}
