/*
 * check_daemon.c: rundownd and rundownctl, end to end.
 *
 * Each test starts its own rundownd in the foreground on a private socket
 * in a directory of its own and stops it at the end (SIGTERM; it must exit
 * 0).  Client processes are "agents" (testagent.c): forked children that
 * attach to a block and acquire, release, detach or wait when told
 * through a pipe, answering each command with its result.  The tests synchronise on what
 * they can observe: a pipe, a child's exit, a status read back from the
 * daemon.  Where only the daemon's state can tell (it has taken a wait,
 * it has reclaimed a row), the test polls that state with a short pause
 * in between, under a deadline that is a safety net: passing it fails the
 * test.
 *
 * Children never return into Check's runner and never call ck_assert;
 * they report through their exit status.  A failed test leaves its daemon
 * and children to Check (it kills the test's process group); main() then
 * removes what the daemons left in /dev/shm and on disk.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>
#include <rundown/wdm.h>

#include "block.h"
#include "cache.h"
#include "proto.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

#define DT_DEADLINE_MS 20000	/* safety net of every poll */
#define DT_MAXHOLDERS 16
#define DT_DIR_MODE 0711	/* searchable by all: test_users connects as
				 * other users */

/* NULL-terminated argument vector for rundownctl. */
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- files ------------------------------------------------------------- */

/* Whether anything is at path (a dangling link counts). */
static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- the daemon -------------------------------------------------------- */

/* Fixture: a daemon with the default options. */
static void
dt_setup(void)
{
	td_setup(DT_DIR_MODE, NULL);
}

/* ---- status ------------------------------------------------------------ */

/* Polls the block until its state is state and (attached >= 0) that
 * many rows are attached; fails if watch (if > 0) exits first. */
static struct rundown_block_info
await_block(uint32_t tag, enum rundown_state state, int attached,
    pid_t watch)
{
	struct timespec start = td_now();
	struct rundown_block_info info;
	int st = 0;

	for (;;) {
		td_status(tag, &info, NULL, 0);
		if (info.state == state &&
		    (attached < 0 || info.attached == (uint32_t)attached))
			return info;
		ck_assert_msg(watch <= 0 || waitpid(watch, &st, WNOHANG) == 0,
		    "pid %d exited (status %#x) before the block was %s",
		    (int)watch, st, rundown_state_name(state));
		ck_assert_msg(td_elapsed_ms(&start) < DT_DEADLINE_MS,
		    "block still %s with %u attached after %d ms",
		    rundown_state_name(info.state), info.attached,
		    DT_DEADLINE_MS);
		td_pause();
	}
}

/* ---- rundownctl -------------------------------------------------------- */

/* Runs rundownctl ARGS... to its end: its exit status. */
static int
ctl(const char *name, const char *const *args)
{
	return td_ctl_finish(td_ctl_start(td.sock, name, args), name);
}

/* Asserts that rundownctl NAME exited with want, saying why if not. */
#define ck_ctl(name, args, want) do {					\
	int ck_ctl_st = ctl((name), (args));				\
	ck_assert_msg(ck_ctl_st == (want),				\
	    "rundownctl %s: status %d, not %d; stderr: %s", (name),	\
	    ck_ctl_st, (want), td_ctl_output((name), "err"));		\
} while (0)

/* A rundownctl error message must name the program. */
static void
ck_ctl_said(const char *name)
{
	const char *err = td_ctl_output(name, "err");

	ck_assert_msg(strncmp(err, "rundownctl: ", 12) == 0,
	    "rundownctl %s: stderr is \"%s\"", name, err);
}

/* ---- a. the last release ends the wait --------------------------------- */

/* Three processes hold 1, 2 and 3 protections; `rundownctl wait` starts
 * the run-down and returns when the last one is released, not before. */
START_TEST(test_wait_last_release)
{
	static const char *const names[3] = { "agent 0", "agent 1",
	    "agent 2" };
	uint32_t tag = RUNDOWN_TAG('W', 'a', 'i', 't');
	struct rundown_holder h[DT_MAXHOLDERS];
	const struct rundown_holder *mine;
	struct rundown_block_info info;
	struct agent ag[3];
	unsigned i, j, left = 6;
	size_t n;
	pid_t w;
	int st;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	for (i = 0; i < 3; i++) {
		agent_start(&ag[i], names[i], &tag, 1, 0);
		agent_acquire(&ag[i], 0, i + 1);
	}
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.outstanding, 6);
	for (i = 0; i < 3; i++) {
		mine = td_holder_of(h, n, ag[i].pid);
		ck_assert_ptr_nonnull(mine);
		ck_assert_uint_eq(mine->outstanding, i + 1);
		ck_assert_str_eq(mine->comm, AGENT_COMM);
	}

	/* The wait itself starts the run-down, in the same step as it
	 * registers, so "running down" means the daemon holds the wait. */
	w = td_ctl_start(td.sock, "wait", ARGS("wait", "Wait"));
	await_block(tag, RUNDOWN_RUNNING_DOWN, 3, w);

	for (i = 0; i < 3; i++) {
		for (j = 0; j <= i; j++) {
			agent_release(&ag[i], 0, 1);
			if (--left == 0)
				break;
			n = td_status(tag, &info, h, DT_MAXHOLDERS);
			ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
			ck_assert_uint_eq(info.outstanding, left);
			mine = td_holder_of(h, n, ag[i].pid);
			ck_assert_ptr_nonnull(mine);
			ck_assert_uint_eq(mine->outstanding, i - j);
			/* The daemon answered status after it saw this
			 * release; the wait must still be pending. */
			ck_assert_msg(waitpid(w, &st, WNOHANG) == 0,
			    "rundownctl wait returned with %u outstanding "
			    "(status %#x): %s", left, st,
			    td_ctl_output("wait", "err"));
		}
	}
	ck_assert_int_eq(td_ctl_finish(w, "wait"), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.outstanding, 0);

	/* Acquires fail now; detaches are clean, nothing reclaimed. */
	ck_assert_int_eq(agent_do(&ag[0], AG_ACQUIRE, 0, 1), 0);
	for (i = 0; i < 3; i++)
		agent_quit(&ag[i]);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	ck_assert_uint_eq(info.reclaimed, 0);
}
END_TEST

/* ---- b. rundownctl run ------------------------------------------------- */

/* run protects the command; once run-down has begun it refuses with 75
 * and does not run it; after reinit it runs again. */
START_TEST(test_run)
{
	uint32_t tag = RUNDOWN_TAG('R', 'u', 'n', 't');
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	char f1[PATH_MAX], f2[PATH_MAX], f3[PATH_MAX];
	struct agent ag;

	snprintf(f1, sizeof(f1), "%s/ran1", td.dir);
	snprintf(f2, sizeof(f2), "%s/ran2", td.dir);
	snprintf(f3, sizeof(f3), "%s/ran3", td.dir);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);

	ck_ctl("run1", ARGS("run", "Runt", "--", "true"), 0);
	ck_ctl("run2", ARGS("run", "Runt", "--", "touch", f1), 0);
	ck_assert(exists(f1));
	ck_ctl("run3", ARGS("run", "Runt", "--", "sh", "-c", "exit 3"), 3);
	ck_ctl("run4", ARGS("run", "Runt", "true"), 0);
	/* run never creates a block. */
	ck_ctl("run5", ARGS("run", "Nope", "--", "touch", f3), 1);
	ck_assert(!exists(f3));
	ck_ctl_said("run5");
	/* Each run's utility held its row until it exited, when the
	 * daemon reclaimed it (rundownctl(1), run): nothing attached, and
	 * one row reclaimed for each of the four that ran. */
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 4);

	/* A holder keeps the block running down. */
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_ctl("wait0", ARGS("wait", "Runt", "--timeout", "0"), 2);
	ck_ctl("run6", ARGS("run", "Runt", "--", "touch", f2), 75);
	ck_assert_msg(!exists(f2), "run ran the command during run-down");
	ck_ctl_said("run6");

	/* Drained is no better. */
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_ctl("run7", ARGS("run", "Runt", "--", "touch", f2), 75);
	ck_assert_msg(!exists(f2), "run ran the command after run-down");
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.attached, 1);

	ck_ctl("reinit", ARGS("reinit", "Runt"), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_ctl("run8", ARGS("run", "Runt", "--", "touch", f2), 0);
	ck_assert(exists(f2));
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 5);
	agent_quit(&ag);
}
END_TEST

/* ---- run-downs in the log ---------------------------------------------- */

/* The command name of this process, as the daemon reads it. */
static void
own_comm(char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)getpid());
	td_file_tail(path, buf, size);
	buf[strcspn(buf, "\n")] = '\0';
}

/* Awaits one more line that holds s in the log from off on. */
#define await_line(off, ...) do {					\
	char await_line_[256];						\
	snprintf(await_line_, sizeof(await_line_), __VA_ARGS__);	\
	td_await_log((off), await_line_, 1);				\
} while (0)

/* A child that renames itself name (PR_SET_NAME) and polls a wait on
 * tag: exits 0 if the wait returned 0. */
static pid_t
named_poller(uint32_t tag, const char *name)
{
	struct timespec zero = { 0, 0 };
	rundown_conn_t *c;
	pid_t pid = test_fork_flushed();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0 ||
		    rundown_connect(td.sock, &c) != 0)
			_exit(2);
		_exit(rundown_ctl_wait(c, tag, &zero) == 0 ? 0 : 1);
	}
	return pid;
}

/* A run-down's start is logged with who started it, its drain with how
 * long it took and the holders reclaimed, a re-initialize with who did it
 * and the generation, all at info level; a drain with no wait pending is
 * logged too, when it happens.  A command name cannot put control
 * characters into the log. */
/*
 * A daemon whose cpuset shrinks after start-up can no longer fence every
 * CPU, and a fence that misses a CPU is no fence: its run-down waits (a
 * timed wait times out, status counts the failures) and the fence is
 * tried again until it reaches every CPU, here once the cpuset is given
 * back.  The daemon says so, and clients that attach from then on take
 * the atomic path, which needs no fence: a block with none but those
 * runs down even while the daemon is confined.  Skipped where this machine has
 * no cpuset to write, or the daemon could not reach every CPU at start-up
 * already.
 */
