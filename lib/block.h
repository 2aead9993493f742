/*
 * block.h: the cache-aware block, laid out in any memory.
 *
 * A block is a header followed by rows, each a drain word and cpus slots.
 * It holds no absolute pointers, so the same bytes work in a caller's
 * buffer, on the heap, or in shared mappings placed at different addresses
 * in different processes.  A process-private block has one row, right
 * after the header; a shared block (rundownd) has one row per attached
 * process, each its own shared-memory object (a page or more), which only
 * that process and the daemon map, at rows_off + row x row_stride in the
 * daemon's view:
 *
 *   header   magic, version, tag, geometry, state word
 *   row      drain word, alone on its line (cpus > 1); then the slots
 *            slot[cpu], each alone on its cache line (cpus > 1)
 *
 * Each (row, cpu) has a line of two words, so that a CPU's traffic stays
 * on its line whichever path a thread takes:
 *
 *   pc  the rseq word (rseq.h): a count, modular, that only restartable
 *       sequences on that CPU add to, and only while the state word reads
 *       OPEN.  Starting run-down flips the state word, then fences
 *       (fence.h): from then on no section can commit, so the word is
 *       stable and the harvest reads it once.  Only in blocks whose flags
 *       have BLOCK_F_RSEQ; elsewhere it stays zero.
 *   at  the atomic word, for threads that cannot run sequences (no rseq
 *       area: valgrind, glibc.pthread.rseq=0; other architectures;
 *       sanitizer builds; blocks without BLOCK_F_RSEQ): 2 x count,
 *       modular, bit 0 = ACTIVE.  Acquire and release are CAS loops that
 *       never modify an ACTIVE word.  Starting run-down sets ACTIVE but
 *       keeps the count (v | 1).
 *
 * A word's own count means nothing (releases on other CPUs or paths drive
 * it anywhere); only a row's sum does, and it must stay below 2^61, which
 * nothing can check without reading every word.  The counts stay readable
 * until re-initialize, so the harvest can be repeated within the same
 * run-down, adding each row exactly once.  (Only the starter harvests.
 * A harvest delayed across a re-initialize would find HARVESTED clear and
 * add a stale sum, so whoever finishes a run-down for another party must
 * know that the generation has not moved on.  For shared blocks rundownd
 * is the only party that starts and re-initializes, so a restarted daemon
 * may repeat the harvest its predecessor began, after its own fence.)
 *
 * Row drain word (uint64_t, read as signed): bit 0 HARVESTED, bit 1 DONE,
 * count in bits 2..63, kept modulo 2^62 by unsigned arithmetic.  A release
 * that finds its slot ACTIVE subtracts from its row's drain word.  Harvest
 * adds the row's slot sum and sets HARVESTED in one atomic step (a CAS, or
 * for rundownd, the only harvester, a fetch-add).  Before harvest
 * the count is <= 0 (releases only subtract), so no release can bring it to
 * zero after HARVESTED before the harvest.  The CAS (harvest or release)
 * that brings a harvested row to zero also sets DONE: "HARVESTED | DONE,
 * zero" means the row is drained, and the block is drained when every row
 * is.  DONE makes the drained value's low 32 bits (the row's futex) differ
 * from every value a waiter could have slept on.  After its harvest a row
 * never owes below zero (a release that would is refused), so one that
 * does was written by hand: in a rundownd block, by the row's own process,
 * the only one that maps it.  Such a row counts as drained (forged): its
 * process can end early only its own protections.
 *
 * The last release is the last touch.  A releaser's CAS that drains its
 * row is its last access to the block: after it the releaser only wakes
 * the row's futex (a system call, which may meet an unmapped block and
 * fail harmlessly), because a waiter may see the row drained, return and
 * free the block at once.  So releasers never mark the block DRAINED; the
 * waiters do (block_wait, or rundownd for shared blocks), by scanning the
 * rows and sleeping on the futex of the first one not yet drained.
 *
 * State word (uint32_t, the futex waiters sleep on): bits 0..2 state, bits
 * 3..31 generation (advanced by each re-initialize).  Every transition
 * changes the word, so a waiter that read the old word cannot miss it.
 * The generation wraps after 2^29 re-initializes; a party stalled across
 * that many cycles between reading the word and its CAS is not guarded.
 *
 * This file is shared by the library and the daemon; it knows nothing of
 * sockets or processes beyond the pid it records.
 */
