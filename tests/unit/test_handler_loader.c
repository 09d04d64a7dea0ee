/*
 * Loading handler plugins: a good one loads and serves I/O, bad ones are
 * refused with the reason's errno, and a handler whose open fails leaves
 * dev_new failing cleanly. A config string is a handler's only when its
 * subtype is followed by '/' ("filex/..." is not "file/..."). The plugins
 * are the .c files of tests/unit/plugins, built as handler_<name>.so into
 * UNIT_BUILD_DIR/plugins.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "handler_loader.h"
#include "mem_handler.h"
#include "sim_dev.h"
#include "unit_test.h"

#define PLUGINS UNIT_BUILD_DIR "/plugins"

struct fx {
	struct handler_set set;
	struct log_cfg log;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	sim_log_init(&fx->log);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	handler_set_clear(&fx->set);
	sim_log_fini(&fx->log);
	free(fx);
	return 0;
}

static int load(struct fx *fx, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), PLUGINS "/handler_%s.so", name);
	return handler_set_load_file(&fx->set, path, &fx->log);
}

static void test_loader_good_plugin(void **state)
{
	struct fx *fx = *state;
	struct handler *h;

	assert_int_equal(load(fx, "good"), 0);
	assert_int_equal(fx->set.count, 1);
	h = handler_set_find(&fx->set, "good");
	assert_non_null(h);
	assert_string_equal(h->ops.name, "Good test plugin");
	assert_int_equal(h->ops.api_version, TCMUR_HANDLER_API_VERSION);
	assert_int_equal(h->ops.struct_size, sizeof(struct tcmur_handler));
	assert_non_null(h->ops.read);
	assert_null(h->ops.check_config);
	assert_null(handler_set_find(&fx->set, "file"));
	/* The same subtype twice: refused. */
	assert_int_equal(load(fx, "good_dup"), -EEXIST);
	assert_int_equal(fx->set.count, 1);
}

static void test_loader_file_handler(void **state)
{
	struct fx *fx = *state;
	struct handler *h;

	assert_int_equal(handler_set_load_file(&fx->set, UNIT_BUILD_DIR "/handler_file.so",
					       &fx->log), 0);
	h = handler_set_find(&fx->set, "file");
	assert_non_null(h);
	assert_non_null(h->ops.check_config);
	assert_true(h->ops.can_fua(NULL));
	assert_int_equal(h->ops.thread_model, TCMUR_THREAD_PARALLEL);
}

static void test_loader_refuses_bad_plugins(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(load(fx, "nosym"), -ENOENT);
	assert_int_equal(load(fx, "api2"), -EPROTO);
	assert_int_equal(load(fx, "small"), -EPROTO);
	assert_int_equal(load(fx, "noio"), -EINVAL);
	assert_int_equal(load(fx, "missing"), -ENOEXEC);
	/* Not a shared object at all. */
	assert_int_equal(handler_set_load_file(&fx->set, "tests/unit/plugins/good.c",
					       &fx->log), -ENOEXEC);
	assert_int_equal(fx->set.count, 0);
	assert_null(handler_set_find(&fx->set, "api2"));
}

/* A directory: each handler_*.so tried, the good ones kept. */
static void test_loader_directory(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(handler_set_load_dir(&fx->set, PLUGINS, &fx->log), 2);
	assert_non_null(handler_set_find(&fx->set, "good"));
	assert_non_null(handler_set_find(&fx->set, "failopen"));
	assert_int_equal(fx->set.count, 2);
	handler_set_clear(&fx->set);
	assert_int_equal(fx->set.count, 0);
	assert_null(handler_set_find(&fx->set, "good"));
	assert_int_equal(handler_set_load_dir(&fx->set, "/nonexistent-dir", &fx->log), -ENOENT);
}

static int t_open(struct tcmur_device *dev, bool reopen) { return 0; }
static void t_close(struct tcmur_device *dev) { }
static tcmu_sts t_io(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
		     size_t iov_cnt, size_t len, uint64_t off)
{
	return TCMU_STS_GOOD;
}
static tcmu_sts t_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	return TCMU_STS_GOOD;
}

/* The checks themselves, on tables in memory. */
static void test_loader_validate(void **state)
{
	struct tcmur_handler h = {
		.struct_size = sizeof(h), .api_version = TCMUR_HANDLER_API_VERSION,
		.name = "n", .subtype = "s", .cfg_desc = "d", .open = t_open,
		.close = t_close, .read = t_io, .write = t_io, .flush = t_flush,
	};
	struct tcmur_handler bad;
	char why[256];

	(void)state;
	assert_int_equal(handler_validate(&h, sizeof(h), why, sizeof(why)), 0);
	bad = h;
	bad.api_version = TCMUR_HANDLER_API_VERSION + 1;	/* newer minor: fine */
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), 0);
	/* API 1.4: a handler that needs a newer daemon is refused, saying so. */
	bad = h;
	bad.needs_api_minor = TCMUR_HANDLER_API_MINOR;
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), 0);
	bad.needs_api_minor = TCMUR_HANDLER_API_MINOR + 1;
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "needs handler API 1."));
	bad.api_version = (TCMUR_HANDLER_API_MAJOR << 16) | 3;	/* 1.3 had no such field */
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), 0);
	bad = h;
	bad.api_version = 0;
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "0.0"));
	bad = h;
	bad.struct_size = sizeof(h) + 8;	/* a newer minor's longer table */
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), 0);
	bad = h;
	bad.struct_size = 16;			/* shorter than API 1.0's */
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), -EPROTO);
	bad = h;
	bad.subtype = "a/b";
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), -EINVAL);
	bad = h;
	bad.subtype = "";
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), -EINVAL);
	bad = h;
	bad.name = NULL;
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), -EINVAL);
	bad = h;
	bad.flush = NULL;
	assert_int_equal(handler_validate(&bad, sizeof(bad), why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "s lacks"));
}

