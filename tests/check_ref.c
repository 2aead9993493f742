/* check_ref.c: the plain reference (rundown_ref_t) against its contract. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rundown/rundown.h>

#include "testutil.h"
#include "testwaiter.h"

/* The documented encodings of the word (rundown.h). */
#define V_OPEN(k) ((uintptr_t)(k) << 1)
#define V_RUNNING(k) (((uintptr_t)(k) << 2) | 3)
#define V_DRAINED ((uintptr_t)3)
#define V_COMPLETED ((uintptr_t)1)

static rundown_ref_t ref;

/* Every test starts with an initialized, open reference. */
static void
setup(void)
{
	rundown_init(&ref);
}

/* Reads the word as the library's threads write it. */
static uintptr_t
value(const rundown_ref_t *r)
{
	return __atomic_load_n(&r->value, __ATOMIC_ACQUIRE);
}

/* Asserts what rundown_query() reports. */
static void
expect_state(const rundown_ref_t *r, enum rundown_state state,
    uint64_t outstanding)
{
	struct rundown_status st;
	int rc = rundown_query(r, &st);

	test_expect_status(rc, &st, state, outstanding);
}

/* Spins (yielding) until the reference reports state. */
static void
poll_state(const rundown_ref_t *r, enum rundown_state state)
{
	TEST_POLL_STATE(rundown_query, r, state);
}

/* Leaves a run-down in progress with k protections outstanding. */
static void
start_rundown(rundown_ref_t *r, uint32_t k)
{
	struct timespec ts = test_ms(1);

	ck_assert(rundown_acquire_n(r, k));
	ck_assert_int_eq(rundown_wait_timeout(r, &ts), -ETIMEDOUT);
	ck_assert_uint_eq(value(r), V_RUNNING(k));
}

/* ---- init ------------------------------------------------------------- */

/* rundown_init stores 0 (open, nothing held) whatever was there. */
START_TEST(test_init_open)
{
	rundown_ref_t r = { 0x55 };
	rundown_ref_t s = RUNDOWN_REF_INIT;

	rundown_init(&r);
	ck_assert_uint_eq(value(&r), 0);
	expect_state(&r, RUNDOWN_OPEN, 0);
	ck_assert_uint_eq(value(&s), 0);
	expect_state(&s, RUNDOWN_OPEN, 0);
}
END_TEST

/* The word is pointer-sized and RUNDOWN_REF_MAX fits the running encoding. */
START_TEST(test_init_layout)
{
	ck_assert_uint_eq(sizeof(rundown_ref_t), sizeof(void *));
	ck_assert_uint_eq(RUNDOWN_REF_MAX, UINTPTR_MAX >> 2);
	ck_assert_uint_eq(V_RUNNING(RUNDOWN_REF_MAX) >> 2, RUNDOWN_REF_MAX);
}
END_TEST

/* ---- acquire ---------------------------------------------------------- */

/* One acquire adds 2 to the word. */
START_TEST(test_acquire_one)
{
	ck_assert(rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), 2);
	expect_state(&ref, RUNDOWN_OPEN, 1);
	ck_assert(rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), 4);
	expect_state(&ref, RUNDOWN_OPEN, 2);
}
END_TEST

/* acquire_n changes the count by exactly n; n = 0 succeeds when open. */
START_TEST(test_acquire_n)
{
	ck_assert(rundown_acquire_n(&ref, 5));
	ck_assert_uint_eq(value(&ref), V_OPEN(5));
	ck_assert(rundown_acquire_n(&ref, 1));
	ck_assert_uint_eq(value(&ref), V_OPEN(6));
	ck_assert(rundown_acquire_n(&ref, 0));
	ck_assert_uint_eq(value(&ref), V_OPEN(6));
	expect_state(&ref, RUNDOWN_OPEN, 6);
}
END_TEST

