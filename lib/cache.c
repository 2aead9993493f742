/*
 * cache.c: the cache-aware reference, as the public API sees it.
 *
 * The descriptor (cache.h) says where this process's row of slots is; the
 * fast path adds to the current CPU's rseq word in it in a restartable
 * sequence (rseq.h), or, where a thread or block cannot, runs the CAS on
 * the CPU's slot word from block.h.  Everything slower is block.c's.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_RSEQ_AREA
#include <sys/rseq.h>
#endif

#include "cache.h"
#include "fence.h"
#include "futex.h"
#include "rseq.h"

uint32_t
cache_cpus(void)
{
	static uint32_t cpus;
	uint32_t n = rd_load(&cpus, RD_RELAXED);
	long conf;

	if (n == 0) {
		/* Configured, not online: a CPU brought online later still
		 * gets a slot of its own.  Racing callers compute the same. */
		conf = sysconf(_SC_NPROCESSORS_CONF);
		if (conf < 1)
			conf = 1;
		if (conf > (long)BLOCK_MAX_CPUS)
			conf = BLOCK_MAX_CPUS;
		n = (uint32_t)conf;
		rd_store(&cpus, n, RD_RELAXED);
	}
	return n;
}

size_t
cache_size_cpus(uint32_t cpus)
{
	struct block_layout l;
	size_t slack;

	if (block_layout(cpus, 1, &l) != 0)
		return 0;
	/* The block starts at the first aligned address after the
	 * descriptor; the slack line covers any start of the buffer. */
	slack = l.align > alignof(struct rundown_cache) ? l.align : 0;
	return sizeof(struct rundown_cache) + slack + l.size;
}

size_t
rundown_cache_size(void)
{
	return cache_size_cpus(cache_cpus());
}

/*
 * The flags of a block this process formats at ref (size bytes, written
 * already).  A heap block is this process's alone (a child after fork()
 * has a copy), and so is a caller's buffer in private memory: the
 * membarrier fence reaches every thread that can commit.  A caller's
 * buffer in shared memory may be used by other processes: its run-down
 * runs on every CPU, which this process must be allowed on, or no thread
 * gets the rseq path.
 * Both have the run-down lock (block.h), so that a run-down or a
 * re-initialize left half done by a process that died is finished by the
 * next party to come.
 */
static uint32_t
cache_bflags(const void *ref, size_t size, uint32_t cpus, uint32_t flags)
{
	if (!RD_HAVE_RSEQ_CS)
		return BLOCK_F_LOCK;
	if ((flags & CACHE_HEAP) || fence_memory_private(ref, size))
		return fence_private_ready() || fence_cpus_reach(cpus) ?
		    BLOCK_F_LOCK | BLOCK_F_RSEQ | BLOCK_F_PRIVATE :
		    BLOCK_F_LOCK;
	return fence_cpus_reach(cpus) ? BLOCK_F_LOCK | BLOCK_F_RSEQ :
	    BLOCK_F_LOCK;
}

static const struct cache_ops cache_local_ops;

void
cache_fill(rundown_cache_t *ref, const struct cache_source *src)
{
	const struct block_layout *l = src->layout;

	memset(ref, 0, sizeof(*ref));
	ref->flags = src->flags;
	ref->block_off = (int64_t)(intptr_t)((uintptr_t)src->block -
	    (uintptr_t)ref);
	ref->row_off = (int64_t)(intptr_t)((uintptr_t)block_row_slot(src->row,
	    l, 0) - (uintptr_t)ref);
	ref->cpus = l->cpus;
	ref->shift = (uint32_t)__builtin_ctz(l->stride);
	ref->bflags = l->flags;
	ref->rcpus = cache_rcpus(l->cpus, l->flags);
	ref->row = src->row_index;
	ref->rows = l->rows;
	ref->tag = src->tag;
	ref->size = src->size;
	ref->ops = src->ops;
	/* Last: a descriptor with its magic is whole. */
	ref->magic = CACHE_MAGIC;
}

