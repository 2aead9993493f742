/*
 * rundownd.h: the daemon's modules and what they share.
 *
 *   rundownd.c  options, start-up order, signals, the event loop
 *   server.c    the control socket: listening, peers, frames in and out
 *   registry.c  the blocks: shared memory, rows, control operations, waits
 *   reaper.c    client processes watched through pidfds, reclaim on exit
 *   log.c       messages
 *
 * Everything runs on the event loop's thread except the drain watchers
 * (registry.c), one thread per block with pending waits, which only sleep
 * on the block's futex and poke the loop when the state changes.
 */
#ifndef RUNDOWND_H
#define RUNDOWND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "proto.h"

struct conn;
struct proc;

/* What the command line set; read-only once the loop runs. */
struct config {
	const char *socket_path;
	uint32_t default_rows;
	uint32_t max_rows;
	uint32_t max_blocks;
	uint32_t max_conns;		/* connections at once */
	uint32_t max_user_conns;	/* of one uid */
	uint32_t timeout;		/* seconds; see server.c */
	uid_t *allow_uids;
	size_t nallow_uids;
	gid_t *allow_gids;
	size_t nallow_gids;
	int foreground;
	int verbose;
};

extern struct config cfg;
extern struct event_base *base;

/* server.c */
int server_listen(const char *path);
void server_start(int fd);
void server_stop(void);
void server_reply(struct conn *c, uint16_t type, uint32_t id,
    const void *payload, size_t len, int fd);
void server_error(struct conn *c, uint32_t id, int err);
pid_t server_peer_pid(const struct conn *c);
uint64_t server_peer_start(const struct conn *c);
bool server_peer_gone(const struct conn *c);

/* registry.c: blocks by tag.  Control operations answer on c. */
void registry_init(const char *socket_path);
void registry_adopt(void);
void registry_stop(void);
void registry_request(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req);
void registry_conn_closed(struct conn *c);
void registry_proc_exited(struct proc *p);
size_t registry_count(void);

/* reaper.c: the processes that hold rows.  proc_get: the record of pid
 * started at `start` (0: the process running now), watched through a
 * pidfd, one more reference; NULL with *err = -ESRCH if that process is
 * gone, or another -errno if it cannot be watched. */
struct proc *proc_get(pid_t pid, uint64_t start, int *err);
void proc_put(struct proc *p);
pid_t proc_pid(const struct proc *p);
const char *proc_comm(const struct proc *p);
uint64_t proc_start(const struct proc *p);
int proc_start_time(pid_t pid, uint64_t *start);

#endif /* RUNDOWND_H */
