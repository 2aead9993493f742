/*
 * check_ctl.c: rundownctl as an operator meets it.
 *
 *   wait     the live line on a terminal (a pseudo-terminal here) with
 *            the time waited, the time left and the holders; Ctrl-C
 *            typed at it, and SIGINT or SIGTERM with its output
 *            captured: the message, the run-down left in progress, the
 *            exit by the signal, and the commands the message names
 *            doing what it says; a wait that goes on across a restart of
 *            the daemon.
 *   run      holders show the utility's name, not rundownctl's, and its
 *            pid; the protection lasts as long as the utility, whatever
 *            signal rundownctl gets (SIGKILL, SIGTERM passed on); the
 *            utility's exit status.
 *   access   each reason a user cannot get in says which it is and
 *            names the daemon's -u and -g: the socket closed to the user,
 *            the daemon not admitting it, the block's owner and mode.
 *   run's options  --wait-open: the utility starts only once the block
 *            is open again, and with SECONDS gives up with 75; --create
 *            makes the block.
 *   figures  the run-down figures of status, status --json and list:
 *            none, one in progress, one drained, the next.
 *   metrics  the OpenMetrics text, read by a strict reader of the subset
 *            it uses, against status, and its counters across scrapes.
 *
 * Each test starts its own rundownd (testdaemon.h) and synchronises on
 * what it can observe: the block's state read back, a line on the
 * terminal, a line of the daemon's log (-v logs every connection), a
 * child's exit.  Polls pause briefly under a deadline that is a safety
 * net.  Other users are made-up uids that a forked child switches to; no
 * account is created.
 */
#include "config.h"

#include <dirent.h>
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

#define CT_DEADLINE_MS 20000	/* safety net of every poll */
#define CT_UID 61301		/* made-up users; no accounts exist */
#define CT_UID_STR "61301"
#define CT_UID2 61302
#define CT_GID 61303
#define CT_TERM_BUF 65536	/* what a test keeps of a terminal's output */

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

/* Polls the block until one process is attached and holds one
 * protection (run attaches, then acquires). */
static void
await_held(uint32_t tag)
{
	struct timespec start = td_now();
	struct rundown_block_info info;

	for (;;) {
		td_status(tag, &info, NULL, 0);
		if (info.attached == 1 && info.outstanding == 1)
			return;
		ck_assert_msg(td_elapsed_ms(&start) < CT_DEADLINE_MS,
		    "%u attached holding %llu, not 1 holding 1, after %d ms",
		    info.attached, (unsigned long long)info.outstanding,
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

/* Waits for pid, which must be killed by sig (a signal-killed rundownctl
 * is what td_ctl_finish() refuses). */
static void
reap_signalled(pid_t pid, int sig, const char *name)
{
	int st = td_reap_child(pid, name);

	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig,
	    "rundownctl %s: status %#x, not killed by signal %d", name, st,
	    sig);
}

/*
 * Starts rundownctl -S td.sock ARGS... as ctl_start_in() does, with stdin
 * from a pipe that *feed writes and fd 3 on a pipe that *rep reads: a
 * utility of run reads its stdin and says its pid on fd 3 (UTIL_PID).
 */
static pid_t
ctl_start_fd3(const char *name, const char *const *args, int *feed, int *rep)
{
	char out[PATH_MAX], err[PATH_MAX];
	const char *argv[32];
	int in[2], r[2], o, e;
	pid_t pid;

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(r, O_CLOEXEC), 0);
	ctl_argv(argv, args);
	snprintf(out, sizeof(out), "%s/%s.out", td.dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", td.dir, name);
	pid = test_fork_flushed();
	if (pid == 0) {
		/* Close-on-exec: the utility holds only fds 0 to 3. */
		o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (o < 0 || e < 0 || dup2(in[0], 0) < 0 || dup2(o, 1) < 0 ||
		    dup2(e, 2) < 0 || dup2(r[1], 3) < 0)
			_exit(120);
		execv(td.rundownctl, (char *const *)argv);
		_exit(121);
	}
	close(in[0]);
	close(r[1]);
	*feed = in[1];
	*rep = r[0];
	return pid;
}

/* What a utility of ctl_start_fd3() says first: its pid, in 10 digits. */
#define UTIL_PID "printf '%010d\\n' $$ >&3; "

/* Reads the pid that a utility says with UTIL_PID. */
static pid_t
util_pid(int rep)
{
	char buf[12];

	td_read_all(rep, buf, 11, "the utility's pid", NULL);
	buf[11] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

/* The state letter of pid in /proc (Z: exited, not reaped), or 0 if there
 * is no such process. */
static char
proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[1024], *p;
	char state;
	int pp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	td_file_tail(path, buf, sizeof(buf));
	/* The command name may hold anything: count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d", &state, &pp) != 2)
		return 0;
	if (ppid != NULL)
		*ppid = (pid_t)pp;
	return state;
}

/* The parent of pid, which must be alive. */
static pid_t
parent_of(pid_t pid)
{
	pid_t ppid = 0;
	char state = proc_state(pid, &ppid);

	ck_assert_msg(state != 0 && state != 'Z', "pid %ld is gone",
	    (long)pid);
	return ppid;
}

/* Whether pid has exited (a zombie, or reaped). */
static bool
exited(pid_t pid)
{
	char state = proc_state(pid, NULL);

	return state == 0 || state == 'Z';
}

/* Polls pid until its command name is comm (it has exec'd comm). */
static void
await_comm(pid_t pid, const char *comm)
{
	struct timespec start = td_now();
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	for (;;) {
		td_file_tail(path, buf, sizeof(buf));
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, comm) == 0)
			return;
		ck_assert_msg(td_elapsed_ms(&start) < CT_DEADLINE_MS,
		    "pid %ld is still \"%s\", not \"%s\", after %d ms",
		    (long)pid, buf, comm, CT_DEADLINE_MS);
		td_pause();
	}
}

/* Fails if pid has a descriptor from 4 up that this process has not at
 * the same number: all that run's utility may hold is what the test
 * passed down, never the daemon's socket nor a pipe of rundownctl's. */
static void
ck_fds_inherited(pid_t pid)
{
	char dir[64], path[PATH_MAX], mine[PATH_MAX], theirs[PATH_MAX];
	struct dirent *d;
	ssize_t n;
	DIR *dp;
	int fd;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	ck_assert_ptr_nonnull(dp = opendir(dir));
	while ((d = readdir(dp)) != NULL) {
		if ((fd = atoi(d->d_name)) < 4)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if ((n = readlink(path, theirs, sizeof(theirs) - 1)) < 0)
			continue;
		theirs[n] = '\0';
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, mine, sizeof(mine) - 1);
		mine[n > 0 ? n : 0] = '\0';
		ck_assert_msg(strcmp(mine, theirs) == 0, "the utility has fd "
		    "%d on %s, which the test did not pass it", fd, theirs);
	}
	closedir(dp);
}

/* ---- a pseudo-terminal ------------------------------------------------- */

/* A rundownctl on a terminal of its own, and what it wrote there. */
struct term {
	int master;
	pid_t pid;
	size_t len;
	char buf[CT_TERM_BUF];
};

