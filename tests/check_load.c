/*
 * check_load.c: rundownd under load.
 *
 * One test starts its own rundownd (tests/testdaemon.c) and, for a bounded
 * time, keeps LD_CONNS control connections busy while LD_HAMMERS client
 * processes acquire and release on shared blocks as fast as they can:
 *
 *   hammers  each attaches to a block of its own (ldH0, ldH1, ...) and to
 *            the cycle block (ldCy), then acquires and releases in a loop,
 *            now and then on the cycle block too (which is refused while
 *            that block is not open).
 *   loaders  LD_PROCS processes of LD_THREADS threads, each thread with a
 *            connection of its own and a private tag, going round a fixed
 *            sequence of requests whose every answer is known: status,
 *            list, create (twice: EEXIST), attach (a connection of its
 *            own, accepted and closed each round), a poll and a 1 ms wait
 *            on the block it holds (ETIMEDOUT: the second one goes through
 *            the daemon's timer and drain watcher), completed and free
 *            while it runs down (EBUSY), the release that drains it, a
 *            poll (0), completed, reinit, completed on the open block
 *            (EALREADY), detach, free, and status of the freed tag
 *            (ENOENT).  Every LD_CYCLE_EVERY rounds the first thread of
 *            each loader also runs the shared cycle block down (a wait
 *            that the hammers' releases end), completes and re-opens it;
 *            the four of them race, so completed and reinit may also
 *            answer EALREADY or EBUSY.
 *
 * An answer the sequence expects counts as a request (and, if it is an
 * error code, as an expected one); any other answer is an error, and the
 * test requires none.  Requests and pairs are counted in a MAP_SHARED
 * area; the first error's description lands there too.
 *
 * Memory stays flat: the daemon's VmRSS is read from /proc after a
 * warm-up (a third of the run) and again at the end of the load, and must
 * not grow by more than LD_RSS_SLACK_KB or LD_RSS_PERCENT of the first
 * sample, whichever is larger.  The daemon's RSS is 3 MiB or so, so the
 * bound is 1 MiB; the plain build answers about 2 x 10^4 requests a second
 * on two shared cores, some 4 x 10^4 in the two measured seconds, so a
 * leak of 100 bytes a request grows RSS by about 4 MiB, four times the
 * bound (a daemon made to leak 100 bytes, and 50, a request failed here
 * by 2 MiB; without a leak the growth is under 150 kB).  The test prints
 * the smallest leak per request that the bound catches in the run at
 * hand.  Under sanitizers RSS is shadow memory and quarantine more than
 * the daemon's own, so the RSS check is skipped there; AddressSanitizer's
 * leak check at the daemon's exit (which must be 0, td_teardown) catches
 * leaks in that build instead.  The descriptor and thread checks stay in
 * every build: once every load connection has closed, the daemon must be
 * back at the number of open descriptors (/proc/PID/fd) and threads it
 * had before the load started (one leaked descriptor fails the test).
 * The daemon handles a closed connection or a joined watcher on its own
 * loop, which nothing tells the test about, so that is polled with
 * td_pause() under a deadline that is a safety net only.
 *
 * The length of the run: LD_SECONDS, or RUNDOWN_LOAD_SECONDS, divided by
 * RUNDOWN_TEST_DIVISOR (sanitizer builds), at least one second.  The run
 * sleeps through it: the load is bounded in time by design, and no
 * outcome depends on how much was done in it.
 *
 * Connections: LD_CONNS loader connections, at most as many attachment
 * connections at once, two per hammer, and the test's own two: 168, under
 * the per-user limit the daemon is to get (at least 256).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "testdaemon.h"
#include "testutil.h"

/* Sanitized builds (the daemon is built with the same flags). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LD_SANITIZED 1
#endif
#endif
#ifndef LD_SANITIZED
#define LD_SANITIZED 0
#endif

#define LD_DEADLINE_MS 30000	/* safety net of every poll and read */
#define LD_SECONDS 3		/* default length of the load */
#define LD_PROCS 4		/* loader processes */
#define LD_THREADS 20		/* connections (threads) in each */
#define LD_CONNS (LD_PROCS * LD_THREADS)
#define LD_HAMMERS 3		/* acquiring client processes */
#define LD_CYCLE_EVERY 8	/* rounds between runs of the cycle block */
#define LD_CYCLE_WAIT_MS 10000	/* a run-down of the cycle block this long
				 * is a stall */
