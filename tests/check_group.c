/*
 * check_group.c: the operators' group, and the system's daemon as the
 * fallback of a user who runs none.
 *
 *   group     a member of the group of -g, by its primary group or a
 *             supplementary one, gets in and creates, attaches, runs
 *             down, re-opens and frees as a user of -u does; a user of
 *             another group is kept out by the socket's mode.
 *   activated the systemd units' case: the socket made by the service
 *             manager (here the test), mode 0660 and the group's, in a
 *             directory of mode 0755, passed to the daemon; with -g the
 *             member gets in, without it the daemon refuses it (EACCES,
 *             then the connection is closed) and rundownctl says so,
 *             and the daemon warns at start-up of the group it lets down.
 *   fallback  without $RUNDOWN_SOCKET, a user whose own path has no
 *             daemon (no directory, a stale socket, no path at all)
 *             reaches the system's, a private daemon standing in for it
 *             through $RUNDOWN_SYSTEM_SOCKET (the variable that is for
 *             tests), through the library and through rundownctl; a
 *             daemon of its own, where one runs, comes first; anything
 *             else at its own path, and $RUNDOWN_SOCKET or -S, mean that
 *             path alone; when neither answers, rundownctl names both.
 *
 * Other users are made-up ids that a forked child switches to (the tests
 * run as root); no account or group is created.  Each test starts its own
 * rundownd (testdaemon.h) and its children report each result through a
 * pipe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testdaemon.h"
#include "testutil.h"

#define GR_DEADLINE_MS 20000	/* safety net of every poll */
#define GR_UID 61401		/* made-up user, a member of GR_GID */
#define GR_UID_STR "61401"
#define GR_GID 61403		/* made-up group, as "rundown" */
#define GR_GID_STR "61403"
#define GR_OTHER 61404		/* a group no daemon here names */
#define GR_TAG RUNDOWN_TAG('G', 'r', 'p', '1')
#define GR_MAX_RESULTS 16

/* ---- children ---------------------------------------------------------- */

/*
 * In a forked child: takes primary group gid, the supplementary group
 * extra (none if 0) and uid, then sets the environment: "NAME=value"
 * sets, "NAME" unsets.  Exits 120 if it cannot.
 */
static void
gr_become(uid_t uid, gid_t gid, gid_t extra, const char *const *env)
{
	char buf[PATH_MAX + 64], *eq;

	if (setgroups(extra != 0 ? 1 : 0, &extra) != 0 ||
	    setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
		_exit(120);
	unsetenv("RUNDOWN_SOCKET");
	unsetenv("RUNDOWN_DAEMON_UID");
	for (; env != NULL && *env != NULL; env++) {
		snprintf(buf, sizeof(buf), "%s", *env);
		if ((eq = strchr(buf, '=')) == NULL) {
			if (unsetenv(buf) != 0)
				_exit(120);
			continue;
		}
		*eq = '\0';
		if (setenv(buf, eq + 1, 1) != 0)
			_exit(120);
	}
}

/*
 * Runs fn(out) in a child of uid, gid and extra (gr_become()), which
 * writes n int32_t results to out; they go to r.  The child must exit 0.
 */
static void
gr_child(uid_t uid, gid_t gid, gid_t extra, const char *const *env,
    void (*fn)(int), int32_t *r, size_t n)
{
	int p[2], st;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		close(p[0]);
		gr_become(uid, gid, extra, env);
		fn(p[1]);
		_exit(0);
	}
	close(p[1]);
	td_read_all(p[0], r, n * sizeof(*r), "the child's results", NULL);
	close(p[0]);
	st = td_reap_child(pid, "a child of another user");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the child of uid %u exited with status %#x", (unsigned)uid, st);
}

/* In a child: one result. */
static void
gr_put(int out, int32_t r)
{
	test_put(out, &r, sizeof(r));
}

/* What rundownctl wrote and how it exited. */
struct gr_ctl {
	int status;		/* exit status; -1 if killed */
	char out[4096];
	char err[2048];
};

