/*
 * check_proto.c: the control protocol's frame checks and encoding.
 *
 * Every frame type goes through proto_encode() and back through
 * proto_decode(); then every way a frame can be wrong is tried on the
 * decoder and on proto_check_hdr(), asserting the error that proto.h
 * documents for it: -EPROTO for the version or flags, -EMSGSIZE for a
 * length beyond PROTO_MAX_FRAME, -EBADMSG for everything else.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "proto.h"
#include "testutil.h"

/* The largest payload a frame may carry. */
#define MAX_PAYLOAD (PROTO_MAX_FRAME - PROTO_HDR_SIZE)

static unsigned char *buf;	/* a whole frame, plus room to spare */
static unsigned char *payload;	/* what gets encoded */
#define BUF_SIZE (PROTO_MAX_FRAME + 64)

static const uint16_t req_types[] = {
	PROTO_CREATE, PROTO_ATTACH, PROTO_DETACH, PROTO_WAIT, PROTO_COMPLETED,
	PROTO_REINIT, PROTO_FREE, PROTO_STATUS
};
#define NREQ (sizeof(req_types) / sizeof(req_types[0]))

/* Fixture: a frame buffer and a payload buffer. */
static void
proto_setup(void)
{
	buf = malloc(BUF_SIZE);
	payload = malloc(BUF_SIZE);
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(payload);
	memset(buf, 0xa5, BUF_SIZE);
	memset(payload, 0, BUF_SIZE);
}

/* Fixture: frees them. */
static void
proto_teardown(void)
{
	free(buf);
	free(payload);
}

/* Encodes a frame into buf and asserts its size. */
static size_t
encode(uint16_t type, uint32_t id, const void *p, size_t length)
{
	size_t n = proto_encode(buf, BUF_SIZE, type, id, p, length);

	ck_assert_uint_eq(n, PROTO_HDR_SIZE + length);
	return n;
}

/* Decodes buf[0..len) expecting 0, and checks the header and payload
 * against what was encoded. */
static void
round_trip(uint16_t type, uint32_t id, const void *p, size_t length)
{
	struct proto_hdr h;
	size_t n = encode(type, id, p, length);

	memset(&h, 0xff, sizeof(h));
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	ck_assert_uint_eq(h.version, PROTO_VERSION);
	ck_assert_uint_eq(h.type, type);
	ck_assert_uint_eq(h.length, length);
	ck_assert_uint_eq(h.id, id);
	ck_assert_uint_eq(h.flags, 0);
	ck_assert_int_eq(proto_check_hdr(&h), 0);
	if (length != 0)
		ck_assert_mem_eq(buf + PROTO_HDR_SIZE, p, length);
}

/* Writes a raw header to buf (no checks: the tests make bad ones). */
static void
put_hdr(uint16_t version, uint16_t type, uint32_t length, uint32_t id,
    uint32_t flags)
{
	struct proto_hdr h = {
		.version = version, .type = type, .length = length, .id = id,
		.flags = flags
	};

	memcpy(buf, &h, sizeof(h));
}

/* Asserts that a header alone is rejected with err, by both checks. */
static void
hdr_rejected(uint16_t version, uint16_t type, uint32_t length,
    uint32_t flags, int err)
{
	struct proto_hdr h = {
		.version = version, .type = type, .length = length, .id = 7,
		.flags = flags
	};
	struct proto_hdr out;

	ck_assert_msg(proto_check_hdr(&h) == err,
	    "check_hdr(version %u type %#x length %u flags %#x) = %d, not %d",
	    version, type, length, flags, proto_check_hdr(&h), err);
	/* The decoder checks the header before it looks at the rest, so a
	 * buffer of the header and whatever fits gives the same answer. */
	put_hdr(version, type, length, 7, flags);
	ck_assert_int_eq(proto_decode(buf, PROTO_HDR_SIZE +
	    (length < BUF_SIZE - PROTO_HDR_SIZE ? length : 0), &out), err);
}

/* Asserts that a whole frame of a valid header is rejected by the
 * decoder with err. */
