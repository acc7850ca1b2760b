#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness sanity: the VM suite runs as root on the kernel it claims, with
# the environment, mounts and tools every scenario relies on.
. "$(dirname "$0")/lib.sh"

assert_eq "$(id -u)" 0 "uid"
assert_eq "$(uname -r)" "$TCPSTATE_KVER" "running kernel"
[ -d "$TCPSTATE_ROOT/tests/vm" ] || fail "TCPSTATE_ROOT=$TCPSTATE_ROOT is not the repository"
case "$TCPSTATE_KO" in
/*/build/"$TCPSTATE_KVER"/module/tcpstate.ko) ;;
*) fail "TCPSTATE_KO=$TCPSTATE_KO is not build/<kver>/module/tcpstate.ko" ;;
esac

need ip ss tcpdump tcpreplay iperf3 insmod rmmod dmesg timeout pgrep
[ -x "$PY" ] || fail "$PY missing"
"$PY" -c 'import scapy.all' || fail "scapy does not import in $PY"

[ -r "$TRACEFS/available_events" ] || fail "tracefs not mounted"
grep -q '^sock:inet_sock_set_state$' "$TRACEFS/available_events" ||
	fail "no sock:inet_sock_set_state tracepoint"
[ -d /sys/kernel/debug ] || fail "no debugfs"
ip -br link show lo | grep -q UP || fail "loopback is down"
# The root is a throwaway overlay: writable here, invisible to the host.
echo probe >"$TCPSTATE_ROOT/.vm-write-probe" || fail "the overlay root is not writable"
rm -f "$TCPSTATE_ROOT/.vm-write-probe"
info "kernel $(uname -r), $(nproc) cpus, python $("$PY" -c 'import sys; print(sys.version.split()[0])')"
