/*
 * fuzz_proto.c: a libFuzzer target for both ends of the control protocol.
 *
 * The input is the bytes that come out of a control socket, read twice:
 *
 *   - as rundownd reads a peer (src/server.c, server_readable() and
 *     server_frame()): a header, checked and refused unless a request,
 *     then exactly its payload into a buffer the size of the largest
 *     request, then proto_decode() on the whole frame; the first frame
 *     refused ends the stream, as the daemon disconnects;
 *   - as the library reads the daemon (lib/client.c, client_read_frame()
 *     and client_call()): a header, checked (a bad one ends the stream),
 *     then the part of the payload that fits the reply buffer, and what
 *     the frame answers to each call that waits for a reply (OK,
 *     ATTACHED, STATUS_REPLY, LIST_REPLY), with the status and list
 *     payloads read as rundown_ctl_status() and rundown_ctl_list() do;
 *     and the whole input once more as such a payload, so that the
 *     client's own length checks are tried on lengths the header check
 *     would have refused.
 *
 * Every buffer handed to the code under test is allocated to its exact
 * length, so that AddressSanitizer catches a read past what the peer sent.
 * Besides the sanitizers, it checks (abort() on failure, which libFuzzer
 * reports as a crash with the input saved):
 *   - a frame that decodes encodes again to the same bytes;
 *   - proto_decode() returns only the errors proto.h documents, and
 *     agrees with proto_check_hdr() on the header;
 *   - the daemon never takes in a payload longer than its buffer;
 *   - the client accepts a reply only of the type and size it waits for,
 *     and reads a STATUS_REPLY or LIST_REPLY exactly when proto_decode()
 *     accepts it (reserved fields aside, which the client ignores);
 *   - what the client read from a reply encodes back to its payload.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "client.h"
#include "proto.h"
#include "shmname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR PROTO_HDR_SIZE

/* Not assert(): it must hold with NDEBUG too. */
#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

