/*
 * listener.c: the control socket's set-up, in a safe order (OpenSMTPD's
 * control.c): the path's directories checked from "/" down, never
 * through a link; the socket's own directory made or checked; a lock
 * file so that two daemons never serve one path; a live daemon refused
 * and only a stale socket removed; the socket bound under a umask and
 * its group set.  Or the socket a service manager passed (socket
 * activation), taken as it is.  And at exit, the socket and the lock
 * file put back as they should be left.
 *
 * Listening only: the connections it accepts are server.c's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "listener.h"
#include "log.h"

/* The first descriptor a service manager passes (sd_listen_fds(3)). */
#define LISTENER_FD 3

static int listen_fd = -1;
static char listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int listen_dir = -1;		/* the socket's directory */
static int lock_fd = -1;		/* NAME.lock, held and holding our pid */
static bool listen_inherited;		/* the socket is a service manager's */
static const char *listen_name;		/* the socket's name in it */
static const struct config *cfg;

/* Modes for the socket's directory and the socket: owner only, unless
 * other users or groups are let in (then the credential check is what
 * keeps everyone else out). */
static void
listener_modes(mode_t *dmode, mode_t *smode)
{
	if (cfg->nallow_uids > 0) {
		*dmode = 0711;
		*smode = 0666;
	} else if (cfg->nallow_gids > 0) {
		*dmode = 0710;
		*smode = 0660;
	} else {
		*dmode = 0700;
		*smode = 0600;
	}
}

/* A directory on the way to the socket is safe if no one but root and
 * us can change what it holds (OpenSSH's safe_path): ours or root's, and
 * writable by no one else unless sticky (like /tmp), where others may add
 * names but not rename or remove ours.  The reason why not, or NULL. */
static const char *
listener_unsafe(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "owned by another user";
	if ((st->st_mode & 022) != 0 && (st->st_mode & S_ISVTX) == 0)
		return "writable by group or others and not sticky";
	return NULL;
}

/*
 * Opens dir (absolute) from "/" one component at a time, never following
 * a symbolic link, and checks each directory it passes (listener_unsafe):
 * no one else can swap a component under it afterwards, so everything
 * done through the descriptor it returns stays in this directory.
 * Exits, naming the culprit, if a component is a link or unsafe.
 */
static int
listener_walk(const char *dir)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)], *p, *next;
	const char *why;
	struct stat st;
	int fd, nfd;

	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		fatal("/");
	if ((why = listener_unsafe(&st)) != NULL)
		fatalx("/ is %s; refusing to put the socket below it", why);
	snprintf(buf, sizeof(buf), "%s", dir);
	for (p = buf; *p == '/'; p++)
		;
	while (*p != '\0') {
		if ((next = strchr(p, '/')) != NULL)
			*next = '\0';
		nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (nfd < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				fatalx("%s: component %s is a symbolic link or "
				    "not a directory; refusing", dir, p);
			fatal("%s: component %s", dir, p);
		}
		close(fd);
		fd = nfd;
		if (fstat(fd, &st) != 0)
			fatal("%s: component %s", dir, p);
		if ((why = listener_unsafe(&st)) != NULL)
			fatalx("%s: component %s is %s (uid %lu, mode %03o); "
			    "refusing", dir, p, why, (unsigned long)st.st_uid,
			    (unsigned)(st.st_mode & 07777));
		if (next == NULL)
			break;
		for (p = next + 1; *p == '/'; p++)
			;
	}
	return fd;
}

/* Creates the socket's directory NAME in parent (mode exactly dmode) or
 * checks the one there: ours, a directory, not a link, and writable by
 * nobody else; its mode (and group, with -g) are then set through the
 * descriptor, which is returned.  Without own, the directory is the
 * service manager's (socket activation): checked, never created or
 * changed. */
static int
listener_dir(int parent, const char *dir, const char *name, mode_t dmode,
    bool own)
{
	struct stat st;
	mode_t mask;
	int fd, r;

	if (own) {
		mask = umask(0);
		r = mkdirat(parent, name, dmode);
		umask(mask);
		if (r != 0 && errno != EEXIST)
			fatal("creating %s", dir);
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			fatalx("%s is a symbolic link or not a directory; "
			    "refusing", dir);
		fatal("%s", dir);
	}
	if (fstat(fd, &st) != 0)
		fatal("%s", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0)
		fatalx("%s must be a directory owned by uid %lu and not "
		    "writable by others (it is owned by uid %lu, mode %03o); "
		    "refusing", dir, (unsigned long)geteuid(),
		    (unsigned long)st.st_uid, (unsigned)(st.st_mode & 07777));
	if (!own)
		return fd;
	if ((st.st_mode & 07777) != dmode && fchmod(fd, dmode) != 0)
		fatal("setting the mode of %s", dir);
	if (cfg->nallow_gids > 0 && st.st_gid != cfg->allow_gids[0] &&
	    fchown(fd, (uid_t)-1, cfg->allow_gids[0]) != 0)
		fatal("setting the group of %s", dir);
	return fd;
}

