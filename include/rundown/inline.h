/*
 * inline.h: the cache-aware acquire and release, inline in the caller.
 *
 * A program that defines RUNDOWN_INLINE before it includes
 * <rundown/rundown.h> (or <rundown/wdm.h>) gets rundown_cache_acquire(),
 * rundown_cache_acquire_n(), rundown_cache_release() and
 * rundown_cache_release_n(), and the cache-aware acquire and release of
 * wdm.h, as static inline functions: the restartable sequence that the
 * library commits with (rseq(2)) runs in the caller's own code, with no
 * call, no PLT and nothing reloaded behind it.  Whatever that sequence
 * cannot do is left to the library, by a call to the same function out of
 * line: a NULL reference; a release on a closed block (a closed block's
 * acquire returns false inline, as the library's does); a thread with no
 * rseq area (valgrind, glibc.pthread.rseq=0) or on a CPU beyond the
 * block's; a block or descriptor without the rseq path (the atomic path,
 * a descriptor inherited across fork()); and every call where this header
 * cannot build the sequence (RUNDOWN_RSEQ_CS 0: architectures other than
 * x86-64 and little-endian aarch64, glibc older than 2.35, compilers
 * without asm goto, sanitizer builds, or RUNDOWN_NO_RSEQ defined).  An
 * inline caller and the library's own functions share every block: they
 * run the same sequence on the same words.
 *
 * The library includes this header too, without RUNDOWN_INLINE, for the
 * sequence and the descriptor's first fields: there is one copy of each.
 * Include <rundown/rundown.h>, never this header alone.
 *
 * ABI.  The inline code reads the descriptor's first fields (struct
 * rundown_cache_fast) and three facts of a block: where its state word
 * lies (RUNDOWN_INLINE_STATE_OFF), which of its bits mean closed
 * (RUNDOWN_INLINE_CLOSED), and where a slot's rseq word lies
 * (RUNDOWN_INLINE_PC_OFF).  Together they are layout
 * RUNDOWN_CACHE_LAYOUT.  Every translation unit that inlines registers
 * its layout with the library before main() runs (a constructor), and
 * from a registration of another layout on the library refuses to hand
 * out descriptors (-EPROTO: rundown_cache_init(), rundown_cache_alloc(),
 * rundown_attach()).  A change to any of these changes the layout number
 * and the library's soname (librundown-client(3)); a program that loads
 * an inlining module with dlopen() after it holds descriptors is checked
 * only for the descriptors handed out afterwards.
 */
#ifndef RUNDOWN_INLINE_H
#define RUNDOWN_INLINE_H

#include <stddef.h>
#include <stdint.h>

#include <rundown/rundown.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RUNDOWN_CACHE_LAYOUT 1u

/* Layout 1: the block's state word, 28 bytes into its header; its low
 * three bits are 0 while the block is open; a slot's rseq word is the
 * second word of the slot's line. */
#define RUNDOWN_INLINE_STATE_OFF 28
#define RUNDOWN_INLINE_CLOSED 7u
#define RUNDOWN_INLINE_PC_OFF 8

/*
 * The first bytes of every descriptor (rundown_cache_t), written once
 * when the library hands the descriptor out and only read afterwards.
 * Offsets, not pointers, from the descriptor's own address, so that a
 * descriptor in memory mapped at different addresses works in each.
 */
struct rundown_cache_fast {
	int64_t block_off;	/* the block's header */
	int64_t row_off;	/* CPU 0's slot in this process's row */
	uint32_t shift;		/* log2 of the bytes from one slot to the next */
	uint32_t rcpus;		/* slots the sequence may add to; 0: none */
};

/*
 * Registers the layout a translation unit inlines (RUNDOWN_INLINE does
 * it); 0, or -EPROTO if the library's is another, after which it hands
 * out no descriptor.
 */
RUNDOWN_API int rundown_cache_layout(uint32_t layout);

/* What the sequence did: committed, found the block closed, or had no
 * slot (no rseq area, or a CPU not below rcpus). */
enum { RUNDOWN_RSEQ_DONE, RUNDOWN_RSEQ_CLOSED, RUNDOWN_RSEQ_NOSLOT };

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RUNDOWN_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RUNDOWN_SANITIZED 1
#endif

/* <sys/rseq.h> (glibc 2.35): __rseq_offset, struct rseq.  A build may
 * say so itself by defining RUNDOWN_RSEQ_AREA. */
#if !defined(RUNDOWN_RSEQ_AREA) && defined(__has_include) && \
    defined(__GLIBC__)
#if __has_include(<sys/rseq.h>) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define RUNDOWN_RSEQ_AREA 1
#endif
#endif
#ifdef RUNDOWN_RSEQ_AREA
#include <sys/rseq.h>
#endif

#if defined(RUNDOWN_RSEQ_AREA) && !defined(RUNDOWN_SANITIZED) && \
    !defined(RUNDOWN_NO_RSEQ) && defined(__GNUC__) && \
    (defined(__x86_64__) || (defined(__aarch64__) && !defined(__AARCH64EB__)))
#define RUNDOWN_RSEQ_CS 1
#else
#define RUNDOWN_RSEQ_CS 0
#endif

