/*
 * attack.h: the attacks that tests/check_attack.c replays against a
 * private rundownd, one file and one test case per kind of attack
 * (tests/attack_*.c).  Each test names the attack of the issue "rundownd
 * under attack" it replays, and fails on the daemon as it was before the
 * fix.
 */
#ifndef RUNDOWN_ATTACK_H
#define RUNDOWN_ATTACK_H

#include <check.h>

/* The deadline of every wait for something the daemon must do. */
#define ATTACK_DEADLINE_MS 20000

/* attack_isolation.c: a reader writes everything it maps, opens every
 * object, forges its own row, and wedges a block. */
TCase *attack_isolation_tcase(void);
/* attack_quota.c: one user's blocks and rows, past its share. */
TCase *attack_quota_tcase(void);
/* attack_rows.c: row owners the daemon cannot watch. */
TCase *attack_rows_tcase(void);
/* attack_perms.c: users let in using blocks not their own; rows hoarded. */
TCase *attack_perms_tcase(void);

/* attack_waits.c: waits that hang the daemon or cost it without bound. */
TCase *attack_waits_tcase(void);
TCase *attack_wait_limits_tcase(void);
TCase *attack_many_waits_tcase(void);

/* attack_paths.c: other users' hands on the socket's path, and daemons
 * of other users taken for one's own. */
TCase *attack_paths_tcase(void);

/* attack_shm.c: the objects resized by a client, or their names taken
 * first by another user. */
TCase *attack_shm_tcase(void);

/* attack_fds.c: descriptors sent to the daemon whose close would wait. */
TCase *attack_fds_tcase(void);
TCase *attack_fds_user_tcase(void);

/* attack_logs.c: log lines that peers cause, as many as they like. */
TCase *attack_logs_tcase(void);
TCase *attack_logs_verbose_tcase(void);

/* attack_sched.c: real-time tasks that hold up the run-down's fence, and
 * run-downs cycled for the fence's cost. */
TCase *attack_sched_tcase(void);

#endif /* RUNDOWN_ATTACK_H */
