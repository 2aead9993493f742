/* registry.h: the blocks rundownd keeps, by pool tag.  Every operation
 * returns its result; none answers a peer (control.c does). */
#ifndef RUNDOWND_REGISTRY_H
#define RUNDOWND_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "proto.h"

struct config;
struct holder;
struct shm_block;

/* registry_wait(): the wait is pending; done() will be called. */
#define REGISTRY_PENDING 1

/* How a pending wait ends: err 0 (the run-down it awaited ended) or
 * -ETIMEDOUT.  owner and cookie are the caller's, passed back as given. */
typedef void (*registry_done_fn)(void *owner, uint32_t cookie, int err);

struct waiter;
TAILQ_HEAD(registry_waitq, waiter);

/* The pending waits of one caller (control.c: of one connection), so
 * that they can be counted and dropped without a search. */
struct registry_waits {
	registry_done_fn done;
	void *owner;
	size_t count;			/* pending */
	struct registry_waitq list;
};

void registry_init(const struct config *cfg, struct event_base *base);
void registry_stop(void);
size_t registry_count(void);

/* The block of tag, or NULL. */
struct shm_block *registry_find(uint32_t tag);

/* The blocks' summaries into out[max]; their count. */
size_t registry_list(struct proto_info *out, size_t max);

/* 0 or -errno, as the protocol's error codes (rundown_shared(3)). */
int registry_create(uint32_t tag, uint32_t rows, uid_t uid, gid_t gid,
    uint32_t mode, struct shm_block **out);
/* Lends pid a row of blk: 0 with the reply in *a, fds[0] the header's
 * read-only descriptor (the block's: not to be closed) and fds[1] the
 * row's read-write one (the caller's to close once sent).  -EDQUOT if
 * pid, or uid, holds as many rows of blk as it may (-P, -Q). */
int registry_attach(struct shm_block *blk, pid_t pid, uint64_t start,
    uid_t uid, struct proto_attached *a, int *fds);
int registry_detach(struct shm_block *blk, uint32_t serial, uint32_t row,
    pid_t pid, uint64_t *held);
int registry_completed(struct shm_block *blk);
/* who names the peer for the log ("pid N uid U (comm)"). */
int registry_reinit(struct shm_block *blk, const char *who);
/* Makes blk open for an attach with PROTO_ATTACH_REOPEN by who (as for
 * registry_reinit): 0 if it is open (re-initialized if it was completed;
 * -EACCES then unless may_reinit), -EBUSY while its run-down is in
 * progress or drained. */
int registry_reopen(struct shm_block *blk, const char *who, bool may_reinit);
/* Removes blk: -EBUSY unless run down, or open with nobody attached;
 * with force (its owner or root, checked by the caller), whatever its
 * rows say, logged as who's. */
int registry_free(struct shm_block *blk, bool force, const char *who);

/* Starts the run-down of blk unless it runs, and waits for it to end:
 * 0 if it has ended already, REGISTRY_PENDING (ws->done() follows,
 * perhaps before this returns), or -errno (-ETIMEDOUT for timeout_ms 0 when the
 * run-down has not ended).  A run-down started here is logged as who's,
 * and so is its end, with how long it took; its fence counts against
 * uid's budget (-f). */
int registry_wait(struct shm_block *blk, uint32_t timeout_ms, uid_t uid,
    struct registry_waits *ws, uint32_t cookie, const char *who);

/* An empty set of waits whose ends go to done(owner, ...). */
void registry_waits_init(struct registry_waits *ws, registry_done_fn done,
    void *owner);

/* Drops the pending waits of ws without calling back. */
void registry_cancel(struct registry_waits *ws);

/* What starting or re-initializing blk's run-down costs the loop, in
 * units of a status request (server.h): a fence on every CPU, and the
 * rows in use times the CPUs. */
unsigned registry_cost(const struct shm_block *blk);

/* blk's summary, and its holders into out[max] (their count). */
void registry_info(struct shm_block *blk, struct proto_info *pi);
/* blk's owner and permission bits, as its creator set them. */
void registry_owner(const struct shm_block *blk, uid_t *uid, gid_t *gid,
    uint32_t *mode);
size_t registry_holders(struct shm_block *blk, struct proto_holder *out,
    size_t max);

/* The reaper's callback: a holder's process exited; its rows are
 * reclaimed. */
void registry_holder_exited(struct holder *h, void *arg);

#endif /* RUNDOWND_REGISTRY_H */
