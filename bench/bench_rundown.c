/*
 * bench_rundown.c: what one acquire+release pair costs, how it scales, and
 * what starting a run-down costs.
 *
 * Five variants ("ops") run the same thread harness:
 *
 *   r  rseq add        rundown_rseq_add(+1), rundown_rseq_add(-1) (lib/rseq.h) on a
 *                      per-CPU array of lines, checking a state word that
 *                      stays 0: the hardware floor of the library's fast
 *                      path (n/a where the build or thread has no rseq);
 *   a  lock cmpxchg    load + lock cmpxchg +2, load + lock cmpxchg -2 on a
 *                      private cache line per CPU picked by the current CPU
 *                      (as the library finds it: rseq, else sched_getcpu()):
 *                      the floor of any design built from atomics on
 *                      per-CPU counters;
 *   b  cache-aware     rundown_cache_acquire/release on one block;
 *   c  plain ref       rundown_acquire/release on one shared word;
 *   d  rwlock read     pthread_rwlock_rdlock/unlock on one shared lock.
 *
 * Each configuration (variant x thread count) runs R repetitions of a fixed
 * duration; the repetitions of the variants are interleaved so that a
 * burst of noise on the shared machine hits all of them alike, and the
 * figures reported are medians.  It is a measurement, not a test: the
 * targets are printed as PASS or MISS and the exit status ignores them.
 *
 * The wake latency of b and c is measured too: how long after the holder's
 * last release a waiter blocked in the wait call is running again.
 *
 * The run-down start cost: while T threads run pairs on one block (from
 * the heap, fenced by membarrier; or in a MAP_SHARED buffer, fenced by
 * running on every CPU), the main thread takes block_start()'s steps one
 * by one (block_flip, block_fence, block_harvest_row for each row,
 * block_check_drained) and times them; then it waits for the drain,
 * re-initializes and starts again.
 *
 * -c N ("callgrind mode") runs exactly N pairs of each variant on one
 * thread without timing, for instruction counts (see bench/README.md).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_RSEQ_AREA
#include <sys/rseq.h>
#endif

#include <rundown/rundown.h>

#include "benchutil.h"
#include "block.h"		/* BLOCK_LINE; the steps of block_start() */
#include "cache.h"		/* cache_block, cache_layout */

#define BENCH_MAX_THREADS 256
#define BENCH_TAG 0x68636e42u	/* "Bnch" in memory, like 'hcnB' */

/* An object each variant works on, and what to do with it. */
struct op {
	char		 key;
	const char	*name;
	void		*(*setup)(void);
	bench_loop_fn	*loop;		/* BENCH_LOOP of its pair */
	void		 (*teardown)(void *);
	const struct wake_ops *wake;		/* NULL: no run-down to time */
};

/* The run-down calls the wake-latency measurement needs. */
struct wake_ops {
	bool		 (*acquire)(void *);
	void		 (*release)(void *);
	int		 (*wait)(void *);
	enum rundown_state (*state)(void *);
	int		 (*reset)(void *);	/* completed, then reinit */
};

/* One run of a configuration: the threads and what they share. */
struct run {
	const struct op	*op;
	void		*obj;
	uint64_t	 count;		/* pairs per thread, 0: until stop */
	bool		 pin;
	int		 stop;		/* atomic */
	pthread_barrier_t barrier;
};

/* One thread of a run, alone on its cache lines. */
struct worker {
	struct run	*run;
	pthread_t	 thread;
	unsigned	 index;
	struct bench_count count;
	bool		 unpinned;
} __attribute__((aligned(BLOCK_LINE)));

/* Options. */
static long opt_ms = 200;
static unsigned opt_reps = 7;
static unsigned opt_threads[BENCH_MAX_COUNTS] = { 1, 2, 4 };
static unsigned opt_nthreads = 3;
static unsigned opt_wake = 1000;
static bool opt_pin;
static bool opt_quiet;
static unsigned long opt_callgrind;
static unsigned opt_start = 200;
static const char *opt_ops = "raibcd";

static unsigned ncpus_conf;	/* CPUs a per-CPU array needs */
static bool rseq_ok;		/* variant r can run (bench_rseq_ok()) */

/* ---- the variants ------------------------------------------------------ */

/* Memory aligned to a cache line and zeroed; exits on failure. */
static void *
bench_alloc(size_t size)
{
	void *p;

	size = (size + BLOCK_LINE - 1) / BLOCK_LINE * BLOCK_LINE;
	if ((p = aligned_alloc(BLOCK_LINE, size)) == NULL) {
		perror("aligned_alloc");
		exit(2);
	}
	memset(p, 0, size);
	return p;
}

/* (r, a) One counter per CPU, each alone on its line, in one row that
 * every thread shares (as a heap block has one row), after the state
 * line; the descriptor comes first, on a line of its own. */
static void *
percpu_setup(void)
{
	struct bench_percpu *d;

	d = bench_alloc(sizeof *d + bench_percpu_size(1, ncpus_conf));
	bench_percpu_init(d, d + 1, 0, ncpus_conf);
	return d;
}

