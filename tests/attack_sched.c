/*
 * attack_sched.c: real-time tasks and run-down cycling against the
 * run-down's fence (issue 17: the SCHED_FIFO and the 10k run-downs/s rows
 * of its table).
 *
 * Starting a run-down walks one thread over every CPU (lib/fence.h).  The
 * walk ran on the loop's thread, so a SCHED_FIFO task that never yields
 * froze the whole daemon for as long as it ran, and a user cycling
 * run-downs had the walk take every CPU 10,000 times a second.  Now the
 * walk runs on fencer.c's thread: it rises over a task it can outrank,
 * the daemon answers while a task it cannot outrank holds it up (and
 * shows that in status), and walks begin at most -f times a second.
 *
 * The real-time task is a forked child of root pinned to the last CPU
 * this test may use, at SCHED_FIFO (a user whom RLIMIT_RTPRIO lets, as
 * limits.conf does an audio group, could do the same; raising that limit
 * needs CAP_SYS_RESOURCE, which a test may not have).  It spins until
 * told to stop through shared memory, and alarm() ends it in any case.
 * Where this machine has one CPU, or refuses real-time priority, the
 * tests say so and check nothing.  The cycling user is a made-up uid.
 * Each block has a process attached on the rseq path, which is what makes
 * its run-down need the walk (a block with none is harvested without).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "testdaemon.h"
#include "testutil.h"

#define AS_UID 47421
#define AS_TAG RUNDOWN_TAG('F', 'i', 'f', 'o')
#define AS_HOG_MAX_S 15		/* alarm(): the task's end at the latest */
#define AS_ANSWER_MS 1000	/* a status round trip, loaded and
				 * sanitized (bench_shared times it) */

struct as_hog {
	pid_t pid;
	uint32_t *stop;		/* shared: set to end the spin */
	int cpu;
};

/* The last CPU this process may run on, and every other one for itself:
 * -1 if there is only one. */
static int
as_split_cpus(void)
{
	cpu_set_t set;
	int cpu, last = -1, n = 0;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set)) {
			last = cpu;
			n++;
		}
	if (n < 2)
		return -1;
	CPU_CLR(last, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	return last;
}

/*
 * Starts the spinning task at SCHED_FIFO prio, pinned to a CPU of its
 * own: false if it cannot be (said why).  Returns once the task runs at
 * its priority.
 */
static bool
as_hog_start(struct as_hog *h, int prio)
{
	struct sched_param sp = { .sched_priority = prio };
	int ready[2];
	cpu_set_t one;
	char c = 0;

	if ((h->cpu = as_split_cpus()) < 0) {
		printf("attack sched: one CPU; nothing to hold\n");
		return false;
	}
	h->stop = mmap(NULL, sizeof(*h->stop), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(h->stop, MAP_FAILED);
	*h->stop = 0;
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_ge(h->pid = test_fork_flushed(), 0);
	if (h->pid == 0) {
		close(ready[0]);
		alarm(AS_HOG_MAX_S);
		CPU_ZERO(&one);
		CPU_SET(h->cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			_exit(2);
		c = sched_setscheduler(0, SCHED_FIFO, &sp) == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1 || c != 'y')
			_exit(0);
		close(ready[1]);
		while (!__atomic_load_n(h->stop, __ATOMIC_RELAXED))
			;
		_exit(0);
	}
	close(ready[1]);
	td_read_all(ready[0], &c, 1, "the real-time task", NULL);
	close(ready[0]);
	if (c != 'y') {
		test_reap_ok(h->pid);
		printf("attack sched: SCHED_FIFO %d refused here; nothing "
		    "checked\n", prio);
		return false;
	}
	return true;
}

/* True while the task still spins (it has not exited). */
static bool
as_hog_running(const struct as_hog *h)
{
	int st;

	return waitpid(h->pid, &st, WNOHANG) == 0;
}

static void
as_hog_stop(struct as_hog *h)
{
	__atomic_store_n(h->stop, 1, __ATOMIC_RELAXED);
	test_reap_ok(h->pid);
	munmap(h->stop, sizeof(*h->stop));
}

/* A status round trip, timed: at most AS_ANSWER_MS. */
static void
as_status(struct rundown_block_info *info)
{
	struct timespec start = td_now();
	long ms;

	td_status(AS_TAG, info, NULL, 0);
	ms = td_elapsed_ms(&start);
	ck_assert_msg(ms <= AS_ANSWER_MS, "status took %ld ms", ms);
}

/*
 * A task at SCHED_FIFO 1 spins on a CPU while
 * root runs a block down.  The walk, at SCHED_FIFO 1 too, queues behind
 * it; the daemon raises it, and the run-down drains while the task still
 * spins.  Before: the loop itself walked, and nothing was answered until
 * the task stopped.  Then again: the walk ended on the task's CPU (the
 * last, visited last) and the fence thread stays where a walk ends, so
 * the next cannot even begin until the daemon raises it there.
 */
/* Attaches this process to tag, whose run-downs then need the walk. */
static rundown_cache_t *
as_attach(uint32_t tag)
{
	rundown_cache_t *ref;

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, 0, &ref), 0);
	return ref;
}