static void
frame_rejected(uint16_t type, const void *p, size_t length, int err)
{
	struct proto_hdr h;
	size_t n = encode(type, 9, p, length);

	/* The header alone is fine: what is wrong lies beyond it. */
	memcpy(&h, buf, sizeof(h));
	ck_assert_int_eq(proto_check_hdr(&h), 0);
	ck_assert_msg(proto_decode(buf, n, &h) == err,
	    "decode of type %#x length %zu = %d, not %d", type, length,
	    proto_decode(buf, n, &h), err);
}

/* ---- encode and decode ------------------------------------------------- */

/* Every request with a tag survives the trip, ATTACH with its flag. */
START_TEST(test_requests)
{
	struct proto_req req = { .tag = 0x6e776452, .arg = 42 };
	size_t i;

	for (i = 0; i < NREQ; i++) {
		ck_assert_int_eq(proto_req_size(req_types[i]),
		    (long)sizeof(req));
		req.arg = (uint32_t)i * 1000 + 1;
		round_trip(req_types[i], (uint32_t)i + 1, &req, sizeof(req));
	}
	req.flags = PROTO_ATTACH_CREATE;
	round_trip(PROTO_ATTACH, 77, &req, sizeof(req));
	req.flags = 0;
	/* DETACH names the block's serial. */
	req.serial = 0xdeadbeef;
	round_trip(PROTO_DETACH, 78, &req, sizeof(req));
	req.serial = 0;
	req.arg = PROTO_NO_TIMEOUT;
	round_trip(PROTO_WAIT, UINT32_MAX, &req, sizeof(req));

	ck_assert_int_eq(proto_req_size(PROTO_LIST), 0);
	round_trip(PROTO_LIST, 0, NULL, 0);
}
END_TEST

/* The fixed-size replies survive the trip with every field. */
START_TEST(test_replies)
{
	struct proto_ok ok = { .value = UINT64_MAX - 1 };
	struct proto_error err = { .code = EBUSY };
	struct proto_attached a = {
		.tag = 0x12345678, .row = 3, .cpus = 8, .rows = 64,
		.size = (uint64_t)1 << 40, .serial = 0xfeedf00d
	};

	round_trip(PROTO_OK, 1, &ok, sizeof(ok));
	round_trip(PROTO_ERROR, 2, &err, sizeof(err));
	err.code = -1;		/* the decoder does not judge the code */
	round_trip(PROTO_ERROR, 0, &err, sizeof(err));
	round_trip(PROTO_ATTACHED, 3, &a, sizeof(a));

	/* Replies have no request size. */
	ck_assert_int_eq(proto_req_size(PROTO_OK), -1);
	ck_assert_int_eq(proto_req_size(PROTO_ERROR), -1);
	ck_assert_int_eq(proto_req_size(PROTO_ATTACHED), -1);
	ck_assert_int_eq(proto_req_size(PROTO_STATUS_REPLY), -1);
	ck_assert_int_eq(proto_req_size(PROTO_LIST_REPLY), -1);
	ck_assert_int_eq(proto_req_size(0), -1);
	ck_assert_int_eq(proto_req_size(PROTO_REQ_MAX + 1), -1);
}
END_TEST

/* Writes a status reply payload of n holders; returns its length. */
static size_t
status_payload(uint32_t attached, uint32_t n)
{
	struct proto_info info = {
		.tag = 0x6e776452, .state = 1, .generation = 5, .cpus = 4,
		.rows = 64, .attached = attached, .outstanding = 9,
		.reclaimed_rows = 2, .reclaimed = 3
	};
	struct proto_holder ph;
	uint32_t i;

	memcpy(payload, &info, sizeof(info));
	for (i = 0; i < n; i++) {
		memset(&ph, 0, sizeof(ph));
		ph.pid = (int32_t)(1000 + i);
		ph.row = i;
		ph.outstanding = i * 3;
		memcpy(ph.comm, "holder", 7);
		memcpy(payload + sizeof(info) + i * sizeof(ph), &ph,
		    sizeof(ph));
	}
	return sizeof(info) + (size_t)n * sizeof(ph);
}

