/*
 * check_faults.c: a randomized fault campaign against rundownd, in which
 * holders die.
 *
 * One test starts its own rundownd (tests/testdaemon.c) and two shared
 * blocks, A and B.  Worker processes attach to one or both and loop:
 *   marked   acquire k on a block, set an "inside" mark in a MAP_SHARED
 *            area, now and then acquire on the other block too (nested),
 *            clear the marks and release;
 *   tight    acquire k and release it, in one or two releases, as fast as
 *            they can, so that kills land inside acquire and release.
 * Meanwhile the test, which is the waiter, cycles: it picks a block and
 * runs it down through the daemon (rundown_ctl_wait on its connection or
 * rundown_cache_wait_timeout on a descriptor of its own), in timed slices
 * of 0 to 2 ms, and between slices, and before the run-down, it kills
 * random workers with SIGKILL at random moments; once a wait returns it
 * checks that no live worker is inside, then completes (sometimes) and
 * re-initializes.  Killed workers are replaced by new ones (rows of
 * their own in the area), and now and then one is killed before its
 * attach has finished, or one attaches during the run-down.  In one cycle
 * of four the run-down is started by another process's wait, on a
 * connection of its own, and that waiter is killed at a random moment,
 * its wait pending or answered.
 *
 * Invariants checked:
 *   - A wait never returns while a live process is inside: on return,
 *     every worker whose mark is set must have exited.  The daemon
 *     reclaims a row only after its process exited, so a killed worker
 *     may still show its mark, but then waitid(WNOWAIT) finds it exited
 *     (or the test has reaped it already).  The other direction is a
 *     Dekker pair as in check_xstress.c: the test stores `closed` and then
 *     loads the marks, a worker sets its mark and then loads `closed`, all
 *     seq_cst, so an acquire granted after a wait returned is seen.
 *   - A wait always returns once nobody living holds protection: every
 *     few cycles the test parks the workers (each holds a known number of
 *     protections on each of its blocks), starts both run-downs (which
 *     must not drain while a live worker holds), kills some of the parked
 *     workers, tells the rest to release, and then each wait must return
 *     within a safety net that fails the test.
 *   - Counts are exact.  Parked: the daemon's outstanding count, and each
 *     holder's, equal what the live workers recorded; what it reclaims
 *     from the parked workers killed equals what they held.  Killed at
 *     random: a worker records the operation in flight (pending = +k or
 *     -k) before it, and what it holds after it, so what it held at its
 *     death lies between held + min(0, pending) and held + max(0,
 *     pending); the daemon's reclaimed count must lie between the sums of
 *     those bounds, and its reclaimed rows between the number of killed
 *     workers whose attach had returned and the number killed at all.
 *     No row may go negative (the daemon logs "holding -N" if one does),
 *     and no status may show more than the workers could hold.
 *
 * The campaign is random: the seed is printed, and RUNDOWN_FAULT_SEED in
 * the environment replays it (the interleavings differ from run to run;
 * the choices do not).  Counts go through test_scale().
 *
 * Synchronisation is on what the test can observe: pipes, a child's exit,
 * a wait's return.  The exception, as in check_xstress.c, is the daemon's
 * reclaim of the row of a process that held nothing, which only its
 * status shows: the test polls it under a deadline that is a safety net.
 * The random pauses before kills choose where the kills land; nothing
 * waits on them.  Children never call ck_assert: they report through the
 * area and their exit status, and die with the test (PR_SET_PDEATHSIG).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testdaemon.h"
#include "testutil.h"

#define FT_DEADLINE_MS 30000	/* safety net of every blocking read, poll
				 * and wait */
#define FT_LIVE 5		/* worker processes alive at once */
#define FT_MAXW 1024		/* area rows; a dead worker's row is reused */
#define FT_ROWS 64		/* daemon rows per block */
#define FT_MAXK 3		/* most a worker holds on a block at once */
#define FT_PARK_EVERY 16	/* a park round every so many cycles */
#define FT_CYCLE_KILLS 3	/* most kills during one run-down */
#define FT_NB 2			/* blocks */
#define FT_LINE 64

#define SEQ __ATOMIC_SEQ_CST
#define RELAXED __ATOMIC_RELAXED

/* Control word phases (ctl = epoch << 2 | phase). */
#define PH_RUN 0u
#define PH_PARK 1u		/* acquire a parked count, ack, wait */
#define PH_DROP 2u		/* release it, ack, wait */
#define PH_MASK 3u

/* Worker flags, fixed at spawn. */
#define FW_MARKED 0x4u		/* marks itself inside; else tight loops */

/* Test-side worker states. */
#define TW_ALIVE 1
#define TW_KILLED 2		/* SIGKILL sent, not reaped */
#define TW_DEAD 3		/* reaped and accounted */

/* One worker's row of the area, alone on its cache lines. */
struct ft_worker {
	uint32_t flags;		/* blocks (bit b) | FW_MARKED (the test) */
	uint32_t attached;	/* blocks whose attach returned (worker) */
	uint32_t inside[FT_NB];	/* marks */
	int32_t held[FT_NB];	/* what it holds, after each operation */
	int32_t pending[FT_NB];	/* the operation in flight: +k, -k or 0 */
	uint64_t ops;		/* acquires granted */
	uint64_t refused;	/* acquires refused */
} __attribute__((aligned(FT_LINE)));

