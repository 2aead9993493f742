#!/bin/sh
# check-layers.sh: calls between the files of src/ and of lib/ go one way
# only, and src/rundownd.h's map of the daemon says who calls whom.
#
# A file is NAME.c with its header NAME.h.  It has an arrow to another
# file of the tree when
#   - its object needs a symbol that the other's object defines (nm), or
#   - NAME.c or NAME.h includes the other's header ("OTHER.h"), and that
#     header carries code: a static inline function or a function-like
#     macro, which no symbol shows.  A header of only types, constants
#     and declarations adds no arrow: whatever calls through it needs a
#     symbol, seen above.  A file's own header does not count.
# A header with no .c of its own that includes no header of the tree
# (lib/atomics.h, lib/rseq.h, src/clock.h: inline helpers) is a leaf: it
# can close no circle and is no file of the map.
#
# Fails on a circle among the files of lib/, or among those of src/
# (rundownd's and rundownctl's), naming each arrow of it and what makes
# it (the symbol, or the include); and on any difference between the
# arrows among rundownd's files and src/rundownd.h's map.
#
# check-layers.sh lib-arrows (tests/check-maplib.sh) checks instead the
# map's lib (...) arrows, rundownd's arrows into lib/, against the files.
# Skips (77) without nm or objects.

LC_ALL=C
export LC_ALL
builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
NM=${NM:-nm}
mode=${1:-}
command -v "$NM" >/dev/null 2>&1 || { echo "check-layers: no nm"; exit 77; }