/* The rseq add pair: the floor of the library's fast path, which adds
 * the same way with a descriptor around it.  False (refused) only if the
 * section could not run at all. */
static inline __attribute__((always_inline)) bool
pair_rseq_add(void *p)
{
	return bench_rseq_pair(p) == RUNDOWN_RSEQ_DONE;
}

static BENCH_LOOP(loop_rseq_add, pair_rseq_add)

/* The lock cmpxchg pair: the same loads and CASes as the library's atomic
 * path, with nothing else (no state bit, no overflow check, no
 * descriptor). */
static inline __attribute__((always_inline)) bool
pair_lock_cmpxchg(void *p)
{
	bench_cmpxchg_pair(p);
	return true;
}

static BENCH_LOOP(loop_lock_cmpxchg, pair_lock_cmpxchg)

/* Why variant r does not run here. */
static const char *
rseq_why(void)
{
	return RUNDOWN_RSEQ_CS ? "this thread has no rseq area" :
	    "built without the rseq section";
}

/* What block_fence() does for a block of these flags. */
static const char *
start_fence_name(uint32_t bflags)
{
	if (!(bflags & BLOCK_F_RSEQ))
		return "no fence (atomic path)";
	if (bflags & BLOCK_F_PRIVATE)
		return "membarrier rseq fence";
	return "runs on every CPU";
}

/* (b) A cache-aware block from the heap. */
static void *
cache_setup(void)
{
	rundown_cache_t *c;

	if ((c = rundown_cache_alloc(BENCH_TAG)) == NULL) {
		perror("rundown_cache_alloc");
		exit(2);
	}
	return c;
}

/* Frees the block of variant b. */
static void
cache_teardown(void *p)
{
	rundown_cache_free(p);
}

/* One pair on the cache-aware block: two calls into the library. */
static inline __attribute__((always_inline)) bool
pair_cache(void *p)
{
	if (!rundown_cache_acquire(p))
		return false;
	rundown_cache_release(p);
	return true;
}

static BENCH_LOOP(loop_cache, pair_cache)

/* Wrappers that give variant b's run-down calls one signature. */
static bool
cache_acquire(void *p)
{
	return rundown_cache_acquire(p);
}

/* Releases one protection on the block. */
static void
cache_release(void *p)
{
	rundown_cache_release(p);
}

/* Waits for the block's run-down. */
static int
cache_wait(void *p)
{
	return rundown_cache_wait(p);
}

/* The block's state, RUNDOWN_OPEN if the query fails. */
static enum rundown_state
cache_query_state(void *p)
{
	struct rundown_status st;

	if (rundown_cache_query(p, &st) != 0)
		return RUNDOWN_OPEN;
	return st.state;
}

/* Completes and re-opens the block for the next round. */
static int
cache_reset(void *p)
{
	int error;

	if ((error = rundown_cache_completed(p)) != 0)
		return error;
	return rundown_cache_reinit(p);
}

static const struct wake_ops cache_wake = {
	cache_acquire, cache_release, cache_wait, cache_query_state, cache_reset
};

/* (c) One plain reference, alone on its line. */
struct ref_line {
	rundown_ref_t	 ref;
} __attribute__((aligned(BLOCK_LINE)));

/* Allocates the reference of variant c. */
static void *
ref_setup(void)
{
	struct ref_line *l = bench_alloc(sizeof *l);

	rundown_init(&l->ref);
	return &l->ref;
}

/* One pair on the plain reference. */
static inline __attribute__((always_inline)) bool
pair_ref(void *p)
{
	if (!rundown_acquire(p))
		return false;
	rundown_release(p);
	return true;
}

static BENCH_LOOP(loop_ref, pair_ref)

/* Wrappers that give variant c's run-down calls one signature. */
static bool
ref_acquire(void *p)
{
	return rundown_acquire(p);
}

/* Releases one protection on the reference. */
static void
ref_release(void *p)
{
	rundown_release(p);
}

/* Waits for the reference's run-down. */
static int
ref_wait(void *p)
{
	return rundown_wait(p);
}

/* The reference's state, RUNDOWN_OPEN if the query fails. */
static enum rundown_state
ref_state(void *p)
{
	struct rundown_status st;

	if (rundown_query(p, &st) != 0)
		return RUNDOWN_OPEN;
	return st.state;
}

/* Completes and re-opens the reference for the next round. */
static int
ref_reset(void *p)
{
	int error;

	if ((error = rundown_completed(p)) != 0)
		return error;
	return rundown_reinit(p);
}

static const struct wake_ops ref_wake = {
	ref_acquire, ref_release, ref_wait, ref_state, ref_reset
};

/* (d) One reader-writer lock, alone on its line. */
struct rwlock_line {
	pthread_rwlock_t lock;
} __attribute__((aligned(BLOCK_LINE)));

/* Initializes the lock of variant d. */
static void *
rwlock_setup(void)
{
	struct rwlock_line *l = bench_alloc(sizeof *l);

	if (pthread_rwlock_init(&l->lock, NULL) != 0) {
		perror("pthread_rwlock_init");
		exit(2);
	}
	return &l->lock;
}

