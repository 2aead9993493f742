/*
 * rseq.h: what the library adds to the restartable sequence of
 * <rundown/inline.h>, which is its one home (the sequence, its section
 * tables, RUNDOWN_RSEQ_CS, the descriptor's first fields).
 *
 * Here: the calling thread's rseq area, for the atomic path's CPU number
 * and the tests.  glibc registers an area for every thread when it can;
 * where it cannot (old kernel, valgrind, glibc.pthread.rseq=0) the area is
 * still part of the thread's control block and its cpu_id reads negative.
 */
#ifndef RUNDOWN_RSEQ_H
#define RUNDOWN_RSEQ_H

#include <rundown/inline.h>

#ifdef HAVE_RSEQ_AREA
#include <sys/rseq.h>

/* This thread's rseq area (glibc's, registered or not). */
static inline __attribute__((always_inline)) struct rseq *
rd_rseq_area(void)
{
	return (struct rseq *)(void *)((char *)__builtin_thread_pointer() +
	    __rseq_offset);
}
#endif

#endif /* RUNDOWN_RSEQ_H */
