/* deadline.c: absolute CLOCK_MONOTONIC deadlines (deadline.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include "deadline.h"

#define NS 1000000000L

int
deadline_check(const struct timespec *timeout)
{
	if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
	    timeout->tv_nsec >= NS)
		return -EINVAL;
	return 0;
}

/* True if a is earlier than b. */
static bool
deadline_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Adds ns (under a second) to *t, carrying into the seconds. */
static void
deadline_add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	if (t->tv_nsec >= NS) {
		t->tv_sec++;
		t->tv_nsec -= NS;
	}
}

int
deadline_from(const struct timespec *timeout, struct timespec *deadline)
{
	if (deadline_check(timeout) != 0)
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, deadline);
	if (timeout->tv_sec > INT_MAX) {
		/* Far enough in the future to mean "never", and no overflow. */
		deadline->tv_sec += INT_MAX;
		return 0;
	}
	deadline->tv_sec += timeout->tv_sec;
	deadline_add_ns(deadline, timeout->tv_nsec);
	return 0;
}

struct timespec
deadline_cap(const struct timespec *deadline, long ms)
{
	struct timespec soon, rel = { ms / 1000, (ms % 1000) * 1000000L };

	deadline_from(&rel, &soon);
	if (deadline != NULL && deadline_before(deadline, &soon))
		return *deadline;
	return soon;
}

int
deadline_nap(const struct timespec *deadline, long ns, struct timespec *until)
{
	struct timespec now, t;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (deadline != NULL && !deadline_before(&now, deadline))
		return -ETIMEDOUT;
	t = now;
	deadline_add_ns(&t, ns);
	if (deadline != NULL && deadline_before(deadline, &t))
		t = *deadline;
	*until = t;
	return 0;
}

bool
deadline_passed(const struct timespec *deadline)
{
	struct timespec now;

	if (deadline == NULL)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return !deadline_before(&now, deadline);
}

int64_t
deadline_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}