/* A 32-bit n is counted in full (no 32-bit intermediate). */
START_TEST(test_acquire_n_large)
{
	if ((uintmax_t)RUNDOWN_REF_MAX <= UINT32_MAX)
		return;
	ck_assert(rundown_acquire_n(&ref, UINT32_MAX));
	ck_assert_uint_eq(value(&ref), V_OPEN(UINT32_MAX));
	expect_state(&ref, RUNDOWN_OPEN, UINT32_MAX);
	ck_assert(rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), V_OPEN((uintmax_t)UINT32_MAX + 1));
	ck_assert_int_eq(rundown_release_n(&ref, UINT32_MAX), 0);
	ck_assert_uint_eq(value(&ref), V_OPEN(1));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_uint_eq(value(&ref), 0);
}
END_TEST

/* Acquiring past RUNDOWN_REF_MAX fails and leaves the value alone. */
START_TEST(test_acquire_overflow)
{
	ref.value = V_OPEN(RUNDOWN_REF_MAX - 1);
	ck_assert(rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), V_OPEN(RUNDOWN_REF_MAX));
	ck_assert(!rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), V_OPEN(RUNDOWN_REF_MAX));
	ck_assert(!rundown_acquire_n(&ref, 1));
	ck_assert(!rundown_acquire_n(&ref, UINT32_MAX));
	ck_assert_uint_eq(value(&ref), V_OPEN(RUNDOWN_REF_MAX));
	/* n = 0 never passes the maximum. */
	ck_assert(rundown_acquire_n(&ref, 0));
	ck_assert_uint_eq(value(&ref), V_OPEN(RUNDOWN_REF_MAX));
	expect_state(&ref, RUNDOWN_OPEN, RUNDOWN_REF_MAX);

	ref.value = V_OPEN(RUNDOWN_REF_MAX - 5);
	ck_assert(!rundown_acquire_n(&ref, 6));
	ck_assert_uint_eq(value(&ref), V_OPEN(RUNDOWN_REF_MAX - 5));
	ck_assert(rundown_acquire_n(&ref, 5));
	ck_assert_uint_eq(value(&ref), V_OPEN(RUNDOWN_REF_MAX));
}
END_TEST

/* A run-down over RUNDOWN_REF_MAX protections keeps the whole count. */
START_TEST(test_acquire_max_running)
{
	struct timespec ts = test_ms(0);

	ref.value = V_OPEN(RUNDOWN_REF_MAX);
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), -ETIMEDOUT);
	ck_assert_uint_eq(value(&ref), V_RUNNING(RUNDOWN_REF_MAX));
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, RUNDOWN_REF_MAX);
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_RUNNING(RUNDOWN_REF_MAX - 1));
}
END_TEST

/* n = 0 fails once run-down has started, value unchanged. */
START_TEST(test_acquire_zero_after_start)
{
	start_rundown(&ref, 1);
	ck_assert(!rundown_acquire_n(&ref, 0));
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert(!rundown_acquire_n(&ref, 0));
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	ck_assert_int_eq(rundown_completed(&ref), 0);
	ck_assert(!rundown_acquire_n(&ref, 0));
	ck_assert_uint_eq(value(&ref), V_COMPLETED);
}
END_TEST

/* Acquire fails in every run-down state until reinit, then works again. */
START_TEST(test_acquire_fails_until_reinit)
{
	start_rundown(&ref, 1);
	ck_assert(!rundown_acquire(&ref));
	ck_assert(!rundown_acquire_n(&ref, 1));
	ck_assert(!rundown_acquire_n(&ref, 3));
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));

	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	ck_assert(!rundown_acquire(&ref));
	ck_assert(!rundown_acquire_n(&ref, 2));
	ck_assert_uint_eq(value(&ref), V_DRAINED);

	ck_assert_int_eq(rundown_completed(&ref), 0);
	ck_assert(!rundown_acquire(&ref));
	ck_assert(!rundown_acquire_n(&ref, 2));
	ck_assert_uint_eq(value(&ref), V_COMPLETED);

	ck_assert_int_eq(rundown_reinit(&ref), 0);
	ck_assert(rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), V_OPEN(1));
}
END_TEST