/* Destroys the lock of variant d. */
static void
rwlock_teardown(void *p)
{
	pthread_rwlock_destroy(p);
	free(p);
}

/* One read lock and unlock. */
static inline __attribute__((always_inline)) bool
pair_rwlock(void *p)
{
	if (pthread_rwlock_rdlock(p) != 0)
		return false;
	pthread_rwlock_unlock(p);
	return true;
}

static BENCH_LOOP(loop_rwlock, pair_rwlock)

static const struct op ops[] = {
	{ 'r', "rseq add", percpu_setup, loop_rseq_add, free, NULL },
	{ 'a', "lock cmpxchg", percpu_setup, loop_lock_cmpxchg, free, NULL },
	{ 'i', "inline", cache_setup, bench_loop_inline, cache_teardown,
	    NULL },
	{ 'b', "cache-aware", cache_setup, loop_cache, cache_teardown,
	    &cache_wake },
	{ 'c', "plain ref", ref_setup, loop_ref, free, &ref_wake },
	{ 'd', "rwlock read", rwlock_setup, loop_rwlock, rwlock_teardown,
	    NULL },
};
#define NOPS (sizeof ops / sizeof ops[0])

/* ---- the thread harness -------------------------------------------------- */

/* A worker: waits for the others, then runs pairs until told to stop. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;

	if (r->pin && !bench_pin_nth(w->index))
		w->unpinned = true;
	if (opt_callgrind != 0)
		(void)bench_rseq_pretend();
	pthread_barrier_wait(&r->barrier);
	r->op->loop(&w->count, r->obj, r->count, &r->stop);
	return NULL;
}

/*
 * Runs op on nthreads threads for opt_ms milliseconds, or count pairs per
 * thread when count is not 0.  The CPU time per pair does not count time a
 * thread spent preempted (by its siblings when oversubscribed, or by other
 * load), so it is the cost of the pair itself; the throughput is all the
 * pairs over the wall time from the first thread's start to the last one's
 * end.
 */
static struct bench_sample
run_once(const struct op *op, unsigned nthreads, uint64_t count)
{
	static struct worker w[BENCH_MAX_THREADS];
	struct bench_count total = BENCH_TOTAL_INIT;
	struct run r;
	unsigned i;

	memset(&r, 0, sizeof r);
	r.op = op;
	r.obj = op->setup();
	r.count = count;
	r.pin = opt_pin;
	pthread_barrier_init(&r.barrier, NULL, nthreads + 1);
	for (i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].run = &r;
		w[i].index = i;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			perror("pthread_create");
			exit(2);
		}
	}
	pthread_barrier_wait(&r.barrier);
	if (count == 0) {
		/* Timing, not synchronisation: the threads stop on the flag. */
		bench_pause_ms(opt_ms);
		__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].count.refused) {
			fprintf(stderr, "bench_rundown: %s: an acquire was "
			    "refused on an open object\n", op->name);
			exit(2);
		}
		if (w[i].unpinned && i == 0)
			fprintf(stderr, "bench_rundown: cannot pin threads\n");
		bench_total_add(&total, &w[i].count);
	}
	pthread_barrier_destroy(&r.barrier);
	op->teardown(r.obj);
	return bench_sample_of(&total);
}

/* ---- wake latency -------------------------------------------------------- */

/* What the holder and the waiter of the wake-latency rounds share. */
struct wake {
	const struct wake_ops *ops;
	void		*obj;
	unsigned	 rounds;
	pid_t		 tid;		/* the waiter's thread id */
	int		 returned;	/* atomic: wait has returned this round */
	int		 error;
	uint64_t	 woke;		/* when the wait returned */
	unsigned	 woke_cpu;	/* where the waiter ran then */
	pthread_barrier_t barrier;
};

/* The waiter: each round, starts run-down and blocks until it drains. */
static void *
waiter_main(void *arg)
{
	struct wake *k = arg;
	unsigned i;
	int error;

	k->tid = (pid_t)syscall(SYS_gettid);
	if (opt_pin)
		bench_pin_nth(1);
	for (i = 0; i < k->rounds; i++) {
		pthread_barrier_wait(&k->barrier);		/* start */
		error = k->ops->wait(k->obj);
		k->woke = bench_clock_ns(CLOCK_MONOTONIC);
		k->woke_cpu = bench_cpu();
		__atomic_store_n(&k->returned, 1, __ATOMIC_RELEASE);
		if (error != 0)
			k->error = error;
		pthread_barrier_wait(&k->barrier);		/* end */
	}
	return NULL;
}

/*
 * Times rounds of: the holder (this thread) holds one protection; the
 * waiter starts run-down and blocks; once the state says running-down and
 * the waiter sleeps, the holder stamps the time and releases; the waiter
 * stamps the time as its wait returns.  Fills lat (microseconds), counts
 * in *awake the rounds where the waiter was not seen asleep and in *same
 * those where it woke on the CPU the holder released on (no cross-CPU
 * wake-up); with -p the two are pinned to different CPUs.
 */
