/*
 * rundown.h: run-down protection for Linux user space.
 *
 * Run-down protection lets many threads use an object while one party tears
 * it down safely.  Users acquire protection before touching the object and
 * release it afterwards.  The owner starts run-down: from then on every
 * acquire fails, and the owner's wait returns once every protection granted
 * before has been released.  The object can then be freed, or re-initialized
 * and used again.
 *
 * Two families, the same as the Windows kernel's (see wdm.h in this
 * directory for the Windows names):
 *
 *   rundown_ref_t    one pointer-sized word, embeddable in any structure;
 *                    every acquire and release is an atomic operation on it.
 *   rundown_cache_t  cache-aware: one counter per CPU, each on its own cache
 *                    line, so acquire and release on different CPUs never
 *                    touch the same line.  Costs one line per CPU.
 *
 * Conventions: functions that can fail return 0 or a negative errno value
 * (rundown_strerror() describes it); functions that return a pointer return
 * NULL and set errno.  The library never prints, never exits and never
 * aborts on a mistake it can detect.  Every function is thread-safe.
 *
 * Error values used:
 *   -EINVAL     a NULL or malformed argument, or a cache-aware block that
 *               was never initialized (checked by every function but the
 *               acquire and release fast path);
 *   -ENOSPC     a buffer too small for rundown_cache_init();
 *   -EALREADY   no run-down has started (completed, reinit);
 *   -EBUSY      protections are still outstanding (completed, reinit);
 *   -ERANGE     a plain release of more than is held;
 *   -ETIMEDOUT  a timed wait ran out (the run-down stays in progress);
 *   -EPERM      freeing a block that lives in the caller's buffer;
 *               connecting to a daemon that runs as neither root, the
 *               caller's euid nor $RUNDOWN_DAEMON_UID, or whose socket's
 *               directory is not that user's or is writable by others.
 *
 * Once run-down has started every acquire fails, with one window on the
 * cache-aware block's atomic path: the wait switches its slots one at a
 * time, and an acquire on a slot not yet switched still succeeds and is
 * waited for, as in Windows.  On its rseq path (below) an acquire fails as
 * soon as run-down has begun; one that overlaps the start may succeed, and
 * is waited for.
 *
 * Both families work in memory shared between processes (MAP_SHARED): they
 * hold no pointers, and waiters sleep on shared (not process-private)
 * futexes, so a release in one process wakes a waiter in another.
 *
 * Language: C99 or later, or C++98 or later; this header and wdm.h compile
 * without warnings under -std=c99/c11 -pedantic -Wall -Wextra and in C++.
 */
#ifndef RUNDOWN_RUNDOWN_H
#define RUNDOWN_RUNDOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <rundown/version.h>

/*
 * The timed waits take a struct timespec, which <time.h> defines only in
 * C11, C++ or with POSIX feature macros: declared here at file scope so
 * that the prototypes name the same type in every mode (C99 would
 * otherwise scope a new one to each parameter list).
 */
struct timespec;

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RUNDOWN_BUILDING) && defined(__GNUC__)
#define RUNDOWN_API __attribute__((visibility("default")))
#else
#define RUNDOWN_API
#endif

/* What rundown_query() and rundown_cache_query() report. */
enum rundown_state {
	RUNDOWN_OPEN = 0,		/* acquires succeed */
	RUNDOWN_RUNNING_DOWN = 1,	/* run-down started; outstanding protections */
	RUNDOWN_DRAINED = 2,		/* a wait has returned or would return at once */
	RUNDOWN_COMPLETED = 3,		/* rundown_*completed() was called */
	RUNDOWN_RESETTING = 4		/* a re-initialize is in progress */
};

struct rundown_status {
	enum rundown_state state;
	/*
	 * OPEN: protections held (for the cache-aware block, a snapshot of
	 * counters that other CPUs keep changing).  RUNNING_DOWN: protections
	 * still to be released before a wait returns.  Otherwise 0.
	 */
	uint64_t outstanding;
	/*
	 * Cache-aware blocks: fences of this block's run-downs that failed
	 * so far (a CPU the fence could not reach, or a walk that could not
	 * begin), modulo 2^32.  A run-down whose fence failed is not
	 * harvested: it waits, and its fence is tried again, until one
	 * succeeds (rundown_cache(3), FENCES).  Otherwise 0.
	 */
	uint32_t fence_failures;
};

