/* clock.h: CLOCK_MONOTONIC in the two forms the daemon's timing takes. */
#ifndef RUNDOWND_CLOCK_H
#define RUNDOWND_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Now, in nanoseconds. */
static inline uint64_t
clock_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Nanoseconds since t, a time CLOCK_MONOTONIC gave. */
static inline long long
clock_ns_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000000000 +
	    (now.tv_nsec - t->tv_nsec);
}

#endif /* RUNDOWND_CLOCK_H */
