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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

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

/* Runs count pairs, or batches of pairs until *stop is set if count is 0,
 * and fills c with the wall and CPU time they took. */
void bench_pairs(struct bench_count *c, bool (*pair)(void *), void *obj,
    uint64_t count, const int *stop);

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

#endif /* RUNDOWN_BENCHUTIL_H */
