/*
 * check_stress.c: the safety property of run-down under stress.
 *
 * Worker threads acquire, migrate to another CPU while holding, touch a
 * heap object and release, over and over; a waiter runs the reference down,
 * retires (frees) the object, re-initializes and starts again, thousands of
 * times.  Whenever a wait returns, nobody may be inside: the waiter checks a
 * counter the workers keep, the workers check a flag the waiter raises
 * (the two seq_cst accesses form a Dekker pair, so an overlap is seen by at
 * least one side), and a worker touching a freed object is what
 * AddressSanitizer reports.  The object is written plainly, so that
 * ThreadSanitizer checks the ordering the library promises between a
 * release and the wait that returns after it, and between a re-initialize
 * and the acquires that follow.
 *
 * Iteration counts go through test_scale(); no test waits on a timer: a
 * hang is caught by Check's timeout and counts as a failure.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "cache.h"
#include "testutil.h"

#define STRESS_WORKERS 4		/* oversubscribes a 2-core machine */
#define STRESS_WAITERS 3		/* in the several-waiters variants */
#define STRESS_CYCLES 6000		/* run-downs per test, before scaling */
#define STRESS_MAX_N 16			/* largest n of acquire_n */
#define STRESS_SLOTS 8u			/* slots of the cache_init_cpus block */
#define STRESS_TAG 0x74537453u		/* "StSt" */

#define OBJ_LIVE 0x4c495645u
#define OBJ_DEAD 0xdeaddeadu

#define SEQ __ATOMIC_SEQ_CST
#define RELAXED __ATOMIC_RELAXED

enum stress_mode {
	MODE_ONE,	/* acquire and release one, on the current CPU */
	MODE_N,		/* acquire_n of a random n, released in random chunks */
	MODE_ON		/* cache_acquire_on/cache_release_on, random slots */
};

/* The protected object, freed and replaced by the waiter every cycle. */
struct stress_obj {
	uint32_t magic;				/* OBJ_LIVE while in use */
	uint32_t cycle;
	uint64_t hits[STRESS_WORKERS];		/* hits[i]: worker i only */
};

struct stress;

/* The two families behind one interface. */
struct stress_ops {
	bool (*acquire)(struct stress *, uint64_t *, uint32_t);
	void (*release)(struct stress *, uint64_t *, uint32_t);
	int (*wait)(struct stress *, const struct timespec *);
	int (*completed)(struct stress *);
	int (*reinit)(struct stress *);
	int (*query)(struct stress *, struct rundown_status *);
};

struct stress {
	const struct stress_ops *ops;
	rundown_cache_t *cache;
	void *buf;			/* the cache_init_cpus() buffer */
	rundown_ref_t ref;

	enum stress_mode mode;
	unsigned waiters;
	bool timed;
	unsigned cycles;

	struct stress_obj *obj;		/* atomic pointer */
	uint64_t inside;		/* atomic: protections workers hold */
	uint64_t acquired;		/* atomic: successful acquires */
	int closed;			/* atomic: a wait returned this cycle */
	int want;			/* atomic: waiter 0 awaits an acquire */
	struct test_signal progress;	/* the acquire it awaits */
	int stop;			/* atomic */
	int failed;			/* atomic */
	char msg[256];			/* the first failure */

	uint64_t touched[STRESS_WORKERS];	/* read after the join */
	uint64_t harvested;		/* hits of retired objects */
	uint64_t timeouts;		/* atomic */
	unsigned cycles_done;
	pthread_barrier_t barrier;
};

struct stress_thread {
	struct stress *s;
	unsigned id;
	pthread_t thread;
};

static struct stress *st;

/* Tells waiter 0, if it waits for one, that an acquire happened. */
static void
stress_progress(struct stress *s)
{
	char c = 1;

	if (__atomic_load_n(&s->want, RELAXED) &&
	    __atomic_exchange_n(&s->want, 0, SEQ))
		while (write(s->progress.fd[1], &c, 1) < 0 && errno == EINTR)
			;
}

