/*
 * check_mapshared.c: run-down across processes, in a MAP_SHARED mapping.
 * (The blocks that rundownd shares are check_daemon's and check_attack's;
 * here no daemon runs, and the processes share memory by fork alone.)
 *
 * Both families keep no pointers and sleep on shared futexes, so a block
 * or reference in anonymous shared memory serves forked processes as it
 * serves threads: a release in one process wakes a waiter in another.
 * Children report through their exit status (they never return into
 * Check's runner and never call ck_assert); the parent reaps them with
 * test_reap_ok().  Processes synchronise on pipes and on atomics in the
 * mapping, never on sleeps; a hang is caught by Check's timeout.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "cache.h"
#include "testutil.h"

#define MS_HOLDERS 4			/* processes holding protection */
#define MS_WAITERS 2			/* waiter processes, at most */
#define MS_CYCLES 20000			/* run-downs per stress test */

#define SEQ __ATOMIC_SEQ_CST
#define RELAXED __ATOMIC_RELAXED

/* Exit status of a child: what went wrong. */
enum {
	CHILD_OK = 0,
	CHILD_ACQUIRE = 10,	/* acquire failed on an open reference */
	CHILD_IO = 11,		/* a pipe broke: the parent is gone */
	CHILD_RELEASE = 12,	/* release returned an error */
	CHILD_WAIT = 13,	/* wait returned an error */
	CHILD_EARLY = 14,	/* wait returned before the last release */
	CHILD_UNSAFE = 15,	/* someone was inside when a wait returned */
	CHILD_STATE = 16	/* query, completed or reinit misbehaved */
};

/* The mapping: the two references, then what the processes share. */
struct shm {
	rundown_ref_t ref;
	uint64_t inside;		/* atomic: protections workers hold */
	uint64_t acquired;		/* atomic: successful acquires */
	uint32_t releases;		/* atomic: handshake releases done */
	uint32_t returned;		/* atomic: handshake waiters returned */
	uint32_t seen[MS_WAITERS];	/* releases each waiter saw on return */
	uint32_t stop;			/* atomic: workers, finish */
	uint32_t closed;		/* atomic: a wait returned this cycle */
	uint32_t gen;			/* atomic: the "object" (per cycle) */
	uint32_t cycles_done;		/* atomic */
	uint32_t failures;		/* atomic */
	uint32_t want;			/* atomic: waiter 0 awaits an acquire */
	pthread_barrier_t barrier;	/* process-shared, several waiters */
};

/* The cache-aware block lives at this offset in the mapping. */
#define MS_CACHE_OFF \
	((sizeof(struct shm) + BLOCK_LINE - 1) & ~(size_t)(BLOCK_LINE - 1))

static struct shm *m;
static rundown_cache_t *cache;	/* inside the mapping */
static size_t map_size;
static bool use_cache;		/* which family the test runs */
static pid_t parent;
static struct test_signal progress;	/* workers tell waiter 0: acquired */

/* ---- the family under test -------------------------------------------- */

static bool
ms_acquire(void)
{
	return use_cache ? rundown_cache_acquire(cache) :
	    rundown_acquire(&m->ref);
}

static int
ms_release(void)
{
	if (!use_cache)
		return rundown_release(&m->ref);
	rundown_cache_release(cache);
	return 0;
}

static int
ms_wait(const struct timespec *timeout)
{
	if (use_cache)
		return timeout == NULL ? rundown_cache_wait(cache) :
		    rundown_cache_wait_timeout(cache, timeout);
	return timeout == NULL ? rundown_wait(&m->ref) :
	    rundown_wait_timeout(&m->ref, timeout);
}

static int
ms_completed(void)
{
	return use_cache ? rundown_cache_completed(cache) :
	    rundown_completed(&m->ref);
}

static int
ms_reinit(void)
{
	return use_cache ? rundown_cache_reinit(cache) :
	    rundown_reinit(&m->ref);
}

static struct rundown_status
ms_query(void)
{
	struct rundown_status q;
	int rc;

	memset(&q, 0xff, sizeof q);
	rc = use_cache ? rundown_cache_query(cache, &q) :
	    rundown_query(&m->ref, &q);
	if (rc != 0)
		q.state = (enum rundown_state)-1;
	return q;
}

/*
 * True while a run-down has not visibly taken hold: the state is still
 * open, or (for the block) the starter has not switched every slot yet,
 * so an acquire on a slot not yet switched could still succeed.
 */
static bool
ms_starting(void)
{
	struct rundown_status q = ms_query();

	if (q.state == RUNDOWN_OPEN)
		return true;
	return use_cache && q.state == RUNDOWN_RUNNING_DOWN &&
	    !(__atomic_load_n(cache_row(cache), SEQ) &
	    ROW_HARVESTED);
}

/* ---- children --------------------------------------------------------- */