/* Writes a list reply payload of n blocks counting count; returns its
 * length. */
static size_t
list_payload(uint32_t count, uint32_t n)
{
	struct proto_count pc = { .count = count };
	struct proto_info info;
	uint32_t i;

	memcpy(payload, &pc, sizeof(pc));
	for (i = 0; i < n; i++) {
		memset(&info, 0, sizeof(info));
		info.tag = 0x41414141 + i;
		info.rows = 64;
		info.outstanding = i;
		memcpy(payload + sizeof(pc) + i * sizeof(info), &info,
		    sizeof(info));
	}
	return sizeof(pc) + (size_t)n * sizeof(info);
}

/* Status and list replies survive the trip with none, one and many
 * entries, up to the largest frame there is. */
START_TEST(test_lists)
{
	uint32_t counts[] = { 0, 1, 5, PROTO_MAX_ENTRIES };
	uint32_t most = (uint32_t)((MAX_PAYLOAD - sizeof(struct proto_info)) /
	    sizeof(struct proto_holder));
	size_t i, len;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		len = status_payload(counts[i], counts[i]);
		round_trip(PROTO_STATUS_REPLY, (uint32_t)i, payload, len);
		len = list_payload(counts[i], counts[i]);
		round_trip(PROTO_LIST_REPLY, (uint32_t)i, payload, len);
	}
	/* A status reply can fill a frame but for less than an entry. */
	ck_assert_uint_gt(sizeof(struct proto_info) +
	    (most + 1) * sizeof(struct proto_holder), MAX_PAYLOAD);
	len = status_payload(most, most);
	round_trip(PROTO_STATUS_REPLY, 1, payload, len);
	ck_assert_uint_le(len + PROTO_HDR_SIZE, PROTO_MAX_FRAME);
}
END_TEST

/* The decoder needs no alignment: a frame at an odd address decodes. */
START_TEST(test_unaligned)
{
	struct proto_req req = { .tag = 1, .arg = 2 };
	struct proto_hdr h;
	size_t n = encode(PROTO_CREATE, 5, &req, sizeof(req));

	memmove(buf + 1, buf, n);
	ck_assert_int_eq(proto_decode(buf + 1, n, &h), 0);
	ck_assert_uint_eq(h.type, PROTO_CREATE);
	ck_assert_uint_eq(h.id, 5);
	n = proto_encode(buf + 3, BUF_SIZE - 3, PROTO_DETACH, 6, &req,
	    sizeof(req));
	ck_assert_uint_eq(n, PROTO_HDR_SIZE + sizeof(req));
	ck_assert_int_eq(proto_decode(buf + 3, n, &h), 0);
	ck_assert_uint_eq(h.type, PROTO_DETACH);
}
END_TEST

/* The encoder refuses what does not fit and writes nothing past size. */
START_TEST(test_encode_limits)
{
	struct proto_ok ok = { .value = 1 };

	ck_assert_uint_eq(proto_encode(buf, PROTO_HDR_SIZE + sizeof(ok) - 1,
	    PROTO_OK, 1, &ok, sizeof(ok)), 0);
	ck_assert_uint_eq(proto_encode(buf, 0, PROTO_LIST, 1, NULL, 0), 0);
	ck_assert_uint_eq(proto_encode(buf, PROTO_HDR_SIZE - 1, PROTO_LIST, 1,
	    NULL, 0), 0);
	ck_assert_uint_eq(proto_encode(buf, PROTO_HDR_SIZE, PROTO_LIST, 1,
	    NULL, 0), PROTO_HDR_SIZE);
	/* One byte beyond the largest frame, with room to write it. */
	ck_assert_uint_eq(proto_encode(buf, BUF_SIZE, PROTO_STATUS_REPLY, 1,
	    payload, MAX_PAYLOAD + 1), 0);
	ck_assert_uint_eq(proto_encode(buf, BUF_SIZE, PROTO_STATUS_REPLY, 1,
	    payload, MAX_PAYLOAD), PROTO_MAX_FRAME);
	/* Exactly enough room: the byte after it is untouched. */
	memset(buf, 0xa5, BUF_SIZE);
	ck_assert_uint_eq(proto_encode(buf, PROTO_HDR_SIZE + sizeof(ok),
	    PROTO_OK, 1, &ok, sizeof(ok)), PROTO_HDR_SIZE + sizeof(ok));
	ck_assert_uint_eq(buf[PROTO_HDR_SIZE + sizeof(ok)], 0xa5);
}
END_TEST

