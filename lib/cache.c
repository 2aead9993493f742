/*
 * cache.c: the cache-aware reference, as the public API sees it.
 *
 * The descriptor (cache.h) says where this process's row of slots is; the
 * fast path adds to the current CPU's rseq word in it in a restartable
 * sequence (<rundown/inline.h>, which RUNDOWN_INLINE callers inline), or,
 * where a thread or block cannot, runs the CAS on the CPU's slot word from
 * block.h.  Everything slower is block.c's.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_RSEQ_AREA
#include <sys/rseq.h>
#endif

#include "cache.h"
#include "fence.h"
#include "futex.h"
#include "rseq.h"

/* What layout 1 of <rundown/inline.h> says of the block and descriptor. */
_Static_assert(RUNDOWN_INLINE_STATE_OFF ==
    offsetof(struct rundown_block, state), "inline.h: state word moved");
_Static_assert(RUNDOWN_INLINE_CLOSED == ST_MASK, "inline.h: state bits");
_Static_assert(RUNDOWN_INLINE_PC_OFF == SLOT_PC * sizeof(uint64_t),
    "inline.h: rseq word moved");
_Static_assert(offsetof(struct rundown_cache, fast) == 0,
    "inline.h: the fast fields must come first");

#if RUNDOWN_RSEQ_CS
/*
 * __rseq_offset, copied where the fast path reads it with one load: glibc's
 * own is reached through the GOT, a load more on every call.  glibc sets
 * it before any constructor runs and never changes it; this copy is taken
 * before every other constructor of a program that links the library
 * statically (101, the first priority left to programs), and before any
 * code that calls the library runs when it is shared (a library's
 * constructors run before those of whoever depends on it).
 */
static ptrdiff_t cache_rseq_off;

static __attribute__((constructor(101))) void
cache_rseq_init(void)
{
	cache_rseq_off = __rseq_offset;
}
#endif

/*
 * Set once a translation unit registered a layout other than this
 * library's (rundown_cache_layout()); from then on no descriptor is
 * handed out.  Relaxed: registrations run in constructors, before the
 * threads that ask for descriptors exist, or (dlopen()) under the
 * loader's lock, which orders them before the module's first call.
 */
static int cache_layout_bad;

int
rundown_cache_layout(uint32_t layout)
{
	if (layout == RUNDOWN_CACHE_LAYOUT)
		return 0;
	rd_store(&cache_layout_bad, 1, RD_RELAXED);
	return -EPROTO;
}

int
cache_layout_check(void)
{
	return rd_load(&cache_layout_bad, RD_RELAXED) ? -EPROTO : 0;
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
	return cache_size_cpus(block_cpus());
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
	if (!RUNDOWN_RSEQ_CS)
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
	ref->fast.block_off = (int64_t)(intptr_t)((uintptr_t)src->block -
	    (uintptr_t)ref);
	ref->fast.row_off = (int64_t)(intptr_t)((uintptr_t)block_row_slot(src->row,
	    l, 0) - (uintptr_t)ref);
	ref->cpus = l->cpus;
	ref->fast.shift = (uint32_t)__builtin_ctz(l->stride);
	ref->bflags = l->flags;
	ref->fast.rcpus = cache_rcpus(l->cpus, l->flags);
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
	if (cache_layout_check() != 0)
		return -EPROTO;
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
	return cache_init_cpus(ref, size, block_cpus(), 0);
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
	if (cache_format(ref, size, block_cpus(), tag, CACHE_HEAP) != 0) {
		free(ref);
		errno = EPROTO;
		return NULL;
	}
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
	return (uint64_t *)(void *)((char *)ref + ref->fast.row_off +
	    ((size_t)cpu << ref->fast.shift));
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
	return (int32_t)rd_load(&rd_rseq_area()->cpu_id, RD_RELAXED);
#else
	return -1;
#endif
}

/*
 * The atomic path: the CAS on the current CPU's slot word (block.h), for
 * threads and blocks without the rseq path.  Where the rseq path exists
 * this is its cold tail, out of line; elsewhere it is the fast path.
 */
