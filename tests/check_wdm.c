/* check_wdm.c: the Windows names and types (wdm.h), through the shared
 * library as a WDK-style program would use them. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rundown/rundown.h>
#include <rundown/wdm.h>

#include "testutil.h"

/* 'daeR' as the WDK writes it. */
#define TAG_READ RUNDOWN_WDM_TAG('d', 'a', 'e', 'R')

/* Byte the buffers are filled with to see what was written. */
#define PATTERN 0xa5

struct waiter {
	pthread_t	 thread;
	PEX_RUNDOWN_REF	 ref;		/* plain, or NULL */
	PEX_RUNDOWN_REF_CACHE_AWARE cref; /* cache-aware, or NULL */
	atomic_bool	 done;		/* set after the wait */
};

static EX_RUNDOWN_REF rr;
static PEX_RUNDOWN_REF_CACHE_AWARE cr;
static SIZE_T crsize;

/* A plain reference, initialized. */
static void
setup_plain(void)
{
	rr.Count = 0x55;
	ExInitializeRundownProtection(&rr);
}

/* A cache-aware reference initialized in a malloc'd buffer. */
static void
setup_cache(void)
{
	crsize = ExSizeOfRundownProtectionCacheAware();
	cr = malloc(crsize);
	ck_assert_ptr_nonnull(cr);
	ExInitializeRundownProtectionCacheAware(cr, crsize);
}

static void
teardown_cache(void)
{
	free(cr);
	cr = NULL;
}

/* Count, as the library's threads write it. */
static ULONG_PTR
count(const EX_RUNDOWN_REF *r)
{
	return __atomic_load_n(&r->Count, __ATOMIC_ACQUIRE);
}

/* The same object under its native name (wdm.h says so). */
static rundown_cache_t *
native(PEX_RUNDOWN_REF_CACHE_AWARE r)
{
	return (rundown_cache_t *)(void *)r;
}

/* Asserts what rundown_cache_query() reports for a cache-aware reference. */
static void
expect_state(PEX_RUNDOWN_REF_CACHE_AWARE r, enum rundown_state state,
    uint64_t outstanding)
{
	struct rundown_status st;
	int rc = rundown_cache_query(native(r), &st);

	test_expect_status(rc, &st, state, outstanding);
}

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	if (w->ref != NULL)
		ExWaitForRundownProtectionRelease(w->ref);
	else
		ExWaitForRundownProtectionReleaseCacheAware(w->cref);
	atomic_store(&w->done, true);
	return NULL;
}

static void
waiter_start(struct waiter *w, PEX_RUNDOWN_REF ref,
    PEX_RUNDOWN_REF_CACHE_AWARE cref)
{
	w->ref = ref;
	w->cref = cref;
	atomic_init(&w->done, false);
	ck_assert_int_eq(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

static void
waiter_join(struct waiter *w)
{
	ck_assert_int_eq(pthread_join(w->thread, NULL), 0);
	ck_assert(atomic_load(&w->done));
}

/* ---- types ------------------------------------------------------------ */

/* The WDK's sizes on 64-bit Windows: ULONG 32 bits, the rest pointer-sized. */
START_TEST(test_types)
{
	ck_assert_uint_eq(sizeof(EX_RUNDOWN_REF), sizeof(void *));
	ck_assert_uint_eq(sizeof(ULONG), 4);
	ck_assert_uint_eq(sizeof(ULONG_PTR), sizeof(void *));
	ck_assert_uint_eq(sizeof(PVOID), sizeof(void *));
	ck_assert_uint_eq(sizeof(BOOLEAN), 1);
	ck_assert_uint_eq(sizeof(SIZE_T), sizeof(size_t));
	ck_assert_int_eq(TRUE, 1);
	ck_assert_int_eq(FALSE, 0);
}
END_TEST

/* RUNDOWN_WDM_TAG is what GCC and Clang make of the WDK's multi-character
 * constant, a constant expression, and the tag rundownctl shows as
 * "Read". */
START_TEST(test_tag)
{
	char buf[RUNDOWN_TAG_BUFSZ];
	ULONG tag = TAG_READ;

	_Static_assert(RUNDOWN_WDM_TAG('d', 'a', 'e', 'R') == 0x64616552u,
	    "the first character in the highest byte");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmultichar"
	_Static_assert(RUNDOWN_WDM_TAG('d', 'a', 'e', 'R') == (ULONG)'daeR',
	    "the WDK's spelling");
	_Static_assert(RUNDOWN_WDM_TAG('n', 'w', 'd', 'R') == (ULONG)'nwdR',
	    "the WDK's spelling");
#pragma GCC diagnostic pop
	ck_assert_uint_eq(tag, RUNDOWN_TAG('R', 'e', 'a', 'd'));
	ck_assert_str_eq(rundown_tag_format(tag, buf), "Read");
	ck_assert_uint_eq(RUNDOWN_WDM_TAG('\xff', 0, 0, 1), 0xff000001u);
	ck_assert_uint_eq(sizeof(RUNDOWN_WDM_TAG('a', 'b', 'c', 'd')),
	    sizeof(ULONG));
}
END_TEST

/* ---- plain reference -------------------------------------------------- */

/* ExInitializeRundownProtection stores 0. */
START_TEST(test_init)
{
	ck_assert_uint_eq(count(&rr), 0);
	ck_assert_ptr_null(rr.Ptr);
}
END_TEST

/* Acquire adds 2, AcquireEx 2n (n = 0: TRUE, no change), releases undo. */
START_TEST(test_acquire_release)
{
	ck_assert_int_eq(ExAcquireRundownProtection(&rr), TRUE);
	ck_assert_uint_eq(count(&rr), 2);
	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 3), TRUE);
	ck_assert_uint_eq(count(&rr), 2 + 2 * 3);
	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 0), TRUE);
	ck_assert_uint_eq(count(&rr), 8);
	ExReleaseRundownProtection(&rr);
	ck_assert_uint_eq(count(&rr), 6);
	ExReleaseRundownProtectionEx(&rr, 3);
	ck_assert_uint_eq(count(&rr), 0);
}
END_TEST

