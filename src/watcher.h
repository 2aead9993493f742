/* watcher.h: threads that sleep on a word in shared memory so that the
 * event loop never has to. */
#ifndef RUNDOWND_WATCHER_H
#define RUNDOWND_WATCHER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* The threads' name, as ps and /proc show it. */
#define WATCHER_THREAD_NAME "rd-watch"

struct watcher;

/* Called on the loop's thread: the word may have changed, look again. */
typedef void (*watcher_fn)(void *arg);

/* The notify pipe and its event; once, before any watcher. */
void watcher_init(struct event_base *base);

/* Stops and joins every thread, within WATCH_RECHECK_S (watcher.c);
 * no callback runs (the loop has stopped). */
void watcher_shutdown(void);

/* A watcher that calls cb(arg) on the loop; name (kept, not copied) is
 * for logs.  NULL if out of memory. */
struct watcher *watcher_new(const char *name, watcher_fn cb, void *arg);

/* Starts a thread that sleeps while *word == value, then calls back;
 * nothing if one runs already.  If no thread can be started, calls back
 * shortly all the same, so that the caller looks again and re-arms.  The
 * thread never loads the word (only the kernel does): it may be unmapped
 * or cut short meanwhile, and the thread then calls back. */
void watcher_arm(struct watcher *w, const uint32_t *word, uint32_t value);

/* If w's thread sleeps on a word in [from, from + len), ends its sleep
 * (it calls back, so that the owner re-arms elsewhere): before that
 * memory is unmapped, or stops being watched (a row given back). */
void watcher_kick(struct watcher *w, const void *from, size_t len);

/* Lets go of w, never waiting for its thread: release(arg) is called,
 * now or from the loop once the thread has gone, after which nothing
 * here touches the word; then w is freed.  cb is not called again.
 * release may be NULL. */
void watcher_free(struct watcher *w, watcher_fn release, void *arg);

#endif /* RUNDOWND_WATCHER_H */
