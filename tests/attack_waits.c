/*
 * attack_waits.c: attacks through waits.
 *
 * Attack 2 of "rundownd under attack": hold a protection, start a wait,
 * flip the state word by a plain store (no futex wake), send free: the
 * daemon joined a drain watcher that slept forever, and ignored SIGTERM
 * from then on.  No write into a block may make a request, or shutdown,
 * wait unboundedly.
 *
 * Attack 8: every new wait rescanned all pending ones (300k waits: 43 s
 * of daemon CPU), and nothing bounded their number.  Pending waits are
 * counted per connection (-w) and per uid (-W) and refused beyond with
 * EAGAIN; every pending wait still ends at the drain.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "block.h"
#include "proto.h"
#include "testagent.h"
#include "testdaemon.h"

#define AW_TAG 0x41575431u	/* "AWT1" */

/* Reads the reply of id on fd: 0 for OK, else the error's code. */
static int
aw_reply(int fd, uint32_t id)
{
	unsigned char buf[PROTO_HDR_SIZE + 64];
	struct proto_error e;
	struct proto_hdr h;

	td_raw_frame(fd, &h, buf, sizeof(buf));
	ck_assert_uint_eq(h.id, id);
	if (h.type == PROTO_OK)
		return 0;
	ck_assert_uint_eq(h.type, PROTO_ERROR);
	memcpy(&e, buf + PROTO_HDR_SIZE, sizeof(e));
	return e.code;
}

/* Whether the daemon has a drain-watcher thread, and whether it sleeps. */
static bool
aw_watcher(bool *sleeping)
{
	unsigned s, n = td_threads_sleeping("rd-watch", &s);

	*sleeping = n > 0 && s == n;
	return n > 0;
}

/* The block of AW_TAG mapped here, as an attached client maps it. */
static struct rundown_block *
aw_map(size_t *size)
{
	char path[256];
	struct stat st;
	void *p;
	int fd;

	td_shm_path(td.sock, AW_TAG, path, sizeof(path));
	ck_assert_int_ge(fd = open(path, O_RDWR | O_CLOEXEC), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

/* Attack 2: free while the drain watcher sleeps on a word that a client
 * changed without a wake.  Free must answer, the pending wait end, the
 * watcher go within its recheck time, and SIGTERM work (teardown). */
START_TEST(test_free_with_sleeping_watcher)
{
	struct rundown_block *b;
	struct timespec start;
	struct agent a;
	uint32_t tag = AW_TAG, s;
	bool sleeping = false;
	size_t size;
	int w, f;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AW_TAG, 4), 0);
	agent_start(&a, "aw-holder", &tag, 1, 0);
	agent_acquire(&a, 0, 1);
	w = td_raw_connect();
	td_raw_request(w, PROTO_WAIT, 1, AW_TAG, PROTO_NO_TIMEOUT, 0);
	td_await_block(AW_TAG, RUNDOWN_RUNNING_DOWN, -1, 0);
	start = td_now();
	while (!aw_watcher(&sleeping) || !sleeping) {
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "no drain watcher asleep:\n%s", td_log());
		td_pause();
	}

	/* The attack: the state says COMPLETED, and nobody wakes. */
	b = aw_map(&size);
	s = __atomic_load_n(&b->state, __ATOMIC_RELAXED);
	__atomic_store_n(&b->state, (s & ~ST_MASK) | ST_COMPLETED,
	    __ATOMIC_RELAXED);
	munmap(b, size);

	f = td_raw_connect();
	td_raw_request(f, PROTO_FREE, 2, AW_TAG, 0, 0);
	ck_assert_int_eq(aw_reply(f, 2), 0);
	ck_assert_int_eq(aw_reply(w, 1), 0);
	start = td_now();
	while (aw_watcher(&sleeping)) {
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "the watcher of a freed block stays:\n%s", td_log());
		td_pause();
	}
	close(f);
	close(w);
	agent_exit(&a);
}
END_TEST

/* Attack 8: the limits.  -w 4 -W 6: a connection's fifth pending wait
 * and the uid's seventh are refused with EAGAIN; a timed-out or
 * closed-over wait frees its place; all pending waits end at the drain. */
