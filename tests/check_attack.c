/*
 * check_attack.c: rundownd under attack.  Every test case replays one
 * kind of attack (see attack.h) on a daemon of its own and asserts that
 * the daemon neither crashed, hung, froze nor was fooled.
 */
#include "config.h"

#include <check.h>

#include "attack.h"
#include "testdaemon.h"

static Suite *
attack_suite(void)
{
	Suite *s = suite_create("attack");

	suite_add_tcase(s, attack_rows_tcase());
	suite_add_tcase(s, attack_waits_tcase());
	suite_add_tcase(s, attack_wait_limits_tcase());
	suite_add_tcase(s, attack_many_waits_tcase());
	suite_add_tcase(s, attack_perms_tcase());
	suite_add_tcase(s, attack_paths_tcase());
	suite_add_tcase(s, attack_shm_tcase());
	suite_add_tcase(s, attack_fds_tcase());
	suite_add_tcase(s, attack_logs_tcase());
	return s;
}

int
main(void)
{
	return td_main("rundown-attack", 0711, ATTACK_DEADLINE_MS,
	    attack_suite);
}
