/* shared.h: control calls on an attached descriptor (shared.c). */
#ifndef RUNDOWN_SHARED_H
#define RUNDOWN_SHARED_H

#include <time.h>

#include <rundown/rundown.h>

/* rundown_cache_wait_timeout(), _completed() and _reinit() for a
 * descriptor from rundown_attach(): through the daemon. */
int shared_wait(rundown_cache_t *ref, const struct timespec *timeout);
int shared_completed(rundown_cache_t *ref);
int shared_reinit(rundown_cache_t *ref);

#endif /* RUNDOWN_SHARED_H */