/* Formats a one-row block after the descriptor at ref. */
static int
cache_format(rundown_cache_t *ref, size_t size, uint32_t cpus, uint32_t tag,
    uint32_t flags)
{
	struct block_layout l;
	struct rundown_block *b;
	uintptr_t start;
	size_t need = cache_size_cpus(cpus);

	if (ref == NULL || need == 0 ||
	    (uintptr_t)ref % alignof(struct rundown_cache) != 0)
		return -EINVAL;
	if (size < need)
		return -ENOSPC;
	block_layout(cpus, 1, &l);
	/* The buffer written first: the privacy check needs its pages. */
	memset(ref, 0, need);
	l.flags = cache_bflags(ref, need, cpus, flags);
	start = round_up((uintptr_t)ref + sizeof(*ref), l.align);
	b = (struct rundown_block *)start;
	block_format(b, &l, tag);
	cache_fill(ref, &(struct cache_source){ .block = b,
	    .row = block_row(b, &l, 0), .row_index = 0, .layout = &l,
	    .ops = &cache_local_ops, .flags = flags, .tag = tag,
	    .size = size });
	return 0;
}

int
cache_init_cpus(rundown_cache_t *ref, size_t size, uint32_t cpus,
    uint32_t tag)
{
	return cache_format(ref, size, cpus, tag, CACHE_CALLER_BUFFER);
}

int
rundown_cache_init(rundown_cache_t *ref, size_t size)
{
	return cache_init_cpus(ref, size, cache_cpus(), 0);
}

