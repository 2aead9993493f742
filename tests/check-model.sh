#!/bin/sh
# check-model.sh: checks the Promela model of the shared block
# (lib/block.pml) with spin, exhaustively, and shows that it can fail.
#
# For each configuration below: spin -a, then pan compiled twice, for
# safety (assertions, invariants, invalid end states) and for liveness
# (acceptance cycles of the ltl claim quiet_drains, weak fairness).  Then
# each deliberately broken variant (BROKEN=n in the model) must fail, or
# the properties would be vacuous.  Fails if spin is missing, if any check
# finds an error or cannot finish, or if a broken variant passes.
#
# Run by make check with top_srcdir set; by hand from anywhere, it finds
# the model from its own path.  CC picks the compiler for pan (cc).

if ! command -v spin >/dev/null 2>&1; then
	echo "check-model: spin not installed; scripts/deps.sh installs it"
	exit 1
fi
CC=${CC:-cc}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "check-model: no C compiler ($CC) to build pan"
	exit 1
fi

srcdir=${top_srcdir:-$(dirname "$0")/..}
model=$srcdir/lib/block.pml
if [ ! -f "$model" ]; then
	echo "check-model: no model at $model"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-model.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
# A copy beside pan, so that spin -t finds the model and its trail.
cp "$model" "$tmp/block.pml" || exit 1
cd "$tmp" || exit 1

# pan: exhaustive (COLLAPSE only compresses the stored states), at most
# 1 GiB; a search that hits the limit counts as a failure.
PANFLAGS="-w -DCOLLAPSE -DMEMLIM=1024"
status=0

# Configurations: name, then the model's macros.  Two processes with two
# CPUs each; client 0 may be killed, rundownd may be killed once.  Each
# acquire and each release takes the rseq path (a restartable section
# that the run-down's fence aborts) or the atomic one (RSEQ=1), but in
# reinit, the largest, where client 1 takes only the rseq path (RSEQ=3).
#   death    a client dies anywhere, one run-down
#   reinit   two run-downs and a re-initialize between them, no death,
#            and a second waiter (block_wait in another thread) scanning
#   restart  rundownd killed anywhere in block_reset and re-adopting the
#            block (one busy client, which may die; two run-downs)
#   harvest  rundownd killed anywhere between its flip and the end of its
#            harvest (before its fence, too) and re-adopting
#   lock     a library block (LOCKED): the starter holds the robust
#            run-down lock from the flip through fence and harvest, and
#            dies anywhere in that; the owner's block_wait takes the lock
#            and finishes the work (one busy client, no death)
CONFIGS="death:-DNOPS=1:-DMAXRUN=1:-DMAXDEAD=1
reinit:-DRSEQ=3:-DNOPS=1:-DMAXRUN=2:-DMAXDEAD=0:-DWAITSCANS=1
restart:-DNOPS=1:-DNOPS1=0:-DMAXRUN=2:-DMAXDEAD=1:-DMAXCRASH=1:-DCRASHIN=ST_RESETTING
harvest:-DNOPS=1:-DNOPS1=0:-DMAXRUN=1:-DMAXDEAD=1:-DMAXCRASH=1:-DCRASHIN=ST_RUNDOWN
lock:-DLOCKED=1:-DNOPS=1:-DNOPS1=0:-DMAXRUN=1:-DMAXDEAD=0:-DMAXCRASH=1:-DCRASHIN=ST_RUNDOWN:-DWAITSCANS=1"

# Broken variants: BROKEN number, configuration, check that must fail.
# They run with NOROWCHECK, without the invariant that each row counts
# what its process holds (which catches 1, 2, 3 and 5 at once) and the
# assertion that no rseq commit lands after its run-down's fence (8, 9),
# to show that the properties above fail by themselves: a drain while
# protection is held, a harvested row owing below zero, a client touching
# the freed block, or a run-down that never ends (an acceptance cycle, or
# in a safety check a waiter asleep for good: an invalid end state).
#   1 acquire ignores ACTIVE (skips the run-down check)
#   2 the harvest leaves out one slot of each row
#   3 block_reset zeroes the drain words (a repeated reset loses residue)
#   4 block_reclaim_row leaves a harvested row's debt
#   5 block_reset zeroes open slots too (as before 3f13474)
#   6 block_check_drained drains any generation's run-down
#   7 a release that drains its row ends the run-down itself (reading the
#     block after its decisive write, which the freed block forbids)
#   8 no fence: the harvest reads the rseq words while a section that
#     read OPEN may still commit
#   9 block_recover harvests without fencing again, trusting a fence
#     that the dead party may not have reached (a restarted rundownd, a
#     waiter under the lock)
#  10 block_reset leaves the rseq words (the next harvest counts them
#     again)
#  11 block_lock does not recover: a dead starter's harvest is never
#     finished
MUTANTS="1:death:safety
2:death:safety
3:restart:liveness
4:death:liveness
5:restart:safety
6:reinit:safety
7:death:safety
8:death:safety
9:harvest:safety
9:lock:safety
10:restart:liveness
11:lock:liveness"

