/* listener.h: the control socket, set up and put back; the connections
 * on it are server.c's. */
#ifndef RUNDOWND_LISTENER_H
#define RUNDOWND_LISTENER_H

#include <stddef.h>

struct config;

/* The listening socket a service manager passed this process (socket
 * activation), its path into path[size]; -1 if none.  Exits if what was
 * passed is not one listening AF_UNIX stream socket with a path. */
int listener_inherited(char *path, size_t size);
/* Sets up the control socket of cfg (kept, not copied), or takes fd from
 * listener_inherited() if not -1; its descriptor, for server_start(). */
int listener_open(const struct config *cfg, int fd);
/* Writes this process's pid into the lock file (again after daemon()). */
void listener_write_pid(void);
/* At exit, after server_stop(): the socket closed (and removed unless
 * the service manager's), the lock file emptied. */
void listener_close(void);

#endif /* RUNDOWND_LISTENER_H */
