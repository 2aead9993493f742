/*
 * watcher.c: the drain watchers.  The loop never blocks, so a thread
 * sleeps on a shared word (the futex of a block's row not yet drained)
 * and, when the word moves off the value it was armed with, says so
 * through a pipe; the loop then joins the thread and calls the owner's
 * callback.
 *
 * A watcher's life: NONE (no thread) -> RUNNING (armed) -> EXITED (the
 * thread is done, not yet joined) -> NONE (joined on the loop).  Only the
 * loop's thread starts and joins; the watcher thread only stores EXITED.
 *
 * The word lies in memory that clients write, so nothing here may wait
 * on it unboundedly: a client can change the word without the futex
 * wake, and the thread then sleeps on.  Nor does the thread ever load
 * the word itself: only the kernel reads it, in futex_wait(), which
 * answers -EFAULT where a load would fault (a row object its client cut
 * short, a row the loop has unmapped), so that every fault in a block
 * happens on the loop's thread (src/guard.c).  The loop therefore never joins a
 * thread that has not said EXITED; watcher_free() of a running watcher
 * asks the thread to stop (stop flag, then a wake, and the thread looks
 * at the flag at least every WATCH_RECHECK_S seconds in case the wake
 * fell between its look and its sleep), and the owner's release
 * callback, which unmaps the word, runs only once the thread has gone.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <sys/queue.h>
#include <unistd.h>

#include "atomics.h"
#include "futex.h"
#include "log.h"
#include "watcher.h"

/* glibc's sys/queue.h lacks the _SAFE forms. */
#ifndef LIST_FOREACH_SAFE
#define LIST_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = LIST_FIRST(head);					\
	    (var) != NULL && ((tvar) = LIST_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define WATCH_NONE 0u
#define WATCH_RUNNING 1u
#define WATCH_EXITED 2u

#define WATCH_RECHECK_S 1	/* a stopping thread's longest sleep */

struct watcher {
	LIST_ENTRY(watcher) entry;
	uint32_t *word;
	const char *name;	/* for logs */
	uint32_t value;		/* the thread sleeps while *word == value */
	watcher_fn cb;
	void *arg;
	pthread_t thread;
	uint32_t run;		/* WATCH_*, atomic */
	uint32_t stop;		/* atomic: the owner let go (watcher_free) */
	uint32_t kick;		/* atomic: look again (watcher_kick) */
	watcher_fn release;	/* then: called once the thread has gone */
	void *release_arg;
	struct event *retry;	/* no thread could be started */
};

static LIST_HEAD(, watcher) watchers = LIST_HEAD_INITIALIZER(watchers);
static struct event_base *base;
static int notify_pipe[2] = { -1, -1 };
static struct event *notify_ev;

/* The thread: sleeps until the word leaves the value it was armed with. */
static void *
watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct timespec until;
	char c = 1;
	int r;

	pthread_setname_np(pthread_self(), WATCHER_THREAD_NAME);

	/*
	 * The release that drains a row wakes the row's futex, and
	 * futex_wait returns -EAGAIN at once if the word no longer holds the
	 * value, so this cannot sleep through a drain that block.c makes; a
	 * plain wake (0) is looked at again by the next call.  -EFAULT: the
	 * word is gone (its row unmapped or cut short), and the loop must
	 * look.  acquire on stop and kick: pairs with the release stores in
	 * watcher_free() and watcher_kick(), which wake after them, so a
	 * thread that missed the flag is woken, or wakes within
	 * WATCH_RECHECK_S.
	 */
	while (!rd_load(&w->stop, RD_ACQUIRE) &&
	    !rd_load(&w->kick, RD_ACQUIRE)) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += WATCH_RECHECK_S;
		r = futex_wait(w->word, w->value, &until);
		if (r == -EAGAIN || r == -EFAULT)
			break;
	}
	/* release: the loop that reads WATCH_EXITED may join at once. */
	rd_store(&w->run, WATCH_EXITED, RD_RELEASE);
	if (write(notify_pipe[1], &c, 1) < 0) {
		/* Full pipe: a wake-up is already pending; the loop scans
		 * every watcher when it drains the pipe. */
	}
	return NULL;
}

/* Joins a thread that has finished. */
static void
watcher_join(struct watcher *w)
{
	if (rd_load(&w->run, RD_ACQUIRE) == WATCH_NONE)
		return;
	pthread_join(w->thread, NULL);
	rd_store(&w->run, WATCH_NONE, RD_RELAXED);
}

/* The owner let go and the thread has gone: the owner may unmap. */
static void
watcher_release(struct watcher *w)
{
	LIST_REMOVE(w, entry);
	event_free(w->retry);
	w->release(w->release_arg);
	free(w);
}

