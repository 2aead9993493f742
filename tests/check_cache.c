/* check_cache.c: the cache-aware block (rundown_cache_t) against its
 * contract, driving the internal steps where an interleaving matters. */
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
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "block.h"
#include "cache.h"
#include "fence.h"
#include "rseq.h"
#include "testhook.h"
#include "testutil.h"
#include "testwaiter.h"

/* CPUs of the test block, whatever the machine has. */
#define TEST_CPUS 4u

/* Byte the buffers are filled with to see what was written. */
#define PATTERN 0xa5

/* A large count, as after 2^62 acquires on one CPU released on another. */
#define SLOT_MAX ((uint64_t)(INT64_MAX >> 1))

static void *buf;		/* the fixture's buffer */
static size_t bufsize;
static rundown_cache_t *ref;	/* the block in it */

/* A block laid out for TEST_CPUS CPUs in a malloc'd buffer. */
static void
setup_multi(void)
{
	bufsize = cache_size_cpus(TEST_CPUS);
	buf = malloc(bufsize);
	ck_assert_ptr_nonnull(buf);
	ref = buf;
	ck_assert_int_eq(cache_init_cpus(ref, bufsize, TEST_CPUS, 0), 0);
	ck_assert_uint_eq(cache_block(ref)->cpus, TEST_CPUS);
}

/* A uniprocessor block (one slot) in a malloc'd buffer. */
static void
setup_single(void)
{
	bufsize = cache_size_cpus(1);
	buf = malloc(bufsize);
	ck_assert_ptr_nonnull(buf);
	ref = buf;
	ck_assert_int_eq(cache_init_cpus(ref, bufsize, 1, 0), 0);
	ck_assert_uint_eq(cache_block(ref)->cpus, 1);
}

/* A block for this machine's CPUs, through the public initializer. */
static void
setup_machine(void)
{
	bufsize = rundown_cache_size();
	buf = malloc(bufsize);
	ck_assert_ptr_nonnull(buf);
	ref = buf;
	ck_assert_int_eq(rundown_cache_init(ref, bufsize), 0);
}

static void
teardown(void)
{
	free(buf);
	buf = NULL;
	ref = NULL;
}

/* Asserts what rundown_cache_query() reports. */
static void
expect_state(const rundown_cache_t *r, enum rundown_state state,
    uint64_t outstanding)
{
	struct rundown_status st;
	int rc = rundown_cache_query(r, &st);

	test_expect_status(rc, &st, state, outstanding);
}

/* Spins (yielding) until the block reports state. */
static void
poll_state(const rundown_cache_t *r, enum rundown_state state)
{
	TEST_POLL_STATE(rundown_cache_query, r, state);
}

/* Starts run-down and leaves it in progress (a timed wait runs out). */
static void
start_rundown(rundown_cache_t *r)
{
	struct timespec ts = test_ms(1);

	ck_assert_int_eq(rundown_cache_wait_timeout(r, &ts), -ETIMEDOUT);
}

/* The state word, as the library's threads write it. */
static uint32_t
state_word(struct rundown_block *b)
{
	return rd_load(&b->state, RD_ACQUIRE);
}

/* Asserts that no byte of p[0..n) differs from the pattern. */
static void
expect_pattern(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_msg(c[i] == PATTERN, "byte %zu of %zu written", i, n);
}

/*
 * Asserts that the block at r, initialized in [start, start + size), keeps
 * its slots inside that range, each alone on its cache line.
 */
static void
expect_slots_inside(rundown_cache_t *r, const void *start, size_t size,
    uint32_t cpus)
{
	struct rundown_block *b = cache_block(r);
	const char *lo = start, *hi = lo + size;
	const char *s, *prev = NULL;
	uint32_t cpu;

	ck_assert_uint_eq(b->cpus, cpus);
	ck_assert_uint_eq(b->rows, 1);
	ck_assert((const char *)b >= lo && (const char *)(b + 1) <= hi);
	for (cpu = 0; cpu < cpus; cpu++) {
		s = (const char *)block_slot(b, 0, cpu);
		ck_assert_msg(s >= lo && s + sizeof(uint64_t) <= hi,
		    "slot %u outside the buffer", cpu);
		ck_assert_uint_eq((uintptr_t)s % sizeof(uint64_t), 0);
		if (cpus > 1) {
			ck_assert_uint_eq((uintptr_t)s % BLOCK_LINE, 0);
			if (prev != NULL)
				ck_assert_uint_eq(s - prev, BLOCK_LINE);
		}
		prev = s;
	}
}

/* Runs a short balanced cycle on a block to show it works. */
static void
exercise(rundown_cache_t *r)
{
	ck_assert(rundown_cache_acquire(r));
	ck_assert(rundown_cache_acquire_n(r, 2));
	expect_state(r, RUNDOWN_OPEN, 3);
	rundown_cache_release_n(r, 2);
	rundown_cache_release(r);
	expect_state(r, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(r), 0);
	expect_state(r, RUNDOWN_DRAINED, 0);
	ck_assert(!rundown_cache_acquire(r));
	ck_assert_int_eq(rundown_cache_completed(r), 0);
	ck_assert_int_eq(rundown_cache_reinit(r), 0);
	expect_state(r, RUNDOWN_OPEN, 0);
}

/* ---- size and layout -------------------------------------------------- */

/* The public size is the hook's size for the configured CPUs, every call. */
START_TEST(test_size_machine)
{
	ck_assert_uint_ge(block_cpus(), 1);
	ck_assert_uint_eq(rundown_cache_size(), cache_size_cpus(block_cpus()));
	ck_assert_uint_eq(rundown_cache_size(), rundown_cache_size());
}
END_TEST

/* With several CPUs: header + (processors + 1) x cache line. */
START_TEST(test_size_formula)
{
	const uint32_t cpus[] = { 2, 3, 4, 8, 64, 256, block_cpus() };
	struct block_layout l;
	size_t header, i;

	for (i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
		if (cpus[i] < 2)
			continue;
		ck_assert_int_eq(block_layout(cpus[i], 1, &l), 0);
		ck_assert_uint_eq(l.cpus, cpus[i]);
		ck_assert_uint_eq(l.rows, 1);
		ck_assert_uint_eq(l.stride, BLOCK_LINE);
		ck_assert_uint_eq(l.rows_off % BLOCK_LINE, 0);
		/* The drain word's line, then a line per slot. */
		ck_assert_uint_eq(l.lead, BLOCK_LINE);
		ck_assert_uint_eq(l.size,
		    l.rows_off + ((size_t)cpus[i] + 1) * BLOCK_LINE);
		header = sizeof(struct rundown_cache) + l.rows_off;
		ck_assert_uint_eq(cache_size_cpus(cpus[i]),
		    header + ((size_t)cpus[i] + 2) * BLOCK_LINE);
	}
}
END_TEST

/* On a uniprocessor: header + the drain word, one slot word and its rseq
 * word, no padding to a cache line. */
START_TEST(test_size_uniprocessor)
{
	struct block_layout l;

	ck_assert_int_eq(block_layout(1, 1, &l), 0);
	ck_assert_uint_eq(l.size, l.rows_off + 3 * sizeof(uint64_t));
	ck_assert_uint_eq(cache_size_cpus(1),
	    sizeof(struct rundown_cache) + l.rows_off + 3 * sizeof(uint64_t));
	ck_assert_uint_lt(cache_size_cpus(1), cache_size_cpus(2));
}
END_TEST

/* block_layout refuses zero or too many CPUs or rows. */
START_TEST(test_layout_refused)
{
	struct block_layout l;

	ck_assert_int_eq(block_layout(0, 1, &l), -EINVAL);
	ck_assert_int_eq(block_layout(1, 0, &l), -EINVAL);
	ck_assert_int_eq(block_layout(BLOCK_MAX_CPUS + 1, 1, &l), -EINVAL);
	ck_assert_int_eq(block_layout(2, BLOCK_MAX_ROWS + 1, &l), -EINVAL);
	ck_assert_int_eq(block_layout(BLOCK_MAX_CPUS, 1, &l), 0);
}
END_TEST

/* ---- init and free ---------------------------------------------------- */

/* init in a malloc'd buffer: open, tag 0, slots on their own lines. */
START_TEST(test_init_malloc)
{
	size_t size = rundown_cache_size();
	void *p = malloc(size);

	ck_assert_ptr_nonnull(p);
	memset(p, PATTERN, size);
	ck_assert_int_eq(rundown_cache_init(p, size), 0);
	expect_state(p, RUNDOWN_OPEN, 0);
	ck_assert_uint_eq(rundown_cache_tag(p), 0);
	expect_slots_inside(p, p, size, block_cpus());
	exercise(p);
	free(p);
}
END_TEST

/*
 * init at every pointer-aligned offset within a cache line: the block fits
 * in exactly the size asked for and writes nothing outside it.
 */
START_TEST(test_init_offsets)
{
	const uint32_t cpus[] = { TEST_CPUS, 1, block_cpus() };
	size_t size, total, off, i;
	char *base, *p;
	rundown_cache_t *r;

	for (i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
		size = cache_size_cpus(cpus[i]);
		/* A guard line before the block and one after it. */
		total = (size + 4 * BLOCK_LINE) / BLOCK_LINE * BLOCK_LINE;
		base = aligned_alloc(BLOCK_LINE, total);
		ck_assert_ptr_nonnull(base);
		for (off = 0; off < BLOCK_LINE; off += sizeof(void *)) {
			p = base + BLOCK_LINE + off;
			r = (void *)p;
			memset(base, PATTERN, total);
			if (i == 2)
				ck_assert_int_eq(rundown_cache_init(r, size),
				    0);
			else
				ck_assert_int_eq(cache_init_cpus(r, size,
				    cpus[i], 0), 0);
			expect_pattern(base, BLOCK_LINE + off);
			expect_pattern(p + size, BLOCK_LINE);
			expect_slots_inside(r, p, size, cpus[i]);
			exercise(r);
		}
		free(base);
	}
}
END_TEST