/* Library version at run time; compare with RUNDOWN_VERSION_*. */
RUNDOWN_API const char *rundown_version_string(void);
RUNDOWN_API int rundown_version_major(void);
RUNDOWN_API int rundown_version_minor(void);
RUNDOWN_API int rundown_version_micro(void);

/* Describes a value returned by this library (negative or positive errno). */
RUNDOWN_API const char *rundown_strerror(int err);

/* Name of a state, such as "running-down". */
RUNDOWN_API const char *rundown_state_name(enum rundown_state state);

/* ------------------------------------------------------------------------
 * Plain reference: one pointer-sized word.
 *
 * Value: bit 0 (ACTIVE) clear means open, and the value is 2 x protections
 * held.  Once run-down starts the value is (k << 2) | 3 with k protections
 * still outstanding, 3 when drained, and 1 after rundown_completed().
 * Unlike Windows, the outstanding count stays in the word instead of a
 * pointer to the waiter's stack, which is what allows timed waits, several
 * waiters and use in shared memory.  At most RUNDOWN_REF_MAX protections
 * can be held at once.
 * ---------------------------------------------------------------------- */

typedef struct rundown_ref {
	uintptr_t value;	/* only ever accessed through the functions below */
} rundown_ref_t;

#define RUNDOWN_REF_INIT { 0 }
#define RUNDOWN_REF_MAX (UINTPTR_MAX >> 2)

/* Makes the reference open with nothing held (a plain store). */
RUNDOWN_API void rundown_init(rundown_ref_t *ref);

/*
 * Acquires one protection, or n: true on success, false once run-down has
 * started or if the count would pass RUNDOWN_REF_MAX; on failure the value
 * is unchanged.  n = 0 succeeds unless run-down has started.
 */
RUNDOWN_API bool rundown_acquire(rundown_ref_t *ref);
RUNDOWN_API bool rundown_acquire_n(rundown_ref_t *ref, uint32_t n);

/*
 * Releases one protection, or n.  During run-down, the release that brings
 * the outstanding count to zero wakes every waiter.  Returns 0, or -ERANGE
 * (value unchanged) when fewer than n are held.
 */
RUNDOWN_API int rundown_release(rundown_ref_t *ref);
RUNDOWN_API int rundown_release_n(rundown_ref_t *ref, uint32_t n);

/*
 * Starts run-down if it has not started, then blocks until every protection
 * acquired before has been released.  Returns at once if the reference is
 * already drained or completed.  Any number of threads may wait at once.
 * rundown_wait() returns 0; rundown_wait_timeout() takes a relative timeout
 * (NULL: none), measured on CLOCK_MONOTONIC, and returns 0, -ETIMEDOUT (the
 * run-down stays in progress and a later wait continues it) or -EINVAL
 * (malformed timeout).
 */
RUNDOWN_API int rundown_wait(rundown_ref_t *ref);
RUNDOWN_API int rundown_wait_timeout(rundown_ref_t *ref,
    const struct timespec *timeout);

/*
 * Marks a drained reference completed (value 1).  Returns 0, -EALREADY if
 * no run-down has started, or -EBUSY while protections are outstanding.
 */
RUNDOWN_API int rundown_completed(rundown_ref_t *ref);

/*
 * Makes a drained or completed reference open again (value 0).  Returns 0,
 * -EALREADY if no run-down has happened, or -EBUSY while protections are
 * still held; the value is unchanged on failure.  Call it only after every
 * waiter has returned: the word has no room for a generation, so a waiter
 * still asleep would go on to wait for the next run-down.
 */
RUNDOWN_API int rundown_reinit(rundown_ref_t *ref);

/* Reports the state without blocking or changing anything: 0, or -EINVAL
 * for a NULL argument. */
RUNDOWN_API int rundown_query(const rundown_ref_t *ref,
    struct rundown_status *status);