/* What the test and its workers share (MAP_SHARED, mapped before every
 * fork).  All fields are accessed atomically except failure.msg, and
 * a worker's flags, which the test writes before it forks the worker. */
struct ft_area {
	uint32_t ctl;		/* futex word: epoch << 2 | phase */
	uint32_t stop;		/* workers: detach and exit */
	uint32_t closed[FT_NB];	/* a wait returned; no reinit since */
	struct test_failure failure;	/* a worker found a violation */
	struct ft_worker w[FT_MAXW];
};

/* The test's view of each worker. */
struct ft_proc {
	pid_t pid;
	int state;		/* TW_* */
};

/* The campaign's state, in the test process. */
struct ft {
	uint32_t tag[FT_NB];
	rundown_cache_t *self[FT_NB];	/* the test's own rows (hold 0) */
	struct ft_proc p[FT_MAXW];
	unsigned nw;		/* area rows used so far */
	unsigned spawned;	/* workers, all told */
	unsigned reuse;		/* where the search for a dead row goes on */
	uint64_t ops, refused;	/* the dead workers' acquires */
	unsigned live;		/* workers alive (not killed) */
	uint64_t x;		/* PRNG */
	int ack[2];		/* workers' acknowledgements */
	uint32_t epoch;
	/* Bounds of what the daemon must have reclaimed, per block. */
	uint64_t rows_lo[FT_NB], rows_hi[FT_NB];
	uint64_t rec_lo[FT_NB], rec_hi[FT_NB];
	/* Figures. */
	unsigned cycles, parks, waits, timeouts;
	unsigned kills, kills_run, kills_parked, kills_attach;
	unsigned kills_midop, kills_inside, kills_rundown, kills_waiter;
	uint64_t parked_reclaimed;
};

static struct ft_area *area;
static struct ft ft;
static uint64_t seed;

/* ---- helpers ------------------------------------------------------------- */

/* xorshift64. */
static uint32_t
ft_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 32);
}

/* A random number below n, from the test's stream. */
static uint32_t
ft_below(uint32_t n)
{
	return ft_rand(&ft.x) % n;
}

static long
ft_futex(uint32_t *addr, int op, uint32_t val)
{
	/* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* Publishes a new control word and wakes every worker. */
static void
ft_set_ctl(uint32_t v)
{
	__atomic_store_n(&area->ctl, v, SEQ);
	ft_futex(&area->ctl, FUTEX_WAKE, INT_MAX);
}

/* In a worker: records the first violation and exits. */
static void __attribute__((format(printf, 1, 2)))
fw_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	test_failure_vset(&area->failure, fmt, ap);
	va_end(ap);
	_exit(20);
}

/* Fails the test if a worker reported a violation. */
static void
area_check(void)
{
	test_failure_check(&area->failure, "a worker");
}

/* Reads exactly n bytes from fd under the safety net (what: for
 * messages). */
static void
ft_get(int fd, void *buf, size_t n, const char *what)
{
	td_read_all(fd, buf, n, what, area_check);
}

/* A pause of up to max_us microseconds, from the test's stream: where
 * the next kill lands.  Nothing waits on it. */
static void
ft_jitter(unsigned max_us)
{
	struct timespec ts = { 0, (long)ft_below(max_us + 1) * 1000L };

	if (ts.tv_nsec > 0)
		nanosleep(&ts, NULL);
}

/* ---- workers ------------------------------------------------------------- */

/* Acquires k on block b, recording the operation around it. */
static bool
fw_acquire(struct ft_worker *me, rundown_cache_t *ref, unsigned b, int32_t k)
{
	bool ok;

	__atomic_store_n(&me->pending[b], k, SEQ);
	ok = rundown_cache_acquire_n(ref, (uint32_t)k);
	if (ok)
		__atomic_store_n(&me->held[b], me->held[b] + k, SEQ);
	__atomic_store_n(&me->pending[b], 0, SEQ);
	if (ok)
		__atomic_store_n(&me->ops, me->ops + 1, RELAXED);
	else
		__atomic_store_n(&me->refused, me->refused + 1, RELAXED);
	return ok;
}

/* Releases k on block b, recording the operation around it. */
static void
fw_release(struct ft_worker *me, rundown_cache_t *ref, unsigned b, int32_t k)
{
	__atomic_store_n(&me->pending[b], -k, SEQ);
	rundown_cache_release_n(ref, (uint32_t)k);
	__atomic_store_n(&me->held[b], me->held[b] - k, SEQ);
	__atomic_store_n(&me->pending[b], 0, SEQ);
}

/*
 * After an acquire on block b was granted: marks itself inside (a marked
 * worker), then checks that no wait on b has returned since.  Reading
 * `closed` set is a violation either way: its store follows the drain,
 * which follows this worker's release, which follows this load.  Only
 * the marked worker's store makes the check complete (the Dekker pair).
 */
static void
fw_enter(struct ft_worker *me, unsigned b, bool marked)
{
	if (marked)
		__atomic_store_n(&me->inside[b], 1, SEQ);
	if (__atomic_load_n(&area->closed[b], SEQ))
		fw_fail("pid %d: granted and inside block %u after a wait on "
		    "it returned", (int)getpid(), b);
}

static void
fw_leave(struct ft_worker *me, unsigned b)
{
	__atomic_store_n(&me->inside[b], 0, SEQ);
}