/* A size one byte short (or zero) is refused with -ENOSPC, nothing
 * written, at any alignment of the start. */
START_TEST(test_init_too_small)
{
	size_t size = rundown_cache_size();
	size_t small = cache_size_cpus(TEST_CPUS);
	size_t total = (size > small ? size : small) + 2 * BLOCK_LINE;
	char *base = aligned_alloc(BLOCK_LINE,
	    (total + BLOCK_LINE - 1) / BLOCK_LINE * BLOCK_LINE);
	rundown_cache_t *r;
	size_t off;

	ck_assert_ptr_nonnull(base);
	for (off = 0; off < BLOCK_LINE; off += sizeof(void *)) {
		r = (void *)(base + off);
		memset(base, PATTERN, total);
		ck_assert_int_eq(rundown_cache_init(r, size - 1), -ENOSPC);
		ck_assert_int_eq(rundown_cache_init(r, 0), -ENOSPC);
		ck_assert_int_eq(cache_init_cpus(r, small - 1, TEST_CPUS, 0),
		    -ENOSPC);
		ck_assert_int_eq(cache_init_cpus(r, cache_size_cpus(1) - 1, 1,
		    0), -ENOSPC);
		expect_pattern(base, total);
	}
	free(base);
}
END_TEST

/* A start not aligned for a pointer is refused with -EINVAL, nothing
 * written. */
START_TEST(test_init_misaligned)
{
	size_t size = rundown_cache_size();
	size_t total = size + 2 * BLOCK_LINE;
	char *base = malloc(total);
	size_t off;

	ck_assert_ptr_nonnull(base);
	for (off = 1; off < sizeof(void *); off++) {
		memset(base, PATTERN, total);
		ck_assert_int_eq(rundown_cache_init((void *)(base + off), size),
		    -EINVAL);
		expect_pattern(base, total);
	}
	free(base);
}
END_TEST

/* Freeing a block in the caller's buffer is refused and frees nothing. */
START_TEST(test_free_caller_buffer)
{
	ck_assert_int_eq(rundown_cache_free(ref), -EPERM);
	expect_state(ref, RUNDOWN_OPEN, 0);
	exercise(ref);
	ck_assert_int_eq(rundown_cache_free(ref), -EPERM);
}
END_TEST

/* A buffer that was never initialized is refused with -EINVAL. */
START_TEST(test_uninitialized)
{
	size_t size = rundown_cache_size();
	rundown_cache_t *p = calloc(1, size);
	struct rundown_status st;
	struct timespec ts = test_ms(1);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(rundown_cache_query(p, &st), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait(p), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_timeout(p, &ts), -EINVAL);
	ck_assert_int_eq(rundown_cache_completed(p), -EINVAL);
	ck_assert_int_eq(rundown_cache_reinit(p), -EINVAL);
	ck_assert_int_eq(rundown_cache_free(p), -EINVAL);
	free(p);
}
END_TEST

/* NULL arguments are refused with -EINVAL rather than crashing. */
START_TEST(test_null_refused)
{
	struct rundown_status st;
	struct timespec ts = test_ms(1);

	ck_assert_int_eq(rundown_cache_init(NULL, rundown_cache_size()),
	    -EINVAL);
	ck_assert_int_eq(rundown_cache_free(NULL), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait(NULL), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_timeout(NULL, NULL), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_timeout(NULL, &ts), -EINVAL);
	ck_assert_int_eq(rundown_cache_completed(NULL), -EINVAL);
	ck_assert_int_eq(rundown_cache_reinit(NULL), -EINVAL);
	ck_assert_int_eq(rundown_cache_query(NULL, &st), -EINVAL);
	ck_assert_int_eq(rundown_cache_query(ref, NULL), -EINVAL);
	expect_state(ref, RUNDOWN_OPEN, 0);
}
END_TEST

/* ---- alloc ------------------------------------------------------------ */

/* alloc labels the block with its tag, opens it, and free takes it back. */
START_TEST(test_alloc_tag_free)
{
	const uint32_t tag = (uint32_t)'d' << 24 | (uint32_t)'a' << 16 |
	    (uint32_t)'e' << 8 | 'R';
	rundown_cache_t *a, *z;

	a = rundown_cache_alloc(tag);
	ck_assert_ptr_nonnull(a);
	z = rundown_cache_alloc(0);
	ck_assert_ptr_nonnull(z);
	ck_assert_uint_eq(rundown_cache_tag(a), tag);
	ck_assert_uint_eq(rundown_cache_tag(z), 0);
	expect_state(a, RUNDOWN_OPEN, 0);
	expect_state(z, RUNDOWN_OPEN, 0);

	/* Two blocks are independent. */
	ck_assert(rundown_cache_acquire_n(a, 2));
	expect_state(a, RUNDOWN_OPEN, 2);
	expect_state(z, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(z), 0);
	expect_state(a, RUNDOWN_OPEN, 2);
	rundown_cache_release_n(a, 2);

	exercise(a);
	ck_assert_int_eq(rundown_cache_free(a), 0);
	ck_assert_int_eq(rundown_cache_free(z), 0);
}
END_TEST

/* ---- counts ----------------------------------------------------------- */

/* acquire, acquire_n, release and release_n count by exactly n. */
START_TEST(test_counts)
{
	uint32_t cpu;

	ck_assert(rundown_cache_acquire(ref));
	expect_state(ref, RUNDOWN_OPEN, 1);
	ck_assert(rundown_cache_acquire_n(ref, 5));
	expect_state(ref, RUNDOWN_OPEN, 6);
	ck_assert(rundown_cache_acquire_n(ref, 0));
	expect_state(ref, RUNDOWN_OPEN, 6);
	rundown_cache_release(ref);
	expect_state(ref, RUNDOWN_OPEN, 5);
	rundown_cache_release_n(ref, 0);
	expect_state(ref, RUNDOWN_OPEN, 5);
	rundown_cache_release_n(ref, 5);
	expect_state(ref, RUNDOWN_OPEN, 0);

	for (cpu = 0; cpu < TEST_CPUS; cpu++)
		ck_assert(cache_acquire_on(ref, cpu, cpu + 1));
	expect_state(ref, RUNDOWN_OPEN, 10);
	for (cpu = 0; cpu < TEST_CPUS; cpu++) {
		ck_assert_uint_eq(*block_slot(cache_block(ref), 0, cpu),
		    2 * (uint64_t)(cpu + 1));
		cache_release_on(ref, cpu, cpu + 1);
	}
	expect_state(ref, RUNDOWN_OPEN, 0);
}
END_TEST

/* A 32-bit n is counted in full. */
START_TEST(test_counts_large)
{
	ck_assert(rundown_cache_acquire_n(ref, UINT32_MAX));
	expect_state(ref, RUNDOWN_OPEN, UINT32_MAX);
	ck_assert(cache_acquire_on(ref, 1, UINT32_MAX));
	expect_state(ref, RUNDOWN_OPEN, 2 * (uint64_t)UINT32_MAX);
	cache_release_on(ref, 2, UINT32_MAX);
	rundown_cache_release_n(ref, UINT32_MAX);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
}
END_TEST

/* n = 0 succeeds while open and fails in every run-down state. */
START_TEST(test_acquire_zero)
{
	ck_assert(rundown_cache_acquire_n(ref, 0));
	ck_assert(cache_acquire_on(ref, 3, 0));
	ck_assert(rundown_cache_acquire(ref));
	start_rundown(ref);
	ck_assert(!rundown_cache_acquire_n(ref, 0));
	ck_assert(!cache_acquire_on(ref, 3, 0));
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	rundown_cache_release(ref);
	ck_assert(!rundown_cache_acquire_n(ref, 0));
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	ck_assert(!rundown_cache_acquire_n(ref, 0));
	expect_state(ref, RUNDOWN_COMPLETED, 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	ck_assert(rundown_cache_acquire_n(ref, 0));
	expect_state(ref, RUNDOWN_OPEN, 0);
}
END_TEST

/* A slot's own count is modular: releases on other CPUs drive one slot far
 * up and another far down, and acquires on the high one keep succeeding
 * (no per-slot overflow refusal) while the sum stays exact. */
START_TEST(test_slot_drift)
{
	uint64_t *hi = block_slot(cache_block(ref), 0, 0);
	uint64_t *lo = block_slot(cache_block(ref), 0, 1);

	/* As if 2^62 - 1 protections were acquired on CPU 0 and released
	 * on CPU 1: nothing is held. */
	rd_store(hi, 2 * SLOT_MAX, RD_RELAXED);
	rd_store(lo, (uint64_t)0 - 2 * SLOT_MAX, RD_RELAXED);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert(cache_acquire_on(ref, 0, UINT32_MAX));
	ck_assert(cache_acquire_on(ref, 0, 1));
	expect_state(ref, RUNDOWN_OPEN, (uint64_t)UINT32_MAX + 1);
	cache_release_on(ref, 1, UINT32_MAX);
	cache_release_on(ref, 2, 1);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A release during run-down that would take the count below zero (a double
 * release) is ignored: it neither drains early nor leaves a residue that
 * would keep the next run-down from draining. */
START_TEST(test_double_release_refused)
{
	struct timespec zero = { 0, 0 };

	ck_assert(cache_acquire_on(ref, 0, 2));
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &zero), -ETIMEDOUT);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
	cache_release_on(ref, 1, 1);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	cache_release_on(ref, 1, 3);		/* owes only 1 */
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	cache_release_on(ref, 1, 1);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	cache_release_on(ref, 2, 1);		/* after the drain */
	expect_state(ref, RUNDOWN_DRAINED, 0);

	/* The next cycle drains as if the extra releases never happened. */
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	ck_assert(cache_acquire_on(ref, 3, 1));
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &zero), -ETIMEDOUT);
	cache_release_on(ref, 0, 1);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &zero), 0);
}
END_TEST

