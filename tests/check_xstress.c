/*
 * check_xstress.c: run-down across processes, through rundownd, under
 * stress.
 *
 * Each test starts its own rundownd in the foreground on a private socket
 * (as check_daemon.c does) and drives forked client processes against one
 * shared block:
 *   churn    P processes of T threads each acquire, count themselves
 *            "inside" in a MAP_SHARED area, work (sometimes yielding the
 *            CPU, so that threads migrate while they hold), count
 *            themselves out and release, over and over, while the test
 *            runs the block down through the daemon and re-initializes it,
 *            N times.  When a wait has returned nobody may be inside.
 *   waiters  the same, with W more processes waiting on each run-down
 *            through connections of their own, all while the test holds
 *            a protection (the gate) that keeps the block from draining.
 *   exits    holders that exit holding nothing and holders killed while
 *            holding: a wait ends once the daemon has reclaimed the
 *            rows, and its counts of what it reclaimed are exact.
 *   rows     a block of 4 rows, attached and detached many more times
 *            than it has rows: rows are given back and reused, and a
 *            full block refuses with -ENOSPC.
 *
 * The "inside" invariant and its orderings.  A worker increments its
 * counter (seq_cst) after rundown_cache_acquire() succeeded and decrements
 * it (seq_cst) before rundown_cache_release(); the release is a release
 * operation (on its slot, or seq_cst on the row when the slot has been
 * switched), and the drain the daemon reports comes after the last such
 * release (an acquiring CAS on every slot, then the state word).  So every
 * decrement happens before the wait returns, and a seq_cst load after it
 * must read 0.  The other direction is a Dekker pair: the test stores
 * `closed` and then loads the counters, a worker increments its counter
 * and then loads `closed`, all seq_cst, so an acquire that overlapped a
 * returned wait is seen by at least one side.  Threads are not pinned:
 * releasing on another CPU than the acquire is part of the point.
 *
 * Synchronisation is on what the test can observe: pipes, a child's exit,
 * a wait's return.  The one exception is a process that exits holding
 * nothing: only the daemon's state can tell that its row was reclaimed,
 * so the test polls the status with a short pause under a deadline that
 * is a safety net (passing it fails the test).  Blocking reads have the
 * same safety net, so a lost wake-up fails with the daemon's log rather
 * than at Check's timeout.
 *
 * Counts go through test_scale() (RUNDOWN_TEST_SCALE, RUNDOWN_TEST_DIVISOR).
 * Children never call ck_assert: they report through pipes, the shared
 * area and their exit status.  A failed test leaves its daemon and
 * children to Check (it kills the test's process group); main() removes
 * what the daemons left in /dev/shm and on disk.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testdaemon.h"
#include "testutil.h"

#define XS_DEADLINE_MS 30000	/* safety net of every blocking read or poll */
#define XS_PROCS 4		/* churning client processes */
#define XS_THREADS 2		/* threads in each */
#define XS_SLOTS (XS_PROCS * XS_THREADS)
#define XS_WAITERS 3		/* more waiting processes (waiters test) */
#define XS_CLEAN 2		/* holders exiting cleanly per round */
#define XS_VICTIMS 2		/* holders killed per round */
#define XS_MAXHOLDERS 16
#define XS_ROWS 4		/* rows of the rows test's block */
#define XS_LINE 64

#define SEQ __ATOMIC_SEQ_CST
#define RELAXED __ATOMIC_RELAXED

/* ---- the daemon ---------------------------------------------------------- */

/* The whole daemon log (malloc'd, NUL-terminated). */
static char *
daemon_log_all(void)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd;

	fd = open(td.log, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return buf;
}

/* Fixture: a private directory and socket path, a daemon on it and a
 * connection to it. */
static void
xs_setup(void)
{
	/* A child that died must fail a write, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	/* mkdtemp's own mode: nobody else needs in. */
	td_setup(0700, NULL);
}

/* ---- the shared area ----------------------------------------------------- */

/* A counter alone on its cache line. */
struct xs_counter {
	uint64_t v;
	char pad[XS_LINE - sizeof(uint64_t)];
};

/* What the test and its children share (MAP_SHARED, mapped before the
 * forks).  All fields are accessed atomically except failure.msg. */
struct xs_area {
	struct xs_counter inside[XS_SLOTS];	/* protections held now */
	struct xs_counter pairs[XS_SLOTS];	/* acquire/release pairs */
	struct xs_counter refused[XS_SLOTS];	/* acquires that failed */
	uint64_t want;		/* cycle << 32 | processes yet to progress */
	uint32_t cycle;		/* the generation last opened */
	uint32_t closed;	/* a wait returned; no reinit since */
	uint32_t gate;		/* the test holds its gate protection */
	uint32_t stop;		/* workers: leave */
	struct test_failure failure;	/* a child found a violation */
};

static struct xs_area *area;
static int progress_fd = -1;	/* in workers: the progress pipe */

/* Maps a zeroed area shared with the children to come. */
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

/* Sum of a row of counters (seq_cst loads). */
static uint64_t
area_sum(const struct xs_counter *c)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < XS_SLOTS; i++)
		sum += __atomic_load_n(&c[i].v, SEQ);
	return sum;
}

