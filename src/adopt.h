/* adopt.h: the blocks a previous daemon left, taken back at start-up. */
#ifndef RUNDOWND_ADOPT_H
#define RUNDOWND_ADOPT_H

struct config;

/* Maps the blocks a previous daemon left on cfg's socket, finishing what
 * it left half done and reclaiming the rows of processes gone meanwhile.
 * After registry_init(), before the socket is served. */
void adopt_blocks(const struct config *cfg);

#endif /* RUNDOWND_ADOPT_H */
