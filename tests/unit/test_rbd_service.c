/*
 * rbd_service (handler_rbd's Ceph service map): what it registers, and
 * its status sent at most once a period, a change delayed but never
 * lost. No cluster: rbd_service.c is compiled in here, with a period of
 * 200 ms, against fakes of the three librados/librbd calls it makes.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit_test.h"

#define RBD_SERVICE_PERIOD_MS 200
#include "../../rbd_service.c"

#define MAX_UPDATES 64

/* What the fakes were given, and the figures the service reads. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int register_err;
	char service[64], daemon[512], meta[RBD_SERVICE_DICT_MAX];
	unsigned int updates;
	uint64_t at_ms[MAX_UPDATES];
	char status[RBD_SERVICE_DICT_MAX];	/* the last one */
	struct rbd_service_status now;
} fake = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

/* A dict's length, its final empty key included. */
static size_t dict_len(const char *d)
{
	const char *p = d;

	while (*p)
		p += strlen(p) + 1;
	return (size_t)(p - d) + 1;
}

/* @key's value in dict @d, or NULL; *pairs its number of pairs. */
static const char *dict_get(const char *d, const char *key, unsigned int *pairs)
{
	const char *v = NULL;

	*pairs = 0;
	for (const char *p = d; *p; p += strlen(p) + 1) {
		const char *val = p + strlen(p) + 1;

		if (!strcmp(p, key))
			v = val;
		(*pairs)++;
		p = val;
	}
	return v;
}

int rados_service_register(rados_t cluster, const char *service, const char *daemon,
			   const char *meta)
{
	(void)cluster;
	snprintf(fake.service, sizeof(fake.service), "%s", service);
	snprintf(fake.daemon, sizeof(fake.daemon), "%s", daemon);
	memcpy(fake.meta, meta, dict_len(meta));
	return fake.register_err;
}