/* ------------------------------------------------------------------------
 * Cache-aware block: one counter per CPU, each on its own cache line.
 *
 * The block is a small descriptor followed by a header and one slot per
 * configured CPU.  A thread acquires and releases on the slot of the CPU
 * it runs on; it may release on another CPU than it acquired on (a slot
 * may go "negative"; only the sum counts).  Acquire and release make no
 * system call and take no lock; except during run-down they write only the
 * current CPU's line, and read only the descriptor and the block's state
 * word.  On x86-64 and little-endian aarch64 they are an rseq(2)
 * restartable sequence with no locked instruction; threads without an
 * rseq area (valgrind, glibc.pthread.rseq=0), other architectures and
 * sanitizer builds use a compare-and-swap instead.  The price is paid at
 * the start of run-down, which fences: membarrier(2) for a block from
 * rundown_cache_alloc() or in a caller's buffer in private memory, and for
 * a block in shared memory the starting thread runs once on every online
 * CPU, which every process that may start its run-down must be allowed
 * to do (rundown_cache(3)).  The block
 * holds no absolute pointers, so it also works in memory that processes
 * map at different addresses.
 * ---------------------------------------------------------------------- */

typedef struct rundown_cache rundown_cache_t;

/*
 * Bytes a block needs: the descriptor and header, one cache line per
 * configured CPU, and one line of alignment slack; on a uniprocessor the
 * header and two words.  The same on every call in a process.
 */
RUNDOWN_API size_t rundown_cache_size(void);

/*
 * Lays a block out in the caller's buffer of size bytes (at least
 * rundown_cache_size(), aligned for a pointer), open with nothing held; the
 * buffer itself becomes the reference.  Returns 0, -ENOSPC when size is too
 * small (nothing is written), or -EINVAL.  rundown_cache_free() refuses
 * such a block: the caller owns the buffer.
 */
RUNDOWN_API int rundown_cache_init(rundown_cache_t *ref, size_t size);

/*
 * Allocates and initializes a block in process memory, labelled with a
 * 32-bit pool tag (reported by rundown_cache_tag()).  NULL with errno
 * ENOMEM on failure.  Freed with rundown_cache_free().
 */
RUNDOWN_API rundown_cache_t *rundown_cache_alloc(uint32_t tag);

/* Frees a block from rundown_cache_alloc(): 0, -EPERM for a caller's
 * buffer (nothing is freed), or -EINVAL. */
RUNDOWN_API int rundown_cache_free(rundown_cache_t *ref);

/* The pool tag given at allocation (0 for a caller's buffer). */
RUNDOWN_API uint32_t rundown_cache_tag(const rundown_cache_t *ref);

/*
 * Acquires one protection, or n, on the current CPU's slot: false once
 * run-down has started, with nothing changed.  n = 0 succeeds unless
 * run-down has started.  The total held must stay below 2^61: the count is
 * spread over the slots, so no single acquire can check it.  With
 * RUNDOWN_INLINE defined these four are inline (inline.h).
 */
#ifndef RUNDOWN_INLINE
RUNDOWN_API bool rundown_cache_acquire(rundown_cache_t *ref);
RUNDOWN_API bool rundown_cache_acquire_n(rundown_cache_t *ref, uint32_t n);
#endif

/*
 * Releases one protection, or n, on the current CPU's slot.  Counts are
 * modular across slots, so a release without a matching acquire cannot be
 * detected while the block is open; do not make one.  During run-down one
 * that would take the count below zero is detected and ignored.
 */
#ifndef RUNDOWN_INLINE
RUNDOWN_API void rundown_cache_release(rundown_cache_t *ref);
RUNDOWN_API void rundown_cache_release_n(rundown_cache_t *ref, uint32_t n);
#endif

/*
 * Starts run-down if it has not started, then blocks until every protection
 * acquired before has been released, whichever CPU (or process) each
 * acquire and release ran on.  Several threads may wait at once; a wait
 * after the drain returns at once.  Return values as rundown_wait() and
 * rundown_wait_timeout().  A start or re-initialize that a process left
 * half done when it died is finished first (here, and in completed and
 * reinit below).
 */
RUNDOWN_API int rundown_cache_wait(rundown_cache_t *ref);
RUNDOWN_API int rundown_cache_wait_timeout(rundown_cache_t *ref,
    const struct timespec *timeout);