/* In a child: records the first violation and stops the workers; the
 * test finds it in the area (and is woken through the progress pipe). */
static void __attribute__((format(printf, 1, 2)))
xs_fail(const char *fmt, ...)
{
	char c = 1;
	va_list ap;

	va_start(ap, fmt);
	test_failure_vset(&area->failure, fmt, ap);
	va_end(ap);
	__atomic_store_n(&area->stop, 1, SEQ);
	if (progress_fd >= 0 && write(progress_fd, &c, 1) < 0) {
		/* The test reads the area anyway. */
	}
}

/* Fails the test if a child reported a violation. */
static void
area_check(void)
{
	test_failure_check(&area->failure, "a client process");
}

/* Reads exactly n bytes from fd under the deadline (what: for messages). */
static void
xs_get(int fd, void *buf, size_t n, const char *what)
{
	td_read_all(fd, buf, n, what, area != NULL ? area_check : NULL);
}

/* One command byte to a child. */
static void
xs_send(int fd, char op)
{
	ck_assert_int_eq(write(fd, &op, 1), 1);
}

/* Reaps a child that must have died of SIGKILL. */
static void
xs_reap_killed(pid_t pid)
{
	pid_t r;
	int st = 0;

	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "pid %d: status %#x, not killed", (int)pid, st);
}

/* ---- status -------------------------------------------------------------- */

/* Polls the block until exactly attached rows are attached.  Only for
 * rows of processes that exited holding nothing, whose reclaim nothing
 * else shows. */
static struct rundown_block_info
await_attached(uint32_t tag, uint32_t attached)
{
	struct timespec start = td_now();
	struct rundown_block_info info;

	for (;;) {
		td_status(tag, &info, NULL, 0);
		if (info.attached == attached)
			return info;
		ck_assert_msg(td_elapsed_ms(&start) < XS_DEADLINE_MS,
		    "%u rows still attached, not %u, after %d ms:\n%s",
		    info.attached, attached, XS_DEADLINE_MS, td_log());
		td_pause();
	}
}

/* ---- churn: workers and waiters ------------------------------------------ */

struct xs_thread {
	rundown_cache_t *ref;
	unsigned proc;		/* its process's number */
	unsigned slot;		/* its counters in the area */
	pthread_t thread;
};

/* xorshift64: a private stream per thread. */
static uint32_t
xs_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 32);
}

/* After a pair whose acquire saw cycle cyc: clears this process's bit of
 * `want` if the test awaits progress in that cycle; the one that clears
 * the last bit tells the test.  One CAS on one word, so a pair of an
 * earlier cycle can never clear a bit of a later one. */
static void
xs_progress(uint32_t cyc, uint64_t bit)
{
	uint64_t w = __atomic_load_n(&area->want, SEQ), nw;
	char c = 1;

	while ((uint32_t)(w >> 32) == cyc && (w & bit)) {
		nw = w & ~bit;
		if (__atomic_compare_exchange_n(&area->want, &w, nw, 0, SEQ,
		    SEQ)) {
			if ((uint32_t)nw == 0)
				test_put(progress_fd, &c, 1);
			return;
		}
	}
}

/* A worker thread: acquire, be inside, release, until told to stop. */
static void *
xs_worker_thread(void *arg)
{
	struct xs_thread *t = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (t->slot + 1) ^
	    (uint64_t)getpid();
	uint64_t pairs = 0, refused = 0, bit = (uint64_t)1 << t->proc;
	uint32_t cyc, n, j;

	while (!__atomic_load_n(&area->stop, RELAXED)) {
		if (!rundown_cache_acquire(t->ref)) {
			__atomic_store_n(&area->refused[t->slot].v, ++refused,
			    RELAXED);
			sched_yield();
			continue;
		}
		__atomic_fetch_add(&area->inside[t->slot].v, 1, SEQ);
		/* The Dekker pair with the test's store of `closed`. */
		if (__atomic_load_n(&area->closed, SEQ))
			xs_fail("pid %d thread %u: acquired and inside after "
			    "a wait returned (cycle %u)", (int)getpid(),
			    t->slot, __atomic_load_n(&area->cycle, SEQ));
		/* Read inside: an acquire of generation g sees cycle g (the
		 * test advances it only after the wait that this pair's
		 * release ends). */
		cyc = __atomic_load_n(&area->cycle, SEQ);
		n = xs_rand(&x);
		/* A little work, which the compiler must keep. */
		for (j = 0; j < (n & 63); j++)
			__asm__ __volatile__("" ::: "memory");
		/* Now and then hold across a reschedule: the release may
		 * run on another CPU, and the run-down waits for it. */
		if (((n >> 8) & 15) == 0)
			sched_yield();
		__atomic_fetch_sub(&area->inside[t->slot].v, 1, SEQ);
		rundown_cache_release(t->ref);
		__atomic_store_n(&area->pairs[t->slot].v, ++pairs, RELAXED);
		xs_progress(cyc, bit);
	}
	return NULL;
}

/* A worker process: attaches, says so on ready, churns with XS_THREADS
 * threads until told to stop, detaches. */
