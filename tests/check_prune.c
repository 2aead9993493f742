/*
 * check_prune.c: what rundownd leaves in /dev/shm, and rundownctl prune.
 *
 *   lock     the daemon holds a shared lock on each block's NAME.meta for
 *            as long as it keeps the block, taken again when a restarted
 *            daemon adopts it, and gone once the daemon has exited.
 *   prune    of a live daemon and a killed one, prune --yes removes every
 *            object of the killed one's and none of the live one's, whose
 *            block goes on working; a live daemon that prune can neither
 *            see listen nor look into (other namespaces) keeps its blocks
 *            by its lock alone; a killed daemon's blocks stay while its
 *            socket listens (a service manager holding it for the next)
 *            and while a process holds a record open (as a daemon too
 *            old to lock does); without --yes and without a terminal,
 *            prune lists, removes nothing, and says so; at a terminal it
 *            asks, and does what it is told; --json; never a symbolic
 *            link, nor an object whose owner is not the user its name
 *            gives, nor another user's but for root.
 *
 * Besides, the fixture's teardown (td_teardown) checks that each daemon
 * left nothing in /dev/shm but whole blocks, and that none still runs.
 *
 * Each test starts its own rundownd (testdaemon.h), and a second one on a
 * socket of its test directory where it needs one, and runs rundownctl
 * with -S, which keeps prune to the objects of that socket: suites that
 * run beside this one kill and restart their own daemons, whose blocks no
 * daemon serves for a while.  The tests synchronise on what they can
 * observe: a daemon answering, a child's exit, a line on a terminal, the
 * objects in /dev/shm.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "proto.h"
#include "shmname.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

#define PR_DEADLINE_MS 20000	/* safety net of every poll */
#define PR_MAXOBJ 64		/* objects of one daemon a test makes */
#define PR_UID 61311		/* made-up users; no accounts exist */
#define PR_UID2 61312

/* The names of one daemon's objects in /dev/shm, sorted. */
struct objs {
	size_t n;
	char name[PR_MAXOBJ][NAME_MAX + 1];
};

/* A second daemon, on a socket of the test's directory. */
struct other {
	char sock[TD_SOCKLEN];
	pid_t pid;
};

/* ---- fixture ----------------------------------------------------------- */

static void
pr_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	td_setup(0711, NULL);
}

/* ---- helpers ----------------------------------------------------------- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The objects in /dev/shm named after the daemon on path. */
static void
objs_of(const char *path, struct objs *o)
{
	char prefix[SHMNAME_PREFIX_MAX];
	struct dirent *de;
	DIR *d;

	shmname_prefix(path, prefix, sizeof(prefix));
	o->n = 0;
	ck_assert_ptr_nonnull(d = opendir("/dev/shm"));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		ck_assert_uint_lt(o->n, PR_MAXOBJ);
		snprintf(o->name[o->n++], sizeof(o->name[0]), "%s",
		    de->d_name);
	}
	closedir(d);
	qsort(o->name, o->n, sizeof(o->name[0]), name_cmp);
}

/* Asserts that the daemon on path has the objects it had (was). */
static void
objs_same(const char *path, const struct objs *was, const char *when)
{
	struct objs now;
	size_t i;

	objs_of(path, &now);
	ck_assert_msg(now.n == was->n, "%s: %zu objects of the daemon on %s, "
	    "not %zu", when, now.n, path, was->n);
	for (i = 0; i < now.n; i++)
		ck_assert_msg(strcmp(now.name[i], was->name[i]) == 0,
		    "%s: /dev/shm has %s, not %s", when, now.name[i],
		    was->name[i]);
}

/* The name of the header of the daemon on path, its only block. */
static void
header_of(const char *path, char *buf, size_t size)
{
	struct objs o;
	size_t i;

	objs_of(path, &o);
	for (i = 0; i < o.n; i++)
		if (strstr(o.name[i], ".meta") != NULL) {
			snprintf(buf, size, "%.*s", (int)(strlen(o.name[i]) -
			    5), o.name[i]);
			return;
		}
	ck_abort_msg("no block of the daemon on %s in /dev/shm", path);
}

/* A socket path in a new directory of the test's directory. */
static void
other_path(struct other *o, const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", td.dir, dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s/rundownd.sock", td.dir, dir);
	ck_assert_uint_lt(strlen(path), sizeof(o->sock));
	memcpy(o->sock, path, strlen(path) + 1);
}

