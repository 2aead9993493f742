/*
 * attach.c: attaching to a block that rundownd keeps in shared memory.
 *
 * The daemon hands over two shared-memory descriptors: the block's
 * header, read-only (the state word the fast path checks; the descriptor
 * is opened O_RDONLY, so no mprotect() can make the mapping writable), and
 * the row it made for this process alone, read-write (its drain word and
 * slots).  No other process's row is mapped here, nor can be: their
 * objects are the daemon's, mode 0600.  The descriptor this file fills
 * (cache_fill) points into the two mappings, so the fast path is the
 * same as for a private block; the slow operations go to the daemon
 * through the attachment's own connection (attach_ops).
 *
 * fork(): the child must never act on its parent's row (the daemon
 * reclaims that row when the parent exits, whatever the child did).  A
 * handler run in the child points every attached descriptor at a slot of
 * its own that is always ACTIVE, so acquires fail and releases go to the
 * slow path, which ignores them; control calls answer -ECHILD.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "client.h"
#include "deadline.h"

struct shared {
	pthread_mutex_t lock;	/* guards conn across a reconnect */
	rundown_conn_t *conn;
	char path[108];		/* the daemon's socket */
	uint32_t serial;	/* the block's, for detach */
	void *header;		/* read-only */
	size_t header_size;
	void *row;		/* read-write: this process's alone */
	size_t row_size;
	rundown_cache_t *ref;
	struct shared *next;
};

static const struct cache_ops attach_ops;

/* An asynchronous wait on an attached block (rundown_cache_wait_start()):
 * its connection is the caller's descriptor. */
struct async_conn {
	struct async_conn *next;
	const rundown_cache_t *ref;	/* what start was called on */
	dev_t dev;		/* the connection, as finish() finds it */
	ino_t ino;
	bool done;		/* start read the wait's answer already */
	int result;		/* ... which was this */
};

/* Every attachment of this process, for the fork handler, and every
 * asynchronous wait on one. */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared *shared_list;
static struct async_conn *async_list;
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
	struct async_conn *a;
	struct shared *sh;
	rundown_cache_t *ref;

	for (sh = shared_list; sh != NULL; sh = sh->next) {
		ref = sh->ref;
		ref->inert = SLOT_ACTIVE;
		ref->fast.row_off = (int64_t)offsetof(struct rundown_cache,
		    inert);
		ref->cpus = 1;		/* every CPU maps to the inert slot */
		ref->fast.rcpus = 0;		/* and no rseq word */
		ref->flags |= CACHE_FORKED;
		if (sh->conn != NULL)
			client_forget(sh->conn);
	}
	/* The parent's waits: finish() here says -ECHILD. */
	while ((a = async_list) != NULL) {
		async_list = a->next;
		free(a);
	}
	pthread_mutex_unlock(&shared_lock);
}

static void
shared_register(void)
{
	pthread_atfork(shared_prepare, shared_parent, shared_child);
}

/* Maps size bytes of fd (prot), if the object holds that many: the
 * mapping, or MAP_FAILED with errno set. */
static void *
attach_map(int fd, uint64_t size, int prot)
{
	struct stat st;

	if (fd < 0 || size == 0 || size > SIZE_MAX || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size < size) {
		errno = EPROTO;
		return MAP_FAILED;
	}
	return mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
}

/*
 * Checks the daemon's answer against the shape this library computes for
 * it, and the header mapping against both: 0 with the layout in *l, or
 * -EPROTO.  The shape used from here on is the answer's, never the
 * header's again (it is the daemon's to write, and checked once).
 */
static int
attach_check(const struct shared *sh, const struct proto_attached *a,
    struct block_layout *l)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t serial;

	if (page <= 0 || block_layout_paged(a->cpus, a->rows, (size_t)page,
	    l) != 0 || a->row >= a->rows || a->size != l->rows_off ||
	    a->row_size != l->row_stride)
		return -EPROTO;
	l->flags = BLOCK_F_RSEQ;	/* every run-down of the daemon fences */
	if (block_header_check(sh->header, a->tag, l, &serial) != 0 ||
	    serial != a->serial)
		return -EPROTO;
	/* Whether this process may commit in the rseq words is the
	 * daemon's answer (it stops offering them if its fence cannot
	 * reach every CPU). */
	l->flags = a->bflags & BLOCK_F_RSEQ;
	return 0;
}