START_TEST(test_wait_limits)
{
	struct agent a;
	uint32_t tag = AW_TAG, id;
	int c1, c2, c3;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AW_TAG, 4), 0);
	agent_start(&a, "aw-holder", &tag, 1, 0);
	agent_acquire(&a, 0, 1);
	c1 = td_raw_connect();
	c2 = td_raw_connect();
	for (id = 1; id <= 5; id++)
		td_raw_request(c1, PROTO_WAIT, id, AW_TAG, PROTO_NO_TIMEOUT, 0);
	ck_assert_int_eq(aw_reply(c1, 5), EAGAIN);
	for (id = 11; id <= 13; id++)
		td_raw_request(c2, PROTO_WAIT, id, AW_TAG, PROTO_NO_TIMEOUT, 0);
	ck_assert_int_eq(aw_reply(c2, 13), EAGAIN);

	/* A closed connection's waits no longer count for the uid. */
	close(c2);
	c3 = td_raw_connect();
	td_raw_request(c3, PROTO_WAIT, 21, AW_TAG, PROTO_NO_TIMEOUT, 0);
	td_raw_request(c3, PROTO_WAIT, 22, AW_TAG, PROTO_NO_TIMEOUT, 0);
	td_raw_request(c3, PROTO_WAIT, 23, AW_TAG, PROTO_NO_TIMEOUT, 0);
	ck_assert_int_eq(aw_reply(c3, 23), EAGAIN);
	/* A timed-out wait frees its place too. */
	td_raw_request(c1, PROTO_WAIT, 6, AW_TAG, PROTO_NO_TIMEOUT, 0);
	ck_assert_int_eq(aw_reply(c1, 6), EAGAIN);

	agent_release(&a, 0, 1);
	for (id = 1; id <= 4; id++)
		ck_assert_int_eq(aw_reply(c1, id), 0);
	ck_assert_int_eq(aw_reply(c3, 21), 0);
	ck_assert_int_eq(aw_reply(c3, 22), 0);
	close(c1);
	close(c3);
	agent_exit(&a);
}
END_TEST

/* Attack 8, at scale: 40 connections with 50 pending waits each, on one
 * run-down (-W 4096); each wait ends once, with OK, at the drain. */
START_TEST(test_many_waits)
{
	enum { CONNS = 40, WAITS = 50 };
	struct agent a;
	uint32_t tag = AW_TAG, id;
	int fd[CONNS], i;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AW_TAG, 4), 0);
	agent_start(&a, "aw-holder", &tag, 1, 0);
	agent_acquire(&a, 0, 1);
	for (i = 0; i < CONNS; i++) {
		fd[i] = td_raw_connect();
		for (id = 1; id <= WAITS; id++)
			td_raw_request(fd[i], PROTO_WAIT, id, AW_TAG,
			    PROTO_NO_TIMEOUT, 0);
	}
	/* A poll on the same run-down: it has not drained. */
	td_raw_request(fd[0], PROTO_WAIT, 1000, AW_TAG, 0, 0);
	ck_assert_int_eq(aw_reply(fd[0], 1000), ETIMEDOUT);
	agent_release(&a, 0, 1);
	for (i = 0; i < CONNS; i++) {
		for (id = 1; id <= WAITS; id++)
			ck_assert_int_eq(aw_reply(fd[i], id), 0);
		close(fd[i]);
	}
	agent_exit(&a);
}
END_TEST

static void
aw_setup(void)
{
	td_setup(0711, NULL);
}

static void
aw_setup_limits(void)
{
	static const char *const extra[] = { "-w", "4", "-W", "6", NULL };

	td_setup(0711, extra);
}

static void
aw_setup_many(void)
{
	static const char *const extra[] = { "-W", "4096", NULL };

	td_setup(0711, extra);
}

TCase *
attack_waits_tcase(void)
{
	TCase *tc = tcase_create("waits");

	tcase_add_checked_fixture(tc, aw_setup, td_teardown);
	tcase_add_test(tc, test_free_with_sleeping_watcher);
	return tc;
}

TCase *
attack_wait_limits_tcase(void)
{
	TCase *tc = tcase_create("wait-limits");

	tcase_add_checked_fixture(tc, aw_setup_limits, td_teardown);
	tcase_add_test(tc, test_wait_limits);
	return tc;
}

TCase *
attack_many_waits_tcase(void)
{
	TCase *tc = tcase_create("many-waits");

	tcase_add_checked_fixture(tc, aw_setup_many, td_teardown);
	tcase_add_test(tc, test_many_waits);
	return tc;
}
