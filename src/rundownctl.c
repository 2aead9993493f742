/*
 * rundownctl.c: the command line for rundownd.
 *
 * A thin client over the public API: each command is one or a few library
 * calls, and the error a call returns becomes one of the exit statuses
 * that rundownctl(1) documents, so that scripts can tell "the daemon said
 * no" (1) from "no daemon" (69) from "timed out" (2).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "ctl_prune.h"

#define STATUS_REFUSED 1	/* the daemon refused the operation */
#define STATUS_TIMEDOUT 2	/* wait: the run-down is still in progress */

#define MAX_TIMEOUT_S 1000000000LL	/* keeps nanoseconds in an int64_t */
#define SLICE_MS 250			/* live line refresh on a terminal */
#define NS 1000000000LL
/* wait: how it looks for the next daemon when it loses one, as the
 * library's attached wait does (rundown_shared(3)): again at once, then
 * every RETRY_NS for RECONNECT_NS from the loss. */
#define RETRY_NS 100000000LL
#define RECONNECT_NS (10 * NS)

/* Long options of the commands: values past any character. */
enum { OPT_ROWS = 256, OPT_JSON, OPT_TIMEOUT, OPT_MODE, OPT_FORCE,
    OPT_WAIT_OPEN, OPT_CREATE };

/* A command line after parsing, for any command. */
struct args {
	const char *path;	/* the daemon's socket */
	bool sopt;		/* path came from -S: hints repeat it */
	const char *cmd;	/* the command's name, for messages */
	uint32_t tag;
	char tagstr[RUNDOWN_TAG_BUFSZ];
	uint32_t rows;		/* create: 0 for the daemon's default */
	bool moded;		/* create: a --mode was given */
	unsigned int mode;
	bool json;
	bool force;		/* free: whatever the rows say */
	bool timed;		/* wait: a --timeout was given; run: a
				 * --wait-open=SECONDS */
	struct timespec timeout;
	bool wait_open;		/* run: --wait-open */
	bool create;		/* run: --create */
	char **argv;		/* run: the command to run */
};

struct command {
	const char *name;
	int (*fn)(const struct args *);
	const struct option *opts;
	bool tag;		/* takes a TAG */
	bool run;		/* takes a command after the TAG */
	const char *usage;	/* what follows the name */
};

static const struct option opts_plain[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const struct option opts_create[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "rows", required_argument, NULL, OPT_ROWS },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ NULL, 0, NULL, 0 }
};

static const struct option opts_json[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 }
};

static const struct option opts_free[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 }
};

static const struct option opts_run[] = {
	{ "create", no_argument, NULL, OPT_CREATE },
	{ "help", no_argument, NULL, 'h' },
	{ "wait-open", optional_argument, NULL, OPT_WAIT_OPEN },
	{ NULL, 0, NULL, 0 }
};

static const struct option opts_wait[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ NULL, 0, NULL, 0 }
};

