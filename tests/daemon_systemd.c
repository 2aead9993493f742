/*
 * daemon_systemd.c: rundownd under systemd: sd_notify(3)'s READY=1 and
 * STOPPING=1, and a listening socket passed by socket activation.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "testdaemon.h"
#include "testutil.h"

/* A datagram socket at name ('@': an abstract name), as a service manager
 * binds for NOTIFY_SOCKET. */
static int
notify_bind(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(n, sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

/* Whether one of the lines of text is want. */
static bool
has_line(const char *text, const char *want)
{
	size_t n = strlen(want);
	const char *p;

	for (p = text; (p = strstr(p, want)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') &&
		    (p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

/* Reads the next notification and checks that one of its lines is want;
 * fails if the daemon exits first (unless it is expected to), or at the
 * deadline. */
static void
notify_expect(int fd, const char *want, bool exiting)
{
	struct timespec start = td_now();
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[512];
	ssize_t n;
	int st = 0;

	while (poll(&p, 1, 100) != 1) {
		ck_assert_msg(exiting || waitpid(td.pid, &st, WNOHANG) == 0,
		    "rundownd exited (status %#x) without %s:\n%s", st, want,
		    td_log());
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "no %s within %d ms:\n%s", want, td.deadline_ms, td_log());
	}
	ck_assert_int_gt(n = recv(fd, buf, sizeof(buf) - 1, 0), 0);
	buf[n] = '\0';
	ck_assert_msg(has_line(buf, want), "the notification lacks %s:\n%s",
	    want, buf);
}

/* Runs the test's daemon with NOTIFY_SOCKET=name: READY=1 arrives once
 * it serves (the first connection after it is answered), STOPPING=1 on
 * SIGTERM. */
static void
notified_run(const char *name)
{
	const char *argv[] = { "rundownd", "-d", "-S", td.sock, NULL };
	rundown_conn_t *c;
	size_t n;
	int fd = notify_bind(name);

	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	td.pid = td_spawn(argv);
	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	notify_expect(fd, "READY=1", false);
	ck_assert_int_eq(rundown_connect(td.sock, &c), 0);
	ck_assert_int_eq(rundown_ctl_list(c, NULL, 0, &n), 0);
	rundown_disconnect(c);
	td_stop();
	notify_expect(fd, "STOPPING=1", true);
	close(fd);
}

/* sd_notify(3)'s protocol, without libsystemd: to a socket path, and to
 * an abstract name. */
START_TEST(test_notify)
{
	char path[TD_SOCKLEN], abstract[64];

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_uint_lt((size_t)snprintf(path, sizeof(path), "%s/notify",
	    td.dir), sizeof(path));
	notified_run(path);
	snprintf(abstract, sizeof(abstract), "@rundown-check.%ld.notify",
	    (long)getpid());
	notified_run(abstract);
	td_start(NULL);
	td.conn = td_connect();
}
END_TEST

/* A socket of type bound to path (abstract if it begins with '@'),
 * listening if listens. */
static int
bound_socket(int type, const char *path, bool listens)
{
	struct sockaddr_un sun;
	socklen_t len;
	size_t n = strlen(path);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(n, sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	if (listens)
		ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

/* Starts rundownd -d EXTRA... with listener passed as systemd passes it,
 * and waits for its READY=1. */
static void
start_activated(int listener, const char *extra)
{
	const char *argv[] = { "rundownd", "-d", extra, extra != NULL ?
	    td.sock : NULL, NULL };
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@rundown-check.%ld.activated",
	    (long)getpid());
	fd = notify_bind(name);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	td.pid = td_spawn_fd(argv, listener);
	ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
	notify_expect(fd, "READY=1", false);
	close(fd);
}

/* The first daemon passed l serves it, takes the lock beside it and
 * leaves the socket it was passed (whose inode is before's) in place. */
static void
act_first(uint32_t tag, int l, const struct stat *before)
{
	struct rundown_block_info info;
	struct stat after;
	off_t off;

	off = td_log_size();
	start_activated(l, NULL);
	dt_await_line(off, "listening on %s (from the service manager; ",
	    td.sock);
	td.conn = td_connect();
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_int_eq(dt_lock_pid(td.sock), td.pid);
	ck_assert_int_eq(stat(td.sock, &after), 0);
	ck_assert_msg(after.st_ino == before->st_ino, "the daemon replaced "
	    "the socket it was passed");
}

/* Stopped, the socket stays and queues; the next daemon, passed it
 * with -S naming it, adopts the block and answers. */
static void
act_next(uint32_t tag, int l, const struct stat *before)
{
	struct rundown_block_info info;
	rundown_conn_t *queued;
	struct stat after;
	size_t n;

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_int_eq(dt_lock_pid(td.sock), 0);
	ck_assert_int_eq(stat(td.sock, &after), 0);
	ck_assert_uint_eq(after.st_ino, before->st_ino);
	ck_assert_int_eq(rundown_connect(td.sock, &queued), 0);
	start_activated(l, "-S");
	ck_assert_int_eq(rundown_ctl_list(queued, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 1);
	rundown_disconnect(queued);
	td.conn = td_connect();
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
}

/* What is refused, with exit status 1: -S naming another path than l's,
 * a socket not listening, a datagram socket, an abstract one, a file.
 * Closes l. */
static void
act_refused(int l)
{
	char path[TD_SOCKLEN], abstract[64];
	char *text;
	off_t off;
	int fd;

	dt_sub_socket("other", 0700, path, sizeof(path));
	off = td_log_size();
	ck_assert_int_eq(td_exit_status_fd(ARGS("rundownd", "-d", "-S",
	    path), l), 1);
	ck_assert(!test_exists(path));
	close(l);
	unlink(td.sock);

	fd = bound_socket(SOCK_STREAM, td.sock, false);
	ck_assert_int_eq(td_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	unlink(td.sock);
	fd = bound_socket(SOCK_DGRAM, td.sock, false);
	ck_assert_int_eq(td_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	unlink(td.sock);
	snprintf(abstract, sizeof(abstract), "@rundown-check.%ld.abstract",
	    (long)getpid());
	fd = bound_socket(SOCK_STREAM, abstract, true);
	ck_assert_int_eq(td_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	ck_assert_int_ge(fd = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	ck_assert_int_eq(td_exit_status_fd(ARGS("rundownd", "-d"), fd), 1);
	close(fd);
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "is not the socket the service manager "
	    "passed") == 1 && td_count(text, "is not a listening AF_UNIX "
	    "stream socket") == 3 && td_count(text, "is not bound to an "
	    "absolute path") == 1, "the refusals:\n%s", text);
	free(text);
}

/*
 * Socket activation: the daemon serves the listening socket it is passed
 * (LISTEN_FDS, LISTEN_PID) rather than binding its own, takes the lock
 * beside it, leaves it in place at exit, and the next daemon passed the
 * same socket answers what was queued meanwhile.  Without -S it learns
 * the path from the socket; -S must name the same one.  Anything but one
 * listening AF_UNIX stream socket with an absolute path is refused, and a
 * LISTEN_PID of another process is ignored.
 */
START_TEST(test_activation)
{
	uint32_t tag = RUNDOWN_TAG('A', 'c', 't', 'v');
	struct stat before;
	int l;

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	l = bound_socket(SOCK_STREAM, td.sock, true);
	ck_assert_int_eq(stat(td.sock, &before), 0);

	act_first(tag, l, &before);
	act_next(tag, l, &before);
	act_refused(l);

	/* LISTEN_PID of another process: not ours; the daemon binds. */
	ck_assert_int_eq(setenv("LISTEN_PID", "1", 1), 0);
	ck_assert_int_eq(setenv("LISTEN_FDS", "1", 1), 0);
	td_start(NULL);
	ck_assert_int_eq(unsetenv("LISTEN_PID"), 0);
	ck_assert_int_eq(unsetenv("LISTEN_FDS"), 0);
	td.conn = td_connect();
}
END_TEST

TCase *
daemon_systemd_tcase(void)
{
	TCase *tc = tcase_create("systemd");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_activation);
	return tc;
}
