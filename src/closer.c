/*
 * closer.c: lanes of close(), one per uid, off the event loop (closer.h).
 *
 * The loop's thread queues; a lane's thread pops and closes.  All lane
 * state is under one mutex, held only to queue or pop, never across a
 * close(), so a close that waits holds up nobody but its own lane.  A
 * lane's thread is detached and exits once its queue is empty, and the
 * lane with it: an idle daemon has no such thread, and a uid's lane lives
 * only while that uid's closes are under way.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <unistd.h>

#include "closer.h"
#include "log.h"

/* A lane's thread only calls close(): a small stack is plenty. */
#define CLOSER_STACK (64 * 1024)

struct lane {
	LIST_ENTRY(lane) entry;
	uid_t uid;
	int *fds;		/* a ring of size cap */
	size_t head, count, cap;
	unsigned long pending;	/* queued, and the one being closed */
	int running;		/* a thread serves it */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, lane) lanes = LIST_HEAD_INITIALIZER(lanes);
static unsigned long pending_all;

static struct lane *
closer_find(uid_t uid)
{
	struct lane *l;

	LIST_FOREACH(l, &lanes, entry)
		if (l->uid == uid)
			return l;
	return NULL;
}

/* Appends fd to l's ring, growing it; -ENOMEM if it cannot. */
static int
closer_push(struct lane *l, int fd)
{
	size_t i, cap;
	int *fds;

	if (l->count == l->cap) {
		cap = l->cap > 0 ? l->cap * 2 : 16;
		if ((fds = malloc(cap * sizeof(*fds))) == NULL)
			return -ENOMEM;
		for (i = 0; i < l->count; i++)
			fds[i] = l->fds[(l->head + i) % l->cap];
		free(l->fds);
		l->fds = fds;
		l->cap = cap;
		l->head = 0;
	}
	l->fds[(l->head + l->count) % l->cap] = fd;
	l->count++;
	l->pending++;
	pending_all++;
	return 0;
}

static void *
closer_main(void *arg)
{
	struct lane *l = arg;
	int fd;

	pthread_setname_np(pthread_self(), "rd-close");
	pthread_mutex_lock(&lock);
	while (l->count > 0) {
		fd = l->fds[l->head];
		l->head = (l->head + 1) % l->cap;
		l->count--;
		pthread_mutex_unlock(&lock);
		close(fd);	/* may wait as long as the peer chose */
		pthread_mutex_lock(&lock);
		l->pending--;
		pending_all--;
	}
	LIST_REMOVE(l, entry);
	pthread_mutex_unlock(&lock);
	free(l->fds);
	free(l);
	return NULL;
}

/* Starts l's thread; the lock is held. */
static void
closer_start(struct lane *l)
{
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if ((err = pthread_attr_init(&attr)) != 0)
		goto fail;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, CLOSER_STACK);
	err = pthread_create(&t, &attr, closer_main, l);
	pthread_attr_destroy(&attr);
	if (err == 0) {
		l->running = 1;
		return;
	}
fail:
	/* The descriptors stay queued (they are counted as pending, so the
	 * server's limits see them); the next close of this uid retries. */
	errno = err;
	log_warn("uid %lu: cannot start a closing thread; %lu descriptors "
	    "wait", (unsigned long)l->uid, l->pending);
}

void
closer_close(uid_t uid, int fd)
{
	struct lane *l;

	pthread_mutex_lock(&lock);
	if ((l = closer_find(uid)) == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			goto fail;
		l->uid = uid;
		LIST_INSERT_HEAD(&lanes, l, entry);
	}
	if (closer_push(l, fd) != 0)
		goto fail;
	if (!l->running)
		closer_start(l);
	pthread_mutex_unlock(&lock);
	return;
fail:
	pthread_mutex_unlock(&lock);
	/* Out of memory: leaking one descriptor is better than a loop that
	 * may wait for as long as a peer wishes. */
	log_warnx("uid %lu: out of memory for closing a descriptor; %d left "
	    "open", (unsigned long)uid, fd);
}

unsigned long
closer_pending(uid_t uid)
{
	struct lane *l;
	unsigned long n;

	pthread_mutex_lock(&lock);
	n = (l = closer_find(uid)) != NULL ? l->pending : 0;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned long
closer_pending_all(void)
{
	unsigned long n;

	pthread_mutex_lock(&lock);
	n = pending_all;
	pthread_mutex_unlock(&lock);
	return n;
}
