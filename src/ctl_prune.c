/*
 * ctl_prune.c: rundownctl prune, the objects in /dev/shm that no daemon
 * serves.
 *
 * rundownd keeps each block as POSIX shared-memory objects named after
 * its socket's path: NAME, "rundownd.EUID.HASH.TAG.RANDOM" (HASH, the
 * path's, and TAG in 8 hex digits, RANDOM in 16; an older daemon left
 * RANDOM out), the header; NAME.meta, its record; NAME.rID, a row
 * (src/registry.c).  They outlive the daemon on purpose, for the next
 * daemon on the socket to adopt; when none comes, nothing else removes
 * them.  A block is served, and never touched here, while
 *   - a daemon holds its lock, a shared flock(2) on NAME.meta that
 *     rundownd holds for as long as it keeps the block
 *     (registry_meta_lock) and that goes when it exits, however it
 *     exits: what decides, wherever the daemon runs; or
 *   - a live process holds NAME.meta open (/proc/PID/fd, of the
 *     processes this user may look into), as a daemon does while it
 *     keeps the block, one too old to lock it too; or
 *   - a Unix socket bound to a path that hashes to HASH listens
 *     (/proc/net/unix): a service manager holds the socket for the next
 *     daemon, which will adopt the block.  rundownd binds its own socket
 *     by a name relative to its directory, which tells nothing here.
 * The rest is listed and, once confirmed, removed, each block under an
 * exclusive lock on its NAME.meta: a daemon that adopts the block
 * meanwhile waits for the lock, then finds the record gone and leaves
 * the block be.  Only objects of the caller (of anyone, for root) that
 * bear their owner's uid in their name are looked at; never a symbolic
 * link.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "ctl_prune.h"

#define SHM_DIR "/dev/shm"
#define UNIX_LISTENING 0x10000UL	/* __SO_ACCEPTCON, /proc/net/unix */
#define LOCK_NONE (-1)		/* prune_lock(): the block has no record */
#define LOCK_HELD (-2)		/* prune_lock(): a daemon holds it */

/* An object of rundownd's in /dev/shm. */
struct pobj {
	char *name;
	size_t blen;		/* its block's NAME is name[0, blen) */
	bool meta;		/* it is NAME.meta */
	uid_t uid;		/* the daemon's, in its name and its owner */
	uint32_t hash;		/* of the daemon's socket's path */
	uint32_t tag;
	dev_t dev;
	ino_t ino;
	off_t size;
};

/* A block no daemon serves: objects first to first + n - 1. */
struct pblock {
	size_t first, n;
	const struct pobj *meta; /* its NAME.meta, or NULL */
	off_t bytes;
	bool held;		/* a live process holds NAME.meta open */
	bool removed;
};

/* One run. */
struct prune {
	bool scoped;		/* only the objects of one socket: */
	uint32_t only;		/* its path's hash */
	int dfd;		/* /dev/shm */
	struct pobj *o;		/* sorted by block */
	size_t no;
	struct pblock *b;
	size_t nb;
	size_t served;		/* blocks left to their daemons */
	uint32_t *listening;	/* hashes of listening sockets' paths */
	size_t nl;
};

