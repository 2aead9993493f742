/*
 * block.c: run-down of a cache-aware block (see block.h for the layout).
 *
 * The slow path in one place: starting run-down, charging releases that
 * find their slot ACTIVE, detecting the drain, waking waiters, completing
 * and re-initializing.  The orderings on this path are seq_cst unless a
 * comment says otherwise: it runs once per run-down per slot, and seq_cst
 * is what makes the "last two to finish" argument below hold.
 *
 * Why the drain is detected, and never early:
 *   - A row's drain word reads "HARVESTED | DONE, count 0" only after its
 *     harvest (before it, releases can only push the count below zero),
 *     and once every protection of the row was released.
 *   - Releasers do not mark the drain: the CAS that drains a row is a
 *     releaser's last access to the block (block.h), then it wakes that
 *     row's futex.  The waiting side marks it: the starter right after
 *     its harvest, a waiter (block_wait) or rundownd (block_settle, when
 *     its watcher pokes) when block_undrained() finds every row drained.  A waiter that finds a
 *     row not drained sleeps on that row's futex with the value it read,
 *     so the drain of that row, which changes the low half (DONE), wakes
 *     it or keeps it from sleeping; it then looks at the next row.
 *   - The RUNDOWN -> DRAINED transition is a CAS on the state word the
 *     scanner read before scanning, generation included, so a scan that
 *     is late (the block was re-initialized and is running down again)
 *     cannot drain the new run-down.
 *
 * lib/block.pml models this algorithm for spin (tests/check-model.sh),
 * one step per atomic access, sequentially consistent: two processes on
 * rows of two slots, each acquire and release on the rseq path (a section
 * that reads the state word and commits to the rseq word, which the
 * fence makes restart) or on the atomic path (releases that migrate to
 * the other slot), run-down (flip, fence, harvest), the drain,
 * completion, re-initialize (the rseq words zeroed), a process killed at
 * any step and its row reclaimed, rundownd killed in a harvest (before
 * its fence, too) or a reset and the block adopted, and a library
 * block's starter killed between its flip and the end of its harvest,
 * whose work the next waiter finishes under the run-down lock.  It checks
 * that no wait ends while protection is held, that no harvested row owes
 * below zero, that no section commits after its run-down's fence, that
 * no releaser touches the block after its decisive write, and that a
 * run-down drains once nothing is held.  Change the model with the
 * algorithm.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "deadline.h"
#include "fence.h"
#include "futex.h"
#include "task.h"
#include "testhook.h"

/* Count held by a slot word, ACTIVE or not (modular, sign-extended). */
static inline uint64_t
slot_count(uint64_t v)
{
	return (uint64_t)((int64_t)(v & ~SLOT_ACTIVE) >> 1);
}

/* Count in a row drain word (signed; the word is kept unsigned so that
 * its arithmetic wraps instead of overflowing). */
static inline int64_t
row_count(uint64_t d)
{
	return (int64_t)d >> 2;
}

/* True once a row has been harvested and everything it owed released. */
static inline bool
row_drained(uint64_t d)
{
	return d == ROW_FLAGS;
}

/*
 * True if a harvested row owes less than nothing: no release can take it
 * there (block_release_slow() refuses), so only a write into the row's
 * memory did (a client scribbling its own row), or the count wrapped.
 */
static inline bool
row_forged(uint64_t d)
{
	return (d & ROW_HARVESTED) && row_count(d) < 0;
}

/* True if the run-down waits no longer for a row: drained, or forged
 * (block.h, block_row_forged). */
static inline bool
row_done(uint64_t d)
{
	return row_drained(d) || row_forged(d);
}

/* What a CAS on a harvested row writes: DONE with a count of zero. */
static inline uint64_t
row_settle(uint64_t d)
{
	return (d & ROW_HARVESTED) && row_count(d) == 0 ? d | ROW_DONE : d;
}

void (*rd_test_hook)(int step);

/* The parts of a layout that do not depend on how rows are placed. */
static int
layout_rows(uint32_t cpus, uint32_t rows, struct block_layout *out)
{
	if (cpus == 0 || rows == 0 || cpus > BLOCK_MAX_CPUS ||
	    rows > BLOCK_MAX_ROWS)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->cpus = cpus;
	out->rows = rows;
	if (cpus == 1) {
		/* One CPU: nothing to bounce, so no padding (as Windows):
		 * the drain word, the slot word and its rseq word, side by
		 * side. */
		out->align = sizeof(uint64_t);
		out->stride = 2 * sizeof(uint64_t);
	} else {
		out->align = BLOCK_LINE;
		out->stride = BLOCK_LINE;
	}
	/* The drain word alone on its line: releases charge it only while
	 * the block runs down, and must not bounce a slot's line then. */
	out->lead = (uint32_t)out->align;
	out->row_size = out->lead + (size_t)cpus * out->stride;
	return 0;
}

uint32_t
block_cpus(void)
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

int
block_layout(uint32_t cpus, uint32_t rows, struct block_layout *out)
{
	if (layout_rows(cpus, rows, out) != 0)
		return -EINVAL;
	out->rows_off = round_up(sizeof(struct rundown_block), out->align);
	out->row_stride = out->row_size;
	out->size = out->rows_off + (size_t)rows * out->row_stride;
	return 0;
}