/* Sleeps until the control word is no longer c (or stop). */
static void
fw_await_change(uint32_t c)
{
	while (__atomic_load_n(&area->ctl, SEQ) == c &&
	    !__atomic_load_n(&area->stop, SEQ))
		ft_futex(&area->ctl, FUTEX_WAIT, c);
}

/* A park: hold a random count on each block, say so, wait for the drop,
 * release it all, say so, wait for the run to resume. */
static void
fw_park(struct ft_worker *me, rundown_cache_t **ref, uint64_t *x,
    uint32_t c, int ack)
{
	unsigned b;
	int32_t k;
	char byte = 1;

	for (b = 0; b < FT_NB; b++) {
		if (ref[b] == NULL || (k = (int32_t)(ft_rand(x) %
		    (FT_MAXK + 1))) == 0)
			continue;
		if (!fw_acquire(me, ref[b], b, k))
			fw_fail("pid %d: parking: block %u refused an acquire "
			    "while open", (int)getpid(), b);
	}
	test_put(ack, &byte, 1);
	fw_await_change(c);
	c = __atomic_load_n(&area->ctl, SEQ);
	if (__atomic_load_n(&area->stop, SEQ))
		return;
	if ((c & PH_MASK) != PH_DROP)
		fw_fail("pid %d: parked, then control %#x, not a drop",
		    (int)getpid(), c);
	for (b = 0; b < FT_NB; b++) {
		if (ref[b] != NULL && me->held[b] > 0)
			fw_release(me, ref[b], b, me->held[b]);
	}
	test_put(ack, &byte, 1);
	fw_await_change(c);
}

/* One pass of the loop on block b (and maybe the other one): starts and
 * ends holding nothing. */
static void
fw_pass(struct ft_worker *me, rundown_cache_t **ref, uint64_t *x, unsigned b)
{
	uint32_t n = ft_rand(x), j;
	int32_t k = 1 + (int32_t)(n % FT_MAXK), k2;
	bool marked = me->flags & FW_MARKED;
	unsigned o = 1 - b;

	if (!fw_acquire(me, ref[b], b, k)) {
		sched_yield();
		return;
	}
	fw_enter(me, b, marked);
	if (ref[o] != NULL && ((n >> 4) & 3) == 0) {
		k2 = 1 + (int32_t)((n >> 8) % FT_MAXK);
		if (fw_acquire(me, ref[o], o, k2)) {
			fw_enter(me, o, marked);
			for (j = 0; j < ((n >> 12) & 31); j++)
				__asm__ __volatile__("" ::: "memory");
			if (marked)
				fw_leave(me, o);
			fw_release(me, ref[o], o, k2);
		}
	}
	/* The marked worker stays inside a while, and now and then across a
	 * reschedule (the release may run on another CPU); the tight one
	 * goes straight on, so that most of its time is spent in acquire
	 * and release. */
	if (marked) {
		for (j = 0; j < ((n >> 16) & 63); j++)
			__asm__ __volatile__("" ::: "memory");
		if (((n >> 22) & 15) == 0)
			sched_yield();
		fw_leave(me, b);
	}
	if (!marked && k > 1 && (n >> 26) & 1) {
		fw_release(me, ref[b], b, 1);
		fw_release(me, ref[b], b, k - 1);
	} else
		fw_release(me, ref[b], b, k);
}

/* A worker process: attaches to its blocks, says so on ready, loops until
 * stop, detaches and exits 0. */
static void __attribute__((noreturn))
fw_main(unsigned i, int ready, int ack)
{
	struct ft_worker *me = &area->w[i];
	rundown_cache_t *ref[FT_NB] = { NULL, NULL };
	uint64_t x = seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
	uint32_t c, last = 0;
	unsigned b;
	int32_t r = 0;

	/* Die with the test, whatever becomes of it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Busy workers must not starve the test and the daemon (which only
	 * slows the campaign down) on a machine of few CPUs. */
	(void)setpriority(PRIO_PROCESS, 0, 5);
	prctl(PR_SET_NAME, me->flags & FW_MARKED ? "ft-marked" : "ft-tight",
	    0, 0, 0);
	if (x == 0)
		x = 1;
	for (b = 0; b < FT_NB && r == 0; b++) {
		if (!(me->flags & (1u << b)))
			continue;
		if ((r = rundown_attach_at(td.sock, ft.tag[b], 0,
		    &ref[b])) == 0)
			__atomic_fetch_or(&me->attached, 1u << b, SEQ);
	}
	if (ready >= 0) {
		test_put(ready, &r, sizeof(r));
		close(ready);
	}
	if (r != 0)
		_exit(10);

	while (!__atomic_load_n(&area->stop, RELAXED)) {
		c = __atomic_load_n(&area->ctl, SEQ);
		if ((c & PH_MASK) == PH_PARK && c != last) {
			last = c;
			fw_park(me, ref, &x, c, ack);
			continue;
		}
		if ((c & PH_MASK) != PH_RUN) {
			/* Spawned during a drop (never) or parked already. */
			fw_await_change(c);
			continue;
		}
		b = ft_rand(&x) & 1;
		if (ref[b] == NULL)
			b = 1 - b;
		fw_pass(me, ref, &x, b);
	}
	for (b = 0; b < FT_NB; b++) {
		if (ref[b] == NULL)
			continue;
		if (me->held[b] != 0)
			fw_fail("pid %d: holds %d on block %u at the end",
			    (int)getpid(), me->held[b], b);
		if ((r = rundown_detach(ref[b])) != 0)
			fw_fail("pid %d: detach: %s", (int)getpid(),
			    rundown_strerror(r));
	}
	_exit(0);
}

