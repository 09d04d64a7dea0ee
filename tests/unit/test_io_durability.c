/*
 * Every command that promises its data stable at completion keeps the
 * promise, as the handler sees it: FUA writes, every write with the
 * write cache off, WRITE AND VERIFY, COMPARE AND WRITE, WRITE SAME and
 * EXTENDED COPY. On a handler that does FUA (mem_handler) the writes
 * come with cmd->fua and no flush is spent; on one that cannot
 * (no_fua, sync or async) a flush follows the writes before the
 * command completes. Either way no write is left unstable
 * (mem_handler_unstable). With the write cache on and no FUA, nothing
 * is forced. The file handler turns cmd->fua into RWF_DSYNC and makes
 * UNMAP and WRITE SAME (UNMAP) durable with fdatasync when the write
 * cache is off (counted by file_spy, which wraps its system calls).
 */
#include "file_spy.h"
#include "sbc_cmds.h"
#include "xcopy_list.h"

#define SER_A "aaaa0000111122223333444455556666"
#define SER_B "bbbb0000111122223333444455556666"
#define DUR_SIZE (1 << 20)

enum dur_cmd { D_WRITE_FUA, D_WRITE, D_WRITE_VERIFY, D_CAW_FUA, D_CAW, D_WRITE_SAME,
	       D_XCOPY, D_NCMDS };

static const char *const dur_names[D_NCMDS] = {
	"WRITE(10) FUA", "WRITE(10)", "WRITE AND VERIFY(10)", "COMPARE AND WRITE FUA",
	"COMPARE AND WRITE", "WRITE SAME(16)", "EXTENDED COPY",
};

/* A mem_handler LUN with @opts, in @reg (may be NULL). */
static struct sim_dev *dur_dev(struct dev_registry *reg, const char *opts, bool wc_off,
			       const char *serial)
{
	struct sim_dev_cfg cfg = { .ops = &mem_handler_ops, .handler_cfg = opts,
				   .size = DUR_SIZE, .write_cache_off = wc_off,
				   .serial = serial, .registry = reg };
	struct sim_dev *sd;

	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	if (reg)
		assert_int_equal(dev_registry_add(reg, sd->dev), 0);
	return sd;
}

static struct sim_cmd *dur_caw(struct sim_dev *sd, uint8_t b1, uint64_t lba)
{
	uint8_t cdb[16] = { COMPARE_AND_WRITE, b1 }, buf[1024] = { 0 };

	tcmu_put_be64(cdb + 2, lba);
	cdb[13] = 1;
	/* Compare with zeros (the LUN is new), write a pattern. */
	sbc_fill(buf + 512, 512, (unsigned int)lba);
	return sim_dev_run(sd, cdb, 16, buf, sizeof(buf));
}

/* Run @cmd on @b (EXTENDED COPY: from @a into @b, on @a's ring). */
static struct sim_cmd *dur_run(enum dur_cmd cmd, struct sim_dev *a, struct sim_dev *b)
{
	static uint8_t buf[8 * 512];
	struct xlist l = { 0 };

	sbc_fill(buf, sizeof(buf), cmd);
	switch (cmd) {
	case D_WRITE_FUA:
		return sbc_run(b, WRITE_10, 0x08, 10, 8, buf, sizeof(buf));
	case D_WRITE:
		return sbc_run(b, WRITE_10, 0, 10, 8, buf, sizeof(buf));
	case D_WRITE_VERIFY:
		return sbc_run(b, WRITE_VERIFY_10, 0x02, 10, 8, buf, sizeof(buf));
	case D_CAW_FUA:
		return dur_caw(b, 0x08, 30);
	case D_CAW:
		return dur_caw(b, 0, 31);
	case D_WRITE_SAME:
		return sbc_run(b, WRITE_SAME_16, 0, 100, 300, buf, 512);
	case D_XCOPY:
		sbc_fill(mem_handler_data(a->dev), 64 * 512, 5);
		xl_cscd(&l, a->dev, 512);
		xl_cscd(&l, b->dev, 512);
		xl_seg(&l, 0, 1, 64, 0, 200);
		return xl_run(a, &l);
	default:
		return NULL;
	}
}

