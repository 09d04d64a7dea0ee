/*
 * The configuration file (config.h, config_live.h): a good file read
 * whole; a bad value reported with the file's line and the old value
 * kept; a line GKeyFile refuses reported with its number and the rest
 * read; an unknown key named; and a reload (what SIGHUP and a change of
 * the file run) applying a new log level and destination to a live log,
 * or keeping the old one when the new is bad; and the [device] defaults
 * written to a new device's attributes where the kernel's default stands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_live.h"
#include "dev_tunables.h"
#include "fake_cfgfs.h"
#include "log_capture.h"
#include "unit_test.h"

struct fx {
	struct log_capture lc;
	char path[64];
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	if (!fx || log_capture_new(&fx->lc))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "/tmp/tcmu-conf-XXXXXX");
	fd = mkstemp(fx->path);
	if (fd < 0)
		return -1;
	close(fd);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	unlink(fx->path);
	log_capture_free(&fx->lc);
	free(fx);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_config_good_file(void **state)
{
	struct fx *fx = *state;
	struct config c;

	write_file(fx->path,
		   "# tcmu.conf\n"
		   "[log]\n"
		   "level = debug\n"
		   "destination = file\n"
		   "file = /var/log/tcmu-runner.log\n"
		   "max_size_mb = 20\n"
		   "keep = 3\n"
		   "rate_limit_burst = 7\n"
		   "rate_limit_interval = 9\n"
		   "\n"
		   "[device]\n"
		   "cmd_time_out = 60\n"
		   "qfull_time_out = -1\n"
		   "\n"
		   "[handler.rbd]\n"
		   "id = admin\n"
		   "osd_op_timeout = 30\n");
	assert_int_equal(config_load(&c, fx->path, NULL, &fx->lc.log), 0);
	assert_int_equal(c.log_level, TCMU_LOG_DEBUG);
	assert_int_equal(c.log.dest, LOG_DEST_FILE);
	assert_string_equal(c.log.path, "/var/log/tcmu-runner.log");
	assert_int_equal(c.log.max_bytes, 20u << 20);
	assert_int_equal(c.log.keep, 3);
	assert_int_equal(c.log.burst, 7);
	assert_int_equal(c.log.interval_s, 9);
	assert_int_equal(c.dev.cmd_time_out, 60);
	assert_int_equal(c.dev.qfull_time_out, -1);
	assert_string_equal(config_handler_opt(&c, "rbd", "id"), "admin");
	assert_string_equal(config_handler_opt(&c, "rbd", "osd_op_timeout"), "30");
	assert_null(config_handler_opt(&c, "rbd", "nope"));
	assert_null(config_handler_opt(&c, "file", "id"));
	assert_int_equal(log_capture_count(&fx->lc, "ERROR"), 0);
	config_clear(&c);
}

/* Keys the file does not set take their defaults; no file: -ENOENT. */
static void test_config_defaults(void **state)
{
	struct fx *fx = *state;
	struct config c;

	write_file(fx->path, "[log]\n");
	assert_int_equal(config_load(&c, fx->path, NULL, &fx->lc.log), 0);
	assert_int_equal(c.log_level, TCMU_LOG_INFO);
	assert_int_equal(c.log.dest, LOG_DEST_AUTO);
	assert_int_equal(c.dev.cmd_time_out, CONFIG_DEV_UNSET);
	config_clear(&c);
	assert_int_equal(config_load(&c, "/nonexistent/tcmu.conf", NULL, &fx->lc.log),
			 -ENOENT);
	config_clear(&c);
}

/* A bad value: its line named, the previous value kept, the rest taken. */
static void test_config_bad_value_keeps_old(void **state)
{
	struct fx *fx = *state;
	struct config old, c;
	char needle[160];

	config_init(&old);
	old.log_level = TCMU_LOG_DEBUG;
	old.log.burst = 11;
	write_file(fx->path,
		   "[log]\n"
		   "# the level\n"
		   "level = loud\n"
		   "rate_limit_burst = 3\n"
		   "[device]\n"
		   "cmd_time_out = soon\n");
	assert_int_equal(config_load(&c, fx->path, &old, &fx->lc.log), 2);
	assert_int_equal(c.log_level, TCMU_LOG_DEBUG);	/* kept */
	assert_int_equal(c.log.burst, 3);		/* taken */
	assert_int_equal(c.dev.cmd_time_out, CONFIG_DEV_UNSET);
	snprintf(needle, sizeof(needle), "%s:3: [log] level = 'loud': not a level", fx->path);
	assert_int_equal(log_capture_count(&fx->lc, needle), 1);
	assert_int_equal(log_capture_count(&fx->lc, "keeping the previous value"), 2);
	snprintf(needle, sizeof(needle), "%s:6: [device] cmd_time_out = 'soon': not a whole "
		 "number", fx->path);
	assert_int_equal(log_capture_count(&fx->lc, needle), 1);
	config_clear(&c);
	config_clear(&old);
}

