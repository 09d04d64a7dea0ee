/*
 * What every unit test includes: cmocka and a few checks on completed
 * commands.
 */
#ifndef UNIT_TEST_H
#define UNIT_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ring_sim.h"
#include "tcmu-runner.h"
#include "scsi_defs.h"

/* @c completed with GOOD status (@c is evaluated once). */
#define assert_good(c)							\
	do {								\
		const struct sim_cmd *c_ = (c);				\
		assert_non_null(c_);					\
		assert_true(c_->done);					\
		assert_int_equal(c_->status, SAM_STAT_GOOD);		\
		assert_true(c_->guard_ok);				\
		assert_true(c_->read_len_ok);				\
	} while (0)

/* @c completed with CHECK CONDITION and this key, ASC and ASCQ. */
#define assert_sense(c, k, a, q)					\
	do {								\
		const struct sim_cmd *c_ = (c);				\
		assert_non_null(c_);					\
		assert_true(c_->done);					\
		assert_int_equal(c_->status, SAM_STAT_CHECK_CONDITION);	\
		assert_int_equal(c_->key, (k));				\
		assert_int_equal(c_->asc, (a));				\
		assert_int_equal(c_->ascq, (q));			\
		assert_true(c_->guard_ok);				\
		assert_true(c_->read_len_ok);				\
	} while (0)

/* Fixed-format sense key specific bytes: field pointer at @byte, @bit
 * (-1: none), in the CDB or in the parameter list. */
#define assert_field_ptr(c, in_cdb, byte, bit)				\
	do {								\
		const struct sim_cmd *c_ = (c);				\
		assert_int_equal(c_->sense[0] & 0x7f, 0x70);		\
		assert_int_equal(c_->sense[15],				\
				 0x80 | ((in_cdb) ? 0x40 : 0) |		\
				 ((bit) >= 0 ? 0x08 | (bit) : 0));	\
		assert_int_equal(c_->sense[16] << 8 | c_->sense[17], (byte)); \
	} while (0)

/* A fixture's setup/teardown for a default device (file handler). */
int sim_dev_setup(void **state);
int sim_dev_teardown(void **state);

#endif