static void
xs_worker_main(unsigned proc, uint32_t tag, int ready)
{
	struct xs_thread t[XS_THREADS];
	rundown_cache_t *ref;
	unsigned i;
	int32_t r;
	int e;

	prctl(PR_SET_NAME, "xs-worker", 0, 0, 0);
	r = rundown_attach_at(td.sock, tag, 0, &ref);
	test_put(ready, &r, sizeof(r));
	if (r != 0)
		_exit(10);
	for (i = 0; i < XS_THREADS; i++) {
		t[i].ref = ref;
		t[i].proc = proc;
		t[i].slot = proc * XS_THREADS + i;
		if ((e = pthread_create(&t[i].thread, NULL, xs_worker_thread,
		    &t[i])) != 0) {
			xs_fail("pid %d: pthread_create: %s", (int)getpid(),
			    strerror(e));
			_exit(12);
		}
	}
	for (i = 0; i < XS_THREADS; i++)
		pthread_join(t[i].thread, NULL);
	if ((r = rundown_detach(ref)) != 0) {
		xs_fail("pid %d: detach: %s", (int)getpid(),
		    rundown_strerror(r));
		_exit(11);
	}
	_exit(0);
}

/* What a waiter reports when its wait returns. */
struct xs_report {
	int32_t r;		/* rundown_ctl_wait() */
	uint32_t gate;		/* area->gate, read after it */
	uint64_t inside;	/* the counters' sum, read after it */
};

/* A waiter process: on each 'w', polls (starting the run-down; the gate
 * is held, so it must time out), then waits on its own connection and
 * reports what it saw right after; 'q' ends it. */
static void
xs_waiter_main(uint32_t tag, int cmd, int res)
{
	struct timespec zero = { 0, 0 };
	struct xs_report rep;
	rundown_conn_t *c;
	int32_t r;
	char op = 0;

	prctl(PR_SET_NAME, "xs-waiter", 0, 0, 0);
	r = rundown_connect(td.sock, &c);
	test_put(res, &r, sizeof(r));
	if (r != 0)
		_exit(10);
	while (read(cmd, &op, 1) == 1 && op == 'w') {
		r = rundown_ctl_wait(c, tag, &zero);
		test_put(res, &r, sizeof(r));
		memset(&rep, 0, sizeof(rep));
		rep.r = rundown_ctl_wait(c, tag, NULL);
		rep.inside = area_sum(area->inside);
		rep.gate = __atomic_load_n(&area->gate, SEQ);
		test_put(res, &rep, sizeof(rep));
	}
	rundown_disconnect(c);
	_exit(op == 'q' ? 0 : 11);
}

/* What the steps of a churn share. */
struct xs_churn {
	uint32_t tag;
	unsigned waiters, cycles;
	uint64_t all;			/* want: every worker process */
	uint32_t attached;		/* the workers, and the gate */
	rundown_cache_t *gate;
	pid_t wk[XS_PROCS], wt[XS_WAITERS];
	int wcmd[XS_WAITERS], wres[XS_WAITERS];
	int prog;			/* the workers' progress */
	uint64_t last, least;		/* pairs: so far, fewest a cycle */
};

/* The block, the shared area and the worker processes, all attached. */
static void
churn_start_workers(struct xs_churn *ch)
{
	int ready[2], prog[2];
	unsigned i;
	int32_t r;

	ck_assert_uint_le(ch->waiters, XS_WAITERS);
	ck_assert_int_eq(rundown_ctl_create(td.conn, ch->tag, 0), 0);
	area_map();
	__atomic_store_n(&area->want, ch->all, SEQ);	/* cycle 0 */
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(prog, O_CLOEXEC), 0);
	for (i = 0; i < XS_PROCS; i++) {
		if ((ch->wk[i] = test_fork_flushed()) == 0) {
			close(ready[0]);
			close(prog[0]);
			progress_fd = prog[1];
			xs_worker_main(i, ch->tag, ready[1]);
		}
	}
	close(ready[1]);
	close(prog[1]);
	ch->prog = prog[0];
	for (i = 0; i < XS_PROCS; i++) {
		xs_get(ready[0], &r, sizeof(r), "a worker's attach");
		ck_assert_msg(r == 0, "worker attach: %s", rundown_strerror(r));
	}
	close(ready[0]);
}

/* The gate, and the waiter processes, each connected. */
static void
churn_start_waiters(struct xs_churn *ch)
{
	unsigned i;
	int p2[2];
	int32_t r;

	if (ch->waiters > 0) {
		r = rundown_attach_at(td.sock, ch->tag, 0, &ch->gate);
		ck_assert_msg(r == 0, "attach: %s", rundown_strerror(r));
	}
	for (i = 0; i < ch->waiters; i++) {
		ck_assert_int_eq(pipe2(p2, O_CLOEXEC), 0);
		ch->wcmd[i] = p2[1];
		r = p2[0];
		ck_assert_int_eq(pipe2(p2, O_CLOEXEC), 0);
		ch->wres[i] = p2[0];
		if ((ch->wt[i] = test_fork_flushed()) == 0) {
			close(ch->prog);
			xs_waiter_main(ch->tag, r, p2[1]);
		}
		close(r);
		close(p2[1]);
		xs_get(ch->wres[i], &r, sizeof(r), "a waiter's connect");
		ck_assert_int_eq(r, 0);
	}
}