#ifndef RUNDOWN_BLOCK_H
#define RUNDOWN_BLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <rundown/rundown.h>

#include "atomics.h"

/* Cache line size assumed for the layout (bytes between slots). */
#if defined(__powerpc64__) || defined(__s390x__) || defined(__APPLE__)
#define BLOCK_LINE 128u
#else
#define BLOCK_LINE 64u
#endif

#define BLOCK_MAGIC 0x4e574452u		/* "RDWN" in memory, little-endian */
#define BLOCK_VERSION 5u	/* 2: the DONE bit of a drained row;
				 * 3: the rseq word beside each slot;
				 * 4: rows self-contained, owners out;
				 * 5: fence failures, the lock one word */
#define BLOCK_MAX_CPUS 4096u
#define BLOCK_MAX_ROWS 4096u

/* Slot word (at). */
#define SLOT_ACTIVE ((uint64_t)1)
#define SLOT_UNIT ((uint64_t)2)
/* The rseq word (pc) follows the slot word. */
#define SLOT_PC 1u

/* Block flags (header and layout). */
#define BLOCK_F_RSEQ 0x1u	/* threads may commit in the rseq words:
				 * run-down must fence before harvesting */
#define BLOCK_F_PRIVATE 0x2u	/* one process only: the membarrier fence
				 * reaches every thread that could commit */
#define BLOCK_F_LOCK 0x4u	/* the library's blocks: starting and
				 * re-initializing hold the run-down lock */

/* Row drain word. */
#define ROW_HARVESTED ((uint64_t)1)
#define ROW_DONE ((uint64_t)2)
#define ROW_FLAGS (ROW_HARVESTED | ROW_DONE)
#define ROW_UNIT ((uint64_t)4)

/* State word. */
#define ST_OPEN 0u
#define ST_RUNDOWN 1u
#define ST_DRAINED 2u
#define ST_COMPLETED 3u
#define ST_RESETTING 4u
#define ST_MASK 7u
#define ST_GEN_UNIT 8u

struct rundown_block {
	uint32_t magic;
	uint16_t version;
	uint16_t line;		/* BLOCK_LINE of the process that formatted it */
	uint32_t tag;		/* pool tag */
	uint32_t cpus;		/* slots per row */
	uint32_t rows;
	uint32_t stride;	/* bytes from one slot to the next */
	uint32_t rows_off;	/* bytes from the header to row 0 */
	uint32_t state;		/* atomic futex word: generation | state */
	int32_t starter;	/* pid that began the current run-down */
	uint32_t serial;	/* rundownd: tells this block from a later one
				 * with the same tag */
	uint32_t flags;		/* BLOCK_F_*, as formatted */
	uint32_t row_stride;	/* bytes from one row to the next */
	uint32_t fence_failures; /* run-downs' fences that failed (modulo
				 * 2^32): their harvest waited for a retry */
	uint32_t lock_waiters;	/* threads asleep on the lock (block.c) */
	/*
	 * The run-down lock (BLOCK_F_LOCK: blocks of the library, which any
	 * process that maps one may run down; rundownd keeps its own order
	 * and never touches it): held from the flip to OPEN's end through
	 * fence and harvest, and through a whole re-initialize, so that
	 * whoever finds either half done can tell a party still at work
	 * (the lock is held by a live thread) from one that died, and then
	 * finish the work itself, knowing the generation cannot move
	 * meanwhile.  One word, the holder's thread id and start time
	 * (block.c, block_lock()), 0 when free: nothing in it is a pointer
	 * that another process could aim (a robust mutex's list is one).
	 */
	uint64_t lock;
};

