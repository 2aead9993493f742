/*
 * check_lasttouch.c: the last release is the releaser's last touch.
 *
 * A waiter may return as soon as the last protection is released, and its
 * caller may then free the block or reference (Windows code does exactly
 * ExWaitForRundownProtectionReleaseCacheAware(r);
 * ExFreeCacheAwareRundownProtection(r)).  So a releaser must not touch
 * the memory after its decisive write: only the futex wake, a system call
 * that fails harmlessly on an unmapped address, may follow it (lib/block.h).
 *
 * Each test puts the block or reference alone in a mapping of its own,
 * stops a releasing thread at a step of its slow path (lib/testhook.h),
 * and looks at what the wait does then: before the decisive write a poll
 * must still time out; after it, the wait must return at once, and the
 * test unmaps the memory before it lets the releaser go on.  A releaser
 * that touched the block afterwards would fault (SIGSEGV) and fail the
 * test.  The stops and resumptions go through pipes: nothing waits on a
 * timer.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <check.h>

#include <rundown/rundown.h>

#include "testhook.h"
#include "testutil.h"

/* The step the releaser stops at, and the pipes of the stop. */
static int stop_at;
static struct test_signal stopped, resume;

/* rd_test_hook: stops the releaser at stop_at, once. */
static void
lt_hook(int step)
{
	if (step != stop_at)
		return;
	stop_at = 0;
	test_signal_post(&stopped);
	test_signal_wait(&resume);
}

struct lt_releaser {
	pthread_t thread;
	bool cache;		/* a cache-aware block, else a plain reference */
	void *ref;
};

static void *
lt_release(void *arg)
{
	struct lt_releaser *t = arg;

	if (t->cache)
		rundown_cache_release(t->ref);
	else
		ck_assert_int_eq(rundown_release(t->ref), 0);
	return NULL;
}

/* A mapping of its own for an object of size bytes. */
static void *
lt_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/*
 * One protection held by this thread, run-down started; a thread releases
 * it and stops at step.  Before the decisive write (HOOK_BLOCK_CHARGE) a
 * poll times out and the releaser finishes before the wait; after it, the
 * wait returns while the releaser is stopped, and the mapping goes first.
 */
static void
lt_run(bool cache, int step, bool before)
{
	struct timespec zero = { 0, 0 };
	struct lt_releaser t = { .cache = cache };
	size_t size = cache ? rundown_cache_size() : sizeof(rundown_ref_t);
	int r;

	size = (size + 4095) & ~(size_t)4095;
	t.ref = lt_map(size);
	if (cache) {
		ck_assert_int_eq(rundown_cache_init(t.ref, size), 0);
		ck_assert(rundown_cache_acquire(t.ref));
		ck_assert_int_eq(rundown_cache_wait_timeout(t.ref, &zero),
		    -ETIMEDOUT);
	} else {
		rundown_init(t.ref);
		ck_assert(rundown_acquire(t.ref));
		ck_assert_int_eq(rundown_wait_timeout(t.ref, &zero),
		    -ETIMEDOUT);
	}
	test_signal_init(&stopped);
	test_signal_init(&resume);
	stop_at = step;
	rd_test_hook = lt_hook;
	ck_assert_int_eq(pthread_create(&t.thread, NULL, lt_release, &t), 0);
	test_signal_wait(&stopped);

	if (before) {
		/* Nothing released yet: the run-down goes on. */
		r = cache ? rundown_cache_wait_timeout(t.ref, &zero) :
		    rundown_wait_timeout(t.ref, &zero);
		ck_assert_int_eq(r, -ETIMEDOUT);
		test_signal_post(&resume);
		ck_assert_int_eq(pthread_join(t.thread, NULL), 0);
		r = cache ? rundown_cache_wait(t.ref) : rundown_wait(t.ref);
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(munmap(t.ref, size), 0);
	} else {
		/* Released: the wait returns with the releaser still inside
		 * the library, and the memory goes before it goes on. */
		r = cache ? rundown_cache_wait(t.ref) : rundown_wait(t.ref);
		ck_assert_int_eq(r, 0);
		ck_assert_int_eq(munmap(t.ref, size), 0);
		test_signal_post(&resume);
		ck_assert_int_eq(pthread_join(t.thread, NULL), 0);
	}
	rd_test_hook = NULL;
	ck_assert_int_eq(stop_at, 0);	/* the step was reached */
	test_signal_close(&stopped);
	test_signal_close(&resume);
}

START_TEST(test_cache_before_charge)
{
	lt_run(true, HOOK_BLOCK_CHARGE, true);
}
END_TEST

START_TEST(test_cache_after_charge)
{
	lt_run(true, HOOK_BLOCK_CHARGED, false);
}
END_TEST

START_TEST(test_ref_after_drain)
{
	lt_run(false, HOOK_REF_DRAINED, false);
}
END_TEST

static Suite *
lasttouch_suite(void)
{
	Suite *s = suite_create("lasttouch");
	TCase *tc = tcase_create("release");

	tcase_add_test(tc, test_cache_before_charge);
	tcase_add_test(tc, test_cache_after_charge);
	tcase_add_test(tc, test_ref_after_drain);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(lasttouch_suite());
}