/* Records the first failure and stops the workers; main asserts on it. */
static void __attribute__((format(printf, 2, 3)))
stress_fail(struct stress *s, const char *fmt, ...)
{
	int expected = 0;
	va_list ap;

	if (__atomic_compare_exchange_n(&s->failed, &expected, 1, 0, SEQ,
	    SEQ)) {
		va_start(ap, fmt);
		vsnprintf(s->msg, sizeof s->msg, fmt, ap);
		va_end(ap);
	}
	__atomic_store_n(&s->stop, 1, SEQ);
	stress_progress(s);	/* waiter 0 must not wait for workers gone */
}

/* xorshift64: a private, reproducible stream per thread. */
static uint32_t
stress_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 32);
}

/* A live object for cycle. */
static struct stress_obj *
stress_obj_new(uint32_t cycle)
{
	struct stress_obj *o = calloc(1, sizeof *o);

	ck_assert_ptr_nonnull(o);
	o->magic = OBJ_LIVE;
	o->cycle = cycle;
	return o;
}

/* Counts what workers did to o, then frees it. */
static void
stress_obj_retire(struct stress *s, struct stress_obj *o)
{
	unsigned i;

	for (i = 0; i < STRESS_WORKERS; i++)
		s->harvested += o->hits[i];
	o->magic = OBJ_DEAD;
	free(o);
}

/* ---- the cache-aware block -------------------------------------------- */

static bool
cache_ops_acquire(struct stress *s, uint64_t *rng, uint32_t n)
{
	switch (s->mode) {
	case MODE_ONE:
		return rundown_cache_acquire(s->cache);
	case MODE_N:
		return rundown_cache_acquire_n(s->cache, n);
	default:
		/* Indices past the block's slots check the modulo as well. */
		return cache_acquire_on(s->cache, stress_rand(rng) % 64, n);
	}
}

static void
cache_ops_release(struct stress *s, uint64_t *rng, uint32_t n)
{
	switch (s->mode) {
	case MODE_ONE:
		rundown_cache_release(s->cache);
		break;
	case MODE_N:
		rundown_cache_release_n(s->cache, n);
		break;
	default:
		cache_release_on(s->cache, stress_rand(rng) % 64, n);
		break;
	}
}

static int
cache_ops_wait(struct stress *s, const struct timespec *timeout)
{
	if (timeout == NULL)
		return rundown_cache_wait(s->cache);
	return rundown_cache_wait_timeout(s->cache, timeout);
}

static int
cache_ops_completed(struct stress *s)
{
	return rundown_cache_completed(s->cache);
}

static int
cache_ops_reinit(struct stress *s)
{
	return rundown_cache_reinit(s->cache);
}

static int
cache_ops_query(struct stress *s, struct rundown_status *q)
{
	return rundown_cache_query(s->cache, q);
}

static const struct stress_ops cache_ops = {
	cache_ops_acquire, cache_ops_release, cache_ops_wait,
	cache_ops_completed, cache_ops_reinit, cache_ops_query
};

/* ---- the plain reference ---------------------------------------------- */

static bool
ref_ops_acquire(struct stress *s, uint64_t *rng, uint32_t n)
{
	(void)rng;	/* the plain reference has no slots to pick */
	if (s->mode == MODE_ONE)
		return rundown_acquire(&s->ref);
	return rundown_acquire_n(&s->ref, n);
}

static void
ref_ops_release(struct stress *s, uint64_t *rng, uint32_t n)
{
	int rc;

	(void)rng;
	if (s->mode == MODE_ONE)
		rc = rundown_release(&s->ref);
	else
		rc = rundown_release_n(&s->ref, n);
	if (rc != 0)
		stress_fail(s, "release of %u returned %d", n, rc);
}

static int
ref_ops_wait(struct stress *s, const struct timespec *timeout)
{
	if (timeout == NULL)
		return rundown_wait(&s->ref);
	return rundown_wait_timeout(&s->ref, timeout);
}

static int
ref_ops_completed(struct stress *s)
{
	return rundown_completed(&s->ref);
}