START_TEST(test_confined_fence)
{
	const uint32_t tag = RUNDOWN_TAG('C', 'n', 'f', 'd');
	struct timespec ms = test_ms(200);
	struct rundown_block_info info;
	rundown_cache_t *ref;
	size_t n;
	off_t off;
	char *text;
	int r;

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &ref), 0);
	if (ref->bflags != BLOCK_F_RSEQ) {
		ck_assert_int_eq(rundown_detach(ref), 0);
		printf("confined fence: skipped (the daemon offers no rseq "
		    "path here)\n");
		return;
	}
	if (test_cpuset_confine(td.pid) != 0) {
		ck_assert_int_eq(rundown_detach(ref), 0);
		printf("confined fence: skipped (no cpuset to confine the "
		    "daemon with)\n");
		return;
	}
	/* Attached, holding nothing: its row is what the fence is for. */
	off = td_log_size();
	r = rundown_ctl_wait(td.conn, tag, &ms);
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 0, &n),
	    0);
	test_cpuset_release(td.pid);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_ge(info.fence_failures, 1);
	/* Given its CPUs back, the daemon's next try succeeds. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert_int_eq(rundown_detach(ref), 0);
	text = td_log_from(off);
	ck_assert_msg(strstr(text, "could not reach every online CPU") != NULL &&
	    strstr(text, "fence failed") != NULL,
	    "no word of the missed CPU:\n%s", text);
	free(text);

	/* Attached from now on: the atomic path, and a run-down that needs
	 * no fence, which ends even while the daemon is confined again. */
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &ref), 0);
	ck_assert_uint_eq(ref->bflags, 0);
	ck_assert(rundown_cache_acquire(ref));
	rundown_cache_release(ref);
	ck_assert_int_eq(test_cpuset_confine(td.pid), 0);
	r = rundown_ctl_wait(td.conn, tag, &ms);
	test_cpuset_release(td.pid);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(rundown_detach(ref), 0);
}
END_TEST

START_TEST(test_rundown_log)
{
	uint32_t tag = RUNDOWN_TAG('L', 'o', 'g', 's');
	struct timespec zero = { 0, 0 };
	unsigned long uid = (unsigned long)getuid();
	struct agent a, b;
	char comm[32], *text;
	off_t off = td_log_size();
	pid_t w;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&a, "agent a", &tag, 1, 0);
	agent_acquire(&a, 0, 1);
	agent_start(&b, "agent b", &tag, 1, 0);
	agent_acquire(&b, 0, 2);

	w = td_ctl_start(td.sock, "wait", ARGS("wait", "Logs"));
	await_line(off, "Logs: run-down started by pid %ld uid %lu "
	    "(rundownctl)", (long)w, uid);
	agent_release(&a, 0, 1);
	agent_kill(&b);
	ck_assert_int_eq(td_ctl_finish(w, "wait"), 0);
	td_await_log(off, "Logs: drained after ", 1);
	text = td_log_from(off);
	ck_assert_msg(strstr(text, " ms; holders reclaimed: 1\n") != NULL,
	    "the drain line does not count the holder killed:\n%s", text);
	free(text);

	w = td_ctl_start(td.sock, "reinit", ARGS("reinit", "Logs"));
	ck_assert_int_eq(td_ctl_finish(w, "reinit"), 0);
	await_line(off, "Logs: re-initialized by pid %ld uid %lu "
	    "(rundownctl), generation 1", (long)w, uid);

	/* A poll starts the run-down and leaves; the release that drains
	 * it is logged all the same, with nobody waiting. */
	agent_acquire(&a, 0, 1);
	off = td_log_size();
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);
	own_comm(comm, sizeof(comm));
	await_line(off, "Logs: run-down started by pid %ld uid %lu (%s)",
	    (long)getpid(), uid, comm);
	agent_release(&a, 0, 1);
	td_await_log(off, "Logs: drained after ", 1);
	text = td_log_from(off);
	ck_assert_msg(strstr(text, " ms; holders reclaimed: 0\n") != NULL,
	    "the drain line:\n%s", text);
	free(text);

	/* Control characters, bytes past ASCII and the backslash in a name
	 * are written as \ooo.  (A newline ends the name as /proc shows
	 * it, so it never reaches the log.) */
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), 0);
	off = td_log_size();
	w = named_poller(tag, "x\r\033<0>\\\xc3\xa9");
	test_reap_ok(w);
	await_line(off, "Logs: run-down started by pid %ld uid %lu "
	    "(x\\015\\033<0>\\134\\303\\251)", (long)w, uid);
	td_await_log(off, "Logs: drained after 0 ms", 1);
	text = td_log_from(off);
	ck_assert_msg(strpbrk(text, "\r\033\xc3") == NULL, "control "
	    "characters or bytes past ASCII in the log:\n%s", text);
	free(text);
	agent_quit(&a);
}
END_TEST

/* ---- c. a holder killed ------------------------------------------------ */

/* A child that waits on tag through a connection of its own and exits
 * with the negated result (0: the wait returned 0). */
static pid_t
waiter_start(uint32_t tag)
{
	rundown_conn_t *c;
	pid_t pid = fork();
	int r;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if ((r = rundown_connect(td.sock, &c)) == 0)
			r = rundown_ctl_wait(c, tag, NULL);
		_exit(r == 0 ? 0 : (-r) & 0x7f);
	}
	return pid;
}

/* A process killed while holding: its row is reclaimed, what it held is
 * released, and waits pending on it complete. */
START_TEST(test_sigkill_reclaimed)
{
	uint32_t tag = RUNDOWN_TAG('K', 'i', 'l', 'l');
	struct rundown_holder h[DT_MAXHOLDERS];
	const struct rundown_holder *mine;
	struct rundown_block_info info;
	struct agent a, b;
	char line[128];
	uint32_t row;
	size_t n;
	pid_t w;
	int st;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&a, "agent a", &tag, 1, 0);
	agent_acquire(&a, 0, 3);
	agent_start(&b, "agent b", &tag, 1, 0);
	agent_acquire(&b, 0, 1);
	agent_release(&b, 0, 1);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 2);
	mine = td_holder_of(h, n, a.pid);
	ck_assert_ptr_nonnull(mine);
	row = mine->row;

	w = waiter_start(tag);
	await_block(tag, RUNDOWN_RUNNING_DOWN, 2, w);
	/* b waits too, through its attached descriptor. */
	agent_send(&b, AG_WAIT, 0, 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 3);
	ck_assert_int_eq(waitpid(w, &st, WNOHANG), 0);

	agent_kill(&a);
	test_reap_ok(w);
	ck_assert_int_eq(agent_result(&b), 0);

	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 3);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, b.pid);
	snprintf(line, sizeof(line), "Kill: pid %d (%s) exited holding 3; "
	    "reclaimed row %u", (int)a.pid, AGENT_COMM, row);
	ck_assert_msg(strstr(td_log(), line) != NULL,
	    "the log lacks \"%s\":\n%s", line, td_log());

	/* One that held nothing: its row is reclaimed, no protections. */
	agent_exit(&b);
	info = await_block(tag, RUNDOWN_DRAINED, 0, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 2);
	ck_assert_uint_eq(info.reclaimed, 3);
}
END_TEST

/* A holder killed while the block is open: what it held no longer
 * counts, and a later run-down drains at once. */
START_TEST(test_sigkill_open)
{
	uint32_t tag = RUNDOWN_TAG('K', 'o', 'p', 'n');
	struct rundown_block_info info;
	struct agent a;

	agent_start(&a, "agent a", &tag, 1, RUNDOWN_ATTACH_CREATE);
	agent_acquire(&a, 0, 5);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 5);
	agent_kill(&a);
	info = await_block(tag, RUNDOWN_OPEN, 0, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 5);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);
}
END_TEST

/* ---- d. users ---------------------------------------------------------- */

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
	USER_SWITCH = 10,	/* could not become the user */
	USER_CONNECT = 11,	/* connect failed: the socket is not reachable */
	USER_REQUEST = 12,	/* a request got the wrong answer */
	USER_ATTACH = 13,	/* attach got the wrong answer */
	USER_USE = 14,		/* acquire or detach misbehaved */
	USER_EXEC = 15,		/* could not run rundownctl */
	USER_REACH = 16		/* opened a block's object without the daemon */
};

/* In a child of root: drops to user pw for good, or exits. */
static void
become(const struct passwd *pw)
{
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || geteuid() != pw->pw_uid)
		_exit(USER_SWITCH);
}

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
	become(pw);
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
		become(pw);
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

/* ---- e. malformed frames ----------------------------------------------- */

/* The well-behaved connection still gets the right answers. */
static void
check_good(uint32_t tag)
{
	struct rundown_block_info info, list[4];
	size_t n;

	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.tag, tag);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.outstanding, 2);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].tag, tag);
	ck_assert_uint_eq(list[0].outstanding, 2);
}

/* Each kind of broken frame gets its error and the connection closed;
 * the daemon keeps serving the others. */
START_TEST(test_malformed)
{
	uint32_t tag = RUNDOWN_TAG('G', 'o', 'o', 'd');
	static const struct {
		const char *what;
		struct proto_hdr h;
		bool payload;		/* send a request payload too */
		uint32_t flags;		/* of that payload */
		uint32_t serial;	/* of that payload */
		int code;
	} cases[] = {
		{ "wrong version", { PROTO_VERSION + 1, PROTO_LIST, 0, 11, 0 }, false, 0, 0,
		    EPROTO },
		{ "version 0", { 0, PROTO_STATUS, 16, 12, 0 }, false, 0, 0,
		    EPROTO },
		{ "header flags", { PROTO_VERSION, PROTO_LIST, 0, 13, 1 },
		    false, 0, 0, EPROTO },
		{ "unknown type", { PROTO_VERSION, 0x55, 0, 14, 0 }, false,
		    0, 0, EBADMSG },
		{ "type 0", { PROTO_VERSION, 0, 0, 15, 0 }, false, 0, 0,
		    EBADMSG },
		{ "a reply sent", { PROTO_VERSION, PROTO_OK, 8, 16, 0 },
		    false, 0, 0, EBADMSG },
		{ "wrong payload size", { PROTO_VERSION, PROTO_STATUS, 8, 17,
		    0 }, false, 0, 0, EBADMSG },
		{ "payload on list", { PROTO_VERSION, PROTO_LIST, 16, 18,
		    0 }, false, 0, 0, EBADMSG },
		{ "huge length", { PROTO_VERSION, PROTO_LIST, 0x7fffffff, 19,
		    0 }, false, 0, 0, EMSGSIZE },
		{ "length beyond a frame", { PROTO_VERSION, PROTO_STATUS,
		    PROTO_MAX_FRAME, 20, 0 }, false, 0, 0, EMSGSIZE },
		{ "serial on status", { PROTO_VERSION, PROTO_STATUS, 16, 21,
		    0 },
		    true, 0, 1, EBADMSG },
		{ "flags on status", { PROTO_VERSION, PROTO_STATUS, 16, 22,
		    0 }, true, 1, 0, EBADMSG },
		{ "attach flags", { PROTO_VERSION, PROTO_ATTACH, 16, 23, 0 },
		    true, 8, 0, EBADMSG },
	};
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_req req;
	struct agent ag;
	struct proto_hdr h;
	size_t i, len;
	int fd, p[2];
	char c;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 2);
	check_good(tag);

	/* Only what the daemon reads before it judges is sent: bytes left
	 * unread would turn its close into a reset instead of an EOF. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = td_raw_connect();
		memcpy(frame, &cases[i].h, PROTO_HDR_SIZE);
		len = PROTO_HDR_SIZE;
		if (cases[i].payload) {
			memset(&req, 0, sizeof(req));
			req.tag = tag;
			req.flags = cases[i].flags;
			req.serial = cases[i].serial;
			memcpy(frame + PROTO_HDR_SIZE, &req, sizeof(req));
			len += sizeof(req);
		}
		td_raw_send(fd, frame, len, -1);
		td_raw_expect_error(fd, cases[i].h.id, cases[i].code,
		    cases[i].what);
		close(fd);
		check_good(tag);
	}

	/* A descriptor sent along with a good request: refused (id 0, as
	 * it concerns the connection), and the daemon closes its copy. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fd = td_raw_connect();
	memset(&h, 0, sizeof(h));
	h.version = PROTO_VERSION;
	h.type = PROTO_LIST;
	h.id = 30;
	td_raw_send(fd, &h, sizeof(h), p[1]);
	close(p[1]);
	td_raw_expect_error(fd, 0, EBADMSG, "SCM_RIGHTS");
	close(fd);
	ck_assert_msg(td_raw_read(p[0], &c, 1, "the sent descriptor closed") ==
	    0,
	    "the daemon kept the descriptor it was sent");
	close(p[0]);
	check_good(tag);

	ck_assert_int_eq(waitpid(td.pid, NULL, WNOHANG), 0);
	agent_release(&ag, 0, 2);
	agent_quit(&ag);
}
END_TEST

/* A frame that arrives a byte at a time blocks nobody, and is answered
 * once whole; so is the next one on that connection. */
