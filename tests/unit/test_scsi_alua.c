/*
 * REPORT / SET TARGET PORT GROUPS and INQUIRY's TPGS on a fake configfs
 * tree: explicit-only groups, refused states, the PREF bit, transitions
 * that must not hold up the device thread, and the per-device cache.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_cfgfs.h"
#include "sim_dev.h"
#include "unit_test.h"

#define LUN "alua_lun"
#define GROUP_ID 7
#define STATE_FILE "alua/grp/alua_access_state"
/* scsi_alua.h's ALUA_CACHE_TTL_MS, which the old code did not have. */
#define ALUA_CACHE_TTL_MS_TEST 1000

struct alua_fx {
	struct fake_cfgfs fc;
	struct sim_dev *sd;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put(const struct fake_cfgfs *fc, const char *attr, const char *val)
{
	assert_int_equal(fake_cfgfs_write(fc, attr, val), 0);
}

/* Group "grp" (id 7) of access @type, in @state, one port (rtpi 3). */
static void make_group(struct fake_cfgfs *fc, const char *type, int state, int pref,
		       int delay_ms, bool standby_ok)
{
	char v[32];

	put(fc, "alua/grp/tg_pt_gp_id", "7\n");
	put(fc, "alua/grp/alua_access_type", type);
	snprintf(v, sizeof(v), "%d\n", state);
	put(fc, STATE_FILE, v);
	put(fc, "alua/grp/alua_access_status", "None\n");
	put(fc, "alua/grp/preferred", pref ? "1\n" : "0\n");
	put(fc, "alua/grp/implicit_trans_secs", "0\n");
	snprintf(v, sizeof(v), "%d\n", delay_ms);
	put(fc, "alua/grp/trans_delay_msecs", v);
	put(fc, "alua/grp/alua_support_active_optimized", "1\n");
	put(fc, "alua/grp/alua_support_active_nonoptimized", "1\n");
	put(fc, "alua/grp/alua_support_standby", standby_ok ? "1\n" : "0\n");
	put(fc, "alua/grp/alua_support_unavailable", "1\n");
	put(fc, "alua/grp/alua_support_transitioning", "1\n");
	put(fc, "alua/grp/members", "iscsi/iqn.2026-11.test:t/tpgt_1/lun_0\n");
	put(fc, "/iscsi/iqn.2026-11.test:t/tpgt_1/lun/lun_0/statistics/scsi_port/indx", "3\n");
}

static void fx_new(struct alua_fx *fx, const char *type, int state, int pref, int delay_ms,
		   bool standby_ok)
{
	struct sim_dev_cfg cfg = { .name = LUN };

	assert_int_equal(fake_cfgfs_new(&fx->fc, 1, LUN), 0);
	make_group(&fx->fc, type, state, pref, delay_ms, standby_ok);
	cfg.cfgfs_root = fx->fc.root;
	assert_int_equal(sim_dev_new(&fx->sd, &cfg), 0);
}

static void fx_free(struct alua_fx *fx)
{
	sim_dev_free(fx->sd);
	fake_cfgfs_free(&fx->fc);
}

static struct sim_cmd *rtpg(struct sim_dev *sd)
{
	uint8_t cdb[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	struct sim_cmd *c = sim_dev_run(sd, cdb, sizeof(cdb), NULL, 256);

	assert_good(c);
	assert_int_equal(tcmu_get_be16(c->data + 6), GROUP_ID);
	return c;
}

static void stpg_req(struct sim_req *req, uint8_t *cdb, uint8_t *param, int state,
		     uint16_t id)
{
	static const uint8_t stpg[12] = { 0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0 };

	memcpy(cdb, stpg, sizeof(stpg));
	memset(param, 0, 8);
	param[4] = state;
	tcmu_put_be16(param + 6, id);
	memset(req, 0, sizeof(*req));
	req->cdb = cdb;
	req->cdb_len = 12;
	req->data = param;
	req->data_len = 8;
}

static struct sim_cmd *stpg(struct sim_dev *sd, int state, uint16_t id)
{
	uint8_t cdb[12], param[8];
	struct sim_req req;

