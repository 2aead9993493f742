/*
 * daemon_orphan.c: an attach on a connection whose opener is gone, its
 * pid perhaps reused: no row for a process that did not ask.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "proto.h"
#include "testdaemon.h"
#include "testutil.h"

/* In the grandchild of orphan_attach(): once told its parent is reaped,
 * attaches on the inherited connection and writes the error code. */
static void
orphan_child(int fd, uint32_t tag, int go, int out)
{
	unsigned char buf[PROTO_HDR_SIZE + 128];
	struct proto_error e = { .code = 0 };
	struct proto_hdr h;
	char c;

	if (read(go, &c, 1) != 1)
		_exit(1);
	td_raw_request(fd, PROTO_ATTACH, 61, tag, 0, 0);
	do	/* the answer to a list sent earlier may come first */
		td_raw_frame(fd, &h, buf, sizeof(buf));
	while (h.id == 60);
	if (h.type == PROTO_ERROR && h.id == 61)
		memcpy(&e, buf + PROTO_HDR_SIZE, sizeof(e));
	else
		e.code = -1;	/* not refused */
	if (write(out, &e.code, sizeof(e.code)) != sizeof(e.code))
		_exit(1);
	_exit(0);
}

/* Forks a child that waits for a byte on p and exits; with *want > 0,
 * as pid *want through ns_last_pid (root only).  Its pid, or -1 if it
 * did not get that pid. */
static pid_t
reuse_pid(pid_t want, int p)
{
	char num[32];
	pid_t pid;
	char c;
	int fd;

	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(num, sizeof(num), "%d", (int)want - 1);
	if (write(fd, num, strlen(num)) != (ssize_t)strlen(num)) {
		close(fd);
		return -1;
	}
	close(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(read(p, &c, 1) == 1 ? 0 : 1);
	if (pid == want)
		return pid;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Whether the kernel gives a socket's peer as a pidfd (Linux 6.5). */
static bool
have_peerpidfd(void)
{
	socklen_t len = sizeof(int);
	int sv[2], pidfd = -1;
	bool ok;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	ok = getsockopt(sv[0], SOL_SOCKET, 77 /* SO_PEERPIDFD */, &pidfd,
	    &len) == 0;
	if (pidfd >= 0)
		close(pidfd);
	close(sv[0]);
	close(sv[1]);
	return ok;
}

/* Stops or resumes the daemon, and waits until /proc says it is so. */
static void
daemon_stopped(bool stop)
{
	struct timespec start = td_now();
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	ck_assert_int_eq(kill(td.pid, stop ? SIGSTOP : SIGCONT), 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)td.pid);
	for (;;) {
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
		if ((p[2] == 'T') == stop)
			return;
		ck_assert_msg(td_elapsed_ms(&start) < DT_DEADLINE_MS,
		    "rundownd not %s", stop ? "stopped" : "resumed");
		td_pause();
	}
}

/*
 * A connection outlives the process that made it (a child kept it), and
 * another process takes its pid: an attach on it must fail with ESRCH
 * rather than charge the row to that stranger.  With late, the daemon is
 * stopped until the pid has been reused, so that it accepts the
 * connection only then (SO_PEERCRED still names the old pid): only the
 * connector's pidfd (SO_PEERPIDFD) can tell.  Returns whether the pid
 * was reused (root only); the exited connector is checked either way.
 */
static bool
orphan_attach(uint32_t tag, bool late)
{
	unsigned char buf[PROTO_HDR_SIZE + 128];
	unsigned long long born;
	struct timespec start;
	struct proto_hdr h;
	int go[2], out[2], hold[2], fd, st;
	pid_t a, stranger = -1;
	int32_t code;

	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	if (late)
		daemon_stopped(true);
	a = fork();
	ck_assert_int_ge(a, 0);
	if (a == 0) {
		fd = td_raw_connect();
		/* Accepted once a list is answered, unless stopped. */
		td_raw_request(fd, PROTO_LIST, 60, 0, 0, 0);
		if (!late) {
			td_raw_frame(fd, &h, buf, sizeof(buf));
			if (h.type != PROTO_LIST_REPLY)
				_exit(2);
		}
		a = fork();
		if (a == 0)
			orphan_child(fd, tag, go[0], out[1]);
		_exit(a > 0 ? 0 : 3);
	}
	ck_assert_int_eq(waitid(P_PID, (id_t)a, &(siginfo_t){ 0 },
	    WEXITED | WNOWAIT), 0);
	born = test_stat_field(a, 22);
	ck_assert_int_eq(waitpid(a, &st, 0), a);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the connecting child: status %#x", st);

	/* A stranger with the same pid and a later start time. */
	start = td_now();
	while (geteuid() == 0 && td_elapsed_ms(&start) < 2000) {
		if ((stranger = reuse_pid(a, hold[0])) > 0 &&
		    test_stat_field(stranger, 22) != born)
			break;
		if (stranger > 0) {
			kill(stranger, SIGKILL);
			waitpid(stranger, NULL, 0);
			stranger = -1;
		}
		td_pause();
	}
	if (late)
		daemon_stopped(false);

	close(go[0]);
	close(out[1]);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_uint_eq(td_raw_read(out[0], &code, sizeof(code),
	    "the grandchild's answer"), sizeof(code));
	ck_assert_msg(code == ESRCH, "attach on an orphaned connection%s%s: "
	    "%d", stranger > 0 ? " whose pid was reused" : "",
	    late ? ", accepted after that" : "", code);
	close(go[1]);
	close(out[0]);
	if (stranger > 0) {
		ck_assert_int_eq(write(hold[1], "x", 1), 1);
		ck_assert_int_eq(waitpid(stranger, &st, 0), stranger);
	}
	close(hold[0]);
	close(hold[1]);
	return stranger > 0;
}

START_TEST(test_orphan_attach)
{
	uint32_t tag = RUNDOWN_TAG('O', 'r', 'p', 'h');
	struct rundown_block_info info;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	if (!orphan_attach(tag, false))
		fprintf(stderr, "check_daemon: test_orphan_attach: pid not "
		    "reused (needs root); the exited connector checked only\n");
	if (have_peerpidfd())
		orphan_attach(tag, true);
	else
		fprintf(stderr, "check_daemon: test_orphan_attach: no "
		    "SO_PEERPIDFD (Linux 6.5); a pid reused before the "
		    "accept is not caught, as documented\n");
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
}
END_TEST

TCase *
daemon_orphan_tcase(void)
{
	TCase *tc = tcase_create("orphan");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_orphan_attach);
	return tc;
}