#define LD_LIST_MAX 8
#define LD_RSS_SLACK_KB 1024	/* RSS growth allowed: 1 MiB, or ... */
#define LD_RSS_PERCENT 10	/* ... this share of the first sample */
#define LD_LINE 64

#define SEQ __ATOMIC_SEQ_CST
#define RELAXED __ATOMIC_RELAXED

#define LD_TAG_CYCLE RUNDOWN_TAG('l', 'd', 'C', 'y')

/* The hammered block of hammer i. */
static uint32_t
ld_tag_hammer(unsigned i)
{
	return RUNDOWN_TAG('l', 'd', 'H', '0' + i);
}

/* The private block of loader thread slot (proc * LD_THREADS + thread). */
static uint32_t
ld_tag_private(unsigned slot)
{
	return RUNDOWN_TAG('L', 'd', 'a' + slot / LD_THREADS,
	    'A' + slot % LD_THREADS);
}

/* ---- the shared area ----------------------------------------------------- */

/* A counter alone on its cache line. */
struct ld_counter {
	uint64_t v;
	char pad[LD_LINE - sizeof(uint64_t)];
};

/* What the test and its children share (MAP_SHARED, mapped before the
 * forks); all but failure.msg accessed atomically. */
struct ld_area {
	struct ld_counter requests[LD_CONNS];	/* answered as expected */
	struct ld_counter expected[LD_CONNS];	/* of those, error codes */
	struct ld_counter pairs[LD_HAMMERS];	/* acquire/release pairs */
	struct ld_counter refused[LD_HAMMERS];	/* cycle block not open */
	uint32_t connected;	/* loader connections made */
	uint32_t stop;		/* loaders: finish the round and leave */
	uint32_t hstop;		/* hammers: leave */
	uint32_t errors;	/* unexpected answers */
	struct test_failure failure;	/* the first unexpected answer */
};

static struct ld_area *area;

static uint64_t
ld_sum(const struct ld_counter *c, unsigned n)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		sum += __atomic_load_n(&c[i].v, RELAXED);
	return sum;
}

/* In a child: counts an error, keeps the first one's description and
 * stops the loaders (the test fails anyway; the rest of the run would
 * only bury the first error under its consequences). */
static void __attribute__((format(printf, 1, 2)))
ld_error(const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&area->errors, 1, SEQ);
	va_start(ap, fmt);
	test_failure_vset(&area->failure, fmt, ap);
	va_end(ap);
	__atomic_store_n(&area->stop, 1, SEQ);
}

/* ---- loaders ------------------------------------------------------------- */

struct ld_thread {
	pthread_t thread;
	unsigned slot;
	bool cycler;
	rundown_conn_t *conn;
};

/* Accounts for one answer r that should be want: true if it was. */
static bool
ld_expect(struct ld_thread *t, const char *op, uint32_t tag, int r, int want)
{
	char buf[RUNDOWN_TAG_BUFSZ];

	if (r == want) {
		__atomic_add_fetch(&area->requests[t->slot].v, 1, RELAXED);
		if (r != 0)
			__atomic_add_fetch(&area->expected[t->slot].v, 1,
			    RELAXED);
		return true;
	}
	ld_error("pid %d slot %u: %s %s: %s (%d), expected %s (%d)",
	    (int)getpid(), t->slot, op, rundown_tag_format(tag, buf),
	    rundown_strerror(r), r, rundown_strerror(want), want);
	return false;
}

/* As ld_expect(), for a race between cyclers: 0, EALREADY or EBUSY. */
static bool
ld_expect_race(struct ld_thread *t, const char *op, int r)
{
	if (r == -EALREADY || r == -EBUSY)
		return ld_expect(t, op, LD_TAG_CYCLE, r, r);
	return ld_expect(t, op, LD_TAG_CYCLE, r, 0);
}

