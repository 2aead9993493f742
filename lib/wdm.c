/*
 * wdm.c: the Windows kernel's names for the run-down routines.
 *
 * Each forwards to its rundown.h function.  The WDK declares VOID where the
 * native function reports a refusal; the refusal still changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include <rundown/wdm.h>

/* The WDK's opaque handle and the native descriptor are the same object. */
static inline rundown_cache_t *
native(PEX_RUNDOWN_REF_CACHE_AWARE ref)
{
	return (rundown_cache_t *)(void *)ref;
}

/* EX_RUNDOWN_REF and rundown_ref_t are both one ULONG_PTR. */
static inline rundown_ref_t *
plain(PEX_RUNDOWN_REF ref)
{
	return (rundown_ref_t *)(void *)ref;
}

_Static_assert(sizeof(EX_RUNDOWN_REF) == sizeof(rundown_ref_t),
    "EX_RUNDOWN_REF must be one pointer-sized word");
_Static_assert(sizeof(ULONG) == 4, "ULONG is 32 bits, as in the WDK");

VOID FASTCALL
ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
	rundown_init(plain(RunRef));
}

VOID FASTCALL
ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
	(void)rundown_reinit(plain(RunRef));
}

BOOLEAN FASTCALL
ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef)
{
	return rundown_acquire(plain(RunRef)) ? TRUE : FALSE;
}

BOOLEAN FASTCALL
ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
	return rundown_acquire_n(plain(RunRef), Count) ? TRUE : FALSE;
}

VOID FASTCALL
ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef)
{
	(void)rundown_release(plain(RunRef));
}

VOID FASTCALL
ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
	(void)rundown_release_n(plain(RunRef), Count);
}

VOID FASTCALL
ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef)
{
	(void)rundown_wait(plain(RunRef));
}

VOID FASTCALL
ExRundownCompleted(PEX_RUNDOWN_REF RunRef)
{
	(void)rundown_completed(plain(RunRef));
}

SIZE_T
ExSizeOfRundownProtectionCacheAware(VOID)
{
	return rundown_cache_size();
}

VOID
ExInitializeRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, SIZE_T RunRefSize)
{
	(void)rundown_cache_init(native(RunRefCacheAware), RunRefSize);
}

PEX_RUNDOWN_REF_CACHE_AWARE
ExAllocateCacheAwareRundownProtection(POOL_TYPE PoolType, ULONG PoolTag)
{
	rundown_cache_t *ref;
	int r;

	/* Every Windows pool type means process memory here. */
	if (PoolType != RundownSharedPool)
		return (PEX_RUNDOWN_REF_CACHE_AWARE)(void *)
		    rundown_cache_alloc(PoolTag);
	/*
	 * WDK code expects Allocate to give an open reference: a block a
	 * previous user left completed is re-initialized, and one whose
	 * run-down is under way or drained (its owner between wait and
	 * teardown) fails with EBUSY rather than give a reference on
	 * which every acquire fails.
	 */
	if ((r = rundown_attach(PoolTag,
	    RUNDOWN_ATTACH_CREATE | RUNDOWN_ATTACH_REOPEN, &ref)) != 0) {
		errno = -r;
		return NULL;
	}
	return (PEX_RUNDOWN_REF_CACHE_AWARE)(void *)ref;
}

VOID
ExFreeCacheAwareRundownProtection(PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	(void)rundown_cache_free(native(RunRefCacheAware));
}

BOOLEAN FASTCALL
ExAcquireRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	return rundown_cache_acquire(native(RunRefCacheAware)) ? TRUE : FALSE;
}

BOOLEAN FASTCALL
ExAcquireRundownProtectionCacheAwareEx(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, ULONG Count)
{
	return rundown_cache_acquire_n(native(RunRefCacheAware), Count) ?
	    TRUE : FALSE;
}

VOID FASTCALL
ExReleaseRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	rundown_cache_release(native(RunRefCacheAware));
}

VOID FASTCALL
ExReleaseRundownProtectionCacheAwareEx(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware, ULONG Count)
{
	rundown_cache_release_n(native(RunRefCacheAware), Count);
}

VOID FASTCALL
ExWaitForRundownProtectionReleaseCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	const struct timespec retry = { 0, 100 * 1000 * 1000 };
	int r;

	/*
	 * VOID in the WDK: the caller frees the object next, so returning
	 * before the drain is not an option.  A shared block's wait goes
	 * to rundownd; while no daemon answers, ask again every 100 ms.
	 */
	while ((r = rundown_cache_wait(native(RunRefCacheAware))) ==
	    -ECONNREFUSED || r == -ECONNRESET)
		nanosleep(&retry, NULL);
}

VOID FASTCALL
ExRundownCompletedCacheAware(PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	(void)rundown_cache_completed(native(RunRefCacheAware));
}

VOID FASTCALL
ExReInitializeRundownProtectionCacheAware(
    PEX_RUNDOWN_REF_CACHE_AWARE RunRefCacheAware)
{
	(void)rundown_cache_reinit(native(RunRefCacheAware));
}
