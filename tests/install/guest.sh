#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest's half of tests/install/run, as root in a booted kernel whose
# overlay lives on a disk image that the next boot (the other kernel)
# finds again.  SRC is a copy of the repository without .git, as a
# release tarball is: its version comes from its VERSION file.
#
#   guest.sh first SRC DEBS KA KB
#                         make install of the tree tests/install/run
#                         built (options from modprobe.d apply),
#                         make uninstall (nothing left), then
#                         make dkms-install for this kernel
#   guest.sh second SRC DEBS KA KB
#                         on the other kernel: no module until DKMS's
#                         autoinstall (what the kernel's postinst hook
#                         and dkms.service run) builds it; then
#                         make dkms-uninstall leaves nothing; then the
#                         packages in DEBS (make deb's) install with
#                         dpkg, load, trace through the reader, and
#                         leave nothing once purged
# Every check prints PASS: or FAIL:.
# shellcheck disable=SC2317 # the helpers are called through check()
set -u

phase=${1:?phase}
SRC=${2:?source tree}
DEBS=${3:?the .deb directory}
KA=${4:?the first kernel}
KB=${5:?the second kernel}
KVER=$(uname -r)
VER=$(cat "$SRC/VERSION")
PORT=7431

pass() { echo "PASS: install $KVER: $*"; }
fail() { echo "FAIL: install $KVER: $*"; }
# check NAME COMMAND...: PASS if COMMAND succeeds, else FAIL with its output.
check() {
	local name=$1 out t0=$SECONDS
	shift
	if out=$("$@" 2>&1); then
		pass "$name ($((SECONDS - t0))s)"
	else
		fail "$name ($((SECONDS - t0))s)"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/| /'
	fi
}
# A connection on PORT, and the module's table must show it.
traced() {
	python3 - "$PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
c = socket.create_connection(("127.0.0.1", port))
s, _ = srv.accept()
rows = [l for l in open("/proc/tcpstate") if ":%d " % port in l]
c.close(); s.close(); srv.close()
if not rows:
    sys.exit("no row for port %d in /proc/tcpstate" % port)
PY
}
loaded_version() {
	[ "$(cat /sys/module/tcpstate/version)" = "$VER" ] ||
		{ echo "loaded $(cat /sys/module/tcpstate/version), want $VER"; return 1; }
	[ "$(head -n 1 /proc/tcpstate_stats)" = "version $VER" ] ||
		{ echo "/proc/tcpstate_stats: $(head -n 1 /proc/tcpstate_stats), want version $VER"; return 1; }
}
param_is() {
	local got
	got=$(cat "/sys/module/tcpstate/parameters/$1")
	[ "$got" = "$2" ] || { echo "$1 is $got, want $2"; return 1; }
}
# man finds the page at $1 (/usr/local/man is a link to share/man).
man_page_is() {
	local got
	got=$(readlink -f "$(man -w tcpstate)")
	[ "$got" = "$1" ] || { echo "man -w tcpstate: $got, want $1"; return 1; }
}
# no_module [DIR]: modprobe cannot find tcpstate for this kernel, and no
# tcpstate.ko* is under DIR (default: this kernel's modules).
no_module() {
	if modinfo -n tcpstate 2>/dev/null; then
		echo "modinfo still finds tcpstate"
		return 1
	fi
	! find "${1:-/lib/modules/$KVER}/" -name 'tcpstate.ko*' | grep .
}
# The reader, from PATH, sees a connection on PORT.
reader_sees() {
	local out
	out=$(mktemp)
	tcpstate --json --all >"$out" 2>&1 &
	local pid=$!
	sleep 1
	traced
	sleep 1
	kill "$pid"
	wait "$pid"
	grep -q ":$PORT\"" "$out" || { echo "no event for port $PORT:"; head "$out"; return 1; }
}
gone() {
	local f rc=0
	for f in "$@"; do
		[ ! -e "$f" ] || { echo "$f is still there"; rc=1; }
	done
	return "$rc"
}

make_install() {
	check "make install" make -C "$SRC" install
	check "modinfo finds it, version $VER" \
		sh -c "[ \"\$(modinfo -F version tcpstate)\" = '$VER' ]"
	check "tcpstate --version" sh -c "tcpstate --version | grep -F -q '$VER'"
	check "tcpstate-pcap --version" sh -c "tcpstate-pcap --version | grep -F -q '$VER'"
	check "man page" man_page_is /usr/local/share/man/man8/tcpstate.8
	check "modprobe.d template" grep -q "^#options tcpstate" /etc/modprobe.d/tcpstate.conf
	echo "options tcpstate max_flows=1234 ports=$PORT" >>/etc/modprobe.d/tcpstate.conf
	check "modprobe tcpstate" modprobe tcpstate
	check "modprobe.d options apply (max_flows)" param_is max_flows 1234
	check "modprobe.d options apply (ports)" param_is ports "$PORT"
	check "the installed module traces" traced
	check "modprobe -r" modprobe -r tcpstate
	check "make uninstall" make -C "$SRC" uninstall
	check "uninstall: a changed modprobe.d file is kept" \
		grep -q "^options tcpstate max_flows=1234" /etc/modprobe.d/tcpstate.conf
	rm -f /etc/modprobe.d/tcpstate.conf
	check "uninstall: no module" no_module
	check "uninstall: no tools, no man page" gone /usr/local/bin/tcpstate \
		/usr/local/bin/tcpstate-pcap /usr/local/share/man/man8/tcpstate.8
	# Again, leaving the .conf as installed: uninstall takes it too.
	check "make install (again)" make -j"$(nproc)" -C "$SRC" install
	check "make uninstall (again)" make -C "$SRC" uninstall
	check "uninstall: an unchanged modprobe.d file goes" \
		gone /etc/modprobe.d/tcpstate.conf
}

