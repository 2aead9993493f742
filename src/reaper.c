/*
 * reaper.c: the client processes that hold rows (holders), each watched
 * by a pidfd; their exits are reported through the callback given to
 * reaper_init(), so this file calls nothing above it.
 *
 * A row belongs to a process, not to a connection: a process may close
 * its socket and go on using its row.  The pidfd becomes readable when the
 * process has exited, i.e. when no thread of it can touch the row again,
 * which is what makes reclaiming its counts exact.  The start time from
 * /proc tells a process from a later one that reuses its pid (a restarted
 * daemon checks the owners recorded in the blocks).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "reaper.h"

struct holder {
	LIST_ENTRY(holder) entry;
	pid_t pid;
	int pidfd;
	uint64_t start;
	unsigned refs;		/* rows it holds */
	struct event *ev;
	char comm[16];
};

static LIST_HEAD(, holder) holders = LIST_HEAD_INITIALIZER(holders);
static struct event_base *base;
static reaper_exit_fn exit_cb;
static void *exit_arg;

void
reaper_init(struct event_base *b, reaper_exit_fn exited, void *arg)
{
	base = b;
	exit_cb = exited;
	exit_arg = arg;
}

/* The pidfd is readable: the process is gone. */
static void
reaper_exited(int fd, short events, void *arg)
{
	struct holder *p = arg;

	(void)fd;
	(void)events;
	log_debug("pid %ld (%s) exited", (long)p->pid, p->comm);
	p->refs++;		/* kept alive while its rows are reclaimed */
	exit_cb(p, exit_arg);
	reaper_put(p);
}

struct holder *
reaper_get(pid_t pid, uint64_t start, int *err)
{
	struct holder *p;
	uint64_t now;
	int r;

	/* No process has such an id: a row's owner field that a client
	 * scribbled over reads as a process gone, not as a fatal error. */
	if (pid <= 0) {
		*err = -ESRCH;
		return NULL;
	}
	/* By start time too: a record whose process exited (its pidfd not
	 * yet handled) must not take a new process that reuses the pid. */
	if (start == 0 && (r = task_start_time(pid, &start)) != 0) {
		*err = r;
		return NULL;
	}
	LIST_FOREACH(p, &holders, entry) {
		if (p->pid == pid && p->start == start) {
			p->refs++;
			return p;
		}
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	p->pid = pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0) {
		/* EINVAL (before Linux 6.9) or ENOENT: the id is now a
		 * thread's that leads no process; the process pinned by
		 * start time is gone either way. */
		*err = errno == EINVAL || errno == ENOENT ? -ESRCH : -errno;
		free(p);
		return NULL;
	}
	/*
	 * Read the start time after opening the pidfd: if it still matches,
	 * the pidfd refers to that process (a pid is reused only once its
	 * process has been reaped, and then /proc shows the new one).
	 */
	if ((r = task_start_time(pid, &now)) != 0 || now != start) {
		*err = r != 0 ? r : -ESRCH;
		close(p->pidfd);
		free(p);
		return NULL;
	}
	p->start = now;
	proc_comm(pid, p->comm, sizeof(p->comm));
	p->ev = event_new(base, p->pidfd, EV_READ, reaper_exited, p);
	if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
		*err = -ENOMEM;
		if (p->ev != NULL)
			event_free(p->ev);
		close(p->pidfd);
		free(p);
		return NULL;
	}
	p->refs = 1;
	LIST_INSERT_HEAD(&holders, p, entry);
	return p;
}

void
reaper_put(struct holder *p)
{
	if (--p->refs > 0)
		return;
	LIST_REMOVE(p, entry);
	event_free(p->ev);
	close(p->pidfd);
	free(p);
}

pid_t
reaper_pid(const struct holder *p)
{
	return p->pid;
}

const char *
reaper_comm(const struct holder *p)
{
	return p->comm;
}

uint64_t
reaper_start(const struct holder *p)
{
	return p->start;
}
