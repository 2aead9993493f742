/*
 * benchutil.h: what bench_rundown and bench_shared share.
 *
 * The timed loop of one worker and the figures made of it (CPU time per
 * pair, aggregate throughput, medians and ranges), the clocks, pinning,
 * the machine facts for the header, the layout of the throughput table,
 * and the parsing of numeric options.  Each program keeps its own variants
 * and harness (threads or processes) around these.
 */
#ifndef RUNDOWN_BENCHUTIL_H
#define RUNDOWN_BENCHUTIL_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef HAVE_RSEQ_AREA
#include <sys/rseq.h>
#endif

#include "block.h"		/* BLOCK_LINE, ST_MASK */
#include "rseq.h"		/* rundown_rseq_add, RUNDOWN_RSEQ_CS */

#define BENCH_MAX_COUNTS 16	/* entries in a list of counts (-T, -C) */
#define BENCH_BATCH 256		/* pairs between two looks at the stop flag */

/* What one worker counted in one run. */
struct bench_count {
	uint64_t	 pairs;
	uint64_t	 cpu_ns;	/* the worker thread's CPU time */
	uint64_t	 start, end;	/* CLOCK_MONOTONIC */
	bool		 refused;	/* an acquire was refused */
};

/* The total of a run before the first bench_total_add. */
#define BENCH_TOTAL_INIT { 0, 0, UINT64_MAX, 0, false }

/* What one repetition of one configuration measured. */
struct bench_sample {
	double		 ns;		/* CPU nanoseconds per pair */
	double		 mops;		/* aggregate pairs per microsecond */
};

/* A median and its range. */
struct bench_spread {
	double		 med, min, max;
};

/*
 * The floors: one counter per CPU, each alone on its line, in rows of
 * cpus lines (a row per process, as in a shared block), after a line
 * whose first word is a state word that stays 0.  A worker's descriptor
 * says where its row is; like the library's, it is written once and then
 * only read.
 */
struct bench_percpu {
	const uint32_t	*state;		/* the rseq floor checks it: always 0 */
	char		*base;		/* the row's CPU 0 word */
	uint32_t	 cpus;		/* lines per row */
	uint32_t	 shift;		/* log2 of the bytes between them */
} __attribute__((aligned(BLOCK_LINE)));

/* Bytes for rows x cpus lines and the state line. */
size_t bench_percpu_size(unsigned rows, unsigned cpus);

/* Points d at row of the zeroed memory mem (bench_percpu_size() bytes,
 * line-aligned). */
void bench_percpu_init(struct bench_percpu *d, void *mem, unsigned row,
    unsigned cpus);

/*
 * The current CPU, found the way the library's atomic path finds it
 * (lib/cache.c): a load from glibc's rseq area where there is one, else
 * sched_getcpu().  The lock cmpxchg floor must not pay more for this than
 * the library does, or it is no floor.
 */
static inline unsigned
bench_cpu(void)
{
	int cpu;

#ifdef HAVE_RSEQ_AREA
	if (__builtin_expect(__rseq_size != 0, 1)) {
		const struct rseq *rs = (const struct rseq *)(void *)
		    ((char *)__builtin_thread_pointer() + __rseq_offset);

		cpu = (int32_t)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
		if (__builtin_expect(cpu >= 0, 1))
			return (unsigned)cpu;
	}
#endif
	cpu = sched_getcpu();
	return cpu < 0 ? 0 : (unsigned)cpu;
}

/* The counter of cpu in d's row; divides only when it must, as the
 * library does. */
static inline uint64_t *
bench_percpu_word(const struct bench_percpu *d, unsigned cpu)
{
	if (cpu >= d->cpus)
		cpu %= d->cpus;
	return (uint64_t *)(void *)(d->base + ((size_t)cpu << d->shift));
}

/*
 * The lock cmpxchg pair: load + lock cmpxchg +2, then load + lock cmpxchg
 * -2 on the current CPU's counter, the library's atomic path without its
 * state bit or descriptor.
 */
static inline __attribute__((always_inline)) void
bench_cmpxchg_pair(const struct bench_percpu *d)
{
	uint64_t *w, v;

	w = bench_percpu_word(d, bench_cpu());
	v = __atomic_load_n(w, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(w, &v, v + 2, 0, __ATOMIC_ACQUIRE,
	    __ATOMIC_RELAXED))
		;
	w = bench_percpu_word(d, bench_cpu());
	v = __atomic_load_n(w, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(w, &v, v - 2, 0, __ATOMIC_RELEASE,
	    __ATOMIC_RELAXED))
		;
}

/* True if this thread can run the rseq floor: the build has the section
 * (rseq.h) and glibc registered an rseq area (not under valgrind). */
bool bench_rseq_ok(void);

/* Callgrind mode only: gives a thread without an rseq area (valgrind's)
 * CPU 0 in it by hand, so that the sections run; see benchutil.c. */
bool bench_rseq_pretend(void);

/*
 * The rseq add pair: rundown_rseq_add(+1) then rundown_rseq_add(-1) on the current
 * CPU's counter while the state word reads 0, each finding the rseq area
 * as the library does.  RUNDOWN_RSEQ_DONE, or what stopped it (no rseq area:
 * RUNDOWN_RSEQ_NOSLOT).
 */