static int
ref_ops_reinit(struct stress *s)
{
	return rundown_reinit(&s->ref);
}

static int
ref_ops_query(struct stress *s, struct rundown_status *q)
{
	return rundown_query(&s->ref, q);
}

static const struct stress_ops ref_ops = {
	ref_ops_acquire, ref_ops_release, ref_ops_wait,
	ref_ops_completed, ref_ops_reinit, ref_ops_query
};

/* ---- the threads ------------------------------------------------------ */

/* Acquire, migrate while holding, touch the object, release; repeat. */
static void *
stress_worker(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *s = t->s;
	struct stress_obj *o;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (t->id + 1), touched = 0;
	unsigned hop = t->id;
	uint32_t n, k;
	/*
	 * MODE_ON names its slots, so it skips the migration, and it retries
	 * a failed acquire at once: an acquire then follows the reset of its
	 * slot closely, and its release comes within a microsecond, quick
	 * enough to fall inside a re-initialize that is still resetting the
	 * slots (acquire on a slot already reset, release on one not yet
	 * reset: a release the next run-down must still count).
	 */
	bool migrate = s->mode != MODE_ON;

	/*
	 * Lowest priority, so that a waking waiter preempts a worker at once
	 * (often one that holds protection) instead of queueing for a tick:
	 * more run-downs per second, and more of them find someone inside.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	while (!__atomic_load_n(&s->stop, SEQ)) {
		hop += 1 + (stress_rand(&rng) & 1);
		if (migrate)
			test_pin_nth(hop);
		n = s->mode == MODE_ONE ? 1 :
		    1 + stress_rand(&rng) % STRESS_MAX_N;
		if (!s->ops->acquire(s, &rng, n)) {
			if (migrate)
				sched_yield();
			continue;
		}
		/*
		 * The plain accesses to the object sit outside the window the
		 * inside counter covers, so that only the library's orderings
		 * (acquire on the grant, release on the release) order them
		 * against the waiter's writes, and ThreadSanitizer checks them.
		 */
		o = __atomic_load_n(&s->obj, RELAXED);
		if (o->magic != OBJ_LIVE)
			stress_fail(s, "worker %u found a retired object "
			    "(magic %#x)", t->id, o->magic);
		__atomic_fetch_add(&s->inside, n, SEQ);
		__atomic_fetch_add(&s->acquired, 1, RELAXED);
		stress_progress(s);
		if (__atomic_load_n(&s->closed, SEQ))
			stress_fail(s, "worker %u acquired after a wait "
			    "returned", t->id);
		while (n > 0) {
			k = s->mode == MODE_ONE ? 1 : 1 + stress_rand(&rng) % n;
			if (migrate)
				test_pin_nth(++hop);	/* while holding */
			if (__atomic_load_n(&s->closed, SEQ))
				stress_fail(s, "worker %u still held "
				    "protection when a wait returned", t->id);
			__atomic_fetch_sub(&s->inside, k, SEQ);
			o->hits[t->id]++;	/* plain: the object is ours */
			touched++;
			s->ops->release(s, &rng, k);
			n -= k;
		}
	}
	s->touched[t->id] = touched;
	return NULL;
}

/*
 * Timed wait: holding a protection of its own, the waiter must time out
 * (and the run-down stays in progress); then it releases and keeps timing
 * out with 0 and 1 ms until the workers are out.
 */
