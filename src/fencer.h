/* fencer.h: the run-down's fence, on a thread of its own, so that the
 * event loop never waits on one (see fencer.c). */
#ifndef RUNDOWND_FENCER_H
#define RUNDOWND_FENCER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

/* The thread's name, as ps and /proc show it. */
#define FENCER_THREAD_NAME "rd-fence"

/* Called on the loop's thread: the fence asked for is done. */
/* A fence asked for is done: result is 0, or the walk failed (-errno,
 * fence.h), and nothing may be harvested. */
typedef void (*fencer_fn)(void *arg, int result);
/* Called on the loop's thread, once: a walk has not ended after
 * FENCER_FALLBACK_MS however high its priority went. */
typedef void (*fencer_stall_fn)(uint32_t ms);

/* A walk takes microseconds; one held up this long has a CPU that even
 * SCHED_FIFO 99 (FENCER_STEP_MS * 4 in) does not get. */
#define FENCER_FALLBACK_MS 250

struct fencer_job;

/* The notify pipe and the timer; once, before any fence (the thread
 * starts at the first).  stalled: see above. */
void fencer_init(struct event_base *base, fencer_stall_fn stalled);

/* Stops the thread (one stalled in a walk is left to the process's
 * exit); no callback runs after. */
void fencer_shutdown(void);

/*
 * Asks for the fence of a block of cpus slots, whose clients commit in
 * rseq sections: done(arg, result) is called on the loop once a walk that
 * began after this call has ended, with the walk's result.  NULL if out
 * of memory or threads (the caller fences where it is).
 */
struct fencer_job *fencer_submit(uint32_t cpus, fencer_fn done, void *arg);

/* done() will not be called for job (the block is gone, or started
 * again); job is freed by fencer.c. */
void fencer_cancel(struct fencer_job *job);

/*
 * True while a fence asked for in the last FENCER_SPIN_US is not yet
 * done: the loop then polls for events instead of sleeping (rundownd.c).
 * A walk of a machine at ease ends in tens of microseconds, less than a
 * sleeping CPU takes to wake, so the harvest follows at once; it is
 * the same loop, answering whatever comes meanwhile, and a walk held up
 * longer lets it sleep.
 */
#define FENCER_SPIN_US 200
bool fencer_spinning(void);

#endif /* RUNDOWND_FENCER_H */