START_TEST(test_pieces)
{
	uint32_t tag = RUNDOWN_TAG('P', 'c', 's', '!');
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	unsigned char reply[PROTO_HDR_SIZE + 512];
	struct proto_req req = { .tag = tag };
	struct rundown_block_info info;
	struct proto_info pi;
	struct proto_count pc;
	struct proto_hdr h;
	size_t i, n;
	int fd;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 7), 0);
	fd = td_raw_connect();
	n = proto_encode(frame, sizeof(frame), PROTO_STATUS, 41, &req,
	    sizeof(req));
	ck_assert_uint_eq(n, sizeof(frame));
	for (i = 0; i < n; i++) {
		td_raw_send(fd, frame + i, 1, -1);
		/* The daemon answers others meanwhile. */
		td_status(tag, &info, NULL, 0);
		ck_assert_uint_eq(info.rows, 7);
	}
	td_raw_frame(fd, &h, reply, sizeof(reply));
	ck_assert_uint_eq(h.type, PROTO_STATUS_REPLY);
	ck_assert_uint_eq(h.id, 41);
	ck_assert_uint_eq(h.length, sizeof(pi));
	memcpy(&pi, reply + PROTO_HDR_SIZE, sizeof(pi));
	ck_assert_uint_eq(pi.tag, tag);
	ck_assert_uint_eq(pi.rows, 7);
	ck_assert_uint_eq(pi.attached, 0);

	/* Two frames in one write: both answered, in order. */
	n = proto_encode(frame, sizeof(frame), PROTO_LIST, 42, NULL, 0);
	ck_assert_uint_eq(n, PROTO_HDR_SIZE);
	n += proto_encode(frame + n, sizeof(frame) - n, PROTO_LIST, 43, NULL,
	    0);
	td_raw_send(fd, frame, n, -1);
	for (i = 42; i <= 43; i++) {
		td_raw_frame(fd, &h, reply, sizeof(reply));
		ck_assert_uint_eq(h.type, PROTO_LIST_REPLY);
		ck_assert_uint_eq(h.id, i);
		ck_assert_uint_eq(h.length, sizeof(pc) + sizeof(pi));
		memcpy(&pc, reply + PROTO_HDR_SIZE, sizeof(pc));
		ck_assert_uint_eq(pc.count, 1);
	}
	close(fd);
}
END_TEST

/* ---- f. fork ----------------------------------------------------------- */

/* Exit statuses of the forked child. */
enum {
	FORK_OK = 0,
	FORK_ACQUIRED = 20,	/* the inherited descriptor acquired */
	FORK_CONTROL = 21,	/* a control call on it did not say -ECHILD */
	FORK_ATTACH = 22,	/* attaching anew failed */
	FORK_OWN = 23,		/* its own descriptor did not acquire */
	FORK_DETACH = 24,	/* a detach failed */
	FORK_IO = 25
};

/* The child of test_fork(): checks the inherited descriptor is inert,
 * attaches anew, holds one protection until told, and reports through
 * its exit status. */
static void
fork_child(rundown_cache_t *inherited, uint32_t tag, struct test_signal *ready,
    struct test_signal *go)
{
	rundown_cache_t *mine;
	struct timespec zero = { 0, 0 };
	char c = 1;

	if (rundown_cache_acquire(inherited) ||
	    rundown_cache_acquire_n(inherited, 3))
		_exit(FORK_ACQUIRED);
	if (rundown_cache_wait(inherited) != -ECHILD ||
	    rundown_cache_wait_timeout(inherited, &zero) != -ECHILD ||
	    rundown_cache_completed(inherited) != -ECHILD ||
	    rundown_cache_reinit(inherited) != -ECHILD)
		_exit(FORK_CONTROL);
	/* Does nothing: the row is the parent's. */
	rundown_cache_release(inherited);
	if (rundown_attach_at(td.sock, tag, 0, &mine) != 0)
		_exit(FORK_ATTACH);
	if (!rundown_cache_acquire(mine))
		_exit(FORK_OWN);
	if (write(ready->fd[1], &c, 1) != 1 || read(go->fd[0], &c, 1) != 1)
		_exit(FORK_IO);
	rundown_cache_release(mine);
	if (rundown_detach(mine) != 0 || rundown_detach(inherited) != 0)
		_exit(FORK_DETACH);
	_exit(FORK_OK);
}

/* A child inherits an inert descriptor and attaches anew to a row of its
 * own; the parent's row is untouched. */
START_TEST(test_fork)
{
	uint32_t tag = RUNDOWN_TAG('F', 'o', 'r', 'k');
	struct rundown_holder h[DT_MAXHOLDERS];
	const struct rundown_holder *ph, *ch;
	struct rundown_block_info info;
	struct test_signal ready, go;
	rundown_cache_t *ref;
	size_t n;
	pid_t pid;
	char c;
	int st;

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &ref), 0);
	ck_assert(rundown_cache_acquire(ref));
	ck_assert(rundown_cache_acquire(ref));
	test_signal_init(&ready);
	test_signal_init(&go);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		fork_child(ref, tag, &ready, &go);
	/* Only the child writes ready: its end of file means it ended
	 * early.  Say why. */
	close(ready.fd[1]);
	ready.fd[1] = -1;
	st = 0;
	if (read(ready.fd[0], &c, 1) != 1)
		ck_abort_msg("the child ended early (status %#x)",
		    waitpid(pid, &st, 0) == pid ? st : -1);

	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(info.outstanding, 3);
	ph = td_holder_of(h, n, getpid());
	ch = td_holder_of(h, n, pid);
	ck_assert_ptr_nonnull(ph);
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_ne(ph->row, ch->row);
	ck_assert_uint_eq(ph->outstanding, 2);
	ck_assert_uint_eq(ch->outstanding, 1);

	test_signal_post(&go);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == FORK_OK,
	    "child status %#x", st);
	test_signal_close(&ready);
	test_signal_close(&go);

	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, getpid());
	ck_assert_uint_eq(h[0].outstanding, 2);
	ck_assert_uint_eq(info.reclaimed_rows, 0);

	/* The parent's descriptor works on. */
	ck_assert(rundown_cache_acquire(ref));
	rundown_cache_release_n(ref, 3);
	ck_assert_int_eq(rundown_cache_wait(ref), 0);
	ck_assert_int_eq(rundown_cache_completed(ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_COMPLETED);
	ck_assert_int_eq(rundown_detach(ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
}
END_TEST

/* ---- g. operations and their errors ------------------------------------ */

/* free refuses while processes are attached to an open block or while a
 * run-down is in progress, and works once it is run down. */
START_TEST(test_free)
{
	uint32_t tag = RUNDOWN_TAG('F', 'r', 'e', 'e');
	uint32_t t2 = RUNDOWN_TAG('F', 'r', 'e', '2');
	uint32_t t3 = RUNDOWN_TAG('F', 'r', 'e', '3');
	struct rundown_block_info info, list[4];
	struct timespec zero = { 0, 0 }, brief = test_ms(20);
	struct rundown_holder h[DT_MAXHOLDERS];
	char obj[PATH_MAX];
	struct agent ag, b;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	td_shm_path(td.sock, tag, obj, sizeof(obj));
	ck_assert_msg(exists(obj), "no shared-memory object %s", obj);
	agent_start(&ag, "agent", &tag, 1, 0);
	/* Attached. */
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), -EBUSY);
	agent_acquire(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), -EBUSY);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, tag), -EALREADY);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), -EALREADY);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);
	/* Running. */
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), -EBUSY);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, tag), -EBUSY);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), -EBUSY);
	ck_ctl("free", ARGS("free", "Free"), 1);
	ck_ctl_said("free");
	/* A timed wait gives up and leaves the run-down in progress. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &brief), -ETIMEDOUT);
	ck_ctl("wait", ARGS("wait", "Free", "--timeout", "0.02"), 2);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert(exists(obj));
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);	/* drained */
	ck_assert_msg(!exists(obj), "free left %s", obj);
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 0, &n),
	    -ENOENT);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* Still attached, the agent keeps its mapping of the old block. */
	ck_assert_int_eq(agent_do(&ag, AG_ACQUIRE, 0, 1), 0);

	/* A new block with the tag, a holder on the row the agent had:
	 * the agent's detach is for the old block and must not touch it. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&b, "agent b", &tag, 1, 0);
	agent_acquire(&b, 0, 1);
	ck_assert_int_eq(agent_do(&ag, AG_DETACH, 0, 0), -ESTALE);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, b.pid);
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_exit(&ag);
	agent_release(&b, 0, 1);
	agent_quit(&b);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);

	/* Open with nobody attached. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, t2, 0), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, t2), 0);
	/* Completed. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, t3, 0), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, t3, NULL), 0);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, t3), 0);
	ck_ctl("free3", ARGS("free", "Fre3"), 0);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* A process attached to a block that was freed and to the new block
 * with that tag, on the same row: detaching the old one leaves the new
 * attachment alone (-ESTALE). */
