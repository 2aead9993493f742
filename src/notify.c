/*
 * notify.c: systemd's readiness protocol, written out: the state goes as
 * one datagram to the AF_UNIX socket named in $NOTIFY_SOCKET, a path, or
 * an abstract name when it begins with '@'.  The whole of it is these
 * few lines, so the daemon does without libsystemd and runs unchanged
 * where there is none; the manager learns the sender's pid from the
 * socket itself.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

void
notify_send(const char *fmt, ...)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	char msg[512];
	va_list ap;
	size_t n;
	int fd;

	if (name == NULL || *name == '\0')
		return;
	n = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || n >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET=%s: not a path or an abstract name "
		    "this daemon can use; the service manager is not told",
		    name);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';	/* the name is the bytes after */
	else
		len++;			/* and the path's NUL */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		log_warn("socket for NOTIFY_SOCKET");
		return;
	}
	/* MSG_DONTWAIT: the loop sends this, and a manager that does not
	 * read must not stop it. */
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, len) < 0)
		log_warn("telling the service manager at %s", name);
	close(fd);
}
