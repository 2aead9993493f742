/*
 * check_async.c: the wait in two halves, rundown_cache_wait_start() and
 * rundown_cache_wait_finish(), on the library's own blocks and on blocks
 * of a private rundownd.
 *
 * A started wait must have begun the run-down (acquires fail), its
 * descriptor must stay unreadable while protection is held and become
 * readable at the drain, and finish must then return 0 and close it.  An
 * abandoned wait (its descriptor closed without finish) must leave no
 * thread and no descriptor behind: for a block of the library's own the
 * test watches the helper thread end through a pidfd of that thread
 * (Linux 6.9 and later; before, /proc/self/task is read until the thread
 * is gone), and counts /proc/self/task and /proc/self/fd before and
 * after.  Every wait on a descriptor is a poll() whose timeout is only a
 * failure bound; the tests never sleep to let something happen.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "block.h"
#include "cache.h"
#include "fence.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

#define AS_DEADLINE_MS 20000	/* failure bound of every poll */
#define AS_MAXTASKS 256
#define AS_WAITS 4		/* waits at once on one block */

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL	/* linux/pidfd.h, Linux 6.9 */
#endif

/* ---- what the process holds ------------------------------------------- */

static unsigned
count_tasks(void)
{
	return test_count_entries("/proc/self/task");
}

/* Counts the directory's own descriptor too, the same every time. */
static unsigned
count_fds(void)
{
	return test_count_entries("/proc/self/fd");
}

/* This process's threads: how many, their ids in tid[]. */
static unsigned
list_tasks(pid_t *tid, unsigned max)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/task"));
	while ((de = readdir(d)) != NULL && n < max)
		if (de->d_name[0] != '.')
			tid[n++] = (pid_t)atoi(de->d_name);
	closedir(d);
	return n;
}

/* The one thread in now[] that before[] lacks: the helper a start made. */
static pid_t
new_task(const pid_t *before, unsigned nb)
{
	pid_t now[AS_MAXTASKS], found = 0;
	unsigned n = list_tasks(now, AS_MAXTASKS), i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nb && before[j] != now[i]; j++)
			;
		if (j == nb) {
			ck_assert_msg(found == 0, "two new threads: %d and %d",
			    (int)found, (int)now[i]);
			found = now[i];
		}
	}
	ck_assert_msg(found != 0, "no new thread");
	return found;
}

/* True while thread tid of this process is there. */
static bool
task_exists(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}

/* Waits until thread tid sleeps (state S in its stat: the helper in its
 * futex wait); fails if it ends first. */
