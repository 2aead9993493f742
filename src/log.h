/* log.h: rundownd's messages, to syslog or (in the foreground) stderr. */
#ifndef RUNDOWND_LOG_H
#define RUNDOWND_LOG_H

#include <errno.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* foreground: stderr instead of syslog, with syslog's priorities as
 * "<N>" prefixes if stderr is the journal's stream (JOURNAL_STREAM);
 * verbose: debug messages too. */
void log_init(int foreground, int verbose);

/* Says once on stderr if nobody listens for syslog(3): called before
 * detaching, after which every message would be lost unseen. */
void log_check_syslog(void);

/* Closes and reopens the log (SIGHUP), so a rotated syslog is followed. */
void log_reopen(void);

/* _warn appends strerror(errno); _warnx does not. */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
/*
 * Lines a peer can cause, as many as it likes (a refusal, a bad frame),
 * go through a limit of their call site: at most LOG_RATE_BURST of them
 * a second; the rest are counted, and the count is logged before the
 * site's next line in a later second.  log_peer_warn(x) and log_peer_info
 * keep a limit of their own at each place they are written, and so does
 * every log_debug (-v), whose lines peers cause too (a connection, a
 * refusal).  (4, 6 and 7 are syslog's LOG_WARNING, LOG_INFO and
 * LOG_DEBUG, which this header does not pull in.)
 */
#define LOG_RATE_BURST 10
struct log_rate {
	long second;		/* CLOCK_MONOTONIC seconds */
	unsigned int logged;	/* lines in that second */
	unsigned long quiet;	/* lines left out since the last logged */
};
/* pri: LOG_WARNING or LOG_INFO; err: errno for a _warn line, or 0. */
void log_rate(struct log_rate *, int pri, int err, const char *fmt, ...)
    LOG_PRINTF(4, 5);
#define LOG_PEER(pri, err, ...) do {					\
	static struct log_rate log_rate_;				\
	log_rate(&log_rate_, (pri), (err), __VA_ARGS__);		\
} while (0)
#define log_peer_warn(...) LOG_PEER(4, errno, __VA_ARGS__)
#define log_peer_warnx(...) LOG_PEER(4, 0, __VA_ARGS__)
#define log_peer_info(...) LOG_PEER(6, 0, __VA_ARGS__)
#define log_debug(...) LOG_PEER(7, 0, __VA_ARGS__)

__attribute__((noreturn)) void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif /* RUNDOWND_LOG_H */