static void
stress_wait_timed(struct stress *s, unsigned cycle, uint64_t *rng)
{
	struct timespec zero = test_ms(0), one = test_ms(1);
	struct rundown_status q;
	bool own;
	unsigned i;
	int rc;

	memset(&q, 0, sizeof q);
	own = s->ops->acquire(s, rng, 1);
	if (!own)
		stress_fail(s, "cycle %u: acquire failed on an open reference",
		    cycle);
	else if ((rc = s->ops->wait(s, &zero)) != -ETIMEDOUT)
		stress_fail(s, "cycle %u: wait with a protection held returned "
		    "%d", cycle, rc);
	else {
		__atomic_fetch_add(&s->timeouts, 1, RELAXED);
		if (s->ops->acquire(s, rng, 1)) {
			stress_fail(s, "cycle %u: acquire succeeded after a "
			    "timed-out wait", cycle);
			s->ops->release(s, rng, 1);
		}
		if (s->ops->query(s, &q) != 0 ||
		    q.state != RUNDOWN_RUNNING_DOWN || q.outstanding < 1)
			stress_fail(s, "cycle %u: after a timeout the state is "
			    "%d with %llu outstanding", cycle, (int)q.state,
			    (unsigned long long)q.outstanding);
	}
	if (own)
		s->ops->release(s, rng, 1);
	for (i = 0; (rc = s->ops->wait(s, i & 1 ? &one : &zero)) ==
	    -ETIMEDOUT; i++)
		__atomic_fetch_add(&s->timeouts, 1, RELAXED);
	if (rc != 0)
		stress_fail(s, "cycle %u: timed wait returned %d", cycle, rc);
}

/* After every waiter has returned: free the object, make a new one. */
static void
stress_retire(struct stress *s, unsigned cycle, uint64_t *rng)
{
	struct rundown_status q;
	int rc;

	memset(&q, 0, sizeof q);
	if (s->ops->query(s, &q) != 0 || q.state != RUNDOWN_DRAINED)
		stress_fail(s, "cycle %u: state %d after the wait", cycle,
		    (int)q.state);
	if (s->ops->acquire(s, rng, 1)) {
		stress_fail(s, "cycle %u: acquire succeeded after the wait",
		    cycle);
		s->ops->release(s, rng, 1);
	}
	if ((rc = s->ops->completed(s)) != 0)
		stress_fail(s, "cycle %u: completed returned %d", cycle, rc);
	stress_obj_retire(s, __atomic_load_n(&s->obj, RELAXED));
	__atomic_store_n(&s->obj, stress_obj_new(cycle + 1), RELAXED);
	/* Before the re-initialize publishes the reference again. */
	__atomic_store_n(&s->closed, 0, SEQ);
	if ((rc = s->ops->reinit(s)) != 0)
		stress_fail(s, "cycle %u: reinit returned %d", cycle, rc);
	s->cycles_done++;
}

/* Runs the reference down s->cycles times, checking nobody is inside. */
static void *
stress_waiter(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *s = t->s;
	uint64_t rng = 0xd1b54a32d192ed03ull * (t->id + 1), in;
	unsigned c;
	char byte;
	int rc;

	for (c = 0; c < s->cycles; c++) {
		/*
		 * Run down a reference the workers have used since reinit:
		 * the worker that posts saw `want` set after the last wait
		 * returned, so its acquire came after the re-initialize.  A
		 * failure sets stop, then posts if want is set (seq_cst both
		 * sides: either it posts or this sees stop).
		 */
		if (t->id == 0) {
			__atomic_store_n(&s->want, 1, SEQ);
			if (!__atomic_load_n(&s->stop, SEQ))
				while (read(s->progress.fd[0], &byte, 1) < 0 &&
				    errno == EINTR)
					;
		}
		if (s->waiters > 1)
			pthread_barrier_wait(&s->barrier);

		if (s->timed)
			stress_wait_timed(s, c, &rng);
		else if (s->waiters > 1 && t->id == s->waiters - 1) {
			/* One of several waiters polls with a short timeout. */
			struct timespec one = test_ms(1);

			while ((rc = s->ops->wait(s, &one)) == -ETIMEDOUT)
				__atomic_fetch_add(&s->timeouts, 1, RELAXED);
			if (rc != 0)
				stress_fail(s, "cycle %u: waiter %u: timed "
				    "wait returned %d", c, t->id, rc);
		} else if ((rc = s->ops->wait(s, NULL)) != 0)
			stress_fail(s, "cycle %u: waiter %u: wait returned %d",
			    c, t->id, rc);

		/* The safety property: nobody is inside once a wait returns. */
		__atomic_store_n(&s->closed, 1, SEQ);
		if ((in = __atomic_load_n(&s->inside, SEQ)) != 0)
			stress_fail(s, "cycle %u: waiter %u returned with %llu "
			    "protections inside", c, t->id,
			    (unsigned long long)in);

		if (s->waiters > 1 && pthread_barrier_wait(&s->barrier) !=
		    PTHREAD_BARRIER_SERIAL_THREAD) {
			/* The serial one re-initializes before the next cycle's
			 * first barrier lets anyone wait again. */
			continue;
		}
		stress_retire(s, c, &rng);
	}
	return NULL;
}

