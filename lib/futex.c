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
