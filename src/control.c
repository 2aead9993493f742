/*
 * control.c: dispatch.  Takes each decoded request from the transport,
 * looks up its block, calls the registry and answers, in one switch on
 * the request type; this is the one place that builds replies.  Waits
 * that end later are answered from control_wait_done(), the callback
 * given to the registry with each wait.
 *
 * Who may connect at all is the transport's check (server.c); what a
 * peer may do to a block is checked here, before the registry is called,
 * against the block's owner and mode as System V IPC does (ipc_perm):
 * the owner's, the group's or the others' bits, whichever class the peer
 * is in first, where r lets it attach (attach, status) and w lets it
 * control (wait, completed, reinit, free); an attach that re-opens a
 * completed block (PROTO_ATTACH_REOPEN) needs both.  Root and the
 * daemon's own user may do anything.  Refusals are EACCES.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "log.h"
#include "registry.h"
#include "server.h"

/* The pending waits of one uid, over all its connections. */
struct user {
	LIST_ENTRY(user) entry;
	uid_t uid;
	size_t peers;		/* connections that point here */
	size_t waits;
};

/* What control keeps of a connection (server_data). */
struct peer {
	struct conn *conn;
	struct user *user;
	struct registry_waits waits;
};

static LIST_HEAD(, user) users = LIST_HEAD_INITIALIZER(users);
static const struct config *cfg;

void
control_init(const struct config *c)
{
	cfg = c;
}

#define CONTROL_DEFAULT_MODE 0600u	/* a create that names no mode */
#define CONTROL_OBJECT_COST 4u		/* control_cost(): objects made */
#define CONTROL_MAY_ATTACH 04u		/* r */
#define CONTROL_MAY_CONTROL 02u		/* w */

/* What a request of type needs of the block's mode: one of the above,
 * or 0 (create; detach, which only the row's process may do). */
static uint32_t
control_needs(uint16_t type)
{
	switch (type) {
	case PROTO_ATTACH:
	case PROTO_STATUS:
		return CONTROL_MAY_ATTACH;
	case PROTO_WAIT:
	case PROTO_COMPLETED:
	case PROTO_REINIT:
	case PROTO_FREE:
		return CONTROL_MAY_CONTROL;
	default:
		return 0;
	}
}

/* May the peer of c do what need says to blk? */
static bool
control_may(struct conn *c, struct shm_block *blk, uint32_t need)
{
	uid_t uid = server_peer_uid(c), owner;
	uint32_t mode, bits;
	gid_t group;

	if (need == 0 || uid == 0 || uid == geteuid())
		return true;
	registry_owner(blk, &owner, &group, &mode);
	if (uid == owner)
		bits = mode >> 6;
	else if (server_peer_in_group(c, group))
		bits = mode >> 3;
	else
		bits = mode;
	return (bits & need) == need;
}

/* Is the peer of c the owner of blk, root, or the daemon's user (who
 * may override what its rows say: free --force)? */
static bool
control_owns(struct conn *c, struct shm_block *blk)
{
	uid_t uid = server_peer_uid(c), owner;
	uint32_t mode;
	gid_t group;

	registry_owner(blk, &owner, &group, &mode);
	return uid == 0 || uid == geteuid() || uid == owner;
}

/* The mode a create request asks for. */
static uint32_t
control_mode(const struct proto_req *req)
{
	return (req->flags & PROTO_MODE_SET) ? PROTO_MODE_OF(req->flags) :
	    CONTROL_DEFAULT_MODE;
}

/* The answer of a wait that was pending. */
static void
control_wait_done(void *owner, uint32_t id, int err)
{
	struct peer *p = owner;
	struct proto_ok ok = { 0 };

	p->user->waits--;
	if (err == 0)
		server_reply(p->conn, PROTO_OK, id, &ok, sizeof(ok), -1);
	else
		server_error(p->conn, id, -err);
}

/* c's record, made on its first request; NULL if out of memory. */
static struct peer *
control_peer(struct conn *c)
{
	struct peer *p = server_data(c);
	uid_t uid = server_peer_uid(c);
	struct user *u;

	if (p != NULL)
		return p;
	LIST_FOREACH(u, &users, entry) {
		if (u->uid == uid)
			break;
	}
	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return NULL;
		u->uid = uid;
		LIST_INSERT_HEAD(&users, u, entry);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		if (u->peers == 0) {
			LIST_REMOVE(u, entry);
			free(u);
		}
		return NULL;
	}
	u->peers++;
	p->conn = c;
	p->user = u;
	registry_waits_init(&p->waits, control_wait_done, p);
	server_set_data(c, p);
	return p;
}