/* AcquireEx that would overflow fails (FALSE) and leaves Count alone. */
START_TEST(test_acquire_ex_overflow)
{
	rr.Count = (ULONG_PTR)RUNDOWN_REF_MAX << 1;
	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 1), FALSE);
	ck_assert_int_eq(ExAcquireRundownProtection(&rr), FALSE);
	ck_assert_uint_eq(count(&rr), (ULONG_PTR)RUNDOWN_REF_MAX << 1);
	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 0), TRUE);
	ck_assert_uint_eq(count(&rr), (ULONG_PTR)RUNDOWN_REF_MAX << 1);
}
END_TEST

/* Wait with nothing held returns with bit 0 set; every acquire then fails,
 * n = 0 included; a second wait returns too. */
START_TEST(test_wait_nothing_held)
{
	ULONG_PTR v;

	ExWaitForRundownProtectionRelease(&rr);
	v = count(&rr);
	ck_assert_uint_eq(v & 1, 1);
	ck_assert_int_eq(ExAcquireRundownProtection(&rr), FALSE);
	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 1), FALSE);
	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 0), FALSE);
	ck_assert_uint_eq(count(&rr), v);
	ExWaitForRundownProtectionRelease(&rr);
	ck_assert_uint_eq(count(&rr) & 1, 1);
}
END_TEST

/* ExRundownCompleted stores 1; ExReInitializeRundownProtection 0. */
START_TEST(test_completed_reinit)
{
	ExWaitForRundownProtectionRelease(&rr);
	ExRundownCompleted(&rr);
	ck_assert_uint_eq(count(&rr), 1);
	ck_assert_int_eq(ExAcquireRundownProtection(&rr), FALSE);
	ExWaitForRundownProtectionRelease(&rr);
	ck_assert_uint_eq(count(&rr), 1);
	ExReInitializeRundownProtection(&rr);
	ck_assert_uint_eq(count(&rr), 0);
	ck_assert_int_eq(ExAcquireRundownProtection(&rr), TRUE);
	ck_assert_uint_eq(count(&rr), 2);

	/* Re-initialize straight from drained, too. */
	ExReleaseRundownProtection(&rr);
	ExWaitForRundownProtectionRelease(&rr);
	ExReInitializeRundownProtection(&rr);
	ck_assert_uint_eq(count(&rr), 0);
}
END_TEST

/* Completed and re-initialize on an open reference change nothing. */
START_TEST(test_refusals_open)
{
	ExRundownCompleted(&rr);
	ck_assert_uint_eq(count(&rr), 0);
	ExReInitializeRundownProtection(&rr);
	ck_assert_uint_eq(count(&rr), 0);
	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 2), TRUE);
	ExRundownCompleted(&rr);
	ck_assert_uint_eq(count(&rr), 4);
	ExReInitializeRundownProtection(&rr);
	ck_assert_uint_eq(count(&rr), 4);
}
END_TEST

