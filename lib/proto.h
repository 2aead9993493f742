/*
 * proto.h: the control protocol between rundownd and its clients.
 *
 * Frames over a Unix stream socket: a fixed header, then exactly `length`
 * bytes of payload whose size is fixed by the type (or, for the replies
 * that carry lists, a fixed part plus whole entries).  Host byte order:
 * both ends run on one machine.  A client may send requests without
 * waiting; replies carry the request's id and may come out of order (a
 * wait is answered when the run-down drains, later requests before it).
 * The ATTACHED reply carries two shared-memory descriptors as SCM_RIGHTS
 * with its first byte: the block's header, read-only, then the row lent
 * to the caller, read-write; no other frame carries descriptors.
 *
 * Any change to the header, the types or a payload below must bump
 * PROTO_VERSION.  Only the wire format here, and no I/O, so that the
 * decoder can be fuzzed on its own: the descriptors are passed by
 * fdpass.c, the shared-memory objects named by shmname.c.
 */
#ifndef RUNDOWN_PROTO_H
#define RUNDOWN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 8u	/* 4: proto_attached.bflags;
				 * 5: ATTACHED carries the header and the
				 * row as two objects (row_size);
				 * 6: proto_info.fence_ms;
				 * 7: proto_info.fence_failures;
				 * 8: proto_info.rundowns and last_* */
#define PROTO_MAX_FRAME 131072u		/* header included */
#define PROTO_MAX_ENTRIES 1024u		/* rows per block, blocks in a list */
#define PROTO_NO_TIMEOUT UINT32_MAX	/* wait timeout_ms: none */

struct proto_hdr {
	uint16_t version;	/* PROTO_VERSION */
	uint16_t type;		/* enum proto_type */
	uint32_t length;	/* payload bytes after this header */
	uint32_t id;		/* chosen by the client, echoed in the reply */
	uint32_t flags;		/* must be 0 */
};

enum proto_type {
	/* Requests: payload struct proto_req unless noted. */
	PROTO_CREATE = 1,	/* tag, arg = rows (0: default), flags */
	PROTO_ATTACH = 2,	/* tag, arg = rows if created, flags */
	PROTO_DETACH = 3,	/* tag, arg = row, serial */
	PROTO_WAIT = 4,		/* tag, arg = timeout in ms */
	PROTO_COMPLETED = 5,	/* tag */
	PROTO_REINIT = 6,	/* tag */
	PROTO_FREE = 7,		/* tag, flags */
	PROTO_STATUS = 8,	/* tag */
	PROTO_LIST = 9,		/* no payload */
	PROTO_REQ_MAX = PROTO_LIST,

	/* Replies. */
	PROTO_OK = 0x100,	/* struct proto_ok */
	PROTO_ERROR = 0x101,	/* struct proto_error */
	PROTO_ATTACHED = 0x102,	/* struct proto_attached + 2 descriptors */
	PROTO_STATUS_REPLY = 0x103, /* proto_info + proto_holder[info.attached] */
	PROTO_LIST_REPLY = 0x104 /* proto_count + proto_info[count] */
};

#define PROTO_ATTACH_CREATE 0x1u	/* flags of PROTO_ATTACH */
/* Flags of PROTO_CREATE and PROTO_ATTACH: the block, if created, gets the
 * permission bits PROTO_MODE_OF(flags) (0777 at most) instead of the
 * daemon's default.  Version 2 added it, and the owner and mode of
 * struct proto_info. */
#define PROTO_MODE_SET 0x2u
#define PROTO_MODE_SHIFT 16
#define PROTO_MODE_MASK 0777u
#define PROTO_MODE_FLAGS(m) \
	(PROTO_MODE_SET | (((uint32_t)(m) & PROTO_MODE_MASK) << PROTO_MODE_SHIFT))
#define PROTO_MODE_OF(f) (((f) >> PROTO_MODE_SHIFT) & PROTO_MODE_MASK)
/* Flag of PROTO_ATTACH: an existing block left completed is re-initialized
 * before the attach (which then needs w, not only r, of its mode), and
 * one whose run-down is in progress or drained is refused with EBUSY, so
 * that the attach always gives a row of an open block.  Version 3 added
 * it. */
#define PROTO_ATTACH_REOPEN 0x4u
/* Flag of PROTO_FREE: remove the block whatever its rows say (pending
 * waits end with ECANCELED); only its owner, root or the daemon's user
 * may.  Version 5 added it. */
#define PROTO_FREE_FORCE 0x8u

struct proto_req {
	uint32_t tag;
	uint32_t arg;
	uint32_t flags;		/* PROTO_CREATE, PROTO_ATTACH and PROTO_FREE
				 * only; 0 otherwise */
	uint32_t serial;	/* PROTO_DETACH only (from ATTACHED); 0 otherwise */
};

