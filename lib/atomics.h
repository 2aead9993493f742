/*
 * atomics.h: the atomic operations the library uses, on plain integers.
 *
 * GCC/Clang __atomic builtins rather than C11 _Atomic, so that the same
 * structures can sit in a caller's buffer, a public header and a shared
 * mapping.  Every use names its ordering; the comment beside it says which
 * interleaving that ordering guards against.
 */
#ifndef RUNDOWN_ATOMICS_H
#define RUNDOWN_ATOMICS_H

#define RD_RELAXED __ATOMIC_RELAXED
#define RD_ACQUIRE __ATOMIC_ACQUIRE
#define RD_RELEASE __ATOMIC_RELEASE
#define RD_ACQ_REL __ATOMIC_ACQ_REL
#define RD_SEQ_CST __ATOMIC_SEQ_CST

#define rd_load(p, mo) __atomic_load_n((p), (mo))
#define rd_store(p, v, mo) __atomic_store_n((p), (v), (mo))
/* Strong CAS: on failure *expected gets the current value. */
#define rd_cas(p, expected, desired, mo_ok, mo_fail) \
	__atomic_compare_exchange_n((p), (expected), (desired), 0, \
	    (mo_ok), (mo_fail))
#define rd_fetch_add(p, v, mo) __atomic_fetch_add((p), (v), (mo))
#define rd_fetch_sub(p, v, mo) __atomic_fetch_sub((p), (v), (mo))
#define rd_fetch_and(p, v, mo) __atomic_fetch_and((p), (v), (mo))
#define rd_fetch_or(p, v, mo) __atomic_fetch_or((p), (v), (mo))

#endif /* RUNDOWN_ATOMICS_H */