/* Starts rundownd -d -S on a socket of its own, in a new directory dir
 * of the test's directory; its log is the test daemon's. */
static void
other_start(struct other *o, const char *dir)
{
	other_path(o, dir);
	o->pid = td_spawn(ARGS("rundownd", "-d", "-S", o->sock));
	td_await_daemon(o->sock, o->pid);
}

/* Kills the daemon with SIGKILL, as a crash would end it. */
static void
other_kill(struct other *o)
{
	int st;

	ck_assert_int_eq(kill(o->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(o->pid, &st, 0), o->pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	o->pid = 0;
}

/* Creates a block of tag on the daemon on path. */
static void
create_on(const char *path, uint32_t tag)
{
	rundown_conn_t *c;
	int r;

	ck_assert_int_eq(rundown_connect(path, &c), 0);
	r = rundown_ctl_create(c, tag, 4);
	rundown_disconnect(c);
	ck_assert_msg(r == 0, "create on %s: %s", path, rundown_strerror(r));
}

/*
 * A client of the daemon on path, attached to a new block of tag: a
 * child that holds its row until *feed is closed, then exits without a
 * detach.  Returns once it is attached.
 */
static pid_t
client_on(const char *path, uint32_t tag, int *feed)
{
	rundown_cache_t *ref;
	int in[2], out[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		close(in[1]);
		close(out[0]);
		c = rundown_attach_at(path, tag, RUNDOWN_ATTACH_CREATE,
		    &ref) == 0 ? 'a' : 'e';
		test_put(out[1], &c, 1);
		while (read(in[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	td_read_all(out[0], &c, 1, "the client's attach", NULL);
	close(out[0]);
	ck_assert_msg(c == 'a', "the client could not attach to %s", path);
	*feed = in[1];
	return pid;
}

/* Runs rundownctl ARGS... (with -S path first, unless path is NULL) to
 * its end, stdin on /dev/null, its output in td.dir/NAME.out and .err:
 * its exit status. */
static int
ctl(const char *path, const char *name, const char *const *args)
{
	return td_ctl_finish(td_ctl_start(path, name, args), name);
}

/*
 * As ctl(path, ...), in a new PID namespace with a /proc of its own (in
 * a new mount namespace), where no other process can be looked into:
 * its exit status, or -1 where no such namespace can be made.
 */
static int
ctl_alone(const char *path, const char *name, const char *const *args)
{
	const char *argv[16];
	char out[PATH_MAX], err[PATH_MAX];
	size_t n = 0;
	pid_t pid, init;
	int o, e, nul, st;

	argv[n++] = td.rundownctl;
	argv[n++] = "-S";
	argv[n++] = path;
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/%s.out", td.dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", td.dir, name);
	pid = test_fork_flushed();
	if (pid == 0) {
		if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			_exit(124);
		if ((init = fork()) < 0)
			_exit(120);
		if (init == 0) {
			o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			nul = open("/dev/null", O_RDONLY);
			if (mount("proc", "/proc", "proc", MS_NOSUID |
			    MS_NODEV | MS_NOEXEC, NULL) != 0)
				_exit(124);
			if (o < 0 || e < 0 || nul < 0 || dup2(nul, 0) < 0 ||
			    dup2(o, 1) < 0 || dup2(e, 2) < 0)
				_exit(120);
			execv(td.rundownctl, (char *const *)argv);
			_exit(121);
		}
		if (waitpid(init, &st, 0) != init || !WIFEXITED(st))
			_exit(120);
		_exit(WEXITSTATUS(st));
	}
	st = td_ctl_finish(pid, name);
	return st == 124 ? -1 : st;
}

/* Asserts that what rundownctl NAME wrote to ext holds s. */
static void
said(const char *name, const char *ext, const char *s)
{
	const char *text = td_ctl_output(name, ext);

	ck_assert_msg(strstr(text, s) != NULL, "rundownctl %s: its std%s "
	    "does not say \"%s\":\n%s", name, ext, s, text);
}

/* True if NAME.meta's lock is free: an exclusive flock() is granted. */
static bool
meta_unlocked(const char *header)
{
	char path[PATH_MAX];
	bool free_;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/%s.meta", header);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	free_ = flock(fd, LOCK_EX | LOCK_NB) == 0;
	ck_assert_msg(free_ || errno == EWOULDBLOCK, "flock %s: %s", path,
	    strerror(errno));
	close(fd);
	return free_;
}

/* True if /proc/net/unix shows a socket bound to path. */
static bool
socket_seen(const char *path)
{
	char line[512];
	size_t len = strlen(path);
	bool seen = false;
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen("/proc/net/unix", "re"));
	while (!seen && fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, path);

		seen = p != NULL && p[len] == '\n';
	}
	fclose(f);
	return seen;
}

/* ---- lock -------------------------------------------------------------- */

/* The daemon holds each block's NAME.meta locked while it keeps it, from
 * its creation and again from its adoption, and not after its exit. */
START_TEST(test_meta_locked)
{
	uint32_t tag = RUNDOWN_TAG('L', 'o', 'c', 'k');
	char header[NAME_MAX + 1], path[PATH_MAX];

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 4), 0);
	header_of(td.sock, header, sizeof(header));
	ck_assert_msg(!meta_unlocked(header), "the record of a block the "
	    "daemon keeps is not locked");

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ck_assert_msg(meta_unlocked(header), "the record is still locked "
	    "after the daemon exited");

	td_start(NULL);
	td.conn = td_connect();
	ck_assert_msg(!meta_unlocked(header), "the record of a block the "
	    "daemon adopted is not locked");

	/* Freed: gone, lock and all. */
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);
	snprintf(path, sizeof(path), "/dev/shm/%s.meta", header);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* ---- prune ------------------------------------------------------------- */

/*
 * Of a live daemon, whose block a client holds, and of a killed one,
 * whose block a client held: prune --yes removes every object of the
 * killed one's and none of the live one's, whose block goes on working.
 */
START_TEST(test_prune_dead)
{
	uint32_t live = RUNDOWN_TAG('L', 'i', 'v', 'e'),
	    dead = RUNDOWN_TAG('D', 'e', 'a', 'd');
	struct rundown_block_info info;
	char header[NAME_MAX + 1], want[PATH_MAX];
	struct objs was_live, was_dead, none = { 0 };
	struct other b;
	struct agent ag;
	pid_t client;
	int feed;

	agent_start(&ag, "holder", &live, 1, RUNDOWN_ATTACH_CREATE);
	agent_acquire(&ag, 0, 1);
	other_start(&b, "b");
	client = client_on(b.sock, dead, &feed);
	other_kill(&b);
	objs_of(td.sock, &was_live);
	objs_of(b.sock, &was_dead);
	/* A header, its record and a row each. */
	ck_assert_uint_eq(was_live.n, 3);
	ck_assert_uint_eq(was_dead.n, 3);

	ck_assert_int_eq(ctl(td.sock, "live", ARGS("prune", "--yes")), 0);
	said("live", "err", "nothing to remove");
	ck_assert_str_eq(td_ctl_output("live", "out"), "");
	objs_same(td.sock, &was_live, "after a prune of the live daemon's");

	header_of(b.sock, header, sizeof(header));
	ck_assert_int_eq(ctl(b.sock, "dead", ARGS("prune", "--yes")), 0);
	snprintf(want, sizeof(want), "%-10s  %10lu  %7u  ", "Dead",
	    (unsigned long)geteuid(), 3);
	said("dead", "out", want);
	snprintf(want, sizeof(want), "  /dev/shm/%s\n", header);
	said("dead", "out", want);
	said("dead", "err", "removed 3 objects of 1 block");
	objs_same(b.sock, &none, "after a prune of the killed daemon's");
	objs_same(td.sock, &was_live, "after a prune of the killed daemon's");

	/* The live block as it was, and still run down as ever. */
	td_status(live, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, live, NULL), 0);
	agent_quit(&ag);
	close(feed);
	test_reap_ok(client);
}
END_TEST

