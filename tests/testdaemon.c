/* testdaemon.c: a private rundownd for the Check suites that need one. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "proto.h"
#include "shmname.h"
#include "testdaemon.h"
#include "testutil.h"

struct td td;

/* The monotonic clock. */
struct timespec
td_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

/* Milliseconds since start. */
long
td_elapsed_ms(const struct timespec *start)
{
	struct timespec t = td_now();

	return (t.tv_sec - start->tv_sec) * 1000L +
	    (t.tv_nsec - start->tv_nsec) / 1000000L;
}

/*
 * The pause between two looks at a state nothing can tell the test about:
 * the daemon's socket starting to listen, the daemon's own handling of a
 * process's exit (its pidfd, not the test's), a daemon expected to exit
 * while the test must not block on it.  Each caller re-reads that state
 * and fails at a deadline; the pause only keeps the poll from spinning,
 * and no outcome depends on its length.
 */
void
td_pause(void)
{
	struct timespec ts = test_ms(1);

	nanosleep(&ts, NULL);
}

/* Reads up to size - 1 bytes of the end of a file into buf. */
char *
td_file_tail(const char *path, char *buf, size_t size)
{
	ssize_t n;
	off_t end;
	int fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return buf;
	end = lseek(fd, 0, SEEK_END);
	if (end > (off_t)(size - 1))
		lseek(fd, end - (off_t)(size - 1), SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

/* The end of the daemon's log, for failure messages. */
const char *
td_log(void)
{
	static char buf[4096];

	return td_file_tail(td.log, buf, sizeof(buf));
}

off_t
td_log_size(void)
{
	struct stat st;

	return stat(td.log, &st) == 0 ? st.st_size : 0;
}

char *
td_log_from(off_t off)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0, len;
	int fd;

	fd = open(td.log, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	len = st.st_size > off ? (size_t)(st.st_size - off) : 0;
	buf = malloc(len + 1);
	ck_assert_ptr_nonnull(buf);
	while (got < len && (n = pread(fd, buf + got, len - got,
	    off + (off_t)got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return buf;
}

unsigned
td_count(const char *text, const char *s)
{
	unsigned n = 0;

	while ((text = strstr(text, s)) != NULL) {
		n++;
		text += strlen(s);
	}
	return n;
}

void
td_await_log(off_t off, const char *s, unsigned n)
{
	struct timespec start = td_now();
	unsigned seen;
	char *text;

	for (;;) {
		text = td_log_from(off);
		seen = td_count(text, s);
		free(text);
		if (seen >= n)
			return;
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "the daemon did not log \"%s\" %u times within %d ms:\n%s",
		    s, n, td.deadline_ms, td_log());
		td_pause();
	}
}


/* nftw() callback of rm_tree(): removes one entry, whatever it is. */
static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* rm -rf path */
static void
rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* /dev/shm path of the object of tag for the daemon on path: the daemon
 * draws a random suffix (prefix, tag, "." and 16 hex digits), so it is
 * looked for; the first one found, or the suffixless name if none. */
void
td_shm_path(const char *path, uint32_t tag, char *buf, size_t size)
{
	char prefix[SHMNAME_PREFIX_MAX], want[SHMNAME_PREFIX_MAX + 16];
	struct dirent *de;
	DIR *d;

	shmname_prefix(path, prefix, sizeof(prefix));
	snprintf(want, sizeof(want), "%s%08x.", prefix, tag);
	snprintf(buf, size, "/dev/shm/%s%08x", prefix, tag);
	if ((d = opendir("/dev/shm")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, want, strlen(want)) == 0 &&
		    strlen(de->d_name) == strlen(want) + 16) {
			snprintf(buf, size, "/dev/shm/%s", de->d_name);
			break;
		}
	}
	closedir(d);
}

/* Maps size bytes of the object at path over at, read-write. */
static void
td_view_map_at(const char *path, void *at, size_t size)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert(mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_FIXED, fd, 0) != MAP_FAILED);
	close(fd);
}

void
td_view_map(uint32_t tag, struct td_view *v)
{
	char path[PATH_MAX], name[PATH_MAX + 24];
	struct proto_meta_row e;
	uint32_t r;
	void *p;
	int fd;

	memset(v, 0, sizeof(*v));
	td_shm_path(td.sock, tag, path, sizeof(path));
	snprintf(name, sizeof(name), "%s.meta", path);
	fd = open(name, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", name, strerror(errno));
	ck_assert_int_eq(pread(fd, &v->meta, sizeof(v->meta), 0),
	    (ssize_t)sizeof(v->meta));
	ck_assert_uint_eq(v->meta.magic, PROTO_META_MAGIC);
	ck_assert_int_eq(block_layout_paged(v->meta.cpus, v->meta.rows,
	    (size_t)v->meta.page, &v->l), 0);
	v->l.flags = v->meta.flags;
	v->l.live = v->live;
	p = mmap(NULL, v->l.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	    0);
	ck_assert(p != MAP_FAILED);
	v->b = p;
	for (r = 0; r < v->meta.rows; r++) {
		ck_assert_int_eq(pread(fd, &e, sizeof(e), (off_t)(sizeof(v->meta)
		    + r * sizeof(e))), (ssize_t)sizeof(e));
		if (e.pid == 0)
			continue;
		snprintf(name, sizeof(name), "%s.r%016llx", path,
		    (unsigned long long)e.id);
		v->pid[r] = e.pid;
		td_view_map_at(name, block_row(v->b, &v->l, r),
		    v->l.row_stride);
		v->live[r] = 1;
	}
	close(fd);
	td_view_map_at(path, v->b, v->l.rows_off);
}

void
td_view_unmap(struct td_view *v)
{
	munmap(v->b, v->l.size);
	v->b = NULL;
}

/* Reads /proc/PID/task/TID/stat, whose command stands between the first
 * '(' and the last ')' (it may hold either), and the state after it. */
unsigned
td_threads_sleeping(const char *name, unsigned *sleeping)
{
	char path[PATH_MAX], buf[512], *p, *q;
	size_t len = strlen(name);
	struct dirent *de;
	unsigned n = 0, s = 0;
	ssize_t got;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)td.pid);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/stat",
		    (long)td.pid, de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;	/* the thread just ended */
		got = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (got <= 0)
			continue;
		buf[got] = '\0';
		if ((p = strchr(buf, '(')) == NULL ||
		    (q = strrchr(buf, ')')) == NULL ||
		    (size_t)(q - p - 1) != len || memcmp(p + 1, name, len) != 0)
			continue;
		n++;
		if (q[1] == ' ' && q[2] == 'S')
			s++;
	}
	closedir(d);
	if (sleeping != NULL)
		*sleeping = s;
	return n;
}

