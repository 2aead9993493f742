/* benchutil.c: what bench_rundown and bench_shared share. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

#define BENCH_SLEEP_POLLS 100000	/* looks at /proc before giving up */

static const char *bench_name = "bench";
static void (*bench_usage)(int) __attribute__((noreturn)) = exit;

/* Remembers the program's name and usage for the option parsers. */
void
bench_init(const char *name, void (*usage)(int) __attribute__((noreturn)))
{
	bench_name = name;
	bench_usage = usage;
}

/* Parses a decimal number in [min, max]; a bad one ends in usage(1). */
unsigned long
bench_number(const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: bad number: %s\n", bench_name, s);
		bench_usage(1);
	}
	return v;
}

/* Parses "1,2,4"; an empty list or one too long ends in usage(1). */
void
bench_count_list(const char *s, unsigned *v, unsigned *n, unsigned max)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof buf, "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (*n == BENCH_MAX_COUNTS)
			bench_usage(1);
		v[(*n)++] = (unsigned)bench_number(tok, 1, max);
	}
	if (*n == 0)
		bench_usage(1);
}

/* Reads a clock in nanoseconds. */
uint64_t
bench_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms milliseconds, resuming after a signal. */
void
bench_pause_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = ms % 1000 * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Pins the caller so that workers 0, 1, ... take different allowed CPUs. */
bool
bench_pin_nth(unsigned n)
{
	cpu_set_t allowed, one;
	unsigned count, cpu;

	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
		return false;
	if ((count = (unsigned)CPU_COUNT(&allowed)) == 0)
		return false;
	n %= count;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		if (n-- == 0)
			break;
	}
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
}

/* Stamps the start of a worker's loop (BENCH_LOOP): the wall clock, and
 * the thread's CPU clock in cpu_ns until the end replaces it. */
void
bench_count_begin(struct bench_count *c)
{
	c->start = bench_clock_ns(CLOCK_MONOTONIC);
	c->cpu_ns = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* Stamps the end of a worker's loop of pairs pairs. */
void
bench_count_end(struct bench_count *c, uint64_t pairs)
{
	c->cpu_ns = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c->cpu_ns;
	c->end = bench_clock_ns(CLOCK_MONOTONIC);
	c->pairs = pairs;
}

/* Sums pairs and CPU time; keeps the earliest start and the latest end. */
void
bench_total_add(struct bench_count *total, const struct bench_count *c)
{
	total->pairs += c->pairs;
	total->cpu_ns += c->cpu_ns;
	if (c->start < total->start)
		total->start = c->start;
	if (c->end > total->end)
		total->end = c->end;
}

/* Turns a run's total into CPU ns per pair and pairs per microsecond. */
struct bench_sample
bench_sample_of(const struct bench_count *total)
{
	struct bench_sample s;

	s.ns = total->pairs != 0 ?
	    (double)total->cpu_ns / (double)total->pairs : 0;
	s.mops = total->end > total->start ? (double)total->pairs * 1e3 /
	    (double)(total->end - total->start) : 0;
	return s;
}

/* Orders two doubles for qsort. */
int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Picks the nearest-rank value at fraction q of n sorted values. */
double
bench_rank(const double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)n + 0.999999);
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1];
}

