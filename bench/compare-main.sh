#!/bin/sh
# compare-main.sh: two builds of bench_shared, run by turns, side by side.
#
#   bench/compare-main.sh [-k ROUNDS] [-d DIR] OLD NEW [BENCH-OPTION...]
#
# OLD and NEW are two bench_shared binaries, such as main's and a
# branch's, each built with optimisation and no sanitizers (see "Against
# main" in bench/README.md).  Each starts the rundownd of its own build,
# BUILD/src/rundownd for BUILD/bench/bench_shared (OLD_RUNDOWND and
# NEW_RUNDOWND override).  They run by turns, old, new, old, new, ... for
# ROUNDS rounds (default 3), so that a burst of other load hits both
# alike, each with variants b (the cross-process pair), s (the run-down
# start with 1, 4, 16 processes attached) and l (the attach latency of
# the 1st, 4th, 16th process and the memory per attachment).  Then, for
# each figure: the median of each binary's rounds (each itself a median
# of its run), their range, and new/old.
#
# The BENCH-OPTIONs go to every run after the script's own settings, and
# a later option wins: -t 50 -r 3 -s 20 -l 50 is a quick look, -T 1,2,4
# adds the oversubscribed pair.  -d DIR keeps each run's output there
# (old.1, new.1, ...).  About 3 minutes with the defaults on 2 CPUs.
#
# A tool for a person, not a test: it exits 0 whatever the figures say;
# 1 on a usage error, 2 if a run fails (its messages are shown).  Run it on
# an otherwise idle machine: other work makes the processes take turns,
# which hides what b measures and stretches s and l.
set -eu

# Defaults: b 9 x 200 ms at 1 and 2 processes (2 CPUs here; more only
# take turns); s 150 rounds and l 300 rounds per count of attached
# processes, in 9 chunks; s with 16 hammering processes is most of the
# time (a whole time slice per round when oversubscribed).
settings="-o bsl -T 1,2 -r 9 -t 200 -A 1,4,16 -s 150 -l 300"

usage() {
	echo "usage: compare-main.sh [-k ROUNDS] [-d DIR] OLD NEW" \
	    "[BENCH-OPTION...]" >&2
	exit "${1:-1}"
}

rounds=3
keep=
while getopts d:hk: opt; do
	case $opt in
	d) keep=$OPTARG ;;
	h) usage 0 ;;
	k) rounds=$OPTARG ;;
	*) usage 1 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage 1
case $rounds in
''|*[!0-9]*|0) echo "compare-main.sh: -k wants a count of rounds" >&2; exit 1 ;;
esac
old=$1
new=$2
shift 2

# The rundownd of the build a bench_shared binary is in.
daemon_of() {
	(cd "$(dirname "$1")/.." 2>/dev/null && printf '%s/src/rundownd' "$(pwd)")
}
old_d=${OLD_RUNDOWND:-$(daemon_of "$old")}
new_d=${NEW_RUNDOWND:-$(daemon_of "$new")}
for f in "$old" "$new" "$old_d" "$new_d"; do
	if [ ! -x "$f" ]; then
		echo "compare-main.sh: $f: not an executable" >&2
		exit 1
	fi
done

if [ -n "$keep" ]; then
	mkdir -p "$keep"
	out=$keep
else
	out=$(mktemp -d "${TMPDIR:-/tmp}/compare-main.XXXXXX")
	trap 'rm -rf "$out"' EXIT
fi
# Exits through the EXIT trap on a signal too (output piped to head: PIPE).
# On ^C each bench_shared stops its daemon and removes its objects itself.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# What else ran: the CPU time the machine spent busy (user, nice, system,
# irq, softirq) and stolen by the host, less what this shell's children
# (a run: bench_shared, its workers and daemon) used, in ticks of 1/100 s;
# the load average cannot tell, as it counts the run's own processes.
cpu_busy() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $9 + 0; exit }' \
	    /proc/stat
}
cpu_ours() {
	sed 's/.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'
}
uptime_ticks() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}

echo "old: $old (rundownd $old_d)"
echo "new: $new (rundownd $new_d)"
echo "settings: $settings${*:+ $*}; $rounds rounds, old and new by turns"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
began=$(date +%s)

i=1
while [ "$i" -le "$rounds" ]; do
	for side in old new; do
		if [ "$side" = old ]; then
			bin=$old daemon=$old_d
		else
			bin=$new daemon=$new_d
		fi
		read -r busy0 steal0 <<-EOF
		$(cpu_busy)
		EOF
		ours0=$(cpu_ours)
		t0=$(uptime_ticks)
		# $settings is split into words on purpose; it has no globs.
		# shellcheck disable=SC2086
		if ! "$bin" -D "$daemon" $settings "$@" >"$out/$side.$i" \
		    2>"$out/$side.$i.err"; then
			echo "compare-main.sh: round $i, $side failed:" >&2
			cat "$out/$side.$i.err" >&2
			exit 2
		fi
		t1=$(uptime_ticks)
		ours1=$(cpu_ours)
		read -r busy1 steal1 <<-EOF
		$(cpu_busy)
		EOF
		awk -v r="round $i/$rounds $side" -v t=$((t1 - t0)) \
		    -v o=$((busy1 - busy0 - (ours1 - ours0))) \
		    -v s=$((steal1 - steal0)) 'BEGIN {
			printf "%s: %.1f s; other processes used %.0f %% " \
			    "of a CPU, the host stole %.0f %%\n", r, t / 100,
			    t ? 100 * o / t : 0, t ? 100 * s / t : 0 }'
		if [ -s "$out/$side.$i.err" ]; then
			sed "s/^/  $side: /" "$out/$side.$i.err"
		fi
	done
	i=$((i + 1))