/* One round on the thread's private block; false after an error (the
 * block is then left as it is: the test fails, teardown removes it). */
static bool
ld_round(struct ld_thread *t, uint32_t round)
{
	struct rundown_block_info info, list[LD_LIST_MAX];
	const struct timespec poll0 = { 0, 0 }, ms1 = { 0, 1000000 };
	uint32_t tag = ld_tag_private(t->slot), h;
	rundown_cache_t *ref;
	rundown_conn_t *c = t->conn;
	size_t n;
	int r;

	h = ld_tag_hammer((t->slot + round) % LD_HAMMERS);
	if (!ld_expect(t, "status", h, rundown_ctl_status(c, h, &info, NULL,
	    0, &n), 0))
		return false;
	if (!ld_expect(t, "list", 0, rundown_ctl_list(c, list, LD_LIST_MAX,
	    &n), 0))
		return false;
	if (!ld_expect(t, "create", tag, rundown_ctl_create(c, tag, 1), 0) ||
	    !ld_expect(t, "create again", tag, rundown_ctl_create(c, tag, 1),
	    -EEXIST))
		return false;
	/* Its own connection, accepted now and closed at the detach. */
	if (!ld_expect(t, "attach", tag, rundown_attach_at(td.sock, tag, 0,
	    &ref), 0))
		return false;
	if (!rundown_cache_acquire(ref)) {
		ld_error("pid %d slot %u: acquire refused on an open block",
		    (int)getpid(), t->slot);
		return false;
	}
	/* Held: the poll starts the run-down and cannot drain it; the 1 ms
	 * wait queues a waiter with a timer and starts a drain watcher. */
	if (!ld_expect(t, "poll held", tag, rundown_ctl_wait(c, tag, &poll0),
	    -ETIMEDOUT) ||
	    !ld_expect(t, "wait 1 ms held", tag, rundown_ctl_wait(c, tag, &ms1),
	    -ETIMEDOUT) ||
	    !ld_expect(t, "completed running down", tag,
	    rundown_ctl_completed(c, tag), -EBUSY) ||
	    !ld_expect(t, "free running down", tag, rundown_ctl_free(c, tag),
	    -EBUSY))
		return false;
	/* The release that drains it (the block has this one row). */
	rundown_cache_release(ref);
	if (!ld_expect(t, "poll drained", tag, rundown_ctl_wait(c, tag,
	    &poll0), 0) ||
	    !ld_expect(t, "completed", tag, rundown_ctl_completed(c, tag), 0) ||
	    !ld_expect(t, "reinit", tag, rundown_ctl_reinit(c, tag), 0) ||
	    !ld_expect(t, "completed open", tag, rundown_ctl_completed(c, tag),
	    -EALREADY))
		return false;
	if (!ld_expect(t, "detach", tag, rundown_detach(ref), 0))
		return false;
	r = rundown_ctl_free(c, tag);
	if (!ld_expect(t, "free", tag, r, 0) ||
	    !ld_expect(t, "status freed", tag, rundown_ctl_status(c, tag, &info,
	    NULL, 0, &n), -ENOENT))
		return false;

	if (t->cycler && round % LD_CYCLE_EVERY == 0) {
		const struct timespec stall = test_ms(LD_CYCLE_WAIT_MS);

		/* Ends once the hammers have released what they hold. */
		if (!ld_expect(t, "cycle wait", LD_TAG_CYCLE,
		    rundown_ctl_wait(c, LD_TAG_CYCLE, &stall), 0) ||
		    !ld_expect_race(t, "cycle completed",
		    rundown_ctl_completed(c, LD_TAG_CYCLE)) ||
		    !ld_expect_race(t, "cycle reinit",
		    rundown_ctl_reinit(c, LD_TAG_CYCLE)))
			return false;
	}
	return true;
}