/* Cycle c begins once every worker process acquired in this generation. */
static void
churn_await_progress(struct xs_churn *ch, unsigned c)
{
	uint64_t pairs;
	char byte;

	xs_get(ch->prog, &byte, 1, "progress of every worker");
	area_check();
	pairs = area_sum(area->pairs);
	ck_assert_uint_gt(pairs, ch->last);
	if (pairs - ch->last < ch->least)
		ch->least = pairs - ch->last;
	ch->last = pairs;
}

/* The test holds the gate: the waiters start the run-down and must time
 * out, so must a timed wait of the test's now and then, and no wait may
 * return; then the gate goes down. */
static void
churn_hold_gate(struct xs_churn *ch, unsigned c)
{
	struct rundown_holder h[XS_MAXHOLDERS];
	const struct rundown_holder *mine;
	struct rundown_block_info info;
	struct timespec ms = test_ms(1);
	unsigned i;
	size_t n;
	int32_t r;

	ck_assert_msg(rundown_cache_acquire(ch->gate),
	    "cycle %u: the open block refused the gate", c);
	__atomic_store_n(&area->gate, 1, SEQ);
	for (i = 0; i < ch->waiters; i++)
		xs_send(ch->wcmd[i], 'w');
	for (i = 0; i < ch->waiters; i++) {
		xs_get(ch->wres[i], &r, sizeof(r), "a waiter's poll");
		ck_assert_msg(r == -ETIMEDOUT, "cycle %u: a "
		    "poll with the gate held: %s", c,
		    rundown_strerror(r));
	}
	n = td_status(ch->tag, &info, h, XS_MAXHOLDERS);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_ge(info.outstanding, 1);
	mine = td_holder_of(h, n, getpid());
	ck_assert_ptr_nonnull(mine);
	ck_assert_uint_eq(mine->outstanding, 1);
	/* Now and then a timed wait of the test's own, which
	 * must run out and leave the others pending. */
	if (c % 16 == 0) {
		r = rundown_ctl_wait(td.conn, ch->tag, &ms);
		ck_assert_msg(r == -ETIMEDOUT, "cycle %u: a timed "
		    "wait with the gate held: %s", c,
		    rundown_strerror(r));
	}
	for (i = 0; i < ch->waiters; i++)
		ck_assert_msg(!td_readable(ch->wres[i]), "cycle %u: "
		    "a wait returned with the gate held", c);
	__atomic_store_n(&area->gate, 0, SEQ);
	rundown_cache_release(ch->gate);
}

/* The test's wait returns; nobody is inside; every waiter returned 0
 * with nobody inside and the gate down; the daemon says drained. */
static void
churn_check_drained(struct xs_churn *ch, unsigned c)
{
	struct rundown_block_info info;
	struct xs_report rep;
	uint64_t inside;
	unsigned i;
	int32_t r;

	r = rundown_ctl_wait(td.conn, ch->tag, NULL);
	ck_assert_msg(r == 0, "cycle %u: wait: %s", c,
	    rundown_strerror(r));
	__atomic_store_n(&area->closed, 1, SEQ);
	inside = area_sum(area->inside);
	ck_assert_msg(inside == 0, "cycle %u: %" PRIu64 " inside after "
	    "the wait returned", c, inside);
	for (i = 0; i < ch->waiters; i++) {
		xs_get(ch->wres[i], &rep, sizeof(rep), "a waiter's wait");
		ck_assert_msg(rep.r == 0, "cycle %u: a waiter's wait: "
		    "%s", c, rundown_strerror(rep.r));
		ck_assert_msg(rep.inside == 0, "cycle %u: a waiter "
		    "saw %" PRIu64 " inside after its wait", c,
		    rep.inside);
		ck_assert_msg(rep.gate == 0, "cycle %u: a waiter's "
		    "wait returned before the gate was released", c);
	}
	td_status(ch->tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.attached, ch->attached);
	ck_assert_uint_eq(info.generation, c);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	area_check();
}

/* [Every fourth cycle: completed]; then the next generation opens. */
static void
churn_reopen(struct xs_churn *ch, unsigned c)
{
	struct rundown_block_info info;
	int32_t r;

	if (c % 4 == 3) {
		/* Completed, then re-initialized all the same. */
		ck_assert_int_eq(rundown_ctl_completed(td.conn, ch->tag), 0);
		td_status(ch->tag, &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_COMPLETED);
	}

	/* Open the next generation: cycle and want first, so that
	 * its acquires (which follow the re-initialize) see them. */
	__atomic_store_n(&area->cycle, c + 1, SEQ);
	__atomic_store_n(&area->want, (uint64_t)(c + 1) << 32 | ch->all,
	    SEQ);
	__atomic_store_n(&area->closed, 0, SEQ);
	r = rundown_ctl_reinit(td.conn, ch->tag);
	ck_assert_msg(r == 0, "cycle %u: reinit: %s", c,
	    rundown_strerror(r));
}

/* Every process exits 0, and the block ends open at generation cycles
 * with nothing attached, outstanding or reclaimed. */
