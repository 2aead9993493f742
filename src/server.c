/*
 * server.c: the connections on the control socket (listener.c sets it
 * up).  Accepts them, checks every peer's credentials, reads request
 * frames without ever blocking, and queues replies (with the block's
 * descriptors for ATTACHED).
 *
 * A connection is freed only from its own deferred event, never in the
 * middle of a callback that may still use it: anything that decides to
 * close it sets `closing` and activates that event.
 *
 * What one peer can cost is bounded: connections in all and per uid
 * (-C, -U), bytes and descriptors of replies it does not read
 * (SERVER_MAX_OUT, SERVER_MAX_OUT_FDS), the cost of the frames it gets
 * handled per turn of the loop (SERVER_TURN_COST), and time: a frame
 * begun must be whole, and the last replies before a close taken, within
 * -t seconds.
 *
 * Transport only: what a request means is the dispatch callback's given
 * to server_start() (control.c), which this file never names.
 */
#include "config.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "closer.h"
#include "conf.h"
#include "fdpass.h"
#include "log.h"
#include "proc.h"
#include "server.h"

#define SERVER_MAX_OUT (1024 * 1024)	/* bytes queued for a slow reader */
/* Descriptors queued for a slow reader: each queued ATTACHED reply holds
 * copies of two (header and row) until it is sent, and a peer that
 * pipelines attaches and detaches without reading would otherwise hold
 * the daemon's descriptors by the thousand. */
#define SERVER_MAX_OUT_FDS 16
#define SERVER_ACCEPTS_PER_TURN 64	/* new connections taken at once */
#define SERVER_TRIM_BYTES (4 * 1024 * 1024) /* unread replies freed, then
				 * malloc_trim() */
#define SERVER_MAX_GROUPS 256
/* SCM_MAX_FD, the most descriptors one message carries (Linux): room for
 * all, since the kernel closes what does not fit in the receiver. */
#define SERVER_MAX_FDS 253
/* Reads spent draining a closed connection before it goes to a lane. */
#define SERVER_DRAIN_READS 16

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77			/* Linux 6.5; Debian 12's headers lack it */
#endif

struct outmsg {
	STAILQ_ENTRY(outmsg) entry;
	size_t len;
	size_t off;
	int fds[SERVER_REPLY_FDS]; /* sent with the first byte */
	int nfds;
	unsigned char data[];
};

/* What one uid's connections hold queued and have spent this turn, so
 * that many connections of a user cannot hold or take together what one
 * may not. */
struct uout {
	LIST_ENTRY(uout) entry;
	uid_t uid;
	unsigned conns;
	size_t bytes;		/* of queued replies, not yet sent */
	unsigned fds;		/* descriptors in them */
	uint64_t turn;		/* server_turn() of the turn spent in */
	unsigned spent;		/* the cost of its frames in that turn */
};

struct conn {
	LIST_ENTRY(conn) entry;
	struct uout *uo;	/* its uid's */
	int fd;
	pid_t pid;
	uint64_t start;		/* the peer's start time, or 0 if unknown */
	bool gone;		/* the peer had exited when it was accepted */
	char comm[16];		/* its command name, once asked, or "" */
	uid_t uid;
	void *data;		/* the dispatcher's (server_set_data) */
	gid_t gid;
	struct event *rev;
	struct event *wev;
	struct event *cev;	/* deferred close */
	struct event *tev;	/* -t: a begun frame, or replies at close */
	STAILQ_HEAD(, outmsg) out;
	size_t outbytes;
	unsigned outfds;	/* descriptors in the queued replies */
	bool closing;		/* stop reading; free once the queue is out */
	bool dead;		/* the socket failed: free now */
	size_t inlen;
	struct proto_hdr hdr;
	unsigned char in[PROTO_HDR_SIZE + sizeof(struct proto_req)];
};

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
static LIST_HEAD(, uout) uouts = LIST_HEAD_INITIALIZER(uouts);
static struct event *listen_ev;
static struct event *backoff_ev;
static const struct config *cfg;
static struct event_base *base;
static server_dispatch_fn dispatch_cb;
static server_closed_fn closed_cb;
static void *cb_arg;
/* Descriptors the closer may hold before the daemon stops accepting and
 * draining (server_start: half the descriptor limit). */
static unsigned long max_closing = 512;

/* ---- connections ------------------------------------------------------ */