/* The geometry of a block, computed before it is formatted. */
struct block_layout {
	uint32_t cpus;
	uint32_t rows;
	uint32_t stride;	/* bytes from one slot to the next */
	uint32_t lead;		/* bytes from a row's drain word to its slot 0 */
	uint32_t flags;		/* BLOCK_F_*: block_layout() gives 0 */
	size_t row_size;	/* bytes of a row: drain word and slots */
	size_t row_stride;	/* bytes from one row to the next */
	size_t rows_off;	/* bytes from the header to row 0 */
	size_t align;		/* alignment the block's start needs */
	size_t size;		/* bytes from the header to the end of the rows */
	/* rundownd: the rows lent to a live process (nonzero), the only
	 * ones any function below reads or writes; NULL: every row (a
	 * library block).  A row not lent is not mapped at all. */
	const uint8_t *live;
};

/* Rounds x up to a multiple of a (a power of two). */
static inline size_t
round_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* CPUs a block is laid out for on this machine: configured CPUs (one
 * brought online later still gets a slot), at least 1, at most
 * BLOCK_MAX_CPUS. */
uint32_t block_cpus(void);

/* Computes the layout for cpus x rows: 0 or -EINVAL (zero or too many).
 * block_layout() packs the rows after the header; block_layout_paged()
 * starts the header and every row on a page of page bytes (a power of
 * two), so that each can be a shared-memory object of its own. */
int block_layout(uint32_t cpus, uint32_t rows, struct block_layout *out);
int block_layout_paged(uint32_t cpus, uint32_t rows, size_t page,
    struct block_layout *out);

/* Writes an open block with nothing held at b (aligned to out->align):
 * the header and every row, contiguous (block_layout()). */
void block_format(struct rundown_block *b, const struct block_layout *l,
    uint32_t tag);

/* Writes only the header, open, into b: what block_format() writes there. */
void block_format_header(struct rundown_block *b,
    const struct block_layout *l, uint32_t tag);

/*
 * The functions below that walk rows or slots take the block's shape as
 * l, a copy the caller checked once (the descriptor's, or rundownd's),
 * and never read it from the header.  The header's copy is for attaching,
 * and for tests.  They read and write only the rows that l->live lends
 * (all, if NULL).
 */

/* True if row r is in use (see struct block_layout). */
static inline bool
block_live(const struct block_layout *l, uint32_t r)
{
	return l->live == NULL || l->live[r] != 0;
}

/* Row r's drain word, where the row starts (r < l->rows). */
static inline uint64_t *
block_row(struct rundown_block *b, const struct block_layout *l, uint32_t r)
{
	return (uint64_t *)(void *)((char *)b + l->rows_off +
	    (size_t)r * l->row_stride);
}

/* The slot of cpu in the row whose drain word is at row. */
static inline uint64_t *
block_row_slot(uint64_t *row, const struct block_layout *l, uint32_t cpu)
{
	return (uint64_t *)(void *)((char *)row + l->lead +
	    (size_t)cpu * l->stride);
}

/* The slot of row, cpu (row < l->rows, cpu < l->cpus). */
static inline uint64_t *
block_slot_at(struct rundown_block *b, const struct block_layout *l,
    uint32_t row, uint32_t cpu)
{
	return block_row_slot(block_row(b, l, row), l, cpu);
}

/* The rseq word of row, cpu (the word after its slot). */
static inline uint64_t *
block_pc_at(struct rundown_block *b, const struct block_layout *l,
    uint32_t row, uint32_t cpu)
{
	return block_slot_at(b, l, row, cpu) + SLOT_PC;
}

/* The slot of row, cpu by the header's own geometry: only for a block
 * no other process can write (formatting, tests). */
