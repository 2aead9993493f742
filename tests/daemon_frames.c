/*
 * daemon_frames.c: malformed frames and frames in pieces, on bare
 * sockets: each gets its error, and the daemon serves the others.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rundown/rundown.h>

#include "daemon.h"
#include "proto.h"
#include "testagent.h"
#include "testdaemon.h"
#include "testutil.h"

/* The broken frames, each with the error it gets. */
static const struct dt_bad {
	const char *what;
	struct proto_hdr h;
	bool payload;		/* send a request payload too */
	uint32_t flags;		/* of that payload */
	uint32_t serial;	/* of that payload */
	int code;
} dt_bad[] = {
	{ "wrong version", { PROTO_VERSION + 1, PROTO_LIST, 0, 11, 0 },
	    false, 0, 0, EPROTO },
	{ "version 0", { 0, PROTO_STATUS, 16, 12, 0 }, false, 0, 0,
	    EPROTO },
	{ "header flags", { PROTO_VERSION, PROTO_LIST, 0, 13, 1 },
	    false, 0, 0, EPROTO },
	{ "unknown type", { PROTO_VERSION, 0x55, 0, 14, 0 }, false,
	    0, 0, EBADMSG },
	{ "type 0", { PROTO_VERSION, 0, 0, 15, 0 }, false, 0, 0,
	    EBADMSG },
	{ "a reply sent", { PROTO_VERSION, PROTO_OK, 8, 16, 0 },
	    false, 0, 0, EBADMSG },
	{ "wrong payload size", { PROTO_VERSION, PROTO_STATUS, 8, 17,
	    0 }, false, 0, 0, EBADMSG },
	{ "payload on list", { PROTO_VERSION, PROTO_LIST, 16, 18,
	    0 }, false, 0, 0, EBADMSG },
	{ "huge length", { PROTO_VERSION, PROTO_LIST, 0x7fffffff, 19,
	    0 }, false, 0, 0, EMSGSIZE },
	{ "length beyond a frame", { PROTO_VERSION, PROTO_STATUS,
	    PROTO_MAX_FRAME, 20, 0 }, false, 0, 0, EMSGSIZE },
	{ "serial on status", { PROTO_VERSION, PROTO_STATUS, 16, 21,
	    0 }, true, 0, 1, EBADMSG },
	{ "flags on status", { PROTO_VERSION, PROTO_STATUS, 16, 22,
	    0 }, true, 1, 0, EBADMSG },
	{ "attach flags", { PROTO_VERSION, PROTO_ATTACH, 16, 23, 0 },
	    true, 8, 0, EBADMSG },
};

/* Sends broken frame bf on a connection of its own: its error, and the
 * daemon still serves the others.  Only what the daemon reads before it
 * judges is sent: bytes left unread would turn its close into a reset
 * instead of an EOF. */
static void
dt_send_bad(uint32_t tag, const struct dt_bad *bf)
{
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	struct proto_req req;
	size_t len;
	int fd;

	fd = td_raw_connect();
	memcpy(frame, &bf->h, PROTO_HDR_SIZE);
	len = PROTO_HDR_SIZE;
	if (bf->payload) {
		memset(&req, 0, sizeof(req));
		req.tag = tag;
		req.flags = bf->flags;
		req.serial = bf->serial;
		memcpy(frame + PROTO_HDR_SIZE, &req, sizeof(req));
		len += sizeof(req);
	}
	td_raw_send(fd, frame, len, -1);
	td_raw_expect_error(fd, bf->h.id, bf->code, bf->what);
	close(fd);
	dt_check_good(tag);
}

/* A descriptor sent along with a good request: refused (id 0, as it
 * concerns the connection), and the daemon closes its copy. */
