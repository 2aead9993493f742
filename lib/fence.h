/*
 * fence.h: making every rseq critical section that read a state word
 * before it changed either commit or restart (see rseq.h).
 *
 * Run-down changes the block's state word, then fences, then reads the
 * per-CPU words the sections add to.  Two fences, for two reaches:
 *
 *   fence_private  membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ): the
 *                  kernel interrupts every CPU that runs a thread of this
 *                  process, which restarts a section in progress there
 *                  and orders what the CPU did before.  Threads not
 *                  running restart on their way back in.  Reaches this
 *                  process only.
 *   fence_cpus     the calling thread runs once on every CPU that a block
 *                  of cpus slots has a slot for.  Whatever ran on a CPU
 *                  was switched out for it, so a section it was in
 *                  restarts when it runs again, and the context switch
 *                  orders what that CPU did before.  Reaches every process
 *                  (blocks in shared memory), at a cost of one migration
 *                  per CPU, and only CPUs the thread is allowed on.
 *
 * A stopped or frozen process costs neither fence anything: its threads
 * are not running, and each restarts its section when it runs again.
 */
#ifndef RUNDOWN_FENCE_H
#define RUNDOWN_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rseq fence for this process: 0, or -errno if the kernel has none
 * (before 5.10, or refused by a seccomp filter). */
int fence_private(void);

/* Registers this process for fence_private(), once: true if it can be
 * used.  Called before any descriptor lets its threads commit in rseq. */
bool fence_private_ready(void);

/*
 * Runs the calling thread once on each online CPU below cpus, then puts
 * its affinity and its scheduling attributes back: 0 if every section was
 * fenced; -EPERM if some online CPU below cpus is outside what the thread
 * may run on (cgroup cpuset, affinity), whose sections are then not
 * fenced; or another -errno if the walk could not begin.  Anything but 0
 * is a fence that did not happen: nothing may be harvested after it.
 * The walk allocates nothing.  It runs at SCHED_FIFO 1, or at the
 * caller's own real-time priority if higher (fence.c, walk_raise()).
 */
int fence_cpus(uint32_t cpus);

/* fence_cpus() for a thread that does nothing but walk: at the thread's
 * own priority (which it should make SCHED_FIFO once, where it may), and
 * it stays on the last CPU it visits, pinned there.  One migration a CPU
 * and no other system call: the way back, the affinity and the priority
 * put back are what make fence_cpus() dear. */
int fence_cpus_stay(uint32_t cpus);

/* True if [p, p + len) is private anonymous memory of this process, which
 * no other process can see, every page of it (/proc/self/maps): then
 * fence_private() reaches every thread that can use it.  False when in
 * doubt. */
bool fence_memory_private(const void *p, size_t len);

/* How many fence_cpus() and fence_cpus_stay() walks of this process
 * failed so far (missed an online CPU, or could not begin): rundownd
 * reports it, and stops offering the rseq path. */
uint64_t fence_failed(void);

/* struct sched_attr of sched_setattr(2): <linux/sched/types.h> cannot be
 * included beside <sched.h> (both define struct sched_param). */
struct sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};
#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#define SCHED_FLAG_RESET_ON_FORK 0x01

/* The calling thread's scheduling attributes, as the kernel has them
 * (glibc's pthread_getschedparam() answers what it cached): 0 or -errno. */
int sched_getattr_self(struct sched_attr *a);
int sched_setattr_self(const struct sched_attr *a);

/* Tests: while nonzero, every walk fails with it before it begins. */
extern int rd_test_fence_error;

/* True if this thread may run on every online CPU below cpus, which
 * fence_cpus() needs. */
bool fence_cpus_reach(uint32_t cpus);

#endif /* RUNDOWN_FENCE_H */
