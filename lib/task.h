/*
 * task.h: what /proc tells of a task (a process, or one thread of it).
 * The start time tells a task from a later one that reuses its id: the
 * library's run-down lock and rundownd's holders both rely on it.
 */
#ifndef RUNDOWN_TASK_H
#define RUNDOWN_TASK_H

#include <stdint.h>
#include <sys/types.h>

/* The start time of task id (a pid, or a thread's tid; clock ticks since
 * boot): 0, -ESRCH if no such task is visible, or another -errno. */
int task_start_time(pid_t id, uint64_t *start);

#endif /* RUNDOWN_TASK_H */
