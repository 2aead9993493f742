/*
 * registry.c: the blocks rundownd keeps, one POSIX shared-memory object per
 * tag, and the control operations on them.
 *
 * The daemon is the only party that starts, harvests, completes and
 * re-initializes a shared block, all on the loop's thread, so a harvest is
 * never left half done while the daemon runs and reclaiming a dead row
 * (block_reclaim_row) sees nothing else write it.  Clients only acquire
 * and release on their own rows.
 *
 * Everything the algorithm needs lives in the shared memory (state, rows,
 * row owners), so a restarted daemon re-adopts the objects it finds; what
 * lives here is bookkeeping: which process holds which row, pending waits,
 * and counts of what was reclaimed.
 *
 * Waits: the loop never blocks.  A block with pending waits has a watcher
 * thread that sleeps on the block's state futex and, when the state moves
 * off the run-down it watched, writes a byte to a pipe; the loop then
 * answers the waiters of that run-down.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "futex.h"
#include "log.h"
#include "rundownd.h"

/* glibc's sys/queue.h lacks the _SAFE forms. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

/* Watcher thread states (atomic). */
#define WATCH_NONE 0u
#define WATCH_RUNNING 1u
#define WATCH_EXITED 2u

struct waiter {
	TAILQ_ENTRY(waiter) entry;
	struct block *blk;
	struct conn *conn;
	uint32_t id;
	uint32_t word;		/* the state word of the run-down awaited */
	struct event *timer;
};

struct block {
	TAILQ_ENTRY(block) entry;
	uint32_t tag;
	char tagstr[RUNDOWN_TAG_BUFSZ];
	char name[64];		/* shared-memory object */
	int fd;
	struct rundown_block *b;
	size_t size;
	struct rundown_block geom; /* the header as checked (geometry, serial) */
	struct block_layout lay; /* the shape every loop and address uses */
	struct proc **owner;	/* per row: who holds it, or NULL */
	uint32_t attached;
	uint64_t reclaimed_rows;
	uint64_t reclaimed;
	uint64_t restores;	/* times registry_trust() found the header changed */
	TAILQ_HEAD(, waiter) waiters;
	pthread_t thread;
	uint32_t watch;		/* WATCH_* */
};

static TAILQ_HEAD(, block) blocks = TAILQ_HEAD_INITIALIZER(blocks);
static size_t nblocks;
static char shm_prefix[PROTO_SHM_PREFIX_MAX];
static int notify_pipe[2] = { -1, -1 };
static struct event *notify_ev;
static struct event *retry_ev;	/* a watcher could not be started */

static void registry_settle(struct block *blk);

static struct block *
registry_find(uint32_t tag)
{
	struct block *blk;

	TAILQ_FOREACH(blk, &blocks, entry) {
		if (blk->tag == tag)
			return blk;
	}
	return NULL;
}

size_t
registry_count(void)
{
	return nblocks;
}

/* ---- drain watchers --------------------------------------------------- */

/* Sleeps until the block leaves the run-down it was started for. */
static void *
registry_watch(void *arg)
{
	struct block *blk = arg;
	uint32_t *state = &blk->b->state;
	uint32_t start = rd_load(state, RD_ACQUIRE), s = start;
	char c = 1;

	/* Every transition off RUNDOWN changes the word and wakes (block.c),
	 * so this cannot sleep through one. */
	while (s == start && (s & ST_MASK) == ST_RUNDOWN) {
		futex_wait(state, s, NULL);
		s = rd_load(state, RD_ACQUIRE);
	}
	/* release: the loop that reads WATCH_EXITED may join at once. */
	rd_store(&blk->watch, WATCH_EXITED, RD_RELEASE);
	if (write(notify_pipe[1], &c, 1) < 0) {
		/* Full pipe: a wake-up is already pending; the loop scans
		 * every block when it drains the pipe. */
	}
	return NULL;
}

/* Joins a watcher that has finished. */
static void
registry_join(struct block *blk)
{
	if (rd_load(&blk->watch, RD_ACQUIRE) == WATCH_NONE)
		return;
	pthread_join(blk->thread, NULL);
	rd_store(&blk->watch, WATCH_NONE, RD_RELAXED);
}

