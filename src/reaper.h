/* reaper.h: the client processes that hold rows, watched through pidfds. */
#ifndef RUNDOWND_REAPER_H
#define RUNDOWND_REAPER_H

#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

struct holder;

/* Called on the loop when a holder's process has exited; the holder
 * stays valid until the callback returns. */
typedef void (*reaper_exit_fn)(struct holder *h, void *arg);

void reaper_init(struct event_base *base, reaper_exit_fn exited, void *arg);

/* The record of pid started at `start` (0: the process running now),
 * watched through a pidfd, one more reference; NULL with *err = -ESRCH
 * if that process is gone, or another -errno if it cannot be watched. */
struct holder *reaper_get(pid_t pid, uint64_t start, int *err);
void reaper_put(struct holder *h);

pid_t reaper_pid(const struct holder *h);
const char *reaper_comm(const struct holder *h);
uint64_t reaper_start(const struct holder *h);

#endif /* RUNDOWND_REAPER_H */
