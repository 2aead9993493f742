/* log.h: rundownd's messages, to syslog or (in the foreground) stderr. */
#ifndef RUNDOWND_LOG_H
#define RUNDOWND_LOG_H

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* foreground: stderr instead of syslog; verbose: debug messages too. */
void log_init(int foreground, int verbose);

/* Closes and reopens the log (SIGHUP), so a rotated syslog is followed. */
void log_reopen(void);

/* _warn appends strerror(errno); _warnx does not. */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
__attribute__((noreturn)) void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif /* RUNDOWND_LOG_H */