START_TEST(test_stale_detach)
{
	uint32_t tag = RUNDOWN_TAG('S', 't', 'a', 'l');
	struct rundown_holder h[DT_MAXHOLDERS];
	struct rundown_block_info info;
	rundown_cache_t *old, *new;
	uint32_t row;
	size_t n;

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &old), 0);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	row = h[0].row;
	ck_assert_int_eq(rundown_cache_wait(old), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &new), 0);
	ck_assert(rundown_cache_acquire(new));
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(h[0].row, row);	/* the same row again */

	ck_assert_int_eq(rundown_detach(old), -ESTALE);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, getpid());
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_uint_eq(info.outstanding, 1);

	rundown_cache_release(new);
	ck_assert_int_eq(rundown_detach(new), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
}
END_TEST

/* An attach with RUNDOWN_ATTACH_REOPEN gives a row of an open block: a
 * missing one is created (with RUNDOWN_ATTACH_CREATE), an open one joined
 * as it is, one left completed re-initialized first; one running down or
 * drained is refused with -EBUSY, and its run-down goes on untouched. */
START_TEST(test_reopen)
{
	uint32_t tag = RUNDOWN_TAG('R', 'e', 'o', 'p');
	uint32_t none = RUNDOWN_TAG('R', 'e', 'o', '2');
	const unsigned both = RUNDOWN_ATTACH_CREATE | RUNDOWN_ATTACH_REOPEN;
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	rundown_cache_t *ref;
	struct agent ag;
	char line[96];
	off_t off;

	ck_assert_int_eq(rundown_attach_at(td.sock, none,
	    RUNDOWN_ATTACH_REOPEN, &ref), -ENOENT);
	ck_assert_int_eq(rundown_attach_at(td.sock, none, both, &ref), 0);
	ck_assert(rundown_cache_acquire(ref));
	rundown_cache_release(ref);
	ck_assert_int_eq(rundown_detach(ref), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, none, 0x4, &ref), -EINVAL);

	/* Open, one protection held: joined, nothing re-initialized. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 1);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, both, &ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(info.attached, 2);
	ck_assert_uint_eq(info.outstanding, 1);
	ck_assert_int_eq(rundown_detach(ref), 0);

	/* Running down, then drained: refused, nothing changed. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, both, &ref), -EBUSY);
	ck_assert_ptr_null(ref);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, both, &ref), -EBUSY);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(agent_do(&ag, AG_ACQUIRE, 0, 1), 0);

	/* Completed: re-initialized for the attach, which the log says;
	 * every process attached may acquire again. */
	ck_assert_int_eq(rundown_ctl_completed(td.conn, tag), 0);
	off = td_log_size();
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_REOPEN,
	    &ref), 0);
	snprintf(line, sizeof(line), "Reop: re-initialized by pid %ld uid ",
	    (long)getpid());
	td_await_log(off, line, 1);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_uint_eq(info.attached, 2);
	ck_assert(rundown_cache_acquire(ref));
	agent_acquire(&ag, 0, 1);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 2);
	rundown_cache_release(ref);
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_detach(ref), 0);
	agent_quit(&ag);
}
END_TEST

/* The Windows names on a shared block whose users come and go, as a
 * driver loaded again: Allocate gives an open reference even where the
 * last user left the block completed (re-initialized for it), and fails
 * with EBUSY, not with a reference that refuses every acquire, where the
 * run-down has drained but was not completed. */
START_TEST(test_wdm_allocate_completed)
{
	const ULONG tag = RUNDOWN_WDM_TAG('1', 'm', 'd', 'W');
	struct rundown_block_info info;
	PEX_RUNDOWN_REF_CACHE_AWARE a;

	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", td.sock, 1), 0);
	a = ExAllocateCacheAwareRundownProtection(RundownSharedPool, tag);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAware(a), TRUE);
	ExReleaseRundownProtectionCacheAware(a);
	ExWaitForRundownProtectionReleaseCacheAware(a);
	ExRundownCompletedCacheAware(a);
	ExFreeCacheAwareRundownProtection(a);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_COMPLETED);
	ck_assert_uint_eq(info.attached, 0);

	a = ExAllocateCacheAwareRundownProtection(RundownSharedPool, tag);
	ck_assert_ptr_nonnull(a);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(a, 2), TRUE);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 2);
	ExReleaseRundownProtectionCacheAwareEx(a, 2);

	/* Drained, not completed: refused, the block left as it was. */
	ExWaitForRundownProtectionReleaseCacheAware(a);
	errno = 0;
	ck_assert_ptr_null(ExAllocateCacheAwareRundownProtection(
	    RundownSharedPool, tag));
	ck_assert_int_eq(errno, EBUSY);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_uint_eq(info.attached, 1);
	ExFreeCacheAwareRundownProtection(a);
	ck_assert_int_eq(unsetenv("RUNDOWN_SOCKET"), 0);
}
END_TEST

/* -EEXIST, -ENOENT and -EINVAL from the daemon. */
START_TEST(test_errors)
{
	uint32_t tag = RUNDOWN_TAG('D', 'u', 'p', 'e');
	uint32_t none = RUNDOWN_TAG('N', 'o', 'p', 'e');
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	rundown_cache_t *ref;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 3), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 3), -EEXIST);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), -EEXIST);
	ck_assert_int_eq(rundown_ctl_create(td.conn, none,
	    PROTO_MAX_ENTRIES + 1), -EINVAL);

	ck_assert_int_eq(rundown_ctl_status(td.conn, none, &info, NULL, 0, &n),
	    -ENOENT);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, none, NULL), -ENOENT);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, none, &zero), -ENOENT);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, none), -ENOENT);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, none), -ENOENT);
	ck_assert_int_eq(rundown_ctl_free(td.conn, none), -ENOENT);
	ck_assert_int_eq(rundown_attach_at(td.sock, none, 0, &ref), -ENOENT);
	ck_assert_ptr_null(ref);

	/* Attach with create joins an existing block. */
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, 3);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(rundown_detach(ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	/* The unknown tag was never created along the way. */
	ck_assert_int_eq(rundown_ctl_status(td.conn, none, &info, NULL, 0, &n),
	    -ENOENT);
}
END_TEST

/* Only the process that holds a row may give it back, and only by the
 * serial of its block; a refused request is an answer, not a broken
 * frame: the connection lives on. */
START_TEST(test_detach_others)
{
	uint32_t tag = RUNDOWN_TAG('D', 't', 'c', 'h');
	unsigned char reply[PROTO_HDR_SIZE + 512];
	struct rundown_holder h[DT_MAXHOLDERS];
	struct rundown_block_info info;
	struct proto_attached a;
	struct proto_ok ok;
	struct proto_hdr rh;
	struct agent ag;
	size_t n;
	int fd;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 1);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);

	/* This process attaches by hand, to learn the serial.  (The
	 * descriptor that comes with the reply is dropped by read().) */
	fd = td_raw_connect();
	td_raw_request(fd, PROTO_ATTACH, 50, tag, 0, 0);
	td_raw_frame(fd, &rh, reply, sizeof(reply));
	ck_assert_uint_eq(rh.type, PROTO_ATTACHED);
	ck_assert_uint_eq(rh.id, 50);
	ck_assert_uint_eq(rh.length, sizeof(a));
	memcpy(&a, reply + PROTO_HDR_SIZE, sizeof(a));
	ck_assert_uint_eq(a.tag, tag);
	ck_assert_uint_ne(a.row, h[0].row);
	ck_assert_uint_ne(a.serial, 0);
	/* rundownd fences its blocks' run-downs when it may run on every
	 * CPU, as it may here; nothing else is said. */
	ck_assert_uint_eq(a.bflags & ~BLOCK_F_RSEQ, 0);

	td_raw_request(fd, PROTO_DETACH, 51, tag, h[0].row, a.serial);
	td_raw_error(fd, 51, EPERM, "detach of another's row");
	td_raw_request(fd, PROTO_DETACH, 52, tag, 5000, a.serial);
	td_raw_error(fd, 52, EPERM, "detach of a row out of range");
	td_raw_request(fd, PROTO_DETACH, 53, tag, a.row, a.serial + 1);
	td_raw_error(fd, 53, ESTALE, "detach naming another serial");
	td_raw_request(fd, PROTO_DETACH, 54, tag, a.row, 0);
	td_raw_error(fd, 54, ESTALE, "detach naming serial 0");
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 2);
	td_raw_request(fd, PROTO_LIST, 55, 0, 0, 0);
	td_raw_frame(fd, &rh, reply, sizeof(reply));
	ck_assert_uint_eq(rh.type, PROTO_LIST_REPLY);
	ck_assert_uint_eq(rh.id, 55);
	td_raw_request(fd, PROTO_DETACH, 56, tag, a.row, a.serial);
	td_raw_frame(fd, &rh, reply, sizeof(reply));
	ck_assert_uint_eq(rh.type, PROTO_OK);
	ck_assert_uint_eq(rh.id, 56);
	memcpy(&ok, reply + PROTO_HDR_SIZE, sizeof(ok));
	ck_assert_uint_eq(ok.value, 0);
	close(fd);

	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, ag.pid);
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	agent_release(&ag, 0, 1);
	agent_quit(&ag);
}
END_TEST

/* rundownctl's exit statuses: 64 usage, 69 no daemon, 1 refused. */
START_TEST(test_ctl_status)
{
	char nowhere[PATH_MAX];
	const char *out;
	pid_t pid;

	ck_assert_int_eq(rundown_ctl_create(td.conn, RUNDOWN_TAG('D', 'u', 'p',
	    'e'), 0), 0);
	ck_ctl("tag1", ARGS("status", "ab"), 64);
	ck_ctl_said("tag1");
	ck_ctl("tag2", ARGS("status", "Dupes"), 64);
	ck_ctl("tag3", ARGS("create", "0x"), 64);
	ck_ctl("tag4", ARGS("create", "0x123456789"), 64);
	ck_ctl("tag5", ARGS("wait", "0xzz"), 64);
	ck_ctl("cmd", ARGS("frobnicate", "Dupe"), 64);
	ck_ctl("rows", ARGS("create", "Rows", "--rows", "many"), 64);

	snprintf(nowhere, sizeof(nowhere), "%s/none/rundownd.sock", td.dir);
	pid = td_ctl_start(nowhere, "nodaemon", ARGS("list"));
	ck_assert_int_eq(td_ctl_finish(pid, "nodaemon"), 69);
	ck_ctl_said("nodaemon");

	ck_ctl("nosuch", ARGS("status", "Nope"), 1);
	ck_ctl_said("nosuch");
	ck_ctl("exists", ARGS("create", "Dupe"), 1);
	ck_ctl("nofree", ARGS("free", "Nope"), 1);

	ck_ctl("create", ARGS("create", "0x00000001", "--rows", "2"), 0);
	ck_ctl("json", ARGS("status", "Dupe", "--json"), 0);
	out = td_ctl_output("json", "out");
	ck_assert_msg(strstr(out, "\"tag\":\"Dupe\"") != NULL &&
	    strstr(out, "\"state\":\"open\"") != NULL &&
	    strstr(out, "\"holders\":[]") != NULL, "status --json: %s", out);
	ck_ctl("list", ARGS("list", "--json"), 0);
	out = td_ctl_output("list", "out");
	ck_assert_msg(strstr(out, "\"tag\":\"Dupe\"") != NULL &&
	    strstr(out, "\"tag\":\"0x00000001\"") != NULL &&
	    strstr(out, "\"rows\":2") != NULL, "list --json: %s", out);
}
END_TEST