/* A line GKeyFile refuses: named by number, left out, the rest read. */
static void test_config_syntax_error_line(void **state)
{
	struct fx *fx = *state;
	struct config c;
	char needle[160];

	write_file(fx->path,
		   "[log]\n"
		   "level = warning\n"
		   "\n"
		   "this line is junk\n"
		   "rate_limit_burst = 4\n");
	assert_int_equal(config_load(&c, fx->path, NULL, &fx->lc.log), 1);
	snprintf(needle, sizeof(needle), "%s:4: Key file contains line", fx->path);
	assert_int_equal(log_capture_count(&fx->lc, needle), 1);
	assert_int_equal(log_capture_count(&fx->lc, "line ignored"), 1);
	assert_int_equal(c.log_level, TCMU_LOG_WARN);
	assert_int_equal(c.log.burst, 4);
	config_clear(&c);
}

static void test_config_unknown_key(void **state)
{
	struct fx *fx = *state;
	struct config c;
	char needle[160];

	write_file(fx->path, "[log]\nlevle = debug\n");
	assert_int_equal(config_load(&c, fx->path, NULL, &fx->lc.log), 1);
	snprintf(needle, sizeof(needle), "WARN [tcmu-runner] take_groups: %s:2: [log] levle: "
		 "unknown key, ignored", fx->path);
	assert_int_equal(log_capture_count(&fx->lc, needle), 1);
	config_clear(&c);
}

static void test_config_line_finders(void **state)
{
	const char *text = "[a]\nk = 1\n[b]\n  k=2\n# k = 3\n[a]\nk = 4\n";

	(void)state;
	assert_int_equal(config_key_line(text, "b", "k"), 4);
	assert_int_equal(config_key_line(text, "a", "k"), 7);
	assert_int_equal(config_key_line(text, "c", "k"), 0);
	assert_int_equal(config_bad_syntax_line(text), 0);
	assert_int_equal(config_bad_syntax_line("k = 1\n[a]\n"), 1);
	assert_int_equal(config_bad_syntax_line("[a]\n\n# c\njunk\n"), 4);
}

/* What SIGHUP runs: a new level is in force at once; a bad one is not. */
static void test_config_reload_applies_level(void **state)
{
	struct fx *fx = *state;
	struct config_live cl;
	char text[512];

	snprintf(text, sizeof(text), "[log]\nlevel = info\ndestination = file\nfile = %s\n",
		 fx->lc.path);
	write_file(fx->path, text);
	fx->lc.log.max_prio = TCMU_LOG_INFO;
	assert_int_equal(config_live_start(&cl, fx->path, false, &fx->lc.log, false), 0);
	assert_ptr_equal(fx->lc.log.sink, cl.sink);
	log_dbg(&fx->lc.log, "lun0 file", "before reload");
	assert_int_equal(log_capture_count(&fx->lc, "before reload"), 0);

	snprintf(text, sizeof(text), "[log]\nlevel = debug\ndestination = file\nfile = %s\n",
		 fx->lc.path);
	write_file(fx->path, text);
	assert_int_equal(config_live_reload(&cl, "SIGHUP"), 0);
	assert_int_equal(log_level(&fx->lc.log), TCMU_LOG_DEBUG);
	log_dbg(&fx->lc.log, "lun0 file", "after reload");
	assert_int_equal(log_capture_count(&fx->lc, "DEBUG [lun0 file] test_config_reload_"
						    "applies_level: after reload"), 1);
	assert_int_equal(log_capture_count(&fx->lc, "SIGHUP: read"), 1);

	/* A bad level: said with its line, debug stays. */
	snprintf(text, sizeof(text), "[log]\nlevel = chatty\ndestination = file\nfile = %s\n",
		 fx->lc.path);
	write_file(fx->path, text);
	assert_int_equal(config_live_reload(&cl, "SIGHUP"), 1);
	assert_int_equal(log_level(&fx->lc.log), TCMU_LOG_DEBUG);
	assert_int_equal(log_capture_count(&fx->lc, ":2: [log] level = 'chatty'"), 1);

	/* A destination that cannot be opened: the old one stays. */
	write_file(fx->path, "[log]\ndestination = file\nfile = /nonexistent/x.log\n");
	assert_int_equal(config_live_reload(&cl, "SIGHUP"), 0);
	assert_int_equal(cl.cfg.log.dest, LOG_DEST_FILE);
	assert_string_equal(cl.cfg.log.path, fx->lc.path);
	assert_int_equal(log_capture_count(&fx->lc, "file = '/nonexistent/x.log': cannot open"),
			 1);
	config_live_stop(&cl);
	assert_null(fx->lc.log.sink);
}

