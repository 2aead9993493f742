/*
 * bench_shared.c: run-down protection across processes, through rundownd.
 *
 * Starts its own rundownd (-D, foreground, on a socket in a private
 * mkdtemp directory, its log in a file beside it) and measures, in one run:
 *
 *   r  rseq add        rundown_rseq_add(+1), rundown_rseq_add(-1) (lib/rseq.h) on
 *                      a row of per-CPU lines per process in a MAP_SHARED
 *                      mapping, checking a state word that stays 0: the
 *                      floor of b's fast path (n/a without rseq);
 *   a  lock cmpxchg    load + lock cmpxchg +2, then -2, on the same kind
 *                      of rows: the floor of any per-CPU atomic design;
 *   b  shared block    processes attached to one block of the daemon
 *                      (rundown_attach_at), each acquiring and releasing
 *                      with rundown_cache_acquire/release on its own row;
 *   c  plain ref       rundown_acquire/release on one rundown_ref_t in a
 *                      MAP_SHARED mapping the processes inherit;
 *   d  rwlock read     pthread_rwlock_rdlock/unlock on one
 *                      PTHREAD_PROCESS_SHARED lock in that mapping;
 *   e  wake latency    from a holder's last release to the return of a
 *                      rundown_ctl_wait() that was blocked in the daemon;
 *   f  control         requests per second the daemon answers on 1 and 4
 *                      connections: status, and create + free pairs;
 *   s  start cost      with 1, 4, 16 processes attached (idle, or running
 *                      pairs), a wait's round trip when nothing is held
 *                      (the daemon starts the run-down: state flip, fence
 *                      on every CPU, harvest) against a status request's;
 *   l  attach latency  with 0, 3, 15 other processes attached, the round
 *                      trips of a rundown_attach_at() and of its
 *                      rundown_detach(); and the memory per attachment:
 *                      what the daemon's shared-memory objects grow by
 *                      for each process attached;
 *   x  attacks         a CPU-bound victim on the last CPU, alone and while
 *                      a user cycles run-downs (what it loses: the cost
 *                      of the fence's walks); a fresh connection's status
 *                      round trip (p50, p99) with no attack, the cycling,
 *                      64 connections pipelining [WAIT 0, REINIT] on a
 *                      1024-row block, and a SCHED_FIFO 1 task spinning on
 *                      the last CPU while the user cycles.
 *
 * s and l use only the public API and the daemon's shm prefix
 * (shmname_prefix(), proto_shm_prefix() before 2026-12-07), so that
 * compare-main.sh can set an earlier tree's build beside this one.
 *
 * r, a, i, b, c and d run one process harness, as bench_rundown runs threads: the
 * processes are forked for each repetition, set up (attach, pin), meet on
 * a process-shared barrier, run pairs until the parent raises a stop flag
 * after -t milliseconds, and report their pairs and CPU time in the shared
 * mapping.  The repetitions of the variants are interleaved and medians
 * are reported.  It is a measurement, not a test: targets are printed as
 * PASS or MISS and the exit status ignores them (2 only if the harness
 * fails, such as an acquire refused on an open block).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "benchutil.h"
#include "block.h"		/* BLOCK_LINE */
#include "proto.h"		/* the frames x pipelines */
#include "shmname.h"		/* shmname_prefix */

#define BENCH_MAX_PROCS 64	/* the daemon's default rows per block */
#define BENCH_MAX_CONNS 16
#define BENCH_MAX_REPS 64
#define BENCH_TAG RUNDOWN_TAG('B', 's', 'h', 'd')
#define X_UID 47500		/* x's attacking user, made up */
#define X_UID_STR "47500"

/* What a worker process reports, alone on its cache lines. */
struct result {
	struct bench_count count;
	int		 error;		/* set-up or tear-down, negative errno */
	bool		 unpinned;
} __attribute__((aligned(BLOCK_LINE)));

/* The mapping every worker inherits (MAP_SHARED, anonymous). */
struct region {
	struct {
		int	 stop;		/* atomic */
	} __attribute__((aligned(BLOCK_LINE))) flag;
	struct {
		pthread_barrier_t barrier;
	} __attribute__((aligned(BLOCK_LINE))) start;
	struct {
		rundown_ref_t ref;
	} __attribute__((aligned(BLOCK_LINE))) ref;
	struct {
		pthread_rwlock_t lock;
	} __attribute__((aligned(BLOCK_LINE))) rw;
	struct result	 res[BENCH_MAX_PROCS];
	struct {
		int	 pipe_rd;	/* s: idle workers read it until EOF */
	} __attribute__((aligned(BLOCK_LINE))) idle;
};

/* A variant of the process harness. */
struct op {
	char		 key;
	const char	*name;
	void		 (*prepare)(void);	/* parent, before the fork */
	int		 (*setup)(void **, unsigned);	/* worker (its index),
						 * before the barrier */
	bench_loop_fn	*loop;			/* BENCH_LOOP of its pair */
	int		 (*teardown)(void *);	/* worker, after the run */
	void		 (*finish)(void);	/* parent, after the run */
};

/* Options. */
static const char *opt_daemon = "./src/rundownd";
static long opt_ms = 200;
static unsigned opt_reps = 7;
static unsigned opt_procs[BENCH_MAX_COUNTS] = { 1, 2, 4 };
static unsigned opt_nprocs = 3;
static unsigned opt_conns[BENCH_MAX_COUNTS] = { 1, 4 };
static unsigned opt_nconns = 2;
static unsigned opt_wake = 1000;
static unsigned opt_attached[BENCH_MAX_COUNTS] = { 1, 4, 16 };
static unsigned opt_nattached = 3;
static unsigned opt_start = 200;
static unsigned opt_attach = 200;
static bool opt_pin;
static bool opt_quiet;
static const char *opt_ops = "raibcdefslx";

static struct region *rg;
static void *floor_mem[2];	/* MAP_SHARED rows of lines: r, a */
static size_t floor_size;
static unsigned ncpus_conf;	/* lines per row */
static bool rseq_ok;		/* r can run (bench_rseq_ok()) */
static unsigned cpus_allowed;	/* CPUs this process may run on */
static pid_t main_pid;
static pid_t daemon_pid = -1;
static char tmpdir[] = "/tmp/bench_shared.XXXXXX";
static bool tmpdir_made;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char log_path[PATH_MAX];
static rundown_conn_t *ctl;	/* the parent's control connection */
static char shm_prefix[64];	/* the names of our daemon's objects */
static int shm_dirfd = -1;	/* /dev/shm and tmpdir, opened for */
static int tmpdir_fd = -1;	/* the signal handler */

static void daemon_stop(void);

/* Says what failed and exits 2; the parent also stops its daemon. */
static __attribute__((noreturn, format(printf, 1, 2))) void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_shared: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (getpid() != main_pid)
		_exit(2);
	/* Hammering workers would spin on after the exit (idle ones see
	 * their pipe's end close), holding their rows. */
	if (rg != NULL)
		__atomic_store_n(&rg->flag.stop, 1, __ATOMIC_RELAXED);
	exit(2);
}

/* ---- the daemon -------------------------------------------------------- */

/* Starts rundownd in the foreground on a socket of its own, its log in a
 * file, and polls (every millisecond, for up to 10 s) until it answers. */