static void
wake_measure(const struct op *op, double *lat, unsigned rounds,
    unsigned *awake, unsigned *same)
{
	struct wake k;
	cpu_set_t saved;
	pthread_t t;
	uint64_t t0;
	unsigned i, cpu;

	memset(&k, 0, sizeof k);
	k.ops = op->wake;
	k.obj = op->setup();
	k.rounds = rounds;
	*awake = *same = 0;
	pthread_barrier_init(&k.barrier, NULL, 2);
	/* Created before this thread pins itself, so that it inherits (and
	 * picks its CPU from) the whole allowed set. */
	if (pthread_create(&t, NULL, waiter_main, &k) != 0) {
		perror("pthread_create");
		exit(2);
	}
	pthread_getaffinity_np(pthread_self(), sizeof saved, &saved);
	if (opt_pin)
		bench_pin_nth(0);
	for (i = 0; i < rounds; i++) {
		if (!k.ops->acquire(k.obj)) {
			k.error = -EINVAL;
			break;
		}
		__atomic_store_n(&k.returned, 0, __ATOMIC_RELAXED);
		pthread_barrier_wait(&k.barrier);		/* start */
		while (k.ops->state(k.obj) != RUNDOWN_RUNNING_DOWN)
			sched_yield();
		/* Started; now wait until it sleeps (bounded, /proc may lie). */
		if (!bench_wait_asleep(k.tid))
			(*awake)++;
		if (__atomic_load_n(&k.returned, __ATOMIC_ACQUIRE)) {
			fprintf(stderr, "bench_rundown: %s: the wait returned "
			    "while a protection was held\n", op->name);
			exit(2);
		}
		cpu = bench_cpu();
		t0 = bench_clock_ns(CLOCK_MONOTONIC);
		k.ops->release(k.obj);
		pthread_barrier_wait(&k.barrier);		/* end */
		lat[i] = (double)(k.woke - t0) / 1e3;
		if (k.woke_cpu == cpu)
			(*same)++;
		if (k.error == 0)
			k.error = k.ops->reset(k.obj);
		if (k.error != 0)
			break;
	}
	if (i < rounds) {
		fprintf(stderr, "bench_rundown: %s: round %u: %s\n", op->name,
		    i, rundown_strerror(k.error));
		exit(2);
	}
	pthread_join(t, NULL);
	pthread_barrier_destroy(&k.barrier);
	pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
	op->teardown(k.obj);
}

/* ---- the report ---------------------------------------------------------- */

/* Prints the machine facts and the settings. */
static void
print_header(void)
{
	char model[128];
	const char *getcpu = "sched_getcpu()";
	rundown_cache_t *ref;

#ifdef HAVE_RSEQ_AREA
	if (__rseq_size != 0)
		getcpu = "a load from the rseq area";
#endif
	bench_cpu_model(model, sizeof model);
	printf("bench_rundown: librundown %s, BLOCK_LINE %u, "
	    "rundown_cache_size() %zu bytes\n", rundown_version_string(),
	    BLOCK_LINE, rundown_cache_size());
	printf("machine: %ld CPUs online (%u configured), %s; "
	    "current CPU by %s\n", sysconf(_SC_NPROCESSORS_ONLN), ncpus_conf,
	    model, getcpu);
	bench_print_method(opt_reps, opt_ms, "threads", opt_pin, opt_threads,
	    opt_nthreads);
	printf("\n");
	/* Which fast path variant b takes here, and variant r's floor. */
	ref = cache_setup();
	printf("cache-aware fast path: %s; heap block's fence: %s; "
	    "rseq floor (r): %s\n\n", ref->fast.rcpus != 0 &&
	    bench_rseq_ok() ? "rseq add" : "lock cmpxchg (atomic path)",
	    start_fence_name(ref->bflags), rseq_ok ? "runs" : rseq_why());
	cache_teardown(ref);
}

/* The index of variant key in ops[], or -1 if not selected. */
static int
op_index(char key)
{
	size_t i;

	if (strchr(opt_ops, key) == NULL)
		return -1;
	for (i = 0; i < NOPS; i++) {
		if (ops[i].key == key)
			return (int)i;
	}
	return -1;
}

/*
 * Prints a ratio line: the value per thread count, then the target (at the
 * thread count of index target_t, or none if target is 0).
 */
static void
print_ratio(const char *label, double v[], int target_t, double target,
    bool at_most)
{
	unsigned i;
	bool ok;

	printf("  %-34s", label);
	for (i = 0; i < opt_nthreads; i++)
		printf(" %7.2f", v[i]);
	if (target == 0)
		printf("\n");
	else if (target_t < 0)
		printf("   (target is at 2 thr: not run)\n");
	else {
		ok = at_most ? v[target_t] <= target : v[target_t] >= target;
		printf("   target %s %.2f at %u thr: %s\n", at_most ? "<=" : ">=",
		    target, opt_threads[target_t], ok ? "PASS" : "MISS");
	}
}