#if RUNDOWN_RSEQ_CS

/*
 * The sequence.  glibc registers an rseq area for every thread; the
 * kernel keeps the thread's CPU in it and, when the thread is preempted,
 * migrated or signalled inside a critical section that the area points
 * to, resumes it at the section's abort handler instead.  So a section
 * that loads the CPU number, checks the state word and ends with one add
 * to that CPU's word either commits on the CPU it read, with the state it
 * read still current as far as this CPU can tell, or starts again from
 * the top: no lock prefix, no fence, no system call.  What it cannot see
 * is another CPU changing the state word between the check and the add;
 * the party that closes the block (run-down) fences after the change, so
 * that every section that read the old state has committed or will
 * restart (the library's fence.c).
 *
 * rundown_rseq_add() adds delta (modulo 2^64) to the word at base + (cpu
 * << shift), base being CPU 0's, if cpu < cpus and (*state & mask) == 0,
 * and says which of those held.  The state word is loaded with acquire
 * semantics (x86: every load; aarch64: ldar), so that an acquire that
 * commits sees what a re-initialize published before it opened the
 * block.  The add needs no ordering of its own: only the run-down reads
 * these words, after its fence, which orders everything this CPU did
 * before it (the kernel's barrier in the interrupt or context switch).
 *
 * The section's descriptor (struct rseq_cs: version 0, flags 0, start,
 * length, abort) goes into __rseq_cs and its address into
 * __rseq_cs_ptr_array, where debuggers and checkpointing tools find every
 * section of a program.  Labels: 1 start, 2 end of the commit, 3 the
 * descriptor, 4 the abort handler, after the signature glibc registered
 * the area with.
 */
#define RUNDOWN_RSEQ_TABLE						\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n\t"						\
	"3:\n\t"							\
	".long 0, 0\n\t"						\
	".quad 1f, 2f - 1f, 4f\n\t"					\
	".popsection\n\t"						\
	".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"			\
	".quad 3b\n\t"							\
	".popsection\n\t"

#if defined(__x86_64__)
/*
 * x86-64 in two halves, so that the library's tests can put a delay
 * between the check and the commit: the top, from publishing the section
 * to the state word's check, leaving the CPU number in %eax; and the
 * commit, with the abort handler.  The area is addressed through %fs and
 * __rseq_offset, which spares loading the thread pointer.
 */
#define RUNDOWN_RSEQ_X86_CHECK						\
	RUNDOWN_RSEQ_TABLE						\
	"leaq 3b(%%rip), %%rax\n\t"					\
	"movq %%rax, %%fs:%c[cs](%[rs])\n\t"				\
	"1:\n\t"							\
	"movl %%fs:%c[cpu](%[rs]), %%eax\n\t"				\
	"cmpl %[cpus], %%eax\n\t"					\
	"jae %l[noslot]\n\t"						\
	"testl %[mask], %[state]\n\t"					\
	"jnz %l[closed]\n\t"
#define RUNDOWN_RSEQ_X86_COMMIT						\
	"shlq %%cl, %%rax\n\t"						\
	"addq %[delta], (%[base], %%rax)\n\t"				\
	"2:\n\t"							\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	/* ud1 0x53053053(%rip), %edi: traps if ever run */		\
	".byte 0x0f, 0xb9, 0x3d\n\t"					\
	".long 0x53053053\n\t"						\
	"4:\n\t"							\
	"jmp %l[aborted]\n\t"						\
	".popsection\n\t"
/* The operands both halves name, as rundown_rseq_add() gives them. */
#define RUNDOWN_RSEQ_X86_INPUTS(off, state, mask, base, shift, cpus,	\
    delta)								\
	[rs] "r" (off),							\
	[cs] "i" (__builtin_offsetof(struct rseq, rseq_cs)),		\
	[cpu] "i" (__builtin_offsetof(struct rseq, cpu_id)),		\
	[cpus] "r" (cpus), [state] "m" (*(state)), [mask] "ir" (mask),	\
	"c" (shift), [base] "r" (base), [delta] "er" (delta)
#endif

