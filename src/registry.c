/*
 * registry.c: the blocks rundownd keeps in shared memory, and the control
 * operations on them.
 *
 * A block is several POSIX shared-memory objects, all the daemon's, mode
 * 0600:
 *   NAME         the header (state word, shape).  Clients get a read-only
 *                descriptor of it: the state word the fast path checks.
 *   NAME.rID     one row per attached process (its drain word and slots),
 *                made for it at attach, zeroed or drained, and handed to it
 *                alone, read-write; given back (unlinked) at its detach or
 *                exit.  ID is 64 random bits, so nobody can take it first.
 *   NAME.meta    what the daemon believes: owner, group, mode, shape, and
 *                each row's owner (pid, start time, uid) and ID.  Never
 *                handed out: a restarted daemon adopts a block by it alone.
 *                Locked (shared) while a daemon keeps the block, so that
 *                rundownctl prune knows what no daemon serves.
 * The daemon maps a block as one reserved range: the header at its start,
 * each lent row at its place, the rest not mapped at all.  blk->lay.live
 * says which rows are lent, and lib/block.c reads and writes only those:
 * a row counts only while the daemon's table says a live process has it.
 * What a client writes into its row can make only its own count wrong
 * (block_row_forged: the row then reads as drained, and is logged once).
 *
 * The daemon is the only party that starts, harvests, completes and
 * re-initializes a shared block, all on the loop's thread, so a harvest is
 * never left half done while the daemon runs.  Only the loop's thread
 * touches a block's memory (watcher threads leave the loads to the
 * kernel), so a row its client cut short faults there, and guard.c puts
 * zeros in its place.  The block's encoding is lib/block.c's alone: this
 * file reads and writes a block only through block_*(), and keeps a state
 * word only to compare it with another or to pass it back.
 *
 * Waits: the loop never blocks.  A block with pending waits arms its
 * watcher (watcher.c) on the futex of the first row of the run-down not
 * yet drained; when that row's word moves, the watcher calls
 * registry_settle() on the loop, which looks again, ends the run-down
 * once every row is drained, and ends the waits through the callback the
 * caller of registry_wait() gave.  Nothing here answers a peer or names
 * the transport.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "clock.h"
#include "conf.h"
#include "fence.h"
#include "fencer.h"
#include "guard.h"
#include "log.h"
#include "reaper.h"
#include "registry.h"
#include "registry_internal.h"
#include "shmname.h"
#include "watcher.h"

struct waiter {
	TAILQ_ENTRY(waiter) entry;	/* the block's */
	TAILQ_ENTRY(waiter) mine;	/* its caller's (ws) */
	struct shm_block *blk;
	struct registry_waits *ws;
	uint32_t cookie;
	struct event *timer;
	bool poll;		/* timeout 0, asked while the fence was under
				 * way: answered once it is done */
};

/* A user's fence budget (rundownd -f): when its latest walk began or is
 * due.  Root and the daemon's own user have none. */
struct fence_user {
	LIST_ENTRY(fence_user) entry;
	uid_t uid;
	uint64_t slot_ns;	/* CLOCK_MONOTONIC */
};
static LIST_HEAD(, fence_user) fence_users =
    LIST_HEAD_INITIALIZER(fence_users);

/* Every block has its slot in guard.c. */
_Static_assert(GUARD_MAX >= PROTO_MAX_ENTRIES, "GUARD_MAX < blocks");

static TAILQ_HEAD(, shm_block) blocks = TAILQ_HEAD_INITIALIZER(blocks);
static size_t nblocks;
static char shm_prefix[SHMNAME_PREFIX_MAX];
static const struct config *cfg;
/* What clients are told of every block (the attach reply's bflags):
 * BLOCK_F_RSEQ if this daemon's fence reaches every CPU. */
static uint32_t client_bflags;
static uint64_t fence_failed_seen;	/* fence_failed() as last seen */
static struct event_base *base;

static void registry_settle(void *arg);
static void registry_settle_later(int fd, short events, void *arg);
static void registry_unmap(void *arg);
static void registry_fence_drop(struct shm_block *blk);
static size_t page_size;

size_t
registry_count(void)
{
	return nblocks;
}

/* ---- run-downs in the log --------------------------------------------- */

/* A run-down that who (a peer, as control.c names it) started: logged,
 * and timed until its end. */
static void
registry_rundown_started(struct shm_block *blk, uint32_t s, const char *who)
{
	struct timespec now;

	log_peer_info("%s: run-down started by %s", blk->tagstr, who);
	blk->rd_timed = true;
	blk->rd_word = s;
	clock_gettime(CLOCK_MONOTONIC, &blk->rd_since);
	blk->rd_reclaimed_rows = blk->reclaimed_rows;
	/* The wall clock only dates it; the duration is the monotonic
	 * clock's, so that a step of the wall clock cannot skew it. */
	clock_gettime(CLOCK_REALTIME, &now);
	blk->rundowns++;
	blk->last_start_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	blk->last_duration_ms = 0;
	blk->last_reclaimed_rows = 0;
}

/* Logs the end of the timed run-down once the state word s has moved on
 * from it: how long it took, and how many holders, gone meanwhile, were
 * reclaimed.  A word that went elsewhere than drained or completed was a
 * client's write (only the daemon re-initializes). */
static void
registry_rundown_ended(struct shm_block *blk, uint32_t s)
{
	unsigned long long rows;
	long long ms;

	if (!blk->rd_timed || s == blk->rd_word)
		return;
	blk->rd_timed = false;
	ms = clock_ns_since(&blk->rd_since) / 1000000;
	rows = (unsigned long long)(blk->reclaimed_rows -
	    blk->rd_reclaimed_rows);
	blk->last_duration_ms = ms > 0 ? (uint64_t)ms : 0;
	blk->last_reclaimed_rows = rows;
	if (block_word_generation(s) == block_word_generation(blk->rd_word) &&
	    (block_word_state(s) == RUNDOWN_DRAINED ||
	    block_word_state(s) == RUNDOWN_COMPLETED))
		log_peer_info("%s: drained after %lld ms; holders reclaimed: "
		    "%llu", blk->tagstr, ms, rows);
	else
		log_peer_info("%s: run-down ended after %lld ms by a write to "
		    "its state (now %s); holders reclaimed: %llu", blk->tagstr,
		    ms, rundown_state_name(block_word_state(s)),
		    rows);
}