/* ---- release ---------------------------------------------------------- */

/* release and release_n take off exactly what they say; n = 0 is a no-op. */
START_TEST(test_release_exact)
{
	ck_assert(rundown_acquire_n(&ref, 7));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_OPEN(6));
	ck_assert_int_eq(rundown_release_n(&ref, 3), 0);
	ck_assert_uint_eq(value(&ref), V_OPEN(3));
	ck_assert_int_eq(rundown_release_n(&ref, 0), 0);
	ck_assert_uint_eq(value(&ref), V_OPEN(3));
	ck_assert_int_eq(rundown_release_n(&ref, 3), 0);
	ck_assert_uint_eq(value(&ref), 0);
	expect_state(&ref, RUNDOWN_OPEN, 0);
}
END_TEST

/* Releasing more than is held while open: -ERANGE, value unchanged. */
START_TEST(test_release_too_many_open)
{
	ck_assert_int_eq(rundown_release(&ref), -ERANGE);
	ck_assert_uint_eq(value(&ref), 0);
	ck_assert(rundown_acquire_n(&ref, 2));
	ck_assert_int_eq(rundown_release_n(&ref, 3), -ERANGE);
	ck_assert_uint_eq(value(&ref), V_OPEN(2));
	ck_assert_int_eq(rundown_release_n(&ref, UINT32_MAX), -ERANGE);
	ck_assert_uint_eq(value(&ref), V_OPEN(2));
}
END_TEST

/* During run-down, release counts down exactly and refuses too many. */
START_TEST(test_release_too_many_running)
{
	start_rundown(&ref, 2);
	ck_assert_int_eq(rundown_release_n(&ref, 3), -ERANGE);
	ck_assert_uint_eq(value(&ref), V_RUNNING(2));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, 1);
	ck_assert_int_eq(rundown_release_n(&ref, 2), -ERANGE);
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
}
END_TEST

/* A drained or completed reference holds nothing: release is -ERANGE. */
START_TEST(test_release_too_many_drained)
{
	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_int_eq(rundown_release(&ref), -ERANGE);
	ck_assert_int_eq(rundown_release_n(&ref, 1), -ERANGE);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	ck_assert_int_eq(rundown_completed(&ref), 0);
	ck_assert_int_eq(rundown_release(&ref), -ERANGE);
	ck_assert_int_eq(rundown_release_n(&ref, 1), -ERANGE);
	ck_assert_uint_eq(value(&ref), V_COMPLETED);
}
END_TEST

/* ---- wait ------------------------------------------------------------- */

/* With nothing held the wait returns at once (value 3); so does a second. */
START_TEST(test_wait_nothing_held)
{
	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	expect_state(&ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	expect_state(&ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A wait after completion returns at once and leaves the value 1. */
START_TEST(test_wait_after_completed)
{
	struct timespec ts = test_ms(1);

	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_int_eq(rundown_completed(&ref), 0);
	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_COMPLETED);
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), 0);
	ck_assert_int_eq(rundown_wait_timeout(&ref, NULL), 0);
	ck_assert_uint_eq(value(&ref), V_COMPLETED);
	expect_state(&ref, RUNDOWN_COMPLETED, 0);
}
END_TEST

/* A timed wait with nothing held drains at once and returns 0. */
START_TEST(test_wait_timeout_nothing_held)
{
	struct timespec ts = test_ms(10);

	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
}
END_TEST