static void
dt_send_descriptor(uint32_t tag)
{
	struct proto_hdr h;
	int fd, p[2];
	char c;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fd = td_raw_connect();
	memset(&h, 0, sizeof(h));
	h.version = PROTO_VERSION;
	h.type = PROTO_LIST;
	h.id = 30;
	td_raw_send(fd, &h, sizeof(h), p[1]);
	close(p[1]);
	td_raw_expect_error(fd, 0, EBADMSG, "SCM_RIGHTS");
	close(fd);
	ck_assert_msg(td_raw_read(p[0], &c, 1, "the sent descriptor closed") ==
	    0,
	    "the daemon kept the descriptor it was sent");
	close(p[0]);
	dt_check_good(tag);
}

/* Each kind of broken frame gets its error and the connection closed;
 * the daemon keeps serving the others. */
START_TEST(test_malformed)
{
	uint32_t tag = RUNDOWN_TAG('G', 'o', 'o', 'd');
	struct agent ag;
	size_t i;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 0), 0);
	agent_start(&ag, "agent", &tag, 1, 0);
	agent_acquire(&ag, 0, 2);
	dt_check_good(tag);

	for (i = 0; i < sizeof(dt_bad) / sizeof(dt_bad[0]); i++)
		dt_send_bad(tag, &dt_bad[i]);
	dt_send_descriptor(tag);

	ck_assert_int_eq(waitpid(td.pid, NULL, WNOHANG), 0);
	agent_release(&ag, 0, 2);
	agent_quit(&ag);
}
END_TEST

/* A frame that arrives a byte at a time blocks nobody, and is answered
 * once whole; so is the next one on that connection. */
START_TEST(test_pieces)
{
	uint32_t tag = RUNDOWN_TAG('P', 'c', 's', '!');
	unsigned char frame[PROTO_HDR_SIZE + sizeof(struct proto_req)];
	unsigned char reply[PROTO_HDR_SIZE + 512];
	struct proto_req req = { .tag = tag };
	struct rundown_block_info info;
	struct proto_info pi;
	struct proto_count pc;
	struct proto_hdr h;
	size_t i, n;
	int fd;

	ck_assert_int_eq(rundown_ctl_create(td.conn, tag, 7), 0);
	fd = td_raw_connect();
	n = proto_encode(frame, sizeof(frame), PROTO_STATUS, 41, &req,
	    sizeof(req));
	ck_assert_uint_eq(n, sizeof(frame));
	for (i = 0; i < n; i++) {
		td_raw_send(fd, frame + i, 1, -1);
		/* The daemon answers others meanwhile. */
		td_status(tag, &info, NULL, 0);
		ck_assert_uint_eq(info.rows, 7);
	}
	td_raw_frame(fd, &h, reply, sizeof(reply));
	ck_assert_uint_eq(h.type, PROTO_STATUS_REPLY);
	ck_assert_uint_eq(h.id, 41);
	ck_assert_uint_eq(h.length, sizeof(pi));
	memcpy(&pi, reply + PROTO_HDR_SIZE, sizeof(pi));
	ck_assert_uint_eq(pi.tag, tag);
	ck_assert_uint_eq(pi.rows, 7);
	ck_assert_uint_eq(pi.attached, 0);

	/* Two frames in one write: both answered, in order. */
	n = proto_encode(frame, sizeof(frame), PROTO_LIST, 42, NULL, 0);
	ck_assert_uint_eq(n, PROTO_HDR_SIZE);
	n += proto_encode(frame + n, sizeof(frame) - n, PROTO_LIST, 43, NULL,
	    0);
	td_raw_send(fd, frame, n, -1);
	for (i = 42; i <= 43; i++) {
		td_raw_frame(fd, &h, reply, sizeof(reply));
		ck_assert_uint_eq(h.type, PROTO_LIST_REPLY);
		ck_assert_uint_eq(h.id, i);
		ck_assert_uint_eq(h.length, sizeof(pc) + sizeof(pi));
		memcpy(&pc, reply + PROTO_HDR_SIZE, sizeof(pc));
		ck_assert_uint_eq(pc.count, 1);
	}
	close(fd);
}
END_TEST

TCase *
daemon_frames_tcase(void)
{
	TCase *tc = tcase_create("frames");

	tcase_add_checked_fixture(tc, dt_setup, td_teardown);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_pieces);
	return tc;
}
