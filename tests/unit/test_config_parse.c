/*
 * Device names as the kernel gives them (UIO name "tcm-user/<hba>/<name>/
 * <subtype>/<cfg>") and the sysfs/configfs files read for a device, from
 * a fake tree in a temporary directory.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libtcmu.h"
#include "unit_test.h"

static void test_parse_good_name(void **state)
{
	struct tcmu_dev_info info = { .uio_minor = 7, .device_id = 9 };

	(void)state;
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/3/lun_0/file//var/lib/x.img"), 0);
	assert_int_equal(info.hba, 3);
	assert_string_equal(info.name, "lun_0");
	assert_string_equal(info.config, "file//var/lib/x.img");
	assert_string_equal(info.subtype, "file");
	assert_string_equal(tcmu_dev_info_handler_cfg(&info), "/var/lib/x.img");
	assert_ptr_equal(tcmu_dev_info_handler_cfg(&info), info.config + 5);
	/* Left as they were. */
	assert_int_equal(info.uio_minor, 7);
	assert_int_equal(info.device_id, 9);
}

static void test_parse_strips_newline(void **state)
{
	struct tcmu_dev_info info = { 0 };

	(void)state;
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/0/d/rbd/pool/img\n"), 0);
	assert_string_equal(info.config, "rbd/pool/img");
	assert_string_equal(info.subtype, "rbd");
	assert_string_equal(tcmu_dev_info_handler_cfg(&info), "pool/img");
}

static void test_parse_no_subtype(void **state)
{
	struct tcmu_dev_info info = { 0 };

	(void)state;
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/1/lun0/noslash"), 0);
	assert_string_equal(info.config, "noslash");
	assert_string_equal(info.subtype, "");
	assert_string_equal(tcmu_dev_info_handler_cfg(&info), "");
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/1/lun0/"), 0);
	assert_string_equal(info.subtype, "");
	assert_string_equal(tcmu_dev_info_handler_cfg(&info), "");
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/1/lun0//cfg"), 0);
	assert_string_equal(info.subtype, "");
	/* An empty handler config is still a subtype. */
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/1/lun0/file/"), 0);
	assert_string_equal(info.subtype, "file");
	assert_string_equal(tcmu_dev_info_handler_cfg(&info), "");
}

static void test_parse_missing_parts(void **state)
{
	static const char *bad[] = {
		"", "tcm-user", "tcm-user/", "tcm-user/1", "tcm-user/1/",
		"tcm-user/1/lun0", "tcm-user//lun0/file/x", "tcm-user/x/lun0/file/x",
		"tcm-user/1x/lun0/file/x", "tcm-user/1//file/x", "uio/1/lun0/file/x",
		"TCM-USER/1/lun0/file/x", "tcm-user/-1/lun0/file/x",
		"tcm-user/+1/lun0/file/x", "tcm-user/ 1/lun0/file/x",
		"tcm-user/4294967296/lun0/file/x",
		"tcm-user/99999999999999999999999/lun0/file/x",
	};
	struct tcmu_dev_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&info, 0, sizeof(info));
		if (tcmu_dev_info_parse(&info, bad[i]) != -EINVAL) {
			print_error("'%s' was not refused\n", bad[i]);
			fail();
		}
	}
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/4294967295/l/file/x"), 0);
	assert_int_equal(info.hba, 4294967295u);
}

static void test_parse_overlong(void **state)
{
	struct tcmu_dev_info info;
	char name[257], cfg[1025], buf[1500];

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	/* A name of 255 fits, 256 does not. */
	snprintf(buf, sizeof(buf), "tcm-user/1/%s/file/x", name);
	assert_int_equal(tcmu_dev_info_parse(&info, buf), -EINVAL);
	snprintf(buf, sizeof(buf), "tcm-user/1/%s/file/x", name + 1);
	assert_int_equal(tcmu_dev_info_parse(&info, buf), 0);
	assert_int_equal(strlen(info.name), 255);

	/* A config of 1023 fits, 1024 does not. */
	memset(cfg, 'c', sizeof(cfg) - 1);
	cfg[sizeof(cfg) - 1] = '\0';
	memcpy(cfg, "file/", 5);
	snprintf(buf, sizeof(buf), "tcm-user/1/n/%s", cfg);
	assert_int_equal(tcmu_dev_info_parse(&info, buf), -ENAMETOOLONG);
	cfg[1023] = '\0';
	snprintf(buf, sizeof(buf), "tcm-user/1/n/%s", cfg);
	assert_int_equal(tcmu_dev_info_parse(&info, buf), 0);
	assert_int_equal(strlen(info.config), 1023);
	assert_string_equal(info.subtype, "file");

	/* A subtype too long for its field is no subtype. */
	memset(cfg, 's', 64);
	strcpy(cfg + 64, "/x");
	snprintf(buf, sizeof(buf), "tcm-user/1/n/%s", cfg);
	assert_int_equal(tcmu_dev_info_parse(&info, buf), 0);
	assert_string_equal(info.subtype, "");
	cfg[63] = '/';
	snprintf(buf, sizeof(buf), "tcm-user/1/n/%s", cfg);
	assert_int_equal(tcmu_dev_info_parse(&info, buf), 0);
	assert_int_equal(strlen(info.subtype), 63);
}

