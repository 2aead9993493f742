/*
 * check_crash.c: rundownd killed with SIGKILL, and started again.
 *
 * check_daemon (daemon_restart.c) restarts the daemon with SIGTERM,
 * which closes its connections and removes its socket.  Here it dies at
 * an arbitrary point, as a crash or the OOM killer would end it:
 * mid-traffic, with waits pending, or (emulated) halfway through a
 * harvest or a re-initialize.  The socket and its lock file stay behind,
 * and the blocks stay in shared memory.  The tests check that:
 *   traffic  acquire and release keep working with no daemon; the next
 *            daemon takes the stale socket, re-adopts every block, keeps
 *            the rows of live processes (pids and counts), reclaims those
 *            of processes killed meanwhile, and its run-downs end exactly
 *            when the live holders release; control connections find it
 *            again on their own.
 *   waits    waits pending when the daemon dies: an attached descriptor's
 *            wait, and rundownctl wait, look for the next daemon by
 *            themselves and end when the holders release; a plain
 *            connection's wait fails with ECONNRESET, as documented, and
 *            a new one is answered by the next daemon; a run-down drains
 *            with no daemon at all.
 *   halfway  the next daemon finishes a harvest and a re-initialize that
 *            the killed one left half done.  SIGKILL cannot be aimed
 *            between two stores of the daemon, so the test kills it
 *            first and then takes the block, through the same block.c
 *            steps the daemon uses, to exactly the state it would have
 *            left there; client processes act on the block meanwhile as
 *            they may.
 *
 * Client processes are agents (testagent.c): forked children attached
 * to blocks, driven through pipes, answering every command.
 * The tests synchronise on what they can observe: a pipe, a child's exit,
 * a status read back from the daemon, a line of the daemon's log (-v
 * logs every connection), counters in a MAP_SHARED area.  Polls pause
 * briefly (td_pause) under a deadline that is a safety net: passing it
 * fails the test with the daemon's log.  Children never call ck_assert.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

#define CR_DEADLINE_MS 20000	/* safety net of every poll and read */
#define CR_MAXHOLDERS 16
#define CR_MAXTAGS 4
#define CR_CLIENTS 5		/* traffic: 3 live, 2 killed */
#define CR_LIVE 3

#define SEQ __ATOMIC_SEQ_CST

/* -v: the daemon logs every connection, which shows a client finding
 * the next daemon by itself. */
static const char *const cr_args[] = { "-v", NULL };

/* Figures for the summary lines. */
static unsigned kills;

/* ---- the daemon -------------------------------------------------------- */

