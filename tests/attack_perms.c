/*
 * attack_perms.c: a user let in with -u or -g uses blocks that are not
 * its own.  Attack 10 of "rundownd under attack": permission was all or
 * nothing, so such a user could attach to, wait on, re-initialize and
 * free root's blocks, and one process could take every row of a block
 * by attaching again and again.  Blocks now have an owner and a mode, as
 * System V IPC objects do, and rows are capped per process and per user.
 *
 * The other users are made up: a forked child switches to their ids
 * (the tests run as root) and replays a string of operations, writing
 * each result to a pipe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "testdaemon.h"

#define AP_TAG 0x41505231u	/* "APR1" */
#define AP_OWNER 4242		/* let in with -u */
#define AP_GROUP 4343		/* let in with -g */
#define AP_MEMBER 4244		/* of AP_GROUP by a supplementary group */
#define AP_OTHER 4245		/* let in with -u, in no group of ours */

static const char *const ap_args[] = {
	"-u", "4242", "-u", "4245", "-g", "4343", NULL
};

/* A child of made-up ids, replaying ops; what it got is read from out. */
struct ap_child {
	pid_t pid;
	int out;		/* int32_t results, one per op */
	int hold;		/* closing it ends the child */
};

/*
 * In the child: becomes uid (primary group gid, supplementary group
 * extra unless 0) and runs ops on AP_TAG, one letter each: C create with
 * mode, a attach, o attach with RUNDOWN_ATTACH_REOPEN, d detach, s status,
 * w wait (no time), c completed, r reinit, f free.  Then waits for hold to close, keeping its rows.
 */
static void
ap_child_run(uid_t uid, gid_t gid, gid_t extra, const char *ops,
    unsigned mode, int out, int hold)
{
	struct timespec zero = { 0, 0 };
	struct rundown_block_info info;
	rundown_cache_t *ref = NULL;
	rundown_conn_t *conn = NULL;
	int32_t r;
	char c;

	if (setgroups(extra != 0 ? 1 : 0, &extra) != 0 ||
	    setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
		_exit(3);
	if (rundown_connect(td.sock, &conn) != 0)
		_exit(4);
	for (; *ops != '\0'; ops++) {
		switch (*ops) {
		case 'C':
			r = rundown_ctl_create_mode(conn, AP_TAG, 4, mode);
			break;
		case 'a':
			r = rundown_attach_at(td.sock, AP_TAG, 0, &ref);
			break;
		case 'o':
			r = rundown_attach_at(td.sock, AP_TAG,
			    RUNDOWN_ATTACH_REOPEN, &ref);
			break;
		case 'd':
			r = ref != NULL ? rundown_detach(ref) : -EINVAL;
			ref = NULL;
			break;
		case 's':
			r = rundown_ctl_status(conn, AP_TAG, &info, NULL, 0,
			    NULL);
			break;
		case 'w':
			r = rundown_ctl_wait(conn, AP_TAG, &zero);
			break;
		case 'c':
			r = rundown_ctl_completed(conn, AP_TAG);
			break;
		case 'r':
			r = rundown_ctl_reinit(conn, AP_TAG);
			break;
		case 'f':
			r = rundown_ctl_free(conn, AP_TAG);
			break;
		default:
			_exit(5);
		}
		if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(6);
	}
	rundown_disconnect(conn);
	(void)read(hold, &c, 1);
	_exit(0);
}

/* Starts a child as ap_child_run() describes. */
static void
ap_start(struct ap_child *ch, uid_t uid, gid_t gid, gid_t extra,
    const char *ops, unsigned mode)
{
	int out[2], hold[2];

	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	ck_assert_int_ge(ch->pid = fork(), 0);
	if (ch->pid == 0) {
		close(out[0]);
		close(hold[1]);
		ap_child_run(uid, gid, extra, ops, mode, out[1], hold[0]);
	}
	close(out[1]);
	close(hold[0]);
	ch->out = out[0];
	ch->hold = hold[1];
}

/* The child's next result. */
static int
ap_result(struct ap_child *ch, char op)
{
	char what[32];
	int32_t r;

	snprintf(what, sizeof(what), "result of '%c'", op);
	td_read_all(ch->out, &r, sizeof(r), what, NULL);
	return r;
}

/* Ends the child: it must exit 0. */
static void
ap_end(struct ap_child *ch)
{
	int status;

	close(ch->hold);
	ck_assert_int_eq(waitpid(ch->pid, &status, 0), ch->pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(ch->out);
}

/* Runs ops as uid and checks each result against want[]. */
static void
ap_expect(uid_t uid, gid_t gid, gid_t extra, const char *ops, unsigned mode,
    const int *want)
{
	struct ap_child ch;
	size_t i;

	ap_start(&ch, uid, gid, extra, ops, mode);
	for (i = 0; ops[i] != '\0'; i++)
		ck_assert_msg(ap_result(&ch, ops[i]) == want[i],
		    "uid %lu op '%c': want %d", (unsigned long)uid, ops[i],
		    want[i]);
	ap_end(&ch);
}

/* Root's block, mode 0600 by default: a user let in with -u can neither
 * attach, look, run it down, complete, re-initialize nor free it (before:
 * all of these worked). */
START_TEST(test_others_refused)
{
	static const int want[] = { -EACCES, -EACCES, -EACCES, -EACCES,
	    -EACCES, -EACCES };
	struct rundown_block_info info;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AP_TAG, 4), 0);
	ap_expect(AP_OTHER, AP_OTHER, 0, "aswcrf", 0, want);
	td_status(AP_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.uid, 0);
	ck_assert_uint_eq(info.mode, 0600);
	ck_assert_int_eq(rundown_ctl_free(td.conn, AP_TAG), 0);
}
END_TEST

