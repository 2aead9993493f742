/* check_block.c: what lib/block.c gives rundownd (the words, recovery at
 * adoption, the header, live, new and forged rows), on a block of several
 * rows laid out by hand, as the daemon lays out a shared one. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "block.h"
#include "futex.h"
#include "task.h"
#include "testutil.h"

/* CPUs and rows of the test block, whatever the machine has. */
#define TEST_CPUS 4u
#define TEST_ROWS 2u
#define TEST_TAG 0x74657374u
#define TEST_SERIAL 0x5e41a1u

static struct rundown_block *b;	/* the fixture's block */
static struct block_layout l;

static void
setup(void)
{
	ck_assert_int_eq(block_layout(TEST_CPUS, TEST_ROWS, &l), 0);
	b = aligned_alloc(l.align, round_up(l.size, l.align));
	ck_assert_ptr_nonnull(b);
	block_format(b, &l, TEST_TAG);
}

static void
teardown(void)
{
	free(b);
	b = NULL;
}

/* Adds n protections on row, cpu, as a client's fast path does. */
static void
acquire(uint32_t row, uint32_t cpu, uint32_t n)
{
	ck_assert(block_slot_acquire(block_slot_at(b, &l, row, cpu), n));
}

/* Takes n protections off row, cpu, by the slow path once the slot is
 * switched, as a client does. */
static void
release(uint32_t row, uint32_t cpu, uint32_t n)
{
	if (!block_slot_release(block_slot_at(b, &l, row, cpu), n))
		block_release_slow(block_row(b, &l, row), n);
}

/* Asserts the state and outstanding count that block_query() reports. */
static void
expect_state(enum rundown_state state, uint64_t outstanding)
{
	struct rundown_status st;

	block_query(b, &l, &st);
	ck_assert_msg(st.state == state, "state %s, expected %s",
	    rundown_state_name(st.state), rundown_state_name(state));
	ck_assert_uint_eq(st.outstanding, outstanding);
}

/* Asserts what the state word w shows. */
static void
expect_word(uint32_t w, enum rundown_state state, uint32_t generation)
{
	ck_assert_msg(block_word_state(w) == state, "word shows %s, expected %s",
	    rundown_state_name(block_word_state(w)), rundown_state_name(state));
	ck_assert_uint_eq(block_word_generation(w), generation);
}

/* Takes the block through one run-down and re-initialize. */
static void
cycle(void)
{
	uint32_t w;

	ck_assert_int_eq(block_start(b, &l, &w), 0);
	ck_assert_int_eq(block_reinit(b, &l), 0);
}

/* ---- state words ------------------------------------------------------ */

/* A word tells its state and generation; each re-initialize moves the
 * generation on by one. */
