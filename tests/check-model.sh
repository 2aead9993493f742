#!/bin/sh
# check-model.sh: checks the Promela model of the shared block
# (lib/block.pml) with spin, exhaustively, and shows that it can fail.
#
# For each configuration below: spin -a, then pan compiled twice, for
# safety (assertions, invariants, invalid end states) and for liveness
# (acceptance cycles of the ltl claim quiet_drains, weak fairness), and
# for some, with the liveness build, progress (the claim daemon_free:
# every handler of rundownd's ends, whatever a client writes).  Then
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
# CPUs each, each with its own row, which rundownd drops when the process
# dies; client 0 may be killed, rundownd may be killed once.  Each
# acquire and each release takes the rseq path (a restartable section
# that the run-down's fence aborts) or the atomic one (RSEQ=1), but in
# reinit, the largest, where client 1 takes only the rseq path (RSEQ=3),
# and in forge and starve, where client 0 takes only the rseq path
# (RSEQ=2).
#   death    a client dies anywhere, one run-down; rundownd drops its row
#   reinit   two run-downs and a re-initialize between them, no death,
#            and a second waiter scanning late (as a library block's
#            block_wait in another thread does)
#   restart  rundownd killed anywhere in block_reset and re-adopting the
#            block: every recorded row live, block_recover, then the row
#            of a process found dead reclaimed (one busy client, which
#            may die; two run-downs)
#   harvest  rundownd killed anywhere between its flip and the end of its
#            harvest (before its fence, too) and re-adopting, as above
#   lock     a library block (LOCKED): the starter holds the robust
#            run-down lock from the flip through fence and harvest, and
#            dies anywhere in that; the owner's block_wait takes the lock
#            and finishes the work (one busy client, no death)
#   forge    client 1 is hostile: it writes any of a set of values into
#            its own row's words (twice at most, anywhere), and may die
#            anywhere, then is reclaimed; client 0 is honest (two
#            run-downs, a re-initialize between them)
#   reuse    client 0 dies and a new process gets its row, formatted for
#            the state rundownd reads then, and takes and gives back
#            protection (client 1 idle; two run-downs)
#   starve   client 1 is hostile and writes its row without bound
#            (NFORGE=0), and is never killed (weak fairness would force
#            its death); client 0 is honest; one run-down.  Checked for
#            progress too: no write of the forger's keeps rundownd in a
#            handler (block_switch's fetch-or, the harvest's fetch-add
#            and single DONE CAS, block_settle's single scan)
CONFIGS="death:-DNOPS=1:-DMAXRUN=1:-DMAXDEAD=1
reinit:-DRSEQ=3:-DNOPS=1:-DMAXRUN=2:-DMAXDEAD=0:-DWAITSCANS=1
restart:-DNOPS=1:-DNOPS1=0:-DMAXRUN=2:-DMAXDEAD=1:-DMAXCRASH=1:-DCRASHIN=ST_RESETTING
harvest:-DNOPS=1:-DNOPS1=0:-DMAXRUN=1:-DMAXDEAD=1:-DMAXCRASH=1:-DCRASHIN=ST_RUNDOWN
lock:-DLOCKED=1:-DNOPS=1:-DNOPS1=0:-DMAXRUN=1:-DMAXDEAD=0:-DMAXCRASH=1:-DCRASHIN=ST_RUNDOWN:-DWAITSCANS=1
fencefail:-DLOCKED=1:-DFENCEFAIL=2:-DNOPS=1:-DNOPS1=0:-DMAXRUN=1:-DMAXDEAD=0:-DWAITSCANS=1
forge:-DFORGE=1:-DRSEQ=2:-DNOPS=1:-DNFORGE=2:-DMAXRUN=2:-DMAXDEAD=1
reuse:-DREUSE=1:-DNOPS=1:-DNOPS1=0:-DMAXRUN=2:-DMAXDEAD=1
starve:-DFORGE=1:-DNFORGE=0:-DRSEQ=2:-DNOPS=1:-DMAXRUN=1:-DMAXDEAD=0"
# Configurations also checked for progress (ltl daemon_free, weak
# fairness): rundownd's every handler ends, whatever its clients write.
PROGRESS="starve"

