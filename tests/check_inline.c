/*
 * check_inline.c: the fast path inline in the caller (RUNDOWN_INLINE,
 * <rundown/inline.h>) against the library's own, on one block.
 *
 * This file is built with RUNDOWN_INLINE, so rundown_cache_acquire() and
 * the rest below are the inline functions, and the wdm.h cache-aware
 * acquire and release too; the library's exported functions are reached
 * under the names inline.h gives them (rundown_cache_acquire_call(),
 * rundown_cache_release_call()), exactly what a program built without
 * RUNDOWN_INLINE calls.  The two must share every block: counts taken by
 * one and given back by the other, run-downs that refuse both and wait
 * for both, in one process (threads) and across processes (a caller's
 * MAP_SHARED buffer, and a rundownd block with a row per process).  And
 * a translation unit that inlines another layout must stop the library
 * from handing out descriptors.
 *
 * Waits run on threads; a test learns that a wait has begun from the
 * state read back (rundown_cache_query), and that it returned from a
 * pipe, never from a sleep.
 */
#include "config.h"

#define RUNDOWN_INLINE
#include <rundown/rundown.h>
#include <rundown/wdm.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "cache.h"
#include "testdaemon.h"
#include "testutil.h"

#define IL_DEADLINE_MS 20000	/* failure bound of every daemon wait */
#define IL_TAG RUNDOWN_TAG('I', 'n', 'l', 'n')
#define IL_THREADS 4

/* Out of line: what a program built without RUNDOWN_INLINE calls. */
#define call_acquire(ref, n) rundown_cache_acquire_call((ref), (n))
#define call_release(ref, n) rundown_cache_release_call((ref), (n))

/* ---- a wait on a thread ------------------------------------------------ */

struct waiter {
	rundown_cache_t *ref;
	pthread_t thread;
	struct test_signal done;	/* one byte when the wait returned */
	int result;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->result = rundown_cache_wait(w->ref);
	test_signal_post(&w->done);
	return NULL;
}

/* The state of ref, read back. */
static enum rundown_state
state_of(rundown_cache_t *ref, uint64_t *outstanding)
{
	struct rundown_status st;

	ck_assert_int_eq(rundown_cache_query(ref, &st), 0);
	if (outstanding != NULL)
		*outstanding = st.outstanding;
	return st.state;
}

/* Starts a wait on ref on a thread of its own and returns once the
 * run-down has begun (the state says so). */
static void
waiter_start(struct waiter *w, rundown_cache_t *ref)
{
	memset(w, 0, sizeof(*w));
	w->ref = ref;
	test_signal_init(&w->done);
	ck_assert_int_eq(pthread_create(&w->thread, NULL, waiter_main, w), 0);
	while (state_of(ref, NULL) == RUNDOWN_OPEN)
		sched_yield();
}

/* Waits for the wait to return, and returns what it returned. */
static int
waiter_finish(struct waiter *w)
{
	test_signal_wait(&w->done);
	ck_assert_int_eq(pthread_join(w->thread, NULL), 0);
	test_signal_close(&w->done);
	return w->result;
}

/* True if a run-down that has begun refuses acquires on ref at once: on
 * the atomic path a slot not yet switched still grants one (waited for),
 * so the tests assert a refusal only where there is no such window. */
static bool
refuses_at_once(const rundown_cache_t *ref)
{
	return test_rseq_path(ref->bflags);
}

/* Re-opens a drained block. */
static void
reopen(rundown_cache_t *ref)
{
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	ck_assert_int_eq(state_of(ref, NULL), RUNDOWN_OPEN);
}

/*
 * Counts taken inline and given back out of line, and the other way
 * round, on one CPU and across two, add up; a run-down refuses both
 * kinds of acquire and waits for a protection taken inline until it is
 * released out of line.
 */
