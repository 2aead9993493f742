/*
 * attack_logs.c: log lines that peers cause (attack 7).
 *
 * Every refusal and every bad frame was logged, so two loops of a user the
 * daemon refuses wrote 180,297 lines in 12 s; with -v, every connection
 * (163k lines in 5 s).  Lines a peer can cause are
 * now logged at most LOG_RATE_BURST (10) a second at each place that logs
 * them (src/log.h), and how many were left out is logged with the next.
 * Each test floods one such place from a child until that count shows up,
 * then requires that the lines logged are few for the time the flood took
 * and that the counts add up to no more than the child's attempts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attack.h"
#include "testdaemon.h"

#define AL_BURST 10		/* LOG_RATE_BURST */
#define AL_UID 47312
#define AL_GID 47312

/* In the child: connects (and sends garbage if bad) until stop is
 * readable or closed, reading each connection to its end; then writes
 * how many connections the daemon ended to out. */
static void
al_child_run(bool bad, int stop, int out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned char junk[16];
	unsigned long n = 0;
	char buf[256];
	gid_t g = AL_GID;
	int fd;

	if (!bad && (setgroups(1, &g) != 0 ||
	    setresgid(AL_GID, AL_GID, AL_GID) != 0 ||
	    setresuid(AL_UID, AL_UID, AL_UID) != 0))
		_exit(3);
	memset(junk, 0xff, sizeof(junk));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", td.sock);
	while (!td_readable(stop)) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			_exit(4);
		if (bad && send(fd, junk, sizeof(junk), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(junk))
			_exit(5);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
		n++;
	}
	if (write(out, &n, sizeof(n)) != (ssize_t)sizeof(n))
		_exit(6);
	_exit(0);
}

/* The sum of the counts in the log's "N more like the next not logged"
 * lines. */
static unsigned long
al_left_out(const char *log)
{
	const char *key = " more like the next not logged";
	const char *p, *q;
	unsigned long sum = 0;

	for (p = log; (p = strstr(p, key)) != NULL; p++) {
		for (q = p; q > log && q[-1] >= '0' && q[-1] <= '9'; q--)
			;
		sum += strtoul(q, NULL, 10);
	}
	return sum;
}

/*
 * Returns once CLOCK_MONOTONIC's second has turned.  The daemon's limit
 * counts a site's lines per second of that clock (log_rate()), so a
 * flood that starts here has the first burst of each site to itself: the
 * fixture's own connections logged theirs in an earlier second.
 */
static void
al_next_second(void)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec == t0.tv_sec)
			nanosleep(&(struct timespec){ 0, 1000000000L -
			    t.tv_nsec }, NULL);
	} while (t.tv_sec == t0.tv_sec);
}

/* Floods the daemon with connections that log line, until lines were
 * left out and said so; checks the counts (each connection logs at
 * sites places, each with its own count of lines left out). */
static void
al_flood(bool bad, const char *line, unsigned long sites)
{
	struct timespec start;
	unsigned long n, lines, left;
	int stop[2], out[2], st;
	off_t off = td_log_size();
	pid_t pid;
	char *log;
	long ms;

	ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	al_next_second();
	start = td_now();
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(stop[1]);
		close(out[0]);
		al_child_run(bad, stop[0], out[1]);
	}
	close(stop[0]);
	close(out[1]);
	td_await_log(off, "more like the next not logged", 1);
	close(stop[1]);
	td_read_all(out[0], &n, sizeof(n), "the flood's count", NULL);
	close(out[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x",
	    st);
	ms = td_elapsed_ms(&start);

	log = td_log_from(off);
	lines = td_count(log, line);
	left = al_left_out(log);
	printf("attack logs: %lu connections in %ld ms, %lu lines logged, "
	    "%lu said left out\n", n, ms, lines, left);
	ck_assert_msg(lines >= AL_BURST && lines <= AL_BURST *
	    (unsigned long)(ms / 1000 + 2), "%lu lines \"%s\" in %ld ms:\n%s",
	    lines, line, ms, td_log());
	ck_assert_msg(lines + left <= n * sites, "%lu + %lu lines for %lu "
	    "connections", lines, left, n);
	free(log);
}

/* Attack 7: a user the daemon refuses connects in a loop. */
START_TEST(test_refusals)
{
	al_flood(false, "not a permitted user", 1);
}
END_TEST

/* Attack 7, from a permitted user: a bad frame on each connection. */
START_TEST(test_bad_frames)
{
	al_flood(true, "bad frame (", 1);
}
END_TEST

/* With -v, a debug line for each connection: one more place a peer
 * fills the log from, limited like the others (and the bad frame's). */
START_TEST(test_verbose_connections)
{
	al_flood(true, " connected", 2);
}
END_TEST

/* -u lets another user in, so the socket is open to all (0666) and the
 * daemon itself must refuse the rest. */
static void
al_setup(void)
{
	static const char *const extra[] = { "-u", "47399", NULL };

	td_setup(0711, extra);
}

static void
al_setup_verbose(void)
{
	static const char *const extra[] = { "-u", "47399", "-v", NULL };

	td_setup(0711, extra);
}

TCase *
attack_logs_tcase(void)
{
	TCase *tc = tcase_create("logs");

	tcase_add_checked_fixture(tc, al_setup, td_teardown);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_bad_frames);
	return tc;
}

TCase *
attack_logs_verbose_tcase(void)
{
	TCase *tc = tcase_create("logs-verbose");

	tcase_add_checked_fixture(tc, al_setup_verbose, td_teardown);
	tcase_add_test(tc, test_verbose_connections);
	return tc;
}