unsigned
td_threads_named(const char *name)
{
	return td_threads_sleeping(name, NULL);
}

/* Removes every object a daemon on path left (blocks outlive it). */
static void
shm_sweep(const char *path)
{
	char prefix[SHMNAME_PREFIX_MAX], name[PATH_MAX];
	struct dirent *de;
	DIR *d;

	shmname_prefix(path, prefix, sizeof(prefix));
	if ((d = opendir("/dev/shm")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(name, sizeof(name), "/dev/shm/%s", de->d_name);
		unlink(name);
	}
	closedir(d);
}

/* ---- what the daemons leave in /dev/shm ------------------------------- */

static const char hexdigits[] = "0123456789abcdef";

/* The length of the block's name (NAME) in the name of an object of the
 * daemon whose objects begin with prefix, as src/registry.c names them:
 * the prefix, the tag in 8 hex digits, "." and 16 more; 0 if it is not
 * one. */
static size_t
shm_block_len(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) != 0 || strspn(name + n, hexdigits) < 8)
		return 0;
	n += 8;
	if (name[n] == '.' && strspn(name + n + 1, hexdigits) >= 16 &&
	    (name[n + 17] == '\0' || name[n + 17] == '.'))
		n += 17;
	return n;
}

/* True if NAME.meta (name, the block's name and more) lends the row id
 * to a process. */
