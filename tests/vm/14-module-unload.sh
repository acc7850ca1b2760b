#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# race: rmmod against streams, /proc readers and a blocked event reader
#
# Unload under load, five times over: iperf3 streams run between two
# namespaces (and over loopback) the whole time, /proc/tcpstate and
# /proc/tcpstate_stats are read in a loop, and a reader is blocked in
# read() on /proc/tcpstate_events when rmmod comes.  Each time the reader must drain, see the live flows
# end with reason=unload and get end-of-file; the streams must never
# notice; the kernel log must stay clean (the runner checks it) and the
# flow caches must be gone.
. "$(dirname "$0")/lib.sh"

need iperf3
netns_pair ua ub
ip link set lo up

in_ns ub iperf3 -s -p 5201 >/dev/null 2>&1 &
at_exit "kill $!"
iperf3 -s -p 5202 -B 127.0.0.1 >/dev/null 2>&1 &
at_exit "kill $!"
wait_listen ub 5201
wait_listen 5202
in_ns ua iperf3 -c 10.99.0.2 -p 5201 -t 600 -P 2 -b 20M >"$T/iperf-veth" 2>&1 &
veth_pid=$!
at_exit "kill $veth_pid"
iperf3 -c 127.0.0.1 -p 5202 -t 600 -b 20M >"$T/iperf-lo" 2>&1 &
lo_pid=$!
at_exit "kill $lo_pid"

flows_active() {
	[ "$(stat_value flows_active)" -ge "$1" ]
}

for i in 1 2 3 4 5; do
	load_tcpstate time_wait_ms=2000 linger_ms=1000
	# The running streams are picked up mid-flight; a new connection
	# opens each cycle as well.
	wait_until 60 flows_active 3
	"$PY" -c '
import socket
c = socket.create_connection(("127.0.0.1", 5202)); c.close()' || true

	cat /proc/tcpstate_events >"$T/ev.$i" &
	reader=$!
	(while cat /proc/tcpstate /proc/tcpstate_stats >/dev/null 2>&1; do :; done) &
	looper=$!
	wait_until 60 test -s "$T/ev.$i"
	sleep 0.5

	unload_tcpstate
	# The blocked reader drains and sees end of file: cat exits 0.
	wait_until 60 sh -c "! kill -0 $reader 2>/dev/null"
	wait "$reader" || fail "cycle $i: the events reader exited $? (want 0 at EOF)"
	wait_until 60 sh -c "! kill -0 $looper 2>/dev/null"
	wait "$looper" || true

	assert_grep 'reason=unload' "$T/ev.$i" "cycle $i events"
	assert_grep 'old=ESTABLISHED new=CLOSED .*reason=unload' "$T/ev.$i" "cycle $i events"
	[ -z "$(tail -c 1 "$T/ev.$i")" ] || fail "cycle $i: the last event line is cut"
	# (A cache SLUB merged into another stays as an alias symlink.)
	for c in tcpstate_flow4 tcpstate_flow6; do
		[ -L "/sys/kernel/slab/$c" ] || [ ! -e "/sys/kernel/slab/$c" ] ||
			fail "cycle $i: slab cache $c left behind"
	done
	info "cycle $i: $(grep -c 'reason=unload' "$T/ev.$i") unload transitions, reader got EOF"
done

kill -0 "$veth_pid" || fail "the veth iperf3 stream died during the cycles"
kill -0 "$lo_pid" || fail "the loopback iperf3 stream died during the cycles"