/* ---- the test's side ----------------------------------------------------- */

/* Forks a worker into a new row; waits for its attach unless it is to be
 * killed during it.  Returns the row. */
static unsigned
ft_spawn(bool wait_ready)
{
	struct ft_worker *w;
	unsigned i = ft.nw, mask, k;
	int rp[2];
	int32_t r;
	pid_t pid;

	if (i == FT_MAXW) {
		/* A new row is a row of a worker reaped and accounted. */
		for (k = 0; k < FT_MAXW; k++) {
			i = (ft.reuse + k) % FT_MAXW;
			if (ft.p[i].state == TW_DEAD)
				break;
		}
		ck_assert_msg(k < FT_MAXW, "no worker row free");
		ft.reuse = i + 1;
	}
	w = &area->w[i];
	memset(w, 0, sizeof(*w));
	/* Block A, B or both, a third each; marked or tight, half each. */
	mask = 1 + ft_below(3);
	w->flags = mask | (ft_below(2) ? FW_MARKED : 0);
	ck_assert_int_eq(pipe2(rp, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		close(rp[0]);
		close(ft.ack[0]);
		fw_main(i, wait_ready ? rp[1] : -1, ft.ack[1]);
	}
	close(rp[1]);
	ft.p[i].pid = pid;
	ft.p[i].state = TW_ALIVE;
	if (i == ft.nw)
		ft.nw++;
	ft.spawned++;
	ft.live++;
	if (wait_ready) {
		ft_get(rp[0], &r, sizeof(r), "a new worker's attach");
		ck_assert_msg(r == 0, "worker attach: %s", rundown_strerror(r));
	}
	close(rp[0]);
	return i;
}

/* The i-th alive worker's row, from a random pick. */
static unsigned
ft_pick_alive(void)
{
	unsigned n = ft_below(ft.live), i;

	for (i = 0; i < ft.nw; i++) {
		if (ft.p[i].state == TW_ALIVE && n-- == 0)
			return i;
	}
	ck_abort_msg("no alive worker to pick");
	return 0;
}

/* SIGKILL to worker i. */
static void
ft_kill(unsigned i)
{
	ck_assert_int_eq(ft.p[i].state, TW_ALIVE);
	ck_assert_int_eq(kill(ft.p[i].pid, SIGKILL), 0);
	ft.p[i].state = TW_KILLED;
	ft.live--;
	ft.kills++;
}

/* Reaps a killed worker and adds what it may have held to the bounds. */
static void
ft_reap(unsigned i)
{
	struct ft_worker *w = &area->w[i];
	int32_t h, pend, lo;
	unsigned b;
	pid_t r;
	int st = 0;

	do
		r = waitpid(ft.p[i].pid, &st, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, ft.p[i].pid);
	area_check();
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "worker pid %d: status %#x, not killed", (int)r, st);
	ft.p[i].state = TW_DEAD;
	/* Dead: its area row is final. */
	for (b = 0; b < FT_NB; b++) {
		if (!(w->flags & (1u << b)))
			continue;
		ft.rows_hi[b]++;
		if (w->attached & (1u << b))
			ft.rows_lo[b]++;
		h = w->held[b];
		pend = w->pending[b];
		ck_assert_msg(h >= 0 && h <= FT_MAXK && pend >= -FT_MAXK &&
		    pend <= FT_MAXK, "worker %u: held %d, pending %d", i, h,
		    pend);
		/* Killed after a release stored held but before it cleared
		 * pending, h - k can be below 0; what it held is not. */
		lo = h + (pend < 0 ? pend : 0);
		ft.rec_lo[b] += (uint64_t)(lo > 0 ? lo : 0);
		ft.rec_hi[b] += (uint64_t)(h + (pend > 0 ? pend : 0));
	}
	if (w->pending[0] != 0 || w->pending[1] != 0)
		ft.kills_midop++;
	if (w->inside[0] || w->inside[1])
		ft.kills_inside++;
	ft.ops += w->ops;
	ft.refused += w->refused;
}

/* Reaps every worker killed so far. */
static void
ft_reap_all(void)
{
	unsigned i;

	for (i = 0; i < ft.nw; i++) {
		if (ft.p[i].state == TW_KILLED)
			ft_reap(i);
	}
}

/* Alive workers attached to block b (every alive one has attached). */
static unsigned
ft_live_on(unsigned b)
{
	unsigned i, n = 0;

	for (i = 0; i < ft.nw; i++) {
		if (ft.p[i].state == TW_ALIVE && (area->w[i].flags & (1u << b)))
			n++;
	}
	return n;
}

/* What the alive workers recorded holding on block b. */
static uint64_t
ft_live_held(unsigned b)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < ft.nw; i++) {
		if (ft.p[i].state == TW_ALIVE)
			sum += (uint64_t)__atomic_load_n(&area->w[i].held[b],
			    SEQ);
	}
	return sum;
}

/* Fails unless every worker inside block b has exited: right after a
 * wait on b returned.  Killed workers that are not reaped yet may still
 * show their mark; the daemon reclaimed their rows only once they had
 * exited, and an exited child is waitable (WNOWAIT leaves it so). */