/* Sorts v and returns its median, minimum and maximum. */
struct bench_spread
bench_spread_of(double *v, size_t n)
{
	struct bench_spread s;

	qsort(v, n, sizeof *v, bench_cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	/* The true median for an even count too. */
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

/* True if thread tid sleeps (state S in /proc); false if unknown. */
static bool
bench_thread_sleeping(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return false;
	return p[2] == 'S';
}

/* Yields between looks, so that the thread watched can get to sleep. */
bool
bench_wait_asleep(pid_t tid)
{
	long polls;

	for (polls = 0; polls < BENCH_SLEEP_POLLS; polls++) {
		if (bench_thread_sleeping(tid))
			return true;
		sched_yield();
	}
	return false;
}

/* Copies the first "model name" of /proc/cpuinfo, or "unknown", to buf. */
void
bench_cpu_model(char *buf, size_t size)
{
	char line[256], *p;
	FILE *f;

	snprintf(buf, size, "unknown");
	if ((f = fopen("/proc/cpuinfo", "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "model name", 10) != 0 ||
		    (p = strchr(line, ':')) == NULL)
			continue;
		p += strspn(p + 1, " \t") + 1;
		p[strcspn(p, "\n")] = '\0';
		snprintf(buf, size, "%s", p);
		break;
	}
	fclose(f);
}

/* Prints a list of counts as " 1,2,4". */
void
bench_print_counts(const unsigned *v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		printf("%s%u", i ? "," : " ", v[i]);
}

/* Prints how the figures were taken: repetitions, duration, pinning, counts. */
void
bench_print_method(unsigned reps, long ms, const char *unit, bool pin,
    const unsigned *v, unsigned n)
{
	printf("method: %u x %ld ms per configuration, median reported, "
	    "%s %s; %s:", reps, ms, unit, pin ? "pinned" : "not pinned", unit);
	bench_print_counts(v, n);
}

/* Prints the table's headings; cpu says whose CPU time the ns column is. */
void
bench_print_table_head(const char *cpu, const char *unit)
{
	char label[64];

	snprintf(label, sizeof label, "ns per pair (%s CPU)", cpu);
	printf("%-20s  %-26s  %s\n", "", label, "Mops/s (aggregate)");
	printf("%-15s %4s  %8s %8s %8s  %8s %8s %8s\n", "variant", unit,
	    "median", "min", "max", "median", "min", "max");
}

/* Prints a variant's medians and ranges at one count, under the head. */
void
bench_print_table_row(char key, const char *name, unsigned n,
    const struct bench_spread *ns, const struct bench_spread *mops,
    const char *note)
{
	printf("%c %-13s %4u  %8.2f %8.2f %8.2f  %8.2f %8.2f %8.2f%s\n", key,
	    name, n, ns->med, ns->min, ns->max, mops->med, mops->min,
	    mops->max, note);
}

/* Prints a variant's row with its reason instead of figures. */
void
bench_print_table_na(char key, const char *name, unsigned n, const char *why)
{
	printf("%c %-13s %4u  %8s %8s %8s  %8s %8s %8s  (%s)\n", key, name,
	    n, "n/a", "", "", "n/a", "", "", why);
}

/* The state line and rows x cpus lines. */
size_t
bench_percpu_size(unsigned rows, unsigned cpus)
{
	return (1 + (size_t)rows * cpus) * BLOCK_LINE;
}

/* Row row starts after the state line and the rows before it. */
void
bench_percpu_init(struct bench_percpu *d, void *mem, unsigned row,
    unsigned cpus)
{
	d->state = mem;
	d->base = (char *)mem + (1 + (size_t)row * cpus) * BLOCK_LINE;
	d->cpus = cpus;
	d->shift = (uint32_t)__builtin_ctz(BLOCK_LINE);
}

/* Set once bench_rseq_pretend() gave a thread CPU 0 by hand. */
static bool bench_pretended;

/* The section exists and the kernel keeps this thread's CPU in the area
 * (glibc stores a negative cpu_id in an area it could not register). */
bool
bench_rseq_ok(void)
{
#if RUNDOWN_RSEQ_CS
	return (__rseq_size != 0 || bench_pretended) && (int32_t)
	    __atomic_load_n(&rd_rseq_area()->cpu_id, __ATOMIC_RELAXED) >= 0;
#else
	return false;
#endif
}

/*
 * For callgrind only: valgrind does not support rseq, so glibc registered
 * no area and its cpu_id reads negative, which sends every section to its
 * fallback.  Nothing but this thread reads or writes an unregistered area,
 * so storing CPU 0 in it lets the sections run (and commit: no kernel
 * restarts them, and callgrind runs one thread at a time).  True if the
 * area now says CPU 0 or was registered anyway.  Never in a thread that
 * will create others: glibc's new threads register an area if their
 * creator's cpu_id reads valid, and abort when that fails.
 */
bool
bench_rseq_pretend(void)
{
#if RUNDOWN_RSEQ_CS
	struct rseq *rs = rd_rseq_area();

	if (__rseq_size == 0 && (int32_t)rs->cpu_id < 0) {
		rs->cpu_id = 0;
		rs->cpu_id_start = 0;
		bench_pretended = true;
	}
	return bench_rseq_ok();
#else
	return false;
#endif
}

/* Prints the values, then PASS or MISS at each count from "from" on. */
void
bench_print_ratio(const char *label, const double *v, const unsigned *counts,
    unsigned n, int width, const char *unit, double target, bool at_most,
    unsigned from)
{
	unsigned i;
	bool any = false;

	printf("  %-34s", label);
	for (i = 0; i < n; i++) {
		if (isnan(v[i]))
			printf(" %*s", width, "n/a");
		else
			printf(" %*.2f", width, v[i]);
	}
	printf("   target %s %.2f at %u+ %s:", at_most ? "<=" : ">=", target,
	    from, unit);
	for (i = 0; i < n; i++) {
		if (counts[i] < from)
			continue;
		printf(" %u %s", counts[i], isnan(v[i]) ? "n/a" :
		    (at_most ? v[i] <= target : v[i] >= target) ? "PASS" :
		    "MISS");
		any = true;
	}
	printf("%s\n", any ? "" : " not run");
}
