#!/bin/sh
# check-exports.sh: the shared library exports the public API and nothing
# else, and what names the exports by hand agrees with it.
#
# Every defined dynamic symbol must be named rundown_* or Ex*; the two
# families' entry points must be there; and every function that
# include/rundown/rundown.h and wdm.h declare must be exported.  The
# exports, read from the built library, are then the list that these
# must match exactly:
#   - the manual's links (RUNDOWN_MAN_LINKS in Makefile.am, PAGE:NAME.3):
#     every exported function has a page or a link of its name, every
#     link names an exported function, and the page it points to is in
#     man/ and lists the function under .Nm;
#   - the Debian symbols file (debian/librundown-client*.symbols): every
#     export, and nothing else (skipped where debian/ is not shipped, as
#     in a release tarball).
# Skips (77) when no shared library was built or no symbol tool is
# installed.

LC_ALL=C
export LC_ALL
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
so=$builddir/lib/.libs/librundown-client.so

if [ ! -e "$so" ]; then
	echo "check-exports: $so not built (static only?), skipping"
	exit 77
fi

tmp=${TMPDIR:-/tmp}/check-exports.$$
trap 'rm -f "$tmp" "$tmp".*' EXIT HUP INT TERM

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

# complain WHAT LIST: says WHAT, then the names in LIST (a file), one a
# line, and fails the check; nothing if LIST is empty.
complain() {
	[ -s "$2" ] || return 0
	echo "check-exports: $1:"
	sed 's/^/  /' "$2"
	status=1
}

# The manual: the pages, and the links as "PAGE NAME" lines (.3 off).
pages=$(sed -n '/^dist_man_MANS *=/,/[^\\]$/p' "$srcdir/Makefile.am" |
    tr ' \t\\' '\n\n\n' | sed -n 's|^man/\(.*\)\.3$|\1|p')
sed -n '/^RUNDOWN_MAN_LINKS *=/,/[^\\]$/p' "$srcdir/Makefile.am" |
    tr ' \t\\' '\n\n\n' | sed -n 's|^\([^:]*\)\.3:\(.*\)\.3$|\1 \2|p' |
    sort -k 2 >"$tmp.links"
if [ ! -s "$tmp.links" ]; then
	echo "check-exports: no RUNDOWN_MAN_LINKS read from" \
	    "$srcdir/Makefile.am"
	exit 1
fi
{ printf '%s\n' $pages; awk '{ print $2 }' "$tmp.links"; } | sort -u \
    >"$tmp.named"
comm -23 "$tmp" "$tmp.named" >"$tmp.out"
complain "exported without a manual page or a link in Makefile.am's \
RUNDOWN_MAN_LINKS (add PAGE.3:NAME.3 there)" "$tmp.out"
awk '{ print $2 }' "$tmp.links" | sort | comm -23 - "$tmp" >"$tmp.out"
complain "RUNDOWN_MAN_LINKS in Makefile.am links a name the library does \
not export" "$tmp.out"
awk '{ print $2 }' "$tmp.links" | sort | uniq -d >"$tmp.out"
complain "RUNDOWN_MAN_LINKS in Makefile.am names these twice" "$tmp.out"
while read -r page sym; do
	if ! printf '%s\n' $pages | grep -q -x "$page"; then
		echo "$sym.3 -> $page.3, which is not in dist_man_MANS"
	elif ! grep -q -E "^\.Nm $sym( |\$)" "$srcdir/man/$page.3"; then
		echo "$sym.3 -> $page.3, whose NAME section (.Nm) lacks $sym"
	fi
done <"$tmp.links" >"$tmp.out"
complain "RUNDOWN_MAN_LINKS in Makefile.am points a link at the wrong page" \
    "$tmp.out"

# The Debian symbols file: " NAME@Base VERSION" lines.
symfiles=$(ls "$srcdir"/debian/librundown-client*.symbols 2>/dev/null)
if [ -z "$symfiles" ]; then
	echo "check-exports: no debian/librundown-client*.symbols here," \
	    "not compared"
fi
for f in $symfiles; do
	sed -n 's/^ \([A-Za-z_][A-Za-z0-9_]*\)@.*/\1/p' "$f" | sort >"$tmp.deb"
	comm -23 "$tmp" "$tmp.deb" >"$tmp.out"
	complain "exported but not in ${f#"$srcdir"/} (add \
\" NAME@Base VERSION\", VERSION the first release with it)" "$tmp.out"
	comm -13 "$tmp" "$tmp.deb" >"$tmp.out"
	complain "in ${f#"$srcdir"/} but not exported" "$tmp.out"
	uniq -d "$tmp.deb" >"$tmp.out"
	complain "in ${f#"$srcdir"/} twice" "$tmp.out"
done

if [ "$status" -eq 0 ]; then
	echo "check-exports: $(wc -l <"$tmp") symbols, all public, each with" \
	    "its manual page and its line in the Debian symbols file"
fi
exit $status
