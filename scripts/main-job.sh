#!/bin/sh
# main-job.sh: on a fresh Debian 12 machine, install what is missing, build,
# and run the main job: a run-down across threads (examples/rundown_example).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/deps.sh"
sh "$top/scripts/build.sh" default
exec "$top/_build/default/examples/rundown_example"