/* Whether @cmd promises stability with the write cache at @wc. */
static bool dur_promised(enum dur_cmd cmd, bool wc)
{
	return !wc || cmd == D_WRITE_FUA || cmd == D_WRITE_VERIFY || cmd == D_CAW_FUA;
}

static void dur_check(enum dur_cmd cmd, const char *opts, bool wc)
{
	struct dev_registry reg;
	struct sim_dev *a, *b;
	bool no_fua = strstr(opts, "no_fua");
	bool stable = dur_promised(cmd, wc);
	unsigned int fua, flushes, unstable;

	print_message("%-22s on mem/%-13s write cache %s: ", dur_names[cmd], opts,
		      wc ? "on " : "off");
	dev_registry_init(&reg);
	a = dur_dev(&reg, opts, false, SER_A);
	b = dur_dev(&reg, opts, !wc, SER_B);
	assert_int_equal(mem_handler_ios(b->dev), 0);
	assert_good(dur_run(cmd, a, b));
	fua = mem_handler_fua_writes(b->dev);
	flushes = mem_handler_flushes(b->dev);
	unstable = mem_handler_unstable(b->dev);
	print_message("%u FUA writes, %u flushes, %u unstable writes\n", fua, flushes, unstable);
	if (stable) {
		assert_int_equal(unstable, 0);
		if (no_fua) {
			assert_int_equal(fua, 0);
			assert_true(flushes >= 1);
		} else {
			assert_true(fua >= 1);
			assert_int_equal(flushes, 0);
		}
	} else {
		/* Nothing asked: no flush spent, no write forced. */
		assert_true(unstable >= 1);
		assert_int_equal(fua, 0);
		assert_int_equal(flushes, 0);
	}
	xl_pair_free(&reg, a, b);
}

static void test_durable_every_stable_path(void **state)
{
	static const char *const opts[] = { "", "async", "no_fua", "async,no_fua" };

	(void)state;
	alarm(60);
	for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++)
		for (int cmd = 0; cmd < D_NCMDS; cmd++) {
			dur_check(cmd, opts[o], true);
			dur_check(cmd, opts[o], false);
		}
	alarm(0);
}

/* With the write cache off, a flush that fails after the writes of a
 * handler without FUA fails the command: the data is not stable, so it
 * must not say GOOD (MEDIUM ERROR, WRITE ERROR; COPY ABORTED for a copy). */
static void test_durable_failed_flush_fails_the_write(void **state)
{
	static const char *const opts[] = { "no_fua", "async,no_fua" };

	(void)state;
	for (size_t o = 0; o < 2; o++)
		for (int cmd = 0; cmd < D_NCMDS; cmd++) {
			struct dev_registry reg;
			struct sim_dev *a, *b;

			dev_registry_init(&reg);
			a = dur_dev(&reg, opts[o], false, SER_A);
			b = dur_dev(&reg, opts[o], true, SER_B);
			mem_handler_fail(b->dev, MEM_OP_FLUSH, 1, EIO);
			print_message("%s on mem/%s, flush fails with EIO\n", dur_names[cmd],
				      opts[o]);
			if (cmd == D_XCOPY)
				assert_sense(dur_run(cmd, a, b), SENSE_COPY_ABORTED, 0x0c, 0x00);
			else
				assert_sense(dur_run(cmd, a, b), SENSE_MEDIUM_ERROR, 0x0c, 0x00);
			xl_pair_free(&reg, a, b);
		}
}

static struct sim_dev *file_dev(bool wc_off)
{
	struct sim_dev_cfg cfg = { .write_cache_off = wc_off };
	struct sim_dev *sd;

	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	return sd;
}

/* What the file handler asked of the kernel while @c ran. */
static struct file_spy spy_delta(const struct file_spy *before)
{
	struct file_spy now;

	file_spy_get(&now);
	return (struct file_spy){ now.writes - before->writes,
				  now.dsync_writes - before->dsync_writes,
				  now.datasyncs - before->datasyncs };
}

