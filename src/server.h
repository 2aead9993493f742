/* server.h: the transport.  Knows frames and peers, not what a request
 * means: each decoded request goes to the dispatch callback. */
#ifndef RUNDOWND_SERVER_H
#define RUNDOWND_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "proto.h"

struct config;
struct conn;

/*
 * One whole, decoded request frame of c; returns what it cost, in units
 * of a plain request's work (1: a status).  A user's turn of the loop
 * ends once the frames of all its connections have cost SERVER_TURN_COST,
 * so that one whose requests are dear (each starting a run-down: a fence
 * on every CPU and a harvest) gets fewer of them a turn, and a user with
 * many connections no more than a user with one: a turn costs at most
 * that much per user, and every other user's frames wait at most that.
 */
#define SERVER_TURN_COST 64
typedef unsigned (*server_dispatch_fn)(struct conn *c,
    const struct proto_hdr *h, const struct proto_req *req, void *arg);
/* c is about to be freed: nothing may name it afterwards. */
typedef void (*server_closed_fn)(struct conn *c, void *arg);

/* Accepts connections on fd (listener.c's) under the limits of cfg
 * (kept, not copied), and hands their requests to dispatch; closed(c)
 * before each is freed. */
void server_start(const struct config *cfg, struct event_base *base, int fd,
    server_dispatch_fn dispatch, server_closed_fn closed, void *arg);
void server_stop(void);

/* The most descriptors one reply carries (ATTACHED: header and row). */
#define SERVER_REPLY_FDS 2

/* Queues a reply (fd, if not -1, is copied and sent with it). */
void server_reply(struct conn *c, uint16_t type, uint32_t id,
    const void *payload, size_t len, int fd);
/* Queues a reply with nfds descriptors (SERVER_REPLY_FDS at most), copied
 * and sent with it in that order. */
void server_reply_fds(struct conn *c, uint16_t type, uint32_t id,
    const void *payload, size_t len, const int *fds, int nfds);
/* Queues an error reply; err is a positive errno. */
void server_error(struct conn *c, uint32_t id, int err);

/* The dispatcher's own record of c (NULL until set). */
void server_set_data(struct conn *c, void *data);
void *server_data(const struct conn *c);

pid_t server_peer_pid(const struct conn *c);
uid_t server_peer_uid(const struct conn *c);
uint64_t server_peer_start(const struct conn *c);
bool server_peer_gone(const struct conn *c);
/* The peer's credentials as of connect() (SO_PEERCRED, SO_PEERGROUPS). */
gid_t server_peer_gid(const struct conn *c);
/* The peer's command name when first asked (kept for the connection's
 * life), or "?" if its process was gone. */
void server_peer_comm(struct conn *c, char *buf, size_t size);
bool server_peer_in_group(const struct conn *c, gid_t gid);

#endif /* RUNDOWND_SERVER_H */
