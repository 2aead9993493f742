#!/bin/sh
# check-fuzz.sh: builds the control protocol's fuzz target
# (tests/fuzz/fuzz_proto.c) with clang and libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs it for a bounded time over the seed
# corpus (tests/fuzz/corpus) and a working corpus in a temporary directory.
# Fails on a crash, a failed check, a leak, a timeout, a sanitizer report,
# or a seed corpus that differs from what tests/fuzz/make-corpus.c writes.
#
#   sh tests/check-fuzz.sh                 fuzz for $FUZZ_SECONDS
#   sh tests/check-fuzz.sh --write-corpus  regenerate tests/fuzz/corpus
#
# Environment:
#   FUZZ_SECONDS    fuzzing time in seconds (default 60)
#   FUZZ_ARTIFACTS  where a failing input is copied (default: the current
#                   directory); its bytes are also dumped to the log
#   CLANG           the compiler (default: clang, else clang-14)
#   top_srcdir      the source tree (default: the parent of this script's
#                   directory, so the script works from any directory)
#   top_builddir    a configured build tree (default: top_srcdir).  The
#                   library's sources include "config.h" and the public
#                   header <rundown/version.h>, which configure writes: they
#                   are taken from top_builddir when it has them, so the
#                   target is compiled as the library is.  Otherwise (no
#                   configured tree, e.g. a job that only fuzzes) minimal
#                   ones are written to the temporary directory: config.h
#                   defines _GNU_SOURCE, all that AC_USE_SYSTEM_EXTENSIONS
#                   gives that lib/proto.c, lib/client.c and the files
#                   they call need, and version.h comes from
#                   version.h.in and AC_INIT's version.
#
# Needs clang with the libFuzzer and sanitizer runtimes; on Debian 12:
#   apt-get install clang-14 libclang-rt-14-dev
set -eu

me=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$me/..}"
: "${top_builddir:=$top_srcdir}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
secs=${FUZZ_SECONDS:-60}
artifacts=${FUZZ_ARTIFACTS:-.}
fuzzdir=$top_srcdir/tests/fuzz
corpus=$fuzzdir/corpus

case $secs in
''|*[!0-9]*)
	echo "check-fuzz: FUZZ_SECONDS must be a whole number of seconds" >&2
	exit 1
	;;
esac

install_hint() {
	echo "check-fuzz: $1" >&2
	echo "check-fuzz: install clang and libFuzzer with the sanitizer" \
	    "runtimes; on Debian 12:" >&2
	echo "    apt-get install clang-14 libclang-rt-14-dev" >&2
	exit 1
}

if [ -n "${CLANG:-}" ]; then
	cc=$CLANG
elif command -v clang >/dev/null 2>&1; then
	cc=clang
elif command -v clang-14 >/dev/null 2>&1; then
	cc=clang-14
else
	install_hint "no clang found (set CLANG to use another)"
fi
command -v "$cc" >/dev/null 2>&1 || install_hint "$cc not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# libFuzzer and both sanitizers link?  (clang alone comes without them.)
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' >"$tmp/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$tmp/probe.c" \
    -o "$tmp/probe" >"$tmp/probe.log" 2>&1; then
	cat "$tmp/probe.log" >&2
	install_hint "$cc cannot link -fsanitize=fuzzer,address,undefined"
fi

# config.h and <rundown/version.h>: the configured tree's, or minimal ones.
if [ -f "$top_builddir/config.h" ] &&
    [ -f "$top_builddir/include/rundown/version.h" ]; then
	gen="-I$top_builddir -I$top_builddir/include"
	echo "check-fuzz: config.h from $top_builddir"
else
	mkdir -p "$tmp/gen/rundown"
	printf '%s\n' '/* check-fuzz.sh: no configured tree; see there. */' \
	    '#define _GNU_SOURCE 1' >"$tmp/gen/config.h"
	v=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([0-9.]*\)\].*/\1/p' \
	    "$top_srcdir/configure.ac")
	[ -n "$v" ] || v=0.0.0
	sed -e "s/@RUNDOWN_VERSION_MAJOR@/$(echo "$v" | cut -d. -f1)/" \
	    -e "s/@RUNDOWN_VERSION_MINOR@/$(echo "$v" | cut -d. -f2)/" \
	    -e "s/@RUNDOWN_VERSION_MICRO@/$(echo "$v" | cut -d. -f3)/" \
	    -e "s/@PACKAGE_VERSION@/$v/" \
	    "$top_srcdir/include/rundown/version.h.in" \
	    >"$tmp/gen/rundown/version.h"
	gen="-I$tmp/gen"
	echo "check-fuzz: no config.h in $top_builddir; using a minimal one"