/* The file handler: FUA and write-through writes are RWF_DSYNC, plain
 * writes are not, SYNCHRONIZE CACHE is one fdatasync. */
static void test_durable_file_fua_is_dsync(void **state)
{
	uint8_t buf[4096];
	struct sim_dev *sd;
	struct file_spy before, d;

	(void)state;
	sbc_fill(buf, sizeof(buf), 3);
	for (int wc_off = 0; wc_off < 2; wc_off++) {
		sd = file_dev(wc_off);
		file_spy_get(&before);
		assert_good(sbc_run(sd, WRITE_10, 0x08, 0, 8, buf, sizeof(buf)));
		d = spy_delta(&before);
		print_message("write cache %s, WRITE FUA: %u writes, %u RWF_DSYNC, %u fdatasync\n",
			      wc_off ? "off" : "on", d.writes, d.dsync_writes, d.datasyncs);
		assert_true(d.writes >= 1);
		assert_int_equal(d.dsync_writes, d.writes);
		assert_int_equal(d.datasyncs, 0);

		file_spy_get(&before);
		assert_good(sbc_run(sd, WRITE_16, 0, 8, 8, buf, sizeof(buf)));
		d = spy_delta(&before);
		print_message("write cache %s, WRITE:     %u writes, %u RWF_DSYNC, %u fdatasync\n",
			      wc_off ? "off" : "on", d.writes, d.dsync_writes, d.datasyncs);
		assert_true(d.writes >= 1);
		assert_int_equal(d.dsync_writes, wc_off ? d.writes : 0);
		assert_int_equal(d.datasyncs, 0);

		file_spy_get(&before);
		assert_good(sbc_run(sd, SYNCHRONIZE_CACHE_10, 0, 0, 0, NULL, 0));
		d = spy_delta(&before);
		assert_int_equal(d.writes, 0);
		assert_int_equal(d.datasyncs, 1);
		sim_dev_free(sd);
	}
}

static struct sim_cmd *unmap_one(struct sim_dev *sd, uint64_t lba, uint32_t n)
{
	uint8_t cdb[10] = { UNMAP }, buf[24] = { 0 };

	tcmu_put_be16(buf, 22);
	tcmu_put_be16(buf + 2, 16);
	tcmu_put_be64(buf + 8, lba);
	tcmu_put_be32(buf + 16, n);
	tcmu_put_be16(cdb + 7, sizeof(buf));
	return sim_dev_run(sd, cdb, 10, buf, sizeof(buf));
}

/* Deallocation with the write cache off is made durable (fdatasync)
 * before GOOD; with it on, it is not forced. */
static void test_durable_file_unmap_write_cache_off(void **state)
{
	uint8_t zero[512] = { 0 };
	struct sim_dev *sd;
	struct file_spy before, d;

	(void)state;
	for (int wc_off = 0; wc_off < 2; wc_off++) {
		sd = file_dev(wc_off);
		if (!sbc_can_unmap(sd)) {
			sim_dev_free(sd);
			skip();
		}
		file_spy_get(&before);
		assert_good(unmap_one(sd, 16, 64));
		d = spy_delta(&before);
		print_message("write cache %s, UNMAP: %u fdatasync\n", wc_off ? "off" : "on",
			      d.datasyncs);
		assert_int_equal(d.datasyncs, wc_off ? 1 : 0);

		file_spy_get(&before);
		assert_good(sbc_run(sd, WRITE_SAME_16, 0x08, 128, 64, zero, 512));	/* UNMAP */
		d = spy_delta(&before);
		print_message("write cache %s, WRITE SAME (UNMAP): %u fdatasync\n",
			      wc_off ? "off" : "on", d.datasyncs);
		assert_int_equal(d.datasyncs, wc_off ? 1 : 0);
		sbc_assert_zero_blocks(sd, 128, 64);
		sim_dev_free(sd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durable_every_stable_path),
		cmocka_unit_test(test_durable_failed_flush_fails_the_write),
		cmocka_unit_test(test_durable_file_fua_is_dsync),
		cmocka_unit_test(test_durable_file_unmap_write_cache_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