/*
 * Starts rundownctl -S td.sock ARGS... in a new session on a new
 * pseudo-terminal, its controlling terminal, as a shell starts a command
 * at a prompt: keys written to the master reach it as signals.  200
 * columns, so that no line is cut.
 */
static void
term_start(struct term *t, const char *const *args)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 200 };
	const char *argv[32];
	char name[128];
	int slave;

	memset(t, 0, sizeof(*t));
	ctl_argv(argv, args);
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(t->master, 0);
	ck_assert_int_eq(grantpt(t->master), 0);
	ck_assert_int_eq(unlockpt(t->master), 0);
	ck_assert_int_eq(ptsname_r(t->master, name, sizeof(name)), 0);
	ck_assert_int_eq(ioctl(t->master, TIOCSWINSZ, &ws), 0);
	t->pid = test_fork_flushed();
	if (t->pid == 0) {
		if (setsid() < 0 || (slave = open(name, O_RDWR)) < 0 ||
		    ioctl(slave, TIOCSCTTY, 0) != 0 || dup2(slave, 0) < 0 ||
		    dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(120);
		execv(td.rundownctl, (char *const *)argv);
		_exit(121);
	}
}

/* Reads what the terminal has, waiting up to ms: false at its end (the
 * last descriptor of the other side closed). */
static bool
term_read(struct term *t, int ms)
{
	struct pollfd p = { .fd = t->master, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return true;
	n = read(t->master, t->buf + t->len, sizeof(t->buf) - 1 - t->len);
	if (n <= 0)
		return n < 0 && errno == EINTR;
	t->len += (size_t)n;
	t->buf[t->len] = '\0';
	ck_assert_msg(t->len + 1 < sizeof(t->buf), "the terminal filled %zu "
	    "bytes", sizeof(t->buf));
	return true;
}

/* Reads the terminal until its output from offset from on holds s; the
 * match.  Fails at the deadline or the end. */
static const char *
term_await(struct term *t, size_t from, const char *s)
{
	struct timespec start = td_now();
	const char *m;

	while ((m = strstr(t->buf + from, s)) == NULL) {
		ck_assert_msg(td_elapsed_ms(&start) < CT_DEADLINE_MS,
		    "the terminal never showed \"%s\"; it has:\n%s", s,
		    t->buf + from);
		ck_assert_msg(term_read(t, 100), "the terminal ended without "
		    "\"%s\"; it has:\n%s", s, t->buf + from);
	}
	return m;
}

/* Reads the terminal to its end. */
static void
term_drain(struct term *t)
{
	struct timespec start = td_now();

	while (term_read(t, 100))
		ck_assert_msg(td_elapsed_ms(&start) < CT_DEADLINE_MS,
		    "the terminal still open after %d ms:\n%s", CT_DEADLINE_MS,
		    t->buf);
}

/* ---- a. wait ----------------------------------------------------------- */

/*
 * On a terminal: the live line says how long the wait has waited and has
 * left, and who holds what, by the name of the utility run holds it
 * with; Ctrl-C clears it and says that the run-down goes on and how to
 * continue, and the commands it names do that.
 */
START_TEST(test_wait_terminal)
{
	uint32_t tag = RUNDOWN_TAG('L', 'i', 'n', 'e');
	struct rundown_block_info info;
	unsigned waited_m, waited_s, left_m, left_s;
	int len = -1, feed, holder_pid;
	char want[512], line[512];
	const char *m, *end;
	struct term t;
	size_t from;
	pid_t run;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	run = run_start("run", "Line", "cat", &feed);
	await_held(tag);

	term_start(&t, ARGS("wait", "Line", "--timeout", "600"));
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, -1, t.pid);
	m = term_await(&t, 0, "\rLine: waited ");
	end = term_await(&t, (size_t)(m - t.buf), "\033[K");
	ck_assert_uint_lt((size_t)(end - m), sizeof(line));
	memcpy(line, m + 1, (size_t)(end - m) - 1);
	line[end - m - 1] = '\0';
	/* Waited under ten seconds, at most ten minutes left, then the
	 * holder as the daemon names it: cat, not rundownctl. */
	ck_assert_msg(sscanf(line, "Line: waited %u:%2u, %u:%2u left; 1 "
	    "outstanding: pid %d (cat) 1%n", &waited_m, &waited_s, &left_m,
	    &left_s, &holder_pid, &len) == 5 && len == (int)strlen(line),
	    "the live line is \"%s\"", line);
	ck_assert_msg(waited_m == 0 && waited_s < 10, "%s", line);
	ck_assert_msg(left_m * 60 + left_s <= 600 &&
	    left_m * 60 + left_s + waited_s >= 599, "%s", line);
	ck_assert_int_eq(parent_of(holder_pid), run);

	/* Ctrl-C, typed. */
	from = t.len;
	ck_assert_int_eq(write(t.master, "\003", 1), 1);
	snprintf(want, sizeof(want), "\r\033[Krundownctl: wait Line: "
	    "interrupted with 1 outstanding; the run-down stays in progress: "
	    "\"rundownctl -S %s wait Line\" waits for it again, and once it "
	    "has drained, \"rundownctl -S %s reinit Line\" opens the block "
	    "again\r\n", td.sock, td.sock);
	term_await(&t, from, want);
	reap_signalled(t.pid, SIGINT, "wait");
	term_drain(&t);
	close(t.master);
	m = strstr(t.buf + from, want);
	ck_assert_msg(strstr(m, "Line: waited") == NULL, "a live line after "
	    "the message:\n%s", m);

	/* As the message says: still running down, a new wait ends at the
	 * drain, and reinit opens the block. */
	info = td_await_block(tag, RUNDOWN_RUNNING_DOWN, -1, 0);
	ck_assert_uint_eq(info.outstanding, 1);
	t.pid = td_ctl_start(td.sock, "again", ARGS("wait", "Line"));
	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run"), 0);
	ck_assert_int_eq(td_ctl_finish(t.pid, "again"), 0);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "reinit",
	    ARGS("reinit", "Line")), "reinit"), 0);
	info = td_await_block(tag, RUNDOWN_OPEN, -1, 0);
	ck_assert_uint_eq(info.generation, 1);
	/* The utility's row, at its exit. */
	ck_assert_uint_eq(info.reclaimed_rows, 1);
}
END_TEST

/* Its output captured, a wait takes SIGINT and SIGTERM the same way: one
 * line of message, and it dies of the signal. */
