/*
 * benchinline.c: the library's cache-aware pair inline in the caller.
 *
 * The one file of the benchmarks built with RUNDOWN_INLINE, so that
 * rundown_cache_acquire() and rundown_cache_release() below are
 * <rundown/inline.h>'s static inline functions (the restartable sequence
 * in this loop), where the rest of bench_rundown and bench_shared call the
 * library's exported functions.  Both programs time it beside those.
 */
#include "config.h"

#define RUNDOWN_INLINE
#include <rundown/rundown.h>

#include "benchutil.h"

/* One pair, inline: false if the acquire was refused. */
static inline __attribute__((always_inline)) bool
pair_inline(void *p)
{
	if (!rundown_cache_acquire(p))
		return false;
	rundown_cache_release(p);
	return true;
}

BENCH_LOOP(bench_loop_inline, pair_inline)

/* True if the inline pair runs the sequence here (else it is a call). */
bool
bench_inline_runs(void)
{
	return RUNDOWN_RSEQ_CS;
}
