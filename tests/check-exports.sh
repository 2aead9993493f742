#!/bin/sh
# check-exports.sh: the shared library exports the public API and nothing
# else.
#
# Every defined dynamic symbol must be named rundown_* or Ex*; the two
# families' entry points must be there; and every function that
# include/rundown/rundown.h and wdm.h declare must be exported.  Skips (77)
# when no shared library was built or no symbol tool is installed.

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
so=$builddir/lib/.libs/librundown-client.so

if [ ! -e "$so" ]; then
	echo "check-exports: $so not built (static only?), skipping"
	exit 77
fi

tmp=${TMPDIR:-/tmp}/check-exports.$$
trap 'rm -f "$tmp"' EXIT HUP INT TERM

# Defined dynamic symbols, one name a line, version suffixes stripped.
if command -v "${NM:-nm}" >/dev/null 2>&1; then
	# Type A: version nodes and other absolute symbols.  Lowercase
	# types other than i (ifunc) and u (unique) are local or undefined.
	"${NM:-nm}" -D --defined-only "$so" |
	    awk 'NF >= 3 && $2 != "A" && $2 !~ /^[a-hj-tv-z]$/ { print $3 }'
elif command -v readelf >/dev/null 2>&1; then
	readelf -W --dyn-syms "$so" |
	    awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $7 != "ABS" &&
		($5 == "GLOBAL" || $5 == "WEAK" || $5 == "UNIQUE") &&
		$8 != "" { print $8 }'
else
	echo "check-exports: neither nm nor readelf found, skipping"
	exit 77
fi | sed 's/@.*//' | sort -u >"$tmp"

status=0

if [ ! -s "$tmp" ]; then
	echo "check-exports: no symbols read from $so"
	exit 1
fi

# Anything outside the two prefixes, less the linker's own symbols.
bad=$(grep -v -e '^rundown_' -e '^Ex' "$tmp" |
    grep -v -x -e _init -e _fini -e __bss_start -e _edata -e _end)
if [ -n "$bad" ]; then
	echo "check-exports: exported outside the public API:"
	printf '%s\n' "$bad" | sed 's/^/  /'
	status=1
fi

for sym in rundown_cache_acquire ExAcquireRundownProtectionCacheAware; do
	if ! grep -q -x "$sym" "$tmp"; then
		echo "check-exports: $sym is not exported"
		status=1
	fi
done

# Every function the public headers declare (RUNDOWN_API or NTKERNELAPI
# at the start of the line, the name just before the parenthesis).
name='[^(]*[^A-Za-z0-9_(]\([A-Za-z_][A-Za-z0-9_]*\)(.*'
missing=$(for h in "$srcdir"/include/rundown/rundown.h \
    "$srcdir"/include/rundown/wdm.h; do
	[ -f "$h" ] || continue
	sed -n -e "s/^RUNDOWN_API$name/\\1/p" -e "s/^NTKERNELAPI$name/\\1/p" "$h"
done | sort -u | while read -r sym; do
	grep -q -x "$sym" "$tmp" || echo "$sym"
done)
if [ -n "$missing" ]; then
	echo "check-exports: declared in the public headers but not exported:"
	printf '%s\n' "$missing" | sed 's/^/  /'
	status=1
fi

if [ "$status" -eq 0 ]; then
	echo "check-exports: $(wc -l <"$tmp") symbols, all public"
fi
exit $status