static void
ft_check_inside(unsigned b, const char *when)
{
	siginfo_t si;
	unsigned i;

	__atomic_store_n(&area->closed[b], 1, SEQ);
	for (i = 0; i < ft.nw; i++) {
		if (!__atomic_load_n(&area->w[i].inside[b], SEQ) ||
		    ft.p[i].state == TW_DEAD)
			continue;
		memset(&si, 0, sizeof(si));
		ck_assert_int_eq(waitid(P_PID, (id_t)ft.p[i].pid, &si,
		    WEXITED | WNOHANG | WNOWAIT), 0);
		ck_assert_msg(si.si_pid == ft.p[i].pid, "seed %" PRIu64
		    ": %s: the wait on block %u returned while pid %d "
		    "(worker %u, %s) is alive and inside", seed, when, b,
		    (int)ft.p[i].pid, i, ft.p[i].state == TW_KILLED ?
		    "killed, not yet exited" : "never killed");
	}
	area_check();
}

/* The status of block b, with sanity bounds: no outstanding count beyond
 * what the workers could hold (a negative count would wrap).  Holders
 * are asked for only where the workers are parked, so that each holds
 * at most FT_MAXK exactly. */
static size_t
ft_status(unsigned b, struct rundown_block_info *info,
    struct rundown_holder *h, size_t max)
{
	size_t n = td_status(ft.tag[b], info, h, max), j;

	ck_assert_uint_le(info->attached, FT_ROWS);
	/* Open, the count is a snapshot of slots that keep changing, so
	 * only a wrapped (negative) count is out of bounds; run down, it is
	 * exact. */
	ck_assert_msg(info->outstanding <= (info->state == RUNDOWN_OPEN ?
	    (uint64_t)1 << 32 : (uint64_t)FT_MAXK * FT_ROWS), "block %u: %"
	    PRIu64 " outstanding (%s), more than anyone could hold", b,
	    info->outstanding, rundown_state_name(info->state));
	for (j = 0; j < n && j < max; j++)
		ck_assert_msg(h[j].outstanding <= FT_MAXK, "block %u: pid %d "
		    "holds %" PRIu64 ", more than %d", b, (int)h[j].pid,
		    h[j].outstanding, FT_MAXK);
	return n;
}

/* Waits until the daemon has reclaimed every reaped worker's row (the
 * rows of those that held nothing show only in the status), then checks
 * the reclaim counts against their bounds. */
static void
ft_await_reclaimed(struct rundown_block_info *out)
{
	struct rundown_block_info info;
	struct timespec start = td_now();
	uint32_t want;
	unsigned b;

	for (b = 0; b < FT_NB; b++) {
		want = ft_live_on(b) + 1;	/* and the test's own row */
		for (;;) {
			ft_status(b, &info, NULL, 0);
			if (info.attached == want)
				break;
			ck_assert_msg(info.attached > want, "seed %" PRIu64
			    ": block %u: %u rows attached, fewer than the "
			    "%u alive", seed, b, info.attached, want);
			ck_assert_msg(td_elapsed_ms(&start) < FT_DEADLINE_MS,
			    "seed %" PRIu64 ": block %u: %u rows still "
			    "attached, not %u, after %d ms:\n%s", seed, b,
			    info.attached, want, FT_DEADLINE_MS, td_log());
			td_pause();
		}
		ck_assert_msg(info.reclaimed_rows >= ft.rows_lo[b] &&
		    info.reclaimed_rows <= ft.rows_hi[b], "seed %" PRIu64
		    ": block %u: %" PRIu64 " rows reclaimed, not between %"
		    PRIu64 " and %" PRIu64, seed, b, info.reclaimed_rows,
		    ft.rows_lo[b], ft.rows_hi[b]);
		ck_assert_msg(info.reclaimed >= ft.rec_lo[b] &&
		    info.reclaimed <= ft.rec_hi[b], "seed %" PRIu64
		    ": block %u: %" PRIu64 " protections reclaimed, not "
		    "between %" PRIu64 " and %" PRIu64 "\n%s", seed, b,
		    info.reclaimed, ft.rec_lo[b], ft.rec_hi[b], td_log());
		if (out != NULL)
			out[b] = info;
	}
}

/* Brings the workers alive back to FT_LIVE; now and then one more is
 * killed during its attach. */
static void
ft_replenish(void)
{
	unsigned i;

	while (ft.live < FT_LIVE)
		ft_spawn(true);
	if (ft_below(8) == 0) {
		i = ft_spawn(false);
		ft_jitter(300);
		ft_kill(i);
		ft.kills_attach++;
	}
}

/*
 * Forks a process whose one wait, on a connection of its own, starts the
 * run-down of block b; it is then killed at some point, its wait pending
 * or answered, and the run-down must go on.  Returns once the daemon has
 * handled the wait (the block left OPEN): a request still unread when its
 * sender died could otherwise start a run-down after the test's
 * re-initialize, on behalf of a dead process (the daemon cannot order
 * requests of two connections).
 */
