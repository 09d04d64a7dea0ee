/*
 * A crash at any point leaves an image QEMU finds sound: a child process
 * serves a qcow2 image (4 KiB clusters, so that L2 tables and refcount
 * blocks are made often; a backing file, so that partial clusters are
 * copied) and writes to fresh clusters, reporting each write once it is
 * acknowledged; the test kills it with SIGKILL mid-way (some acks, then
 * a delay that differs from round to round, so that the kill lands at
 * different steps of a write), six times, on the same image. After each
 * kill qemu-img check finds no corruption (leaked clusters are allowed:
 * exit 0 or 3) and every acknowledged write reads back through QEMU. The
 * next round serves the crashed image again. Once more with 512-byte
 * clusters, where new L2 tables, refcount blocks and a grown refcount
 * table come often.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qcow_fixture.h"
#include "unit_test.h"

#define LUN (64 << 20)
#define SLOT (96 * 1024)	/* one write per slot, at most 32 KiB + 3 KiB */
#define PER_ROUND 110
#define ROUNDS 6

struct ack {
	uint32_t slot, seed;
};

static uint64_t slot_off(uint32_t slot)
{
	return (uint64_t)slot * SLOT + 512 * (slot % 7);
}

static size_t slot_len(uint32_t slot)
{
	return 512 * (1 + slot * 13 % 64);
}

/* The child: write slots @first.., one ack per write, until killed. */
static void child_writes(struct qfx *f, uint32_t first, int fd)
{
	struct sim_dev *sd = qfx_dev(f, "top.qcow2", LUN, NULL);
	static uint8_t buf[32 * 1024];

	if (!sd)
		_exit(2);
	for (uint32_t i = 0; i < PER_ROUND; i++) {
		struct ack a = { first + i, first + i + 7 };
		struct sim_cmd *c;

		qfx_fill(buf, slot_len(a.slot), a.seed);
		c = qfx_write(sd, slot_off(a.slot), buf, slot_len(a.slot));
		if (!c || c->status != SAM_STAT_GOOD)
			_exit(3);
		ring_sim_cmd_free(sd->sim, c);
		if (write(fd, &a, sizeof(a)) != sizeof(a))
			_exit(4);
	}
	for (;;)	/* all done before the kill: wait for it */
		pause();
}

/* Run a child from slot @first, kill it after @kill_after acks; the acks
 * (all of them, also those sent before it died) into @acks. */
static unsigned int crash_round(struct qfx *f, uint32_t first, unsigned int kill_after,
				unsigned int delay_us, struct ack *acks)
{
	unsigned int n = 0;
	int p[2], st;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_writes(f, first, p[1]);
	}
	close(p[1]);
	while (n < PER_ROUND && read(p[0], &acks[n], sizeof(*acks)) == sizeof(*acks))
		if (++n == kill_after) {
			usleep(delay_us);
			kill(pid, SIGKILL);
		}
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)	/* 2: open, 3: a write failed */
		fail_msg("the child ended by itself, exit %d, after %u writes",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1, n);
	return n;
}

/* Every acknowledged write is in QEMU's view of the image. */
static void assert_acks_readable(struct qfx *f, const struct ack *acks, unsigned int n)
{
	static uint8_t want[32 * 1024], got[32 * 1024];
	char path[128];
	int fd;

	assert_int_equal(qfx_sh(f, "qemu-img convert -O raw top.qcow2 seen.raw"), 0);
	snprintf(path, sizeof(path), "%s/seen.raw", f->dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	for (unsigned int i = 0; i < n; i++) {
		size_t len = slot_len(acks[i].slot);

		qfx_fill(want, len, acks[i].seed);
		assert_int_equal(pread(fd, got, len, slot_off(acks[i].slot)), (ssize_t)len);
		if (memcmp(want, got, len))
			fail_msg("acknowledged write to slot %u lost", acks[i].slot);
	}
	close(fd);
}

/* Six kill rounds on top.qcow2, made by the shell command @make. */
static void crash_rounds(struct qfx *f, const char *make)
{
	static const unsigned int kill_after[ROUNDS] = { 3, 10, 20, 40, 60, 90 };
	static const unsigned int delay_us[ROUNDS] = { 0, 150, 400, 900, 1700, 3100 };
	static struct ack acks[PER_ROUND];
	unsigned int leaky = 0;

	assert_int_equal(qfx_sh(f, "%s", make), 0);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		unsigned int n = crash_round(f, r * PER_ROUND, kill_after[r], delay_us[r], acks);
		int rc = qfx_sh(f, "qemu-img check top.qcow2");

		print_message("round %u: killed %u us after %u acknowledged writes (%u in all); "
			      "qemu-img check exit %d: %s", r, delay_us[r], kill_after[r], n, rc,
			      strstr(f->out, "leaked") ? "leaked clusters only\n" :
			      "no errors\n");
		leaky += rc == 3;
		if ((rc != 0 && rc != 3) || strstr(f->out, "ERROR") || strstr(f->out, "corrupt"))
			fail_msg("qemu-img check after a crash: exit %d:\n%s", rc, f->out);
		assert_true(n >= kill_after[r]);
		assert_acks_readable(f, acks, n);
	}
	print_message("%u of %d kills left leaked clusters (allowed), none an error\n", leaky,
		      ROUNDS);
}

static void test_qcow_crash_sigkill_mid_write(void **state)
{
	crash_rounds(*state, "qemu-img create -q -f qcow2 -o cluster_size=4k base.qcow2 64M && "
		     "qemu-io -f qcow2 -c 'write -P 0x5c 0 64M' base.qcow2 && "
		     "qemu-img create -q -f qcow2 -o cluster_size=4k -b base.qcow2 -F qcow2 "
		     "top.qcow2 64M");
}

/* 512-byte clusters, no backing file: an L2 table every 32 KiB, a
 * refcount block every 128 KiB of file, and the refcount table grown
 * once the file passes 8 MiB, all of it under the kills. */
static void test_qcow_crash_sigkill_small_clusters(void **state)
{
	struct qfx *f = *state;

	/* QEMU fills the file close to 8 MiB; our writes then pass it. */
	crash_rounds(f, "qemu-img create -q -f qcow2 -o cluster_size=512 top.qcow2 64M && "
		     "qemu-io -f qcow2 -c 'write -P 1 57M 7M' top.qcow2");
	assert_int_equal(qfx_sh(f, "od -An -j56 -N4 -tu4 --endian=big top.qcow2"), 0);
	print_message("refcount table: %ld clusters\n", strtol(f->out, NULL, 10));
	assert_true(strtol(f->out, NULL, 10) >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		QFX_TEST(test_qcow_crash_sigkill_mid_write),
		QFX_TEST(test_qcow_crash_sigkill_small_clusters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