/* A child dies with its parent (the test process), whatever happens. */
static void
child_start(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(CHILD_IO);
}

static void
child_put(int fd)
{
	char c = 1;
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(CHILD_IO);
}

static void
child_get(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(CHILD_IO);
}

/* Holds one protection from one CPU until told, then releases on another. */
static void __attribute__((noreturn))
holder_child(unsigned i, struct test_signal *held, struct test_signal *go)
{
	child_start();
	close(held->fd[0]);
	close(go->fd[1]);
	test_pin_nth(i);
	if (!ms_acquire())
		_exit(CHILD_ACQUIRE);
	child_put(held->fd[1]);
	child_get(go->fd[0]);
	test_pin_nth(i + 1);
	/* Counted before the release, so a waiter woken by it sees it. */
	__atomic_fetch_add(&m->releases, 1, SEQ);
	if (ms_release() != 0)
		_exit(CHILD_RELEASE);
	child_put(held->fd[1]);
	_exit(CHILD_OK);
}

/* Waits (waiter 1 in 1 ms slices), then records what it saw. */
static void __attribute__((noreturn))
handshake_waiter_child(unsigned w, struct test_signal *held,
    struct test_signal *go)
{
	struct timespec one = test_ms(1);
	uint32_t seen;
	int rc;

	child_start();
	test_signal_close(held);
	test_signal_close(go);
	if (w == 0)
		rc = ms_wait(NULL);
	else
		while ((rc = ms_wait(&one)) == -ETIMEDOUT)
			;
	seen = __atomic_load_n(&m->releases, SEQ);
	__atomic_store_n(&m->seen[w], seen, SEQ);
	__atomic_fetch_add(&m->returned, 1, SEQ);
	if (rc != 0)
		_exit(CHILD_WAIT);
	_exit(seen == MS_HOLDERS ? CHILD_OK : CHILD_EARLY);
}

/*
 * Acquire one to three protections, migrate while holding, check the
 * object, release them one by one from different CPUs; repeat.
 */
static void __attribute__((noreturn))
stress_worker_child(unsigned i)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull * (i + 1);
	unsigned hop = i, bad = 0, n, held;
	uint32_t gen;

	child_start();
	/* Lowest priority: a waking waiter preempts a worker at once. */
	(void)setpriority(PRIO_PROCESS, 0, 19);
	while (!__atomic_load_n(&m->stop, SEQ)) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		hop += 1 + (unsigned)(rng >> 63);
		test_pin_nth(hop);
		n = 1 + (unsigned)(rng >> 32) % 3;
		/* Nested acquires: the later ones fail once run-down starts. */
		for (held = 0; held < n && ms_acquire(); held++)
			__atomic_fetch_add(&m->inside, 1, SEQ);
		if (held == 0) {
			sched_yield();
			continue;
		}
		__atomic_fetch_add(&m->acquired, 1, RELAXED);
		if (__atomic_load_n(&m->want, RELAXED) &&
		    __atomic_exchange_n(&m->want, 0, SEQ))
			child_put(progress.fd[1]);
		gen = __atomic_load_n(&m->gen, SEQ);
		if (__atomic_load_n(&m->closed, SEQ))
			bad++;
		while (held-- > 0) {
			test_pin_nth(++hop);	/* migrate while holding */
			/* Still the same object, and no wait has returned. */
			if (__atomic_load_n(&m->closed, SEQ) ||
			    __atomic_load_n(&m->gen, SEQ) != gen)
				bad++;
			__atomic_fetch_sub(&m->inside, 1, SEQ);
			if (ms_release() != 0)
				bad++;
		}
	}
	if (bad != 0) {
		__atomic_fetch_add(&m->failures, bad, SEQ);
		_exit(CHILD_UNSAFE);
	}
	_exit(CHILD_OK);
}

/*
 * Runs the reference down cycles times with the workers at it.  Waiter 0
 * waits until a worker has used each generation; with several waiters the
 * last one waits in 1 ms slices, and the barrier's serial one replaces the
 * object and re-initializes.
 */