/* -d keeps debug on whatever the file says. */
static void test_config_force_debug(void **state)
{
	struct fx *fx = *state;
	struct config_live cl;

	write_file(fx->path, "[log]\nlevel = error\n");
	assert_int_equal(config_live_start(&cl, fx->path, true, &fx->lc.log, false), 0);
	assert_int_equal(log_level(&fx->lc.log), TCMU_LOG_DEBUG);
	config_live_stop(&cl);
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* A change of the file, seen through inotify, reloads it (main loop).
 * Not under ThreadSanitizer: GIO reads inotify on a worker thread of
 * its own that hands events over under GMutex, a futex TSan does not
 * see, so GLib's own accesses are reported (no frame of ours on that
 * side); the reload itself runs on the main thread as everywhere. */
static void test_config_file_change_reloads(void **state)
{
	struct fx *fx = *state;
	struct config_live cl;
	char text[512];

#ifdef UNDER_TSAN
	skip();
#endif

	snprintf(text, sizeof(text), "[log]\nlevel = info\ndestination = file\nfile = %s\n",
		 fx->lc.path);
	write_file(fx->path, text);
	assert_int_equal(config_live_start(&cl, fx->path, false, &fx->lc.log, true), 0);
	if (!cl.monitor) {
		config_live_stop(&cl);
		skip();
	}
	/* Let the monitor settle before the change. */
	for (int i = 0; i < 10; i++)
		g_main_context_iteration(NULL, FALSE);
	snprintf(text, sizeof(text), "[log]\nlevel = trace\ndestination = file\nfile = %s\n",
		 fx->lc.path);
	write_file(fx->path, text);
	for (int i = 0; i < 300 && log_level(&fx->lc.log) != LOG_PRIO_TRACE; i++) {
		g_main_context_iteration(NULL, FALSE);
		usleep(10000);
	}
	assert_int_equal(log_level(&fx->lc.log), LOG_PRIO_TRACE);
	assert_int_equal(log_capture_count(&fx->lc, "file changed: read"), 1);
	config_live_stop(&cl);
}

/* A numeric key's range, and which of bound_value's it is. */
struct bound_case {
	const char *group, *key;
	long min, max;
	int which;
};

/* The value a loaded config has for key @which of the table below. */
static long long bound_value(const struct config *c, int which)
{
	switch (which) {
	case 0:
		return c->log.max_bytes >> 20;
	case 1:
		return c->log.keep;
	case 2:
		return c->log.burst;
	case 3:
		return c->log.interval_s;
	case 4:
		return c->dev.cmd_time_out;
	default:
		return c->dev.qfull_time_out;
	}
}

/* Load "[group]\nkey = @val\n"; how many lines were bad. */
static int load_one(struct fx *fx, const struct bound_case *b, const char *val,
		    struct config *c)
{
	char text[512];

	snprintf(text, sizeof(text), "[%s]\n%s = %s\n", b->group, b->key, val);
	write_file(fx->path, text);
	return config_load(c, fx->path, NULL, &fx->lc.log);
}

/* Each numeric key: its least and greatest values taken as they are;
 * one past either end, an overflow, trailing junk, hex and an empty
 * value each refused, with the file's line, the key, the value and the
 * range in the message, and the default kept. */
static void test_config_value_bounds(void **state)
{
	static const struct bound_case keys[] = {
		{ "log", "max_size_mb", 0, 1 << 20, 0 },
		{ "log", "keep", 0, 1000000, 1 },
		{ "log", "rate_limit_burst", 0, 1000000, 2 },
		{ "log", "rate_limit_interval", 0, 1000000, 3 },
		{ "device", "cmd_time_out", 0, 86400, 4 },
		{ "device", "qfull_time_out", -1, 86400, 5 },
	};
	struct fx *fx = *state;
	struct config dflt, c;
	char val[64], needle[400];

	config_init(&dflt);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct bound_case *b = &keys[i];
		const long good[] = { b->min, b->max };
		char bad[6][32];

		for (int g = 0; g < 2; g++) {
			snprintf(val, sizeof(val), "%ld", good[g]);
			assert_int_equal(load_one(fx, b, val, &c), 0);
			assert_int_equal(bound_value(&c, b->which), good[g]);
			config_clear(&c);
		}
		snprintf(bad[0], sizeof(bad[0]), "%ld", b->min - 1);
		snprintf(bad[1], sizeof(bad[1]), "%ld", b->max + 1);
		snprintf(bad[2], sizeof(bad[2]), "99999999999999999999");
		snprintf(bad[3], sizeof(bad[3]), "%ld s", b->max);
		snprintf(bad[4], sizeof(bad[4]), "0x10");
		bad[5][0] = '\0';
		for (int k = 0; k < 6; k++) {
			assert_int_equal(load_one(fx, b, bad[k], &c), 1);
			assert_int_equal(bound_value(&c, b->which), bound_value(&dflt, b->which));
			config_clear(&c);
			snprintf(needle, sizeof(needle), "%s:2: [%s] %s = '%s': not a whole number "
				 "from %ld to %ld; keeping the previous value", fx->path, b->group,
				 b->key, bad[k], b->min, b->max);
			if (log_capture_count(&fx->lc, needle) != 1)
				fail_msg("no line '%s'", needle);
		}
	}
	config_clear(&dflt);
}