/* Who c's peer is, for the log lines of what it starts. */
static const char *
control_who(struct conn *c, char *buf, size_t size)
{
	char comm[16];

	server_peer_comm(c, comm, sizeof(comm));
	snprintf(buf, size, "pid %ld uid %lu (%s)", (long)server_peer_pid(c),
	    (unsigned long)server_peer_uid(c), comm);
	return buf;
}

/* WAIT: pending waits cost the daemon memory and a timer each, so each
 * connection and each uid may have only so many (-w, -W). */
static int
control_wait(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req, struct shm_block *blk)
{
	struct peer *p;
	char who[64];
	int r;

	if ((p = control_peer(c)) == NULL)
		return -ENOMEM;
	if (p->waits.count >= cfg->max_conn_waits ||
	    p->user->waits >= cfg->max_user_waits) {
		log_peer_warnx("pid %ld uid %lu: too many pending waits; refused",
		    (long)server_peer_pid(c), (unsigned long)p->user->uid);
		return -EAGAIN;
	}
	/* Counted before: the wait may end (and be uncounted) before
	 * registry_wait() returns. */
	p->user->waits++;
	if ((r = registry_wait(blk, req->arg, p->user->uid, &p->waits, h->id,
	    control_who(c, who, sizeof(who)))) != REGISTRY_PENDING)
		p->user->waits--;
	return r;
}

/* STATUS: the block's summary, then its holders. */
static void
control_status(struct conn *c, uint32_t id, struct shm_block *blk)
{
	struct {
		struct proto_info pi;
		struct proto_holder ph[PROTO_MAX_ENTRIES];
	} r;
	size_t n;

	registry_info(blk, &r.pi);
	n = registry_holders(blk, r.ph, PROTO_MAX_ENTRIES);
	server_reply(c, PROTO_STATUS_REPLY, id, &r,
	    sizeof(r.pi) + n * sizeof(r.ph[0]), -1);
}

/* LIST: a count, then every block's summary. */
static void
control_list(struct conn *c, uint32_t id)
{
	struct {
		struct proto_count pc;
		struct proto_info pi[PROTO_MAX_ENTRIES];
	} r;
	size_t n;

	n = registry_list(r.pi, PROTO_MAX_ENTRIES);
	memset(&r.pc, 0, sizeof(r.pc));
	r.pc.count = (uint32_t)n;
	server_reply(c, PROTO_LIST_REPLY, id, &r,
	    sizeof(r.pc) + n * sizeof(r.pi[0]), -1);
}

/* The replies fit a frame whatever the limits (-R, -B) allow. */
_Static_assert(sizeof(struct proto_info) + PROTO_MAX_ENTRIES *
    sizeof(struct proto_holder) <= PROTO_MAX_FRAME - PROTO_HDR_SIZE,
    "a STATUS reply must fit a frame");
_Static_assert(sizeof(struct proto_count) + PROTO_MAX_ENTRIES *
    sizeof(struct proto_info) <= PROTO_MAX_FRAME - PROTO_HDR_SIZE,
    "a LIST reply must fit a frame");

/* A handler's result beyond 0 and -errno: its reply is sent already, or
 * will be (REGISTRY_PENDING: a pending wait). */
#define CONTROL_ANSWERED 1
_Static_assert(REGISTRY_PENDING == CONTROL_ANSWERED, "a pending wait is "
    "answered later");

/* CREATE, and ATTACH of a tag with no block: the block, owned by the
 * peer, into *blk. */
static int
control_create(struct conn *c, const struct proto_req *req,
    struct shm_block **blk)
{
	return registry_create(req->tag, req->arg, server_peer_uid(c),
	    server_peer_gid(c), control_mode(req), blk);
}

/* ATTACH: a row of blk lent to the peer (the block created first with
 * PROTO_ATTACH_CREATE, re-opened with PROTO_ATTACH_REOPEN) and sent with
 * the block's descriptors: CONTROL_ANSWERED, or -errno. */
