/* proc.h: what /proc tells about a process.  Depends on nothing else of
 * the daemon, so the transport and the reaper can both use it. */
#ifndef RUNDOWND_PROC_H
#define RUNDOWND_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "task.h"	/* and its start time: task_start_time() */

/* The command name of pid into buf, or "?" if it cannot be read. */
void proc_comm(pid_t pid, char *buf, size_t size);

#endif /* RUNDOWND_PROC_H */