static bool
shm_row_lent(const char *name, size_t blen, unsigned long long id)
{
	char path[PATH_MAX];
	struct proto_meta m;
	struct proto_meta_row e;
	bool lent = false;
	uint32_t r;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/%.*s.meta", (int)blen, name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;
	if (pread(fd, &m, sizeof(m), 0) == (ssize_t)sizeof(m) &&
	    m.magic == PROTO_META_MAGIC)
		for (r = 0; r < m.rows && r < PROTO_MAX_ENTRIES && !lent; r++)
			lent = pread(fd, &e, sizeof(e), (off_t)(sizeof(m) +
			    r * sizeof(e))) == (ssize_t)sizeof(e) &&
			    e.pid != 0 && e.id == id;
	close(fd);
	return lent;
}

/* True if /dev/shm has NAME (the first blen bytes of name) with suffix. */
static bool
shm_has(const char *name, size_t blen, const char *suffix)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/%.*s%s", (int)blen, name,
	    suffix);
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Fails the test if the daemon on path, stopped, left in /dev/shm more
 * than the whole blocks that it keeps for the next daemon (blocks outlive
 * it), or that it found and could not adopt: a block's header with its
 * record (NAME.meta), that record, and the rows the record lends.
 * Objects of other users, planted by a test's attacker, are not its.
 */
static void
shm_check(const char *path)
{
	char prefix[SHMNAME_PREFIX_MAX], name[PATH_MAX];
	const char *why, *suffix;
	unsigned long long id;
	struct dirent *de;
	struct stat st;
	size_t blen;
	DIR *d;

	shmname_prefix(path, prefix, sizeof(prefix));
	ck_assert_ptr_nonnull(d = opendir("/dev/shm"));
	while ((de = readdir(d)) != NULL) {
		snprintf(name, sizeof(name), "/dev/shm/%s", de->d_name);
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    lstat(name, &st) != 0 || st.st_uid != geteuid())
			continue;
		why = NULL;
		suffix = de->d_name + (blen = shm_block_len(de->d_name,
		    prefix));
		if (blen == 0)
			why = "a name that it does not make";
		else if (*suffix == '\0') {
			if (!shm_has(de->d_name, blen, ".meta"))
				why = "a block's header without its record";
		} else if (strcmp(suffix, ".meta") == 0) {
			if (!shm_has(de->d_name, blen, ""))
				why = "a block's record without its header";
		} else if (strncmp(suffix, ".r", 2) != 0 ||
		    strspn(suffix + 2, hexdigits) != strlen(suffix + 2) ||
		    (id = strtoull(suffix + 2, NULL, 16), !shm_row_lent(
		    de->d_name, blen, id)))
			why = "a row that its block's record does not lend";
		if (why != NULL) {
			closedir(d);
			ck_abort_msg("rundownd on %s left %s in /dev/shm: %s\n%s",
			    path, name, why, td_log());
		}
	}
	closedir(d);
}

/* What td_reap() found. */
static unsigned reap_live;		/* daemons that still ran */
static char reap_what[PATH_MAX + 64];	/* the first of them */

/*
 * nftw() callback of td_reap(): for each daemon's lock file (its socket's
 * path and ".lock", server.c), kills the daemon if it still holds it, and
 * removes what a daemon on that socket left in /dev/shm.
 */
static int
reap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char sock[PATH_MAX], buf[32];
	struct timespec start;
	size_t len = strlen(path);
	long pid = 0;
	ssize_t n;
	int fd;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode) || len < 5 ||
	    strcmp(path + len - 5, ".lock") != 0 || len - 5 >= sizeof(sock))
		return 0;
	memcpy(sock, path, len - 5);
	sock[len - 5] = '\0';
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
	    flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
		/* The lock file holds the pid of the daemon that holds it. */
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		pid = strtol(buf, NULL, 10);
		if (reap_live++ == 0)
			snprintf(reap_what, sizeof(reap_what), "rundownd pid "
			    "%ld on %s", pid, sock);
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
		start = td_now();
		while (flock(fd, LOCK_SH | LOCK_NB) != 0 &&
		    td_elapsed_ms(&start) < td.deadline_ms)
			td_pause();
		if (pid > 1)
			(void)waitpid((pid_t)pid, NULL, WNOHANG);
	}
	if (fd >= 0)
		close(fd);
	shm_sweep(sock);
	return 0;
}