/* The record of uid's queued replies, made on its first connection; NULL
 * if out of memory.  server_uout_put() drops the connection's share. */
static struct uout *
server_uout(uid_t uid)
{
	struct uout *u;

	LIST_FOREACH(u, &uouts, entry)
		if (u->uid == uid)
			break;
	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return NULL;
		u->uid = uid;
		LIST_INSERT_HEAD(&uouts, u, entry);
	}
	u->conns++;
	return u;
}

static void
server_uout_put(struct uout *u)
{
	if (--u->conns == 0) {
		LIST_REMOVE(u, entry);
		free(u);
	}
}

static void
server_outmsg_free(struct outmsg *m)
{
	while (m->nfds > 0)
		close(m->fds[--m->nfds]);
	free(m);
}

/* fdpass_take()'s drop: a peer's descriptor goes to its uid's lane. */
static void
server_drop_fd(int fd, void *arg)
{
	closer_close(*(const uid_t *)arg, fd);
}

/* One read from fd with room for every descriptor a message may carry
 * (those go to uid's lane); returns what recvmsg() did. */
static ssize_t
server_recv(int fd, uid_t uid, void *buf, size_t len, int *nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(SERVER_MAX_FDS * sizeof(int))];
	} cbuf;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	*nfds = n >= 0 ? fdpass_take(&msg, NULL, 0, server_drop_fd, &uid) :
	    0;
	return n;
}

/*
 * Closes a connection's socket without letting the loop wait.  Closing
 * it purges what the peer queued and the loop never read, descriptors
 * too, and the last close of one of those may wait (closer.h).  So the
 * peer is first cut off from queueing more (after shutdown() its sends
 * fail with EPIPE), the queue is read empty, any descriptors in it going
 * to the peer's lane, and only a socket known empty is closed here.  One
 * whose queue does not empty in a few reads, or any while the lanes are
 * full, goes to the lane whole.
 */
static void
server_release_fd(int fd, uid_t uid)
{
	char scratch[4096];
	ssize_t n = 1;
	int i, nfds;

	shutdown(fd, SHUT_RDWR);
	if (closer_pending(uid) < cfg->max_user_conns &&
	    closer_pending_all() < max_closing) {
		/* MSG_DONTWAIT: no read sleeps, so none is interrupted. */
		for (i = 0; i < SERVER_DRAIN_READS && n > 0; i++)
			n = server_recv(fd, uid, scratch, sizeof(scratch),
			    &nfds);
	}
	/* 0: the end of the stream, nothing queued; an error (the socket
	 * failed): nothing to read either. */
	if (n <= 0)
		close(fd);
	else
		closer_close(uid, fd);
}

static void
server_conn_free(struct conn *c)
{
	static size_t untrimmed;	/* bytes freed since the last trim */
	struct outmsg *m;

	closed_cb(c, cb_arg);
	untrimmed += c->outbytes;
	c->uo->bytes -= c->outbytes;
	c->uo->fds -= c->outfds;
	server_uout_put(c->uo);
	while ((m = STAILQ_FIRST(&c->out)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->out, entry);
		server_outmsg_free(m);
	}
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->cev);
	event_free(c->tev);
	server_release_fd(c->fd, c->uid);
	LIST_REMOVE(c, entry);
	free(c);
#ifdef __GLIBC__
	/*
	 * The replies a peer left unread (up to SERVER_MAX_OUT each) are
	 * many small allocations, which glibc keeps in its arenas when they
	 * are freed: 64 such peers left the daemon 167 MB larger for good.
	 * Once a few MiB have been freed so, they go back to the system.
	 */
	if (untrimmed >= SERVER_TRIM_BYTES) {
		malloc_trim(0);
		untrimmed = 0;
	}
#endif
}

static void
server_conn_closed(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	server_conn_free(arg);
}

/* Arms c's timer unless it runs: the time counts from the first byte
 * of a frame (or from the close), not from the last, so a peer cannot
 * keep a slot by trickling. */
static void
server_timer(struct conn *c)
{
	struct timeval tv = { (time_t)cfg->timeout, 0 };

	if (!evtimer_pending(c->tev, NULL))
		evtimer_add(c->tev, &tv);
}

/* Stops reading from c; it is freed once its replies are out (or at once
 * if the socket failed, or after -t seconds if the peer does not read). */