/* A timed-out wait leaves the run-down in progress with the right count. */
START_TEST(test_wait_timeout_held)
{
	struct timespec ts = test_ms(10);

	ck_assert(rundown_acquire_n(&ref, 3));
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), -ETIMEDOUT);
	ck_assert_uint_eq(value(&ref), V_RUNNING(3));
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, 3);
	ck_assert(!rundown_acquire(&ref));
	ck_assert_int_eq(rundown_release(&ref), 0);
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, 2);
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), -ETIMEDOUT);
	ck_assert_uint_eq(value(&ref), V_RUNNING(2));
	ck_assert_int_eq(rundown_release_n(&ref, 2), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), 0);
	ck_assert_int_eq(rundown_wait(&ref), 0);
	expect_state(&ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A zero timeout is well formed: it polls. */
START_TEST(test_wait_timeout_zero)
{
	struct timespec ts = test_ms(0);

	ck_assert(rundown_acquire(&ref));
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), -ETIMEDOUT);
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
}
END_TEST

/* After a timeout, a later (blocking) wait continues and returns after the
 * last release. */
START_TEST(test_wait_continues)
{
	struct waiter w;

	start_rundown(&ref, 2);
	waiter_start_ref(&w, &ref, WAITER_WAIT);
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert(!atomic_load(&w.done));
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, 1);
	ck_assert_int_eq(rundown_release(&ref), 0);
	waiter_join(&w);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
}
END_TEST

/* Malformed timeouts are refused with -EINVAL and change nothing. */
START_TEST(test_wait_timeout_malformed)
{
	struct timespec bad[] = {
		{ -1, 0 },
		{ 0, -1 },
		{ 0, 1000000000L },
		{ 1, 1999999999L },
	};
	size_t i;

	ck_assert(rundown_acquire(&ref));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(rundown_wait_timeout(&ref, &bad[i]), -EINVAL);
		ck_assert_uint_eq(value(&ref), V_OPEN(1));
	}
	expect_state(&ref, RUNDOWN_OPEN, 1);
	ck_assert(rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), V_OPEN(2));
}
END_TEST

/* A NULL timeout means none: returns at once when nothing is held, and
 * otherwise blocks until the last release. */
START_TEST(test_wait_timeout_null)
{
	rundown_ref_t r = RUNDOWN_REF_INIT;
	struct waiter w;

	ck_assert_int_eq(rundown_wait_timeout(&r, NULL), 0);
	ck_assert_uint_eq(value(&r), V_DRAINED);

	ck_assert(rundown_acquire(&ref));
	waiter_start_ref(&w, &ref, WAITER_NULL);
	poll_state(&ref, RUNDOWN_RUNNING_DOWN);
	ck_assert(!atomic_load(&w.done));
	ck_assert_int_eq(rundown_release(&ref), 0);
	waiter_join(&w);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
}
END_TEST

/* A blocked waiter stays blocked while any protection is held, refuses
 * completed and reinit meanwhile, and returns after the last release. */
