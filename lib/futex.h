/*
 * futex.h: sleeping on a 32-bit word, across processes.
 *
 * The futexes are shared (no FUTEX_PRIVATE_FLAG): the words may sit in a
 * mapping that several processes share, and a wake in one process must
 * reach a waiter in another.  Callers re-check their condition after every
 * return; a return says only that it is worth looking again.
 */
#ifndef RUNDOWN_FUTEX_H
#define RUNDOWN_FUTEX_H

#include <stdint.h>
#include <time.h>

/* The deadline futex_wait() takes; deadline.h also serves this header's
 * callers that include it for the deadline helpers. */
#include "deadline.h"

/*
 * Sleeps while *word == expected, until woken or until deadline (absolute
 * CLOCK_MONOTONIC; NULL: no deadline).  Returns 0 (woken, or interrupted),
 * -EAGAIN (the word did not hold expected), -EFAULT (no word mapped
 * there, or past the end of its object: the kernel's read fails where
 * the caller's own load would fault) or -ETIMEDOUT.
 */
int futex_wait(uint32_t *word, uint32_t expected,
    const struct timespec *deadline);

/* Wakes every waiter sleeping on word. */
void futex_wake_all(uint32_t *word);

#endif /* RUNDOWN_FUTEX_H */
