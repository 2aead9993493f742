/*
 * attack_shm.c: attacks on the shared-memory objects themselves, rather
 * than on what is written in them.
 *
 * Attack 1 of "rundownd under attack": the descriptor an attached client
 * got was read-write, so it could ftruncate() the block's object; the
 * daemon's next access faulted (SIGBUS), every connection dropped, and
 * after a restart the tag was "not a block of ours" and create failed
 * with EEXIST.  Now a client gets the header read-only (no cut possible)
 * and its own row read-write: a cut of its row may make only its own
 * count read wrong, and must not crash or wedge the daemon or make a tag
 * unusable.
 *
 * Attack 9: the objects' names were predictable, so any user could create
 * one first and make create TAG fail with EEXIST for good.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "attack.h"
#include "fdpass.h"
#include "proto.h"
#include "shmname.h"
#include "testdaemon.h"
#include "testutil.h"

#define AS_TAG 0x53484d31u	/* "SHM1" */
#define AS_UID 54321		/* made up: no account has it */

/* An attach as a client makes it, keeping what the library would not:
 * the descriptors of the header (read-only) and of its row (read-write). */
struct as_attach {
	int sock;		/* the connection that attached */
	int fd[2];		/* the header's object, the row's */
	size_t size;		/* the header's size, as the daemon said */
	size_t row_size;	/* the row's */
	uint32_t row, serial;	/* for a detach */
};

static void
as_attach(uint32_t tag, struct as_attach *at)
{
	unsigned char buf[256];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg;
	struct proto_attached a;
	struct proto_hdr h;
	struct pollfd pfd;
	ssize_t n;

	at->sock = td_raw_connect();
	at->fd[0] = at->fd[1] = -1;
	td_raw_request(at->sock, PROTO_ATTACH, 1, tag, 0, 0);
	pfd.fd = at->sock;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, ATTACK_DEADLINE_MS), 1);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	/* The reply is one small frame, sent at once with its descriptors. */
	n = recvmsg(at->sock, &msg, MSG_CMSG_CLOEXEC);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(proto_decode(buf, (size_t)n, &h), 0);
	ck_assert_uint_eq(h.type, PROTO_ATTACHED);
	ck_assert_int_eq(fdpass_take(&msg, at->fd, 2, NULL, NULL), 2);
	ck_assert_int_ge(at->fd[0], 0);
	ck_assert_int_ge(at->fd[1], 0);
	memcpy(&a, buf + PROTO_HDR_SIZE, sizeof(a));
	at->size = (size_t)a.size;
	at->row_size = (size_t)a.row_size;
	at->row = a.row;
	at->serial = a.serial;
}

/* Gives the row back, as the library's detach does. */
static void
as_give_back(struct as_attach *at, uint32_t tag)
{
	unsigned char frame[64];
	struct proto_hdr h;

	td_raw_request(at->sock, PROTO_DETACH, 2, tag, at->row, at->serial);
	td_raw_frame(at->sock, &h, frame, sizeof(frame));
	ck_assert_uint_eq(h.type, PROTO_OK);
}

static void
as_detach(struct as_attach *at)
{
	close(at->fd[0]);
	close(at->fd[1]);
	close(at->sock);
}

/* The object's size now. */
static off_t
as_size(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st.st_size;
}

/* The daemon still runs (a fault would have killed it). */
static void
as_alive(void)
{
	ck_assert_msg(kill(td.pid, 0) == 0 && waitpid(td.pid, NULL,
	    WNOHANG) == 0, "rundownd died:\n%s", td_log());
}

/* Attack 1: an attached client tries to cut the header (refused: its
 * descriptor is read-only), and cuts its row to nothing, to half, or
 * grows it, between control operations.  Every operation answers, and
 * the tag can be freed and created again. */