/*
 * The wait in two halves, for an event loop that must not block.
 * rundown_cache_wait_start() starts run-down as rundown_cache_wait() does
 * (acquires fail from its return on, as there) and returns a new
 * descriptor, close-on-exec, that polls readable once the block has
 * drained or the wait has failed; or a negative errno, such as -EINVAL.
 * rundown_cache_wait_finish() never blocks: -EAGAIN while the block has
 * not drained; else what rundown_cache_wait() would have returned, and it
 * closes fd.  -EINVAL for a bad ref or a negative fd, -EBADF for an fd
 * that no start on ref returned (or that was finished).  Closing fd
 * without finishing abandons the wait, never the run-down.  For a block
 * of the library's own, a helper thread waits (rundown_cache(3)); on an
 * attached descriptor the descriptor is a connection to the daemon of its
 * own (rundown_shared(3)).
 */
RUNDOWN_API int rundown_cache_wait_start(rundown_cache_t *ref);
RUNDOWN_API int rundown_cache_wait_finish(rundown_cache_t *ref, int fd);

/* As rundown_completed(), for a block: 0, -EALREADY or -EBUSY. */
RUNDOWN_API int rundown_cache_completed(rundown_cache_t *ref);

/* As rundown_reinit(), for a block: 0, -EALREADY or -EBUSY. */
RUNDOWN_API int rundown_cache_reinit(rundown_cache_t *ref);

/* As rundown_query(), for a block: 0 or -EINVAL. */
RUNDOWN_API int rundown_cache_query(const rundown_cache_t *ref,
    struct rundown_status *status);


/* ------------------------------------------------------------------------
 * Shared blocks: cache-aware blocks that rundownd(8) keeps in POSIX shared
 * memory, one per 32-bit pool tag, so that processes protect and run down
 * the same object.  Each attaching process gets a row of slots of its own;
 * the daemon reclaims what a process still holds when it exits.
 *
 * Functions that talk to the daemon return 0 or a negative errno: besides
 * those documented for the cache-aware block, -ENOENT (no block with that
 * tag), -EEXIST (create of a tag in use), -ENOSPC (no free row, or the
 * daemon's limit of blocks), -ECONNREFUSED (no daemon at the socket path:
 * no file or directory there, or nobody listening), -ENOTSOCK (a file
 * there that is not a socket), -EACCES (the daemon or the socket's
 * directory refused this user), -EPROTO (a reply that breaks the
 * protocol), -ECONNRESET (the daemon went away), -ECHILD (a descriptor or
 * connection inherited across fork()), -EPERM (detach of a row that is
 * not the caller's), -ESTALE (detach of a block that was freed since, its
 * tag now naming another).
 * ---------------------------------------------------------------------- */

/* Tags: four characters, the first in the lowest byte (so in memory order
 * on little-endian machines, as pool tags appear in a dump: "Rdwn"), or
 * any 32-bit value. */
#define RUNDOWN_TAG(a, b, c, d) \
	((uint32_t)(unsigned char)(a) | (uint32_t)(unsigned char)(b) << 8 | \
	    (uint32_t)(unsigned char)(c) << 16 | (uint32_t)(unsigned char)(d) << 24)

/* Parses "Rdwn" (exactly four printable characters) or "0x" followed by
 * one to eight hexadecimal digits: 0 or -EINVAL. */
RUNDOWN_API int rundown_tag_parse(const char *s, uint32_t *tag);

/* Writes the four characters if all are printable and not blank, else
 * 0x%08x; buf must hold RUNDOWN_TAG_BUFSZ bytes.  Returns buf. */
#define RUNDOWN_TAG_BUFSZ 11
RUNDOWN_API char *rundown_tag_format(uint32_t tag, char *buf);

/* The socket of the system's daemon: the superuser's (rundownd.socket). */
#define RUNDOWN_SYSTEM_SOCKET "/run/rundownd/rundownd.sock"

/*
 * The socket path used when none is given: $RUNDOWN_SOCKET if set, else
 * RUNDOWN_SYSTEM_SOCKET for root, else
 * $XDG_RUNTIME_DIR/rundownd/rundownd.sock, else $HOME/.rundownd/rundownd.sock
 * (never a shared directory such as /tmp, where another user could take
 * the name first).  0, -ENOENT if neither $XDG_RUNTIME_DIR nor $HOME is
 * an absolute path, or -ENAMETOOLONG if it does not fit in size bytes (or
 * a sockaddr_un); buf is then left as it was.  Where no $RUNDOWN_SOCKET
 * is set and no daemon runs at a user's own path (or the user has none),
 * rundown_connect(NULL) and rundown_attach() turn to RUNDOWN_SYSTEM_SOCKET
 * (rundown_shared(3), ENVIRONMENT).
 */
