/*
 * A deliberately broken file handler: the real one, except that every
 * read comes back with its first byte flipped. make check-vm serves a LUN
 * with it and expects fio's verify to fail, which proves the VM tests can
 * see a daemon that returns wrong data. Licensed under the Apache License 2.0.
 */
#define _GNU_SOURCE
#include "../../../tcmu-runner.h"

/* Take the real handler's table under another name. */
#undef TCMUR_REGISTER_HANDLER
#define TCMUR_REGISTER_HANDLER(...) \
	static const struct tcmur_handler file_real = { \
		.struct_size = sizeof(struct tcmur_handler), \
		.api_version = TCMUR_HANDLER_API_VERSION, __VA_ARGS__ }
#include "../../../handler_file.c"

static tcmu_sts corrupt_read(struct tcmur_device *dev, struct tcmur_cmd *cmd,
			     struct iovec *iov, size_t iov_cnt, size_t len,
			     uint64_t offset)
{
	tcmu_sts sts = file_real.read(dev, cmd, iov, iov_cnt, len, offset);

	if (sts == TCMU_STS_GOOD && iov_cnt && iov[0].iov_len)
		((unsigned char *)iov[0].iov_base)[0] ^= 0xff;
	return sts;
}

/* The loader reads the table after dlopen has run the constructors. */
struct tcmur_handler tcmur_handler_entry;

__attribute__((constructor)) static void corrupt_table(void)
{
	tcmur_handler_entry = file_real;
	tcmur_handler_entry.name = "File-backed storage (corrupts reads, for tests)";
	tcmur_handler_entry.read = corrupt_read;
}
