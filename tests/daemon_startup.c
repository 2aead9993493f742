/*
 * daemon_startup.c: rundownd's start-up, its options, its pid file,
 * and where its log lines go.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "proto.h"
#include "testdaemon.h"
#include "testutil.h"

/* Runs rundownd -d ARGS... as td_exit_status() does. */
static int
daemon_exit_status(const char *const *args)
{
	const char *argv[16];
	size_t n = 0;

	argv[n++] = "rundownd";
	argv[n++] = "-d";
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	return td_exit_status(argv);
}

/* Start-up refuses what it must and leaves alone what is not its own:
 * exit 64 (EX_USAGE) for usage errors, 1 for the rest. */
START_TEST(test_startup)
{
	char path[PATH_MAX], keep[TD_SOCKLEN];
	struct sockaddr_un sun;
	struct stat st;
	size_t n;
	int fd;

	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "-x")), 64);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "-r", "0")),
	    64);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "-R", "4",
	    "-r", "8")), 64);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock, "extra")), 64);

	/* A live daemon on the socket: the second one gives up, and the
	 * first keeps its socket and answers. */
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", td.sock)), 1);
	ck_assert_int_eq(rundown_ctl_list(td.conn, NULL, 0, &n), 0);
	ck_assert_int_eq(lstat(td.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));

	/* A directory others may write to. */
	dt_sub_socket("open", 0777, path, sizeof(path));
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", path)), 1);
	ck_assert(!test_exists(path));

	/* Something that is not a socket at the path is left alone. */
	dt_sub_socket("file", 0700, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(daemon_exit_status(ARGS("-S", path)), 1);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));

	/* A stale socket (nobody listens) is replaced. */
	dt_sub_socket("stale", 0700, path, sizeof(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	memcpy(keep, td.sock, sizeof(keep));
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	memcpy(td.sock, path, strlen(path) + 1);
	td_start(NULL);
	td_stop();
	ck_assert(!test_exists(td.sock));
	memcpy(td.sock, keep, sizeof(keep));
	td_start(NULL);
	td.conn = td_connect();
}
END_TEST

/* ---- options and the pid file ------------------------------------------ */

/* Runs rundownd ARGS... with its stdout into buf (size) and its stderr
 * into the daemon's log: its exit status. */
static int
daemon_stdout(const char *const *args, char *buf, size_t size)
{
	const char *argv[8];
	size_t n = 0, got = 0;
	ssize_t k;
	pid_t pid;
	int p[2], st;

	argv[n++] = "rundownd";
	while (*args != NULL && n < 7)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		st = open(td.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (st < 0 || dup2(p[1], 1) < 0 || dup2(st, 2) < 0)
			_exit(120);
		execv(td.rundownd, (char *const *)argv);
		_exit(121);
	}
	close(p[1]);
	while (got < size - 1 && (k = read(p[0], buf + got,
	    size - 1 - got)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(k, 0);
		got += (size_t)k;
	}
	buf[got] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* --help and --version, as rundownctl has them. */
START_TEST(test_long_options)
{
	char buf[4096], want[64];

	snprintf(want, sizeof(want), "rundownd %s\n",
	    rundown_version_string());
	ck_assert_int_eq(daemon_stdout(ARGS("--version"), buf, sizeof(buf)),
	    0);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(daemon_stdout(ARGS("-V"), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(daemon_stdout(ARGS("--help"), buf, sizeof(buf)), 0);
	ck_assert_msg(strncmp(buf, "usage: rundownd ", 16) == 0 &&
	    strstr(buf, "--version") != NULL, "--help printed:\n%s", buf);
	ck_assert_int_eq(daemon_stdout(ARGS("--bogus"), buf, sizeof(buf)), 64);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* Runs ARGV (a PATH search): its exit status, 127 if it cannot run. */
static int
run_tool(const char *const *argv)
{
	pid_t pid = test_fork_flushed();
	int st, nul;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		nul = open("/dev/null", O_WRONLY);
		if (nul < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
			_exit(120);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Stops the daemon pid whose lock file is sock's as rundownd(8)'s example
 * does (pkill -L -F, then pidwait -L -F), or by kill(2) where procps
 * cannot run. */
static void
stop_by_lock(const char *sock, pid_t pid)
{
	char path[TD_SOCKLEN + 8];
	int r;

	DT_LOCK_PATH(sock, path);
	r = run_tool(ARGS("pkill", "-TERM", "-L", "-F", path));
	if (r == 127) {
		fprintf(stderr, "check_daemon: no pkill; stopped by kill\n");
		ck_assert_int_eq(kill(pid, SIGTERM), 0);
	} else
		ck_assert_msg(r == 0, "pkill -L -F %s: %d", path, r);
	/* 0: it waited for the daemon; else the file was found empty or
	 * unlocked, as the daemon exits (it may not have ended yet). */
	if (run_tool(ARGS("pidwait", "-L", "-F", path)) == 0)
		ck_assert_msg(test_pid_ended(pid), "pidwait returned before "
		    "pid %d ended", (int)pid);
}

/* Waits for a process that is not our child to end (its pidfd). */
static void
await_gone(pid_t pid)
{
	struct pollfd p;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	ck_assert_msg(fd >= 0, "pidfd_open %d: %s", (int)pid, strerror(errno));
	p.fd = fd;
	p.events = POLLIN;
	ck_assert_msg(poll(&p, 1, DT_DEADLINE_MS) == 1,
	    "pid %d still runs after %d ms:\n%s", (int)pid, DT_DEADLINE_MS,
	    td_log());
	close(fd);
}

/* The lock file holds the pid of the daemon, in the foreground or
 * detached (the child's), and nothing after a clean exit; the man page's
 * way of stopping one daemon among several works. */
START_TEST(test_pid_file)
{
	char path[PATH_MAX];
	pid_t pid;
	int fd;

	ck_assert_int_eq(dt_lock_pid(td.sock), td.pid);
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_int_eq(dt_lock_pid(td.sock), 0);

	/* Two daemons: the detached one on a socket of its own. */
	td_start(NULL);
	dt_sub_socket("detached", 0700, path, sizeof(path));
	ck_assert_int_eq(td_exit_status(ARGS("rundownd", "-S", path)),
	    0);
	pid = dt_lock_pid(path);
	ck_assert_msg(pid > 0, "no pid in the lock file:\n%s", td_log());
	ck_assert_int_ne(pid, td.pid);
	/* Detached, yet serving: the pid is the child's, which answers. */
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	ck_assert_msg(fd >= 0, "the pid in the lock file, %d, is not a "
	    "process: %s", (int)pid, strerror(errno));
	close(fd);
	stop_by_lock(path, pid);
	await_gone(pid);
	ck_assert_int_eq(dt_lock_pid(path), 0);
	ck_assert(!test_exists(path));
	/* The other daemon still serves. */
	ck_assert_int_eq(dt_lock_pid(td.sock), td.pid);
	td.conn = td_connect();
}
END_TEST

/* ---- log lines ---------------------------------------------------------- */

/* Restarts the test's daemon with JOURNAL_STREAM set to value (the
 * variable is the test process's own: Check runs each test in a child);
 * where the new daemon's lines begin in the log. */
static off_t
restart_with_journal(const char *value)
{
	off_t off;

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	off = td_log_size();
	ck_assert_int_eq(setenv("JOURNAL_STREAM", value, 1), 0);
	td_start(NULL);
	ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
	td.conn = td_connect();
	return off;
}

/* Sends a frame with a descriptor, which the daemon refuses and logs as
 * a warning. */
static void
bad_frame(void)
{
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_req req = { 0 };
	int fd = td_raw_connect(), nul = open("/dev/null", O_RDONLY);
	size_t n;

	ck_assert_int_ge(nul, 0);
	n = proto_encode(frame, sizeof(frame), PROTO_LIST, 9, &req,
	    (size_t)proto_req_size(PROTO_LIST));
	ck_assert_uint_gt(n, 0);
	td_raw_send(fd, frame, n, nul);
	td_raw_expect_error(fd, 0, EBADMSG, "a frame with a descriptor");
	close(nul);
	close(fd);
}

/* When stderr is the journal (JOURNAL_STREAM names it) each line carries
 * its syslog priority as "<N>"; otherwise, also when JOURNAL_STREAM names
 * another file, lines are plain and name the program. */
START_TEST(test_journal_prefix)
{
	char value[64];
	struct stat st;
	char *text;
	off_t off;

	ck_assert_int_eq(stat(td.log, &st), 0);
	snprintf(value, sizeof(value), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	off = restart_with_journal(value);
	bad_frame();
	td_await_log(off, "<4>pid ", 1);
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "<6>listening on ") == 1 &&
	    td_count(text, "rundownd: ") == 0,
	    "JOURNAL_STREAM is stderr, yet the lines are:\n%s", text);
	free(text);

	snprintf(value, sizeof(value), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino + 1);
	off = restart_with_journal(value);
	bad_frame();
	td_await_log(off, "rundownd: pid ", 1);
	text = td_log_from(off);
	ck_assert_msg(td_count(text, "rundownd: listening on ") == 1 &&
	    td_count(text, "<6>") == 0 && td_count(text, "<4>") == 0,
	    "JOURNAL_STREAM names another file, yet the lines are:\n%s", text);
	free(text);
}
END_TEST

/* Whether syslog(3) would reach anyone here: what rundownd checks. */
static bool
syslog_listens(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sun;
	size_t i;
	int fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/dev/log");
	for (i = 0; i < 2; i++) {
		ck_assert_int_ge(fd = socket(AF_UNIX, types[i], 0), 0);
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		if (r == 0)
			return true;
	}
	return false;
}

/* A daemon that detaches with nobody listening for syslog says so once
 * on stderr before it goes; with a syslog, it says nothing. */
START_TEST(test_no_syslog)
{
	static const char line[] = "rundownd: no syslog at /dev/log";
	char path[PATH_MAX], *text;
	bool listens = syslog_listens();
	off_t off = td_log_size();
	pid_t pid;

	dt_sub_socket("detached", 0700, path, sizeof(path));
	ck_assert_int_eq(td_exit_status(ARGS("rundownd", "-S", path)),
	    0);
	pid = dt_lock_pid(path);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	await_gone(pid);
	text = td_log_from(off);
	if (listens)
		ck_assert_msg(td_count(text, line) == 0, "a syslog listens, "
		    "yet the daemon said:\n%s", text);
	else {
		fprintf(stderr, "check_daemon: nobody listens on /dev/log "
		    "here: the warning is checked\n");
		ck_assert_msg(td_count(text, line) == 1, "no syslog here, and "
		    "the daemon said:\n%s", text);
	}
	free(text);
}
END_TEST

TCase *
daemon_startup_tcase(void)
{
	TCase *tc = tcase_create("startup");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_startup);
	tcase_add_test(tc, test_long_options);
	tcase_add_test(tc, test_pid_file);
	tcase_add_test(tc, test_journal_prefix);
	tcase_add_test(tc, test_no_syslog);
	return tc;
}
