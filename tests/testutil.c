/* testutil.c: helpers shared by the Check suites. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "rseq.h"
#include "testutil.h"

unsigned
test_scale(unsigned base)
{
	const char *e = getenv("RUNDOWN_TEST_SCALE");
	const char *d = getenv("RUNDOWN_TEST_DIVISOR");
	unsigned long scale = e ? strtoul(e, NULL, 10) : 1;
	unsigned long div = d ? strtoul(d, NULL, 10) : 1;
	unsigned long n;

	if (scale == 0)
		scale = 1;
	if (div == 0)
		div = 1;
	n = (unsigned long)base * scale / div;
	return n ? (unsigned)n : 1;
}

/* Check takes a double (tcase_set_timeout()), so a scale of 1.5 works;
 * a scale that does not parse, or is not positive, counts as 1. */
void
test_timeout(TCase *tc, unsigned seconds)
{
	const char *e = getenv("RUNDOWN_TEST_TIMEOUT_SCALE");
	double scale = e ? strtod(e, NULL) : 1.0;

	if (!(scale > 0.0))
		scale = 1.0;
	tcase_set_timeout(tc, seconds * scale);
}

unsigned
test_cpus(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

int
test_pin_nth(unsigned n)
{
	cpu_set_t allowed, one;
	unsigned count, seen = 0;
	int cpu;

	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
		return -1;
	count = (unsigned)CPU_COUNT(&allowed);
	if (count == 0)
		return -1;
	n %= count;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		if (seen++ == n)
			break;
	}
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0)
		return -1;
	return cpu;
}

void
test_expect_status(int rc, const struct rundown_status *st,
    enum rundown_state state, uint64_t outstanding)
{
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(st->state == state, "state %d (%s), expected %d (%s)",
	    (int)st->state, rundown_state_name(st->state), (int)state,
	    rundown_state_name(state));
	ck_assert_uint_eq(st->outstanding, outstanding);
}

struct timespec
test_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return ts;
}

void
test_signal_init(struct test_signal *s)
{
	ck_assert_int_eq(pipe(s->fd), 0);
}

void
test_signal_post(struct test_signal *s)
{
	char c = 1;
	ssize_t n;

	do
		n = write(s->fd[1], &c, 1);
	while (n < 0 && errno == EINTR);
	ck_assert_int_eq(n, 1);
}

void
test_signal_wait(struct test_signal *s)
{
	char c;
	ssize_t n;

	do
		n = read(s->fd[0], &c, 1);
	while (n < 0 && errno == EINTR);
	ck_assert_int_eq(n, 1);
}

void
test_signal_close(struct test_signal *s)
{
	close(s->fd[0]);
	close(s->fd[1]);
}

pid_t
test_fork_flushed(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	return pid;
}

void
test_put(int fd, const void *buf, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = write(fd, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(110);
		buf = (const char *)buf + k;
		n -= (size_t)k;
	}
}

/* The state goes 0 -> 1 for the one child that wins, and 1 -> 2 once
 * its message is whole, so the test never quotes half a message. */
void
test_failure_vset(struct test_failure *f, const char *fmt, va_list ap)
{
	uint32_t expected = 0;

	if (__atomic_compare_exchange_n(&f->state, &expected, 1, 0,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
		__atomic_store_n(&f->state, 2, __ATOMIC_SEQ_CST);
	}
}

/* A child caught between the two stores gets a few yields to finish
 * its message; it may have been killed there, hence no more. */
void
test_failure_check(struct test_failure *f, const char *who)
{
	uint32_t st = __atomic_load_n(&f->state, __ATOMIC_SEQ_CST);
	unsigned i;

	for (i = 0; st == 1 && i < 1000; i++) {
		sched_yield();
		st = __atomic_load_n(&f->state, __ATOMIC_SEQ_CST);
	}
	ck_assert_msg(st == 0, "%s failed: %s", who, f->msg);
}

void
test_reap_ok(pid_t pid)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFEXITED(status), "child %d did not exit normally",
	    (int)pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

void
test_reap_named(pid_t pid, const char *what)
{
	pid_t r;
	int st = 0;

	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "%s (pid %d): status %#x", what, (int)pid, st);
}