/* ---- rejections -------------------------------------------------------- */

/* Fewer bytes than a header: -EBADMSG, whatever they hold. */
START_TEST(test_short_buffer)
{
	struct proto_hdr h;
	size_t n = encode(PROTO_LIST, 1, NULL, 0), len;

	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	for (len = 0; len < PROTO_HDR_SIZE; len++)
		ck_assert_int_eq(proto_decode(buf, len, &h), -EBADMSG);
}
END_TEST

/* A version other than PROTO_VERSION: -EPROTO, before anything else is
 * judged (even an unknown type or an oversized length). */
START_TEST(test_version)
{
	hdr_rejected(0, PROTO_LIST, 0, 0, -EPROTO);
	hdr_rejected(PROTO_VERSION + 1, PROTO_LIST, 0, 0, -EPROTO);
	hdr_rejected(UINT16_MAX, PROTO_LIST, 0, 0, -EPROTO);
	hdr_rejected(PROTO_VERSION + 1, 0x7777, 0, 0, -EPROTO);
	hdr_rejected(PROTO_VERSION + 1, PROTO_LIST, UINT32_MAX, 0, -EPROTO);
}
END_TEST

/* Header flags other than 0: -EPROTO. */
START_TEST(test_flags)
{
	hdr_rejected(PROTO_VERSION, PROTO_LIST, 0, 1, -EPROTO);
	hdr_rejected(PROTO_VERSION, PROTO_LIST, 0, 0x80000000u, -EPROTO);
	hdr_rejected(PROTO_VERSION, PROTO_OK, sizeof(struct proto_ok),
	    UINT32_MAX, -EPROTO);
}
END_TEST

/* Types that are neither a request nor a reply: -EBADMSG. */
START_TEST(test_unknown_type)
{
	static const uint16_t bad[] = {
		0, PROTO_REQ_MAX + 1, 0xff, PROTO_OK - 1,
		PROTO_LIST_REPLY + 1, 0x1000, UINT16_MAX
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hdr_rejected(PROTO_VERSION, bad[i], 0, 0, -EBADMSG);
		hdr_rejected(PROTO_VERSION, bad[i], sizeof(struct proto_req),
		    0, -EBADMSG);
	}
}
END_TEST

/* A length beyond the largest frame: -EMSGSIZE, even for a type that has
 * no such length; the largest frame itself is accepted. */
START_TEST(test_too_long)
{
	struct proto_hdr h = {
		.version = PROTO_VERSION, .type = PROTO_STATUS_REPLY,
		.length = MAX_PAYLOAD - (MAX_PAYLOAD -
		    sizeof(struct proto_info)) % sizeof(struct proto_holder)
	};

	ck_assert_int_eq(proto_check_hdr(&h), 0);
	hdr_rejected(PROTO_VERSION, PROTO_STATUS_REPLY,
	    MAX_PAYLOAD + sizeof(struct proto_holder), 0, -EMSGSIZE);
	hdr_rejected(PROTO_VERSION, PROTO_STATUS_REPLY, MAX_PAYLOAD + 1, 0,
	    -EMSGSIZE);
	hdr_rejected(PROTO_VERSION, PROTO_LIST, PROTO_MAX_FRAME, 0,
	    -EMSGSIZE);
	hdr_rejected(PROTO_VERSION, PROTO_CREATE, UINT32_MAX, 0, -EMSGSIZE);
	hdr_rejected(PROTO_VERSION, PROTO_LIST_REPLY, UINT32_MAX - 7, 0,
	    -EMSGSIZE);
}
END_TEST

