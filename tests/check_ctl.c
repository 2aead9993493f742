/*
 * check_ctl.c: rundownctl as an operator meets it.
 *
 *   run      holders show the utility's name, not rundownctl's.
 *   access   each reason a user cannot get in says which it is and
 *            names the daemon's -u and -g: the socket closed to the user,
 *            the daemon not admitting it, the block's owner and mode.
 *
 * Each test starts its own rundownd (testdaemon.h) and synchronises on
 * what it can observe: the block's state read back, a child's exit.
 * Polls pause briefly under a deadline that is a safety net.  Other users
 * are made-up uids that a forked child switches to; no account is
 * created.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testdaemon.h"
#include "testutil.h"

#define CT_TIMEOUT 60		/* seconds per test: a hang is a failure */
#define CT_DEADLINE_MS 20000	/* safety net of every poll */
#define CT_UID 61301		/* made-up users; no accounts exist */
#define CT_UID_STR "61301"
#define CT_UID2 61302
#define CT_GID 61303

/* NULL-terminated argument vector. */
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- fixtures ---------------------------------------------------------- */

static const char *const verbose_args[] = { "-v", NULL };
static const char *const admit_args[] = { "-v", "-u", CT_UID_STR, NULL };

/* A daemon that logs every connection; its socket is root's alone. */
static void
ct_setup(void)
{
	/* A child that died must fail a write, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	td_setup(0711, verbose_args);
}

/* A daemon that also admits CT_UID (-u): its socket is open to all. */
static void
admit_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	td_setup(0711, admit_args);
}

/* ---- helpers ----------------------------------------------------------- */

/* Polls the block until attached rows are attached. */
static void
await_attached(uint32_t tag, uint32_t attached)
{
	struct timespec start = td_now();
	struct rundown_block_info info;

	for (;;) {
		td_status(tag, &info, NULL, 0);
		if (info.attached == attached)
			return;
		ck_assert_msg(td_elapsed_ms(&start) < CT_DEADLINE_MS,
		    "%u attached, not %u, after %d ms", info.attached, attached,
		    CT_DEADLINE_MS);
		td_pause();
	}
}

/* The argument vector of rundownctl -S td.sock ARGS... in argv (of 32). */
static void
ctl_argv(const char **argv, const char *const *args)
{
	size_t n = 0;

	argv[n++] = td.rundownctl;
	argv[n++] = "-S";
	argv[n++] = td.sock;
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
}

/* Starts rundownctl -S td.sock ARGS... with stdin from in (closed here)
 * and stdout and stderr in td.dir/NAME.out and NAME.err, as
 * td_ctl_start() does: run's utility reads in. */
static pid_t
ctl_start_in(const char *name, const char *const *args, int in)
{
	char out[PATH_MAX], err[PATH_MAX];
	const char *argv[32];
	pid_t pid;
	int o, e;

	ctl_argv(argv, args);
	snprintf(out, sizeof(out), "%s/%s.out", td.dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", td.dir, name);
	pid = test_fork_flushed();
	if (pid == 0) {
		o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 ||
		    dup2(e, 2) < 0)
			_exit(120);
		execv(td.rundownctl, (char *const *)argv);
		_exit(121);
	}
	close(in);
	return pid;
}

/* `rundownctl run TAG -- UTILITY` reading a pipe: the utility runs, and
 * holds the block, until *feed is closed. */
static pid_t
run_start(const char *name, const char *tag, const char *utility, int *feed)
{
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	*feed = p[1];
	return ctl_start_in(name, ARGS("run", tag, "--", utility), p[0]);
}

/* Waits for the child pid to end: its wait status.  Fails, naming what,
 * if it still runs after the deadline. */
static int
reap(pid_t pid, const char *what)
{
	struct timespec start = td_now();
	pid_t r;
	int st = 0;

	while ((r = waitpid(pid, &st, WNOHANG)) == 0 ||
	    (r < 0 && errno == EINTR)) {
		ck_assert_msg(td_elapsed_ms(&start) < CT_DEADLINE_MS,
		    "%s still runs after %d ms", what, CT_DEADLINE_MS);
		td_pause();
	}
	ck_assert_int_eq(r, pid);
	return st;
}