tmp=${TMPDIR:-/tmp}/check-layers.$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# symbols PREFIX OBJECT...: "from to why" lines, one an arrow, files
# named by the object's last "-"-separated part (src/rundownd-server.o:
# server) with PREFIX before it, why the first symbol that draws it.
symbols() {
	pfx=$1
	shift
	for o in "$@"; do
		f=${o##*/}
		f=${f%.o}
		f=$pfx${f##*-}
		"$NM" "$o" | awk -v f="$f" '
		    NF == 3 && $2 ~ /^[TDBRC]$/ { print "D", f, $3 }
		    NF == 2 && $1 == "U" { print "U", f, $2 }'
	done | awk '
	    $1 == "D" { def[$3] = $2 }
	    $1 == "U" { need[++n] = $2 " " $3 }
	    END {
		for (i = 1; i <= n; i++) {
			split(need[i], p, " ")
			if ((p[2] in def) && def[p[2]] != p[1])
				print p[1], def[p[2]], "calls " p[2] "()"
		}
	    }' | sort -u -k 1,2
}

# has_code HEADER: whether it defines a static inline function or a
# function-like macro (other than its include guard).
has_code() {
	grep -q -E '^(static[[:space:]]+inline|static[[:space:]].*[[:space:]]inline[[:space:]])|^#[[:space:]]*define[[:space:]]+[A-Za-z_][A-Za-z0-9_]*\(' "$1"
}

# is_leaf DIR NAME: NAME.h has no NAME.c beside it and includes no
# header of the tree.
is_leaf() {
	[ ! -f "$1/$2.c" ] &&
	    ! grep '^#[[:space:]]*include[[:space:]]*"' "$1/$2.h" |
	    sed 's/^[^"]*"\([^"]*\)\.h".*/\1/' | while read -r h; do
		[ -f "$1/$h.h" ] || [ -f "$srcdir/lib/$h.h" ] && echo "$h"
	    done | grep -q .
}

# includes DIR PREFIX: "from to why" lines for the includes of DIR's
# files, as above; a header found in DIR is DIR's (PREFIX before its
# name), else, from src/, lib/'s ("lib:" before it).  Leaves are left out.
includes() {
	dir=$srcdir/$1
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -f "$f" ] || continue
		b=${f##*/}
		from=${b%.*}
		sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' \
		    "$f" | while read -r h; do
			if [ -f "$dir/$h.h" ]; then
				hd=$dir; to=$2$h
			elif [ "$1" = src ] && [ -f "$srcdir/lib/$h.h" ]; then
				hd=$srcdir/lib; to=lib:$h
			else
				continue	# config.h, the public headers
			fi
			[ "$h" = "$from" ] && continue
			is_leaf "$hd" "$h" && continue
			has_code "$hd/$h.h" || continue
			echo "$2$from $to $1/$b includes $h.h" \
			    "(inline functions or macros)"
		done
	done | sort -u -k 1,2
}

# circle NAME < ARROWS: fails, naming each arrow that is on a circle and
# why it is there (Kahn: strip files with no arrow out, then files with
# no arrow in, until none is left; the arrows left make the circles).
circle() {
	awk -v name="$1" '
	    { k = $1 " " $2
	      if (k in why) next
	      w = $0; sub(/^[^ ]+ [^ ]+ /, "", w); why[k] = w
	      out[$1]++; in_[$2]++; node[$1]; node[$2]
	      from[++n] = $1; to[n] = $2 }
	    END {
		do {
			changed = 0
			for (v in node)
				if (!(v in done) &&
				    (out[v] + 0 == 0 || in_[v] + 0 == 0)) {
					done[v]; changed = 1
					for (i = 1; i <= n; i++) {
						if (to[i] == v) out[from[i]]--
						if (from[i] == v) in_[to[i]]--
					}
				}
		} while (changed)
		bad = 0
		for (i = 1; i <= n; i++)
			if (!(from[i] in done) && !(to[i] in done)) {
				if (!bad++)
					printf "check-layers: %s: a circle " \
					    "(cut one of these arrows):\n", name
				k = from[i] " " to[i]
				printf "  %s -> %s: %s\n", from[i], to[i], why[k]
			}
		exit bad != 0
	    }'
}

set -- "$builddir"/src/rundownd-*.o
[ -e "$1" ] || { echo "check-layers: daemon not built"; exit 77; }
symbols "" "$@" > "$tmp/daemon"
set -- "$builddir"/lib/librundown_core_la-*.o
[ -e "$1" ] || { echo "check-layers: library not built"; exit 77; }
symbols "" "$@" > "$tmp/lib"
# rundownctl: its own objects, and what they take from the library.
set --
for o in "$builddir"/src/rundownctl.o "$builddir"/src/ctl_prune.o; do
	[ -e "$o" ] && set -- "$@" "$o"
done
[ $# -gt 0 ] && symbols "" "$@" > "$tmp/ctl" || : > "$tmp/ctl"

# The daemon's arrows into the library, by symbol: the daemon's objects
# need what the library's define.
set -- "$builddir"/src/rundownd-*.o
for o in "$@"; do
	f=${o##*/}
	f=${f%.o}
	"$NM" "$o" | awk -v f="${f##*-}" 'NF == 2 && $1 == "U" {
	    print "U", f, $2 }'
done > "$tmp/need"
for o in "$builddir"/lib/librundown_core_la-*.o; do
	f=${o##*/}
	f=${f%.o}
	"$NM" "$o" | awk -v f="${f##*-}" 'NF == 3 && $2 ~ /^[TDBRC]$/ {
	    print "D", f, $3 }'
done > "$tmp/def"
cat "$tmp/def" "$tmp/need" | awk '
    $1 == "D" { def[$3] = $2 }
    $1 == "U" && ($3 in def) { print $2, "lib:" def[$3], "calls " $3 "()" }' |
    sort -u -k 1,2 > "$tmp/tolib"

includes lib "" > "$tmp/libinc"
includes src "" > "$tmp/srcinc"

# The map: the arrow lines of the comment at the top of rundownd.h,
# "  NAME --> a, b, lib (x, y)", a line of only more names (after one
# that ends in a comma) going on with the same NAME, and a NAME may have
# several lines.  lib (...) are arrows into lib/.  Arrows to log are
# left out (every file may log), and only rundownd's own files are
# compared (rundownctl has no map).
awk '
    /^#ifndef/ { exit }
    { line = $0; sub(/^[ \t]*\*?[ \t]*/, "", line) }
    line ~ /-->/ {
	from = line; sub(/[ \t]*-->.*/, "", from)
	sub(/^.*-->/, "", line); more = 1
    }
    line !~ /-->/ && !more { next }
    more {
	while (match(line, /lib[ \t]*\([^)]*\)/)) {
		l = substr(line, RSTART, RLENGTH)
		line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH)
		sub(/^lib[ \t]*\(/, "", l); sub(/\)$/, "", l)
		n = split(l, p, /[, \t]+/)
		for (i = 1; i <= n; i++) if (p[i] != "") print from, "lib:" p[i]
	}
	more = line ~ /,[ \t]*$/
	n = split(line, p, /[, \t]+/)
	for (i = 1; i <= n; i++) if (p[i] != "" && p[i] != "log") print from, p[i]
    }' "$srcdir/src/rundownd.h" | sort -u > "$tmp/map.all"
for o in "$builddir"/src/rundownd-*.o; do
	f=${o##*/}
	f=${f%.o}
	echo "${f##*-}"
done > "$tmp/files"
cat "$tmp/daemon" "$tmp/srcinc" "$tmp/tolib" |
    awk 'NR == FNR { own[$1]; next }
	 ($1 in own) && $2 != "log" { print $1, $2 }' "$tmp/files" - |
    sort -u > "$tmp/drawn.all"

# compare WHAT: the map's arrows and the files' (lines with " lib:" for
# the arrows into lib/, the others otherwise); fails, with why each
# arrow that the map lacks is there, if they differ.
compare() {
	if [ "$1" = lib ]; then
		grep ' lib:' "$tmp/map.all" > "$tmp/map"
		grep ' lib:' "$tmp/drawn.all" > "$tmp/drawn"
	else
		grep -v ' lib:' "$tmp/map.all" > "$tmp/map"
		grep -v ' lib:' "$tmp/drawn.all" > "$tmp/drawn"
	fi
	cmp -s "$tmp/map" "$tmp/drawn" && return 0
	echo "check-layers: src/rundownd.h's map and the files differ" \
	    "(< only in the map, > only in the files):"
	diff "$tmp/map" "$tmp/drawn" | grep '^[<>]'
	grep -q . "$tmp/map" && diff "$tmp/map" "$tmp/drawn" | grep -q '^<' &&
	    echo "  (< : the files need no symbol of it and include no header" \
		"of it with code)"
	diff "$tmp/map" "$tmp/drawn" | sed -n 's/^> //p' |
	    while read -r a b; do
		cat "$tmp/daemon" "$tmp/srcinc" "$tmp/tolib" |
		    awk -v a="$a" -v b="$b" '$1 == a && $2 == b {
			sub(/^[^ ]+ [^ ]+ /, ""); print "  " a " -> " b ": " $0
			exit }'
	    done
	return 1
}

if [ "$mode" = lib-arrows ]; then
	compare lib || exit 1
	echo "check-layers: the map's lib (...) arrows in src/rundownd.h" \
	    "are true"
	exit 0
fi

status=0
sort -u -k 1,2 "$tmp/lib" "$tmp/libinc" > "$tmp/liball"
circle lib < "$tmp/liball" || status=1
grep -v ' lib:' "$tmp/srcinc" | sort -u -k 1,2 - "$tmp/daemon" "$tmp/ctl" \
    > "$tmp/srcall"
circle src < "$tmp/srcall" || status=1
compare src || status=1
[ $status -eq 0 ] && echo "check-layers: lib and src call and include one" \
    "way; the map in src/rundownd.h is true between src's files"
exit $status
