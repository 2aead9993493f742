/*
 * registry_internal.h: what registry.c shares with adopt.c alone, the
 * other way blocks come into the registry: a block's record, and the
 * registry's steps on a block's objects that adoption takes too.  No
 * other file includes it; control.c and the rest see a block only
 * through registry.h.
 */
#ifndef RUNDOWND_REGISTRY_INTERNAL_H
#define RUNDOWND_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <rundown/rundown.h>

#include "block.h"
#include "registry.h"
#include "shmname.h"

struct fencer_job;
struct watcher;

/* "/", the prefix, 8 + 1 + 16 digits, NUL (registry_name()). */
#define SHM_NAME_MAX (SHMNAME_PREFIX_MAX + 27)
/* A row's or the record's name: the block's, ".r", 16 digits. */
#define SHM_PART_MAX (SHM_NAME_MAX + 18)

/* A row of a block, as the daemon knows it. */
struct shm_row {
	struct holder *owner;	/* the live process it is lent to, or NULL */
	uid_t uid;		/* that process's uid */
	uint64_t id;		/* its object: NAME.rID */
	bool forged;		/* said once that it reads forged */
	bool rseq;		/* lent with the rseq path (BLOCK_F_RSEQ in
				 * the attach reply), or adopted: its
				 * process's sections need the fence */
};

/* A block the daemon keeps in shared memory (lib/block.c's struct
 * rundown_block is what lies at b). */
struct shm_block {
	TAILQ_ENTRY(shm_block) entry;
	uint32_t tag;
	char tagstr[RUNDOWN_TAG_BUFSZ];
	char name[SHM_NAME_MAX]; /* the header's object */
	int rofd;		/* the header, read-only: what clients get */
	int meta;		/* NAME.meta, read-write */
	struct rundown_block *b; /* the reserved range: header, then rows */
	uint32_t serial;	/* tells this block from a later one with the
				 * tag */
	struct block_layout lay; /* the shape every loop and address uses;
				 * lay.live is live[] */
	struct shm_row *rows;
	uint8_t *live;		/* per row: lent to a live process */
	uid_t uid;		/* owner: the creator */
	gid_t gid;
	uint32_t mode;		/* permission bits, 0777 at most */
	uint32_t attached;
	uint64_t reclaimed_rows;
	uint64_t reclaimed;
	int guard;		/* its slot in guard.c */
	uint64_t faults_logged;	/* guard_faults() when last logged */
	/* Pending waits, all of the run-down whose state word is
	 * wait_word: a wait for a later run-down ends the earlier ones
	 * first (registry_wait), so settling looks at one word, not at
	 * every wait. */
	struct registry_waitq waiters;
	uint32_t wait_word;
	struct watcher *watcher;
	struct event *settle_ev; /* registry_settle() on the next turn */
	/* The run-down this daemon started, until its end is logged: its
	 * state word, when it began, and reclaimed_rows then.  The watcher
	 * stays armed meanwhile, waits or not, so the end is seen when it
	 * happens. */
	bool rd_timed;
	uint32_t rd_word;
	struct timespec rd_since;
	uint64_t rd_reclaimed_rows;
	/* The figures of the run-downs this daemon started (proto_info):
	 * how many, the last one's start, and once it has ended (rd_timed
	 * false) its duration and the rows reclaimed meanwhile. */
	uint64_t rundowns;
	int64_t last_start_ms;	/* CLOCK_REALTIME, since the Epoch */
	uint64_t last_duration_ms;
	uint64_t last_reclaimed_rows;
	/* The run-down begun and its fence not yet done (due on fence_ev,
	 * by the starter's budget, or asked of fencer.c as job): the rows
	 * wait to be harvested, and nothing settles meanwhile. */
	bool fencing;
	struct fencer_job *job;
	struct event *fence_ev;
	uint32_t fence_word;
	uint64_t fence_at;	/* clock_now_ns() the walk may begin */
	struct timespec fence_since;
	uint64_t fence_retry_ns; /* after a failed fence: the next try's
				 * delay (0: the last one succeeded) */
};

/* The block of tag, or NULL; unlike registry_find(), notes nothing. */
struct shm_block *registry_lookup(uint32_t tag);

/* Opens (creating it, with O_EXCL, if flags say so) an object of the
 * daemon's own, mode 0600: its descriptor, or -errno. */
int registry_open(const char *name, int flags);
/* True if fd is an object of the daemon's alone (its own, 0600 or less),
 * with its status in *st: anything else is never trusted. */
bool registry_own(int fd, struct stat *st);
/* Reads an object found at start-up, which must be the daemon's alone
 * and size bytes long: 0, or -EPERM (registry_own() says no) or -EBADMSG
 * (short). */
int registry_read_own(int fd, void *buf, size_t size, off_t off);
/* NAME.meta of the block whose header object is name. */
void registry_meta_name(const char *name, char *buf, size_t size);
/* The name of row id's object. */
void registry_row_name(const struct shm_block *blk, uint64_t id, char *buf,
    size_t size);
/* Takes the shared lock on a block's NAME.meta (fd) that the daemon holds
 * while it keeps the block: 0, or -errno (-ENOENT: a prune took it). */
int registry_meta_lock(int fd);
/* Writes row r's entry of NAME.meta as the table has it now. */
int registry_meta_row(struct shm_block *blk, uint32_t r);
/* Maps row r's object (fd) at its place in blk's range: 0 or -errno. */
int registry_map_row(struct shm_block *blk, uint32_t r, int fd);
/* Gives row r back: what it held (released), its object gone. */
int64_t registry_release_row(struct shm_block *blk, uint32_t r);
/* Reclaims a row whose process is gone, and says so. */
void registry_reclaim(struct shm_block *blk, uint32_t row, pid_t pid,
    const char *comm);
/* Tracks a block whose header object is hfd (read-write) with layout l:
 * reserves its range, maps the header there, guards it.  NULL if out of
 * memory or mappings; hfd stays the caller's. */
struct shm_block *registry_add(uint32_t tag, const char *name, int hfd,
    const struct block_layout *l, uint32_t serial);
/* Unlinks and forgets a block that no wait names. */
void registry_forget(struct shm_block *blk);
/* blk's run-down is begun and its fence not done (a block adopted so):
 * fenced as soon as fencer.c can, and harvested after. */
void registry_fence_pending(struct shm_block *blk);

#endif /* RUNDOWND_REGISTRY_INTERNAL_H */