/* Each fixed-size type with any other length: -EBADMSG. */
START_TEST(test_payload_size)
{
	static const struct {
		uint16_t type;
		uint32_t size;
	} fixed[] = {
		{ PROTO_CREATE, sizeof(struct proto_req) },
		{ PROTO_ATTACH, sizeof(struct proto_req) },
		{ PROTO_DETACH, sizeof(struct proto_req) },
		{ PROTO_WAIT, sizeof(struct proto_req) },
		{ PROTO_COMPLETED, sizeof(struct proto_req) },
		{ PROTO_REINIT, sizeof(struct proto_req) },
		{ PROTO_FREE, sizeof(struct proto_req) },
		{ PROTO_STATUS, sizeof(struct proto_req) },
		{ PROTO_LIST, 0 },
		{ PROTO_OK, sizeof(struct proto_ok) },
		{ PROTO_ERROR, sizeof(struct proto_error) },
		{ PROTO_ATTACHED, sizeof(struct proto_attached) },
	};
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (fixed[i].size > 0) {
			hdr_rejected(PROTO_VERSION, fixed[i].type, 0, 0,
			    -EBADMSG);
			hdr_rejected(PROTO_VERSION, fixed[i].type,
			    fixed[i].size - 1, 0, -EBADMSG);
		}
		hdr_rejected(PROTO_VERSION, fixed[i].type, fixed[i].size + 1,
		    0, -EBADMSG);
		hdr_rejected(PROTO_VERSION, fixed[i].type,
		    fixed[i].size * 2 + 8, 0, -EBADMSG);
	}
	/* The list replies: a fixed part cut short, or a partial entry. */
	hdr_rejected(PROTO_VERSION, PROTO_STATUS_REPLY, 0, 0, -EBADMSG);
	hdr_rejected(PROTO_VERSION, PROTO_STATUS_REPLY,
	    sizeof(struct proto_info) - 1, 0, -EBADMSG);
	hdr_rejected(PROTO_VERSION, PROTO_STATUS_REPLY,
	    sizeof(struct proto_info) + sizeof(struct proto_holder) - 1, 0,
	    -EBADMSG);
	hdr_rejected(PROTO_VERSION, PROTO_STATUS_REPLY,
	    sizeof(struct proto_info) + 1, 0, -EBADMSG);
	hdr_rejected(PROTO_VERSION, PROTO_LIST_REPLY, 0, 0, -EBADMSG);
	hdr_rejected(PROTO_VERSION, PROTO_LIST_REPLY,
	    sizeof(struct proto_count) - 1, 0, -EBADMSG);
	hdr_rejected(PROTO_VERSION, PROTO_LIST_REPLY,
	    sizeof(struct proto_count) + sizeof(struct proto_info) + 1, 0,
	    -EBADMSG);
}
END_TEST

/* Fields a type leaves reserved must be zero, else -EBADMSG: a
 * request's serial (any type but DETACH), its flags (any type but
 * ATTACH, CREATE's mode and FREE's force), ATTACHED's reserved word, and
 * a list's count.reserved. */
