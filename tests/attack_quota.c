/*
 * attack_quota.c: one user takes what the daemon has for everybody.
 * From "A daemon no local user can starve": a user let in with -u
 * created blocks until refused and took all 248 the daemon had left, so
 * root's create got ENOSPC; rows it could take in every block it may
 * attach to.  Each user but root and the daemon's own now owns at most
 * -b blocks (a quarter of -B by default) and holds at most -k rows in
 * all blocks together; past either it gets EDQUOT, and root still gets
 * what it asks for.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "testdaemon.h"
#include "testutil.h"

#define AQ_UID 54501		/* made up: no account has it */
#define AQ_BLOCKS 8		/* -B: -b is then 2 */
#define AQ_ROWS 3		/* -k */

/* In a child of AQ_UID: creates (or, if attach, attaches to) the blocks
 * tags[0..n), writing each result to out; then holds on until hold[1]
 * closes, keeping its rows. */
static pid_t
aq_child(const uint32_t *tags, unsigned n, bool attach, int out,
    const int *hold)
{
	rundown_cache_t *ref;
	rundown_conn_t *c = NULL;
	gid_t gid = AQ_UID;
	unsigned i;
	int32_t r;
	pid_t pid;
	char ch;

	if ((pid = test_fork_flushed()) != 0)
		return pid;
	close(hold[1]);
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(AQ_UID, AQ_UID, AQ_UID) != 0 ||
	    rundown_connect(td.sock, &c) != 0)
		_exit(10);
	for (i = 0; i < n; i++) {
		r = attach ? rundown_attach_at(td.sock, tags[i], 0, &ref) :
		    rundown_ctl_create_mode(c, tags[i], 2, 0600);
		test_put(out, &r, sizeof(r));
	}
	(void)read(hold[0], &ch, 1);
	_exit(0);
}

/* Reads n results of the child into r. */
static void
aq_results(int fd, int32_t *r, unsigned n)
{
	td_read_all(fd, r, n * sizeof(*r), "the user's results", NULL);
}

/* Lets the child go, and its pipes. */
static void
aq_finish(pid_t pid, const int *out, const int *hold)
{
	close(hold[1]);
	test_reap_ok(pid);
	close(hold[0]);
	close(out[0]);
	close(out[1]);
}

/* A user creates blocks until refused: -b of them, then EDQUOT; root
 * still creates every block the daemon has left. */
START_TEST(test_user_blocks)
{
	uint32_t tags[4];
	int32_t r[4];
	int out[2], hold[2];
	unsigned i;
	pid_t pid;

	for (i = 0; i < 4; i++)
		tags[i] = RUNDOWN_TAG('Q', 'b', 'k', '0' + i);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	pid = aq_child(tags, 4, false, out[1], hold);
	aq_results(out[0], r, 4);
	ck_assert_int_eq(r[0], 0);
	ck_assert_int_eq(r[1], 0);
	ck_assert_int_eq(r[2], -EDQUOT);
	ck_assert_int_eq(r[3], -EDQUOT);
	td_await_log(0, "over its blocks", 1);
	for (i = 0; i < AQ_BLOCKS - 2; i++)
		ck_assert_int_eq(rundown_ctl_create(td.conn,
		    RUNDOWN_TAG('R', 'b', 'k', '0' + i), 2), 0);
	/* The daemon's own limit, for root too. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, RUNDOWN_TAG('R', 'b',
	    'k', 'x'), 2), -ENOSPC);
	aq_finish(pid, out, hold);
}
END_TEST

/* A user attaches to every block it may read: -k rows in all, then
 * EDQUOT; root still attaches. */
START_TEST(test_user_rows)
{
	uint32_t tags[AQ_ROWS + 1];
	rundown_cache_t *ref;
	int32_t r[AQ_ROWS + 1];
	int out[2], hold[2];
	unsigned i;
	pid_t pid;

	for (i = 0; i <= AQ_ROWS; i++) {
		tags[i] = RUNDOWN_TAG('Q', 'r', 'w', '0' + i);
		ck_assert_int_eq(rundown_ctl_create_mode(td.conn, tags[i], 4,
		    0644), 0);
	}
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	pid = aq_child(tags, AQ_ROWS + 1, true, out[1], hold);
	aq_results(out[0], r, AQ_ROWS + 1);
	for (i = 0; i < AQ_ROWS; i++)
		ck_assert_int_eq(r[i], 0);
	ck_assert_int_eq(r[AQ_ROWS], -EDQUOT);
	td_await_log(0, "over its rows in all blocks", 1);
	ck_assert_int_eq(rundown_attach_at(td.sock, tags[AQ_ROWS], 0, &ref),
	    0);
	ck_assert_int_eq(rundown_detach(ref), 0);
	aq_finish(pid, out, hold);
}
END_TEST

static void
aq_setup(void)
{
	static const char *const extra[] = { "-u", "54501", "-B", "8", "-k",
	    "3", NULL };

	td_setup(0711, extra);
}

TCase *
attack_quota_tcase(void)
{
	TCase *tc = tcase_create("quota");

	tcase_add_checked_fixture(tc, aq_setup, td_teardown);
	tcase_add_test(tc, test_user_blocks);
	tcase_add_test(tc, test_user_rows);
	return tc;
}
