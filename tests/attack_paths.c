/*
 * attack_paths.c: other users' hands on the socket's path.  Attack 4 of
 * "rundownd under attack": the daemon set the socket's mode and owner by
 * path after bind and checked only the socket's own directory, so a user
 * who could swap a parent (a link, RENAME_EXCHANGE) turned a root 0600
 * file into 0666.  Attack 6: clients never checked who the daemon is, so
 * another user's daemon on a path the victim uses (the /tmp fallback)
 * was taken for the victim's own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "testdaemon.h"

#define AP_UID 61231		/* made-up users; no accounts exist */
#define AP_UID2 61232
#define AP_GID 61233

/* td.dir/NAME, made with mode (exactly) and owned by uid. */
static const char *
ap_mkdir(const char *name, mode_t mode, uid_t uid, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", td.dir, name);
	ck_assert_int_eq(mkdir(buf, 0700), 0);
	ck_assert_int_eq(chown(buf, uid, AP_GID), 0);
	ck_assert_int_eq(chmod(buf, mode), 0);
	return buf;
}

/* rundownd -d -S path run to its end: its exit status, and the log it
 * wrote from off on in *log (malloc'd). */
static int
ap_daemon_status(const char *path, off_t off, char **log)
{
	int st = td_exit_status(ARGS("rundownd", "-d", "-S", path));

	*log = td_log_from(off);
	return st;
}

/* The daemon refuses path, saying why (the log holds what), and leaves
 * no trace at created (a path that must not exist after). */
static void
ap_refused(const char *path, const char *created, const char *what)
{
	struct stat st;
	char *log;
	int r;

	r = ap_daemon_status(path, td_log_size(), &log);
	ck_assert_msg(r == 1, "rundownd -S %s: exit %d, not 1:\n%s", path, r,
	    log);
	ck_assert_msg(strstr(log, what) != NULL && strstr(log, "refusing"),
	    "rundownd -S %s: no \"%s\" in its message:\n%s", path, what, log);
	ck_assert_msg(lstat(created, &st) != 0 && errno == ENOENT,
	    "rundownd -S %s created %s", path, created);
	free(log);
}

/* Attack 4: a link among the socket's parents, or a parent that another
 * user owns or may write, is refused before anything is created. */
START_TEST(test_unsafe_parents)
{
	char real[200], path[PATH_MAX], made[PATH_MAX];

	/* A link in the middle: before, mkdir followed it and the daemon
	 * served in whatever the link's owner pointed it at. */
	ap_mkdir("real", 0755, 0, real, sizeof(real));
	snprintf(path, sizeof(path), "%s/link", td.dir);
	ck_assert_int_eq(symlink(real, path), 0);
	snprintf(path, sizeof(path), "%s/link/run/rundownd.sock", td.dir);
	snprintf(made, sizeof(made), "%s/run", real);
	ap_refused(path, made, "symbolic link");

	/* The socket's own directory a link to one of ours. */
	ap_mkdir("own", 0700, 0, real, sizeof(real));
	snprintf(path, sizeof(path), "%s/ownlink", td.dir);
	ck_assert_int_eq(symlink(real, path), 0);
	snprintf(path, sizeof(path), "%s/ownlink/rundownd.sock", td.dir);
	snprintf(made, sizeof(made), "%s/rundownd.sock", real);
	ap_refused(path, made, "symbolic link");

	/* A parent another user owns: she could swap what it holds. */
	ap_mkdir("theirs", 0755, AP_UID, real, sizeof(real));
	snprintf(path, sizeof(path), "%s/run/rundownd.sock", real);
	snprintf(made, sizeof(made), "%s/run", real);
	ap_refused(path, made, "owned by another user");

	/* A parent a group may write, without the sticky bit. */
	ap_mkdir("shared", 0775, 0, real, sizeof(real));
	snprintf(path, sizeof(path), "%s/run/rundownd.sock", real);
	snprintf(made, sizeof(made), "%s/run", real);
	ap_refused(path, made, "writable by group or others");
}
END_TEST

/* A sticky world-writable parent (like /tmp) is accepted, and a socket
 * directory of ours with a wrong mode is corrected, not trusted as is. */