static void
daemon_start(void)
{
	rundown_conn_t *c;
	int fd, status, r = -ECONNREFUSED;
	long tries;

	if (access(opt_daemon, X_OK) != 0)
		die("%s: %s (give the daemon with -D)", opt_daemon,
		    strerror(errno));
	if (mkdtemp(tmpdir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	tmpdir_made = true;
	snprintf(sock_path, sizeof sock_path, "%s/rundownd.sock", tmpdir);
	snprintf(log_path, sizeof log_path, "%s/rundownd.log", tmpdir);
	shmname_prefix(sock_path, shm_prefix, sizeof shm_prefix);
	shm_dirfd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	tmpdir_fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fflush(NULL);
	if ((daemon_pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (daemon_pid == 0) {
		fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 ||
		    dup2(fd, STDOUT_FILENO) < 0)
			_exit(127);
		/* -u: x's attackers are a made-up user, let in. */
		execl(opt_daemon, opt_daemon, "-d", "-S", sock_path, "-u",
		    X_UID_STR, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", opt_daemon, strerror(errno));
		_exit(127);
	}
	/* Polling an observable state; the pause only paces the polls. */
	for (tries = 0; tries < 10000; tries++) {
		if ((r = rundown_connect(sock_path, &c)) == 0)
			break;
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			die("rundownd exited at start-up (status %d); see %s",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			    log_path);
		}
		bench_pause_ms(1);
	}
	if (r != 0)
		die("rundownd does not answer on %s: %s", sock_path,
		    rundown_strerror(r));
	ctl = c;
}

/* Removes the shared-memory objects of our socket path that are left
 * (none if every block was freed) and returns how many there were. */
static unsigned
daemon_leftovers(void)
{
	char name[300];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	if (shm_prefix[0] == '\0' || (d = opendir("/dev/shm")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, shm_prefix, strlen(shm_prefix)) != 0)
			continue;
		snprintf(name, sizeof name, "/%s", de->d_name);
		shm_unlink(name);
		n++;
	}
	closedir(d);
	return n;
}

/* Empties and removes the private directory: the log, and whatever the
 * daemon leaves there after a clean exit (its lock file). */
static void
tmpdir_remove(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(tmpdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof path, "%s/%s", tmpdir,
			    de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	if (rmdir(tmpdir) == 0)
		tmpdir_made = false;
}

/* Stops the daemon with SIGTERM and waits for it; removes the directory.
 * Also the exit handler of the parent, so a failure cleans up too. */
static void
daemon_stop(void)
{
	unsigned left;
	int status;

	if (getpid() != main_pid)
		return;
	rundown_disconnect(ctl);
	ctl = NULL;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		while (waitpid(daemon_pid, &status, 0) < 0 && errno == EINTR)
			;
		daemon_pid = -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "bench_shared: rundownd did not exit "
			    "cleanly (status 0x%x); log kept in %s\n", status,
			    log_path);
		else if ((left = daemon_leftovers()) != 0)
			fprintf(stderr, "bench_shared: %u shared-memory "
			    "object(s) were left; removed\n", left);
		else
			tmpdir_remove();
	}
	if (tmpdir_made)
		daemon_leftovers();
}

/* Directory entries as getdents64 gives them. */
struct dirent64_raw {
	uint64_t	 ino;
	int64_t		 off;
	unsigned short	 reclen;
	unsigned char	 type;
	char		 name[];
};

/*
 * Unlinks the entries of the directory fd whose names start with prefix,
 * or all of them if prefix is NULL (never for an empty prefix), with
 * async-signal-safe calls only: readdir() may allocate.  Scans again
 * until a scan finds nothing, as unlinking moves the entries that follow.
 */
static void
unlink_raw(int fd, const char *prefix)
{
	char buf[4096] __attribute__((aligned(8)));
	struct dirent64_raw *de;
	unsigned pass, found;
	long n, off;

	if (fd < 0 || (prefix != NULL && prefix[0] == '\0'))
		return;
	for (pass = 0, found = 1; pass < 16 && found != 0; pass++) {
		found = 0;
		if (lseek(fd, 0, SEEK_SET) != 0)
			return;
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
			for (off = 0; off < n; off += de->reclen) {
				de = (struct dirent64_raw *)(void *)(buf + off);
				if (strcmp(de->name, ".") == 0 ||
				    strcmp(de->name, "..") == 0 ||
				    (prefix != NULL && strncmp(de->name, prefix,
				    strlen(prefix)) != 0))
					continue;
				if (unlinkat(fd, de->name, 0) == 0)
					found++;
			}
		}
	}
}

/*
 * SIGINT, SIGTERM, SIGHUP in the parent: an interrupted run must not leave
 * its daemon's objects in /dev/shm (the daemon keeps them for a restart
 * when it is stopped), nor its workers spinning.  The exit handler does
 * not run on a signal, and this handler may run inside malloc, so it stops
 * the daemon and removes what it left with system calls only, then dies
 * of the signal.  Workers inherit it and just die.
 */