START_TEST(test_word)
{
	uint32_t w;

	expect_word(block_word(b), RUNDOWN_OPEN, 0);
	ck_assert_int_eq(block_flip(b, &w), 0);
	ck_assert_uint_eq(block_word(b), w);
	expect_word(w, RUNDOWN_RUNNING_DOWN, 0);
	expect_word(block_recover(b, &l), RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(block_reinit(b, &l), 0);
	expect_word(block_word(b), RUNDOWN_OPEN, 1);
	cycle();
	cycle();
	expect_word(block_word(b), RUNDOWN_OPEN, 3);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	expect_word(block_word(b), RUNDOWN_DRAINED, 3);
	ck_assert_int_eq(block_completed(b, &l), 0);
	expect_word(block_word(b), RUNDOWN_COMPLETED, 3);
}
END_TEST

/* Only the call that begins the run-down says so; a later one gets the
 * word of the run-down in progress, then of its end. */
START_TEST(test_begin_harvest)
{
	uint32_t w, w2;

	acquire(0, 1, 2);
	acquire(1, 3, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	expect_word(w, RUNDOWN_RUNNING_DOWN, 0);
	ck_assert_uint_eq(block_word(b), w);
	expect_state(RUNDOWN_RUNNING_DOWN, 3);
	/* Every row harvested: no slot of either takes an acquire. */
	ck_assert(!block_slot_acquire(block_slot_at(b, &l, 0, 0), 1));
	ck_assert(!block_slot_acquire(block_slot_at(b, &l, 1, 2), 1));

	ck_assert_int_eq(block_start(b, &l, &w2), -EALREADY);
	ck_assert_uint_eq(w2, w);
	release(0, 1, 2);
	release(1, 3, 1);
	/* Drained rows, but no releaser ends the run-down: the next look
	 * does, and the word it gives back has moved on. */
	ck_assert_uint_eq(block_word(b), w);
	ck_assert_int_eq(block_start(b, &l, &w2), -EALREADY);
	expect_word(w2, RUNDOWN_DRAINED, 0);
	ck_assert_uint_eq(block_word(b), w2);
}
END_TEST

/* With nothing held the run-down ends in the call that began it: the
 * word it returns is the run-down's, and the block's has moved on. */
START_TEST(test_begin_harvest_nothing_held)
{
	uint32_t w;

	acquire(1, 0, 1);
	release(1, 2, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	expect_word(w, RUNDOWN_RUNNING_DOWN, 0);
	expect_word(block_word(b), RUNDOWN_DRAINED, 0);
	ck_assert_uint_ne(block_word(b), w);
	expect_state(RUNDOWN_DRAINED, 0);
}
END_TEST

/* block_settle() gives the futex of the first row not drained, which that
 * row's drain changes, and ends the run-down once none is left. */
START_TEST(test_settle)
{
	uint32_t s, w, value, *word;

	s = block_settle(b, &l, &word, &value);
	ck_assert_uint_eq(s, block_word(b));
	expect_word(s, RUNDOWN_OPEN, 0);
	ck_assert_ptr_null(word);
	ck_assert_uint_eq(value, 0);

	acquire(1, 2, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	s = block_settle(b, &l, &word, &value);
	ck_assert_uint_eq(s, w);
	ck_assert_ptr_eq(word, block_row_futex(block_row(b, &l, 1)));
	ck_assert_uint_eq(value, *word);

	release(1, 2, 1);
	ck_assert_uint_ne(*block_row_futex(block_row(b, &l, 1)), value);
	ck_assert_uint_eq(block_word(b), w);	/* the releaser left it */
	s = block_settle(b, &l, &word, &value);
	expect_word(s, RUNDOWN_DRAINED, 0);
	ck_assert_uint_eq(block_word(b), s);
	ck_assert_ptr_null(word);
	ck_assert_uint_eq(value, 0);
	expect_state(RUNDOWN_DRAINED, 0);
}
END_TEST

/* ---- recovery at adoption --------------------------------------------- */

/*
 * A daemon killed in the harvest: row 0 harvested, row 1 switched on one
 * CPU only.  Recovery completes the harvest, adding row 0 no second time,
 * and the run-down drains as the holders release.
 */
START_TEST(test_recover_rundown)
{
	uint32_t s, w, value, *word;

	acquire(0, 0, 3);
	release(0, 2, 1);		/* row 0 holds 2 */
	acquire(1, 1, 1);		/* row 1 holds 1 */
	ck_assert_int_eq(block_flip(b, &w), 0);
	block_harvest_row(b, &l, 0);
	block_switch(b, &l, 1, 0);
	ck_assert(block_slot_acquire(block_slot_at(b, &l, 1, 3), 1));
	release(1, 3, 1);		/* not switched yet: the fast path */

	s = block_recover(b, &l);
	ck_assert_uint_eq(s, w);
	expect_state(RUNDOWN_RUNNING_DOWN, 3);
	ck_assert_int_eq(block_row_held(b, &l, 0), 2);
	ck_assert_int_eq(block_row_held(b, &l, 1), 1);
	ck_assert(!block_slot_acquire(block_slot_at(b, &l, 1, 3), 1));

	/* A second daemon killed after the first recovery: again. */
	ck_assert_uint_eq(block_recover(b, &l), w);
	expect_state(RUNDOWN_RUNNING_DOWN, 3);

	release(0, 0, 2);
	expect_state(RUNDOWN_RUNNING_DOWN, 1);
	release(1, 1, 1);
	s = block_settle(b, &l, &word, &value);
	expect_word(s, RUNDOWN_DRAINED, 0);
	expect_state(RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(block_row_held(b, &l, 0), 0);
	ck_assert_int_eq(block_row_held(b, &l, 1), 0);
}
END_TEST

/* A harvest left half done with nothing held: recovery ends the run-down
 * it finishes. */
START_TEST(test_recover_rundown_drains)
{
	uint32_t s, w;

	acquire(0, 3, 1);
	release(0, 1, 1);
	acquire(1, 0, 2);
	release(1, 0, 2);
	ck_assert_int_eq(block_flip(b, &w), 0);
	block_harvest_row(b, &l, 0);
	expect_word(block_word(b), RUNDOWN_RUNNING_DOWN, 0);

	s = block_recover(b, &l);
	expect_word(s, RUNDOWN_DRAINED, 0);
	ck_assert_uint_eq(block_word(b), s);
	expect_state(RUNDOWN_DRAINED, 0);
}
END_TEST

/*
 * A daemon killed in block_reset(): the rows' flags cleared and one slot
 * reset, on which a process of the new generation has acquired already.
 * Recovery opens the next generation and keeps that acquire.
 */
START_TEST(test_recover_resetting)
{
	uint32_t s, w, r;

	cycle();
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	ck_assert_int_eq(block_completed(b, &l), 0);
	w = block_word(b);
	rd_store(&b->state, (w & ~ST_MASK) | ST_RESETTING, RD_SEQ_CST);
	for (r = 0; r < l.rows; r++)
		rd_fetch_and(block_row(b, &l, r), ~ROW_FLAGS, RD_SEQ_CST);
	rd_store(block_slot_at(b, &l, 1, 2), 0, RD_RELEASE);
	acquire(1, 2, 1);
	expect_state(RUNDOWN_RESETTING, 0);

	s = block_recover(b, &l);
	expect_word(s, RUNDOWN_OPEN, 2);
	ck_assert_uint_eq(block_word(b), s);
	expect_state(RUNDOWN_OPEN, 1);
	ck_assert_int_eq(block_row_held(b, &l, 1), 1);
	acquire(0, 0, 1);
	release(0, 3, 1);
	release(1, 2, 1);
	expect_state(RUNDOWN_OPEN, 0);
	/* The generation runs down and drains as any other. */
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	expect_word(block_word(b), RUNDOWN_DRAINED, 2);
}
END_TEST

/* Open, drained or completed: nothing for recovery to do. */
START_TEST(test_recover_idle)
{
	uint32_t w;

	acquire(0, 1, 2);
	w = block_word(b);
	ck_assert_uint_eq(block_recover(b, &l), w);
	expect_state(RUNDOWN_OPEN, 2);
	release(0, 1, 2);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	w = block_word(b);
	expect_word(w, RUNDOWN_DRAINED, 0);
	ck_assert_uint_eq(block_recover(b, &l), w);
	ck_assert_int_eq(block_completed(b, &l), 0);
	w = block_word(b);
	ck_assert_uint_eq(block_recover(b, &l), w);
	expect_word(w, RUNDOWN_COMPLETED, 0);
}
END_TEST

/* ---- the header ------------------------------------------------------- */

/* A header as formatted passes against its layout, with its serial. */
START_TEST(test_header_check)
{
	struct rundown_block h;
	uint32_t serial = 0;

	ck_assert(block_set_header(b, &l, TEST_TAG, TEST_SERIAL));
	memcpy(&h, b, sizeof(h));
	ck_assert_int_eq(block_header_check(&h, TEST_TAG, &l, &serial), 0);
	ck_assert_uint_eq(serial, TEST_SERIAL);
	ck_assert_uint_eq(h.rows_off, l.rows_off);
	ck_assert_uint_eq(h.row_stride, l.row_stride);
}
END_TEST

/* Each field of the header refused alone: no magic is no block, another
 * version an older layout; the rest is a block the daemon must not use. */
START_TEST(test_header_check_refused)
{
	struct rundown_block h, ok;
	uint32_t serial = 0;

	memcpy(&ok, b, sizeof(ok));
#define REFUSED(change, err) do {					\
		h = ok;							\
		change;							\
		serial = 0;						\
		ck_assert_int_eq(block_header_check(&h, TEST_TAG, &l,	\
		    &serial), err);					\
		ck_assert_uint_eq(serial, 0);				\
	} while (0)
	REFUSED(h.magic ^= 1, -EBADMSG);
	REFUSED(memset(&h, 0, sizeof(h)), -EBADMSG);
	REFUSED(h.version++, -EPROTONOSUPPORT);
	REFUSED(h.version = 3, -EPROTONOSUPPORT);
	REFUSED(h.line = (uint16_t)(h.line * 2), -EPROTO);
	REFUSED(h.tag ^= 0x100, -EPROTO);
	REFUSED(h.cpus = 1, -EPROTO);
	REFUSED(h.rows = 200, -EPROTO);
	REFUSED(h.stride += 8, -EPROTO);
	REFUSED(h.rows_off += BLOCK_LINE, -EPROTO);
	REFUSED(h.row_stride += BLOCK_LINE, -EPROTO);
	REFUSED(h.flags = 0xff, -EPROTO);
#undef REFUSED
	/* The tag asked for, not the header's, decides. */
	h = ok;
	ck_assert_int_eq(block_header_check(&h, TEST_TAG + 1, &l, &serial),
	    -EPROTO);
}
END_TEST

/* block_set_header() writes only what differs from the header as it must
 * read, and leaves the state word and rows alone. */
START_TEST(test_set_header)
{
	struct rundown_block h;
	uint32_t serial, w;

	ck_assert(block_set_header(b, &l, TEST_TAG, TEST_SERIAL));
	ck_assert(!block_set_header(b, &l, TEST_TAG, TEST_SERIAL));
	acquire(1, 1, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);

	b->serial = 1;
	ck_assert(block_set_header(b, &l, TEST_TAG, TEST_SERIAL + 1));
	ck_assert(!block_set_header(b, &l, TEST_TAG, TEST_SERIAL + 1));
	memcpy(&h, b, sizeof(h));
	ck_assert_int_eq(block_header_check(&h, TEST_TAG, &l, &serial), 0);
	ck_assert_uint_eq(serial, TEST_SERIAL + 1);
	ck_assert_uint_eq(block_word(b), w);
	expect_state(RUNDOWN_RUNNING_DOWN, 1);
}
END_TEST

/* The paged layout starts the header and every row on a page, each row
 * its own object's worth, with the same shape inside a row. */
START_TEST(test_layout_paged)
{
	struct block_layout p;

	ck_assert_int_eq(block_layout_paged(TEST_CPUS, TEST_ROWS, 4096, &p),
	    0);
	ck_assert_uint_eq(p.rows_off, 4096);
	ck_assert_uint_eq(p.row_stride % 4096, 0);
	ck_assert_uint_ge(p.row_stride, p.row_size);
	ck_assert_uint_eq(p.size, p.rows_off + TEST_ROWS * p.row_stride);
	ck_assert_uint_eq(p.lead, l.lead);
	ck_assert_uint_eq(p.row_size, l.row_size);
	ck_assert_uint_eq(p.stride, l.stride);
	ck_assert_int_eq(block_layout_paged(TEST_CPUS, TEST_ROWS, 4000, &p),
	    -EINVAL);
	ck_assert_int_eq(block_layout_paged(TEST_CPUS, TEST_ROWS, 0, &p),
	    -EINVAL);
}
END_TEST

/* ---- rows ------------------------------------------------------------- */

/*
 * A row that is not live (its process gone, or never lent) is not read
 * at all: what it holds counts for nothing, its harvest does not happen,
 * and the run-down drains without it.
 */
START_TEST(test_row_not_live)
{
	uint8_t live[TEST_ROWS] = { 1, 0 };
	uint32_t w;

	acquire(0, 1, 2);
	acquire(1, 2, 5);
	l.live = live;
	expect_state(RUNDOWN_OPEN, 2);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	/* Row 1 was not harvested: its slots stay as they were. */
	ck_assert_uint_eq(*block_slot_at(b, &l, 1, 2) & SLOT_ACTIVE, 0);
	expect_state(RUNDOWN_RUNNING_DOWN, 2);
	release(0, 1, 2);
	expect_word(block_state(b, &l), RUNDOWN_DRAINED, 0);
	ck_assert_int_eq(block_reinit(b, &l), 0);
	/* Nor reset. */
	ck_assert_uint_eq(*block_slot_at(b, &l, 1, 2), 10);
}
END_TEST

/* A row its process gives up during a run-down drains it: the last one
 * that held anything ends it. */
START_TEST(test_row_dropped_drains)
{
	uint8_t live[TEST_ROWS] = { 1, 1 };
	uint32_t w;

	l.live = live;
	acquire(0, 1, 2);
	acquire(1, 2, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	expect_state(RUNDOWN_RUNNING_DOWN, 3);
	ck_assert_int_eq(block_row_held(b, &l, 0), 2);
	live[0] = 0;
	expect_state(RUNDOWN_RUNNING_DOWN, 1);
	ck_assert_uint_eq(block_word(b), w);
	live[1] = 0;
	expect_word(block_state(b, &l), RUNDOWN_DRAINED, 0);
}
END_TEST

/* A row lent while the block is open starts zero, and counts; one lent
 * during a run-down starts drained: its acquires fail, and the run-down
 * does not wait for it. */
START_TEST(test_row_format)
{
	uint8_t live[TEST_ROWS] = { 1, 0 };
	uint32_t w;

	l.live = live;
	memset(block_row(b, &l, 1), 0xa5, l.row_size);
	block_row_format(block_row(b, &l, 1), &l, block_word(b));
	live[1] = 1;
	acquire(1, 3, 1);
	expect_state(RUNDOWN_OPEN, 1);
	release(1, 3, 1);

	ck_assert_int_eq(block_start(b, &l, &w), 0);
	live[1] = 0;
	memset(block_row(b, &l, 1), 0x5a, l.row_size);
	block_row_format(block_row(b, &l, 1), &l, block_word(b));
	live[1] = 1;
	ck_assert(!block_slot_acquire(block_slot_at(b, &l, 1, 0), 1));
	release(1, 0, 1);	/* refused: it would owe below zero */
	expect_word(block_state(b, &l), RUNDOWN_DRAINED, 0);
	/* Re-initialized, the row works as any other. */
	ck_assert_int_eq(block_reinit(b, &l), 0);
	acquire(1, 0, 1);
	expect_state(RUNDOWN_OPEN, 1);
}
END_TEST

/*
 * A row whose process wrote it to owe less than nothing after its harvest
 * (or a count that wrapped) reads as drained: it can end only its own
 * protections early, never another row's.
 */
START_TEST(test_row_forged)
{
	uint64_t *row1;
	uint32_t w;

	acquire(0, 1, 1);
	acquire(1, 2, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	row1 = block_row(b, &l, 1);
	ck_assert(!block_row_forged(b, &l, 1));
	/* Huge: 2^61 wraps to negative in the 62-bit count. */
	rd_store(row1, ((uint64_t)1 << 63) | ROW_HARVESTED, RD_SEQ_CST);
	ck_assert(block_row_forged(b, &l, 1));
	expect_state(RUNDOWN_RUNNING_DOWN, 1);
	rd_store(row1, (uint64_t)-4 * ROW_UNIT | ROW_HARVESTED, RD_SEQ_CST);
	ck_assert(block_row_forged(b, &l, 1));
	expect_state(RUNDOWN_RUNNING_DOWN, 1);
	/* Row 0's holder still holds: no drain. */
	ck_assert_uint_eq(block_word(b), w);
	release(0, 1, 1);
	expect_word(block_state(b, &l), RUNDOWN_DRAINED, 0);
	/* A positive count only looks held, as by its own process. */
	ck_assert_int_eq(block_reinit(b, &l), 0);
	acquire(0, 1, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	rd_store(row1, 7 * ROW_UNIT | ROW_HARVESTED, RD_SEQ_CST);
	ck_assert(!block_row_forged(b, &l, 1));
	expect_state(RUNDOWN_RUNNING_DOWN, 8);
	release(0, 1, 1);
	expect_state(RUNDOWN_RUNNING_DOWN, 7);
}
END_TEST

/* A row that reads below zero while open (a process wrote its slots)
 * takes nothing from what the other rows hold. */
START_TEST(test_row_negative_open)
{
	acquire(0, 1, 2);
	rd_store(block_slot_at(b, &l, 1, 3), (uint64_t)-6 * SLOT_UNIT,
	    RD_SEQ_CST);
	expect_state(RUNDOWN_OPEN, 2);
	ck_assert_int_eq(block_row_held(b, &l, 1), -6);
}
END_TEST

static TCase *
block_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	test_timeout(tc, 30);
	return tc;
}

/*
 * rundownd's blocks have no run-down lock (no BLOCK_F_LOCK): the daemon
 * keeps its own order, and an older client's layout may have put anything
 * in the lock's bytes.  A whole cycle never touches them.
 */
START_TEST(test_lock_bytes_untouched)
{
	unsigned char before[sizeof(b->lock)];
	uint32_t w;

	l.flags = BLOCK_F_RSEQ;
	memset(&b->lock, 0xa5, sizeof(b->lock));
	memcpy(before, &b->lock, sizeof(before));
	acquire(0, 1, 1);
	ck_assert_int_eq(block_start(b, &l, &w), 0);
	ck_assert_uint_eq(w & 7u, RUNDOWN_RUNNING_DOWN);
	release(0, 1, 1);
	ck_assert_int_eq(block_wait(b, &l, NULL), 0);
	ck_assert_int_eq(block_completed(b, &l), 0);
	ck_assert_int_eq(block_reinit(b, &l), 0);
	ck_assert_uint_eq(block_recover(b, &l) & 7u, RUNDOWN_OPEN);
	ck_assert_mem_eq(&b->lock, before, sizeof(before));
}
END_TEST

/* ---- the run-down lock (BLOCK_F_LOCK) ----------------------------------- */

/* A thread that holds the lock until told to let go (a pipe). */
struct holder {
	pthread_t thread;
	int go[2];
	int held;		/* atomic: the lock is taken */
};

static void *
holder_main(void *arg)
{
	struct holder *h = arg;
	char c;

	ck_assert_int_eq(block_lock(b, &l, NULL), 0);
	__atomic_store_n(&h->held, 1, __ATOMIC_SEQ_CST);
	(void)read(h->go[0], &c, 1);
	block_unlock(b, 0);
	return NULL;
}

static void
holder_start(struct holder *h)
{
	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(pipe(h->go), 0);
	ck_assert_int_eq(pthread_create(&h->thread, NULL, holder_main, h), 0);
	while (!__atomic_load_n(&h->held, __ATOMIC_SEQ_CST))
		sched_yield();
}

static void
holder_stop(struct holder *h)
{
	ck_assert_int_eq(write(h->go[1], "x", 1), 1);
	ck_assert_int_eq(pthread_join(h->thread, NULL), 0);
	close(h->go[0]);
	close(h->go[1]);
}

/*
 * A timed wait returns at its deadline whoever holds the lock: a start
 * that finds the lock held past the deadline begins the run-down all the
 * same (acquires fail from then on) and leaves its fence and harvest to
 * the next party under the lock.
 */
START_TEST(test_lock_held_timed_wait)
{
	struct timespec deadline;
	struct holder h;

	l.flags = BLOCK_F_LOCK;
	acquire(0, 1, 1);
	holder_start(&h);
	ck_assert_int_eq(deadline_from(&(struct timespec){ 0, 30000000 },
	    &deadline), 0);
	ck_assert_int_eq(block_wait(b, &l, &deadline), -ETIMEDOUT);
	ck_assert(block_busy(b, &l));		/* begun, not harvested */
	expect_state(RUNDOWN_RUNNING_DOWN, 1);
	holder_stop(&h);
	release(0, 1, 1);
	ck_assert_int_eq(block_wait(b, &l, NULL), 0);
	expect_state(RUNDOWN_DRAINED, 0);
}
END_TEST

/*
 * A holder that died is replaced at once (the word names a process that
 * is gone), and what it left half done is finished: here, a run-down
 * begun and not harvested.
 */
START_TEST(test_lock_dead_holder)
{
	uint64_t start = 0;
	int status;
	pid_t pid;

	l.flags = BLOCK_F_LOCK;
	acquire(1, 2, 3);
	if ((pid = fork()) == 0)
		_exit(0);
	ck_assert_int_gt(pid, 0);
	(void)task_start_time(pid, &start);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	b->lock = (uint64_t)(uint32_t)pid | (start & 0xffffffffu) << 32;
	ck_assert_uint_eq(block_start_unfenced(b, &l, &(uint32_t){ 0 }), 0);
	release(1, 2, 3);
	ck_assert_int_eq(block_wait(b, &l, NULL), 0);
	expect_state(RUNDOWN_DRAINED, 0);
	ck_assert_uint_eq(b->lock, 0);
}
END_TEST

/*
 * The lock word is an id, never an address: bytes that another process
 * scribbled there name no live thread, and the lock is taken (a robust
 * mutex's list pointers, scribbled, would be followed by glibc).
 */
START_TEST(test_lock_scribbled)
{
	l.flags = BLOCK_F_LOCK;
	memset(&b->lock, 0xa5, sizeof(b->lock));
	cycle();
	ck_assert_uint_eq(b->lock, 0);
}
END_TEST

/*
 * fork() while another thread holds a private block's lock: the child's
 * copy names a thread that is not the child's, which can never let go of
 * it, so the child takes it at once (as a pthread_atfork() handler would
 * reset it).  A shared block's lock stays the holder's.
 */
START_TEST(test_lock_fork_private)
{
	struct timespec deadline;
	struct holder h;
	int status;
	pid_t pid;

	l.flags = BLOCK_F_LOCK | BLOCK_F_PRIVATE;
	holder_start(&h);
	if ((pid = fork()) == 0) {
		struct block_layout shared = l;

		shared.flags = BLOCK_F_LOCK;
		if (deadline_from(&(struct timespec){ 0, 30000000 },
		    &deadline) != 0 ||
		    block_lock(b, &shared, &deadline) != -ETIMEDOUT)
			_exit(2);
		if (deadline_from(&(struct timespec){ 5, 0 }, &deadline) !=
		    0 || block_lock(b, &l, &deadline) != 0)
			_exit(3);
		block_unlock(b, 0);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status %#x", status);
	holder_stop(&h);
}
END_TEST

static Suite *
block_suite(void)
{
	Suite *s = suite_create("block");
	TCase *tc;

	tc = block_tcase("words");
	tcase_add_test(tc, test_word);
	tcase_add_test(tc, test_begin_harvest);
	tcase_add_test(tc, test_begin_harvest_nothing_held);
	tcase_add_test(tc, test_settle);
	tcase_add_test(tc, test_lock_bytes_untouched);
	suite_add_tcase(s, tc);

	tc = block_tcase("lock");
	tcase_add_test(tc, test_lock_held_timed_wait);
	tcase_add_test(tc, test_lock_dead_holder);
	tcase_add_test(tc, test_lock_scribbled);
	tcase_add_test(tc, test_lock_fork_private);
	suite_add_tcase(s, tc);

	tc = block_tcase("recover");
	tcase_add_test(tc, test_recover_rundown);
	tcase_add_test(tc, test_recover_rundown_drains);
	tcase_add_test(tc, test_recover_resetting);
	tcase_add_test(tc, test_recover_idle);
	suite_add_tcase(s, tc);

	tc = block_tcase("header");
	tcase_add_test(tc, test_header_check);
	tcase_add_test(tc, test_header_check_refused);
	tcase_add_test(tc, test_set_header);
	tcase_add_test(tc, test_layout_paged);
	suite_add_tcase(s, tc);

	tc = block_tcase("rows");
	tcase_add_test(tc, test_row_not_live);
	tcase_add_test(tc, test_row_dropped_drains);
	tcase_add_test(tc, test_row_format);
	tcase_add_test(tc, test_row_forged);
	tcase_add_test(tc, test_row_negative_open);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(block_suite());
}
