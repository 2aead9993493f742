/* futex.c: sleeping on a 32-bit word, across processes. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "futex.h"

int
futex_wait(uint32_t *word, uint32_t expected, const struct timespec *deadline)
{
	long r;

	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
	 * caller that loops after spurious wakes never stretches its timeout. */
	r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline,
	    NULL, FUTEX_BITSET_MATCH_ANY);
	if (r == -1 && (errno == ETIMEDOUT || errno == EAGAIN ||
	    errno == EFAULT))
		return -errno;
	return 0;	/* woken, or EINTR */
}

void
futex_wake_all(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int
deadline_from(const struct timespec *timeout, struct timespec *deadline)
{
	if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
	    timeout->tv_nsec >= 1000000000L)
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, deadline);
	if (timeout->tv_sec > INT_MAX) {
		/* Far enough in the future to mean "never", and no overflow. */
		deadline->tv_sec += INT_MAX;
		return 0;
	}
	deadline->tv_sec += timeout->tv_sec;
	deadline->tv_nsec += timeout->tv_nsec;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
	return 0;
}

struct timespec
deadline_cap(const struct timespec *deadline, long ms)
{
	struct timespec soon, rel = { ms / 1000, (ms % 1000) * 1000000L };

	deadline_from(&rel, &soon);
	if (deadline != NULL && (deadline->tv_sec < soon.tv_sec ||
	    (deadline->tv_sec == soon.tv_sec &&
	    deadline->tv_nsec < soon.tv_nsec)))
		return *deadline;
	return soon;
}

bool
deadline_passed(const struct timespec *deadline)
{
	struct timespec now;

	if (deadline == NULL)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}