/*
 * A daemon that prune can neither see listen nor look into, as from a
 * container that shares /dev/shm alone (here: the daemon in another
 * network namespace, prune in another PID namespace with a /proc of its
 * own), keeps its blocks by its lock alone; once killed, they go.
 * (Root only: new namespaces.)
 */
START_TEST(test_prune_lock_only)
{
	struct timespec start = td_now();
	struct objs was, none = { 0 };
	rundown_conn_t *conn;
	struct other c;
	int st;

	if (geteuid() != 0) {
		fprintf(stderr, "check_prune: not root; a daemon in another "
		    "network namespace is not tried\n");
		return;
	}
	other_path(&c, "c");
	c.pid = test_fork_flushed();
	if (c.pid == 0) {
		int nul = open("/dev/null", O_RDWR), log = open(td.log,
		    O_WRONLY | O_APPEND | O_CLOEXEC);

		if (unshare(CLONE_NEWNET) != 0)
			_exit(124);
		if (nul < 0 || log < 0 || dup2(nul, 0) < 0 ||
		    dup2(nul, 1) < 0 || dup2(log, 2) < 0)
			_exit(120);
		execl(td.rundownd, "rundownd", "-d", "-S", c.sock,
		    (char *)NULL);
		_exit(121);
	}
	/* Answering, or exited: where no namespace can be made, 124. */
	while ((conn = NULL, rundown_connect(c.sock, &conn)) != 0) {
		if (waitpid(c.pid, &st, WNOHANG) == c.pid) {
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 124,
			    "rundownd in a new network namespace exited "
			    "(status %#x):\n%s", st, td_log());
			fprintf(stderr, "check_prune: no new network namespace "
			    "here; the lock alone is not tried\n");
			return;
		}
		ck_assert_msg(td_elapsed_ms(&start) < PR_DEADLINE_MS, "rundownd "
		    "did not listen on %s within %d ms", c.sock,
		    PR_DEADLINE_MS);
		td_pause();
	}
	rundown_disconnect(conn);
	ck_assert_msg(!socket_seen(c.sock), "/proc/net/unix shows %s, which "
	    "listens in another network namespace", c.sock);
	create_on(c.sock, RUNDOWN_TAG('N', 'e', 't', 'n'));
	objs_of(c.sock, &was);
	ck_assert_uint_eq(was.n, 2);

	if ((st = ctl_alone(c.sock, "live", ARGS("prune", "--yes"))) < 0) {
		fprintf(stderr, "check_prune: no new PID namespace here; the "
		    "lock alone is not tried\n");
		other_kill(&c);
		return;
	}
	ck_assert_int_eq(st, 0);
	said("live", "err", "nothing to remove");
	said("live", "err", "(1 block served)");
	objs_same(c.sock, &was, "after a prune of a live daemon's");

	other_kill(&c);
	ck_assert_int_eq(ctl_alone(c.sock, "dead", ARGS("prune", "--yes")), 0);
	said("dead", "err", "removed 2 objects of 1 block");
	objs_same(c.sock, &none, "after a prune of a killed daemon's");
}
END_TEST