static const struct option opts_main[] = {
	{ "daemon-user", required_argument, NULL, 'D' },
	{ "help", no_argument, NULL, 'h' },
	{ "socket", required_argument, NULL, 'S' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Prints "rundownctl: " and the message on stderr. */
static void __attribute__((format(printf, 1, 2)))
msg(const char *fmt, ...)
{
	va_list ap;

	fputs("rundownctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- errors ------------------------------------------------------------ */

static int fail(const struct args *, rundown_conn_t *, int);

/* The directory of an absolute socket path, into dir (of the size of a
 * socket address). */
static void
path_dir(const char *path, char *dir)
{
	char *slash;

	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
}

/*
 * Says who serves on path, after the library refused it (-EPERM): the
 * listener's uid and its directory's owner and mode, as far as they can
 * be learnt.  The exit status.
 */
static int
untrusted(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;
	long uid = -1;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			uid = (long)cred.uid;
		close(fd);
	}
	path_dir(path, dir);
	if (stat(dir, &st) != 0)
		memset(&st, 0xff, sizeof(st));
	msg("refusing the daemon at %s: it runs as uid %ld and its directory "
	    "%s is owned by uid %ld, mode %03lo; trusted are root and uid %ld "
	    "(and the user of -D or $RUNDOWN_DAEMON_UID), owning a directory "
	    "that no one else may write", path, uid, dir, (long)st.st_uid,
	    (unsigned long)(st.st_mode & 07777), (long)geteuid());
	return EX_NOPERM;
}

/* Why no daemon answers at a path (-ECONNREFUSED). */
enum unreach { UNREACH_NODIR, UNREACH_NOSOCK, UNREACH_STALE };

/* Which of the three: no socket's directory (which goes to dir, of the
 * size of a socket address), no socket in it, or a socket that nobody
 * listens on. */
static enum unreach
unreachable_case(const char *path, char *dir)
{
	struct stat st;

	path_dir(path, dir);
	if (stat(path, &st) == 0)
		return UNREACH_STALE;
	if (stat(dir, &st) != 0 && errno == ENOENT)
		return UNREACH_NODIR;
	return UNREACH_NOSOCK;
}

/*
 * Says why no daemon answers at path (-ECONNREFUSED, which the library
 * keeps for all three so that its callers may try again later): no
 * directory, no socket in it, or a socket that nobody listens on.  The
 * exit status.
 */
static int
unreachable(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	switch (unreachable_case(path, dir)) {
	case UNREACH_STALE:
		msg("cannot reach rundownd at %s: nobody listens on the "
		    "socket (the daemon that made it has exited)", path);
		break;
	case UNREACH_NODIR:
		msg("cannot reach rundownd at %s: no such directory %s; "
		    "rundownd makes it when it starts", path, dir);
		break;
	default:
		msg("cannot reach rundownd at %s: no socket there; rundownd "
		    "does not run on this path", path);
		break;
	}
	return EX_UNAVAILABLE;
}

/* connect() itself was denied: the socket or a directory above it is
 * closed to this user.  The exit status. */
static int
no_access(const char *path)
{
	msg("cannot reach rundownd at %s: permission denied to uid %ld: the "
	    "socket or a directory above it is closed to this user; rundownd "
	    "opens them to the users of its -u and the groups of its -g",
	    path, (long)geteuid());
	return EX_NOPERM;
}

/* The system's daemon's socket, as the library finds it (rundownctl(1),
 * ENVIRONMENT: $RUNDOWN_SYSTEM_SOCKET is for tests). */
static const char *
system_socket(void)
{
	const char *env = getenv("RUNDOWN_SYSTEM_SOCKET");

	return env != NULL && *env == '/' ? env : RUNDOWN_SYSTEM_SOCKET;
}

/* In a few words, why connecting to path failed with err, into buf. */
static const char *
why_short(const char *path, int err, char *buf, size_t size)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct group *gr;
	struct stat st;

	if (err == -ECONNREFUSED) {
		switch (unreachable_case(path, dir)) {
		case UNREACH_STALE:
			snprintf(buf, size, "nobody listens on the socket");
			break;
		case UNREACH_NODIR:
			snprintf(buf, size, "no such directory %s", dir);
			break;
		default:
			snprintf(buf, size, "no socket there");
			break;
		}
	} else if (err == -EACCES) {
		/* The group let in: the socket's if it is open to its group
		 * (rundownd.socket), else its directory's (rundownd -g). */
		path_dir(path, dir);
		if ((stat(path, &st) != 0 || (st.st_mode & 066) != 060) &&
		    (stat(dir, &st) != 0 || (st.st_mode & 011) != 010))
			snprintf(buf, size, "permission denied to uid %ld",
			    (long)geteuid());
		else if ((gr = getgrgid(st.st_gid)) != NULL)
			snprintf(buf, size, "permission denied to uid %ld, "
			    "not in group %s", (long)geteuid(), gr->gr_name);
		else
			snprintf(buf, size, "permission denied to uid %ld, "
			    "not in group %ld", (long)geteuid(),
			    (long)st.st_gid);
	} else
		snprintf(buf, size, "%s", strerror(-err));
	return buf;
}

/*
 * Without -S and $RUNDOWN_SOCKET, the daemon is the user's own, at own,
 * or, where nobody listens there, the system's, at a->path, as the
 * library's rundown_connect(NULL) finds it: a->path is set to the one
 * that answers, so that every connection of the command goes there.
 * Any other failure at own is reported at own, as without a system's
 * daemon.  A user with no path of its own (own NULL) has the system's
 * alone.  0, or the exit status after a message naming both paths if
 * neither daemon can be reached.
 */
static int
pick_daemon(struct args *a, const char *own)
{
	char why[2][sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
	const char *sys = a->path;
	rundown_conn_t *c;
	int r, r2;

	if (own == NULL) {
		/* No path of the user's own: the system's alone. */
		if ((r2 = rundown_connect(sys, &c)) == 0) {
			rundown_disconnect(c);
			return 0;
		}
		if (r2 != -ECONNREFUSED && r2 != -EACCES)
			return fail(a, NULL, r2);
		msg("cannot reach the system's rundownd at %s (%s), and uid "
		    "%ld has no socket path of its own: neither "
		    "$XDG_RUNTIME_DIR nor $HOME is an absolute path; give one "
		    "with -S or $RUNDOWN_SOCKET", sys, why_short(sys, r2,
		    why[1], sizeof(why[1])), (long)geteuid());
		return r2 == -EACCES ? EX_NOPERM : EX_UNAVAILABLE;
	}
	if ((r = rundown_connect(own, &c)) != -ECONNREFUSED) {
		rundown_disconnect(c);
		a->path = own;
		return 0;
	}
	if ((r2 = rundown_connect(sys, &c)) == 0) {
		rundown_disconnect(c);
		return 0;
	}
	if (r2 != -ECONNREFUSED && r2 != -EACCES) {
		/* Something at the system's path, not a daemon, or not one
		 * to trust: said as for that path alone. */
		msg("no rundownd at %s (%s); trying the system's", own,
		    why_short(own, r, why[0], sizeof(why[0])));
		return fail(a, NULL, r2);
	}
	msg("cannot reach rundownd at %s (%s) nor the system's at %s (%s)%s",
	    own, why_short(own, r, why[0], sizeof(why[0])), sys,
	    why_short(sys, r2, why[1], sizeof(why[1])), r2 == -EACCES ? "" :
	    "; start either, or give another path with -S or $RUNDOWN_SOCKET");
	return r2 == -EACCES ? EX_NOPERM : EX_UNAVAILABLE;
}

/*
 * After -EACCES from a call: who said no.  The daemon answers a user its
 * -u and -g do not admit with EACCES and closes the connection; a block
 * whose owner and mode refuse the user answers EACCES and keeps it.  So
 * the connection (conn, or, after an attach, a new one) is asked again:
 * one that is closed now was refused.  The exit status.
 */
static int
denied(const struct args *a, rundown_conn_t *conn)
{
	struct rundown_block_info info;
	rundown_conn_t *own = NULL;
	size_t n;
	int r;

	if (conn == NULL) {
		if ((r = rundown_connect(a->path, &own)) == -EACCES)
			return no_access(a->path);
		/* A new connection's first call meets the same EACCES. */
		if ((conn = own) != NULL && rundown_ctl_status(conn, a->tag,
		    &info, NULL, 0, &n) != -EACCES)
			conn = NULL;
	}
	r = conn == NULL ? 0 : rundown_ctl_status(conn, a->tag, &info, NULL, 0,
	    &n);
	rundown_disconnect(own);
	if (r == -ECONNRESET || r == -EPIPE) {
		msg("rundownd at %s does not let uid %ld in: only the users of "
		    "its -u and the members of the groups of its -g may "
		    "connect", a->path, (long)geteuid());
		return EX_NOPERM;
	}
	msg("%s %s: permission denied by the block's owner and mode (see "
	    "rundownctl status)", a->cmd, *a->tagstr != '\0' ? a->tagstr :
	    "-");
	return EX_NOPERM;
}

/* Says why a call for the command failed and gives the exit status; conn
 * is the connection it failed on, if it is still there. */
static int
fail(const struct args *a, rundown_conn_t *conn, int err)
{
	const char *why = rundown_strerror(err);
	int status = STATUS_REFUSED;

	switch (-err) {
	case ECONNREFUSED:
		return unreachable(a->path);
	case ENOTSOCK:
		msg("cannot reach rundownd at %s: not a socket", a->path);
		return EX_UNAVAILABLE;
	case ENOTDIR:
	case ELOOP:
	case EPROTOTYPE:
		/* connect() found something at the path, not a daemon. */
		msg("cannot reach rundownd at %s: %s", a->path, strerror(-err));
		return EX_UNAVAILABLE;
	case EPERM:
		if (conn != NULL && a->force) {
			msg("free --force %s: only the block's owner or root "
			    "may", a->tagstr);
			return EX_NOPERM;
		}
		/* Only a connect, or the one in an attach, answers it here. */
		return untrusted(a->path);
	case EACCES:
		return denied(a, conn);
	case ENAMETOOLONG:
		msg("%s: %s", a->path, why);
		return EX_USAGE;
	case ETIMEDOUT:
		status = STATUS_TIMEDOUT;
		break;
	case ENOENT:
		why = "no such block";
		break;
	case ENOSPC:
		why = strcmp(a->cmd, "run") == 0 ? "no free row in the block" :
		    "the daemon has as many blocks as it allows";
		break;
	case EINVAL:
		if (strcmp(a->cmd, "create") == 0 && a->rows != 0) {
			/* The daemon's maximum (its -R) is not known here,
			 * only the protocol's. */
			msg("create %s: --rows %u is more than this daemon "
			    "allows (its -R, at most %u)", a->tagstr, a->rows,
			    RUNDOWN_MAX_ROWS);
			return status;
		}
		break;
	case EBUSY:
		why = strcmp(a->cmd, "free") == 0 ?
		    "in use (run it down first, or detach every process; "
		    "--force removes it all the same)" : why;
		break;
	case EAGAIN:
		why = "too many waits pending (the daemon's -w and -W limits); "
		    "try again once one has ended";
		break;
	case EEXIST:
	case EALREADY:
	case EDQUOT:
	case EUSERS:
	case ECANCELED:
		break;
	default:
		/* EPROTO, ECONNRESET, ECHILD, ENOMEM...: the daemon did not
		 * answer as it should, or this program could not go on. */
		if (err != -EPROTO && err != -ECONNRESET && err != -ECHILD)
			why = strerror(-err);
		status = EX_SOFTWARE;
		break;
	}
	if (*a->tagstr != '\0')
		msg("%s %s: %s", a->cmd, a->tagstr, why);
	else
		msg("%s: %s", a->cmd, why);
	return status;
}

/* Connects to the daemon: 0, or the exit status after a message. */
static int
connect_daemon(const struct args *a, rundown_conn_t **conn)
{
	int r;

	if ((r = rundown_connect(a->path, conn)) != 0)
		return r == -EACCES ? no_access(a->path) : fail(a, NULL, r);
	return 0;
}

/* -D: the user (name or number) the daemon may run as, passed on to the
 * library as $RUNDOWN_DAEMON_UID.  0, or -1 if there is no such user. */
static int
daemon_user(const char *user)
{
	struct passwd *pw = getpwnam(user);
	unsigned long v;
	char buf[24], *end;

	if (pw != NULL)
		v = (unsigned long)pw->pw_uid;
	else {
		errno = 0;
		v = strtoul(user, &end, 10);
		if (*user < '0' || *user > '9' || *end != '\0' || errno != 0 ||
		    v != (unsigned long)(uid_t)v || (uid_t)v == (uid_t)-1)
			return -1;
	}
	snprintf(buf, sizeof(buf), "%lu", v);
	return setenv("RUNDOWN_DAEMON_UID", buf, 1);
}

/* ---- parsing ------------------------------------------------------------ */

/* A row count, 1 to RUNDOWN_MAX_ROWS: 0 or -1. */
static int
parse_rows(const char *s, uint32_t *rows)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > RUNDOWN_MAX_ROWS)
		return -1;
	*rows = (uint32_t)v;
	return 0;
}

/* Permission bits in octal, 0 to 0777: 0 or -1. */
static int
parse_mode(const char *s, unsigned int *mode)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '7')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || *end != '\0' || v > 0777)
		return -1;
	*mode = (unsigned int)v;
	return 0;
}

