/* log.c: one family of log functions for the whole daemon. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int log_foreground = 1;
static int log_verbose;

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog("rundownd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
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

/* Writes one message at priority pri, with ": strerror" if err != 0. */
static void
log_vwrite(int pri, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground) {
		if (err != 0)
			fprintf(stderr, "rundownd: %s: %s\n", msg, strerror(err));
		else
			fprintf(stderr, "rundownd: %s\n", msg);
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

_Static_assert(LOG_WARNING == 4 && LOG_INFO == 6, "log.h's numbers");

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, 0, fmt, ap);
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