START_TEST(test_reserved)
{
	struct proto_req req = { .tag = 1 };
	struct proto_attached a = { .tag = 1, .rows = 1, .cpus = 1 };
	struct proto_hdr h;
	size_t i, n, len;

	for (i = 0; i < NREQ; i++) {
		req.serial = 1;
		req.flags = 0;
		if (req_types[i] == PROTO_DETACH) {
			n = encode(req_types[i], 1, &req, sizeof(req));
			ck_assert_int_eq(proto_decode(buf, n, &h), 0);
		} else {
			frame_rejected(req_types[i], &req, sizeof(req),
			    -EBADMSG);
			req.serial = 0x80000000u;
			frame_rejected(req_types[i], &req, sizeof(req),
			    -EBADMSG);
		}
		req.serial = 0;
		/* PROTO_FREE_FORCE: FREE's only flag, nobody else's. */
		req.flags = PROTO_FREE_FORCE;
		if (req_types[i] == PROTO_FREE) {
			n = encode(req_types[i], 1, &req, sizeof(req));
			ck_assert_int_eq(proto_decode(buf, n, &h), 0);
		} else
			frame_rejected(req_types[i], &req, sizeof(req),
			    -EBADMSG);
		req.flags = 0;
		if (req_types[i] == PROTO_ATTACH)
			continue;
		req.flags = PROTO_ATTACH_CREATE;
		frame_rejected(req_types[i], &req, sizeof(req), -EBADMSG);
		req.flags = PROTO_ATTACH_REOPEN;
		frame_rejected(req_types[i], &req, sizeof(req), -EBADMSG);
		req.flags = 0x80000000u;
		frame_rejected(req_types[i], &req, sizeof(req), -EBADMSG);
		req.flags = 0;
	}

	/* Block flags: only BLOCK_F_RSEQ travels (BLOCK_F_PRIVATE never
	 * describes a daemon's block). */
	a.bflags = BLOCK_F_PRIVATE;
	frame_rejected(PROTO_ATTACHED, &a, sizeof(a), -EBADMSG);
	a.bflags = 0x80000000u;
	frame_rejected(PROTO_ATTACHED, &a, sizeof(a), -EBADMSG);
	a.bflags = BLOCK_F_RSEQ;
	round_trip(PROTO_ATTACHED, 9, &a, sizeof(a));
	a.bflags = 0;

	len = list_payload(2, 2);
	((struct proto_count *)(void *)payload)->reserved = 1;
	frame_rejected(PROTO_LIST_REPLY, payload, len, -EBADMSG);
}
END_TEST

/* An error reply's reserved word is reserved too: -EBADMSG. */
START_TEST(test_error_reserved)
{
	struct proto_error err = { .code = EINVAL, .reserved = 1 };

	frame_rejected(PROTO_ERROR, &err, sizeof(err), -EBADMSG);
	err.reserved = 0x80000000u;
	frame_rejected(PROTO_ERROR, &err, sizeof(err), -EBADMSG);
}
END_TEST

/* ATTACH takes PROTO_ATTACH_CREATE, PROTO_ATTACH_REOPEN and a mode, and
 * nothing else; CREATE only a mode. */
START_TEST(test_attach_flags)
{
	struct proto_req req = { .tag = 1 };
	struct proto_hdr h;
	size_t n;

	req.flags = PROTO_ATTACH_CREATE;
	n = encode(PROTO_ATTACH, 1, &req, sizeof(req));
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	req.flags = PROTO_ATTACH_CREATE | PROTO_MODE_FLAGS(0640);
	n = encode(PROTO_ATTACH, 1, &req, sizeof(req));
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	frame_rejected(PROTO_CREATE, &req, sizeof(req), -EBADMSG);
	req.flags = PROTO_ATTACH_REOPEN;
	n = encode(PROTO_ATTACH, 1, &req, sizeof(req));
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	frame_rejected(PROTO_CREATE, &req, sizeof(req), -EBADMSG);
	frame_rejected(PROTO_REINIT, &req, sizeof(req), -EBADMSG);
	req.flags = PROTO_ATTACH_CREATE | PROTO_ATTACH_REOPEN |
	    PROTO_MODE_FLAGS(0600);
	n = encode(PROTO_ATTACH, 1, &req, sizeof(req));
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	req.flags = PROTO_MODE_FLAGS(0777);
	n = encode(PROTO_CREATE, 1, &req, sizeof(req));
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	req.flags = 0640u << PROTO_MODE_SHIFT;	/* bits without the flag */
	frame_rejected(PROTO_CREATE, &req, sizeof(req), -EBADMSG);
	frame_rejected(PROTO_ATTACH, &req, sizeof(req), -EBADMSG);
	req.flags = 0x8;
	frame_rejected(PROTO_ATTACH, &req, sizeof(req), -EBADMSG);
	req.flags = PROTO_ATTACH_CREATE | PROTO_ATTACH_REOPEN | 0x8;
	frame_rejected(PROTO_ATTACH, &req, sizeof(req), -EBADMSG);
	req.flags = PROTO_MODE_FLAGS(0) | (01000u << PROTO_MODE_SHIFT);
	frame_rejected(PROTO_CREATE, &req, sizeof(req), -EBADMSG);
	req.flags = 0x80000000u;
	frame_rejected(PROTO_ATTACH, &req, sizeof(req), -EBADMSG);
	req.flags = UINT32_MAX;
	frame_rejected(PROTO_ATTACH, &req, sizeof(req), -EBADMSG);
}
END_TEST

