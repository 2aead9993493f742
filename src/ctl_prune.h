/* ctl_prune.h: rundownctl prune, what no daemon serves in /dev/shm. */
#ifndef RUNDOWN_CTL_PRUNE_H
#define RUNDOWN_CTL_PRUNE_H

#include <stdbool.h>

/*
 * Lists the objects of rundownd in /dev/shm that no live daemon serves,
 * only those named after socket unless it is NULL, and removes them if
 * yes, or if the user says so at a terminal (never asked with json).
 * The exit status, as rundownctl(1) gives it.
 */
int ctl_prune(const char *socket, bool yes, bool json);

#endif /* RUNDOWN_CTL_PRUNE_H */