/* Kills every daemon whose socket lies below dir and still runs, and
 * removes what each daemon there left in /dev/shm: how many ran. */
static unsigned
td_reap(const char *dir)
{
	reap_live = 0;
	reap_what[0] = '\0';
	nftw(dir, reap_one, 16, FTW_PHYS);
	return reap_live;
}

void
td_await_daemon(const char *path, pid_t pid)
{
	struct timespec start = td_now();
	rundown_conn_t *c;
	size_t n;
	int r, st = 0;

	for (;;) {
		r = rundown_connect(path, &c);
		if (r == 0) {
			r = rundown_ctl_list(c, NULL, 0, &n);
			rundown_disconnect(c);
			ck_assert_msg(r == 0,
			    "rundownd does not answer: %s\n%s",
			    rundown_strerror(r), td_log());
			return;
		}
		ck_assert_msg(r == -ECONNREFUSED, "connect to %s: %s", path,
		    rundown_strerror(r));
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0,
		    "rundownd on %s exited at start-up (status %#x):\n%s",
		    path, st, td_log());
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "rundownd did not listen on %s within %d ms:\n%s", path,
		    td.deadline_ms, td_log());
		td_pause();
	}
}

/* Forks rundownd ARGV, its stderr appended to the log. */
pid_t
td_spawn(const char *const *argv)
{
	return td_spawn_fd(argv, -1);
}

/* As td_spawn(), passing fd as a service manager passes a socket. */
pid_t
td_spawn_fd(const char *const *argv, int fd)
{
	char pidstr[24];
	int lfd, nul;
	pid_t pid;

	lfd = open(td.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(lfd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		nul = open("/dev/null", O_RDWR);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 ||
		    dup2(lfd, 2) < 0)
			_exit(120);
		/* dup2() onto itself keeps close-on-exec: cleared by hand. */
		if (fd >= 0) {
			snprintf(pidstr, sizeof(pidstr), "%ld",
			    (long)getpid());
			if ((fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(fd, 3)) < 0 ||
			    setenv("LISTEN_FDS", "1", 1) != 0 ||
			    setenv("LISTEN_PID", pidstr, 1) != 0)
				_exit(123);
		}
		if (td.nofile != 0) {
			struct rlimit rl = { td.nofile, td.nofile };

			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				_exit(122);
		}
		execv(td.rundownd, (char *const *)argv);
		_exit(121);
	}
	close(lfd);
	return pid;
}

/* Starts rundownd -d -S sock EXTRA... and waits until it answers. */
void
td_start(const char *const *extra)
{
	const char *argv[16];
	size_t n = 0;

	ck_assert_msg(access(td.rundownd, X_OK) == 0, "%s: %s", td.rundownd,
	    strerror(errno));
	argv[n++] = "rundownd";
	argv[n++] = "-d";
	argv[n++] = "-S";
	argv[n++] = td.sock;
	while (extra != NULL && *extra != NULL && n < 15)
		argv[n++] = *extra++;
	argv[n] = NULL;
	td.pid = td_spawn(argv);
	td_await_daemon(td.sock, td.pid);
}

/* SIGTERM, and the daemon must exit 0. */
void
td_stop(void)
{
	pid_t pid = td.pid, r;
	int st = 0;

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	td.pid = 0;
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "rundownd did not exit cleanly on SIGTERM (status %#x):\n%s", st,
	    td_log());
}

/* A new control connection to the test's daemon; it must succeed. */
rundown_conn_t *
td_connect(void)
{
	rundown_conn_t *c;
	int r = rundown_connect(td.sock, &c);

	ck_assert_msg(r == 0, "connect: %s", rundown_strerror(r));
	return c;
}

/* The block's status and up to max holders; returns how many there are. */
size_t
td_status(uint32_t tag, struct rundown_block_info *info,
    struct rundown_holder *h, size_t max)
{
	size_t n = SIZE_MAX;
	int r = rundown_ctl_status(td.conn, tag, info, h, max, &n);

	ck_assert_msg(r == 0, "status: %s", rundown_strerror(r));
	ck_assert_uint_eq(n, info->attached);
	return n;
}