START_TEST(test_truncate_between_ops)
{
	struct rundown_block_info info, list[4];
	struct timespec zero = { 0, 0 };
	struct as_attach at, at2;
	size_t n;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 4), 0);
	as_attach(AS_TAG, &at);

	ck_assert_int_ne(ftruncate(at.fd[0], 0), 0);
	ck_assert_int_eq(as_size(at.fd[0]), (off_t)at.size);

	ck_assert_int_eq(ftruncate(at.fd[1], 0), 0);
	td_status(AS_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, 4);
	ck_assert_int_eq(ftruncate(at.fd[1], (off_t)at.row_size / 2), 0);
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].tag, AS_TAG);

	/* Grown: nothing the daemon touches faults; another process
	 * attaches as ever. */
	ck_assert_int_eq(ftruncate(at.fd[1], (off_t)at.row_size * 4), 0);
	td_status(AS_TAG, &info, NULL, 0);
	as_attach(AS_TAG, &at2);
	ck_assert_int_eq(as_size(at2.fd[1]), (off_t)at2.row_size);
	as_detach(&at2);

	/* Cut to nothing, the row reads zeros to the daemon, which the
	 * harvest finds owing nothing: only this client's count. */
	ck_assert_int_eq(ftruncate(at.fd[1], 0), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AS_TAG, &zero), 0);
	ck_assert_int_eq(rundown_ctl_reinit(td.conn, AS_TAG), 0);
	ck_assert_int_eq(ftruncate(at.fd[1], (off_t)at.row_size / 2), 0);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AS_TAG, &zero), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, AS_TAG), 0);
	as_alive();
	td_await_log(0, "a client cut its row short", 1);

	/* The tag is usable again, and so is the new block. */
	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 4), 0);
	as_detach(&at);
	as_attach(AS_TAG, &at);
	td_status(AS_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.attached, 1);
	as_detach(&at);
}
END_TEST

/* Attack 1, racing: a client cuts its row short again and again while
 * the daemon serves, so that the cut lands inside the daemon's accesses
 * (which then fault).  Every operation answers, and the daemon lives. */
START_TEST(test_truncate_while_serving)
{
	struct rundown_block_info info, list[4];
	struct timespec zero = { 0, 0 };
	struct as_attach at, at2;
	int stop[2], i, r, status;
	pid_t pid;
	size_t n;
	char c;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 4), 0);
	as_attach(AS_TAG, &at);
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		/* Until the test closes the pipe. */
		close(stop[1]);
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		for (i = 0; read(stop[0], &c, 1) < 0; i++) {
			if (ftruncate(at.fd[1], (i & 1) ?
			    (off_t)at.row_size / 2 : 0) != 0)
				_exit(1);
		}
		_exit(0);
	}
	close(stop[0]);
	for (i = 0; i < (int)test_scale(300); i++) {
		ck_assert_int_eq(rundown_ctl_status(td.conn, AS_TAG, &info,
		    NULL, 0, &n), 0);
		ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
		r = rundown_ctl_wait(td.conn, AS_TAG, &zero);
		ck_assert_msg(r == 0 || r == -ETIMEDOUT, "wait: %s",
		    strerror(-r));
		r = rundown_ctl_reinit(td.conn, AS_TAG);
		ck_assert_msg(r == 0 || r == -EALREADY || r == -EBUSY,
		    "reinit: %s", strerror(-r));
	}
	close(stop[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	as_alive();

	/* The next process to attach gets a whole row of its own.  The
	 * cutter's row reads what its cuts left (zeros after a harvest read
	 * as a row not harvested: held, as by its own process, until it
	 * gives the row back). */
	td_status(AS_TAG, &info, NULL, 0);
	as_attach(AS_TAG, &at2);
	ck_assert_int_eq(as_size(at2.fd[1]), (off_t)at2.row_size);
	as_detach(&at2);
	as_give_back(&at, AS_TAG);
	ck_assert_int_eq(rundown_ctl_wait(td.conn, AS_TAG, NULL), 0);
	ck_assert_int_eq(rundown_ctl_free(td.conn, AS_TAG), 0);
	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 4), 0);
	as_detach(&at);
}
END_TEST

/* Attack 1, across a restart: the row is cut while no daemon runs; the
 * next daemon adopts it, at its size again.  The header, which only root
 * can cut, cut to nothing: the next daemon removes the block, and create
 * of the tag works. */