START_TEST(test_fifo_outranked)
{
	struct timespec t = test_ms(AS_HOG_MAX_S * 1000 / 2);
	struct rundown_block_info info;
	off_t off = td_log_size();
	rundown_cache_t *ref;
	struct as_hog h;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 2), 0);
	ref = as_attach(AS_TAG);
	if (!as_hog_start(&h, 1)) {
		ck_assert_int_eq(rundown_detach(ref), 0);
		return;
	}
	as_status(&info);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AS_TAG, &t), 0);
	ck_assert_msg(as_hog_running(&h), "the task ended before the "
	    "run-down drained");
	td_await_log(off, "raised to SCHED_FIFO", 1);
	as_status(&info);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.fence_ms, 0);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, AS_TAG), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AS_TAG, &t), 0);
	ck_assert_msg(as_hog_running(&h), "the task ended before the "
	    "second run-down drained");
	as_status(&info);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	as_hog_stop(&h);
	ck_assert_int_eq(rundown_detach(ref), 0);
}
END_TEST

/*
 * A task at SCHED_FIFO 99, which no step can outrank, holds up the walk
 * (until the kernel's real-time throttling, sched_rt_runtime_us, gives
 * the CPU up for a moment: 950 ms of every second by default).  The
 * daemon answers all along; status shows the start waiting for its
 * fence, and no wait has returned while it does; past FENCER_FALLBACK_MS
 * the log says that new clients take the atomic path; the wait returns,
 * drained, once the walk is done.
 */
START_TEST(test_fifo_unbeatable)
{
	struct rundown_block_info info;
	rundown_conn_t *c2;
	off_t off = td_log_size();
	rundown_cache_t *ref;
	struct as_hog h;
	bool returned;
	int res[2];
	pid_t waiter;
	int32_t r;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 2), 0);
	ck_assert_int_eq(pipe2(res, O_CLOEXEC), 0);
	ref = as_attach(AS_TAG);
	if (!as_hog_start(&h, 99)) {
		ck_assert_int_eq(rundown_detach(ref), 0);
		return;
	}
	waiter = test_fork_flushed();
	ck_assert_int_ge(waiter, 0);
	if (waiter == 0) {
		r = rundown_connect(td.sock, &c2);
		if (r == 0)
			r = rundown_ctl_wait(c2, AS_TAG, NULL);
		test_put(res[1], &r, sizeof(r));
		_exit(0);
	}
	/* The start waits for its walk, and says so; the waiter's answer
	 * is looked for before each status, so one there while status
	 * still shows the fence under way came before the fence. */
	do {
		returned = td_readable(res[0]);
		as_status(&info);
		ck_assert_msg(!returned || info.fence_ms == 0, "the wait "
		    "returned %u ms into its fence", info.fence_ms);
		td_pause();
	} while (info.fence_ms == 0 && !returned);
	ck_assert_msg(info.fence_ms > 0, "drained under a FIFO 99 task");
	td_await_log(off, "take the atomic path", 1);
	ck_assert_msg(as_hog_running(&h), "the task ended early");
	returned = td_readable(res[0]);
	as_status(&info);
	ck_assert_msg(!returned || info.fence_ms == 0, "the wait returned %u "
	    "ms into its fence", info.fence_ms);
	as_hog_stop(&h);
	td_read_all(res[0], &r, sizeof(r), "the waiter", NULL);
	ck_assert_int_eq(r, 0);
	test_reap_ok(waiter);
	as_status(&info);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.fence_ms, 0);
	close(res[0]);
	close(res[1]);
	ck_assert_int_eq(rundown_detach(ref), 0);
}
END_TEST