/* Runs workers and waiters to the end, then checks what they counted. */
static void
stress_run(enum stress_mode mode, unsigned waiters, bool timed)
{
	struct stress_thread wk[STRESS_WORKERS], wt[STRESS_WAITERS];
	struct stress *s = st;
	struct rundown_status q;
	uint64_t touched = 0;
	unsigned i;

	s->mode = mode;
	s->waiters = waiters;
	s->timed = timed;
	s->cycles = test_scale(STRESS_CYCLES);
	s->obj = stress_obj_new(0);
	test_signal_init(&s->progress);
	if (waiters > 1)
		ck_assert_int_eq(pthread_barrier_init(&s->barrier, NULL,
		    waiters), 0);

	for (i = 0; i < STRESS_WORKERS; i++) {
		wk[i].s = s;
		wk[i].id = i;
		ck_assert_int_eq(pthread_create(&wk[i].thread, NULL,
		    stress_worker, &wk[i]), 0);
	}
	for (i = 0; i < waiters; i++) {
		wt[i].s = s;
		wt[i].id = i;
		ck_assert_int_eq(pthread_create(&wt[i].thread, NULL,
		    stress_waiter, &wt[i]), 0);
	}
	for (i = 0; i < waiters; i++)
		ck_assert_int_eq(pthread_join(wt[i].thread, NULL), 0);
	__atomic_store_n(&s->stop, 1, SEQ);
	for (i = 0; i < STRESS_WORKERS; i++)
		ck_assert_int_eq(pthread_join(wk[i].thread, NULL), 0);
	if (waiters > 1)
		pthread_barrier_destroy(&s->barrier);
	test_signal_close(&s->progress);

	ck_assert_msg(!s->failed, "%s", s->msg);
	ck_assert_uint_eq(s->cycles_done, s->cycles);
	/* Every cycle waited for at least one acquire by the workers. */
	ck_assert_uint_ge(s->acquired, s->cycles);
	if (timed)
		ck_assert_uint_ge(s->timeouts, s->cycles);

	/* A last run-down with the workers gone: the object is ours. */
	ck_assert_int_eq(s->ops->wait(s, NULL), 0);
	ck_assert_uint_eq(__atomic_load_n(&s->inside, SEQ), 0);
	ck_assert_int_eq(s->ops->query(s, &q), 0);
	ck_assert_int_eq(q.state, RUNDOWN_DRAINED);
	ck_assert_int_eq(s->ops->completed(s), 0);
	stress_obj_retire(s, s->obj);
	s->obj = NULL;

	/* Every touch landed in an object retired after its wait. */
	for (i = 0; i < STRESS_WORKERS; i++)
		touched += s->touched[i];
	ck_assert_uint_ge(touched, s->acquired);
	ck_assert_uint_eq(s->harvested, touched);
}

/* ---- fixtures --------------------------------------------------------- */

static void
stress_new(const struct stress_ops *ops)
{
	st = calloc(1, sizeof *st);
	ck_assert_ptr_nonnull(st);
	st->ops = ops;
}

static void
cache_setup(void)
{
	stress_new(&cache_ops);
	st->cache = rundown_cache_alloc(STRESS_TAG);
	ck_assert_ptr_nonnull(st->cache);
}

static void
cache_teardown(void)
{
	ck_assert_int_eq(rundown_cache_free(st->cache), 0);
	free(st);
	st = NULL;
}