/* Prints "rundownctl: prune: " and the message on stderr. */
static void __attribute__((format(printf, 1, 2)))
prune_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("rundownctl: prune: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "s" unless n is 1. */
static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* FNV-1a of a socket's path, as shmname_prefix() (lib/shmname.c) names
 * the daemon's objects after it. */
static uint32_t
prune_hash(const char *path)
{
	const unsigned char *s = (const unsigned char *)path;
	uint32_t h = 2166136261u;

	while (*s != '\0') {
		h ^= *s++;
		h *= 16777619u;
	}
	return h;
}

/* Reads n lowercase hex digits at s into *v (if not NULL; n <= 8 then):
 * what follows them, or NULL. */
static const char *
prune_hex(const char *s, size_t n, uint32_t *v)
{
	uint32_t x = 0;
	size_t i;

	for (i = 0; i < n; i++, s++) {
		if (*s >= '0' && *s <= '9')
			x = x << 4 | (uint32_t)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			x = x << 4 | (uint32_t)(*s - 'a' + 10);
		else
			return NULL;
	}
	if (v != NULL)
		*v = x;
	return s;
}

/*
 * Parses a name in /dev/shm as rundownd makes them: "rundownd." EUID "."
 * HASH "." TAG, then "." RANDOM if the daemon drew one, then nothing
 * (the header), ".meta" or ".r" and the row's id.  False for any other
 * name: nothing else is touched.
 */
static bool
prune_parse(const char *name, struct pobj *o)
{
	static const char pre[] = "rundownd.";
	const char *s = name + sizeof(pre) - 1, *end;
	unsigned long long uid = 0;
	size_t n;

	if (strncmp(name, pre, sizeof(pre) - 1) != 0)
		return false;
	/* As "%lu" writes it: no sign, no leading zero. */
	if (*s < '0' || *s > '9' || (*s == '0' && s[1] != '.'))
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		uid = uid * 10 + (unsigned)(*s - '0');
		if (uid >= (uid_t)-1)
			return false;
	}
	if (*s++ != '.' || (s = prune_hex(s, 8, &o->hash)) == NULL ||
	    *s++ != '.' || (s = prune_hex(s, 8, &o->tag)) == NULL)
		return false;
	if (*s == '.' && (end = prune_hex(s + 1, 16, NULL)) != NULL &&
	    (*end == '\0' || *end == '.'))
		s = end;
	o->blen = (size_t)(s - name);
	o->meta = strcmp(s, ".meta") == 0;
	if (*s != '\0' && !o->meta) {
		/* A row: ".r" and 1 to 16 hex digits. */
		if (s[0] != '.' || s[1] != 'r')
			return false;
		s += 2;
		n = strspn(s, "0123456789abcdef");
		if (n == 0 || n > 16 || s[n] != '\0')
			return false;
	}
	o->uid = (uid_t)uid;
	return true;
}

/*
 * The hashes of the paths of the Unix stream sockets that listen now, as
 * /proc/net/unix shows them (this network namespace's): "Num RefCount
 * Protocol Flags Type St Inode Path", the path the rest of the line.
 */
static void
prune_listening(struct prune *p)
{
	char *line = NULL, *path;
	unsigned long flags;
	uint32_t *more;
	size_t cap = 0, max = 0;
	ssize_t len;
	FILE *f;
	int at;

	p->nl = 0;
	if ((f = fopen("/proc/net/unix", "re")) == NULL) {
		prune_msg("cannot read /proc/net/unix (%s): only their locks "
		    "tell the blocks that daemons serve", strerror(errno));
		return;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		at = -1;
		if (sscanf(line, "%*s %*x %*x %lx %*x %*x %*u %n", &flags,
		    &at) != 1 || at < 0 || (flags & UNIX_LISTENING) == 0)
			continue;
		path = line + at;
		if (*path != '/')
			continue;
		if (p->nl == max) {
			max = max == 0 ? 64 : max * 2;
			if ((more = realloc(p->listening, max *
			    sizeof(*more))) == NULL)
				break;
			p->listening = more;
		}
		p->listening[p->nl++] = prune_hash(path);
	}
	free(line);
	fclose(f);
}

/* True if a socket whose path hashes to hash listens. */
static bool
prune_listens(const struct prune *p, uint32_t hash)
{
	size_t i;

	for (i = 0; i < p->nl; i++)
		if (p->listening[i] == hash)
			return true;
	return false;
}

/* Orders objects by block, then by name: a block's objects together,
 * its header first. */
