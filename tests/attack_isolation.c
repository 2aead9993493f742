/*
 * attack_isolation.c: an attached process writes over everything it can
 * reach of a block, to forge another process's count or what the daemon
 * believes.  The attacks of the issue "Isolation":
 *   forge   a reader of a 0644 block zeroed a root holder's row, and
 *           root's wait returned 0 while the holder still held;
 *   squat   it wrote owners into every free row: every other attach got
 *           ENOSPC, and a restart adopted the rows as pid 1's;
 *   wedge   it wrote counts into rows nobody owned and exited: every
 *           run-down timed out from then on, and free said EBUSY.
 * Now a client maps the header read-only and its own row, nothing else,
 * and the daemon's record is an object no client can open.  Each attacker
 * is a forked child switched to a made-up uid with read permission only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "block.h"
#include "cache.h"
#include "proto.h"
#include "shmname.h"
#include "testdaemon.h"
#include "testutil.h"

#define AI_TAG 0x49534f31u	/* "ISO1" */
#define AI_ROWS 8u
#define AI_UID 54401		/* made up: no account has them */
#define AI_UID2 54402

/* What the attacker found: every field must read as the test expects. */
struct ai_report {
	int32_t attach;		/* its own attach: 0 */
	uint32_t rw_maps;	/* mappings it could write (its row) */
	uint32_t ro_maps;	/* mappings read-only (the header) */
	uint32_t mprotected;	/* read-only ones mprotect() made writable */
	uint32_t opened;	/* objects in /dev/shm it could open */
	uint32_t refused;	/* ... that open(O_RDWR) refused */
};

/* How the attacker leaves its own row at the end. */
enum ai_last { AI_ONES, AI_NEGATIVE, AI_HUGE, AI_HELD };

/* In the attacker: every mapping of a rundownd object in this process,
 * from /proc/self/maps, written over (zeros, random bytes, ones) if
 * writable, else tried with mprotect(). */
static void
ai_scribble(struct ai_report *rep, const char *prefix)
{
	char line[512], perms[8], path[256];
	unsigned long lo, hi;
	uint64_t s = 0x9e3779b97f4a7c15ull;
	size_t i, len;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		_exit(20);
	while (fgets(line, sizeof(line), f) != NULL) {
		path[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi,
		    perms, path) < 3 || strstr(path, prefix) == NULL)
			continue;
		len = hi - lo;
		if (perms[1] == 'w') {
			rep->rw_maps++;
			memset((void *)lo, 0, len);
			for (i = 0; i < len; i++) {
				s ^= s << 13;
				s ^= s >> 7;
				s ^= s << 17;
				((unsigned char *)lo)[i] = (unsigned char)s;
			}
			memset((void *)lo, 0xff, len);
		} else {
			rep->ro_maps++;
			if (mprotect((void *)lo, len, PROT_READ | PROT_WRITE)
			    == 0)
				rep->mprotected++;
		}
	}
	fclose(f);
}

/* In the attacker: open(O_RDWR), then open(O_RDONLY), of every object of
 * the daemon in /dev/shm. */
static void
ai_open_all(struct ai_report *rep, const char *prefix)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir("/dev/shm");
	int fd;

	if (d == NULL)
		_exit(21);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) >= 0) {
			rep->opened++;
			close(fd);
		} else if (errno == EACCES)
			rep->refused++;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			rep->opened++;
			close(fd);
		}
	}
	closedir(d);
}

/* The write ends of the children's hold pipes: a child keeps none open,
 * or closing them would not end it. */
static int ai_holds[2] = { -1, -1 };

static void
ai_drop_holds(void)
{
	unsigned i;

	for (i = 0; i < 2; i++)
		if (ai_holds[i] >= 0)
			close(ai_holds[i]);
}

/* A child of uid: attaches, scribbles (if attack), leaves its row as
 * last says, reports on out, and holds on until hold closes. */
static pid_t
ai_child(uid_t uid, bool attack, enum ai_last last, int out, int hold)
{
	char prefix[SHMNAME_PREFIX_MAX];
	struct ai_report rep = { 0 };
	rundown_cache_t *ref = NULL;
	gid_t gid = (gid_t)uid;
	uint64_t *row;
	pid_t pid;
	char c;

	if ((pid = test_fork_flushed()) != 0)
		return pid;
	ai_drop_holds();
	/* The daemon's prefix (root's), before becoming uid. */
	shmname_prefix(td.sock, prefix, sizeof(prefix));
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		_exit(10);
	rep.attach = rundown_attach_at(td.sock, AI_TAG, 0, &ref);
	if (rep.attach == 0 && attack) {
		ai_scribble(&rep, prefix);
		ai_open_all(&rep, prefix);
		row = cache_row(ref);
		switch (last) {
		case AI_NEGATIVE:
			*row = (uint64_t)-5 * ROW_UNIT | ROW_HARVESTED;
			break;
		case AI_HUGE:
			*row = (uint64_t)1 << 63 | ROW_HARVESTED;
			break;
		case AI_HELD:
			*row = 1000 * ROW_UNIT | ROW_HARVESTED;
			break;
		default:
			break;	/* all ones: harvested, owing -1 */
		}
	}
	test_put(out, &rep, sizeof(rep));
	(void)read(hold, &c, 1);
	_exit(0);
}