START_TEST(test_local_mixed)
{
	PEX_RUNDOWN_REF_CACHE_AWARE wdm;
	rundown_cache_t *ref;
	struct waiter w;
	uint64_t held;

	ck_assert_ptr_nonnull(ref = rundown_cache_alloc(IL_TAG));
	wdm = (PEX_RUNDOWN_REF_CACHE_AWARE)(void *)ref;
	test_pin_nth(0);
	ck_assert(rundown_cache_acquire(ref));
	ck_assert(rundown_cache_acquire_n(ref, 2));
	ck_assert(ExAcquireRundownProtectionCacheAware(wdm));
	ck_assert(ExAcquireRundownProtectionCacheAwareEx(wdm, 3));
	ck_assert(call_acquire(ref, 4));
	ck_assert_int_eq(state_of(ref, &held), RUNDOWN_OPEN);
	ck_assert_uint_eq(held, 11);
	/* Given back on another CPU where there is one, by the other kind. */
	test_pin_nth(1);
	call_release(ref, 1);
	call_release(ref, 2);
	ExReleaseRundownProtectionCacheAware(wdm);
	rundown_cache_release_n(ref, 3);
	ck_assert_int_eq(state_of(ref, &held), RUNDOWN_OPEN);
	ck_assert_uint_eq(held, 4);
	ExReleaseRundownProtectionCacheAwareEx(wdm, 2);
	rundown_cache_release(ref);
	rundown_cache_release(ref);
	ck_assert_int_eq(state_of(ref, &held), RUNDOWN_OPEN);
	ck_assert_uint_eq(held, 0);

	/* Taken inline, given back by a call during the run-down. */
	ck_assert(rundown_cache_acquire(ref));
	waiter_start(&w, ref);
	if (refuses_at_once(ref)) {
		ck_assert(!rundown_cache_acquire(ref));
		ck_assert(!ExAcquireRundownProtectionCacheAware(wdm));
		ck_assert(!call_acquire(ref, 1));
	}
	ck_assert_int_eq(state_of(ref, &held), RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(held, 1);
	call_release(ref, 1);
	ck_assert_int_eq(waiter_finish(&w), 0);
	reopen(ref);

	/* Taken by a call, given back inline during the run-down. */
	ck_assert(call_acquire(ref, 2));
	waiter_start(&w, ref);
	rundown_cache_release(ref);
	ck_assert_int_eq(state_of(ref, &held), RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(held, 1);
	rundown_cache_release(ref);
	ck_assert_int_eq(waiter_finish(&w), 0);
	reopen(ref);
	ck_assert(rundown_cache_acquire(ref));
	rundown_cache_release(ref);
	ck_assert_int_eq(rundown_cache_free(ref), 0);
}
END_TEST

/* NULL goes to the library, which refuses it as it always has. */
START_TEST(test_local_null)
{
	ck_assert(!rundown_cache_acquire(NULL));
	ck_assert(!rundown_cache_acquire_n(NULL, 3));
	rundown_cache_release(NULL);
	rundown_cache_release_n(NULL, 3);
	ck_assert(!ExAcquireRundownProtectionCacheAware(NULL));
	ExReleaseRundownProtectionCacheAware(NULL);
}
END_TEST

/* ---- threads of both kinds --------------------------------------------- */

struct mixed {
	rundown_cache_t *ref;
	int stop;		/* atomic */
	int in_use;		/* atomic: protections held right now */
	int broken;		/* atomic: a wait returned while one was */
	unsigned long pairs[IL_THREADS];
};

struct worker {
	struct mixed *m;
	unsigned index;
};

/* Pairs until told to stop, half of them acquired inline and released by
 * a call, the other half the other way round; the in-use count brackets
 * each protection. */
static void *
mixed_main(void *arg)
{
	struct worker *wk = arg;
	struct mixed *m = wk->m;
	unsigned long n = 0;
	bool ok;

	while (!__atomic_load_n(&m->stop, __ATOMIC_RELAXED)) {
		ok = (n + wk->index) % 2 == 0 ? rundown_cache_acquire(m->ref) :
		    call_acquire(m->ref, 1);
		if (!ok) {
			sched_yield();
			continue;
		}
		__atomic_add_fetch(&m->in_use, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&m->in_use, 1, __ATOMIC_SEQ_CST);
		if ((n + wk->index) % 2 == 0)
			call_release(m->ref, 1);
		else
			rundown_cache_release(m->ref);
		__atomic_store_n(&m->pairs[wk->index], ++n, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * The promise with both kinds at once: threads run mixed pairs while the
 * main thread runs the block down and re-opens it again and again; every
 * wait must return with no protection in use, and the block must end
 * with nothing held.
 */
START_TEST(test_threads_mixed)
{
	static struct mixed m;
	struct worker wk[IL_THREADS];
	pthread_t t[IL_THREADS];
	unsigned i, round, rounds = test_scale(200);
	uint64_t held;

	memset(&m, 0, sizeof(m));
	ck_assert_ptr_nonnull(m.ref = rundown_cache_alloc(IL_TAG));
	for (i = 0; i < IL_THREADS; i++) {
		wk[i].m = &m;
		wk[i].index = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, mixed_main,
		    &wk[i]), 0);
	}
	/* Every thread under way (its count published) before the first
	 * run-down, so that each kind meets the run-downs. */
	for (i = 0; i < IL_THREADS; i++)
		while (__atomic_load_n(&m.pairs[i], __ATOMIC_RELAXED) == 0)
			sched_yield();
	for (round = 0; round < rounds; round++) {
		ck_assert_int_eq(rundown_cache_wait(m.ref), 0);
		if (__atomic_load_n(&m.in_use, __ATOMIC_SEQ_CST) != 0)
			m.broken++;
		reopen(m.ref);
	}
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < IL_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(m.broken, 0);
	ck_assert_int_eq(state_of(m.ref, &held), RUNDOWN_OPEN);
	ck_assert_uint_eq(held, 0);
	ck_assert_int_eq(rundown_cache_free(m.ref), 0);
}
END_TEST

/* ---- across processes -------------------------------------------------- */

/*
 * A child's inline acquire on a block in a caller's MAP_SHARED buffer is
 * waited for by the parent, released by the child through a call; then
 * the parent's call-acquired protection is released inline.
 */
START_TEST(test_processes_buffer)
{
	size_t size = rundown_cache_size();
	struct test_signal held, go;
	rundown_cache_t *ref;
	struct waiter w;
	uint64_t n;
	pid_t pid;
	bool at_once;

	ref = test_map_shared(size);
	ck_assert_int_eq(rundown_cache_init(ref, size), 0);
	at_once = refuses_at_once(ref);
	test_signal_init(&held);
	test_signal_init(&go);
	if ((pid = test_fork_flushed()) == 0) {
		if (!rundown_cache_acquire(ref))
			_exit(1);
		test_signal_post(&held);
		test_signal_wait(&go);
		/* Running down: refused, both ways. */
		if (at_once && (rundown_cache_acquire(ref) ||
		    call_acquire(ref, 1)))
			_exit(2);
		call_release(ref, 1);
		_exit(0);
	}
	test_signal_wait(&held);
	ck_assert(call_acquire(ref, 1));
	waiter_start(&w, ref);
	rundown_cache_release(ref);
	ck_assert_int_eq(state_of(ref, &n), RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(n, 1);	/* the child's, still held */
	test_signal_post(&go);
	ck_assert_int_eq(waiter_finish(&w), 0);
	test_reap_ok(pid);
	test_signal_close(&held);
	test_signal_close(&go);
}
END_TEST

static void
il_setup(void)
{
	td_setup(0700, NULL);
}

/* This process's descriptor of IL_TAG on the test's daemon. */
static rundown_cache_t *
attach(void)
{
	rundown_cache_t *ref = NULL;

	ck_assert_int_eq(rundown_attach_at(td.sock, IL_TAG,
	    RUNDOWN_ATTACH_CREATE, &ref), 0);
	return ref;
}

/*
 * A rundownd block, a row per process: a child's inline acquire and the
 * parent's call-acquired one are both waited for; the child's
 * descriptor inherited across fork() is inert inline as out of line; the
 * child's own attachment is refused inline once the run-down began.
 */
START_TEST(test_processes_daemon)
{
	struct test_signal held, go;
	rundown_cache_t *ref, *mine;
	struct waiter w;
	uint64_t n;
	pid_t pid;
	bool at_once;

	ref = attach();
	at_once = refuses_at_once(ref);
	test_signal_init(&held);
	test_signal_init(&go);
	if ((pid = test_fork_flushed()) == 0) {
		/* The parent's row, inherited: refused, and the release
		 * changes nothing. */
		if (rundown_cache_acquire(ref))
			_exit(1);
		rundown_cache_release(ref);
		if (rundown_attach_at(td.sock, IL_TAG, 0, &mine) != 0)
			_exit(2);
		if (!rundown_cache_acquire_n(mine, 2))
			_exit(3);
		test_signal_post(&held);
		test_signal_wait(&go);
		if (at_once && (rundown_cache_acquire(mine) ||
		    call_acquire(mine, 1)))
			_exit(4);
		rundown_cache_release(mine);
		call_release(mine, 1);
		_exit(rundown_detach(mine) == 0 ? 0 : 5);
	}
	test_signal_wait(&held);
	ck_assert(call_acquire(ref, 1));
	waiter_start(&w, ref);
	if (at_once)
		ck_assert(!rundown_cache_acquire(ref));
	rundown_cache_release(ref);
	ck_assert_int_eq(state_of(ref, &n), RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(n, 2);	/* the child's two */
	test_signal_post(&go);
	ck_assert_int_eq(waiter_finish(&w), 0);
	test_reap_ok(pid);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	ck_assert_int_eq(rundown_detach(ref), 0);
	test_signal_close(&held);
	test_signal_close(&go);
}
END_TEST

/* ---- the layout -------------------------------------------------------- */

/*
 * The fields inline code reads are where the library keeps what they
 * name: the state word, this row's rseq word of CPU 0, the slots' shift,
 * and rcpus, the block's CPUs where the rseq path is taken.
 */
START_TEST(test_layout_fields)
{
	const struct rundown_cache_fast *f;
	rundown_cache_t *ref;
	struct block_layout l;

	ck_assert_ptr_nonnull(ref = rundown_cache_alloc(IL_TAG));
	f = (const struct rundown_cache_fast *)(const void *)ref;
	cache_layout(ref, &l);
	ck_assert_ptr_eq((const char *)ref + f->block_off +
	    RUNDOWN_INLINE_STATE_OFF, (const char *)cache_state(ref));
	ck_assert_ptr_eq((char *)ref + f->row_off + RUNDOWN_INLINE_PC_OFF,
	    cache_pc(ref));
	ck_assert_uint_eq(1u << f->shift, l.stride);
	/* The block's say and the build's, not the thread's. */
	ck_assert_uint_eq(f->rcpus, ((l.flags & BLOCK_F_RSEQ) &&
	    RUNDOWN_RSEQ_CS ? l.cpus : 0));
	ck_assert_int_eq(rundown_cache_layout(RUNDOWN_CACHE_LAYOUT), 0);
	ck_assert_int_eq(rundown_cache_free(ref), 0);
}
END_TEST

/*
 * A translation unit that inlines another layout: from its registration
 * on, the library hands out no descriptor (alloc, init, attach: EPROTO),
 * and the descriptors handed out before keep working.
 */
START_TEST(test_layout_mismatch)
{
	size_t size = rundown_cache_size();
	rundown_cache_t *before, *ref;
	void *buf;
	pid_t pid;

	buf = test_map_shared(size);
	if ((pid = test_fork_flushed()) == 0) {
		if ((before = rundown_cache_alloc(IL_TAG)) == NULL)
			_exit(1);
		if (rundown_cache_layout(RUNDOWN_CACHE_LAYOUT + 1) != -EPROTO)
			_exit(2);
		errno = 0;
		if (rundown_cache_alloc(IL_TAG) != NULL || errno != EPROTO)
			_exit(3);
		if (rundown_cache_init(buf, size) != -EPROTO)
			_exit(4);
		ref = NULL;
		if (rundown_attach_at("/nonexistent/rundownd.sock", IL_TAG,
		    RUNDOWN_ATTACH_CREATE, &ref) != -EPROTO || ref != NULL)
			_exit(5);
		if (!rundown_cache_acquire(before))
			_exit(6);
		rundown_cache_release(before);
		if (rundown_cache_wait(before) != 0)
			_exit(7);
		_exit(rundown_cache_free(before) == 0 ? 0 : 8);
	}
	test_reap_ok(pid);
	/* This process registered only its own. */
	ck_assert_ptr_nonnull(ref = rundown_cache_alloc(IL_TAG));
	ck_assert_int_eq(rundown_cache_free(ref), 0);
}
END_TEST

static Suite *
inline_suite(void)
{
	Suite *s = suite_create("inline");
	TCase *tc;

	tc = tcase_create("local");
	test_timeout(tc, 60);
	tcase_add_test(tc, test_local_mixed);
	tcase_add_test(tc, test_local_null);
	tcase_add_test(tc, test_threads_mixed);
	tcase_add_test(tc, test_processes_buffer);
	tcase_add_test(tc, test_layout_fields);
	tcase_add_test(tc, test_layout_mismatch);
	suite_add_tcase(s, tc);

	tc = td_case(s, "shared", il_setup, 60);
	tcase_add_test(tc, test_processes_daemon);
	return s;
}

int
main(void)
{
	return td_main("rundown-inline", 0700, IL_DEADLINE_MS, inline_suite);
}
