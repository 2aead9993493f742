/*
 * attack_rows.c: row owners the daemon cannot watch.  Attack 5 of
 * "rundownd under attack": a thread id that leads no process made every
 * restart of the daemon exit 1 (pidfd_open refuses it with EINVAL).
 * Clients can no longer write the owners (they live in the daemon's
 * record, NAME.meta), but the record outlives processes, and a pid it
 * names may be a thread's, beyond pid_max, or anything by the time the
 * next daemon reads it.  Such rows must read as gone and be reclaimed,
 * and the daemon must start.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "block.h"
#include "proto.h"
#include "testdaemon.h"

#define AR_TAG 0x41525731u	/* "ARW1" */

static int ar_pipe[2];
static pid_t ar_tid;

/* A thread that lives (and so has a /proc entry) until the pipe closes. */
static void *
ar_thread(void *arg)
{
	char c;

	(void)arg;
	__atomic_store_n(&ar_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	(void)read(ar_pipe[0], &c, 1);
	return NULL;
}

/* Rewrites the owner of row r in the record of AR_TAG (as root). */
static void
ar_set_owner(uint32_t r, int32_t pid, uint64_t start)
{
	char path[256], name[300];
	struct proto_meta_row e;
	off_t off = (off_t)(sizeof(struct proto_meta) + r * sizeof(e));
	int fd;

	td_shm_path(td.sock, AR_TAG, path, sizeof(path));
	snprintf(name, sizeof(name), "%s.meta", path);
	ck_assert_int_ge(fd = open(name, O_RDWR | O_CLOEXEC), 0);
	ck_assert_int_eq(pread(fd, &e, sizeof(e), off), (ssize_t)sizeof(e));
	ck_assert_uint_ne(e.id, 0);
	e.pid = pid;
	e.start = start;
	ck_assert_int_eq(pwrite(fd, &e, sizeof(e), off), (ssize_t)sizeof(e));
	close(fd);
}

/* Row owners that no process can be: a live thread that leads none, a
 * pid beyond pid_max, a negative one.  The next daemon starts, reclaims
 * all three and hands the rows out again. */
START_TEST(test_unwatchable_owners)
{
	struct rundown_block_info info;
	rundown_cache_t *ref[3];
	struct rundown_holder h[4];
	pthread_t t;
	size_t n;
	pid_t tid;
	unsigned i;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AR_TAG, 4), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(rundown_attach_at(td.sock, AR_TAG, 0, &ref[i]),
		    0);
	n = td_status(AR_TAG, &info, h, 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(pipe2(ar_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, ar_thread, NULL), 0);
	while ((tid = __atomic_load_n(&ar_tid, __ATOMIC_ACQUIRE)) == 0)
		sched_yield();
	ck_assert_int_ne(tid, getpid());

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	ar_set_owner(h[0].row, tid, 0);
	ar_set_owner(h[1].row, 0x7fffffff, 1);
	ar_set_owner(h[2].row, -5, 7);

	/* Fails here if the daemon exits instead of serving. */
	td_start(NULL);
	td.conn = td_connect();
	td_status(AR_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, 4);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 3);
	/* The rows are free again: four attaches fit. */
	for (i = 0; i < 3; i++) {
		(void)rundown_detach(ref[i]);
		ck_assert_int_eq(rundown_attach_at(td.sock, AR_TAG, 0, &ref[i]),
		    0);
	}
	td_status(AR_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(rundown_detach(ref[i]), 0);

	close(ar_pipe[1]);
	pthread_join(t, NULL);
	close(ar_pipe[0]);
	ar_tid = 0;
}
END_TEST

static void
ar_setup(void)
{
	td_setup(0711, NULL);
}

TCase *
attack_rows_tcase(void)
{
	TCase *tc = tcase_create("rows");

	tcase_add_checked_fixture(tc, ar_setup, td_teardown);
	tcase_add_test(tc, test_unwatchable_owners);
	return tc;
}