RUNDOWN_API int rundown_socket_path(char *buf, size_t size);

/* A control connection to rundownd.  One request at a time per connection
 * (calls from several threads are serialized). */
typedef struct rundown_conn rundown_conn_t;

/* Connects to the daemon at path (NULL: rundown_socket_path(), or the
 * system's if none runs there); -EPERM if the daemon is not trusted (see
 * -EPERM above). */
RUNDOWN_API int rundown_connect(const char *path, rundown_conn_t **conn);
RUNDOWN_API void rundown_disconnect(rundown_conn_t *conn);

/* What the daemon reports of a block. */
struct rundown_block_info {
	uint32_t tag;
	enum rundown_state state;
	uint32_t generation;	/* re-initializes so far */
	uint32_t cpus;		/* slots per row */
	uint32_t rows;		/* rows in the block */
	uint32_t attached;	/* rows in use by live processes */
	uint64_t outstanding;	/* as struct rundown_status */
	uint64_t reclaimed_rows; /* rows of exited processes reclaimed */
	uint64_t reclaimed;	/* protections those processes still held */
	uint32_t uid;		/* owner: the user that created the block */
	uint32_t gid;		/* its group: the creator's */
	uint32_t mode;		/* permission bits (rundownd(8)) */
	uint32_t fence_ms;	/* how long its run-down's start has waited
				 * for the daemon's fence, or 0 (rundownd(8),
				 * FENCES) */
	uint32_t fence_failures; /* its fences that failed (rundownd(8),
				 * FENCES), modulo 2^32 */
	/*
	 * Run-downs: how many the daemon started since it created or
	 * adopted the block, and the last of them, all 0 while there was
	 * none.  Times are wall-clock (CLOCK_REALTIME) milliseconds since
	 * the Epoch; the duration is measured on CLOCK_MONOTONIC, and the
	 * drain is the start plus the duration, so that a step of the wall
	 * clock between them cannot skew one against the other.
	 */
	uint64_t rundowns;
	int64_t last_start_ms;	/* when the last run-down started */
	int64_t last_drain_ms;	/* when it ended; 0 while in progress */
	uint64_t last_duration_ms; /* how long it took; while in progress,
				 * how long it has taken so far */
	uint64_t last_reclaimed_rows; /* rows of exited processes reclaimed
				 * during it (so far) */
};

/* One attached row and what it holds now. */
struct rundown_holder {
	int32_t pid;
	uint32_t row;
	uint64_t outstanding;
	char comm[16];		/* the process's command name */
};

/* The most rows a shared block can have; a daemon may allow fewer (its
 * -R), and refuses more with -EINVAL. */
#define RUNDOWN_MAX_ROWS 1024u

/* rows 0: the daemon's default.  -EEXIST if the tag is in use.  The block
 * is the caller's, mode 0600: only its user (and root, and the daemon's
 * user) may attach to it or run it down. */
RUNDOWN_API int rundown_ctl_create(rundown_conn_t *conn, uint32_t tag,
    uint32_t rows);

/*
 * As rundown_ctl_create(), with the permission bits mode (0777 at most,
 * -EINVAL otherwise), as for System V IPC: in the owner's, the group's and
 * the others' triplet, r (4) lets a process attach and ask the status, w
 * (2) lets it wait, complete, re-initialize and free.  The owner is the
 * caller's user, the group its group.  A request refused by them fails
 * with -EACCES; an attach beyond the daemon's rows per process or per
 * user with -EDQUOT.
 */
RUNDOWN_API int rundown_ctl_create_mode(rundown_conn_t *conn, uint32_t tag,
    uint32_t rows, unsigned int mode);

/*
 * Starts run-down of the block if it is open and waits until every
 * protection granted before has been released (timeout NULL: no limit).
 * 0, or -ETIMEDOUT with the run-down still in progress.  Many waiters may
 * wait at once, from any process.
 */
RUNDOWN_API int rundown_ctl_wait(rundown_conn_t *conn, uint32_t tag,
    const struct timespec *timeout);