START_TEST(test_truncate_restart)
{
	struct rundown_block_info info;
	struct as_attach at;
	char path[256];
	int fd;

	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 4), 0);
	as_attach(AS_TAG, &at);
	rundown_disconnect(td.conn);
	td.conn = NULL;

	td_stop();
	ck_assert_int_eq(ftruncate(at.fd[1], (off_t)at.row_size / 2), 0);
	td_start(NULL);
	td.conn = td_connect();
	td_status(AS_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, 4);
	ck_assert_uint_eq(info.attached, 1);
	ck_assert_int_eq(as_size(at.fd[1]), (off_t)at.row_size);
	rundown_disconnect(td.conn);
	td.conn = NULL;

	td_stop();
	td_shm_path(td.sock, AS_TAG, path, sizeof(path));
	ck_assert_int_ge(fd = open(path, O_RDWR | O_CLOEXEC), 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	close(fd);
	td_start(NULL);
	td.conn = td_connect();
	td_await_log(0, "cut short or its header wiped; removed", 1);
	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 4), 0);
	td_status(AS_TAG, &info, NULL, 0);
	ck_assert_uint_eq(info.rows, 4);
	as_detach(&at);
}
END_TEST

/* Attack 9: another user creates the name the daemon would have used
 * before, and guesses at the names it uses now.  create still works,
 * and the block handed out is the daemon's own (its uid, mode 0600). */
START_TEST(test_squatted_names)
{
	char prefix[SHMNAME_PREFIX_MAX], name[128];
	struct rundown_block_info list[4];
	struct as_attach at;
	size_t n;
	struct stat st;
	int i, fd, status;
	gid_t gid = AS_UID;
	pid_t pid;

	shmname_prefix(td.sock, prefix, sizeof(prefix));
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		if (setgroups(1, &gid) != 0 ||
		    setresgid(AS_UID, AS_UID, AS_UID) != 0 ||
		    setresuid(AS_UID, AS_UID, AS_UID) != 0)
			_exit(10);
		for (i = -1; i < 256; i++) {
			if (i < 0)
				snprintf(name, sizeof(name), "/%s%08x", prefix,
				    AS_TAG);
			else
				snprintf(name, sizeof(name), "/%s%08x.%016llx",
				    prefix, AS_TAG, (unsigned long long)i *
				    0x0101010101010101ull);
			fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0666);
			if (fd < 0 || fchmod(fd, 0666) != 0 ||
			    ftruncate(fd, 65536) != 0)
				_exit(11);
			close(fd);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);

	ck_assert_int_eq(rundown_ctl_create(td.conn, AS_TAG, 4), 0);
	as_attach(AS_TAG, &at);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(fstat(at.fd[i], &st), 0);
		ck_assert_uint_eq(st.st_uid, geteuid());
		ck_assert_uint_eq(st.st_mode & 07777, 0600);
		ck_assert_int_eq(st.st_size, (off_t)(i == 0 ? at.size :
		    at.row_size));
	}
	as_detach(&at);

	/* The squatter's objects are as it left them, and a restarted
	 * daemon leaves them alone too. */
	snprintf(name, sizeof(name), "/dev/shm/%s%08x", prefix, AS_TAG);
	ck_assert_int_eq(stat(name, &st), 0);
	ck_assert_uint_eq(st.st_uid, AS_UID);
	rundown_disconnect(td.conn);
	td.conn = NULL;
	td_stop();
	td_start(NULL);
	td.conn = td_connect();
	ck_assert_int_eq(rundown_ctl_list(td.conn, list, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].tag, AS_TAG);
	ck_assert_int_eq(stat(name, &st), 0);
	ck_assert_uint_eq(st.st_uid, AS_UID);
}
END_TEST

static void
as_setup(void)
{
	td_setup(0711, NULL);
}

TCase *
attack_shm_tcase(void)
{
	TCase *tc = tcase_create("shm");

	tcase_add_checked_fixture(tc, as_setup, td_teardown);
	tcase_add_test(tc, test_truncate_between_ops);
	tcase_add_test(tc, test_truncate_while_serving);
	tcase_add_test(tc, test_truncate_restart);
	tcase_add_test(tc, test_squatted_names);
	return tc;
}
