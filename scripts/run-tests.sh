#!/bin/sh
# run-tests.sh: on a fresh Debian 12 machine, install what is missing, then
# build and run every test: the Check suites in a plain build, under
# ThreadSanitizer and under AddressSanitizer+UBSan (with the man page lint
# and the export check), the spin model check, a bounded libFuzzer run of
# the protocol decoder, and make distcheck.  Each step must leave
# /dev/shm as it found it: objects of rundownd's left there fail the run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/deps.sh" test

step() {
	printf '\n=== %s\n' "$*"
}

# The objects of rundownd's in /dev/shm, one name a line, sorted.
shm_list() {
	for f in /dev/shm/rundownd.*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		printf '%s\n' "${f#/dev/shm/}"
	done | LC_ALL=C sort
}

# shm_check WHAT: every step leaves /dev/shm as it found it; fails,
# naming them, if objects of rundownd's are there that were not before
# the first step (_build/shm.before).
shm_check() {
	shm_list > "$top/_build/shm.after"
	new=$(LC_ALL=C comm -13 "$top/_build/shm.before" \
	    "$top/_build/shm.after")
	[ -z "$new" ] && return 0
	step "left in /dev/shm: $1"
	printf '%s\n' "$new" | sed 's|^|/dev/shm/|'
	echo "run-tests: $1 left $(printf '%s\n' "$new" | wc -l) objects" \
	    "in /dev/shm (above); rundownctl prune lists and removes what" \
	    "no daemon serves" >&2
	exit 1
}

# check NAME CONFIGURE-ARGS...: build in _build/NAME and run make check;
# prints each suite's closing line and adds its counts to _build/counts.
check() {
	name=$1
	shift
	step "build and test: $name"
	sh "$top/scripts/build.sh" "$name" "$@"
	if ! make -s -C "$top/_build/$name" check; then
		for f in "$top/_build/$name"/tests/*.log; do
			grep -q -E '^(FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null &&
			    cat "$f" >&2
		done
		# Last, on standard output, where a tail of it still shows
		# them: the failing cases, one line each.
		step "failing cases: $name"
		grep -h -E ':[FE]:|Test timeout expired|^(FAIL|ERROR): ' \
		    "$top/_build/$name"/tests/*.log 2>/dev/null | tail -20 || :
		exit 1
	fi
	for f in "$top/_build/$name"/tests/check_*.log; do
		printf '%s: ' "$(basename "${f%.log}")"
		grep -h -E '^[0-9]+%: Checks:' "$f"
	done | tee -a "$top/_build/counts"
	shm_check "make check in _build/$name"
}

rm -f "$top/_build/counts"
mkdir -p "$top/_build"
shm_list > "$top/_build/shm.before"
check default --enable-werror
# The sanitizer builds run the stress loops with fewer iterations: each
# iteration costs them 5 to 20 times more.  What is not a loop (a
# daemon's start, a fork) is slower too: every case's Check timeout is
# scaled in one place (test_timeout() in tests/testutil.c).
(
	export RUNDOWN_TEST_DIVISOR=4
	export RUNDOWN_TEST_TIMEOUT_SCALE=3
	export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
	check tsan --enable-sanitizers=thread
)
(
	export RUNDOWN_TEST_DIVISOR=2
	export RUNDOWN_TEST_TIMEOUT_SCALE=2
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
	check asan --enable-sanitizers=address,undefined
)

# The model of the block's protocol (lib/block.pml), checked by spin for
# safety and liveness, and the protocol decoder fuzzed for a bounded time.
step "model check: lib/block.pml with spin"
sh "$top/tests/check-model.sh"
step "fuzz the protocol decoder for ${FUZZ_SECONDS:-60} s"
top_builddir="$top/_build/default" FUZZ_ARTIFACTS="$top/_build" \
    sh "$top/tests/check-fuzz.sh"
shm_check "the fuzzing run"

step "make distcheck"
if ! RUNDOWN_TEST_DIVISOR=4 make -s -C "$top/_build/default" distcheck \
    >"$top/_build/distcheck.log" 2>&1; then
	tail -50 "$top/_build/distcheck.log" >&2
	exit 1
fi
grep -E 'archives ready|distributions? ready' "$top/_build/distcheck.log" || :
shm_check "make distcheck"

step "summary"
awk '{ for (i = 1; i <= NF; i++) {
		if ($i == "Checks:") c += $(i + 1)
		if ($i == "Failures:" || $i == "Errors:") f += $(i + 1) } }
	END { printf "%d passed, %d failed\n", c - f, f }' "$top/_build/counts"