static void
task_await_asleep(pid_t tid)
{
	struct timespec start = td_now();
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (;;) {
		ck_assert_msg((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0,
		    "helper thread %d ended before it slept", (int)tid);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		ck_assert_msg(n > 0, "helper thread %d ended before it slept",
		    (int)tid);
		buf[n] = '\0';
		/* The state follows the command name's closing parenthesis. */
		ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
		if (p[1] == ' ' && p[2] == 'S')
			return;
		ck_assert_msg(td_elapsed_ms(&start) < AS_DEADLINE_MS,
		    "helper thread %d not asleep after %d ms", (int)tid,
		    AS_DEADLINE_MS);
		sched_yield();
	}
}

/* What a thread's end is watched through: a pidfd of the thread, or -1
 * where the kernel has none (before 6.9). */
static int
task_watch(pid_t tid)
{
	return (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
}

/*
 * Waits until thread tid has ended, under the failure bound: the pidfd
 * polls readable when it exits, and the thread leaves /proc/self/task
 * as the kernel releases it, right after.  Without a pidfd, looks at
 * /proc/self/task until it is gone.
 */
static void
task_await_end(pid_t tid, int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	struct timespec start = td_now();
	int r;

	if (pidfd >= 0) {
		do
			r = poll(&p, 1, AS_DEADLINE_MS);
		while (r < 0 && errno == EINTR);
		ck_assert_msg(r == 1, "helper thread %d still runs after %d ms",
		    (int)tid, AS_DEADLINE_MS);
		close(pidfd);
	}
	while (task_exists(tid)) {
		ck_assert_msg(td_elapsed_ms(&start) < AS_DEADLINE_MS,
		    "helper thread %d still listed after %d ms", (int)tid,
		    AS_DEADLINE_MS);
		sched_yield();
	}
}

/* ---- descriptors ------------------------------------------------------ */

/* Whether fd polls readable within ms milliseconds (0: now). */
static bool
readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	ck_assert_int_ge(r, 0);
	return r == 1;
}

static void
assert_closed(int fd)
{
	errno = 0;
	ck_assert_msg(fcntl(fd, F_GETFD) == -1 && errno == EBADF,
	    "descriptor %d is still open", fd);
}

/* A descriptor from start: valid, close-on-exec. */
static void
assert_wait_fd(int fd)
{
	int flags;

	ck_assert_msg(fd >= 0, "start: %s", rundown_strerror(fd));
	ck_assert_int_ne(flags = fcntl(fd, F_GETFD), -1);
	ck_assert_msg(flags & FD_CLOEXEC, "descriptor %d lacks FD_CLOEXEC",
	    fd);
}

/* fd must become readable, and finish then return 0 and close it. */
static void
assert_finishes(rundown_cache_t *rc, int fd)
{
	ck_assert_msg(readable_within(fd, AS_DEADLINE_MS),
	    "descriptor %d not readable after %d ms", fd, AS_DEADLINE_MS);
	ck_assert_int_eq(rundown_cache_wait_finish(rc, fd), 0);
	assert_closed(fd);
}

/* fd must not be readable, and finish must say so and leave it open. */
static void
assert_pending(rundown_cache_t *rc, int fd)
{
	ck_assert_msg(!readable_within(fd, 0), "descriptor %d readable while "
	    "protection is held", fd);
	ck_assert_int_eq(rundown_cache_wait_finish(rc, fd), -EAGAIN);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
}

static enum rundown_state
state_of(rundown_cache_t *rc)
{
	struct rundown_status st;

	ck_assert_int_eq(rundown_cache_query(rc, &st), 0);
	return st.state;
}

/* ---- the library's own blocks ------------------------------------------ */

/* Nothing held: the descriptor is readable at once, and no thread was
 * needed for it. */
START_TEST(test_local_nothing_held)
{
	rundown_cache_t *rc = rundown_cache_alloc(0);
	unsigned tasks;
	int fd;

	ck_assert_ptr_nonnull(rc);
	tasks = count_tasks();
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	ck_assert(!rundown_cache_acquire(rc));
	ck_assert_uint_eq(count_tasks(), tasks);
	ck_assert(readable_within(fd, 0));
	ck_assert_int_eq(rundown_cache_wait_finish(rc, fd), 0);
	assert_closed(fd);
	ck_assert_int_eq(state_of(rc), RUNDOWN_DRAINED);
	/* A second wait after the drain: readable at once, too. */
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	assert_finishes(rc, fd);
	ck_assert_int_eq(rundown_cache_free(rc), 0);
}
END_TEST

/* The wait proper: start refuses acquires at once, the descriptor waits
 * for the last release, and the helper thread ends after it. */
START_TEST(test_local_held)
{
	pid_t before[AS_MAXTASKS], tid;
	rundown_cache_t *rc = rundown_cache_alloc(0);
	unsigned nb, tasks, fds;
	int fd, pidfd;

	ck_assert_ptr_nonnull(rc);
	ck_assert(rundown_cache_acquire(rc));
	tasks = count_tasks();
	fds = count_fds();
	nb = list_tasks(before, AS_MAXTASKS);
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	ck_assert(!rundown_cache_acquire(rc));
	ck_assert_int_eq(state_of(rc), RUNDOWN_RUNNING_DOWN);
	tid = new_task(before, nb);
	pidfd = task_watch(tid);
	task_await_asleep(tid);
	assert_pending(rc, fd);
	assert_pending(rc, fd);
	rundown_cache_release(rc);
	assert_finishes(rc, fd);
	ck_assert_int_eq(state_of(rc), RUNDOWN_DRAINED);
	task_await_end(tid, pidfd);
	ck_assert_uint_eq(count_tasks(), tasks);
	ck_assert_uint_eq(count_fds(), fds);
	ck_assert_int_eq(rundown_cache_free(rc), 0);
}
END_TEST

/*
 * A descriptor closed without finish abandons the wait, never the
 * run-down: the helper notices while the protections are still held,
 * and ends, closing its end; the run-down goes on, and a wait after the
 * last release returns at once.  With drain, the last release comes
 * right after the close, racing the helper's look: nothing is left
 * either way.
 */
static void
abandon(bool drain)
{
	pid_t before[AS_MAXTASKS], tid;
	rundown_cache_t *rc = rundown_cache_alloc(0);
	struct rundown_status st;
	unsigned nb, tasks, fds;
	int fd, pidfd;

	ck_assert_ptr_nonnull(rc);
	ck_assert(rundown_cache_acquire_n(rc, 2));
	tasks = count_tasks();
	fds = count_fds();
	nb = list_tasks(before, AS_MAXTASKS);
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	tid = new_task(before, nb);
	pidfd = task_watch(tid);
	ck_assert_uint_eq(count_tasks(), tasks + 1);
	task_await_asleep(tid);
	assert_pending(rc, fd);
	rundown_cache_release(rc);
	assert_pending(rc, fd);
	ck_assert_int_eq(close(fd), 0);
	if (drain)
		rundown_cache_release(rc);
	task_await_end(tid, pidfd);
	ck_assert_uint_eq(count_tasks(), tasks);
	ck_assert_uint_eq(count_fds(), fds);
	/* The run-down went on. */
	ck_assert(!rundown_cache_acquire(rc));
	ck_assert_int_eq(rundown_cache_query(rc, &st), 0);
	ck_assert_int_eq(st.state, drain ? RUNDOWN_DRAINED :
	    RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(st.outstanding, drain ? 0 : 1);
	if (!drain)
		rundown_cache_release(rc);
	ck_assert_int_eq(rundown_cache_wait(rc), 0);
	ck_assert_int_eq(rundown_cache_free(rc), 0);
}

START_TEST(test_local_abandon_held)
{
	abandon(false);
}
END_TEST

START_TEST(test_local_abandon_drain)
{
	abandon(true);
}
END_TEST

/* Several waits on one block at once: all wait, all are woken. */
START_TEST(test_local_several)
{
	rundown_cache_t *rc = rundown_cache_alloc(0);
	unsigned tasks, fds, i;
	int fd[AS_WAITS];

	ck_assert_ptr_nonnull(rc);
	tasks = count_tasks();
	fds = count_fds();
	ck_assert(rundown_cache_acquire(rc));
	for (i = 0; i < AS_WAITS; i++) {
		fd[i] = rundown_cache_wait_start(rc);
		assert_wait_fd(fd[i]);
	}
	ck_assert_uint_eq(count_tasks(), tasks + AS_WAITS);
	for (i = 0; i < AS_WAITS; i++)
		assert_pending(rc, fd[i]);
	rundown_cache_release(rc);
	/* Finished in the reverse order, as a loop may well do. */
	for (i = AS_WAITS; i-- > 0;)
		assert_finishes(rc, fd[i]);
	/* Each helper ends right after its byte; wait for the last. */
	while (count_tasks() != tasks) {
		ck_assert_uint_le(count_tasks(), tasks + AS_WAITS);
		sched_yield();
	}
	ck_assert_uint_eq(count_fds(), fds);
	ck_assert_int_eq(rundown_cache_free(rc), 0);
}
END_TEST

/* Bad arguments: a NULL or uninitialized block, a negative descriptor,
 * one that no start returned, one from another block, one finished. */
START_TEST(test_local_errors)
{
	rundown_cache_t *a = rundown_cache_alloc(0);
	rundown_cache_t *b = rundown_cache_alloc(0);
	rundown_cache_t *junk;
	size_t size = rundown_cache_size();
	int fd, p[2];

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(junk = calloc(1, size));
	ck_assert_int_eq(rundown_cache_wait_start(NULL), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_start(junk), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_finish(NULL, 0), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_finish(junk, 0), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_finish(a, -1), -EINVAL);
	ck_assert_int_eq(rundown_cache_wait_finish(a, 1 << 20), -EBADF);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(rundown_cache_wait_finish(a, p[0]), -EBADF);
	ck_assert_int_ne(fcntl(p[0], F_GETFD), -1);	/* left alone */
	close(p[0]);
	close(p[1]);

	ck_assert(rundown_cache_acquire(a));
	fd = rundown_cache_wait_start(a);
	assert_wait_fd(fd);
	ck_assert_int_eq(rundown_cache_wait_finish(b, fd), -EBADF);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	rundown_cache_release(a);
	assert_finishes(a, fd);
	/* Finished: the number is closed, or names something else. */
	ck_assert_int_eq(rundown_cache_wait_finish(a, fd), -EBADF);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(rundown_cache_wait_finish(a, p[0]), -EBADF);
	close(p[0]);
	close(p[1]);
	free(junk);
	ck_assert_int_eq(rundown_cache_free(a), 0);
	ck_assert_int_eq(rundown_cache_free(b), 0);
}
END_TEST

/* The run-down lock held by another live thread, as a starter or a
 * re-initialize stalled there would hold it. */
struct locker {
	pthread_t thread;
	rundown_cache_t *rc;
	struct test_signal held, go;
};

static void *
locker_main(void *arg)
{
	struct locker *k = arg;
	struct rundown_block *b = cache_block(k->rc);
	struct block_layout l;
	int locked;

	cache_layout(k->rc, &l);
	locked = block_lock(b, &l, NULL);
	test_signal_post(&k->held);
	test_signal_wait(&k->go);
	block_unlock(b, locked);
	return (void *)(intptr_t)locked;
}

/*
 * Start with the run-down lock held elsewhere: it must not block, and
 * must begin the run-down all the same (the state word flips, so an
 * acquire on the rseq path fails at once); the harvest waits for the
 * lock.  On the atomic path an acquire may still succeed until then; it
 * is counted and waited for.
 */
START_TEST(test_local_lock_held)
{
	rundown_cache_t *rc = rundown_cache_alloc(0);
	struct locker k;
	bool extra;
	void *locked;
	int fd;

	ck_assert_ptr_nonnull(rc);
	k.rc = rc;
	test_signal_init(&k.held);
	test_signal_init(&k.go);
	ck_assert_int_eq(pthread_create(&k.thread, NULL, locker_main, &k), 0);
	test_signal_wait(&k.held);
	ck_assert(rundown_cache_acquire(rc));

	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	ck_assert_int_eq(state_of(rc), RUNDOWN_RUNNING_DOWN);
	extra = rundown_cache_acquire(rc);
	ck_assert_msg(!extra || !test_rseq_path(rc->bflags),
	    "an acquire on the rseq path succeeded after start");
	assert_pending(rc, fd);

	test_signal_post(&k.go);
	ck_assert_int_eq(pthread_join(k.thread, &locked), 0);
	ck_assert_int_eq((int)(intptr_t)locked, 0);
	rundown_cache_release(rc);
	if (extra) {
		/* Harvested by the helper once the lock came free: still one
		 * to wait for. */
		assert_pending(rc, fd);
		rundown_cache_release(rc);
	}
	assert_finishes(rc, fd);
	test_signal_close(&k.held);
	test_signal_close(&k.go);
	ck_assert_int_eq(rundown_cache_free(rc), 0);
}
END_TEST

/*
 * A fence that fails: start begins the run-down all the same (acquires
 * on the rseq path fail), nothing is harvested, and the descriptor stays
 * unreadable after the last release while the helper tries the fence
 * again; once one succeeds, it becomes readable.  Only for a block whose
 * threads take the rseq path (a block in shared memory, here), the only
 * kind that fences.
 */
START_TEST(test_local_fence_failed)
{
	size_t size = rundown_cache_size();
	struct rundown_status st;
	rundown_cache_t *rc;
	uint32_t before;
	int fd;

	rc = test_map_shared(size);
	ck_assert_int_eq(rundown_cache_init(rc, size), 0);
	if (!(rc->bflags & BLOCK_F_RSEQ)) {
		printf("fence failed: skipped (no rseq path, no fence)\n");
		munmap(rc, size);
		return;
	}
	ck_assert(rundown_cache_acquire(rc));
	__atomic_store_n(&rd_test_fence_error, -ENOMEM, __ATOMIC_SEQ_CST);
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	if (test_rseq_path(rc->bflags))
		ck_assert(!rundown_cache_acquire(rc));
	ck_assert_int_eq(rundown_cache_query(rc, &st), 0);
	ck_assert_int_eq(st.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_ge(st.fence_failures, 1);
	rundown_cache_release(rc);
	/* The helper tries again, and fails again: still nothing read. */
	before = st.fence_failures;
	do {
		ck_assert(!readable_within(fd, 0));
		sched_yield();
		ck_assert_int_eq(rundown_cache_query(rc, &st), 0);
	} while (st.fence_failures < before + 2);
	ck_assert_int_eq(st.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_int_eq(rundown_cache_wait_finish(rc, fd), -EAGAIN);
	__atomic_store_n(&rd_test_fence_error, 0, __ATOMIC_SEQ_CST);
	assert_finishes(rc, fd);
	ck_assert_int_eq(state_of(rc), RUNDOWN_DRAINED);
	munmap(rc, size);
}
END_TEST

/*
 * rundown_cache_free() with a wait still pending (its protection never
 * released): the helper leaves the block before free returns, and the
 * descriptor reads end of file, for its owner to close.
 */
START_TEST(test_local_free_pending)
{
	pid_t before[AS_MAXTASKS], tid;
	rundown_cache_t *rc = rundown_cache_alloc(0);
	unsigned nb, tasks, fds;
	int fd, pidfd;
	char c;

	ck_assert_ptr_nonnull(rc);
	ck_assert(rundown_cache_acquire(rc));
	tasks = count_tasks();
	fds = count_fds();
	nb = list_tasks(before, AS_MAXTASKS);
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	tid = new_task(before, nb);
	pidfd = task_watch(tid);
	task_await_asleep(tid);
	assert_pending(rc, fd);
	ck_assert_int_eq(rundown_cache_free(rc), 0);
	ck_assert(readable_within(fd, AS_DEADLINE_MS));
	ck_assert_int_eq(read(fd, &c, 1), 0);
	ck_assert_int_eq(close(fd), 0);
	task_await_end(tid, pidfd);
	ck_assert_uint_eq(count_tasks(), tasks);
	ck_assert_uint_eq(count_fds(), fds);
}
END_TEST

/*
 * A wait awaits the run-down its start began, never a later one: once
 * the block is drained and re-initialized, whether or not its helper has
 * looked yet, the descriptor reads ready, finish says 0, and the block
 * stays open.
 */
START_TEST(test_local_reinit)
{
	rundown_cache_t *rc = rundown_cache_alloc(0);
	int fd;

	ck_assert_ptr_nonnull(rc);
	ck_assert(rundown_cache_acquire(rc));
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	rundown_cache_release(rc);
	ck_assert_int_eq(rundown_cache_reinit(rc), 0);
	assert_finishes(rc, fd);
	ck_assert_int_eq(state_of(rc), RUNDOWN_OPEN);
	ck_assert(rundown_cache_acquire(rc));
	rundown_cache_release(rc);
	ck_assert_int_eq(state_of(rc), RUNDOWN_OPEN);
	ck_assert_int_eq(rundown_cache_free(rc), 0);
}
END_TEST

/*
 * A block in shared memory whose holder is another process: its release
 * wakes the parent's wait.  And a child's copy of a descriptor that its
 * parent's start returned is none of its waits (and the child starts no
 * thread: the run-down has begun, its acquire fails).
 */
START_TEST(test_local_fork)
{
	size_t size = rundown_cache_size();
	struct test_signal held, go;
	rundown_cache_t *rc;
	pid_t holder, pid;
	int fd, r;

	rc = test_map_shared(size);
	ck_assert_int_eq(rundown_cache_init(rc, size), 0);
	test_signal_init(&held);
	test_signal_init(&go);
	holder = test_fork_flushed();
	if (holder == 0) {
		if (!rundown_cache_acquire(rc))
			_exit(1);
		test_signal_post(&held);
		test_signal_wait(&go);
		rundown_cache_release(rc);
		_exit(0);
	}
	test_signal_wait(&held);
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	ck_assert(!rundown_cache_acquire(rc));
	pid = test_fork_flushed();
	if (pid == 0) {
		r = rundown_cache_wait_finish(rc, fd) != -EBADF ? 1 :
		    rundown_cache_acquire(rc) ? 2 : 0;
		_exit(r);
	}
	test_reap_named(pid, "the child that inherited the descriptor");
	assert_pending(rc, fd);
	test_signal_post(&go);
	test_reap_named(holder, "the holder");
	assert_finishes(rc, fd);
	test_signal_close(&held);
	test_signal_close(&go);
	munmap(rc, size);
}
END_TEST

/* ---- attached blocks ----------------------------------------------------- */

static void
as_setup(void)
{
	td_setup(0700, NULL);
}

/* This process's descriptor of tag, created if need be. */
static rundown_cache_t *
attach(uint32_t tag)
{
	rundown_cache_t *rc;
	int r = rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE, &rc);

	ck_assert_msg(r == 0, "attach: %s", rundown_strerror(r));
	return rc;
}

/* The same checks on an attached descriptor: no thread, one descriptor
 * (the connection), acquires refused once start returns, on either
 * path: the daemon has collected the rows by then. */
START_TEST(test_shared_held)
{
	uint32_t tag = RUNDOWN_TAG('A', 's', 'H', 'd');
	struct rundown_block_info info;
	rundown_cache_t *rc = attach(tag);
	unsigned tasks, fds;
	int fd;

	ck_assert(rundown_cache_acquire(rc));
	tasks = count_tasks();
	fds = count_fds();
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	ck_assert(!rundown_cache_acquire(rc));
	ck_assert_uint_eq(count_tasks(), tasks);
	ck_assert_uint_eq(count_fds(), fds + 1);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 1);
	assert_pending(rc, fd);
	assert_pending(rc, fd);
	rundown_cache_release(rc);
	assert_finishes(rc, fd);
	ck_assert_uint_eq(count_fds(), fds);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	/* After the drain: readable at once. */
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	assert_finishes(rc, fd);
	ck_assert_int_eq(rundown_detach(rc), 0);
}
END_TEST

/* Closing the connection abandons the wait, not the run-down: the
 * daemon drops the wait, and a later wait still finds the run-down in
 * progress. */
START_TEST(test_shared_abandon)
{
	uint32_t tag = RUNDOWN_TAG('A', 's', 'A', 'b');
	struct rundown_block_info info;
	rundown_cache_t *rc = attach(tag);
	unsigned tasks, fds;
	int fd;

	ck_assert(rundown_cache_acquire(rc));
	tasks = count_tasks();
	fds = count_fds();
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	assert_pending(rc, fd);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_uint_eq(count_tasks(), tasks);
	ck_assert_uint_eq(count_fds(), fds);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert(!rundown_cache_acquire(rc));
	/* A new start joins the run-down in progress. */
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	assert_pending(rc, fd);
	rundown_cache_release(rc);
	assert_finishes(rc, fd);
	ck_assert_int_eq(rundown_detach(rc), 0);
}
END_TEST

START_TEST(test_shared_several)
{
	uint32_t tag = RUNDOWN_TAG('A', 's', 'S', 'v');
	rundown_cache_t *rc = attach(tag);
	unsigned fds, i;
	int fd[AS_WAITS];

	ck_assert(rundown_cache_acquire(rc));
	fds = count_fds();
	for (i = 0; i < AS_WAITS; i++) {
		fd[i] = rundown_cache_wait_start(rc);
		assert_wait_fd(fd[i]);
	}
	for (i = 0; i < AS_WAITS; i++)
		assert_pending(rc, fd[i]);
	rundown_cache_release(rc);
	for (i = AS_WAITS; i-- > 0;)
		assert_finishes(rc, fd[i]);
	ck_assert_uint_eq(count_fds(), fds);
	ck_assert_int_eq(rundown_detach(rc), 0);
}
END_TEST

/* A holder in another process, killed: the daemon reclaims its row,
 * which drains the block, and the descriptor becomes readable. */
START_TEST(test_shared_reclaim)
{
	uint32_t tag = RUNDOWN_TAG('A', 's', 'R', 'c');
	struct rundown_block_info info;
	rundown_cache_t *rc;
	struct agent a;
	int fd;

	rc = attach(tag);
	agent_start(&a, "agent a", &tag, 1, 0);
	agent_acquire(&a, 0, 2);
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	/* The agent's acquires fail too, whichever path it takes. */
	ck_assert_int_eq(agent_do(&a, AG_ACQUIRE, 0, 1), 0);
	assert_pending(rc, fd);
	agent_kill(&a);
	assert_finishes(rc, fd);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 2);
	agent_close(&a);
	ck_assert_int_eq(rundown_detach(rc), 0);
}
END_TEST

/* Descriptors of one kind are not the other's; a block the daemon no
 * longer has cannot be waited on; a wait the daemon ends says why. */
START_TEST(test_shared_errors)
{
	uint32_t tag = RUNDOWN_TAG('A', 's', 'E', 'r');
	rundown_cache_t *rc = attach(tag), *local = rundown_cache_alloc(0);
	int fd, lfd;

	ck_assert_ptr_nonnull(local);
	ck_assert(rundown_cache_acquire(rc));
	ck_assert(rundown_cache_acquire(local));
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	lfd = rundown_cache_wait_start(local);
	assert_wait_fd(lfd);
	ck_assert_int_eq(rundown_cache_wait_finish(local, fd), -EBADF);
	ck_assert_int_eq(rundown_cache_wait_finish(rc, lfd), -EBADF);
	ck_assert_int_eq(rundown_cache_wait_finish(rc, -1), -EINVAL);
	rundown_cache_release(local);
	assert_finishes(local, lfd);
	ck_assert_int_eq(rundown_cache_free(local), 0);

	/* Freed by force: the pending wait ends with -ECANCELED. */
	ck_assert_int_eq(rundown_ctl_free_force(td.conn, tag), 0);
	ck_assert(readable_within(fd, AS_DEADLINE_MS));
	ck_assert_int_eq(rundown_cache_wait_finish(rc, fd), -ECANCELED);
	assert_closed(fd);
	ck_assert_int_eq(rundown_cache_wait_start(rc), -ENOENT);
	rundown_cache_release(rc);
	(void)rundown_detach(rc);
}
END_TEST

/* The daemon goes away: the connection reads end of file, finish says
 * -ECONNRESET and closes it, and the run-down stays in the block. */
START_TEST(test_shared_daemon_gone)
{
	uint32_t tag = RUNDOWN_TAG('A', 's', 'D', 'g');
	rundown_cache_t *rc = attach(tag);
	int fd;

	ck_assert(rundown_cache_acquire(rc));
	fd = rundown_cache_wait_start(rc);
	assert_wait_fd(fd);
	assert_pending(rc, fd);
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert(readable_within(fd, AS_DEADLINE_MS));
	ck_assert_int_eq(rundown_cache_wait_finish(rc, fd), -ECONNRESET);
	assert_closed(fd);
	ck_assert(!rundown_cache_acquire(rc));
	rundown_cache_release(rc);
	(void)rundown_detach(rc);	/* no daemon to tell */
}
END_TEST

static void *
nothing(void *arg)
{
	return arg;
}

/* Fixture: a thread made and joined first, so that what a runtime
 * starts with the first thread (ThreadSanitizer's own) is not taken for
 * a helper. */
static void
local_setup(void)
{
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, nothing, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
}

static Suite *
async_suite(void)
{
	Suite *s = suite_create("async");
	TCase *tc;

	tc = tcase_create("local");
	tcase_add_checked_fixture(tc, local_setup, NULL);
	test_timeout(tc, 60);
	tcase_add_test(tc, test_local_nothing_held);
	tcase_add_test(tc, test_local_held);
	tcase_add_test(tc, test_local_abandon_held);
	tcase_add_test(tc, test_local_abandon_drain);
	tcase_add_test(tc, test_local_several);
	tcase_add_test(tc, test_local_errors);
	tcase_add_test(tc, test_local_lock_held);
	tcase_add_test(tc, test_local_fence_failed);
	tcase_add_test(tc, test_local_free_pending);
	tcase_add_test(tc, test_local_reinit);
	tcase_add_test(tc, test_local_fork);
	suite_add_tcase(s, tc);

	tc = td_case(s, "shared", as_setup, 60);
	tcase_add_test(tc, test_shared_held);
	tcase_add_test(tc, test_shared_abandon);
	tcase_add_test(tc, test_shared_several);
	tcase_add_test(tc, test_shared_reclaim);
	tcase_add_test(tc, test_shared_errors);
	tcase_add_test(tc, test_shared_daemon_gone);
	return s;
}

int
main(void)
{
	return td_main("rundown-async", 0700, AS_DEADLINE_MS, async_suite);
}