/* A plugin served end to end: a READ through the ring reads zeros. */
static void test_loader_plugin_serves_io(void **state)
{
	struct fx *fx = *state;
	struct tcmu_dev_info info = { 0 };
	struct dev_params params = { .size = 1 << 20, .block_size = 512 };
	uint8_t cdb[10] = { READ_10, [8] = 2 };
	struct tcmur_device *dev = NULL;
	struct ring_sim *sim;
	struct sim_cmd *c;
	struct sim_req req = { .cdb = cdb, .cdb_len = 10, .data_len = 1024 };

	assert_int_equal(load(fx, "good"), 0);
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/0/g/good/whatever"), 0);
	assert_int_equal(ring_sim_new(&sim, NULL), 0);
	assert_int_equal(dev_new(&dev, &info, handler_set_find(&fx->set, "good"), &params,
				 ring_sim_fd(sim), ring_sim_map(sim), ring_sim_map_size(sim),
				 false, &fx->log), 0);
	c = ring_sim_run(sim, &req, 5000);
	assert_good(c);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(c->data[i], 0);
	dev_free(dev);
	ring_sim_free(sim);
}

/* Open fails: dev_new returns its errno, frees all it made (ASan checks
 * the leaks), never calls close, and leaves the fd it does not own. */
static void test_loader_open_failure_dev_new_fails_cleanly(void **state)
{
	struct fx *fx = *state;
	struct tcmu_dev_info info = { 0 };
	struct dev_params params = { .size = 1 << 20, .block_size = 512 };
	struct tcmur_device *dev = NULL;
	struct ring_sim *sim;

	assert_int_equal(load(fx, "failopen"), 0);
	assert_int_equal(tcmu_dev_info_parse(&info, "tcm-user/0/f/failopen/cfg"), 0);
	assert_int_equal(ring_sim_new(&sim, NULL), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(dev_new(&dev, &info, handler_set_find(&fx->set, "failopen"),
					 &params, ring_sim_fd(sim), ring_sim_map(sim),
					 ring_sim_map_size(sim), false, &fx->log), -EACCES);
		assert_null(dev);
	}
	assert_true(fcntl(ring_sim_fd(sim), F_GETFD) >= 0);
	ring_sim_free(sim);
}

static void test_loader_config_part_needs_the_slash(void **state)
{
	struct tcmur_handler file = { .subtype = "file" };
	static const char *const not_file[] = {
		"filex/srv/a.img", "fil/srv/a.img", "file", "file:/srv/a.img", "", "/file/a",
		"FILE/a", "filefile/a",
	};

	(void)state;
	assert_string_equal(handler_config_part(&file, "file//srv/a.img"), "/srv/a.img");
	assert_string_equal(handler_config_part(&file, "file/"), "");
	for (size_t i = 0; i < sizeof(not_file) / sizeof(not_file[0]); i++) {
		if (handler_config_part(&file, not_file[i]))
			fail_msg("'%s' was taken as a config for handler file\n", not_file[i]);
	}
}

/* Through the device: a reconfigure naming another handler whose subtype
 * starts like ours is refused, and the device keeps its config. */
static void test_loader_reconfig_refuses_prefix_subtype(void **state)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = "a" };
	struct tcmu_reconfig rc = { .has_config = true, .config = "memx/b" };
	struct mem_reconfig_seen seen;
	struct sim_dev *sd;

	(void)state;
	/* sim_dev_open, not sim_dev_new: that would link the file handler's
	 * tcmur_handler_entry in beside the plugins' own. */
	assert_int_equal(sim_dev_open(&sd, &cfg), 0);
	assert_int_equal(dev_reconfig(sd->dev, &rc), -EINVAL);
	mem_handler_reconfig_seen(sd->dev, &seen);
	assert_int_equal(seen.calls, 0);
	assert_string_equal(tcmur_dev_config(sd->dev), "a");
	snprintf(rc.config, sizeof(rc.config), "mem/b");
	assert_int_equal(dev_reconfig(sd->dev, &rc), 0);
	assert_string_equal(tcmur_dev_config(sd->dev), "b");
	sim_dev_free(sd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_loader_good_plugin),
		T(test_loader_file_handler),
		T(test_loader_refuses_bad_plugins),
		T(test_loader_directory),
		cmocka_unit_test(test_loader_validate),
		T(test_loader_plugin_serves_io),
		T(test_loader_open_failure_dev_new_fails_cleanly),
		cmocka_unit_test(test_loader_config_part_needs_the_slash),
		cmocka_unit_test(test_loader_reconfig_refuses_prefix_subtype),
	};

	return cmocka_run_group_tests_name("handler loader", tests, NULL, NULL);
}