	stpg_req(&req, cdb, param, state, id);
	return ring_sim_run(sd->sim, &req, SIM_DEV_TIMEOUT_MS);
}

static struct sim_cmd *queue(struct sim_dev *sd, const struct sim_req *req)
{
	struct sim_cmd *c;

	assert_int_equal(ring_sim_queue(sd->sim, req, &c), 0);
	ring_sim_notify(sd->sim);
	return c;
}

static struct sim_cmd *queue_tur(struct sim_dev *sd)
{
	static const uint8_t tur[6] = { TEST_UNIT_READY };
	struct sim_req req = { .cdb = tur, .cdb_len = 6 };

	return queue(sd, &req);
}

/* The kernel refuses alua_access_state writes for a group without
 * Implicit: the daemon keeps the state, RTPG reports it. */
static void test_alua_stpg_explicit_only_group(void **state)
{
	struct alua_fx fx;
	struct sim_cmd *c;
	char buf[16];

	(void)state;
	fx_new(&fx, "Explicit\n", 0, 0, 0, true);
	assert_good(stpg(fx.sd, 2, GROUP_ID));
	c = rtpg(fx.sd);
	assert_int_equal(c->data[4] & 0x0f, 2);		/* standby */
	assert_int_equal(c->data[9], 0x01);		/* altered by STPG */
	/* Nothing written where the kernel would have said EINVAL. */
	assert_int_equal(fake_cfgfs_read(&fx.fc, STATE_FILE, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0\n");
	/* And back. */
	assert_good(stpg(fx.sd, 0, GROUP_ID));
	assert_int_equal(rtpg(fx.sd)->data[4] & 0x0f, 0);
	fx_free(&fx);
}

static void test_alua_stpg_refuses_unsupported(void **state)
{
	struct alua_fx fx;
	struct sim_cmd *c;

	(void)state;
	fx_new(&fx, "Implicit and Explicit\n", 0, 0, 0, false);
	c = stpg(fx.sd, 2, GROUP_ID);			/* standby not supported */
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 4, 3);
	c = stpg(fx.sd, 0x0e, GROUP_ID);		/* offline: not primary */
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 4, 3);
	c = stpg(fx.sd, 1, GROUP_ID + 1);		/* no such group */
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_field_ptr(c, false, 6, -1);
	assert_int_equal(rtpg(fx.sd)->data[4] & 0x0f, 0);
	fx_free(&fx);
	/* An implicit-only group takes no STPG at all. */
	fx_new(&fx, "Implicit\n", 0, 0, 0, true);
	c = stpg(fx.sd, 1, GROUP_ID);
	assert_sense(c, SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	fx_free(&fx);
}

static void test_alua_rtpg_reports_pref(void **state)
{
	struct alua_fx fx;
	struct sim_cmd *c;

	(void)state;
	fx_new(&fx, "Explicit\n", 1, 1, 0, true);
	c = rtpg(fx.sd);
	assert_int_equal(c->data[4], 0x80 | 0x01);	/* PREF, active/non-optimized */
	assert_int_equal(c->data[5], 0x8f);		/* T, U, S, AN, AO */
	assert_int_equal(c->data[11], 1);		/* one port */
	assert_int_equal(tcmu_get_be16(c->data + 14), 3);
	fx_free(&fx);
}

/* trans_delay_msecs runs on an I/O thread: TEST UNIT READY completes
 * meanwhile, RTPG says transitioning, STPG completes after the delay. */
static void test_alua_transition_delay_off_ring_thread(void **state)
{
	struct alua_fx fx;
	struct sim_cmd *s, *t, *c;
	uint8_t cdb[12], param[8];
	struct sim_req req;
	long t0, tur_ms;

	(void)state;
	fx_new(&fx, "Explicit\n", 0, 0, 600, true);
	stpg_req(&req, cdb, param, 1, GROUP_ID);
	t0 = now_ms();
	s = queue(fx.sd, &req);
	t = queue_tur(fx.sd);
	assert_int_equal(ring_sim_wait(fx.sd->sim, t, 2000), 0);
	tur_ms = now_ms() - t0;
	print_message("TEST UNIT READY done after %ld ms, STPG %s\n", tur_ms,
		      s->done ? "done" : "pending");
	assert_good(t);
	assert_false(s->done);
	assert_true(tur_ms < 400);
	c = rtpg(fx.sd);
	assert_int_equal(c->data[4] & 0x0f, 0x0f);	/* transitioning */
	assert_int_equal(ring_sim_wait(fx.sd->sim, s, SIM_DEV_TIMEOUT_MS), 0);
	assert_good(s);
	assert_true(now_ms() - t0 >= 600);
	assert_int_equal(rtpg(fx.sd)->data[4] & 0x0f, 1);
	fx_free(&fx);
}

/* A group the kernel takes writes for: the kernel sleeps its delay in
 * write(). A FIFO stands in for that write; the device thread must not
 * be the one blocked in it. */
static void test_alua_cfgfs_write_off_ring_thread(void **state)
{
	struct alua_fx fx;
	struct sim_cmd *s, *t;
	uint8_t cdb[12], param[8];
	struct sim_req req;
	char path[512];
	bool tur_done;
	int fd;

	(void)state;
	fx_new(&fx, "Implicit and Explicit\n", 0, 0, 0, true);
	rtpg(fx.sd);				/* groups cached */
	assert_int_equal(fake_cfgfs_fifo(&fx.fc, STATE_FILE), 0);
	stpg_req(&req, cdb, param, 1, GROUP_ID);
	s = queue(fx.sd, &req);
	t = queue_tur(fx.sd);
	tur_done = ring_sim_wait(fx.sd->sim, t, 1000) == 0;
	print_message("TEST UNIT READY %s while the configfs write blocks\n",
		      tur_done ? "completed" : "did not complete");
	/* Let the writer (or, in the old code, the device thread) go on. */
	fake_cfgfs_path(&fx.fc, STATE_FILE, path, sizeof(path));
	fd = open(path, O_RDWR | O_NONBLOCK);
	assert_true(fd >= 0);
	if (!tur_done)
		assert_int_equal(write(fd, "0\n", 2), 2);
	assert_int_equal(ring_sim_wait(fx.sd->sim, s, SIM_DEV_TIMEOUT_MS), 0);
	close(fd);
	assert_true(tur_done);
	assert_good(t);
	assert_good(s);
	unlink(path);
	put(&fx.fc, STATE_FILE, "1\n");		/* what the kernel would show */
	assert_int_equal(rtpg(fx.sd)->data[4] & 0x0f, 1);
	fx_free(&fx);
}

static uint8_t tpgs(struct sim_dev *sd)
{
	uint8_t cdb[6] = { INQUIRY, 0, 0, 0, 96, 0 };
	struct sim_cmd *c = sim_dev_run(sd, cdb, 6, NULL, 96);

	assert_good(c);
	return (c->data[5] >> 4) & 0x03;
}

/* INQUIRY answers from the cache: a configfs change shows after a
 * RECONFIG event (or the cache's expiry), not on every command. */
static void test_alua_inquiry_cached_until_invalidated(void **state)
{
	struct tcmu_reconfig rc = { 0 };
	struct alua_fx fx;

	(void)state;
	fx_new(&fx, "Implicit\n", 0, 0, 0, true);
	assert_int_equal(tpgs(fx.sd), 0x01);
	put(&fx.fc, "alua/grp/alua_access_type", "Explicit\n");
	assert_int_equal(tpgs(fx.sd), 0x01);		/* not read again */
	assert_int_equal(dev_reconfig(fx.sd->dev, &rc), 0);
	assert_int_equal(tpgs(fx.sd), 0x02);
	put(&fx.fc, "alua/grp/alua_access_type", "Implicit and Explicit\n");
	assert_int_equal(tpgs(fx.sd), 0x02);
	usleep((ALUA_CACHE_TTL_MS_TEST + 100) * 1000);
	assert_int_equal(tpgs(fx.sd), 0x03);		/* expired */
	fx_free(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alua_stpg_explicit_only_group),
		cmocka_unit_test(test_alua_stpg_refuses_unsupported),
		cmocka_unit_test(test_alua_rtpg_reports_pref),
		cmocka_unit_test(test_alua_transition_delay_off_ring_thread),
		cmocka_unit_test(test_alua_cfgfs_write_off_ring_thread),
		cmocka_unit_test(test_alua_inquiry_cached_until_invalidated),
	};

	return cmocka_run_group_tests_name("scsi alua", tests, NULL, NULL);
}
