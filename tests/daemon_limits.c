/*
 * daemon_limits.c: the daemon's limits: a frame's time (-t),
 * connections (-C, -U), blocks (-B) and descriptors (EMFILE).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "proto.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

/* ---- i. limits: time, connections, descriptors ------------------------- */

static const char *const timeout_args[] = { "-t", "1", NULL };

/* Fixture: a daemon that drops a frame unfinished after a second. */
static void
timeout_setup(void)
{
	td_setup(DT_DIR_MODE, timeout_args);
}

/* Sends the first len bytes of a STATUS frame of tag on a new bare
 * socket, and returns it. */
static int
part_frame(uint32_t tag, size_t len)
{
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_req req = { .tag = tag };
	int fd = td_raw_connect();

	ck_assert_uint_eq(proto_encode(frame, sizeof(frame), PROTO_STATUS, 5,
	    &req, sizeof(req)), sizeof(frame));
	ck_assert_uint_lt(len, sizeof(frame));
	td_raw_send(fd, frame, len, -1);
	return fd;
}

/* A frame begun and not finished is dropped after -t with ETIMEDOUT, id
 * 0; one cut short by a close is just dropped.  Neither stops the daemon
 * serving others meanwhile, nor costs a row or a count. */
START_TEST(test_stalled)
{
	uint32_t tag = RUNDOWN_TAG('S', 't', 'a', 'l');
	struct rundown_block_info info;
	struct timespec start;
	struct agent ag;
	int head, body;
	long ms;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 2);

	start = td_now();
	head = part_frame(tag, PROTO_HDR_SIZE / 2);
	body = part_frame(tag, PROTO_HDR_SIZE + 4);
	close(part_frame(tag, PROTO_HDR_SIZE + 2));
	close(part_frame(tag, 3));
	/* Served while the two stall. */
	dt_check_good(tag);
	td_raw_expect_error(head, 0, ETIMEDOUT, "half a header");
	td_raw_expect_error(body, 0, ETIMEDOUT, "half a payload");
	ms = td_elapsed_ms(&start);
	ck_assert_msg(ms >= 900, "closed after %ld ms, before -t 1", ms);
	close(head);
	close(body);
	ck_assert_msg(strstr(td_log(), "not finished in 1 s") != NULL,
	    "the timeout is not logged:\n%s", td_log());

	dt_check_good(tag);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	agent_release(&ag, 0, 2);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	agent_quit(&ag);
}
END_TEST

/* Fixture: a daemon of 3 connections, 2 a user (and "daemon" let in,
 * as root, for a second user to connect as). */
static void
conns_setup(void)
{
	if (geteuid() == 0 && getpwnam("daemon") != NULL)
		td_setup(DT_DIR_MODE, ARGS("-C", "3", "-U", "2", "-u",
		    "daemon"));
	else
		td_setup(DT_DIR_MODE, ARGS("-C", "3", "-U", "2"));
}

/* A list on a new connection, kept open if keep: its result. */
static int
list_new(rundown_conn_t **keep)
{
	rundown_conn_t *c;
	size_t n;
	int r;

	if ((r = rundown_connect(td.sock, &c)) != 0)
		return r;
	r = rundown_ctl_list(c, NULL, 0, &n);
	if (keep != NULL && r == 0)
		*keep = c;
	else
		rundown_disconnect(c);
	return r;
}

/* Exit statuses of other_child(). */
enum {
	OTHER_OK = 0,
	OTHER_FIRST = 30,	/* the first connection did not work */
	OTHER_SECOND = 31	/* the second was not refused with EUSERS */
};

/* As pw, with this user's two connections and td.conn open: a first
 * connection makes -C 3, a second is one too many in all. */
static void
other_child(const struct passwd *pw)
{
	rundown_conn_t *first = NULL;

	dt_become(pw);
	if (list_new(&first) != 0)
		_exit(OTHER_FIRST);
	if (list_new(NULL) != -EUSERS)
		_exit(OTHER_SECOND);
	rundown_disconnect(first);
	_exit(OTHER_OK);
}

