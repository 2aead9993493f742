/*
 * block.c: run-down of a cache-aware block (see block.h for the layout).
 *
 * The slow path in one place: starting run-down, charging releases that
 * find their slot ACTIVE, detecting the drain, waking waiters, completing
 * and re-initializing.  The orderings on this path are seq_cst unless a
 * comment says otherwise: it runs once per run-down per slot, and seq_cst
 * is what makes the "last two to finish" argument below hold.
 *
 * Why the drain is detected exactly once and never early:
 *   - A row's drain word reads "HARVESTED, count 0" only after its harvest
 *     (before it, releases can only push the count below zero).
 *   - Every party that makes a row drained (a releaser, or the starter by
 *     harvesting) then reads the state word and scans every row.  Of the
 *     last two rows to become drained, each party's RMW precedes its scan
 *     in the single seq_cst order, so at least one scan sees both drained.
 *   - The RUNDOWN -> DRAINED transition is a CAS on the state word the
 *     scanner read before scanning, generation included, so a scan that
 *     is late (the block was re-initialized and is running down again)
 *     cannot drain the new run-down.
 *
 * lib/block.pml models this algorithm for spin (tests/check-model.sh),
 * one step per atomic access, sequentially consistent: two processes on
 * rows of two slots, releases that migrate to the other slot, run-down,
 * the drain, completion, re-initialize, a process killed at any step and
 * its row reclaimed, rundownd killed in a harvest or a reset and the
 * block adopted.  It checks that no wait ends while protection is held,
 * that no harvested row owes below zero, and that a run-down drains once
 * nothing is held.  Change the model with the algorithm.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "futex.h"

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
	return d == ROW_HARVESTED;
}

int
block_layout(uint32_t cpus, uint32_t rows, struct block_layout *out)
{
	size_t hdr;

	if (cpus == 0 || rows == 0 || cpus > BLOCK_MAX_CPUS ||
	    rows > BLOCK_MAX_ROWS)
		return -EINVAL;
	hdr = offsetof(struct rundown_block, row) +
	    (size_t)rows * sizeof(struct block_row);
	out->cpus = cpus;
	out->rows = rows;
	if (cpus == 1) {
		/* One CPU: nothing to bounce, so no padding (as Windows). */
		out->align = sizeof(uint64_t);
		out->stride = sizeof(uint64_t);
	} else {
		out->align = BLOCK_LINE;
		out->stride = BLOCK_LINE;
	}
	out->slots_off = (uint32_t)round_up(hdr, out->align);
	out->size = out->slots_off + (size_t)rows * cpus * out->stride;
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
	memset(b, 0, offsetof(struct rundown_block, row));
	b->magic = BLOCK_MAGIC;
	b->version = BLOCK_VERSION;
	b->line = BLOCK_LINE;
	b->tag = tag;
	b->cpus = l->cpus;
	b->rows = l->rows;
	b->stride = l->stride;
	b->slots_off = l->slots_off;
	b->state = ST_OPEN;
}

void
block_check_drained(struct rundown_block *b, const struct block_layout *l, uint32_t seen)
{
	uint32_t r;

	if ((seen & ST_MASK) != ST_RUNDOWN)
		return;
	for (r = 0; r < l->rows; r++) {
		if (!row_drained(rd_load(&b->row[r].drain, RD_SEQ_CST)))
			return;
	}
	/* The state word is the futex: changing it is what wakes, and a
	 * waiter that read the old word finds it changed before it sleeps. */
	if (rd_cas(&b->state, &seen, (seen & ~ST_MASK) | ST_DRAINED,
	    RD_SEQ_CST, RD_RELAXED))
		futex_wake_all(&b->state);
}

void
block_release_slow(struct rundown_block *b, const struct block_layout *l, uint32_t row,
    uint32_t n)
{
	uint64_t *drain = &b->row[row].drain;
	uint64_t charge = ROW_UNIT * n, d;

	/*
	 * The slot is ACTIVE: run-down started (or a re-initialize has not
	 * reset this slot yet), so the release is owed to the row's drain
	 * word, which outlives the slot's count.  release (within seq_cst):
	 * the waiter that sees the drain also sees this caller's accesses.
	 */
	d = rd_fetch_sub(drain, charge, RD_SEQ_CST) - charge;
	if ((d & ROW_HARVESTED) && row_count(d) < 0) {
		/*
		 * Once harvested, a row's count is what it still owes and only
		 * falls to zero.  Below zero, this release matched no acquire
		 * (a double release).  Kept, it would outlive re-initialize as
		 * residue and no later run-down could drain, so it is taken
		 * back: refused, as the plain reference refuses it with -ERANGE.
		 * (A release that migrated across a re-initialize cannot land
		 * here: its acquire saw a slot reset after HARVESTED was
		 * cleared.)
		 */
		d = rd_fetch_add(drain, charge, RD_SEQ_CST) + charge;
	}
	if (row_drained(d))
		block_check_drained(b, l, rd_load(&b->state, RD_SEQ_CST));
}