/* ---- a. run ------------------------------------------------------------ */

/* A holder started with run is shown by the utility's name, as exec
 * would name it (the link's name, cut to 15 bytes), with the pid of the
 * rundownctl that holds for it; and it releases, never reclaimed. */
START_TEST(test_run_names)
{
	uint32_t tag = RUNDOWN_TAG('N', 'a', 'm', 'e');
	struct rundown_holder h[2];
	struct rundown_block_info info;
	char link[PATH_MAX], want[128];
	const char *cat = access("/bin/cat", X_OK) == 0 ? "/bin/cat" :
	    "/usr/bin/cat";
	int feed;
	pid_t run;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	run = run_start("run", "Name", "cat", &feed);
	await_attached(tag, 1);
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(h[0].pid, run);
	ck_assert_str_eq(h[0].comm, "cat");
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "status",
	    ARGS("status", "Name")), "status"), 0);
	snprintf(want, sizeof(want), "holder: pid %ld (cat) row %u "
	    "outstanding 1\n", (long)run, h[0].row);
	ck_assert_msg(strstr(td_ctl_output("status", "out"), want) != NULL,
	    "status does not say \"%s\":\n%s", want,
	    td_ctl_output("status", "out"));
	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run"), 0);

	/* A path, through a link with a long name. */
	snprintf(link, sizeof(link), "%s/protected-utility", td.dir);
	ck_assert_int_eq(symlink(cat, link), 0);
	run = run_start("run2", "Name", link, &feed);
	await_attached(tag, 1);
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(h[0].pid, run);
	ck_assert_str_eq(h[0].comm, "protected-utili");
	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run2"), 0);

	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
}
END_TEST

/* ---- b. access --------------------------------------------------------- */

/* What a child of another user saw: its exit status and stderr. */
struct as_user {
	int status;		/* -1: killed */
	char err[2048];
};

/*
 * Runs, as the made-up uid (and CT_GID), rundownctl -S td.sock ARGS... to
 * its end.  Returns false if that user cannot execute it here (a build
 * tree it cannot read), which the caller reports.
 */
static bool
ctl_as(uid_t uid, const char *const *args, struct as_user *r)
{
	const char *argv[32];
	size_t len = 0;
	ssize_t n;
	int p[2], st;
	pid_t pid;

	ctl_argv(argv, args);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 ||
		    setresgid(CT_GID, CT_GID, CT_GID) != 0 ||
		    setresuid(uid, uid, uid) != 0 || dup2(p[1], 2) < 0)
			_exit(120);
		unsetenv("RUNDOWN_DAEMON_UID");
		if (access(td.rundownctl, X_OK) != 0)
			_exit(121);
		execv(td.rundownctl, (char *const *)argv);
		_exit(121);
	}
	close(p[1]);
	/* A message or two: it cannot fill the pipe before its end. */
	while (len + 1 < sizeof(r->err)) {
		n = read(p[0], r->err + len, sizeof(r->err) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	r->err[len] = '\0';
	close(p[0]);
	st = reap(pid, "rundownctl as another user");
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	ck_assert_msg(r->status != 120, "cannot become uid %u", (unsigned)uid);
	return r->status != 121;
}

/* Asserts that rundownctl ARGS... as uid exits 77 with one line that
 * holds each of the needles. */
static void
ck_denied(uid_t uid, const char *const *args, const char *const *needles)
{
	struct as_user r;

	if (!ctl_as(uid, args, &r)) {
		fprintf(stderr, "check_ctl: rundownctl cannot run as uid %u "
		    "here; its refusal is not checked\n", (unsigned)uid);
		return;
	}
	ck_assert_msg(r.status == 77, "as uid %u: status %d, not 77: %s",
	    (unsigned)uid, r.status, r.err);
	ck_assert_msg(strncmp(r.err, "rundownctl: ", 12) == 0 &&
	    strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
	    "as uid %u: not one line of message: \"%s\"", (unsigned)uid, r.err);
	for (; *needles != NULL; needles++)
		ck_assert_msg(strstr(r.err, *needles) != NULL, "as uid %u: the "
		    "message does not say \"%s\": %s", (unsigned)uid, *needles,
		    r.err);
}

/* A child of uid: rundown_connect() must return want, and if it
 * connects, a first list want2 and a second list want3.  0 if so. */
static int
connect_as(uid_t uid, int want, int want2, int want3)
{
	struct rundown_block_info b[4];
	rundown_conn_t *c;
	size_t n;
	pid_t pid;
	int st;

	pid = test_fork_flushed();
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 ||
		    setresgid(CT_GID, CT_GID, CT_GID) != 0 ||
		    setresuid(uid, uid, uid) != 0)
			_exit(10);
		if (rundown_connect(td.sock, &c) != want)
			_exit(11);
		if (want != 0)
			_exit(0);
		if (rundown_ctl_list(c, b, 4, &n) != want2)
			_exit(12);
		if (rundown_ctl_list(c, b, 4, &n) != want3)
			_exit(13);
		_exit(0);
	}
	st = reap(pid, "a connection as another user");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Without -u or -g the socket is root's alone: connect() itself is
 * denied, and rundownctl says so, naming the options that open it. */