static void
churn_finish(struct xs_churn *ch)
{
	struct rundown_block_info info;
	unsigned i;

	__atomic_store_n(&area->stop, 1, SEQ);
	for (i = 0; i < XS_PROCS; i++)
		test_reap_ok(ch->wk[i]);
	area_check();
	for (i = 0; i < ch->waiters; i++) {
		xs_send(ch->wcmd[i], 'q');
		test_reap_ok(ch->wt[i]);
		close(ch->wcmd[i]);
		close(ch->wres[i]);
	}
	close(ch->prog);
	if (ch->gate != NULL)
		ck_assert_int_eq(rundown_detach(ch->gate), 0);
	td_status(ch->tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, ch->cycles);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	ck_assert_uint_eq(info.reclaimed, 0);
}

/*
 * The churn, with waiters more waiting processes (and then the gate).
 * Each cycle: every worker process has completed a pair in this
 * generation; [the test takes the gate, the waiters start the run-down
 * and must time out, and so must a timed wait of the test's now and
 * then; the test lets go of the gate]; the test's wait
 * returns; nobody is inside; every waiter returned 0 with nobody inside
 * and the gate down; the daemon says drained, nothing outstanding;
 * [every fourth cycle: completed]; re-initialize.
 */
static void
churn(uint32_t tag, unsigned waiters, unsigned cycles)
{
	struct xs_churn ch = { .tag = tag, .waiters = waiters,
	    .cycles = cycles, .all = ((uint64_t)1 << XS_PROCS) - 1,
	    .attached = XS_PROCS + (waiters > 0 ? 1 : 0),
	    .least = UINT64_MAX };
	struct rundown_block_info info;
	uint64_t pairs, refused;
	unsigned c;

	churn_start_workers(&ch);
	churn_start_waiters(&ch);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.attached, ch.attached);

	for (c = 0; c < cycles; c++) {
		churn_await_progress(&ch, c);
		if (waiters > 0)
			churn_hold_gate(&ch, c);
		churn_check_drained(&ch, c);
		churn_reopen(&ch, c);
	}

	churn_finish(&ch);
	pairs = area_sum(area->pairs);
	refused = area_sum(area->refused);
	printf("xstress churn: %u processes x %u threads, %u more waiters: "
	    "%u cycles, %" PRIu64 " acquire/release pairs (at least %" PRIu64
	    " in a cycle), %" PRIu64 " acquires refused\n", XS_PROCS,
	    XS_THREADS, waiters, cycles, pairs, ch.least, refused);
	area_unmap();
}

/* Nobody inside once a wait returns, cycle after cycle. */
START_TEST(test_churn)
{
	churn(RUNDOWN_TAG('X', 'c', 'h', 'n'), 0, test_scale(3000));
}
END_TEST

/* Many waiters on each run-down, all returning 0 after the drain. */
START_TEST(test_waiters)
{
	churn(RUNDOWN_TAG('X', 'w', 't', 'r'), XS_WAITERS, test_scale(1500));
}
END_TEST

/* ---- holders that exit or are killed ------------------------------------- */

/* A client process driven through pipes. */
struct holder {
	pid_t pid;
	int cmd;
	int res;
};

/*
 * Forks a holder named name: it attaches to tag, acquires hold + extra
 * (yielding in between, so they spread over CPUs), releases extra and
 * answers hold (or a negative error).  Then 'd' detaches (answering the
 * result) and exits, 'x' exits with exit() without a word, holding
 * nothing; anything else, or the test gone, exits 111.
 */
