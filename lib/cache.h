/*
 * cache.h: the process-local descriptor of a cache-aware block.
 *
 * rundown_cache_t is the descriptor: what Windows keeps in the header of
 * EX_RUNDOWN_REF_CACHE_AWARE (where the slots are, their stride, how many,
 * what to free).  It is written once and then only read, so every CPU keeps
 * its own copy of its line.  Offsets, not pointers, locate the block and
 * this process's row, so a descriptor inside a shared mapping works at any
 * address.  For a block in a caller's buffer or on the heap the block
 * follows the descriptor; for a shared block (rundownd) the descriptor is
 * process-local and the block is a mapping.
 */
#ifndef RUNDOWN_CACHE_H
#define RUNDOWN_CACHE_H

#include <stdint.h>
#include <time.h>

#include <rundown/rundown.h>

#include "block.h"
#include "rseq.h"

#define CACHE_MAGIC 0x52434443u		/* descriptor initialized */

#define CACHE_CALLER_BUFFER 0x1u	/* the caller owns the memory */
#define CACHE_HEAP 0x2u			/* rundown_cache_alloc() made it */
#define CACHE_SHARED 0x4u		/* rundown_attach() made it (ops) */
#define CACHE_FORKED 0x8u		/* inherited across fork(): inert */

struct shared;
struct cache_ops;

struct rundown_cache {
	/*
	 * First, and ABI for RUNDOWN_INLINE callers (<rundown/inline.h>):
	 * block_off and row_off (this row's slot 0, its drain word lead
	 * bytes before) from the descriptor's address, shift (log2 of the
	 * bytes between slots), and rcpus: cpus if this process's threads
	 * may commit in the rseq words, else 0.
	 */
	struct rundown_cache_fast fast;
	uint32_t magic;
	uint32_t flags;
	uint32_t cpus;		/* slots per row */
	uint32_t bflags;	/* the block's BLOCK_F_* */
	uint32_t row;		/* this process's row */
	uint32_t rows;		/* of the block: with cpus, its checked shape */
	uint32_t tag;
	size_t size;		/* the size given to init */
	const struct cache_ops *ops; /* the kind's slow operations */
	struct shared *shared;	/* CACHE_SHARED: the attachment (attach.c) */
	uint64_t inert;		/* CACHE_FORKED: the one slot, always ACTIVE */
};

/*
 * What a kind of block does on the slow side, chosen once when the
 * descriptor is filled: the library's own blocks run down in process
 * (block.c, cache.c), an attached one through rundownd (attach.c).  The
 * fast path and the release's slow charge are the same for both.
 */
struct cache_ops {
	int (*wait)(rundown_cache_t *ref, const struct timespec *timeout);
	int (*completed)(rundown_cache_t *ref);
	int (*reinit)(rundown_cache_t *ref);
	int (*query)(const rundown_cache_t *ref, struct rundown_status *st);
	int (*free)(rundown_cache_t *ref);
	/* rundown_cache_wait_start() and rundown_cache_wait_finish(). */
	int (*wait_start)(rundown_cache_t *ref);
	int (*wait_finish)(rundown_cache_t *ref, int fd);
};

/*
 * What a descriptor is filled from: the block (its header mapping), the
 * drain word of this process's row, the block's shape, the kind's
 * operations, and for the library's blocks how the memory was got
 * (CACHE_CALLER_BUFFER, CACHE_HEAP) or for an attachment CACHE_SHARED.
 */
struct cache_source {
	struct rundown_block *block;
	uint64_t *row;
	uint32_t row_index;
	const struct block_layout *layout;
	const struct cache_ops *ops;
	uint32_t flags;
	uint32_t tag;
	size_t size;
};

/* 0, or -EPROTO once a RUNDOWN_INLINE caller registered a layout other
 * than this library's: every hand-out of a descriptor asks first. */
int cache_layout_check(void);

/* Fills ref from src: the one place a descriptor is written whole. */
void cache_fill(rundown_cache_t *ref, const struct cache_source *src);

/* rundown_cache_size() for a machine of cpus CPUs. */
size_t cache_size_cpus(uint32_t cpus);

/* rundown_cache_init() for a machine of cpus CPUs (tests use 1). */
int cache_init_cpus(rundown_cache_t *ref, size_t size, uint32_t cpus,
    uint32_t tag);

/* The block behind a descriptor. */
static inline struct rundown_block *
cache_block(const rundown_cache_t *ref)
{
	return (struct rundown_block *)(void *)((char *)ref + ref->fast.block_off);
}

/* The block's shape from the descriptor's own copy (see block.h). */
static inline void
cache_layout(const rundown_cache_t *ref, struct block_layout *l)
{
	block_layout(ref->cpus, ref->rows, l);
	l->flags = ref->bflags;
}

/* This process's row: its drain word, which leads its slot 0 by the same
 * bytes in every layout of the block's shape. */
static inline uint64_t *
cache_row(const rundown_cache_t *ref)
{
	struct block_layout l;

	cache_layout(ref, &l);
	return (uint64_t *)(void *)((char *)ref + ref->fast.row_off - l.lead);
}

/* The block's state word, which the rseq sections check. */
static inline const uint32_t *
cache_state(const rundown_cache_t *ref)
{
	return &cache_block(ref)->state;
}

/* CPU 0's rseq word in this process's row. */
static inline char *
cache_pc(const rundown_cache_t *ref)
{
	return (char *)ref + ref->fast.row_off + SLOT_PC * sizeof(uint64_t);
}

/* What rcpus should be for a block of cpus slots and flags bflags: the
 * block says whether its run-down fences, this build whether its threads
 * can run the sections at all. */
static inline uint32_t
cache_rcpus(uint32_t cpus, uint32_t bflags)
{
	return RUNDOWN_RSEQ_CS && (bflags & BLOCK_F_RSEQ) ? cpus : 0;
}

/* Acquire and release on the slot of a given CPU rather than the current
 * one (cpu is reduced modulo the block's CPUs); tests use them to place
 * an acquire and its release on different slots deterministically. */
bool cache_acquire_on(rundown_cache_t *ref, uint32_t cpu, uint32_t n);
void cache_release_on(rundown_cache_t *ref, uint32_t cpu, uint32_t n);

/* A release whose slot was ACTIVE: charged to the row, unless the
 * descriptor was inherited across fork() (out of line). */
void cache_release_slow(rundown_cache_t *ref, uint32_t n);

#endif /* RUNDOWN_CACHE_H */