START_TEST(test_waiter_blocked)
{
	struct waiter w;

	ck_assert(rundown_acquire_n(&ref, 3));
	waiter_start_ref(&w, &ref, WAITER_WAIT);
	poll_state(&ref, RUNDOWN_RUNNING_DOWN);
	ck_assert(!rundown_acquire(&ref));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, 1);
	ck_assert_int_eq(rundown_completed(&ref), -EBUSY);
	ck_assert_int_eq(rundown_reinit(&ref), -EBUSY);
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));
	ck_assert(!atomic_load(&w.done));
	ck_assert_int_eq(rundown_release(&ref), 0);
	waiter_join(&w);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	expect_state(&ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* Several waiters at once, blocking and timed, are all woken by the last
 * release. */
START_TEST(test_several_waiters)
{
	static const enum waiter_mode modes[] = {
		WAITER_WAIT, WAITER_NULL, WAITER_LONG, WAITER_WAIT
	};
	struct waiter w[4];
	size_t i;

	ck_assert(rundown_acquire_n(&ref, 2));
	for (i = 0; i < 4; i++)
		waiter_start_ref(&w[i], &ref, modes[i]);
	poll_state(&ref, RUNDOWN_RUNNING_DOWN);
	ck_assert_int_eq(rundown_release(&ref), 0);
	for (i = 0; i < 4; i++)
		ck_assert(!atomic_load(&w[i].done));
	ck_assert_int_eq(rundown_release(&ref), 0);
	for (i = 0; i < 4; i++)
		waiter_join(&w[i]);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
}
END_TEST

/* ---- completed -------------------------------------------------------- */

/* completed on a drained reference stores 1. */
START_TEST(test_completed_drained)
{
	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_int_eq(rundown_completed(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_COMPLETED);
	expect_state(&ref, RUNDOWN_COMPLETED, 0);
}
END_TEST

/* completed before any run-down: -EALREADY, value unchanged. */
START_TEST(test_completed_open)
{
	ck_assert_int_eq(rundown_completed(&ref), -EALREADY);
	ck_assert_uint_eq(value(&ref), 0);
	ck_assert(rundown_acquire(&ref));
	ck_assert_int_eq(rundown_completed(&ref), -EALREADY);
	ck_assert_uint_eq(value(&ref), V_OPEN(1));
	expect_state(&ref, RUNDOWN_OPEN, 1);
}
END_TEST

/* completed while protections are outstanding: -EBUSY, value unchanged. */
START_TEST(test_completed_busy)
{
	start_rundown(&ref, 2);
	ck_assert_int_eq(rundown_completed(&ref), -EBUSY);
	ck_assert_uint_eq(value(&ref), V_RUNNING(2));
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, 2);
	ck_assert_int_eq(rundown_release_n(&ref, 2), 0);
	ck_assert_int_eq(rundown_completed(&ref), 0);
	ck_assert_uint_eq(value(&ref), V_COMPLETED);
}
END_TEST

/* ---- reinit ----------------------------------------------------------- */

/* reinit from drained makes the reference open again (value 0). */
START_TEST(test_reinit_drained)
{
	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_int_eq(rundown_reinit(&ref), 0);
	ck_assert_uint_eq(value(&ref), 0);
	expect_state(&ref, RUNDOWN_OPEN, 0);
	ck_assert(rundown_acquire(&ref));
	ck_assert_uint_eq(value(&ref), V_OPEN(1));
}
END_TEST

/* reinit from completed makes the reference open again (value 0). */
START_TEST(test_reinit_completed)
{
	ck_assert_int_eq(rundown_wait(&ref), 0);
	ck_assert_int_eq(rundown_completed(&ref), 0);
	ck_assert_int_eq(rundown_reinit(&ref), 0);
	ck_assert_uint_eq(value(&ref), 0);
	expect_state(&ref, RUNDOWN_OPEN, 0);
	ck_assert(rundown_acquire(&ref));
}
END_TEST

/* reinit on an open reference: -EALREADY, held or not, value unchanged. */
START_TEST(test_reinit_open)
{
	ck_assert_int_eq(rundown_reinit(&ref), -EALREADY);
	ck_assert_uint_eq(value(&ref), 0);
	ck_assert(rundown_acquire_n(&ref, 2));
	ck_assert_int_eq(rundown_reinit(&ref), -EALREADY);
	ck_assert_uint_eq(value(&ref), V_OPEN(2));
	expect_state(&ref, RUNDOWN_OPEN, 2);
}
END_TEST

/* reinit while running down: -EBUSY, value unchanged. */
START_TEST(test_reinit_running)
{
	start_rundown(&ref, 1);
	ck_assert_int_eq(rundown_reinit(&ref), -EBUSY);
	ck_assert_uint_eq(value(&ref), V_RUNNING(1));
	ck_assert_int_eq(rundown_release(&ref), 0);
	ck_assert_int_eq(rundown_reinit(&ref), 0);
	ck_assert_uint_eq(value(&ref), 0);
}
END_TEST

/* Whole cycles repeat with the same encodings each time. */
START_TEST(test_reinit_cycles)
{
	struct timespec ts = test_ms(0);
	int i;

	for (i = 0; i < 1000; i++) {
		ck_assert(rundown_acquire_n(&ref, 2));
		ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), -ETIMEDOUT);
		ck_assert_uint_eq(value(&ref), V_RUNNING(2));
		ck_assert_int_eq(rundown_release_n(&ref, 2), 0);
		ck_assert_int_eq(rundown_wait(&ref), 0);
		ck_assert_uint_eq(value(&ref), V_DRAINED);
		if (i % 2 == 0) {
			ck_assert_int_eq(rundown_completed(&ref), 0);
			ck_assert_uint_eq(value(&ref), V_COMPLETED);
		}
		ck_assert_int_eq(rundown_reinit(&ref), 0);
		ck_assert_uint_eq(value(&ref), 0);
	}
}
END_TEST

