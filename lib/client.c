/*
 * client.c: connections to rundownd and the control calls.
 *
 * Blocking I/O: the caller asked for an answer and has nothing else to
 * do.  The daemon enforces the timeout of a wait, so a call returns when
 * the daemon answers or goes away, never later.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "deadline.h"
#include "fdpass.h"

/* The public maximum is the protocol's: rundownd's -R is capped by it. */
_Static_assert(RUNDOWN_MAX_ROWS == PROTO_MAX_ENTRIES,
    "RUNDOWN_MAX_ROWS in rundown.h is PROTO_MAX_ENTRIES in proto.h");

struct rundown_conn {
	int fd;
	pid_t pid;		/* the process that connected */
	uint32_t next_id;
	pthread_mutex_t lock;	/* one request at a time */
};

/*
 * The system's daemon's socket: RUNDOWN_SYSTEM_SOCKET, unless
 * $RUNDOWN_SYSTEM_SOCKET names another absolute path.  That variable is
 * for tests, which stand a private daemon in for the system's; it is no
 * more trusted than $RUNDOWN_SOCKET, since the daemon found there must
 * pass client_check_peer() all the same.
 */
static const char *
client_system_path(void)
{
	const char *env = getenv("RUNDOWN_SYSTEM_SOCKET");

	return env != NULL && *env == '/' ? env : RUNDOWN_SYSTEM_SOCKET;
}

int
rundown_socket_path(char *buf, size_t size)
{
	struct sockaddr_un sun;
	const char *env = getenv("RUNDOWN_SOCKET"), *xdg, *home;
	int n;

	if (buf == NULL)
		return -EINVAL;
	if (size > sizeof(sun.sun_path))
		size = sizeof(sun.sun_path);
	/* Formatted aside: a buffer too small is left as it was, not given
	 * a truncated path that a careless caller could go on to use. */
	if (env != NULL && *env != '\0')
		n = snprintf(sun.sun_path, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(sun.sun_path, size, "%s", client_system_path());
	else if ((xdg = getenv("XDG_RUNTIME_DIR")) != NULL && *xdg == '/')
		n = snprintf(sun.sun_path, size, "%s/rundownd/rundownd.sock",
		    xdg);
	else if ((home = getenv("HOME")) != NULL && *home == '/')
		/* Not a shared directory such as /tmp, where another user
		 * could create the name first and serve on it. */
		n = snprintf(sun.sun_path, size, "%s/.rundownd/rundownd.sock",
		    home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	memcpy(buf, sun.sun_path, (size_t)n + 1);
	return 0;
}

/* Whether the daemon may run as uid: root, this user, or the one named
 * by $RUNDOWN_DAEMON_UID. */
static bool
client_trusted(uid_t uid)
{
	const char *env = getenv("RUNDOWN_DAEMON_UID");
	unsigned long v;
	char *end;

	if (uid == 0 || uid == geteuid())
		return true;
	if (env == NULL || *env < '0' || *env > '9')
		return false;
	errno = 0;
	v = strtoul(env, &end, 10);
	return errno == 0 && *end == '\0' && v == (unsigned long)uid &&
	    (uid_t)v == uid;
}

/*
 * Whether the listener on fd, at path, is a daemon this user trusts: it
 * runs as a trusted uid, and its socket's directory is that uid's and
 * writable by no one else (so no one else can have put the socket there
 * or swap it).  Without this another user could serve on a path first
 * and be taken for the daemon.  0 or -EPERM.
 */
static int
client_check_peer(int fd, const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    len != sizeof(cred) || !client_trusted(cred.uid))
		return -EPERM;
	memcpy(dir, path, strlen(path) + 1);
	if ((slash = strrchr(dir, '/')) == NULL)
		memcpy(dir, ".", 2);
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0 || st.st_uid != cred.uid ||
	    (st.st_mode & 022) != 0)
		return -EPERM;
	return 0;
}

/*
 * What a failed connect() to path means to a caller.  No file there, or
 * no directory for it, is no daemon, as a socket nobody listens on is:
 * -ECONNREFUSED, which the reconnecting waits take for "not yet, try
 * again" (a daemon started for the first time makes its directory), and
 * -ENOENT stays "no such block".  Linux also refuses a connect() to a
 * file that is not a socket; no daemon will ever answer there, so that
 * one is told apart: -ENOTSOCK.
 */
