#!/bin/sh
# check-completion.sh: the bash completion of rundownctl (completion/
# rundownctl), sourced into a bare bash and asked to complete command
# lines: the commands, the global options, each command's options, and
# the tags of the blocks of a private rundownd that the line names with
# -S or --socket.  Skips (77) without bash.
#
# The daemon is started in the foreground on a socket in a directory of
# our own; it is ready once rundownctl list answers (status 69 means
# nobody listens yet), which is polled, not waited for with a sleep.
set -eu
: "${top_srcdir:=.}" "${top_builddir:=.}"
command -v bash >/dev/null 2>&1 || {
	echo "check-completion: no bash, skipping"
	exit 77
}

completion=$top_srcdir/completion/rundownctl
rundownd=$top_builddir/src/rundownd
rundownctl=$(cd "$top_builddir/src" && pwd)/rundownctl
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-completion.XXXXXX")
sock=$tmp/run/rundownd.sock
pid=

cleanup() {
	if [ -n "$pid" ]; then
		# Blocks outlive their daemon: none is left in /dev/shm.
		for t in Rdwn Read Sock 0x00000001; do
			"$rundownctl" -S "$sock" free --force "$t" \
			    >/dev/null 2>&1 || :
		done
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mkdir -m 0700 "$tmp/run"
"$rundownd" -d -S "$sock" 2>"$tmp/rundownd.log" &
pid=$!
tries=0
while :; do
	st=0
	"$rundownctl" -S "$sock" list >/dev/null 2>&1 || st=$?
	[ "$st" -eq 0 ] && break
	if [ "$st" -ne 69 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "check-completion: rundownd did not start (list: $st)" >&2
		cat "$tmp/rundownd.log" >&2
		exit 1
	fi
	tries=$((tries + 1))
	if [ "$tries" -gt 20000 ]; then
		echo "check-completion: rundownd does not answer" >&2
		exit 1
	fi
done
for tag in Rdwn Read Sock 0x00000001; do
	"$rundownctl" -S "$sock" create "$tag" >/dev/null
done

# In bash: complete LINE (a trailing space starts a new, empty word)
# prints the candidates, sorted, on one line.
cat > "$tmp/run.bash" <<'EOS'
set -u
. "$COMPLETION"
complete_line() {
	local line=$1 w
	local -a split
	# As bash splits a line for completion: at blanks, and around '='.
	read -r -a split <<< "$line"
	COMP_WORDS=()
	for w in "${split[@]}"; do
		if [[ $w == ?*=* ]]; then
			COMP_WORDS+=("${w%%=*}" "=" "${w#*=}")
		else
			COMP_WORDS+=("$w")
		fi
	done
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	_rundownctl rundownctl "${COMP_WORDS[COMP_CWORD]}" \
	    "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
	echo
}
failed=0
# expect LINE WANT: the candidates for LINE must be WANT.
expect() {
	local got
	got=$(complete_line "$1")
	if [[ $got != "$2" ]]; then
		printf 'check-completion: "%s": got "%s", want "%s"\n' \
		    "$1" "$got" "$2" >&2
		failed=1
	else
		printf 'check-completion: "%s": %s\n' "$1" "$got"
	fi
}
P=$RUNDOWNCTL
expect "$P " "completed create free list metrics prune reinit run status wait"
expect "$P c" "completed create"
expect "$P re" "reinit"
expect "$P --so" "--socket"
expect "$P -" "--daemon-user --help --socket --version"
expect "$P -S $SOCK cr" "create"
expect "$P create Abcd --" "--help --mode --rows"
expect "$P create --rows 4 Abcd --m" "--mode"
expect "$P wait Rdwn --t" "--timeout"
expect "$P list --" "--help --json"
expect "$P list " ""
expect "$P prune --" "--help --json --yes"
expect "$P -S $SOCK prune " ""
expect "$P --socket $SOCK status " "0x00000001 Rdwn Read Sock"
expect "$P -S $SOCK wait R" "Rdwn Read"
expect "$P --socket=$SOCK completed S" "Sock"
expect "$P -S $SOCK free --help S" "Sock"
expect "$P free Rdwn --" "--force --help"
expect "$P -S $SOCK status Rdwn " ""
expect "$P -S $SOCK run Re" "Read"
expect "$P -S $SOCK run Read -- rundownct" "rundownctl"
expect "$P run --" "-- --create --help --wait-open"
expect "$P -S $SOCK run --create --w" "--wait-open"
expect "$P -S $SOCK run --wait-open=" ""
expect "$P -S $SOCK run --wait-open=5 Re" "Read"
expect "$P -S $SOCK run --wait-open Re" "Read"
expect "$P -S $SOCK run --wait-open=5 --create Read -- rundownct" \
    "rundownctl"
expect "$P m" "metrics"
expect "$P metrics --" "--help"
expect "$P -S $SOCK metrics " ""
expect "$P -S $SOCK/none status " ""
exit $failed
EOS
COMPLETION=$completion RUNDOWNCTL=$rundownctl SOCK=$sock \
    PATH="$(dirname "$rundownctl"):$PATH" \
    bash --norc --noprofile "$tmp/run.bash"