/* A root holder: attaches, acquires one protection, says so, and exits
 * when hold closes, never releasing (the daemon reclaims it). */
static pid_t
ai_holder(int out, int hold)
{
	rundown_cache_t *ref;
	int32_t r;
	pid_t pid;
	char c;

	if ((pid = test_fork_flushed()) != 0)
		return pid;
	ai_drop_holds();
	r = rundown_attach_at(td.sock, AI_TAG, 0, &ref);
	if (r == 0 && !rundown_cache_acquire(ref))
		r = -EALREADY;
	test_put(out, &r, sizeof(r));
	(void)read(hold, &c, 1);
	_exit(0);
}

/* The daemon's record of AI_TAG lends rows to exactly the pids in want
 * (n of them), each once. */
static void
ai_record_is(const pid_t *want, unsigned n)
{
	struct td_view v;
	unsigned i, found = 0;
	uint32_t r;

	td_view_map(AI_TAG, &v);
	ck_assert_uint_eq(v.meta.uid, 0);
	ck_assert_uint_eq(v.meta.mode, 0644);
	for (r = 0; r < v.meta.rows; r++) {
		if (v.pid[r] == 0)
			continue;
		for (i = 0; i < n && want[i] != v.pid[r]; i++)
			;
		ck_assert_msg(i < n, "row %u recorded for pid %d", r,
		    (int)v.pid[r]);
		found++;
	}
	ck_assert_uint_eq(found, n);
	td_view_unmap(&v);
}

/* The forge: a reader scribbles everything it maps and opens everything
 * of the daemon's while a root holder holds one protection.  Root's wait
 * does not end while the holder lives, ends once it exited, other users
 * still attach, and a restart adopts only the rows the daemon lent. */
START_TEST(test_forge)
{
	static const enum ai_last lasts[] = { AI_ONES, AI_NEGATIVE, AI_HUGE };
	struct rundown_block_info info;
	struct ai_report rep;
	struct timespec t = test_ms(300);
	int out[2], hold[2], hhold[2];
	pid_t holder, attacker, other, pids[2];
	int32_t r;

	ck_assert_int_eq(rundown_ctl_create_mode(td.conn, AI_TAG, AI_ROWS,
	    0644), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hhold, O_CLOEXEC), 0);
	ai_holds[0] = hold[1];
	ai_holds[1] = hhold[1];
	holder = ai_holder(out[1], hhold[0]);
	td_read_all(out[0], &r, sizeof(r), "the holder", NULL);
	ck_assert_int_eq(r, 0);

	attacker = ai_child(AI_UID, true, lasts[_i], out[1], hold[0]);
	td_read_all(out[0], &rep, sizeof(rep), "the attacker", NULL);
	ck_assert_int_eq(rep.attach, 0);
	ck_assert_uint_eq(rep.rw_maps, 1);	/* its row, nothing else */
	ck_assert_uint_eq(rep.ro_maps, 1);	/* the header */
	ck_assert_uint_eq(rep.mprotected, 0);
	ck_assert_uint_eq(rep.opened, 0);
	/* header, record, the holder's row, its own row */
	ck_assert_uint_ge(rep.refused, 4);

	/* The holder holds: the wait runs out, and says nothing else. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AI_TAG, &t), -ETIMEDOUT);
	td_status(AI_TAG, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_RUNNING_DOWN);
	ck_assert_uint_eq(info.outstanding, 1);

	/* Another user still attaches (no row squatted); a restart adopts
	 * exactly the holder's and the attacker's rows. */
	other = ai_child(AI_UID2, false, AI_ONES, out[1], hold[0]);
	td_read_all(out[0], &rep, sizeof(rep), "the other user", NULL);
	ck_assert_int_eq(rep.attach, 0);
	{
		const pid_t three[3] = { holder, attacker, other };

		ai_record_is(three, 3);
	}
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	td_start(NULL);
	td.conn = td_connect();
	td_status(AI_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 3);
	ck_assert_uint_eq(info.uid, 0);
	ck_assert_uint_eq(info.mode, 0644);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AI_TAG, &t), -ETIMEDOUT);

	/* The holder exits: the run-down drains, whatever the attacker's
	 * row reads (forged: as drained, and said so in the log). */
	close(hhold[1]);
	ai_holds[1] = -1;
	test_reap_ok(holder);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AI_TAG, NULL), 0);
	td_await_log(0, "reads forged", 1);
	pids[0] = attacker;
	pids[1] = other;
	ai_record_is(pids, 2);
	close(hold[1]);
	ai_holds[0] = -1;
	test_reap_ok(attacker);
	test_reap_ok(other);
	close(out[0]);
	close(out[1]);
	close(hold[0]);
	close(hhold[0]);
	ck_assert_int_eq(rundown_ctl_free(td.conn, AI_TAG), 0);
}
END_TEST