/*
 * After a run-down's fence: if a walk failed (it could not reach every
 * online CPU: the daemon's cpuset shrank since start-up; or it could not
 * begin), its run-down waits for one that succeeds (registry_fenced).
 * Said once, and from then on clients that attach take the atomic path,
 * which needs no fence.
 */
static void
registry_fence_check(struct shm_block *blk)
{
	uint64_t m = fence_failed();

	if (m == fence_failed_seen)
		return;
	fence_failed_seen = m;
	if (client_bflags == 0)
		return;
	client_bflags = 0;
	log_warnx("%s: the run-down's fence could not reach every online CPU "
	    "(the daemon's cpuset shrank?); clients attaching from now on "
	    "take the atomic path, and those attached before should attach "
	    "again (see CPU AFFINITY in rundownd(8))", blk->tagstr);
}

/* ---- waits ------------------------------------------------------------ */

static void
registry_waiter_free(struct waiter *w)
{
	TAILQ_REMOVE(&w->blk->waiters, w, entry);
	TAILQ_REMOVE(&w->ws->list, w, mine);
	w->ws->count--;
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

/* Ends a wait with err: the callback runs after w is gone, so that it
 * may do anything to the registry. */
static void
registry_end_wait(struct waiter *w, int err)
{
	struct registry_waits *ws = w->ws;
	uint32_t cookie = w->cookie;

	registry_waiter_free(w);
	ws->done(ws->owner, cookie, err);
}

/*
 * Says once per lending, naming the owner, that a row reads forged (its
 * process wrote it to owe less than nothing: lib/block.c counts it as
 * drained).  Only during a run-down, when the rows are harvested.
 */
static void
registry_note_forged(struct shm_block *blk)
{
	struct shm_row *sr;
	uint32_t r;

	for (r = 0; r < blk->lay.rows; r++) {
		sr = &blk->rows[r];
		if (!blk->live[r] || sr->forged || sr->owner == NULL ||
		    !block_row_forged(blk->b, &blk->lay, r))
			continue;
		sr->forged = true;
		log_peer_warnx("%s: row %u of pid %ld (%s) uid %lu reads "
		    "forged (owes less than nothing); counted as drained",
		    blk->tagstr, r, (long)reaper_pid(sr->owner),
		    reaper_comm(sr->owner), (unsigned long)sr->uid);
	}
}

/*
 * Ends the waits if their run-down has ended (the state word moved on),
 * else keeps the watcher armed on the first row not yet drained.  A drain
 * does not move the state word by itself: releasers leave that to the
 * waiting side (lib/block.h, the last release is the last touch), which
 * for a shared block is this: once no row is left undrained, the run-down
 * is ended here.  Only while something awaits it: waits, or the log line
 * of a run-down the daemon started (registry_rundown_ended).  O(rows) at
 * most, and O(1) while the first row waits.
 */
static void
registry_settle(void *arg)
{
	struct shm_block *blk = arg;
	uint32_t s, value, *word;
	struct waiter *w;

	/* Not before the harvest, which waits for the fence. */
	if (blk->fencing ||
	    (TAILQ_EMPTY(&blk->waiters) && !blk->rd_timed))
		return;
	registry_note_forged(blk);
	s = block_settle(blk->b, &blk->lay, &word, &value);
	registry_rundown_ended(blk, s);
	if (blk->wait_word != s) {
		while ((w = TAILQ_FIRST(&blk->waiters)) != NULL)
			registry_end_wait(w, 0);
	}
	/* Polls that came while the fence was under way: started, not
	 * drained.  One at a time, as each callback may change the list. */
	for (;;) {
		TAILQ_FOREACH(w, &blk->waiters, entry)
			if (w->poll)
				break;
		if (w == NULL)
			break;
		registry_end_wait(w, -ETIMEDOUT);
	}
	if (block_word_state(s) == RUNDOWN_RUNNING_DOWN &&
	    (!TAILQ_EMPTY(&blk->waiters) || blk->rd_timed))
		watcher_arm(blk->watcher, word, value);
}

/* registry_settle() from the loop, after the reply being built now. */
static void
registry_settle_later(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	registry_settle(arg);
}

static void
registry_wait_timeout(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	registry_end_wait(arg, -ETIMEDOUT);
}

void
registry_waits_init(struct registry_waits *ws, registry_done_fn done,
    void *owner)
{
	ws->done = done;
	ws->owner = owner;
	ws->count = 0;
	TAILQ_INIT(&ws->list);
}

void
registry_cancel(struct registry_waits *ws)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&ws->list)) != NULL)
		registry_waiter_free(w);
}

/*
 * True if blk's run-down needs the fence: a live process of it was told
 * to take the rseq path.  Once the daemon sends clients to the atomic
 * path (a fence that failed or stalled), a block whose every process
 * attached since needs none, and its run-downs end even while the fence
 * cannot.
 */
static bool
registry_needs_fence(const struct shm_block *blk)
{
	uint32_t r;

	if (!(blk->lay.flags & BLOCK_F_RSEQ))
		return false;
	for (r = 0; r < blk->lay.rows; r++)
		if (blk->rows[r].owner != NULL && blk->rows[r].rseq)
			return true;
	return false;
}

/*
 * The fence of blk's run-down is done: the harvest, then what it ends.
 * A fence that failed (result: fence.h) is no fence: a client's section
 * may still commit, so the rows wait, the failure is counted (the block's
 * header, rundownctl status), and the walk is tried again after a delay
 * that doubles from 10 ms to a second, within the starter's budget.
 */