static int
client_connect_error(int err, const char *path)
{
	struct stat st;

	if (err == ENOENT)
		return -ECONNREFUSED;
	if (err == ECONNREFUSED && stat(path, &st) == 0 &&
	    !S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	return -err;
}

int
rundown_connect(const char *path, rundown_conn_t **conn)
{
	struct sockaddr_un sun;
	rundown_conn_t *c;
	int r;

	if (conn == NULL)
		return -EINVAL;
	*conn = NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path == NULL)
		return client_connect_default(sun.sun_path,
		    sizeof(sun.sun_path), conn);
	if (strlen(path) >= sizeof(sun.sun_path) || *path == '\0')
		return path[0] == '\0' ? -EINVAL : -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		free(c);
		return r;
	}
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		if (errno == EINTR)
			continue;
		r = client_connect_error(errno, sun.sun_path);
		close(c->fd);
		free(c);
		return r;
	}
	if ((r = client_check_peer(c->fd, sun.sun_path)) != 0) {
		close(c->fd);
		free(c);
		return r;
	}
	c->pid = getpid();
	c->next_id = 1;
	pthread_mutex_init(&c->lock, NULL);
	*conn = c;
	return 0;
}

/*
 * The daemon of a caller that names none: the one at rundown_socket_path(),
 * or, where that is a user's own default and no daemon runs there (no
 * socket, or one nobody listens on: -ECONNREFUSED), the system's
 * (client_system_path()); a user with no default of its own (neither
 * $XDG_RUNTIME_DIR nor $HOME) goes to the system's at once.
 * $RUNDOWN_SOCKET names one path, and nothing else is tried.  The path of
 * the daemon connected to, or of the last one tried, ends up in path.
 */
int
client_connect_default(char *path, size_t size, rundown_conn_t **conn)
{
	const char *env = getenv("RUNDOWN_SOCKET");
	const char *sys = client_system_path();
	int r;

	r = rundown_socket_path(path, size);
	if (env != NULL && *env != '\0')
		return r != 0 ? r : rundown_connect(path, conn);
	if (r == 0 && ((r = rundown_connect(path, conn)) != -ECONNREFUSED ||
	    strcmp(path, sys) == 0))
		return r;
	if (r != -ECONNREFUSED && r != -ENOENT)
		return r;
	if (strlen(sys) >= size)
		return -ENAMETOOLONG;
	memcpy(path, sys, strlen(sys) + 1);
	return rundown_connect(path, conn);
}

