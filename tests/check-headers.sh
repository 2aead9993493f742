#!/bin/sh
# check-headers.sh: the public headers compile without a single warning
# under -pedantic -Wall -Wextra -Werror, each on its own and included
# twice, as C99, C11 and C17 (with $CC, and with clang when it is there)
# and as C++98, C++11 and C++17 (with $CXX or c++, and with clang++ when
# it is there); a C++ caller links against the C library (the extern "C"
# guards).  What README.md and librundown-client(3) promise of the
# language rests on this, with RUNDOWN_INLINE (the fast path inline) as
# without.  examples/wdm_example.c compiles as cleanly, its WDK-style pool
# tag included.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
CC=${CC:-cc}
inc="-I$top_srcdir/include -I$top_builddir/include"
warn="-pedantic -Wall -Wextra -Werror"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# compilers FIRST OTHER: FIRST, then OTHER unless it is FIRST's command
# or is not installed.
compilers() {
	echo "$1"
	[ "$2" != "${1%% *}" ] && command -v "$2" >/dev/null 2>&1 &&
	    echo "$2"
	return 0
}

# try COMPILER STD FILE: compiles FILE, saying what failed.
try() {
	if ! $1 -std="$2" $warn $inc -c "$3" -o "$tmp/t.o"; then
		echo "check-headers: $1 -std=$2 $warn: $3 does not compile" \
		    "cleanly" >&2
		exit 1
	fi
}

for h in rundown/rundown.h rundown/wdm.h; do
	printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' \
	    "$h" "$h" > "$tmp/${h#rundown/}.c"
	cp "$tmp/${h#rundown/}.c" "$tmp/${h#rundown/}.cc"
done

# What a caller writes: the timed wait's struct timespec, the WDK's
# anonymous union in EX_RUNDOWN_REF, a pool tag as a case label (an
# integer constant expression, with no multi-character constant).
cat > "$tmp/use.c" <<'EOS'
#include <rundown/wdm.h>

int
wait_a_second(rundown_ref_t *ref, const struct timespec *ts)
{
	return rundown_wait_timeout(ref, ts);
}

int
is_open(const EX_RUNDOWN_REF *ref)
{
	return ref->Ptr != NULL && (ref->Count & 1) == 0;
}

int
is_read_tag(ULONG tag)
{
	switch (tag) {
	case RUNDOWN_WDM_TAG('d', 'a', 'e', 'R'):
		return 1;
	default:
		return 0;
	}
}
EOS
cp "$tmp/use.c" "$tmp/use.cc"

# The fast path inline (RUNDOWN_INLINE): the same standards, and used, so
# that every inline function is compiled.
cat > "$tmp/inline.c" <<'EOS'
#define RUNDOWN_INLINE
#include <rundown/wdm.h>
#include <rundown/rundown.h>

int
use_inline(rundown_cache_t *c)
{
	PEX_RUNDOWN_REF_CACHE_AWARE w = (PEX_RUNDOWN_REF_CACHE_AWARE)(void *)c;

	if (!rundown_cache_acquire(c) || !rundown_cache_acquire_n(c, 2))
		return 1;
	rundown_cache_release(c);
	rundown_cache_release_n(c, 2);
	if (!ExAcquireRundownProtectionCacheAware(w) ||
	    !ExAcquireRundownProtectionCacheAwareEx(w, 2))
		return 2;
	ExReleaseRundownProtectionCacheAware(w);
	ExReleaseRundownProtectionCacheAwareEx(w, 2);
	return 0;
}
EOS
cp "$tmp/inline.c" "$tmp/inline.cc"

compilers "$CC" clang > "$tmp/cc"
while read -r cc; do
	for std in c99 c11 c17; do
		for f in rundown.h.c wdm.h.c use.c inline.c; do
			try "$cc" "$std" "$tmp/$f"
		done
	done
	# The WDK-style example, as a user builds it: its pool tag must not
	# need -Wno-multichar (on by default in GCC; named for clang).
	warn="$warn -Wmultichar" try "$cc" c11 \
	    "$top_srcdir/examples/wdm_example.c"
done < "$tmp/cc"

compilers "${CXX:-c++}" clang++ > "$tmp/cxx"
while read -r cxx; do
	command -v "${cxx%% *}" >/dev/null 2>&1 || continue
	for std in c++98 c++11 c++17; do
		for f in rundown.h.cc wdm.h.cc use.cc inline.cc; do
			try "$cxx" "$std" "$tmp/$f"
		done
	done
done < "$tmp/cxx"

CXX=${CXX:-c++}
command -v "${CXX%% *}" >/dev/null 2>&1 || exit 0
lib="$top_builddir/lib/.libs/librundown-client.so"
cat > "$tmp/t.cc" <<'EOS'
#include <rundown/rundown.h>
#include <rundown/wdm.h>
int main() {
	EX_RUNDOWN_REF r;
	ExInitializeRundownProtection(&r);
	if (!ExAcquireRundownProtection(&r)) return 1;
	ExReleaseRundownProtection(&r);
	rundown_cache_t *c = rundown_cache_alloc(0);
	if (c == nullptr || !rundown_cache_acquire(c)) return 1;
	rundown_cache_release(c);
	return rundown_cache_wait(c) | rundown_cache_free(c);
}
EOS
[ -f "$lib" ] || exit 0
# Out of line, then inline (the same program with RUNDOWN_INLINE).
for def in "" -DRUNDOWN_INLINE; do
	$CXX -std=c++11 $warn $def $inc -c "$tmp/t.cc" -o "$tmp/t.o"
	$CXX ${SAN_LDFLAGS:-} "$tmp/t.o" "$lib" -pthread \
	    -Wl,-rpath,"$(dirname "$lib")" -o "$tmp/t"
	"$tmp/t"
done