static void
registry_fenced(void *arg, int result)
{
	struct shm_block *blk = arg;
	struct timeval tv;

	blk->job = NULL;
	registry_fence_check(blk);
	/* The processes told to take the rseq path are gone meanwhile: the
	 * rows need no fence any more. */
	if (result != 0 && !registry_needs_fence(blk))
		result = 0;
	if (result != 0) {
		block_fence_failed(blk->b);
		if (blk->fence_retry_ns == 0) {
			errno = -result;
			log_warn("%s: the run-down's fence failed; its harvest "
			    "waits, and the fence is tried again (see FENCES "
			    "in rundownd(8))", blk->tagstr);
		}
		blk->fence_retry_ns = blk->fence_retry_ns == 0 ? 10000000u :
		    blk->fence_retry_ns >= 500000000u ? 1000000000u :
		    blk->fence_retry_ns * 2;
		blk->fence_at = clock_now_ns() + blk->fence_retry_ns;
		/* Through the timer, not a call: registry_fence_due() may
		 * call here. */
		tv.tv_sec = (time_t)(blk->fence_retry_ns / 1000000000u);
		tv.tv_usec = (suseconds_t)(blk->fence_retry_ns % 1000000000u /
		    1000u);
		if (evtimer_add(blk->fence_ev, &tv) != 0)
			log_warnx("%s: cannot time the fence's next try; the "
			    "run-down stays in progress", blk->tagstr);
		return;
	}
	if (blk->fence_retry_ns != 0)
		log_info("%s: the run-down's fence succeeded again",
		    blk->tagstr);
	blk->fence_retry_ns = 0;
	blk->fencing = false;
	block_harvest_fenced(blk->b, &blk->lay, blk->fence_word);
	registry_settle(blk);
}

/*
 * blk's fence may be due: asked of fencer.c's thread, or (no memory, no
 * thread) walked here, once blk->fence_at has come.  Until then it waits
 * on fence_ev, which libevent times from the time it cached when the turn
 * began, and on a coarse clock (a tick, some 4 ms, behind) unless the
 * base was made with EVENT_BASE_FLAG_PRECISE_TIMER (rundownd.c): a timer
 * that fires early is armed again for the rest, or the budget would let
 * a user through more walks than it says (a fifth more, on the coarse
 * clock).
 */
static void
registry_fence_due(int fd, short events, void *arg)
{
	struct shm_block *blk = arg;
	uint64_t now = clock_now_ns(), wait;
	struct timeval tv;

	(void)fd;
	(void)events;
	if (now < blk->fence_at) {
		wait = blk->fence_at - now + 999u;	/* to whole us, up */
		tv.tv_sec = (time_t)(wait / 1000000000u);
		tv.tv_usec = (suseconds_t)(wait % 1000000000u / 1000u);
		if (evtimer_add(blk->fence_ev, &tv) == 0)
			return;
	}
	if ((blk->job = fencer_submit(blk->lay.cpus, registry_fenced,
	    blk)) == NULL)
		registry_fenced(blk, block_fence(&blk->lay));
}


/*
 * The budget of uid's fences: clock_now_ns() when its next may begin
 * (0: at once).  A user's walks begin at most cfg->fence_rate times a
 * second: a start within the interval after its last is due at the
 * interval's end, and every start of that user until then rides the same
 * walk (a user cycling run-downs on many blocks costs one walk an
 * interval, as many blocks as it likes).  Root and the daemon's own user
 * are not held back (their starts are not a peer's to multiply).  Users
 * whose interval is over are forgotten on the way.
 */
static uint64_t
registry_fence_budget(uid_t uid)
{
	uint64_t now = clock_now_ns(), gap;
	struct fence_user *u, *next;

	if (uid == 0 || uid == geteuid())
		return 0;
	gap = 1000000000u / cfg->fence_rate;
	for (u = LIST_FIRST(&fence_users); u != NULL; u = next) {
		next = LIST_NEXT(u, entry);
		if (u->uid == uid)
			break;
		if (u->slot_ns + gap <= now) {
			LIST_REMOVE(u, entry);
			free(u);
		}
	}
	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return 0;	/* no memory for a budget: none */
		u->uid = uid;
		LIST_INSERT_HEAD(&fence_users, u, entry);
		u->slot_ns = now;
		return 0;
	}
	/* A walk already due later: ride it.  Else the next slot. */
	if (u->slot_ns <= now)
		u->slot_ns = u->slot_ns + gap > now ? u->slot_ns + gap : now;
	return u->slot_ns;
}

/*
 * Starts blk's run-down if it is open: 0 if this call began it, else
 * -EALREADY; *s gets the state word of the run-down.  Between the flip and
 * the harvest, a block whose clients may commit in rseq sections needs
 * the fence, a walk over every CPU that a busy real-time task can stall:
 * fencer.c's thread walks, the loop goes on, and registry_fenced()
 * harvests (on the loop, so that the harvest is never left half done and
 * a row's fault is guard.c's) once the walk is done.  Meanwhile
 * blk->fencing: waits queue, and nothing settles.
 */
static int
registry_start(struct shm_block *blk, uid_t uid, uint32_t *s)
{
	struct block_layout l = blk->lay;

	if (!registry_needs_fence(blk)) {
		l.flags &= ~BLOCK_F_RSEQ;	/* harvested without a walk */
		return block_start(blk->b, &l, s);
	}
	if (block_start_unfenced(blk->b, &blk->lay, s) != 0)
		return -EALREADY;
	/* A fence still under way for an earlier run-down, which ended with
	 * no row to harvest and was re-initialized since, serves nothing. */
	registry_fence_drop(blk);
	blk->fencing = true;
	blk->fence_word = *s;
	clock_gettime(CLOCK_MONOTONIC, &blk->fence_since);
	blk->fence_at = registry_fence_budget(uid);
	registry_fence_due(-1, 0, blk);
	return 0;
}

/* Lets go of blk's fence, due or asked for: its run-down has ended, or
 * the block goes. */
static void
registry_fence_drop(struct shm_block *blk)
{
	evtimer_del(blk->fence_ev);
	if (blk->job != NULL)
		fencer_cancel(blk->job);
	blk->job = NULL;
	blk->fencing = false;
}

void
registry_fence_pending(struct shm_block *blk)
{
	blk->fencing = true;
	blk->fence_word = block_word(blk->b);
	clock_gettime(CLOCK_MONOTONIC, &blk->fence_since);
	blk->fence_at = 0;
	registry_fence_due(-1, 0, blk);
}

/* fencer.c says a walk has not ended after FENCER_FALLBACK_MS: clients
 * attaching from now on take the atomic path, which needs no fence. */
static void
registry_fence_stalled(uint32_t ms)
{
	if (client_bflags == 0)
		return;
	client_bflags = 0;
	log_warnx("a run-down's fence has waited %u ms for a CPU that a "
	    "real-time task keeps; clients attaching from now on take the "
	    "atomic path (see FENCES in rundownd(8))", ms);
}