/* Reads fd to its end into buf (size bytes with the NUL). */
static void
gr_slurp(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
}

/*
 * Runs rundownctl ARGS... to its end as uid, gid and extra with env
 * (gr_become()).  False if that user cannot execute it here (a build
 * tree it cannot read), which the caller reports.
 */
static bool
gr_ctl(uid_t uid, gid_t gid, gid_t extra, const char *const *env,
    const char *const *args, struct gr_ctl *r)
{
	const char *argv[32];
	size_t n = 0;
	int out, err[2], st;
	char path[PATH_MAX];
	pid_t pid;

	argv[n++] = "rundownctl";
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	/* Made by the test: the child could not create it in td.dir. */
	snprintf(path, sizeof(path), "%s/ctl.out", td.dir);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(out, 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		gr_become(uid, gid, extra, env);
		if (dup2(out, 1) < 0 || dup2(err[1], 2) < 0)
			_exit(120);
		if (access(td.rundownctl, X_OK) != 0)
			_exit(121);
		execv(td.rundownctl, (char *const *)argv);
		_exit(121);
	}
	close(err[1]);
	/* A message or two: it cannot fill the pipe before its end. */
	gr_slurp(err[0], r->err, sizeof(r->err));
	close(err[0]);
	st = td_reap_child(pid, "rundownctl as another user");
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	ck_assert_msg(r->status != 120, "cannot become uid %u", (unsigned)uid);
	lseek(out, 0, SEEK_SET);
	gr_slurp(out, r->out, sizeof(r->out));
	close(out);
	return r->status != 121;
}

/* Asserts that r exited with status and that its stderr holds each of
 * the needles. */
static void
gr_ck_ctl(const struct gr_ctl *r, int status, const char *const *needles)
{
	ck_assert_msg(r->status == status, "rundownctl exited %d, not %d: %s",
	    r->status, status, r->err);
	for (; *needles != NULL; needles++)
		ck_assert_msg(strstr(r->err, *needles) != NULL, "rundownctl's "
		    "message does not say \"%s\": %s", *needles, r->err);
}

/* ---- fixtures ---------------------------------------------------------- */

/* The test's directory and the programs' paths, as td_setup() makes
 * them, without a daemon. */