/* A waiter blocks while protections are held (completed and re-initialize
 * change nothing meanwhile) and the last release wakes it. */
START_TEST(test_waiter)
{
	struct waiter w;
	ULONG_PTR v;

	ck_assert_int_eq(ExAcquireRundownProtectionEx(&rr, 2), TRUE);
	waiter_start(&w, &rr, NULL);
	while (!(count(&rr) & 1))
		sched_yield();
	v = count(&rr);
	ck_assert_int_eq(ExAcquireRundownProtection(&rr), FALSE);
	ExRundownCompleted(&rr);
	ExReInitializeRundownProtection(&rr);
	ck_assert_uint_eq(count(&rr), v);
	ExReleaseRundownProtection(&rr);
	ck_assert(!atomic_load(&w.done));
	ExReleaseRundownProtection(&rr);
	waiter_join(&w);
	ck_assert_uint_eq(count(&rr) & 1, 1);
	ExRundownCompleted(&rr);
	ck_assert_uint_eq(count(&rr), 1);
	ExReInitializeRundownProtection(&rr);
	ck_assert_uint_eq(count(&rr), 0);
}
END_TEST

/* ---- cache-aware reference -------------------------------------------- */

/* The size is the native one and the initialized block is open. */
START_TEST(test_cache_size)
{
	ck_assert_uint_eq(ExSizeOfRundownProtectionCacheAware(),
	    rundown_cache_size());
	ck_assert_uint_gt(crsize, sizeof(EX_RUNDOWN_REF));
	expect_state(cr, RUNDOWN_OPEN, 0);
	ck_assert_uint_eq(rundown_cache_tag(native(cr)), 0);
}
END_TEST

/* Acquire, AcquireEx (n = 0: TRUE) and the releases count exactly. */
START_TEST(test_cache_acquire_release)
{
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAware(cr), TRUE);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(cr, 3), TRUE);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(cr, 0), TRUE);
	expect_state(cr, RUNDOWN_OPEN, 4);
	ExReleaseRundownProtectionCacheAware(cr);
	expect_state(cr, RUNDOWN_OPEN, 3);
	ExReleaseRundownProtectionCacheAwareEx(cr, 3);
	expect_state(cr, RUNDOWN_OPEN, 0);
}
END_TEST

/* Wait, completed and re-initialize, with every acquire failing between
 * the wait and the re-initialize. */
START_TEST(test_cache_cycle)
{
	ExWaitForRundownProtectionReleaseCacheAware(cr);
	expect_state(cr, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAware(cr), FALSE);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(cr, 0), FALSE);
	ExWaitForRundownProtectionReleaseCacheAware(cr);
	ExRundownCompletedCacheAware(cr);
	expect_state(cr, RUNDOWN_COMPLETED, 0);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(cr, 1), FALSE);
	ExWaitForRundownProtectionReleaseCacheAware(cr);
	expect_state(cr, RUNDOWN_COMPLETED, 0);
	ExReInitializeRundownProtectionCacheAware(cr);
	expect_state(cr, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAware(cr), TRUE);
	expect_state(cr, RUNDOWN_OPEN, 1);
	ExReleaseRundownProtectionCacheAware(cr);

	ExWaitForRundownProtectionReleaseCacheAware(cr);
	ExReInitializeRundownProtectionCacheAware(cr);
	expect_state(cr, RUNDOWN_OPEN, 0);
}
END_TEST

/* Completed and re-initialize on an open block change nothing. */
START_TEST(test_cache_refusals_open)
{
	ExRundownCompletedCacheAware(cr);
	ExReInitializeRundownProtectionCacheAware(cr);
	expect_state(cr, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(cr, 2), TRUE);
	ExRundownCompletedCacheAware(cr);
	ExReInitializeRundownProtectionCacheAware(cr);
	expect_state(cr, RUNDOWN_OPEN, 2);
}
END_TEST

/* Initialize with a size too small writes nothing. */
START_TEST(test_cache_init_too_small)
{
	unsigned char *p = malloc(crsize);
	struct rundown_status st;
	size_t i;

	ck_assert_ptr_nonnull(p);
	memset(p, PATTERN, crsize);
	ExInitializeRundownProtectionCacheAware(
	    (PEX_RUNDOWN_REF_CACHE_AWARE)(void *)p, crsize - 1);
	for (i = 0; i < crsize; i++)
		ck_assert_uint_eq(p[i], PATTERN);
	ck_assert_int_eq(rundown_cache_query((rundown_cache_t *)(void *)p,
	    &st), -EINVAL);
	free(p);
}
END_TEST