/* A watcher said a state changed: answer waits, restart watchers. */
static void
registry_notified(int fd, short events, void *arg)
{
	struct block *blk, *next;
	char buf[64];

	(void)events;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	TAILQ_FOREACH_SAFE(blk, &blocks, entry, next) {
		if (rd_load(&blk->watch, RD_ACQUIRE) == WATCH_EXITED) {
			registry_join(blk);
			registry_settle(blk);
		}
	}
}

/* Settles every block again after a watcher failed to start. */
static void
registry_retry(int fd, short events, void *arg)
{
	struct block *blk, *next;

	(void)fd;
	(void)events;
	(void)arg;
	TAILQ_FOREACH_SAFE(blk, &blocks, entry, next)
		registry_settle(blk);
}

/* Starts a watcher for a block with waits, unless one runs. */
static void
registry_watch_start(struct block *blk)
{
	pthread_attr_t attr;
	int r;

	if (rd_load(&blk->watch, RD_ACQUIRE) != WATCH_NONE)
		return;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	rd_store(&blk->watch, WATCH_RUNNING, RD_RELAXED);
	r = pthread_create(&blk->thread, &attr, registry_watch, blk);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		/* The waits stay pending; try again shortly rather than miss
		 * a drain that only a watcher would see. */
		struct timeval tv = { 0, 100 * 1000 };

		rd_store(&blk->watch, WATCH_NONE, RD_RELAXED);
		errno = r;
		log_warn("%s: cannot start a drain watcher; retrying",
		    blk->tagstr);
		evtimer_add(retry_ev, &tv);
	}
}

/* ---- waits ------------------------------------------------------------ */