/*
 * The blocks of a killed daemon stay while its socket listens, as a
 * service manager keeps it for the next daemon (which would adopt
 * them); once nothing listens there, prune removes them.
 */
START_TEST(test_prune_listening)
{
	struct sockaddr_un sun;
	struct objs was, none = { 0 };
	struct other b;
	int l;

	other_start(&b, "b");
	create_on(b.sock, RUNDOWN_TAG('A', 'c', 't', 'v'));
	other_kill(&b);
	objs_of(b.sock, &was);
	ck_assert_uint_eq(was.n, 2);

	/* The service manager's socket: the stale one replaced. */
	ck_assert_int_eq(unlink(b.sock), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, b.sock, strlen(b.sock) + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(l, 8), 0);
	ck_assert_int_eq(ctl(b.sock, "held", ARGS("prune", "--yes")), 0);
	said("held", "err", "nothing to remove");
	objs_same(b.sock, &was, "while its socket listens");

	close(l);
	ck_assert_int_eq(ctl(b.sock, "gone", ARGS("prune", "--yes")), 0);
	said("gone", "err", "removed 2 objects of 1 block");
	objs_same(b.sock, &none, "once its socket is closed");
}
END_TEST

/*
 * A block whose record a live process holds open, as a daemon too old to
 * lock its blocks does, stays; once the process is gone, it goes.
 */
