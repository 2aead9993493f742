/*
 * fdpass.h: descriptors passed over a Unix socket (SCM_RIGHTS), both
 * ways: the daemon sends the ATTACHED reply's two, the client takes
 * them, and the daemon takes (to close) whatever a peer sends.
 */
#ifndef RUNDOWN_FDPASS_H
#define RUNDOWN_FDPASS_H

#include <stddef.h>

struct msghdr;

/*
 * Puts nfds descriptors into msg's control data, held in cbuf (size
 * bytes, CMSG_SPACE(nfds * sizeof(int)) at least, aligned for a struct
 * cmsghdr), so that they go with the message's first byte.
 */
void fdpass_put(struct msghdr *msg, void *cbuf, size_t size, const int *fds,
    int nfds);

/*
 * The descriptors that came with a received message (SCM_RIGHTS): keeps
 * them in keep[0..nkeep) while slots there are -1 (in the order they
 * came), and hands the rest to drop(fd, arg), or closes them if drop is
 * NULL.  Returns how many came (1 at least if the control data was
 * truncated, whose descriptors the kernel already closed).
 */
int fdpass_take(struct msghdr *msg, int *keep, int nkeep,
    void (*drop)(int fd, void *arg), void *arg);

#endif /* RUNDOWN_FDPASS_H */
