/*
 * task.c: the start time of a task, from /proc/ID/stat (see task.h).
 * /proc/TID is there for every thread, though only processes are listed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "task.h"

int
task_start_time(pid_t id, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* Field 22 (starttime); the command name in field 2 may hold
	 * spaces and parentheses, so count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -EPROTO;
	for (i = 2; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &v) != 1)
		return -EPROTO;
	*start = v;
	return 0;
}
