/* testwaiter.c: a thread that waits for run-down (see testwaiter.h). */
#include "config.h"

#include <time.h>

#include "testutil.h"
#include "testwaiter.h"

/* The plain reference's wait in the waiter's mode. */
static int
waiter_wait_ref(struct waiter *w, const struct timespec *ts)
{
	switch (w->mode) {
	case WAITER_WAIT:
		return rundown_wait(w->ref);
	case WAITER_NULL:
		return rundown_wait_timeout(w->ref, NULL);
	case WAITER_LONG:
		return rundown_wait_timeout(w->ref, ts);
	}
	return -1;
}

/* The cache-aware block's wait in the waiter's mode. */
static int
waiter_wait_cache(struct waiter *w, const struct timespec *ts)
{
	switch (w->mode) {
	case WAITER_WAIT:
		return rundown_cache_wait(w->cache);
	case WAITER_NULL:
		return rundown_cache_wait_timeout(w->cache, NULL);
	case WAITER_LONG:
		return rundown_cache_wait_timeout(w->cache, ts);
	}
	return -1;
}

/* The thread: one wait, then done, which the test reads without a lock. */
static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct timespec ts = test_ms(30000);

	if (w->ref != NULL)
		w->rc = waiter_wait_ref(w, &ts);
	else
		w->rc = waiter_wait_cache(w, &ts);
	atomic_store(&w->done, true);
	return NULL;
}

/* Fills in the waiter and starts its thread. */
static void
waiter_start(struct waiter *w, rundown_ref_t *r, rundown_cache_t *c,
    enum waiter_mode mode)
{
	w->ref = r;
	w->cache = c;
	w->mode = mode;
	w->rc = -1;
	atomic_init(&w->done, false);
	ck_assert_int_eq(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

/* A waiter on the plain reference. */
void
waiter_start_ref(struct waiter *w, rundown_ref_t *r, enum waiter_mode mode)
{
	waiter_start(w, r, NULL, mode);
}

/* A waiter on the cache-aware block. */
void
waiter_start_cache(struct waiter *w, rundown_cache_t *r,
    enum waiter_mode mode)
{
	waiter_start(w, NULL, r, mode);
}

/* The wait must have returned, and returned 0. */
void
waiter_join(struct waiter *w)
{
	ck_assert_int_eq(pthread_join(w->thread, NULL), 0);
	ck_assert(atomic_load(&w->done));
	ck_assert_int_eq(w->rc, 0);
}