/* The holder with pid, or NULL. */
const struct rundown_holder *
td_holder_of(const struct rundown_holder *h, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (h[i].pid == pid)
			return &h[i];
	}
	return NULL;
}

/* A private directory and socket path, a daemon on it, a connection. */
void
td_setup(mode_t mode, const char *const *extra)
{
	const char *top = getenv("top_builddir");
	char path[PATH_MAX];

	if (top == NULL || *top == '\0')
		top = ".";
	snprintf(td.rundownd, sizeof(td.rundownd), "%s/src/rundownd", top);
	snprintf(td.rundownctl, sizeof(td.rundownctl), "%s/src/rundownctl",
	    top);
	snprintf(td.dir, sizeof(td.dir), "%s/tXXXXXX", td.base);
	ck_assert_ptr_nonnull(mkdtemp(td.dir));
	ck_assert_int_eq(chmod(td.dir, mode), 0);
	snprintf(path, sizeof(path), "%s/run/rundownd.sock", td.dir);
	ck_assert_uint_lt(strlen(path), sizeof(td.sock));
	memcpy(td.sock, path, strlen(path) + 1);
	snprintf(td.log, sizeof(td.log), "%s/rundownd.log", td.dir);
	td_start(extra);
	td.conn = td_connect();
}

/* Stops the daemon (it must exit 0) and removes its traces. */
void
td_teardown(void)
{
	rundown_disconnect(td.conn);
	td.conn = NULL;
	if (td.pid > 0) {
		td_stop();
		shm_check(td.sock);
	}
	/* A daemon the test started and left running, on any socket of
	 * its directory, is a leak; what a daemon killed on purpose left,
	 * the test removes here. */
	ck_assert_msg(td_reap(td.dir) == 0, "%s still ran after the test:\n%s",
	    reap_what, td_log());
	shm_sweep(td.sock);
	rm_tree(td.dir);
	td.nofile = 0;
}

TCase *
td_case(Suite *s, const char *name, void (*setup)(void), unsigned seconds)
{
	TCase *tc = tcase_create(name);

	if (setup != NULL)
		tcase_add_checked_fixture(tc, setup, td_teardown);
	test_timeout(tc, seconds);
	suite_add_tcase(s, tc);
	return tc;
}

/* The run's directory, short enough for a socket path below it. */
int
td_begin(const char *name, mode_t mode, int deadline_ms)
{
	const char *tmp = getenv("TMPDIR");

	td.deadline_ms = deadline_ms;
	if (tmp == NULL || *tmp != '/' || strlen(tmp) > 48)
		tmp = "/tmp";
	snprintf(td.base, sizeof(td.base), "%s/%s.XXXXXX", tmp, name);
	if (mkdtemp(td.base) == NULL || chmod(td.base, mode) != 0)
		return -1;
	return 0;
}

/* Removes what the tests left, including after a failed one (whose
 * teardown did not run): each test's directory and its daemons' blocks,
 * and any daemon of theirs that still runs. */
int
td_end(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned live;
	DIR *d;

	if ((d = opendir(td.base)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/run/rundownd.sock",
		    td.base, de->d_name);
		shm_sweep(path);
	}
	closedir(d);
	if ((live = td_reap(td.base)) != 0)
		fprintf(stderr, "%u daemon%s still ran after the tests: %s%s; "
		    "killed\n", live, live > 1 ? "s" : "", reap_what,
		    live > 1 ? " and others" : "");
	rm_tree(td.base);
	return live == 0 ? 0 : -1;
}

int
td_main(const char *name, mode_t mode, int deadline_ms, Suite *(*make)(void))
{
	int r;

	if (td_begin(name, mode, deadline_ms) != 0) {
		fprintf(stderr, "%s: cannot make its directory: %s\n", name,
		    strerror(errno));
		return EXIT_FAILURE;
	}
	r = test_run_suite(make());
	if (td_end() != 0)
		r = EXIT_FAILURE;
	return r;
}

/* ---- children's pipes ------------------------------------------------- */