static pid_t
ft_doomed_waiter(unsigned b)
{
	struct rundown_block_info info;
	struct timespec start;
	rundown_conn_t *c;
	pid_t pid;
	int st = 0;

	pid = test_fork_flushed();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		prctl(PR_SET_NAME, "ft-waiter", 0, 0, 0);
		close(ft.ack[0]);
		close(ft.ack[1]);
		if (rundown_connect(td.sock, &c) != 0)
			_exit(10);
		(void)rundown_ctl_wait(c, ft.tag[b], NULL);
		/* No second request: wait to be killed. */
		for (;;)
			pause();
	}
	start = td_now();
	for (;;) {
		ft_status(b, &info, NULL, 0);
		if (info.state != RUNDOWN_OPEN)
			return pid;
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "the doomed "
		    "waiter exited (status %#x)", st);
		ck_assert_msg(td_elapsed_ms(&start) < FT_DEADLINE_MS, "the "
		    "doomed waiter's wait did not start the run-down within "
		    "%d ms:\n%s", FT_DEADLINE_MS, td_log());
		td_pause();
	}
}

/* Kills and reaps a doomed waiter. */
static void
ft_kill_waiter(pid_t pid)
{
	pid_t r;
	int st = 0;

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "waiter pid %d: status %#x, not killed", (int)r, st);
	ft.kills_waiter++;
}

/* A wait on block b of up to ms milliseconds (0: a poll), through the
 * test's connection or its own descriptor. */
static int
ft_wait(unsigned b, long ms, bool by_ref)
{
	struct timespec t = test_ms(ms);

	ft.waits++;
	if (by_ref)
		return rundown_cache_wait_timeout(ft.self[b], &t);
	return rundown_ctl_wait(td.conn, ft.tag[b], &t);
}

/* Completes (sometimes) and re-initializes drained block b. */
static void
ft_reopen(unsigned b, const char *when)
{
	struct rundown_block_info info;
	bool by_ref = ft_below(2);
	int r;

	if (ft_below(2)) {
		r = by_ref ? rundown_cache_completed(ft.self[b]) :
		    rundown_ctl_completed(td.conn, ft.tag[b]);
		ck_assert_msg(r == 0, "%s: completed: %s", when,
		    rundown_strerror(r));
		ft_status(b, &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_COMPLETED);
	}
	/* Before the re-initialize: its acquires see it (check_xstress.c). */
	__atomic_store_n(&area->closed[b], 0, SEQ);
	r = by_ref ? rundown_cache_reinit(ft.self[b]) :
	    rundown_ctl_reinit(td.conn, ft.tag[b]);
	ck_assert_msg(r == 0, "%s: reinit: %s", when, rundown_strerror(r));
}

/*
 * One cycle of the campaign: replace the dead, maybe kill one or two
 * while block b is open, run b down in timed slices with kills between
 * them, check that nobody alive is inside, reopen b.
 */
