#!/bin/sh
# check-layers.sh: calls between the files of src/ and of lib/ go one way
# only, and src/rundownd.h's map of the daemon says who calls whom.
#
# Reads the symbols each object defines and needs (nm), draws an arrow
# from a file to every file of the same directory whose symbols it needs,
# and fails on a circle, or on an arrow between daemon files that the map
# lacks or a map arrow that the objects do not have.  Skips (77) without
# nm or objects.

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
NM=${NM:-nm}
command -v "$NM" >/dev/null 2>&1 || { echo "check-layers: no nm"; exit 77; }

tmp=${TMPDIR:-/tmp}/check-layers.$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# edges NAME OBJECT...: "from to" lines, files named by the object's
# last "-"-separated part (src/rundownd-server.o: server).
edges() {
	for o in "$@"; do
		f=${o##*/}
		f=${f%.o}
		f=${f##*-}
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
				print p[1], def[p[2]]
		}
	    }' | sort -u
}

# circle NAME < EDGES: fails, naming the files, if the arrows make one
# (Kahn: strip files with no arrow out until none is left).
circle() {
	awk -v name="$1" '
	    { out[$1]++; node[$1]; node[$2]; from[NR] = $1; to[NR] = $2 }
	    END {
		do {
			changed = 0
			for (v in node)
				if (!(v in done) && out[v] + 0 == 0) {
					done[v]; changed = 1
					for (i = 1; i <= NR; i++)
						if (to[i] == v) out[from[i]]--
				}
		} while (changed)
		left = ""
		for (v in node) if (!(v in done)) left = left " " v
		if (left != "") {
			printf "check-layers: %s: a circle of calls among:%s\n", name, left
			exit 1
		}
	    }'
}

set -- "$builddir"/src/rundownd-*.o
[ -e "$1" ] || { echo "check-layers: daemon not built"; exit 77; }
edges "$@" > "$tmp/src"
set -- "$builddir"/lib/librundown_core_la-*.o
[ -e "$1" ] || { echo "check-layers: library not built"; exit 77; }
edges "$@" > "$tmp/lib"

status=0
circle src < "$tmp/src" || status=1
circle lib < "$tmp/lib" || status=1

# The map: lines "  NAME --> a, b, lib (...)" at the top of rundownd.h;
# arrows to log.c and lib/ are not drawn by the objects above (log is
# left out: every file may log).
awk '/-->/ {
	sub(/^[ \t*]*/, ""); from = $1; sub(/^.*-->/, "")
	gsub(/lib \([^)]*\)/, ""); gsub(/,/, " ")
	for (i = 1; i <= NF; i++) if ($i != "log") print from, $i
    } /^#ifndef/ { exit }' "$srcdir/src/rundownd.h" | sort -u > "$tmp/map"
grep -v ' log$' "$tmp/src" > "$tmp/drawn"
if ! cmp -s "$tmp/map" "$tmp/drawn"; then
	echo "check-layers: src/rundownd.h's map and the objects differ" \
	    "(< map, > objects):"
	diff "$tmp/map" "$tmp/drawn"
	status=1
fi
[ $status -eq 0 ] && echo "check-layers: src and lib call one way;" \
    "the map in src/rundownd.h is true"
exit $status