/* ---- cross-slot ------------------------------------------------------- */

/* Acquire on one slot, release on another: the slot goes negative, the
 * sum is 0 and a wait returns at once. */
START_TEST(test_cross_slot)
{
	struct rundown_block *b = cache_block(ref);

	ck_assert(cache_acquire_on(ref, 0, 1));
	cache_release_on(ref, 1, 1);
	ck_assert_int_eq((int64_t)*block_slot(b, 0, 0), 2);
	ck_assert_int_eq((int64_t)*block_slot(b, 0, 1), -2);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A blocked waiter returns once releases on other slots cover the acquires. */
START_TEST(test_cross_slot_waiter)
{
	struct waiter w;

	ck_assert(cache_acquire_on(ref, 0, 2));
	waiter_start_cache(&w, ref, WAITER_WAIT);
	poll_state(ref, RUNDOWN_RUNNING_DOWN);
	cache_release_on(ref, 1, 1);
	ck_assert(!atomic_load(&w.done));
	cache_release_on(ref, 2, 1);
	waiter_join(&w);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* cpu numbers past the block's CPUs wrap round to a slot. */
START_TEST(test_cpu_modulo)
{
	struct rundown_block *b = cache_block(ref);

	ck_assert(cache_acquire_on(ref, TEST_CPUS + 1, 1));
	ck_assert_uint_eq(*block_slot(b, 0, 1), 2);
	cache_release_on(ref, 2 * TEST_CPUS + 1, 1);
	ck_assert_uint_eq(*block_slot(b, 0, 1), 0);
	expect_state(ref, RUNDOWN_OPEN, 0);
}
END_TEST

/* ---- the steps of run-down -------------------------------------------- */

/*
 * Until the waiter has switched a slot, an acquire on that slot can still
 * succeed, and that protection is counted and waited for.
 */
START_TEST(test_acquire_before_switch)
{
	struct rundown_block *b = cache_block(ref);
	struct block_layout l;
	uint32_t word, seen;
	struct timespec ts = test_ms(1);

	cache_layout(ref, &l);
	ck_assert_int_eq(block_flip(b, &word), 0);
	ck_assert_int_eq(block_flip(b, &word), -EALREADY);
	seen = state_word(b);
	ck_assert_uint_eq(seen & ST_MASK, ST_RUNDOWN);
	block_switch(b, &l, 0, 0);
	ck_assert(cache_acquire_on(ref, 1, 1));
	ck_assert(!cache_acquire_on(ref, 0, 1));
	block_harvest_row(b, &l, 0);
	block_check_drained(b, &l, seen);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	ck_assert(!cache_acquire_on(ref, 1, 1));
	ck_assert(!cache_acquire_on(ref, 2, 1));
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ts), -ETIMEDOUT);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	cache_release_on(ref, 3, 1);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
}
END_TEST

/*
 * A release that finds its slot switched is charged to the row before the
 * harvest; the harvest adds the slot sums once, repeating it adds nothing.
 */
START_TEST(test_release_on_switched)
{
	struct rundown_block *b = cache_block(ref);
	struct block_layout l;
	uint32_t word, seen;

	cache_layout(ref, &l);
	ck_assert(cache_acquire_on(ref, 0, 2));
	ck_assert_int_eq(block_flip(b, &word), 0);
	seen = state_word(b);
	block_switch(b, &l, 0, 0);
	cache_release_on(ref, 0, 1);	/* slow path: row drain -1 */
	ck_assert(cache_acquire_on(ref, 1, 1));	/* slot 1 not switched */
	block_harvest_row(b, &l, 0);
	block_harvest_row(b, &l, 0);
	block_check_drained(b, &l, seen);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
	ck_assert(!cache_acquire_on(ref, 1, 1));
	cache_release_on(ref, 3, 1);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	cache_release_on(ref, 0, 1);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
}
END_TEST

/* A harvest that finds the sum zero leaves the block drained at once. */
START_TEST(test_harvest_zero_drains)
{
	struct rundown_block *b = cache_block(ref);
	struct block_layout l;
	uint32_t word, seen;

	cache_layout(ref, &l);
	ck_assert(cache_acquire_on(ref, 2, 1));
	cache_release_on(ref, 3, 1);
	ck_assert_int_eq(block_flip(b, &word), 0);
	seen = state_word(b);
	block_harvest_row(b, &l, 0);
	block_check_drained(b, &l, seen);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
}
END_TEST

/* ---- states and refusals ---------------------------------------------- */

/* With nothing held a wait returns at once; so do a second and a timed. */
START_TEST(test_wait_nothing_held)
{
	struct timespec ts = test_ms(1);

	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ts), 0);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, NULL), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* completed: -EALREADY when open (held or not), 0 when drained, and a wait
 * after completion returns at once. */
START_TEST(test_completed)
{
	struct timespec ts = test_ms(1);

	ck_assert_int_eq(rundown_cache_completed(ref), -EALREADY);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert(cache_acquire_on(ref, 2, 3));
	ck_assert_int_eq(rundown_cache_completed(ref), -EALREADY);
	expect_state(ref, RUNDOWN_OPEN, 3);
	cache_release_on(ref, 2, 3);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	expect_state(ref, RUNDOWN_COMPLETED, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ts), 0);
	expect_state(ref, RUNDOWN_COMPLETED, 0);
	ck_assert(!rundown_cache_acquire(ref));
}
END_TEST

/* completed while protections are outstanding: -EBUSY, nothing changed. */
START_TEST(test_completed_busy)
{
	ck_assert(cache_acquire_on(ref, 1, 2));
	start_rundown(ref);
	ck_assert_int_eq(rundown_cache_completed(ref), -EBUSY);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
	cache_release_on(ref, 3, 2);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	expect_state(ref, RUNDOWN_COMPLETED, 0);
}
END_TEST

/* reinit: -EALREADY when open, -EBUSY while running down, 0 from drained
 * and from completed. */
START_TEST(test_reinit)
{
	ck_assert_int_eq(rundown_cache_reinit(ref), -EALREADY);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert(cache_acquire_on(ref, 0, 2));
	ck_assert_int_eq(rundown_cache_reinit(ref), -EALREADY);
	expect_state(ref, RUNDOWN_OPEN, 2);
	start_rundown(ref);
	ck_assert_int_eq(rundown_cache_reinit(ref), -EBUSY);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
	cache_release_on(ref, 0, 2);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert(rundown_cache_acquire(ref));
	rundown_cache_release(ref);

	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert(rundown_cache_acquire(ref));
	expect_state(ref, RUNDOWN_OPEN, 1);
}
END_TEST

/*
 * A timed wait that arrives while a re-initialize is held up under the
 * run-down lock (its thread stopped, or a holder forged) returns at its
 * deadline: it cannot begin a run-down while the reset runs, and must not
 * wait for it for ever (rundown_cache(3)).  Once the reset is done the
 * block is open, and the next wait runs it down.  The reset is driven by
 * hand (block_reset), under the lock the test takes.
 */
static void *
reset_waiter_main(void *arg)
{
	struct timespec ms = test_ms(50);

	return (void *)(intptr_t)rundown_cache_wait_timeout(arg, &ms);
}

START_TEST(test_timed_wait_during_reset)
{
	struct rundown_block *b = cache_block(ref);
	struct block_layout l;
	pthread_t t;
	void *rc;
	uint32_t s;

	cache_layout(ref, &l);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	/* A re-initialize holds the run-down lock throughout. */
	ck_assert_int_eq(block_lock(b, &l, NULL), 0);
	s = __atomic_load_n(&b->state, __ATOMIC_SEQ_CST);
	ck_assert_uint_eq(s & ST_MASK, ST_DRAINED);
	s = (s & ~ST_MASK) | ST_RESETTING;
	__atomic_store_n(&b->state, s, __ATOMIC_SEQ_CST);

	ck_assert_int_eq(pthread_create(&t, NULL, reset_waiter_main, ref), 0);
	ck_assert_int_eq(pthread_join(t, &rc), 0);
	ck_assert_int_eq((int)(intptr_t)rc, -ETIMEDOUT);
	ck_assert_uint_eq(__atomic_load_n(&b->state, __ATOMIC_SEQ_CST), s);
	block_reset(b, &l, s);
	block_unlock(b, 0);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* Acquire fails on every slot in every run-down state until reinit. */
START_TEST(test_acquire_fails_until_reinit)
{
	uint32_t cpu;

	ck_assert(rundown_cache_acquire(ref));
	start_rundown(ref);
	ck_assert(!rundown_cache_acquire(ref));
	ck_assert(!rundown_cache_acquire_n(ref, 2));
	for (cpu = 0; cpu < TEST_CPUS; cpu++)
		ck_assert(!cache_acquire_on(ref, cpu, 1));
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);

	rundown_cache_release(ref);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert(!rundown_cache_acquire(ref));
	for (cpu = 0; cpu < TEST_CPUS; cpu++)
		ck_assert(!cache_acquire_on(ref, cpu, 1));
	expect_state(ref, RUNDOWN_DRAINED, 0);

	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	ck_assert(!rundown_cache_acquire(ref));
	for (cpu = 0; cpu < TEST_CPUS; cpu++)
		ck_assert(!cache_acquire_on(ref, cpu, 1));
	expect_state(ref, RUNDOWN_COMPLETED, 0);

	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	for (cpu = 0; cpu < TEST_CPUS; cpu++)
		ck_assert(cache_acquire_on(ref, cpu, 1));
	ck_assert(rundown_cache_acquire(ref));
	expect_state(ref, RUNDOWN_OPEN, TEST_CPUS + 1);
}
END_TEST