fi

cflags="-std=c11 -g -O1 -Wall -Wextra $gen -I$top_srcdir/include \
-I$top_srcdir/lib"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"

# The seed corpus: what make-corpus writes, which must be what is committed.
# shellcheck disable=SC2086
"$cc" $cflags $san "$fuzzdir/make-corpus.c" "$top_srcdir/lib/proto.c" \
    -o "$tmp/make-corpus"
mkdir "$tmp/seeds"
"$tmp/make-corpus" "$tmp/seeds"
if [ "${1:-}" = --write-corpus ]; then
	rm -rf "$corpus"
	mkdir -p "$corpus"
	cp "$tmp/seeds"/* "$corpus/"
	n=$(find "$corpus" -type f | wc -l)
	echo "check-fuzz: wrote $n seeds to $corpus"
	exit 0
fi
if ! diff -r "$tmp/seeds" "$corpus" >"$tmp/diff" 2>&1; then
	cat "$tmp/diff"
	echo "check-fuzz: $corpus is not what make-corpus.c writes;" \
	    "regenerate it: sh tests/check-fuzz.sh --write-corpus"
	exit 1
fi

# The target: the decoder and the client's reply parsing, as shipped.
# shellcheck disable=SC2086
"$cc" $cflags -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all "$top_srcdir/lib/proto.c" \
    "$top_srcdir/lib/client.c" "$top_srcdir/lib/deadline.c" \
    "$top_srcdir/lib/fdpass.c" "$top_srcdir/lib/shmname.c" \
    "$fuzzdir/fuzz_proto.c" -pthread \
    -o "$tmp/fuzz_proto"

# Leaks count as failures; a smaller quarantine than the default 256 MiB
# (each input's blocks are freed at once) keeps far from -rss_limit_mb.
# The caller's options come after ours.
ASAN_OPTIONS="detect_leaks=1:quarantine_size_mb=64\
${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1\
${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

mkdir "$tmp/work"
n=$(find "$corpus" -type f | wc -l)
echo "check-fuzz: fuzzing for ${secs}s over $n seeds"
status=0
# New inputs go to the first directory, the temporary one.  timeout(1), if
# there, is a backstop: libFuzzer ends by itself after max_total_time.
guard=
command -v timeout >/dev/null 2>&1 && guard="timeout $((secs + 300))"
$guard "$tmp/fuzz_proto" -max_total_time="$secs" -timeout=5 \
    -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$tmp/" \
    "$tmp/work" "$corpus" >"$tmp/log" 2>&1 || status=$?

# Anything a sanitizer or libFuzzer reported fails the run, whatever the
# exit status said.
if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
    -e 'runtime error:' -e 'ERROR: libFuzzer' -e 'check failed:' \
    -e '^SUMMARY: ' "$tmp/log"; then
	[ "$status" -ne 0 ] || status=1
fi

# The figures: the last status line (runs, cov:, ft:, exec/s) and the
# final stats.
grep -E '^#[0-9]+' "$tmp/log" | tail -n 1
grep -E '^stat::' "$tmp/log" || true

if [ "$status" -ne 0 ]; then
	echo "check-fuzz: FAILED (exit status $status); the log's end:"
	tail -n 80 "$tmp/log"
	saved=
	for f in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* "$tmp"/oom-*; do
		[ -f "$f" ] || continue
		cp "$f" "$artifacts/" && saved="$saved $artifacts/${f##*/}"
		echo "check-fuzz: the input (od -A d -t x1):"
		od -A d -t x1 "$f" | head -n 64
	done
	if [ -n "$saved" ] && cp "$tmp/fuzz_proto" "$artifacts/"; then
		echo "check-fuzz: to reproduce: $artifacts/fuzz_proto$saved"
	fi
	exit 1
fi
echo "check-fuzz: no findings"
exit 0
