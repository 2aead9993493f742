/* proc.h: what /proc tells about a process.  Depends on nothing else of
 * the daemon, so the transport and the reaper can both use it. */
#ifndef RUNDOWND_PROC_H
#define RUNDOWND_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The start time of pid (clock ticks since boot): 0, -ESRCH if no such
 * process, or another -errno. */
int proc_start_time(pid_t pid, uint64_t *start);

/* The command name of pid into buf, or "?" if it cannot be read. */
void proc_comm(pid_t pid, char *buf, size_t size);

#endif /* RUNDOWND_PROC_H */