/* A timed-out wait leaves the run-down in progress with the right count;
 * a later wait continues it and returns after the last release. */
START_TEST(test_wait_timeout)
{
	struct timespec ts = test_ms(10);
	struct waiter w;

	ck_assert(rundown_cache_acquire_n(ref, 3));
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ts), -ETIMEDOUT);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 3);
	ck_assert(!rundown_cache_acquire(ref));
	cache_release_on(ref, 2, 1);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ts), -ETIMEDOUT);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);

	waiter_start_cache(&w, ref, WAITER_WAIT);
	cache_release_on(ref, 0, 1);
	ck_assert(!atomic_load(&w.done));
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	rundown_cache_release(ref);
	waiter_join(&w);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A zero timeout polls; malformed timeouts are -EINVAL and change nothing. */
START_TEST(test_wait_timeout_args)
{
	struct timespec bad[] = {
		{ -1, 0 },
		{ 0, -1 },
		{ 0, 1000000000L },
		{ 1, 1999999999L },
	};
	struct timespec zero = test_ms(0);
	size_t i;

	ck_assert(cache_acquire_on(ref, 1, 1));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(rundown_cache_wait_timeout(ref, &bad[i]),
		    -EINVAL);
		expect_state(ref, RUNDOWN_OPEN, 1);
	}
	ck_assert(cache_acquire_on(ref, 1, 1));
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &zero), -ETIMEDOUT);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
	cache_release_on(ref, 1, 2);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &zero), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A blocked waiter stays blocked while any protection is held, completed
 * and reinit are refused meanwhile, and it returns after the last release. */
START_TEST(test_waiter_blocked)
{
	struct waiter w;

	ck_assert(cache_acquire_on(ref, 0, 1));
	ck_assert(cache_acquire_on(ref, 1, 1));
	ck_assert(cache_acquire_on(ref, 3, 1));
	waiter_start_cache(&w, ref, WAITER_NULL);
	poll_state(ref, RUNDOWN_RUNNING_DOWN);
	/* The waiter may not have switched this slot yet: then the acquire
	 * succeeds and must be counted (released here, maybe on a switched
	 * slot by now). */
	if (rundown_cache_acquire(ref))
		rundown_cache_release(ref);
	cache_release_on(ref, 3, 1);
	cache_release_on(ref, 2, 1);
	ck_assert_int_eq(rundown_cache_completed(ref), -EBUSY);
	ck_assert_int_eq(rundown_cache_reinit(ref), -EBUSY);
	ck_assert(!atomic_load(&w.done));
	cache_release_on(ref, 1, 1);
	waiter_join(&w);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* Several waiters at once, blocking and timed, are all woken. */
START_TEST(test_several_waiters)
{
	static const enum waiter_mode modes[] = {
		WAITER_WAIT, WAITER_NULL, WAITER_LONG, WAITER_WAIT
	};
	struct waiter w[4];
	size_t i;

	ck_assert(cache_acquire_on(ref, 1, 2));
	for (i = 0; i < 4; i++)
		waiter_start_cache(&w[i], ref, modes[i]);
	poll_state(ref, RUNDOWN_RUNNING_DOWN);
	cache_release_on(ref, 2, 1);
	for (i = 0; i < 4; i++)
		ck_assert(!atomic_load(&w[i].done));
	cache_release_on(ref, 0, 1);
	for (i = 0; i < 4; i++)
		waiter_join(&w[i]);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* After reinit, an acquire on one slot and its release on another still
 * sum to nothing held. */
START_TEST(test_reinit_residue)
{
	ck_assert(cache_acquire_on(ref, 2, 1));
	cache_release_on(ref, 0, 1);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	ck_assert(cache_acquire_on(ref, 0, 1));
	cache_release_on(ref, 1, 1);
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* Many balanced cycles of wait, completed and reinit keep the count at 0. */
START_TEST(test_cycles)
{
	struct timespec ts = test_ms(0);
	uint32_t i;

	for (i = 0; i < 1000; i++) {
		ck_assert(rundown_cache_acquire(ref));
		ck_assert(cache_acquire_on(ref, i, 2));
		cache_release_on(ref, i + 1, 1);
		expect_state(ref, RUNDOWN_OPEN, 2);
		if (i % 4 == 0) {
			ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ts),
			    -ETIMEDOUT);
			expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
		}
		cache_release_on(ref, i + 2, 1);
		rundown_cache_release(ref);
		ck_assert_int_eq(rundown_cache_wait(ref), 0);
		expect_state(ref, RUNDOWN_DRAINED, 0);
		if (i % 2 == 0)
			ck_assert_int_eq(rundown_cache_completed(ref), 0);
		ck_assert_int_eq(rundown_cache_reinit(ref), 0);
		expect_state(ref, RUNDOWN_OPEN, 0);
	}
}
END_TEST

/* query reports outstanding in OPEN and RUNNING_DOWN, 0 afterwards. */
START_TEST(test_query)
{
	ck_assert(cache_acquire_on(ref, 0, 4));
	ck_assert(cache_acquire_on(ref, 3, 1));
	cache_release_on(ref, 1, 2);
	expect_state(ref, RUNDOWN_OPEN, 3);
	start_rundown(ref);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 3);
	cache_release_on(ref, 2, 2);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	cache_release_on(ref, 0, 1);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	expect_state(ref, RUNDOWN_COMPLETED, 0);
}
END_TEST

/* ---- uniprocessor ----------------------------------------------------- */

/* A one-slot block goes through a whole cycle, every cpu on its slot. */
START_TEST(test_up_cycle)
{
	struct rundown_block *b = cache_block(ref);
	struct waiter w;

	expect_slots_inside(ref, buf, bufsize, 1);
	ck_assert(rundown_cache_acquire_n(ref, 2));
	ck_assert(cache_acquire_on(ref, 7, 1));
	/* The slot word (2 x count) and the rseq word (count) hold the 3
	 * between them, whichever path each acquire took. */
	ck_assert_uint_eq(*block_slot(b, 0, 0) / 2 +
	    block_slot(b, 0, 0)[SLOT_PC], 3);
	expect_state(ref, RUNDOWN_OPEN, 3);
	start_rundown(ref);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 3);
	ck_assert(!rundown_cache_acquire(ref));
	waiter_start_cache(&w, ref, WAITER_WAIT);
	rundown_cache_release(ref);
	cache_release_on(ref, 5, 1);
	ck_assert(!atomic_load(&w.done));
	ck_assert_int_eq(rundown_cache_reinit(ref), -EBUSY);
	rundown_cache_release(ref);
	waiter_join(&w);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	expect_state(ref, RUNDOWN_OPEN, 0);
	exercise(ref);
}
END_TEST

/* ---- this machine's CPUs ---------------------------------------------- */

struct migrant {
	pthread_t	 thread;
	rundown_cache_t	*ref;
	unsigned	 index;
};

/* Acquires pinned to one CPU and releases pinned to the next. */
static void *
migrant_main(void *arg)
{
	struct migrant *m = arg;
	unsigned i, n = test_scale(200);

	for (i = 0; i < n; i++) {
		test_pin_nth(m->index + i);
		if (!rundown_cache_acquire(m->ref))
			return m;
		test_pin_nth(m->index + i + 1);
		rundown_cache_release(m->ref);
	}
	return NULL;
}

