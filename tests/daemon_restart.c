/*
 * daemon_restart.c: a new daemon on the same socket adopts the blocks
 * and their holders, living or dead.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "client.h"
#include "daemon.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

/* A new daemon on the same socket adopts the blocks with their live
 * holders, and reclaims a holder that dies afterwards. */
START_TEST(test_restart)
{
	uint32_t tag = RUNDOWN_TAG('R', 's', 't', 'r');
	struct rundown_holder h[DT_MAXHOLDERS];
	struct rundown_block_info info, list[4];
	char obj[PATH_MAX], dir[PATH_MAX], pidkey[32];
	const char *out;
	struct stat st;
	struct agent ag;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 2);
	/* Nobody else may read a block, or reach the socket: without -u
	 * and -g the object is 0600, the directory 0700, the socket 0600. */
	td_shm_path(td.sock, tag, obj, sizeof(obj));
	ck_assert_int_eq(stat(obj, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(td.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	snprintf(dir, sizeof(dir), "%s/run", td.dir);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_msg(!test_exists(td.sock), "the socket outlived the daemon");
	ck_assert_msg(test_exists(obj), "the block did not outlive the daemon");
	/* Protection needs no daemon. */
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(agent_do(&ag, AG_ACQUIRE, 0, 1), 1);
	agent_release(&ag, 0, 1);

	td_start(NULL);
	td.conn = td_connect();
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].tag, tag);
	ck_assert_int_eq(list[0].state, RUNDOWN_OPEN);
	ck_assert_uint_eq(list[0].attached, 1);
	ck_assert_uint_eq(list[0].outstanding, 1);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, ag.pid);
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_str_eq(h[0].comm, AGENT_COMM);
	ck_ctl("json", ARGS("status", "Rstr", "--json"), 0);
	out = td_ctl_output("json", "out");
	snprintf(pidkey, sizeof(pidkey), "\"pid\":%d", (int)ag.pid);
	ck_assert_msg(strstr(out, pidkey) != NULL &&
	    strstr(out, "\"attached\":1") != NULL, "status --json: %s", out);

	/* The agent's control calls find the new daemon. */
	ck_assert_int_eq(agent_do(&ag, AG_COMPLETED, 0, 0), -EALREADY);

	/* The wait ends when the new daemon reclaims the killed holder. */
	agent_kill(&ag);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 1);
}
END_TEST

/* A rundown_ctl_wait_reconnect() on a thread, and what it returned. */
struct rewait {
	rundown_conn_t *conn;
	uint32_t tag;
	int result;
	struct test_signal done;
};

static void *
rewait_main(void *arg)
{
	struct rewait *rw = arg;

	rw->result = rundown_ctl_wait_reconnect(&rw->conn, td.sock, rw->tag,
	    NULL);
	test_signal_post(&rw->done);
	return NULL;
}

/*
 * The library's reconnecting wait on a connection of the caller's own
 * (rundownctl's): pending when the daemon stops, it goes to the next one
 * on the same socket and returns when the holder releases, with the new
 * connection in *conn.  Its argument errors come first; a socket nobody
 * serves ends a wait of no time at once.
 */
START_TEST(test_wait_reconnect)
{
	uint32_t tag = RUNDOWN_TAG('R', 'w', 'r', 'c');
	const struct timespec zero = { 0, 0 };
	struct rundown_block_info info;
	struct rewait rw = { NULL, tag, 1, { { -1, -1 } } };
	struct agent ag;
	pthread_t t;

	ck_assert_int_eq(rundown_ctl_wait_reconnect(NULL, td.sock, tag, NULL),
	    -EINVAL);
	ck_assert_int_eq(rundown_ctl_wait_reconnect(&rw.conn,
	    "/nonexistent/rundownd.sock", tag, &zero), -ECONNREFUSED);
	ck_assert_ptr_null(rw.conn);

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 1);
	test_signal_init(&rw.done);
	ck_assert_int_eq(pthread_create(&t, NULL, rewait_main, &rw), 0);
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, 1, 0);

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	td_start(NULL);
	td.conn = td_connect();
	td_await_block(tag, RUNDOWN_RUNNING_DOWN, 1, 0);
	agent_release(&ag, 0, 1);
	test_signal_wait(&rw.done);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(rw.result, 0);
	ck_assert_ptr_nonnull(rw.conn);
	info = td_await_block(tag, RUNDOWN_DRAINED, 1, 0);
	ck_assert_uint_eq(info.outstanding, 0);
	rundown_disconnect(rw.conn);
	test_signal_close(&rw.done);
	agent_quit(&ag);
}
END_TEST