static void
registry_waiter_free(struct waiter *w)
{
	TAILQ_REMOVE(&w->blk->waiters, w, entry);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

/* Answers every wait whose run-down has ended, and keeps a watcher for
 * the rest. */
static void
registry_settle(struct block *blk)
{
	uint32_t s = rd_load(&blk->b->state, RD_ACQUIRE);
	struct waiter *w, *next;
	struct proto_ok ok = { 0 };

	TAILQ_FOREACH_SAFE(w, &blk->waiters, entry, next) {
		if (w->word == s)
			continue;
		server_reply(w->conn, PROTO_OK, w->id, &ok, sizeof(ok), -1);
		registry_waiter_free(w);
	}
	if (!TAILQ_EMPTY(&blk->waiters))
		registry_watch_start(blk);
}

static void
registry_wait_timeout(int fd, short events, void *arg)
{
	struct waiter *w = arg;

	(void)fd;
	(void)events;
	server_error(w->conn, w->id, ETIMEDOUT);
	registry_waiter_free(w);
}

void
registry_conn_closed(struct conn *c)
{
	struct block *blk;
	struct waiter *w, *next;

	TAILQ_FOREACH(blk, &blocks, entry) {
		TAILQ_FOREACH_SAFE(w, &blk->waiters, entry, next) {
			if (w->conn == c)
				registry_waiter_free(w);
		}
	}
}

/* ---- blocks ----------------------------------------------------------- */

static void
registry_name(uint32_t tag, char *buf, size_t size)
{
	snprintf(buf, size, "/%s%08x", shm_prefix, tag);
}

/* Tracks a mapped block. */
static struct block *
registry_add(uint32_t tag, int fd, struct rundown_block *b,
    const struct block_layout *l, uint32_t serial)
{
	struct block *blk;

	if ((blk = calloc(1, sizeof(*blk))) == NULL)
		return NULL;
	if ((blk->owner = calloc(l->rows, sizeof(*blk->owner))) == NULL) {
		free(blk);
		return NULL;
	}
	blk->tag = tag;
	rundown_tag_format(tag, blk->tagstr);
	registry_name(tag, blk->name, sizeof(blk->name));
	blk->fd = fd;
	blk->b = b;
	blk->size = l->size;
	blk->lay = *l;
	/* The header as it must read, from what was checked, not from the
	 * header again: a client may be rewriting it right now. */
	block_format_header(&blk->geom, l, tag);
	blk->geom.serial = serial;
	TAILQ_INIT(&blk->waiters);
	TAILQ_INSERT_TAIL(&blocks, blk, entry);
	nblocks++;
	return blk;
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
registry_trust(struct block *blk)
{
	struct rundown_block *b = blk->b, *g = &blk->geom;
	size_t fixed = offsetof(struct rundown_block, state); /* magic..slots_off */

	if (memcmp(b, g, fixed) == 0 && b->serial == g->serial)
		return;
	/* Logged the 1st, 2nd, 4th, 8th... time: a client that keeps at it
	 * must not fill the log. */
	blk->restores++;
	if ((blk->restores & (blk->restores - 1)) == 0)
		log_warnx("%s: header overwritten by a client; restored (%llu "
		    "times)", blk->tagstr, (unsigned long long)blk->restores);
	memcpy(b, g, fixed);
	b->serial = g->serial;
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

/* Creates the shared-memory object for tag: 0 or -errno. */
static int
registry_create(uint32_t tag, uint32_t rows, struct block **out)
{
	struct block_layout l;
	struct rundown_block *b;
	char name[64];
	int fd, r;

	if (rows == 0)
		rows = cfg.default_rows;
	if (rows > cfg.max_rows ||
	    block_layout(cache_cpus(), rows, &l) != 0)
		return -EINVAL;
	if (registry_find(tag) != NULL)
		return -EEXIST;
	if (nblocks >= cfg.max_blocks)
		return -ENOSPC;
	registry_name(tag, name, sizeof(name));
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Explicit mode: the umask must not widen or narrow it. */
	if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)l.size) != 0)
		goto fail;
	b = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		goto fail;
	block_format(b, &l, tag);
	b->serial = registry_serial();
	if ((*out = registry_add(tag, fd, b, &l, b->serial)) == NULL) {
		munmap(b, l.size);
		errno = ENOMEM;
		goto fail;
	}
	log_info("%s: created, %u rows of %u CPUs", (*out)->tagstr, rows,
	    l.cpus);
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
registry_release_row(struct block *blk, uint32_t row)
{
	int64_t held = block_reclaim_row(blk->b, &blk->lay, row);

	rd_store(&blk->b->row[row].owner, 0, RD_RELAXED);
	blk->b->row[row].start = 0;
	if (blk->owner[row] != NULL) {
		proc_put(blk->owner[row]);
		blk->owner[row] = NULL;
		blk->attached--;
	}
	return held;
}

/* Reclaims a row whose process is gone, and says so. */
static void
registry_reclaim(struct block *blk, uint32_t row, pid_t pid, const char *comm)
{
	int64_t held = registry_release_row(blk, row);

	blk->reclaimed_rows++;
	if (held > 0)
		blk->reclaimed += (uint64_t)held;
	if (held != 0)
		log_info("%s: pid %ld (%s) exited holding %lld; reclaimed row %u",
		    blk->tagstr, (long)pid, comm, (long long)held, row);
	else
		log_debug("%s: pid %ld (%s) exited; row %u free", blk->tagstr,
		    (long)pid, comm, row);
	registry_settle(blk);
}

void
registry_proc_exited(struct proc *p)
{
	struct block *blk;
	uint32_t r;

	TAILQ_FOREACH(blk, &blocks, entry) {
		registry_trust(blk);
		for (r = 0; r < blk->lay.rows; r++) {
			if (blk->owner[r] == p)
				registry_reclaim(blk, r, proc_pid(p),
				    proc_comm(p));
		}
	}
}

/* Maps and checks an object found at start-up. */
static void
registry_adopt_one(const char *entry)
{
	struct block_layout l;
	struct rundown_block *b;
	struct block *blk;
	struct proc *p;
	struct stat st;
	char name[300], tagstr[RUNDOWN_TAG_BUFSZ];
	uint32_t tag, r, s;
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
	    (st.st_mode & 077) != 0 || st.st_size < (off_t)sizeof(*b))
		goto bad;
	if (nblocks >= cfg.max_blocks) {
		log_warnx("%s: over the limit of %u blocks; not adopted",
		    tagstr, cfg.max_blocks);
		close(fd);
		return;
	}
	b = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (b == MAP_FAILED)
		goto bad;
	/* Each field read once, into l: a live client may be writing. */
	if (b->magic != BLOCK_MAGIC || b->version != BLOCK_VERSION ||
	    b->line != BLOCK_LINE || b->tag != tag ||
	    block_layout(b->cpus, b->rows, &l) != 0 ||
	    l.size > (size_t)st.st_size || b->stride != l.stride ||
	    b->slots_off != l.slots_off || l.rows > cfg.max_rows ||
	    (blk = registry_add(tag, fd, b, &l, b->serial)) == NULL) {
		munmap(b, (size_t)st.st_size);
		goto bad;
	}
	blk->size = (size_t)st.st_size;

	/* Finish what a previous daemon may have left half done: a
	 * re-initialize, or a harvest (repeating one adds each row once). */
	s = rd_load(&b->state, RD_SEQ_CST);
	if ((s & ST_MASK) == ST_RESETTING)
		block_reset(b, &blk->lay, s);
	else if ((s & ST_MASK) == ST_RUNDOWN) {
		for (r = 0; r < blk->lay.rows; r++)
			block_harvest_row(b, &blk->lay, r);
		block_check_drained(b, &blk->lay, s);
	}
	/* Rows of processes that live on stay theirs; the rest are
	 * reclaimed, since their processes exited while nobody watched. */
	for (r = 0; r < blk->lay.rows; r++) {
		pid = rd_load(&b->row[r].owner, RD_RELAXED);
		if (pid == 0)
			continue;
		p = proc_get(pid, b->row[r].start, &err);
		if (p != NULL) {
			blk->owner[r] = p;
			blk->attached++;
		} else if (err == -ESRCH)
			registry_reclaim(blk, r, pid, "gone");
		else {
			/* Alive or not, it cannot be told: reclaiming could
			 * end a wait while it holds protection.  Stop here;
			 * the blocks stay as they are. */
			errno = -err;
			fatal("%s: cannot watch pid %ld, owner of row %u",
			    tagstr, (long)pid, r);
		}
	}
	log_info("%s: adopted, state %s, %u of %u rows attached", tagstr,
	    rundown_state_name((enum rundown_state)(rd_load(&b->state,
	    RD_RELAXED) & ST_MASK)), blk->attached, blk->lay.rows);
	return;
bad:
	log_warnx("%s: %s is not a block of ours, or not of this version; "
	    "left alone", tagstr, name);
	close(fd);
}