/* Acquires and releases on different real CPUs drain to nothing held. */
START_TEST(test_machine_migrate)
{
	struct migrant m[4];
	void *rv;
	unsigned i;

	for (i = 0; i < 4; i++) {
		m[i].ref = ref;
		m[i].index = i;
		ck_assert_int_eq(pthread_create(&m[i].thread, NULL,
		    migrant_main, &m[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(m[i].thread, &rv), 0);
		ck_assert_ptr_null(rv);
	}
	expect_state(ref, RUNDOWN_OPEN, 0);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
}
END_TEST

/* A waiter on a real-CPU block is released by the last release. */
START_TEST(test_machine_waiter)
{
	struct waiter w;

	ck_assert(rundown_cache_acquire_n(ref, 2));
	waiter_start_cache(&w, ref, WAITER_WAIT);
	poll_state(ref, RUNDOWN_RUNNING_DOWN);
	test_pin_nth(1);
	rundown_cache_release(ref);
	ck_assert(!atomic_load(&w.done));
	test_pin_nth(0);
	rundown_cache_release(ref);
	waiter_join(&w);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	exercise(ref);
}
END_TEST

/*
 * Which fence a block's run-down takes follows where its memory is: a
 * buffer in private memory (heap, stack) is this process's alone, and
 * membarrier's fence reaches every thread that can use it; one in shared
 * memory may be used by other processes, and its run-down runs on every
 * CPU.  Both fence with or without the rseq path; both have the run-down
 * lock.
 */
START_TEST(test_fence_kind)
{
	char stackbuf[4096];
	size_t size = rundown_cache_size();
	rundown_cache_t *shared;
	void *fresh;

	memset(stackbuf, 0, sizeof(stackbuf));
	ck_assert(fence_memory_private(stackbuf, sizeof(stackbuf)));
	ck_assert(fence_memory_private(buf, bufsize));
	/* Not written yet: private all the same (the mapping says so, not
	 * the pages). */
	fresh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(fresh != MAP_FAILED);
	ck_assert(fence_memory_private(fresh, 4096));
	munmap(fresh, 4096);

	shared = test_map_shared(size);
	ck_assert(!fence_memory_private(shared, size));
	ck_assert_int_eq(rundown_cache_init(shared, size), 0);
	ck_assert_uint_eq(shared->bflags & (BLOCK_F_PRIVATE | BLOCK_F_LOCK),
	    BLOCK_F_LOCK);
	exercise(shared);
	munmap(shared, size);

	ck_assert_uint_eq(ref->bflags & BLOCK_F_LOCK, BLOCK_F_LOCK);
	if (RUNDOWN_RSEQ_CS)
		ck_assert_uint_eq(ref->bflags & (BLOCK_F_RSEQ |
		    BLOCK_F_PRIVATE), BLOCK_F_RSEQ | BLOCK_F_PRIVATE);
	exercise(ref);
}
END_TEST

/*
 * Private or shared is decided for every page of a buffer, not its ends:
 * private | MAP_SHARED | private (as a block of many CPUs spans pages)
 * is shared, so is a range with a hole, and a private mapping of a file
 * (memfd), whose pages not yet written are the file's.  A block formatted
 * across such a range fences every CPU (no BLOCK_F_PRIVATE).
 */
START_TEST(test_fence_kind_pages)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = cache_size_cpus(128);
	char *p, *q;
	int fd;

	ck_assert(size > 2 * (size_t)page && size <= 4 * (size_t)page);
	p = mmap(NULL, 4 * (size_t)page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	memset(p, 0, 4 * (size_t)page);
	ck_assert(fence_memory_private(p, 4 * (size_t)page));
	q = mmap(p + page, (size_t)page, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ck_assert(q == p + page);
	ck_assert(fence_memory_private(p, (size_t)page));
	ck_assert(!fence_memory_private(p, 2 * (size_t)page));
	ck_assert(!fence_memory_private(p, 4 * (size_t)page));
	ck_assert(fence_memory_private(p + 2 * page, 2 * (size_t)page));
	ck_assert_int_eq(cache_init_cpus((rundown_cache_t *)(void *)p, size,
	    128, 0), 0);
	ck_assert_uint_eq(((rundown_cache_t *)(void *)p)->bflags &
	    BLOCK_F_PRIVATE, 0);
	/* A hole. */
	ck_assert_int_eq(munmap(p + page, (size_t)page), 0);
	ck_assert(!fence_memory_private(p, 4 * (size_t)page));
	munmap(p, 4 * (size_t)page);

	fd = memfd_create("fence-kind", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, page), 0);
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
	    0);
	ck_assert(p != MAP_FAILED);
	memset(p, 0, (size_t)page);
	ck_assert(!fence_memory_private(p, (size_t)page));
	munmap(p, (size_t)page);
	close(fd);
}
END_TEST

/*
 * A fence that fails is no fence: nothing is harvested after it (a
 * section that read OPEN may still commit), so the run-down does not end,
 * timed waits time out, and the failures are counted where
 * rundown_cache_query() shows them.  Once a fence succeeds (the next
 * waiter under the lock tries again) the run-down ends as usual.  The
 * failure is injected before the walk begins, as a refused
 * sched_getaffinity() or any error of the walk would end it.
 */
static void *
fence_waiter_main(void *arg)
{
	return (void *)(intptr_t)rundown_cache_wait(arg);
}

START_TEST(test_fence_failed_waits)
{
	size_t size = rundown_cache_size();
	struct timespec ms = test_ms(20);
	struct rundown_status st;
	rundown_cache_t *shared;
	uint32_t before;
	pthread_t t;
	void *rc;

	shared = test_map_shared(size);
	ck_assert_int_eq(rundown_cache_init(shared, size), 0);
	if (!(shared->bflags & BLOCK_F_RSEQ)) {
		printf("fence failed: skipped (no rseq path, no fence)\n");
		munmap(shared, size);
		return;
	}
	ck_assert(rundown_cache_acquire(shared));
	__atomic_store_n(&rd_test_fence_error, -ENOMEM, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(rundown_cache_wait_timeout(shared, &ms), -ETIMEDOUT);
	rundown_cache_release(shared);
	/* Nothing is held now, but nothing was harvested either. */
	ck_assert_int_eq(rundown_cache_wait_timeout(shared, &ms), -ETIMEDOUT);
	ck_assert_int_eq(rundown_cache_query(shared, &st), 0);
	ck_assert_int_eq(st.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_ge(st.fence_failures, 2);
	/* A wait with no deadline retries until the fence succeeds. */
	before = st.fence_failures;
	ck_assert_int_eq(pthread_create(&t, NULL, fence_waiter_main, shared),
	    0);
	do {
		sched_yield();
		ck_assert_int_eq(rundown_cache_query(shared, &st), 0);
	} while (st.fence_failures < before + 2);
	ck_assert_int_eq(st.state, RUNDOWN_RUNNING_DOWN);
	__atomic_store_n(&rd_test_fence_error, 0, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(pthread_join(t, &rc), 0);
	ck_assert_int_eq((int)(intptr_t)rc, 0);
	ck_assert_int_eq(rundown_cache_query(shared, &st), 0);
	ck_assert_int_eq(st.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(st.outstanding, 0);
	munmap(shared, size);
}
END_TEST

#if RUNDOWN_RSEQ_CS && defined(__x86_64__)
/*
 * rundown_rseq_add() with a spin of `spins` loops between its check of the
 * state word and its commit, after it sets *inside: a section that read
 * OPEN and commits late, unless the kernel preempts, migrates or signals
 * it meanwhile.  Only a fence ends it early.
 */
static int
late_section_add(ptrdiff_t off, const uint32_t *state, uint32_t mask,
    char *base, uint32_t shift, uint32_t cpus, uint64_t delta,
    int *inside, uint64_t spins)
{
retry:
	__asm__ goto (
		RUNDOWN_RSEQ_X86_CHECK
		"movl $1, (%[inside])\n\t"
		"movq %[spins], %%rdx\n\t"
		"5:\n\t"
		"decq %%rdx\n\t"
		"jnz 5b\n\t"
		RUNDOWN_RSEQ_X86_COMMIT
		:
		: RUNDOWN_RSEQ_X86_INPUTS(off, state, mask, base, shift,
		      cpus, delta),
		  [inside] "r" (inside), [spins] "r" (spins)
		: "memory", "cc", "rax", "rdx"
		: noslot, closed, aborted);
	return RUNDOWN_RSEQ_DONE;
noslot:
	return RUNDOWN_RSEQ_NOSLOT;
closed:
	return RUNDOWN_RSEQ_CLOSED;
aborted:
	goto retry;
}
#endif

#if RUNDOWN_RSEQ_CS && defined(__x86_64__)
/* What the trials of test_fence_failed_late_commit share and count. */
struct late_commit {
	rundown_cache_t *shared;
	int *sh;		/* inside, result, go */
	long ncpu;
	int late, counted;
};

/* A trial's child: alone on the last CPU, a section that reads the
 * block open and commits late; it says how it ended, and once told,
 * releases what it got. */
static void
late_commit_child(struct late_commit *lc)
{
	rundown_cache_t *shared = lc->shared;
	cpu_set_t set;
	int r;

	CPU_ZERO(&set);
	CPU_SET((int)lc->ncpu - 1, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
	/* Real-time where this may (root): no ordinary task on that CPU
	 * preempts the section, which would restart it and prove nothing. */
	(void)sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ 10 });
	r = late_section_add(__rseq_offset,
	    cache_state(shared), ST_MASK, cache_pc(shared),
	    shared->fast.shift, shared->fast.rcpus, 1, &lc->sh[0],
	    30000000u);
	/* Ordinary again, so that the fence's walk can reach this CPU. */
	(void)sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){ 0 });
	__atomic_store_n(&lc->sh[1], r + 1, __ATOMIC_SEQ_CST);
	if (r != RUNDOWN_RSEQ_DONE)
		_exit(0);
	while (!__atomic_load_n(&lc->sh[2], __ATOMIC_SEQ_CST))
		sched_yield();
	rundown_cache_release(shared);
	_exit(0);
}

/* One trial: the wait runs while the fence fails, and a late commit is
 * then counted and waited for.  Returns 0 if this thread has no rseq
 * area (no trial can say anything), 1 otherwise. */
static int
late_commit_trial(struct late_commit *lc, int trial)
{
	struct timespec ms200 = test_ms(200), ms20 = test_ms(20);
	rundown_cache_t *shared = lc->shared;
	int *sh = lc->sh;
	struct rundown_status st;
	int w, status;
	pid_t pid;

	memset(sh, 0, 4 * sizeof(int));
	if ((pid = test_fork_flushed()) == 0)
		late_commit_child(lc);
	ck_assert_int_gt(pid, 0);
	/* In the section, or out of it at once: no rseq area
	 * (glibc.pthread.rseq=0, check-norseq.sh) gives no slot. */
	while (!__atomic_load_n(&sh[0], __ATOMIC_SEQ_CST) &&
	    !__atomic_load_n(&sh[1], __ATOMIC_SEQ_CST))
		sched_yield();
	if (__atomic_load_n(&sh[1], __ATOMIC_SEQ_CST) ==
	    RUNDOWN_RSEQ_NOSLOT + 1) {
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		printf("fence failed, late commit: skipped (no rseq "
		    "area in this thread)\n");
		return 0;
	}
	__atomic_store_n(&rd_test_fence_error, -ENOMEM, __ATOMIC_SEQ_CST);
	w = rundown_cache_wait_timeout(shared, &ms200);
	if (w == 0)
		lc->late++;
	while (__atomic_load_n(&sh[1], __ATOMIC_SEQ_CST) == 0)
		sched_yield();
	__atomic_store_n(&rd_test_fence_error, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&sh[1], __ATOMIC_SEQ_CST) ==
	    RUNDOWN_RSEQ_DONE + 1) {
		/* Committed after the flip: counted, and waited for
		 * once a fence succeeds. */
		ck_assert_int_eq(rundown_cache_wait_timeout(shared,
		    &ms20), -ETIMEDOUT);
		ck_assert_int_eq(rundown_cache_query(shared, &st), 0);
		ck_assert_uint_eq(st.outstanding, 1);
		lc->counted++;
	} else
		printf("fence failed, late commit: trial %d: the "
		    "section was preempted (no late commit)\n",
		    trial + 1);
	__atomic_store_n(&sh[2], 1, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(rundown_cache_wait(shared), 0);
	ck_assert_int_eq(rundown_cache_reinit(shared), 0);
	ck_assert_int_eq(w, -ETIMEDOUT);
	return 1;
}
#endif

/*
 * The case the fence exists for, with the fence failing: a child's
 * section reads the block open and commits tens of milliseconds later
 * (a spin no fence interrupts, since none runs).  Before, the harvest went
 * on after the failed fence, found nothing and the wait returned at
 * once, with the child's protection granted after it.  Now the wait
 * times out while the fence fails; once one succeeds, the commit is
 * counted and waited for.  Up to LC_TRIALS trials, until two commits
 * came late; a trial whose section the kernel preempted (it then reads
 * the block closed) proves nothing and is said so.  x86-64 with the rseq
 * path only.
 */
#define LC_TRIALS 10

START_TEST(test_fence_failed_late_commit)
{
#if RUNDOWN_RSEQ_CS && defined(__x86_64__)
	struct late_commit lc = { .ncpu = sysconf(_SC_NPROCESSORS_ONLN) };
	size_t size = rundown_cache_size();
	cpu_set_t set, all;
	int trial;

	lc.shared = test_map_shared(size);
	lc.sh = test_map_shared(4 * sizeof(int));
	ck_assert_int_eq(rundown_cache_init(lc.shared, size), 0);
	if (!(lc.shared->bflags & BLOCK_F_RSEQ)) {
		printf("fence failed, late commit: skipped (no rseq path)\n");
		goto out;
	}
	/* The parent on CPU 0, the child's section alone on the last: a
	 * yield of the parent's must not preempt the section. */
	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	if (lc.ncpu >= 2) {
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	}
	/* Trials until two sections committed late, or LC_TRIALS: one
	 * that the kernel preempted proves nothing. */
	for (trial = 0; trial < LC_TRIALS && lc.counted < 2; trial++) {
		if (!late_commit_trial(&lc, trial))
			break;
	}
	if (trial > 0 && lc.counted + lc.late > 0)
		printf("fence failed, late commit: %d of %d waits returned "
		    "early; %d late commits counted and waited for\n", lc.late,
		    trial, lc.counted);
	(void)sched_setaffinity(0, sizeof(all), &all);
out:
	munmap(lc.sh, 4 * sizeof(int));
	munmap(lc.shared, size);
#else
	printf("fence failed, late commit: skipped (x86-64 rseq only)\n");
#endif
}
END_TEST

/*
 * The walk gives the caller back exactly the scheduling it had, read from
 * the kernel each time: whatever the policy, priority, nice value,
 * deadline parameters and reset-on-fork flag, and however the thread set
 * them (sched_setattr(2) behind glibc's back, after a first walk).  One
 * thread per policy; a policy this machine refuses is skipped.
 */
struct sched_case {
	const char *name;
	struct sched_attr want;
	int rc;			/* 0 checked, 1 skipped */
	char why[160];
};

static void *
sched_case_main(void *arg)
{
	struct sched_case *c = arg;
	struct sched_attr normal = { .size = sizeof(normal) }, got;
	uint32_t cpus = block_cpus();
	int i;

	c->rc = 1;
	/* A first walk at the default policy, so that glibc's cache (if it
	 * were read) would hold SCHED_OTHER. */
	(void)fence_cpus(cpus);
	if (sched_setattr_self(&c->want) != 0)
		return NULL;
	c->rc = 0;
	for (i = 0; i < 2; i++) {
		(void)fence_cpus(cpus);
		if (sched_getattr_self(&got) != 0) {
			snprintf(c->why, sizeof(c->why), "sched_getattr");
			c->rc = -1;
			break;
		}
		if (got.sched_policy != c->want.sched_policy ||
		    got.sched_priority != c->want.sched_priority ||
		    (got.sched_flags & SCHED_FLAG_RESET_ON_FORK) !=
		    (c->want.sched_flags & SCHED_FLAG_RESET_ON_FORK) ||
		    (c->want.sched_policy != SCHED_FIFO &&
		    c->want.sched_policy != SCHED_RR &&
		    c->want.sched_policy != SCHED_DEADLINE &&
		    got.sched_nice != c->want.sched_nice) ||
		    (c->want.sched_policy == SCHED_DEADLINE &&
		    (got.sched_runtime != c->want.sched_runtime ||
		    got.sched_deadline != c->want.sched_deadline ||
		    got.sched_period != c->want.sched_period))) {
			snprintf(c->why, sizeof(c->why), "after walk %d: "
			    "policy %u prio %u nice %d flags %#llx", i + 1,
			    got.sched_policy, got.sched_priority,
			    got.sched_nice,
			    (unsigned long long)got.sched_flags);
			c->rc = -1;
			break;
		}
	}
	(void)sched_setattr_self(&normal);
	return NULL;
}

START_TEST(test_fence_keeps_sched)
{
	struct sched_case cases[] = {
		{ .name = "other, nice 5", .want = {
		    .sched_policy = SCHED_OTHER, .sched_nice = 5 } },
		{ .name = "other, reset on fork", .want = {
		    .sched_policy = SCHED_OTHER,
		    .sched_flags = SCHED_FLAG_RESET_ON_FORK } },
		{ .name = "batch, nice 3", .want = {
		    .sched_policy = SCHED_BATCH, .sched_nice = 3 } },
		{ .name = "idle", .want = { .sched_policy = SCHED_IDLE } },
		{ .name = "fifo 10", .want = { .sched_policy = SCHED_FIFO,
		    .sched_priority = 10 } },
		{ .name = "rr 7", .want = { .sched_policy = SCHED_RR,
		    .sched_priority = 7 } },
		{ .name = "deadline", .want = {
		    .sched_policy = SCHED_DEADLINE, .sched_runtime = 2000000,
		    .sched_deadline = 30000000, .sched_period = 30000000 } },
	};
	size_t i;
	pthread_t t;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].want.size = sizeof(cases[i].want);
		ck_assert_int_eq(pthread_create(&t, NULL, sched_case_main,
		    &cases[i]), 0);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		if (cases[i].rc > 0)
			printf("fence keeps sched: %s: skipped (refused "
			    "here)\n", cases[i].name);
		ck_assert_msg(cases[i].rc >= 0, "%s: %s", cases[i].name,
		    cases[i].why);
	}
}
END_TEST