static inline uint64_t *
block_slot(struct rundown_block *b, uint32_t row, uint32_t cpu)
{
	size_t lead = b->cpus == 1 ? sizeof(uint64_t) : BLOCK_LINE;

	return (uint64_t *)(void *)((char *)b + b->rows_off +
	    (size_t)row * b->row_stride + lead + (size_t)cpu * b->stride);
}

/*
 * Fast path: adds n protections to an open slot.  False, with nothing
 * changed, if the slot is ACTIVE.  No overflow check: the slot is modular
 * and only a row's sum is a count (see above).
 *
 * acquire on success: the caller's reads of the protected object must not
 * move above the point where protection is granted, and a slot that a
 * re-initialize reset (release store) publishes the object it prepared.
 */
static inline bool
block_slot_acquire(uint64_t *slot, uint32_t n)
{
	uint64_t v = rd_load(slot, RD_RELAXED);

	do {
		if (v & SLOT_ACTIVE)
			return false;
	} while (!rd_cas(slot, &v, v + SLOT_UNIT * n, RD_ACQUIRE, RD_RELAXED));
	return true;
}

/*
 * Fast path: takes n protections off an open slot.  False, with nothing
 * changed, if the slot is ACTIVE: the caller must then charge the row.
 *
 * release on success: every access to the protected object happens before
 * the count drops, so the run-down that harvests this slot (an acquiring
 * CAS on it) also sees those accesses finished.
 */
static inline bool
block_slot_release(uint64_t *slot, uint32_t n)
{
	uint64_t v = rd_load(slot, RD_RELAXED);

	do {
		if (v & SLOT_ACTIVE)
			return false;
	} while (!rd_cas(slot, &v, v - SLOT_UNIT * n, RD_RELEASE, RD_RELAXED));
	return true;
}

/* Slow path of a release: charges n to the drain word of its row and,
 * if that drains the row, wakes its futex; touches the block no more
 * after that charge.  Needs nothing but the row: a process maps its own
 * row and the header, read-only, and no other row. */
void block_release_slow(uint64_t *drain, uint32_t n);

/* The futex word of a row: the low-order half of its drain word. */
static inline uint32_t *
block_row_futex(uint64_t *drain)
{
	uint32_t *w = (uint32_t *)(void *)drain;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w++;
#endif
	return w;
}

/*
 * The first row of the run-down not yet drained: true, with the futex
 * word to sleep on and the value it held (a drain changes it); false if
 * every row is drained (block_check_drained() may then end the run-down).
 */
bool block_undrained(struct rundown_block *b, const struct block_layout *l,
    uint32_t **word, uint32_t *value);

/*
 * Run-down, in the steps that block_start() takes; tests drive them one at
 * a time to pin down what happens between them.  A fence that fails (0 is
 * its only success) leaves the rows unharvested: a section that read OPEN
 * may still commit, so nothing is harvested until a fence succeeds, which
 * whoever comes next under the run-down lock retries.
 *   block_flip:   OPEN -> RUNDOWN (one caller wins): 0, or -EALREADY if the
 *                 state was not OPEN (*state gets the word read).
 *   block_fence:  if l->flags has BLOCK_F_RSEQ, the fence (fence.h) after
 *                 which no rseq section that read OPEN can commit.
 *   block_switch: sets ACTIVE on slot (row, cpu), keeping its count.
 *   block_harvest_row: switches every slot of the row, then adds their sum
 *                 and the row's rseq words to its drain word unless that
 *                 was done (once).  Only after block_fence().
 *   block_check_drained: if every row is drained, RUNDOWN -> DRAINED for
 *                 the generation in the word `seen` and wakes all waiters.
 *                 Only for the waiting side (the starter, waiters,
 *                 rundownd): a releaser never calls it (see above).
 */
int block_flip(struct rundown_block *b, uint32_t *state);
int block_fence(const struct block_layout *l);