struct proto_ok {
	uint64_t value;		/* DETACH: protections the row still held */
};

struct proto_error {
	int32_t code;		/* positive errno */
	uint32_t reserved;
};

struct proto_attached {
	uint32_t tag;
	uint32_t row;
	uint32_t cpus;
	uint32_t rows;
	uint64_t size;		/* bytes of the header to map, read-only */
	uint32_t serial;	/* this block, as opposed to a later one with
				 * the same tag: DETACH must name it */
	uint32_t bflags;	/* the block's flags (lib/block.h BLOCK_F_*):
				 * BLOCK_F_RSEQ if rundownd fences */
	uint64_t row_size;	/* bytes of the row to map, read-write */
};

struct proto_info {
	uint32_t tag;
	uint32_t state;		/* enum rundown_state */
	uint32_t generation;
	uint32_t cpus;
	uint32_t rows;
	uint32_t attached;
	uint64_t outstanding;
	uint64_t reclaimed_rows;
	uint64_t reclaimed;
	uint32_t uid;		/* owner: the creator's */
	uint32_t gid;
	uint32_t mode;		/* permission bits, rundownd(8) */
	uint32_t fence_ms;	/* its run-down's start has waited this long
				 * for its fence (rundownd(8)), or 0 */
	uint32_t fence_failures; /* its fences that failed, modulo 2^32 */
	uint32_t pad;		/* 0 */
	/* The run-downs this daemon started on it since it created or
	 * adopted it, and the last of them (0s if none): its start, in ms
	 * since the Epoch; its drain, the start plus its duration (0 while
	 * in progress); its duration in ms, so far while in progress; the
	 * rows of exited processes reclaimed meanwhile. */
	uint64_t rundowns;
	int64_t last_start_ms;
	int64_t last_drain_ms;
	uint64_t last_duration_ms;
	uint64_t last_reclaimed_rows;
};

struct proto_holder {
	int32_t pid;
	uint32_t row;
	uint64_t outstanding;
	char comm[16];		/* NUL-terminated */
};

struct proto_count {
	uint32_t count;
	uint32_t reserved;
};

#define PROTO_HDR_SIZE sizeof(struct proto_hdr)

/*
 * Checks a frame header: 0, or a negative errno for the error reply.
 *   -EPROTO  wrong version or flags
 *   -EBADMSG unknown type, or a length this type cannot have
 *   -EMSGSIZE length beyond PROTO_MAX_FRAME
 */
int proto_check_hdr(const struct proto_hdr *h);

/*
 * Checks a whole frame (header and payload, len bytes from buf) and
 * copies the header to *h: 0, or as proto_check_hdr(), with -EBADMSG for
 * reserved fields that are not zero or counts that disagree with length.
 * The payload starts at buf + PROTO_HDR_SIZE; buf needs no alignment.
 */
int proto_decode(const void *buf, size_t len, struct proto_hdr *h);

/* Writes a frame (header, then payload) to buf: its size, or 0 if it does
 * not fit in size bytes or exceeds PROTO_MAX_FRAME. */
size_t proto_encode(void *buf, size_t size, uint16_t type, uint32_t id,
    const void *payload, size_t length);

/* Payload length that a request of this type must have (-1: unknown). */
long proto_req_size(uint16_t type);

/*
 * What the daemon believes of a block, in the object NAME.meta beside its
 * header NAME (mode 0600, the daemon's, never handed to a client): this,
 * then one struct proto_meta_row per row.  Not part of the protocol; kept
 * here so that the daemon and its tests read it alike.  The row lent to a
 * process is the object NAME.rID (ID in 16 hex digits).
 */
struct proto_meta {
	uint32_t magic;		/* PROTO_META_MAGIC */
	uint32_t version;	/* the block layout's (lib/block.h) */
	uint32_t serial;	/* of the header it belongs to */
	uint32_t uid;		/* owner, group and mode: rundownd(8) */
	uint32_t gid;
	uint32_t mode;
	uint32_t cpus;		/* the shape */
	uint32_t rows;
	uint32_t flags;		/* BLOCK_F_* */
	uint32_t reserved;
	uint64_t page;		/* the page the rows were laid out for */
};

struct proto_meta_row {
	int32_t pid;		/* 0: the row is free */
	uint32_t uid;
	uint64_t start;		/* clock ticks after boot */
	uint64_t id;		/* the row's object: NAME.rID */
};

#define PROTO_META_MAGIC 0x4154454du	/* "META" */

#endif /* RUNDOWN_PROTO_H */
