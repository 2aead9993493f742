/* proto.c: frame checks and encoding for the control protocol (proto.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "block.h"
#include "proto.h"

long
proto_req_size(uint16_t type)
{
	switch (type) {
	case PROTO_CREATE:
	case PROTO_ATTACH:
	case PROTO_DETACH:
	case PROTO_WAIT:
	case PROTO_COMPLETED:
	case PROTO_REINIT:
	case PROTO_FREE:
	case PROTO_STATUS:
		return (long)sizeof(struct proto_req);
	case PROTO_LIST:
		return 0;
	default:
		return -1;
	}
}

/* The fixed part of a payload and the size of its entries (0: none). */
static int
proto_shape(uint16_t type, size_t *fixed, size_t *entry)
{
	long n = proto_req_size(type);

	*entry = 0;
	if (n >= 0) {
		*fixed = (size_t)n;
		return 0;
	}
	switch (type) {
	case PROTO_OK:
		*fixed = sizeof(struct proto_ok);
		return 0;
	case PROTO_ERROR:
		*fixed = sizeof(struct proto_error);
		return 0;
	case PROTO_ATTACHED:
		*fixed = sizeof(struct proto_attached);
		return 0;
	case PROTO_STATUS_REPLY:
		*fixed = sizeof(struct proto_info);
		*entry = sizeof(struct proto_holder);
		return 0;
	case PROTO_LIST_REPLY:
		*fixed = sizeof(struct proto_count);
		*entry = sizeof(struct proto_info);
		return 0;
	default:
		return -EBADMSG;
	}
}

int
proto_check_hdr(const struct proto_hdr *h)
{
	size_t fixed, entry;

	if (h->version != PROTO_VERSION || h->flags != 0)
		return -EPROTO;
	if (h->length > PROTO_MAX_FRAME - PROTO_HDR_SIZE)
		return -EMSGSIZE;
	if (proto_shape(h->type, &fixed, &entry) != 0)
		return -EBADMSG;
	if (h->length < fixed || (entry == 0 && h->length != fixed) ||
	    (entry != 0 && (h->length - fixed) % entry != 0))
		return -EBADMSG;
	return 0;
}

int
proto_decode(const void *buf, size_t len, struct proto_hdr *h)
{
	const char *p = buf;
	struct proto_req req;
	struct proto_info info;
	struct proto_count count;
	size_t fixed, entry;
	int r;

	if (len < PROTO_HDR_SIZE)
		return -EBADMSG;
	memcpy(h, p, sizeof(*h));
	if ((r = proto_check_hdr(h)) != 0)
		return r;
	if (len != PROTO_HDR_SIZE + h->length)
		return -EBADMSG;
	p += PROTO_HDR_SIZE;
	proto_shape(h->type, &fixed, &entry);

	/* The fields each type leaves reserved must be zero, and a list
	 * must carry exactly the entries it counts. */
	if (fixed == sizeof(req) && proto_req_size(h->type) > 0) {
		memcpy(&req, p, sizeof(req));
		if ((h->type != PROTO_DETACH && req.serial != 0) ||
		    (h->type != PROTO_ATTACH && h->type != PROTO_CREATE &&
		    h->type != PROTO_FREE && req.flags != 0) ||
		    (h->type == PROTO_FREE &&
		    (req.flags & ~PROTO_FREE_FORCE) != 0) ||
		    (h->type == PROTO_ATTACH && (req.flags &
		    ~(PROTO_ATTACH_CREATE | PROTO_ATTACH_REOPEN |
		    PROTO_MODE_FLAGS(0777))) != 0) ||
		    (h->type == PROTO_CREATE &&
		    (req.flags & ~PROTO_MODE_FLAGS(0777)) != 0) ||
		    (!(req.flags & PROTO_MODE_SET) && PROTO_MODE_OF(req.flags)))
			return -EBADMSG;
	} else if (h->type == PROTO_ERROR) {
		struct proto_error e;

		memcpy(&e, p, sizeof(e));
		if (e.reserved != 0)
			return -EBADMSG;
	} else if (h->type == PROTO_ATTACHED) {
		struct proto_attached a;

		memcpy(&a, p, sizeof(a));
		if ((a.bflags & ~BLOCK_F_RSEQ) != 0)
			return -EBADMSG;
	} else if (h->type == PROTO_STATUS_REPLY) {
		memcpy(&info, p, sizeof(info));
		if ((h->length - fixed) / entry != info.attached)
			return -EBADMSG;
	} else if (h->type == PROTO_LIST_REPLY) {
		memcpy(&count, p, sizeof(count));
		if (count.reserved != 0 ||
		    (h->length - fixed) / entry != count.count)
			return -EBADMSG;
	}
	return 0;
}

size_t
proto_encode(void *buf, size_t size, uint16_t type, uint32_t id,
    const void *payload, size_t length)
{
	struct proto_hdr h;

	if (length > PROTO_MAX_FRAME - PROTO_HDR_SIZE ||
	    size < PROTO_HDR_SIZE + length)
		return 0;
	memset(&h, 0, sizeof(h));
	h.version = PROTO_VERSION;
	h.type = type;
	h.length = (uint32_t)length;
	h.id = id;
	memcpy(buf, &h, sizeof(h));
	if (length != 0)
		memcpy((char *)buf + PROTO_HDR_SIZE, payload, length);
	return PROTO_HDR_SIZE + length;
}
