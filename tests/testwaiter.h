/*
 * testwaiter.h: a thread that waits for run-down, for the suites of both
 * references (rundown_ref_t and rundown_cache_t).
 *
 * A test starts a waiter, checks that it has not returned while a
 * protection is held (done), releases, and joins it: its wait must then
 * have returned 0.
 */
#ifndef RUNDOWN_TESTWAITER_H
#define RUNDOWN_TESTWAITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <rundown/rundown.h>

/* How a waiter thread waits. */
enum waiter_mode {
	WAITER_WAIT,		/* rundown_wait(), rundown_cache_wait() */
	WAITER_NULL,		/* ..._wait_timeout(ref, NULL) */
	WAITER_LONG		/* ..._wait_timeout() with 30 s */
};

struct waiter {
	pthread_t	 thread;
	rundown_ref_t	*ref;	/* the reference waited on, or NULL ... */
	rundown_cache_t	*cache;	/* ... and the block waited on instead */
	enum waiter_mode mode;
	int		 rc;
	atomic_bool	 done;	/* set after the wait returned */
};

/* Starts a thread that waits on the plain reference r. */
void waiter_start_ref(struct waiter *w, rundown_ref_t *r,
    enum waiter_mode mode);

/* Starts a thread that waits on the cache-aware block r. */
void waiter_start_cache(struct waiter *w, rundown_cache_t *r,
    enum waiter_mode mode);

/* Joins a waiter and asserts that its wait returned 0. */
void waiter_join(struct waiter *w);

#endif /* RUNDOWN_TESTWAITER_H */