static void
on_signal(int sig)
{
	static const char msg[] = "bench_shared: interrupted; daemon stopped, "
	    "its objects removed\n";
	ssize_t w;

	if (getpid() == main_pid) {
		if (rg != NULL)
			__atomic_store_n(&rg->flag.stop, 1, __ATOMIC_RELAXED);
		if (daemon_pid > 0) {
			kill(daemon_pid, SIGTERM);
			while (waitpid(daemon_pid, NULL, 0) < 0 &&
			    errno == EINTR)
				;
		}
		unlink_raw(shm_dirfd, shm_prefix);
		if (tmpdir_made) {
			unlink_raw(tmpdir_fd, NULL);
			rmdir(tmpdir);
		}
		w = write(STDERR_FILENO, msg, sizeof msg - 1);
		(void)w;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Installs on_signal() for the signals that end a run from outside. */
static void
signals_catch(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	unsigned i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ---- the variants ------------------------------------------------------ */

/* (r, a) Zeroes the rows of the floors for the next run. */
static void
floor_prepare(void)
{
	memset(floor_mem[0], 0, floor_size);
	memset(floor_mem[1], 0, floor_size);
}

/* Points a worker at its row of floor k; the descriptor is the worker's
 * own, as the library's is process-local. */
static int
floor_setup(int k, void **obj, unsigned index)
{
	static struct bench_percpu d;

	bench_percpu_init(&d, floor_mem[k], index, ncpus_conf);
	*obj = &d;
	return 0;
}

/* The rseq floor's row. */
static int
rseq_setup(void **obj, unsigned index)
{
	return floor_setup(0, obj, index);
}

/* The rseq add pair; false (refused) only if the section cannot run. */
static inline __attribute__((always_inline)) bool
pair_rseq_add(void *p)
{
	return bench_rseq_pair(p) == RUNDOWN_RSEQ_DONE;
}

static BENCH_LOOP(loop_rseq_add, pair_rseq_add)

/* The lock cmpxchg floor's row. */
static int
cmpxchg_setup(void **obj, unsigned index)
{
	return floor_setup(1, obj, index);
}

/* The lock cmpxchg pair. */
static inline __attribute__((always_inline)) bool
pair_lock_cmpxchg(void *p)
{
	bench_cmpxchg_pair(p);
	return true;
}

static BENCH_LOOP(loop_lock_cmpxchg, pair_lock_cmpxchg)

/* (b) Attaches this worker to the shared block: a row of its own. */
static int
shared_setup(void **obj, unsigned index)
{
	rundown_cache_t *ref;
	int r;

	(void)index;
	if ((r = rundown_attach_at(sock_path, BENCH_TAG, 0, &ref)) == 0)
		*obj = ref;
	return r;
}

/* One pair on the shared block. */
static inline __attribute__((always_inline)) bool
pair_shared(void *p)
{
	if (!rundown_cache_acquire(p))
		return false;
	rundown_cache_release(p);
	return true;
}

static BENCH_LOOP(loop_shared, pair_shared)

/* Gives the row back. */
static int
shared_teardown(void *p)
{
	return rundown_detach(p);
}

/* (c) Opens the reference in the shared mapping for the next run. */
static void
ref_prepare(void)
{
	rundown_init(&rg->ref.ref);
}

/* Points a worker at the reference it inherited. */
static int
ref_setup(void **obj, unsigned index)
{
	(void)index;
	*obj = &rg->ref.ref;
	return 0;
}

/* One pair on the plain reference. */
static inline __attribute__((always_inline)) bool
pair_ref(void *p)
{
	if (!rundown_acquire(p))
		return false;
	rundown_release(p);
	return true;
}

static BENCH_LOOP(loop_ref, pair_ref)

/* Nothing to give back. */
static int
no_teardown(void *p)
{
	(void)p;
	return 0;
}

/* (d) A process-shared read-write lock in the mapping. */
static void
rwlock_prepare(void)
{
	pthread_rwlockattr_t attr;

	if (pthread_rwlockattr_init(&attr) != 0 ||
	    pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_rwlock_init(&rg->rw.lock, &attr) != 0)
		die("pthread_rwlock_init: cannot make a process-shared lock");
	pthread_rwlockattr_destroy(&attr);
}

/* Points a worker at the lock it inherited. */
static int
rwlock_setup(void **obj, unsigned index)
{
	(void)index;
	*obj = &rg->rw.lock;
	return 0;
}

/* One read lock and unlock. */
static inline __attribute__((always_inline)) bool
pair_rwlock(void *p)
{
	if (pthread_rwlock_rdlock(p) != 0)
		return false;
	pthread_rwlock_unlock(p);
	return true;
}

static BENCH_LOOP(loop_rwlock, pair_rwlock)

/* Destroys the lock once every worker is gone. */
static void
rwlock_finish(void)
{
	pthread_rwlock_destroy(&rg->rw.lock);
}

static const struct op ops[] = {
	{ 'r', "rseq add", floor_prepare, rseq_setup, loop_rseq_add,
	    no_teardown, NULL },
	{ 'a', "lock cmpxchg", floor_prepare, cmpxchg_setup, loop_lock_cmpxchg,
	    no_teardown, NULL },
	{ 'i', "inline", NULL, shared_setup, bench_loop_inline,
	    shared_teardown, NULL },
	{ 'b', "shared block", NULL, shared_setup, loop_shared,
	    shared_teardown, NULL },
	{ 'c', "plain ref", ref_prepare, ref_setup, loop_ref, no_teardown,
	    NULL },
	{ 'd', "rwlock read", rwlock_prepare, rwlock_setup, loop_rwlock,
	    no_teardown, rwlock_finish },
};
#define NOPS (sizeof ops / sizeof ops[0])

/* ---- the process harness ----------------------------------------------- */

/* A worker process: sets up, waits for the others, runs pairs until told
 * to stop, tears down.  Never returns. */
static __attribute__((noreturn)) void
worker_main(const struct op *op, unsigned index)
{
	struct result *res = &rg->res[index];
	void *obj = NULL;

	if (opt_pin && !bench_pin_nth(index))
		res->unpinned = true;
	res->error = op->setup(&obj, index);
	pthread_barrier_wait(&rg->start.barrier);
	if (res->error != 0)
		_exit(0);

	op->loop(&res->count, obj, 0, &rg->flag.stop);
	res->error = op->teardown(obj);
	_exit(0);
}

/* Makes the shared area's start barrier, process-shared, for n parties. */
static void
start_barrier_init(unsigned n)
{
	pthread_barrierattr_t attr;

	if (pthread_barrierattr_init(&attr) != 0 ||
	    pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_barrier_init(&rg->start.barrier, &attr, n) != 0)
		die("pthread_barrier_init: cannot make a process-shared barrier");
	pthread_barrierattr_destroy(&attr);
}

/*
 * Runs op on nprocs processes for opt_ms milliseconds.  The CPU time per
 * pair leaves out the time a process spent preempted (by its siblings when
 * oversubscribed, by the daemon or other load); the throughput is all the
 * pairs over the wall time from the first process's start to the last
 * one's end.
 */
static struct bench_sample
run_once(const struct op *op, unsigned nprocs)
{
	pid_t pid[BENCH_MAX_PROCS];
	struct bench_count total = BENCH_TOTAL_INIT;
	unsigned i;
	int status;

	memset(rg->res, 0, sizeof rg->res);
	__atomic_store_n(&rg->flag.stop, 0, __ATOMIC_RELAXED);
	if (op->prepare != NULL)
		op->prepare();
	start_barrier_init(nprocs + 1);
	fflush(NULL);
	for (i = 0; i < nprocs; i++) {
		if ((pid[i] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pid[i] == 0)
			worker_main(op, i);
	}
	pthread_barrier_wait(&rg->start.barrier);
	bench_pause_ms(opt_ms);
	__atomic_store_n(&rg->flag.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nprocs; i++) {
		while (waitpid(pid[i], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("%s: worker %u died (status 0x%x)", op->name, i,
			    status);
	}
	pthread_barrier_destroy(&rg->start.barrier);
	if (op->finish != NULL)
		op->finish();
	for (i = 0; i < nprocs; i++) {
		if (rg->res[i].error != 0)
			die("%s: worker %u: %s", op->name, i,
			    rundown_strerror(rg->res[i].error));
		if (rg->res[i].count.refused)
			die("%s: an acquire was refused on an open object",
			    op->name);
		if (rg->res[i].unpinned && i == 0)
			fprintf(stderr, "bench_shared: cannot pin processes\n");
		bench_total_add(&total, &rg->res[i].count);
	}
	return bench_sample_of(&total);
}

/* ---- the report: throughput (b, c, d) ----------------------------------- */

/* Prints the machine facts and the settings. */
static void
print_header(void)
{
	char model[128];
	unsigned i;

	bench_cpu_model(model, sizeof model);
	printf("bench_shared: librundown %s, BLOCK_LINE %u; rundownd %s on "
	    "%s\n", rundown_version_string(), BLOCK_LINE, opt_daemon,
	    sock_path);
	printf("machine: %ld CPUs online, %u allowed here, %s\n",
	    sysconf(_SC_NPROCESSORS_ONLN), cpus_allowed, model);
	bench_print_method(opt_reps, opt_ms, "processes", opt_pin, opt_procs,
	    opt_nprocs);
	printf("; connections:");
	bench_print_counts(opt_conns, opt_nconns);
	printf("\n");
	for (i = 0; i < opt_nprocs; i++) {
		if (opt_procs[i] > cpus_allowed) {
			printf("note: %u processes on %u CPUs are "
			    "oversubscribed: they take turns instead of "
			    "running at once, which hides contention\n",
			    opt_procs[i], cpus_allowed);
			break;
		}
	}
	printf("\n");
}

/* True if variant key was selected with -o. */
static bool
selected(char key)
{
	return strchr(opt_ops, key) != NULL;
}

/* The index of variant key in ops[]. */
static int
op_of(char key)
{
	unsigned o;

	for (o = 0; o < NOPS; o++) {
		if (ops[o].key == key)
			return (int)o;
	}
	return -1;
}

/* True if variant o runs here: selected, and r only where rseq is. */
static bool
op_runs(unsigned o)
{
	return selected(ops[o].key) && (ops[o].key != 'r' || rseq_ok);
}

/* Why variant r does not run here. */
static const char *
rseq_why(void)
{
	return RUNDOWN_RSEQ_CS ? "no rseq area" :
	    "built without the rseq section";
}

/*
 * Prints the ratio v[n] / v[d] per process count (where both ran), judged
 * against target from the count from on; nothing if either was not
 * selected.
 */
static void
ratio_line(double v[][BENCH_MAX_COUNTS], char n, char d, const char *label,
    double target, bool at_most, unsigned from)
{
	double ratio[BENCH_MAX_COUNTS];
	int x = op_of(n), y = op_of(d);
	unsigned t;

	if (!selected(n) || !selected(d))
		return;
	for (t = 0; t < opt_nprocs; t++)
		ratio[t] = op_runs((unsigned)x) && op_runs((unsigned)y) ?
		    v[x][t] / v[y][t] : NAN;
	bench_print_ratio(label, ratio, opt_procs, opt_nprocs, 8, "proc",
	    target, at_most, from);
}

/* Runs r, a, i, b, c and d and prints the table and the ratios. */
static void
throughput(void)
{
	static double vns[NOPS][BENCH_MAX_REPS], vmops[NOPS][BENCH_MAX_REPS];
	double ns[NOPS][BENCH_MAX_COUNTS], mops[NOPS][BENCH_MAX_COUNTS];
	struct rundown_block_info info;
	struct bench_sample s;
	struct bench_spread sn, sm;
	unsigned t, rep, o;
	bool first;
	int r;

	for (o = 0, first = false; o < NOPS; o++)
		first |= selected(ops[o].key);
	if (!first)
		return;
	bench_print_table_head("process", "proc");
	for (t = 0; t < opt_nprocs; t++) {
		for (rep = 0; rep < opt_reps; rep++) {
			for (o = 0; o < NOPS; o++) {
				if (!op_runs(o))
					continue;
				s = run_once(&ops[o], opt_procs[t]);
				vns[o][rep] = s.ns;
				vmops[o][rep] = s.mops;
			}
		}
		for (o = 0, first = true; o < NOPS; o++) {
			if (!selected(ops[o].key))
				continue;
			if (!op_runs(o)) {
				bench_print_table_na(ops[o].key, ops[o].name,
				    opt_procs[t], rseq_why());
				continue;
			}
			sn = bench_spread_of(vns[o], opt_reps);
			sm = bench_spread_of(vmops[o], opt_reps);
			ns[o][t] = sn.med;
			mops[o][t] = sm.med;
			bench_print_table_row(ops[o].key, ops[o].name,
			    opt_procs[t], &sn, &sm,
			    opt_procs[t] > cpus_allowed && first ?
			    "  (oversubscribed)" : "");
			first = false;
		}
		fflush(stdout);
	}

	/* Every worker detached: the block must be open and hold nothing. */
	if (selected('b') || selected('i')) {
		if ((r = rundown_ctl_status(ctl, BENCH_TAG, &info, NULL, 0,
		    NULL)) != 0)
			die("status: %s", rundown_strerror(r));
		if (info.state != RUNDOWN_OPEN || info.attached != 0 ||
		    info.outstanding != 0)
			die("after the runs the block is %s with %u attached "
			    "and %llu outstanding", rundown_state_name(
			    info.state), info.attached,
			    (unsigned long long)info.outstanding);
	}
	if (strpbrk(opt_ops, "ib") == NULL || strpbrk(opt_ops, "racd") == NULL)
		return;
	printf("\nratios of the medians, per process count:\n  %-34s", "");
	for (t = 0; t < opt_nprocs; t++)
		printf(" %4u proc", opt_procs[t]);
	printf("\n");
	/* What the shared block costs over the floors, inline and through
	 * the calls, at every count; then against c and d. */
	ratio_line(ns, 'i', 'r', "i/r ns per pair (lower is better)", 1.5,
	    true, 1);
	ratio_line(ns, 'b', 'r', "b/r ns per pair (lower is better)", 3.0,
	    true, 1);
	ratio_line(ns, 'b', 'a', "b/a ns per pair (lower is better)", 0.4,
	    true, 1);
	ratio_line(mops, 'c', 'b', "b/c Mops b / Mops c (x faster)", 3.0,
	    false, 2);
	ratio_line(mops, 'd', 'b', "b/d Mops b / Mops d (x faster)", 3.0,
	    false, 2);
}

/* ---- wake latency through the daemon (e) ------------------------------- */

/* What the holder and the waiter thread share. */
struct wake {
	rundown_conn_t	*conn;		/* the waiter's own connection */
	unsigned	 rounds;
	pid_t		 tid;		/* the waiter's thread id */
	int		 returned;	/* atomic: the wait returned this round */
	int		 error;
	uint64_t	 woke;		/* when the wait returned */
	pthread_barrier_t barrier;
};

/* The waiter: each round, asks the daemon to run the block down and
 * blocks until it answers. */
static void *
waiter_main(void *arg)
{
	struct wake *k = arg;
	unsigned i;
	int error;

	k->tid = (pid_t)syscall(SYS_gettid);
	if (opt_pin)
		bench_pin_nth(1);
	for (i = 0; i < k->rounds; i++) {
		pthread_barrier_wait(&k->barrier);		/* start */
		error = rundown_ctl_wait(k->conn, BENCH_TAG, NULL);
		k->woke = bench_clock_ns(CLOCK_MONOTONIC);
		__atomic_store_n(&k->returned, 1, __ATOMIC_RELEASE);
		if (error != 0)
			k->error = error;
		pthread_barrier_wait(&k->barrier);		/* end */
	}
	return NULL;
}

/* The block's state as the daemon reports it. */
static enum rundown_state
daemon_state(void)
{
	struct rundown_block_info info;
	int r;

	if ((r = rundown_ctl_status(ctl, BENCH_TAG, &info, NULL, 0, NULL)) != 0)
		die("status: %s", rundown_strerror(r));
	return info.state;
}

/* Prints median, 99th percentile, maximum and the share over 1 ms of n
 * latencies in microseconds (sorts them). */
static void
print_latency(const char *label, double *lat, unsigned n)
{
	unsigned i, slow = 0;

	qsort(lat, n, sizeof *lat, bench_cmp_double);
	for (i = 0; i < n; i++)
		slow += lat[i] > 1000;
	printf("  %-30s median %7.1f us  p99 %7.1f us  max %7.1f us  "
	    "over 1 ms %4.1f%%\n", label, bench_rank(lat, n, 0.5),
	    bench_rank(lat, n, 0.99), lat[n - 1], 100.0 * slow / n);
}

/*
 * Times rounds of: this process holds one protection on the shared block
 * (attached like any client); the waiter thread sends a wait and blocks in
 * the daemon; once the daemon reports running-down (so it has taken the
 * wait: one loop thread answers both connections in order) and the waiter
 * sleeps, the holder stamps the time and releases; the waiter stamps the
 * time as its wait returns.  Then re-initialize and again.  A status round
 * trip on the same socket is timed too, as a baseline.
 */
static void
wake_latency(void)
{
	struct rundown_block_info info;
	rundown_cache_t *ref;
	struct wake k;
	cpu_set_t saved;
	pthread_t t;
	uint64_t t0;
	double *lat;
	unsigned i, awake = 0;
	long status_polls = 0;
	int r;

	if (opt_wake == 0 || !selected('e'))
		return;
	if ((lat = calloc(opt_wake, sizeof *lat)) == NULL)
		die("calloc: %s", strerror(errno));
	memset(&k, 0, sizeof k);
	k.rounds = opt_wake;
	if ((r = rundown_connect(sock_path, &k.conn)) != 0)
		die("connect: %s", rundown_strerror(r));
	if ((r = rundown_attach_at(sock_path, BENCH_TAG, 0, &ref)) != 0)
		die("attach: %s", rundown_strerror(r));
	pthread_barrier_init(&k.barrier, NULL, 2);
	/* Created before this thread pins itself, so that it inherits (and
	 * picks its CPU from) the whole allowed set. */
	if (pthread_create(&t, NULL, waiter_main, &k) != 0)
		die("pthread_create: %s", strerror(errno));
	sched_getaffinity(0, sizeof saved, &saved);
	if (opt_pin)
		bench_pin_nth(0);
	for (i = 0; i < opt_wake; i++) {
		if (!rundown_cache_acquire(ref))
			die("round %u: acquire refused on an open block", i);
		__atomic_store_n(&k.returned, 0, __ATOMIC_RELAXED);
		pthread_barrier_wait(&k.barrier);		/* start */
		while (daemon_state() != RUNDOWN_RUNNING_DOWN)
			status_polls++;
		/* Taken by the daemon; now wait until the waiter sleeps in
		 * its read (bounded: /proc may lie). */
		if (!bench_wait_asleep(k.tid))
			awake++;
		if (__atomic_load_n(&k.returned, __ATOMIC_ACQUIRE))
			die("round %u: the wait returned while a protection "
			    "was held", i);
		t0 = bench_clock_ns(CLOCK_MONOTONIC);
		rundown_cache_release(ref);
		pthread_barrier_wait(&k.barrier);		/* end */
		lat[i] = (double)(k.woke - t0) / 1e3;
		if (k.error != 0)
			die("round %u: wait: %s", i, rundown_strerror(k.error));
		if ((r = rundown_ctl_reinit(ctl, BENCH_TAG)) != 0)
			die("round %u: reinit: %s", i, rundown_strerror(r));
	}
	pthread_join(t, NULL);
	pthread_barrier_destroy(&k.barrier);
	sched_setaffinity(0, sizeof saved, &saved);

	printf("\nwake latency through the daemon, %u rounds:\n", opt_wake);
	print_latency("e release -> ctl_wait returns", lat, opt_wake);
	if (awake != 0)
		printf("  (%u rounds: waiter not seen asleep)\n", awake);
	/* Baseline: one request and its answer, on the same socket. */
	for (i = 0; i < opt_wake; i++) {
		t0 = bench_clock_ns(CLOCK_MONOTONIC);
		if ((r = rundown_ctl_status(ctl, BENCH_TAG, &info, NULL, 0,
		    NULL)) != 0)
			die("status: %s", rundown_strerror(r));
		lat[i] = (double)(bench_clock_ns(CLOCK_MONOTONIC) - t0) / 1e3;
	}
	print_latency("  baseline: status round trip", lat, opt_wake);
	if (!opt_quiet)
		printf("  (%.2f status replies per round said open before "
		    "one said running-down)\n", (double)status_polls /
		    opt_wake);
	if ((r = rundown_detach(ref)) != 0)
		die("detach: %s", rundown_strerror(r));
	rundown_disconnect(k.conn);
	free(lat);
}

/* ---- control-request throughput (f) ------------------------------------ */

/* One client thread of the control benchmark, alone on its lines. */
struct client {
	pthread_t	 thread;
	unsigned	 index;
	bool		 create_free;	/* else status */
	rundown_conn_t	*conn;
	uint64_t	 requests;
	uint64_t	 start, end;
	int		 error;
} __attribute__((aligned(BLOCK_LINE)));

static pthread_barrier_t client_barrier;
static int client_stop;		/* atomic */

/* A client: status requests, or create + free of a tag of its own,
 * until told to stop. */
static void *
client_main(void *arg)
{
	struct client *cl = arg;
	struct rundown_block_info info;
	uint32_t tag = RUNDOWN_TAG('B', 'c', 'f', 'a' + cl->index);
	uint64_t n = 0;
	int r = 0;

	pthread_barrier_wait(&client_barrier);
	cl->start = bench_clock_ns(CLOCK_MONOTONIC);
	while (!__atomic_load_n(&client_stop, __ATOMIC_RELAXED)) {
		if (cl->create_free) {
			if ((r = rundown_ctl_create(cl->conn, tag, 0)) != 0 ||
			    (r = rundown_ctl_free(cl->conn, tag)) != 0)
				break;
			n += 2;
		} else {
			if ((r = rundown_ctl_status(cl->conn, BENCH_TAG, &info,
			    NULL, 0, NULL)) != 0)
				break;
			n++;
		}
	}
	cl->end = bench_clock_ns(CLOCK_MONOTONIC);
	cl->requests = n;
	cl->error = r;
	return NULL;
}

/* Runs nconns clients for opt_ms: requests per second, all together. */
static double
control_once(unsigned nconns, bool create_free)
{
	static struct client cl[BENCH_MAX_CONNS];
	uint64_t n = 0, start = UINT64_MAX, end = 0;
	unsigned i;
	int r;

	__atomic_store_n(&client_stop, 0, __ATOMIC_RELAXED);
	pthread_barrier_init(&client_barrier, NULL, nconns + 1);
	for (i = 0; i < nconns; i++) {
		memset(&cl[i], 0, sizeof cl[i]);
		cl[i].index = i;
		cl[i].create_free = create_free;
		if ((r = rundown_connect(sock_path, &cl[i].conn)) != 0)
			die("connect: %s", rundown_strerror(r));
		if (pthread_create(&cl[i].thread, NULL, client_main,
		    &cl[i]) != 0)
			die("pthread_create: %s", strerror(errno));
	}
	pthread_barrier_wait(&client_barrier);
	bench_pause_ms(opt_ms);
	__atomic_store_n(&client_stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nconns; i++) {
		pthread_join(cl[i].thread, NULL);
		rundown_disconnect(cl[i].conn);
		if (cl[i].error != 0)
			die("control client %u: %s", i,
			    rundown_strerror(cl[i].error));
		n += cl[i].requests;
		if (cl[i].start < start)
			start = cl[i].start;
		if (cl[i].end > end)
			end = cl[i].end;
	}
	pthread_barrier_destroy(&client_barrier);
	return end > start ? (double)n * 1e6 / (double)(end - start) : 0;
}

/* Runs and prints the control-request throughput. */
static void
control(void)
{
	double v[2][BENCH_MAX_REPS];
	struct bench_spread s;
	unsigned c, rep, k;

	if (!selected('f'))
		return;
	printf("\ncontrol requests the daemon answers, thousands per second "
	    "(all connections):\n");
	printf("%-15s %5s  %8s %8s %8s\n", "request", "conns", "median", "min",
	    "max");
	for (c = 0; c < opt_nconns; c++) {
		for (rep = 0; rep < opt_reps; rep++) {
			for (k = 0; k < 2; k++)
				v[k][rep] = control_once(opt_conns[c], k == 1);
		}
		for (k = 0; k < 2; k++) {
			s = bench_spread_of(v[k], opt_reps);
			printf("f %-13s %5u  %8.1f %8.1f %8.1f\n", k == 0 ?
			    "status" : "create, free", opt_conns[c], s.med,
			    s.min, s.max);
		}
		fflush(stdout);
	}
}

/* ---- run-down start cost through the daemon (s) ------------------------- */

#define START_BATCH 64		/* pairs between two reports of progress */

/*
 * A worker attached to the block while the parent times run-down starts
 * (s) or its own attaches (l): it runs pairs, publishing its count after
 * each batch in its result (refused acquires, while the block runs down,
 * are retried), or, idle, blocks in a read of a pipe until the parent
 * closes it.  Never returns.
 */
static __attribute__((noreturn)) void
start_worker(unsigned index, bool hammer)
{
	struct result *res = &rg->res[index];
	rundown_cache_t *ref = NULL;
	uint64_t n = 0;
	unsigned i;
	char c;

	if (opt_pin && !bench_pin_nth(index))
		res->unpinned = true;
	res->error = rundown_attach_at(sock_path, BENCH_TAG, 0, &ref);
	pthread_barrier_wait(&rg->start.barrier);
	if (res->error != 0)
		_exit(0);
	if (hammer) {
		while (!__atomic_load_n(&rg->flag.stop, __ATOMIC_RELAXED)) {
			for (i = 0; i < START_BATCH; i++) {
				if (rundown_cache_acquire(ref)) {
					rundown_cache_release(ref);
					n++;
				}
			}
			__atomic_store_n(&res->count.pairs, n,
			    __ATOMIC_RELAXED);
		}
	} else {
		while (read(rg->idle.pipe_rd, &c, 1) != 0 && errno == EINTR)
			;
	}
	res->error = rundown_detach(ref);
	_exit(0);
}

/* One round trip on the parent's connection, in microseconds: a status
 * request, or a wait (which starts the run-down). */
static double
start_request(bool wait)
{
	struct rundown_block_info info;
	uint64_t t0;
	int r;

	t0 = bench_clock_ns(CLOCK_MONOTONIC);
	r = wait ? rundown_ctl_wait(ctl, BENCH_TAG, NULL) :
	    rundown_ctl_status(ctl, BENCH_TAG, &info, NULL, 0, NULL);
	if (r != 0)
		die("%s: %s", wait ? "wait" : "status", rundown_strerror(r));
	return (double)(bench_clock_ns(CLOCK_MONOTONIC) - t0) / 1e3;
}

/* Workers attached to the block while the parent measures (s, l). */
struct attached {
	pid_t		 pid[BENCH_MAX_PROCS];
	unsigned	 n;
	int		 pipe_wr;	/* idle workers read its other end */
};

/*
 * Forks nprocs start_worker()s (hammering, or idle) and returns once each
 * has attached: they meet the parent on the start barrier after their
 * attach, so that what the parent measures next sees them all.  what
 * names the variant in messages.
 */
static void
attached_start(struct attached *w, unsigned nprocs, bool hammer,
    const char *what)
{
	unsigned i;
	int fd[2];

	memset(rg->res, 0, sizeof rg->res);
	__atomic_store_n(&rg->flag.stop, 0, __ATOMIC_RELAXED);
	if (pipe(fd) != 0)
		die("pipe: %s", strerror(errno));
	rg->idle.pipe_rd = fd[0];
	start_barrier_init(nprocs + 1);
	fflush(NULL);
	w->n = 0;
	for (i = 0; i < nprocs; i++) {
		if ((w->pid[i] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (w->pid[i] == 0) {
			close(fd[1]);
			start_worker(i, hammer);
		}
		w->n++;
	}
	close(fd[0]);
	w->pipe_wr = fd[1];
	pthread_barrier_wait(&rg->start.barrier);
	for (i = 0; i < nprocs; i++) {
		if (rg->res[i].error != 0)
			die("%s: worker %u: attach: %s", what, i,
			    rundown_strerror(rg->res[i].error));
	}
}

/* Stops the workers (the flag for the hammering ones, EOF on the pipe for
 * the idle ones) and reaps them; each detaches before it exits. */
static void
attached_stop(struct attached *w, const char *what)
{
	unsigned i;
	int status;

	__atomic_store_n(&rg->flag.stop, 1, __ATOMIC_RELAXED);
	close(w->pipe_wr);
	for (i = 0; i < w->n; i++) {
		while (waitpid(w->pid[i], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("%s: worker %u died (status 0x%x)", what, i,
			    status);
		if (rg->res[i].error != 0)
			die("%s: worker %u: detach: %s", what, i,
			    rundown_strerror(rg->res[i].error));
	}
	w->n = 0;
	pthread_barrier_destroy(&rg->start.barrier);
}

/*
 * With nprocs workers attached (hammering, or idle), runs rounds of: wait
 * until every hammering worker has made pairs since the last re-initialize
 * (observed, not slept for), time a status round trip, then a wait's (the
 * daemon flips the state, fences on every CPU, harvests every row and,
 * once the rows are drained, answers), then re-initialize.  Appends to
 * st, wt and dt (the round's wait minus its status) at *n.
 */
static void
start_chunk(unsigned nprocs, bool hammer, unsigned rounds, double *st,
    double *wt, double *dt, unsigned *n)
{
	struct attached w;
	uint64_t seen[BENCH_MAX_PROCS];
	unsigned i, round;
	int r;

	attached_start(&w, nprocs, hammer, "start");
	for (i = 0; i < nprocs; i++)
		seen[i] = 0;
	for (round = 0; round < rounds; round++) {
		for (i = 0; hammer && i < nprocs; i++) {
			while (__atomic_load_n(&rg->res[i].count.pairs,
			    __ATOMIC_RELAXED) <= seen[i])
				sched_yield();
		}
		st[*n] = start_request(false);
		wt[*n] = start_request(true);
		dt[*n] = wt[*n] - st[*n];
		(*n)++;
		if ((r = rundown_ctl_reinit(ctl, BENCH_TAG)) != 0)
			die("start round %u: reinit: %s", round,
			    rundown_strerror(r));
		for (i = 0; hammer && i < nprocs; i++)
			seen[i] = __atomic_load_n(&rg->res[i].count.pairs,
			    __ATOMIC_RELAXED);
	}
	attached_stop(&w, "start");
}

/*
 * Measures and prints the run-down start cost through the daemon for each
 * count of attached processes, idle and hammering.  The rounds of a
 * configuration are taken in opt_reps chunks, idle and hammering
 * interleaved.  The start cost is a wait's round trip less a status
 * request's: both cross the same socket and loop, and only the wait
 * starts (and, nothing being held but for an instant, ends) a run-down.
 */
static void
start_cost(void)
{
	double *st[2], *wt[2], *dt[2];
	unsigned n[2], t, rep, chunk, m;

	if (opt_start == 0 || !selected('s'))
		return;
	for (m = 0; m < 2; m++) {
		st[m] = calloc(opt_start, sizeof(double));
		wt[m] = calloc(opt_start, sizeof(double));
		dt[m] = calloc(opt_start, sizeof(double));
		if (st[m] == NULL || wt[m] == NULL || dt[m] == NULL)
			die("calloc: %s", strerror(errno));
	}
	printf("\nrun-down start cost through the daemon (wait round trip, "
	    "nothing held, less a status round trip), %u rounds, "
	    "microseconds:\n", opt_start);
	printf("%-9s %5s  %8s %8s  %8s %8s  %8s %8s %8s\n", "workers",
	    "proc", "status", "p99", "wait", "p99", "start", "paired", "p99");
	for (t = 0; t < opt_nattached; t++) {
		n[0] = n[1] = 0;
		for (rep = 0; rep < opt_reps; rep++) {
			chunk = (rep + 1) * opt_start / opt_reps -
			    rep * opt_start / opt_reps;
			for (m = 0; m < 2 && chunk != 0; m++)
				start_chunk(opt_attached[t], m == 1, chunk,
				    st[m], wt[m], dt[m], &n[m]);
		}
		for (m = 0; m < 2; m++) {
			double sm, wm;

			qsort(st[m], n[m], sizeof(double), bench_cmp_double);
			qsort(wt[m], n[m], sizeof(double), bench_cmp_double);
			qsort(dt[m], n[m], sizeof(double), bench_cmp_double);
			sm = bench_rank(st[m], n[m], 0.5);
			wm = bench_rank(wt[m], n[m], 0.5);
			printf("%-9s %5u  %8.1f %8.1f  %8.1f %8.1f  %8.1f "
			    "%8.1f %8.1f%s\n", m == 0 ? "idle" : "hammering",
			    opt_attached[t], sm, bench_rank(st[m], n[m], 0.99),
			    wm, bench_rank(wt[m], n[m], 0.99), wm - sm,
			    bench_rank(dt[m], n[m], 0.5),
			    bench_rank(dt[m], n[m], 0.99),
			    m == 1 && opt_attached[t] > cpus_allowed ?
			    "  (oversubscribed)" : "");
		}
		fflush(stdout);
	}
	if (!opt_quiet)
		printf("  (start: median wait - median status; paired: the "
		    "median and p99 of each round's wait - status)\n");
	for (m = 0; m < 2; m++) {
		free(st[m]);
		free(wt[m]);
		free(dt[m]);
	}
}

/* ---- attach latency and memory per attachment (l) ----------------------- */

#define MEM_ATTACHED 16		/* processes attached for the memory figure */

/* One round: an attach of this process to the block, its detach, and a
 * status request on the parent's connection (the baseline), each in
 * microseconds. */
static void
attach_round(double *at, double *dt, double *st)
{
	rundown_cache_t *ref;
	uint64_t t0, t1, t2;
	int r;

	t0 = bench_clock_ns(CLOCK_MONOTONIC);
	if ((r = rundown_attach_at(sock_path, BENCH_TAG, 0, &ref)) != 0)
		die("attach: %s", rundown_strerror(r));
	t1 = bench_clock_ns(CLOCK_MONOTONIC);
	if ((r = rundown_detach(ref)) != 0)
		die("detach: %s", rundown_strerror(r));
	t2 = bench_clock_ns(CLOCK_MONOTONIC);
	*at = (double)(t1 - t0) / 1e3;
	*dt = (double)(t2 - t1) / 1e3;
	*st = start_request(false);
}

/* What the daemon's shared-memory objects take: how many there are, the
 * sum of their sizes, and of what tmpfs has allocated for them; and the
 * same of the block's own object, named PREFIX + tag + "." + serial
 * (with the rows in it where they are preallocated; beside it the
 * daemon keeps NAME.perm, or NAME.meta and the rows' NAME.r...). */
struct shm_use {
	unsigned	 objects;
	uint64_t	 bytes;
	uint64_t	 allocated;
	uint64_t	 block_bytes;
	uint64_t	 block_allocated;
};

/* The daemon's objects in /dev/shm now: those whose names start with its
 * prefix (shmname_prefix(), as daemon_leftovers() finds them), which
 * are all the block's, as it is the only block while l runs. */
static struct shm_use
shm_usage(void)
{
	struct shm_use u = { 0, 0, 0, 0, 0 };
	struct dirent *de;
	struct stat st;
	const char *rest;
	DIR *d;

	if ((d = opendir("/dev/shm")) == NULL)
		die("/dev/shm: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, shm_prefix, strlen(shm_prefix)) != 0 ||
		    fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		u.objects++;
		u.bytes += (uint64_t)st.st_size;
		u.allocated += (uint64_t)st.st_blocks * 512;
		rest = de->d_name + strlen(shm_prefix);
		if (strchr(rest, '.') == rest + 8 &&
		    strchr(rest + 9, '.') == NULL) {
			u.block_bytes = (uint64_t)st.st_size;
			u.block_allocated = (uint64_t)st.st_blocks * 512;
		}
	}
	closedir(d);
	return u;
}

/* Prints one line of the memory table. */
static void
print_shm_use(const char *label, struct shm_use u)
{
	printf("m %-22s %7u %10llu %10llu\n", label, u.objects,
	    (unsigned long long)u.bytes, (unsigned long long)u.allocated);
}

/*
 * The memory an attachment costs the machine: the daemon's objects before
 * and while MEM_ATTACHED idle processes are attached, the growth divided
 * by their number.  A design that preallocates every row in the block
 * grows by nothing; then what the block reserves per row is printed
 * instead: the block's object over its rows.  The mappings in the
 * attached processes are not counted: they share the same pages.
 */
static void
attach_memory(void)
{
	struct rundown_block_info info;
	struct shm_use u0, u1, u2;
	struct attached w;
	int64_t grow, grow_alloc;
	int r;

	if ((r = rundown_ctl_status(ctl, BENCH_TAG, &info, NULL, 0,
	    NULL)) != 0)
		die("status: %s", rundown_strerror(r));
	if (info.attached != 0)
		die("memory: %u processes attached before the count",
		    info.attached);
	u0 = shm_usage();
	attached_start(&w, MEM_ATTACHED, false, "memory");
	u1 = shm_usage();
	attached_stop(&w, "memory");
	u2 = shm_usage();
	grow = ((int64_t)u1.bytes - (int64_t)u0.bytes) / MEM_ATTACHED;
	grow_alloc = ((int64_t)u1.allocated - (int64_t)u0.allocated) /
	    MEM_ATTACHED;

	printf("\nmemory per attachment: the daemon's shared-memory objects "
	    "for the block (%u rows of %u CPUs), bytes:\n", info.rows,
	    info.cpus);
	printf("%-24s %7s %10s %10s\n", "", "objects", "size", "allocated");
	print_shm_use("nobody attached", u0);
	printf("m %2u %-19s %7u %10llu %10llu\n", MEM_ATTACHED, "attached",
	    u1.objects, (unsigned long long)u1.bytes,
	    (unsigned long long)u1.allocated);
	print_shm_use("after they detached", u2);
	printf("m %-22s %7s %10lld %10lld\n", "per attachment", "",
	    (long long)grow, (long long)grow_alloc);
	if (grow == 0 && info.rows != 0)
		printf("m %-22s %7s %10llu %10llu  (rows preallocated: the "
		    "block's object, %llu bytes, over %u rows)\n",
		    "preallocated per row", "",
		    (unsigned long long)u0.block_bytes / info.rows,
		    (unsigned long long)u0.block_allocated / info.rows,
		    (unsigned long long)u0.block_bytes, info.rows);
	if (!opt_quiet)
		printf("  (size: st_size; allocated: st_blocks, the pages "
		    "tmpfs holds; the processes' mappings share them)\n");
}

/*
 * Measures and prints the attach latency: with 0, 3 and 15 other
 * processes attached (one fewer than each -A count, so that the attach
 * timed is the 1st, 4th, 16th), rounds of this process's
 * rundown_attach_at() and rundown_detach(), each timed on its own, and a
 * status round trip as the baseline (the attach is a connection, a
 * request and its answer with descriptors, and the mappings; the detach
 * a request and the unmapping).  The rounds are taken in opt_reps
 * chunks, the counts interleaved, the other processes forked afresh for
 * each chunk.  Then the memory per attachment.
 */
static void
attach_latency(void)
{
	double *at[BENCH_MAX_COUNTS], *dt[BENCH_MAX_COUNTS];
	double *st[BENCH_MAX_COUNTS];
	unsigned n[BENCH_MAX_COUNTS], t, rep, chunk, i;
	struct attached w;

	if (!selected('l'))
		return;
	if (opt_attach != 0) {
		for (t = 0; t < opt_nattached; t++) {
			at[t] = calloc(opt_attach, sizeof(double));
			dt[t] = calloc(opt_attach, sizeof(double));
			st[t] = calloc(opt_attach, sizeof(double));
			if (at[t] == NULL || dt[t] == NULL || st[t] == NULL)
				die("calloc: %s", strerror(errno));
			n[t] = 0;
		}
		for (rep = 0; rep < opt_reps; rep++) {
			chunk = (rep + 1) * opt_attach / opt_reps -
			    rep * opt_attach / opt_reps;
			for (t = 0; t < opt_nattached && chunk != 0; t++) {
				attached_start(&w, opt_attached[t] - 1, false,
				    "attach");
				for (i = 0; i < chunk; i++, n[t]++)
					attach_round(&at[t][n[t]],
					    &dt[t][n[t]], &st[t][n[t]]);
				attached_stop(&w, "attach");
			}
		}
		printf("\nattach latency through the daemon "
		    "(rundown_attach_at, rundown_detach), %u rounds, "
		    "microseconds:\n", opt_attach);
		printf("%-7s %6s  %8s %8s  %8s %8s  %8s %8s\n", "attach",
		    "others", "attach", "p90", "detach", "p90", "status",
		    "p90");
		for (t = 0; t < opt_nattached; t++) {
			qsort(at[t], n[t], sizeof(double), bench_cmp_double);
			qsort(dt[t], n[t], sizeof(double), bench_cmp_double);
			qsort(st[t], n[t], sizeof(double), bench_cmp_double);
			printf("l %5u %6u  %8.1f %8.1f  %8.1f %8.1f  %8.1f "
			    "%8.1f\n", opt_attached[t], opt_attached[t] - 1,
			    bench_rank(at[t], n[t], 0.5),
			    bench_rank(at[t], n[t], 0.9),
			    bench_rank(dt[t], n[t], 0.5),
			    bench_rank(dt[t], n[t], 0.9),
			    bench_rank(st[t], n[t], 0.5),
			    bench_rank(st[t], n[t], 0.9));
			free(at[t]);
			free(dt[t]);
			free(st[t]);
		}
		if (!opt_quiet)
			printf("  (attach: the n-th process's, with n - 1 "
			    "others attached and idle; median and p90)\n");
		fflush(stdout);
	}
	attach_memory();
}

/* ---- what an attacker costs others (x) ---------------------------------- */

#define X_PROBES 64		/* status probes per repetition */
#define X_PIPE_CONNS 64		/* connections pipelining [WAIT 0, REINIT] */
#define X_PIPE_ROWS 1024

/* What x's processes share: the stop flag is rg->flag.stop. */
struct xshared {
	uint64_t	 spins;		/* the victim's loop, in its run */
	uint64_t	 rundowns;	/* the cycler's run-downs, in its run */
	int		 ready;		/* processes set up, atomic */
};
static struct xshared *xs;

/* In an attacker: becomes the made-up user X_UID, as a local user the
 * daemon lets in would be. */
static void
x_become_user(void)
{
	gid_t g = X_UID;

	if (setgroups(1, &g) != 0 || setresgid(g, g, g) != 0 ||
	    setresuid(X_UID, X_UID, X_UID) != 0)
		_exit(6);
}

/* The victim: a CPU-bound loop on the last allowed CPU until stopped. */
static void
x_victim(void)
{
	uint64_t n = 0;

	bench_pin_nth(cpus_allowed - 1);
	__atomic_add_fetch(&xs->ready, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&rg->flag.stop, __ATOMIC_RELAXED))
		n++;
	xs->spins = n;
	_exit(0);
}

/* The cycler: run-downs of its own 1-row block, one after the other, as
 * fast as the daemon answers, on the first allowed CPU.  It is attached
 * to the block, which makes each run-down need the walk (a block with no
 * process on the rseq path is harvested without). */
static void
x_cycler(void)
{
	const uint32_t tag = BENCH_TAG + 1;
	rundown_cache_t *ref;
	rundown_conn_t *c;
	uint64_t n = 0;

	bench_pin_nth(0);
	x_become_user();
	if (rundown_connect(sock_path, &c) != 0 ||
	    rundown_ctl_create(c, tag, 1) != 0 ||
	    rundown_attach_at(sock_path, tag, 0, &ref) != 0)
		_exit(3);
	__atomic_add_fetch(&xs->ready, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&rg->flag.stop, __ATOMIC_RELAXED)) {
		if (rundown_ctl_wait(c, tag, NULL) != 0 ||
		    rundown_ctl_reinit(c, tag) != 0)
			_exit(4);
		n++;
	}
	xs->rundowns = n;
	_exit(rundown_detach(ref) == 0 && rundown_ctl_free(c, tag) == 0 ? 0 :
	    5);
}

/* The pipeliner: X_PIPE_CONNS connections, each sending [WAIT 0, REINIT]
 * on a block of X_PIPE_ROWS rows without waiting for the answers, and
 * reading whatever came back, until stopped. */
static void
x_pipeliner(void)
{
	const uint32_t tag = BENCH_TAG + 2;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct proto_req req = { .tag = tag, .arg = 0 };
	char frames[2 * (PROTO_HDR_SIZE + sizeof(req))], buf[65536];
	int fd[X_PIPE_CONNS], k;
	rundown_cache_t *ref;
	rundown_conn_t *c;
	size_t n;

	x_become_user();
	/* Attached, as the cycler is: its run-downs need the walk. */
	if (rundown_connect(sock_path, &c) != 0 ||
	    rundown_ctl_create(c, tag, X_PIPE_ROWS) != 0 ||
	    rundown_attach_at(sock_path, tag, 0, &ref) != 0)
		_exit(3);
	n = proto_encode(frames, sizeof(frames), PROTO_WAIT, 1, &req,
	    sizeof(req));
	n += proto_encode(frames + n, sizeof(frames) - n, PROTO_REINIT, 2,
	    &req, sizeof(req));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	for (k = 0; k < X_PIPE_CONNS; k++) {
		if ((fd[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) <
		    0 || connect(fd[k], (struct sockaddr *)&sun, sizeof(sun)) !=
		    0)
			_exit(4);
	}
	__atomic_add_fetch(&xs->ready, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&rg->flag.stop, __ATOMIC_RELAXED)) {
		for (k = 0; k < X_PIPE_CONNS; k++) {
			(void)send(fd[k], frames, n, MSG_NOSIGNAL);
			while (read(fd[k], buf, sizeof(buf)) > 0)
				;
		}
	}
	for (k = 0; k < X_PIPE_CONNS; k++)
		close(fd[k]);
	/* The daemon ends the connections' pending waits as it closes
	 * them; the block may be mid run-down: freed by force. */
	_exit(rundown_ctl_free_force(c, tag) == 0 ? 0 : 5);
}

/* The hog: SCHED_FIFO 1 on the last allowed CPU, never yielding, until
 * stopped; exits 1 at once if real-time priority is refused. */
static void
x_hog(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	bench_pin_nth(cpus_allowed - 1);
	if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
		_exit(1);
	__atomic_add_fetch(&xs->ready, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&rg->flag.stop, __ATOMIC_RELAXED))
		;
	_exit(0);
}

enum { X_QUIET, X_CYCLE, X_PIPE, X_HOG, X_NCOND };
static const char *const x_names[X_NCOND] = {
	"no attack", "a user cycling run-downs", "64 conns [WAIT 0, REINIT]",
	"SCHED_FIFO 1 task + cycling",
};

/*
 * One repetition of condition cond: starts the victim (not under X_HOG,
 * whose CPU the hog takes) and the attackers, probes the daemon with
 * X_PROBES fresh connections each asking one status (their round trips,
 * in microseconds, to rtt at *nrtt), stops them all.  False if the
 * condition cannot run here (real-time priority refused).
 */
static bool
x_once(int cond, double *rtt, unsigned *nrtt)
{
	void (*const who[X_NCOND][2])(void) = {
		{ x_victim, NULL }, { x_victim, x_cycler },
		{ x_victim, x_pipeliner }, { x_hog, x_cycler },
	};
	struct rundown_block_info info;
	rundown_conn_t *c;
	pid_t pid[2];
	int want = 0, k, st, r;
	bool ok = true;
	uint64_t t0;

	__atomic_store_n(&rg->flag.stop, 0, __ATOMIC_RELAXED);
	xs->ready = 0;
	xs->spins = xs->rundowns = 0;
	fflush(NULL);
	for (k = 0; k < 2; k++) {
		pid[k] = -1;
		if (who[cond][k] == NULL)
			continue;
		if ((pid[k] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pid[k] == 0)
			who[cond][k]();
		want++;
	}
	while (__atomic_load_n(&xs->ready, __ATOMIC_RELAXED) < want) {
		if (cond == X_HOG && waitpid(pid[0], &st, WNOHANG) == pid[0]) {
			pid[0] = -1;
			ok = false;	/* no real-time priority here */
			break;
		}
		bench_pause_ms(1);
	}
	t0 = bench_clock_ns(CLOCK_MONOTONIC);
	for (k = 0; ok && k < X_PROBES; k++) {
		uint64_t t = bench_clock_ns(CLOCK_MONOTONIC);

		if ((r = rundown_connect(sock_path, &c)) != 0 ||
		    (r = rundown_ctl_status(c, BENCH_TAG, &info, NULL, 0,
		    NULL)) != 0)
			die("x: status under %s: %s", x_names[cond],
			    rundown_strerror(r));
		rundown_disconnect(c);
		rtt[(*nrtt)++] = (double)(bench_clock_ns(CLOCK_MONOTONIC) -
		    t) / 1e3;
	}
	/* The rest of the repetition's time, for the victim's count. */
	while (ok && bench_clock_ns(CLOCK_MONOTONIC) - t0 <
	    (uint64_t)opt_ms * 1000000u)
		bench_pause_ms(1);
	__atomic_store_n(&rg->flag.stop, 1, __ATOMIC_RELAXED);
	for (k = 0; k < 2; k++) {
		if (pid[k] < 0)
			continue;
		while (waitpid(pid[k], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("x: %s: process %d died (status 0x%x)",
			    x_names[cond], k, st);
	}
	return ok;
}

/* Prints p50 and p99 of n round trips. */
static void
x_print_rtt(const char *what, double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	printf("  %-30s  %9.1f  %9.1f  %9.1f  (%u probes)\n", what,
	    bench_rank(v, n, 0.5), bench_rank(v, n, 0.99), v[n - 1], n);
}

/*
 * x: what a local user's attack costs others.  By turns, each repetition:
 * a CPU-bound victim alone, with a user cycling run-downs, with 64
 * connections pipelining [WAIT 0, REINIT] on a 1024-row block, and (no
 * victim) a SCHED_FIFO 1 task on the victim's CPU while the user cycles.
 * Reports the victim's loop rate and what it lost, the cycler's
 * run-downs a second, and a fresh connection's status round trip.
 */
static void
cost_of_attacks(void)
{
	static double rtt[X_NCOND][BENCH_MAX_REPS * X_PROBES];
	double spins[2][BENCH_MAX_REPS], cycles[BENCH_MAX_REPS], loss;
	unsigned nrtt[X_NCOND] = { 0 }, rep;
	bool hog = true;
	int cond;

	if (!selected('x'))
		return;
	if (cpus_allowed < 2) {
		printf("x: one CPU allowed: no victim apart from the attack\n");
		return;
	}
	xs = mmap(NULL, sizeof(*xs), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (xs == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	/* The attackers' way to the socket. */
	if (chmod(tmpdir, 0711) != 0)
		die("chmod %s: %s", tmpdir, strerror(errno));
	for (rep = 0; rep < opt_reps; rep++) {
		for (cond = 0; cond < X_NCOND; cond++) {
			if (cond == X_HOG && !hog)
				continue;
			if (!x_once(cond, rtt[cond], &nrtt[cond])) {
				hog = false;
				continue;
			}
			if (cond <= X_CYCLE)
				spins[cond][rep] = (double)xs->spins;
			if (cond == X_CYCLE)
				cycles[rep] = (double)xs->rundowns * 1000.0 /
				    (double)opt_ms;
		}
	}
	munmap(xs, sizeof(*xs));
	loss = 1.0 - bench_spread_of(spins[1], opt_reps).med /
	    bench_spread_of(spins[0], opt_reps).med;
	printf("\nx: what an attack costs others (%u x %ld ms, medians)\n",
	    opt_reps, opt_ms);
	printf("  victim on CPU %u: %.3g loops alone, %.3g with a user "
	    "cycling run-downs (%.0f/s): %.1f%% lost\n", cpus_allowed - 1,
	    bench_spread_of(spins[0], opt_reps).med,
	    bench_spread_of(spins[1], opt_reps).med,
	    bench_spread_of(cycles, opt_reps).med, 100.0 * loss);
	printf("  fresh connection's status, us  %9s  %9s  %9s\n", "p50", "p99",
	    "max");
	for (cond = 0; cond < X_NCOND; cond++) {
		if (nrtt[cond] > 0)
			x_print_rtt(x_names[cond], rtt[cond], nrtt[cond]);
		else
			printf("  %-30s  n/a (SCHED_FIFO refused here)\n",
			    x_names[cond]);
	}
}

/* ---- options ----------------------------------------------------------- */

/* Prints the usage and exits with status. */
static __attribute__((noreturn)) void
usage(int status)
{
	FILE *f = status ? stderr : stdout;

	fprintf(f,
"usage: bench_shared [-hpq] [-A procs] [-C conns] [-D rundownd] [-l rounds]\n"
"                    [-o variants] [-r reps] [-s rounds] [-T procs] [-t ms]\n"
"                    [-w rounds]\n"
"  -D PATH    the daemon to start (default ./src/rundownd, from the build\n"
"             directory); it runs on a private socket and is stopped at the end\n"
"  -t MS      duration of one repetition (default 200)\n"
"  -r N       repetitions per configuration; medians are reported (default 7)\n"
"  -T LIST    process counts for r, a, b, c, d, comma-separated (default 1,2,4)\n"
"  -A LIST    attached process counts for s and l, comma-separated (default\n"
"             1,4,16)\n"
"  -s N       run-down start rounds per configuration (default 200; 0: skip)\n"
"  -l N       attach rounds per configuration (default 200; 0: only the\n"
"             memory per attachment)\n"
"  -C LIST    connection counts for f, comma-separated (default 1,4)\n"
"  -p         pin process i to the i-th allowed CPU (mod their count); the\n"
"             wake-latency holder and waiter to two different CPUs\n"
"  -w N       wake-latency rounds (default 1000; 0: skip)\n"
"  -o KEYS    what to run, of raibcdefslx (default raibcdefslx):\n"
"             r rseq add, a lock cmpxchg (the floors, inline), i shared\n"
"             block inline (RUNDOWN_INLINE), b shared block (calls),\n"
"             c plain ref, d rwlock read (processes), e wake latency through\n"
"             the daemon, f control requests, s run-down start cost,\n"
"             l attach latency and memory per attachment, x what a local\n"
"             user's attack costs others (a victim's CPU, status round trips)\n"
"  -q         print the results only\n"
"  -h         this help\n");
	exit(status);
}

/* Sets the options from the command line, or usage(1). */
static void
parse_options(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "A:C:D:hl:o:pqr:s:T:t:w:")) != -1) {
		switch (ch) {
		case 'A':
			bench_count_list(optarg, opt_attached, &opt_nattached,
			    BENCH_MAX_PROCS);
			break;
		case 'C':
			bench_count_list(optarg, opt_conns, &opt_nconns,
			    BENCH_MAX_CONNS);
			break;
		case 'D':
			opt_daemon = optarg;
			break;
		case 'h':
			usage(0);
		case 'l':
			opt_attach = (unsigned)bench_number(optarg, 0, 10000000);
			break;
		case 'o':
			if (optarg[0] == '\0' ||
			    optarg[strspn(optarg, "raibcdefslx")] != '\0')
				usage(1);
			opt_ops = optarg;
			break;
		case 'p':
			opt_pin = true;
			break;
		case 'q':
			opt_quiet = true;
			break;
		case 'r':
			opt_reps = (unsigned)bench_number(optarg, 1,
			    BENCH_MAX_REPS);
			break;
		case 's':
			opt_start = (unsigned)bench_number(optarg, 0, 10000000);
			break;
		case 'T':
			bench_count_list(optarg, opt_procs, &opt_nprocs,
			    BENCH_MAX_PROCS);
			break;
		case 't':
			opt_ms = (long)bench_number(optarg, 1, 3600000);
			break;
		case 'w':
			opt_wake = (unsigned)bench_number(optarg, 0, 10000000);
			break;
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);
}

int
main(int argc, char **argv)
{
	cpu_set_t allowed;
	long conf;
	int ch, r;

	bench_init("bench_shared", usage);
	parse_options(argc, argv);

	main_pid = getpid();
	cpus_allowed = 1;
	if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 &&
	    CPU_COUNT(&allowed) > 0)
		cpus_allowed = (unsigned)CPU_COUNT(&allowed);
	rg = mmap(NULL, sizeof *rg, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rg == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	conf = sysconf(_SC_NPROCESSORS_CONF);
	ncpus_conf = conf < 1 ? 1 : (unsigned)conf;
	rseq_ok = bench_rseq_ok();
	floor_size = bench_percpu_size(BENCH_MAX_PROCS, ncpus_conf);
	for (ch = 0; ch < 2; ch++) {
		floor_mem[ch] = mmap(NULL, floor_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (floor_mem[ch] == MAP_FAILED)
			die("mmap: %s", strerror(errno));
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	atexit(daemon_stop);
	signals_catch();
	daemon_start();
	if ((r = rundown_ctl_create(ctl, BENCH_TAG, 0)) != 0)
		die("create: %s", rundown_strerror(r));
	if (!opt_quiet)
		print_header();
	throughput();
	wake_latency();
	control();
	start_cost();
	attach_latency();
	cost_of_attacks();
	if ((r = rundown_ctl_free(ctl, BENCH_TAG)) != 0)
		die("free: %s", rundown_strerror(r));
	return 0;
}
