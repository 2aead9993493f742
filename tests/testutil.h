/*
 * testutil.h: helpers shared by the Check suites.
 *
 * Tests synchronise on what they can observe (a pipe, a state read back),
 * never on sleeps; the helpers here make that short to write.
 */
#ifndef RUNDOWN_TESTUTIL_H
#define RUNDOWN_TESTUTIL_H

#include <check.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <rundown/rundown.h>

/* Iteration multiplier: RUNDOWN_TEST_SCALE in the environment (default 1,
 * at least 1).  Stress loops multiply their counts by it; scripts lower
 * the base counts under sanitizers through RUNDOWN_TEST_DIVISOR. */
unsigned test_scale(unsigned base);

/*
 * Check's timeout of tc: seconds, the case's own bound on a hang, times
 * RUNDOWN_TEST_TIMEOUT_SCALE in the environment (default 1, a decimal
 * number > 0; scripts/run-tests.sh raises it for the sanitizer builds,
 * whose every step is slower).  The one place where a case's timeout is
 * set: a hang is a failure, a slow build is not.
 */
void test_timeout(TCase *tc, unsigned seconds);

/* Online CPUs this process may run on (sched_getaffinity), at least 1. */
unsigned test_cpus(void);

/* Pins the calling thread to the n-th CPU of its allowed set (mod count);
 * returns the CPU number, or -1 if pinning is not possible. */
int test_pin_nth(unsigned n);

/* A zeroed mapping of size bytes shared with the children forked after
 * it (MAP_SHARED | MAP_ANONYMOUS); fails the test if there is none. */
void *test_map_shared(size_t size);

/* Asserts that a query returned 0 (rc) and that st shows state with
 * outstanding protections, naming both states if not. */
void test_expect_status(int rc, const struct rundown_status *st,
    enum rundown_state state, uint64_t outstanding);

/* Spins (yielding) until query(r, &st) reports state: query is
 * rundown_query or rundown_cache_query, whichever r's type takes. */
#define TEST_POLL_STATE(query, r, state) do {				\
	struct rundown_status test_poll_st_;				\
	for (;;) {							\
		ck_assert_int_eq((query)((r), &test_poll_st_), 0);	\
		if (test_poll_st_.state == (state))			\
			break;						\
		sched_yield();						\
	}								\
} while (0)

/* Relative timespec of ms milliseconds. */
struct timespec test_ms(long ms);

/* True if this process's threads (and children forked from it) commit in
 * the rseq words of a block with flags bflags (lib/rseq.h): a run-down
 * that has begun refuses their acquires at once, with no window before
 * the harvest switches their slots. */
bool test_rseq_path(uint32_t bflags);

/*
 * Confines process pid (all its threads) to CPU 0 with a cpuset cgroup of
 * its own, as a container or a systemd unit's AllowedCPUs= would: 0, or
 * -1 where this machine offers no cpuset to write (v1 or v2) or has one
 * CPU, and the caller skips.  test_cpuset_release() moves it back and
 * removes the cgroup.
 */
int test_cpuset_confine(pid_t pid);
void test_cpuset_release(pid_t pid);

/* A pipe used as a one-shot or counting signal between threads/processes. */
struct test_signal {
	int fd[2];
};
void test_signal_init(struct test_signal *s);
void test_signal_post(struct test_signal *s);		/* writes one byte */
void test_signal_wait(struct test_signal *s);		/* reads one byte */
void test_signal_close(struct test_signal *s);

/* fork() with stdio flushed first, so that a child's exit() writes
 * nothing twice; fails the test if there is no child. */
pid_t test_fork_flushed(void);

/* In a child: writes all of buf to fd, or exits 110 (the reader, the
 * test, is gone); never returns a failure the child could ignore. */
void test_put(int fd, const void *buf, size_t n);

/* A child's first failure, where the test can read it: a member of an
 * area shared with the children (test_map_shared()).  Children never
 * call ck_assert; they report here, and the test asserts. */
struct test_failure {
	uint32_t state;		/* 0 none, 1 msg being written, 2 written */
	char msg[256];
};

/* In a child: keeps the message in f if it is the first failure, and
 * drops it otherwise (the first is the cause, the rest consequences). */
void test_failure_vset(struct test_failure *f, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Fails the test, naming who failed (e.g. "a worker") and how, if a
 * child kept a failure in f. */
void test_failure_check(struct test_failure *f, const char *who);

/* Waits for a child and asserts it exited with status 0. */
void test_reap_ok(pid_t pid);

/* As test_reap_ok(), with what the child was in the failure message. */
void test_reap_named(pid_t pid, const char *what);

/* Runs suite s and returns the process exit status (0 if all passed). */
int test_run_suite(Suite *s);

/* The entries of a directory less "." and "..": of /proc/PID/fd, the
 * descriptors a process holds (the listing's own among them, if it is
 * this process's); of /proc/PID/task, its threads. */
unsigned test_count_entries(const char *path);

/* Whether anything is at path (a dangling link counts). */
bool test_exists(const char *path);

/* Field n (from 1, as proc(5) counts) of /proc/PID/stat, a number. */
unsigned long long test_stat_field(pid_t pid, int n);

/* Whether pid has ended: its pidfd reads at once, or it is gone.  Works
 * for a process that is not this one's child (a daemon that detached). */
bool test_pid_ended(pid_t pid);

#endif /* RUNDOWN_TESTUTIL_H */