/* ---- h. a daemon restart ----------------------------------------------- */

/* A new daemon on the same socket adopts the blocks with their live
 * holders, and reclaims a holder that dies afterwards. */
START_TEST(test_restart)
{
	uint32_t tag = RUNDOWN_TAG('R', 's', 't', 'r');
	struct rundown_holder h[DT_MAXHOLDERS];
	struct rundown_block_info info, list[4];
	char obj[PATH_MAX], dir[PATH_MAX], pidkey[32];
	const char *out;
	struct stat st;
	struct agent ag;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 2);
	/* Nobody else may read a block, or reach the socket: without -u
	 * and -g the object is 0600, the directory 0700, the socket 0600. */
	td_shm_path(td.sock, tag, obj, sizeof(obj));
	ck_assert_int_eq(stat(obj, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(td.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	snprintf(dir, sizeof(dir), "%s/run", td.dir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_msg(!exists(td.sock), "the socket outlived the daemon");
	ck_assert_msg(exists(obj), "the block did not outlive the daemon");
	/* Protection needs no daemon. */
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(agent_do(&ag, AG_ACQUIRE, 0, 1), 1);
	agent_release(&ag, 0, 1);

	td_start(NULL);
	td.conn = td_connect();
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].tag, tag);
	ck_assert_int_eq(list[0].state, RUNDOWN_OPEN);
	ck_assert_uint_eq(list[0].attached, 1);
	ck_assert_uint_eq(list[0].outstanding, 1);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, ag.pid);
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_str_eq(h[0].comm, AGENT_COMM);
	ck_ctl("json", ARGS("status", "Rstr", "--json"), 0);
	out = td_ctl_output("json", "out");
	snprintf(pidkey, sizeof(pidkey), "\"pid\":%d", (int)ag.pid);
	ck_assert_msg(strstr(out, pidkey) != NULL &&
	    strstr(out, "\"attached\":1") != NULL, "status --json: %s", out);

	/* The agent's control calls find the new daemon. */
	ck_assert_int_eq(agent_do(&ag, AG_COMPLETED, 0, 0), -EALREADY);

	/* The wait ends when the new daemon reclaims the killed holder. */
	agent_kill(&ag);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 1);
}
END_TEST

/* A block whose holder died while no daemon ran is reclaimed on
 * adoption; a run-down left in progress resumes. */
START_TEST(test_restart_dead_holder)
{
	uint32_t tag = RUNDOWN_TAG('R', 'd', 'e', 'd');
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	struct agent a, b;
	int32_t r;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&a, "agent a", &tag, 1, 0);
	agent_acquire(&a, 0, 2);
	agent_start(&b, "agent b", &tag, 1, 0);
	agent_acquire(&b, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	agent_kill(&a);
	td_start(NULL);
	td.conn = td_connect();

	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 2);
	agent_release(&b, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);

	/* A detach through a connection to the old daemon connects again,
	 * as the other control calls do, and gives the row back. */
	r = agent_do(&b, AG_DETACH, 0, 0);
	ck_assert_msg(r == 0, "detach after a daemon restart: %s",
	    rundown_strerror(r));
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	agent_exit(&b);
}
END_TEST

/* ---- i. limits: time, connections, descriptors ------------------------- */

static const char *const timeout_args[] = { "-t", "1", NULL };

static void
timeout_setup(void)
{
	td_setup(DT_DIR_MODE, timeout_args);
}

/* Sends the first len bytes of a STATUS frame of tag on a new bare
 * socket, and returns it. */
static int
part_frame(uint32_t tag, size_t len)
{
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_req req = { .tag = tag };
	int fd = td_raw_connect();

	ck_assert_uint_eq(proto_encode(frame, sizeof(frame), PROTO_STATUS, 5,
	    &req, sizeof(req)), sizeof(frame));
	ck_assert_uint_lt(len, sizeof(frame));
	td_raw_send(fd, frame, len, -1);
	return fd;
}

/* A frame begun and not finished is dropped after -t with ETIMEDOUT, id
 * 0; one cut short by a close is just dropped.  Neither stops the daemon
 * serving others meanwhile, nor costs a row or a count. */
START_TEST(test_stalled)
{
	uint32_t tag = RUNDOWN_TAG('S', 't', 'a', 'l');
	struct rundown_block_info info;
	struct timespec start;
	struct agent ag;
	int head, body;
	long ms;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 2);

	start = td_now();
	head = part_frame(tag, PROTO_HDR_SIZE / 2);
	body = part_frame(tag, PROTO_HDR_SIZE + 4);
	close(part_frame(tag, PROTO_HDR_SIZE + 2));
	close(part_frame(tag, 3));
	/* Served while the two stall. */
	check_good(tag);
	td_raw_expect_error(head, 0, ETIMEDOUT, "half a header");
	td_raw_expect_error(body, 0, ETIMEDOUT, "half a payload");
	ms = td_elapsed_ms(&start);
	ck_assert_msg(ms >= 900, "closed after %ld ms, before -t 1", ms);
	close(head);
	close(body);
	ck_assert_msg(strstr(td_log(), "not finished in 1 s") != NULL,
	    "the timeout is not logged:\n%s", td_log());

	check_good(tag);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	agent_release(&ag, 0, 2);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	agent_quit(&ag);
}
END_TEST

static void
conns_setup(void)
{
	if (geteuid() == 0 && getpwnam("daemon") != NULL)
		td_setup(DT_DIR_MODE, ARGS("-C", "3", "-U", "2", "-u",
		    "daemon"));
	else
		td_setup(DT_DIR_MODE, ARGS("-C", "3", "-U", "2"));
}

/* A list on a new connection, kept open if keep: its result. */
static int
list_new(rundown_conn_t **keep)
{
	rundown_conn_t *c;
	size_t n;
	int r;

	if ((r = rundown_connect(td.sock, &c)) != 0)
		return r;
	r = rundown_ctl_list(c, NULL, 0, &n);
	if (keep != NULL && r == 0)
		*keep = c;
	else
		rundown_disconnect(c);
	return r;
}

/* Exit statuses of other_child(). */
enum {
	OTHER_OK = 0,
	OTHER_FIRST = 30,	/* the first connection did not work */
	OTHER_SECOND = 31	/* the second was not refused with EUSERS */
};

/* As pw, with this user's two connections and td.conn open: a first
 * connection makes -C 3, a second is one too many in all. */
static void
other_child(const struct passwd *pw)
{
	rundown_conn_t *first = NULL;

	become(pw);
	if (list_new(&first) != 0)
		_exit(OTHER_FIRST);
	if (list_new(NULL) != -EUSERS)
		_exit(OTHER_SECOND);
	rundown_disconnect(first);
	_exit(OTHER_OK);
}

/* -U refuses a user's connection beyond its share and -C one beyond the
 * total, both with EUSERS on id 0; a slot is free again once its
 * connection closes. */
START_TEST(test_conn_limits)
{
	struct timespec start;
	rundown_conn_t *second = NULL;
	struct passwd *pw, other;
	pid_t pid;
	int r, st;

	/* td.conn and second: this user's two.  The connection that
	 * td_start() made to see the daemon answer counts until the
	 * daemon's closing lane has closed it (-U counts descriptors still
	 * closing): until then, the second is refused. */
	start = td_now();
	while ((r = list_new(&second)) == -EUSERS &&
	    td_elapsed_ms(&start) < td.deadline_ms)
		td_pause();
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(list_new(NULL), -EUSERS);
	ck_assert_msg(strstr(td_log(), "too many connections of its user") !=
	    NULL, "the refusal is not logged:\n%s", td_log());
	ck_ctl("busy", ARGS("list"), 1);
	ck_assert_msg(strstr(td_ctl_output("busy", "err"), "connections") !=
	    NULL, "rundownctl: %s", td_ctl_output("busy", "err"));

	if (geteuid() == 0 && (pw = getpwnam("daemon")) != NULL) {
		other = *pw;
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			other_child(&other);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st));
		ck_assert_msg(WEXITSTATUS(st) == OTHER_OK,
		    "as daemon: exit status %d", WEXITSTATUS(st));
		ck_assert_msg(strstr(td_log(), "too many connections in all") !=
		    NULL, "the -C refusal is not logged:\n%s", td_log());
	} else
		fprintf(stderr, "check_daemon: test_conn_limits: -C checked "
		    "only through -U; it needs root and user daemon\n");

	/* The daemon frees the slot when it reads the close: poll. */
	rundown_disconnect(second);
	start = td_now();
	while ((r = list_new(NULL)) == -EUSERS) {
		ck_assert_msg(td_elapsed_ms(&start) < DT_DEADLINE_MS,
		    "no room after a close within %d ms", DT_DEADLINE_MS);
		td_pause();
	}
	ck_assert_int_eq(r, 0);
}
END_TEST

static void
blocks_setup(void)
{
	td_setup(DT_DIR_MODE, ARGS("-B", "2", "-R", "8", "-r", "4"));
}

/* -B bounds the blocks: create, attach with create and rundownctl are
 * refused with ENOSPC beyond it, and room returns with a free; -R bounds
 * the rows; a restart with a lower -B adopts no more than it allows and
 * leaves the rest alone in shared memory. */
