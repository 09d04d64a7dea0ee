/*
 * What `tcmu-runner --status` prints, without a bus: the view the client
 * builds from the daemon's answers (handlers, devices, GetStats), as
 * text and as JSON. The stats come as the daemon sends them
 * (status_stats_variant of a snapshot), handler figures included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev_stats.h"
#include "status_fmt.h"
#include "unit_test.h"

static void fill_view(struct status_view *v)
{
	struct dev_stats_snap s = { 0 };

	s.rd = (struct dev_stats_dir){ .cmds = 5, .bytes = 10240, .errors = 1,
				       .p50_us = 15, .p99_us = 31, .p999_us = 63 };
	s.wr = (struct dev_stats_dir){ .cmds = 10, .bytes = 40960, .timeouts = 2,
				       .p50_us = 23, .p99_us = 95, .p999_us = 95 };
	s.other_cmds = 3;
	s.in_flight = 4;
	dev_stats_add_extra(&s, "rbd", "lock_owner", 0, "client.\"4123\"");
	dev_stats_add_extra(&s, "rbd", "locks_lost", 7, NULL);
	status_view_init(v);
	g_ptr_array_add(v->handlers, g_strdup("file"));
	g_ptr_array_add(v->handlers, g_strdup("rbd"));
	status_view_add_device(v, "uio0", "lun_0", "rbd", "rbd/pool/img", "running",
			       1 << 30, status_stats_variant(&s));
	status_view_add_device(v, "uio3", "lun_3", "file", "file//x", "failed", 4096, NULL)
		->stats_error = g_strdup("no such device");
}

static void test_status_text(void **state)
{
	struct status_view v;
	char *t;

	(void)state;
	fill_view(&v);
	t = status_format_text(&v);
	if (getenv("TEST_LOG"))
		fputs(t, stderr);
	assert_non_null(strstr(t, "handlers: file rbd\ndevices: 2\n"));
	assert_non_null(strstr(t, "uio0 lun_0 (rbd, running) rbd/pool/img, 1073741824 bytes\n"));
	assert_non_null(strstr(t, "    read   cmds 5 bytes 10240 errors 1 timeouts 0 "
				  "latency us p50 15 p99 31 p99.9 63\n"));
	assert_non_null(strstr(t, "    write  cmds 10 bytes 40960 errors 0 timeouts 2 "
				  "latency us p50 23 p99 95 p99.9 95\n"));
	assert_non_null(strstr(t, "    other  cmds 3 errors 0; aborted 0; in flight 4\n"));
	assert_non_null(strstr(t, "    rbd.lock_owner client.\"4123\"\n    rbd.locks_lost 7\n"));
	assert_non_null(strstr(t, "uio3 lun_3 (file, failed) file//x, 4096 bytes\n"
				  "    no statistics: no such device\n"));
	g_free(t);
	status_view_clear(&v);
}

static void test_status_json(void **state)
{
	struct status_view v;
	char *t;

	(void)state;
	fill_view(&v);
	t = status_format_json(&v);
	if (getenv("TEST_LOG"))
		fputs(t, stderr);
	assert_non_null(strstr(t, "{\"handlers\": [\"file\", \"rbd\"], \"devices\": [{"));
	assert_non_null(strstr(t, "\"object\": \"uio0\", \"name\": \"lun_0\", \"handler\": "
				  "\"rbd\", \"config\": \"rbd/pool/img\", \"state\": \"running\", "
				  "\"size\": 1073741824, \"stats\": {\"read_cmds\": 5, "
				  "\"read_bytes\": 10240, \"read_errors\": 1,"));
	assert_non_null(strstr(t, "\"in_flight\": 4, \"rbd.lock_owner\": \"client.\\\"4123\\\"\", "
				  "\"rbd.locks_lost\": 7}}"));
	assert_non_null(strstr(t, "\"stats\": null, \"stats_error\": \"no such device\"}]}\n"));
	g_free(t);
	status_view_clear(&v);
}

/* JSON a parser takes: python3's, where the host has it. */
static void test_status_json_parses(void **state)
{
	struct status_view v;
	char path[] = "/tmp/tcmu-status-XXXXXX", cmd[256];
	FILE *f;
	char *t;
	int fd, rc;

	(void)state;
	if (system("python3 -c 1 >/dev/null 2>&1")) {
		skip();
		return;
	}
	fill_view(&v);
	t = status_format_json(&v);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(t, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; d=json.load(open(\"%s\")); "
		 "assert d[\"devices\"][0][\"stats\"][\"write_timeouts\"] == 2' ", path);
	rc = system(cmd);
	unlink(path);
	assert_int_equal(rc, 0);
	g_free(t);
	status_view_clear(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_text),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_status_json_parses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