/* [log] file: an absolute path of 255 bytes is taken, 256 bytes or a
 * relative path refused, naming the key. */
static void test_config_log_path_bounds(void **state)
{
	static const struct bound_case file = { "log", "file" };
	struct fx *fx = *state;
	char path[300], needle[400];
	struct config c;

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[255] = '\0';
	assert_int_equal(load_one(fx, &file, path, &c), 0);
	assert_string_equal(c.log.path, path);
	config_clear(&c);
	path[255] = 'a';
	path[256] = '\0';
	assert_int_equal(load_one(fx, &file, path, &c), 1);
	assert_string_not_equal(c.log.path, path);
	config_clear(&c);
	assert_int_equal(load_one(fx, &file, "var/log/tcmu.log", &c), 1);
	config_clear(&c);
	snprintf(needle, sizeof(needle), "%s:2: [log] file = 'var/log/tcmu.log': not an "
		 "absolute path of under 256 bytes", fx->path);
	assert_int_equal(log_capture_count(&fx->lc, needle), 1);
	assert_int_equal(log_capture_count(&fx->lc, "[log] file = '/aaaa"), 1);
}

/* [device] defaults: written over the kernel's defaults only. */
static void test_config_device_defaults(void **state)
{
	struct fx *fx = *state;
	struct tcmu_dev_info info = { .hba = 1 };
	/* Values as long as the kernel's: a write to the fake tree does not
	 * truncate (configfs replaces the value; a plain file is overwritten). */
	struct config_dev c = { .cmd_time_out = 60, .qfull_time_out = 10 };
	struct fake_cfgfs fc;
	char buf[32];

	snprintf(info.name, sizeof(info.name), "tunlun");
	assert_int_equal(fake_cfgfs_new(&fc, 1, "tunlun"), 0);
	assert_int_equal(fake_cfgfs_write(&fc, "attrib/cmd_time_out", "30\n"), 0);
	assert_int_equal(fake_cfgfs_write(&fc, "attrib/qfull_time_out", "-1\n"), 0);
	assert_int_equal(dev_tunables_apply(&c, &info, fc.root, &fx->lc.log), 2);
	assert_int_equal(fake_cfgfs_read(&fc, "attrib/cmd_time_out", buf, sizeof(buf)), 0);
	assert_int_equal(atoi(buf), 60);
	assert_int_equal(fake_cfgfs_read(&fc, "attrib/qfull_time_out", buf, sizeof(buf)), 0);
	assert_int_equal(atoi(buf), 10);
	assert_int_equal(log_capture_count(&fx->lc, "[tunlun] apply_one: attrib/cmd_time_out = "
						    "60 (configuration default)"), 1);

	/* The admin's own values stay; unset keys write nothing. */
	assert_int_equal(fake_cfgfs_write(&fc, "attrib/cmd_time_out", "45\n"), 0);
	c.cmd_time_out = 90;
	c.qfull_time_out = CONFIG_DEV_UNSET;
	assert_int_equal(dev_tunables_apply(&c, &info, fc.root, &fx->lc.log), 0);
	assert_int_equal(fake_cfgfs_read(&fc, "attrib/cmd_time_out", buf, sizeof(buf)), 0);
	assert_int_equal(atoi(buf), 45);
	fake_cfgfs_free(&fc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_good_file, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_defaults, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_bad_value_keeps_old, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_syntax_error_line, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_unknown_key, fx_setup, fx_teardown),
		cmocka_unit_test(test_config_line_finders),
		cmocka_unit_test_setup_teardown(test_config_reload_applies_level, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_force_debug, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_file_change_reloads, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_device_defaults, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_value_bounds, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_config_log_path_bounds, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
