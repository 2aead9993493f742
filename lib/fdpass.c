/* fdpass.c: descriptors passed over a Unix socket (fdpass.h). */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

void
fdpass_put(struct msghdr *msg, void *cbuf, size_t size, const int *fds,
    int nfds)
{
	struct cmsghdr *cm;

	memset(cbuf, 0, size);
	msg->msg_control = cbuf;
	msg->msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	if ((cm = CMSG_FIRSTHDR(msg)) == NULL)
		return;		/* never: nfds >= 1 leaves room for a header */
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
}

int
fdpass_take(struct msghdr *msg, int *keep, int nkeep,
    void (*drop)(int fd, void *arg), void *arg)
{
	struct cmsghdr *cm;
	size_t i, n;
	int v, k, count = (msg->msg_flags & MSG_CTRUNC) ? 1 : 0;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++, count++) {
			memcpy(&v, CMSG_DATA(cm) + i * sizeof(int), sizeof(v));
			for (k = 0; k < nkeep && keep[k] >= 0; k++)
				;
			if (k < nkeep)
				keep[k] = v;
			else if (drop != NULL)
				drop(v, arg);
			else
				close(v);
		}
	}
	return count;
}