static int32_t
holder_start(struct holder *hd, uint32_t tag, unsigned hold, unsigned extra,
    const char *name)
{
	rundown_cache_t *ref;
	int cmd[2], res[2];
	unsigned i;
	int32_t r;
	char op;

	ck_assert_int_eq(pipe2(cmd, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(res, O_CLOEXEC), 0);
	if ((hd->pid = test_fork_flushed()) == 0) {
		close(cmd[1]);
		close(res[0]);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		r = rundown_attach_at(td.sock, tag, 0, &ref);
		for (i = 0; r == 0 && i < hold + extra; i++) {
			if (!rundown_cache_acquire(ref))
				r = -1000;
			sched_yield();
		}
		for (i = 0; r == 0 && i < extra; i++)
			rundown_cache_release(ref);
		if (r == 0)
			r = (int32_t)hold;
		test_put(res[1], &r, sizeof(r));
		if (r < 0)
			_exit(0);
		if (read(cmd[0], &op, 1) != 1)
			_exit(111);
		if (op == 'x') {
			if (hold != 0)
				_exit(112);
			exit(0);
		}
		if (op != 'd')
			_exit(111);
		r = rundown_detach(ref);
		test_put(res[1], &r, sizeof(r));
		_exit(0);
	}
	close(cmd[0]);
	close(res[1]);
	hd->cmd = cmd[1];
	hd->res = res[0];
	xs_get(hd->res, &r, sizeof(r), name);
	return r;
}

/* Closes the test's ends of a holder's pipes. */
static void
holder_close(struct holder *hd)
{
	close(hd->cmd);
	close(hd->res);
}

/* SIGKILL, and reaps it. */
static void
holder_kill(struct holder *hd)
{
	ck_assert_int_eq(kill(hd->pid, SIGKILL), 0);
	xs_reap_killed(hd->pid);
	holder_close(hd);
}

/* A one-shot waiter on a connection of its own: answers its poll (which
 * starts the run-down), then waits and answers that, and exits. */
static pid_t
waiter_start(uint32_t tag, int *res)
{
	struct timespec zero = { 0, 0 };
	rundown_conn_t *c;
	int p[2];
	int32_t r;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	if ((pid = test_fork_flushed()) == 0) {
		close(p[0]);
		if ((r = rundown_connect(td.sock, &c)) == 0)
			r = rundown_ctl_wait(c, tag, &zero);
		test_put(p[1], &r, sizeof(r));
		if (r == -ETIMEDOUT)
			r = rundown_ctl_wait(c, tag, NULL);
		test_put(p[1], &r, sizeof(r));
		_exit(0);
	}
	close(p[1]);
	*res = p[0];
	return pid;
}

/* What the rounds of test_exits share and count. */
struct xs_exits {
	uint32_t tag;
	unsigned rounds;
	uint64_t killed, clean, held;
	pid_t *vpid;			/* every victim, in order */
	unsigned *vk;			/* ... and what it held */
};

/* Round rd begins: XS_CLEAN holders use their row and exit holding
 * nothing; XS_VICTIMS holders hold a known count.  Returns their sum. */
static uint64_t
exits_start_round(struct xs_exits *xe, unsigned rd, struct holder *v)
{
	struct rundown_block_info info;
	struct holder cl;
	uint64_t round_k;
	unsigned i, k;
	int32_t r;

	for (i = 0; i < XS_CLEAN; i++) {
		ck_assert_int_eq(holder_start(&cl, xe->tag, 0, 2,
		    "xs-clean"), 0);
		xs_send(cl.cmd, 'x');
		test_reap_ok(cl.pid);
		holder_close(&cl);
		xe->clean++;
	}
	round_k = 0;
	for (i = 0; i < XS_VICTIMS; i++) {
		k = 1 + (rd * XS_VICTIMS + i) % 4;
		r = holder_start(&v[i], xe->tag, k, 2, "xs-victim");
		ck_assert_msg(r == (int32_t)k, "victim: %d, not %u",
		    r, k);
		xe->vpid[rd * XS_VICTIMS + i] = v[i].pid;
		xe->vk[rd * XS_VICTIMS + i] = k;
		round_k += k;
	}
	td_status(xe->tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.outstanding, round_k);
	return round_k;
}

/* Round rd: the victims are killed (on even rounds during a run-down, a
 * wait pending, which must end then); a wait of the test's ends. */
static void
exits_kill_round(struct xs_exits *xe, unsigned rd, struct holder *v,
    uint64_t round_k)
{
	struct rundown_block_info info;
	unsigned i;
	pid_t w = 0;
	int wres = -1;
	int32_t r;

	if (rd % 2 == 0) {
		/* Killed during the run-down, a wait pending. */
		w = waiter_start(xe->tag, &wres);
		xs_get(wres, &r, sizeof(r), "the waiter's poll");
		ck_assert_msg(r == -ETIMEDOUT, "poll with victims "
		    "holding: %s", rundown_strerror(r));
		td_status(xe->tag, &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
		ck_assert_uint_eq(info.outstanding, round_k);
		ck_assert_msg(!td_readable(wres), "round %u: the wait "
		    "returned while the victims hold", rd);
	}
	for (i = 0; i < XS_VICTIMS; i++)
		holder_kill(&v[i]);
	xe->killed += XS_VICTIMS;
	xe->held += round_k;
	if (rd % 2 == 0) {
		xs_get(wres, &r, sizeof(r), "the waiter's wait");
		ck_assert_msg(r == 0, "round %u: wait pending on killed "
		    "holders: %s", rd, rundown_strerror(r));
		test_reap_ok(w);
		close(wres);
	}
	r = rundown_ctl_wait(td.conn, xe->tag, NULL);
	ck_assert_msg(r == 0, "round %u: wait: %s", rd,
	    rundown_strerror(r));
}

/* Round rd ends: the daemon's counts of reclaimed rows and protections
 * match what the test did, exactly; then the block is re-initialized. */
static void
exits_check_round(struct xs_exits *xe, unsigned rd)
{
	struct rundown_block_info info;

	/* The drain needed every victim's row: all are reclaimed. */
	td_status(xe->tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.reclaimed, xe->held);
	ck_assert_uint_ge(info.reclaimed_rows, xe->killed);
	ck_assert_uint_le(info.reclaimed_rows, xe->killed + xe->clean);
	/* The clean ones' rows, whenever the daemon gets to them. */
	info = await_attached(xe->tag, 0);
	ck_assert_uint_eq(info.reclaimed_rows, xe->killed + xe->clean);
	ck_assert_uint_eq(info.reclaimed, xe->held);
	ck_assert_uint_eq(info.generation, rd);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, xe->tag), 0);
}

/* Each reclaim logged names a victim and what it held.  The daemon
 * logs at most LOG_RATE_BURST (10) of them a second (src/log.h), so
 * the log holds at least that many, or all if fewer. */