/*
 * Takes NAME.lock in the socket's directory for the daemon's lifetime, so
 * that two daemons starting at once cannot both find the socket stale and
 * both serve (and both harvest) the same blocks.  The descriptor stays
 * open until exit.  The file also carries the daemon's pid, so that an
 * operator stops the daemon of one socket among several; a reader can
 * tell a live daemon's pid from a stale one by the lock (pkill -L).
 */
static void
listener_lock(int dfd, const char *path, const char *name)
{
	char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int fd;

	snprintf(lock, sizeof(lock), "%s.lock", name);
	fd = openat(dfd, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		fatal("%s.lock", path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			fatalx("another daemon holds %s.lock", path);
		fatal("flock %s.lock", path);
	}
	lock_fd = fd;
	listener_write_pid();
}

/* Written over the old contents, then cut to length, so that a reader
 * sees one pid or the other, never an empty file.  Called again after
 * daemon(), whose child has another pid. */
void
listener_write_pid(void)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (pwrite(lock_fd, buf, (size_t)n, 0) != n ||
	    ftruncate(lock_fd, n) != 0)
		fatal("writing the pid into %s.lock", listen_path);
}

/*
 * Binds the socket NAME in the directory dfd, after the checks.
 * Everything is done through the directory's descriptor (the *at calls,
 * and a relative name from it as the working directory for connect and
 * bind), never by a path another user could redirect; the socket gets
 * its mode from the umask at bind, so nothing is chmod'ed.
 */
static int
listener_bind(int dfd, const char *dir, const char *path, const char *name,
    mode_t smode)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t mask;
	int fd, cwd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, strlen(name) + 1);
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || fchdir(dfd) != 0)
		fatal("entering %s", dir);

	/* A live daemon answers: refuse.  A socket nobody answers is stale:
	 * remove it, and nothing that is not a socket. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket", path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fatal("socket");
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		if (r == 0)
			fatalx("a daemon is already listening on %s", path);
		if (errno != ECONNREFUSED)
			fatal("probing %s", path);
		if (unlinkat(dfd, name, 0) != 0)
			fatal("removing stale socket %s", path);
		log_info("removed stale socket %s", path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket");
	mask = umask(0777 & ~smode);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(mask);
	if (r != 0)
		fatal("bind %s", path);
	if (fchdir(cwd) != 0)
		fatal("leaving %s", dir);
	close(cwd);
	if (cfg->nallow_gids > 0 && fchownat(dfd, name, (uid_t)-1,
	    cfg->allow_gids[0], AT_SYMLINK_NOFOLLOW) != 0)
		fatal("setting the group of %s", path);
	if (listen(fd, 128) != 0)
		fatal("listen %s", path);
	return fd;
}

/*
 * The socket a service manager passed (socket activation, sd_listen_fds(3):
 * LISTEN_PID names this process and LISTEN_FDS counts the descriptors
 * from 3 on), its path into path[size]; or -1 if none was passed to this
 * process.  The variables are unset once read, as they were for this
 * process alone.  Exits unless exactly one descriptor came and it is a
 * listening AF_UNIX stream socket bound to an absolute path: clients find
 * the daemon by that path, and the blocks are named after it.
 */
