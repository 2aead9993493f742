/*
 * daemon_ops.c: the control operations (free, reopen, detach, the
 * Windows names) and the errors each gives.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rundown/rundown.h>
#include <rundown/wdm.h>

#include "daemon.h"
#include "proto.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

/* free refuses while processes are attached to an open block or while a
 * run-down is in progress, and works once it is run down. */
START_TEST(test_free)
{
	uint32_t tag = RUNDOWN_TAG('F', 'r', 'e', 'e');
	uint32_t t2 = RUNDOWN_TAG('F', 'r', 'e', '2');
	uint32_t t3 = RUNDOWN_TAG('F', 'r', 'e', '3');
	struct rundown_block_info info, list[4];
	struct timespec zero = { 0, 0 }, brief = test_ms(20);
	struct rundown_holder h[DT_MAXHOLDERS];
	char obj[PATH_MAX];
	struct agent ag, b;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	td_shm_path(td.sock, tag, obj, sizeof(obj));
	ck_assert_msg(test_exists(obj), "no shared-memory object %s", obj);
	agent_start(&ag, "agent", &tag, 1, 0);
	/* Attached. */
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), -EBUSY);
	agent_acquire(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), -EBUSY);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, tag), -EALREADY);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), -EALREADY);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);
	/* Running. */
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), -EBUSY);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, tag), -EBUSY);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, tag), -EBUSY);
	ck_ctl("free", ARGS("free", "Free"), 1);
	dt_ctl_said("free");
	/* A timed wait gives up and leaves the run-down in progress. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &brief), -ETIMEDOUT);
	ck_ctl("wait", ARGS("wait", "Free", "--timeout", "0.02"), 2);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert(test_exists(obj));
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);	/* drained */
	ck_assert_msg(!test_exists(obj), "free left %s", obj);
	ck_assert_int_eq(rundown_ctl_status(td.conn, tag, &info, NULL, 0, &n),
	    -ENOENT);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* Still attached, the agent keeps its mapping of the old block. */
	ck_assert_int_eq(agent_do(&ag, AG_ACQUIRE, 0, 1), 0);

	/* A new block with the tag, a holder on the row the agent had:
	 * the agent's detach is for the old block and must not touch it. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&b, "agent b", &tag, 1, 0);
	agent_acquire(&b, 0, 1);
	ck_assert_int_eq(agent_do(&ag, AG_DETACH, 0, 0), -ESTALE);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, b.pid);
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_exit(&ag);
	agent_release(&b, 0, 1);
	agent_quit(&b);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);

	/* Open with nobody attached. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, t2, 0), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, t2), 0);
	/* Completed. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, t3, 0), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, t3, NULL), 0);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, t3), 0);
	ck_ctl("free3", ARGS("free", "Fre3"), 0);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* A process attached to a block that was freed and to the new block
 * with that tag, on the same row: detaching the old one leaves the new
 * attachment alone (-ESTALE). */
START_TEST(test_stale_detach)
{
	uint32_t tag = RUNDOWN_TAG('S', 't', 'a', 'l');
	struct rundown_holder h[DT_MAXHOLDERS];
	struct rundown_block_info info;
	rundown_cache_t *old, *new;
	uint32_t row;
	size_t n;

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &old), 0);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	row = h[0].row;
	ck_assert_int_eq(rundown_cache_wait(old), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, tag), 0);

	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &new), 0);
	ck_assert(rundown_cache_acquire(new));
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(h[0].row, row);	/* the same row again */

	ck_assert_int_eq(rundown_detach(old), -ESTALE);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, getpid());
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_uint_eq(info.outstanding, 1);

	rundown_cache_release(new);
	ck_assert_int_eq(rundown_detach(new), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
}
END_TEST

/* An attach with RUNDOWN_ATTACH_REOPEN gives a row of an open block: a
 * missing one is created (with RUNDOWN_ATTACH_CREATE), an open one joined
 * as it is, one left completed re-initialized first; one running down or
 * drained is refused with -EBUSY, and its run-down goes on untouched. */
