/* fence.c: the fences that end rseq critical sections (see fence.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomics.h"
#include "fence.h"

static int
membarrier(int cmd)
{
#ifdef SYS_membarrier
	return syscall(SYS_membarrier, cmd, 0, 0) == 0 ? 0 : -errno;
#else
	(void)cmd;
	return -ENOSYS;
#endif
}

bool
fence_private_ready(void)
{
	/* 0 not tried, 1 registered, -1 refused.  Racing first callers
	 * register twice, which the kernel allows. */
	static int ready;
	int r = rd_load(&ready, RD_RELAXED);

	if (r == 0) {
		r = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) == 0 ?
		    1 : -1;
		rd_store(&ready, r, RD_RELAXED);
	}
	return r > 0;
}

int
fence_private(void)
{
	int r = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);

	/* A process that never registered (or a child, which may not have
	 * inherited the registration) registers now. */
	if (r == -EPERM &&
	    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) == 0)
		r = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
	return r;
}

/* True if cpu is online, by /sys/devices/system/cpu/online ("0-3,8,10-11");
 * true as well if that cannot be read, which errs on the side of saying
 * a CPU was missed. */
static bool
cpu_online(uint32_t cpu)
{
	char buf[4096], *p, *end;
	unsigned long lo, hi;
	ssize_t n;
	int fd;

	fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	for (p = buf; *p != '\0' && *p != '\n'; p = end) {
		lo = strtoul(p, &end, 10);
		if (end == p)
			return true;
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p)
				return true;
		}
		if (cpu >= lo && cpu <= hi)
			return true;
		if (*end == ',')
			end++;
	}
	return false;
}

/*
 * True if the /proc/self/maps line ln describes memory that only this
 * process can see: private ('p'), writable, anonymous (no device, no
 * inode: heap, stack, MAP_PRIVATE | MAP_ANONYMOUS, named or not).  A
 * shared mapping (MAP_SHARED, memfd, shm) shows 's' or an inode; a device
 * mapping (VM_PFNMAP, VM_MIXEDMAP) its device node.  *lo, *hi get the
 * range the line covers.
 */
static bool
maps_private(const char *ln, uintptr_t *lo, uintptr_t *hi)
{
	unsigned long long a, b, off, ino;
	unsigned maj, min;
	char perms[5];
	int n = 0;

	if (sscanf(ln, "%llx-%llx %4s %llx %x:%x %llu %n", &a, &b, perms,
	    &off, &maj, &min, &ino, &n) < 7 || n == 0) {
		*lo = *hi = 0;
		return false;
	}
	*lo = (uintptr_t)a;
	*hi = (uintptr_t)b;
	return perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p' &&
	    maj == 0 && min == 0 && ino == 0 &&
	    (ln[n] == '\n' || ln[n] == '\0' || ln[n] == '[');
}

bool
fence_memory_private(const void *p, size_t len)
{
	uintptr_t at = (uintptr_t)p, end = at + len, lo, hi;
	char ln[4096 + 256];
	bool priv;
	FILE *f;

	if (len == 0 || end < at)
		return false;
	/*
	 * Every mapping the range touches must be private anonymous memory,
	 * and the mappings must cover it without a gap: a buffer may span
	 * several (a block of many CPUs is pages long, and a caller may have
	 * mapped a shared page into the middle of a private range).  The
	 * end pages alone, or what pagemap says of present pages, would miss
	 * a shared page between them and any page not yet touched.  Opened
	 * each time: /proc/self is resolved at open, and a descriptor kept
	 * across fork() would read the parent's.
	 */
	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return false;
	priv = false;
	while (fgets(ln, sizeof(ln), f) != NULL) {
		bool ok = maps_private(ln, &lo, &hi);

		if (strchr(ln, '\n') == NULL && !feof(f))
			break;		/* a line too long: in doubt */
		if (hi <= at)
			continue;
		if (lo > at || !ok)
			break;		/* a gap, or not private */
		if (hi >= end) {
			priv = true;
			break;
		}
		at = hi;
	}
	fclose(f);
	return priv;
}

/* Room for the affinity of any machine the block layout allows, and for
 * the whole affinity of any machine Linux runs on (CONFIG_NR_CPUS is at
 * most 8192): the walk allocates nothing, so it cannot fail for memory
 * after the state word has flipped. */
#define FENCE_MAX_CPUS 4096u
#define FENCE_SET_CPUS 8192u
#define FENCE_SET_WORDS (FENCE_SET_CPUS / (8 * sizeof(unsigned long)))

/* Tests: an error that walks return before they begin (as a refused
 * sched_getaffinity() would), for as long as it is set. */
int rd_test_fence_error;

/* What fence_walk() does. */
enum walk {
	WALK_CHECK,		/* only checks that each CPU may be reached */
	WALK_RETURN,		/* runs on each, then back as it was */
	WALK_STAY		/* runs on each, and stays where it ended */
};

int
sched_getattr_self(struct sched_attr *a)
{
	memset(a, 0, sizeof(*a));
	return syscall(SYS_sched_getattr, 0, a, sizeof(*a), 0) == 0 ? 0 :
	    -errno;
}