/* A copy of n bytes in a block of exactly n (at least one) bytes. */
static void *
dup_exact(const void *p, size_t n)
{
	void *q = malloc(n > 0 ? n : 1);

	CHECK(q != NULL);
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

/* The errors proto.h documents for proto_check_hdr() and proto_decode(). */
static int
known_error(int r)
{
	return r == 0 || r == -EPROTO || r == -EBADMSG || r == -EMSGSIZE;
}

/* frame (len bytes) decoded to h: encoding h and its payload gives it back. */
static void
check_round_trip(const unsigned char *frame, size_t len,
    const struct proto_hdr *h)
{
	unsigned char *out = malloc(len);
	size_t n;

	CHECK(out != NULL);
	CHECK(len == HDR + h->length);
	n = proto_encode(out, len, h->type, h->id, frame + HDR, h->length);
	CHECK(n == len);
	CHECK(memcmp(out, frame, len) == 0);
	/* One byte short never fits. */
	CHECK(proto_encode(out, len - 1, h->type, h->id, frame + HDR,
	    h->length) == 0);
	free(out);
}

/* proto_decode() on an exact copy of frame; returns its verdict. */
static int
decode(const unsigned char *frame, size_t len)
{
	struct proto_hdr h, raw;
	unsigned char *copy = dup_exact(frame, len);
	int r, rh;

	r = proto_decode(copy, len, &h);
	CHECK(known_error(r));
	if (len >= HDR) {
		memcpy(&raw, frame, sizeof(raw));
		rh = proto_check_hdr(&raw);
		CHECK(known_error(rh));
		/* A header it refuses, the frame is refused for. */
		CHECK(rh == 0 || r == rh);
		if (r == 0) {
			CHECK(rh == 0);
			CHECK(memcmp(&h, &raw, sizeof(h)) == 0);
			check_round_trip(copy, len, &h);
		}
	} else
		CHECK(r == -EBADMSG);
	free(copy);
	return r;
}

/* The daemon's side: frames as server_readable() cuts them. */
static void
daemon_stream(const uint8_t *data, size_t size)
{
	/* As struct conn's in[]: room for the largest request only. */
	unsigned char *in = malloc(HDR + sizeof(struct proto_req));
	struct proto_req req;
	struct proto_hdr hdr, h;
	size_t off = 0;
	int r;

	CHECK(in != NULL);
	while (size - off >= HDR) {
		memcpy(in, data + off, HDR);
		memcpy(&hdr, in, sizeof(hdr));
		r = proto_check_hdr(&hdr);
		CHECK(known_error(r));
		if (r == 0 && (hdr.type == 0 || hdr.type > PROTO_REQ_MAX))
			r = -EBADMSG;	/* a reply, or unknown */
		if (r != 0)
			break;
		/* What makes the fixed in[] safe: a request the header check
		 * lets through has the length of its type, which fits. */
		CHECK(proto_req_size(hdr.type) >= 0);
		CHECK(hdr.length == (size_t)proto_req_size(hdr.type));
		CHECK(hdr.length <= sizeof(struct proto_req));
		if (size - off - HDR < hdr.length)
			break;		/* the peer went away mid-frame */
		memcpy(in + HDR, data + off + HDR, hdr.length);
		/* server_frame() */
		r = proto_decode(in, HDR + hdr.length, &h);
		CHECK(r == 0 || r == -EBADMSG);
		CHECK(r == decode(in, HDR + hdr.length));
		if (r != 0)
			break;
		memset(&req, 0, sizeof(req));
		memcpy(&req, in + HDR, h.length);
		/* Flags only where the server reads them: ATTACH's create
		 * bit, ATTACH's and CREATE's mode, that only with its bit,
		 * FREE's force. */
		if (h.type == PROTO_FREE)
			CHECK((req.flags & ~PROTO_FREE_FORCE) == 0);
		else if (h.type != PROTO_ATTACH && h.type != PROTO_CREATE)
			CHECK(req.flags == 0);
		if (h.type == PROTO_CREATE)
			CHECK((req.flags & ~PROTO_MODE_FLAGS(0777)) == 0);
		if (!(req.flags & PROTO_MODE_SET))
			CHECK(PROTO_MODE_OF(req.flags) == 0);
		if (h.type != PROTO_DETACH)
			CHECK(req.serial == 0);
		off += HDR + hdr.length;
	}
	free(in);
}

/* The block info a client decoded says what the wire said, field by
 * field. */
static void
same_info(const struct rundown_block_info *info, const unsigned char *wire)
{
	struct proto_info pi;

	memcpy(&pi, wire, sizeof(pi));
	CHECK(info->tag == pi.tag);
	CHECK((uint32_t)info->state == pi.state);
	CHECK(info->generation == pi.generation);
	CHECK(info->cpus == pi.cpus);
	CHECK(info->rows == pi.rows);
	CHECK(info->attached == pi.attached);
	CHECK(info->outstanding == pi.outstanding);
	CHECK(info->reclaimed_rows == pi.reclaimed_rows);
	CHECK(info->reclaimed == pi.reclaimed);
	CHECK(info->uid == pi.uid);
	CHECK(info->gid == pi.gid);
	CHECK(info->mode == pi.mode);
	CHECK(info->fence_ms == pi.fence_ms);
	CHECK(info->fence_failures == pi.fence_failures);
	CHECK(info->rundowns == pi.rundowns);
	CHECK(info->last_start_ms == pi.last_start_ms);
	CHECK(info->last_drain_ms == pi.last_drain_ms);
	CHECK(info->last_duration_ms == pi.last_duration_ms);
	CHECK(info->last_reclaimed_rows == pi.last_reclaimed_rows);
}

/* A STATUS_REPLY payload that the client read: re-encoded, it is the
 * payload again (comm ends in NUL on the client's side). */
static void
status_round_trip(const unsigned char *payload, size_t len,
    const struct rundown_block_info *info,
    const struct rundown_holder *holders, size_t n)
{
	struct proto_holder ph;
	size_t i;

	CHECK(len == sizeof(struct proto_info) + n * sizeof(ph));
	same_info(info, payload);
	for (i = 0; i < n; i++) {
		memcpy(&ph, payload + sizeof(struct proto_info) + i * sizeof(ph), sizeof(ph));
		CHECK(holders[i].pid == ph.pid);
		CHECK(holders[i].row == ph.row);
		CHECK(holders[i].outstanding == ph.outstanding);
		CHECK(memcmp(holders[i].comm, ph.comm,
		    sizeof(ph.comm) - 1) == 0);
		CHECK(holders[i].comm[sizeof(ph.comm) - 1] == '\0');
	}
}

/* A STATUS_REPLY accepted by client_answer(), read as the client does. */
static void
client_status(const unsigned char *payload, size_t len, int decoded,
    uint32_t id)
{
	struct rundown_block_info info;
	struct rundown_holder *holders;
	size_t n = SIZE_MAX, max, m;
	int r;

	r = client_status_reply(payload, len, &info, NULL, 0, &n);
	CHECK(r == 0 || r == -EPROTO);
	/* Both decoders refuse a reserved field that is not zero: they
	 * agree. */
	CHECK((r == 0) == (decoded == 0));
	if (r != 0)
		return;
	CHECK(n == info.attached);
	/* All of them, then a few (the caller's max below the count). */
	holders = malloc((n > 0 ? n : 1) * sizeof(*holders));
	CHECK(holders != NULL);
	CHECK(client_status_reply(payload, len, &info, holders, n, &m) == 0);
	CHECK(m == n);
	status_round_trip(payload, len, &info, holders, n);
	free(holders);
	max = n > 0 ? id % n : 0;
	holders = malloc((max > 0 ? max : 1) * sizeof(*holders));
	CHECK(holders != NULL);
	CHECK(client_status_reply(payload, len, &info, holders, max, &m) == 0);
	CHECK(m == n);
	free(holders);
}

/* A LIST_REPLY accepted by client_answer(), read as the client does. */
static void
client_list(const unsigned char *payload, size_t len, int decoded,
    uint32_t id)
{
	struct rundown_block_info *blocks;
	struct proto_count pc;
	size_t n = SIZE_MAX, i, m, max;
	int r;

	r = client_list_reply(payload, len, NULL, 0, &n);
	CHECK(r == 0 || r == -EPROTO);
	/* The client ignores count.reserved; proto_decode() does not. */
	CHECK(len >= sizeof(pc));
	memcpy(&pc, payload, sizeof(pc));
	CHECK((decoded == 0) == (r == 0 && pc.reserved == 0));
	if (r != 0)
		return;
	CHECK(n == pc.count);
	blocks = malloc((n > 0 ? n : 1) * sizeof(*blocks));
	CHECK(blocks != NULL);
	CHECK(client_list_reply(payload, len, blocks, n, &m) == 0);
	CHECK(m == n);
	for (i = 0; i < n; i++)
		same_info(&blocks[i], payload + sizeof(pc) +
		    i * sizeof(struct proto_info));
	free(blocks);
	max = n > 0 ? id % n : 0;
	blocks = malloc((max > 0 ? max : 1) * sizeof(*blocks));
	CHECK(blocks != NULL);
	CHECK(client_list_reply(payload, len, blocks, max, &m) == 0);
	CHECK(m == n);
	free(blocks);
}

/* The calls that wait for a reply, and the buffer each gives it:
 * client_simple() and client_detach(), rundown_attach_at(),
 * rundown_ctl_status(), rundown_ctl_list(). */
static const struct {
	uint16_t want;
	size_t size;
} calls[] = {
	{ PROTO_OK, sizeof(struct proto_ok) },
	{ PROTO_ATTACHED, sizeof(struct proto_attached) },
	{ PROTO_STATUS_REPLY, PROTO_MAX_FRAME },
	{ PROTO_LIST_REPLY, PROTO_MAX_FRAME }
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

/* What one reply frame (header checked) says to each call. */
static void
client_frame(const struct proto_hdr *h, const unsigned char *frame)
{
	const unsigned char *body = frame + HDR;
	struct proto_attached a;
	struct proto_error e;
	unsigned char *payload;
	size_t i, take;
	int decoded, r;

	decoded = decode(frame, HDR + h->length);
	/* The header passed: only the payload can be wrong. */
	CHECK(decoded == 0 || decoded == -EBADMSG);
	for (i = 0; i < NCALLS; i++) {
		/* client_read_frame(): what fits, the rest dropped. */
		take = h->length < calls[i].size ? h->length : calls[i].size;
		payload = dup_exact(body, take);
		r = client_answer(h, payload, calls[i].size, calls[i].want);
		if (h->type == PROTO_ERROR && h->length == sizeof(e) &&
		    calls[i].size >= sizeof(e)) {
			memcpy(&e, body, sizeof(e));
			CHECK(r == (e.code > 0 ? -e.code : -EPROTO));
			CHECK(r < 0);
			CHECK((decoded == 0) == (e.reserved == 0));
		} else if (h->type != calls[i].want ||
		    h->length > calls[i].size)
			CHECK(r == -EPROTO);
		else
			CHECK(r == 0);
		if (r != 0) {
			free(payload);
			continue;
		}
		CHECK(take == h->length);
		switch (h->type) {
		case PROTO_OK:
			CHECK(h->length == sizeof(struct proto_ok));
			CHECK(decoded == 0);
			break;
		case PROTO_ATTACHED:
			CHECK(h->length == sizeof(a));
			memcpy(&a, payload, sizeof(a));
			CHECK((decoded == 0) ==
			    ((a.bflags & ~BLOCK_F_RSEQ) == 0));
			break;
		case PROTO_STATUS_REPLY:
			client_status(payload, take, decoded, h->id);
			break;
		case PROTO_LIST_REPLY:
			client_list(payload, take, decoded, h->id);
			break;
		default:
			CHECK(!"a reply of a type no call waits for");
		}
		free(payload);
	}
}

/* The library's side: frames as client_read_frame() reads them. */
static void
client_stream(const uint8_t *data, size_t size)
{
	struct proto_hdr h;
	size_t off = 0;

	while (size - off >= HDR) {
		memcpy(&h, data + off, sizeof(h));
		if (proto_check_hdr(&h) != 0)
			break;		/* -EPROTO to the caller */
		CHECK(h.length <= PROTO_MAX_FRAME - HDR);
		if (size - off - HDR < h.length)
			break;	/* the daemon went away mid-frame */
		client_frame(&h, data + off);
		off += HDR + h.length;
	}
}

/* The whole input as the payload of each reply that carries a list: the
 * client's checks of length and count, apart from the header's. */
static void
client_payload(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = {
		PROTO_STATUS_REPLY, PROTO_LIST_REPLY
	};
	struct rundown_block_info info;
	struct proto_hdr h;
	unsigned char *frame, *copy;
	size_t i, n;
	int r;

	if (size > PROTO_MAX_FRAME - HDR)
		return;
	frame = malloc(HDR + size);
	CHECK(frame != NULL);
	copy = dup_exact(data, size);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		n = proto_encode(frame, HDR + size, types[i], (uint32_t)size,
		    data, size);
		CHECK(n == HDR + size);
		memcpy(&h, frame, sizeof(h));
		if ((r = proto_check_hdr(&h)) == 0) {
			client_frame(&h, frame);
			continue;
		}
		/* A length the header check refuses, the client refuses. */
		CHECK(r == -EBADMSG);
		if (types[i] == PROTO_STATUS_REPLY)
			r = client_status_reply(copy, size, &info, NULL, 0,
			    &n);
		else
			r = client_list_reply(copy, size, NULL, 0, &n);
		CHECK(r == -EPROTO);
	}
	free(copy);
	free(frame);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char prefix[SHMNAME_PREFIX_MAX], *path;

	/* The whole input as one frame, as a unit test would hand it. */
	(void)decode(data, size);
	daemon_stream(data, size);
	client_stream(data, size);
	client_payload(data, size);

	/* The input as a socket path: the prefix always fits. */
	if ((path = malloc(size + 1)) != NULL) {
		memcpy(path, data, size);
		path[size] = '\0';
		memset(prefix, 0, sizeof(prefix));
		shmname_prefix(path, prefix, sizeof(prefix));
		CHECK(strncmp(prefix, "rundownd.", 9) == 0);
		CHECK(strlen(prefix) < sizeof(prefix) - 1);
		CHECK(prefix[strlen(prefix) - 1] == '.');
		free(path);
	}
	return 0;
}
