/*
 * check_hostile.c: a client that writes garbage into its row.
 *
 * An attached process maps its own row read and write (and the header
 * read-only), so a hostile or broken one can write anything anywhere in
 * its row.  rundownd(8) promises that such a process makes only its own
 * count wrong: not the daemon's, not another row's.  These tests write
 * random bytes into the row of an attachment, between and during control
 * operations on its block, and check after each that the daemon lives,
 * answers, and serves an untouched block exactly.  Run under
 * AddressSanitizer, a read out of bounds in the daemon fails them too.
 *
 * The PRNG is seeded from RUNDOWN_HOSTILE_SEED or the clock, and the seed
 * is printed, so a failure can be replayed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "block.h"
#include "cache.h"
#include "testdaemon.h"
#include "testutil.h"

#define HT_DEADLINE_MS 20000
#define HT_ROUNDS 300		/* operations on the scribbled block */
#define HT_ROWS 4

static const uint32_t bad_tag = RUNDOWN_TAG('H', 's', 't', 'l');
static const uint32_t good_tag = RUNDOWN_TAG('G', 'o', 'o', 'd');

/* xorshift64*: small, and replayable from its seed. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint64_t
seed(void)
{
	const char *e = getenv("RUNDOWN_HOSTILE_SEED");
	struct timespec ts;
	uint64_t s;

	if (e != NULL && *e != '\0')
		s = strtoull(e, NULL, 0);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint64_t)ts.tv_sec * 1000000007ULL + (uint64_t)ts.tv_nsec;
	}
	return s != 0 ? s : 1;
}

/* The row of an attachment, as its process has it. */
struct mapping {
	rundown_cache_t *ref;
	unsigned char *p;
	size_t size;
};

static void
map_block(uint32_t tag, struct mapping *m)
{
	struct block_layout l;

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &m->ref), 0);
	ck_assert_int_eq(block_layout_paged(m->ref->cpus, m->ref->rows,
	    (size_t)sysconf(_SC_PAGESIZE), &l), 0);
	m->p = (unsigned char *)cache_row(m->ref);
	m->size = l.row_stride;
}

static void
unmap_block(struct mapping *m)
{
	(void)rundown_detach(m->ref);
}

/* Writes garbage: random bytes over a random stretch, or a random 32-bit
 * value at a random aligned offset (a field), mostly near the start where
 * the drain word and the first slots are. */
static void
scribble(const struct mapping *m, uint64_t *s)
{
	size_t off, len, i;
	uint32_t v;

	if (rnd(s) % 2 == 0) {
		off = (size_t)(rnd(s) % 512) & ~(size_t)3;
		v = (uint32_t)rnd(s);
		if (rnd(s) % 4 == 0)
			v = (uint32_t)(rnd(s) % 8);	/* small: plausible */
		memcpy(m->p + off, &v, sizeof(v));
		return;
	}
	off = (size_t)(rnd(s) % m->size);
	len = (size_t)(rnd(s) % 64) + 1;
	if (len > m->size - off)
		len = m->size - off;
	for (i = 0; i < len; i++)
		m->p[off + i] = (unsigned char)rnd(s);
}

/* One control operation on the scribbled block through td.conn.  Any
 * answer is acceptable but a broken connection: the block is garbage,
 * the daemon must not be. */
static void
poke(uint64_t *s, unsigned *answered)
{
	struct rundown_holder h[HT_ROWS];
	struct rundown_block_info info, list[4];
	struct timespec zero = { 0, 0 };
	rundown_cache_t *ref;
	size_t n;
	int r;

	switch (rnd(s) % 7) {
	case 0:
		r = rundown_ctl_status(td.conn, bad_tag, &info, h, HT_ROWS, &n);
		break;
	case 1:
		r = rundown_ctl_list(td.conn, list, 4, &n);
		break;
	case 2:
		r = rundown_ctl_wait(td.conn, bad_tag, &zero);
		break;
	case 3:
		r = rundown_ctl_completed(td.conn, bad_tag);
		break;
	case 4:
		r = rundown_ctl_reinit(td.conn, bad_tag);
		break;
	case 5:
		r = rundown_attach_at(td.sock, bad_tag, 0, &ref);
		if (r == 0) {
			if (rundown_cache_acquire(ref))
				rundown_cache_release(ref);
			r = rundown_detach(ref);
		}
		/* The library refuses a block that does not match what the
		 * daemon said (-EPROTO): that is the library's own check. */
		if (r == -EPROTO)
			r = 0;
		break;
	default:
		r = rundown_ctl_status(td.conn, bad_tag, &info, NULL, 0, &n);
		break;
	}
	ck_assert_msg(r != -ECONNRESET && r != -EPIPE && r != -ECONNREFUSED,
	    "the daemon broke the connection (%s):\n%s", rundown_strerror(r),
	    td_log());
	ck_assert_msg(r != -EPROTO, "the daemon broke the protocol:\n%s",
	    td_log());
	if (r == 0)
		(*answered)++;
}

