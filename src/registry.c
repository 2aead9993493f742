/*
 * registry.c: the blocks rundownd keeps, one POSIX shared-memory object per
 * tag, and the control operations on them.
 *
 * The daemon is the only party that starts, harvests, completes and
 * re-initializes a shared block, all on the loop's thread, so a harvest is
 * never left half done while the daemon runs and reclaiming a dead row
 * (block_row_free) sees nothing else write it.  Clients only acquire
 * and release on their own rows.
 *
 * Everything the algorithm needs lives in the shared memory (state, rows,
 * row owners), so a restarted daemon re-adopts the objects it finds; what
 * lives here is bookkeeping: which process holds which row, pending waits,
 * and counts of what was reclaimed.  The block's encoding is lib/block.c's
 * alone: this file reads and writes a block only through block_*(), and
 * keeps a state word only to compare it with another or to pass it back.
 *
 * A block's owner and mode (who may attach, who may run it down; checked
 * by control.c) are not in the block's header, which every attached
 * process can write: they live in a second object, "NAME.perm", that no
 * client is ever given, so that a restarted daemon reads them as the
 * creator set them.  One missing or not ours is read as the daemon's own,
 * mode 0600: a lost owner fails closed.
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

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "cache.h"
#include "fence.h"
#include "guard.h"
#include "log.h"
#include "reaper.h"
#include "registry.h"
#include "rundownd.h"
#include "watcher.h"

/* glibc's sys/queue.h lacks the _SAFE forms. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

struct waiter {
	TAILQ_ENTRY(waiter) entry;	/* the block's */
	TAILQ_ENTRY(waiter) mine;	/* its caller's (ws) */
	struct shm_block *blk;
	struct registry_waits *ws;
	uint32_t cookie;
	struct event *timer;
};

/* "/", the prefix, 8 + 1 + 16 digits, NUL (registry_name()). */
#define SHM_NAME_MAX (PROTO_SHM_PREFIX_MAX + 27)

/* A block the daemon keeps in shared memory (lib/block.c's struct
 * rundown_block is what lies in the mapping). */
struct shm_block {
	TAILQ_ENTRY(shm_block) entry;
	uint32_t tag;
	char tagstr[RUNDOWN_TAG_BUFSZ];
	char name[SHM_NAME_MAX]; /* shared-memory object */
	int fd;
	struct rundown_block *b;
	size_t size;
	uint32_t serial;	/* the header's, as checked: tells this block
				 * from a later one with the tag */
	struct block_layout lay; /* the shape every loop and address uses */
	struct holder **owner;	/* per row: who holds it, or NULL */
	uid_t *row_uid;		/* per row: its holder's uid, (uid_t)-1 if
				 * unknown (adopted) */
	uid_t uid;		/* owner: the creator */
	gid_t gid;
	uint32_t mode;		/* permission bits, 0777 at most */
	uint32_t attached;
	uint64_t reclaimed_rows;
	uint64_t reclaimed;
	uint64_t restores;	/* headers registry_restore_header() put back */
	int guard;		/* its slot in guard.c */
	uint64_t resizes;	/* sizes registry_restore_size() put back */
	uint64_t resizes_logged; /* resizes + faults when last logged */
	uint64_t faults_seen;	/* guard_faults() at the last size check */
	/* Pending waits, all of the run-down whose state word is
	 * wait_word: a wait for a later run-down ends the earlier ones
	 * first (registry_wait), so settling looks at one word, not at
	 * every wait. */
	struct registry_waitq waiters;
	uint32_t wait_word;
	struct watcher *watcher;
	struct event *settle_ev; /* registry_settle() on the next turn */
	/* The run-down this daemon started, until its end is logged: its
	 * state word, when it began, and reclaimed_rows then.  The watcher
	 * stays armed meanwhile, waits or not, so the end is seen when it
	 * happens. */
	bool rd_timed;
	uint32_t rd_word;
	struct timespec rd_since;
	uint64_t rd_reclaimed_rows;
};

/* Every block has its slot in guard.c. */
_Static_assert(GUARD_MAX >= PROTO_MAX_ENTRIES, "GUARD_MAX < blocks");

