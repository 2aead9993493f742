/*
 * adopt.c: the blocks a previous daemon left in /dev/shm, taken back at
 * start-up.  Each is checked before anything in it is used: its header
 * and its record (NAME.meta) must be the daemon's own and agree; its
 * rows are mapped again, lent to their processes if those live on, and
 * reclaimed if not; and what the previous daemon left half done (a
 * re-initialize, a harvest, a fence) is finished.  A block that is not
 * the daemon's is left alone; one of the daemon's that is cut short or
 * wiped is removed, its record and rows with it.
 *
 * Blocks come into the registry here and through registry_create() only;
 * registry_internal.h holds what the two share.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adopt.h"
#include "block.h"
#include "conf.h"
#include "log.h"
#include "reaper.h"
#include "registry.h"
#include "registry_internal.h"
#include "shmname.h"

static const struct config *cfg;
static size_t page_size;
static char shm_prefix[SHMNAME_PREFIX_MAX];
/* Blocks of an older layout found at start-up, for one log line. */
static unsigned int old_layout;

/*
 * Reads NAME.meta of a block found at start-up whose header is h: 0 with
 * the owner, mode and shape it records (checked against the header), or
 * -errno.  Only the daemon can write it; still, nothing in it is used
 * before it is checked.
 */
static int
adopt_meta_read(const char *name, const struct rundown_block *h,
    uint32_t tag, struct proto_meta *m, struct block_layout *l, int *fd)
{
	char mname[SHM_PART_MAX];
	uint32_t serial;
	int r;

	registry_meta_name(name, mname, sizeof(mname));
	if ((*fd = registry_open(mname, O_RDWR)) < 0)
		return *fd;
	if ((r = registry_read_own(*fd, m, sizeof(*m), 0)) != 0 ||
	    m->magic != PROTO_META_MAGIC || m->version != BLOCK_VERSION ||
	    m->reserved != 0 || (m->mode & ~PROTO_MODE_MASK) != 0 ||
	    m->flags != BLOCK_F_RSEQ || m->rows > cfg->max_rows ||
	    block_layout_paged(m->cpus, m->rows, (size_t)m->page, l) != 0 ||
	    m->page != page_size)
		r = r != 0 ? r : -EPROTO;
	if (r == 0) {
		l->flags = m->flags;
		if (block_header_check(h, tag, l, &serial) != 0 ||
		    serial != m->serial)
			r = -EPROTO;
	}
	/* Kept from now on; or a prune took the block meanwhile. */
	if (r == 0)
		r = registry_meta_lock(*fd);
	if (r != 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

/*
 * Maps row r of a block found at start-up, whose object is the one
 * NAME.meta records (e): true if it is mapped and live.  A row never
 * handed out, or one whose object is not the daemon's any more, is
 * given back instead.
 */
static bool
adopt_map_row(struct shm_block *blk, uint32_t r,
    const struct proto_meta_row *e)
{
	struct shm_row *sr = &blk->rows[r];
	char name[SHM_PART_MAX];
	struct stat st;
	int fd;

	sr->id = e->id;
	sr->rseq = true;	/* what the earlier daemon told, unknown */
	registry_row_name(blk, e->id, name, sizeof(name));
	if ((fd = registry_open(name, O_RDWR)) < 0) {
		/* Recorded, never handed out (a daemon killed between the
		 * two): nobody holds anything in it. */
		memset(sr, 0, sizeof(*sr));
		(void)registry_meta_row(blk, r);
		return false;
	}
	/* Its own object, as the daemon made it (a client may have cut it
	 * short: the length again, what was cut off reads zeros). */
	if (!registry_own(fd, &st) || (st.st_size != (off_t)
	    blk->lay.row_stride && ftruncate(fd, (off_t)blk->lay.row_stride)
	    != 0) || registry_map_row(blk, r, fd) != 0) {
		/* Not a row of ours any more: nothing in it counts. */
		close(fd);
		log_warnx("%s: the object of row %u is not the daemon's; "
		    "row dropped", blk->tagstr, r);
		registry_release_row(blk, r);
		return false;
	}
	close(fd);
	blk->live[r] = 1;
	return true;
}

/*
 * Takes back row r of a block found at start-up, as NAME.meta records it
 * (e): mapped and live, lent to its process if that lives on.  True if
 * the process is gone: the caller reclaims the row once every row is
 * back, so that no drain check meanwhile sees a block short of rows.
 */
static bool
adopt_row(struct shm_block *blk, uint32_t r, const struct proto_meta_row *e)
{
	struct shm_row *sr = &blk->rows[r];
	struct holder *p;
	int err;

	if (!adopt_map_row(blk, r, e))
		return false;
	if ((p = reaper_get(e->pid, e->start, &err)) != NULL) {
		sr->owner = p;
		sr->uid = (uid_t)e->uid;
		blk->attached++;
	} else if (err == -EMFILE || err == -ENFILE || err == -ENOMEM) {
		/* Alive or not, it cannot be told now: reclaiming could end a
		 * wait while it holds protection.  The row stays live and
		 * lent to nobody (never lent again, registry_attach), its
		 * record kept for the next daemon to look again. */
		errno = -err;
		log_warn("%s: cannot watch pid %ld, owner of row %u; row kept",
		    blk->tagstr, (long)e->pid, r);
	} else {
		/* No process with that id and start time can be watched
		 * (gone, a thread that leads no process). */
		return true;
	}
	return false;
}

/*
 * Takes back every row of blk (its record m read), then finishes what a
 * previous daemon left half done, and reclaims the rows of processes gone
 * meanwhile: 0, or -ENOMEM with nothing taken.
 */
static int
adopt_rows(struct shm_block *blk, const struct proto_meta *m)
{
	struct proto_meta_row e;
	uint32_t r;
	int64_t *gone;		/* per row: the pid gone, or INT64_MIN */

	/* Rows of processes that live on stay theirs; the rest are
	 * reclaimed, as if their processes had exited while the daemon
	 * watched, once every row is back and the block recovered. */
	if ((gone = calloc(blk->lay.rows, sizeof(*gone))) == NULL)
		return -ENOMEM;
	for (r = 0; r < blk->lay.rows; r++) {
		gone[r] = INT64_MIN;
		if (pread(blk->meta, &e, sizeof(e), (off_t)(sizeof(*m) +
		    (size_t)r * sizeof(e))) == (ssize_t)sizeof(e) &&
		    (e.pid != 0 || e.id != 0) && adopt_row(blk, r, &e))
			gone[r] = e.pid;
	}
	/* Finish what a previous daemon may have left half done, every row
	 * back (the gone ones too: a reset half done would otherwise leave
	 * their counts half reset when they are counted below): a
	 * re-initialize, or a harvest (repeating one adds each row once). */
	(void)block_recover(blk->b, &blk->lay);
	/* Its fence failed: the harvest waits for the fence's thread. */
	if (block_busy(blk->b, &blk->lay))
		registry_fence_pending(blk);
	for (r = 0; r < blk->lay.rows; r++)
		if (gone[r] != INT64_MIN)
			registry_reclaim(blk, r, (pid_t)gone[r], "gone");
	free(gone);
	return 0;
}

/*
 * Removes what a block found at start-up and removed leaves behind its
 * header: the rows NAME.meta records, then NAME.meta, if it is the
 * daemon's own.  No daemon could ever adopt them.
 */
static void
adopt_remove_record(const char *name)
{
	char part[SHM_PART_MAX];
	struct proto_meta m;
	struct proto_meta_row e;
	uint32_t r;
	int fd;

	registry_meta_name(name, part, sizeof(part));
	if ((fd = registry_open(part, O_RDWR)) < 0)
		return;
	if (registry_read_own(fd, &m, sizeof(m), 0) == 0 &&
	    m.magic == PROTO_META_MAGIC) {
		for (r = 0; r < m.rows && r < PROTO_MAX_ENTRIES; r++) {
			if (pread(fd, &e, sizeof(e), (off_t)(sizeof(m) +
			    (size_t)r * sizeof(e))) != (ssize_t)sizeof(e))
				break;
			if (e.id == 0)
				continue;
			snprintf(part, sizeof(part), "%s.r%016llx", name,
			    (unsigned long long)e.id);
			shm_unlink(part);
		}
		registry_meta_name(name, part, sizeof(part));
		shm_unlink(part);
	}
	close(fd);
}

/* Opens the header object that entry (adopt_one()) names, its name into
 * name[size] and its tag into *tag and tagstr: its descriptor, or -1
 * (said why, unless entry is not a name of the daemon's at all). */
static int
adopt_open(const char *entry, char *name, size_t size, uint32_t *tag,
    char *tagstr)
{
	unsigned int v;
	int fd;

	if (strlen(entry) + 2 > size ||
	    sscanf(entry + strlen(shm_prefix), "%8x", &v) != 1)
		return -1;
	*tag = v;
	rundown_tag_format(*tag, tagstr);
	name[0] = '/';
	memcpy(name + 1, entry, strlen(entry) + 1);
	if ((fd = registry_open(name, O_RDWR)) < 0) {
		errno = -fd;
		log_warn("%s: cannot open %s", tagstr, name);
		return -1;
	}
	return fd;
}

/*
 * Reads and checks the header of a block found at start-up (fd, name) into
 * *h: 0 if it may be adopted, -EPERM if it is not the daemon's alone (left
 * alone), or another -errno once dealt with: one cut short or wiped is
 * removed, one of an older layout counted for adopt_blocks()'s line.
 */
static int
adopt_header(int fd, const char *name, const char *tagstr,
    struct rundown_block *h)
{
	int err;

	/* Ours alone, or somebody else planted it: left alone. */
	if ((err = registry_read_own(fd, h, sizeof(*h), 0)) == -EPERM)
		return err;
	if (err != 0 || h->magic != BLOCK_MAGIC) {
		/* Ours, but cut short or wiped (only the daemon, or root,
		 * writes it): nothing in it can be trusted. */
		log_warnx("%s: %s was cut short or its header wiped; removed",
		    tagstr, name);
		shm_unlink(name);
		adopt_remove_record(name);
		return -EBADMSG;
	}
	if (h->version != BLOCK_VERSION) {
		/* A format this daemon no longer writes: never adopted
		 * silently (one line for them all, adopt_blocks()). */
		old_layout++;
		return -EPROTO;
	}
	return 0;
}

/* True if a block of tag may be adopted: none of the tag yet, and room
 * under -B. */
static bool
adopt_room(uint32_t tag, const char *tagstr, const char *name)
{
	if (registry_lookup(tag) != NULL) {
		log_warnx("%s: %s is a second block of the tag; left alone",
		    tagstr, name);
		return false;
	}
	if (registry_count() >= cfg->max_blocks) {
		log_warnx("%s: over the limit of %u blocks; not adopted",
		    tagstr, cfg->max_blocks);
		return false;
	}
	return true;
}

/* Maps and checks a block found at start-up: entry is the prefix, the
 * tag in 8 hex digits, and (unless an older daemon named it) "." and 16
 * more. */
static void
adopt_one(const char *entry)
{
	struct proto_meta m;
	struct block_layout l;
	struct rundown_block h;
	struct shm_block *blk;
	char name[SHM_NAME_MAX], tagstr[RUNDOWN_TAG_BUFSZ];
	uint32_t tag;
	int fd, mfd = -1, err;

	if ((fd = adopt_open(entry, name, sizeof(name), &tag, tagstr)) < 0)
		return;
	if ((err = adopt_header(fd, name, tagstr, &h)) == -EPERM)
		goto bad;
	if (err == 0 && (err = adopt_meta_read(name, &h, tag, &m, &l,
	    &mfd)) != 0)
		log_warnx("%s: %s has no record of its owner and rows that "
		    "the daemon can trust (%s); left alone", tagstr, name,
		    strerror(-err));
	if (err != 0 || !adopt_room(tag, tagstr, name))
		goto out;
	if ((blk = registry_add(tag, name, fd, &l, m.serial)) == NULL)
		goto bad;
	blk->meta = mfd;
	mfd = -1;
	blk->uid = (uid_t)m.uid;
	blk->gid = (gid_t)m.gid;
	blk->mode = m.mode;
	if (adopt_rows(blk, &m) != 0) {
		registry_forget(blk);
		goto bad;
	}
	log_info("%s: adopted, state %s, %u of %u rows attached", tagstr,
	    rundown_state_name(block_word_state(block_word(blk->b))),
	    blk->attached, blk->lay.rows);
out:
	if (mfd >= 0)
		close(mfd);
	close(fd);
	return;
bad:
	log_warnx("%s: %s is not a block of ours; left alone", tagstr, name);
	if (mfd >= 0)
		close(mfd);
	close(fd);
}

void
adopt_blocks(const struct config *c)
{
	static const char hex[] = "0123456789abcdef";
	size_t n, plen;
	struct dirent *de;
	DIR *d;

	cfg = c;
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	shmname_prefix(cfg->socket_path, shm_prefix, sizeof(shm_prefix));
	plen = strlen(shm_prefix);
	/* POSIX shared memory is /dev/shm on Linux. */
	if ((d = opendir("/dev/shm")) == NULL)
		return;
	old_layout = 0;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (strncmp(de->d_name, shm_prefix, plen) == 0 &&
		    strspn(de->d_name + plen, hex) == 8 &&
		    (n == plen + 8 || (n == plen + 8 + 1 + 16 &&
		    de->d_name[plen + 8] == '.' &&
		    strspn(de->d_name + plen + 9, hex) == 16)))
			adopt_one(de->d_name);
	}
	closedir(d);
	if (old_layout != 0)
		log_warnx("%u blocks of an older layout (not version %u) left "
		    "alone in /dev/shm (/dev/shm/%s*): their clients must "
		    "attach again to a new block", old_layout, BLOCK_VERSION,
		    shm_prefix);
}