/* A block of AP_OWNER, mode 0640, group AP_GROUP: a member of the group
 * by a supplementary group may attach and look (r), not run it down (no
 * w); one outside it may do nothing.  Owner and mode survive a restart. */
START_TEST(test_group_attach)
{
	static const int create[] = { 0 };
	static const int member[] = { 0, 0, 0, -EACCES, -EACCES, -EACCES,
	    -EACCES };
	static const int other[] = { -EACCES, -EACCES, -EACCES };
	static const int owner[] = { 0, 0, 0 };
	struct rundown_block_info info, list[4];
	size_t n;

	ap_expect(AP_OWNER, AP_GROUP, 0, "C", 0640, create);
	td_status(AP_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.uid, AP_OWNER);
	ck_assert_uint_eq(info.gid, AP_GROUP);
	ck_assert_uint_eq(info.mode, 0640);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].uid, AP_OWNER);
	ck_assert_uint_eq(list[0].gid, AP_GROUP);
	ck_assert_uint_eq(list[0].mode, 0640);

	ap_expect(AP_MEMBER, AP_MEMBER, AP_GROUP, "asdwcrf", 0, member);
	ap_expect(AP_OTHER, AP_OTHER, 0, "asw", 0, other);

	/* Kept outside the block's header, which clients can write. */
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	td_start(ap_args);
	td.conn = td_connect();
	td_status(AP_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.uid, AP_OWNER);
	ck_assert_uint_eq(info.gid, AP_GROUP);
	ck_assert_uint_eq(info.mode, 0640);
	ap_expect(AP_OTHER, AP_OTHER, 0, "asw", 0, other);
	ap_expect(AP_OWNER, AP_GROUP, 0, "wrf", 0, owner);
}
END_TEST

/* Re-opening a completed block at attach is a re-initialize: a member
 * of the group, who may attach (r) but not control (no w), is refused
 * and the block stays completed; the owner may. */
START_TEST(test_reopen_needs_w)
{
	static const int owner[] = { 0, 0, 0 };
	static const int member[] = { -EACCES, 0 };
	static const int reopen[] = { 0 };
	struct rundown_block_info info;

	ap_expect(AP_OWNER, AP_GROUP, 0, "Cwc", 0640, owner);
	ap_expect(AP_MEMBER, AP_MEMBER, AP_GROUP, "os", 0, member);
	td_status(AP_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.state, RUNDOWN_COMPLETED);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(info.attached, 0);
	ap_expect(AP_OWNER, AP_GROUP, 0, "o", 0, reopen);
	td_status(AP_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
}
END_TEST

/* Mode 0666: any user let in may attach and run the block down. */
START_TEST(test_open_mode)
{
	static const int create[] = { 0 };
	static const int other[] = { 0, 0, 0, 0, 0, 0 };

	ap_expect(AP_OWNER, AP_GROUP, 0, "C", 0666, create);
	ap_expect(AP_OTHER, AP_OTHER, 0, "asdwrf", 0, other);
	ck_assert_int_eq(rundown_ctl_free(td.conn, AP_TAG), -ENOENT);
}
END_TEST

/* One process of a user let in attaching again and again to a block
 * open to it (before: it took every row), its owner's or another's. */
START_TEST(test_process_cap)
{
	static const int create[] = { 0, 0, -EDQUOT, -EDQUOT };
	static const int again[] = { 0, -EDQUOT, -EDQUOT };
	struct rundown_block_info info;
	struct ap_child ch;
	size_t i;

	ap_start(&ch, AP_OWNER, AP_GROUP, 0, "Caaa", 0666);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(ap_result(&ch, "Caaa"[i]), create[i]);
	ap_expect(AP_OTHER, AP_OTHER, 0, "aaa", 0, again);
	td_status(AP_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 1);
	ap_end(&ch);
}
END_TEST

/* Processes of one user, not the block's owner, take at most half the
 * rows (the default of -Q); the owner's may take the rest. */
START_TEST(test_user_cap)
{
	static const int create[] = { 0 };
	struct ap_child ch[3], own;
	struct rundown_block_info info;
	int i;

	ap_expect(AP_OWNER, AP_GROUP, 0, "C", 0666, create);
	for (i = 0; i < 3; i++) {
		ap_start(&ch[i], AP_OTHER, AP_OTHER, 0, "a", 0);
		ck_assert_int_eq(ap_result(&ch[i], 'a'), i < 2 ? 0 : -EDQUOT);
	}
	ap_start(&own, AP_OWNER, AP_GROUP, 0, "a", 0);
	ck_assert_int_eq(ap_result(&own, 'a'), 0);
	td_status(AP_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 3);
	/* Last first: a child holds the pipes of those forked before it. */
	ap_end(&own);
	for (i = 2; i >= 0; i--)
		ap_end(&ch[i]);
}
END_TEST

static void
ap_setup(void)
{
	td_setup(0711, ap_args);
}

TCase *
attack_perms_tcase(void)
{
	TCase *tc = tcase_create("perms");

	tcase_add_checked_fixture(tc, ap_setup, td_teardown);
	tcase_add_test(tc, test_others_refused);
	tcase_add_test(tc, test_group_attach);
	tcase_add_test(tc, test_reopen_needs_w);
	tcase_add_test(tc, test_open_mode);
	tcase_add_test(tc, test_process_cap);
	tcase_add_test(tc, test_user_cap);
	return tc;
}