/* off is __rseq_offset: where the area lies from the thread pointer. */
static inline __attribute__((always_inline)) int
rundown_rseq_add(ptrdiff_t off, const uint32_t *state, uint32_t mask,
    char *base, uint32_t shift, uint32_t cpus, uint64_t delta)
{
#if defined(__x86_64__)
retry:
	__asm__ goto (
		RUNDOWN_RSEQ_X86_CHECK
		RUNDOWN_RSEQ_X86_COMMIT
		:
		: RUNDOWN_RSEQ_X86_INPUTS(off, state, mask, base, shift,
		      cpus, delta)
		: "memory", "cc", "rax"
		: noslot, closed, aborted);
#else	/* aarch64, little-endian */
	char *rs = (char *)__builtin_thread_pointer() + off;

retry:
	__asm__ goto (
		RUNDOWN_RSEQ_TABLE
		"adrp x9, 3b\n\t"
		"add x9, x9, :lo12:3b\n\t"
		"str x9, [%[rs], %c[cs]]\n\t"
		"1:\n\t"
		"ldr w9, [%[rs], %c[cpu]]\n\t"
		"cmp w9, %w[cpus]\n\t"
		"b.hs %l[noslot]\n\t"
		"ldar w10, [%[state]]\n\t"
		"tst w10, %w[mask]\n\t"
		"b.ne %l[closed]\n\t"
		"lsl x9, x9, %x[shift]\n\t"
		"ldr x10, [%[base], x9]\n\t"
		"add x10, x10, %x[delta]\n\t"
		"str x10, [%[base], x9]\n\t"
		"2:\n\t"
		".pushsection __rseq_failure, \"ax\"\n\t"
		/* brk #0x45e0: traps if ever run */
		".inst 0xd428bc00\n\t"
		"4:\n\t"
		"b %l[aborted]\n\t"
		".popsection\n\t"
		:
		: [rs] "r" (rs), [cs] "i" (__builtin_offsetof(struct rseq,
		      rseq_cs)),
		  [cpu] "i" (__builtin_offsetof(struct rseq, cpu_id)),
		  [cpus] "r" (cpus), [state] "r" (state), [mask] "r" (mask),
		  [shift] "r" ((uint64_t)shift), [base] "r" (base),
		  [delta] "r" (delta)
		: "memory", "cc", "x9", "x10"
		: noslot, closed, aborted);
#endif
	return RUNDOWN_RSEQ_DONE;
noslot:
	return RUNDOWN_RSEQ_NOSLOT;
closed:
	return RUNDOWN_RSEQ_CLOSED;
aborted:
	/* Preempted, migrated or signalled inside: start again (the kernel
	 * cleared the area's pointer; the top sets it again). */
	goto retry;
}

/* The sequence on a descriptor: adds delta to this CPU's rseq word of
 * the descriptor's row while its block is open.  ref is not NULL. */
static inline __attribute__((always_inline)) int
rundown_cache_add(ptrdiff_t off, rundown_cache_t *ref, uint64_t delta)
{
	const struct rundown_cache_fast *f =
	    (const struct rundown_cache_fast *)(const void *)ref;
	char *d = (char *)(void *)ref;

	return rundown_rseq_add(off, (const uint32_t *)(const void *)(d +
	    f->block_off + RUNDOWN_INLINE_STATE_OFF), RUNDOWN_INLINE_CLOSED,
	    d + f->row_off + RUNDOWN_INLINE_PC_OFF, f->shift, f->rcpus, delta);
}

/* The acquire's verdict from the sequence: 1 acquired, 0 refused (the
 * block is closed), -1 no slot here (the caller's fallback decides). */
static inline __attribute__((always_inline)) int
rundown_cache_acquire_rseq(ptrdiff_t off, rundown_cache_t *ref, uint32_t n)
{
	switch (rundown_cache_add(off, ref, n)) {
	case RUNDOWN_RSEQ_DONE:
		return 1;
	case RUNDOWN_RSEQ_CLOSED:
		return 0;
	default:
		return -1;
	}
}

#endif /* RUNDOWN_RSEQ_CS */

#ifdef RUNDOWN_INLINE

/* The library's functions, out of line, under names of their own here
 * (this header takes the public names for the inline ones). */
RUNDOWN_API bool rundown_cache_acquire_call(rundown_cache_t *ref,
    uint32_t n) __asm__("rundown_cache_acquire_n");
RUNDOWN_API void rundown_cache_release_call(rundown_cache_t *ref,
    uint32_t n) __asm__("rundown_cache_release_n");

/* Runs before main(): see ABI above. */
static __attribute__((constructor, used)) void
rundown_cache_layout_register(void)
{
	(void)rundown_cache_layout(RUNDOWN_CACHE_LAYOUT);
}

static inline __attribute__((always_inline)) bool
rundown_cache_acquire_n(rundown_cache_t *ref, uint32_t n)
{
#if RUNDOWN_RSEQ_CS
	int r;

	if (__builtin_expect(ref != NULL, 1) &&
	    (r = rundown_cache_acquire_rseq(__rseq_offset, ref, n)) >= 0)
		return r;
#endif
	return rundown_cache_acquire_call(ref, n);
}

static inline __attribute__((always_inline)) bool
rundown_cache_acquire(rundown_cache_t *ref)
{
	return rundown_cache_acquire_n(ref, 1);
}

static inline __attribute__((always_inline)) void
rundown_cache_release_n(rundown_cache_t *ref, uint32_t n)
{
#if RUNDOWN_RSEQ_CS
	if (__builtin_expect(ref != NULL, 1) &&
	    __builtin_expect(rundown_cache_add(__rseq_offset, ref,
	    -(uint64_t)n) == RUNDOWN_RSEQ_DONE, 1))
		return;
#endif
	rundown_cache_release_call(ref, n);
}

static inline __attribute__((always_inline)) void
rundown_cache_release(rundown_cache_t *ref)
{
	rundown_cache_release_n(ref, 1);
}

#endif /* RUNDOWN_INLINE */

#ifdef __cplusplus
}
#endif

#endif /* RUNDOWN_INLINE_H */