START_TEST(test_access_socket)
{
	ck_assert_int_eq(connect_as(CT_UID, -EACCES, 0, 0), 0);
	ck_denied(CT_UID, ARGS("list"), ARGS("cannot reach rundownd at ",
	    td.sock, "permission denied to uid " CT_UID_STR, "-u", "-g"));
	ck_denied(CT_UID, ARGS("run", "Rdwn", "--", "true"),
	    ARGS("permission denied to uid " CT_UID_STR, "-u", "-g"));
}
END_TEST

/*
 * With -u CT_UID, the socket is open to all, and the daemon refuses
 * CT_UID2 the connection (EACCES, then the connection is gone); CT_UID
 * gets in, and is refused by a block of root's mode 0600 alone.  Each
 * says which.
 */
START_TEST(test_access_daemon)
{
	char who[64];

	ck_assert_int_eq(rundown_ctl_create(td.conn, RUNDOWN_TAG('M', 'i', 'n',
	    'e'), 0), 0);
	ck_assert_int_eq(connect_as(CT_UID2, 0, -EACCES, -ECONNRESET), 0);
	ck_assert_int_eq(connect_as(CT_UID, 0, 0, 0), 0);

	snprintf(who, sizeof(who), "does not let uid %u in", CT_UID2);
	ck_denied(CT_UID2, ARGS("list"), ARGS("rundownd at ", td.sock, who,
	    "-u", "-g"));
	ck_denied(CT_UID2, ARGS("status", "Mine"), ARGS(who));
	ck_denied(CT_UID2, ARGS("run", "Mine", "--", "true"), ARGS(who));

	ck_denied(CT_UID, ARGS("status", "Mine"), ARGS("status Mine: "
	    "permission denied by the block's owner and mode"));
	ck_denied(CT_UID, ARGS("wait", "Mine"), ARGS("wait Mine: "
	    "permission denied by the block's owner and mode"));
	ck_denied(CT_UID, ARGS("run", "Mine", "--", "true"), ARGS("run Mine: "
	    "permission denied by the block's owner and mode"));
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

static TCase *
ct_case(Suite *s, const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, td_teardown);
	tcase_set_timeout(tc, CT_TIMEOUT);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *
ctl_suite(void)
{
	Suite *s = suite_create("rundownctl");
	TCase *tc;

	tc = ct_case(s, "run", ct_setup);
	tcase_add_test(tc, test_run_names);

	tc = ct_case(s, "access", ct_setup);
	tcase_add_test(tc, test_access_socket);
	tc = ct_case(s, "admitted", admit_setup);
	tcase_add_test(tc, test_access_daemon);

	return s;
}

int
main(void)
{
	return td_main("rundown-ctl", 0711, CT_DEADLINE_MS, ctl_suite);
}