/*
 * A real-time task that keeps one CPU busy stalls a walk of lower
 * priority that must visit that CPU, for as long as it runs (the kernel's
 * throttling aside).  What must hold then: another party's timed wait on
 * the block returns at its deadline, whatever the stalled walk holds (the
 * run-down lock, the harvest); and a caller of higher real-time priority
 * walks at its own priority, past the task.  A SCHED_FIFO 2 loop on the
 * last CPU, in a child that ends by itself after 3 s at most; skipped
 * without a second CPU, the rseq path, or the right to run at real-time
 * priority.
 */
struct rt_party {
	rundown_cache_t *ref;
	int prio;		/* SCHED_FIFO priority, or 0: normal */
	int rc;
	struct timespec took;
};

static void *
rt_party_main(void *arg)
{
	struct rt_party *p = arg;
	struct sched_param sp = { .sched_priority = p->prio };
	struct timespec t0, t1;

	if (p->prio != 0)
		(void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p->rc = rundown_cache_wait(p->ref);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->took.tv_sec = t1.tv_sec - t0.tv_sec;
	p->took.tv_nsec = t1.tv_nsec - t0.tv_nsec;
	return NULL;
}

static long
rt_ms(const struct timespec *t)
{
	return (long)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

/* The hog: SCHED_FIFO prio on the last CPU, spinning until told to
 * stop or for 3 s at most; flag[1] says it runs. */
static void
rt_hog_main(volatile int *flag, long ncpu, const struct sched_param *prio)
{
	struct timespec t0, t1;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((int)ncpu - 1, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0 ||
	    sched_setscheduler(0, SCHED_FIFO, prio) != 0)
		_exit(2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	flag[1] = 1;
	do
		clock_gettime(CLOCK_MONOTONIC, &t1);
	while (!flag[0] && t1.tv_sec - t0.tv_sec < 3);
	_exit(0);
}

/* Once a's run-down has begun (the state word flipped; on the atomic
 * path acquires still succeed until the harvest switches the slots), a
 * timed wait of this thread returns at its deadline all the same.
 * Returns how long it took. */
static struct timespec
rt_timed_wait_beside(rundown_cache_t *a)
{
	struct timespec ms = test_ms(50), t0, t1, took;
	struct rundown_status st;
	int r;

	do {
		sched_yield();
		ck_assert_int_eq(rundown_cache_query(a, &st), 0);
	} while (st.state == RUNDOWN_OPEN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = rundown_cache_wait_timeout(a, &ms);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took.tv_sec = t1.tv_sec - t0.tv_sec;
	took.tv_nsec = t1.tv_nsec - t0.tv_nsec;
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_msg(rt_ms(&took) < 500, "a 50 ms wait took %ld ms",
	    rt_ms(&took));
	return took;
}

START_TEST(test_fence_under_rt_load)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t size = rundown_cache_size();
	struct sched_param two = { .sched_priority = 2 };
	struct timespec took;
	struct rt_party slow, fast;
	rundown_cache_t *a, *b;
	volatile int *flag;
	cpu_set_t set;
	pthread_t ts, tf;
	int status, r;
	pid_t hog;

	a = test_map_shared(size);
	b = test_map_shared(size);
	flag = test_map_shared(sizeof(int) * 2);
	ck_assert_int_eq(rundown_cache_init(a, size), 0);
	ck_assert_int_eq(rundown_cache_init(b, size), 0);
	if (ncpu < 2 || !(a->bflags & BLOCK_F_RSEQ) ||
	    sched_setscheduler(0, SCHED_FIFO, &two) != 0) {
		printf("fence under rt load: skipped (one CPU, no rseq path, "
		    "or no real-time priority)\n");
		goto out;
	}
	two.sched_priority = 0;
	ck_assert_int_eq(sched_setscheduler(0, SCHED_OTHER, &two), 0);
	two.sched_priority = 2;
	ck_assert(rundown_cache_acquire(a));
	if ((hog = test_fork_flushed()) == 0)
		rt_hog_main(flag, ncpu, &two);
	ck_assert_int_gt(hog, 0);
	/* This thread stays off the hog's CPU. */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	while (!flag[1])
		sched_yield();

	/* A normal caller's walk, at SCHED_FIFO 1, waits behind the hog. */
	slow = (struct rt_party){ .ref = a };
	ck_assert_int_eq(pthread_create(&ts, NULL, rt_party_main, &slow), 0);
	/* Its run-down begun, a timed wait returns at its deadline. */
	took = rt_timed_wait_beside(a);
	/* A caller at SCHED_FIFO 5 walks at 5: the hog does not hold it. */
	fast = (struct rt_party){ .ref = b, .prio = 5 };
	ck_assert_int_eq(pthread_create(&tf, NULL, rt_party_main, &fast), 0);
	ck_assert_int_eq(pthread_join(tf, NULL), 0);
	ck_assert_int_eq(fast.rc, 0);
	ck_assert_msg(rt_ms(&fast.took) < 500, "FIFO 5's wait took %ld ms",
	    rt_ms(&fast.took));
	flag[0] = 1;
	ck_assert_int_eq(waitpid(hog, &status, 0), hog);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rundown_cache_release(a);
	ck_assert_int_eq(pthread_join(ts, NULL), 0);
	ck_assert_int_eq(slow.rc, 0);
	printf("fence under rt load: a 50 ms wait beside a stalled walk "
	    "took %ld ms; a FIFO 5 caller's run-down %ld ms; the FIFO 1 "
	    "walk behind the FIFO 2 loop %ld ms\n", rt_ms(&took),
	    rt_ms(&fast.took), rt_ms(&slow.took));
	CPU_ZERO(&set);
	for (r = 0; r < ncpu && r < CPU_SETSIZE; r++)
		CPU_SET(r, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
out:
	munmap((void *)flag, sizeof(int) * 2);
	munmap(a, size);
	munmap(b, size);
}
END_TEST

/*
 * A descriptor in a caller's buffer may lie in memory that other
 * processes write.  A shape or an offset scribbled there (rows, cpus,
 * the block's or the row's offset) makes the slow path refuse the
 * descriptor with -EINVAL instead of scanning out of the block; written
 * back, the block works again.  (The fast path trusts the descriptor, as
 * rundown_cache(3) says: sharers of a block trust each other.)
 */
START_TEST(test_descriptor_scribbled)
{
	size_t size = rundown_cache_size();
	struct rundown_status st;
	rundown_cache_t *shared, keep;
	struct timespec zero = { 0, 0 };
	int i;

	shared = test_map_shared(size);
	ck_assert_int_eq(rundown_cache_init(shared, size), 0);
	memcpy(&keep, shared, sizeof(keep));
	for (i = 0; i < 5; i++) {
		switch (i) {
		case 0:
			shared->rows = 4096;
			break;
		case 1:
			shared->cpus = BLOCK_MAX_CPUS;
			break;
		case 2:
			shared->fast.row_off += 1 << 20;
			break;
		case 3:
			shared->fast.block_off -= 1 << 20;
			break;
		default:
			shared->size = 64;
			break;
		}
		ck_assert_int_eq(rundown_cache_wait_timeout(shared, &zero),
		    -EINVAL);
		ck_assert_int_eq(rundown_cache_query(shared, &st), -EINVAL);
		ck_assert_int_eq(rundown_cache_completed(shared), -EINVAL);
		ck_assert_int_eq(rundown_cache_reinit(shared), -EINVAL);
		memcpy(shared, &keep, sizeof(keep));
	}
	exercise(shared);
	munmap(shared, size);
}
END_TEST

/* A process confined to fewer CPUs than the machine has (its cpuset)
 * cannot fence a block in shared memory, which other processes may use
 * on the other CPUs: such a block gets no rseq path.  A block in private
 * memory still does (membarrier reaches its threads wherever they run). */
START_TEST(test_fence_confined)
{
	size_t size = rundown_cache_size();
	rundown_cache_t *shared;

	if (!RUNDOWN_RSEQ_CS || test_cpuset_confine(getpid()) != 0) {
		printf("fence confined: skipped (no rseq path or no cpuset)\n");
		return;
	}
	shared = test_map_shared(size);
	ck_assert_int_eq(rundown_cache_init(shared, size), 0);
	ck_assert_int_eq(rundown_cache_init(ref, bufsize), 0);
	test_cpuset_release(getpid());
	ck_assert_uint_eq(shared->bflags & BLOCK_F_RSEQ, 0);
	ck_assert_uint_eq(shared->fast.rcpus, 0);
	ck_assert_uint_eq(ref->bflags & BLOCK_F_RSEQ, BLOCK_F_RSEQ);
	exercise(shared);
	exercise(ref);
	munmap(shared, size);
}
END_TEST

/* ---- the rseq path and the atomic path together ------------------------- */

/* An operation to run on a thread without an rseq area. */
struct norseq_op {
	rundown_cache_t	*ref;
	bool		 acquire;
	uint32_t	 n;
	bool		 ok;
	bool		 unregistered;
};

static void *
norseq_main(void *arg)
{
	struct norseq_op *op = arg;

#if RUNDOWN_RSEQ_CS
	/* Gives back the area glibc registered: the kernel then leaves the
	 * CPU field negative, as for threads that never had one. */
	if ((int32_t)rd_rseq_area()->cpu_id >= 0 &&
	    syscall(SYS_rseq, rd_rseq_area(), sizeof(struct rseq),
	    1 /* RSEQ_FLAG_UNREGISTER */,
	    RSEQ_SIG) != 0)
		return NULL;
	op->unregistered = (int32_t)rd_rseq_area()->cpu_id < 0;
#else
	op->unregistered = true;
#endif
	if (op->acquire)
		op->ok = rundown_cache_acquire_n(op->ref, op->n);
	else
		rundown_cache_release_n(op->ref, op->n);
	return NULL;
}

/* Acquires or releases n on a thread with no rseq area: the atomic path. */
static bool
norseq(bool acquire, uint32_t n)
{
	struct norseq_op op = { .ref = ref, .acquire = acquire, .n = n };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, norseq_main, &op), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(op.unregistered, "the thread kept its rseq area");
	return op.ok;
}

/* What a row's rseq words hold between them (a count). */
static int64_t
pc_sum(void)
{
	struct block_layout l;
	uint64_t sum = 0;
	uint32_t cpu;

	cache_layout(ref, &l);
	for (cpu = 0; cpu < l.cpus; cpu++)
		sum += *block_pc_at(cache_block(ref), &l, 0, cpu);
	return (int64_t)sum;
}

/*
 * Protections taken on one path and given back on the other: the rseq
 * words and the slot words each drift, and only their sum counts, open
 * and during run-down.  Where this thread has no rseq path, both sides
 * take the atomic one and the sums are still exact.
 */
static void
mixed_paths(void)
{
	bool rseq = test_rseq_path(ref->bflags);
	struct timespec ms = test_ms(1);

	ck_assert(rundown_cache_acquire_n(ref, 2));
	ck_assert_int_eq(pc_sum(), rseq ? 2 : 0);
	norseq(false, 2);
	ck_assert(norseq(true, 3));
	ck_assert_int_eq(pc_sum(), rseq ? 2 : 0);
	rundown_cache_release_n(ref, 2);
	ck_assert_int_eq(pc_sum(), 0);
	expect_state(ref, RUNDOWN_OPEN, 1);

	/* Run down with 1 held on the atomic path and 1 on the rseq path:
	 * both paths refuse, both releases reach the row. */
	ck_assert(rundown_cache_acquire(ref));
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ms), -ETIMEDOUT);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 2);
	ck_assert(!rundown_cache_acquire(ref));
	ck_assert(!norseq(true, 1));
	rundown_cache_release(ref);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1);
	norseq(false, 1);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	ck_assert_int_eq(pc_sum(), 0);
	exercise(ref);
}