static void __attribute__((noreturn))
stress_waiter_child(unsigned w, unsigned waiters, unsigned cycles)
{
	struct timespec one = test_ms(1);
	struct rundown_status q;
	unsigned c;
	int rc, code = CHILD_OK;

	child_start();
	for (c = 0; c < cycles; c++) {
		/* The worker that posts saw `want` set after the last wait
		 * returned, so its acquire came after the re-initialize. */
		if (w == 0) {
			__atomic_store_n(&m->want, 1, SEQ);
			child_get(progress.fd[0]);
		}
		if (waiters > 1)
			pthread_barrier_wait(&m->barrier);
		if (waiters > 1 && w == waiters - 1)
			while ((rc = ms_wait(&one)) == -ETIMEDOUT)
				;
		else
			rc = ms_wait(NULL);
		if (rc != 0)
			code = CHILD_WAIT;

		/* The safety property: nobody is inside once a wait returns. */
		__atomic_store_n(&m->closed, 1, SEQ);
		if (__atomic_load_n(&m->inside, SEQ) != 0)
			code = CHILD_UNSAFE;

		if (waiters > 1 && pthread_barrier_wait(&m->barrier) !=
		    PTHREAD_BARRIER_SERIAL_THREAD)
			continue;
		q = ms_query();
		if (q.state != RUNDOWN_DRAINED)
			code = CHILD_STATE;
		if (ms_acquire()) {
			code = CHILD_STATE;
			ms_release();
		}
		if (ms_completed() != 0)
			code = CHILD_STATE;
		__atomic_fetch_add(&m->gen, 1, SEQ);	/* a new object */
		__atomic_store_n(&m->closed, 0, SEQ);
		if (ms_reinit() != 0)
			code = CHILD_STATE;
		__atomic_fetch_add(&m->cycles_done, 1, SEQ);
	}
	if (code != CHILD_OK)
		__atomic_fetch_add(&m->failures, 1, SEQ);
	_exit(code);
}

/* ---- the tests' bodies ------------------------------------------------ */

static pid_t
ms_fork(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	return pid;
}

/*
 * Holders in K processes; waiters in two others; the parent releases them
 * one at a time and checks between releases that the run-down is still
 * in progress with exactly the rest outstanding and no waiter returned.
 */