int
block_begin(struct rundown_block *b, uint32_t *state)
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

void
block_switch(struct rundown_block *b, const struct block_layout *l, uint32_t row,
    uint32_t cpu)
{
	uint64_t *slot = block_slot_at(b, l, row, cpu);
	uint64_t v = rd_load(slot, RD_RELAXED);

	/*
	 * Set ACTIVE, keep the count.  From here no acquire or release
	 * changes the slot, so its count is stable until re-initialize.
	 * acquire (within seq_cst): pairs with the release CAS of every
	 * fast-path release this slot saw, so the drain that follows
	 * happens after those callers' accesses to the object.
	 */
	while (!(v & SLOT_ACTIVE) &&
	    !rd_cas(slot, &v, v | SLOT_ACTIVE, RD_SEQ_CST, RD_RELAXED))
		;
}

void
block_harvest_row(struct rundown_block *b, const struct block_layout *l, uint32_t row)
{
	uint64_t sum = 0, d, add;
	uint32_t cpu;

	/* Every slot of the row first: only then are their counts final. */
	for (cpu = 0; cpu < l->cpus; cpu++)
		block_switch(b, l, row, cpu);
	for (cpu = 0; cpu < l->cpus; cpu++)
		sum += slot_count(rd_load(block_slot_at(b, l, row, cpu), RD_ACQUIRE));

	/*
	 * Add the sum and set HARVESTED in one CAS, so the row is harvested
	 * exactly once however often this runs.  Releases that found a
	 * switched slot have already pushed the count below zero; they and
	 * the sum commute.  Modular arithmetic in uint64_t: a slot's count
	 * may be "negative" and only the row's total is meaningful.
	 */
	add = sum * ROW_UNIT + ROW_HARVESTED;
	d = rd_load(&b->row[row].drain, RD_SEQ_CST);
	while (!(d & ROW_HARVESTED)) {
		if (rd_cas(&b->row[row].drain, &d, d + add, RD_SEQ_CST,
		    RD_SEQ_CST))
			break;
	}
}

uint32_t
block_start(struct rundown_block *b, const struct block_layout *l)
{
	uint32_t s, r;

	if (block_begin(b, &s) != 0)
		return s;
	/*
	 * Row by row: a protection is acquired and released in one process,
	 * hence one row, so rows drain independently.  Until a slot is
	 * switched an acquire on it still succeeds; it is harvested with the
	 * slot and waited for.
	 */
	for (r = 0; r < l->rows; r++)
		block_harvest_row(b, l, r);
	block_check_drained(b, l, s);
	return s;
}