void
rundown_disconnect(rundown_conn_t *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void
client_forget(rundown_conn_t *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int
client_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EPIPE ? -ECONNRESET : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
client_recv(int fd, void *buf, size_t len, int *rfd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cbuf;
	struct msghdr msg;
	struct iovec iov;
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		iov.iov_base = p;
		iov.iov_len = len;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		fdpass_take(&msg, rfd, CLIENT_FDS, NULL, NULL);
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
client_close_fds(int *fds)
{
	int i;

	for (i = 0; i < CLIENT_FDS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Reads one frame: header to *h, payload to buf (the part beyond size is
 * read and dropped).  0 or -errno; -EPROTO for a frame that breaks the
 * protocol. */
static int
client_read_frame(rundown_conn_t *c, struct proto_hdr *h, void *buf,
    size_t size, int *fd)
{
	char scratch[256];
	size_t take, left;
	int r;

	if ((r = client_recv(c->fd, h, sizeof(*h), fd)) != 0)
		return r;
	if (proto_check_hdr(h) != 0) {
		/* Its length cannot be trusted, so the next frame's start is
		 * lost: end the stream, lest a later call read a payload as a
		 * header (later calls get -ECONNRESET). */
		shutdown(c->fd, SHUT_RDWR);
		return -EPROTO;
	}
	take = h->length < size ? h->length : size;
	if ((r = client_recv(c->fd, buf, take, fd)) != 0)
		return r;
	for (left = h->length - take; left > 0; left -= take) {
		take = left < sizeof(scratch) ? left : sizeof(scratch);
		if ((r = client_recv(c->fd, scratch, take, fd)) != 0)
			return r;
	}
	return 0;
}

/* What a reply says to the call that waits for want (client.h). */
int
client_answer(const struct proto_hdr *h, const void *payload, size_t size,
    uint16_t want)
{
	struct proto_error err;

	/* The payload is here if it fit: every reply buffer holds at least a
	 * proto_ok, as big as an error, but the fuzzer tries smaller ones. */
	if (h->type == PROTO_ERROR && h->length == sizeof(err) &&
	    size >= sizeof(err)) {
		memcpy(&err, payload, sizeof(err));
		return err.code > 0 ? -err.code : -EPROTO;
	}
	if (h->type != want || h->length > size)
		return -EPROTO;
	return 0;
}

int
client_call(rundown_conn_t *c, uint16_t type, const struct proto_req *req,
    uint16_t want, void *reply, size_t size, size_t *len, int *fd)
{
	char out[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_hdr h;
	size_t n;
	uint32_t id;
	int r, got[CLIENT_FDS], i, cancel;

	if (c == NULL)
		return -EINVAL;
	if (c->pid != getpid() || c->fd < 0)
		return -ECHILD;
	for (i = 0; i < CLIENT_FDS; i++)
		got[i] = -1;
	/* Not a cancellation point: a cancelled call would leave the lock
	 * held and the stream in the middle of a frame. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&c->lock);
	id = c->next_id++;
	n = proto_encode(out, sizeof(out), type, id, req,
	    (size_t)proto_req_size(type));
	if ((r = client_send(c->fd, out, n)) != 0) {
		/* A daemon that refuses a peer says why and closes at once,
		 * possibly before this request went out: read the reason. */
		if (r == -ECONNRESET &&
		    client_read_frame(c, &h, reply, size, got) == 0 &&
		    h.id == 0 && h.type == PROTO_ERROR)
			goto answer;
		goto out;
	}
	for (;;) {
		client_close_fds(got);
		r = client_read_frame(c, &h, reply, size, got);
		if (r != 0)
			goto out;
		/* Id 0: an error about the connection itself (refused). */
		if (h.id == id || (h.id == 0 && h.type == PROTO_ERROR))
			break;
		/* Not ours (one request at a time, so only a daemon that
		 * broke the protocol sends these): skip it. */
	}
answer:
	if ((r = client_answer(&h, reply, size, want)) == 0 && len != NULL)
		*len = h.length;
out:
	for (i = 0; r == 0 && fd != NULL && i < CLIENT_FDS; i++) {
		fd[i] = got[i];
		got[i] = -1;
	}
	client_close_fds(got);
	pthread_mutex_unlock(&c->lock);
	pthread_setcancelstate(cancel, NULL);
	return r;
}

/* A request that names a tag and expects PROTO_OK. */
static int
client_simple(rundown_conn_t *c, uint16_t type, uint32_t tag, uint32_t arg)
{
	struct proto_req req = { .tag = tag, .arg = arg };
	struct proto_ok ok;

	return client_call(c, type, &req, PROTO_OK, &ok, sizeof(ok), NULL,
	    NULL);
}

int
client_detach(rundown_conn_t *c, uint32_t tag, uint32_t serial, uint32_t row,
    uint64_t *held)
{
	struct proto_req req = { .tag = tag, .arg = row, .serial = serial };
	struct proto_ok ok;
	int r;

	r = client_call(c, PROTO_DETACH, &req, PROTO_OK, &ok, sizeof(ok), NULL,
	    NULL);
	if (r == 0 && held != NULL)
		*held = ok.value;
	return r;
}

int
rundown_ctl_create(rundown_conn_t *c, uint32_t tag, uint32_t rows)
{
	return client_simple(c, PROTO_CREATE, tag, rows);
}

int
rundown_ctl_create_mode(rundown_conn_t *c, uint32_t tag, uint32_t rows,
    unsigned int mode)
{
	struct proto_req req = { .tag = tag, .arg = rows,
	    .flags = PROTO_MODE_FLAGS(mode) };
	struct proto_ok ok;

	if ((mode & ~PROTO_MODE_MASK) != 0)
		return -EINVAL;
	return client_call(c, PROTO_CREATE, &req, PROTO_OK, &ok, sizeof(ok),
	    NULL, NULL);
}

int
rundown_ctl_wait(rundown_conn_t *c, uint32_t tag,
    const struct timespec *timeout)
{
	uint64_t ms;

	if (timeout == NULL)
		return client_simple(c, PROTO_WAIT, tag, PROTO_NO_TIMEOUT);
	if (deadline_check(timeout) != 0)
		return -EINVAL;
	/* Milliseconds, rounded up so that a wait never ends early; beyond
	 * 49 days the limit is as good as none.  The seconds are capped
	 * before they are multiplied: past 2^64 / 1000 the product would
	 * wrap, and a timeout of ages would become one of milliseconds. */
	if ((uint64_t)timeout->tv_sec >= PROTO_NO_TIMEOUT / 1000)
		ms = PROTO_NO_TIMEOUT;
	else
		ms = (uint64_t)timeout->tv_sec * 1000 +
		    ((uint64_t)timeout->tv_nsec + 999999) / 1000000;
	if (ms >= PROTO_NO_TIMEOUT)
		ms = PROTO_NO_TIMEOUT - 1;
	return client_simple(c, PROTO_WAIT, tag, (uint32_t)ms);
}

bool
client_broken(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN;
}

/* Replaces *conn with c, through the caller's hook if it has one. */
static void
rewait_set(rundown_conn_t **conn, const struct client_rewait *w,
    rundown_conn_t *c)
{
	if (w->set_conn != NULL)
		w->set_conn(w->arg, c);
	else
		*conn = c;
}

/* One wait on c: with a deadline, what is left of it rounded up to the
 * millisecond, and 0 once it has passed (the daemon then answers at once
 * whether the run-down has ended); else the timeout as given. */
static int
rewait_send(rundown_conn_t *c, const struct client_rewait *w,
    const struct timespec *deadline)
{
	struct timespec left = { 0, 0 };
	int64_t ms;

	if (deadline == NULL)
		return rundown_ctl_wait(c, w->tag, w->timeout);
	if ((ms = deadline_ms_left(deadline) + 1) > 0) {
		left.tv_sec = (time_t)(ms / 1000);
		left.tv_nsec = (long)(ms % 1000) * 1000000L;
	}
	return rundown_ctl_wait(c, w->tag, &left);
}

int
client_wait_reconnect(rundown_conn_t **conn, const struct client_rewait *w)
{
	const struct timespec pause = { 0, CLIENT_RETRY_MS * 1000000L };
	const struct timespec window = { CLIENT_RECONNECT_MS / 1000,
	    (CLIENT_RECONNECT_MS % 1000) * 1000000L };
	struct timespec deadline, give_up = { 0, 0 }, served;
	const struct timespec *dl = NULL;
	rundown_conn_t *c;
	bool lost = false, sent = false;
	int r = 0;

	/* A malformed timeout is the first try's -EINVAL; one too long for
	 * the milliseconds rewait_send() counts is sent whole each time. */
	if (w->timeout != NULL && w->timeout->tv_sec < INT32_MAX / 1000 &&
	    deadline_from(w->timeout, &deadline) == 0)
		dl = &deadline;
	for (;;) {
		if ((c = *conn) == NULL && (r = rundown_connect(w->path,
		    &c)) == 0)
			rewait_set(conn, w, c);
		if (c != NULL) {
			if (sent && w->moved_on != NULL && w->moved_on(w->arg))
				return 0;
			sent = true;
			deadline_from(&pause, &served);
			if (!client_broken(r = rewait_send(c, w, dl)))
				return r;
			rewait_set(conn, w, NULL);
			rundown_disconnect(c);
			/* A daemon held the wait a while (a pause's time):
			 * its loss is a new one, tried again at once with a
			 * new window.  One that drops the wait at once goes
			 * on with the loss before it, through the pause and
			 * the checks below: a peer that accepts and hangs up
			 * cannot make the wait spin, or outlast its time. */
			if (deadline_passed(&served))
				lost = false;
		} else if (r != -ECONNREFUSED)
			return r;
		/* No daemon: try again right after the loss, then every
		 * CLIENT_RETRY_MS until the window or the time is up. */
		if (!lost) {
			lost = true;
			deadline_from(&window, &give_up);
			if (c != NULL)
				continue;
		}
		if (deadline_passed(&give_up) || (dl != NULL &&
		    deadline_passed(dl)))
			return r;
		nanosleep(&pause, NULL);
	}
}

int
rundown_ctl_wait_reconnect(rundown_conn_t **conn, const char *path,
    uint32_t tag, const struct timespec *timeout)
{
	const struct client_rewait w = { .path = path, .tag = tag,
	    .timeout = timeout };

	if (conn == NULL)
		return -EINVAL;
	return client_wait_reconnect(conn, &w);
}

int
rundown_ctl_completed(rundown_conn_t *c, uint32_t tag)
{
	return client_simple(c, PROTO_COMPLETED, tag, 0);
}

int
rundown_ctl_reinit(rundown_conn_t *c, uint32_t tag)
{
	return client_simple(c, PROTO_REINIT, tag, 0);
}

int
rundown_ctl_free(rundown_conn_t *c, uint32_t tag)
{
	return client_simple(c, PROTO_FREE, tag, 0);
}

int
rundown_ctl_free_force(rundown_conn_t *c, uint32_t tag)
{
	struct proto_req req = { .tag = tag, .flags = PROTO_FREE_FORCE };
	struct proto_ok ok;

	return client_call(c, PROTO_FREE, &req, PROTO_OK, &ok, sizeof(ok),
	    NULL, NULL);
}

/* The public form of a block's figures. */
static void
client_info(const struct proto_info *p, struct rundown_block_info *info)
{
	info->tag = p->tag;
	info->state = (enum rundown_state)p->state;
	info->generation = p->generation;
	info->cpus = p->cpus;
	info->rows = p->rows;
	info->attached = p->attached;
	info->outstanding = p->outstanding;
	info->reclaimed_rows = p->reclaimed_rows;
	info->reclaimed = p->reclaimed;
	info->uid = p->uid;
	info->gid = p->gid;
	info->mode = p->mode;
	info->fence_ms = p->fence_ms;
	info->fence_failures = p->fence_failures;
	info->rundowns = p->rundowns;
	info->last_start_ms = p->last_start_ms;
	info->last_drain_ms = p->last_drain_ms;
	info->last_duration_ms = p->last_duration_ms;
	info->last_reclaimed_rows = p->last_reclaimed_rows;
}

/* A STATUS_REPLY payload as rundown_ctl_status() returns it. */
int
client_status_reply(const void *buf, size_t len,
    struct rundown_block_info *info, struct rundown_holder *holders,
    size_t max, size_t *n)
{
	const char *p = buf;
	struct proto_holder ph;
	struct proto_info pi;
	size_t i;

	/* The fixed part, whole entries, and as many as it counts; checked
	 * here again so that no caller depends on how the frame was read. */
	if (len < sizeof(pi) || (len - sizeof(pi)) % sizeof(ph) != 0)
		return -EPROTO;
	memcpy(&pi, p, sizeof(pi));
	if ((len - sizeof(pi)) / sizeof(ph) != pi.attached)
		return -EPROTO;
	client_info(&pi, info);
	for (i = 0; i < pi.attached && i < max; i++) {
		memcpy(&ph, p + sizeof(pi) + i * sizeof(ph), sizeof(ph));
		holders[i].pid = ph.pid;
		holders[i].row = ph.row;
		holders[i].outstanding = ph.outstanding;
		memcpy(holders[i].comm, ph.comm, sizeof(ph.comm));
		holders[i].comm[sizeof(ph.comm) - 1] = '\0';
	}
	if (n != NULL)
		*n = pi.attached;
	return 0;
}

/* A LIST_REPLY payload as rundown_ctl_list() returns it. */
int
client_list_reply(const void *buf, size_t len,
    struct rundown_block_info *blocks, size_t max, size_t *n)
{
	const char *p = buf;
	struct proto_count pc;
	struct proto_info pi;
	size_t i;

	/* The length first: the count is read only from a whole fixed part. */
	if (len < sizeof(pc))
		return -EPROTO;
	memcpy(&pc, p, sizeof(pc));
	if (len - sizeof(pc) != (size_t)pc.count * sizeof(pi))
		return -EPROTO;
	for (i = 0; i < pc.count && i < max; i++) {
		memcpy(&pi, p + sizeof(pc) + i * sizeof(pi), sizeof(pi));
		client_info(&pi, &blocks[i]);
	}
	if (n != NULL)
		*n = pc.count;
	return 0;
}

int
rundown_ctl_status(rundown_conn_t *c, uint32_t tag,
    struct rundown_block_info *info, struct rundown_holder *holders,
    size_t max, size_t *n)
{
	struct proto_req req = { .tag = tag };
	size_t len;
	char *buf;
	int r;

	if (info == NULL || (max > 0 && holders == NULL))
		return -EINVAL;
	if ((buf = malloc(PROTO_MAX_FRAME)) == NULL)
		return -ENOMEM;
	r = client_call(c, PROTO_STATUS, &req, PROTO_STATUS_REPLY, buf,
	    PROTO_MAX_FRAME, &len, NULL);
	if (r == 0)
		r = client_status_reply(buf, len, info, holders, max, n);
	free(buf);
	return r;
}

int
rundown_ctl_list(rundown_conn_t *c, struct rundown_block_info *blocks,
    size_t max, size_t *n)
{
	size_t len;
	char *buf;
	int r;

	if (max > 0 && blocks == NULL)
		return -EINVAL;
	if ((buf = malloc(PROTO_MAX_FRAME)) == NULL)
		return -ENOMEM;
	r = client_call(c, PROTO_LIST, NULL, PROTO_LIST_REPLY, buf,
	    PROTO_MAX_FRAME, &len, NULL);
	if (r == 0)
		r = client_list_reply(buf, len, blocks, max, n);
	free(buf);
	return r;
}

/* client.h */
int
client_take_fd(rundown_conn_t *c)
{
	int fd = c->fd;

	c->fd = -1;
	rundown_disconnect(c);
	return fd;
}