/* ---- a fake sysfs and configfs -------------------------------------------- */

struct tree {
	char root[64];
};

static void mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
}

/* Write @text to @rel under the tree, making directories (NULL: only
 * the directories). */
static void put(struct tree *t, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	mkdir_p(path);
	if (!text)
		return;
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	snprintf(t->root, sizeof(t->root), "/tmp/tcmu-unit-tree-XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	if (system(cmd))
		return -1;
	free(t);
	return 0;
}

struct seen {
	int n;
	struct tcmu_dev_info info[4];
};

static int scan_fn(void *opaque, const struct tcmu_dev_info *info)
{
	struct seen *s = opaque;

	if (s->n < 4)
		s->info[s->n] = *info;
	s->n++;
	return 0;
}

static void test_uio_scan_finds_tcmu_devices(void **state)
{
	struct tree *t = *state;
	struct seen s = { 0 };
	struct tcmu_dev_info info = { 0 };

	put(t, "class/uio/uio0/name", "tcm-user/1/lun0/file//x.img\n");
	put(t, "class/uio/uio1/name", "some-other-uio\n");
	put(t, "class/uio/uio2/", NULL);
	put(t, "class/uio/uioX/name", "tcm-user/1/lunX/file//x.img\n");
	put(t, "class/uio/uio12/name", "tcm-user/2/lun12/mem/\n");
	assert_int_equal(tcmu_uio_scan(t->root, scan_fn, &s), 0);
	assert_int_equal(s.n, 2);
	for (int i = 0; i < 2; i++) {
		if (s.info[i].uio_minor == 0) {
			assert_string_equal(s.info[i].name, "lun0");
			/* A copy's handler part is its own (an offset). */
			assert_string_equal(s.info[i].config, "file//x.img");
			assert_string_equal(tcmu_dev_info_handler_cfg(&s.info[i]), "/x.img");
		} else {
			assert_int_equal(s.info[i].uio_minor, 12);
			assert_string_equal(s.info[i].subtype, "mem");
		}
	}
	assert_int_equal(tcmu_uio_info(t->root, 12, &info), 0);
	assert_int_equal(info.hba, 2);
	assert_int_equal(tcmu_uio_info(t->root, 1, &info), -EINVAL);
	assert_int_equal(tcmu_uio_info(t->root, 5, &info), -ENOENT);
}

static int stop_fn(void *opaque, const struct tcmu_dev_info *info)
{
	(void)info;
	++*(int *)opaque;
	return 42;
}

static void test_uio_scan_stops_and_copes_with_no_uio(void **state)
{
	struct tree *t = *state;
	int calls = 0;

	/* No class/uio at all: nothing to do. */
	assert_int_equal(tcmu_uio_scan(t->root, stop_fn, &calls), 0);
	put(t, "class/uio/uio0/name", "tcm-user/1/a/file/x\n");
	put(t, "class/uio/uio1/name", "tcm-user/1/b/file/x\n");
	assert_int_equal(tcmu_uio_scan(t->root, stop_fn, &calls), 42);
	assert_int_equal(calls, 1);
}

static void test_cfgfs_attributes(void **state)
{
	struct tree *t = *state;
	struct tcmu_dev_info info = { 0 };
	char buf[128];
	uint64_t v = 0;

	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/4/disk1/file//x"), 0);
	put(t, "target/core/user_4/disk1/attrib/dev_size", "1073741824\n");
	put(t, "target/core/user_4/disk1/attrib/hw_block_size", "4096\n");
	put(t, "target/core/user_4/disk1/attrib/bad", "lots\n");
	put(t, "target/core/user_4/disk1/wwn/vpd_unit_serial",
	    "T10 VPD Unit Serial Number: 6e0c3f4e-1c1b\n");
	assert_int_equal(tcmu_cfgfs_read_u64(&info, t->root, "attrib/dev_size", &v), 0);
	assert_int_equal(v, 1073741824);
	assert_int_equal(tcmu_cfgfs_read_u64(&info, t->root, "attrib/hw_block_size", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(tcmu_cfgfs_read_u64(&info, t->root, "attrib/bad", &v), -EINVAL);
	assert_int_equal(tcmu_cfgfs_read_u64(&info, t->root, "attrib/none", &v), -ENOENT);
	assert_int_equal(tcmu_cfgfs_read_str(&info, t->root, "wwn/vpd_unit_serial", buf,
					     sizeof(buf)), 0);
	assert_string_equal(buf, "T10 VPD Unit Serial Number: 6e0c3f4e-1c1b");
	/* A short buffer is cut, not overrun. */
	assert_int_equal(tcmu_cfgfs_read_str(&info, t->root, "wwn/vpd_unit_serial", buf, 4), 0);
	assert_string_equal(buf, "T10");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good_name),
		cmocka_unit_test(test_parse_strips_newline),
		cmocka_unit_test(test_parse_no_subtype),
		cmocka_unit_test(test_parse_missing_parts),
		cmocka_unit_test(test_parse_overlong),
		cmocka_unit_test_setup_teardown(test_uio_scan_finds_tcmu_devices, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_uio_scan_stops_and_copes_with_no_uio,
						tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cfgfs_attributes, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests_name("config parse", tests, NULL, NULL);
}