int
block_wait(struct rundown_block *b, const struct block_layout *l,
    const struct timespec *deadline)
{
	uint32_t s = rd_load(&b->state, RD_ACQUIRE), gen;

	for (;;) {
		switch (s & ST_MASK) {
		case ST_OPEN:
			s = block_start(b, l);
			continue;
		case ST_RESETTING:
			/* A re-initialize is under way: run down what it opens. */
			if (futex_wait(&b->state, s, deadline) == -ETIMEDOUT)
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

	/* Wait for this generation's run-down to leave RUNDOWN.  acquire:
	 * the drain CAS follows every release, so their accesses are done. */
	gen = s & ~ST_MASK;
	while (s == (gen | ST_RUNDOWN)) {
		if (futex_wait(&b->state, s, deadline) == -ETIMEDOUT) {
			s = rd_load(&b->state, RD_ACQUIRE);
			return s == (gen | ST_RUNDOWN) ? -ETIMEDOUT : 0;
		}
		s = rd_load(&b->state, RD_ACQUIRE);
	}
	return 0;
}

int
block_completed(struct rundown_block *b)
{
	uint32_t s = rd_load(&b->state, RD_SEQ_CST);

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
	uint32_t s = rd_load(&b->state, RD_SEQ_CST);

	for (;;) {
		switch (s & ST_MASK) {
		case ST_OPEN:
			return -EALREADY;
		case ST_DRAINED:
		case ST_COMPLETED:
			if (rd_cas(&b->state, &s, (s & ~ST_MASK) | ST_RESETTING,
			    RD_SEQ_CST, RD_SEQ_CST))
				goto reset;
			continue;
		default:
			return -EBUSY;
		}
	}
reset:
	block_reset(b, l, (s & ~ST_MASK) | ST_RESETTING);
	return 0;
}

void
block_reset(struct rundown_block *b, const struct block_layout *l, uint32_t s)
{
	uint32_t r, cpu;

	/*
	 * Clear HARVESTED but keep the count: slots are reset one at a time,
	 * so a thread can acquire on a slot already reset and release on one
	 * not yet reset.  That release finds ACTIVE and is charged to the
	 * row, leaving a negative residue that the next harvest (which counts
	 * the acquire) cancels.  Zeroing the row here would lose it.
	 */
	for (r = 0; r < l->rows; r++)
		rd_fetch_and(&b->row[r].drain, ~ROW_HARVESTED, RD_SEQ_CST);
	/* release: an acquire that succeeds on a reset slot sees what the
	 * owner prepared before re-initializing.  No CAS is needed: nobody
	 * modifies an ACTIVE slot.  Only ACTIVE slots: when rundownd repeats
	 * a reset that a killed daemon left half done, a slot reset then may
	 * already count an acquire of the new generation, which a second
	 * store of 0 would lose (its release would then leave the row owing
	 * less than nothing, and the next run-down could never drain). */
	for (r = 0; r < l->rows; r++)
		for (cpu = 0; cpu < l->cpus; cpu++) {
			uint64_t *slot = block_slot_at(b, l, r, cpu);

			if (rd_load(slot, RD_RELAXED) & SLOT_ACTIVE)
				rd_store(slot, 0, RD_RELEASE);
		}
	rd_store(&b->state, ((s & ~ST_MASK) + ST_GEN_UNIT) | ST_OPEN,
	    RD_SEQ_CST);
	futex_wake_all(&b->state);	/* waits that arrived while resetting */
}

/* A row's count modulo 2^62: its drain word's count, plus its slots
 * until they are harvested. */
static uint64_t
row_total(struct rundown_block *b, const struct block_layout *l, uint32_t r)
{
	uint64_t total, d = rd_load(&b->row[r].drain, RD_RELAXED);
	uint32_t cpu;

	total = (uint64_t)row_count(d);
	if (d & ROW_HARVESTED)
		return total;
	for (cpu = 0; cpu < l->cpus; cpu++)
		total += slot_count(rd_load(block_slot_at(b, l, r, cpu), RD_RELAXED));
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
	uint32_t s = rd_load(&b->state, RD_ACQUIRE), r;
	uint64_t total = 0;

	st->state = (enum rundown_state)(s & ST_MASK);
	st->outstanding = 0;
	if (st->state != RUNDOWN_OPEN && st->state != RUNDOWN_RUNNING_DOWN)
		return;
	/*
	 * The state is read with acquire (a caller that sees DRAINED may free
	 * the object); the counts are a report, relaxed.  In the open state
	 * other CPUs keep changing the slots, so the figure is only as exact
	 * as the moment allows, and a racing snapshot may read below zero.
	 */
	for (r = 0; r < l->rows; r++)
		total += row_total(b, l, r);
	if (total_signed(total) > 0)
		st->outstanding = (uint64_t)total_signed(total);
}

int64_t
block_row_held(struct rundown_block *b, const struct block_layout *l, uint32_t r)
{
	return total_signed(row_total(b, l, r));
}

int64_t
block_reclaim_row(struct rundown_block *b, const struct block_layout *l, uint32_t r)
{
	uint64_t d = rd_load(&b->row[r].drain, RD_SEQ_CST);
	int64_t held = block_row_held(b, l, r);
	uint32_t cpu;

	if (d & ROW_HARVESTED) {
		/*
		 * Run down: the slots are ACTIVE and counted, and the row
		 * owes row_count(d).  Settle it to "harvested, owing nothing"
		 * (keeping the slots, which re-initialize resets); a plain
		 * store is enough because nobody else writes this row, and
		 * seq_cst orders it before the scan of the other rows.
		 */
		rd_store(&b->row[r].drain, ROW_HARVESTED, RD_SEQ_CST);
		block_check_drained(b, l, rd_load(&b->state, RD_SEQ_CST));
		return held;
	}
	/* Open (the daemon never leaves a harvest half done, so no slot of
	 * an unharvested row is ACTIVE): everything back to zero. */
	for (cpu = 0; cpu < l->cpus; cpu++)
		rd_store(block_slot_at(b, l, r, cpu), 0, RD_RELAXED);
	rd_store(&b->row[r].drain, 0, RD_SEQ_CST);
	return held;
}