/* Freeing an initialized (caller-buffer) block frees nothing. */
START_TEST(test_cache_free_initialized)
{
	ExFreeCacheAwareRundownProtection(cr);
	ck_assert_int_eq(rundown_cache_free(native(cr)), -EPERM);
	expect_state(cr, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAware(cr), TRUE);
	ExReleaseRundownProtectionCacheAware(cr);
	ExWaitForRundownProtectionReleaseCacheAware(cr);
	expect_state(cr, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A waiter is released by the last release, wherever it runs. */
START_TEST(test_cache_waiter)
{
	struct rundown_status st;
	struct waiter w;

	test_pin_nth(0);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(cr, 2), TRUE);
	waiter_start(&w, NULL, cr);
	do {
		ck_assert_int_eq(rundown_cache_query(native(cr), &st), 0);
		sched_yield();
	} while (st.state != RUNDOWN_RUNNING_DOWN);
	/* Before the waiter switches this slot an acquire succeeds, counted. */
	if (ExAcquireRundownProtectionCacheAware(cr))
		ExReleaseRundownProtectionCacheAware(cr);
	test_pin_nth(1);
	ExReleaseRundownProtectionCacheAware(cr);
	ck_assert(!atomic_load(&w.done));
	ExRundownCompletedCacheAware(cr);
	ExReInitializeRundownProtectionCacheAware(cr);
	ck_assert(!atomic_load(&w.done));
	ExReleaseRundownProtectionCacheAware(cr);
	waiter_join(&w);
	expect_state(cr, RUNDOWN_DRAINED, 0);
}
END_TEST

/* Allocate from each pool type with a tag, use, and free. */
START_TEST(test_cache_allocate)
{
	static const POOL_TYPE pools[] = {
		NonPagedPool, PagedPool, NonPagedPoolNx
	};
	PEX_RUNDOWN_REF_CACHE_AWARE a;
	size_t i;

	for (i = 0; i < sizeof pools / sizeof pools[0]; i++) {
		a = ExAllocateCacheAwareRundownProtection(pools[i], TAG_READ);
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq(rundown_cache_tag(native(a)), TAG_READ);
		expect_state(a, RUNDOWN_OPEN, 0);
		ck_assert_int_eq(ExAcquireRundownProtectionCacheAware(a), TRUE);
		ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(a, 2),
		    TRUE);
		expect_state(a, RUNDOWN_OPEN, 3);
		ExReleaseRundownProtectionCacheAwareEx(a, 2);
		ExReleaseRundownProtectionCacheAware(a);
		ExWaitForRundownProtectionReleaseCacheAware(a);
		expect_state(a, RUNDOWN_DRAINED, 0);
		ExRundownCompletedCacheAware(a);
		ExReInitializeRundownProtectionCacheAware(a);
		expect_state(a, RUNDOWN_OPEN, 0);
		ExFreeCacheAwareRundownProtection(a);
	}
}
END_TEST

static TCase *
wdm_tcase(const char *name, void (*setup)(void), void (*teardown)(void))
{
	TCase *tc = tcase_create(name);

	if (setup != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	test_timeout(tc, 30);
	return tc;
}

static Suite *
wdm_suite(void)
{
	Suite *s = suite_create("wdm");
	TCase *tc;

	tc = wdm_tcase("types", NULL, NULL);
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_tag);
	suite_add_tcase(s, tc);

	tc = wdm_tcase("plain", setup_plain, NULL);
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_acquire_release);
	tcase_add_test(tc, test_acquire_ex_overflow);
	tcase_add_test(tc, test_wait_nothing_held);
	tcase_add_test(tc, test_completed_reinit);
	tcase_add_test(tc, test_refusals_open);
	tcase_add_test(tc, test_waiter);
	suite_add_tcase(s, tc);

	tc = wdm_tcase("cache", setup_cache, teardown_cache);
	tcase_add_test(tc, test_cache_size);
	tcase_add_test(tc, test_cache_acquire_release);
	tcase_add_test(tc, test_cache_cycle);
	tcase_add_test(tc, test_cache_refusals_open);
	tcase_add_test(tc, test_cache_init_too_small);
	tcase_add_test(tc, test_cache_free_initialized);
	tcase_add_test(tc, test_cache_waiter);
	tcase_add_test(tc, test_cache_allocate);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(wdm_suite());
}