/* A count that disagrees with the entries the length holds: -EBADMSG. */
START_TEST(test_counts)
{
	size_t len;

	len = status_payload(2, 1);
	frame_rejected(PROTO_STATUS_REPLY, payload, len, -EBADMSG);
	len = status_payload(0, 1);
	frame_rejected(PROTO_STATUS_REPLY, payload, len, -EBADMSG);
	len = status_payload(1, 0);
	frame_rejected(PROTO_STATUS_REPLY, payload, len, -EBADMSG);
	len = status_payload(UINT32_MAX, 3);
	frame_rejected(PROTO_STATUS_REPLY, payload, len, -EBADMSG);

	len = list_payload(3, 2);
	frame_rejected(PROTO_LIST_REPLY, payload, len, -EBADMSG);
	len = list_payload(0, 1);
	frame_rejected(PROTO_LIST_REPLY, payload, len, -EBADMSG);
	len = list_payload(1, 0);
	frame_rejected(PROTO_LIST_REPLY, payload, len, -EBADMSG);
	len = list_payload(UINT32_MAX, 2);
	frame_rejected(PROTO_LIST_REPLY, payload, len, -EBADMSG);
}
END_TEST

/* A buffer longer or shorter than the header's length says: -EBADMSG. */
START_TEST(test_buffer_length)
{
	struct proto_req req = { .tag = 1 };
	struct proto_ok ok = { 0 };
	struct proto_hdr h;
	size_t n, len;

	n = encode(PROTO_STATUS, 1, &req, sizeof(req));
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	ck_assert_int_eq(proto_decode(buf, n - 1, &h), -EBADMSG);
	ck_assert_int_eq(proto_decode(buf, n + 1, &h), -EBADMSG);
	ck_assert_int_eq(proto_decode(buf, PROTO_HDR_SIZE, &h), -EBADMSG);

	n = encode(PROTO_LIST, 2, NULL, 0);
	ck_assert_int_eq(proto_decode(buf, n + 1, &h), -EBADMSG);
	ck_assert_int_eq(proto_decode(buf, n + sizeof(req), &h), -EBADMSG);

	n = encode(PROTO_OK, 3, &ok, sizeof(ok));
	ck_assert_int_eq(proto_decode(buf, n - 1, &h), -EBADMSG);

	len = status_payload(2, 2);
	n = encode(PROTO_STATUS_REPLY, 4, payload, len);
	ck_assert_int_eq(proto_decode(buf, n, &h), 0);
	ck_assert_int_eq(proto_decode(buf, n - sizeof(struct proto_holder),
	    &h), -EBADMSG);
	ck_assert_int_eq(proto_decode(buf, n + sizeof(struct proto_holder),
	    &h), -EBADMSG);
}
END_TEST

/* Encoding round trips, then every rejection. */
static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc;

	tc = tcase_create("encode");
	tcase_add_checked_fixture(tc, proto_setup, proto_teardown);
	tcase_add_test(tc, test_requests);
	tcase_add_test(tc, test_replies);
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_unaligned);
	tcase_add_test(tc, test_encode_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("reject");
	tcase_add_checked_fixture(tc, proto_setup, proto_teardown);
	tcase_add_test(tc, test_short_buffer);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_unknown_type);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_payload_size);
	tcase_add_test(tc, test_reserved);
	tcase_add_test(tc, test_error_reserved);
	tcase_add_test(tc, test_attach_flags);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_buffer_length);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return test_run_suite(proto_suite());
}