/* The wedge, as it can be done now: a process of another uid writes its
 * own row to read as holding a great deal.  It counts as its holder's
 * (as a protection held would): while it lives the run-down waits, once
 * it exits the run-down drains.  And free --force removes a block so
 * held, its pending wait ending with ECANCELED, and nothing is left in
 * /dev/shm. */
START_TEST(test_wedge)
{
	char prefix[SHMNAME_PREFIX_MAX], path[300];
	struct timespec t = test_ms(300);
	struct ai_report rep;
	rundown_conn_t *c2;
	struct dirent *de;
	int out[2], hold[2], wres[2];
	pid_t attacker, waiter;
	int32_t r;
	DIR *d;

	ck_assert_int_eq(rundown_ctl_create_mode(td.conn, AI_TAG, AI_ROWS,
	    0644), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	ai_holds[0] = hold[1];
	attacker = ai_child(AI_UID, true, AI_HELD, out[1], hold[0]);
	td_read_all(out[0], &rep, sizeof(rep), "the attacker", NULL);
	ck_assert_int_eq(rep.attach, 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AI_TAG, &t), -ETIMEDOUT);
	/* Not drained: a plain free refuses, even root's. */
	ck_assert_int_eq(rundown_ctl_free(td.conn, AI_TAG), -EBUSY);
	close(hold[1]);
	close(hold[0]);
	test_reap_ok(attacker);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AI_TAG, NULL), 0);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, AI_TAG), 0);

	/* Again, and this time it stays: free --force. */
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	ai_holds[0] = hold[1];
	attacker = ai_child(AI_UID, true, AI_HELD, out[1], hold[0]);
	td_read_all(out[0], &rep, sizeof(rep), "the attacker", NULL);
	ck_assert_int_eq(rep.attach, 0);
	ck_assert_int_eq(pipe2(wres, O_CLOEXEC), 0);
	waiter = test_fork_flushed();
	if (waiter == 0) {
		ai_drop_holds();
		r = rundown_connect(td.sock, &c2);
		if (r == 0)
			r = rundown_ctl_wait(c2, AI_TAG, NULL);
		test_put(wres[1], &r, sizeof(r));
		_exit(0);
	}
	/* The waiter's run-down has begun when the state says so. */
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AI_TAG, &t), -ETIMEDOUT);
	ck_assert(!td_readable(wres[0]));
	ck_assert_int_eq(rundown_ctl_free_force(td.conn, AI_TAG), 0);
	td_read_all(wres[0], &r, sizeof(r), "the waiter", NULL);
	/* Either it was pending (ECANCELED) or it came after the free. */
	ck_assert_msg(r == -ECANCELED || r == -ENOENT, "wait: %s",
	    rundown_strerror(r));
	test_reap_ok(waiter);
	close(hold[1]);
	ai_holds[0] = -1;
	test_reap_ok(attacker);

	shmname_prefix(td.sock, prefix, sizeof(prefix));
	ck_assert_ptr_nonnull(d = opendir("/dev/shm"));
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s", de->d_name);
		ck_assert_msg(strncmp(path, prefix, strlen(prefix)) != 0,
		    "left in /dev/shm: %s", path);
	}
	closedir(d);
	ck_assert_int_eq(rundown_ctl_create(td.conn, AI_TAG, 2), 0);
	close(out[0]);
	close(out[1]);
	close(hold[0]);
	close(wres[0]);
	close(wres[1]);
}
END_TEST

/* free --force from a user who is neither the owner nor root: EPERM,
 * and the block stays. */
START_TEST(test_force_needs_owner)
{
	struct rundown_block_info info;
	rundown_conn_t *c;
	int32_t r;
	pid_t pid;
	int out[2];
	gid_t gid = AI_UID;

	ck_assert_int_eq(rundown_ctl_create_mode(td.conn, AI_TAG, AI_ROWS,
	    0666), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	if ((pid = test_fork_flushed()) == 0) {
		if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
		    setresuid(AI_UID, AI_UID, AI_UID) != 0)
			_exit(10);
		r = rundown_connect(td.sock, &c);
		if (r == 0)
			r = rundown_ctl_free_force(c, AI_TAG);
		test_put(out[1], &r, sizeof(r));
		_exit(0);
	}
	td_read_all(out[0], &r, sizeof(r), "the other user", NULL);
	test_reap_ok(pid);
	ck_assert_msg(r == -EPERM, "free --force by another user: %s\n%s",
	    rundown_strerror(r), td_log());
	td_status(AI_TAG, &info, NULL, 0);
	ck_assert_int_eq(info.state, RUNDOWN_OPEN);
	close(out[0]);
	close(out[1]);
}
END_TEST

/* The made-up users are let in (-u), as any user of a shared daemon. */
static const char *const ai_args[] = {
	"-u", "54401", "-u", "54402", NULL
};

static void
ai_setup(void)
{
	td_setup(0711, ai_args);
}

TCase *
attack_isolation_tcase(void)
{
	TCase *tc = tcase_create("isolation");

	tcase_add_checked_fixture(tc, ai_setup, td_teardown);
	tcase_add_loop_test(tc, test_forge, 0, 3);
	tcase_add_test(tc, test_wedge);
	tcase_add_test(tc, test_force_needs_owner);
	return tc;
}
