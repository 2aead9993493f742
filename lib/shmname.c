/* shmname.c: the names of a daemon's shared-memory objects (shmname.h). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "shmname.h"

void
shmname_prefix(const char *socket_path, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)socket_path;
	uint32_t h = 2166136261u;

	while (*p != '\0') {
		h ^= *p++;
		h *= 16777619u;
	}
	snprintf(buf, size, "rundownd.%lu.%08x.", (unsigned long)geteuid(), h);
}