START_TEST(test_wait_interrupted)
{
	static const int sigs[2] = { SIGINT, SIGTERM };
	static const char *const names[2] = { "Int1", "Int2" };
	const uint32_t tags[2] = { RUNDOWN_TAG('I', 'n', 't', '1'),
	    RUNDOWN_TAG('I', 'n', 't', '2') };
	struct agent ag;
	char want[512];
	pid_t w;
	unsigned i;

	agent_start(&ag, "holder", tags, 2, RUNDOWN_ATTACH_CREATE);
	for (i = 0; i < 2; i++) {
		agent_acquire(&ag, i, 1);
		w = td_ctl_start(td.sock, "wait", ARGS("wait", names[i]));
		/* Running down: the wait went out, and rundownctl takes the
		 * signals from before it sends it. */
		td_await_block(tags[i], RUNDOWN_RUNNING_DOWN, -1, w);
		ck_assert_int_eq(kill(w, sigs[i]), 0);
		reap_signalled(w, sigs[i], "wait");
		snprintf(want, sizeof(want), "rundownctl: wait %s: "
		    "interrupted; the run-down stays in progress: \"rundownctl "
		    "-S %s wait %s\" waits for it again, and once it has "
		    "drained, \"rundownctl -S %s reinit %s\" opens the block "
		    "again\n", names[i], td.sock, names[i], td.sock, names[i]);
		ck_assert_str_eq(td_ctl_output("wait", "err"), want);
		ck_assert_str_eq(td_ctl_output("wait", "out"), "");
		td_await_block(tags[i], RUNDOWN_RUNNING_DOWN, -1, 0);
		agent_release(&ag, i, 1);
		td_await_block(tags[i], RUNDOWN_DRAINED, -1, 0);
	}
	agent_quit(&ag);
}
END_TEST

/* A wait pending when the daemon stops (SIGTERM: it closes every
 * connection and removes its socket) looks for the next daemon, as an
 * attached descriptor's wait does, and ends when the block drains. */
START_TEST(test_wait_restart)
{
	uint32_t tag = RUNDOWN_TAG('R', 's', 't', 'w');
	struct rundown_block_info info;
	struct agent ag;
	char key[64];
	off_t off;
	pid_t w;
	int st;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "holder", &tag, 1, 0);
	agent_acquire(&ag, 0, 2);
	w = td_ctl_start(td.sock, "wait", ARGS("wait", "Rstw", "--timeout",
	    "120"));
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, -1, w);

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	/* A release with no daemon: still one outstanding. */
	agent_release(&ag, 0, 1);
	ck_assert_msg(waitpid(w, &st, WNOHANG) == 0, "the wait ended with "
	    "the daemon (status %#x): %s", st, td_ctl_output("wait", "err"));

	off = td_log_size();
	td_start(verbose_args);
	td.conn = td_connect();
	/* The wait connects to the new daemon by itself. */
	snprintf(key, sizeof(key), "pid %ld uid", (long)w);
	td_await_log(off, key, 1);
	ck_assert_msg(waitpid(w, &st, WNOHANG) == 0, "the wait ended with 1 "
	    "outstanding (status %#x): %s", st, td_ctl_output("wait", "err"));
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(td_ctl_finish(w, "wait"), 0);
	ck_assert_str_eq(td_ctl_output("wait", "err"), "");
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	agent_quit(&ag);
}
END_TEST

/* ---- b. run ------------------------------------------------------------ */

/* A holder started with run is shown by the utility's name, as exec
 * would name it (the link's name, cut to 15 bytes), with the pid of the
 * utility, rundownctl's child; its row is reclaimed when it exits, and
 * before rundownctl exits. */
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
	await_held(tag);
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(parent_of(h[0].pid), run);
	ck_assert_str_eq(h[0].comm, "cat");
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "status",
	    ARGS("status", "Name")), "status"), 0);
	snprintf(want, sizeof(want), "holder: pid %ld (cat) row %u "
	    "outstanding 1\n", (long)h[0].pid, h[0].row);
	ck_assert_msg(strstr(td_ctl_output("status", "out"), want) != NULL,
	    "status does not say \"%s\":\n%s", want,
	    td_ctl_output("status", "out"));
	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run"), 0);

	/* A path, through a link with a long name. */
	snprintf(link, sizeof(link), "%s/protected-utility", td.dir);
	ck_assert_int_eq(symlink(cat, link), 0);
	run = run_start("run2", "Name", link, &feed);
	await_held(tag);
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(parent_of(h[0].pid), run);
	ck_assert_str_eq(h[0].comm, "protected-utili");
	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run2"), 0);

	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 2);
}
END_TEST

/*
 * The holder of run is the utility itself: status shows its pid and its
 * name, and it holds no descriptor of rundownctl's (the daemon's socket,
 * the pipe that reports a failure before the exec).
 */
START_TEST(test_run_holder)
{
	uint32_t tag = RUNDOWN_TAG('U', 't', 'l', 'y');
	struct rundown_block_info info;
	struct rundown_holder h[2];
	char want[128];
	int feed, rep;
	pid_t run, util;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	run = ctl_start_fd3("run", ARGS("run", "Utly", "--", "sh", "-c",
	    UTIL_PID "exec cat"), &feed, &rep);
	util = util_pid(rep);
	await_held(tag);
	ck_assert_int_ne(util, run);
	ck_assert_int_eq(parent_of(util), run);
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(h[0].pid, util);
	ck_assert_str_eq(h[0].comm, "sh");
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "status",
	    ARGS("status", "Utly")), "status"), 0);
	snprintf(want, sizeof(want), "holder: pid %ld (sh) row %u "
	    "outstanding 1\n", (long)util, h[0].row);
	ck_assert_msg(strstr(td_ctl_output("status", "out"), want) != NULL,
	    "status does not say \"%s\":\n%s", want,
	    td_ctl_output("status", "out"));
	await_comm(util, "cat");
	ck_fds_inherited(util);

	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run"), 0);
	close(rep);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.outstanding, 0);
}
END_TEST

/*
 * SIGKILL to rundownctl leaves the protection with the utility: a wait
 * still waits while the utility runs (it ignores the SIGTERM that its
 * parent's death sends), and ends once the utility has exited.
 */
START_TEST(test_run_killed)
{
	uint32_t tag = RUNDOWN_TAG('K', 'i', 'l', 'l');
	const struct timespec brief = { 0, 300000000 };
	struct rundown_block_info info;
	struct rundown_holder h[2];
	int feed, rep;
	pid_t run, util;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	run = ctl_start_fd3("run", ARGS("run", "Kill", "--", "sh", "-c",
	    "trap '' TERM HUP INT QUIT; " UTIL_PID "read x"), &feed, &rep);
	util = util_pid(rep);
	await_held(tag);
	ck_assert_int_eq(kill(run, SIGKILL), 0);
	reap_signalled(run, SIGKILL, "run");

	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &brief), -ETIMEDOUT);
	ck_assert_msg(!exited(util), "the utility exited with rundownctl");
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_int_eq(h[0].pid, util);
	ck_assert_uint_eq(h[0].outstanding, 1);

	/* The utility reads the end of its input, and exits. */
	close(feed);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert(exited(util));
	close(rep);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed, 1);
}
END_TEST

/* A utility that does not ignore SIGTERM ends with rundownctl killed:
 * its parent's death sends it one. */