START_TEST(test_prune_held_open)
{
	char header[NAME_MAX + 1], path[PATH_MAX], c;
	struct objs was, none = { 0 };
	struct other b;
	int in[2], out[2];
	pid_t pid;

	other_start(&b, "b");
	create_on(b.sock, RUNDOWN_TAG('O', 'l', 'd', 'd'));
	other_kill(&b);
	objs_of(b.sock, &was);
	header_of(b.sock, header, sizeof(header));
	snprintf(path, sizeof(path), "/dev/shm/%s.meta", header);
	ck_assert_msg(meta_unlocked(header), "a killed daemon's lock stays");

	/* The old daemon: holds the record open, no lock, until told. */
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);

		close(in[1]);
		close(out[0]);
		c = fd >= 0 ? 'o' : 'e';
		test_put(out[1], &c, 1);
		while (read(in[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	td_read_all(out[0], &c, 1, "the holder's open", NULL);
	close(out[0]);
	ck_assert_int_eq(c, 'o');

	ck_assert_int_eq(ctl(b.sock, "held", ARGS("prune", "--yes")), 0);
	said("held", "err", "nothing to remove");
	objs_same(b.sock, &was, "while a process holds its record open");

	close(in[1]);
	test_reap_ok(pid);
	ck_assert_int_eq(ctl(b.sock, "gone", ARGS("prune", "--yes")), 0);
	said("gone", "err", "removed 2 objects of 1 block");
	objs_same(b.sock, &none, "once nobody holds its record");
}
END_TEST

/*
 * Without --yes and without a terminal, prune lists and removes nothing,
 * and says how to remove; --json lists the same as an array; without -S
 * it lists the killed daemon's block among any others.
 */
START_TEST(test_prune_list_only)
{
	char header[NAME_MAX + 1], want[PATH_MAX * 2];
	struct objs was;
	struct other b;

	other_start(&b, "b");
	create_on(b.sock, RUNDOWN_TAG('L', '"', '\\', 't'));
	other_kill(&b);
	objs_of(b.sock, &was);
	header_of(b.sock, header, sizeof(header));

	ck_assert_int_eq(ctl(b.sock, "list", ARGS("prune")), 0);
	snprintf(want, sizeof(want), "%-10s  %10s  %7s  %10s  %s\n", "TAG",
	    "UID", "OBJECTS", "BYTES", "BLOCK");
	said("list", "out", want);
	snprintf(want, sizeof(want), "%-10s  %10lu  %7u  ", "L\"\\t",
	    (unsigned long)geteuid(), 2);
	said("list", "out", want);
	said("list", "out", header);
	said("list", "err", "rundownctl: prune: 2 objects of 1 block that no "
	    "daemon serves; nothing removed: no terminal to confirm at "
	    "(--yes removes them)\n");
	objs_same(b.sock, &was, "after a prune without --yes");

	ck_assert_int_eq(ctl(b.sock, "json", ARGS("prune", "--json")), 0);
	snprintf(want, sizeof(want), "[{\"block\":\"/dev/shm/%s\",\"tag\":"
	    "\"L\\\"\\\\t\",\"uid\":%lu,\"objects\":2,\"bytes\":", header,
	    (unsigned long)geteuid());
	said("json", "out", want);
	said("json", "out", ",\"removed\":false}]\n");
	objs_same(b.sock, &was, "after a prune --json");

	/* Every user's object, here root's or the user's: listed, not
	 * removed. */
	ck_assert_int_eq(ctl(NULL, "all", ARGS("prune")), 0);
	said("all", "out", header);
	objs_same(b.sock, &was, "after a prune of all without --yes");

	ck_assert_int_eq(ctl(b.sock, "yes", ARGS("prune", "--json",
	    "--yes")), 0);
	said("yes", "out", ",\"removed\":true}]\n");
}
END_TEST

/* rundownctl -S path prune on a terminal of its own, answering a. */
static void
prune_at_terminal(const char *path, const char *a, char *buf, size_t size,
    int *status)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 200 };
	struct timespec start = td_now();
	struct pollfd p;
	char name[128];
	size_t len = 0;
	bool asked = false;
	ssize_t n;
	int master, slave;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	ck_assert_int_eq(ptsname_r(master, name, sizeof(name)), 0);
	ck_assert_int_eq(ioctl(master, TIOCSWINSZ, &ws), 0);
	pid = test_fork_flushed();
	if (pid == 0) {
		if (setsid() < 0 || (slave = open(name, O_RDWR)) < 0 ||
		    ioctl(slave, TIOCSCTTY, 0) != 0 || dup2(slave, 0) < 0 ||
		    dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			_exit(120);
		execl(td.rundownctl, td.rundownctl, "-S", path, "prune",
		    (char *)NULL);
		_exit(121);
	}
	/* Read to the end of the terminal: the question, then the rest. */
	for (;;) {
		ck_assert_msg(td_elapsed_ms(&start) < PR_DEADLINE_MS,
		    "prune at a terminal: %s", buf);
		p.fd = master;
		p.events = POLLIN;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(master, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		ck_assert_uint_lt(len + 1, size);
		if (!asked && strstr(buf, "? [y/N] ") != NULL) {
			asked = true;
			ck_assert_int_eq(write(master, a, strlen(a)),
			    (ssize_t)strlen(a));
		}
	}
	close(master);
	ck_assert_msg(asked, "prune did not ask at a terminal: %s", buf);
	*status = td_ctl_finish(pid, "terminal");
}

/* At a terminal, prune asks, and removes only on a yes. */
START_TEST(test_prune_asks)
{
	char header[NAME_MAX + 1], buf[8192];
	struct objs was, none = { 0 };
	struct other b;
	int status;

	other_start(&b, "b");
	create_on(b.sock, RUNDOWN_TAG('A', 's', 'k', 's'));
	other_kill(&b);
	objs_of(b.sock, &was);
	header_of(b.sock, header, sizeof(header));

	prune_at_terminal(b.sock, "n\n", buf, sizeof(buf), &status);
	ck_assert_int_eq(status, 0);
	ck_assert_msg(strstr(buf, header) != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "rundownctl: prune: remove these 2 objects "
	    "of 1 block? [y/N] n\r\nrundownctl: prune: nothing removed\r\n") !=
	    NULL, "%s", buf);
	objs_same(b.sock, &was, "after a no");

	prune_at_terminal(b.sock, "y\n", buf, sizeof(buf), &status);
	ck_assert_int_eq(status, 0);
	ck_assert_msg(strstr(buf, "rundownctl: prune: removed 2 objects of 1 "
	    "block\r\n") != NULL, "%s", buf);
	objs_same(b.sock, &none, "after a yes");
}
END_TEST

/* Plants a regular file named name in /dev/shm, owned by uid. */
static void
plant(const char *name, uid_t uid)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(fchown(fd, uid, (gid_t)-1), 0);
	close(fd);
}