static void
ft_cycle(unsigned c)
{
	struct rundown_block_info info;
	struct timespec start;
	unsigned b = ft_below(2), kills = 0, i, n;
	bool by_ref = ft_below(2);
	pid_t doomed = 0;
	char when[64];
	int r;

	snprintf(when, sizeof(when), "cycle %u", c);
	ft_replenish();
	if (ft_below(4) == 0)
		doomed = ft_doomed_waiter(b);
	n = ft_below(4) == 0 ? 1 + ft_below(2) : 0;
	for (i = 0; i < n; i++) {
		ft_jitter(500);
		ft_kill(ft_pick_alive());
		ft.kills_run++;
		if (doomed > 0)
			ft.kills_rundown++;	/* its wait started it */
	}
	start = td_now();
	for (;;) {
		r = ft_wait(b, (long)ft_below(3), by_ref);
		if (r == 0)
			break;
		ck_assert_msg(r == -ETIMEDOUT, "%s: wait on block %u: %s",
		    when, b, rundown_strerror(r));
		ft.timeouts++;
		ck_assert_msg(td_elapsed_ms(&start) < FT_DEADLINE_MS,
		    "seed %" PRIu64 ": %s: the run-down of block %u did not "
		    "end within %d ms:\n%s", seed, when, b, FT_DEADLINE_MS,
		    td_log());
		if (kills < FT_CYCLE_KILLS && ft.live > 1 && ft_below(2) == 0) {
			ft_jitter(200);
			ft_kill(ft_pick_alive());
			ft.kills_run++;
			ft.kills_rundown++;
			kills++;
			/* A replacement attaches during the run-down. */
			if (ft_below(2) == 0)
				ft_spawn(true);
		}
		if (doomed > 0 && ft_below(2) == 0) {
			ft_jitter(100);
			ft_kill_waiter(doomed);
			doomed = 0;
		}
	}
	if (doomed > 0)
		ft_kill_waiter(doomed);
	ft_check_inside(b, when);
	ft_status(b, &info, NULL, 0);
	ck_assert_msg(info.state == RUNDOWN_DRAINED, "%s: block %u %s after "
	    "its wait returned", when, b, rundown_state_name(info.state));
	ck_assert_uint_eq(info.outstanding, 0);
	ft_status(1 - b, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ft_reopen(b, when);
	ft_reap_all();
	ft.cycles++;
}

/*
 * Park round, block b: the daemon's counts match what the live workers
 * recorded, row by row; the run-down starts and must not drain while a
 * live worker holds.
 */
static void
ft_park_check_block(unsigned b, const char *when)
{
	struct rundown_holder h[FT_ROWS];
	struct rundown_block_info info;
	uint64_t held;
	unsigned i;
	size_t nh, j;
	int r;

	held = ft_live_held(b);
	nh = ft_status(b, &info, h, FT_ROWS);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_msg(info.outstanding == held, "seed %" PRIu64
	    ": %s: block %u: %" PRIu64 " outstanding, the workers "
	    "hold %" PRIu64, seed, when, b, info.outstanding, held);
	ck_assert_uint_eq(nh, ft_live_on(b) + 1);
	for (j = 0; j < nh; j++) {
		if (h[j].pid == getpid()) {
			ck_assert_uint_eq(h[j].outstanding, 0);
			continue;
		}
		for (i = 0; i < ft.nw; i++) {
			if (ft.p[i].pid == h[j].pid &&
			    ft.p[i].state == TW_ALIVE)
				break;
		}
		ck_assert_msg(i < ft.nw, "%s: block %u: pid %d holds a "
		    "row but is no live worker", when, b,
		    (int)h[j].pid);
		ck_assert_msg(h[j].outstanding ==
		    (uint64_t)area->w[i].held[b], "%s: block %u: pid "
		    "%d holds %" PRIu64 ", it says %d", when, b,
		    (int)h[j].pid, h[j].outstanding,
		    area->w[i].held[b]);
	}
	/* Start the run-down: no drain while they hold. */
	r = ft_wait(b, 0, ft_below(2));
	ck_assert_msg(r == (held > 0 ? -ETIMEDOUT : 0), "%s: poll "
	    "of block %u with %" PRIu64 " held by live workers: %s",
	    when, b, held, rundown_strerror(r));
	ft_status(b, &info, NULL, 0);
	ck_assert_int_eq(info.state, held > 0 ?
	    RUNDOWN_RUNNING_DOWN : RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.outstanding, held);
}

/* Park round: kills some parked workers, holding exactly what they
 * recorded, and checks that exactly that is reclaimed from before[]. */
static void
ft_park_kill(const struct rundown_block_info *before, const char *when)
{
	struct rundown_block_info info;
	uint64_t held[FT_NB], killed_held[FT_NB] = { 0, 0 };
	uint64_t killed_rows[FT_NB] = { 0, 0 };
	unsigned b, i;

	for (i = 0; i < ft.nw; i++) {
		if (ft.p[i].state != TW_ALIVE || ft_below(3) != 0)
			continue;
		for (b = 0; b < FT_NB; b++) {
			killed_held[b] += (uint64_t)area->w[i].held[b];
			if (area->w[i].flags & (1u << b))
				killed_rows[b]++;
		}
		ft_kill(i);
		ft_reap(i);
		ck_assert_int_eq(area->w[i].pending[0], 0);
		ck_assert_int_eq(area->w[i].pending[1], 0);
		ft.kills_parked++;
	}
	ft_await_reclaimed(NULL);
	for (b = 0; b < FT_NB; b++) {
		held[b] = ft_live_held(b);
		ft_status(b, &info, NULL, 0);
		ck_assert_msg(info.reclaimed == before[b].reclaimed +
		    killed_held[b], "seed %" PRIu64 ": %s: block %u: "
		    "reclaimed %" PRIu64 ", not %" PRIu64 " + %" PRIu64
		    " held by the parked workers killed", seed, when, b,
		    info.reclaimed, before[b].reclaimed, killed_held[b]);
		ck_assert_uint_eq(info.reclaimed_rows,
		    before[b].reclaimed_rows + killed_rows[b]);
		ck_assert_uint_eq(info.outstanding, held[b]);
		ck_assert_int_eq(info.state, held[b] > 0 ?
		    RUNDOWN_RUNNING_DOWN : RUNDOWN_DRAINED);
		ft.parked_reclaimed += killed_held[b];
	}
}

/* Park round: the rest let go; each wait must now return, and the
 * blocks open again. */
static void
ft_park_drop(char *acks, const char *when)
{
	struct rundown_block_info info;
	unsigned b;
	int r;

	ft_set_ctl(ft.epoch << 2 | PH_DROP);
	for (b = 0; b < FT_NB; b++) {
		r = ft_wait(b, FT_DEADLINE_MS, ft_below(2));
		ck_assert_msg(r == 0, "seed %" PRIu64 ": %s: the wait on block "
		    "%u did not return once no living process held it: %s\n%s",
		    seed, when, b, rundown_strerror(r), td_log());
		ft_check_inside(b, when);
	}
	ft_get(ft.ack[0], acks, ft.live, "the workers' drop");
	for (b = 0; b < FT_NB; b++) {
		ck_assert_uint_eq(ft_live_held(b), 0);
		ft_status(b, &info, NULL, 0);
		ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
		ck_assert_uint_eq(info.outstanding, 0);
		ft_reopen(b, when);
	}
}

/*
 * A park round: every live worker holds a known count on each of its
 * blocks; the daemon's counts match them exactly; both run-downs start
 * and must not drain while a live worker holds; some parked workers are
 * killed and exactly what they held is reclaimed; the rest release, and
 * then each wait must return.
 */
static void
ft_park(unsigned c)
{
	struct rundown_block_info before[FT_NB];
	unsigned b, n;
	char when[64], *acks;

	snprintf(when, sizeof(when), "park round at cycle %u", c);
	ft_replenish();
	ft_reap_all();
	ft_await_reclaimed(before);

	ft.epoch++;
	ft_set_ctl(ft.epoch << 2 | PH_PARK);
	n = ft.live;
	acks = malloc(n);
	ck_assert_ptr_nonnull(acks);
	ft_get(ft.ack[0], acks, n, "the parked workers");

	for (b = 0; b < FT_NB; b++)
		ft_park_check_block(b, when);
	ft_park_kill(before, when);
	ft_park_drop(acks, when);
	free(acks);
	ft_set_ctl((ft.epoch << 2) | PH_RUN);
	ft.parks++;
}

/* Fixture: a private directory and socket path, a daemon on it and a
 * connection to it. */
static void
ft_setup(void)
{
	/* A worker that died must fail a write, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	td_setup(0700, NULL);
}

/* The campaign's state, the shared area, the blocks and this process's
 * descriptor on each. */
static void
ft_campaign_start(void)
{
	unsigned b;
	int r;

	memset(&ft, 0, sizeof(ft));
	ft.x = seed ? seed : 1;
	ft.tag[0] = RUNDOWN_TAG('F', 'l', 't', 'A');
	ft.tag[1] = RUNDOWN_TAG('F', 'l', 't', 'B');
	printf("faults: seed %" PRIu64 " (RUNDOWN_FAULT_SEED=%" PRIu64
	    " replays it)\n", seed, seed);
	fflush(stdout);
	area = test_map_shared(sizeof(*area));
	ck_assert_int_eq(pipe2(ft.ack, O_CLOEXEC), 0);
	for (b = 0; b < FT_NB; b++) {
		ck_assert_int_eq(rundown_ctl_create(td.conn, ft.tag[b],
		    FT_ROWS), 0);
		r = rundown_attach_at(td.sock, ft.tag[b], 0, &ft.self[b]);
		ck_assert_msg(r == 0, "attach: %s", rundown_strerror(r));
	}
}

/* Everyone left detaches and exits 0; the blocks end open, empty, with
 * nothing attached. */
static void
ft_campaign_finish(struct rundown_block_info *info)
{
	unsigned b, i;

	__atomic_store_n(&area->stop, 1, SEQ);
	ft_futex(&area->ctl, FUTEX_WAKE, INT_MAX);
	for (i = 0; i < ft.nw; i++) {
		if (ft.p[i].state == TW_ALIVE) {
			test_reap_ok(ft.p[i].pid);
			ft.p[i].state = TW_DEAD;
			ft.live--;
			ft.ops += area->w[i].ops;
			ft.refused += area->w[i].refused;
		}
	}
	ft_reap_all();
	area_check();
	ft_await_reclaimed(info);
	for (b = 0; b < FT_NB; b++) {
		ck_assert_int_eq(info[b].state, RUNDOWN_OPEN);
		ck_assert_uint_eq(info[b].outstanding, 0);
		ck_assert_int_eq(rundown_detach(ft.self[b]), 0);
		ft_status(b, &info[b], NULL, 0);
		ck_assert_uint_eq(info[b].attached, 0);
		ck_assert_uint_eq(info[b].outstanding, 0);
	}
}

/* No row was ever found holding a negative count. */
static void
ft_check_log(void)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen(td.log, "r"));
	while (getline(&line, &len, f) > 0)
		ck_assert_msg(strstr(line, "holding -") == NULL, "seed %"
		    PRIu64 ": a row went negative: %s", seed, line);
	free(line);
	fclose(f);
}