void
td_read_all(int fd, void *buf, size_t n, const char *what,
    void (*check)(void))
{
	struct timespec start = td_now();
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t k;
	long left;
	int pr;

	while (got < n) {
		if (check != NULL)
			check();
		left = td.deadline_ms - td_elapsed_ms(&start);
		ck_assert_msg(left > 0, "no word from %s within %d ms; daemon "
		    "log:\n%s", what, td.deadline_ms, td_log());
		pr = poll(&p, 1, left < 100 ? (int)left : 100);
		if (pr < 0 && errno == EINTR)
			continue;
		ck_assert_int_ge(pr, 0);
		if (pr == 0)
			continue;
		k = read(fd, (char *)buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		ck_assert_msg(k > 0, "%s: %s", what,
		    k == 0 ? "end of file (it exited)" : strerror(errno));
		got += (size_t)k;
	}
}

bool
td_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int pr;

	do
		pr = poll(&p, 1, 0);
	while (pr < 0 && errno == EINTR);
	ck_assert_int_ge(pr, 0);
	return pr > 0;
}

/* ---- rundownctl -------------------------------------------------------- */

/* Forks rundownctl (with -S path first, unless path is NULL) with its
 * output in files, which outlive it for the failure messages. */
pid_t
td_ctl_start(const char *path, const char *name, const char *const *args)
{
	char out[PATH_MAX], err[PATH_MAX];
	const char *argv[32];
	size_t n = 0;
	int o, e, nul;
	pid_t pid;

	ck_assert_msg(access(td.rundownctl, X_OK) == 0, "%s: %s", td.rundownctl,
	    strerror(errno));
	argv[n++] = td.rundownctl;
	if (path != NULL) {
		argv[n++] = "-S";
		argv[n++] = path;
	}
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/%s.out", td.dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", td.dir, name);
	pid = test_fork_flushed();
	if (pid == 0) {
		o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		nul = open("/dev/null", O_RDONLY);
		if (o < 0 || e < 0 || nul < 0 || dup2(nul, 0) < 0 ||
		    dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(120);
		execv(td.rundownctl, (char *const *)argv);
		_exit(121);
	}
	return pid;
}

/* Two buffers in turn: a message may quote stdout and stderr at once. */
const char *
td_ctl_output(const char *name, const char *ext)
{
	static char buf[2][4096];
	static int which;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.%s", td.dir, name, ext);
	which ^= 1;
	return td_file_tail(path, buf[which], sizeof(buf[which]));
}

/* Polls rather than blocks, so that a child that hangs fails the test
 * with the daemon's log instead of running into Check's timeout. */
int
td_reap_child(pid_t pid, const char *what)
{
	struct timespec start = td_now();
	pid_t r;
	int st = 0;

	while ((r = waitpid(pid, &st, WNOHANG)) == 0 ||
	    (r < 0 && errno == EINTR)) {
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "%s still runs after %d ms:\n%s", what, td.deadline_ms,
		    td_log());
		td_pause();
	}
	ck_assert_int_eq(r, pid);
	return st;
}

int
td_ctl_finish(pid_t pid, const char *name)
{
	char what[128];
	int st;

	snprintf(what, sizeof(what), "rundownctl %s", name);
	st = td_reap_child(pid, what);
	ck_assert_msg(WIFEXITED(st), "rundownctl %s killed (status %#x): %s",
	    name, st, td_ctl_output(name, "err"));
	return WEXITSTATUS(st);
}

/* ---- hand-made frames ------------------------------------------------- */