static int
prune_cmp(const void *a, const void *b)
{
	const struct pobj *x = a, *y = b;
	size_t n = x->blen < y->blen ? x->blen : y->blen;
	int c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	if (x->blen != y->blen)
		return x->blen < y->blen ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* True if both objects are of one block. */
static bool
prune_block_of(const struct pobj *a, const struct pobj *b)
{
	return a->blen == b->blen && memcmp(a->name, b->name, a->blen) == 0;
}

/* Finds the objects of rundownd's that this user may prune: 0, or the
 * exit status after a message. */
static int
prune_scan(struct prune *p)
{
	struct dirent *de;
	struct pobj o, *more;
	struct stat st;
	uid_t me = geteuid();
	size_t max = 0;
	DIR *d;
	int fd;

	if ((p->dfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (fd = fcntl(p->dfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		prune_msg("%s: %s", SHM_DIR, strerror(errno));
		return EX_OSERR;
	}
	if ((d = fdopendir(fd)) == NULL) {
		prune_msg("%s: %s", SHM_DIR, strerror(errno));
		close(fd);
		return EX_OSERR;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		memset(&o, 0, sizeof(o));
		if (!prune_parse(de->d_name, &o) ||
		    (p->scoped && o.hash != p->only))
			continue;
		/* A regular file of the user in its name: never a link, nor
		 * what someone else planted under a daemon's name. */
		if (fstatat(p->dfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != o.uid ||
		    (me != 0 && st.st_uid != me))
			continue;
		if (p->no == max) {
			max = max == 0 ? 64 : max * 2;
			if ((more = realloc(p->o, max * sizeof(*more))) == NULL)
				break;
			p->o = more;
		}
		if ((o.name = strdup(de->d_name)) == NULL) {
			errno = ENOMEM;
			break;
		}
		o.dev = st.st_dev;
		o.ino = st.st_ino;
		o.size = st.st_size;
		p->o[p->no++] = o;
	}
	if (errno != 0) {
		prune_msg("%s: %s", SHM_DIR, strerror(errno));
		closedir(d);
		return EX_OSERR;
	}
	closedir(d);
	if (p->no > 0)
		qsort(p->o, p->no, sizeof(*p->o), prune_cmp);
	return 0;
}

/* True if the object is still the one found, a regular file. */
static bool
prune_same(const struct pobj *o, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_dev == o->dev &&
	    st->st_ino == o->ino && st->st_uid == o->uid;
}

/*
 * Opens NAME.meta of the block of objects first to first + n - 1 and
 * takes its lock exclusively, without waiting: the descriptor, or
 * LOCK_NONE if the block has no record (any more), or LOCK_HELD if a
 * daemon holds the lock, or if that cannot be told.
 */
static int
prune_lock(const struct prune *p, size_t first, size_t n)
{
	const struct pobj *o = NULL;
	struct stat st;
	size_t i;
	int fd;

	for (i = first; i < first + n && o == NULL; i++)
		if (p->o[i].meta)
			o = &p->o[i];
	if (o == NULL)
		return LOCK_NONE;
	fd = openat(p->dfd, o->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? LOCK_NONE : LOCK_HELD;
	if (fstat(fd, &st) != 0 || !prune_same(o, &st) ||
	    flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return LOCK_HELD;
	}
	return fd;
}

/*
 * Marks the blocks whose NAME.meta a live process holds open, as every
 * rundownd does while it keeps a block: a look at each descriptor in
 * /proc/PID/fd that this user may look at (all, for root), but this
 * process's.
 */
static void
prune_held_open(struct prune *p)
{
	static const char shm[] = SHM_DIR "/rundownd.";
	char path[sizeof("/proc//fd") + NAME_MAX], to[64];
	struct dirent *pe, *fe;
	struct stat st;
	DIR *procd, *fdd;
	long self = (long)getpid();
	ssize_t n;
	size_t i;
	int fd;

	for (i = 0; i < p->nb; i++)
		p->b[i].held = false;
	if (p->nb == 0 || (procd = opendir("/proc")) == NULL)
		return;
	while ((pe = readdir(procd)) != NULL) {
		if (pe->d_name[0] < '1' || pe->d_name[0] > '9' ||
		    strtol(pe->d_name, NULL, 10) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		if ((fdd = fdopendir(fd)) == NULL) {
			close(fd);
			continue;
		}
		while ((fe = readdir(fdd)) != NULL) {
			/* By its name first: a stat() of a descriptor of
			 * a hung file system would hang. */
			if (fe->d_name[0] == '.' || (n = readlinkat(fd,
			    fe->d_name, to, sizeof(to) - 1)) < (ssize_t)
			    sizeof(shm) || memcmp(to, shm, sizeof(shm) - 1) !=
			    0 || fstatat(fd, fe->d_name, &st, 0) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			for (i = 0; i < p->nb; i++)
				if (p->b[i].meta != NULL &&
				    p->b[i].meta->ino == st.st_ino &&
				    p->b[i].meta->dev == st.st_dev)
					p->b[i].held = true;
		}
		closedir(fdd);
	}
	closedir(procd);
}

/* Sorts the blocks found into those a daemon serves and the rest: 0, or
 * the exit status. */
static int
prune_sort(struct prune *p)
{
	size_t i, n, k;
	int fd;

	if ((p->b = calloc(p->no > 0 ? p->no : 1, sizeof(*p->b))) == NULL) {
		prune_msg("%s", strerror(ENOMEM));
		return EX_OSERR;
	}
	for (i = 0; i < p->no; i += n) {
		for (n = 1; i + n < p->no && prune_block_of(&p->o[i],
		    &p->o[i + n]); n++)
			;
		if (prune_listens(p, p->o[i].hash) ||
		    (fd = prune_lock(p, i, n)) == LOCK_HELD) {
			p->served++;
			continue;
		}
		if (fd >= 0)
			close(fd);
		p->b[p->nb].first = i;
		p->b[p->nb].n = n;
		p->nb++;
	}
	for (i = 0; i < p->nb; i++)
		for (n = 0; n < p->b[i].n; n++) {
			p->b[i].bytes += p->o[p->b[i].first + n].size;
			if (p->o[p->b[i].first + n].meta)
				p->b[i].meta = &p->o[p->b[i].first + n];
		}
	/* Those whose record a process holds open are served too. */
	prune_held_open(p);
	for (i = k = 0; i < p->nb; i++) {
		if (p->b[i].held)
			p->served++;
		else
			p->b[k++] = p->b[i];
	}
	p->nb = k;
	return 0;
}

/* Removes one object of a block, if it is still the one found: 0, or the
 * exit status after a message. */
static int
prune_unlink(const struct prune *p, const struct pobj *o)
{
	struct stat st;

	if (fstatat(p->dfd, o->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;	/* gone already */
	if (!prune_same(o, &st)) {
		prune_msg("%s/%s changed since it was listed; kept", SHM_DIR,
		    o->name);
		return EX_OSERR;
	}
	if (unlinkat(p->dfd, o->name, 0) != 0 && errno != ENOENT) {
		prune_msg("cannot remove %s/%s: %s", SHM_DIR, o->name,
		    strerror(errno));
		return EX_OSERR;
	}
	return 0;
}

/*
 * Removes a block under its lock: first its rows and header, its record
 * last, so that a daemon adopting it meanwhile finds either all of it or
 * no record.  One that a daemon has taken since it was listed is kept.
 * 0, or the exit status after a message.
 */
static int
prune_remove(struct prune *p, struct pblock *b)
{
	const struct pobj *o = &p->o[b->first];
	size_t i;
	int fd, r, status = 0;

	if (b->held || prune_listens(p, o->hash) ||
	    (fd = prune_lock(p, b->first, b->n)) == LOCK_HELD) {
		prune_msg("%s/%.*s: a daemon serves it now; kept", SHM_DIR,
		    (int)o->blen, o->name);
		return 0;
	}
	for (i = 0; i < b->n; i++)
		if (!o[i].meta && (r = prune_unlink(p, &o[i])) != 0)
			status = r;
	for (i = 0; i < b->n; i++)
		if (o[i].meta && (r = prune_unlink(p, &o[i])) != 0)
			status = r;
	if (fd >= 0)
		close(fd);
	b->removed = status == 0;
	return status;
}

/* Writes a tag as a JSON string: printable ASCII, from
 * rundown_tag_format(). */
static void
prune_json_tag(uint32_t tag)
{
	char buf[RUNDOWN_TAG_BUFSZ];
	const char *s;

	putchar('"');
	for (s = rundown_tag_format(tag, buf); *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/* The blocks as a table, or as a JSON array. */
static void
prune_print(const struct prune *p, bool json)
{
	const struct pblock *b;
	const struct pobj *o;
	char tag[RUNDOWN_TAG_BUFSZ];
	size_t i;

	if (json)
		putchar('[');
	else if (p->nb > 0)
		printf("%-10s  %10s  %7s  %10s  %s\n", "TAG", "UID", "OBJECTS",
		    "BYTES", "BLOCK");
	for (i = 0; i < p->nb; i++) {
		b = &p->b[i];
		o = &p->o[b->first];
		if (!json) {
			printf("%-10s  %10lu  %7zu  %10lld  %s/%.*s\n",
			    rundown_tag_format(o->tag, tag),
			    (unsigned long)o->uid, b->n, (long long)b->bytes,
			    SHM_DIR, (int)o->blen, o->name);
			continue;
		}
		printf("%s{\"block\":\"%s/%.*s\",\"tag\":", i > 0 ? "," : "",
		    SHM_DIR, (int)o->blen, o->name);
		prune_json_tag(o->tag);
		printf(",\"uid\":%lu,\"objects\":%zu,\"bytes\":%lld,"
		    "\"removed\":%s}", (unsigned long)o->uid, b->n,
		    (long long)b->bytes, b->removed ? "true" : "false");
	}
	if (json)
		fputs("]\n", stdout);
}

/* Asks at the terminal whether to remove them: true for yes. */
static bool
prune_ask(size_t objects, size_t blocks)
{
	char line[64];

	fflush(stdout);
	fprintf(stderr, "rundownctl: prune: remove these %zu object%s of %zu "
	    "block%s? [y/N] ", objects, plural(objects), blocks,
	    plural(blocks));
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fputc('\n', stderr);
		return false;
	}
	return line[0] == 'y' || line[0] == 'Y';
}

int
ctl_prune(const char *socket, bool yes, bool json)
{
	struct prune p;
	size_t i, objects = 0, removed = 0, blocks = 0;
	int r, status = 0;

	memset(&p, 0, sizeof(p));
	p.dfd = -1;
	if (socket != NULL) {
		p.scoped = true;
		p.only = prune_hash(socket);
	}
	prune_listening(&p);
	if ((status = prune_scan(&p)) != 0 || (status = prune_sort(&p)) != 0)
		goto out;
	for (i = 0; i < p.nb; i++)
		objects += p.b[i].n;
	if (p.nb == 0) {
		if (json)
			fputs("[]\n", stdout);
		prune_msg("nothing to remove: no object of rundownd's in %s "
		    "is left without its daemon%s%s (%zu block%s served)",
		    SHM_DIR, socket != NULL ? " on " : "",
		    socket != NULL ? socket : "", p.served, plural(p.served));
		goto out;
	}
	if (!json)
		prune_print(&p, false);
	if (!yes && (json || !isatty(STDIN_FILENO))) {
		if (json)
			prune_print(&p, true);
		prune_msg("%zu object%s of %zu block%s that no daemon serves; "
		    "nothing removed: %s", objects, plural(objects), p.nb,
		    plural(p.nb), json ? "--yes removes them" :
		    "no terminal to confirm at (--yes removes them)");
		goto out;
	}
	if (!yes && !prune_ask(objects, p.nb)) {
		prune_msg("nothing removed");
		goto out;
	}
	/* Again: a daemon may have started since. */
	prune_listening(&p);
	prune_held_open(&p);
	for (i = 0; i < p.nb; i++) {
		if ((r = prune_remove(&p, &p.b[i])) != 0)
			status = r;
		if (p.b[i].removed) {
			blocks++;
			removed += p.b[i].n;
		}
	}
	if (json)
		prune_print(&p, true);
	prune_msg("removed %zu object%s of %zu block%s", removed,
	    plural(removed), blocks, plural(blocks));
out:
	for (i = 0; i < p.no; i++)
		free(p.o[i].name);
	free(p.o);
	free(p.b);
	free(p.listening);
	if (p.dfd >= 0)
		close(p.dfd);
	return status;
}
