#!/bin/sh
# check-norseq.sh: the suites of the cache-aware block again, with no rseq
# area in any thread (GLIBC_TUNABLES=glibc.pthread.rseq=0, as a kernel
# without rseq or valgrind would leave them): every acquire and release
# then takes the atomic path, which the plain run of the suites only
# reaches through cache_acquire_on() and the unregistered threads of
# check_cache's "paths" case; and the inline fast path (check_inline) then
# calls the library for every one.  Skips (77) if the suites are not built.

builddir=${top_builddir:-.}

for t in check_cache check_stress check_mapshared check_lasttouch check_inline; do
	[ -x "$builddir/tests/$t" ] || { echo "check-norseq: tests/$t not built"; exit 77; }
done
GLIBC_TUNABLES=glibc.pthread.rseq=0
export GLIBC_TUNABLES
status=0
for t in check_cache check_stress check_mapshared check_lasttouch check_inline; do
	echo "check-norseq: $t without rseq"
	"$builddir/tests/$t" || status=1
done
exit $status