START_TEST(test_reopen)
{
	uint32_t tag = RUNDOWN_TAG('R', 'e', 'o', 'p');
	uint32_t none = RUNDOWN_TAG('R', 'e', 'o', '2');
	const unsigned both = RUNDOWN_ATTACH_CREATE | RUNDOWN_ATTACH_REOPEN;
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	rundown_cache_t *ref;
	struct agent ag;
	char line[96];
	off_t off;

	ck_assert_int_eq(rundown_attach_at(td.sock, none,
	    RUNDOWN_ATTACH_REOPEN, &ref), -ENOENT);
	ck_assert_int_eq(rundown_attach_at(td.sock, none, both, &ref), 0);
	ck_assert(rundown_cache_acquire(ref));
	rundown_cache_release(ref);
	ck_assert_int_eq(rundown_detach(ref), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, none, 0x4, &ref), -EINVAL);

	/* Open, one protection held: joined, nothing re-initialized. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 1);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, both, &ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(info.attached, 2);
	ck_assert_uint_eq(info.outstanding, 1);
	ck_assert_int_eq(rundown_detach(ref), 0);

	/* Running down, then drained: refused, nothing changed. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, &zero), -ETIMEDOUT);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, both, &ref), -EBUSY);
	ck_assert_ptr_null(ref);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_uint_eq(info.outstanding, 1);
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, tag, NULL), 0);
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, both, &ref), -EBUSY);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(agent_do(&ag, AG_ACQUIRE, 0, 1), 0);

	/* Completed: re-initialized for the attach, which the log says;
	 * every process attached may acquire again. */
	ck_assert_int_eq(rundown_ctl_completed(td.conn, tag), 0);
	off = td_log_size();
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_REOPEN,
	    &ref), 0);
	snprintf(line, sizeof(line), "Reop: re-initialized by pid %ld uid ",
	    (long)getpid());
	td_await_log(off, line, 1);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_uint_eq(info.attached, 2);
	ck_assert(rundown_cache_acquire(ref));
	agent_acquire(&ag, 0, 1);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 2);
	rundown_cache_release(ref);
	agent_release(&ag, 0, 1);
	ck_assert_int_eq(rundown_detach(ref), 0);
	agent_quit(&ag);
}
END_TEST

/* The Windows names on a shared block whose users come and go, as a
 * driver loaded again: Allocate gives an open reference even where the
 * last user left the block completed (re-initialized for it), and fails
 * with EBUSY, not with a reference that refuses every acquire, where the
 * run-down has drained but was not completed. */
START_TEST(test_wdm_allocate_completed)
{
	const ULONG tag = RUNDOWN_WDM_TAG('1', 'm', 'd', 'W');
	struct rundown_block_info info;
	PEX_RUNDOWN_REF_CACHE_AWARE a;

	ck_assert_int_eq(setenv("RUNDOWN_SOCKET", td.sock, 1), 0);
	a = ExAllocateCacheAwareRundownProtection(RundownSharedPool, tag);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAware(a), TRUE);
	ExReleaseRundownProtectionCacheAware(a);
	ExWaitForRundownProtectionReleaseCacheAware(a);
	ExRundownCompletedCacheAware(a);
	ExFreeCacheAwareRundownProtection(a);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_COMPLETED);
	ck_assert_uint_eq(info.attached, 0);

	a = ExAllocateCacheAwareRundownProtection(RundownSharedPool, tag);
	ck_assert_ptr_nonnull(a);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(ExAcquireRundownProtectionCacheAwareEx(a, 2), TRUE);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.outstanding, 2);
	ExReleaseRundownProtectionCacheAwareEx(a, 2);

	/* Drained, not completed: refused, the block left as it was. */
	ExWaitForRundownProtectionReleaseCacheAware(a);
	errno = 0;
	ck_assert_ptr_null(ExAllocateCacheAwareRundownProtection(
	    RundownSharedPool, tag));
	ck_assert_int_eq(errno, EBUSY);
	td_status(tag, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_DRAINED);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_uint_eq(info.attached, 1);
	ExFreeCacheAwareRundownProtection(a);
	ck_assert_int_eq(unsetenv("RUNDOWN_SOCKET"), 0);
}
END_TEST

