/*
 * glfs_cfg (handler_glfs): the config string's volume, hosts, path and
 * options; ;create is off unless asked for, and an unknown option is
 * refused with a reason. No gfapi: the files are compiled in here, as
 * handler_glfs.so compiles them in.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_test.h"
#include "../../glfs_cfg.c"
#include "../../glfs_ping.c"

static void test_fields(void **state)
{
	const char *why = NULL;
	struct glfs_cfg c;

	(void)state;
	assert_int_equal(glfs_cfg_parse("vol@h1,h2:24017/luns/a.img", &c, &why), 0);
	assert_string_equal(c.key.volume, "vol");
	assert_string_equal(c.key.hosts, "h1,h2:24017");
	assert_string_equal(c.path, "/luns/a.img");
	assert_int_equal(c.key.nhosts, 2);
	assert_string_equal(c.key.host[0], "h1");
	assert_int_equal(c.key.port[0], 24007);
	assert_string_equal(c.key.host[1], "h2");
	assert_int_equal(c.key.port[1], 24017);
	assert_int_equal(c.key.ping, GLFS_PING_DEFAULT);
	assert_false(c.create);		/* never a blank disk unless asked */
	glfs_cfg_free(&c);
}

static void test_create(void **state)
{
	static const char *const asks[] = {
		"vol@h/a.img;create", "vol@h/a.img;ping_timeout=5;create",
		"vol@h/a.img;create;ping_timeout=5",
	};
	const char *why = NULL;
	struct glfs_cfg c;

	(void)state;
	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		assert_int_equal(glfs_cfg_parse(asks[i], &c, &why), 0);
		assert_true(c.create);
		assert_string_equal(c.path, "/a.img");
		assert_int_equal(c.key.ping, i ? 5 : GLFS_PING_DEFAULT);
		glfs_cfg_free(&c);
	}
}

/* Once the first open made the image, the config loses ;create only. */
static void test_without_create(void **state)
{
	static const char *const cases[][2] = {
		{ "v@h/a.img;create", "v@h/a.img" },
		{ "v@h/a.img;create;ping_timeout=5", "v@h/a.img;ping_timeout=5" },
		{ "v@h1,h2:24008/d/a.img;ping_timeout=volume;create",
		  "v@h1,h2:24008/d/a.img;ping_timeout=volume" },
		{ "v@h/a.img;create;create", "v@h/a.img" },
		{ "v@h/a.img;ping_timeout=5", "v@h/a.img;ping_timeout=5" },
		{ "v@h/a.img", "v@h/a.img" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = glfs_cfg_without_create(cases[i][0]);
		const char *why;
		struct glfs_cfg c;

		assert_non_null(out);
		assert_string_equal(out, cases[i][1]);
		assert_int_equal(glfs_cfg_parse(out, &c, &why), 0);
		assert_false(c.create);
		glfs_cfg_free(&c);
		free(out);
	}
}

static void test_refused(void **state)
{
	static const struct { const char *cfg, *why; } bad[] = {
		{ "vol@h/a.img;create=1", "unknown option (they are ;ping_timeout=N and ;create)" },
		{ "vol@h/a.img;Create", "unknown option" },
		{ "vol@h/a.img;ping=5", "unknown option" },
		{ "vol@h/a.img;ping_timeout=0", "ping_timeout is seconds" },
		{ "vol/a.img", "expected <volume>@<host>" },
		{ "vol@h/", "expected <volume>@<host>" },
		{ "vol@h:0/a.img", "a port is 1..65535" },
		{ "vol@,/a.img", "expected <volume>@<host>" },
	};
	struct glfs_cfg c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(glfs_cfg_parse(bad[i].cfg, &c, &why), -EINVAL);
		assert_non_null(why);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)))
			fail_msg("%s: \"%s\", not \"%s...\"", bad[i].cfg, why, bad[i].why);
		assert_null(c.buf);	/* nothing to free */
	}
	assert_int_equal(glfs_cfg_parse(NULL, &c, &(const char *){ NULL }), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_without_create),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