/* Seconds with an optional decimal fraction ("2", "0.25", ".5"), to the
 * nanosecond; digits past that are ignored.  0 or -1. */
static int
parse_seconds(const char *s, struct timespec *ts)
{
	long long sec = 0;
	long nsec = 0, scale = NS / 10;
	bool digits = false;

	for (; *s >= '0' && *s <= '9'; s++) {
		sec = sec * 10 + (*s - '0');
		if (sec > MAX_TIMEOUT_S)
			return -1;
		digits = true;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			nsec += (*s - '0') * scale;
			scale /= 10;
			digits = true;
		}
	}
	if (!digits || *s != '\0')
		return -1;
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = nsec;
	return 0;
}

/* Prints the usage of every command, for -h. */
static void
usage(FILE *f)
{
	fputs("usage: rundownctl [-hV] [-D user] [-S socket-path] command "
	    "[args]\n"
	    "  create TAG [--rows N] [--mode OCTAL]\n"
	    "                                  create a block\n"
	    "  list [--json]                   list the blocks\n"
	    "  status TAG [--json]             show a block and who holds it\n"
	    "  metrics                         every block's figures, in the"
	    " OpenMetrics\n"
	    "                                  text format\n"
	    "  wait TAG [--timeout SECONDS]    run a block down, wait for it"
	    " to drain\n"
	    "  completed TAG                   mark a drained block completed\n"
	    "  reinit TAG                      open a run-down block again\n"
	    "  free TAG [--force]              remove a block (--force: even"
	    " one in use)\n"
	    "  run [--create] [--wait-open[=SECONDS]] TAG [--] COMMAND"
	    " [ARG...]\n"
	    "                                  run COMMAND under protection\n"
	    "  prune [--yes] [--json]          remove the blocks in /dev/shm"
	    " that no\n"
	    "                                  daemon serves (-S: that"
	    " socket's only)\n"
	    "TAG: four printable characters (Rdwn), or 0x and 1 to 8 hex"
	    " digits.\n"
	    "  -S path  the daemon's socket (default: $RUNDOWN_SOCKET, or the\n"
	    "           per-user default, else the system's; see"
	    " rundownctl(1))\n"
	    "  -D user  also trust a daemon that runs as this user\n"
	    "  -h       print this help and exit\n"
	    "  -V       print the version and exit\n", f);
}

/* Complains about a command line in one line, which says where the help
 * is rather than burying the complaint under it; the usage status. */
static int __attribute__((format(printf, 2, 3)))
bad_usage(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fputs("rundownctl: ", stderr);
	if (c != NULL)
		fprintf(stderr, "%s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; try 'rundownctl %s%s-h'\n", c != NULL ? c->name :
	    "", c != NULL ? " " : "");
	return EX_USAGE;
}

/* The option that getopt_long() stopped at, for a message. */
static const char *
bad_option(char **argv, char *buf)
{
	if (optopt > 0 && optopt < 256) {
		buf[0] = '-';
		buf[1] = (char)optopt;
		buf[2] = '\0';
		return buf;
	}
	return argv[optind - 1];
}

/* Parses a command's options and operands into *a: 0, or an exit status
 * (-1 for --help, which exits 0). */
static int
parse_args(const struct command *c, int argc, char **argv, struct args *a)
{
	char buf[3];
	int ch;

	optind = 0;		/* glibc: start afresh on the new vector */
	opterr = 0;
	a->cmd = c->name;
	/* run stops at its TAG so that the command's own options stay. */
	while ((ch = getopt_long(argc, argv, c->run ? "+:h" : ":h", c->opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: rundownctl %s%s%s\n", c->name,
			    *c->usage != '\0' ? " " : "", c->usage);
			return -1;
		case OPT_ROWS:
			if (parse_rows(optarg, &a->rows) != 0)
				return bad_usage(c, "--rows must be 1 to "
				    "%u: %s", RUNDOWN_MAX_ROWS, optarg);
			break;
		case OPT_MODE:
			if (parse_mode(optarg, &a->mode) != 0)
				return bad_usage(c, "--mode must be octal, 0 to "
				    "777: %s", optarg);
			a->moded = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_FORCE:
			a->force = true;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &a->timeout) != 0)
				return bad_usage(c, "--timeout must be seconds "
				    "(such as 5 or 0.5): %s", optarg);
			a->timed = true;
			break;
		case OPT_WAIT_OPEN:
			if (optarg != NULL &&
			    parse_seconds(optarg, &a->timeout) != 0)
				return bad_usage(c, "--wait-open= must be "
				    "seconds (such as 5 or 0.5): %s", optarg);
			a->timed = optarg != NULL;
			a->wait_open = true;
			break;
		case OPT_CREATE:
			a->create = true;
			break;
		case ':':
			return bad_usage(c, "%s needs an argument",
			    bad_option(argv, buf));
		default:
			return bad_usage(c, "unknown option %s",
			    bad_option(argv, buf));
		}
	}
	if (c->tag) {
		if (optind == argc)
			return bad_usage(c, "a TAG is needed");
		if (rundown_tag_parse(argv[optind], &a->tag) != 0)
			return bad_usage(c, "bad tag (four printable characters,"
			    " or 0x and 1 to 8 hex digits): %s", argv[optind]);
		rundown_tag_format(a->tag, a->tagstr);
		optind++;
	}
	if (c->run) {
		if (optind < argc && strcmp(argv[optind], "--") == 0)
			optind++;
		if (optind == argc)
			return bad_usage(c, "a COMMAND is needed");
		a->argv = argv + optind;
	} else if (optind < argc)
		return bad_usage(c, "unexpected argument: %s", argv[optind]);
	return 0;
}

/* ---- output ------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s, or 0 if it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range rules out overlong forms, surrogates and
	 * code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Writes s as a JSON string: control characters as \u00XX, bytes that
 * are not UTF-8 as U+FFFD (a command name may hold anything). */
static void
json_string(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	putchar('"');
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			printf("\\%c", *s++);
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s++);
		} else if ((n = utf8_len(s)) == 0) {
			fputs("\\ufffd", stdout);
			s++;
		} else {
			fwrite(s, 1, n, stdout);
			s += n;
		}
	}
	putchar('"');
}

/* A command name fit for a terminal: anything but printable ASCII
 * becomes '?', so that no name can move the cursor or change colours. */