/* -EEXIST, -ENOENT and -EINVAL from the daemon. */
START_TEST(test_errors)
{
	uint32_t tag = RUNDOWN_TAG('D', 'u', 'p', 'e');
	uint32_t none = RUNDOWN_TAG('N', 'o', 'p', 'e');
	struct rundown_block_info info;
	struct timespec zero = { 0, 0 };
	rundown_cache_t *ref;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 3), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 3), -EEXIST);
	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), -EEXIST);
	ck_assert_int_eq(rundown_ctl_create(td.conn, none,
	    PROTO_MAX_ENTRIES + 1), -EINVAL);

	ck_assert_int_eq(rundown_ctl_status(td.conn, none, &info, NULL, 0, &n),
	    -ENOENT);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, none, NULL), -ENOENT);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, none, &zero), -ENOENT);
	ck_assert_int_eq(rundown_ctl_completed(td.conn, none), -ENOENT);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, none), -ENOENT);
	ck_assert_int_eq(rundown_ctl_free(td.conn, none), -ENOENT);
	ck_assert_int_eq(rundown_attach_at(td.sock, none, 0, &ref), -ENOENT);
	ck_assert_ptr_null(ref);

	/* Attach with create joins an existing block. */
	ck_assert_int_eq(rundown_attach_at(td.sock, tag, RUNDOWN_ATTACH_CREATE,
	    &ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, 3);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(rundown_detach(ref), 0);
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 0);
	/* The unknown tag was never created along the way. */
	ck_assert_int_eq(rundown_ctl_status(td.conn, none, &info, NULL, 0, &n),
	    -ENOENT);
}
END_TEST

/* Only the process that holds a row may give it back, and only by the
 * serial of its block; a refused request is an answer, not a broken
 * frame: the connection lives on. */
START_TEST(test_detach_others)
{
	uint32_t tag = RUNDOWN_TAG('D', 't', 'c', 'h');
	unsigned char reply[PROTO_HDR_SIZE + 512];
	struct rundown_holder h[DT_MAXHOLDERS];
	struct rundown_block_info info;
	struct proto_attached a;
	struct proto_ok ok;
	struct proto_hdr rh;
	struct agent ag;
	size_t n;
	int fd;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 1);
	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);

	/* This process attaches by hand, to learn the serial.  (The
	 * descriptor that comes with the reply is dropped by read().) */
	fd = td_raw_connect();
	td_raw_request(fd, PROTO_ATTACH, 50, tag, 0, 0);
	td_raw_frame(fd, &rh, reply, sizeof(reply));
	ck_assert_uint_eq(rh.type, PROTO_ATTACHED);
	ck_assert_uint_eq(rh.id, 50);
	ck_assert_uint_eq(rh.length, sizeof(a));
	memcpy(&a, reply + PROTO_HDR_SIZE, sizeof(a));
	ck_assert_uint_eq(a.tag, tag);
	ck_assert_uint_ne(a.row, h[0].row);
	ck_assert_uint_ne(a.serial, 0);
	/* rundownd fences its blocks' run-downs when it may run on every
	 * CPU, as it may here; nothing else is said. */
	ck_assert_uint_eq(a.bflags & ~BLOCK_F_RSEQ, 0);

	td_raw_request(fd, PROTO_DETACH, 51, tag, h[0].row, a.serial);
	td_raw_error(fd, 51, EPERM, "detach of another's row");
	td_raw_request(fd, PROTO_DETACH, 52, tag, 5000, a.serial);
	td_raw_error(fd, 52, EPERM, "detach of a row out of range");
	td_raw_request(fd, PROTO_DETACH, 53, tag, a.row, a.serial + 1);
	td_raw_error(fd, 53, ESTALE, "detach naming another serial");
	td_raw_request(fd, PROTO_DETACH, 54, tag, a.row, 0);
	td_raw_error(fd, 54, ESTALE, "detach naming serial 0");
	td_status(tag, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 2);
	td_raw_request(fd, PROTO_LIST, 55, 0, 0, 0);
	td_raw_frame(fd, &rh, reply, sizeof(reply));
	ck_assert_uint_eq(rh.type, PROTO_LIST_REPLY);
	ck_assert_uint_eq(rh.id, 55);
	td_raw_request(fd, PROTO_DETACH, 56, tag, a.row, a.serial);
	td_raw_frame(fd, &rh, reply, sizeof(reply));
	ck_assert_uint_eq(rh.type, PROTO_OK);
	ck_assert_uint_eq(rh.id, 56);
	memcpy(&ok, reply + PROTO_HDR_SIZE, sizeof(ok));
	ck_assert_uint_eq(ok.value, 0);
	close(fd);

	n = td_status(tag, &info, h, DT_MAXHOLDERS);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].pid, ag.pid);
	ck_assert_uint_eq(h[0].outstanding, 1);
	ck_assert_uint_eq(info.reclaimed_rows, 0);
	agent_release(&ag, 0, 1);
	agent_quit(&ag);
}
END_TEST

