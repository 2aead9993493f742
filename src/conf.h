/* conf.h: the configuration rundownd runs with (struct config).  Not
 * "config.h", which is configure's and which every file includes first. */
#ifndef RUNDOWND_CONF_H
#define RUNDOWND_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the command line set; read-only once the loop runs.  Each module
 * that needs it is given a pointer at start. */
struct config {
	const char *socket_path;
	uint32_t default_rows;
	uint32_t max_rows;
	uint32_t max_blocks;
	uint32_t max_conns;		/* connections at once */
	uint32_t max_user_conns;	/* of one uid */
	uint32_t timeout;		/* seconds; see server.c */
	uint32_t max_conn_waits;	/* pending waits of a connection */
	uint32_t max_user_waits;	/* of one uid */
	uint32_t max_proc_rows;		/* rows of one block per process */
	uint32_t max_uid_rows;		/* per uid not the owner; 0: half */
	uint32_t max_user_blocks;	/* blocks one uid owns; 0: a quarter
					 * of max_blocks */
	uint32_t max_user_rows;		/* rows one uid holds in all blocks */
	size_t max_user_out;		/* bytes of replies queued for one
					 * uid's connections */
	uint32_t max_user_out_fds;	/* descriptors in them */
	uint32_t fence_rate;		/* fence walks a second of one uid */
	uid_t *allow_uids;
	size_t nallow_uids;
	gid_t *allow_gids;
	size_t nallow_gids;
	int foreground;
	int verbose;
};

#endif /* RUNDOWND_CONF_H */