/* True if variant o runs here: selected, and r only where rseq is. */
static bool
op_runs(unsigned o)
{
	return op_index(ops[o].key) >= 0 && (ops[o].key != 'r' || rseq_ok);
}

/* Ratios b/x of ns per pair for each thread count; NAN where x did not
 * run. */
static void
ratio_ns(double *ratio, double ns[][BENCH_MAX_COUNTS], int b, int x)
{
	unsigned t;

	for (t = 0; t < opt_nthreads; t++)
		ratio[t] = op_runs((unsigned)x) ? ns[b][t] / ns[x][t] : NAN;
}

/* Prints the ratio of ns per pair n/d per thread count (NAN where d did
 * not run), judged against target at every count; nothing unless both
 * were selected. */
static void
ns_ratio_line(double ns[][BENCH_MAX_COUNTS], char n, char d,
    const char *label, double target)
{
	double ratio[BENCH_MAX_COUNTS];
	int x = op_index(n), y = op_index(d);

	if (x < 0 || y < 0)
		return;
	ratio_ns(ratio, ns, x, y);
	bench_print_ratio(label, ratio, opt_threads, opt_nthreads, 7, "thr",
	    target, true, 1);
}

/* Prints the ratios of the medians: the library over the floors, the
 * block against the plain reference and the read lock (t2: the index of
 * 2 threads, or -1), and what the floors achieve against those. */
static void
print_ratios(double ns[][BENCH_MAX_COUNTS], double mops[][BENCH_MAX_COUNTS],
    int t2)
{
	double ratio[BENCH_MAX_COUNTS];
	int r = op_index('r'), a = op_index('a'), b = op_index('b');
	int c = op_index('c'), d = op_index('d');
	unsigned t, o;

	if (b < 0 && op_index('i') < 0)
		return;
	printf("\nratios of the medians, per thread count:\n  %-34s", "");
	for (t = 0; t < opt_nthreads; t++)
		printf(" %3u thr", opt_threads[t]);
	printf("\n");
	/* What the library costs over the floors, inline and through the
	 * calls, at every count. */
	ns_ratio_line(ns, 'i', 'r', "i/r ns per pair (lower is better)", 1.5);
	ns_ratio_line(ns, 'b', 'r', "b/r ns per pair (lower is better)", 3.0);
	ns_ratio_line(ns, 'b', 'a', "b/a ns per pair (lower is better)", 0.4);
	if (b < 0)
		return;
	if (c >= 0) {
		for (t = 0; t < opt_nthreads; t++)
			ratio[t] = mops[b][t] / mops[c][t];
		print_ratio("c/b Mops b / Mops c (x faster)", ratio, t2, 3.0,
		    false);
	}
	if (d >= 0) {
		for (t = 0; t < opt_nthreads; t++)
			ratio[t] = mops[b][t] / mops[d][t];
		print_ratio("d/b Mops b / Mops d (x faster)", ratio, t2, 3.0,
		    false);
	}
	/* What the floors achieve over c and d on this machine: no design
	 * of per-CPU counters of that kind can beat these ratios. */
	for (o = 0; o < 4; o++) {
		int x = o < 2 ? r : a, y = o % 2 == 0 ? c : d;
		char label[64];

		if (x < 0 || y < 0 || !op_runs((unsigned)x))
			continue;
		for (t = 0; t < opt_nthreads; t++)
			ratio[t] = mops[x][t] / mops[y][t];
		snprintf(label, sizeof label, "  limit: Mops %c / Mops %c",
		    ops[x].key, ops[y].key);
		print_ratio(label, ratio, -1, 0, false);
	}
}

/* Runs the timed measurement and prints the table and the ratios. */
static void
throughput(void)
{
	double ns[NOPS][BENCH_MAX_COUNTS], mops[NOPS][BENCH_MAX_COUNTS];
	double vns[NOPS][64], vmops[NOPS][64];
	struct bench_sample s;
	struct bench_spread sn, sm;
	unsigned t, rep, o;
	int t2 = -1;

	bench_print_table_head("thread", "thr");
	for (t = 0; t < opt_nthreads; t++) {
		for (rep = 0; rep < opt_reps; rep++) {
			for (o = 0; o < NOPS; o++) {
				if (!op_runs(o))
					continue;
				s = run_once(&ops[o], opt_threads[t], 0);
				vns[o][rep] = s.ns;
				vmops[o][rep] = s.mops;
			}
		}
		for (o = 0; o < NOPS; o++) {
			if (op_index(ops[o].key) < 0)
				continue;
			if (!op_runs(o)) {
				bench_print_table_na(ops[o].key, ops[o].name,
				    opt_threads[t], rseq_why());
				continue;
			}
			sn = bench_spread_of(vns[o], opt_reps);
			sm = bench_spread_of(vmops[o], opt_reps);
			ns[o][t] = sn.med;
			mops[o][t] = sm.med;
			bench_print_table_row(ops[o].key, ops[o].name,
			    opt_threads[t], &sn, &sm, "");
		}
		if (opt_threads[t] == 2)
			t2 = (int)t;
		fflush(stdout);
	}

	print_ratios(ns, mops, t2);
}