static inline __attribute__((always_inline)) int
bench_rseq_pair(const struct bench_percpu *d)
{
#if RUNDOWN_RSEQ_CS
	int r;

	r = rundown_rseq_add(__rseq_offset, d->state, ST_MASK, d->base, d->shift,
	    d->cpus, 1);
	if (r != RUNDOWN_RSEQ_DONE)
		return r;
	return rundown_rseq_add(__rseq_offset, d->state, ST_MASK, d->base,
	    d->shift, d->cpus, (uint64_t)-1);
#else
	(void)d;
	return RUNDOWN_RSEQ_NOSLOT;
#endif
}

/* Names the program in messages; usage(1) is how a bad option exits. */
void bench_init(const char *name,
    void (*usage)(int) __attribute__((noreturn)));

/* A number in [min, max], or a message and usage(1). */
unsigned long bench_number(const char *s, unsigned long min,
    unsigned long max);

/* Parses a comma-separated list of counts in [1, max] into v[0..*n),
 * at most BENCH_MAX_COUNTS of them, or usage(1). */
void bench_count_list(const char *s, unsigned *v, unsigned *n,
    unsigned max);

/* Nanoseconds on a clock. */
uint64_t bench_clock_ns(clockid_t id);

/* Sleeps ms milliseconds: timing, never synchronisation. */
void bench_pause_ms(long ms);

/* Pins the calling thread to the n-th CPU it may run on (mod their count);
 * false if it cannot. */
bool bench_pin_nth(unsigned n);

/*
 * The timed loop of one worker: runs count pairs, or batches of pairs
 * until *stop is set if count is 0, and fills c with the wall and CPU time
 * they took.  A variant's loop is its own function, made by
 * BENCH_LOOP(name, pair) with pair an always_inline function of the
 * variant: the pair is timed inline in the loop, as a caller's loop would
 * run it (for the floors, nothing but the operation itself; for a library
 * variant, the calls into the library and nothing else), never through a
 * function pointer per pair.
 */
typedef void bench_loop_fn(struct bench_count *c, void *obj, uint64_t count,
    const int *stop);

#define BENCH_LOOP(name, pair)						\
void									\
name(struct bench_count *c, void *obj, uint64_t count, const int *stop)	\
{									\
	uint64_t pairs = 0;						\
	unsigned i;							\
									\
	bench_count_begin(c);						\
	if (count != 0) {						\
		for (; pairs < count; pairs++)				\
			if (!pair(obj))					\
				c->refused = true;			\
	} else {							\
		do {							\
			for (i = 0; i < BENCH_BATCH; i++)		\
				if (!pair(obj))				\
					c->refused = true;		\
			pairs += BENCH_BATCH;				\
		} while (!__atomic_load_n(stop, __ATOMIC_RELAXED));	\
	}								\
	bench_count_end(c, pairs);					\
}

/* The clocks around a loop: begin stamps, end fills c. */
void bench_count_begin(struct bench_count *c);
void bench_count_end(struct bench_count *c, uint64_t pairs);

/*
 * The library's pair inline in the caller (benchinline.c, built with
 * RUNDOWN_INLINE): rundown_cache_acquire + rundown_cache_release on the
 * rundown_cache_t at obj.  Its loop, and what the build inlines.
 */
bench_loop_fn bench_loop_inline;
bool bench_inline_runs(void);

/* Adds one worker's count to a run's total. */
void bench_total_add(struct bench_count *total, const struct bench_count *c);

/* A run's CPU time per pair and its pairs over the wall time from the
 * first worker's start to the last one's end. */
struct bench_sample bench_sample_of(const struct bench_count *total);

/* qsort comparison of doubles. */
int bench_cmp_double(const void *a, const void *b);

/* The value at fraction q (0..1) of n sorted values (nearest rank). */
double bench_rank(const double *v, size_t n, double q);

/* Sorts v (n > 0) and summarises it. */
struct bench_spread bench_spread_of(double *v, size_t n);

/* Polls, boundedly, until thread tid of this process sleeps; false if it
 * was never seen asleep (/proc may lie). */
bool bench_wait_asleep(pid_t tid);

/* The first "model name" of /proc/cpuinfo, or "unknown". */
void bench_cpu_model(char *buf, size_t size);

/* Prints ",N" for each count, the first with a space instead. */
void bench_print_counts(const unsigned *v, unsigned n);

/* Prints the "method:" line up to the list of unit counts, without the
 * newline, so that the caller can add to it. */
void bench_print_method(unsigned reps, long ms, const char *unit, bool pin,
    const unsigned *v, unsigned n);

/* Prints the two heading lines of the throughput table. */
void bench_print_table_head(const char *cpu, const char *unit);

/* Prints one row of the throughput table, note after it. */
void bench_print_table_row(char key, const char *name, unsigned n,
    const struct bench_spread *ns, const struct bench_spread *mops,
    const char *note);

/* Prints a row of the throughput table that has no figures, and why. */
void bench_print_table_na(char key, const char *name, unsigned n,
    const char *why);

/*
 * Prints a ratio line: label, v[i] for each of the n counts in a column of
 * width characters (NAN prints "n/a"), then the target judged at every
 * count of at least from: "target <= 2.50 at 1+ thr: 1 PASS 2 MISS".
 */
void bench_print_ratio(const char *label, const double *v,
    const unsigned *counts, unsigned n, int width, const char *unit,
    double target, bool at_most, unsigned from);

#endif /* RUNDOWN_BENCHUTIL_H */