#define AS_RATE 50		/* the daemon's -f here */
#define AS_CYCLE_MS 1000

/*
 * A user cycles run-downs of its own blocks as fast as the daemon lets it
 * (WAIT, then REINIT) for a second, on four connections at once.  Each
 * cycle's start needs a walk of its own, and the user's walks begin at
 * least 1/-f s apart (registry.c's budget), so no connection gets more
 * than -f cycles a second, plus the free first and one for a start the
 * loop let through a turn early; without the budget each gets thousands.
 * Root's status is answered meanwhile.
 */
START_TEST(test_cycling_budget)
{
	struct rundown_block_info info;
	int out[2], k, st;
	unsigned long total = 0, most = 0, n;
	const unsigned long cap = AS_RATE * AS_CYCLE_MS / 1000 + 3;
	pid_t pid[4];

	/* Root's block, whose status is asked meanwhile. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 2), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	for (k = 0; k < 4; k++) {
		ck_assert_int_ge(pid[k] = test_fork_flushed(), 0);
		if (pid[k] != 0)
			continue;
		gid_t g = AS_UID;
		struct timespec start;
		rundown_conn_t *c;
		rundown_cache_t *ref;
		uint32_t tag = AS_TAG + 1 + (uint32_t)k;

		close(out[0]);
		if (setgroups(1, &g) != 0 || setresgid(g, g, g) != 0 ||
		    setresuid(AS_UID, AS_UID, AS_UID) != 0 ||
		    rundown_connect(td.sock, &c) != 0 ||
		    rundown_ctl_create(c, tag, 1) != 0 ||
		    rundown_attach_at(td.sock, tag, 0, &ref) != 0)
			_exit(3);
		n = 0;
		start = td_now();
		while (td_elapsed_ms(&start) < AS_CYCLE_MS) {
			if (rundown_ctl_wait(c, tag, NULL) != 0 ||
			    rundown_ctl_reinit(c, tag) != 0)
				_exit(4);
			n++;
		}
		test_put(out[1], &n, sizeof(n));
		_exit(0);
	}
	close(out[1]);
	for (k = 0; k < 4; k++) {
		as_status(&info);
		td_read_all(out[0], &n, sizeof(n), "a cycler", NULL);
		total += n;
		most = n > most ? n : most;
	}
	for (k = 0; k < 4; k++) {
		ck_assert_int_eq(waitpid(pid[k], &st, 0), pid[k]);
		ck_assert_int_eq(st, 0);
	}
	printf("attack sched: %lu run-downs in %d ms on 4 connections, at "
	    "most %lu on one (-f %d)\n", total, AS_CYCLE_MS, most, AS_RATE);
	ck_assert_msg(total >= 4, "%lu run-downs", total);
	ck_assert_msg(most <= cap, "%lu run-downs on one connection in %d ms "
	    "at -f %d", most, AS_CYCLE_MS, AS_RATE);
	close(out[0]);
}
END_TEST

static void
as_setup(void)
{
	static const char *const extra[] = { "-u", "47421", "-f", "50",
	    NULL };

	td_setup(0711, extra);
}

TCase *
attack_sched_tcase(void)
{
	TCase *tc = tcase_create("sched");

	tcase_add_checked_fixture(tc, as_setup, td_teardown);
	tcase_add_test(tc, test_fifo_outranked);
	tcase_add_test(tc, test_fifo_unbeatable);
	tcase_add_test(tc, test_cycling_budget);
	return tc;
}