#if RUNDOWN_RSEQ_CS
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
#if RUNDOWN_RSEQ_CS
	int r;
#endif

	if (__builtin_expect(ref == NULL, 0))
		return false;
#if RUNDOWN_RSEQ_CS
	if ((r = rundown_cache_acquire_rseq(cache_rseq_off, ref, n)) >= 0)
		return r;
#endif
	return cache_acquire_atomic(ref, n);
}

static inline __attribute__((always_inline)) void
cache_release(rundown_cache_t *ref, uint32_t n)
{
	if (__builtin_expect(ref == NULL, 0))
		return;
#if RUNDOWN_RSEQ_CS
	switch (rundown_cache_add(cache_rseq_off, ref, -(uint64_t)n)) {
	case RUNDOWN_RSEQ_DONE:
		return;
	case RUNDOWN_RSEQ_CLOSED:
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
rundown_cache_wait_start(rundown_cache_t *ref)
{
	if (!cache_ok(ref))
		return -EINVAL;
	return ref->ops->wait_start(ref);
}

int
rundown_cache_wait_finish(rundown_cache_t *ref, int fd)
{
	if (!cache_ok(ref) || fd < 0)
		return -EINVAL;
	return ref->ops->wait_finish(ref, fd);
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

static void async_wait_out(struct rundown_block *b);
static void async_forget(const struct rundown_block *b);

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
	if (d.fast.block_off != (int64_t)(block - at) ||
	    d.fast.row_off != (int64_t)(block - at + l->rows_off + l->lead) ||
	    d.fast.shift != (uint32_t)__builtin_ctz(l->stride) ||
	    d.fast.rcpus != cache_rcpus(d.cpus, d.bflags))
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
		r = block_wait(b, &l, NULL);
	else if ((r = deadline_from(timeout, &deadline)) == 0)
		r = block_wait(b, &l, &deadline);
	/* Drained: the caller may free the block once this returns, so no
	 * helper of an abandoned asynchronous wait may still read it. */
	if (r == 0)
		async_wait_out(b);
	return r;
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
	/* No helper of a wait started on it may read it once it is gone. */
	async_forget(cache_block(ref));
	ref->magic = 0;
	free(ref);
	return 0;
}

/* ---- asynchronous waits on the library's own blocks --------------------
 *
 * rundown_cache_wait_start() begins the run-down in the caller's thread,
 * as a wait whose deadline has passed does (block_wait(): the state word
 * flips even if the run-down lock is held, and the fence and the harvest
 * are done if it is not), and hands the rest of the wait to a helper
 * thread: block_await() for that run-down, and no later one.  Then the
 * helper writes a byte into its end of a socket pair and closes it, and
 * the caller's end, the descriptor that start returned, polls readable.
 * Nothing cheaper can tell: the releaser that drains the block touches
 * nothing after its last write but the row's futex (block.h, the last
 * release is the last touch), so only a thread asleep on that futex learns
 * of the drain, and no descriptor becomes readable by a futex wake.  A
 * block already drained when the wait starts gets its byte at once, and
 * no thread.
 *
 * The interleavings guarded against:
 *   - The caller closes its descriptor without finish (abandons the
 *     wait) while the run-down goes on: the helper sleeps at most
 *     ASYNC_POLL_MS at a time, looks at its end between sleeps (a peek
 *     that reads end of file once no copy of the caller's end is open)
 *     and exits, closing its end.  The run-down goes on without it.  So
 *     an abandoned wait costs a thread and two descriptors for that long
 *     at most, drained or not, and a loop that starts and abandons waits
 *     does not pile them up.
 *   - The caller frees or unmaps the block as soon as a wait returns:
 *     the helper of another wait (abandoned, or on its way out) might
 *     still read it.  A helper marks itself out of the block (inside) as
 *     soon as it reads it no more, and nothing that tells the caller the
 *     run-down is over does so before every helper of that run-down is
 *     out: a helper waits for the others before it writes its byte (so a
 *     readable descriptor and a finish that returns 0 mean that no helper
 *     of this process reads the block for that run-down), and
 *     rundown_cache_wait() and a start that finds the block drained wait
 *     for them before they return.  They are all on their way out: the
 *     drain woke them, or they look again within ASYNC_POLL_MS.
 *     rundown_cache_free() tells every helper of the block to leave
 *     (stop), drained or not, and waits until they have.
 *   - The block is drained, re-initialized and run down again before a
 *     helper looks: block_await() keys on the state word, generation
 *     included, so the helper returns and neither waits for nor starts
 *     a run-down that its caller did not start.  The waits above key on
 *     the word too, so none waits for the helper of a later run-down.
 *   - finish() given a number that is no longer the descriptor start
 *     returned (closed, and the number reused since): a wait is found by
 *     its socket's device and inode, which no other open file has.
 *   - fork(): the child has none of the helpers.  Its copies of their
 *     ends are closed and its registry emptied, so that its finish()
 *     says -EBADF and none of its waits waits for a helper that is not
 *     there.
 */
#define ASYNC_POLL_MS 100	/* a helper looks for its caller this often */

struct async_wait {
	struct async_wait *next;
	const rundown_cache_t *ref;	/* what start was called on */
	struct rundown_block *block;
	struct block_layout layout;	/* checked once, by local_block() */
	uint32_t word;		/* the awaited run-down's state word */
	uint64_t seq;		/* the order of starts in this process */
	dev_t dev;		/* the caller's end, as finish() finds it */
	ino_t ino;
	int fd;			/* its number, as start returned it */
	int hfd;		/* the helper's end, or -1 once closed */
	bool open;		/* finish() may still take it */
	bool helper;		/* a helper thread runs for it */
	bool inside;		/* that thread may still read the block */
	bool stop;		/* rundown_cache_free(): leave the block */
};

/* Every wait of this process that finish() may take or whose helper runs,
 * under async_lock; async_cond is broadcast whenever a helper gets out of
 * its block or ends. */
static pthread_mutex_t async_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t async_cond = PTHREAD_COND_INITIALIZER;
static struct async_wait *async_list;
static uint64_t async_seq;
static unsigned async_inside;	/* atomic: helpers inside, a quick look */
static pthread_once_t async_once = PTHREAD_ONCE_INIT;

static void
async_prepare(void)
{
	pthread_mutex_lock(&async_lock);
}

static void
async_parent(void)
{
	pthread_mutex_unlock(&async_lock);
}

/* In the child, the only thread: no helper runs here. */
static void
async_child(void)
{
	struct async_wait *w, *next;

	for (w = async_list; w != NULL; w = next) {
		next = w->next;
		if (w->hfd >= 0)
			close(w->hfd);
		free(w);
	}
	async_list = NULL;
	rd_store(&async_inside, 0, RD_RELAXED);
	/* No thread waits on it here; the parent's waiters, copied, must
	 * not be waited for by a broadcast. */
	pthread_cond_init(&async_cond, NULL);
	pthread_mutex_unlock(&async_lock);
}

static void
async_register(void)
{
	(void)pthread_atfork(async_prepare, async_parent, async_child);
}

/* The device and inode of fd's file: 0 or -EBADF. */
static int
async_identity(int fd, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -EBADF;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/* Takes w off the list and frees it (async_lock held): only once neither
 * finish() nor a helper can come to it. */
static void
async_unlink(struct async_wait *w)
{
	struct async_wait **pp;

	for (pp = &async_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w);
}

/* A helper leaves its block for good (async_lock held). */
static void
async_out(struct async_wait *w)
{
	if (w->inside) {
		w->inside = false;
		rd_fetch_sub(&async_inside, 1, RD_RELAXED);
		pthread_cond_broadcast(&async_cond);
	}
}

/* True while a helper reads b for a run-down other than the one whose
 * state word is s, that is, one that is over (async_lock held). */
static bool
async_any_inside(const struct rundown_block *b, uint32_t s)
{
	const struct async_wait *w;

	for (w = async_list; w != NULL; w = w->next)
		if (w->block == b && w->inside && w->word != s)
			return true;
	return false;
}

/*
 * Waits until no helper reads b for a run-down that is over, for a caller
 * that found b's run-down over and may free b as soon as it returns.
 * The caller reads the state word, not the helpers: a helper out of the
 * block reads it no more.
 */
static void
async_wait_out(struct rundown_block *b)
{
	if (rd_load(&async_inside, RD_RELAXED) == 0)
		return;
	pthread_mutex_lock(&async_lock);
	while (async_any_inside(b, rd_load(&b->state, RD_ACQUIRE)))
		pthread_cond_wait(&async_cond, &async_lock);
	pthread_mutex_unlock(&async_lock);
}

/* True while another helper reads w's block for w's run-down or an
 * earlier one (async_lock held).  By the list alone: w is out of the
 * block, and may not look at it. */
static bool
async_sibling_inside(const struct async_wait *w)
{
	const struct async_wait *o;

	for (o = async_list; o != NULL; o = o->next)
		if (o != w && o->block == w->block && o->inside &&
		    (o->word == w->word || o->seq < w->seq))
			return true;
	return false;
}

/* rundown_cache_free() of b: every wait on it ends (its descriptor reads
 * end of file, and finish() says -EBADF), and once this returns no helper
 * reads b. */
static void
async_forget(const struct rundown_block *b)
{
	struct async_wait *w, *next;

	pthread_mutex_lock(&async_lock);
	for (w = async_list; w != NULL; w = w->next) {
		if (w->block == b) {
			w->stop = true;
			w->open = false;
		}
	}
	for (;;) {
		for (w = async_list; w != NULL; w = w->next)
			if (w->block == b && w->inside)
				break;
		if (w == NULL)
			break;
		pthread_cond_wait(&async_cond, &async_lock);
	}
	for (w = async_list; w != NULL; w = next) {
		next = w->next;
		if (w->block == b && !w->helper)
			async_unlink(w);
	}
	pthread_mutex_unlock(&async_lock);
}

/*
 * Frees the waits that nobody can take any more (async_lock held): those
 * whose helper has ended and whose caller closed its end without finish
 * (its number no longer names that socket).  Each start does it, so that
 * they do not pile up.
 */
static void
async_collect(void)
{
	struct async_wait *w, *next;
	dev_t dev;
	ino_t ino;

	for (w = async_list; w != NULL; w = next) {
		next = w->next;
		if (w->helper)
			continue;
		if (!w->open || async_identity(w->fd, &dev, &ino) != 0 ||
		    dev != w->dev || ino != w->ino)
			async_unlink(w);
	}
}

/* True once the caller has closed its end: a peek reads end of file. */
static bool
async_abandoned(int hfd)
{
	ssize_t n;
	char c;

	do
		n = recv(hfd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == 0;
}

/* The helper thread of one wait (see above). */
static void *
async_helper(void *arg)
{
	struct async_wait *w = arg;
	struct timespec deadline;
	bool gone = false;
	int r;

	(void)pthread_setname_np(pthread_self(), "rd-async");
	for (;;) {
		deadline = deadline_cap(NULL, ASYNC_POLL_MS);
		r = block_await(w->block, &w->layout, w->word, &deadline);
		if (r != -ETIMEDOUT)
			break;
		pthread_mutex_lock(&async_lock);
		gone = w->stop;
		pthread_mutex_unlock(&async_lock);
		if (gone || (gone = async_abandoned(w->hfd)))
			break;
	}
	pthread_mutex_lock(&async_lock);
	async_out(w);
	/* A readable descriptor says that the block may go. */
	while (!gone && async_sibling_inside(w))
		pthread_cond_wait(&async_cond, &async_lock);
	pthread_mutex_unlock(&async_lock);
	if (!gone)
		(void)send(w->hfd, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	pthread_mutex_lock(&async_lock);
	/* Closed under the lock, so that a fork never copies a number
	 * that the list still names but that is closed already. */
	close(w->hfd);
	w->hfd = -1;
	w->helper = false;
	if (gone && !w->stop)
		w->open = false;	/* its caller closed its end */
	if (!w->open)
		async_unlink(w);
	pthread_cond_broadcast(&async_cond);
	pthread_mutex_unlock(&async_lock);
	return NULL;
}

/*
 * Begins the run-down of b unless one has begun, as rundown_cache_wait()
 * would: a re-initialize under way is waited out (or finished, if its
 * party died), and what it opens is run down.  Returns the state word:
 * the run-down's, or its end's.
 */
static uint32_t
async_begin(struct rundown_block *b, const struct block_layout *l)
{
	static const struct timespec past = { 0, 0 };
	uint32_t s;

	for (;;) {
		s = rd_load(&b->state, RD_ACQUIRE);
		switch (s & ST_MASK) {
		case ST_OPEN:
			/* A deadline passed: the state word flips even if the
			 * run-down lock is held, and the fence and the harvest
			 * are then left to block_await() (the helper's). */
			(void)block_wait(b, l, &past);
			continue;
		case ST_RESETTING:
			if (l->flags & BLOCK_F_LOCK)
				block_unlock(b, block_lock(b, l, NULL));
			else
				(void)futex_wait(&b->state, s, NULL);
			continue;
		default:
			return block_state(b, l);
		}
	}
}

static int
local_wait_start(rundown_cache_t *ref)
{
	struct async_wait *w;
	struct rundown_block *b;
	struct block_layout l;
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int sv[2], r;

	if ((b = local_block(ref, &l)) == NULL)
		return -EINVAL;
	(void)pthread_once(&async_once, async_register);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		r = -errno;
		free(w);
		return r;
	}
	w->ref = ref;
	w->block = b;
	w->layout = l;
	w->hfd = sv[1];
	w->fd = sv[0];
	if ((r = async_identity(sv[0], &w->dev, &w->ino)) != 0)
		goto fail;
	w->word = async_begin(b, &l);
	w->open = true;
	pthread_mutex_lock(&async_lock);
	async_collect();
	w->seq = ++async_seq;
	if ((w->word & ST_MASK) == ST_RUNDOWN) {
		w->helper = w->inside = true;
		rd_fetch_add(&async_inside, 1, RD_RELAXED);
	}
	w->next = async_list;
	async_list = w;
	pthread_mutex_unlock(&async_lock);

	if (!w->helper) {
		/* Over already: readable at once, once no helper of an
		 * earlier wait reads the block. */
		async_wait_out(b);
		(void)send(sv[1], "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		pthread_mutex_lock(&async_lock);
		close(sv[1]);
		w->hfd = -1;
		pthread_mutex_unlock(&async_lock);
		return sv[0];
	}
	/* No signal of the application's is delivered to the helper. */
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&t, &attr, async_helper, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r == 0)
		return sv[0];
	/* The run-down stays begun, as a timed wait leaves it. */
	pthread_mutex_lock(&async_lock);
	async_out(w);
	w->helper = false;
	w->open = false;
	w->hfd = -1;
	async_unlink(w);
	close(sv[1]);
	pthread_mutex_unlock(&async_lock);
	close(sv[0]);
	return r;
fail:
	close(sv[0]);
	close(sv[1]);
	free(w);
	return r;
}

/* Never blocks: the byte, or end of file, says that the helper is done
 * (a wait with no timeout returns 0). */
static int
local_wait_finish(rundown_cache_t *ref, int fd)
{
	struct async_wait *w;
	dev_t dev;
	ino_t ino;
	ssize_t n;
	char c;

	if (async_identity(fd, &dev, &ino) != 0)
		return -EBADF;
	pthread_mutex_lock(&async_lock);
	for (w = async_list; w != NULL; w = w->next)
		if (w->open && w->ref == ref && w->dev == dev && w->ino == ino)
			break;
	if (w == NULL) {
		pthread_mutex_unlock(&async_lock);
		return -EBADF;
	}
	do
		n = recv(fd, &c, 1, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		pthread_mutex_unlock(&async_lock);
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN :
		    -errno;
	}
	w->open = false;
	if (!w->helper)
		async_unlink(w);
	pthread_mutex_unlock(&async_lock);
	close(fd);
	return 0;
}

static const struct cache_ops cache_local_ops = {
	.wait = local_wait,
	.completed = local_completed,
	.reinit = local_reinit,
	.query = local_query,
	.free = local_free,
	.wait_start = local_wait_start,
	.wait_finish = local_wait_finish,
};
