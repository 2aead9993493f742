#!/bin/sh
# build.sh NAME [CONFIGURE-ARGS...]: configure and build in _build/NAME.
#
# Builds out of the source tree so that several configurations (plain,
# ThreadSanitizer, AddressSanitizer) live side by side.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
name=$1
shift

if [ -f "$top/config.status" ]; then
	echo "build.sh: $top is configured in place; run 'make distclean' there" >&2
	exit 1
fi
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null)
# What configure looks for that a later apt-get may install: a build
# configured before it was there would skip what it needs, silently
# (the Check suites, the man page lint).
found() {
	for t in mandoc spin clang systemd-analyze pkg-config; do
		printf '%s=%s\n' "$t" "$(command -v "$t" || :)"
	done
	for m in check libevent libsystemd; do
		printf '%s=%s\n' "$m" \
		    "$(pkg-config --modversion "$m" 2>/dev/null || :)"
	done
}

mkdir -p "$top/_build/$name"
cd "$top/_build/$name"
if [ ! -f Makefile ]; then
	"$top/configure" -q "$@"
	found > .found
elif ! found | cmp -s - .found; then
	echo "build.sh: _build/$name was configured with other tools or" \
	    "libraries than are installed now; configuring it again" >&2
	./config.status --recheck >/dev/null
	./config.status >/dev/null
	found > .found
fi
make -s -j"$(nproc)"