START_TEST(test_run_orphaned)
{
	uint32_t tag = RUNDOWN_TAG('O', 'r', 'p', 'h');
	int feed, rep;
	pid_t run, util;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	run = ctl_start_fd3("run", ARGS("run", "Orph", "--", "sh", "-c",
	    UTIL_PID "exec cat"), &feed, &rep);
	util = util_pid(rep);
	await_held(tag);
	ck_assert_int_eq(kill(run, SIGKILL), 0);
	reap_signalled(run, SIGKILL, "run");
	/* Its input still open: only the signal ends it. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert(exited(util));
	close(feed);
	close(rep);
}
END_TEST

/*
 * SIGTERM to rundownctl goes on to the utility, and rundownctl exits
 * with 128 + 15 once the utility has died of it; a wait pending all the
 * while ends only after the utility has exited.
 */
START_TEST(test_run_terminated)
{
	uint32_t tag = RUNDOWN_TAG('T', 'e', 'r', 'm');
	struct rundown_block_info info;
	int feed, rep, st;
	pid_t run, util, w;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	run = ctl_start_fd3("run", ARGS("run", "Term", "--", "sh", "-c",
	    UTIL_PID "exec cat"), &feed, &rep);
	util = util_pid(rep);
	await_held(tag);
	w = td_ctl_start(td.sock, "wait", ARGS("wait", "Term"));
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, -1, w);

	ck_assert_int_eq(kill(run, SIGTERM), 0);
	ck_assert_int_eq(td_ctl_finish(w, "wait"), 0);
	ck_assert_msg(exited(util), "the wait ended while the utility runs");
	st = td_reap_child(run, "run");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM,
	    "run: status %#x, not an exit with %d: %s", st, 128 + SIGTERM,
	    td_ctl_output("run", "err"));
	ck_assert_str_eq(td_ctl_output("run", "err"), "");
	close(feed);
	close(rep);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed, 1);
}
END_TEST

/* run exits as the utility did; one that it could not run is given
 * back by hand, not reclaimed. */
START_TEST(test_run_status)
{
	uint32_t tag = RUNDOWN_TAG('E', 'x', 'i', 't');
	struct rundown_block_info info;
	char want[PATH_MAX + 64];

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "exit",
	    ARGS("run", "Exit", "--", "sh", "-c", "exit 7")), "exit"), 7);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "usr1",
	    ARGS("run", "Exit", "--", "sh", "-c", "kill -USR1 $$")), "usr1"),
	    128 + SIGUSR1);
	/* Each left the block as it found it before rundownctl exited. */
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 2);

	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "none",
	    ARGS("run", "Exit", "--", "no-such-utility")), "none"), 127);
	ck_assert_str_eq(td_ctl_output("none", "err"),
	    "rundownctl: no-such-utility: No such file or directory\n");
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "dir",
	    ARGS("run", "Exit", "--", td.dir)), "dir"), 126);
	snprintf(want, sizeof(want), "rundownctl: %s: Permission denied\n",
	    td.dir);
	ck_assert_str_eq(td_ctl_output("dir", "err"), want);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 2);
}
END_TEST

/* ---- c. access --------------------------------------------------------- */

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
	st = td_reap_child(pid, "rundownctl as another user");
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
	st = td_reap_child(pid, "a connection as another user");
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

/* ---- d. run's options -------------------------------------------------- */

/* Polls the daemon's log from off until a process attaches to the block
 * tagstr: its pid (-v logs "TAG: pid N (COMM) attached to row R"). */
static pid_t
await_attach(off_t off, const char *tagstr)
{
	char key[32], *log, *p;
	long pid;

	snprintf(key, sizeof(key), "%s: pid ", tagstr);
	td_await_log(off, key, 1);
	log = td_log_from(off);
	p = strstr(log, key);
	ck_assert_ptr_nonnull(p);
	pid = strtol(p + strlen(key), NULL, 10);
	ck_assert_msg(strstr(p, "attached to row") != NULL, "not an attach: "
	    "%s", p);
	free(log);
	return (pid_t)pid;
}

/*
 * run --wait-open, while the block runs down, waits for it to open again:
 * the utility (which says its pid on fd 3) does not start while the
 * run-down is in progress, nor once it has drained, only once the block
 * is re-initialized; then it holds the block as run's utility does.
 */
START_TEST(test_run_wait_open)
{
	uint32_t tag = RUNDOWN_TAG('W', 'o', 'p', 'n');
	struct rundown_block_info info;
	struct rundown_holder h[2];
	char key[64];
	int feed, feed2, rep;
	pid_t run, run2, w, child, util;
	off_t off;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	run = run_start("run", "Wopn", "cat", &feed);
	await_held(tag);
	w = td_ctl_start(td.sock, "wait", ARGS("wait", "Wopn"));
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, -1, w);

	/* Its child attaches, is refused, and looks at the status on a
	 * connection of its own: its second. */
	off = td_log_size();
	run2 = ctl_start_fd3("run2", ARGS("run", "--wait-open", "Wopn", "--",
	    "sh", "-c", UTIL_PID "exec cat"), &feed2, &rep);
	child = await_attach(off, "Wopn");
	snprintf(key, sizeof(key), "pid %ld uid", (long)child);
	td_await_log(off, key, 2);
	ck_assert_msg(!td_readable(rep), "the utility started during the "
	    "run-down");
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(parent_of(h[0].pid), run);

	/* Drained: still not open. */
	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run"), 0);
	ck_assert_int_eq(td_ctl_finish(w, "wait"), 0);
	ck_assert_msg(!td_readable(rep), "the utility started once drained");
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_int_eq(waitpid(run2, NULL, WNOHANG), 0);

	/* Open again: it starts, and holds the block. */
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), 0);
	util = util_pid(rep);
	ck_assert_int_eq(util, child);
	await_held(tag);
	ck_assert_uint_eq(td_status(tag, &info, h, 2), 1);
	ck_assert_int_eq(h[0].pid, util);
	close(feed2);
	ck_assert_int_eq(td_ctl_finish(run2, "run2"), 0);
	ck_assert_str_eq(td_ctl_output("run2", "err"), "");
	close(rep);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 2);
}
END_TEST

/*
 * run --wait-open=SECONDS gives up as run without it does, with 75 and
 * the utility never run; on an open block it runs at once; a bad number
 * is a usage error.
 */
START_TEST(test_run_wait_open_timeout)
{
	uint32_t tag = RUNDOWN_TAG('W', 'o', 'p', 't');
	struct rundown_block_info info;
	char mark[PATH_MAX], script[PATH_MAX + 32];

	snprintf(mark, sizeof(mark), "%s/ran", td.dir);
	snprintf(script, sizeof(script), "echo ran > '%s'", mark);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "open",
	    ARGS("run", "--wait-open=0.2", "Wopt", "--", "sh", "-c",
	    "exit 4")), "open"), 4);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);

	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "late",
	    ARGS("run", "--wait-open=0.2", "Wopt", "--", "sh", "-c", script)),
	    "late"), 75);
	ck_assert_str_eq(td_ctl_output("late", "err"), "rundownctl: run-down "
	    "of Wopt has begun, and the block was not open again within "
	    "0.200 s\n");
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "now",
	    ARGS("run", "--wait-open=0", "Wopt", "--", "sh", "-c", script)),
	    "now"), 75);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "plain",
	    ARGS("run", "Wopt", "--", "sh", "-c", script)), "plain"), 75);
	ck_assert_str_eq(td_ctl_output("plain", "err"), "rundownctl: run-down "
	    "of Wopt has begun\n");
	ck_assert_int_eq(access(mark, F_OK), -1);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.attached, 0);

	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "bad",
	    ARGS("run", "--wait-open=soon", "Wopt", "--", "true")), "bad"), 64);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "sep",
	    ARGS("run", "--wait-open", "0.2", "Wopt", "--", "true")), "sep"),
	    64);
}
END_TEST

