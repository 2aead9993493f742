#!/bin/sh
# main-job.sh: on a fresh Debian 12 machine, install what is missing, build,
# and run the main job: rundownd on its built-in defaults; reader processes
# (examples/shared_example) that read a shared structure under protection
# of the block "Demo"; a run-down from rundownctl; the structure swapped to
# version 2 while nobody can hold protection; the block re-initialized and
# the readers seeing version 2; a clean shut-down.  Every step is printed.
# Any failure (a checksum failure, a read during the swap, a stale version,
# a command that fails) stops the job with status 1; nothing it started is
# left running.  If a daemon already answers on the socket, it is left alone
# and the job fails.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/deps.sh" main
sh "$top/scripts/build.sh" default

bin=$top/_build/default
rundownd=$bin/src/rundownd
rundownctl=$bin/src/rundownctl
example=$bin/examples/shared_example
tag=Demo
readers=4

step() {
	printf '\n=== %s\n' "$*"
}

fail() {
	printf 'main-job: FAILED: %s\n' "$*" >&2
	exit 1
}

# What this job started, for the clean-up on failure.
tmp=$(mktemp -d /tmp/main-job.XXXXXX)
daemon_pid=
reader_pids=
created=

cleanup() {
	status=$?
	set +e
	for p in $reader_pids; do
		kill -TERM "$p" 2>/dev/null
	done
	if [ -n "$daemon_pid" ]; then
		# Remove the block, so that no shared memory outlives the job.
		if [ -n "$created" ]; then
			"$rundownctl" wait "$tag" --timeout 5 >/dev/null 2>&1
			"$rundownctl" free "$tag" >/dev/null 2>&1
		fi
		kill -TERM "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
		echo "main-job: rundownd log:" >&2
		sed 's/^/  /' "$tmp/rundownd.log" >&2
	fi
	# After the daemon: a reader blocked in a call to it gets its answer.
	for p in $reader_pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# rundownctl COMMAND...: runs it, printing the command line; fails the job
# if it fails.
ctl() {
	echo "\$ rundownctl $*"
	"$rundownctl" "$@" || fail "rundownctl $* exited with status $?"
}

# json_has KEY VALUE: true if rundownctl status TAG --json says so of the
# block (not of one of its holders).
json_has() {
	"$rundownctl" status "$tag" --json | sed 's/,"holders":.*//' |
	    grep -Eq "\"$1\":$2([,}]|\$)"
}

step "rundownd on its built-in defaults"
sock=$("$example" socket)
echo "socket: $sock"
probe=0
"$rundownctl" list >/dev/null 2>"$tmp/probe" || probe=$?
case $probe in
0)	fail "a rundownd already answers on $sock; leaving it alone" ;;
69)	;;	# nobody answers: ours to start
*)	cat "$tmp/probe" >&2
	fail "cannot tell whether a rundownd runs on $sock (rundownctl list: $probe)" ;;
esac
"$rundownd" -d 2>"$tmp/rundownd.log" &
daemon_pid=$!
# Poll until it answers (the pause only paces the polls), or has exited.
tries=0
until "$rundownctl" list >/dev/null 2>&1; do
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		wait "$daemon_pid" || :
		daemon_pid=
		sed 's/^/  /' "$tmp/rundownd.log" >&2
		fail "rundownd exited at start-up"
	fi
	tries=$((tries + 1))
	[ "$tries" -lt 200 ] || fail "rundownd does not answer on $sock"
	sleep 0.05
done
echo "rundownd (pid $daemon_pid) answers on $sock"

step "create the block $tag and version 1 of the structure"
ctl create "$tag"
created=1
"$example" init "$tmp/data"
echo "structure: $tmp/data (version 1, 4096-byte payload, checksum)"

step "start $readers readers: acquire, read and verify, release"
i=0
while [ "$i" -lt "$readers" ]; do
	"$example" reader "$tag" "$tmp/data" "$i" &
	reader_pids="$reader_pids $!"
	i=$((i + 1))
done
"$example" await "$tmp/data" 1 "$readers" ||
    fail "the readers did not all read version 1"
echo "every reader has read version 1; letting them work"
sleep 0.5
json_has attached "$readers" || fail "rundownctl status does not show $readers readers attached"
ctl status "$tag"

step "run-down: new acquires are refused, the wait returns once no one holds protection"
ctl wait "$tag" --timeout 10
echo "the wait returned: every protection granted before it has been released"
json_has state '"drained"' || fail "the block is not drained after the wait"
json_has outstanding 0 || fail "protection is still outstanding after the wait"
ctl status "$tag"

step "swap the structure to version 2 while nobody can hold protection"
"$example" swap "$tag" "$tmp/data" 2 || fail "the swap failed"

step "re-initialize: readers get in again and must see version 2"
ctl reinit "$tag"
"$example" await "$tmp/data" 2 "$readers" ||
    fail "the readers did not all read version 2"
echo "every reader has read version 2; letting them work"
sleep 0.5
ctl status "$tag"

step "stop the readers"
failed=0
for p in $reader_pids; do
	kill -TERM "$p"
	st=0
	wait "$p" || st=$?
	[ "$st" -eq 0 ] || failed=$((failed + 1))
done
reader_pids=
[ "$failed" -eq 0 ] || fail "$failed reader(s) saw a bad checksum, a read during the swap or a stale version"
json_has attached 0 || fail "readers are still attached after they exited"

step "free the block and stop rundownd"
ctl free "$tag"
created=
st=0
"$rundownctl" status "$tag" >/dev/null 2>&1 || st=$?
[ "$st" -eq 1 ] || fail "the block is still there after free (status $st)"
echo "rundownctl status $tag: no such block"
kill -TERM "$daemon_pid"
st=0
wait "$daemon_pid" || st=$?
daemon_pid=
[ "$st" -eq 0 ] || fail "rundownd exited with status $st"
[ ! -e "$sock" ] || fail "rundownd left its socket $sock"
echo "rundownd exited with status 0 and removed its socket; its log:"
sed 's/^/  /' "$tmp/rundownd.log"

step "OK"