int rados_service_update_status(rados_t cluster, const char *status)
{
	(void)cluster;
	pthread_mutex_lock(&fake.lock);
	if (fake.updates < MAX_UPDATES)
		fake.at_ms[fake.updates] = rbd_service_now_ms();
	fake.updates++;
	memcpy(fake.status, status, dict_len(status));
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

int rbd_get_id(rbd_image_t image, char *id, size_t len)
{
	(void)image;
	snprintf(id, len, "%s", "10b2e8a1c3f4");
	return 0;
}

void tcmur_dev_log(const struct tcmur_device *dev, int prio, const char *func,
		   const char *fmt, ...)
{
	(void)dev, (void)prio, (void)func, (void)fmt;
}

static void read_now(void *arg, struct rbd_service_status *out)
{
	(void)arg;
	pthread_mutex_lock(&fake.lock);
	*out = fake.now;
	pthread_mutex_unlock(&fake.lock);
}

static void set_now(uint64_t timed_out, bool owner)
{
	pthread_mutex_lock(&fake.lock);
	fake.now.cmd_timed_out = timed_out;
	fake.now.lock_owner = owner;
	pthread_mutex_unlock(&fake.lock);
}

/* Wait (2 s at most) until the last status has @key = @want. */
static bool status_becomes(const char *key, const char *want)
{
	struct timespec ts;
	unsigned int n;
	const char *v;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	pthread_mutex_lock(&fake.lock);
	for (;;) {
		v = fake.updates ? dict_get(fake.status, key, &n) : NULL;
		ok = v && !strcmp(v, want);
		if (ok || pthread_cond_timedwait(&fake.cond, &fake.lock, &ts))
			break;
	}
	pthread_mutex_unlock(&fake.lock);
	return ok;
}

static int setup(void **state)
{
	(void)state;
	pthread_mutex_lock(&fake.lock);
	fake.register_err = 0;
	fake.updates = 0;
	fake.status[0] = fake.meta[0] = '\0';
	fake.now = (struct rbd_service_status){ 0 };
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static struct rbd_service *start(void)
{
	struct rbd_service *svc = NULL;

	assert_int_equal(rbd_service_new(NULL, (rados_t)1, (rbd_image_t)1, "rbd", "disk1",
					 read_now, NULL, &svc), 0);
	assert_non_null(svc);
	return svc;
}

/* Service, daemon and metadata as ceph-iscsi and the mgr read them; the
 * first status at once. */
static void test_register(void **state)
{
	static const char *const meta[][2] = {
		{ "pool_name", "rbd" }, { "image_name", "disk1" },
		{ "image_id", "10b2e8a1c3f4" }, { "daemon_type", "portal" },
		{ "daemon_prefix", NULL },
	};
	char host[256], want[300];
	struct rbd_service *svc;
	unsigned int pairs;

	(void)state;
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	svc = start();
	assert_string_equal(fake.service, "tcmu-runner");
	snprintf(want, sizeof(want), "%s:rbd/disk1", host);
	assert_string_equal(fake.daemon, want);
	for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
		const char *v = dict_get(fake.meta, meta[i][0], &pairs);

		assert_non_null(v);
		assert_string_equal(v, meta[i][1] ? meta[i][1] : host);
	}
	assert_int_equal(pairs, 5);
	assert_true(status_becomes("lock_owner", "false"));
	assert_string_equal(dict_get(fake.status, "lock_lost_cnt", &pairs), "0");
	assert_string_equal(dict_get(fake.status, "conn_lost_cnt", &pairs), "0");
	assert_string_equal(dict_get(fake.status, "cmd_timed_out_cnt", &pairs), "0");
	assert_int_equal(pairs, 4);
	rbd_service_free(svc);
}

/* 20 changes over two periods: updates at least a period apart, and the
 * last change, made within a period of the update before it, still
 * sent. */
static void test_rate_limited_not_lost(void **state)
{
	struct rbd_service *svc;
	char want[8];
	unsigned int n;

	(void)state;
	svc = start();
	assert_true(status_becomes("cmd_timed_out_cnt", "0"));
	for (int i = 1; i <= 20; i++) {
		set_now((uint64_t)i, false);
		rbd_service_changed(svc);
		usleep(20 * 1000);
	}
	snprintf(want, sizeof(want), "%d", 20);
	assert_true(status_becomes("cmd_timed_out_cnt", want));
	set_now(20, true);
	rbd_service_changed(svc);
	assert_true(status_becomes("lock_owner", "true"));
	rbd_service_free(svc);

	n = fake.updates;
	assert_true(n >= 3 && n <= 6);		/* 0; ~2 in 400 ms; 20; true */
	for (unsigned int i = 1; i < n; i++)
		assert_true(fake.at_ms[i] - fake.at_ms[i - 1] >= RBD_SERVICE_PERIOD_MS - 5);
}

/* Freeing with a change pending does not wait out the period. */
static void test_free_pending(void **state)
{
	struct rbd_service *svc;
	uint64_t t0;

	(void)state;
	svc = start();
	assert_true(status_becomes("lock_owner", "false"));
	rbd_service_changed(svc);
	t0 = rbd_service_now_ms();
	rbd_service_free(svc);
	assert_true(rbd_service_now_ms() - t0 < RBD_SERVICE_PERIOD_MS / 2);
	assert_int_equal(fake.updates, 1);
}

/* A refused registration: the error, no service, no status. */
static void test_register_refused(void **state)
{
	struct rbd_service *svc = NULL;

	(void)state;
	fake.register_err = -EINVAL;
	assert_int_equal(rbd_service_new(NULL, (rados_t)1, (rbd_image_t)1, "rbd", "disk1",
					 read_now, NULL, &svc), -EINVAL);
	assert_null(svc);
	usleep(2 * RBD_SERVICE_PERIOD_MS * 1000);
	assert_int_equal(fake.updates, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_register, setup),
		cmocka_unit_test_setup(test_rate_limited_not_lost, setup),
		cmocka_unit_test_setup(test_free_pending, setup),
		cmocka_unit_test_setup(test_register_refused, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