int
block_layout_paged(uint32_t cpus, uint32_t rows, size_t page,
    struct block_layout *out)
{
	if (page == 0 || (page & (page - 1)) != 0 ||
	    layout_rows(cpus, rows, out) != 0)
		return -EINVAL;
	out->rows_off = round_up(sizeof(struct rundown_block), page);
	out->row_stride = round_up(out->row_size, page);
	out->size = out->rows_off + (size_t)rows * out->row_stride;
	return 0;
}

void
block_format(struct rundown_block *b, const struct block_layout *l,
    uint32_t tag)
{
	memset(b, 0, l->size);
	block_format_header(b, l, tag);
}

void
block_format_header(struct rundown_block *b, const struct block_layout *l,
    uint32_t tag)
{
	memset(b, 0, sizeof(*b));	/* the lock free */
	b->magic = BLOCK_MAGIC;
	b->version = BLOCK_VERSION;
	b->line = BLOCK_LINE;
	b->tag = tag;
	b->cpus = l->cpus;
	b->rows = l->rows;
	b->stride = l->stride;
	b->rows_off = (uint32_t)l->rows_off;
	b->row_stride = (uint32_t)l->row_stride;
	b->flags = l->flags;
	b->state = ST_OPEN;
}

void
block_check_drained(struct rundown_block *b, const struct block_layout *l, uint32_t seen)
{
	uint32_t r;

	if ((seen & ST_MASK) != ST_RUNDOWN)
		return;
	for (r = 0; r < l->rows; r++) {
		if (block_live(l, r) &&
		    !row_done(rd_load(block_row(b, l, r), RD_SEQ_CST)))
			return;
	}
	/* No wake: nobody sleeps on the state word while it reads RUNDOWN
	 * (waiters sleep on the rows' futexes, which the drains woke; only
	 * a re-initialize is waited for on the state word, and block_reset
	 * wakes that).  A system call less between the last release and the
	 * wait's return. */
	rd_cas(&b->state, &seen, (seen & ~ST_MASK) | ST_DRAINED, RD_SEQ_CST,
	    RD_RELAXED);
}

/*
 * Ends the run-down whose state word is s, for a caller whose scan
 * (block_undrained(), which read s before it) found every live row done:
 * RUNDOWN -> DRAINED by one CAS, which fails only if the word has moved
 * on already.  Returns the word now.  No second scan, as
 * block_check_drained() makes: a row that its process flips between done
 * and not done could fail every second scan while the first passes, and
 * the caller's loop would never end (lib/block.pml, "starve").  No wake,
 * as there.
 */
static uint32_t
block_end_rundown(struct rundown_block *b, uint32_t s)
{
	uint32_t d = (s & ~ST_MASK) | ST_DRAINED;

	return rd_cas(&b->state, &s, d, RD_SEQ_CST, RD_SEQ_CST) ? d : s;
}

void
block_release_slow(uint64_t *drain, uint32_t n)
{
	uint64_t charge = ROW_UNIT * n, d, nd;

	TEST_HOOK(HOOK_BLOCK_CHARGE);
	/*
	 * The slot is ACTIVE: run-down started (or a re-initialize has not
	 * reset this slot yet), so the release is owed to the row's drain
	 * word, which outlives the slot's count.  release (within seq_cst):
	 * the waiter that sees the drain also sees this caller's accesses.
	 */
	d = rd_load(drain, RD_RELAXED);
	do {
		nd = d - charge;
		/*
		 * Once harvested, a row's count is what it still owes and
		 * only falls to zero.  Below zero, this release matched no
		 * acquire (a double release): kept, it would outlive
		 * re-initialize as residue and no later run-down could
		 * drain, so it is refused, as the plain reference refuses it
		 * with -ERANGE.  (A release that migrated across a
		 * re-initialize cannot land here: its acquire saw a slot
		 * reset after HARVESTED was cleared.)
		 */
		if ((d & ROW_HARVESTED) && row_count(nd) < 0)
			return;
		nd = row_settle(nd);
	} while (!rd_cas(drain, &d, nd, RD_SEQ_CST, RD_RELAXED));
	if (!row_drained(nd))
		return;
	/* The block may be gone from here on: a waiter that saw the row
	 * drained may have returned and freed it.  Only the wake is left,
	 * a system call that fails harmlessly on an unmapped address. */
	TEST_HOOK(HOOK_BLOCK_CHARGED);
	futex_wake_all(block_row_futex(drain));
}

bool
block_undrained(struct rundown_block *b, const struct block_layout *l,
    uint32_t **word, uint32_t *value)
{
	uint64_t d;
	uint32_t r;

	for (r = 0; r < l->rows; r++) {
		if (!block_live(l, r))
			continue;
		/* seq_cst: pairs with the draining CASes, so a scan that
		 * finds every row drained sees every release finished. */
		d = rd_load(block_row(b, l, r), RD_SEQ_CST);
		if (!row_done(d)) {
			/* The low-order half, where block_row_futex()
			 * points whatever the byte order. */
			*word = block_row_futex(block_row(b, l, r));
			*value = (uint32_t)d;
			return true;
		}
	}
	return false;
}