static void
exits_check_log(const struct xs_exits *xe)
{
	unsigned i, seen;
	char line[128], *log;

	log = daemon_log_all();
	for (i = 0, seen = 0; i < xe->rounds * XS_VICTIMS; i++) {
		snprintf(line, sizeof(line), "Xext: pid %d (xs-victim) exited "
		    "holding %u; reclaimed row ", (int)xe->vpid[i], xe->vk[i]);
		if (strstr(log, line) != NULL)
			seen++;
	}
	ck_assert_msg(seen == td_count(log, "(xs-victim) exited holding"),
	    "a reclaim logged that no victim made:\n%s", td_log());
	ck_assert_msg(seen >= (xe->rounds * XS_VICTIMS < 10 ?
	    xe->rounds * XS_VICTIMS : 10), "only %u reclaims logged:\n%s",
	    seen, td_log());
	free(log);
}

/*
 * Rounds of XS_CLEAN holders that use their row and exit holding nothing
 * and XS_VICTIMS holders killed while holding a known count, by turns
 * while a waiter waits on the run-down and while the block is open.  A
 * wait returns once every victim is reclaimed; the daemon's counts of
 * reclaimed rows and protections match what the test did, exactly, and
 * its log names each victim and what it held.
 */
START_TEST(test_exits)
{
	struct xs_exits xe = { .tag = RUNDOWN_TAG('X', 'e', 'x', 't'),
	    .rounds = test_scale(100) };
	struct holder v[XS_VICTIMS];
	uint64_t round_k;
	unsigned rd;

	xe.vpid = calloc((size_t)xe.rounds * XS_VICTIMS, sizeof(*xe.vpid));
	xe.vk = calloc((size_t)xe.rounds * XS_VICTIMS, sizeof(*xe.vk));
	ck_assert(xe.vpid != NULL && xe.vk != NULL);
	ck_assert_int_eq(rundown_ctl_create(td.conn, xe.tag, 0), 0);
	for (rd = 0; rd < xe.rounds; rd++) {
		round_k = exits_start_round(&xe, rd, v);
		exits_kill_round(&xe, rd, v, round_k);
		exits_check_round(&xe, rd);
	}
	exits_check_log(&xe);
	printf("xstress exits: %u rounds, %" PRIu64 " clean exits, %" PRIu64
	    " killed holding %" PRIu64 "\n", xe.rounds, xe.clean, xe.killed,
	    xe.held);
	free(xe.vpid);
	free(xe.vk);
}
END_TEST

/* ---- rows ---------------------------------------------------------------- */

/* What the rounds of test_rows share and count. */
struct xs_rows {
	uint32_t tag;
	unsigned attaches, kills;
	rundown_cache_t *ref[XS_ROWS];	/* the test's rows */
	rundown_cache_t *extra;		/* an attach refused */
	struct holder hd;		/* the holder on the last row */
	uint32_t hrow;			/* ... and that row */
};

/* Round rd: the test and a holder holding 2 fill the block; another
 * attach, by the test or another process, is refused. */
static void
rows_fill(struct xs_rows *xr, unsigned rd)
{
	struct holder no;
	unsigned i;
	int32_t r;

	for (i = 0; i < XS_ROWS - 1; i++) {
		r = rundown_attach_at(td.sock, xr->tag, 0, &xr->ref[i]);
		ck_assert_msg(r == 0, "round %u: attach %u: %s", rd, i,
		    rundown_strerror(r));
		xr->attaches++;
	}
	ck_assert_int_eq(holder_start(&xr->hd, xr->tag, 2, 1, "xs-rows"), 2);
	xr->attaches++;

	/* Full: the test and another process are refused. */
	xr->extra = (rundown_cache_t *)&xr->extra;
	ck_assert_int_eq(rundown_attach_at(td.sock, xr->tag, 0, &xr->extra),
	    -ENOSPC);
	ck_assert_ptr_null(xr->extra);
	ck_assert_int_eq(holder_start(&no, xr->tag, 0, 0, "xs-rows"),
	    -ENOSPC);
	test_reap_ok(no.pid);
	holder_close(&no);
}

/* Every row given once; the holder's holds 2.  Notes which it is. */
static void
rows_check_full(struct xs_rows *xr)
{
	struct rundown_holder h[XS_MAXHOLDERS];
	const struct rundown_holder *mine;
	struct rundown_block_info info;
	bool seen[XS_ROWS];
	unsigned i;
	size_t n;

	n = td_status(xr->tag, &info, h, XS_MAXHOLDERS);
	ck_assert_uint_eq(n, XS_ROWS);
	ck_assert_uint_eq(info.outstanding, 2);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(h[i].row, XS_ROWS);
		ck_assert_msg(!seen[h[i].row], "row %u given twice",
		    h[i].row);
		seen[h[i].row] = true;
	}
	mine = td_holder_of(h, n, xr->hd.pid);
	ck_assert_ptr_nonnull(mine);
	ck_assert_uint_eq(mine->outstanding, 2);
	xr->hrow = mine->row;
}

/* The holder's row comes back: by detach on even rounds, by reclaim
 * after SIGKILL on odd ones (ended by a wait). */
