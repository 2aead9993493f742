/*
 * daemon.h: rundownd and rundownctl end to end, the cases of
 * tests/check_daemon.c, one file of test cases per part of the daemon
 * (tests/daemon_*.c), and the helpers they share (check_daemon.c).
 *
 * Each test starts its own rundownd in the foreground on a private socket
 * in a directory of its own and stops it at the end (SIGTERM; it must exit
 * 0).  Client processes are "agents" (testagent.c): forked children that
 * attach to a block and acquire, release, detach or wait when told
 * through a pipe, answering each command with its result.  The tests
 * synchronise on what they can observe: a pipe, a child's exit, a status
 * read back from the daemon.  Where only the daemon's state can tell (it
 * has taken a wait, it has reclaimed a row), the test polls that state
 * with a short pause in between, under a deadline that is a safety net:
 * passing it fails the test.
 *
 * Children never return into Check's runner and never call ck_assert;
 * they report through their exit status.  A failed test leaves its daemon
 * and children to Check (it kills the test's process group); main() then
 * removes what the daemons left in /dev/shm and on disk.
 */
#ifndef RUNDOWN_DAEMON_H
#define RUNDOWN_DAEMON_H

#include <check.h>
#include <stdint.h>
#include <sys/types.h>

#include <rundown/rundown.h>

#include "testdaemon.h"

#define DT_DEADLINE_MS 20000	/* safety net of every poll */
#define DT_MAXHOLDERS 16
#define DT_DIR_MODE 0711	/* searchable by all: test_users connects as
				 * other users */
#define DT_EXIT_SWITCH 10	/* a child's status: it could not become the
				 * user (dt_become()) */

struct passwd;

/* Fixture: a daemon with the default options. */
void dt_setup(void);

/* Runs rundownctl ARGS... to its end: its exit status. */
int dt_ctl(const char *name, const char *const *args);

/* Asserts that rundownctl NAME exited with want, saying why if not. */
#define ck_ctl(name, args, want) do {					\
	int ck_ctl_st = dt_ctl((name), (args));				\
	ck_assert_msg(ck_ctl_st == (want),				\
	    "rundownctl %s: status %d, not %d; stderr: %s", (name),	\
	    ck_ctl_st, (want), td_ctl_output((name), "err"));		\
} while (0)

/* A rundownctl error message must name the program. */
void dt_ctl_said(const char *name);

/* Awaits one more line that holds s in the log from off on. */
#define dt_await_line(off, ...) do {					\
	char await_line_[256];						\
	snprintf(await_line_, sizeof(await_line_), __VA_ARGS__);	\
	td_await_log((off), await_line_, 1);				\
} while (0)

/* In a child of root: drops to user pw for good, or exits
 * DT_EXIT_SWITCH. */
void dt_become(const struct passwd *pw);

/* The well-behaved connection of a frames test still gets the right
 * answers: tag open, 2 outstanding, one row attached. */
void dt_check_good(uint32_t tag);

/* Makes dir/NAME with mode and returns dir/NAME/rundownd.sock in buf. */
const char *dt_sub_socket(const char *name, mode_t mode, char *buf,
    size_t size);

/* A socket's lock file (a socket path is short: TD_SOCKLEN). */
#define DT_LOCK_PATH(sock, buf)						\
	snprintf((buf), sizeof(buf), "%.*s.lock", TD_SOCKLEN, (sock))

/* The pid in socket's lock file, or 0 if it holds none. */
pid_t dt_lock_pid(const char *sock);

/* daemon_wait.c: the last release ends the wait; rundownctl run;
 * holders killed; run-downs in the log. */
TCase *daemon_wait_tcase(void);
/* daemon_startup.c: start-up, options, the pid file, log lines. */
TCase *daemon_startup_tcase(void);
/* daemon_systemd.c: sd_notify(3) and socket activation. */
TCase *daemon_systemd_tcase(void);
/* daemon_users.c: users let in (-u) and not. */
TCase *daemon_users_tcase(void);
/* daemon_frames.c: malformed frames, and frames in pieces. */
TCase *daemon_frames_tcase(void);
/* daemon_fork.c: a holder that forks. */
TCase *daemon_fork_tcase(void);
/* daemon_ops.c: the operations and their errors. */
TCase *daemon_ops_tcase(void);
/* daemon_restart.c: a new daemon adopts the blocks. */
TCase *daemon_restart_tcase(void);
/* daemon_limits.c: -t, -C and -U, -B, and out of descriptors. */
TCase *daemon_timeout_tcase(void);
TCase *daemon_conns_tcase(void);
TCase *daemon_blocks_tcase(void);
TCase *daemon_emfile_tcase(void);
/* daemon_orphan.c: an attach whose sender is gone. */
TCase *daemon_orphan_tcase(void);

#endif /* RUNDOWN_DAEMON_H */