/*
 * rundown_ctl_wait() that rides out a restart of the daemon.  A wait can
 * be sent again whatever became of the first (it starts the run-down only
 * if the block is open, and the block keeps its run-down across daemons),
 * so when *conn breaks this connects to path again (as rundown_connect():
 * NULL is the default), replacing *conn, and sends the wait again with
 * what is left of timeout: at once, then every 100 ms while no daemon
 * listens, for up to 10 s after each loss, never past timeout.  *conn
 * NULL connects first.  Returns as rundown_ctl_wait(), or the error that
 * ended the retries; *conn is then the connection in use, or NULL (the
 * broken one is closed).  rundown_cache_wait() on an attached block and
 * rundownctl(1)'s wait wait this way.
 */
RUNDOWN_API int rundown_ctl_wait_reconnect(rundown_conn_t **conn,
    const char *path, uint32_t tag, const struct timespec *timeout);
RUNDOWN_API int rundown_ctl_completed(rundown_conn_t *conn, uint32_t tag);
RUNDOWN_API int rundown_ctl_reinit(rundown_conn_t *conn, uint32_t tag);

/* Removes the block: it must have been run down (drained or completed),
 * or be open with no process attached; -EBUSY otherwise.  Processes still
 * attached keep their mapping until they detach. */
RUNDOWN_API int rundown_ctl_free(rundown_conn_t *conn, uint32_t tag);

/* Removes the block whatever its rows say (an administrator's override of
 * a block its holders keep from draining): waits still pending end with
 * -ECANCELED, and the rows' processes keep only their mappings.  Only the
 * block's owner, root or the daemon's user may: -EPERM otherwise. */
RUNDOWN_API int rundown_ctl_free_force(rundown_conn_t *conn, uint32_t tag);

/* The block's state and up to max of its attached rows (*n gets how many
 * there are, which may exceed max). */
RUNDOWN_API int rundown_ctl_status(rundown_conn_t *conn, uint32_t tag,
    struct rundown_block_info *info, struct rundown_holder *holders,
    size_t max, size_t *n);

/* Up to max blocks (*n gets how many there are). */
RUNDOWN_API int rundown_ctl_list(rundown_conn_t *conn,
    struct rundown_block_info *blocks, size_t max, size_t *n);

/*
 * Attaches this process to the shared block tag, creating it with the
 * daemon's default rows if flags has RUNDOWN_ATTACH_CREATE, and gives a
 * descriptor for a row of this process's own.  It is used with the
 * rundown_cache_* functions like a private one; wait, completed and
 * reinit on it go to the daemon (connecting to rundown_socket_path()).
 * Acquire and release never involve the daemon and keep working while it
 * is down; a control call that finds the connection broken connects
 * again once before it gives up, and a wait looks for the next daemon
 * every 100 ms for up to 10 s (within its timeout) and is sent to it
 * again.  In a child after fork() the descriptor is inert: acquire fails,
 * release does nothing, control calls return -ECHILD; the child attaches
 * anew.
 *
 * With RUNDOWN_ATTACH_REOPEN the descriptor is always of an open block:
 * one left completed is re-initialized first (which needs the right to
 * control it, -EACCES otherwise), and one whose run-down is in progress
 * or drained (its owner may be between its wait and its teardown) is
 * refused with -EBUSY.  The daemon decides both in one step, so no other
 * request comes between.
 */
#define RUNDOWN_ATTACH_CREATE 0x1u
#define RUNDOWN_ATTACH_REOPEN 0x2u
RUNDOWN_API int rundown_attach(uint32_t tag, unsigned int flags,
    rundown_cache_t **ref);

/* As rundown_attach(), through the daemon at path. */
RUNDOWN_API int rundown_attach_at(const char *path, uint32_t tag,
    unsigned int flags, rundown_cache_t **ref);

/*
 * Gives the row back and unmaps the block; whatever the row still holds
 * is released (the daemon logs it).  rundown_cache_free() does the same
 * for an attached descriptor.  The descriptor is freed even if the daemon
 * cannot be told (it then reclaims the row when this process exits).
 */
RUNDOWN_API int rundown_detach(rundown_cache_t *ref);

#ifdef __cplusplus
}
#endif

/* The fast path inline in the caller, for those who ask (inline.h). */
#ifdef RUNDOWN_INLINE
#include <rundown/inline.h>
#endif

#endif /* RUNDOWN_RUNDOWN_H */