/* run --create makes the block, the caller's with mode 0600 and the
 * daemon's rows, if it does not exist; without it, no such block. */
START_TEST(test_run_create)
{
	uint32_t tag = RUNDOWN_TAG('M', 'a', 'k', 'e');
	struct rundown_block_info info, other;

	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "none",
	    ARGS("run", "Make", "--", "true")), "none"), 1);
	ck_assert_str_eq(td_ctl_output("none", "err"), "rundownctl: run Make: "
	    "no such block\n");
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 0,
	    NULL), -ENOENT);

	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "create",
	    ARGS("run", "--create", "Make", "--", "sh", "-c", "exit 3")),
	    "create"), 3);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.uid, geteuid());
	ck_assert_uint_eq(info.mode, 0600);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_int_eq(rundown_ctl_create(td.conn, RUNDOWN_TAG('D', 'f', 'l',
	    't'), 0), 0);
	td_status(RUNDOWN_TAG('D', 'f', 'l', 't'), &other, NULL, 0);
	ck_assert_uint_eq(info.rows, other.rows);

	/* An existing block: only attached to, as without --create. */
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "again",
	    ARGS("run", "--create", "--wait-open", "Make", "--", "true")),
	    "again"), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 2);
	ck_assert_uint_eq(info.generation, 0);
	/* Removed: run --create makes it again, a new block. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "made",
	    ARGS("run", "--create", "--wait-open", "Make", "--", "true")),
	    "made"), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
}
END_TEST

/* ---- e. figures -------------------------------------------------------- */

/* The wall clock in ms since the Epoch, as the daemon dates run-downs. */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms since the Epoch as status --json writes it: seconds, 3 decimals. */
static const char *
json_time(int64_t ms, char *buf, size_t size)
{
	snprintf(buf, size, "%lld.%03d", (long long)(ms / 1000),
	    (int)(ms % 1000));
	return buf;
}

/* ms since the Epoch as status writes it: RFC 3339, UTC, to the ms. */
static const char *
text_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03dZ", (int)(ms % 1000));
	return buf;
}

/* rundownctl status TAG, and with --json: both must say want. */
static void
ck_status_says(const char *tagstr, const char *text, const char *json)
{
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "text",
	    ARGS("status", tagstr)), "text"), 0);
	ck_assert_msg(strstr(td_ctl_output("text", "out"), text) != NULL,
	    "status does not say\n%s\nbut\n%s", text,
	    td_ctl_output("text", "out"));
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "json",
	    ARGS("status", tagstr, "--json")), "json"), 0);
	ck_assert_msg(strstr(td_ctl_output("json", "out"), json) != NULL,
	    "status --json does not say\n%s\nbut\n%s", json,
	    td_ctl_output("json", "out"));
}

/* What the steps of test_figures share. */
struct figures {
	uint32_t tag;
	struct rundown_block_info info, again;
	pid_t run, w;			/* rundownctl run and wait */
	int feed;			/* run's input */
	off_t off;			/* the log, from the run-down on */
};

/* A new block: no figures at all, and status says none. */
static void
figures_none(struct figures *fg)
{
	struct rundown_block_info info;

	ck_assert_int_eq(rundown_ctl_create(td.conn, fg->tag, 0), 0);
	td_status(fg->tag, &info, NULL, 0);
	ck_assert_uint_eq(info.rundowns, 0);
	ck_assert_int_eq(info.last_start_ms, 0);
	ck_assert_int_eq(info.last_drain_ms, 0);
	ck_assert_uint_eq(info.last_duration_ms, 0);
	ck_assert_uint_eq(info.last_reclaimed_rows, 0);
	ck_status_says("Figs", "mode: 0600\nrundowns: 0\n",
	    "\"fence_failures\":0,\"rundowns\":0,\"last_start\":null,"
	    "\"last_drain\":null,\"last_duration_ms\":null,"
	    "\"last_reclaimed_rows\":null,\"holders\":[]}\n");
	ck_assert_ptr_null(strstr(td_ctl_output("text", "out"), "last_"));
}

/* In progress: its start by the wall clock around it, its duration so
 * far, no drain. */
static void
figures_in_progress(struct figures *fg)
{
	char text[512], json[512], t1[40];
	int64_t before, after;

	fg->run = run_start("run", "Figs", "cat", &fg->feed);
	await_held(fg->tag);
	fg->off = td_log_size();
	before = wall_ms();
	fg->w = td_ctl_start(td.sock, "wait", ARGS("wait", "Figs"));
	fg->info = td_await_block(fg->tag, RUNDOWN_RUNNING_DOWN, -1, fg->w);
	after = wall_ms();
	ck_assert_uint_eq(fg->info.rundowns, 1);
	ck_assert_int_ge(fg->info.last_start_ms, before);
	ck_assert_int_le(fg->info.last_start_ms, after);
	ck_assert_int_eq(fg->info.last_drain_ms, 0);
	td_status(fg->tag, &fg->again, NULL, 0);
	ck_assert_uint_ge(fg->again.last_duration_ms,
	    fg->info.last_duration_ms);
	ck_assert_int_eq(fg->again.last_start_ms, fg->info.last_start_ms);
	snprintf(text, sizeof(text), "mode: 0600\nrundowns: 1\nlast_start: "
	    "%s\nlast_duration_ms: ", text_time(fg->info.last_start_ms, t1,
	    sizeof(t1)));
	snprintf(json, sizeof(json), "\"rundowns\":1,\"last_start\":%s,"
	    "\"last_drain\":null,\"last_duration_ms\":", json_time(
	    fg->info.last_start_ms, t1, sizeof(t1)));
	ck_status_says("Figs", text, json);
	ck_assert_ptr_null(strstr(td_ctl_output("text", "out"),
	    "last_drain"));
}

/* Drained, its holder reclaimed on the way: the drain at its start plus
 * its duration, which the log line says too. */
