/*
 * REPORT TARGET PORT GROUPS from a backend's exclusive lock (API 1.5,
 * tcmur_handler.lock_owner), with a fake handler that says who holds it:
 * ours is ACTIVE/OPTIMIZED, another gateway's STANDBY (or ACTIVE/NON-
 * OPTIMIZED where the group has no standby), nobody's configfs's state;
 * a 1.4 handler's table is not read that far; and the handler's answer,
 * which may wait on its backend, never holds up the device thread.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_cfgfs.h"
#include "sim_dev.h"
#include "unit_test.h"

#define LUN "lock_lun"
#define GROUP_ID 9

/* The fake's per-device state: what lock_owner answers, and how. */
struct lock_dev {
	/* All atomic: set by the test, read on the device's I/O threads. */
	int who;		/* enum tcmur_lock_owner, or any int */
	unsigned int calls;
	unsigned int delay_ms;	/* lock_owner waits that long first */
};

static int lock_open(struct tcmur_device *dev, bool reopen)
{
	(void)dev, (void)reopen;
	return 0;
}

static void lock_close(struct tcmur_device *dev)
{
	(void)dev;
}

static tcmu_sts lock_rw(struct tcmur_device *dev, struct tcmur_cmd *cmd, struct iovec *iov,
			size_t iov_cnt, size_t len, uint64_t offset)
{
	(void)dev, (void)cmd, (void)len, (void)offset;
	tcmu_iov_zero(iov, iov_cnt);
	return TCMU_STS_GOOD;
}

static tcmu_sts lock_flush(struct tcmur_device *dev, struct tcmur_cmd *cmd)
{
	(void)dev, (void)cmd;
	return TCMU_STS_GOOD;
}

static enum tcmur_lock_owner lock_owner(struct tcmur_device *dev)
{
	struct lock_dev *ld = tcmur_dev_private(dev);

	unsigned int delay_ms = __atomic_load_n(&ld->delay_ms, __ATOMIC_ACQUIRE);

	__atomic_add_fetch(&ld->calls, 1, __ATOMIC_RELAXED);
	if (delay_ms)
		usleep(delay_ms * 1000);
	return (enum tcmur_lock_owner)__atomic_load_n(&ld->who, __ATOMIC_ACQUIRE);
}

static const struct tcmur_handler lock_ops = {
	.struct_size = sizeof(struct tcmur_handler),
	.api_version = TCMUR_HANDLER_API_VERSION,
	.name = "Lock owner (tests)",
	.subtype = "lock",
	.cfg_desc = "none",
	.dev_private_size = sizeof(struct lock_dev),
	.thread_model = TCMUR_THREAD_PARALLEL,
	.nr_threads = 2,
	.open = lock_open,
	.close = lock_close,
	.read = lock_rw,
	.write = lock_rw,
	.flush = lock_flush,
	.lock_owner = lock_owner,
};

struct lock_fx {
	struct fake_cfgfs fc;
	struct sim_dev *sd;
	struct lock_dev *ld;
};

static void put(const struct fake_cfgfs *fc, const char *attr, const char *val)
{
	assert_int_equal(fake_cfgfs_write(fc, attr, val), 0);
}

/* Group "gw" (id 9), configfs state @state, one port (rtpi 2); the
 * handler table @ops. */
static void fx_new(struct lock_fx *fx, const struct tcmur_handler *ops, int state,
		   bool standby_ok)
{
	struct sim_dev_cfg cfg = { .name = LUN, .ops = ops, .handler_cfg = "" };
	char v[16];

	assert_int_equal(fake_cfgfs_new(&fx->fc, 1, LUN), 0);
	put(&fx->fc, "alua/gw/tg_pt_gp_id", "9\n");
	put(&fx->fc, "alua/gw/alua_access_type", "Implicit\n");
	snprintf(v, sizeof(v), "%d\n", state);
	put(&fx->fc, "alua/gw/alua_access_state", v);
	put(&fx->fc, "alua/gw/alua_access_status", "None\n");
	put(&fx->fc, "alua/gw/alua_support_active_optimized", "1\n");
	put(&fx->fc, "alua/gw/alua_support_active_nonoptimized", "1\n");
	put(&fx->fc, "alua/gw/alua_support_standby", standby_ok ? "1\n" : "0\n");
	put(&fx->fc, "alua/gw/alua_support_transitioning", "1\n");
	put(&fx->fc, "alua/gw/members", "loopback/naa.5001405000000001/tpgt_1/lun_0\n");
	put(&fx->fc, "/loopback/naa.5001405000000001/tpgt_1/lun/lun_0/statistics/scsi_port/indx",
	    "2\n");
	cfg.cfgfs_root = fx->fc.root;
	assert_int_equal(sim_dev_new(&fx->sd, &cfg), 0);
	fx->ld = tcmur_dev_private(fx->sd->dev);
}

static void fx_free(struct lock_fx *fx)
{
	sim_dev_free(fx->sd);
	fake_cfgfs_free(&fx->fc);
}