/*
 * A peer on the socket that accepts every connection and hangs up at once
 * (a daemon that drops each wait): the reconnecting wait tries again
 * through its pause, so it makes a connection a pause at most after the
 * first quick retry, and returns the broken connection's error once its
 * timeout has passed, with no connection.  Before, each drop restarted
 * the window and retried at once: it spun, past its timeout, for ever.
 */
START_TEST(test_wait_reconnect_dropped)
{
	const struct timespec ms300 = test_ms(300);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	rundown_conn_t *c = NULL;
	struct timespec start;
	unsigned *accepted;
	int ls, fd, r;
	long ms;
	pid_t pid;

	accepted = test_map_shared(sizeof(*accepted));
	ck_assert_int_lt(snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/drop.sock", td.dir), (int)sizeof(sun.sun_path));
	ck_assert_int_ge(ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(ls, 64), 0);
	if ((pid = test_fork_flushed()) == 0) {
		for (;;) {
			if ((fd = accept(ls, NULL, NULL)) < 0)
				continue;
			__atomic_add_fetch(accepted, 1, __ATOMIC_SEQ_CST);
			close(fd);
		}
	}
	close(ls);
	start = td_now();
	r = rundown_ctl_wait_reconnect(&c, sun.sun_path,
	    RUNDOWN_TAG('R', 'w', 'd', 'r'), &ms300);
	ms = td_elapsed_ms(&start);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_msg(r == -ECONNRESET || r == -EPIPE, "wait: %s",
	    rundown_strerror(r));
	ck_assert_ptr_null(c);
	ck_assert_int_ge(ms, 300);
	/* The first send, its retry at once, then one a pause. */
	ck_assert_uint_le(__atomic_load_n(accepted, __ATOMIC_SEQ_CST),
	    (unsigned)(ms / CLIENT_RETRY_MS) + 2);
	unlink(sun.sun_path);
	munmap(accepted, sizeof(*accepted));
}
END_TEST

/* A block whose holder died while no daemon ran is reclaimed on
 * adoption; a run-down left in progress resumes. */
START_TEST(test_restart_dead_holder)
{
	uint32_t tag = RUNDOWN_TAG('R', 'd', 'e', 'd');
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	struct agent a, b;
	int32_t r;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&a, "agent a", &tag, 1, 0);
	agent_acquire(&a, 0, 2);
	agent_start(&b, "agent b", &tag, 1, 0);
	agent_acquire(&b, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	agent_kill(&a);
	td_start(NULL);
	td.conn = td_connect();

	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	ck_assert_uint_eq(info.reclaimed, 2);
	agent_release(&b, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);

	/* A detach through a connection to the old daemon connects again,
	 * as the other control calls do, and gives the row back. */
	r = agent_do(&b, AG_DETACH, 0, 0);
	ck_assert_msg(r == 0, "detach after a daemon restart: %s",
	    rundown_strerror(r));
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 1);
	agent_exit(&b);
}
END_TEST

TCase *
daemon_restart_tcase(void)
{
	TCase *tc = tcase_create("restart");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_restart_dead_holder);
	tcase_add_test(tc, test_wait_reconnect);
	tcase_add_test(tc, test_wait_reconnect_dropped);
	return tc;
}