static void
figures_drained(struct figures *fg)
{
	struct rundown_block_info *info = &fg->info;
	char text[512], json[512], t1[40], t2[40];

	close(fg->feed);
	ck_assert_int_eq(td_ctl_finish(fg->run, "run"), 0);
	ck_assert_int_eq(td_ctl_finish(fg->w, "wait"), 0);
	td_status(fg->tag, info, NULL, 0);
	ck_assert_int_eq(info->state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info->rundowns, 1);
	ck_assert_int_eq(info->last_drain_ms, info->last_start_ms +
	    (int64_t)info->last_duration_ms);
	ck_assert_int_le(info->last_drain_ms, wall_ms());
	ck_assert_uint_ge(info->last_duration_ms, fg->again.last_duration_ms);
	ck_assert_uint_eq(info->last_reclaimed_rows, 1);
	ck_assert_uint_eq(info->reclaimed_rows, 1);
	snprintf(text, sizeof(text), "Figs: drained after %llu ms; holders "
	    "reclaimed: 1\n", (unsigned long long)info->last_duration_ms);
	td_await_log(fg->off, text, 1);
	snprintf(text, sizeof(text), "mode: 0600\nrundowns: 1\nlast_start: "
	    "%s\nlast_drain: %s\nlast_duration_ms: %llu\n"
	    "last_reclaimed_rows: 1\n", text_time(info->last_start_ms, t1,
	    sizeof(t1)), text_time(info->last_drain_ms, t2, sizeof(t2)),
	    (unsigned long long)info->last_duration_ms);
	snprintf(json, sizeof(json), "\"reclaimed_rows\":1,\"reclaimed\":1,"
	    "\"uid\":%u,\"gid\":%u,\"mode\":\"0600\",\"fence_ms\":0,"
	    "\"fence_failures\":0,\"rundowns\":1,\"last_start\":%s,"
	    "\"last_drain\":%s,\"last_duration_ms\":%llu,"
	    "\"last_reclaimed_rows\":1,\"holders\":[]}\n", info->uid,
	    info->gid, json_time(info->last_start_ms, t1, sizeof(t1)),
	    json_time(info->last_drain_ms, t2, sizeof(t2)),
	    (unsigned long long)info->last_duration_ms);
	ck_status_says("Figs", text, json);
}

/* The next: counted, and the last one's figures are its own; list
 * counts the run-downs. */
static void
figures_next(struct figures *fg)
{
	struct rundown_block_info *again = &fg->again;

	ck_assert_int_eq(rundown_ctl_reinit(td.conn, fg->tag), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, fg->tag, NULL), 0);
	td_status(fg->tag, again, NULL, 0);
	ck_assert_uint_eq(again->rundowns, 2);
	ck_assert_int_ge(again->last_start_ms, fg->info.last_start_ms);
	ck_assert_int_eq(again->last_drain_ms, again->last_start_ms +
	    (int64_t)again->last_duration_ms);
	ck_assert_uint_eq(again->last_reclaimed_rows, 0);
	ck_assert_uint_eq(again->reclaimed_rows, 1);
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "list",
	    ARGS("list")), "list"), 0);
	ck_assert_msg(strstr(td_ctl_output("list", "out"), " RUNDOWNS ") !=
	    NULL && strstr(td_ctl_output("list", "out"), "         1  "
	    "       2  1/1 ") != NULL, "list: %s",
	    td_ctl_output("list", "out"));
	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, "jlist",
	    ARGS("list", "--json")), "jlist"), 0);
	ck_assert_msg(strstr(td_ctl_output("jlist", "out"),
	    "\"rundowns\":2,") != NULL, "list --json: %s",
	    td_ctl_output("jlist", "out"));
}

/*
 * The run-down figures: none at first; while one is in progress its
 * start (by the wall clock around it), its duration so far and no drain;
 * once it has drained, the drain at its start plus its duration, which
 * the log line says too, and the holder reclaimed meanwhile.  status and
 * status --json say the same; list counts the run-downs.
 */
START_TEST(test_figures)
{
	struct figures fg = { .tag = RUNDOWN_TAG('F', 'i', 'g', 's') };

	figures_none(&fg);
	figures_in_progress(&fg);
	figures_drained(&fg);
	figures_next(&fg);
}
END_TEST

/* ---- f. metrics -------------------------------------------------------- */

/*
 * A strict reader of the OpenMetrics text that metrics writes: only the
 * subset it uses (counter and gauge families, labels, no timestamps, no
 * other comments), every rule of which it enforces.
 */
#define OM_FAMILIES 32
#define OM_SAMPLES 512
#define OM_LABELS 4

struct om_family {
	char name[64];
	bool counter;
	bool helped;
	size_t samples;
};

struct om_sample {
	char name[80];
	size_t nlabels;
	char lname[OM_LABELS][32];
	char lvalue[OM_LABELS][64];
	double value;
	size_t family;
};

struct om {
	struct om_family fam[OM_FAMILIES];
	size_t nfam;
	struct om_sample s[OM_SAMPLES];
	size_t n;
};

/* The length of the metric name (labels: a label name) at p, or 0. */
static size_t
om_name(const char *p, bool label)
{
	size_t n = 0;

	while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
	    p[n] == '_' || (!label && p[n] == ':') ||
	    (n > 0 && p[n] >= '0' && p[n] <= '9'))
		n++;
	return n;
}

/* Reads the quoted, escaped label value at *p into buf: moves *p past
 * the closing quote. */
static void
om_label_value(const char **p, char *buf, size_t size, unsigned line)
{
	const char *s = *p;
	size_t n = 0;

	ck_assert_msg(*s == '"', "line %u: a label value without quotes", line);
	for (s++; *s != '"'; s++) {
		ck_assert_msg(*s != '\0' && *s != '\n', "line %u: a label "
		    "value not closed", line);
		ck_assert_msg(n + 1 < size, "line %u: a label value too long",
		    line);
		if (*s == '\\') {
			s++;
			ck_assert_msg(*s == '\\' || *s == '"' || *s == 'n',
			    "line %u: a bad escape \\%c", line, *s);
			buf[n++] = *s == 'n' ? '\n' : *s;
		} else
			buf[n++] = *s;
	}
	buf[n] = '\0';
	*p = s + 1;
}

/* Reads one sample line (without its newline) into m. */
static void
om_sample(struct om *m, const char *p, unsigned line)
{
	struct om_sample *s;
	struct om_family *f;
	size_t n, i, k;
	char *end;

	ck_assert_msg(m->n < OM_SAMPLES, "too many samples");
	s = &m->s[m->n];
	memset(s, 0, sizeof(*s));
	n = om_name(p, false);
	ck_assert_msg(n > 0 && n < sizeof(s->name), "line %u: a bad metric "
	    "name: %s", line, p);
	memcpy(s->name, p, n);
	p += n;
	/* Its family is the one declared last: a family's samples come
	 * together, after its metadata. */
	ck_assert_msg(m->nfam > 0, "line %u: a sample before any TYPE", line);
	f = &m->fam[m->nfam - 1];
	s->family = m->nfam - 1;
	ck_assert_msg(f->counter ? strlen(s->name) == strlen(f->name) + 6 &&
	    strncmp(s->name, f->name, strlen(f->name)) == 0 &&
	    strcmp(s->name + strlen(f->name), "_total") == 0 :
	    strcmp(s->name, f->name) == 0, "line %u: sample %s is not of "
	    "family %s (the last declared)", line, s->name, f->name);
	if (*p == '{') {
		for (p++;;) {
			ck_assert_msg(s->nlabels < OM_LABELS, "line %u: too "
			    "many labels", line);
			n = om_name(p, true);
			ck_assert_msg(n > 0 && n < sizeof(s->lname[0]) &&
			    p[n] == '=', "line %u: a bad label: %s", line, p);
			memcpy(s->lname[s->nlabels], p, n);
			for (k = 0; k < s->nlabels; k++)
				ck_assert_msg(strcmp(s->lname[k],
				    s->lname[s->nlabels]) != 0, "line %u: "
				    "label %s twice", line, s->lname[k]);
			p += n + 1;
			om_label_value(&p, s->lvalue[s->nlabels],
			    sizeof(s->lvalue[0]), line);
			s->nlabels++;
			if (*p == '}')
				break;
			ck_assert_msg(*p == ',', "line %u: labels not "
			    "separated by a comma", line);
			p++;
		}
		p++;
	}
	ck_assert_msg(*p == ' ' && p[1] != ' ' && p[1] != '\0', "line %u: no "
	    "value", line);
	errno = 0;
	s->value = strtod(p + 1, &end);
	ck_assert_msg(errno == 0 && end != p + 1 && *end == '\0', "line %u: a "
	    "bad value (or a timestamp): %s", line, p + 1);
	ck_assert_msg(s->value == s->value && s->value >= 0, "line %u: value "
	    "%g", line, s->value);
	/* No two samples alike: the same name and labels. */
	for (i = 0; i < m->n; i++) {
		if (strcmp(m->s[i].name, s->name) != 0 ||
		    m->s[i].nlabels != s->nlabels)
			continue;
		for (k = 0; k < s->nlabels && strcmp(m->s[i].lname[k],
		    s->lname[k]) == 0 && strcmp(m->s[i].lvalue[k],
		    s->lvalue[k]) == 0; k++)
			;
		ck_assert_msg(k < s->nlabels, "line %u: sample %s again",
		    line, s->name);
	}
	f->samples++;
	m->n++;
}