static TAILQ_HEAD(, shm_block) blocks = TAILQ_HEAD_INITIALIZER(blocks);
static size_t nblocks;
static char shm_prefix[PROTO_SHM_PREFIX_MAX];
static const struct config *cfg;
/* What clients are told of every block (the attach reply's bflags):
 * BLOCK_F_RSEQ if this daemon's fence reaches every CPU. */
static uint32_t client_bflags;
static uint64_t fence_misses;	/* fence_missed() as last seen */
static struct event_base *base;

static void registry_settle(void *arg);
static void registry_restore_header(struct shm_block *blk);
static void registry_forget(struct shm_block *blk);

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
	log_peer_info("%s: run-down started by %s", blk->tagstr, who);
	blk->rd_timed = true;
	blk->rd_word = s;
	clock_gettime(CLOCK_MONOTONIC, &blk->rd_since);
	blk->rd_reclaimed_rows = blk->reclaimed_rows;
}

/* Logs the end of the timed run-down once the state word s has moved on
 * from it: how long it took, and how many holders, gone meanwhile, were
 * reclaimed.  A word that went elsewhere than drained or completed was a
 * client's write (only the daemon re-initializes). */
static void
registry_rundown_ended(struct shm_block *blk, uint32_t s)
{
	unsigned long long rows;
	struct timespec now;
	long long ms;

	if (!blk->rd_timed || s == blk->rd_word)
		return;
	blk->rd_timed = false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - blk->rd_since.tv_sec) * 1000 +
	    (now.tv_nsec - blk->rd_since.tv_nsec) / 1000000;
	rows = (unsigned long long)(blk->reclaimed_rows -
	    blk->rd_reclaimed_rows);
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
 * After a run-down's fence: if the walk could not reach every online CPU
 * (the daemon's cpuset shrank since start-up), clients running there may
 * commit after the harvest.  Said once, and from then on clients that
 * attach take the atomic path, which needs no fence.
 */
static void
registry_fence_check(struct shm_block *blk)
{
	uint64_t m = fence_missed();

	if (m == fence_misses)
		return;
	fence_misses = m;
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

	if (TAILQ_EMPTY(&blk->waiters) && !blk->rd_timed)
		return;
	s = block_settle(blk->b, &blk->lay, &word, &value);
	registry_rundown_ended(blk, s);
	if (blk->wait_word != s) {
		while ((w = TAILQ_FIRST(&blk->waiters)) != NULL)
			registry_end_wait(w, 0);
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

int
registry_wait(struct shm_block *blk, uint32_t timeout_ms,
    struct registry_waits *ws, uint32_t cookie, const char *who)
{
	struct timeval tv;
	struct waiter *w, *w2;
	uint32_t s;

	/* Starts the run-down if the block is open (harvesting every row
	 * here, on the loop, so it is never left half done). */
	if (block_begin_harvest(blk->b, &blk->lay, &s) == 0) {
		registry_fence_check(blk);
		registry_rundown_started(blk, s, who);
	}
	if (block_word_state(s) != RUNDOWN_RUNNING_DOWN ||
	    block_word(blk->b) != s) {
		/* Drained.  Waits still pending for it (the watcher's poke
		 * not yet handled) are answered first, so that a connection
		 * gets its answers in the order it asked. */
		registry_settle(blk);
		return 0;
	}
	if (timeout_ms == 0) {
		/* A poll: started, not drained; the watcher sees the end. */
		registry_settle(blk);
		return -ETIMEDOUT;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->blk = blk;
	w->ws = ws;
	w->cookie = cookie;
	if (timeout_ms != PROTO_NO_TIMEOUT) {
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

struct shm_block *
registry_find(uint32_t tag)
{
	struct shm_block *blk;

	TAILQ_FOREACH(blk, &blocks, entry) {
		if (blk->tag == tag) {
			registry_restore_header(blk);
			return blk;
		}
	}
	return NULL;
}

/*
 * A new object's name: the prefix, the tag, and 64 random bits.  Anybody
 * may create objects in /dev/shm, so a name others could foresee is one
 * they could take first and deny the tag for good (EEXIST).  The tag in
 * the name is for people and for registry_adopt(); the daemon finds a
 * block by its list, never by name.
 */
static int
registry_name(uint32_t tag, char *buf, size_t size)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		return -errno;
	snprintf(buf, size, "/%s%08x.%016llx", shm_prefix, tag,
	    (unsigned long long)v);
	return 0;
}

/* Tracks a mapped block, its mapping guarded from here on. */
static struct shm_block *
registry_add(uint32_t tag, const char *name, int fd, struct rundown_block *b,
    const struct block_layout *l, uint32_t serial)
{
	struct shm_block *blk;

	if ((blk = calloc(1, sizeof(*blk))) == NULL)
		return NULL;
	if ((blk->guard = guard_add(b, l->size, fd)) < 0) {
		free(blk);
		return NULL;
	}
	blk->tag = tag;
	rundown_tag_format(tag, blk->tagstr);
	if ((blk->owner = calloc(l->rows, sizeof(*blk->owner))) == NULL ||
	    (blk->row_uid = calloc(l->rows, sizeof(*blk->row_uid))) == NULL ||
	    (blk->watcher = watcher_new(blk->tagstr, registry_settle,
	    blk)) == NULL ||
	    (blk->settle_ev = event_new(base, -1, 0, registry_settle_later,
	    blk)) == NULL) {
		if (blk->watcher != NULL)
			watcher_free(blk->watcher, NULL, NULL);
		guard_remove(blk->guard);
		free(blk->row_uid);
		free(blk->owner);
		free(blk);
		return NULL;
	}
	snprintf(blk->name, sizeof(blk->name), "%s", name);
	blk->fd = fd;
	blk->b = b;
	blk->size = l->size;
	blk->lay = *l;
	/* The header as it must read is what was checked (blk->lay, tag,
	 * serial), never the header again: a client may be rewriting it
	 * right now. */
	blk->serial = serial;
	TAILQ_INIT(&blk->waiters);
	TAILQ_INSERT_TAIL(&blocks, blk, entry);
	nblocks++;
	return blk;
}

/*
 * Puts back the object's size if an attached process changed it.  Shrunk,
 * the next process to attach would fault past its end (the daemon itself
 * is kept by guard.c, which puts the size back when it faults); grown, it
 * only wastes memory.  What was cut off reads as zeros again, the same as
 * if the client had written zeros, which it may.
 */
static void
registry_restore_size(struct shm_block *blk, bool force)
{
	uint64_t n, faults = guard_faults(blk->guard);
	struct stat st;

	/*
	 * Looked at before a process attaches (force), so that it finds the
	 * block whole, and after the guard has repaired a fault of the
	 * daemon's (a cut it met); not on every request, where the fstat()
	 * costs more than the request.  Cuts the daemon does not meet harm
	 * only the processes that made them (rundownd(8)).
	 */
	if ((force || faults != blk->faults_seen) &&
	    fstat(blk->fd, &st) == 0 && st.st_size != (off_t)blk->size &&
	    ftruncate(blk->fd, (off_t)blk->size) == 0)
		blk->resizes++;
	blk->faults_seen = faults;
	/* Logged when the count passes 1, 2, 4, 8...: a client that keeps
	 * at it must not fill the log. */
	n = blk->resizes + faults;
	if (n != blk->resizes_logged &&
	    (1ull << (63 - __builtin_clzll(n))) > blk->resizes_logged)
		log_warnx("%s: size of the shared object changed by a client; "
		    "restored (%llu times)", blk->tagstr, (unsigned long long)n);
	blk->resizes_logged = n;
}

/*
 * Puts back the header's geometry if an attached process overwrote it.
 * Every process attached to a block can write all of it.  The daemon
 * itself never indexes its mapping by the header (every loop and address
 * goes by blk->lay, so a rewrite racing this is harmless to it); the
 * restore is for the processes that attach next, whose check against the
 * daemon's answer would otherwise refuse the block (-EPROTO).
 */
static void
registry_restore_header(struct shm_block *blk)
{
	registry_restore_size(blk, false);
	if (!block_set_header(blk->b, &blk->lay, blk->tag, blk->serial))
		return;
	/* Logged the 1st, 2nd, 4th, 8th... time: a client that keeps at it
	 * must not fill the log. */
	blk->restores++;
	if ((blk->restores & (blk->restores - 1)) == 0)
		log_warnx("%s: header overwritten by a client; restored (%llu "
		    "times)", blk->tagstr, (unsigned long long)blk->restores);
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

/* What "NAME.perm" holds. */
struct registry_perm {
	uint32_t magic;
	uint32_t serial;	/* of the block it belongs to */
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;
	uint32_t reserved;
};

#define REGISTRY_PERM_MAGIC 0x4d524550u	/* "PERM" */

static void
registry_perm_name(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s.perm", name);
}

/* Writes blk's owner and mode where no client can reach them: 0 or
 * -errno. */
static int
registry_perm_write(struct shm_block *blk)
{
	struct registry_perm p = {
		.magic = REGISTRY_PERM_MAGIC, .serial = blk->serial,
		.uid = blk->uid, .gid = blk->gid, .mode = blk->mode,
	};
	char name[SHM_NAME_MAX + sizeof(".perm") - 1];
	int fd, r = 0;

	registry_perm_name(blk->name, name, sizeof(name));
	shm_unlink(name);	/* a stale one; one of another user stays and
				 * makes O_EXCL fail */
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) != 0 ||
	    pwrite(fd, &p, sizeof(p), 0) != (ssize_t)sizeof(p)) {
		r = errno != 0 ? -errno : -EIO;
		shm_unlink(name);
	}
	close(fd);
	return r;
}

/* Reads blk's owner and mode back, or sets the daemon's own, 0600. */
static void
registry_perm_read(struct shm_block *blk)
{
	struct registry_perm p;
	struct stat st;
	char name[SHM_NAME_MAX + sizeof(".perm") - 1];
	int fd;

	registry_perm_name(blk->name, name, sizeof(name));
	blk->uid = geteuid();
	blk->gid = getegid();
	blk->mode = 0600;
	if ((fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0)) < 0)
		goto lost;
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 || st.st_size != (off_t)sizeof(p) ||
	    pread(fd, &p, sizeof(p), 0) != (ssize_t)sizeof(p) ||
	    p.magic != REGISTRY_PERM_MAGIC || p.serial != blk->serial ||
	    (p.mode & ~PROTO_MODE_MASK) != 0 || p.reserved != 0) {
		close(fd);
		goto lost;
	}
	close(fd);
	blk->uid = p.uid;
	blk->gid = p.gid;
	blk->mode = p.mode;
	return;
lost:
	log_warnx("%s: owner and mode lost; the daemon's own now, mode 0600",
	    blk->tagstr);
}

/* Creates the shared-memory object for tag, owned by uid and gid with
 * mode: 0 or -errno. */
int
registry_create(uint32_t tag, uint32_t rows, uid_t uid, gid_t gid,
    uint32_t mode, struct shm_block **out)
{
	struct block_layout l;
	struct rundown_block *b;
	struct shm_block *blk;
	char name[SHM_NAME_MAX];
	uint32_t serial;
	int fd, r;

	if ((mode & ~PROTO_MODE_MASK) != 0)
		return -EINVAL;

	if (rows == 0)
		rows = cfg->default_rows;
	if (rows > cfg->max_rows ||
	    block_layout(cache_cpus(), rows, &l) != 0)
		return -EINVAL;
	l.flags = BLOCK_F_RSEQ;		/* see registry_init() */
	TAILQ_FOREACH(blk, &blocks, entry) {
		if (blk->tag == tag)
			return -EEXIST;
	}
	if (nblocks >= cfg->max_blocks)
		return -ENOSPC;
	/* O_EXCL: an object already there is never ours to use.  Another
	 * name is drawn; 64 random bits collide only by design of someone
	 * who can read the directory, and then not forever. */
	for (r = 0; r < 16; r++) {
		if ((fd = registry_name(tag, name, sizeof(name))) != 0)
			return fd;
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -errno;
	/* Explicit mode: the umask must not widen or narrow it. */
	if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)l.size) != 0)
		goto fail;
	b = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		goto fail;
	block_format(b, &l, tag);
	serial = registry_serial();
	(void)block_set_header(b, &l, tag, serial);
	if ((*out = registry_add(tag, name, fd, b, &l, serial)) == NULL) {
		munmap(b, l.size);
		errno = ENOMEM;
		goto fail;
	}
	(*out)->uid = uid;
	(*out)->gid = gid;
	(*out)->mode = mode;
	if ((r = registry_perm_write(*out)) != 0) {
		log_warnx("%s: cannot keep its owner and mode: %s",
		    (*out)->tagstr, strerror(-r));
		registry_forget(*out);
		return r;
	}
	log_peer_info("%s: created, %u rows of %u CPUs, uid %lu gid %lu mode %03o",
	    (*out)->tagstr, rows, l.cpus, (unsigned long)uid,
	    (unsigned long)gid, mode);
	return 0;
fail:
	r = -errno;
	shm_unlink(name);
	close(fd);
	return r;
}