static void
ref_setup(void)
{
	stress_new(&ref_ops);
	rundown_init(&st->ref);
}

static void
ref_teardown(void)
{
	free(st);
	st = NULL;
}

/* A block of 8 slots whatever the machine, so slots go negative a lot. */
static void
slots_setup(void)
{
	size_t size = cache_size_cpus(STRESS_SLOTS);

	stress_new(&cache_ops);
	ck_assert_int_eq(posix_memalign(&st->buf, BLOCK_LINE, size), 0);
	ck_assert_int_eq(cache_init_cpus(st->buf, size, STRESS_SLOTS,
	    STRESS_TAG), 0);
	st->cache = st->buf;
}

static void
slots_teardown(void)
{
	ck_assert_int_eq(rundown_cache_free(st->cache), -EPERM);
	free(st->buf);
	free(st);
	st = NULL;
}

/* ---- tests ------------------------------------------------------------ */

/* Cache-aware: no wait returns while a migrating holder is inside. */
START_TEST(test_cache_one)
{
	stress_run(MODE_ONE, 1, false);
}
END_TEST

/* Cache-aware: the same with acquire_n and releases in random chunks. */
START_TEST(test_cache_n)
{
	stress_run(MODE_N, 1, false);
}
END_TEST

/* Cache-aware: three waiters on each run-down all return safely. */
START_TEST(test_cache_waiters)
{
	stress_run(MODE_ONE, STRESS_WAITERS, false);
}
END_TEST

/* Cache-aware: 0 and 1 ms timed waits time out, continue, return safely. */
START_TEST(test_cache_timed)
{
	stress_run(MODE_N, 1, true);
}
END_TEST

/* Plain: no wait returns while a migrating holder is inside. */
START_TEST(test_ref_one)
{
	stress_run(MODE_ONE, 1, false);
}
END_TEST

/* Plain: the same with acquire_n and releases in random chunks. */
START_TEST(test_ref_n)
{
	stress_run(MODE_N, 1, false);
}
END_TEST

/* Plain: three waiters on each run-down all return safely. */
START_TEST(test_ref_waiters)
{
	stress_run(MODE_ONE, STRESS_WAITERS, false);
}
END_TEST

/* Plain: 0 and 1 ms timed waits time out, continue, return safely. */
START_TEST(test_ref_timed)
{
	stress_run(MODE_N, 1, true);
}
END_TEST

/* 8 slots: acquire on one random slot, release in chunks on others. */
START_TEST(test_slots_on)
{
	stress_run(MODE_ON, 1, false);
}
END_TEST

/* 8 slots: cross-slot counts with three waiters per run-down. */
START_TEST(test_slots_waiters)
{
	stress_run(MODE_ON, STRESS_WAITERS, false);
}
END_TEST

/* 8 slots: cross-slot counts with timed waits that time out. */
START_TEST(test_slots_timed)
{
	stress_run(MODE_ON, 1, true);
}
END_TEST

/* 8 slots: current-CPU acquire_n with migration between chunks. */
START_TEST(test_slots_n)
{
	stress_run(MODE_N, 1, false);
}
END_TEST

static Suite *
stress_suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc;

	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_cache_one);
	tcase_add_test(tc, test_cache_n);
	tcase_add_test(tc, test_cache_waiters);
	tcase_add_test(tc, test_cache_timed);
	suite_add_tcase(s, tc);

	tc = tcase_create("ref");
	tcase_add_checked_fixture(tc, ref_setup, ref_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_ref_one);
	tcase_add_test(tc, test_ref_n);
	tcase_add_test(tc, test_ref_waiters);
	tcase_add_test(tc, test_ref_timed);
	suite_add_tcase(s, tc);

	tc = tcase_create("slots");
	tcase_add_checked_fixture(tc, slots_setup, slots_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_slots_on);
	tcase_add_test(tc, test_slots_waiters);
	tcase_add_test(tc, test_slots_timed);
	tcase_add_test(tc, test_slots_n);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(stress_suite());
}