static void
server_close(struct conn *c)
{
	if (!c->closing) {
		c->closing = true;
		event_del(c->rev);
		evtimer_del(c->tev);
	}
	if (c->dead || STAILQ_EMPTY(&c->out))
		event_active(c->cev, EV_TIMEOUT, 0);
	else
		server_timer(c);
}

static void
server_timeout(int fd, short events, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)events;
	if (c->closing) {
		log_debug("pid %ld: did not take its last replies",
		    (long)c->pid);
		c->dead = true;
		server_close(c);
		return;
	}
	log_peer_warnx("pid %ld: a frame not finished in %u s; disconnected",
	    (long)c->pid, cfg->timeout);
	server_error(c, 0, ETIMEDOUT);
	server_close(c);
}

/* Sends what is queued; waits for EV_WRITE when the socket is full. */
static void
server_flush(struct conn *c)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(SERVER_REPLY_FDS * sizeof(int))];
	} cbuf;
	struct outmsg *m;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	while (!c->dead && (m = STAILQ_FIRST(&c->out)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = m->data + m->off;
		iov.iov_len = m->len - m->off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (m->nfds > 0 && m->off == 0)
			fdpass_put(&msg, cbuf.buf, sizeof(cbuf.buf), m->fds,
			    m->nfds);
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				event_add(c->wev, NULL);
				return;
			}
			log_debug("pid %ld: send: %s", (long)c->pid,
			    strerror(errno));
			c->dead = true;
			server_close(c);
			return;
		}
		m->off += (size_t)n;
		c->outbytes -= (size_t)n;
		c->uo->bytes -= (size_t)n;
		if (m->off == m->len) {
			STAILQ_REMOVE_HEAD(&c->out, entry);
			c->outfds -= (unsigned)m->nfds;
			c->uo->fds -= (unsigned)m->nfds;
			server_outmsg_free(m);
		}
	}
	event_del(c->wev);
	if (c->closing)
		server_close(c);
}

static void
server_writable(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	server_flush(arg);
}

void
server_reply_fds(struct conn *c, uint16_t type, uint32_t id,
    const void *payload, size_t len, const int *fds, int nfds)
{
	struct outmsg *m;

	if (c->dead)
		return;
	if (c->outbytes + PROTO_HDR_SIZE + len > SERVER_MAX_OUT ||
	    c->outfds + (unsigned)nfds > SERVER_MAX_OUT_FDS) {
		log_peer_warnx("pid %ld: not reading its replies; disconnected",
		    (long)c->pid);
		c->dead = true;
		server_close(c);
		return;
	}
	/* Root's and the daemon's own are not capped: the caps keep each
	 * other user to a share. */
	if (c->uid != 0 && c->uid != geteuid() &&
	    (c->uo->bytes + PROTO_HDR_SIZE + len > cfg->max_user_out ||
	    c->uo->fds + (unsigned)nfds > cfg->max_user_out_fds)) {
		log_peer_warnx("pid %ld uid %lu: its user's connections do not "
		    "read their replies (-M, -F); disconnected", (long)c->pid,
		    (unsigned long)c->uid);
		c->dead = true;
		server_close(c);
		return;
	}
	if ((m = malloc(sizeof(*m) + PROTO_HDR_SIZE + len)) == NULL) {
		log_peer_warnx("pid %ld: out of memory for a reply; disconnected",
		    (long)c->pid);
		c->dead = true;
		server_close(c);
		return;
	}
	m->len = proto_encode(m->data, PROTO_HDR_SIZE + len, type, id, payload,
	    len);
	m->off = 0;
	/* Copies: the block may be freed (its descriptors closed, the
	 * numbers reused) before this reply leaves the queue. */
	for (m->nfds = 0; m->nfds < nfds && m->nfds < SERVER_REPLY_FDS;
	    m->nfds++) {
		if ((m->fds[m->nfds] = fcntl(fds[m->nfds], F_DUPFD_CLOEXEC,
		    0)) < 0) {
			log_peer_warn("pid %ld: dup for a reply; disconnected",
			    (long)c->pid);
			server_outmsg_free(m);
			c->dead = true;
			server_close(c);
			return;
		}
	}
	c->outbytes += m->len;
	c->outfds += (unsigned)m->nfds;
	c->uo->bytes += m->len;
	c->uo->fds += (unsigned)m->nfds;
	STAILQ_INSERT_TAIL(&c->out, m, entry);
	if (STAILQ_FIRST(&c->out) == m)
		server_flush(c);
}

