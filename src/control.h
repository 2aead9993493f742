/* control.h: the one place that answers requests. */
#ifndef RUNDOWND_CONTROL_H
#define RUNDOWND_CONTROL_H

#include "proto.h"

struct config;
struct conn;

/* cfg is kept, not copied. */
void control_init(const struct config *cfg);

/* The transport's dispatch callback: one decoded request of c; what it
 * cost (server.h). */
unsigned control_dispatch(struct conn *c, const struct proto_hdr *h,
    const struct proto_req *req, void *arg);

/* The transport's close callback: c is going; forget its waits. */
void control_closed(struct conn *c, void *arg);

#endif /* RUNDOWND_CONTROL_H */
