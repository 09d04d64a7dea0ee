/*
 * A power loss at any moment leaves the file handler's backing file
 * holding every write acknowledged as stable: FUA writes (RWF_DSYNC)
 * once they complete, others once a SYNCHRONIZE CACHE after them has
 * (fdatasync); an UNMAP (a hole punched) likewise. The workload runs
 * with every write, punch and sync the handler issues logged
 * (crash_log.h) and is replayed (crash_run.h) onto a copy of the file as
 * it was before, up to each sync and each FUA write, with none, all and
 * random subsets of the writes not yet stable; each such file must hold,
 * sector by sector, what the last op acknowledged stable put there or
 * what a later op issued before the crash did.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "crash_run.h"
#include "unit_test.h"

#define KiB 1024
#define LUN (1024 * KiB)

static int raw_judge(struct crash_run *r, const struct crash_case *c, void *ctx)
{
	char why[256];

	if (!crash_book_check(&r->book, r->crashed, c->point, why, sizeof(why)))
		fail_msg("%s: crash point %u of %u events (unsynced writes: %s %u of %u), "
			 "seed %u: acknowledged data lost: %s", r->name, c->point, c->events,
			 crash_pick_name(c->pick), c->arg, c->optional, r->seed, why);
	return 0;
}

static void test_file_powerloss_writes_flush_unmap(void **state)
{
	struct sim_dev_cfg cfg = { .size = LUN };
	struct crash_run r;
	struct sim_dev *sd;

	assert_int_equal(sim_dev_new(&sd, &cfg), 0);
	crash_run_begin(&r, "file handler", sd->path, LUN, 0, 29);
	r.sd = sd;
	for (unsigned int i = 0; i < 30; i++) {
		crash_run_write(&r, (i * 29 % 200) * 4 * KiB + i % 5 * 512,
				512 * (1 + i * 3 % 16), i + 1, i % 4 == 1);
		if (i % 6 == 5)
			crash_run_flush(&r);
		if (i % 10 == 7)
			crash_run_unmap(&r, (i * 13 % 200) * 4 * KiB, 8 * KiB);
	}
	crash_run_write(&r, 900 * KiB, 16 * KiB, 99, false);	/* never flushed */
	crash_run_end(&r);
	crash_run_replay(&r, raw_judge, NULL);
	unlink(r.base);
	unlink(r.crashed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_powerloss_writes_flush_unmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