/* ---- query, names, version -------------------------------------------- */

/* query reports each state and its outstanding count, changing nothing. */
START_TEST(test_query_states)
{
	struct timespec ts = test_ms(0);

	expect_state(&ref, RUNDOWN_OPEN, 0);
	ck_assert(rundown_acquire_n(&ref, 4));
	expect_state(&ref, RUNDOWN_OPEN, 4);
	ck_assert_uint_eq(value(&ref), V_OPEN(4));
	ck_assert_int_eq(rundown_wait_timeout(&ref, &ts), -ETIMEDOUT);
	expect_state(&ref, RUNDOWN_RUNNING_DOWN, 4);
	ck_assert_uint_eq(value(&ref), V_RUNNING(4));
	ck_assert_int_eq(rundown_release_n(&ref, 4), 0);
	expect_state(&ref, RUNDOWN_DRAINED, 0);
	ck_assert_uint_eq(value(&ref), V_DRAINED);
	ck_assert_int_eq(rundown_completed(&ref), 0);
	expect_state(&ref, RUNDOWN_COMPLETED, 0);
	ck_assert_uint_eq(value(&ref), V_COMPLETED);
	ck_assert_int_eq(rundown_reinit(&ref), 0);
	expect_state(&ref, RUNDOWN_OPEN, 0);
}
END_TEST

/* Every state has a distinct, non-empty name. */
START_TEST(test_state_names)
{
	static const enum rundown_state states[] = {
		RUNDOWN_OPEN, RUNDOWN_RUNNING_DOWN, RUNDOWN_DRAINED,
		RUNDOWN_COMPLETED, RUNDOWN_RESETTING
	};
	const size_t n = sizeof states / sizeof states[0];
	const char *name[sizeof states / sizeof states[0]];
	size_t i, j;

	for (i = 0; i < n; i++) {
		name[i] = rundown_state_name(states[i]);
		ck_assert_ptr_nonnull(name[i]);
		ck_assert_uint_gt(strlen(name[i]), 0);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(name[i], name[j]);
	}
	ck_assert_str_eq(rundown_state_name(RUNDOWN_RUNNING_DOWN),
	    "running-down");
}
END_TEST

/* Every error the library returns has a description, whatever its sign. */
START_TEST(test_strerror)
{
	static const int errs[] = {
		EINVAL, ENOSPC, EALREADY, EBUSY, ERANGE, ETIMEDOUT, EPERM,
		ENOMEM
	};
	const char *s;
	size_t i;

	for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		s = rundown_strerror(-errs[i]);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_gt(strlen(s), 0);
		ck_assert_ptr_nonnull(rundown_strerror(errs[i]));
		ck_assert_str_eq(rundown_strerror(errs[i]), s);
	}
	ck_assert_str_ne(rundown_strerror(-EBUSY), rundown_strerror(-EALREADY));
	s = rundown_strerror(0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(strlen(s), 0);
}
END_TEST

