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

/* Runs the calling thread once on each online CPU below cpus, then puts
 * its affinity back: 0, or -EPERM if some online CPU below cpus is outside
 * what the thread may run on (cgroup cpuset, affinity), whose sections
 * are then not fenced. */
int fence_cpus(uint32_t cpus);

/* fence_cpus() for a thread that does nothing but walk: at the thread's
 * own priority (which it should make SCHED_FIFO once, where it may), and
 * it stays on the last CPU it visits, pinned there.  One migration a CPU
 * and no other system call: the way back, the affinity and the priority
 * put back are what make fence_cpus() dear. */
int fence_cpus_stay(uint32_t cpus);

/* True if [p, p + len) is private memory of this process, which no other
 * process can see (/proc/self/pagemap, one read a page end): then
 * fence_private() reaches every thread that can use it.  False when in
 * doubt.  The pages must be present (written) already. */
bool fence_memory_private(const void *p, size_t len);

/* How many fence_cpus() walks of this process missed an online CPU so far:
 * rundownd reports it, and stops offering the rseq path. */
uint64_t fence_missed(void);

/* True if this thread may run on every online CPU below cpus, which
 * fence_cpus() needs. */
bool fence_cpus_reach(uint32_t cpus);

#endif /* RUNDOWN_FENCE_H */
