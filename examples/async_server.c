/*
 * async_server.c: a prefork server whose master swaps the configuration
 * that its workers read, under run-down protection, from its libevent
 * loop and without ever blocking it.
 *
 * The master maps one region that its workers share (MAP_SHARED, before
 * fork()): two configuration slots and, for each, a cache-aware run-down
 * block laid out in the region with rundown_cache_init().  A worker
 * serves a request by acquiring the block of the slot that "current"
 * names, reading that slot, and releasing; an acquire that fails means
 * that the master is retiring that slot, and the worker reads "current"
 * again.  To swap, the master writes the next configuration into the
 * other slot, opens that slot's block again (rundown_cache_reinit()),
 * publishes the slot as current, and retires the old one: it starts the
 * old block's run-down with rundown_cache_wait_start() and adds the
 * descriptor to its event loop.  Start refuses new acquires at once (it
 * fences first, which takes microseconds to a few milliseconds: see
 * rundown_cache(3)); the loop goes on with its timers while the workers
 * finish the requests they began on the old configuration, and once the
 * descriptor is readable, rundown_cache_wait_finish() returns 0: no
 * worker reads the old slot any more, and the next swap may rewrite it.
 * After SWAPS swaps the master stops the workers and exits, 0 if no
 * worker ever read a torn configuration.
 *
 * A block in a caller's buffer counts what the processes hold, but
 * nobody releases what a process that dies holds: a worker killed in a
 * request would keep the old slot from draining (the master gives up
 * after DEADLINE_S).  Blocks that rundownd keeps, from rundown_attach(),
 * take back what dead processes held; their wait_start works the same.
 *
 * Build against the installed library:
 *   cc -o async_server async_server.c \
 *       $(pkg-config --cflags --libs rundown-client libevent)
 */
#define _GNU_SOURCE	/* MAP_ANONYMOUS, clock_gettime() under -std=c11 */

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <rundown/rundown.h>

#define WORKERS 3
#define SWAPS 5
#define SWAP_MS 40		/* a swap this often, unless one is pending */
#define TICK_MS 1		/* the loop's heartbeat */
#define REQUEST_US 3000		/* a request holds protection so long */
#define IDLE_US 500		/* a worker's pause between requests */
#define DEADLINE_S 20		/* the master gives up after this */
#define LINE 64			/* blocks start on a cache line */

struct config {
	uint32_t version;
	uint32_t check;		/* version * CHECK_MUL (torn: differs) */
	char text[56];
};
#define CHECK_MUL 2654435761u

/* The shared region: this, then the two blocks. */
struct region {
	atomic_uint current;		/* the slot that workers read */
	atomic_uint stop;		/* workers: exit */
	atomic_ulong served[WORKERS];	/* requests each worker served */
	atomic_ulong refused;		/* acquires on a retiring slot */
	atomic_ulong torn;		/* reads that found a torn slot */
	struct config slot[2];
};

static struct region *rg;
static rundown_cache_t *blk[2];

/* The master's state, all on its loop's thread. */
static struct event_base *base;
static struct event *drain_ev;	/* the pending retirement, or NULL */
static int drain_fd = -1;
static unsigned retiring;	/* the slot being run down */
static unsigned swaps, ticks, ticks_at_start;
static struct timespec since;
static pid_t pids[WORKERS];
static int status = 1;

static double
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

static void
pause_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
write_config(unsigned slot, uint32_t version)
{
	struct config *c = &rg->slot[slot];

	c->version = version;
	c->check = version * CHECK_MUL;
	snprintf(c->text, sizeof(c->text), "listen 80; workers %d; v%u",
	    WORKERS, (unsigned)version);
}

/* A worker: requests until told to stop. */
static void __attribute__((noreturn))
worker(unsigned id)
{
	struct config c;
	unsigned slot;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		_exit(1);
	while (!atomic_load(&rg->stop)) {
		slot = atomic_load(&rg->current);
		if (!rundown_cache_acquire(blk[slot])) {
			/* Retiring: current names the other slot by now. */
			atomic_fetch_add(&rg->refused, 1);
			continue;
		}
		memcpy(&c, &rg->slot[slot], sizeof(c));
		pause_us(REQUEST_US);		/* the request */
		if (c.check != c.version * CHECK_MUL ||
		    memcmp(&c, &rg->slot[slot], sizeof(c)) != 0)
			atomic_fetch_add(&rg->torn, 1);
		rundown_cache_release(blk[slot]);
		atomic_fetch_add(&rg->served[id], 1);
		pause_us(IDLE_US);
	}
	_exit(0);
}

/* The retired slot has drained (or the descriptor woke us early). */
static void
on_drained(evutil_socket_t fd, short what, void *arg)
{
	int r;

	(void)what;
	(void)arg;
	if ((r = rundown_cache_wait_finish(blk[retiring], fd)) == -EAGAIN)
		return;
	event_free(drain_ev);
	drain_ev = NULL;
	drain_fd = -1;
	if (r != 0) {
		warnx("rundown_cache_wait_finish: %s", rundown_strerror(r));
		event_base_loopbreak(base);
		return;
	}
	printf("swap %u: v%u drained after %.1f ms; the loop ran %u tick%s "
	    "meanwhile\n", swaps, (unsigned)rg->slot[retiring].version,
	    ms_since(&since), ticks - ticks_at_start,
	    ticks - ticks_at_start == 1 ? "" : "s");
	if (swaps == SWAPS) {
		status = 0;
		event_base_loopexit(base, NULL);
	}
}

