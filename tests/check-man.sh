#!/bin/sh
# check-man.sh: lints every manual page with mandoc; any message fails.
#
# Run by make check with top_srcdir and MANDOC in the environment; skips
# (77) when configure found no mandoc.  Messages of level "warning" and
# above count; "style" suggestions do not.

if [ -z "${MANDOC}" ]; then
	echo "check-man: mandoc not found, skipping"
	exit 77
fi

srcdir=${top_srcdir:-.}
status=0
pages=0

for page in "$srcdir"/man/*.1 "$srcdir"/man/*.3 "$srcdir"/man/*.8; do
	[ -f "$page" ] || continue	# an unmatched pattern stays literal
	pages=$((pages + 1))
	out=$("$MANDOC" -Tlint -W warning "$page" 2>&1)
	rc=$?
	if [ -n "$out" ] || [ "$rc" -ne 0 ]; then
		echo "check-man: $page (mandoc exit $rc):"
		printf '%s\n' "$out"
		status=1
	else
		echo "check-man: $page: clean"
	fi
done

if [ "$pages" -eq 0 ]; then
	echo "check-man: no manual pages under $srcdir/man"
	exit 1
fi
exit $status
