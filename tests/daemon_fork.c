/*
 * daemon_fork.c: a process that forks: the child's inherited descriptor
 * is inert, and it attaches anew to a row of its own.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "testdaemon.h"
#include "testutil.h"

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

TCase *
daemon_fork_tcase(void)
{
	TCase *tc = tcase_create("fork");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_fork);
	return tc;
}