# macros NAME: the -D options of configuration NAME.
macros() {
	printf '%s\n' "$CONFIGS" | sed -n "s/^$1://p" | tr ':' ' '
}

# check LABEL KIND DEFINES OPT: runs one check; sets errors and out.
# OPT: -O1 for the full searches; -O0 (quicker to build) for the broken
# variants, whose searches stop at the first error.
check() {
	label=$1
	out=
	kind=$2
	defs=$3
	opt=$4
	rm -f pan* ./*.trail
	# shellcheck disable=SC2086
	if ! spin -a $defs block.pml >spin.out 2>&1; then
		echo "check-model: $label: spin -a failed:"
		cat spin.out
		errors=-1
		return
	fi
	case $kind in
	safety)
		cflags="-DSAFETY -DNOCLAIM"
		run="./pan -m20000"
		;;
	liveness)
		cflags="-DNFAIR=3"
		run="./pan -m20000 -a -f -N quiet_drains"
		;;
	esac
	# shellcheck disable=SC2086
	if ! $CC $opt $PANFLAGS $cflags -o pan pan.c >cc.out 2>&1; then
		echo "check-model: $label: cannot compile pan:"
		cat cc.out
		errors=-1
		return
	fi
	$run >pan.out 2>&1
	out=$(grep -E '^pan:[0-9]|errors:|states, stored|elapsed time|Search not completed|MEMLIM|max search depth too small' \
	    pan.out)
	errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.out)
	[ -n "$errors" ] || errors=-1
	# A search cut short (by memory or depth, not by an error found)
	# proves nothing.
	if [ "$errors" -eq 0 ] && grep -q -E \
	    'Search not completed|reached -DMEMLIM|max search depth too small' \
	    pan.out; then
		errors=-1
	fi
}

echo "check-model: spin: $(spin -V)"
start=$(date +%s)

for cfg in $(printf '%s\n' "$CONFIGS" | cut -d: -f1); do
	for kind in safety liveness; do
		check "$cfg $kind" $kind "$(macros "$cfg")" -O1
		echo "check-model: $cfg $kind ($(macros "$cfg")):"
		printf '%s\n' "$out" | sed 's/^[ 	]*/	/'
		if [ "$errors" -ne 0 ]; then
			echo "check-model: FAIL: $cfg $kind"
			grep -v '^[ 	]*$' pan.out | head -40
			if [ -f block.pml.trail ]; then
				echo "check-model: the end of the counterexample:"
				# shellcheck disable=SC2046
				spin -t -p -g $(macros "$cfg") block.pml 2>&1 |
				    tail -n 60
			fi
			status=1
		fi
	done
done

for m in $MUTANTS; do
	n=${m%%:*}
	rest=${m#*:}
	cfg=${rest%%:*}
	kind=${rest#*:}
	check "BROKEN=$n $cfg $kind" "$kind" \
	    "-DBROKEN=$n -DNOROWCHECK $(macros "$cfg")" -O0
	how=$(grep '^pan:[0-9]' pan.out | head -n 1 | cut -c1-100)
	if [ "$errors" -gt 0 ]; then
		echo "check-model: BROKEN=$n ($cfg $kind) fails as it must: $how"
	else
		echo "check-model: FAIL: BROKEN=$n ($cfg $kind) passed (errors: $errors): the check is vacuous"
		printf '%s\n' "$out" | sed 's/^[ 	]*/	/'
		status=1
	fi
done

echo "check-model: $(($(date +%s) - start)) s in all"
exit $status