dkms_loads() {
	check "modprobe tcpstate ($1)" modprobe tcpstate
	check "the module is DKMS's ($1)" \
		sh -c "cat /proc/modules >/dev/null; modinfo -n tcpstate | grep -q /updates/dkms/"
	check "version $VER ($1)" loaded_version
	check "the DKMS module traces ($1)" traced
	check "modprobe -r ($1)" modprobe -r tcpstate
}

# debs DIR: make deb's packages, installed, used and purged.
debs() {
	local d=$1
	check "dpkg -i tcpstate-dkms tcpstate-tools" \
		dpkg -i "$d"/tcpstate-dkms_*_all.deb "$d"/tcpstate-tools_*_amd64.deb
	check "deb: dkms built it for $KVER" \
		sh -c "dkms status tcpstate | grep '$KVER' | grep -q installed"
	check "deb: modprobe tcpstate" modprobe tcpstate
	check "deb: version $VER" loaded_version
	check "deb: /usr/bin/tcpstate --version" \
		sh -c "/usr/bin/tcpstate --version | grep -F -q '$VER'"
	check "deb: the reader sees a connection" reader_sees
	check "deb: modprobe -r" modprobe -r tcpstate
	check "dpkg --purge" dpkg --purge tcpstate-tools tcpstate-dkms
	check "purge: no package left" \
		sh -c "! dpkg-query -W -f='\${db:Status-Abbrev}\n' 'tcpstate*' 2>/dev/null | grep -q '^.[^n]'"
	check "purge: nothing in DKMS or /usr/src" \
		sh -c "! dkms status tcpstate | grep . && ! ls -d /usr/src/tcpstate-* /var/lib/dkms/tcpstate 2>/dev/null"
	check "purge: no module for any kernel" no_module /lib/modules
	check "purge: no tools, man page or docs" gone /usr/bin/tcpstate \
		/usr/bin/tcpstate-pcap /usr/share/man/man8/tcpstate.8.gz \
		/usr/share/doc/tcpstate-tools /usr/share/doc/tcpstate-dkms
}

# Every modprobe and rmmod of tcpstate here would flip the netfilter hook
# keys, where QEMU now and then runs stale text: hold them for the boot.
"$SRC/tests/vm/hold-sites" || true

# The guest sees every kernel of the host, the -rt ones too, and the
# package's DKMS hook builds for the running and the newest kernel in
# /boot: a build no check looks at, minutes under TCG.  Only the two
# kernels under test stay in /boot (in this boot's overlay; the host's
# /boot is untouched).
for f in /boot/config-*; do
	case "${f#/boot/config-}" in
	"$KA" | "$KB") ;;
	*) rm -f "$f" ;;
	esac
done

# tests/install/run looks for this line: a boot without it installed
# nothing yet (the holds above are where QEMU's stale int3 strikes).
echo "install: guest.sh $phase on $KVER"

case "$phase" in
first)
	make_install
	check "make dkms-install" make -C "$SRC" dkms-install
	check "dkms status: installed for $KVER" \
		sh -c "dkms status tcpstate | grep '$KVER' | grep -q installed"
	dkms_loads "installed here"
	;;
second)
	check "no module for $KVER before DKMS builds it" no_module
	check "dkms autoinstall (as at boot)" dkms autoinstall -k "$KVER"
	dkms_loads "built at boot"
	check "dkms status: installed for two kernels" \
		sh -c "[ \$(dkms status tcpstate | grep -c installed) -eq 2 ]"
	check "make dkms-uninstall" make -C "$SRC" dkms-uninstall
	check "dkms-uninstall: nothing in DKMS" \
		sh -c "! dkms status tcpstate | grep ."
	check "dkms-uninstall: no sources" sh -c "! ls -d /usr/src/tcpstate-* 2>/dev/null"
	check "dkms-uninstall: no module for any kernel" no_module /lib/modules
	debs "$DEBS"
	;;
*)
	echo "usage: guest.sh first|second SRC DEBS KA KB" >&2
	exit 2
	;;
esac
exit 0