/* Some thread said its word changed: join the finished ones and call
 * their owners back. */
static void
watcher_notified(int fd, short events, void *arg)
{
	struct watcher *w, *next;
	char buf[64];

	(void)events;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	LIST_FOREACH_SAFE(w, &watchers, entry, next) {
		if (rd_load(&w->run, RD_ACQUIRE) != WATCH_EXITED)
			continue;
		watcher_join(w);
		if (w->release != NULL)
			watcher_release(w);
		else
			w->cb(w->arg);
	}
}

/* A thread could not be started: the owner looks again (and re-arms). */
static void
watcher_retry(int fd, short events, void *arg)
{
	struct watcher *w = arg;

	(void)fd;
	(void)events;
	w->cb(w->arg);
}

void
watcher_init(struct event_base *b)
{
	base = b;
	if (pipe2(notify_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("pipe");
	notify_ev = event_new(base, notify_pipe[0], EV_READ | EV_PERSIST,
	    watcher_notified, NULL);
	if (notify_ev == NULL || event_add(notify_ev, NULL) != 0)
		fatalx("cannot watch the notify pipe");
}

void
watcher_shutdown(void)
{
	struct watcher *w;

	/* Every thread still asleep is told to stop and woken; each looks
	 * at its stop flag at least every WATCH_RECHECK_S, so joining them
	 * all takes that long at most, whatever clients wrote into the
	 * words (which stay mapped until the process exits).  release: as
	 * in watcher_free(). */
	LIST_FOREACH(w, &watchers, entry) {
		if (rd_load(&w->run, RD_ACQUIRE) == WATCH_RUNNING) {
			rd_store(&w->stop, 1, RD_RELEASE);
			futex_wake_all(w->word);
		}
	}
	LIST_FOREACH(w, &watchers, entry)
		watcher_join(w);
}

struct watcher *
watcher_new(const char *name, watcher_fn cb, void *arg)
{
	struct watcher *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->name = name;
	w->cb = cb;
	w->arg = arg;
	if ((w->retry = evtimer_new(base, watcher_retry, w)) == NULL) {
		free(w);
		return NULL;
	}
	LIST_INSERT_HEAD(&watchers, w, entry);
	return w;
}

void
watcher_arm(struct watcher *w, const uint32_t *word, uint32_t value)
{
	pthread_attr_t attr;
	int r;

	if (w->release != NULL || rd_load(&w->run, RD_ACQUIRE) != WATCH_NONE)
		return;
	/* The thread only reads the word; futex_wait takes it unqualified.
	 * Written before the thread starts, read by it after. */
	w->word = (uint32_t *)(uintptr_t)word;
	w->value = value;
	rd_store(&w->kick, 0, RD_RELAXED);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	rd_store(&w->run, WATCH_RUNNING, RD_RELAXED);
	r = pthread_create(&w->thread, &attr, watcher_main, w);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		/* Try again shortly rather than miss a change that only a
		 * thread would see. */
		struct timeval tv = { 0, 100 * 1000 };

		rd_store(&w->run, WATCH_NONE, RD_RELAXED);
		errno = r;
		log_warn("%s: cannot start a drain watcher; retrying", w->name);
		evtimer_add(w->retry, &tv);
	}
}

void
watcher_kick(struct watcher *w, const void *from, size_t len)
{
	uintptr_t a = (uintptr_t)w->word;

	if (w->release != NULL || rd_load(&w->run, RD_ACQUIRE) != WATCH_RUNNING ||
	    a < (uintptr_t)from || a - (uintptr_t)from >= len)
		return;
	/* release: see watcher_main().  The wake comes while the word is
	 * still mapped as it was, so it reaches a thread asleep on it. */
	rd_store(&w->kick, 1, RD_RELEASE);
	futex_wake_all(w->word);
}

/* The release of a watcher whose owner needs none. */
static void
watcher_nothing(void *arg)
{
	(void)arg;
}

void
watcher_free(struct watcher *w, watcher_fn release, void *arg)
{
	evtimer_del(w->retry);
	w->release = release != NULL ? release : watcher_nothing;
	w->release_arg = arg;
	switch (rd_load(&w->run, RD_ACQUIRE)) {
	case WATCH_RUNNING:
		/* release: the thread that sees stop leaves at once.  The
		 * wake ends its sleep now; should it fall just before the
		 * sleep begins, the sleep ends by itself within
		 * WATCH_RECHECK_S.  watcher_notified() releases. */
		rd_store(&w->stop, 1, RD_RELEASE);
		futex_wake_all(w->word);
		return;
	case WATCH_EXITED:
		watcher_join(w);
		break;
	}
	watcher_release(w);
}