/* Gives row back: what it held is released.  The row's process is gone
 * (or asked for it), so nothing else writes the row. */
static int64_t
registry_release_row(struct shm_block *blk, uint32_t row)
{
	int64_t held = block_row_free(blk->b, &blk->lay, row);

	if (blk->owner[row] != NULL) {
		reaper_put(blk->owner[row]);
		blk->owner[row] = NULL;
		blk->attached--;
	}
	return held;
}

/* Reclaims a row whose process is gone, and says so. */
static void
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
		registry_restore_header(blk);
		for (r = 0; r < blk->lay.rows; r++) {
			if (blk->owner[r] == h)
				registry_reclaim(blk, r, reaper_pid(h),
				    reaper_comm(h));
		}
	}
}

/* Maps and checks an object found at start-up: entry is the prefix, the
 * tag in 8 hex digits, and (unless an older daemon named it) "." and 16
 * more. */
static void
registry_adopt_one(const char *entry)
{
	struct block_layout l;
	struct rundown_block *b, h;
	struct shm_block *blk;
	struct holder *p;
	struct stat st;
	char name[300], tagstr[RUNDOWN_TAG_BUFSZ];
	uint32_t tag, r, serial;
	uint64_t start;
	unsigned int v;
	pid_t pid;
	int fd, err;

	if (sscanf(entry + strlen(shm_prefix), "%8x", &v) != 1)
		return;
	tag = v;
	rundown_tag_format(tag, tagstr);
	snprintf(name, sizeof(name), "/%s", entry);
	if ((fd = shm_open(name, O_RDWR | O_CLOEXEC, 0)) < 0) {
		log_warn("%s: cannot open %s", tagstr, name);
		return;
	}
	/* Ours alone, or somebody else planted it: left alone. */
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		goto bad;
	/* The header read once, into h: a live client may be writing, or
	 * cutting the object short (a mapping would fault). */
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    (err = block_header_check(&h, tag, &l, &serial)) == -EBADMSG) {
		/* Ours, but cut short or wiped by a client while no daemon
		 * ran: nothing in it can be trusted, and nobody can attach. */
		log_warnx("%s: %s was cut short or its header wiped; removed",
		    tagstr, name);
		shm_unlink(name);
		close(fd);
		return;
	}
	if (err != 0 || l.rows > cfg->max_rows)
		goto bad;
	l.flags = BLOCK_F_RSEQ;		/* see registry_init() */
	TAILQ_FOREACH(blk, &blocks, entry) {
		if (blk->tag == tag) {
			log_warnx("%s: %s is a second block of the tag; left "
			    "alone", tagstr, name);
			close(fd);
			return;
		}
	}
	if (nblocks >= cfg->max_blocks) {
		log_warnx("%s: over the limit of %u blocks; not adopted",
		    tagstr, cfg->max_blocks);
		close(fd);
		return;
	}
	/* Cut short or grown by a client: the layout's size again (what was
	 * cut off reads as zeros). */
	if (st.st_size != (off_t)l.size) {
		if (ftruncate(fd, (off_t)l.size) != 0)
			goto bad;
		log_warnx("%s: size of %s changed by a client; restored",
		    tagstr, name);
	}
	b = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		goto bad;
	if ((blk = registry_add(tag, name, fd, b, &l, serial)) == NULL) {
		munmap(b, l.size);
		goto bad;
	}
	registry_perm_read(blk);
	/* The header as checked, in case it changed since. */
	registry_restore_header(blk);

	/* Finish what a previous daemon may have left half done: a
	 * re-initialize, or a harvest (repeating one adds each row once). */
	(void)block_recover(b, &blk->lay);
	/* Rows of processes that live on stay theirs; the rest are
	 * reclaimed, since their processes exited while nobody watched. */
	for (r = 0; r < blk->lay.rows; r++) {
		if ((pid = block_row_owner(b, r, &start)) == 0)
			continue;
		p = reaper_get(pid, start, &err);
		if (p != NULL) {
			blk->owner[r] = p;
			blk->row_uid[r] = (uid_t)-1;
			blk->attached++;
		} else if (err == -EMFILE || err == -ENFILE ||
		    err == -ENOMEM) {
			/* Alive or not, it cannot be told now: reclaiming
			 * could end a wait while it holds protection.  The
			 * row stays taken (its owner field is not 0) until
			 * the next daemon looks again. */
			errno = -err;
			log_warn("%s: cannot watch pid %ld, owner of row %u; "
			    "row kept", tagstr, (long)pid, r);
		} else {
			/* No process with that id and start time can be
			 * watched (gone, a thread that leads no process, an
			 * id a client scribbled): no process holds the row.
			 * Nothing written into a block may keep the daemon
			 * from starting. */
			registry_reclaim(blk, r, pid, "gone");
		}
	}
	log_info("%s: adopted, state %s, %u of %u rows attached", tagstr,
	    rundown_state_name(block_word_state(block_word(b))),
	    blk->attached, blk->lay.rows);
	return;