/* Runs rundownctl -S path prune --yes as uid to its end: false if that
 * user cannot execute it here (a build tree it cannot read). */
static bool
prune_as(uid_t uid, const char *path)
{
	gid_t gid = (gid_t)uid;
	pid_t pid;
	int st;

	pid = test_fork_flushed();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		if (nul < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0 ||
		    setgroups(1, &gid) != 0 ||
		    setresgid(gid, gid, gid) != 0 ||
		    setresuid(uid, uid, uid) != 0)
			_exit(120);
		if (access(td.rundownctl, X_OK) != 0)
			_exit(121);
		execl(td.rundownctl, td.rundownctl, "-S", path, "prune",
		    "--yes", (char *)NULL);
		_exit(121);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 120, "cannot become "
	    "uid %u", (unsigned)uid);
	if (WEXITSTATUS(st) == 121)
		return false;
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	return true;
}

/*
 * Never a symbolic link, nor a file whose owner is not the user its name
 * gives; another user's objects only for root, never for a third user.
 * (Root only: files of other users.)
 */
START_TEST(test_prune_not_theirs)
{
	char prefix[SHMNAME_PREFIX_MAX], hash[16], target[PATH_MAX],
	    link[PATH_MAX], name[NAME_MAX + 1], planted[NAME_MAX + 1],
	    theirs[NAME_MAX + 1], path[PATH_MAX];
	struct other b;
	struct stat st;

	if (geteuid() != 0) {
		fprintf(stderr, "check_prune: not root; other users' objects "
		    "are not tried\n");
		return;
	}
	other_path(&b, "b");
	shmname_prefix(b.sock, prefix, sizeof(prefix));
	/* "rundownd.0.HASH.": the hash, for names of other uids. */
	snprintf(hash, sizeof(hash), "%.8s", prefix + strlen(prefix) - 9);

	/* A link named as a block, to a file of the test's. */
	snprintf(target, sizeof(target), "%s/target", td.dir);
	ck_assert_int_eq(close(open(target, O_WRONLY | O_CREAT | O_CLOEXEC,
	    0600)), 0);
	snprintf(name, sizeof(name), "%s4c696e6b.0123456789abcdef", prefix);
	snprintf(link, sizeof(link), "/dev/shm/%s", name);
	ck_assert_int_eq(symlink(target, link), 0);
	/* Root's file under the name of another user's block. */
	snprintf(planted, sizeof(planted), "rundownd.%u.%s.506c6e74."
	    "0123456789abcdef", PR_UID, hash);
	plant(planted, 0);
	/* Another user's, as its daemon would leave it. */
	snprintf(theirs, sizeof(theirs), "rundownd.%u.%s.54686972."
	    "0123456789abcdef", PR_UID, hash);
	plant(theirs, PR_UID);

	/* A third user sees none of them; their owner, only its own. */
	if (!prune_as(PR_UID2, b.sock))
		fprintf(stderr, "check_prune: rundownctl cannot run as uid %u "
		    "here; other users' prunes are not tried\n", PR_UID2);
	snprintf(path, sizeof(path), "/dev/shm/%s", theirs);
	ck_assert_int_eq(lstat(path, &st), 0);

	ck_assert_int_eq(ctl(b.sock, "root", ARGS("prune", "--yes")), 0);
	said("root", "err", "removed 1 object of 1 block");
	said("root", "out", theirs);
	ck_assert_int_ne(lstat(path, &st), 0);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(stat(target, &st), 0);
	snprintf(path, sizeof(path), "/dev/shm/%s", planted);
	ck_assert_int_eq(lstat(path, &st), 0);

	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* Bad command lines: the usage status and one line. */
START_TEST(test_prune_usage)
{
	ck_assert_int_eq(ctl(td.sock, "extra", ARGS("prune", "extra")), 64);
	said("extra", "err", "rundownctl: prune: unexpected argument: extra; "
	    "try 'rundownctl prune -h'\n");
	ck_assert_int_eq(ctl(td.sock, "opt", ARGS("prune", "--force")), 64);
	said("opt", "err", "unknown option --force");
	ck_assert_int_eq(ctl(td.sock, "help", ARGS("prune", "-h")), 0);
	said("help", "out", "usage: rundownctl prune [--yes] [--json]\n");
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

static Suite *
prune_suite(void)
{
	Suite *s = suite_create("prune");
	TCase *tc;

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, pr_setup, td_teardown);
	test_timeout(tc, 60);
	tcase_add_test(tc, test_meta_locked);
	suite_add_tcase(s, tc);

	tc = tcase_create("prune");
	tcase_add_checked_fixture(tc, pr_setup, td_teardown);
	test_timeout(tc, 60);
	tcase_add_test(tc, test_prune_dead);
	tcase_add_test(tc, test_prune_lock_only);
	tcase_add_test(tc, test_prune_listening);
	tcase_add_test(tc, test_prune_held_open);
	tcase_add_test(tc, test_prune_list_only);
	tcase_add_test(tc, test_prune_asks);
	tcase_add_test(tc, test_prune_not_theirs);
	tcase_add_test(tc, test_prune_usage);
	suite_add_tcase(s, tc);
	return s;
}

/* Removes what test_prune_not_theirs planted, should it have failed
 * before it removed it: files named after PR_UID, and links into the
 * run's directory. */
static void
pr_unplant(void)
{
	char pre[32], path[PATH_MAX], to[PATH_MAX];
	struct dirent *de;
	ssize_t n;
	DIR *d;

	snprintf(pre, sizeof(pre), "rundownd.%u.", PR_UID);
	if ((d = opendir("/dev/shm")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		if (strncmp(de->d_name, pre, strlen(pre)) == 0 ||
		    ((n = readlink(path, to, sizeof(to) - 1)) > 0 &&
		    (to[n] = '\0', strncmp(to, td.base, strlen(td.base)) ==
		    0)))
			unlink(path);
	}
	closedir(d);
}

int
main(void)
{
	int r = td_main("rundown-prune", 0711, PR_DEADLINE_MS, prune_suite);

	pr_unplant();
	return r;
}
