#!/bin/sh
# check-postrm.sh: debian/rundownd.postrm, which a purge runs, removes the
# blocks the system's rundownd left in /dev/shm, and nothing else.
#
# Its socket and uid are set to those of a private rundownd, which makes
# a block.  While that daemon runs, a purge leaves the block; a removal
# (not a purge) never touches it; once the daemon is killed, a purge
# removes every object of the block, and the objects it removes are the
# ones rundownctl prune names: the script's hash of the socket's path is
# the daemon's.  Skips (77) without the script (release tarballs lack
# debian/) or without flock(1) and od(1).
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
postrm=$top_srcdir/debian/rundownd.postrm
[ -f "$postrm" ] || { echo "check-postrm: no $postrm, skipping"; exit 77; }
for t in flock od; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "check-postrm: no $t, skipping"
		exit 77
	}
done

rundownd=$top_builddir/src/rundownd
rundownctl=$top_builddir/src/rundownctl
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-postrm.XXXXXX")
sock=$tmp/run/rundownd.sock
pid=

cleanup() {
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
	fi
	"$rundownctl" -S "$sock" prune --yes >/dev/null 2>&1 || :
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "check-postrm: $*" >&2
	exit 1
}

# The postrm, for the private daemon's socket and uid.
sed -e "s|^sock=/run/rundownd/rundownd.sock\\(.*\\)|sock=$sock\\1|" \
    -e "s|^uid=0\\(.*\\)|uid=$(id -u)\\1|" "$postrm" > "$tmp/postrm"
grep -q "^sock=$sock" "$tmp/postrm" && grep -q "^uid=$(id -u)" \
    "$tmp/postrm" || fail "cannot set the socket and uid of $postrm"

mkdir -m 0700 "$tmp/run"
"$rundownd" -d -S "$sock" 2>"$tmp/rundownd.log" &
pid=$!
# Polled, not slept for: 69 while nobody listens yet.
tries=0
until "$rundownctl" -S "$sock" list >/dev/null 2>&1; do
	kill -0 "$pid" 2>/dev/null || {
		cat "$tmp/rundownd.log" >&2
		fail "rundownd did not start"
	}
	tries=$((tries + 1))
	[ "$tries" -lt 20000 ] || fail "rundownd does not answer"
done
"$rundownctl" -S "$sock" create Post

sh "$tmp/postrm" purge 2>"$tmp/purge.err"
grep -q "still runs on $sock" "$tmp/purge.err" || fail "a purge with" \
    "the daemon running did not say so: $(cat "$tmp/purge.err")"
"$rundownctl" -S "$sock" status Post >/dev/null ||
    fail "a purge removed the block of a running daemon"

kill -KILL "$pid"
wait "$pid" 2>/dev/null || :
pid=
# The block, as prune names it: /dev/shm/NAME, then NAME.meta.
"$rundownctl" -S "$sock" prune --json > "$tmp/list" 2>/dev/null
block=$(sed -n 's|^\[{"block":"\([^"]*\)",.*|\1|p' "$tmp/list")
[ -n "$block" ] && [ -f "$block" ] && [ -f "$block.meta" ] ||
    fail "no block left by the killed daemon: $(cat "$tmp/list")"

sh "$tmp/postrm" remove
[ -f "$block" ] && [ -f "$block.meta" ] || fail "a removal removed $block"

sh "$tmp/postrm" purge
for f in "$block" "$block.meta"; do
	[ ! -e "$f" ] || fail "a purge left $f"
done
[ ! -e "$sock.lock" ] || fail "a purge left $sock.lock"
"$rundownctl" -S "$sock" prune --json > "$tmp/list" 2>/dev/null
[ "$(cat "$tmp/list")" = "[]" ] ||
    fail "a purge left objects of the daemon: $(cat "$tmp/list")"
echo "check-postrm: a purge removed $block and its record, and left a" \
    "running daemon's"