/* The run-time version equals the header's. */
START_TEST(test_version)
{
	ck_assert_int_eq(rundown_version_major(), RUNDOWN_VERSION_MAJOR);
	ck_assert_int_eq(rundown_version_minor(), RUNDOWN_VERSION_MINOR);
	ck_assert_int_eq(rundown_version_micro(), RUNDOWN_VERSION_MICRO);
	ck_assert_str_eq(rundown_version_string(), RUNDOWN_VERSION_STRING);
}
END_TEST

/* NULL arguments are refused with -EINVAL rather than crashing. */
START_TEST(test_null_refused)
{
	struct timespec ts = test_ms(1);
	struct rundown_status st;

	ck_assert_int_eq(rundown_release(NULL), -EINVAL);
	ck_assert_int_eq(rundown_release_n(NULL, 1), -EINVAL);
	ck_assert_int_eq(rundown_wait(NULL), -EINVAL);
	ck_assert_int_eq(rundown_wait_timeout(NULL, NULL), -EINVAL);
	ck_assert_int_eq(rundown_wait_timeout(NULL, &ts), -EINVAL);
	ck_assert_int_eq(rundown_completed(NULL), -EINVAL);
	ck_assert_int_eq(rundown_reinit(NULL), -EINVAL);
	ck_assert_int_eq(rundown_query(NULL, &st), -EINVAL);
	ck_assert_int_eq(rundown_query(&ref, NULL), -EINVAL);
	ck_assert_uint_eq(value(&ref), 0);
}
END_TEST

static TCase *
ref_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, NULL);
	test_timeout(tc, 30);
	return tc;
}

static Suite *
ref_suite(void)
{
	Suite *s = suite_create("ref");
	TCase *tc;

	tc = ref_tcase("init");
	tcase_add_test(tc, test_init_open);
	tcase_add_test(tc, test_init_layout);
	suite_add_tcase(s, tc);

	tc = ref_tcase("acquire");
	tcase_add_test(tc, test_acquire_one);
	tcase_add_test(tc, test_acquire_n);
	tcase_add_test(tc, test_acquire_n_large);
	tcase_add_test(tc, test_acquire_overflow);
	tcase_add_test(tc, test_acquire_max_running);
	tcase_add_test(tc, test_acquire_zero_after_start);
	tcase_add_test(tc, test_acquire_fails_until_reinit);
	suite_add_tcase(s, tc);

	tc = ref_tcase("release");
	tcase_add_test(tc, test_release_exact);
	tcase_add_test(tc, test_release_too_many_open);
	tcase_add_test(tc, test_release_too_many_running);
	tcase_add_test(tc, test_release_too_many_drained);
	suite_add_tcase(s, tc);

	tc = ref_tcase("wait");
	tcase_add_test(tc, test_wait_nothing_held);
	tcase_add_test(tc, test_wait_after_completed);
	tcase_add_test(tc, test_wait_timeout_nothing_held);
	tcase_add_test(tc, test_wait_timeout_held);
	tcase_add_test(tc, test_wait_timeout_zero);
	tcase_add_test(tc, test_wait_continues);
	tcase_add_test(tc, test_wait_timeout_malformed);
	tcase_add_test(tc, test_wait_timeout_null);
	tcase_add_test(tc, test_waiter_blocked);
	tcase_add_test(tc, test_several_waiters);
	suite_add_tcase(s, tc);

	tc = ref_tcase("completed");
	tcase_add_test(tc, test_completed_drained);
	tcase_add_test(tc, test_completed_open);
	tcase_add_test(tc, test_completed_busy);
	suite_add_tcase(s, tc);

	tc = ref_tcase("reinit");
	tcase_add_test(tc, test_reinit_drained);
	tcase_add_test(tc, test_reinit_completed);
	tcase_add_test(tc, test_reinit_open);
	tcase_add_test(tc, test_reinit_running);
	tcase_add_test(tc, test_reinit_cycles);
	suite_add_tcase(s, tc);

	tc = ref_tcase("query");
	tcase_add_test(tc, test_query_states);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_null_refused);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(ref_suite());
}