void
registry_adopt(void)
{
	struct dirent *de;
	DIR *d;

	/* POSIX shared memory is /dev/shm on Linux. */
	if ((d = opendir("/dev/shm")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, shm_prefix, strlen(shm_prefix)) == 0 &&
		    strlen(de->d_name) == strlen(shm_prefix) + 8)
			registry_adopt_one(de->d_name);
	}
	closedir(d);
}

void
registry_stop(void)
{
	struct block *blk;

	/* Join the watchers that are done; those still sleeping on a block
	 * that is running down end with the process. */
	TAILQ_FOREACH(blk, &blocks, entry) {
		if (rd_load(&blk->watch, RD_ACQUIRE) == WATCH_EXITED)
			registry_join(blk);
	}
}

void
registry_init(const char *socket_path)
{
	proto_shm_prefix(socket_path, shm_prefix, sizeof(shm_prefix));
	if (pipe2(notify_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("pipe");
	notify_ev = event_new(base, notify_pipe[0], EV_READ | EV_PERSIST,
	    registry_notified, NULL);
	retry_ev = evtimer_new(base, registry_retry, NULL);
	if (notify_ev == NULL || retry_ev == NULL ||
	    event_add(notify_ev, NULL) != 0)
		fatalx("cannot watch the notify pipe");
}

/* ---- control operations ----------------------------------------------- */

static void
registry_fill_info(struct block *blk, struct proto_info *pi)
{
	struct rundown_status st;
	uint32_t s = rd_load(&blk->b->state, RD_ACQUIRE);

	memset(pi, 0, sizeof(*pi));
	block_query(blk->b, &blk->lay, &st);
	pi->tag = blk->tag;
	pi->state = (uint32_t)st.state;
	pi->generation = s / ST_GEN_UNIT;
	pi->cpus = blk->lay.cpus;
	pi->rows = blk->lay.rows;
	pi->attached = blk->attached;
	pi->outstanding = st.outstanding;
	pi->reclaimed_rows = blk->reclaimed_rows;
	pi->reclaimed = blk->reclaimed;
}

static void
registry_status(struct conn *c, uint32_t id, struct block *blk)
{
	char buf[PROTO_MAX_FRAME - PROTO_HDR_SIZE];
	struct proto_holder ph;
	struct proto_info pi;
	size_t len = sizeof(pi);
	int64_t held;
	uint32_t r;

	registry_fill_info(blk, &pi);
	for (r = 0; r < blk->lay.rows; r++) {
		if (blk->owner[r] == NULL)
			continue;
		memset(&ph, 0, sizeof(ph));
		ph.pid = proc_pid(blk->owner[r]);
		ph.row = r;
		held = block_row_held(blk->b, &blk->lay, r);
		ph.outstanding = held > 0 ? (uint64_t)held : 0;
		snprintf(ph.comm, sizeof(ph.comm), "%s",
		    proc_comm(blk->owner[r]));
		memcpy(buf + len, &ph, sizeof(ph));
		len += sizeof(ph);
	}
	memcpy(buf, &pi, sizeof(pi));
	server_reply(c, PROTO_STATUS_REPLY, id, buf, len, -1);
}

static void
registry_list(struct conn *c, uint32_t id)
{
	char buf[PROTO_MAX_FRAME - PROTO_HDR_SIZE];
	struct proto_count pc = { 0 };
	struct proto_info pi;
	struct block *blk;
	size_t len = sizeof(pc);

	TAILQ_FOREACH(blk, &blocks, entry) {
		registry_trust(blk);
		registry_fill_info(blk, &pi);
		memcpy(buf + len, &pi, sizeof(pi));
		len += sizeof(pi);
		pc.count++;
	}
	memcpy(buf, &pc, sizeof(pc));
	server_reply(c, PROTO_LIST_REPLY, id, buf, len, -1);
}

static int
registry_attach(struct conn *c, uint32_t id, const struct proto_req *req,
    struct block *blk)
{
	struct proto_attached a;
	struct proc *p;
	pid_t pid = server_peer_pid(c);
	uint32_t r;
	int err;

	if (server_peer_gone(c))
		return -ESRCH;	/* before creating anything for it */
	if (blk == NULL) {
		if (!(req->flags & PROTO_ATTACH_CREATE))
			return -ENOENT;
		if ((err = registry_create(req->tag, req->arg, &blk)) != 0)
			return err;
	}
	for (r = 0; r < blk->lay.rows; r++) {
		if (blk->owner[r] == NULL && blk->b->row[r].owner == 0)
			break;
	}
	if (r == blk->lay.rows)
		return -ENOSPC;
	if ((p = proc_get(pid, server_peer_start(c), &err)) == NULL)
		return err;
	blk->owner[r] = p;
	blk->attached++;
	blk->b->row[r].start = proc_start(p);
	rd_store(&blk->b->row[r].owner, pid, RD_RELAXED);
	a.tag = blk->tag;
	a.row = r;
	a.cpus = blk->lay.cpus;
	a.rows = blk->lay.rows;
	a.size = blk->size;
	a.serial = blk->geom.serial;
	a.reserved = 0;
	log_debug("%s: pid %ld (%s) attached to row %u", blk->tagstr,
	    (long)pid, proc_comm(p), r);
	server_reply(c, PROTO_ATTACHED, id, &a, sizeof(a), blk->fd);
	return 0;
}

static int
registry_detach(struct conn *c, uint32_t id, const struct proto_req *req,
    struct block *blk)
{
	struct proto_ok ok = { 0 };
	int64_t held;

	/* A detach meant for an earlier block with this tag (freed since). */
	if (req->serial != blk->geom.serial)
		return -ESTALE;
	/* Only the process that holds a row may give it back. */
	if (req->arg >= blk->lay.rows || blk->owner[req->arg] == NULL ||
	    proc_pid(blk->owner[req->arg]) != server_peer_pid(c))
		return -EPERM;
	held = registry_release_row(blk, req->arg);
	if (held != 0)
		log_info("%s: pid %ld detached from row %u holding %lld",
		    blk->tagstr, (long)server_peer_pid(c), req->arg,
		    (long long)held);
	ok.value = held > 0 ? (uint64_t)held : 0;
	server_reply(c, PROTO_OK, id, &ok, sizeof(ok), -1);
	registry_settle(blk);
	return 0;
}

static int
registry_wait(struct conn *c, uint32_t id, const struct proto_req *req,
    struct block *blk)
{
	struct proto_ok ok = { 0 };
	struct timeval tv;
	struct waiter *w;
	uint32_t s;

	/* Starts the run-down if the block is open (harvesting every row
	 * here, on the loop, so it is never left half done). */
	s = block_start(blk->b, &blk->lay);
	if ((s & ST_MASK) != ST_RUNDOWN ||
	    rd_load(&blk->b->state, RD_ACQUIRE) != s) {
		server_reply(c, PROTO_OK, id, &ok, sizeof(ok), -1);
		return 0;
	}
	if (req->arg == 0)
		return -ETIMEDOUT;	/* a poll: started, not drained */
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->blk = blk;
	w->conn = c;
	w->id = id;
	w->word = s;
	if (req->arg != PROTO_NO_TIMEOUT) {
		tv.tv_sec = req->arg / 1000;
		tv.tv_usec = (suseconds_t)(req->arg % 1000) * 1000;
		w->timer = evtimer_new(base, registry_wait_timeout, w);
		if (w->timer == NULL || evtimer_add(w->timer, &tv) != 0) {
			if (w->timer != NULL)
				event_free(w->timer);
			free(w);
			return -ENOMEM;
		}
	}
	TAILQ_INSERT_TAIL(&blk->waiters, w, entry);
	/* The drain may have happened between the check above and now only
	 * through another process's release, which the watcher sees. */
	registry_settle(blk);
	return 0;
}

/* Removes a block: run down, or open with nobody attached. */
static int
registry_free(struct block *blk)
{
	uint32_t s = rd_load(&blk->b->state, RD_ACQUIRE) & ST_MASK, r;

	if (!(s == ST_DRAINED || s == ST_COMPLETED ||
	    (s == ST_OPEN && blk->attached == 0)))
		return -EBUSY;
	/* No waits remain (they end with the run-down); a watcher that saw
	 * the drain may still be on its way out. */
	registry_settle(blk);
	registry_join(blk);
	for (r = 0; r < blk->lay.rows; r++) {
		if (blk->owner[r] != NULL)
			proc_put(blk->owner[r]);
	}
	shm_unlink(blk->name);
	munmap(blk->b, blk->size);
	close(blk->fd);
	log_info("%s: freed", blk->tagstr);
	TAILQ_REMOVE(&blocks, blk, entry);
	nblocks--;
	free(blk->owner);
	free(blk);
	return 0;
}

/* The operations on an existing block; 0 once answered, or -errno. */
static int
registry_op(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req, struct block *blk)
{
	struct proto_ok ok = { 0 };
	int r;

	switch (h->type) {
	case PROTO_DETACH:
		return registry_detach(c, h->id, req, blk);
	case PROTO_WAIT:
		return registry_wait(c, h->id, req, blk);
	case PROTO_STATUS:
		registry_status(c, h->id, blk);
		return 0;
	case PROTO_COMPLETED:
		r = block_completed(blk->b);
		break;
	case PROTO_REINIT:
		if ((r = block_reinit(blk->b, &blk->lay)) == 0)
			log_debug("%s: re-initialized", blk->tagstr);
		/* Waits for the run-down just ended may not have been told
		 * yet (their watcher's poke still on its way): now. */
		registry_settle(blk);
		break;
	case PROTO_FREE:
		r = registry_free(blk);
		break;
	default:
		return -EBADMSG;
	}
	if (r == 0)
		server_reply(c, PROTO_OK, h->id, &ok, sizeof(ok), -1);
	return r;
}

void
registry_request(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req)
{
	struct proto_ok ok = { 0 };
	struct block *blk;
	int r;

	if (h->type == PROTO_LIST) {
		registry_list(c, h->id);
		return;
	}
	blk = registry_find(req->tag);
	if (blk != NULL)
		registry_trust(blk);
	if (h->type == PROTO_CREATE)
		r = registry_create(req->tag, req->arg, &blk);
	else if (h->type == PROTO_ATTACH)
		r = registry_attach(c, h->id, req, blk);
	else if (blk == NULL)
		r = -ENOENT;
	else
		r = registry_op(c, h, req, blk);
	if (r == 0 && h->type == PROTO_CREATE)
		server_reply(c, PROTO_OK, h->id, &ok, sizeof(ok), -1);
	if (r != 0)
		server_error(c, h->id, -r);
}
