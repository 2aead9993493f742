/*
 * daemon_users.c: users let in by -u and users not, as root's children
 * that drop to them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "testdaemon.h"
#include "testutil.h"

static const char *const users_args[] = { "-u", "daemon", NULL };

/* The daemon lets in user "daemon" (when the test runs as root). */
static void
users_setup(void)
{
	if (geteuid() == 0 && getpwnam("daemon") != NULL &&
	    getpwnam("nobody") != NULL)
		td_setup(DT_DIR_MODE, users_args);
	else
		dt_setup();
}

/* Exit statuses of a user child. */
enum {
	USER_OK = 0,
	USER_SWITCH = DT_EXIT_SWITCH,	/* could not become the user: 10 */
	USER_CONNECT = 11,	/* connect failed: the socket is unreachable */
	USER_REQUEST = 12,	/* a request got the wrong answer */
	USER_ATTACH = 13,	/* attach got the wrong answer */
	USER_USE = 14,		/* acquire or detach misbehaved */
	USER_EXEC = 15,		/* could not run rundownctl */
	USER_REACH = 16		/* opened a block's object without the daemon */
};

/* In a child: as user pw, connects (always possible) and checks that
 * requests and attach are refused with -EACCES, or work if allowed. */
static void
user_child(const struct passwd *pw, uint32_t tag, bool allowed)
{
	char obj[PATH_MAX];
	rundown_cache_t *ref;
	rundown_conn_t *c;
	size_t n;
	int i, r;

	td_shm_path(td.sock, tag, obj, sizeof(obj));	/* the daemon's name */
	dt_become(pw);
	/* Several tries: the refusal may arrive before or after the
	 * request has gone out. */
	for (i = 0; i < 8; i++) {
		if (rundown_connect(td.sock, &c) != 0)
			_exit(USER_CONNECT);
		r = (i & 1) ? rundown_ctl_list(c, NULL, 0, &n) :
		    rundown_ctl_create(c, RUNDOWN_TAG('U', 's', 'e',
		    (char)('0' + i)), 0);
		if (r != (allowed ? 0 : -EACCES))
			_exit(USER_REQUEST);
		rundown_disconnect(c);
	}
	/* Blocks are reached only through the descriptor the daemon
	 * passes at attach: their objects are the daemon user's, mode 0600. */
	if (open(obj, O_RDONLY) >= 0 || errno != EACCES)
		_exit(USER_REACH);
	r = rundown_attach_at(td.sock, tag, 0, &ref);
	if (r != (allowed ? 0 : -EACCES))
		_exit(USER_ATTACH);
	if (allowed) {
		if (!rundown_cache_acquire(ref))
			_exit(USER_USE);
		rundown_cache_release(ref);
		if (rundown_detach(ref) != 0)
			_exit(USER_USE);
	}
	_exit(USER_OK);
}

/* Runs a child as pw and returns its exit status. */
static int
as_user(const struct passwd *pw, uint32_t tag, bool allowed)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		user_child(pw, tag, allowed);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* rundownctl list as pw: its exit status, or -1 if it cannot be run as
 * that user (a build tree it cannot read). */
static int
ctl_as_user(const struct passwd *pw)
{
	pid_t pid;
	int st, nul;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		nul = open("/dev/null", O_RDWR);
		dt_become(pw);
		if (access(td.rundownctl, X_OK) != 0 || nul < 0 ||
		    dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
			_exit(USER_EXEC);
		execl(td.rundownctl, td.rundownctl, "-S", td.sock, "list",
		    (char *)NULL);
		_exit(USER_EXEC);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st) == USER_EXEC ? -1 : WEXITSTATUS(st);
}

/* A user not let in connects but gets -EACCES; one let in works. */
START_TEST(test_users)
{
	uint32_t tag = RUNDOWN_TAG('U', 's', 'e', 'r');
	struct rundown_block_info info;
	struct passwd nobody, daemon_pw, *pw;
	char rundir[PATH_MAX];
	struct stat st;
	int r;

	if (geteuid() != 0 || getpwnam("daemon") == NULL ||
	    getpwnam("nobody") == NULL) {
		fprintf(stderr, "check_daemon: test_users skipped: it needs "
		    "root and the users daemon and nobody\n");
		return;
	}
	pw = getpwnam("nobody");
	nobody = *pw;
	pw = getpwnam("daemon");
	daemon_pw = *pw;

	/* With -u: a directory others may search, a socket all may open. */
	snprintf(rundir, sizeof(rundir), "%s/run", td.dir);
	ck_assert_int_eq(stat(rundir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0711);
	ck_assert_int_eq(stat(td.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0666);

	/* Others let in may use it: mode 0666 (attack_perms.c tests less). */
	ck_assert_int_eq(rundown_ctl_create_mode(td.conn, tag, 0, 0666), 0);
	r = as_user(&nobody, tag, false);
	ck_assert_msg(r == USER_OK, "as nobody: exit status %d", r);
	r = as_user(&daemon_pw, tag, true);
	ck_assert_msg(r == USER_OK, "as daemon: exit status %d", r);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	ck_assert_msg(strstr(td_log(), "not a permitted user") != NULL,
	    "the refusal is not logged:\n%s", td_log());

	r = ctl_as_user(&nobody);
	if (r < 0)
		fprintf(stderr, "check_daemon: test_users: rundownctl cannot "
		    "run as nobody here; its status 77 not checked\n");
	else
		ck_assert_int_eq(r, 77);
}
END_TEST

TCase *
daemon_users_tcase(void)
{
	TCase *tc = tcase_create("users");

	tcase_add_checked_fixture(tc, users_setup, td_teardown);
	tcase_add_test(tc, test_users);
	return tc;
}
