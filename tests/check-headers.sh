#!/bin/sh
# check-headers.sh: each public header compiles on its own, as C11 and (when
# a C++ compiler is there) as C++, with warnings as errors, and a C++ caller
# links against the C library (the extern "C" guards).
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
CC=${CC:-cc}
inc="-I$top_srcdir/include -I$top_builddir/include"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for h in rundown/rundown.h rundown/wdm.h; do
	printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' \
	    "$h" "$h" > "$tmp/t.c"
	$CC -std=c11 -Wall -Wextra -Werror $inc -c "$tmp/t.c" -o "$tmp/t.o"
done

CXX=${CXX:-c++}
command -v "$CXX" >/dev/null 2>&1 || exit 0
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
$CXX -Wall -Wextra -Werror $inc -c "$tmp/t.cc" -o "$tmp/t.o"
[ -f "$lib" ] || exit 0
$CXX ${SAN_LDFLAGS:-} "$tmp/t.o" "$lib" -pthread -Wl,-rpath,"$(dirname "$lib")" -o "$tmp/t"
"$tmp/t"
