#!/bin/sh
# check-suites-missing.sh: make check's one test where configure found no
# Check (libcheck), so that the unit suites were not built.  It fails:
# asked for the tests, a build that cannot run the suites must not pass
# with the few scripts it has.
echo "check-suites-missing: Check (pkg-config check >= 0.11) was not" \
    "found when configure ran, so the Check suites were not built;" \
    "install it (scripts/deps.sh test) and configure again" \
    "(scripts/build.sh does when it finds it installed since)" >&2
exit 1
