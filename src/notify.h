/* notify.h: telling a service manager how the daemon stands (systemd's
 * readiness protocol, sd_notify(3)). */
#ifndef RUNDOWND_NOTIFY_H
#define RUNDOWND_NOTIFY_H

#include "log.h"

/* Sends the "KEY=value" lines of fmt, one a line, to $NOTIFY_SOCKET;
 * nothing if it is not set.  Never blocks; a failure is logged. */
void notify_send(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif /* RUNDOWND_NOTIFY_H */