rundown_cache_t *
rundown_cache_alloc(uint32_t tag)
{
	size_t size = rundown_cache_size();
	rundown_cache_t *ref;

	/* Line-aligned, whole lines: the descriptor, read on every acquire,
	 * must not share a line with someone else's busy data. */
	size = round_up(size, BLOCK_LINE);
	ref = aligned_alloc(BLOCK_LINE, size);
	if (ref == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	cache_format(ref, size, cache_cpus(), tag, CACHE_HEAP);
	return ref;
}

/* True if ref looks like a descriptor this library initialized. */
static inline bool
cache_ok(const rundown_cache_t *ref)
{
	return ref != NULL && ref->magic == CACHE_MAGIC;
}

int
rundown_cache_free(rundown_cache_t *ref)
{
	if (!cache_ok(ref))
		return -EINVAL;
	return ref->ops->free(ref);
}

uint32_t
rundown_cache_tag(const rundown_cache_t *ref)
{
	return cache_ok(ref) ? ref->tag : 0;
}

/* The slot for cpu in this process's row. */
static inline uint64_t *
cache_slot(rundown_cache_t *ref, uint32_t cpu)
{
	if (__builtin_expect(cpu >= ref->cpus, 0))
		cpu %= ref->cpus;
	return (uint64_t *)(void *)((char *)ref + ref->row_off +
	    ((size_t)cpu << ref->shift));
}

/* The CPU from the kernel, for threads with no rseq area. */
static uint32_t
cache_cpu_syscall(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : (uint32_t)cpu;
}

/* Acquire and release on the kernel's CPU: the fast path's cold tail, out
 * of line so that the fast path keeps nothing live across a call. */
static __attribute__((noinline, cold)) bool
cache_acquire_syscall(rundown_cache_t *ref, uint32_t n)
{
	return cache_acquire_on(ref, cache_cpu_syscall(), n);
}

static __attribute__((noinline, cold)) void
cache_release_syscall(rundown_cache_t *ref, uint32_t n)
{
	cache_release_on(ref, cache_cpu_syscall(), n);
}

/*
 * The current CPU, or -1 if the rseq area cannot say.  glibc registers an
 * rseq area for every thread, and the kernel stores the CPU there whenever
 * the thread is scheduled: one load, where sched_getcpu() is a call that
 * costs as much as the acquire itself.  The CPU may change right after the
 * load; that costs only contention on a slot, never correctness.  The area
 * is part of every thread's control block even when glibc did not register
 * it (old kernel, valgrind, glibc.pthread.rseq=0): glibc then stores
 * RSEQ_CPU_ID_REGISTRATION_FAILED (negative) in it, so the sign alone says
 * whether to ask the kernel, and __rseq_size need not be loaded.
 */
static inline __attribute__((always_inline)) int32_t
cache_rseq_cpu(void)
{
#ifdef HAVE_RSEQ_AREA
	const struct rseq *rs = (const struct rseq *)(void *)
	    ((char *)__builtin_thread_pointer() + __rseq_offset);

	return (int32_t)rd_load(&rs->cpu_id, RD_RELAXED);
#else
	return -1;
#endif
}

/*
 * The atomic path: the CAS on the current CPU's slot word (block.h), for
 * threads and blocks without the rseq path.  Where the rseq path exists
 * this is its cold tail, out of line; elsewhere it is the fast path.
 */
#if RD_HAVE_RSEQ_CS
#define CACHE_ATOMIC_PATH static __attribute__((noinline, cold))
#else
#define CACHE_ATOMIC_PATH static inline __attribute__((always_inline))
#endif

CACHE_ATOMIC_PATH bool
cache_acquire_atomic(rundown_cache_t *ref, uint32_t n)
{
	int32_t cpu = cache_rseq_cpu();

	if (__builtin_expect(cpu < 0, 0))
		return cache_acquire_syscall(ref, n);
	return block_slot_acquire(cache_slot(ref, (uint32_t)cpu), n);
}

/* Release on whatever CPU we run on now: counts are summed, never per
 * slot.  An ACTIVE slot sends the release to the row (out of line). */
CACHE_ATOMIC_PATH void
cache_release_atomic(rundown_cache_t *ref, uint32_t n)
{
	int32_t cpu = cache_rseq_cpu();

	if (__builtin_expect(cpu < 0, 0)) {
		cache_release_syscall(ref, n);
		return;
	}
	if (__builtin_expect(!block_slot_release(cache_slot(ref,
	    (uint32_t)cpu), n), 0))
		cache_release_slow(ref, n);
}

/*
 * The fast path, inlined into each public entry point: one restartable
 * sequence that adds n to this CPU's rseq word while the state word reads
 * OPEN (rseq.h).  A closed block refuses the acquire, or sends the release
 * to the row; no rseq slot for this thread or block (rcpus 0, or no rseq
 * area) takes the atomic path.
 */
static inline __attribute__((always_inline)) bool
cache_acquire(rundown_cache_t *ref, uint32_t n)
{
	if (__builtin_expect(ref == NULL, 0))
		return false;
#if RD_HAVE_RSEQ_CS
	switch (rd_rseq_add(__rseq_offset, cache_state(ref), ST_MASK,
	    cache_pc(ref), ref->shift, ref->rcpus, n)) {
	case RD_RSEQ_DONE:
		return true;
	case RD_RSEQ_CLOSED:
		return false;
	default:
		break;
	}
#endif
	return cache_acquire_atomic(ref, n);
}

static inline __attribute__((always_inline)) void
cache_release(rundown_cache_t *ref, uint32_t n)
{
	if (__builtin_expect(ref == NULL, 0))
		return;
#if RD_HAVE_RSEQ_CS
	switch (rd_rseq_add(__rseq_offset, cache_state(ref), ST_MASK,
	    cache_pc(ref), ref->shift, ref->rcpus, -(uint64_t)n)) {
	case RD_RSEQ_DONE:
		return;
	case RD_RSEQ_CLOSED:
		/* Run down (or being re-initialized): the rseq words are
		 * harvested, so the release is owed to the row. */
		cache_release_slow(ref, n);
		return;
	default:
		break;
	}
#endif
	cache_release_atomic(ref, n);
}

bool
rundown_cache_acquire_n(rundown_cache_t *ref, uint32_t n)
{
	return cache_acquire(ref, n);
}

bool
rundown_cache_acquire(rundown_cache_t *ref)
{
	return cache_acquire(ref, 1);
}

void
rundown_cache_release_n(rundown_cache_t *ref, uint32_t n)
{
	cache_release(ref, n);
}

void
rundown_cache_release(rundown_cache_t *ref)
{
	cache_release(ref, 1);
}

bool
cache_acquire_on(rundown_cache_t *ref, uint32_t cpu, uint32_t n)
{
	return block_slot_acquire(cache_slot(ref, cpu), n);
}

void
cache_release_on(rundown_cache_t *ref, uint32_t cpu, uint32_t n)
{
	if (!block_slot_release(cache_slot(ref, cpu), n))
		cache_release_slow(ref, n);
}

/* Out of line and cold: inlined, its frame would be set up on every
 * fast-path release. */
__attribute__((noinline, cold)) void
cache_release_slow(rundown_cache_t *ref, uint32_t n)
{
	/* A child's copy of its parent's row: the parent's to release. */
	if (__builtin_expect(ref->flags & CACHE_FORKED, 0))
		return;
	block_release_slow(cache_row(ref), n);
}

int
rundown_cache_wait(rundown_cache_t *ref)
{
	return rundown_cache_wait_timeout(ref, NULL);
}

int
rundown_cache_wait_timeout(rundown_cache_t *ref, const struct timespec *timeout)
{
	if (!cache_ok(ref))
		return -EINVAL;
	return ref->ops->wait(ref, timeout);
}

int
rundown_cache_completed(rundown_cache_t *ref)
{
	if (!cache_ok(ref))
		return -EINVAL;
	return ref->ops->completed(ref);
}

int
rundown_cache_reinit(rundown_cache_t *ref)
{
	if (!cache_ok(ref))
		return -EINVAL;
	return ref->ops->reinit(ref);
}

int
rundown_cache_query(const rundown_cache_t *ref, struct rundown_status *st)
{
	if (!cache_ok(ref) || st == NULL)
		return -EINVAL;
	return ref->ops->query(ref, st);
}

/* ---- the library's own blocks: run down in this process ---------------- */

/*
 * The block of one of the library's own descriptors, and its shape in l,
 * from one copy of the descriptor's fields that is checked against what
 * cache_format() wrote: NULL if it is not that (-EINVAL for the caller).
 * The descriptor may lie in memory that other processes write (a
 * caller's shared buffer): a shape or an offset scribbled there must not
 * send the slow path's scans out of the block (rundown_cache(3), Trust).
 * Every field is fixed by the descriptor's own address and its CPU count.
 */
static struct rundown_block *
local_block(const rundown_cache_t *ref, struct block_layout *l)
{
	rundown_cache_t d;
	uintptr_t at = (uintptr_t)ref, block;

	memcpy(&d, ref, sizeof(d));
	if (d.cpus == 0 || d.cpus > BLOCK_MAX_CPUS || d.rows != 1 ||
	    d.size < cache_size_cpus(d.cpus) ||
	    (d.bflags & ~(BLOCK_F_RSEQ | BLOCK_F_PRIVATE | BLOCK_F_LOCK)) != 0)
		return NULL;
	block_layout(d.cpus, 1, l);
	l->flags = d.bflags;
	block = round_up(at + sizeof(*ref), l->align);
	if (d.block_off != (int64_t)(block - at) ||
	    d.row_off != (int64_t)(block - at + l->rows_off + l->lead) ||
	    d.shift != (uint32_t)__builtin_ctz(l->stride) ||
	    d.rcpus != cache_rcpus(d.cpus, d.bflags))
		return NULL;
	return (struct rundown_block *)block;
}

static int
local_wait(rundown_cache_t *ref, const struct timespec *timeout)
{
	struct rundown_block *b;
	struct block_layout l;
	struct timespec deadline;
	int r;

	if ((b = local_block(ref, &l)) == NULL)
		return -EINVAL;
	if (timeout == NULL)
		return block_wait(b, &l, NULL);
	if ((r = deadline_from(timeout, &deadline)) != 0)
		return r;
	return block_wait(b, &l, &deadline);
}

static int
local_completed(rundown_cache_t *ref)
{
	struct rundown_block *b;
	struct block_layout l;

	if ((b = local_block(ref, &l)) == NULL)
		return -EINVAL;
	return block_completed(b, &l);
}

static int
local_reinit(rundown_cache_t *ref)
{
	struct rundown_block *b;
	struct block_layout l;

	if ((b = local_block(ref, &l)) == NULL)
		return -EINVAL;
	return block_reinit(b, &l);
}

static int
local_query(const rundown_cache_t *ref, struct rundown_status *st)
{
	struct rundown_block *b;
	struct block_layout l;

	if ((b = local_block(ref, &l)) == NULL)
		return -EINVAL;
	block_query(b, &l, st);
	return 0;
}

/* Only what rundown_cache_alloc() made is freed; a caller's buffer is
 * the caller's. */
static int
local_free(rundown_cache_t *ref)
{
	if (!(ref->flags & CACHE_HEAP))
		return -EPERM;
	ref->magic = 0;
	free(ref);
	return 0;
}

static const struct cache_ops cache_local_ops = {
	.wait = local_wait,
	.completed = local_completed,
	.reinit = local_reinit,
	.query = local_query,
	.free = local_free,
};