static int
control_attach(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req, struct shm_block *blk)
{
	struct proto_attached a;
	char who[64];
	int r, fds[2];

	if (server_peer_gone(c))
		return -ESRCH;	/* before creating anything for it */
	if (blk == NULL) {
		r = (req->flags & PROTO_ATTACH_CREATE) ?
		    control_create(c, req, &blk) : -ENOENT;
		if (r != 0)
			return r;
	} else if ((req->flags & PROTO_ATTACH_REOPEN) &&
	    (r = registry_reopen(blk, control_who(c, who, sizeof(who)),
	    control_may(c, blk, CONTROL_MAY_CONTROL))) != 0)
		return r;
	r = registry_attach(blk, server_peer_pid(c), server_peer_start(c),
	    server_peer_uid(c), &a, fds);
	if (r != 0)
		return r;
	server_reply_fds(c, PROTO_ATTACHED, h->id, &a, sizeof(a), fds, 2);
	close(fds[1]);
	return CONTROL_ANSWERED;
}

/* FREE: only the block's owner, root or the daemon's user may force it. */
static int
control_free(struct conn *c, const struct proto_req *req,
    struct shm_block *blk)
{
	char who[64];

	if ((req->flags & PROTO_FREE_FORCE) && !control_owns(c, blk))
		return -EPERM;
	return registry_free(blk, req->flags & PROTO_FREE_FORCE,
	    control_who(c, who, sizeof(who)));
}

/* Handles one request (control_dispatch) about blk, the block its tag
 * names (NULL: none, or a LIST). */
static void
control_handle(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req, struct shm_block *blk)
{
	struct proto_ok ok = { 0 };
	char who[64];
	int r;

	if (blk == NULL && h->type != PROTO_LIST && h->type != PROTO_CREATE &&
	    h->type != PROTO_ATTACH) {
		server_error(c, h->id, ENOENT);
		return;
	}
	if (blk != NULL && !control_may(c, blk, control_needs(h->type))) {
		server_error(c, h->id, EACCES);
		return;
	}

	switch (h->type) {
	case PROTO_CREATE:
		r = control_create(c, req, &blk);
		break;
	case PROTO_ATTACH:
		r = control_attach(c, h, req, blk);
		break;
	case PROTO_DETACH:
		r = registry_detach(blk, req->serial, req->arg,
		    server_peer_pid(c), &ok.value);
		break;
	case PROTO_WAIT:
		r = control_wait(c, h, req, blk);
		break;
	case PROTO_COMPLETED:
		r = registry_completed(blk);
		break;
	case PROTO_REINIT:
		r = registry_reinit(blk, control_who(c, who, sizeof(who)));
		break;
	case PROTO_FREE:
		r = control_free(c, req, blk);
		break;
	case PROTO_STATUS:
		control_status(c, h->id, blk);
		return;
	case PROTO_LIST:
		control_list(c, h->id);
		return;
	default:
		r = -EBADMSG;	/* the transport passes requests only */
		break;
	}
	if (r == CONTROL_ANSWERED)
		return;
	if (r == 0)
		server_reply(c, PROTO_OK, h->id, &ok, sizeof(ok), -1);
	else
		server_error(c, h->id, -r);
}

/*
 * What a request costs the loop, in units of a status request (server.h),
 * read before it is handled (which may free the block): one that may
 * start or reset a run-down walks every CPU and every row in use, and
 * one that makes a row or a block makes objects in /dev/shm.
 */
static unsigned
control_cost(uint16_t type, const struct shm_block *blk)
{
	switch (type) {
	case PROTO_WAIT:
	case PROTO_REINIT:
		return blk != NULL ? registry_cost(blk) : 1;
	case PROTO_CREATE:
	case PROTO_ATTACH:
	case PROTO_DETACH:
	case PROTO_FREE:
		return CONTROL_OBJECT_COST;
	default:
		return 1;
	}
}

unsigned
control_dispatch(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req, void *arg)
{
	struct shm_block *blk = h->type != PROTO_LIST ?
	    registry_find(req->tag) : NULL;
	/* Read before the request is handled, which may free the block. */
	unsigned cost = control_cost(h->type, blk);

	(void)arg;
	control_handle(c, h, req, blk);
	return cost;
}

void
control_closed(struct conn *c, void *arg)
{
	struct peer *p = server_data(c);

	(void)arg;
	if (p == NULL)
		return;
	p->user->waits -= p->waits.count;
	registry_cancel(&p->waits);
	if (--p->user->peers == 0) {
		LIST_REMOVE(p->user, entry);
		free(p->user);
	}
	free(p);
}
