/*
 * reaper.c: the client processes that hold rows, each watched by a pidfd.
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
#include "rundownd.h"

struct proc {
	LIST_ENTRY(proc) entry;
	pid_t pid;
	int pidfd;
	uint64_t start;
	unsigned refs;		/* rows it holds */
	struct event *ev;
	char comm[16];
};

static LIST_HEAD(, proc) procs = LIST_HEAD_INITIALIZER(procs);

int
proc_start_time(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* Field 22 (starttime); the command name in field 2 may hold
	 * spaces and parentheses, so count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -EPROTO;
	for (i = 2; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &v) != 1)
		return -EPROTO;
	*start = v;
	return 0;
}

/* The command name, for logs and status. */
static void
proc_read_comm(struct proc *p)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(p->comm, sizeof(p->comm), "?");
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)p->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, p->comm, sizeof(p->comm) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(p->comm, sizeof(p->comm), "?");
		return;
	}
	p->comm[n] = '\0';
	p->comm[strcspn(p->comm, "\n")] = '\0';
}

/* The pidfd is readable: the process is gone. */
static void
proc_exited(int fd, short events, void *arg)
{
	struct proc *p = arg;

	(void)fd;
	(void)events;
	log_debug("pid %ld (%s) exited", (long)p->pid, p->comm);
	p->refs++;		/* kept alive while its rows are reclaimed */
	registry_proc_exited(p);
	proc_put(p);
}

struct proc *
proc_get(pid_t pid, uint64_t start, int *err)
{
	struct proc *p;
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
	if (start == 0 && (r = proc_start_time(pid, &start)) != 0) {
		*err = r;
		return NULL;
	}
	LIST_FOREACH(p, &procs, entry) {
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
		*err = -errno;
		free(p);
		return NULL;
	}
	/*
	 * Read the start time after opening the pidfd: if it still matches,
	 * the pidfd refers to that process (a pid is reused only once its
	 * process has been reaped, and then /proc shows the new one).
	 */
	if ((r = proc_start_time(pid, &now)) != 0 || now != start) {
		*err = r != 0 ? r : -ESRCH;
		close(p->pidfd);
		free(p);
		return NULL;
	}
	p->start = now;
	proc_read_comm(p);
	p->ev = event_new(base, p->pidfd, EV_READ, proc_exited, p);
	if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
		*err = -ENOMEM;
		if (p->ev != NULL)
			event_free(p->ev);
		close(p->pidfd);
		free(p);
		return NULL;
	}
	p->refs = 1;
	LIST_INSERT_HEAD(&procs, p, entry);
	return p;
}

void
proc_put(struct proc *p)
{
	if (--p->refs > 0)
		return;
	LIST_REMOVE(p, entry);
	event_free(p->ev);
	close(p->pidfd);
	free(p);
}

pid_t
proc_pid(const struct proc *p)
{
	return p->pid;
}

const char *
proc_comm(const struct proc *p)
{
	return p->comm;
}

uint64_t
proc_start(const struct proc *p)
{
	return p->start;
}
