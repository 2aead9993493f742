/* log.c: one family of log functions for the whole daemon. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_foreground = 1;
static int log_journal;		/* stderr is the journal: "<N>" prefixes */
static int log_verbose;

/*
 * Is stderr the stream systemd connected to the journal?  systemd says
 * which stream that is in JOURNAL_STREAM ("device:inode"); the variable
 * is inherited by children whose stderr went elsewhere (a shell started
 * from a unit, a redirection), hence the comparison with stderr itself.
 */
static int
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (e == NULL || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 ||
	    e[n] != '\0' || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_journal = foreground && log_stderr_is_journal();
	log_verbose = verbose;
	if (!foreground)
		openlog("rundownd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/*
 * syslog(3) drops every message, and says nothing, when nobody listens
 * at _PATH_LOG (a container, a minimal system): say so once, on stderr,
 * while it still reaches someone.  glibc tries a datagram socket, then a
 * stream one; so does this.
 */
void
log_check_syslog(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sun;
	size_t i;
	int fd, r, err = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0)) < 0) {
			err = errno;
			continue;
		}
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		err = errno;
		close(fd);
		if (r == 0)
			return;
		if (err != EPROTOTYPE)
			break;
	}
	fprintf(stderr, "rundownd: no syslog at %s (%s): once detached, "
	    "the daemon's messages are lost; -d keeps them on stderr\n",
	    _PATH_LOG, strerror(err));
	fflush(stderr);
}

void
log_reopen(void)
{
	if (log_foreground)
		return;
	closelog();
	openlog("rundownd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_info("log reopened");
}

/*
 * Writes one message at priority pri, with ": strerror" if err != 0.
 * A message is one line of printable ASCII whatever it quotes: a command
 * name is the peer's to choose (PR_SET_NAME), a newline in it would start
 * a line of the peer's making, in the journal with a priority of its
 * choice, and other bytes could be a terminal's escapes or not UTF-8.
 * Every byte outside 0x20..0x7e, and the backslash, is written as \ooo,
 * as vis(3) does.
 */
static void
log_vwrite(int pri, int err, const char *fmt, va_list ap)
{
	char raw[1024], msg[4 * sizeof(raw)], *q = msg;
	const unsigned char *p;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	for (p = (const unsigned char *)raw; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '\\')
			q += sprintf(q, "\\%03o", *p);
		else
			*q++ = (char)*p;
	}
	*q = '\0';
	if (log_foreground) {
		/* The journal names the program itself; a prefix <N> gives
		 * the line its priority (sd-daemon(3)). */
		if (log_journal)
			fprintf(stderr, "<%d>", pri);
		else
			fputs("rundownd: ", stderr);
		if (err != 0)
			fprintf(stderr, "%s: %s\n", msg, strerror(err));
		else
			fprintf(stderr, "%s\n", msg);
		fflush(stderr);
	} else if (err != 0)
		syslog(pri, "%s: %s", msg, strerror(err));
	else
		syslog(pri, "%s", msg);
}

void
log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

/* Only the loop's thread logs through a limit, so its fields need no
 * lock. */
void
log_rate(struct log_rate *r, int pri, int err, const char *fmt, ...)
{
	struct timespec now;
	va_list ap;

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((long)now.tv_sec != r->second) {
		r->second = (long)now.tv_sec;
		r->logged = 0;
	}
	if (r->logged >= LOG_RATE_BURST) {
		r->quiet++;
		return;
	}
	r->logged++;
	if (r->quiet > 0) {
		log_warnx("%lu more like the next not logged", r->quiet);
		r->quiet = 0;
	}
	va_start(ap, fmt);
	log_vwrite(pri, err, fmt, ap);
	va_end(ap);
}

_Static_assert(LOG_WARNING == 4 && LOG_INFO == 6 && LOG_DEBUG == 7,
    "log.h's numbers");

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, err, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
