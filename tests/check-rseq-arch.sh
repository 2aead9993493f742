#!/bin/sh
# check-rseq-arch.sh: <rundown/inline.h>'s critical section compiles and assembles
# for each architecture it is written for, whatever this machine is, so
# that the aarch64 assembly cannot rot on x86-64 machines (and the other
# way round).  Clang cross-compiles a use of rundown_rseq_add() against a
# stand-in <sys/rseq.h>; what it checks is the assembly and its sections
# (__rseq_cs, __rseq_cs_ptr_array, the signature before the abort
# handler), not behaviour: the suites run the machine's own.  Skips (77)
# without clang or its targets.

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
cc=${CLANG:-clang}
command -v "$cc" >/dev/null 2>&1 || { echo "check-rseq-arch: no clang"; exit 77; }
command -v readelf >/dev/null 2>&1 || { echo "check-rseq-arch: no readelf"; exit 77; }
tmp=${TMPDIR:-/tmp}/check-rseq-arch.$$
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
mkdir -p "$tmp/sys"
cat > "$tmp/sys/rseq.h" <<'END'
#include <stddef.h>
#include <stdint.h>
struct rseq {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;
} __attribute__((aligned(32)));
extern const ptrdiff_t __rseq_offset;
END
# No target's C library here: its time.h, which rundown.h includes, is a
# stand-in too, and -nostdlibinc keeps the host's headers out.
cat > "$tmp/time.h" <<'END'
struct timespec { long tv_sec; long tv_nsec; };
END
cat > "$tmp/t.c" <<'END'
#define RUNDOWN_RSEQ_AREA 1
#include <rundown/inline.h>
#if !RUNDOWN_RSEQ_CS
#error "no rseq critical section for this target"
#endif
int
add(const uint32_t *state, char *base, uint32_t shift, uint32_t cpus,
    uint64_t delta)
{
	return rundown_rseq_add(__rseq_offset, state, 7, base, shift, cpus, delta);
}
END
status=0
tried=0
for target in x86_64-linux-gnu aarch64-linux-gnu; do
	if ! echo 'int x;' | "$cc" --target=$target -ffreestanding -c -x c \
	    -o /dev/null - 2>/dev/null; then
		echo "check-rseq-arch: $cc cannot target $target, skipped"
		continue
	fi
	tried=$((tried + 1))
	if ! "$cc" --target=$target -ffreestanding -nostdlibinc -O2 -fPIC -Wall -Werror \
	    -I"$tmp" -I"$srcdir/include" -I"$builddir/include" -c "$tmp/t.c" -o "$tmp/$target.o"; then
		echo "check-rseq-arch: $target: does not compile"
		status=1
		continue
	fi
	for section in __rseq_cs __rseq_cs_ptr_array __rseq_failure; do
		if ! readelf -W -S "$tmp/$target.o" | grep -q " $section "; then
			echo "check-rseq-arch: $target: no $section"
			status=1
		fi
	done
	echo "check-rseq-arch: $target: the section assembles"
done
[ $tried -gt 0 ] || exit 77
exit $status
