/*
 * make-corpus.c: writes the seed corpus of fuzz_proto (tests/fuzz/corpus)
 * into the directory named on the command line.
 *
 * One file a seed, named for what it holds: each request, each reply, a
 * few frames in a row as a client pipelines them, and frames that break
 * each rule the decoders check.  Built from proto_encode() and the
 * structs of proto.h, so the seeds follow the protocol when it changes;
 * tests/check-fuzz.sh fails if the committed corpus differs from what
 * this writes (regenerate it then, see there).  Host byte order, as the
 * protocol: the committed seeds are little-endian.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char *dir;
static unsigned char frame[PROTO_MAX_FRAME + 64];
static unsigned char stream[4096];
static size_t streamlen;

/* Writes len bytes of p to dir/name. */
static void
put(const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Encodes one frame into frame[]: its size. */
static size_t
enc(uint16_t type, uint32_t id, const void *payload, size_t length)
{
	size_t n = proto_encode(frame, sizeof(frame), type, id, payload,
	    length);

	if (n == 0) {
		fprintf(stderr, "make-corpus: cannot encode type %u\n", type);
		exit(1);
	}
	return n;
}

/* Writes one encoded frame as a seed. */
static void
seed(const char *name, uint16_t type, uint32_t id, const void *payload,
    size_t length)
{
	put(name, frame, enc(type, id, payload, length));
}

/* Appends the frame in frame[] (n bytes) to stream[]. */
static void
append(size_t n)
{
	if (streamlen + n > sizeof(stream)) {
		fprintf(stderr, "make-corpus: stream too long\n");
		exit(1);
	}
	memcpy(stream + streamlen, frame, n);
	streamlen += n;
}

/* Overwrites header field bytes of the frame in frame[] (n bytes) and
 * writes it as a seed. */
static void
seed_hdr(const char *name, size_t n, const struct proto_hdr *h)
{
	memcpy(frame, h, sizeof(*h));
	put(name, frame, n);
}

/* Encodes the largest STATUS_REPLY into frame[]: its size. */
static size_t
status_max(const struct proto_info *info)
{
	static unsigned char body[PROTO_MAX_FRAME];
	struct proto_holder h;
	struct proto_info pi = *info;
	size_t i, n;

	/* 2046 exactly fill it today; if the structs change, as many as
	 * fit. */
	n = (PROTO_MAX_FRAME - PROTO_HDR_SIZE - sizeof(pi)) / sizeof(h);
	pi.attached = (uint32_t)n;
	memcpy(body, &pi, sizeof(pi));
	for (i = 0; i < n; i++) {
		memset(&h, 0, sizeof(h));
		h.pid = (int32_t)(1000 + i);
		h.row = (uint32_t)i;
		h.outstanding = i % 3;
		snprintf(h.comm, sizeof(h.comm), "agent-%zu", i);
		memcpy(body + sizeof(pi) + i * sizeof(h), &h, sizeof(h));
	}
	return enc(PROTO_STATUS_REPLY, 8, body, sizeof(pi) + n * sizeof(h));
}

int
main(int argc, char **argv)
{
	struct proto_req req;
	struct proto_ok ok = { .value = 3 };
	struct proto_error err = { .code = ENOENT };
	struct proto_attached att = { .tag = 0x6b6f6f42, .row = 1, .cpus = 4,
	    .rows = 64, .size = 40960, .serial = 7 };
	struct {
		struct proto_info info;
		struct proto_holder h[2];
	} st;
	struct {
		struct proto_count count;
		struct proto_info info[2];
	} ls;
	struct proto_hdr h;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: make-corpus DIR\n");
		return 2;
	}
	dir = argv[1];

	/* Requests, as rundown_ctl_*() and rundown_attach() send them. */
	memset(&req, 0, sizeof(req));
	req.tag = 0x6b6f6f42;
	req.arg = 64;
	seed("req-create", PROTO_CREATE, 1, &req, sizeof(req));
	req.flags = PROTO_ATTACH_CREATE;
	seed("req-attach", PROTO_ATTACH, 2, &req, sizeof(req));
	req.flags = PROTO_ATTACH_CREATE | PROTO_ATTACH_REOPEN;
	seed("req-attach-reopen", PROTO_ATTACH, 2, &req, sizeof(req));
	req.flags = 0;
	req.arg = 1;
	req.serial = 7;
	seed("req-detach", PROTO_DETACH, 3, &req, sizeof(req));
	req.serial = 0;
	req.arg = PROTO_NO_TIMEOUT;
	seed("req-wait", PROTO_WAIT, 4, &req, sizeof(req));
	req.arg = 0;
	seed("req-completed", PROTO_COMPLETED, 5, &req, sizeof(req));
	seed("req-reinit", PROTO_REINIT, 6, &req, sizeof(req));
	seed("req-free", PROTO_FREE, 7, &req, sizeof(req));
	req.flags = PROTO_FREE_FORCE;
	seed("req-free-force", PROTO_FREE, 7, &req, sizeof(req));
	req.flags = 0;
	seed("req-status", PROTO_STATUS, 8, &req, sizeof(req));
	seed("req-list", PROTO_LIST, 9, NULL, 0);

	/* Several requests in a row, as a client may pipeline them. */
	streamlen = 0;
	append(enc(PROTO_CREATE, 1, &req, sizeof(req)));
	append(enc(PROTO_STATUS, 2, &req, sizeof(req)));
	append(enc(PROTO_LIST, 3, NULL, 0));
	append(enc(PROTO_FREE, 4, &req, sizeof(req)));
	put("req-stream", stream, streamlen);

	/* Replies, as rundownd sends them. */
	seed("rep-ok", PROTO_OK, 1, &ok, sizeof(ok));
	seed("rep-error", PROTO_ERROR, 2, &err, sizeof(err));
	err.code = EACCES;
	seed("rep-refused", PROTO_ERROR, 0, &err, sizeof(err));
	seed("rep-attached", PROTO_ATTACHED, 3, &att, sizeof(att));
	memset(&st, 0, sizeof(st));
	st.info.tag = 0x6b6f6f42;
	st.info.state = 1;
	st.info.generation = 2;
	st.info.cpus = 4;
	st.info.rows = 64;
	st.info.attached = 2;
	st.info.outstanding = 5;
	st.info.reclaimed_rows = 1;
	st.info.reclaimed = 9;
	st.info.uid = 1000;
	st.info.gid = 100;
	st.info.mode = 0640;
	st.h[0].pid = 1234;
	st.h[0].row = 0;
	st.h[0].outstanding = 3;
	memcpy(st.h[0].comm, "worker", 7);
	st.h[1].pid = 1235;
	st.h[1].row = 1;
	st.h[1].outstanding = 2;
	memcpy(st.h[1].comm, "fifteen-chars-x", 16);
	seed("rep-status", PROTO_STATUS_REPLY, 4, &st, sizeof(st));
	st.info.attached = 0;
	seed("rep-status-empty", PROTO_STATUS_REPLY, 5, &st.info,
	    sizeof(st.info));
	memset(&ls, 0, sizeof(ls));
	ls.count.count = 2;
	ls.info[0] = st.info;
	ls.info[1] = st.info;
	ls.info[1].tag = 0x2e6c6f50;
	ls.info[1].state = 3;
	seed("rep-list", PROTO_LIST_REPLY, 6, &ls, sizeof(ls));
	ls.count.count = 0;
	seed("rep-list-empty", PROTO_LIST_REPLY, 7, &ls.count,
	    sizeof(ls.count));

	/* The largest frame there is: as many holders as fill it. */
	put("rep-status-max", frame, status_max(&st.info));

	/* A reply to another request, then the one awaited, then another
	 * id's error: client_call() skips what is not its own. */
	streamlen = 0;
	append(enc(PROTO_OK, 9, &ok, sizeof(ok)));
	append(enc(PROTO_ATTACHED, 3, &att, sizeof(att)));
	err.code = ENOENT;
	append(enc(PROTO_ERROR, 4, &err, sizeof(err)));
	put("rep-stream", stream, streamlen);

	/* Edges: frames cut short. */
	n = enc(PROTO_CREATE, 1, &req, sizeof(req));
	put("bad-truncated", frame, n - 9);
	put("bad-short-header", frame, PROTO_HDR_SIZE - 1);

	/* Edges: headers each check refuses. */
	n = enc(PROTO_STATUS, 1, &req, sizeof(req));
	memcpy(&h, frame, sizeof(h));
	h.length = PROTO_MAX_FRAME;
	seed_hdr("bad-oversized", n, &h);
	h.length = PROTO_MAX_FRAME - PROTO_HDR_SIZE + 1;
	seed_hdr("bad-oversized-by-one", n, &h);
	memcpy(&h, frame, sizeof(h));
	h.version = PROTO_VERSION + 1;
	seed_hdr("bad-version", n, &h);
	memcpy(&h, frame, sizeof(h));
	h.flags = 1;
	seed_hdr("bad-flags", n, &h);
	memcpy(&h, frame, sizeof(h));
	h.type = 0x7fff;
	seed_hdr("bad-type", n, &h);
	memcpy(&h, frame, sizeof(h));
	h.length = sizeof(req) - 1;
	seed_hdr("bad-length", n - 1, &h);

	/* Edges: payloads that break a rule of their type. */
	req.flags = 0x8;	/* 0x2 is PROTO_MODE_SET, 0x4 REOPEN */
	seed("bad-attach-flags", PROTO_ATTACH, 1, &req, sizeof(req));
	req.flags = PROTO_ATTACH_CREATE;	/* FREE takes FORCE only */
	seed("bad-free-flags", PROTO_FREE, 1, &req, sizeof(req));
	req.flags = 0;
	req.serial = 7;
	seed("bad-serial", PROTO_WAIT, 1, &req, sizeof(req));
	req.serial = 0;
	err.reserved = 1;
	seed("bad-error-reserved", PROTO_ERROR, 1, &err, sizeof(err));
	att.bflags = 2;		/* only BLOCK_F_RSEQ (1) travels */
	seed("bad-attached-bflags", PROTO_ATTACHED, 1, &att, sizeof(att));
	att.bflags = 0;
	st.info.attached = 3;
	seed("bad-status-count", PROTO_STATUS_REPLY, 1, &st, sizeof(st));
	st.info.attached = 2;
	st.info.fence_ms = 1500;	/* any: a fence under way */
	seed("status-fence", PROTO_STATUS_REPLY, 1, &st, sizeof(st));
	st.info.fence_ms = 0;
	/* A run-down in progress (no drain yet), then one drained. */
	st.info.rundowns = 3;
	st.info.last_start_ms = 1796656505123;
	st.info.last_duration_ms = 250;
	st.info.last_reclaimed_rows = 1;
	seed("status-rundown", PROTO_STATUS_REPLY, 1, &st, sizeof(st));
	st.info.last_drain_ms = st.info.last_start_ms + 250;
	seed("status-drained", PROTO_STATUS_REPLY, 1, &st, sizeof(st));
	st.info.rundowns = 0;
	st.info.last_start_ms = st.info.last_drain_ms = 0;
	st.info.last_duration_ms = st.info.last_reclaimed_rows = 0;
	ls.count.count = 2;
	ls.count.reserved = 1;
	seed("bad-list-reserved", PROTO_LIST_REPLY, 1, &ls, sizeof(ls));
	ls.count.reserved = 0;
	ls.count.count = 1;
	seed("bad-list-count", PROTO_LIST_REPLY, 1, &ls, sizeof(ls));
	/* A request, then a reply sent to the daemon, which takes requests
	 * only. */
	streamlen = 0;
	append(enc(PROTO_LIST, 1, NULL, 0));
	append(enc(PROTO_OK, 2, &ok, sizeof(ok)));
	put("bad-reply-to-daemon", stream, streamlen);
	return 0;
}