int
registry_wait(struct shm_block *blk, uint32_t timeout_ms, uid_t uid,
    struct registry_waits *ws, uint32_t cookie, const char *who)
{
	struct timeval tv;
	struct waiter *w, *w2;
	uint32_t s;

	if (registry_start(blk, uid, &s) == 0)
		registry_rundown_started(blk, s, who);
	if (!blk->fencing && (block_word_state(s) !=
	    RUNDOWN_RUNNING_DOWN || block_word(blk->b) != s)) {
		/* Drained.  Waits still pending for it (the watcher's poke
		 * not yet handled) are answered first, so that a connection
		 * gets its answers in the order it asked. */
		registry_settle(blk);
		return 0;
	}
	if (timeout_ms == 0 && !blk->fencing) {
		/* A poll: started, not drained; the watcher sees the end. */
		registry_settle(blk);
		return -ETIMEDOUT;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->blk = blk;
	w->ws = ws;
	w->cookie = cookie;
	/* A poll during the fence is answered after it, drained or not. */
	w->poll = timeout_ms == 0;
	if (timeout_ms != 0 && timeout_ms != PROTO_NO_TIMEOUT) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		w->timer = evtimer_new(base, registry_wait_timeout, w);
		if (w->timer == NULL || evtimer_add(w->timer, &tv) != 0) {
			if (w->timer != NULL)
				event_free(w->timer);
			free(w);
			return -ENOMEM;
		}
	}
	/* Waits still pending for an earlier run-down (its end not yet
	 * seen) end now, so that all pending waits await one word. */
	if (blk->wait_word != s) {
		while ((w2 = TAILQ_FIRST(&blk->waiters)) != NULL)
			registry_end_wait(w2, 0);
	}
	blk->wait_word = s;
	TAILQ_INSERT_TAIL(&blk->waiters, w, entry);
	TAILQ_INSERT_TAIL(&ws->list, w, mine);
	ws->count++;
	/* The drain may have happened between the check above and now only
	 * through another process's release, which the watcher sees. */
	registry_settle(blk);
	return REGISTRY_PENDING;
}

/* ---- blocks ----------------------------------------------------------- */

/* Logs, now and then, that clients cut their rows short (guard.c put
 * zeros in their place): the 1st, 2nd, 4th, 8th... time, so that a client
 * that keeps at it cannot fill the log. */
static void
registry_note_faults(struct shm_block *blk)
{
	uint64_t n = guard_faults(blk->guard);

	if (n != blk->faults_logged &&
	    (1ull << (63 - __builtin_clzll(n))) > blk->faults_logged)
		log_warnx("%s: a client cut its row short; the daemon reads "
		    "zeros there (%llu pages)", blk->tagstr,
		    (unsigned long long)n);
	blk->faults_logged = n;
}

struct shm_block *
registry_lookup(uint32_t tag)
{
	struct shm_block *blk;

	TAILQ_FOREACH(blk, &blocks, entry) {
		if (blk->tag == tag)
			return blk;
	}
	return NULL;
}

struct shm_block *
registry_find(uint32_t tag)
{
	struct shm_block *blk = registry_lookup(tag);

	if (blk != NULL)
		registry_note_faults(blk);
	return blk;
}

/* 64 random bits, never 0. */
static int
registry_random(uint64_t *v)
{
	do {
		if (getrandom(v, sizeof(*v), 0) != (ssize_t)sizeof(*v))
			return -errno;
	} while (*v == 0);
	return 0;
}

/*
 * A new block's name: the prefix, the tag, and 64 random bits.  Anybody
 * may create objects in /dev/shm, so a name others could foresee is one
 * they could take first and deny the tag for good (EEXIST).  The tag in
 * the name is for people and for adopt.c; the daemon finds a
 * block by its list, never by name.
 */
static int
registry_name(uint32_t tag, char *buf, size_t size)
{
	uint64_t v;
	int r;

	if ((r = registry_random(&v)) != 0)
		return r;
	snprintf(buf, size, "/%s%08x.%016llx", shm_prefix, tag,
	    (unsigned long long)v);
	return 0;
}

/* The name of row id's object. */
void
registry_row_name(const struct shm_block *blk, uint64_t id, char *buf,
    size_t size)
{
	snprintf(buf, size, "%s.r%016llx", blk->name, (unsigned long long)id);
}

/* NAME.meta of the block whose header object is name. */
void
registry_meta_name(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s.meta", name);
}

/* Opens (creating it, with O_EXCL, if flags say so) an object of the
 * daemon's own, mode 0600: its descriptor, or -errno. */
int
registry_open(const char *name, int flags)
{
	int fd = shm_open(name, flags | O_CLOEXEC | O_NOFOLLOW, 0600), error;

	if (fd < 0)
		return -errno;
	/* Explicit mode: the umask must not widen or narrow it. */
	if ((flags & O_CREAT) && fchmod(fd, 0600) != 0) {
		error = -errno;
		close(fd);
		shm_unlink(name);
		return error;
	}
	return fd;
}

/* True if fd is an object of the daemon's alone (its own, 0600 or less),
 * with its status in *st: anything else is never trusted. */
bool
registry_own(int fd, struct stat *st)
{
	return fstat(fd, st) == 0 && st->st_uid == geteuid() &&
	    (st->st_mode & 077) == 0 && S_ISREG(st->st_mode);
}

/* Reads an object found at start-up, which must be the daemon's alone
 * and size bytes long: 0, or -EPERM (registry_own() says no) or -EBADMSG
 * (short). */
int
registry_read_own(int fd, void *buf, size_t size, off_t off)
{
	struct stat st;

	if (!registry_own(fd, &st))
		return -EPERM;
	if (pread(fd, buf, size, off) != (ssize_t)size)
		return -EBADMSG;
	return 0;
}

/* Writes row r's entry of NAME.meta as the table has it now. */
int
registry_meta_row(struct shm_block *blk, uint32_t r)
{
	struct proto_meta_row e = { 0 };
	const struct shm_row *row = &blk->rows[r];

	if (row->owner != NULL) {
		e.pid = (int32_t)reaper_pid(row->owner);
		e.uid = (uint32_t)row->uid;
		e.start = reaper_start(row->owner);
		e.id = row->id;
	}
	if (pwrite(blk->meta, &e, sizeof(e), (off_t)(sizeof(struct
	    proto_meta) + (size_t)r * sizeof(e))) != (ssize_t)sizeof(e))
		return errno != 0 ? -errno : -EIO;
	return 0;
}

