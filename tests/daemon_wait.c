/*
 * daemon_wait.c: waits, rundownctl run, holders killed, run-downs in
 * the log: a block's run-down from start to drain.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "cache.h"
#include "daemon.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

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
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, 3, w);

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
	ck_assert(test_exists(f1));
	ck_ctl("run3", ARGS("run", "Runt", "--", "sh", "-c", "exit 3"), 3);
	ck_ctl("run4", ARGS("run", "Runt", "true"), 0);
	/* run never creates a block. */
	ck_ctl("run5", ARGS("run", "Nope", "--", "touch", f3), 1);
	ck_assert(!test_exists(f3));
	dt_ctl_said("run5");
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
	ck_assert_msg(!test_exists(f2), "run ran the command during run-down");
	dt_ctl_said("run6");

	/* Drained is no better. */
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_ctl("run7", ARGS("run", "Runt", "--", "touch", f2), 75);
	ck_assert_msg(!test_exists(f2), "run ran the command after run-down");
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.attached, 1);

	ck_ctl("reinit", ARGS("reinit", "Runt"), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_ctl("run8", ARGS("run", "Runt", "--", "touch", f2), 0);
	ck_assert(test_exists(f2));
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
	dt_await_line(off, "Logs: run-down started by pid %ld uid %lu "
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
	dt_await_line(off, "Logs: re-initialized by pid %ld uid %lu "
	    "(rundownctl), generation 1", (long)w, uid);

	/* A poll starts the run-down and leaves; the release that drains
	 * it is logged all the same, with nobody waiting. */
	agent_acquire(&a, 0, 1);
	off = td_log_size();
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);
	own_comm(comm, sizeof(comm));
	dt_await_line(off, "Logs: run-down started by pid %ld uid %lu (%s)",
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
	dt_await_line(off, "Logs: run-down started by pid %ld uid %lu "
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
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, 2, w);
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
	info = td_await_block(tag, RUNDOWN_DRAINED, 0, 0);
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
	info = td_await_block(tag, RUNDOWN_OPEN, 0, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 5);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);
}
END_TEST

TCase *
daemon_wait_tcase(void)
{
	TCase *tc = tcase_create("wait");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_wait_last_release);
	tcase_add_test(tc, test_run);
	tcase_add_test(tc, test_sigkill_reclaimed);
	tcase_add_test(tc, test_sigkill_open);
	tcase_add_test(tc, test_rundown_log);
	tcase_add_test(tc, test_confined_fence);
	return tc;
}