static void
ms_handshake(void)
{
	struct test_signal held, go;
	struct rundown_status q;
	pid_t holders[MS_HOLDERS], waiters[MS_WAITERS];
	unsigned i;

	test_signal_init(&held);
	test_signal_init(&go);
	for (i = 0; i < MS_HOLDERS; i++)
		if ((holders[i] = ms_fork()) == 0)
			holder_child(i, &held, &go);
	/* Not ours to write: should every holder die, the read sees EOF. */
	close(held.fd[1]);
	held.fd[1] = -1;
	for (i = 0; i < MS_HOLDERS; i++)
		test_signal_wait(&held);
	q = ms_query();
	ck_assert_int_eq(q.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(q.outstanding, MS_HOLDERS);

	for (i = 0; i < MS_WAITERS; i++)
		if ((waiters[i] = ms_fork()) == 0)
			handshake_waiter_child(i, &held, &go);
	/* Observe the run-down a waiter began, from this process. */
	while (ms_starting())
		sched_yield();
	q = ms_query();
	ck_assert_int_eq(q.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(q.outstanding, MS_HOLDERS);
	ck_assert(!ms_acquire());
	ck_assert_uint_eq(ms_query().outstanding, MS_HOLDERS);
	ck_assert_uint_eq(__atomic_load_n(&m->returned, SEQ), 0);

	for (i = 1; i <= MS_HOLDERS; i++) {
		test_signal_post(&go);
		test_signal_wait(&held);
		ck_assert_uint_eq(__atomic_load_n(&m->releases, SEQ), i);
		if (i == MS_HOLDERS)
			break;
		q = ms_query();
		ck_assert_int_eq(q.state, RUNDOWN_RUNNING_DOWN);
		ck_assert_uint_eq(q.outstanding, MS_HOLDERS - i);
		ck_assert_uint_eq(__atomic_load_n(&m->returned, SEQ), 0);
	}

	/* Woken by the last release, each having seen all of them. */
	for (i = 0; i < MS_WAITERS; i++)
		test_reap_ok(waiters[i]);
	ck_assert_uint_eq(__atomic_load_n(&m->returned, SEQ), MS_WAITERS);
	for (i = 0; i < MS_WAITERS; i++)
		ck_assert_uint_eq(m->seen[i], MS_HOLDERS);
	for (i = 0; i < MS_HOLDERS; i++)
		test_reap_ok(holders[i]);
	test_signal_close(&held);
	test_signal_close(&go);

	q = ms_query();
	ck_assert_int_eq(q.state, RUNDOWN_DRAINED);
	ck_assert_int_eq(ms_completed(), 0);
	ck_assert_int_eq(ms_query().state, RUNDOWN_COMPLETED);
	ck_assert_int_eq(ms_reinit(), 0);
	q = ms_query();
	ck_assert_int_eq(q.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(q.outstanding, 0);
	ck_assert(ms_acquire());
	ck_assert_int_eq(ms_release(), 0);
}

/* K worker processes against waiter processes cycling the run-down. */
static void
ms_stress(unsigned nwaiters)
{
	pthread_barrierattr_t attr;
	pid_t workers[MS_HOLDERS], waiters[MS_WAITERS];
	int status[MS_WAITERS];
	unsigned i, cycles = test_scale(MS_CYCLES);
	pid_t r;

	if (nwaiters > 1) {
		ck_assert_int_eq(pthread_barrierattr_init(&attr), 0);
		ck_assert_int_eq(pthread_barrierattr_setpshared(&attr,
		    PTHREAD_PROCESS_SHARED), 0);
		ck_assert_int_eq(pthread_barrier_init(&m->barrier, &attr,
		    nwaiters), 0);
		pthread_barrierattr_destroy(&attr);
	}
	test_signal_init(&progress);
	for (i = 0; i < MS_HOLDERS; i++)
		if ((workers[i] = ms_fork()) == 0)
			stress_worker_child(i);
	for (i = 0; i < nwaiters; i++)
		if ((waiters[i] = ms_fork()) == 0)
			stress_waiter_child(i, nwaiters, cycles);

	/* The waiters first; then the workers may stop. */
	for (i = 0; i < nwaiters; i++) {
		do
			r = waitpid(waiters[i], &status[i], 0);
		while (r < 0 && errno == EINTR);
		ck_assert_int_eq(r, waiters[i]);
	}
	__atomic_store_n(&m->stop, 1, SEQ);
	for (i = 0; i < MS_HOLDERS; i++)
		test_reap_ok(workers[i]);
	for (i = 0; i < nwaiters; i++) {
		ck_assert_msg(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) ==
		    0, "waiter %u: status %#x", i, (unsigned)status[i]);
	}
	if (nwaiters > 1)
		pthread_barrier_destroy(&m->barrier);
	test_signal_close(&progress);

	ck_assert_uint_eq(__atomic_load_n(&m->failures, SEQ), 0);
	ck_assert_uint_eq(__atomic_load_n(&m->cycles_done, SEQ), cycles);
	/* Each cycle waited for an acquire made since the last reinit. */
	ck_assert_uint_ge(__atomic_load_n(&m->acquired, SEQ), cycles);
	ck_assert_uint_eq(__atomic_load_n(&m->gen, SEQ), cycles);

	/* Everyone gone: a last run-down finds nothing held. */
	ck_assert_int_eq(ms_wait(NULL), 0);
	ck_assert_uint_eq(__atomic_load_n(&m->inside, SEQ), 0);
	ck_assert_int_eq(ms_query().state, RUNDOWN_DRAINED);
}

/* ---- fixtures --------------------------------------------------------- */

static void
ms_setup(bool cache_family)
{
	void *p;

	map_size = MS_CACHE_OFF + rundown_cache_size();
	p = test_map_shared(map_size);
	m = p;
	cache = (rundown_cache_t *)(void *)((char *)p + MS_CACHE_OFF);
	rundown_init(&m->ref);
	ck_assert_int_eq(rundown_cache_init(cache, map_size - MS_CACHE_OFF),
	    0);
	use_cache = cache_family;
	parent = getpid();
}

static void
cache_setup(void)
{
	ms_setup(true);
}

static void
ref_setup(void)
{
	ms_setup(false);
}

static void
ms_teardown(void)
{
	ck_assert_int_eq(munmap(m, map_size), 0);
	m = NULL;
	cache = NULL;
}

/* ---- tests ------------------------------------------------------------ */

/* Cache-aware, shared: a waiter in another process returns only after the
 * last of K releases made in K other processes. */
START_TEST(test_cache_handshake)
{
	ms_handshake();
}
END_TEST

/* Cache-aware, shared: no wait returns while a worker process is inside. */
START_TEST(test_cache_stress)
{
	ms_stress(1);
}
END_TEST

/* Cache-aware, shared: the same with two waiter processes per run-down. */
START_TEST(test_cache_stress_waiters)
{
	ms_stress(MS_WAITERS);
}
END_TEST

/* Plain, shared: a waiter in another process returns only after the
 * last of K releases made in K other processes. */
START_TEST(test_ref_handshake)
{
	ms_handshake();
}
END_TEST

/* Plain, shared: no wait returns while a worker process is inside. */
START_TEST(test_ref_stress)
{
	ms_stress(1);
}
END_TEST

/* Plain, shared: the same with two waiter processes per run-down. */
START_TEST(test_ref_stress_waiters)
{
	ms_stress(MS_WAITERS);
}
END_TEST

static Suite *
mapshared_suite(void)
{
	Suite *s = suite_create("mapshared");
	TCase *tc;

	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, cache_setup, ms_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_cache_handshake);
	tcase_add_test(tc, test_cache_stress);
	tcase_add_test(tc, test_cache_stress_waiters);
	suite_add_tcase(s, tc);

	tc = tcase_create("ref");
	tcase_add_checked_fixture(tc, ref_setup, ms_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_ref_handshake);
	tcase_add_test(tc, test_ref_stress);
	tcase_add_test(tc, test_ref_stress_waiters);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(mapshared_suite());
}