/* -U refuses a user's connection beyond its share and -C one beyond the
 * total, both with EUSERS on id 0; a slot is free again once its
 * connection closes. */
START_TEST(test_conn_limits)
{
	struct timespec start;
	rundown_conn_t *second = NULL;
	struct passwd *pw, other;
	pid_t pid;
	int r, st;

	/* td.conn and second: this user's two.  The connection that
	 * td_start() made to see the daemon answer counts until the
	 * daemon's closing lane has closed it (-U counts descriptors still
	 * closing): until then, the second is refused. */
	start = td_now();
	while ((r = list_new(&second)) == -EUSERS &&
	    td_elapsed_ms(&start) < td.deadline_ms)
		td_pause();
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(list_new(NULL), -EUSERS);
	ck_assert_msg(strstr(td_log(), "too many connections of its user") !=
	    NULL, "the refusal is not logged:\n%s", td_log());
	ck_ctl("busy", ARGS("list"), 1);
	ck_assert_msg(strstr(td_ctl_output("busy", "err"), "connections") !=
	    NULL, "rundownctl: %s", td_ctl_output("busy", "err"));

	if (geteuid() == 0 && (pw = getpwnam("daemon")) != NULL) {
		other = *pw;
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			other_child(&other);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st));
		ck_assert_msg(WEXITSTATUS(st) == OTHER_OK,
		    "as daemon: exit status %d", WEXITSTATUS(st));
		ck_assert_msg(strstr(td_log(), "too many connections in all") !=
		    NULL, "the -C refusal is not logged:\n%s", td_log());
	} else
		fprintf(stderr, "check_daemon: test_conn_limits: -C checked "
		    "only through -U; it needs root and user daemon\n");

	/* The daemon frees the slot when it reads the close: poll. */
	rundown_disconnect(second);
	start = td_now();
	while ((r = list_new(NULL)) == -EUSERS) {
		ck_assert_msg(td_elapsed_ms(&start) < DT_DEADLINE_MS,
		    "no room after a close within %d ms", DT_DEADLINE_MS);
		td_pause();
	}
	ck_assert_int_eq(r, 0);
}
END_TEST

/* Fixture: a daemon of 2 blocks at most, of 8 rows at most, 4 by
 * default. */
static void
blocks_setup(void)
{
	td_setup(DT_DIR_MODE, ARGS("-B", "2", "-R", "8", "-r", "4"));
}

/* -B bounds the blocks: create, attach with create and rundownctl are
 * refused with ENOSPC beyond it, and room returns with a free; -R bounds
 * the rows; a restart with a lower -B adopts no more than it allows and
 * leaves the rest alone in shared memory. */
START_TEST(test_block_limit)
{
	uint32_t a = RUNDOWN_TAG('L', 'i', 'm', 'a');
	uint32_t b = RUNDOWN_TAG('L', 'i', 'm', 'b');
	uint32_t c = RUNDOWN_TAG('L', 'i', 'm', 'c');
	struct rundown_block_info list[4];
	rundown_cache_t *ref = NULL;
	char obj[PATH_MAX];
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, a, 8), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, b, 9), -EINVAL);
	ck_assert_int_eq(rundown_ctl_create(td.conn, b, 0), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, c, 0), -ENOSPC);
	ck_assert_int_eq(rundown_attach_at(td.sock, c, RUNDOWN_ATTACH_CREATE,
	    &ref), -ENOSPC);
	ck_assert_ptr_null(ref);
	ck_ctl("full", ARGS("create", "Limc"), 1);
	ck_assert_msg(strstr(td_ctl_output("full", "err"), "as many blocks") !=
	    NULL, "rundownctl: %s", td_ctl_output("full", "err"));
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 2);

	ck_assert_int_eq(rundown_ctl_free(td.conn, a), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, c, 0), 0);

	/* Restarted with -B 1: one of b and c is adopted, the other is
	 * logged and left as it was. */
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	td_start(ARGS("-B", "1"));
	td.conn = td_connect();
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_msg(strstr(td_log(), "over the limit of 1 blocks; not "
	    "adopted") != NULL, "no refusal logged:\n%s", td_log());
	td_shm_path(td.sock, list[0].tag == b ? c : b, obj, sizeof(obj));
	ck_assert_msg(test_exists(obj), "the block not adopted was removed");
	ck_assert_int_eq(rundown_ctl_create(td.conn, a, 0), -ENOSPC);
}
END_TEST