int
block_flip(struct rundown_block *b, uint32_t *state)
{
	uint32_t s = rd_load(&b->state, RD_SEQ_CST);

	while ((s & ST_MASK) == ST_OPEN) {
		if (rd_cas(&b->state, &s, (s & ~ST_MASK) | ST_RUNDOWN,
		    RD_SEQ_CST, RD_SEQ_CST)) {
			/* Who to finish for, should the starter die (rundownd). */
			rd_store(&b->starter, (int32_t)getpid(), RD_RELAXED);
			*state = (s & ~ST_MASK) | ST_RUNDOWN;
			return 0;
		}
	}
	*state = s;
	return -EALREADY;
}

int
block_fence(const struct block_layout *l)
{
	if (!(l->flags & BLOCK_F_RSEQ))
		return 0;	/* no thread commits in an rseq word */
	/*
	 * After this, every section that read OPEN has committed (and the
	 * kernel's barrier on its CPU orders that before the harvest's
	 * loads), or will restart and read RUNDOWN.  A private block needs
	 * only this process's threads; membarrier interrupts exactly those.
	 * Any other block may have users in other processes: run on every
	 * CPU.  A CPU out of this thread's reach (-EPERM), or a walk that
	 * cannot begin, is a fence that did not happen: a section there may
	 * still commit, so the caller must not harvest.
	 */
	if ((l->flags & BLOCK_F_PRIVATE) && fence_private() == 0)
		return 0;
	return fence_cpus(l->cpus);
}

void
block_fence_failed(struct rundown_block *b)
{
	/* relaxed: a count for a report, ordered with nothing. */
	rd_fetch_add(&b->fence_failures, 1, RD_RELAXED);
}

void
block_switch(struct rundown_block *b, const struct block_layout *l, uint32_t row,
    uint32_t cpu)
{
	/*
	 * Set ACTIVE, keep the count: one fetch-or, which no other write to
	 * the slot can make retry (the process of a rundownd row may write
	 * its words at will, and a loop of the daemon's that it could keep
	 * failing would stall every block).  From here no acquire or
	 * release changes the slot (both CAS only open words), so its count
	 * is stable until re-initialize.  acquire (within seq_cst): pairs
	 * with the release CAS of every fast-path release this slot saw, so
	 * the drain that follows happens after those callers' accesses to
	 * the object.
	 */
	rd_fetch_or(block_slot_at(b, l, row, cpu), SLOT_ACTIVE, RD_SEQ_CST);
}

void
block_harvest_row(struct rundown_block *b, const struct block_layout *l, uint32_t row)
{
	uint64_t *drain = block_row(b, l, row), sum = 0, d, add;
	uint32_t cpu;

	/* Every slot of the row first: only then are their counts final. */
	for (cpu = 0; cpu < l->cpus; cpu++)
		block_switch(b, l, row, cpu);
	for (cpu = 0; cpu < l->cpus; cpu++)
		sum += slot_count(rd_load(block_slot_at(b, l, row, cpu), RD_ACQUIRE));
	/* relaxed: block_fence() ordered every commit before these loads,
	 * and none can come after it.  (Zero in a block without rseq.) */
	for (cpu = 0; cpu < l->cpus; cpu++)
		sum += rd_load(block_pc_at(b, l, row, cpu), RD_RELAXED);

	add = sum * ROW_UNIT + ROW_HARVESTED;
	d = rd_load(drain, RD_SEQ_CST);
	/* Once, however often this runs (a row harvested already is only
	 * settled, below). */
	if (!(d & ROW_HARVESTED) && (l->flags & BLOCK_F_LOCK)) {
		/*
		 * Add the sum and set HARVESTED in one CAS, so that the row
		 * is harvested exactly once even by two parties at a time (a
		 * library block whose lock no longer works).  Releases that
		 * found a switched slot have already pushed the count below
		 * zero; they and the sum commute.  Modular arithmetic in
		 * uint64_t: a slot's count may be "negative" and only the
		 * row's total is meaningful.  Only the processes that map
		 * the block write it, all trusted alike.
		 */
		while (!(d & ROW_HARVESTED)) {
			if (rd_cas(drain, &d, row_settle(d + add), RD_SEQ_CST,
			    RD_SEQ_CST)) {
				d = row_settle(d + add);
				break;
			}
		}
	} else if (!(d & ROW_HARVESTED)) {
		/*
		 * rundownd's: its loop is the only harvester, so nothing but
		 * the row's own process sets HARVESTED between the load and
		 * the add (and then only its own row reads wrong: the carry
		 * clears the flags, and it is a holder of its own making),
		 * and a loop that this process could keep failing must not
		 * be the daemon's.  One fetch-add adds the sum and sets
		 * HARVESTED (bit 0 is clear, and counts move in units of 4,
		 * so no carry reaches the flags); the releases commute with
		 * it.
		 */
		d = rd_fetch_add(drain, add, RD_SEQ_CST) + add;
	}
	/*
	 * Harvested owing nothing, the row is drained: DONE, by a CAS that
	 * no release can make fail (a harvested row at zero refuses them),
	 * so that only a row its process rewrote is left as it reads.  Also
	 * for a row harvested already: a daemon killed between its
	 * fetch-add and this CAS left the row harvested at zero without
	 * DONE, and the next daemon's harvest must finish it, or the
	 * run-down would wait for it until its process exits.
	 */
	if (row_settle(d) != d && rd_cas(drain, &d, row_settle(d), RD_SEQ_CST,
	    RD_SEQ_CST))
		d = row_settle(d);
	/* Drained by the harvest: a waiter may already sleep on the row (it
	 * found the run-down begun and this row not yet harvested). */
	if (row_done(d))
		futex_wake_all(block_row_futex(drain));
}