/*
 * Takes a shared lock on a block's NAME.meta (fd), held for as long as
 * the daemon keeps the block: gone with the descriptor when the block is
 * freed or the daemon exits, however it exits.  rundownctl prune (src/
 * ctl_prune.c) tells a block that a live daemon serves from one left
 * behind by it, and holds it exclusively while it removes a block; one
 * it removed meanwhile has no link left: -ENOENT.  0 or -errno.
 */
int
registry_meta_lock(int fd)
{
	struct stat st;

	while (flock(fd, LOCK_SH) != 0)
		if (errno != EINTR)
			return -errno;
	if (fstat(fd, &st) != 0)
		return -errno;
	return st.st_nlink == 0 ? -ENOENT : 0;
}

/* Creates NAME.meta for a new block, every row free: 0 or -errno. */
static int
registry_meta_create(struct shm_block *blk)
{
	struct proto_meta m = {
		.magic = PROTO_META_MAGIC, .version = BLOCK_VERSION,
		.serial = blk->serial, .uid = (uint32_t)blk->uid,
		.gid = (uint32_t)blk->gid, .mode = blk->mode,
		.cpus = blk->lay.cpus, .rows = blk->lay.rows,
		.flags = blk->lay.flags, .page = page_size,
	};
	char name[SHM_PART_MAX];
	size_t size = sizeof(m) + (size_t)blk->lay.rows *
	    sizeof(struct proto_meta_row);
	int r;

	registry_meta_name(blk->name, name, sizeof(name));
	shm_unlink(name);	/* a stale one; one of another user stays and
				 * makes O_EXCL fail */
	if ((blk->meta = registry_open(name, O_RDWR | O_CREAT | O_EXCL)) < 0)
		return blk->meta;
	/* Locked before it is written: a prune never takes a record being
	 * made for one left half made. */
	if ((r = registry_meta_lock(blk->meta)) != 0) {
		shm_unlink(name);
		return r;
	}
	if (ftruncate(blk->meta, (off_t)size) != 0 ||
	    pwrite(blk->meta, &m, sizeof(m), 0) != (ssize_t)sizeof(m)) {
		shm_unlink(name);
		return errno != 0 ? -errno : -EIO;
	}
	return 0;
}

/* Tracks a block whose header object is hfd (read-write) with layout l:
 * reserves its range, maps the header there, guards it.  NULL if out of
 * memory or mappings; hfd stays the caller's. */
struct shm_block *
registry_add(uint32_t tag, const char *name, int hfd,
    const struct block_layout *l, uint32_t serial)
{
	struct shm_block *blk;
	void *range;

	if (strlen(name) >= sizeof(blk->name) ||
	    (blk = calloc(1, sizeof(*blk))) == NULL)
		return NULL;
	blk->rofd = blk->meta = blk->guard = -1;
	blk->b = MAP_FAILED;
	blk->tag = tag;
	rundown_tag_format(tag, blk->tagstr);
	memcpy(blk->name, name, strlen(name) + 1);
	blk->lay = *l;
	blk->serial = serial;
	TAILQ_INIT(&blk->waiters);
	/* The whole range reserved, nothing in it: a row is mapped there
	 * when it is lent, and the range cannot be taken by anything else
	 * meanwhile. */
	range = mmap(NULL, l->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	if (range == MAP_FAILED)
		goto fail;
	blk->b = range;
	if (mmap(range, l->rows_off, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_FIXED, hfd, 0) == MAP_FAILED ||
	    (blk->rows = calloc(l->rows, sizeof(*blk->rows))) == NULL ||
	    (blk->live = calloc(l->rows, sizeof(*blk->live))) == NULL ||
	    (blk->rofd = shm_open(name, O_RDONLY | O_CLOEXEC, 0)) < 0 ||
	    (blk->guard = guard_add(range, l->size)) < 0 ||
	    (blk->watcher = watcher_new(blk->tagstr, registry_settle,
	    blk)) == NULL ||
	    (blk->settle_ev = event_new(base, -1, 0, registry_settle_later,
	    blk)) == NULL ||
	    (blk->fence_ev = evtimer_new(base, registry_fence_due, blk)) ==
	    NULL)
		goto fail;
	blk->lay.live = blk->live;
	TAILQ_INSERT_TAIL(&blocks, blk, entry);
	nblocks++;
	return blk;
fail:
	if (blk->watcher != NULL)
		watcher_free(blk->watcher, NULL, NULL);
	registry_unmap(blk);
	return NULL;
}

/* A serial for a new block: any value but 0, unlikely to repeat. */
static uint32_t
registry_serial(void)
{
	uint32_t v = 0;

	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	}
	return v;
}

/* Creates the block for tag, owned by uid and gid with mode: 0 or
 * -errno. */
int
registry_create(uint32_t tag, uint32_t rows, uid_t uid, gid_t gid,
    uint32_t mode, struct shm_block **out)
{
	struct block_layout l;
	struct shm_block *blk;
	char name[SHM_NAME_MAX];
	uint32_t mine = 0;
	int fd = -1, r, tries;

	if ((mode & ~PROTO_MODE_MASK) != 0)
		return -EINVAL;
	if (rows == 0)
		rows = cfg->default_rows;
	if (rows > cfg->max_rows ||
	    block_layout_paged(block_cpus(), rows, page_size, &l) != 0)
		return -EINVAL;
	l.flags = BLOCK_F_RSEQ;		/* see registry_init() */
	TAILQ_FOREACH(blk, &blocks, entry) {
		if (blk->tag == tag)
			return -EEXIST;
		if (blk->uid == uid)
			mine++;
	}
	/* Root and the daemon's user are not capped: the caps keep each
	 * other user to a share, so that theirs stays free. */
	if (uid != 0 && uid != geteuid() && mine >= cfg->max_user_blocks) {
		log_peer_warnx("uid %lu over its blocks (%u, -b %u); create "
		    "refused", (unsigned long)uid, mine, cfg->max_user_blocks);
		return -EDQUOT;
	}
	if (nblocks >= cfg->max_blocks)
		return -ENOSPC;
	/* O_EXCL: an object already there is never ours to use.  Another
	 * name is drawn; 64 random bits collide only by design of someone
	 * who can read the directory, and then not forever. */
	for (tries = 0; tries < 16; tries++) {
		if ((r = registry_name(tag, name, sizeof(name))) != 0)
			return r;
		if ((fd = registry_open(name, O_RDWR | O_CREAT | O_EXCL)) !=
		    -EEXIST)
			break;
	}
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)l.rows_off) != 0) {
		r = -errno;
		goto fail;
	}
	if ((blk = registry_add(tag, name, fd, &l, registry_serial())) ==
	    NULL) {
		r = -ENOMEM;
		goto fail;
	}
	close(fd);
	block_format_header(blk->b, &l, tag);
	(void)block_set_header(blk->b, &l, tag, blk->serial);
	blk->uid = uid;
	blk->gid = gid;
	blk->mode = mode;
	if ((r = registry_meta_create(blk)) != 0) {
		log_warnx("%s: cannot keep its record: %s", blk->tagstr,
		    strerror(-r));
		registry_forget(blk);
		return r;
	}
	*out = blk;
	log_peer_info("%s: created, %u rows of %u CPUs, uid %lu gid %lu mode %03o",
	    blk->tagstr, rows, l.cpus, (unsigned long)uid,
	    (unsigned long)gid, mode);
	return 0;
