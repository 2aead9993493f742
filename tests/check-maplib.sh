#!/bin/sh
# check-maplib.sh: src/rundownd.h's map names every arrow of rundownd's
# files into lib/ (lib (...)), and no other; check-layers.sh's second
# half, a test of its own so that make check names it apart.
exec sh "${top_srcdir:-.}/tests/check-layers.sh" lib-arrows
