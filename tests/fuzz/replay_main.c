/*
 * Replays a fuzz target's corpus (tests/fuzz/corpus/<target>/, seeds and
 * kept crash reproducers alike) as a cmocka test, so `make check-unit`
 * runs every input the fuzzers were ever given a name for. Built as
 * replay_<target> with the target's LLVMFuzzerTestOneInput.
 */
#include <dirent.h>
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static char corpus[512];

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len ? len : 1);
	assert_int_equal(fread(buf, 1, len, f), (size_t)len);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
}

static void test_replay_corpus(void **state)
{
	struct dirent **names;
	int n, replayed = 0;

	(void)state;
	n = scandir(corpus, &names, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		char path[1024];

		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", corpus, names[i]->d_name);
			replay_file(path);
			replayed++;
		}
		free(names[i]);
	}
	free(names);
	print_message("replayed %d inputs from %s\n", replayed, corpus);
	assert_true(replayed > 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_corpus),
	};
	const char *target = basename(argv[0]);

	if (!strncmp(target, "replay_", 7))
		target += 7;
	snprintf(corpus, sizeof(corpus), "%s/%s", REPLAY_CORPUS_ROOT, target);
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	return cmocka_run_group_tests_name(target, tests, NULL, NULL);
}
