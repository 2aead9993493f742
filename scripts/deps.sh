#!/bin/sh
# deps.sh: install the Debian packages this project needs, if any is missing.
#
# Debian 12 names.  Runs apt-get only when something is missing, as root or
# through sudo; otherwise says what to install and fails.
set -eu

# spin checks the model (lib/block.pml); clang with libclang-rt-14-dev
# (libFuzzer and the sanitizer runtimes) builds the protocol fuzz target.
# systemd gives configure the unit directory (its pkg-config file) and
# tests/check-systemd.sh systemd-analyze, which looks the units'
# Documentation= up with man-db's man; none of it needs systemd running.
PACKAGES="build-essential autoconf automake libtool pkg-config check \
libevent-dev mandoc spin clang libclang-rt-14-dev systemd man-db"

missing=
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "deps.sh: not root and no sudo; install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