/* Measures and prints the wake latency of the variants that run down. */
static void
wake_latency(void)
{
	double *lat;
	unsigned o, awake, same;

	if ((lat = calloc(opt_wake, sizeof *lat)) == NULL) {
		perror("calloc");
		exit(2);
	}
	printf("\nwake latency (last release -> wait returns), %u rounds:\n",
	    opt_wake);
	for (o = 0; o < NOPS; o++) {
		if (ops[o].wake == NULL || op_index(ops[o].key) < 0)
			continue;
		wake_measure(&ops[o], lat, opt_wake, &awake, &same);
		qsort(lat, opt_wake, sizeof *lat, bench_cmp_double);
		printf("%c %-13s median %7.1f us  p99 %7.1f us  max %7.1f us  "
		    "same CPU %3u%%", ops[o].key, ops[o].name,
		    bench_rank(lat, opt_wake, 0.5),
		    bench_rank(lat, opt_wake, 0.99),
		    lat[opt_wake - 1], same * 100 / opt_wake);
		if (awake != 0)
			printf("  (%u rounds: waiter not seen asleep)", awake);
		printf("\n");
	}
	free(lat);
}

/* ---- run-down start cost ----------------------------------------------- */

#define START_BATCH 64		/* pairs between two reports of progress */

/* A thread that runs pairs on the block while the main thread starts
 * run-downs: refused acquires (the block is running down) are retried. */
struct hammer {
	pthread_t	 thread;
	rundown_cache_t	*ref;
	unsigned	 index;
	const int	*stop;
	uint64_t	 pairs;		/* atomic: pairs made, per batch */
} __attribute__((aligned(BLOCK_LINE)));