# Broken variants: BROKEN number, configuration, check that must fail,
# and "rows" where the row check stays on.  The others run with
# NOROWCHECK, without the invariant that each row counts what its process
# holds (which catches 1, 2, 3 and 5 at once), the assertion that
# block_row_held finds what a dead process held, and the assertion that
# no rseq commit lands after its run-down's fence (8, 9), to show that
# the properties above fail by themselves: a drain while
# protection is held, a harvested row owing below zero, a client touching
# the freed block, a run-down that never ends (an acceptance cycle, or
# in a safety check a waiter asleep for good: an invalid end state), or
# a handler of rundownd's that never ends (an acceptance cycle of
# daemon_free).
#   1 acquire ignores ACTIVE (skips the run-down check)
#   2 the harvest leaves out one slot of each row
#   3 block_reset zeroes the drain words (a repeated reset loses residue)
#   4 reclaim leaves the dead client's row live (its debt is waited for)
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
#  12 the forger writes client 0's row too (one mapping of every row, as
#     before each row was an object of its own): a drain while client 0
#     holds
#  13 block_check_drained and block_undrained scan rows that are not live
#     (a dropped row's last words are waited for)
#  14 a forged row (harvested, owing below zero) counts as undrained
#  15 a row lent while the block is not open is zeroed, as one lent while
#     open: its process acquires while the block reads drained
#  16 block_switch and rundownd's harvest of the drain word are the CAS
#     loops they were: a forger writing 0 and 2 into an at word in turn
#     keeps block_switch retrying (daemon_free fails)
#  17 block_settle drains with block_check_drained, scanning the rows a
#     second time, and loops when that scan finds a row undone: a forger
#     whose row reads done and undone in turn keeps it looping
#  18 block_harvest_row sets DONE only right after its own fetch-add: a
#     rundownd killed between the two leaves an idle row harvested at
#     zero without DONE, which its successor's harvest passes over (the
#     run-down never ends)
#  19 adoption reclaims the rows of processes gone before block_recover:
#     block_row_held reads a row whose reset the killed rundownd left
#     half done, and counts its last generation's at and rseq words
#     again (a wrong figure in the log and the reclaimed count, which
#     only the row check sees)
# 17, 18 and 19 are lib/block.c and src/registry.c before commit 2c9c59a.
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
11:lock:liveness
12:forge:safety
13:forge:liveness
14:forge:liveness
15:reuse:safety
16:starve:progress
17:starve:progress
18:harvest:liveness
19:restart:safety:rows
20:fencefail:safety"

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
	case $kind in
	safety)
		cflags="-DSAFETY -DNOCLAIM"
		run="./pan -m20000"
		;;
	liveness)
		cflags="-DNFAIR=3"
		run="./pan -m20000 -a -f -N quiet_drains"
		;;
	progress)
		cflags="-DNFAIR=3"
		run="./pan -m20000 -a -f -N daemon_free"
		;;
	esac
	rm -f ./*.trail pan.out
	# The pan of the check before, if built alike (liveness and
	# progress of one configuration).
	if [ "$built" = "$defs|$cflags|$opt" ] && [ -x pan ]; then
		$run >pan.out 2>&1
		parse
		return
	fi
	built=
	rm -f pan*
	# shellcheck disable=SC2086
	if ! spin -a $defs block.pml >spin.out 2>&1; then
		echo "check-model: $label: spin -a failed:"
		cat spin.out
		errors=-1
		return
	fi
	# shellcheck disable=SC2086
	if ! $CC $opt $PANFLAGS $cflags -o pan pan.c >cc.out 2>&1; then
		echo "check-model: $label: cannot compile pan:"
		cat cc.out
		errors=-1
		return
	fi
	built="$defs|$cflags|$opt"
	$run >pan.out 2>&1
	parse
}

# parse: errors and out from pan.out.
parse() {
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

built=
for cfg in $(printf '%s\n' "$CONFIGS" | cut -d: -f1); do
	kinds="safety liveness"
	case " $PROGRESS " in
	*" $cfg "*) kinds="$kinds progress" ;;
	esac
	for kind in $kinds; do
		check "$cfg $kind" "$kind" "$(macros "$cfg")" -O1
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
	rows=-DNOROWCHECK
	case $kind in
	*:rows)
		kind=${kind%:rows}
		rows=
		;;
	esac
	check "BROKEN=$n $cfg $kind" "$kind" \
	    "-DBROKEN=$n $rows $(macros "$cfg")" -O0
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
