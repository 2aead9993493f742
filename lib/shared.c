/*
 * shared.c: attaching to a block that rundownd keeps in shared memory.
 *
 * The daemon hands over the block's shared-memory descriptor and the row
 * it reserved for this process; the library maps the block and builds a
 * process-local descriptor whose offsets point into the mapping, so the
 * fast path is the same as for a private block.  Each attachment keeps
 * its own connection for the control calls made through it.
 *
 * fork(): the child must never act on its parent's row (the daemon
 * reclaims that row when the parent exits, whatever the child did).  A
 * handler run in the child points every attached descriptor at a slot of
 * its own that is always ACTIVE, so acquires fail and releases go to the
 * slow path, which ignores them; control calls answer -ECHILD.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "futex.h"
#include "client.h"
#include "shared.h"

struct shared {
	pthread_mutex_t lock;	/* guards conn across a reconnect */
	rundown_conn_t *conn;
	char path[108];		/* the daemon's socket */
	uint32_t serial;	/* the block's, for detach */
	void *map;
	size_t size;
	rundown_cache_t *ref;
	struct shared *next;
};

/* Every attachment of this process, for the fork handler. */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared *shared_list;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static int shared_call(rundown_cache_t *ref, uint16_t type,
    const struct timespec *timeout);

static void
shared_prepare(void)
{
	pthread_mutex_lock(&shared_lock);
}

static void
shared_parent(void)
{
	pthread_mutex_unlock(&shared_lock);
}

/* In the child, the only thread: make every inherited row inert. */
static void
shared_child(void)
{
	struct shared *sh;
	rundown_cache_t *ref;

	for (sh = shared_list; sh != NULL; sh = sh->next) {
		ref = sh->ref;
		ref->inert = SLOT_ACTIVE;
		ref->row_off = (int64_t)offsetof(struct rundown_cache, inert);
		ref->cpus = 1;		/* every CPU maps to the inert slot */
		ref->rcpus = 0;		/* and no rseq word */
		ref->flags |= CACHE_FORKED;
		if (sh->conn != NULL)
			client_forget(sh->conn);
	}
	pthread_mutex_unlock(&shared_lock);
}

static void
shared_register(void)
{
	pthread_atfork(shared_prepare, shared_parent, shared_child);
}

/* Checks that a mapping holds the block the daemon described. */
static int
shared_check(const struct rundown_block *b, size_t size,
    const struct proto_attached *a)
{
	struct block_layout l;

	if (block_layout(a->cpus, a->rows, &l) != 0 || l.size > size ||
	    a->row >= a->rows)
		return -EPROTO;
	if (b->magic != BLOCK_MAGIC || b->version != BLOCK_VERSION ||
	    b->line != BLOCK_LINE || b->tag != a->tag || b->cpus != a->cpus ||
	    b->rows != a->rows || b->stride != l.stride ||
	    b->slots_off != l.slots_off)
		return -EPROTO;
	return 0;
}

/* Byte distance from one address to another, as the descriptor keeps it. */
static int64_t
shared_offset(const void *to, const void *from)
{
	return (int64_t)(intptr_t)((uintptr_t)to - (uintptr_t)from);
}