static void
gr_dir(void)
{
	const char *top = getenv("top_builddir");
	char path[PATH_MAX];

	signal(SIGPIPE, SIG_IGN);
	if (top == NULL || *top == '\0')
		top = ".";
	snprintf(td.rundownd, sizeof(td.rundownd), "%s/src/rundownd", top);
	snprintf(td.rundownctl, sizeof(td.rundownctl), "%s/src/rundownctl",
	    top);
	snprintf(td.dir, sizeof(td.dir), "%s/tXXXXXX", td.base);
	ck_assert_ptr_nonnull(mkdtemp(td.dir));
	ck_assert_int_eq(chmod(td.dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/run/rundownd.sock", td.dir);
	ck_assert_uint_lt(strlen(path), sizeof(td.sock));
	memcpy(td.sock, path, strlen(path) + 1);
	snprintf(td.log, sizeof(td.log), "%s/rundownd.log", td.dir);
}

/* The units' case: the socket made as rundownd.socket makes it (mode
 * 0660, group GR_GID, in a directory of mode 0755), passed to a daemon
 * started with EXTRA... */
static void
gr_activated(const char *const *extra)
{
	const char *argv[16];
	struct sockaddr_un sun;
	char dir[PATH_MAX];
	size_t n = 0;
	int fd;

	gr_dir();
	snprintf(dir, sizeof(dir), "%s/run", td.dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, td.sock, strlen(td.sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(chown(td.sock, 0, GR_GID), 0);
	ck_assert_int_eq(chmod(td.sock, 0660), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	argv[n++] = "rundownd";
	argv[n++] = "-d";
	argv[n++] = "-v";
	while (extra != NULL && *extra != NULL && n < 15)
		argv[n++] = *extra++;
	argv[n] = NULL;
	td.pid = td_spawn_fd(argv, fd);
	close(fd);
	td_await_daemon(td.sock, td.pid);
	td.conn = td_connect();
}

/* A daemon that binds its own socket and lets GR_GID in. */
static void
gr_setup_group(void)
{
	signal(SIGPIPE, SIG_IGN);
	td_setup(0755, ARGS("-v", "-g", GR_GID_STR));
}

/* The units' case, with -g as rundownd.service gives it. */
static void
gr_setup_activated(void)
{
	gr_activated(ARGS("-g", GR_GID_STR));
}

/* The units' case, but the service without -g. */
static void
gr_setup_activated_bare(void)
{
	gr_activated(NULL);
}

/* ---- group ------------------------------------------------------------- */

/* In a child: what a user of the daemon does to a block of its own,
 * through td.sock: 9 results, each 0 if it worked. */
static void
gr_use_block(int out)
{
	struct rundown_block_info info;
	rundown_cache_t *ref = NULL;
	rundown_conn_t *c = NULL;
	size_t n;
	int r;

	gr_put(out, r = rundown_connect(td.sock, &c));
	if (r != 0)
		_exit(0);
	gr_put(out, rundown_ctl_create(c, GR_TAG, 4));
	gr_put(out, r = rundown_attach_at(td.sock, GR_TAG, 0, &ref));
	gr_put(out, r == 0 && rundown_cache_acquire(ref) ? 0 : -1);
	if (r == 0)
		rundown_cache_release(ref);
	gr_put(out, rundown_ctl_status(c, GR_TAG, &info, NULL, 0, &n) == 0 &&
	    info.uid == GR_UID ? 0 : -1);
	gr_put(out, rundown_ctl_wait(c, GR_TAG, NULL));
	gr_put(out, rundown_ctl_reinit(c, GR_TAG));
	gr_put(out, ref != NULL ? rundown_detach(ref) : -1);
	gr_put(out, rundown_ctl_free(c, GR_TAG));
	rundown_disconnect(c);
}

#define GR_USE_RESULTS 9

/* Asserts that every one of the GR_USE_RESULTS results is 0. */
static void
gr_ck_used(const int32_t *r, const char *who)
{
	static const char *const what[GR_USE_RESULTS] = { "connect",
	    "create", "attach", "acquire", "status", "wait", "reinit",
	    "detach", "free" };
	size_t i;

	for (i = 0; i < GR_USE_RESULTS; i++)
		ck_assert_msg(r[i] == 0, "%s: %s: %s\n%s", who, what[i],
		    rundown_strerror(r[i]), td_log());
}

/* In a child: connect and list: 2 results. */
static void
gr_connect_list(int out)
{
	rundown_conn_t *c = NULL;
	size_t n;
	int r;

	gr_put(out, r = rundown_connect(td.sock, &c));
	gr_put(out, r == 0 ? rundown_ctl_list(c, NULL, 0, &n) : r);
	rundown_disconnect(c);
}

/*
 * -g lets the group's members in, whether it is their primary group or
 * a supplementary one, to do what any user let in does to a block of its
 * own; the socket (0660) and its directory (0710), the group's, keep a
 * user of another group out before the daemon hears of it.
 */
START_TEST(test_group_members)
{
	struct stat st;
	int32_t r[GR_MAX_RESULTS];
	char dir[PATH_MAX];

	ck_assert_int_eq(stat(td.sock, &st), 0);
	ck_assert_uint_eq(st.st_gid, GR_GID);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	snprintf(dir, sizeof(dir), "%s/run", td.dir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_gid, GR_GID);
	ck_assert_uint_eq(st.st_mode & 0777, 0710);

	gr_child(GR_UID, GR_GID, 0, NULL, gr_use_block, r, GR_USE_RESULTS);
	gr_ck_used(r, "a member by its primary group");
	gr_child(GR_UID, GR_OTHER, GR_GID, NULL, gr_use_block, r,
	    GR_USE_RESULTS);
	gr_ck_used(r, "a member by a supplementary group");

	gr_child(GR_UID, GR_OTHER, 0, NULL, gr_connect_list, r, 2);
	ck_assert_msg(r[0] == -EACCES, "a user of another group: connect: "
	    "%s", rundown_strerror(r[0]));
}
END_TEST

/* ---- activated --------------------------------------------------------- */

/* With the units' socket and -g, a member gets in, through the library
 * and through rundownctl. */
START_TEST(test_activated_member)
{
	int32_t r[GR_MAX_RESULTS];
	struct gr_ctl c;

	gr_child(GR_UID, GR_GID, 0, NULL, gr_use_block, r, GR_USE_RESULTS);
	gr_ck_used(r, "a member, under socket activation");
	if (!gr_ctl(GR_UID, GR_GID, 0, NULL, ARGS("-S", td.sock, "create",
	    "Grp1"), &c)) {
		fprintf(stderr, "check_group: rundownctl cannot run as uid %u "
		    "here; not checked\n", GR_UID);
		return;
	}
	gr_ck_ctl(&c, 0, ARGS(NULL));
	ck_assert_int_eq(rundown_ctl_free(td.conn, GR_TAG), 0);
}
END_TEST

/*
 * The same socket, open to the group, but a daemon without -g: the
 * connection is made, then refused by the daemon (EACCES, and closed),
 * which logs it; rundownctl names the daemon's -g.
 */
START_TEST(test_activated_refused)
{
	int32_t r[GR_MAX_RESULTS];
	off_t off = td_log_size();
	struct gr_ctl c;

	gr_child(GR_UID, GR_GID, 0, NULL, gr_connect_list, r, 2);
	ck_assert_msg(r[0] == 0, "the socket let the member in, but "
	    "connect: %s", rundown_strerror(r[0]));
	ck_assert_msg(r[1] == -EACCES, "a daemon without -g: list: %s",
	    rundown_strerror(r[1]));
	td_await_log(off, "uid " GR_UID_STR ": not a permitted user", 1);
	if (!gr_ctl(GR_UID, GR_GID, 0, NULL, ARGS("-S", td.sock, "list"),
	    &c)) {
		fprintf(stderr, "check_group: rundownctl cannot run as uid %u "
		    "here; not checked\n", GR_UID);
		return;
	}
	gr_ck_ctl(&c, 77, ARGS("does not let uid " GR_UID_STR " in", "-g"));
	/* Said at start-up, where an operator looks first. */
	td_await_log(0, "is open to group " GR_GID_STR " (mode 660), which "
	    "no -g names", 1);
}
END_TEST

/* ---- fallback ---------------------------------------------------------- */

/* The environment of a child: no daemon of its own (its runtime
 * directory, td.dir/xdg, is empty or missing), the test's daemon for
 * the system's. */
static char gr_env_xdg[PATH_MAX + 32];
static char gr_env_sys[PATH_MAX + 32];
static char gr_own[PATH_MAX];		/* its own default path */

/* Sets the above, for the system's socket sys. */
static void
gr_fallback_env(const char *sys)
{
	snprintf(gr_env_xdg, sizeof(gr_env_xdg), "XDG_RUNTIME_DIR=%s/xdg",
	    td.dir);
	snprintf(gr_env_sys, sizeof(gr_env_sys), "RUNDOWN_SYSTEM_SOCKET=%s",
	    sys);
	snprintf(gr_own, sizeof(gr_own), "%s/xdg/rundownd/rundownd.sock",
	    td.dir);
}

/* In a child: the default path is its own; rundown_connect(NULL) and
 * rundown_attach() reach the system's; a block made there: 6 results. */
static void
gr_fallback_use(int out)
{
	char path[TD_SOCKLEN];
	rundown_cache_t *ref = NULL;
	rundown_conn_t *c = NULL;
	int r;

	gr_put(out, rundown_socket_path(path, sizeof(path)) == 0 &&
	    strcmp(path, gr_own) == 0 ? 0 : -1);
	gr_put(out, r = rundown_connect(NULL, &c));
	gr_put(out, r == 0 ? rundown_ctl_create(c, GR_TAG, 4) : r);
	gr_put(out, r = rundown_attach(GR_TAG, 0, &ref));
	gr_put(out, r == 0 && rundown_cache_acquire(ref) ? 0 : -1);
	if (r == 0) {
		rundown_cache_release(ref);
		r = rundown_detach(ref);
	}
	gr_put(out, r);
	rundown_disconnect(c);
}

/* In a child: a stale socket of its own at its own path (bound, nobody
 * listening) does not stop the fallback; a file there does
 * (-ENOTSOCK); $RUNDOWN_SOCKET and a path given mean that path alone
 * (-ECONNREFUSED); without a path of its own (no $XDG_RUNTIME_DIR nor
 * $HOME), the system's: 5 results. */
static void
gr_fallback_paths(int out)
{
	struct sockaddr_un sun;
	rundown_conn_t *c = NULL;
	char dir[PATH_MAX];
	int fd, r;

	snprintf(dir, sizeof(dir), "%s/xdg/rundownd", td.dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, gr_own, strlen(gr_own) + 1);
	if (mkdir(dir, 0700) != 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		_exit(3);
	close(fd);
	gr_put(out, r = rundown_connect(NULL, &c));
	rundown_disconnect(c);

	if (setenv("RUNDOWN_SOCKET", gr_own, 1) != 0)
		_exit(4);
	gr_put(out, rundown_connect(NULL, &c));
	unsetenv("RUNDOWN_SOCKET");
	gr_put(out, rundown_connect(gr_own, &c));

	if (unlink(gr_own) != 0 || (fd = open(gr_own, O_WRONLY | O_CREAT |
	    O_CLOEXEC, 0600)) < 0)
		_exit(5);
	close(fd);
	gr_put(out, rundown_connect(NULL, &c));

	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("HOME");
	gr_put(out, r = rundown_connect(NULL, &c));
	rundown_disconnect(c);
}

/* A daemon for the system's at td.sock, letting GR_GID in, with no daemon
 * at the user's own path: the library falls back to it. */
START_TEST(test_fallback_library)
{
	struct rundown_block_info info;
	int32_t r[GR_MAX_RESULTS];
	size_t n, i;
	char xdg[PATH_MAX];

	gr_fallback_env(td.sock);
	/* Its runtime directory, its own, with nothing in it. */
	snprintf(xdg, sizeof(xdg), "%s/xdg", td.dir);
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	ck_assert_int_eq(chown(xdg, GR_UID, GR_GID), 0);

	gr_child(GR_UID, GR_GID, 0, ARGS(gr_env_xdg, gr_env_sys),
	    gr_fallback_use, r, 6);
	ck_assert_msg(r[0] == 0, "rundown_socket_path() is not %s", gr_own);
	for (i = 1; i < 6; i++)
		ck_assert_msg(r[i] == 0, "fallback, step %zu: %s\n%s", i,
		    rundown_strerror(r[i]), td_log());
	ck_assert_int_eq(rundown_ctl_status(td.conn, GR_TAG, &info, NULL, 0,
	    &n), 0);
	ck_assert_uint_eq(info.uid, GR_UID);

	gr_child(GR_UID, GR_GID, 0, ARGS(gr_env_xdg, gr_env_sys),
	    gr_fallback_paths, r, 5);
	ck_assert_msg(r[0] == 0, "past a stale socket of its own: %s",
	    rundown_strerror(r[0]));
	ck_assert_msg(r[1] == -ECONNREFUSED, "$RUNDOWN_SOCKET of no daemon: "
	    "%s", rundown_strerror(r[1]));
	ck_assert_msg(r[2] == -ECONNREFUSED, "a path of no daemon: %s",
	    rundown_strerror(r[2]));
	ck_assert_msg(r[3] == -ENOTSOCK, "a file at its own path: %s",
	    rundown_strerror(r[3]));
	ck_assert_msg(r[4] == 0, "no path of its own: %s",
	    rundown_strerror(r[4]));
	ck_assert_int_eq(rundown_ctl_free(td.conn, GR_TAG), 0);
}
END_TEST

/* In a child: connect(NULL) and create: 2 results. */
static void
gr_create_default(int out)
{
	rundown_conn_t *c = NULL;
	int r;

	gr_put(out, r = rundown_connect(NULL, &c));
	gr_put(out, r == 0 ? rundown_ctl_create(c, GR_TAG, 4) : r);
	rundown_disconnect(c);
}

/* Where a daemon runs at the user's own path, it is the one: the block
 * is made there, not at the system's. */
START_TEST(test_fallback_own_first)
{
	struct rundown_block_info info;
	const char *argv[8];
	rundown_conn_t *c;
	int32_t r[GR_MAX_RESULTS];
	char xdg[PATH_MAX];
	pid_t pid, w;
	size_t n;
	int st;

	gr_fallback_env(td.sock);
	/* A root daemon there, as trusted as the system's: its runtime
	 * directory is root's, and the daemon makes rundownd/ in it for
	 * the group (-g). */
	snprintf(xdg, sizeof(xdg), "%s/xdg", td.dir);
	ck_assert_int_eq(mkdir(xdg, 0755), 0);
	argv[0] = "rundownd";
	argv[1] = "-d";
	argv[2] = "-S";
	argv[3] = gr_own;
	argv[4] = "-g";
	argv[5] = GR_GID_STR;
	argv[6] = NULL;
	pid = td_spawn(argv);
	td_await_daemon(gr_own, pid);

	gr_child(GR_UID, GR_GID, 0, ARGS(gr_env_xdg, gr_env_sys),
	    gr_create_default, r, 2);
	ck_assert_msg(r[0] == 0 && r[1] == 0, "own daemon: %s, %s\n%s",
	    rundown_strerror(r[0]), rundown_strerror(r[1]), td_log());
	ck_assert_int_eq(rundown_ctl_status(td.conn, GR_TAG, &info, NULL, 0,
	    &n), -ENOENT);
	ck_assert_int_eq(rundown_connect(gr_own, &c), 0);
	ck_assert_int_eq(rundown_ctl_status(c, GR_TAG, &info, NULL, 0, &n), 0);
	ck_assert_uint_eq(info.uid, GR_UID);
	ck_assert_int_eq(rundown_ctl_free(c, GR_TAG), 0);
	rundown_disconnect(c);

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	ck_assert_int_eq(w, pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the own daemon "
	    "did not exit cleanly (status %#x)\n%s", st, td_log());
}
END_TEST

/* rundownctl, without -S: the system's when the user runs no daemon;
 * $RUNDOWN_SOCKET and -S mean that path alone. */
START_TEST(test_fallback_ctl)
{
	const char *env[] = { gr_env_xdg, gr_env_sys, NULL };
	char envsock[PATH_MAX + 32];
	struct gr_ctl c;

	gr_fallback_env(td.sock);
	if (!gr_ctl(GR_UID, GR_GID, 0, env, ARGS("create", "Grp1"), &c)) {
		fprintf(stderr, "check_group: rundownctl cannot run as uid %u "
		    "here; not checked\n", GR_UID);
		return;
	}
	gr_ck_ctl(&c, 0, ARGS(NULL));
	ck_assert(gr_ctl(GR_UID, GR_GID, 0, env, ARGS("list"), &c));
	gr_ck_ctl(&c, 0, ARGS(NULL));
	ck_assert_msg(strstr(c.out, "Grp1") != NULL, "list: %s", c.out);
	ck_assert(gr_ctl(GR_UID, GR_GID, 0, env, ARGS("run", "Grp1", "--",
	    "true"), &c));
	gr_ck_ctl(&c, 0, ARGS(NULL));

	ck_assert(gr_ctl(GR_UID, GR_GID, 0, env, ARGS("-S", gr_own, "list"),
	    &c));
	gr_ck_ctl(&c, 69, ARGS("cannot reach rundownd at ", gr_own));
	ck_assert_msg(strstr(c.err, "system's") == NULL, "-S tried the "
	    "system's: %s", c.err);
	snprintf(envsock, sizeof(envsock), "RUNDOWN_SOCKET=%s", gr_own);
	ck_assert(gr_ctl(GR_UID, GR_GID, 0, ARGS(gr_env_xdg, gr_env_sys,
	    envsock), ARGS("list"), &c));
	gr_ck_ctl(&c, 69, ARGS("cannot reach rundownd at ", gr_own));
	ck_assert_msg(strstr(c.err, "system's") == NULL, "$RUNDOWN_SOCKET "
	    "tried the system's: %s", c.err);
	ck_assert_int_eq(rundown_ctl_free(td.conn, GR_TAG), 0);
}
END_TEST

/*
 * When neither answers, rundownctl names both paths and why, in one
 * line: no daemon at the system's (69), or the system's closed to the
 * user (77, naming the group it is open to).
 */
START_TEST(test_fallback_neither)
{
	const char *env[] = { gr_env_xdg, gr_env_sys, NULL };
	char none[PATH_MAX], why[PATH_MAX + 64];
	struct gr_ctl c;

	snprintf(none, sizeof(none), "%s/none/rundownd.sock", td.dir);
	gr_fallback_env(none);
	if (!gr_ctl(GR_UID, GR_GID, 0, env, ARGS("list"), &c)) {
		fprintf(stderr, "check_group: rundownctl cannot run as uid %u "
		    "here; not checked\n", GR_UID);
		return;
	}
	snprintf(why, sizeof(why), "(no such directory %s/xdg/rundownd)",
	    td.dir);
	gr_ck_ctl(&c, 69, ARGS("cannot reach rundownd at ", gr_own, why,
	    "nor the system's at ", none, "-S or $RUNDOWN_SOCKET"));
	ck_assert_msg(strchr(c.err, '\n') == c.err + strlen(c.err) - 1,
	    "not one line: %s", c.err);
	ck_assert(gr_ctl(GR_UID, GR_GID, 0, env, ARGS("wait", "Grp1"), &c));
	gr_ck_ctl(&c, 69, ARGS(gr_own, none));

	/* The test's daemon lets GR_GID in; a user of another group is
	 * kept out of its socket. */
	gr_fallback_env(td.sock);
	ck_assert(gr_ctl(GR_UID, GR_OTHER, 0, env, ARGS("list"), &c));
	gr_ck_ctl(&c, 77, ARGS(gr_own, "nor the system's at ", td.sock,
	    "permission denied to uid " GR_UID_STR ", not in group "));
	ck_assert_msg(strstr(c.err, GR_GID_STR) != NULL ||
	    getgrgid(GR_GID) != NULL, "the group is not named: %s", c.err);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

static Suite *
group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc;

	tc = td_case(s, "group", gr_setup_group, 60);
	tcase_add_test(tc, test_group_members);
	tcase_add_test(tc, test_fallback_library);
	tcase_add_test(tc, test_fallback_own_first);
	tcase_add_test(tc, test_fallback_ctl);
	tcase_add_test(tc, test_fallback_neither);

	tc = td_case(s, "activated", gr_setup_activated, 60);
	tcase_add_test(tc, test_activated_member);

	tc = td_case(s, "activated without -g", gr_setup_activated_bare,
	    60);
	tcase_add_test(tc, test_activated_refused);
	return s;
}

int
main(void)
{
	return td_main("rundown-group", 0755, GR_DEADLINE_MS, group_suite);
}
