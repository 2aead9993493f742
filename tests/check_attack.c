/*
 * check_attack.c: rundownd under attack.  Every test case replays one
 * kind of attack (see attack.h) on a daemon of its own and asserts that
 * the daemon neither crashed, hung, froze nor was fooled.
 */
#include "config.h"

#include <check.h>

#include "attack.h"
#include "testdaemon.h"
#include "testutil.h"

/* Every case gets Check's timeout (90 s) well past ATTACK_DEADLINE_MS,
 * so that a wait that fails does so by its own deadline, with the
 * daemon's log, and a case that merely runs long on a loaded machine is
 * not cut off. */
static void
attack_add(Suite *s, TCase *tc)
{
	test_timeout(tc, 90);
	suite_add_tcase(s, tc);
}

static Suite *
attack_suite(void)
{
	Suite *s = suite_create("attack");

	attack_add(s, attack_isolation_tcase());
	attack_add(s, attack_quota_tcase());
	attack_add(s, attack_rows_tcase());
	attack_add(s, attack_waits_tcase());
	attack_add(s, attack_wait_limits_tcase());
	attack_add(s, attack_many_waits_tcase());
	attack_add(s, attack_perms_tcase());
	attack_add(s, attack_paths_tcase());
	attack_add(s, attack_shm_tcase());
	attack_add(s, attack_fds_tcase());
	attack_add(s, attack_fds_user_tcase());
	attack_add(s, attack_logs_tcase());
	attack_add(s, attack_logs_verbose_tcase());
	attack_add(s, attack_sched_tcase());
	return s;
}

int
main(void)
{
	return td_main("rundown-attack", 0711, ATTACK_DEADLINE_MS,
	    attack_suite);
}