bad:
	log_warnx("%s: %s is not a block of ours, or not of this version; "
	    "left alone", tagstr, name);
	close(fd);
}

void
registry_adopt(void)
{
	static const char hex[] = "0123456789abcdef";
	size_t n, plen = strlen(shm_prefix);
	struct dirent *de;
	DIR *d;

	/* POSIX shared memory is /dev/shm on Linux. */
	if ((d = opendir("/dev/shm")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (strncmp(de->d_name, shm_prefix, plen) == 0 &&
		    strspn(de->d_name + plen, hex) == 8 &&
		    (n == plen + 8 || (n == plen + 8 + 1 + 16 &&
		    de->d_name[plen + 8] == '.' &&
		    strspn(de->d_name + plen + 9, hex) == 16)))
			registry_adopt_one(de->d_name);
	}
	closedir(d);
}

void
registry_stop(void)
{
	watcher_shutdown();
}

void
registry_init(const struct config *c, struct event_base *b)
{
	cfg = c;
	base = b;
	proto_shm_prefix(cfg->socket_path, shm_prefix, sizeof(shm_prefix));
	if ((errno = -guard_init()) != 0)
		fatal("cannot guard the blocks' mappings");
	/*
	 * Clients commit in the rseq words of a block only if its run-down
	 * fences them, which for processes other than this one means running
	 * on every CPU (lib/fence.h).  Every run-down here fences (each
	 * block's layout has BLOCK_F_RSEQ), whatever the clients were told:
	 * clients attached under a previous daemon may be using the words.
	 * Confined to fewer CPUs, the daemon tells new clients to take the
	 * atomic path.
	 */
	if (fence_cpus_reach(cache_cpus()))
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
		if (blk->owner[r] == NULL)
			continue;
		ph = &out[n++];
		memset(ph, 0, sizeof(*ph));
		ph->pid = reaper_pid(blk->owner[r]);
		ph->row = r;
		held = block_row_held(blk->b, &blk->lay, r);
		ph->outstanding = held > 0 ? (uint64_t)held : 0;
		snprintf(ph->comm, sizeof(ph->comm), "%s",
		    reaper_comm(blk->owner[r]));
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
		registry_restore_header(blk);
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

int
registry_attach(struct shm_block *blk, pid_t pid, uint64_t start, uid_t uid,
    struct proto_attached *a, int *fd)
{
	struct holder *p;
	uint32_t r, free_row = UINT32_MAX, mine = 0, theirs = 0;
	bool capped;
	int err;

	registry_restore_size(blk, true);
	/* Root and the daemon's user are not capped, nor is the block's
	 * owner per uid: the caps keep others from taking the owner's rows. */
	capped = uid != 0 && uid != geteuid();
	for (r = 0; r < blk->lay.rows; r++) {
		if (blk->owner[r] == NULL) {
			if (free_row == UINT32_MAX &&
			    block_row_owner(blk->b, r, NULL) == 0)
				free_row = r;
			continue;
		}
		if (reaper_pid(blk->owner[r]) == pid)
			mine++;
		if (blk->row_uid[r] == uid)
			theirs++;
	}
	if (capped && (mine >= cfg->max_proc_rows ||
	    (uid != blk->uid && theirs >= registry_uid_cap(blk)))) {
		log_debug("%s: pid %ld uid %lu over its rows (%u of the "
		    "process, %u of the user)", blk->tagstr, (long)pid,
		    (unsigned long)uid, mine, theirs);
		return -EDQUOT;
	}
	if ((r = free_row) == UINT32_MAX)
		return -ENOSPC;
	if ((p = reaper_get(pid, start, &err)) == NULL)
		return err;
	blk->owner[r] = p;
	blk->row_uid[r] = uid;
	blk->attached++;
	block_row_claim(blk->b, r, pid, reaper_start(p));
	memset(a, 0, sizeof(*a));
	a->tag = blk->tag;
	a->row = r;
	a->cpus = blk->lay.cpus;
	a->rows = blk->lay.rows;
	a->size = blk->size;
	a->serial = blk->serial;
	a->bflags = client_bflags;
	*fd = blk->fd;
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
	if (row >= blk->lay.rows || blk->owner[row] == NULL ||
	    reaper_pid(blk->owner[row]) != pid)
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

/* Unmaps a freed block, once no watcher thread can touch it. */
static void
registry_unmap(void *arg)
{
	struct shm_block *blk = arg;

	guard_remove(blk->guard);
	munmap(blk->b, blk->size);
	close(blk->fd);
	free(blk->row_uid);
	free(blk->owner);
	free(blk);
}

/* Removes a block: run down, or open with nobody attached. */
int
registry_free(struct shm_block *blk)
{
	enum rundown_state s = block_word_state(block_state(blk->b, &blk->lay));
	struct waiter *w;

	if (!(s == RUNDOWN_DRAINED || s == RUNDOWN_COMPLETED ||
	    (s == RUNDOWN_OPEN && blk->attached == 0)))
		return -EBUSY;
	registry_rundown_ended(blk, block_word(blk->b));
	/* Every wait awaits a run-down, and the state said that none runs:
	 * all end, whatever a client writes into the word meanwhile. */
	while ((w = TAILQ_FIRST(&blk->waiters)) != NULL)
		registry_end_wait(w, 0);
	log_peer_info("%s: freed", blk->tagstr);
	registry_forget(blk);
	return 0;
}

/* Unlinks and forgets a block that no wait names.  Never waits: a
 * watcher still asleep on the block (a client changed the state word
 * without a wake) is told to stop, and the mapping goes with it. */
static void
registry_forget(struct shm_block *blk)
{
	char name[SHM_NAME_MAX + sizeof(".perm") - 1];
	uint32_t r;

	event_free(blk->settle_ev);
	for (r = 0; r < blk->lay.rows; r++) {
		if (blk->owner[r] != NULL)
			reaper_put(blk->owner[r]);
	}
	registry_perm_name(blk->name, name, sizeof(name));
	shm_unlink(name);
	shm_unlink(blk->name);
	TAILQ_REMOVE(&blocks, blk, entry);
	nblocks--;
	watcher_free(blk->watcher, registry_unmap, blk);
}