/* Counts a fence that failed in the block's header (fence_failures). */
void block_fence_failed(struct rundown_block *b);
void block_switch(struct rundown_block *b, const struct block_layout *l,
    uint32_t row, uint32_t cpu);
void block_harvest_row(struct rundown_block *b, const struct block_layout *l,
    uint32_t row);
void block_check_drained(struct rundown_block *b, const struct block_layout *l,
    uint32_t seen);

/* All of the above: starts run-down if the block is open.  0 if this
 * call started it, -EALREADY if one was started already (in progress or
 * over) or the block is resetting; *word gets the state word of the
 * run-down now in progress or finished. */
int block_start(struct rundown_block *b, const struct block_layout *l,
    uint32_t *word);

/*
 * Takes the run-down lock of a block that has one (BLOCK_F_LOCK): 0 if
 * taken, 1 if there is none to take (rundownd's blocks, which keep their
 * own order: never touched), or -ETIMEDOUT once past deadline (absolute
 * CLOCK_MONOTONIC, or NULL).  Whatever the holder before left half done
 * (a run-down's fence and harvest, or a reset: it died, or its fence
 * failed) is finished first, under the lock: nobody else can start or
 * re-initialize meanwhile, so the generation it finishes is the one that
 * party began.  block_unlock() drops what it took (locked: its result).
 * The functions below take it where they need it; tests hold it.
 */
int block_lock(struct rundown_block *b, const struct block_layout *l,
    const struct timespec *deadline);
void block_unlock(struct rundown_block *b, int locked);

/* Waits for the drain; deadline is absolute CLOCK_MONOTONIC or NULL.
 * 0 or -ETIMEDOUT. */
int block_wait(struct rundown_block *b, const struct block_layout *l,
    const struct timespec *deadline);

/*
 * block_wait() for the run-down whose state word is s (RUNDOWN, as
 * block_wait() or block_state() read it), never starting one: 0 once the
 * word has moved on from s (drained, completed, or re-initialized since),
 * or -ETIMEDOUT past deadline with that run-down still in progress.  It
 * finishes a start left half done, as block_wait() does.  The library's
 * asynchronous waits (cache.c) wait here, for the run-down their start
 * began and no later one.
 */
int block_await(struct rundown_block *b, const struct block_layout *l,
    uint32_t s, const struct timespec *deadline);

/* The state word, once the run-down it may show is ended if every row is
 * drained (releasers leave that to the waiting side: the starter, waiters,
 * the owner, rundownd).  Not for releasers. */
uint32_t block_state(struct rundown_block *b, const struct block_layout *l);

/* DRAINED -> COMPLETED: 0, -EALREADY or -EBUSY. */
int block_completed(struct rundown_block *b, const struct block_layout *l);

/* DRAINED/COMPLETED -> OPEN, next generation: 0, -EALREADY or -EBUSY. */
int block_reinit(struct rundown_block *b, const struct block_layout *l);

/* The second half of block_reinit(), from the RESETTING word s on: resets
 * rows and slots and opens the next generation.  Every step can be
 * repeated, so rundownd finishes a re-initialize that a previous daemon
 * left half done. */
void block_reset(struct rundown_block *b, const struct block_layout *l, uint32_t s);

/* State and outstanding count, without changing anything. */
void block_query(struct rundown_block *b, const struct block_layout *l,
    struct rundown_status *st);

/* What row r holds now (a snapshot while its process runs), as
 * block_query() counts it. */
int64_t block_row_held(struct rundown_block *b, const struct block_layout *l,
    uint32_t r);

/* ---- for rundownd --------------------------------------------------------
 *
 * What the daemon needs of a shared block, so that it never names the
 * encoding above (state bits, row table, header fields).  It keeps a
 * state word only as an opaque value: to compare two for equality ("has
 * the run-down moved on?") and to ask these functions about.  rundownd
 * is the only party that starts, harvests and re-initializes the block
 * (the header is its alone: clients map it read-only), all on one thread,
 * so it never leaves a harvest half done while it runs.
 */

