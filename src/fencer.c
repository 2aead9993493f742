/*
 * fencer.c: the run-down's fence, on a thread of its own.
 *
 * A block whose clients commit in rseq sections is started in three steps
 * (lib/block.h): the state word flips, a fence makes every section that
 * read the old word commit or restart, then the rows are harvested.  The
 * fence is a walk of one thread over every CPU (lib/fence.h), which waits
 * on each CPU for whatever runs there to give way: microseconds on a
 * machine at ease, and for as long as it likes under a real-time task
 * that never yields.  So the loop flips and harvests (registry.c), and
 * this thread walks in between: a stalled walk holds up the starts that
 * need it and nothing else; the loop goes on answering.
 *
 * Coalescing.  A walk takes every CPU from what runs there, a few
 * microseconds each time.  Every fence asked for before a walk begins
 * rides that walk, so starts that come while one walks share the next.
 * How often each user may ask is registry.c's budget (rundownd -f).
 *
 * A walk that does not end.  The walk runs at SCHED_FIFO 1 (below),
 * which preempts every ordinary task at once but waits behind a busy
 * real-time one.  While a walk is under way, or waits for this thread
 * (pinned where its last walk ended, it may wait behind such a task
 * before it begins), the loop looks every FENCER_STEP_MS, and each look
 * that finds it still so raises this thread a step (FIFO 2, 10, 50, 99,
 * as far as RLIMIT_RTPRIO or CAP_SYS_NICE allow): a walk stuck behind a
 * task of lower priority than the step preempts it at once.  The thread
 * drops back to its own priority when the walk ends.  A walk still stuck after
 * FENCER_FALLBACK_MS (behind FIFO 99, or unable to rise) is reported to
 * the caller once, which sends clients attaching from then on to the
 * atomic path, which needs no fence; the run-downs that wait for the walk
 * go on waiting (a wait never returns before every protection is
 * released), and `rundownctl status` shows how long.
 *
 * Threads.  The loop's thread submits, cancels, raises and calls back; the
 * fencer thread only walks.  Jobs pass between them under `lock`: queued
 * (submitted) -> walking (taken by a walk) -> done (walked; the loop is
 * told through a pipe).  A job's callback fields belong to the loop alone,
 * so cancelling one is a store the fencer never reads.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fence.h"
#include "fencer.h"
#include "log.h"

#define FENCER_STEP_MS 10

struct fencer_job {
	TAILQ_ENTRY(fencer_job) entry;
	uint32_t cpus;
	int result;		/* the walk's, once done */
	fencer_fn done;		/* NULL: cancelled (the loop's alone) */
	void *arg;
};
TAILQ_HEAD(fencer_jobs, fencer_job);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
/* Under lock. */
static struct fencer_jobs queued = TAILQ_HEAD_INITIALIZER(queued);
static struct fencer_jobs walking = TAILQ_HEAD_INITIALIZER(walking);
static struct fencer_jobs done = TAILQ_HEAD_INITIALIZER(done);
static bool stop;
static bool in_walk;		/* between the two halves of a walk */
static struct timespec walk_since;
static struct timespec queued_since;	/* the oldest job queued, untaken */
static unsigned level;		/* the walk raised to steps[level - 1] */

/* The loop's. */
static pthread_t thread;
static bool started;
static int notify_pipe[2] = { -1, -1 };
static struct event *notify_ev, *step_ev;
static fencer_stall_fn on_stall;
static bool stall_said;		/* on_stall called for this walk */
static struct timespec spin_since;	/* the last submit */
static unsigned out;		/* jobs submitted, not yet taken back */
static unsigned top = 4;	/* levels the thread may rise to (steps) */

static const int steps[] = { 2, 10, 50, 99 };
_Static_assert(sizeof(steps) / sizeof(steps[0]) == 4, "top's start");