/*
 * From the state word s: ends the run-down it shows if every row is
 * drained, and returns the word then.  While it shows RUNDOWN, *word and
 * *value are the futex of the first row not yet drained and the value it
 * held, read in the same pass that found the run-down still running; else
 * NULL and 0.  Each block_end_rundown() moves the word off s, so the loop
 * runs at most twice whatever a process writes into its row.
 */
static uint32_t
settle(struct rundown_block *b, const struct block_layout *l, uint32_t s,
    uint32_t **word, uint32_t *value)
{
	*word = NULL;
	*value = 0;
	while ((s & ST_MASK) == ST_RUNDOWN && !block_undrained(b, l, word, value))
		s = block_end_rundown(b, s);
	return s;
}

uint32_t
block_state(struct rundown_block *b, const struct block_layout *l)
{
	uint32_t value, *word;

	return settle(b, l, rd_load(&b->state, RD_SEQ_CST), &word, &value);
}

/*
 * Fences, harvests every row of the run-down whose word is s, and ends it
 * if that drains the block.  Repeating it adds each row once (HARVESTED),
 * so whoever finishes a run-down for a starter that died repeats it all,
 * the fence included (the starter may have died before its fence ended).
 */
static void
harvest_rows(struct rundown_block *b, const struct block_layout *l, uint32_t s)
{
	uint32_t r;

	/*
	 * Row by row: a protection is acquired and released in one process,
	 * hence one row, so rows drain independently.  Until an atomic slot
	 * is switched an acquire on it still succeeds; it is harvested with
	 * the slot and waited for.
	 */
	for (r = 0; r < l->rows; r++)
		if (block_live(l, r))
			block_harvest_row(b, l, r);
	block_check_drained(b, l, s);
}

/* The fence, then the harvest: 0, or the fence's error, counted, with
 * nothing harvested (block_busy() stays true: the next party under the
 * lock tries again). */
static int
harvest_all(struct rundown_block *b, const struct block_layout *l, uint32_t s)
{
	int r;

	if ((r = block_fence(l)) != 0) {
		block_fence_failed(b);
		return r;
	}
	harvest_rows(b, l, s);
	return 0;
}

/* block.h.  With the run-down lock, taking and dropping it waits such
 * work out, or finishes it. */
bool
block_busy(struct rundown_block *b, const struct block_layout *l)
{
	uint32_t s = rd_load(&b->state, RD_ACQUIRE), r;

	if ((s & ST_MASK) == ST_RESETTING)
		return true;
	if ((s & ST_MASK) != ST_RUNDOWN)
		return false;
	for (r = 0; r < l->rows; r++)
		if (block_live(l, r) &&
		    !(rd_load(block_row(b, l, r), RD_ACQUIRE) & ROW_HARVESTED))
			return true;
	return false;
}

/*
 * The run-down lock (block.h): one 64-bit word, 0 when free, else its
 * holder: the thread id in the low half, the low half of the thread's
 * start time (task.h) in the high half, so that a later thread that
 * reuses the id is not taken for the holder.  Waiters sleep on the low
 * half.  A holder is looked up only when the lock is found held: alive
 * if the kernel knows its id (kill(2) with signal 0; EPERM means it
 * exists) and /proc, where it can say, gives the same start time.  A
 * holder that died is replaced by one CAS from its value, which two
 * takers cannot both win.  Unlocking wakes the lock's futex only if
 * lock_waiters says someone may sleep on it: a sleeper counts itself
 * before futex_wait() checks the word, and the unlocker clears the word
 * before it reads the count, both seq_cst, so either the unlocker sees
 * the sleeper or the sleeper's futex_wait() sees the word changed.  (A
 * missed wake would cost a LOCK_POLL_NS sleep, never the lock.)  A word
 * that another process wrote by hand can
 * at worst name a live thread: timed waits then time out; it points at
 * nothing, so it steers no write in this process (a robust mutex's list,
 * which glibc follows at exit, would).
 *
 * A private block (BLOCK_F_PRIVATE) is this process's alone: a holder that
 * is not a thread of this process held the lock of the parent's copy when
 * fork() copied it, and is as good as dead for this one (tgkill(2) with
 * our own pid says so), which is the rule pthread_atfork() would give.
 */
#define LOCK_POLL_NS 20000000	/* a holder looked up again this often */

/* Forks so far (pthread_atfork), from 1: a thread's cached lock word is
 * good while its generation is the current one. */
static unsigned lock_forks = 1;
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;

static void
lock_forked(void)
{
	/* relaxed: the child has one thread, this one. */
	rd_store(&lock_forks, rd_load(&lock_forks, RD_RELAXED) + 1,
	    RD_RELAXED);
}

static void
lock_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, lock_forked);
}

/* This thread's lock word: thread id and start time, looked up once per
 * thread and again in a fork's child (its only thread has a new id), not
 * at every lock: a system call and a read of /proc. */
