/*
 * wdm.h: run-down protection under the Windows kernel's names and types.
 *
 * Code written against the WDK's run-down routines compiles and links
 * unchanged with `pkg-config --cflags --libs rundown-client`:
 *
 *     #include <rundown/wdm.h>
 *
 * Each routine is the rundown.h function of the same meaning; the WDK
 * returns VOID where rundown.h returns an error, so here a refused call
 * (completed or re-initialize in the wrong state, initialize with a buffer
 * too small, free of a caller's buffer) changes nothing and reports nothing.
 * Call the rundown.h function when you need to know.
 *
 * Types follow the WDK's sizes on 64-bit Windows: ULONG is 32 bits,
 * ULONG_PTR and EX_RUNDOWN_REF are pointer-sized.  Every pool type means
 * process memory, except RundownSharedPool (below).
 */
#ifndef RUNDOWN_WDM_H
#define RUNDOWN_WDM_H

#include <stddef.h>
#include <stdint.h>

#include <rundown/rundown.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VOID
#define VOID void
#endif
#ifndef FASTCALL
#define FASTCALL
#endif
#ifndef NTKERNELAPI
#define NTKERNELAPI RUNDOWN_API
#endif
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

typedef unsigned char BOOLEAN;
typedef uint32_t ULONG;
typedef uintptr_t ULONG_PTR;
typedef size_t SIZE_T;
typedef void *PVOID;

/*
 * A pool tag as WDK sources write it, 'daeR', without the multi-character
 * constant: RUNDOWN_WDM_TAG('d', 'a', 'e', 'R') is the value that GCC,
 * Clang and MSVC give 'daeR' (the first character in the highest byte),
 * as an integer constant expression of type ULONG, so it also serves in
 * #define and case labels.  Such constants are implementation-defined
 * in C and C++, and GCC warns of each one (-Wmultichar, on by default);
 * the macro takes the characters in the same order, so a port replaces
 * 'daeR' with RUNDOWN_WDM_TAG('d', 'a', 'e', 'R') and nothing else.  The
 * tag shows as "Read", as in a pool dump: it is RUNDOWN_TAG('R', 'e',
 * 'a', 'd') of rundown.h, the name rundownctl(1) and rundownd(8) use.
 */
#define RUNDOWN_WDM_TAG(a, b, c, d) RUNDOWN_TAG(d, c, b, a)

/*
 * The WDK's pool types; all of them mean process memory here, except
 * RundownSharedPool, this library's own: ExAllocateCacheAwareRundownProtection
 * then attaches to the block that rundownd(8) keeps for PoolTag, creating it
 * if need be, and ExFreeCacheAwareRundownProtection detaches.  Allocate
 * gives an open reference or NULL: a block left completed is re-initialized
 * first, and one running down or drained fails with errno EBUSY
 * (rundown_attach() with RUNDOWN_ATTACH_CREATE | RUNDOWN_ATTACH_REOPEN).
 */
typedef enum _POOL_TYPE {
	NonPagedPool = 0,
	NonPagedPoolExecute = NonPagedPool,
	PagedPool = 1,
	NonPagedPoolMustSucceed = 2,
	DontUseThisType = 3,
	NonPagedPoolCacheAligned = 4,
	PagedPoolCacheAligned = 5,
	NonPagedPoolCacheAlignedMustS = 6,
	MaxPoolType = 7,
	NonPagedPoolBase = 0,
	NonPagedPoolBaseMustSucceed = 2,
	NonPagedPoolBaseCacheAligned = 4,
	NonPagedPoolBaseCacheAlignedMustS = 6,
	NonPagedPoolSession = 32,
	PagedPoolSession = 33,
	NonPagedPoolMustSucceedSession = 34,
	DontUseThisTypeSession = 35,
	NonPagedPoolCacheAlignedSession = 36,
	PagedPoolCacheAlignedSession = 37,
	NonPagedPoolCacheAlignedMustSSession = 38,
	NonPagedPoolNx = 512,
	NonPagedPoolNxCacheAligned = 516,
	NonPagedPoolSessionNx = 544,
	RundownSharedPool = 0x10000
} POOL_TYPE;

