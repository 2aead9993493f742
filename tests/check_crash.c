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

/* A wait on a connection of its own for tag's run-down; the result comes
 * through the pipe whose read end is left in *res. */
static pid_t
ctl_waiter_start(uint32_t tag, int *res)
{
	int wres[2];
	pid_t pid;
	int32_t r;

	ck_assert_int_eq(pipe2(wres, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		rundown_conn_t *c;

		close(wres[0]);
		r = rundown_connect(td.sock, &c);
		if (r == 0)
			r = rundown_ctl_wait(c, tag, NULL);
		test_put(wres[1], &r, sizeof(r));
		_exit(0);
	}
	close(wres[1]);
	*res = wres[0];
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

/* What the phases of test_crash_traffic share. */
struct cr_traffic {
	uint32_t tags[3];
	struct agent ag[CR_CLIENTS];
	struct rundown_block_info list[CR_MAXTAGS];
	pid_t ctl;
	unsigned extra;		/* status calls before the kill */
	uint64_t ok, failed;	/* control calls, for the summary */
	uint64_t got[3];	/* reclaimed per block */
};

/* Creates the blocks; starts the five agents hammering all three and
 * the control traffic listing them. */
static void
traffic_start(struct cr_traffic *ct)
{
	static const char *const names[CR_CLIENTS] = { "agent 0", "agent 1",
	    "agent 2", "victim (holding)", "victim (hammering)" };
	unsigned i, t;

	area_map();
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (t = 0; t < 3; t++)
		ck_assert_int_eq(rundown_ctl_create(td.conn, ct->tags[t], 0),
		    0);
	for (i = 0; i < CR_CLIENTS; i++) {
		agent_start(&ct->ag[i], names[i], ct->tags, 3, 0);
		agent_send(&ct->ag[i], AG_HAMMER, 0, 0);
	}
	ct->ctl = test_fork_flushed();
	if (ct->ctl == 0)
		ctl_traffic_main(ct->tags, 3);
}

/* Everything under way, then the kill at an arbitrary point of it. */
static void
traffic_crash(struct cr_traffic *ct)
{
	struct rundown_block_info info;
	uint64_t since[CR_CLIENTS];
	unsigned i;

	memset(since, 0, sizeof(since));
	await_pairs(ct->ag, since, CR_CLIENTS, 50, "with the daemon");
	await_counter(&area->calls_ok, 20, "control calls answered");
	ct->extra = (unsigned)rand() % 32;
	for (i = 0; i < ct->extra; i++)
		td_status(ct->tags[i % 3], &info, NULL, 0);
	crash();
	ct->ok = __atomic_load_n(&area->calls_ok, SEQ);
}

/* No daemon: protection goes on; control calls fail.  One victim is
 * killed hammering, the live agents stop and hold known counts, and the
 * other victim is killed holding. */
static void
traffic_without_daemon(struct cr_traffic *ct)
{
	struct agent *ag = ct->ag;
	uint64_t since[CR_CLIENTS];
	unsigned i, t;
	int32_t r;

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
}

/* Block t as the next daemon adopted it: the live rows with their exact
 * counts, the two dead ones reclaimed, and the list saying the same. */
static void
traffic_check_block(struct cr_traffic *ct, unsigned t)
{
	struct rundown_holder h[CR_MAXHOLDERS];
	struct rundown_block_info info;
	const struct rundown_holder *hp;
	uint64_t held;
	unsigned i, lo;
	size_t n;

	n = td_status(ct->tags[t], &info, h, CR_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(n, CR_LIVE);
	for (i = 0, held = 0; i < CR_LIVE; i++) {
		hp = td_holder_of(h, n, ct->ag[i].pid);
		ck_assert_msg(hp != NULL, "tag %u: %s's row lost", t,
		    ct->ag[i].name);
		ck_assert_uint_eq(hp->outstanding, hold_of(i, t));
		ck_assert_str_eq(hp->comm, AGENT_COMM);
		held += hold_of(i, t);
	}
	ck_assert_uint_eq(info.outstanding, held);
	ck_assert_uint_eq(info.reclaimed_rows, 2);
	/* The victim killed mid-pair held 0 or 1. */
	lo = hold_of(3, t);
	ck_assert_msg(info.reclaimed == lo ||
	    info.reclaimed == lo + 1, "tag %u: reclaimed %" PRIu64
	    ", not %u or %u", t, info.reclaimed, lo, lo + 1);
	ct->got[t] = info.reclaimed;
	/* The list, taken before, says the same. */
	for (i = 0; i < 3 && ct->list[i].tag != ct->tags[t]; i++)
		;
	ck_assert_msg(i < 3, "tag %u missing from the list", t);
	ck_assert_uint_eq(ct->list[i].attached, CR_LIVE);
	ck_assert_uint_eq(ct->list[i].outstanding, held);
	ck_assert_uint_eq(ct->list[i].reclaimed_rows, 2);
}

/* The next daemon takes the stale socket and adopts every block; the
 * control traffic finds it by itself. */
static void
traffic_restart(struct cr_traffic *ct)
{
	unsigned t;
	size_t n;
	char *text;
	off_t off;

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "adopted, state open, 3 of 64 rows "
	    "attached") == 3, "not every block adopted with its 3 live rows:"
	    "\n%s", text);
	ck_assert_msg(td_count(text, "(gone)") == 6, "not 2 rows reclaimed as "
	    "gone in every block:\n%s", text);
	free(text);

	ck_assert_int_eq(rundown_ctl_list(td.conn, ct->list, CR_MAXTAGS, &n),
	    0);
	ck_assert_uint_eq(n, 3);
	for (t = 0; t < 3; t++)
		traffic_check_block(ct, t);

	/* The control traffic found the new daemon by itself. */
	await_counter(&area->calls_ok, __atomic_load_n(&area->calls_ok, SEQ),
	    "control calls answered by the next daemon");
	ct->failed = __atomic_load_n(&area->calls_failed, SEQ);
	__atomic_store_n(&area->ctl_stop, 1, SEQ);
	test_reap_named(ct->ctl, "control traffic");
}

/* Run-downs: one waited for by another process, two started here;
 * none ends before the last live holder releases. */
static void
traffic_rundowns(struct cr_traffic *ct)
{
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	uint64_t held;
	unsigned i, t;
	size_t n;
	pid_t waiter;
	int wres;
	int32_t r;

	waiter = ctl_waiter_start(ct->tags[0], &wres);
	td_await_block(ct->tags[0], RUNDOWN_RUNNING_DOWN, -1, 0);
	for (t = 1; t < 3; t++)
		ck_assert_int_eq(rundown_ctl_wait(td.conn, ct->tags[t], &zero),
		    -ETIMEDOUT);
	for (i = 0; i < CR_LIVE; i++) {
		for (t = 0; t < 3; t++) {
			td_status(ct->tags[t], &info, NULL, 0);
			ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
			for (held = 0, n = i; n < CR_LIVE; n++)
				held += hold_of((unsigned)n, t);
			ck_assert_uint_eq(info.outstanding, held);
			if (t > 0)
				ck_assert_int_eq(rundown_ctl_wait(td.conn,
				    ct->tags[t], &zero), -ETIMEDOUT);
		}
		ck_assert_msg(!td_readable(wres), "the wait ended with %s "
		    "still holding", ct->ag[i].name);
		for (t = 0; t < 3; t++)
			agent_release(&ct->ag[i], t, hold_of(i, t));
	}
	get(wres, &r, sizeof(r), "the waiter");
	ck_assert_msg(r == 0, "wait: %s", rundown_strerror(r));
	test_reap_named(waiter, "the waiter");
	close(wres);
	for (t = 0; t < 3; t++) {
		ck_assert_int_eq(rundown_ctl_wait(td.conn, ct->tags[t], NULL),
		    0);
		td_status(ct->tags[t], &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
		ck_assert_uint_eq(info.outstanding, 0);
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
	struct cr_traffic ct = { .tags = { RUNDOWN_TAG('C', 't', 'r', '0'),
	    RUNDOWN_TAG('C', 't', 'r', '1'),
	    RUNDOWN_TAG('C', 't', 'r', '2') } };
	struct rundown_block_info info;
	unsigned i, t;

	traffic_start(&ct);
	traffic_crash(&ct);
	traffic_without_daemon(&ct);
	traffic_restart(&ct);
	traffic_rundowns(&ct);

	/* The live rows go back through the new daemon. */
	for (i = 0; i < CR_LIVE; i++)
		agent_quit(&ct.ag[i]);
	for (t = 0; t < 3; t++) {
		td_status(ct.tags[t], &info, NULL, 0);
		ck_assert_uint_eq(info.attached, 0);
	}
	printf("crash traffic: %u daemon kill(s) after %u extra status "
	    "calls; %u blocks adopted, %u live rows kept and %u reclaimed per "
	    "block (protections reclaimed %" PRIu64 "/%" PRIu64 "/%" PRIu64
	    "); control calls %" PRIu64 " answered before the kill, %" PRIu64
	    " refused or cut\n", kills, ct.extra, 3, CR_LIVE, 2, ct.got[0],
	    ct.got[1], ct.got[2], ct.ok, ct.failed);
	area_unmap();
}
END_TEST

/* ---- pending waits ------------------------------------------------------- */

/* What the phases of test_crash_pending_wait share. */
struct cr_waits {
	uint32_t tags[4];
	struct agent hold, w1, w2;
	pid_t cw, rc, rc2;	/* the connection's waiter, rundownctls */
	int cres, cgo;		/* the connection waiter's pipes */
};

/* Four blocks, each held by one process, and a wait that starts each
 * one's run-down. */
static void
waits_start(struct cr_waits *cw)
{
	unsigned t;

	for (t = 0; t < 4; t++)
		ck_assert_int_eq(rundown_ctl_create(td.conn, cw->tags[t], 0),
		    0);
	agent_start(&cw->hold, "holder", cw->tags, 4, 0);
	for (t = 0; t < 4; t++)
		agent_acquire(&cw->hold, t, 2);
	agent_start(&cw->w1, "waiter 1", &cw->tags[0], 1, 0);
	agent_start(&cw->w2, "waiter 2", &cw->tags[1], 1, 0);

	agent_send(&cw->w1, AG_WAIT, 0, 0);
	td_await_block(cw->tags[0], RUNDOWN_RUNNING_DOWN, -1, 0);
	agent_send(&cw->w2, AG_WAIT_T, 0, CR_DEADLINE_MS / 1000);
	td_await_block(cw->tags[1], RUNDOWN_RUNNING_DOWN, -1, 0);
	cw->cw = conn_waiter_start(cw->tags[2], &cw->cres, &cw->cgo);
	td_await_block(cw->tags[2], RUNDOWN_RUNNING_DOWN, -1, 0);
	cw->rc = td_ctl_start(td.sock, "wait", ARGS("wait", "Cwt4"));
	td_await_block(cw->tags[3], RUNDOWN_RUNNING_DOWN, -1, 0);
}

/* The kill, and what each pending wait does with no daemon. */
static void
waits_crash(struct cr_waits *cw)
{
	int32_t r;
	int st;

	crash();

	/* A plain connection's wait reports the loss. */
	get(cw->cres, &r, sizeof(r), "the connection's waiter");
	ck_assert_msg(r == -ECONNRESET, "a wait cut by SIGKILL: %s, not %s",
	    rundown_strerror(r), rundown_strerror(-ECONNRESET));
	/* The descriptors' waits, and rundownctl's, look for the next
	 * daemon. */
	ck_assert_msg(!td_readable(cw->w1.res) && !td_readable(cw->w2.res),
	    "a descriptor's wait returned when the daemon died");
	ck_assert_msg(waitpid(cw->rc, &st, WNOHANG) == 0, "rundownctl wait "
	    "ended when the daemon died (status %#x): %s", st,
	    td_ctl_output("wait", "err"));
	/* A run-down needs no daemon to drain (the rows drain in shared
	 * memory), but only the daemon sees every row: without it a
	 * descriptor's query cannot say, and fails. */
	agent_release(&cw->hold, 1, 2);
	ck_assert_int_eq(agent_do(&cw->hold, AG_STATE, 1, 0), -ECONNREFUSED);
}

/* The next daemon adopts the blocks as they were, and the waits find it
 * on their own. */
static void
waits_restart(struct cr_waits *cw)
{
	struct rundown_holder h[CR_MAXHOLDERS];
	struct rundown_block_info info;
	char key[64], *text;
	off_t off;
	size_t n;
	int32_t r;

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "adopted, state running-down") == 3 &&
	    td_count(text, "adopted, state drained") == 1,
	    "not adopted as they were:\n%s", text);
	free(text);
	/* The waits connect to the new daemon on their own; the one whose
	 * block drained meanwhile is answered at once. */
	snprintf(key, sizeof(key), "pid %ld uid", (long)cw->w1.pid);
	td_await_log(off, key, 1);
	snprintf(key, sizeof(key), "pid %ld uid", (long)cw->w2.pid);
	td_await_log(off, key, 1);
	snprintf(key, sizeof(key), "pid %ld uid", (long)cw->rc);
	td_await_log(off, key, 1);
	r = agent_result(&cw->w2);
	ck_assert_msg(r == 0, "waiter 2: %s", rundown_strerror(r));

	n = td_status(cw->tags[0], &info, h, CR_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 2);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_nonnull(td_holder_of(h, n, cw->hold.pid));
	ck_assert_ptr_nonnull(td_holder_of(h, n, cw->w1.pid));
	ck_assert_uint_eq(td_holder_of(h, n, cw->hold.pid)->outstanding, 2);
}

/* New waits on the new daemon, from the same clients; every wait, old
 * and new, ends when its holder releases, and no sooner. */
static void
waits_drain(struct cr_waits *cw)
{
	struct rundown_block_info info;
	unsigned t;
	int32_t r;
	int st;

	ck_assert_int_eq(write(cw->cgo, "g", 1), 1);
	cw->rc2 = td_ctl_start(td.sock, "wait2", ARGS("wait", "Cwt4"));

	agent_release(&cw->hold, 0, 1);
	td_status(cw->tags[0], &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 1);
	ck_assert_msg(!td_readable(cw->w1.res),
	    "waiter 1 returned with 1 held");
	agent_release(&cw->hold, 0, 1);
	r = agent_result(&cw->w1);
	ck_assert_msg(r == 0, "waiter 1: %s", rundown_strerror(r));
	agent_release(&cw->hold, 2, 2);
	get(cw->cres, &r, sizeof(r), "the connection's second wait");
	ck_assert_msg(r == 0, "a wait on the next daemon: %s",
	    rundown_strerror(r));
	test_reap_named(cw->cw, "the connection's waiter");
	ck_assert_msg(waitpid(cw->rc, &st, WNOHANG) == 0, "rundownctl wait "
	    "ended with 2 held (status %#x): %s", st,
	    td_ctl_output("wait", "err"));
	agent_release(&cw->hold, 3, 2);
	st = td_ctl_finish(cw->rc, "wait");
	ck_assert_msg(st == 0, "rundownctl wait across the crash: status %d; "
	    "%s", st, td_ctl_output("wait", "err"));
	st = td_ctl_finish(cw->rc2, "wait2");
	ck_assert_msg(st == 0, "rundownctl wait on the next daemon: status %d;"
	    " %s", st, td_ctl_output("wait2", "err"));
	for (t = 0; t < 4; t++) {
		td_status(cw->tags[t], &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	}
}

/* Completed and re-initialize through the new daemon. */
static void
waits_reinit(struct cr_waits *cw)
{
	struct rundown_block_info info;
	unsigned t;

	ck_assert_int_eq(agent_do(&cw->w1, AG_COMPLETED, 0, 0), 0);
	td_status(cw->tags[0], &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_COMPLETED);
	ck_assert_int_eq(agent_do(&cw->w1, AG_REINIT, 0, 0), 0);
	ck_assert_int_eq(agent_do(&cw->w2, AG_REINIT, 0, 0), 0);
	for (t = 0; t < 2; t++) {
		td_status(cw->tags[t], &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_OPEN);
		ck_assert_uint_eq(info.generation, 1);
		agent_acquire(&cw->hold, t, 1);
		agent_release(&cw->hold, t, 1);
	}
}

/*
 * Four blocks running down, each held by one process, each with a wait
 * pending when the daemon dies: an attached descriptor's wait (1), one
 * with a timeout (2), a plain connection's (3) and rundownctl wait (4).
 * Each wait is the one that started its run-down, so the block's state
 * shows that the daemon had it.  Block 2 drains while no daemon runs.
 */
START_TEST(test_crash_pending_wait)
{
	struct cr_waits cw = { .tags = { RUNDOWN_TAG('C', 'w', 't', '1'),
	    RUNDOWN_TAG('C', 'w', 't', '2'), RUNDOWN_TAG('C', 'w', 't', '3'),
	    RUNDOWN_TAG('C', 'w', 't', '4') } };

	waits_start(&cw);
	waits_crash(&cw);
	waits_restart(&cw);
	waits_drain(&cw);
	waits_reinit(&cw);
	agent_quit(&cw.w1);
	agent_quit(&cw.w2);
	agent_quit(&cw.hold);
	close(cw.cres);
	close(cw.cgo);
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

/* What the phases of test_crash_halfway share. */
struct cr_half {
	uint32_t tag;
	struct agent a[3];
	uint32_t row[3];
	struct td_view v;		/* the block, mapped here */
	struct rundown_block *b;
	unsigned g;			/* 1: the atomic path grants */
};

/* The block, and three agents holding 1, 2 and 3 on it. */
static void
half_start(struct cr_half *ch)
{
	static const char *const names[3] = { "agent 0", "agent 1",
	    "agent 2" };
	struct rundown_holder h[CR_MAXHOLDERS];
	struct rundown_block_info info;
	unsigned i;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, ch->tag, 0), 0);
	for (i = 0; i < 3; i++) {
		agent_start(&ch->a[i], names[i], &ch->tag, 1, 0);
		agent_acquire(&ch->a[i], 0, i + 1);
	}
	n = td_status(ch->tag, &info, h, CR_MAXHOLDERS);
	for (i = 0; i < 3; i++)
		ch->row[i] = row_of(h, n, ch->a[i].pid);
}

/* Killed in block_start(): row 0 harvested, row 1 switched on its
 * first CPU only, row 2 untouched. */
static void
half_kill_in_harvest(struct cr_half *ch)
{
	uint32_t s;

	crash();
	td_view_map(ch->tag, &ch->v);
	ch->b = ch->v.b;
	ck_assert_int_eq(block_flip(ch->b, &s), 0);
	block_harvest_row(ch->b, &ch->v.l, ch->row[0]);
	block_switch(ch->b, &ch->v.l, ch->row[1], 0);
	ck_assert_int_eq(agent_do(&ch->a[0], AG_ACQUIRE, 0, 1), 0);
	/* Not switched yet: granted on the atomic path (g = 1). */
	ch->g = test_rseq_path(ch->b->flags) ? 0 : 1;
	ck_assert_int_eq(agent_do(&ch->a[2], AG_ACQUIRE, 0, 1), (int)ch->g);
	agent_kill(&ch->a[1]);		/* dies holding 2 */
}

/* The next daemon adopts the half-done run-down and finishes the
 * harvest. */
static void
half_check_harvest(struct cr_half *ch)
{
	struct rundown_holder h[CR_MAXHOLDERS];
	struct rundown_block_info info;
	unsigned g = ch->g;
	size_t n;
	char *text;
	off_t off;

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(strstr(text, "adopted, state running-down, 2 of 64 rows "
	    "attached") != NULL, "the half-done run-down was not adopted with "
	    "2 rows:\n%s", text);
	free(text);
	n = td_status(ch->tag, &info, h, CR_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(info.outstanding, 1 + 3 + g);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 2);
	ck_assert_uint_eq(td_holder_of(h, n, ch->a[0].pid)->outstanding, 1);
	ck_assert_uint_eq(td_holder_of(h, n, ch->a[2].pid)->outstanding,
	    3 + g);
	/* The harvest is finished: no acquire is granted any more. */
	ck_assert_int_eq(agent_do(&ch->a[2], AG_ACQUIRE, 0, 1), 0);
}

/* A wait on the adopted run-down ends when the last holder releases,
 * and no sooner. */
static void
half_drain(struct cr_half *ch)
{
	struct rundown_block_info info;
	unsigned g = ch->g;
	pid_t waiter;
	int wres;
	int32_t r;

	waiter = ctl_waiter_start(ch->tag, &wres);
	agent_release(&ch->a[0], 0, 1);
	agent_release(&ch->a[2], 0, 2);
	td_status(ch->tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 1 + g);
	ck_assert_msg(!td_readable(wres), "the wait ended with %u held",
	    1 + g);
	agent_release(&ch->a[2], 0, 1 + g);
	get(wres, &r, sizeof(r), "the waiter");
	ck_assert_msg(r == 0, "wait: %s", rundown_strerror(r));
	test_reap_named(waiter, "the waiter");
	close(wres);
	td_status(ch->tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
}

/* Killed in block_reset(): HARVESTED cleared and the slots reset on
 * agent 0's row only.  Agent 0 may acquire there already. */
static void
half_kill_in_reset(struct cr_half *ch)
{
	struct rundown_block *b = ch->b;
	uint32_t s, cpu;

	crash();
	s = __atomic_load_n(&b->state, SEQ);
	ck_assert_uint_eq(s & ST_MASK, ST_DRAINED);
	ck_assert(__atomic_compare_exchange_n(&b->state, &s,
	    (s & ~ST_MASK) | ST_RESETTING, false, SEQ, SEQ));
	__atomic_fetch_and(block_row(b, &ch->v.l, ch->row[0]), ~ROW_FLAGS,
	    SEQ);
	for (cpu = 0; cpu < b->cpus; cpu++) {
		__atomic_store_n(block_slot(b, ch->row[0], cpu), 0, SEQ);
		__atomic_store_n(block_slot(b, ch->row[0], cpu) + SLOT_PC, 0,
		    SEQ);
	}
	/* Reset already: granted on the atomic path (g = 1). */
	ck_assert_int_eq(agent_do(&ch->a[0], AG_ACQUIRE, 0, 1), (int)ch->g);
	ck_assert_int_eq(agent_do(&ch->a[2], AG_ACQUIRE, 0, 1), 0);
}

/* The next daemon finishes the re-initialize, keeping the protection
 * granted on a slot already reset. */
static void
half_check_reset(struct cr_half *ch)
{
	struct rundown_holder h[CR_MAXHOLDERS];
	struct rundown_block_info info;
	unsigned g = ch->g;
	size_t n;
	char *text;
	off_t off;

	off = restart();
	text = td_log_from(off);
	ck_assert_msg(strstr(text, "adopted, state open, 2 of 64 rows "
	    "attached") != NULL, "the half-done re-initialize was not "
	    "finished:\n%s", text);
	free(text);
	n = td_status(ch->tag, &info, h, CR_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_msg(td_holder_of(h, n, ch->a[0].pid)->outstanding == g &&
	    info.outstanding == g, "the protection granted on a slot already "
	    "reset was lost: agent 0 holds %" PRIu64 ", the block %" PRIu64,
	    td_holder_of(h, n, ch->a[0].pid)->outstanding, info.outstanding);
	agent_acquire(&ch->a[2], 0, 2);
	td_status(ch->tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, g + 2);
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
	struct cr_half ch = { .tag = RUNDOWN_TAG('C', 'h', 'l', 'f') };
	struct rundown_block_info info;

	half_start(&ch);
	half_kill_in_harvest(&ch);
	half_check_harvest(&ch);
	half_drain(&ch);
	half_kill_in_reset(&ch);
	half_check_reset(&ch);

	/* And a run-down of the new generation drains exactly. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, ch.tag, &(struct timespec){
	    0, 0 }), -ETIMEDOUT);
	if (ch.g)
		agent_release(&ch.a[0], 0, 1);
	agent_release(&ch.a[2], 0, 1);
	td_status(ch.tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_release(&ch.a[2], 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, ch.tag, NULL), 0);
	td_view_unmap(&ch.v);
	agent_quit(&ch.a[0]);
	agent_quit(&ch.a[2]);
	printf("crash halfway: %u daemon kills; a harvest left after 1 of 3 "
	    "rows and a re-initialize after 1 of 2 rows were finished by the "
	    "next daemon; %s, 1 dead row reclaimed (held 2)\n", kills,
	    ch.g ? "1 row kept holding 1 across the reset" :
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