static uint64_t
lock_self(void)
{
	static __thread uint64_t self;
	static __thread unsigned self_forks;
	uint64_t start = 0;
	pid_t tid;

	(void)pthread_once(&lock_once, lock_atfork);
	if (self_forks != rd_load(&lock_forks, RD_RELAXED)) {
		tid = (pid_t)syscall(SYS_gettid);
		(void)task_start_time(tid, &start);
		self = (uint64_t)(uint32_t)tid | (start & 0xffffffffu) << 32;
		self_forks = rd_load(&lock_forks, RD_RELAXED);
	}
	return self;
}

/* True if the thread that the lock word o names may still be at work. */
static bool
lock_holder_alive(const struct block_layout *l, uint64_t o)
{
	pid_t tid = (pid_t)(uint32_t)o;
	uint64_t start;

	if (tid <= 0)
		return false;
	if (l->flags & BLOCK_F_PRIVATE) {
		if (syscall(SYS_tgkill, getpid(), tid, 0) != 0)
			return false;
	} else if (kill(tid, 0) != 0 && errno == ESRCH)
		return false;
	/* /proc may hide other users' tasks (hidepid): only a start time
	 * read, and different, says the id was reused. */
	return !(task_start_time(tid, &start) == 0 &&
	    (uint32_t)start != (uint32_t)(o >> 32));
}

/* The half of the lock word that waiters sleep on: the thread id. */
static inline uint32_t *
lock_futex(uint64_t *w)
{
	uint32_t *h = (uint32_t *)(void *)w;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	h++;
#endif
	return h;
}

/* Takes the lock word: 0, or -ETIMEDOUT once past deadline (absolute
 * CLOCK_MONOTONIC, or NULL). */
static int
lock_take(uint64_t *w, uint32_t *waiters, const struct block_layout *l,
    const struct timespec *deadline)
{
	uint64_t me = lock_self(), o;
	struct timespec until;

	for (;;) {
		/* acquire: what the last holder did under the lock (its
		 * release store) is seen by this one. */
		o = 0;
		if (rd_cas(w, &o, me, RD_ACQUIRE, RD_RELAXED))
			return 0;
		if (!lock_holder_alive(l, o)) {
			/* Its party died: ours if the word still names it. */
			if (rd_cas(w, &o, me, RD_ACQUIRE, RD_RELAXED))
				return 0;
			continue;
		}
		/* Asleep until woken, or for a while: a holder that dies
		 * wakes nobody. */
		if (deadline_nap(deadline, LOCK_POLL_NS, &until) != 0)
			return -ETIMEDOUT;
		rd_fetch_add(waiters, 1, RD_SEQ_CST);
		(void)futex_wait(lock_futex(w), (uint32_t)o, &until);
		rd_fetch_sub(waiters, 1, RD_SEQ_CST);
	}
}

/* block.h */
int
block_lock(struct rundown_block *b, const struct block_layout *l,
    const struct timespec *deadline)
{
	if (!(l->flags & BLOCK_F_LOCK))
		return 1;
	if (lock_take(&b->lock, &b->lock_waiters, l, deadline) != 0)
		return -ETIMEDOUT;
	/* Holding the lock, nobody else is starting or resetting: a waiter
	 * that queued behind a live starter finds its work done, and fences
	 * no more.  A fence that fails again leaves it for the next. */
	if (block_busy(b, l))
		block_recover(b, l);
	return 0;
}

/* Drops what block_lock() took (0), if anything. */
void
block_unlock(struct rundown_block *b, int locked)
{
	if (locked != 0)
		return;
	/* release: pairs with the next taker's acquire; seq_cst, before
	 * the count is read (see lock_take()). */
	rd_store(&b->lock, 0, RD_SEQ_CST);
	if (rd_load(&b->lock_waiters, RD_SEQ_CST) != 0)
		futex_wake_all(lock_futex(&b->lock));
}

/* Waits out (or finishes) a start or re-initialize in progress: 0;
 * -ETIMEDOUT past deadline; -EAGAIN if it is still not done (a fence
 * failed: the caller tries again later). */
static int
block_settle_lock(struct rundown_block *b, const struct block_layout *l,
    const struct timespec *deadline)
{
	int locked;

	if (!(l->flags & BLOCK_F_LOCK) || !block_busy(b, l))
		return 0;
	if ((locked = block_lock(b, l, deadline)) < 0)
		return locked;
	block_unlock(b, locked);
	return block_busy(b, l) ? -EAGAIN : 0;
}

/*
 * Begins the run-down of an open block and harvests it, under the lock: 0
 * if this call began it; -EALREADY if the block was not open (*word: the
 * state word now); -ETIMEDOUT if the lock was still held at deadline.
 * Then the run-down is begun all the same, without the lock (a timed wait
 * must leave one in progress), and its fence and harvest are left to the
 * next party to take the lock, as a starter's that died are: whoever
 * holds it (a re-initialize or a start that stalled, or a holder forged)
 * must not make a timed wait overrun.  *word gets the run-down's word.
 */