/* The fault campaign (see the top of the file). */
START_TEST(test_campaign)
{
	unsigned cycles = test_scale(1600), c, b;
	struct rundown_block_info info[FT_NB];

	ft_campaign_start();
	for (c = 0; c < cycles; c++) {
		if (c % FT_PARK_EVERY == FT_PARK_EVERY - 1)
			ft_park(c);
		else
			ft_cycle(c);
	}
	ft_campaign_finish(info);
	ft_check_log();

	printf("faults: seed %" PRIu64 ": %u cycles, %u park rounds, %u "
	    "waits (%u timed out); %u workers, %" PRIu64 " acquires granted, %"
	    PRIu64 " refused\n", seed, ft.cycles, ft.parks, ft.waits,
	    ft.timeouts, ft.spawned, ft.ops, ft.refused);
	printf("faults: %u kills: %u running (%u during a run-down, %u in "
	    "the middle of an acquire or release, %u inside), %u parked, %u "
	    "during attach; %u waiters killed\n", ft.kills, ft.kills_run,
	    ft.kills_rundown, ft.kills_midop, ft.kills_inside,
	    ft.kills_parked, ft.kills_attach, ft.kills_waiter);
	for (b = 0; b < FT_NB; b++)
		printf("faults: block %u: %" PRIu64 " rows reclaimed (%" PRIu64
		    "..%" PRIu64 " expected), %" PRIu64 " protections "
		    "reclaimed (%" PRIu64 "..%" PRIu64 " expected)\n", b,
		    info[b].reclaimed_rows, ft.rows_lo[b], ft.rows_hi[b],
		    info[b].reclaimed, ft.rec_lo[b], ft.rec_hi[b]);
	printf("faults: %" PRIu64 " protections reclaimed from parked "
	    "workers, exactly as they held\n", ft.parked_reclaimed);
	close(ft.ack[0]);
	close(ft.ack[1]);
	munmap(area, sizeof(*area));
	area = NULL;
}
END_TEST

static Suite *
faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("campaign");

	tcase_add_checked_fixture(tc, ft_setup, td_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_campaign);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *e = getenv("RUNDOWN_FAULT_SEED");
	struct timespec ts;

	if (e != NULL && *e != '\0')
		seed = strtoull(e, NULL, 0);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ull ^
		    (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
	}
	/* mkdtemp's own mode: nobody else needs in. */
	return td_main("rundown-faults", 0700, FT_DEADLINE_MS, faults_suite);
}
