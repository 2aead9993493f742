/*
 * ref.c: the plain run-down reference, one pointer-sized word.
 *
 * Value encoding (bit 0 ACTIVE = run-down has started):
 *
 *   2k            open, k protections held (k <= RUNDOWN_REF_MAX)
 *   (k << 2) | 3  running down, k > 0 protections outstanding
 *   3             drained: the last one was released (or none was held)
 *   1             completed
 *
 * Windows keeps a pointer to the waiter's stack wait block in the word
 * while it waits; here the outstanding count stays in the word instead, so
 * the reference holds no pointer (it works in shared memory), a timed-out
 * waiter leaves nothing dangling, and any number of waiters can sleep on
 * the word itself.  Bit 1 tells "running down or drained" (3) from
 * "completed" (1) once ACTIVE is set.
 *
 * The word has no room for a generation: a waiter still asleep when the
 * owner re-initializes and a new run-down starts cannot tell the new one
 * from its own, and waits for the new one too.  So re-initialize only
 * after every waiter has returned (Windows allows only one waiter, the
 * owner, so the question does not arise there).  The cache-aware block
 * has a generation and no such rule.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include <rundown/rundown.h>

#include "atomics.h"
#include "deadline.h"
#include "futex.h"
#include "testhook.h"

#define REF_ACTIVE ((uintptr_t)1)
#define REF_DRAINING ((uintptr_t)2)	/* with ACTIVE: not yet completed */
#define REF_OPEN_UNIT ((uintptr_t)2)
#define REF_RUN_UNIT ((uintptr_t)4)
#define REF_DRAINED (REF_ACTIVE | REF_DRAINING)
#define REF_COMPLETED REF_ACTIVE

/* Protections outstanding in a running-down value. */
static inline uintptr_t
ref_running_count(uintptr_t v)
{
	return v >> 2;
}

/* True while a run-down waits for releases. */
static inline bool
ref_running(uintptr_t v)
{
	return (v & REF_DRAINED) == REF_DRAINED && v != REF_DRAINED;
}

/*
 * The 32-bit half of the word that holds its low-order bits: a futex is
 * 32 bits, and the low half changes on the final release (to 3).
 */
static inline uint32_t *
ref_futex_word(rundown_ref_t *ref)
{
	uint32_t *w = (uint32_t *)(void *)&ref->value;

#if UINTPTR_MAX > UINT32_MAX && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w++;
#endif
	return w;
}

void
rundown_init(rundown_ref_t *ref)
{
	/* A plain store, as in Windows: the owner initializes before it
	 * publishes the reference, and publishing orders it. */
	if (ref != NULL)
		rd_store(&ref->value, 0, RD_RELAXED);
}

bool
rundown_acquire_n(rundown_ref_t *ref, uint32_t n)
{
	uintptr_t v;

	if (ref == NULL)
		return false;
	v = rd_load(&ref->value, RD_RELAXED);
	do {
		if (v & REF_ACTIVE)
			return false;
		/* An open value never holds more than the maximum. */
		if (RUNDOWN_REF_MAX - (v >> 1) < n)
			return false;
		/*
		 * acquire on success: the caller's accesses to the object stay
		 * after the grant, and a re-initialize (a release store) that
		 * published a new object is seen.  A CAS, not an add: an add
		 * would have to be undone when it finds ACTIVE, and an undo in
		 * flight across re-initialize corrupts the next run-down.
		 */
	} while (!rd_cas(&ref->value, &v, v + REF_OPEN_UNIT * n, RD_ACQUIRE,
	    RD_RELAXED));
	return true;
}

bool
rundown_acquire(rundown_ref_t *ref)
{
	return rundown_acquire_n(ref, 1);
}

int
rundown_release_n(rundown_ref_t *ref, uint32_t n)
{
	uintptr_t v, nv;

	if (ref == NULL)
		return -EINVAL;
	v = rd_load(&ref->value, RD_RELAXED);
	do {
		if (!(v & REF_ACTIVE)) {
			if ((v >> 1) < n)
				return -ERANGE;
			nv = v - REF_OPEN_UNIT * n;
		} else {
			if (!ref_running(v) || ref_running_count(v) < n)
				return n == 0 ? 0 : -ERANGE;
			nv = v - REF_RUN_UNIT * n;
		}
		/*
		 * release: every access to the object happens before the count
		 * drops, so a waiter that reads the drained value (acquire)
		 * finds them finished.  The CASes form one release sequence, so
		 * the waiter synchronizes with every release, not just the last.
		 */
	} while (!rd_cas(&ref->value, &v, nv, RD_RELEASE, RD_RELAXED));

	if (nv == REF_DRAINED && v != REF_DRAINED) {
		/* The last touch was the CAS (lib/block.h): the waiter may
		 * have freed the reference; the wake is a system call. */
		TEST_HOOK(HOOK_REF_DRAINED);
		futex_wake_all(ref_futex_word(ref));
	}
	return 0;
}