static int
start_harvest(struct rundown_block *b, const struct block_layout *l,
    const struct timespec *deadline, uint32_t *word)
{
	int locked;

	/* Only an open block is started: the lock is not taken for others
	 * (a wait after the drain must not queue behind a re-initialize). */
	if ((rd_load(&b->state, RD_ACQUIRE) & ST_MASK) != ST_OPEN) {
		*word = block_state(b, l);	/* a run-down may be over */
		return -EALREADY;
	}
	locked = block_lock(b, l, deadline);
	if (block_flip(b, word) != 0) {
		block_unlock(b, locked);
		*word = block_state(b, l);
		return -EALREADY;
	}
	if (locked < 0)
		return -ETIMEDOUT;
	TEST_HOOK(HOOK_BLOCK_BEGUN);
	/* A fence that fails leaves the rows to the next party under the
	 * lock (harvest_all() counted it). */
	(void)harvest_all(b, l, *word);
	block_unlock(b, locked);
	return 0;
}

int
block_start(struct rundown_block *b, const struct block_layout *l,
    uint32_t *word)
{
	return start_harvest(b, l, NULL, word);
}

/*
 * Sleeps before a fence is tried again: 1 ms, then twice as long each
 * time up to 100 ms, never past deadline.  0, or -ETIMEDOUT if the
 * deadline has come.
 */
static int
retry_sleep(long *ns, const struct timespec *deadline)
{
	struct timespec until;

	*ns = *ns == 0 ? 1000000 : *ns >= 50000000 ? 100000000 : *ns * 2;
	if (deadline_nap(deadline, *ns, &until) != 0)
		return -ETIMEDOUT;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
	    NULL) == EINTR)
		;
	return 0;
}

int
block_wait(struct rundown_block *b, const struct block_layout *l,
    const struct timespec *deadline)
{
	uint32_t s = rd_load(&b->state, RD_ACQUIRE);
	int r;

	for (;;) {
		switch (s & ST_MASK) {
		case ST_OPEN:
			if (start_harvest(b, l, deadline, &s) == -ETIMEDOUT)
				return -ETIMEDOUT;
			continue;
		case ST_RESETTING:
			/*
			 * A re-initialize is under way: run down what it
			 * opens.  With the run-down lock, waiting for it also
			 * finishes a reset whose party died.  Past the
			 * deadline the wait gives up with no run-down begun
			 * (rundown_cache(3)): the reset's thread holds the
			 * lock and is not running.
			 */
			if (l->flags & BLOCK_F_LOCK)
				r = block_settle_lock(b, l, deadline);
			else
				r = futex_wait(&b->state, s, deadline);
			if (r == -ETIMEDOUT)
				return -ETIMEDOUT;
			s = rd_load(&b->state, RD_ACQUIRE);
			continue;
		case ST_RUNDOWN:
			break;
		default:
			return 0;
		}
		break;
	}
	return block_await(b, l, s, deadline);
}

/* block.h: the second half of block_wait(), from the run-down's word s. */
int
block_await(struct rundown_block *b, const struct block_layout *l, uint32_t s,
    const struct timespec *deadline)
{
	uint32_t gen, value, *word;
	long backoff = 0;
	int r;

	/*
	 * Wait for this generation's run-down to leave RUNDOWN: sleep on the
	 * first row not drained; once none is, end the run-down here, since
	 * releasers never do (block.h).  acquire: whoever made the word
	 * DRAINED saw every row drained (seq_cst loads), so the releases'
	 * accesses are done.  A row not yet harvested (a harvest under way,
	 * or left by a starter that died, gave up at its deadline, or whose
	 * fence failed) is waited out, or finished, under the lock before
	 * any sleep on a row: nobody else may be left to harvest it.  A
	 * fence that fails again is tried again a little later.  Once every
	 * row is harvested it stays so for the generation, so a sleep on a
	 * row's futex is always ended by that row's drain.
	 */
	gen = s & ~ST_MASK;
	while (s == (gen | ST_RUNDOWN)) {
		if ((l->flags & BLOCK_F_LOCK) && block_busy(b, l)) {
			r = block_settle_lock(b, l, deadline);
			if (r == -EAGAIN)
				r = retry_sleep(&backoff, deadline);
			if (r == -ETIMEDOUT)
				return -ETIMEDOUT;
			s = rd_load(&b->state, RD_ACQUIRE);
			continue;
		}
		if (!block_undrained(b, l, &word, &value)) {
			s = block_end_rundown(b, s);
			continue;
		}
		if (futex_wait(word, value, deadline) == -ETIMEDOUT) {
			/* The drain may have landed as the time ran out. */
			if (!block_undrained(b, l, &word, &value))
				block_end_rundown(b, s);
			s = rd_load(&b->state, RD_ACQUIRE);
			return s == (gen | ST_RUNDOWN) ? -ETIMEDOUT : 0;
		}
		s = rd_load(&b->state, RD_ACQUIRE);
	}
	return 0;
}

int
block_completed(struct rundown_block *b, const struct block_layout *l)
{
	uint32_t s;

	block_settle_lock(b, l, NULL);	/* a dead party's work finished */
	s = block_state(b, l);

	for (;;) {
		switch (s & ST_MASK) {
		case ST_OPEN:
			return -EALREADY;
		case ST_COMPLETED:
			return 0;
		case ST_DRAINED:
			/*
			 * Windows writes 1 into every slot here to drop the stale
			 * wait-block pointer.  The slots are already ACTIVE and no
			 * pointer exists, so only the state records completion;
			 * leaving the slots alone means no store can race a
			 * concurrent re-initialize's reset.
			 */
			if (rd_cas(&b->state, &s, (s & ~ST_MASK) | ST_COMPLETED,
			    RD_SEQ_CST, RD_SEQ_CST))
				return 0;
			continue;
		default:
			return -EBUSY;
		}
	}
}