/* Seconds of CPU the process has used. */
static double
cpu_seconds(pid_t pid)
{
	return (double)(test_stat_field(pid, 14) + test_stat_field(pid, 15)) /
	    (double)sysconf(_SC_CLK_TCK);
}

#define EMFILE_NOFILE 32	/* the daemon's descriptors */

#define EMFILE_CONNS 48		/* more connections than that */

/* Fixture: a daemon of EMFILE_NOFILE descriptors. */
static void
emfile_setup(void)
{
	td.nofile = EMFILE_NOFILE;
	td_setup(DT_DIR_MODE, NULL);
}

/* Out of descriptors, the daemon pauses accepting for a second at a time
 * instead of spinning, serves the connections it has, and accepts again
 * once descriptors are free. */
START_TEST(test_emfile)
{
	static const char paused[] = "accept; pausing for a second";
	uint32_t tag = RUNDOWN_TAG('M', 'F', 'i', 'l');
	struct rundown_block_info info;
	int fds[EMFILE_CONNS], i;
	unsigned seen;
	char *text;
	double cpu0, cpu;
	long ms;
	struct timespec start;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	for (i = 0; i < EMFILE_CONNS; i++)
		fds[i] = td_raw_connect();
	td_await_log(0, paused, 1);
	text = td_log_from(0);
	seen = td_count(text, paused);
	free(text);
	cpu0 = cpu_seconds(td.pid);
	start = td_now();
	td_await_log(0, paused, seen + 1);
	ms = td_elapsed_ms(&start);
	cpu = cpu_seconds(td.pid) - cpu0;
	ck_assert_msg(ms >= 500, "paused again after %ld ms", ms);
	ck_assert_msg(cpu < 0.25 * ((double)ms / 1000 + 0.1),
	    "the daemon used %.2f s of CPU in %ld ms out of descriptors", cpu,
	    ms);
	printf("check_daemon: out of descriptors: %.3f s of CPU in %ld ms "
	    "between two pauses\n", cpu, ms);
	/* Its connection is served meanwhile. */
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);

	for (i = 0; i < EMFILE_CONNS; i++)
		close(fds[i]);
	start = td_now();
	while (list_new(NULL) != 0) {
		ck_assert_msg(td_elapsed_ms(&start) < DT_DEADLINE_MS,
		    "no new connection served within %d ms:\n%s",
		    DT_DEADLINE_MS, td_log());
		td_pause();
	}
}
END_TEST

TCase *
daemon_timeout_tcase(void)
{
	TCase *tc = tcase_create("timeout");

	tcase_add_checked_fixture(tc, timeout_setup, td_teardown);
	tcase_add_test(tc, test_stalled);
	return tc;
}

TCase *
daemon_conns_tcase(void)
{
	TCase *tc = tcase_create("conns");

	tcase_add_checked_fixture(tc, conns_setup, td_teardown);
	tcase_add_test(tc, test_conn_limits);
	return tc;
}

TCase *
daemon_blocks_tcase(void)
{
	TCase *tc = tcase_create("blocks");

	tcase_add_checked_fixture(tc, blocks_setup, td_teardown);
	tcase_add_test(tc, test_block_limit);
	return tc;
}

TCase *
daemon_emfile_tcase(void)
{
	TCase *tc = tcase_create("emfile");

	tcase_add_checked_fixture(tc, emfile_setup, td_teardown);
	tcase_add_test(tc, test_emfile);
	return tc;
}