done
grep -m 1 '^machine:' "$out/old.1" || :
echo

# Each run's figures, by name, in the order of the first run; then the
# median and range of each side's rounds and the ratio of the medians.
# Lines read (bench_shared's tables):
#   b shared block  N  ns-med min max  Mops-med min max
#   idle|hammering  N  status p99 wait p99 start paired p99
#   l  N  others  attach p90 detach p90 status p90
#   m per attachment  SIZE ALLOCATED
#   m preallocated per row  SIZE ALLOCATED  (...)
set --
i=1
while [ "$i" -le "$rounds" ]; do
	set -- "$@" "$out/old.$i" "$out/new.$i"
	i=$((i + 1))
done
awk '
function put(fig, v,    n) {
	if (!(fig in seen)) {
		seen[fig] = 1
		order[++nfig] = fig
	}
	n = ++cnt[side, fig]
	val[side, fig, n] = v + 0
}
# Sorts side s of figure f (insertion sort: a few values) and sets lo, hi;
# returns the median.
function median(s, f,    n, i, j, t, a) {
	n = cnt[s, f]
	for (i = 1; i <= n; i++)
		a[i] = val[s, f, i]
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	lo = a[1]
	hi = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# Three significant figures or more, no exponent.
function num(v) {
	if (v == int(v) || v >= 1000 || v <= -1000)
		return sprintf("%.0f", v)
	return sprintf(v >= 100 || v <= -100 ? "%.1f" : "%.2f", v)
}
function nth(n) {
	return n % 10 == 1 && n % 100 != 11 ? "st" : n % 10 == 2 && \
	    n % 100 != 12 ? "nd" : n % 10 == 3 && n % 100 != 13 ? "rd" : "th"
}
FNR == 1 { side = FILENAME ~ /\/old\.[0-9]+$/ ? "old" : "new" }
$1 == "b" && $2 == "shared" && $3 == "block" {
	put("b ns per pair, " $4 " proc", $5)
	put("b Mops/s, " $4 " proc (higher is better)", $8)
}
($1 == "idle" || $1 == "hammering") && $2 ~ /^[0-9]+$/ {
	put("s start us, " $1 ", " $2 " attached", $7)
}
$1 == "l" && $2 ~ /^[0-9]+$/ {
	put("l attach us, " $2 nth($2), $4)
	put("l attach us p90, " $2 nth($2), $5)
	put("l detach us, " $2 nth($2), $6)
	put("l status us (baseline), " $2 nth($2), $8)
}
$1 == "m" && $2 == "per" && $3 == "attachment" {
	put("m bytes per attachment", $4)
	put("m allocated per attachment", $5)
}
$1 == "m" && $2 == "preallocated" {
	put("m preallocated bytes per row", $5)
}
END {
	printf "%-34s %10s %10s %8s  %s\n", "figure (medians of the rounds)",
	    "old", "new", "new/old", "range old; new"
	for (k = 1; k <= nfig; k++) {
		f = order[k]
		o = n = "-"
		ro = rn = "-"
		if (cnt["old", f]) {
			mo = median("old", f)
			o = num(mo)
			ro = num(lo) "-" num(hi)
		}
		if (cnt["new", f]) {
			mn = median("new", f)
			n = num(mn)
			rn = num(lo) "-" num(hi)
		}
		r = "-"
		if (cnt["old", f] && cnt["new", f] && mo != 0)
			r = sprintf("%.3f", mn / mo)
		note = ""
		# The bound on the pair: no worse than 5 %.
		if (r != "-" && f ~ /^b ns/)
			note = r + 0 <= 1.05 ? "  (<= 1.05: ok)" : \
			    "  (> 1.05: worse by more than 5 %)"
		if (r != "-" && f ~ /^b Mops/)
			note = r + 0 >= 1 / 1.05 ? "  (>= 0.952: ok)" : \
			    "  (< 0.952: worse by more than 5 %)"
		printf "%-34s %10s %10s %8s  %s; %s%s\n", f, o, n, r, ro, rn,
		    note
	}
}' "$@"
echo
echo "(lower is better but for Mops/s; s and l in microseconds; a figure"
echo " only one side prints shows - on the other)"
echo "$(($(date +%s) - began)) s in all"
