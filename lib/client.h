/* client.h: the library's side of the control socket (client.c). */
#ifndef RUNDOWN_CLIENT_H
#define RUNDOWN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <rundown/rundown.h>

#include "proto.h"

/*
 * Sends one request and reads frames until the reply with its id.  The
 * reply must be of type want (its payload goes to reply, up to size
 * bytes; *len gets its length) or PROTO_ERROR, returned as -code.  If fd
 * is not NULL it gets a descriptor that came with the reply, or -1.
 */
int client_call(rundown_conn_t *c, uint16_t type, const struct proto_req *req,
    uint16_t want, void *reply, size_t size, size_t *len, int *fd);

/* Gives row of the block tag/serial back to the daemon; *held (if not
 * NULL) gets what the row still held, which the daemon released. */
int client_detach(rundown_conn_t *c, uint32_t tag, uint32_t serial,
    uint32_t row, uint64_t *held);

/* In a child after fork(): closes the inherited socket without a word to
 * the daemon; every later call on c returns -ECHILD. */
void client_forget(rundown_conn_t *c);

#endif /* RUNDOWN_CLIENT_H */