/* The state word now (acquire: a caller that sees DRAINED may free what
 * the block guarded). */
uint32_t block_word(const struct rundown_block *b);

/* The state a word shows, and its generation: re-initializes so far,
 * modulo 2^29. */
enum rundown_state block_word_state(uint32_t w);
uint32_t block_word_generation(uint32_t w);

/*
 * block_start() in two halves, for the one harvester of a block
 * (rundownd) that fences on another thread: block_start_unfenced() starts
 * the run-down if the block is open (0, *word the run-down's word; else
 * -EALREADY, *word as block_state()).  After block_fence() of the same
 * shape has returned, block_harvest_fenced() harvests every live row and
 * ends the run-down if that drains it, if the state word still reads word
 * (a run-down that ended meanwhile, with no row left to harvest, and was
 * re-initialized, is not harvested again).
 */
int block_start_unfenced(struct rundown_block *b, const struct block_layout *l,
    uint32_t *word);
void block_harvest_fenced(struct rundown_block *b, const struct block_layout *l,
    uint32_t word);

/* The state word, once a run-down whose rows are all drained is ended (as
 * block_state()).  While the word shows RUNNING_DOWN, *word and *value are
 * the futex of the first row not yet drained and the value it held, which
 * that row's drain changes: what a watcher sleeps on.  Else NULL and 0. */
uint32_t block_settle(struct rundown_block *b, const struct block_layout *l,
    uint32_t **word, uint32_t *value);

/* Finishes what a daemon killed on the block left half done, at adoption:
 * a re-initialize (block_reset(), opening the next generation), or the
 * harvest of a run-down (repeated: each row is added once), then ends the
 * run-down if that drains it.  Returns the state word after. */
uint32_t block_recover(struct rundown_block *b, const struct block_layout *l);

/* True if a start or a re-initialize is under way, or was left half done
 * (by a party that died, or a fence that failed): the state is RESETTING,
 * or RUNDOWN with a live row not yet harvested. */
bool block_busy(struct rundown_block *b, const struct block_layout *l);

/* Checks a header copied out of an object found at start-up (sizeof(struct
 * rundown_block) bytes) against the shape l the daemon kept for it: 0 with
 * its serial; -EBADMSG if it is no block at all (no magic: wiped, or cut
 * short); -EPROTONOSUPPORT if it is a block of another layout version
 * (an older daemon's); -EPROTO if its line size, tag or geometry is not
 * l's. */
int block_header_check(const struct rundown_block *h, uint32_t tag,
    const struct block_layout *l, uint32_t *serial);

/* Makes b's header read as formatted for l and tag, with serial (which
 * tells this block from a later one of the tag), leaving the state word
 * alone.  True if anything had to be written. */
bool block_set_header(struct rundown_block *b, const struct block_layout *l,
    uint32_t tag, uint32_t serial);

/*
 * A row that rundownd lends to a process (its own shared-memory object,
 * row_size bytes at row), written before the process can map it: zero
 * if the state word w is open, so that acquires succeed; else drained
 * (every slot ACTIVE, the drain word "HARVESTED | DONE, zero"), as if it
 * had been harvested with the rest, so that acquires fail and the
 * run-down in progress does not wait for it.
 */
void block_row_format(uint64_t *row, const struct block_layout *l,
    uint32_t w);

/*
 * True if row r reads as nothing an honest process can leave: harvested
 * and owing less than nothing (a release below zero is refused, so only a
 * write into the row's memory gets there; a count past 2^61 wraps there
 * too).  Such a row counts as drained everywhere (its process can release
 * early only its own protections, as it could by calling release); the
 * daemon asks, to say so once.
 */
bool block_row_forged(struct rundown_block *b, const struct block_layout *l,
    uint32_t r);

#endif /* RUNDOWN_BLOCK_H */