static void *
ld_loader_thread(void *arg)
{
	struct ld_thread *t = arg;
	uint32_t round;
	int r;

	if ((r = rundown_connect(td.sock, &t->conn)) != 0) {
		ld_error("pid %d slot %u: connect: %s", (int)getpid(), t->slot,
		    rundown_strerror(r));
		return NULL;
	}
	__atomic_add_fetch(&area->connected, 1, SEQ);
	for (round = 0; !__atomic_load_n(&area->stop, RELAXED); round++) {
		if (!ld_round(t, round))
			break;
	}
	rundown_disconnect(t->conn);
	return NULL;
}

/* A loader process: LD_THREADS connections until told to stop. */
static void
ld_loader_main(unsigned proc)
{
	struct ld_thread t[LD_THREADS];
	unsigned i, started;
	int e;

	prctl(PR_SET_NAME, "ld-loader", 0, 0, 0);
	for (started = 0; started < LD_THREADS; started++) {
		i = started;
		t[i].slot = proc * LD_THREADS + i;
		t[i].cycler = i == 0;
		t[i].conn = NULL;
		if ((e = pthread_create(&t[i].thread, NULL, ld_loader_thread,
		    &t[i])) != 0) {
			ld_error("pid %d: pthread_create: %s", (int)getpid(),
			    strerror(e));
			break;
		}
	}
	for (i = 0; i < started; i++)
		pthread_join(t[i].thread, NULL);
	_exit(0);
}

/* ---- hammers ------------------------------------------------------------- */

/* A hammer: attaches to its block and the cycle block, says so on ready,
 * acquires and releases until told to stop, detaches. */
static void
ld_hammer_main(unsigned i, int ready)
{
	rundown_cache_t *ref, *cyc;
	uint64_t k;
	int32_t r;

	prctl(PR_SET_NAME, "ld-hammer", 0, 0, 0);
	r = rundown_attach_at(td.sock, ld_tag_hammer(i), 0, &ref);
	if (r == 0 && (r = rundown_attach_at(td.sock, LD_TAG_CYCLE, 0,
	    &cyc)) != 0)
		rundown_detach(ref);
	if (write(ready, &r, sizeof(r)) != (ssize_t)sizeof(r) || r != 0)
		_exit(10);
	close(ready);
	for (k = 0; !__atomic_load_n(&area->hstop, RELAXED); k++) {
		if (!rundown_cache_acquire(ref)) {
			ld_error("hammer %u: acquire refused on its open "
			    "block", i);
			break;
		}
		rundown_cache_release(ref);
		__atomic_add_fetch(&area->pairs[i].v, 1, RELAXED);
		if (k % 64 != 0)
			continue;
		if (rundown_cache_acquire(cyc))
			rundown_cache_release(cyc);
		else
			__atomic_add_fetch(&area->refused[i].v, 1, RELAXED);
	}
	if ((r = rundown_detach(cyc)) != 0 || (r = rundown_detach(ref)) != 0) {
		ld_error("hammer %u: detach: %s", i, rundown_strerror(r));
		_exit(11);
	}
	_exit(0);
}

/* ---- the daemon, seen from /proc ------------------------------------------ */

/* A "Name:  value" field of /proc/PID/status (VmRSS in kB, Threads). */
static long
ld_proc_field(pid_t pid, const char *name)
{
	char path[64], line[256];
	size_t len = strlen(name);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	ck_assert_msg(v >= 0, "no %s in %s", name, path);
	return v;
}

/* Descriptors the daemon has open. */
static long
ld_proc_fds(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	return (long)test_count_entries(path);
}

/* How many of pid's threads are closer lanes ("rd-close", src/closer.c):
 * a lane lives while closes it was given are pending, each holding a
 * descriptor the daemon has already let go of. */