/* Reads a whole exposition, which must end with "# EOF" and a newline. */
static void
om_parse(const char *text, struct om *m)
{
	const char *p = text, *nl;
	char buf[512], name[64], type[16];
	unsigned line = 0;
	size_t i;
	int len;

	memset(m, 0, sizeof(*m));
	for (;;) {
		line++;
		nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "line %u does not end: %s", line, p);
		ck_assert_msg((size_t)(nl - p) < sizeof(buf), "line %u too "
		    "long", line);
		memcpy(buf, p, (size_t)(nl - p));
		buf[nl - p] = '\0';
		p = nl + 1;
		ck_assert_msg(buf[0] != '\0', "line %u is empty", line);
		if (strcmp(buf, "# EOF") == 0) {
			ck_assert_msg(*p == '\0', "line %u: more after # EOF",
			    line);
			break;
		}
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			len = -1;
			ck_assert_msg(sscanf(buf + 7, "%63[^ ] %15[a-z]%n",
			    name, type, &len) == 2 &&
			    len == (int)strlen(buf + 7), "line %u: %s", line,
			    buf);
			ck_assert_msg(om_name(name, false) == strlen(name) &&
			    strncmp(name, "rundown_", 8) == 0, "line %u: a bad "
			    "family name %s", line, name);
			ck_assert_msg(strcmp(type, "counter") == 0 ||
			    strcmp(type, "gauge") == 0, "line %u: type %s",
			    line, type);
			for (i = 0; i < m->nfam; i++)
				ck_assert_msg(strcmp(m->fam[i].name, name) != 0,
				    "line %u: family %s declared again", line,
				    name);
			ck_assert_msg(m->nfam < OM_FAMILIES, "too many "
			    "families");
			snprintf(m->fam[m->nfam].name, sizeof(m->fam[0].name),
			    "%s", name);
			m->fam[m->nfam].counter = strcmp(type, "counter") == 0;
			ck_assert_msg(!m->fam[m->nfam].counter || strlen(name) <
			    6 || strcmp(name + strlen(name) - 6, "_total") != 0,
			    "line %u: counter family %s ends in _total", line,
			    name);
			m->nfam++;
		} else if (strncmp(buf, "# HELP ", 7) == 0) {
			ck_assert_msg(m->nfam > 0 && strncmp(buf + 7,
			    m->fam[m->nfam - 1].name,
			    strlen(m->fam[m->nfam - 1].name)) == 0 &&
			    buf[7 + strlen(m->fam[m->nfam - 1].name)] == ' ',
			    "line %u: HELP not of the family just declared: "
			    "%s", line, buf);
			ck_assert_msg(!m->fam[m->nfam - 1].helped &&
			    m->fam[m->nfam - 1].samples == 0, "line %u: HELP "
			    "again, or after the samples", line);
			ck_assert_msg(strchr(buf + 7, '\\') == NULL &&
			    strchr(buf + 7, '"') == NULL, "line %u: HELP "
			    "needs escapes", line);
			m->fam[m->nfam - 1].helped = true;
		} else {
			ck_assert_msg(buf[0] != '#', "line %u: a comment: %s",
			    line, buf);
			om_sample(m, buf, line);
		}
	}
	for (i = 0; i < m->nfam; i++)
		ck_assert_msg(m->fam[i].helped, "family %s has no HELP",
		    m->fam[i].name);
}

/* The value of the sample name{tag="tag"[,state="state"]}; found is set
 * to whether there is one (NULL: there must be). */
static double
om_value(const struct om *m, const char *name, const char *tag,
    const char *state, bool *found)
{
	const struct om_sample *s;
	size_t i;

	for (i = 0; i < m->n; i++) {
		s = &m->s[i];
		if (strcmp(s->name, name) != 0 ||
		    s->nlabels != (state != NULL ? 2u : 1u) ||
		    strcmp(s->lname[0], "tag") != 0 ||
		    strcmp(s->lvalue[0], tag) != 0)
			continue;
		if (state != NULL && (strcmp(s->lname[1], "state") != 0 ||
		    strcmp(s->lvalue[1], state) != 0))
			continue;
		if (found != NULL)
			*found = true;
		return s->value;
	}
	ck_assert_msg(found != NULL, "no sample %s{tag=\"%s\"%s%s}", name, tag,
	    state != NULL ? ",state=" : "", state != NULL ? state : "");
	*found = false;
	return 0;
}

/* A sample's value is the figure v; one of milliseconds is in seconds. */
static void
ck_om_eq(const struct om *m, const char *name, const char *tag, uint64_t v,
    bool ms)
{
	double got = om_value(m, name, tag, NULL, NULL);
	uint64_t g = ms ? (uint64_t)(got * 1000 + 0.5) : (uint64_t)got;

	ck_assert_msg(g == v && (ms || got == (double)v), "%s{tag=\"%s\"} is "
	    "%.3f, not %llu%s", name, tag, got, (unsigned long long)v,
	    ms ? " ms" : "");
}

