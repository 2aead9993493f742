/* guard.h: the blocks' mappings, kept from a client's ftruncate() of its
 * row.  A leaf: calls nothing of the daemon's. */
#ifndef RUNDOWND_GUARD_H
#define RUNDOWND_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Mappings guarded at once; no fewer than the blocks the daemon may keep
 * (PROTO_MAX_ENTRIES). */
#define GUARD_MAX 1024

/* Installs the SIGBUS handler: 0 or -errno. */
int guard_init(void);

/* Guards [addr, addr + len), a block's mappings (page-aligned): a fault
 * there leaves a page of zeros in place of the page cut off.  Its slot
 * (>= 0), or -ENOSPC.  Loop thread only. */
int guard_add(void *addr, size_t len);

/* Stops guarding slot; before the mapping goes.  Loop thread only. */
void guard_remove(int slot);

/* How many faults in slot's mapping the handler has repaired. */
uint64_t guard_faults(int slot);

#endif /* RUNDOWND_GUARD_H */
