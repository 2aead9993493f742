/* client.h: the library's side of the control socket (client.c). */
#ifndef RUNDOWN_CLIENT_H
#define RUNDOWN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rundown/rundown.h>

#include "proto.h"

/* The most descriptors a reply brings (ATTACHED: header, row). */
#define CLIENT_FDS 2

/*
 * Sends one request and reads frames until the reply with its id.  The
 * reply must be of type want (its payload goes to reply, up to size
 * bytes; *len gets its length) or PROTO_ERROR, returned as -code.  If fd
 * is not NULL, fd[0..CLIENT_FDS) get the descriptors that came with the
 * reply, in order, and -1 for those that did not come.
 */
int client_call(rundown_conn_t *c, uint16_t type, const struct proto_req *req,
    uint16_t want, void *reply, size_t size, size_t *len, int *fd);

/*
 * The pure decoding of replies, apart from the socket so that it can be
 * fuzzed (tests/fuzz/fuzz_proto.c).  client_answer: what frame h (its
 * header passed proto_check_hdr(); payload holds the first size bytes of
 * its payload, or all if fewer) says to a call that waits for type want:
 * 0, the error the daemon sent as -code, or -EPROTO.  The other two read
 * a whole STATUS_REPLY or LIST_REPLY payload of len bytes as
 * rundown_ctl_status() and rundown_ctl_list() return it: 0 or -EPROTO.
 */
int client_answer(const struct proto_hdr *h, const void *payload, size_t size,
    uint16_t want);
int client_status_reply(const void *buf, size_t len,
    struct rundown_block_info *info, struct rundown_holder *holders,
    size_t max, size_t *n);
int client_list_reply(const void *buf, size_t len,
    struct rundown_block_info *blocks, size_t max, size_t *n);

/* Gives row of the block tag/serial back to the daemon; *held (if not
 * NULL) gets what the row still held, which the daemon released. */
int client_detach(rundown_conn_t *c, uint32_t tag, uint32_t serial,
    uint32_t row, uint64_t *held);

/*
 * Connects *conn to the daemon of a caller that names none: the one at
 * rundown_socket_path(), or the system's where no daemon of the user's
 * own runs (rundown_shared(3), ENVIRONMENT), and leaves the path of the
 * daemon connected to in path[size].  0 or rundown_connect()'s errors.
 */
int client_connect_default(char *path, size_t size, rundown_conn_t **conn);

/* In a child after fork(): closes the inherited socket without a word to
 * the daemon; every later call on c returns -ECHILD. */
void client_forget(rundown_conn_t *c);

/* Frees c and hands its socket, connected to a daemon that c checked, to
 * the caller, who closes it: for a request whose answer the caller reads
 * itself, without blocking (attach.c, the asynchronous wait). */
int client_take_fd(rundown_conn_t *c);

/* Writes all of buf to the socket fd: 0 or -errno (-ECONNRESET for a
 * closed peer). */
int client_send(int fd, const void *buf, size_t len);

/* Reads exactly len bytes from the socket fd, keeping the descriptors
 * that come with them in rfd[0..CLIENT_FDS) (slots that are -1): 0,
 * -ECONNRESET at end of file, or -errno.  client_close_fds() closes what
 * came and marks the slots free. */
int client_recv(int fd, void *buf, size_t len, int *rfd);
void client_close_fds(int *rfd);

/*
 * How a wait rides out a daemon restart (rundown_ctl_wait_reconnect(),
 * and the attached wait in attach.c).  A wait is the one call that can be
 * sent again whatever became of the first: it starts the run-down only if
 * the block is open, and answers once the run-down in progress ends,
 * which the shared memory keeps across daemons.  And its caller wants the
 * drain, not a daemon: a wait pending when the daemon dies (SIGKILL, a
 * crash) would otherwise fail at once, since the retry comes before any
 * supervisor can start the next one.  So while no daemon answers, a wait
 * asks again every CLIENT_RETRY_MS, for at most CLIENT_RECONNECT_MS from
 * the moment the daemon was lost, and never past its own timeout.  A
 * connection that breaks within CLIENT_RETRY_MS of the wait's sending
 * continues the loss before it.
 */
#define CLIENT_RETRY_MS 100
#define CLIENT_RECONNECT_MS 10000

/* True for the errors that a new connection may cure. */
bool client_broken(int r);

/* A wait that reconnects: where to, what, and the caller's say. */
struct client_rewait {
	const char *path;	/* the daemon's socket (NULL: the default) */
	uint32_t tag;
	const struct timespec *timeout;	/* NULL: none */
	/* Optional: called before the wait is sent again; true if the
	 * run-down first asked for is over already (the wait returns 0). */
	bool (*moved_on)(void *arg);
	/* Optional: publishes each new connection (or NULL once one is
	 * closed) where the caller's other threads look; else *conn is
	 * simply assigned. */
	void (*set_conn)(void *arg, rundown_conn_t *c);
	void *arg;
};

/* The wait on *conn (NULL: connect first), sent again after each loss as
 * said above; *conn ends as the connection in use, or NULL. */
int client_wait_reconnect(rundown_conn_t **conn, const struct client_rewait *w);

#endif /* RUNDOWN_CLIENT_H */
