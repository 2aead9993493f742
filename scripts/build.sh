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
mkdir -p "$top/_build/$name"
cd "$top/_build/$name"
[ -f Makefile ] || "$top/configure" -q "$@"
make -s -j"$(nproc)"