START_TEST(test_block_limit)
{
	uint32_t a = RUNDOWN_TAG('L', 'i', 'm', 'a');
	uint32_t b = RUNDOWN_TAG('L', 'i', 'm', 'b');
	uint32_t c = RUNDOWN_TAG('L', 'i', 'm', 'c');
	struct rundown_block_info list[4];
	rundown_cache_t *ref = NULL;
	char obj[PATH_MAX];
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, a, 8), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, b, 9), -EINVAL);
	ck_assert_int_eq(rundown_ctl_create(td.conn, b, 0), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, c, 0), -ENOSPC);
	ck_assert_int_eq(rundown_attach_at(td.sock, c, RUNDOWN_ATTACH_CREATE,
	    &ref), -ENOSPC);
	ck_assert_ptr_null(ref);
	ck_ctl("full", ARGS("create", "Limc"), 1);
	ck_assert_msg(strstr(td_ctl_output("full", "err"), "as many blocks") !=
	    NULL, "rundownctl: %s", td_ctl_output("full", "err"));
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 2);

	ck_assert_int_eq(rundown_ctl_free(td.conn, a), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, c, 0), 0);

	/* Restarted with -B 1: one of b and c is adopted, the other is
	 * logged and left as it was. */
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	td_start(ARGS("-B", "1"));
	td.conn = td_connect();
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_msg(strstr(td_log(), "over the limit of 1 blocks; not "
	    "adopted") != NULL, "no refusal logged:\n%s", td_log());
	td_shm_path(td.sock, list[0].tag == b ? c : b, obj, sizeof(obj));
	ck_assert_msg(exists(obj), "the block not adopted was removed");
	ck_assert_int_eq(rundown_ctl_create(td.conn, a, 0), -ENOSPC);
}
END_TEST

/* Field n (from 1, as proc(5) counts) of /proc/PID/stat, a number. */
static unsigned long long
stat_field(pid_t pid, int n)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	FILE *f;
	size_t len;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* Count from the command's closing paren: it may hold spaces. */
	ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
	for (i = 2; i < n; i++)
		ck_assert_ptr_nonnull(p = strchr(p + 1, ' '));
	ck_assert_int_eq(sscanf(p + 1, "%llu", &v), 1);
	return v;
}

/* Seconds of CPU the process has used. */
static double
cpu_seconds(pid_t pid)
{
	return (double)(stat_field(pid, 14) + stat_field(pid, 15)) /
	    (double)sysconf(_SC_CLK_TCK);
}

#define EMFILE_NOFILE 32	/* the daemon's descriptors */
#define EMFILE_CONNS 48		/* more connections than that */

static void
emfile_setup(void)
{
	td.nofile = EMFILE_NOFILE;
	td_setup(DT_DIR_MODE, NULL);
}

/* Out of descriptors, the daemon pauses accepting for a second at a time
 * instead of spinning, serves the connections it has, and accepts again
 * once descriptors are free. */
START_TEST(test_emfile)
{
	static const char paused[] = "accept; pausing for a second";
	uint32_t tag = RUNDOWN_TAG('M', 'F', 'i', 'l');
	struct rundown_block_info info;
	int fds[EMFILE_CONNS], i;
	unsigned seen;
	char *text;
	double cpu0, cpu;
	long ms;
	struct timespec start;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	for (i = 0; i < EMFILE_CONNS; i++)
		fds[i] = td_raw_connect();
	td_await_log(0, paused, 1);
	text = td_log_from(0);
	seen = td_count(text, paused);
	free(text);
	cpu0 = cpu_seconds(td.pid);
	start = td_now();
	td_await_log(0, paused, seen + 1);
	ms = td_elapsed_ms(&start);
	cpu = cpu_seconds(td.pid) - cpu0;
	ck_assert_msg(ms >= 500, "paused again after %ld ms", ms);
	ck_assert_msg(cpu < 0.25 * ((double)ms / 1000 + 0.1),
	    "the daemon used %.2f s of CPU in %ld ms out of descriptors", cpu,
	    ms);
	printf("check_daemon: out of descriptors: %.3f s of CPU in %ld ms "
	    "between two pauses\n", cpu, ms);
	/* Its connection is served meanwhile. */
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);

	for (i = 0; i < EMFILE_CONNS; i++)
		close(fds[i]);
	start = td_now();
	while (list_new(NULL) != 0) {
		ck_assert_msg(td_elapsed_ms(&start) < DT_DEADLINE_MS,
		    "no new connection served within %d ms:\n%s",
		    DT_DEADLINE_MS, td_log());
		td_pause();
	}
}
END_TEST

/* In the grandchild of orphan_attach(): once told its parent is reaped,
 * attaches on the inherited connection and writes the error code. */
static void
orphan_child(int fd, uint32_t tag, int go, int out)
{
	unsigned char buf[PROTO_HDR_SIZE + 128];
	struct proto_error e = { .code = 0 };
	struct proto_hdr h;
	char c;

	if (read(go, &c, 1) != 1)
		_exit(1);
	td_raw_request(fd, PROTO_ATTACH, 61, tag, 0, 0);
	do	/* the answer to a list sent earlier may come first */
		td_raw_frame(fd, &h, buf, sizeof(buf));
	while (h.id == 60);
	if (h.type == PROTO_ERROR && h.id == 61)
		memcpy(&e, buf + PROTO_HDR_SIZE, sizeof(e));
	else
		e.code = -1;	/* not refused */
	if (write(out, &e.code, sizeof(e.code)) != sizeof(e.code))
		_exit(1);
	_exit(0);
}

/* Forks a child that waits for a byte on p and exits; with *want > 0,
 * as pid *want through ns_last_pid (root only).  Its pid, or -1 if it
 * did not get that pid. */
static pid_t
reuse_pid(pid_t want, int p)
{
	char num[32];
	pid_t pid;
	char c;
	int fd;

	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(num, sizeof(num), "%d", (int)want - 1);
	if (write(fd, num, strlen(num)) != (ssize_t)strlen(num)) {
		close(fd);
		return -1;
	}
	close(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(read(p, &c, 1) == 1 ? 0 : 1);
	if (pid == want)
		return pid;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Whether the kernel gives a socket's peer as a pidfd (Linux 6.5). */
static bool
have_peerpidfd(void)
{
	socklen_t len = sizeof(int);
	int sv[2], pidfd = -1;
	bool ok;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	ok = getsockopt(sv[0], SOL_SOCKET, 77 /* SO_PEERPIDFD */, &pidfd,
	    &len) == 0;
	if (pidfd >= 0)
		close(pidfd);
	close(sv[0]);
	close(sv[1]);
	return ok;
}

/* Stops or resumes the daemon, and waits until /proc says it is so. */
static void
daemon_stopped(bool stop)
{
	struct timespec start = td_now();
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	ck_assert_int_eq(kill(td.pid, stop ? SIGSTOP : SIGCONT), 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)td.pid);
	for (;;) {
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
		if ((p[2] == 'T') == stop)
			return;
		ck_assert_msg(td_elapsed_ms(&start) < DT_DEADLINE_MS,
		    "rundownd not %s", stop ? "stopped" : "resumed");
		td_pause();
	}
}

/*
 * A connection outlives the process that made it (a child kept it), and
 * another process takes its pid: an attach on it must fail with ESRCH
 * rather than charge the row to that stranger.  With late, the daemon is
 * stopped until the pid has been reused, so that it accepts the
 * connection only then (SO_PEERCRED still names the old pid): only the
 * connector's pidfd (SO_PEERPIDFD) can tell.  Returns whether the pid
 * was reused (root only); the exited connector is checked either way.
 */
static bool
orphan_attach(uint32_t tag, bool late)
{
	unsigned char buf[PROTO_HDR_SIZE + 128];
	unsigned long long born;
	struct timespec start;
	struct proto_hdr h;
	int go[2], out[2], hold[2], fd, st;
	pid_t a, stranger = -1;
	int32_t code;

	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	if (late)
		daemon_stopped(true);
	a = fork();
	ck_assert_int_ge(a, 0);
	if (a == 0) {
		fd = td_raw_connect();
		/* Accepted once a list is answered, unless stopped. */
		td_raw_request(fd, PROTO_LIST, 60, 0, 0, 0);
		if (!late) {
			td_raw_frame(fd, &h, buf, sizeof(buf));
			if (h.type != PROTO_LIST_REPLY)
				_exit(2);
		}
		a = fork();
		if (a == 0)
			orphan_child(fd, tag, go[0], out[1]);
		_exit(a > 0 ? 0 : 3);
	}
	ck_assert_int_eq(waitid(P_PID, (id_t)a, &(siginfo_t){ 0 },
	    WEXITED | WNOWAIT), 0);
	born = stat_field(a, 22);
	ck_assert_int_eq(waitpid(a, &st, 0), a);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the connecting child: status %#x", st);

	/* A stranger with the same pid and a later start time. */
	start = td_now();
	while (geteuid() == 0 && td_elapsed_ms(&start) < 2000) {
		if ((stranger = reuse_pid(a, hold[0])) > 0 &&
		    stat_field(stranger, 22) != born)
			break;
		if (stranger > 0) {
			kill(stranger, SIGKILL);
			waitpid(stranger, NULL, 0);
			stranger = -1;
		}
		td_pause();
	}
	if (late)
		daemon_stopped(false);

	close(go[0]);
	close(out[1]);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_uint_eq(td_raw_read(out[0], &code, sizeof(code),
	    "the grandchild's answer"), sizeof(code));
	ck_assert_msg(code == ESRCH, "attach on an orphaned connection%s%s: "
	    "%d", stranger > 0 ? " whose pid was reused" : "",
	    late ? ", accepted after that" : "", code);
	close(go[1]);
	close(out[0]);
	if (stranger > 0) {
		ck_assert_int_eq(write(hold[1], "x", 1), 1);
		ck_assert_int_eq(waitpid(stranger, &st, 0), stranger);
	}
	close(hold[0]);
	close(hold[1]);
	return stranger > 0;
}

START_TEST(test_orphan_attach)
{
	uint32_t tag = RUNDOWN_TAG('O', 'r', 'p', 'h');
	struct rundown_block_info info;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	if (!orphan_attach(tag, false))
		fprintf(stderr, "check_daemon: test_orphan_attach: pid not "
		    "reused (needs root); the exited connector checked only\n");
	if (have_peerpidfd())
		orphan_attach(tag, true);
	else
		fprintf(stderr, "check_daemon: test_orphan_attach: no "
		    "SO_PEERPIDFD (Linux 6.5); a pid reused before the "
		    "accept is not caught, as documented\n");
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
}
END_TEST

/* One test case per fixture; each test starts a daemon of its own. */
/* ---- start-up ------------------------------------------------------------ */

/* Runs rundownd ARGV (argv[0] its name; its stderr to the daemon's log),
 * passed fd as a service manager passes a socket if fd >= 0, and returns
 * its exit status; it must exit by itself within the deadline. */
static int
daemon_exit_status_fd(const char *const *argv, int fd)
{
	struct timespec start = td_now();
	char line[256] = "";
	size_t i;
	pid_t pid, r;
	int st = 0;

	for (i = 1; argv[i] != NULL; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    " %s", argv[i]);
	pid = td_spawn_fd(argv, fd);
	while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
		if (td_elapsed_ms(&start) >= DT_DEADLINE_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("rundownd%s did not exit:\n%s", line,
			    td_log());
		}
		td_pause();
	}
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFEXITED(st), "rundownd killed (status %#x)", st);
	return WEXITSTATUS(st);
}

