/*
 * shmname.h: the names of the POSIX shared-memory objects a daemon keeps,
 * derived from its socket's path, so that daemons on different sockets
 * never share a block.
 */
#ifndef RUNDOWN_SHMNAME_H
#define RUNDOWN_SHMNAME_H

#include <stddef.h>

/*
 * Writes the prefix of the names of the POSIX shared-memory objects that
 * the daemon on socket_path keeps, "rundownd.EUID.HASH." (HASH: FNV-1a of
 * the path), so that daemons on different sockets never share a block.
 * The header object of a tag is "/" PREFIX, the tag in 8 hex digits, "."
 * and 16 random hex digits (src/registry.c), so that nobody can take it
 * first; its rows and the daemon's record of it add a suffix to that.
 */
#define SHMNAME_PREFIX_MAX 48
void shmname_prefix(const char *socket_path, char *buf, size_t size);

#endif /* RUNDOWN_SHMNAME_H */