/* Runs pairs until told to stop, publishing the count after each batch. */
static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	uint64_t n = 0;
	unsigned i;

	if (opt_pin)
		bench_pin_nth(h->index);
	while (!__atomic_load_n(h->stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < START_BATCH; i++) {
			if (rundown_cache_acquire(h->ref)) {
				rundown_cache_release(h->ref);
				n++;
			}
		}
		__atomic_store_n(&h->pairs, n, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* The two kinds of private block, which fence differently. */
enum { START_HEAP, START_BUFFER, START_KINDS };

/* One kind's samples at one thread count, microseconds. */
struct start_samples {
	double		*total, *flip, *fence, *harvest;
	unsigned	 n;
};

/* A block of kind k: from rundown_cache_alloc (membarrier's fence), or
 * rundown_cache_init in a MAP_SHARED buffer of ours (which other processes
 * could use: the run-down walks the CPUs).  A caller's buffer in private
 * memory fences as the heap block does. */
static rundown_cache_t *
start_block(int k)
{
	rundown_cache_t *ref;
	size_t size = rundown_cache_size();
	int r;

	if (k == START_HEAP) {
		if ((ref = rundown_cache_alloc(BENCH_TAG)) == NULL) {
			perror("rundown_cache_alloc");
			exit(2);
		}
		return ref;
	}
	ref = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ref == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	if ((r = rundown_cache_init(ref, size)) != 0) {
		fprintf(stderr, "bench_rundown: rundown_cache_init: %s\n",
		    rundown_strerror(r));
		exit(2);
	}
	return ref;
}

/* Frees a block of start_block(). */
static void
start_block_free(int k, rundown_cache_t *ref)
{
	if (k == START_HEAP)
		rundown_cache_free(ref);
	else
		munmap(ref, rundown_cache_size());
}

/* Microseconds between two CLOCK_MONOTONIC stamps. */
static double
start_us(uint64_t from, uint64_t to)
{
	return (double)(to - from) / 1e3;
}

/*
 * Runs rounds run-down starts of a block of kind k while nthreads threads
 * run pairs on it, and appends the times to out.  Each round waits until
 * every thread has made pairs since the last re-initialize (observed, not
 * slept for), then times block_start()'s steps, taken one by one as
 * block_start() takes them, then waits for the drain and re-initializes.
 */
static void
start_chunk(int k, unsigned nthreads, unsigned rounds,
    struct start_samples *out, uint32_t *bflags)
{
	static struct hammer h[BENCH_MAX_THREADS];
	static uint64_t seen[BENCH_MAX_THREADS];
	struct block_layout l;
	struct rundown_block *b;
	rundown_cache_t *ref;
	uint64_t t0, t1, t2, t3, t4;
	uint32_t s, row;
	unsigned i, round;
	int stop = 0, error;

	ref = start_block(k);
	cache_layout(ref, &l);
	b = cache_block(ref);
	*bflags = l.flags;
	for (i = 0; i < nthreads; i++) {
		memset(&h[i], 0, sizeof h[i]);
		h[i].ref = ref;
		h[i].index = i;
		h[i].stop = &stop;
		if (pthread_create(&h[i].thread, NULL, hammer_main, &h[i]) != 0) {
			perror("pthread_create");
			exit(2);
		}
	}
	for (i = 0; i < nthreads; i++)
		seen[i] = 0;
	for (round = 0; round < rounds; round++) {
		/* Every thread is at it again since the re-initialize. */
		for (i = 0; i < nthreads; i++) {
			while (__atomic_load_n(&h[i].pairs, __ATOMIC_RELAXED) <=
			    seen[i])
				sched_yield();
		}
		t0 = bench_clock_ns(CLOCK_MONOTONIC);
		if (block_flip(b, &s) != 0) {
			fprintf(stderr, "bench_rundown: start: the block "
			    "was not open\n");
			exit(2);
		}
		t1 = bench_clock_ns(CLOCK_MONOTONIC);
		block_fence(&l);
		t2 = bench_clock_ns(CLOCK_MONOTONIC);
		for (row = 0; row < l.rows; row++)
			block_harvest_row(b, &l, row);
		t3 = bench_clock_ns(CLOCK_MONOTONIC);
		block_check_drained(b, &l, s);
		t4 = bench_clock_ns(CLOCK_MONOTONIC);
		out->total[out->n] = start_us(t0, t4);
		out->flip[out->n] = start_us(t0, t1);
		out->fence[out->n] = start_us(t1, t2);
		out->harvest[out->n] = start_us(t2, t3);
		out->n++;
		if ((error = rundown_cache_wait(ref)) != 0 ||
		    (error = rundown_cache_completed(ref)) != 0 ||
		    (error = rundown_cache_reinit(ref)) != 0) {
			fprintf(stderr, "bench_rundown: start round %u: %s\n",
			    round, rundown_strerror(error));
			exit(2);
		}
		for (i = 0; i < nthreads; i++)
			seen[i] = __atomic_load_n(&h[i].pairs,
			    __ATOMIC_RELAXED);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nthreads; i++)
		pthread_join(h[i].thread, NULL);
	start_block_free(k, ref);
}

/* Allocates room for n samples of each step. */
static void
start_samples_alloc(struct start_samples *s, unsigned n)
{
	s->total = calloc(n, sizeof(double));
	s->flip = calloc(n, sizeof(double));
	s->fence = calloc(n, sizeof(double));
	s->harvest = calloc(n, sizeof(double));
	if (s->total == NULL || s->flip == NULL || s->fence == NULL ||
	    s->harvest == NULL) {
		perror("calloc");
		exit(2);
	}
	s->n = 0;
}

/* Frees what start_samples_alloc() allocated. */
static void
start_samples_free(struct start_samples *s)
{
	free(s->total);
	free(s->flip);
	free(s->fence);
	free(s->harvest);
}

/*
 * Measures and prints the run-down start cost of a heap block and a
 * block in a MAP_SHARED buffer, idle and with each count of hammering threads.
 * The opt_start rounds of a configuration are taken in opt_reps chunks,
 * the two kinds' chunks interleaved, so that noise hits both alike.
 */
static void
start_cost(void)
{
	static const char *kname[START_KINDS] = { "heap", "shared buffer" };
	struct start_samples s[START_KINDS];
	unsigned counts[BENCH_MAX_COUNTS + 1], ncounts = 0, t, rep, chunk;
	uint32_t bflags[START_KINDS] = { 0, 0 };
	int k;

	counts[ncounts++] = 0;
	for (t = 0; t < opt_nthreads; t++)
		counts[ncounts++] = opt_threads[t];
	for (k = 0; k < START_KINDS; k++)
		start_samples_alloc(&s[k], opt_start);
	printf("\nrun-down start cost (block_flip + block_fence + harvest, "
	    "as block_start), %u rounds, microseconds:\n", opt_start);
	printf("%-15s %-22s %4s  %8s %8s  %8s %8s  %8s %8s\n", "block",
	    "fence", "thr", "start", "p99", "fence", "p99", "flip",
	    "harvest");
	for (t = 0; t < ncounts; t++) {
		for (k = 0; k < START_KINDS; k++)
			s[k].n = 0;
		for (rep = 0; rep < opt_reps; rep++) {
			chunk = (rep + 1) * opt_start / opt_reps -
			    rep * opt_start / opt_reps;
			for (k = 0; k < START_KINDS && chunk != 0; k++)
				start_chunk(k, counts[t], chunk, &s[k],
				    &bflags[k]);
		}
		for (k = 0; k < START_KINDS; k++) {
			qsort(s[k].total, s[k].n, sizeof(double),
			    bench_cmp_double);
			qsort(s[k].fence, s[k].n, sizeof(double),
			    bench_cmp_double);
			qsort(s[k].flip, s[k].n, sizeof(double),
			    bench_cmp_double);
			qsort(s[k].harvest, s[k].n, sizeof(double),
			    bench_cmp_double);
			printf("%-15s %-22s %4u  %8.2f %8.2f  %8.2f %8.2f  "
			    "%8.2f %8.2f%s\n", kname[k],
			    start_fence_name(bflags[k]), counts[t],
			    bench_rank(s[k].total, s[k].n, 0.5),
			    bench_rank(s[k].total, s[k].n, 0.99),
			    bench_rank(s[k].fence, s[k].n, 0.5),
			    bench_rank(s[k].fence, s[k].n, 0.99),
			    bench_rank(s[k].flip, s[k].n, 0.5),
			    bench_rank(s[k].harvest, s[k].n, 0.5),
			    counts[t] == 0 ? "  (idle)" : "");
		}
		fflush(stdout);
	}
	for (k = 0; k < START_KINDS; k++)
		start_samples_free(&s[k]);
}

/* Callgrind mode: exactly n pairs of each variant, one thread, no timing. */
static void
callgrind(unsigned long n)
{
	size_t o;

	for (o = 0; o < NOPS; o++) {
		if (op_index(ops[o].key) < 0)
			continue;
		if (!op_runs(o)) {
			/* Under valgrind glibc registers no rseq area. */
			printf("%c %-13s n/a: %s\n", ops[o].key, ops[o].name,
			    rseq_why());
			continue;
		}
		run_once(&ops[o], 1, n);
		if (!opt_quiet)
			printf("%c %-13s %lu pairs\n", ops[o].key, ops[o].name,
			    n);
	}
	if (!opt_quiet)
		printf("instructions per pair: inclusive Ir of *loop_* / %lu\n",
		    n);
}

/* ---- options ----------------------------------------------------------- */

/* Prints the usage and exits with status. */
static __attribute__((noreturn)) void
usage(int status)
{
	FILE *f = status ? stderr : stdout;

	fprintf(f,
"usage: bench_rundown [-hpq] [-c pairs] [-o variants] [-r reps] [-s rounds]\n"
"                     [-T threads] [-t ms] [-w rounds]\n"
"  -t MS      duration of one repetition (default 200)\n"
"  -r N       repetitions per configuration; medians are reported (default 7)\n"
"  -T LIST    thread counts, comma-separated (default 1,2,4)\n"
"  -p         pin thread i to the i-th allowed CPU (mod their count); the\n"
"             wake-latency holder and waiter to two different CPUs\n"
"  -w N       wake-latency rounds per variant (default 1000; 0: skip)\n"
"  -s N       run-down start rounds per configuration (default 200; 0: skip)\n"
"  -o KEYS    variants to run, of raibcd (default raibcd): r rseq add and\n"
"             a lock cmpxchg (the floors, inline in the loop), i cache-aware\n"
"             inline (RUNDOWN_INLINE), b cache-aware (calls), c plain ref,\n"
"             d rwlock read\n"
"  -q         print the results only\n"
"  -c N       callgrind mode: exactly N pairs of each variant on one thread,\n"
"             no timing; e.g.\n"
"               valgrind --tool=callgrind --toggle-collect='*loop_*' \\\n"
"                   bench/bench_rundown -c 100000\n"
"               callgrind_annotate --inclusive=yes callgrind.out.<pid>\n"
"             and divide each loop's Ir by N (with -o and one variant,\n"
"             callgrind's \"Collected\" total / N is the figure); a thread\n"
"             with no rseq area (valgrind's) is given CPU 0 by hand\n"
"  -h         this help\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	long conf;
	int ch;

	bench_init("bench_rundown", usage);
	while ((ch = getopt(argc, argv, "c:ho:pqr:s:T:t:w:")) != -1) {
		switch (ch) {
		case 'c':
			opt_callgrind = bench_number(optarg, 1, ULONG_MAX);
			break;
		case 'h':
			usage(0);
		case 'o':
			if (optarg[0] == '\0' ||
			    optarg[strspn(optarg, "raibcd")] != '\0')
				usage(1);
			opt_ops = optarg;
			break;
		case 'p':
			opt_pin = true;
			break;
		case 'q':
			opt_quiet = true;
			break;
		case 'r':
			opt_reps = (unsigned)bench_number(optarg, 1, 64);
			break;
		case 's':
			opt_start = (unsigned)bench_number(optarg, 0, 10000000);
			break;
		case 'T':
			bench_count_list(optarg, opt_threads, &opt_nthreads,
			    BENCH_MAX_THREADS);
			break;
		case 't':
			opt_ms = (long)bench_number(optarg, 1, 3600000);
			break;
		case 'w':
			opt_wake = (unsigned)bench_number(optarg, 0, 10000000);
			break;
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);

	conf = sysconf(_SC_NPROCESSORS_CONF);
	ncpus_conf = conf < 1 ? 1 : (unsigned)conf;
	/* Callgrind mode gives its workers an rseq area by hand (never this
	 * thread: glibc's threads inherit its area's state). */
	rseq_ok = opt_callgrind != 0 ? RUNDOWN_RSEQ_CS : bench_rseq_ok();

	if (opt_callgrind != 0) {
		callgrind(opt_callgrind);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!opt_quiet)
		print_header();
	throughput();
	if (opt_wake != 0)
		wake_latency();
	if (opt_start != 0)
		start_cost();
	return 0;
}