int
sched_setattr_self(const struct sched_attr *a)
{
	return syscall(SYS_sched_setattr, 0, a, 0) == 0 ? 0 : -errno;
}

/*
 * The priority a WALK_RETURN walk runs at.  A thread that arrives on a CPU
 * at normal priority waits for the task running there to use up its slice
 * (a tick, milliseconds, on a CPU kept busy); a real-time one preempts it
 * at once.  So a thread of a normal policy (SCHED_OTHER, BATCH, IDLE)
 * walks at SCHED_FIFO 1 where that is allowed (CAP_SYS_NICE, or
 * RLIMIT_RTPRIO); a real-time thread (FIFO, RR) walks at its own
 * priority, which is higher; a SCHED_DEADLINE thread, which outranks every
 * real-time one but may not be pinned to one CPU (sched_setaffinity()
 * refuses it), walks at the highest FIFO priority.  Whatever it was, the
 * thread gets back exactly the attributes it had (sched_getattr: policy,
 * priority, nice, deadline parameters, reset-on-fork), read from the
 * kernel each time: glibc's pthread_getschedparam() answers what glibc
 * cached, which a sched_setscheduler() since has made stale.  *saved gets
 * them; true if the walk must put them back.
 */
static bool
walk_raise(struct sched_attr *saved)
{
	struct sched_attr rt;

	if (sched_getattr_self(saved) != 0)
		return false;
	memset(&rt, 0, sizeof(rt));
	rt.size = sizeof(rt);
	rt.sched_flags = saved->sched_flags & SCHED_FLAG_RESET_ON_FORK;
	rt.sched_policy = SCHED_FIFO;
	switch (saved->sched_policy) {
	case SCHED_FIFO:
	case SCHED_RR:
		return false;
	case SCHED_DEADLINE:
		rt.sched_priority = (uint32_t)sched_get_priority_max(
		    SCHED_FIFO);
		break;
	default:
		rt.sched_priority = 1;
		break;
	}
	return sched_setattr_self(&rt) == 0;
}

/* Walks the CPUs below cpus as how says: 0, -EPERM (an online CPU out of
 * reach) or -errno (nothing walked). */
static int
fence_walk(uint32_t cpus, enum walk how)
{
	unsigned long oldw[FENCE_SET_WORDS], onew[FENCE_SET_WORDS];
	cpu_set_t *old = (cpu_set_t *)(void *)oldw;
	cpu_set_t *one = (cpu_set_t *)(void *)onew;
	size_t size = CPU_ALLOC_SIZE(cpus), all = sizeof(oldw);
	struct sched_attr saved;
	int here = sched_getcpu(), r;
	bool moved = false, raised = false, go = how != WALK_CHECK;
	uint32_t cpu;

	if (cpus == 0 || cpus > FENCE_MAX_CPUS)
		return -EINVAL;
	if ((r = rd_load(&rd_test_fence_error, RD_RELAXED)) != 0)
		return r;
	if (how != WALK_STAY && sched_getaffinity(0, all, old) != 0)
		return -errno;
	if (how == WALK_RETURN)
		raised = walk_raise(&saved);
	for (cpu = 0; cpu < cpus; cpu++) {
		/*
		 * Running: the CPU we are on needs no visit (nothing else
		 * runs there now, and whatever ran there last was switched
		 * out).  Checking: a CPU we may run on needs no try.
		 */
		if (go ? (int)cpu == here : CPU_ISSET_S(cpu, all, old))
			continue;
		CPU_ZERO_S(size, one);
		CPU_SET_S(cpu, size, one);
		/* Returns on that CPU: the kernel migrates the calling
		 * thread before the call comes back. */
		if (sched_setaffinity(0, size, one) == 0)
			moved = true;
		else if (cpu_online(cpu))
			r = -EPERM;
	}
	if (moved && how == WALK_RETURN) {
		/* Back where the walk began before the priority drops: on
		 * the last CPU visited, busy with another task, a normal
		 * thread would wait out that task's slice to run again. */
		if (here >= 0 && (uint32_t)here < cpus) {
			CPU_ZERO_S(size, one);
			CPU_SET_S((uint32_t)here, size, one);
			(void)sched_setaffinity(0, size, one);
		}
		sched_setaffinity(0, all, old);
	}
	if (raised)
		(void)sched_setattr_self(&saved);
	return r;
}

/* Walks that failed, for fence_failed(). */
static uint64_t failures;

/* A walk's end: a failure counted. */
static int
fence_walked(int r)
{
	/* relaxed: a count for a later report, ordered with nothing. */
	if (r != 0)
		rd_fetch_add(&failures, 1, RD_RELAXED);
	return r;
}

int
fence_cpus(uint32_t cpus)
{
	return fence_walked(fence_walk(cpus, WALK_RETURN));
}

int
fence_cpus_stay(uint32_t cpus)
{
	return fence_walked(fence_walk(cpus, WALK_STAY));
}

uint64_t
fence_failed(void)
{
	return rd_load(&failures, RD_RELAXED);
}

bool
fence_cpus_reach(uint32_t cpus)
{
	return fence_walk(cpus, WALK_CHECK) == 0;
}