static void
cr_setup(void)
{
	/* A child that died must fail a write, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	kills = 0;
	td_setup(0700, cr_args);
}

/*
 * SIGKILL: no clean-up at all.  The socket file stays (stale: nothing
 * listens), the lock file stays (unlocked with the process), and a client
 * that connects is refused.
 */
static void
crash(void)
{
	char lock[PATH_MAX], *text;
	rundown_conn_t *c;
	pid_t r;
	int st = 0;

	rundown_disconnect(td.conn);
	td.conn = NULL;
	ck_assert_int_eq(kill(td.pid, SIGKILL), 0);
	do
		r = waitpid(td.pid, &st, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, td.pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "rundownd: status %#x, not killed:\n%s", st, td_log());
	td.pid = 0;
	kills++;
	/* A killed daemon never reports at exit: what a sanitizer found
	 * while it ran is in the log, or nowhere. */
	text = td_log_from(0);
	ck_assert_msg(strstr(text, "Sanitizer") == NULL &&
	    strstr(text, "runtime error") == NULL,
	    "a sanitizer reported in the killed daemon:\n%s", text);
	free(text);
	snprintf(lock, sizeof(lock), "%s.lock", td.sock);
	ck_assert_msg(test_exists(td.sock), "no stale socket after SIGKILL");
	ck_assert_msg(test_exists(lock), "no lock file after SIGKILL");
	ck_assert_int_eq(rundown_connect(td.sock, &c), -ECONNREFUSED);
}

/* Starts the next daemon on the stale socket; returns where its lines
 * begin in the log. */
static off_t
restart(void)
{
	off_t off = td_log_size();
	char *text;

	td_start(cr_args);
	td.conn = td_connect();
	text = td_log_from(off);
	ck_assert_msg(strstr(text, "removed stale socket") != NULL,
	    "the next daemon did not say it took the stale socket:\n%s", text);
	free(text);
	return off;
}

/* ---- pipes --------------------------------------------------------------- */

/* Reads exactly n bytes from fd under the deadline. */
static void
get(int fd, void *buf, size_t n, const char *what)
{
	td_read_all(fd, buf, n, what, NULL);
}

/* ---- the shared area ------------------------------------------------------ */

/* What the test and its control-traffic child share (MAP_SHARED, mapped
 * before the fork); every field is accessed atomically.  The agents keep
 * their own counters (struct agent_count). */
struct cr_area {
	uint64_t calls_ok;		/* control traffic answered */
	uint64_t calls_failed;		/* ... and not */
	uint32_t ctl_stop;
};

static struct cr_area *area;

static void
area_map(void)
{
	area = test_map_shared(sizeof(*area));
}

static void
area_unmap(void)
{
	munmap(area, sizeof(*area));
	area = NULL;
}

/* ---- other clients --------------------------------------------------------- */

/* Control traffic: list and status of every tag, over and over, on a
 * connection of its own, connecting again whenever it breaks. */
static void
ctl_traffic_main(const uint32_t *tags, unsigned ntags)
{
	struct rundown_block_info list[CR_MAXTAGS], info;
	struct rundown_holder h[CR_MAXHOLDERS];
	rundown_conn_t *c = NULL;
	struct timespec pause = { 0, 1000000 };
	unsigned i;
	size_t n;
	int r;

	while (!__atomic_load_n(&area->ctl_stop, SEQ)) {
		if (c == NULL && (r = rundown_connect(td.sock, &c)) != 0) {
			if (r != -ECONNREFUSED)
				_exit(20);
			__atomic_fetch_add(&area->calls_failed, 1, SEQ);
			/* No daemon: only keeps this loop from spinning. */
			nanosleep(&pause, NULL);
			continue;
		}
		r = rundown_ctl_list(c, list, CR_MAXTAGS, &n);
		for (i = 0; i < ntags && r == 0; i++)
			r = rundown_ctl_status(c, tags[i], &info, h,
			    CR_MAXHOLDERS, &n);
		if (r == 0) {
			__atomic_fetch_add(&area->calls_ok, 1, SEQ);
			continue;
		}
		if (r != -ECONNRESET && r != -EPIPE)
			_exit(21);
		__atomic_fetch_add(&area->calls_failed, 1, SEQ);
		rundown_disconnect(c);
		c = NULL;
	}
	rundown_disconnect(c);
	_exit(0);
}

/* A wait on a plain connection: its result, then (told through go) a
 * wait on a new connection, and its result. */
static pid_t
conn_waiter_start(uint32_t tag, int *res, int *go)
{
	int rp[2], gp[2];
	rundown_conn_t *c;
	int32_t r;
	char b;
	pid_t pid;

	ck_assert_int_eq(pipe2(rp, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(gp, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		close(rp[0]);
		close(gp[1]);
		r = rundown_connect(td.sock, &c);
		if (r == 0)
			r = rundown_ctl_wait(c, tag, NULL);
		test_put(rp[1], &r, sizeof(r));
		rundown_disconnect(c);
		if (read(gp[0], &b, 1) != 1)
			_exit(0);
		r = rundown_connect(td.sock, &c);
		if (r == 0)
			r = rundown_ctl_wait(c, tag, NULL);
		test_put(rp[1], &r, sizeof(r));
		rundown_disconnect(c);
		_exit(0);
	}
	close(rp[1]);
	close(gp[0]);
	*res = rp[0];
	*go = gp[1];
	return pid;
}

/* ---- traffic ------------------------------------------------------------- */

/* What live agent i holds on tag t when the daemon comes back. */
static unsigned
hold_of(unsigned i, unsigned t)
{
	return (i + 1) * (t + 2);
}

/* Polls until every agent in ag[0, n) has made `more` pairs past
 * since[]. */
static void
await_pairs(const struct agent *ag, const uint64_t *since, unsigned n,
    uint64_t more, const char *when)
{
	struct timespec start = td_now();
	unsigned i;

	for (i = 0; i < n; i++) {
		while (agent_pairs(&ag[i]) < since[i] + more) {
			ck_assert_msg(td_elapsed_ms(&start) < CR_DEADLINE_MS,
			    "agent %u made %" PRIu64 " of %" PRIu64 " pairs %s "
			    "in %d ms", i, agent_pairs(&ag[i]) - since[i],
			    more, when, CR_DEADLINE_MS);
			td_pause();
		}
	}
}

/* Polls until the control traffic counter passes v. */
static void
await_counter(uint64_t *counter, uint64_t v, const char *what)
{
	struct timespec start = td_now();

	while (__atomic_load_n(counter, SEQ) <= v) {
		ck_assert_msg(td_elapsed_ms(&start) < CR_DEADLINE_MS,
		    "%s: still %" PRIu64 " after %d ms:\n%s", what, v,
		    CR_DEADLINE_MS, td_log());
		td_pause();
	}
}

/*
 * Three blocks, five processes attached to all three acquiring and
 * releasing on them, and a sixth listing them, when the daemon is killed
 * at an arbitrary point.  While no daemon runs, the protection goes on,
 * one process is killed in the middle of it and another while it holds a
 * known count on each block.  The next daemon adopts everything: the
 * three live rows of each block with their exact counts, the two dead
 * ones reclaimed; run-downs then end exactly when the live processes
 * release.
 */
START_TEST(test_crash_traffic)
{
	static const char *const names[CR_CLIENTS] = { "agent 0", "agent 1",
	    "agent 2", "victim (holding)", "victim (hammering)" };
	const uint32_t tags[3] = { RUNDOWN_TAG('C', 't', 'r', '0'),
	    RUNDOWN_TAG('C', 't', 'r', '1'), RUNDOWN_TAG('C', 't', 'r', '2') };
	struct rundown_block_info list[CR_MAXTAGS], info;
	struct rundown_holder h[CR_MAXHOLDERS];
	struct agent ag[CR_CLIENTS];
	struct timespec zero = { 0, 0 };
	const struct rundown_holder *hp;
	uint64_t since[CR_CLIENTS], held, ok, failed;
	uint64_t got[3];
	unsigned i, t, extra, lo[3];
	size_t n;
	char *text;
	off_t off;
	pid_t ctl, waiter;
	int wres[2];
	int32_t r;

	area_map();
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (t = 0; t < 3; t++)
		ck_assert_int_eq(rundown_ctl_create(td.conn, tags[t], 0), 0);
	for (i = 0; i < CR_CLIENTS; i++) {
		agent_start(&ag[i], names[i], tags, 3, 0);
		agent_send(&ag[i], AG_HAMMER, 0, 0);
	}
	ctl = test_fork_flushed();
	if (ctl == 0)
		ctl_traffic_main(tags, 3);

	/* Everything under way, then the kill at an arbitrary point of it. */
	memset(since, 0, sizeof(since));
	await_pairs(ag, since, CR_CLIENTS, 50, "with the daemon");
	await_counter(&area->calls_ok, 20, "control calls answered");
	extra = (unsigned)rand() % 32;
	for (i = 0; i < extra; i++)
		td_status(tags[i % 3], &info, NULL, 0);
	crash();
	ok = __atomic_load_n(&area->calls_ok, SEQ);

	/* No daemon: protection goes on; control calls fail. */
	for (i = 0; i < CR_CLIENTS; i++)
		since[i] = agent_pairs(&ag[i]);
	await_pairs(ag, since, CR_CLIENTS, 200, "without a daemon");
	await_counter(&area->calls_failed,
	    __atomic_load_n(&area->calls_failed, SEQ),
	    "control calls refused without a daemon");
	agent_kill(&ag[4]);
	for (i = 0; i < 4; i++) {
		agent_stop(&ag[i]);
		r = agent_result(&ag[i]);
		ck_assert_msg(r == 0, "%s: %d acquires refused on open blocks",
		    ag[i].name, r);
		for (t = 0; t < 3; t++)
			agent_acquire(&ag[i], t, hold_of(i, t));
	}
	agent_kill(&ag[3]);

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "adopted, state open, 3 of 64 rows "
	    "attached") == 3, "not every block adopted with its 3 live rows:"
	    "\n%s", text);
	ck_assert_msg(td_count(text, "(gone)") == 6, "not 2 rows reclaimed as "
	    "gone in every block:\n%s", text);
	free(text);

	ck_assert_int_eq(rundown_ctl_list(td.conn, list, CR_MAXTAGS, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (t = 0; t < 3; t++) {
		n = td_status(tags[t], &info, h, CR_MAXHOLDERS);
		ck_assert_int_eq(info.state, RUNDOWN_OPEN);
		ck_assert_uint_eq(info.generation, 0);
		ck_assert_uint_eq(n, CR_LIVE);
		for (i = 0, held = 0; i < CR_LIVE; i++) {
			hp = td_holder_of(h, n, ag[i].pid);
			ck_assert_msg(hp != NULL, "tag %u: %s's row lost", t,
			    ag[i].name);
			ck_assert_uint_eq(hp->outstanding, hold_of(i, t));
			ck_assert_str_eq(hp->comm, AGENT_COMM);
			held += hold_of(i, t);
		}
		ck_assert_uint_eq(info.outstanding, held);
		ck_assert_uint_eq(info.reclaimed_rows, 2);
		/* The victim killed mid-pair held 0 or 1. */
		lo[t] = hold_of(3, t);
		ck_assert_msg(info.reclaimed == lo[t] ||
		    info.reclaimed == lo[t] + 1, "tag %u: reclaimed %" PRIu64
		    ", not %u or %u", t, info.reclaimed, lo[t], lo[t] + 1);
		got[t] = info.reclaimed;
		/* The list, taken before, says the same. */
		for (i = 0; i < 3 && list[i].tag != tags[t]; i++)
			;
		ck_assert_msg(i < 3, "tag %u missing from the list", t);
		ck_assert_uint_eq(list[i].attached, CR_LIVE);
		ck_assert_uint_eq(list[i].outstanding, held);
		ck_assert_uint_eq(list[i].reclaimed_rows, 2);
	}

	/* The control traffic found the new daemon by itself. */
	await_counter(&area->calls_ok, __atomic_load_n(&area->calls_ok, SEQ),
	    "control calls answered by the next daemon");
	failed = __atomic_load_n(&area->calls_failed, SEQ);
	__atomic_store_n(&area->ctl_stop, 1, SEQ);
	test_reap_named(ctl, "control traffic");

	/* Run-downs: one waited for by another process, two started here;
	 * none ends before the last live holder releases. */
	ck_assert_int_eq(pipe2(wres, O_CLOEXEC), 0);
	waiter = test_fork_flushed();
	if (waiter == 0) {
		rundown_conn_t *c;

		close(wres[0]);
		r = rundown_connect(td.sock, &c);
		if (r == 0)
			r = rundown_ctl_wait(c, tags[0], NULL);
		test_put(wres[1], &r, sizeof(r));
		_exit(0);
	}
	close(wres[1]);
	td_await_block(tags[0], RUNDOWN_RUNNING_DOWN, -1, 0);
	for (t = 1; t < 3; t++)
		ck_assert_int_eq(rundown_ctl_wait(td.conn, tags[t], &zero),
		    -ETIMEDOUT);
	for (i = 0; i < CR_LIVE; i++) {
		for (t = 0; t < 3; t++) {
			td_status(tags[t], &info, NULL, 0);
			ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
			for (held = 0, n = i; n < CR_LIVE; n++)
				held += hold_of((unsigned)n, t);
			ck_assert_uint_eq(info.outstanding, held);
			if (t > 0)
				ck_assert_int_eq(rundown_ctl_wait(td.conn,
				    tags[t], &zero), -ETIMEDOUT);
		}
		ck_assert_msg(!td_readable(wres[0]), "the wait ended with %s "
		    "still holding", ag[i].name);
		for (t = 0; t < 3; t++)
			agent_release(&ag[i], t, hold_of(i, t));
	}
	get(wres[0], &r, sizeof(r), "the waiter");
	ck_assert_msg(r == 0, "wait: %s", rundown_strerror(r));
	test_reap_named(waiter, "the waiter");
	close(wres[0]);
	for (t = 0; t < 3; t++) {
		ck_assert_int_eq(rundown_ctl_wait(td.conn, tags[t], NULL), 0);
		td_status(tags[t], &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
		ck_assert_uint_eq(info.outstanding, 0);
	}

	/* The live rows go back through the new daemon. */
	for (i = 0; i < CR_LIVE; i++)
		agent_quit(&ag[i]);
	for (t = 0; t < 3; t++) {
		td_status(tags[t], &info, NULL, 0);
		ck_assert_uint_eq(info.attached, 0);
	}
	printf("crash traffic: %u daemon kill(s) after %u extra status "
	    "calls; %u blocks adopted, %u live rows kept and %u reclaimed per "
	    "block (protections reclaimed %" PRIu64 "/%" PRIu64 "/%" PRIu64
	    "); control calls %" PRIu64 " answered before the kill, %" PRIu64
	    " refused or cut\n", kills, extra, 3, CR_LIVE, 2, got[0], got[1],
	    got[2], ok, failed);
	area_unmap();
}
END_TEST

/* ---- pending waits ------------------------------------------------------- */

/*
 * Four blocks running down, each held by one process, each with a wait
 * pending when the daemon dies: an attached descriptor's wait (1), one
 * with a timeout (2), a plain connection's (3) and rundownctl wait (4).
 * Each wait is the one that started its run-down, so the block's state
 * shows that the daemon had it.  Block 2 drains while no daemon runs.
 */
START_TEST(test_crash_pending_wait)
{
	const uint32_t tags[4] = { RUNDOWN_TAG('C', 'w', 't', '1'),
	    RUNDOWN_TAG('C', 'w', 't', '2'), RUNDOWN_TAG('C', 'w', 't', '3'),
	    RUNDOWN_TAG('C', 'w', 't', '4') };
	struct rundown_holder h[CR_MAXHOLDERS];
	struct rundown_block_info info;
	struct agent hold, w1, w2;
	char key[64], *text;
	off_t off;
	pid_t cw, rc, rc2;
	int cres, cgo, st;
	unsigned t;
	size_t n;
	int32_t r;

	for (t = 0; t < 4; t++)
		ck_assert_int_eq(rundown_ctl_create(td.conn, tags[t], 0), 0);
	agent_start(&hold, "holder", tags, 4, 0);
	for (t = 0; t < 4; t++)
		agent_acquire(&hold, t, 2);
	agent_start(&w1, "waiter 1", &tags[0], 1, 0);
	agent_start(&w2, "waiter 2", &tags[1], 1, 0);

	agent_send(&w1, AG_WAIT, 0, 0);
	td_await_block(tags[0], RUNDOWN_RUNNING_DOWN, -1, 0);
	agent_send(&w2, AG_WAIT_T, 0, CR_DEADLINE_MS / 1000);
	td_await_block(tags[1], RUNDOWN_RUNNING_DOWN, -1, 0);
	cw = conn_waiter_start(tags[2], &cres, &cgo);
	td_await_block(tags[2], RUNDOWN_RUNNING_DOWN, -1, 0);
	rc = td_ctl_start(td.sock, "wait", ARGS("wait", "Cwt4"));
	td_await_block(tags[3], RUNDOWN_RUNNING_DOWN, -1, 0);

	crash();

	/* A plain connection's wait reports the loss. */
	get(cres, &r, sizeof(r), "the connection's waiter");
	ck_assert_msg(r == -ECONNRESET, "a wait cut by SIGKILL: %s, not %s",
	    rundown_strerror(r), rundown_strerror(-ECONNRESET));
	/* The descriptors' waits, and rundownctl's, look for the next
	 * daemon. */
	ck_assert_msg(!td_readable(w1.res) && !td_readable(w2.res),
	    "a descriptor's wait returned when the daemon died");
	ck_assert_msg(waitpid(rc, &st, WNOHANG) == 0, "rundownctl wait ended "
	    "when the daemon died (status %#x): %s", st,
	    td_ctl_output("wait", "err"));
	/* A run-down needs no daemon to drain (the rows drain in shared
	 * memory), but only the daemon sees every row: without it a
	 * descriptor's query cannot say, and fails. */
	agent_release(&hold, 1, 2);
	ck_assert_int_eq(agent_do(&hold, AG_STATE, 1, 0), -ECONNREFUSED);

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "adopted, state running-down") == 3 &&
	    td_count(text, "adopted, state drained") == 1,
	    "not adopted as they were:\n%s", text);
	free(text);
	/* The waits connect to the new daemon on their own; the one whose
	 * block drained meanwhile is answered at once. */
	snprintf(key, sizeof(key), "pid %ld uid", (long)w1.pid);
	td_await_log(off, key, 1);
	snprintf(key, sizeof(key), "pid %ld uid", (long)w2.pid);
	td_await_log(off, key, 1);
	snprintf(key, sizeof(key), "pid %ld uid", (long)rc);
	td_await_log(off, key, 1);
	r = agent_result(&w2);
	ck_assert_msg(r == 0, "waiter 2: %s", rundown_strerror(r));

	n = td_status(tags[0], &info, h, CR_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 2);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_nonnull(td_holder_of(h, n, hold.pid));
	ck_assert_ptr_nonnull(td_holder_of(h, n, w1.pid));
	ck_assert_uint_eq(td_holder_of(h, n, hold.pid)->outstanding, 2);

	/* New waits on the new daemon, from the same clients. */
	ck_assert_int_eq(write(cgo, "g", 1), 1);
	rc2 = td_ctl_start(td.sock, "wait2", ARGS("wait", "Cwt4"));

	agent_release(&hold, 0, 1);
	td_status(tags[0], &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 1);
	ck_assert_msg(!td_readable(w1.res), "waiter 1 returned with 1 held");
	agent_release(&hold, 0, 1);
	r = agent_result(&w1);
	ck_assert_msg(r == 0, "waiter 1: %s", rundown_strerror(r));
	agent_release(&hold, 2, 2);
	get(cres, &r, sizeof(r), "the connection's second wait");
	ck_assert_msg(r == 0, "a wait on the next daemon: %s",
	    rundown_strerror(r));
	test_reap_named(cw, "the connection's waiter");
	ck_assert_msg(waitpid(rc, &st, WNOHANG) == 0, "rundownctl wait ended "
	    "with 2 held (status %#x): %s", st, td_ctl_output("wait", "err"));
	agent_release(&hold, 3, 2);
	st = td_ctl_finish(rc, "wait");
	ck_assert_msg(st == 0, "rundownctl wait across the crash: status %d; "
	    "%s", st, td_ctl_output("wait", "err"));
	st = td_ctl_finish(rc2, "wait2");
	ck_assert_msg(st == 0, "rundownctl wait on the next daemon: status %d;"
	    " %s", st, td_ctl_output("wait2", "err"));
	for (t = 0; t < 4; t++) {
		td_status(tags[t], &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	}

	/* Completed and re-initialize through the new daemon. */
	ck_assert_int_eq(agent_do(&w1, AG_COMPLETED, 0, 0), 0);
	td_status(tags[0], &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_COMPLETED);
	ck_assert_int_eq(agent_do(&w1, AG_REINIT, 0, 0), 0);
	ck_assert_int_eq(agent_do(&w2, AG_REINIT, 0, 0), 0);
	for (t = 0; t < 2; t++) {
		td_status(tags[t], &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_OPEN);
		ck_assert_uint_eq(info.generation, 1);
		agent_acquire(&hold, t, 1);
		agent_release(&hold, t, 1);
	}
	agent_quit(&w1);
	agent_quit(&w2);
	agent_quit(&hold);
	close(cres);
	close(cgo);
	printf("crash pending waits: %u daemon kill(s); 4 waits pending "
	    "(descriptor, descriptor timed, connection, rundownctl): the "
	    "descriptors' and rundownctl's waits reconnected and ended 0, the "
	    "connection's reported ECONNRESET and a new wait ended 0; 1 block "
	    "drained with no daemon\n", kills);
}
END_TEST

/* ---- halfway ------------------------------------------------------------- */

/* The row of pid among the holders. */
static uint32_t
row_of(const struct rundown_holder *h, size_t n, pid_t pid)
{
	const struct rundown_holder *hp = td_holder_of(h, n, pid);

	ck_assert_msg(hp != NULL, "pid %d holds no row", (int)pid);
	return hp->row;
}

/*
 * A daemon killed in the middle of block_start()'s harvest, then in the
 * middle of block_reset(): the test takes the block to each of those
 * points after the kill.  Meanwhile the processes do what they may: on
 * the atomic path, an acquire on a slot not yet switched succeeds and must
 * be waited for, an acquire on a slot already reset succeeds and must
 * survive; on the rseq path both are refused, since the state word no
 * longer reads open.
 */
START_TEST(test_crash_halfway)
{
	const uint32_t tag = RUNDOWN_TAG('C', 'h', 'l', 'f');
	struct rundown_holder h[CR_MAXHOLDERS];
	struct rundown_block_info info;
	struct rundown_block *b;
	struct td_view v;
	struct agent a[3];
	uint32_t row[3], s, cpu;
	size_t n;
	char *text;
	off_t off;
	pid_t waiter;
	int wres[2];
	int32_t r;
	unsigned i, g;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	for (i = 0; i < 3; i++) {
		static const char *const names[3] = { "agent 0", "agent 1",
		    "agent 2" };

		agent_start(&a[i], names[i], &tag, 1, 0);
		agent_acquire(&a[i], 0, i + 1);
	}
	n = td_status(tag, &info, h, CR_MAXHOLDERS);
	for (i = 0; i < 3; i++)
		row[i] = row_of(h, n, a[i].pid);

	/* Killed in block_start(): row 0 harvested, row 1 switched on its
	 * first CPU only, row 2 untouched. */
	crash();
	td_view_map(tag, &v);
	b = v.b;
	ck_assert_int_eq(block_flip(b, &s), 0);
	block_harvest_row(b, &v.l, row[0]);
	block_switch(b, &v.l, row[1], 0);
	ck_assert_int_eq(agent_do(&a[0], AG_ACQUIRE, 0, 1), 0);
	/* Not switched yet: granted on the atomic path (g = 1). */
	g = test_rseq_path(b->flags) ? 0 : 1;
	ck_assert_int_eq(agent_do(&a[2], AG_ACQUIRE, 0, 1), (int)g);
	agent_kill(&a[1]);		/* dies holding 2 */

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(strstr(text, "adopted, state running-down, 2 of 64 rows "
	    "attached") != NULL, "the half-done run-down was not adopted with "
	    "2 rows:\n%s", text);
	free(text);
	n = td_status(tag, &info, h, CR_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(info.outstanding, 1 + 3 + g);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 2);
	ck_assert_uint_eq(td_holder_of(h, n, a[0].pid)->outstanding, 1);
	ck_assert_uint_eq(td_holder_of(h, n, a[2].pid)->outstanding, 3 + g);
	/* The harvest is finished: no acquire is granted any more. */
	ck_assert_int_eq(agent_do(&a[2], AG_ACQUIRE, 0, 1), 0);

	ck_assert_int_eq(pipe2(wres, O_CLOEXEC), 0);
	waiter = test_fork_flushed();
	if (waiter == 0) {
		rundown_conn_t *c;

		close(wres[0]);
		r = rundown_connect(td.sock, &c);
		if (r == 0)
			r = rundown_ctl_wait(c, tag, NULL);
		test_put(wres[1], &r, sizeof(r));
		_exit(0);
	}
	close(wres[1]);
	agent_release(&a[0], 0, 1);
	agent_release(&a[2], 0, 2);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 1 + g);
	ck_assert_msg(!td_readable(wres[0]), "the wait ended with %u held",
	    1 + g);
	agent_release(&a[2], 0, 1 + g);
	get(wres[0], &r, sizeof(r), "the waiter");
	ck_assert_msg(r == 0, "wait: %s", rundown_strerror(r));
	test_reap_named(waiter, "the waiter");
	close(wres[0]);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);

	/* Killed in block_reset(): HARVESTED cleared and the slots reset on
	 * agent 0's row only.  Agent 0 may acquire there already. */
	crash();
	s = __atomic_load_n(&b->state, SEQ);
	ck_assert_uint_eq(s & ST_MASK, ST_DRAINED);
	ck_assert(__atomic_compare_exchange_n(&b->state, &s,
	    (s & ~ST_MASK) | ST_RESETTING, false, SEQ, SEQ));
	__atomic_fetch_and(block_row(b, &v.l, row[0]), ~ROW_FLAGS, SEQ);
	for (cpu = 0; cpu < b->cpus; cpu++) {
		__atomic_store_n(block_slot(b, row[0], cpu), 0, SEQ);
		__atomic_store_n(block_slot(b, row[0], cpu) + SLOT_PC, 0, SEQ);
	}
	/* Reset already: granted on the atomic path (g = 1). */
	ck_assert_int_eq(agent_do(&a[0], AG_ACQUIRE, 0, 1), (int)g);
	ck_assert_int_eq(agent_do(&a[2], AG_ACQUIRE, 0, 1), 0);

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(strstr(text, "adopted, state open, 2 of 64 rows "
	    "attached") != NULL, "the half-done re-initialize was not "
	    "finished:\n%s", text);
	free(text);
	n = td_status(tag, &info, h, CR_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_msg(td_holder_of(h, n, a[0].pid)->outstanding == g &&
	    info.outstanding == g, "the protection granted on a slot already "
	    "reset was lost: agent 0 holds %" PRIu64 ", the block %" PRIu64,
	    td_holder_of(h, n, a[0].pid)->outstanding, info.outstanding);
	agent_acquire(&a[2], 0, 2);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, g + 2);

	/* And a run-down of the new generation drains exactly. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &(struct timespec){
	    0, 0 }), -ETIMEDOUT);
	if (g)
		agent_release(&a[0], 0, 1);
	agent_release(&a[2], 0, 1);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_release(&a[2], 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	td_view_unmap(&v);
	agent_quit(&a[0]);
	agent_quit(&a[2]);
	printf("crash halfway: %u daemon kills; a harvest left after 1 of 3 "
	    "rows and a re-initialize after 1 of 2 rows were finished by the "
	    "next daemon; %s, 1 dead row reclaimed (held 2)\n", kills,
	    g ? "1 row kept holding 1 across the reset" :
	    "acquires refused while half done (rseq path)");
}
END_TEST

/*
 * A wait whose daemon died, sent again to the next daemon after the block
 * was re-initialized there, awaits the run-down it asked for, which is
 * over: it returns 0 and starts no second run-down (the block stays open).
 * The waiter is stopped while the daemon dies, the holder releases, the
 * next daemon adopts the drained block and re-initializes it; only then
 * does the waiter go on and reconnect.
 */
START_TEST(test_crash_wait_after_reinit)
{
	const uint32_t tag = RUNDOWN_TAG('C', 'w', 'r', 'i');
	struct rundown_block_info info;
	struct agent hold, w;
	int32_t r;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&hold, "holder", &tag, 1, 0);
	agent_acquire(&hold, 0, 1);
	agent_start(&w, "waiter", &tag, 1, 0);
	agent_send(&w, AG_WAIT, 0, 0);
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, -1, 0);
	ck_assert_int_eq(kill(w.pid, SIGSTOP), 0);
	crash();
	agent_release(&hold, 0, 1);
	restart();
	info = td_await_block(tag, RUNDOWN_DRAINED, -1, 0);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), 0);
	ck_assert_int_eq(kill(w.pid, SIGCONT), 0);
	r = agent_result(&w);
	ck_assert_msg(r == 0, "the wait sent again: %s", rundown_strerror(r));
	td_status(tag, &info, NULL, 0);
	ck_assert_msg(info.state == RUNDOWN_OPEN && info.generation == 1,
	    "the wait sent again started a run-down: state %d, generation "
	    "%u", (int)info.state, info.generation);
	agent_quit(&w);
	agent_quit(&hold);
}
END_TEST

static Suite *
crash_suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc;

	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, cr_setup, td_teardown);
	test_timeout(tc, 60);
	tcase_add_test(tc, test_crash_traffic);
	tcase_add_test(tc, test_crash_pending_wait);
	tcase_add_test(tc, test_crash_halfway);
	tcase_add_test(tc, test_crash_wait_after_reinit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return td_main("rundown-crash", 0700, CR_DEADLINE_MS, crash_suite);
}