/*
 * The thread: a walk for every batch of jobs.  It does nothing else, so
 * it takes SCHED_FIFO 1 once, where it may, and each walk leaves it
 * pinned to the CPU it ended on (fence_cpus_stay): a walk costs one
 * migration for each CPU but the one it wakes on, and no other system
 * call.  Woken there, it preempts what runs at once.
 */
static void *
fencer_main(void *arg)
{
	struct sched_param own = { .sched_priority = 1 };
	struct fencer_job *j;
	uint32_t cpus;
	int policy = SCHED_FIFO, r;
	char c = 1;

	(void)arg;
	pthread_setname_np(pthread_self(), FENCER_THREAD_NAME);
	if (pthread_setschedparam(pthread_self(), policy, &own) != 0) {
		/* No real-time priority here: each CPU busy with another
		 * task costs the walk that task's slice. */
		policy = SCHED_OTHER;
		own.sched_priority = 0;
	}
	pthread_mutex_lock(&lock);
	for (;;) {
		while (TAILQ_EMPTY(&queued) && !stop)
			pthread_cond_wait(&work, &lock);
		if (stop)
			break;
		TAILQ_CONCAT(&walking, &queued, entry);
		cpus = 0;
		TAILQ_FOREACH(j, &walking, entry)
			if (j->cpus > cpus)
				cpus = j->cpus;
		in_walk = true;
		clock_gettime(CLOCK_MONOTONIC, &walk_since);
		pthread_mutex_unlock(&lock);

		/* block_fence() for a shared block.  A walk that failed
		 * fenced nothing the loop may rely on: it says so to every
		 * job, whose harvest then waits for another. */
		r = fence_cpus_stay(cpus);

		pthread_mutex_lock(&lock);
		TAILQ_FOREACH(j, &walking, entry)
			j->result = r;
		in_walk = false;
		if (level != 0) {
			/* Back to where it was: the loop raises it only
			 * while it walks or jobs wait for it, under the
			 * lock. */
			pthread_setschedparam(pthread_self(), policy, &own);
			level = 0;
		}
		TAILQ_CONCAT(&done, &walking, entry);
		pthread_mutex_unlock(&lock);
		if (write(notify_pipe[1], &c, 1) < 0) {
			/* Full: a wake-up is pending already, and the loop
			 * takes every job done when it comes. */
		}
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* The loop: the walks done, their callbacks. */
static void
fencer_notified(int fd, short events, void *arg)
{
	struct fencer_jobs mine = TAILQ_HEAD_INITIALIZER(mine);
	struct fencer_job *j;
	char buf[64];

	(void)events;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&lock);
	TAILQ_CONCAT(&mine, &done, entry);
	pthread_mutex_unlock(&lock);
	while ((j = TAILQ_FIRST(&mine)) != NULL) {
		TAILQ_REMOVE(&mine, j, entry);
		out--;
		if (j->done != NULL)
			j->done(j->arg, j->result);
		free(j);
	}
}

/* The loop, every FENCER_STEP_MS while jobs are about: raises a walk
 * that takes too long, and says once if even that does not help. */
static void
fencer_step(int fd, short events, void *arg)
{
	struct sched_param p;
	long long ms = 0;
	bool busy, walk;
	int err = 0, at = 1, first = 0;

	(void)fd;
	(void)events;
	(void)arg;
	pthread_mutex_lock(&lock);
	busy = in_walk || !TAILQ_EMPTY(&queued) || !TAILQ_EMPTY(&walking);
	/* Jobs queued and not taken: the thread, pinned where its last walk
	 * ended, may wait behind a real-time task there before it can even
	 * begin, which raising lets it do. */
	if ((walk = in_walk || !TAILQ_EMPTY(&queued))) {
		ms = clock_ns_since(in_walk ? &walk_since : &queued_since) /
		    1000000;
		if (level < top &&
		    ms >= (long long)FENCER_STEP_MS * (level + 1)) {
			p.sched_priority = steps[level];
			err = pthread_setschedparam(thread, SCHED_FIFO, &p);
			if (err == 0) {
				if (level++ == 0)
					first = p.sched_priority;
			} else
				top = level;	/* said once, below */
		}
		at = level == 0 ? 1 : steps[level - 1];
	} else
		stall_said = false;
	pthread_mutex_unlock(&lock);
	/* A peer can cause it (rundownctl wait), hence the limit. */
	if (first != 0)
		log_peer_warnx("a run-down's fence has waited %lld ms for a CPU "
		    "that a real-time task holds; raised to SCHED_FIFO %d", ms,
		    first);
	if (err != 0) {
		errno = err;
		log_warn("a run-down's fence has waited %lld ms for a CPU held "
		    "by a real-time task, and its priority cannot go higher "
		    "than %d (LimitRTPRIO=, rundownd(8))", ms, at);
	}
	if (walk && ms >= FENCER_FALLBACK_MS && !stall_said) {
		stall_said = true;
		on_stall(ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
	}
	if (!busy)
		evtimer_del(step_ev);
}

void
fencer_init(struct event_base *base, fencer_stall_fn stalled)
{
	on_stall = stalled;
	if (pipe2(notify_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("pipe");
	notify_ev = event_new(base, notify_pipe[0], EV_READ | EV_PERSIST,
	    fencer_notified, NULL);
	step_ev = event_new(base, -1, EV_PERSIST, fencer_step, NULL);
	if (notify_ev == NULL || step_ev == NULL ||
	    event_add(notify_ev, NULL) != 0)
		fatalx("cannot watch the fence's pipe");
}

/* The thread, at the first fence: after the daemon has detached (a
 * fork keeps only the thread that forks). */
static bool
fencer_start(void)
{
	int r;

	if (started)
		return true;
	if ((r = pthread_create(&thread, NULL, fencer_main, NULL)) != 0) {
		errno = r;
		log_warn("cannot start the fence's thread; fencing on the "
		    "loop");
		return false;
	}
	started = true;
	return true;
}

void
fencer_shutdown(void)
{
	bool walk;

	if (notify_ev == NULL)
		return;
	event_free(step_ev);
	event_free(notify_ev);
	notify_ev = NULL;
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stop = true;
	walk = in_walk;
	pthread_cond_signal(&work);
	pthread_mutex_unlock(&lock);
	/* A walk stalled behind a real-time task may never end; the
	 * process's exit ends it. */
	if (walk)
		log_warnx("exiting with a run-down's fence still waiting for "
		    "a CPU");
	else
		pthread_join(thread, NULL);
	started = false;
}

struct fencer_job *
fencer_submit(uint32_t cpus, fencer_fn fn, void *arg)
{
	struct timeval tv = { 0, FENCER_STEP_MS * 1000 };
	struct fencer_job *j;

	if (!fencer_start() || (j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->cpus = cpus;
	j->done = fn;
	j->arg = arg;
	pthread_mutex_lock(&lock);
	if (TAILQ_EMPTY(&queued))
		clock_gettime(CLOCK_MONOTONIC, &queued_since);
	TAILQ_INSERT_TAIL(&queued, j, entry);
	pthread_mutex_unlock(&lock);
	/* After the unlock: the thread, at SCHED_FIFO, preempts this one
	 * as it wakes, and would find the lock still held. */
	pthread_cond_signal(&work);
	if (!evtimer_pending(step_ev, NULL))
		evtimer_add(step_ev, &tv);
	out++;
	clock_gettime(CLOCK_MONOTONIC, &spin_since);
	return j;
}

bool
fencer_spinning(void)
{
	return out != 0 && clock_ns_since(&spin_since) < FENCER_SPIN_US * 1000;
}

void
fencer_cancel(struct fencer_job *j)
{
	/* Only the loop reads done, and frees the job once walked. */
	j->done = NULL;
}