static void
rows_give_back(struct xs_rows *xr, unsigned rd)
{
	struct rundown_block_info info;
	int32_t r;

	if (rd % 2 == 0) {
		/* Detached holding 2: released, the row given back. */
		xs_send(xr->hd.cmd, 'd');
		xs_get(xr->hd.res, &r, sizeof(r), "the holder's detach");
		ck_assert_msg(r == 0, "detach: %s", rundown_strerror(r));
		test_reap_ok(xr->hd.pid);
		holder_close(&xr->hd);
		td_status(xr->tag, &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_OPEN);
		ck_assert_uint_eq(info.outstanding, 0);
	} else {
		/* Killed holding 2: the wait ends with its reclaim. */
		holder_kill(&xr->hd);
		xr->kills++;
		r = rundown_ctl_wait(td.conn, xr->tag, NULL);
		ck_assert_msg(r == 0, "wait: %s", rundown_strerror(r));
		td_status(xr->tag, &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	}
	ck_assert_uint_eq(info.attached, XS_ROWS - 1);
	ck_assert_uint_eq(info.reclaimed_rows, xr->kills);
	ck_assert_uint_eq(info.reclaimed, 2 * xr->kills);
}

/* The row is free again, at once, and empty; it counts for its new
 * owner alone. */
static void
rows_reuse(struct xs_rows *xr, unsigned rd)
{
	struct rundown_holder h[XS_MAXHOLDERS];
	struct rundown_block_info info;
	unsigned i;
	size_t n;
	int32_t r;

	r = rundown_attach_at(td.sock, xr->tag, 0, &xr->ref[XS_ROWS - 1]);
	ck_assert_msg(r == 0, "round %u: attach to the row given "
	    "back: %s", rd, rundown_strerror(r));
	xr->attaches++;
	ck_assert_int_eq(rundown_attach_at(td.sock, xr->tag, 0, &xr->extra),
	    -ENOSPC);
	n = td_status(xr->tag, &info, h, XS_MAXHOLDERS);
	ck_assert_uint_eq(n, XS_ROWS);
	ck_assert_uint_eq(info.outstanding, 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(h[i].pid, getpid());
		ck_assert_uint_eq(h[i].outstanding, 0);
	}
	if (rd % 2 == 1)
		ck_assert_int_eq(rundown_ctl_reinit(td.conn, xr->tag), 0);

	/* It counts for its new owner alone. */
	ck_assert(rundown_cache_acquire_n(xr->ref[XS_ROWS - 1], 3));
	n = td_status(xr->tag, &info, h, XS_MAXHOLDERS);
	ck_assert_uint_eq(info.outstanding, 3);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(h[i].outstanding,
		    h[i].row == xr->hrow ? 3 : 0);
	rundown_cache_release_n(xr->ref[XS_ROWS - 1], 3);
}

/* Round's end: the test detaches every row; the block is open, empty. */
static void
rows_detach_all(struct xs_rows *xr)
{
	struct rundown_block_info info;
	unsigned i;

	for (i = 0; i < XS_ROWS; i++)
		ck_assert_int_eq(rundown_detach(xr->ref[i]), 0);
	td_status(xr->tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	ck_assert_uint_eq(info.generation, xr->kills);
}

/*
 * A block of XS_ROWS rows, filled by the test and a holder many times
 * over: a full block refuses an attach with -ENOSPC; the holder's row
 * comes back by detach (even rounds, while the block is open) or by
 * reclaim after SIGKILL (odd rounds, ended by a wait) and is reused at
 * once, empty; then everything is detached.
 */
START_TEST(test_rows)
{
	struct xs_rows xr = { .tag = RUNDOWN_TAG('X', 'r', 'o', 'w') };
	unsigned rounds = test_scale(80), rd;
	struct rundown_block_info info;

	ck_assert_int_eq(rundown_ctl_create(td.conn, xr.tag, XS_ROWS), 0);
	td_status(xr.tag, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, XS_ROWS);
	for (rd = 0; rd < rounds; rd++) {
		rows_fill(&xr, rd);
		rows_check_full(&xr);
		rows_give_back(&xr, rd);
		rows_reuse(&xr, rd);
		rows_detach_all(&xr);
	}
	ck_assert_uint_gt(xr.attaches, 3 * XS_ROWS);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, xr.tag, NULL), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, xr.tag), 0);
	printf("xstress rows: %u rows, %u attaches in %u rounds, %u holders "
	    "killed\n", XS_ROWS, xr.attaches, rounds, xr.kills);
}
END_TEST

/* ---- the suite ----------------------------------------------------------- */

static Suite *
xstress_suite(void)
{
	Suite *s = suite_create("xstress");
	TCase *tc;

	tc = td_case(s, "churn", xs_setup, 120);
	tcase_add_test(tc, test_churn);
	tcase_add_test(tc, test_waiters);

	tc = td_case(s, "exits", xs_setup, 120);
	tcase_add_test(tc, test_exits);

	tc = td_case(s, "rows", xs_setup, 120);
	tcase_add_test(tc, test_rows);
	return s;
}

int
main(void)
{
	/* mkdtemp's own mode: nobody else needs in. */
	return td_main("rundown-xstress", 0700, XS_DEADLINE_MS, xstress_suite);
}