fail:
	shm_unlink(name);
	close(fd);
	return r;
}

/* Puts the reservation back in place of row r: what was mapped there
 * goes.  Failing that (out of mappings), the row stays mapped, and is
 * merely not read (it is not live). */
static void
registry_reserve_row(struct shm_block *blk, uint32_t r)
{
	(void)mmap(block_row(blk->b, &blk->lay, r), blk->lay.row_stride,
	    PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
	    MAP_FIXED, -1, 0);
}

/* Maps row r's object (fd) at its place in blk's range: 0 or -errno. */
int
registry_map_row(struct shm_block *blk, uint32_t r, int fd)
{
	if (mmap(block_row(blk->b, &blk->lay, r), blk->lay.row_stride,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
	    MAP_FAILED)
		return -errno;
	return 0;
}

/*
 * Gives row back: what it held is released, and its object goes.  The
 * row's process is gone (or asked for it), and from now on nothing it
 * writes counts: the row is no longer live, nor mapped here.  A watcher
 * asleep on its word is woken first (while the word is still mapped as
 * it slept on it), and looks again.
 */
int64_t
registry_release_row(struct shm_block *blk, uint32_t r)
{
	uint64_t *row = block_row(blk->b, &blk->lay, r);
	struct shm_row *sr = &blk->rows[r];
	char name[SHM_PART_MAX];
	int64_t held = blk->live[r] ? block_row_held(blk->b, &blk->lay, r) : 0;

	watcher_kick(blk->watcher, row, blk->lay.row_stride);
	blk->live[r] = 0;
	registry_reserve_row(blk, r);
	registry_row_name(blk, sr->id, name, sizeof(name));
	shm_unlink(name);
	if (sr->owner != NULL) {
		reaper_put(sr->owner);
		blk->attached--;
	}
	memset(sr, 0, sizeof(*sr));
	(void)registry_meta_row(blk, r);
	return held;
}

/*
 * Lends row r to the process h (uid): makes its object, zeroed (or
 * drained, if the block is not open), records it in NAME.meta, maps it.
 * 0 with the object's read-write descriptor in *fd (the caller's to
 * close), or -errno with nothing changed.
 */
static int
registry_lend_row(struct shm_block *blk, uint32_t r, struct holder *h,
    uid_t uid, int *fd)
{
	struct shm_row *sr = &blk->rows[r];
	char name[SHM_PART_MAX];
	int err, tries;

	*fd = -EEXIST;
	for (tries = 0; tries < 16 && *fd == -EEXIST; tries++) {
		if ((err = registry_random(&sr->id)) != 0)
			return err;
		registry_row_name(blk, sr->id, name, sizeof(name));
		*fd = registry_open(name, O_RDWR | O_CREAT | O_EXCL);
	}
	if (*fd < 0)
		return *fd;
	sr->owner = h;
	sr->uid = uid;
	sr->forged = false;
	/* The record first: a daemon killed after it finds the owner (and
	 * a missing object means a row never handed out). */
	if ((err = ftruncate(*fd, (off_t)blk->lay.row_stride) != 0 ? -errno :
	    0) != 0 || (err = registry_meta_row(blk, r)) != 0 ||
	    (err = registry_map_row(blk, r, *fd)) != 0) {
		/* A MAP_FIXED that failed may have unmapped the range: the
		 * reservation again, so that nothing else is put there. */
		registry_reserve_row(blk, r);
		close(*fd);
		shm_unlink(name);
		memset(sr, 0, sizeof(*sr));
		(void)registry_meta_row(blk, r);
		return err;
	}
	block_row_format(block_row(blk->b, &blk->lay, r), &blk->lay,
	    block_word(blk->b));
	blk->live[r] = 1;
	blk->attached++;
	return 0;
}

/* Reclaims a row whose process is gone, and says so. */
void
registry_reclaim(struct shm_block *blk, uint32_t row, pid_t pid,
    const char *comm)
{
	int64_t held = registry_release_row(blk, row);

	blk->reclaimed_rows++;
	if (held > 0)
		blk->reclaimed += (uint64_t)held;
	if (held != 0)
		log_peer_info("%s: pid %ld (%s) exited holding %lld; reclaimed row %u",
		    blk->tagstr, (long)pid, comm, (long long)held, row);
	else
		log_debug("%s: pid %ld (%s) exited; row %u free", blk->tagstr,
		    (long)pid, comm, row);
	registry_settle(blk);
}

void
registry_holder_exited(struct holder *h, void *arg)
{
	struct shm_block *blk;
	uint32_t r;

	(void)arg;
	TAILQ_FOREACH(blk, &blocks, entry) {
		for (r = 0; r < blk->lay.rows; r++) {
			if (blk->rows[r].owner == h)
				registry_reclaim(blk, r, reaper_pid(h),
				    reaper_comm(h));
		}
	}
}

void
registry_stop(void)
{
	fencer_shutdown();
	watcher_shutdown();
}

void
registry_init(const struct config *c, struct event_base *b)
{
	cfg = c;
	base = b;
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	shmname_prefix(cfg->socket_path, shm_prefix, sizeof(shm_prefix));
	if ((errno = -guard_init()) != 0)
		fatal("cannot guard the blocks' mappings");
	fencer_init(base, registry_fence_stalled);
	/*
	 * Clients commit in the rseq words of a block only if its run-down
	 * fences them, which for processes other than this one means running
	 * on every CPU (lib/fence.h).  Every run-down here fences (each
	 * block's layout has BLOCK_F_RSEQ), whatever the clients were told:
	 * clients attached under a previous daemon may be using the words.
	 * Confined to fewer CPUs, the daemon tells new clients to take the
	 * atomic path.
	 */
	if (fence_cpus_reach(block_cpus()))
		client_bflags = BLOCK_F_RSEQ;
	else
		log_warnx("not allowed on every CPU: clients of new blocks "
		    "take the slower atomic path (see CPU AFFINITY in "
		    "rundownd(8))");
}

/* ---- control operations ----------------------------------------------- */

void
registry_info(struct shm_block *blk, struct proto_info *pi)
{
	struct rundown_status st;
	uint32_t s = block_word(blk->b);

	memset(pi, 0, sizeof(*pi));
	block_query(blk->b, &blk->lay, &st);
	pi->tag = blk->tag;
	pi->state = (uint32_t)st.state;
	pi->generation = block_word_generation(s);
	pi->cpus = blk->lay.cpus;
	pi->rows = blk->lay.rows;
	pi->attached = blk->attached;
	pi->outstanding = st.outstanding;
	pi->reclaimed_rows = blk->reclaimed_rows;
	pi->reclaimed = blk->reclaimed;
	pi->uid = (uint32_t)blk->uid;
	pi->gid = (uint32_t)blk->gid;
	pi->mode = blk->mode;
	pi->fence_failures = st.fence_failures;
	if (blk->fencing) {
		long long ms = clock_ns_since(&blk->fence_since) / 1000000;

		pi->fence_ms = ms < 1 ? 1 : ms > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)ms;
	}
	pi->rundowns = blk->rundowns;
	if (blk->rundowns == 0)
		return;
	pi->last_start_ms = blk->last_start_ms;
	if (blk->rd_timed) {
		/* In progress: so far, and no drain yet. */
		long long ms = clock_ns_since(&blk->rd_since) / 1000000;

		pi->last_duration_ms = ms > 0 ? (uint64_t)ms : 0;
		pi->last_reclaimed_rows = blk->reclaimed_rows -
		    blk->rd_reclaimed_rows;
	} else {
		pi->last_duration_ms = blk->last_duration_ms;
		pi->last_drain_ms = blk->last_start_ms +
		    (int64_t)blk->last_duration_ms;
		pi->last_reclaimed_rows = blk->last_reclaimed_rows;
	}
}

