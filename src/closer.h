/*
 * closer.h: closing descriptors whose close() a peer could make wait.
 *
 * close() of the last reference to some files waits: a TCP socket with
 * SO_LINGER and unsent data (for a time its sender chose), a tty draining
 * output, a FUSE file whose server does not answer, a Unix socket with
 * such descriptors still queued on it.  A peer can hand the daemon any of
 * them (SCM_RIGHTS), so the event loop never closes a descriptor that
 * came from a peer, nor a connection that may still hold some unread: it
 * gives them to a lane of the peer's uid, a thread that closes them in
 * order and ends once its lane is empty.  One user's stuck close thus
 * delays only that user's other closes.
 */
#ifndef RUNDOWND_CLOSER_H
#define RUNDOWND_CLOSER_H

#include <sys/types.h>

/* Closes fd on uid's lane.  Never waits (but for a lock held briefly);
 * if no thread can be started now, fd waits in the lane for the next
 * call of that uid, which tries again. */
void closer_close(uid_t uid, int fd);

/* Descriptors given to uid's lane, or to all lanes, not yet closed. */
unsigned long closer_pending(uid_t uid);
unsigned long closer_pending_all(void);

#endif /* RUNDOWND_CLOSER_H */