/* The daemon runs, and the untouched block is exactly as left: open, one
 * row attached holding one protection. */
static void
check_good(void)
{
	struct rundown_block_info info;
	struct rundown_holder h[2];
	size_t n;

	ck_assert_msg(waitpid(td.pid, NULL, WNOHANG) == 0,
	    "the daemon died:\n%s", td_log());
	n = td_status(good_tag, &info, h, 2);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, getpid());
	ck_assert_uint_eq(h[0].outstanding, 1);
}

/* Sets up both blocks: bad_tag mapped in m, good_tag attached here
 * holding one protection (returned). */
static rundown_cache_t *
two_blocks(struct mapping *m)
{
	rundown_cache_t *good;

	ck_assert_int_eq(rundown_ctl_create(td.conn, bad_tag, HT_ROWS), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, good_tag, 2), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, good_tag, 0, &good), 0);
	ck_assert(rundown_cache_acquire(good));
	map_block(bad_tag, m);
	check_good();
	return good;
}

/* The good block still runs down exactly: the wait ends when its one
 * protection is released, and not before. */
static void
finish_good(rundown_cache_t *good)
{
	struct timespec zero = { 0, 0 };

	ck_assert_int_eq(rundown_ctl_wait(td.conn, good_tag, &zero),
	    -ETIMEDOUT);
	rundown_cache_release(good);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, good_tag, NULL), 0);
	ck_assert_int_eq(rundown_detach(good), 0);
}

static void
ht_setup(void)
{
	td_setup(0711, NULL);
}

/* Garbage written between operations. */
START_TEST(test_between)
{
	struct mapping m;
	rundown_cache_t *good;
	uint64_t s = seed(), s0 = s;
	unsigned i, answered = 0, rounds = test_scale(HT_ROUNDS);

	good = two_blocks(&m);
	for (i = 0; i < rounds; i++) {
		scribble(&m, &s);
		poke(&s, &answered);
		if (i % 16 == 0)
			check_good();
	}
	check_good();
	printf("check_hostile: between: seed %#llx, %u rounds, %u answered "
	    "OK\n", (unsigned long long)s0, rounds, answered);
	finish_good(good);
	unmap_block(&m);
}
END_TEST

struct racer {
	const struct mapping *m;
	uint64_t seed;
	atomic_bool stop;
	unsigned long writes;
};

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	uint64_t s = r->seed;

	while (!atomic_load(&r->stop)) {
		scribble(r->m, &s);
		r->writes++;
	}
	return NULL;
}

/* Garbage written all the time, while the daemon works on the block. */
START_TEST(test_racing)
{
	struct racer racer;
	struct mapping m;
	rundown_cache_t *good;
	pthread_t t;
	uint64_t s = seed(), s0 = s;
	unsigned i, answered = 0, rounds = test_scale(HT_ROUNDS);

	good = two_blocks(&m);
	racer.m = &m;
	racer.seed = rnd(&s) | 1;
	racer.writes = 0;
	atomic_init(&racer.stop, false);
	ck_assert_int_eq(pthread_create(&t, NULL, racer_main, &racer), 0);
	for (i = 0; i < rounds; i++) {
		poke(&s, &answered);
		if (i % 16 == 0)
			check_good();
	}
	atomic_store(&racer.stop, true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	check_good();
	printf("check_hostile: racing: seed %#llx, %u rounds, %u answered OK, "
	    "%lu writes\n", (unsigned long long)s0, rounds, answered,
	    racer.writes);
	finish_good(good);
	unmap_block(&m);
}
END_TEST

/* Garbage in the row, then a restart: the new daemon adopts the block by
 * its own record, the row still this process's, and serves. */
START_TEST(test_restart)
{
	struct rundown_block_info info;
	struct mapping m;
	rundown_cache_t *good;
	uint64_t s = seed();
	unsigned i;

	good = two_blocks(&m);
	for (i = 0; i < 64; i++)
		scribble(&m, &s);
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	td_start(NULL);
	td.conn = td_connect();
	td_status(bad_tag, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, HT_ROWS);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	check_good();
	finish_good(good);
	unmap_block(&m);
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("scribble");

	tcase_add_checked_fixture(tc, ht_setup, td_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_between);
	tcase_add_test(tc, test_racing);
	tcase_add_test(tc, test_restart);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return td_main("rundown-hostile", 0711, HT_DEADLINE_MS, hostile_suite);
}