static const char *
safe_comm(const char *comm, char *buf, size_t size)
{
	size_t i;

	for (i = 0; comm[i] != '\0' && i + 1 < size; i++)
		buf[i] = comm[i] >= 0x20 && comm[i] < 0x7f ? comm[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* Milliseconds as seconds with three decimals, as JSON and OpenMetrics
 * write times since the Epoch: "1796656505.123". */
static const char *
ms_seconds(int64_t ms, char *buf, size_t size)
{
	uint64_t m = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;

	snprintf(buf, size, "%s%llu.%03u", ms < 0 ? "-" : "",
	    (unsigned long long)(m / 1000), (unsigned)(m % 1000));
	return buf;
}

/* Milliseconds since the Epoch in RFC 3339, UTC, to the millisecond, as
 * status writes times: "2026-12-07T15:15:05.123Z". */
static const char *
rfc3339(int64_t ms, char *buf, size_t size)
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	struct tm tm;
	time_t t;

	if (frac < 0) {		/* before the Epoch: round down */
		sec--;
		frac += 1000;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return ms_seconds(ms, buf, size);
	snprintf(buf + strlen(buf), size - strlen(buf), ".%03dZ", (int)frac);
	return buf;
}

/* The members of a block's JSON object, without the braces. */
static void
json_info(const struct rundown_block_info *b)
{
	char tag[RUNDOWN_TAG_BUFSZ], t[32];

	fputs("\"tag\":", stdout);
	json_string(rundown_tag_format(b->tag, tag));
	fputs(",\"state\":", stdout);
	json_string(rundown_state_name(b->state));
	printf(",\"generation\":%u,\"cpus\":%u,\"rows\":%u,\"attached\":%u,"
	    "\"outstanding\":%llu,\"reclaimed_rows\":%llu,\"reclaimed\":%llu",
	    b->generation, b->cpus, b->rows, b->attached,
	    (unsigned long long)b->outstanding,
	    (unsigned long long)b->reclaimed_rows,
	    (unsigned long long)b->reclaimed);
	printf(",\"uid\":%u,\"gid\":%u,\"mode\":\"%04o\",\"fence_ms\":%u"
	    ",\"fence_failures\":%u", b->uid, b->gid, b->mode, b->fence_ms,
	    b->fence_failures);
	/* The last run-down's members are null while there was none, and
	 * its drain while it is in progress. */
	printf(",\"rundowns\":%llu", (unsigned long long)b->rundowns);
	if (b->rundowns == 0) {
		fputs(",\"last_start\":null,\"last_drain\":null"
		    ",\"last_duration_ms\":null,\"last_reclaimed_rows\":null",
		    stdout);
		return;
	}
	printf(",\"last_start\":%s", ms_seconds(b->last_start_ms, t,
	    sizeof(t)));
	if (b->last_drain_ms != 0)
		printf(",\"last_drain\":%s", ms_seconds(b->last_drain_ms, t,
		    sizeof(t)));
	else
		fputs(",\"last_drain\":null", stdout);
	printf(",\"last_duration_ms\":%llu,\"last_reclaimed_rows\":%llu",
	    (unsigned long long)b->last_duration_ms,
	    (unsigned long long)b->last_reclaimed_rows);
}

/* A block's status with all of its holders, in a buffer the caller frees:
 * 0 or a negative errno.  The count can grow between calls; ask again. */
static int
fetch_status(rundown_conn_t *conn, uint32_t tag,
    struct rundown_block_info *info, struct rundown_holder **holders,
    size_t *n)
{
	struct rundown_holder *h = NULL, *bigger;
	size_t max = 16;
	int r;

	for (;;) {
		if ((bigger = realloc(h, max * sizeof(*h))) == NULL) {
			free(h);
			return -ENOMEM;
		}
		h = bigger;
		r = rundown_ctl_status(conn, tag, info, h, max, n);
		if (r != 0 || *n <= max)
			break;
		max = *n;
	}
	if (r != 0) {
		free(h);
		h = NULL;
	}
	*holders = h;
	return r;
}

/* ---- commands ---------------------------------------------------------- */

/* A command that is one call naming a tag and prints nothing. */
static int
cmd_simple(const struct args *a, int (*call)(rundown_conn_t *, uint32_t))
{
	rundown_conn_t *conn;
	int r;

	if ((r = connect_daemon(a, &conn)) != 0)
		return r;
	if ((r = call(conn, a->tag)) != 0)
		r = fail(a, conn, r);
	rundown_disconnect(conn);
	return r;
}

/* Marks a drained block completed. */
static int
cmd_completed(const struct args *a)
{
	return cmd_simple(a, rundown_ctl_completed);
}

/* Opens a run-down block again. */
static int
cmd_reinit(const struct args *a)
{
	return cmd_simple(a, rundown_ctl_reinit);
}

/* Removes a block that is run down, or open and unused; --force, any. */
static int
cmd_free(const struct args *a)
{
	return cmd_simple(a, a->force ? rundown_ctl_free_force :
	    rundown_ctl_free);
}

/* Creates a block, with the daemon's default rows unless --rows, mode
 * 0600 unless --mode. */
static int
cmd_create(const struct args *a)
{
	rundown_conn_t *conn;
	int r;

	if ((r = connect_daemon(a, &conn)) != 0)
		return r;
	r = a->moded ? rundown_ctl_create_mode(conn, a->tag, a->rows, a->mode) :
	    rundown_ctl_create(conn, a->tag, a->rows);
	if (r != 0)
		r = fail(a, conn, r);
	rundown_disconnect(conn);
	return r;
}

/* Every block's figures, in a buffer the caller frees: 0, or the exit
 * status after a message.  The count can grow between calls; ask again. */
static int
fetch_list(const struct args *a, struct rundown_block_info **blocks,
    size_t *n)
{
	struct rundown_block_info *b = NULL, *bigger;
	rundown_conn_t *conn;
	size_t max = 16;
	int r;

	*blocks = NULL;
	if ((r = connect_daemon(a, &conn)) != 0)
		return r;
	for (;;) {
		if ((bigger = realloc(b, max * sizeof(*b))) == NULL) {
			r = -ENOMEM;
			break;
		}
		b = bigger;
		r = rundown_ctl_list(conn, b, max, n);
		if (r != 0 || *n <= max)
			break;
		max = *n;
	}
	if (r != 0)
		r = fail(a, conn, r);
	rundown_disconnect(conn);
	if (r != 0) {
		free(b);
		return r;
	}
	*blocks = b;
	return 0;
}

/* Every block, as a table or a JSON array. */
static int
cmd_list(const struct args *a)
{
	struct rundown_block_info *b;
	char tag[RUNDOWN_TAG_BUFSZ], reclaimed[48];
	size_t n, i;
	int r;

	if ((r = fetch_list(a, &b, &n)) != 0)
		return r;
	if (a->json) {
		putchar('[');
		for (i = 0; i < n; i++) {
			fputs(i > 0 ? ",{" : "{", stdout);
			json_info(&b[i]);
			putchar('}');
		}
		fputs("]\n", stdout);
	} else {
		printf("%-10s  %-12s  %8s  %11s  %5s  %4s  %10s  %8s  %-12s  "
		    "%s\n", "TAG", "STATE", "ATTACHED", "OUTSTANDING", "ROWS",
		    "CPUS", "GENERATION", "RUNDOWNS", "RECLAIMED", "OWNER");
		for (i = 0; i < n; i++) {
			snprintf(reclaimed, sizeof(reclaimed), "%llu/%llu",
			    (unsigned long long)b[i].reclaimed_rows,
			    (unsigned long long)b[i].reclaimed);
			printf("%-10s  %-12s  %8u  %11llu  %5u  %4u  %10u  "
			    "%8llu  %-12s  %u:%u %04o\n",
			    rundown_tag_format(b[i].tag, tag),
			    rundown_state_name(b[i].state), b[i].attached,
			    (unsigned long long)b[i].outstanding, b[i].rows,
			    b[i].cpus, b[i].generation,
			    (unsigned long long)b[i].rundowns, reclaimed,
			    b[i].uid, b[i].gid, b[i].mode);
		}
	}
	free(b);
	return 0;
}

/* status's lines of the run-downs: how many, and the last one's, if
 * any, with no drain while it is in progress (its duration so far). */
static void
status_rundowns(const struct rundown_block_info *b)
{
	char t[40];

	printf("rundowns: %llu\n", (unsigned long long)b->rundowns);
	if (b->rundowns == 0)
		return;
	printf("last_start: %s\n", rfc3339(b->last_start_ms, t, sizeof(t)));
	if (b->last_drain_ms != 0)
		printf("last_drain: %s\n", rfc3339(b->last_drain_ms, t,
		    sizeof(t)));
	printf("last_duration_ms: %llu\nlast_reclaimed_rows: %llu\n",
	    (unsigned long long)b->last_duration_ms,
	    (unsigned long long)b->last_reclaimed_rows);
}

/* One block and its holders, as key: value lines or a JSON object. */
static int
cmd_status(const struct args *a)
{
	struct rundown_block_info info;
	struct rundown_holder *h;
	rundown_conn_t *conn;
	char comm[sizeof(h->comm)];
	size_t n, i;
	int r;

	if ((r = connect_daemon(a, &conn)) != 0)
		return r;
	if ((r = fetch_status(conn, a->tag, &info, &h, &n)) != 0)
		r = fail(a, conn, r);
	rundown_disconnect(conn);
	if (r != 0)
		return r;
	if (a->json) {
		putchar('{');
		json_info(&info);
		fputs(",\"holders\":[", stdout);
		for (i = 0; i < n; i++) {
			printf("%s{\"pid\":%ld,\"row\":%u,\"outstanding\":%llu,"
			    "\"comm\":", i > 0 ? "," : "", (long)h[i].pid,
			    h[i].row, (unsigned long long)h[i].outstanding);
			json_string(h[i].comm);
			putchar('}');
		}
		fputs("]}\n", stdout);
	} else {
		printf("tag: %s\nstate: %s\ngeneration: %u\ncpus: %u\n"
		    "rows: %u\nattached: %u\noutstanding: %llu\n"
		    "reclaimed_rows: %llu\nreclaimed: %llu\n", a->tagstr,
		    rundown_state_name(info.state), info.generation, info.cpus,
		    info.rows, info.attached,
		    (unsigned long long)info.outstanding,
		    (unsigned long long)info.reclaimed_rows,
		    (unsigned long long)info.reclaimed);
		printf("uid: %u\ngid: %u\nmode: %04o\n", info.uid, info.gid,
		    info.mode);
		status_rundowns(&info);
		/* A run-down whose start waits for the daemon's walk of
		 * every CPU: a CPU held by a real-time task. */
		if (info.fence_ms != 0)
			printf("fence: waiting %u ms (see FENCES in "
			    "rundownd(8))\n", info.fence_ms);
		/* Fences that failed: each run-down waited for a retry. */
		if (info.fence_failures != 0)
			printf("fence failures: %u (see FENCES in "
			    "rundownd(8))\n", info.fence_failures);
		for (i = 0; i < n; i++)
			printf("holder: pid %ld (%s) row %u outstanding %llu\n",
			    (long)h[i].pid,
			    safe_comm(h[i].comm, comm, sizeof(comm)), h[i].row,
			    (unsigned long long)h[i].outstanding);
	}
	free(h);
	return 0;
}

/* ---- metrics ----------------------------------------------------------- */

/* What a metric family of `metrics` shows of a block. */
enum figure {
	FIG_STATE, FIG_GENERATION, FIG_CPUS, FIG_ROWS, FIG_ATTACHED,
	FIG_OUTSTANDING, FIG_RECLAIMED_ROWS, FIG_RECLAIMED, FIG_FENCE,
	FIG_FENCE_FAILURES, FIG_RUNDOWNS, FIG_LAST_START, FIG_LAST_DRAIN,
	FIG_LAST_DURATION, FIG_LAST_RECLAIMED_ROWS
};

/*
 * The families, in the order that `metrics` writes them: the name after
 * "rundown_", which is the key of status --json with "_ms" made
 * "_seconds" and a time since the Epoch "_timestamp_seconds"; whether it
 * is a counter (its samples add "_total"); its help.
 */
static const struct family {
	enum figure fig;
	const char *name;
	bool counter;
	const char *help;
} families[] = {
	{ FIG_STATE, "state", false, "1 for the state the block is in, 0 for "
	    "the others" },
	{ FIG_GENERATION, "generation", false, "Re-initializes of the block "
	    "so far, modulo 2^29" },
	{ FIG_CPUS, "cpus", false, "Slots per row" },
	{ FIG_ROWS, "rows", false, "Rows of the block" },
	{ FIG_ATTACHED, "attached", false, "Rows in use by live processes" },
	{ FIG_OUTSTANDING, "outstanding", false, "Protections held, or during "
	    "a run-down still to be released" },
	{ FIG_RECLAIMED_ROWS, "reclaimed_rows", true, "Rows of exited "
	    "processes that the daemon reclaimed" },
	{ FIG_RECLAIMED, "reclaimed", true, "Protections that those processes "
	    "still held" },
	{ FIG_FENCE, "fence_seconds", false, "How long the start of the "
	    "run-down has waited for the daemon's fence, or 0" },
	{ FIG_FENCE_FAILURES, "fence_failures", true, "Fences of its run-downs "
	    "that failed, modulo 2^32" },
	{ FIG_RUNDOWNS, "rundowns", true, "Run-downs that the daemon started "
	    "since it created or adopted the block" },
	{ FIG_LAST_START, "last_start_timestamp_seconds", false, "When the "
	    "last run-down started" },
	{ FIG_LAST_DRAIN, "last_drain_timestamp_seconds", false, "When the "
	    "last run-down drained; no sample while it is in progress" },
	{ FIG_LAST_DURATION, "last_duration_seconds", false, "How long the "
	    "last run-down took, or has taken so far" },
	{ FIG_LAST_RECLAIMED_ROWS, "last_reclaimed_rows", false, "Rows of "
	    "exited processes reclaimed during the last run-down" },
};

/* The value of fig for the block b, into buf: false if it has none (the
 * last run-down's figures while there was none, its drain while it is in
 * progress). */
static bool
metric_value(enum figure fig, const struct rundown_block_info *b, char *buf,
    size_t size)
{
	unsigned long long v = 0;

	if (fig >= FIG_LAST_START && (b->rundowns == 0 ||
	    (fig == FIG_LAST_DRAIN && b->last_drain_ms == 0)))
		return false;
	switch (fig) {
	case FIG_STATE:
		return false;	/* a sample per state: cmd_metrics() */
	case FIG_GENERATION:
		v = b->generation;
		break;
	case FIG_CPUS:
		v = b->cpus;
		break;
	case FIG_ROWS:
		v = b->rows;
		break;
	case FIG_ATTACHED:
		v = b->attached;
		break;
	case FIG_OUTSTANDING:
		v = b->outstanding;
		break;
	case FIG_RECLAIMED_ROWS:
		v = b->reclaimed_rows;
		break;
	case FIG_RECLAIMED:
		v = b->reclaimed;
		break;
	case FIG_FENCE:
		ms_seconds(b->fence_ms, buf, size);
		return true;
	case FIG_FENCE_FAILURES:
		v = b->fence_failures;
		break;
	case FIG_RUNDOWNS:
		v = b->rundowns;
		break;
	case FIG_LAST_START:
		ms_seconds(b->last_start_ms, buf, size);
		return true;
	case FIG_LAST_DRAIN:
		ms_seconds(b->last_drain_ms, buf, size);
		return true;
	case FIG_LAST_DURATION:
		ms_seconds((int64_t)b->last_duration_ms, buf, size);
		return true;
	case FIG_LAST_RECLAIMED_ROWS:
		v = b->last_reclaimed_rows;
		break;
	}
	snprintf(buf, size, "%llu", v);
	return true;
}

/* Writes s as an OpenMetrics label value, in its quotes: backslash,
 * double quote and line feed escaped (a tag may hold the first two). */
static void
metric_label(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
}

/*
 * Every block's figures in the OpenMetrics text format, for a scraper or
 * node_exporter's textfile collector: a family at a time, each declared
 * (TYPE, HELP) before its samples, a sample per block labelled with its
 * tag, and "# EOF" last.
 */
static int
cmd_metrics(const struct args *a)
{
	static const enum rundown_state states[] = { RUNDOWN_OPEN,
	    RUNDOWN_RUNNING_DOWN, RUNDOWN_DRAINED, RUNDOWN_COMPLETED,
	    RUNDOWN_RESETTING };
	struct rundown_block_info *b;
	const struct family *f;
	char tag[RUNDOWN_TAG_BUFSZ], v[32];
	size_t n, i, k;
	int r;

	if ((r = fetch_list(a, &b, &n)) != 0)
		return r;
	for (f = families; f < families + sizeof(families) /
	    sizeof(families[0]); f++) {
		printf("# TYPE rundown_%s %s\n# HELP rundown_%s %s.\n", f->name,
		    f->counter ? "counter" : "gauge", f->name, f->help);
		for (i = 0; i < n; i++) {
			rundown_tag_format(b[i].tag, tag);
			for (k = 0; f->fig == FIG_STATE &&
			    k < sizeof(states) / sizeof(states[0]); k++) {
				fputs("rundown_state{tag=", stdout);
				metric_label(tag);
				fputs(",state=", stdout);
				metric_label(rundown_state_name(states[k]));
				printf("} %d\n", b[i].state == states[k]);
			}
			if (!metric_value(f->fig, &b[i], v, sizeof(v)))
				continue;
			printf("rundown_%s%s{tag=", f->name,
			    f->counter ? "_total" : "");
			metric_label(tag);
			printf("} %s\n", v);
		}
	}
	fputs("# EOF\n", stdout);
	free(b);
	return 0;
}

/* Now on the monotonic clock, in nanoseconds. */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* Columns of the terminal on stderr, less one so that a line never wraps
 * (a wrapped line cannot be rewritten with a carriage return). */
static size_t
line_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col - 1u;
	return 79;
}

/*
 * A wait in progress.  A thread of its own makes the one blocking call
 * (the library's calls cannot be interrupted), and looks for the next
 * daemon if the one it waits on goes away; the main thread meanwhile
 * refreshes the live line and takes Ctrl-C.
 */
struct waiting {
	const struct args *a;
	rundown_conn_t *conn;	/* the wait's; the thread's while it runs */
	int64_t start;		/* when the wait began (now_ns) */
	int64_t deadline;	/* with --timeout: when it ends */
	int result;		/* the wait's: 0 or a negative errno */
	int done;		/* the thread writes a byte here at its end */
	rundown_conn_t *sconn;	/* the live line's, for status calls */
	bool shown;		/* a live line is on the terminal */
	bool counted;		/* outstanding is known */
	uint64_t outstanding;	/* as the last live line said */
};

/* True for the errors that a new connection may cure. */
static bool
broken(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN;
}

/*
 * The waiting thread: the library's wait that rides out a daemon restart
 * (rundown_ctl_wait_reconnect(), as an attached block's wait does), with
 * the whole --timeout: it goes to the next daemon with what is left.
 */
static void *
wait_thread(void *arg)
{
	struct waiting *w = arg;

	w->result = rundown_ctl_wait_reconnect(&w->conn, w->a->path,
	    w->a->tag, w->a->timed ? &w->a->timeout : NULL);
	/* The main thread joins this thread once the byte is there. */
	while (write(w->done, "", 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/* Seconds as M:SS, or H:MM:SS from an hour on. */
static void
duration(char *buf, size_t size, int64_t s)
{
	if (s >= 3600)
		snprintf(buf, size, "%lld:%02lld:%02lld", (long long)(s / 3600),
		    (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(buf, size, "%lld:%02lld", (long long)(s / 60),
		    (long long)(s % 60));
}

/*
 * Rewrites the live line: how long the wait has waited, with --timeout
 * how long it has left, then what the run-down still waits for and who
 * holds it, as the daemon says; or, while there is no daemon, that.
 */
static void
wait_show(struct waiting *w)
{
	const struct args *a = w->a;
	struct rundown_block_info info;
	struct rundown_holder *h = NULL;
	char line[512], comm[sizeof(h->comm)], t1[24], t2[24];
	size_t n = 0, i, len, width = line_width();
	const char *sep = ": ";
	int64_t now = now_ns(), left;
	int r;

	duration(t1, sizeof(t1), (now - w->start) / NS);
	len = (size_t)snprintf(line, sizeof(line), "%s: waited %s", a->tagstr,
	    t1);
	if (a->timed) {
		/* Rounded up: "0:00 left" only once the time is up. */
		left = w->deadline > now ?
		    (w->deadline - now + NS - 1) / NS : 0;
		duration(t2, sizeof(t2), left);
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    ", %s left", t2);
	}
	r = w->sconn != NULL ? 0 : rundown_connect(a->path, &w->sconn);
	if (r == 0 && (r = fetch_status(w->sconn, a->tag, &info, &h, &n)) !=
	    0 && broken(r)) {
		rundown_disconnect(w->sconn);
		w->sconn = NULL;
		r = -ECONNREFUSED;
	}
	if (r == -ECONNREFUSED)
		snprintf(line + len, sizeof(line) - len, "; rundownd is gone, "
		    "looking for the next one");
	else if (r != 0)
		snprintf(line + len, sizeof(line) - len, "; status: %s",
		    rundown_strerror(r));
	else {
		w->counted = true;
		w->outstanding = info.outstanding;
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    "; %llu outstanding", (unsigned long long)info.outstanding);
		for (i = 0; i < n && len < sizeof(line); i++) {
			if (h[i].outstanding == 0)
				continue;
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "%spid %ld (%s) %llu", sep, (long)h[i].pid,
			    safe_comm(h[i].comm, comm, sizeof(comm)),
			    (unsigned long long)h[i].outstanding);
			sep = ", ";
		}
	}
	free(h);
	if (width < sizeof(line))
		line[width] = '\0';
	/* Carriage return, the line, then erase whatever an older, longer
	 * line left beyond it. */
	fprintf(stderr, "\r%s\033[K", line);
	w->shown = true;
}

/*
 * Ctrl-C, or SIGTERM: the run-down goes on without this wait, and the
 * block refuses acquires until someone opens it again, so say so and
 * how.  Then dies of the signal, as a shell expects of an interrupted
 * program (a script that runs this one stops too).
 */
static void __attribute__((noreturn))
wait_interrupted(struct waiting *w, int sig)
{
	const struct args *a = w->a;
	struct sigaction sa;
	char held[48] = "", how[sizeof(((struct sockaddr_un *)0)->sun_path) +
	    32] = "rundownctl";
	sigset_t set;

	if (w->shown)
		fputs("\r\033[K", stderr);
	if (w->counted)
		snprintf(held, sizeof(held), " with %llu outstanding",
		    (unsigned long long)w->outstanding);
	if (a->sopt)
		snprintf(how, sizeof(how), "rundownctl -S %s", a->path);
	msg("wait %s: interrupted%s; the run-down stays in progress: \"%s "
	    "wait %s\" waits for it again, and once it has drained, \"%s "
	    "reinit %s\" opens the block again", a->tagstr, held, how,
	    a->tagstr, how, a->tagstr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	raise(sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	_exit(128 + sig);
}

/*
 * The main thread's part of a wait: until the waiting thread is done,
 * refreshes the live line (on a terminal) and watches for Ctrl-C.  The
 * wait's result.
 */
static int
wait_watch(struct waiting *w, pthread_t thread, const sigset_t *sigs, int sfd,
    int done)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	bool live = isatty(STDERR_FILENO);
	int n;

	for (;;) {
		pfd[0].fd = done;
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, live ? SLICE_MS : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* Nothing to watch with: let the signals do what they
			 * do by default, and wait for the wait's end. */
			pthread_sigmask(SIG_UNBLOCK, sigs, NULL);
			break;
		}
		/* The wait's end first: Ctrl-C after the drain is too late
		 * to change anything. */
		if (pfd[0].revents != 0)
			break;
		if (pfd[1].revents != 0 &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			wait_interrupted(w, (int)si.ssi_signo);
		if (n == 0)
			wait_show(w);
	}
	pthread_join(thread, NULL);
	return w->result;
}

/* Runs the block down and waits for it to drain. */
static int
cmd_wait(const struct args *a)
{
	struct waiting w;
	pthread_t thread;
	sigset_t sigs;
	int r, e, sfd = -1, pipefd[2] = { -1, -1 };

	memset(&w, 0, sizeof(w));
	w.a = a;
	if ((r = connect_daemon(a, &w.conn)) != 0)
		return r;
	w.start = now_ns();
	w.deadline = w.start + (int64_t)a->timeout.tv_sec * NS +
	    a->timeout.tv_nsec;
	/* Ctrl-C and SIGTERM arrive through a descriptor, read between two
	 * looks at the block; blocked first, so that the waiting thread
	 * inherits the mask and never takes one.  A signal ignored when
	 * this program started stays ignored. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if ((e = pthread_sigmask(SIG_BLOCK, &sigs, NULL)) != 0 ||
	    (sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0 ||
	    pipe2(pipefd, O_CLOEXEC) != 0)
		e = e != 0 ? e : errno;
	else {
		w.done = pipefd[1];
		e = pthread_create(&thread, NULL, wait_thread, &w);
	}
	if (e == 0)
		r = wait_watch(&w, thread, &sigs, sfd, pipefd[0]);
	/* Signals stay blocked: one that came with the drain changes
	 * nothing now. */
	if (w.shown)
		fputs("\r\033[K", stderr);
	if (e != 0) {
		msg("wait %s: %s", a->tagstr, strerror(e));
		r = EX_SOFTWARE;
	} else if (r != 0)
		r = fail(a, w.conn, r);
	rundown_disconnect(w.conn);
	rundown_disconnect(w.sconn);
	if (sfd >= 0)
		close(sfd);
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	return r;
}

/*
 * Names this process after the utility, as exec will name it (the last
 * part of its path, cut to 15 bytes by the kernel): the daemon reads a
 * holder's name when it attaches, which comes before the exec.
 */
static void
name_after(const char *utility)
{
	const char *base = strrchr(utility, '/');

	base = base != NULL ? base + 1 : utility;
	if (*base != '\0')
		(void)prctl(PR_SET_NAME, (unsigned long)base, 0UL, 0UL, 0UL);
}

/* The child of run did not exec the utility: tells its parent the exit
 * status (its message is out), and exits with it. */
static void __attribute__((noreturn))
run_report(int report, int status)
{
	while (write(report, &status, sizeof(status)) < 0 && errno == EINTR)
		;
	_exit(status);
}

/*
 * run --wait-open, once an acquire failed: waits until the block is open
 * again (re-initialized after its run-down).  The daemon has no wait for
 * that (its wait starts a run-down), so this looks at the status with a
 * pause that doubles from under a millisecond to RETRY_NS, as
 * run_settle() does, and looks for the next daemon if it loses one as
 * wait does (every RETRY_NS for RECONNECT_NS).  0 once the block is open,
 * or, with --create, gone (the next attach makes it); else the exit
 * status after a message: EX_TEMPFAIL once deadline (with SECONDS) has
 * passed, 1 if the block was removed.
 */
static int
run_await_open(const struct args *a, int64_t deadline)
{
	struct timespec pause = { 0, RETRY_NS / 128 };
	struct rundown_block_info info;
	rundown_conn_t *conn = NULL;
	int64_t lost = 0, now, ns;
	char t[32];
	int r;

	for (;;) {
		if (conn == NULL &&
		    (r = rundown_connect(a->path, &conn)) != 0 &&
		    (r != -ECONNREFUSED || lost == 0 ||
		    now_ns() - lost >= RECONNECT_NS))
			break;
		if (conn != NULL) {
			r = rundown_ctl_status(conn, a->tag, &info, NULL, 0,
			    NULL);
			if (r == 0 && info.state == RUNDOWN_OPEN)
				break;
			if (r == -ENOENT && a->create) {
				r = 0;
				break;
			}
			if (broken(r)) {
				rundown_disconnect(conn);
				conn = NULL;
				lost = now_ns();
				continue;	/* the next daemon, at once */
			}
			if (r != 0)
				break;
			lost = 0;
		}
		now = now_ns();
		if (a->timed && now >= deadline) {
			rundown_disconnect(conn);
			msg("run-down of %s has begun, and the block was not "
			    "open again within %s s", a->tagstr,
			    ms_seconds((int64_t)a->timeout.tv_sec * 1000 +
			    a->timeout.tv_nsec / 1000000, t, sizeof(t)));
			return EX_TEMPFAIL;
		}
		if (conn == NULL)	/* no daemon: as wait_reconnect() */
			pause.tv_nsec = RETRY_NS;
		ns = pause.tv_nsec;
		if (a->timed && deadline - now < ns)
			ns = deadline - now;
		nanosleep(&(struct timespec){ 0, (long)ns }, NULL);
		if (conn != NULL && pause.tv_nsec < RETRY_NS / 2)
			pause.tv_nsec *= 2;
	}
	if (r != 0)
		r = fail(a, conn, r);
	rundown_disconnect(conn);
	return r;
}

/*
 * The child of run, which becomes the utility.  It attaches and acquires
 * for itself: the daemon's holder is then the utility's pid, whose row
 * the daemon reclaims when the utility exits, and not before, whatever
 * becomes of the parent.  What it opens (the attachment's connection,
 * the report) is close-on-exec: the utility inherits none of it.  With
 * --wait-open, an acquire that fails gives the row back, and the child
 * attaches again once the block is open (run_await_open()).
 */
static void __attribute__((noreturn))
run_child(const struct args *a, pid_t parent, int report)
{
	rundown_cache_t *ref;
	int64_t deadline = now_ns() + (int64_t)a->timeout.tv_sec * NS +
	    a->timeout.tv_nsec;
	int r, e;

	/* SIGTERM when the parent dies, as from the parent: the utility
	 * may end its work cleanly, or go on, protected.  A parent dead
	 * already (killed before the prctl) is no longer this one's. */
	(void)prctl(PR_SET_PDEATHSIG, (unsigned long)SIGTERM, 0UL, 0UL, 0UL);
	if (getppid() != parent)
		raise(SIGTERM);
	name_after(a->argv[0]);
	for (;;) {
		if ((r = rundown_attach_at(a->path, a->tag, a->create ?
		    RUNDOWN_ATTACH_CREATE : 0, &ref)) != 0)
			run_report(report, fail(a, NULL, r));
		if (rundown_cache_acquire(ref))
			break;
		(void)rundown_detach(ref);
		if (!a->wait_open) {
			msg("run-down of %s has begun", a->tagstr);
			run_report(report, EX_TEMPFAIL);
		}
		if ((r = run_await_open(a, deadline)) != 0)
			run_report(report, r);
	}
	execvp(a->argv[0], a->argv);
	e = errno;
	/* Given back by hand: no reclaim for a utility that never ran. */
	rundown_cache_release(ref);
	(void)rundown_detach(ref);
	msg("%s: %s", a->argv[0], strerror(e));
	run_report(report, e == ENOENT ? 127 : 126);
}

/*
 * Whether a signal that run got (si) goes on to the utility, pid.  Not
 * one that the utility sent (to its process group, say), nor one that
 * the kernel sent to the process group that the utility shares, which
 * reached the utility as well: ^C and ^\ at the terminal, a hang-up of
 * the group.  A hang-up of the terminal goes to the session leader
 * alone, so it is passed on if that is this process.
 */
static bool
run_forwards(const siginfo_t *si, pid_t pid)
{
	if (si->si_code <= 0)		/* kill(2), sigqueue(3), tgkill(2) */
		return si->si_pid != pid;
	return getpgid(pid) != getpgrp() ||
	    (si->si_signo == SIGHUP && getsid(0) == getpid());
}

/* Waits for the child pid, passing on to it the signals of sigs (blocked
 * here) that come meanwhile: its wait status, or -1 with errno. */
static int
run_wait(pid_t pid, const sigset_t *sigs)
{
	siginfo_t si;
	pid_t r;
	int status;

	for (;;) {
		/* An exit after this look leaves SIGCHLD pending. */
		if ((r = waitpid(pid, &status, WNOHANG)) == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		/* Until it is reaped, pid is the child's: no kill can reach
		 * a process that took it over. */
		if (sigwaitinfo(sigs, &si) > 0 && si.si_signo != SIGCHLD &&
		    run_forwards(&si, pid))
			(void)kill(pid, si.si_signo);
	}
}

/*
 * Waits until the daemon has reclaimed the row of pid, which has exited,
 * so that the next command finds the block as the utility left it (free,
 * for one, refuses a block with a process attached).  The daemon learns
 * of the exit from its pidfd, and may answer a status or two first; a
 * daemon that does not answer is not waited for: the next one reclaims
 * the row when it starts.  At most RECONNECT_NS.
 */
static void
run_settle(const struct args *a, pid_t pid)
{
	struct timespec pause = { 0, RETRY_NS / 128 };
	struct rundown_block_info info;
	struct rundown_holder *h;
	rundown_conn_t *conn;
	int64_t end = now_ns() + RECONNECT_NS;
	size_t n, i;

	if (rundown_connect(a->path, &conn) != 0)
		return;
	while (fetch_status(conn, a->tag, &info, &h, &n) == 0) {
		for (i = 0; i < n && h[i].pid != pid; i++)
			;
		free(h);
		if (i == n || now_ns() >= end)
			break;
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < RETRY_NS / 2)
			pause.tv_nsec *= 2;
	}
	rundown_disconnect(conn);
}

/*
 * Runs a command under protection of the block, never once its run-down
 * has begun, as flock(1) runs one under a lock: the protection is the
 * child's, which becomes the utility, so it lasts as long as the utility
 * runs, whatever happens to this process.  This one passes TERM, INT, HUP
 * and QUIT on, waits, and exits as the utility did.
 */
static int
cmd_run(const struct args *a)
{
	struct sigaction sa, old_chld;
	sigset_t sigs, old;
	pid_t parent = getpid(), pid = -1;
	int report[2] = { -1, -1 }, status, e, r;
	ssize_t n;

	/* Blocked from before the fork, so that none is lost nor ends this
	 * process; they stay blocked here to the end (once the utility has
	 * exited there is nothing to pass them to), and the child restores
	 * the mask.  SIGCHLD at its default: an inherited SIG_IGN would
	 * have the child reaped unseen. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	sigaddset(&sigs, SIGCHLD);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, &old_chld);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	if (pipe2(report, O_CLOEXEC) == 0 && (pid = fork()) == 0) {
		close(report[0]);
		sigaction(SIGCHLD, &old_chld, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		run_child(a, parent, report[1]);
	}
	e = errno;
	if (report[1] >= 0)
		close(report[1]);
	if (pid < 0) {
		if (report[0] >= 0)
			close(report[0]);
		msg("cannot run %s: %s", a->argv[0], strerror(e));
		return EX_SOFTWARE;
	}
	status = run_wait(pid, &sigs);
	e = errno;
	/* The child is gone, and its end of the report closed: a status
	 * there means that it did not exec the utility. */
	n = 0;
	while (status >= 0 && (n = read(report[0], &r, sizeof(r))) < 0 &&
	    errno == EINTR)
		;
	close(report[0]);
	if (status < 0) {
		msg("cannot run %s: %s", a->argv[0], strerror(e));
		return EX_SOFTWARE;
	}
	if (n == (ssize_t)sizeof(r))
		return r;
	run_settle(a, pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* prune's --yes is parsed as --force: confirmed beforehand. */
static const struct option opts_prune[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "yes", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 }
};

/* Lists, and removes, what no daemon serves in /dev/shm (ctl_prune.c);
 * with -S, only the objects named after that socket. */
static int
cmd_prune(const struct args *a)
{
	return ctl_prune(a->sopt ? a->path : NULL, a->force, a->json);
}

/* The commands, in the order that usage() lists them. */
static const struct command commands[] = {
	{ "create", cmd_create, opts_create, true, false,
	    "TAG [--rows N] [--mode OCTAL]" },
	{ "list", cmd_list, opts_json, false, false, "[--json]" },
	{ "status", cmd_status, opts_json, true, false, "TAG [--json]" },
	{ "metrics", cmd_metrics, opts_plain, false, false, "" },
	{ "wait", cmd_wait, opts_wait, true, false,
	    "TAG [--timeout SECONDS]" },
	{ "completed", cmd_completed, opts_plain, true, false, "TAG" },
	{ "reinit", cmd_reinit, opts_plain, true, false, "TAG" },
	{ "free", cmd_free, opts_free, true, false, "TAG [--force]" },
	{ "run", cmd_run, opts_run, true, true,
	    "[--create] [--wait-open[=SECONDS]] TAG [--] COMMAND [ARG...]" },
	{ "prune", cmd_prune, opts_prune, false, false, "[--yes] [--json]" },
};

/*
 * The socket to talk to, into a->path, unless -S gave one: the default
 * path, or $RUNDOWN_SOCKET; without $RUNDOWN_SOCKET the system's, with
 * the user's own in *own and *fallback set (pick_daemon()).  0, or the
 * exit status of a usage error.
 */
static int
socket_arg(struct args *a, const char **own, bool *fallback)
{
	static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *env;
	int r;

	if (a->path == NULL) {
		/* A $RUNDOWN_SOCKET too long is named below. */
		env = getenv("RUNDOWN_SOCKET");
		if ((r = rundown_socket_path(path, sizeof(path))) == 0)
			a->path = path;
		else if (env != NULL && *env != '\0')
			a->path = env;
		else if (r != -ENOENT) {
			msg("the default socket path is too long");
			return EX_USAGE;
		}
		/* Without $RUNDOWN_SOCKET, the user's own daemon or else the
		 * system's (pick_daemon()); root's own is the system's. */
		if ((env == NULL || *env == '\0') && (a->path == NULL ||
		    strcmp(a->path, system_socket()) != 0)) {
			*own = a->path;
			a->path = system_socket();
			*fallback = true;
		}
	} else if (*a->path == '\0')
		return bad_usage(NULL, "-S needs a path");
	/* What rundownd(8) requires of the socket it listens on: a relative
	 * path would name a different socket in every directory. */
	if (a->path[0] != '/' || strlen(a->path) >= sizeof(path))
		return bad_usage(NULL, "the socket path must be absolute and "
		    "under %zu bytes: %s", sizeof(path), a->path);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct command *c = NULL;
	const char *own = NULL;
	bool fallback = false;
	struct args a;
	char buf[3];
	size_t i;
	int ch, r;

	memset(&a, 0, sizeof(a));
	opterr = 0;
	/* "+": the command's options are its own, parsed after. */
	while ((ch = getopt_long(argc, argv, "+:D:hS:V", opts_main, NULL)) !=
	    -1) {
		switch (ch) {
		case 'D':
			if (daemon_user(optarg) != 0)
				return bad_usage(NULL, "-D: no such user: %s",
				    optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'S':
			a.path = optarg;
			a.sopt = true;
			break;
		case 'V':
			printf("rundownctl %s\n", rundown_version_string());
			return 0;
		case ':':
			return bad_usage(NULL, "%s needs an argument",
			    bad_option(argv, buf));
		default:
			return bad_usage(NULL, "unknown option %s",
			    bad_option(argv, buf));
		}
	}
	if (optind == argc)
		return bad_usage(NULL, "a command is needed");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			c = &commands[i];
	if (c == NULL)
		return bad_usage(NULL, "unknown command: %s", argv[optind]);
	if ((r = socket_arg(&a, &own, &fallback)) != 0)
		return r;
	if ((r = parse_args(c, argc - optind, argv + optind, &a)) != 0)
		return r < 0 ? 0 : r;
	/* prune looks for every daemon, or for the one of -S. */
	if (fallback && c->fn != cmd_prune &&
	    (r = pick_daemon(&a, own)) != 0)
		return r;
	r = c->fn(&a);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		msg("standard output: %s", strerror(errno));
		return EX_SOFTWARE;
	}
	return r;
}
