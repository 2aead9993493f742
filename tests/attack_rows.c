/*
 * attack_rows.c: an attached client writes ids into its block's row
 * owners that the daemon cannot watch.  Attack 5 of "rundownd under
 * attack": a thread id that leads no process made every restart of the
 * daemon exit 1 (pidfd_open refuses it with EINVAL) until somebody
 * edited the shared memory.  Such rows must read as gone and be
 * reclaimed, and the daemon must start.
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

/* The block of AR_TAG mapped here, as an attached client maps it. */
static struct rundown_block *
ar_map(size_t *size)
{
	char path[256];
	struct stat st;
	void *p;
	int fd;

	td_shm_path(td.sock, AR_TAG, path, sizeof(path));
	ck_assert_int_ge(fd = open(path, O_RDWR | O_CLOEXEC), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

/* Row owners that no process can be: a live thread that leads none, a
 * pid beyond pid_max, a negative one.  The next daemon starts, reclaims
 * all three and hands the rows out again. */
START_TEST(test_unwatchable_owners)
{
	struct rundown_block_info info;
	struct rundown_block *b;
	pthread_t t;
	size_t size;
	pid_t tid;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AR_TAG, 4), 0);
	ck_assert_int_eq(pipe2(ar_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, ar_thread, NULL), 0);
	while ((tid = __atomic_load_n(&ar_tid, __ATOMIC_ACQUIRE)) == 0)
		sched_yield();
	ck_assert_int_ne(tid, getpid());

	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	b = ar_map(&size);
	b->row[0].owner = tid;
	b->row[0].start = 0;
	b->row[1].owner = 0x7fffffff;
	b->row[1].start = 1;
	b->row[2].owner = -5;
	b->row[2].start = 7;
	munmap(b, size);

	/* Fails here if the daemon exits instead of serving. */
	td_start(NULL);
	td.conn = td_connect();
	td_status(AR_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, 4);
	ck_assert_uint_eq(info.attached, 0);
	ck_assert_uint_eq(info.reclaimed_rows, 3);
	b = ar_map(&size);
	ck_assert_int_eq(b->row[0].owner, 0);
	ck_assert_int_eq(b->row[1].owner, 0);
	ck_assert_int_eq(b->row[2].owner, 0);
	munmap(b, size);

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