int
block_reinit(struct rundown_block *b, const struct block_layout *l)
{
	int locked = block_lock(b, l, NULL), r = -EBUSY;
	uint32_t s = block_state(b, l);

	for (;;) {
		switch (s & ST_MASK) {
		case ST_OPEN:
			r = -EALREADY;
			break;
		case ST_DRAINED:
		case ST_COMPLETED:
			if (!rd_cas(&b->state, &s, (s & ~ST_MASK) | ST_RESETTING,
			    RD_SEQ_CST, RD_SEQ_CST))
				continue;
			block_reset(b, l, (s & ~ST_MASK) | ST_RESETTING);
			r = 0;
			break;
		default:
			break;
		}
		break;
	}
	block_unlock(b, locked);
	return r;
}

void
block_reset(struct rundown_block *b, const struct block_layout *l, uint32_t s)
{
	uint32_t r, cpu;

	/*
	 * Clear HARVESTED and DONE but keep the count: slots are reset one at a time,
	 * so a thread can acquire on a slot already reset and release on one
	 * not yet reset.  That release finds ACTIVE and is charged to the
	 * row, leaving a negative residue that the next harvest (which counts
	 * the acquire) cancels.  Zeroing the row here would lose it.
	 */
	for (r = 0; r < l->rows; r++)
		if (block_live(l, r))
			rd_fetch_and(block_row(b, l, r), ~ROW_FLAGS,
			    RD_SEQ_CST);
	/* release: an acquire that succeeds on a reset slot sees what the
	 * owner prepared before re-initializing.  No CAS is needed: nobody
	 * modifies an ACTIVE slot.  Only ACTIVE slots: when rundownd repeats
	 * a reset that a killed daemon left half done, a slot reset then may
	 * already count an acquire of the new generation, which a second
	 * store of 0 would lose (its release would then leave the row owing
	 * less than nothing, and the next run-down could never drain). */
	for (r = 0; r < l->rows; r++)
		for (cpu = 0; cpu < l->cpus && block_live(l, r); cpu++) {
			uint64_t *slot = block_slot_at(b, l, r, cpu);

			if (rd_load(slot, RD_RELAXED) & SLOT_ACTIVE)
				rd_store(slot, 0, RD_RELEASE);
			/* No section commits while the word is not OPEN (the
			 * run-down's fence saw to the last that read OPEN),
			 * so this store can be repeated; the state store
			 * below publishes it. */
			rd_store(block_pc_at(b, l, r, cpu), 0, RD_RELAXED);
		}
	TEST_HOOK(HOOK_BLOCK_RESET);
	rd_store(&b->state, ((s & ~ST_MASK) + ST_GEN_UNIT) | ST_OPEN,
	    RD_SEQ_CST);
	futex_wake_all(&b->state);	/* waits that arrived while resetting */
}

/* A row's count modulo 2^62: its drain word's count, plus its slots
 * until they are harvested. */
static uint64_t
row_total(struct rundown_block *b, const struct block_layout *l, uint32_t r)
{
	uint64_t total, d = rd_load(block_row(b, l, r), RD_RELAXED);
	uint32_t cpu;

	total = (uint64_t)row_count(d);
	if (d & ROW_HARVESTED)
		return total;
	for (cpu = 0; cpu < l->cpus; cpu++)
		total += slot_count(rd_load(block_slot_at(b, l, r, cpu),
		    RD_RELAXED)) + rd_load(block_pc_at(b, l, r, cpu), RD_RELAXED);
	return total;
}

/* Slots hold counts modulo 2^63 and rows modulo 2^62, so a sum of them is
 * exact modulo 2^62: sign-extend from there (totals stay below 2^61). */
static inline int64_t
total_signed(uint64_t total)
{
	return (int64_t)(total << 2) >> 2;
}

void
block_query(struct rundown_block *b, const struct block_layout *l,
    struct rundown_status *st)
{
	uint32_t s = rd_load(&b->state, RD_ACQUIRE), r, value, *word;
	uint64_t total = 0;
	int64_t held;

	/* A run-down whose rows are all drained is reported drained, as it
	 * is once a waiter or the owner looks; the query writes nothing. */
	if ((s & ST_MASK) == ST_RUNDOWN && !block_undrained(b, l, &word, &value))
		s = (s & ~ST_MASK) | ST_DRAINED;
	st->state = (enum rundown_state)(s & ST_MASK);
	st->outstanding = 0;
	st->fence_failures = rd_load(&b->fence_failures, RD_RELAXED);
	if (st->state != RUNDOWN_OPEN && st->state != RUNDOWN_RUNNING_DOWN)
		return;
	/*
	 * The state is read with acquire (a caller that sees DRAINED may free
	 * the object); the counts are a report, relaxed.  In the open state
	 * other CPUs keep changing the slots, so the figure is only as exact
	 * as the moment allows, and a racing snapshot may read below zero.
	 */
	for (r = 0; r < l->rows; r++) {
		/* Row by row, none below zero: a row is one process's, and
		 * what one reads (a racing snapshot, or a count its process
		 * wrote) must not take from what the others hold. */
		if (!block_live(l, r) ||
		    row_forged(rd_load(block_row(b, l, r), RD_RELAXED)))
			continue;
		if ((held = total_signed(row_total(b, l, r))) > 0)
			total += (uint64_t)held;
	}
	st->outstanding = total;
}