/* Publishes the next configuration and retires the current one. */
static void
on_swap(evutil_socket_t fd, short what, void *arg)
{
	unsigned old = atomic_load(&rg->current), next = 1 - old;
	uint32_t version = rg->slot[old].version + 1;
	int r;

	(void)fd;
	(void)what;
	(void)arg;
	if (drain_ev != NULL) {
		printf("swap deferred: v%u still running down\n",
		    (unsigned)rg->slot[retiring].version);
		return;
	}
	if (swaps == SWAPS)
		return;
	/* The other slot drained at its last retirement (or never served):
	 * nobody reads it, so it may be rewritten, then opened again. */
	write_config(next, version);
	if ((r = rundown_cache_reinit(blk[next])) != 0 && r != -EALREADY)
		errx(1, "rundown_cache_reinit: %s", rundown_strerror(r));
	atomic_store(&rg->current, next);

	swaps++;
	retiring = old;
	clock_gettime(CLOCK_MONOTONIC, &since);
	ticks_at_start = ticks;
	if ((drain_fd = rundown_cache_wait_start(blk[old])) < 0)
		errx(1, "rundown_cache_wait_start: %s",
		    rundown_strerror(drain_fd));
	printf("swap %u: v%u published in slot %u; v%u running down "
	    "(descriptor %d, started in %.2f ms)\n", swaps, (unsigned)version,
	    next, (unsigned)rg->slot[old].version, drain_fd, ms_since(&since));
	drain_ev = event_new(base, drain_fd, EV_READ | EV_PERSIST, on_drained,
	    NULL);
	if (drain_ev == NULL || event_add(drain_ev, NULL) != 0)
		errx(1, "cannot watch the wait's descriptor");
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ticks++;
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	warnx("gave up after %d s: a worker may have died holding protection",
	    DEADLINE_S);
	event_base_loopbreak(base);
}

int
main(void)
{
	struct timeval swap_tv = { 0, SWAP_MS * 1000 };
	struct timeval tick_tv = { 0, TICK_MS * 1000 };
	struct timeval deadline_tv = { DEADLINE_S, 0 };
	struct event *swap_ev, *tick_ev, *deadline_ev;
	struct event_config *cfg;
	size_t bsize = rundown_cache_size(), head, step, len;
	unsigned long served = 0;
	unsigned i;
	char *p;
	int r;

	/* The region: the state, then the blocks, each on its own lines. */
	head = (sizeof(struct region) + LINE - 1) & ~(size_t)(LINE - 1);
	step = (bsize + LINE - 1) & ~(size_t)(LINE - 1);
	len = head + 2 * step;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		err(1, "mmap");
	rg = (struct region *)(void *)p;
	for (i = 0; i < 2; i++) {
		blk[i] = (rundown_cache_t *)(void *)(p + head + i * step);
		if ((r = rundown_cache_init(blk[i], bsize)) != 0)
			errx(1, "rundown_cache_init: %s", rundown_strerror(r));
	}
	write_config(0, 1);
	atomic_store(&rg->current, 0);
	printf("master %ld: %d workers, config v1 in slot 0\n",
	    (long)getpid(), WORKERS);
	fflush(stdout);

	for (i = 0; i < WORKERS; i++) {
		if ((pids[i] = fork()) == -1)
			err(1, "fork");
		if (pids[i] == 0)
			worker(i);
	}

	/* Timers to the millisecond, not the coarse clock's tick. */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0 ||
	    (base = event_base_new_with_config(cfg)) == NULL)
		errx(1, "cannot make the event loop");
	event_config_free(cfg);
	swap_ev = event_new(base, -1, EV_PERSIST, on_swap, NULL);
	tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	deadline_ev = evtimer_new(base, on_deadline, NULL);
	if (swap_ev == NULL || tick_ev == NULL || deadline_ev == NULL ||
	    event_add(swap_ev, &swap_tv) != 0 ||
	    event_add(tick_ev, &tick_tv) != 0 ||
	    event_add(deadline_ev, &deadline_tv) != 0)
		errx(1, "cannot set the loop's timers");
	event_base_dispatch(base);

	/* Stop the workers; a retirement still pending is abandoned by
	 * closing its descriptor (the run-down itself goes on). */
	atomic_store(&rg->stop, 1);
	for (i = 0; i < WORKERS; i++) {
		if (status != 0)
			kill(pids[i], SIGKILL);
		if (waitpid(pids[i], NULL, 0) == -1)
			err(1, "waitpid");
		served += atomic_load(&rg->served[i]);
	}
	if (drain_ev != NULL) {
		event_free(drain_ev);
		close(drain_fd);
	}
	event_free(swap_ev);
	event_free(tick_ev);
	event_free(deadline_ev);
	event_base_free(base);
	printf("%u swaps; workers served %lu requests, were refused %lu "
	    "acquires on a retiring slot, read %lu torn configurations\n",
	    swaps, served, atomic_load(&rg->refused),
	    atomic_load(&rg->torn));
	if (atomic_load(&rg->torn) != 0)
		status = 1;
	munmap(p, len);
	return status;
}
