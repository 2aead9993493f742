#!/bin/sh
# deps.sh SET...: install the Debian packages that a set needs, if any is
# missing.
#
#   main  building the library, rundownd and rundownctl, and running the
#         main job (scripts/main-job.sh)
#   test  main, and what the tests add (scripts/run-tests.sh): Check, the
#         man page lint, the model checker, the fuzzer
#   deb   main, and what building the Debian packages needs
#         (scripts/build-deb.sh); debian/control's Build-Depends is the
#         reference, which dpkg-buildpackage checks
#
# Debian 12 names.  Runs apt-get only when something is missing, as root or
# through sudo; otherwise says what to install and fails.
set -eu

MAIN="build-essential autoconf automake libtool pkg-config libevent-dev"
# check runs the suites and mandoc lints the man pages; spin checks the
# model (lib/block.pml); clang with libclang-rt-14-dev (libFuzzer and the
# sanitizer runtimes) builds the protocol fuzz target.
# systemd gives configure the unit directory (its pkg-config file) and
# tests/check-systemd.sh systemd-analyze, which looks the units'
# Documentation= up with man-db's man; none of it needs systemd running.
TEST="check mandoc spin clang libclang-rt-14-dev systemd man-db"
# debhelper drives the build, lintian judges the packages; check and
# mandoc run the test suite during the build, as Debian builds do.
DEB="debhelper dpkg-dev lintian check mandoc"

[ $# -gt 0 ] || { echo "usage: deps.sh main|test|deb ..." >&2; exit 2; }
packages=$MAIN
for set in "$@"; do
	case $set in
	main)	;;
	test)	packages="$packages $TEST" ;;
	deb)	packages="$packages $DEB" ;;
	*)	echo "deps.sh: unknown set: $set (main, test or deb)" >&2
		exit 2 ;;
	esac
done

missing=
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		case " $missing " in
		*" $p "*)	;;
		*)		missing="$missing $p" ;;
		esac
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