START_TEST(test_dir_mode_fixed)
{
	char keep[TD_SOCKLEN], dir[200], sticky[200];
	struct stat st;

	ap_mkdir("sticky", 01777, 0, sticky, sizeof(sticky));
	ap_mkdir("sticky/run", 0750, 0, dir, sizeof(dir));
	memcpy(keep, td.sock, sizeof(keep));
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_uint_lt(strlen(dir) + 16, TD_SOCKLEN);
	snprintf(td.sock, sizeof(td.sock), "%s/rundownd.sock", dir);
	td_start(NULL);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(lstat(td.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	td_stop();
	memcpy(td.sock, keep, sizeof(keep));
	td_start(NULL);
	td.conn = td_connect();
}
END_TEST

/* In a forked child: becomes the made-up uid for good (and AP_GID). */
static void
ap_become(uid_t uid)
{
	if (setgroups(0, NULL) != 0 || setresgid(AP_GID, AP_GID, AP_GID) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		_exit(90);
}

/* A listener that only pretends to be rundownd: forks a child that, as
 * uid, binds dir/rundownd.sock (mode 0666), says so on a pipe, and lives
 * until the returned descriptor is closed.  *pid is the child. */
static int
ap_fake_daemon(uid_t uid, const char *dir, char *path, size_t size,
    pid_t *pid)
{
	struct sockaddr_un sun;
	int ready[2], hold[2], fd;
	char c = 0;

	snprintf(path, size, "%s/rundownd.sock", dir);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	*pid = fork();
	ck_assert_int_ge(*pid, 0);
	if (*pid == 0) {
		close(ready[0]);
		close(hold[1]);
		ap_become(uid);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, path, strlen(path) + 1);
		umask(0);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
		    listen(fd, 8) != 0 || write(ready[1], &c, 1) != 1)
			_exit(91);
		(void)read(hold[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(*pid, &fd, 0);
		ck_abort_msg("the fake daemon as uid %u on %s failed (status "
		    "%#x)", (unsigned)uid, path, fd);
	}
	close(ready[0]);
	return hold[1];
}

/* Ends a fake daemon: it must have exited 0. */
static void
ap_fake_end(int hold, pid_t pid)
{
	int st;

	close(hold);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the fake daemon failed (status %#x)", st);
}

/* In a forked child as uid: rundown_connect(path) with
 * $RUNDOWN_DAEMON_UID set to named (if not NULL) returns want; the
 * child's exit status says whether it did (0), or what it got. */
static int
ap_connect_as(uid_t uid, const char *path, const char *named, int want)
{
	rundown_conn_t *c;
	pid_t pid;
	int st, r;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ap_become(uid);
		if (named != NULL)
			setenv("RUNDOWN_DAEMON_UID", named, 1);
		else
			unsetenv("RUNDOWN_DAEMON_UID");
		r = rundown_connect(path, &c);
		if (r == 0)
			rundown_disconnect(c);
		_exit(r == want ? 0 : 100 + (r < 0 ? -r : r) % 100);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Attack 6: another user's daemon on a path the victim uses.  Root's
 * client and a user's client refuse a daemon of another uid unless they
 * name it, and rundownctl says whose it is. */
START_TEST(test_untrusted_daemon)
{
	char dir[200], path[PATH_MAX], uid[16], want[64];
	rundown_conn_t *c;
	pid_t pid, ctl;
	int hold, r;

	/* Her directory, her socket: root's client refuses it. */
	ap_mkdir("hers", 0711, AP_UID, dir, sizeof(dir));
	hold = ap_fake_daemon(AP_UID, dir, path, sizeof(path), &pid);
	unsetenv("RUNDOWN_DAEMON_UID");
	ck_assert_int_eq(rundown_connect(path, &c), -EPERM);
	ctl = td_ctl_start(path, "who", ARGS("list"));
	ck_assert_int_ne(td_ctl_finish(ctl, "who"), 0);
	snprintf(want, sizeof(want), "runs as uid %u", AP_UID);
	ck_assert_msg(strstr(td_ctl_output("who", "err"), want) != NULL,
	    "rundownctl does not name uid %u:\n%s", AP_UID,
	    td_ctl_output("who", "err"));
	/* ... unless named. */
	snprintf(uid, sizeof(uid), "%u", AP_UID);
	ck_assert_int_eq(setenv("RUNDOWN_DAEMON_UID", uid, 1), 0);
	ck_assert_int_eq(rundown_connect(path, &c), 0);
	rundown_disconnect(c);
	ck_assert_int_eq(unsetenv("RUNDOWN_DAEMON_UID"), 0);

	/* Another user's client refuses her daemon unless it names her;
	 * her own client takes it. */
	ck_assert_int_eq(ap_connect_as(AP_UID2, path, NULL, -EPERM), 0);
	ck_assert_int_eq(ap_connect_as(AP_UID2, path, "1", -EPERM), 0);
	ck_assert_int_eq(ap_connect_as(AP_UID2, path, uid, 0), 0);
	ck_assert_int_eq(ap_connect_as(AP_UID, path, NULL, 0), 0);
	ap_fake_end(hold, pid);

	/* A trusted uid, but in a directory of someone else's: whoever
	 * owns the directory could have put the socket there. */
	ap_mkdir("notours", 0711, AP_UID, dir, sizeof(dir));
	hold = ap_fake_daemon(AP_UID, dir, path, sizeof(path), &pid);
	ck_assert_int_eq(chown(dir, AP_UID2, AP_GID), 0);
	ck_assert_int_eq(ap_connect_as(AP_UID, path, NULL, -EPERM), 0);
	ap_fake_end(hold, pid);

	/* Root's daemon is trusted by a user it lets in (-u). */
	r = ap_connect_as(AP_UID, td.sock, NULL, 0);
	ck_assert_msg(r == 0, "uid %u cannot connect to root's daemon: %d",
	    AP_UID, r);
}
END_TEST

/* "Not squattable": without $XDG_RUNTIME_DIR a user's default socket is
 * under her home, not in /tmp where another user could make it first. */
START_TEST(test_default_path)
{
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[TD_SOCKLEN];

		ap_become(AP_UID);
		unsetenv("RUNDOWN_SOCKET");
		unsetenv("XDG_RUNTIME_DIR");
		setenv("HOME", "/home/ap", 1);
		if (rundown_socket_path(buf, sizeof(buf)) != 0)
			_exit(1);
		if (strcmp(buf, "/home/ap/.rundownd/rundownd.sock") != 0)
			_exit(2);
		unsetenv("HOME");
		_exit(rundown_socket_path(buf, sizeof(buf)) == -ENOENT ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "rundown_socket_path as uid %u: status %#x", AP_UID, st);
}
END_TEST

static void
ap_setup(void)
{
	td_setup(0711, ARGS("-u", "61231"));
}

TCase *
attack_paths_tcase(void)
{
	TCase *tc = tcase_create("paths");

	tcase_add_checked_fixture(tc, ap_setup, td_teardown);
	tcase_add_test(tc, test_unsafe_parents);
	tcase_add_test(tc, test_dir_mode_fixed);
	tcase_add_test(tc, test_untrusted_daemon);
	tcase_add_test(tc, test_default_path);
	return tc;
}