/* Undoes what rundown_attach_at() did so far. */
static void
attach_undo(struct shared *sh)
{
	if (sh->header != MAP_FAILED)
		munmap(sh->header, sh->header_size);
	if (sh->row != MAP_FAILED)
		munmap(sh->row, sh->row_size);
	rundown_disconnect(sh->conn);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}

/* Connects the attachment to the daemon at path, and keeps the path for
 * reconnecting.  Without a path, the daemon that answers (the user's own
 * or the system's) is the one that later calls reconnect to. */
static int
attach_connect(struct shared *sh, const char *path)
{
	if (path == NULL)
		return client_connect_default(sh->path, sizeof(sh->path),
		    &sh->conn);
	if (strlen(path) >= sizeof(sh->path))
		return -ENAMETOOLONG;
	memcpy(sh->path, path, strlen(path) + 1);
	return rundown_connect(sh->path, &sh->conn);
}

int
rundown_attach_at(const char *path, uint32_t tag, unsigned int flags,
    rundown_cache_t **out)
{
	struct proto_req req = { .tag = tag };
	struct proto_attached a;
	struct block_layout l;
	struct shared *sh = NULL;
	rundown_cache_t *ref = NULL;
	size_t len;
	int r, i, fd[CLIENT_FDS];

	if (out == NULL ||
	    (flags & ~(RUNDOWN_ATTACH_CREATE | RUNDOWN_ATTACH_REOPEN)) != 0)
		return -EINVAL;
	*out = NULL;
	if ((r = cache_layout_check()) != 0)
		return r;
	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		return -ENOMEM;
	sh->header = sh->row = MAP_FAILED;
	pthread_mutex_init(&sh->lock, NULL);
	if ((r = attach_connect(sh, path)) != 0) {
		attach_undo(sh);
		return r;
	}
	if (flags & RUNDOWN_ATTACH_CREATE)
		req.flags |= PROTO_ATTACH_CREATE;
	if (flags & RUNDOWN_ATTACH_REOPEN)
		req.flags |= PROTO_ATTACH_REOPEN;
	r = client_call(sh->conn, PROTO_ATTACH, &req, PROTO_ATTACHED, &a,
	    sizeof(a), &len, fd);
	if (r != 0) {
		attach_undo(sh);
		return r;
	}
	sh->serial = a.serial;
	sh->header_size = (size_t)a.size;
	sh->row_size = (size_t)a.row_size;
	/* The header read-only, from a read-only descriptor: no write, and
	 * no mprotect(), can reach the daemon's state word. */
	if ((sh->header = attach_map(fd[0], a.size, PROT_READ)) == MAP_FAILED ||
	    (sh->row = attach_map(fd[1], a.row_size, PROT_READ |
	    PROT_WRITE)) == MAP_FAILED)
		r = -errno;
	for (i = 0; i < CLIENT_FDS; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	/* Whole lines: the descriptor is read on every acquire. */
	if (r == 0 && (r = attach_check(sh, &a, &l)) == 0 &&
	    (ref = aligned_alloc(BLOCK_LINE, round_up(sizeof(*ref),
	    BLOCK_LINE))) == NULL)
		r = -ENOMEM;
	if (r != 0) {
		/* Give back the row the daemon made (it would otherwise be
		 * reclaimed only when this process exits). */
		(void)client_detach(sh->conn, tag, a.serial, a.row, NULL);
		attach_undo(sh);
		return r;
	}
	cache_fill(ref, &(struct cache_source){ .block = sh->header,
	    .row = sh->row, .row_index = a.row, .layout = &l,
	    .ops = &attach_ops, .flags = CACHE_SHARED, .tag = tag,
	    .size = 0 });
	ref->shared = sh;
	sh->ref = ref;

	pthread_once(&shared_once, shared_register);
	pthread_mutex_lock(&shared_lock);
	sh->next = shared_list;
	shared_list = sh;
	pthread_mutex_unlock(&shared_lock);
	*out = ref;
	return 0;
}

int
rundown_attach(uint32_t tag, unsigned int flags, rundown_cache_t **ref)
{
	return rundown_attach_at(NULL, tag, flags, ref);
}

int
rundown_detach(rundown_cache_t *ref)
{
	if (ref == NULL || ref->magic != CACHE_MAGIC ||
	    !(ref->flags & CACHE_SHARED))
		return -EINVAL;
	return ref->ops->free(ref);
}

/* rundown_detach(), and rundown_cache_free() of an attached descriptor. */
static int
attach_free(rundown_cache_t *ref)
{
	struct shared *sh = ref->shared;
	struct shared **pp;
	struct async_conn **ap, *a;
	int r = 0;

	pthread_mutex_lock(&shared_lock);
	for (pp = &shared_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == sh) {
			*pp = sh->next;
			break;
		}
	}
	/* Its asynchronous waits: their connections stay the caller's to
	 * close, and finish() no longer knows them. */
	for (ap = &async_list; (a = *ap) != NULL;) {
		if (a->ref == ref) {
			*ap = a->next;
			free(a);
		} else
			ap = &a->next;
	}
	pthread_mutex_unlock(&shared_lock);
	/* A child's copy is dropped without a word: the row is its
	 * parent's. */
	if (!(ref->flags & CACHE_FORKED))
		r = shared_call(ref, PROTO_DETACH, NULL);
	ref->magic = 0;
	attach_undo(sh);
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

/* One try of a call other than the wait on connection c. */
static int
shared_try(rundown_cache_t *ref, uint16_t type, rundown_conn_t *c)
{
	switch (type) {
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

/* A wait of an attachment, as client_wait_reconnect() calls back. */
struct shared_wait {
	rundown_cache_t *ref;
	uint32_t target;	/* shared_target() when it was first sent */
};

/* Whether the run-down the wait first asked for is over: the block was
 * re-initialized since (that run-down drained, and someone opened the
 * block again), so a wait sent again must not start one nobody asked
 * for. */
static bool
shared_moved_on(void *arg)
{
	struct shared_wait *sw = arg;

	return shared_target(sw->ref) != sw->target;
}

/* Publishes the wait's new connection where the fork handler looks. */
static void
shared_wait_conn(void *arg, rundown_conn_t *c)
{
	struct shared_wait *sw = arg;

	shared_set_conn(sw->ref->shared, c);
}

/*
 * A control call (or the detach) through the attachment's connection.  A
 * wait rides out a daemon restart as rundown_ctl_wait_reconnect() does
 * (client.h), and awaits the run-down it first asked for; any other call,
 * if the daemon went away since (a restart), connects again and retries
 * once.
 */
static int
shared_call(rundown_cache_t *ref, uint16_t type,
    const struct timespec *timeout)
{
	struct shared *sh = ref->shared;
	struct shared_wait sw = { ref, 0 };
	const struct client_rewait w = { .path = sh->path, .tag = ref->tag,
	    .timeout = timeout, .moved_on = shared_moved_on,
	    .set_conn = shared_wait_conn, .arg = &sw };
	rundown_conn_t *c;
	int r = 0, tries, cancel;

	if (ref->flags & CACHE_FORKED)
		return -ECHILD;
	/* Not a cancellation point: a cancelled call would leave the lock
	 * held and a reply unread. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&sh->lock);
	if (type == PROTO_WAIT) {
		sw.target = shared_target(ref);
		r = client_wait_reconnect(&sh->conn, &w);
	} else {
		for (tries = 0; tries < 2; tries++) {
			if ((c = sh->conn) == NULL) {
				if ((r = rundown_connect(sh->path, &c)) != 0)
					break;
				shared_set_conn(sh, c);
			}
			if (!client_broken(r = shared_try(ref, type, c)))
				break;
			shared_set_conn(sh, NULL);
			rundown_disconnect(c);
		}
	}
	pthread_mutex_unlock(&sh->lock);
	pthread_setcancelstate(cancel, NULL);
	return r;
}

static int
attach_wait(rundown_cache_t *ref, const struct timespec *timeout)
{
	return shared_call(ref, PROTO_WAIT, timeout);
}

static int
attach_completed(rundown_cache_t *ref)
{
	return shared_call(ref, PROTO_COMPLETED, NULL);
}

static int
attach_reinit(rundown_cache_t *ref)
{
	return shared_call(ref, PROTO_REINIT, NULL);
}

/*
 * Only the daemon maps every row, so the state and count are its answer,
 * asked on a connection of the query's own: the attachment's may be busy
 * with a wait for as long as the run-down lasts, and a query must not
 * queue behind it.
 */
static int
attach_query(const rundown_cache_t *ref, struct rundown_status *st)
{
	struct rundown_block_info info;
	rundown_conn_t *c;
	size_t n;
	int r;

	if (ref->flags & CACHE_FORKED)
		return -ECHILD;
	if ((r = rundown_connect(ref->shared->path, &c)) != 0)
		return r;
	if ((r = rundown_ctl_status(c, ref->tag, &info, NULL, 0, &n)) == 0) {
		st->state = info.state;
		st->outstanding = info.outstanding;
		st->fence_failures = info.fence_failures;
	}
	rundown_disconnect(c);
	return r;
}

/* ---- asynchronous waits ------------------------------------------------
 *
 * The descriptor that rundown_cache_wait_start() returns for an attached
 * block is a connection to the daemon of its own, on which two waits go
 * out in one write: a poll (timeout 0), which begins the run-down and
 * which the daemon answers once it has fenced and collected the rows, so
 * that acquires fail on either path once start returns; and the wait
 * itself, with no timeout, which the daemon answers at the drain.  Start
 * reads the poll's answer, blocking as a control call does; the wait's
 * answer makes the connection readable, and finish reads it without
 * blocking: a frame whole in the socket (peeked first), or -EAGAIN.
 * Nothing here reads the block, so the caller may detach or unmap it
 * whatever became of the waits.  The daemon takes the two in order,
 * normally in one turn of its loop, so that the wait awaits the run-down
 * the poll began.  (Should this user's budget of the turn run out
 * between them, and the block drain and be re-opened meanwhile, which
 * needs another party's reinit, the wait runs the re-opened block down,
 * as any wait sent then would.)
 *
 * Closing the connection abandons the wait: the daemon drops a closed
 * connection's waits, and the run-down goes on.  Unlike attach_wait(),
 * this does not ride out a daemon's restart: the connection reads end
 * of file and finish says -ECONNRESET, while the run-down stays in
 * progress in the block for the next daemon, which a new start joins.
 */
#define ASYNC_POLL_ID 1u
#define ASYNC_WAIT_ID 2u

/* What answers a wait: OK or ERROR, one size. */
union async_payload {
	struct proto_ok ok;
	struct proto_error err;
};

/* Reads exactly len bytes, blocking: client_recv(), with any descriptor
 * that came along (none should: a wait's answer brings none) closed. */
static int
async_recv_all(int fd, void *buf, size_t len)
{
	int rfd[CLIENT_FDS], r, i;

	for (i = 0; i < CLIENT_FDS; i++)
		rfd[i] = -1;
	r = client_recv(fd, buf, len, rfd);
	client_close_fds(rfd);
	return r;
}

/* One frame that answers a wait, blocking: 0, or -EPROTO for one that
 * no wait is answered with, or async_recv_all()'s errors. */
static int
async_frame_wait(int fd, struct proto_hdr *h, union async_payload *p)
{
	int r;

	if ((r = async_recv_all(fd, h, PROTO_HDR_SIZE)) != 0)
		return r;
	if (proto_check_hdr(h) != 0 || h->length > sizeof(*p))
		return -EPROTO;
	return async_recv_all(fd, p, h->length);
}

/*
 * One frame that answers a wait, if it is all there: 0; -EAGAIN if not
 * yet; -ECONNRESET at end of file (before a whole frame); -EPROTO for a
 * frame that no wait is answered with; or -errno.  A frame is taken off
 * the socket only whole, so a call that finds part of one leaves it.
 */
static int
async_frame_nowait(int fd, struct proto_hdr *h, union async_payload *p)
{
	char buf[PROTO_HDR_SIZE + sizeof(*p)];
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };
	size_t whole;
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN :
		    -errno;
	if (n == 0)
		return -ECONNRESET;
	whole = sizeof(buf);
	if ((size_t)n >= PROTO_HDR_SIZE) {
		memcpy(h, buf, PROTO_HDR_SIZE);
		if (proto_check_hdr(h) != 0 || h->length > sizeof(*p))
			return -EPROTO;
		whole = PROTO_HDR_SIZE + h->length;
	}
	if ((size_t)n < whole) {
		/* Part of a frame: the rest is on its way, unless the
		 * daemon has shut the connection (then it never comes). */
		if (poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return -ECONNRESET;
		return -EAGAIN;
	}
	do
		n = recv(fd, buf, whole, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)whole)
		return n < 0 ? -errno : -EPROTO;
	memcpy(p, buf + PROTO_HDR_SIZE, h->length);
	return 0;
}

/* What the frame h says to the wait proper.  A daemon's -EAGAIN (too
 * many waits pending: its -w, -W) is told as -EDQUOT, since finish() says
 * -EAGAIN for "not yet".  (The poll's -EAGAIN is start's, as a wait's.) */
static int
async_answer(const struct proto_hdr *h, const union async_payload *p)
{
	int r = client_answer(h, p, sizeof(*p), PROTO_OK);

	return r == -EAGAIN ? -EDQUOT : r;
}

/* True if the frame h answers the wait whose id is id: its reply, or an
 * error about the connection itself (id 0: refused). */
static bool
async_answers(const struct proto_hdr *h, uint32_t id)
{
	return h->id == id || (h->id == 0 && h->type == PROTO_ERROR);
}

static int
attach_wait_start(rundown_cache_t *ref)
{
	struct proto_req poll_req = { .tag = ref->tag, .arg = 0 };
	struct proto_req wait_req = { .tag = ref->tag,
	    .arg = PROTO_NO_TIMEOUT };
	char out[2 * (PROTO_HDR_SIZE + sizeof(struct proto_req))];
	union async_payload p;
	struct async_conn *a;
	struct proto_hdr h;
	struct stat st;
	rundown_conn_t *c;
	size_t n;
	int fd, r, sent, cancel;

	if (ref->flags & CACHE_FORKED)
		return -ECHILD;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->ref = ref;
	if ((r = rundown_connect(ref->shared->path, &c)) != 0) {
		free(a);
		return r;
	}
	fd = client_take_fd(c);
	n = proto_encode(out, sizeof(out), PROTO_WAIT, ASYNC_POLL_ID,
	    &poll_req, sizeof(poll_req));
	n += proto_encode(out + n, sizeof(out) - n, PROTO_WAIT, ASYNC_WAIT_ID,
	    &wait_req, sizeof(wait_req));
	/* Not a cancellation point: a cancelled start would leave the
	 * connection open and nobody to close it. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	sent = client_send(fd, out, n);
	/*
	 * The poll's answer: 0 (drained already) or -ETIMEDOUT (running
	 * down) say that the run-down has begun.  A daemon that refuses the
	 * connection says why (id 0) and closes, possibly before the
	 * requests went out, so the reason is read even then (but not after
	 * any other error, which no answer follows).  The wait's answer,
	 * should it come first, is kept for finish().
	 */
	for (r = sent == -ECONNRESET ? 0 : sent; r == 0;) {
		if ((r = async_frame_wait(fd, &h, &p)) != 0)
			break;
		if (async_answers(&h, ASYNC_POLL_ID)) {
			r = client_answer(&h, &p, sizeof(p), PROTO_OK);
			if (r == -ETIMEDOUT)
				r = 0;
			break;
		}
		if (h.id == ASYNC_WAIT_ID && !a->done) {
			a->done = true;
			a->result = async_answer(&h, &p);
		}
	}
	if (r == -ECONNRESET && sent != 0)
		r = sent;
	if (r == 0 && a->done)
		/* Nothing more to read: end of file makes it readable. */
		shutdown(fd, SHUT_WR);
	if (r == 0 && fstat(fd, &st) != 0)
		r = -errno;
	pthread_setcancelstate(cancel, NULL);
	if (r != 0) {
		close(fd);
		free(a);
		return r;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	pthread_mutex_lock(&shared_lock);
	a->next = async_list;
	async_list = a;
	pthread_mutex_unlock(&shared_lock);
	return fd;
}

static int
attach_wait_finish(rundown_cache_t *ref, int fd)
{
	struct async_conn **ap, *a;
	union async_payload p;
	struct proto_hdr h;
	struct stat st;
	int r;

	if (ref->flags & CACHE_FORKED)
		return -ECHILD;
	if (fstat(fd, &st) != 0)
		return -EBADF;
	pthread_mutex_lock(&shared_lock);
	for (ap = &async_list; (a = *ap) != NULL; ap = &a->next)
		if (a->ref == ref && a->dev == st.st_dev &&
		    a->ino == st.st_ino)
			break;
	if (a == NULL) {
		pthread_mutex_unlock(&shared_lock);
		return -EBADF;
	}
	if (a->done)
		r = a->result;
	else {
		/* The wait's answer; a late poll's, or one not ours, is
		 * passed over. */
		while ((r = async_frame_nowait(fd, &h, &p)) == 0 &&
		    !async_answers(&h, ASYNC_WAIT_ID))
			;
		if (r == -EAGAIN) {
			pthread_mutex_unlock(&shared_lock);
			return -EAGAIN;
		}
		if (r == 0)
			r = async_answer(&h, &p);
	}
	*ap = a->next;
	pthread_mutex_unlock(&shared_lock);
	free(a);
	close(fd);
	return r;
}

static const struct cache_ops attach_ops = {
	.wait = attach_wait,
	.completed = attach_completed,
	.reinit = attach_reinit,
	.query = attach_query,
	.free = attach_free,
	.wait_start = attach_wait_start,
	.wait_finish = attach_wait_finish,
};