void
server_reply(struct conn *c, uint16_t type, uint32_t id, const void *payload,
    size_t len, int fd)
{
	server_reply_fds(c, type, id, payload, len, &fd, fd >= 0 ? 1 : 0);
}

void
server_error(struct conn *c, uint32_t id, int err)
{
	struct proto_error e = { .code = err };

	server_reply(c, PROTO_ERROR, id, &e, sizeof(e), -1);
}

void
server_set_data(struct conn *c, void *data)
{
	c->data = data;
}

void *
server_data(const struct conn *c)
{
	return c->data;
}

pid_t
server_peer_pid(const struct conn *c)
{
	return c->pid;
}

uid_t
server_peer_uid(const struct conn *c)
{
	return c->uid;
}

uint64_t
server_peer_start(const struct conn *c)
{
	return c->start;
}

bool
server_peer_gone(const struct conn *c)
{
	return c->gone;
}

gid_t
server_peer_gid(const struct conn *c)
{
	return c->gid;
}

/* Read now, not at accept: a process names itself as it likes, and the
 * name it has when it acts is the one worth logging.  "?" once it is
 * gone, lest another process that took its pid be named. */
void
server_peer_comm(struct conn *c, char *buf, size_t size)
{
	uint64_t start;

	/* Read from /proc once per connection: two files a request would
	 * cost the loop more than the request itself. */
	if (c->comm[0] == '\0') {
		if (c->gone || c->start == 0 ||
		    task_start_time(c->pid, &start) != 0 || start != c->start)
			snprintf(c->comm, sizeof(c->comm), "?");
		else
			proc_comm(c->pid, c->comm, sizeof(c->comm));
		if (c->comm[0] == '\0')
			snprintf(c->comm, sizeof(c->comm), "?");
	}
	snprintf(buf, size, "%s", c->comm);
}

/* Is gid the peer's group, or one of its supplementary groups as of
 * connect()?  Those are asked of the socket only when needed. */
bool
server_peer_in_group(const struct conn *c, gid_t gid)
{
	gid_t groups[SERVER_MAX_GROUPS];
	socklen_t len = sizeof(groups);
	size_t i;

	if (c->gid == gid)
		return true;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return false;	/* more than we take, or none: not a member */
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * Pins the pid to the process that connected, by its start time: should
 * that process exit and its pid be reused, an attach on its connection
 * finds another start time and fails, instead of charging a row to a
 * stranger.  The pid comes from SO_PEERCRED, as of connect(); by now the
 * connector may have exited and its pid been taken.  Where the kernel
 * has SO_PEERPIDFD, its pidfd names the connector itself: if it is alive
 * after the start time was read, that start time was the connector's,
 * else the peer is gone.  Without SO_PEERPIDFD the pid is pinned from
 * here on only.  A peer whose /proc entry cannot be read connects all
 * the same: it can query, but an attach then fails.
 */
static void
server_pin(struct conn *c)
{
	socklen_t len = sizeof(int);
	int pidfd = -1, r;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
		if (errno == ESRCH)
			c->gone = true;
		pidfd = -1;	/* ENOPROTOOPT: a kernel before 6.5 */
	}
	if (task_start_time(c->pid, &c->start) != 0)
		c->start = 0;
	if (pidfd >= 0) {
		/* Signal 0 tests for life; EPERM (another user's process)
		 * says it lives too. */
		r = (int)syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
		if (r != 0 && errno == ESRCH)
			c->gone = true;
		close(pidfd);
	}
}

/* Answers a broken frame with an error and closes the connection. */
static void
server_reject(struct conn *c, uint32_t id, int err)
{
	log_peer_warnx("pid %ld: bad frame (%s); disconnected", (long)c->pid,
	    strerror(err));
	server_error(c, id, err);
	server_close(c);
}

/* One complete frame is in c->in: what handling it cost. */
static unsigned
server_frame(struct conn *c)
{
	struct proto_req req;
	struct proto_hdr h;
	int r;

	if ((r = proto_decode(c->in, c->inlen, &h)) != 0) {
		server_reject(c, c->hdr.id, -r);
		return 1;
	}
	memset(&req, 0, sizeof(req));
	memcpy(&req, c->in + PROTO_HDR_SIZE, h.length);
	c->inlen = 0;
	evtimer_del(c->tev);
	return dispatch_cb(c, &h, &req, cb_arg);
}