unsigned
registry_cost(const struct shm_block *blk)
{
	/* A fence (a walk of every CPU, some 60 us on 2 CPUs) is worth some
	 * eight status requests; a row's slots, a unit per 64. */
	return 8 + (unsigned)(((uint64_t)blk->attached * blk->lay.cpus) / 64);
}

void
registry_owner(const struct shm_block *blk, uid_t *uid, gid_t *gid,
    uint32_t *mode)
{
	*uid = blk->uid;
	*gid = blk->gid;
	*mode = blk->mode;
}

size_t
registry_holders(struct shm_block *blk, struct proto_holder *out, size_t max)
{
	struct proto_holder *ph;
	int64_t held;
	size_t n = 0;
	uint32_t r;

	for (r = 0; r < blk->lay.rows && n < max; r++) {
		if (blk->rows[r].owner == NULL)
			continue;
		ph = &out[n++];
		memset(ph, 0, sizeof(*ph));
		ph->pid = reaper_pid(blk->rows[r].owner);
		ph->row = r;
		held = blk->live[r] ? block_row_held(blk->b, &blk->lay, r) : 0;
		ph->outstanding = held > 0 ? (uint64_t)held : 0;
		snprintf(ph->comm, sizeof(ph->comm), "%s",
		    reaper_comm(blk->rows[r].owner));
	}
	return n;
}

size_t
registry_list(struct proto_info *out, size_t max)
{
	struct shm_block *blk;
	size_t n = 0;

	TAILQ_FOREACH(blk, &blocks, entry) {
		if (n == max)
			break;
		registry_note_faults(blk);
		registry_info(blk, &out[n++]);
	}
	return n;
}

/* The most rows of blk that one uid other than its owner may hold:
 * -Q, or half the rows (rounded up) by default. */
static uint32_t
registry_uid_cap(const struct shm_block *blk)
{
	if (cfg->max_uid_rows != 0)
		return cfg->max_uid_rows;
	return (blk->lay.rows + 1) / 2;
}

/* Rows that processes of uid hold now, in every block. */
static uint32_t
registry_user_rows(uid_t uid)
{
	const struct shm_block *blk;
	uint32_t r, n = 0;

	TAILQ_FOREACH(blk, &blocks, entry)
		for (r = 0; r < blk->lay.rows; r++)
			if (blk->rows[r].owner != NULL && blk->rows[r].uid == uid)
				n++;
	return n;
}

int
registry_attach(struct shm_block *blk, pid_t pid, uint64_t start, uid_t uid,
    struct proto_attached *a, int *fds)
{
	struct holder *p;
	uint32_t r, free_row = UINT32_MAX, mine = 0, theirs = 0;
	bool capped;
	int err;