/*
 * An anonymous union, as in the WDK, so that code writes Ref.Count.  C11
 * and C++ have them; C99 has not, and __extension__ (on the union, and on
 * the typedef for GCC's "struct has no named members") keeps GCC and
 * Clang quiet there under -pedantic.
 */
#if defined(__GNUC__) && !defined(__cplusplus)
#define RUNDOWN_WDM_EXTENSION __extension__
#else
#define RUNDOWN_WDM_EXTENSION
#endif

/* Pointer-sized, as in the WDK: Count is 2 x protections held while open. */
RUNDOWN_WDM_EXTENSION typedef struct _EX_RUNDOWN_REF {
	RUNDOWN_WDM_EXTENSION union {
		ULONG_PTR Count;
		PVOID Ptr;
	};
} EX_RUNDOWN_REF, *PEX_RUNDOWN_REF;

/* Opaque, as in the WDK; the same object as rundown_cache_t. */
typedef struct _EX_RUNDOWN_REF_CACHE_AWARE EX_RUNDOWN_REF_CACHE_AWARE,
    *PEX_RUNDOWN_REF_CACHE_AWARE;

/* Plain reference. */
NTKERNELAPI VOID FASTCALL ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI VOID FASTCALL ExReInitializeRundownProtection(
    PEX_RUNDOWN_REF RunRef);
NTKERNELAPI BOOLEAN FASTCALL ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI BOOLEAN FASTCALL ExAcquireRundownProtectionEx(
    PEX_RUNDOWN_REF RunRef, ULONG Count);
NTKERNELAPI VOID FASTCALL ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI VOID FASTCALL ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef,
    ULONG Count);
NTKERNELAPI VOID FASTCALL ExWaitForRundownProtectionRelease(
    PEX_RUNDOWN_REF RunRef);
NTKERNELAPI VOID FASTCALL ExRundownCompleted(PEX_RUNDOWN_REF RunRef);

/* Cache-aware reference. */
NTKERNELAPI SIZE_T ExSizeOfRundownProtectionCacheAware(VOID);
NTKERNELAPI VOID ExInitializeRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, SIZE_T RunRefSize);
NTKERNELAPI PEX_RUNDOWN_REF_CACHE_AWARE ExAllocateCacheAwareRundownProtection(
    POOL_TYPE PoolType, ULONG PoolTag);
NTKERNELAPI VOID ExFreeCacheAwareRundownProtection(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware);
#ifdef RUNDOWN_INLINE
/* Inline, as rundown.h's are under RUNDOWN_INLINE (rundown/inline.h). */
static inline BOOLEAN FASTCALL
ExAcquireRundownProtectionCacheAwareEx(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, ULONG Count)
{
	return rundown_cache_acquire_n((rundown_cache_t *)(void *)
	    RunRefCacheAware, Count) ? TRUE : FALSE;
}

static inline BOOLEAN FASTCALL
ExAcquireRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	return ExAcquireRundownProtectionCacheAwareEx(RunRefCacheAware, 1);
}

static inline VOID FASTCALL
ExReleaseRundownProtectionCacheAwareEx(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, ULONG Count)
{
	rundown_cache_release_n((rundown_cache_t *)(void *)RunRefCacheAware,
	    Count);
}

static inline VOID FASTCALL
ExReleaseRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	ExReleaseRundownProtectionCacheAwareEx(RunRefCacheAware, 1);
}
#else
NTKERNELAPI BOOLEAN FASTCALL ExAcquireRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware);
NTKERNELAPI BOOLEAN FASTCALL ExAcquireRundownProtectionCacheAwareEx(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, ULONG Count);
NTKERNELAPI VOID FASTCALL ExReleaseRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware);
NTKERNELAPI VOID FASTCALL ExReleaseRundownProtectionCacheAwareEx(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, ULONG Count);
#endif
NTKERNELAPI VOID FASTCALL ExWaitForRundownProtectionReleaseCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware);
NTKERNELAPI VOID FASTCALL ExRundownCompletedCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware);
NTKERNELAPI VOID FASTCALL ExReInitializeRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware);

#ifdef __cplusplus
}
#endif

#endif /* RUNDOWN_WDM_H */