/* In a caller's buffer: the run-down walks the CPUs. */
START_TEST(test_mixed_paths)
{
	mixed_paths();
}
END_TEST

/* On the heap: the run-down's fence is membarrier's. */
START_TEST(test_mixed_paths_heap)
{
	rundown_cache_t *saved = ref;

	ref = rundown_cache_alloc(0);
	ck_assert_ptr_nonnull(ref);
	if (RUNDOWN_RSEQ_CS)
		ck_assert_uint_eq(ref->bflags & BLOCK_F_PRIVATE,
		    BLOCK_F_PRIVATE);
	mixed_paths();
	ck_assert_int_eq(rundown_cache_free(ref), 0);
	ref = saved;
}
END_TEST

/* ---- a party that dies half way (MAP_SHARED) ---------------------------- */

/*
 * Blocks in memory shared between processes: the process that starts a
 * run-down or re-initializes may die before it is done.  The next party
 * to wait, complete or re-initialize finishes the work (the run-down
 * lock, lib/block.h), so nothing stays wedged.
 */

static int die_at;		/* the hook step at which the child dies */

static void
die_hook(int step)
{
	if (step == die_at)
		raise(SIGKILL);
}

/* A block for this machine's CPUs in an anonymous shared mapping. */
static void
setup_shared(void)
{
	bufsize = rundown_cache_size();
	buf = test_map_shared(bufsize);
	ref = buf;
	ck_assert_int_eq(rundown_cache_init(ref, bufsize), 0);
}