int
rundown_release(rundown_ref_t *ref)
{
	return rundown_release_n(ref, 1);
}

/* Moves an open value to running down (or drained); returns the new value. */
static uintptr_t
ref_start(rundown_ref_t *ref)
{
	uintptr_t v = rd_load(&ref->value, RD_ACQUIRE), nv;

	while (!(v & REF_ACTIVE)) {
		nv = ((v >> 1) << 2) | REF_DRAINED;
		/* acquire: with nothing held, the caller returns at once and
		 * must see the accesses of the releases that emptied the word. */
		if (rd_cas(&ref->value, &v, nv, RD_ACQ_REL, RD_ACQUIRE))
			return nv;
	}
	return v;
}

/* Waits until the word leaves the running-down state, or the deadline. */
static int
ref_wait(rundown_ref_t *ref, const struct timespec *deadline)
{
	uintptr_t v = ref_start(ref);
	const struct timespec *until;
	struct timespec poll;
	uint32_t low;

	while (ref_running(v)) {
		low = (uint32_t)v;
		until = deadline;
		if (low == (uint32_t)REF_DRAINED) {
			/*
			 * The low half already reads like "drained" (k is a
			 * multiple of 2^30): a futex on it could miss the final
			 * release, so look again every millisecond.  Only with a
			 * billion protections outstanding.
			 */
			poll = deadline_cap(deadline, 1);
			until = &poll;
		}
		if (futex_wait(ref_futex_word(ref), low, until) == -ETIMEDOUT &&
		    deadline_passed(deadline)) {
			/* The drain may have landed as the time ran out. */
			v = rd_load(&ref->value, RD_ACQUIRE);
			return ref_running(v) ? -ETIMEDOUT : 0;
		}
		/* acquire: pairs with the releases' CASes (see release). */
		v = rd_load(&ref->value, RD_ACQUIRE);
	}
	return 0;
}

int
rundown_wait(rundown_ref_t *ref)
{
	return rundown_wait_timeout(ref, NULL);
}

int
rundown_wait_timeout(rundown_ref_t *ref, const struct timespec *timeout)
{
	struct timespec deadline;
	int r;

	if (ref == NULL)
		return -EINVAL;
	if (timeout == NULL)
		return ref_wait(ref, NULL);
	if ((r = deadline_from(timeout, &deadline)) != 0)
		return r;
	return ref_wait(ref, &deadline);
}

int
rundown_completed(rundown_ref_t *ref)
{
	uintptr_t v;

	if (ref == NULL)
		return -EINVAL;
	v = rd_load(&ref->value, RD_RELAXED);
	for (;;) {
		if (!(v & REF_ACTIVE))
			return -EALREADY;
		if (v == REF_COMPLETED)
			return 0;
		if (v != REF_DRAINED)
			return -EBUSY;
		/* relaxed: drained to completed publishes nothing; the waiter
		 * already synchronized with the releases. */
		if (rd_cas(&ref->value, &v, REF_COMPLETED, RD_RELAXED,
		    RD_RELAXED))
			return 0;
	}
}

int
rundown_reinit(rundown_ref_t *ref)
{
	uintptr_t v;

	if (ref == NULL)
		return -EINVAL;
	v = rd_load(&ref->value, RD_RELAXED);
	for (;;) {
		if (!(v & REF_ACTIVE))
			return -EALREADY;
		if (v != REF_DRAINED && v != REF_COMPLETED)
			return -EBUSY;
		/* release: an acquire that succeeds on the new value sees what
		 * the owner prepared before re-initializing. */
		if (rd_cas(&ref->value, &v, 0, RD_RELEASE, RD_RELAXED))
			return 0;
	}
}

int
rundown_query(const rundown_ref_t *ref, struct rundown_status *st)
{
	uintptr_t v;

	if (ref == NULL || st == NULL)
		return -EINVAL;
	v = rd_load(&ref->value, RD_ACQUIRE);
	st->fence_failures = 0;		/* no fence: no rseq here */
	if (!(v & REF_ACTIVE)) {
		st->state = RUNDOWN_OPEN;
		st->outstanding = v >> 1;
	} else if (v == REF_COMPLETED) {
		st->state = RUNDOWN_COMPLETED;
		st->outstanding = 0;
	} else if (v == REF_DRAINED) {
		st->state = RUNDOWN_DRAINED;
		st->outstanding = 0;
	} else {
		st->state = RUNDOWN_RUNNING_DOWN;
		st->outstanding = ref_running_count(v);
	}
	return 0;
}
