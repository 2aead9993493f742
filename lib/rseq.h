/*
 * rseq.h: the per-CPU add that the fast path commits, as a restartable
 * sequence (rseq(2)).
 *
 * glibc 2.35 and later register an rseq area for every thread; the kernel
 * keeps the thread's CPU in it and, when the thread is preempted, migrated
 * or interrupted by a signal inside a critical section that the area
 * points to, resumes it at the section's abort handler instead.  So a
 * section that loads the CPU number, checks a state word and ends with one
 * add to that CPU's counter either commits on the CPU it read, with the
 * state it read still current as far as this CPU can tell, or is restarted
 * from the top: no lock prefix, no fence, no system call.
 *
 * What it cannot see is another CPU changing the state word between the
 * check and the add.  The party that changes it (run-down) closes that
 * window with a fence (fence.c): after membarrier's rseq command, or after
 * running once on every CPU, every section that read the old state has
 * either committed or will restart and read the new one.
 *
 * rd_rseq_add() is the only section.  It adds delta (modulo 2^64) to the
 * 64-bit word at base + (cpu << shift), base being CPU 0's word, if cpu <
 * cpus and (*state & mask) == 0, and says which of those held:
 *
 *   RD_RSEQ_DONE     committed;
 *   RD_RSEQ_CLOSED   the state word had a bit of mask set, nothing changed;
 *   RD_RSEQ_NOSLOT   the CPU is not below cpus (also: this thread has no
 *                    rseq area, whose cpu_id is then negative, that is
 *                    huge when compared unsigned), nothing changed.
 *
 * Orderings.  The state word is loaded with acquire semantics (x86: every
 * load; aarch64: ldar), so that an acquire that commits sees what a
 * re-initialize published before opening the word.  The add needs no
 * ordering of its own: only the run-down reads these words, after its
 * fence, and the fence orders everything this CPU did before it (the
 * kernel's barrier in the IPI or in the context switch).
 *
 * Built for x86-64 and little-endian aarch64, with the signature and the
 * __rseq_cs / __rseq_cs_ptr_array sections that the kernel's selftests and
 * librseq use.  Elsewhere, and in sanitizer builds (the sanitizers cannot
 * see inside the assembly), RD_HAVE_RSEQ_CS is 0 and callers use their
 * atomic fallback.
 */
#ifndef RUNDOWN_RSEQ_H
#define RUNDOWN_RSEQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef HAVE_RSEQ_AREA
#include <sys/rseq.h>
#endif

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RD_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RD_SANITIZED 1
#endif

#if defined(HAVE_RSEQ_AREA) && !defined(RD_SANITIZED) && \
    !defined(RUNDOWN_NO_RSEQ) && \
    (defined(__x86_64__) || (defined(__aarch64__) && !defined(__AARCH64EB__)))
#define RD_HAVE_RSEQ_CS 1
#else
#define RD_HAVE_RSEQ_CS 0
#endif

enum { RD_RSEQ_DONE, RD_RSEQ_CLOSED, RD_RSEQ_NOSLOT };

#ifdef HAVE_RSEQ_AREA
/* This thread's rseq area (glibc's, registered or not). */
static inline __attribute__((always_inline)) struct rseq *
rd_rseq_area(void)
{
	return (struct rseq *)(void *)((char *)__builtin_thread_pointer() +
	    __rseq_offset);
}
#endif

#if RD_HAVE_RSEQ_CS

/*
 * The section's descriptor (struct rseq_cs: version 0, flags 0, start,
 * length, abort) goes into __rseq_cs, and its address into
 * __rseq_cs_ptr_array, where debuggers and checkpointing tools find every
 * section of a program.  Labels: 1 start, 2 end of the commit, 3 the
 * descriptor, 4 the abort handler, preceded by the signature glibc
 * registered the area with.
 */
#define RD_RSEQ_TABLE							\
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
 * The x86-64 section in two halves, so that a test can put a delay
 * between the check and the commit (check_cache): the top, from
 * publishing the descriptor to the state word's check, leaving the CPU
 * number in %eax; and the commit, with the abort handler.  Operands as
 * rd_rseq_add() names them.
 */
#define RD_RSEQ_X86_CHECK						\
	RD_RSEQ_TABLE							\
	"leaq 3b(%%rip), %%rax\n\t"					\
	"movq %%rax, %%fs:%c[cs](%[rs])\n\t"				\
	"1:\n\t"							\
	"movl %%fs:%c[cpu](%[rs]), %%eax\n\t"				\
	"cmpl %[cpus], %%eax\n\t"					\
	"jae %l[noslot]\n\t"						\
	"testl %[mask], (%[state])\n\t"				\
	"jnz %l[closed]\n\t"
#define RD_RSEQ_X86_COMMIT						\
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
#endif

/*
 * off is __rseq_offset, the area's place from the thread pointer: x86-64
 * addresses the area through %fs with it, which spares the load of the
 * thread pointer before the first store.
 */
static inline __attribute__((always_inline)) int
rd_rseq_add(ptrdiff_t off, const uint32_t *state, uint32_t mask,
    char *base, uint32_t shift, uint32_t cpus, uint64_t delta)
{
#if defined(__x86_64__)
retry:
	__asm__ goto (
		RD_RSEQ_X86_CHECK
		RD_RSEQ_X86_COMMIT
		:
		: [rs] "r" (off), [cs] "i" (__builtin_offsetof(struct rseq,
		      rseq_cs)),
		  [cpu] "i" (__builtin_offsetof(struct rseq, cpu_id)),
		  [cpus] "r" (cpus), [state] "r" (state), [mask] "ir" (mask),
		  "c" (shift), [base] "r" (base), [delta] "er" (delta)
		: "memory", "cc", "rax"
		: noslot, closed, aborted);
#else	/* aarch64, little-endian */
	char *rs = (char *)__builtin_thread_pointer() + off;

retry:
	__asm__ goto (
		RD_RSEQ_TABLE
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
	return RD_RSEQ_DONE;
noslot:
	return RD_RSEQ_NOSLOT;
closed:
	return RD_RSEQ_CLOSED;
aborted:
	/* Preempted, migrated or signalled inside: start again (the kernel
	 * cleared the area's pointer; it is set again at the top). */
	goto retry;
}

#endif /* RD_HAVE_RSEQ_CS */

#endif /* RUNDOWN_RSEQ_H */
