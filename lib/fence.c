/* fence.c: the fences that end rseq critical sections (see fence.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
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

bool
fence_memory_private(const void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t first, last, at;
	uint64_t e;
	int fd;
	bool priv = true;

	if (page <= 0 || len == 0)
		return false;
	first = (uintptr_t)p / (uintptr_t)page;
	last = ((uintptr_t)p + len - 1) / (uintptr_t)page;
	/* Opened each time: /proc/self is resolved at open, and a
	 * descriptor kept across fork() would read the parent's. */
	if ((fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	/*
	 * One 64-bit entry per page (Documentation/admin-guide/mm/
	 * pagemap.rst): bit 63 present, bit 62 swapped, bit 61 "file page
	 * or shared anonymous".  A present page without bit 61 is private
	 * anonymous memory (heap, stack, or a private mapping written to):
	 * no other process can see it (after fork() each writer gets its
	 * own copy).  Anything else, or nothing read, counts as shared.
	 * The first and the last page: a buffer lies in one mapping.
	 */
	for (at = first; priv; at = last) {
		if (pread(fd, &e, sizeof(e), (off_t)(at * sizeof(e))) !=
		    (ssize_t)sizeof(e) || !(e >> 63 & 1) || (e >> 62 & 1) ||
		    (e >> 61 & 1))
			priv = false;
		if (at == last)
			break;
	}
	close(fd);
	return priv;
}

/* Room for the affinity of any machine the block layout allows. */
#define FENCE_MAX_CPUS 4096u

/* What fence_walk() does. */
enum walk {
	WALK_CHECK,		/* only checks that each CPU may be reached */
	WALK_RETURN,		/* runs on each, then back as it was */
	WALK_STAY		/* runs on each, and stays where it ended */
};

/* Walks the CPUs below cpus as how says: 0, -EPERM (an online CPU out of
 * reach) or -errno. */
static int
fence_walk(uint32_t cpus, enum walk how)
{
	size_t size = CPU_ALLOC_SIZE(cpus), all = CPU_ALLOC_SIZE(FENCE_MAX_CPUS);
	struct sched_param param, rt = { .sched_priority = 1 };
	cpu_set_t *old, *one;
	int here = sched_getcpu(), r = 0, policy;
	bool moved = false, raised = false, go = how != WALK_CHECK;
	uint32_t cpu;

	old = CPU_ALLOC(FENCE_MAX_CPUS);
	one = CPU_ALLOC(cpus);
	if (old == NULL || one == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (how != WALK_STAY && sched_getaffinity(0, all, old) != 0) {
		r = -errno;
		goto out;
	}
	/*
	 * A thread that arrives on a CPU at normal priority waits for the
	 * task running there to use up its slice (a tick, milliseconds, on a
	 * CPU kept busy); a real-time one preempts it at once.  So the walk
	 * runs at the lowest real-time priority where that is allowed
	 * (CAP_SYS_NICE, or RLIMIT_RTPRIO: rundownd.service sets
	 * LimitRTPRIO=), for the few microseconds it takes.
	 */
	if (how == WALK_RETURN &&
	    pthread_getschedparam(pthread_self(), &policy, &param) == 0 &&
	    policy != SCHED_FIFO && policy != SCHED_RR)
		raised = pthread_setschedparam(pthread_self(), SCHED_FIFO,
		    &rt) == 0;
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
		pthread_setschedparam(pthread_self(), policy, &param);
out:
	CPU_FREE(old);
	CPU_FREE(one);
	return r;
}

/* Walks that missed an online CPU, for fence_missed(). */
static uint64_t misses;

/* A walk's end: misses counted. */
static int
fence_walked(int r)
{
	/* relaxed: a count for a later report, ordered with nothing. */
	if (r == -EPERM)
		rd_fetch_add(&misses, 1, RD_RELAXED);
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
fence_missed(void)
{
	return rd_load(&misses, RD_RELAXED);
}

bool
fence_cpus_reach(uint32_t cpus)
{
	return fence_walk(cpus, WALK_CHECK) == 0;
}