int
rundown_attach_at(const char *path, uint32_t tag, unsigned int flags,
    rundown_cache_t **out)
{
	struct proto_req req = { .tag = tag };
	struct proto_attached a;
	struct block_layout l;
	struct rundown_block *b;
	struct shared *sh = NULL;
	rundown_cache_t *ref = NULL;
	struct stat st;
	size_t len;
	bool attached = false;
	int r, fd = -1;

	if (out == NULL ||
	    (flags & ~(RUNDOWN_ATTACH_CREATE | RUNDOWN_ATTACH_REOPEN)) != 0)
		return -EINVAL;
	*out = NULL;
	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		return -ENOMEM;
	sh->map = MAP_FAILED;
	pthread_mutex_init(&sh->lock, NULL);
	if (path == NULL)
		r = rundown_socket_path(sh->path, sizeof(sh->path));
	else if (strlen(path) < sizeof(sh->path)) {
		memcpy(sh->path, path, strlen(path) + 1);
		r = 0;
	} else
		r = -ENAMETOOLONG;
	if (r != 0 || (r = rundown_connect(sh->path, &sh->conn)) != 0)
		goto fail;
	if (flags & RUNDOWN_ATTACH_CREATE)
		req.flags |= PROTO_ATTACH_CREATE;
	if (flags & RUNDOWN_ATTACH_REOPEN)
		req.flags |= PROTO_ATTACH_REOPEN;
	r = client_call(sh->conn, PROTO_ATTACH, &req, PROTO_ATTACHED, &a,
	    sizeof(a), &len, &fd);
	if (r != 0)
		goto fail;
	attached = true;
	sh->serial = a.serial;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size < a.size || a.size > SIZE_MAX) {
		r = -EPROTO;
		goto fail;
	}
	sh->size = (size_t)a.size;
	sh->map = mmap(NULL, sh->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	if (sh->map == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	close(fd);
	fd = -1;
	b = sh->map;
	if ((r = shared_check(b, sh->size, &a)) != 0)
		goto fail;

	/* Whole lines: the descriptor is read on every acquire. */
	ref = aligned_alloc(BLOCK_LINE, round_up(sizeof(*ref), BLOCK_LINE));
	if (ref == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	memset(ref, 0, sizeof(*ref));
	ref->flags = CACHE_SHARED;
	ref->block_off = shared_offset(b, ref);
	/* From the daemon's answer, which the header was checked against,
	 * not from the header, which another process could rewrite since. */
	block_layout(a.cpus, a.rows, &l);
	ref->row_off = shared_offset((char *)b + l.slots_off +
	    (size_t)a.row * a.cpus * l.stride, ref);
	ref->cpus = a.cpus;
	ref->shift = (uint32_t)__builtin_ctz(l.stride);
	ref->bflags = a.bflags & BLOCK_F_RSEQ;
	ref->rcpus = cache_rcpus(a.cpus, ref->bflags);
	ref->row = a.row;
	ref->rows = a.rows;
	ref->tag = tag;
	ref->shared = sh;
	ref->magic = CACHE_MAGIC;
	sh->ref = ref;

	pthread_once(&shared_once, shared_register);
	pthread_mutex_lock(&shared_lock);
	sh->next = shared_list;
	shared_list = sh;
	pthread_mutex_unlock(&shared_lock);
	*out = ref;
	return 0;
fail:
	/* Give back the row the daemon reserved (it would otherwise be
	 * reclaimed only when this process exits). */
	if (attached)
		(void)client_detach(sh->conn, tag, a.serial, a.row, NULL);
	if (fd >= 0)
		close(fd);
	if (sh->map != MAP_FAILED)
		munmap(sh->map, sh->size);
	rundown_disconnect(sh->conn);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
	free(ref);
	return r;
}

int
rundown_attach(uint32_t tag, unsigned int flags, rundown_cache_t **ref)
{
	return rundown_attach_at(NULL, tag, flags, ref);
}

int
rundown_detach(rundown_cache_t *ref)
{
	struct shared *sh, **pp;
	int r = 0;

	if (ref == NULL || ref->magic != CACHE_MAGIC ||
	    !(ref->flags & CACHE_SHARED))
		return -EINVAL;
	sh = ref->shared;
	pthread_mutex_lock(&shared_lock);
	for (pp = &shared_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == sh) {
			*pp = sh->next;
			break;
		}
	}
	pthread_mutex_unlock(&shared_lock);
	/* A child's copy is dropped without a word: the row is its
	 * parent's. */
	if (!(ref->flags & CACHE_FORKED))
		r = shared_call(ref, PROTO_DETACH, NULL);
	munmap(sh->map, sh->size);
	rundown_disconnect(sh->conn);
	pthread_mutex_destroy(&sh->lock);
	ref->magic = 0;
	free(sh);
	free(ref);
	return r;
}

/* Swaps the attachment's connection under the list lock, so that the fork
 * handler never sees one being freed. */
static void
shared_set_conn(struct shared *sh, rundown_conn_t *c)
{
	pthread_mutex_lock(&shared_lock);
	sh->conn = c;
	pthread_mutex_unlock(&shared_lock);
}

/*
 * How a wait rides out a daemon restart.  A wait is the one call that
 * can be sent again whatever became of the first: it starts the run-down
 * only if the block is open, and answers once the run-down in progress
 * ends, which the shared memory keeps across daemons.  And its caller
 * wants the drain, not a daemon: a wait pending when the daemon dies
 * (SIGKILL, a crash) would otherwise fail at once, since the retry comes
 * before any supervisor can start the next one.  So while no daemon
 * answers, a wait asks again every SHARED_RETRY_MS (as the Windows names'
 * wait does, for ever), here for at most SHARED_RECONNECT_MS from the
 * moment the daemon was lost, and never past the wait's own timeout.
 */
#define SHARED_RETRY_MS 100
#define SHARED_RECONNECT_MS 10000

/* True for the errors that a new connection may cure. */
static bool
shared_broken(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN;
}

/* Milliseconds from now to an absolute CLOCK_MONOTONIC time (<= 0: it
 * has passed). */
static int64_t
shared_ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(t->tv_sec - now.tv_sec) * 1000 +
	    (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* One try of the call on connection c; a wait gets what is left of its
 * timeout (deadline NULL: none), rounded up, and 0 once it has passed: the
 * daemon then answers at once whether the run-down has ended. */
static int
shared_try(rundown_cache_t *ref, uint16_t type, rundown_conn_t *c,
    const struct timespec *timeout, const struct timespec *deadline)
{
	struct timespec left = { 0, 0 };
	int64_t ms;

	switch (type) {
	case PROTO_WAIT:
		if (deadline == NULL)
			return rundown_ctl_wait(c, ref->tag, timeout);
		if ((ms = shared_ms_until(deadline) + 1) > 0) {
			left.tv_sec = (time_t)(ms / 1000);
			left.tv_nsec = (long)(ms % 1000) * 1000000L;
		}
		return rundown_ctl_wait(c, ref->tag, &left);
	case PROTO_COMPLETED:
		return rundown_ctl_completed(c, ref->tag);
	case PROTO_DETACH:
		return client_detach(c, ref->tag, ref->shared->serial, ref->row,
		    NULL);
	default:
		return rundown_ctl_reinit(c, ref->tag);
	}
}

/*
 * The generation whose run-down a wait asked now would await, as this
 * process's mapping shows the block: the present one, or the next if a
 * re-initialize is under way (the wait runs down what it opens).
 */
static uint32_t
shared_target(rundown_cache_t *ref)
{
	uint32_t s = rd_load(&cache_block(ref)->state, RD_ACQUIRE);

	return s / ST_GEN_UNIT + ((s & ST_MASK) == ST_RESETTING);
}

/*
 * A control call (or the detach) through the attachment's connection.  If
 * the daemon went away since (a restart), connects again and retries
 * once; a wait keeps trying while no daemon answers, as said above.  A
 * wait sent again awaits the run-down it first asked for: if the block
 * was re-initialized meanwhile (that run-down drained, and someone opened
 * the block again), it returns 0 instead of starting a run-down nobody
 * asked for.
 */
static int
shared_call(rundown_cache_t *ref, uint16_t type,
    const struct timespec *timeout)
{
	const struct timespec pause = { 0, SHARED_RETRY_MS * 1000000L };
	const struct timespec window = { SHARED_RECONNECT_MS / 1000,
	    (SHARED_RECONNECT_MS % 1000) * 1000000L };
	struct timespec deadline, give_up = { 0, 0 };
	struct shared *sh = ref->shared;
	rundown_conn_t *c;
	bool lost = false, timed = false, sent = false;
	uint32_t target = 0;
	int r, tries, cancel;

	if (ref->flags & CACHE_FORKED)
		return -ECHILD;
	/* A malformed timeout is the first try's -EINVAL; one too long for
	 * the milliseconds shared_try() counts is sent whole each time. */
	if (type == PROTO_WAIT && timeout != NULL &&
	    timeout->tv_sec < INT32_MAX / 1000 &&
	    deadline_from(timeout, &deadline) == 0)
		timed = true;
	/* Not a cancellation point: a cancelled call would leave the lock
	 * held and a reply unread. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&sh->lock);
	for (tries = 0;; tries++) {
		if ((c = sh->conn) == NULL &&
		    (r = rundown_connect(sh->path, &c)) == 0)
			shared_set_conn(sh, c);
		if (c != NULL) {
			if (type == PROTO_WAIT && !sent) {
				target = shared_target(ref);
				sent = true;
			} else if (type == PROTO_WAIT &&
			    shared_target(ref) != target) {
				r = 0;
				break;
			}
			r = shared_try(ref, type, c, timeout,
			    timed ? &deadline : NULL);
			if (!shared_broken(r))
				break;
			shared_set_conn(sh, NULL);
			rundown_disconnect(c);
			/* A daemon answered since the last loss: the
			 * reconnect window starts again. */
			lost = false;
		} else if (r != -ECONNREFUSED)
			break;
		if (type != PROTO_WAIT) {
			if (c == NULL || tries >= 1)
				break;
			continue;
		}
		/* No daemon: the wait tries again right after the loss, then
		 * every SHARED_RETRY_MS until the window or its time is up. */
		if (!lost) {
			lost = true;
			deadline_from(&window, &give_up);
			if (c != NULL)
				continue;
		}
		if (deadline_passed(&give_up) ||
		    (timed && deadline_passed(&deadline)))
			break;
		nanosleep(&pause, NULL);
	}
	pthread_mutex_unlock(&sh->lock);
	pthread_setcancelstate(cancel, NULL);
	return r;
}

int
shared_wait(rundown_cache_t *ref, const struct timespec *timeout)
{
	return shared_call(ref, PROTO_WAIT, timeout);
}

int
shared_completed(rundown_cache_t *ref)
{
	return shared_call(ref, PROTO_COMPLETED, NULL);
}

int
shared_reinit(rundown_cache_t *ref)
{
	return shared_call(ref, PROTO_REINIT, NULL);
}