	/* Root and the daemon's user are not capped, nor is the block's
	 * owner per uid: the caps keep others from taking the owner's rows.
	 * Counted from the daemon's table, which no client can write. */
	capped = uid != 0 && uid != geteuid();
	for (r = 0; r < blk->lay.rows; r++) {
		if (blk->rows[r].owner == NULL) {
			/* A live row lent to nobody is kept (adoption). */
			if (free_row == UINT32_MAX && !blk->live[r])
				free_row = r;
			continue;
		}
		if (reaper_pid(blk->rows[r].owner) == pid)
			mine++;
		if (blk->rows[r].uid == uid)
			theirs++;
	}
	if (capped && (mine >= cfg->max_proc_rows ||
	    (uid != blk->uid && theirs >= registry_uid_cap(blk)))) {
		log_debug("%s: pid %ld uid %lu over its rows (%u of the "
		    "process, %u of the user)", blk->tagstr, (long)pid,
		    (unsigned long)uid, mine, theirs);
		return -EDQUOT;
	}
	if (capped && registry_user_rows(uid) >= cfg->max_user_rows) {
		log_peer_warnx("uid %lu over its rows in all blocks (-k %u); "
		    "attach refused", (unsigned long)uid, cfg->max_user_rows);
		return -EDQUOT;
	}
	if ((r = free_row) == UINT32_MAX)
		return -ENOSPC;
	if ((p = reaper_get(pid, start, &err)) == NULL)
		return err;
	if ((err = registry_lend_row(blk, r, p, uid, &fds[1])) != 0) {
		reaper_put(p);
		return err;
	}
	blk->rows[r].rseq = (client_bflags & BLOCK_F_RSEQ) != 0;
	fds[0] = blk->rofd;
	memset(a, 0, sizeof(*a));
	a->tag = blk->tag;
	a->row = r;
	a->cpus = blk->lay.cpus;
	a->rows = blk->lay.rows;
	a->size = blk->lay.rows_off;
	a->row_size = blk->lay.row_stride;
	a->serial = blk->serial;
	a->bflags = client_bflags;
	log_debug("%s: pid %ld (%s) attached to row %u", blk->tagstr,
	    (long)pid, reaper_comm(p), r);
	return 0;
}

int
registry_detach(struct shm_block *blk, uint32_t serial, uint32_t row,
    pid_t pid, uint64_t *held)
{
	int64_t h;

	/* A detach meant for an earlier block with this tag (freed since). */
	if (serial != blk->serial)
		return -ESTALE;
	/* Only the process that holds a row may give it back. */
	if (row >= blk->lay.rows || blk->rows[row].owner == NULL ||
	    reaper_pid(blk->rows[row].owner) != pid)
		return -EPERM;
	h = registry_release_row(blk, row);
	if (h != 0)
		log_peer_info("%s: pid %ld detached from row %u holding %lld",
		    blk->tagstr, (long)pid, row, (long long)h);
	*held = h > 0 ? (uint64_t)h : 0;
	/* The waits this may end are answered after the detach itself. */
	event_active(blk->settle_ev, EV_TIMEOUT, 0);
	return 0;
}

int
registry_completed(struct shm_block *blk)
{
	return block_completed(blk->b, &blk->lay);
}

int
registry_reinit(struct shm_block *blk, const char *who)
{
	int r;

	/* The drain first, if its watcher's poke is still on its way
	 * (block_state ends a run-down whose rows are all drained). */
	registry_rundown_ended(blk, block_state(blk->b, &blk->lay));
	if ((r = block_reinit(blk->b, &blk->lay)) == 0)
		log_peer_info("%s: re-initialized by %s, generation %u",
		    blk->tagstr, who,
		    block_word_generation(block_word(blk->b)));
	/* Waits for the run-down just ended may not have been told yet
	 * (their watcher's poke still on its way): now. */
	registry_settle(blk);
	return r;
}

int
registry_reopen(struct shm_block *blk, const char *who, bool may_reinit)
{
	struct rundown_status st;

	block_query(blk->b, &blk->lay, &st);
	switch (st.state) {
	case RUNDOWN_OPEN:
		return 0;
	case RUNDOWN_COMPLETED:
		/* The explicit end of a run-down: whoever ran it down is
		 * done with what it guarded, unlike a block only drained,
		 * whose owner may be between its wait and its swap. */
		if (!may_reinit)
			return -EACCES;
		return registry_reinit(blk, who);
	default:
		return -EBUSY;
	}
}

/* Unmaps a freed block, once no watcher thread can touch it (or one that
 * registry_add() could not finish). */
static void
registry_unmap(void *arg)
{
	struct shm_block *blk = arg;

	if (blk->guard >= 0)
		guard_remove(blk->guard);
	if (blk->b != MAP_FAILED)
		munmap(blk->b, blk->lay.size);
	if (blk->rofd >= 0)
		close(blk->rofd);
	if (blk->meta >= 0)
		close(blk->meta);
	if (blk->settle_ev != NULL)
		event_free(blk->settle_ev);
	if (blk->fence_ev != NULL)
		event_free(blk->fence_ev);
	free(blk->live);
	free(blk->rows);
	free(blk);
}

/*
 * Removes a block: run down, or open with nobody attached; or, forced (its
 * owner or root: control.c), whatever its rows say.  Waits still pending
 * then end with -ECANCELED: the run-down they await did not end, the block
 * did.
 */
int
registry_free(struct shm_block *blk, bool force, const char *who)
{
	enum rundown_state s = block_word_state(block_state(blk->b, &blk->lay));
	struct waiter *w;
	uint32_t r;
	int err = 0;

	if (!force && !(s == RUNDOWN_DRAINED || s == RUNDOWN_COMPLETED ||
	    (s == RUNDOWN_OPEN && blk->attached == 0)))
		return -EBUSY;
	registry_rundown_ended(blk, block_word(blk->b));
	if (s == RUNDOWN_RUNNING_DOWN || s == RUNDOWN_RESETTING)
		err = -ECANCELED;
	/* Every wait awaits a run-down: all end now. */
	while ((w = TAILQ_FIRST(&blk->waiters)) != NULL)
		registry_end_wait(w, err);
	if (force)
		log_peer_info("%s: freed by force by %s, state %s, %u rows "
		    "attached", blk->tagstr, who, rundown_state_name(s),
		    blk->attached);
	else
		log_peer_info("%s: freed", blk->tagstr);
	for (r = 0; r < blk->lay.rows; r++)
		if (blk->rows[r].owner != NULL || blk->live[r])
			registry_release_row(blk, r);
	registry_forget(blk);
	return 0;
}

/* Unlinks and forgets a block that no wait names and whose rows are all
 * given back.  Never waits: a watcher still asleep on the block is told
 * to stop, and the mapping goes with it. */
void
registry_forget(struct shm_block *blk)
{
	char name[SHM_PART_MAX];
	uint32_t r;

	event_del(blk->settle_ev);
	registry_fence_drop(blk);
	for (r = 0; r < blk->lay.rows; r++)
		if (blk->rows[r].owner != NULL)
			registry_release_row(blk, r);
	registry_meta_name(blk->name, name, sizeof(name));
	shm_unlink(name);
	shm_unlink(blk->name);
	TAILQ_REMOVE(&blocks, blk, entry);
	nblocks--;
	watcher_free(blk->watcher, registry_unmap, blk);
}