int64_t
block_row_held(struct rundown_block *b, const struct block_layout *l, uint32_t r)
{
	return total_signed(row_total(b, l, r));
}

/* ---- for rundownd: the words, the header and the rows of a shared block --
 *
 * rundownd reads and writes a shared block only through these and the
 * functions above, so that the encoding (the state word's bits, the
 * rows, the header's fields) stays in this file.  They assume that the
 * daemon is the only party that starts, harvests and re-initializes the
 * block, all on one thread.
 */

/* The state word's low bits are the public states, so that a word's
 * state needs no table. */
_Static_assert(ST_OPEN == RUNDOWN_OPEN && ST_RUNDOWN == RUNDOWN_RUNNING_DOWN &&
    ST_DRAINED == RUNDOWN_DRAINED && ST_COMPLETED == RUNDOWN_COMPLETED &&
    ST_RESETTING == RUNDOWN_RESETTING, "state bits are not the public states");

uint32_t
block_word(const struct rundown_block *b)
{
	return rd_load(&b->state, RD_ACQUIRE);
}

enum rundown_state
block_word_state(uint32_t w)
{
	return (enum rundown_state)(w & ST_MASK);
}

uint32_t
block_word_generation(uint32_t w)
{
	return w / ST_GEN_UNIT;
}

int
block_start_unfenced(struct rundown_block *b, const struct block_layout *l,
    uint32_t *word)
{
	if ((rd_load(&b->state, RD_ACQUIRE) & ST_MASK) != ST_OPEN ||
	    block_flip(b, word) != 0) {
		*word = block_state(b, l);
		return -EALREADY;
	}
	TEST_HOOK(HOOK_BLOCK_BEGUN);
	return 0;
}

void
block_harvest_fenced(struct rundown_block *b, const struct block_layout *l,
    uint32_t word)
{
	/* acquire: as block_flip()'s; the word moves on only by the
	 * caller's own hand (the daemon's loop), so a word still equal is
	 * the run-down that the fence was for. */
	if (rd_load(&b->state, RD_ACQUIRE) == word)
		harvest_rows(b, l, word);
}

uint32_t
block_settle(struct rundown_block *b, const struct block_layout *l,
    uint32_t **word, uint32_t *value)
{
	return settle(b, l, rd_load(&b->state, RD_ACQUIRE), word, value);
}

uint32_t
block_recover(struct rundown_block *b, const struct block_layout *l)
{
	uint32_t s = rd_load(&b->state, RD_SEQ_CST);

	/* Every step of both can be repeated (block.h), so a daemon killed
	 * in either leaves nothing that doing it again would spoil. */
	if ((s & ST_MASK) == ST_RESETTING)
		block_reset(b, l, s);
	else if ((s & ST_MASK) == ST_RUNDOWN)
		harvest_all(b, l, s);
	return rd_load(&b->state, RD_SEQ_CST);
}

int
block_header_check(const struct rundown_block *h, uint32_t tag,
    const struct block_layout *l, uint32_t *serial)
{
	if (h->magic != BLOCK_MAGIC)
		return -EBADMSG;
	if (h->version != BLOCK_VERSION)
		return -EPROTONOSUPPORT;
	/* The geometry must be l's, so that every address the layout
	 * computes lies where the block's own processes put it. */
	if (h->line != BLOCK_LINE || h->tag != tag || h->cpus != l->cpus ||
	    h->rows != l->rows || h->stride != l->stride ||
	    h->rows_off != l->rows_off || h->row_stride != l->row_stride ||
	    h->flags != l->flags)
		return -EPROTO;
	*serial = h->serial;
	return 0;
}

bool
block_set_header(struct rundown_block *b, const struct block_layout *l,
    uint32_t tag, uint32_t serial)
{
	/* magic .. rows_off: the part block_format_header() fills from l
	 * and tag, before the state word, which is left alone; then the
	 * serial, the flags and the row stride. */
	size_t fixed = offsetof(struct rundown_block, state);
	struct rundown_block g;

	block_format_header(&g, l, tag);
	if (memcmp(b, &g, fixed) == 0 && b->serial == serial &&
	    b->flags == l->flags && b->row_stride == g.row_stride)
		return false;
	memcpy(b, &g, fixed);
	b->serial = serial;
	b->flags = l->flags;
	b->row_stride = g.row_stride;
	return true;
}

void
block_row_format(uint64_t *row, const struct block_layout *l, uint32_t w)
{
	uint32_t cpu;

	memset(row, 0, l->row_size);
	if ((w & ST_MASK) == ST_OPEN)
		return;
	for (cpu = 0; cpu < l->cpus; cpu++)
		*block_row_slot(row, l, cpu) = SLOT_ACTIVE;
	*row = ROW_FLAGS;
}

bool
block_row_forged(struct rundown_block *b, const struct block_layout *l,
    uint32_t r)
{
	return row_forged(rd_load(block_row(b, l, r), RD_RELAXED));
}
