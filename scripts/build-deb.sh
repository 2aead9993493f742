#!/bin/sh
# build-deb.sh: on Debian 12, install what is missing, build the Debian
# packages rundownd, librundown-client0 and librundown-client-dev from
# this tree with dpkg-buildpackage -us -uc -b, and check them with
# lintian, which must find no error.  The build runs the test suite as
# Debian builds do (DEB_BUILD_OPTIONS=nocheck skips it).
#
# The tree is copied (what git tracks, and new files it does not ignore;
# without git, everything but _build) to _build/deb/rundown-VERSION, so
# that the build leaves the tree alone; the packages, the .changes file
# and lintian's report (lintian.txt) end up in _build/deb.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$top/debian/control" ]; then
	echo "build-deb.sh: no debian/ here: the packaging lives in the git" \
	    "tree, not in release tarballs" >&2
	exit 1
fi
sh "$top/scripts/deps.sh" deb

version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
upstream=${version%-*}
out=$top/_build/deb
src=$out/rundown-$upstream
rm -rf "$out"
mkdir -p "$src"

# What to copy: never _build (other builds, and this one) nor files that
# an in-place build or autogen.sh made.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files --cached --others --exclude-standard |
	    while IFS= read -r f; do
		[ -e "$top/$f" ] && printf '%s\n' "$f"
	    done > "$out/files"
else
	(cd "$top" && find . -path ./_build -prune -o -type f -print) \
	    > "$out/files"
fi
(cd "$top" && tar cf - -T "$out/files") | (cd "$src" && tar xf -)

echo "build-deb.sh: building rundown $version in $src" >&2
(cd "$src" && dpkg-buildpackage -us -uc -b -jauto)

changes=$out/rundown_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
echo "build-deb.sh: lintian $changes" >&2
st=0
lintian --fail-on error --display-info --tag-display-limit 0 "$changes" \
    > "$out/lintian.txt" 2>&1 || st=$?
cat "$out/lintian.txt"
printf 'build-deb.sh: lintian: %s errors, %s warnings, %s info\n' \
    "$(grep -c '^E: ' "$out/lintian.txt" || :)" \
    "$(grep -c '^W: ' "$out/lintian.txt" || :)" \
    "$(grep -c '^I: ' "$out/lintian.txt" || :)" >&2
if [ "$st" -ne 0 ]; then
	echo "build-deb.sh: lintian failed (status $st)" >&2
	exit 1
fi
ls "$out"/*.deb