/*
 * Which turn of the loop this is: the time libevent caches once a turn,
 * after the poll, from CLOCK_MONOTONIC (EVENT_BASE_FLAG_PRECISE_TIMER,
 * rundownd.c; the default coarse clock would make every turn of a 4 ms
 * tick one).  Two turns within a microsecond look like one, which only
 * gives their users one budget for both.
 */
static uint64_t
server_turn(void)
{
	struct timeval tv;

	if (event_base_gettimeofday_cached(base, &tv) != 0)
		return 0;
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void
server_readable(int fd, short events, void *arg)
{
	struct conn *c = arg;
	struct uout *u = c->uo;
	uint64_t turn = server_turn();
	size_t want;
	ssize_t n;
	int nfds, r;

	(void)events;
	if (u->turn != turn) {
		u->turn = turn;
		u->spent = 0;
	}
	/* Level-triggered: what is left is read on the loop's next turn,
	 * after every other user's turn. */
	while (!c->closing && u->spent < SERVER_TURN_COST) {
		if (c->inlen < PROTO_HDR_SIZE)
			want = PROTO_HDR_SIZE - c->inlen;
		else
			want = PROTO_HDR_SIZE + c->hdr.length - c->inlen;
		n = server_recv(fd, c->uid, c->in + c->inlen, want, &nfds);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				c->dead = true;
				server_close(c);
			}
			break;
		}
		if (nfds != 0) {
			/* Clients send no descriptors. */
			server_reject(c, 0, EBADMSG);
			break;
		}
		if (n == 0) {
			/* The peer closed: send nothing more. */
			c->dead = true;
			server_close(c);
			break;
		}
		c->inlen += (size_t)n;
		if (c->inlen == PROTO_HDR_SIZE) {
			memcpy(&c->hdr, c->in, sizeof(c->hdr));
			if ((r = proto_check_hdr(&c->hdr)) == 0 &&
			    (c->hdr.type == 0 || c->hdr.type > PROTO_REQ_MAX))
				r = -EBADMSG;	/* a reply, or unknown */
			if (r != 0) {
				server_reject(c, c->hdr.id, -r);
				break;
			}
		}
		if (c->inlen == PROTO_HDR_SIZE + c->hdr.length)
			u->spent += server_frame(c);
	}
	if (!c->closing && c->inlen > 0)
		server_timer(c);
}

/* May this peer talk to the daemon?  Root, our own user, or one let in. */
static bool
server_allowed(int fd, uid_t uid, gid_t gid)
{
	gid_t groups[SERVER_MAX_GROUPS];
	socklen_t len = sizeof(groups);
	size_t i, j, n;

	if (uid == 0 || uid == geteuid())
		return true;
	for (i = 0; i < cfg->nallow_uids; i++)
		if (cfg->allow_uids[i] == uid)
			return true;
	for (i = 0; i < cfg->nallow_gids; i++)
		if (cfg->allow_gids[i] == gid)
			return true;
	if (cfg->nallow_gids == 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return false;
	n = len / sizeof(gid_t);
	for (i = 0; i < n; i++)
		for (j = 0; j < cfg->nallow_gids; j++)
			if (groups[i] == cfg->allow_gids[j])
				return true;
	return false;
}

/* Which limit a new connection c (already on the list) exceeds, if any.
 * Connections being closed count until freed, and so do descriptors of
 * its user that the closer has yet to close: a peer that reconnects in a
 * loop gains nothing. */
static const char *
server_over_limit(const struct conn *c)
{
	const struct conn *o;
	unsigned long all = 0, mine = closer_pending(c->uid);

	LIST_FOREACH(o, &conns, entry) {
		if (o == c)
			continue;
		all++;
		if (o->uid == c->uid)
			mine++;
	}
	if (all >= cfg->max_conns)
		return "in all";
	if (mine >= cfg->max_user_conns)
		return "of its user";
	return NULL;
}

/* Refuses c with EUSERS. */
static void
server_refuse_busy(struct conn *c, const char *limit)
{
	log_peer_warnx("refused pid %ld uid %lu: too many connections %s",
	    (long)c->pid, (unsigned long)c->uid, limit);
	server_error(c, 0, EUSERS);
	server_close(c);
}

static void
server_accept_again(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	event_add(listen_ev, NULL);
}

/* Stops accepting for a second: the descriptor table is full, or half
 * of it still closing. */
static void
server_pause(void)
{
	struct timeval second = { 1, 0 };

	event_del(listen_ev);
	evtimer_add(backoff_ev, &second);
}

/* A new connection's record for cfd, from cred, its events made and its
 * uid's record taken; NULL (cfd closed) if out of memory. */
static struct conn *
server_conn_new(int cfd, const struct ucred *cred)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(cfd);
		return NULL;
	}
	c->fd = cfd;
	c->pid = cred->pid;
	c->uid = cred->uid;
	c->gid = cred->gid;
	server_pin(c);
	STAILQ_INIT(&c->out);
	c->rev = event_new(base, cfd, EV_READ | EV_PERSIST, server_readable, c);
	c->wev = event_new(base, cfd, EV_WRITE | EV_PERSIST, server_writable,
	    c);
	c->cev = event_new(base, -1, 0, server_conn_closed, c);
	c->tev = evtimer_new(base, server_timeout, c);
	c->uo = server_uout(c->uid);
	if (c->rev == NULL || c->wev == NULL || c->cev == NULL ||
	    c->tev == NULL || c->uo == NULL) {
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->wev != NULL)
			event_free(c->wev);
		if (c->cev != NULL)
			event_free(c->cev);
		if (c->tev != NULL)
			event_free(c->tev);
		if (c->uo != NULL)
			server_uout_put(c->uo);
		close(cfd);
		free(c);
		return NULL;
	}
	return c;
}