int
test_run_suite(Suite *s)
{
	SRunner *sr;
	int failed;

	/* Failure messages carry the daemon's log tail (4 KiB); Check's
	 * default limit would replace a long one by "Message string too
	 * long" and lose it.  Set before the runner exists, as Check asks. */
	check_set_max_msg_size(16384);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void *
test_map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

bool
test_rseq_path(uint32_t bflags)
{
#if RUNDOWN_RSEQ_CS
	return cache_rcpus(1, bflags) != 0 &&
	    (int32_t)__atomic_load_n(&rd_rseq_area()->cpu_id,
	    __ATOMIC_RELAXED) >= 0;
#else
	(void)bflags;
	return false;
#endif
}

/* The cpuset hierarchy: v1's own mount, or v2's with the controller. */
static const char *
cpuset_root(bool *v2)
{
	char buf[512];
	ssize_t n;
	int fd;

	if (access("/sys/fs/cgroup/cpuset/cpuset.cpus", W_OK) == 0) {
		*v2 = false;
		return "/sys/fs/cgroup/cpuset";
	}
	if ((fd = open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY)) < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if (strstr(buf, "cpuset") == NULL)
		return NULL;
	*v2 = true;
	return "/sys/fs/cgroup";
}

/* Writes s to root/dir/file (dir may be ""): 0 or -1. */
static int
cg_write(const char *root, const char *dir, const char *file, const char *s)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s%s%s", root, dir, *dir ? "/" : "",
	    file);
	if ((fd = open(path, O_WRONLY)) < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

int
test_cpuset_confine(pid_t pid)
{
	char dir[64], path[PATH_MAX], num[32];
	const char *root;
	bool v2;

	if (test_cpus() < 2 || (root = cpuset_root(&v2)) == NULL)
		return -1;
	if (v2)
		(void)cg_write(root, "", "cgroup.subtree_control", "+cpuset");
	snprintf(dir, sizeof(dir), "rundown-test-%ld", (long)pid);
	snprintf(path, sizeof(path), "%s/%s", root, dir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(num, sizeof(num), "%ld", (long)pid);
	if (cg_write(root, dir, "cpuset.cpus", "0") != 0 ||
	    (!v2 && cg_write(root, dir, "cpuset.mems", "0") != 0) ||
	    cg_write(root, dir, "cgroup.procs", num) != 0) {
		rmdir(path);
		return -1;
	}
	return 0;
}

void
test_cpuset_release(pid_t pid)
{
	char path[PATH_MAX], num[32];
	const char *root;
	bool v2;

	if ((root = cpuset_root(&v2)) == NULL)
		return;
	snprintf(num, sizeof(num), "%ld", (long)pid);
	(void)cg_write(root, "", "cgroup.procs", num);
	snprintf(path, sizeof(path), "%s/rundown-test-%ld", root, (long)pid);
	(void)rmdir(path);
}

unsigned
test_count_entries(const char *path)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	d = opendir(path);
	ck_assert_msg(d != NULL, "%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

bool
test_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

unsigned long long
test_stat_field(pid_t pid, int n)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	FILE *f;
	size_t len;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* Count from the command's closing paren: it may hold spaces. */
	ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
	for (i = 2; i < n; i++)
		ck_assert_ptr_nonnull(p = strchr(p + 1, ' '));
	ck_assert_int_eq(sscanf(p + 1, "%llu", &v), 1);
	return v;
}

bool
test_pid_ended(pid_t pid)
{
	struct pollfd p;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), r;

	if (fd < 0)
		return errno == ESRCH;
	p.fd = fd;
	p.events = POLLIN;
	r = poll(&p, 1, 0);
	close(fd);
	return r == 1;
}