/* daemon_exit_status_fd() with nothing passed. */
static int
daemon_exit_status_of(const char *const *argv)
{
	return daemon_exit_status_fd(argv, -1);
}

/* Runs rundownd -d ARGS... as daemon_exit_status_of() does. */
static int
daemon_exit_status(const char *const *args)
{
	const char *argv[16];
	size_t n = 0;

	argv[n++] = "rundownd";
	argv[n++] = "-d";
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	return daemon_exit_status_of(argv);
}

/* Makes dir/NAME with mode and returns dir/NAME/rundownd.sock in buf. */
static const char *
sub_socket(const char *name, mode_t mode, char *buf, size_t size)
{
	static const char file[] = "/rundownd.sock";

	snprintf(buf, size, "%s/%s", td.dir, name);
	ck_assert_int_eq(mkdir(buf, 0700), 0);
	ck_assert_int_eq(chmod(buf, mode), 0);
	ck_assert_uint_lt(strlen(buf) + sizeof(file), TD_SOCKLEN);
	strcat(buf, file);
	return buf;
}

/* Start-up refuses what it must and leaves alone what is not its own:
 * exit 64 (EX_USAGE) for usage errors, 1 for the rest. */
START_TEST(test_startup)
{
	char path[PATH_MAX], keep[TD_SOCKLEN];
	struct sockaddr_un sun;
	struct stat st;
	size_t n;
	int fd;

	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "-x")), 64);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "-r", "0")),
	    64);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "-R", "4",
	    "-r", "8")), 64);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "extra")), 64);

	/* A live daemon on the socket: the second one gives up, and the
	 * first keeps its socket and answers. */
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock)), 1);
	ck_assert_int_eq(rundown_ctl_list(td.conn, NULL, 0, &n), 0);
	ck_assert_int_eq(lstat(td.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));

	/* A directory others may write to. */
	sub_socket("open", 0777, path, sizeof(path));
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", path)), 1);
	ck_assert(!exists(path));

	/* Something that is not a socket at the path is left alone. */
	sub_socket("file", 0700, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", path)), 1);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));

	/* A stale socket (nobody listens) is replaced. */
	sub_socket("stale", 0700, path, sizeof(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	memcpy(keep, td.sock, sizeof(keep));
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	memcpy(td.sock, path, strlen(path) + 1);
	td_start(NULL);
	td_stop();
	ck_assert(!exists(td.sock));
	memcpy(td.sock, keep, sizeof(keep));
	td_start(NULL);
	td.conn = td_connect();
}
END_TEST

/* ---- options and the pid file ------------------------------------------ */

/* Runs rundownd ARGS... with its stdout into buf (size) and its stderr
 * into the daemon's log: its exit status. */
static int
daemon_stdout(const char *const *args, char *buf, size_t size)
{
	const char *argv[8];
	size_t n = 0, got = 0;
	ssize_t k;
	pid_t pid;
	int p[2], st;

	argv[n++] = "rundownd";
	while (*args != NULL && n < 7)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		st = open(td.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (st < 0 || dup2(p[1], 1) < 0 || dup2(st, 2) < 0)
			_exit(120);
		execv(td.rundownd, (char *const *)argv);
		_exit(121);
	}
	close(p[1]);
	while (got < size - 1 && (k = read(p[0], buf + got,
	    size - 1 - got)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(k, 0);
		got += (size_t)k;
	}
	buf[got] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* --help and --version, as rundownctl has them. */
START_TEST(test_long_options)
{
	char buf[4096], want[64];

	snprintf(want, sizeof(want), "rundownd %s\n",
	    rundown_version_string());
	ck_assert_int_eq(daemon_stdout(ARGS("--version"), buf, sizeof(buf)),
	    0);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(daemon_stdout(ARGS("-V"), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(daemon_stdout(ARGS("--help"), buf, sizeof(buf)), 0);
	ck_assert_msg(strncmp(buf, "usage: rundownd ", 16) == 0 &&
	    strstr(buf, "--version") != NULL, "--help printed:\n%s", buf);
	ck_assert_int_eq(daemon_stdout(ARGS("--bogus"), buf, sizeof(buf)), 64);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* A socket's lock file (a socket path is short: TD_SOCKLEN). */
#define LOCK_PATH(sock, buf)						\
	snprintf((buf), sizeof(buf), "%.*s.lock", TD_SOCKLEN, (sock))

/* The pid in socket's lock file, or 0 if it holds none. */
static pid_t
lock_pid(const char *sock)
{
	char path[TD_SOCKLEN + 8], buf[32];
	long v = 0;

	LOCK_PATH(sock, path);
	td_file_tail(path, buf, sizeof(buf));
	if (buf[0] == '\0')
		return 0;
	ck_assert_msg(sscanf(buf, "%ld\n", &v) == 1 && v > 0,
	    "%s holds \"%s\"", path, buf);
	return (pid_t)v;
}

/* Runs ARGV (a PATH search): its exit status, 127 if it cannot run. */
static int
run_tool(const char *const *argv)
{
	pid_t pid = test_fork_flushed();
	int st, nul;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		nul = open("/dev/null", O_WRONLY);
		if (nul < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
			_exit(120);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Whether pid has ended: its pidfd reads at once, or it is gone. */
static bool
ended(pid_t pid)
{
	struct pollfd p;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), r;

	if (fd < 0)
		return errno == ESRCH;
	p.fd = fd;
	p.events = POLLIN;
	r = poll(&p, 1, 0);
	close(fd);
	return r == 1;
}

/* Stops the daemon pid whose lock file is sock's as rundownd(8)'s example
 * does (pkill -L -F, then pidwait -L -F), or by kill(2) where procps
 * cannot run. */
static void
stop_by_lock(const char *sock, pid_t pid)
{
	char path[TD_SOCKLEN + 8];
	int r;

	LOCK_PATH(sock, path);
	r = run_tool(ARGS("pkill", "-TERM", "-L", "-F", path));
	if (r == 127) {
		fprintf(stderr, "check_daemon: no pkill; stopped by kill\n");
		ck_assert_int_eq(kill(pid, SIGTERM), 0);
	} else
		ck_assert_msg(r == 0, "pkill -L -F %s: %d", path, r);
	/* 0: it waited for the daemon; else the file was found empty or
	 * unlocked, as the daemon exits (it may not have ended yet). */
	if (run_tool(ARGS("pidwait", "-L", "-F", path)) == 0)
		ck_assert_msg(ended(pid), "pidwait returned before pid %d "
		    "ended", (int)pid);
}

/* Waits for a process that is not our child to end (its pidfd). */
static void
await_gone(pid_t pid)
{
	struct pollfd p;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	ck_assert_msg(fd >= 0, "pidfd_open %d: %s", (int)pid, strerror(errno));
	p.fd = fd;
	p.events = POLLIN;
	ck_assert_msg(poll(&p, 1, DT_DEADLINE_MS) == 1,
	    "pid %d still runs after %d ms:\n%s", (int)pid, DT_DEADLINE_MS,
	    td_log());
	close(fd);
}

/* The lock file holds the pid of the daemon, in the foreground or
 * detached (the child's), and nothing after a clean exit; the man page's
 * way of stopping one daemon among several works. */
START_TEST(test_pid_file)
{
	char path[PATH_MAX];
	pid_t pid;
	int fd;

	ck_assert_int_eq(lock_pid(td.sock), td.pid);
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_int_eq(lock_pid(td.sock), 0);

	/* Two daemons: the detached one on a socket of its own. */
	td_start(NULL);
	sub_socket("detached", 0700, path, sizeof(path));
	ck_assert_int_eq(daemon_exit_status_of(ARGS("rundownd", "-S", path)),
	    0);
	pid = lock_pid(path);
	ck_assert_msg(pid > 0, "no pid in the lock file:\n%s", td_log());
	ck_assert_int_ne(pid, td.pid);
	/* Detached, yet serving: the pid is the child's, which answers. */
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	ck_assert_msg(fd >= 0, "the pid in the lock file, %d, is not a "
	    "process: %s", (int)pid, strerror(errno));
	close(fd);
	stop_by_lock(path, pid);
	await_gone(pid);
	ck_assert_int_eq(lock_pid(path), 0);
	ck_assert(!exists(path));
	/* The other daemon still serves. */
	ck_assert_int_eq(lock_pid(td.sock), td.pid);
	td.conn = td_connect();
}
END_TEST

/* ---- log lines ---------------------------------------------------------- */

/* Restarts the test's daemon with JOURNAL_STREAM set to value (the
 * variable is the test process's own: Check runs each test in a child);
 * where the new daemon's lines begin in the log. */
static off_t
restart_with_journal(const char *value)
{
	off_t off;

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	off = td_log_size();
	ck_assert_int_eq(setenv("JOURNAL_STREAM", value, 1), 0);
	td_start(NULL);
	ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
	td.conn = td_connect();
	return off;
}

/* Sends a frame with a descriptor, which the daemon refuses and logs as
 * a warning. */
static void
bad_frame(void)
{
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_req req = { 0 };
	int fd = td_raw_connect(), nul = open("/dev/null", O_RDONLY);
	size_t n;

	ck_assert_int_ge(nul, 0);
	n = proto_encode(frame, sizeof(frame), PROTO_LIST, 9, &req,
	    (size_t)proto_req_size(PROTO_LIST));
	ck_assert_uint_gt(n, 0);
	td_raw_send(fd, frame, n, nul);
	td_raw_expect_error(fd, 0, EBADMSG, "a frame with a descriptor");
	close(nul);
	close(fd);
}

/* When stderr is the journal (JOURNAL_STREAM names it) each line carries
 * its syslog priority as "<N>"; otherwise, also when JOURNAL_STREAM names
 * another file, lines are plain and name the program. */
START_TEST(test_journal_prefix)
{
	char value[64];
	struct stat st;
	char *text;
	off_t off;

	ck_assert_int_eq(stat(td.log, &st), 0);
	snprintf(value, sizeof(value), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	off = restart_with_journal(value);
	bad_frame();
	td_await_log(off, "<4>pid ", 1);
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "<6>listening on ") == 1 &&
	    td_count(text, "rundownd: ") == 0,
	    "JOURNAL_STREAM is stderr, yet the lines are:\n%s", text);
	free(text);

	snprintf(value, sizeof(value), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino + 1);
	off = restart_with_journal(value);
	bad_frame();
	td_await_log(off, "rundownd: pid ", 1);
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "rundownd: listening on ") == 1 &&
	    td_count(text, "<6>") == 0 && td_count(text, "<4>") == 0,
	    "JOURNAL_STREAM names another file, yet the lines are:\n%s", text);
	free(text);
}
END_TEST

/* Whether syslog(3) would reach anyone here: what rundownd checks. */
static bool
syslog_listens(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sun;
	size_t i;
	int fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/dev/log");
	for (i = 0; i < 2; i++) {
		ck_assert_int_ge(fd = socket(AF_UNIX, types[i], 0), 0);
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		if (r == 0)
			return true;
	}
	return false;
}

/* A daemon that detaches with nobody listening for syslog says so once
 * on stderr before it goes; with a syslog, it says nothing. */
START_TEST(test_no_syslog)
{
	static const char line[] = "rundownd: no syslog at /dev/log";
	char path[PATH_MAX], *text;
	bool listens = syslog_listens();
	off_t off = td_log_size();
	pid_t pid;

	sub_socket("detached", 0700, path, sizeof(path));
	ck_assert_int_eq(daemon_exit_status_of(ARGS("rundownd", "-S", path)),
	    0);
	pid = lock_pid(path);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	await_gone(pid);
	text = td_log_from(off);
	if (listens)
		ck_assert_msg(td_count(text, line) == 0, "a syslog listens, "
		    "yet the daemon said:\n%s", text);
	else {
		fprintf(stderr, "check_daemon: nobody listens on /dev/log "
		    "here: the warning is checked\n");
		ck_assert_msg(td_count(text, line) == 1, "no syslog here, and "
		    "the daemon said:\n%s", text);
	}
	free(text);
}
END_TEST

/* ---- systemd ------------------------------------------------------------ */

/* A datagram socket at name ('@': an abstract name), as a service manager
 * binds for NOTIFY_SOCKET. */
static int
notify_bind(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(n, sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

/* Whether one of the lines of text is want. */
static bool
has_line(const char *text, const char *want)
{
	size_t n = strlen(want);
	const char *p;

	for (p = text; (p = strstr(p, want)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') &&
		    (p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

/* Reads the next notification and checks that one of its lines is want; fails if the daemon exits first (unless it is expected to),
 * or at the deadline. */
static void
notify_expect(int fd, const char *want, bool exiting)
{
	struct timespec start = td_now();
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[512];
	ssize_t n;
	int st = 0;

	while (poll(&p, 1, 100) != 1) {
		ck_assert_msg(exiting || waitpid(td.pid, &st, WNOHANG) == 0,
		    "rundownd exited (status %#x) without %s:\n%s", st, want,
		    td_log());
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "no %s within %d ms:\n%s", want, td.deadline_ms, td_log());
	}
	ck_assert_int_gt(n = recv(fd, buf, sizeof(buf) - 1, 0), 0);
	buf[n] = '\0';
	ck_assert_msg(has_line(buf, want), "the notification lacks %s:\n%s",
	    want, buf);
}

/* Runs the test's daemon with NOTIFY_SOCKET=name: READY=1 arrives once
 * it serves (the first connection after it is answered), STOPPING=1 on
 * SIGTERM. */
static void
notified_run(const char *name)
{
	const char *argv[] = { "rundownd", "-d", "-S", td.sock, NULL };
	rundown_conn_t *c;
	size_t n;
	int fd = notify_bind(name);

	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	td.pid = td_spawn(argv);
	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	notify_expect(fd, "READY=1", false);
	ck_assert_int_eq(rundown_connect(td.sock, &c), 0);
	ck_assert_int_eq(rundown_ctl_list(c, NULL, 0, &n), 0);
	rundown_disconnect(c);
	td_stop();
	notify_expect(fd, "STOPPING=1", true);
	close(fd);
}

/* sd_notify(3)'s protocol, without libsystemd: to a socket path, and to
 * an abstract name. */
START_TEST(test_notify)
{
	char path[TD_SOCKLEN], abstract[64];

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_uint_lt((size_t)snprintf(path, sizeof(path), "%s/notify",
	    td.dir), sizeof(path));
	notified_run(path);
	snprintf(abstract, sizeof(abstract), "@rundown-check.%ld.notify",
	    (long)getpid());
	notified_run(abstract);
	td_start(NULL);
	td.conn = td_connect();
}
END_TEST

/* A socket of type bound to path (abstract if it begins with '@'),
 * listening if listens. */
static int
bound_socket(int type, const char *path, bool listens)
{
	struct sockaddr_un sun;
	socklen_t len;
	size_t n = strlen(path);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(n, sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	if (listens)
		ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

/* Starts rundownd -d EXTRA... with listener passed as systemd passes it,
 * and waits for its READY=1. */
static void
start_activated(int listener, const char *extra)
{
	const char *argv[] = { "rundownd", "-d", extra, extra != NULL ?
	    td.sock : NULL, NULL };
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@rundown-check.%ld.activated",
	    (long)getpid());
	fd = notify_bind(name);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	td.pid = td_spawn_fd(argv, listener);
	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	notify_expect(fd, "READY=1", false);
	close(fd);
}

/*
 * Socket activation: the daemon serves the listening socket it is passed
 * (LISTEN_FDS, LISTEN_PID) rather than binding its own, takes the lock
 * beside it, leaves it in place at exit, and the next daemon passed the
 * same socket answers what was queued meanwhile.  Without -S it learns
 * the path from the socket; -S must name the same one.  Anything but one
 * listening AF_UNIX stream socket with an absolute path is refused, and a
 * LISTEN_PID of another process is ignored.
 */
START_TEST(test_activation)
{
	uint32_t tag = RUNDOWN_TAG('A', 'c', 't', 'v');
	struct rundown_block_info info;
	char path[TD_SOCKLEN], abstract[64];
	struct stat before, after;
	rundown_conn_t *queued;
	char *text;
	off_t off;
	size_t n;
	int l, fd;

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	l = bound_socket(SOCK_STREAM, td.sock, true);
	ck_assert_int_eq(stat(td.sock, &before), 0);

	off = td_log_size();
	start_activated(l, NULL);
	await_line(off, "listening on %s (from the service manager; ",
	    td.sock);
	td.conn = td_connect();
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_int_eq(lock_pid(td.sock), td.pid);
	ck_assert_int_eq(stat(td.sock, &after), 0);
	ck_assert_msg(after.st_ino == before.st_ino, "the daemon replaced "
	    "the socket it was passed");

	/* Stopped, the socket stays and queues; the next daemon, passed it
	 * with -S naming it, adopts the block and answers. */
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_int_eq(lock_pid(td.sock), 0);
	ck_assert_int_eq(stat(td.sock, &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(rundown_connect(td.sock, &queued), 0);
	start_activated(l, "-S");
	ck_assert_int_eq(rundown_ctl_list(queued, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 1);
	rundown_disconnect(queued);
	td.conn = td_connect();
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();

	/* What is refused, with exit status 1. */
	sub_socket("other", 0700, path, sizeof(path));
	off = td_log_size();
	ck_assert_int_eq(daemon_exit_status_fd(ARGS("rundownd", "-d", "-S",
	    path), l), 1);
	ck_assert(!exists(path));
	close(l);
	unlink(td.sock);

	fd = bound_socket(SOCK_STREAM, td.sock, false);
	ck_assert_int_eq(daemon_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	unlink(td.sock);
	fd = bound_socket(SOCK_DGRAM, td.sock, false);
	ck_assert_int_eq(daemon_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	unlink(td.sock);
	snprintf(abstract, sizeof(abstract), "@rundown-check.%ld.abstract",
	    (long)getpid());
	fd = bound_socket(SOCK_STREAM, abstract, true);
	ck_assert_int_eq(daemon_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	ck_assert_int_ge(fd = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	ck_assert_int_eq(daemon_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "is not the socket the service manager "
	    "passed") == 1 && td_count(text, "is not a listening AF_UNIX "
	    "stream socket") == 3 && td_count(text, "is not bound to an "
	    "absolute path") == 1, "the refusals:\n%s", text);
	free(text);

	/* LISTEN_PID of another process: not ours; the daemon binds. */
	ck_assert_int_eq(setenv("LISTEN_PID", "1", 1), 0);
	ck_assert_int_eq(setenv("LISTEN_FDS", "1", 1), 0);
	td_start(NULL);
	ck_assert_int_eq(unsetenv("LISTEN_PID"), 0);
	ck_assert_int_eq(unsetenv("LISTEN_FDS"), 0);
	td.conn = td_connect();
}
END_TEST

/* A test case of s with a daemon of its own (setup starts it). */
static TCase *
dt_case(Suite *s, const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, td_teardown);
	test_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *
daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc;

	tc = dt_case(s, "wait", dt_setup);
	tcase_add_test(tc, test_wait_last_release);
	tcase_add_test(tc, test_run);
	tcase_add_test(tc, test_sigkill_reclaimed);
	tcase_add_test(tc, test_sigkill_open);
	tcase_add_test(tc, test_rundown_log);
	tcase_add_test(tc, test_confined_fence);

	tc = dt_case(s, "startup", dt_setup);
	tcase_add_test(tc, test_startup);
	tcase_add_test(tc, test_long_options);
	tcase_add_test(tc, test_pid_file);
	tcase_add_test(tc, test_journal_prefix);
	tcase_add_test(tc, test_no_syslog);

	tc = dt_case(s, "systemd", dt_setup);
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_activation);

	tc = dt_case(s, "users", users_setup);
	tcase_add_test(tc, test_users);

	tc = dt_case(s, "frames", dt_setup);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_pieces);

	tc = dt_case(s, "fork", dt_setup);
	tcase_add_test(tc, test_fork);

	tc = dt_case(s, "ops", dt_setup);
	tcase_add_test(tc, test_free);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_wdm_allocate_completed);
	tcase_add_test(tc, test_detach_others);
	tcase_add_test(tc, test_stale_detach);
	tcase_add_test(tc, test_ctl_status);

	tc = dt_case(s, "restart", dt_setup);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_restart_dead_holder);

	tc = dt_case(s, "timeout", timeout_setup);
	tcase_add_test(tc, test_stalled);

	tc = dt_case(s, "conns", conns_setup);
	tcase_add_test(tc, test_conn_limits);

	tc = dt_case(s, "blocks", blocks_setup);
	tcase_add_test(tc, test_block_limit);

	tc = dt_case(s, "emfile", emfile_setup);
	tcase_add_test(tc, test_emfile);

	tc = dt_case(s, "orphan", dt_setup);
	tcase_add_test(tc, test_orphan_attach);

	return s;
}

int
main(void)
{
	return td_main("rundown-check", 0711, DT_DEADLINE_MS, daemon_suite);
}