/* A bare socket connected to the daemon, for hand-made frames. */
int
td_raw_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, td.sock, strlen(td.sock) + 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Sends len bytes, with descriptor pass (if >= 0) as SCM_RIGHTS. */
void
td_raw_send(int fd, const void *buf, size_t len, int pass)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (pass >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass, sizeof(int));
	}
	ck_assert_int_eq(sendmsg(fd, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads up to len bytes, fewer only at end of file: how many.  what
 * names the awaited thing for a failure message. */
size_t
td_raw_read(int fd, void *buf, size_t len, const char *what)
{
	struct timespec start = td_now();
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *p = buf;
	size_t got = 0;
	ssize_t n;
	long left;

	while (got < len) {
		left = td.deadline_ms - td_elapsed_ms(&start);
		ck_assert_msg(left > 0, "%s: nothing within %d ms", what,
		    td.deadline_ms);
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n >= 0, "read: %s", strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Reads one whole frame into buf and decodes it. */
void
td_raw_frame(int fd, struct proto_hdr *h, void *buf, size_t size)
{
	struct proto_hdr peek;

	ck_assert_uint_eq(td_raw_read(fd, buf, PROTO_HDR_SIZE, "a header"),
	    PROTO_HDR_SIZE);
	memcpy(&peek, buf, sizeof(peek));
	ck_assert_int_eq(proto_check_hdr(&peek), 0);
	ck_assert_uint_le(PROTO_HDR_SIZE + peek.length, size);
	ck_assert_uint_eq(td_raw_read(fd, (char *)buf + PROTO_HDR_SIZE,
	    peek.length, "a payload"), peek.length);
	ck_assert_int_eq(proto_decode(buf, PROTO_HDR_SIZE + peek.length, h),
	    0);
}

/* Reads an ERROR frame of id and code. */
void
td_raw_error(int fd, uint32_t id, int code, const char *what)
{
	unsigned char buf[PROTO_HDR_SIZE + 64];
	struct proto_error err;
	struct proto_hdr h;

	td_raw_frame(fd, &h, buf, sizeof(buf));
	ck_assert_msg(h.type == PROTO_ERROR, "%s: a reply of type %#x",
	    what, h.type);
	ck_assert_uint_eq(h.length, sizeof(err));
	memcpy(&err, buf + PROTO_HDR_SIZE, sizeof(err));
	ck_assert_msg(err.code == code && h.id == id,
	    "%s: error %d (%s) for id %u, not %d for id %u", what, err.code,
	    strerror(err.code), h.id, code, id);
}

/* Reads an ERROR frame of id and code, then end of file. */
void
td_raw_expect_error(int fd, uint32_t id, int code, const char *what)
{
	char c;

	td_raw_error(fd, id, code, what);
	ck_assert_msg(td_raw_read(fd, &c, 1, what) == 0,
	    "%s: the connection stays open", what);
}

/* Sends a request frame made of these fields on a bare socket. */
void
td_raw_request(int fd, uint16_t type, uint32_t id, uint32_t tag, uint32_t arg,
    uint32_t serial)
{
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_req req = { .tag = tag, .arg = arg, .serial = serial };
	size_t n;

	n = proto_encode(frame, sizeof(frame), type, id, &req,
	    (size_t)proto_req_size(type));
	ck_assert_uint_gt(n, 0);
	td_raw_send(fd, frame, n, -1);
}

int
td_exit_status_fd(const char *const *argv, int fd)
{
	struct timespec start = td_now();
	char line[256] = "";
	size_t i;
	pid_t pid, r;
	int st = 0;

	for (i = 1; argv[i] != NULL; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    " %s", argv[i]);
	pid = td_spawn_fd(argv, fd);
	while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
		if (td_elapsed_ms(&start) >= td.deadline_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("rundownd%s did not exit:\n%s", line,
			    td_log());
		}
		td_pause();
	}
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFEXITED(st), "rundownd killed (status %#x)", st);
	return WEXITSTATUS(st);
}

int
td_exit_status(const char *const *argv)
{
	return td_exit_status_fd(argv, -1);
}

struct rundown_block_info
td_await_block(uint32_t tag, enum rundown_state state, int attached,
    pid_t watch)
{
	struct timespec start = td_now();
	struct rundown_block_info info;
	int st = 0;

	for (;;) {
		td_status(tag, &info, NULL, 0);
		if (info.state == state &&
		    (attached < 0 || info.attached == (uint32_t)attached))
			return info;
		ck_assert_msg(watch <= 0 || waitpid(watch, &st, WNOHANG) == 0,
		    "pid %d exited (status %#x) before the block was %s",
		    (int)watch, st, rundown_state_name(state));
		ck_assert_msg(td_elapsed_ms(&start) < td.deadline_ms,
		    "block still %s with %u attached after %d ms:\n%s",
		    rundown_state_name(info.state), info.attached,
		    td.deadline_ms, td_log());
		td_pause();
	}
}