/* rundownctl's exit statuses: 64 usage, 69 no daemon, 1 refused. */
START_TEST(test_ctl_status)
{
	char nowhere[PATH_MAX];
	const char *out;
	pid_t pid;

	ck_assert_int_eq(rundown_ctl_create(td.conn, RUNDOWN_TAG('D', 'u', 'p',
	    'e'), 0), 0);
	ck_ctl("tag1", ARGS("status", "ab"), 64);
	dt_ctl_said("tag1");
	ck_ctl("tag2", ARGS("status", "Dupes"), 64);
	ck_ctl("tag3", ARGS("create", "0x"), 64);
	ck_ctl("tag4", ARGS("create", "0x123456789"), 64);
	ck_ctl("tag5", ARGS("wait", "0xzz"), 64);
	ck_ctl("cmd", ARGS("frobnicate", "Dupe"), 64);
	ck_ctl("rows", ARGS("create", "Rows", "--rows", "many"), 64);

	snprintf(nowhere, sizeof(nowhere), "%s/none/rundownd.sock", td.dir);
	pid = td_ctl_start(nowhere, "nodaemon", ARGS("list"));
	ck_assert_int_eq(td_ctl_finish(pid, "nodaemon"), 69);
	dt_ctl_said("nodaemon");

	ck_ctl("nosuch", ARGS("status", "Nope"), 1);
	dt_ctl_said("nosuch");
	ck_ctl("exists", ARGS("create", "Dupe"), 1);
	ck_ctl("nofree", ARGS("free", "Nope"), 1);

	ck_ctl("create", ARGS("create", "0x00000001", "--rows", "2"), 0);
	ck_ctl("json", ARGS("status", "Dupe", "--json"), 0);
	out = td_ctl_output("json", "out");
	ck_assert_msg(strstr(out, "\"tag\":\"Dupe\"") != NULL &&
	    strstr(out, "\"state\":\"open\"") != NULL &&
	    strstr(out, "\"holders\":[]") != NULL, "status --json: %s", out);
	ck_ctl("list", ARGS("list", "--json"), 0);
	out = td_ctl_output("list", "out");
	ck_assert_msg(strstr(out, "\"tag\":\"Dupe\"") != NULL &&
	    strstr(out, "\"tag\":\"0x00000001\"") != NULL &&
	    strstr(out, "\"rows\":2") != NULL, "list --json: %s", out);
}
END_TEST

TCase *
daemon_ops_tcase(void)
{
	TCase *tc = tcase_create("ops");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_free);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_wdm_allocate_completed);
	tcase_add_test(tc, test_detach_others);
	tcase_add_test(tc, test_stale_detach);
	tcase_add_test(tc, test_ctl_status);
	return tc;
}
