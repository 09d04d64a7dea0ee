/*
 * glfs_ping (handler_glfs): the ping_timeout option's values, the
 * ping-timeout read from a client volfile, and the bound. No gfapi: the
 * file is compiled in here, as handler_glfs.so compiles it in.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_test.h"
#include "../../glfs_ping.c"

static void test_parse(void **state)
{
	static const char *const bad[] = {
		"0", "1014", "", "abc", "-1", "+5", " 5", "10s", "5 ", "99999999999999999999",
		"Volume",
	};
	const char *why = NULL;
	unsigned int s = 99;

	(void)state;
	assert_int_equal(glfs_ping_parse("10", &s, &why), 0);
	assert_int_equal(s, 10);
	assert_int_equal(glfs_ping_parse("1", &s, &why), 0);
	assert_int_equal(s, 1);
	assert_int_equal(glfs_ping_parse("1013", &s, &why), 0);
	assert_int_equal(s, 1013);
	assert_int_equal(glfs_ping_parse("volume", &s, &why), 0);
	assert_int_equal(s, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = 77;
		why = NULL;
		assert_int_equal(glfs_ping_parse(bad[i], &s, &why), -EINVAL);
		assert_non_null(why);
		assert_int_equal(s, 77);	/* untouched */
	}
}

/* As glusterd 10.3 writes a one-brick volume's client volfile. */
static const char client_vol[] =
	"volume v-client-0\n"
	"    type protocol/client\n"
	"    option transport.socket.keepalive-time 20\n"
	"    option remote-host 127.1\n"
	"%s"
	"end-volume\n"
	"\n"
	"volume v-dht\n"
	"    type cluster/distribute\n"
	"    subvolumes v-client-0\n"
	"end-volume\n";

/* @len bytes of @text in a buffer of exactly that size, no NUL after (as
 * glfs_get_volfile gives it: ASan sees a read past the end). */
static unsigned int exact(const char *text, size_t len)
{
	char *buf = malloc(len ? len : 1);
	unsigned int ping;

	assert_non_null(buf);
	memcpy(buf, text, len);
	ping = glfs_ping_from_volfile(buf, len);
	free(buf);
	return ping;
}

static unsigned int from(const char *ping_line)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), client_vol, ping_line);

	return exact(buf, (size_t)n);
}

static void test_volfile(void **state)
{
	(void)state;
	assert_int_equal(from("    option ping-timeout 17\n"), 17);
	assert_int_equal(from("\toption\tping-timeout\t17\r\n"), 17);
	/* none: protocol/client's default */
	assert_int_equal(from(""), GLFS_PING_CLIENT_DEFAULT);
	/* a value protocol/client would not take */
	assert_int_equal(from("    option ping-timeout 0\n"), GLFS_PING_CLIENT_DEFAULT);
	assert_int_equal(from("    option ping-timeout\n"), GLFS_PING_CLIENT_DEFAULT);
	/* another option that starts alike */
	assert_int_equal(from("    option ping-timeout-x 5\n"), GLFS_PING_CLIENT_DEFAULT);
	assert_int_equal(exact("", 0), GLFS_PING_CLIENT_DEFAULT);
}

static void test_volfile_only_clients(void **state)
{
	static const char server_then_client[] =
		"volume s\n  type protocol/server\n  option ping-timeout 5\nend-volume\n"
		"volume c0\n  type protocol/client\nend-volume\n"
		"volume c1\n  type protocol/client\n  option ping-timeout 7\nend-volume\n";
	/* the option's line cut off by the length: not read past it */
	static const char cut[] =
		"volume c\n type protocol/client\n option ping-timeout 9\nend-volume\n";

	(void)state;
	assert_int_equal(exact(server_then_client, sizeof(server_then_client) - 1), 7);
	assert_int_equal(exact(cut, (size_t)(strstr(cut, " option") - cut)),
			 GLFS_PING_CLIENT_DEFAULT);
	/* cut before the number */
	assert_int_equal(exact(cut, (size_t)(strstr(cut, "9") - cut)), GLFS_PING_CLIENT_DEFAULT);
}

static void test_bound(void **state)
{
	(void)state;
	assert_int_equal(glfs_ping_bound(GLFS_PING_DEFAULT), 20);
	/* our default fails commands before the kernel's default time-out */
	assert_true(glfs_ping_bound(GLFS_PING_DEFAULT) < GLFS_KERNEL_CMD_TIME_OUT);
	assert_int_equal(glfs_ping_max_for(30), 14);
	assert_true(glfs_ping_bound(glfs_ping_max_for(30)) < 30);
	assert_true(glfs_ping_bound(glfs_ping_max_for(30) + 1) >= 30);
	assert_int_equal(glfs_ping_max_for(31), 15);
	assert_int_equal(glfs_ping_max_for(2), 0);
	assert_int_equal(glfs_ping_max_for(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_volfile),
		cmocka_unit_test(test_volfile_only_clients),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
