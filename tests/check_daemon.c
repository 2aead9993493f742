/*
 * check_daemon.c: rundownd and rundownctl, end to end (see daemon.h).
 * Every test case is a part of the daemon, in a file of its own
 * (tests/daemon_*.c); here are the runner and the helpers they share.
 */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "testdaemon.h"
#include "testutil.h"

/* Fixture: a daemon with the default options. */
void
dt_setup(void)
{
	td_setup(DT_DIR_MODE, NULL);
}

/* Runs rundownctl ARGS... to its end: its exit status. */
int
dt_ctl(const char *name, const char *const *args)
{
	return td_ctl_finish(td_ctl_start(td.sock, name, args), name);
}

/* A rundownctl error message must name the program. */
void
dt_ctl_said(const char *name)
{
	const char *err = td_ctl_output(name, "err");

	ck_assert_msg(strncmp(err, "rundownctl: ", 12) == 0,
	    "rundownctl %s: stderr is \"%s\"", name, err);
}

/* In a child of root: drops to user pw for good, or exits. */
void
dt_become(const struct passwd *pw)
{
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || geteuid() != pw->pw_uid)
		_exit(DT_EXIT_SWITCH);
}

/* The well-behaved connection still gets the right answers. */
void
dt_check_good(uint32_t tag)
{
	struct rundown_block_info info, list[4];
	size_t n;

	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.tag, tag);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.outstanding, 2);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].tag, tag);
	ck_assert_uint_eq(list[0].outstanding, 2);
}

/* Makes dir/NAME with mode and returns dir/NAME/rundownd.sock in buf. */
const char *
dt_sub_socket(const char *name, mode_t mode, char *buf, size_t size)
{
	static const char file[] = "/rundownd.sock";

	snprintf(buf, size, "%s/%s", td.dir, name);
	ck_assert_int_eq(mkdir(buf, 0700), 0);
	ck_assert_int_eq(chmod(buf, mode), 0);
	ck_assert_uint_lt(strlen(buf) + sizeof(file), TD_SOCKLEN);
	strcat(buf, file);
	return buf;
}

/* The pid in socket's lock file, or 0 if it holds none. */
pid_t
dt_lock_pid(const char *sock)
{
	char path[TD_SOCKLEN + 8], buf[32];
	long v = 0;

	DT_LOCK_PATH(sock, path);
	td_file_tail(path, buf, sizeof(buf));
	if (buf[0] == '\0')
		return 0;
	ck_assert_msg(sscanf(buf, "%ld\n", &v) == 1 && v > 0,
	    "%s holds \"%s\"", path, buf);
	return (pid_t)v;
}

/* Every case gets Check's timeout, a safety net well past
 * DT_DEADLINE_MS, and a daemon of its own (its fixture starts it). */
static void
dt_add(Suite *s, TCase *tc)
{
	test_timeout(tc, 60);
	suite_add_tcase(s, tc);
}

/* The suite: one case a part of the daemon, in the order of daemon.h. */
static Suite *
daemon_suite(void)
{
	Suite *s = suite_create("daemon");

	dt_add(s, daemon_wait_tcase());
	dt_add(s, daemon_startup_tcase());
	dt_add(s, daemon_systemd_tcase());
	dt_add(s, daemon_users_tcase());
	dt_add(s, daemon_frames_tcase());
	dt_add(s, daemon_fork_tcase());
	dt_add(s, daemon_ops_tcase());
	dt_add(s, daemon_restart_tcase());
	dt_add(s, daemon_timeout_tcase());
	dt_add(s, daemon_conns_tcase());
	dt_add(s, daemon_blocks_tcase());
	dt_add(s, daemon_emfile_tcase());
	dt_add(s, daemon_orphan_tcase());
	return s;
}

int
main(void)
{
	return td_main("rundown-check", 0711, DT_DEADLINE_MS, daemon_suite);
}