int
listener_inherited(char *path, size_t size)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	struct sockaddr_un sun;
	unsigned long pid, n;
	socklen_t len;
	size_t plen;
	int fd = LISTENER_FD, domain = -1, type = -1, acc = 0;
	char *end;

	if (pid_s == NULL || fds_s == NULL)
		return -1;
	errno = 0;
	pid = strtoul(pid_s, &end, 10);
	if (errno != 0 || end == pid_s || *end != '\0' ||
	    pid != (unsigned long)getpid()) {
		log_debug("LISTEN_PID=%s is not this process; its LISTEN_FDS "
		    "ignored", pid_s);
		return -1;
	}
	errno = 0;
	n = strtoul(fds_s, &end, 10);
	if (errno != 0 || end == fds_s || *end != '\0' || n != 1)
		fatalx("LISTEN_FDS=%s: the service manager must pass exactly "
		    "one socket", fds_s);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");

	/* Not a socket at all (ENOTSOCK) is refused below, as any other
	 * wrong kind. */
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 &&
	    errno != ENOTSOCK)
		fatal("descriptor %d from the service manager", fd);
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 &&
	    errno != ENOTSOCK)
		fatal("descriptor %d from the service manager", fd);
	len = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 &&
	    errno != ENOTSOCK)
		fatal("descriptor %d from the service manager", fd);
	if (domain != AF_UNIX || type != SOCK_STREAM || acc != 1)
		fatalx("descriptor %d from the service manager is not a "
		    "listening AF_UNIX stream socket (ListenStream= a path)",
		    fd);
	memset(&sun, 0, sizeof(sun));
	len = sizeof(sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) != 0)
		fatal("getsockname of the socket from the service manager");
	plen = len > offsetof(struct sockaddr_un, sun_path) ?
	    strnlen(sun.sun_path, len - offsetof(struct sockaddr_un,
	    sun_path)) : 0;
	if (plen == 0 || sun.sun_path[0] != '/' || plen >= size)
		fatalx("the socket from the service manager is not bound to an "
		    "absolute path (an abstract or relative name); clients "
		    "and blocks go by the socket's path");
	memcpy(path, sun.sun_path, plen);
	path[plen] = '\0';
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		fatal("the socket from the service manager");
	return fd;
}

/*
 * The socket a service manager passed has the mode and group it was given
 * (SocketMode=, SocketGroup=), which the daemon leaves alone.  Says so if
 * they open it to a group that no -g lets in: every member that connects
 * would be refused, one by one, with nothing at start-up to tell why.
 */
static void
listener_check_inherited(const char *path, const struct stat *st)
{
	size_t i;

	if ((st->st_mode & 020) == 0 || (st->st_mode & 002) != 0)
		return;
	for (i = 0; i < cfg->nallow_gids; i++)
		if (cfg->allow_gids[i] == st->st_gid)
			return;
	log_warnx("%s is open to group %lu (mode %03o), which no -g names: "
	    "its members are refused", path, (unsigned long)st->st_gid,
	    (unsigned)(st->st_mode & 0777));
}

/*
 * Sets up the control socket: the directory checked (and made ours), the
 * lock taken, and the socket bound, or, if fd is one a service manager
 * passed (listener_inherited()), the socket taken as it is: its directory
 * is checked as for our own but neither created nor changed, the lock is
 * taken all the same (a daemon started by hand on the path must not
 * serve the same blocks), and nothing at the path is removed or bound,
 * now or at exit.
 */
int
listener_open(const struct config *c, int fd)
{
	const char *path = c->socket_path, *name;
	mode_t dmode, smode;
	struct stat st;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;
	int pfd, dfd;

	cfg = c;
	if (strlen(path) >= sizeof(dir) || path[0] != '/')
		fatalx("socket path must be absolute and under %zu bytes: %s",
		    sizeof(dir), path);
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	name = path + (slash - dir) + 1;
	while (slash > dir && slash[-1] == '/')
		slash--;
	*slash = '\0';
	if (*name == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || (slash = strrchr(dir, '/')) == NULL ||
	    slash[1] == '\0' || strcmp(slash + 1, ".") == 0 ||
	    strcmp(slash + 1, "..") == 0)
		fatalx("%s: the socket needs a directory of its own, named "
		    "in the path", path);
	listener_modes(&dmode, &smode);
	*slash = '\0';
	pfd = listener_walk(dir[0] == '\0' ? "/" : dir);
	*slash = '/';
	dfd = listener_dir(pfd, dir, slash + 1, dmode, fd < 0);
	close(pfd);
	memcpy(listen_path, path, strlen(path) + 1);
	listener_lock(dfd, path, name);
	if (fd < 0)
		fd = listener_bind(dfd, dir, path, name, smode);
	else {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISSOCK(st.st_mode))
			fatalx("%s, the path of the socket from the service "
			    "manager, holds no socket", path);
		listener_check_inherited(path, &st);
		listen_inherited = true;
	}
	listen_dir = dfd;
	listen_name = listen_path + (name - path);
	listen_fd = fd;
	return fd;
}

/* Closes the socket, and removes it unless a service manager passed it;
 * empties the lock file. */
void
listener_close(void)
{
	if (listen_fd >= 0) {
		close(listen_fd);
		/* The manager's socket stays: it keeps listening, and queues
		 * connections for the next daemon. */
		if (!listen_inherited)
			unlinkat(listen_dir, listen_name, 0);
	}
	/* Emptied while still locked: after a clean exit the file names no
	 * process, which by then may be another's. */
	if (lock_fd >= 0 && ftruncate(lock_fd, 0) != 0)
		log_warn("emptying %s.lock", listen_path);
}