/* The samples of the block tag say what its status says. */
static void
ck_om_block(const struct om *m, uint32_t tag)
{
	static const enum rundown_state states[] = { RUNDOWN_OPEN,
	    RUNDOWN_RUNNING_DOWN, RUNDOWN_DRAINED, RUNDOWN_COMPLETED,
	    RUNDOWN_RESETTING };
	struct rundown_block_info b;
	char t[RUNDOWN_TAG_BUFSZ];
	bool found;
	size_t k;

	td_status(tag, &b, NULL, 0);
	rundown_tag_format(tag, t);
	for (k = 0; k < sizeof(states) / sizeof(states[0]); k++)
		ck_assert(om_value(m, "rundown_state", t,
		    rundown_state_name(states[k]), NULL) ==
		    (b.state == states[k] ? 1 : 0));
	ck_om_eq(m, "rundown_generation", t, b.generation, false);
	ck_om_eq(m, "rundown_cpus", t, b.cpus, false);
	ck_om_eq(m, "rundown_rows", t, b.rows, false);
	ck_om_eq(m, "rundown_attached", t, b.attached, false);
	ck_om_eq(m, "rundown_outstanding", t, b.outstanding, false);
	ck_om_eq(m, "rundown_reclaimed_rows_total", t, b.reclaimed_rows, false);
	ck_om_eq(m, "rundown_reclaimed_total", t, b.reclaimed, false);
	ck_om_eq(m, "rundown_fence_seconds", t, b.fence_ms, true);
	ck_om_eq(m, "rundown_fence_failures_total", t, b.fence_failures,
	    false);
	ck_om_eq(m, "rundown_rundowns_total", t, b.rundowns, false);
	if (b.rundowns == 0) {
		om_value(m, "rundown_last_start_timestamp_seconds", t, NULL,
		    &found);
		ck_assert_msg(!found, "a last start of no run-down");
		om_value(m, "rundown_last_duration_seconds", t, NULL, &found);
		ck_assert_msg(!found, "a duration of no run-down");
	} else {
		ck_om_eq(m, "rundown_last_start_timestamp_seconds", t,
		    (uint64_t)b.last_start_ms, true);
		ck_om_eq(m, "rundown_last_reclaimed_rows", t,
		    b.last_reclaimed_rows, false);
	}
	/* In progress, the duration so far grew since the scrape. */
	if (b.rundowns != 0 && b.last_drain_ms == 0)
		ck_assert_msg(om_value(m, "rundown_last_duration_seconds", t,
		    NULL, NULL) * 1000 <= (double)b.last_duration_ms + 0.5,
		    "a duration so far beyond the status's later one");
	else if (b.rundowns != 0)
		ck_om_eq(m, "rundown_last_duration_seconds", t,
		    b.last_duration_ms, true);
	if (b.last_drain_ms == 0) {
		om_value(m, "rundown_last_drain_timestamp_seconds", t, NULL,
		    &found);
		ck_assert_msg(!found, "a drain of a run-down that has none");
	} else
		ck_om_eq(m, "rundown_last_drain_timestamp_seconds", t,
		    (uint64_t)b.last_drain_ms, true);
}

/* rundownctl metrics, as NAME, read whole and parsed into m. */
static void
scrape(const char *name, struct om *m)
{
	char path[PATH_MAX], *text;
	struct stat st;
	FILE *f;

	ck_assert_int_eq(td_ctl_finish(td_ctl_start(td.sock, name,
	    ARGS("metrics")), name), 0);
	ck_assert_str_eq(td_ctl_output(name, "err"), "");
	snprintf(path, sizeof(path), "%s/%s.out", td.dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	ck_assert_ptr_nonnull(text = calloc(1, (size_t)st.st_size + 1));
	ck_assert_uint_eq(fread(text, 1, (size_t)st.st_size, f),
	    (size_t)st.st_size);
	fclose(f);
	om_parse(text, m);
	free(text);
}

/* Every counter of a, with the same labels, is in b and not less. */
static void
ck_om_monotonic(const struct om *a, const struct om *b)
{
	const struct om_sample *s;
	size_t i;

	for (i = 0; i < a->n; i++) {
		s = &a->s[i];
		if (!a->fam[s->family].counter)
			continue;
		ck_assert_msg(om_value(b, s->name, s->lvalue[0], NULL, NULL) >=
		    s->value, "%s{tag=\"%s\"} went down", s->name,
		    s->lvalue[0]);
	}
}

/*
 * metrics: every block's figures as status gives them, in OpenMetrics
 * that a strict reader takes, a tag that needs escapes included; the
 * last run-down's samples only once there is one, its drain only once it
 * has drained; the counters never go down from a scrape to the next.
 */
START_TEST(test_metrics)
{
	uint32_t tag = RUNDOWN_TAG('M', 't', 'r', 'x');
	uint32_t odd = RUNDOWN_TAG('Q', '"', '\\', 'x');
	static struct om m1, m2, m3;
	char t[RUNDOWN_TAG_BUFSZ];
	int feed;
	pid_t run;

	/* No block: the families, declared, and no sample. */
	scrape("empty", &m1);
	ck_assert_uint_eq(m1.n, 0);
	ck_assert_uint_eq(m1.nfam, 15);

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, odd, 3), 0);
	ck_assert_str_eq(rundown_tag_format(odd, t), "Q\"\\x");
	scrape("first", &m1);
	ck_om_block(&m1, tag);
	ck_om_block(&m1, odd);

	/* A run-down in progress: a holder run keeps it so. */
	run = run_start("run", "Mtrx", "cat", &feed);
	await_held(tag);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &(struct timespec){
	    0, 0 }), -ETIMEDOUT);
	scrape("second", &m2);
	ck_om_block(&m2, tag);
	ck_om_block(&m2, odd);
	ck_om_monotonic(&m1, &m2);
	ck_assert(om_value(&m2, "rundown_rundowns_total", "Mtrx", NULL,
	    NULL) == om_value(&m1, "rundown_rundowns_total", "Mtrx", NULL,
	    NULL) + 1);
	ck_assert(om_value(&m2, "rundown_state", "Mtrx", "running-down",
	    NULL) == 1);

	close(feed);
	ck_assert_int_eq(td_ctl_finish(run, "run"), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, odd, NULL), 0);
	scrape("third", &m3);
	ck_om_block(&m3, tag);
	ck_om_block(&m3, odd);
	ck_om_monotonic(&m2, &m3);
	ck_assert(om_value(&m3, "rundown_rundowns_total", "Mtrx", NULL,
	    NULL) == 1);
	ck_assert(om_value(&m3, "rundown_rundowns_total", t, NULL, NULL) ==
	    1);
	ck_assert(om_value(&m3, "rundown_reclaimed_rows_total", "Mtrx", NULL,
	    NULL) == 1);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

static Suite *
ctl_suite(void)
{
	Suite *s = suite_create("rundownctl");
	TCase *tc;

	tc = td_case(s, "wait", ct_setup, 60);
	tcase_add_test(tc, test_wait_terminal);
	tcase_add_test(tc, test_wait_interrupted);
	tcase_add_test(tc, test_wait_restart);

	tc = td_case(s, "run", ct_setup, 60);
	tcase_add_test(tc, test_run_names);
	tcase_add_test(tc, test_run_holder);
	tcase_add_test(tc, test_run_killed);
	tcase_add_test(tc, test_run_orphaned);
	tcase_add_test(tc, test_run_terminated);
	tcase_add_test(tc, test_run_status);
	tcase_add_test(tc, test_run_wait_open);
	tcase_add_test(tc, test_run_wait_open_timeout);
	tcase_add_test(tc, test_run_create);

	tc = td_case(s, "figures", ct_setup, 60);
	tcase_add_test(tc, test_figures);
	tcase_add_test(tc, test_metrics);

	tc = td_case(s, "access", ct_setup, 60);
	tcase_add_test(tc, test_access_socket);
	tc = td_case(s, "admitted", admit_setup, 60);
	tcase_add_test(tc, test_access_daemon);

	return s;
}

int
main(void)
{
	return td_main("rundown-ctl", 0711, CT_DEADLINE_MS, ctl_suite);
}