static long
ld_closers(pid_t pid)
{
	char path[320], comm[32];
	struct dirent *de;
	long n = 0;
	ssize_t k;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	d = opendir(path);
	ck_assert_msg(d != NULL, "%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/comm",
		    (long)pid, de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		k = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (k > 0 && strncmp(comm, "rd-close", 8) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Waits (up to LD_DEADLINE_MS) until the daemon closes nothing in the
 * background, so that a count of its descriptors is what it holds. */
static void
ld_closers_idle(pid_t pid)
{
	struct timespec start = td_now();

	while (ld_closers(pid) != 0 && td_elapsed_ms(&start) <= LD_DEADLINE_MS)
		td_pause();
}

/* ---- the test ------------------------------------------------------------ */

/* Milliseconds of load: LD_SECONDS or RUNDOWN_LOAD_SECONDS, divided by
 * RUNDOWN_TEST_DIVISOR, at least one second. */
static long
ld_length_ms(void)
{
	const char *e = getenv("RUNDOWN_LOAD_SECONDS");
	const char *d = getenv("RUNDOWN_TEST_DIVISOR");
	unsigned long s = e != NULL ? strtoul(e, NULL, 10) : LD_SECONDS;
	unsigned long div = d != NULL ? strtoul(d, NULL, 10) : 1;
	long ms;

	if (s == 0 || s > 3600)
		s = LD_SECONDS;
	if (div == 0)
		div = 1;
	ms = (long)(s * 1000 / div);
	return ms < 1000 ? 1000 : ms;
}

/* Milliseconds from a to b, at least 1. */
static long
ld_ms(const struct timespec *a, const struct timespec *b)
{
	long ms = (b->tv_sec - a->tv_sec) * 1000L +
	    (b->tv_nsec - a->tv_nsec) / 1000000L;

	return ms > 0 ? ms : 1;
}

/* The load runs for a bounded time: the sleep is the test's length, what
 * it measures over, not a wait for something to happen. */
static void
ld_sleep_ms(long ms)
{
	struct timespec ts = test_ms(ms);

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Reads n bytes from fd within the deadline. */
static void
ld_get(int fd, void *buf, size_t n, const char *what)
{
	td_read_all(fd, buf, n, what, NULL);
}

static void
ld_setup(void)
{
	/* A child that died must fail a write, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	td_setup(0700, NULL);
	area = test_map_shared(sizeof(*area));
}

static void
ld_teardown(void)
{
	td_teardown();
	if (area != NULL)
		munmap(area, sizeof(*area));
	area = NULL;
}

/*
 * Has the daemon start and join one drain watcher before the baseline is
 * taken: ThreadSanitizer starts a background thread of its own in the
 * daemon at its first pthread_create(), which would otherwise count as a
 * thread the load left behind.  The block stays (a free would close its
 * descriptor once its watcher is gone, at a moment the test cannot see),
 * and so does the attachment (detached after the load): a detach would
 * close its connection at a moment the test cannot see, and the baseline
 * of descriptors would race with it.
 */
static rundown_cache_t *
ld_prime(void)
{
	const struct timespec ms1 = { 0, 1000000 };
	uint32_t tag = RUNDOWN_TAG('l', 'd', 'P', 'r');
	struct rundown_block_info info;
	struct timespec start;
	rundown_cache_t *ref;
	int r;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 1), 0);
	r = rundown_attach_at(td.sock, tag, 0, &ref);
	ck_assert_msg(r == 0, "attach: %s", rundown_strerror(r));
	ck_assert(rundown_cache_acquire(ref));
	r = rundown_ctl_wait(td.conn, tag, &ms1);
	ck_assert_msg(r == -ETIMEDOUT, "a wait on a block held: %s",
	    rundown_strerror(r));
	/* The watcher, armed for the run-down (its log line), sees the
	 * drain, tells the loop and is joined: the block reads drained and
	 * the daemon has no watcher thread left. */
	rundown_cache_release(ref);
	start = td_now();
	for (;;) {
		td_status(tag, &info, NULL, 0);
		if (info.state == RUNDOWN_DRAINED &&
		    td_threads_named("rd-watch") == 0)
			break;
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "the primed block's watcher did not end: state %d, %u "
		    "watchers", (int)info.state, td_threads_named("rd-watch"));
		td_pause();
	}
	return ref;
}

/* What the phases of test_load start and measure. */
struct ld_run {
	pid_t hammers[LD_HAMMERS], loaders[LD_PROCS];
	rundown_cache_t *prime;
	struct timespec t0, t1, t2;
	long rss0, rss1, rss2, rss3, fds0, fds3, thr0, thr3;
	uint64_t req1, req2, pairs0, pairs2, expected;
};

/* The blocks, the primed block, and the hammers attached to theirs. */
static void
ld_start_hammers(struct ld_run *lr)
{
	unsigned i;
	int ready[2];
	int32_t r;

	/* The blocks the hammers hold and the cycle block. */
	for (i = 0; i < LD_HAMMERS; i++)
		ck_assert_int_eq(rundown_ctl_create(td.conn, ld_tag_hammer(i),
		    4), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, LD_TAG_CYCLE, 8), 0);

	lr->prime = ld_prime();

	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	for (i = 0; i < LD_HAMMERS; i++) {
		if ((lr->hammers[i] = test_fork_flushed()) == 0) {
			close(ready[0]);
			ld_hammer_main(i, ready[1]);
		}
	}
	close(ready[1]);
	for (i = 0; i < LD_HAMMERS; i++) {
		ld_get(ready[0], &r, sizeof(r), "a hammer's attach");
		ck_assert_msg(r == 0, "hammer attach: %s", rundown_strerror(r));
	}
	close(ready[0]);
}

/* The loaders run for length ms; the daemon's RSS and the counters are
 * read after the warm-up and at the end. */
static void
ld_run_load(struct ld_run *lr, long length, long warm)
{
	unsigned i;

	lr->t0 = td_now();
	lr->pairs0 = ld_sum(area->pairs, LD_HAMMERS);
	for (i = 0; i < LD_PROCS; i++) {
		if ((lr->loaders[i] = test_fork_flushed()) == 0)
			ld_loader_main(i);
	}
	ld_sleep_ms(warm);
	lr->t1 = td_now();
	lr->rss1 = ld_proc_field(td.pid, "VmRSS");
	lr->req1 = ld_sum(area->requests, LD_CONNS);
	ld_sleep_ms(length - warm);
	lr->t2 = td_now();
	lr->rss2 = ld_proc_field(td.pid, "VmRSS");
	lr->req2 = ld_sum(area->requests, LD_CONNS);
	lr->expected = ld_sum(area->expected, LD_CONNS);
	lr->pairs2 = ld_sum(area->pairs, LD_HAMMERS);

	__atomic_store_n(&area->stop, 1, SEQ);
	for (i = 0; i < LD_PROCS; i++)
		test_reap_ok(lr->loaders[i]);
}

/* Every load connection is closed: the daemon must give back their
 * descriptors, pidfds and drain watchers.  Then the primed block and
 * the hammers go. */
static void
ld_await_closed(struct ld_run *lr)
{
	struct timespec start;
	unsigned i;
	int32_t r;

	start = td_now();
	for (;;) {
		lr->fds3 = ld_proc_fds(td.pid);
		lr->thr3 = ld_proc_field(td.pid, "Threads");
		if ((lr->fds3 <= lr->fds0 && lr->thr3 <= lr->thr0) ||
		    td_elapsed_ms(&start) > LD_DEADLINE_MS)
			break;
		td_pause();
	}
	lr->rss3 = ld_proc_field(td.pid, "VmRSS");
	r = rundown_detach(lr->prime);
	ck_assert_msg(r == 0, "detach from the primed block: %s",
	    rundown_strerror(r));

	__atomic_store_n(&area->hstop, 1, SEQ);
	for (i = 0; i < LD_HAMMERS; i++)
		test_reap_ok(lr->hammers[i]);
}

/* The summary lines: throughput, RSS, descriptors and threads. */
static void
ld_report(const struct ld_run *lr, long wms, long slack)
{
	printf("load: %u connections (%u made) for %ld ms: %" PRIu64
	    " requests, %.0f/s, %" PRIu64 " expected error answers, %u errors"
	    "\n", LD_CONNS, __atomic_load_n(&area->connected, SEQ),
	    ld_ms(&lr->t0, &lr->t2), lr->req2, (double)lr->req2 * 1000.0 /
	    (double)ld_ms(&lr->t0, &lr->t2), lr->expected,
	    __atomic_load_n(&area->errors, SEQ));
	printf("load: %u hammers: %.0f acquire/release pairs/s (%" PRIu64
	    " refused on the cycle block)\n", LD_HAMMERS,
	    (double)(lr->pairs2 - lr->pairs0) * 1000.0 /
	    (double)ld_ms(&lr->t0, &lr->t2),
	    ld_sum(area->refused, LD_HAMMERS));
	printf("load: daemon RSS %ld kB idle, %ld kB after warm-up, %ld kB "
	    "at the end (%" PRIu64 " requests in %ld ms between), %ld kB "
	    "after the close; bound +%ld kB%s\n", lr->rss0, lr->rss1,
	    lr->rss2, lr->req2 - lr->req1, wms, lr->rss3, slack,
	    LD_SANITIZED ? " (not checked: sanitizer build)" : "");
	if (!LD_SANITIZED && lr->req2 > lr->req1)
		printf("load: a leak of %.0f bytes a request or more would "
		    "exceed the bound\n",
		    (double)slack * 1024.0 / (double)(lr->req2 - lr->req1));
	printf("load: daemon fds %ld before, %ld after; threads %ld before, "
	    "%ld after\n", lr->fds0, lr->fds3, lr->thr0, lr->thr3);
	fflush(stdout);
}

/* No unexpected answer, every connection made, requests answered after
 * the warm-up, nothing left behind, and (unsanitized) the RSS bound. */
static void
ld_check(const struct ld_run *lr, long slack)
{
	ck_assert_msg(__atomic_load_n(&area->errors, SEQ) == 0,
	    "%u unexpected answers; the first: %s\ndaemon log:\n%s",
	    __atomic_load_n(&area->errors, SEQ), area->failure.msg, td_log());
	ck_assert_msg(__atomic_load_n(&area->connected, SEQ) == LD_CONNS,
	    "only %u of %u loader connections made",
	    __atomic_load_n(&area->connected, SEQ), LD_CONNS);
	ck_assert_msg(lr->req2 > lr->req1,
	    "no request answered after the warm-up");
	/* Fewer is no leak: a close queued before the first count may end
	 * after it. */
	ck_assert_msg(lr->fds3 <= lr->fds0, "the daemon has %ld descriptors "
	    "open after the load, %ld before", lr->fds3, lr->fds0);
	ck_assert_msg(lr->thr3 <= lr->thr0, "the daemon has %ld threads after "
	    "the load, %ld before", lr->thr3, lr->thr0);
	if (!LD_SANITIZED)
		ck_assert_msg(lr->rss2 - lr->rss1 <= slack, "the daemon's RSS "
		    "grew from %ld kB to %ld kB over %" PRIu64 " requests "
		    "(bound %ld kB)", lr->rss1, lr->rss2, lr->req2 - lr->req1,
		    slack);
}

/* The load (see the top of the file): no error, no leak. */
START_TEST(test_load)
{
	struct ld_run lr;
	long length = ld_length_ms(), warm = length / 3, wms, slack;

	ld_start_hammers(&lr);

	/* Before the load: what the daemon has with the hammers attached,
	 * once it has closed what their attaches left it to close. */
	ld_closers_idle(td.pid);
	lr.rss0 = ld_proc_field(td.pid, "VmRSS");
	lr.fds0 = ld_proc_fds(td.pid);
	lr.thr0 = ld_proc_field(td.pid, "Threads");

	ld_run_load(&lr, length, warm);
	ld_await_closed(&lr);
	wms = ld_ms(&lr.t1, &lr.t2);
	slack = lr.rss1 * LD_RSS_PERCENT / 100;
	if (slack < LD_RSS_SLACK_KB)
		slack = LD_RSS_SLACK_KB;

	ld_report(&lr, wms, slack);
	ld_check(&lr, slack);
}
END_TEST

static Suite *
load_suite(void)
{
	Suite *s = suite_create("load");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, ld_setup, ld_teardown);
	test_timeout(tc, 120);
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* mkdtemp's own mode: nobody else needs in. */
	return td_main("rundown-load", 0700, LD_DEADLINE_MS, load_suite);
}
