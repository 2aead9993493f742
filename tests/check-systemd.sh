#!/bin/sh
# check-systemd.sh: systemd-analyze verify passes on the systemd units that
# make generated (systemd/rundownd.service and rundownd.socket).
#
# The socket is open to root and the group rundown (SocketGroup=rundown,
# SocketMode=0660), the service lets the same group in (-g rundown), and
# sysusers.d/rundownd.conf makes that group: systemd-sysusers, run on it
# in an empty root of its own, writes the group into that root's
# /etc/group (skipped without systemd-sysusers).
#
# They are verified as generated but for ExecStart=, which names the
# configured sbindir, where the daemon is not installed yet: verify wants
# an executable there, so the copy verified names the daemon in the build
# tree.  Documentation= is looked up in the source tree's man pages, with
# man(1) where there is one.  Any message fails: verify only warns of a
# setting it does not know, and ignores it.  Skips (77) without
# systemd-analyze.

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "check-systemd: no systemd-analyze, skipping"
	exit 77
fi

abs_builddir=$(cd "$builddir" && pwd) || exit 1
abs_srcdir=$(cd "$srcdir" && pwd) || exit 1
tmp=${TMPDIR:-/tmp}/check-systemd.$$
mkdir -p "$tmp/units" "$tmp/man/man8" || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

status=0
for u in rundownd.service rundownd.socket; do
	f=$builddir/systemd/$u
	if [ ! -f "$f" ]; then
		echo "check-systemd: $f not generated"
		exit 1
	fi
	if grep -n '@[A-Za-z_]*@' "$f"; then
		echo "check-systemd: $f: a placeholder left unsubstituted"
		status=1
	fi
	sed "s|^ExecStart=/[^ ]*/rundownd |ExecStart=$abs_builddir/src/rundownd |" \
	    "$f" > "$tmp/units/$u" || exit 1
done
if ! grep -q "^ExecStart=$abs_builddir/src/rundownd -d -g rundown\$" \
    "$tmp/units/rundownd.service"; then
	echo "check-systemd: ExecStart= of rundownd.service is not an" \
	    "absolute path to rundownd with -d -g rundown:"
	grep '^ExecStart' "$builddir/systemd/rundownd.service"
	status=1
fi
for want in SocketGroup=rundown SocketMode=0660; do
	if [ "$(grep -c "^${want%%=*}=" "$tmp/units/rundownd.socket")" != 1 ] ||
	    ! grep -q "^$want\$" "$tmp/units/rundownd.socket"; then
		echo "check-systemd: rundownd.socket lacks $want, once:"
		grep "^${want%%=*}=" "$tmp/units/rundownd.socket"
		status=1
	fi
done

# The group, as the package's postinst makes it (systemd-sysusers).  An
# absolute path: systemd-sysusers takes a relative one below --root.
sysusers=$abs_srcdir/systemd/sysusers.d/rundownd.conf
if ! grep -q '^g rundown ' "$sysusers"; then
	echo "check-systemd: $sysusers does not make the group rundown"
	status=1
elif command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$tmp/root/etc" || exit 1
	if ! systemd-sysusers --root="$tmp/root" "$sysusers" \
	    >"$tmp/sysusers.out" 2>&1 ||
	    ! grep -q '^rundown:x:[0-9][0-9]*:$' "$tmp/root/etc/group"; then
		echo "check-systemd: systemd-sysusers $sysusers made no group" \
		    "rundown:"
		cat "$tmp/sysusers.out" "$tmp/root/etc/group"
		status=1
	fi
else
	echo "check-systemd: no systemd-sysusers; $sysusers not run"
fi

man=--man=yes
if command -v man >/dev/null 2>&1; then
	ln -s "$abs_srcdir/man/rundownd.8" "$tmp/man/man8/rundownd.8" || exit 1
else
	echo "check-systemd: no man(1); Documentation= not looked up"
	man=--man=no
fi
out=$(MANPATH="$tmp/man" SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$man" \
    "$tmp/units/rundownd.service" "$tmp/units/rundownd.socket" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "check-systemd: systemd-analyze verify (exit $rc):"
	printf '%s\n' "$out"
	status=1
fi
[ $status -eq 0 ] && echo "check-systemd: rundownd.service and" \
    "rundownd.socket verified, open to the group rundown that" \
    "sysusers.d/rundownd.conf makes ($(systemd-analyze --version |
    head -n 1))"
exit $status