/* Accepts one connection: true if the listener may have more (one was
 * taken, whatever became of it), false once it has none or the daemon
 * must pause. */
static bool
server_accept_one(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	const char *limit;
	struct conn *c;
	int cfd;

	if (closer_pending_all() >= max_closing) {
		/* Peers' descriptors still being closed fill half the
		 * table: new connections, each able to bring more, wait. */
		log_peer_warnx("%lu descriptors still closing; not accepting "
		    "for a second", closer_pending_all());
		server_pause();
		return false;
	}
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of descriptors: pause accepting for a second
			 * instead of spinning on a listener that stays ready. */
			log_warn("accept; pausing for a second");
			server_pause();
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return errno == EINTR || errno == ECONNABORTED;
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_warn("SO_PEERCRED");
		close(cfd);
		return true;
	}
	if ((c = server_conn_new(cfd, &cred)) == NULL)
		return true;
	LIST_INSERT_HEAD(&conns, c, entry);
	if (!server_allowed(cfd, cred.uid, cred.gid)) {
		log_peer_warnx("refused pid %ld uid %lu: not a permitted user",
		    (long)cred.pid, (unsigned long)cred.uid);
		server_error(c, 0, EACCES);
		server_close(c);
		return true;
	}
	if ((limit = server_over_limit(c)) != NULL) {
		server_refuse_busy(c, limit);
		return true;
	}
	log_debug("pid %ld uid %lu connected", (long)cred.pid,
	    (unsigned long)cred.uid);
	event_add(c->rev, NULL);
	return true;
}

/*
 * The listener is readable: every pending connection is taken, up to
 * SERVER_ACCEPTS_PER_TURN, rather than one per turn of the loop, in which
 * every busy connection also gets its turn: a user keeping many of them
 * busy would otherwise hold a new connection in the backlog for seconds.
 */
static void
server_accept(int fd, short events, void *arg)
{
	unsigned n = 0;

	(void)events;
	(void)arg;
	while (n++ < SERVER_ACCEPTS_PER_TURN && server_accept_one(fd))
		;
}

void
server_start(const struct config *c, struct event_base *b, int fd,
    server_dispatch_fn dispatch, server_closed_fn closed, void *arg)
{
	struct rlimit rl;

	cfg = c;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max_closing = (unsigned long)rl.rlim_cur / 2;
	base = b;
	dispatch_cb = dispatch;
	closed_cb = closed;
	cb_arg = arg;
	listen_ev = event_new(base, fd, EV_READ | EV_PERSIST, server_accept,
	    NULL);
	backoff_ev = evtimer_new(base, server_accept_again, NULL);
	if (listen_ev == NULL || backoff_ev == NULL ||
	    event_add(listen_ev, NULL) != 0)
		fatalx("cannot watch the control socket");
}

void
server_stop(void)
{
	struct conn *c;

	while ((c = LIST_FIRST(&conns)) != NULL)
		server_conn_free(c);
	if (listen_ev != NULL)
		event_free(listen_ev);
	if (backoff_ev != NULL)
		event_free(backoff_ev);
}
