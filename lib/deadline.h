/*
 * deadline.h: absolute CLOCK_MONOTONIC deadlines, and the timespec
 * arithmetic every wait of the library does on them.
 *
 * A wait is handed a relative timeout once, turns it into a deadline,
 * and from then on compares and caps against that: a caller that loops
 * after spurious wakes never stretches its timeout.  NULL as a deadline
 * means none.
 */
#ifndef RUNDOWN_DEADLINE_H
#define RUNDOWN_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* 0 if timeout is a relative timeout a wait takes (no negative part,
 * nanoseconds under a second), else -EINVAL. */
int deadline_check(const struct timespec *timeout);

/*
 * Turns a relative timeout into an absolute CLOCK_MONOTONIC deadline.
 * Returns 0, or -EINVAL for a negative or malformed timeout.
 */
int deadline_from(const struct timespec *timeout, struct timespec *deadline);

/* The earlier of deadline (may be NULL: none) and now + ms milliseconds. */
struct timespec deadline_cap(const struct timespec *deadline, long ms);

/*
 * A nap of ns nanoseconds (under a second), never past deadline (may be
 * NULL): *until gets the earlier of now + ns and deadline.  0, or
 * -ETIMEDOUT (*until untouched) if the deadline has passed.
 */
int deadline_nap(const struct timespec *deadline, long ns,
    struct timespec *until);

/* True once the deadline has passed. */
bool deadline_passed(const struct timespec *deadline);

/* Milliseconds from now to deadline, rounded toward zero (<= 0: it has
 * passed). */
int64_t deadline_ms_left(const struct timespec *deadline);

#endif /* RUNDOWN_DEADLINE_H */