/* RTPG's first descriptor: state (low nibble of byte 4), status (9). */
static void rtpg(struct sim_dev *sd, uint8_t *state, uint8_t *status)
{
	uint8_t cdb[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	struct sim_cmd *c = sim_dev_run(sd, cdb, sizeof(cdb), NULL, 256);

	assert_good(c);
	assert_int_equal(tcmu_get_be16(c->data + 6), GROUP_ID);
	assert_int_equal(c->data[11], 1);			/* one port */
	assert_int_equal(tcmu_get_be16(c->data + 14), 2);	/* rtpi 2 */
	*state = c->data[4] & 0x0f;
	*status = c->data[9];
}

static void expect(struct lock_fx *fx, int who, uint8_t want_state, uint8_t want_status)
{
	uint8_t state, status;

	__atomic_store_n(&fx->ld->who, who, __ATOMIC_RELEASE);
	rtpg(fx->sd, &state, &status);
	print_message("lock_owner %d: RTPG state %u status %u\n", who, state, status);
	assert_int_equal(state, want_state);
	assert_int_equal(status, want_status);
}

/* Configfs says active/optimized (the kernel's default): ours stays so,
 * another gateway's lock makes it standby, nobody's leaves configfs's. */
static void test_alua_lock_owner_decides_state(void **state)
{
	struct lock_fx fx;

	(void)state;
	fx_new(&fx, &lock_ops, 0, true);
	expect(&fx, TCMUR_LOCK_OURS, 0, 0);
	expect(&fx, TCMUR_LOCK_THEIRS, 2, 2);		/* standby, implicit */
	expect(&fx, TCMUR_LOCK_NONE, 0, 0);
	expect(&fx, 77, 0, 0);				/* nonsense: as none */
	assert_int_equal(__atomic_load_n(&fx.ld->calls, __ATOMIC_ACQUIRE), 4);
	fx_free(&fx);
	/* Configfs says standby (ceph-iscsi's explicit groups start so). */
	fx_new(&fx, &lock_ops, 2, true);
	expect(&fx, TCMUR_LOCK_OURS, 0, 2);		/* optimized, implicit */
	expect(&fx, TCMUR_LOCK_THEIRS, 2, 0);
	expect(&fx, TCMUR_LOCK_NONE, 2, 0);
	fx_free(&fx);
}

/* A group without standby (ceph-iscsi's implicit "ano" groups):
 * another gateway's lock is active/non-optimized. */
static void test_alua_lock_theirs_without_standby(void **state)
{
	struct lock_fx fx;

	(void)state;
	fx_new(&fx, &lock_ops, 0, false);
	expect(&fx, TCMUR_LOCK_THEIRS, 1, 2);
	expect(&fx, TCMUR_LOCK_OURS, 0, 0);
	fx_free(&fx);
}

/* A 1.4 handler has no lock_owner: whatever lies past its table is not
 * read, RTPG reports configfs's state. */
static void test_alua_lock_owner_ignored_before_1_5(void **state)
{
	struct tcmur_handler old = lock_ops;
	struct lock_fx fx;

	(void)state;
	old.api_version = (TCMUR_HANDLER_API_MAJOR << 16) | 4;
	fx_new(&fx, &old, 0, true);
	expect(&fx, TCMUR_LOCK_THEIRS, 0, 0);
	assert_int_equal(__atomic_load_n(&fx.ld->calls, __ATOMIC_ACQUIRE), 0);
	fx_free(&fx);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* lock_owner may ask the backend: while it waits, TEST UNIT READY
 * (served on the device thread) completes. */
static void test_alua_lock_owner_off_device_thread(void **state)
{
	static const uint8_t rtpg_cdb[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	static const uint8_t tur[6] = { TEST_UNIT_READY };
	struct sim_req rq = { .cdb = rtpg_cdb, .cdb_len = 12, .data_len = 256 };
	struct sim_req tq = { .cdb = tur, .cdb_len = 6 };
	struct sim_cmd *r, *t;
	struct lock_fx fx;
	long t0, tur_ms;

	(void)state;
	fx_new(&fx, &lock_ops, 0, true);
	__atomic_store_n(&fx.ld->who, TCMUR_LOCK_THEIRS, __ATOMIC_RELEASE);
	__atomic_store_n(&fx.ld->delay_ms, 600, __ATOMIC_RELEASE);
	t0 = now_ms();
	assert_int_equal(ring_sim_queue(fx.sd->sim, &rq, &r), 0);
	assert_int_equal(ring_sim_queue(fx.sd->sim, &tq, &t), 0);
	ring_sim_notify(fx.sd->sim);
	assert_int_equal(ring_sim_wait(fx.sd->sim, t, 2000), 0);
	tur_ms = now_ms() - t0;
	print_message("TEST UNIT READY done after %ld ms, RTPG %s\n", tur_ms,
		      r->done ? "done" : "pending");
	assert_good(t);
	assert_false(r->done);
	assert_true(tur_ms < 400);
	assert_int_equal(ring_sim_wait(fx.sd->sim, r, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(r);
	assert_int_equal(r->data[4] & 0x0f, 2);
	fx_free(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alua_lock_owner_decides_state),
		cmocka_unit_test(test_alua_lock_theirs_without_standby),
		cmocka_unit_test(test_alua_lock_owner_ignored_before_1_5),
		cmocka_unit_test(test_alua_lock_owner_off_device_thread),
	};

	return cmocka_run_group_tests_name("scsi alua lock owner", tests, NULL, NULL);
}