static void
teardown_shared(void)
{
	munmap(buf, bufsize);
	buf = NULL;
	ref = NULL;
}

/* Forks a child that calls fn on the block and is killed at hook step. */
static void
child_dies_at(int step, int (*fn)(rundown_cache_t *))
{
	pid_t pid;
	int status;

	pid = test_fork_flushed();
	if (pid == 0) {
		die_at = step;
		rd_test_hook = die_hook;
		fn(ref);
		_exit(1);	/* the hook was never reached */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "the child was not killed at step %d (status %#x)", step, status);
}

/* The starter dies after the state flip, before its fence and harvest:
 * the next waiter harvests, and the run-down drains when the holder
 * releases. */
START_TEST(test_starter_dies)
{
	struct timespec ms = test_ms(10), long_wait = test_ms(10000);

	/* On the atomic path the slots are not switched yet: granted. */
	unsigned g = test_rseq_path(ref->bflags) ? 0 : 1;

	ck_assert(rundown_cache_acquire(ref));
	child_dies_at(HOOK_BLOCK_BEGUN, rundown_cache_wait);
	ck_assert_int_eq(rundown_cache_acquire(ref), g);
	/* Finished by this wait (1 + g held), which then runs out. */
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &ms), -ETIMEDOUT);
	ck_assert(rd_load(cache_row(ref), RD_SEQ_CST) & ROW_HARVESTED);
	expect_state(ref, RUNDOWN_RUNNING_DOWN, 1 + g);
	ck_assert(!rundown_cache_acquire(ref));
	rundown_cache_release_n(ref, 1 + g);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &long_wait), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	exercise(ref);
}
END_TEST

/* The re-initializer dies with the rows reset and the word not yet open:
 * completing finishes the reset (nothing was run down since: -EALREADY),
 * and the block works. */
START_TEST(test_resetter_dies_completed)
{
	unsigned g;

	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	child_dies_at(HOOK_BLOCK_RESET, rundown_cache_reinit);
	expect_state(ref, RUNDOWN_RESETTING, 0);
	/* Refused on the rseq path; on the atomic path the slot is reset
	 * already, and the protection survives the reset's end. */
	g = test_rseq_path(ref->bflags) ? 0 : 1;
	ck_assert_int_eq(rundown_cache_acquire(ref), g);
	ck_assert_int_eq(rundown_cache_completed(ref), -EALREADY);
	expect_state(ref, RUNDOWN_OPEN, g);
	rundown_cache_release_n(ref, g);
	exercise(ref);
}
END_TEST

/* The same, found by a timed wait: it finishes the reset, then runs down
 * what the reset opened. */
START_TEST(test_resetter_dies_wait)
{
	struct timespec long_wait = test_ms(10000);

	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	child_dies_at(HOOK_BLOCK_RESET, rundown_cache_reinit);
	ck_assert_int_eq(rundown_cache_wait_timeout(ref, &long_wait), 0);
	expect_state(ref, RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(rundown_cache_reinit(ref), 0);
	exercise(ref);
}
END_TEST

/* And by a re-initialize, which then has nothing to do. */
START_TEST(test_resetter_dies_reinit)
{
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	child_dies_at(HOOK_BLOCK_RESET, rundown_cache_reinit);
	ck_assert_int_eq(rundown_cache_reinit(ref), -EALREADY);
	exercise(ref);
}
END_TEST

static TCase *
cache_tcase(const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	if (setup != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	test_timeout(tc, 30);
	return tc;
}

/* The cases of sizes, initialization and the fence. */
static void
cache_add_setup_cases(Suite *s)
{
	TCase *tc;

	tc = cache_tcase("size", NULL);
	tcase_add_test(tc, test_size_machine);
	tcase_add_test(tc, test_size_formula);
	tcase_add_test(tc, test_size_uniprocessor);
	tcase_add_test(tc, test_layout_refused);
	suite_add_tcase(s, tc);

	tc = cache_tcase("init", setup_multi);
	tcase_add_test(tc, test_init_malloc);
	tcase_add_test(tc, test_init_offsets);
	tcase_add_test(tc, test_init_too_small);
	tcase_add_test(tc, test_init_misaligned);
	tcase_add_test(tc, test_free_caller_buffer);
	tcase_add_test(tc, test_uninitialized);
	tcase_add_test(tc, test_null_refused);
	tcase_add_test(tc, test_alloc_tag_free);
	tcase_add_test(tc, test_fence_kind);
	tcase_add_test(tc, test_fence_kind_pages);
	tcase_add_test(tc, test_fence_failed_waits);
	tcase_add_test(tc, test_fence_failed_late_commit);
	tcase_add_test(tc, test_fence_keeps_sched);
	tcase_add_test(tc, test_fence_under_rt_load);
	tcase_add_test(tc, test_descriptor_scribbled);
	tcase_add_test(tc, test_fence_confined);
	suite_add_tcase(s, tc);
}

/* The cases of counts, the run-down's steps and the block's states. */
static void
cache_add_count_cases(Suite *s)
{
	TCase *tc;

	tc = cache_tcase("counts", setup_multi);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_counts_large);
	tcase_add_test(tc, test_acquire_zero);
	tcase_add_test(tc, test_slot_drift);
	tcase_add_test(tc, test_double_release_refused);
	tcase_add_test(tc, test_cross_slot);
	tcase_add_test(tc, test_cross_slot_waiter);
	tcase_add_test(tc, test_cpu_modulo);
	suite_add_tcase(s, tc);

	tc = cache_tcase("steps", setup_multi);
	tcase_add_test(tc, test_acquire_before_switch);
	tcase_add_test(tc, test_release_on_switched);
	tcase_add_test(tc, test_harvest_zero_drains);
	suite_add_tcase(s, tc);

	tc = cache_tcase("states", setup_multi);
	tcase_add_test(tc, test_wait_nothing_held);
	tcase_add_test(tc, test_completed);
	tcase_add_test(tc, test_completed_busy);
	tcase_add_test(tc, test_reinit);
	tcase_add_test(tc, test_acquire_fails_until_reinit);
	tcase_add_test(tc, test_timed_wait_during_reset);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_wait_timeout_args);
	tcase_add_test(tc, test_waiter_blocked);
	tcase_add_test(tc, test_several_waiters);
	tcase_add_test(tc, test_reinit_residue);
	tcase_add_test(tc, test_cycles);
	tcase_add_test(tc, test_query);
	suite_add_tcase(s, tc);
}

/* The cases of paths, crashed parties and machine shapes. */
static void
cache_add_machine_cases(Suite *s)
{
	TCase *tc;

	tc = cache_tcase("paths", setup_machine);
	tcase_add_test(tc, test_mixed_paths);
	tcase_add_test(tc, test_mixed_paths_heap);
	suite_add_tcase(s, tc);

	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup_shared, teardown_shared);
	test_timeout(tc, 30);
	tcase_add_test(tc, test_starter_dies);
	tcase_add_test(tc, test_resetter_dies_completed);
	tcase_add_test(tc, test_resetter_dies_wait);
	tcase_add_test(tc, test_resetter_dies_reinit);
	suite_add_tcase(s, tc);

	tc = cache_tcase("uniprocessor", setup_single);
	tcase_add_test(tc, test_up_cycle);
	suite_add_tcase(s, tc);

	tc = cache_tcase("machine", setup_machine);
	tcase_add_test(tc, test_machine_migrate);
	tcase_add_test(tc, test_machine_waiter);
	suite_add_tcase(s, tc);
}

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("cache");

	cache_add_setup_cases(s);
	cache_add_count_cases(s);
	cache_add_machine_cases(s);
	return s;
}

int
main(void)
{
	return test_run_suite(cache_suite());
}
